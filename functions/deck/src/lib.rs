//! prow-deck: Prow's dashboard as a function: job history (`/`), `/prowjobs.js`, `/badge.svg`,
//! spyglass job pages (build log, JUnit, artifacts), `/log`, plugin and command help, and the
//! rerun/abort actions.
//!
//! Reads ProwJobs through one list+watch into an in-memory [`index::JobIndex`] (a request never
//! lists the API server) and artifacts through the `ArtifactStore` port. Identity comes from
//! deployment bearer tokens (`--auth-token-file`, `token user` lines) sent as
//! `Authorization: Bearer` or stored in a login cookie, or from a GitHub login ([`oauth`]);
//! cookie-borne requests need a CSRF token. Org/team rerun rules ask GitHub ([`membership`]).

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
pub mod membership;
pub mod metrics;
pub mod oauth;
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
    /// Whether a user trigger trusts on a presubmit's repo may rerun or abort it (Prow's Deck
    /// does when it has a plugin config: who may `/test` a PR may rerun its jobs).
    pub trigger_trust: bool,
}

impl Default for DeckOptions {
    fn default() -> Self {
        Self {
            per_page: 100,
            refresh_seconds: 30,
            show_hidden: false,
            sync_timeout: Duration::from_secs(20),
            pod_namespace: "default".into(),
            trigger_trust: false,
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
    /// GitHub login (`--github-oauth-config-file`); `None`: tokens only.
    pub oauth: Option<Arc<oauth::GitHubOAuth>>,
    /// Org/team lookups for rerun auth; `None` (no GitHub credentials): memberships count as
    /// not held, as in Prow without a token.
    pub memberships: Option<Arc<membership::Memberships>>,
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
            oauth: None,
            memberships: None,
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

    /// Offers GitHub login; CSRF tokens are then keyed by the cookie secret.
    pub fn with_github_oauth(mut self, oauth: oauth::GitHubOAuth) -> Self {
        self.csrf = oauth.csrf();
        self.oauth = Some(Arc::new(oauth));
        self
    }

    /// Checks `github_orgs`/`github_team_*` of rerun auth configs through `memberships`.
    pub fn with_memberships(mut self, memberships: membership::Memberships) -> Self {
        self.memberships = Some(Arc::new(memberships));
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
        .route("/github-login", get(oauth::github_login))
        .route("/github-login/redirect", get(oauth::github_redirect))
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
    /// Prow's switch for GitHub login (e.g. `/github-login`); needs the two files below.
    #[arg(long, env = "OAUTH_URL")]
    pub oauth_url: Option<String>,
    /// Prow's GitHub OAuth app config: client_id, client_secret, redirect_url, scopes.
    #[arg(long, env = "GITHUB_OAUTH_CONFIG_FILE")]
    pub github_oauth_config_file: Option<PathBuf>,
    /// Base64 of at least 32 random bytes: signs login cookies and CSRF tokens.
    #[arg(long, env = "COOKIE_SECRET")]
    pub cookie_secret: Option<PathBuf>,
    /// Where GitHub's OAuth pages are (`github.com`, a GitHub Enterprise host, or a URL).
    #[arg(long, env = "GITHUB_HOST", default_value = "github.com")]
    pub github_host: String,
    /// Deck's own GitHub credentials, for org/team checks of rerun auth (`--github-endpoint`
    /// may name ghproxy).
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
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
    #[error(transparent)]
    OAuth(#[from] oauth::OAuthSetupError),
    #[error(transparent)]
    GitHub(#[from] prow_github::GitHubError),
}

/// Builds Deck from flags: loads the config, connects to the API server, starts the watch.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags.config.load_live(flags.plugin_config.clone())?;
    let config = live.current();
    // A broken login setup stops Deck before it connects anywhere.
    let github_oauth = github_oauth(&flags)?;
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
        trigger_trust: flags.plugin_config.is_some(),
        ..DeckOptions::default()
    };
    let mut state = DeckState::new(config, client, &namespace, tokens, artifacts, options)
        .with_live_config(live);
    if let Some(oauth) = github_oauth {
        state = state.with_github_oauth(oauth);
    } else if let Some(path) = &flags.cookie_secret {
        // Prow keys CSRF with the cookie secret too: replicas then accept each other's forms.
        let secret = oauth::load_cookie_secret(path)?;
        state.csrf = auth::Csrf::new(oauth::derive_key(&secret, "csrf"));
    }
    let github = &flags.github;
    if github.github_token_path.is_some() || github.github_app_id.is_some() {
        let client = prow_github::connect(&github.settings(true))?;
        state = state.with_memberships(membership::Memberships::new(
            client,
            membership::DEFAULT_TTL,
        ));
    }
    Ok(router(state))
}

/// GitHub login from Prow's flags: on with `--github-oauth-config-file` (or `--oauth-url`,
/// which then needs it), always with `--cookie-secret`.
fn github_oauth(flags: &Flags) -> Result<Option<oauth::GitHubOAuth>, StartError> {
    let (config, secret) = match (&flags.github_oauth_config_file, &flags.cookie_secret) {
        (Some(config), Some(secret)) => (config, secret),
        (None, _) if flags.oauth_url.is_none() => return Ok(None),
        _ => return Err(oauth::OAuthSetupError::MissingFiles.into()),
    };
    let endpoints = oauth::Endpoints::new(&flags.github_host, &flags.github.github_endpoint);
    let oauth = oauth::GitHubOAuth::new(
        oauth::GitHubOAuthConfig::load(config)?,
        &oauth::load_cookie_secret(secret)?,
        endpoints,
    )?;
    Ok(Some(oauth))
}

fn non_empty_or(value: &str, default: &str) -> String {
    if value.is_empty() { default } else { value }.to_owned()
}
