//! A tiny function served through prow-lambda, for trying the adapter under a Lambda emulator.
//!
//! `GET /healthz` answers `ok`; `POST /echo` answers the request it saw (method, path, query,
//! body, signature header) as JSON; `POST /` accepts a CloudEvent and answers its attributes,
//! except for pings from the PingSource named in `DEMO_REFUSE`, which get a 503 the way a
//! function that wants a retry answers.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloudevents::AttributesReader;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let refuse = std::env::var("DEMO_REFUSE").ok();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/echo", post(echo))
        .route(
            "/",
            post(move |headers: HeaderMap, body: Bytes| {
                let refuse = refuse.clone();
                async move { event(headers, body, refuse.as_deref()) }
            }),
        );
    prow_lambda::run(router).await
}

async fn echo(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<serde_json::Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "body": String::from_utf8_lossy(&body),
        "signature": header("x-hub-signature-256"),
        "event": header("x-github-event"),
    }))
}

fn event(headers: HeaderMap, body: Bytes, refuse: Option<&str>) -> Response {
    let event = match prow_events::receive(&headers, &body) {
        Ok(event) => event,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let source = event.source().to_string();
    if refuse.is_some_and(|name| source.ends_with(&format!("/pingsources/{name}"))) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not now").into_response();
    }
    Json(json!({
        "id": event.id(),
        "type": event.ty(),
        "source": source,
        "time": event.time().map(|t| t.to_rfc3339()),
    }))
    .into_response()
}
