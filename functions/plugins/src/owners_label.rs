//! owners-label: a PR gets the `labels:` of the OWNERS files above the files it changes (Prow's
//! `pkg/plugins/owners-label`), read at the PR's base. Only labels the repository defines are
//! added (adding another would make GitHub create it); labels already on the PR are left alone.

use std::collections::BTreeSet;

use prow_core::config::PluginsConfig;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const NAME: &str = "owners-label";

#[derive(Debug)]
pub struct OwnersLabel;

/// Prow labels on the actions that can change which files a PR touches.
fn is_relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && matches!(event.action.as_str(), "opened" | "reopened" | "synchronize")
}

impl Plugin for OwnersLabel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: "The owners-label plugin automatically adds labels to PRs based on the files they touch. Specifically, the 'labels' sections of OWNERS files are used to determine which labels apply to the changes.".into(),
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        is_relevant(event).then(|| Needs {
            labels: true,
            pull_request_owners: true,
            repo_labels: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, _: &PluginsConfig) -> Vec<Action> {
        let (Some(pr), Some(owners)) = (&facts.pull_request, &facts.repo_owners) else {
            return vec![];
        };
        if !is_relevant(event) {
            return vec![];
        }
        let wanted: BTreeSet<String> = pr
            .changed_files
            .iter()
            .flat_map(|file| owners.labels(file))
            .collect();
        // A label the repository does not define is skipped, as Prow does (it only logs them).
        wanted
            .into_iter()
            .filter(|label| !facts.has_label(label))
            .filter(|label| facts.repo_labels.iter().any(|l| l == label))
            .map(Action::AddLabel)
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
