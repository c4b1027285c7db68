//! Uploading a run's outputs as Prow's pod utilities do (initupload: started.json; sidecar:
//! build log, `$ARTIFACTS`, finished.json), for the local kubelet and an in-pod sidecar.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::layout::{ARTIFACTS_DIR, BUILD_LOG_TXT, FINISHED_JSON, JobPaths, STARTED_JSON};
use crate::metadata::{Finished, Started, to_tab_indented_json};
use crate::store::{ArtifactError, ArtifactStore, Body, PutOptions};

/// The file jobs write extra `finished.json` metadata to, inside `$ARTIFACTS`.
pub const METADATA_JSON: &str = "metadata.json";

/// A content type from the file name, so browsers (and Deck) show logs and reports inline.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt" | "log") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("gz") => "application/gzip",
        _ => "application/octet-stream",
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

/// Every file under `dir`, as (path, `/`-joined name relative to `dir`), sorted by name.
pub async fn files_under(dir: &Path) -> Result<Vec<(PathBuf, String)>, ArtifactError> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let mut entries = match tokio::fs::read_dir(&d).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("list", &d)(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(io_err("list", &d))? {
            let path = entry.path();
            let kind = entry.file_type().await.map_err(io_err("stat", &path))?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let Ok(rel) = path.strip_prefix(dir) else {
                    continue;
                };
                let name: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((path.clone(), name.join("/")));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// `$ARTIFACTS/metadata.json` as an object, or `sidecar-errors` describing why it was unusable
/// (the sidecar's behaviour); `None` when the job wrote none.
pub async fn read_job_metadata(
    artifacts_dir: &Path,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let path = artifacts_dir.join(METADATA_JSON);
    let text = match tokio::fs::read(&path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(sidecar_error(format!("read {METADATA_JSON}: {e}"))),
    };
    match serde_json::from_slice::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        Ok(_) => Some(sidecar_error(format!(
            "{METADATA_JSON} is not a JSON object"
        ))),
        Err(e) => Some(sidecar_error(format!("parse {METADATA_JSON}: {e}"))),
    }
}

fn sidecar_error(message: String) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert("sidecar-errors".into(), serde_json::json!([message]));
    map
}

async fn put_latest_build(
    store: &dyn ArtifactStore,
    paths: &JobPaths,
    build_id: &str,
) -> Result<(), ArtifactError> {
    let bucket = paths.bucket.to_string();
    let bucket = bucket.as_str();
    for latest in &paths.latest_build {
        store
            .put(
                bucket,
                latest,
                Bytes::from(build_id.to_owned()),
                content_type(latest),
            )
            .await?;
    }
    if let Some(alias) = &paths.alias {
        store
            .put(
                bucket,
                alias,
                Bytes::from(paths.alias_body()),
                content_type(alias),
            )
            .await?;
    }
    Ok(())
}

fn render_err(file: &str, e: serde_json::Error) -> ArtifactError {
    ArtifactError::Decode {
        op: "render",
        location: file.to_owned(),
        source: e,
    }
}

/// What initupload writes when the run starts: latest-build.txt (and the presubmit alias),
/// then `started.json`.
pub async fn upload_started(
    store: &dyn ArtifactStore,
    paths: &JobPaths,
    build_id: &str,
    started: &Started,
) -> Result<(), ArtifactError> {
    put_latest_build(store, paths, build_id).await?;
    let body = to_tab_indented_json(started).map_err(|e| render_err(STARTED_JSON, e))?;
    store
        .put(
            &paths.bucket.to_string(),
            &paths.file(STARTED_JSON),
            Bytes::from(body),
            content_type(STARTED_JSON),
        )
        .await
}

