//! Broker ingress over real HTTP on a loopback port, spoken to by an ordinary HTTP client.
#![allow(clippy::unwrap_used)]

mod support;

use prow_broker::{
    Broker, BrokerOptions, Manifests, SenderPolicy, guarded_ingress_router, ingress_router,
};
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

/// With a sender policy, a GitHub event without hook's token is refused (401, or 403 with a
/// wrong token) and never reaches trigger; the same event with the token is delivered, and
/// events of other types need no token.
#[tokio::test]
async fn forged_github_events_are_refused_and_not_delivered() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (routers, rec) = functions();
    let broker = Broker::new(
        &Manifests::load_dir(eventing_dir()).unwrap(),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/prow/default", listener.local_addr().unwrap());
    let router = guarded_ingress_router(
        broker.clone(),
        SenderPolicy::github_events_from("hook-token"),
    );
    let server = tokio::spawn(axum::serve(listener, router).into_future());
    let http = reqwest::Client::new();
    let post = |id: &str, ty: &str, authorization: Option<&str>| {
        let mut request = http
            .post(&url)
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-type", ty)
            .header("ce-source", "https://github.com/acme/widgets")
            .header("content-type", "application/json")
            .body(r#"{"comment":{"body":"/lgtm"}}"#);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    let comment = "dev.prow.github.issue_comment";
    assert_eq!(
        post("forged-1", comment, None).await.unwrap().status(),
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post("forged-2", comment, Some("Bearer guessed"))
            .await
            .unwrap()
            .status(),
        reqwest::StatusCode::FORBIDDEN
    );
    assert_eq!(
        post("from-hook", comment, Some("Bearer hook-token"))
            .await
            .unwrap()
            .status(),
        reqwest::StatusCode::ACCEPTED
    );
    assert_eq!(
        post("tick", "dev.knative.sources.ping", None)
            .await
            .unwrap()
            .status(),
        reqwest::StatusCode::ACCEPTED
    );
    eventually("hook's comment reaches trigger", || {
        rec["trigger"].count() >= 1
    })
    .await;
    // Deliveries are in arrival order, so had a forged event been accepted it would be here.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let ids: Vec<String> = rec["trigger"]
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| r.header("ce-id").map(str::to_string))
        .collect();
    assert_eq!(ids, vec!["from-hook"]);
    assert!(broker.shutdown().await);
    server.abort();
}
