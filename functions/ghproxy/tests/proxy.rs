//! The proxy on a port-0 socket in front of a fake GitHub (wiremock): revalidation, changes,
//! invalidation by writes, token partitions, links, errors, redirects, durability, throttling
//! and metrics.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use prow_ghproxy::decide::ThrottleSettings;
use prow_ghproxy::store::{CacheStore, MemoryCacheStore, RedbCacheStore};
use prow_ghproxy::{GhproxyState, Options};
use support::{FakeGitHub, call, client, serve_proxy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn memory() -> Arc<dyn CacheStore> {
    Arc::new(MemoryCacheStore::new())
}

async fn body(response: reqwest::Response) -> (String, serde_json::Value) {
    let mode = response.headers()["x-cache-mode"]
        .to_str()
        .unwrap()
        .to_owned();
    (mode, response.json().await.unwrap())
}

async fn metrics(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeated_read_is_revalidated_with_the_etag_and_served_from_the_store_for_free() {
    let (github, fake) = FakeGitHub::start().await;
    let (base, _) = serve_proxy(&github.uri(), memory(), Options::default()).await;
    let http = client();
    let first = call(
        &http,
        &base,
        "GET",
        "/repos/o/r/pulls/1",
        "t1",
        "prow-tide/0.1",
    )
    .await;
    assert_eq!(first.headers()["etag"], "\"v1\"");
    let (mode, first) = body(first).await;
    assert_eq!(mode, "MISS");
    let (_, _, validator, auth) = fake.last_request();
    assert_eq!(validator, None);
    assert_eq!(
        auth.as_deref(),
        Some("token t1"),
        "the caller's token goes upstream"
    );

    let second = call(
        &http,
        &base,
        "GET",
        "/repos/o/r/pulls/1",
        "t1",
        "prow-tide/0.1",
    )
    .await;
    assert_eq!(
        second.status(),
        200,
        "the caller sees a 200, not GitHub's 304"
    );
    assert_eq!(second.headers()["x-ratelimit-remaining"], "4999");
    let (mode, second) = body(second).await;
    assert_eq!(mode, "REVALIDATED");
    assert_eq!(second, first);
    let (_, _, validator, _) = fake.last_request();
    assert_eq!(
        validator.as_deref(),
        Some("\"v1\""),
        "a conditional request"
    );
    assert_eq!((fake.spent(), fake.free()), (1, 1));

    let text = metrics(&base).await;
    for line in [
        "ghproxy_rate_limit_saved_total{caller=\"prow-tide\",token=",
        "ghproxy_rate_limit_remaining{token=",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
    assert!(text.contains("} 4999"), "{text}");
    assert!(
        !text.contains("t1\""),
        "the token itself never shows: {text}"
    );
}

#[tokio::test]
async fn a_write_passes_through_and_a_changed_resource_replaces_the_copy() {
    let (github, fake) = FakeGitHub::start().await;
    let (base, _) = serve_proxy(&github.uri(), memory(), Options::default()).await;
    let http = client();
    let labels = "/repos/o/r/issues/7/labels";
    let (mode, before) = body(call(&http, &base, "GET", labels, "t", "prow-plugins").await).await;
    assert_eq!(
        (mode.as_str(), before["version"].as_u64()),
        ("MISS", Some(1))
    );

    let write = call(&http, &base, "POST", labels, "t", "prow-plugins").await;
    assert_eq!(write.status(), 201);
    assert_eq!(write.headers()["x-cache-mode"], "SKIP");
    assert_eq!(
        fake.ledger.lock().unwrap().bodies,
        [r#"{"labels":["size/S"]}"#]
    );

    let (mode, after) = body(call(&http, &base, "GET", labels, "t", "prow-plugins").await).await;
    assert_eq!(
        (mode.as_str(), after["version"].as_u64()),
        ("CHANGED", Some(2))
    );
    let (mode, again) = body(call(&http, &base, "GET", labels, "t", "prow-plugins").await).await;
    assert_eq!((mode.as_str(), again), ("REVALIDATED", after));
}

#[tokio::test]
async fn a_mutation_invalidates_the_cached_read_it_changes() {
    let (github, fake) = FakeGitHub::start().await;
    let options = Options {
        fresh_for: Duration::from_secs(3600),
        ..Options::default()
    };
    let (base, _) = serve_proxy(&github.uri(), memory(), options).await;
    let http = client();
    let pr = "/repos/o/r/pulls/9";
    let files = "/repos/o/r/pulls/10/files";
    for read in [pr, files] {
        assert_eq!(
            body(call(&http, &base, "GET", read, "t", "x").await)
                .await
                .0,
            "MISS"
        );
        assert_eq!(
            body(call(&http, &base, "GET", read, "t", "x").await)
                .await
                .0,
            "FRESH"
        );
    }
    let sent = fake.requests();
    assert_eq!(sent, 2, "fresh copies are served without asking");

    // Labelling issue 9 changes PR 9 (issues and pulls share numbers), not PR 10.
    call(&http, &base, "POST", "/repos/o/r/issues/9/labels", "t", "x").await;
    let (mode, after) = body(call(&http, &base, "GET", pr, "t", "x").await).await;
    assert_eq!(
        mode, "CHANGED",
        "the write ended the window: GitHub was asked"
    );
    assert_eq!(after["version"], 2);
    assert_eq!(
        body(call(&http, &base, "GET", files, "t", "x").await)
            .await
            .0,
        "FRESH"
    );
    assert_eq!(fake.requests(), sent + 2);
    assert!(
        metrics(&base)
            .await
            .contains("ghproxy_cache_invalidated_total 1")
    );
}

#[tokio::test]
async fn each_token_has_its_own_partition_and_budget() {
    let (github, fake) = FakeGitHub::start().await;
    let (base, _) = serve_proxy(&github.uri(), memory(), Options::default()).await;
    let http = client();
    let read = "/repos/o/r/collaborators";
    assert_eq!(
        body(call(&http, &base, "GET", read, "alpha", "a").await)
            .await
            .0,
        "MISS"
    );
    assert_eq!(
        body(call(&http, &base, "GET", read, "beta", "b").await)
            .await
            .0,
        "MISS",
        "another token's copy is not used: GitHub's answers vary by token"
    );
    assert_eq!(
        body(call(&http, &base, "GET", read, "beta", "b").await)
            .await
            .0,
        "REVALIDATED"
    );
    assert_eq!(fake.spent(), 2);
    let text = metrics(&base).await;
    let tokens: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("ghproxy_rate_limit_remaining{"))
        .filter_map(|l| l.split("token=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(tokens.len(), 2, "{text}");
    assert!(!text.contains("alpha") && !text.contains("beta"), "{text}");
}

#[tokio::test]
async fn next_page_links_point_back_at_the_proxy() {
    let github = MockServer::start().await;
    let link = format!(
        "<{}/repositories/1/pulls?page=2>; rel=\"next\"",
        github.uri()
    );
    Mock::given(method("GET"))
        .and(path("/repos/o/r/pulls"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"p1\"")
                .insert_header("link", link.as_str())
                .set_body_json(serde_json::json!([])),
        )
        .mount(&github)
        .await;
    let (base, _) = serve_proxy(&github.uri(), memory(), Options::default()).await;
    let response = call(&client(), &base, "GET", "/repos/o/r/pulls", "t", "x").await;
    assert_eq!(
        response.headers()["link"],
        format!("<{base}/repositories/1/pulls?page=2>; rel=\"next\"").as_str()
    );
}

#[tokio::test]
async fn errors_and_redirects_are_passed_on_and_a_vanished_resource_is_forgotten() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/o/members/someone"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "/orgs/o/public_members/someone"),
        )
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues/3"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"i3\"")
                .set_body_json(serde_json::json!({"number": 3})),
        )
        .up_to_n_times(1)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues/3"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        )
        .mount(&github)
        .await;
    let store = memory();
    let (base, _) = serve_proxy(&github.uri(), store.clone(), Options::default()).await;
    let http = client();
    let redirect = call(&http, &base, "GET", "/orgs/o/members/someone", "t", "x").await;
    assert_eq!(
        redirect.status(),
        302,
        "GitHub's 302 is the answer, not followed"
    );
    assert_eq!(redirect.headers()["x-cache-mode"], "NO-STORE");

    assert_eq!(
        call(&http, &base, "GET", "/repos/o/r/issues/3", "t", "x")
            .await
            .status(),
        200
    );
    assert_eq!(store.len().unwrap(), 1);
    let gone = call(&http, &base, "GET", "/repos/o/r/issues/3", "t", "x").await;
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.headers()["x-cache-mode"], "NO-STORE");
    assert_eq!(
        store.len().unwrap(),
        0,
        "the copy of a deleted issue is dropped"
    );
}

