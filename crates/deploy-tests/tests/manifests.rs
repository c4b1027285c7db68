//! Validates every manifest `kubectl apply --server-side -k .` would send against the real CRD schemas and checks the references between them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use k8s_openapi::ByteString;
use prow_local::schema::{CrdSchema, Schema};
use serde::Deserialize;
use serde_json::{Value, json};

const NAMESPACE: &str = "prow";
const FUNCTIONS: [&str; 8] = [
    "hook",
    "trigger",
    "plugins",
    "plank",
    "crier",
    "sinker",
    "horologium",
    "deck",
];
/// Functions reachable from outside the cluster: GitHub calls hook, people open Deck.
const PUBLIC: [&str; 2] = ["hook", "deck"];

/// What each function calls on the Kubernetes API: (namespace, API group, resource, verbs).
/// Granted RBAC must equal this exactly: missing verbs break the function, extra ones are
/// privileges nobody asked for.
type Need = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);
const RBAC: [(&str, &[Need]); 16] = [
    ("hook", &[]),
    (
        "plugins",
        &[("prow", "prow.k8s.io", "prowjobs", &["create"])],
    ),
    ("needs-rebase", &[]),
    ("cherrypicker", &[]),
    ("branchprotector", &[]),
    ("redelivery", &[]),
    ("ghproxy", &[]),
    (
        "config-updater",
        &[("prow", "", "configmaps", &["get", "create", "update"])],
    ),
    (
        "status-reconciler",
        &[
            ("prow", "prow.k8s.io", "prowjobs", &["create"]),
            ("prow", "", "configmaps", &["get", "create", "update"]),
        ],
    ),
    (
        "tide",
        &[
            (
                "prow",
                "prow.k8s.io",
                "prowjobs",
                &["get", "list", "create"],
            ),
            (
                "prow",
                "",
                "configmaps",
                &["get", "list", "create", "update"],
            ),
        ],
    ),
    (
        "trigger",
        &[
            (
                "prow",
                "prow.k8s.io",
                "prowjobs",
                &["create", "get", "list", "update"],
            ),
            ("prow", "prow.k8s.io", "prowjobs/status", &["update"]),
        ],
    ),
    (
        "plank",
        &[
            (
                "prow",
                "prow.k8s.io",
                "prowjobs",
                &["get", "list", "watch", "update"],
            ),
            ("prow", "prow.k8s.io", "prowjobs/status", &["get", "update"]),
            (
                "test-pods",
                "",
                "pods",
                &["create", "get", "list", "watch", "delete"],
            ),
        ],
    ),
    (
        "crier",
        &[
            (
                "prow",
                "prow.k8s.io",
                "prowjobs",
                &["get", "list", "update"],
            ),
            ("prow", "prow.k8s.io", "prowjobs/status", &["update"]),
            // podinfo.json: the finished job's pod and its events.
            ("test-pods", "", "pods", &["get"]),
            ("test-pods", "", "events", &["list"]),
        ],
    ),
    (
        "sinker",
        &[
            (
                "prow",
                "prow.k8s.io",
                "prowjobs",
                &["get", "list", "delete"],
            ),
            ("test-pods", "", "pods", &["list", "delete"]),
        ],
    ),
    (
        "horologium",
        &[("prow", "prow.k8s.io", "prowjobs", &["list", "create"])],
    ),
    (
        "deck",
        &[
            (
                "prow",
                "prow.k8s.io",
                "prowjobs",
                &["get", "list", "watch", "create", "update"],
            ),
            ("prow", "prow.k8s.io", "prowjobs/status", &["update"]),
            // Tide's merge-pool index, for /tide, /tide-history and /pr.
            ("prow", "", "configmaps", &["list"]),
            ("test-pods", "", "pods/log", &["get"]),
        ],
    ),
];

/// Secrets the operator creates (docs/deploy.md) and the keys the functions read from them.
const SECRETS: [(&str, &[&str]); 3] = [
    ("hmac-token", &["hmac"]),
    ("github-token", &["cert"]),
    ("gcs-credentials", &["service-account.json"]),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schemas_dir() -> PathBuf {
    std::env::var_os("PROW_SCHEMAS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| prow_testdata::testdata().join("schemas"))
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn kubectl() -> Option<PathBuf> {
    prow_testdata::find_counterpart("kubectl", None)
}

/// The objects of a kustomization, read without kustomize: `resources` (files and directories,
/// recursively) plus `configMapGenerator` ConfigMaps under their plain names. Used when kubectl
/// is missing, and to cross-check kubectl's rendering.
fn load_kustomization(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    let kustomization: Value = serde_norway::from_str(&text).unwrap();
    let mut objects = Vec::new();
    for resource in kustomization["resources"].as_array().into_iter().flatten() {
        let path = dir.join(resource.as_str().unwrap());
        if path.is_dir() {
            objects.extend(load_kustomization(&path));
        } else {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            objects.extend(yaml_documents(&text));
        }
    }
    for generator in kustomization["configMapGenerator"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // As kustomize does: text files go to `data`, anything else (the snapshot) to `binaryData`.
        let mut data = serde_json::Map::new();
        let mut binary_data = serde_json::Map::new();
        for file in generator["files"].as_array().into_iter().flatten() {
            let path = dir.join(file.as_str().unwrap());
            let key = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let previous = match String::from_utf8(bytes) {
                Ok(text) => data.insert(key.clone(), json!(text)),
                Err(binary) => binary_data.insert(
                    key.clone(),
                    serde_json::to_value(ByteString(binary.into_bytes())).unwrap(),
                ),
            };
            assert!(previous.is_none(), "two files named {key} in one ConfigMap");
        }
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": generator["name"], "namespace": generator["namespace"]},
            "data": data,
            "binaryData": binary_data,
        }));
    }
    objects
}

