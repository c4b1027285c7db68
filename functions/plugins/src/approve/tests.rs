use std::sync::Arc;

use prow_owners::{BuildOptions, RepoOwners};

use super::*;
use crate::event::{PullRequest, Review};
use crate::testing::{comment_event, user};

fn config(yaml: &str) -> PluginsConfig {
    serde_norway::from_str(yaml).unwrap()
}

/// alice approves the whole repo, dana only docs/.
fn owners() -> Arc<RepoOwners> {
    Arc::new(RepoOwners::build(
        [
            ("OWNERS", "approvers:\n- alice\nreviewers:\n- bob\n"),
            ("docs/OWNERS", "approvers:\n- dana\n"),
        ],
        &BuildOptions::default(),
    ))
}

fn comment(id: u64, who: &str, body: &str, at: &str) -> IssueComment {
    IssueComment {
        id,
        user: who.into(),
        body: body.into(),
        edited: false,
        html_url: format!("https://github.com/acme/foo/pull/7#issuecomment-{id}"),
        created_at: at.into(),
    }
}

/// PR acme/foo#7 changing `files`, with these comments and labels.
fn facts(files: &[&str], comments: Vec<IssueComment>, labels: &[&str]) -> Facts {
    Facts {
        bot: "prow-bot".into(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        comments,
        pull_request: Some(PrFacts {
            body: "Does things.".into(),
            html_url: "https://github.com/acme/foo/pull/7".into(),
            base_ref: "main".into(),
            base_sha: "b".into(),
            assignees: vec![],
            changed_files: files.iter().map(|f| (*f).to_owned()).collect(),
        }),
        repo_owners: Some(owners()),
        ..Facts::default()
    }
}

const ANY: &str = "plugins:\n  acme: [approve]\n";

fn is_notification(a: &Action) -> bool {
    match a {
        Action::Comment(body) | Action::EditComment { body, .. } => {
            body.starts_with(APPROVAL_NOTIFIER)
        }
        _ => false,
    }
}

fn labels_of(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| matches!(a, Action::AddLabel(_) | Action::RemoveLabel(_)))
        .cloned()
        .collect()
}

/// The notification lists `who`'s `/approve` (comment 100) among the approvals.
fn approved_by(actions: &[Action], who: &str) -> bool {
    let listed = format!(
        "*<a href=\"https://github.com/acme/foo/pull/7#issuecomment-100\" title=\"Approved\">{who}</a>*"
    );
    actions.iter().any(|a| match a {
        Action::Comment(b) | Action::EditComment { body: b, .. } => b.contains(&listed),
        _ => false,
    })
}

/// `who` comments `body` as the newest comment after `earlier`.
fn decide_comment(
    cfg: &str,
    files: &[&str],
    earlier: Vec<IssueComment>,
    who: &str,
    body: &str,
    labels: &[&str],
) -> Vec<Action> {
    let mut comments = earlier;
    comments.push(comment(100, who, body, "2024-01-02T00:00:00Z"));
    let f = facts(files, comments, labels);
    Approve.decide(&comment_event(body, who, true), &f, &config(cfg))
}

/// name, commenter, changed files, comment, approved.
type OwnersCase<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, bool);

#[test]
fn approval_follows_owners_of_the_changed_files() {
    let cases: &[OwnersCase<'_>] = &[
        (
            "a root approver approves any file",
            "alice",
            &["src/main.rs", "docs/a.md"],
            "/approve",
            true,
        ),
        (
            "a docs approver cannot approve src",
            "dana",
            &["src/main.rs", "docs/a.md"],
            "/approve",
            false,
        ),
        (
            "a docs approver approves docs alone",
            "dana",
            &["docs/a.md"],
            "/approve",
            true,
        ),
        (
            "a reviewer is no approver",
            "bob",
            &["src/main.rs"],
            "/approve",
            false,
        ),
        (
            "someone not in OWNERS changes nothing but the explanation",
            "mallory",
            &["src/main.rs"],
            "/approve",
            false,
        ),
        (
            "commands are case-insensitive",
            "alice",
            &["src/main.rs"],
            "/APPROVE",
            true,
        ),
    ];
    for (name, who, files, body, approved) in cases {
        let actions = decide_comment(ANY, files, vec![], who, body, &[]);
        let want = if *approved {
            vec![Action::AddLabel(LABEL.into())]
        } else {
            vec![]
        };
        assert_eq!(labels_of(&actions), want, "{name}");
        assert!(
            matches!(actions.first(), Some(Action::Comment(b)) if b.starts_with(APPROVAL_NOTIFIER)),
            "{name}: {actions:?}"
        );
    }
}

