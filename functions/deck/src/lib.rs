//! prow-deck: Prow's dashboard as a function: job history (`/`), `/prowjobs.js`, `/badge.svg`,
//! spyglass job pages (build log, JUnit, artifacts), `/log`, plugin and command help, and the
//! rerun/abort actions.
//!
//! Reads ProwJobs through one list+watch into an in-memory [`index::JobIndex`] (a request never
//! lists the API server) and artifacts through the `ArtifactStore` port. Identity comes from
//! deployment bearer tokens (`--auth-token-file`, `token user` lines) sent as
//! `Authorization: Bearer` or stored in a login cookie; cookie-borne requests need a CSRF token.

pub mod actions;
pub mod api;
pub mod auth;
pub mod badge;
pub mod filter;
pub mod glob;
pub mod help;
pub mod history;
pub mod index;
pub mod jobconfig;
pub mod lenses;
pub mod metrics;
pub mod pages;
pub mod slim;
pub mod spyglass;
pub mod summary;
pub mod tide;
pub mod views;
mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use prow_artifacts::ArtifactStore;
use prow_core::config::Config;
use prow_kube::{KubeOptions, ProwJobs};

use crate::auth::{Csrf, Tokens};
use crate::index::{FollowTask, JobIndex};

/// Presentation and policy knobs with defaults that suit a cluster deployment.
#[derive(Debug, Clone)]
pub struct DeckOptions {
    /// Rows per list page unless `?per_page=` asks otherwise.
    pub per_page: usize,
    /// Seconds between auto-refreshes of the list page (0 = off).
    pub refresh_seconds: u64,
    /// Show jobs with `hidden: true` and jobs of `deck.hidden_repos`.
    pub show_hidden: bool,
    /// How long a request waits for the first full list of ProwJobs after a cold start.
    pub sync_timeout: Duration,
    /// Namespace of test pods (where `/log` reads logs of undecorated jobs).
    pub pod_namespace: String,
}

impl Default for DeckOptions {
    fn default() -> Self {
        Self {
            per_page: 100,
            refresh_seconds: 30,
            show_hidden: false,
            sync_timeout: Duration::from_secs(20),
            pod_namespace: "default".into(),
        }
    }
}

/// Everything Deck's router needs; cheap to clone.
#[derive(Clone)]
pub struct DeckState {
    /// Prow config at start (read [`DeckState::config`] for the current one): rerun auth (`deck.*rerun_auth_configs`), hidden repos, plugins for help.
    pub config: Arc<Config>,
    /// ProwJobs in the ProwJob namespace: the source of truth for actions.
    pub prowjobs: ProwJobs,
    /// For pod logs of undecorated jobs.
    pub client: kube::Client,
    /// What pages read.
    pub index: JobIndex,
    /// Where build logs and artifacts are; `None` = pod logs only.
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
    pub tokens: Arc<Tokens>,
    pub csrf: Csrf,
    pub options: DeckOptions,
    pub metrics: Arc<metrics::Metrics>,
    /// When set, the config follows its files ([`DeckState::config`]) as trigger's does.
    pub live_config: Option<prow_runtime::LiveConfig>,
    _follow: Option<Arc<FollowTask>>,
}

impl std::fmt::Debug for DeckState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeckState")
            .field("prowjobs", &self.prowjobs)
            .field("indexed", &self.index.len())
            .field("artifacts", &self.artifacts)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DeckState {
    /// Builds the state and starts the ProwJob watch on the current Tokio runtime. `tokens` is
    /// `None` when no token file is configured: then only `allow_anyone` jobs can be acted on.
    pub fn new(
        config: Arc<Config>,
        client: kube::Client,
        namespace: &str,
        tokens: Option<Tokens>,
        artifacts: Option<Arc<dyn ArtifactStore>>,
        options: DeckOptions,
    ) -> Self {
        let prowjobs = ProwJobs::new(client.clone(), namespace);
        let index = JobIndex::new();
        let follow = index.spawn_follow(client.clone(), namespace);
        let csrf = tokens.as_ref().map_or_else(Csrf::random, Csrf::from_tokens);
        Self {
            config,
            prowjobs,
            client,
            index,
            artifacts,
            tokens: Arc::new(tokens.unwrap_or_default()),
            csrf,
            options,
            metrics: Arc::default(),
            live_config: None,
            _follow: Some(Arc::new(follow)),
        }
    }

    /// Follows `live` from now on: pages, lenses, rerun rules and help read the config of the
    /// moment, so a merged config change shows without restarting Deck.
    pub fn with_live_config(mut self, live: prow_runtime::LiveConfig) -> Self {
        self.config = live.current();
        self.live_config = Some(live);
        self
    }

    /// The config to act on now (re-read when its files changed, with a live config).
    pub fn config(&self) -> Arc<Config> {
        match &self.live_config {
            Some(live) => live.current(),
            None => self.config.clone(),
        }
    }
}