/// What the sidecar writes when the test ends: `$ARTIFACTS/**` under `artifacts/`, the build
/// log, latest-build.txt, and `finished.json` last, so a reader that sees it sees everything.
pub async fn upload_finished(
    store: &dyn ArtifactStore,
    paths: &JobPaths,
    build_id: &str,
    build_log: Option<Body>,
    artifacts_dir: Option<&Path>,
    finished: &Finished,
) -> Result<(), ArtifactError> {
    let bucket = paths.bucket.to_string();
    let bucket = bucket.as_str();
    if let Some(dir) = artifacts_dir {
        for (path, rel) in files_under(dir).await? {
            let name = paths.file(&format!("{ARTIFACTS_DIR}/{rel}"));
            store
                .upload(
                    bucket,
                    &name,
                    Body::File(path),
                    &PutOptions::new(content_type(&rel)),
                )
                .await?;
        }
    }
    if let Some(log) = build_log {
        store
            .upload(
                bucket,
                &paths.file(BUILD_LOG_TXT),
                log,
                &PutOptions::new(content_type(BUILD_LOG_TXT)),
            )
            .await?;
    }
    put_latest_build(store, paths, build_id).await?;
    let body = to_tab_indented_json(finished).map_err(|e| render_err(FINISHED_JSON, e))?;
    store
        .put(
            bucket,
            &paths.file(FINISHED_JSON),
            Bytes::from(body),
            content_type(FINISHED_JSON),
        )
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::layout::job_paths;
    use crate::local::LocalStore;
    use crate::metadata::{SidecarResult, sidecar_finished, started_from_refs};
    use prow_core::prowjob::{GcsConfiguration, ProwJobSpec, ProwJobType, Pull, Refs};

    #[test]
    fn content_types_by_extension() {
        let table = [
            ("build-log.txt", "text/plain; charset=utf-8"),
            ("junit_01.XML", "application/xml"),
            ("started.json", "application/json"),
            ("report.html", "text/html; charset=utf-8"),
            ("core", "application/octet-stream"),
        ];
        for (name, want) in table {
            assert_eq!(content_type(name), want, "{name}");
        }
    }

    #[tokio::test]
    async fn a_run_uploads_in_prow_layout() {
        let work = tempfile::tempdir().unwrap();
        let artifacts = work.path().join("artifacts");
        std::fs::create_dir_all(artifacts.join("junit")).unwrap();
        std::fs::write(artifacts.join("junit/junit_01.xml"), "<testsuite/>").unwrap();
        std::fs::write(artifacts.join(METADATA_JSON), r#"{"k8s-version":"v1.34"}"#).unwrap();
        let store = LocalStore::new(work.path().join("bucket-root")).unwrap();

        let mut refs = Refs::new("acme", "foo");
        refs.base_ref = "main".into();
        refs.base_sha = "aaaa".into();
        refs.pulls.push(Pull::new(42, "alice", "bbbb"));
        let spec = ProwJobSpec {
            type_: ProwJobType::Presubmit,
            job: "pull-foo-unit".into(),
            refs: Some(refs),
            ..ProwJobSpec::default()
        };
        let gcs = GcsConfiguration {
            bucket: "bkt".into(),
            ..GcsConfiguration::default()
        };
        let paths = job_paths(&spec, "77", &gcs).unwrap();
        let started = started_from_refs(spec.refs.as_ref(), &[], 100);
        upload_started(&store, &paths, "77", &started)
            .await
            .unwrap();
        let meta = read_job_metadata(&artifacts).await;
        let finished = sidecar_finished(200, SidecarResult::Failure, spec.refs.as_ref(), meta);
        upload_finished(
            &store,
            &paths,
            "77",
            Some(Body::Bytes(Bytes::from("hello\n"))),
            Some(&artifacts),
            &finished,
        )
        .await
        .unwrap();

        let all = store.list("bkt", "", None).await.unwrap();
        let names: Vec<&str> = all.objects.iter().map(|o| o.name.as_str()).collect();
        let dir = "pr-logs/pull/acme_foo/42/pull-foo-unit";
        assert_eq!(
            names,
            [
                "pr-logs/directory/pull-foo-unit/77.txt".to_owned(),
                "pr-logs/directory/pull-foo-unit/latest-build.txt".to_owned(),
                format!("{dir}/77/artifacts/junit/junit_01.xml"),
                format!("{dir}/77/artifacts/metadata.json"),
                format!("{dir}/77/build-log.txt"),
                format!("{dir}/77/finished.json"),
                format!("{dir}/77/started.json"),
                format!("{dir}/latest-build.txt"),
            ]
        );
        let finished: Finished = serde_json::from_slice(
            &store
                .get("bkt", &format!("{dir}/77/finished.json"))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(finished.result, "FAILURE");
        assert_eq!(finished.passed, Some(false));
        assert_eq!(finished.revision, "bbbb");
        assert_eq!(finished.metadata.unwrap()["k8s-version"], "v1.34");
        let alias = store
            .get("bkt", "pr-logs/directory/pull-foo-unit/77.txt")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alias, format!("gs://bkt/{dir}/77").as_bytes());
    }

    #[tokio::test]
    async fn unusable_job_metadata_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_job_metadata(dir.path()).await, None);
        std::fs::write(dir.path().join(METADATA_JSON), "[1]").unwrap();
        let meta = read_job_metadata(dir.path()).await.unwrap();
        assert!(meta.contains_key("sidecar-errors"));
    }
}
