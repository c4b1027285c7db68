//! GitHub OAuth login as Prow's deck offers it (`--github-oauth-config-file`, `--cookie-secret`).
//!
//! `/github-login` sends the browser to GitHub's authorize page with a random `state` that is
//! also kept in a signed, short-lived cookie; `/github-login/redirect` compares the two in
//! constant time, exchanges the code for a token, asks `/user` who that is and sets a signed
//! session cookie holding only the login and its expiry. The user's token is used for that one
//! call and dropped: rerun permissions are then checked with Deck's own GitHub client, as Prow
//! checks them with its bot's (see [`crate::membership`]).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::DeckState;
use crate::auth::{Csrf, Identity};

/// Binds the `state` GitHub hands back to the browser that started the login.
pub const STATE_COOKIE: &str = "deck_oauth_state";
/// Who logged in through GitHub, until when (signed).
pub const GITHUB_SESSION_COOKIE: &str = "deck_github_session";
/// A login not finished within this time starts over (Prow: 10 minutes).
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a GitHub login lasts before GitHub is asked again.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Answers from GitHub's token endpoint and `/user` are small; more is refused.
const MAX_GITHUB_ANSWER_BYTES: usize = 64 * 1024;

/// Prow's `githuboauth.Config` file (YAML or JSON), `--github-oauth-config-file`.
#[derive(Clone, Deserialize)]
pub struct GitHubOAuthConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Where GitHub sends the browser back: this Deck's `/github-login/redirect`.
    pub redirect_url: String,
    /// Where the browser lands after logging in when the login link named no page (older
    /// Prow's field; Prow now always uses `dest`). Empty: `/`.
    #[serde(default)]
    pub final_redirect_url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for GitHubOAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubOAuthConfig")
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .field("final_redirect_url", &self.final_redirect_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Why GitHub login could not be set up (Deck does not start).
#[derive(Debug, thiserror::Error)]
pub enum OAuthSetupError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a GitHub OAuth config: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: client_id, client_secret and redirect_url must all be set")]
    Incomplete { path: String },
    #[error("{path}: redirect_url {url:?} is not an http(s) URL")]
    RedirectUrl { path: String, url: String },
    #[error("cookie secret {path}: {reason}")]
    CookieSecret { path: String, reason: &'static str },
    #[error("--oauth-url needs --github-oauth-config-file and --cookie-secret")]
    MissingFiles,
    #[error("HTTP client for GitHub OAuth: {0}")]
    Client(String),
}

fn read(path: &Path) -> Result<String, OAuthSetupError> {
    std::fs::read_to_string(path).map_err(|source| OAuthSetupError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl GitHubOAuthConfig {
    pub fn parse(text: &str, path: &str) -> Result<Self, OAuthSetupError> {
        let config: Self = serde_norway::from_str(text).map_err(|e| OAuthSetupError::Parse {
            path: path.to_owned(),
            // serde's message names the field, never the secret's value.
            message: e.to_string(),
        })?;
        if config.client_id.is_empty()
            || config.client_secret.is_empty()
            || config.redirect_url.is_empty()
        {
            return Err(OAuthSetupError::Incomplete {
                path: path.to_owned(),
            });
        }
        if !(config.redirect_url.starts_with("https://")
            || config.redirect_url.starts_with("http://"))
        {
            return Err(OAuthSetupError::RedirectUrl {
                path: path.to_owned(),
                url: config.redirect_url,
            });
        }
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Self, OAuthSetupError> {
        Self::parse(&read(path)?, &path.display().to_string())
    }

    /// Cookies get `Secure` when Deck is reached over https, which its redirect URL tells.
    pub fn secure(&self) -> bool {
        self.redirect_url.starts_with("https://")
    }
}

/// The `--cookie-secret` file: base64 of random bytes, as Prow reads it.
pub fn parse_cookie_secret(text: &str, path: &str) -> Result<Vec<u8>, OAuthSetupError> {
    let err = |reason| OAuthSetupError::CookieSecret {
        path: path.to_owned(),
        reason,
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| err("not base64"))?;
    // Prow asks for 32 bytes; fewer would make the signatures guessable.
    if raw.len() < 32 {
        return Err(err("must decode to at least 32 bytes"));
    }
    Ok(raw)
}

pub fn load_cookie_secret(path: &Path) -> Result<Vec<u8>, OAuthSetupError> {
    parse_cookie_secret(&read(path)?, &path.display().to_string())
}

/// Where GitHub's OAuth pages and REST API are (GitHub Enterprise, or a fake in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub api: String,
}

impl Endpoints {
    /// Prow's `--github-host` (`github.com`, or a URL with its scheme) and `--github-endpoint`.
    pub fn new(host: &str, api: &str) -> Self {
        let base = if host.starts_with("http://") || host.starts_with("https://") {
            host.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", host.trim_end_matches('/'))
        };
        Self {
            authorize: format!("{base}/login/oauth/authorize"),
            token: format!("{base}/login/oauth/access_token"),
            api: api.trim_end_matches('/').to_owned(),
        }
    }
}

/// A key of its own per use of the cookie secret, so one signature never passes as another.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = hmac_with(secret);
    mac.update(b"prow-deck v1 ");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// `payload.mac`: a value the browser keeps but cannot change.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn sign(&self, payload: &str) -> String {
        format!("{payload}.{}", self.tag(payload))
    }

    /// The payload of a value this signer signed; None for anything else.
    pub fn open<'a>(&self, value: &'a str) -> Option<&'a str> {
        let (payload, tag) = value.rsplit_once('.')?;
        self.verify_tag(payload, tag).then_some(payload)
    }

    /// The hex HMAC of `payload` alone (a CSRF token is the tag of its session id).
    pub fn tag(&self, payload: &str) -> String {
        let mut mac = hmac_with(&self.key);
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is this signer's tag of `payload`, compared in constant time.
    pub fn verify_tag(&self, payload: &str, tag: &str) -> bool {
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        let mut mac = hmac_with(&self.key);
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).is_ok()
    }
}

