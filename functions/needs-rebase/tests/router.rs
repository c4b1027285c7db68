//! Router tests: real `pull_request.synchronize` and `push` payloads and a PingSource tick as
//! CloudEvents in, the exact GitHub calls (wiremock) out.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_needs_rebase::{NeedsRebaseState, router};
use prow_runtime::LiveConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const PLUGINS: &str = "external_plugins:\n  Codertocat/Hello-World:\n  - name: needs-rebase\n    endpoint: http://needs-rebase\n";

struct Harness {
    github: MockServer,
    app: Router,
    _dir: tempfile::TempDir,
}

async fn harness(plugins: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, "prowjob_namespace: prow\n").unwrap();
    let plugins_path = dir.path().join("plugins.yaml");
    std::fs::write(&plugins_path, plugins).unwrap();
    let config = LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path,
            job_config_path: None,
            plugin_config_path: Some(plugins_path),
        },
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let github = MockServer::start().await;
    let gh: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(github.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "prow-bot"})))
        .mount(&github)
        .await;
    Harness {
        github,
        app: router(NeedsRebaseState::new(config, gh)),
        _dir: dir,
    }
}

fn pr(number: u64, mergeable: Value, labels: &[&str]) -> Value {
    json!({
        "number": number, "state": "open", "title": "t", "mergeable": mergeable,
        "user": {"login": "Codertocat"}, "html_url": format!("https://github.com/Codertocat/Hello-World/pull/{number}"),
        "head": {"ref": "feature", "sha": "aaaa"}, "base": {"ref": "master", "sha": "bbbb"},
        "labels": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
    })
}

async fn mount_pr(
    gh: &MockServer,
    number: u64,
    mergeable: Value,
    labels: &[&str],
    comments: Value,
) {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/{number}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pr(number, mergeable, labels)))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/{number}/comments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(comments))
        .mount(gh)
        .await;
}

async fn mount_writes(gh: &MockServer) {
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(r"/issues/\d+/labels$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"name": "needs-rebase"}])))
        .mount(gh)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 77, "user": {"login": "prow-bot"}, "body": ""})),
        )
        .mount(gh)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(gh)
        .await;
}

async fn send(app: &Router, ty: &str, data: &Value) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", "delivery-1")
        .header("ce-type", ty)
        .header("ce-source", "https://github.com/Codertocat/Hello-World")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(data).unwrap()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

/// The writes GitHub received, as `METHOD path body`.
async fn writes(gh: &MockServer) -> Vec<String> {
    gh.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let body = match &body {
                Value::Object(o) if o.contains_key("body") => {
                    json!(o["body"].as_str().unwrap_or_default().lines().next())
                }
                other => other.clone(),
            };
            format!("{} {} {body}", r.method, r.url.path())
        })
        .collect()
}

fn synchronize() -> Value {
    serde_json::from_slice(&prow_testdata::webhook("pull_request.synchronize.json")).unwrap()
}

#[tokio::test]
async fn a_conflicting_pr_is_commented_once_and_labelled() {
    let h = harness(PLUGINS).await;
    mount_pr(&h.github, 2, json!(false), &[], json!([])).await;
    mount_writes(&h.github).await;
    assert_eq!(
        send(&h.app, "dev.prow.github.pull_request", &synchronize()).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/comments \"PR needs rebase.\""),
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"needs-rebase\"]}}"),
        ]
    );
}

#[tokio::test]
async fn a_fixed_pr_loses_the_label_and_our_stale_comment() {
    let h = harness(PLUGINS).await;
    let ours = prow_needs_rebase::decide::comment_for("Codertocat");
    mount_pr(
        &h.github,
        2,
        json!(true),
        &["needs-rebase", "lgtm"],
        json!([
            {"id": 11, "user": {"login": "prow-bot"}, "body": ours},
            {"id": 12, "user": {"login": "alice"}, "body": "PR needs rebase. Indeed."},
        ]),
    )
    .await;
    mount_writes(&h.github).await;
    assert_eq!(
        send(&h.app, "dev.prow.github.pull_request", &synchronize()).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("DELETE {REPO}/issues/2/labels/needs-rebase null"),
            format!("DELETE {REPO}/issues/comments/11 null"),
        ]
    );
}

