//! Serves a prow-rs function's axum Router on AWS Lambda (Function URLs, API Gateway, ALB) and turns EventBridge schedules into Knative ping CloudEvents.
//!
//! The same router that answers Knative's HTTP requests answers Lambda invocations:
//! [`run`] converts each HTTP-shaped invocation into an `http::Request`, calls the router and
//! converts the answer back. An EventBridge scheduled event (`"source": "aws.events"`,
//! `"detail-type": "Scheduled Event"`) is not HTTP-shaped; it becomes the
//! `dev.knative.sources.ping` CloudEvent a PingSource would have delivered and is POSTed to the
//! router's `/`, so horologium, sinker and the resync ticks work unchanged when an EventBridge
//! rule is their clock. A schedule whose delivery the router refuses (non-2xx) fails the
//! invocation, so Lambda's own retry policy applies, as the Broker's would under Knative.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use http_body_util::BodyExt;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde::Deserialize;
use tower::ServiceExt;

/// CloudEvent type of a PingSource tick.
pub const PING_TYPE: &str = "dev.knative.sources.ping";

/// Where scheduled events claim to come from: the Knative namespace their PingSource would live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// Namespace in `source` (`/apis/v1/namespaces/<namespace>/pingsources/<name>`); `prow` by default.
    pub namespace: String,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            namespace: "prow".to_string(),
        }
    }
}

/// Why an invocation could not be handed to the router or its answer back to Lambda.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error("invocation is neither an HTTP request nor an EventBridge scheduled event: {0}")]
    UnsupportedEvent(String),
    #[error("EventBridge event has no rule ARN in `resources` to name the schedule")]
    UnnamedSchedule,
    #[error("building the ping CloudEvent: {0}")]
    Event(#[from] cloudevents::event::EventBuilderError),
    #[error("encoding the ping CloudEvent: {0}")]
    Encode(#[from] prow_events::EncodeError),
    #[error("building the request for the router: {0}")]
    Http(#[from] http::Error),
    #[error("reading the router's response body: {0}")]
    Body(#[source] axum::Error),
    #[error("schedule {schedule}: the function refused the ping with HTTP {status}: {body}")]
    PingRefused {
        schedule: String,
        status: u16,
        body: String,
    },
}

/// Serves `router` through the Lambda Runtime API until the runtime shuts the process down.
///
/// Reads `AWS_LAMBDA_RUNTIME_API` and the other variables Lambda sets; outside Lambda they must
/// be provided (cargo-lambda's emulator, for example).
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    run_with(router, ScheduleOptions::default()).await
}

/// [`run`] with explicit [`ScheduleOptions`].
pub async fn run_with(router: Router, options: ScheduleOptions) -> Result<(), lambda_http::Error> {
    lambda_http::run(LambdaService::new(router, options)).await
}

/// The tower service `lambda_http` drives: one Lambda invocation in, one router call out.
#[derive(Debug, Clone)]
pub struct LambdaService {
    router: Router,
    options: ScheduleOptions,
}

impl LambdaService {
    pub fn new(router: Router, options: ScheduleOptions) -> Self {
        LambdaService { router, options }
    }

    /// Handles one invocation already converted by `lambda_http`.
    pub async fn handle(
        self,
        request: lambda_http::Request,
    ) -> Result<http::Response<Body>, LambdaError> {
        let pass_through = matches!(
            request.request_context_ref(),
            Some(RequestContext::PassThrough)
        );
        if !pass_through {
            let request = request.map(|body| axum::body::Body::from(body_bytes(body)));
            return call(self.router, request).await;
        }
        let payload = body_bytes(request.into_body());
        let schedule = ScheduledEvent::parse(&payload)?;
        let event = ping_event(&schedule, &self.options)?;
        let (headers, body) = prow_events::encode_binary(&event)?;
        let mut ping = http::Request::builder()
            .method(http::Method::POST)
            .uri("/")
            .body(axum::body::Body::from(body))?;
        *ping.headers_mut() = headers;
        let response = call(self.router, ping).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = match response.into_body() {
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        Err(LambdaError::PingRefused {
            schedule: schedule.rule_name()?.to_string(),
            status: status.as_u16(),
            body,
        })
    }
}

impl tower::Service<lambda_http::Request> for LambdaService {
    type Response = http::Response<Body>;
    type Error = lambda_http::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: lambda_http::Request) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            this.handle(request).await.map_err(|e| {
                tracing::warn!(error = %e, "invocation failed");
                lambda_http::Error::from(e)
            })
        })
    }
}

