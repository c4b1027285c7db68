//! Publisher and receiver talking real HTTP on loopback: retries, rejections, limits.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use prow_events::{
    CloudEvent, Event, EventBuilder, EventBuilderV10, PublishError, Publisher, RetryPolicy,
    encode_binary,
};
use tower_http::limit::RequestBodyLimitLayer;

#[derive(Clone, Default)]
struct Sink {
    /// Status to answer for each successive request; 202 once exhausted.
    script: Arc<Mutex<VecDeque<StatusCode>>>,
    received: Arc<Mutex<Vec<Event>>>,
    delay: Option<Duration>,
}

async fn accept(State(sink): State<Sink>, CloudEvent(event): CloudEvent) -> (StatusCode, String) {
    if let Some(delay) = sink.delay {
        tokio::time::sleep(delay).await;
    }
    sink.received.lock().unwrap().push(event);
    let status = sink
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(StatusCode::ACCEPTED);
    (status, format!("scripted {}", status.as_u16()))
}

async fn start(sink: Sink) -> String {
    let app = Router::new()
        .route("/", post(accept))
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .with_state(sink);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

fn sink_with(script: &[u16]) -> Sink {
    let sink = Sink::default();
    *sink.script.lock().unwrap() = script
        .iter()
        .map(|c| StatusCode::from_u16(*c).unwrap())
        .collect();
    sink
}

fn fast(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        attempt_timeout: Duration::from_secs(10),
    }
}

fn push_event() -> Event {
    EventBuilderV10::new()
        .id("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .ty("dev.prow.github.push")
        .source("https://github.com/acme/foo")
        .extension("action", "opened")
        .data(
            "application/json",
            br#"{"ref": "refs/heads/main"}"#.to_vec(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_accepted_event_arrives_once_and_unchanged() {
    let sink = sink_with(&[]);
    let publisher = Publisher::new(&start(sink.clone()).await, fast(3)).unwrap();
    let (result, attempts) = publisher.publish_counting_attempts(&push_event()).await;
    result.unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(*sink.received.lock().unwrap(), vec![push_event()]);
}

#[tokio::test]
async fn retryable_answers_are_retried_until_accepted() {
    let sink = sink_with(&[503, 429, 408, 500]);
    let publisher = Publisher::new(&start(sink.clone()).await, fast(5)).unwrap();
    let (result, attempts) = publisher.publish_counting_attempts(&push_event()).await;
    result.unwrap();
    assert_eq!(attempts, 5);
    assert_eq!(sink.received.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn a_client_error_is_final_and_carries_the_sinks_reason() {
    let sink = sink_with(&[404]);
    let publisher = Publisher::new(&start(sink.clone()).await, fast(5)).unwrap();
    let (result, attempts) = publisher.publish_counting_attempts(&push_event()).await;
    assert_eq!(attempts, 1);
    match result {
        Err(PublishError::Rejected { status, body, .. }) => {
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(body, "scripted 404");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn attempts_are_bounded() {
    let sink = sink_with(&[500, 500, 500, 500]);
    let publisher = Publisher::new(&start(sink.clone()).await, fast(3)).unwrap();
    let (result, attempts) = publisher.publish_counting_attempts(&push_event()).await;
    assert_eq!(attempts, 3);
    assert!(
        matches!(&result, Err(PublishError::Exhausted { attempts: 3, last, .. }) if last.contains("500")),
        "{result:?}"
    );
    assert_eq!(sink.received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn an_unreachable_sink_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let publisher = Publisher::new(&url, fast(2)).unwrap();
    let (result, attempts) = publisher.publish_counting_attempts(&push_event()).await;
    assert_eq!(attempts, 2);
    assert!(
        matches!(result, Err(PublishError::Exhausted { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_slow_sink_hits_the_per_attempt_timeout() {
    let sink = Sink {
        delay: Some(Duration::from_secs(30)),
        ..Sink::default()
    };
    let policy = RetryPolicy {
        attempt_timeout: Duration::from_millis(300),
        ..fast(2)
    };
    let publisher = Publisher::new(&start(sink).await, policy).unwrap();
    let started = std::time::Instant::now();
    let (result, attempts) = publisher.publish_counting_attempts(&push_event()).await;
    assert_eq!(attempts, 2);
    assert!(
        matches!(result, Err(PublishError::Exhausted { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn the_receiver_explains_bad_requests_and_enforces_the_body_limit() {
    let sink = Sink::default();
    let url = start(sink.clone()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();

    let plain = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    assert!(plain.text().await.unwrap().contains("not a CloudEvent"));

    let mut big = push_event();
    big.set_data("application/json", vec![b' '; 65 * 1024]);
    let (headers, body) = encode_binary(&big).unwrap();
    let too_big = client
        .post(&url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(sink.received.lock().unwrap().is_empty());
}

/// The sink token is read for every event: absent means no `Authorization`, and a rotated
/// token (Knative refreshes the mounted OIDC token) is used from the next event on.
#[tokio::test]
async fn the_bearer_token_file_is_read_for_every_event() {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/",
        post(move |headers: http::HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(
                    headers
                        .get(http::header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap().to_string()),
                );
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    let publisher = Publisher::new(&url, fast(1))
        .unwrap()
        .with_bearer_token_file(&token);

    publisher.publish(&push_event()).await.unwrap();
    std::fs::write(&token, "first\n").unwrap();
    publisher.publish(&push_event()).await.unwrap();
    std::fs::write(&token, "second").unwrap();
    publisher.publish(&push_event()).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            None,
            Some("Bearer first".to_string()),
            Some("Bearer second".to_string())
        ]
    );
}
