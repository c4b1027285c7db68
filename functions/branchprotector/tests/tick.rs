//! Router tests: a PingSource tick in, the exact protection writes on a faked GitHub (wiremock)
//! out; on a dry run none at all.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prow_branchprotector::{BranchProtectorState, router};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_runtime::LiveConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONFIG: &str = r#"
prowjob_namespace: prow
branch-protection:
  allow_disabled_policies: true
  orgs:
    acme:
      protect: true
      enforce_admins: true
      exclude: ["^dependabot/"]
      required_status_checks:
        contexts: [cla]
      repos:
        foo:
          required_pull_request_reviews:
            required_approving_review_count: 1
          restrictions:
            teams: [release]
          branches:
            legacy:
              protect: false
        frozen:
          unmanaged: true
"#;

const JOBS: &str = r#"
presubmits:
  acme/foo:
  - name: unit
    always_run: true
    branches: [main]
    spec: {containers: [{image: golang}]}
  - name: docs
    run_if_changed: "^docs/"
    spec: {containers: [{image: golang}]}
  - name: lint
    always_run: true
    optional: true
    spec: {containers: [{image: golang}]}
"#;

struct Harness {
    github: MockServer,
    app: Router,
    _dir: tempfile::TempDir,
}

async fn harness(dry_run: bool, budget: usize) -> Harness {
    harness_with(CONFIG, dry_run, budget).await
}

async fn harness_with(config_yaml: &str, dry_run: bool, budget: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, config_yaml).unwrap();
    let jobs_path = dir.path().join("jobs.yaml");
    std::fs::write(&jobs_path, JOBS).unwrap();
    let config = LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path,
            job_config_path: Some(jobs_path),
            plugin_config_path: None,
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
    mount_github(&github).await;
    let mut state = BranchProtectorState::new(config, gh);
    state.dry_run = dry_run;
    state.budget = budget;
    Harness {
        github,
        app: router(state),
        _dir: dir,
    }
}

async fn get(gh: &MockServer, at: &str, status: u16, body: Value) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(gh)
        .await;
}

/// acme has foo (branches main, legacy, dependabot/x), frozen (unmanaged), and old
/// (archived). main is protected with only `cla` required, legacy is protected.
async fn mount_github(gh: &MockServer) {
    get(
        gh,
        "/orgs/acme/repos",
        200,
        json!([
            {"name": "foo", "full_name": "acme/foo", "archived": false, "private": false},
            {"name": "frozen", "full_name": "acme/frozen", "archived": false, "private": false},
            {"name": "old", "full_name": "acme/old", "archived": true, "private": false}
        ]),
    )
    .await;
    get(
        gh,
        "/repos/acme/foo/branches",
        200,
        json!([
            {"name": "main", "commit": {"sha": "a1"}, "protected": true},
            {"name": "legacy", "commit": {"sha": "b2"}, "protected": true},
            {"name": "dependabot/x", "commit": {"sha": "c3"}, "protected": false}
        ]),
    )
    .await;
    get(
        gh,
        "/repos/acme/foo/branches/main/protection",
        200,
        json!({
            "url": "https://api.github.com/repos/acme/foo/branches/main/protection",
            "required_status_checks": {"strict": false, "contexts": ["cla"], "checks": [{"context": "cla", "app_id": null}]},
            "enforce_admins": {"enabled": true},
            "required_linear_history": {"enabled": false},
            "allow_force_pushes": {"enabled": false},
            "allow_deletions": {"enabled": false}
        }),
    )
    .await;
    get(
        gh,
        "/repos/acme/foo/branches/legacy/protection",
        200,
        json!({
            "enforce_admins": {"enabled": false},
            "allow_force_pushes": {"enabled": true}
        }),
    )
    .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(gh)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(gh)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"enabled": true})))
        .mount(gh)
        .await;
}

async fn tick(app: &Router) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", "tick-1")
        .header("ce-type", prow_core::events::PING)
        .header(
            "ce-source",
            "/apis/v1/namespaces/prow/pingsources/branchprotector",
        )
        .header("content-type", "application/json")
        .body(Body::from(r#"{"message":"tick"}"#))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

/// Every request GitHub received, as `METHOD path` plus the JSON body of writes.
async fn requests(gh: &MockServer) -> Vec<(String, Option<Value>)> {
    gh.received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let body = (r.method.as_str() != "GET" && !r.body.is_empty())
                .then(|| serde_json::from_slice(&r.body).unwrap());
            (format!("{} {}", r.method, r.url.path()), body)
        })
        .collect()
}

