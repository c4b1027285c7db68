//! `ArtifactStore` on Google Cloud Storage (or fake-gcs-server) through the GCS JSON API.
//!
//! Speaks the JSON API with reqwest rather than through the `google-cloud-storage` crate: the
//! crate cannot list (its `StorageControl` is gRPC, which emulators do not serve), so listing
//! needed the JSON API anyway, and the three calls we need (multipart upload with a create-only
//! precondition, `alt=media` download, prefix/delimiter listing) are small.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::store::{ArtifactError, ArtifactStore, Listing, ObjectInfo};

/// The public GCS endpoint.
pub const GCS_ENDPOINT: &str = "https://storage.googleapis.com";
/// Env var naming an emulator (`host:port` or a URL), read by [`GcsStore::from_env`].
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";
const METADATA_TOKEN_URL: &str =
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token";

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum GcsAuth {
    /// No credentials: emulators and public buckets.
    Anonymous,
    /// A fixed OAuth2 access token (e.g. from `gcloud auth print-access-token`).
    Token(String),
    /// Tokens from the GCE/GKE metadata server (workload identity), refreshed before expiry.
    MetadataServer,
}

#[derive(Debug, Default)]
struct CachedToken {
    token: String,
    expires: Option<Instant>,
}

/// GCS through its JSON API; one store serves any bucket.
#[derive(Debug, Clone)]
pub struct GcsStore {
    client: reqwest::Client,
    endpoint: Url,
    auth: GcsAuth,
    token: Arc<Mutex<CachedToken>>,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    items: Vec<ListItem>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListItem {
    name: String,
    /// The JSON API sends sizes as decimal strings (uint64).
    #[serde(default)]
    size: Option<String>,
}

#[derive(Deserialize)]
struct MetadataToken {
    access_token: String,
    expires_in: u64,
}

/// Turns `STORAGE_EMULATOR_HOST` (`host:port` or a URL) into an endpoint URL.
pub fn emulator_endpoint(value: &str) -> Result<Url, ArtifactError> {
    let value = value.trim().trim_end_matches('/');
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    Url::parse(&with_scheme)
        .map_err(|e| ArtifactError::Credentials(format!("{STORAGE_EMULATOR_HOST}={value:?}: {e}")))
}

impl GcsStore {
    /// A store talking to `endpoint` (e.g. `http://127.0.0.1:4443` for fake-gcs-server).
    pub fn new(endpoint: Url, auth: GcsAuth) -> Result<Self, ArtifactError> {
        // reqwest is built without a default TLS provider; install ring's unless the binary
        // already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|source| ArtifactError::Http {
                op: "build client",
                location: endpoint.to_string(),
                source,
            })?;
        Ok(Self {
            client,
            endpoint,
            auth,
            token: Arc::new(Mutex::new(CachedToken::default())),
        })
    }

    /// The emulator named by `STORAGE_EMULATOR_HOST` (anonymous), else real GCS with tokens from
    /// the metadata server.
    pub fn from_env() -> Result<Self, ArtifactError> {
        match std::env::var(STORAGE_EMULATOR_HOST) {
            Ok(host) if !host.trim().is_empty() => {
                Self::new(emulator_endpoint(&host)?, GcsAuth::Anonymous)
            }
            _ => Self::new(
                Url::parse(GCS_ENDPOINT)
                    .map_err(|e| ArtifactError::Credentials(format!("{GCS_ENDPOINT}: {e}")))?,
                GcsAuth::MetadataServer,
            ),
        }
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            // push() percent-encodes each segment, so `/` inside an object name becomes %2F.
            path.extend(segments);
        }
        url
    }

    async fn bearer(&self) -> Result<Option<String>, ArtifactError> {
        match &self.auth {
            GcsAuth::Anonymous => Ok(None),
            GcsAuth::Token(t) => Ok(Some(t.clone())),
            GcsAuth::MetadataServer => {
                let mut cached = self.token.lock().await;
                let fresh = cached.expires.is_some_and(|at| Instant::now() < at);
                if !fresh {
                    let token = self.metadata_token().await?;
                    cached.token = token.access_token;
                    // Refresh a minute early so a request never carries an expiring token.
                    cached.expires = Some(
                        Instant::now() + Duration::from_secs(token.expires_in.saturating_sub(60)),
                    );
                }
                Ok(Some(cached.token.clone()))
            }
        }
    }

    async fn metadata_token(&self) -> Result<MetadataToken, ArtifactError> {
        let resp = self
            .client
            .get(METADATA_TOKEN_URL)
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .map_err(|e| ArtifactError::Credentials(format!("metadata server: {e}")))?;
        if !resp.status().is_success() {
            return Err(ArtifactError::Credentials(format!(
                "metadata server: HTTP {}",
                resp.status()
            )));
        }
        resp.json()
            .await
            .map_err(|e| ArtifactError::Credentials(format!("metadata server token: {e}")))
    }

    async fn send(
        &self,
        op: &'static str,
        location: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ArtifactError> {
        let req = match self.bearer().await? {
            Some(token) => req.bearer_auth(token),
            None => req,
        };
        req.send().await.map_err(|source| ArtifactError::Http {
            op,
            location: location.to_owned(),
            source,
        })
    }

    async fn upload(
        &self,
        bucket: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
        create_only: bool,
    ) -> Result<bool, ArtifactError> {
        let location = format!("gs://{bucket}/{name}");
        let mut url = self.url(&["upload", "storage", "v1", "b", bucket, "o"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("uploadType", "multipart");
            if create_only {
                q.append_pair("ifGenerationMatch", "0");
            }
        }
        let content_type = if content_type.is_empty() {
            "application/octet-stream"
        } else {
            content_type
        };
        let (body_type, body) = multipart_body(name, content_type, &data);
        let req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, body_type)
            .body(body);
        let resp = self.send("upload", &location, req).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::PRECONDITION_FAILED if create_only => Ok(false),
            status => Err(status_error("upload", location, status, resp).await),
        }
    }
}

