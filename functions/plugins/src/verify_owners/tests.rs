use super::*;
use crate::plugin::{ChangedOwnersFile, IssueComment};
use crate::respond::ABOUT_THIS_BOT;
use crate::testing::{comment_event, user};

fn config(yaml: &str) -> PluginsConfig {
    serde_norway::from_str(yaml).unwrap()
}

const ANY: &str =
    "plugins:\n  acme: [verify-owners]\nowners:\n  labels_denylist: [approved, lgtm]\n";

fn pr_event(action: &str) -> Event {
    let mut event = comment_event("", "author", true);
    event.kind = Kind::PullRequest;
    event.action = action.into();
    event.comment = None;
    event.sender = user("author");
    event
}

fn owners_file(path: &str, contents: &str) -> ChangedOwnersFile {
    // The whole file is new: every line is an added line.
    let added: Vec<String> = contents.lines().map(|l| format!("+{l}")).collect();
    ChangedOwnersFile {
        path: path.into(),
        contents: contents.into(),
        patch: Some(format!(
            "@@ -0,0 +1,{} @@\n{}",
            added.len(),
            added.join("\n")
        )),
    }
}

fn changes(files: Vec<ChangedOwnersFile>) -> OwnersChanges {
    OwnersChanges {
        head_sha: "h".into(),
        pr_body: "Adds docs.".into(),
        pr_url: "https://github.com/acme/foo/pull/7".into(),
        owners_files: files,
        ..OwnersChanges::default()
    }
}

fn bot_comment(id: u64, body: &str) -> IssueComment {
    IssueComment {
        id,
        user: "prow-bot".into(),
        body: body.into(),
        ..IssueComment::default()
    }
}

