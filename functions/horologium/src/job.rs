//! The ProwJob of one periodic run, as Prow's `NewProwJob(PeriodicSpec(job), labels, annotations)`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use prow_core::config::Periodic;
use prow_core::jobspec::labels_and_annotations;
use prow_core::prowjob::{
    ProwJob, ProwJobAgent, ProwJobSpec, ProwJobState, ProwJobStatus, ProwJobType,
};

/// The spec of a periodic run: the job's config, reporting on, no context, no primary refs.
pub fn periodic_spec(periodic: &Periodic) -> ProwJobSpec {
    let base = &periodic.base;
    ProwJobSpec {
        type_: ProwJobType::Periodic,
        agent: Some(ProwJobAgent::from(base.agent.as_str())),
        cluster: base.cluster.clone(),
        namespace: base.namespace.clone(),
        job: base.name.clone(),
        extra_refs: base.utility.extra_refs.clone(),
        report: true,
        max_concurrency: base.max_concurrency,
        error_on_eviction: base.error_on_eviction,
        pod_spec: base.spec.clone(),
        decoration_config: if base.utility.decorate {
            base.utility.decoration_config.clone()
        } else {
            None
        },
        reporter_config: base.reporter_config.clone(),
        rerun_auth_config: base.rerun_auth_config.clone(),
        hidden: base.hidden,
        prowjob_defaults: base.prowjob_defaults.clone(),
        job_queue_name: base.job_queue_name.clone(),
        ..ProwJobSpec::default()
    }
}

/// A triggered run named `name` in `namespace`, started at `start`.
pub fn periodic_prowjob(periodic: &Periodic, name: &str, namespace: &str, start: Time) -> ProwJob {
    let spec = periodic_spec(periodic);
    let meta = labels_and_annotations(&spec, &periodic.base.labels, &periodic.base.annotations);
    if !meta.dropped.is_empty() {
        tracing::warn!(job = %periodic.name(), dropped = ?meta.dropped, "labels with invalid values dropped");
    }
    ProwJob {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(meta.labels),
            annotations: Some(meta.annotations),
            ..ObjectMeta::default()
        },
        spec,
        status: ProwJobStatus {
            start_time: Some(start),
            state: ProwJobState::Triggered,
            ..ProwJobStatus::default()
        },
        ..ProwJob::default()
    }
}
