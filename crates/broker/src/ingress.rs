//! Broker ingress over HTTP: `POST /<namespace>/<broker>` with a CloudEvent, answered like Knative's ingress.
//!
//! Optionally with a [`SenderPolicy`]: GitHub events are only taken from the sender holding a
//! bearer token (hook), so a test pod running PR code cannot post a forged `/lgtm` or
//! `/ok-to-test`. On Knative the same role is played by Eventing's OIDC sender identity and an
//! EventPolicy (see docs/deploy.md); under `prow up` the token is a shared secret in the state dir.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::broker::{Broker, BrokerKey, PublishError};

/// Which events need which sender: events whose type starts with one of `guarded_prefixes`
/// are accepted only with `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct SenderPolicy {
    token: String,
    guarded_prefixes: Vec<String>,
}

impl std::fmt::Debug for SenderPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderPolicy")
            .field("token", &"<redacted>")
            .field("guarded_prefixes", &self.guarded_prefixes)
            .finish()
    }
}

/// Why a sender was refused: no credentials (401) or the wrong ones (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SenderRefusal {
    #[error("events of type {0:?} need the sender's bearer token")]
    Unauthenticated(&'static str),
    #[error("the bearer token does not belong to a sender of {0:?} events")]
    Forbidden(&'static str),
}

impl SenderPolicy {
    /// GitHub events (`dev.prow.github.*`) only from whoever holds `token`.
    pub fn github_events_from(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            guarded_prefixes: vec![prow_core::events::GITHUB_EVENT_PREFIX.to_string()],
        }
    }

    /// Whether a sender presenting `authorization` (the header's value) may publish `event_type`.
    pub fn check(
        &self,
        event_type: &str,
        authorization: Option<&str>,
    ) -> Result<(), SenderRefusal> {
        let Some(prefix) = self
            .guarded_prefixes
            .iter()
            .find(|p| event_type.starts_with(p.as_str()))
        else {
            return Ok(());
        };
        // Only the static prefix goes into the error: the event type is the sender's text.
        let guarded: &'static str = if prefix == prow_core::events::GITHUB_EVENT_PREFIX {
            prow_core::events::GITHUB_EVENT_PREFIX
        } else {
            "guarded"
        };
        let presented = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(SenderRefusal::Unauthenticated(guarded))?;
        if constant_time_eq(presented.as_bytes(), self.token.as_bytes()) {
            Ok(())
        } else {
            Err(SenderRefusal::Forbidden(guarded))
        }
    }
}

/// Compares without returning early, so response timing does not reveal a token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone)]
struct Ingress {
    broker: Broker,
    senders: Option<SenderPolicy>,
}

/// Largest event accepted at ingress.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The ingress router: 202 accepted, 400 malformed event or TTL exhausted, 404 unknown broker,
/// 429 a Trigger queue is full (with `Retry-After`), 503 shutting down or the event could not be
/// stored. With a durable store, 202 means the event is on disk.
pub fn ingress_router(broker: Broker) -> Router {
    router(Ingress {
        broker,
        senders: None,
    })
}

/// [`ingress_router`] that also refuses events `senders` does not allow: 401 without a bearer
/// token, 403 with the wrong one; a refused event is neither stored nor delivered.
pub fn guarded_ingress_router(broker: Broker, senders: SenderPolicy) -> Router {
    router(Ingress {
        broker,
        senders: Some(senders),
    })
}

fn router(ingress: Ingress) -> Router {
    Router::new()
        .route("/{namespace}/{name}", post(receive).options(options))
        .route("/{namespace}/{name}/", post(receive).options(options))
        .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
        .with_state(ingress)
}

async fn receive(
    State(ingress): State<Ingress>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let event = match prow_events::decode(&headers, &body) {
        Ok(event) => event,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    if let Some(senders) = &ingress.senders {
        use cloudevents::AttributesReader;
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(refusal) = senders.check(event.ty(), authorization) {
            tracing::warn!(event_type = event.ty(), event_id = event.id(), %refusal, "refused an event from an unauthorized sender");
            let status = match refusal {
                SenderRefusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                SenderRefusal::Forbidden(_) => StatusCode::FORBIDDEN,
            };
            return (status, refusal.to_string()).into_response();
        }
    }
    let broker = ingress.broker;
    let key = BrokerKey::new(namespace, name);
    if !broker.has_broker(&key) {
        return (StatusCode::NOT_FOUND, format!("broker {key} not found")).into_response();
    }
    match broker.try_publish_to(&key, event, headers).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => rejection(e),
    }
}

fn rejection(error: PublishError) -> Response {
    let status = match &error {
        PublishError::UnknownBroker(_) => StatusCode::NOT_FOUND,
        PublishError::TtlExhausted { .. } | PublishError::NoDefaultBroker(_) => {
            StatusCode::BAD_REQUEST
        }
        PublishError::QueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
        // Not written down, so not accepted: the sender should try again.
        PublishError::ShuttingDown | PublishError::Store { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = (status, error.to_string()).into_response();
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// CloudEvents webhook validation handshake, as Knative's ingress answers it.
async fn options() -> impl IntoResponse {
    (
        [
            ("webhook-allowed-origin", "*"),
            ("webhook-allowed-rate", "*"),
            ("allow", "POST, OPTIONS"),
        ],
        StatusCode::OK,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_events_need_the_token_and_other_events_do_not() {
        let policy = SenderPolicy::github_events_from("s3cret");
        let github = "dev.prow.github.issue_comment";
        let cases = [
            (github, Some("Bearer s3cret"), Ok(())),
            (github, Some("Bearer  s3cret "), Ok(())),
            (
                github,
                None,
                Err(SenderRefusal::Unauthenticated("dev.prow.github.")),
            ),
            (
                github,
                Some("Bearer "),
                Err(SenderRefusal::Unauthenticated("dev.prow.github.")),
            ),
            (
                github,
                Some("Basic czNjcmV0"),
                Err(SenderRefusal::Unauthenticated("dev.prow.github.")),
            ),
            (
                github,
                Some("Bearer s3cres"),
                Err(SenderRefusal::Forbidden("dev.prow.github.")),
            ),
            (
                github,
                Some("Bearer s3cret2"),
                Err(SenderRefusal::Forbidden("dev.prow.github.")),
            ),
            ("dev.knative.sources.ping", None, Ok(())),
            ("dev.prow.githubx", None, Ok(())),
        ];
        for (ty, authorization, want) in cases {
            assert_eq!(
                policy.check(ty, authorization),
                want,
                "{ty} {authorization:?}"
            );
        }
    }

    #[test]
    fn the_policy_never_prints_its_token() {
        let policy = SenderPolicy::github_events_from("s3cret");
        assert!(!format!("{policy:?}").contains("s3cret"));
    }
}
