//! `started.json`, `finished.json` and `prowjob.json` with the field names testgrid and Deck read.

use std::collections::BTreeMap;

use prow_core::prowjob::{ProwJob, ProwJobState, Refs};
use serde::{Deserialize, Serialize};

/// `metadata.uploader` value marking files crier wrote (so a later pod-utility upload may replace
/// crier's `started.json`, and crier never replaces theirs).
pub const CRIER_UPLOADER: &str = "crier";

/// testgrid's `metadata.Started`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Started {
    /// Epoch seconds.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// `"org/repo"` -> `Refs.String()` for the main refs and every extra ref.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repos: BTreeMap<String, String>,
    /// The PR number (presubmits only), as a string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pull: String,
    #[serde(
        default,
        rename = "job-version",
        skip_serializing_if = "String::is_empty"
    )]
    pub job_version: String,
    #[serde(
        default,
        rename = "repo-version",
        skip_serializing_if = "String::is_empty"
    )]
    pub repo_version: String,
    #[serde(
        default,
        rename = "repo-commit",
        skip_serializing_if = "String::is_empty"
    )]
    pub repo_commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// testgrid's `metadata.Finished`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Finished {
    /// Epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Always written, even when `false`.
    #[serde(default)]
    pub passed: Option<bool>,
    /// `SUCCESS|FAILURE|ABORTED` from the sidecar, lower-case ProwJob state from crier.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub result: String,
    #[serde(
        default,
        rename = "job-version",
        skip_serializing_if = "String::is_empty"
    )]
    pub job_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Started {
    /// True when crier wrote it (`metadata.uploader == "crier"`).
    pub fn is_crier_written(&self) -> bool {
        uploader_is_crier(self.metadata.as_ref())
    }
}

impl Finished {
    pub fn is_crier_written(&self) -> bool {
        uploader_is_crier(self.metadata.as_ref())
    }
}

fn uploader_is_crier(metadata: Option<&serde_json::Map<String, serde_json::Value>>) -> bool {
    metadata
        .and_then(|m| m.get("uploader"))
        .and_then(|v| v.as_str())
        == Some(CRIER_UPLOADER)
}

fn crier_metadata() -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("uploader".into(), CRIER_UPLOADER.into());
    m
}

/// The revision a run tests when no clone record says better: the first pull's head, else the
/// base SHA, else the base ref.
pub fn revision(refs: Option<&Refs>) -> String {
    let Some(refs) = refs else {
        return String::new();
    };
    if let Some(pull) = refs.pulls.first() {
        return pull.sha.clone();
    }
    if !refs.base_sha.is_empty() {
        return refs.base_sha.clone();
    }
    refs.base_ref.clone()
}

/// `started.json` from the job's refs (Prow's `refsToStarted` without clone records).
pub fn started_from_refs(refs: Option<&Refs>, extra_refs: &[Refs], timestamp: i64) -> Started {
    let mut started = Started {
        timestamp,
        ..Started::default()
    };
    if let Some(refs) = refs {
        if let Some(pull) = refs.pulls.first() {
            started.pull = pull.number.to_string();
        }
        started
            .repos
            .insert(refs.org_repo(), refs.pull_refs_string());
    }
    for extra in extra_refs {
        started
            .repos
            .insert(extra.org_repo(), extra.pull_refs_string());
    }
    let rev = revision(refs);
    started.repo_commit = rev.clone();
    started.repo_version = rev;
    started
}

fn epoch(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> i64 {
    t.map(|t| t.0.as_second()).unwrap_or(0)
}

/// Crier's `started.json`: from the ProwJob, timestamp = `status.startTime`.
pub fn crier_started(pj: &ProwJob) -> Started {
    let mut started = started_from_refs(
        pj.spec.refs.as_ref(),
        &pj.spec.extra_refs,
        epoch(pj.status.start_time.as_ref()),
    );
    started.metadata = Some(crier_metadata());
    started
}

/// Crier's `finished.json` for a complete job: lower-case result, `passed` only on success.
pub fn crier_finished(pj: &ProwJob) -> Finished {
    Finished {
        timestamp: Some(epoch(pj.status.completion_time.as_ref())),
        passed: Some(pj.status.state == ProwJobState::Success),
        result: pj.status.state.as_str().to_owned(),
        metadata: Some(crier_metadata()),
        ..Finished::default()
    }
}

/// The sidecar's result word for a test process outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarResult {
    Success,
    Failure,
    Aborted,
}

