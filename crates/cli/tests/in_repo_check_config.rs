//! `prow check-config --prow-yaml-repo-name` checks a checkout's `.prow.yaml` against the central
//! config as Prow's checkconfig does: defaulted, names not colliding, errors at file:line.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn check(dir: &std::path::Path, prow_yaml: &str) -> (bool, String) {
    std::fs::write(
        dir.join("config.yaml"),
        "presubmits:\n  org/repo:\n  - name: central\n    always_run: true\n    spec: {containers: [{image: a}]}\n",
    )
    .unwrap();
    std::fs::write(dir.join(".prow.yaml"), prow_yaml).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_prow"))
        .current_dir(dir)
        .args([
            "check-config",
            "--config-path",
            "config.yaml",
            "--prow-yaml-repo-name",
            "org/repo",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn a_checkouts_prow_yaml_is_validated_against_the_central_config() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = check(
        dir.path(),
        "presubmits:\n- name: lint\n  spec: {containers: [{image: a}]}\n",
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("in-repo config OK for org/repo: 1 presubmits, 0 postsubmits from 1 file(s)"),
        "{text}"
    );
    assert!(text.contains("not enabled for this repo"), "{text}");

    let (ok, text) = check(
        dir.path(),
        "presubmits:\n- name: lint\n  spec: {containers: [{image: a}]}\n- name: central\n  spec: {containers: [{image: a}]}\n",
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains(".prow.yaml:4:3: presubmits[1].name: duplicated presubmit job central"),
        "{text}"
    );
}
