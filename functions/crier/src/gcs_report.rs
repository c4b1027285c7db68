//! Purpose: crier's GCS reporter: job metadata files in Prow's bucket layout for each state change.

use bytes::Bytes;
use k8s_openapi::api::core::v1::{Event, Pod};
use prow_artifacts::layout::{
    self, FINISHED_JSON, JobPaths, PODINFO_JSON, PROWJOB_JSON, STARTED_JSON,
};
use prow_artifacts::metadata::{self, Started};
use prow_artifacts::{ArtifactError, ArtifactStore};
use prow_core::prowjob::{ProwJob, ProwJobAgent};
use serde::Serialize;

/// Key of this reporter in `status.prev_report_states`.
pub const GCS_REPORTER: &str = "gcsreporter";
/// Key of Prow's pod info reporter (`gcsk8sreporter`) in `status.prev_report_states`.
pub const GCS_K8S_REPORTER: &str = "gcsk8sreporter";
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

/// `podinfo.json` as Prow's gcsk8sreporter writes it: the job's pod and its events. Prow also
/// adds the pod's Node; we leave it out (reading nodes takes a ClusterRole, and Deck's pod info
/// lens shows what it has).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PodReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Pod>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

/// Prow's gcsk8sreporter `ShouldReport` and `report`: a job plank ran as a pod (it went pending
/// and has a build id), once complete, and not yet recorded for its final state.
pub fn podinfo_due(pj: &ProwJob) -> bool {
    let kubernetes = matches!(
        pj.spec.agent.as_ref().unwrap_or(&ProwJobAgent::Kubernetes),
        ProwJobAgent::Kubernetes
    );
    kubernetes
        && pj.status.pending_time.is_some()
        && !pj.status.build_id.is_empty()
        && pj.is_complete()
        && pj.status.prev_report_states.get(GCS_K8S_REPORTER) != Some(&pj.status.state)
}

/// The namespace of a job's pod: the job's own, else `pod_namespace` from the config, else
/// `default` (a config built in code rather than loaded has none).
pub fn pod_namespace<'a>(pj: &'a ProwJob, configured: &'a str) -> &'a str {
    match pj.pod_namespace(configured) {
        "" => "default",
        namespace => namespace,
    }
}

/// Writes `podinfo.json`, replacing any earlier copy as Prow does; `None` when neither pod nor
/// events could be read (the pod was garbage collected), which Prow skips too.
pub async fn report_podinfo(
    store: &dyn ArtifactStore,
    pj: &ProwJob,
    paths: &JobPaths,
    report: &PodReport,
) -> Result<bool, GcsReportError> {
    if report.pod.is_none() && report.events.is_empty() {
        return Ok(false);
    }
    let body = metadata::to_tab_indented_json(report).map_err(|source| GcsReportError::Render {
        job: pj.name().to_owned(),
        file: PODINFO_JSON,
        source,
    })?;
    store
        .put(
            &paths.bucket.to_string(),
            &paths.file(PODINFO_JSON),
            Bytes::from(body),
            JSON,
        )
        .await
        .map_err(|source| GcsReportError::Store {
            job: pj.name().to_owned(),
            source,
        })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prow_core::prowjob::{ProwJobState, ProwJobType};

    #[test]
    fn podinfo_is_due_once_for_a_finished_pod_job() {
        let job = |agent: Option<ProwJobAgent>, pending: bool, build_id: &str, state| {
            let mut pj = ProwJob::builder("unit", ProwJobType::Periodic).build();
            pj.spec.agent = agent;
            pj.status.state = state;
            pj.status.build_id = build_id.into();
            let epoch = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            );
            if pending {
                pj.status.pending_time = Some(epoch.clone());
            }
            if state != ProwJobState::Pending {
                pj.status.completion_time = Some(epoch);
            }
            pj
        };
        let mut recorded = job(None, true, "5", ProwJobState::Success);
        recorded
            .status
            .prev_report_states
            .insert(GCS_K8S_REPORTER.into(), ProwJobState::Success);
        let kube = Some(ProwJobAgent::Kubernetes);
        let table = [
            (
                "finished pod job",
                job(None, true, "5", ProwJobState::Failure),
                true,
            ),
            (
                "explicit agent",
                job(kube, true, "5", ProwJobState::Success),
                true,
            ),
            (
                "still running",
                job(None, true, "5", ProwJobState::Pending),
                false,
            ),
            (
                "never pending",
                job(None, false, "5", ProwJobState::Error),
                false,
            ),
            (
                "no build id",
                job(None, true, "", ProwJobState::Success),
                false,
            ),
            (
                "not a pod",
                job(
                    Some(ProwJobAgent::Jenkins),
                    true,
                    "5",
                    ProwJobState::Success,
                ),
                false,
            ),
            ("already written", recorded, false),
        ];
        for (name, pj, want) in table {
            assert_eq!(podinfo_due(&pj), want, "{name}");
        }
    }

    #[test]
    fn pods_live_in_the_jobs_namespace_else_the_configured_one() {
        let mut pj = ProwJob::default();
        assert_eq!(pod_namespace(&pj, ""), "default");
        assert_eq!(pod_namespace(&pj, "test-pods"), "test-pods");
        pj.spec.namespace = "own".into();
        assert_eq!(pod_namespace(&pj, "test-pods"), "own");
    }

    /// Go's `omitempty`: no `"events"` without events, no `"pod"` without a pod.
    #[test]
    fn podinfo_leaves_out_what_it_lacks() {
        let only_events = PodReport {
            pod: None,
            events: vec![Event::default()],
        };
        let json = serde_json::to_value(&only_events).unwrap_or_default();
        assert!(
            json.get("pod").is_none() && json["events"].is_array(),
            "{json}"
        );
        let json = serde_json::to_value(PodReport::default()).unwrap_or_default();
        assert_eq!(json, serde_json::json!({}));
    }

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
