//! The function's edge: flags, state, and the CloudEvent router.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_core::config::Config;
use prow_events::cloudevents::{AttributesReader, Event as CloudEvent};
use prow_github::GitHub;

use crate::github::{NoProwJobs, OwnersPort, ProwJobPort};
use crate::metrics::Metrics;
use crate::shell::{self, PluginsError, kind_of};

/// GitHub's webhook payload limit, plus room for the CloudEvent headers.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// What the plugins router works with; cheap to clone.
#[derive(Debug, Clone)]
pub struct PluginsState {
    /// Prow config with plugins.yaml: which plugins run where, and their settings. Read once
    /// per event, so a merged config change applies from the next event on.
    pub config: prow_runtime::LiveConfig,
    pub github: Arc<dyn GitHub>,
    pub owners: Arc<Owners>,
    /// Where override's ProwJobs are created.
    pub jobs: Arc<dyn ProwJobPort>,
    pub metrics: Arc<Metrics>,
}

/// OWNERS through GitHub, cached by commit.
#[derive(Debug)]
pub struct Owners {
    loader: prow_owners::OwnersLoader<Arc<dyn GitHub>>,
    config: prow_runtime::LiveConfig,
}

/// Commits whose OWNERS stay cached in one instance.
const OWNERS_CACHE: usize = 64;

#[async_trait::async_trait]
impl OwnersPort for Owners {
    async fn reviewers_of(
        &self,
        org: &str,
        repo: &str,
        base_sha: &str,
        files: &[String],
    ) -> Result<Vec<String>, String> {
        let options = self.options(org, repo)?;
        let owners = self
            .loader
            .load(org, repo, base_sha, &options)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = std::collections::BTreeSet::new();
        for file in files {
            out.extend(owners.approvers(file).all());
            out.extend(owners.reviewers(file).all());
        }
        Ok(out.into_iter().map(|l| l.to_lowercase()).collect())
    }

    async fn repo_owners(
        &self,
        org: &str,
        repo: &str,
        base_sha: &str,
    ) -> Result<Arc<prow_owners::RepoOwners>, String> {
        let options = self.options(org, repo)?;
        let skip = self.config.current().plugins.skip_collaborators(org, repo);
        self.loader
            .load_for_plugins(org, repo, base_sha, &options, skip)
            .await
            .map_err(|e| e.to_string())
    }
}

impl Owners {
    fn options(&self, org: &str, repo: &str) -> Result<prow_owners::BuildOptions, String> {
        let config = self.config.current();
        let denylist =
            prow_owners::OwnersDirDenylist::from_config(config.prow.owners_dir_denylist.as_ref())
                .map_err(|e| e.to_string())?;
        prow_owners::BuildOptions::for_repo(&config.plugins.owners, &denylist, org, repo)
            .map_err(|e| e.to_string())
    }
}

impl PluginsState {
    /// A state acting on a config that never changes, creating no ProwJobs (see
    /// [`PluginsState::with_live_config`] and [`PluginsState::with_prowjobs`]).
    pub fn new(config: Arc<Config>, github: Arc<dyn GitHub>) -> Self {
        let config = prow_runtime::LiveConfig::fixed(config);
        Self {
            owners: Arc::new(Owners {
                loader: prow_owners::OwnersLoader::new(github.clone(), OWNERS_CACHE),
                config: config.clone(),
            }),
            config,
            github,
            jobs: Arc::new(NoProwJobs),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Follows `live` from now on: each event is handled with its config of the moment.
    pub fn with_live_config(mut self, live: prow_runtime::LiveConfig) -> Self {
        self.owners = Arc::new(Owners {
            loader: prow_owners::OwnersLoader::new(self.github.clone(), OWNERS_CACHE),
            config: live.clone(),
        });
        self.config = live;
        self
    }

    /// Creates override's ProwJobs through `jobs`.
    pub fn with_prowjobs(mut self, jobs: Arc<dyn ProwJobPort>) -> Self {
        self.jobs = jobs;
        self
    }
}

/// The plugins function's settings, from flags or env (`prow serve plugins`, the `plugins` binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    /// plugins.yaml: which plugins are enabled where, and their settings.
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Where override creates ProwJobs (in `prowjob_namespace`).
    #[command(flatten)]
    pub kube: prow_kube::KubeOptions,
    /// Read from GitHub but record labels, comments and assignments instead of sending them.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why the plugins function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    GitHub(#[from] prow_github::GitHubError),
}

/// Builds the router from flags: loads the config (followed as it changes), connects to
/// GitHub and to Kubernetes. Without a Kubernetes API the function still runs every plugin;
/// only an override of a job's context fails (and is retried) for want of its ProwJob.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags.config.load_live(flags.plugin_config)?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let namespace = live.current().prow.prowjob_namespace.clone();
    let state = PluginsState::new(live.current(), github).with_live_config(live);
    let state = match prow_kube::client(&flags.kube).await {
        Ok(client) => state.with_prowjobs(Arc::new(prow_kube::ProwJobs::new(client, &namespace))),
        Err(err) => {
            tracing::warn!(error = %err, "no Kubernetes API: override cannot create ProwJobs");
            state
        }
    };
    Ok(router(state))
}

/// `POST /` takes CloudEvents; `/healthz` and `/metrics` for the platform.
pub fn router(state: PluginsState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for PluginsState {
    type Error = PluginsError;

    fn event_label(event: &CloudEvent) -> String {
        kind_of(event.ty()).map_or_else(|| "other".to_owned(), |k| k.event_name().to_owned())
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), PluginsError> {
        shell::handle(
            self.github.as_ref(),
            self.owners.as_ref(),
            self.jobs.as_ref(),
            &self.config.current(),
            event,
        )
        .await
    }

    fn is_bad_request(error: &PluginsError) -> bool {
        error.is_bad_request()
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}
