//! help (the plugin): `/help` marks an open issue `help wanted`, `/good-first-issue` also
//! `good first issue`, each with Prow's guidelines comment; `/remove-help` and
//! `/remove-good-first-issue` take them off and delete our guidelines comments (Prow's
//! `pkg/plugins/help`). Anyone may, on issues only.

use prow_core::config::{HelpConfig, PluginsConfig};

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const HELP_LABEL: &str = "help wanted";
pub const GOOD_FIRST_ISSUE_LABEL: &str = "good first issue";
/// What our guidelines comments say, so removing the label can find and delete them.
const HELP_MARK: &str = "This request has been marked as needing help from a contributor.";
const GOOD_FIRST_ISSUE_MARK: &str =
    "This request has been marked as suitable for new contributors.";

#[derive(Debug)]
pub struct HelpWanted;

/// The comment on a help-wanted issue (Prow's helpMsg), with the summary when configured.
pub fn help_message(cfg: &HelpConfig) -> String {
    guidelines(cfg, HELP_MARK, "", "/remove-help")
}

/// The comment on a good-first-issue (Prow's goodFirstIssueMsg).
pub fn good_first_issue_message(cfg: &HelpConfig) -> String {
    guidelines(
        cfg,
        GOOD_FIRST_ISSUE_MARK,
        "#good-first-issue",
        "/remove-good-first-issue",
    )
}

fn guidelines(cfg: &HelpConfig, mark: &str, anchor: &str, remove: &str) -> String {
    let url = cfg.guidelines_url();
    let summary = &cfg.help_guidelines_summary;
    // The tab after the first newline is in Prow's text.
    let middle = if summary.is_empty() {
        format!("Please ensure the request meets the requirements listed [here]({url}{anchor}).")
    } else {
        format!(
            "### Guidelines\n{summary}\n\nFor more details on the requirements of such an issue, please see [here]({url}{anchor}) and ensure that they are met."
        )
    };
    format!(
        "\n\t{mark}\n\n{middle}\n\nIf this request no longer meets these requirements, the label can be removed\nby commenting with the `{remove}` command.\n"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Help,
    RemoveHelp,
    GoodFirstIssue,
    RemoveGoodFirstIssue,
}

fn has(event: &Event, name: &str) -> bool {
    event
        .comment
        .as_ref()
        .is_some_and(|c| c.text.any(|l| l.is_any_case(name) && l.bare()))
}

/// Whether the event is a new comment on an open issue naming any of our commands.
fn relevant(event: &Event) -> bool {
    !event.is_pr
        && event.state == "open"
        && event.created_comment().is_some()
        && [
            Cmd::Help,
            Cmd::RemoveHelp,
            Cmd::GoodFirstIssue,
            Cmd::RemoveGoodFirstIssue,
        ]
        .iter()
        .any(|c| has(event, name(*c)))
}

fn name(c: Cmd) -> &'static str {
    match c {
        Cmd::Help => "help",
        Cmd::RemoveHelp => "remove-help",
        Cmd::GoodFirstIssue => "good-first-issue",
        Cmd::RemoveGoodFirstIssue => "remove-good-first-issue",
    }
}

/// Deletes our comments that say `mark` (Prow's comment pruner).
fn prune(facts: &Facts, mark: &str) -> impl Iterator<Item = Action> {
    facts
        .bot_comments()
        .filter(move |c| c.body.contains(mark))
        .map(|c| Action::DeleteComment(c.id))
        .collect::<Vec<_>>()
        .into_iter()
}

