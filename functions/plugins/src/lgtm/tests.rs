use super::*;
use crate::event::Review;
use crate::plugin::IssueComment;
use crate::testing::{comment_event, facts_with_labels, user};

fn config(yaml: &str) -> PluginsConfig {
    serde_norway::from_str(yaml).unwrap()
}

fn collaborator(labels: &[&str]) -> Facts {
    Facts {
        commenter_is_collaborator: true,
        ..facts_with_labels(labels)
    }
}

fn assign(who: &str) -> Action {
    Action::Assign {
        logins: vec![who.into()],
        missing: None,
    }
}

fn reply(body: &str, who: &str, message: &str) -> Action {
    Action::Comment(
        ReplyTo::new(
            body,
            "https://github.com/acme/foo/pull/7#issuecomment-1",
            who,
        )
        .reply(message),
    )
}

#[test]
fn lgtm_commands_follow_prow() {
    let cfg = PluginsConfig::default();
    let add = Action::AddLabel(LABEL.into());
    let rm = Action::RemoveLabel(LABEL.into());
    let cases: Vec<(&str, Event, Facts, Vec<Action>)> = vec![
        (
            "a collaborator's lgtm assigns them and labels",
            comment_event("/lgtm", "alice", true),
            collaborator(&[]),
            vec![assign("alice"), add.clone()],
        ),
        (
            "no-issue and any case",
            comment_event("/LGTM no-issue", "alice", true),
            collaborator(&[]),
            vec![assign("alice"), add.clone()],
        ),
        (
            "already labelled",
            comment_event("/lgtm", "alice", true),
            collaborator(&[LABEL]),
            vec![assign("alice")],
        ),
        (
            "cancel",
            comment_event("/lgtm cancel", "alice", true),
            collaborator(&[LABEL]),
            vec![assign("alice"), rm.clone()],
        ),
        (
            "remove-lgtm",
            comment_event("/remove-lgtm", "alice", true),
            collaborator(&[LABEL]),
            vec![assign("alice"), rm.clone()],
        ),
        (
            "lgtm wins over cancel",
            comment_event("/lgtm cancel\n/lgtm", "alice", true),
            collaborator(&[]),
            vec![assign("alice"), add.clone()],
        ),
        (
            "not a collaborator",
            comment_event("/lgtm", "mallory", true),
            facts_with_labels(&[]),
            vec![reply(
                "/lgtm",
                "mallory",
                "changing LGTM is restricted to collaborators",
            )],
        ),
        (
            "the author cannot lgtm",
            comment_event("/lgtm", "author", true),
            collaborator(&[]),
            vec![reply("/lgtm", "author", "you cannot LGTM your own PR.")],
        ),
        (
            "the author may cancel",
            comment_event("/lgtm cancel", "author", true),
            facts_with_labels(&[LABEL]),
            vec![rm.clone()],
        ),
        (
            "issues have no lgtm",
            comment_event("/lgtm", "alice", false),
            collaborator(&[]),
            vec![],
        ),
        (
            "lgtm with words is not lgtm",
            comment_event("/lgtm thanks", "alice", true),
            collaborator(&[]),
            vec![],
        ),
        (
            "two spaces before cancel is not cancel",
            comment_event("/lgtm  cancel", "alice", true),
            collaborator(&[LABEL]),
            vec![],
        ),
        (
            "quoted",
            comment_event("> /lgtm", "alice", true),
            collaborator(&[]),
            vec![],
        ),
    ];
    for (name, ev, facts, want) in cases {
        assert_eq!(Lgtm.decide(&ev, &facts, &cfg), want, "{name}");
    }
    let mut assigned = comment_event("/lgtm", "alice", true);
    assigned.assignees = vec!["alice".into()];
    assert_eq!(Lgtm.decide(&assigned, &collaborator(&[]), &cfg), vec![add]);
    let mut closed = comment_event("/lgtm", "alice", true);
    closed.state = "closed".into();
    assert!(Lgtm.needs(&closed, &cfg).is_none());
}

#[test]
fn skip_collaborators_lets_owners_reviewers_lgtm_instead_of_collaborators() {
    let cfg = config("owners: {skip_collaborators: [acme]}\n");
    let reviewer = Facts {
        owners_reviewers: vec!["mallory".into()],
        ..facts_with_labels(&[])
    };
    let ev = comment_event("/lgtm", "Mallory", true);
    assert_eq!(
        Lgtm.decide(&ev, &reviewer, &cfg),
        vec![Action::AddLabel(LABEL.into())]
    );
    let needs = Lgtm.needs(&ev, &cfg).unwrap();
    assert!(needs.owners_reviewers && !needs.commenter_is_collaborator);
    let collaborator_only = comment_event("/lgtm", "alice", true);
    assert_eq!(
        Lgtm.decide(&collaborator_only, &collaborator(&[]), &cfg),
        vec![reply(
            "/lgtm",
            "alice",
            "adding LGTM is restricted to approvers and reviewers in OWNERS files."
        )]
    );
}

fn bot_comment(id: u64, body: &str) -> IssueComment {
    IssueComment {
        id,
        user: "prow-bot".into(),
        body: body.into(),
        edited: false,
        ..IssueComment::default()
    }
}

