//! ProwJob -> Pod: Prow's `ProwJobToPod`.
//!
//! The job's pod spec with `restartPolicy: Never`, its lone container renamed `test`, the
//! service account token not mounted unless asked for, Prow's env (`JOB_SPEC`, `BUILD_ID`,
//! `PULL_*`, ...) and `FallbackToLogsOnError` termination messages, labelled and annotated like
//! the ProwJob. A decorated job's spec is further decorated with the pod utilities
//! (clonerefs, initupload, entrypoint, sidecar) as Prow does: see [`crate::decorate`].
//! As in Prow's plank (not its `ProwJobToPod`), the pod also gets its namespace and the
//! `prow.k8s.io/plank-version` label.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prow_core::jobspec::{self, BUILD_ID_LABEL, ID_LABEL, JobSpecError, PLANK_VERSION_LABEL};
use prow_core::prowjob::ProwJob;

use crate::decorate::{self, DecorateError};

/// Name of a job's only container, as Prow renames it.
pub const TEST_CONTAINER: &str = "test";
/// Termination message policy Prow gives containers that set none.
const FALLBACK_TO_LOGS: &str = "FallbackToLogsOnError";

#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error("job {job} has no pod_spec")]
    NoPodSpec { job: String },
    #[error("job {job} has a pod_spec without containers")]
    NoContainers { job: String },
    #[error(transparent)]
    Env(#[from] JobSpecError),
    #[error(transparent)]
    Decorate(#[from] DecorateError),
}

/// The pod for `pj` as build `build_id`, in `pj.spec.namespace` (or `default_namespace` when
/// the job names none).
pub fn build_pod(pj: &ProwJob, build_id: &str, default_namespace: &str) -> Result<Pod, PodError> {
    let job = || pj.spec.job.clone();
    let mut spec = pj
        .spec
        .pod_spec
        .clone()
        .ok_or_else(|| PodError::NoPodSpec { job: job() })?;
    if spec.containers.is_empty() {
        return Err(PodError::NoContainers { job: job() });
    }
    spec.restart_policy = Some("Never".into());
    if let [only] = spec.containers.as_mut_slice() {
        only.name = TEST_CONTAINER.into();
    }
    if spec.automount_service_account_token.is_none() && spec.service_account_name.is_none() {
        spec.automount_service_account_token = Some(false);
    }
    let env = jobspec::prow_env(pj, build_id)?;
    if pj.spec.is_decorated() {
        decorate::decorate(&mut spec, pj, env.into_iter().collect())?;
    } else {
        let env: Vec<EnvVar> = env
            .into_iter()
            .map(|(name, value)| EnvVar {
                name,
                value: Some(value),
                ..EnvVar::default()
            })
            .collect();
        for container in &mut spec.containers {
            container
                .env
                .get_or_insert_with(Vec::new)
                .extend(env.iter().cloned());
        }
    }
    // Prow also defaults the policy of user init containers of undecorated jobs; this plank
    // has always left those as written, and keeps doing so.
    let init_containers = if pj.spec.is_decorated() {
        spec.init_containers.as_deref_mut().unwrap_or_default()
    } else {
        &mut []
    };
    for container in init_containers.iter_mut().chain(&mut spec.containers) {
        if container.termination_message_policy.is_none() {
            container.termination_message_policy = Some(FALLBACK_TO_LOGS.into());
        }
    }

    let own_labels: BTreeMap<String, String> = pj.metadata.labels.clone().unwrap_or_default();
    let own_annotations: BTreeMap<String, String> =
        pj.metadata.annotations.clone().unwrap_or_default();
    let mut meta = jobspec::labels_and_annotations(&pj.spec, &own_labels, &own_annotations);
    meta.labels.insert(ID_LABEL.into(), pj.name().into());
    meta.labels.insert(BUILD_ID_LABEL.into(), build_id.into());
    meta.labels
        .insert(PLANK_VERSION_LABEL.into(), env!("CARGO_PKG_VERSION").into());
    let namespace = pj.pod_namespace(default_namespace);
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pj.name().into()),
            namespace: Some(namespace.into()),
            labels: Some(meta.labels),
            annotations: Some(meta.annotations),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use prow_core::prowjob::{DecorationConfig, ProwJobType, Pull, Refs};

    use super::*;

    fn presubmit() -> ProwJob {
        ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .name("3f6c2a1e-0000-4000-8000-000000000001")
            .label("custom", "yes")
            .annotation("note", "kept")
            .refs(
                Refs::new("acme", "foo")
                    .base("main", "aaaa")
                    .pull(Pull::new(42, "alice", "bbbb")),
            )
            .build()
    }

    fn env_of(pod: &Pod) -> BTreeMap<String, String> {
        pod.spec.as_ref().unwrap().containers[0]
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn the_pod_is_named_like_the_job_and_carries_prows_labels_and_annotations() {
        let pod = build_pod(&presubmit(), "1790000000000000000", "fallback").unwrap();
        let meta = &pod.metadata;
        assert_eq!(
            meta.name.as_deref(),
            Some("3f6c2a1e-0000-4000-8000-000000000001")
        );
        assert_eq!(meta.namespace.as_deref(), Some("test-pods"));
        let labels = meta.labels.as_ref().unwrap();
        for (k, v) in [
            ("created-by-prow", "true"),
            ("prow.k8s.io/type", "presubmit"),
            ("prow.k8s.io/job", "pull-foo-unit"),
            ("prow.k8s.io/id", "3f6c2a1e-0000-4000-8000-000000000001"),
            ("prow.k8s.io/build-id", "1790000000000000000"),
            ("prow.k8s.io/refs.org", "acme"),
            ("prow.k8s.io/refs.repo", "foo"),
            ("prow.k8s.io/refs.base_ref", "main"),
            ("prow.k8s.io/refs.pull", "42"),
            ("custom", "yes"),
        ] {
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "label {k}");
        }
        let annotations = meta.annotations.as_ref().unwrap();
        assert_eq!(
            annotations.get("prow.k8s.io/job").map(String::as_str),
            Some("pull-foo-unit")
        );
        assert_eq!(annotations.get("note").map(String::as_str), Some("kept"));
    }

    #[test]
    fn the_pod_gets_prows_env_never_restarts_and_its_lone_container_is_called_test() {
        let mut pj = presubmit();
        pj.spec.pod_spec.as_mut().unwrap().containers[0].name = "unit".into();
        let pod = build_pod(&pj, "17", "x").unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.containers[0].name, "test");
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(
            spec.containers[0].termination_message_policy.as_deref(),
            Some("FallbackToLogsOnError")
        );
        let env = env_of(&pod);
        for (k, v) in [
            ("CI", "true"),
            ("JOB_NAME", "pull-foo-unit"),
            ("JOB_TYPE", "presubmit"),
            ("BUILD_ID", "17"),
            ("BUILD_NUMBER", "17"),
            ("PROW_JOB_ID", "3f6c2a1e-0000-4000-8000-000000000001"),
            ("REPO_OWNER", "acme"),
            ("REPO_NAME", "foo"),
            ("PULL_BASE_REF", "main"),
            ("PULL_BASE_SHA", "aaaa"),
            ("PULL_NUMBER", "42"),
            ("PULL_PULL_SHA", "bbbb"),
            ("PULL_REFS", "main:aaaa,42:bbbb"),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "env {k}");
        }
        assert!(env["JOB_SPEC"].contains("\"buildid\":\"17\""));
        assert!(!env.contains_key("ARTIFACTS"));
        assert!(spec.volumes.is_none());
    }

    #[test]
    fn several_containers_keep_their_names_and_all_get_the_env() {
        let mut pj = presubmit();
        pj.spec.pod_spec = Some(PodSpec {
            containers: vec![
                Container {
                    name: "a".into(),
                    ..Container::default()
                },
                Container {
                    name: "b".into(),
                    ..Container::default()
                },
            ],
            service_account_name: Some("runner".into()),
            ..PodSpec::default()
        });
        let pod = build_pod(&pj, "1", "x").unwrap();
        let spec = pod.spec.unwrap();
        assert_eq!(
            spec.containers
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(
            spec.containers
                .iter()
                .all(|c| c.env.iter().flatten().any(|e| e.name == "JOB_SPEC"))
        );
        assert_eq!(spec.automount_service_account_token, None);
    }

    fn names(containers: &[Container]) -> Vec<&str> {
        containers.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn decorated_jobs_get_prows_utility_containers_around_an_entrypoint() {
        let mut pj = presubmit();
        pj.spec.decoration_config = Some(DecorationConfig::default());
        let spec = pj.spec.pod_spec.as_mut().unwrap();
        spec.containers[0].command = Some(vec!["make".into()]);
        spec.containers[0].args = Some(vec!["test".into()]);
        spec.init_containers = Some(vec![Container {
            name: "setup".into(),
            ..Container::default()
        }]);
        let pod = build_pod(&pj, "1", "x").unwrap();
        let env = env_of(&pod);
        assert_eq!(env["ARTIFACTS"], "/logs/artifacts");
        assert_eq!(env["GOPATH"], "/home/prow/go");
        assert_eq!(env["BUILD_ID"], "1");
        assert!(env["ENTRYPOINT_OPTIONS"].contains(r#""args":["make","test"]"#));
        let spec = pod.spec.unwrap();
        let init = spec.init_containers.as_deref().unwrap();
        assert_eq!(
            names(init),
            ["clonerefs", "setup", "initupload", "place-entrypoint"]
        );
        assert_eq!(names(&spec.containers), ["test", "sidecar"]);
        let test = &spec.containers[0];
        assert_eq!(
            test.command.as_deref(),
            Some(&["/tools/entrypoint".into()][..])
        );
        assert_eq!(test.args, None);
        assert_eq!(
            test.working_dir.as_deref(),
            Some("/home/prow/go/src/github.com/acme/foo")
        );
        // Every container, the user's init container included, falls back to its logs.
        assert!(
            init.iter()
                .chain(&spec.containers)
                .all(|c| c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError"))
        );
        let volumes: Vec<&str> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(volumes, ["logs", "tools", "clonerefs-tmp", "code"]);
    }

    #[test]
    fn undecorated_jobs_keep_their_init_containers_as_written() {
        let mut pj = presubmit();
        pj.spec.pod_spec.as_mut().unwrap().init_containers = Some(vec![Container {
            name: "setup".into(),
            ..Container::default()
        }]);
        let spec = build_pod(&pj, "1", "x").unwrap().spec.unwrap();
        let init = spec.init_containers.unwrap();
        assert_eq!(names(&init), ["setup"]);
        assert_eq!(init[0].termination_message_policy, None);
        assert!(init[0].env.is_none());
    }

    #[test]
    fn jobs_without_a_usable_pod_spec_or_refs_cannot_get_a_pod() {
        let mut no_spec = presubmit();
        no_spec.spec.pod_spec = None;
        assert!(matches!(
            build_pod(&no_spec, "1", "x"),
            Err(PodError::NoPodSpec { .. })
        ));
        let mut no_containers = presubmit();
        no_containers.spec.pod_spec = Some(PodSpec::default());
        assert!(matches!(
            build_pod(&no_containers, "1", "x"),
            Err(PodError::NoContainers { .. })
        ));
        let mut no_refs = presubmit();
        no_refs.spec.refs = None;
        assert!(matches!(
            build_pod(&no_refs, "1", "x"),
            Err(PodError::Env(_))
        ));
    }

    #[test]
    fn a_job_without_a_namespace_uses_the_default_pod_namespace() {
        let mut pj = presubmit();
        pj.spec.namespace.clear();
        let pod = build_pod(&pj, "1", "test-pods-default").unwrap();
        assert_eq!(pod.metadata.namespace.as_deref(), Some("test-pods-default"));
        assert_eq!(pj.pod_namespace("test-pods-default"), "test-pods-default");
    }
}
