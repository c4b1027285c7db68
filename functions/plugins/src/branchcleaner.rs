//! branchcleaner: once a PR between two branches of the same repository is merged, its head
//! branch is deleted, unless `branch_cleaner.preserved_branches` keeps it (Prow's
//! `pkg/plugins/branchcleaner`). A PR from a fork is left alone: its branch is not ours.

use prow_core::config::PluginsConfig;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const NAME: &str = "branchcleaner";

#[derive(Debug)]
pub struct BranchCleaner;

/// The head branch to delete, if this event is a merge it should clean up after.
fn branch_to_delete<'a>(event: &'a Event, config: &PluginsConfig) -> Option<&'a str> {
    let pr = event.pull_request.as_ref()?;
    if event.kind != Kind::PullRequest || event.action != "closed" || !pr.merged {
        return None;
    }
    let full = |b: &crate::event::Branch| b.repo.as_ref().map(|r| r.full_name.clone());
    if full(&pr.base) != full(&pr.head) {
        return None;
    }
    let branch = pr.head.git_ref.as_str();
    (!config
        .branch_cleaner
        .is_preserved(&event.org, &event.repo, branch))
    .then_some(branch)
}

impl Plugin for BranchCleaner {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: "The branchcleaner plugin automatically deletes source branches for merged PRs between two branches on the same repository. This is helpful to keep repos that don't allow forking clean.".into(),
            snippet: "branch_cleaner:\n  # PreservedBranches is a map of org/repo branches\n  preserved_branches:\n    kubernetes/kubernetes:\n    - master\n    kubernetes-sigs:\n    - master\n".into(),
            ..PluginHelp::default()
        };
        for repo in repos {
            let name = repo.full_name();
            if let Some(branches) = config.branch_cleaner.preserved_branches.get(&name) {
                // Go prints the list as `[a b]`.
                help.config.insert(
                    name.clone(),
                    format!(
                        "The preserved branches for repo {name} is [{}]",
                        branches.join(" ")
                    ),
                );
            }
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        branch_to_delete(event, config).map(|_| Needs::default())
    }

    fn decide(&self, event: &Event, _: &Facts, config: &PluginsConfig) -> Vec<Action> {
        branch_to_delete(event, config)
            .map(|b| Action::DeleteRef(format!("heads/{b}")))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::{Branch, BranchRepo, PullRequest};
    use crate::testing::{comment_event, facts_with_labels};

    fn merged(head_repo: &str, head: &str, merged: bool) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = "closed".into();
        ev.comment = None;
        let branch = |repo: &str, git_ref: &str| Branch {
            git_ref: git_ref.into(),
            sha: "s".into(),
            repo: Some(BranchRepo {
                full_name: repo.into(),
                ..BranchRepo::default()
            }),
        };
        ev.pull_request = Some(PullRequest {
            merged,
            base: branch("acme/foo", "main"),
            head: branch(head_repo, head),
            ..PullRequest::default()
        });
        ev
    }

    fn decide(ev: &Event, cfg: &PluginsConfig) -> Vec<Action> {
        BranchCleaner.decide(ev, &facts_with_labels(&[]), cfg)
    }

    #[test]
    fn merged_same_repo_branches_go_unless_preserved() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "branch_cleaner:\n  preserved_branches:\n    acme/foo: [keep-me]\n    acme: ['^release-']\n",
        )
        .unwrap();
        assert_eq!(
            decide(&merged("acme/foo", "feature", true), &cfg),
            [Action::DeleteRef("heads/feature".into())]
        );
        assert!(decide(&merged("acme/foo", "feature", false), &cfg).is_empty());
        assert!(decide(&merged("fork/foo", "feature", true), &cfg).is_empty());
        assert!(decide(&merged("acme/foo", "keep-me", true), &cfg).is_empty());
        assert!(decide(&merged("acme/foo", "release-1.2", true), &cfg).is_empty());
        let mut synced = merged("acme/foo", "feature", true);
        synced.action = "synchronize".into();
        assert!(BranchCleaner.needs(&synced, &cfg).is_none());
        let help = BranchCleaner.help(&cfg, &[Repo::new("acme", "foo")]);
        assert_eq!(
            help.config["acme/foo"],
            "The preserved branches for repo acme/foo is [keep-me]"
        );
    }
}
