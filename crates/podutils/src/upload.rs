//! Uploading in Prow's layout (Prow's `pkg/gcsupload` and `pkg/pod-utils/gcs`): where a run's
//! files go, which store takes them, and the upload itself, shared by initupload and sidecar.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use prow_artifacts::layout::{Bucket, job_paths};
use prow_artifacts::upload::{content_type, files_under};
use prow_artifacts::{
    ArtifactError, ArtifactStore, Body, LayoutError, LocalStore, PutOptions, StoreConfig, Stores,
};
use prow_core::jobspec::JobSpec;

use crate::jobspec::prowjob_spec;
use crate::log::Logger;
use crate::options::GcsOptions;

/// Why an upload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Layout(#[from] LayoutError),
    #[error("{0}")]
    Store(#[from] ArtifactError),
    #[error("unsupported storage {0:?}: gs://, s3://, file:// and local_output_dir are")]
    Unsupported(String),
    #[error("{0}")]
    Config(String),
    #[error("read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where uploads go: a store and the bucket inside it. In local mode (`local_output_dir`) objects
/// are rooted in that directory without the job's path, as Prow does.
#[derive(Debug, Clone)]
pub struct Destination {
    pub store: Arc<dyn ArtifactStore>,
    pub bucket: String,
    /// `local_output_dir` mode: no path prefix, no alias or latest-build files.
    pub local: bool,
}

/// Splits a directory into (parent, last segment) so a [`LocalStore`] rooted at the parent with
/// the segment as bucket writes into the directory itself.
fn local_root(dir: &Path) -> Result<(PathBuf, String), UploadError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| UploadError::Config(format!("cannot write into {}", dir.display())))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// Set by the local kubelet of `prow up` on utility containers: the directory of its artifact
/// store (`<dir>/<bucket>/<object>`), used instead of GCS for `gs://` and bare buckets.
pub const LOCAL_ARTIFACTS_ENV: &str = "PROW_LOCAL_ARTIFACTS_DIR";
/// Set by `prow up` when it was given S3 credentials: `s3://` buckets go to that S3 server.
pub const LOCAL_S3_CREDENTIALS_ENV: &str = "PROW_LOCAL_S3_CREDENTIALS_FILE";

fn non_empty(value: &str) -> Option<PathBuf> {
    (!value.trim().is_empty()).then(|| PathBuf::from(value))
}

/// The store configuration for `options` and the environment. Under `prow up` (the node's
/// [`LOCAL_ARTIFACTS_ENV`]) the node's storage replaces the pod's mounted secrets, which are
/// empty directories there.
pub fn store_config(options: &GcsOptions, env: &dyn Fn(&str) -> Option<String>) -> StoreConfig {
    let node_dir = env(LOCAL_ARTIFACTS_ENV).and_then(|d| non_empty(&d));
    let config = match node_dir {
        Some(dir) => StoreConfig {
            local_dir: Some(dir),
            s3_credentials_file: env(LOCAL_S3_CREDENTIALS_ENV).and_then(|f| non_empty(&f)),
            ..StoreConfig::default()
        },
        None => StoreConfig {
            gcs_credentials_file: non_empty(&options.gcs_credentials_file),
            s3_credentials_file: non_empty(&options.s3_credentials_file),
            ..StoreConfig::default()
        },
    };
    config.with_env(env)
}

/// The store for `options`: `local_output_dir` -> [`LocalStore`] writing into that directory;
/// otherwise the bucket URL as Prow reads it (`gs://` or a bare name: GCS with
/// `gcs_credentials_file`, else Application Default Credentials or the metadata server, or the
/// emulator named by `STORAGE_EMULATOR_HOST`; `s3://`: S3 with `s3_credentials_file`;
/// `file://`: a directory), through [`Stores`].
pub fn store_for(
    options: &GcsOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Destination, UploadError> {
    let config = &options.gcs_configuration;
    if !config.local_output_dir.is_empty() {
        let (root, bucket) = local_root(Path::new(&config.local_output_dir))?;
        return Ok(Destination {
            store: Arc::new(LocalStore::new(root)?),
            bucket,
            local: true,
        });
    }
    let bucket = Bucket::parse(&config.bucket);
    if !matches!(bucket.provider.as_str(), "gs" | "s3" | "file") {
        return Err(UploadError::Unsupported(format!("{}://", bucket.provider)));
    }
    Ok(Destination {
        store: Arc::new(Stores::new(store_config(options, env))?),
        bucket: config.bucket.clone(),
        local: false,
    })
}

/// Whether Prow compresses `name` under `compress_file_types` (extensions, or `*`): never
/// `.gz`/`.gzip` files; the size and content checks are the store's.
pub fn compress_requested(name: &str, compress_file_types: &[String]) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if ext == "gz" || ext == "gzip" {
        return false;
    }
    compress_file_types.iter().any(|t| t == "*" || t == ext)
}