#[tokio::test]
async fn an_unreachable_github_is_a_502_without_the_token() {
    let (base, _) = serve_proxy("http://127.0.0.1:9", memory(), Options::default()).await;
    let response = call(&client(), &base, "GET", "/repos/o/r", "ghp_secret", "x").await;
    assert_eq!(response.status(), 502);
    assert!(!response.text().await.unwrap().contains("ghp_secret"));
    assert!(
        metrics(&base)
            .await
            .contains("ghproxy_upstream_errors_total 1")
    );
}

#[tokio::test]
async fn the_durable_store_still_answers_after_a_restart() {
    let (github, fake) = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let http = client();
    {
        let store: Arc<dyn CacheStore> = Arc::new(prow_ghproxy::open_store(dir.path()).unwrap());
        let state = GhproxyState::new(&github.uri(), store, Options::default()).unwrap();
        let response = tower::ServiceExt::oneshot(
            prow_ghproxy::router(state),
            http::Request::get("/repos/o/r/contents/OWNERS")
                .header("authorization", "token t")
                .header("accept", "application/vnd.github+json")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(response.headers()["x-cache-mode"], "MISS");
    }
    let store: Arc<dyn CacheStore> =
        Arc::new(RedbCacheStore::open(&dir.path().join(prow_ghproxy::STORE_FILE)).unwrap());
    let (base, _) = serve_proxy(&github.uri(), store, Options::default()).await;
    let (mode, _) =
        body(call(&http, &base, "GET", "/repos/o/r/contents/OWNERS", "t", "x").await).await;
    assert_eq!(
        mode, "REVALIDATED",
        "the copy made before the restart was used"
    );
    assert_eq!((fake.spent(), fake.free()), (1, 1));
}

#[tokio::test]
async fn a_tokens_requests_are_spaced_by_the_throttle_but_other_tokens_are_not_held() {
    let (github, _fake) = FakeGitHub::start().await;
    let options = Options {
        throttle: ThrottleSettings {
            spacing: Duration::from_millis(300),
            get_spacing: Duration::from_millis(150),
            max_delay: Duration::from_secs(5),
        },
        ..Options::default()
    };
    let (base, _) = serve_proxy(&github.uri(), memory(), options).await;
    let http = client();
    let started = tokio::time::Instant::now();
    for n in 0..3 {
        call(
            &http,
            &base,
            "GET",
            &format!("/repos/o/r/issues/{n}"),
            "busy",
            "x",
        )
        .await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "three GETs of one token leave 150 ms apart: {:?}",
        started.elapsed()
    );
    let other = tokio::time::Instant::now();
    call(&http, &base, "GET", "/repos/o/r/issues/0", "idle", "x").await;
    assert!(
        other.elapsed() < Duration::from_millis(150),
        "{:?}",
        other.elapsed()
    );
    assert!(
        metrics(&base)
            .await
            .contains("ghproxy_throttled_seconds_total{token=")
    );
}

/// A request body over the proxy's limit is refused with 413 before anything is forwarded.
#[tokio::test]
async fn an_oversized_body_is_refused_with_413_and_never_reaches_github() {
    let github = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .named("nothing forwarded")
        .mount(&github)
        .await;
    let state = GhproxyState::new(&github.uri(), memory(), Options::default()).unwrap();
    let over_limit = vec![b' '; 32 * 1024 * 1024 + 1];
    let response = tower::ServiceExt::oneshot(
        prow_ghproxy::router(state),
        http::Request::post("/repos/o/r/issues/1/comments")
            .header("authorization", "token t")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(over_limit))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 413);
    github.verify().await;
}

