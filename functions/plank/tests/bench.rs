//! Throughput figure (ignored by default): ProwJobs started per second by one resync over N queued jobs.
//!
//! `PLANK_BENCH_JOBS=1000 cargo test -p prow-plank --test bench -- --ignored --nocapture`
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use common::*;
use prow_core::prowjob::ProwJobState;
use prow_plank::decide::Settings;

#[tokio::test]
#[ignore = "benchmark: run explicitly (.ci/test skips benchmark_*)"]
async fn benchmark_prowjobs_started_per_second_by_one_resync() {
    let n: usize = std::env::var("PLANK_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    for i in 0..n {
        world
            .jobs
            .create(&periodic(&format!("bench-{i:05}"), "echo hi"))
            .await
            .unwrap();
    }
    let started = Instant::now();
    deliver_ok(&plank, &ping()).await;
    let elapsed = started.elapsed();
    let jobs = world.jobs.list(None).await.unwrap();
    assert!(jobs.iter().all(|j| j.status.state == ProwJobState::Pending));
    assert_eq!(world.pods.list(None).await.unwrap().len(), n);
    println!(
        "plank resync started {n} queued ProwJobs in {:.2}s: {:.0} jobs/s (pod create + status write each)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}
