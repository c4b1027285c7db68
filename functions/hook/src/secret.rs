//! Prow's HMAC secret file (plain token or per org/repo token lists) and signature checks against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// One entry of the YAML form; `created_at` only matters to Prow's rotation tool.
#[derive(Debug, Clone, Deserialize)]
struct Token {
    value: String,
}

/// The parsed secret file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HmacSecrets {
    /// The whole file is one token (the historic format).
    Single(Vec<u8>),
    /// `'*' | org | org/repo -> [tokens]`; every token under the first matching key is valid.
    PerRepo(BTreeMap<String, Vec<Vec<u8>>>),
}

/// Why a signature was not accepted; rendered after "Invalid X-Hub-Signature-256 - ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature is not of the form sha256=<hex>")]
    Malformed,
    #[error("no HMAC secret is configured for {0:?}")]
    NoSecretFor(String),
    #[error("payload signature does not match")]
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading HMAC secret file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("HMAC secret file {0} is empty")]
    Empty(PathBuf),
}

impl HmacSecrets {
    /// Parses a secret file's content the way Prow does: a YAML map of token lists if it is
    /// one, otherwise the whole (trimmed) content is the single token.
    pub fn parse(content: &[u8]) -> Self {
        let per_repo = std::str::from_utf8(content)
            .ok()
            .and_then(|text| serde_norway::from_str::<BTreeMap<String, Vec<Token>>>(text).ok());
        match per_repo {
            Some(map) => HmacSecrets::PerRepo(
                map.into_iter()
                    .map(|(key, tokens)| {
                        let values = tokens.into_iter().map(|t| t.value.into_bytes()).collect();
                        (key, values)
                    })
                    .collect(),
            ),
            None => HmacSecrets::Single(content.trim_ascii().to_vec()),
        }
    }

    /// Reads and parses a secret file; re-read per request so rotations apply without restart.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        let content = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_owned(),
            source,
        })?;
        match Self::parse(&content) {
            HmacSecrets::Single(token) if token.is_empty() => {
                Err(SecretError::Empty(path.to_owned()))
            }
            secrets => Ok(secrets),
        }
    }

    /// Tokens valid for a payload of `org_repo` (`org/repo`, or just `org` for org-level events).
    pub fn tokens_for(&self, org_repo: &str) -> Option<&[Vec<u8>]> {
        match self {
            HmacSecrets::Single(token) => Some(std::slice::from_ref(token)),
            HmacSecrets::PerRepo(map) => {
                let org = org_repo.split('/').next().unwrap_or_default();
                [org_repo, org, "*"]
                    .into_iter()
                    .find_map(|key| map.get(key))
                    .map(Vec::as_slice)
            }
        }
    }

    /// Checks `X-Hub-Signature-256` over `body` against the tokens for `org_repo`.
    pub fn verify(
        &self,
        org_repo: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let hex_digest = signature
            .strip_prefix("sha256=")
            .ok_or(SignatureError::Malformed)?;
        let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
        let tokens = self
            .tokens_for(org_repo)
            .ok_or_else(|| SignatureError::NoSecretFor(org_repo.to_owned()))?;
        let matches = tokens.iter().any(|token| {
            Hmac::<Sha256>::new_from_slice(token)
                .map(|mac| mac.chain_update(body).verify_slice(&expected).is_ok())
                .unwrap_or(false)
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// `sha256=<hex>` as GitHub computes it; used by tests and local senders.
pub fn sign(token: &[u8], body: &[u8]) -> String {
    let digest = Hmac::<Sha256>::new_from_slice(token)
        .map(|mac| mac.chain_update(body).finalize().into_bytes().to_vec())
        .unwrap_or_default();
    format!("sha256={}", hex::encode(digest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROTATED: &str = r#"
'*': [{value: s3cr3t-global, created_at: 2024-01-01T00:00:00Z}]
acme: [{value: old, created_at: 2024-01-01T00:00:00Z}, {value: new, created_at: 2024-06-01T00:00:00Z}]
acme/foo: [{value: repo-only, created_at: 2024-06-01T00:00:00Z}]
"#;

    #[test]
    fn a_plain_file_is_one_trimmed_token() {
        assert_eq!(
            HmacSecrets::parse(b"abc123\n"),
            HmacSecrets::Single(b"abc123".to_vec())
        );
        // Valid YAML that is not a token map is still a plain token, as in Prow.
        assert_eq!(
            HmacSecrets::parse(b"just: a map of strings"),
            HmacSecrets::Single(b"just: a map of strings".to_vec())
        );
    }

    #[test]
    fn lookup_prefers_repo_then_org_then_wildcard() {
        let secrets = HmacSecrets::parse(ROTATED.as_bytes());
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("acme/foo", Some(&["repo-only"])),
            ("acme/bar", Some(&["old", "new"])),
            ("acme", Some(&["old", "new"])),
            ("other/repo", Some(&["s3cr3t-global"])),
            ("", Some(&["s3cr3t-global"])),
        ];
        for (org_repo, want) in cases {
            let got: Option<Vec<&str>> = secrets.tokens_for(org_repo).map(|tokens| {
                tokens
                    .iter()
                    .map(|t| std::str::from_utf8(t).unwrap())
                    .collect()
            });
            assert_eq!(got.as_deref(), *want, "{org_repo}");
        }
        let no_wildcard = HmacSecrets::parse(b"acme: [{value: x}]");
        assert_eq!(no_wildcard.tokens_for("other/repo"), None);
    }

    #[test]
    fn signatures_are_checked_against_every_token_of_the_matching_key() {
        let secrets = HmacSecrets::parse(ROTATED.as_bytes());
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let cases: &[(&str, &str, Result<(), SignatureError>)] = &[
            ("acme/bar", "old", Ok(())),
            ("acme/bar", "new", Ok(())),
            ("acme/foo", "repo-only", Ok(())),
            ("acme/foo", "new", Err(SignatureError::Mismatch)),
            ("acme/foo", "s3cr3t-global", Err(SignatureError::Mismatch)),
            ("other/x", "s3cr3t-global", Ok(())),
        ];
        for (org_repo, token, want) in cases {
            let signature = sign(token.as_bytes(), body);
            assert_eq!(
                secrets.verify(org_repo, &signature, body),
                *want,
                "{org_repo} signed with {token}"
            );
        }
    }

    #[test]
    fn malformed_signatures_and_unknown_repos_are_refused() {
        let secrets = HmacSecrets::parse(b"acme: [{value: x}]");
        let body = b"{}";
        let good = sign(b"x", body);
        assert_eq!(secrets.verify("acme/foo", &good, body), Ok(()));
        assert_eq!(
            secrets.verify("other/foo", &good, body),
            Err(SignatureError::NoSecretFor("other/foo".into()))
        );
        for bad in [
            "sha1=abc",
            "sha256=zz",
            "sha256",
            good.trim_start_matches("sha256="),
        ] {
            assert_eq!(
                secrets.verify("acme/foo", bad, body),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        let truncated = &good[..good.len() - 2];
        assert_eq!(
            secrets.verify("acme/foo", truncated, body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn known_github_example_signature() {
        // GitHub's documented example ("Validating webhook deliveries").
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
