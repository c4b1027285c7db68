//! API server throughput and latency: ProwJob creates over HTTP with `kube::Client` while a kube
//! watch receives the events, against the same create loop on the bare store (no HTTP, no
//! client), measured in one run. Prints creates/s, create-to-watch-event latency p50/p99 and the
//! ratios. Run: `cargo bench -p prow-local --bench apiserver` (N=2000 by default, `BENCH_N`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use prow_local::ApiServer;
use prow_local::resources::PROWJOBS;
use prow_local::server::WriteOptions;
use serde_json::{Value, json};

fn prowjob(i: usize) -> Value {
    json!({
        "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
        "metadata": {"name": format!("bench-{i}"), "namespace": "default", "labels": {"created-by-prow": "true"}},
        "spec": {"type": "periodic", "job": format!("ci-bench-{}", i % 50), "agent": "kubernetes"},
        "status": {"state": "triggered", "startTime": "2026-11-25T00:00:00Z"}
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Creates through the store directly, timing each create until its change event arrives.
async fn bare_store(n: usize) -> Run {
    let server = ApiServer::in_memory().expect("store");
    let mut changes = server.changes();
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        server
            .create(&PROWJOBS, "default", prowjob(i), WriteOptions::default())
            .await
            .expect("create");
        changes.recv().await.expect("event");
        latencies.push(t.elapsed());
    }
    Run {
        elapsed: start.elapsed(),
        latencies,
    }
}

/// Creates over HTTP with kube::Client while a kube watch (also over HTTP) sees the events.
async fn over_http(n: usize) -> Run {
    let server = ApiServer::in_memory().expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(prow_local::serve(listener, server, std::future::pending()));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client =
        kube::Client::try_from(kube::Config::new(url.parse().expect("url"))).expect("client");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("prow.k8s.io", "v1", "ProwJob"),
        "prowjobs",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let mut watch = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    tokio::spawn(async move {
        while let Some(Ok(event)) = watch.next().await {
            if let WatchEvent::Added(obj) = event {
                let _ = seen_tx.send((obj.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });
    let start = Instant::now();
    let mut sent = HashMap::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let body: DynamicObject = serde_json::from_value(prowjob(i)).expect("object");
        sent.insert(format!("bench-{i}"), Instant::now());
        api.create(&PostParams::default(), &body)
            .await
            .expect("create");
        let (name, at) = seen_rx.recv().await.expect("watch event");
        if let Some(t) = sent.remove(&name) {
            latencies.push(at.duration_since(t));
        }
    }
    Run {
        elapsed: start.elapsed(),
        latencies,
    }
}

fn report(name: &str, run: &mut Run, n: usize) -> (f64, Duration, Duration) {
    run.latencies.sort();
    let rate = n as f64 / run.elapsed.as_secs_f64();
    let (p50, p99) = (
        percentile(&run.latencies, 0.5),
        percentile(&run.latencies, 0.99),
    );
    println!(
        "{name:<40} {rate:>9.0} creates+events/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    (rate, p50, p99)
}

#[tokio::main]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 2000 } else { 50 });
    let mut bare = bare_store(n).await;
    let mut http = over_http(n).await;
    println!("{n} ProwJob creates, each waited for until its watch event arrived");
    let (bare_rate, bare_p50, bare_p99) = report("bare store (create + change feed)", &mut bare, n);
    let (http_rate, http_p50, http_p99) =
        report("HTTP API (kube::Client create + watch)", &mut http, n);
    println!(
        "ratio HTTP/bare: throughput {:.2}x slower, p50 {:.1}x, p99 {:.1}x",
        bare_rate / http_rate,
        http_p50.as_secs_f64() / bare_p50.as_secs_f64(),
        http_p99.as_secs_f64() / bare_p99.as_secs_f64()
    );
}
