//! Router tests of the everyday plugins (label, wip, help, shrug, lifecycle): real webhook
//! payloads in, the exact GitHub calls out, GitHub faked by wiremock.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use http::StatusCode;
use prow_plugins::respond::ABOUT_THIS_BOT;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const EVERYDAY: &str = "plugins:\n  Codertocat:\n    plugins: [label, wip, help, shrug, lifecycle]\n\
    label:\n  additional_labels: [api-review]\n  restricted_labels:\n    Codertocat:\n    - label: security\n      allowed_teams: [security-team]\n      allowed_users: [sec-lead]\n      assign_on: [{label: bug}]\n";

async fn mock_repo_labels(server: &MockServer, labels: &[&str]) {
    let body: Vec<Value> = labels.iter().map(|l| json!({"name": l})).collect();
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/labels")))
        .respond_with(ok(json!(body)))
        .mount(server)
        .await;
}

/// Prow's reply to `comment` (a payload), saying `message`.
fn reply_to(comment: &Value, quoted: &str, message: &str) -> String {
    let c = &comment["comment"];
    let quote: Vec<String> = quoted.split('\n').map(|l| format!(">{l}")).collect();
    format!(
        "@{}: {message}\n<details>\nIn response to [this]({}):\n{}\n\n{ABOUT_THIS_BOT}\n</details>",
        c["user"]["login"].as_str().unwrap(),
        c["html_url"].as_str().unwrap(),
        quote.join("\n"),
    )
}

fn comment_write(body: &str) -> String {
    format!(
        "POST {REPO}/issues/2/comments {}",
        serde_json::to_string(&json!({ "body": body })).unwrap()
    )
}

fn label_write(label: &str) -> String {
    format!("POST {REPO}/issues/2/labels {{\"labels\":[\"{label}\"]}}")
}

#[tokio::test]
async fn label_adds_only_labels_the_repo_has_and_the_commenter_may_set() {
    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    mock_repo_labels(&h.github, &["kind/bug", "API-Review", "security"]).await;
    Mock::given(method("GET"))
        .and(path(
            "/orgs/Codertocat/teams/security-team/memberships/alice",
        ))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&h.github)
        .await;
    let body = "/kind bug\n/label api-review\n/area nope\n/label security\n<!-- /kind feature -->";
    let comment = pr_comment("alice", body);
    assert_eq!(
        send(&h.app, "issue_comment", "l1", &comment).await,
        StatusCode::OK
    );
    let quoted = "/kind bug\n/label api-review\n/area nope\n/label security\n";
    assert_eq!(
        writes(&h.github).await,
        [
            label_write("kind/bug"),
            label_write("api-review"),
            comment_write(&reply_to(
                &comment,
                quoted,
                "The label(s) `security` cannot be applied or removed, because you are not in one of the allowed teams and are not an allowed user. Must be a member of one of these teams: security-team"
            )),
            comment_write(&reply_to(
                &comment,
                quoted,
                "The label(s) `area/nope` cannot be applied, because the repository doesn't have them."
            )),
        ]
    );
}

#[tokio::test]
async fn label_lets_a_team_member_remove_a_restricted_label_and_assigns_on_labeled() {
    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &["security"]).await;
    mock_repo_labels(&h.github, &["security"]).await;
    Mock::given(method("GET"))
        .and(path(
            "/orgs/Codertocat/teams/security-team/memberships/alice",
        ))
        .respond_with(ok(json!({"state": "active", "role": "member"})))
        .mount(&h.github)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{REPO}/issues/2/labels/security")))
        .respond_with(ok(json!([])))
        .mount(&h.github)
        .await;
    let comment = pr_comment("alice", "/remove-label security");
    assert_eq!(
        send(&h.app, "issue_comment", "l2", &comment).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!("DELETE {REPO}/issues/2/labels/security")]
    );

    // A PR labeled `bug` (an assign_on label) gets security's allowed users.
    let h = harness(EVERYDAY).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/assignees")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "sec-lead"}]
        })))
        .mount(&h.github)
        .await;
    let labeled = payload("pull_request.labeled.json");
    assert_eq!(
        send(&h.app, "pull_request", "l3", &labeled).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!(
            "POST {REPO}/issues/2/assignees {{\"assignees\":[\"sec-lead\"]}}"
        )]
    );
}

#[tokio::test]
async fn wip_follows_the_title_and_draft_state() {
    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &[]).await;
    let mut opened = payload("pull_request.opened.json");
    opened["pull_request"]["number"] = json!(2);
    opened["number"] = json!(2);
    opened["pull_request"]["title"] = json!("[WIP] new README");
    opened["pull_request"]["body"] = json!("");
    assert_eq!(
        send(&h.app, "pull_request", "w1", &opened).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [label_write("do-not-merge/work-in-progress")]
    );

    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &["do-not-merge/work-in-progress"]).await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "{REPO}/issues/2/labels/do-not-merge%2Fwork-in-progress"
        )))
        .respond_with(ok(json!([])))
        .mount(&h.github)
        .await;
    let mut ready = payload("pull_request.ready_for_review.json");
    ready["pull_request"]["number"] = json!(2);
    ready["pull_request"]["title"] = json!("new README");
    ready["pull_request"]["draft"] = json!(false);
    assert_eq!(
        send(&h.app, "pull_request", "w2", &ready).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!(
            "DELETE {REPO}/issues/2/labels/do-not-merge%2Fwork-in-progress"
        )]
    );
}