#[test]
fn someone_not_in_owners_is_listed_but_does_not_approve() {
    let by_mallory = decide_comment(ANY, &["src/main.rs"], vec![], "mallory", "/approve", &[]);
    let nobody = decide_comment(ANY, &["src/main.rs"], vec![], "mallory", "hello", &[]);
    assert!(nobody.is_empty(), "not a command: {nobody:?}");
    assert_eq!(by_mallory.len(), 1);
    assert!(approved_by(&by_mallory, "mallory"), "{by_mallory:?}");
    assert!(labels_of(&by_mallory).is_empty());
}

#[test]
fn the_latest_word_of_each_approver_wins() {
    let at = |n: u32| format!("2024-01-01T00:00:{n:02}Z");
    let cases: &[(&str, &[&str], &str, bool)] = &[
        ("approve", &["/approve"], "/approve", true),
        (
            "cancel after approve",
            &["/approve"],
            "/approve cancel",
            false,
        ),
        ("remove-approve", &["/approve"], "/remove-approve", false),
        (
            "approve after cancel",
            &["/approve", "/approve cancel"],
            "/approve",
            true,
        ),
        (
            "cancel with trailing words",
            &["/approve"],
            "/approve cancel please",
            false,
        ),
    ];
    for (name, earlier, last, approved) in cases {
        let earlier: Vec<IssueComment> = earlier
            .iter()
            .enumerate()
            .map(|(i, b)| comment(i as u64 + 1, "alice", b, &at(i as u32)))
            .collect();
        // The label as it would be after the earlier comments.
        let actions = decide_comment(ANY, &["src/main.rs"], earlier, "alice", last, &[LABEL]);
        let want = if *approved {
            vec![]
        } else {
            vec![Action::RemoveLabel(LABEL.into())]
        };
        assert_eq!(labels_of(&actions), want, "{name}: {actions:?}");
    }
}

#[test]
fn the_notification_is_edited_in_place_and_duplicates_deleted() {
    let first = decide_comment(ANY, &["src/main.rs"], vec![], "alice", "/approve", &[]);
    let Some(Action::Comment(current)) = first.first().cloned() else {
        panic!("{first:?}")
    };
    let approve = comment(5, "alice", "/approve", "2024-01-01T00:00:01Z");
    let ours = |id: u64, body: &str| comment(id, "prow-bot", body, "2024-01-01T00:00:02Z");

    // Already current: nothing to say (a redelivered event).
    let same = decide_comment(
        ANY,
        &["src/main.rs"],
        vec![approve.clone(), ours(9, &current)],
        "alice",
        "/approve",
        &[LABEL],
    );
    assert!(same.is_empty(), "{same:?}");

    // Stale: the newest is edited and older ones deleted, never a new comment.
    let stale = format!("{APPROVAL_NOTIFIER} This PR is **NOT APPROVED**");
    let edited = decide_comment(
        ANY,
        &["src/main.rs"],
        vec![approve, ours(8, &stale), ours(9, &stale)],
        "alice",
        "/approve",
        &[],
    );
    assert_eq!(
        edited,
        vec![
            Action::DeleteComment(8),
            Action::EditComment {
                id: 9,
                body: current
            },
            Action::AddLabel(LABEL.into()),
        ]
    );

    // Someone else's comment that quotes the marker is not ours to edit.
    let quoted = decide_comment(
        ANY,
        &["src/main.rs"],
        vec![comment(3, "mallory", &stale, "2024-01-01T00:00:00Z")],
        "alice",
        "/approve",
        &[],
    );
    assert!(
        matches!(quoted.first(), Some(Action::Comment(_))),
        "{quoted:?}"
    );
}

