//! Rerun and abort as pure decisions over a ProwJob; the handlers only fetch, decide and write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use prow_core::naming::prowjob_name;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobStatus};

/// Reruns requested by the same user for the same job within this window get the same name, so
/// a double click or a retried POST creates one job, not two.
pub const RERUN_BUCKET_SECONDS: i64 = 60;

/// Labels that name one run (its id, its pod's build) and must not be copied to a rerun.
const PER_RUN_LABELS: [&str; 2] = ["prow.k8s.io/id", "prow.k8s.io/build-id"];

/// The ProwJob a rerun creates: same spec, labels and annotations; a fresh `triggered` status.
pub fn rerun_of(old: &ProwJob, user: &str, now: Timestamp) -> ProwJob {
    let bucket = (now.as_second() / RERUN_BUCKET_SECONDS).to_string();
    let name = prowjob_name(&["rerun", old.name(), user, &bucket]);
    let mut labels = old.metadata.labels.clone().unwrap_or_default();
    for l in PER_RUN_LABELS {
        labels.remove(l);
    }
    ProwJob {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: old.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: old.metadata.annotations.clone(),
            ..ObjectMeta::default()
        },
        spec: old.spec.clone(),
        status: ProwJobStatus {
            start_time: Some(Time(now)),
            state: ProwJobState::Triggered,
            description: format!("{user} successfully reran {}.", old.name()),
            ..ProwJobStatus::default()
        },
        ..ProwJob::default()
    }
}

/// Why a job cannot be aborted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cannot abort job with state: {0}")]
pub struct NotAbortable(pub ProwJobState);

/// Prow aborts only jobs that have not finished (`triggered` or `pending`; `scheduling` too, as
/// nothing runs yet); plank then deletes the pod and completes the job.
pub fn check_abortable(pj: &ProwJob) -> Result<(), NotAbortable> {
    match pj.status.state {
        ProwJobState::Triggered | ProwJobState::Pending | ProwJobState::Scheduling => Ok(()),
        other => Err(NotAbortable(other)),
    }
}

/// Applies an abort to the status; false when nothing changes (already final).
pub fn apply_abort(pj: &mut ProwJob, user: &str) -> bool {
    if check_abortable(pj).is_err() {
        return false;
    }
    pj.status.state = ProwJobState::Aborted;
    pj.status.description = format!("{user} successfully aborted {}.", pj.name());
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::ProwJobType;

    fn old() -> ProwJob {
        ProwJob::builder("ci-foo", ProwJobType::Periodic)
            .name("old-1")
            .label("prow.k8s.io/job", "ci-foo")
            .label("prow.k8s.io/id", "old-1")
            .label("prow.k8s.io/build-id", "123")
            .build_id("123")
            .completed(ProwJobState::Failure)
            .build()
    }

    #[test]
    fn rerun_copies_the_spec_and_starts_fresh() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let new = rerun_of(&old(), "alice", now);
        assert_eq!(new.spec, old().spec);
        assert_ne!(new.name(), "old-1");
        assert_eq!(new.status.state, ProwJobState::Triggered);
        assert_eq!(new.status.build_id, "");
        assert!(new.status.completion_time.is_none());
        assert_eq!(new.status.description, "alice successfully reran old-1.");
        let labels = new.metadata.labels.unwrap();
        assert_eq!(
            labels.get("prow.k8s.io/job").map(String::as_str),
            Some("ci-foo")
        );
        assert!(!labels.contains_key("prow.k8s.io/id"));
        assert!(!labels.contains_key("prow.k8s.io/build-id"));
    }

    #[test]
    fn rerun_names_are_deterministic_per_user_and_minute() {
        let t = |s| Timestamp::from_second(s).unwrap();
        let name = |user, s| rerun_of(&old(), user, t(s)).metadata.name.unwrap();
        assert_eq!(name("alice", 1_700_000_040), name("alice", 1_700_000_059));
        assert_ne!(name("alice", 1_700_000_040), name("alice", 1_700_000_100));
        assert_ne!(name("alice", 1_700_000_040), name("bob", 1_700_000_040));
    }

    #[test]
    fn abort_only_unfinished_jobs() {
        use ProwJobState::*;
        for (state, ok) in [
            (Scheduling, true),
            (Triggered, true),
            (Pending, true),
            (Success, false),
            (Failure, false),
            (Aborted, false),
            (Error, false),
        ] {
            let mut pj = ProwJob::builder("j", ProwJobType::Periodic)
                .name("x")
                .state(state)
                .build();
            assert_eq!(apply_abort(&mut pj, "bob"), ok, "{state}");
            if ok {
                assert_eq!(pj.status.state, Aborted);
                assert_eq!(pj.status.description, "bob successfully aborted x.");
            } else {
                assert_eq!(pj.status.state, state);
                assert_eq!(check_abortable(&pj), Err(NotAbortable(state)));
            }
        }
    }
}
