//! `ArtifactStore` on GCS and S3 through Apache Arrow's `object_store`: one client per bucket,
//! built on first use from the provider's credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, PutMode, PutMultipartOptions, PutPayload,
    WriteMultipart,
};

use crate::body::{Chunks, gunzip_if_encoded};
use crate::gcs_emulator::EmulatorUploads;
use crate::layout::Bucket;
use crate::store::{ArtifactError, ArtifactStore, Body, Listing, ObjectInfo, PutOptions};

/// Multipart part size: above S3's 5 MiB minimum, small enough to keep memory bounded.
const PART_SIZE: usize = 8 << 20;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// Whole-upload attempts (Prow's uploader makes 4, sleeping i² seconds between them); each
/// request inside an attempt is also retried by `object_store` with exponential backoff.
const UPLOAD_ATTEMPTS: u32 = 4;

/// One bucket's client: everything we call is on these two traits.
pub(crate) trait Backend: ObjectStore + PaginatedListStore {}
impl<T: ObjectStore + PaginatedListStore> Backend for T {}

/// Builds the client for a bucket name.
pub(crate) type Builder =
    Box<dyn Fn(&str) -> Result<Arc<dyn Backend>, ArtifactError> + Send + Sync>;

/// A provider's buckets (`gs` or `s3`), each with its `object_store` client.
pub struct CloudStore {
    provider: &'static str,
    build: Builder,
    buckets: Mutex<HashMap<String, Arc<dyn Backend>>>,
    /// GCS emulators that cannot take `object_store`'s XML uploads take JSON ones.
    emulator_uploads: Option<EmulatorUploads>,
}

impl std::fmt::Debug for CloudStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudStore")
            .field("provider", &self.provider)
            .field("emulator_uploads", &self.emulator_uploads)
            .finish_non_exhaustive()
    }
}

/// The retry policy every client gets: transient failures (connection errors, 5xx, 429) are
/// retried with exponential backoff, bounded so a dead endpoint fails within minutes.
pub(crate) fn retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: 6,
        retry_timeout: Duration::from_secs(120),
    }
}

/// How long to wait before upload attempt `attempt` (1-based) is retried: Prow's i² seconds.
pub(crate) fn upload_backoff(attempt: u32) -> Duration {
    Duration::from_secs(u64::from(attempt * attempt))
}

impl CloudStore {
    pub(crate) fn new(
        provider: &'static str,
        build: Builder,
        emulator_uploads: Option<EmulatorUploads>,
    ) -> Self {
        Self {
            provider,
            build,
            buckets: Mutex::new(HashMap::new()),
            emulator_uploads,
        }
    }

    fn bucket(&self, bucket: &str) -> Result<(String, Arc<dyn Backend>), ArtifactError> {
        let name = Bucket::parse(bucket).name;
        if name.is_empty() || name.contains('/') {
            return Err(ArtifactError::InvalidName {
                name: bucket.to_owned(),
                reason: "not a bucket name",
            });
        }
        let mut cache = self
            .buckets
            .lock()
            .map_err(|_| ArtifactError::Credentials("bucket cache poisoned".into()))?;
        if let Some(client) = cache.get(&name) {
            return Ok((name, client.clone()));
        }
        let client = (self.build)(&name)?;
        cache.insert(name.clone(), client.clone());
        Ok((name, client))
    }

    fn location(&self, bucket: &str, name: &str) -> String {
        format!("{}://{bucket}/{name}", self.provider)
    }

