//! `entrypoint`: wraps the test command (Prow's `pkg/entrypoint`).
//!
//! Creates `$ARTIFACTS`, runs the command with its output teed to our stdout and the process log,
//! enforces the timeout (SIGINT, then SIGKILL after the grace period), forwards SIGINT/SIGTERM,
//! and writes the exit code to the marker file, where sidecar waits for it. The command runs in
//! its own process group and signals go to the whole group, so its children stop with it.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prow_core::duration::format_go_duration;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::log::Logger;
use crate::options::EntrypointOptions;

/// Marker code when entrypoint could not run the command, or the command timed out.
pub const INTERNAL_ERROR_CODE: i32 = 127;
/// Marker code when entrypoint was interrupted (the pod is being deleted).
pub const ABORTED_ERROR_CODE: i32 = 130;
/// Marker code when a previous step (`previous_marker`) failed, so this one did not run.
pub const PREVIOUS_ERROR_CODE: i32 = 1000 + ABORTED_ERROR_CODE;
/// Default place for `copy_mode_only`.
pub const DEFAULT_COPY_DST: &str = "/tools/entrypoint";

/// A termination request received by entrypoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT.
    Int,
    /// SIGTERM (what the kubelet sends).
    Term,
}

impl Interrupt {
    fn signal(self) -> Signal {
        match self {
            Self::Int => Signal::INT,
            Self::Term => Signal::TERM,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Int => "interrupt",
            Self::Term => "terminated",
        }
    }
}

/// Why the command did not end with exit code 0 (the marker still gets a code).
#[derive(Debug, thiserror::Error)]
pub enum EntrypointError {
    #[error("could not create artifact directory({path}): {source}")]
    ArtifactDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create process logfile({path}): {source}")]
    ProcessLog {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("wait for previous marker {path}: {reason}")]
    PreviousMarker { path: String, reason: String },
    #[error("could not start the process: {0}")]
    Start(#[source] std::io::Error),
    #[error("waiting for the process: {0}")]
    Wait(#[source] std::io::Error),
    #[error("process timed out")]
    TimedOut,
    #[error("process aborted")]
    Aborted,
    #[error("wrapped process failed: exit code {0}")]
    Failed(i32),
}

/// Runs as the `entrypoint` binary does: executes, marks, and returns the code to exit with.
/// SIGINT and SIGTERM sent to us are forwarded to the command as upstream does.
pub async fn run(options: &EntrypointOptions) -> i32 {
    run_with_interrupt(options, os_interrupt()).await
}

/// A future resolving on the first SIGINT or SIGTERM (never, if they cannot be watched).
pub fn os_interrupt() -> impl Future<Output = Interrupt> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        match (int, term) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => Interrupt::Int,
                _ = term.recv() => Interrupt::Term,
            },
            _ => std::future::pending().await,
        }
    }
}

/// [`run`] with the interrupt given by the caller (tests, embedding).
pub async fn run_with_interrupt(
    options: &EntrypointOptions,
    interrupt: impl Future<Output = Interrupt>,
) -> i32 {
    let log = Logger::new("entrypoint");
    let (code, err) = execute_process(options, interrupt, &log).await;
    if let Some(err) = err {
        log.error(&format!("Error executing test process: {err}"));
    }
    if let Err(err) = mark(
        &options.wrapper.marker_file,
        &options.wrapper.container_name,
        code,
    ) {
        log.error(&format!("Error writing exit code to marker file: {err}"));
        return INTERNAL_ERROR_CODE;
    }
    if options.always_zero { 0 } else { code }
}

/// Copies a child's output to our stdout and the process log.
async fn tee(mut from: impl AsyncRead + Unpin, file: Arc<Mutex<std::fs::File>>) {
    let mut out = tokio::io::stdout();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let _ = out.write_all(&buf[..n]).await;
        if let Ok(mut f) = file.lock() {
            let _ = f.write_all(&buf[..n]);
        }
    }
    let _ = out.flush().await;
}

fn signal_group(pid: Option<Pid>, signal: Signal) {
    if let Some(pid) = pid {
        // ESRCH (group already gone) is expected and harmless.
        let _ = kill_process_group(pid, signal);
    }
}

/// Reads a marker file: the trimmed decimal exit code.
pub fn read_marker(path: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("bad read: {e}"))?;
    text.trim()
        .parse::<i32>()
        .map_err(|e| format!("invalid return code: {e}"))
}

