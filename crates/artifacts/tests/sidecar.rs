//! Black-box: the prow-sidecar binary runs a command and leaves Prow's layout behind.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn a_failing_test_uploads_its_log_artifacts_and_finished_json() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let artifacts = work.path().join("artifacts");
    let job_spec = serde_json::json!({
        "type": "periodic",
        "job": "ci-foo",
        "buildid": "1234",
        "prowjobid": "abc",
        "decoration_config": {"gcs_configuration": {"bucket": "gs://bkt", "path_strategy": "explicit"}},
    });
    let status = Command::new(env!("CARGO_BIN_EXE_prow-sidecar"))
        .env("JOB_SPEC", job_spec.to_string())
        .env("ARTIFACTS", &artifacts)
        .arg("--output-dir")
        .arg(&out)
        .args([
            "--",
            "sh",
            "-c",
            "echo to-stdout; echo to-stderr >&2; echo '<x/>' > $ARTIFACTS/junit.xml; exit 3",
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3), "the test's exit code is passed on");
    let dir = out.join("bkt/logs/ci-foo/1234");
    let log = std::fs::read_to_string(dir.join("build-log.txt")).unwrap();
    assert!(
        log.contains("to-stdout") && log.contains("to-stderr"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("artifacts/junit.xml")).unwrap(),
        "<x/>\n"
    );
    let finished: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("finished.json")).unwrap()).unwrap();
    assert_eq!(finished["passed"], false);
    assert_eq!(finished["result"], "FAILURE");
    let started: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("started.json")).unwrap()).unwrap();
    assert!(started["timestamp"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(
        std::fs::read_to_string(out.join("bkt/logs/ci-foo/latest-build.txt")).unwrap(),
        "1234"
    );
}
