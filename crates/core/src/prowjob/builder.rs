//! Fluent builders of ProwJob test data, shared by every crate's tests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::{
    DecorationConfig, ProwJob, ProwJobAgent, ProwJobSpec, ProwJobState, ProwJobType, Pull, Refs,
};

/// Start time of built jobs unless [`ProwJobBuilder::started_at`] says otherwise: a fixed
/// instant keeps test output stable (2023-11-14T22:13:20Z).
pub(super) const TEST_START_SECOND: i64 = 1_700_000_000;

/// Builds a [`ProwJob`] for tests: `ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
/// .refs(Refs::new("acme", "foo").base("main", "aaaa").pull(Pull::new(42, "alice", "bbbb"))).pending().build()`.
///
/// Defaults: `metadata.name` = the job name, ProwJob namespace `default`, pod namespace
/// `test-pods`, agent `kubernetes`,
/// state `triggered`, start time [`TEST_START_SECOND`], a one-container pod spec.
#[derive(Debug, Clone)]
pub struct ProwJobBuilder {
    pj: ProwJob,
}

impl ProwJobBuilder {
    pub fn new(job: impl Into<String>, type_: ProwJobType) -> Self {
        let job = job.into();
        let mut pj = ProwJob::new(
            job.clone(),
            ProwJobSpec {
                type_,
                agent: Some(ProwJobAgent::Kubernetes),
                namespace: "test-pods".into(),
                job,
                pod_spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "test".into(),
                        image: Some("alpine:3".into()),
                        command: Some(vec!["true".into()]),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
                ..ProwJobSpec::default()
            },
        );
        pj.metadata.namespace = Some("default".into());
        pj.status.start_time = Some(Time(
            Timestamp::from_second(TEST_START_SECOND).unwrap_or_default(),
        ));
        Self { pj }
    }

    /// `metadata.name` (Prow uses a UUID).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.pj.metadata.name = Some(name.into());
        self
    }

    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.pj.metadata.namespace = Some(namespace.into());
        self
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pj
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pj
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    pub fn refs(mut self, refs: Refs) -> Self {
        self.pj.spec.refs = Some(refs);
        self
    }

    pub fn extra_refs(mut self, refs: Refs) -> Self {
        self.pj.spec.extra_refs.push(refs);
        self
    }

    /// Sets `context` and turns reporting on, as trigger does for presubmits and postsubmits.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.pj.spec.context = context.into();
        self.pj.spec.report = true;
        self
    }

    pub fn report(mut self, report: bool) -> Self {
        self.pj.spec.report = report;
        self
    }

    pub fn rerun_command(mut self, command: impl Into<String>) -> Self {
        self.pj.spec.rerun_command = command.into();
        self
    }

    pub fn agent(mut self, agent: ProwJobAgent) -> Self {
        self.pj.spec.agent = Some(agent);
        self
    }

    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.pj.spec.cluster = cluster.into();
        self
    }

    pub fn max_concurrency(mut self, n: u32) -> Self {
        self.pj.spec.max_concurrency = n;
        self
    }

    pub fn job_queue_name(mut self, queue: impl Into<String>) -> Self {
        self.pj.spec.job_queue_name = queue.into();
        self
    }

    pub fn decoration(mut self, config: DecorationConfig) -> Self {
        self.pj.spec.decoration_config = Some(config);
        self
    }

    pub fn pod_spec(mut self, pod_spec: PodSpec) -> Self {
        self.pj.spec.pod_spec = Some(pod_spec);
        self
    }

    /// Edits the spec in place for anything without a dedicated method.
    pub fn spec_with(mut self, edit: impl FnOnce(&mut ProwJobSpec)) -> Self {
        edit(&mut self.pj.spec);
        self
    }

    pub fn started_at(mut self, time: Time) -> Self {
        self.pj.metadata.creation_timestamp = Some(time.clone());
        self.pj.status.start_time = Some(time);
        self
    }

    pub fn state(mut self, state: ProwJobState) -> Self {
        self.pj.status.state = state;
        self
    }

    pub fn build_id(mut self, build_id: impl Into<String>) -> Self {
        self.pj.status.build_id = build_id.into();
        self
    }

    /// Running: state `pending`, pending one minute after start, pod named like the job,
    /// and a build id unless one was set.
    pub fn pending(mut self) -> Self {
        self.pj.status.state = ProwJobState::Pending;
        self.pj.status.pending_time = Some(self.after_start(60));
        self.pj.status.pod_name = self.pj.name().to_owned();
        if self.pj.status.build_id.is_empty() {
            self.pj.status.build_id = "1790000000000000000".into();
        }
        self
    }

    /// Finished in `state`, ten minutes after start.
    pub fn completed(mut self, state: ProwJobState) -> Self {
        if self.pj.status.pending_time.is_none() {
            self = self.pending();
        }
        self.pj.status.state = state;
        self.pj.status.completion_time = Some(self.after_start(600));
        self
    }

    pub fn prev_report_state(mut self, reporter: impl Into<String>, state: ProwJobState) -> Self {
        self.pj
            .status
            .prev_report_states
            .insert(reporter.into(), state);
        self
    }

    pub fn build(self) -> ProwJob {
        self.pj
    }

    fn after_start(&self, seconds: i64) -> Time {
        let start = self
            .pj
            .status
            .start_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
        Time(
            start
                .saturating_add(SignedDuration::from_secs(seconds))
                .unwrap_or(start),
        )
    }
}

impl Refs {
    /// Sets `base_ref` and `base_sha`.
    pub fn base(mut self, base_ref: impl Into<String>, base_sha: impl Into<String>) -> Self {
        self.base_ref = base_ref.into();
        self.base_sha = base_sha.into();
        self
    }

    /// Appends a pull.
    pub fn pull(mut self, pull: Pull) -> Self {
        self.pulls.push(pull);
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builder_produces_a_running_presubmit() {
        let pj = ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .name("abc")
            .refs(
                Refs::new("acme", "foo")
                    .base("main", "aaaa")
                    .pull(Pull::new(42, "alice", "bbbb")),
            )
            .context("pull-foo-unit")
            .pending()
            .build();
        assert_eq!(pj.name(), "abc");
        assert_eq!(pj.status.state, ProwJobState::Pending);
        assert_eq!(pj.status.pod_name, "abc");
        assert!(pj.spec.report);
        assert!(!pj.is_complete());
        let pending = pj.status.pending_time.as_ref().map(|t| t.0.as_second());
        assert_eq!(pending, Some(TEST_START_SECOND + 60));
    }

    #[test]
    fn completed_sets_completion_time() {
        let pj = ProwJob::builder("ci-foo", ProwJobType::Periodic)
            .completed(ProwJobState::Failure)
            .build();
        assert!(pj.is_complete());
        assert_eq!(pj.status.state, ProwJobState::Failure);
        assert!(!pj.status.build_id.is_empty());
    }
}
