//! prow-plank: Prow's plank as a CloudEvents function: triggered ProwJobs get pods, pod phases become ProwJob states.
//!
//! Driven by Knative ApiServerSource events (`dev.knative.apiserver.resource.{add,update,delete}`
//! for ProwJobs and Pods) and the `plank-resync` PingSource. An event for one object reconciles
//! the ProwJob it belongs to; a ping lists and reconciles every ProwJob. The ProwJob is the
//! source of truth and every decision is recomputed from what is stored, so lost or repeated
//! events converge: the pod name is the ProwJob name (a repeated create is adopted), and status
//! writes are guarded by the state they were decided from.
//!
//! Differences from Prow's plank (see the module docs for details):
//! - the `prow.k8s.io/id`/`build-id` labels are not copied back onto the ProwJob;
//! - concurrency limits are checked per decision against a fresh list; two events handled at
//!   the same instant can each see the last free slot (Prow's single worker cannot).

pub mod buildid;
pub mod decide;
pub mod decorate;
pub mod metrics;
pub mod pod;
pub mod shell;
pub mod url;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use prow_core::config::Config;
use prow_core::events::{APISERVER_ADD, APISERVER_DELETE, APISERVER_UPDATE, PING};
use prow_core::jobspec::ID_LABEL;
use prow_events::{AttributesReader, Event};
use prow_kube::{KubeOptions, ProwJobs};
use serde_json::Value;
use tower_http::limit::RequestBodyLimitLayer;

use crate::buildid::BuildIds;
pub use crate::decide::{Settings, SettingsError};
use crate::metrics::Metrics;
use crate::shell::ShellError;

/// Largest CloudEvent accepted: a ProwJob or Pod object with room to spare.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// The time source; tests pin it.
pub use prow_core::clock::Clock;

/// Why plank could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading config: {0}")]
    Config(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Kube(#[from] prow_kube::KubeError),
}

/// Optional parts of [`PlankState`].
#[derive(Clone)]
pub struct Options {
    /// Decide and log, write nothing.
    pub dry_run: bool,
    pub clock: Clock,
    /// Where pods run, by the cluster alias jobs name; default: only `default`, the API server
    /// the ProwJobs live in.
    pub build_clusters: Option<prow_kube::BuildClusters>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            clock: Clock::system(),
            build_clusters: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// Everything plank's router needs; cheap to clone.
#[derive(Clone)]
pub struct PlankState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Timeouts, limits, pod namespace, URL settings: from the config of the moment when
    /// `live` is set, else fixed.
    settings: std::sync::RwLock<Arc<Settings>>,
    /// The config `settings` follow, once [`PlankState::with_live_config`] set it.
    live: std::sync::OnceLock<Followed>,
    /// ProwJobs in the namespace plank serves.
    jobs: ProwJobs,
    /// For pods: the build cluster each job names, in whichever namespace it names.
    clusters: prow_kube::BuildClusters,
    /// Vends BUILD_IDs that increase within this process.
    build_ids: BuildIds,
    clock: Clock,
    dry_run: bool,
    metrics: Metrics,
}

/// A config plank follows and the one its settings were last derived from.
struct Followed {
    live: prow_runtime::LiveConfig,
    seen: std::sync::Mutex<Arc<Config>>,
}

impl std::fmt::Debug for PlankState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlankState")
            .field("settings", &self.settings())
            .field("dry_run", &self.inner.dry_run)
            .finish_non_exhaustive()
    }
}

impl PlankState {
    /// plank for the ProwJobs in `prowjob_namespace`, with settings from `config`'s `plank:`
    /// section and `pod_namespace`.
    pub fn new(
        config: &Config,
        client: kube::Client,
        prowjob_namespace: &str,
    ) -> Result<Self, StartError> {
        let settings = Settings::from_config(&config.prow.plank, &config.prow.pod_namespace)?;
        Ok(Self::with_settings(
            settings,
            client,
            prowjob_namespace,
            Options::default(),
        ))
    }

    pub fn with_settings(
        settings: Settings,
        client: kube::Client,
        prowjob_namespace: &str,
        options: Options,
    ) -> Self {
        PlankState {
            inner: Arc::new(Inner {
                settings: std::sync::RwLock::new(Arc::new(settings)),
                live: std::sync::OnceLock::new(),
                jobs: ProwJobs::new(client.clone(), prowjob_namespace),
                clusters: options
                    .build_clusters
                    .unwrap_or_else(|| prow_kube::BuildClusters::single(client)),
                build_ids: BuildIds::default(),
                clock: options.clock,
                dry_run: options.dry_run,
                metrics: Metrics::default(),
            }),
        }
    }