async fn call(
    router: Router,
    request: http::Request<axum::body::Body>,
) -> Result<http::Response<Body>, LambdaError> {
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map_err(LambdaError::Body)?.to_bytes();
    Ok(http::Response::from_parts(parts, lambda_body(bytes)))
}

fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    }
}

/// Text stays text (readable in API Gateway logs); anything else goes base64 via `Binary`.
fn lambda_body(bytes: Bytes) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    }
}

/// The parts of an EventBridge scheduled event a ping needs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ScheduledEvent {
    pub id: String,
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl ScheduledEvent {
    /// Parses a pass-through payload; anything but an `aws.events` "Scheduled Event" is refused.
    pub fn parse(payload: &[u8]) -> Result<ScheduledEvent, LambdaError> {
        let unsupported = || {
            let mut shown = String::from_utf8_lossy(payload).into_owned();
            shown.truncate(200);
            LambdaError::UnsupportedEvent(shown)
        };
        let event: ScheduledEvent = serde_json::from_slice(payload).map_err(|_| unsupported())?;
        if event.source != "aws.events" || event.detail_type != "Scheduled Event" {
            return Err(unsupported());
        }
        Ok(event)
    }

    /// The EventBridge rule's name (`arn:aws:events:<region>:<account>:rule/<name>`), which
    /// plays the PingSource name: deploy the rule for horologium as `horologium`, and so on.
    pub fn rule_name(&self) -> Result<&str, LambdaError> {
        self.resources
            .iter()
            .filter_map(|arn| arn.split_once(":rule/"))
            // Rules on a custom event bus are `rule/<bus>/<name>`.
            .filter_map(|(_, rule)| rule.rsplit('/').next())
            .find(|name| !name.is_empty())
            .ok_or(LambdaError::UnnamedSchedule)
    }
}

