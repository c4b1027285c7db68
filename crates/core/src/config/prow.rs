//! `config.yaml`: the component settings Prow's users rely on (plank, sinker, horologium, deck,
//! github_reporter) typed; every other documented section kept as raw YAML so it is known, not
//! reported as unknown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_norway::Value;

use super::branch_protection::BranchProtection;
use super::inrepo::InRepoConfig;
use super::tide::Tide;
use crate::prowjob::{DecorationConfig, ProwJobDefault, RerunAuthConfig};

/// The non-job part of `config.yaml` (Prow's ProwConfig).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProwConfig {
    pub plank: Plank,
    pub sinker: Sinker,
    pub horologium: Horologium,
    pub deck: Deck,
    pub github_reporter: GitHubReporter,
    /// Namespace ProwJobs live in (`default` unless configured).
    pub prowjob_namespace: String,
    /// Namespace test pods run in (`default` unless configured).
    pub pod_namespace: String,
    pub log_level: String,
    pub default_job_timeout: Option<String>,
    /// Whether `.prow.yaml` / `.prow/` jobs are read, and the clusters they may use.
    pub in_repo_config: InRepoConfig,
    /// Every job is decorated unless it says `decorate: false`; kept because in-repo jobs are
    /// defaulted after the central config was loaded.
    pub decorate_all_jobs: bool,
    /// Tide's merge pools: queries, merge methods, context policy (`functions/tide`).
    pub tide: Tide,
    /// branchprotector's policies (`functions/branchprotector`).
    #[serde(rename = "branch-protection")]
    pub branch_protection: BranchProtection,
    // Sections prow-rs does not act on yet; typed as raw YAML so they are accepted, not flagged.
    pub gerrit: Option<Value>,
    pub slack_reporter_configs: Option<Value>,
    pub gangway: Option<Value>,
    pub moonraker: Option<Value>,
    pub scheduler: Option<Value>,
    pub jenkins_operators: Option<Value>,
    pub push_gateway: Option<Value>,
    pub owners_dir_denylist: Option<Value>,
    pub pubsub_subscriptions: Option<Value>,
    pub pubsub_triggers: Option<Value>,
    pub github: Option<Value>,
    pub status_error_link: Option<Value>,
    pub managed_webhooks: Option<Value>,
    pub disabled_clusters: Option<Value>,
    /// Defaults for jobs' `prowjob_defaults` (ResultStore project, tenant), by repo and cluster.
    pub prowjob_default_entries: Vec<ProwJobDefaultEntry>,
    pub config_version_sha: Option<Value>,
    pub pipeline: Option<Value>,
}

/// plank: the job runner's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plank {
    /// Cap on pending jobs across the whole system; 0 = unlimited.
    pub max_concurrency: u32,
    pub max_revivals: Option<u32>,
    pub pod_pending_timeout: Option<String>,
    pub pod_running_timeout: Option<String>,
    pub pod_unscheduled_timeout: Option<String>,
    pub job_url_template: Option<String>,
    pub job_url_prefix_config: BTreeMap<String, String>,
    pub report_template: Option<String>,
    pub report_templates: BTreeMap<String, String>,
    pub job_queue_capacities: BTreeMap<String, i64>,
    /// Legacy map form `{"*"|org|org/repo: DecorationConfig}`.
    pub default_decoration_configs: BTreeMap<String, DecorationConfig>,
    pub default_decoration_config_entries: Vec<DefaultDecorationConfigEntry>,
    pub build_cluster_status_file: Option<String>,
}

/// One `default_decoration_config_entries` item: applies to jobs of `repo` (`*`, org or org/repo)
/// on `cluster` (empty or `*` = any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefaultDecorationConfigEntry {
    pub repo: String,
    pub cluster: String,
    pub config: DecorationConfig,
}

impl DefaultDecorationConfigEntry {
    /// Prow's `matches`: repo `*`/empty matches all, `org` matches its repos, `org/repo` exactly.
    pub fn matches(&self, repo: &str, cluster: &str) -> bool {
        entry_matches(&self.repo, &self.cluster, repo, cluster)
    }
}

/// Prow's `matches` for the `*_entries` lists: the entry's repo (`*`/empty, `org` or
/// `org/repo`) and cluster (`*`/empty or an alias) against a job's.
fn entry_matches(entry_repo: &str, entry_cluster: &str, repo: &str, cluster: &str) -> bool {
    let repo_ok = match entry_repo {
        "" | "*" => true,
        r if r.contains('/') => r == repo,
        org => repo.split('/').next() == Some(org),
    };
    let cluster_ok = matches!(entry_cluster, "" | "*") || entry_cluster == cluster;
    repo_ok && cluster_ok
}

impl Plank {
    /// The entries in application order: legacy map entries (`*`, then orgs, then repos), then the list.
    pub fn decoration_entries(&self) -> Vec<DefaultDecorationConfigEntry> {
        let legacy = &self.default_decoration_configs;
        let star = legacy.get("*").map(|c| ("*", c));
        let orgs = legacy.iter().filter(|(k, _)| *k != "*" && !k.contains('/'));
        let repos = legacy.iter().filter(|(k, _)| k.contains('/'));
        star.into_iter()
            .chain(orgs.chain(repos).map(|(k, c)| (k.as_str(), c)))
            .map(|(repo, config)| DefaultDecorationConfigEntry {
                repo: repo.to_string(),
                cluster: String::new(),
                config: config.clone(),
            })
            .chain(self.default_decoration_config_entries.iter().cloned())
            .collect()
    }
}

