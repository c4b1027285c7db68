//! Every function's HTTP edge refuses what it does not expect: a table of requests against the
//! two shared routers (ticks, events), which answer before any handler runs, and an audit that
//! every function serves one of them or is a listed exception with its own tested limits.

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use prow_runtime::{EventCounter, EventFunction, TickCounter, TickFunction};
use tower::ServiceExt;

const LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
struct Ticker {
    ticks: TickCounter,
}

impl TickFunction for Ticker {
    const NAME: &'static str = "ticker";
    type Report = ();
    type Error = std::fmt::Error;

    async fn tick(&self) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn ticks(&self) -> &TickCounter {
        &self.ticks
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        Ok(String::new())
    }
}

#[derive(Debug, Clone, Default)]
struct Handler {
    events: EventCounter,
}

impl EventFunction for Handler {
    type Error = std::fmt::Error;

    fn event_label(_: &prow_events::Event) -> String {
        "any".to_owned()
    }

    async fn handle(&self, _: &prow_events::Event) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn is_bad_request(_: &std::fmt::Error) -> bool {
        false
    }

    fn events(&self) -> &EventCounter {
        &self.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        Ok(String::new())
    }
}

/// A binary-mode CloudEvent request (the ping type, so both routers take it).
fn cloud_event(method: Method, uri: &str, body: Vec<u8>, content_length: bool) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("ce-specversion", "1.0")
        .header("ce-id", "1")
        .header("ce-type", prow_core::events::PING)
        .header("ce-source", "/apis/v1/namespaces/prow/pingsources/x")
        .header("content-type", "application/json");
    if content_length {
        builder = builder.header("content-length", body.len());
    }
    builder.body(Body::from(body)).expect("request")
}

fn plain(method: Method, uri: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn both_shared_routers_refuse_big_bodies_other_methods_and_non_events() {
    let big = vec![b'{'; LIMIT + 1];
    let routers = [
        ("tick", prow_runtime::tick_router(Ticker::default(), LIMIT)),
        (
            "event",
            prow_runtime::event_router(Handler::default(), LIMIT),
        ),
    ];
    for (name, router) in routers {
        let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
            (
                "a ping is taken",
                cloud_event(Method::POST, "/", b"{}".to_vec(), false),
                StatusCode::OK,
            ),
            (
                "a body over the limit, announced",
                cloud_event(Method::POST, "/", big.clone(), true),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "a body over the limit, streamed without a length",
                cloud_event(Method::POST, "/", big.clone(), false),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "not a CloudEvent",
                plain(Method::POST, "/", "text/plain", "hello"),
                StatusCode::BAD_REQUEST,
            ),
            (
                "GET on the event endpoint",
                plain(Method::GET, "/", "text/plain", ""),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "PUT on the event endpoint",
                cloud_event(Method::PUT, "/", b"{}".to_vec(), false),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "DELETE on the event endpoint",
                plain(Method::DELETE, "/", "text/plain", ""),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "POST to /healthz",
                plain(Method::POST, "/healthz", "text/plain", "x"),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "POST to /metrics",
                plain(Method::POST, "/metrics", "text/plain", "x"),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "an unknown path",
                plain(Method::POST, "/admin", "application/json", "{}"),
                StatusCode::NOT_FOUND,
            ),
        ];
        for (case, request, want) in cases {
            let got = router
                .clone()
                .oneshot(request)
                .await
                .expect("answer")
                .status();
            assert_eq!(got, want, "{name} router: {case}");
        }
    }
}

/// Functions whose router is not one of the shared two: the file showing how theirs refuses
/// what it does not expect, and the text that must be there.
const OWN_ROUTERS: [(&str, &str, &str); 4] = [
    // GitHub's 25 MB limit (413), 405 for anything but POST, 400/403 unsigned or malformed.
    (
        "hook",
        "functions/hook/tests/router.rs",
        "PAYLOAD_TOO_LARGE",
    ),
    // 8 MiB limit and prow_events::receive, as event_router; an event over it changes nothing.
    (
        "plank",
        "functions/plank/tests/events.rs",
        "an_oversized_event_is_refused_with_413_and_changes_nothing",
    ),
    // Form posts under axum's 2 MB default body limit; auth and CSRF on state changes (tested).
    (
        "deck",
        "functions/deck/tests/router.rs",
        "rerun_needs_an_allowed_user_and_csrf",
    ),
    // A reverse proxy bounding bodies in its handler: 413, nothing forwarded.
    (
        "ghproxy",
        "functions/ghproxy/tests/proxy.rs",
        "an_oversized_body_is_refused_with_413_and_never_reaches_github",
    ),
];

#[test]
fn every_function_serves_a_shared_router_or_is_a_listed_exception() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut unaudited = Vec::new();
    for entry in std::fs::read_dir(root.join("functions")).expect("functions/") {
        let krate = entry.expect("entry").path();
        if !krate.join("Cargo.toml").is_file() {
            continue;
        }
        let name = krate
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let sources: String = std::fs::read_dir(krate.join("src"))
            .expect("src/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .map(|p| std::fs::read_to_string(p).expect("source"))
            .collect();
        let shared = sources.contains("prow_runtime::tick_router(")
            || sources.contains("prow_runtime::event_router(");
        match OWN_ROUTERS.iter().find(|(n, _, _)| *n == name) {
            Some((_, evidence, needle)) => {
                let text = std::fs::read_to_string(root.join(evidence)).unwrap_or_default();
                assert!(text.contains(needle), "{name}: {evidence} lacks {needle:?}");
            }
            None if shared => {}
            None => unaudited.push(name),
        }
    }
    assert!(
        unaudited.is_empty(),
        "functions serving their own router without a listed limit: {unaudited:?}"
    );
}
