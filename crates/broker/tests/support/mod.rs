//! Test doubles shared by the black-box tests: recording subscriber routers and event builders.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prow_events::{Event, EventBuilder, EventBuilderV10};

/// One request a subscriber saw.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Responder = Arc<dyn Fn(usize, &Received) -> Response + Send + Sync>;

/// A subscriber router that records every request and answers with `respond(n, request)`.
#[derive(Clone)]
pub(crate) struct Recorder {
    pub seen: Arc<Mutex<Vec<Received>>>,
    respond: Responder,
}

impl Recorder {
    pub(crate) fn accepting() -> Recorder {
        Recorder::new(|_, _| StatusCode::ACCEPTED.into_response())
    }

    pub(crate) fn new(
        respond: impl Fn(usize, &Received) -> Response + Send + Sync + 'static,
    ) -> Recorder {
        Recorder {
            seen: Arc::default(),
            respond: Arc::new(respond),
        }
    }

    pub(crate) fn router(&self) -> Router {
        let this = self.clone();
        Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let this = this.clone();
                async move {
                    let received = Received {
                        path: uri.path().to_string(),
                        headers,
                        body,
                    };
                    let n = {
                        let mut seen = this.seen.lock().unwrap();
                        seen.push(received.clone());
                        seen.len()
                    };
                    (this.respond)(n, &received)
                }
            },
        )
    }

    pub(crate) fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub(crate) fn types(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.header("ce-type").unwrap_or_default().to_string())
            .collect()
    }

    pub(crate) fn last(&self) -> Option<Received> {
        self.seen.lock().unwrap().last().cloned()
    }
}

/// Recorders for every function named by eventing/*.yaml.
pub(crate) fn functions() -> (HashMap<String, Router>, HashMap<&'static str, Recorder>) {
    let mut routers = HashMap::new();
    let mut recorders = HashMap::new();
    for name in [
        "hook",
        "trigger",
        "plank",
        "crier",
        "sinker",
        "horologium",
        "deck",
        "plugins",
        "tide",
        "config-updater",
        "needs-rebase",
        "cherrypicker",
        "branchprotector",
        "status-reconciler",
        "redelivery",
        "dead-letters",
    ] {
        let r = Recorder::accepting();
        routers.insert(name.to_string(), r.router());
        recorders.insert(name, r);
    }
    (routers, recorders)
}

pub(crate) fn eventing_dir() -> String {
    format!("{}/../../eventing", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn github_event(event: &str, data: &str) -> Event {
    EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .ty(format!("dev.prow.github.{event}"))
        .source("https://github.com/acme/widgets")
        .extension("action", "opened")
        .data("application/json", data.as_bytes().to_vec())
        .build()
        .unwrap()
}

pub(crate) fn apiserver_event(change: &str, kind: &str, name: &str) -> Event {
    let api_version = if kind == "ProwJob" {
        "prow.k8s.io/v1"
    } else {
        "v1"
    };
    EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .ty(format!("dev.knative.apiserver.resource.{change}"))
        .source("https://10.96.0.1:443")
        .subject(format!(
            "/apis/{api_version}/namespaces/prow/{}s/{name}",
            kind.to_lowercase()
        ))
        .extension("kind", kind)
        .extension("apiversion", api_version)
        .extension("name", name)
        .extension("namespace", "prow")
        .data(
            "application/json",
            format!(r#"{{"kind":"{kind}","metadata":{{"name":"{name}"}}}}"#).into_bytes(),
        )
        .build()
        .unwrap()
}

pub(crate) fn ping_event(source: &str) -> Event {
    EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .ty("dev.knative.sources.ping")
        .source(format!("/apis/v1/namespaces/prow/pingsources/{source}"))
        .data("application/json", br#"{"tick":true}"#.to_vec())
        .build()
        .unwrap()
}

/// Polls `cond` until it holds or 20 s pass (generous for a loaded machine).
pub(crate) async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
