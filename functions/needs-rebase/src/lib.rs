//! prow-needs-rebase: Prow's needs-rebase external plugin as a function. PRs GitHub says do
//! not merge cleanly (`mergeable == false`) get the `needs-rebase` label and one comment; when
//! they merge cleanly again the label and our comment go. Checked on `pull_request` opened,
//! reopened and synchronize, on a push to a branch (its open PRs), and on the `needs-rebase`
//! PingSource tick (every open PR of the enabled repos, a bounded slice per tick).
//!
//! GitHub computes mergeability lazily: `mergeable == null` means "ask again later". An event
//! then answers 503 so the broker redelivers it with backoff; a tick leaves the PR to the next.
//! Decisions live in [`decide`]; [`handle`] reads GitHub and applies them.

pub mod decide;
pub mod handle;
pub mod metrics;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_github::GitHub;
use prow_runtime::LiveConfig;

pub use crate::handle::RebaseError;
pub use crate::metrics::Metrics;

/// GitHub's webhook payload limit, plus room for the CloudEvent headers.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// PRs one tick or one push checks at most by default: each is one GitHub call.
pub const DEFAULT_BUDGET: usize = 100;

/// What the needs-rebase router works with; cheap to clone.
#[derive(Clone)]
pub struct NeedsRebaseState {
    /// plugins.yaml's `external_plugins` say where it runs; re-read when it changes.
    pub config: LiveConfig,
    pub github: Arc<dyn GitHub>,
    /// PRs one tick or push checks at most.
    pub budget: usize,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for NeedsRebaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeedsRebaseState")
            .field("github", &self.github)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl NeedsRebaseState {
    pub fn new(config: LiveConfig, github: Arc<dyn GitHub>) -> Self {
        Self {
            config,
            github,
            budget: DEFAULT_BUDGET,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// needs-rebase's settings, from flags or env (`prow serve needs-rebase`, the binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    /// plugins.yaml: `external_plugins` entries naming needs-rebase enable it.
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// PRs one tick (or one push) checks at most; successive ticks go on where it stopped.
    #[arg(long, env = "NEEDS_REBASE_BUDGET", default_value_t = DEFAULT_BUDGET)]
    pub budget: usize,
    /// Read from GitHub but record labels and comments instead of sending them.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why needs-rebase could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    GitHub(#[from] prow_github::GitHubError),
}

/// Builds the router from flags: loads the config and connects to GitHub.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let config = flags.config.load_live(flags.plugin_config)?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let mut state = NeedsRebaseState::new(config, github);
    state.budget = flags.budget;
    Ok(router(state))
}

/// `POST /` takes CloudEvents (GitHub events and ticks); `/healthz` and `/metrics`.
pub fn router(state: NeedsRebaseState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for NeedsRebaseState {
    type Error = RebaseError;

    fn event_label(event: &prow_events::Event) -> String {
        handle::event_label(event)
    }

    async fn handle(&self, event: &prow_events::Event) -> Result<(), RebaseError> {
        handle::handle_event(self, event).await
    }

    fn is_bad_request(error: &RebaseError) -> bool {
        error.is_bad_request()
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}
