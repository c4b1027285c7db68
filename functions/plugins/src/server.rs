//! The function's edge: flags, state, and the CloudEvent router.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_core::config::Config;
use prow_events::cloudevents::{AttributesReader, Event as CloudEvent};
use prow_github::GitHub;

use crate::github::OwnersPort;
use crate::metrics::Metrics;
use crate::shell::{self, PluginsError, kind_of};

/// GitHub's webhook payload limit, plus room for the CloudEvent headers.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// What the plugins router works with; cheap to clone.
#[derive(Debug, Clone)]
pub struct PluginsState {
    /// Prow config with plugins.yaml: which plugins run where, and their settings.
    pub config: Arc<Config>,
    pub github: Arc<dyn GitHub>,
    pub owners: Arc<Owners>,
    pub metrics: Arc<Metrics>,
}

/// OWNERS through GitHub, cached by commit.
#[derive(Debug)]
pub struct Owners {
    loader: prow_owners::OwnersLoader<Arc<dyn GitHub>>,
    config: Arc<Config>,
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
        let skip = self.config.plugins.skip_collaborators(org, repo);
        self.loader
            .load_for_plugins(org, repo, base_sha, &options, skip)
            .await
            .map_err(|e| e.to_string())
    }
}

impl Owners {
    fn options(&self, org: &str, repo: &str) -> Result<prow_owners::BuildOptions, String> {
        let denylist = prow_owners::OwnersDirDenylist::from_config(
            self.config.prow.owners_dir_denylist.as_ref(),
        )
        .map_err(|e| e.to_string())?;
        prow_owners::BuildOptions::for_repo(&self.config.plugins.owners, &denylist, org, repo)
            .map_err(|e| e.to_string())
    }
}

impl PluginsState {
    pub fn new(config: Arc<Config>, github: Arc<dyn GitHub>) -> Self {
        Self {
            owners: Arc::new(Owners {
                loader: prow_owners::OwnersLoader::new(github.clone(), OWNERS_CACHE),
                config: config.clone(),
            }),
            config,
            github,
            metrics: Arc::new(Metrics::default()),
        }
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

/// Builds the router from flags: loads the config and connects to GitHub.
pub fn app(flags: Flags) -> Result<Router, StartError> {
    let config = flags.config.load_with_plugins(flags.plugin_config)?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    Ok(router(PluginsState::new(Arc::new(config), github)))
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
            &self.config,
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