    /// Follows `live` from now on: each event reads the `plank:` settings and `pod_namespace`
    /// of the config of the moment, so a merged config change applies without a restart. The
    /// URL overrides given at start (Deck's URL, local-only links) stay.
    pub fn with_live_config(self, live: prow_runtime::LiveConfig) -> Self {
        let config = live.current();
        let followed = Followed {
            live,
            seen: std::sync::Mutex::new(Arc::new(Config::default())),
        };
        if self.inner.live.set(followed).is_err() {
            tracing::warn!("plank already follows a config; the second one is ignored");
        }
        self.follow(&config);
        self
    }

    /// The settings to act on now.
    pub fn settings(&self) -> Arc<Settings> {
        if let Some(followed) = self.inner.live.get() {
            self.follow(&followed.live.current());
        }
        current_settings(&self.inner.settings)
    }

    /// Derives the settings from `config` if it is not the one they came from. Settings that
    /// no longer parse are logged and the last good ones kept: a bad merge must not stop plank.
    fn follow(&self, config: &Arc<Config>) {
        let Some(followed) = self.inner.live.get() else {
            return;
        };
        let mut seen = match followed.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        if Arc::ptr_eq(&seen, config) {
            return;
        }
        *seen = config.clone();
        let old = current_settings(&self.inner.settings);
        match Settings::from_config(&config.prow.plank, &config.prow.pod_namespace) {
            Ok(mut next) => {
                next.urls.deck_url = old.urls.deck_url.clone();
                next.urls.local_deck_only = old.urls.local_deck_only;
                let mut settings = match self.inner.settings.write() {
                    Ok(settings) => settings,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *settings = Arc::new(next);
            }
            Err(err) => {
                tracing::error!(error = %err, "plank: settings of the new config do not parse; keeping the last good ones");
            }
        }
    }
}

fn current_settings(settings: &std::sync::RwLock<Arc<Settings>>) -> Arc<Settings> {
    match settings.read() {
        Ok(settings) => settings.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// `POST /` takes CloudEvents; `GET /healthz`, `GET /metrics` for the platform.
pub fn router(state: PlankState) -> Router {
    Router::new()
        .route("/", post(receive))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_EVENT_BYTES))
        .with_state(state)
}

async fn metrics(State(state): State<PlankState>) -> Response {
    prow_runtime::metrics_response(state.inner.metrics.render())
}

/// What an event asks plank to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Reconcile every ProwJob.
    Resync,
    /// Reconcile this ProwJob (`from` says which kind of object the event was about).
    Job { name: String, from: &'static str },
    /// Not for plank.
    Ignore(String),
}

/// Which ProwJob an event concerns: a ProwJob event names it; a Pod event names it in the
/// `prow.k8s.io/id` label, else by the pod's own name (plank names pods after their job).
pub fn target(event: &Event) -> Target {
    let ty = event.ty();
    if ty == PING {
        return Target::Resync;
    }
    if ![APISERVER_ADD, APISERVER_UPDATE, APISERVER_DELETE].contains(&ty) {
        return Target::Ignore(format!("event type {ty}"));
    }
    let object: Value = prow_events::data_json(event).unwrap_or(Value::Null);
    let ext = |key: &str| event.extension(key).map(|v| v.to_string());
    let kind = ext("kind")
        .or_else(|| object["kind"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let name = object["metadata"]["name"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| ext("name"))
        .unwrap_or_default();
    match kind.as_str() {
        "ProwJob" if !name.is_empty() => Target::Job {
            name,
            from: "prowjob",
        },
        "Pod" => {
            let owner = object["metadata"]["labels"][ID_LABEL]
                .as_str()
                .filter(|s| !s.is_empty());
            match owner
                .map(str::to_owned)
                .or(Some(name).filter(|n| !n.is_empty()))
            {
                Some(name) => Target::Job { name, from: "pod" },
                None => Target::Ignore("pod event without a name".into()),
            }
        }
        "ProwJob" => Target::Ignore("ProwJob event without a name".into()),
        other => Target::Ignore(format!("kind {other:?}")),
    }
}

async fn receive(State(state): State<PlankState>, headers: HeaderMap, body: Bytes) -> Response {
    let event = match prow_events::receive(&headers, &body) {
        Ok(event) => event,
        Err(rejection) => return rejection.into_response(),
    };
    let (label, result): (&'static str, Result<(), ShellError>) = match target(&event) {
        Target::Resync => (
            "resync",
            state
                .resync()
                .await
                .map(|n| tracing::info!(reconciled = n, "resync done")),
        ),
        Target::Job { name, from } => (from, state.reconcile_job(&name).await),
        Target::Ignore(why) => {
            tracing::debug!(id = event.id(), %why, "ignored");
            ("ignored", Ok(()))
        }
    };
    state.inner.metrics.event(label, result.is_ok());
    match result {
        // The broker wants an empty 2xx body for "done".
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => {
            tracing::warn!(id = event.id(), error = %err, "reconcile failed; asking for redelivery");
            (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response()
        }
    }
}

/// plank's flags; each also from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[command(flatten)]
    pub kube: KubeOptions,
    /// Namespace of the ProwJobs; default: `prowjob_namespace` from config.yaml.
    #[arg(long, env = "PROWJOB_NAMESPACE")]
    pub namespace: Option<String>,
    /// Deck's base URL, for `status.url` of jobs without a storage link.
    #[arg(long, env = "DECK_URL")]
    pub deck_url: Option<String>,
    /// Decide and log, write nothing.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Builds plank's router from flags: loads config (followed as it changes), connects to the API
/// server. The ProwJob namespace and build clusters stay as at start.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags
        .config
        .load_live(None)
        .map_err(|e| StartError::Config(e.to_string()))?;
    let config = live.current();
    let client = prow_kube::client(&flags.kube).await?;
    let namespace = flags
        .namespace
        .clone()
        .unwrap_or_else(|| config.prow.prowjob_namespace.clone());
    let mut settings = Settings::from_config(&config.prow.plank, &config.prow.pod_namespace)?;
    settings.urls.deck_url = flags.deck_url.clone();
    let options = Options {
        dry_run: flags.dry_run,
        build_clusters: Some(
            prow_kube::BuildClusters::from_options(&flags.kube, client.clone()).await?,
        ),
        ..Options::default()
    };
    Ok(router(
        PlankState::with_settings(settings, client, &namespace, options).with_live_config(live),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prow_events::{EventBuilder, EventBuilderV10};
    use serde_json::json;

    use super::*;

    fn event(ty: &str, kind: Option<&str>, data: Value) -> Event {
        let mut b = EventBuilderV10::new()
            .id("1")
            .ty(ty)
            .source("/apis/v1/namespaces/prow/apiserversources/x");
        if let Some(kind) = kind {
            b = b.extension("kind", kind);
        }
        b.data("application/json", data).build().unwrap()
    }

    #[test]
    fn events_are_routed_to_the_prowjob_they_concern() {
        let job = |name: &str, from| Target::Job {
            name: name.into(),
            from,
        };
        let table = [
            (
                event(PING, None, json!({"tick": "plank-resync"})),
                Target::Resync,
            ),
            (
                event(
                    APISERVER_ADD,
                    Some("ProwJob"),
                    json!({"kind": "ProwJob", "metadata": {"name": "pj-1"}}),
                ),
                job("pj-1", "prowjob"),
            ),
            (
                event(
                    APISERVER_UPDATE,
                    None,
                    json!({"kind": "ProwJob", "metadata": {"name": "pj-2"}}),
                ),
                job("pj-2", "prowjob"),
            ),
            (
                event(
                    APISERVER_DELETE,
                    Some("Pod"),
                    json!({"metadata": {"name": "pod-x", "labels": {"prow.k8s.io/id": "pj-3"}}}),
                ),
                job("pj-3", "pod"),
            ),
            (
                event(
                    APISERVER_UPDATE,
                    Some("Pod"),
                    json!({"metadata": {"name": "pj-4"}}),
                ),
                job("pj-4", "pod"),
            ),
        ];
        for (event, want) in table {
            assert_eq!(target(&event), want, "{}", event.ty());
        }
        for ignored in [
            event("dev.prow.github.push", None, json!({})),
            event(
                APISERVER_ADD,
                Some("ConfigMap"),
                json!({"metadata": {"name": "x"}}),
            ),
            event(APISERVER_ADD, Some("Pod"), json!({"metadata": {}})),
        ] {
            assert!(matches!(target(&ignored), Target::Ignore(_)), "{ignored}");
        }
    }
}
