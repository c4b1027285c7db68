//! Event-sequence replays: real GitHub webhook payloads and ProwJob changes as CloudEvents into
//! tide's router, the index and ProwJobs in the embedded API server, GitHub faked by wiremock.
//! Each test asserts what GitHub was asked (statuses with Prow's descriptions, merges with the
//! expected head) and which ProwJobs tide created.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prow_core::prowjob::{ProwJob, ProwJobSpec, ProwJobState, ProwJobType, Pull, Refs};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;
use prow_tide::{Clock, TideState, router};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NS: &str = "default";
const REPO: &str = "/repos/Codertocat/Hello-World";
const BASE1: &str = "1111111111111111111111111111111111111111";
const BASE2: &str = "2222222222222222222222222222222222222222";
/// The head of PR #2 in `pull_request.opened.json`.
const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

const CONFIG: &str = r#"
prowjob_namespace: default
pod_namespace: test-pods
tide:
  queries:
  - repos: [Codertocat/Hello-World]
    labels: [lgtm, approved]
    missingLabels: [do-not-merge/hold]
  merge_commit_template:
    Codertocat/Hello-World:
      title: "{{.Title}} (#{{.Number}})"
presubmits:
  Codertocat/Hello-World:
  - name: pull-hello-unit
    always_run: true
    spec:
      containers:
      - image: alpine:3
        command: ["true"]
  - name: pull-hello-lint
    always_run: true
    optional: true
    spec:
      containers:
      - image: alpine:3
        command: ["true"]
"#;

struct Harness {
    _api: LocalApi,
    client: kube::Client,
    github: MockServer,
    prowjobs: ProwJobs,
    app: Router,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let api = LocalApi::start().await.unwrap();
    let client = api.client().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path,
        job_config_path: None,
        plugin_config_path: None,
    })
    .unwrap()
    .config;
    let github = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/master")))
        .respond_with(ok(
            json!({"ref": "refs/heads/master", "object": {"sha": BASE1, "type": "commit"}}),
        ))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{REPO}/statuses/[0-9a-f]+$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&github)
        .await;
    let gh: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(github.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    let state = TideState::new(Arc::new(config), client.clone(), gh)
        .with_clock(Clock::fixed(
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        ))
        .with_deck_url("https://prow.example.com")
        .with_merge_backoff(Duration::ZERO);
    Harness {
        _api: api,
        client: client.clone(),
        github,
        prowjobs: ProwJobs::new(client, NS),
        app: router(state),
        _dir: dir,
    }
}

async fn mock_merge(h: &Harness, number: u64, status: u16, body: Value) {
    Mock::given(method("PUT"))
        .and(path(format!("{REPO}/pulls/{number}/merge")))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&h.github)
        .await;
}

fn payload(file: &str) -> Value {
    serde_json::from_slice(&prow_testdata::webhook(file)).unwrap()
}

/// PR #2 of the corpus as a `pull_request` event with `labels`; `number`/`head` vary it.
fn pr_event(action: &str, number: u64, head: &str, labels: &[&str]) -> Value {
    let mut p = payload("pull_request.opened.json");
    p["action"] = json!(action);
    p["number"] = json!(number);
    p["pull_request"]["number"] = json!(number);
    p["pull_request"]["head"]["sha"] = json!(head);
    p["pull_request"]["labels"] = json!(
        labels
            .iter()
            .map(|l| json!({"name": l}))
            .collect::<Vec<_>>()
    );
    p
}

async fn send(app: &Router, ty: &str, id: &str, data: &Value) -> StatusCode {
    let mut req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", ty)
        .header("ce-source", "https://github.com/Codertocat/Hello-World")
        .header("content-type", "application/json");
    if ty.starts_with("dev.knative.apiserver") {
        req = req.header("ce-kind", "ProwJob");
    }
    let resp = app
        .clone()
        .oneshot(
            req.body(Body::from(serde_json::to_vec(data).unwrap()))
                .unwrap(),
        )
        .await
        .unwrap();
    resp.status()
}

async fn github_event(h: &Harness, event: &str, id: &str, data: &Value) {
    let status = send(&h.app, &format!("dev.prow.github.{event}"), id, data).await;
    assert_eq!(status, StatusCode::OK, "{event} {id}");
}

