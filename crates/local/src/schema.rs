//! A small structural-schema (CRD openAPIV3Schema) validator that prunes unknown fields and reports field paths.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::error::Cause;

/// The ProwJob CRD this server enforces; the same file `kubectl apply -f config/` installs in a cluster.
const PROWJOB_CRD: &str = include_str!("../../../config/prowjob-crd.yaml");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("CRD is not valid YAML: {0}")]
    Yaml(String),
    #[error("CRD has no served version {0} with an openAPIV3Schema")]
    MissingVersion(String),
    #[error("schema at {path}: {message}")]
    Malformed { path: String, message: String },
}

#[derive(Debug, Clone, Default)]
enum Additional {
    /// No `additionalProperties`: unknown keys are pruned.
    #[default]
    Prune,
    /// `additionalProperties: true` or `{}`: anything goes.
    Any,
    Schema(Box<Schema>),
}

/// One node of a structural schema, reduced to what validation and pruning need.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    ty: Option<String>,
    properties: BTreeMap<String, Schema>,
    required: Vec<String>,
    enum_values: Option<Vec<Value>>,
    items: Option<Box<Schema>>,
    additional: Additional,
    nullable: bool,
    preserve_unknown: bool,
    int_or_string: bool,
    format: Option<String>,
    pattern: Option<(String, Regex)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
}

/// What validating one object found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Violations, reported as 422 causes.
    pub causes: Vec<Cause>,
    /// Paths of unknown fields that were removed (reported under strict field validation).
    pub pruned: Vec<String>,
}

impl Schema {
    /// Builds a schema from its JSON form (`openAPIV3Schema`).
    pub fn from_json(value: &Value) -> Result<Schema, SchemaError> {
        Self::parse(value, "openAPIV3Schema")
    }

