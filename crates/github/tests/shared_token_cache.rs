//! Two instances acting as one GitHub App share its installation token through a real
//! ghproxy (`SharedTokenCache`): one mint between them, and ghproxy keeps only a sealed blob.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use clap::Parser;
use prow_ghproxy::store::{CacheStore, MemoryCacheStore};
use prow_github::{Credentials, GitHub, GitHubArgs, OctocrabGitHub, RetryPolicy, SharedTokenCache};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: u64 = 12;
const KEY: &str = include_str!("fixtures/test-app-key.pem");

fn key_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-app-key.pem")
}

fn labels_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!([{"name": "lgtm", "color": "15dd18"}]))
}

/// A ghproxy in front of `upstream` on a port-0 socket; its store is returned for inspection.
async fn ghproxy(upstream: &str) -> (String, Arc<MemoryCacheStore>) {
    let store = Arc::new(MemoryCacheStore::new());
    let state =
        prow_ghproxy::GhproxyState::new(upstream, store.clone(), prow_ghproxy::Options::default())
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, prow_ghproxy::router(state)).await });
    (url, store)
}

#[tokio::test]
async fn instances_behind_one_ghproxy_mint_one_installation_token_between_them() {
    let github = MockServer::start().await;
    // Each instance lists the installations once (that listing is per process).
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 101, "account": {"login": "acme", "id": 1, "type": "Organization"},
             "app_id": APP_ID, "target_type": "Organization"}
        ])))
        .expect(2)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/101/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "ghs_shared-1",
            "expires_at": "2099-01-01T00:00:00Z"
        })))
        .expect(1)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/1/labels"))
        .and(header("authorization", "Bearer ghs_shared-1"))
        .respond_with(labels_ok())
        .expect(2)
        .mount(&github)
        .await;
    let (proxy, store) = ghproxy(&github.uri()).await;

    // One instance built by hand, the other from the flags every function takes.
    let first = OctocrabGitHub::builder(github.uri())
        .credentials(Credentials::App {
            app_id: APP_ID,
            private_key_pem: KEY.to_owned(),
            installation_id: None,
        })
        .retry_policy(RetryPolicy::for_tests())
        .token_cache(Arc::new(
            SharedTokenCache::new(&proxy, KEY.as_bytes()).unwrap(),
        ))
        .build()
        .unwrap();
    first.add_label("acme", "foo", 1, "lgtm").await.unwrap();

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        github: GitHubArgs,
    }
    let key = key_path();
    let args = Args::try_parse_from([
        "fn",
        "--github-endpoint",
        &github.uri(),
        "--github-app-id",
        "12",
        "--github-app-private-key-path",
        key.to_str().unwrap(),
        "--github-app-token-cache-url",
        &proxy,
    ])
    .unwrap();
    let second = prow_github::connect(&args.github.settings(false)).unwrap();
    second.add_label("acme", "foo", 1, "lgtm").await.unwrap();

    let sealed = store
        .get("\u{1}app-tokens/github-app/12/installation/101")
        .unwrap()
        .expect("the token is kept in ghproxy");
    assert!(
        !String::from_utf8_lossy(&sealed.body).contains("ghs_shared"),
        "ghproxy holds the token sealed, never in the clear"
    );
}

#[tokio::test]
async fn a_blob_sealed_by_another_app_key_is_a_miss_and_the_instance_mints() {
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/7/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "ghs_own-1",
            "expires_at": "2099-01-01T00:00:00Z"
        })))
        .expect(1)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/1/labels"))
        .and(header("authorization", "Bearer ghs_own-1"))
        .respond_with(labels_ok())
        .expect(1)
        .mount(&github)
        .await;
    let (proxy, _store) = ghproxy(&github.uri()).await;
    let foreign = SharedTokenCache::new(&proxy, b"some other app's key").unwrap();
    prow_github::TokenCache::put(
        &foreign,
        "github-app/12/installation/7",
        prow_github::CachedToken {
            token: "ghs_foreign".to_owned(),
            expires_at: std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000),
        },
    )
    .await;
    let gh = OctocrabGitHub::builder(github.uri())
        .credentials(Credentials::App {
            app_id: APP_ID,
            private_key_pem: KEY.to_owned(),
            installation_id: Some(7),
        })
        .retry_policy(RetryPolicy::for_tests())
        .token_cache(Arc::new(
            SharedTokenCache::new(&proxy, KEY.as_bytes()).unwrap(),
        ))
        .build()
        .unwrap();
    gh.add_label("acme", "foo", 1, "lgtm").await.unwrap();
}