/// HTML pages, JSON endpoints, actions, `/healthz` and `/metrics`.
pub fn router(state: DeckState) -> Router {
    Router::new()
        .route("/", get(pages::list))
        .route("/view/{name}", get(pages::job))
        .route("/view/{name}/prowjob.json", get(api::prowjob_json))
        .route("/prowjob", get(pages::prowjob_link))
        .route("/view/gs/{*path}", get(pages::view_storage))
        .route("/view/s3/{*path}", get(pages::view_storage))
        .route("/stored/{*path}", get(pages::stored_artifact))
        .route("/artifact/{name}/{*path}", get(api::artifact))
        .route("/prowjobs.js", get(api::prowjobs_js))
        .route("/badge.svg", get(api::badge))
        .route("/log", get(api::log))
        .route("/plugin-help", get(api::plugin_help))
        .route("/command-help", get(pages::command_help))
        .route("/plugins", get(pages::plugins))
        .route("/config", get(pages::config_view))
        .route("/job-history/{*path}", get(history::job_history))
        .route("/tide", get(tide::tide))
        .route("/tide-history", get(tide::tide_history))
        .route("/pr", get(tide::pr))
        .route("/rerun", post(web::rerun))
        .route("/abort", post(web::abort))
        .route("/login", get(pages::login).post(web::login))
        .route("/logout", post(web::logout))
        .route("/static/deck.css", get(web::css))
        .route("/static/deck.js", get(web::js))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// Deck's flags; each also from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeOptions,
    /// Namespace of the ProwJobs (default: `prowjob_namespace` from the config).
    #[arg(long, env = "NAMESPACE")]
    pub namespace: Option<String>,
    /// `token user` per line: who may act (subject to rerun auth config).
    #[arg(long, env = "AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Local artifact directory laid out as `<dir>/<bucket>/<object>` (as `prow up` writes it).
    #[arg(long, env = "ARTIFACTS_DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// Credentials for reading jobs' buckets (GCS, S3).
    #[command(flatten)]
    pub storage: prow_artifacts::StoreArgs,
    #[arg(long, env = "SHOW_HIDDEN")]
    pub show_hidden: bool,
    /// Accepted for symmetry with the other functions: Deck changes nothing without a user action.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why deck could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    Kube(#[from] prow_kube::KubeError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Artifacts(#[from] prow_artifacts::ArtifactError),
}

/// Builds Deck from flags: loads the config, connects to the API server, starts the watch.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags.config.load_live(flags.plugin_config.clone())?;
    let config = live.current();
    let client = prow_kube::client(&flags.kube).await?;
    let namespace = flags
        .namespace
        .clone()
        .unwrap_or_else(|| non_empty_or(&config.prow.prowjob_namespace, "default"));
    let tokens = flags
        .auth_token_file
        .as_deref()
        .map(Tokens::load)
        .transpose()?;
    // Without a directory, credentials or an emulator, logs come from pods only.
    let storage = flags.storage.config(flags.artifacts_dir.clone());
    let artifacts = match storage.is_configured() {
        true => Some(Arc::new(prow_artifacts::Stores::new(storage)?) as Arc<dyn ArtifactStore>),
        false => None,
    };
    let options = DeckOptions {
        show_hidden: flags.show_hidden,
        pod_namespace: non_empty_or(&config.prow.pod_namespace, "default"),
        ..DeckOptions::default()
    };
    let state = DeckState::new(config, client, &namespace, tokens, artifacts, options)
        .with_live_config(live);
    Ok(router(state))
}

fn non_empty_or(value: &str, default: &str) -> String {
    if value.is_empty() { default } else { value }.to_owned()
}
