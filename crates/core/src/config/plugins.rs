//! `plugins.yaml`: which plugins run where, and the trigger plugin's trust settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_norway::Value;

/// Prow's plugin Configuration. Plugin-specific sections prow-rs does not act on yet stay raw YAML.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginsConfig {
    /// `org` or `org/repo` -> enabled plugins.
    pub plugins: BTreeMap<String, OrgPlugins>,
    pub external_plugins: BTreeMap<String, Vec<ExternalPlugin>>,
    pub triggers: Vec<TriggerConfig>,
    pub owners: Option<Value>,
    pub approve: Option<Value>,
    pub blockades: Option<Value>,
    pub blunderbuss: Option<Value>,
    pub rifle: Option<Value>,
    pub bugzilla: Option<Value>,
    pub branch_cleaner: Option<Value>,
    pub cat: Option<Value>,
    pub cherry_pick_approved: Option<Value>,
    pub cherry_pick_unapproved: Option<Value>,
    pub config_updater: Option<Value>,
    pub dco: Option<Value>,
    pub golint: Option<Value>,
    pub goose: Option<Value>,
    pub heart: Option<Value>,
    pub label: Option<Value>,
    pub lgtm: Option<Value>,
    pub jira: Option<Value>,
    pub milestone_applier: Option<Value>,
    pub release_note: Option<Value>,
    pub repo_milestone: Option<Value>,
    pub project_config: Option<Value>,
    pub project_manager: Option<Value>,
    pub require_matching_label: Option<Value>,
    pub retitle: Option<Value>,
    pub slack: Option<Value>,
    pub sigmention: Option<Value>,
    pub size: Option<Value>,
    pub welcome: Option<Value>,
    #[serde(rename = "override")]
    pub override_: Option<Value>,
    pub help: Option<Value>,
    pub invalid_commit_msg: Option<Value>,
}

/// Plugins enabled for an org or repo: either a plain list or `{plugins, excluded_repos}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrgPlugins {
    List(Vec<String>),
    Detailed {
        #[serde(default)]
        plugins: Vec<String>,
        #[serde(default)]
        excluded_repos: Vec<String>,
    },
}

impl Default for OrgPlugins {
    fn default() -> Self {
        OrgPlugins::List(Vec::new())
    }
}

/// An external plugin endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalPlugin {
    pub name: String,
    pub endpoint: String,
    pub events: Vec<String>,
}

/// The trigger plugin's settings for a set of orgs/repos.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerConfig {
    pub repos: Vec<String>,
    pub trusted_apps: Vec<String>,
    pub trusted_org: String,
    pub join_org_url: String,
    pub only_org_members: bool,
    pub ignore_ok_to_test: bool,
    pub trigger_github_workflows: bool,
    pub org_invite: Option<Value>,
}

impl PluginsConfig {
    /// Plugins enabled for `org/repo` (org-level entries minus exclusions, plus repo-level ones).
    pub fn plugins_for(&self, org: &str, repo: &str) -> Vec<String> {
        let full = format!("{org}/{repo}");
        let mut out = Vec::new();
        if let Some(entry) = self.plugins.get(org) {
            match entry {
                OrgPlugins::List(list) => out.extend(list.iter().cloned()),
                OrgPlugins::Detailed {
                    plugins,
                    excluded_repos,
                } => {
                    if !excluded_repos.iter().any(|r| r == repo || *r == full) {
                        out.extend(plugins.iter().cloned());
                    }
                }
            }
        }
        if let Some(entry) = self.plugins.get(&full) {
            let list = match entry {
                OrgPlugins::List(list) => list,
                OrgPlugins::Detailed { plugins, .. } => plugins,
            };
            out.extend(list.iter().cloned());
        }
        out.sort();
        out.dedup();
        out
    }

    /// The trigger settings for `org/repo`: a repo entry wins over an org entry (Prow's TriggerFor).
    pub fn trigger_for(&self, org: &str, repo: &str) -> TriggerConfig {
        let full = format!("{org}/{repo}");
        self.triggers
            .iter()
            .find(|t| t.repos.contains(&full))
            .or_else(|| {
                self.triggers
                    .iter()
                    .find(|t| t.repos.iter().any(|r| r == org))
            })
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_and_triggers_resolve_per_repo() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "plugins:\n  acme:\n    plugins: [trigger, lgtm]\n    excluded_repos: [secret]\n  acme/foo: [hold]\n\
             triggers:\n- repos: [acme]\n  trusted_org: acme-friends\n- repos: [acme/foo]\n  only_org_members: true\n",
        )
        .expect("parses");
        assert_eq!(
            cfg.plugins_for("acme", "foo"),
            vec!["hold", "lgtm", "trigger"]
        );
        assert!(cfg.plugins_for("acme", "secret").is_empty());
        assert!(cfg.trigger_for("acme", "foo").only_org_members);
        assert_eq!(cfg.trigger_for("acme", "bar").trusted_org, "acme-friends");
        assert_eq!(cfg.trigger_for("other", "x"), TriggerConfig::default());
    }
}
