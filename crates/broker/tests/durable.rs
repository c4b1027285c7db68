//! The durable store: what ingress accepted survives a crash (the runtime dropped with deliveries
//! unfinished) and is delivered again by the next broker on the same file; what was delivered
//! with a 2xx or dead-lettered is not.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use prow_broker::store::{DeliveryStore, RedbStore};
use prow_broker::{Broker, BrokerOptions, Manifests, MemoryStore, ingress_router};
use support::*;
use tower::ServiceExt as _;

/// Broker `default` in `prow`; each (trigger, service) gets every `dev.prow.github.pull_request`.
fn manifests(delivery: &str, triggers: &[(&str, &str)]) -> Manifests {
    let mut yaml = format!(
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {{name: default, namespace: prow}}\nspec: {{delivery: {delivery}}}\n"
    );
    for (name, service) in triggers {
        yaml.push_str(&format!(
            "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {{name: {name}, namespace: prow}}\n\
             spec: {{broker: default, filter: {{attributes: {{type: dev.prow.github.pull_request}}}}, \
             subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: {service}}}}}}}\n"
        ));
    }
    Manifests::parse_str(&yaml, "test.yaml").unwrap()
}

const FAST_RETRIES: &str = "{retry: 2, backoffPolicy: linear, backoffDelay: PT0.01S, deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letters}}}";

/// A subscriber that never answers: its deliveries are in flight when the process "dies".
fn hanging() -> Router {
    Router::new().fallback(std::future::pending::<StatusCode>)
}

fn durable(path: &Path) -> BrokerOptions {
    BrokerOptions {
        durable_store: Some(path.to_path_buf()),
        ..BrokerOptions::default()
    }
}

/// One process lifetime: a fresh runtime, dropped at the end with whatever is still running, as
/// `kill -9` would leave it (nothing drains, nothing is flushed).
fn lifetime<T>(run: impl AsyncFnOnce() -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run());
    drop(rt);
    out
}

