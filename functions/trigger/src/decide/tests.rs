//! Decision tables for trigger: pull_request actions, comments, help, pushes, aborts.

use super::*;
use k8s_openapi::jiff::Timestamp;
use prow_core::config::{ChangeMatcher, JobBase, default_rerun_command_for, default_trigger_for};
use prow_core::prowjob::ProwJobType;
use prow_github::{Label, PullRequestBranch, Repository, User};

use crate::payload::{Comment, Issue, Owner};

fn user(login: &str) -> User {
    User {
        login: login.into(),
        ..User::default()
    }
}

fn repo() -> Repo {
    Repo {
        name: "foo".into(),
        full_name: "acme/foo".into(),
        owner: Owner {
            login: "acme".into(),
            name: Some("acme".into()),
        },
        html_url: "https://github.com/acme/foo".into(),
    }
}

fn pr(draft: bool) -> PullRequest {
    PullRequest {
        number: 7,
        draft,
        title: "Fix".into(),
        user: user("bob"),
        head: PullRequestBranch {
            git_ref: "fix".into(),
            sha: "headsha".into(),
            repo: None,
        },
        base: PullRequestBranch {
            git_ref: "main".into(),
            sha: "oldbase".into(),
            repo: Some(Repository {
                name: "foo".into(),
                full_name: "acme/foo".into(),
                owner: user("acme"),
                html_url: "https://github.com/acme/foo".into(),
                ..Repository::default()
            }),
        },
        html_url: "https://github.com/acme/foo/pull/7".into(),
        ..PullRequest::default()
    }
}

fn pr_event(action: &str, draft: bool, label: Option<&str>) -> PullRequestEvent {
    PullRequestEvent {
        action: action.into(),
        pull_request: pr(draft),
        label: label.map(|l| Label {
            name: l.into(),
            ..Label::default()
        }),
        changes: None,
        sender: user("carol"),
        repository: repo(),
    }
}

fn facts(trusted: bool, labels: &[&str]) -> PrFacts {
    PrFacts {
        author_trusted: trusted,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        sender_is_bot: false,
    }
}

fn run() -> Action {
    Action::Run(RunRequest::TestAll)
}

/// A compact view of actions for table comparisons.
fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::CreateProwJob(pj) => format!("create {}", pj.spec.job),
            Action::Comment(body) if body.starts_with("Hi @") => "welcome".into(),
            Action::Comment(body) if body == messages::DRAFT_MESSAGE => "draft".into(),
            Action::Comment(body) => format!("comment {}", body.lines().next().unwrap_or("")),
            Action::AddLabel(l) => format!("+{l}"),
            Action::RemoveLabel(l) => format!("-{l}"),
            Action::AbortJobs { keep_sha } => format!("abort keep={keep_sha:?}"),
            Action::PruneHelpComments => "prune".into(),
            Action::Run(RunRequest::TestAll) => "run all".into(),
            Action::Run(RunRequest::Comment { text, .. }) => format!("run {}", text.trim()),
        })
        .collect()
}

