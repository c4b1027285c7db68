//! Black-box tests of `OctocrabGitHub` against a wiremock server answering with GitHub's REST shapes.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use prow_github::{
    Credentials, GitHub, GitHubError, NewStatus, OctocrabGitHub, RetryPolicy, Settings, Sleeper,
    StatusState,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "ghp_test-token-never-shown";

/// Short waits so retry tests run fast; still real sleeps on the tokio timer.
fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_retry_after: Duration::from_secs(5),
        max_rate_limit_wait: Duration::from_secs(5),
        ..RetryPolicy::for_tests()
    }
}

fn client(server: &MockServer) -> OctocrabGitHub {
    OctocrabGitHub::builder(server.uri())
        .credentials(Credentials::Token(TOKEN.to_owned()))
        .retry_policy(fast_policy())
        .build()
        .unwrap()
}

/// Records the waits asked for instead of sleeping.
#[derive(Debug, Default)]
struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.waits.lock().unwrap().push(duration);
    }
}

/// Answers with `responses` in turn (repeating the last) and notes when each request came.
struct Sequence {
    responses: Vec<ResponseTemplate>,
    seen: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for Sequence {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        seen.push(Instant::now());
        let index = (seen.len() - 1).min(self.responses.len() - 1);
        self.responses[index].clone()
    }
}

fn pull_request_json() -> Value {
    let payload: Value =
        serde_json::from_str(include_str!("fixtures/pull_request.opened.json")).unwrap();
    payload["pull_request"].clone()
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn get_pull_request_reads_the_fields_trigger_needs() {
    let server = MockServer::start().await;
    let mut pr = pull_request_json();
    pr["labels"] = json!([{"id": 1, "name": "lgtm", "color": "15dd18", "default": false}]);
    pr["mergeable"] = json!(true);
    Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/pulls/2"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/vnd.github+json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&pr))
        .expect(1)
        .mount(&server)
        .await;

    let got = client(&server)
        .get_pull_request("Codertocat", "Hello-World", 2)
        .await
        .unwrap();
    assert_eq!(got.number, 2);
    assert_eq!(got.state, prow_github::IssueState::Open);
    assert!(!got.draft);
    assert!(!got.merged);
    assert_eq!(got.mergeable, Some(true));
    assert_eq!(got.title, "Update the README with new information.");
    assert_eq!(got.user.login, "Codertocat");
    assert_eq!(got.head.git_ref, "changes");
    assert_eq!(got.head.sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    assert_eq!(got.base.git_ref, "master");
    assert_eq!(got.base.sha, pr["base"]["sha"].as_str().unwrap());
    assert_eq!(
        got.html_url,
        "https://github.com/Codertocat/Hello-World/pull/2"
    );
    assert_eq!(got.labels[0].name, "lgtm");
}

#[tokio::test]
async fn a_missing_pull_request_is_a_not_found_error_naming_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/9"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_pull_request("acme", "foo", 9)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("acme/foo#9"), "{shown}");
    assert!(shown.contains("Not Found"), "{shown}");
}

#[tokio::test]
async fn changed_files_follow_link_pages() {
    let server = MockServer::start().await;
    let next = format!(
        "<{}/repositories/1296269/pulls/7/files?per_page=100&page=2>; rel=\"next\", <{}/repositories/1296269/pulls/7/files?per_page=100&page=2>; rel=\"last\"",
        server.uri(),
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/7/files"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([
                    {"sha": "bbcd538c8e72b8c175046e27cc8f907076331401", "filename": "docs/README.md",
                     "status": "modified", "additions": 10, "deletions": 2, "changes": 12,
                     "patch": "@@ -1,2 +1,3 @@\n # Docs\n+more\n text"},
                    {"sha": "0d1e3b3c", "filename": "pkg/new/name.go", "previous_filename": "pkg/old/name.go",
                     "status": "renamed", "additions": 0, "deletions": 0, "changes": 0}
                ])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repositories/1296269/pulls/7/files"))
        .and(query_param("page", "2"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"sha": "aa", "filename": "Makefile", "status": "added", "additions": 3, "deletions": 0, "changes": 3}
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let changes = gh.pull_request_changes("acme", "foo", 7).await.unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0].additions, 10);
    assert_eq!(
        changes[0].patch.as_deref(),
        Some("@@ -1,2 +1,3 @@\n # Docs\n+more\n text")
    );
    // GitHub sends no patch for renames without changes, binaries and huge diffs.
    assert_eq!(changes[1].patch, None);
    assert_eq!(changes[1].status, "renamed");
    assert_eq!(
        changes[1].previous_filename.as_deref(),
        Some("pkg/old/name.go")
    );
    let files = prow_github::changed_filenames(&changes);
    assert_eq!(files, vec!["docs/README.md", "pkg/new/name.go", "Makefile"]);
}

#[tokio::test]
async fn membership_questions_read_204_as_yes_and_404_or_302_as_no() {
    let server = MockServer::start().await;
    let answers = [
        ("/orgs/acme/members/alice", 204),
        ("/orgs/acme/members/bob", 404),
        ("/orgs/acme/members/carol", 302),
        ("/repos/acme/foo/collaborators/alice", 204),
        ("/repos/acme/foo/collaborators/bob", 404),
    ];
    for (route, status) in answers {
        let mut template = ResponseTemplate::new(status);
        if status == 302 {
            template = template.insert_header(
                "location",
                format!("{}/orgs/acme/public_members/carol", server.uri()).as_str(),
            );
        }
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(template)
            .expect(1)
            .mount(&server)
            .await;
    }
    let team = |state: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "url": "https://api.github.com/teams/1/memberships/x", "role": "member", "state": state
        }))
    };
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release-managers/memberships/alice"))
        .respond_with(team("active"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release-managers/memberships/bob"))
        .respond_with(team("pending"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release-managers/memberships/carol"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organizations/42/team/7/memberships/alice"))
        .respond_with(team("active"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"login": "acme", "id": 42, "type": "Organization"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    assert!(gh.is_org_member("acme", "alice").await.unwrap());
    assert!(!gh.is_org_member("acme", "bob").await.unwrap());
    assert!(!gh.is_org_member("acme", "carol").await.unwrap());
    // A user owns the "org" of their personal repositories; no request is needed.
    assert!(gh.is_org_member("dave", "dave").await.unwrap());
    assert!(gh.is_collaborator("acme", "foo", "alice").await.unwrap());
    assert!(!gh.is_collaborator("acme", "foo", "bob").await.unwrap());
    assert!(
        gh.is_team_member("acme", "release-managers", "alice")
            .await
            .unwrap()
    );
    assert!(
        !gh.is_team_member("acme", "release-managers", "bob")
            .await
            .unwrap()
    );
    assert!(
        !gh.is_team_member("acme", "release-managers", "carol")
            .await
            .unwrap()
    );
    assert!(gh.is_team_member_by_id(42, 7, "alice").await.unwrap());
    assert_eq!(gh.org_id("acme").await.unwrap(), 42);
}

#[tokio::test]
async fn an_unexpected_membership_answer_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/members/alice"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"message": "Must have admin rights"})),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .is_org_member("acme", "alice")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("Must have admin rights"), "{err}");
}

#[tokio::test]
async fn get_ref_returns_the_sha_the_branch_points_at() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/git/ref/heads/release-1.30"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ref": "refs/heads/release-1.30",
            "node_id": "MDM6UmVmcmVmcy9oZWFkcy9mZWF0dXJlQQ==",
            "url": "https://api.github.com/repos/acme/foo/git/refs/heads/release-1.30",
            "object": {"type": "commit", "sha": "aa218f56b14c9653891f9e74264a383fa43fefbd",
                       "url": "https://api.github.com/repos/acme/foo/git/commits/aa218f56b14c9653891f9e74264a383fa43fefbd"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sha = client(&server)
        .get_ref("acme", "foo", "heads/release-1.30")
        .await
        .unwrap();
    assert_eq!(sha, "aa218f56b14c9653891f9e74264a383fa43fefbd");
}

#[tokio::test]
async fn combined_status_collects_contexts_from_every_page() {
    let server = MockServer::start().await;
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let status_path = format!("/repos/acme/foo/commits/{sha}/status");
    let page = |statuses: Value| {
        json!({"state": "pending", "sha": sha, "total_count": 3, "statuses": statuses,
               "repository": {"id": 1, "name": "foo", "full_name": "acme/foo"}})
    };
    Mock::given(method("GET"))
        .and(path(status_path.as_str()))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}{status_path}?per_page=100&page=2>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(page(json!([
                    {"id": 1, "state": "success", "context": "pull-foo-unit", "description": "Job succeeded.",
                     "target_url": "https://prow.example.com/view/1", "created_at": "2024-01-01T00:00:00Z"},
                    {"id": 2, "state": "pending", "context": "pull-foo-e2e", "description": null, "target_url": null}
                ]))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(status_path.as_str()))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(json!([
            {"id": 3, "state": "failure", "context": "tide", "description": "Not mergeable."}
        ]))))
        .expect(1)
        .mount(&server)
        .await;

    let statuses = client(&server)
        .combined_status("acme", "foo", sha)
        .await
        .unwrap();
    let got: Vec<(&str, StatusState)> = statuses
        .iter()
        .map(|s| (s.context.as_str(), s.state))
        .collect();
    assert_eq!(
        got,
        vec![
            ("pull-foo-unit", StatusState::Success),
            ("pull-foo-e2e", StatusState::Pending),
            ("tide", StatusState::Failure),
        ]
    );
    assert_eq!(
        statuses[0].target_url.as_deref(),
        Some("https://prow.example.com/view/1")
    );
}

