//! Delivery semantics: retries, dead letters, replies, back-pressure at ingress, draining on shutdown.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use prow_broker::{Broker, BrokerKey, BrokerOptions, Manifests, PublishError, ingress_router};
use prow_events::AttributesReader;
use support::*;
use tower::ServiceExt as _;

/// A broker `default` in `prow` with one Trigger per (name, type filter, subscriber).
fn manifests(delivery: &str, triggers: &[(&str, &str, &str)]) -> Manifests {
    let mut yaml = format!(
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {{name: default, namespace: prow}}\nspec: {{delivery: {delivery}}}\n"
    );
    for (name, ty, service) in triggers {
        yaml.push_str(&format!(
            "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {{name: {name}, namespace: prow}}\n\
             spec: {{broker: default, filter: {{attributes: {{type: {ty}}}}}, \
             subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: {service}}}, uri: /events}}}}\n"
        ));
    }
    Manifests::parse_str(&yaml, "test.yaml").unwrap()
}

const FAST_RETRIES: &str = "{retry: 3, backoffPolicy: linear, backoffDelay: PT0.01S, deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letters}}}";

fn event(ty: &str) -> prow_events::Event {
    use prow_events::{EventBuilder, EventBuilderV10};
    EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .ty(ty)
        .source("/test")
        .data("application/json", br#"{"n":1}"#.to_vec())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_failing_subscriber_is_retried_until_it_succeeds() {
    let flaky = Recorder::new(|n, _| {
        if n < 3 {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            StatusCode::OK.into_response()
        }
    });
    let dead = Recorder::accepting();
    let routers = HashMap::from([
        ("fn".to_string(), flaky.router()),
        ("dead-letters".to_string(), dead.router()),
    ]);
    let broker = Broker::new(
        &manifests(FAST_RETRIES, &[("t", "a", "fn")]),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    broker.publish(event("a")).await.unwrap();
    broker.wait_idle().await;
    assert_eq!(flaky.count(), 3);
    assert!(
        flaky
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.path == "/events")
    );
    let stats = broker.stats("prow", "t");
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (1, 2, 0)
    );
    assert_eq!(dead.count(), 0);
}

