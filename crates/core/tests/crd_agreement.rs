//! Checks that the Rust ProwJob model and Prow's ProwJob CRD describe the same fields and types.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use prow_core::prowjob::{ProwJob, ProwJobSpec, ProwJobStatus};
use serde_json::{Map, Value};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config_crd_path() -> PathBuf {
    crate_dir().join("../../config/prowjob-crd.yaml")
}

fn corpus_crd_path() -> PathBuf {
    prow_testdata::testdata().join("prow/crd/prowjob_customresourcedefinition.yaml")
}

/// The `openAPIV3Schema` of the CRD's only version.
fn crd_schema() -> Value {
    let text = std::fs::read_to_string(config_crd_path()).unwrap();
    let crd: Value = serde_norway::from_str(&text).unwrap();
    let versions = crd["spec"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "expected one CRD version");
    assert_eq!(versions[0]["name"], "v1");
    versions[0]["schema"]["openAPIV3Schema"].clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
    IntOrString,
    Any,
}

fn kind_of_type(t: &str) -> Option<Kind> {
    Some(match t {
        "object" => Kind::Object,
        "array" => Kind::Array,
        "string" => Kind::String,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        "boolean" => Kind::Boolean,
        _ => return None,
    })
}

/// The alternatives of a schemars enum whose variants carry docs: `oneOf [{const: "a"}, ...]`.
fn const_alternatives(node: &Value) -> Option<Vec<&Value>> {
    let alternatives = node
        .get("oneOf")
        .or_else(|| node.get("anyOf"))?
        .as_array()?;
    let consts: Option<Vec<&Value>> = alternatives.iter().map(|a| a.get("const")).collect();
    consts.filter(|c| !c.is_empty())
}

/// Kind of a (resolved) schema node; `type` may be a list including `"null"` (an Option).
fn kind(node: &Value) -> Kind {
    if node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return Kind::IntOrString;
    }
    if let Some(consts) = const_alternatives(node)
        && consts.iter().all(|c| c.is_string())
    {
        return Kind::String;
    }
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => vec![],
    };
    match types.as_slice() {
        [t] => kind_of_type(t).unwrap_or(Kind::Any),
        [] if node.get("properties").is_some() || node.get("additionalProperties").is_some() => {
            Kind::Object
        }
        _ => Kind::Any,
    }
}

/// Our schemars output, with `$ref`s into `$defs` and Option's `anyOf [.., null]` resolved.
struct Ours {
    defs: Map<String, Value>,
}

