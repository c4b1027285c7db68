//! Receiving CloudEvents in axum handlers: an extractor and a plain function, both answering 400 with the reason.
//!
//! Neither sets a body limit of its own: put `tower_http::limit::RequestBodyLimitLayer` in front
//! (it answers 413), and `axum::extract::DefaultBodyLimit::disable()` when the limit is above
//! axum's default of 2 MB.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use cloudevents::Event;
use http::{HeaderMap, StatusCode};

use crate::decode::{DecodeError, decode};

/// A request that is not a valid CloudEvent; responds 400 with the reason as plain text.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ReceiveRejection(#[from] pub DecodeError);

impl IntoResponse for ReceiveRejection {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0.to_string()).into_response()
    }
}

/// Decodes a received request; the error renders as the 400 response to send back.
pub fn receive(headers: &HeaderMap, body: &[u8]) -> Result<Event, ReceiveRejection> {
    decode(headers, body).map_err(ReceiveRejection)
}

/// Extractor for handlers that take a CloudEvent: `async fn handle(CloudEvent(event): CloudEvent)`.
///
/// Body-read failures keep axum's own responses (413 past a limit); decoding failures are 400.
#[derive(Debug, Clone)]
pub struct CloudEvent(pub Event);

impl<S: Send + Sync> FromRequest<S> for CloudEvent {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        receive(&headers, &body)
            .map(CloudEvent)
            .map_err(IntoResponse::into_response)
    }
}
