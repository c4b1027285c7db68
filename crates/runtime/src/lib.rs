//! prow-runtime: the shared edge of every function binary — logging, `$PORT`, graceful shutdown on
//! SIGTERM (how Knative scales a revision to zero) or Ctrl-C.

mod live_config;

use std::future::Future;
use std::net::SocketAddr;

pub use live_config::{DEFAULT_RELOAD_INTERVAL, LiveConfig};

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Safe to call more than once.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The port Knative (or the user) assigned: `$PORT`, else 8080.
pub fn port_from_env() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Serves `router` on `addr` until `shutdown` resolves, finishing in-flight requests.
pub async fn serve(
    router: axum::Router,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// What a function's `main` does: serve on `0.0.0.0:$PORT` until SIGTERM.
pub async fn serve_function(router: axum::Router) -> std::io::Result<()> {
    serve(
        router,
        SocketAddr::from(([0, 0, 0, 0], port_from_env())),
        shutdown_signal(),
    )
    .await
}

/// Set once [`load_config`] fell back from a snapshot of another build to the YAML beside it.
static SNAPSHOT_FALLBACK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The gauge every function's `/metrics` carries after a snapshot fallback, so an alert on
/// `prow_config_snapshot_fallback == 1` finds Revisions serving from YAML.
const SNAPSHOT_FALLBACK_METRIC: &str = "# HELP prow_config_snapshot_fallback 1 when the config was loaded from YAML because config.snapshot was written by another prow-rs build.\n# TYPE prow_config_snapshot_fallback gauge\nprow_config_snapshot_fallback 1\n";

/// Renders a metrics registry in the OpenMetrics text format (plus the snapshot-fallback gauge
/// when this process fell back).
pub fn encode_metrics(
    registry: &prometheus_client::registry::Registry,
) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    if SNAPSHOT_FALLBACK.load(std::sync::atomic::Ordering::Relaxed) {
        // OpenMetrics ends with `# EOF`; the gauge goes before it.
        let end = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(end, SNAPSHOT_FALLBACK_METRIC);
    }
    if let Some(reloads) = live_config::reload_metrics() {
        let end = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(end, &reloads);
    }
    Ok(text)
}

/// The `/metrics` answer for rendered metrics: OpenMetrics text, or 500 if rendering failed.
pub fn metrics_response(rendered: Result<String, std::fmt::Error>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match rendered {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A PingSource-driven function's answer to one event, as the broker expects it: 400 for an event
/// type other than the tick (a redelivery would not help), otherwise runs `tick` and answers 200
/// with an empty body once it is done, or 500 to ask for a redelivery. `record` learns whether the
/// tick succeeded (for metrics). Ticks are idempotent, so a redelivered one is harmless.
pub async fn answer_tick<R: std::fmt::Debug, E: std::fmt::Display>(
    function: &str,
    event_type: &str,
    tick: impl Future<Output = Result<R, E>>,
    record: impl FnOnce(bool),
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let ping = prow_core::events::PING;
    if event_type != ping {
        let reason = format!("{function} only handles {ping} events, not {event_type}");
        return (StatusCode::BAD_REQUEST, reason).into_response();
    }
    match tick.await {
        Ok(report) => {
            record(true);
            tracing::info!(?report, "tick handled");
            StatusCode::OK.into_response()
        }
        Err(err) => {
            record(false);
            tracing::error!(error = %err, "tick failed; asking for redelivery");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )
                .into_response()
        }
    }
}

/// Loads a function's Prow config, logging each warning (unknown fields and the like) once at
/// start-up, so every function reports the same problems the same way.
/// The config flags every function that reads Prow's config shares (`#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Prow's `config.yaml`.
    #[arg(long, env = "CONFIG_PATH")]
    pub config_path: std::path::PathBuf,
    /// Job config file or directory.
    #[arg(long, env = "JOB_CONFIG_PATH")]
    pub job_config_path: Option<std::path::PathBuf>,
}

impl ConfigArgs {
    /// Loads `config.yaml` and the job config, logging warnings ([`load_config`]).
    pub fn load(&self) -> Result<prow_core::config::Config, prow_core::config::LoadError> {
        self.load_with_plugins(None)
    }

