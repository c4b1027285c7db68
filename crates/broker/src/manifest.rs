//! Typed models of the Knative resources in `eventing/*.yaml` (only the fields we use) and their loader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::delivery::{DeliveryError, RetryPolicy};
use crate::filter::{FilterError, TriggerFilter};

/// Everything the in-process eventing needs, read from one or more manifest files.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    pub brokers: Vec<Broker>,
    pub triggers: Vec<Trigger>,
    pub ping_sources: Vec<PingSource>,
    pub api_server_sources: Vec<ApiServerSource>,
}

/// Why manifests could not be loaded; each variant names the file (and document) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin} document {doc}: {source}")]
    Yaml {
        origin: String,
        doc: usize,
        source: serde_norway::Error,
    },
    /// `location` reads `<file> document <n>: <Kind> <namespace>/<name>`.
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
}

/// `metadata` as far as we read it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    /// Namespace as written; `None` means the namespace `kubectl apply` would pick (we use `default`).
    #[serde(default)]
    pub namespace: Option<String>,
}

impl ObjectMeta {
    /// The namespace the object lands in when applied without `-n`.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

/// `duckv1.KReference`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `duckv1.Destination`: a reference, a URI, or a reference plus a relative URI.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Destination {
    #[serde(default, rename = "ref")]
    pub reference: Option<KReference>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// Host of Knative's multi-tenant broker ingress; a sink URI `http://<host>/<ns>/<broker>` is how a
/// source in another namespace (which may not `ref` across namespaces) addresses a Broker.
pub const BROKER_INGRESS_HOST: &str = "broker-ingress.knative-eventing.svc.cluster.local";

impl Destination {
    /// The Broker this destination delivers to: a `ref` to an `eventing.knative.dev` Broker
    /// (namespace defaulting to `namespace`), or the broker ingress URL of one.
    pub fn broker_key(&self, namespace: &str) -> Option<crate::BrokerKey> {
        if let Some(r) = &self.reference {
            return (r.kind == "Broker" && r.api_version.starts_with("eventing.knative.dev/"))
                .then(|| {
                    crate::BrokerKey::new(
                        r.namespace.clone().unwrap_or_else(|| namespace.to_string()),
                        &r.name,
                    )
                });
        }
        let uri = self.uri.as_deref()?;
        let rest = uri
            .strip_prefix("http://")
            .or_else(|| uri.strip_prefix("https://"))?;
        let (host, path) = rest.split_once('/')?;
        let host = host.split(':').next()?;
        if host != BROKER_INGRESS_HOST {
            return None;
        }
        match path
            .trim_end_matches('/')
            .split('/')
            .collect::<Vec<_>>()
            .as_slice()
        {
            [ns, name] if !ns.is_empty() && !name.is_empty() => {
                Some(crate::BrokerKey::new(*ns, *name))
            }
            _ => None,
        }
    }
}

/// `eventingduckv1.DeliverySpec`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeliverySpec {
    #[serde(default)]
    pub retry: Option<i32>,
    #[serde(default)]
    pub backoff_policy: Option<String>,
    #[serde(default)]
    pub backoff_delay: Option<String>,
    #[serde(default)]
    pub dead_letter_sink: Option<Destination>,
    #[serde(default)]
    pub timeout: Option<String>,
    /// `binary` or `json` (structured mode).
    #[serde(default)]
    pub format: Option<String>,
}

