//! ProwJobs from job config: Prow's `PresubmitSpec`/`PostsubmitSpec`/`PeriodicSpec`/`BatchSpec` and `NewProwJob`, shared by trigger, horologium, deck and mkpj.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::config::{JobBase, Periodic, Postsubmit, Presubmit};
use crate::jobspec::{EVENT_GUID_LABEL, IS_OPTIONAL_LABEL, labels_and_annotations};
use crate::prowjob::{
    API_VERSION, KIND, ProwJob, ProwJobAgent, ProwJobSpec, ProwJobState, ProwJobStatus,
    ProwJobType, Refs, ReporterConfig,
};

/// The spec of a presubmit run against `refs` (a PR's refs): job base, context, `report =
/// !skip_report`, rerun command, and the job's clone settings folded into the refs.
pub fn presubmit_spec(job: &Presubmit, refs: Refs) -> ProwJobSpec {
    let mut spec = spec_from_job_base(&job.base);
    spec.type_ = ProwJobType::Presubmit;
    spec.context = job.context.clone();
    spec.report = !job.skip_report;
    spec.rerun_command = job.rerun_command.clone();
    spec.refs = Some(complete_primary_refs(refs, &job.base));
    spec
}

/// The spec of a postsubmit run against `refs` (a push's refs).
pub fn postsubmit_spec(job: &Postsubmit, refs: Refs) -> ProwJobSpec {
    let mut spec = spec_from_job_base(&job.base);
    spec.type_ = ProwJobType::Postsubmit;
    spec.context = job.context.clone();
    spec.report = !job.skip_report;
    spec.refs = Some(complete_primary_refs(refs, &job.base));
    spec
}

/// The spec of a periodic run; Prow always reports periodics (to Slack etc.), and they have no
/// context and no primary refs.
pub fn periodic_spec(job: &Periodic) -> ProwJobSpec {
    let mut spec = spec_from_job_base(&job.base);
    spec.type_ = ProwJobType::Periodic;
    spec.report = true;
    spec
}

/// The spec of a batch run of a presubmit (tide): context set, `report` false as in Prow.
pub fn batch_spec(job: &Presubmit, refs: Refs) -> ProwJobSpec {
    let mut spec = spec_from_job_base(&job.base);
    spec.type_ = ProwJobType::Batch;
    spec.context = job.context.clone();
    spec.refs = Some(complete_primary_refs(refs, &job.base));
    spec
}

/// Extra labels and annotations Prow's `NewPresubmit` passes to `NewProwJob`: the job's labels,
/// then `additional` (e.g. `prow.k8s.io/retest`), then `event-GUID` and
/// `prow.k8s.io/is-optional`, which win; annotations are the job's.
pub fn presubmit_labels(
    job: &Presubmit,
    event_guid: &str,
    additional: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = job.base.labels.clone();
    labels.extend(additional.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.insert(EVENT_GUID_LABEL.to_owned(), event_guid.to_owned());
    labels.insert(IS_OPTIONAL_LABEL.to_owned(), job.optional.to_string());
    (labels, job.base.annotations.clone())
}

/// Extra labels and annotations of a push-triggered postsubmit: the job's labels plus
/// `event-GUID` (trigger's `handlePE`).
pub fn postsubmit_labels(
    job: &Postsubmit,
    event_guid: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = job.base.labels.clone();
    labels.insert(EVENT_GUID_LABEL.to_owned(), event_guid.to_owned());
    (labels, job.base.annotations.clone())
}

/// Prow's `NewProwJob`: labels and annotations computed from the spec plus the extra ones
/// (see [`labels_and_annotations`]), state `triggered`, `startTime` = `now`. The name is the
/// caller's (prow-rs derives it deterministically; Prow uses a random UUID); the namespace is
/// left for the caller too, as Prow's client sets it.
pub fn new_prowjob(
    mut spec: ProwJobSpec,
    extra_labels: &BTreeMap<String, String>,
    extra_annotations: &BTreeMap<String, String>,
    name: impl Into<String>,
    now: Time,
) -> ProwJob {
    let computed = labels_and_annotations(&spec, extra_labels, extra_annotations);
    if let Some(reporter) = spec.reporter_config.as_mut() {
        default_slack_report(reporter);
    }
    ProwJob {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(computed.labels),
            annotations: Some(computed.annotations),
            ..ObjectMeta::default()
        },
        spec,
        status: ProwJobStatus {
            start_time: Some(now),
            state: ProwJobState::Triggered,
            ..ProwJobStatus::default()
        },
    }
}

/// Prow's `setReportDefault`: an unset Slack `report` becomes true when states to report are
/// listed. Go also turns an explicit empty list into `false`; our model cannot tell an empty
/// list from an absent one, so that case keeps `report` unset (which reports nothing either way,
/// as there are no states to report).
fn default_slack_report(reporter: &mut ReporterConfig) {
    if let Some(slack) = reporter.slack.as_mut()
        && slack.report.is_none()
        && !slack.job_states_to_report.is_empty()
    {
        slack.report = Some(true);
    }
}

