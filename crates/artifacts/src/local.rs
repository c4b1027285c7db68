//! `ArtifactStore` on a local directory: `<root>/<bucket>/<object name>` (Prow's layout on disk),
//! the default under `prow up`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::layout::Bucket;
use crate::store::{
    ArtifactError, ArtifactStore, Body, Listing, ObjectInfo, PutOptions, fold_listing,
};

/// Objects as plain files, so `ls`/`cat` (and Deck) can read them directly.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`, creating the directory if needed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, ArtifactError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io_err("create directory", &root))?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding an object. Rejects names that would escape the bucket directory, since
    /// object names come from job specs and job output.
    /// `bucket` may carry its provider (`gs://b`, `s3://b`): every provider's bucket `b` is the
    /// directory `<root>/b`.
    pub fn file_path(&self, bucket: &str, name: &str) -> Result<PathBuf, ArtifactError> {
        let bucket = Bucket::parse(bucket).name;
        let bucket = bucket.as_str();
        check_segment(bucket, bucket)?;
        if name.is_empty() {
            return Err(invalid(name, "empty"));
        }
        let mut path = self.root.join(bucket);
        for segment in name.split('/') {
            check_segment(name, segment)?;
            path.push(segment);
        }
        Ok(path)
    }
}

fn invalid(name: &str, reason: &'static str) -> ArtifactError {
    ArtifactError::InvalidName {
        name: name.to_owned(),
        reason,
    }
}

fn check_segment(name: &str, segment: &str) -> Result<(), ArtifactError> {
    match segment {
        "" => Err(invalid(name, "empty path segment")),
        "." | ".." => Err(invalid(name, "relative path segment")),
        s if s.contains('\\') || s.contains('\0') => Err(invalid(name, "forbidden character")),
        _ => Ok(()),
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError {
    let location = path.display().to_string();
    move |source| ArtifactError::Io {
        op,
        location,
        source,
    }
}

async fn ensure_parent(path: &Path) -> Result<(), ArtifactError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io_err("create directory", parent))?;
    }
    Ok(())
}

/// A sibling temp file renamed over the target, so readers never see a half-written object.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".prow-tmp-{}-{}", std::process::id(), unique()));
    path.with_file_name(name)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Writes `body` to `tmp`, streaming a file source.
async fn write_body(tmp: &Path, body: &Body) -> Result<(), ArtifactError> {
    match body {
        Body::Bytes(data) => tokio::fs::write(tmp, data)
            .await
            .map_err(io_err("write", tmp)),
        Body::File(src) => tokio::fs::copy(src, tmp)
            .await
            .map(|_| ())
            .map_err(io_err("copy", src)),
    }
}

#[async_trait]
impl ArtifactStore for LocalStore {
    /// Stores the bytes as they are: Prow's local export does not compress, and plain files
    /// stay readable with `cat`.
    async fn upload(
        &self,
        bucket: &str,
        name: &str,
        body: Body,
        options: &PutOptions,
    ) -> Result<bool, ArtifactError> {
        let path = self.file_path(bucket, name)?;
        ensure_parent(&path).await?;
        let tmp = temp_path(&path);
        if let Err(e) = write_body(&tmp, &body).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        if options.create_only {
            // hard_link fails if the target exists: an atomic create-only publish of complete
            // content.
            let linked = tokio::fs::hard_link(&tmp, &path).await;
            let _ = tokio::fs::remove_file(&tmp).await;
            return match linked {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io_err("create", &path)(e)),
            };
        }
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_err("rename into", &path)(e));
        }
        Ok(true)
    }

    async fn get(&self, bucket: &str, name: &str) -> Result<Option<Bytes>, ArtifactError> {
        let path = self.file_path(bucket, name)?;
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(None)
            }
            Err(e) if e.kind() == ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, ArtifactError> {
        let bucket = Bucket::parse(bucket).name;
        check_segment(&bucket, &bucket)?;
        let bucket_dir = self.root.join(&bucket);
        // Only the directory that contains the prefix needs walking.
        let start = match prefix.rfind('/') {
            Some(at) => {
                let dir = &prefix[..at];
                for segment in dir.split('/') {
                    check_segment(prefix, segment)?;
                }
                bucket_dir.join(dir)
            }
            None => bucket_dir.clone(),
        };
        let objects = walk(&bucket_dir, &start).await?;
        Ok(fold_listing(objects, prefix, delimiter))
    }
}

async fn walk(bucket_dir: &Path, start: &Path) -> Result<Vec<ObjectInfo>, ArtifactError> {
    let mut out = Vec::new();
    let mut dirs = vec![start.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                continue;
            }
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(io_err("list", &dir))? {
            let path = entry.path();
            let meta = entry.metadata().await.map_err(io_err("stat", &path))?;
            if meta.is_dir() {
                dirs.push(path);
                continue;
            }
            let file_name = entry.file_name();
            if file_name.to_string_lossy().contains(".prow-tmp-") {
                continue;
            }
            let Ok(rel) = path.strip_prefix(bucket_dir) else {
                continue;
            };
            let name: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(ObjectInfo {
                name: name.join("/"),
                size: meta.len(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_and_create_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        let b = "bkt";
        assert_eq!(store.get(b, "logs/a/1/started.json").await.unwrap(), None);
        store
            .put(
                b,
                "logs/a/1/started.json",
                Bytes::from("{}"),
                "application/json",
            )
            .await
            .unwrap();
        store
            .put(b, "logs/a/1/started.json", Bytes::from("{\"x\":1}"), "")
            .await
            .unwrap();
        assert_eq!(
            store.get(b, "logs/a/1/started.json").await.unwrap(),
            Some(Bytes::from("{\"x\":1}"))
        );
        assert!(
            store
                .put_if_absent(b, "logs/a/1/finished.json", Bytes::from("first"), "")
                .await
                .unwrap()
        );
        assert!(
            !store
                .put_if_absent(b, "logs/a/1/finished.json", Bytes::from("second"), "")
                .await
                .unwrap()
        );
        assert_eq!(
            store.get(b, "logs/a/1/finished.json").await.unwrap(),
            Some(Bytes::from("first"))
        );
        store
            .put(b, "logs/a/latest-build.txt", Bytes::from("1"), "text/plain")
            .await
            .unwrap();
        let l = store.list(b, "logs/a/", Some("/")).await.unwrap();
        assert_eq!(l.prefixes, vec!["logs/a/1/"]);
        assert_eq!(l.objects.len(), 1);
        assert_eq!(l.objects[0].name, "logs/a/latest-build.txt");
        assert_eq!(l.objects[0].size, 1);
        let l = store.list(b, "logs/a/1/f", None).await.unwrap();
        assert_eq!(l.objects[0].name, "logs/a/1/finished.json");
        assert_eq!(
            store.list("other", "", Some("/")).await.unwrap(),
            Listing::default()
        );
        // The directory of an object is not an object.
        assert_eq!(store.get(b, "logs/a/1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn names_that_escape_the_bucket_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        for (bucket, name) in [
            ("b", "../x"),
            ("b", "a/../../x"),
            ("b", "/etc/passwd"),
            ("b", "a//b"),
            ("b", ""),
            ("..", "x"),
            ("", "x"),
        ] {
            let err = store.put(bucket, name, Bytes::new(), "").await;
            assert!(
                matches!(err, Err(ArtifactError::InvalidName { .. })),
                "{bucket} {name}"
            );
        }
        assert!(store.list("b", "../", Some("/")).await.is_err());
    }
}
