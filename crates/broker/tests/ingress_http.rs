//! Broker ingress over real HTTP on a loopback port, spoken to by an ordinary HTTP client.
#![allow(clippy::unwrap_used)]

mod support;

use prow_broker::{Broker, BrokerOptions, Manifests, ingress_router};
use support::*;

#[tokio::test]
async fn events_posted_over_http_are_accepted_and_delivered() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (routers, rec) = functions();
    let broker = Broker::new(
        &Manifests::load_dir(eventing_dir()).unwrap(),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, ingress_router(broker.clone()))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let http = reqwest::Client::new();

    let accepted = http
        .post(format!("{base}/prow/default"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "delivery-1")
        .header("ce-type", "dev.prow.github.issue_comment")
        .header("ce-source", "https://github.com/acme/widgets")
        .header("ce-action", "created")
        .header("x-request-id", "req-7")
        .header("content-type", "application/json")
        .body(r#"{"comment":{"body":"/retest"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), reqwest::StatusCode::ACCEPTED);

    let structured = http
        .post(format!("{base}/prow/default"))
        .header("content-type", "application/cloudevents+json")
        .body(r#"{"specversion":"1.0","id":"tick-1","type":"dev.knative.sources.ping","source":"/apis/v1/namespaces/prow/pingsources/horologium","datacontenttype":"application/json","data":{"tick":1}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(structured.status(), reqwest::StatusCode::ACCEPTED);

    let malformed = http
        .post(format!("{base}/prow/default"))
        .header("ce-specversion", "1.0")
        .body("no id, type or source")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), reqwest::StatusCode::BAD_REQUEST);

    let unknown = http
        .post(format!("{base}/prow/nope"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "x")
        .header("ce-type", "t")
        .header("ce-source", "/s")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), reqwest::StatusCode::NOT_FOUND);

    eventually("trigger and horologium deliveries", || {
        rec["trigger"].count() == 1 && rec["horologium"].count() == 1
    })
    .await;
    let comment = rec["trigger"].last().unwrap();
    assert_eq!(comment.header("ce-id"), Some("delivery-1"));
    assert_eq!(comment.header("ce-action"), Some("created"));
    assert_eq!(
        comment.header("x-request-id"),
        Some("req-7"),
        "tracing headers pass through"
    );
    assert_eq!(&comment.body[..], br#"{"comment":{"body":"/retest"}}"#);
    // Structured in, binary out: the subscriber gets the data as the body.
    let tick = rec["horologium"].last().unwrap();
    assert_eq!(tick.header("ce-id"), Some("tick-1"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&tick.body).unwrap(),
        serde_json::json!({"tick": 1})
    );

    assert!(broker.shutdown().await);
    let refused = http
        .post(format!("{base}/prow/default"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "late")
        .header("ce-type", "dev.prow.github.push")
        .header("ce-source", "/s")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