/// `commenter` comments `body` on issue #2 (not a PR).
fn issue_comment(commenter: &str, body: &str) -> Value {
    let mut p = pr_comment(commenter, body);
    p["issue"].as_object_mut().unwrap().remove("pull_request");
    p["issue"]["html_url"] = json!("https://github.com/Codertocat/Hello-World/issues/2");
    p
}

#[tokio::test]
async fn help_labels_an_issue_with_the_guidelines_and_remove_help_deletes_them() {
    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    let comment = issue_comment("mallory", "/good-first-issue");
    assert_eq!(
        send(&h.app, "issue_comment", "h1", &comment).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("In response to [this](https://github.com/Codertocat/Hello-World/issues/2)"),
        "Prow answers with the issue's address: {w:?}"
    );
    assert!(w[0].contains("This request has been marked as suitable for new contributors."));
    assert_eq!(
        w[1..],
        [label_write("good first issue"), label_write("help wanted")]
    );

    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &["help wanted"]).await;
    mock_comments(
        &h.github,
        json!([
            {"id": 5, "user": {"login": "prow-bot"}, "body": "@x: \n\tThis request has been marked as needing help from a contributor.", "created_at": "a", "updated_at": "a"},
            {"id": 6, "user": {"login": "mallory"}, "body": "This request has been marked as needing help from a contributor.", "created_at": "a", "updated_at": "a"}
        ]),
    )
    .await;
    for (verb, p) in [
        ("DELETE", format!("{REPO}/issues/2/labels/help%20wanted")),
        ("DELETE", format!("{REPO}/issues/comments/5")),
    ] {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(ResponseTemplate::new(204))
            .mount(&h.github)
            .await;
    }
    let remove = issue_comment("mallory", "/remove-help");
    assert_eq!(
        send(&h.app, "issue_comment", "h2", &remove).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("DELETE {REPO}/issues/2/labels/help%20wanted"),
            format!("DELETE {REPO}/issues/comments/5"),
        ]
    );
}

#[tokio::test]
async fn shrug_and_unshrug() {
    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &["¯\\_(ツ)_/¯"]).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "{REPO}/issues/2/labels/%C2%AF%5C_%28%E3%83%84%29_%2F%C2%AF"
        )))
        .respond_with(ok(json!([])))
        .mount(&h.github)
        .await;
    let comment = issue_comment("mallory", "/unshrug");
    assert_eq!(
        send(&h.app, "issue_comment", "s1", &comment).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(
        w,
        [
            comment_write(&reply_to(&comment, "/unshrug", "¯\\\\\\_(ツ)\\_/¯")),
            format!("DELETE {REPO}/issues/2/labels/%C2%AF%5C_%28%E3%83%84%29_%2F%C2%AF"),
        ]
    );
}

#[tokio::test]
async fn close_by_the_author_and_reopen_refused_by_github_are_answered_as_prow() {
    let h = harness(EVERYDAY).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/issues/2")))
        .respond_with(ok(json!({"number": 2, "user": {"login": "Codertocat"}})))
        .mount(&h.github)
        .await;
    // Codertocat opened the issue; mallory is not a collaborator.
    let stranger = issue_comment("mallory", "/close");
    assert_eq!(
        send(&h.app, "issue_comment", "c1", &stranger).await,
        StatusCode::OK
    );
    let author = issue_comment("Codertocat", "/close not-planned\n/lifecycle frozen");
    assert_eq!(
        send(&h.app, "issue_comment", "c2", &author).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            comment_write(&reply_to(
                &stranger,
                "/close",
                "You can't close an active issue/PR unless you authored it or you are a collaborator."
            )),
            format!(
                "PATCH {REPO}/issues/2 {{\"state\":\"closed\",\"state_reason\":\"not_planned\"}}"
            ),
            comment_write(&reply_to(
                &author,
                "/close not-planned\n/lifecycle frozen",
                "Closing this issue, marking it as \"Not Planned\"."
            )),
            label_write("lifecycle/frozen"),
        ]
    );

    let h = harness(EVERYDAY).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/issues/2")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "state cannot be changed. The repository that submitted this pull request has been deleted."
        })))
        .mount(&h.github)
        .await;
    let mut reopen = pr_comment("alice", "/reopen");
    reopen["issue"]["state"] = json!("closed");
    assert_eq!(
        send(&h.app, "issue_comment", "c3", &reopen).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("PATCH {REPO}/issues/2 {{\"state\":\"open\"}}"),
            comment_write(&reply_to(
                &reopen,
                "/reopen",
                "Failed to re-open PR: state cannot be changed. The repository that submitted this pull request has been deleted."
            )),
        ]
    );
}