#[test]
fn options_change_what_approves() {
    let files = &["src/main.rs"];
    let cases: &[(&str, &str, &str, &str, bool)] = &[
        (
            "lgtm does not approve by default",
            ANY,
            "alice",
            "/lgtm",
            false,
        ),
        (
            "lgtm approves with lgtm_acts_as_approve",
            "plugins:\n  acme: [approve]\napprove:\n- repos: [acme]\n  lgtm_acts_as_approve: true\n",
            "alice",
            "/lgtm",
            true,
        ),
        (
            "an issue is required",
            "plugins:\n  acme: [approve]\napprove:\n- repos: [acme/foo]\n  issue_required: true\n",
            "alice",
            "/approve",
            false,
        ),
        (
            "no-issue waives the issue",
            "plugins:\n  acme: [approve]\napprove:\n- repos: [acme/foo]\n  issue_required: true\n",
            "alice",
            "/approve no-issue",
            true,
        ),
    ];
    for (name, cfg, who, body, approved) in cases {
        let actions = decide_comment(cfg, files, vec![], who, body, &[]);
        let want = if *approved {
            vec![Action::AddLabel(LABEL.into())]
        } else {
            vec![]
        };
        assert_eq!(labels_of(&actions), want, "{name}: {actions:?}");
    }
}

#[test]
fn an_issue_linked_in_the_body_meets_issue_required() {
    let cfg = config(
        "plugins:\n  acme: [approve]\napprove:\n- repos: [acme/foo]\n  issue_required: true\n",
    );
    let mut f = facts(
        &["src/main.rs"],
        vec![comment(1, "alice", "/approve", "2024-01-01T00:00:00Z")],
        &[],
    );
    f.pull_request.as_mut().unwrap().body = "Fixes #12".into();
    let actions = Approve.decide(&comment_event("/approve", "alice", true), &f, &cfg);
    assert_eq!(labels_of(&actions), vec![Action::AddLabel(LABEL.into())]);
}

fn pr_event(action: &str, author: &str) -> Event {
    let mut ev = comment_event("", author, true);
    ev.kind = Kind::PullRequest;
    ev.action = action.into();
    ev.author = user(author);
    ev.comment = None;
    ev.pull_request = Some(PullRequest {
        number: 7,
        state: "open".into(),
        ..PullRequest::default()
    });
    ev
}

#[test]
fn the_author_approves_implicitly_unless_self_approval_is_required() {
    let f = facts(&["src/main.rs"], vec![], &[]);
    let implicit = Approve.decide(&pr_event("opened", "alice"), &f, &config(ANY));
    assert_eq!(labels_of(&implicit), vec![Action::AddLabel(LABEL.into())]);
    let required = config(
        "plugins:\n  acme: [approve]\napprove:\n- repos: [acme]\n  require_self_approval: true\n",
    );
    let explicit = Approve.decide(&pr_event("opened", "alice"), &f, &required);
    assert!(labels_of(&explicit).is_empty(), "{explicit:?}");
    assert!(explicit.iter().any(is_notification));
    // Someone else's PR is not approved by its author's opening it.
    let other = Approve.decide(&pr_event("opened", "mallory"), &f, &config(ANY));
    assert!(labels_of(&other).is_empty());
}

