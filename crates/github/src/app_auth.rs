//! GitHub App authentication: the app's JWT, installation tokens per org, and the cache that lets instances share them.
//!
//! An app acts in an org through that org's installation, with an installation token
//! (an hour long) minted by `POST /app/installations/{id}/access_tokens` under a JWT the
//! app signs with its private key. Minting costs a request, so tokens are kept in a
//! [`TokenCache`] until five minutes before they expire; [`MemoryTokenCache`] keeps them
//! per process. Secrets never reach logs: [`CachedToken`] and [`AppKey`] print redacted.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::error::{GitHubError, Result};

/// A token is used only while it has at least this long to live, so a request never
/// starts with a token that expires on the way.
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// GitHub refuses JWTs that live longer than ten minutes; nine leaves room for clock skew.
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);

/// GitHub refuses JWTs issued in its future; backdating a minute absorbs our clock running
/// ahead of GitHub's.
const JWT_BACKDATE: Duration = Duration::from_secs(60);

/// An installation token and when GitHub says it expires. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub token: String,
    pub expires_at: SystemTime,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl CachedToken {
    /// Whether the token still has [`TOKEN_REFRESH_MARGIN`] to live at `now`.
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        now + TOKEN_REFRESH_MARGIN < self.expires_at
    }
}

/// Where installation tokens are kept between calls, keyed by app and installation
/// (`github-app/{app_id}/installation/{id}`). A cluster shares one implementation between
/// all instances of all functions (see the README's design notes); the in-memory one
/// shares only within a process.
#[async_trait]
pub trait TokenCache: Send + Sync + fmt::Debug {
    async fn get(&self, key: &str) -> Option<CachedToken>;
    async fn put(&self, key: &str, token: CachedToken);
    /// Forgets `token` under `key` (GitHub refused it), unless another token replaced it
    /// meanwhile.
    async fn invalidate(&self, key: &str, token: &str);
}

/// [`TokenCache`] in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryTokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl MemoryTokenCache {
    pub fn new() -> Self {
        MemoryTokenCache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        // Plain data: a panic elsewhere leaves it usable.
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl TokenCache for MemoryTokenCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        self.lock().get(key).cloned()
    }

    async fn put(&self, key: &str, token: CachedToken) {
        self.lock().insert(key.to_owned(), token);
    }

    async fn invalidate(&self, key: &str, token: &str) {
        let mut tokens = self.lock();
        if tokens.get(key).is_some_and(|t| t.token == token) {
            tokens.remove(key);
        }
    }
}

/// The cache key of an installation's token.
pub(crate) fn token_key(app_id: u64, installation_id: u64) -> String {
    format!("github-app/{app_id}/installation/{installation_id}")
}

