//! sidecar uploading to a LocalStore in a temp dir: Prow's layout, finished.json, censoring,
//! several entries, local output mode and interrupts.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use prow_core::jobspec::JobSpec;
use prow_core::prowjob::{GcsConfiguration, ProwJobType, Pull, Refs};
use prow_podutils::entrypoint::Interrupt;
use prow_podutils::log::Logger;
use prow_podutils::sidecar::{self, SidecarReport};
use prow_podutils::{
    GcsOptions, SidecarCensoringOptions, SidecarOptions, WrapperOptions, store_for,
};
use serde_json::{Value, json};

const POLL: Duration = Duration::from_millis(20);

fn spec() -> JobSpec {
    let mut refs = Refs::new("org", "repo");
    refs.base_ref = "main".into();
    refs.base_sha = "base-sha".into();
    refs.pulls.push(Pull::new(1, "alice", "pull-sha"));
    JobSpec {
        type_: ProwJobType::Presubmit,
        job: "pull-repo-unit".into(),
        buildid: "123".into(),
        prowjobid: "abc".into(),
        refs: Some(refs),
        ..JobSpec::default()
    }
}

fn entry(logs: &Path, name: &str) -> WrapperOptions {
    WrapperOptions {
        args: vec!["/bin/test".into(), name.into()],
        container_name: name.into(),
        process_log: logs.join(format!("{name}-log.txt")).display().to_string(),
        marker_file: logs
            .join(format!("{name}-marker.txt"))
            .display()
            .to_string(),
        metadata_file: logs
            .join(format!("artifacts/{name}-metadata.json"))
            .display()
            .to_string(),
    }
}

struct Pod {
    _tmp: tempfile::TempDir,
    logs: PathBuf,
    bucket: PathBuf,
    options: SidecarOptions,
}

fn pod(entries: &[&str]) -> Pod {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(logs.join("artifacts/sub")).unwrap();
    let bucket = tmp.path().join("bucket");
    let gcs = GcsConfiguration {
        bucket: format!("file://{}", bucket.display()),
        path_strategy: "explicit".into(),
        ..GcsConfiguration::default()
    };
    let options = SidecarOptions {
        gcs_options: GcsOptions {
            items: vec![logs.join("artifacts").display().to_string()],
            ..GcsOptions::new(gcs)
        },
        entries: entries.iter().map(|n| entry(&logs, n)).collect(),
        ..SidecarOptions::default()
    };
    Pod {
        _tmp: tmp,
        logs,
        bucket,
        options,
    }
}

fn never() -> std::future::Pending<Interrupt> {
    std::future::pending()
}

async fn run(
    pod: &Pod,
    interrupt: impl std::future::Future<Output = Interrupt>,
) -> (SidecarReport, Logger) {
    let log = Logger::quiet("sidecar");
    let dest = store_for(&pod.options.gcs_options, &|_| None).unwrap();
    let report = sidecar::run_with(&pod.options, &spec(), &dest, interrupt, POLL, &log)
        .await
        .unwrap();
    (report, log)
}

const BUILD: &str = "pr-logs/pull/org_repo/1/pull-repo-unit/123";

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json_of(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&read(dir, name)).unwrap()
}

#[tokio::test]
async fn uploads_logs_artifacts_and_finished_in_prows_layout() {
    let mut p = pod(&["test"]);
    let secrets = p.logs.parent().unwrap().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("token"), "sup3r-s3cret\n").unwrap();
    p.options.censoring_options = Some(SidecarCensoringOptions {
        secret_directories: vec![secrets.display().to_string()],
        ..SidecarCensoringOptions::default()
    });
    let e = &p.options.entries[0];
    std::fs::write(&e.process_log, "running\ntoken is sup3r-s3cret\n").unwrap();
    std::fs::write(p.logs.join("artifacts/junit.xml"), "<testsuite/>").unwrap();
    std::fs::write(p.logs.join("artifacts/sub/leak.txt"), "sup3r-s3cret").unwrap();
    std::fs::write(&e.metadata_file, r#"{"node":"n1","images":["a"]}"#).unwrap();
    // The marker appears later: the sidecar waits for it.
    let marker = e.marker_file.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::write(marker, "0").unwrap();
    });
    let (report, _) = run(&p, never()).await;
    assert!(report.passed && !report.aborted, "{report:?}");
    assert_eq!(report.failures, 0);
    assert_eq!(report.result(), "SUCCESS");
    assert!(report.upload_error.is_none());

    let build = p.bucket.join(BUILD);
    assert_eq!(
        read(&build, "build-log.txt"),
        "running\ntoken is XXXXXXXXXXXX\n"
    );
    assert_eq!(read(&build, "artifacts/junit.xml"), "<testsuite/>");
    assert_eq!(read(&build, "artifacts/sub/leak.txt"), "XXXXXXXXXXXX");
    assert!(build.join("artifacts/test-metadata.json").exists());
    let finished = json_of(&build, "finished.json");
    let ts = finished["timestamp"].as_i64().unwrap();
    assert!(ts > 1_600_000_000);
    assert_eq!(
        finished,
        json!({
            "timestamp": ts,
            "passed": true,
            "result": "SUCCESS",
            "revision": "pull-sha",
            "metadata": {"node": "n1", "images": ["a"]},
        })
    );
    let sidecar_logs = read(&build, "sidecar-logs.json");
    assert!(
        sidecar_logs.contains("Starting to upload"),
        "{sidecar_logs}"
    );
    assert_eq!(
        read(
            &p.bucket,
            "pr-logs/directory/pull-repo-unit/latest-build.txt"
        ),
        "123"
    );
    assert_eq!(
        read(
            &p.bucket,
            "pr-logs/pull/org_repo/1/pull-repo-unit/latest-build.txt"
        ),
        "123"
    );
    assert_eq!(
        read(&p.bucket, "pr-logs/directory/pull-repo-unit/123.txt"),
        format!("file://{}/{BUILD}", p.bucket.display())
    );
}

