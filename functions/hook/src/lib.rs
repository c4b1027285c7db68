//! prow-hook: GitHub webhooks in, CloudEvents (`dev.prow.github.<event>`) out.
//!
//! Prow's hook validates each delivery (headers, HMAC-SHA256 against a rotatable secret file,
//! JSON) and then runs plugins. Here the plugins live behind the broker, so a valid delivery is
//! forwarded as one CloudEvent and GitHub gets its 200 only once the sink accepted it: if the
//! sink is down GitHub sees a 503 and redelivers, and the same delivery id gives the same
//! event id, so receivers can deduplicate.

pub mod decide;
pub mod metrics;
pub mod secret;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prow_events::{PublishError, Publisher};

use crate::decide::{ACCEPTED_BODY, MAX_PAYLOAD_BYTES, Rejection};
use crate::metrics::{Metrics, Outcome, UNVERIFIED};
use crate::secret::{HmacSecrets, SecretError};

/// Where the HMAC tokens come from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Re-read for every delivery, so a rotated Kubernetes secret applies without a restart.
    File(PathBuf),
    /// Fixed tokens (embedded use, tests).
    Static(Arc<HmacSecrets>),
}

impl SecretSource {
    fn load(&self) -> Result<Arc<HmacSecrets>, SecretError> {
        match self {
            SecretSource::File(path) => HmacSecrets::load(path).map(Arc::new),
            SecretSource::Static(secrets) => Ok(secrets.clone()),
        }
    }
}

/// What to do with a valid delivery.
#[derive(Debug, Clone)]
pub enum Forward {
    /// Publish to the sink (`K_SINK`).
    Publish(Publisher),
    /// Validate and answer, log the event instead of sending it (`--dry-run`).
    DryRun,
}

