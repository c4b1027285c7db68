//! The `ArtifactStore` port: buckets of named objects, as GCS and S3 model them.

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Full object name inside the bucket (`logs/ci-foo/1/started.json`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// The answer to [`ArtifactStore::list`]: objects directly under the prefix and, when a delimiter
/// is given, the "directories" (common prefixes, each ending with the delimiter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Sorted by name.
    pub objects: Vec<ObjectInfo>,
    /// Sorted, each ending with the delimiter.
    pub prefixes: Vec<String>,
}

/// What an upload sends: bytes in hand, or a file opened (again, on a retry) at upload time so a
/// multi-GB log is streamed rather than held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Bytes(Bytes),
    File(PathBuf),
}

/// How an object is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Empty means `application/octet-stream`.
    pub content_type: String,
    /// Gzip the object and store it with `Content-Encoding: gzip` when its start is more than
    /// 1 KiB and not gzip already (Prow's rule for `compress_file_types`). Local stores ignore it,
    /// as Prow's local export does.
    pub gzip: bool,
    /// Write only if no object has that name (GCS `ifGenerationMatch=0`, S3 `If-None-Match: *`).
    pub create_only: bool,
}

impl PutOptions {
    pub fn new(content_type: &str) -> Self {
        Self {
            content_type: content_type.to_owned(),
            ..Self::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("invalid object name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("{op} {location}: {source}")]
    Io {
        op: &'static str,
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{op} {location}: {source}")]
    Backend {
        op: &'static str,
        location: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{op} {location}: {source}")]
    Http {
        op: &'static str,
        location: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{op} {location}: HTTP {status}: {body}")]
    Status {
        op: &'static str,
        location: String,
        status: u16,
        body: String,
    },
    #[error("{op} {location}: unexpected response: {source}")]
    Decode {
        op: &'static str,
        location: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("unsupported bucket {0:?}: gs://, s3:// and file:// are")]
    UnsupportedBucket(String),
}

impl ArtifactError {
    /// Whether trying the same upload again may succeed: network trouble and server errors, not
    /// bad names, missing credentials or refusals.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Io { .. } | Self::Http { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Backend { source, .. } => !matches!(
                source,
                object_store::Error::NotFound { .. }
                    | object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::InvalidPath { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::UnknownConfigurationKey { .. }
            ),
            Self::InvalidName { .. }
            | Self::Decode { .. }
            | Self::Credentials(_)
            | Self::UnsupportedBucket(_) => false,
        }
    }
}

/// Object storage for job artifacts, addressed as Prow addresses it: a bucket as written in
/// `gcs_configuration.bucket` (`name`, `gs://name`, `s3://name`) and an object name.
///
/// Object-safe so functions hold an `Arc<dyn ArtifactStore>` chosen at start-up.
#[async_trait]
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// Writes an object. Returns `false`, writing nothing, when `create_only` is set and the
    /// object exists already.
    async fn upload(
        &self,
        bucket: &str,
        name: &str,
        body: Body,
        options: &PutOptions,
    ) -> Result<bool, ArtifactError>;

    /// Reads an object (decompressed if it was stored gzip-encoded); `None` when it does not exist.
    async fn get(&self, bucket: &str, name: &str) -> Result<Option<Bytes>, ArtifactError>;

    /// Lists objects whose names start with `prefix`. With a delimiter (usually `/`), names that
    /// contain it after the prefix are folded into [`Listing::prefixes`].
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, ArtifactError>;

    /// Writes (or overwrites) an object from bytes in hand.
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<(), ArtifactError> {
        self.upload(
            bucket,
            name,
            Body::Bytes(data),
            &PutOptions::new(content_type),
        )
        .await
        .map(|_| ())
    }

    /// Writes an object only if none exists under that name; `false` when one did.
    async fn put_if_absent(
        &self,
        bucket: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<bool, ArtifactError> {
        let options = PutOptions {
            create_only: true,
            ..PutOptions::new(content_type)
        };
        self.upload(bucket, name, Body::Bytes(data), &options).await
    }
}

/// Folds object names into a listing the way GCS does for `prefix` + `delimiter`.
pub(crate) fn fold_listing(
    mut objects: Vec<ObjectInfo>,
    prefix: &str,
    delimiter: Option<&str>,
) -> Listing {
    objects.retain(|o| o.name.starts_with(prefix));
    objects.sort_by(|a, b| a.name.cmp(&b.name));
    let Some(delim) = delimiter.filter(|d| !d.is_empty()) else {
        return Listing {
            objects,
            prefixes: Vec::new(),
        };
    };
    let mut listing = Listing::default();
    for object in objects {
        match object.name[prefix.len()..].find(delim) {
            Some(at) => {
                let dir = object.name[..prefix.len() + at + delim.len()].to_owned();
                if listing.prefixes.last() != Some(&dir) {
                    listing.prefixes.push(dir);
                }
            }
            None => listing.objects.push(object),
        }
    }
    listing.prefixes.dedup();
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> ObjectInfo {
        ObjectInfo {
            name: name.into(),
            size: 1,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn listings_fold_names_below_the_delimiter_into_prefixes() {
        let all = vec![
            obj("logs/ci-foo/2/started.json"),
            obj("logs/ci-foo/latest-build.txt"),
            obj("logs/ci-foo/1/started.json"),
            obj("logs/ci-foo/1/artifacts/junit.xml"),
            obj("logs/ci-bar/1/started.json"),
        ];
        let table: [(&str, Option<&str>, &[&str], &[&str]); 4] = [
            (
                "logs/ci-foo/",
                Some("/"),
                &["logs/ci-foo/latest-build.txt"],
                &["logs/ci-foo/1/", "logs/ci-foo/2/"],
            ),
            ("logs/", Some("/"), &[], &["logs/ci-bar/", "logs/ci-foo/"]),
            (
                "logs/ci-foo/1/",
                None,
                &[
                    "logs/ci-foo/1/artifacts/junit.xml",
                    "logs/ci-foo/1/started.json",
                ],
                &[],
            ),
            ("pr-logs/", Some("/"), &[], &[]),
        ];
        for (prefix, delim, objects, prefixes) in table {
            let l = fold_listing(all.clone(), prefix, delim);
            let names: Vec<&str> = l.objects.iter().map(|o| o.name.as_str()).collect();
            assert_eq!(names, objects, "{prefix} {delim:?}");
            assert_eq!(l.prefixes, prefixes, "{prefix} {delim:?}");
        }
    }
}