/// A GitHub App's id and private key, ready to sign JWTs. `Debug` hides the key.
pub(crate) struct AppKey {
    pub(crate) app_id: u64,
    key: jsonwebtoken::EncodingKey,
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKey")
            .field("app_id", &self.app_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(serde::Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

impl AppKey {
    /// Reads an RSA private key in PEM (PKCS#1 as GitHub issues it, or PKCS#8).
    pub(crate) fn from_pem(app_id: u64, pem: &str) -> Result<Self> {
        // Err means a provider is already installed, which is all we need.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            // The error names the problem, never the key's contents.
            .map_err(|e| GitHubError::Setup(format!("GitHub App {app_id} private key: {e}")))?;
        Ok(AppKey { app_id, key })
    }

    /// A JWT for acting as the app itself, issued at `now` (backdated a minute).
    pub(crate) fn jwt(&self, now: SystemTime) -> Result<String> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_err(|e| GitHubError::Setup(format!("system clock before 1970: {e}")))?;
        let claims = Claims {
            iat: now.saturating_sub(JWT_BACKDATE).as_secs(),
            exp: (now + JWT_LIFETIME).as_secs(),
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|e| GitHubError::Setup(format!("signing GitHub App {} JWT: {e}", self.app_id)))
    }
}

/// Reads GitHub's `expires_at` (RFC 3339).
pub(crate) fn parse_expires_at(call: &str, expires_at: &str) -> Result<SystemTime> {
    let parsed =
        chrono::DateTime::parse_from_rfc3339(expires_at).map_err(|e| GitHubError::Unexpected {
            call: call.to_owned(),
            message: format!("token expiry {expires_at:?} is not RFC 3339: {e}"),
        })?;
    let secs = u64::try_from(parsed.timestamp()).unwrap_or(0);
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The account a search is about, for picking the installation that runs it: the first
/// `org:`, `user:` or `repo:` qualifier (`repo:acme/foo` -> `acme`).
pub(crate) fn search_owner(query: &str) -> Option<&str> {
    query.split_whitespace().find_map(|term| {
        let (qualifier, value) = term.split_once(':')?;
        let value = value.trim_matches('"');
        match qualifier.to_ascii_lowercase().as_str() {
            "org" | "user" => Some(value),
            "repo" => value.split_once('/').map(|(owner, _)| owner),
            _ => None,
        }
        .filter(|owner| !owner.is_empty())
    })
}

/// Installations of the app by account, from `GET /app/installations`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Installations {
    /// Lower-cased account login -> installation id.
    pub(crate) by_login: HashMap<String, u64>,
    /// Account id -> installation id.
    pub(crate) by_account_id: HashMap<u64, u64>,
}

#[derive(serde::Deserialize)]
pub(crate) struct Installation {
    pub(crate) id: u64,
    pub(crate) account: InstallationAccount,
}

#[derive(serde::Deserialize)]
pub(crate) struct InstallationAccount {
    pub(crate) login: String,
    pub(crate) id: u64,
}

impl Installations {
    pub(crate) fn from_list(list: Vec<Installation>) -> Self {
        let mut installations = Installations::default();
        for installation in list {
            installations
                .by_login
                .insert(installation.account.login.to_lowercase(), installation.id);
            installations
                .by_account_id
                .insert(installation.account.id, installation.id);
        }
        installations
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_used_until_five_minutes_before_it_expires() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = |in_secs: u64| CachedToken {
            token: "t".to_owned(),
            expires_at: now + Duration::from_secs(in_secs),
        };
        assert!(token(3600).is_fresh(now));
        assert!(token(301).is_fresh(now));
        assert!(!token(300).is_fresh(now));
        assert!(!token(0).is_fresh(now));
        let shown = format!(
            "{:?}",
            CachedToken {
                token: "ghs_secret".to_owned(),
                expires_at: now,
            }
        );
        assert!(!shown.contains("ghs_secret"), "{shown}");
    }

    #[test]
    fn searches_name_the_account_whose_installation_runs_them() {
        let cases = [
            ("is:pr org:acme label:lgtm", Some("acme")),
            ("is:pr repo:acme/foo repo:other/bar", Some("acme")),
            ("user:bob is:issue", Some("bob")),
            ("is:pr \"org:quoted\"", None),
            ("is:pr label:lgtm", None),
            ("repo:", None),
        ];
        for (query, want) in cases {
            assert_eq!(search_owner(query), want, "{query}");
        }
    }

    #[test]
    fn expiry_times_are_read_as_rfc3339() {
        let at = parse_expires_at("c", "2016-07-11T22:14:10Z").unwrap();
        assert_eq!(
            at.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_468_275_250
        );
        assert!(parse_expires_at("c", "tomorrow").is_err());
    }

    #[tokio::test]
    async fn the_memory_cache_forgets_only_the_token_that_was_refused() {
        let cache = MemoryTokenCache::new();
        let token = |t: &str| CachedToken {
            token: t.to_owned(),
            expires_at: UNIX_EPOCH,
        };
        cache.put("k", token("new")).await;
        cache.invalidate("k", "old").await;
        assert_eq!(cache.get("k").await, Some(token("new")));
        cache.invalidate("k", "new").await;
        assert_eq!(cache.get("k").await, None);
    }
}