/// Publishes through HTTP ingress; every answer must be 202.
async fn accept_over_ingress(broker: &Broker, ids: &[String]) {
    for id in ids {
        let request = Request::post("/prow/default")
            .header("ce-specversion", "1.0")
            .header("ce-id", id.as_str())
            .header("ce-type", "dev.prow.github.pull_request")
            .header("ce-source", "https://github.com/acme/widgets")
            .header("content-type", "application/json")
            .body(Body::from(format!(r#"{{"delivery":"{id}"}}"#)))
            .unwrap();
        let response = ingress_router(broker.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{id}");
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn seen_ids(r: &Recorder) -> Vec<String> {
    let mut ids: Vec<String> = r
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.header("ce-id").unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn idle(broker: &Broker) {
    tokio::time::timeout(Duration::from_secs(20), broker.wait_idle())
        .await
        .expect("broker went idle");
}

fn still_owed(path: &Path) -> usize {
    RedbStore::open(path).unwrap().pending().unwrap().len()
}

#[test]
fn accepted_events_are_delivered_again_after_a_crash_and_only_where_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("broker.redb");
    let sent = ids("pr", 10);
    let m = manifests("{}", &[("fast", "fast"), ("slow", "slow")]);

    // First life: `fast` answers 202 to everything, `slow` never answers; then the crash.
    let fast = Recorder::accepting();
    lifetime(async || {
        let routers = HashMap::from([
            ("fast".to_string(), fast.router()),
            ("slow".to_string(), hanging()),
        ]);
        let broker = Broker::new(&m, routers, durable(&db)).unwrap();
        accept_over_ingress(&broker, &sent).await;
        eventually("fast to get everything", || fast.count() == sent.len()).await;
        // Let the completions of `fast` commit.
        eventually("only slow's deliveries owed", || {
            broker.pending() == sent.len()
        })
        .await;
    });
    assert_eq!(still_owed(&db), sent.len());

    // Second life: everything `slow` owed arrives, `fast` gets nothing again.
    let fast_again = Recorder::accepting();
    let slow = Recorder::accepting();
    lifetime(async || {
        let routers = HashMap::from([
            ("fast".to_string(), fast_again.router()),
            ("slow".to_string(), slow.router()),
        ]);
        let broker = Broker::new(&m, routers, durable(&db)).unwrap();
        idle(&broker).await;
    });
    assert_eq!(seen_ids(&slow), sorted(sent.clone()));
    assert_eq!(fast_again.count(), 0);
    // The redelivered event is the accepted one: data and the arrival stamp survive.
    let first = slow.seen.lock().unwrap()[0].clone();
    assert!(first.header("ce-knativearrivaltime").is_some());
    assert_eq!(
        String::from_utf8_lossy(&first.body),
        format!(r#"{{"delivery":"{}"}}"#, first.header("ce-id").unwrap())
    );
    assert_eq!(still_owed(&db), 0);
}

#[test]
fn a_delivery_answered_2xx_is_not_delivered_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("broker.redb");
    let m = manifests("{}", &[("t", "fn")]);
    let first = Recorder::accepting();
    lifetime(async || {
        let broker = Broker::new(
            &m,
            HashMap::from([("fn".to_string(), first.router())]),
            durable(&db),
        )
        .unwrap();
        accept_over_ingress(&broker, &ids("pr", 5)).await;
        idle(&broker).await;
    });
    assert_eq!(first.count(), 5);
    assert_eq!(still_owed(&db), 0);

    let second = Recorder::accepting();
    lifetime(async || {
        let broker = Broker::new(
            &m,
            HashMap::from([("fn".to_string(), second.router())]),
            durable(&db),
        )
        .unwrap();
        idle(&broker).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    assert_eq!(second.count(), 0);
}

#[test]
fn a_dead_lettered_delivery_is_not_delivered_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("broker.redb");
    let m = manifests(FAST_RETRIES, &[("t", "fn")]);
    let failing = Recorder::new(|_, _| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    let dead = Recorder::accepting();
    lifetime(async || {
        let routers = HashMap::from([
            ("fn".to_string(), failing.router()),
            ("dead-letters".to_string(), dead.router()),
        ]);
        let broker = Broker::new(&m, routers, durable(&db)).unwrap();
        accept_over_ingress(&broker, &ids("pr", 2)).await;
        idle(&broker).await;
        assert_eq!(broker.stats("prow", "t").dead_lettered, 2);
    });
    assert_eq!(failing.count(), 2 * 3);
    assert_eq!(dead.count(), 2);
    assert_eq!(still_owed(&db), 0);

    let healthy = Recorder::accepting();
    lifetime(async || {
        let routers = HashMap::from([
            ("fn".to_string(), healthy.router()),
            ("dead-letters".to_string(), dead.router()),
        ]);
        let broker = Broker::new(&m, routers, durable(&db)).unwrap();
        idle(&broker).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    assert_eq!(healthy.count(), 0);
    assert_eq!(dead.count(), 2);
}

#[test]
fn a_backlog_larger_than_the_queues_is_fed_through_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("broker.redb");
    let m = manifests("{}", &[("t", "fn")]);
    let sent = ids("pr", 40);
    lifetime(async || {
        let broker = Broker::new(
            &m,
            HashMap::from([("fn".to_string(), hanging())]),
            durable(&db),
        )
        .unwrap();
        accept_over_ingress(&broker, &sent).await;
    });

    // Room for 2 queued and 1 in flight: the backlog waits for room instead of being refused,
    // and new events are still taken (or refused with 429, never lost) meanwhile.
    let r = Recorder::accepting();
    lifetime(async || {
        let options = BrokerOptions {
            queue_capacity: 2,
            max_in_flight: 1,
            ..durable(&db)
        };
        let broker =
            Broker::new(&m, HashMap::from([("fn".to_string(), r.router())]), options).unwrap();
        idle(&broker).await;
    });
    assert_eq!(seen_ids(&r), sorted(sent));
    assert_eq!(still_owed(&db), 0);
}

#[test]
fn deliveries_owed_to_a_removed_trigger_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("broker.redb");
    lifetime(async || {
        let m = manifests("{}", &[("gone", "fn")]);
        let broker = Broker::new(
            &m,
            HashMap::from([("fn".to_string(), hanging())]),
            durable(&db),
        )
        .unwrap();
        accept_over_ingress(&broker, &ids("pr", 3)).await;
    });
    assert_eq!(still_owed(&db), 3);
    let r = Recorder::accepting();
    lifetime(async || {
        let m = manifests("{}", &[("new", "fn")]);
        let broker = Broker::new(
            &m,
            HashMap::from([("fn".to_string(), r.router())]),
            durable(&db),
        )
        .unwrap();
        idle(&broker).await;
    });
    assert_eq!(r.count(), 0);
    assert_eq!(still_owed(&db), 0);
}

#[tokio::test]
async fn a_broker_rebuilt_on_the_same_memory_store_delivers_what_the_last_one_left() {
    let store = MemoryStore::new();
    let m = manifests("{}", &[("t", "fn")]);
    let sent = ids("pr", 3);
    {
        let broker = Broker::with_store(
            &m,
            HashMap::from([("fn".to_string(), hanging())]),
            BrokerOptions::default(),
            store.clone(),
        )
        .unwrap();
        accept_over_ingress(&broker, &sent).await;
    }
    assert_eq!(store.pending().unwrap().len(), 3);
    let r = Recorder::accepting();
    let broker = Broker::with_store(
        &m,
        HashMap::from([("fn".to_string(), r.router())]),
        BrokerOptions::default(),
        store.clone(),
    )
    .unwrap();
    idle(&broker).await;
    assert_eq!(seen_ids(&r), sorted(sent));
    assert!(store.pending().unwrap().is_empty());
}
