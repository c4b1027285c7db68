//! Black-box: the real hook server on port 0, a real CloudEvents sink, every corpus payload.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing;
use http::{HeaderMap, StatusCode};
use prow_events::{AttributesReader, Event, Publisher, RetryPolicy, data_bytes, decode};
use prow_hook::secret::sign;
use prow_hook::{Forward, HookState, SecretSource};

const ACCEPTED: &str = "Event received. Have a nice day.";

#[derive(Clone)]
struct Sink {
    events: Arc<Mutex<Vec<Event>>>,
    status: Arc<AtomicU16>,
}

async fn capture(State(sink): State<Sink>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = StatusCode::from_u16(sink.status.load(Ordering::SeqCst)).unwrap();
    if status.is_success() {
        sink.events
            .lock()
            .unwrap()
            .push(decode(&headers, &body).unwrap());
    }
    status
}

async fn start_sink() -> (Sink, String) {
    let sink = Sink {
        events: Arc::default(),
        status: Arc::new(AtomicU16::new(202)),
    };
    let app = Router::new()
        .route("/", routing::post(capture))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (sink, url)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        attempt_timeout: Duration::from_secs(10),
    }
}

/// Serves prow-hook on port 0; returns its `/hook` URL.
async fn start_hook(secret_file: &Path, sink_url: &str) -> String {
    let publisher = Publisher::new(sink_url, policy()).unwrap();
    let state = HookState::new(
        SecretSource::File(secret_file.to_owned()),
        Forward::Publish(publisher),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, prow_hook::router(state)).into_future());
    url
}

struct Delivery<'a> {
    event: &'a str,
    id: &'a str,
    token: &'a [u8],
    body: &'a [u8],
}

async fn post(client: &reqwest::Client, url: &str, d: &Delivery<'_>) -> (StatusCode, String) {
    let response = client
        .post(url)
        .header("x-github-event", d.event)
        .header("x-github-delivery", d.id)
        .header("x-hub-signature-256", sign(d.token, d.body))
        .header("content-type", "application/json")
        .body(d.body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn corpus() -> PathBuf {
    prow_testdata::webhooks()
}

fn secret_file(dir: &tempfile::TempDir, content: &str) -> PathBuf {
    let path = dir.path().join("hmac");
    std::fs::write(&path, content).unwrap();
    path
}

#[tokio::test]
async fn every_real_payload_becomes_exactly_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(&dir, "corpus-token\n");
    let (sink, sink_url) = start_sink().await;
    let hook = start_hook(&secret, &sink_url).await;
    let client = client();

    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json") && !p.ends_with("PACKAGE_package.json")
        })
        .collect();
    files.sort();
    assert!(files.len() > 100, "corpus has {} payloads", files.len());

    let mut expected = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_str().unwrap();
        let event = name.split('.').next().unwrap();
        let body = std::fs::read(file).unwrap();
        let id = format!("delivery-{i:04}");
        let (status, text) = post(
            &client,
            &hook,
            &Delivery {
                event,
                id: &id,
                token: b"corpus-token",
                body: &body,
            },
        )
        .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::OK, ACCEPTED),
            "{name}"
        );
        if event != "ping" {
            expected.push((name.to_owned(), event.to_owned(), id, body));
        }
    }

    let events = sink.events.lock().unwrap().clone();
    assert_eq!(
        events.len(),
        expected.len(),
        "one event per non-ping delivery"
    );
    for ((name, event_name, id, body), got) in expected.iter().zip(&events) {
        let payload: serde_json::Value = serde_json::from_slice(body).unwrap();
        let source = match (
            payload
                .pointer("/repository/full_name")
                .and_then(|v| v.as_str()),
            payload
                .pointer("/organization/login")
                .and_then(|v| v.as_str()),
        ) {
            (Some(repo), _) => format!("https://github.com/{repo}"),
            (None, Some(org)) => format!("https://github.com/{org}"),
            (None, None) => "https://github.com".to_owned(),
        };
        assert_eq!(got.id(), id, "{name}");
        assert_eq!(got.ty(), format!("dev.prow.github.{event_name}"), "{name}");
        assert_eq!(got.source(), &source, "{name}");
        assert_eq!(got.datacontenttype(), Some("application/json"), "{name}");
        assert_eq!(
            got.extension("action").map(ToString::to_string).as_deref(),
            payload.get("action").and_then(|a| a.as_str()),
            "{name}"
        );
        assert_eq!(
            data_bytes(got).as_deref(),
            Some(body.as_slice()),
            "{name}: data byte-identical"
        );
    }
}

