//! Prow configuration: `config.yaml`, the `job_config_path` tree and `plugins.yaml`, loaded,
//! defaulted and validated as Prow does, with every problem pinned to `file:line:column`.

pub mod branch_protection;
mod diagnostic;
mod inert;
mod inrepo;
mod jobs;
mod lazy;
mod load;
mod locate;
mod plugins;
mod prow;
pub mod snapshot;
pub mod tide;
mod validate;
mod yaml;

use std::collections::BTreeMap;

pub use diagnostic::{Diagnostic, Severity};
pub use inrepo::{
    InRepoConfig, InRepoFile, PROW_YAML_DIR, PROW_YAML_FILE, ProwYaml, in_repo_config_paths,
    read_in_repo_config_dir, touches_in_repo_config,
};
pub use jobs::{
    Brancher, ChangeMatcher, JobBase, JobSource, Periodic, Postsubmit, Preset, Presubmit, Retry,
    UtilityConfig, default_rerun_command_for, default_trigger_for,
};
pub use lazy::{Lazy, SectionError};
pub use load::{LoadError, LoadOptions, Loaded, SNAPSHOT_FALLBACK_WARNING, load, load_in_memory};
pub use locate::{Position, Seg, locate};
pub use plugins::{
    ApproveConfig, AssignOnLabel, BlockadeConfig, BlunderbussConfig, BranchCleanerConfig,
    DEFAULT_COMMAND_HELP_LINK, DEFAULT_HELP_GUIDELINES_URL, DEFAULT_RELEASE_NOTE_GUIDELINES,
    DEFAULT_WELCOME_MESSAGE, DcoConfig, ExternalPlugin, HelpConfig, InvalidCommitMsgCheck,
    InvalidCommitMsgConfig, LabelConfig, LgtmConfig, OrgPlugins, OverrideConfig, OwnersConfig,
    PluginsConfig, ReleaseNoteConfig, RepoMilestone, RequireMatchingLabelConfig, RestrictedLabel,
    RetitleConfig, SizeConfig, TriggerConfig, WelcomeConfig,
};
pub use plugins::{ClusterGroup, ConfigMapSpec, ConfigUpdater, DEFAULT_CLUSTER_ALIAS};
pub use prow::{
    DEFAULT_TENANT_ID, Deck, DefaultDecorationConfigEntry, DefaultRerunAuthConfigEntry,
    GitHubReporter, Horologium, Plank, ProwConfig, ProwJobDefaultEntry, Sinker,
};
pub use tide::{MergeMethod, Tide, TideQuery};
pub use yaml::{GoYamlError, from_go_yaml};

/// A loaded, defaulted and validated Prow configuration.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub prow: ProwConfig,
    pub presets: Lazy<Vec<Preset>>,
    /// `org/repo` -> presubmits.
    pub presubmits: BTreeMap<String, Lazy<Vec<Presubmit>>>,
    /// `org/repo` -> postsubmits.
    pub postsubmits: BTreeMap<String, Lazy<Vec<Postsubmit>>>,
    pub periodics: Lazy<Vec<Periodic>>,
    pub plugins: PluginsConfig,
}

/// Counts for `check-config`'s summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub presubmits: usize,
    pub postsubmits: usize,
    pub periodics: usize,
    pub repos: usize,
}

impl Config {
    pub fn summary(&self) -> Summary {
        let repos: std::collections::BTreeSet<&String> = self
            .presubmits
            .keys()
            .chain(self.postsubmits.keys())
            .collect();
        Summary {
            presubmits: self.presubmits.values().map(|jobs| jobs.len()).sum(),
            postsubmits: self.postsubmits.values().map(|jobs| jobs.len()).sum(),
            periodics: self.periodics.len(),
            repos: repos.len(),
        }
    }

    /// Presubmits configured for `org/repo` (empty when none); an error when the repo's
    /// snapshot section cannot be decoded.
    pub fn presubmits_for(&self, org_repo: &str) -> Result<&[Presubmit], SectionError> {
        match self.presubmits.get(org_repo) {
            Some(jobs) => jobs.try_get().map(Vec::as_slice),
            None => Ok(&[]),
        }
    }

    /// Postsubmits configured for `org/repo` (empty when none); an error when the repo's
    /// snapshot section cannot be decoded.
    pub fn postsubmits_for(&self, org_repo: &str) -> Result<&[Postsubmit], SectionError> {
        match self.postsubmits.get(org_repo) {
            Some(jobs) => jobs.try_get().map(Vec::as_slice),
            None => Ok(&[]),
        }
    }

    /// Every periodic; an error when the snapshot section cannot be decoded.
    pub fn periodic_jobs(&self) -> Result<&[Periodic], SectionError> {
        self.periodics.try_get().map(Vec::as_slice)
    }

    pub fn periodic(&self, name: &str) -> Option<&Periodic> {
        self.periodics.iter().find(|p| p.base.name == name)
    }
}
