//! Benchmark, not a test (`.ci/test` skips `benchmark_*`): how long from a decorated ProwJob's
//! creation to its test command starting under `prow up`, through plank, the local kubelet and
//! Prow's decoration (initupload, place-entrypoint, entrypoint; no clone). Jobs are created one
//! after another, each once the previous one's command started, so the figure is latency, not
//! queueing. Run:
//! `cargo test --release -p prow-cli --test job_start_latency -- --ignored --nocapture`
//! (`PROW_LATENCY_JOBS`, default 100; `PROW_LATENCY_POD_RUNTIME=podman` runs the test
//! containers inside an image built for the run, with `podman run`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prow_core::prowjob::ProwJob;
use prow_kube::ProwJobs;
use serde_json::json;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
}

/// The job writes the time its command started into `marks/<name>`; in podman mode `marks` is
/// mounted into the container (a hostPath volume) and `image` is one `date` runs in.
fn prowjob(name: &str, marks: &Path, image_tag: Option<&str>) -> ProwJob {
    let image = |utility: &str| format!("us-docker.pkg.dev/k8s-infra-prow/images/{utility}:v1");
    serde_json::from_value(json!({
        "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
        "metadata": {"name": name, "namespace": "prow"},
        "spec": {
            "type": "periodic", "agent": "kubernetes", "job": "ci-latency", "namespace": "test-pods",
            "decoration_config": {
                "timeout": "5m", "grace_period": "5s",
                "utility_images": {"clonerefs": image("clonerefs"), "initupload": image("initupload"),
                                   "entrypoint": image("entrypoint"), "sidecar": image("sidecar")},
                "gcs_configuration": {"bucket": "latency", "path_strategy": "explicit"}
            },
            "pod_spec": {
                "containers": [{"image": image_tag.unwrap_or("alpine"), "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c"],
                    "args": [format!("date +%s%N > {}/{name}", marks.display())],
                    "volumeMounts": [{"name": "marks", "mountPath": marks.display().to_string()}]}],
                "volumes": [{"name": "marks", "hostPath": {"path": marks.display().to_string()}}]
            }
        },
        "status": {"state": "triggered", "startTime": "2026-01-01T00:00:00Z"}
    }))
    .expect("prowjob")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly (.ci/test skips benchmark_*)"]
async fn benchmark_prowjob_created_to_test_command_started() {
    prow_kube::install_crypto_provider();
    let jobs_wanted: usize = std::env::var("PROW_LATENCY_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("tempdir");
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).expect("marks dir");
    let config = dir.path().join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: test-pods\n",
    );
    std::fs::create_dir_all(config.join("jobs")).expect("jobs dir");
    common::write(&config.join("plugins.yaml"), "plugins: {}\n");
    let podman_mode = std::env::var("PROW_LATENCY_POD_RUNTIME").is_ok_and(|r| r == "podman");
    let tag = format!("localhost/prow-latency:{}", std::process::id());
    let mut extra = Vec::new();
    if podman_mode {
        let podman = prow_testdata::counterpart("podman", None, "apt-get install podman runc");
        common::build_image(&podman, &tag, &["/bin/sh", "/bin/date"], dir.path());
        let (global, run_args) = common::podman_arguments(&podman, &tag);
        extra.push(format!("--podman-args={global}"));
        extra.push(format!("--podman-run-args={run_args}"));
    }
    let (_up, endpoints) = common::start_up(
        dir.path(),
        &common::UpOptions {
            log: Some("warn"),
            pod_runtime: Some(if podman_mode { "podman" } else { "host" }),
            extra_args: &extra,
            ..common::UpOptions::default()
        },
    );
    let api = endpoints["api"].as_str().expect("api url");
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");

    let mut latencies_ms = Vec::with_capacity(jobs_wanted);
    for i in 0..jobs_wanted {
        let name = format!("latency-{i:04}");
        let created = now_ns();
        jobs.create(&prowjob(&name, &marks, podman_mode.then_some(tag.as_str())))
            .await
            .expect("create");
        let mark = marks.join(&name);
        let deadline = Instant::now() + Duration::from_secs(60);
        let started: u128 = loop {
            if let Some(ns) = std::fs::read_to_string(&mark)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break ns;
            }
            assert!(Instant::now() < deadline, "{name} never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        latencies_ms.push((started.saturating_sub(created)) as f64 / 1e6);
    }
    latencies_ms.sort_by(f64::total_cmp);
    println!(
        "ProwJob created -> test command started ({}, decorated, no clone), {} jobs: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        if podman_mode {
            "podman containers"
        } else {
            "host processes"
        },
        latencies_ms.len(),
        percentile(&latencies_ms, 50.0),
        percentile(&latencies_ms, 99.0),
        latencies_ms.last().copied().unwrap_or_default()
    );
}
