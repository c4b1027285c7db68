//! The ProwJob of one periodic run: prow-core's `periodic_spec` + `new_prowjob` (Prow's
//! `NewProwJob(PeriodicSpec(job), job.Labels, job.Annotations)`), placed in the ProwJob namespace.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prow_core::config::Periodic;
use prow_core::jobspec::RE_RUN_LABEL;
use prow_core::prowjob::ProwJob;
use prow_core::prowjob_new::{new_prowjob, periodic_spec};

/// A triggered run named `name` in `namespace`, started at `start`; a `retry:` re-run carries
/// its attempt number in `prow.k8s.io/re-run`.
pub fn periodic_prowjob(
    periodic: &Periodic,
    name: &str,
    namespace: &str,
    start: Time,
    rerun_attempt: Option<u32>,
) -> ProwJob {
    let mut labels = periodic.base.labels.clone();
    if let Some(attempt) = rerun_attempt {
        labels.insert(RE_RUN_LABEL.to_owned(), attempt.to_string());
    }
    let mut pj = new_prowjob(
        periodic_spec(periodic),
        &labels,
        &periodic.base.annotations,
        name,
        start,
    );
    pj.metadata.namespace = Some(namespace.to_owned());
    pj
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use prow_core::prowjob::{ProwJobState, ProwJobType};

    #[test]
    fn a_periodic_run_reports_carries_its_labels_and_starts_triggered() {
        let mut p = Periodic::default();
        p.base.name = "ci-nightly".into();
        p.base.labels.insert("team".into(), "infra".into());
        p.cron = "@daily".into();
        let start = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let pj = periodic_prowjob(&p, "run-1", "prow-jobs", start.clone(), None);
        assert_eq!(pj.name(), "run-1");
        assert_eq!(pj.metadata.namespace.as_deref(), Some("prow-jobs"));
        assert_eq!(pj.spec.type_, ProwJobType::Periodic);
        assert_eq!(pj.spec.job, "ci-nightly");
        assert!(pj.spec.report);
        assert!(pj.spec.context.is_empty());
        assert_eq!(pj.status.state, ProwJobState::Triggered);
        assert_eq!(pj.status.start_time, Some(start.clone()));
        let labels = pj.metadata.labels.unwrap();
        assert_eq!(labels["team"], "infra");
        assert_eq!(labels["prow.k8s.io/type"], "periodic");
        assert_eq!(labels["prow.k8s.io/job"], "ci-nightly");
        assert!(!labels.contains_key(RE_RUN_LABEL));

        let rerun = periodic_prowjob(&p, "run-2", "prow-jobs", start, Some(2));
        assert_eq!(rerun.metadata.labels.unwrap()[RE_RUN_LABEL], "2");
    }
}