#[tokio::test]
async fn identical_reads_in_flight_at_once_ask_github_once() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/pulls/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_json(serde_json::json!({"number": 1}))
                // Long enough for every caller below to arrive while the first is asked.
                .set_delay(Duration::from_millis(600)),
        )
        .mount(&github)
        .await;
    let (base, _) = serve_proxy(&github.uri(), memory(), Options::default()).await;
    let http = client();
    let mut calls = Vec::new();
    for token in ["t1", "t1", "t1", "t1", "t1", "t1", "t2"] {
        let (http, base) = (http.clone(), base.clone());
        calls.push(tokio::spawn(async move {
            let response = call(
                &http,
                &base,
                "GET",
                "/repos/o/r/pulls/1",
                token,
                "prow-plugins/0.1",
            )
            .await;
            assert_eq!(response.status(), 200);
            (token, body(response).await)
        }));
    }
    let mut modes: Vec<(&str, String)> = Vec::new();
    for call in calls {
        let (token, (mode, value)) = call.await.unwrap();
        assert_eq!(value, serde_json::json!({"number": 1}));
        modes.push((token, mode));
    }
    modes.sort();
    assert_eq!(
        modes,
        [
            ("t1", "COALESCED"),
            ("t1", "COALESCED"),
            ("t1", "COALESCED"),
            ("t1", "COALESCED"),
            ("t1", "COALESCED"),
            ("t1", "MISS"),
            // Another token is another cache partition: never answered with t1's answer.
            ("t2", "MISS"),
        ]
        .map(|(t, m)| (t, m.to_owned()))
    );
    let asked = |requests: &[wiremock::Request], token: &str| {
        requests
            .iter()
            .filter(|r| r.headers["authorization"] == format!("token {token}").as_str())
            .count()
    };
    let requests = github.received_requests().await.unwrap();
    assert_eq!((asked(&requests, "t1"), asked(&requests, "t2")), (1, 1));
    let text = metrics(&base).await;
    assert!(
        text.lines()
            .any(|l| l.contains("mode=\"COALESCED\"") && l.ends_with(" 5")),
        "{text}"
    );

    // Once answered, the read is forgotten: the next GET asks GitHub again (with the ETag).
    let later = call(
        &http,
        &base,
        "GET",
        "/repos/o/r/pulls/1",
        "t1",
        "prow-plugins/0.1",
    )
    .await;
    assert_ne!(later.headers()["x-cache-mode"], "COALESCED");
    let requests = github.received_requests().await.unwrap();
    assert_eq!(asked(&requests, "t1"), 2);
    assert_eq!(requests.last().unwrap().headers["if-none-match"], "\"v1\"");
}