    /// As [`ConfigArgs::load_with_plugins`], re-read when the files change
    /// ([`LiveConfig`], checked at most every [`DEFAULT_RELOAD_INTERVAL`]).
    pub fn load_live(
        &self,
        plugin_config: Option<std::path::PathBuf>,
    ) -> Result<LiveConfig, prow_core::config::LoadError> {
        LiveConfig::load(
            prow_core::config::LoadOptions {
                config_path: self.config_path.clone(),
                job_config_path: self.job_config_path.clone(),
                plugin_config_path: plugin_config,
            },
            DEFAULT_RELOAD_INTERVAL,
        )
    }

    /// As [`ConfigArgs::load`], with `plugins.yaml` too.
    pub fn load_with_plugins(
        &self,
        plugin_config: Option<std::path::PathBuf>,
    ) -> Result<prow_core::config::Config, prow_core::config::LoadError> {
        load_config(&prow_core::config::LoadOptions {
            config_path: self.config_path.clone(),
            job_config_path: self.job_config_path.clone(),
            plugin_config_path: plugin_config,
        })
    }
}

pub fn load_config(
    options: &prow_core::config::LoadOptions,
) -> Result<prow_core::config::Config, prow_core::config::LoadError> {
    let loaded = prow_core::config::load(options)?;
    for warning in &loaded.warnings {
        if warning
            .message
            .contains(prow_core::config::SNAPSHOT_FALLBACK_WARNING)
        {
            // Serving, but from YAML and slower to start: an operator must recompile the snapshot.
            tracing::error!(%warning, "config snapshot from another build");
            SNAPSHOT_FALLBACK.store(true, std::sync::atomic::Ordering::Relaxed);
        } else {
            tracing::warn!(%warning, "config");
        }
    }
    Ok(loaded.config)
}

/// CloudEvents handled, by event type and outcome: the counter every event-driven function
/// exports as `<function>_events`.
#[derive(Debug, Clone, Default)]
pub struct EventCounter {
    events: prometheus_client::metrics::family::Family<
        EventLabels,
        prometheus_client::metrics::counter::Counter,
    >,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct EventLabels {
    event: String,
    outcome: String,
}

impl EventCounter {
    /// Registers the counter as `name` in `registry`.
    pub fn register(registry: &mut prometheus_client::registry::Registry, name: &str) -> Self {
        Self::register_with_help(registry, name, "CloudEvents handled by type and outcome")
    }

    /// Registers the counter as `name` with its own help text (hook counts webhooks, not
    /// CloudEvents).
    pub fn register_with_help(
        registry: &mut prometheus_client::registry::Registry,
        name: &str,
        help: &str,
    ) -> Self {
        let counter = EventCounter::default();
        registry.register(name, help, counter.events.clone());
        counter
    }

