//! Our pods against the golden pods of Prow's own decoration tests.
//!
//! Each case rebuilds the input of an upstream test case in `pkg/pod-utils/decorate/podspec_test.go`
//! (kubernetes-sigs/prow a61940897) and compares our output with the YAML that test checks
//! against (vendored in `tests/fixtures/decorate/`, see the README there), field by field:
//!
//! - `TestProwJobToPod` cases 0-10: [`build_pod`] on the ProwJob;
//! - `TestDecorate` cases: [`decorate::decorate`] on a bare pod spec with upstream's raw env;
//! - `TestSidecar` cases: [`decorate::sidecar`].
//!
//! Both sides are read as JSON values and normalized for what Go's encoder writes but a
//! Kubernetes API server reads the same as absent: `null`s, `resources: {}` and `status: {}`
//! (non-pointer structs), and `value: ""` on env vars (`omitempty`). The option documents
//! (`*_OPTIONS`) and `JOB_SPEC` must be byte-identical to upstream's strings, since both
//! sides write Go's key order; on a mismatch the diff shows them parsed.
//!
//! Not covered upstream cases: `TestProwJobToPod_setsTerminationGracePeriodSeconds` has no
//! golden file (its two expectations are asserted in
//! `termination_grace_period_is_five_fourths_of_the_grace_period_unless_set` below), and
//! `TestCloneRefs` compares Go structs built inline, not a golden file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm, PodSpec,
    PreferredSchedulingTerm, ResourceRequirements, SecretVolumeSource, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use prow_core::prowjob::{
    DecorationConfig, GcsConfiguration, GoDuration, ProwJob, ProwJobAgent, ProwJobSpec,
    ProwJobType, Pull, Refs, Resources, SchedulingOptions, UtilityImages,
};
use prow_plank::decorate::{self, SidecarSpec};
use prow_plank::pod::build_pod;
use prow_podutils::options::{GcsOptions, WrapperOptions};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Comparison

const JSON_ENV_VARS: [&str; 5] = [
    "CLONEREFS_OPTIONS",
    "INITUPLOAD_OPTIONS",
    "ENTRYPOINT_OPTIONS",
    "SIDECAR_OPTIONS",
    "JOB_SPEC",
];

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/decorate")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Drops what Go writes for zero values that mean "unset" (see the module doc).
fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| {
                !(v.is_null()
                    || (matches!(key.as_str(), "resources" | "status")
                        && v.as_object().is_some_and(serde_json::Map::is_empty)))
            });
            if let Some(env) = map.get_mut("env").and_then(Value::as_array_mut) {
                for var in env.iter_mut().filter_map(Value::as_object_mut) {
                    if var.get("value").and_then(Value::as_str) == Some("") {
                        var.remove("value");
                    }
                }
            }
            map.values_mut().for_each(normalize);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Every path at which `got` differs from `want`, with both values.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let p = format!("{path}.{key}");
                match g.get(key) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: missing, want {wv}")),
                }
            }
            for (key, gv) in g {
                if !w.contains_key(key) {
                    out.push(format!("{path}.{key}: unexpected {gv}"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
            if w.len() != g.len() {
                out.push(format!(
                    "{path}: {} items, want {}; extra: {}",
                    g.len(),
                    w.len(),
                    if g.len() > w.len() {
                        Value::from(g[w.len()..].to_vec())
                    } else {
                        Value::from(w[g.len()..].to_vec())
                    }
                ));
            }
        }
        (Value::String(w), Value::String(g)) if w != g && is_json_env(path) => {
            match (
                serde_json::from_str::<Value>(w),
                serde_json::from_str::<Value>(g),
            ) {
                (Ok(wj), Ok(gj)) => {
                    let before = out.len();
                    diff(&format!("{path}<json>"), &wj, &gj, out);
                    if out.len() == before {
                        out.push(format!(
                            "{path}: same JSON, different text (key order?)\n  want {w}\n  got  {g}"
                        ));
                    }
                }
                _ => out.push(format!("{path}:\n  want {w}\n  got  {g}")),
            }
        }
        _ if want != got => out.push(format!("{path}: got {got}, want {want}")),
        _ => {}
    }
}

/// The path is the value of an env var holding JSON; known from the sibling `name`, so the
/// check is done by the caller: see [`compare`] which tags such paths.
fn is_json_env(path: &str) -> bool {
    JSON_ENV_VARS
        .iter()
        .any(|name| path.ends_with(&format!("<{name}>.value")))
}

/// Renames `env[i]` path segments to `env<NAME>` so diffs (and [`is_json_env`]) name the var.
fn tag_env_names(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(env)) = map.remove("env") {
                let tagged: serde_json::Map<String, Value> = env
                    .into_iter()
                    .enumerate()
                    .map(|(i, var)| {
                        let name = var["name"].as_str().unwrap_or("").to_owned();
                        (format!("{i:02}<{name}>"), var)
                    })
                    .collect();
                map.insert("env".into(), Value::Object(tagged));
            }
            map.values_mut().for_each(tag_env_names);
        }
        Value::Array(items) => items.iter_mut().for_each(tag_env_names),
        _ => {}
    }
}