#[tokio::test]
async fn retitle_by_a_collaborator_renames_and_a_stranger_is_refused() {
    let plugins = "plugins:\n  Codertocat: [retitle]\n";
    let h = harness(plugins).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/issues/2")))
        .respond_with(ok(json!({"number": 2, "user": {"login": "Codertocat"}})))
        .mount(&h.github)
        .await;
    let alice = pr_comment("alice", "/retitle Update the README: typos");
    assert_eq!(
        send(&h.app, "issue_comment", "r1", &alice).await,
        StatusCode::OK
    );
    let mallory = pr_comment("mallory", "/retitle mine now");
    assert_eq!(
        send(&h.app, "issue_comment", "r2", &mallory).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("PATCH {REPO}/issues/2 {{\"title\":\"Update the README: typos\"}}"),
            comment_write(&reply_to(
                &mallory,
                "/retitle mine now",
                "Re-titling can only be requested by trusted users, like repository collaborators."
            )),
        ]
    );
}

#[tokio::test]
async fn size_counts_lines_outside_generated_files_and_keeps_one_label() {
    let h = harness("plugins:\n  Codertocat: [size]\n").await;
    mock_labels(&h.github, &["size/XS"]).await;
    let mut opened = payload("pull_request.opened.json");
    opened["number"] = json!(2);
    opened["pull_request"]["number"] = json!(2);
    let base = opened["pull_request"]["base"]["sha"]
        .as_str()
        .unwrap()
        .to_owned();
    let contents =
        |text: &str| ok(json!({"type": "file", "encoding": "base64", "content": base64(text)}));
    for (file, answer) in [
        (".generated_files", contents("file-prefix zz_generated.\n")),
        (
            ".gitattributes",
            contents("*.pb.go linguist-generated=true\n"),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/contents/{file}")))
            .and(wiremock::matchers::query_param("ref", base.as_str()))
            .respond_with(answer)
            .mount(&h.github)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([
            {"filename": "main.go", "status": "modified", "additions": 20, "deletions": 15, "changes": 35},
            {"filename": "api/zz_generated.go", "status": "added", "additions": 900, "deletions": 0, "changes": 900},
            {"filename": "api/x.pb.go", "status": "added", "additions": 900, "deletions": 0, "changes": 900}
        ])))
        .mount(&h.github)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{REPO}/issues/2/labels/size%2FXS")))
        .respond_with(ok(json!([])))
        .mount(&h.github)
        .await;
    assert_eq!(
        send(&h.app, "pull_request", "z1", &opened).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("DELETE {REPO}/issues/2/labels/size%2FXS"),
            label_write("size/M"),
        ]
    );
}

#[tokio::test]
async fn skip_marks_the_failed_optional_context_skipped() {
    let jobs = "presubmits:\n  Codertocat/Hello-World:\n  - name: unit\n    always_run: true\n    spec: {containers: [{image: x}]}\n  - name: lint\n    optional: true\n    always_run: true\n    spec: {containers: [{image: x}]}\n";
    let h = harness_with_jobs("plugins:\n  Codertocat: [skip]\n", Some(jobs)).await;
    let head = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/commits/{head}/status")))
        .respond_with(ok(json!({
            "state": "failure", "sha": head, "total_count": 2,
            "statuses": [
                {"context": "unit", "state": "failure"},
                {"context": "lint", "state": "failure"}
            ]
        })))
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([])))
        .mount(&h.github)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/statuses/{head}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&h.github)
        .await;
    assert_eq!(
        send(
            &h.app,
            "issue_comment",
            "k1",
            &pr_comment("mallory", "/skip")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!(
            "POST {REPO}/statuses/{head} {{\"context\":\"lint\",\"description\":\"Skipped\",\"state\":\"success\"}}"
        )]
    );
}

#[tokio::test]
async fn a_merge_commit_blocks_the_pr_with_prows_advice() {
    let h = harness("plugins:\n  Codertocat: [mergecommitblocker]\n").await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/commits")))
        .respond_with(ok(json!([
            {"sha": "a1", "commit": {"message": "work", "author": {"name": "C", "email": "c@x"}, "committer": {"name": "C", "email": "c@x"}}, "parents": [{"sha": "p0"}]},
            {"sha": "m1", "commit": {"message": "Merge branch 'master'", "author": {"name": "C", "email": "c@x"}, "committer": {"name": "C", "email": "c@x"}}, "parents": [{"sha": "a1"}, {"sha": "b9"}]}
        ])))
        .mount(&h.github)
        .await;
    let mut sync = payload("pull_request.synchronize.json");
    sync["number"] = json!(2);
    sync["pull_request"]["number"] = json!(2);
    assert_eq!(
        send(&h.app, "pull_request", "m1", &sync).await,
        StatusCode::OK
    );
    let advice =
        prow_plugins::respond::format_simple_response(&prow_plugins::mergecommitblocker::advice());
    assert_eq!(
        writes(&h.github).await,
        [
            label_write("do-not-merge/contains-merge-commits"),
            comment_write(&advice),
        ]
    );
}

