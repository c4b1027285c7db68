//! prow-trigger: GitHub events (CloudEvents `dev.prow.github.{pull_request,issue_comment,push}`) in, ProwJobs out, as Prow's trigger plugin.
//!
//! Decisions live in [`decide`] as pure functions; [`handle`] gathers the GitHub facts they
//! need and applies their actions. A ProwJob's name derives from the delivery id and the job
//! name, so a redelivered event creates nothing new. Any GitHub or Kubernetes failure answers
//! 5xx so the broker redelivers; a delivery that is done answers 200 with an empty body.

pub mod decide;
pub mod explain;
pub mod handle;
pub mod in_repo;
pub mod messages;
pub mod metrics;
pub mod payload;
pub mod trust;

pub use crate::metrics::Metrics;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_core::config::Config;
use prow_github::GitHub;
use prow_kube::{KubeOptions, ProwJobs};

pub use handle::TriggerError;

/// GitHub's webhook payload limit, plus room for the CloudEvent headers.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// The current time; replaceable so tests get stable `startTime`s.
pub use prow_core::clock::Clock;

/// What the trigger router works with; cheap to clone.
#[derive(Clone)]
pub struct TriggerState {
    /// Prow config with jobs and plugins (trigger settings per repo).
    pub config: Arc<Config>,
    /// ProwJobs in `config.prow.prowjob_namespace`.
    pub prowjobs: ProwJobs,
    pub github: Arc<dyn GitHub>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// When set, each event is handled with this source's config of the moment instead of
    /// `config`, so a merged config change goes live without a restart.
    pub live_config: Option<prow_runtime::LiveConfig>,
    /// In-repo config files read per commit, shared by the events of this instance.
    pub in_repo: Arc<in_repo::InRepoCache>,
}

impl std::fmt::Debug for TriggerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerState")
            .field("github", &self.github)
            .finish_non_exhaustive()
    }
}

impl TriggerState {
    /// ProwJobs go to `config.prow.prowjob_namespace`; time is the system clock.
    pub fn new(config: Arc<Config>, client: kube::Client, github: Arc<dyn GitHub>) -> Self {
        let prowjobs = ProwJobs::new(client, &config.prow.prowjob_namespace);
        Self {
            config,
            prowjobs,
            github,
            clock: Clock::system(),
            metrics: Arc::new(Metrics::default()),
            live_config: None,
            in_repo: Arc::default(),
        }
    }

    /// Follows `live` from now on (see [`TriggerState::live_config`]).
    pub fn with_live_config(mut self, live: prow_runtime::LiveConfig) -> Self {
        self.config = live.current();
        self.live_config = Some(live);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// trigger's settings, from flags or env (`prow serve trigger`, the `prow-trigger` binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    /// plugins.yaml: the repos trigger is enabled for (`plugins:`) and its trust settings.
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeOptions,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Read from GitHub but record labels and comments instead of sending them.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why trigger could not start.
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
    let live = flags.config.load_live(flags.plugin_config)?;
    let client = prow_kube::client(&flags.kube).await?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    Ok(router(
        TriggerState::new(live.current(), client, github).with_live_config(live),
    ))
}

/// `POST /` takes CloudEvents; `/healthz` and `/metrics` for the platform.
pub fn router(state: TriggerState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for TriggerState {
    type Error = TriggerError;

    fn event_label(event: &prow_events::Event) -> String {
        handle::event_type(event)
    }

    async fn handle(&self, event: &prow_events::Event) -> Result<(), TriggerError> {
        match &self.live_config {
            Some(live) => {
                let state = TriggerState {
                    config: live.current(),
                    ..self.clone()
                };
                handle::handle_event(&state, event).await
            }
            None => handle::handle_event(self, event).await,
        }
    }

    fn is_bad_request(error: &TriggerError) -> bool {
        error.is_bad_request()
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}