#[tokio::test]
async fn several_entries_get_named_logs_and_fail_together() {
    let mut p = pod(&["unit", "lint"]);
    p.options.entry_error = true;
    for (e, code) in p.options.entries.iter().zip(["0", "1"]) {
        std::fs::write(&e.process_log, format!("{} log\n", e.container_name)).unwrap();
        std::fs::write(&e.marker_file, code).unwrap();
    }
    std::fs::write(&p.options.entries[1].metadata_file, "not json").unwrap();
    let (report, _) = run(&p, never()).await;
    assert!(!report.passed && !report.aborted);
    assert_eq!(report.failures, 1);
    assert_eq!(report.exit_code(true), 1);
    assert_eq!(report.exit_code(false), 0);
    let build = p.bucket.join(BUILD);
    assert_eq!(read(&build, "unit-build-log.txt"), "unit log\n");
    assert_eq!(read(&build, "lint-build-log.txt"), "lint log\n");
    assert!(!build.join("build-log.txt").exists());
    let finished = json_of(&build, "finished.json");
    assert_eq!(finished["result"], "FAILURE");
    assert_eq!(finished["passed"], false);
    let errors = &finished["metadata"]["sidecar-errors"];
    assert!(errors["entry 1: /bin/test lint"].is_string(), "{finished}");
}

#[tokio::test]
async fn aborted_and_skipped_entries() {
    let p = pod(&["a", "b"]);
    std::fs::write(&p.options.entries[0].marker_file, "130").unwrap();
    std::fs::write(&p.options.entries[1].marker_file, "1130").unwrap();
    let (report, _) = run(&p, never()).await;
    assert!(report.aborted);
    assert_eq!(report.failures, 1, "the skipped step is not a failure");
    assert_eq!(report.result(), "ABORTED");
    // A missing process log is reported in its place.
    let build = p.bucket.join(BUILD);
    assert!(read(&build, "a-build-log.txt").starts_with("Failed to open "));
    assert_eq!(json_of(&build, "finished.json")["result"], "ABORTED");
}

#[tokio::test]
async fn local_output_dir_roots_files_in_the_directory() {
    let mut p = pod(&["test"]);
    let out = p.logs.parent().unwrap().join("output");
    p.options.gcs_options.gcs_configuration.local_output_dir = out.display().to_string();
    p.options.gcs_options.sub_dir = "ignored-in-local-mode".into();
    let e = &p.options.entries[0];
    std::fs::write(&e.process_log, "log\n").unwrap();
    std::fs::write(&e.marker_file, "2").unwrap();
    std::fs::write(p.logs.join("artifacts/a#b.txt"), "x").unwrap();
    let (report, _) = run(&p, never()).await;
    assert_eq!(report.failures, 1);
    assert_eq!(read(&out, "build-log.txt"), "log\n");
    assert_eq!(read(&out, "artifacts/a%23b.txt"), "x");
    assert_eq!(json_of(&out, "finished.json")["result"], "FAILURE");
    assert!(!out.join("pr-logs").exists());
    assert!(!p.bucket.exists());
}

#[tokio::test]
async fn an_interrupt_uploads_at_once_then_again_when_the_test_ends() {
    let p = pod(&["test"]);
    let e = p.options.entries[0].clone();
    std::fs::write(&e.process_log, "partial\n").unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        std::fs::write(e.marker_file, "0").unwrap();
    });
    let (report, log) = run(&p, async { Interrupt::Term }).await;
    assert!(report.passed);
    let kept = String::from_utf8(log.kept()).unwrap();
    assert!(kept.contains("cancelling..."), "{kept}");
    assert!(kept.contains("Best-effort upload was successful"), "{kept}");
    assert_eq!(kept.matches("Starting to upload").count(), 2);
    // The final upload wins.
    let build = p.bucket.join(BUILD);
    assert_eq!(json_of(&build, "finished.json")["result"], "SUCCESS");
}

#[tokio::test]
async fn ignore_interrupts_keeps_waiting_without_uploading() {
    let mut p = pod(&["test"]);
    p.options.ignore_interrupts = true;
    let e = p.options.entries[0].clone();
    std::fs::write(&e.process_log, "log\n").unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::write(e.marker_file, "0").unwrap();
    });
    let (report, log) = run(&p, async { Interrupt::Int }).await;
    assert!(report.passed);
    let kept = String::from_utf8(log.kept()).unwrap();
    assert!(kept.contains("ignoring..."), "{kept}");
    assert_eq!(kept.matches("Starting to upload").count(), 1);
}

#[tokio::test]
async fn invalid_options_are_rejected() {
    let mut p = pod(&[]);
    let dest = store_for(&p.options.gcs_options, &|_| None).unwrap();
    let log = Logger::quiet("sidecar");
    assert!(
        sidecar::run_with(&p.options, &spec(), &dest, never(), POLL, &log)
            .await
            .is_err(),
        "no entries"
    );
    p.options.entries.push(entry(&p.logs, "x"));
    p.options.secret_directories = vec!["/s".into()];
    p.options.censoring_options = Some(SidecarCensoringOptions::default());
    assert!(
        sidecar::run_with(&p.options, &spec(), &dest, never(), POLL, &log)
            .await
            .is_err(),
        "deprecated and new censoring options together"
    );
}