#[test]
fn pull_request_actions() {
    let _ = run();
    let base_change = {
        let mut ev = pr_event("edited", false, None);
        ev.changes = Some(serde_json::json!({"base": {"ref": {"from": "old"}}}));
        ev
    };
    let title_change = {
        let mut ev = pr_event("edited", false, None);
        ev.changes = Some(serde_json::json!({"title": {"from": "x"}}));
        ev
    };
    let bot_label = PrFacts {
        sender_is_bot: true,
        ..facts(false, &[])
    };
    let cases: Vec<(&str, PullRequestEvent, PrFacts, TriggerConfig, Vec<&str>)> = vec![
        (
            "trusted author opens a PR: run all",
            pr_event("opened", false, None),
            facts(true, &[]),
            TriggerConfig::default(),
            vec!["run all"],
        ),
        (
            "trusted author opens a draft: draft comment, nothing runs",
            pr_event("opened", true, None),
            facts(true, &[]),
            TriggerConfig::default(),
            vec!["draft"],
        ),
        (
            "untrusted author: needs-ok-to-test and welcome",
            pr_event("opened", false, None),
            facts(false, &[]),
            TriggerConfig::default(),
            vec!["+needs-ok-to-test", "welcome"],
        ),
        (
            "untrusted author, redelivered: label already there, nothing again",
            pr_event("opened", false, None),
            facts(false, &["needs-ok-to-test"]),
            TriggerConfig::default(),
            vec![],
        ),
        (
            "untrusted author, ok-to-test already set: welcome without label",
            pr_event("opened", false, None),
            facts(false, &["ok-to-test"]),
            TriggerConfig::default(),
            vec!["welcome"],
        ),
        (
            "ignore_ok_to_test: welcome without label",
            pr_event("opened", false, None),
            facts(false, &[]),
            TriggerConfig {
                ignore_ok_to_test: true,
                ..TriggerConfig::default()
            },
            vec!["welcome"],
        ),
        (
            "reopened by ok-to-test'd PR: drop needs-ok-to-test and run",
            pr_event("reopened", false, None),
            facts(false, &["ok-to-test", "needs-ok-to-test"]),
            TriggerConfig::default(),
            vec!["-needs-ok-to-test", "run all"],
        ),
        (
            "reopened untrusted PR: nothing",
            pr_event("reopened", false, None),
            facts(false, &[]),
            TriggerConfig::default(),
            vec![],
        ),
        (
            "synchronize trusted: abort older, run",
            pr_event("synchronize", false, None),
            facts(true, &[]),
            TriggerConfig::default(),
            vec!["abort keep=Some(\"headsha\")", "run all"],
        ),
        (
            "synchronize untrusted: abort only",
            pr_event("synchronize", false, None),
            facts(false, &[]),
            TriggerConfig::default(),
            vec!["abort keep=Some(\"headsha\")"],
        ),
        (
            "synchronize a draft: abort, no run",
            pr_event("synchronize", true, None),
            facts(true, &[]),
            TriggerConfig::default(),
            vec!["abort keep=Some(\"headsha\")"],
        ),
        (
            "base branch changed: run",
            base_change,
            facts(true, &[]),
            TriggerConfig::default(),
            vec!["run all"],
        ),
        (
            "title edited: nothing",
            title_change,
            facts(true, &[]),
            TriggerConfig::default(),
            vec![],
        ),
        (
            "lgtm on untrusted PR: run",
            pr_event("labeled", false, Some("lgtm")),
            facts(false, &[]),
            TriggerConfig::default(),
            vec!["run all"],
        ),
        (
            "lgtm on trusted PR: nothing (already tested)",
            pr_event("labeled", false, Some("lgtm")),
            facts(true, &[]),
            TriggerConfig::default(),
            vec![],
        ),
        (
            "ok-to-test added by a human: run",
            pr_event("labeled", false, Some("ok-to-test")),
            facts(false, &[]),
            TriggerConfig::default(),
            vec!["run all"],
        ),
        (
            "ok-to-test added by the bot: the comment already ran jobs",
            pr_event("labeled", false, Some("ok-to-test")),
            bot_label,
            TriggerConfig::default(),
            vec![],
        ),
        (
            "ready_for_review: run",
            pr_event("ready_for_review", false, None),
            facts(true, &[]),
            TriggerConfig::default(),
            vec!["run all"],
        ),
        (
            "closed: abort everything",
            pr_event("closed", false, None),
            facts(false, &[]),
            TriggerConfig::default(),
            vec!["abort keep=None"],
        ),
        (
            "converted_to_draft: abort everything",
            pr_event("converted_to_draft", true, None),
            facts(false, &[]),
            TriggerConfig::default(),
            vec!["abort keep=None"],
        ),
        (
            "assigned: nothing",
            pr_event("assigned", false, None),
            facts(true, &[]),
            TriggerConfig::default(),
            vec![],
        ),
    ];
    for (name, ev, facts, trigger, want) in cases {
        assert_eq!(
            kinds(&decide_pull_request(&ev, &trigger, &facts)),
            want,
            "{name}"
        );
    }
}

#[test]
fn pr_needs_only_what_the_action_uses() {
    let cases = [
        ("opened", None, true, false),
        ("synchronize", None, true, false),
        ("closed", None, false, false),
        ("labeled", Some("lgtm"), true, false),
        ("labeled", Some("ok-to-test"), false, true),
        ("labeled", Some("size/XS"), false, false),
        ("edited", None, false, false),
    ];
    for (action, label, trust, bot) in cases {
        let needs = pr_needs(&pr_event(action, false, label));
        assert_eq!((needs.trust, needs.sender_is_bot), (trust, bot), "{action}");
    }
}