/// A presubmit of `pull-hello-unit` for PR `number` at `head` on `base`, as trigger creates
/// it, stored in the API server and announced as the ApiServerSource would.
async fn job_finished(
    h: &Harness,
    name: &str,
    number: u64,
    head: &str,
    base: &str,
    state: ProwJobState,
) {
    let mut refs = Refs::new("Codertocat", "Hello-World");
    refs.base_ref = "master".into();
    refs.base_sha = base.into();
    refs.pulls = vec![Pull::new(number, "Codertocat", head)];
    let spec = ProwJobSpec {
        type_: ProwJobType::Presubmit,
        job: "pull-hello-unit".into(),
        context: "pull-hello-unit".into(),
        report: true,
        refs: Some(refs),
        ..ProwJobSpec::default()
    };
    let labels =
        prow_core::jobspec::labels_and_annotations(&spec, &Default::default(), &Default::default());
    let mut pj = ProwJob::new(name, spec);
    pj.metadata.labels = Some(labels.labels);
    pj.status.state = state;
    let stored = match h.prowjobs.create(&pj).await.unwrap() {
        prow_kube::Created::New(stored) => stored,
        prow_kube::Created::Existing => h
            .prowjobs
            .update_status(name, |j: &mut ProwJob| {
                j.status.state = state;
                true
            })
            .await
            .unwrap()
            .unwrap(),
    };
    let status = send(
        &h.app,
        "dev.knative.apiserver.resource.update",
        &format!("pj-{name}-{state:?}"),
        &serde_json::to_value(&stored).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// Updates a job tide created and announces it.
async fn finish(h: &Harness, pj: &ProwJob, state: ProwJobState) {
    let stored = h
        .prowjobs
        .update_status(pj.name(), |j: &mut ProwJob| {
            j.status.state = state;
            true
        })
        .await
        .unwrap()
        .unwrap();
    let status = send(
        &h.app,
        "dev.knative.apiserver.resource.update",
        &format!("pj-{}", pj.name()),
        &serde_json::to_value(&stored).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// The `tide` statuses GitHub was sent for `sha`, in order: (state, description).
async fn tide_statuses(h: &Harness, sha: &str) -> Vec<(String, String, String)> {
    h.github
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == format!("{REPO}/statuses/{sha}"))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["context"], "tide");
            (
                body["state"].as_str().unwrap().to_owned(),
                body["description"].as_str().unwrap_or_default().to_owned(),
                body["target_url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn merges(h: &Harness) -> Vec<(String, Value)> {
    h.github
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path().ends_with("/merge"))
        .map(|r| {
            (
                r.url.path().to_owned(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect()
}

async fn tide_jobs(h: &Harness) -> Vec<ProwJob> {
    h.prowjobs.list(Some("created-by-tide=true")).await.unwrap()
}

fn last(statuses: &[(String, String, String)]) -> (&str, &str) {
    let (s, d, _) = statuses.last().unwrap();
    (s.as_str(), d.as_str())
}

#[tokio::test]
async fn a_pr_merges_once_its_job_passed_and_it_got_lgtm_and_approved() {
    let h = harness().await;
    mock_merge(
        &h,
        2,
        200,
        json!({"sha": BASE2, "merged": true, "message": "Pull Request successfully merged"}),
    )
    .await;

    github_event(
        &h,
        "pull_request",
        "opened",
        &pr_event("opened", 2, HEAD, &[]),
    )
    .await;
    let statuses = tide_statuses(&h, HEAD).await;
    assert_eq!(
        last(&statuses),
        ("pending", "Not mergeable. Needs approved, lgtm labels.")
    );
    assert_eq!(statuses[0].2, "https://prow.example.com/tide");

    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Success).await;
    github_event(
        &h,
        "pull_request",
        "lgtm",
        &pr_event("labeled", 2, HEAD, &["lgtm"]),
    )
    .await;
    assert_eq!(
        last(&tide_statuses(&h, HEAD).await),
        ("pending", "Not mergeable. Needs approved label.")
    );
    assert!(merges(&h).await.is_empty());

    github_event(
        &h,
        "pull_request",
        "approved",
        &pr_event("labeled", 2, HEAD, &["lgtm", "approved"]),
    )
    .await;
    assert_eq!(
        last(&tide_statuses(&h, HEAD).await),
        ("success", "In merge pool.")
    );
    let merged = merges(&h).await;
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].0, format!("{REPO}/pulls/2/merge"));
    assert_eq!(merged[0].1["sha"], HEAD);
    assert_eq!(merged[0].1["merge_method"], "merge");
    assert_eq!(
        merged[0].1["commit_title"],
        format!(
            "{} (#2)",
            payload("pull_request.opened.json")["pull_request"]["title"]
                .as_str()
                .unwrap()
        )
    );

    // Redelivered and late events about the merged PR merge nothing again.
    github_event(
        &h,
        "pull_request",
        "approved",
        &pr_event("labeled", 2, HEAD, &["lgtm", "approved"]),
    )
    .await;
    let mut closed = pr_event("closed", 2, HEAD, &["lgtm", "approved"]);
    closed["pull_request"]["state"] = json!("closed");
    closed["pull_request"]["merged"] = json!(true);
    github_event(&h, "pull_request", "closed", &closed).await;
    assert_eq!(merges(&h).await.len(), 1);
    assert!(tide_jobs(&h).await.is_empty());
}

#[tokio::test]
async fn when_the_base_moves_the_pool_pr_is_retested_against_it_then_merged() {
    let h = harness().await;
    mock_merge(
        &h,
        2,
        200,
        json!({"sha": "3333333333333333333333333333333333333333", "merged": true}),
    )
    .await;
    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Pending).await;
    github_event(
        &h,
        "pull_request",
        "opened",
        &pr_event("labeled", 2, HEAD, &["lgtm", "approved"]),
    )
    .await;
    // Someone pushes to master before the job finished.
    let mut push = payload("push.json");
    push["ref"] = json!("refs/heads/master");
    push["after"] = json!(BASE2);
    push["deleted"] = json!(false);
    github_event(&h, "push", "push-1", &push).await;
    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Success).await;
    assert!(
        merges(&h).await.is_empty(),
        "a result for the old base does not merge"
    );
    let retests = tide_jobs(&h).await;
    assert_eq!(retests.len(), 1, "{retests:?}");
    let retest = &retests[0];
    assert_eq!(retest.spec.type_, ProwJobType::Presubmit);
    assert_eq!(retest.spec.job, "pull-hello-unit");
    let refs = retest.spec.refs.as_ref().unwrap();
    assert_eq!(refs.base_sha, BASE2);
    assert_eq!(refs.pulls[0].sha, HEAD);
    assert_eq!(
        last(&tide_statuses(&h, HEAD).await),
        ("pending", "Not mergeable. Retesting: pull-hello-unit")
    );

    // The same event again creates no second retest.
    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Success).await;
    assert_eq!(tide_jobs(&h).await.len(), 1);

    finish(&h, retest, ProwJobState::Success).await;
    let merged = merges(&h).await;
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].1["sha"], HEAD);
}

