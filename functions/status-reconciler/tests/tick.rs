//! Router tests: PingSource ticks in, against GitHub faked by wiremock (open PRs built from a
//! real `pull_request` webhook payload) and the embedded API server holding the ProwJobs and
//! the reconciler's ConfigMap. Each config change is served by a fresh router, as a new Knative
//! revision would be: nothing survives between ticks but the ConfigMap.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prow_core::prowjob::ProwJob;
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;
use prow_runtime::LiveConfig;
use prow_status_reconciler::store::{DATA_KEY, Store};
use prow_status_reconciler::{StatusReconcilerState, router};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NS: &str = "default";
const REPO: &str = "/repos/Codertocat/Hello-World";
const BASE: &str = "1111111111111111111111111111111111111111";

const CONFIG: &str = "prowjob_namespace: default\npod_namespace: test-pods\n";

/// Before: unit runs everywhere, lint reports as `ci/lint`, docs is manual.
const JOBS_BEFORE: &str = r#"
presubmits:
  Codertocat/Hello-World:
  - name: unit
    always_run: true
    spec: {containers: [{image: alpine}]}
  - name: lint
    context: ci/lint
    always_run: true
    spec: {containers: [{image: alpine}]}
  - name: docs
    spec: {containers: [{image: alpine}]}
"#;

/// After: e2e is new and required, lint is gone, docs is unchanged, and an optional job
/// appears (not triggered).
const JOBS_AFTER: &str = r#"
presubmits:
  Codertocat/Hello-World:
  - name: unit
    always_run: true
    spec: {containers: [{image: alpine}]}
  - name: e2e
    always_run: true
    branches: [master]
    spec: {containers: [{image: alpine}]}
  - name: docs
    spec: {containers: [{image: alpine}]}
  - name: extra
    always_run: true
    optional: true
    spec: {containers: [{image: alpine}]}
"#;

struct Harness {
    _api: LocalApi,
    client: kube::Client,
    github: MockServer,
    gh: Arc<dyn GitHub>,
    dir: tempfile::TempDir,
}

fn sha(n: u64) -> String {
    format!("{n:040x}")
}

/// The PR of `pull_request.opened.json` as GitHub lists it, as `number` by `author`.
fn pr(number: u64, author: &str, labels: &[&str], draft: bool) -> Value {
    let payload: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json")).unwrap();
    let mut p = payload["pull_request"].clone();
    p["number"] = json!(number);
    p["user"]["login"] = json!(author);
    p["head"]["sha"] = json!(sha(number));
    p["draft"] = json!(draft);
    p["labels"] = json!(
        labels
            .iter()
            .map(|l| json!({"name": l}))
            .collect::<Vec<_>>()
    );
    p
}

async fn harness() -> Harness {
    let api = LocalApi::start().await.unwrap();
    let client = api.client().unwrap();
    let github = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    // #7 by a member, #8 by an outsider, #9 by the outsider with ok-to-test, #10 a draft.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls")))
        .respond_with(ok(json!([
            pr(9, "mallory", &["ok-to-test"], false),
            pr(7, "alice", &[], false),
            pr(8, "mallory", &[], false),
            pr(10, "alice", &[], true),
        ])))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot"})))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/Codertocat/members/alice"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&github)
        .await;
    // mallory is neither a member nor a collaborator: wiremock answers 404 to both.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/master")))
        .respond_with(ok(
            json!({"ref": "refs/heads/master", "object": {"sha": BASE, "type": "commit"}}),
        ))
        .mount(&github)
        .await;
    // Every head has a failed ci/lint and a passed unit.
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/commits/[0-9a-f]+/status$")))
        .respond_with(ok(json!({
            "state": "failure",
            "statuses": [
                {"context": "ci/lint", "state": "failure", "description": "Job failed.", "target_url": "https://prow.example.com/lint"},
                {"context": "unit", "state": "success", "description": "Job succeeded."},
            ],
        })))
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
    Harness {
        _api: api,
        client,
        github,
        gh,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Harness {
    /// A fresh router serving `jobs`, spending at most `budget` GitHub calls per tick.
    fn app(&self, jobs: &str, budget: usize) -> Router {
        let config_path = self.dir.path().join("config.yaml");
        std::fs::write(&config_path, CONFIG).unwrap();
        let jobs_path = self.dir.path().join("jobs.yaml");
        std::fs::write(&jobs_path, jobs).unwrap();
        let config = prow_core::config::load(&prow_core::config::LoadOptions {
            config_path,
            job_config_path: Some(jobs_path),
            plugin_config_path: None,
        })
        .unwrap()
        .config;
        let mut state = StatusReconcilerState::new(
            LiveConfig::fixed(Arc::new(config)),
            self.client.clone(),
            self.gh.clone(),
        );
        state.budget = budget;
        router(state)
    }

    async fn prowjobs(&self) -> Vec<ProwJob> {
        let mut jobs = ProwJobs::new(self.client.clone(), NS)
            .list(None)
            .await
            .unwrap();
        jobs.sort_by_key(|pj| pj.spec.refs.as_ref().unwrap().pulls[0].number);
        jobs
    }

    /// The requests GitHub got, as `METHOD path`, and the status POST bodies.
    async fn github_log(&self) -> (Vec<String>, Vec<(String, Value)>) {
        let requests = self.github.received_requests().await.unwrap();
        let calls = requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect();
        let posts = requests
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| {
                (
                    r.url.path().to_owned(),
                    serde_json::from_slice(&r.body).unwrap(),
                )
            })
            .collect();
        (calls, posts)
    }
}