/// `kubectl kustomize .` output: what `kubectl apply --server-side -k .` sends, hashes and images included.
fn render_with_kubectl(kubectl: &Path) -> Vec<Value> {
    let output = Command::new(kubectl)
        .arg("kustomize")
        .arg(repo_root())
        .output()
        .expect("run kubectl");
    assert!(
        output.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut objects = yaml_documents(&String::from_utf8(output.stdout).unwrap());
    // kustomize wraps binaryData's base64 at 70 columns; the API server's Go decoder skips line
    // breaks, the Rust one does not, so unwrap it as the server would read it.
    for object in &mut objects {
        if let Some(binary) = object.get_mut("binaryData").and_then(Value::as_object_mut) {
            for encoded in binary.values_mut() {
                let joined: String = encoded
                    .as_str()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                *encoded = json!(joined);
            }
        }
    }
    objects
}

/// Every object of the deployment: kubectl's rendering when kubectl exists, else the raw files.
fn objects() -> &'static [Value] {
    static OBJECTS: OnceLock<Vec<Value>> = OnceLock::new();
    OBJECTS.get_or_init(|| match kubectl() {
        Some(kubectl) => render_with_kubectl(&kubectl),
        None => {
            eprintln!("kubectl not found: validating the raw manifests without kustomize");
            load_kustomization(&repo_root())
        }
    })
}

fn kind_of(o: &Value) -> (&str, &str) {
    (
        o["apiVersion"].as_str().unwrap_or_default(),
        o["kind"].as_str().unwrap_or_default(),
    )
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace_of(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn find<'a>(api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<&'a Value> {
    objects().iter().find(|o| {
        kind_of(o) == (api_version, kind) && namespace_of(o) == namespace && name_of(o) == name
    })
}

fn all<'a>(api_version: &'a str, kind: &'a str) -> impl Iterator<Item = &'static Value> + 'a {
    objects()
        .iter()
        .filter(move |o| kind_of(o) == (api_version, kind))
}

/// The structural schema of each custom kind, from the CRDs in testdata/schemas.
fn crd_schemas() -> &'static BTreeMap<(String, String), CrdSchema> {
    static SCHEMAS: OnceLock<BTreeMap<(String, String), CrdSchema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let dir = schemas_dir();
        let files = [
            (
                "serving.knative.dev/v1",
                "Service",
                "knative-serving/service.yaml",
            ),
            (
                "eventing.knative.dev/v1",
                "Broker",
                "knative-eventing/broker.yaml",
            ),
            (
                "eventing.knative.dev/v1",
                "Trigger",
                "knative-eventing/trigger.yaml",
            ),
            (
                "sources.knative.dev/v1",
                "PingSource",
                "knative-eventing/pingsource.yaml",
            ),
            (
                "sources.knative.dev/v1",
                "ApiServerSource",
                "knative-eventing/apiserversource.yaml",
            ),
            (
                "sources.knative.dev/v1",
                "SinkBinding",
                "knative-eventing/sinkbindings.yaml",
            ),
        ];
        let mut schemas: BTreeMap<_, _> = files
            .into_iter()
            .map(|(api_version, kind, file)| {
                let path = dir.join(file);
                let yaml = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let schema = CrdSchema::from_crd_yaml(&yaml, "v1").unwrap();
                ((api_version.to_string(), kind.to_string()), schema)
            })
            .collect();
        let prowjob: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("prowjob-v1-openapi.json")).unwrap(),
        )
        .unwrap();
        schemas.insert(
            ("prow.k8s.io/v1".into(), "ProwJob".into()),
            CrdSchema {
                schema: Schema::from_json(&prowjob).unwrap(),
                openapi: prowjob,
            },
        );
        schemas
    })
}

/// Schema violations and unknown (would-be-pruned) fields of one object; empty when valid.
fn schema_problems(schema: &Schema, object: &Value) -> Vec<String> {
    let mut copy = object.clone();
    let outcome = schema.validate(&mut copy);
    let mut problems: Vec<String> = outcome.causes.iter().map(|c| c.describe()).collect();
    problems.extend(outcome.pruned.iter().map(|p| format!("{p}: unknown field")));
    problems
}

/// Core kinds go through k8s-openapi's types and back: a wrong type fails to deserialize and an
/// unknown field is lost in the round trip.
fn core_problems(object: &Value) -> Option<Vec<String>> {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, ServiceAccount};
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(o: &Value) -> Vec<String> {
        match serde_json::from_value::<T>(o.clone()) {
            Err(e) => vec![e.to_string()],
            Ok(typed) => {
                let back = serde_json::to_value(&typed).unwrap();
                if &back == o {
                    vec![]
                } else {
                    vec![format!(
                        "fields lost in a round trip through the API type: {back} != {o}"
                    )]
                }
            }
        }
    }
    Some(match kind_of(object) {
        ("v1", "ConfigMap") => round_trip::<ConfigMap>(object),
        ("v1", "Namespace") => round_trip::<Namespace>(object),
        ("v1", "ServiceAccount") => round_trip::<ServiceAccount>(object),
        ("v1", "PersistentVolumeClaim") => round_trip::<PersistentVolumeClaim>(object),
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<Role>(object),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<ClusterRole>(object),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<RoleBinding>(object),
        ("networking.k8s.io/v1", "NetworkPolicy") => round_trip::<NetworkPolicy>(object),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            match serde_json::from_value::<CustomResourceDefinition>(object.clone()) {
                Ok(_) => vec![],
                Err(e) => vec![e.to_string()],
            }
        }
        _ => return None,
    })
}

