//! milestone: `/milestone <title>` sets an issue's or PR's milestone, `/milestone clear` removes
//! it; only members of the repo's `repo_milestone` maintainers team may (Prow's
//! `pkg/plugins/milestone`).

use std::sync::LazyLock;

use prow_core::config::{PluginsConfig, RepoMilestone};
use regex::Regex;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const NAME: &str = "milestone";

/// The word that clears the milestone instead of naming one.
const CLEAR: &str = "clear";

#[allow(clippy::expect_used)]
static MILESTONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^/milestone\s+(.+?)\s*$").expect("valid regex"));

#[derive(Debug)]
pub struct Milestone;

/// The milestone the created comment asks for (Prow reads the first command only).
fn proposed(event: &Event) -> Option<&str> {
    let comment = event.created_comment()?;
    Some(MILESTONE.captures(&comment.body)?.get(1)?.as_str())
}

/// Prow's NormLogin: no `@`, any case.
fn norm(login: &str) -> String {
    login.trim_start_matches('@').to_lowercase()
}

fn team_message(team: &RepoMilestone) -> String {
    format!(
        "The milestone maintainers team is the GitHub team {:?} with ID: {}.",
        team.maintainers_team, team.maintainers_id
    )
}

/// Titles sorted as Prow lists them: each in backticks, joined by `, `.
fn titles(milestones: &[(String, u64)]) -> String {
    let mut titles: Vec<String> = milestones.iter().map(|(t, _)| format!("`{t}`")).collect();
    titles.sort();
    titles.dedup();
    titles.join(", ")
}

/// The number of the milestone titled `title` (the last listed wins, as Prow's map).
pub fn number_of(milestones: &[(String, u64)], title: &str) -> Option<u64> {
    milestones
        .iter()
        .rev()
        .find(|(t, _)| t == title)
        .map(|(_, n)| *n)
}

impl Plugin for Milestone {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &[
            "issue_comment",
            "issues",
            "pull_request",
            "pull_request_review",
        ]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: "The milestone plugin allows members of a configurable GitHub team to set the milestone on an issue or pull request.".into(),
            commands: vec![Command::new(
                "/milestone <version> or /milestone clear",
                false,
                "Updates the milestone for an issue or PR",
                &["/milestone v1.10", "/milestone v1.9", "/milestone clear"],
                "Members of the milestone maintainers GitHub team can use the '/milestone' command.",
            )],
            ..PluginHelp::default()
        };
        for repo in repos {
            let name = repo.full_name();
            if let Some(team) = config.repo_milestone.get(&name) {
                help.config.insert(name, team_message(team));
            }
        }
        let default = config.repo_milestone.get("").cloned().unwrap_or_default();
        help.config.insert(String::new(), team_message(&default));
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        proposed(event)?;
        let team = config
            .repo_milestone(&event.org, &event.repo)
            .maintainers_team;
        Some(Needs {
            team_members: if team.is_empty() { vec![] } else { vec![team] },
            milestones: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let (Some(proposed), Some(comment)) = (proposed(event), event.created_comment()) else {
            return vec![];
        };
        let reply = ReplyTo::new(&comment.body, &comment.html_url, &comment.user.login);
        let team = config.repo_milestone(&event.org, &event.repo);
        let commenter = norm(&comment.user.login);
        let maintainer = facts
            .team_members
            .get(&team.maintainers_team)
            .is_some_and(|members| members.iter().any(|m| norm(m) == commenter));
        if !maintainer {
            let (org, slug) = (&event.org, &team.maintainers_team);
            return vec![Action::Comment(reply.reply(&format!(
                "You must be a member of the [{org}/{slug}](https://github.com/orgs/{org}/teams/{slug}/members) GitHub team to set the milestone. If you believe you should be able to issue the /milestone command, please contact your {} and have them propose you as an additional delegate for this responsibility.",
                team.maintainers_friendly_name
            )))];
        }
        if proposed == CLEAR {
            return vec![Action::SetMilestone(None)];
        }
        match number_of(&facts.milestones, proposed) {
            Some(number) => vec![Action::SetMilestone(Some(number))],
            None => vec![Action::Comment(reply.reply(&format!(
                "The provided milestone is not valid for this repository. Milestones in this repository: [{}]\n\nUse `/milestone {CLEAR}` to clear the milestone.",
                titles(&facts.milestones)
            )))],
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    fn cfg() -> PluginsConfig {
        serde_norway::from_str(
            "repo_milestone:\n  acme/foo:\n    maintainers_team: milestone-maintainers\n    maintainers_friendly_name: SIG Chairs\n",
        )
        .unwrap()
    }

    fn facts(members: &[&str]) -> Facts {
        let mut facts = facts_with_labels(&[]);
        facts.team_members.insert(
            "milestone-maintainers".into(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        );
        facts.milestones = vec![("v1.1".into(), 3), ("v1.0".into(), 1)];
        facts
    }

    fn reply(body: &str, login: &str, message: &str) -> Action {
        Action::Comment(
            ReplyTo::new(
                body,
                "https://github.com/acme/foo/pull/7#issuecomment-1",
                login,
            )
            .reply(message),
        )
    }

    #[test]
    fn a_maintainer_sets_or_clears_the_milestone() {
        let cfg = cfg();
        let ev = comment_event("/milestone v1.0  ", "Alice", false);
        let needs = Milestone.needs(&ev, &cfg).unwrap();
        assert_eq!(needs.team_members, ["milestone-maintainers"]);
        assert!(needs.milestones);
        assert_eq!(
            Milestone.decide(&ev, &facts(&["alice"]), &cfg),
            [Action::SetMilestone(Some(1))]
        );
        let clear = comment_event("/milestone clear", "alice", true);
        assert_eq!(
            Milestone.decide(&clear, &facts(&["alice"]), &cfg),
            [Action::SetMilestone(None)]
        );
        assert!(
            Milestone
                .needs(&comment_event("/milestone", "alice", true), &cfg)
                .is_none()
        );
    }

    #[test]
    fn strangers_and_unknown_milestones_are_answered_in_prows_words() {
        let cfg = cfg();
        let ev = comment_event("/milestone v1.0", "mallory", true);
        assert_eq!(
            Milestone.decide(&ev, &facts(&["alice"]), &cfg),
            [reply(
                "/milestone v1.0",
                "mallory",
                "You must be a member of the [acme/milestone-maintainers](https://github.com/orgs/acme/teams/milestone-maintainers/members) GitHub team to set the milestone. If you believe you should be able to issue the /milestone command, please contact your SIG Chairs and have them propose you as an additional delegate for this responsibility."
            )]
        );
        let ev = comment_event("/milestone v2.0", "alice", true);
        assert_eq!(
            Milestone.decide(&ev, &facts(&["alice"]), &cfg),
            [reply(
                "/milestone v2.0",
                "alice",
                "The provided milestone is not valid for this repository. Milestones in this repository: [`v1.0`, `v1.1`]\n\nUse `/milestone clear` to clear the milestone."
            )]
        );
    }

    #[test]
    fn help_names_the_team_of_each_repo_and_the_default() {
        let help = Milestone.help(&cfg(), &[Repo::new("acme", "foo")]);
        assert_eq!(
            help.config["acme/foo"],
            "The milestone maintainers team is the GitHub team \"milestone-maintainers\" with ID: 0."
        );
        assert_eq!(
            help.config[""],
            "The milestone maintainers team is the GitHub team \"\" with ID: 0."
        );
    }
}
