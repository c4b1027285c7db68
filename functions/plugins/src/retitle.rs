//! retitle: `/retitle <title>` by a trusted user (trigger's rule) renames an open issue or PR,
//! or a closed one with `retitle.allow_closed_issues`; empty titles and titles with
//! issue-closing keywords are refused (Prow's `pkg/plugins/retitle`).

use prow_core::config::PluginsConfig;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, OwnersCheck, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

#[derive(Debug)]
pub struct Retitle;

/// The new title the comment asks for (first `/retitle` line, trimmed), if it asks.
fn requested(event: &Event, config: &PluginsConfig) -> Option<String> {
    if !config.retitle.allow_closed_issues && event.state != "open" {
        return None;
    }
    event
        .created_comment()?
        .text
        .commands()
        .find(|c| c.is_any_case("retitle"))
        .map(|c| c.args.to_owned())
}

/// Whether `title` holds a GitHub closing keyword followed by an issue reference (Prow's
/// invalidcommitmsg `CloseIssueRegex`: `close[sd]`, `fix(es|ed)`, `resolve[sd]`, then
/// spaces or colons, an optional `owner/repo`, `#` and digits).
pub fn closes_issues(title: &str) -> bool {
    let lower = title.to_ascii_lowercase();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    ["clos", "fix", "resolv"].iter().any(|stem| {
        lower.match_indices(stem).any(|(at, _)| {
            let rest = &lower[at + stem.len()..];
            let suffixes: &[&str] = match *stem {
                "clos" => &["es", "ed", "e"],
                "fix" => &["es", "ed", ""],
                _ => &["es", "ed", "e"],
            };
            suffixes.iter().any(|suffix| {
                rest.strip_prefix(suffix)
                    .is_some_and(|after| reference_follows(after, is_word))
            })
        })
    })
}

/// `[\s:]+(\w+/\w+)?#\d+` at the start of `s`.
fn reference_follows(s: &str, is_word: impl Fn(char) -> bool + Copy) -> bool {
    let rest = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ':');
    if rest.len() == s.len() {
        return false;
    }
    let number = |r: &str| {
        r.strip_prefix('#')
            .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
    };
    if number(rest) {
        return true;
    }
    // owner/repo#n
    let owner_end = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
    if owner_end == 0 {
        return false;
    }
    let Some(after) = rest[owner_end..].strip_prefix('/') else {
        return false;
    };
    let repo_end = after.find(|c: char| !is_word(c)).unwrap_or(after.len());
    repo_end > 0 && number(&after[repo_end..])
}

impl Plugin for Retitle {
    fn name(&self) -> &'static str {
        "retitle"
    }

    fn events(&self) -> &'static [&'static str] {
        &[
            "issue_comment",
            "issues",
            "pull_request",
            "pull_request_review",
        ]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let said = if config.retitle.allow_closed_issues {
            "The retitle plugin also allows retitling closed/merged issues and PRs."
        } else {
            "The retitle plugin does not allow retitling closed/merged issues and PRs."
        };
        let mut help = PluginHelp {
            description: "The retitle plugin allows users to re-title pull requests and issues where GitHub permissions don't allow them to.".into(),
            snippet: "retitle:\n  allow_closed_issues: true\n".into(),
            commands: vec![Command::new(
                "/retitle <title>",
                true,
                "Edits the pull request or issue title.",
                &["/retitle New Title"],
                "Collaborators on the repository.",
            )],
            ..PluginHelp::default()
        };
        help.config.insert(String::new(), said.into());
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        requested(event, config)?;
        let trigger = config.trigger_for(&event.org, &event.repo);
        Some(Needs {
            commenter_trust: Some(OwnersCheck {
                only_org_members: trigger.only_org_members,
                trusted_org: trigger.trusted_org,
                trusted_apps: trigger.trusted_apps,
                ..OwnersCheck::default()
            }),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let (Some(title), Some(c)) = (requested(event, config), event.comment.as_ref()) else {
            return vec![];
        };
        let reply = ReplyTo::new(&c.body, &c.html_url, &c.user.login);
        let refuse = |why: &str| vec![Action::Comment(reply.reply(why))];
        if !facts.commenter_trusted {
            refuse(
                "Re-titling can only be requested by trusted users, like repository collaborators.",
            )
        } else if title.is_empty() {
            refuse("Titles may not be empty.")
        } else if closes_issues(&title) {
            refuse(
                "Titles may not contain [keywords](https://help.github.com/articles/closing-issues-using-keywords) which can automatically close issues.",
            )
        } else {
            vec![Action::Retitle(title)]
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    #[test]
    fn closing_keywords_match_prows_regex() {
        let cases = [
            ("Fixes #12", true),
            ("fix: #12", true),
            ("Closes acme/foo#3", true),
            ("resolved  #1", true),
            ("close #x", false),
            ("Fix the #1 bug", false),
            ("prefix#12", false),
            ("fixed acme/#3", false),
            ("Improve logging", false),
            ("mention #12", false),
        ];
        for (title, want) in cases {
            assert_eq!(closes_issues(title), want, "{title}");
        }
    }

    #[test]
    fn retitle_follows_prow() {
        let cfg = PluginsConfig::default();
        let url = "https://github.com/acme/foo/pull/7#issuecomment-1";
        let decide = |body: &str, trusted: bool, state: &str| {
            let mut ev = comment_event(body, "alice", true);
            ev.state = state.into();
            let mut facts = facts_with_labels(&[]);
            facts.commenter_trusted = trusted;
            Retitle.decide(&ev, &facts, &cfg)
        };
        let reply = |body: &str, why: &str| {
            vec![Action::Comment(ReplyTo::new(body, url, "alice").reply(why))]
        };
        assert_eq!(
            decide("/retitle  Better title ", true, "open"),
            [Action::Retitle("Better title".into())]
        );
        assert_eq!(
            decide("/retitle x", false, "open"),
            reply(
                "/retitle x",
                "Re-titling can only be requested by trusted users, like repository collaborators."
            )
        );
        assert_eq!(
            decide("/retitle", true, "open"),
            reply("/retitle", "Titles may not be empty.")
        );
        assert_eq!(
            decide("/retitle Fixes #3", true, "open"),
            reply(
                "/retitle Fixes #3",
                "Titles may not contain [keywords](https://help.github.com/articles/closing-issues-using-keywords) which can automatically close issues."
            )
        );
        assert!(decide("/retitle x", true, "closed").is_empty());
        let open_closed: PluginsConfig =
            serde_norway::from_str("retitle: {allow_closed_issues: true}").unwrap();
        let mut ev = comment_event("/retitle x", "alice", false);
        ev.state = "closed".into();
        let needs = Retitle.needs(&ev, &open_closed).unwrap();
        assert!(needs.commenter_trust.is_some());
        assert!(
            Retitle
                .needs(&comment_event("retitle x", "a", true), &cfg)
                .is_none()
        );
    }
}
