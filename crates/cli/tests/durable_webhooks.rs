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

const WEBHOOKS: u64 = 100;
const SECRET: &[u8] = b"durable-webhooks-secret";

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    common::start_up_hello(dir, github_url, SECRET, "['true']")
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
    let gh = common::hello_github().await;
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
        let body = common::renumbered_webhook(&template, n);
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
