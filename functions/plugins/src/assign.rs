//! assign: `/assign`, `/unassign` (assignees) and `/cc`, `/uncc` (review requests), for the
//! commenter when no one is named, for users and `org/team`s otherwise (Prow's
//! `pkg/plugins/assign`). Anyone may ask; GitHub decides who can be assigned, and those it refused
//! are named in a reply.

use std::collections::BTreeMap;

use prow_core::commands::CommandLine;
use prow_core::config::PluginsConfig;

use crate::event::{Event, GenericComment};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, MissingReply, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

#[derive(Debug)]
pub struct Assign;

/// Go's `\w`.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The logins of a command's arguments when they have the shape Prow's regex accepts: each
/// preceded by one space (`/assign`) or one or more (`/cc`), an optional `@`, then `[-\w]`
/// (`/cc` also `/`, for teams); `None` when the line is not such a command.
pub(crate) fn targets(raw: &str, cc: bool) -> Option<Vec<String>> {
    let mut rest = raw.trim_end_matches(|c: char| c.is_ascii_whitespace());
    let mut out = Vec::new();
    while !rest.is_empty() {
        rest = rest.strip_prefix(' ')?;
        if cc {
            rest = rest.trim_start_matches(' ');
        }
        rest = rest.strip_prefix('@').unwrap_or(rest);
        let end = rest
            .find(|c: char| !(is_word(c) || c == '-' || (cc && c == '/')))
            .unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    Some(out)
}

/// Who to add (`true`) or remove (`false`) for commands named `verb`/`un<verb>`; a later command
/// about the same login wins, as in Prow.
fn requested(comment: &GenericComment, verb: &str) -> BTreeMap<String, bool> {
    let un = format!("un{verb}");
    let cc = verb == "cc";
    let mut users = BTreeMap::new();
    for c in comment.text.commands() {
        let add = if c.is_any_case(verb) {
            true
        } else if c.is_any_case(&un) {
            false
        } else {
            continue;
        };
        let Some(logins) = targets(c.raw_args, cc) else {
            continue;
        };
        if logins.is_empty() {
            users.insert(comment.user.login.clone(), add);
        }
        for login in logins {
            users.insert(login, add);
        }
    }
    users
}

fn split(users: BTreeMap<String, bool>) -> (Vec<String>, Vec<String>) {
    let (add, remove): (Vec<_>, Vec<_>) = users.into_iter().partition(|(_, add)| *add);
    (
        add.into_iter().map(|(l, _)| l).collect(),
        remove.into_iter().map(|(l, _)| l).collect(),
    )
}

fn mentions(comment: &GenericComment) -> bool {
    comment.text.any(|c: &CommandLine<'_>| {
        ["assign", "unassign", "cc", "uncc"]
            .iter()
            .any(|v| c.is_any_case(v))
    })
}