async fn tick(app: &Router) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", "ping-1")
        .header(
            "ce-source",
            "/apis/v1/namespaces/prow/pingsources/status-reconciler",
        )
        .header("ce-type", "dev.knative.sources.ping")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"tick":"status-reconciler"}"#))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn a_config_change_triggers_added_jobs_and_retires_removed_contexts_once() {
    let h = harness().await;

    // First tick: the current presubmits are stored, nothing is asked of GitHub.
    assert_eq!(tick(&h.app(JOBS_BEFORE, 1000)).await, StatusCode::OK);
    assert_eq!(h.github_log().await.0, Vec::<String>::new());
    assert!(h.prowjobs().await.is_empty());
    let (stored, _) = Store::new(h.client.clone(), NS, "status-reconciler")
        .load()
        .await
        .unwrap();
    let stored = stored.unwrap();
    assert_eq!(
        serde_json::to_value(&stored.presubmits).unwrap(),
        json!({"Codertocat/Hello-World": [
            {"name": "unit", "always_run": true},
            {"name": "lint", "context": "ci/lint", "always_run": true},
            {"name": "docs"},
        ]})
    );

    // The config changes: e2e is triggered on the trusted PRs that are not drafts, ci/lint is
    // retired on every open PR.
    let after = h.app(JOBS_AFTER, 1000);
    assert_eq!(tick(&after).await, StatusCode::OK);
    let jobs = h.prowjobs().await;
    let triggered: Vec<(String, u64, String)> = jobs
        .iter()
        .map(|pj| {
            let refs = pj.spec.refs.as_ref().unwrap();
            (
                pj.spec.job.clone(),
                refs.pulls[0].number,
                refs.base_sha.clone(),
            )
        })
        .collect();
    assert_eq!(
        triggered,
        [
            ("e2e".to_owned(), 7, BASE.to_owned()),
            ("e2e".to_owned(), 9, BASE.to_owned()),
        ]
    );
    let pj = &jobs[0];
    assert_eq!(pj.spec.context, "e2e");
    assert_eq!(pj.spec.refs.as_ref().unwrap().pulls[0].sha, sha(7));
    assert_eq!(pj.spec.refs.as_ref().unwrap().pulls[0].author, "alice");
    assert_eq!(pj.metadata.namespace.as_deref(), Some(NS));
    let (_, posts) = h.github_log().await;
    let retired: Vec<(String, Value)> = [7, 8, 9, 10]
        .iter()
        .map(|n| {
            (
                format!("{REPO}/statuses/{}", sha(*n)),
                json!({
                    "state": "success",
                    "context": "ci/lint",
                    "description": "Context retired without replacement.",
                }),
            )
        })
        .collect();
    assert_eq!(posts, retired);
    let calls_after_change = h.github_log().await.0.len();

    // The same tick again (a redelivery, or the next ping): nothing left to do.
    assert_eq!(tick(&after).await, StatusCode::OK);
    assert_eq!(h.prowjobs().await.len(), 2);
    assert_eq!(h.github_log().await.0.len(), calls_after_change);
    let metrics = after
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(metrics.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    for line in [
        "status_reconciler_ticks_total{outcome=\"ok\"} 2",
        "status_reconciler_actions_total{action=\"triggered\"} 2",
        "status_reconciler_actions_total{action=\"retired\"} 4",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
}

#[tokio::test]
async fn a_renamed_context_moves_its_status() {
    let h = harness().await;
    assert_eq!(tick(&h.app(JOBS_BEFORE, 1000)).await, StatusCode::OK);
    let renamed = JOBS_BEFORE.replace("context: ci/lint", "context: ci/lint-v2");
    assert_eq!(tick(&h.app(&renamed, 1000)).await, StatusCode::OK);
    let (_, posts) = h.github_log().await;
    let first: Vec<&Value> = posts
        .iter()
        .filter(|(p, _)| p.ends_with(&sha(7)))
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        first,
        [
            &json!({"state": "failure", "context": "ci/lint-v2", "description": "Job failed.", "target_url": "https://prow.example.com/lint"}),
            &json!({"state": "success", "context": "ci/lint", "description": "Context retired. Status moved to \"ci/lint-v2\"."}),
        ]
    );
    assert!(h.prowjobs().await.is_empty());
}

