//! Black-box tests of GitHub App authentication against a faked GitHub that checks the app's JWTs and issues installation tokens.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use prow_github::{
    Credentials, GitHub, GitHubArgs, GitHubError, MemoryTokenCache, OctocrabGitHub, RetryPolicy,
    TokenCache,
};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

const APP_ID: u64 = 12;
const KEY: &str = include_str!("fixtures/test-app-key.pem");
const PUBLIC_KEY: &str = include_str!("fixtures/test-app-key.pub.pem");

fn key_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-app-key.pem")
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// RFC 3339 for `secs` from now, as GitHub writes `expires_at`.
fn expires_in(secs: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(epoch_now() + secs);
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[derive(Debug, serde::Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

/// Matches requests carrying a JWT GitHub would accept from app 12: signed RS256 with the
/// app's key, issued no later than now, living at most ten minutes.
struct ValidJwt;

impl Match for ValidJwt {
    fn matches(&self, request: &Request) -> bool {
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let Some(jwt) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[APP_ID.to_string()]);
        validation.set_required_spec_claims(&["iat", "exp", "iss"]);
        let Ok(decoded) = jsonwebtoken::decode::<Claims>(jwt, &key, &validation) else {
            return false;
        };
        let claims = decoded.claims;
        let now = epoch_now();
        claims.iss == APP_ID.to_string()
            && claims.iat <= now
            && claims.exp > now
            && claims.exp - claims.iat <= 600
    }
}

/// Mints tokens `{prefix}-1`, `{prefix}-2`, ... expiring after the given seconds in turn
/// (the last repeating).
struct Mint {
    prefix: &'static str,
    lifetimes: Vec<u64>,
    minted: Mutex<usize>,
}

impl Mint {
    fn new(prefix: &'static str, lifetimes: &[u64]) -> Self {
        Mint {
            prefix,
            lifetimes: lifetimes.to_vec(),
            minted: Mutex::new(0),
        }
    }
}

impl Respond for Mint {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut minted = self.minted.lock().unwrap();
        *minted += 1;
        let lifetime = self.lifetimes[(*minted - 1).min(self.lifetimes.len() - 1)];
        ResponseTemplate::new(201).set_body_json(json!({
            "token": format!("{}-{minted}", self.prefix),
            "expires_at": expires_in(lifetime),
            "permissions": {"issues": "write", "pull_requests": "write"},
            "repository_selection": "all"
        }))
    }
}

async fn mount_installations(server: &MockServer, expected_listings: u64) {
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .and(ValidJwt)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 101, "account": {"login": "Acme", "id": 1, "type": "Organization"},
             "app_id": APP_ID, "target_type": "Organization"},
            {"id": 202, "account": {"login": "other", "id": 2, "type": "Organization"},
             "app_id": APP_ID, "target_type": "Organization"}
        ])))
        .expect(expected_listings)
        .mount(server)
        .await;
}

fn app_client(server: &MockServer, cache: Option<Arc<dyn TokenCache>>) -> OctocrabGitHub {
    let mut builder = OctocrabGitHub::builder(server.uri())
        .credentials(Credentials::App {
            app_id: APP_ID,
            private_key_pem: KEY.to_owned(),
            installation_id: None,
        })
        .retry_policy(RetryPolicy::for_tests());
    if let Some(cache) = cache {
        builder = builder.token_cache(cache);
    }
    builder.build().unwrap()
}

fn labels_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!([{"name": "lgtm", "color": "15dd18"}]))
}

