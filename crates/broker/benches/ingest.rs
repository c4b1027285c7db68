//! Broker ingest throughput: N real pull_request webhooks published to the `eventing/` wiring
//! (subscribers answer 202 at once) by C concurrent publishers, with events in memory only (the
//! broker before the durable store) and in a redb file (`prow up`). Prints accepted events/s
//! (every publish returned, so every event written) and drained events/s (every delivery
//! finished and, when durable, recorded).
//! Run: `cargo bench -p prow-broker --bench ingest` (`BENCH_N`, default 2000).

use std::collections::HashMap;
use std::time::Instant;

use axum::Router;
use axum::http::StatusCode;
use prow_broker::{Broker, BrokerOptions, Manifests};
use prow_events::{Event, EventBuilder, EventBuilderV10};

fn eventing_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eventing")
}

fn routers() -> HashMap<String, Router> {
    [
        "trigger",
        "plank",
        "crier",
        "horologium",
        "sinker",
        "plugins",
        "tide",
        "config-updater",
        "needs-rebase",
        "cherrypicker",
        "branchprotector",
        "status-reconciler",
        "redelivery",
        "dead-letters",
    ]
    .into_iter()
    .map(|s| {
        (
            s.to_string(),
            Router::new().fallback(|| async { StatusCode::ACCEPTED }),
        )
    })
    .collect()
}

fn webhook(payload: &[u8], i: usize) -> Event {
    EventBuilderV10::new()
        .id(format!("delivery-{i}"))
        .ty("dev.prow.github.pull_request")
        .source("https://github.com/Codertocat/Hello-World")
        .extension("action", "opened")
        .data("application/json", payload.to_vec())
        .build()
        .expect("event")
}

struct Figures {
    accepted_per_s: f64,
    drained_per_s: f64,
}

async fn run(options: BrokerOptions, n: usize, concurrency: usize) -> Figures {
    let manifests = Manifests::load_dir(eventing_dir()).expect("eventing/");
    let broker = Broker::new(&manifests, routers(), options).expect("broker");
    let payload = prow_testdata::webhook("pull_request.opened.json");
    let start = Instant::now();
    let mut publishers = Vec::new();
    for p in 0..concurrency {
        let broker = broker.clone();
        let payload = payload.clone();
        publishers.push(tokio::spawn(async move {
            let mut i = p;
            while i < n {
                broker.publish(webhook(&payload, i)).await.expect("publish");
                i += concurrency;
            }
        }));
    }
    for p in publishers {
        p.await.expect("publisher");
    }
    let accepted = start.elapsed();
    broker.wait_idle().await;
    let drained = start.elapsed();
    broker.shutdown().await;
    Figures {
        accepted_per_s: n as f64 / accepted.as_secs_f64(),
        drained_per_s: n as f64 / drained.as_secs_f64(),
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    rt.block_on(async {
        for concurrency in [1, 32] {
            for durable in [false, true] {
                let options = BrokerOptions {
                    durable_store: durable
                        .then(|| dir.path().join(format!("broker-{concurrency}.redb"))),
                    ..BrokerOptions::default()
                };
                let f = run(options, n, concurrency).await;
                println!(
                    "{:<7} c={concurrency:<3} n={n}: accepted {:>9.0} events/s, drained {:>9.0} events/s",
                    if durable { "redb" } else { "memory" },
                    f.accepted_per_s,
                    f.drained_per_s
                );
            }
        }
    });
}