#[tokio::test]
async fn unknown_mergeability_asks_for_redelivery_and_writes_nothing() {
    let h = harness(PLUGINS).await;
    mount_pr(&h.github, 2, Value::Null, &[], json!([])).await;
    mount_writes(&h.github).await;
    assert_eq!(
        send(&h.app, "dev.prow.github.pull_request", &synchronize()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(writes(&h.github).await.is_empty());
}

#[tokio::test]
async fn repos_without_the_external_plugin_are_left_alone() {
    let h = harness("external_plugins:\n  Codertocat/Other:\n  - name: needs-rebase\n").await;
    assert_eq!(
        send(&h.app, "dev.prow.github.pull_request", &synchronize()).await,
        StatusCode::OK
    );
    let calls = h.github.received_requests().await.unwrap();
    assert!(calls.is_empty(), "{calls:?}");
}

#[tokio::test]
async fn a_push_to_a_branch_rechecks_its_open_prs() {
    let h = harness(PLUGINS).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls")))
        .and(query_param("state", "open"))
        .and(query_param("base", "master"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            pr(2, Value::Null, &[]),
            pr(3, Value::Null, &["needs-rebase"]),
        ])))
        .mount(&h.github)
        .await;
    mount_pr(&h.github, 2, json!(false), &[], json!([])).await;
    mount_pr(&h.github, 3, json!(false), &["needs-rebase"], json!([])).await;
    mount_writes(&h.github).await;
    let mut push: Value = serde_json::from_slice(&prow_testdata::webhook("push.json")).unwrap();
    push["ref"] = json!("refs/heads/master");
    assert_eq!(
        send(&h.app, "dev.prow.github.push", &push).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/comments \"PR needs rebase.\""),
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"needs-rebase\"]}}"),
        ]
    );
    // A tag push changes no branch.
    push["ref"] = json!("refs/tags/v1");
    let before = h.github.received_requests().await.unwrap().len();
    assert_eq!(
        send(&h.app, "dev.prow.github.push", &push).await,
        StatusCode::OK
    );
    assert_eq!(h.github.received_requests().await.unwrap().len(), before);
}

#[tokio::test]
async fn a_tick_searches_the_enabled_repos_and_fixes_each_pr() {
    let h = harness(PLUGINS).await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(query_param(
            "q",
            "archived:false is:pr is:open repo:\"Codertocat/Hello-World\"",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 3, "incomplete_results": false,
            "items": [
                {"number": 2, "repository_url": "https://api.github.com/repos/Codertocat/Hello-World", "pull_request": {"url": "x"}, "labels": []},
                {"number": 3, "repository_url": "https://api.github.com/repos/Codertocat/Hello-World", "pull_request": {"url": "x"}, "labels": [{"name": "needs-rebase"}]},
                {"number": 4, "repository_url": "https://api.github.com/repos/Codertocat/Hello-World", "pull_request": {"url": "x"}, "labels": []},
            ]
        })))
        .mount(&h.github)
        .await;
    mount_pr(&h.github, 2, json!(false), &[], json!([])).await;
    mount_pr(&h.github, 3, json!(true), &["needs-rebase"], json!([])).await;
    // Still computing: left for the next tick, which does not fail this one.
    mount_pr(&h.github, 4, Value::Null, &[], json!([])).await;
    mount_writes(&h.github).await;
    assert_eq!(
        send(
            &h.app,
            "dev.knative.sources.ping",
            &json!({"tick": "needs-rebase"})
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/comments \"PR needs rebase.\""),
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"needs-rebase\"]}}"),
            format!("DELETE {REPO}/issues/3/labels/needs-rebase null"),
        ]
    );
}