#[tokio::test]
async fn blockade_labels_a_pr_touching_protected_files_and_lists_them() {
    let plugins = "plugins:\n  Codertocat: [blockade]\nblockades:\n- repos: [Codertocat/Hello-World]\n  blockregexps: ['^docs/']\n  explanation: Docs are frozen\n";
    let h = harness(plugins).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([
            {"filename": "docs/x.md", "status": "modified", "additions": 1, "deletions": 0, "changes": 1},
            {"filename": "main.go", "status": "modified", "additions": 1, "deletions": 0, "changes": 1}
        ])))
        .mount(&h.github)
        .await;
    let mut sync = payload("pull_request.synchronize.json");
    sync["number"] = json!(2);
    sync["pull_request"]["number"] = json!(2);
    let head = sync["pull_request"]["head"]["sha"]
        .as_str()
        .unwrap()
        .to_owned();
    let author = sync["pull_request"]["user"]["login"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(&h.app, "pull_request", "b1", &sync).await,
        StatusCode::OK
    );
    let comment = prow_plugins::respond::format_response(
        &author,
        &prow_plugins::blockade::blocked_body(),
        &format!(
            "#### Reasons for blocking this PR:\n[Docs are frozen]\n- [docs/x.md](https://github.com/Codertocat/Hello-World/blob/{head}/docs/x.md)\n\n"
        ),
    );
    assert_eq!(
        writes(&h.github).await,
        [
            label_write("do-not-merge/blocked-paths"),
            comment_write(&comment)
        ]
    );
}

#[tokio::test]
async fn an_issue_closing_commit_message_is_labeled_and_explained_once() {
    let h = harness("plugins:\n  Codertocat: [invalidcommitmsg]\n").await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/commits")))
        .respond_with(ok(json!([
            {"sha": "0123456789abcdef", "commit": {"message": "Fixes #1", "author": {"name": "C", "email": "c@x"}, "committer": {"name": "C", "email": "c@x"}}, "parents": [{"sha": "p0"}]}
        ])))
        .mount(&h.github)
        .await;
    let mut sync = payload("pull_request.synchronize.json");
    sync["number"] = json!(2);
    sync["pull_request"]["number"] = json!(2);
    sync["pull_request"]["title"] = json!("Update the README");
    assert_eq!(
        send(&h.app, "pull_request", "i1", &sync).await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0], label_write("do-not-merge/invalid-commit-message"));
    assert!(
        w[1].starts_with(&format!(
            "POST {REPO}/issues/2/comments {{\"body\":\"<!-- [prow:invalid-commit-message] -->\\n\\nInvalid commit message issues detected\\n\\n### Invalid commit messages"
        )) && w[1].contains("- [0123456](https://github.com/Codertocat/Hello-World/commits/0123456789abcdef) Fixes #1"),
        "{w:?}"
    );
}

#[tokio::test]
async fn release_note_holds_a_pr_without_a_note_and_lets_go_once_it_has_one() {
    let plugins = "plugins:\n  Codertocat: [release-note]\n";
    let h = harness(plugins).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    let opened = payload("pull_request.opened.json");
    assert_eq!(
        send(&h.app, "pull_request", "rn1", &opened).await,
        StatusCode::OK
    );
    let explanation = format!(
        "Adding the \"do-not-merge/release-note-label-needed\" label because no release-note block was detected, please follow our [release note process](https://git.k8s.io/community/contributors/guide/release-notes.md) to remove it.\n\n<details>\n\n{ABOUT_THIS_BOT}\n</details>"
    );
    assert_eq!(
        writes(&h.github).await,
        [
            comment_write(&explanation),
            label_write("do-not-merge/release-note-label-needed")
        ]
    );

    // The author writes the note: the label follows and our explanation goes.
    let h = harness(plugins).await;
    mock_labels(&h.github, &["do-not-merge/release-note-label-needed"]).await;
    mock_comments(
        &h.github,
        json!([{"id": 77, "user": {"login": "prow-bot"}, "body": explanation, "html_url": "https://c",
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}]),
    )
    .await;
    for p in [
        format!("{REPO}/issues/2/labels/do-not-merge%2Frelease-note-label-needed"),
        format!("{REPO}/issues/comments/77"),
    ] {
        Mock::given(method("DELETE"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(204))
            .mount(&h.github)
            .await;
    }
    let mut edited = payload("pull_request.opened.json");
    edited["action"] = json!("edited");
    edited["pull_request"]["body"] =
        json!("```release-note\nAction required: the flag is gone\n```");
    assert_eq!(
        send(&h.app, "pull_request", "rn2", &edited).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            label_write("release-note-action-required"),
            format!("DELETE {REPO}/issues/2/labels/do-not-merge%2Frelease-note-label-needed"),
            format!("DELETE {REPO}/issues/comments/77"),
        ]
    );
}