impl Plugin for Assign {
    fn name(&self) -> &'static str {
        "assign"
    }

    fn events(&self) -> &'static [&'static str] {
        &[
            "issue_comment",
            "issues",
            "pull_request",
            "pull_request_review",
        ]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: "The assign plugin assigns or requests reviews from users/teams. Specific users can be assigned with the command '/assign @user1' or have reviews requested of them with the command '/cc @user1'. If no users are specified, the commands default to targeting the user who created the command. Assignments and requested reviews can be removed in the same way that they are added by prefixing the commands with 'un'.".into(),
            commands: vec![
                Command::new(
                    "/[un]assign [[@]<username>...|[@]<orgname/teamname>...]",
                    true,
                    "Assigns assignee(s) or team(s) to the PR",
                    &["/assign", "/unassign", "/assign @spongebob", "/assign spongebob patrick", "/assign @kubernetes/sig-foo-bar"],
                    "Anyone can use the command, but the target user(s) must be an org member, a repo collaborator, or should have previously commented on the issue or PR.",
                ),
                Command::new(
                    "/[un]cc [[@]<username>...|[@]<orgname/teamname>...]",
                    true,
                    "Requests a review from the user(s) or team(s).",
                    &["/cc", "/uncc", "/cc @spongebob", "/cc spongebob patrick", "/cc @kubernetes/sig-foo-bar"],
                    "Anyone can use the command, but the target user(s) must be a member of the org that owns the repository.",
                ),
            ],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        event
            .created_comment()
            .filter(|c| mentions(c))
            .map(|_| Needs::default())
    }

    fn decide(&self, event: &Event, _: &Facts, _: &PluginsConfig) -> Vec<Action> {
        let Some(comment) = event.created_comment() else {
            return vec![];
        };
        let to = ReplyTo::new(&comment.body, &comment.html_url, &comment.user.login);
        let org = &event.org;
        let mut actions = Vec::new();
        let (add, remove) = split(requested(comment, "assign"));
        if !remove.is_empty() {
            actions.push(Action::Unassign(remove));
        }
        if !add.is_empty() {
            actions.push(Action::Assign {
                logins: add,
                missing: Some(MissingReply {
                    before: "GitHub didn't allow me to assign the following users: ".into(),
                    after: format!(".\n\nNote that only [{org} members](https://github.com/orgs/{org}/people) with read permissions, repo collaborators and people who have commented on this issue/PR can be assigned. Additionally, issues/PRs can only have 10 assignees at the same time.\nFor more information please see [the contributor guide](https://git.k8s.io/community/contributors/guide/first-contribution.md#issue-assignment-in-github)"),
                    to: to.clone(),
                }),
            });
        }
        if !event.is_pr {
            return actions;
        }
        let (add, remove) = split(requested(comment, "cc"));
        if !remove.is_empty() {
            actions.push(Action::UnrequestReview(remove));
        }
        if !add.is_empty() {
            actions.push(Action::RequestReview {
                logins: add,
                missing: Some(MissingReply {
                    before: "GitHub didn't allow me to request PR reviews from the following users: ".into(),
                    after: format!(".\n\nNote that only [{org} members](https://github.com/orgs/{org}/people) and repo collaborators can review this PR, and authors cannot review their own PRs."),
                    to,
                }),
            });
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    fn logins(list: &[&str]) -> Vec<String> {
        list.iter().map(|l| (*l).to_owned()).collect()
    }

    /// (assigned, unassigned, review requested, review withdrawn)
    type Want<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a [&'a str]);

    fn summary(actions: &[Action]) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
        let mut out = (vec![], vec![], vec![], vec![]);
        for a in actions {
            match a {
                Action::Assign { logins, .. } => out.0.extend(logins.clone()),
                Action::Unassign(l) => out.1.extend(l.clone()),
                Action::RequestReview { logins, .. } => out.2.extend(logins.clone()),
                Action::UnrequestReview(l) => out.3.extend(l.clone()),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    #[test]
    fn assign_and_cc_follow_prow() {
        let none: &[&str] = &[];
        let cases: &[(&str, &str, bool, Want<'_>)] = &[
            ("self assign", "/assign", true, (&["bob"], none, none, none)),
            (
                "named, with and without @",
                "/assign @alice carol",
                true,
                (&["alice", "carol"], none, none, none),
            ),
            (
                "any case",
                "/ASSIGN alice",
                true,
                (&["alice"], none, none, none),
            ),
            (
                "unassign self",
                "/unassign",
                false,
                (none, &["bob"], none, none),
            ),
            (
                "two spaces are not Prow's shape",
                "/assign  alice",
                true,
                (none, none, none, none),
            ),
            (
                "punctuation is not a login",
                "/assign alice!",
                true,
                (none, none, none, none),
            ),
            (
                "later command wins",
                "/assign alice\n/unassign alice",
                true,
                (none, &["alice"], none, none),
            ),
            ("cc self on a PR", "/cc", true, (none, none, &["bob"], none)),
            (
                "cc a team",
                "/cc @kubernetes/sig-foo",
                true,
                (none, none, &["kubernetes/sig-foo"], none),
            ),
            (
                "cc allows several spaces",
                "/cc  alice   carol",
                true,
                (none, none, &["alice", "carol"], none),
            ),
            ("uncc", "/uncc @alice", true, (none, none, none, &["alice"])),
            (
                "cc on an issue does nothing",
                "/cc alice",
                false,
                (none, none, none, none),
            ),
            (
                "assign and cc together",
                "/assign\n/cc alice",
                true,
                (&["bob"], none, &["alice"], none),
            ),
            ("quoted", "> /assign alice", true, (none, none, none, none)),
            (
                "trailing space",
                "/assign alice  ",
                true,
                (&["alice"], none, none, none),
            ),
        ];
        for (name, body, is_pr, want) in cases {
            let ev = comment_event(body, "bob", *is_pr);
            let got =
                summary(&Assign.decide(&ev, &facts_with_labels(&[]), &PluginsConfig::default()));
            assert_eq!(
                got,
                (
                    logins(want.0),
                    logins(want.1),
                    logins(want.2),
                    logins(want.3)
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn refused_users_are_named_in_a_reply_to_the_comment() {
        let ev = comment_event("/assign alice carol", "bob", true);
        let actions = Assign.decide(&ev, &facts_with_labels(&[]), &PluginsConfig::default());
        let Some(Action::Assign {
            missing: Some(reply),
            ..
        }) = actions.first()
        else {
            panic!("{actions:?}");
        };
        let text = reply.render(&logins(&["carol"]));
        assert!(text.starts_with("@bob: GitHub didn't allow me to assign the following users: carol.\n\nNote that only [acme members](https://github.com/orgs/acme/people)"), "{text}");
        assert!(text.contains(">/assign alice carol"));
    }

    #[test]
    fn unrelated_comments_need_nothing() {
        let cfg = PluginsConfig::default();
        assert!(
            Assign
                .needs(&comment_event("looks good", "bob", true), &cfg)
                .is_none()
        );
        assert!(
            Assign
                .needs(&comment_event("/assign", "bob", true), &cfg)
                .is_some()
        );
    }
}