impl Ours {
    fn new(schema: schemars::Schema) -> (Self, Value) {
        let mut root = serde_json::to_value(schema).unwrap();
        let defs = match root.as_object_mut().and_then(|o| o.remove("$defs")) {
            Some(Value::Object(defs)) => defs,
            _ => Map::new(),
        };
        (Self { defs }, root)
    }

    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        loop {
            if let Some(r) = node.get("$ref").and_then(Value::as_str) {
                let name = r
                    .strip_prefix("#/$defs/")
                    .unwrap_or_else(|| panic!("unexpected $ref {r}"));
                node = self
                    .defs
                    .get(name)
                    .unwrap_or_else(|| panic!("missing $defs entry {name}"));
                continue;
            }
            let alternatives = node
                .get("anyOf")
                .or_else(|| node.get("oneOf"))
                .and_then(Value::as_array);
            if let Some(alternatives) = alternatives {
                let non_null: Vec<&Value> = alternatives
                    .iter()
                    .filter(|a| a.get("type") != Some(&Value::from("null")))
                    .collect();
                if let [only] = non_null.as_slice() {
                    node = only;
                    continue;
                }
            }
            return node;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Mismatch {
    path: String,
    problem: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

fn properties(node: &Value) -> Map<String, Value> {
    node.get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn enum_values(node: &Value) -> Option<BTreeSet<String>> {
    let values: Vec<&Value> = match node.get("enum").and_then(Value::as_array) {
        Some(values) => values.iter().collect(),
        None => const_alternatives(node)?,
    };
    Some(
        values
            .into_iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
    )
}

/// Walks the CRD node and our node side by side, collecting every difference under `path`.
fn compare(path: &str, crd: &Value, ours_raw: &Value, ours: &Ours, out: &mut Vec<Mismatch>) {
    let mut report = |problem: String| {
        out.push(Mismatch {
            path: path.to_owned(),
            problem,
        })
    };
    let node = ours.resolve(ours_raw);
    let (crd_kind, our_kind) = (kind(crd), kind(node));
    if crd_kind != our_kind {
        report(format!("type: CRD {crd_kind:?}, ours {our_kind:?}"));
        return;
    }
    if let Some(crd_enum) = enum_values(crd) {
        let our_enum = enum_values(node);
        if our_enum.as_ref() != Some(&crd_enum) {
            report(format!("enum: CRD {crd_enum:?}, ours {our_enum:?}"));
        }
    }
    if crd.get("format") == Some(&Value::from("date-time"))
        && node.get("format") != crd.get("format")
    {
        report(format!(
            "format: CRD date-time, ours {:?}",
            node.get("format")
        ));
    }
    match crd_kind {
        Kind::Object => {
            if crd.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
                // Opaque in the CRD (Tekton specs): ours must accept any members too.
                if node.get("additionalProperties") != Some(&Value::Bool(true)) {
                    report("CRD preserves unknown fields, ours does not accept any".into());
                }
                return;
            }
            if path.ends_with(".metadata") && crd.get("properties").is_none() {
                // controller-gen writes embedded ObjectMeta (e.g. volumeClaimTemplate.metadata)
                // as a bare object, as it does for the ProwJob's own metadata.
                return;
            }
            let (crd_props, our_props) = (properties(crd), properties(node));
            for (name, crd_child) in &crd_props {
                let child_path = format!("{path}.{name}");
                match our_props.get(name) {
                    Some(our_child) => compare(&child_path, crd_child, our_child, ours, out),
                    None => out.push(Mismatch {
                        path: child_path,
                        problem: "in CRD, missing in ours".into(),
                    }),
                }
            }
            for name in our_props.keys().filter(|n| !crd_props.contains_key(*n)) {
                out.push(Mismatch {
                    path: format!("{path}.{name}"),
                    problem: "in ours, missing in CRD".into(),
                });
            }
            let crd_values = crd.get("additionalProperties").filter(|v| v.is_object());
            let our_values = node.get("additionalProperties").filter(|v| v.is_object());
            match (crd_values, our_values) {
                (Some(c), Some(o)) => compare(&format!("{path}{{}}"), c, o, ours, out),
                (Some(_), None) => out.push(Mismatch {
                    path: path.to_owned(),
                    problem: "CRD is a map, ours is not".into(),
                }),
                (None, Some(_)) => out.push(Mismatch {
                    path: path.to_owned(),
                    problem: "ours is a map, CRD is not".into(),
                }),
                (None, None) => {}
            }
        }
        Kind::Array => match (crd.get("items"), node.get("items")) {
            (Some(c), Some(o)) => compare(&format!("{path}[]"), c, o, ours, out),
            (c, o) => report(format!(
                "array items: CRD {}, ours {}",
                c.is_some(),
                o.is_some()
            )),
        },
        _ => {}
    }
}

fn mismatches() -> Vec<Mismatch> {
    let crd = crd_schema();
    let mut out = Vec::new();
    let (ours, spec) = Ours::new(schemars::schema_for!(ProwJobSpec));
    compare(".spec", &crd["properties"]["spec"], &spec, &ours, &mut out);
    let (ours, status) = Ours::new(schemars::schema_for!(ProwJobStatus));
    compare(
        ".status",
        &crd["properties"]["status"],
        &status,
        &ours,
        &mut out,
    );
    out.sort();
    out
}

/// Where core Kubernetes types are embedded: only inside these may k8s-version drift be allowed.
const K8S_EMBEDDED_ROOTS: &[&str] = &[
    ".spec.pod_spec",
    ".spec.decoration_config.scheduling_options.affinity",
    ".spec.decoration_config.scheduling_options.tolerations",
    ".spec.decoration_config.resources",
];

/// Differences inside embedded core Kubernetes types between the CRD (generated from the
/// Kubernetes API Prow vendors) and k8s-openapi's v1_34 types. Each entry must still differ:
/// when either side moves, update this list rather than widening it.
const K8S_VERSION_DRIFT: &[&str] = &[
    // Newer than Kubernetes 1.34: the CRD's vendored k8s.io/api already has them.
    ".spec.pod_spec.schedulingGroup: in CRD, missing in ours",
    ".spec.pod_spec.volumes[].projected.sources[].podCertificate.userAnnotations: in CRD, missing in ours",
];

#[test]
fn model_matches_every_crd_property_and_type() {
    let found: BTreeSet<String> = mismatches().iter().map(ToString::to_string).collect();
    let allowed: BTreeSet<String> = K8S_VERSION_DRIFT.iter().map(|s| (*s).to_owned()).collect();
    let unexpected: Vec<&String> = found.difference(&allowed).collect();
    let stale: Vec<&String> = allowed.difference(&found).collect();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "ProwJob model and CRD disagree at:\n  {}\nallowed drift entries that no longer differ:\n  {}",
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
    );
}

#[test]
fn allowed_drift_is_only_inside_embedded_kubernetes_types() {
    for entry in K8S_VERSION_DRIFT {
        assert!(
            K8S_EMBEDDED_ROOTS
                .iter()
                .any(|root| entry.starts_with(&format!("{root}."))
                    || entry.starts_with(&format!("{root}[]"))
                    || entry.starts_with(&format!("{root}{{}}"))),
            "{entry} is not inside an embedded Kubernetes type"
        );
    }
}

#[test]
fn comparison_detects_renamed_and_retyped_fields() {
    // A schema walker that finds nothing proves nothing: feed it a known-bad pair.
    let crd: Value = serde_json::json!({
        "type": "object",
        "properties": {
            "job": {"type": "string"},
            "max_concurrency": {"type": "integer"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "state": {"type": "string", "enum": ["a", "b"]},
        }
    });
    let ours_root = serde_json::json!({
        "type": "object",
        "properties": {
            "jobName": {"type": "string"},
            "max_concurrency": {"anyOf": [{"$ref": "#/$defs/Count"}, {"type": "null"}]},
            "labels": {"type": "object", "additionalProperties": {"type": "integer"}},
            "state": {"type": "string", "enum": ["a"]},
        }
    });
    let ours = Ours {
        defs: serde_json::json!({"Count": {"type": "string"}})
            .as_object()
            .unwrap()
            .clone(),
    };
    let mut out = Vec::new();
    compare("", &crd, &ours_root, &ours, &mut out);
    let found: Vec<String> = out.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![
            ".job: in CRD, missing in ours",
            ".labels{}: type: CRD String, ours Integer",
            ".max_concurrency: type: CRD Integer, ours String",
            ".state: enum: CRD {\"a\", \"b\"}, ours Some({\"a\"})",
            ".jobName: in ours, missing in CRD",
        ]
    );
}

#[test]
fn config_crd_is_upstreams_crd_byte_for_byte() {
    let ours = std::fs::read(config_crd_path()).unwrap();
    let corpus = std::fs::read(corpus_crd_path()).unwrap();
    assert!(
        ours == corpus,
        "config/prowjob-crd.yaml differs from the corpus CRD"
    );
}

#[test]
fn resource_identity_matches_the_crd() {
    use k8s_openapi::Resource;
    let text = std::fs::read_to_string(config_crd_path()).unwrap();
    let crd: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(crd["spec"]["group"], ProwJob::GROUP);
    assert_eq!(crd["spec"]["names"]["kind"], ProwJob::KIND);
    assert_eq!(crd["spec"]["names"]["plural"], ProwJob::URL_PATH_SEGMENT);
    assert_eq!(
        crd["spec"]["names"]["listKind"],
        <ProwJob as k8s_openapi::ListableResource>::LIST_KIND
    );
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(
        ProwJob::API_VERSION,
        format!("{}/{}", ProwJob::GROUP, ProwJob::VERSION)
    );
}

/// A presubmit as Prow's controllers leave it once it ran: every section of the CRD that
/// real jobs use, in the API server's JSON spelling.
const PRESUBMIT_YAML: &str = r#"
apiVersion: prow.k8s.io/v1
kind: ProwJob
metadata:
  name: 3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f
  namespace: default
  resourceVersion: "4711"
  creationTimestamp: "2026-11-25T10:00:00Z"
  labels:
    created-by-prow: "true"
    event-GUID: 0b4a1d7e-ca1b-11f0-8a3b-2f6e1c9d4b7a
    prow.k8s.io/build-id: "1790000000000000000"
    prow.k8s.io/context: pull-foo-unit
    prow.k8s.io/id: 3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f
    prow.k8s.io/is-optional: "false"
    prow.k8s.io/job: pull-foo-unit
    prow.k8s.io/refs.base_ref: main
    prow.k8s.io/refs.org: acme
    prow.k8s.io/refs.pull: "42"
    prow.k8s.io/refs.repo: foo
    prow.k8s.io/type: presubmit
  annotations:
    prow.k8s.io/context: pull-foo-unit
    prow.k8s.io/job: pull-foo-unit
spec:
  type: presubmit
  agent: kubernetes
  cluster: default
  namespace: test-pods
  job: pull-foo-unit
  refs:
    org: acme
    repo: foo
    repo_link: https://github.com/acme/foo
    base_ref: main
    base_sha: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    base_link: https://github.com/acme/foo/commit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    pulls:
    - number: 42
      author: alice
      sha: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      title: Fix x
      head_ref: fix-x
      link: https://github.com/acme/foo/pull/42
      commit_link: https://github.com/acme/foo/pull/42/commits/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      author_link: https://github.com/alice
    path_alias: example.com/foo
    clone_depth: 1
  extra_refs:
  - org: acme
    repo: tools
    base_ref: main
    workdir: true
    auxiliary: true
    blobless_fetch: true
    sparse_checkout_files: [hack/]
  report: true
  context: pull-foo-unit
  rerun_command: /test pull-foo-unit
  max_concurrency: 2
  error_on_eviction: true
  pod_spec:
    containers:
    - name: test
      image: golang:1.25
      command: [make]
      args: [test]
      env:
      - name: GOFLAGS
        value: -mod=readonly
      resources:
        requests:
          cpu: "2"
          memory: 4Gi
    nodeSelector:
      pool: ci
  decoration_config:
    timeout: 2h
    grace_period: 15m0s
    utility_images:
      clonerefs: gcr.io/k8s-prow/clonerefs:v20261101
      initupload: gcr.io/k8s-prow/initupload:v20261101
      entrypoint: gcr.io/k8s-prow/entrypoint:v20261101
      sidecar: gcr.io/k8s-prow/sidecar:v20261101
    resources:
      clonerefs:
        requests:
          cpu: 100m
    gcs_configuration:
      bucket: gs://acme-prow
      path_strategy: explicit
      mediaTypes:
        log: text/plain
    gcs_credentials_secret: gcs-credentials
    ssh_key_secrets: [ssh-key]
    skip_cloning: false
    censor_secrets: true
    censoring_options:
      censoring_concurrency: 4
      minimum_secret_length: 6
    default_memory_request: 1Gi
    scheduling_options:
      tolerations:
      - key: dedicated
        operator: Equal
        value: ci
        effect: NoSchedule
    pod_pending_timeout: 10m
    pod_running_timeout: 48h0m0s
    run_as_user: 1000
    fs_group: 2000
  reporter_config:
    slack:
      channel: ci-alerts
      job_states_to_report: [failure, error]
      report: true
  rerun_auth_config:
    github_team_slugs:
    - slug: ci-admins
      org: acme
    github_users: [alice]
  hidden: true
  prowjob_defaults:
    tenant_id: acme-tenant
    resultstore_config:
      project_id: acme-project
  job_queue_name: gpu
status:
  startTime: "2026-11-25T10:00:00Z"
  pendingTime: "2026-11-25T10:00:05Z"
  completionTime: "2026-11-25T10:12:00Z"
  state: failure
  description: Job failed.
  url: https://prow.example.com/view/gs/acme-prow/pr-logs/pull/acme_foo/42/pull-foo-unit/1790000000000000000
  pod_revival_count: 1
  pod_name: 3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f
  build_id: "1790000000000000000"
  prev_report_states:
    gcsreporter: failure
    github-reporter: failure
"#;

#[test]
fn yaml_prowjob_reads_and_writes_back_without_loss() {
    let pj: ProwJob = serde_norway::from_str(PRESUBMIT_YAML).unwrap();
    assert_eq!(pj.spec.refs.as_ref().unwrap().pulls[0].head_ref, "fix-x");
    assert_eq!(pj.status.state, prow_core::prowjob::ProwJobState::Failure);
    let dc = pj.spec.decoration_config.as_ref().unwrap();
    assert_eq!(
        dc.timeout.as_ref().unwrap().to_std(),
        Ok(std::time::Duration::from_secs(7200))
    );

    let written = serde_json::to_value(&pj).unwrap();
    let original: Value = serde_norway::from_str(PRESUBMIT_YAML).unwrap();
    assert_eq!(written, original);
    let again: ProwJob = serde_json::from_value(written).unwrap();
    assert_eq!(again, pj);
}

#[test]
fn built_prowjob_survives_json_and_yaml() {
    use prow_core::prowjob::{DecorationConfig, GoDuration, ProwJobState, ProwJobType, Pull, Refs};
    let pj = ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
        .name("3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f")
        .refs(
            Refs::new("acme", "foo")
                .base("main", "aaaa")
                .pull(Pull::new(42, "alice", "bbbb")),
        )
        .extra_refs(Refs::new("acme", "tools").base("main", ""))
        .context("pull-foo-unit")
        .label("prow.k8s.io/refs.pull", "42")
        .decoration(DecorationConfig {
            timeout: Some(GoDuration::parse("2h").unwrap()),
            ..DecorationConfig::default()
        })
        .completed(ProwJobState::Success)
        .prev_report_state("github-reporter", ProwJobState::Success)
        .build();
    let json = serde_json::to_string(&pj).unwrap();
    assert_eq!(serde_json::from_str::<ProwJob>(&json).unwrap(), pj);
    let yaml = serde_norway::to_string(&pj).unwrap();
    assert_eq!(serde_norway::from_str::<ProwJob>(&yaml).unwrap(), pj);
    // Timestamps are RFC 3339 at second precision, like metav1.Time.
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["status"]["completionTime"], "2023-11-14T22:23:20Z");
    assert_eq!(value["spec"]["decoration_config"]["timeout"], "2h");
}
