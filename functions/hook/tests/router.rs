//! Router tests without a socket (`oneshot`): method, health, metrics, ping, dry run.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use prow_hook::secret::{HmacSecrets, sign};
use prow_hook::{Forward, HookState, SecretSource, router};
use tower::ServiceExt;

fn state() -> HookState {
    HookState::new(
        SecretSource::Static(Arc::new(HmacSecrets::parse(b"t0ken"))),
        Forward::DryRun,
    )
}

async fn send(state: &HookState, request: Request<Body>) -> (StatusCode, String) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn delivery(path: &str, event: &str, body: &'static [u8]) -> Request<Body> {
    Request::post(path)
        .header("x-github-event", event)
        .header("x-github-delivery", "d-1")
        .header("x-hub-signature-256", sign(b"t0ken", body))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn only_post_is_allowed_on_the_hook_paths() {
    let state = state();
    for path in ["/hook", "/"] {
        let (status, body) = send(&state, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(body, "405 Method not allowed");
    }
}

#[tokio::test]
async fn health_is_ok() {
    let (status, _) = send(
        &state(),
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ping_and_dry_run_deliveries_are_acknowledged_on_both_paths() {
    let state = state();
    let (status, body) = send(&state, delivery("/hook", "ping", br#"{"zen":"hi"}"#)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "Event received. Have a nice day.")
    );
    let (status, _) = send(
        &state,
        delivery("/", "push", br#"{"repository":{"full_name":"acme/foo"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_deliveries_by_event_and_outcome() {
    let state = state();
    send(&state, delivery("/hook", "push", br#"{"ref":"x"}"#)).await;
    let mut forged = delivery("/hook", "push", br#"{"ref":"x"}"#);
    forged.headers_mut().insert(
        "x-hub-signature-256",
        sign(b"wrong", b"{}").parse().unwrap(),
    );
    let (status, body) = send(&state, forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.starts_with("403 Forbidden: Invalid X-Hub-Signature-256"),
        "{body}"
    );
    send(&state, Request::post("/hook").body(Body::empty()).unwrap()).await;

    let (status, text) = send(
        &state,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        r#"hook_webhooks_total{event="push",outcome="accepted"} 1"#,
        r#"hook_webhooks_total{event="unverified",outcome="rejected_signature"} 1"#,
        r#"hook_webhooks_total{event="unverified",outcome="bad_request"} 1"#,
        "hook_request_duration_seconds_count 3",
        "hook_publish_attempts_total 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn payloads_over_githubs_25_mb_limit_are_refused_before_the_signature_check() {
    let body = vec![b' '; 25 * 1024 * 1024 + 1];
    let request = Request::post("/hook")
        .header("x-github-event", "push")
        .header("x-github-delivery", "d-1")
        .header("x-hub-signature-256", sign(b"t0ken", &body))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, text) = send(&state(), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text.starts_with("413"), "{text}");

    let at_limit = vec![b' '; 25 * 1024 * 1024];
    let request = Request::post("/hook")
        .header("x-github-event", "push")
        .header("x-github-delivery", "d-1")
        .header("x-hub-signature-256", sign(b"t0ken", &at_limit))
        .header("content-type", "application/json")
        .body(Body::from(at_limit))
        .unwrap();
    // Exactly 25 MB is read, then found to be (blank, hence invalid) JSON.
    assert_eq!(send(&state(), request).await.0, StatusCode::BAD_REQUEST);
}