    async fn upload_once(
        &self,
        client: &dyn Backend,
        bucket: &str,
        name: &str,
        path: &Path,
        body: &Body,
        options: &PutOptions,
    ) -> Result<bool, ArtifactError> {
        let location = self.location(bucket, name);
        let backend_err = |op| {
            let location = location.clone();
            move |source| ArtifactError::Backend {
                op,
                location,
                source,
            }
        };
        let mut chunks = Chunks::open(body, options.gzip).await?;
        if let Some(emulator) = &self.emulator_uploads {
            return emulator.upload(bucket, name, chunks, options).await;
        }
        let mut attributes = Attributes::new();
        let content_type = if options.content_type.is_empty() {
            "application/octet-stream"
        } else {
            options.content_type.as_str()
        };
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        if let Some(encoding) = chunks.content_encoding() {
            attributes.insert(Attribute::ContentEncoding, encoding.into());
        }
        if options.create_only {
            // Conditional writes exist only for single-request puts; create-only objects are
            // small metadata files, so holding one in memory is fine.
            let data = chunks.collect().await?;
            let put = object_store::PutOptions {
                mode: PutMode::Create,
                attributes,
                ..object_store::PutOptions::default()
            };
            return match client.put_opts(path, PutPayload::from(data), put).await {
                Ok(_) => Ok(true),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(false),
                Err(e) => Err(backend_err("create")(e)),
            };
        }
        let first = chunks.next().await?.unwrap_or_default();
        let second = chunks.next().await?;
        let Some(second) = second else {
            // One chunk: one request.
            let put = object_store::PutOptions {
                attributes,
                ..object_store::PutOptions::default()
            };
            client
                .put_opts(path, PutPayload::from(first), put)
                .await
                .map_err(backend_err("upload"))?;
            return Ok(true);
        };
        let upload = client
            .put_multipart_opts(
                path,
                PutMultipartOptions {
                    attributes,
                    ..PutMultipartOptions::default()
                },
            )
            .await
            .map_err(backend_err("start upload"))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut next = Some(second);
        writer.put(first);
        let streamed: Result<(), ArtifactError> = async {
            while let Some(chunk) = next.take() {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(backend_err("upload part"))?;
                writer.put(chunk);
                next = chunks.next().await?;
            }
            Ok(())
        }
        .await;
        match streamed {
            Ok(()) => {
                writer
                    .finish()
                    .await
                    .map_err(backend_err("finish upload"))?;
                Ok(true)
            }
            Err(e) => {
                // Leave no half-uploaded parts billed in the bucket.
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }
}

fn parse_path(name: &str) -> Result<Path, ArtifactError> {
    if name.is_empty() {
        return Err(ArtifactError::InvalidName {
            name: name.to_owned(),
            reason: "empty",
        });
    }
    Path::parse(name).map_err(|_| ArtifactError::InvalidName {
        name: name.to_owned(),
        reason: "not a valid object path",
    })
}

#[async_trait]
impl ArtifactStore for CloudStore {
    async fn upload(
        &self,
        bucket: &str,
        name: &str,
        body: Body,
        options: &PutOptions,
    ) -> Result<bool, ArtifactError> {
        let (bucket, client) = self.bucket(bucket)?;
        let path = parse_path(name)?;
        let mut attempt = 1;
        loop {
            match self
                .upload_once(client.as_ref(), &bucket, name, &path, &body, options)
                .await
            {
                Err(e) if e.is_transient() && attempt < UPLOAD_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "upload failed, retrying");
                    tokio::time::sleep(upload_backoff(attempt)).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    async fn get(&self, bucket: &str, name: &str) -> Result<Option<Bytes>, ArtifactError> {
        let (bucket, client) = self.bucket(bucket)?;
        let path = parse_path(name)?;
        let location = self.location(&bucket, name);
        let backend_err = |source| ArtifactError::Backend {
            op: "download",
            location: location.clone(),
            source,
        };
        let result = match client.get_opts(&path, GetOptions::default()).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(backend_err(e)),
        };
        let encoding = result
            .attributes
            .get(&Attribute::ContentEncoding)
            .map(|v| v.as_ref().to_owned());
        let data = result.bytes().await.map_err(backend_err)?;
        gunzip_if_encoded(data, encoding.as_deref(), &location).map(Some)
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, ArtifactError> {
        let (bucket, client) = self.bucket(bucket)?;
        let location = self.location(&bucket, prefix);
        let delimiter = delimiter.filter(|d| !d.is_empty()).map(str::to_owned);
        let mut listing = Listing::default();
        let mut page_token = None;
        loop {
            let options = PaginatedListOptions {
                delimiter: delimiter.clone().map(Into::into),
                page_token,
                ..PaginatedListOptions::default()
            };
            let page = match client
                .list_paginated((!prefix.is_empty()).then_some(prefix), options)
                .await
            {
                Ok(page) => page,
                // No such bucket: nothing was stored there yet.
                Err(object_store::Error::NotFound { .. }) => return Ok(Listing::default()),
                Err(source) => {
                    return Err(ArtifactError::Backend {
                        op: "list",
                        location,
                        source,
                    });
                }
            };
            listing
                .objects
                .extend(page.result.objects.into_iter().map(|o| ObjectInfo {
                    name: o.location.as_ref().to_owned(),
                    size: o.size,
                }));
            // object_store drops the trailing delimiter of common prefixes; GCS and Prow keep it.
            let delim = delimiter.as_deref().unwrap_or("/");
            listing.prefixes.extend(
                page.result
                    .common_prefixes
                    .into_iter()
                    .map(|p| format!("{}{delim}", p.as_ref())),
            );
            match page.page_token.filter(|t| !t.is_empty()) {
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
    fn uploads_back_off_like_prow() {
        let waits: Vec<u64> = (1..UPLOAD_ATTEMPTS)
            .map(|a| upload_backoff(a).as_secs())
            .collect();
        assert_eq!(waits, [1, 4, 9]);
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let backend = |source| ArtifactError::Backend {
            op: "upload",
            location: "s3://b/x".into(),
            source,
        };
        let generic = object_store::Error::Generic {
            store: "S3",
            source: "connection reset".into(),
        };
        let denied = object_store::Error::PermissionDenied {
            path: "x".into(),
            source: "403".into(),
        };
        assert!(backend(generic).is_transient());
        assert!(!backend(denied).is_transient());
        let status = |status| ArtifactError::Status {
            op: "upload",
            location: String::new(),
            status,
            body: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(!status(403).is_transient());
        assert!(
            !ArtifactError::InvalidName {
                name: "..".into(),
                reason: "relative"
            }
            .is_transient()
        );
    }

    #[test]
    fn object_names_must_be_paths() {
        assert!(parse_path("logs/ci-foo/1/build-log.txt").is_ok());
        assert!(parse_path("pr-logs/pull/a/1/j/2/artifacts/junit 01.xml").is_ok());
        for bad in ["", "a//b", "a/../b"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
