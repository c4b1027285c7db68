//! `prow config compile` as a user runs it: a valid config becomes a snapshot that `check-config`
//! and the functions accept; an invalid one is refused with its diagnostics and writes nothing.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn prow(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_prow"))
        .args(args)
        .output()
        .expect("run prow");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn example_config() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

#[test]
fn compiles_the_example_config_into_a_snapshot_functions_open() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/config.snapshot");
    let config = example_config();
    let (ok, text) = prow(&[
        "config",
        "compile",
        "--config-path",
        config.join("config.yaml").to_str().unwrap(),
        "--job-config-path",
        config.join("jobs").to_str().unwrap(),
        "--plugin-config",
        config.join("plugins.yaml").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("3 presubmits, 1 postsubmits, 2 periodics"),
        "{text}"
    );
    assert!(std::fs::read(&out).unwrap().starts_with(b"PROWSNAP"));
    assert!(!dir.path().join("nested/config.snapshot.tmp").exists());

    let (ok, text) = prow(&["check-config", "--config-path", out.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("config OK: 3 presubmits, 1 postsubmits, 2 periodics across 1 repos"),
        "{text}"
    );

    // A damaged snapshot is refused with the reason, never read as an empty config.
    let mut bytes = std::fs::read(&out).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&out, bytes).unwrap();
    let (ok, text) = prow(&["check-config", "--config-path", out.to_str().unwrap()]);
    assert!(!ok);
    assert!(text.contains("checksum mismatch"), "{text}");
}

#[test]
fn refuses_an_invalid_config_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "prowjob_namespace: prow\npresubmits:\n  acme/widgets:\n  - name: unit\n    run_if_changed: '^(docs/'\n    spec: {containers: [{image: golang}]}\n",
    )
    .unwrap();
    let out = dir.path().join("config.snapshot");
    let (ok, text) = prow(&[
        "config",
        "compile",
        "--config-path",
        config.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("config.yaml:5:") && text.contains("run_if_changed"),
        "{text}"
    );
    assert!(!out.exists());
}