/// Everything the hook router needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct HookState {
    /// HMAC tokens the signatures are checked against.
    pub secrets: SecretSource,
    /// Destination of the CloudEvents.
    pub forward: Forward,
    /// Counters and histograms served on `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl HookState {
    pub fn new(secrets: SecretSource, forward: Forward) -> Self {
        Self {
            secrets,
            forward,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// hook's settings, from flags or env (`prow serve hook`, the `prow-hook` binary).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Prow HMAC secret file: one token, or the YAML map `'*'|org|org/repo -> [{value, created_at}]`.
    #[arg(long, env = "HMAC_SECRET_FILE")]
    pub hmac_secret_file: PathBuf,
    /// Where CloudEvents go (the broker); set by Knative's SinkBinding.
    #[arg(long = "sink", env = "K_SINK")]
    pub k_sink: Option<String>,
    /// Bearer token for the sink, read for every event: on Knative the OIDC token SinkBinding
    /// mounts at `/oidc/token` (sender identity), under `prow up` the broker's shared secret.
    #[arg(long, env = "K_SINK_TOKEN_FILE")]
    pub sink_token_file: Option<PathBuf>,
    /// Validate and acknowledge deliveries but publish nothing.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
    /// Attempts per event before GitHub is told to redeliver (GitHub waits 10 s in total).
    #[arg(long, env = "PUBLISH_ATTEMPTS", default_value_t = 3)]
    pub publish_attempts: u32,
}

/// Why hook could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("K_SINK (or --sink) is required unless --dry-run is set")]
    NoSink,
    #[error(transparent)]
    Publisher(#[from] PublishError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Builds the router from flags; fails at start-up, not on the first delivery, when the secret is missing.
pub fn app(flags: Flags) -> Result<Router, StartError> {
    let forward = if flags.dry_run {
        Forward::DryRun
    } else {
        let sink = flags.k_sink.ok_or(StartError::NoSink)?;
        let policy = prow_events::RetryPolicy {
            max_attempts: flags.publish_attempts,
            attempt_timeout: std::time::Duration::from_secs(2),
            initial_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(1),
        };
        let publisher = Publisher::new(&sink, policy)?;
        Forward::Publish(match flags.sink_token_file {
            Some(path) => publisher.with_bearer_token_file(path),
            None => publisher,
        })
    };
    HmacSecrets::load(&flags.hmac_secret_file)?;
    Ok(router(HookState::new(
        SecretSource::File(flags.hmac_secret_file),
        forward,
    )))
}

/// `POST /hook` and `POST /` take deliveries; `/healthz` and `/metrics` for the platform.
pub fn router(state: HookState) -> Router {
    Router::new()
        .route("/hook", any(hook))
        .route("/", any(hook))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<HookState>) -> Response {
    prow_runtime::metrics_response(state.metrics.render())
}

/// How one delivery ended; rendered as the response and counted in the metrics.
enum Handled {
    Accepted,
    Rejected(Rejection),
    SecretUnavailable(SecretError),
    /// A bug of ours, reported as 500 rather than a panic.
    Internal(String),
    PublishFailed(PublishError),
}

async fn hook(
    State(state): State<HookState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut event_label = UNVERIFIED.to_owned();
    let handled = handle(&state, &method, &headers, body, &mut event_label).await;
    let (outcome, response) = match handled {
        Handled::Accepted => (
            Outcome::Accepted,
            (StatusCode::OK, ACCEPTED_BODY).into_response(),
        ),
        Handled::Rejected(rejection) => {
            let outcome = match rejection.status() {
                StatusCode::FORBIDDEN => Outcome::RejectedSignature,
                _ => Outcome::BadRequest,
            };
            tracing::info!(status = %rejection.status(), reason = %rejection, "webhook rejected");
            (
                outcome,
                (rejection.status(), rejection.to_string()).into_response(),
            )
        }
        Handled::SecretUnavailable(err) => {
            tracing::error!(error = %err, "cannot load HMAC secret");
            let body = "500 Internal Server Error: HMAC secret unavailable";
            (
                Outcome::InternalError,
                (StatusCode::INTERNAL_SERVER_ERROR, body).into_response(),
            )
        }
        Handled::Internal(reason) => {
            tracing::error!(%reason, "webhook not handled");
            let body = "500 Internal Server Error";
            (
                Outcome::InternalError,
                (StatusCode::INTERNAL_SERVER_ERROR, body).into_response(),
            )
        }
        Handled::PublishFailed(err) => {
            tracing::warn!(error = %err, "event not forwarded; GitHub will redeliver");
            let body = "503 Service Unavailable: event could not be forwarded, please redeliver";
            (
                Outcome::PublishFailed,
                (StatusCode::SERVICE_UNAVAILABLE, body).into_response(),
            )
        }
    };
    state
        .metrics
        .observe(&event_label, outcome, started.elapsed().as_secs_f64());
    response
}

async fn handle(
    state: &HookState,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    event_label: &mut String,
) -> Handled {
    let delivery = match decide::check_headers(method, headers) {
        Ok(delivery) => delivery,
        Err(rejection) => return Handled::Rejected(rejection),
    };
    let body = match read_limited(body).await {
        Ok(body) => body,
        Err(rejection) => return Handled::Rejected(rejection),
    };
    let secrets = match state.secrets.load() {
        Ok(secrets) => secrets,
        Err(err) => return Handled::SecretUnavailable(err),
    };
    let routing = match decide::check_body(&secrets, &delivery.signature, &body) {
        Ok(routing) => routing,
        Err(rejection) => {
            if !matches!(rejection, Rejection::Signature(_)) {
                event_label.clone_from(&delivery.event);
            }
            return Handled::Rejected(rejection);
        }
    };
    event_label.clone_from(&delivery.event);
    let (event_name, delivery_id) = (delivery.event.as_str(), delivery.delivery.as_str());
    let org_repo = routing.org_repo();
    if !decide::is_forwarded(event_name) {
        tracing::info!(
            event = event_name,
            delivery = delivery_id,
            "acknowledged, not forwarded"
        );
        return Handled::Accepted;
    }
    let event = match decide::to_cloud_event(&delivery, &routing, &body) {
        Ok(event) => event,
        Err(err) => return Handled::Internal(format!("building the CloudEvent: {err}")),
    };
    match &state.forward {
        Forward::DryRun => {
            tracing::info!(
                event = event_name,
                delivery = delivery_id,
                org_repo,
                "dry run: event not published"
            );
            Handled::Accepted
        }
        Forward::Publish(publisher) => {
            let (result, attempts) = publisher.publish_counting_attempts(&event).await;
            state.metrics.publish_attempts(attempts);
            match result {
                Ok(()) => {
                    tracing::info!(
                        event = event_name,
                        delivery = delivery_id,
                        org_repo,
                        attempts,
                        "event published"
                    );
                    Handled::Accepted
                }
                Err(err) => Handled::PublishFailed(err),
            }
        }
    }
}

/// Reads the body up to GitHub's 25 MB payload limit.
async fn read_limited(body: Body) -> Result<Bytes, Rejection> {
    match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(Rejection::TooLarge),
        Err(err) => Err(Rejection::UnreadableBody(err.to_string())),
    }
}
