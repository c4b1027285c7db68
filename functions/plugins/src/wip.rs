//! wip: a PR whose title starts with `WIP` (Prow's `(?i)^\W?WIP\W`) or that is a draft gets
//! `do-not-merge/work-in-progress`; losing both loses the label (Prow's `pkg/plugins/wip`).

use prow_core::config::PluginsConfig;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const LABEL: &str = "do-not-merge/work-in-progress";

/// The PR actions that may change the title or draft state.
const ACTIONS: &[&str] = &[
    "opened",
    "reopened",
    "edited",
    "ready_for_review",
    "converted_to_draft",
];

#[derive(Debug)]
pub struct Wip;

/// Go's `\w`: ASCII letters, digits and `_`.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Prow's `(?i)^\W?WIP\W`: an optional non-word character, `wip` in any case, then a non-word
/// character (so `WIP: x` and `[WIP] x` are, `WIPE` and a bare `WIP` are not).
pub fn is_wip_title(title: &str) -> bool {
    let wip_then_separator = |s: &str| {
        s.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("wip"))
            && s[3..].chars().next().is_some_and(|c| !is_word(c))
    };
    wip_then_separator(title)
        || title
            .chars()
            .next()
            .is_some_and(|c| !is_word(c) && wip_then_separator(&title[c.len_utf8()..]))
}

fn relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest && ACTIONS.contains(&event.action.as_str())
}

impl Plugin for Wip {
    fn name(&self) -> &'static str {
        "wip"
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: format!(
                "The wip (Work In Progress) plugin applies the '{LABEL}' Label to pull requests whose title starts with 'WIP' or are in the 'draft' stage, and removes it from pull requests when they remove the title prefix or become ready for review. The '{LABEL}' Label is typically used to block a pull request from merging while it is still in progress."
            ),
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        relevant(event).then(|| Needs {
            labels: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, _: &PluginsConfig) -> Vec<Action> {
        let Some(pr) = event.pull_request.as_ref().filter(|_| relevant(event)) else {
            return vec![];
        };
        let wanted = pr.draft || is_wip_title(&pr.title);
        // Prow compares the label name exactly here.
        let has = facts.labels.iter().any(|l| l == LABEL);
        match (wanted, has) {
            (true, false) => vec![Action::AddLabel(LABEL.into())],
            (false, true) => vec![Action::RemoveLabel(LABEL.into())],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PullRequest;
    use crate::testing::{comment_event, facts_with_labels};

    fn pr_event(action: &str, title: &str, draft: bool) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = action.into();
        ev.comment = None;
        ev.title = title.into();
        ev.pull_request = Some(PullRequest {
            number: 7,
            title: title.into(),
            draft,
            ..PullRequest::default()
        });
        ev
    }

    #[test]
    fn titles_match_prows_regex() {
        let cases = [
            ("WIP: frob", true),
            ("wip frob", true),
            ("[WIP] frob", true),
            ("(wip) frob", true),
            ("WIP", false),
            ("WIPE the disk", false),
            ("  WIP: two spaces first", false),
            ("Fix WIP handling", false),
            ("🚧WIP: emoji first", true),
            ("W", false),
        ];
        for (title, want) in cases {
            assert_eq!(is_wip_title(title), want, "{title}");
        }
    }

    /// (case, action, title, draft, labels, actions)
    type Case<'a> = (&'a str, &'a str, &'a str, bool, &'a [&'a str], &'a [Action]);

    #[test]
    fn label_follows_title_and_draft() {
        let add = vec![Action::AddLabel(LABEL.into())];
        let remove = vec![Action::RemoveLabel(LABEL.into())];
        let cases: &[Case<'_>] = &[
            ("wip title", "opened", "WIP: x", false, &[], &add),
            ("draft", "converted_to_draft", "x", true, &[], &add),
            ("already labeled", "edited", "WIP: x", false, &[LABEL], &[]),
            ("title fixed", "edited", "x", false, &[LABEL], &remove),
            ("ready", "ready_for_review", "x", false, &[LABEL], &remove),
            ("nothing to do", "reopened", "x", false, &[], &[]),
            (
                "a push changes neither",
                "synchronize",
                "WIP: x",
                false,
                &[],
                &[],
            ),
            (
                "label in another case is not ours",
                "edited",
                "x",
                false,
                &["DO-NOT-MERGE/WORK-IN-PROGRESS"],
                &[],
            ),
        ];
        let cfg = PluginsConfig::default();
        for (name, action, title, draft, labels, want) in cases {
            let ev = pr_event(action, title, *draft);
            assert_eq!(
                Wip.decide(&ev, &facts_with_labels(labels), &cfg),
                *want,
                "{name}"
            );
        }
        assert!(
            Wip.needs(&pr_event("synchronize", "x", false), &cfg)
                .is_none()
        );
        assert!(
            Wip.needs(&comment_event("WIP: x", "a", true), &cfg)
                .is_none()
        );
    }
}