    fn parse(value: &Value, path: &str) -> Result<Schema, SchemaError> {
        let malformed = |message: &str| SchemaError::Malformed {
            path: path.to_string(),
            message: message.to_string(),
        };
        let obj = value
            .as_object()
            .ok_or_else(|| malformed("not an object"))?;
        let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
        let mut schema = Schema {
            ty: obj.get("type").and_then(Value::as_str).map(str::to_string),
            nullable: flag("nullable"),
            preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
            int_or_string: flag("x-kubernetes-int-or-string"),
            format: obj
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string),
            minimum: obj.get("minimum").and_then(Value::as_f64),
            maximum: obj.get("maximum").and_then(Value::as_f64),
            enum_values: obj.get("enum").and_then(Value::as_array).cloned(),
            ..Schema::default()
        };
        if let Some(props) = obj.get("properties") {
            let props = props
                .as_object()
                .ok_or_else(|| malformed("properties is not an object"))?;
            for (name, sub) in props {
                let sub = Self::parse(sub, &format!("{path}.properties.{name}"))?;
                schema.properties.insert(name.clone(), sub);
            }
        }
        if let Some(required) = obj.get("required").and_then(Value::as_array) {
            schema.required = required
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        if let Some(items) = obj.get("items") {
            schema.items = Some(Box::new(Self::parse(items, &format!("{path}.items"))?));
        }
        schema.additional = match obj.get("additionalProperties") {
            None | Some(Value::Bool(false)) => Additional::Prune,
            Some(Value::Bool(true)) => Additional::Any,
            Some(sub) => Additional::Schema(Box::new(Self::parse(
                sub,
                &format!("{path}.additionalProperties"),
            )?)),
        };
        if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
            let re = Regex::new(pattern).map_err(|e| malformed(&format!("bad pattern: {e}")))?;
            schema.pattern = Some((pattern.to_string(), re));
        }
        Ok(schema)
    }

    /// Validates `value` in place, pruning unknown fields and nulls in non-nullable fields.
    ///
    /// `metadata`, `apiVersion` and `kind` at the root are left alone: ObjectMeta is validated elsewhere.
    pub fn validate(&self, value: &mut Value) -> Outcome {
        let mut outcome = Outcome::default();
        if let Value::Object(map) = value {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if matches!(key.as_str(), "metadata" | "apiVersion" | "kind") {
                    continue;
                }
                self.visit_property(map, &key, "", &mut outcome);
            }
            self.check_required(map, "", &mut outcome);
        }
        outcome.pruned.sort();
        outcome
    }

    fn visit_property(
        &self,
        map: &mut serde_json::Map<String, Value>,
        key: &str,
        parent: &str,
        out: &mut Outcome,
    ) {
        let path = join(parent, key);
        let child_schema = match self.properties.get(key) {
            Some(s) => Some(s),
            None => match &self.additional {
                Additional::Schema(s) => Some(s.as_ref()),
                Additional::Any => return,
                Additional::Prune if self.preserve_unknown => return,
                Additional::Prune => {
                    map.remove(key);
                    out.pruned.push(path);
                    return;
                }
            },
        };
        if let (Some(schema), Some(child)) = (child_schema, map.get_mut(key))
            && !schema.visit(child, &path, out)
        {
            map.remove(key);
        }
    }

    fn check_required(
        &self,
        map: &serde_json::Map<String, Value>,
        parent: &str,
        out: &mut Outcome,
    ) {
        for name in &self.required {
            if !map.contains_key(name) {
                out.causes.push(Cause {
                    reason: "FieldValueRequired",
                    message: "Required value".into(),
                    field: join(parent, name),
                });
            }
        }
    }

    /// Checks one value; returns false when the value must be dropped (a null where null is not allowed).
    fn visit(&self, value: &mut Value, path: &str, out: &mut Outcome) -> bool {
        if value.is_null() {
            return self.nullable;
        }
        if self.int_or_string {
            if !(value.is_string() || is_integer(value)) {
                out.causes
                    .push(type_cause(path, value, "integer-or-string"));
            }
            return true;
        }
        match self.ty.as_deref() {
            Some("object") => match &mut *value {
                Value::Object(map) => {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    for key in keys {
                        self.visit_property(map, &key, path, out);
                    }
                    self.check_required(map, path, out);
                }
                _ => out.causes.push(type_cause(path, value, "object")),
            },
            Some("array") => match &mut *value {
                Value::Array(items) => {
                    if let Some(item_schema) = &self.items {
                        let mut i = 0;
                        items.retain_mut(|item| {
                            let keep = item_schema.visit(item, &format!("{path}[{i}]"), out);
                            i += 1;
                            keep
                        });
                    }
                }
                _ => out.causes.push(type_cause(path, value, "array")),
            },
            Some("string") => match &*value {
                Value::String(s) => self.check_string(s, path, out),
                _ => out.causes.push(type_cause(path, value, "string")),
            },
            Some("integer") if !is_integer(value) => {
                out.causes.push(type_cause(path, value, "integer"));
            }
            Some("number") if !value.is_number() => {
                out.causes.push(type_cause(path, value, "number"));
            }
            Some("boolean") if !value.is_boolean() => {
                out.causes.push(type_cause(path, value, "boolean"));
            }
            _ => {}
        }
        if let Some(n) = value.as_f64() {
            self.check_bounds(n, path, out);
        }
        if let Some(allowed) = &self.enum_values
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
            out.causes.push(Cause {
                reason: "FieldValueNotSupported",
                message: format!(
                    "Unsupported value: {value}: supported values: {}",
                    supported.join(", ")
                ),
                field: path.to_string(),
            });
        }
        true
    }

    fn check_string(&self, s: &str, path: &str, out: &mut Outcome) {
        if self.format.as_deref() == Some("date-time")
            && chrono::DateTime::parse_from_rfc3339(s).is_err()
        {
            out.causes.push(Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: {s:?}: {path} in body must be of type date-time: {s:?}"
                ),
                field: path.to_string(),
            });
        }
        if let Some((source, re)) = &self.pattern
            && !re.is_match(s)
        {
            out.causes.push(Cause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: {s:?}: {path} in body should match '{source}'"),
                field: path.to_string(),
            });
        }
    }

    fn check_bounds(&self, n: f64, path: &str, out: &mut Outcome) {
        let violated = [
            (
                self.minimum.filter(|min| n < *min),
                "greater than or equal to",
            ),
            (self.maximum.filter(|max| n > *max), "less than or equal to"),
        ];
        for (bound, relation) in violated {
            if let Some(bound) = bound {
                out.causes.push(Cause {
                    reason: "FieldValueInvalid",
                    message: format!(
                        "Invalid value: {n}: {path} in body should be {relation} {bound}"
                    ),
                    field: path.to_string(),
                });
            }
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_cause(path: &str, value: &Value, want: &str) -> Cause {
    let got = json_type_name(value);
    Cause {
        reason: "FieldValueTypeInvalid",
        message: format!(
            "Invalid value: \"{got}\": {path} in body must be of type {want}: \"{got}\""
        ),
        field: path.to_string(),
    }
}

/// The parsed ProwJob CRD: its `openAPIV3Schema` as JSON (served at `/openapi/v3`) and as a validator.
#[derive(Debug)]
pub struct CrdSchema {
    pub openapi: Value,
    pub schema: Schema,
}

impl CrdSchema {
    /// Reads version `version`'s schema out of a CustomResourceDefinition YAML document.
    pub fn from_crd_yaml(yaml: &str, version: &str) -> Result<CrdSchema, SchemaError> {
        let crd: Value =
            serde_norway::from_str(yaml).map_err(|e| SchemaError::Yaml(e.to_string()))?;
        let openapi = crd["spec"]["versions"]
            .as_array()
            .and_then(|versions| versions.iter().find(|v| v["name"] == version))
            .map(|v| v["schema"]["openAPIV3Schema"].clone())
            .filter(Value::is_object)
            .ok_or_else(|| SchemaError::MissingVersion(version.to_string()))?;
        let schema = Schema::from_json(&openapi)?;
        Ok(CrdSchema { openapi, schema })
    }
}

/// The embedded ProwJob v1 schema, parsed once per process.
pub fn prowjob() -> Result<&'static CrdSchema, SchemaError> {
    static PARSED: OnceLock<Result<CrdSchema, SchemaError>> = OnceLock::new();
    PARSED
        .get_or_init(|| CrdSchema::from_crd_yaml(PROWJOB_CRD, "v1"))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn small() -> Schema {
        Schema::from_json(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["job"],
                    "properties": {
                        "job": {"type": "string"},
                        "type": {"type": "string", "enum": ["presubmit", "periodic"]},
                        "max": {"type": "integer", "minimum": 0},
                        "qty": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "start": {"type": "string", "format": "date-time"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "maybe": {"type": "string", "nullable": true},
                        "name": {"type": "string", "pattern": "^[a-z]+$"},
                        "pulls": {"type": "array", "items": {
                            "type": "object", "required": ["number"],
                            "properties": {"number": {"type": "integer"}}
                        }}
                    }
                }
            }
        }))
        .unwrap()
    }

    fn fields(outcome: &Outcome) -> Vec<(&str, &str)> {
        outcome
            .causes
            .iter()
            .map(|c| (c.field.as_str(), c.reason))
            .collect()
    }

    #[test]
    fn reports_each_violation_with_its_field_path() {
        let cases = [
            (json!({"spec": {"job": "j"}}), vec![]),
            (
                json!({"spec": {}}),
                vec![("spec.job", "FieldValueRequired")],
            ),
            (
                json!({"spec": {"job": 1}}),
                vec![("spec.job", "FieldValueTypeInvalid")],
            ),
            (
                json!({"spec": {"job": "j", "type": "bogus"}}),
                vec![("spec.type", "FieldValueNotSupported")],
            ),
            (
                json!({"spec": {"job": "j", "max": -1}}),
                vec![("spec.max", "FieldValueInvalid")],
            ),
            (
                json!({"spec": {"job": "j", "max": 1.5}}),
                vec![("spec.max", "FieldValueTypeInvalid")],
            ),
            (json!({"spec": {"job": "j", "qty": "1Gi"}}), vec![]),
            (json!({"spec": {"job": "j", "qty": 3}}), vec![]),
            (
                json!({"spec": {"job": "j", "qty": true}}),
                vec![("spec.qty", "FieldValueTypeInvalid")],
            ),
            (
                json!({"spec": {"job": "j", "start": "2024-01-02T03:04:05Z"}}),
                vec![],
            ),
            (
                json!({"spec": {"job": "j", "start": "yesterday"}}),
                vec![("spec.start", "FieldValueInvalid")],
            ),
            (
                json!({"spec": {"job": "j", "labels": {"a": 1}}}),
                vec![("spec.labels.a", "FieldValueTypeInvalid")],
            ),
            (
                json!({"spec": {"job": "j", "name": "ABC"}}),
                vec![("spec.name", "FieldValueInvalid")],
            ),
            (
                json!({"spec": {"job": "j", "pulls": [{"number": 1}, {}]}}),
                vec![("spec.pulls[1].number", "FieldValueRequired")],
            ),
            (
                json!({"spec": "x"}),
                vec![("spec", "FieldValueTypeInvalid")],
            ),
        ];
        let schema = small();
        for (mut obj, want) in cases {
            let input = obj.to_string();
            let outcome = schema.validate(&mut obj);
            assert_eq!(fields(&outcome), want, "{input}");
        }
    }

    #[test]
    fn prunes_unknown_fields_and_non_nullable_nulls() {
        let mut obj = json!({
            "metadata": {"name": "x", "whatever": 1},
            "spec": {"job": "j", "extra": 1, "free": {"any": {"thing": 1}}, "maybe": null, "type": null},
            "bogus": true
        });
        let outcome = small().validate(&mut obj);
        assert!(outcome.causes.is_empty(), "{:?}", outcome.causes);
        assert_eq!(
            outcome.pruned,
            vec!["bogus".to_string(), "spec.extra".to_string()]
        );
        assert_eq!(
            obj,
            json!({
                "metadata": {"name": "x", "whatever": 1},
                "spec": {"job": "j", "free": {"any": {"thing": 1}}, "maybe": null}
            })
        );
    }

    #[test]
    fn the_embedded_prowjob_crd_accepts_a_typical_job_and_rejects_a_bad_type() {
        let crd = prowjob().unwrap();
        let mut good = json!({
            "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
            "metadata": {"name": "a"},
            "spec": {"type": "presubmit", "job": "pull-test", "agent": "kubernetes",
                     "refs": {"org": "o", "repo": "r", "base_ref": "main", "pulls": [{"number": 1, "author": "me", "sha": "abc"}]},
                     "pod_spec": {"containers": [{"name": "test", "image": "alpine", "resources": {"requests": {"cpu": "1", "memory": 100}}}]}},
            "status": {"state": "triggered", "startTime": "2024-01-02T03:04:05Z"}
        });
        let outcome = crd.schema.validate(&mut good);
        assert_eq!(outcome, Outcome::default());
        let mut bad =
            json!({"spec": {"type": "bogus", "job": "x"}, "status": {"startTime": "now"}});
        let outcome = crd.schema.validate(&mut bad);
        let got: Vec<&str> = outcome.causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(got, vec!["spec.type", "status.startTime", "status.state"]);
    }
}
