//! The real GitHub client: octocrab for transport and auth, one request helper for retries, rate limits and pagination.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::app_auth::{
    AppKey, CachedToken, Installation, Installations, MemoryTokenCache, TokenCache,
    parse_expires_at, search_owner, token_key,
};
use crate::branch_protection::{BranchProtection, BranchProtectionRequest};
use crate::error::{GitHubError, Result};
use crate::git_data::{Commit, GitCommit, MergeBranchOutcome, NewCommit};
use crate::hooks::{DeliveryQuery, Hook, HookDeliveries, HookDelivery};
use crate::merge::{MergeOutcome, MergeRequest};
use crate::retry::{RetryPolicy, Sleeper, TokioSleeper, Verdict, decide};
use crate::types::{
    Branch, CheckRun, GitTree, Issue, IssueComment, IssueEdit, IssueEvent, IssueSearchItem, Label,
    Milestone, NewPullRequest, NewStatus, OrgRepo, PullRequest, PullRequestChange,
    PullRequestQuery, Review, Status, User, normalize_login,
};
use crate::{GitHub, truncate_description};

/// github.com's REST API.
pub const DEFAULT_ENDPOINT: &str = "https://api.github.com";

/// GitHub's JSON media type, asked of every call but the raw ones.
const JSON_MEDIA_TYPE: &str = "application/vnd.github+json";

/// The search API answers at most 1000 hits: 10 pages of 100.
const MAX_SEARCH_PAGES: usize = 10;

/// Page size asked of list endpoints (GitHub's maximum).
const PER_PAGE: u32 = 100;

/// Pages followed before giving up on a list, so a server whose `next` link never ends
/// cannot keep a function busy forever (100,000 items is far beyond any Prow list).
const MAX_PAGES: usize = 1000;

/// How we authenticate. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Credentials {
    /// A personal access token (classic or fine-grained).
    Token(String),
    /// A GitHub App, acting in each org through that org's installation, or always
    /// through `installation_id` when given.
    App {
        app_id: u64,
        private_key_pem: String,
        installation_id: Option<u64>,
    },
}

impl Credentials {
    /// Reads a token from a mounted secret file, trimming the trailing newline.
    pub fn token_from_file(path: &Path) -> Result<Self> {
        let token = std::fs::read_to_string(path).map_err(|e| {
            GitHubError::Setup(format!("reading token file {}: {e}", path.display()))
        })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(GitHubError::Setup(format!(
                "token file {} is empty",
                path.display()
            )));
        }
        Ok(Credentials::Token(token.to_owned()))
    }

    /// Reads a GitHub App's private key (PEM) from a mounted secret file.
    pub fn app_from_file(
        app_id: u64,
        private_key_path: &Path,
        installation_id: Option<u64>,
    ) -> Result<Self> {
        let private_key_pem = std::fs::read_to_string(private_key_path).map_err(|e| {
            GitHubError::Setup(format!(
                "reading app private key {}: {e}",
                private_key_path.display()
            ))
        })?;
        Ok(Credentials::App {
            app_id,
            private_key_pem,
            installation_id,
        })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
            Credentials::App {
                app_id,
                installation_id,
                ..
            } => f
                .debug_struct("App")
                .field("app_id", app_id)
                .field("private_key_pem", &"<redacted>")
                .field("installation_id", installation_id)
                .finish(),
        }
    }
}

/// Configures an [`OctocrabGitHub`].
#[derive(Debug)]
pub struct OctocrabGitHubBuilder {
    endpoint: String,
    credentials: Option<Credentials>,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    connect_timeout: Duration,
    read_timeout: Duration,
    token_cache: Arc<dyn TokenCache>,
}

impl OctocrabGitHubBuilder {
    /// Where a GitHub App's installation tokens are kept ([`MemoryTokenCache`] unless set):
    /// clients given the same cache share tokens.
    pub fn token_cache(mut self, cache: Arc<dyn TokenCache>) -> Self {
        self.token_cache = cache;
        self
    }

    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Replaces the timer used between attempts (tests record waits instead of sleeping).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// Checks the endpoint and credentials now; the octocrab clients themselves are built on
    /// the first call (see [`OctocrabGitHub`]).
    pub fn build(self) -> Result<OctocrabGitHub> {
        self.endpoint.parse::<Uri>().map_err(|e| {
            GitHubError::Setup(format!("invalid GitHub endpoint {:?}: {e}", self.endpoint))
        })?;
        if let Some(Credentials::App {
            app_id,
            private_key_pem,
            ..
        }) = &self.credentials
        {
            AppKey::from_pem(*app_id, private_key_pem)?;
        }
        Ok(OctocrabGitHub {
            has_app: matches!(self.credentials, Some(Credentials::App { .. })),
            clients: std::sync::OnceLock::new(),
            policy: self.policy.clone(),
            sleeper: self.sleeper.clone(),
            token_cache: self.token_cache.clone(),
            setup: self,
            bot_login: OnceCell::new(),
            installations: tokio::sync::Mutex::new(Installations::default()),
            minting: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn connect(&self) -> Result<Clients> {
        let base = || -> Result<octocrab::OctocrabBuilder<_, _, _, _>> {
            Octocrab::builder()
                // Our request helper owns retries; octocrab's would multiply them.
                .add_retry_config(RetryConfig::None)
                .set_connect_timeout(Some(self.connect_timeout))
                .set_read_timeout(Some(self.read_timeout))
                .base_uri(self.endpoint.as_str())
                .map_err(|e| {
                    GitHubError::Setup(format!("invalid GitHub endpoint {:?}: {e}", self.endpoint))
                })
        };
        let setup = |e: octocrab::Error| GitHubError::Setup(e.to_string());
        let (crab, app) = match &self.credentials {
            None => (base()?.build().map_err(setup)?, None),
            Some(Credentials::Token(token)) => (
                base()?
                    .personal_token(token.clone())
                    .build()
                    .map_err(setup)?,
                None,
            ),
            // The app's requests carry their own Authorization header (a JWT or the
            // installation token of the org they are about), so octocrab sends none.
            Some(Credentials::App {
                app_id,
                private_key_pem,
                installation_id,
            }) => (
                base()?.build().map_err(setup)?,
                Some(App {
                    key: AppKey::from_pem(*app_id, private_key_pem)?,
                    fixed_installation: *installation_id,
                }),
            ),
        };
        Ok(Clients { crab, app })
    }
}

/// The octocrab client, built once, and the app's key when we are a GitHub App.
struct Clients {
    crab: Octocrab,
    app: Option<App>,
}

#[derive(Debug)]
struct App {
    key: AppKey,
    fixed_installation: Option<u64>,
}

/// Whose installation a request runs under when we are a GitHub App (ignored with a
/// token): the org (or user) it is about, by login or account id, or the owner a search
/// names.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Org(&'a str),
    OrgId(u64),
    Search(&'a str),
}

/// [`GitHub`] over octocrab. Every call goes through one helper that retries 5xx and
/// connection errors with exponential backoff, waits out secondary rate limits
/// (`Retry-After`, capped) and a spent primary limit (until `X-RateLimit-Reset`, capped,
/// else [`GitHubError::RateLimited`]), and follows `Link: rel="next"` pages.
pub struct OctocrabGitHub {
    /// Built on the first call: octocrab sets up TLS when built, reading every system root
    /// certificate, which a cold function should not pay before it answers anything.
    clients: std::sync::OnceLock<std::result::Result<Clients, String>>,
    setup: OctocrabGitHubBuilder,
    has_app: bool,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    bot_login: OnceCell<String>,
    token_cache: Arc<dyn TokenCache>,
    /// The app's installations as last listed; locked while listing, so one listing runs
    /// at a time.
    installations: tokio::sync::Mutex<Installations>,
    /// One lock per installation, so one token is minted at a time for it.
    minting: std::sync::Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for OctocrabGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OctocrabGitHub")
            .field("app", &self.has_app)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// An HTTP answer, read completely.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self, call: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|source| GitHubError::Decode {
            call: call.to_owned(),
            source,
        })
    }

