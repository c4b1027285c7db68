//! Uploading in Prow's layout (Prow's `pkg/gcsupload` and `pkg/pod-utils/gcs`): where a run's
//! files go, which store takes them, and the upload itself, shared by initupload and sidecar.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use prow_artifacts::gcs::{GCS_ENDPOINT, STORAGE_EMULATOR_HOST, emulator_endpoint};
use prow_artifacts::layout::{Bucket, job_paths};
use prow_artifacts::upload::{content_type, files_under};
use prow_artifacts::{ArtifactError, ArtifactStore, GcsAuth, GcsStore, LayoutError, LocalStore};
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
    #[error("unsupported storage {0:?}: only gs://, file:// and local_output_dir are implemented")]
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

/// The store for `options` (the brief's `store_for`): `local_output_dir` or a `file://` bucket ->
/// [`LocalStore`]; `gs://<bucket>` or a bare bucket name -> [`GcsStore`] (the emulator named by
/// `STORAGE_EMULATOR_HOST` in `env`, else GCS authenticated from `gcs_credentials_file` when it
/// holds an access token, else from the metadata server). `s3://` is not implemented.
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
    match bucket.provider.as_str() {
        "file" => {
            let dir = if bucket.name.starts_with('/') {
                bucket.name.clone()
            } else {
                format!("/{}", bucket.name)
            };
            let (root, name) = local_root(Path::new(&dir))?;
            Ok(Destination {
                store: Arc::new(LocalStore::new(root)?),
                bucket: name,
                local: false,
            })
        }
        "gs" if env(LOCAL_ARTIFACTS_ENV).is_some_and(|d| !d.is_empty()) => {
            // `prow up`: the node's artifact store is a directory of buckets, the same one crier
            // and Deck read, so the run lands where a cluster's sidecar would put it in GCS.
            let root = env(LOCAL_ARTIFACTS_ENV).unwrap_or_default();
            Ok(Destination {
                store: Arc::new(LocalStore::new(PathBuf::from(root))?),
                bucket: bucket.name,
                local: false,
            })
        }
        "gs" => {
            let store = match env(STORAGE_EMULATOR_HOST).filter(|h| !h.trim().is_empty()) {
                Some(host) => GcsStore::new(emulator_endpoint(&host)?, GcsAuth::Anonymous)?,
                None => {
                    let endpoint = GCS_ENDPOINT
                        .parse()
                        .map_err(|e| UploadError::Config(format!("{GCS_ENDPOINT}: {e}")))?;
                    GcsStore::new(endpoint, gcs_auth(&options.gcs_credentials_file)?)?
                }
            };
            Ok(Destination {
                store: Arc::new(store),
                bucket: bucket.name,
                local: false,
            })
        }
        other => Err(UploadError::Unsupported(format!("{other}://"))),
    }
}

/// Credentials from `gcs_credentials_file`: an access token (plain text, or JSON with
/// `access_token`) is used as is; a service-account key cannot be signed here, so those fall
/// back to the metadata server (workload identity).
fn gcs_auth(credentials_file: &str) -> Result<GcsAuth, UploadError> {
    if credentials_file.is_empty() {
        return Ok(GcsAuth::MetadataServer);
    }
    let text = std::fs::read_to_string(credentials_file).map_err(|source| UploadError::Read {
        path: credentials_file.to_owned(),
        source,
    })?;
    let text = text.trim();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        return Ok(match map.get("access_token").and_then(|v| v.as_str()) {
            Some(token) => GcsAuth::Token(token.to_owned()),
            None => GcsAuth::MetadataServer,
        });
    }
    Ok(GcsAuth::Token(text.to_owned()))
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
        let data = match source {
            Source::Data(d) => d.clone(),
            Source::File(path) => match tokio::fs::read(path).await {
                Ok(d) => Bytes::from(d),
                Err(source) => {
                    let err = UploadError::Read {
                        path: path.display().to_string(),
                        source,
                    };
                    log.error(&format!("upload {name}: {err}"));
                    first_err.get_or_insert(err);
                    continue;
                }
            },
        };
        if let Err(e) = dest
            .store
            .put(&dest.bucket, name, data, &media_type(options, name))
            .await
        {
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
        assert_eq!((d.bucket.as_str(), d.local), ("bkt", false));
        o.gcs_configuration.local_output_dir = dir.path().join("out").display().to_string();
        let d = store_for(&o, &no_env).unwrap();
        assert_eq!((d.bucket.as_str(), d.local), ("out", true));
        let o = gcs("gs://bucket", "", "");
        let emulator = |k: &str| (k == STORAGE_EMULATOR_HOST).then(|| "127.0.0.1:1".to_owned());
        assert_eq!(store_for(&o, &emulator).unwrap().bucket, "bucket");
        assert!(matches!(
            store_for(&gcs("s3://b", "", ""), &no_env),
            Err(UploadError::Unsupported(_))
        ));
        let tok = dir.path().join("token");
        std::fs::write(&tok, "ya29.abc\n").unwrap();
        assert!(matches!(
            gcs_auth(&tok.display().to_string()).unwrap(),
            GcsAuth::Token(t) if t == "ya29.abc"
        ));
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