#[tokio::test]
async fn a_new_commit_or_a_hold_keeps_the_pr_out_of_the_pool() {
    let h = harness().await;
    mock_merge(&h, 2, 200, json!({"sha": BASE2, "merged": true})).await;
    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Success).await;
    github_event(
        &h,
        "pull_request",
        "held",
        &pr_event(
            "labeled",
            2,
            HEAD,
            &["lgtm", "approved", "do-not-merge/hold"],
        ),
    )
    .await;
    assert_eq!(
        last(&tide_statuses(&h, HEAD).await),
        (
            "pending",
            "Not mergeable. Should not have do-not-merge/hold label."
        )
    );
    // A new commit arrives while held: its job has not run.
    let new_head = "4444444444444444444444444444444444444444";
    github_event(
        &h,
        "pull_request",
        "sync",
        &pr_event(
            "synchronize",
            2,
            new_head,
            &["lgtm", "approved", "do-not-merge/hold"],
        ),
    )
    .await;
    github_event(
        &h,
        "pull_request",
        "unhold",
        &pr_event("unlabeled", 2, new_head, &["lgtm", "approved"]),
    )
    .await;
    assert_eq!(
        last(&tide_statuses(&h, new_head).await),
        (
            "pending",
            "Not mergeable. Job pull-hello-unit has not succeeded."
        )
    );
    assert!(merges(&h).await.is_empty());
    // Its job passes: now it merges, at the new head.
    job_finished(&h, "unit-2", 2, new_head, BASE1, ProwJobState::Success).await;
    let merged = merges(&h).await;
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].1["sha"], new_head);
}

#[tokio::test]
async fn pool_prs_tested_on_an_old_base_are_batched_and_merged_together() {
    let h = harness().await;
    let head3 = "5555555555555555555555555555555555555555";
    mock_merge(
        &h,
        2,
        200,
        json!({"sha": "6666666666666666666666666666666666666666", "merged": true}),
    )
    .await;
    mock_merge(
        &h,
        3,
        200,
        json!({"sha": "7777777777777777777777777777777777777777", "merged": true}),
    )
    .await;
    // Both passed on an older base; master is at BASE1 now.
    job_finished(
        &h,
        "unit-2",
        2,
        HEAD,
        "0000000000000000000000000000000000000000",
        ProwJobState::Success,
    )
    .await;
    job_finished(
        &h,
        "unit-3",
        3,
        head3,
        "0000000000000000000000000000000000000000",
        ProwJobState::Success,
    )
    .await;
    github_event(
        &h,
        "pull_request",
        "pr2",
        &pr_event("labeled", 2, HEAD, &["lgtm", "approved"]),
    )
    .await;
    github_event(
        &h,
        "pull_request",
        "pr3",
        &pr_event("labeled", 3, head3, &["lgtm", "approved"]),
    )
    .await;
    let created = tide_jobs(&h).await;
    let batch: Vec<&ProwJob> = created
        .iter()
        .filter(|j| j.spec.type_ == ProwJobType::Batch)
        .collect();
    assert_eq!(batch.len(), 1, "{created:?}");
    let pulls: Vec<(u64, &str)> = batch[0]
        .spec
        .refs
        .as_ref()
        .unwrap()
        .pulls
        .iter()
        .map(|p| (p.number, p.sha.as_str()))
        .collect();
    assert_eq!(pulls, vec![(2, HEAD), (3, head3)]);
    assert_eq!(batch[0].spec.refs.as_ref().unwrap().base_sha, BASE1);
    assert!(merges(&h).await.is_empty());

    let batch = batch[0].clone();
    finish(&h, &batch, ProwJobState::Success).await;
    let merged: Vec<String> = merges(&h).await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        merged,
        vec![
            format!("{REPO}/pulls/2/merge"),
            format!("{REPO}/pulls/3/merge")
        ]
    );
}