/// A `multipart/related` upload body: object metadata, then the data. Multipart rather than
/// `uploadType=media` because fake-gcs-server applies `ifGenerationMatch` only to multipart
/// uploads (GCS applies it to both).
fn multipart_body(name: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let meta = serde_json::json!({ "name": name, "contentType": content_type }).to_string();
    // The boundary must not occur in the data; a data-derived suffix makes that near-certain and
    // the check below makes it certain.
    let mut n: u64 = data.len() as u64;
    let boundary = loop {
        let b = format!("prow-artifacts-{n:016x}");
        if !contains(data, b.as_bytes()) && !meta.contains(&b) {
            break b;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    };
    let mut body = Vec::with_capacity(data.len() + meta.len() + 200);
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/related; boundary={boundary}"), body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn status_error(
    op: &'static str,
    location: String,
    status: StatusCode,
    resp: reqwest::Response,
) -> ArtifactError {
    let mut body = resp.text().await.unwrap_or_default();
    body.truncate(512);
    ArtifactError::Status {
        op,
        location,
        status: status.as_u16(),
        body,
    }
}

#[async_trait]
impl ArtifactStore for GcsStore {
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<(), ArtifactError> {
        self.upload(bucket, name, data, content_type, false)
            .await
            .map(|_| ())
    }

    async fn put_if_absent(
        &self,
        bucket: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<bool, ArtifactError> {
        self.upload(bucket, name, data, content_type, true).await
    }

    async fn get(&self, bucket: &str, name: &str) -> Result<Option<Bytes>, ArtifactError> {
        let location = format!("gs://{bucket}/{name}");
        let mut url = self.url(&["storage", "v1", "b", bucket, "o", name]);
        url.query_pairs_mut().append_pair("alt", "media");
        let resp = self
            .send("download", &location, self.client.get(url))
            .await?;
        match resp.status() {
            s if s.is_success() => {
                resp.bytes()
                    .await
                    .map(Some)
                    .map_err(|source| ArtifactError::Http {
                        op: "download",
                        location,
                        source,
                    })
            }
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(status_error("download", location, status, resp).await),
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, ArtifactError> {
        let location = format!("gs://{bucket}/{prefix}");
        let mut listing = Listing::default();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(&["storage", "v1", "b", bucket, "o"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("prefix", prefix);
                if let Some(d) = delimiter.filter(|d| !d.is_empty()) {
                    q.append_pair("delimiter", d);
                }
                if let Some(t) = &page_token {
                    q.append_pair("pageToken", t);
                }
            }
            let resp = self.send("list", &location, self.client.get(url)).await?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                // No such bucket: nothing stored there yet.
                return Ok(Listing::default());
            }
            if !status.is_success() {
                return Err(status_error("list", location, status, resp).await);
            }
            let body = resp.bytes().await.map_err(|source| ArtifactError::Http {
                op: "list",
                location: location.clone(),
                source,
            })?;
            let page: ListPage =
                serde_json::from_slice(&body).map_err(|source| ArtifactError::Decode {
                    op: "list",
                    location: location.clone(),
                    source,
                })?;
            listing
                .objects
                .extend(page.items.into_iter().map(|i| ObjectInfo {
                    size: i.size.and_then(|s| s.parse().ok()).unwrap_or(0),
                    name: i.name,
                }));
            listing.prefixes.extend(page.prefixes);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => page_token = Some(t),
                None => break,
            }
        }
        listing.objects.sort_by(|a, b| a.name.cmp(&b.name));
        listing.prefixes.sort();
        listing.prefixes.dedup();
        Ok(listing)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn emulator_host_accepts_host_port_and_urls() {
        let table = [
            ("127.0.0.1:4443", "http://127.0.0.1:4443/"),
            ("http://localhost:9023/", "http://localhost:9023/"),
            ("https://gcs.example.com", "https://gcs.example.com/"),
        ];
        for (value, want) in table {
            assert_eq!(emulator_endpoint(value).unwrap().as_str(), want, "{value}");
        }
    }

    #[test]
    fn object_names_are_one_encoded_path_segment() {
        let store = GcsStore::new(
            Url::parse("http://127.0.0.1:4443").unwrap(),
            GcsAuth::Anonymous,
        )
        .unwrap();
        let url = store.url(&["storage", "v1", "b", "bkt", "o", "logs/ci foo/1/x.json"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:4443/storage/v1/b/bkt/o/logs%2Fci%20foo%2F1%2Fx.json"
        );
    }
}
