//! Router tests: real GitHub webhook payloads (edited per case) as CloudEvents in, the exact
//! GitHub calls out, GitHub faked by wiremock.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use http::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn hold_labels_the_pr_once_and_cancel_removes_it() {
    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &[]).await;
    let hold = pr_comment("mallory", "/hold\nwaiting for the release");
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &hold).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!(
            "POST {REPO}/issues/2/labels {{\"labels\":[\"do-not-merge/hold\"]}}"
        )]
    );

    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &["do-not-merge/hold"]).await;
    let cancel = pr_comment("mallory", "/hold cancel");
    assert_eq!(
        send(&h.app, "issue_comment", "d2", &cancel).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!("DELETE {REPO}/issues/2/labels/do-not-merge%2Fhold")]
    );
}

#[tokio::test]
async fn commands_in_quotes_code_and_other_repos_do_nothing() {
    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &[]).await;
    let quoted = pr_comment("alice", "> /hold\n```\n/lgtm\n```\nI agree");
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &quoted).await,
        StatusCode::OK
    );
    let other = harness("plugins:\n  someone-else: [hold]\n").await;
    let hold = pr_comment("alice", "/hold");
    assert_eq!(
        send(&other.app, "issue_comment", "d2", &hold).await,
        StatusCode::OK
    );
    assert!(h.github.received_requests().await.unwrap().is_empty());
    assert!(other.github.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn assign_and_cc_name_the_users_github_refused() {
    let h = harness(PLUGINS).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/assignees")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "carol"}]
        })))
        .mount(&h.github)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/pulls/2/requested_reviewers")))
        .and(body_string_contains("zed"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(
                json!({"message": "Reviews may only be requested from collaborators."}),
            ),
        )
        .with_priority(1)
        .mount(&h.github)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/pulls/2/requested_reviewers")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"number": 2})))
        .mount(&h.github)
        .await;
    let body = "/assign @carol dan\n/cc dave zed";
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &pr_comment("alice", body)).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(
        w[0],
        format!("POST {REPO}/issues/2/assignees {{\"assignees\":[\"carol\",\"dan\"]}}")
    );
    assert!(w[1].starts_with(&format!("POST {REPO}/issues/2/comments {{\"body\":\"@alice: GitHub didn't allow me to assign the following users: dan.")), "{w:?}");
    assert_eq!(
        w[2],
        format!(
            "POST {REPO}/pulls/2/requested_reviewers {{\"reviewers\":[\"dave\",\"zed\"],\"team_reviewers\":[]}}"
        )
    );
    assert_eq!(
        w[3],
        format!(
            "POST {REPO}/pulls/2/requested_reviewers {{\"reviewers\":[\"dave\"],\"team_reviewers\":[]}}"
        )
    );
    assert_eq!(
        w[4],
        format!(
            "POST {REPO}/pulls/2/requested_reviewers {{\"reviewers\":[\"zed\"],\"team_reviewers\":[]}}"
        )
    );
    assert!(
        w[5].contains(
            "GitHub didn't allow me to request PR reviews from the following users: zed."
        ),
        "{w:?}"
    );
    assert_eq!(w.len(), 6, "{w:?}");
}

#[tokio::test]
async fn lgtm_by_a_collaborator_labels_assigns_and_records_the_tree() {
    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([
        {"id": 7, "user": {"login": "prow-bot"}, "body": "New changes are detected. LGTM label has been removed.", "created_at": "a", "updated_at": "a"}
    ]))
    .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/assignees")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "alice"}]
        })))
        .mount(&h.github)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{REPO}/issues/comments/7")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&h.github)
        .await;
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &pr_comment("alice", "/lgtm")).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/assignees {{\"assignees\":[\"alice\"]}}"),
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"lgtm\"]}}"),
            format!(
                "POST {REPO}/issues/2/comments {{\"body\":\"LGTM label has been added.  <details>Git tree hash: tree-1</details>\"}}"
            ),
            format!("DELETE {REPO}/issues/comments/7"),
        ]
    );
}

