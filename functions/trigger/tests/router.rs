//! Router tests: real GitHub webhook payloads as CloudEvents in, ProwJobs in the embedded API server out, GitHub faked by wiremock.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;
use prow_trigger::{Clock, TriggerState, router};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NS: &str = "default";
const ORG_REPO: &str = "/repos/Codertocat/Hello-World";
const BASE_SHA: &str = "1111111111111111111111111111111111111111";

const CONFIG: &str = r#"
prowjob_namespace: default
pod_namespace: test-pods
presubmits:
  Codertocat/Hello-World:
  - name: pull-hello-unit
    always_run: true
    spec:
      containers:
      - image: alpine:3
        command: ["true"]
  - name: pull-hello-docs
    run_if_changed: '^docs/'
    spec:
      containers:
      - image: alpine:3
        command: ["true"]
  - name: pull-hello-manual
    optional: true
    spec:
      containers:
      - image: alpine:3
        command: ["true"]
postsubmits:
  Codertocat/Hello-World:
  - name: post-hello-all
    spec:
      containers:
      - image: alpine:3
        command: ["true"]
"#;

struct Harness {
    _api: LocalApi,
    github: MockServer,
    prowjobs: ProwJobs,
    app: Router,
    _dir: tempfile::TempDir,
}

/// Trigger enabled for the Codertocat org, which the payloads come from.
const PLUGINS: &str =
    "plugins:\n  Codertocat:\n    plugins: [trigger]\ntriggers:\n- repos: [Codertocat]\n";

async fn harness() -> Harness {
    harness_with(PLUGINS).await
}

async fn harness_with(plugins_yaml: &str) -> Harness {
    harness_config(CONFIG, plugins_yaml).await
}

async fn harness_config(config_yaml: &str, plugins_yaml: &str) -> Harness {
    let api = LocalApi::start().await.unwrap();
    let client = api.client().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, config_yaml).unwrap();
    let plugins_path = dir.path().join("plugins.yaml");
    std::fs::write(&plugins_path, plugins_yaml).unwrap();
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path,
        job_config_path: None,
        plugin_config_path: Some(plugins_path),
    })
    .unwrap()
    .config;
    let github = MockServer::start().await;
    mock_github_reads(&github).await;
    let gh: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(github.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    let state = TriggerState::new(Arc::new(config), client.clone(), gh).with_clock(Clock::fixed(
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    ));
    Harness {
        _api: api,
        github,
        prowjobs: ProwJobs::new(client, NS),
        app: router(state),
        _dir: dir,
    }
}

