//! Load benchmark over Kubernetes' own Prow config: our full load + validate vs a bare parse of
//! the same files into untyped YAML values with the same YAML crate, measured in one run.
//! Run: `cargo bench -p prow-core --bench config_load` (or `bench/config-load.sh`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prow_core::config::{self, LoadOptions};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let root = prow_testdata::corpus().join("prow/test-infra/config");
    let options = LoadOptions {
        config_path: root.join("prow/config.yaml"),
        job_config_path: Some(root.join("jobs")),
        plugin_config_path: Some(root.join("prow/plugins.yaml")),
    };
    let mut files = vec![options.config_path.clone(), root.join("prow/plugins.yaml")];
    yaml_files(&root.join("jobs"), &mut files);
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);

    let mut ours = Vec::new();
    let mut bare = Vec::new();
    let mut jobs = 0;
    // Interleave the two so machine noise hits both alike.
    for _ in 0..rounds {
        let start = Instant::now();
        let loaded = match config::load(&options) {
            Ok(l) => l,
            Err(e) => panic!("corpus must load: {e}"),
        };
        ours.push(start.elapsed());
        let s = loaded.config.summary();
        jobs = s.presubmits + s.postsubmits + s.periodics;

        let start = Instant::now();
        let mut docs = 0usize;
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            if let Ok(v) = serde_norway::from_str::<serde_norway::Value>(&text) {
                docs += usize::from(!v.is_null());
            }
        }
        bare.push(start.elapsed());
        std::hint::black_box(docs);
    }
    let (ours, bare) = (median(ours), median(bare));
    println!(
        "corpus: {} files, {:.1} MB, {jobs} jobs; median of {rounds} rounds",
        files.len(),
        bytes as f64 / 1e6
    );
    println!(
        "(a) full load + validate (prow_core::config::load): {:>8.1} ms",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "(b) bare parse to serde_norway::Value, same files:   {:>8.1} ms",
        bare.as_secs_f64() * 1e3
    );
    println!(
        "ratio (a)/(b): {:.2} (target <= 2)",
        ours.as_secs_f64() / bare.as_secs_f64()
    );
}