/// GitHub logins: 1-39 ASCII letters, digits and hyphens. Anything else is refused, so a login
/// always sits in a cookie and a page unescaped and cannot break the cookie's format.
pub fn valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A path on this Deck to return to (`?dest=`): absolute path, not `//host` or `/\host`.
pub fn local_path(dest: &str) -> Option<&str> {
    let ok = dest.starts_with('/')
        && !dest.starts_with("//")
        && !dest.starts_with("/\\")
        && dest.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(dest)
}

/// Why a login through GitHub failed; shown to the user, logged without secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("The login expired or was started in another browser: log in again.")]
    BadState,
    #[error("GitHub did not grant access: {0}.")]
    Denied(String),
    #[error("GitHub did not return a code.")]
    NoCode,
    #[error("GitHub refused the login: {0}.")]
    Exchange(String),
    #[error("Could not ask GitHub who you are: {0}.")]
    User(String),
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Everything the login routes need; built once at start.
#[derive(Clone)]
pub struct GitHubOAuth {
    config: GitHubOAuthConfig,
    endpoints: Endpoints,
    state: Signer,
    session: Signer,
    csrf: [u8; 32],
    session_ttl: Duration,
    http: reqwest::Client,
}

impl std::fmt::Debug for GitHubOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubOAuth")
            .field("config", &self.config)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl GitHubOAuth {
    pub fn new(
        config: GitHubOAuthConfig,
        cookie_secret: &[u8],
        endpoints: Endpoints,
    ) -> Result<Self, OAuthSetupError> {
        // Err only means another provider is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OAuthSetupError::Client(e.to_string()))?;
        Ok(Self {
            config,
            endpoints,
            state: Signer::new(derive_key(cookie_secret, "oauth state")),
            session: Signer::new(derive_key(cookie_secret, "github session")),
            csrf: derive_key(cookie_secret, "csrf"),
            session_ttl: DEFAULT_SESSION_TTL,
            http,
        })
    }

    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// CSRF tokens keyed by the cookie secret, so every replica accepts every other's forms.
    pub fn csrf(&self) -> Csrf {
        Csrf::new(self.csrf)
    }

    fn cookie(&self, name: &str, value: &str, path: &str, max_age: u64) -> String {
        let secure = if self.config.secure() { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }

    /// GitHub's authorize URL for `state` and the `Set-Cookie` binding `state` (and where to
    /// return) to this browser. `state` must be unguessable.
    pub fn start(&self, state: &str, dest: Option<&str>, now: SystemTime) -> (String, String) {
        let dest = dest.and_then(local_path).unwrap_or("");
        let expires = unix(now) + STATE_TTL.as_secs();
        let value = self
            .state
            .sign(&format!("{state}.{expires}.{}", hex::encode(dest)));
        let mut params = vec![
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("state", state),
        ];
        let scopes = self.config.scopes.join(" ");
        if !scopes.is_empty() {
            params.push(("scope", &scopes));
        }
        let url = reqwest::Url::parse_with_params(&self.endpoints.authorize, &params)
            .map_or_else(|_| self.endpoints.authorize.clone(), String::from);
        // Sent back only to the redirect route; SameSite=Lax lets GitHub's top-level redirect
        // carry it.
        let cookie = self.cookie(STATE_COOKIE, &value, "/github-login", STATE_TTL.as_secs());
        (url, cookie)
    }

    /// Checks GitHub's `state` against the signed cookie; the page to land on when it matches.
    pub fn check_state(
        &self,
        cookie: Option<&str>,
        state: Option<&str>,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let (Some(cookie), Some(state)) = (cookie, state) else {
            return Err(LoginError::BadState);
        };
        let payload = self.state.open(cookie).ok_or(LoginError::BadState)?;
        let mut parts = payload.splitn(3, '.');
        let (Some(want), Some(expires), Some(dest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(LoginError::BadState);
        };
        let fresh = expires.parse::<u64>().is_ok_and(|e| e > unix(now));
        let same = !state.is_empty() && bool::from(want.as_bytes().ct_eq(state.as_bytes()));
        if !(fresh && same) {
            return Err(LoginError::BadState);
        }
        let dest = hex::decode(dest)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        Ok(match local_path(&dest) {
            Some(d) => d.to_owned(),
            None if !self.config.final_redirect_url.is_empty() => {
                self.config.final_redirect_url.clone()
            }
            None => "/".to_owned(),
        })
    }

    /// The `Set-Cookie` of a session for `login`.
    pub fn session_cookie(&self, login: &str, now: SystemTime) -> String {
        let expires = unix(now) + self.session_ttl.as_secs();
        let value = self.session.sign(&format!("{login}.{expires}"));
        self.cookie(
            GITHUB_SESSION_COOKIE,
            &value,
            "/",
            self.session_ttl.as_secs(),
        )
    }

    /// The login of a valid, unexpired session cookie value.
    pub fn session_login(&self, value: &str, now: SystemTime) -> Option<String> {
        let payload = self.session.open(value)?;
        let (login, expires) = payload.split_once('.')?;
        let fresh = expires.parse::<u64>().ok()? > unix(now);
        (fresh && valid_login(login)).then(|| login.to_owned())
    }

    /// `Set-Cookie`s that end the GitHub session and any login in progress.
    pub fn clear_cookies(&self) -> [String; 2] {
        [
            self.cookie(GITHUB_SESSION_COOKIE, "", "/", 0),
            self.cookie(STATE_COOKIE, "", "/github-login", 0),
        ]
    }

    /// Trades the code GitHub handed back for the user's token.
    pub async fn exchange(&self, code: &str) -> Result<String, LoginError> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: Option<String>,
            error: Option<String>,
        }
        let response = self
            .http
            .post(&self.endpoints.token)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.as_str()),
                ("code", code),
                ("redirect_uri", self.config.redirect_url.as_str()),
            ]))
            .send()
            .await
            .map_err(|e| LoginError::Exchange(transport(&e)))?;
        let status = response.status();
        let body = bounded_body(response).await.map_err(LoginError::Exchange)?;
        if !status.is_success() {
            return Err(LoginError::Exchange(format!("HTTP {}", status.as_u16())));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| LoginError::Exchange("unreadable answer".into()))?;
        match (answer.access_token, answer.error) {
            (Some(token), _) if !token.is_empty() => Ok(token),
            // GitHub answers 200 with an error code (`bad_verification_code`, ...).
            (_, Some(error)) => Err(LoginError::Exchange(printable(&error))),
            _ => Err(LoginError::Exchange("no token".into())),
        }
    }

    /// The login the token belongs to (`GET /user`).
    pub async fn user_login(&self, token: &str) -> Result<String, LoginError> {
        #[derive(Deserialize)]
        struct UserAnswer {
            login: String,
        }
        let response = self
            .http
            .get(format!("{}/user", self.endpoints.api))
            .header(header::ACCEPT, "application/vnd.github+json")
            .header(header::USER_AGENT, "prow-deck")
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| LoginError::User(transport(&e)))?;
        let status = response.status();
        let body = bounded_body(response).await.map_err(LoginError::User)?;
        if !status.is_success() {
            return Err(LoginError::User(format!("HTTP {}", status.as_u16())));
        }
        let user: UserAnswer = serde_json::from_slice(&body)
            .map_err(|_| LoginError::User("unreadable answer".into()))?;
        if !valid_login(&user.login) {
            return Err(LoginError::User("not a GitHub login".into()));
        }
        Ok(user.login)
    }
}

