//! Router tests: a PingSource tick in, against a faked GitHub (wiremock) listing two hooks'
//! deliveries; out, exactly the redelivery requests the lists call for.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use chrono::{TimeDelta, Utc};
use http::{Request, StatusCode};
use prow_github::{Credentials, GitHub, Hook, OctocrabGitHub, RetryPolicy};
use prow_redelivery::{RedeliveryState, router};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO_HOOK: &str = "/repos/acme/widgets/hooks/42/deliveries";
const ORG_HOOK: &str = "/orgs/acme/hooks/7/deliveries";

/// One attempt as GitHub lists it, `minutes` before now.
fn attempt(id: u64, guid: &str, minutes: f64, code: u16, redelivery: bool) -> Value {
    // Whole seconds: GitHub's timestamps have no fractions.
    let seconds = (minutes * 60.0).round() as i64;
    let at = (Utc::now() - TimeDelta::seconds(seconds)).format("%Y-%m-%dT%H:%M:%SZ");
    json!({"id": id, "guid": guid, "delivered_at": at.to_string(), "redelivery": redelivery,
           "duration": 0.3, "status": "", "status_code": code, "event": "pull_request",
           "action": "synchronize", "installation_id": null, "repository_id": 1})
}

fn page(body: Value, next: Option<String>) -> ResponseTemplate {
    let answer = ResponseTemplate::new(200).set_body_json(body);
    match next {
        Some(link) => answer.insert_header("link", format!("<{link}>; rel=\"next\"").as_str()),
        None => answer,
    }
}

/// The repository hook lists, newest first over two pages (a third is never needed):
/// A delivered; B failed 10 minutes ago; C failed, was redelivered 20 minutes ago and failed
/// again; D failed and was redelivered with success; E failed 30 hours ago (outside the
/// window). The org hook lists F failing 30 seconds ago (inside the backoff) and G failing
/// 50 minutes ago, whose redelivery GitHub refuses with 422.
async fn fake_github() -> MockServer {
    let gh = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPO_HOOK))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(
            json!([
                attempt(101, "A", 2.0, 200, false),
                attempt(102, "B", 10.0, 503, false),
                attempt(103, "C", 20.0, 0, true),
                attempt(85, "D", 25.0, 200, true),
            ]),
            Some(format!("{}{REPO_HOOK}?per_page=100&cursor=p2", gh.uri())),
        ))
        .expect(1)
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path(REPO_HOOK))
        .and(query_param("cursor", "p2"))
        .respond_with(page(
            json!([
                attempt(80, "D", 30.0, 500, false),
                attempt(90, "C", 40.0, 500, false),
                attempt(70, "E", 30.0 * 60.0, 500, false),
            ]),
            Some(format!("{}{REPO_HOOK}?per_page=100&cursor=p3", gh.uri())),
        ))
        .expect(1)
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path(REPO_HOOK))
        .and(query_param("cursor", "p3"))
        .respond_with(page(json!([]), None))
        .expect(0)
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path(ORG_HOOK))
        .respond_with(page(
            json!([
                attempt(201, "F", 0.5, 500, false),
                attempt(202, "G", 50.0, 502, false),
            ]),
            None,
        ))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ORG_HOOK}/202/attempts")))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(json!({"message": "Validation Failed"})),
        )
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .mount(&gh)
        .await;
    gh
}

fn state(gh: &MockServer, hooks: &[&str]) -> RedeliveryState {
    let github: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(gh.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    RedeliveryState::new(
        github,
        hooks.iter().map(|h| h.parse::<Hook>().unwrap()).collect(),
    )
}

async fn tick(app: &Router) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", "tick-1")
        .header("ce-type", prow_core::events::PING)
        .header(
            "ce-source",
            "/apis/v1/namespaces/prow/pingsources/redelivery",
        )
        .header("content-type", "application/json")
        .body(Body::from(r#"{"tick":"redelivery"}"#))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

/// The redelivery requests GitHub received, in order.
async fn redeliveries(gh: &MockServer) -> Vec<String> {
    gh.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method == http::Method::POST)
        .map(|r| r.url.path().to_owned())
        .collect()
}

async fn metrics(app: &Router) -> String {
    let response = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_tick_redelivers_exactly_the_failed_events_oldest_first_and_answers_ok() {
    let gh = fake_github().await;
    let app = router(state(&gh, &["acme/widgets:42", "acme:7"]));
    assert_eq!(tick(&app).await, StatusCode::OK);
    assert_eq!(
        redeliveries(&gh).await,
        [
            // G (first failed 50 minutes ago), then C (40) on its latest attempt, then B (10).
            format!("{ORG_HOOK}/202/attempts"),
            format!("{REPO_HOOK}/103/attempts"),
            format!("{REPO_HOOK}/102/attempts"),
        ]
    );
    let text = metrics(&app).await;
    for line in [
        "redelivery_events_total{verdict=\"delivered\"} 2",
        "redelivery_events_total{verdict=\"redeliver\"} 3",
        "redelivery_events_total{verdict=\"waiting\"} 1",
        "redelivery_events_total{verdict=\"expired\"} 1",
        "redelivery_requests_total{outcome=\"ok\"} 2",
        "redelivery_requests_total{outcome=\"failed\"} 1",
        "redelivery_ticks_total{outcome=\"ok\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
}

#[tokio::test]
async fn the_per_tick_bound_takes_the_oldest_event_and_the_next_tick_the_rest() {
    let gh = fake_github().await;
    let mut limited = state(&gh, &["acme/widgets:42", "acme:7"]);
    limited.policy.max_per_tick = 1;
    let report = prow_redelivery::tick(&limited).await.unwrap();
    assert_eq!(
        report.redelivered,
        Vec::<u64>::new(),
        "G's redelivery was refused"
    );
    assert_eq!((report.failed, report.deferred), (1, 2), "{report:?}");
    assert_eq!(
        redeliveries(&gh).await,
        [format!("{ORG_HOOK}/202/attempts")]
    );
}

#[tokio::test]
async fn a_dry_run_lists_and_decides_but_sends_no_redelivery() {
    let gh = fake_github().await;
    let mut dry = state(&gh, &["acme/widgets:42", "acme:7"]);
    dry.github = Arc::new(prow_github::ReadOnlyGitHub::new(dry.github.clone()));
    dry.dry_run = true;
    let report = prow_redelivery::tick(&dry).await.unwrap();
    assert_eq!(report.redelivered, [202, 103, 102]);
    assert!(redeliveries(&gh).await.is_empty());
}

#[tokio::test]
async fn no_listable_hook_fails_the_tick_so_the_broker_redelivers_it() {
    let gh = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&gh)
        .await;
    let app = router(state(&gh, &["acme:9"]));
    assert_eq!(tick(&app).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(redeliveries(&gh).await.is_empty());
}