/// `eventing.knative.dev/v1` Broker.
#[derive(Debug, Clone, Deserialize)]
pub struct Broker {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: BrokerSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BrokerSpec {
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

/// `eventing.knative.dev/v1` Trigger.
#[derive(Debug, Clone, Deserialize)]
pub struct Trigger {
    pub metadata: ObjectMeta,
    pub spec: TriggerSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpec {
    #[serde(default)]
    pub broker: Option<String>,
    #[serde(default)]
    pub broker_ref: Option<KReference>,
    #[serde(default)]
    pub filter: Option<AttributesFilterSpec>,
    #[serde(default)]
    pub filters: Vec<SubscriptionsApiFilter>,
    pub subscriber: Destination,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

impl Trigger {
    /// Name of the Broker this Trigger subscribes to (same namespace as the Trigger).
    pub fn broker_name(&self) -> &str {
        self.spec
            .broker
            .as_deref()
            .filter(|b| !b.is_empty())
            .or(self.spec.broker_ref.as_ref().map(|r| r.name.as_str()))
            .unwrap_or_default()
    }
}

/// Legacy `spec.filter` of a Trigger.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AttributesFilterSpec {
    /// `None` (no `attributes` key) and `Some(empty)` behave differently in Knative.
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// One entry of the newer `spec.filters` dialect list.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct SubscriptionsApiFilter {
    #[serde(default)]
    pub all: Vec<SubscriptionsApiFilter>,
    #[serde(default)]
    pub any: Vec<SubscriptionsApiFilter>,
    #[serde(default)]
    pub not: Option<Box<SubscriptionsApiFilter>>,
    #[serde(default)]
    pub exact: BTreeMap<String, String>,
    #[serde(default)]
    pub prefix: BTreeMap<String, String>,
    #[serde(default)]
    pub suffix: BTreeMap<String, String>,
    #[serde(default)]
    pub cesql: Option<String>,
}

/// `ceOverrides` of a source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct CloudEventOverrides {
    #[serde(default)]
    pub extensions: BTreeMap<String, String>,
}

/// `sources.knative.dev/v1` PingSource.
#[derive(Debug, Clone, Deserialize)]
pub struct PingSource {
    pub metadata: ObjectMeta,
    pub spec: PingSourceSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingSourceSpec {
    /// Knative defaults an empty schedule to every minute.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub data_base64: Option<String>,
    pub sink: Destination,
    #[serde(default)]
    pub ce_overrides: Option<CloudEventOverrides>,
}

impl PingSourceSpec {
    /// The schedule after Knative's defaulting.
    pub fn schedule(&self) -> &str {
        match self.schedule.as_deref() {
            Some(s) if !s.trim().is_empty() => s,
            _ => "* * * * *",
        }
    }
}

/// `sources.knative.dev/v1` ApiServerSource.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiServerSource {
    pub metadata: ObjectMeta,
    pub spec: ApiServerSourceSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerSourceSpec {
    /// `Reference` (Knative's default) or `Resource`.
    #[serde(default)]
    pub mode: Option<String>,
    pub resources: Vec<ApiServerResource>,
    #[serde(default)]
    pub service_account_name: Option<String>,
    pub sink: Destination,
    #[serde(default)]
    pub ce_overrides: Option<CloudEventOverrides>,
    #[serde(default)]
    pub filters: Vec<SubscriptionsApiFilter>,
    /// Only objects whose controller matches are reported.
    #[serde(default)]
    pub owner: Option<ApiVersionKind>,
    /// Watching namespaces other than the source's own is not supported in process.
    #[serde(default)]
    pub namespace_selector: Option<serde_norway::Value>,
}

/// `owner` of an ApiServerSource; empty fields match anything.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersionKind {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
}

/// One watched resource of an ApiServerSource.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerResource {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

/// `metav1.LabelSelector`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// The selector in the query-string form the API server takes (`labelSelector=`).
    pub fn to_query(&self) -> Result<String, String> {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for req in &self.match_expressions {
            let values = {
                let mut v = req.values.clone();
                v.sort();
                v.join(",")
            };
            let part = match req.operator.as_str() {
                "In" if !req.values.is_empty() => format!("{} in ({values})", req.key),
                "NotIn" if !req.values.is_empty() => format!("{} notin ({values})", req.key),
                "Exists" if req.values.is_empty() => req.key.clone(),
                "DoesNotExist" if req.values.is_empty() => format!("!{}", req.key),
                op => {
                    return Err(format!(
                        "invalid label selector requirement {} {op} {values:?}",
                        req.key
                    ));
                }
            };
            parts.push(part);
        }
        Ok(parts.join(","))
    }
}

impl Manifests {
    /// Loads every `*.yaml`/`*.yml` file of `dir` (not recursive), in file-name order.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let dir = dir.as_ref();
        let io = |source| ManifestError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let is_yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yaml" || e == "yml");
            if is_yaml && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut all = Manifests::default();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io {
                path: path.clone(),
                source,
            })?;
            all.add_str(&text, &path.display().to_string())?;
        }
        Ok(all)
    }

    /// Parses one multi-document YAML text; `origin` names it in errors.
    pub fn parse_str(text: &str, origin: &str) -> Result<Self, ManifestError> {
        let mut all = Manifests::default();
        all.add_str(text, origin)?;
        Ok(all)
    }

    fn add_str(&mut self, text: &str, origin: &str) -> Result<(), ManifestError> {
        for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
            let doc = index + 1;
            let yaml_err = |source| ManifestError::Yaml {
                origin: origin.to_string(),
                doc,
                source,
            };
            let value = serde_norway::Value::deserialize(document).map_err(yaml_err)?;
            if value.is_null() {
                continue;
            }
            let field = |name: &str| {
                value
                    .get(name)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let (api_version, kind) = (field("apiVersion"), field("kind"));
            let group = api_version.split('/').next().unwrap_or_default();
            let invalid = |meta: &ObjectMeta, message: String| ManifestError::Invalid {
                location: format!(
                    "{origin} document {doc}: {kind} {}/{}",
                    meta.namespace(),
                    meta.name
                ),
                message,
            };
            match (group, kind.as_str()) {
                ("eventing.knative.dev", "Broker") => {
                    let broker: Broker = serde_norway::from_value(value).map_err(yaml_err)?;
                    if let Some(delivery) = &broker.spec.delivery {
                        RetryPolicy::from_spec(delivery)
                            .map_err(|e: DeliveryError| invalid(&broker.metadata, e.to_string()))?;
                    }
                    self.brokers.push(broker);
                }
                ("eventing.knative.dev", "Trigger") => {
                    let trigger: Trigger = serde_norway::from_value(value).map_err(yaml_err)?;
                    validate_trigger(&trigger).map_err(|m| invalid(&trigger.metadata, m))?;
                    self.triggers.push(trigger);
                }
                ("sources.knative.dev", "PingSource") => {
                    let source: PingSource = serde_norway::from_value(value).map_err(yaml_err)?;
                    crate::ping::validate(&source)
                        .map_err(|e| invalid(&source.metadata, e.to_string()))?;
                    self.ping_sources.push(source);
                }
                ("sources.knative.dev", "ApiServerSource") => {
                    let source: ApiServerSource =
                        serde_norway::from_value(value).map_err(yaml_err)?;
                    validate_api_server_source(&source)
                        .map_err(|m| invalid(&source.metadata, m))?;
                    self.api_server_sources.push(source);
                }
                // RBAC, ServiceAccounts and Services live beside the eventing objects; they matter
                // to the cluster, not to the in-process stand-in.
                _ => {}
            }
        }
        Ok(())
    }

    /// Appends all objects of `other`.
    pub fn extend(&mut self, other: Manifests) {
        self.brokers.extend(other.brokers);
        self.triggers.extend(other.triggers);
        self.ping_sources.extend(other.ping_sources);
        self.api_server_sources.extend(other.api_server_sources);
    }
}