    /// Fails unless the status is one of `accepted`.
    fn expect(self, call: &str, accepted: &[u16]) -> Result<Self> {
        if accepted.contains(&self.status.as_u16()) {
            Ok(self)
        } else {
            Err(GitHubError::Status {
                call: call.to_owned(),
                status: self.status.as_u16(),
                message: error_message(&self.body),
            })
        }
    }
}

/// GitHub's `{"message": ...}` from an error body, or the start of the body.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

/// Percent-encodes one path segment (org, repo, user, label, ...): labels contain spaces,
/// colons and slashes that must not change the route.
fn seg(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Encodes each `/`-separated part of a git ref, keeping the slashes (`heads/release/1.0`).
fn ref_path(git_ref: &str) -> String {
    git_ref
        .trim_start_matches("refs/")
        .split('/')
        .map(seg)
        .collect::<Vec<_>>()
        .join("/")
}

/// Encodes each `/`-separated part of a file path, keeping the slashes.
fn file_path(path: &str) -> String {
    path.trim_start_matches('/')
        .split('/')
        .map(seg)
        .collect::<Vec<_>>()
        .join("/")
}

/// A review request's body: users under `reviewers`, `org/team` (or `@org/team`) of this
/// org under `team_reviewers`. Teams of other orgs cannot be asked, so they come back
/// apart, to be reported as not requested.
#[derive(Debug, Default, PartialEq, Eq)]
struct ReviewerBody {
    reviewers: Vec<String>,
    team_reviewers: Vec<String>,
    foreign_teams: Vec<String>,
}

impl ReviewerBody {
    fn new(org: &str, logins: &[String]) -> Self {
        let mut body = ReviewerBody::default();
        for login in logins {
            match login.trim_start_matches('@').split_once('/') {
                None => body.reviewers.push(login.clone()),
                Some((team_org, slug)) if team_org.eq_ignore_ascii_case(org) => {
                    body.team_reviewers.push(slug.to_owned());
                }
                Some(_) => body.foreign_teams.push(login.clone()),
            }
        }
        body
    }

    fn is_empty(&self) -> bool {
        self.reviewers.is_empty() && self.team_reviewers.is_empty()
    }

    fn json(&self) -> serde_json::Value {
        json!({ "reviewers": self.reviewers, "team_reviewers": self.team_reviewers })
    }
}

/// Those of `logins` found in `present` (compared as Prow compares logins), in input order.
fn logins_in(logins: &[String], present: &[String]) -> Vec<String> {
    let present: std::collections::HashSet<String> =
        present.iter().map(|l| normalize_login(l)).collect();
    logins
        .iter()
        .filter(|l| present.contains(&normalize_login(l)))
        .cloned()
        .collect()
}

/// Decodes the contents API's base64, which GitHub wraps at 60 characters.
fn decode_content(call: &str, content: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| GitHubError::Unexpected {
            call: call.to_owned(),
            message: format!("file content is not valid base64: {e}"),
        })
}

/// The path and query of the `rel="next"` target in a `Link` header. Only the path is
/// kept: the host GitHub names may not be the one we talk to (ghproxy, GitHub Enterprise,
/// a test server), and octocrab only authenticates host-less requests.
pub(crate) fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        if !is_next {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let uri: Uri = target.parse().ok()?;
        uri.path_and_query().map(|pq| pq.as_str().to_owned())
    })
}

fn now_epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn with_per_page(path: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}per_page={PER_PAGE}")
}

impl OctocrabGitHub {
    fn clients(&self) -> Result<&Clients> {
        self.clients
            .get_or_init(|| self.setup.connect().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| GitHubError::Setup(e.clone()))
    }

    fn crab(&self) -> Result<&Octocrab> {
        Ok(&self.clients()?.crab)
    }

    /// Starts configuring a client for the API at `endpoint` (e.g. [`DEFAULT_ENDPOINT`],
    /// `https://ghe.example.com/api/v3`, a ghproxy or a test server).
    pub fn builder(endpoint: impl Into<String>) -> OctocrabGitHubBuilder {
        OctocrabGitHubBuilder {
            endpoint: endpoint.into(),
            credentials: None,
            policy: RetryPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            token_cache: Arc::new(MemoryTokenCache::new()),
        }
    }

