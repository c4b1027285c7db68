//! prow-tide: Prow's tide driven by events. GitHub events (pull requests, labels, reviews,
//! statuses, check runs, pushes) and ProwJob changes update a durable per-repository merge-pool
//! index (a ConfigMap, [`store`]); each update re-decides that repository's pools ([`decide`],
//! pure) and acts: the `tide` status on each PR, serial retests and batch ProwJobs, merges
//! with the expected head SHA, history. A PingSource tick re-reads GitHub as a safety net.

pub mod decide;
pub mod index;
pub mod metrics;
pub mod observe;
pub mod shell;
pub mod store;
pub mod template;

pub use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use prow_core::config::Config;
use prow_github::GitHub;
use prow_kube::{KubeOptions, ProwJobs};

pub use prow_core::clock::Clock;
pub use shell::TideError;
pub use store::IndexStore;

/// Webhook payloads and ProwJobs fit well within this.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// What the tide router works with; cheap to clone.
#[derive(Clone)]
pub struct TideState {
    /// Prow config: `tide:` and the presubmits.
    pub config: Arc<Config>,
    /// ProwJobs in `config.prow.prowjob_namespace`.
    pub prowjobs: ProwJobs,
    /// The merge-pool indexes.
    pub store: IndexStore,
    pub github: Arc<dyn GitHub>,
    pub clock: Clock,
    /// Deck's public URL, for the `tide` status link when the config names none.
    pub deck_url: String,
    /// First pause before retrying a merge GitHub refused with "Base branch was modified"
    /// (doubling), and between merges of a batch.
    pub merge_backoff: Duration,
    pub metrics: Arc<Metrics>,
    /// Repositories synced (decided, statuses written, merged) at once by this instance:
    /// `tide.max_goroutines`, as Prow bounds its parallel pool syncs.
    pub syncs: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for TideState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TideState")
            .field("github", &self.github)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl TideState {
    /// ProwJobs and indexes in `config.prow.prowjob_namespace`; system clock; Prow's backoff.
    pub fn new(config: Arc<Config>, client: kube::Client, github: Arc<dyn GitHub>) -> Self {
        let ns = match config.prow.prowjob_namespace.as_str() {
            "" => "default".to_owned(),
            ns => ns.to_owned(),
        };
        Self {
            prowjobs: ProwJobs::new(client.clone(), &ns),
            store: IndexStore::kube(client, &ns),
            github,
            clock: Clock::system(),
            deck_url: String::new(),
            merge_backoff: shell::DEFAULT_MERGE_BACKOFF,
            metrics: Arc::new(Metrics::default()),
            syncs: Arc::new(tokio::sync::Semaphore::new(max_syncs(&config.prow.tide))),
            config,
        }
    }

    /// How many repositories sync at once (see [`TideState::syncs`]).
    pub fn max_syncs(&self) -> usize {
        max_syncs(&self.config.prow.tide)
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_deck_url(mut self, url: impl Into<String>) -> Self {
        self.deck_url = url.into();
        self
    }

    pub fn with_merge_backoff(mut self, backoff: Duration) -> Self {
        self.merge_backoff = backoff;
        self
    }

    pub fn with_store(mut self, store: IndexStore) -> Self {
        self.store = store;
        self
    }
}

/// Prow's default for an unset `tide.max_goroutines`; a negative one (which Prow refuses to load)
/// gets it too.
const DEFAULT_MAX_GOROUTINES: usize = 20;

fn max_syncs(tide: &prow_core::config::tide::Tide) -> usize {
    usize::try_from(tide.max_goroutines)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_GOROUTINES)
}

/// tide's settings, from flags or env (`prow serve tide`, the `prow-tide` binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[command(flatten)]
    pub kube: KubeOptions,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Deck's public URL: the `tide` status links to its `/tide` page unless
    /// `tide.target_url(s)` or `tide.pr_status_base_url(s)` say otherwise.
    #[arg(long = "deck-url", env = "DECK_URL", default_value = "")]
    pub deck_url: String,
    /// Read from GitHub but record statuses and merges instead of sending them.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why tide could not start.
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
    let config = flags.config.load()?;
    let client = prow_kube::client(&flags.kube).await?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    Ok(router(
        TideState::new(Arc::new(config), client, github).with_deck_url(flags.deck_url),
    ))
}

/// `POST /` takes CloudEvents (GitHub events, ProwJob changes, the resync ping); `/healthz`
/// and `/metrics` for the platform.
pub fn router(state: TideState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for TideState {
    type Error = TideError;

    fn event_label(event: &prow_events::Event) -> String {
        shell::event_type(event)
    }

    async fn handle(&self, event: &prow_events::Event) -> Result<(), TideError> {
        shell::handle_event(self, event).await
    }

    fn is_bad_request(error: &TideError) -> bool {
        error.is_bad_request()
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}
