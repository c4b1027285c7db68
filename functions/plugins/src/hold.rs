//! hold: `/hold` adds `do-not-merge/hold`, `/hold cancel`, `/unhold` and `/remove-hold` take it off
//! (Prow's `pkg/plugins/hold`). Anyone may; only on PRs.

use prow_core::commands::CommandLine;
use prow_core::config::PluginsConfig;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const LABEL: &str = "do-not-merge/hold";

#[derive(Debug)]
pub struct Hold;

fn is_cancel(c: &CommandLine<'_>) -> bool {
    c.is_any_case("remove-hold")
        || c.is_any_case("unhold")
        || (c.is_any_case("hold")
            && c.first_word()
                .is_some_and(|w| w.eq_ignore_ascii_case("cancel")))
}

/// What the comment asks: `Some(true)` hold, `Some(false)` release. A cancel anywhere wins, as
/// Prow checks its cancel pattern first.
fn wanted(event: &Event) -> Option<bool> {
    let comment = event.created_comment().filter(|_| event.is_pr)?;
    if comment.text.any(is_cancel) {
        Some(false)
    } else if comment.text.any(|c| c.is_any_case("hold")) {
        Some(true)
    } else {
        None
    }
}

impl Plugin for Hold {
    fn name(&self) -> &'static str {
        "hold"
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: format!(
                "The hold plugin allows anyone to add or remove the '{LABEL}' Label from a pull request in order to temporarily prevent the PR from merging without withholding approval."
            ),
            commands: vec![Command::new(
                "/[remove-][un]hold [cancel]",
                false,
                &format!(
                    "Adds or removes the `{LABEL}` Label which is used to indicate that the PR should not be automatically merged."
                ),
                &["/hold", "/hold cancel", "/unhold", "/remove-hold"],
                &format!("Anyone can use the /hold command to add or remove the '{LABEL}' Label."),
            )],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        wanted(event).map(|_| Needs {
            labels: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, _: &PluginsConfig) -> Vec<Action> {
        match (wanted(event), facts.has_label(LABEL)) {
            (Some(true), false) => vec![Action::AddLabel(LABEL.into())],
            (Some(false), true) => vec![Action::RemoveLabel(LABEL.into())],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    /// (case, comment, on a PR, labels before, actions)
    type Case<'a> = (&'a str, &'a str, bool, &'a [&'a str], &'a [Action]);

    #[test]
    fn hold_follows_prow() {
        let cases: &[Case<'_>] = &[
            (
                "hold on a PR",
                "/hold",
                true,
                &[],
                &[Action::AddLabel(LABEL.into())],
            ),
            (
                "hold with a reason",
                "/hold for the release",
                true,
                &[],
                &[Action::AddLabel(LABEL.into())],
            ),
            (
                "any case",
                "/HOLD",
                true,
                &[],
                &[Action::AddLabel(LABEL.into())],
            ),
            ("already held", "/hold", true, &[LABEL], &[]),
            ("not a PR", "/hold", false, &[], &[]),
            (
                "cancel",
                "/hold cancel",
                true,
                &[LABEL],
                &[Action::RemoveLabel(LABEL.into())],
            ),
            (
                "unhold",
                "/unhold",
                true,
                &[LABEL],
                &[Action::RemoveLabel(LABEL.into())],
            ),
            (
                "remove-hold",
                "/remove-hold",
                true,
                &[LABEL],
                &[Action::RemoveLabel(LABEL.into())],
            ),
            ("cancel without the label", "/hold cancel", true, &[], &[]),
            (
                "cancel wins over hold",
                "/hold\n/hold cancel",
                true,
                &[LABEL],
                &[Action::RemoveLabel(LABEL.into())],
            ),
            ("quoted hold", "> /hold\nagreed", true, &[], &[]),
            ("hold in a code block", "```\n/hold\n```", true, &[], &[]),
            ("not at line start", "please /hold", true, &[], &[]),
            ("hold-like word", "/holding", true, &[], &[]),
            (
                "cancelled is not cancel",
                "/hold cancelled",
                true,
                &[],
                &[Action::AddLabel(LABEL.into())],
            ),
        ];
        let cfg = PluginsConfig::default();
        assert!(
            Hold.needs(&comment_event("thanks", "alice", true), &cfg)
                .is_none()
        );
        assert!(
            Hold.needs(&comment_event("/hold", "alice", false), &cfg)
                .is_none()
        );
        assert_eq!(
            Hold.needs(&comment_event("/hold", "alice", true), &cfg)
                .map(|n| n.labels),
            Some(true)
        );
        for (name, body, is_pr, labels, want) in cases {
            let ev = comment_event(body, "alice", *is_pr);
            let facts = facts_with_labels(labels);
            let cfg = PluginsConfig::default();
            assert_eq!(Hold.decide(&ev, &facts, &cfg), *want, "{name}");
        }
    }
}