#[tokio::test]
async fn invalid_deliveries_get_prows_statuses_and_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(&dir, "t0ken");
    let (sink, sink_url) = start_sink().await;
    let hook = start_hook(&secret, &sink_url).await;
    let client = client();
    let body = std::fs::read(corpus().join("push.json")).unwrap();
    let good_sig = sign(b"t0ken", &body);

    let base = || {
        client
            .post(&hook)
            .header("x-github-event", "push")
            .header("x-github-delivery", "d-1")
            .header("content-type", "application/json")
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "wrong signature",
            base()
                .header("x-hub-signature-256", sign(b"nope", &body))
                .body(body.clone()),
            StatusCode::FORBIDDEN,
            "Invalid X-Hub-Signature-256",
        ),
        (
            "sha1 only",
            base()
                .header("x-hub-signature", "sha1=00")
                .body(body.clone()),
            StatusCode::FORBIDDEN,
            "Missing X-Hub-Signature-256",
        ),
        (
            "no event header",
            client
                .post(&hook)
                .header("x-github-delivery", "d-1")
                .header("x-hub-signature-256", &good_sig)
                .header("content-type", "application/json")
                .body(body.clone()),
            StatusCode::BAD_REQUEST,
            "Missing X-GitHub-Event",
        ),
        (
            "no delivery header",
            client
                .post(&hook)
                .header("x-github-event", "push")
                .header("x-hub-signature-256", &good_sig)
                .header("content-type", "application/json")
                .body(body.clone()),
            StatusCode::BAD_REQUEST,
            "Missing X-GitHub-Delivery",
        ),
        (
            "form encoded",
            client
                .post(&hook)
                .header("x-github-event", "push")
                .header("x-github-delivery", "d-1")
                .header("x-hub-signature-256", &good_sig)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone()),
            StatusCode::BAD_REQUEST,
            "content-type: application/json",
        ),
        (
            "signed malformed JSON",
            base()
                .header("x-hub-signature-256", sign(b"t0ken", b"{\"ref\": "))
                .body("{\"ref\": "),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            "GET",
            client.get(&hook),
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method not allowed",
        ),
    ];
    for (name, request, status, reason) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{name}");
        let text = response.text().await.unwrap();
        assert!(text.contains(reason), "{name}: {text:?} lacks {reason:?}");
    }

    let oversized = vec![b' '; 25 * 1024 * 1024 + 1];
    let response = base()
        .header("x-hub-signature-256", sign(b"t0ken", &oversized))
        .body(oversized)
        .send()
        .await;
    // The server may answer 413 before reading everything; the client then sees the 413
    // or, depending on timing, a reset connection. Either way nothing is published.
    if let Ok(response) = response {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert!(sink.events.lock().unwrap().is_empty(), "nothing published");
}

#[tokio::test]
async fn an_unavailable_sink_makes_github_redeliver_and_the_event_id_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(&dir, "t0ken");
    let (sink, sink_url) = start_sink().await;
    let hook = start_hook(&secret, &sink_url).await;
    let client = client();
    let body = std::fs::read(corpus().join("issue_comment.created.json")).unwrap();
    let delivery = Delivery {
        event: "issue_comment",
        id: "redelivered-1",
        token: b"t0ken",
        body: &body,
    };

    sink.status.store(503, Ordering::SeqCst);
    let (status, _) = post(&client, &hook, &delivery).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(sink.events.lock().unwrap().is_empty());

    sink.status.store(202, Ordering::SeqCst);
    assert_eq!(post(&client, &hook, &delivery).await.0, StatusCode::OK);
    assert_eq!(post(&client, &hook, &delivery).await.0, StatusCode::OK);
    let events = sink.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], events[1], "same delivery, same event");
    assert_eq!(events[0].id(), "redelivered-1");

    // No sink listening at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let hook_without_sink = start_hook(&secret, &gone).await;
    assert_eq!(
        post(&client, &hook_without_sink, &delivery).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn rotated_secrets_accept_old_and_new_tokens_and_repo_keys_shadow_the_wildcard() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(
        &dir,
        "'*': [{value: s3cr3t-global, created_at: 2024-01-01T00:00:00Z}]\n\
         acme: [{value: old, created_at: 2024-01-01T00:00:00Z}, {value: new, created_at: 2024-06-01T00:00:00Z}]\n\
         acme/foo: [{value: repo-only, created_at: 2024-06-01T00:00:00Z}]\n",
    );
    let (sink, sink_url) = start_sink().await;
    let hook = start_hook(&secret, &sink_url).await;
    let client = client();
    let bar = br#"{"action":"opened","repository":{"full_name":"acme/bar"}}"#;
    let foo = br#"{"action":"opened","repository":{"full_name":"acme/foo"}}"#;
    let other = br#"{"action":"opened","repository":{"full_name":"other/repo"}}"#;
    let org_only = br#"{"action":"created","organization":{"login":"acme"}}"#;

    let cases: &[(&[u8], &[u8], StatusCode)] = &[
        (bar, b"old", StatusCode::OK),
        (bar, b"new", StatusCode::OK),
        (bar, b"s3cr3t-global", StatusCode::FORBIDDEN),
        (foo, b"repo-only", StatusCode::OK),
        (foo, b"new", StatusCode::FORBIDDEN),
        (foo, b"s3cr3t-global", StatusCode::FORBIDDEN),
        (other, b"s3cr3t-global", StatusCode::OK),
        (org_only, b"new", StatusCode::OK),
    ];
    for (i, (body, token, want)) in cases.iter().enumerate() {
        let id = format!("rot-{i}");
        let d = Delivery {
            event: "pull_request",
            id: &id,
            token,
            body,
        };
        let (status, text) = post(&client, &hook, &d).await;
        assert_eq!(
            status,
            *want,
            "case {i} ({}): {text}",
            String::from_utf8_lossy(token)
        );
    }
    let accepted = cases.iter().filter(|c| c.2 == StatusCode::OK).count();
    assert_eq!(sink.events.lock().unwrap().len(), accepted);

    // Rotation finished: the old token is dropped from the file, no restart needed.
    std::fs::write(
        &secret,
        "acme: [{value: new, created_at: 2024-06-01T00:00:00Z}]\n",
    )
    .unwrap();
    let old = Delivery {
        event: "pull_request",
        id: "after-1",
        token: b"old",
        body: bar,
    };
    assert_eq!(post(&client, &hook, &old).await.0, StatusCode::FORBIDDEN);
    let new = Delivery {
        event: "pull_request",
        id: "after-2",
        token: b"new",
        body: bar,
    };
    assert_eq!(post(&client, &hook, &new).await.0, StatusCode::OK);
}