fn comment_event(body: &str, author: &str) -> IssueCommentEvent {
    IssueCommentEvent {
        action: "created".into(),
        issue: Issue {
            number: 7,
            state: IssueState::Open,
            user: user("bob"),
            pull_request: Some(serde_json::json!({})),
        },
        comment: Comment {
            body: body.into(),
            html_url: "https://github.com/acme/foo/pull/7#issuecomment-1".into(),
            user: user(author),
        },
        repository: repo(),
    }
}

fn job(name: &str) -> Presubmit {
    job_with(name, |_| {})
}

/// A presubmit with Prow's default trigger, edited by `edit`.
fn job_with(name: &str, edit: impl FnOnce(&mut Presubmit)) -> Presubmit {
    let mut p = Presubmit::default();
    p.base.name = name.into();
    p.context = name.into();
    p.set_trigger(default_trigger_for(name), default_rerun_command_for(name));
    edit(&mut p);
    p
}

#[test]
fn comment_relevance() {
    let jobs = vec![job("unit")];
    let mut closed = comment_event("/retest", "alice");
    closed.issue.state = IssueState::Closed;
    let mut issue = comment_event("/retest", "alice");
    issue.issue.pull_request = None;
    let mut edited = comment_event("/retest", "alice");
    edited.action = "edited".into();
    let cases = [
        ("retest", comment_event("/retest", "alice"), true),
        ("job trigger", comment_event("/test unit", "alice"), true),
        (
            "unknown test target",
            comment_event("/test nope", "alice"),
            true,
        ),
        ("ok-to-test", comment_event("/ok-to-test", "alice"), true),
        ("plain text", comment_event("looks good", "alice"), false),
        ("quoted", comment_event("> /retest\nthanks", "alice"), false),
        ("fenced", comment_event("```\n/retest\n```", "alice"), false),
        ("bot comment", comment_event("/retest", "prow-bot"), false),
        ("closed PR", closed, false),
        ("issue, not PR", issue, false),
        ("edited", edited, false),
    ];
    for (name, ev, want) in cases {
        assert_eq!(comment_is_relevant(&ev, "prow-bot", &jobs), want, "{name}");
    }
}

#[test]
fn comment_decisions() {
    let cf = |commenter: bool, author: bool, labels: &[&str]| CommentFacts {
        commenter_trusted: commenter,
        author_trusted: author,
        labels: labels.iter().map(|s| s.to_string()).collect(),
    };
    let cases = [
        (
            "member /retest",
            "/retest",
            cf(true, false, &[]),
            TriggerConfig::default(),
            vec!["run /retest"],
        ),
        (
            "untrusted commenter, untrusted PR: reply",
            "/test all",
            cf(false, false, &[]),
            TriggerConfig::default(),
            vec![
                "comment @mallory: Cannot trigger testing until a trusted user reviews the PR and leaves an `/ok-to-test` message.",
            ],
        ),
        (
            "untrusted commenter on trusted PR may retest",
            "/retest",
            cf(false, true, &[]),
            TriggerConfig::default(),
            vec!["run /retest"],
        ),
        (
            "member /ok-to-test: label swap, run",
            "/ok-to-test",
            cf(true, false, &["needs-ok-to-test"]),
            TriggerConfig::default(),
            vec!["+ok-to-test", "-needs-ok-to-test", "run /ok-to-test"],
        ),
        (
            "member /ok-to-test cancel",
            "/ok-to-test cancel",
            cf(true, false, &["ok-to-test"]),
            TriggerConfig::default(),
            vec!["-ok-to-test", "+needs-ok-to-test"],
        ),
        (
            "untrusted /ok-to-test cancel on ok-to-test'd PR",
            "/ok-to-test cancel",
            cf(false, false, &["ok-to-test"]),
            TriggerConfig::default(),
            vec!["comment @mallory: Only trusted users can revoke `/ok-to-test`."],
        ),
        (
            "ignore_ok_to_test: no labels, reply says so",
            "/ok-to-test",
            cf(false, false, &[]),
            TriggerConfig {
                ignore_ok_to_test: true,
                ..TriggerConfig::default()
            },
            vec![
                "comment @mallory: PRs from untrusted users cannot be marked as trusted with `/ok-to-test` in this repo meaning untrusted PR authors can never trigger tests themselves. Collaborators can still trigger tests on the PR using `/test`.",
            ],
        ),
    ];
    for (name, body, facts, trigger, want) in cases {
        let commenter = if facts.commenter_trusted {
            "alice"
        } else {
            "mallory"
        };
        let got = decide_comment(&comment_event(body, commenter), &trigger, &facts);
        assert_eq!(kinds(&got), want, "{name}");
    }
}

