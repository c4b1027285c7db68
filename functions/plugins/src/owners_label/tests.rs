use std::sync::Arc;

use prow_owners::{BuildOptions, RepoOwners};

use super::*;
use crate::plugin::PrFacts;
use crate::testing::{comment_event, user};

/// The root labels everything `area/all`; docs/ adds `kind/docs` and `sig/docs`.
fn owners() -> Arc<RepoOwners> {
    Arc::new(RepoOwners::build(
        [
            ("OWNERS", "approvers:\n- alice\nlabels:\n- area/all\n"),
            (
                "docs/OWNERS",
                "approvers:\n- dana\nlabels:\n- kind/docs\n- sig/docs\n",
            ),
            ("src/OWNERS", "approvers:\n- bob\n"),
        ],
        &BuildOptions::default(),
    ))
}

fn pr_event(action: &str) -> Event {
    let mut event = comment_event("", "author", true);
    event.kind = Kind::PullRequest;
    event.action = action.into();
    event.comment = None;
    event.sender = user("author");
    event
}

fn facts(files: &[&str], on_pr: &[&str], in_repo: &[&str]) -> Facts {
    Facts {
        bot: "prow-bot".into(),
        labels: on_pr.iter().map(|l| (*l).to_owned()).collect(),
        pull_request: Some(PrFacts {
            changed_files: files.iter().map(|f| (*f).to_owned()).collect(),
            ..PrFacts::default()
        }),
        repo_owners: Some(owners()),
        repo_labels: in_repo.iter().map(|l| (*l).to_owned()).collect(),
        ..Facts::default()
    }
}

const ALL: &[&str] = &["area/all", "kind/docs", "sig/docs", "lgtm"];

/// (case, action, changed files, labels on the PR, labels of the repo, labels added)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    &'a [&'a str],
    &'a [&'a str],
);

#[test]
fn owners_labels_follow_prow() {
    let cases: &[Case<'_>] = &[
        (
            "root file",
            "opened",
            &["README.md"],
            &[],
            ALL,
            &["area/all"],
        ),
        (
            "a docs file gets its directory's and the root's labels",
            "opened",
            &["docs/guide/intro.md"],
            &[],
            ALL,
            &["area/all", "kind/docs", "sig/docs"],
        ),
        (
            "labels already on the PR are not added again",
            "synchronize",
            &["docs/a.md"],
            &["area/all", "kind/docs"],
            ALL,
            &["sig/docs"],
        ),
        (
            "labels compare as GitHub's, without case",
            "reopened",
            &["docs/a.md"],
            &["AREA/ALL", "Kind/Docs", "sig/docs"],
            ALL,
            &[],
        ),
        (
            "labels the repo does not define are skipped",
            "opened",
            &["docs/a.md"],
            &[],
            &["kind/docs"],
            &["kind/docs"],
        ),
        (
            "several files, each label once",
            "opened",
            &["docs/a.md", "docs/b.md", "src/main.rs"],
            &[],
            ALL,
            &["area/all", "kind/docs", "sig/docs"],
        ),
        ("no files", "opened", &[], &[], ALL, &[]),
        (
            "edited is not a change of files",
            "edited",
            &["docs/a.md"],
            &[],
            ALL,
            &[],
        ),
        ("closed", "closed", &["docs/a.md"], &[], ALL, &[]),
        ("labeled", "labeled", &["docs/a.md"], &[], ALL, &[]),
    ];
    let cfg = PluginsConfig::default();
    for (case, action, files, on_pr, in_repo, want) in cases {
        let event = pr_event(action);
        let got = if OwnersLabel.needs(&event, &cfg).is_some() {
            OwnersLabel.decide(&event, &facts(files, on_pr, in_repo), &cfg)
        } else {
            vec![]
        };
        let want: Vec<Action> = want.iter().map(|l| Action::AddLabel((*l).into())).collect();
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn only_pull_request_events_that_change_files_need_facts() {
    let cfg = PluginsConfig::default();
    let needs = OwnersLabel.needs(&pr_event("opened"), &cfg).unwrap();
    assert!(needs.labels && needs.pull_request_owners && needs.repo_labels);
    assert!(
        OwnersLabel
            .needs(&comment_event("/lgtm", "bob", true), &cfg)
            .is_none()
    );
}