#[test]
fn tree_hash_is_recorded_and_old_notices_pruned() {
    let cfg = config("lgtm:\n- repos: [acme/foo]\n  store_tree_hash: true\n");
    let mut facts = collaborator(&[]);
    facts.head_tree = Some("t1".into());
    facts.comments = vec![
        bot_comment(1, REMOVED_NOTICE),
        IssueComment {
            user: "alice".into(),
            ..bot_comment(2, REMOVED_NOTICE)
        },
    ];
    let ev = comment_event("/lgtm", "alice", true);
    assert_eq!(
        Lgtm.decide(&ev, &facts, &cfg),
        vec![
            assign("alice"),
            Action::AddLabel(LABEL.into()),
            Action::Comment(added_notice("t1")),
            Action::DeleteComment(1),
        ]
    );
    // Cancelling prunes the tree-hash notice and asks the assignees to review again.
    let mut cancel = comment_event("/lgtm cancel", "alice", true);
    cancel.assignees = vec!["alice".into(), "carol".into()];
    facts.labels = vec![LABEL.into()];
    facts.comments = vec![bot_comment(5, &added_notice("t1"))];
    assert_eq!(
        Lgtm.decide(&cancel, &facts, &cfg),
        vec![
            Action::RemoveLabel(LABEL.into()),
            Action::RequestReview {
                logins: vec!["alice".into(), "carol".into()],
                missing: None
            },
            Action::DeleteComment(5),
        ]
    );
}

fn push() -> Event {
    let mut ev = comment_event("", "author", true);
    ev.kind = Kind::PullRequest;
    ev.action = "synchronize".into();
    ev.comment = None;
    ev.pull_request = Some(crate::event::PullRequest::default());
    ev
}

#[test]
fn a_push_drops_the_label_unless_the_tree_or_the_team_keeps_it() {
    let plain = PluginsConfig::default();
    let hashed = config("lgtm:\n- repos: [acme]\n  store_tree_hash: true\n");
    let removed = vec![
        Action::RemoveLabel(LABEL.into()),
        Action::Comment(REMOVED_NOTICE.into()),
    ];
    assert_eq!(
        Lgtm.decide(&push(), &facts_with_labels(&[LABEL]), &plain),
        removed
    );
    assert_eq!(
        Lgtm.decide(&push(), &facts_with_labels(&[]), &plain),
        vec![]
    );
    let mut same_tree = facts_with_labels(&[LABEL]);
    same_tree.head_tree = Some("t1".into());
    same_tree.comments = vec![
        bot_comment(1, &added_notice("t0")),
        bot_comment(2, &added_notice("t1")),
    ];
    assert_eq!(Lgtm.decide(&push(), &same_tree, &hashed), vec![]);
    let mut new_tree = same_tree.clone();
    new_tree.head_tree = Some("t2".into());
    assert_eq!(Lgtm.decide(&push(), &new_tree, &hashed), removed);
    // An edited notice does not count (Prow compares created and updated times).
    let mut edited = same_tree.clone();
    edited.comments[1].edited = true;
    assert_eq!(Lgtm.decide(&push(), &edited, &hashed), removed);
    let mut sticky = facts_with_labels(&[LABEL]);
    sticky.author_in_team = true;
    assert_eq!(Lgtm.decide(&push(), &sticky, &plain), vec![]);
    let needs = Lgtm
        .needs(&push(), &config("lgtm:\n- repos: [acme]\n  store_tree_hash: true\n  trusted_team_for_sticky_lgtm: bots\n"))
        .unwrap();
    assert!(needs.head_tree && needs.labels);
    assert_eq!(needs.author_in_team.as_deref(), Some("bots"));
}

fn review(state: &str, body: &str, reviewer: &str) -> Event {
    let mut ev = comment_event(body, reviewer, true);
    ev.kind = Kind::PullRequestReview;
    ev.action = "submitted".into();
    ev.review = Some(Review {
        user: user(reviewer),
        state: state.into(),
        body: Some(body.into()),
        html_url: String::new(),
    });
    ev
}

#[test]
fn reviews_act_as_lgtm_only_when_configured() {
    let on = config("lgtm:\n- repos: [acme]\n  review_acts_as_lgtm: true\n");
    let off = PluginsConfig::default();
    let facts = collaborator(&[]);
    assert_eq!(
        Lgtm.decide(&review("approved", "nice", "alice"), &facts, &on),
        vec![assign("alice"), Action::AddLabel(LABEL.into())]
    );
    assert_eq!(
        Lgtm.decide(&review("approved", "nice", "alice"), &facts, &off),
        vec![]
    );
    assert_eq!(
        Lgtm.decide(&review("commented", "nice", "alice"), &facts, &on),
        vec![]
    );
    // A command in the body counts as a comment, whatever the setting and the state.
    assert_eq!(
        Lgtm.decide(&review("commented", "/lgtm", "alice"), &facts, &off),
        vec![assign("alice"), Action::AddLabel(LABEL.into())]
    );
    assert_eq!(
        Lgtm.decide(&review("approved", "", "prow-bot"), &facts, &on),
        vec![]
    );
    let labelled = collaborator(&[LABEL]);
    assert_eq!(
        Lgtm.decide(&review("changes_requested", "", "alice"), &labelled, &on),
        vec![assign("alice"), Action::RemoveLabel(LABEL.into())]
    );
}

#[test]
fn help_describes_each_repos_settings() {
    let cfg = config(
        "lgtm:\n- repos: [acme/foo]\n  review_acts_as_lgtm: true\n  trusted_team_for_sticky_lgtm: bots\n",
    );
    let help = Lgtm.help(&cfg, &[Repo::new("acme", "foo"), Repo::new("acme", "bar")]);
    assert_eq!(
        help.config["acme/foo"],
        "The plugin has the following configuration:<ul>\n<li>Reviews of \"approve\" or \"request changes\" act as adding or removing LGTM.</li>\n<li>Commits from \"bots\" do not remove LGTM.</li>\n</ul>"
    );
    assert!(!help.config.contains_key("acme/bar"));
}