/// The CloudEvent a Knative PingSource named after the rule would have sent for this tick.
pub fn ping_event(
    schedule: &ScheduledEvent,
    options: &ScheduleOptions,
) -> Result<Event, LambdaError> {
    let name = schedule.rule_name()?;
    // EventBridge schedules carry `{}` as detail; a PingSource without data sends none either.
    let data = match &schedule.detail {
        serde_json::Value::Object(map) if map.is_empty() => None,
        serde_json::Value::Null => None,
        other => Some(other.clone()),
    };
    let builder = EventBuilderV10::new()
        .id(schedule.id.clone())
        .ty(PING_TYPE)
        .source(format!(
            "/apis/v1/namespaces/{}/pingsources/{name}",
            options.namespace
        ))
        .time(schedule.time);
    let builder = match data {
        Some(data) => builder.data("application/json", data),
        None => builder,
    };
    Ok(builder.build()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cloudevents::AttributesReader;

    fn schedule(resources: &[&str], detail: serde_json::Value) -> ScheduledEvent {
        ScheduledEvent {
            id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into(),
            source: "aws.events".into(),
            detail_type: "Scheduled Event".into(),
            time: "2026-11-25T14:00:00Z".parse().unwrap(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            detail,
        }
    }

    #[test]
    fn rule_name_comes_from_the_rule_arn() {
        let cases: [(&[&str], Option<&str>); 5] = [
            (
                &["arn:aws:events:us-east-1:123456789012:rule/horologium"],
                Some("horologium"),
            ),
            (
                &["arn:aws:events:us-east-1:123456789012:rule/prow-bus/sinker"],
                Some("sinker"),
            ),
            (
                &[
                    "arn:aws:lambda:us-east-1:123456789012:function:x",
                    "arn:aws:events:eu-west-1:1:rule/plank-resync",
                ],
                Some("plank-resync"),
            ),
            (&[], None),
            (&["arn:aws:events:us-east-1:1:rule/"], None),
        ];
        for (resources, want) in cases {
            let got = schedule(resources, serde_json::json!({}))
                .rule_name()
                .ok()
                .map(str::to_string);
            assert_eq!(got.as_deref(), want, "{resources:?}");
        }
    }

    #[test]
    fn parse_accepts_only_scheduled_events() {
        let scheduled = r#"{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events",
            "account":"123456789012","time":"2026-11-25T14:00:00Z","region":"us-east-1",
            "resources":["arn:aws:events:us-east-1:123456789012:rule/horologium"],"detail":{}}"#;
        let other_detail = scheduled.replace("Scheduled Event", "EC2 Instance State-change");
        let other_source = scheduled.replace("\"aws.events\"", "\"aws.ec2\"");
        let cases = [
            (scheduled.to_string(), true),
            (other_detail, false),
            (other_source, false),
            (
                r#"{"Records":[{"eventSource":"aws:sqs"}]}"#.to_string(),
                false,
            ),
            ("not json".to_string(), false),
        ];
        for (payload, ok) in cases {
            assert_eq!(
                ScheduledEvent::parse(payload.as_bytes()).is_ok(),
                ok,
                "{payload}"
            );
        }
    }

    #[test]
    fn ping_event_matches_a_pingsource_tick() {
        let options = ScheduleOptions::default();
        let event = ping_event(
            &schedule(
                &["arn:aws:events:us-east-1:1:rule/horologium"],
                serde_json::json!({}),
            ),
            &options,
        )
        .unwrap();
        assert_eq!(event.ty(), PING_TYPE);
        assert_eq!(
            event.source().to_string(),
            "/apis/v1/namespaces/prow/pingsources/horologium"
        );
        assert_eq!(event.id(), "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa");
        assert_eq!(
            event.time().map(|t| t.to_rfc3339()),
            Some("2026-11-25T14:00:00+00:00".to_string())
        );
        assert!(event.data().is_none());

        let with_data = ping_event(
            &schedule(
                &["arn:aws:events:us-east-1:1:rule/sinker"],
                serde_json::json!({"tick": "sinker"}),
            ),
            &ScheduleOptions {
                namespace: "ci".into(),
            },
        )
        .unwrap();
        assert_eq!(
            with_data.source().to_string(),
            "/apis/v1/namespaces/ci/pingsources/sinker"
        );
        let decoded: serde_json::Value = prow_events::data_json(&with_data).unwrap();
        assert_eq!(decoded, serde_json::json!({"tick": "sinker"}));
    }

    fn router() -> Router {
        use axum::routing::{get, post};
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/echo",
                post(|uri: http::Uri, body: Bytes| async move {
                    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
                    format!("{path} {}", String::from_utf8_lossy(&body))
                }),
            )
            .route(
                "/",
                post(|headers: http::HeaderMap, body: Bytes| async move {
                    match prow_events::receive(&headers, &body) {
                        Ok(e) if e.source().to_string().ends_with("/refuse") => {
                            http::StatusCode::SERVICE_UNAVAILABLE
                        }
                        Ok(_) => http::StatusCode::NO_CONTENT,
                        Err(_) => http::StatusCode::BAD_REQUEST,
                    }
                }),
            )
    }

    /// A Function URL invocation payload (API Gateway HTTP API v2 format).
    fn function_url_event(method: &str, path: &str, query: &str, body: &str) -> String {
        serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc",
                "domainName": "abc.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abc",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "test"},
                "requestId": "r1",
                "routeKey": "$default",
                "stage": "$default",
                "time": "25/Nov/2026:14:00:00 +0000",
                "timeEpoch": 1_795_615_200_000_u64
            },
            "body": body,
            "isBase64Encoded": false
        })
        .to_string()
    }

    async fn invoke(payload: &str) -> Result<http::Response<Body>, LambdaError> {
        let request = lambda_http::request::from_str(payload).unwrap();
        LambdaService::new(router(), ScheduleOptions::default())
            .handle(request)
            .await
    }

    fn text(body: &Body) -> String {
        match body {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    #[tokio::test]
    async fn http_invocations_reach_the_router_unchanged() {
        let response = invoke(&function_url_event("GET", "/healthz", "", ""))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(text(response.body()), "ok");

        let response = invoke(&function_url_event("POST", "/echo", "a=1", r#"{"x":1}"#))
            .await
            .unwrap();
        assert_eq!(text(response.body()), r#"/echo?a=1 {"x":1}"#);

        let response = invoke(&function_url_event("GET", "/nowhere", "", ""))
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }

    #[tokio::test]
    async fn schedules_become_pings_and_refusals_fail_the_invocation() {
        let scheduled = |rule: &str| {
            serde_json::json!({
                "version": "0", "id": "e1", "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "1", "time": "2026-11-25T14:00:00Z",
                "region": "us-east-1",
                "resources": [format!("arn:aws:events:us-east-1:1:rule/{rule}")],
                "detail": {}
            })
            .to_string()
        };
        let response = invoke(&scheduled("horologium")).await.unwrap();
        assert_eq!(response.status(), 204);

        match invoke(&scheduled("refuse")).await {
            Err(LambdaError::PingRefused {
                schedule, status, ..
            }) => assert_eq!((schedule.as_str(), status), ("refuse", 503)),
            other => panic!("expected a refused ping, got {other:?}"),
        }
        assert!(matches!(
            invoke(r#"{"Records":[{"eventSource":"aws:sqs"}]}"#).await,
            Err(LambdaError::UnsupportedEvent(_))
        ));
    }
}