#[tokio::test]
async fn dco_fails_the_context_for_an_untrusted_unsigned_commit_and_lists_it() {
    let h = harness(
        "plugins:\n  Codertocat: [dco]\ndco:\n  Codertocat/Hello-World:\n    skip_dco_check_for_collaborators: true\n",
    )
    .await;
    let head = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
    mock_labels(&h.github, &["dco-signoff: yes"]).await;
    mock_comments(&h.github, json!([])).await;
    let commit = |sha: &str, message: &str, login: &str| {
        json!({"sha": sha, "commit": {"message": message, "author": {"name": "N", "email": "n@x"}, "committer": {"name": "N", "email": "n@x"}},
               "author": {"login": login}, "parents": [{"sha": "p0"}]})
    };
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/commits")))
        .respond_with(ok(json!([
            commit(
                "1111111111111111",
                "Signed\n\nSigned-off-by: C <c@x>",
                "Codertocat"
            ),
            commit("2222222222222222", "By a collaborator", "alice"),
            commit("3333333333333333", "By a stranger", "mallory"),
        ])))
        .mount(&h.github)
        .await;
    for login in ["alice", "mallory"] {
        Mock::given(method("GET"))
            .and(path(format!("/orgs/Codertocat/members/{login}")))
            .respond_with(ResponseTemplate::new(404))
            .mount(&h.github)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/commits/{head}/status")))
        .respond_with(ok(json!({"state": "success", "sha": head, "statuses": [{"context": "dco", "state": "success"}]})))
        .mount(&h.github)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/statuses/{head}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&h.github)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{REPO}/issues/2/labels/dco-signoff%3A%20yes")))
        .respond_with(ok(json!([])))
        .mount(&h.github)
        .await;
    assert_eq!(
        send(
            &h.app,
            "pull_request",
            "d1",
            &payload("pull_request.opened.json")
        )
        .await,
        StatusCode::OK
    );
    let w = writes(&h.github).await;
    assert_eq!(w.len(), 4, "{w:?}");
    assert_eq!(w[0], label_write("dco-signoff: no"));
    assert_eq!(
        w[1],
        format!("DELETE {REPO}/issues/2/labels/dco-signoff%3A%20yes")
    );
    assert_eq!(
        w[2],
        format!(
            "POST {REPO}/statuses/{head} {{\"context\":\"dco\",\"description\":\"Commits in PR missing Signed-off-by\",\"state\":\"failure\",\"target_url\":\"https://github.com/Codertocat/Hello-World/blob/master/CONTRIBUTING.md\"}}"
        )
    );
    assert!(
        w[3].starts_with(&format!(
            "POST {REPO}/issues/2/comments {{\"body\":\"Thanks for your pull request. Before we can look at it, you'll need to add a 'DCO signoff' to your commits."
        )) && w[3].contains(
            "- [3333333](https://github.com/Codertocat/Hello-World/commits/3333333333333333) By a stranger\\n\\n<details>"
        ) && !w[3].contains("2222222"),
        "{w:?}"
    );
}

#[tokio::test]
async fn require_matching_label_marks_an_issue_without_a_matching_label_and_says_why() {
    let h = harness(
        "plugins:\n  Codertocat: [require-matching-label]\nrequire_matching_label:\n\
         - {org: Codertocat, issues: true, regexp: '^sig/', missing_label: needs-sig, missing_comment: Please add a sig label., grace_period: 0s}\n\
         - {org: Codertocat, prs: true, regexp: '^kind/', missing_label: needs-kind}\n",
    )
    .await;
    // GitHub's labels now, not the payload's.
    mock_labels(&h.github, &["bug"]).await;
    mock_comments(&h.github, json!([])).await;
    let mut opened = payload("issues.opened.json");
    opened["issue"]["number"] = json!(2);
    assert_eq!(send(&h.app, "issues", "m1", &opened).await, StatusCode::OK);
    assert_eq!(
        writes(&h.github).await,
        [
            label_write("needs-sig"),
            comment_write(&format!(
                "Please add a sig label.\n\n<details>\n\n{ABOUT_THIS_BOT}\n</details>"
            )),
        ]
    );
}