#[tokio::test]
async fn a_pr_that_changed_under_the_merge_is_not_merged_and_the_failure_is_recorded() {
    let h = harness().await;
    mock_merge(
        &h,
        2,
        409,
        json!({"message": "Head branch was modified. Review and try the merge again."}),
    )
    .await;
    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Success).await;
    github_event(
        &h,
        "pull_request",
        "ready",
        &pr_event("labeled", 2, HEAD, &["lgtm", "approved"]),
    )
    .await;
    assert_eq!(merges(&h).await.len(), 1);
    let index = prow_tide::store::IndexStore::kube(h.client.clone(), NS)
        .load("Codertocat", "Hello-World")
        .await
        .unwrap()
        .index;
    let history = &index.history["master"];
    let record = history.last().unwrap();
    assert_eq!(record.action, "MERGE");
    assert_eq!(record.targets, vec![(2, HEAD.to_owned())]);
    assert!(
        record
            .err
            .starts_with("failed merging [2]: #2: PR was modified: Head branch was modified"),
        "{}",
        record.err
    );
    assert!(
        index.prs.contains_key(&2),
        "an unmerged PR stays in the index"
    );
}

#[tokio::test]
async fn base_branch_modified_is_retried_as_prow_does() {
    let h = harness().await;
    Mock::given(method("PUT"))
        .and(path(format!("{REPO}/pulls/2/merge")))
        .respond_with(ResponseTemplate::new(405).set_body_json(
            json!({"message": "Base branch was modified. Review and try the merge again."}),
        ))
        .up_to_n_times(1)
        .mount(&h.github)
        .await;
    mock_merge(&h, 2, 200, json!({"sha": BASE2, "merged": true})).await;
    job_finished(&h, "unit-1", 2, HEAD, BASE1, ProwJobState::Success).await;
    github_event(
        &h,
        "pull_request",
        "ready",
        &pr_event("labeled", 2, HEAD, &["lgtm", "approved"]),
    )
    .await;
    assert_eq!(merges(&h).await.len(), 2);
}

#[tokio::test]
async fn the_tick_rebuilds_the_pool_from_github() {
    let h = harness().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(ok(json!({"total_count": 1, "incomplete_results": false, "items": [{
            "number": 2, "title": "t", "repository_url": "https://api.github.com/repos/Codertocat/Hello-World",
            "labels": [], "user": {"login": "Codertocat"}, "state": "open", "html_url": "",
            "pull_request": {"url": "x"}}]})))
        .mount(&h.github)
        .await;
    let pr = pr_event("opened", 2, HEAD, &["lgtm", "approved"])["pull_request"].clone();
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2")))
        .respond_with(ok(pr))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/commits/{HEAD}/status")))
        .respond_with(ok(json!({"state": "success", "statuses": [
            {"context": "pull-hello-unit", "state": "success", "description": "Job succeeded."}]})))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/commits/{HEAD}/check-runs")))
        .respond_with(ok(json!({"total_count": 1, "check_runs": [
            {"name": "external-ci", "status": "completed", "conclusion": "failure", "head_sha": HEAD}]})))
        .mount(&h.github)
        .await;
    let status = send(&h.app, "dev.knative.sources.ping", "tick-1", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        last(&tide_statuses(&h, HEAD).await),
        (
            "pending",
            "Not mergeable. Job external-ci has not succeeded."
        )
    );
    assert!(merges(&h).await.is_empty());
}

#[tokio::test]
async fn repos_outside_every_query_are_left_alone() {
    let h = harness().await;
    let mut other = pr_event("opened", 2, HEAD, &["lgtm", "approved"]);
    other["repository"]["name"] = json!("Other");
    github_event(&h, "pull_request", "other", &other).await;
    assert!(h.github.received_requests().await.unwrap().is_empty());
    let status = send(&h.app, "dev.prow.github.status", "bad", &json!({"sha": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
