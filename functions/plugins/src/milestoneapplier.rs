//! milestoneapplier: a PR merged into a branch `milestone_applier` maps to a milestone gets that
//! milestone; a PR into another than the default branch gets it when opened too (Prow's
//! `pkg/plugins/milestoneapplier`).

use prow_core::config::PluginsConfig;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const NAME: &str = "milestoneapplier";

#[derive(Debug)]
pub struct MilestoneApplier;

/// The milestone to apply to the event's PR, when it is due now.
fn due<'a>(event: &Event, config: &'a PluginsConfig) -> Option<&'a str> {
    if event.kind != Kind::PullRequest {
        return None;
    }
    let pr = event.pull_request.as_ref()?;
    let wanted = config.applied_milestone(&event.org, &event.repo, &pr.base.git_ref)?;
    if pr.milestone.as_ref().is_some_and(|m| m.title == wanted) {
        return None;
    }
    let merged = event.action == "closed" && pr.merged;
    let default_branch = pr
        .base
        .repo
        .as_ref()
        .map_or("", |r| r.default_branch.as_str());
    // Into the default branch only a merge counts; into another branch opening does too.
    let now = merged || default_branch != pr.base.git_ref && event.action == "opened";
    now.then_some(wanted)
}

impl Plugin for MilestoneApplier {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: "The milestoneapplier plugin automatically applies the configured milestone for the base branch after a PR is merged. If a PR targets a non-default branch, it also adds the milestone when the PR is opened.".into(),
            snippet: "milestone_applier:\n  kubernetes/kubernetes:\n    release-1.18: v1.18\n    release-1.19: v1.19\n".into(),
            ..PluginHelp::default()
        };
        for repo in repos {
            let name = repo.full_name();
            let lines: Vec<String> = config
                .milestone_applier
                .get(&name)
                .into_iter()
                .flatten()
                .map(|(branch, milestone)| format!("- `{branch}`: `{milestone}`"))
                .collect();
            help.config.insert(
                name,
                format!(
                    "The configured branches and milestones for this repo are:\n{}",
                    lines.join("\n")
                ),
            );
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        due(event, config)?;
        Some(Needs {
            milestones: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        // A configured milestone the repo lacks is a config error Prow only logs.
        due(event, config)
            .and_then(|title| crate::milestone::number_of(&facts.milestones, title))
            .map(|number| vec![Action::SetMilestone(Some(number))])
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::{Branch, BranchRepo, Milestone as PrMilestone, PullRequest};
    use crate::testing::{comment_event, facts_with_labels};

    fn pr_event(action: &str, base: &str, merged: bool, milestone: Option<&str>) -> Event {
        let mut ev = comment_event("", "bob", true);
        ev.kind = Kind::PullRequest;
        ev.action = action.into();
        ev.comment = None;
        ev.pull_request = Some(PullRequest {
            number: 7,
            merged,
            base: Branch {
                git_ref: base.into(),
                sha: "b".into(),
                repo: Some(BranchRepo {
                    full_name: "acme/foo".into(),
                    default_branch: "main".into(),
                }),
            },
            milestone: milestone.map(|t| PrMilestone { title: t.into() }),
            ..PullRequest::default()
        });
        ev
    }

    #[test]
    fn the_branchs_milestone_is_applied_on_merge_and_on_opening_into_a_release_branch() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "milestone_applier:\n  acme/foo:\n    main: v1.3\n    release-1.2: v1.2\n",
        )
        .unwrap();
        let mut facts = facts_with_labels(&[]);
        facts.milestones = vec![("v1.2".into(), 12), ("v1.3".into(), 13)];
        let decide = |ev: &Event| MilestoneApplier.decide(ev, &facts, &cfg);
        let table = [
            (
                pr_event("closed", "main", true, None),
                vec![Action::SetMilestone(Some(13))],
            ),
            (pr_event("closed", "main", false, None), vec![]),
            (pr_event("opened", "main", false, None), vec![]),
            (
                pr_event("opened", "release-1.2", false, None),
                vec![Action::SetMilestone(Some(12))],
            ),
            (pr_event("synchronize", "release-1.2", false, None), vec![]),
            (
                pr_event("closed", "release-1.2", true, Some("v1.2")),
                vec![],
            ),
            (
                pr_event("closed", "release-1.2", true, Some("v1.0")),
                vec![Action::SetMilestone(Some(12))],
            ),
            (pr_event("closed", "feature", true, None), vec![]),
        ];
        for (ev, want) in table {
            assert_eq!(
                decide(&ev),
                want,
                "{} into {}",
                ev.action,
                ev.pull_request.as_ref().unwrap().base.git_ref
            );
            assert_eq!(
                MilestoneApplier.needs(&ev, &cfg).is_some(),
                !want.is_empty()
            );
        }
        // A configured milestone the repo lacks sets nothing.
        facts.milestones.clear();
        assert!(
            MilestoneApplier
                .decide(&pr_event("closed", "main", true, None), &facts, &cfg)
                .is_empty()
        );
    }
}