/// `application/x-www-form-urlencoded`, encoded as a URL's query is.
fn form_body(params: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap_or_else(|_| unreachable!());
    url.query_pairs_mut().extend_pairs(params);
    url.query().unwrap_or("").to_owned()
}

/// A reqwest error without its URL (which holds no secret here, but keeps messages short).
fn transport(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else {
        "unreachable".into()
    }
}

/// GitHub's error codes are short identifiers; anything else is cut and cleaned before it is
/// shown or logged.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect()
}

async fn bounded_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        if body.len() + chunk.len() > MAX_GITHUB_ANSWER_BYTES {
            return Err("answer too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An unguessable `state`: 256 random bits.
pub fn new_state() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    hex::encode(bytes)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    dest: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RedirectQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn not_configured() -> Response {
    (StatusCode::NOT_FOUND, "GitHub login is not configured").into_response()
}

/// `GET /github-login[?dest=/path]`: off to GitHub.
pub(crate) async fn github_login(
    State(state): State<DeckState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(oauth) = &state.oauth else {
        return not_configured();
    };
    let (url, cookie) = oauth.start(&new_state(), query.dest.as_deref(), SystemTime::now());
    with_cookies(Redirect::to(&url).into_response(), &[cookie])
}

/// `GET /github-login/redirect?code=..&state=..`: back from GitHub.
pub(crate) async fn github_redirect(
    State(state): State<DeckState>,
    Query(query): Query<RedirectQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(oauth) = &state.oauth else {
        return not_configured();
    };
    let now = SystemTime::now();
    let cookie = crate::web::cookie(&headers, STATE_COOKIE);
    let result = async {
        let dest = oauth.check_state(cookie.as_deref(), query.state.as_deref(), now)?;
        if let Some(error) = &query.error {
            return Err(LoginError::Denied(printable(error)));
        }
        let code = query.code.as_deref().filter(|c| !c.is_empty());
        let token = oauth.exchange(code.ok_or(LoginError::NoCode)?).await?;
        let login = oauth.user_login(&token).await?;
        Ok((login, dest))
    }
    .await;
    match result {
        Ok((login, dest)) => {
            tracing::info!(user = %login, "logged in through GitHub");
            state.metrics.count("github_login", "ok");
            let [_, clear_state] = oauth.clear_cookies();
            let cookies = [oauth.session_cookie(&login, now), clear_state];
            with_cookies(Redirect::to(&dest).into_response(), &cookies)
        }
        Err(err) => {
            tracing::warn!(error = %err, "GitHub login failed");
            state.metrics.count("github_login", "refused");
            let status = match err {
                LoginError::Exchange(_) | LoginError::User(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::FORBIDDEN,
            };
            let page = crate::web::message(
                &Identity::Anonymous,
                status,
                "Login failed",
                &err.to_string(),
                Some(("/github-login".to_owned(), "Log in with GitHub")),
            );
            with_cookies(page, &oauth.clear_cookies()[1..])
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &[u8] = &[42; 32];

    fn config(redirect: &str) -> GitHubOAuthConfig {
        GitHubOAuthConfig::parse(
            &format!(
                "client_id: cid\nclient_secret: csecret\nredirect_url: {redirect}\nscopes: [read:org]\n"
            ),
            "f",
        )
        .unwrap()
    }

    fn oauth(redirect: &str) -> GitHubOAuth {
        GitHubOAuth::new(
            config(redirect),
            SECRET,
            Endpoints::new("github.example.com", "https://github.example.com/api/v3"),
        )
        .unwrap()
    }

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn value(set_cookie: &str) -> &str {
        set_cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
    }

    #[test]
    fn config_is_read_as_prow_reads_it_and_never_shows_the_secret() {
        let c = config("https://prow.example.com/github-login/redirect");
        assert_eq!(c.client_id, "cid");
        assert_eq!(c.scopes, ["read:org"]);
        assert!(c.secure());
        assert!(!format!("{c:?}").contains("csecret"));
        let json = r#"{"client_id":"a","client_secret":"b","redirect_url":"http://x/r","final_redirect_url":"http://x/pr"}"#;
        let c = GitHubOAuthConfig::parse(json, "f").unwrap();
        assert_eq!(c.final_redirect_url, "http://x/pr");
        assert!(!c.secure());
        let incomplete = "client_id: a\nclient_secret: b\n";
        assert!(matches!(
            GitHubOAuthConfig::parse(incomplete, "f"),
            Err(OAuthSetupError::Parse { .. } | OAuthSetupError::Incomplete { .. })
        ));
        let empty = "client_id: a\nclient_secret: ''\nredirect_url: https://x\n";
        assert!(matches!(
            GitHubOAuthConfig::parse(empty, "f"),
            Err(OAuthSetupError::Incomplete { .. })
        ));
        let bad = "client_id: a\nclient_secret: b\nredirect_url: javascript:x\n";
        assert!(matches!(
            GitHubOAuthConfig::parse(bad, "f"),
            Err(OAuthSetupError::RedirectUrl { .. })
        ));
    }

    #[test]
    fn cookie_secret_is_base64_of_at_least_32_bytes() {
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(
            parse_cookie_secret(&format!("{good}\n"), "s").unwrap(),
            [7u8; 32]
        );
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        assert!(parse_cookie_secret(&short, "s").is_err());
        assert!(parse_cookie_secret("not base64!", "s").is_err());
    }

    #[test]
    fn endpoints_follow_the_host_or_a_full_url() {
        let e = Endpoints::new("github.com", "https://api.github.com/");
        assert_eq!(e.authorize, "https://github.com/login/oauth/authorize");
        assert_eq!(e.token, "https://github.com/login/oauth/access_token");
        assert_eq!(e.api, "https://api.github.com");
        let e = Endpoints::new("http://127.0.0.1:9/", "http://127.0.0.1:9");
        assert_eq!(e.authorize, "http://127.0.0.1:9/login/oauth/authorize");
    }

    #[test]
    fn signatures_bind_payload_and_key() {
        let a = Signer::new(derive_key(SECRET, "one"));
        let b = Signer::new(derive_key(SECRET, "two"));
        let signed = a.sign("alice.100");
        assert_eq!(a.open(&signed), Some("alice.100"));
        assert_eq!(b.open(&signed), None, "another purpose's key");
        let forged = signed.replacen("alice", "admin", 1);
        assert_eq!(a.open(&forged), None);
        assert_eq!(a.open("alice.100"), None);
        assert_eq!(a.open("alice.100.zz"), None);
        assert_eq!(a.open(""), None);
    }

    #[test]
    fn state_must_match_its_signed_cookie_and_be_fresh() {
        let o = oauth("https://prow.example.com/github-login/redirect");
        let state = new_state();
        assert_eq!(state.len(), 64);
        let (url, set) = o.start(&state, Some("/view/a1"), at(1000));
        assert!(
            url.starts_with("https://github.example.com/login/oauth/authorize?client_id=cid&redirect_uri=https%3A%2F%2Fprow.example.com%2Fgithub-login%2Fredirect&state="),
            "{url}"
        );
        assert!(url.ends_with("&scope=read%3Aorg"), "{url}");
        assert!(
            set.ends_with("; Path=/github-login; Max-Age=600; HttpOnly; SameSite=Lax; Secure"),
            "{set}"
        );
        let cookie = value(&set);
        assert!(!cookie.contains("csecret"));
        let other = oauth("https://prow.example.com/github-login/redirect");
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            u64,
            Result<String, LoginError>,
        );
        let table: [Case<'_>; 7] = [
            (Some(cookie), Some(&state), 1001, Ok("/view/a1".into())),
            (Some(cookie), Some(&state), 1600, Err(LoginError::BadState)),
            (Some(cookie), Some("0000"), 1001, Err(LoginError::BadState)),
            (Some(cookie), Some(""), 1001, Err(LoginError::BadState)),
            (None, Some(&state), 1001, Err(LoginError::BadState)),
            (Some(cookie), None, 1001, Err(LoginError::BadState)),
            (
                Some(&cookie.replacen('1', "2", 1)),
                Some(&state),
                1001,
                Err(LoginError::BadState),
            ),
        ];
        for (i, (c, s, now, want)) in table.into_iter().enumerate() {
            assert_eq!(o.check_state(c, s, at(now)), want, "case {i}");
        }
        // Same secret, another replica: accepted.
        assert!(
            other
                .check_state(Some(cookie), Some(&state), at(1001))
                .is_ok()
        );
    }

    #[test]
    fn landing_page_is_a_local_dest_else_the_configured_one() {
        let mut o = oauth("http://localhost/github-login/redirect");
        for (dest, want) in [
            (None, "/"),
            (Some("/pr?x=1"), "/pr?x=1"),
            (Some("//evil.example.com"), "/"),
            (Some("/\\evil.example.com"), "/"),
            (Some("https://evil.example.com"), "/"),
            (Some("/a b"), "/"),
        ] {
            let (_, set) = o.start("s", dest, at(0));
            assert_eq!(
                o.check_state(Some(value(&set)), Some("s"), at(1)).unwrap(),
                want,
                "{dest:?}"
            );
        }
        o.config.final_redirect_url = "https://prow.example.com/pr".into();
        let (_, set) = o.start("s", None, at(0));
        assert!(!set.contains("Secure"), "plain http: {set}");
        assert_eq!(
            o.check_state(Some(value(&set)), Some("s"), at(1)).unwrap(),
            "https://prow.example.com/pr"
        );
    }

    #[test]
    fn sessions_hold_only_a_signed_login_until_they_expire() {
        let o = oauth("https://prow.example.com/github-login/redirect")
            .with_session_ttl(Duration::from_secs(100));
        let set = o.session_cookie("alice", at(1000));
        assert!(set.starts_with("deck_github_session=alice.1100."), "{set}");
        assert!(set.ends_with("; Path=/; Max-Age=100; HttpOnly; SameSite=Lax; Secure"));
        let v = value(&set);
        assert_eq!(o.session_login(v, at(1099)), Some("alice".into()));
        assert_eq!(o.session_login(v, at(1100)), None);
        assert_eq!(
            o.session_login(&v.replacen("alice", "admin", 1), at(1000)),
            None
        );
        assert_eq!(
            o.session_login(&v.replacen("1100", "9999", 1), at(1000)),
            None
        );
        // A state cookie is not a session.
        let (_, state) = o.start("alice", None, at(1000));
        assert_eq!(o.session_login(value(&state), at(1000)), None);
        for login in ["alice", "a-b-1"] {
            assert!(valid_login(login));
        }
        for login in ["", "a b", "a;b", "a.b", &"x".repeat(40)] {
            assert!(!valid_login(login), "{login:?}");
        }
    }
}