/// Who is who: `prow-bot` is us, `alice` is an org member, `mallory` is nobody.
async fn mock_github_reads(server: &MockServer) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot"})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/Codertocat/members/alice"))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/Codertocat/members/mallory"))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/collaborators/mallory")))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/git/ref/heads/master")))
        .respond_with(ok(
            json!({"ref": "refs/heads/master", "object": {"sha": BASE_SHA, "type": "commit"}}),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2/files")))
        .respond_with(ok(
            json!([{"filename": "src/main.rs", "status": "modified"}]),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ORG_REPO}/issues/2/comments")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 99, "user": {"login": "prow-bot"}, "body": "x", "html_url": "https://x"
        })))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ORG_REPO}/issues/2/labels")))
        .respond_with(ok(json!([])))
        .mount(server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{ORG_REPO}/issues/2/labels/needs-ok-to-test")))
        .respond_with(ok(json!([])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/issues/2/comments")))
        .respond_with(ok(json!([])))
        .mount(server)
        .await;
}

async fn mock_labels(server: &MockServer, labels: &[&str]) {
    let body: Vec<Value> = labels.iter().map(|l| json!({"name": l})).collect();
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/issues/2/labels")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

fn payload(file: &str) -> Value {
    serde_json::from_slice(&prow_testdata::webhook(file)).unwrap()
}

/// The opened PR payload with `author` as the PR's author.
fn pr_opened(author: &str) -> Value {
    let mut p = payload("pull_request.opened.json");
    p["pull_request"]["user"]["login"] = json!(author);
    p
}

/// A comment by `commenter` on PR #2 (the corpus comments are on an issue).
fn pr_comment(commenter: &str, body: &str, pr_author: &str) -> Value {
    let mut p = payload("issue_comment.created.json");
    p["issue"]["number"] = json!(2);
    p["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
    p["issue"]["user"]["login"] = json!(pr_author);
    p["comment"]["user"]["login"] = json!(commenter);
    p["comment"]["body"] = json!(body);
    p
}

async fn send(app: &Router, ty: &str, id: &str, action: Option<&str>, data: &Value) -> StatusCode {
    let mut req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", ty)
        .header("ce-source", "https://github.com/Codertocat/Hello-World")
        .header("content-type", "application/json");
    if let Some(action) = action {
        req = req.header("ce-action", action);
    }
    let resp = app
        .clone()
        .oneshot(
            req.body(Body::from(serde_json::to_vec(data).unwrap()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    if status.is_success() {
        assert!(
            body.is_empty(),
            "a done delivery answers with an empty body"
        );
    }
    status
}

async fn jobs(h: &Harness) -> Vec<ProwJob> {
    let mut jobs = h.prowjobs.list(None).await.unwrap();
    jobs.sort_by(|a, b| a.spec.job.cmp(&b.spec.job));
    jobs
}

fn names(jobs: &[ProwJob]) -> Vec<&str> {
    jobs.iter().map(|j| j.spec.job.as_str()).collect()
}

async fn writes(server: &MockServer, verb: &str, suffix: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().ends_with(suffix))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn trusted_pr_opened_creates_presubmits_once() {
    let h = harness().await;
    let ev = pr_opened("alice");
    for _ in 0..2 {
        let status = send(
            &h.app,
            "dev.prow.github.pull_request",
            "d-1",
            Some("opened"),
            &ev,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let jobs = jobs(&h).await;
    // docs only runs when docs/ changed; the manual job only on request.
    assert_eq!(names(&jobs), vec!["pull-hello-unit"]);
    let pj = &jobs[0];
    let labels = pj.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["prow.k8s.io/type"], "presubmit");
    assert_eq!(labels["prow.k8s.io/refs.org"], "Codertocat");
    assert_eq!(labels["prow.k8s.io/refs.repo"], "Hello-World");
    assert_eq!(labels["prow.k8s.io/refs.pull"], "2");
    assert_eq!(labels["event-GUID"], "d-1");
    assert_eq!(labels["prow.k8s.io/is-optional"], "false");
    let refs = pj.spec.refs.as_ref().unwrap();
    assert_eq!(refs.base_sha, BASE_SHA);
    assert_eq!(refs.base_ref, "master");
    assert_eq!(
        refs.pulls[0].sha,
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    );
    assert_eq!(refs.pulls[0].author, "alice");
    assert_eq!(pj.status.state, ProwJobState::Triggered);
    assert_eq!(pj.spec.namespace, "test-pods");
    assert_eq!(
        pj.name(),
        prow_core::naming::prowjob_name(&["d-1", "pull-hello-unit"])
    );
}

#[tokio::test]
async fn untrusted_author_waits_for_ok_to_test_from_a_member() {
    let h = harness().await;
    mock_labels(&h.github, &[]).await;
    let status = send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-open",
        Some("opened"),
        &pr_opened("mallory"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(jobs(&h).await.is_empty(), "untrusted PRs get no jobs");
    let labels = writes(&h.github, "POST", "/issues/2/labels").await;
    assert_eq!(labels.len(), 1);
    assert!(labels[0].contains("needs-ok-to-test"), "{labels:?}");
    let comments = writes(&h.github, "POST", "/issues/2/comments").await;
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains("Hi @mallory. Thanks for your PR."));

    // mallory cannot test her own PR.
    let pr = {
        let mut pr = payload("pull_request.opened.json")["pull_request"].clone();
        pr["user"]["login"] = json!("mallory");
        pr["mergeable"] = json!(true);
        pr
    };
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pr))
        .mount(&h.github)
        .await;
    let status = send(
        &h.app,
        "dev.prow.github.issue_comment",
        "d-self",
        Some("created"),
        &pr_comment("mallory", "/test all", "mallory"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(jobs(&h).await.is_empty());
    let comments = writes(&h.github, "POST", "/issues/2/comments").await;
    assert!(comments[1].contains("Cannot trigger testing until a trusted user reviews the PR"));

    // A member says /ok-to-test: labels swap and the /test all jobs run.
    h.github.reset().await;
    mock_github_reads(&h.github).await;
    mock_labels(&h.github, &["needs-ok-to-test"]).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2")))
        .respond_with(ResponseTemplate::new(200).set_body_json({
            let mut pr = payload("pull_request.opened.json")["pull_request"].clone();
            pr["user"]["login"] = json!("mallory");
            pr
        }))
        .mount(&h.github)
        .await;
    let status = send(
        &h.app,
        "dev.prow.github.issue_comment",
        "d-ok",
        Some("created"),
        &pr_comment("alice", "/ok-to-test", "mallory"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&jobs(&h).await), vec!["pull-hello-unit"]);
    assert!(writes(&h.github, "POST", "/issues/2/labels").await[0].contains("\"ok-to-test\""));
    assert_eq!(
        writes(&h.github, "DELETE", "/issues/2/labels/needs-ok-to-test")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn test_commands_retest_and_help() {
    let h = harness().await;
    mock_labels(&h.github, &[]).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(payload("pull_request.opened.json")["pull_request"].clone()),
        )
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{ORG_REPO}/commits/ec26c3e57ca3a959ca5aad62de7213c562f8c821/status"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "state": "failure", "total_count": 1,
            "statuses": [{"context": "pull-hello-unit", "state": "failure"}]
        })))
        .mount(&h.github)
        .await;
    let comment = |id: &str, body: &str| {
        let (id, body) = (id.to_owned(), body.to_owned());
        let app = h.app.clone();
        async move {
            send(
                &app,
                "dev.prow.github.issue_comment",
                &id,
                Some("created"),
                &pr_comment("alice", &body, "Codertocat"),
            )
            .await
        }
    };
    assert_eq!(
        comment("c-1", "/test pull-hello-manual").await,
        StatusCode::OK
    );
    assert_eq!(names(&jobs(&h).await), vec!["pull-hello-manual"]);

    assert_eq!(comment("c-2", "/retest").await, StatusCode::OK);
    let all = jobs(&h).await;
    let retested: Vec<&ProwJob> = all
        .iter()
        .filter(|j| j.metadata.labels.as_ref().unwrap()["event-GUID"] == "c-2")
        .collect();
    assert_eq!(retested.len(), 1);
    assert_eq!(retested[0].spec.job, "pull-hello-unit");
    assert_eq!(
        retested[0].metadata.labels.as_ref().unwrap()["prow.k8s.io/retest"],
        "true"
    );

    // Quoted commands do nothing; unknown targets get the list of commands.
    assert_eq!(
        comment("c-3", "> /test pull-hello-manual").await,
        StatusCode::OK
    );
    assert_eq!(comment("c-4", "/test nope").await, StatusCode::OK);
    assert_eq!(jobs(&h).await.len(), 2);
    let comments = writes(&h.github, "POST", "/issues/2/comments").await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("The specified target(s) for `/test` were not found."));
    assert!(comments[0].contains("/test pull-hello-unit"));
    assert!(comments[0].contains("/test pull-hello-manual"));
}

#[tokio::test]
async fn synchronize_aborts_older_runs() {
    let h = harness().await;
    let opened = pr_opened("alice");
    send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-1",
        Some("opened"),
        &opened,
    )
    .await;
    let mut sync = opened.clone();
    sync["action"] = json!("synchronize");
    sync["pull_request"]["head"]["sha"] = json!("2222222222222222222222222222222222222222");
    for _ in 0..2 {
        let status = send(
            &h.app,
            "dev.prow.github.pull_request",
            "d-2",
            Some("synchronize"),
            &sync,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let jobs = jobs(&h).await;
    assert_eq!(jobs.len(), 2);
    let by_guid = |g: &str| {
        jobs.iter()
            .find(|j| j.metadata.labels.as_ref().unwrap()["event-GUID"] == g)
            .unwrap()
    };
    assert_eq!(by_guid("d-1").status.state, ProwJobState::Aborted);
    assert_eq!(
        by_guid("d-1").status.description,
        "Aborted by trigger plugin."
    );
    assert_eq!(
        by_guid("d-2").status.state,
        ProwJobState::Triggered,
        "a redelivered synchronize keeps the jobs of the new head"
    );
}

#[tokio::test]
async fn push_creates_postsubmits_and_ignores_deletions() {
    let h = harness().await;
    let mut push = payload("push.json");
    push["ref"] = json!("refs/heads/master");
    let status = send(&h.app, "dev.prow.github.push", "p-1", None, &push).await;
    assert_eq!(status, StatusCode::OK);
    send(&h.app, "dev.prow.github.push", "p-1", None, &push).await;
    let jobs = jobs(&h).await;
    assert_eq!(names(&jobs), vec!["post-hello-all"]);
    let refs = jobs[0].spec.refs.as_ref().unwrap();
    assert_eq!(refs.base_ref, "master");
    assert_eq!(refs.base_sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");

    let mut deleted = push.clone();
    deleted["deleted"] = json!(true);
    send(&h.app, "dev.prow.github.push", "p-2", None, &deleted).await;
    assert_eq!(h.prowjobs.list(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn github_failure_asks_for_redelivery_and_bad_payload_is_400() {
    let h = harness().await;
    h.github.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&h.github)
        .await;
    let status = send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-x",
        Some("opened"),
        &pr_opened("alice"),
    )
    .await;
    assert!(status.is_server_error(), "{status}");
    assert!(h.prowjobs.list(None).await.unwrap().is_empty());

    let status = send(
        &h.app,
        "dev.prow.github.push",
        "p-x",
        None,
        &json!({"nope": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let status = send(&h.app, "dev.prow.github.issues", "i-x", None, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "other events are acknowledged");
}

#[tokio::test]
async fn drafts_and_unmergeable_prs_get_no_jobs_and_close_aborts() {
    let h = harness().await;
    let mut draft = pr_opened("alice");
    draft["pull_request"]["draft"] = json!(true);
    send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-draft",
        Some("opened"),
        &draft,
    )
    .await;
    assert!(jobs(&h).await.is_empty());
    let comments = writes(&h.github, "POST", "/issues/2/comments").await;
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains("Skipping CI for Draft Pull Request."));

    let mut conflicted = pr_opened("alice");
    conflicted["pull_request"]["mergeable"] = json!(false);
    send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-conflict",
        Some("opened"),
        &conflicted,
    )
    .await;
    assert!(
        jobs(&h).await.is_empty(),
        "Prow creates nothing for unmergeable PRs"
    );

    send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-open",
        Some("opened"),
        &pr_opened("alice"),
    )
    .await;
    let mut closed = pr_opened("alice");
    closed["action"] = json!("closed");
    assert_eq!(
        send(
            &h.app,
            "dev.prow.github.pull_request",
            "d-close",
            Some("closed"),
            &closed
        )
        .await,
        StatusCode::OK
    );
    let jobs = jobs(&h).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status.state, ProwJobState::Aborted);
}

/// Prow's hook hands a repo's events to trigger only where plugins.yaml enables it there: every
/// event trigger acts on is then a 200 with no ProwJob and nothing sent to GitHub.
#[tokio::test]
async fn repos_without_trigger_enabled_get_nothing() {
    let disabled = [
        "triggers:\n- repos: [Codertocat]\n",
        "plugins:\n  Codertocat: [lgtm, hold]\n",
        "plugins:\n  Codertocat/Other-Repo: [trigger]\n",
        "plugins:\n  Codertocat:\n    plugins: [trigger]\n    excluded_repos: [Hello-World]\n",
    ];
    for plugins_yaml in disabled {
        let h = harness_with(plugins_yaml).await;
        let mut push = payload("push.json");
        push["ref"] = json!("refs/heads/master");
        let events = [
            (
                "dev.prow.github.pull_request",
                Some("opened"),
                pr_opened("alice"),
            ),
            (
                "dev.prow.github.issue_comment",
                Some("created"),
                pr_comment("alice", "/test all", "alice"),
            ),
            ("dev.prow.github.push", None, push),
        ];
        for (i, (ty, action, data)) in events.iter().enumerate() {
            let status = send(&h.app, ty, &format!("d-off-{i}"), *action, data).await;
            assert_eq!(status, StatusCode::OK, "{ty} with {plugins_yaml}");
        }
        assert!(jobs(&h).await.is_empty(), "{plugins_yaml}");
        let requests = h.github.received_requests().await.unwrap();
        assert!(requests.is_empty(), "{plugins_yaml}: {requests:?}");
    }

    // The repo's own entry enables it even where its org excludes it.
    let h = harness_with(
        "plugins:\n  Codertocat:\n    plugins: [lgtm]\n    excluded_repos: [Hello-World]\n  Codertocat/Hello-World:\n    plugins: [trigger]\n",
    )
    .await;
    let status = send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-on",
        Some("opened"),
        &pr_opened("alice"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&jobs(&h).await), vec!["pull-hello-unit"]);
}

/// Prow's hook hands trigger a review's body, a diff comment and an opened PR's body as
/// comments on the PR: `/retest` and `/test` work there as in an issue comment.
#[tokio::test]
async fn review_bodies_diff_comments_and_pr_bodies_carry_commands() {
    let h = harness().await;
    mock_labels(&h.github, &[]).await;
    let opened = pr_opened("alice");
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2")))
        .respond_with(ResponseTemplate::new(200).set_body_json(opened["pull_request"].clone()))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{ORG_REPO}/commits/ec26c3e57ca3a959ca5aad62de7213c562f8c821/status"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "state": "failure", "total_count": 1,
            "statuses": [{"context": "pull-hello-unit", "state": "failure"}]
        })))
        .mount(&h.github)
        .await;
    let user = json!({"login": "alice", "id": 7, "type": "User"});

    // A review whose body says /retest re-runs the failed job.
    let mut review = payload("pull_request_review.submitted.json");
    review["pull_request"] = opened["pull_request"].clone();
    review["repository"] = opened["repository"].clone();
    review["review"]["body"] = json!("Looks fine, but\n/retest");
    review["review"]["user"] = user.clone();
    let status = send(
        &h.app,
        "dev.prow.github.pull_request_review",
        "r-1",
        Some("submitted"),
        &review,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let by = |id: &str, all: &[ProwJob]| -> Vec<String> {
        all.iter()
            .filter(|j| j.metadata.labels.as_ref().unwrap()["event-GUID"] == id)
            .map(|j| j.spec.job.clone())
            .collect()
    };
    assert_eq!(by("r-1", &jobs(&h).await), vec!["pull-hello-unit"]);

    // A dismissed review is not a new comment.
    let status = send(
        &h.app,
        "dev.prow.github.pull_request_review",
        "r-2",
        Some("dismissed"),
        &{
            let mut r = review.clone();
            r["action"] = json!("dismissed");
            r
        },
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(by("r-2", &jobs(&h).await).is_empty());

    // A comment on the diff asking for a job runs it.
    let mut diff = payload("pull_request_review_comment.created.json");
    diff["pull_request"] = opened["pull_request"].clone();
    diff["repository"] = opened["repository"].clone();
    diff["comment"]["body"] = json!("/test pull-hello-manual");
    diff["comment"]["user"] = user.clone();
    let status = send(
        &h.app,
        "dev.prow.github.pull_request_review_comment",
        "rc-1",
        Some("created"),
        &diff,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by("rc-1", &jobs(&h).await), vec!["pull-hello-manual"]);

    // An opened PR whose body asks for a job gets it besides the ones that always run.
    let mut with_body = opened.clone();
    with_body["pull_request"]["body"] = json!("Fixes things.\n\n/test pull-hello-manual");
    let status = send(
        &h.app,
        "dev.prow.github.pull_request",
        "o-1",
        Some("opened"),
        &with_body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut opened_jobs = by("o-1", &jobs(&h).await);
    opened_jobs.sort();
    assert_eq!(opened_jobs, vec!["pull-hello-manual", "pull-hello-unit"]);
}

/// The PR's head in `pull_request.opened.json`.
const HEAD_SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const PUSHED_SHA: &str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Serves `.prow.yaml` with `text` at `sha` through the tree and contents APIs.
async fn serve_prow_yaml(server: &MockServer, sha: &str, text: &str) {
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/git/trees/{sha}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": sha, "truncated": false,
            "tree": [
                {"path": "README", "type": "blob", "sha": "a", "mode": "100644"},
                {"path": ".prow.yaml", "type": "blob", "sha": "b", "mode": "100644"},
            ]
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/contents/.prow.yaml")))
        .and(wiremock::matchers::query_param("ref", sha))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "file", "encoding": "base64", "path": ".prow.yaml",
            "content": base64(text.as_bytes())
        })))
        .mount(server)
        .await;
}