#[test]
fn reviews_approve_only_when_review_state_is_considered() {
    let review = PrReview {
        user: "alice".into(),
        state: "APPROVED".into(),
        html_url: "https://github.com/acme/foo/pull/7#pullrequestreview-1".into(),
        submitted_at: "2024-01-01T00:00:00Z".into(),
        ..PrReview::default()
    };
    let mut f = facts(&["src/main.rs"], vec![], &[]);
    f.reviews = vec![review];
    let mut ev = pr_event("submitted", "mallory");
    ev.kind = Kind::PullRequestReview;
    ev.review = Some(Review {
        user: user("alice"),
        state: "approved".into(),
        body: None,
        html_url: String::new(),
    });
    assert!(
        Approve.needs(&ev, &config(ANY)).is_none(),
        "ignored by default"
    );
    let cfg = config(
        "plugins:\n  acme: [approve]\napprove:\n- repos: [acme]\n  ignore_review_state: false\n",
    );
    assert!(Approve.needs(&ev, &cfg).is_some());
    let actions = Approve.decide(&ev, &f, &cfg);
    assert_eq!(labels_of(&actions), vec![Action::AddLabel(LABEL.into())]);
    // Requesting changes later withdraws it.
    f.reviews.push(PrReview {
        state: "CHANGES_REQUESTED".into(),
        submitted_at: "2024-01-01T00:00:05Z".into(),
        ..f.reviews[0].clone()
    });
    f.labels = vec![LABEL.into()];
    let actions = Approve.decide(&ev, &f, &cfg);
    assert_eq!(labels_of(&actions), vec![Action::RemoveLabel(LABEL.into())]);
}

#[test]
fn bots_and_closed_prs_and_plain_issues_are_ignored() {
    let f = facts(&["src/main.rs"], vec![], &[]);
    let bot = comment_event("/approve", "prow-bot", true);
    assert!(Approve.decide(&bot, &f, &config(ANY)).is_empty());
    let issue = comment_event("/approve", "alice", false);
    assert!(Approve.needs(&issue, &config(ANY)).is_none());
    let mut closed = comment_event("/approve", "alice", true);
    closed.state = "closed".into();
    assert!(Approve.needs(&closed, &config(ANY)).is_none());
    let edit = pr_event("edited", "alice");
    assert!(Approve.needs(&edit, &config(ANY)).is_none());
}

#[test]
fn a_human_adding_the_label_keeps_it_and_a_bot_adding_it_is_ignored() {
    let f = facts(&["src/main.rs"], vec![], &[LABEL]);
    let mut ev = pr_event("labeled", "mallory");
    ev.label = Some(LABEL.into());
    ev.sender = user("carol");
    let actions = Approve.decide(&ev, &f, &config(ANY));
    assert!(labels_of(&actions).is_empty(), "{actions:?}");
    ev.sender = user("prow-bot");
    assert!(Approve.decide(&ev, &f, &config(ANY)).is_empty());
    ev.label = Some("lgtm".into());
    ev.sender = user("carol");
    assert!(Approve.needs(&ev, &config(ANY)).is_none());
}

#[test]
fn commands_are_read_as_prow_reads_them() {
    let cmds = commands("hi\n/approve   no-issue\r\n /approve\n/\n/remove-approve\n`/lgtm`");
    assert_eq!(
        cmds,
        vec![
            Cmd {
                name: "APPROVE".into(),
                args: "no-issue"
            },
            Cmd {
                name: "REMOVE-APPROVE".into(),
                args: ""
            },
        ]
    );
}

#[test]
fn associated_issues_are_found_as_prow_finds_them() {
    let cases: &[(&str, Option<u64>)] = &[
        ("Fixes #12", Some(12)),
        ("see https://github.com/acme/bar/issues/34 and #5", Some(34)),
        ("see https://github.com/other/bar/issues/34", None),
        ("acme//issues/3", None),
        ("# 12 and #x", None),
        ("no issue", None),
    ];
    for (body, want) in cases {
        assert_eq!(associated_issue(body, "acme"), *want, "{body}");
    }
}

#[test]
fn help_describes_each_repos_settings() {
    let cfg = config(
        "plugins:\n  acme: [approve]\napprove:\n- repos: [acme/foo]\n  issue_required: true\n  lgtm_acts_as_approve: true\n",
    );
    let help = Approve.help(&cfg, &[Repo::new("acme", "foo")]);
    assert_eq!(
        help.config["acme/foo"],
        "Pull requests require an associated issue.<br>Pull request authors implicitly approve their own PRs.<br>The /lgtm [cancel] command(s) will act as approval.<br>A GitHub approved or changes requested review will not act as approval or cancel respectively."
    );
    assert_eq!(
        help.commands[0].usage,
        "/[remove-]approve [no-issue|cancel]"
    );
}