impl SidecarResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
            Self::Aborted => "ABORTED",
        }
    }
}

/// The sidecar's `finished.json`: upper-case result and the revision tested; `metadata` is the
/// merge of what the job wrote to `$ARTIFACTS/metadata.json`, if anything.
pub fn sidecar_finished(
    timestamp: i64,
    result: SidecarResult,
    refs: Option<&Refs>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
) -> Finished {
    Finished {
        timestamp: Some(timestamp),
        passed: Some(result == SidecarResult::Success),
        result: result.as_str().to_owned(),
        revision: revision(refs),
        metadata: metadata.filter(|m| !m.is_empty()),
        ..Finished::default()
    }
}

/// JSON indented with tabs, as Go's `json.MarshalIndent(v, "", "\t")` writes Prow's files.
pub fn to_tab_indented_json<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// `prowjob.json`: the whole ProwJob, tab-indented.
pub fn prowjob_json(pj: &ProwJob) -> Result<Vec<u8>, serde_json::Error> {
    to_tab_indented_json(pj)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use prow_core::prowjob::{ProwJobType, Pull};

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn presubmit(state: ProwJobState) -> ProwJob {
        let mut refs = Refs::new("acme", "foo");
        refs.base_ref = "main".into();
        refs.base_sha = "aaaa".into();
        refs.pulls.push(Pull::new(42, "alice", "bbbb"));
        let mut tools = Refs::new("acme", "tools");
        tools.base_ref = "master".into();
        let mut pj = ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .refs(refs)
            .extra_refs(tools)
            .started_at(at(1_700_000_000))
            .build();
        pj.status.state = state;
        if state.is_final() {
            pj.status.completion_time = Some(at(1_700_000_100));
        }
        pj
    }

    #[test]
    fn crier_started_carries_refs_and_the_uploader_mark() {
        let started = crier_started(&presubmit(ProwJobState::Pending));
        let json = serde_json::to_value(&started).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "timestamp": 1_700_000_000,
                "repos": {"acme/foo": "main:aaaa,42:bbbb", "acme/tools": "master"},
                "pull": "42",
                "repo-version": "bbbb",
                "repo-commit": "bbbb",
                "metadata": {"uploader": "crier"},
            })
        );
        assert!(started.is_crier_written());
        let back: Started = serde_json::from_value(json).unwrap();
        assert_eq!(back, started);
    }

    #[test]
    fn crier_finished_uses_lower_case_states() {
        let table = [
            (ProwJobState::Success, true, "success"),
            (ProwJobState::Failure, false, "failure"),
            (ProwJobState::Aborted, false, "aborted"),
            (ProwJobState::Error, false, "error"),
        ];
        for (state, passed, result) in table {
            let f = crier_finished(&presubmit(state));
            assert_eq!(
                serde_json::to_value(&f).unwrap(),
                serde_json::json!({
                    "timestamp": 1_700_000_100,
                    "passed": passed,
                    "result": result,
                    "metadata": {"uploader": "crier"},
                }),
                "{state}"
            );
        }
    }

    #[test]
    fn sidecar_finished_uses_upper_case_and_the_revision() {
        let pj = presubmit(ProwJobState::Pending);
        let table = [
            (SidecarResult::Success, true, "SUCCESS"),
            (SidecarResult::Failure, false, "FAILURE"),
            (SidecarResult::Aborted, false, "ABORTED"),
        ];
        for (result, passed, word) in table {
            let f = sidecar_finished(5, result, pj.spec.refs.as_ref(), None);
            assert_eq!(
                serde_json::to_value(&f).unwrap(),
                serde_json::json!({"timestamp": 5, "passed": passed, "result": word, "revision": "bbbb"})
            );
            assert!(!f.is_crier_written());
        }
        let mut refs = Refs::new("acme", "foo");
        refs.base_ref = "main".into();
        assert_eq!(revision(Some(&refs)), "main");
        refs.base_sha = "cccc".into();
        assert_eq!(revision(Some(&refs)), "cccc");
        assert_eq!(revision(None), "");
    }

    #[test]
    fn prowjob_json_is_tab_indented_and_round_trips() {
        let pj = presubmit(ProwJobState::Success);
        let bytes = prowjob_json(&pj).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("{\n\t\"apiVersion\": \"prow.k8s.io/v1\",\n\t\"kind\""));
        let back: ProwJob = serde_json::from_str(&text).unwrap();
        assert_eq!(back, pj);
    }
}