const IN_REPO_YAML: &str = "presubmits:\n- name: pull-hello-in-repo\n  always_run: true\n  spec: {containers: [{image: alpine:3, command: [\"true\"]}]}\n- name: pull-hello-in-repo-manual\n  spec: {containers: [{image: alpine:3, command: [\"true\"]}]}\npostsubmits:\n- name: post-hello-in-repo\n  spec: {containers: [{image: alpine:3, command: [\"true\"]}]}\n";

fn in_repo_config() -> String {
    format!("{CONFIG}in_repo_config:\n  enabled:\n    Codertocat/Hello-World: true\n")
}

#[tokio::test]
async fn in_repo_presubmits_run_and_are_offered_by_test_help() {
    let h = harness_config(&in_repo_config(), PLUGINS).await;
    // The PR changes src/main.rs only: its jobs are read at the base branch's tip.
    serve_prow_yaml(&h.github, BASE_SHA, IN_REPO_YAML).await;
    let status = send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-in-repo",
        Some("opened"),
        &pr_opened("alice"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&jobs(&h).await),
        ["pull-hello-in-repo", "pull-hello-unit"]
    );

    let pr = {
        let mut pr = payload("pull_request.opened.json")["pull_request"].clone();
        pr["user"]["login"] = json!("alice");
        pr["mergeable"] = json!(true);
        pr
    };
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pr))
        .mount(&h.github)
        .await;
    mock_labels(&h.github, &[]).await;
    let help = pr_comment("alice", "/test ?", "alice");
    let status = send(
        &h.app,
        "dev.prow.github.issue_comment",
        "c-help",
        Some("created"),
        &help,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let comments = writes(&h.github, "POST", "/issues/2/comments").await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("/test pull-hello-in-repo-manual"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("/test pull-hello-unit"),
        "{}",
        comments[0]
    );

    // `/test <in-repo job>` runs it; the tree was read once per commit.
    let run = pr_comment("alice", "/test pull-hello-in-repo-manual", "alice");
    send(
        &h.app,
        "dev.prow.github.issue_comment",
        "c-run",
        Some("created"),
        &run,
    )
    .await;
    assert!(names(&jobs(&h).await).contains(&"pull-hello-in-repo-manual"));
    let tree_reads = writes(&h.github, "GET", &format!("/git/trees/{BASE_SHA}")).await;
    assert_eq!(tree_reads.len(), 1, "cached by SHA");
}

