//! entrypoint running real processes: artifacts, exit codes, timeouts with and without a
//! cooperative child, interrupts, previous markers, and the process group.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use prow_podutils::entrypoint::{
    self, ABORTED_ERROR_CODE, INTERNAL_ERROR_CODE, Interrupt, PREVIOUS_ERROR_CODE,
};
use prow_podutils::{EntrypointOptions, WrapperOptions};

fn options(dir: &Path, script: &str) -> EntrypointOptions {
    EntrypointOptions {
        timeout: Duration::from_secs(1),
        grace_period: Duration::from_secs(1),
        artifact_dir: dir.join("artifacts").display().to_string(),
        wrapper: WrapperOptions {
            args: vec!["sh".into(), "-c".into(), script.into()],
            container_name: "test".into(),
            process_log: dir.join("process-log.txt").display().to_string(),
            marker_file: dir.join("marker-file.txt").display().to_string(),
            metadata_file: dir.join("artifacts/metadata.json").display().to_string(),
        },
        ..EntrypointOptions::default()
    }
}

fn never() -> std::future::Pending<Interrupt> {
    std::future::pending()
}

fn marker(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("marker-file.txt")).unwrap()
}

fn process_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("process-log.txt")).unwrap()
}

/// True while `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

fn wait_dead(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn runs_the_command_with_artifacts_and_marks_its_code() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = options(
        tmp.path(),
        r#"echo out; echo err >&2; echo result > "$ARTIFACTS/junit.xml"; exit 3"#,
    );
    let code = entrypoint::run_with_interrupt(&opts, never()).await;
    assert_eq!(code, 3);
    assert_eq!(marker(tmp.path()), "3");
    let log = process_log(tmp.path());
    assert!(log.contains("out\n") && log.contains("err\n"), "{log}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("artifacts/junit.xml")).unwrap(),
        "result\n"
    );

    let ok = options(tmp.path(), "true");
    assert_eq!(entrypoint::run_with_interrupt(&ok, never()).await, 0);
    assert_eq!(marker(tmp.path()), "0");
    // No temp files are left beside the marker.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("temp-marker"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn timeout_interrupts_then_marks_internal_error() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = options(tmp.path(), "echo started; sleep 30");
    let start = Instant::now();
    let code = entrypoint::run_with_interrupt(&opts, never()).await;
    let took = start.elapsed();
    assert_eq!(code, INTERNAL_ERROR_CODE);
    assert_eq!(marker(tmp.path()), "127");
    // SIGINT ends `sleep` at once: no need to wait out the grace period.
    assert!(took < Duration::from_secs(2), "{took:?}");
    let log = process_log(tmp.path());
    assert!(log.contains("started"));
    assert!(
        log.contains("Process did not finish before 1s timeout"),
        "{log}"
    );
    assert!(
        log.contains("Process gracefully exited before 1s grace period"),
        "{log}"
    );
}

#[tokio::test]
async fn a_command_ignoring_sigint_is_killed_after_the_grace_period() {
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = tmp.path().join("pid");
    let script = format!(
        r#"trap '' INT; sleep 30 & echo $! > {}; wait"#,
        pid_file.display()
    );
    let opts = options(tmp.path(), &script);
    let start = Instant::now();
    let code = entrypoint::run_with_interrupt(&opts, never()).await;
    let took = start.elapsed();
    assert_eq!(code, INTERNAL_ERROR_CODE);
    assert_eq!(marker(tmp.path()), "127");
    assert!(took >= Duration::from_secs(2), "timeout + grace: {took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(process_log(tmp.path()).contains("Process did not exit before 1s grace period"));
    // The command's own child was in its process group and died with it.
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_dead(pid), "grandchild {pid} survived");
}

#[tokio::test]
async fn propagate_error_code_keeps_the_childs_code_on_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), "trap 'exit 42' INT; sleep 30 & wait");
    opts.propagate_error_code = true;
    assert_eq!(entrypoint::run_with_interrupt(&opts, never()).await, 42);
    assert_eq!(marker(tmp.path()), "42");
}

#[tokio::test]
async fn an_interrupt_is_forwarded_and_marks_aborted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), "sleep 30");
    opts.timeout = Duration::from_secs(30);
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Interrupt::Term
    };
    let start = Instant::now();
    assert_eq!(
        entrypoint::run_with_interrupt(&opts, interrupt).await,
        ABORTED_ERROR_CODE
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(marker(tmp.path()), "130");
    assert!(process_log(tmp.path()).contains("Entrypoint received interrupt: terminated"));
}

#[tokio::test]
async fn previous_markers_gate_the_step() {
    let tmp = tempfile::tempdir().unwrap();
    let ran = tmp.path().join("ran");
    let previous = tmp.path().join("previous-marker.txt");
    let mut opts = options(tmp.path(), &format!("touch {}", ran.display()));
    opts.previous_marker = previous.display().to_string();

    std::fs::write(&previous, "1").unwrap();
    assert_eq!(
        entrypoint::run_with_interrupt(&opts, never()).await,
        PREVIOUS_ERROR_CODE
    );
    assert_eq!(marker(tmp.path()), "1130");
    assert!(!ran.exists());

    // Written late: the step waits for it, then runs.
    std::fs::remove_file(&previous).unwrap();
    let p = previous.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(p, "0").unwrap();
    });
    assert_eq!(entrypoint::run_with_interrupt(&opts, never()).await, 0);
    assert!(ran.exists());
}

#[tokio::test]
async fn start_failures_and_always_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), "");
    opts.wrapper.args = vec![tmp.path().join("no-such-binary").display().to_string()];
    assert_eq!(
        entrypoint::run_with_interrupt(&opts, never()).await,
        INTERNAL_ERROR_CODE
    );
    assert_eq!(marker(tmp.path()), "127");
    assert!(process_log(tmp.path()).contains("could not start the process"));

    let mut opts = options(tmp.path(), "exit 5");
    opts.always_zero = true;
    assert_eq!(entrypoint::run_with_interrupt(&opts, never()).await, 0);
    assert_eq!(marker(tmp.path()), "5");
}

#[tokio::test]
async fn background_children_do_not_outlive_or_hold_up_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = tmp.path().join("pid");
    let mut opts = options(
        tmp.path(),
        &format!("sleep 30 & echo $! > {}; exit 0", pid_file.display()),
    );
    opts.timeout = Duration::from_secs(30);
    let start = Instant::now();
    assert_eq!(entrypoint::run_with_interrupt(&opts, never()).await, 0);
    assert!(start.elapsed() < Duration::from_secs(3));
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_dead(pid), "background child {pid} survived");
}

#[test]
fn copy_mode_copies_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("tools/entrypoint");
    entrypoint::copy_self(&dst.display().to_string()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dst).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0);
}