#[tokio::test]
async fn a_tick_puts_the_merged_policy_and_removes_disabled_protection() {
    let h = harness(false, 100).await;
    assert_eq!(tick(&h.app).await, StatusCode::OK);
    let mut writes: Vec<_> = requests(&h.github)
        .await
        .into_iter()
        .filter(|(line, _)| !line.starts_with("GET"))
        .collect();
    writes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        writes,
        vec![
            (
                "DELETE /repos/acme/foo/branches/legacy/protection".to_owned(),
                None
            ),
            (
                "PUT /repos/acme/foo/branches/main/protection".to_owned(),
                Some(json!({
                    "required_status_checks": {"strict": false, "contexts": ["cla", "unit"]},
                    "enforce_admins": true,
                    "required_pull_request_reviews": {
                        "dismissal_restrictions": {},
                        "dismiss_stale_reviews": false,
                        "require_code_owner_reviews": false,
                        "required_approving_review_count": 1,
                        "bypass_pull_request_allowances": {}
                    },
                    "restrictions": {"users": [], "teams": ["release"]},
                    "required_linear_history": false,
                    "allow_force_pushes": false,
                    "allow_deletions": false
                }))
            ),
        ]
    );
    let reads: Vec<String> = requests(&h.github)
        .await
        .into_iter()
        .map(|(line, _)| line)
        .filter(|line| line.starts_with("GET"))
        .collect();
    // Excluded branches, archived and unmanaged repos are never read.
    assert!(
        !reads
            .iter()
            .any(|r| r.contains("dependabot") || r.contains("/old/") || r.contains("/frozen/")),
        "{reads:?}"
    );
    let metrics = h
        .app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(metrics.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for line in [
        "branchprotector_branches_checked_total 2",
        "branchprotector_branches_total{result=\"updated\"} 1",
        "branchprotector_branches_total{result=\"removed\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
}

#[tokio::test]
async fn require_signed_commits_is_posted_after_the_protection_is_put() {
    let config = CONFIG.replace(
        "        foo:\n",
        "        foo:\n          require_signed_commits: true\n",
    );
    assert_ne!(config, CONFIG);
    let h = harness_with(&config, false, 100).await;
    assert_eq!(tick(&h.app).await, StatusCode::OK);
    let writes: Vec<String> = requests(&h.github)
        .await
        .into_iter()
        .map(|(line, _)| line)
        .filter(|line| !line.starts_with("GET"))
        .collect();
    let put = writes
        .iter()
        .position(|w| w == "PUT /repos/acme/foo/branches/main/protection");
    let post = writes
        .iter()
        .position(|w| w == "POST /repos/acme/foo/branches/main/protection/required_signatures");
    assert!(
        matches!((put, post), (Some(p), Some(s)) if p < s),
        "{writes:?}"
    );
    // legacy loses its protection: no signature request for it.
    assert!(
        !writes
            .iter()
            .any(|w| w.contains("legacy/protection/required_signatures")),
        "{writes:?}"
    );
}

#[tokio::test]
async fn a_dry_run_reads_everything_and_writes_nothing() {
    let h = harness(true, 100).await;
    assert_eq!(tick(&h.app).await, StatusCode::OK);
    let all = requests(&h.github).await;
    assert!(
        all.iter().all(|(line, _)| line.starts_with("GET")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|(line, _)| line == "GET /repos/acme/foo/branches/main/protection"),
        "{all:?}"
    );
}

#[tokio::test]
async fn changes_over_the_budget_wait_for_the_next_tick() {
    let h = harness(false, 1).await;
    assert_eq!(tick(&h.app).await, StatusCode::OK);
    let writes = requests(&h.github)
        .await
        .into_iter()
        .filter(|(line, _)| !line.starts_with("GET"))
        .count();
    assert_eq!(writes, 1);
    let metrics = h
        .app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(metrics.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("branchprotector_branches_total{result=\"deferred\"} 1"),
        "{text}"
    );
}

/// Kubernetes' own `branch-protection:` (testdata, test-infra's config.yaml) planned for a
/// slice of the kubernetes org against a dry-run GitHub with nothing protected yet: the plan
/// is printed and its exact text checked.
#[tokio::test]
async fn kubernetes_config_plans_a_slice_of_the_kubernetes_org() {
    let dir = prow_testdata::testdata().join("prow/test-infra/config");
    let config = LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path: dir.join("prow/config.yaml"),
            job_config_path: Some(dir.join("jobs")),
            plugin_config_path: None,
        },
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let repo = |name: &str| prow_github::OrgRepo {
        name: name.to_owned(),
        archived: false,
        private: false,
    };
    let gh = prow_github::DryRunGitHub::new()
        .with_org_repos(
            "kubernetes",
            vec![repo("api"), repo("autoscaler"), repo("kubernetes")],
        )
        .with_branches("kubernetes", "api", ["master"])
        .with_branches("kubernetes", "autoscaler", ["master", "gh-pages"])
        .with_branches(
            "kubernetes",
            "kubernetes",
            ["master", "revert-1-x", "dependabot/y"],
        );
    let gh = Arc::new(gh);
    let mut state = BranchProtectorState::new(config, gh.clone());
    state.dry_run = true;
    let report = prow_branchprotector::tick(&state).await.unwrap();
    let plan = report.plan.concat();
    println!("{plan}");
    assert_eq!(report.failed, 0, "{report:?}");
    // gh-pages says protect: false and is not protected: left alone.
    assert_eq!(report.skipped, 1, "{report:?}");
    let headers: Vec<&str> = plan.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        headers,
        [
            "kubernetes/api=master: update",
            "kubernetes/autoscaler=master: update",
            "kubernetes/kubernetes=master: update",
        ]
    );
    assert!(plan.contains(
        "kubernetes/api=master: update\n  + allow_deletions: false\n  + allow_force_pushes: false\n  + enforce_admins: false\n  + required_linear_history: false\n  + required_status_checks.contexts: [EasyCLA]\n  + required_status_checks.strict: false\n  + restrictions.teams: [stage-bots]\n  + restrictions.users: []\n"
    ), "{plan}");
    assert!(
        plan.contains(
            "  + required_status_checks.contexts: [EasyCLA, Helm Docs, Helm chart, test, verify]\n"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("kubernetes/kubernetes=master: update\n  + allow_deletions: false\n  + allow_force_pushes: false\n  + enforce_admins: false\n  + required_linear_history: false\n  + required_status_checks.contexts: [EasyCLA]\n  + required_status_checks.strict: false\n  + restrictions.teams: []\n  + restrictions.users: []\n"),
        "{plan}"
    );
    assert!(gh.calls().iter().all(|c| !c.is_write()));
}
