//! Purpose: crier's GCS reporter: job metadata files in Prow's bucket layout for each state change.

use bytes::Bytes;
use prow_artifacts::layout::{self, FINISHED_JSON, JobPaths, PROWJOB_JSON, STARTED_JSON};
use prow_artifacts::metadata::{self, Started};
use prow_artifacts::{ArtifactError, ArtifactStore};
use prow_core::prowjob::ProwJob;

/// Key of this reporter in `status.prev_report_states`.
pub const GCS_REPORTER: &str = "gcsreporter";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum GcsReportError {
    #[error("job {job}: {source}")]
    Store {
        job: String,
        #[source]
        source: ArtifactError,
    },
    #[error("job {job}: render {file}: {source}")]
    Render {
        job: String,
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Where a job's files go, or `None` when it uploads nowhere (undecorated, no bucket, no build
/// id yet).
pub fn paths(pj: &ProwJob) -> Option<JobPaths> {
    let gcs = layout::gcs_configuration(&pj.spec)?;
    layout::job_paths(&pj.spec, &pj.status.build_id, gcs).ok()
}

/// Whether a stored `latest-build.txt` should be replaced by `build_id`: only by a newer build,
/// so a resync of an old job never moves "latest" backwards.
pub fn newer_build(stored: Option<&str>, build_id: &str) -> bool {
    let Some(stored) = stored.map(str::trim).filter(|s| !s.is_empty()) else {
        return true;
    };
    match (stored.parse::<u128>(), build_id.parse::<u128>()) {
        (Ok(old), Ok(new)) => new > old,
        // Non-numeric ids cannot be ordered; Prow's uploader overwrites.
        _ => stored != build_id,
    }
}

/// Writes `prowjob.json`, `started.json` (unless a pod utility wrote one), `finished.json`
/// (create-only, once complete) and `latest-build.txt`.
pub async fn report(
    store: &dyn ArtifactStore,
    pj: &ProwJob,
    paths: &JobPaths,
) -> Result<(), GcsReportError> {
    let job = pj.name().to_owned();
    let bucket = paths.bucket.to_string();
    let bucket = bucket.as_str();
    let store_err = |source| GcsReportError::Store {
        job: job.clone(),
        source,
    };
    let render = |file, source| GcsReportError::Render {
        job: job.clone(),
        file,
        source,
    };

    let pj_json = metadata::prowjob_json(pj).map_err(|e| render(PROWJOB_JSON, e))?;
    store
        .put(
            bucket,
            &paths.file(PROWJOB_JSON),
            Bytes::from(pj_json),
            JSON,
        )
        .await
        .map_err(store_err)?;

    let started_name = paths.file(STARTED_JSON);
    let existing = store.get(bucket, &started_name).await.map_err(store_err)?;
    let ours = existing
        .as_deref()
        .map(|b| serde_json::from_slice::<Started>(b).is_ok_and(|s| s.is_crier_written()));
    if ours != Some(false) && pj.status.start_time.is_some() {
        let started = metadata::to_tab_indented_json(&metadata::crier_started(pj))
            .map_err(|e| render(STARTED_JSON, e))?;
        store
            .put(bucket, &started_name, Bytes::from(started), JSON)
            .await
            .map_err(store_err)?;
    }

    if pj.is_complete() {
        let finished = metadata::to_tab_indented_json(&metadata::crier_finished(pj))
            .map_err(|e| render(FINISHED_JSON, e))?;
        store
            .put_if_absent(
                bucket,
                &paths.file(FINISHED_JSON),
                Bytes::from(finished),
                JSON,
            )
            .await
            .map_err(store_err)?;
    }

    let build_id = pj.status.build_id.as_str();
    for latest in &paths.latest_build {
        let stored = store.get(bucket, latest).await.map_err(store_err)?;
        let stored = stored.as_deref().map(String::from_utf8_lossy);
        if newer_build(stored.as_deref(), build_id) {
            store
                .put(bucket, latest, Bytes::from(build_id.to_owned()), TEXT)
                .await
                .map_err(store_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_build_only_moves_forward() {
        let table = [
            (None, "5", true),
            (Some(""), "5", true),
            (Some("4"), "5", true),
            (Some("5\n"), "5", false),
            (Some("6"), "5", false),
            (Some("abc"), "abd", true),
            (Some("abc"), "abc", false),
        ];
        for (stored, new, want) in table {
            assert_eq!(newer_build(stored, new), want, "{stored:?} -> {new}");
        }
    }
}