fn validate_trigger(trigger: &Trigger) -> Result<(), String> {
    if trigger.broker_name().is_empty() {
        return Err("spec.broker is required".into());
    }
    validate_destination(&trigger.spec.subscriber).map_err(|m| format!("spec.subscriber: {m}"))?;
    TriggerFilter::compile(&trigger.spec).map_err(|e: FilterError| e.to_string())?;
    if let Some(delivery) = &trigger.spec.delivery {
        RetryPolicy::from_spec(delivery).map_err(|e| format!("spec.delivery: {e}"))?;
        if let Some(dls) = &delivery.dead_letter_sink {
            validate_destination(dls).map_err(|m| format!("spec.delivery.deadLetterSink: {m}"))?;
        }
    }
    Ok(())
}

fn validate_api_server_source(source: &ApiServerSource) -> Result<(), String> {
    match source.spec.mode.as_deref() {
        None | Some("Reference" | "Resource") => {}
        Some(other) => {
            return Err(format!(
                "spec.mode {other:?} is neither Reference nor Resource"
            ));
        }
    }
    if source.spec.namespace_selector.is_some() {
        return Err(
            "spec.namespaceSelector is not supported by the in-process adapter: \
                    use one ApiServerSource per namespace"
                .into(),
        );
    }
    if source.spec.resources.is_empty() {
        return Err("spec.resources must not be empty".into());
    }
    for res in &source.spec.resources {
        if let Some(selector) = &res.selector {
            selector.to_query()?;
        }
    }
    crate::filter::Filter::compile_list(&source.spec.filters).map_err(|e| e.to_string())?;
    validate_destination(&source.spec.sink).map_err(|m| format!("spec.sink: {m}"))
}

fn validate_destination(dest: &Destination) -> Result<(), String> {
    match (&dest.reference, &dest.uri) {
        (None, None) => Err("expected ref or uri".into()),
        (Some(r), _) if r.name.is_empty() || r.kind.is_empty() => {
            Err("ref needs kind and name".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: prow}
spec:
  delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT1S}
---
# a comment-only document is skipped
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: apiserversource, namespace: prow}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t, namespace: prow, labels: {a: b}}
spec:
  broker: default
  filter: {attributes: {type: x}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: trigger}, uri: /events}
  unknownField: tolerated