#[tokio::test]
async fn branchcleaner_deletes_the_head_branch_of_a_merged_pr_unless_preserved() {
    let plugins = "plugins:\n  Codertocat: [branchcleaner]\n";
    let h = harness(plugins).await;
    Mock::given(method("DELETE"))
        .and(path(format!("{REPO}/git/refs/heads/changes")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&h.github)
        .await;
    let mut closed = payload("pull_request.closed.json");
    closed["pull_request"]["merged"] = json!(true);
    assert_eq!(
        send(&h.app, "pull_request", "b1", &closed).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [format!("DELETE {REPO}/git/refs/heads/changes")]
    );

    let h = harness(&format!(
        "{plugins}branch_cleaner:\n  preserved_branches:\n    Codertocat/Hello-World: ['^chan']\n"
    ))
    .await;
    assert_eq!(
        send(&h.app, "pull_request", "b2", &closed).await,
        StatusCode::OK
    );
    assert!(writes(&h.github).await.is_empty());
}

#[tokio::test]
async fn welcome_greets_an_untrusted_authors_first_pr() {
    let h = harness("plugins:\n  Codertocat: [welcome]\n").await;
    mock_comments(&h.github, json!([])).await;
    // The repo's owner would be trusted: a newcomer opens this one.
    let mut newcomer = payload("pull_request.opened.json");
    newcomer["pull_request"]["user"]["login"] = json!("newbie");
    for p in [
        "/orgs/Codertocat/members/newbie",
        "/repos/Codertocat/Hello-World/collaborators/newbie",
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(404))
            .mount(&h.github)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(wiremock::matchers::query_param(
            "q",
            "is:pr repo:Codertocat/Hello-World author:newbie",
        ))
        .respond_with(ok(json!({"total_count": 1, "incomplete_results": false, "items": [
            {"number": 2, "title": "t", "repository_url": "https://api.github.com/repos/Codertocat/Hello-World",
             "labels": [], "user": {"login": "newbie"}, "state": "open", "html_url": "https://x",
             "updated_at": "2026-01-01T00:00:00Z", "pull_request": {}}
        ]})))
        .expect(1)
        .mount(&h.github)
        .await;
    assert_eq!(
        send(&h.app, "pull_request", "w1", &newcomer).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [comment_write(
            "Welcome @newbie! It looks like this is your first PR to Codertocat/Hello-World 🎉"
        )]
    );
}

const OVERRIDE_JOBS: &str = "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-unit\n    context: ci/unit\n    always_run: true\n    spec: {containers: [{image: x}]}\n";
const OVERRIDE: &str = "plugins:\n  Codertocat: [override]\noverride:\n  allowed_github_teams:\n    Codertocat: [release]\n";
const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

/// PR #2 with its base repository, as GitHub's pulls API answers.
async fn mock_pull_with_repo(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2")))
        .respond_with(ok(json!({
            "number": 2, "state": "open", "title": "Update README", "user": {"login": "Codertocat"},
            "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
            "head": {"ref": "changes", "sha": HEAD},
            "base": {"ref": "master", "sha": "b", "repo": {
                "name": "Hello-World", "full_name": "Codertocat/Hello-World",
                "owner": {"login": "Codertocat"}, "html_url": "https://github.com/Codertocat/Hello-World"
            }}
        })))
        .with_priority(1)
        .mount(server)
        .await;
}

async fn mock_get(server: &MockServer, p: &str, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(answer)
        .mount(server)
        .await;
}

#[tokio::test]
async fn override_by_a_team_member_passes_the_context_and_creates_the_successful_prowjob() {
    let (h, api) = harness_with_prowjobs(OVERRIDE, OVERRIDE_JOBS).await;
    mock_pull_with_repo(&h.github).await;
    mock_comments(&h.github, json!([])).await;
    mock_get(
        &h.github,
        &format!("{REPO}/collaborators/alice/permission"),
        ok(json!({"permission": "write"})),
    )
    .await;
    mock_get(
        &h.github,
        "/orgs/Codertocat/teams/release/members",
        ok(json!([{"login": "alice"}])),
    )
    .await;
    mock_get(
        &h.github,
        &format!("{REPO}/commits/{HEAD}/status"),
        ok(json!({"state": "failure", "sha": HEAD, "statuses": [
            {"context": "ci/unit", "state": "failure", "description": "Job failed.", "target_url": "https://prow/unit"},
            {"context": "lint", "state": "success"}
        ]})),
    )
    .await;
    mock_get(
        &h.github,
        &format!("{REPO}/branches/master/protection"),
        ok(json!({"required_status_checks": {"strict": false, "contexts": ["tide"]}})),
    )
    .await;
    mock_get(
        &h.github,
        &format!("{REPO}/git/ref/heads/master"),
        ok(json!({"ref": "refs/heads/master", "object": {"sha": "base-now"}})),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/statuses/{HEAD}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&h.github)
        .await;
    let body = "/override pull-unit";
    let comment = pr_comment("alice", body);
    assert_eq!(
        send(&h.app, "issue_comment", "o1", &comment).await,
        StatusCode::OK
    );
    assert_eq!(
        calls(&h.github).await,
        [
            "GET /user".to_owned(),
            format!("GET {REPO}/pulls/2"),
            format!("GET {REPO}/collaborators/alice/permission"),
            "GET /orgs/Codertocat/teams/release/members".to_owned(),
            format!("GET {REPO}/commits/{HEAD}/status"),
            format!("GET {REPO}/branches/master/protection"),
            format!("GET {REPO}/git/ref/heads/master"),
            format!("POST {REPO}/statuses/{HEAD}"),
            format!("GET {REPO}/issues/2/comments"),
            format!("POST {REPO}/issues/2/comments"),
        ]
    );
    let description =
        prow_core::status_description::with_base_sha("Overridden by alice", "base-now");
    assert_eq!(
        writes(&h.github).await,
        [
            format!(
                "POST {REPO}/statuses/{HEAD} {}",
                serde_json::to_string(&json!({
                    "context": "ci/unit", "description": description,
                    "state": "success", "target_url": "https://prow/unit"
                }))
                .unwrap()
            ),
            comment_write(&reply_to(
                &comment,
                body,
                "Overrode contexts on behalf of alice: ci/unit"
            )),
        ]
    );
    let jobs = prow_kube::ProwJobs::new(api.client().unwrap(), "default")
        .list(None)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let pj = &jobs[0];
    assert_eq!(
        pj.metadata.name.as_deref(),
        Some(prow_core::naming::prowjob_name(&["o1", "/override", "pull-unit"]).as_str())
    );
    assert_eq!(pj.spec.job, "pull-unit");
    assert_eq!(pj.spec.context, "ci/unit");
    assert_eq!(pj.status.state, prow_core::prowjob::ProwJobState::Success);
    assert_eq!(pj.status.description, "Overridden by alice");
    assert_eq!(
        pj.status.url,
        comment["comment"]["html_url"].as_str().unwrap()
    );
    assert!(pj.status.completion_time.is_some());
    let refs = pj.spec.refs.as_ref().unwrap();
    assert_eq!(refs.base_sha, "base-now");
    assert_eq!(
        refs.base_link,
        "https://github.com/Codertocat/Hello-World/commit/base-now"
    );
    assert_eq!(refs.pulls[0].sha, HEAD);
    assert_eq!(refs.pulls[0].author_link, "https://github.com/Codertocat");
    assert_eq!(pj.metadata.labels.as_ref().unwrap()["event-GUID"], "o1");

    // The same delivery again creates no second job and says nothing twice.
    let said = vec![
        json!({"id": 1, "user": {"login": "prow-bot"}, "body": reply_to(&comment, body, "Overrode contexts on behalf of alice: ci/unit"), "html_url": "https://x", "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}),
    ];
    h.github.reset().await;
    mock_reads(&h.github).await;
    mock_pull_with_repo(&h.github).await;
    mock_comments(&h.github, json!(said)).await;
    mock_get(
        &h.github,
        &format!("{REPO}/collaborators/alice/permission"),
        ok(json!({"permission": "admin"})),
    )
    .await;
    mock_get(&h.github, &format!("{REPO}/commits/{HEAD}/status"), ok(json!({"state": "failure", "sha": HEAD, "statuses": [{"context": "ci/unit", "state": "failure"}]}))).await;
    mock_get(
        &h.github,
        &format!("{REPO}/branches/master/protection"),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not protected"})),
    )
    .await;
    mock_get(
        &h.github,
        &format!("{REPO}/git/ref/heads/master"),
        ok(json!({"object": {"sha": "base-now"}})),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/statuses/{HEAD}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&h.github)
        .await;
    assert_eq!(
        send(&h.app, "issue_comment", "o1", &comment).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await.len(),
        1,
        "only the status is set again"
    );
    let jobs = prow_kube::ProwJobs::new(api.client().unwrap(), "default")
        .list(None)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
}

#[tokio::test]
async fn override_by_someone_not_allowed_is_refused_without_reading_statuses() {
    let (h, api) = harness_with_prowjobs(OVERRIDE, OVERRIDE_JOBS).await;
    mock_pull_with_repo(&h.github).await;
    mock_comments(&h.github, json!([])).await;
    mock_get(
        &h.github,
        &format!("{REPO}/collaborators/mallory/permission"),
        ok(json!({"permission": "write"})),
    )
    .await;
    mock_get(
        &h.github,
        "/orgs/Codertocat/teams/release/members",
        ok(json!([{"login": "alice"}])),
    )
    .await;
    let body = "/override ci/unit";
    let comment = pr_comment("mallory", body);
    assert_eq!(
        send(&h.app, "issue_comment", "o2", &comment).await,
        StatusCode::OK
    );
    assert_eq!(
        calls(&h.github).await,
        [
            "GET /user".to_owned(),
            format!("GET {REPO}/pulls/2"),
            format!("GET {REPO}/collaborators/mallory/permission"),
            "GET /orgs/Codertocat/teams/release/members".to_owned(),
            format!("GET {REPO}/issues/2/comments"),
            format!("POST {REPO}/issues/2/comments"),
        ]
    );
    assert_eq!(
        writes(&h.github).await,
        [comment_write(&reply_to(
            &comment,
            body,
            "mallory unauthorized: /override is restricted to Repo administrators, and the following github teams:Codertocat: release."
        ))]
    );
    let jobs = prow_kube::ProwJobs::new(api.client().unwrap(), "default")
        .list(None)
        .await
        .unwrap();
    assert!(jobs.is_empty());
}

const MILESTONE: &str = "plugins:\n  Codertocat: [milestone, milestoneapplier]\nrepo_milestone:\n  Codertocat/Hello-World:\n    maintainers_team: milestone-maintainers\n    maintainers_friendly_name: SIG Chairs\nmilestone_applier:\n  Codertocat/Hello-World:\n    master: v1.0\n";

async fn mock_milestones(server: &MockServer) {
    mock_get(
        server,
        &format!("{REPO}/milestones"),
        ok(json!([
            {"number": 1, "title": "v1.0", "state": "open"},
            {"number": 2, "title": "v0.9", "state": "closed"},
            {"number": 3, "title": "v1.1", "state": "open"}
        ])),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/issues/2")))
        .respond_with(ok(json!({"number": 2})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn milestone_is_set_by_a_maintainer_and_refused_to_others_in_prows_words() {
    let h = harness(MILESTONE).await;
    mock_comments(&h.github, json!([])).await;
    mock_milestones(&h.github).await;
    mock_get(
        &h.github,
        "/orgs/Codertocat/teams/milestone-maintainers/members",
        ok(json!([{"login": "Alice"}])),
    )
    .await;
    let set = pr_comment("alice", "/milestone v1.1");
    assert_eq!(
        send(&h.app, "issue_comment", "m1", &set).await,
        StatusCode::OK
    );
    let clear = pr_comment("alice", "/milestone clear");
    assert_eq!(
        send(&h.app, "issue_comment", "m2", &clear).await,
        StatusCode::OK
    );
    let closed = pr_comment("alice", "/milestone v0.9");
    assert_eq!(
        send(&h.app, "issue_comment", "m3", &closed).await,
        StatusCode::OK
    );
    let stranger = pr_comment("mallory", "/milestone v1.1");
    assert_eq!(
        send(&h.app, "issue_comment", "m4", &stranger).await,
        StatusCode::OK
    );
    assert_eq!(
        writes(&h.github).await,
        [
            format!("PATCH {REPO}/issues/2 {{\"milestone\":3}}"),
            format!("PATCH {REPO}/issues/2 {{\"milestone\":null}}"),
            comment_write(&reply_to(
                &closed,
                "/milestone v0.9",
                "The provided milestone is not valid for this repository. Milestones in this repository: [`v1.0`, `v1.1`]\n\nUse `/milestone clear` to clear the milestone."
            )),
            comment_write(&reply_to(
                &stranger,
                "/milestone v1.1",
                "You must be a member of the [Codertocat/milestone-maintainers](https://github.com/orgs/Codertocat/teams/milestone-maintainers/members) GitHub team to set the milestone. If you believe you should be able to issue the /milestone command, please contact your SIG Chairs and have them propose you as an additional delegate for this responsibility."
            )),
        ]
    );
}

#[tokio::test]
async fn milestoneapplier_sets_the_branchs_milestone_when_the_pr_merges() {
    let h = harness(MILESTONE).await;
    mock_milestones(&h.github).await;
    let mut merged = payload("pull_request.closed.json");
    merged["pull_request"]["merged"] = json!(true);
    merged["pull_request"]["base"]["ref"] = json!("master");
    merged["pull_request"]["base"]["repo"]["default_branch"] = json!("master");
    merged["pull_request"]["milestone"] = json!(null);
    assert_eq!(
        send(&h.app, "pull_request", "a1", &merged).await,
        StatusCode::OK
    );
    // Already on the milestone: nothing to do, nothing read.
    merged["pull_request"]["milestone"] = json!({"number": 1, "title": "v1.0"});
    assert_eq!(
        send(&h.app, "pull_request", "a2", &merged).await,
        StatusCode::OK
    );
    assert_eq!(
        calls(&h.github).await,
        [
            "GET /user".to_owned(),
            format!("GET {REPO}/milestones"),
            format!("PATCH {REPO}/issues/2"),
        ]
    );
    assert_eq!(
        writes(&h.github).await,
        [format!("PATCH {REPO}/issues/2 {{\"milestone\":1}}")]
    );
}

#[tokio::test]
async fn one_comment_for_several_plugins_reads_the_pr_once() {
    let jobs = "presubmits:\n  Codertocat/Hello-World:\n  - name: lint\n    optional: true\n    always_run: true\n    spec: {containers: [{image: x}]}\n";
    let plugins = "plugins:\n  Codertocat: [lgtm, approve, skip]\nlgtm:\n- repos: [Codertocat/Hello-World]\n  store_tree_hash: true\n";
    let h = harness_with_jobs(plugins, Some(jobs)).await;
    mock_labels(&h.github, &[]).await;
    mock_comments(&h.github, json!([])).await;
    mock_get(&h.github, &format!("{REPO}/pulls/2/files"), ok(json!([]))).await;
    mock_get(
        &h.github,
        &format!("{REPO}/commits/{HEAD}/status"),
        ok(json!({"state": "success", "sha": HEAD, "statuses": []})),
    )
    .await;
    mock_get(
        &h.github,
        &format!("{REPO}/git/trees/b"),
        ok(json!({"sha": "b", "tree": [], "truncated": false})),
    )
    .await;
    mock_get(&h.github, &format!("{REPO}/collaborators"), ok(json!([]))).await;
    mock_get(&h.github, &format!("{REPO}/pulls/2/reviews"), ok(json!([]))).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/assignees")))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "alice"}]}),
        ))
        .mount(&h.github)
        .await;
    let comment = pr_comment("alice", "/lgtm\n/approve\n/skip");
    assert_eq!(
        send(&h.app, "issue_comment", "f1", &comment).await,
        StatusCode::OK
    );
    let seen = calls(&h.github).await;
    // lgtm's tree hash, approve's base and skip's head all come from that one read.
    for read in [
        format!("GET {REPO}/git/trees/{HEAD}"),
        format!("GET {REPO}/git/trees/b"),
        format!("GET {REPO}/commits/{HEAD}/status"),
    ] {
        assert!(seen.contains(&read), "{read} missing from {seen:?}");
    }
    let pr_reads = calls(&h.github)
        .await
        .into_iter()
        .filter(|c| *c == format!("GET {REPO}/pulls/2"))
        .count();
    assert_eq!(pr_reads, 1);
}