#[tokio::test]
async fn lgtm_from_a_non_collaborator_is_refused_once_under_redelivery() {
    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &[]).await;
    let comment = pr_comment("mallory", "/lgtm");
    let reply = format!(
        "@mallory: changing LGTM is restricted to collaborators\n<details>\nIn response to [this]({}):\n>/lgtm\n\n{}\n</details>",
        comment["comment"]["html_url"].as_str().unwrap(),
        prow_plugins::respond::ABOUT_THIS_BOT
    );
    // The first delivery finds no comment; the redelivery finds the reply already made.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .respond_with(ok(json!([])))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.github)
        .await;
    mock_comments(
        &h.github,
        json!([{"id": 9, "user": {"login": "prow-bot"}, "body": reply}]),
    )
    .await;
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &comment).await,
        StatusCode::OK
    );
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &comment).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(
        w,
        [format!(
            "POST {REPO}/issues/2/comments {}",
            json!({"body": reply})
        )]
    );
}

#[tokio::test]
async fn an_approving_review_acts_as_lgtm_and_a_push_with_a_new_tree_removes_it() {
    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/assignees")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "alice"}]
        })))
        .mount(&h.github)
        .await;
    let mut review = payload("pull_request_review.submitted.json");
    review["review"]["user"]["login"] = json!("alice");
    review["review"]["state"] = json!("approved");
    review["review"]["body"] = json!("Looks great");
    review["pull_request"]["head"]["sha"] = json!("ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    assert_eq!(
        send(&h.app, "pull_request_review", "d1", &review).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(
        w[1],
        format!("POST {REPO}/issues/2/labels {{\"labels\":[\"lgtm\"]}}"),
        "{w:?}"
    );
    assert!(w[2].contains("Git tree hash: tree-1"), "{w:?}");

    let h = harness(PLUGINS).await;
    mock_labels(&h.github, &["lgtm"]).await;
    mock_comments(&h.github, json!([
        {"id": 5, "user": {"login": "prow-bot"}, "body": "LGTM label has been added.  <details>Git tree hash: tree-0</details>", "created_at": "a", "updated_at": "a"}
    ]))
    .await;
    let mut push = payload("pull_request.synchronize.json");
    push["pull_request"]["head"]["sha"] = json!("ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    push["pull_request"]["assignees"] = json!([]);
    assert_eq!(
        send(&h.app, "pull_request", "d2", &push).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("DELETE {REPO}/issues/2/labels/lgtm"),
            format!(
                "POST {REPO}/issues/2/comments {{\"body\":\"New changes are detected. LGTM label has been removed.\"}}"
            ),
        ]
    );
}

#[tokio::test]
async fn github_failures_ask_for_redelivery_and_bad_payloads_are_400() {
    let h = harness(PLUGINS).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/labels")))
        .respond_with(ResponseTemplate::new(500))
        .mount(&h.github)
        .await;
    assert_eq!(
        send(&h.app, "issue_comment", "d1", &pr_comment("alice", "/hold")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        send(&h.app, "issue_comment", "d2", &json!({"nope": true})).await,
        StatusCode::BAD_REQUEST
    );
}

/// With `skip_collaborators`, the OWNERS reviewers of the changed files (read at the PR's base
/// through the trees and contents APIs) may lgtm; others are told why not.
#[tokio::test]
async fn with_skip_collaborators_owners_reviewers_lgtm_and_others_are_refused() {
    let yaml =
        "plugins:\n  Codertocat: [lgtm]\nowners:\n  skip_collaborators: [Codertocat/Hello-World]\n";
    let h = harness(yaml).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    let owners = "reviewers:\n- mallory\napprovers:\n- carol\n";
    let mounts = [
        (
            format!("{REPO}/git/trees/b"),
            json!({"sha": "tb", "truncated": false, "tree": [
                {"path": "OWNERS", "type": "blob", "sha": "o1", "mode": "100644"},
                {"path": "src", "type": "tree", "sha": "s1", "mode": "040000"}
            ]}),
        ),
        (
            format!("{REPO}/contents/OWNERS"),
            json!({"type": "file", "encoding": "base64", "content": base64(owners)}),
        ),
        (
            format!("{REPO}/pulls/2/files"),
            json!([{"filename": "src/main.rs", "status": "modified"}]),
        ),
    ];
    for (p, body) in mounts {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ok(body))
            .mount(&h.github)
            .await;
    }
    // mallory is no collaborator (404 above) but an OWNERS reviewer: no collaborator check, no
    // assignment, the label.
    assert_eq!(
        send(
            &h.app,
            "issue_comment",
            "d1",
            &pr_comment("mallory", "/lgtm")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!(
            "POST {REPO}/issues/2/labels {{\"labels\":[\"lgtm\"]}}"
        )]
    );
    // alice is a collaborator but not in OWNERS.
    assert_eq!(
        send(&h.app, "issue_comment", "d2", &pr_comment("alice", "/lgtm")).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[1].contains(
            "@alice: adding LGTM is restricted to approvers and reviewers in OWNERS files."
        ),
        "{w:?}"
    );
}

