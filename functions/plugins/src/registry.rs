//! Every plugin prow-rs knows, listed once: the function dispatches by it and Deck's help reads it.

use prow_core::config::PluginsConfig;

use crate::plugin::Plugin;
use crate::{
    approve, assign, blockade, blunderbuss, branchcleaner, dco, help_wanted, hold,
    invalidcommitmsg, label, lgtm, lifecycle, mergecommitblocker, milestone, milestoneapplier,
    override_, owners_label, release_note, require_matching_label, retitle, shrug, size, skip,
    trigger, verify_owners, welcome, wip,
};

/// An org (`repo` empty) or `org/repo` that enables a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub org: String,
    pub repo: String,
}

impl Repo {
    pub fn new(org: &str, repo: &str) -> Self {
        Self {
            org: org.to_owned(),
            repo: repo.to_owned(),
        }
    }

    /// `org/repo`, or `org` for an org entry (Prow's OrgRepo.String).
    pub fn full_name(&self) -> String {
        if self.repo.is_empty() {
            self.org.clone()
        } else {
            format!("{}/{}", self.org, self.repo)
        }
    }
}

static ALL: &[&dyn Plugin] = &[
    &approve::Approve,
    &assign::Assign,
    &blockade::Blockade,
    &blunderbuss::Blunderbuss,
    &branchcleaner::BranchCleaner,
    &dco::Dco,
    &help_wanted::HelpWanted,
    &hold::Hold,
    &invalidcommitmsg::InvalidCommitMsg,
    &label::Label,
    &lgtm::Lgtm,
    &lifecycle::Lifecycle,
    &mergecommitblocker::MergeCommitBlocker,
    &milestone::Milestone,
    &milestoneapplier::MilestoneApplier,
    &override_::Override,
    &owners_label::OwnersLabel,
    &release_note::ReleaseNote,
    &require_matching_label::RequireMatchingLabel,
    &retitle::Retitle,
    &shrug::Shrug,
    &size::Size,
    &skip::Skip,
    &trigger::Trigger,
    &verify_owners::VerifyOwners,
    &welcome::Welcome,
    &wip::Wip,
];

/// Every plugin, by name.
pub fn all() -> &'static [&'static dyn Plugin] {
    ALL
}

/// The plugins enabled for `org/repo` that this function runs (trigger runs as its own
/// function, so it is in the registry for help only).
pub fn enabled(config: &PluginsConfig, org: &str, repo: &str) -> Vec<&'static dyn Plugin> {
    ALL.iter()
        .copied()
        .filter(|p| p.name() != trigger::NAME && config.is_enabled(org, repo, p.name()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_trigger_never_runs_here() {
        let mut names: Vec<&str> = all().iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
        let cfg: PluginsConfig =
            serde_norway::from_str("plugins:\n  acme: [trigger, hold, nonexistent]\n").unwrap();
        let enabled: Vec<&str> = enabled(&cfg, "acme", "foo")
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(enabled, ["hold"]);
    }
}