#[tokio::test]
async fn a_pr_changing_prow_yaml_is_tested_with_its_own_jobs() {
    let h = harness_config(&in_repo_config(), PLUGINS).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_REPO}/pulls/2/files")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"filename": ".prow.yaml", "status": "modified"}
        ])))
        .with_priority(1)
        .mount(&h.github)
        .await;
    serve_prow_yaml(&h.github, BASE_SHA, "presubmits: []\n").await;
    serve_prow_yaml(&h.github, HEAD_SHA, IN_REPO_YAML).await;
    send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-head",
        Some("opened"),
        &pr_opened("alice"),
    )
    .await;
    assert_eq!(
        names(&jobs(&h).await),
        ["pull-hello-in-repo", "pull-hello-unit"]
    );
}

#[tokio::test]
async fn an_invalid_prow_yaml_leaves_the_central_jobs_running() {
    let h = harness_config(&in_repo_config(), PLUGINS).await;
    // Clashes with a central job's name: Prow refuses the in-repo config, trigger falls back.
    serve_prow_yaml(
        &h.github,
        BASE_SHA,
        "presubmits:\n- name: pull-hello-unit\n  always_run: true\n  spec: {containers: [{image: a, command: [x]}]}\n",
    )
    .await;
    let status = send(
        &h.app,
        "dev.prow.github.pull_request",
        "d-bad",
        Some("opened"),
        &pr_opened("alice"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&jobs(&h).await), ["pull-hello-unit"]);
}

#[tokio::test]
async fn pushes_run_in_repo_postsubmits_of_the_pushed_commit() {
    let h = harness_config(&in_repo_config(), PLUGINS).await;
    serve_prow_yaml(&h.github, PUSHED_SHA, IN_REPO_YAML).await;
    let mut push = payload("push.json");
    push["ref"] = json!("refs/heads/master");
    let status = send(&h.app, "dev.prow.github.push", "p-in-repo", None, &push).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&jobs(&h).await),
        ["post-hello-all", "post-hello-in-repo"]
    );
}