#[tokio::test]
async fn create_status_posts_state_context_description_and_target_url() {
    let server = MockServer::start().await;
    let long = "x".repeat(300);
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/statuses/abc123"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "state": "pending",
            "context": "pull-foo-unit",
            "description": format!("{}...", "x".repeat(137)),
            "target_url": "https://prow.example.com/view/gs/bucket/1"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 1, "state": "pending", "context": "pull-foo-unit"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let status = NewStatus::new("pull-foo-unit", StatusState::Pending)
        .description(long)
        .target_url("https://prow.example.com/view/gs/bucket/1");
    client(&server)
        .create_status("acme", "foo", "abc123", &status)
        .await
        .unwrap();
}

#[tokio::test]
async fn comments_are_listed_created_edited_and_deleted() {
    let server = MockServer::start().await;
    let comment = |id: u64, login: &str, body: &str| {
        json!({"id": id, "node_id": "MDEyOklzc3VlQ29tbWVudDE=", "body": body,
               "user": {"login": login, "id": 1, "type": "User"},
               "html_url": format!("https://github.com/acme/foo/issues/5#issuecomment-{id}"),
               "created_at": "2011-04-14T16:00:49Z", "updated_at": "2011-04-14T16:00:49Z",
               "author_association": "MEMBER"})
    };
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/5/comments"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}/repos/acme/foo/issues/5/comments?per_page=100&page=2>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([comment(1, "alice", "/test all")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/5/comments"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(
            2,
            "k8s-ci-robot",
            "old"
        )])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/5/comments"))
        .and(body_json(json!({"body": "Jobs failed: pull-foo-unit"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment(
            3,
            "k8s-ci-robot",
            "Jobs failed: pull-foo-unit",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/foo/issues/comments/2"))
        .and(body_json(json!({"body": "updated"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(comment(
            2,
            "k8s-ci-robot",
            "updated",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/issues/comments/1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let comments = gh.list_issue_comments("acme", "foo", 5).await.unwrap();
    let got: Vec<(u64, &str, &str)> = comments
        .iter()
        .map(|c| (c.id, c.user.login.as_str(), c.body.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1, "alice", "/test all"), (2, "k8s-ci-robot", "old")]
    );
    let created = gh
        .create_comment("acme", "foo", 5, "Jobs failed: pull-foo-unit")
        .await
        .unwrap();
    assert_eq!(created.id, 3);
    gh.edit_comment("acme", "foo", 2, "updated").await.unwrap();
    gh.delete_comment("acme", "foo", 1).await.unwrap();
}

#[tokio::test]
async fn labels_are_added_read_and_removed_and_removing_a_missing_one_is_ok() {
    let server = MockServer::start().await;
    let labels = json!([
        {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": "https://api.github.com/repos/acme/foo/labels/lgtm",
         "name": "lgtm", "description": "Looks good", "color": "15dd18", "default": false},
        {"id": 208045947, "name": "do-not-merge/hold", "color": "e11d21", "default": false}
    ]);
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/5/labels"))
        .and(body_json(json!({"labels": ["lgtm"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&labels))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/5/labels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&labels))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/issues/5/labels/do-not-merge%2Fhold"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([labels[0]])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/issues/5/labels/needs-rebase"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Label does not exist",
            "documentation_url": "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    gh.add_label("acme", "foo", 5, "lgtm").await.unwrap();
    let names: Vec<String> = gh
        .get_issue_labels("acme", "foo", 5)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, vec!["lgtm", "do-not-merge/hold"]);
    gh.remove_label("acme", "foo", 5, "do-not-merge/hold")
        .await
        .unwrap();
    gh.remove_label("acme", "foo", 5, "needs-rebase")
        .await
        .unwrap();
}

#[tokio::test]
async fn bot_login_is_fetched_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "login": "k8s-ci-robot", "id": 20407524, "type": "User", "site_admin": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    assert_eq!(gh.bot_login().await.unwrap(), "k8s-ci-robot");
    assert_eq!(gh.bot_login().await.unwrap(), "k8s-ci-robot");
}

#[tokio::test]
async fn a_502_is_retried_once_and_the_retry_succeeds() {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/2"))
        .respond_with(Sequence {
            responses: vec![
                ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
                ResponseTemplate::new(200).set_body_json(pull_request_json()),
            ],
            seen: seen.clone(),
        })
        .expect(2)
        .mount(&server)
        .await;
    let pr = client(&server)
        .get_pull_request("acme", "foo", 2)
        .await
        .unwrap();
    assert_eq!(pr.number, 2);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_give_up_after_the_attempt_limit() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/2"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"message": "Service Unavailable"})),
        )
        .expect(4)
        .mount(&server)
        .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let gh = OctocrabGitHub::builder(server.uri())
        .credentials(Credentials::Token(TOKEN.to_owned()))
        .retry_policy(RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3),
            ..RetryPolicy::default()
        })
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    let err = gh.get_pull_request("acme", "foo", 2).await.unwrap_err();
    match &err {
        GitHubError::RetriesExhausted {
            attempts,
            last_status,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert_eq!(*last_status, 503);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("acme/foo#2"), "{err}");
    let waits = sleeper.waits.lock().unwrap().clone();
    assert_eq!(
        waits,
        vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(3)
        ]
    );
}

#[tokio::test]
async fn a_secondary_rate_limit_waits_for_retry_after_before_retrying() {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/5/comments"))
        .respond_with(Sequence {
            responses: vec![
                ResponseTemplate::new(403)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
                    })),
                ResponseTemplate::new(201).set_body_json(json!({
                    "id": 11, "body": "hi", "user": {"login": "k8s-ci-robot", "id": 1, "type": "User"}
                })),
            ],
            seen: seen.clone(),
        })
        .expect(2)
        .mount(&server)
        .await;
    let comment = client(&server)
        .create_comment("acme", "foo", 5, "hi")
        .await
        .unwrap();
    assert_eq!(comment.id, 11);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let gap = seen[1] - seen[0];
    // Lower bound only: a loaded machine may be slower, never faster.
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

#[tokio::test]
async fn a_spent_rate_limit_waits_for_a_near_reset() {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reset = (epoch_now() + 2).to_string();
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/5/labels"))
        .respond_with(Sequence {
            responses: vec![
                ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-limit", "5000")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.as_str())
                    .set_body_json(json!({"message": "API rate limit exceeded for user ID 1."})),
                ResponseTemplate::new(200)
                    .set_body_json(json!([{"name": "lgtm", "color": "15dd18"}])),
            ],
            seen: seen.clone(),
        })
        .expect(2)
        .mount(&server)
        .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let gh = OctocrabGitHub::builder(server.uri())
        .credentials(Credentials::Token(TOKEN.to_owned()))
        .retry_policy(RetryPolicy {
            max_rate_limit_wait: Duration::from_secs(60),
            ..fast_policy()
        })
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    let labels = gh.get_issue_labels("acme", "foo", 5).await.unwrap();
    assert_eq!(labels[0].name, "lgtm");
    let waits = sleeper.waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1);
    // reset is now+2 s, plus one second for truncation; the clock may have ticked since.
    assert!(
        waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_secs(3),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_spent_rate_limit_that_resets_too_late_fails_without_retrying() {
    let server = MockServer::start().await;
    let reset = (epoch_now() + 3600).to_string();
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/2"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_pull_request("acme", "foo", 2)
        .await
        .unwrap_err();
    match err {
        GitHubError::RateLimited {
            reset_in, max_wait, ..
        } => {
            assert!(reset_in > Duration::from_secs(3000), "{reset_in:?}");
            assert_eq!(max_wait, Duration::from_secs(5));
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sleeper = Arc::new(RecordingSleeper::default());
    let gh = OctocrabGitHub::builder(format!("http://127.0.0.1:{port}"))
        .credentials(Credentials::Token(TOKEN.to_owned()))
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            ..fast_policy()
        })
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    let err = gh.get_ref("acme", "foo", "heads/main").await.unwrap_err();
    match &err {
        GitHubError::Transport { attempts, .. } => assert_eq!(*attempts, 3),
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("acme/foo heads/main"), "{err}");
    assert_eq!(sleeper.waits.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_enterprise_base_path_prefixes_every_request_and_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/acme/foo/issues/5/labels"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}/api/v3/repos/acme/foo/issues/5/labels?per_page=100&page=2>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([{"name": "a"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/acme/foo/issues/5/labels"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"name": "b"}])))
        .expect(1)
        .mount(&server)
        .await;
    let gh = OctocrabGitHub::builder(format!("{}/api/v3", server.uri()))
        .credentials(Credentials::Token(TOKEN.to_owned()))
        .build()
        .unwrap();
    let names: Vec<String> = gh
        .get_issue_labels("acme", "foo", 5)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, vec!["a", "b"]);
}

