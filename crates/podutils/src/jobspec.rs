//! The job's `JOB_SPEC` as the utilities read it, and what they derive from it: the revision
//! tested and `started.json` (Prow's `pkg/pod-utils/downwardapi`).

use prow_artifacts::Started;
use prow_core::jobspec::JobSpec;
use prow_core::prowjob::{ProwJobSpec, Refs};

use crate::clone::Record;

/// Environment variable holding the job spec.
pub const JOB_SPEC_ENV: &str = "JOB_SPEC";

/// Why the job spec is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("${JOB_SPEC_ENV} unset")]
    Unset,
    #[error("malformed ${JOB_SPEC_ENV}: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Reads `JOB_SPEC` through `env` (Prow's `ResolveSpecFromEnv`).
pub fn resolve_spec(env: &dyn Fn(&str) -> Option<String>) -> Result<JobSpec, SpecError> {
    let text = env(JOB_SPEC_ENV).ok_or(SpecError::Unset)?;
    Ok(serde_json::from_str(&text)?)
}

/// Reads `JOB_SPEC` from the process environment.
pub fn resolve_spec_from_env() -> Result<JobSpec, SpecError> {
    resolve_spec(&|k| std::env::var(k).ok())
}

/// The refs the job is about: `refs`, else the first non-auxiliary extra refs.
pub fn main_refs(spec: &JobSpec) -> Option<&Refs> {
    spec.refs
        .as_ref()
        .or_else(|| spec.extra_refs.iter().find(|r| !r.auxiliary))
}

/// The revision tested (Prow's `GetRevisionFromSpec`): first pull's SHA, else base SHA, else base
/// ref, of the main refs.
pub fn revision(spec: &JobSpec) -> String {
    prow_artifacts::metadata::revision(main_refs(spec))
}

/// `started.json` at `timestamp` (Prow's `SpecToStarted`): `repo-commit` is the final SHA the
/// clone records give for the main refs, else [`revision`].
pub fn started(spec: &JobSpec, records: &[Record], timestamp: i64) -> Started {
    let mut version = main_refs(spec)
        .and_then(|main| records.iter().find(|r| r.refs == *main))
        .map(|r| r.final_sha.clone())
        .unwrap_or_default();
    if version.is_empty() {
        version = revision(spec);
    }
    let mut started = Started {
        timestamp,
        repo_version: version.clone(),
        repo_commit: version,
        ..Started::default()
    };
    if let Some(refs) = &spec.refs {
        if let Some(pull) = refs.pulls.first() {
            started.pull = pull.number.to_string();
        }
        started.repos.insert(
            format!("{}/{}", refs.org, refs.repo),
            refs.pull_refs_string(),
        );
    }
    for extra in &spec.extra_refs {
        started.repos.insert(
            format!("{}/{}", extra.org, extra.repo),
            extra.pull_refs_string(),
        );
    }
    started
}

/// The parts of a [`ProwJobSpec`] the layout functions read.
pub(crate) fn prowjob_spec(spec: &JobSpec) -> ProwJobSpec {
    ProwJobSpec {
        type_: spec.type_,
        job: spec.job.clone(),
        refs: spec.refs.clone(),
        extra_refs: spec.extra_refs.clone(),
        ..ProwJobSpec::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// JOB_SPEC from Prow's golden pod TestProwJobToPod_0.
    const SPEC: &str = r#"{"type":"presubmit","job":"job-name","buildid":"blabla","prowjobid":"pod","refs":{"org":"org-name","repo":"repo-name","base_ref":"base-ref","base_sha":"base-sha","pulls":[{"number":1,"author":"author-name","sha":"pull-sha","title":"pull-title","head_ref":"pull-branch-name"}]}}"#;

    #[test]
    fn spec_from_env_and_started() {
        assert!(matches!(resolve_spec(&|_| None), Err(SpecError::Unset)));
        assert!(matches!(
            resolve_spec(&|_| Some("{".into())),
            Err(SpecError::Malformed(_))
        ));
        let spec = resolve_spec(&|k| (k == JOB_SPEC_ENV).then(|| SPEC.to_owned())).unwrap();
        assert_eq!(revision(&spec), "pull-sha");
        let s = started(&spec, &[], 10);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"timestamp":10,"repos":{"org-name/repo-name":"base-ref:base-sha,1:pull-sha"},"pull":"1","repo-version":"pull-sha","repo-commit":"pull-sha"}"#
        );
        let rec = Record {
            refs: spec.refs.clone().unwrap(),
            final_sha: "merged".into(),
            ..Record::default()
        };
        let s = started(&spec, &[Record::default(), rec], 10);
        assert_eq!(s.repo_commit, "merged");
    }

    #[test]
    fn main_refs_fall_back_to_non_auxiliary_extra_refs() {
        let mut aux = Refs::new("a", "tools");
        aux.auxiliary = true;
        aux.base_ref = "x".into();
        let mut main = Refs::new("a", "main");
        main.base_ref = "release".into();
        let spec = JobSpec {
            extra_refs: vec![aux, main],
            ..JobSpec::default()
        };
        assert_eq!(revision(&spec), "release");
        let s = started(&spec, &[], 1);
        assert_eq!(s.pull, "");
        assert_eq!(s.repos.len(), 2);
    }
}
