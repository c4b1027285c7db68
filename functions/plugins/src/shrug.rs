//! shrug: `/shrug` adds the `¯\_(ツ)_/¯` label, `/unshrug` takes it off with a shrug
//! (Prow's `pkg/plugins/shrug`). Anyone may, on issues and PRs.

use prow_core::config::PluginsConfig;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const LABEL: &str = "¯\\_(ツ)_/¯";
/// The reply to `/unshrug`, escaped for Markdown as Prow writes it.
const UNSHRUG_REPLY: &str = "¯\\\\\\_(ツ)\\_/¯";

#[derive(Debug)]
pub struct Shrug;

/// `Some(true)` for `/shrug`, `Some(false)` for `/unshrug`; a shrug anywhere wins.
fn wanted(event: &Event) -> Option<bool> {
    let text = &event.created_comment()?.text;
    if text.any(|c| c.is_any_case("shrug") && c.bare()) {
        Some(true)
    } else if text.any(|c| c.is_any_case("unshrug") && c.bare()) {
        Some(false)
    } else {
        None
    }
}

impl Plugin for Shrug {
    fn name(&self) -> &'static str {
        "shrug"
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
            description: LABEL.into(),
            commands: vec![Command::new(
                "/[un]shrug",
                false,
                LABEL,
                &["/shrug", "/unshrug"],
                &format!("Anyone, {LABEL}"),
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
        let (Some(want), Some(c)) = (wanted(event), event.comment.as_ref()) else {
            return vec![];
        };
        let has = facts.labels.iter().any(|l| l == LABEL);
        match (want, has) {
            (true, false) => vec![Action::AddLabel(LABEL.into())],
            (false, true) => vec![
                Action::Comment(
                    ReplyTo::new(&c.body, &c.html_url, &c.user.login).reply(UNSHRUG_REPLY),
                ),
                Action::RemoveLabel(LABEL.into()),
            ],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    #[test]
    fn shrug_follows_prow() {
        let cfg = PluginsConfig::default();
        let ev = comment_event("/shrug", "alice", false);
        assert_eq!(
            Shrug.decide(&ev, &facts_with_labels(&[]), &cfg),
            [Action::AddLabel(LABEL.into())]
        );
        assert!(
            Shrug
                .decide(&ev, &facts_with_labels(&[LABEL]), &cfg)
                .is_empty()
        );
        let un = comment_event("/UNSHRUG", "alice", true);
        let reply = ReplyTo::new(
            "/UNSHRUG",
            "https://github.com/acme/foo/pull/7#issuecomment-1",
            "alice",
        )
        .reply("¯\\\\\\_(ツ)\\_/¯");
        assert_eq!(
            Shrug.decide(&un, &facts_with_labels(&[LABEL]), &cfg),
            [Action::Comment(reply), Action::RemoveLabel(LABEL.into())]
        );
        assert!(Shrug.decide(&un, &facts_with_labels(&[]), &cfg).is_empty());
        assert!(
            Shrug
                .needs(&comment_event("/shrug it off", "a", true), &cfg)
                .is_none()
        );
        assert!(
            Shrug
                .needs(&comment_event("/shrug\n/unshrug", "a", true), &cfg)
                .is_some()
        );
    }
}