/// One issue's comments and labels as GitHub keeps them, so a sequence of events sees what the
/// previous ones did (GitHub's `issues/2/comments`, `issues/comments/{id}`, `issues/2/labels`).
#[derive(Debug, Clone, Default)]
struct FakeIssue(Arc<std::sync::Mutex<IssueState>>);

#[derive(Debug, Default)]
struct IssueState {
    comments: Vec<Value>,
    labels: Vec<String>,
    clock: u64,
}

impl IssueState {
    fn push(&mut self, who: &str, body: &str) -> Value {
        self.clock += 1;
        let at = format!(
            "2024-01-01T{:02}:{:02}:{:02}Z",
            self.clock / 3600,
            self.clock / 60 % 60,
            self.clock % 60
        );
        let c = json!({
            "id": 1000 + self.clock, "user": {"login": who}, "body": body,
            "html_url": format!("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-{}", 1000 + self.clock),
            "created_at": at, "updated_at": at,
        });
        self.comments.push(c.clone());
        c
    }

    fn labels(&self) -> Value {
        json!(
            self.labels
                .iter()
                .map(|l| json!({"name": l}))
                .collect::<Vec<_>>()
        )
    }
}

impl wiremock::Respond for FakeIssue {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let p = req.url.path().strip_prefix(REPO).unwrap_or_default();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let comment_id = p
            .strip_prefix("/issues/comments/")
            .and_then(|id| id.parse::<u64>().ok());
        match (req.method.as_str(), p, comment_id) {
            ("GET", "/issues/2/comments", _) => ok(json!(s.comments)),
            ("POST", "/issues/2/comments", _) => {
                let c = s.push("prow-bot", body["body"].as_str().unwrap());
                ResponseTemplate::new(201).set_body_json(c)
            }
            ("PATCH", _, Some(id)) => {
                s.clock += 1;
                let c = s.comments.iter_mut().find(|c| c["id"] == id).unwrap();
                c["body"] = body["body"].clone();
                c["updated_at"] = json!("2024-02-01T00:00:00Z");
                ok(c.clone())
            }
            ("DELETE", _, Some(id)) => {
                s.comments.retain(|c| c["id"] != id);
                ResponseTemplate::new(204)
            }
            ("GET", "/issues/2/labels", _) => ok(s.labels()),
            ("POST", "/issues/2/labels", _) => {
                for l in body["labels"].as_array().unwrap() {
                    s.labels.push(l.as_str().unwrap().to_owned());
                }
                ok(s.labels())
            }
            ("DELETE", p, _) if p.starts_with("/issues/2/labels/") => {
                let name = p.trim_start_matches("/issues/2/labels/");
                s.labels.retain(|l| l != name);
                ok(s.labels())
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

const APPROVE: &str = "plugins:\n  Codertocat: [approve]\n";

/// PR #2 changes src/main.rs; carol approves the repo (OWNERS at the base `b`), alice and
/// carol are collaborators; no reviews. Returns the fake issue.
async fn approve_harness(yaml: &str) -> (Harness, FakeIssue) {
    let h = harness(yaml).await;
    let fake = FakeIssue::default();
    Mock::given(wiremock::matchers::path_regex(format!(
        "^{REPO}/issues/(2/comments|2/labels.*|comments/[0-9]+)$"
    )))
    .respond_with(fake.clone())
    .with_priority(1)
    .mount(&h.github)
    .await;
    let owners = "approvers:\n- carol\nreviewers:\n- alice\n";
    let mounts = [
        (
            format!("{REPO}/git/trees/b"),
            json!({"sha": "tb", "truncated": false, "tree": [
                {"path": "OWNERS", "type": "blob", "sha": "o1", "mode": "100644"},
                {"path": "src", "type": "tree", "sha": "s1", "mode": "040000"}
            ]}),
        ),
        (
            format!("{REPO}/contents/OWNERS"),
            json!({"type": "file", "encoding": "base64", "content": base64(owners)}),
        ),
        (
            format!("{REPO}/pulls/2/files"),
            json!([{"filename": "src/main.rs", "status": "modified"}]),
        ),
        (format!("{REPO}/pulls/2/reviews"), json!([])),
        (
            format!("{REPO}/collaborators"),
            json!([{"login": "alice"}, {"login": "carol"}]),
        ),
    ];
    for (p, body) in mounts {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ok(body))
            .mount(&h.github)
            .await;
    }
    (h, fake)
}

/// `who` comments `body` on PR #2: GitHub records it, then the event arrives.
async fn say(h: &Harness, fake: &FakeIssue, id: &str, who: &str, body: &str) {
    fake.0.lock().unwrap().push(who, body);
    assert_eq!(
        send(&h.app, "issue_comment", id, &pr_comment(who, body)).await,
        StatusCode::OK
    );
}

fn approval_comments(fake: &FakeIssue) -> Vec<String> {
    fake.0
        .lock()
        .unwrap()
        .comments
        .iter()
        .filter(|c| c["user"]["login"] == "prow-bot")
        .map(|c| c["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn approve_by_an_owners_approver_labels_and_writes_the_notification() {
    let (h, fake) = approve_harness(APPROVE).await;
    say(&h, &fake, "d1", "carol", "/approve").await;
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with(&format!(
            "POST {REPO}/issues/2/comments {{\"body\":\"[APPROVALNOTIFIER] This PR is **APPROVED**"
        )),
        "{w:?}"
    );
    assert_eq!(
        w[1],
        format!("POST {REPO}/issues/2/labels {{\"labels\":[\"approved\"]}}")
    );
    let notes = approval_comments(&fake);
    assert!(
        notes[0].contains("title=\"Approved\">carol</a>*"),
        "{notes:?}"
    );
    // Redelivered: nothing more to do.
    assert_eq!(
        send(
            &h.app,
            "issue_comment",
            "d1",
            &pr_comment("carol", "/approve")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(writes(&h.github).await.len(), 2);
}

#[tokio::test]
async fn approve_by_someone_not_in_owners_changes_only_the_explanation() {
    let (h, fake) = approve_harness(APPROVE).await;
    say(&h, &fake, "d1", "alice", "hello").await;
    assert!(writes(&h.github).await.is_empty(), "not a command");
    say(&h, &fake, "d2", "alice", "/approve").await;
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 1, "no label: {w:?}");
    assert!(
        w[0].starts_with(&format!(
            "POST {REPO}/issues/2/comments {{\"body\":\"[APPROVALNOTIFIER] This PR is **NOT APPROVED**"
        )),
        "{w:?}"
    );
    let notes = approval_comments(&fake);
    assert!(
        notes[0].contains("title=\"Approved\">alice</a>*"),
        "{notes:?}"
    );
    assert!(
        notes[0].contains("[carol](https://github.com/carol)"),
        "{notes:?}"
    );
    assert!(fake.0.lock().unwrap().labels.is_empty());
}

#[tokio::test]
async fn ten_approve_and_cancel_commands_keep_one_notification_edited_in_place() {
    let (h, fake) = approve_harness(APPROVE).await;
    for i in 0..10 {
        let body = if i % 2 == 0 {
            "/approve"
        } else {
            "/approve cancel"
        };
        say(&h, &fake, &format!("d{i}"), "carol", body).await;
    }
    let w = writes(&h.github).await;
    let posts: Vec<&String> = w
        .iter()
        .filter(|c| c.starts_with(&format!("POST {REPO}/issues/2/comments")))
        .collect();
    assert_eq!(posts.len(), 1, "{w:?}");
    let patches = w.iter().filter(|c| c.starts_with("PATCH ")).count();
    assert_eq!(patches, 9, "{w:?}");
    assert!(
        w.iter()
            .all(|c| !c.starts_with("DELETE") || c.contains("/labels/"))
    );
    let notes = approval_comments(&fake);
    assert_eq!(notes.len(), 1);
    // The last word was a cancel.
    assert!(
        notes[0].contains("This PR is **NOT APPROVED**"),
        "{notes:?}"
    );
    assert!(fake.0.lock().unwrap().labels.is_empty());
    let labels: Vec<&String> = w.iter().filter(|c| c.contains("/labels")).collect();
    assert_eq!(labels.len(), 10, "{w:?}");
}

#[tokio::test]
async fn approve_cancel_removes_the_label() {
    let (h, fake) = approve_harness(APPROVE).await;
    say(&h, &fake, "d1", "carol", "/approve").await;
    assert_eq!(fake.0.lock().unwrap().labels, ["approved"]);
    say(&h, &fake, "d2", "carol", "/approve cancel").await;
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(
        w[2].starts_with(&format!("PATCH {REPO}/issues/comments/")),
        "{w:?}"
    );
    assert_eq!(w[3], format!("DELETE {REPO}/issues/2/labels/approved"));
    say(&h, &fake, "d3", "carol", "/remove-approve").await;
    assert_eq!(writes(&h.github).await.len(), 4, "already removed");
}

#[tokio::test]
async fn duplicate_notifications_are_deleted_and_the_newest_edited() {
    let (h, fake) = approve_harness(APPROVE).await;
    let stale = "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nold";
    let (first, second) = {
        let mut s = fake.0.lock().unwrap();
        (
            s.push("prow-bot", stale)["id"].clone(),
            s.push("prow-bot", stale)["id"].clone(),
        )
    };
    say(&h, &fake, "d1", "carol", "/approve").await;
    let w = writes(&h.github).await;
    assert_eq!(
        w[0],
        format!("DELETE {REPO}/issues/comments/{first}"),
        "{w:?}"
    );
    assert!(
        w[1].starts_with(&format!("PATCH {REPO}/issues/comments/{second} ")),
        "{w:?}"
    );
    assert_eq!(w.len(), 3, "{w:?}");
    assert_eq!(approval_comments(&fake).len(), 1);
}

/// The author's own PR: opening it approves it implicitly (real `pull_request.opened` payload).
#[tokio::test]
async fn an_approver_opening_a_pr_approves_it_implicitly() {
    let (h, fake) = approve_harness(APPROVE).await;
    let mut opened = payload("pull_request.opened.json");
    opened["number"] = json!(2);
    opened["pull_request"]["number"] = json!(2);
    opened["pull_request"]["user"]["login"] = json!("carol");
    opened["pull_request"]["base"]["sha"] = json!("b");
    opened["pull_request"]["body"] = json!("");
    assert_eq!(
        send(&h.app, "pull_request", "o1", &opened).await,
        StatusCode::OK
    );
    assert_eq!(fake.0.lock().unwrap().labels, ["approved"]);
    let notes = approval_comments(&fake);
    assert!(
        notes[0].contains("title=\"Author self-approved\">carol</a>*"),
        "{notes:?}"
    );
}

/// With `ignore_review_state: false`, an approving review (real `pull_request_review` payload)
/// approves as `/approve` does; by default it is ignored.
#[tokio::test]
async fn an_approving_review_approves_when_review_state_counts() {
    let mut review = payload("pull_request_review.submitted.json");
    review["pull_request"]["number"] = json!(2);
    review["pull_request"]["state"] = json!("open");
    review["pull_request"]["base"]["sha"] = json!("b");
    review["pull_request"]["user"]["login"] = json!("Codertocat");
    review["review"]["user"]["login"] = json!("carol");
    review["review"]["state"] = json!("approved");
    review["review"]["body"] = Value::Null;
    let listed = json!([{
        "id": 7, "user": {"login": "carol", "type": "User"}, "state": "APPROVED", "body": "",
        "submitted_at": "2024-01-01T00:00:00Z", "commit_id": "c",
        "html_url": "https://github.com/Codertocat/Hello-World/pull/2#pullrequestreview-7"
    }]);

    let (h, fake) = approve_harness(APPROVE).await;
    assert_eq!(
        send(&h.app, "pull_request_review", "r1", &review).await,
        StatusCode::OK
    );
    assert!(
        writes(&h.github).await.is_empty(),
        "reviews ignored by default"
    );

    let yaml = "plugins:\n  Codertocat: [approve]\napprove:\n- repos: [Codertocat]\n  ignore_review_state: false\n";
    let (h, fake2) = approve_harness(yaml).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/reviews")))
        .respond_with(ok(listed))
        .with_priority(1)
        .mount(&h.github)
        .await;
    assert_eq!(
        send(&h.app, "pull_request_review", "r1", &review).await,
        StatusCode::OK
    );
    assert_eq!(fake2.0.lock().unwrap().labels, ["approved"]);
    let notes = approval_comments(&fake2);
    assert!(
        notes[0].contains("pullrequestreview-7\" title=\"Approved\">carol</a>*"),
        "{notes:?}"
    );
    assert!(approval_comments(&fake).is_empty());
}

/// blunderbuss on a real `pull_request.opened` payload: one review request naming OWNERS
/// reviewers of the changed file (never the author); a body with `/cc` asks nobody.
#[tokio::test]
async fn blunderbuss_requests_owners_reviewers_when_a_pr_opens() {
    let yaml = "plugins:\n  Codertocat: [blunderbuss]\nblunderbuss:\n  request_count: 1\n";
    let (h, _) = approve_harness(yaml).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/pulls/2/requested_reviewers")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&h.github)
        .await;
    let mut opened = payload("pull_request.opened.json");
    opened["number"] = json!(2);
    opened["pull_request"]["number"] = json!(2);
    opened["pull_request"]["user"]["login"] = json!("carol");
    opened["pull_request"]["base"]["sha"] = json!("b");
    opened["pull_request"]["body"] = json!("Adds things.");
    assert_eq!(
        send(&h.app, "pull_request", "o1", &opened).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(&format!("POST {REPO}/pulls/2/requested_reviewers"))
            && w[0].contains("\"alice\"")
            && !w[0].contains("carol"),
        "{w:?}"
    );

    let (h, _) = approve_harness(yaml).await;
    opened["pull_request"]["body"] = json!("Adds things.\n/cc @alice");
    assert_eq!(
        send(&h.app, "pull_request", "o2", &opened).await,
        StatusCode::OK
    );
    assert!(writes(&h.github).await.is_empty());
}

/// PR #2 opened (the corpus payload, base `b`) changing `files`; OWNERS at `b` label the root
/// `area/all` and docs/ `kind/docs`; the repo defines `repo_labels`, the PR has `on_pr`.
async fn owners_label_harness(files: &[&str], on_pr: &[&str], repo_labels: &[&str]) -> Harness {
    let h = harness("plugins:\n  Codertocat: [owners-label]\n").await;
    mock_labels(&h.github, on_pr).await;
    let changes: Vec<Value> = files
        .iter()
        .map(|f| json!({"filename": f, "status": "modified"}))
        .collect();
    let defined: Vec<Value> = repo_labels
        .iter()
        .map(|l| json!({"name": l, "color": "ededed"}))
        .collect();
    let mounts = [
        (
            format!("{REPO}/git/trees/b"),
            json!({"sha": "tb", "truncated": false, "tree": [
                {"path": "OWNERS", "type": "blob", "sha": "o1", "mode": "100644"},
                {"path": "docs", "type": "tree", "sha": "d1", "mode": "040000"},
                {"path": "docs/OWNERS", "type": "blob", "sha": "o2", "mode": "100644"}
            ]}),
        ),
        (
            format!("{REPO}/contents/OWNERS"),
            json!({"type": "file", "encoding": "base64",
                   "content": base64("approvers:\n- carol\nlabels:\n- area/all\n")}),
        ),
        (
            format!("{REPO}/contents/docs/OWNERS"),
            json!({"type": "file", "encoding": "base64",
                   "content": base64("approvers:\n- alice\nlabels:\n- kind/docs\n- sig/docs\n")}),
        ),
        (format!("{REPO}/pulls/2/files"), json!(changes)),
        (format!("{REPO}/labels"), json!(defined)),
        (
            format!("{REPO}/collaborators"),
            json!([{"login": "alice"}, {"login": "carol"}]),
        ),
    ];
    for (p, body) in mounts {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ok(body))
            .mount(&h.github)
            .await;
    }
    h
}

fn pr_event(file: &str) -> Value {
    let mut p = payload(file);
    p["number"] = json!(2);
    p["pull_request"]["number"] = json!(2);
    p["pull_request"]["base"]["sha"] = json!("b");
    p["pull_request"]["head"]["sha"] = json!("h");
    p
}

#[tokio::test]
async fn owners_label_adds_the_owners_labels_the_repo_defines_and_the_pr_lacks() {
    let h = owners_label_harness(
        &["docs/guide.md", "README.md"],
        &["area/all"],
        &["area/all", "kind/docs"],
    )
    .await;
    assert_eq!(
        send(
            &h.app,
            "pull_request",
            "l1",
            &pr_event("pull_request.opened.json")
        )
        .await,
        StatusCode::OK
    );
    // area/all is on the PR already, sig/docs is not a label of the repo.
    assert_eq!(
        writes(&h.github).await,
        [format!(
            "POST {REPO}/issues/2/labels {{\"labels\":[\"kind/docs\"]}}"
        )]
    );

    let h = owners_label_harness(&["docs/guide.md"], &[], &["area/all", "kind/docs"]).await;
    assert_eq!(
        send(
            &h.app,
            "pull_request",
            "l2",
            &pr_event("pull_request.synchronize.json")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"area/all\"]}}"),
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"kind/docs\"]}}"),
        ]
    );

    // Labelling a PR changes none of its files: no call at all.
    let h = owners_label_harness(&["docs/guide.md"], &[], &["kind/docs"]).await;
    assert_eq!(
        send(
            &h.app,
            "pull_request",
            "l3",
            &pr_event("pull_request.labeled.json")
        )
        .await,
        StatusCode::OK
    );
    assert!(h.github.received_requests().await.unwrap().is_empty());
}

const INVALID_OWNERS: &str = "do-not-merge/invalid-owners-file";

/// verify-owners on Hello-World with GitHub's issue faked; PR #2 adds docs/OWNERS as `owners`
/// (the whole file in its patch) at head `sha`; alice is a member of Codertocat, mallory is
/// neither member nor collaborator; there is no OWNERS_ALIASES.
async fn verify_owners_harness(owners: &str, sha: &str) -> (Harness, FakeIssue) {
    let h = harness("plugins:\n  Codertocat: [verify-owners]\n").await;
    let fake = FakeIssue::default();
    Mock::given(wiremock::matchers::path_regex(format!(
        "^{REPO}/issues/(2/comments|2/labels.*|comments/[0-9]+)$"
    )))
    .respond_with(fake.clone())
    .with_priority(1)
    .mount(&h.github)
    .await;
    let added: Vec<String> = owners.lines().map(|l| format!("+{l}")).collect();
    let patch = format!("@@ -0,0 +1,{} @@\n{}", added.len(), added.join("\n"));
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([
            {"filename": "docs/OWNERS", "status": "added", "patch": patch},
            {"filename": "docs/README.md", "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"}
        ])))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/docs/OWNERS")))
        .and(query_param("ref", sha))
        .respond_with(ok(
            json!({"type": "file", "encoding": "base64", "content": base64(owners)}),
        ))
        .mount(&h.github)
        .await;
    let answers = [
        (format!("{REPO}/contents/OWNERS_ALIASES"), 404),
        ("/orgs/Codertocat/members/alice".to_owned(), 204),
        ("/orgs/Codertocat/members/mallory".to_owned(), 404),
    ];
    for (p, status) in answers {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(status))
            .mount(&h.github)
            .await;
    }
    (h, fake)
}