fn facts(changes: OwnersChanges, labels: &[&str], comments: Vec<IssueComment>) -> Facts {
    Facts {
        bot: "prow-bot".into(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        comments,
        owners_changes: Some(changes),
        ..Facts::default()
    }
}

fn decide(event: &Event, facts: &Facts, yaml: &str) -> Vec<Action> {
    let cfg = config(yaml);
    if VerifyOwners.needs(event, &cfg).is_none() {
        return vec![];
    }
    VerifyOwners.decide(event, facts, &cfg)
}

fn invalid_files(message: &str) -> String {
    format!(
        "@author: {message}\n<details>\nIn response to [this](https://github.com/acme/foo/pull/7):\n>Adds docs.\n\n{ABOUT_THIS_BOT}\n</details>"
    )
}

const HEADER: &str = "The OWNERS file contains untrusted users, which makes it INVALID. The following users are mentioned in OWNERS file(s) but are untrusted for the following reasons. One way to make the user trusted is to add them as [members](https://github.com/orgs/acme/people) of the acme org. You can then trigger verification by writing `/verify-owners` in a comment.";

fn mallory_untrusted() -> OwnersChanges {
    let mut c = changes(vec![owners_file(
        "docs/OWNERS",
        "approvers:\n- alice\n- mallory\n",
    )]);
    c.untrusted
        .insert("mallory".into(), untrusted_reason(false, false));
    c
}

fn mallory_comment() -> String {
    format!(
        "{HEADER}\n- mallory\n  - User is not a member of the org. User is not a collaborator. Satisfy at least one of these conditions to make the user trusted.\n  - docs/OWNERS"
    )
}

#[test]
fn valid_files_add_nothing_and_remove_a_stale_label_and_complaints() {
    let valid = || changes(vec![owners_file("docs/OWNERS", "approvers:\n- alice\n")]);
    let opened = pr_event("opened");
    assert_eq!(decide(&opened, &facts(valid(), &[], vec![]), ANY), []);
    assert_eq!(
        decide(
            &pr_event("synchronize"),
            &facts(
                valid(),
                &[LABEL],
                vec![
                    bot_comment(5, &mallory_comment()),
                    bot_comment(6, &invalid_files("1 invalid OWNERS file:\n- x")),
                    bot_comment(7, "unrelated"),
                ]
            ),
            ANY
        ),
        [
            Action::RemoveLabel(LABEL.into()),
            Action::DeleteComment(6),
            Action::DeleteComment(5),
        ]
    );
    // The label stays off a PR that changes no OWNERS file at all.
    assert_eq!(
        decide(&opened, &facts(changes(vec![]), &[], vec![]), ANY),
        []
    );
    // ...and is removed from one that no longer does.
    assert_eq!(
        decide(&opened, &facts(changes(vec![]), &[LABEL], vec![]), ANY),
        [Action::RemoveLabel(LABEL.into())]
    );
}

#[test]
fn invalid_files_are_labelled_and_listed_once() {
    let cases: &[(&str, ChangedOwnersFile, &str)] = &[
        (
            "banned labels",
            owners_file(
                "docs/OWNERS",
                "approvers:\n- alice\nlabels:\n- lgtm\n- area/docs\n",
            ),
            "1 invalid OWNERS file:\n- [docs/OWNERS:4](https://github.com/acme/foo/blob/h/docs/OWNERS#L4): File contains banned labels: [lgtm].",
        ),
        (
            "a root file without approvers",
            owners_file("OWNERS", "reviewers:\n- alice\n"),
            "1 invalid OWNERS file:\n- [OWNERS:1](https://github.com/acme/foo/blob/h/OWNERS#L1): No approvers defined in this root directory OWNERS file.",
        ),
    ];
    for (case, file, message) in cases {
        let got = decide(
            &pr_event("opened"),
            &facts(changes(vec![file.clone()]), &[], vec![]),
            ANY,
        );
        assert_eq!(
            got,
            [
                Action::AddLabel(LABEL.into()),
                Action::Comment(invalid_files(message)),
            ],
            "{case}"
        );
        // Redelivered: the label and the comment are there, nothing more to do.
        let again = decide(
            &pr_event("opened"),
            &facts(
                changes(vec![file.clone()]),
                &[LABEL],
                vec![bot_comment(9, &invalid_files(message))],
            ),
            ANY,
        );
        assert_eq!(again, [], "{case} redelivered");
    }
}

#[test]
fn a_file_that_does_not_parse_replaces_an_older_complaint() {
    let broken = changes(vec![owners_file("docs/OWNERS", "approvers: [alice\n")]);
    let got = decide(
        &pr_event("synchronize"),
        &facts(
            broken,
            &[LABEL],
            vec![bot_comment(
                3,
                &invalid_files("1 invalid OWNERS file:\n- old"),
            )],
        ),
        ANY,
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], Action::DeleteComment(3));
    match &got[1] {
        Action::Comment(body) => assert!(
            body.starts_with("@author: 1 invalid OWNERS file:\n- [docs/OWNERS:")
                && body.contains("): Cannot parse file: "),
            "{body}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn untrusted_new_owners_are_named_with_prows_reason() {
    let got = decide(
        &pr_event("opened"),
        &facts(mallory_untrusted(), &[], vec![]),
        ANY,
    );
    assert_eq!(
        got,
        [
            Action::AddLabel(LABEL.into()),
            Action::Comment(mallory_comment()),
        ]
    );
    // Redelivery says nothing again; a duplicate of ours is cleaned up.
    let got = decide(
        &pr_event("opened"),
        &facts(
            mallory_untrusted(),
            &[LABEL],
            vec![
                bot_comment(4, &mallory_comment()),
                bot_comment(8, &mallory_comment()),
            ],
        ),
        ANY,
    );
    assert_eq!(got, [Action::DeleteComment(8)]);
    // The repo skips collaborators: nobody's trust is checked.
    let skip = format!("{ANY}  skip_collaborators: [acme/foo]\n");
    assert_eq!(
        decide(
            &pr_event("opened"),
            &facts(mallory_untrusted(), &[], vec![]),
            &skip
        ),
        []
    );
    // A custom join link and only org members: trigger's settings.
    let own_link = "plugins:\n  acme: [verify-owners]\ntriggers:\n- repos: [acme]\n  join_org_url: https://acme.dev/join\n";
    match &decide(
        &pr_event("opened"),
        &facts(mallory_untrusted(), &[], vec![]),
        own_link,
    )[1]
    {
        Action::Comment(body) => {
            assert!(body.contains("[members](https://acme.dev/join)"), "{body}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        untrusted_reason(true, true),
        "User is not a member of the org. User is not a member of the trusted secondary org. Satisfy at least one of these conditions to make the user trusted."
    );
}

#[test]
fn aliases_problems_use_prows_words() {
    let mut bad = changes(vec![owners_file("docs/OWNERS", "approvers:\n- sig-docs\n")]);
    bad.aliases = Some("aliases:\n  sig-docs: [alice\n".into());
    bad.aliases_changed = true;
    assert_eq!(
        decide(&pr_event("opened"), &facts(bad, &[], vec![]), ANY),
        [
            Action::AddLabel(LABEL.into()),
            Action::Comment("The content of OWNERS_ALIASES is invalid.".into()),
        ]
    );
    let mut empty = changes(vec![owners_file("docs/OWNERS", "approvers:\n- sig-docs\n")]);
    empty.aliases = Some("aliases:\n  sig-docs:\n  - alice\n  sig-old: []\n".into());
    assert_eq!(
        decide(&pr_event("opened"), &facts(empty, &[], vec![]), ANY),
        [Action::Comment(
            "There are empty aliases in OWNER_ALIASES, cleanup is advised.".into()
        )]
    );
}

#[test]
fn runs_on_pushes_and_the_command_only() {
    let cfg = config(ANY);
    for action in ["opened", "reopened", "synchronize"] {
        let needs = VerifyOwners.needs(&pr_event(action), &cfg).unwrap();
        assert!(needs.labels && needs.comments, "{action}");
        assert_eq!(
            needs.owners_changes.unwrap().filenames.owners,
            "OWNERS",
            "{action}"
        );
    }
    for action in ["edited", "closed", "labeled"] {
        assert!(
            VerifyOwners.needs(&pr_event(action), &cfg).is_none(),
            "{action}"
        );
    }
    let cases = [
        ("/verify-owners", true, true),
        ("/VERIFY-OWNERS\nthanks", true, true),
        ("/verify-owners please", true, false),
        ("> /verify-owners", true, false),
        ("/verify-owners", false, false),
    ];
    for (body, on_pr, want) in cases {
        let event = comment_event(body, "bob", on_pr);
        assert_eq!(VerifyOwners.needs(&event, &cfg).is_some(), want, "{body}");
    }
    // A review's body is a comment too, as in Prow's generic comment handler.
    let mut review = comment_event("/verify-owners", "bob", true);
    review.kind = Kind::PullRequestReview;
    review.action = "submitted".into();
    assert!(VerifyOwners.needs(&review, &cfg).is_some());
    let mut closed = comment_event("/verify-owners", "bob", true);
    closed.state = "closed".into();
    assert!(VerifyOwners.needs(&closed, &cfg).is_none());
}

#[test]
fn help_describes_each_repo_whose_filenames_differ() {
    let cfg = config(
        "plugins:\n  acme: [verify-owners]\nowners:\n  labels_denylist: [approved]\n  filenames:\n    acme/bar: {owners: MAINTAINERS}\n",
    );
    let help = VerifyOwners.help(&cfg, &[Repo::new("acme", "foo"), Repo::new("acme", "bar")]);
    assert_eq!(
        help.config.get("default").map(String::as_str),
        Some(
            "OWNERS and OWNERS_ALIASES files are validated. The verify-owners plugin will complain if OWNERS files contain any of the following banned labels: approved."
        )
    );
    assert_eq!(
        help.config.get("acme/bar").map(String::as_str),
        Some(
            "MAINTAINERS and OWNERS_ALIASES files are validated. The verify-owners plugin will complain if MAINTAINERS files contain any of the following banned labels: approved."
        )
    );
    assert!(!help.config.contains_key("acme/foo"));
    assert_eq!(help.commands[0].usage, "/verify-owners");
    assert_eq!(help.commands[0].who_can_use, "Anyone");
}
