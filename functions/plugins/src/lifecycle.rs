//! lifecycle: `/close [not-planned]` and `/reopen` by the author or a collaborator (anyone may
//! close an issue already marked stale or rotten), and `/[remove-]lifecycle
//! active|frozen|stale|rotten`, which keeps one lifecycle label at a time and never freezes a
//! PR (Prow's `pkg/plugins/lifecycle`).

use prow_core::commands::CommandLine;
use prow_core::config::PluginsConfig;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin, RefusedReply};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const FROZEN: &str = "lifecycle/frozen";
const STAGES: &[&str] = &["active", "frozen", "stale", "rotten"];
/// Labels that mark an issue inactive, which anyone may then close.
const INACTIVE: &[&str] = &["lifecycle/stale", "lifecycle/rotten"];

#[derive(Debug)]
pub struct Lifecycle;

/// `/[remove-]lifecycle <stage>` with exactly one space, as Prow's regex: (remove, label).
fn lifecycle_command(c: &CommandLine<'_>) -> Option<(bool, String)> {
    let remove = if c.is_any_case("lifecycle") {
        false
    } else if c.is_any_case("remove-lifecycle") {
        true
    } else {
        return None;
    };
    let stage = c
        .raw_args
        .strip_prefix(' ')?
        .trim_end_matches(|ch: char| ch.is_ascii_whitespace());
    STAGES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .map(|s| (remove, format!("lifecycle/{s}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Completed,
    NotPlanned,
}

/// What a comment asks of the state.
fn close_request(event: &Event) -> Option<Close> {
    let c = event.created_comment().filter(|_| event.state == "open")?;
    let not_planned = c.text.any(|l| {
        l.is_any_case("close")
            && l.raw_args
                .trim_end_matches(|ch: char| ch.is_ascii_whitespace())
                .eq_ignore_ascii_case(" not-planned")
    });
    if not_planned {
        Some(Close::NotPlanned)
    } else if c.text.any(|l| l.is_any_case("close") && l.bare()) {
        Some(Close::Completed)
    } else {
        None
    }
}

fn reopen_request(event: &Event) -> bool {
    event
        .created_comment()
        .filter(|_| event.state == "closed")
        .is_some_and(|c| c.text.any(|l| l.is_any_case("reopen") && l.bare()))
}

fn lifecycle_requests(event: &Event) -> Vec<(bool, String)> {
    event
        .created_comment()
        .map(|c| {
            c.text
                .commands()
                .filter_map(|l| lifecycle_command(&l))
                .collect()
        })
        .unwrap_or_default()
}

fn reopen(event: &Event, facts: &Facts, reply: &ReplyTo) -> Vec<Action> {
    let commenter = event.comment.as_ref().map_or("", |c| c.user.login.as_str());
    if event.author.login != commenter && !facts.commenter_is_collaborator {
        return vec![Action::Comment(reply.reply(
            "You can't reopen an issue/PR unless you authored it or you are a collaborator.",
        ))];
    }
    let (what, done) = if event.is_pr {
        ("PR", "Reopened this PR.")
    } else {
        ("Issue", "Reopened this issue.")
    };
    vec![
        Action::SetState {
            open: true,
            reason: None,
            refused: Some(RefusedReply {
                prefix: format!("Failed to re-open {what}: "),
                to: reply.clone(),
            }),
        },
        Action::Comment(reply.reply(done)),
    ]
}

fn close(event: &Event, facts: &Facts, reply: &ReplyTo, how: Close) -> Vec<Action> {
    let commenter = event.comment.as_ref().map_or("", |c| c.user.login.as_str());
    let active = !INACTIVE.iter().any(|l| facts.has_label(l));
    if event.author.login != commenter && !facts.commenter_is_collaborator && active {
        return vec![Action::Comment(reply.reply(
            "You can't close an active issue/PR unless you authored it or you are a collaborator.",
        ))];
    }
    let (reason, done) = match (event.is_pr, how) {
        (true, Close::NotPlanned) => {
            return vec![Action::Comment(
                reply.reply("PRs cannot be closed as Not Planned."),
            )];
        }
        (true, Close::Completed) => (None, "Closed this PR."),
        (false, Close::NotPlanned) => (
            Some("not_planned"),
            "Closing this issue, marking it as \"Not Planned\".",
        ),
        (false, Close::Completed) => (Some("completed"), "Closing this issue."),
    };
    vec![
        Action::SetState {
            open: false,
            reason: reason.map(str::to_owned),
            refused: None,
        },
        Action::Comment(reply.reply(done)),
    ]
}

/// The lifecycle commands in order, each seeing the labels the previous ones left.
fn relabel(event: &Event, facts: &Facts, reply: &ReplyTo) -> Vec<Action> {
    let mut labels = facts.labels.clone();
    let has = |labels: &[String], l: &str| labels.iter().any(|x| x.eq_ignore_ascii_case(l));
    let mut out = Vec::new();
    for (remove, label) in lifecycle_requests(event) {
        if event.is_pr && label == FROZEN && !remove {
            out.push(Action::Comment(reply.reply(&format!(
                "The `{FROZEN}` label cannot be applied to Pull Requests."
            ))));
            continue;
        }
        if remove && has(&labels, &label) {
            labels.retain(|l| !l.eq_ignore_ascii_case(&label));
            out.push(Action::RemoveLabel(label));
        } else if !remove && !has(&labels, &label) {
            for stage in STAGES {
                let other = format!("lifecycle/{stage}");
                if other != label && has(&labels, &other) {
                    labels.retain(|l| !l.eq_ignore_ascii_case(&other));
                    out.push(Action::RemoveLabel(other));
                }
            }
            labels.push(label.clone());
            out.push(Action::AddLabel(label));
        }
    }
    out
}

impl Plugin for Lifecycle {
    fn name(&self) -> &'static str {
        "lifecycle"
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
            description: "Close, reopen, flag and/or unflag an issue or PR as frozen/stale/rotten"
                .into(),
            commands: vec![
                Command::new(
                    "/close [not-planned]",
                    false,
                    "Closes an issue or PR.",
                    &["/close", "/close not-planned"],
                    "Authors and collaborators on the repository can trigger this command.",
                ),
                Command::new(
                    "/reopen",
                    false,
                    "Reopens an issue or PR",
                    &["/reopen"],
                    "Authors and collaborators on the repository can trigger this command.",
                ),
                Command::new(
                    "/[remove-]lifecycle <frozen|stale|rotten>",
                    false,
                    "Flags an issue or PR as frozen/stale/rotten",
                    &["/lifecycle frozen", "/remove-lifecycle stale"],
                    "Anyone can trigger this command.",
                ),
            ],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        let closing = close_request(event).is_some();
        let reopening = reopen_request(event);
        let relabeling = !lifecycle_requests(event).is_empty();
        (closing || reopening || relabeling).then(|| Needs {
            labels: closing || relabeling,
            commenter_is_collaborator: closing || reopening,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, _: &PluginsConfig) -> Vec<Action> {
        let Some(c) = event.created_comment() else {
            return vec![];
        };
        let reply = ReplyTo::new(&c.body, &c.html_url, &c.user.login);
        let mut out = Vec::new();
        if reopen_request(event) {
            out.extend(reopen(event, facts, &reply));
        }
        if let Some(how) = close_request(event) {
            out.extend(close(event, facts, &reply, how));
        }
        out.extend(relabel(event, facts, &reply));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    fn event(body: &str, who: &str, is_pr: bool, state: &str) -> Event {
        let mut ev = comment_event(body, who, is_pr);
        ev.state = state.into();
        ev
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

    fn set(open: bool, reason: Option<&str>) -> Action {
        Action::SetState {
            open,
            reason: reason.map(str::to_owned),
            refused: None,
        }
    }

    #[test]
    fn close_follows_prow() {
        let cfg = PluginsConfig::default();
        let decide = |body: &str, who: &str, is_pr: bool, collaborator: bool, labels: &[&str]| {
            let mut facts = facts_with_labels(labels);
            facts.commenter_is_collaborator = collaborator;
            Lifecycle.decide(&event(body, who, is_pr, "open"), &facts, &cfg)
        };
        assert_eq!(
            decide("/close", "author", true, false, &[]),
            [
                set(false, None),
                reply("/close", "author", "Closed this PR.")
            ]
        );
        assert_eq!(
            decide("/close", "alice", false, true, &[]),
            [
                set(false, Some("completed")),
                reply("/close", "alice", "Closing this issue.")
            ]
        );
        assert_eq!(
            decide("/close not-planned", "alice", false, true, &[]),
            [
                set(false, Some("not_planned")),
                reply(
                    "/close not-planned",
                    "alice",
                    "Closing this issue, marking it as \"Not Planned\"."
                )
            ]
        );
        assert_eq!(
            decide("/close not-planned", "alice", true, true, &[]),
            [reply(
                "/close not-planned",
                "alice",
                "PRs cannot be closed as Not Planned."
            )]
        );
        assert_eq!(
            decide("/close", "mallory", false, false, &[]),
            [reply(
                "/close",
                "mallory",
                "You can't close an active issue/PR unless you authored it or you are a collaborator."
            )]
        );
        // Anyone may close what is rotting.
        assert_eq!(
            decide("/close", "mallory", false, false, &["lifecycle/rotten"])[0],
            set(false, Some("completed"))
        );
        assert!(decide("/close it", "alice", false, true, &[]).is_empty());
        let closed = event("/close", "alice", false, "closed");
        assert!(Lifecycle.needs(&closed, &cfg).is_none());
    }

    #[test]
    fn reopen_follows_prow() {
        let cfg = PluginsConfig::default();
        let ev = event("/reopen", "author", false, "closed");
        let needs = Lifecycle.needs(&ev, &cfg);
        assert!(
            needs
                .as_ref()
                .is_some_and(|n| n.commenter_is_collaborator && !n.labels)
        );
        let to = ReplyTo::new(
            "/reopen",
            "https://github.com/acme/foo/pull/7#issuecomment-1",
            "author",
        );
        assert_eq!(
            Lifecycle.decide(&ev, &facts_with_labels(&[]), &cfg),
            [
                Action::SetState {
                    open: true,
                    reason: None,
                    refused: Some(RefusedReply {
                        prefix: "Failed to re-open Issue: ".into(),
                        to: to.clone()
                    }),
                },
                reply("/reopen", "author", "Reopened this issue.")
            ]
        );
        let stranger = event("/reopen", "mallory", true, "closed");
        assert_eq!(
            Lifecycle.decide(&stranger, &facts_with_labels(&[]), &cfg),
            [reply(
                "/reopen",
                "mallory",
                "You can't reopen an issue/PR unless you authored it or you are a collaborator."
            )]
        );
        assert!(
            Lifecycle
                .needs(&event("/reopen", "a", true, "open"), &cfg)
                .is_none()
        );
    }

    /// (case, comment, on a PR, labels, actions)
    type Case<'a> = (&'a str, &'a str, bool, &'a [&'a str], Vec<Action>);

    #[test]
    fn lifecycle_labels_follow_prow() {
        let cfg = PluginsConfig::default();
        let add = |l: &str| Action::AddLabel(l.into());
        let rm = |l: &str| Action::RemoveLabel(l.into());
        let cases: Vec<Case<'_>> = vec![
            (
                "stale",
                "/lifecycle stale",
                false,
                &[],
                vec![add("lifecycle/stale")],
            ),
            (
                "one stage replaces another",
                "/lifecycle rotten",
                false,
                &["lifecycle/stale"],
                vec![rm("lifecycle/stale"), add("lifecycle/rotten")],
            ),
            (
                "already there",
                "/lifecycle stale",
                false,
                &["lifecycle/stale"],
                vec![],
            ),
            (
                "remove",
                "/remove-lifecycle stale",
                false,
                &["lifecycle/stale"],
                vec![rm("lifecycle/stale")],
            ),
            (
                "remove what is not there",
                "/remove-lifecycle stale",
                false,
                &[],
                vec![],
            ),
            (
                "frozen issue",
                "/lifecycle frozen",
                false,
                &[],
                vec![add(FROZEN)],
            ),
            (
                "frozen PR",
                "/lifecycle frozen",
                true,
                &[],
                vec![reply(
                    "/lifecycle frozen",
                    "alice",
                    "The `lifecycle/frozen` label cannot be applied to Pull Requests.",
                )],
            ),
            (
                "commands run in order on the labels left",
                "/lifecycle stale\n/lifecycle active",
                false,
                &[],
                vec![
                    add("lifecycle/stale"),
                    rm("lifecycle/stale"),
                    add("lifecycle/active"),
                ],
            ),
            (
                "any case",
                "/LIFECYCLE Stale",
                false,
                &[],
                vec![add("lifecycle/stale")],
            ),
            ("two spaces", "/lifecycle  stale", false, &[], vec![]),
            ("unknown stage", "/lifecycle dormant", false, &[], vec![]),
        ];
        for (name, body, is_pr, labels, want) in cases {
            let ev = event(body, "alice", is_pr, "open");
            assert_eq!(
                Lifecycle.decide(&ev, &facts_with_labels(labels), &cfg),
                want,
                "{name}"
            );
        }
    }
}