fn comment_body(body: &str) -> String {
    serde_json::to_string(&json!({ "body": body })).unwrap()
}

const MALLORY_UNTRUSTED: &str = "The OWNERS file contains untrusted users, which makes it INVALID. The following users are mentioned in OWNERS file(s) but are untrusted for the following reasons. One way to make the user trusted is to add them as [members](https://github.com/orgs/Codertocat/people) of the Codertocat org. You can then trigger verification by writing `/verify-owners` in a comment.\n- mallory\n  - User is not a member of the org. User is not a collaborator. Satisfy at least one of these conditions to make the user trusted.\n  - docs/OWNERS";

#[tokio::test]
async fn verify_owners_flags_an_untrusted_new_owner_once_under_redelivery() {
    let (h, fake) = verify_owners_harness("approvers:\n- alice\n- mallory\n", "h").await;
    let opened = pr_event("pull_request.opened.json");
    for _ in 0..2 {
        assert_eq!(
            send(&h.app, "pull_request", "v1", &opened).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"{INVALID_OWNERS}\"]}}"),
            format!(
                "POST {REPO}/issues/2/comments {}",
                comment_body(MALLORY_UNTRUSTED)
            ),
        ]
    );
    assert_eq!(fake.0.lock().unwrap().labels, [INVALID_OWNERS]);
    // Trust is asked as trigger does: org membership, then collaborator.
    let asked: Vec<String> = h
        .github
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.contains("/members/") || p.contains("/collaborators/"))
        .collect();
    assert_eq!(
        asked[..3],
        [
            "/orgs/Codertocat/members/alice".to_owned(),
            "/orgs/Codertocat/members/mallory".to_owned(),
            format!("{REPO}/collaborators/mallory"),
        ]
    );
}