/// What to upload: bytes in hand or a file read at upload time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Data(Bytes),
    File(PathBuf),
}

/// Object names to sources, in upload order; the first entry for a name wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets(pub Vec<(String, Source)>);

impl Targets {
    /// Adds a target unless the name is taken (upstream skips duplicates with a warning).
    pub fn add(&mut self, name: impl Into<String>, source: Source) -> bool {
        let name = name.into();
        if self.0.iter().any(|(n, _)| *n == name) {
            return false;
        }
        self.0.push((name, source));
        true
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Go's `path.Join` for object names: empty segments dropped.
pub fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a run's files go (Prow's `PathsForJob` plus alias and latest-build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// `<path_prefix>/<job path>`: the build directory.
    pub job_base: String,
    /// `job_base` plus `sub_dir`; every upload lands under it.
    pub blob_path: String,
    /// Presubmit alias object and its body (`gs://<bucket>/<job_base>`).
    pub alias: Option<(String, String)>,
    /// `latest-build.txt` objects (body: the build id).
    pub latest_build: Vec<String>,
}

/// Computes [`RunPaths`] for `spec`. As upstream, alias and latest-build paths do not take the
/// path prefix, while the build directory does.
pub fn run_paths(options: &GcsOptions, spec: &JobSpec) -> Result<RunPaths, UploadError> {
    let mut config = options.gcs_configuration.clone();
    let bucket = config.bucket.clone();
    if config.bucket.is_empty() {
        // Only paths are computed here; local mode has no bucket.
        config.bucket = "local".to_owned();
    }
    let pj = prowjob_spec(spec);
    let prefixed = job_paths(&pj, &spec.buildid, &config)?;
    config.path_prefix.clear();
    let bare = job_paths(&pj, &spec.buildid, &config)?;
    let job_base = prefixed.build_dir;
    let blob_path = join(&[&job_base, &options.sub_dir]);
    let alias = bare.alias.map(|alias| {
        let body = if bucket.contains("://") {
            format!("{bucket}/{job_base}")
        } else {
            format!("gs://{}", join(&[&bucket, &job_base]))
        };
        (alias, body)
    });
    Ok(RunPaths {
        job_base,
        blob_path,
        alias,
        latest_build: bare.latest_build,
    })
}

/// Gcs-style object names escape `#` (Prow's `escapeFileName`).
fn escape(name: &str) -> String {
    name.replace('#', "%23")
}

/// The main targets (Prow's `assembleTargets`): alias and latest-build (not in local mode), then
/// each item — a directory's files under `<blob>/<dir name>/...`, a file as `<blob>/<name>`.
/// Returns them with the prefix that extra targets get.
pub async fn assemble_targets(
    options: &GcsOptions,
    spec: &JobSpec,
    local: bool,
    log: &Logger,
) -> Result<(Targets, String), UploadError> {
    let paths = run_paths(options, spec)?;
    let mut targets = Targets::default();
    let blob = if local {
        String::new()
    } else {
        if let Some((alias, body)) = &paths.alias {
            targets.add(alias.clone(), Source::Data(Bytes::from(body.clone())));
        }
        for latest in &paths.latest_build {
            targets.add(
                latest.clone(),
                Source::Data(Bytes::from(spec.buildid.clone())),
            );
        }
        paths.blob_path.clone()
    };
    for item in &options.items {
        let path = Path::new(item);
        let meta = match tokio::fs::metadata(path).await {
            Ok(m) => m,
            Err(e) => {
                log.warn(&format!(
                    "Encountered error in resolving items to upload for {item}: {e}"
                ));
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if meta.is_dir() {
            for (file, rel) in files_under(path).await? {
                let dest = escape(&join(&[&blob, &name, &rel]));
                if !targets.add(dest.clone(), Source::File(file)) {
                    log.warn(&format!(
                        "Encountered duplicate upload of {dest}, skipping..."
                    ));
                }
            }
        } else {
            let dest = join(&[&blob, &name]);
            if !targets.add(dest.clone(), Source::File(path.to_path_buf())) {
                log.warn(&format!(
                    "Encountered duplicate upload of {dest}, skipping..."
                ));
            }
        }
    }
    Ok((targets, blob))
}

/// The content type of an object: the options' `mediaTypes` by extension first.
pub fn media_type(options: &GcsOptions, name: &str) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e);
    if let Some(t) = ext.and_then(|e| options.gcs_configuration.media_types.get(e)) {
        return t.clone();
    }
    content_type(name).to_owned()
}

async fn put_all(
    options: &GcsOptions,
    dest: &Destination,
    targets: &Targets,
    log: &Logger,
) -> Result<(), UploadError> {
    if options.dry_run {
        for name in targets.names() {
            log.info(&format!("Would upload {name}"));
        }
        return Ok(());
    }
    let mut first_err = None;
    for (name, source) in &targets.0 {
        let body = match source {
            Source::Data(d) => Body::Bytes(d.clone()),
            Source::File(path) => Body::File(path.clone()),
        };
        let put = PutOptions {
            gzip: compress_requested(name, &options.gcs_configuration.compress_file_types),
            ..PutOptions::new(&media_type(options, name))
        };
        if let Err(e) = dest.store.upload(&dest.bucket, name, body, &put).await {
            log.error(&format!("upload {name}: {e}"));
            first_err.get_or_insert(e.into());
        }
    }
    match first_err {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Uploads the main targets, then `extra` (names relative to the build directory, e.g.
/// `finished.json`), so the extra files, which say the run is over, come last. Every target is
/// attempted; the first error is returned (Prow's `gcsupload.Options.Run`).
pub async fn upload(
    options: &GcsOptions,
    spec: &JobSpec,
    dest: &Destination,
    extra: Targets,
    log: &Logger,
) -> Result<(), UploadError> {
    let (targets, blob) = assemble_targets(options, spec, dest.local, log).await?;
    let main = put_all(options, dest, &targets, log).await;
    let mut prefixed = Targets::default();
    for (name, source) in extra.0 {
        prefixed.add(join(&[&blob, &name]), source);
    }
    let extra = put_all(options, dest, &prefixed, log).await;
    main.and(extra)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::{GcsConfiguration, ProwJobType, Pull, Refs};

    fn spec(type_: ProwJobType) -> JobSpec {
        let mut refs = Refs::new("org", "repo");
        refs.base_ref = "main".into();
        refs.pulls.push(Pull::new(7, "a", "sha"));
        JobSpec {
            type_,
            job: "job".into(),
            buildid: "123".into(),
            refs: Some(refs),
            ..JobSpec::default()
        }
    }

    fn gcs(bucket: &str, prefix: &str, sub_dir: &str) -> GcsOptions {
        GcsOptions {
            sub_dir: sub_dir.into(),
            ..GcsOptions::new(GcsConfiguration {
                bucket: bucket.into(),
                path_prefix: prefix.into(),
                path_strategy: "explicit".into(),
                ..GcsConfiguration::default()
            })
        }
    }

    #[test]
    fn run_paths_match_upstream() {
        let p = run_paths(&gcs("bucket", "pfx", "sub"), &spec(ProwJobType::Presubmit)).unwrap();
        assert_eq!(p.job_base, "pfx/pr-logs/pull/org_repo/7/job/123");
        assert_eq!(p.blob_path, "pfx/pr-logs/pull/org_repo/7/job/123/sub");
        assert_eq!(
            p.alias,
            Some((
                "pr-logs/directory/job/123.txt".to_owned(),
                "gs://bucket/pfx/pr-logs/pull/org_repo/7/job/123".to_owned()
            ))
        );
        assert_eq!(
            p.latest_build,
            [
                "pr-logs/directory/job/latest-build.txt",
                "pr-logs/pull/org_repo/7/job/latest-build.txt"
            ]
        );
        let p = run_paths(&gcs("gs://b", "", ""), &spec(ProwJobType::Presubmit)).unwrap();
        assert_eq!(p.alias.unwrap().1, "gs://b/pr-logs/pull/org_repo/7/job/123");
        let p = run_paths(&gcs("b", "", ""), &spec(ProwJobType::Periodic)).unwrap();
        assert_eq!(p.job_base, "logs/job/123");
        assert_eq!(p.alias, None);
        assert_eq!(p.latest_build, ["logs/job/latest-build.txt"]);
    }

    #[test]
    fn stores_by_bucket_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let no_env = |_: &str| None;
        let mut o = gcs(&format!("file://{}/bkt", dir.path().display()), "", "");
        let d = store_for(&o, &no_env).unwrap();
        assert!(!d.local);
        assert!(d.bucket.ends_with("/bkt"));
        o.gcs_configuration.local_output_dir = dir.path().join("out").display().to_string();
        let d = store_for(&o, &no_env).unwrap();
        assert_eq!((d.bucket.as_str(), d.local), ("out", true));
        for bucket in ["gs://bucket", "bucket", "s3://bucket"] {
            assert_eq!(
                store_for(&gcs(bucket, "", ""), &no_env).unwrap().bucket,
                bucket
            );
        }
        assert!(matches!(
            store_for(&gcs("az://b", "", ""), &no_env),
            Err(UploadError::Unsupported(_))
        ));
    }

    #[test]
    fn credentials_come_from_the_options_or_under_prow_up_from_the_node() {
        let mut o = gcs("s3://b", "", "");
        o.gcs_credentials_file = "/secrets/gcs/service-account.json".into();
        o.s3_credentials_file = "/secrets/s3-storage/service-account.json".into();
        let emulator = |k: &str| (k == "STORAGE_EMULATOR_HOST").then(|| "127.0.0.1:1".to_owned());
        let c = store_config(&o, &emulator);
        assert_eq!(
            c.gcs_credentials_file.as_deref(),
            Some(Path::new("/secrets/gcs/service-account.json"))
        );
        assert_eq!(
            c.s3_credentials_file.as_deref(),
            Some(Path::new("/secrets/s3-storage/service-account.json"))
        );
        assert_eq!(c.gcs_emulator.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(c.local_dir, None);
        let node = |k: &str| match k {
            LOCAL_ARTIFACTS_ENV => Some("/state/artifacts".to_owned()),
            LOCAL_S3_CREDENTIALS_ENV => Some("/state/s3.json".to_owned()),
            _ => None,
        };
        let c = store_config(&o, &node);
        assert_eq!(c.local_dir.as_deref(), Some(Path::new("/state/artifacts")));
        assert_eq!(
            c.s3_credentials_file.as_deref(),
            Some(Path::new("/state/s3.json"))
        );
        assert_eq!(c.gcs_credentials_file, None);
    }

    #[test]
    fn compression_follows_compress_file_types() {
        let types = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let table: [(&str, &[&str], bool); 6] = [
            ("a/build-log.txt", &["txt"], true),
            ("a/build-log.txt", &["json"], false),
            ("a/build-log.txt", &[], false),
            ("a/report.json", &["*"], true),
            ("a/logs.tar.gz", &["*"], false),
            ("a/core.gzip", &["gzip"], false),
        ];
        for (name, t, want) in table {
            assert_eq!(compress_requested(name, &types(t)), want, "{name} {t:?}");
        }
    }

    #[test]
    fn media_types_from_options_win() {
        let mut o = gcs("b", "", "");
        o.gcs_configuration
            .media_types
            .insert("log".into(), "text/x-log".into());
        assert_eq!(media_type(&o, "a/b.log"), "text/x-log");
        assert_eq!(media_type(&o, "a/b.json"), "application/json");
    }
}
