//! The first milestone, end to end on `prow up`: a signed GitHub webhook goes in at hook, trigger
//! creates a ProwJob, plank starts its pod, the local kubelet runs it, plank records success, and
//! crier reports the status to GitHub (a wiremock server speaking GitHub's REST shapes).

mod common;

use std::path::Path;
use std::time::Duration;

use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_kube::ProwJobs;
use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BASE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let repo = "/repos/Codertocat/Hello-World";
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"login": "prow-bot", "id": 1})),
        )
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/orgs/[^/]+/members/[^/]+$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/collaborators/[^/]+$")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/git/refs?/heads/master$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ref": "refs/heads/master", "object": {"sha": BASE_SHA, "type": "commit"}})))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/pulls/2/files$")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!([{"filename": "README.md", "status": "modified"}]),
            ),
        )
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/issues/2/comments$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/issues/2/labels$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{repo}/statuses/[0-9a-f]{{40}}$")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"id": 1, "state": "pending"})),
        )
        .mount(&gh)
        .await;
    gh
}

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    common::start_up_hello(
        dir,
        github_url,
        b"end-to-end-secret\n",
        "[sh, -c, 'echo hello from $JOB_NAME at $PULL_PULL_SHA']",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_webhook_runs_its_presubmit_and_reports_to_github() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");
    let api = endpoints["api"].as_str().expect("api url");

    let body = prow_testdata::webhook("pull_request.opened.json");
    let http = reqwest::Client::new();
    let send = || {
        http.post(hook)
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", "e2e-delivery-1")
            .header(
                "X-Hub-Signature-256",
                common::sign(b"end-to-end-secret", &body),
            )
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    };
    let response = send().await.expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    let done: ProwJob = common::wait_for(
        "the presubmit to succeed",
        Duration::from_secs(120),
        async || {
            let list = jobs.list(None).await.ok()?;
            list.into_iter().find(|pj| {
                pj.spec.job == "pull-hello-unit" && pj.status.state == ProwJobState::Success
            })
        },
    )
    .await;
    assert_eq!(
        done.spec
            .refs
            .as_ref()
            .and_then(|r| r.pulls.first())
            .map(|p| p.number),
        Some(2)
    );
    assert!(done.status.completion_time.is_some());

    // crier reported the final state on the PR's head commit.
    let status: Value = common::wait_for(
        "a success status on GitHub",
        Duration::from_secs(60),
        async || {
            let requests = gh.received_requests().await?;
            requests
                .iter()
                .filter(|r| r.method.as_str() == "POST" && r.url.path().contains("/statuses/"))
                .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
                .find(|b| b["state"] == "success")
        },
    )
    .await;
    assert_eq!(status["context"], "pull-hello-unit");

    // A redelivery of the same webhook creates nothing new.
    assert_eq!(send().await.expect("redeliver").status(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let runs = jobs
        .list(None)
        .await
        .expect("list")
        .into_iter()
        .filter(|pj| pj.spec.job == "pull-hello-unit")
        .count();
    assert_eq!(runs, 1);
}
