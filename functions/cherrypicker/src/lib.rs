//! prow-cherrypicker: Prow's cherrypicker external plugin as a function. `/cherrypick <branch>`
//! on a merged PR opens `[<branch>] <title>` against that branch; on an open PR it is recorded
//! (the comment itself is the record) and applied when the PR merges, as Prow does. Requesters
//! must be org members unless `--allow-all`.
//!
//! There is no clone: each commit of the PR is cherry-picked with GitHub's Git Data API (a
//! sibling commit with the branch's tree on the picked commit's parent, `POST /merges` of the
//! picked commit into it, then a commit of the merged tree on the branch head). Decisions and
//! texts live in [`decide`]; [`handle`] reads GitHub and does the picking.

pub mod decide;
pub mod handle;
pub mod metrics;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_github::GitHub;
use prow_runtime::LiveConfig;

pub use crate::handle::PickError;
pub use crate::metrics::Metrics;

/// GitHub's webhook payload limit, plus room for the CloudEvent headers.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// How cherrypicker behaves (Prow's flags of the same names).
#[derive(Debug, Clone)]
pub struct Options {
    /// Anyone may ask, not only org members.
    pub allow_all: bool,
    /// `/assign` the requester in the new PR's body.
    pub prow_assignments: bool,
    /// Labels added to every cherry-pick PR.
    pub labels: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_all: false,
            prow_assignments: true,
            labels: Vec::new(),
        }
    }
}

/// What the cherrypicker router works with; cheap to clone.
#[derive(Clone)]
pub struct CherrypickerState {
    /// plugins.yaml's `external_plugins` say where it runs; re-read when it changes.
    pub config: LiveConfig,
    pub github: Arc<dyn GitHub>,
    pub options: Arc<Options>,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for CherrypickerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CherrypickerState")
            .field("github", &self.github)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CherrypickerState {
    pub fn new(config: LiveConfig, github: Arc<dyn GitHub>, options: Options) -> Self {
        Self {
            config,
            github,
            options: Arc::new(options),
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// cherrypicker's settings, from flags or env (`prow serve cherrypicker`, the binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    /// plugins.yaml: `external_plugins` entries naming cherrypicker enable it.
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Let anyone request cherry-picks, not only org members.
    #[arg(long, env = "CHERRYPICK_ALLOW_ALL")]
    pub allow_all: bool,
    /// Do not `/assign` the requester in the new PR.
    #[arg(long, env = "CHERRYPICK_NO_ASSIGNMENTS")]
    pub no_prow_assignments: bool,
    /// Labels to add to every cherry-pick PR (repeatable).
    #[arg(long = "label", env = "CHERRYPICK_LABELS", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Read from GitHub but record branches, PRs and comments instead of making them.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why cherrypicker could not start.
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
    let options = Options {
        allow_all: flags.allow_all,
        prow_assignments: !flags.no_prow_assignments,
        labels: flags.labels,
    };
    Ok(router(CherrypickerState::new(config, github, options)))
}

/// `POST /` takes CloudEvents; `/healthz` and `/metrics` for the platform.
pub fn router(state: CherrypickerState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for CherrypickerState {
    type Error = PickError;

    fn event_label(event: &prow_events::Event) -> String {
        handle::event_label(event)
    }

    async fn handle(&self, event: &prow_events::Event) -> Result<(), PickError> {
        handle::handle_event(self, event).await
    }

    fn is_bad_request(error: &PickError) -> bool {
        error.is_bad_request()
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}
