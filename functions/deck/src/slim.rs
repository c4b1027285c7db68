//! ProwJobs as Deck's watch decodes them: only what the index keeps. A list page of 500 real
//! ProwJobs decoded in full is megabytes of pod specs, labels, annotations and managed fields
//! that the summary drops straight away; decoding skips them instead (serde passes over unknown
//! fields without building them), so the list's transient memory is that of the slim objects.

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use prow_core::prowjob::{
    DecorationConfig, GcsConfiguration, ProwJob, ProwJobAgent, ProwJobSpec, ProwJobState,
    ProwJobStatus, ProwJobType, Refs, RerunAuthConfig,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// A ProwJob without what Deck's index drops: no labels, annotations or managed fields, a pod
/// spec of empty containers (only their number is kept), a decoration config holding only where
/// artifacts go. Lists and watches of `prow.k8s.io/v1` `prowjobs` decode into it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlimProwJob(pub ProwJob);

impl k8s_openapi::Resource for SlimProwJob {
    const API_VERSION: &'static str = <ProwJob as k8s_openapi::Resource>::API_VERSION;
    const GROUP: &'static str = <ProwJob as k8s_openapi::Resource>::GROUP;
    const KIND: &'static str = <ProwJob as k8s_openapi::Resource>::KIND;
    const VERSION: &'static str = <ProwJob as k8s_openapi::Resource>::VERSION;
    const URL_PATH_SEGMENT: &'static str = <ProwJob as k8s_openapi::Resource>::URL_PATH_SEGMENT;
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::ListableResource for SlimProwJob {
    const LIST_KIND: &'static str = <ProwJob as k8s_openapi::ListableResource>::LIST_KIND;
}

impl k8s_openapi::Metadata for SlimProwJob {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.0.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    metadata: WireMeta,
    #[serde(default)]
    spec: WireSpec,
    #[serde(default)]
    status: WireStatus,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMeta {
    name: Option<String>,
    namespace: Option<String>,
    creation_timestamp: Option<Time>,
    resource_version: Option<String>,
    uid: Option<String>,
}

#[derive(Default, Deserialize)]
struct WireSpec {
    #[serde(rename = "type", default)]
    type_: ProwJobType,
    #[serde(default)]
    agent: Option<ProwJobAgent>,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    job: String,
    #[serde(default)]
    refs: Option<Refs>,
    #[serde(default)]
    extra_refs: Vec<Refs>,
    #[serde(default)]
    report: bool,
    #[serde(default)]
    context: String,
    #[serde(default)]
    rerun_command: String,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    rerun_auth_config: Option<RerunAuthConfig>,
    #[serde(default)]
    decoration_config: Option<WireDecoration>,
    #[serde(default)]
    pod_spec: Option<WirePodSpec>,
}

#[derive(Default, Deserialize)]
struct WireDecoration {
    #[serde(default)]
    gcs_configuration: Option<GcsConfiguration>,
}

#[derive(Default, Deserialize)]
struct WirePodSpec {
    #[serde(default)]
    containers: Vec<IgnoredAny>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatus {
    #[serde(default)]
    start_time: Option<Time>,
    #[serde(default)]
    pending_time: Option<Time>,
    #[serde(default)]
    completion_time: Option<Time>,
    #[serde(default)]
    state: ProwJobState,
    #[serde(default)]
    description: String,
    #[serde(default)]
    url: String,
    #[serde(default, rename = "pod_name")]
    pod_name: String,
    #[serde(default, rename = "build_id")]
    build_id: String,
}

impl<'de> Deserialize<'de> for SlimProwJob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Wire {
            metadata,
            spec,
            status,
        } = Wire::deserialize(deserializer)?;
        let containers = spec.pod_spec.map(|p| p.containers.len());
        Ok(SlimProwJob(ProwJob {
            metadata: ObjectMeta {
                name: metadata.name,
                namespace: metadata.namespace,
                creation_timestamp: metadata.creation_timestamp,
                resource_version: metadata.resource_version,
                uid: metadata.uid,
                ..ObjectMeta::default()
            },
            spec: ProwJobSpec {
                type_: spec.type_,
                agent: spec.agent,
                cluster: spec.cluster,
                namespace: spec.namespace,
                job: spec.job,
                refs: spec.refs,
                extra_refs: spec.extra_refs,
                report: spec.report,
                context: spec.context,
                rerun_command: spec.rerun_command,
                hidden: spec.hidden,
                rerun_auth_config: spec.rerun_auth_config,
                decoration_config: spec.decoration_config.map(|d| DecorationConfig {
                    gcs_configuration: d.gcs_configuration,
                    ..DecorationConfig::default()
                }),
                pod_spec: containers.map(|n| k8s_openapi::api::core::v1::PodSpec {
                    containers: vec![Container::default(); n],
                    ..Default::default()
                }),
                ..ProwJobSpec::default()
            },
            status: ProwJobStatus {
                start_time: status.start_time,
                pending_time: status.pending_time,
                completion_time: status.completion_time,
                state: status.state,
                description: status.description,
                url: status.url,
                pod_name: status.pod_name,
                build_id: status.build_id,
                ..ProwJobStatus::default()
            },
            ..ProwJob::default()
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_prowjob_decodes_to_what_the_index_keeps() {
        let full: serde_json::Value = serde_json::json!({
            "apiVersion": "prow.k8s.io/v1",
            "kind": "ProwJob",
            "metadata": {
                "name": "0b6f6c4e-5a0d-11ef-8f0e-6e1c2a0b0c0d",
                "namespace": "default",
                "resourceVersion": "42",
                "creationTimestamp": "2026-12-01T10:00:00Z",
                "labels": {"prow.k8s.io/job": "pull-unit"},
                "annotations": {"prow.k8s.io/context": "unit"},
                "managedFields": [{"manager": "plank", "operation": "Update"}]
            },
            "spec": {
                "type": "presubmit",
                "agent": "kubernetes",
                "job": "pull-unit",
                "context": "unit",
                "refs": {"org": "acme", "repo": "widget", "base_ref": "main",
                         "pulls": [{"number": 7, "author": "alice", "sha": "abc"}]},
                "pod_spec": {"containers": [{"name": "test", "image": "golang",
                                              "env": [{"name": "A", "value": "1"}]}]},
                "decoration_config": {"timeout": "2h0m0s",
                                      "gcs_configuration": {"bucket": "logs", "path_strategy": "explicit"},
                                      "utility_images": {"clonerefs": "x"}},
                "max_concurrency": 3
            },
            "status": {"startTime": "2026-12-01T10:00:01Z", "state": "success",
                       "build_id": "1800000000000000001", "pod_name": "x",
                       "prev_report_states": {"github-reporter": "success"}}
        });
        let slim: SlimProwJob = serde_json::from_value(full.clone()).unwrap();
        let whole: ProwJob = serde_json::from_value(full).unwrap();
        let pj = slim.0;
        assert_eq!(pj.metadata.name, whole.metadata.name);
        assert_eq!(pj.metadata.resource_version.as_deref(), Some("42"));
        assert!(pj.metadata.labels.is_none() && pj.metadata.annotations.is_none());
        assert!(pj.metadata.managed_fields.is_none());
        assert_eq!(pj.spec.refs, whole.spec.refs);
        assert_eq!(pj.spec.agent, whole.spec.agent);
        assert_eq!(
            pj.spec.pod_spec.map(|p| p.containers),
            Some(vec![Container::default()])
        );
        let decoration = pj.spec.decoration_config.unwrap();
        assert_eq!(
            decoration.gcs_configuration,
            whole
                .spec
                .decoration_config
                .and_then(|d| d.gcs_configuration)
        );
        assert!(decoration.utility_images.is_none());
        assert_eq!(pj.status.start_time, whole.status.start_time);
        assert_eq!(pj.status.state, ProwJobState::Success);
        assert_eq!(pj.status.build_id, "1800000000000000001");
        assert!(pj.status.prev_report_states.is_empty());
    }
}
