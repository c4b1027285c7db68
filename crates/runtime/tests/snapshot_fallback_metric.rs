//! A function that fell back from a foreign snapshot to YAML says so on `/metrics`, so the
//! Revisions serving from YAML can be alerted on; one that did not carries no such gauge.
//! (Its own test binary: the fallback flag is process-wide.)
#![allow(clippy::unwrap_used)]

use prow_core::config::{self, LoadOptions};

const CONFIG: &str = "prowjob_namespace: prow\npod_namespace: test-pods\n";

#[test]
fn the_fallback_shows_as_a_gauge_on_metrics() {
    let registry = prometheus_client::registry::Registry::default();
    let before = prow_runtime::encode_metrics(&registry).unwrap();
    assert!(
        !before.contains("prow_config_snapshot_fallback"),
        "{before}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    let compiled = config::load(&LoadOptions {
        config_path: dir.path().join("config.yaml"),
        ..LoadOptions::default()
    })
    .unwrap()
    .config;
    // A snapshot as a newer build writes it (next format), beside the YAML it came from.
    let mut bytes = config::snapshot::encode(&compiled).unwrap();
    let format = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    bytes[8..12].copy_from_slice(&(format + 1).to_le_bytes());
    std::fs::write(dir.path().join("config.snapshot"), bytes).unwrap();

    let loaded = prow_runtime::load_config(&LoadOptions {
        config_path: dir.path().join("config.snapshot"),
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(loaded.prow.pod_namespace, "test-pods");
    let after = prow_runtime::encode_metrics(&registry).unwrap();
    assert!(
        after.contains("\nprow_config_snapshot_fallback 1\n# EOF"),
        "{after}"
    );
}