#[tokio::test]
async fn the_token_never_appears_in_debug_output_or_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    let credentials = Credentials::Token(TOKEN.to_owned());
    let gh = OctocrabGitHub::builder(server.uri())
        .credentials(credentials.clone())
        .build()
        .unwrap();
    let err = gh.bot_login().await.unwrap_err();
    for shown in [
        format!("{credentials:?}"),
        format!("{gh:?}"),
        format!("{err:?}"),
        err.to_string(),
    ] {
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!shown.contains("test-token"), "{shown}");
    }
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn connect_reads_the_token_file_and_talks_to_the_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "prow-bot"})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, format!("{TOKEN}\n")).unwrap();
    let gh = prow_github::connect(&Settings {
        endpoint: server.uri(),
        token_path: Some(token_path),
        ..Settings::default()
    })
    .unwrap();
    assert_eq!(gh.bot_login().await.unwrap(), "prow-bot");
}

#[tokio::test]
async fn connect_without_credentials_records_instead_of_calling() {
    let server = MockServer::start().await;
    let gh = prow_github::connect(&Settings {
        endpoint: server.uri(),
        dry_run_trusted_users: vec!["alice".to_owned()],
        ..Settings::default()
    })
    .unwrap();
    gh.create_comment("acme", "foo", 1, "hello").await.unwrap();
    assert!(gh.is_org_member("acme", "alice").await.unwrap());
    assert!(!gh.is_org_member("acme", "mallory").await.unwrap());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_github_app_mints_an_installation_token_and_uses_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/99/access_tokens"))
        .and(wiremock::matchers::header_regex(
            "authorization",
            r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "ghs_installation-token",
            "expires_at": "2099-01-01T00:00:00Z",
            "permissions": {"issues": "write", "statuses": "write"},
            "repository_selection": "all"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 12, "slug": "my-prow", "name": "My Prow", "owner": {"login": "acme"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/5/labels"))
        .and(header("authorization", "Bearer ghs_installation-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"name": "lgtm"}])))
        .expect(2)
        .mount(&server)
        .await;

    let key_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/test-app-key.pem"
    );
    let credentials =
        Credentials::app_from_file(12, std::path::Path::new(key_path), Some(99)).unwrap();
    assert!(!format!("{credentials:?}").contains("PRIVATE KEY"));
    let gh = OctocrabGitHub::builder(server.uri())
        .credentials(credentials)
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    assert_eq!(gh.bot_login().await.unwrap(), "my-prow[bot]");
    gh.add_label("acme", "foo", 5, "lgtm").await.unwrap();
    // The minted token is cached: one token request for both calls.
    gh.add_label("acme", "foo", 5, "lgtm").await.unwrap();
}

#[tokio::test]
async fn a_dry_run_with_a_token_reads_github_but_writes_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(pull_request_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "prow-bot"})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, TOKEN).unwrap();
    let reads: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(server.uri())
            .credentials(Credentials::token_from_file(&token_path).unwrap())
            .build()
            .unwrap(),
    );
    let gh = prow_github::ReadOnlyGitHub::new(reads);
    assert_eq!(
        gh.get_pull_request("acme", "foo", 2).await.unwrap().number,
        2
    );
    let status = NewStatus::new("pull-foo-unit", StatusState::Pending);
    gh.create_status("acme", "foo", "abc", &status)
        .await
        .unwrap();
    let comment = gh.create_comment("acme", "foo", 2, "hi").await.unwrap();
    assert_eq!(comment.user.login, "prow-bot");
    gh.add_label("acme", "foo", 2, "lgtm").await.unwrap();

    let methods: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(methods, vec!["GET", "GET"]);
    let writes = gh.writes();
    assert_eq!(writes.len(), 3);
    assert!(matches!(&writes[0], prow_github::Call::CreateStatus { sha, .. } if sha == "abc"));

    // connect() picks the same wrapper for a dry run with credentials.
    let connected = prow_github::connect(&Settings {
        endpoint: server.uri(),
        token_path: Some(token_path),
        dry_run: true,
        ..Settings::default()
    })
    .unwrap();
    connected
        .remove_label("acme", "foo", 2, "lgtm")
        .await
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn deleting_a_comment_that_is_already_gone_is_ok() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/issues/comments/77"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .delete_comment("acme", "foo", 77)
        .await
        .unwrap();
}

#[tokio::test]
async fn half_given_app_credentials_are_a_setup_error() {
    let err = prow_github::connect(&Settings {
        app_id: Some(1),
        ..Settings::default()
    })
    .unwrap_err();
    assert!(matches!(err, GitHubError::Setup(_)), "{err:?}");
}

#[tokio::test]
async fn a_next_link_that_never_ends_is_an_error_not_a_hang() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/5/labels"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}/repos/acme/foo/issues/5/labels?per_page=100&page=2>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([])),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .get_issue_labels("acme", "foo", 5)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitHubError::TooManyPages { pages: 1000, .. }),
        "{err:?}"
    );
}

/// An object of a real webhook payload from `testdata/webhooks`, e.g. its `issue`. Read at
/// compile time: prow_testdata's runtime path follows wherever its cached build was made.
fn webhook_object(file: &str, key: &str) -> Value {
    let text = match file {
        "issue_comment.created.json" => {
            include_str!("../../../testdata/webhooks/issue_comment.created.json")
        }
        "pull_request_review.submitted.json" => {
            include_str!("../../../testdata/webhooks/pull_request_review.submitted.json")
        }
        other => panic!("no fixture {other}"),
    };
    let payload: Value = serde_json::from_str(text).unwrap();
    payload[key].clone()
}

fn logins(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn get_tree_lists_the_whole_tree_recursively_and_says_when_it_is_truncated() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/git/trees/9fb037999f264ba9a7fc6274d15fa3ae2ab98312"))
        .and(query_param("recursive", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": "9fb037999f264ba9a7fc6274d15fa3ae2ab98312",
            "url": "https://api.github.com/repos/acme/foo/trees/9fb037999f264ba9a7fc6274d15fa3ae2ab98312",
            "tree": [
                {"path": "OWNERS", "mode": "100644", "type": "blob", "size": 30,
                 "sha": "44b4fc6d56897b048c772eb4087f854f46256132", "url": "https://api.github.com/x"},
                {"path": "pkg", "mode": "040000", "type": "tree",
                 "sha": "f484d249c660418515fb01c2b9662073663c242e", "url": "https://api.github.com/y"},
                {"path": "pkg/OWNERS", "mode": "100644", "type": "blob", "size": 12,
                 "sha": "7c258a9869f33c1e1e1f74fbb32f07c86cb5a75b", "url": "https://api.github.com/z"},
                {"path": "vendor/lib", "mode": "160000", "type": "commit",
                 "sha": "1111111111111111111111111111111111111111"}
            ],
            "truncated": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/huge/git/trees/main"))
        .and(query_param("recursive", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": "abc", "tree": [], "truncated": true
        })))
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let tree = gh
        .get_tree("acme", "foo", "9fb037999f264ba9a7fc6274d15fa3ae2ab98312")
        .await
        .unwrap();
    assert!(!tree.truncated);
    let blobs: Vec<&str> = tree
        .entries
        .iter()
        .filter(|e| e.is_blob())
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(blobs, ["OWNERS", "pkg/OWNERS"]);
    assert_eq!(tree.entries[1].kind, "tree");
    assert_eq!(
        tree.entries[2].sha,
        "7c258a9869f33c1e1e1f74fbb32f07c86cb5a75b"
    );
    assert_eq!(tree.entries[0].size, Some(30));
    assert!(gh.get_tree("acme", "huge", "main").await.unwrap().truncated);
}