"#;

    #[test]
    fn multi_document_yaml_keeps_eventing_objects_and_skips_the_rest() {
        let m = Manifests::parse_str(SAMPLE, "sample.yaml").unwrap();
        assert_eq!(m.brokers.len(), 1);
        assert_eq!(m.brokers[0].spec.delivery.as_ref().unwrap().retry, Some(2));
        assert_eq!(m.triggers.len(), 1);
        let t = &m.triggers[0];
        assert_eq!(t.broker_name(), "default");
        assert_eq!(t.metadata.namespace(), "prow");
        assert_eq!(t.spec.subscriber.uri.as_deref(), Some("/events"));
        assert_eq!(
            t.spec.subscriber.reference.as_ref().unwrap().name,
            "trigger"
        );
    }

    #[test]
    fn invalid_objects_are_reported_with_origin_document_and_name() {
        let cases = [
            (
                "kind: Trigger\napiVersion: eventing.knative.dev/v1\nmetadata: {name: t1, namespace: prow}\nspec: {broker: default, filters: [{cesql: \"type = 'x'\"}], subscriber: {uri: /x}}",
                "CESQL",
            ),
            (
                "kind: Trigger\napiVersion: eventing.knative.dev/v1\nmetadata: {name: t2}\nspec: {broker: default, filters: [{exact: {type: a}, prefix: {type: b}}], subscriber: {uri: /x}}",
                "multiple dialects",
            ),
            (
                "kind: Trigger\napiVersion: eventing.knative.dev/v1\nmetadata: {name: t3}\nspec: {broker: default, filter: {attributes: {Type: a}}, subscriber: {uri: /x}}",
                "attribute name",
            ),
            (
                "kind: Broker\napiVersion: eventing.knative.dev/v1\nmetadata: {name: b}\nspec: {delivery: {backoffDelay: 5s, backoffPolicy: linear}}",
                "ISO-8601",
            ),
            (
                "kind: Broker\napiVersion: eventing.knative.dev/v1\nmetadata: {name: b}\nspec: {delivery: {backoffPolicy: fibonacci}}",
                "backoffPolicy",
            ),
            (
                "kind: Trigger\napiVersion: eventing.knative.dev/v1\nmetadata: {name: t4}\nspec: {subscriber: {uri: /x}}",
                "spec.broker",
            ),
            (
                "kind: ApiServerSource\napiVersion: sources.knative.dev/v1\nmetadata: {name: a}\nspec: {mode: Everything, resources: [{apiVersion: v1, kind: Pod}], sink: {uri: /x}}",
                "spec.mode",
            ),
            (
                "kind: ApiServerSource\napiVersion: sources.knative.dev/v1\nmetadata: {name: a}\nspec: {namespaceSelector: {matchLabels: {a: b}}, resources: [{apiVersion: v1, kind: Pod}], sink: {uri: /x}}",
                "namespaceSelector",
            ),
            (
                "kind: PingSource\napiVersion: sources.knative.dev/v1\nmetadata: {name: p}\nspec: {schedule: 'every minute', sink: {uri: /x}}",
                "schedule",
            ),
        ];
        for (yaml, needle) in cases {
            let err = Manifests::parse_str(yaml, "bad.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.contains("bad.yaml document 1"), "{err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }

    #[test]
    fn label_selectors_render_like_the_api_server_expects() {
        let sel = LabelSelector {
            match_labels: [("created-by-prow".to_string(), "true".to_string())].into(),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: vec!["b".into(), "a".into()],
                },
                LabelSelectorRequirement {
                    key: "gone".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ],
        };
        assert_eq!(
            sel.to_query().unwrap(),
            "created-by-prow=true,tier in (a,b),!gone"
        );
        let bad = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "In".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(bad.to_query().is_err());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod destination_tests {
    use super::*;
    use crate::BrokerKey;

    #[test]
    fn destinations_resolve_to_brokers_by_ref_or_ingress_url() {
        let parse = |y: &str| serde_norway::from_str::<Destination>(y).unwrap();
        let by_ref =
            parse("ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}");
        assert_eq!(
            by_ref.broker_key("prow"),
            Some(BrokerKey::new("prow", "default"))
        );
        let service = parse("ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: x}");
        assert_eq!(service.broker_key("prow"), None);
        let by_url =
            parse("uri: http://broker-ingress.knative-eventing.svc.cluster.local/prow/default");
        assert_eq!(
            by_url.broker_key("test-pods"),
            Some(BrokerKey::new("prow", "default"))
        );
        for uri in [
            "http://example.com/prow/default",
            "http://broker-ingress.knative-eventing.svc.cluster.local/prow",
            "ftp://broker-ingress.knative-eventing.svc.cluster.local/a/b",
        ] {
            let d = Destination {
                reference: None,
                uri: Some(uri.into()),
            };
            assert_eq!(d.broker_key("x"), None, "{uri}");
        }
    }
}
