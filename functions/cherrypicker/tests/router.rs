//! Router tests: real `issue_comment` and `pull_request.closed` payloads as CloudEvents in, the
//! exact Git Data API calls of an API-only cherry-pick (wiremock) out.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prow_cherrypicker::{CherrypickerState, Options, router};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_runtime::LiveConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const PLUGINS: &str = "external_plugins:\n  Codertocat:\n  - name: cherrypicker\n";
const TARGET_HEAD: &str = "7777777777777777777777777777777777777777";
const PICKED: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
const PARENT: &str = "9090909090909090909090909090909090909090";

struct Harness {
    github: MockServer,
    app: Router,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, "prowjob_namespace: prow\n").unwrap();
    let plugins_path = dir.path().join("plugins.yaml");
    std::fs::write(&plugins_path, PLUGINS).unwrap();
    let config = LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path,
            job_config_path: None,
            plugin_config_path: Some(plugins_path),
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
            "/orgs/Codertocat/members/mallory".to_owned(),
            ResponseTemplate::new(404),
        ),
        ("GET", format!("{REPO}/issues/2/comments"), ok(json!([]))),
        (
            "POST",
            format!("{REPO}/issues/2/comments"),
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1, "user": {"login": "prow-bot"}, "body": ""})),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(&github)
            .await;
    }
    Harness {
        github,
        app: router(CherrypickerState::new(config, gh, Options::default())),
        _dir: dir,
    }
}

fn pr(merged: bool) -> Value {
    json!({
        "number": 2, "state": if merged { "closed" } else { "open" }, "merged": merged,
        "title": "Update the README with new information", "body": "Fixes it.",
        "user": {"login": "Codertocat"}, "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
        "head": {"ref": "changes", "sha": PICKED}, "base": {"ref": "master", "sha": PARENT},
        "labels": [{"name": "kind/bug"}],
    })
}

async fn mount_pr(gh: &MockServer, merged: bool) {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pr(merged)))
        .mount(gh)
        .await;
}

/// A one-commit PR onto `release-1`, with `/merges` answering `merge`.
async fn mount_pick(gh: &MockServer, merge: ResponseTemplate) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let created = |body: Value| ResponseTemplate::new(201).set_body_json(body);
    let commit = |sha: &str, tree: &str| {
        ok(
            json!({"sha": sha, "tree": {"sha": tree}, "parents": [], "message": "m",
                  "author": {"name": "a", "email": "a@x"}, "committer": {"name": "a", "email": "a@x"}}),
        )
    };
    let mounts = [
        (
            "GET",
            format!("{REPO}/git/ref/heads/release-1"),
            ok(
                json!({"ref": "refs/heads/release-1", "object": {"sha": TARGET_HEAD, "type": "commit"}}),
            ),
        ),
        (
            "POST",
            format!("{REPO}/git/refs"),
            created(
                json!({"ref": "refs/heads/cherry-pick-2-to-release-1", "object": {"sha": TARGET_HEAD}}),
            ),
        ),
        (
            "GET",
            format!("{REPO}/pulls/2/commits"),
            ok(json!([{
                "sha": PICKED, "parents": [{"sha": PARENT}],
                "commit": {"message": "Update README", "author": {"name": "Coder", "email": "coder@example.com", "date": "2019-05-15T15:20:30Z"},
                           "committer": {"name": "Coder", "email": "coder@example.com", "date": "2019-05-15T15:20:30Z"}},
                "author": {"login": "Codertocat"}, "committer": {"login": "Codertocat"}
            }])),
        ),
        (
            "GET",
            format!("{REPO}/git/commits/{TARGET_HEAD}"),
            commit(TARGET_HEAD, "tree-target"),
        ),
        (
            "GET",
            format!("{REPO}/git/commits/mmmm"),
            commit("mmmm", "tree-merged"),
        ),
        (
            "PATCH",
            format!("{REPO}/git/refs/heads/cherry-pick-2-to-release-1"),
            ok(json!({"ref": "refs/heads/cherry-pick-2-to-release-1", "object": {"sha": "x"}})),
        ),
        ("POST", format!("{REPO}/merges"), merge),
        (
            "DELETE",
            format!("{REPO}/git/refs/heads/cherry-pick-2-to-release-1"),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            format!("{REPO}/issues/2/labels"),
            ok(json!([{"name": "kind/bug"}])),
        ),
        (
            "POST",
            format!("{REPO}/pulls"),
            created(json!({
                "number": 9, "state": "open", "title": "t", "user": {"login": "prow-bot"}, "html_url": "https://github.com/Codertocat/Hello-World/pull/9",
                "head": {"ref": "cherry-pick-2-to-release-1", "sha": "pppp"}, "base": {"ref": "release-1", "sha": TARGET_HEAD}
            })),
        ),
        (
            "POST",
            format!("{REPO}/issues/9/assignees"),
            created(
                json!({"number": 9, "user": {"login": "prow-bot"}, "assignees": [{"login": "alice"}]}),
            ),
        ),
    ];
    for (verb, p, answer) in mounts {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(gh)
            .await;
    }
    // The sibling (branch tree on the picked commit's parent), then the picked commit.
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/commits")))
        .and(body_partial_json(json!({"parents": [PARENT]})))
        .respond_with(created(json!({"sha": "ssss", "tree": {"sha": "tree-target"}, "parents": [{"sha": PARENT}], "message": "s",
                                     "author": {"name": "b", "email": "b@x"}, "committer": {"name": "b", "email": "b@x"}})))
        .mount(gh)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/commits")))
        .and(body_partial_json(json!({"parents": [TARGET_HEAD]})))
        .respond_with(created(json!({"sha": "nnnn", "tree": {"sha": "tree-merged"}, "parents": [{"sha": TARGET_HEAD}], "message": "Update README",
                                     "author": {"name": "Coder", "email": "coder@example.com"}, "committer": {"name": "b", "email": "b@x"}})))
        .mount(gh)
        .await;
}

