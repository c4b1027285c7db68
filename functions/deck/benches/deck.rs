//! Deck with 100k ProwJobs in the embedded API server: time to first byte and to the last byte
//! of `/` and `/prowjobs.js?repo=...`, against a static file of the same size served over HTTP
//! by the same stack (tower-http `ServeFile`). Prints the figures and their ratios.
//!
//! `cargo bench -p prow-deck --bench deck` (DECK_BENCH_JOBS=<n> to change the count).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_core::config::Config;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType, Pull, Refs};
use prow_deck::{DeckOptions, DeckState};
use prow_kube::test_support::LocalApi;
use prow_local::resources::PROWJOBS;
use prow_local::server::WriteOptions;

const ROUNDS: usize = 15;

fn job(i: usize) -> ProwJob {
    let repo = format!("repo-{}", i % 50);
    let mut refs = Refs::new("acme", &repo);
    refs.base_ref = "main".into();
    refs.repo_link = format!("https://github.com/acme/{repo}");
    let mut pull = Pull::new(
        (i % 5000) as u64 + 1,
        format!("user{}", i % 300),
        "0123456789abcdef0123456789abcdef01234567",
    );
    pull.title = format!("Change number {i}");
    pull.link = format!("https://github.com/acme/{repo}/pull/{}", i % 5000 + 1);
    refs.pulls.push(pull);
    let states = [
        ProwJobState::Success,
        ProwJobState::Failure,
        ProwJobState::Pending,
        ProwJobState::Success,
    ];
    ProwJob::builder(
        format!("pull-{repo}-unit-{}", i % 7),
        ProwJobType::Presubmit,
    )
    .name(format!("job-{i:06}"))
    .namespace("default")
    .label("prow.k8s.io/type", "presubmit")
    .refs(refs)
    .context("unit")
    .started_at(Time(
        Timestamp::from_second(1_700_000_000 + i as i64).unwrap(),
    ))
    .state(states[i % 4])
    .build_id(format!("{}", 1_800_000_000_000_000_000u64 + i as u64))
    .build()
}

/// (time to first byte, time to last byte, bytes) of one GET.
async fn fetch(client: &reqwest::Client, url: &str) -> (Duration, Duration, usize) {
    let start = Instant::now();
    let response = client.get(url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let ttfb = start.elapsed();
    let body = response.bytes().await.unwrap();
    (ttfb, start.elapsed(), body.len())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(client: &reqwest::Client, url: &str) -> (Duration, Duration, usize) {
    fetch(client, url).await; // warm-up
    let mut ttfb = Vec::new();
    let mut full = Vec::new();
    let mut size = 0;
    for _ in 0..ROUNDS {
        let (t, f, n) = fetch(client, url).await;
        ttfb.push(t);
        full.push(f);
        size = n;
    }
    (median(ttfb), median(full), size)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("DECK_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let api = LocalApi::start().await.unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let server = api.server.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..n).step_by(8) {
                let body = serde_json::to_value(job(i)).unwrap();
                server
                    .create(&PROWJOBS, "default", body, WriteOptions::default())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "stored {n} ProwJobs in the embedded API server in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let state = DeckState::new(
        Arc::new(Config::default()),
        api.client().unwrap(),
        "default",
        None,
        None,
        DeckOptions::default(),
    );
    assert!(state.index.wait_synced(Duration::from_secs(600)).await);
    println!(
        "cold start: index of {} jobs synced in {:.2}s (list + decode, once per instance)",
        state.index.len(),
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let deck = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, prow_deck::router(state)).into_future());

    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("/ (first page, 100 rows)", "/".to_owned()),
        (
            "/?repo=acme/repo-7&state=failure",
            "/?repo=acme/repo-7&state=failure".to_owned(),
        ),
        ("/?page=900 (deep page)", "/?page=900".to_owned()),
        (
            "/prowjobs.js?repo=acme/repo-7",
            "/prowjobs.js?repo=acme/repo-7".to_owned(),
        ),
    ];
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "endpoint", "bytes", "ttfb ms", "full ms", "static ttfb", "static full", "ttfb x", "full x"
    );
    for (label, path) in cases {
        let (ttfb, full, size) = measure(&client, &format!("{deck}{path}")).await;
        // The same number of bytes from a file, served by tower-http on the same runtime.
        let file = dir.path().join("static.bin");
        std::fs::write(&file, vec![b'x'; size]).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let static_url = format!("http://{}/", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback_service(tower_http::services::ServeFile::new(file));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let (s_ttfb, s_full, _) = measure(&client, &static_url).await;
        server.abort();
        println!(
            "{label:<40} {size:>10} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>8.1} {:>8.1}",
            ms(ttfb),
            ms(full),
            ms(s_ttfb),
            ms(s_full),
            ttfb.as_secs_f64() / s_ttfb.as_secs_f64(),
            full.as_secs_f64() / s_full.as_secs_f64()
        );
    }
}