impl Plugin for HelpWanted {
    fn name(&self) -> &'static str {
        "help"
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
            description: format!(
                "The help plugin provides commands that add or remove the '{HELP_LABEL}' and the '{GOOD_FIRST_ISSUE_LABEL}' labels from issues."
            ),
            commands: vec![Command::new(
                "/[remove-](help|good-first-issue)",
                false,
                &format!(
                    "Applies or removes the '{HELP_LABEL}' and '{GOOD_FIRST_ISSUE_LABEL}' labels to an issue."
                ),
                &[
                    "/help",
                    "/remove-help",
                    "/good-first-issue",
                    "/remove-good-first-issue",
                ],
                "Anyone can trigger this command on a PR.",
            )],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        relevant(event).then(|| Needs {
            labels: true,
            comments: has(event, name(Cmd::RemoveHelp))
                || has(event, name(Cmd::RemoveGoodFirstIssue)),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let Some(c) = event.comment.as_ref().filter(|_| relevant(event)) else {
            return vec![];
        };
        let cfg = &config.help;
        // Prow answers with the issue's address, not the comment's.
        let reply = ReplyTo::new(&c.body, &event.html_url, &c.user.login);
        let has_help = facts.has_label(HELP_LABEL);
        let has_gfi = facts.has_label(GOOD_FIRST_ISSUE_LABEL);
        // One command per comment, in Prow's order of precedence.
        if has_help && has(event, name(Cmd::RemoveHelp)) {
            let mut out = vec![Action::RemoveLabel(HELP_LABEL.into())];
            out.extend(prune(facts, HELP_MARK));
            if has_gfi {
                out.push(Action::RemoveLabel(GOOD_FIRST_ISSUE_LABEL.into()));
                out.extend(prune(facts, GOOD_FIRST_ISSUE_MARK));
            }
            out
        } else if !has_gfi && has(event, name(Cmd::GoodFirstIssue)) {
            let mut out = vec![
                Action::Comment(reply.reply(&good_first_issue_message(cfg))),
                Action::AddLabel(GOOD_FIRST_ISSUE_LABEL.into()),
            ];
            if !has_help {
                out.push(Action::AddLabel(HELP_LABEL.into()));
            }
            out
        } else if !has_help && has(event, name(Cmd::Help)) {
            vec![
                Action::Comment(reply.reply(&help_message(cfg))),
                Action::AddLabel(HELP_LABEL.into()),
            ]
        } else if has_gfi && has(event, name(Cmd::RemoveGoodFirstIssue)) {
            let mut out = vec![Action::RemoveLabel(GOOD_FIRST_ISSUE_LABEL.into())];
            out.extend(prune(facts, GOOD_FIRST_ISSUE_MARK));
            out
        } else {
            vec![]
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plugin::IssueComment;
    use crate::testing::{comment_event, facts_with_labels};

    fn reply(body: &str, message: &str) -> Action {
        Action::Comment(
            ReplyTo::new(body, "https://github.com/acme/foo/issues/7", "alice").reply(message),
        )
    }

    fn bot_comment(id: u64, body: &str) -> IssueComment {
        IssueComment {
            id,
            user: "prow-bot".into(),
            body: body.into(),
            ..IssueComment::default()
        }
    }

    #[test]
    fn guidelines_are_prows_words() {
        let plain = help_message(&HelpConfig::default());
        assert_eq!(
            plain,
            "\n\tThis request has been marked as needing help from a contributor.\n\nPlease ensure the request meets the requirements listed [here](https://git.k8s.io/community/contributors/guide/help-wanted.md).\n\nIf this request no longer meets these requirements, the label can be removed\nby commenting with the `/remove-help` command.\n"
        );
        let cfg = HelpConfig {
            help_guidelines_url: "https://x/guide".into(),
            help_guidelines_summary: "- be clear".into(),
        };
        assert_eq!(
            good_first_issue_message(&cfg),
            "\n\tThis request has been marked as suitable for new contributors.\n\n### Guidelines\n- be clear\n\nFor more details on the requirements of such an issue, please see [here](https://x/guide#good-first-issue) and ensure that they are met.\n\nIf this request no longer meets these requirements, the label can be removed\nby commenting with the `/remove-good-first-issue` command.\n"
        );
    }

    #[test]
    fn help_commands_follow_prow() {
        let cfg = PluginsConfig::default();
        let help = help_message(&cfg.help);
        let gfi = good_first_issue_message(&cfg.help);
        let ours = vec![
            bot_comment(1, &format!("@x: {HELP_MARK}")),
            bot_comment(2, &format!("@x: {GOOD_FIRST_ISSUE_MARK}")),
            IssueComment {
                id: 3,
                user: "alice".into(),
                body: HELP_MARK.into(),
                ..IssueComment::default()
            },
        ];
        // (case, comment, labels, actions)
        let cases: Vec<(&str, &str, &[&str], Vec<Action>)> = vec![
            (
                "help",
                "/help",
                &[],
                vec![reply("/help", &help), Action::AddLabel(HELP_LABEL.into())],
            ),
            ("help again", "/help", &[HELP_LABEL], vec![]),
            (
                "good first issue adds both",
                "/good-first-issue",
                &[],
                vec![
                    reply("/good-first-issue", &gfi),
                    Action::AddLabel(GOOD_FIRST_ISSUE_LABEL.into()),
                    Action::AddLabel(HELP_LABEL.into()),
                ],
            ),
            (
                "remove help takes both and our comments",
                "/remove-help",
                &[HELP_LABEL, GOOD_FIRST_ISSUE_LABEL],
                vec![
                    Action::RemoveLabel(HELP_LABEL.into()),
                    Action::DeleteComment(1),
                    Action::RemoveLabel(GOOD_FIRST_ISSUE_LABEL.into()),
                    Action::DeleteComment(2),
                ],
            ),
            (
                "remove good first issue keeps help",
                "/remove-good-first-issue",
                &[HELP_LABEL, GOOD_FIRST_ISSUE_LABEL],
                vec![
                    Action::RemoveLabel(GOOD_FIRST_ISSUE_LABEL.into()),
                    Action::DeleteComment(2),
                ],
            ),
            ("remove what is not there", "/remove-help", &[], vec![]),
            ("arguments are not the command", "/help me", &[], vec![]),
        ];
        for (name, body, labels, want) in cases {
            let ev = comment_event(body, "alice", false);
            let facts = Facts {
                comments: ours.clone(),
                ..facts_with_labels(labels)
            };
            assert_eq!(HelpWanted.decide(&ev, &facts, &cfg), want, "{name}");
        }
        let on_pr = comment_event("/help", "alice", true);
        assert!(HelpWanted.needs(&on_pr, &cfg).is_none());
        let mut closed = comment_event("/help", "alice", false);
        closed.state = "closed".into();
        assert!(HelpWanted.needs(&closed, &cfg).is_none());
        let removing = comment_event("/remove-help", "alice", false);
        assert!(HelpWanted.needs(&removing, &cfg).unwrap().comments);
    }
}
