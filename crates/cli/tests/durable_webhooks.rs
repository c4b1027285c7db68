//! No acknowledged webhook is lost: 100 distinct signed pull_request webhooks are answered 2xx by
//! hook, `prow up` is killed with SIGKILL right after the last answer, and a `prow up` restarted
//! on the same state dir ends with exactly one ProwJob per webhook (none lost, none doubled).
//! GitHub never redelivers a webhook it saw answered 2xx, so the broker has to keep it.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prow_core::prowjob::ProwJob;
use prow_kube::ProwJobs;
use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WEBHOOKS: u64 = 100;
const SECRET: &[u8] = b"durable-webhooks-secret";
const BASE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "/repos/Codertocat/Hello-World";

/// Enough of GitHub for trigger (trust, base ref, PR files) and crier (statuses, comments).
async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let json = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(json(serde_json::json!({"login": "prow-bot", "id": 1})))
        .mount(&gh)
        .await;
    for (p, status) in [
        (r"^/orgs/[^/]+/members/[^/]+$".to_string(), 204),
        (format!("^{REPO}/collaborators/[^/]+$"), 204),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(p))
            .respond_with(ResponseTemplate::new(status))
            .mount(&gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/git/refs?/heads/master$")))
        .respond_with(json(serde_json::json!({"ref": "refs/heads/master", "object": {"sha": BASE_SHA, "type": "commit"}})))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/pulls/[0-9]+/files$")))
        .respond_with(json(
            serde_json::json!([{"filename": "README.md", "status": "modified"}]),
        ))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "^{REPO}/issues/[0-9]+/(comments|labels)$"
        )))
        .respond_with(json(serde_json::json!([])))
        .mount(&gh)
        .await;
    // crier comments on a PR whose job failed (e.g. its pod died with the first `prow up`).
    Mock::given(method("POST"))
        .and(path_regex(format!("^{REPO}/issues/[0-9]+/comments$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 1})))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{REPO}/statuses/[0-9a-f]{{40}}$")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"id": 1, "state": "pending"})),
        )
        .mount(&gh)
        .await;
    gh
}

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    common::start_up_hello(dir, github_url, SECRET, "['true']")
}

/// The real pull_request.opened payload, renumbered: PR `n` with its own head SHA.
fn webhook(template: &Value, n: u64) -> Vec<u8> {
    let mut payload = template.clone();
    payload["number"] = n.into();
    payload["pull_request"]["number"] = n.into();
    payload["pull_request"]["head"]["sha"] = format!("{n:040x}").into();
    serde_json::to_vec(&payload).expect("payload")
}

fn pull_number(pj: &ProwJob) -> Option<u64> {
    pj.spec
        .refs
        .as_ref()
        .and_then(|r| r.pulls.first())
        .map(|p| p.number)
}

async fn prowjobs(api: &str) -> Vec<ProwJob> {
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    jobs.list(None).await.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_answered_2xx_survive_kill_9_exactly_once() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let template: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json"))
            .expect("payload json");

    // First life: every webhook is answered 2xx, then SIGKILL at once.
    let (mut up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url").to_string();
    let http = reqwest::Client::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut sends = tokio::task::JoinSet::new();
    for n in 1..=WEBHOOKS {
        let (http, hook, limit) = (http.clone(), hook.clone(), limit.clone());
        let body = webhook(&template, n);
        sends.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            let response = http
                .post(&hook)
                .header("X-GitHub-Event", "pull_request")
                .header("X-GitHub-Delivery", format!("durable-delivery-{n}"))
                .header("X-Hub-Signature-256", common::sign(SECRET, &body))
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("deliver");
            (n, response.status())
        });
    }
    while let Some(sent) = sends.join_next().await {
        let (n, status) = sent.expect("sender");
        assert!(status.is_success(), "webhook {n} answered {status}");
    }
    up.0.kill().expect("SIGKILL prow up");
    let _ = up.0.wait();
    let killed = Instant::now();

    // Second life on the same state dir.
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let api = endpoints["api"].as_str().expect("api url");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut jobs = prowjobs(api).await;
    while (jobs.len() as u64) < WEBHOOKS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        jobs = prowjobs(api).await;
    }
    eprintln!(
        "{} ProwJobs {:.1}s after the restart",
        jobs.len(),
        killed.elapsed().as_secs_f64()
    );
    // Anything still owed would arrive now: give duplicates a chance to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let jobs = prowjobs(api).await;
    let mut pulls: Vec<u64> = jobs.iter().filter_map(pull_number).collect();
    pulls.sort_unstable();
    pulls.dedup();
    let lost = WEBHOOKS.saturating_sub(pulls.len() as u64);
    let duplicated = jobs.len() as u64 - pulls.len() as u64;
    eprintln!(
        "kill -9 after {WEBHOOKS} answered webhooks: {} ProwJobs, {lost} lost, {duplicated} duplicated",
        jobs.len()
    );
    assert_eq!((lost, duplicated), (0, 0));
    assert_eq!(jobs.len() as u64, WEBHOOKS);
    assert_eq!(pulls, (1..=WEBHOOKS).collect::<Vec<_>>());
    assert!(jobs.iter().all(|pj| pj.spec.job == "pull-hello-unit"));
}