fn spec_from_job_base(base: &JobBase) -> ProwJobSpec {
    ProwJobSpec {
        job: base.name.clone(),
        agent: (!base.agent.is_empty()).then(|| ProwJobAgent::from(base.agent.as_str())),
        cluster: base.cluster.clone(),
        namespace: base.namespace.clone(),
        max_concurrency: base.max_concurrency,
        error_on_eviction: base.error_on_eviction,
        extra_refs: base
            .utility
            .extra_refs
            .iter()
            .cloned()
            .map(|r| decorate_refs(r, base))
            .collect(),
        decoration_config: base.utility.decoration_config.clone(),
        pod_spec: base.spec.as_deref().cloned(),
        pipeline_run_spec: base
            .pipeline_run_spec
            .as_ref()
            .and_then(|v| v.as_object().cloned()),
        reporter_config: base.reporter_config.clone(),
        rerun_auth_config: base.rerun_auth_config.clone(),
        hidden: base.hidden,
        prowjob_defaults: base.prowjob_defaults.clone(),
        job_queue_name: base.job_queue_name.clone(),
        ..ProwJobSpec::default()
    }
}

/// Decorated jobs pass their `blobless_fetch` default on to refs that do not set it.
fn decorate_refs(mut refs: Refs, base: &JobBase) -> Refs {
    if let Some(dc) = &base.utility.decoration_config
        && refs.blobless_fetch.is_none()
    {
        refs.blobless_fetch = dc.blobless_fetch;
    }
    refs
}

