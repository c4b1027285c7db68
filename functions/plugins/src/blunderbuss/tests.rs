use std::sync::Arc;

use prow_owners::{BuildOptions, RepoOwners};

use super::*;
use crate::event::PullRequest;
use crate::plugin::PrFacts;
use crate::testing::{comment_event, user};

fn config(yaml: &str) -> PluginsConfig {
    serde_norway::from_str(yaml).unwrap()
}

/// Root: approvers ann, reviewers rob and rita; pkg/: reviewers pat, approver pia; pkg/x:
/// required reviewer reqa.
fn owners() -> Arc<RepoOwners> {
    Arc::new(RepoOwners::build(
        [
            ("OWNERS", "approvers:\n- ann\nreviewers:\n- rob\n- rita\n"),
            ("pkg/OWNERS", "approvers:\n- pia\nreviewers:\n- pat\n"),
            ("pkg/x/OWNERS", "required_reviewers:\n- reqa\n"),
        ],
        &BuildOptions::default(),
    ))
}

fn facts(files: &[&str]) -> Facts {
    Facts {
        bot: "prow-bot".into(),
        pull_request: Some(PrFacts {
            changed_files: files.iter().map(|f| (*f).to_owned()).collect(),
            ..PrFacts::default()
        }),
        repo_owners: Some(owners()),
        ..Facts::default()
    }
}

fn opened(author: &str, body: &str) -> Event {
    let mut ev = comment_event(body, author, true);
    ev.kind = Kind::PullRequest;
    ev.action = "opened".into();
    ev.author = user(author);
    ev.pull_request = Some(PullRequest {
        number: 7,
        state: "open".into(),
        user: user(author),
        body: Some(body.into()),
        ..PullRequest::default()
    });
    ev
}

fn requested(actions: &[Action]) -> Vec<String> {
    match actions {
        [Action::RequestReview { logins, .. }] => logins.clone(),
        [] => vec![],
        other => panic!("{other:?}"),
    }
}

const ON: &str = "plugins:\n  acme: [blunderbuss]\n";

#[test]
fn one_reviewer_per_owners_file_nearest_first() {
    let r = requested(&Blunderbuss.decide(
        &opened("author", ""),
        &facts(&["pkg/a.go", "b.md"]),
        &config(ON),
    ));
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r.contains(&"pat".to_owned()), "pkg's own reviewer: {r:?}");
    assert!(r.iter().any(|l| l == "rob" || l == "rita"), "{r:?}");
}

#[test]
fn request_count_and_max_request_count_bound_the_request() {
    let one = config("plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  request_count: 1\n");
    let r = requested(&Blunderbuss.decide(&opened("author", ""), &facts(&["b.md"]), &one));
    assert_eq!(r.len(), 1);
    let max = config(
        "plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  request_count: 5\n  max_request_count: 2\n",
    );
    let r = requested(&Blunderbuss.decide(&opened("author", ""), &facts(&["pkg/a.go"]), &max));
    assert_eq!(r.len(), 2, "{r:?}");
}

#[test]
fn approvers_fill_in_unless_excluded_and_the_author_is_never_asked() {
    let many = "plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  request_count: 5\n";
    let r = requested(&Blunderbuss.decide(&opened("rob", ""), &facts(&["b.md"]), &config(many)));
    assert_eq!(
        r,
        ["rita", "ann"],
        "rita is the only other reviewer, then approvers"
    );
    let excluded = format!("{many}  exclude_approvers: true\n");
    let r =
        requested(&Blunderbuss.decide(&opened("rob", ""), &facts(&["b.md"]), &config(&excluded)));
    assert_eq!(r, ["rita"]);
}

#[test]
fn required_reviewers_are_always_added() {
    let one = config("plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  request_count: 1\n");
    let r = requested(&Blunderbuss.decide(&opened("author", ""), &facts(&["pkg/x/a.go"]), &one));
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r.last().unwrap(), "reqa");
}

#[test]
fn the_same_pr_gets_the_same_reviewers_on_redelivery() {
    let f = facts(&["b.md", "pkg/a.go"]);
    let first = Blunderbuss.decide(&opened("author", ""), &f, &config(ON));
    for _ in 0..3 {
        assert_eq!(
            Blunderbuss.decide(&opened("author", ""), &f, &config(ON)),
            first
        );
    }
}

#[test]
fn cc_in_the_body_drafts_ignored_authors_and_other_events_are_left_alone() {
    let cases: &[(&str, Event, &str)] = &[
        (
            "cc in the body",
            opened("author", "Fixes it.\n/cc @rob"),
            ON,
        ),
        ("uncc in the body", opened("author", "/uncc"), ON),
        (
            "ignored author",
            opened("dependabot", ""),
            "plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  ignore_authors: [dependabot]\n",
        ),
        (
            "waits for a status",
            opened("author", ""),
            "plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  wait_for_status: {context: ci}\n",
        ),
        ("a plain comment", comment_event("hello", "carol", true), ON),
        (
            "auto-cc on an issue",
            comment_event("/auto-cc", "carol", false),
            ON,
        ),
        (
            "auto-cc with words",
            comment_event("/auto-cc please", "carol", true),
            ON,
        ),
    ];
    for (name, ev, cfg) in cases {
        assert!(Blunderbuss.needs(ev, &config(cfg)).is_none(), "{name}");
    }
    let mut draft = opened("author", "");
    draft.pull_request.as_mut().unwrap().draft = true;
    let ignore = config("plugins:\n  acme: [blunderbuss]\nblunderbuss:\n  ignore_drafts: true\n");
    assert!(Blunderbuss.needs(&draft, &ignore).is_none());
    assert!(Blunderbuss.needs(&draft, &config(ON)).is_some());
    // "/ccfoo" is no /cc command.
    assert!(
        Blunderbuss
            .needs(&opened("author", "/ccfoo"), &config(ON))
            .is_some()
    );
}

#[test]
fn auto_cc_requests_reviews_on_an_open_pr() {
    let ev = comment_event("thanks\n/AUTO-CC  ", "carol", true);
    assert!(Blunderbuss.needs(&ev, &config(ON)).is_some());
    let r = requested(&Blunderbuss.decide(&ev, &facts(&["b.md"]), &config(ON)));
    assert_eq!(r.len(), 2, "{r:?}");
}

#[test]
fn help_says_how_many_reviewers() {
    let help = Blunderbuss.help(&config("blunderbuss:\n  request_count: 1\n"), &[]);
    assert_eq!(
        help.config[""],
        "blunderbuss is currently configured to request reviews from 1 reviewer."
    );
    let help = Blunderbuss.help(&config(ON), &[]);
    assert_eq!(
        help.config[""],
        "blunderbuss is currently configured to request reviews from 2 reviewers."
    );
}