/// Creates the artifact dir and process log, waits for a previous step if configured, runs the
/// command, and returns the code to mark plus why it was not a clean success.
pub async fn execute_process(
    options: &EntrypointOptions,
    interrupt: impl Future<Output = Interrupt>,
    log: &Logger,
) -> (i32, Option<EntrypointError>) {
    let mut interrupt = std::pin::pin!(interrupt);
    if !options.artifact_dir.is_empty()
        && let Err(source) = std::fs::create_dir_all(&options.artifact_dir)
    {
        return (
            INTERNAL_ERROR_CODE,
            Some(EntrypointError::ArtifactDir {
                path: options.artifact_dir.clone(),
                source,
            }),
        );
    }
    let file = match std::fs::File::create(&options.wrapper.process_log) {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(source) => {
            return (
                INTERNAL_ERROR_CODE,
                Some(EntrypointError::ProcessLog {
                    path: options.wrapper.process_log.clone(),
                    source,
                }),
            );
        }
    };
    let log = log.clone().with_sink(file.clone());

    if !options.previous_marker.is_empty() {
        let path = Path::new(&options.previous_marker);
        let waited = tokio::select! {
            code = wait_for_marker(path) => code,
            s = &mut interrupt => {
                log.error(&format!("Received interrupt {}, cancelling...", s.name()));
                Err("cancelled".to_owned())
            }
        };
        match waited {
            Err(reason) => {
                return (
                    INTERNAL_ERROR_CODE,
                    Some(EntrypointError::PreviousMarker {
                        path: options.previous_marker.clone(),
                        reason,
                    }),
                );
            }
            Ok(code) if code != 0 => {
                log.info(&format!("Skipping as previous step exited {code}"));
                return (PREVIOUS_ERROR_CODE, None);
            }
            Ok(_) => {}
        }
    }

    let Some((program, args)) = options.wrapper.args.split_first() else {
        return (
            INTERNAL_ERROR_CODE,
            Some(EntrypointError::Start(std::io::Error::other(
                "no process to wrap specified",
            ))),
        );
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !options.artifact_dir.is_empty() {
        command.env("ARTIFACTS", &options.artifact_dir);
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            let err = EntrypointError::Start(e);
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(err.to_string().as_bytes());
            }
            return (INTERNAL_ERROR_CODE, Some(err));
        }
    };
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    let mut tees = Vec::new();
    if let Some(out) = child.stdout.take() {
        tees.push(tokio::spawn(tee(out, file.clone())));
    }
    if let Some(err) = child.stderr.take() {
        tees.push(tokio::spawn(tee(err, file.clone())));
    }

    let timeout = options.effective_timeout();
    let grace = options.effective_grace_period();
    enum End {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        Interrupted(Interrupt),
    }
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        _ = tokio::time::sleep(timeout) => End::TimedOut,
        s = &mut interrupt => End::Interrupted(s),
    };
    let (cancelled, forwarded) = match &end {
        End::Exited(_) => (false, None),
        End::TimedOut => {
            log.error(&format!(
                "Process did not finish before {} timeout",
                format_go_duration(timeout)
            ));
            (true, None)
        }
        End::Interrupted(s) => {
            log.error(&format!("Entrypoint received interrupt: {}", s.name()));
            (true, Some(*s))
        }
    };
    let status = match end {
        End::Exited(status) => status,
        _ => {
            signal_group(pid, Signal::INT);
            if let Some(s) = forwarded {
                signal_group(pid, s.signal());
            }
            tokio::select! {
                status = child.wait() => {
                    log.error(&format!("Process gracefully exited before {} grace period", format_go_duration(grace)));
                    status
                }
                _ = tokio::time::sleep(grace) => {
                    log.error(&format!("Process did not exit before {} grace period", format_go_duration(grace)));
                    signal_group(pid, Signal::KILL);
                    child.wait().await
                }
            }
        }
    };
    // Whatever the command left running in its group ends with it, as in a container.
    signal_group(pid, Signal::KILL);
    for t in tees {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    let status = match status {
        Ok(s) => s,
        Err(e) => return (INTERNAL_ERROR_CODE, Some(EntrypointError::Wait(e))),
    };
    // Go's ExitCode()/ExitStatus(): -1 when the process was killed by a signal.
    let child_code = status.code().unwrap_or(-1);
    if cancelled {
        let aborted = forwarded.is_some();
        let code = if options.propagate_error_code {
            child_code
        } else if aborted {
            ABORTED_ERROR_CODE
        } else {
            INTERNAL_ERROR_CODE
        };
        let err = if aborted {
            EntrypointError::Aborted
        } else {
            EntrypointError::TimedOut
        };
        return (code, Some(err));
    }
    let err = (child_code != 0).then_some(EntrypointError::Failed(child_code));
    (child_code, err)
}

async fn wait_for_marker(path: &Path) -> Result<i32, String> {
    loop {
        if tokio::fs::try_exists(path).await.unwrap_or(false) {
            return read_marker(path);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

static MARK_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Writes `code` (decimal, no newline) to the marker file atomically: a temp file in the same
/// directory renamed into place, so readers never see a partial marker.
pub fn mark(marker_file: &str, container_name: &str, code: i32) -> std::io::Result<()> {
    let target = Path::new(marker_file);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}-temp-marker-{}-{}",
        if container_name.is_empty() {
            "entrypoint"
        } else {
            container_name
        },
        std::process::id(),
        MARK_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(code.to_string().as_bytes())?;
        f.sync_all()?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777))?;
    std::fs::rename(&tmp, target)
}

/// `copy_mode_only`: copies the running binary to `dst` (default [`DEFAULT_COPY_DST`]) with its
/// mode, for the place-entrypoint init container.
pub fn copy_self(dst: &str) -> std::io::Result<()> {
    let dst = if dst.is_empty() {
        DEFAULT_COPY_DST
    } else {
        dst
    };
    let src = std::env::current_exe()?;
    let mode = std::fs::metadata(&src)?.permissions();
    if let Some(parent) = Path::new(dst).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(&src, dst)?;
    std::fs::set_permissions(dst, mode)
}