fn differences(mut want: Value, mut got: Value) -> Vec<String> {
    for v in [&mut want, &mut got] {
        normalize(v);
        tag_env_names(v);
    }
    let mut out = Vec::new();
    diff("", &want, &got, &mut out);
    out
}

#[track_caller]
fn compare(fixture_name: &str, got: Value) {
    let out = differences(fixture(fixture_name), got);
    assert!(
        out.is_empty(),
        "{fixture_name}: {} difference(s):\n{}",
        out.len(),
        out.join("\n")
    );
}

#[test]
fn the_comparison_reports_each_difference_by_path() {
    // Case 2 differs from case 1 in the pull's head ref, the cookiefile key and media types.
    let out = differences(
        fixture("TestProwJobToPod_1.yaml"),
        prowjob_to_pod(&prowjob_to_pod_case(2)),
    );
    let has = |needle: &str| out.iter().any(|line| line.contains(needle));
    assert!(
        has(".spec.initContainers[0].args[0]: got \"--cookiefile=/secrets/cookiefile/yummy\""),
        "{out:#?}"
    );
    assert!(
        has(".spec.initContainers[0].env.00<CLONEREFS_OPTIONS>.value<json>.cookie_path"),
        "{out:#?}"
    );
    assert!(
        has("<PULL_HEAD_REF>.value: got \"fix-typos-99\", want \"my-big-change\""),
        "{out:#?}"
    );
    assert!(
        has("<SIDECAR_OPTIONS>.value<json>.gcs_options.mediaTypes: missing"),
        "{out:#?}"
    );

    // Same document, other key order: still a difference.
    let env =
        |value: &str| serde_json::json!({"env": [{"name": "ENTRYPOINT_OPTIONS", "value": value}]});
    let out = differences(
        env(r#"{"timeout":1,"grace_period":2}"#),
        env(r#"{"grace_period":2,"timeout":1}"#),
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert!(out[0].contains("same JSON, different text"), "{out:#?}");

    // What Go writes for unset fields is not a difference.
    let go = serde_json::json!({"metadata": {"creationTimestamp": null}, "status": {},
        "spec": {"containers": [{"resources": {}, "env": [{"name": "A"}]}]}});
    let ours = serde_json::json!({"metadata": {}, "spec": {"containers": [{"env": [{"name": "A", "value": ""}]}]}});
    assert_eq!(differences(go, ours), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// TestProwJobToPod

fn duration(text: &str) -> GoDuration {
    text.parse().expect("valid duration")
}

fn quantity(text: &str) -> Quantity {
    Quantity(text.into())
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// The decoration config every decorated `TestProwJobToPod` case starts from.
fn decoration(media_types: bool) -> DecorationConfig {
    DecorationConfig {
        timeout: Some(duration("120m")),
        grace_period: Some(duration("10s")),
        utility_images: Some(UtilityImages {
            clonerefs: "clonerefs:tag".into(),
            initupload: "initupload:tag".into(),
            entrypoint: "entrypoint:tag".into(),
            sidecar: "sidecar:tag".into(),
        }),
        gcs_configuration: Some(GcsConfiguration {
            bucket: "my-bucket".into(),
            path_strategy: "legacy".into(),
            default_org: "kubernetes".into(),
            default_repo: "kubernetes".into(),
            media_types: if media_types {
                BTreeMap::from([("log".into(), "text/plain".into())])
            } else {
                BTreeMap::new()
            },
            ..GcsConfiguration::default()
        }),
        ..DecorationConfig::default()
    }
}

fn with_gcs_secret(dc: DecorationConfig) -> DecorationConfig {
    DecorationConfig {
        gcs_credentials_secret: Some("secret-name".into()),
        ..dc
    }
}

fn refs(head_ref: &str, title: &str, path_alias: &str) -> Refs {
    Refs {
        path_alias: path_alias.into(),
        ..Refs::new("org-name", "repo-name")
            .base("base-ref", "base-sha")
            .pull(Pull {
                head_ref: head_ref.into(),
                title: title.into(),
                ..Pull::new(1, "author-name", "pull-sha")
            })
    }
}

fn tester(name: &str, image: &str, command: &[&str], args: &[&str], my_env: &str) -> Container {
    let strings = |s: &[&str]| (!s.is_empty()).then(|| s.iter().map(|s| (*s).into()).collect());
    Container {
        name: name.into(),
        image: Some(image.into()),
        command: strings(command),
        args: strings(args),
        env: Some(vec![env("MY_ENV", my_env)]),
        ..Container::default()
    }
}

fn thing() -> Container {
    tester("", "tester", &["/bin/thing"], &["some", "args"], "rocks")
}

fn prowjob(spec: ProwJobSpec) -> ProwJob {
    let mut pj = ProwJob::new("pod", spec);
    pj.metadata.labels = Some(BTreeMap::from([("needstobe".into(), "inherited".into())]));
    pj.status.build_id = "blabla".into();
    pj
}

fn job_spec(
    type_: ProwJobType,
    refs: Option<Refs>,
    extra_refs: Vec<Refs>,
    decoration: Option<DecorationConfig>,
    containers: Vec<Container>,
) -> ProwJobSpec {
    ProwJobSpec {
        type_,
        job: "job-name".into(),
        context: "job-context".into(),
        agent: Some(ProwJobAgent::Kubernetes),
        refs,
        extra_refs,
        decoration_config: decoration,
        pod_spec: Some(PodSpec {
            containers,
            ..PodSpec::default()
        }),
        ..ProwJobSpec::default()
    }
}

fn presubmit(refs: Refs, decoration: DecorationConfig) -> ProwJobSpec {
    job_spec(
        ProwJobType::Presubmit,
        Some(refs),
        Vec::new(),
        Some(decoration),
        vec![thing()],
    )
}

fn extra_repo() -> Refs {
    Refs::new("extra-org", "extra-repo")
}

fn ssh_keys(dc: DecorationConfig) -> DecorationConfig {
    DecorationConfig {
        ssh_key_secrets: vec!["ssh-1".into(), "ssh-2".into()],
        ..dc
    }
}

fn security(dc: DecorationConfig) -> DecorationConfig {
    DecorationConfig {
        run_as_group: Some(1000),
        run_as_user: Some(1000),
        fs_group: Some(2000),
        ..dc
    }
}

fn default_sa_with_cookie(dc: DecorationConfig) -> DecorationConfig {
    DecorationConfig {
        default_service_account_name: Some("default-SA".into()),
        cookiefile_secret: Some("yummy/.gitcookies".into()),
        ..dc
    }
}

/// The input ProwJob of upstream's `TestProwJobToPod/<n>`.
fn prowjob_to_pod_case(n: usize) -> ProwJob {
    let alias = "somewhere/else";
    let spec = match n {
        0 => job_spec(
            ProwJobType::Presubmit,
            Some(refs("pull-branch-name", "pull-title", "")),
            Vec::new(),
            None,
            vec![tester("", "tester", &[], &[], "rocks")],
        ),
        1 => presubmit(
            refs("my-big-change", "pull-title", alias),
            DecorationConfig {
                cookiefile_secret: Some("yummy/.gitcookies".into()),
                ..with_gcs_secret(decoration(true))
            },
        ),
        2 => presubmit(
            refs("fix-typos-99", "pull-title", alias),
            DecorationConfig {
                cookiefile_secret: Some("yummy".into()),
                ..with_gcs_secret(decoration(false))
            },
        ),
        3 => {
            let mut spec = presubmit(
                refs("fixes-fixes-fixes", "pull-title", alias),
                DecorationConfig {
                    ssh_host_fingerprints: vec!["hello".into(), "world".into()],
                    ..ssh_keys(with_gcs_secret(decoration(false)))
                },
            );
            if let Some(pod) = spec.pod_spec.as_mut() {
                pod.containers[0].termination_message_policy = Some("File".into());
            }
            spec
        }
        4 => presubmit(
            refs("fixes-9", "pull-title", alias),
            ssh_keys(with_gcs_secret(decoration(false))),
        ),
        5 => job_spec(
            ProwJobType::Periodic,
            None,
            Vec::new(),
            Some(ssh_keys(with_gcs_secret(decoration(false)))),
            vec![thing()],
        ),
        6 => job_spec(
            ProwJobType::Presubmit,
            Some(refs("best-branch-name", "pull-title", alias)),
            vec![extra_repo()],
            Some(DecorationConfig {
                skip_cloning: Some(true),
                ..ssh_keys(with_gcs_secret(decoration(false)))
            }),
            vec![thing()],
        ),
        7 => job_spec(
            ProwJobType::Presubmit,
            Some(refs("pr-head-ref-11", "pull-title", alias)),
            vec![extra_repo()],
            Some(DecorationConfig {
                cookiefile_secret: Some("yummy".into()),
                ..ssh_keys(with_gcs_secret(decoration(false)))
            }),
            vec![
                tester(
                    "test-0",
                    "tester",
                    &["/bin/thing"],
                    &["some", "args"],
                    "rocks",
                ),
                tester(
                    "test-1",
                    "othertester",
                    &["/bin/otherthing"],
                    &["other", "args"],
                    "stones",
                ),
            ],
        ),
        8 => presubmit(
            refs("orig-branch-name", "pull-title", alias),
            default_sa_with_cookie(decoration(true)),
        ),
        9 => presubmit(
            refs("orig-branch-name", "pull-title", alias),
            security(default_sa_with_cookie(decoration(true))),
        ),
        10 => presubmit(
            refs("orig-branch-name", "", alias),
            DecorationConfig {
                scheduling_options: Some(SchedulingOptions {
                    tolerations: vec![Toleration {
                        key: Some("prow.k8s.io/schedulable".into()),
                        effect: Some("NoSchedule".into()),
                        operator: Some("Exists".into()),
                        ..Toleration::default()
                    }],
                    affinity: Some(Affinity {
                        node_affinity: Some(NodeAffinity {
                            preferred_during_scheduling_ignored_during_execution: Some(vec![
                                PreferredSchedulingTerm {
                                    weight: 10,
                                    preference: NodeSelectorTerm {
                                        match_expressions: Some(vec![NodeSelectorRequirement {
                                            key: "node-type".into(),
                                            values: Some(vec!["prowjobs".into()]),
                                            operator: "In".into(),
                                        }]),
                                        ..NodeSelectorTerm::default()
                                    },
                                },
                            ]),
                            ..NodeAffinity::default()
                        }),
                        ..Affinity::default()
                    }),
                }),
                ..security(default_sa_with_cookie(decoration(true)))
            },
        ),
        _ => unreachable!("upstream has cases 0 to 10"),
    };
    prowjob(spec)
}

/// Our pod as upstream's `ProwJobToPod` returns it: without the namespace and the
/// `plank-version` label, which upstream's plank (like ours) adds after `ProwJobToPod`, and
/// without `apiVersion`/`kind`, which k8s-openapi always writes and Go's client adds on create.
fn prowjob_to_pod(pj: &ProwJob) -> Value {
    let pod = build_pod(pj, &pj.status.build_id, "default").expect("pod");
    let mut got = serde_json::to_value(&pod).expect("pod as JSON");
    let object = got.as_object_mut().expect("pod object");
    object.remove("apiVersion");
    object.remove("kind");
    let metadata = got["metadata"].as_object_mut().expect("metadata");
    metadata.remove("namespace");
    if let Some(labels) = metadata.get_mut("labels").and_then(Value::as_object_mut) {
        labels.remove("prow.k8s.io/plank-version");
    }
    got
}

macro_rules! prowjob_to_pod_cases {
    ($($test:ident => $n:literal,)*) => {$(
        #[test]
        fn $test() {
            compare(
                concat!("TestProwJobToPod_", $n, ".yaml"),
                prowjob_to_pod(&prowjob_to_pod_case($n)),
            );
        }
    )*};
}

prowjob_to_pod_cases! {
    prowjob_to_pod_0_undecorated => 0,
    prowjob_to_pod_1_cookiefile_with_key_and_media_types => 1,
    prowjob_to_pod_2_cookiefile_without_key => 2,
    prowjob_to_pod_3_ssh_keys_host_fingerprints_own_termination_policy => 3,
    prowjob_to_pod_4_ssh_keys => 4,
    prowjob_to_pod_5_periodic_without_refs => 5,
    prowjob_to_pod_6_skip_cloning => 6,
    prowjob_to_pod_7_two_test_containers_and_extra_refs => 7,
    prowjob_to_pod_8_default_service_account_no_gcs_secret => 8,
    prowjob_to_pod_9_security_context => 9,
    prowjob_to_pod_10_scheduling_options => 10,
}

// ---------------------------------------------------------------------------------------------
// TestDecorate

fn zero_resources() -> Option<ResourceRequirements> {
    Some(ResourceRequirements {
        limits: Some(BTreeMap::from([("cpu".into(), quantity("0"))])),
        requests: Some(BTreeMap::from([("memory".into(), quantity("0"))])),
        ..ResourceRequirements::default()
    })
}

fn decorate_case_job(edit: impl FnOnce(&mut DecorationConfig)) -> ProwJob {
    let mut dc = DecorationConfig {
        timeout: Some(duration("1m")),
        grace_period: Some(duration("1h")),
        utility_images: Some(UtilityImages {
            clonerefs: "cloneimage".into(),
            initupload: "initimage".into(),
            entrypoint: "entrypointimage".into(),
            sidecar: "sidecarimage".into(),
        }),
        resources: Some(Resources {
            clonerefs: zero_resources(),
            initupload: zero_resources(),
            place_entrypoint: zero_resources(),
            sidecar: zero_resources(),
        }),
        gcs_configuration: Some(GcsConfiguration {
            bucket: "bucket".into(),
            path_strategy: "single".into(),
            default_org: "org".into(),
            default_repo: "repo".into(),
            ..GcsConfiguration::default()
        }),
        gcs_credentials_secret: Some("gcs-secret".into()),
        default_service_account_name: Some("default-sa".into()),
        ..DecorationConfig::default()
    };
    edit(&mut dc);
    ProwJob::new(
        "",
        ProwJobSpec {
            decoration_config: Some(dc),
            refs: Some(
                Refs::new("org", "repo")
                    .base("main", "abcd1234")
                    .pull(Pull::new(1, "", "aksdjhfkds")),
            ),
            extra_refs: vec![Refs::new("other", "something").base("release", "sldijfsd")],
            ..ProwJobSpec::default()
        },
    )
}

fn ls(name: &str) -> Container {
    Container {
        name: name.into(),
        command: Some(vec!["/bin/ls".into()]),
        args: Some(vec!["-l".into(), "-a".into()]),
        ..Container::default()
    }
}

fn with_secret_volume() -> PodSpec {
    PodSpec {
        volumes: Some(vec![Volume {
            name: "secret".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some("secretname".into()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        containers: vec![Container {
            volume_mounts: Some(vec![VolumeMount {
                name: "secret".into(),
                mount_path: "/secret".into(),
                ..VolumeMount::default()
            }]),
            ..ls("test")
        }],
        service_account_name: Some("tester".into()),
        ..PodSpec::default()
    }
}

fn memory_hungry(name: &str) -> Container {
    Container {
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("memory".into(), quantity("8Gi"))])),
            limits: Some(BTreeMap::from([("memory".into(), quantity("100Gi"))])),
            ..ResourceRequirements::default()
        }),
        ..ls(name)
    }
}

fn decorated_spec(mut spec: PodSpec, pj: &ProwJob) -> Value {
    let raw_env = BTreeMap::from([("custom".to_owned(), "env".to_owned())]);
    decorate::decorate(&mut spec, pj, raw_env).expect("decorate");
    serde_json::to_value(&spec).expect("spec as JSON")
}

#[test]
fn decorate_basic_happy_case() {
    let pj = decorate_case_job(|_| {});
    compare(
        "zz_fixture_TestDecorate_basic_happy_case.yaml",
        decorated_spec(with_secret_volume(), &pj),
    );
}

#[test]
fn decorate_enforcing_memory_limit() {
    let pj = decorate_case_job(|dc| dc.set_limit_equals_memory_request = Some(true));
    let spec = PodSpec {
        containers: vec![memory_hungry("test")],
        service_account_name: Some("tester".into()),
        ..PodSpec::default()
    };
    compare(
        "zz_fixture_TestDecorate_enforcing_memory_limit.yaml",
        decorated_spec(spec, &pj),
    );
}

#[test]
fn decorate_default_memory_request() {
    let pj = decorate_case_job(|dc| {
        dc.set_limit_equals_memory_request = Some(true);
        dc.default_memory_request = Some(quantity("4Gi"));
    });
    let spec = PodSpec {
        containers: vec![memory_hungry("test"), ls("test2")],
        service_account_name: Some("tester".into()),
        ..PodSpec::default()
    };
    compare(
        "zz_fixture_TestDecorate_default_memory_request.yaml",
        decorated_spec(spec, &pj),
    );
}

#[test]
fn decorate_censor_secrets_in_sidecar() {
    let pj = decorate_case_job(|dc| dc.censor_secrets = Some(true));
    compare(
        "zz_fixture_TestDecorate_censor_secrets_in_sidecar.yaml",
        decorated_spec(with_secret_volume(), &pj),
    );
}

#[test]
fn decorate_ignore_interrupts_in_sidecar() {
    let pj = decorate_case_job(|dc| dc.upload_ignores_interrupts = Some(true));
    compare(
        "zz_fixture_TestDecorate_ignore_interrupts_in_sidecar.yaml",
        decorated_spec(with_secret_volume(), &pj),
    );
}

// ---------------------------------------------------------------------------------------------
// TestSidecar

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

fn sidecar_case(secret_volume_mounts: Vec<VolumeMount>) -> Value {
    let config = DecorationConfig {
        utility_images: Some(UtilityImages {
            sidecar: "sidecar-image".into(),
            ..UtilityImages::default()
        }),
        ..DecorationConfig::default()
    };
    let container = decorate::sidecar(SidecarSpec {
        config: &config,
        job: String::new(),
        gcs_options: GcsOptions {
            items: vec!["first".into(), "second".into()],
            ..GcsOptions::new(GcsConfiguration {
                bucket: "bucket".into(),
                ..GcsConfiguration::default()
            })
        },
        blob_storage_mounts: vec![mount("blob", "/blob")],
        log_mount: mount("logs", "/logs"),
        output_mount: Some(mount("outputs", "/outputs")),
        job_spec: "spec".into(),
        require_passing_entries: true,
        ignore_interrupts: true,
        secret_volume_mounts,
        entries: vec![WrapperOptions {
            args: vec!["yes".into()],
            ..WrapperOptions::default()
        }],
    })
    .expect("sidecar");
    serde_json::to_value(&container).expect("container as JSON")
}

#[test]
fn sidecar_basic_case() {
    compare(
        "zz_fixture_TestSidecar_basic_case.yaml",
        sidecar_case(Vec::new()),
    );
}

#[test]
fn sidecar_with_secrets() {
    compare(
        "zz_fixture_TestSidecar_with_secrets.yaml",
        sidecar_case(vec![
            mount("very", "/very"),
            mount("secret", "/secret"),
            mount("stuff", "/stuff"),
        ]),
    );
}

// ---------------------------------------------------------------------------------------------
// TestProwJobToPod_setsTerminationGracePeriodSeconds (no golden file upstream)

#[test]
fn termination_grace_period_is_five_fourths_of_the_grace_period_unless_set() {
    let job = |dc: DecorationConfig| {
        ProwJob::new(
            "",
            ProwJobSpec {
                decoration_config: Some(DecorationConfig {
                    utility_images: Some(UtilityImages::default()),
                    ..dc
                }),
                ..ProwJobSpec::default()
            },
        )
    };
    let one_container = || PodSpec {
        containers: vec![Container::default()],
        ..PodSpec::default()
    };

    let mut spec = one_container();
    let from_grace = job(DecorationConfig {
        grace_period: Some(duration("10s")),
        ..DecorationConfig::default()
    });
    decorate::decorate(&mut spec, &from_grace, BTreeMap::new()).expect("decorate");
    assert_eq!(spec.termination_grace_period_seconds, Some(12));

    let mut spec = PodSpec {
        termination_grace_period_seconds: Some(60),
        ..one_container()
    };
    let kept = job(DecorationConfig {
        timeout: Some(duration("10s")),
        ..DecorationConfig::default()
    });
    decorate::decorate(&mut spec, &kept, BTreeMap::new()).expect("decorate");
    assert_eq!(spec.termination_grace_period_seconds, Some(60));
}