/// Prow's `CompletePrimaryRefs`: the job's clone settings override the event's refs.
fn complete_primary_refs(mut refs: Refs, base: &JobBase) -> Refs {
    let u = &base.utility;
    if !u.path_alias.is_empty() {
        refs.path_alias = u.path_alias.clone();
    }
    if !u.clone_uri.is_empty() {
        refs.clone_uri = u.clone_uri.clone();
    }
    if u.skip_submodules {
        refs.skip_submodules = true;
    }
    if u.clone_depth > 0 {
        refs.clone_depth = u32::try_from(u.clone_depth).unwrap_or(u32::MAX);
    }
    if u.skip_fetch_head {
        refs.skip_fetch_head = true;
    }
    let mut refs = decorate_refs(refs, base);
    if let Some(dc) = &u.decoration_config
        && !dc.sparse_checkout_files.is_empty()
    {
        refs.sparse_checkout_files = dc.sparse_checkout_files.clone();
    }
    refs
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::UtilityConfig;
    use crate::jobspec::{CONTEXT_ANNOTATION, JOB_ANNOTATION, PULL_LABEL, TYPE_LABEL};
    use crate::prowjob::{DecorationConfig, Pull, SlackReporterConfig};
    use k8s_openapi::jiff::Timestamp;

    fn base(name: &str) -> JobBase {
        JobBase {
            name: name.into(),
            agent: "kubernetes".into(),
            cluster: "default".into(),
            namespace: "test-pods".into(),
            max_concurrency: 2,
            labels: BTreeMap::from([("team".into(), "sig-x".into())]),
            annotations: BTreeMap::from([("testgrid-tab".into(), "x".into())]),
            ..JobBase::default()
        }
    }

    fn pr_refs() -> Refs {
        Refs::new("acme", "foo")
            .base("main", "aaaa")
            .pull(Pull::new(42, "alice", "bbbb"))
    }

    fn now() -> Time {
        Time(Timestamp::from_second(1_800_000_000).unwrap_or_default())
    }

    #[test]
    fn presubmit_spec_copies_job_fields_and_completes_refs() {
        let mut job = Presubmit {
            base: base("pull-foo-unit"),
            context: "ctx".into(),
            skip_report: true,
            rerun_command: "/test pull-foo-unit".into(),
            ..Presubmit::default()
        };
        job.base.utility = UtilityConfig {
            path_alias: "k8s.io/foo".into(),
            clone_depth: 5,
            skip_submodules: true,
            decoration_config: Some(DecorationConfig {
                blobless_fetch: Some(true),
                sparse_checkout_files: vec!["a".into()],
                ..DecorationConfig::default()
            }),
            extra_refs: vec![Refs::new("acme", "tools")],
            ..UtilityConfig::default()
        };
        let spec = presubmit_spec(&job, pr_refs());
        assert_eq!(spec.type_, ProwJobType::Presubmit);
        assert_eq!(spec.job, "pull-foo-unit");
        assert_eq!(spec.context, "ctx");
        assert!(!spec.report);
        assert_eq!(spec.rerun_command, "/test pull-foo-unit");
        assert_eq!(spec.agent, Some(ProwJobAgent::Kubernetes));
        assert_eq!(spec.namespace, "test-pods");
        assert_eq!(spec.max_concurrency, 2);
        let refs = spec.refs.as_ref().unwrap();
        assert_eq!(refs.path_alias, "k8s.io/foo");
        assert_eq!(refs.clone_depth, 5);
        assert!(refs.skip_submodules);
        assert_eq!(refs.blobless_fetch, Some(true));
        assert_eq!(refs.sparse_checkout_files, vec!["a".to_string()]);
        assert_eq!(refs.pulls[0].number, 42);
        // Extra refs get the blobless default but not the primary-only settings.
        assert_eq!(spec.extra_refs[0].blobless_fetch, Some(true));
        assert_eq!(spec.extra_refs[0].path_alias, "");
        assert!(spec.is_decorated());
    }

    #[test]
    fn report_flag_per_job_type() {
        let pre = Presubmit {
            base: base("p"),
            ..Presubmit::default()
        };
        let post = Postsubmit {
            base: base("q"),
            skip_report: true,
            ..Postsubmit::default()
        };
        let per = Periodic {
            base: base("r"),
            ..Periodic::default()
        };
        let cases = [
            (
                presubmit_spec(&pre, pr_refs()),
                ProwJobType::Presubmit,
                true,
            ),
            (
                postsubmit_spec(&post, Refs::new("a", "b")),
                ProwJobType::Postsubmit,
                false,
            ),
            (periodic_spec(&per), ProwJobType::Periodic, true),
            (batch_spec(&pre, pr_refs()), ProwJobType::Batch, false),
        ];
        for (spec, type_, report) in cases {
            assert_eq!(spec.type_, type_);
            assert_eq!(spec.report, report, "{type_:?}");
        }
        assert!(periodic_spec(&per).refs.is_none());
    }

    #[test]
    fn presubmit_labels_let_event_guid_and_optional_win() {
        let mut job = Presubmit {
            base: base("p"),
            optional: true,
            ..Presubmit::default()
        };
        job.base
            .labels
            .insert(EVENT_GUID_LABEL.into(), "from-job".into());
        let additional = BTreeMap::from([("prow.k8s.io/retest".to_string(), "true".to_string())]);
        let (labels, annotations) = presubmit_labels(&job, "guid-1", &additional);
        assert_eq!(labels[EVENT_GUID_LABEL], "guid-1");
        assert_eq!(labels[IS_OPTIONAL_LABEL], "true");
        assert_eq!(labels["prow.k8s.io/retest"], "true");
        assert_eq!(labels["team"], "sig-x");
        assert_eq!(annotations["testgrid-tab"], "x");
    }

    #[test]
    fn new_prowjob_sets_metadata_status_and_labels() {
        let job = Presubmit {
            base: base("pull-foo-unit"),
            context: "pull-foo-unit".into(),
            ..Presubmit::default()
        };
        let (labels, annotations) = presubmit_labels(&job, "guid", &BTreeMap::new());
        let pj = new_prowjob(
            presubmit_spec(&job, pr_refs()),
            &labels,
            &annotations,
            "name-1",
            now(),
        );
        assert_eq!(pj.api_version, "prow.k8s.io/v1");
        assert_eq!(pj.kind, "ProwJob");
        assert_eq!(pj.name(), "name-1");
        assert_eq!(pj.status.state, ProwJobState::Triggered);
        assert_eq!(pj.status.start_time, Some(now()));
        let l = pj.metadata.labels.as_ref().unwrap();
        assert_eq!(l[TYPE_LABEL], "presubmit");
        assert_eq!(l[JOB_ANNOTATION], "pull-foo-unit");
        assert_eq!(l[PULL_LABEL], "42");
        assert_eq!(l[EVENT_GUID_LABEL], "guid");
        assert_eq!(l["created-by-prow"], "true");
        let a = pj.metadata.annotations.as_ref().unwrap();
        assert_eq!(a[CONTEXT_ANNOTATION], "pull-foo-unit");
        assert_eq!(a["testgrid-tab"], "x");
    }

    #[test]
    fn slack_report_defaults() {
        let cases = [
            (None, vec![ProwJobState::Failure], Some(true)),
            (Some(false), vec![ProwJobState::Failure], Some(false)),
            (None, vec![], None),
        ];
        for (report, states, want) in cases {
            let mut spec = periodic_spec(&Periodic {
                base: base("r"),
                ..Periodic::default()
            });
            spec.reporter_config = Some(ReporterConfig {
                slack: Some(SlackReporterConfig {
                    report,
                    job_states_to_report: states,
                    ..SlackReporterConfig::default()
                }),
            });
            let pj = new_prowjob(spec, &BTreeMap::new(), &BTreeMap::new(), "n", now());
            let got = pj
                .spec
                .reporter_config
                .and_then(|r| r.slack)
                .unwrap()
                .report;
            assert_eq!(got, want);
        }
    }
}