#[test]
fn help_notes() {
    let cases = [
        ("/test ?", 0, Some("")),
        ("/test", 0, Some(messages::TEST_WITHOUT_TARGET_NOTE)),
        ("/retest unit", 0, Some(messages::RETEST_WITH_TARGET_NOTE)),
        ("/test all", 0, Some(messages::NO_TEST_ALL_JOBS_NOTE)),
        ("/test all", 2, None),
        ("/test nope", 0, Some(messages::TARGET_NOT_FOUND_NOTE)),
        ("/test unit", 1, None),
        ("/retest", 0, None),
    ];
    for (text, n, want) in cases {
        assert_eq!(help_note(text, n), want, "{text}");
    }
}

#[test]
fn help_lists_required_and_optional_commands() {
    let unit = job_with("unit", |p| p.always_run = true);
    let lint = job_with("lint", |p| p.optional = true);
    let docs = job_with("docs", |p| {
        p.changes = ChangeMatcher::new("^docs/".into(), String::new())
    });
    let jobs = vec![unit, lint, docs];
    let files = vec!["src/main.rs".to_string()];
    let msg = help_message("acme", "foo", "main", "", Some(&files), &jobs);
    assert_eq!(
        msg,
        "The following commands are available to trigger required jobs:\n```\n/test docs\n```\n```\n/test unit\n```\n\n\
         The following commands are available to trigger optional jobs:\n```\n/test lint\n```\n\n\
         Use `/test all` to run the following jobs that were automatically triggered:\n```\nunit\n```\n\n"
    );
}

fn ctx() -> JobContext<'static> {
    JobContext {
        delivery_id: "delivery-1",
        namespace: "prow",
        now: Time(Timestamp::from_second(1_800_000_000).unwrap()),
    }
}

#[test]
fn presubmit_prowjobs_follow_prow() {
    let unit = job_with("unit", |p| p.optional = true);
    let refs = pr_refs(&pr(false), &repo(), "basesha");
    let jobs = presubmit_prowjobs(&[&unit], &refs, true, &ctx());
    assert_eq!(jobs.len(), 1);
    let pj = &jobs[0];
    assert_eq!(pj.name(), prowjob_name(&["delivery-1", "unit"]));
    assert_eq!(pj.metadata.namespace.as_deref(), Some("prow"));
    let labels = pj.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["event-GUID"], "delivery-1");
    assert_eq!(labels["prow.k8s.io/is-optional"], "true");
    assert_eq!(labels["prow.k8s.io/retest"], "true");
    assert_eq!(labels["prow.k8s.io/refs.pull"], "7");
    assert_eq!(labels["prow.k8s.io/refs.org"], "acme");
    let r = pj.spec.refs.as_ref().unwrap();
    assert_eq!(r.base_sha, "basesha");
    assert_eq!(r.base_link, "https://github.com/acme/foo/commit/basesha");
    let p = &r.pulls[0];
    assert_eq!(
        (
            p.number,
            p.author.as_str(),
            p.sha.as_str(),
            p.head_ref.as_str()
        ),
        (7, "bob", "headsha", "fix")
    );
    assert_eq!(p.author_link, "https://github.com/bob");
    assert_eq!(
        p.commit_link,
        "https://github.com/acme/foo/pull/7/commits/headsha"
    );
    assert_eq!(pj.spec.type_, ProwJobType::Presubmit);
    assert_eq!(pj.status.state, ProwJobState::Triggered);
}

fn push_event(git_ref: &str, after: &str, deleted: bool, files: &[&str]) -> PushEvent {
    PushEvent {
        git_ref: git_ref.into(),
        after: after.into(),
        deleted,
        compare: "https://github.com/acme/foo/compare/a...b".into(),
        commits: vec![crate::payload::Commit {
            modified: files.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }],
        repository: repo(),
    }
}

