//! [`SharedTokenCache`]: GitHub App installation tokens shared by every instance of every
//! function through ghproxy's store, sealed so that only holders of the app's private key can
//! read them.
//!
//! Each instance minting its own token per installation spends the app's own rate limit, and
//! (behind ghproxy) starts a cache partition per token; sharing one token per installation
//! avoids both. The tokens sit in ghproxy's durable store under
//! `/_prow/app-tokens/{key}`, but ghproxy never sees one in the clear: each is sealed with
//! AES-256-GCM under a key derived from the app's private key (which ghproxy does not have),
//! with the cache key as associated data, so a blob cannot be read, altered, or moved to
//! another installation's key. A blob that does not open is a miss, and the instance mints.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::app_auth::{CachedToken, TokenCache};
use crate::error::{GitHubError, Result};

/// Where ghproxy keeps the sealed tokens.
pub const TOKENS_PATH: &str = "/_prow/app-tokens";

/// Separates the sealing key from any other use of the private key's bytes.
const KEY_CONTEXT: &[u8] = b"prow-rs shared GitHub App installation tokens v1\0";

/// A [`TokenCache`] in ghproxy. `Debug` shows where, never the key.
pub struct SharedTokenCache {
    base: String,
    client: reqwest::Client,
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for SharedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTokenCache")
            .field("base", &self.base)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    token: String,
    expires_at: u64,
}

impl SharedTokenCache {
    /// A cache in the ghproxy at `ghproxy_url`, sealing with a key derived from the app's
    /// private key `private_key_pem`.
    pub fn new(ghproxy_url: &str, private_key_pem: &[u8]) -> Result<Self> {
        let digest = Sha256::digest([KEY_CONTEXT, private_key_pem].concat());
        let key = UnboundKey::new(&AES_256_GCM, &digest)
            .map_err(|_| GitHubError::Setup("deriving the token sealing key".to_owned()))?;
        // Err only means another provider is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| GitHubError::Setup(format!("token cache client: {e}")))?;
        Ok(Self {
            base: ghproxy_url.trim_end_matches('/').to_owned(),
            client,
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        })
    }

    fn url(&self, key: &str) -> String {
        format!("{}{TOKENS_PATH}/{key}", self.base)
    }

    /// `nonce || ciphertext || tag` of the token and its expiry.
    fn seal(&self, name: &str, token: &CachedToken) -> Option<Vec<u8>> {
        let expires_at = token.expires_at.duration_since(UNIX_EPOCH).ok()?.as_secs();
        let mut data = serde_json::to_vec(&Sealed {
            token: token.token.clone(),
            expires_at,
        })
        .ok()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut data,
            )
            .ok()?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&data);
        Some(blob)
    }

    fn open(&self, name: &str, blob: &[u8]) -> Option<CachedToken> {
        let (nonce, sealed) = blob.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut sealed)
            .ok()?;
        let opened: Sealed = serde_json::from_slice(plain).ok()?;
        Some(CachedToken {
            token: opened.token,
            expires_at: UNIX_EPOCH + Duration::from_secs(opened.expires_at),
        })
    }

    async fn fetch(&self, key: &str) -> Option<CachedToken> {
        let response = self.client.get(self.url(key)).send().await;
        match response {
            Ok(r) if r.status().is_success() => {
                let blob = r.bytes().await.ok()?;
                let token = self.open(key, &blob);
                if token.is_none() {
                    tracing::warn!(
                        key,
                        "shared token does not open with this app's key; minting"
                    );
                }
                token
            }
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => None,
            Ok(r) => {
                tracing::warn!(key, status = %r.status(), "shared token cache answered an error; minting");
                None
            }
            Err(err) => {
                tracing::warn!(key, error = %err, "shared token cache unreachable; minting");
                None
            }
        }
    }
}

#[async_trait]
impl TokenCache for SharedTokenCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        self.fetch(key).await
    }

    async fn put(&self, key: &str, token: CachedToken) {
        let Some(blob) = self.seal(key, &token) else {
            tracing::warn!(key, "sealing a token failed; not shared");
            return;
        };
        match self.client.put(self.url(key)).body(blob).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(key, status = %r.status(), "shared token cache refused a token")
            }
            Err(err) => tracing::warn!(key, error = %err, "shared token cache unreachable"),
        }
    }

    async fn invalidate(&self, key: &str, token: &str) {
        // Only the holder of the key can tell which token a blob holds: read, compare, drop.
        if self.fetch(key).await.is_some_and(|t| t.token == token)
            && let Err(err) = self.client.delete(self.url(key)).send().await
        {
            tracing::warn!(key, error = %err, "shared token cache unreachable");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &[u8] = include_bytes!("../tests/fixtures/test-app-key.pem");

    #[test]
    fn a_sealed_token_opens_only_with_the_same_key_and_name() {
        let cache = SharedTokenCache::new("http://ghproxy", KEY).unwrap();
        let token = CachedToken {
            token: "ghs_secret".to_owned(),
            expires_at: UNIX_EPOCH + Duration::from_secs(1_900_000_000),
        };
        let name = "github-app/12/installation/101";
        let blob = cache.seal(name, &token).unwrap();
        assert!(
            !blob.windows(10).any(|w| w == b"ghs_secret"),
            "the token is not in the clear"
        );
        assert_eq!(cache.open(name, &blob), Some(token.clone()));
        assert_eq!(
            cache.open("github-app/12/installation/202", &blob),
            None,
            "moved"
        );
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(cache.open(name, &tampered), None, "altered");
        let other = SharedTokenCache::new("http://ghproxy", b"another key").unwrap();
        assert_eq!(other.open(name, &blob), None, "another app's key");
        assert_ne!(
            cache.seal(name, &token),
            Some(blob),
            "a fresh nonce each time"
        );
        assert!(!format!("{cache:?}").contains("BEGIN"));
    }
}