#[test]
fn every_manifest_matches_its_schema() {
    let mut problems = Vec::new();
    for object in objects() {
        let (api_version, kind) = kind_of(object);
        let id = format!("{kind} {}/{}", namespace_of(object), name_of(object));
        if name_of(object).is_empty() {
            problems.push(format!("{id}: no metadata.name"));
        }
        let found = match crd_schemas().get(&(api_version.to_string(), kind.to_string())) {
            Some(crd) => schema_problems(&crd.schema, object),
            None => match core_problems(object) {
                Some(found) => found,
                None => {
                    problems.push(format!(
                        "{id}: {api_version} {kind} has no schema to check it against"
                    ));
                    continue;
                }
            },
        };
        problems.extend(found.into_iter().map(|p| format!("{id}: {p}")));
    }
    assert!(
        problems.is_empty(),
        "invalid manifests:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_validator_rejects_broken_manifests() {
    let service = find("serving.knative.dev/v1", "Service", NAMESPACE, "plank").unwrap();
    let schema =
        &crd_schemas()[&("serving.knative.dev/v1".to_string(), "Service".to_string())].schema;
    assert_eq!(schema_problems(schema, service), Vec::<String>::new());

    let mut typo = service.clone();
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = json!({});
    let mut wrong_type = service.clone();
    wrong_type["spec"]["template"]["spec"]["containerConcurrency"] = json!("ten");
    let mut no_image_list = service.clone();
    no_image_list["spec"]["template"]["spec"]["containers"] = json!({"image": "x"});
    for broken in [typo, wrong_type, no_image_list] {
        assert!(
            !schema_problems(schema, &broken).is_empty(),
            "accepted {broken}"
        );
    }

    let mut role = find(
        "rbac.authorization.k8s.io/v1",
        "Role",
        NAMESPACE,
        "prow-plank",
    )
    .unwrap()
    .clone();
    assert_eq!(core_problems(&role), Some(vec![]));
    role["rules"][0]["verb"] = json!(["get"]);
    assert_ne!(core_problems(&role), Some(vec![]));
}

/// The deployment mounts the compiled snapshot, so it must be the YAML beside it, compiled by
/// this build: an edit to config/ without `prow config compile` would silently not ship.
#[test]
fn the_mounted_snapshot_is_the_example_config_compiled() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = load_mounted_config(dir.path());
    let config_dir = repo_root().join("config");
    let yaml = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path: config_dir.join("config.yaml"),
        job_config_path: Some(config_dir.join("jobs")),
        plugin_config_path: Some(config_dir.join("plugins.yaml")),
    })
    .unwrap_or_else(|e| panic!("config/ does not load: {e}"))
    .config;
    // Jobs remember the path they were read from, which differs with the working directory.
    fn without_sources(config: &prow_core::config::Config) -> Value {
        fn strip(value: &mut Value) {
            match value {
                Value::Object(map) => {
                    map.remove("source");
                    map.values_mut().for_each(strip);
                }
                Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut value = serde_json::to_value(config).unwrap();
        strip(&mut value);
        value
    }
    assert!(
        without_sources(&mounted) == without_sources(&yaml),
        "config/config.snapshot is stale; run: prow config compile --config-path config/config.yaml \\
         --job-config-path config/jobs --plugin-config config/plugins.yaml -o config/config.snapshot"
    );
}

/// The one apply command every doc and comment gives, and the plain form they must not.
const APPLY: &str = "kubectl apply --server-side -k .";
const CLIENT_SIDE_APPLY: &str = "kubectl apply -k";

/// Client-side apply stores each object, as JSON, in this annotation: the ProwJob CRD is larger
/// than a real API server allows annotations to be (prow-local enforces the same limit, see
/// crates/local/tests/kubectl.rs), so the deployment must be applied server-side, and every
/// object must still fit the request body limit when sent whole.
#[test]
fn the_deployment_needs_server_side_apply_and_the_docs_say_so() {
    use prow_local::http::MAX_REQUEST_BODY_BYTES;
    use prow_local::object::TOTAL_ANNOTATION_SIZE_LIMIT_B;
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
    let annotation_bytes = |object: &Value| -> usize {
        object["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum()
    };
    let mut too_big = Vec::new();
    let mut client_side_only_fails = Vec::new();
    for object in objects() {
        let id = format!("{} {}", kind_of(object).1, name_of(object));
        let body = serde_json::to_string(object).unwrap().len();
        let own = annotation_bytes(object);
        if body > MAX_REQUEST_BODY_BYTES || own > TOTAL_ANNOTATION_SIZE_LIMIT_B {
            too_big.push(format!("{id}: {body} bytes, {own} bytes of annotations"));
        }
        if own + LAST_APPLIED.len() + body > TOTAL_ANNOTATION_SIZE_LIMIT_B {
            client_side_only_fails.push(id);
        }
    }
    assert!(
        too_big.is_empty(),
        "objects a real API server refuses even server-side:\n{}",
        too_big.join("\n")
    );
    assert!(
        client_side_only_fails.contains(&"CustomResourceDefinition prowjobs.prow.k8s.io".into()),
        "the ProwJob CRD fits client-side apply now ({client_side_only_fails:?}): the docs may \
         relax, and this test with them"
    );
    for doc in ["docs/deploy.md", "README.md", "kustomization.yaml"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
        assert!(text.contains(APPLY), "{doc} does not say `{APPLY}`");
        assert!(
            !text.contains(CLIENT_SIDE_APPLY),
            "{doc} says `{CLIENT_SIDE_APPLY}`, which fails on {client_side_only_fails:?}"
        );
    }
}

#[test]
fn prowjobs_from_the_example_config_fit_the_prowjob_schema() {
    use prow_core::prowjob_new::{new_prowjob, periodic_spec};
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_mounted_config(dir.path());
    assert!(
        !loaded.periodics.is_empty(),
        "example config has no periodics"
    );
    let shipped_crd = all("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .find(|o| name_of(o) == "prowjobs.prow.k8s.io")
        .expect("the ProwJob CRD is part of the deployment");
    let shipped =
        CrdSchema::from_crd_yaml(&serde_json::to_string(shipped_crd).unwrap(), "v1").unwrap();
    let reference = &crd_schemas()[&("prow.k8s.io/v1".to_string(), "ProwJob".to_string())].schema;
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap(),
    );
    for periodic in &loaded.periodics {
        let job = new_prowjob(
            periodic_spec(periodic),
            &BTreeMap::new(),
            &BTreeMap::new(),
            "00000000-0000-0000-0000-000000000000",
            now.clone(),
        );
        let job = serde_json::to_value(&job).unwrap();
        assert_eq!(
            schema_problems(reference, &job),
            Vec::<String>::new(),
            "{job}"
        );
        assert_eq!(
            schema_problems(&shipped.schema, &job),
            Vec::<String>::new(),
            "{job}"
        );
    }
}

/// Writes the generated ConfigMaps where the Services mount them and loads them like a function.
fn load_mounted_config(dir: &Path) -> prow_core::config::Config {
    let service = find("serving.knative.dev/v1", "Service", NAMESPACE, "trigger").unwrap();
    let env = container_env(service);
    for (mount, config_map) in config_map_mounts(service) {
        let target = dir.join(mount.trim_start_matches('/'));
        std::fs::create_dir_all(&target).unwrap();
        for (key, bytes) in config_map_files(config_map) {
            std::fs::write(target.join(key), bytes).unwrap();
        }
    }
    let path = |var: &str| env.get(var).map(|v| dir.join(v.trim_start_matches('/')));
    let loaded = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path: path("CONFIG_PATH").expect("trigger sets CONFIG_PATH"),
        job_config_path: path("JOB_CONFIG_PATH"),
        plugin_config_path: path("PLUGIN_CONFIG"),
    })
    .unwrap_or_else(|e| panic!("the mounted example config does not load: {e}"));
    assert!(
        loaded.warnings.is_empty(),
        "config warnings: {:?}",
        loaded.warnings
    );
    loaded.config
}

