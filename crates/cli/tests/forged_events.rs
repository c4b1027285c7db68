//! Under `prow up` only hook may publish GitHub events: a forged issue_comment CloudEvent
//! POSTed straight to the broker ingress (what a test pod running PR code could do) is refused
//! and creates no ProwJob, while the same comment delivered to hook by GitHub runs the job.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use prow_kube::ProwJobs;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &[u8] = b"forged-events-secret";
const REPO: &str = "/repos/Codertocat/Hello-World";

/// Enough of GitHub for trigger to run `/test all` from a trusted commenter, and crier to report.
async fn github(pull: &Value) -> MockServer {
    let gh = MockServer::start().await;
    let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot", "id": 1})))
        .mount(&gh)
        .await;
    for p in [
        r"^/orgs/[^/]+/members/[^/]+$".to_string(),
        format!("^{REPO}/collaborators/[^/]+$"),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(p))
            .respond_with(ResponseTemplate::new(204))
            .mount(&gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/pulls/2$")))
        .respond_with(ok(pull.clone()))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/git/refs?/heads/master$")))
        .respond_with(ok(json!({"ref": "refs/heads/master", "object": {"sha": "0123456789abcdef0123456789abcdef01234567", "type": "commit"}})))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/pulls/2/files$")))
        .respond_with(ok(json!([{"filename": "README.md", "status": "modified"}])))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/issues/2/(comments|labels)$")))
        .respond_with(ok(json!([])))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!(
            "^{REPO}/(statuses/[0-9a-f]{{40}}|issues/2/comments)$"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&gh)
        .await;
    gh
}

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    common::start_up_hello(dir, github_url, SECRET, "['true']")
}

/// GitHub's issue_comment payload, made a `/test all` on pull request #2 by a trusted user.
fn test_all_comment() -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&prow_testdata::webhook("issue_comment.created.json"))
            .expect("payload");
    payload["issue"]["number"] = 2.into();
    payload["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
    payload["comment"]["body"] = "/test all".into();
    serde_json::to_vec(&payload).expect("json")
}

async fn job_count(api: &str) -> usize {
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    jobs.list(None).await.map(|j| j.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_comment_posted_to_the_broker_creates_nothing_but_hooks_does() {
    prow_kube::install_crypto_provider();
    let pull: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json")).expect("pr");
    let gh = github(&pull["pull_request"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let api = endpoints["api"].as_str().expect("api");
    let broker = format!(
        "{}/prow/default",
        endpoints["broker"].as_str().expect("broker")
    );
    let hook = endpoints["hook"].as_str().expect("hook");
    let body = test_all_comment();
    let http = reqwest::Client::new();

    // The CloudEvent hook would have published, sent by someone else: without a token, with a
    // guessed one.
    for (n, authorization) in [(1, None), (2, Some("Bearer guessed"))] {
        let mut forged = http
            .post(&broker)
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("forged-{n}"))
            .header("ce-type", "dev.prow.github.issue_comment")
            .header("ce-source", "https://github.com/Codertocat/Hello-World")
            .header("ce-action", "created")
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(value) = authorization {
            forged = forged.header("authorization", value);
        }
        let status = forged.send().await.expect("post to broker").status();
        assert!(
            status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN,
            "forged event {n} answered {status}"
        );
    }
    // Long enough for trigger to have created a job had the event been delivered (the hook
    // path below takes well under this).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(job_count(api).await, 0, "a forged event created a ProwJob");

    // The same comment from GitHub, through hook.
    let response = http
        .post(hook)
        .header("X-GitHub-Event", "issue_comment")
        .header("X-GitHub-Delivery", "real-delivery-1")
        .header("X-Hub-Signature-256", common::sign(SECRET, &body))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver to hook");
    assert!(
        response.status().is_success(),
        "hook answered {}",
        response.status()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while job_count(api).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(job_count(api).await, 1, "hook's comment ran the presubmit");
}