#[test]
fn push_selection() {
    let post = |name: &str, branches: &[&str], rif: &str| Postsubmit {
        base: JobBase {
            name: name.into(),
            ..JobBase::default()
        },
        brancher: prow_core::config::Brancher::new(
            branches.iter().map(|s| s.to_string()).collect(),
            vec![],
        ),
        changes: ChangeMatcher::new(rif.into(), String::new()),
        context: name.into(),
        ..Postsubmit::default()
    };
    let jobs = vec![
        post("post-all", &[], ""),
        post("post-docs", &[], "^docs/"),
        post("post-release", &["^v.*"], ""),
    ];
    let zero = "0000000000000000000000000000000000000000";
    let cases = [
        (
            "main, code change",
            push_event("refs/heads/main", "abc", false, &["a.go"]),
            vec!["post-all"],
        ),
        (
            "main, docs change",
            push_event("refs/heads/main", "abc", false, &["docs/x.md"]),
            vec!["post-all", "post-docs"],
        ),
        (
            "tag push matches branch regex",
            push_event("refs/tags/v1.0", "abc", false, &[]),
            vec!["post-all", "post-release"],
        ),
        (
            "branch deleted",
            push_event("refs/heads/main", zero, true, &["a.go"]),
            vec![],
        ),
        (
            "zero after",
            push_event("refs/heads/main", zero, false, &["a.go"]),
            vec![],
        ),
    ];
    for (name, ev, want) in cases {
        let got: Vec<String> = push_prowjobs(&ev, &jobs, &ctx())
            .iter()
            .map(|pj| pj.spec.job.clone())
            .collect();
        assert_eq!(got, want, "{name}");
    }
    let pj = &push_prowjobs(
        &push_event("refs/tags/v1.0", "abc", false, &[]),
        &jobs,
        &ctx(),
    )[0];
    let refs = pj.spec.refs.as_ref().unwrap();
    assert_eq!(
        (
            refs.org.as_str(),
            refs.base_ref.as_str(),
            refs.base_sha.as_str()
        ),
        ("acme", "v1.0", "abc")
    );
    assert_eq!(refs.base_link, "https://github.com/acme/foo/compare/a...b");
    assert_eq!(
        pj.metadata.labels.as_ref().unwrap()["event-GUID"],
        "delivery-1"
    );
    assert_eq!(pj.spec.type_, ProwJobType::Postsubmit);
}

#[test]
fn abort_selection() {
    let at = |name: &str, sha: &str| {
        ProwJob::builder("unit", ProwJobType::Presubmit)
            .name(name)
            .refs(
                Refs::new("acme", "foo")
                    .base("main", "b")
                    .pull(Pull::new(7, "bob", sha)),
            )
    };
    let jobs = vec![
        at("old-pending", "old").pending().build(),
        at("old-done", "old")
            .completed(ProwJobState::Success)
            .build(),
        at("new-triggered", "new").build(),
    ];
    assert_eq!(jobs_to_abort(&jobs, Some("new")), vec!["old-pending"]);
    assert_eq!(
        jobs_to_abort(&jobs, None),
        vec!["old-pending", "new-triggered"]
    );

    let mut pj = jobs[0].clone();
    assert!(abort(&mut pj));
    assert_eq!(pj.status.state, ProwJobState::Aborted);
    assert_eq!(pj.status.description, ABORTED_DESCRIPTION);
    assert!(!abort(&mut pj), "aborting twice changes nothing");
    let mut done = jobs[1].clone();
    assert!(!abort(&mut done));
}

#[test]
fn request_helpers() {
    let c = |t: &str| RunRequest::Comment {
        text: t.into(),
        honor_ok_to_test: true,
    };
    assert!(c("/retest").needs_contexts());
    assert!(c("/retest-required").needs_contexts());
    assert!(!c("/test all").needs_contexts());
    assert!(!RunRequest::TestAll.needs_contexts());
    assert!(is_retest(&c("/retest")));
    assert!(!is_retest(&c("/test unit")));
    assert!(prunes_help(&c("/test unit")));
    assert!(!prunes_help(&c("/ok-to-test")));
    assert!(!prunes_help(&RunRequest::TestAll));
    assert_eq!(
        pr_selector("acme", "foo", 7),
        "prow.k8s.io/refs.org=acme,prow.k8s.io/refs.repo=foo,prow.k8s.io/refs.pull=7,prow.k8s.io/type=presubmit"
    );
}