#[tokio::test]
async fn a_small_budget_spreads_the_work_over_ticks_without_repeating_it() {
    let h = harness().await;
    assert_eq!(tick(&h.app(JOBS_BEFORE, 1000)).await, StatusCode::OK);
    // Each PR may take 5 calls for the trigger and 2 for the retire; 10 leave room for the
    // PR list and one PR per tick.
    let after = h.app(JOBS_AFTER, 10);
    let mut ticks = 0;
    loop {
        assert_eq!(tick(&after).await, StatusCode::OK);
        ticks += 1;
        let (_, posts) = h.github_log().await;
        if posts.len() == 4 || ticks > 10 {
            break;
        }
    }
    assert!(ticks > 1, "one tick did it all: the budget was not applied");
    let (calls, posts) = h.github_log().await;
    // No status written twice, each PR listed once per tick, every job once.
    let mut paths: Vec<&String> = posts.iter().map(|(p, _)| p).collect();
    paths.dedup();
    assert_eq!(paths.len(), 4, "{posts:?}");
    assert_eq!(h.prowjobs().await.len(), 2);
    let lists = calls.iter().filter(|c| c.ends_with("/pulls")).count();
    assert_eq!(lists, ticks, "{calls:?}");
    // Done: one more tick has nothing to do.
    let before = calls.len();
    assert_eq!(tick(&after).await, StatusCode::OK);
    assert_eq!(h.github_log().await.0.len(), before);
}

#[tokio::test]
async fn a_budget_below_one_prs_cost_still_does_one_pr_per_tick() {
    let h = harness().await;
    assert_eq!(tick(&h.app(JOBS_BEFORE, 1000)).await, StatusCode::OK);
    let after = h.app(JOBS_AFTER, 1);
    for _ in 0..4 {
        assert_eq!(tick(&after).await, StatusCode::OK);
    }
    let (calls, posts) = h.github_log().await;
    assert_eq!(posts.len(), 4, "{calls:?}");
    assert_eq!(h.prowjobs().await.len(), 2);
}

#[tokio::test]
async fn a_stored_set_that_does_not_parse_fails_the_tick_and_is_left_alone() {
    let h = harness().await;
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(h.client.clone(), NS);
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "status-reconciler"},
        "data": {DATA_KEY: "not json"},
    }))
    .unwrap();
    api.create(&Default::default(), &cm).await.unwrap();
    assert_eq!(
        tick(&h.app(JOBS_AFTER, 1000)).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let kept = api.get("status-reconciler").await.unwrap();
    assert_eq!(kept.data.unwrap()[DATA_KEY], "not json");
    assert_eq!(h.github_log().await.0, Vec::<String>::new());
}

/// Kubernetes' whole job config as the reconciler stores it: it must fit in one ConfigMap
/// with room to grow.
#[test]
#[ignore = "needs PROW_CORPUS (the whole of Kubernetes' config)"]
fn corpus_kubernetes_presubmits_fit_in_one_configmap() {
    let dir = prow_testdata::corpus().join("prow/test-infra/config");
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path: dir.join("prow/config.yaml"),
        job_config_path: Some(dir.join("jobs")),
        plugin_config_path: None,
    })
    .unwrap()
    .config;
    let set = prow_status_reconciler::decide::remember(&config).unwrap();
    let jobs: usize = set.values().map(Vec::len).sum();
    let bytes = serde_json::to_string(&set).unwrap().len();
    println!(
        "{jobs} presubmits in {} repos stored in {bytes} bytes",
        set.len()
    );
    assert_eq!(jobs, 2261);
    assert!(bytes < 700 * 1024, "{bytes} bytes");
}
