//! What the router tests share: a plugins router over a wiremock GitHub, real webhook payloads,
//! and the writes GitHub saw.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use base64::Engine as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_plugins::{PluginsState, router};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const REPO: &str = "/repos/Codertocat/Hello-World";

pub const PLUGINS: &str = "plugins:\n  Codertocat:\n    plugins: [hold, assign, lgtm, trigger]\n\
    lgtm:\n- repos: [Codertocat/Hello-World]\n  review_acts_as_lgtm: true\n  store_tree_hash: true\n";

pub struct Harness {
    pub github: MockServer,
    pub app: Router,
}

pub async fn harness(plugins_yaml: &str) -> Harness {
    harness_with_jobs(plugins_yaml, None).await
}

/// A harness whose config also has `jobs_yaml` as its job config.
pub async fn harness_with_jobs(plugins_yaml: &str, jobs_yaml: Option<&str>) -> Harness {
    let (config, github, gh) = parts(plugins_yaml, jobs_yaml).await;
    Harness {
        github,
        app: router(PluginsState::new(Arc::new(config), gh)),
    }
}

/// As [`harness_with_jobs`], creating ProwJobs in an embedded API server (namespace `default`).
pub async fn harness_with_prowjobs(
    plugins_yaml: &str,
    jobs_yaml: &str,
) -> (Harness, prow_kube::test_support::LocalApi) {
    let (config, github, gh) = parts(plugins_yaml, Some(jobs_yaml)).await;
    let api = prow_kube::test_support::LocalApi::start().await.unwrap();
    let prowjobs = prow_kube::ProwJobs::new(api.client().unwrap(), "default");
    let state = PluginsState::new(Arc::new(config), gh).with_prowjobs(Arc::new(prowjobs));
    (
        Harness {
            github,
            app: router(state),
        },
        api,
    )
}

async fn parts(
    plugins_yaml: &str,
    jobs_yaml: Option<&str>,
) -> (prow_core::config::Config, MockServer, Arc<dyn GitHub>) {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, "prowjob_namespace: default\n").unwrap();
    let plugins_path = dir.path().join("plugins.yaml");
    std::fs::write(&plugins_path, plugins_yaml).unwrap();
    let job_config_path = jobs_yaml.map(|jobs| {
        let p = dir.path().join("jobs.yaml");
        std::fs::write(&p, jobs).unwrap();
        p
    });
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path,
        job_config_path,
        plugin_config_path: Some(plugins_path),
    })
    .unwrap()
    .config;
    let github = MockServer::start().await;
    mock_reads(&github).await;
    let gh: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(github.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    (config, github, gh)
}

/// Every call GitHub saw, as `METHOD path`, in order.
pub async fn calls(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

pub fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// `prow-bot` is us; `alice` is a collaborator, `mallory` is not; PR #2's head tree is `tree-1`.
pub async fn mock_reads(server: &MockServer) {
    let mounts = [
        ("GET", "/user".to_owned(), ok(json!({"login": "prow-bot"}))),
        ("GET", format!("{REPO}/collaborators/alice"), ResponseTemplate::new(204)),
        ("GET", format!("{REPO}/collaborators/mallory"), ResponseTemplate::new(404)),
        (
            "GET",
            format!("{REPO}/git/trees/ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            ok(json!({"sha": "tree-1", "tree": [], "truncated": false})),
        ),
        (
            "POST",
            format!("{REPO}/issues/2/comments"),
            ResponseTemplate::new(201).set_body_json(
                json!({"id": 99, "user": {"login": "prow-bot"}, "body": "x", "html_url": "https://x"}),
            ),
        ),
        ("POST", format!("{REPO}/issues/2/labels"), ok(json!([]))),
        ("DELETE", format!("{REPO}/issues/2/labels/lgtm"), ok(json!([]))),
        ("DELETE", format!("{REPO}/issues/2/labels/do-not-merge%2Fhold"), ok(json!([]))),
    ];
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2")))
        .respond_with(ok(json!({
            "number": 2, "state": "open", "title": "t", "user": {"login": "Codertocat"}, "html_url": "https://x",
            "head": {"ref": "changes", "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
            "base": {"ref": "master", "sha": "b"}
        })))
        .mount(server)
        .await;
    for (verb, p, answer) in mounts {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(server)
            .await;
    }
}

pub async fn mock_labels(server: &MockServer, labels: &[&str]) {
    let body: Vec<Value> = labels.iter().map(|l| json!({"name": l})).collect();
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/labels")))
        .respond_with(ok(json!(body)))
        .mount(server)
        .await;
}

pub async fn mock_comments(server: &MockServer, comments: Value) {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .respond_with(ok(comments))
        .mount(server)
        .await;
}

pub fn payload(file: &str) -> Value {
    serde_json::from_slice(&prow_testdata::webhook(file)).unwrap()
}

/// `commenter` comments `body` on PR #2 (the corpus comment is on an issue).
pub fn pr_comment(commenter: &str, body: &str) -> Value {
    let mut p = payload("issue_comment.created.json");
    p["issue"]["number"] = json!(2);
    p["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
    p["issue"]["user"]["login"] = json!("Codertocat");
    p["comment"]["user"]["login"] = json!(commenter);
    p["comment"]["body"] = json!(body);
    p
}

pub async fn send(app: &Router, event: &str, id: &str, data: &Value) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-source", "https://github.com/Codertocat/Hello-World")
        .header("ce-type", format!("dev.prow.github.{event}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(data).unwrap()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

/// Every call that changes GitHub, as `METHOD path body`.
pub async fn writes(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| {
            format!(
                "{} {} {}",
                r.method,
                r.url.path(),
                String::from_utf8_lossy(&r.body)
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

/// Standard base64 with padding, as GitHub's contents API sends it.
pub fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}
