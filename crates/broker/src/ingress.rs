//! Broker ingress over HTTP: `POST /<namespace>/<broker>` with a CloudEvent, answered like Knative's ingress.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::broker::{Broker, BrokerKey, PublishError};

/// Largest event accepted at ingress.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The ingress router: 202 accepted, 400 malformed event or TTL exhausted, 404 unknown broker,
/// 429 a Trigger queue is full (with `Retry-After`), 503 shutting down or the event could not be
/// stored. With a durable store, 202 means the event is on disk.
pub fn ingress_router(broker: Broker) -> Router {
    Router::new()
        .route("/{namespace}/{name}", post(receive).options(options))
        .route("/{namespace}/{name}/", post(receive).options(options))
        .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
        .with_state(broker)
}

async fn receive(
    State(broker): State<Broker>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let event = match prow_events::decode(&headers, &body) {
        Ok(event) => event,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
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