#[tokio::test]
async fn each_org_gets_its_installations_token_minted_under_a_valid_jwt_and_reused() {
    let server = MockServer::start().await;
    mount_installations(&server, 1).await;
    Mock::given(method("POST"))
        .and(path("/app/installations/101/access_tokens"))
        .and(ValidJwt)
        .respond_with(Mint::new("ghs_acme", &[3600]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/202/access_tokens"))
        .and(ValidJwt)
        .respond_with(Mint::new("ghs_other", &[3600]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/1/labels"))
        .and(header("authorization", "Bearer ghs_acme-1"))
        .respond_with(labels_ok())
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organizations/1/team/5/memberships/alice"))
        .and(header("authorization", "Bearer ghs_acme-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"state": "active", "role": "member"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/other/bar/issues/2/labels"))
        .and(header("authorization", "Bearer ghs_other-1"))
        .respond_with(labels_ok())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(header("authorization", "Bearer ghs_other-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 0, "incomplete_results": false, "items": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/app"))
        .and(ValidJwt)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": APP_ID, "slug": "my-prow", "name": "My Prow"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let gh = app_client(&server, None);
    assert_eq!(gh.bot_login().await.unwrap(), "my-prow[bot]");
    gh.add_label("acme", "foo", 1, "lgtm").await.unwrap();
    gh.add_label("acme", "foo", 1, "lgtm").await.unwrap();
    // The org named by its account id acts through the same installation.
    assert!(gh.is_team_member_by_id(1, 5, "alice").await.unwrap());
    gh.add_label("other", "bar", 2, "lgtm").await.unwrap();
    // A search acts through the installation of the repository it names.
    gh.search_issues("is:pr repo:other/bar label:lgtm")
        .await
        .unwrap();
    // Without an owner in the query there is no installation to search with.
    let err = gh.search_issues("is:pr label:lgtm").await.unwrap_err();
    assert!(matches!(err, GitHubError::Setup(_)), "{err:?}");
}

#[tokio::test]
async fn an_org_without_the_app_is_an_error_naming_it_after_listing_installations_again() {
    let server = MockServer::start().await;
    mount_installations(&server, 1).await;
    let gh = app_client(&server, None);
    let err = gh.add_label("stranger", "x", 1, "lgtm").await.unwrap_err();
    assert!(
        matches!(&err, GitHubError::AppNotInstalled { account, .. } if account == "stranger"),
        "{err:?}"
    );
}

#[tokio::test]
async fn concurrent_calls_and_clients_sharing_a_cache_mint_one_token() {
    let server = MockServer::start().await;
    // One listing per client: the listing is per process, tokens are shared.
    mount_installations(&server, 2).await;
    Mock::given(method("POST"))
        .and(path("/app/installations/101/access_tokens"))
        .and(ValidJwt)
        .respond_with(Mint::new("ghs_acme", &[3600]).with_delay())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/foo/issues/1/labels"))
        .and(header("authorization", "Bearer ghs_acme-1"))
        .respond_with(labels_ok())
        .expect(9)
        .mount(&server)
        .await;
    let cache: Arc<dyn TokenCache> = Arc::new(MemoryTokenCache::new());
    let gh = Arc::new(app_client(&server, Some(cache.clone())));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let gh = gh.clone();
        calls.spawn(async move { gh.add_label("acme", "foo", 1, "lgtm").await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
    let second = app_client(&server, Some(cache));
    second.add_label("acme", "foo", 1, "lgtm").await.unwrap();
}

impl Mint {
    /// Answers after a pause, so concurrent callers overlap the mint.
    fn with_delay(self) -> DelayedMint {
        DelayedMint(self)
    }
}

struct DelayedMint(Mint);

impl Respond for DelayedMint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0
            .respond(request)
            .set_delay(Duration::from_millis(200))
    }
}

/// Collects everything logged, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn tokens_near_expiry_or_refused_are_minted_again_and_no_secret_is_ever_logged() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    mount_installations(&server, 1).await;
    // The first token lives four minutes, inside the five-minute margin: it serves the
    // call it was minted for, and the next call mints a new one.
    Mock::given(method("POST"))
        .and(path("/app/installations/101/access_tokens"))
        .and(ValidJwt)
        .respond_with(Mint::new("ghs_acme", &[240, 3600]))
        .expect(4)
        .mount(&server)
        .await;
    for token in ["ghs_acme-1", "ghs_acme-2", "ghs_acme-3"] {
        Mock::given(method("POST"))
            .and(path("/repos/acme/foo/issues/1/labels"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(labels_ok())
            .expect(1)
            .mount(&server)
            .await;
    }
    // GitHub revokes the second token: the call is refused once, then made with a new one.
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/1/labels"))
        .and(header("authorization", "Bearer ghs_acme-2"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/issues/1/labels"))
        .and(header("authorization", "Bearer ghs_acme-3"))
        .respond_with(labels_ok())
        .expect(1)
        .mount(&server)
        .await;
    // Refused whatever the token: one new token is tried, then the 401 is the answer.
    Mock::given(method("GET"))
        .and(path("/repos/acme/foo/pulls/1"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .expect(2)
        .mount(&server)
        .await;

    let gh = app_client(&server, None);
    gh.add_label("acme", "foo", 1, "lgtm").await.unwrap();
    gh.add_label("acme", "foo", 1, "lgtm").await.unwrap();
    let labels = gh.get_issue_labels("acme", "foo", 1).await.unwrap();
    assert_eq!(labels[0].name, "lgtm");
    // Token 3 is cached: no mint for this call.
    gh.add_label("acme", "foo", 1, "lgtm").await.unwrap();
    let err = gh.get_pull_request("acme", "foo", 1).await.unwrap_err();
    assert_eq!(err.status(), Some(401));

    // Every secret that crossed the wire: tokens, JWTs, and the key's lines.
    let mut secrets: Vec<String> = (1..=4).map(|n| format!("ghs_acme-{n}")).collect();
    for request in server.received_requests().await.unwrap() {
        if let Some(auth) = request.headers.get("authorization") {
            let value = auth.to_str().unwrap();
            secrets.push(value.trim_start_matches("Bearer ").to_owned());
            // A JWT's signature alone is a secret too.
            if let Some(signature) = value.rsplit('.').next() {
                secrets.push(signature.to_owned());
            }
        }
    }
    secrets.extend(
        KEY.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_owned),
    );
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture works: the refresh and the mints were logged.
    assert!(logs.contains("minted an installation token"), "{logs}");
    assert!(
        logs.contains("GitHub refused the installation token"),
        "{logs}"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret was logged");
    }
}

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    github: GitHubArgs,
}

#[tokio::test]
async fn the_app_flags_make_connect_act_as_the_app() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/app"))
        .and(ValidJwt)
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": APP_ID, "slug": "my-prow"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let key = key_path();
    let flags = Flags::try_parse_from([
        "fn",
        "--github-endpoint",
        server.uri().as_str(),
        "--github-app-id",
        "12",
        "--github-app-private-key-path",
        key.to_str().unwrap(),
    ])
    .unwrap();
    let gh = prow_github::connect(&flags.github.settings(false)).unwrap();
    assert_eq!(gh.bot_login().await.unwrap(), "my-prow[bot]");
    // An app id without its key is refused before anything runs.
    assert!(Flags::try_parse_from(["fn", "--github-app-id", "12"]).is_err());
    let mut both = flags.github.settings(false);
    both.token_path = Some(key.clone());
    assert!(prow_github::connect(&both).is_err());
}

/// The app's own hook is listed and redelivered under the app's JWT (GitHub refuses an
/// installation token there), following the cursor GitHub puts in `Link`.
#[tokio::test]
async fn the_apps_hook_deliveries_are_listed_and_redelivered_under_its_jwt() {
    let server = MockServer::start().await;
    let delivery = |id: u64, at: &str, code: u16| {
        json!({"id": id, "guid": format!("guid-{id}"), "delivered_at": at, "redelivery": false,
               "duration": 0.1, "status": "OK", "status_code": code, "event": "issues",
               "action": "opened", "installation_id": 101, "repository_id": 9})
    };
    Mock::given(method("GET"))
        .and(path("/app/hook/deliveries"))
        .and(wiremock::matchers::query_param_is_missing("cursor"))
        .and(ValidJwt)
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{}/app/hook/deliveries?per_page=100&cursor=v1_2>; rel=\"next\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([delivery(3, "2030-01-01T10:00:00Z", 200)])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/app/hook/deliveries"))
        .and(wiremock::matchers::query_param("cursor", "v1_2"))
        .and(ValidJwt)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([delivery(
            2,
            "2029-12-31T10:00:00Z",
            503
        )])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/hook/deliveries/2/attempts"))
        .and(ValidJwt)
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let github = app_client(&server, None);
    let query = prow_github::DeliveryQuery {
        since: "2029-01-01T00:00:00Z".parse().unwrap(),
        max_pages: 10,
    };
    let listed = github
        .list_hook_deliveries(&prow_github::Hook::App, &query)
        .await
        .unwrap();
    let ids: Vec<u64> = listed.deliveries.iter().map(|d| d.id).collect();
    assert_eq!(ids, [3, 2]);
    assert!(!listed.truncated);
    github
        .redeliver_hook_delivery(&prow_github::Hook::App, 2)
        .await
        .unwrap();
}
