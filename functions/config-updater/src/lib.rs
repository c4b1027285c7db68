//! prow-config-updater: Prow's config-updater as a function. A PR merged into the config repo's
//! default branch (`dev.prow.github.pull_request`, `closed` + merged) writes the files it
//! changed into the ConfigMaps `config_updater.maps` names, and says so on the PR.
//!
//! It is its own function, not a plugin of `functions/plugins`, for least privilege: it is the
//! only one whose ServiceAccount may write ConfigMaps (the config every other function reads),
//! and it needs no other Kubernetes access. Decisions live in [`decide`]; [`handle`] reads the
//! PR's files through GitHub's contents API at the merge SHA (no clone) and writes the ConfigMaps.

pub mod decide;
pub mod handle;
pub mod metrics;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_github::GitHub;
use prow_kube::{BuildClusters, KubeOptions};
use prow_runtime::LiveConfig;

pub use crate::handle::UpdateError;
pub use crate::metrics::Metrics;
pub use crate::snapshot::SnapshotTarget;

/// GitHub's webhook payload limit, plus room for the CloudEvent headers.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// The plugin name `plugins:` enables per repo, as in Prow.
pub const PLUGIN_NAME: &str = "config-updater";

/// What the config-updater router works with; cheap to clone.
#[derive(Clone)]
pub struct ConfigUpdaterState {
    /// Prow config (the prowjob namespace and `config_updater`), re-read when it changes.
    pub config: LiveConfig,
    pub github: Arc<dyn GitHub>,
    /// Where ConfigMaps go, by the cluster alias a map names (`default` is this cluster).
    pub clusters: BuildClusters,
    /// Log the ConfigMap writes instead of making them.
    pub dry_run: bool,
    pub metrics: Arc<Metrics>,
    /// Where the compiled config goes when a merge touches it; `None`: never compiled.
    pub snapshot: Option<SnapshotTarget>,
}

impl std::fmt::Debug for ConfigUpdaterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigUpdaterState")
            .field("github", &self.github)
            .field("clusters", &self.clusters)
            .field("dry_run", &self.dry_run)
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

impl ConfigUpdaterState {
    pub fn new(config: LiveConfig, github: Arc<dyn GitHub>, clusters: BuildClusters) -> Self {
        Self {
            config,
            github,
            clusters,
            dry_run: false,
            metrics: Arc::new(Metrics::default()),
            snapshot: None,
        }
    }

    /// Compiles the config into `target` on merges that touch it.
    pub fn with_snapshot(mut self, target: SnapshotTarget) -> Self {
        self.snapshot = Some(target);
        self
    }
}

/// config-updater's settings, from flags or env (`prow serve config-updater`, the binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    /// plugins.yaml: where config-updater is enabled and its `config_updater` maps.
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeOptions,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Read from GitHub and Kubernetes but record comments and log ConfigMap writes.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
    #[command(flatten)]
    pub snapshot: SnapshotFlags,
}

/// Where the compiled config comes from and goes; the defaults are the manifests' (the
/// `prow-config` ConfigMap of config/kustomization.yaml, mounted at /etc/config) and this
/// repository's layout.
#[derive(Debug, Clone, clap::Args)]
pub struct SnapshotFlags {
    /// The ConfigMap every function mounts its config snapshot from; empty: never compile.
    #[arg(long, env = "SNAPSHOT_CONFIGMAP", default_value = "prow-config")]
    pub snapshot_configmap: String,
    /// Its namespace.
    #[arg(long, env = "SNAPSHOT_NAMESPACE", default_value = "prow")]
    pub snapshot_namespace: String,
    /// Its key: the file name CONFIG_PATH names under the mount.
    #[arg(long, env = "SNAPSHOT_KEY", default_value = "config.snapshot")]
    pub snapshot_key: String,
    /// Only merges into this org/repo compile the config; default: any repo with
    /// config-updater enabled.
    #[arg(long, env = "SNAPSHOT_REPO")]
    pub snapshot_repo: Option<String>,
    /// config.yaml's path in the config repository.
    #[arg(long, env = "REPO_CONFIG_PATH", default_value = "config/config.yaml")]
    pub repo_config_path: String,
    /// The job config directory in the config repository; empty: none.
    #[arg(long, env = "REPO_JOB_CONFIG_PATH", default_value = "config/jobs")]
    pub repo_job_config_path: String,
    /// plugins.yaml's path in the config repository; empty: none.
    #[arg(
        long,
        env = "REPO_PLUGIN_CONFIG_PATH",
        default_value = "config/plugins.yaml"
    )]
    pub repo_plugin_config_path: String,
}

impl SnapshotFlags {
    /// The target these flags name; `None` when compiling is switched off.
    pub fn target(&self) -> Option<SnapshotTarget> {
        let some = |s: &str| Some(s.trim_matches('/').to_owned()).filter(|s| !s.is_empty());
        (!self.snapshot_configmap.is_empty()).then(|| SnapshotTarget {
            repo: self.snapshot_repo.clone().filter(|r| !r.is_empty()),
            config_path: self.repo_config_path.trim_matches('/').to_owned(),
            job_config_path: some(&self.repo_job_config_path),
            plugin_config_path: some(&self.repo_plugin_config_path),
            configmap: decide::ConfigMapId {
                name: self.snapshot_configmap.clone(),
                namespace: self.snapshot_namespace.clone(),
                cluster: prow_core::config::DEFAULT_CLUSTER_ALIAS.to_owned(),
            },
            key: self.snapshot_key.clone(),
        })
    }
}

/// Why config-updater could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    Kube(#[from] prow_kube::KubeError),
    #[error(transparent)]
    GitHub(#[from] prow_github::GitHubError),
}

/// Builds the router from flags: loads the config, connects to Kubernetes and GitHub.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let config = flags.config.load_live(flags.plugin_config)?;
    let client = prow_kube::client(&flags.kube).await?;
    let clusters = BuildClusters::from_options(&flags.kube, client).await?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let mut state = ConfigUpdaterState::new(config, github, clusters);
    state.dry_run = flags.dry_run;
    state.snapshot = flags.snapshot.target();
    Ok(router(state))
}

/// `POST /` takes CloudEvents; `/healthz` and `/metrics` for the platform.
pub fn router(state: ConfigUpdaterState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for ConfigUpdaterState {
    type Error = UpdateError;

    fn event_label(event: &prow_events::Event) -> String {
        handle::event_label(event)
    }

    async fn handle(&self, event: &prow_events::Event) -> Result<(), UpdateError> {
        handle::handle_event(self, event).await
    }

    fn is_bad_request(error: &UpdateError) -> bool {
        error.is_bad_request()
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}