#[tokio::test]
async fn exhausted_retries_dead_letter_the_event_with_knatives_error_extensions() {
    let broken =
        Recorder::new(|_, _| (StatusCode::INTERNAL_SERVER_ERROR, "database down").into_response());
    let dead = Recorder::accepting();
    let routers = HashMap::from([
        ("fn".to_string(), broken.router()),
        ("dead-letters".to_string(), dead.router()),
    ]);
    let broker = Broker::new(
        &manifests(FAST_RETRIES, &[("t", "a", "fn")]),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    let e = event("a");
    let id = e.id().to_string();
    broker.publish(e).await.unwrap();
    broker.wait_idle().await;
    assert_eq!(broken.count(), 4, "first attempt plus 3 retries");
    let stats = broker.stats("prow", "t");
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (0, 3, 1)
    );
    let letter = dead.last().expect("dead letter sink got the event");
    assert_eq!(letter.header("ce-id"), Some(id.as_str()));
    assert_eq!(letter.header("ce-knativeerrorcode"), Some("500"));
    assert_eq!(
        letter.header("ce-knativeerrordest"),
        Some("http://fn.prow.svc.cluster.local/events")
    );
    let data = base64::engine::general_purpose::STANDARD
        .decode(letter.header("ce-knativeerrordata").unwrap())
        .unwrap();
    assert_eq!(data, b"database down");
    assert_eq!(&letter.body[..], br#"{"n":1}"#);

    // The counters are exported for Prometheus.
    let mut registry = prometheus_client::registry::Registry::default();
    broker.metrics().register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"broker_dead_lettered_total{namespace="prow",trigger="t"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"broker_retried_total{namespace="prow",trigger="t"} 3"#),
        "{text}"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_and_a_missing_sink_only_counts() {
    let refusing = Recorder::new(|_, _| StatusCode::BAD_REQUEST.into_response());
    let routers = HashMap::from([("fn".to_string(), refusing.router())]);
    // dead-letters is not mounted: the dead letter is logged and counted only.
    let broker = Broker::new(
        &manifests(FAST_RETRIES, &[("t", "a", "fn")]),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    broker.publish(event("a")).await.unwrap();
    broker.wait_idle().await;
    assert_eq!(refusing.count(), 1);
    let stats = broker.stats("prow", "t");
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (0, 0, 1)
    );
}

#[tokio::test]
async fn a_non_event_body_in_a_2xx_answer_counts_as_a_failure_like_on_knative() {
    let chatty = Recorder::new(|_, _| (StatusCode::OK, "ok").into_response());
    let routers = HashMap::from([("fn".to_string(), chatty.router())]);
    let broker = Broker::new(
        &manifests(FAST_RETRIES, &[("t", "a", "fn")]),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    broker.publish(event("a")).await.unwrap();
    broker.wait_idle().await;
    assert_eq!(chatty.count(), 4);
    assert_eq!(broker.stats("prow", "t").dead_lettered, 1);
}

fn reply_with(ty: &'static str) -> Recorder {
    Recorder::new(move |n, _| {
        (
            StatusCode::OK,
            [
                ("ce-specversion", "1.0".to_string()),
                ("ce-id", format!("reply-{n}")),
                ("ce-type", ty.to_string()),
                ("ce-source", "/replier".to_string()),
                ("content-type", "application/json".to_string()),
            ],
            r#"{"reply":true}"#,
        )
            .into_response()
    })
}

#[tokio::test]
async fn a_reply_event_goes_back_into_the_broker() {
    let first = reply_with("b");
    let second = Recorder::accepting();
    let routers = HashMap::from([
        ("first".to_string(), first.router()),
        ("second".to_string(), second.router()),
    ]);
    let m = manifests(FAST_RETRIES, &[("ta", "a", "first"), ("tb", "b", "second")]);
    let broker = Broker::new(&m, routers, BrokerOptions::default()).unwrap();
    broker.publish(event("a")).await.unwrap();
    broker.wait_idle().await;
    assert_eq!(first.count(), 1);
    assert_eq!(second.types(), ["b"]);
    let got = second.last().unwrap();
    assert_eq!(got.header("ce-id"), Some("reply-1"));
    assert_eq!(&got.body[..], br#"{"reply":true}"#);
}

#[tokio::test]
async fn reply_loops_end_when_the_ttl_runs_out() {
    let echo = reply_with("a");
    let routers = HashMap::from([("echo".to_string(), echo.router())]);
    let options = BrokerOptions {
        max_ttl: 4,
        ..Default::default()
    };
    let broker = Broker::new(
        &manifests("{retry: 0}", &[("t", "a", "echo")]),
        routers,
        options,
    )
    .unwrap();
    broker.publish(event("a")).await.unwrap();
    broker.wait_idle().await;
    // TTL 4 on arrival, then 3, 2, 1 for the replies; the fourth reply would have TTL 0.
    assert_eq!(echo.count(), 4);
    assert_eq!(broker.stats("prow", "t").dead_lettered, 1);
    let mut looping = event("a");
    looping.set_extension(prow_broker::TTL_EXTENSION, 1i64);
    assert!(matches!(
        broker.publish(looping).await,
        Err(PublishError::TtlExhausted { .. })
    ));
}

/// A subscriber that holds every request until released.
fn gate() -> (Recorder, Arc<tokio::sync::Semaphore>) {
    let open = Arc::new(tokio::sync::Semaphore::new(0));
    let recorder = Recorder::accepting();
    (recorder, open)
}

#[tokio::test]
async fn a_full_queue_is_refused_at_ingress_instead_of_blocking() {
    let (recorder, open) = gate();
    let seen = recorder.seen.clone();
    let held = open.clone();
    let slow = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let held = held.clone();
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(Received {
                path: "/".into(),
                headers: Default::default(),
                body,
            });
            held.acquire().await.unwrap().forget();
            StatusCode::ACCEPTED
        }
    });
    let routers = HashMap::from([("fn".to_string(), slow)]);
    let options = BrokerOptions {
        queue_capacity: 1,
        max_in_flight: 1,
        publish_timeout: Duration::from_millis(50),
        ..Default::default()
    };
    let broker = Broker::new(
        &manifests("{retry: 0}", &[("t", "a", "fn")]),
        routers,
        options,
    )
    .unwrap();
    let app = ingress_router(broker.clone());
    let post = |ty: &str| {
        let (headers, body) = prow_events::encode_binary(&event(ty)).unwrap();
        let mut req = Request::post("/prow/default")
            .body(Body::from(body))
            .unwrap();
        *req.headers_mut() = headers;
        app.clone().oneshot(req)
    };
    // The first event is taken by the (blocked) worker, the second fills the queue.
    assert_eq!(post("a").await.unwrap().status(), StatusCode::ACCEPTED);
    eventually("the first delivery to start", || recorder.count() == 1).await;
    assert_eq!(post("a").await.unwrap().status(), StatusCode::ACCEPTED);
    let refused = post("a").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    // Events no Trigger wants never touch a queue.
    assert_eq!(
        post("unrouted").await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    // In-process producers wait a bounded time, then get the same answer.
    assert!(matches!(
        broker.publish(event("a")).await,
        Err(PublishError::QueueFull { .. })
    ));

    // Shutdown drains what was accepted, then ingress answers 503.
    let shutdown = tokio::spawn({
        let broker = broker.clone();
        async move { broker.shutdown().await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while post("a").await.unwrap().status() != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ingress never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    open.add_permits(10);
    assert!(shutdown.await.unwrap(), "queues drained");
    assert_eq!(recorder.count(), 2);
    assert_eq!(broker.stats("prow", "t").delivered, 2);
    assert_eq!(broker.pending(), 0);
}

#[tokio::test]
async fn ingress_status_codes() {
    let (routers, _rec) = functions();
    let m = Manifests::load_dir(eventing_dir()).unwrap();
    let broker = Broker::new(&m, routers, BrokerOptions::default()).unwrap();
    let app = ingress_router(broker);
    let send = |uri: &str, headers: Vec<(&str, &str)>, body: &'static str| {
        let mut req = Request::post(uri).body(Body::from(body)).unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        app.clone().oneshot(req)
    };
    let good = vec![
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-type", "x"),
        ("ce-source", "/s"),
    ];
    assert_eq!(
        send("/prow/default", good.clone(), "")
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        send("/prow/default/", good.clone(), "")
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        send("/prow/other", good.clone(), "")
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send("/elsewhere/default", good, "").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let no_id = vec![
        ("ce-specversion", "1.0"),
        ("ce-type", "x"),
        ("ce-source", "/s"),
    ];
    assert_eq!(
        send("/prow/default", no_id, "").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            "/prow/default",
            vec![("content-type", "application/json")],
            "{}"
        )
        .await
        .unwrap()
        .status(),
        StatusCode::BAD_REQUEST
    );
    let structured = vec![("content-type", "application/cloudevents+json")];
    assert_eq!(
        send(
            "/prow/default",
            structured,
            r#"{"specversion":"1.0","id":"2","type":"x","source":"/s"}"#
        )
        .await
        .unwrap()
        .status(),
        StatusCode::ACCEPTED
    );
    let get = Request::get("/prow/default").body(Body::empty()).unwrap();
    assert_eq!(
        app.clone().oneshot(get).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    let _ = BrokerKey::new("prow", "default");
}
