//! The plugins function under `prow up`: a signed `issue_comment` webhook with `/hold` and
//! `/assign` goes in at hook, the broker routes it by `eventing/` to plugins, and plugins labels
//! and assigns the PR on GitHub (a wiremock server speaking GitHub's REST shapes).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let mounts = [
        ("GET", "/user".to_owned(), ok(json!({"login": "prow-bot", "id": 1}))),
        ("GET", format!("{REPO}/issues/2/labels"), ok(json!([]))),
        ("GET", format!("{REPO}/issues/2/comments"), ok(json!([]))),
        ("POST", format!("{REPO}/issues/2/labels"), ok(json!([]))),
        (
            "POST",
            format!("{REPO}/issues/2/assignees"),
            ResponseTemplate::new(201).set_body_json(
                json!({"number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "alice"}]}),
            ),
        ),
    ];
    for (verb, p, answer) in mounts {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    gh
}

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    let config = dir.join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    common::write(&config.join("jobs/none.yaml"), "presubmits: {}\n");
    common::write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [hold, assign]\n",
    );
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(b"plugins-secret\n"),
            ..common::UpOptions::default()
        },
    )
}

/// The corpus comment, moved onto PR #2 and written by `alice`.
fn hold_comment() -> Vec<u8> {
    let mut p: Value =
        serde_json::from_slice(&prow_testdata::webhook("issue_comment.created.json"))
            .unwrap_or_default();
    p["issue"]["number"] = json!(2);
    p["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
    p["comment"]["user"]["login"] = json!("alice");
    p["comment"]["body"] = json!("/hold\n/assign");
    serde_json::to_vec(&p).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_comment_through_prow_up_labels_and_assigns_the_pr() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");
    let body = hold_comment();
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", "issue_comment")
        .header("X-GitHub-Delivery", "plugins-delivery-1")
        .header(
            "X-Hub-Signature-256",
            common::sign(b"plugins-secret", &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let deadline = Instant::now() + Duration::from_secs(60);
    let writes = loop {
        let writes: Vec<String> = gh
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| format!("{} {}", r.url.path(), String::from_utf8_lossy(&r.body)))
            .collect();
        if writes.len() >= 2 || Instant::now() > deadline {
            break writes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        writes,
        [
            format!("{REPO}/issues/2/assignees {{\"assignees\":[\"alice\"]}}"),
            format!("{REPO}/issues/2/labels {{\"labels\":[\"do-not-merge/hold\"]}}"),
        ]
    );
}