/// The tenant Prow gives jobs whose `prowjob_defaults` name none (Deck shows them by default).
pub const DEFAULT_TENANT_ID: &str = "GlobalDefaultID";

/// One `prowjob_default_entries` item: `config` applies to jobs of `repo` (`*`, org or
/// org/repo; a periodic's is its first extra_ref) on `cluster` (empty or `*` = any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProwJobDefaultEntry {
    pub repo: String,
    pub cluster: String,
    pub config: ProwJobDefault,
}

impl ProwConfig {
    /// Prow's `mergeProwJobDefault`: the matching entries in order (later ones win), then the
    /// job's own `prowjob_defaults` over them, and the default tenant when none is named.
    pub fn merged_prowjob_default(
        &self,
        repo: &str,
        cluster: &str,
        job: Option<&ProwJobDefault>,
    ) -> ProwJobDefault {
        let general = self
            .prowjob_default_entries
            .iter()
            .filter(|e| entry_matches(&e.repo, &e.cluster, repo, cluster))
            .fold(ProwJobDefault::default(), |acc, e| {
                e.config.apply_default(&acc)
            });
        let mut merged = match job {
            Some(own) => own.apply_default(&general),
            None => general,
        };
        if merged.tenant_id.is_empty() {
            merged.tenant_id = DEFAULT_TENANT_ID.to_owned();
        }
        merged
    }
}

/// sinker: garbage collection of old ProwJobs and pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sinker {
    pub resync_period: Option<String>,
    pub max_prowjob_age: Option<String>,
    pub max_pod_age: Option<String>,
    pub terminated_pod_ttl: Option<String>,
    pub exclude_clusters: Vec<String>,
}

/// horologium: periodic job creation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Horologium {
    pub tick_interval: Option<String>,
}

/// deck: the dashboard; rerun/abort permissions are typed, the rest kept raw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deck {
    pub rerun_auth_configs: BTreeMap<String, RerunAuthConfig>,
    pub default_rerun_auth_configs: Vec<DefaultRerunAuthConfigEntry>,
    pub hidden_repos: Vec<String>,
    pub spyglass: Option<Value>,
    pub tide_update_period: Option<Value>,
    pub google_analytics: Option<Value>,
    pub branding: Option<Value>,
    pub external_agent_logs: Option<Value>,
    pub skip_storage_path_validation: Option<Value>,
    pub additional_allowed_buckets: Option<Value>,
}

/// One `deck.default_rerun_auth_configs` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefaultRerunAuthConfigEntry {
    pub repo: String,
    pub cluster: String,
    pub rerun_auth_config: RerunAuthConfig,
}

/// crier's GitHub reporter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GitHubReporter {
    pub job_types_to_report: Vec<String>,
    pub no_comment_repos: Vec<String>,
    pub summary_comment_repos: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prowjob::ResultStoreConfig;

    /// Prow's `mergeProwJobDefault`: entries by repo and cluster in order, the job's own
    /// fields over them, `GlobalDefaultID` when no tenant is named.
    #[test]
    fn prowjob_defaults_merge_entries_then_the_job_like_prow() {
        let entry = |repo: &str, cluster: &str, tenant: &str, project: &str| ProwJobDefaultEntry {
            repo: repo.into(),
            cluster: cluster.into(),
            config: ProwJobDefault {
                tenant_id: tenant.into(),
                resultstore_config: (!project.is_empty()).then(|| ResultStoreConfig {
                    project_id: project.into(),
                }),
            },
        };
        let config = ProwConfig {
            prowjob_default_entries: vec![
                entry("*", "", "", "everyone"),
                entry("acme", "", "acme-tenant", ""),
                entry("acme/foo", "gpu", "foo-gpu", ""),
            ],
            ..ProwConfig::default()
        };
        let merged = |repo: &str, cluster: &str, own: Option<&ProwJobDefault>| {
            let m = config.merged_prowjob_default(repo, cluster, own);
            let project = m
                .resultstore_config
                .map(|r| r.project_id)
                .unwrap_or_default();
            (m.tenant_id, project)
        };
        let table = [
            ("other/x", "default", None, ("GlobalDefaultID", "everyone")),
            ("acme/bar", "default", None, ("acme-tenant", "everyone")),
            ("acme/foo", "default", None, ("acme-tenant", "everyone")),
            ("acme/foo", "gpu", None, ("foo-gpu", "everyone")),
            ("", "default", None, ("GlobalDefaultID", "everyone")),
        ];
        for (repo, cluster, own, (tenant, project)) in table {
            assert_eq!(
                merged(repo, cluster, own),
                (tenant.to_owned(), project.to_owned()),
                "{repo} on {cluster}"
            );
        }
        let own = ProwJobDefault {
            tenant_id: "mine".into(),
            ..ProwJobDefault::default()
        };
        assert_eq!(
            merged("acme/foo", "gpu", Some(&own)),
            ("mine".to_owned(), "everyone".to_owned())
        );
    }
}