async fn send(app: &Router, ty: &str, data: &Value) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", "delivery-1")
        .header("ce-type", ty)
        .header("ce-source", "https://github.com/Codertocat/Hello-World")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(data).unwrap()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

fn comment(login: &str, body: &str, state: &str) -> Value {
    let mut p: Value =
        serde_json::from_slice(&prow_testdata::webhook("issue_comment.created.json")).unwrap();
    p["issue"]["number"] = json!(2);
    p["issue"]["state"] = json!(state);
    p["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
    p["comment"]["user"]["login"] = json!(login);
    p["comment"]["body"] = json!(body);
    p
}

/// Every non-GET call, as `METHOD path body`.
async fn writes(gh: &MockServer) -> Vec<String> {
    gh.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| {
            format!(
                "{} {} {}",
                r.method,
                r.url.path(),
                String::from_utf8_lossy(&r.body)
            )
        })
        .collect()
}

fn comments_posted(writes: &[String]) -> Vec<String> {
    writes
        .iter()
        .filter(|w| w.starts_with(&format!("POST {REPO}/issues/2/comments ")))
        .map(|w| {
            let body: Value = serde_json::from_str(w.splitn(3, ' ').nth(2).unwrap()).unwrap();
            body["body"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn cherrypick_on_a_merged_pr_picks_each_commit_through_the_git_data_api_and_opens_the_pr() {
    let h = harness().await;
    mount_pr(&h.github, true).await;
    mount_pick(
        &h.github,
        ResponseTemplate::new(201)
            .set_body_json(json!({"sha": "mmmm", "commit": {"tree": {"sha": "tree-merged"}}})),
    )
    .await;
    let status = send(
        &h.app,
        "dev.prow.github.issue_comment",
        &comment("alice", "/cherrypick release-1", "closed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let w = writes(&h.github).await;
    let calls: Vec<String> = w
        .iter()
        .map(|w| w.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    let branch = format!("{REPO}/git/refs/heads/cherry-pick-2-to-release-1");
    assert_eq!(
        calls,
        [
            format!("POST {REPO}/git/refs"),
            format!("POST {REPO}/git/commits"),
            format!("PATCH {branch}"),
            format!("POST {REPO}/merges"),
            format!("POST {REPO}/git/commits"),
            format!("PATCH {branch}"),
            format!("POST {REPO}/pulls"),
            format!("POST {REPO}/issues/2/comments"),
            format!("POST {REPO}/issues/9/assignees"),
        ]
    );
    let body =
        |i: usize| -> Value { serde_json::from_str(w[i].splitn(3, ' ').nth(2).unwrap()).unwrap() };
    assert_eq!(
        body(0),
        json!({"ref": "refs/heads/cherry-pick-2-to-release-1", "sha": TARGET_HEAD})
    );
    assert_eq!(body(1)["tree"], "tree-target");
    assert_eq!(body(1)["parents"], json!([PARENT]));
    assert_eq!(body(2), json!({"sha": "ssss", "force": true}));
    assert_eq!(body(3)["base"], "cherry-pick-2-to-release-1");
    assert_eq!(body(3)["head"], PICKED);
    assert_eq!(body(4)["tree"], "tree-merged");
    assert_eq!(body(4)["parents"], json!([TARGET_HEAD]));
    assert_eq!(body(4)["message"], "Update README");
    assert_eq!(body(4)["author"]["email"], "coder@example.com");
    assert_eq!(body(5), json!({"sha": "nnnn", "force": true}));
    let new_pr = body(6);
    assert_eq!(
        new_pr["title"],
        "[release-1] Update the README with new information"
    );
    assert_eq!(new_pr["head"], "cherry-pick-2-to-release-1");
    assert_eq!(new_pr["base"], "release-1");
    assert_eq!(
        new_pr["body"],
        "This is an automated cherry-pick of #2\n\n/assign alice\n\n/kind bug"
    );
    assert_eq!(
        comments_posted(&w),
        ["@alice: new pull request created: #9"]
    );
}

#[tokio::test]
async fn a_conflict_deletes_the_branch_and_says_so() {
    let h = harness().await;
    mount_pr(&h.github, true).await;
    mount_pick(
        &h.github,
        ResponseTemplate::new(409).set_body_json(json!({"message": "Merge conflict"})),
    )
    .await;
    let status = send(
        &h.app,
        "dev.prow.github.issue_comment",
        &comment("alice", "/cherrypick release-1", "closed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let w = writes(&h.github).await;
    assert!(
        w.iter().any(|c| c.starts_with(&format!(
            "DELETE {REPO}/git/refs/heads/cherry-pick-2-to-release-1"
        ))),
        "{w:?}"
    );
    assert!(
        !w.iter()
            .any(|c| c.starts_with(&format!("POST {REPO}/pulls "))),
        "no PR: {w:?}"
    );
    assert_eq!(
        comments_posted(&w),
        ["@alice: #2 failed to apply on top of branch \"release-1\":"]
    );
}

#[tokio::test]
async fn before_the_merge_the_request_is_acknowledged_and_non_members_are_refused() {
    for (who, first_line) in [
        (
            "alice",
            "@alice: once the present PR merges, I will cherry-pick it on top of `release-1` in a new PR and assign it to you.",
        ),
        (
            "mallory",
            "@mallory: only [Codertocat](https://github.com/orgs/Codertocat/people) org members may request cherry picks. If you are already part of the org, make sure to [change](https://github.com/orgs/Codertocat/people?query=mallory) your membership to public. Otherwise you can still do the cherry-pick manually. ",
        ),
    ] {
        let h = harness().await;
        mount_pr(&h.github, false).await;
        let status = send(
            &h.app,
            "dev.prow.github.issue_comment",
            &comment(who, "/cherrypick release-1", "open"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{who}");
        let w = writes(&h.github).await;
        assert_eq!(comments_posted(&w), [first_line], "{who}");
        assert_eq!(w.len(), 1, "{who}: only the comment: {w:?}");
    }
}

#[tokio::test]
async fn a_recorded_request_is_applied_when_the_pr_merges() {
    let h = harness().await;
    mount_pr(&h.github, true).await;
    // The earlier `/cherrypick` comment is what records the request.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 5, "user": {"login": "alice"}, "body": "/cherrypick release-1", "html_url": "https://c/5"}
        ])))
        .with_priority(1)
        .mount(&h.github)
        .await;
    mount_pick(
        &h.github,
        ResponseTemplate::new(201)
            .set_body_json(json!({"sha": "mmmm", "commit": {"tree": {"sha": "tree-merged"}}})),
    )
    .await;
    let mut closed: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.closed.json")).unwrap();
    closed["pull_request"]["merged"] = json!(true);
    assert_eq!(
        send(&h.app, "dev.prow.github.pull_request", &closed).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert!(
        w.iter()
            .any(|c| c.starts_with(&format!("POST {REPO}/pulls "))),
        "{w:?}"
    );
    assert_eq!(
        comments_posted(&w),
        ["@alice: new pull request created: #9"]
    );
}