#[tokio::test]
async fn verify_owners_command_clears_the_label_and_complaint_once_the_file_is_fixed() {
    // The comment event carries no head: it is read from the PR (mock_reads' head SHA).
    let (h, fake) = verify_owners_harness(
        "approvers:\n- alice\n",
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    )
    .await;
    let complaint_id = {
        let mut s = fake.0.lock().unwrap();
        s.labels.push(INVALID_OWNERS.to_owned());
        s.push("prow-bot", MALLORY_UNTRUSTED)["id"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        send(
            &h.app,
            "issue_comment",
            "v2",
            &pr_comment("mallory", "/verify-owners")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("DELETE {REPO}/issues/2/labels/do-not-merge%2Finvalid-owners-file"),
            format!("DELETE {REPO}/issues/comments/{complaint_id}"),
        ]
    );
}

#[tokio::test]
async fn verify_owners_lists_an_invalid_root_owners_file() {
    let h = harness("plugins:\n  Codertocat: [verify-owners]\n").await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    let owners = "reviewers:\n- alice\n";
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([{"filename": "OWNERS", "status": "modified",
            "patch": "@@ -1,2 +1,2 @@\n-approvers:\n+reviewers:\n - alice"}])))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/OWNERS")))
        .and(query_param("ref", "h"))
        .respond_with(ok(
            json!({"type": "file", "encoding": "base64", "content": base64(owners)}),
        ))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/OWNERS_ALIASES")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/Codertocat/members/alice"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&h.github)
        .await;
    let mut opened = pr_event("pull_request.opened.json");
    opened["pull_request"]["body"] = json!("Moves approvers.");
    assert_eq!(
        send(&h.app, "pull_request", "v3", &opened).await,
        StatusCode::OK
    );
    let author = opened["pull_request"]["user"]["login"].as_str().unwrap();
    let url = opened["pull_request"]["html_url"].as_str().unwrap();
    let expected = format!(
        "@{author}: 1 invalid OWNERS file:\n- [OWNERS:1](https://github.com/Codertocat/Hello-World/blob/h/OWNERS#L1): No approvers defined in this root directory OWNERS file.\n<details>\nIn response to [this]({url}):\n>Moves approvers.\n\n{}\n</details>",
        prow_plugins::respond::ABOUT_THIS_BOT
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("POST {REPO}/issues/2/labels {{\"labels\":[\"{INVALID_OWNERS}\"]}}"),
            format!("POST {REPO}/issues/2/comments {}", comment_body(&expected)),
        ]
    );
}
