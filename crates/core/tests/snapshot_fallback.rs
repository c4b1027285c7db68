//! A snapshot from another prow-rs build must not crash-loop a function when the YAML it was
//! compiled from is deployed beside it: the YAML is loaded instead, with a warning; without the
//! YAML the mismatch stays an error, and a damaged snapshot is never papered over.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use prow_core::config::{self, LoadOptions, SNAPSHOT_FALLBACK_WARNING};

const CONFIG: &str = "prowjob_namespace: prow\npod_namespace: test-pods\n";
const JOBS: &str = "presubmits:\n  acme/widgets:\n  - name: pull-widgets-unit\n    always_run: true\n    spec:\n      containers:\n      - image: golang\n        command: [go, test]\n";

/// `dir` laid out like the deployed ConfigMap: the YAML, and a snapshot of it from a build that
/// writes a newer snapshot format than this one reads.
fn deploy(dir: &Path, with_yaml: bool) -> LoadOptions {
    std::fs::create_dir_all(dir.join("src/jobs")).unwrap();
    std::fs::write(dir.join("src/config.yaml"), CONFIG).unwrap();
    std::fs::write(dir.join("src/jobs/widgets.yaml"), JOBS).unwrap();
    let compiled = config::load(&LoadOptions {
        config_path: dir.join("src/config.yaml"),
        job_config_path: Some(dir.join("src/jobs")),
        plugin_config_path: None,
    })
    .unwrap()
    .config;
    let mut bytes = config::snapshot::encode(&compiled).unwrap();
    let format = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    bytes[8..12].copy_from_slice(&(format + 1).to_le_bytes());
    let mounted = dir.join("etc/config");
    std::fs::create_dir_all(mounted.join("jobs")).unwrap();
    std::fs::write(mounted.join("config.snapshot"), bytes).unwrap();
    if with_yaml {
        std::fs::write(mounted.join("config.yaml"), CONFIG).unwrap();
        std::fs::write(mounted.join("jobs/widgets.yaml"), JOBS).unwrap();
    }
    LoadOptions {
        config_path: mounted.join("config.snapshot"),
        job_config_path: None,
        plugin_config_path: None,
    }
}

#[test]
fn a_snapshot_from_another_build_falls_back_to_the_yaml_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = config::load(&deploy(dir.path(), true)).unwrap();
    assert_eq!(
        loaded.config.presubmits_for("acme/widgets").unwrap()[0]
            .base
            .name,
        "pull-widgets-unit",
        "the jobs come from jobs/ beside the snapshot"
    );
    assert_eq!(loaded.config.prow.pod_namespace, "test-pods");
    let first = loaded.warnings.first().expect("a warning");
    assert!(first.message.contains(SNAPSHOT_FALLBACK_WARNING), "{first}");
    assert!(first.message.contains("snapshot format"), "{first}");
}

#[test]
fn without_the_yaml_a_foreign_snapshot_is_still_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = config::load(&deploy(dir.path(), false)).unwrap_err();
    assert!(err.to_string().contains("snapshot format"), "{err}");
}

#[test]
fn a_damaged_snapshot_is_an_error_even_with_yaml_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = deploy(dir.path(), true);
    let mut bytes = std::fs::read(&options.config_path).unwrap();
    let format = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    bytes[8..12].copy_from_slice(&(format - 1).to_le_bytes());
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&options.config_path, bytes).unwrap();
    let err = config::load(&options).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}
