//! needs-rebase and cherrypicker under `prow up`: signed webhooks go in at hook, the broker routes
//! them by `eventing/` to each function, and each makes its GitHub calls on a wiremock GitHub.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const SECRET: &[u8] = b"external-secret\n";

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    let config = dir.join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    common::write(&config.join("jobs/none.yaml"), "presubmits: {}\n");
    common::write(
        &config.join("plugins.yaml"),
        "external_plugins:\n  Codertocat/Hello-World:\n  - name: needs-rebase\n  - name: cherrypicker\n",
    );
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(SECRET),
            ..common::UpOptions::default()
        },
    )
}

async fn deliver(hook: &str, event: &str, delivery: &str, body: Vec<u8>) {
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header(
            "X-Hub-Signature-256",
            common::sign(SECRET.trim_ascii(), &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Waits until GitHub received `n` writes to `paths` (method and path), and returns them.
async fn writes_to(gh: &MockServer, paths: &[String], n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let writes: Vec<String> = gh
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() != "GET" && paths.iter().any(|p| p == r.url.path()))
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect();
        if writes.len() >= n || Instant::now() > deadline {
            return writes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_rebase_labels_a_conflicting_pr_through_prow_up() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    for (verb, p, answer) in [
        ("GET", "/user".to_owned(), ok(json!({"login": "prow-bot"}))),
        (
            "GET",
            format!("{REPO}/pulls/2"),
            ok(json!({
                "number": 2, "state": "open", "title": "t", "mergeable": false,
                "user": {"login": "Codertocat"}, "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
                "head": {"ref": "changes", "sha": "aaaa"}, "base": {"ref": "master", "sha": "bbbb"}, "labels": []
            })),
        ),
        ("GET", format!("{REPO}/issues/2/comments"), ok(json!([]))),
        (
            "POST",
            format!("{REPO}/issues/2/comments"),
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 3, "user": {"login": "prow-bot"}, "body": ""})),
        ),
        (
            "POST",
            format!("{REPO}/issues/2/labels"),
            ok(json!([{"name": "needs-rebase"}])),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");
    deliver(
        hook,
        "pull_request",
        "sync-1",
        prow_testdata::webhook("pull_request.synchronize.json"),
    )
    .await;
    let paths = [
        format!("{REPO}/issues/2/comments"),
        format!("{REPO}/issues/2/labels"),
    ];
    assert_eq!(
        writes_to(&gh, &paths, 2).await,
        [
            format!("POST {REPO}/issues/2/comments"),
            format!("POST {REPO}/issues/2/labels"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cherrypicker_acknowledges_a_request_on_an_open_pr_through_prow_up() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    for (verb, p, answer) in [
        ("GET", "/user".to_owned(), ok(json!({"login": "prow-bot"}))),
        (
            "GET",
            "/orgs/Codertocat/members/alice".to_owned(),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            format!("{REPO}/pulls/2"),
            ok(json!({
                "number": 2, "state": "open", "title": "t", "merged": false,
                "user": {"login": "Codertocat"}, "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
                "head": {"ref": "changes", "sha": "aaaa"}, "base": {"ref": "master", "sha": "bbbb"}, "labels": []
            })),
        ),
        ("GET", format!("{REPO}/issues/2/comments"), ok(json!([]))),
        (
            "POST",
            format!("{REPO}/issues/2/comments"),
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 3, "user": {"login": "prow-bot"}, "body": ""})),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");
    let mut comment: Value =
        serde_json::from_slice(&prow_testdata::webhook("issue_comment.created.json"))
            .expect("payload");
    comment["issue"]["number"] = json!(2);
    comment["issue"]["state"] = json!("open");
    comment["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
    comment["comment"]["user"]["login"] = json!("alice");
    comment["comment"]["body"] = json!("/cherrypick release-1");
    deliver(
        hook,
        "issue_comment",
        "cherry-1",
        serde_json::to_vec(&comment).expect("json"),
    )
    .await;
    let paths = [format!("{REPO}/issues/2/comments")];
    assert_eq!(
        writes_to(&gh, &paths, 1).await,
        [format!("POST {REPO}/issues/2/comments")]
    );
    let posted: Vec<String> = gh
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(
        posted[0].contains("@alice: once the present PR merges, I will cherry-pick it on top of `release-1` in a new PR and assign it to you."),
        "{posted:?}"
    );
}