    /// Sends one request as whoever `scope` says, retrying as the policy says, and returns
    /// the final answer whatever its status (callers decide which statuses they accept).
    async fn request(
        &self,
        scope: Scope<'_>,
        call: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer> {
        self.request_as(scope, call, method, path, body, JSON_MEDIA_TYPE)
            .await
    }

    /// As [`Self::request`], asking for the media type `accept` (a patch, a diff). A GitHub
    /// App sends the installation token of the scope's org; when GitHub refuses it (401:
    /// revoked, or expired early) one new token is minted and the request sent again.
    async fn request_as(
        &self,
        scope: Scope<'_>,
        call: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: &str,
    ) -> Result<Answer> {
        let clients = self.clients()?;
        let Some(app) = &clients.app else {
            return self
                .send(&clients.crab, call, method, path, body, accept, None)
                .await;
        };
        let installation = self.installation_for(app, scope, call).await?;
        let token = self.installation_token(clients, app, installation).await?;
        let answer = self
            .send(
                &clients.crab,
                call,
                method.clone(),
                path,
                body,
                accept,
                Some(&token),
            )
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!(%call, installation, "GitHub refused the installation token; minting a new one");
        self.token_cache
            .invalidate(&token_key(app.key.app_id, installation), &token)
            .await;
        let token = self.installation_token(clients, app, installation).await?;
        self.send(
            &clients.crab,
            call,
            method,
            path,
            body,
            accept,
            Some(&token),
        )
        .await
    }

    /// The installation that acts for `scope`, listing the app's installations again when
    /// it is not known yet (the app may have been installed since).
    async fn installation_for(&self, app: &App, scope: Scope<'_>, call: &str) -> Result<u64> {
        if let Some(id) = app.fixed_installation {
            return Ok(id);
        }
        let lookup = |installations: &Installations| match scope {
            Scope::Org(login) => installations.by_login.get(&login.to_lowercase()).copied(),
            Scope::OrgId(id) => installations.by_account_id.get(&id).copied(),
            Scope::Search(query) => search_owner(query)
                .and_then(|owner| installations.by_login.get(&owner.to_lowercase()).copied()),
        };
        let account = match scope {
            Scope::Org(login) => login.to_owned(),
            Scope::OrgId(id) => format!("account id {id}"),
            Scope::Search(query) => match search_owner(query) {
                Some(owner) => owner.to_owned(),
                None => {
                    return Err(GitHubError::Setup(format!(
                        "{call}: a GitHub App searches through one org's installation; name it with org:, user: or repo:"
                    )));
                }
            },
        };
        let mut installations = self.installations.lock().await;
        if let Some(id) = lookup(&installations) {
            return Ok(id);
        }
        *installations = self.list_installations(&app.key).await?;
        lookup(&installations).ok_or_else(|| GitHubError::AppNotInstalled {
            call: call.to_owned(),
            account,
        })
    }

    /// Every installation of the app (`GET /app/installations`, all pages, as the app).
    async fn list_installations(&self, key: &AppKey) -> Result<Installations> {
        let call = "list_installations (GET /app/installations)";
        let crab = self.crab()?;
        let mut all: Vec<Installation> = Vec::new();
        let mut next = Some(with_per_page("/app/installations"));
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GitHubError::TooManyPages {
                    call: call.to_owned(),
                    pages: MAX_PAGES,
                });
            }
            let jwt = key.jwt(SystemTime::now())?;
            let answer = self
                .send(
                    crab,
                    call,
                    Method::GET,
                    &path,
                    None,
                    JSON_MEDIA_TYPE,
                    Some(&jwt),
                )
                .await?
                .expect(call, &[200])?;
            let page: Vec<Installation> = answer.json(call)?;
            all.extend(page);
            next = answer
                .headers
                .get(http::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_page);
        }
        Ok(Installations::from_list(all))
    }

    /// A fresh token of `installation`: from the cache, else minted (one mint at a time
    /// per installation; those waiting take the token it made).
    async fn installation_token(
        &self,
        clients: &Clients,
        app: &App,
        installation: u64,
    ) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Minted {
            token: String,
            expires_at: String,
        }
        let key = token_key(app.key.app_id, installation);
        let cached = |token: Option<CachedToken>| {
            token
                .filter(|t| t.is_fresh(SystemTime::now()))
                .map(|t| t.token)
        };
        if let Some(token) = cached(self.token_cache.get(&key).await) {
            return Ok(token);
        }
        let lock = {
            let mut minting = self.minting.lock().unwrap_or_else(|e| e.into_inner());
            minting.entry(installation).or_default().clone()
        };
        let _minting = lock.lock().await;
        if let Some(token) = cached(self.token_cache.get(&key).await) {
            return Ok(token);
        }
        let call = format!("mint installation token (installation {installation})");
        let path = format!("/app/installations/{installation}/access_tokens");
        let jwt = app.key.jwt(SystemTime::now())?;
        let minted: Minted = self
            .send(
                &clients.crab,
                &call,
                Method::POST,
                &path,
                None,
                JSON_MEDIA_TYPE,
                Some(&jwt),
            )
            .await?
            .expect(&call, &[201])?
            .json(&call)?;
        let expires_at = parse_expires_at(&call, &minted.expires_at)?;
        tracing::debug!(installation, expires_at = %minted.expires_at, "minted an installation token");
        self.token_cache
            .put(
                &key,
                CachedToken {
                    token: minted.token.clone(),
                    expires_at,
                },
            )
            .await;
        Ok(minted.token)
    }

    /// One request with a fixed `Authorization: Bearer` (none: octocrab's own auth),
    /// retried as the policy says.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        crab: &Octocrab,
        call: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: &str,
        bearer: Option<&str>,
    ) -> Result<Answer> {
        let authorization = bearer
            .map(|secret| {
                let mut value =
                    http::HeaderValue::from_str(&format!("Bearer {secret}")).map_err(|_| {
                        GitHubError::Setup(format!("{call}: the credential is not a valid header"))
                    })?;
                // Keeps the header out of hyper's and octocrab's debug output.
                value.set_sensitive(true);
                Ok::<_, GitHubError>(value)
            })
            .transpose()?;
        let uri: Uri = path.parse().map_err(|e| {
            GitHubError::Setup(format!("{call}: invalid request path {path:?}: {e}"))
        })?;
        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = http::Request::builder()
                .method(method.clone())
                .uri(uri.clone())
                .header(http::header::ACCEPT, accept);
            if let Some(value) = &authorization {
                builder = builder.header(http::header::AUTHORIZATION, value.clone());
            }
            let request = crab
                .build_request(builder, body)
                .map_err(|e| GitHubError::Setup(format!("{call}: building request: {e}")))?;
            let sent = match crab.execute(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    body.collect()
                        .await
                        .map(|collected| (parts, collected.to_bytes()))
                }
                Err(e) => Err(e),
            };
            let (parts, bytes) = match sent {
                Ok(answer) => answer,
                Err(source) => {
                    if attempt >= max_attempts {
                        return Err(GitHubError::Transport {
                            call: call.to_owned(),
                            attempts: attempt,
                            source: Box::new(source),
                        });
                    }
                    let wait = self.policy.backoff(attempt);
                    tracing::warn!(%call, attempt, ?wait, error = %source, "GitHub request failed; retrying");
                    self.sleeper.sleep(wait).await;
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            match decide(
                parts.status.as_u16(),
                &parts.headers,
                &text,
                attempt,
                now_epoch_secs(),
                &self.policy,
            ) {
                Verdict::Accept => {
                    tracing::debug!(%call, attempt, status = parts.status.as_u16(), "GitHub answered");
                    return Ok(Answer {
                        status: parts.status,
                        headers: parts.headers,
                        body: bytes,
                    });
                }
                Verdict::RateLimited { reset_in } => {
                    return Err(GitHubError::RateLimited {
                        call: call.to_owned(),
                        reset_in,
                        max_wait: self.policy.max_rate_limit_wait,
                    });
                }
                Verdict::Retry { after, reason } => {
                    if attempt >= max_attempts {
                        return Err(GitHubError::RetriesExhausted {
                            call: call.to_owned(),
                            attempts: attempt,
                            last_status: parts.status.as_u16(),
                            message: error_message(&bytes),
                        });
                    }
                    tracing::warn!(%call, attempt, status = parts.status.as_u16(), %reason, wait = ?after, "GitHub asked us to retry");
                    self.sleeper.sleep(after).await;
                }
            }
        }
    }

    /// One request about `hook`: the app's own hook as the app itself (GitHub takes only its
    /// JWT there), a repository's or organization's hook as whoever acts in that org.
    async fn hook_request(
        &self,
        hook: &Hook,
        call: &str,
        method: Method,
        path: &str,
    ) -> Result<Answer> {
        match hook {
            Hook::App => {
                let clients = self.clients()?;
                let Some(app) = &clients.app else {
                    return Err(GitHubError::Setup(format!(
                        "{call}: the app's webhook deliveries need GitHub App credentials (--github-app-id), not a token"
                    )));
                };
                let jwt = app.key.jwt(SystemTime::now())?;
                self.send(
                    &clients.crab,
                    call,
                    method,
                    path,
                    None,
                    JSON_MEDIA_TYPE,
                    Some(&jwt),
                )
                .await
            }
            Hook::Repo { org, .. } | Hook::Org { org, .. } => {
                self.request(Scope::Org(org), call, method, path, None)
                    .await
            }
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        scope: Scope<'_>,
        call: &str,
        path: &str,
    ) -> Result<T> {
        self.request(scope, call, Method::GET, path, None)
            .await?
            .expect(call, &[200])?
            .json(call)
    }

    /// Every page of a list endpoint, each decoded as `P`.
    async fn get_pages<P: DeserializeOwned>(
        &self,
        scope: Scope<'_>,
        call: &str,
        path: &str,
    ) -> Result<Vec<P>> {
        let (pages, more) = self.get_first_pages(scope, call, path, MAX_PAGES).await?;
        if more {
            return Err(GitHubError::TooManyPages {
                call: call.to_owned(),
                pages: MAX_PAGES,
            });
        }
        Ok(pages)
    }

    /// Up to `max_pages` pages of a list endpoint, and whether GitHub announced more.
    async fn get_first_pages<P: DeserializeOwned>(
        &self,
        scope: Scope<'_>,
        call: &str,
        path: &str,
        max_pages: usize,
    ) -> Result<(Vec<P>, bool)> {
        let mut pages = Vec::new();
        let mut next = Some(with_per_page(path));
        while let Some(path) = next.take() {
            if pages.len() >= max_pages {
                return Ok((pages, true));
            }
            let answer = self
                .request(scope, call, Method::GET, &path, None)
                .await?
                .expect(call, &[200])?;
            pages.push(answer.json(call)?);
            next = answer
                .headers
                .get(http::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_page);
        }
        Ok((pages, false))
    }

    async fn get_all<T: DeserializeOwned>(
        &self,
        scope: Scope<'_>,
        call: &str,
        path: &str,
    ) -> Result<Vec<T>> {
        let pages: Vec<Vec<T>> = self.get_pages(scope, call, path).await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// A yes/no question GitHub answers with 204 (yes) or 404 (no).
    async fn membership(
        &self,
        scope: Scope<'_>,
        call: &str,
        path: &str,
        no: &[u16],
    ) -> Result<bool> {
        let answer = self.request(scope, call, Method::GET, path, None).await?;
        let status = answer.status.as_u16();
        if no.contains(&status) {
            return Ok(false);
        }
        answer.expect(call, &[204])?;
        Ok(true)
    }

    async fn team_membership(&self, scope: Scope<'_>, call: &str, path: &str) -> Result<bool> {
        #[derive(serde::Deserialize)]
        struct Membership {
            state: String,
        }
        let answer = self.request(scope, call, Method::GET, path, None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        let membership: Membership = answer.expect(call, &[200])?.json(call)?;
        Ok(membership.state == "active")
    }

    /// One review-request POST; `Ok(false)` when GitHub refuses it as unprocessable (422).
    async fn try_request_reviewers(
        &self,
        scope: Scope<'_>,
        call: &str,
        path: &str,
        body: &ReviewerBody,
    ) -> Result<bool> {
        let answer = self
            .request(scope, call, Method::POST, path, Some(&body.json()))
            .await?;
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY {
            tracing::debug!(%call, message = %error_message(&answer.body), "GitHub refused review request");
            return Ok(false);
        }
        answer.expect(call, &[201])?;
        Ok(true)
    }

    /// Sends an assignees change and returns the issue's assignees afterwards.
    async fn change_assignees(
        &self,
        scope: Scope<'_>,
        call: &str,
        method: Method,
        path: &str,
        logins: &[String],
        accepted: u16,
    ) -> Result<Vec<String>> {
        let issue: Issue = self
            .request(
                scope,
                call,
                method,
                path,
                Some(&json!({ "assignees": logins })),
            )
            .await?
            .expect(call, &[accepted])?
            .json(call)?;
        Ok(issue.assignees.into_iter().map(|u| u.login).collect())
    }

    async fn fetch_bot_login(&self) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Login {
            login: String,
        }
        #[derive(serde::Deserialize)]
        struct AppInfo {
            slug: String,
        }
        let clients = self.clients()?;
        match &clients.app {
            // Installation tokens cannot read /user; an app acts as `<slug>[bot]`.
            Some(app) => {
                let call = "bot_login (GET /app)";
                let jwt = app.key.jwt(SystemTime::now())?;
                let app: AppInfo = self
                    .send(
                        &clients.crab,
                        call,
                        Method::GET,
                        "/app",
                        None,
                        JSON_MEDIA_TYPE,
                        Some(&jwt),
                    )
                    .await?
                    .expect(call, &[200])?
                    .json(call)?;
                Ok(format!("{}[bot]", app.slug))
            }
            None => {
                let call = "bot_login (GET /user)";
                let user: Login = self
                    .send(
                        &clients.crab,
                        call,
                        Method::GET,
                        "/user",
                        None,
                        JSON_MEDIA_TYPE,
                        None,
                    )
                    .await?
                    .expect(call, &[200])?
                    .json(call)?;
                Ok(user.login)
            }
        }
    }
}

#[async_trait]
impl GitHub for OctocrabGitHub {
    async fn bot_login(&self) -> Result<String> {
        self.bot_login
            .get_or_try_init(|| self.fetch_bot_login())
            .await
            .cloned()
    }

    async fn get_pull_request(&self, org: &str, repo: &str, number: u64) -> Result<PullRequest> {
        let call = format!("get_pull_request {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/pulls/{number}", seg(org), seg(repo));
        self.get_json(Scope::Org(org), &call, &path).await
    }

    async fn pull_request_changes(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<PullRequestChange>> {
        let call = format!("pull_request_changes {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/pulls/{number}/files", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn is_org_member(&self, org: &str, user: &str) -> Result<bool> {
        if org.eq_ignore_ascii_case(user) {
            return Ok(true);
        }
        let call = format!("is_org_member {org} {user}");
        let path = format!("/orgs/{}/members/{}", seg(org), seg(user));
        // 302: we may not see the org's private members, so the user is not one for us.
        self.membership(Scope::Org(org), &call, &path, &[404, 302])
            .await
    }

    async fn is_collaborator(&self, org: &str, repo: &str, user: &str) -> Result<bool> {
        let call = format!("is_collaborator {org}/{repo} {user}");
        let path = format!(
            "/repos/{}/{}/collaborators/{}",
            seg(org),
            seg(repo),
            seg(user)
        );
        self.membership(Scope::Org(org), &call, &path, &[404]).await
    }

    async fn user_permission(&self, org: &str, repo: &str, user: &str) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Permission {
            permission: String,
        }
        let call = format!("user_permission {org}/{repo} {user}");
        let path = format!(
            "/repos/{}/{}/collaborators/{}/permission",
            seg(org),
            seg(repo),
            seg(user)
        );
        let answer: Permission = self.get_json(Scope::Org(org), &call, &path).await?;
        Ok(answer.permission)
    }

    async fn is_team_member(&self, org: &str, team_slug: &str, user: &str) -> Result<bool> {
        let call = format!("is_team_member {org}/{team_slug} {user}");
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            seg(org),
            seg(team_slug),
            seg(user)
        );
        self.team_membership(Scope::Org(org), &call, &path).await
    }

    async fn is_team_member_by_id(&self, org_id: u64, team_id: u64, user: &str) -> Result<bool> {
        let call = format!("is_team_member_by_id org {org_id} team {team_id} {user}");
        let path = format!(
            "/organizations/{org_id}/team/{team_id}/memberships/{}",
            seg(user)
        );
        self.team_membership(Scope::OrgId(org_id), &call, &path)
            .await
    }

    async fn org_id(&self, org: &str) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Org {
            id: u64,
        }
        let call = format!("org_id {org}");
        let path = format!("/orgs/{}", seg(org));
        let found: Org = self.get_json(Scope::Org(org), &call, &path).await?;
        Ok(found.id)
    }

    async fn get_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Object {
            sha: String,
        }
        #[derive(serde::Deserialize)]
        struct Ref {
            object: Object,
        }
        let call = format!("get_ref {org}/{repo} {git_ref}");
        let path = format!(
            "/repos/{}/{}/git/ref/{}",
            seg(org),
            seg(repo),
            ref_path(git_ref)
        );
        let found: Ref = self.get_json(Scope::Org(org), &call, &path).await?;
        Ok(found.object.sha)
    }

    async fn combined_status(&self, org: &str, repo: &str, sha: &str) -> Result<Vec<Status>> {
        #[derive(serde::Deserialize)]
        struct CombinedStatus {
            statuses: Vec<Status>,
        }
        let call = format!("combined_status {org}/{repo}@{sha}");
        let path = format!(
            "/repos/{}/{}/commits/{}/status",
            seg(org),
            seg(repo),
            seg(sha)
        );
        let pages: Vec<CombinedStatus> = self.get_pages(Scope::Org(org), &call, &path).await?;
        Ok(pages.into_iter().flat_map(|p| p.statuses).collect())
    }

    async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<()> {
        let call = format!("create_status {org}/{repo}@{sha} {}", status.context);
        let path = format!("/repos/{}/{}/statuses/{}", seg(org), seg(repo), seg(sha));
        let mut status = status.clone();
        status.description = status.description.as_deref().map(truncate_description);
        let body = serde_json::to_value(&status).map_err(|source| GitHubError::Decode {
            call: call.clone(),
            source,
        })?;
        self.request(Scope::Org(org), &call, Method::POST, &path, Some(&body))
            .await?
            .expect(&call, &[201])?;
        Ok(())
    }

    async fn list_issue_comments(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>> {
        let call = format!("list_issue_comments {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/issues/{number}/comments", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn create_comment(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<IssueComment> {
        let call = format!("create_comment {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/issues/{number}/comments", seg(org), seg(repo));
        self.request(
            Scope::Org(org),
            &call,
            Method::POST,
            &path,
            Some(&json!({ "body": body })),
        )
        .await?
        .expect(&call, &[201])?
        .json(&call)
    }

    async fn edit_comment(&self, org: &str, repo: &str, comment_id: u64, body: &str) -> Result<()> {
        let call = format!("edit_comment {org}/{repo} comment {comment_id}");
        let path = format!(
            "/repos/{}/{}/issues/comments/{comment_id}",
            seg(org),
            seg(repo)
        );
        self.request(
            Scope::Org(org),
            &call,
            Method::PATCH,
            &path,
            Some(&json!({ "body": body })),
        )
        .await?
        .expect(&call, &[200])?;
        Ok(())
    }

    async fn delete_comment(&self, org: &str, repo: &str, comment_id: u64) -> Result<()> {
        let call = format!("delete_comment {org}/{repo} comment {comment_id}");
        let path = format!(
            "/repos/{}/{}/issues/comments/{comment_id}",
            seg(org),
            seg(repo)
        );
        self.request(Scope::Org(org), &call, Method::DELETE, &path, None)
            .await?
            .expect(&call, &[204, 404])?;
        Ok(())
    }

    async fn add_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        let call = format!("add_label {org}/{repo}#{number} {label}");
        let path = format!("/repos/{}/{}/issues/{number}/labels", seg(org), seg(repo));
        self.request(
            Scope::Org(org),
            &call,
            Method::POST,
            &path,
            Some(&json!({ "labels": [label] })),
        )
        .await?
        .expect(&call, &[200])?;
        Ok(())
    }

    async fn remove_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        let call = format!("remove_label {org}/{repo}#{number} {label}");
        let path = format!(
            "/repos/{}/{}/issues/{number}/labels/{}",
            seg(org),
            seg(repo),
            seg(label)
        );
        self.request(Scope::Org(org), &call, Method::DELETE, &path, None)
            .await?
            .expect(&call, &[200, 204, 404])?;
        Ok(())
    }

    async fn get_issue_labels(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Label>> {
        let call = format!("get_issue_labels {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/issues/{number}/labels", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn get_repo_labels(&self, org: &str, repo: &str) -> Result<Vec<Label>> {
        let call = format!("get_repo_labels {org}/{repo}");
        let path = format!("/repos/{}/{}/labels", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn get_issue(&self, org: &str, repo: &str, number: u64) -> Result<Issue> {
        let call = format!("get_issue {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/issues/{number}", seg(org), seg(repo));
        self.get_json(Scope::Org(org), &call, &path).await
    }

    async fn get_tree(&self, org: &str, repo: &str, sha: &str) -> Result<GitTree> {
        let call = format!("get_tree {org}/{repo}@{sha}");
        let path = format!(
            "/repos/{}/{}/git/trees/{}?recursive=1",
            seg(org),
            seg(repo),
            seg(sha)
        );
        let tree: GitTree = self.get_json(Scope::Org(org), &call, &path).await?;
        if tree.truncated {
            tracing::warn!(%call, entries = tree.entries.len(), "GitHub truncated the tree");
        }
        Ok(tree)
    }

    async fn get_file(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>> {
        #[derive(serde::Deserialize)]
        struct Content {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            encoding: String,
            #[serde(default)]
            content: String,
        }
        let call = format!("get_file {org}/{repo}@{git_ref} {path}");
        let mut route = format!(
            "/repos/{}/{}/contents/{}",
            seg(org),
            seg(repo),
            file_path(path)
        );
        if !git_ref.is_empty() {
            route = format!("{route}?ref={}", seg(git_ref));
        }
        let answer = self
            .request(Scope::Org(org), &call, Method::GET, &route, None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = answer.expect(&call, &[200])?;
        // A directory answers with a JSON array of its entries.
        if answer.body.first() == Some(&b'[') {
            return Err(GitHubError::Unexpected {
                call,
                message: "the path is a directory, not a file".to_owned(),
            });
        }
        let content: Content = answer.json(&call)?;
        match (content.kind.as_str(), content.encoding.as_str()) {
            ("file", "base64") => decode_content(&call, &content.content).map(Some),
            (kind, encoding) => Err(GitHubError::Unexpected {
                call,
                message: format!(
                    "the contents API answered a {kind} with encoding {encoding:?} (files over 1 MB are not inlined)"
                ),
            }),
        }
    }

    async fn list_reviews(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Review>> {
        let call = format!("list_reviews {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/pulls/{number}/reviews", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn request_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let call = format!("request_reviewers {org}/{repo}#{number}");
        let path = format!(
            "/repos/{}/{}/pulls/{number}/requested_reviewers",
            seg(org),
            seg(repo)
        );
        let body = ReviewerBody::new(org, logins);
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let allowed: Vec<String> = logins
            .iter()
            .filter(|l| !body.foreign_teams.contains(l))
            .cloned()
            .collect();
        // Prow asks one by one as soon as a team of another org is named; leaving that team
        // out of one request for the rest gives the same outcome in fewer calls.
        if self
            .try_request_reviewers(Scope::Org(org), &call, &path, &body)
            .await?
        {
            return Ok(allowed);
        }
        // GitHub does not say which login it refused, so ask for each alone.
        let mut requested = Vec::new();
        for login in allowed {
            let single = ReviewerBody::new(org, std::slice::from_ref(&login));
            if self
                .try_request_reviewers(Scope::Org(org), &call, &path, &single)
                .await?
            {
                requested.push(login);
            }
        }
        Ok(requested)
    }

    async fn unrequest_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Team {
            slug: String,
        }
        #[derive(serde::Deserialize)]
        struct Requested {
            #[serde(default)]
            requested_reviewers: Vec<User>,
            #[serde(default)]
            requested_teams: Vec<Team>,
        }
        let call = format!("unrequest_reviewers {org}/{repo}#{number}");
        let path = format!(
            "/repos/{}/{}/pulls/{number}/requested_reviewers",
            seg(org),
            seg(repo)
        );
        let body = ReviewerBody::new(org, logins);
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let after: Requested = self
            .request(
                Scope::Org(org),
                &call,
                Method::DELETE,
                &path,
                Some(&body.json()),
            )
            .await?
            .expect(&call, &[200])?
            .json(&call)?;
        let mut still: Vec<String> = after
            .requested_reviewers
            .into_iter()
            .map(|u| u.login)
            .collect();
        still.extend(
            after
                .requested_teams
                .into_iter()
                .map(|t| format!("{org}/{}", t.slug)),
        );
        Ok(logins_in(logins, &still))
    }

    async fn add_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let call = format!("add_assignees {org}/{repo}#{number}");
        let path = format!(
            "/repos/{}/{}/issues/{number}/assignees",
            seg(org),
            seg(repo)
        );
        let assigned = self
            .change_assignees(Scope::Org(org), &call, Method::POST, &path, logins, 201)
            .await?;
        Ok(logins_in(logins, &assigned))
    }

    async fn remove_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let call = format!("remove_assignees {org}/{repo}#{number}");
        let path = format!(
            "/repos/{}/{}/issues/{number}/assignees",
            seg(org),
            seg(repo)
        );
        let assigned = self
            .change_assignees(Scope::Org(org), &call, Method::DELETE, &path, logins, 200)
            .await?;
        Ok(logins_in(logins, &assigned))
    }

    async fn list_collaborators(&self, org: &str, repo: &str) -> Result<Vec<User>> {
        let call = format!("list_collaborators {org}/{repo}");
        let path = format!("/repos/{}/{}/collaborators", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn list_team_members(&self, org: &str, team_slug: &str) -> Result<Vec<User>> {
        let call = format!("list_team_members {org}/{team_slug}");
        let path = format!("/orgs/{}/teams/{}/members", seg(org), seg(team_slug));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn list_pull_request_commits(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<Commit>> {
        let call = format!("list_pull_request_commits {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/pulls/{number}/commits", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn edit_issue(&self, org: &str, repo: &str, number: u64, edit: &IssueEdit) -> Result<()> {
        let call = format!("edit_issue {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/issues/{number}", seg(org), seg(repo));
        let body = to_body(&call, edit)?;
        self.request(Scope::Org(org), &call, Method::PATCH, &path, Some(&body))
            .await?
            .expect(&call, &[200])?;
        Ok(())
    }

    async fn list_milestones(&self, org: &str, repo: &str) -> Result<Vec<Milestone>> {
        let call = format!("list_milestones {org}/{repo}");
        let path = format!("/repos/{}/{}/milestones?state=all", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn list_pull_requests(
        &self,
        org: &str,
        repo: &str,
        query: &PullRequestQuery,
    ) -> Result<Vec<PullRequest>> {
        let call = format!("list_pull_requests {org}/{repo}");
        let mut path = format!(
            "/repos/{}/{}/pulls?state={}",
            seg(org),
            seg(repo),
            query.state.as_str()
        );
        if let Some(base) = &query.base {
            path = format!("{path}&base={}", seg(base));
        }
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn search_issues(&self, query: &str) -> Result<Vec<IssueSearchItem>> {
        #[derive(serde::Deserialize)]
        struct SearchPage {
            #[serde(default)]
            incomplete_results: bool,
            items: Vec<IssueSearchItem>,
        }
        let call = format!("search_issues {query:?}");
        let path = format!("/search/issues?q={}", seg(query));
        let (pages, more): (Vec<SearchPage>, bool) = self
            .get_first_pages(Scope::Search(query), &call, &path, MAX_SEARCH_PAGES)
            .await?;
        if more {
            tracing::warn!(%call, "search matched more than GitHub lists (1000); narrow the query");
        }
        if pages.iter().any(|p| p.incomplete_results) {
            // GitHub timed out part of the search; the hits are still valid, only fewer.
            tracing::warn!(%call, "GitHub answered incomplete search results");
        }
        Ok(pages.into_iter().flat_map(|p| p.items).collect())
    }

    async fn merge_pull_request(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        request: &MergeRequest,
    ) -> Result<MergeOutcome> {
        #[derive(serde::Deserialize)]
        struct Merged {
            sha: String,
        }
        let call = format!("merge_pull_request {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/pulls/{number}/merge", seg(org), seg(repo));
        let body = to_body(&call, request)?;
        let answer = self
            .request(Scope::Org(org), &call, Method::PUT, &path, Some(&body))
            .await?;
        match answer.status.as_u16() {
            405 => Ok(MergeOutcome::from_405(error_message(&answer.body))),
            409 => Ok(MergeOutcome::HeadModified {
                message: error_message(&answer.body),
            }),
            _ => {
                let merged: Merged = answer.expect(&call, &[200])?.json(&call)?;
                Ok(MergeOutcome::Merged { sha: merged.sha })
            }
        }
    }

    async fn list_check_runs(&self, org: &str, repo: &str, git_ref: &str) -> Result<Vec<CheckRun>> {
        #[derive(serde::Deserialize)]
        struct CheckRunPage {
            check_runs: Vec<CheckRun>,
        }
        let call = format!("list_check_runs {org}/{repo}@{git_ref}");
        let path = format!(
            "/repos/{}/{}/commits/{}/check-runs",
            seg(org),
            seg(repo),
            seg(git_ref)
        );
        let pages: Vec<CheckRunPage> = self.get_pages(Scope::Org(org), &call, &path).await?;
        Ok(pages.into_iter().flat_map(|p| p.check_runs).collect())
    }

    async fn get_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<BranchProtection>> {
        let call = format!("get_branch_protection {org}/{repo}:{branch}");
        let path = protection_path(org, repo, branch);
        let answer = self
            .request(Scope::Org(org), &call, Method::GET, &path, None)
            .await?;
        // GitHub also answers 404 to a token that may not read protection; only this
        // message means the branch is unprotected.
        if answer.status == StatusCode::NOT_FOUND
            && error_message(&answer.body) == "Branch not protected"
        {
            return Ok(None);
        }
        answer.expect(&call, &[200])?.json(&call).map(Some)
    }

    async fn update_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        request: &BranchProtectionRequest,
    ) -> Result<()> {
        let call = format!("update_branch_protection {org}/{repo}:{branch}");
        let path = protection_path(org, repo, branch);
        let body = to_body(&call, request)?;
        self.request(Scope::Org(org), &call, Method::PUT, &path, Some(&body))
            .await?
            .expect(&call, &[200])?;
        Ok(())
    }

    async fn remove_branch_protection(&self, org: &str, repo: &str, branch: &str) -> Result<()> {
        let call = format!("remove_branch_protection {org}/{repo}:{branch}");
        let path = protection_path(org, repo, branch);
        self.request(Scope::Org(org), &call, Method::DELETE, &path, None)
            .await?
            .expect(&call, &[204])?;
        Ok(())
    }

    async fn set_required_signatures(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        required: bool,
    ) -> Result<()> {
        let call = format!("set_required_signatures {org}/{repo}:{branch} {required}");
        let path = format!("{}/required_signatures", protection_path(org, repo, branch));
        let (method, status) = if required {
            (Method::POST, 200)
        } else {
            (Method::DELETE, 204)
        };
        self.request(Scope::Org(org), &call, method, &path, None)
            .await?
            .expect(&call, &[status])?;
        Ok(())
    }

    async fn get_commit(&self, org: &str, repo: &str, sha: &str) -> Result<GitCommit> {
        let call = format!("get_commit {org}/{repo}@{sha}");
        let path = format!("/repos/{}/{}/git/commits/{}", seg(org), seg(repo), seg(sha));
        self.get_json(Scope::Org(org), &call, &path).await
    }

    async fn create_commit(&self, org: &str, repo: &str, commit: &NewCommit) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Created {
            sha: String,
        }
        let call = format!("create_commit {org}/{repo} tree {}", commit.tree);
        let path = format!("/repos/{}/{}/git/commits", seg(org), seg(repo));
        let body = to_body(&call, commit)?;
        let created: Created = self
            .request(Scope::Org(org), &call, Method::POST, &path, Some(&body))
            .await?
            .expect(&call, &[201])?
            .json(&call)?;
        Ok(created.sha)
    }

    async fn create_ref(&self, org: &str, repo: &str, git_ref: &str, sha: &str) -> Result<()> {
        let git_ref = full_ref(git_ref);
        let call = format!("create_ref {org}/{repo} {git_ref}");
        let path = format!("/repos/{}/{}/git/refs", seg(org), seg(repo));
        self.request(
            Scope::Org(org),
            &call,
            Method::POST,
            &path,
            Some(&json!({ "ref": git_ref, "sha": sha })),
        )
        .await?
        .expect(&call, &[201])?;
        Ok(())
    }

    async fn update_ref(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        sha: &str,
        force: bool,
    ) -> Result<()> {
        let call = format!("update_ref {org}/{repo} {git_ref}");
        let path = format!(
            "/repos/{}/{}/git/refs/{}",
            seg(org),
            seg(repo),
            ref_path(git_ref)
        );
        self.request(
            Scope::Org(org),
            &call,
            Method::PATCH,
            &path,
            Some(&json!({ "sha": sha, "force": force })),
        )
        .await?
        .expect(&call, &[200])?;
        Ok(())
    }

    async fn delete_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<()> {
        let call = format!("delete_ref {org}/{repo} {git_ref}");
        let path = format!(
            "/repos/{}/{}/git/refs/{}",
            seg(org),
            seg(repo),
            ref_path(git_ref)
        );
        let answer = self
            .request(Scope::Org(org), &call, Method::DELETE, &path, None)
            .await?;
        // A ref that is already gone answers 422 "Reference does not exist"; a redelivered
        // event must not fail on it.
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY
            && error_message(&answer.body) == "Reference does not exist"
        {
            return Ok(());
        }
        answer.expect(&call, &[204, 404])?;
        Ok(())
    }

    async fn merge_branches(
        &self,
        org: &str,
        repo: &str,
        base: &str,
        head: &str,
        commit_message: &str,
    ) -> Result<MergeBranchOutcome> {
        #[derive(serde::Deserialize)]
        struct Merged {
            sha: String,
        }
        let call = format!("merge_branches {org}/{repo} {head} into {base}");
        let path = format!("/repos/{}/{}/merges", seg(org), seg(repo));
        let mut body = json!({ "base": base, "head": head });
        if !commit_message.is_empty() {
            body["commit_message"] = json!(commit_message);
        }
        let answer = self
            .request(Scope::Org(org), &call, Method::POST, &path, Some(&body))
            .await?;
        match answer.status.as_u16() {
            204 => Ok(MergeBranchOutcome::NothingToMerge),
            409 => Ok(MergeBranchOutcome::Conflict {
                message: error_message(&answer.body),
            }),
            _ => {
                let merged: Merged = answer.expect(&call, &[201])?.json(&call)?;
                Ok(MergeBranchOutcome::Merged { sha: merged.sha })
            }
        }
    }

    async fn create_pull_request(
        &self,
        org: &str,
        repo: &str,
        pull_request: &NewPullRequest,
    ) -> Result<PullRequest> {
        let call = format!(
            "create_pull_request {org}/{repo} {} into {}",
            pull_request.head, pull_request.base
        );
        let path = format!("/repos/{}/{}/pulls", seg(org), seg(repo));
        let body = to_body(&call, pull_request)?;
        self.request(Scope::Org(org), &call, Method::POST, &path, Some(&body))
            .await?
            .expect(&call, &[201])?
            .json(&call)
    }

    async fn get_pull_request_patch(&self, org: &str, repo: &str, number: u64) -> Result<String> {
        let call = format!("get_pull_request_patch {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/pulls/{number}", seg(org), seg(repo));
        let answer = self
            .request_as(
                Scope::Org(org),
                &call,
                Method::GET,
                &path,
                None,
                "application/vnd.github.v3.patch",
            )
            .await?
            .expect(&call, &[200])?;
        String::from_utf8(answer.body.to_vec()).map_err(|e| GitHubError::Unexpected {
            call,
            message: format!("the patch is not UTF-8: {e}"),
        })
    }

    async fn list_issue_events(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueEvent>> {
        let call = format!("list_issue_events {org}/{repo}#{number}");
        let path = format!("/repos/{}/{}/issues/{number}/events", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn list_org_repos(&self, org: &str) -> Result<Vec<OrgRepo>> {
        let call = format!("list_org_repos {org}");
        let path = format!("/orgs/{}/repos", seg(org));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn list_branches(&self, org: &str, repo: &str) -> Result<Vec<Branch>> {
        let call = format!("list_branches {org}/{repo}");
        let path = format!("/repos/{}/{}/branches", seg(org), seg(repo));
        self.get_all(Scope::Org(org), &call, &path).await
    }

    async fn list_hook_deliveries(
        &self,
        hook: &Hook,
        query: &DeliveryQuery,
    ) -> Result<HookDeliveries> {
        let call = format!("list_hook_deliveries {hook}");
        let mut listed = HookDeliveries::default();
        let mut next = Some(with_per_page(&hook.deliveries_path(seg)));
        let mut pages = 0;
        while let Some(path) = next.take() {
            if pages >= query.max_pages {
                listed.truncated = true;
                break;
            }
            pages += 1;
            let answer = self
                .hook_request(hook, &call, Method::GET, &path)
                .await?
                .expect(&call, &[200])?;
            let page: Vec<HookDelivery> = answer.json(&call)?;
            // Newest first: once a page reaches `since`, older pages hold nothing asked for.
            let reached_since = page.last().is_none_or(|d| d.delivered_at < query.since);
            listed.deliveries.extend(page);
            if reached_since {
                break;
            }
            next = answer
                .headers
                .get(http::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_page);
        }
        Ok(listed)
    }

    async fn redeliver_hook_delivery(&self, hook: &Hook, delivery_id: u64) -> Result<()> {
        let call = format!("redeliver_hook_delivery {hook} {delivery_id}");
        let path = format!("{}/{delivery_id}/attempts", hook.deliveries_path(seg));
        self.hook_request(hook, &call, Method::POST, &path)
            .await?
            .expect(&call, &[202])?;
        Ok(())
    }
}

/// A request body as JSON.
fn to_body<T: serde::Serialize>(call: &str, value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|source| GitHubError::Decode {
        call: call.to_owned(),
        source,
    })
}

fn protection_path(org: &str, repo: &str, branch: &str) -> String {
    // Slashes of `release/1.0` stay as they are, as Prow sends them.
    format!(
        "/repos/{}/{}/branches/{}/protection",
        seg(org),
        seg(repo),
        file_path(branch)
    )
}

/// `refs/heads/x` for `heads/x`: creating a ref needs the full name.
fn full_ref(git_ref: &str) -> String {
    if git_ref.starts_with("refs/") {
        git_ref.to_owned()
    } else {
        format!("refs/{git_ref}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn next_page_is_the_path_of_the_rel_next_link() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            (
                r#"<https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=3>; rel="last""#,
                Some("/repositories/1/pulls/2/files?per_page=100&page=2"),
            ),
            (
                r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#,
                None,
            ),
            (
                r#"<https://api.github.com/x?page=1>; rel="prev", <https://ghe.corp/api/v3/x?page=3>; rel="next""#,
                Some("/api/v3/x?page=3"),
            ),
            ("garbage", None),
        ];
        for (link, want) in cases {
            assert_eq!(next_page(link).as_deref(), *want, "link {link:?}");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        let cases = [
            ("kubernetes", "kubernetes"),
            ("do-not-merge/hold", "do-not-merge%2Fhold"),
            ("kind/bug fix", "kind%2Fbug%20fix"),
            ("área:x", "%C3%A1rea%3Ax"),
            ("user.name_1~", "user.name_1~"),
        ];
        for (input, want) in cases {
            assert_eq!(seg(input), want);
        }
        assert_eq!(ref_path("heads/release/1.0"), "heads/release/1.0");
        assert_eq!(ref_path("refs/heads/main"), "heads/main");
        assert_eq!(ref_path("heads/a b"), "heads/a%20b");
    }

    #[test]
    fn reviewers_split_into_users_own_org_teams_and_foreign_teams() {
        let logins: Vec<String> = ["alice", "acme/devs", "@ACME/leads", "other/team"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let body = ReviewerBody::new("acme", &logins);
        assert_eq!(body.reviewers, vec!["alice"]);
        assert_eq!(body.team_reviewers, vec!["devs", "leads"]);
        assert_eq!(body.foreign_teams, vec!["other/team"]);
        assert!(ReviewerBody::new("acme", &[]).is_empty());
    }

    #[test]
    fn file_content_base64_may_be_wrapped() {
        assert_eq!(
            decode_content("c", "YXBw\ncm92ZXJz\nOgo=\n").unwrap(),
            b"approvers:\n"
        );
        assert!(decode_content("c", "!!!").is_err());
        assert_eq!(file_path("/a b/OWNERS"), "a%20b/OWNERS");
    }

    #[test]
    fn error_messages_come_from_githubs_message_field() {
        assert_eq!(
            error_message(br#"{"message":"Not Found","documentation_url":"x"}"#),
            "Not Found"
        );
        assert_eq!(
            error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let token = Credentials::Token("ghp_supersecret".to_owned());
        let app = Credentials::App {
            app_id: 7,
            private_key_pem: "-----BEGIN RSA PRIVATE KEY-----secret".to_owned(),
            installation_id: Some(9),
        };
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        let shown = format!("{app:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("app_id: 7"), "{shown}");
    }
}