/// The files a ConfigMap volume shows: `data` as text, `binaryData` decoded from base64.
fn config_map_files(config_map: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (key, text) in config_map["data"].as_object().into_iter().flatten() {
        files.insert(key.clone(), text.as_str().unwrap().as_bytes().to_vec());
    }
    for (key, encoded) in config_map["binaryData"].as_object().into_iter().flatten() {
        let ByteString(bytes) = serde_json::from_value(encoded.clone()).unwrap();
        files.insert(key.clone(), bytes);
    }
    files
}

fn pod_spec(service: &Value) -> &Value {
    &service["spec"]["template"]["spec"]
}

fn container(service: &Value) -> &Value {
    let containers = pod_spec(service)["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "{}: one container", name_of(service));
    &containers[0]
}

fn container_env(service: &Value) -> BTreeMap<String, String> {
    container(service)["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// (mountPath, volume) for each volume the container mounts.
fn mounts(service: &Value) -> Vec<(String, &Value)> {
    let volumes = pod_spec(service)["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    container(service)["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = &m["name"];
            let index = volumes
                .iter()
                .position(|v| &v["name"] == name)
                .unwrap_or_else(|| {
                    panic!("{}: mount of undeclared volume {name}", name_of(service))
                });
            (
                m["mountPath"].as_str().unwrap().to_string(),
                &pod_spec(service)["volumes"][index],
            )
        })
        .collect()
}

fn config_map_mounts(service: &Value) -> Vec<(String, &'static Value)> {
    mounts(service)
        .into_iter()
        .filter_map(|(path, volume)| {
            let name = volume["configMap"]["name"].as_str()?;
            let config_map = find("v1", "ConfigMap", namespace_of(service), name)
                .unwrap_or_else(|| panic!("{}: ConfigMap {name} does not exist", name_of(service)));
            Some((path, config_map))
        })
        .collect()
}

#[test]
fn each_function_is_a_scale_to_zero_service_of_the_one_image() {
    for function in FUNCTIONS {
        let service = find("serving.knative.dev/v1", "Service", NAMESPACE, function)
            .unwrap_or_else(|| panic!("no Knative Service {function}"));
        let template = &service["spec"]["template"];
        // hook alone stays warm: GitHub gives a delivery 10 s, which a cold node's scheduling,
        // image pull and readiness can eat (docs/deploy.md, Scale to zero).
        let min_scale = if function == "hook" { "1" } else { "0" };
        assert_eq!(
            template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"], min_scale,
            "{function}"
        );
        let c = container(service);
        assert_eq!(c["args"], json!(["serve", function]), "{function}");
        let image = c["image"].as_str().unwrap();
        assert!(
            image == "prow-rs" || image.contains("prow-rs:"),
            "{function}: image {image}"
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            assert_eq!(
                c[probe]["httpGet"]["path"], "/healthz",
                "{function} {probe}"
            );
        }
        assert!(
            c["resources"]["requests"]["memory"].is_string(),
            "{function}: memory request"
        );
        assert!(
            c["resources"]["limits"]["memory"].is_string(),
            "{function}: memory limit"
        );
        let concurrency = template["spec"]["containerConcurrency"]
            .as_u64()
            .unwrap_or(0);
        assert!(
            (1..=1000).contains(&concurrency),
            "{function}: containerConcurrency {concurrency}"
        );
        let visibility = &service["metadata"]["labels"]["networking.knative.dev/visibility"];
        if PUBLIC.contains(&function) {
            assert!(visibility.is_null(), "{function} must be public");
        } else {
            assert_eq!(
                visibility, "cluster-local",
                "{function} must be cluster-local"
            );
        }
    }
}

#[test]
fn services_reference_existing_accounts_config_maps_and_documented_secrets() {
    let secrets: BTreeMap<&str, &[&str]> = SECRETS.into_iter().collect();
    for service in all("serving.knative.dev/v1", "Service") {
        let id = name_of(service);
        let ns = namespace_of(service);
        if let Some(account) = pod_spec(service)["serviceAccountName"].as_str() {
            assert!(
                find("v1", "ServiceAccount", ns, account).is_some(),
                "{id}: ServiceAccount {account} missing"
            );
        } else {
            assert!(
                !FUNCTIONS.contains(&id),
                "{id}: functions run as their own ServiceAccount"
            );
        }
        // Every env path under a mount points at a key that volume provides.
        let env = container_env(service);
        for (mount, volume) in mounts(service) {
            let keys: Vec<String> = if let Some(name) = volume["configMap"]["name"].as_str() {
                let config_map = find("v1", "ConfigMap", ns, name)
                    .unwrap_or_else(|| panic!("{id}: ConfigMap {name} missing"));
                config_map_files(config_map).into_keys().collect()
            } else if let Some(name) = volume["secret"]["secretName"].as_str() {
                let keys = secrets.get(name).unwrap_or_else(|| {
                    panic!(
                        "{id}: Secret {name} is not one docs/deploy.md tells operators to create"
                    )
                });
                keys.iter().map(|k| k.to_string()).collect()
            } else if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
                // ghproxy's cache: files the function writes itself, no keys to check.
                assert!(
                    find("v1", "PersistentVolumeClaim", ns, claim).is_some(),
                    "{id}: PersistentVolumeClaim {claim} missing"
                );
                continue;
            } else {
                panic!("{id}: volume {volume} is neither a ConfigMap, a Secret nor a claim");
            };
            for (var, value) in &env {
                if let Some(rest) = value.strip_prefix(&format!("{mount}/")) {
                    assert!(
                        keys.contains(&rest.to_string()),
                        "{id}: {var}={value} but {mount} holds {keys:?}"
                    );
                }
            }
        }
        for (var, value) in &env {
            if value.starts_with("/etc/") {
                assert!(
                    mounts(service)
                        .iter()
                        .any(|(m, _)| value == m || value.starts_with(&format!("{m}/"))),
                    "{id}: {var}={value} is not on a mounted volume"
                );
            }
        }
    }
    let hook = find("serving.knative.dev/v1", "Service", NAMESPACE, "hook").unwrap();
    let env = container_env(hook);
    assert_eq!(env["HMAC_SECRET_FILE"], "/etc/webhook/hmac");
    // hook publishes webhooks into the Broker the Triggers listen on, at the address a
    // SinkBinding resolves from the Broker's status, not a URL fixed to one Broker class.
    assert!(
        !env.contains_key("K_SINK"),
        "hook's K_SINK is injected by its SinkBinding, not hard-coded"
    );
    let bindings: Vec<&Value> = all("sources.knative.dev/v1", "SinkBinding")
        .filter(|b| {
            namespace_of(b) == NAMESPACE
                && b["spec"]["subject"]
                    == json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hook"})
        })
        .collect();
    assert_eq!(
        bindings.len(),
        1,
        "exactly one SinkBinding gives hook its K_SINK"
    );
    let sink = &bindings[0]["spec"]["sink"];
    assert_eq!(sink["ref"]["kind"], "Broker", "hook's sink is the Broker");
    assert_sink_exists("hook's SinkBinding", NAMESPACE, sink);
    // The OIDC token SinkBinding mounts when sender identity is on (the Broker refuses GitHub
    // events from anyone else under an EventPolicy).
    assert_eq!(env["K_SINK_TOKEN_FILE"], "/oidc/token");
}

/// Test pods run untrusted PR code: their egress must exclude every private, link-local and
/// CGNAT range (pods, Services, the broker ingress, the API server, metadata servers), and the
/// functions' namespace must not take traffic from test-pods.
#[test]
fn test_pods_cannot_reach_the_broker_the_functions_or_metadata() {
    let egress = find(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "test-pods",
        "test-pods-egress",
    )
    .expect("NetworkPolicy test-pods/test-pods-egress");
    assert_eq!(
        egress["spec"]["podSelector"]["matchLabels"]["created-by-prow"], "true",
        "the policy selects the pods plank creates"
    );
    assert_eq!(egress["spec"]["policyTypes"], json!(["Egress"]));
    let mut blocks = Vec::new();
    for rule in egress["spec"]["egress"].as_array().unwrap() {
        for peer in rule["to"].as_array().unwrap() {
            if let Some(block) = peer.get("ipBlock") {
                blocks.push(block.clone());
            } else {
                // Anything but an ipBlock may only be DNS.
                assert_eq!(
                    peer["podSelector"]["matchLabels"]["k8s-app"], "kube-dns",
                    "egress to {peer} is not DNS"
                );
                let ports: Vec<i64> = rule["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["port"].as_i64().unwrap())
                    .collect();
                assert!(ports.iter().all(|p| *p == 53), "DNS rule opens {ports:?}");
            }
        }
    }
    let excepted = |cidr: &str| -> Vec<String> {
        blocks
            .iter()
            .find(|b| b["cidr"] == cidr)
            .unwrap_or_else(|| panic!("no ipBlock {cidr}"))["except"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    for private in [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
    ] {
        assert!(
            excepted("0.0.0.0/0").contains(&private.to_string()),
            "{private} reachable"
        );
    }
    for private in ["fc00::/7", "fe80::/10"] {
        assert!(
            excepted("::/0").contains(&private.to_string()),
            "{private} reachable"
        );
    }
    assert_eq!(blocks.len(), 2, "no other address ranges are opened");

    let ingress = find(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        NAMESPACE,
        "not-from-test-pods",
    )
    .expect("NetworkPolicy prow/not-from-test-pods");
    assert_eq!(
        ingress["spec"]["podSelector"],
        json!({}),
        "covers every function"
    );
    assert_eq!(
        ingress["spec"]["ingress"],
        json!([{"from": [{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["test-pods"]}
        ]}}]}])
    );
}

/// (namespace, group, resource, verb) granted to ServiceAccount `prow/<account>`.
fn granted(account: &str) -> BTreeSet<(String, String, String, String)> {
    let mut grants = BTreeSet::new();
    for binding in all("rbac.authorization.k8s.io/v1", "RoleBinding") {
        let binds_account = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == account && s["namespace"] == NAMESPACE
            });
        if !binds_account {
            continue;
        }
        let ns = namespace_of(binding);
        let role_name = binding["roleRef"]["name"].as_str().unwrap();
        let role = match binding["roleRef"]["kind"].as_str() {
            Some("Role") => find("rbac.authorization.k8s.io/v1", "Role", ns, role_name),
            Some("ClusterRole") => {
                find("rbac.authorization.k8s.io/v1", "ClusterRole", "", role_name)
            }
            other => panic!("RoleBinding {ns}/{} binds a {other:?}", name_of(binding)),
        }
        .unwrap_or_else(|| {
            panic!(
                "RoleBinding {ns}/{} names missing role {role_name}",
                name_of(binding)
            )
        });
        for rule in role["rules"].as_array().into_iter().flatten() {
            let strings = |key: &str| -> Vec<String> {
                rule[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            };
            for group in strings("apiGroups") {
                for resource in strings("resources") {
                    for verb in strings("verbs") {
                        grants.insert((ns.to_string(), group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
    }
    for binding in all("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") {
        let binds_account = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == account);
        assert!(
            !binds_account,
            "{account} must not have cluster-wide grants"
        );
    }
    grants
}

#[test]
fn rbac_grants_each_function_exactly_what_it_calls() {
    for (function, needs) in RBAC {
        let want: BTreeSet<_> = needs
            .iter()
            .flat_map(|(ns, group, resource, verbs)| {
                verbs.iter().map(move |verb| {
                    (
                        ns.to_string(),
                        group.to_string(),
                        resource.to_string(),
                        verb.to_string(),
                    )
                })
            })
            .collect();
        let got = granted(function);
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(missing.is_empty(), "{function} lacks {missing:?}");
        assert!(
            extra.is_empty(),
            "{function} has privileges it does not use: {extra:?}"
        );
    }
    let hook = find("v1", "ServiceAccount", NAMESPACE, "hook").unwrap();
    assert_eq!(
        hook["automountServiceAccountToken"], false,
        "hook needs no API token"
    );
}

/// Where the multi-tenant Broker class receives events for Broker `<namespace>/<name>`.
const BROKER_INGRESS: &str = "http://broker-ingress.knative-eventing.svc.cluster.local/";

/// Checks a Knative destination (`ref` or `uri`) names an object of the deployment. A `ref`
/// must stay in its owner's namespace: Knative's webhook rejects anything else ("mismatched
/// namespaces"); a Broker elsewhere is reached through its ingress URI.
fn assert_sink_exists(owner: &str, owner_ns: &str, destination: &Value) {
    if let Some(uri) = destination["uri"].as_str()
        && destination.get("ref").is_none()
    {
        let path = uri
            .strip_prefix(BROKER_INGRESS)
            .unwrap_or_else(|| panic!("{owner}: sink URI {uri} is not a Broker ingress"));
        let (ns, name) = path.split_once('/').unwrap();
        assert!(
            find("eventing.knative.dev/v1", "Broker", ns, name).is_some(),
            "{owner}: sink URI {uri} names missing Broker {ns}/{name}"
        );
        return;
    }
    let reference = &destination["ref"];
    if let Some(ns) = reference["namespace"].as_str() {
        assert_eq!(ns, owner_ns, "{owner}: ref into another namespace");
    }
    let (api_version, kind, name) = (
        reference["apiVersion"].as_str().unwrap_or_default(),
        reference["kind"].as_str().unwrap_or_default(),
        reference["name"].as_str().unwrap_or_default(),
    );
    assert!(
        find(api_version, kind, owner_ns, name).is_some(),
        "{owner}: {api_version} {kind} {owner_ns}/{name} does not exist"
    );
}

#[test]
fn eventing_references_resolve() {
    let broker = |ns: &str, name: &str| find("eventing.knative.dev/v1", "Broker", ns, name);
    for b in all("eventing.knative.dev/v1", "Broker") {
        let dead_letters = &b["spec"]["delivery"]["deadLetterSink"];
        if !dead_letters.is_null() {
            assert_sink_exists(name_of(b), namespace_of(b), dead_letters);
        }
    }
    let mut pinged = BTreeSet::new();
    let mut subscribers = BTreeSet::new();
    for trigger in all("eventing.knative.dev/v1", "Trigger") {
        let (id, ns) = (name_of(trigger), namespace_of(trigger));
        let broker_name = trigger["spec"]["broker"].as_str().unwrap();
        assert!(
            broker(ns, broker_name).is_some(),
            "Trigger {id}: Broker {broker_name} missing"
        );
        let subscriber = &trigger["spec"]["subscriber"];
        assert_eq!(subscriber["ref"]["kind"], "Service", "Trigger {id}");
        assert_sink_exists(&format!("Trigger {id}"), ns, subscriber);
        subscribers.insert(subscriber["ref"]["name"].as_str().unwrap().to_string());
        if let Some(source) = trigger["spec"]["filter"]["attributes"]["source"].as_str()
            && let Some(rest) = source.strip_prefix("/apis/v1/namespaces/")
        {
            let (source_ns, name) = rest.split_once("/pingsources/").unwrap();
            assert!(
                find("sources.knative.dev/v1", "PingSource", source_ns, name).is_some(),
                "Trigger {id} waits for ticks of missing PingSource {source_ns}/{name}"
            );
            pinged.insert(name.to_string());
        }
    }
    for function in [
        "trigger",
        "plugins",
        "plank",
        "crier",
        "sinker",
        "horologium",
    ] {
        assert!(
            subscribers.contains(function),
            "no Trigger delivers to {function}"
        );
    }
    for ping in all("sources.knative.dev/v1", "PingSource") {
        assert_sink_exists(
            &format!("PingSource {}", name_of(ping)),
            namespace_of(ping),
            &ping["spec"]["sink"],
        );
        assert!(
            pinged.contains(name_of(ping)),
            "PingSource {} ticks but no Trigger routes it",
            name_of(ping)
        );
    }
    for source in all("sources.knative.dev/v1", "ApiServerSource") {
        let (id, ns) = (name_of(source), namespace_of(source));
        assert_sink_exists(
            &format!("ApiServerSource {id}"),
            ns,
            &source["spec"]["sink"],
        );
        let account = source["spec"]["serviceAccountName"].as_str().unwrap();
        assert!(
            find("v1", "ServiceAccount", ns, account).is_some(),
            "ApiServerSource {id}: ServiceAccount {account} missing"
        );
        // The adapter lists and watches what it reports, with its own account, in its namespace.
        let grants = granted_to(account, ns);
        for resource in source["spec"]["resources"].as_array().unwrap() {
            let (group, plural) = match resource["kind"].as_str().unwrap() {
                "ProwJob" => ("prow.k8s.io", "prowjobs"),
                "Pod" => ("", "pods"),
                other => panic!("ApiServerSource {id} watches unexpected kind {other}"),
            };
            for verb in ["get", "list", "watch"] {
                assert!(
                    grants.contains(&(
                        ns.to_string(),
                        group.to_string(),
                        plural.to_string(),
                        verb.to_string()
                    )),
                    "ApiServerSource {id}: {account} may not {verb} {plural} in {ns}"
                );
            }
        }
    }
    // Test pods live in the config's pod_namespace: their changes must reach plank too.
    let pod_namespaces: BTreeSet<&str> = all("sources.knative.dev/v1", "ApiServerSource")
        .filter(|s| {
            s["spec"]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == "Pod")
        })
        .map(namespace_of)
        .collect();
    assert!(
        pod_namespaces.contains("test-pods"),
        "no ApiServerSource watches pods in test-pods"
    );
}

/// Like [`granted`] for an account in any namespace.
fn granted_to(account: &str, account_ns: &str) -> BTreeSet<(String, String, String, String)> {
    let mut grants = BTreeSet::new();
    for binding in all("rbac.authorization.k8s.io/v1", "RoleBinding") {
        let binds = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["name"] == account
                    && s["namespace"] == account_ns
            });
        if !binds {
            continue;
        }
        let ns = namespace_of(binding);
        let role_name = binding["roleRef"]["name"].as_str().unwrap();
        let role = match binding["roleRef"]["kind"].as_str() {
            Some("ClusterRole") => {
                find("rbac.authorization.k8s.io/v1", "ClusterRole", "", role_name)
            }
            _ => find("rbac.authorization.k8s.io/v1", "Role", ns, role_name),
        }
        .unwrap_or_else(|| panic!("role {role_name} missing"));
        for rule in role["rules"].as_array().into_iter().flatten() {
            for group in rule["apiGroups"].as_array().into_iter().flatten() {
                for resource in rule["resources"].as_array().into_iter().flatten() {
                    for verb in rule["verbs"].as_array().into_iter().flatten() {
                        grants.insert((
                            ns.to_string(),
                            group.as_str().unwrap().to_string(),
                            resource.as_str().unwrap().to_string(),
                            verb.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    }
    grants
}

#[test]
#[ignore = "needs kubectl (.ci/install-deps installs it; .ci/test runs this)"]
fn kubectl_kustomize_renders_the_same_objects_as_the_files() {
    let kubectl = prow_testdata::counterpart("kubectl", None, "apt install kubectl");
    let rendered = render_with_kubectl(&kubectl);
    let raw = load_kustomization(&repo_root());
    // Generated ConfigMaps carry a content hash suffix after kustomize; plain ones do not.
    let generated: BTreeSet<String> = raw
        .iter()
        .filter(|o| kind_of(o) == ("v1", "ConfigMap"))
        .map(|o| name_of(o).to_string())
        .filter(|name| !rendered.iter().any(|r| name_of(r) == name))
        .collect();
    let id = |o: &Value, strip_hash: bool| {
        let mut name = name_of(o).to_string();
        let is_generated = generated.iter().any(|g| name.starts_with(&format!("{g}-")));
        if strip_hash && kind_of(o) == ("v1", "ConfigMap") && is_generated {
            name = name
                .rsplit_once('-')
                .map(|(base, _)| base.to_string())
                .unwrap_or(name);
        }
        format!(
            "{} {} {}/{}",
            o["apiVersion"].as_str().unwrap_or_default(),
            o["kind"].as_str().unwrap_or_default(),
            namespace_of(o),
            name
        )
    };
    let rendered_ids: BTreeSet<String> = rendered.iter().map(|o| id(o, true)).collect();
    let raw_ids: BTreeSet<String> = raw.iter().map(|o| id(o, false)).collect();
    assert_eq!(rendered_ids, raw_ids);
    assert_eq!(rendered.len(), raw.len(), "duplicate objects");
    // Images are pinned by the kustomization, and Services follow the ConfigMaps' hashed names.
    for function in FUNCTIONS {
        let service = rendered
            .iter()
            .find(|o| kind_of(o) == ("serving.knative.dev/v1", "Service") && name_of(o) == function)
            .unwrap();
        assert_ne!(
            container(service)["image"],
            "prow-rs",
            "{function}: image not substituted"
        );
        for volume in pod_spec(service)["volumes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(name) = volume["configMap"]["name"].as_str() {
                assert!(
                    rendered
                        .iter()
                        .any(|o| kind_of(o) == ("v1", "ConfigMap") && name_of(o) == name),
                    "{function}: ConfigMap {name} not rendered (hash not propagated?)"
                );
            }
        }
    }
}

/// `env = "NAME"` declarations (clap flags read from the environment) in the Rust files under `dir`.
fn declared_env(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            declared_env(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("env = \"").skip(1) {
                if let Some((name, _)) = piece.split_once('"') {
                    found.insert(name.to_string());
                }
            }
        }
    }
}

#[test]
fn services_set_only_variables_their_function_reads() {
    let root = repo_root();
    // Read by libraries rather than flags: tracing's filter and Google's credential lookup.
    let ambient = ["RUST_LOG", "GOOGLE_APPLICATION_CREDENTIALS"];
    let mut shared = BTreeSet::new();
    declared_env(&root.join("crates/kube/src"), &mut shared);
    declared_env(&root.join("crates/runtime/src"), &mut shared);
    for function in FUNCTIONS {
        let src = root.join("functions").join(function).join("src");
        if !src.is_dir() {
            eprintln!(
                "SKIP {function}: functions/{function}/src not present, its flags not checked"
            );
            continue;
        }
        let mut known = shared.clone();
        declared_env(&src, &mut known);
        // The shared GitHub flags count for the functions that flatten them in.
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
        if lib.contains("GitHubArgs") {
            declared_env(&root.join("crates/github/src"), &mut known);
        }
        let service = find("serving.knative.dev/v1", "Service", NAMESPACE, function).unwrap();
        for var in container_env(service).keys() {
            assert!(
                ambient.contains(&var.as_str()) || known.contains(var),
                "{function}: sets {var}, which prow-{function} never reads (it reads {known:?})"
            );
        }
    }
}

/// A Broker without a class gets the cluster's default (usually InMemoryChannel, which loses
/// acknowledged webhooks on a restart): ours names its class and a channel that persists.
#[test]
fn the_broker_names_a_durable_class() {
    let broker = find("eventing.knative.dev/v1", "Broker", NAMESPACE, "default").unwrap();
    assert_eq!(
        broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"],
        "MTChannelBasedBroker"
    );
    let config = &broker["spec"]["config"];
    assert_eq!(config["kind"], "ConfigMap");
    let namespace = config["namespace"].as_str().unwrap_or(NAMESPACE);
    let map = find(
        "v1",
        "ConfigMap",
        namespace,
        config["name"].as_str().unwrap(),
    )
    .unwrap_or_else(|| panic!("the Broker's config {config} is not deployed"));
    let template: Value = serde_norway::from_str(
        map["data"]["channel-template-spec"]
            .as_str()
            .expect("channel-template-spec"),
    )
    .unwrap();
    assert_eq!(
        template["kind"], "KafkaChannel",
        "an in-memory channel is not durable"
    );
    assert!(template["spec"]["replicationFactor"].as_u64().unwrap() >= 3);
}

/// The image and the snapshot must come from one release: the snapshot is checked against this
/// build (`the_mounted_snapshot_is_the_example_config_compiled`), so the image must be this
/// build's version too, never a moving tag, and a pinned digest must be a real sha256.
#[test]
fn the_image_is_the_version_that_compiled_the_snapshot() {
    let kustomization: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo_root().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let image = kustomization["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "prow-rs")
        .expect("an images entry for prow-rs");
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        image["newTag"].as_str(),
        Some(version.as_str()),
        "kustomization.yaml must deploy the image of this release ({version}), which compiled config/config.snapshot"
    );
    if let Some(digest) = image["digest"].as_str() {
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        assert!(
            hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "digest {digest} is not a sha256"
        );
    }
    // What kubectl renders: every function runs exactly that image.
    let want = format!("{}:{version}", image["newName"].as_str().unwrap());
    for function in FUNCTIONS {
        let service = find("serving.knative.dev/v1", "Service", NAMESPACE, function).unwrap();
        let got = container(service)["image"].as_str().unwrap();
        assert!(
            got == want || got.starts_with(&format!("{want}@sha256:")),
            "{}: image {got}, want {want}",
            name_of(service)
        );
    }
}

/// The optional components (off in the root kustomization): every function has a PodMonitor on
/// its Revision pods' /metrics, and the public names map to hook and Deck, valid per Knative's
/// DomainMapping schema.
#[test]
fn optional_components_cover_every_function_and_the_public_services() {
    let read =
        |file: &str| yaml_documents(&std::fs::read_to_string(repo_root().join(file)).unwrap());
    let monitors = read("components/monitoring/podmonitors.yaml");
    let mut covered = BTreeSet::new();
    for monitor in &monitors {
        assert_eq!(kind_of(monitor), ("monitoring.coreos.com/v1", "PodMonitor"));
        assert_eq!(namespace_of(monitor), NAMESPACE);
        let function = monitor["spec"]["selector"]["matchLabels"]["serving.knative.dev/service"]
            .as_str()
            .unwrap();
        assert!(
            find("serving.knative.dev/v1", "Service", NAMESPACE, function).is_some(),
            "PodMonitor for unknown Service {function}"
        );
        let endpoint = &monitor["spec"]["podMetricsEndpoints"][0];
        assert_eq!(endpoint["path"], "/metrics");
        assert_eq!(endpoint["port"], "user-port");
        covered.insert(function.to_string());
    }
    for function in FUNCTIONS.iter().chain(&["plugins"]) {
        assert!(covered.contains(*function), "no PodMonitor for {function}");
    }

    let schema = CrdSchema::from_crd_yaml(
        &std::fs::read_to_string(schemas_dir().join("knative-serving/domain-mapping.yaml"))
            .unwrap(),
        "v1beta1",
    )
    .unwrap();
    let mut mapped = BTreeSet::new();
    for mapping in read("components/public-https/domain-mappings.yaml") {
        assert_eq!(
            kind_of(&mapping),
            ("serving.knative.dev/v1beta1", "DomainMapping")
        );
        assert_eq!(
            schema_problems(&schema.schema, &mapping),
            Vec::<String>::new()
        );
        assert_sink_exists(name_of(&mapping), namespace_of(&mapping), &mapping["spec"]);
        mapped.insert(mapping["spec"]["ref"]["name"].as_str().unwrap().to_string());
    }
    let public: BTreeSet<String> = PUBLIC.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        mapped, public,
        "exactly the public Services get public names"
    );
}

/// config-updater publishes the compiled config into the ConfigMap the functions mount, under
/// the key their CONFIG_PATH names, and may update no other ConfigMap by default; the generated
/// ConfigMap keeps that plain name (a content hash would change it on every apply).
#[test]
fn config_updater_writes_the_snapshot_configmap_the_functions_mount_and_only_it() {
    let updater = find(
        "serving.knative.dev/v1",
        "Service",
        NAMESPACE,
        "config-updater",
    )
    .unwrap();
    let env = container_env(updater);
    let (name, key) = (&env["SNAPSHOT_CONFIGMAP"], &env["SNAPSHOT_KEY"]);
    assert_eq!(env["SNAPSHOT_NAMESPACE"], NAMESPACE);
    let mut readers = 0;
    for service in all("serving.knative.dev/v1", "Service") {
        let function = name_of(service);
        let Some(config_path) = container_env(service).get("CONFIG_PATH").cloned() else {
            continue;
        };
        readers += 1;
        let (dir, file) = config_path.rsplit_once('/').unwrap();
        let mounted = config_map_mounts(service)
            .into_iter()
            .find(|(path, _)| path.trim_end_matches('/') == dir)
            .unwrap_or_else(|| panic!("{function}: nothing mounted at {dir}"));
        assert_eq!(
            name_of(mounted.1),
            name,
            "{function} mounts another ConfigMap"
        );
        assert_eq!(file, key, "{function} reads another key");
        assert!(config_map_files(mounted.1).contains_key(key.as_str()));
    }
    assert!(
        readers >= FUNCTIONS.len() - 1,
        "only {readers} functions read a config"
    );
    let kustomization: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo_root().join("config/kustomization.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        kustomization["generatorOptions"]["disableNameSuffixHash"], true,
        "a hashed name is not the one config-updater writes"
    );
    let role = find(
        "rbac.authorization.k8s.io/v1",
        "Role",
        NAMESPACE,
        "prow-config-updater",
    )
    .unwrap();
    for rule in role["rules"].as_array().unwrap() {
        let verbs: Vec<&str> = rule["verbs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if verbs.contains(&"update") {
            assert_eq!(
                rule["resourceNames"],
                json!([name]),
                "update is limited by name"
            );
        } else {
            assert_eq!(verbs, ["create"], "create is the only verb without names");
        }
    }
}