    /// Counts one event of type `event` that ended with `outcome`.
    pub fn observe(&self, event: &str, outcome: &str) {
        self.events
            .get_or_create(&EventLabels {
                event: event.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// Ping ticks handled, by outcome (`ok`, or `error` when the tick asked for redelivery): the
/// counter every PingSource-driven function exports as `<function>_ticks`.
#[derive(Debug, Clone, Default)]
pub struct TickCounter {
    ticks: prometheus_client::metrics::family::Family<
        TickLabels,
        prometheus_client::metrics::counter::Counter,
    >,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct TickLabels {
    outcome: &'static str,
}

impl TickCounter {
    /// Registers the counter as `name` in `registry`.
    pub fn register(registry: &mut prometheus_client::registry::Registry, name: &str) -> Self {
        let counter = TickCounter::default();
        registry.register(
            name,
            "Ping ticks handled, by outcome",
            counter.ticks.clone(),
        );
        counter
    }

    /// Counts one tick that succeeded or failed.
    pub fn observe(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.ticks.get_or_create(&TickLabels { outcome }).inc();
    }
}

/// A PingSource-driven function (horologium, sinker): what one tick does, and its metrics.
pub trait TickFunction: Clone + Send + Sync + 'static {
    /// The function's name, in answers and logs.
    const NAME: &'static str;
    /// What a tick did (logged).
    type Report: std::fmt::Debug + Send;
    /// Why a tick failed (logged; the broker redelivers).
    type Error: std::fmt::Display + Send;

    /// Does the tick's work; ticks are idempotent, so redelivery is harmless.
    fn tick(&self) -> impl Future<Output = Result<Self::Report, Self::Error>> + Send;
    /// The `<function>_ticks` counter.
    fn ticks(&self) -> &TickCounter;
    /// The function's metrics in the OpenMetrics text format.
    fn render_metrics(&self) -> Result<String, std::fmt::Error>;
}

/// The router every PingSource-driven function serves: `POST /` takes the ping CloudEvent
/// (bodies over `max_event_bytes` refused), `GET /healthz` and `GET /metrics` for the platform.
pub fn tick_router<F: TickFunction>(function: F, max_event_bytes: usize) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", post(handle_tick::<F>))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            max_event_bytes,
        ))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(render_tick_metrics::<F>))
        .with_state(function)
}

async fn handle_tick<F: TickFunction>(
    axum::extract::State(function): axum::extract::State<F>,
    prow_events::CloudEvent(event): prow_events::CloudEvent,
) -> axum::response::Response {
    use prow_events::AttributesReader;
    answer_tick(F::NAME, event.ty(), function.tick(), |ok| {
        function.ticks().observe(ok);
    })
    .await
}

async fn render_tick_metrics<F: TickFunction>(
    axum::extract::State(function): axum::extract::State<F>,
) -> axum::response::Response {
    metrics_response(function.render_metrics())
}

/// A function the broker delivers CloudEvents to (trigger, crier, plugins): how it handles one
/// event, which failures are the sender's fault, and its metrics.
pub trait EventFunction: Clone + Send + Sync + 'static {
    /// Why handling an event failed.
    type Error: std::fmt::Display + Send;

    /// The `event` label an event is counted under: a small, fixed set of values, never
    /// anything a sender chooses freely (that would grow the metric without bound).
    fn event_label(event: &prow_events::Event) -> String;
    /// Handles one event; handlers are idempotent, so a redelivery is harmless.
    fn handle(
        &self,
        event: &prow_events::Event,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// True when the event itself is wrong (answered 400 and not redelivered); any other
    /// failure is answered 503 so the broker redelivers.
    fn is_bad_request(error: &Self::Error) -> bool;
    /// The `<function>_events` counter.
    fn events(&self) -> &EventCounter;
    /// The function's metrics in the OpenMetrics text format.
    fn render_metrics(&self) -> Result<String, std::fmt::Error>;
}

/// The router every event-driven function serves: `POST /` takes a CloudEvent (bodies over
/// `max_event_bytes` refused with 413), `GET /healthz` and `GET /metrics` for the platform.
pub fn event_router<F: EventFunction>(function: F, max_event_bytes: usize) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", post(receive_event::<F>))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            max_event_bytes,
        ))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(render_event_metrics::<F>))
        .with_state(function)
}

async fn receive_event<F: EventFunction>(
    axum::extract::State(function): axum::extract::State<F>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let event = match prow_events::receive(&headers, &body) {
        Ok(event) => event,
        Err(rejection) => {
            function.events().observe("invalid", "bad_request");
            return rejection.into_response();
        }
    };
    let label = F::event_label(&event);
    match function.handle(&event).await {
        Ok(()) => {
            function.events().observe(&label, "done");
            StatusCode::OK.into_response()
        }
        Err(err) if F::is_bad_request(&err) => {
            tracing::info!(error = %err, event = %label, "event rejected");
            function.events().observe(&label, "bad_request");
            (StatusCode::BAD_REQUEST, err.to_string()).into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, event = %label, "event failed; the broker redelivers it");
            function.events().observe(&label, "failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "event failed, please redeliver",
            )
                .into_response()
        }
    }
}

async fn render_event_metrics<F: EventFunction>(
    axum::extract::State(function): axum::extract::State<F>,
) -> axum::response::Response {
    metrics_response(function.render_metrics())
}