#[tokio::test]
async fn get_file_decodes_base64_at_the_ref_and_a_missing_file_is_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/contents/pkg/api/OWNERS"))
        .and(query_param("ref", "deadbeef"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "file", "encoding": "base64", "size": 24, "name": "OWNERS",
            "path": "pkg/api/OWNERS", "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
            // GitHub wraps base64 at 60 columns.
            "content": "YXBwcm92ZXJzOgotIGFsaWNl\nCnJldmlld2VyczogW2JvYl0K\n"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/contents/OWNERS_ALIASES"))
        .and(query_param("ref", "deadbeef"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/contents/pkg"))
        .and(query_param_is_missing("ref"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"type": "file", "name": "OWNERS", "path": "pkg/OWNERS"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/contents/big.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "file", "encoding": "none", "content": "", "size": 2_000_000
        })))
        .mount(&server)
        .await;

    let gh = client(&server);
    let owners = gh
        .get_file("acme", "foo", "deadbeef", "pkg/api/OWNERS")
        .await
        .unwrap();
    assert_eq!(
        owners.as_deref(),
        Some(b"approvers:\n- alice\nreviewers: [bob]\n".as_slice())
    );
    assert_eq!(
        gh.get_file("acme", "foo", "deadbeef", "OWNERS_ALIASES")
            .await
            .unwrap(),
        None
    );
    let dir = gh.get_file("acme", "foo", "", "pkg").await.unwrap_err();
    assert!(matches!(dir, GitHubError::Unexpected { .. }), "{dir:?}");
    assert!(dir.to_string().contains("directory"), "{dir}");
    let big = gh
        .get_file("acme", "foo", "main", "big.bin")
        .await
        .unwrap_err();
    assert!(big.to_string().contains("1 MB"), "{big}");
}

#[tokio::test]
async fn request_reviewers_posts_users_and_own_org_teams_together() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/pulls/5/requested_reviewers"))
        .and(body_json(
            json!({"reviewers": ["alice", "Bob"], "team_reviewers": ["sig-node"]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(pull_request_json()))
        .expect(1)
        .mount(&server)
        .await;
    let requested = client(&server)
        .request_reviewers(
            "acme",
            "foo",
            5,
            &logins(&["alice", "Bob", "acme/sig-node", "other-org/team"]),
        )
        .await
        .unwrap();
    // A team of another org cannot be asked: it is left out of the request and the answer.
    assert_eq!(requested, ["alice", "Bob", "acme/sig-node"]);
}

#[tokio::test]
async fn a_refused_review_request_is_retried_one_login_at_a_time() {
    let server = MockServer::start().await;
    let refused = || {
        ResponseTemplate::new(422).set_body_json(json!({
            "message": "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the acme/foo repository."
        }))
    };
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/pulls/5/requested_reviewers"))
        .and(body_json(
            json!({"reviewers": ["alice", "stranger"], "team_reviewers": []}),
        ))
        .respond_with(refused())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/pulls/5/requested_reviewers"))
        .and(body_json(
            json!({"reviewers": ["alice"], "team_reviewers": []}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(pull_request_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/pulls/5/requested_reviewers"))
        .and(body_json(
            json!({"reviewers": ["stranger"], "team_reviewers": []}),
        ))
        .respond_with(refused())
        .expect(1)
        .mount(&server)
        .await;
    let requested = client(&server)
        .request_reviewers("acme", "foo", 5, &logins(&["alice", "stranger"]))
        .await
        .unwrap();
    assert_eq!(requested, ["alice"]);
}

#[tokio::test]
async fn unrequest_reviewers_deletes_and_reports_who_is_still_requested() {
    let server = MockServer::start().await;
    let mut after = pull_request_json();
    after["requested_reviewers"] = json!([{"login": "Carol", "id": 3, "type": "User"}]);
    after["requested_teams"] = json!([{"slug": "sig-node", "name": "sig-node", "id": 9}]);
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/pulls/5/requested_reviewers"))
        .and(body_json(
            json!({"reviewers": ["alice", "carol"], "team_reviewers": ["sig-node"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(after))
        .expect(1)
        .mount(&server)
        .await;
    let still = client(&server)
        .unrequest_reviewers(
            "acme",
            "foo",
            5,
            &logins(&["alice", "carol", "acme/sig-node"]),
        )
        .await
        .unwrap();
    assert_eq!(still, ["carol", "acme/sig-node"]);
}

#[tokio::test]
async fn add_assignees_returns_only_who_github_really_assigned() {
    let server = MockServer::start().await;
    let mut issue = webhook_object("issue_comment.created.json", "issue");
    issue["assignees"] = json!([
        {"login": "Codertocat", "id": 21031067, "type": "User"},
        {"login": "Alice", "id": 2, "type": "User"}
    ]);
    Mock::given(method("POST"))
        .and(path("/repos/Codertocat/Hello-World/issues/1/assignees"))
        .and(body_json(
            json!({"assignees": ["alice", "not-a-collaborator"]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(&issue))
        .expect(1)
        .mount(&server)
        .await;
    issue["assignees"] = json!([{"login": "Codertocat", "id": 21031067, "type": "User"}]);
    Mock::given(method("DELETE"))
        .and(path("/repos/Codertocat/Hello-World/issues/1/assignees"))
        .and(body_json(json!({"assignees": ["@alice", "codertocat"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&issue))
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let assigned = gh
        .add_assignees(
            "Codertocat",
            "Hello-World",
            1,
            &logins(&["alice", "not-a-collaborator"]),
        )
        .await
        .unwrap();
    assert_eq!(assigned, ["alice"]);
    let still = gh
        .remove_assignees(
            "Codertocat",
            "Hello-World",
            1,
            &logins(&["@alice", "codertocat"]),
        )
        .await
        .unwrap();
    assert_eq!(still, ["codertocat"]);
}

#[tokio::test]
async fn get_issue_reads_assignees_labels_and_whether_it_is_a_pull_request() {
    let server = MockServer::start().await;
    let issue = webhook_object("issue_comment.created.json", "issue");
    let mut pull = issue.clone();
    pull["number"] = json!(2);
    pull["body"] = Value::Null;
    pull["pull_request"] = json!({
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2",
        "html_url": "https://github.com/Codertocat/Hello-World/pull/2"
    });
    Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/issues/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&issue))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/issues/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&pull))
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let got = gh.get_issue("Codertocat", "Hello-World", 1).await.unwrap();
    assert_eq!(got.title, "Spelling error in the README file");
    assert_eq!(got.user.login, "Codertocat");
    assert_eq!(got.state, prow_github::IssueState::Open);
    assert_eq!(got.labels[0].name, "bug");
    assert!(got.is_assignee("@codertocat"));
    assert!(!got.is_pull_request());
    let pr = gh.get_issue("Codertocat", "Hello-World", 2).await.unwrap();
    assert!(pr.is_pull_request());
    assert_eq!(pr.body, "");
}

#[tokio::test]
async fn list_reviews_reads_every_page_in_rest_and_webhook_spelling() {
    let server = MockServer::start().await;
    let webhook_review = webhook_object("pull_request_review.submitted.json", "review");
    let mut approved = webhook_review.clone();
    approved["id"] = json!(2);
    approved["state"] = json!("APPROVED");
    approved["body"] = json!("/lgtm");
    let next = format!(
        "<{}/repos/Codertocat/Hello-World/pulls/2/reviews?per_page=100&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/pulls/2/reviews"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([webhook_review])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/pulls/2/reviews"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([approved])))
        .expect(1)
        .mount(&server)
        .await;

    let reviews = client(&server)
        .list_reviews("Codertocat", "Hello-World", 2)
        .await
        .unwrap();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[0].state, prow_github::ReviewState::Commented);
    assert_eq!(reviews[0].body, "");
    assert_eq!(reviews[0].user.login, "Codertocat");
    assert_eq!(
        reviews[0].commit_id,
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    );
    assert_eq!(
        reviews[0].submitted_at.as_deref(),
        Some("2019-05-15T15:20:38Z")
    );
    assert_eq!(reviews[1].state, prow_github::ReviewState::Approved);
    assert_eq!(reviews[1].body, "/lgtm");
}

#[tokio::test]
async fn collaborators_and_team_members_are_listed_over_all_pages() {
    let server = MockServer::start().await;
    let next = format!(
        "<{}/repos/acme/foo/collaborators?per_page=100&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/collaborators"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([{"login": "alice", "id": 1, "type": "User",
                    "permissions": {"admin": false, "push": true, "pull": true}}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/collaborators"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"login": "bob", "id": 2, "type": "User"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/sig-node/members"))
        .and(query_param("per_page", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"login": "carol", "id": 3, "type": "User"}])),
        )
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let collaborators: Vec<String> = gh
        .list_collaborators("acme", "foo")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(collaborators, ["alice", "bob"]);
    let members = gh.list_team_members("acme", "sig-node").await.unwrap();
    assert_eq!(members[0].login, "carol");
}

#[tokio::test]
async fn a_read_only_github_reads_trees_but_only_records_review_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/contents/OWNERS"))
        .and(query_param("ref", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "file", "encoding": "base64", "content": "YXBwcm92ZXJzOgo="
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Any write reaching the server fails the test through this expectation.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let gh = prow_github::ReadOnlyGitHub::new(Arc::new(client(&server)));
    assert_eq!(
        gh.get_file("acme", "foo", "abc", "OWNERS").await.unwrap(),
        Some(b"approvers:\n".to_vec())
    );
    let asked = logins(&["alice"]);
    assert_eq!(
        gh.request_reviewers("acme", "foo", 5, &asked)
            .await
            .unwrap(),
        asked
    );
    assert_eq!(
        gh.add_assignees("acme", "foo", 5, &asked).await.unwrap(),
        asked
    );
    assert_eq!(gh.writes().len(), 2);
}

#[tokio::test]
async fn repo_labels_are_read_across_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/labels"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}/repos/acme/foo/labels?per_page=100&page=2>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([
                    {"id": 1, "name": "sig/testing", "color": "d2b48c", "default": false}
                ])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/labels"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 2, "name": "area/owners", "color": "0052cc", "default": false}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let labels = client(&server)
        .get_repo_labels("acme", "foo")
        .await
        .unwrap();
    let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["sig/testing", "area/owners"]);
    assert_eq!(labels[0].color, "d2b48c");
}

/// A `Link` header announcing `next_path` (a path and query on the mock server).
fn next_link(server: &MockServer, next_path: &str) -> String {
    format!("<{}{next_path}>; rel=\"next\"", server.uri())
}

#[tokio::test]
async fn pull_request_commits_are_listed_over_pages_with_identities_and_parents() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/7/commits"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    next_link(&server, "/repositories/1/pulls/7/commits?per_page=100&page=2")
                        .as_str(),
                )
                .set_body_json(json!([{
                    "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                    "node_id": "MDY6Q29tbWl0NmRjYjA5YjViNTc4NzVmMzM0ZjYxYWViZWQ2OTVlMmU0MTkzZGI1ZQ==",
                    "commit": {
                        "author": {"name": "Monalisa Octocat", "email": "mona@github.com", "date": "2011-04-14T16:00:49Z"},
                        "committer": {"name": "Monalisa Octocat", "email": "mona@github.com", "date": "2011-04-14T16:00:49Z"},
                        "message": "Fix all the bugs\n\nSigned-off-by: Monalisa Octocat <mona@github.com>",
                        "tree": {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
                        "comment_count": 0,
                        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null}
                    },
                    "author": {"login": "octocat", "id": 1, "type": "User"},
                    "committer": {"login": "octocat", "id": 1, "type": "User"},
                    "parents": [{"sha": "7638417db6d59f3c431d3e1f261cc637155684cd", "url": "https://x"}]
                }])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repositories/1/pulls/7/commits"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "sha": "a0b1",
            "commit": {
                "author": {"name": "Someone", "email": "someone@example.com", "date": "2011-04-15T16:00:49Z"},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2011-04-15T16:00:49Z"},
                "message": "Merge branch 'main' into fix"
            },
            "author": null,
            "committer": {"login": "web-flow", "id": 19864447, "type": "User"},
            "parents": [{"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"}, {"sha": "ffff"}]
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let commits = client(&server)
        .list_pull_request_commits("acme", "foo", 7)
        .await
        .unwrap();
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].sha, "6dcb09b5b57875f334f61aebed695e2e4193db5e");
    assert!(commits[0].message.contains("Signed-off-by: Monalisa"));
    assert_eq!(commits[0].author.login.as_deref(), Some("octocat"));
    assert_eq!(commits[0].author.email, "mona@github.com");
    assert_eq!(commits[0].committer.name, "Monalisa Octocat");
    assert_eq!(
        commits[0].parents,
        ["7638417db6d59f3c431d3e1f261cc637155684cd"]
    );
    assert!(!commits[0].is_merge());
    // An email GitHub matches to no account leaves the login out.
    assert_eq!(commits[1].author.login, None);
    assert_eq!(commits[1].author.email, "someone@example.com");
    assert_eq!(commits[1].committer.login.as_deref(), Some("web-flow"));
    assert!(commits[1].is_merge());
}

#[tokio::test]
async fn edit_issue_patches_only_the_given_fields_and_clears_a_milestone_with_null() {
    let server = MockServer::start().await;
    let bodies = [
        json!({"title": "Better title"}),
        json!({"state": "closed", "state_reason": "completed"}),
        json!({"state": "open"}),
        json!({"milestone": 3}),
        json!({"milestone": null}),
    ];
    for body in &bodies {
        Mock::given(method("PATCH"))
            .and(path("/repos/acme/foo/issues/12"))
            .and(body_json(body))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(webhook_object("issue_comment.created.json", "issue")),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let gh = client(&server);
    let edits = [
        prow_github::IssueEdit::title("Better title"),
        prow_github::IssueEdit::close(),
        prow_github::IssueEdit::reopen(),
        prow_github::IssueEdit::milestone(Some(3)),
        prow_github::IssueEdit::milestone(None),
    ];
    for edit in &edits {
        gh.edit_issue("acme", "foo", 12, edit).await.unwrap();
    }

    Mock::given(method("PATCH"))
        .and(path("/repos/acme/foo/issues/13"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "code": "custom", "field": "state",
                        "message": "state cannot be changed. The head repository does not exist."}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = gh
        .edit_issue("acme", "foo", 13, &prow_github::IssueEdit::reopen())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
}

#[tokio::test]
async fn milestones_are_listed_in_every_state() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/milestones"))
        .and(query_param("state", "all"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"number": 1, "title": "v1.0", "state": "closed", "open_issues": 0, "closed_issues": 8},
            {"number": 2, "title": "v1.1", "state": "open", "description": null, "due_on": null}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let milestones = client(&server)
        .list_milestones("acme", "foo")
        .await
        .unwrap();
    assert_eq!(
        milestones,
        [
            prow_github::Milestone {
                number: 1,
                title: "v1.0".to_owned(),
                state: prow_github::IssueState::Closed,
            },
            prow_github::Milestone {
                number: 2,
                title: "v1.1".to_owned(),
                state: prow_github::IssueState::Open,
            },
        ]
    );
}

#[tokio::test]
async fn list_pull_requests_filters_by_state_and_base_and_reads_what_tide_needs() {
    let server = MockServer::start().await;
    let mut pr = pull_request_json();
    pr["milestone"] = json!({"number": 4, "title": "v1.2", "state": "open"});
    pr["mergeable_state"] = json!("clean");
    pr["mergeable"] = json!(true);
    pr["draft"] = json!(true);
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls"))
        .and(query_param("state", "open"))
        .and(query_param("base", "release/1.2"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([pr])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls"))
        .and(query_param("state", "all"))
        .and(query_param_is_missing("base"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    let prs = gh
        .list_pull_requests(
            "acme",
            "foo",
            &prow_github::PullRequestQuery::open_into("release/1.2"),
        )
        .await
        .unwrap();
    assert_eq!(prs.len(), 1);
    let got = &prs[0];
    assert_eq!(got.number, 2);
    assert_eq!(got.title, "Update the README with new information.");
    assert_eq!(got.user.login, "Codertocat");
    assert_eq!(got.head.sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    assert_eq!(got.head.git_ref, "changes");
    assert_eq!(got.base.git_ref, "master");
    assert!(got.draft);
    assert_eq!(got.mergeable, Some(true));
    assert_eq!(got.mergeable_state, "clean");
    assert_eq!(got.milestone_title(), Some("v1.2"));
    assert!(!got.merged);
    assert_eq!(got.updated_at, "2019-05-15T15:20:33Z");
    assert_eq!(
        got.html_url,
        "https://github.com/Codertocat/Hello-World/pull/2"
    );
    let all = prow_github::PullRequestQuery {
        state: prow_github::StateFilter::All,
        base: None,
    };
    assert!(
        gh.list_pull_requests("acme", "foo", &all)
            .await
            .unwrap()
            .is_empty()
    );
}

fn search_item(number: u64) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/acme/foo/issues/{number}"),
        "repository_url": "https://api.github.com/repos/acme/foo",
        "number": number,
        "title": "Fix",
        "state": "open",
        "user": {"login": "bob", "id": 2, "type": "User"},
        "labels": [{"id": 1, "name": "lgtm", "color": "15dd18"}],
        "pull_request": {"url": "https://api.github.com/repos/acme/foo/pulls/1", "html_url": "https://github.com/acme/foo/pull/1"},
        "updated_at": "2024-01-02T03:04:05Z",
        "score": 1.0
    })
}

#[tokio::test]
async fn search_issues_reads_hits_and_stops_at_githubs_1000_cap() {
    let server = MockServer::start().await;
    let query = "is:pr is:open repo:acme/foo label:lgtm -label:do-not-merge/hold";
    for page in 1..=11u64 {
        let items: Vec<Value> = (1..=100)
            .map(|i| search_item((page - 1) * 100 + i))
            .collect();
        let next = format!("/search/issues?q=x&per_page=100&page={}", page + 1);
        let mut mock = Mock::given(method("GET")).and(path("/search/issues"));
        mock = if page == 1 {
            mock.and(query_param("q", query))
                .and(query_param("per_page", "100"))
                .and(query_param_is_missing("page"))
        } else {
            mock.and(query_param("page", page.to_string().as_str()))
        };
        mock.respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next_link(&server, &next).as_str())
                .set_body_json(json!({
                    "total_count": 2500, "incomplete_results": false, "items": items
                })),
        )
        // GitHub refuses pages past the 1000th hit, so the 11th is never asked for.
        .expect(u64::from(page <= 10))
        .mount(&server)
        .await;
    }
    let hits = client(&server).search_issues(query).await.unwrap();
    assert_eq!(hits.len(), 1000);
    assert_eq!(hits[0].number, 1);
    assert_eq!(hits[999].number, 1000);
    assert_eq!(hits[0].repository().as_deref(), Some("acme/foo"));
    assert!(hits[0].is_pull_request());
    assert!(hits[0].has_label("lgtm"));
    assert_eq!(hits[0].user.login, "bob");
    assert_eq!(hits[0].state, prow_github::IssueState::Open);
}

#[tokio::test]
async fn merge_pull_request_puts_sha_and_method_and_reads_the_merge_commit() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/repos/acme/foo/pulls/7/merge"))
        .and(body_json(json!({
            "sha": "headsha", "merge_method": "squash", "commit_title": "Fix (#7)"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "merged": true,
            "message": "Pull Request successfully merged"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let request = prow_github::MergeRequest {
        sha: Some("headsha".to_owned()),
        merge_method: Some(prow_github::MergeMethod::Squash),
        commit_title: Some("Fix (#7)".to_owned()),
        commit_message: None,
    };
    let outcome = client(&server)
        .merge_pull_request("acme", "foo", 7, &request)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        prow_github::MergeOutcome::Merged {
            sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e".to_owned()
        }
    );
}

#[tokio::test]
async fn merge_refusals_are_told_apart_405_not_mergeable_or_base_modified_409_head_modified() {
    use prow_github::MergeOutcome;
    let server = MockServer::start().await;
    let answers = [
        (1, 405, "Pull Request is not mergeable"),
        (
            2,
            405,
            "Base branch was modified. Review and try the merge again.",
        ),
        (
            3,
            409,
            "Head branch was modified. Review and try the merge again.",
        ),
        (4, 404, "Not Found"),
    ];
    for (number, status, message) in answers {
        Mock::given(method("PUT"))
            .and(path(format!("/repos/acme/foo/pulls/{number}/merge")))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let gh = client(&server);
    let request = prow_github::MergeRequest {
        sha: Some("headsha".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        gh.merge_pull_request("acme", "foo", 1, &request)
            .await
            .unwrap(),
        MergeOutcome::NotMergeable {
            message: "Pull Request is not mergeable".to_owned()
        }
    );
    assert!(matches!(
        gh.merge_pull_request("acme", "foo", 2, &request)
            .await
            .unwrap(),
        MergeOutcome::BaseBranchModified { .. }
    ));
    assert!(matches!(
        gh.merge_pull_request("acme", "foo", 3, &request).await.unwrap(),
        MergeOutcome::HeadModified { message } if message.starts_with("Head branch was modified")
    ));
    let err = gh
        .merge_pull_request("acme", "foo", 4, &request)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn check_runs_are_collected_from_every_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/commits/headsha/check-runs"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    next_link(
                        &server,
                        "/repositories/1/commits/headsha/check-runs?per_page=100&page=2",
                    )
                    .as_str(),
                )
                .set_body_json(json!({
                    "total_count": 2,
                    "check_runs": [{
                        "id": 4, "head_sha": "headsha", "name": "build", "status": "completed",
                        "conclusion": "success", "details_url": "https://ci.example.com/4",
                        "html_url": "https://github.com/acme/foo/runs/4",
                        "app": {"slug": "ci"}, "pull_requests": []
                    }]
                })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repositories/1/commits/headsha/check-runs"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 2,
            "check_runs": [{
                "id": 5, "head_sha": "headsha", "name": "lint", "status": "in_progress",
                "conclusion": null, "details_url": null, "html_url": null
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let runs = client(&server)
        .list_check_runs("acme", "foo", "headsha")
        .await
        .unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = runs
        .iter()
        .map(|r| (r.name.as_str(), r.status.as_str(), r.conclusion.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("build", "completed", Some("success")),
            ("lint", "in_progress", None)
        ]
    );
    assert_eq!(runs[0].details_url, "https://ci.example.com/4");
}

#[tokio::test]
async fn branch_protection_is_read_with_contexts_of_both_lists_and_unprotected_is_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/branches/release/1.0/protection"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": "https://api.github.com/repos/acme/foo/branches/release/1.0/protection",
            "required_status_checks": {
                "url": "https://x", "strict": true,
                "contexts": ["tide", "pull-foo-unit"],
                "checks": [{"context": "tide", "app_id": null}, {"context": "build", "app_id": 15368}],
                "contexts_url": "https://x/contexts"
            },
            "enforce_admins": {"url": "https://x", "enabled": true},
            "required_pull_request_reviews": {
                "url": "https://x",
                "dismissal_restrictions": {"users": [{"login": "alice"}], "teams": [{"slug": "leads"}], "apps": []},
                "dismiss_stale_reviews": true,
                "require_code_owner_reviews": false,
                "required_approving_review_count": 2,
                "require_last_push_approval": false
            },
            "restrictions": {
                "url": "https://x",
                "users": [{"login": "k8s-ci-robot"}], "teams": [], "apps": [{"slug": "prow"}]
            },
            "required_linear_history": {"enabled": false},
            "allow_force_pushes": {"enabled": true},
            "allow_deletions": {"enabled": false},
            "required_signatures": {"url": "https://x", "enabled": false}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/branches/dev/protection"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Branch not protected",
            "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/branches/secret/protection"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    let protection = gh
        .get_branch_protection("acme", "foo", "release/1.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        protection.required_contexts(),
        ["tide", "pull-foo-unit", "build"]
    );
    assert!(protection.required_status_checks.as_ref().unwrap().strict);
    assert!(protection.enforce_admins);
    assert!(protection.allow_force_pushes);
    assert!(!protection.allow_deletions);
    let reviews = protection.required_pull_request_reviews.unwrap();
    assert_eq!(reviews.required_approving_review_count, 2);
    assert!(reviews.dismiss_stale_reviews);
    let dismissal = reviews.dismissal_restrictions.unwrap();
    assert_eq!(dismissal.users, ["alice"]);
    assert_eq!(dismissal.teams, ["leads"]);
    let restrictions = protection.restrictions.unwrap();
    assert_eq!(restrictions.users, ["k8s-ci-robot"]);
    assert_eq!(restrictions.apps, ["prow"]);

    assert_eq!(
        gh.get_branch_protection("acme", "foo", "dev")
            .await
            .unwrap(),
        None
    );
    // Any other 404 (a token that may not read protection) must not read as unprotected.
    let err = gh
        .get_branch_protection("acme", "foo", "secret")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn branch_protection_is_replaced_with_put_and_removed_with_delete() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/repos/acme/foo/branches/main/protection"))
        .and(body_json(json!({
            "required_status_checks": {"strict": false, "contexts": ["tide", "pull-foo-unit"]},
            "enforce_admins": true,
            "required_pull_request_reviews": {
                "dismissal_restrictions": {"users": ["alice"], "teams": []},
                "dismiss_stale_reviews": false,
                "require_code_owner_reviews": true,
                "required_approving_review_count": 1,
                "bypass_pull_request_allowances": {}
            },
            "restrictions": null,
            "required_linear_history": false,
            "allow_force_pushes": false,
            "allow_deletions": false
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"url": "https://x"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/branches/old/protection"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    let request = prow_github::BranchProtectionRequest {
        required_status_checks: Some(prow_github::RequiredStatusChecks {
            strict: false,
            contexts: vec!["tide".to_owned(), "pull-foo-unit".to_owned()],
        }),
        enforce_admins: Some(true),
        required_pull_request_reviews: Some(prow_github::RequiredReviewsRequest {
            dismissal_restrictions: prow_github::RestrictionsRequest {
                users: Some(vec!["alice".to_owned()]),
                teams: Some(vec![]),
                apps: None,
            },
            require_code_owner_reviews: true,
            required_approving_review_count: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    gh.update_branch_protection("acme", "foo", "main", &request)
        .await
        .unwrap();
    gh.remove_branch_protection("acme", "foo", "old")
        .await
        .unwrap();
}

#[tokio::test]
async fn signed_commits_are_required_with_post_and_released_with_delete() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/repos/acme/foo/branches/release/1.0/protection/required_signatures",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"enabled": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(
            "/repos/acme/foo/branches/main/protection/required_signatures",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/repos/acme/foo/branches/gone/protection/required_signatures",
        ))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not protected"})),
        )
        .mount(&server)
        .await;
    let gh = client(&server);
    gh.set_required_signatures("acme", "foo", "release/1.0", true)
        .await
        .unwrap();
    gh.set_required_signatures("acme", "foo", "main", false)
        .await
        .unwrap();
    let err = gh
        .set_required_signatures("acme", "foo", "gone", true)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn git_commits_are_read_and_created_and_refs_created_moved_and_deleted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/git/commits/7638417db6d59f3c431d3e1f261cc637155684cd"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": "7638417db6d59f3c431d3e1f261cc637155684cd",
            "node_id": "x",
            "url": "https://x",
            "author": {"date": "2014-11-07T22:01:45Z", "name": "Monalisa Octocat", "email": "octocat@github.com"},
            "committer": {"date": "2014-11-07T22:01:45Z", "name": "Monalisa Octocat", "email": "octocat@github.com"},
            "message": "added readme, because im a good github citizen",
            "tree": {"url": "https://x", "sha": "691272480426f78a0138979dd3ce63b77f706feb"},
            "parents": [{"url": "https://x", "html_url": "https://y", "sha": "1acc419d4d6a9ce985db7be48c6349a0475975b5"}],
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/git/commits"))
        .and(body_json(json!({
            "message": "Fix (cherry-pick of #7)",
            "tree": "691272480426f78a0138979dd3ce63b77f706feb",
            "parents": ["1acc419d4d6a9ce985db7be48c6349a0475975b5"],
            "author": {"name": "Monalisa Octocat", "email": "octocat@github.com", "date": "2014-11-07T22:01:45Z"}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sha": "newcommitsha", "tree": {"sha": "691272480426f78a0138979dd3ce63b77f706feb"},
            "parents": [{"sha": "1acc419d4d6a9ce985db7be48c6349a0475975b5"}], "message": "Fix (cherry-pick of #7)"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/git/refs"))
        .and(body_json(json!({"ref": "refs/heads/cherry-pick-7-to-release", "sha": "newcommitsha"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "ref": "refs/heads/cherry-pick-7-to-release", "object": {"sha": "newcommitsha", "type": "commit"}
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/foo/git/refs/heads/cherry-pick-7-to-release"))
        .and(body_json(json!({"sha": "othersha", "force": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ref": "refs/heads/cherry-pick-7-to-release", "object": {"sha": "othersha", "type": "commit"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(
            "/repos/acme/foo/git/refs/heads/cherry-pick-7-to-release",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/foo/git/refs/heads/gone"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Reference does not exist",
            "documentation_url": "https://docs.github.com/rest/git/refs#delete-a-reference"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/foo/git/refs/heads/main"))
        .and(body_json(json!({"sha": "notafastforward", "force": false})))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"message": "Update is not a fast forward"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let gh = client(&server);
    let commit = gh
        .get_commit("acme", "foo", "7638417db6d59f3c431d3e1f261cc637155684cd")
        .await
        .unwrap();
    assert_eq!(commit.tree, "691272480426f78a0138979dd3ce63b77f706feb");
    assert_eq!(commit.parents, ["1acc419d4d6a9ce985db7be48c6349a0475975b5"]);
    assert_eq!(commit.author.email, "octocat@github.com");
    assert!(commit.message.starts_with("added readme"));

    let new = prow_github::NewCommit {
        message: "Fix (cherry-pick of #7)".to_owned(),
        tree: commit.tree.clone(),
        parents: commit.parents.clone(),
        author: Some(commit.author.clone()),
        committer: None,
    };
    let sha = gh.create_commit("acme", "foo", &new).await.unwrap();
    assert_eq!(sha, "newcommitsha");
    gh.create_ref("acme", "foo", "refs/heads/cherry-pick-7-to-release", &sha)
        .await
        .unwrap();
    // The short form is completed to the full ref name GitHub requires.
    gh.create_ref("acme", "foo", "heads/cherry-pick-7-to-release", &sha)
        .await
        .unwrap();
    gh.update_ref(
        "acme",
        "foo",
        "heads/cherry-pick-7-to-release",
        "othersha",
        true,
    )
    .await
    .unwrap();
    gh.delete_ref("acme", "foo", "heads/cherry-pick-7-to-release")
        .await
        .unwrap();
    gh.delete_ref("acme", "foo", "refs/heads/gone")
        .await
        .unwrap();
    let err = gh
        .update_ref("acme", "foo", "heads/main", "notafastforward", false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(err.message(), Some("Update is not a fast forward"));
}

#[tokio::test]
async fn merging_branches_reads_201_as_merged_204_as_nothing_to_merge_and_409_as_conflict() {
    use prow_github::MergeBranchOutcome;
    let server = MockServer::start().await;
    let answers = [
        (
            "feature",
            ResponseTemplate::new(201).set_body_json(json!({
                "sha": "mergesha", "commit": {"message": "Merge feature"}, "parents": [{"sha": "a"}, {"sha": "b"}]
            })),
        ),
        ("merged-already", ResponseTemplate::new(204)),
        (
            "conflicting",
            ResponseTemplate::new(409).set_body_json(json!({"message": "Merge conflict"})),
        ),
    ];
    for (head, answer) in answers {
        Mock::given(method("POST"))
            .and(path("/repos/acme/foo/merges"))
            .and(body_json(
                json!({"base": "main", "head": head, "commit_message": "Merge it"}),
            ))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/merges"))
        .and(body_json(json!({"base": "main", "head": "missing"})))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Head does not exist"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    assert_eq!(
        gh.merge_branches("acme", "foo", "main", "feature", "Merge it")
            .await
            .unwrap(),
        MergeBranchOutcome::Merged {
            sha: "mergesha".to_owned()
        }
    );
    assert_eq!(
        gh.merge_branches("acme", "foo", "main", "merged-already", "Merge it")
            .await
            .unwrap(),
        MergeBranchOutcome::NothingToMerge
    );
    assert_eq!(
        gh.merge_branches("acme", "foo", "main", "conflicting", "Merge it")
            .await
            .unwrap(),
        MergeBranchOutcome::Conflict {
            message: "Merge conflict".to_owned()
        }
    );
    // An empty message leaves GitHub's default; a missing head is an error.
    let err = gh
        .merge_branches("acme", "foo", "main", "missing", "")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn create_pull_request_posts_title_head_base_body_and_maintainer_can_modify() {
    let server = MockServer::start().await;
    let mut created = pull_request_json();
    created["number"] = json!(8);
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/pulls"))
        .and(body_json(json!({
            "title": "[release-1.0] Fix",
            "head": "cherry-pick-7-to-release-1.0",
            "base": "release-1.0",
            "body": "This is an automated cherry-pick of #7",
            "maintainer_can_modify": true,
            "draft": false
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(&created))
        .expect(1)
        .mount(&server)
        .await;
    let pr = client(&server)
        .create_pull_request(
            "acme",
            "foo",
            &prow_github::NewPullRequest {
                title: "[release-1.0] Fix".to_owned(),
                head: "cherry-pick-7-to-release-1.0".to_owned(),
                base: "release-1.0".to_owned(),
                body: "This is an automated cherry-pick of #7".to_owned(),
                maintainer_can_modify: true,
                draft: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(pr.number, 8);
}

#[tokio::test]
async fn the_patch_is_asked_for_in_the_patch_media_type_and_returned_verbatim() {
    let server = MockServer::start().await;
    let patch = "From 6dcb09b5b57875f334f61aebed695e2e4193db5e Mon Sep 17 00:00:00 2001\nFrom: Monalisa Octocat <mona@github.com>\nSubject: [PATCH] Fix\n\n---\n README | 1 +\n";
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/7"))
        .and(header("accept", "application/vnd.github.v3.patch"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/x-patch; charset=utf-8")
                .set_body_string(patch),
        )
        .expect(1)
        .mount(&server)
        .await;
    let got = client(&server)
        .get_pull_request_patch("acme", "foo", 7)
        .await
        .unwrap();
    assert_eq!(got, patch);
}

#[tokio::test]
async fn issue_events_are_listed_with_actor_label_and_time() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/7/events"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "event": "labeled", "actor": {"login": "alice", "id": 3},
             "label": {"name": "approved", "color": "0ffa16"}, "created_at": "2024-01-02T03:04:05Z",
             "commit_id": null},
            {"id": 2, "event": "closed", "actor": null, "created_at": "2024-01-03T03:04:05Z",
             "commit_id": null}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let events = client(&server)
        .list_issue_events("acme", "foo", 7)
        .await
        .unwrap();
    assert_eq!(events[0].event, "labeled");
    assert_eq!(events[0].actor.login, "alice");
    assert_eq!(events[0].label_name(), Some("approved"));
    assert_eq!(events[0].created_at, "2024-01-02T03:04:05Z");
    assert_eq!(events[1].event, "closed");
    assert_eq!(events[1].actor.login, "");
    assert_eq!(events[1].label_name(), None);
}

#[tokio::test]
async fn a_read_only_github_reads_protection_and_heads_but_records_merges_and_ref_changes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/branches/main/protection"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not protected"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/pulls/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(pull_request_json()))
        .expect(2)
        .mount(&server)
        .await;
    // Any write reaching the server fails the test through these expectations.
    for verb in ["POST", "PUT", "PATCH", "DELETE"] {
        Mock::given(method(verb))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
    }
    let gh = prow_github::ReadOnlyGitHub::new(Arc::new(client(&server)));
    assert_eq!(
        gh.get_branch_protection("acme", "foo", "main")
            .await
            .unwrap(),
        None
    );
    let head = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
    let merge = |sha: &str| prow_github::MergeRequest {
        sha: Some(sha.to_owned()),
        ..Default::default()
    };
    assert!(
        gh.merge_pull_request("Codertocat", "Hello-World", 2, &merge(head))
            .await
            .unwrap()
            .is_merged()
    );
    assert!(matches!(
        gh.merge_pull_request("Codertocat", "Hello-World", 2, &merge("stale"))
            .await
            .unwrap(),
        prow_github::MergeOutcome::HeadModified { .. }
    ));
    gh.create_ref("acme", "foo", "refs/heads/x", "abc")
        .await
        .unwrap();
    gh.update_ref("acme", "foo", "heads/x", "def", true)
        .await
        .unwrap();
    gh.delete_ref("acme", "foo", "heads/x").await.unwrap();
    gh.edit_issue("acme", "foo", 2, &prow_github::IssueEdit::close())
        .await
        .unwrap();
    gh.remove_branch_protection("acme", "foo", "main")
        .await
        .unwrap();
    let writes = gh.writes();
    assert_eq!(writes.len(), 7, "{writes:?}");
    assert!(
        matches!(&writes[2], prow_github::Call::CreateRef { git_ref, .. } if git_ref == "refs/heads/x")
    );
}

#[tokio::test]
async fn org_repos_and_branches_are_listed_over_pages_with_archived_and_protected() {
    let server = MockServer::start().await;
    let next = format!(
        "<{}/orgs/acme/repos?per_page=100&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "old", "full_name": "acme/old", "archived": true, "private": false}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([
                    {"name": "foo", "full_name": "acme/foo", "archived": false, "private": true}
                ])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/branches"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "main", "commit": {"sha": "abc", "url": "x"}, "protected": true},
            {"name": "release-1.0", "commit": {"sha": "def", "url": "y"}, "protected": false}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    let repos = gh.list_org_repos("acme").await.unwrap();
    assert_eq!(
        repos,
        [
            prow_github::OrgRepo {
                name: "foo".to_owned(),
                archived: false,
                private: true,
            },
            prow_github::OrgRepo {
                name: "old".to_owned(),
                archived: true,
                private: false,
            },
        ]
    );
    let branches = gh.list_branches("acme", "foo").await.unwrap();
    assert_eq!(
        branches,
        [
            prow_github::Branch {
                name: "main".to_owned(),
                protected: true,
            },
            prow_github::Branch {
                name: "release-1.0".to_owned(),
                protected: false,
            },
        ]
    );
}

#[tokio::test]
async fn user_permission_reads_githubs_permission_and_an_unknown_user_is_404() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/collaborators/alice/permission"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "permission": "admin", "role_name": "admin", "user": {"login": "alice", "id": 1}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/collaborators/ghost/permission"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    let gh = client(&server);
    assert_eq!(
        gh.user_permission("acme", "foo", "alice").await.unwrap(),
        "admin"
    );
    let err = gh
        .user_permission("acme", "foo", "ghost")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

/// One entry of GitHub's deliveries list.
fn hook_delivery_json(id: u64, guid: &str, at: &str, code: u16, redelivery: bool) -> Value {
    json!({"id": id, "guid": guid, "delivered_at": at, "redelivery": redelivery,
           "duration": 0.05, "status": if code == 0 { "failed to connect to host" } else { "OK" },
           "status_code": code, "event": "pull_request", "action": "opened",
           "installation_id": null, "repository_id": 77, "throttled_at": null})
}

/// A repository hook's deliveries are read page by page along the `cursor` of `Link` until a
/// page reaches `since`; the next page is never asked for.
#[tokio::test]
async fn repo_hook_deliveries_follow_the_cursor_and_stop_at_since() {
    let server = MockServer::start().await;
    let next = |cursor: &str| {
        format!(
            "<{}/repos/acme/widgets/hooks/42/deliveries?per_page=100&cursor={cursor}>; rel=\"next\"",
            server.uri()
        )
    };
    let page = |cursor: Option<&str>, body: Value, link: Option<String>| {
        let mut answer = ResponseTemplate::new(200).set_body_json(body);
        if let Some(link) = link {
            answer = answer.insert_header("link", link.as_str());
        }
        let mock = Mock::given(method("GET"))
            .and(path("/repos/acme/widgets/hooks/42/deliveries"))
            .and(query_param("per_page", "100"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()));
        match cursor {
            None => mock.and(query_param_is_missing("cursor")),
            Some(c) => mock.and(query_param("cursor", c)),
        }
        .respond_with(answer)
    };
    page(
        None,
        json!([
            hook_delivery_json(5, "g-c", "2030-01-01T12:00:00Z", 200, false),
            hook_delivery_json(4, "g-b", "2030-01-01T11:00:00Z", 0, false),
        ]),
        Some(next("c2")),
    )
    .expect(1)
    .mount(&server)
    .await;
    page(
        Some("c2"),
        json!([
            hook_delivery_json(3, "g-a", "2030-01-01T09:00:00Z", 502, true),
            hook_delivery_json(2, "g-a", "2029-12-31T09:00:00Z", 502, false),
        ]),
        Some(next("c3")),
    )
    .expect(1)
    .mount(&server)
    .await;
    page(Some("c3"), json!([]), None)
        .expect(0)
        .mount(&server)
        .await;
    let hook: prow_github::Hook = "acme/widgets:42".parse().unwrap();
    let query = prow_github::DeliveryQuery {
        since: "2030-01-01T00:00:00Z".parse().unwrap(),
        max_pages: 10,
    };
    let listed = client(&server)
        .list_hook_deliveries(&hook, &query)
        .await
        .unwrap();
    let seen: Vec<(u64, &str, u16, bool)> = listed
        .deliveries
        .iter()
        .map(|d| (d.id, d.guid.as_str(), d.status_code, d.redelivery))
        .collect();
    assert_eq!(
        seen,
        [
            (5, "g-c", 200, false),
            (4, "g-b", 0, false),
            (3, "g-a", 502, true),
            (2, "g-a", 502, false)
        ]
    );
    assert!(!listed.truncated);
}

/// `max_pages` bounds a busy hook's listing, and says so; redelivery of an org hook's
/// delivery is a POST to its attempts, and a refusal is an error with GitHub's status.
#[tokio::test]
async fn org_hook_listing_is_bounded_by_max_pages_and_redelivery_posts_an_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks/7/deliveries"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}/orgs/acme/hooks/7/deliveries?per_page=100&cursor=more>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([hook_delivery_json(
                    9,
                    "g",
                    "2030-01-01T12:00:00Z",
                    500,
                    false
                )])),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orgs/acme/hooks/7/deliveries/9/attempts"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orgs/acme/hooks/7/deliveries/10/attempts"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(json!({"message": "Validation Failed"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let hook: prow_github::Hook = "acme:7".parse().unwrap();
    let github = client(&server);
    let listed = github
        .list_hook_deliveries(
            &hook,
            &prow_github::DeliveryQuery {
                since: "2000-01-01T00:00:00Z".parse().unwrap(),
                max_pages: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.deliveries.len(), 2);
    assert!(listed.truncated);
    github.redeliver_hook_delivery(&hook, 9).await.unwrap();
    let refused = github.redeliver_hook_delivery(&hook, 10).await.unwrap_err();
    assert_eq!(refused.status(), Some(422), "{refused}");
}

/// The app's own hook takes only the app's JWT: with a token the call fails before any
/// request, naming what is missing. A read-only GitHub lists but only records redeliveries.
#[tokio::test]
async fn the_apps_hook_needs_app_credentials_and_read_only_redeliveries_are_recorded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/widgets/hooks/42/deliveries"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([hook_delivery_json(
                1,
                "g",
                "2030-01-01T12:00:00Z",
                0,
                false
            )])),
        )
        .mount(&server)
        .await;
    let github = client(&server);
    let query = prow_github::DeliveryQuery {
        since: "2000-01-01T00:00:00Z".parse().unwrap(),
        max_pages: 1,
    };
    let err = github
        .list_hook_deliveries(&prow_github::Hook::App, &query)
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::Setup(_)), "{err}");
    assert!(err.to_string().contains("GitHub App credentials"), "{err}");
    let read_only = prow_github::ReadOnlyGitHub::new(Arc::new(github));
    let hook: prow_github::Hook = "acme/widgets:42".parse().unwrap();
    let listed = read_only.list_hook_deliveries(&hook, &query).await.unwrap();
    assert_eq!(listed.deliveries.len(), 1);
    read_only.redeliver_hook_delivery(&hook, 1).await.unwrap();
    assert_eq!(
        read_only.writes(),
        [prow_github::Call::RedeliverHookDelivery {
            hook,
            delivery_id: 1
        }]
    );
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method == http::Method::POST)
        .count();
    assert_eq!(posts, 0);
}
