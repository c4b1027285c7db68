//! The four PATCH flavours (JSON merge, JSON patch, strategic merge, server-side apply) applied to JSON objects.

use serde_json::{Map, Value};

/// Patch format, chosen by the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 7386 `application/merge-patch+json`.
    Merge,
    /// RFC 6902 `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`: a merge patch whose known lists merge by key.
    Strategic,
    /// `application/apply-patch+yaml`: handled as create-or-merge (no field ownership tracking).
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Option<PatchKind> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("error decoding patch: {0}")]
    Decode(String),
    /// A JSON-patch `test` operation did not hold (Kubernetes answers 409).
    #[error("the server rejected our request due to an error in our request: {0}")]
    TestFailed(String),
    #[error("the server rejected our request due to an error in our request: {0}")]
    Apply(String),
}

/// Parses `body` as a patch of `kind`; the result is applied with [`apply`].
pub fn decode(kind: PatchKind, body: &[u8]) -> Result<Value, PatchError> {
    let decoded = match kind {
        PatchKind::Apply => serde_norway::from_slice::<Value>(body).map_err(|e| e.to_string()),
        _ => serde_json::from_slice::<Value>(body).map_err(|e| e.to_string()),
    };
    let patch = decoded.map_err(PatchError::Decode)?;
    let shape_ok = match kind {
        PatchKind::Json => patch.is_array(),
        _ => patch.is_object(),
    };
    if shape_ok {
        Ok(patch)
    } else {
        Err(PatchError::Decode(format!(
            "unexpected patch shape for {kind:?}"
        )))
    }
}

/// Applies a decoded patch to `target` in place.
pub fn apply(kind: PatchKind, target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    match kind {
        PatchKind::Merge | PatchKind::Apply => {
            json_patch::merge(target, patch);
            Ok(())
        }
        PatchKind::Strategic => {
            strategic_merge(target, patch);
            Ok(())
        }
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| PatchError::Decode(e.to_string()))?;
            json_patch::patch(target, &ops).map_err(|e| match e.kind {
                json_patch::PatchErrorKind::TestFailed => PatchError::TestFailed(e.to_string()),
                _ => PatchError::Apply(e.to_string()),
            })
        }
    }
}

/// The merge key of lists that strategic merge combines item by item, keyed by the list's field name.
///
/// Real servers look this up per type in the OpenAPI schema; field names are unambiguous enough for
/// the pod fields kubectl patches (containers, env, volumes, ...). Other lists are replaced.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses"
        | "ephemeralContainerStatuses"
        | "resourceClaims" => Some("name"),
        "volumeMounts" | "volumeDevices" => Some("mountPath"),
        "ports" => Some("containerPort"),
        "conditions" => Some("type"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

fn directive(value: &Value) -> Option<&str> {
    value.get("$patch").and_then(Value::as_str)
}

/// Copies a patch fragment, dropping `$`-directives that must never be stored.
fn without_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if directive(patch) == Some("replace") {
        *target = without_directives(patch);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(target_map) = target.as_object_mut() else {
        return;
    };
    for (key, value) in patch_map {
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Array(items) => match (merge_key(key), target_map.get_mut(key)) {
                (Some(merge_on), Some(Value::Array(existing))) => {
                    merge_list(existing, items, merge_on);
                }
                _ => {
                    let kept: Vec<Value> = items
                        .iter()
                        .filter(|item| directive(item).is_none())
                        .map(without_directives)
                        .collect();
                    target_map.insert(key.clone(), Value::Array(kept));
                }
            },
            Value::Object(_) if directive(value) == Some("delete") => {
                target_map.remove(key);
            }
            Value::Object(_) => {
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value);
            }
            other => {
                target_map.insert(key.clone(), other.clone());
            }
        }
    }
}

fn merge_list(existing: &mut Vec<Value>, patch_items: &[Value], merge_on: &str) {
    if patch_items
        .iter()
        .any(|item| directive(item) == Some("replace"))
    {
        *existing = patch_items
            .iter()
            .filter(|item| directive(item).is_none())
            .map(without_directives)
            .collect();
        return;
    }
    for item in patch_items {
        let key = item.get(merge_on);
        let position = key.and_then(|k| existing.iter().position(|e| e.get(merge_on) == Some(k)));
        match (directive(item), position) {
            (Some("delete"), Some(i)) => {
                existing.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => strategic_merge(&mut existing[i], item),
            (_, None) => existing.push(without_directives(item)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types_select_the_patch_kind() {
        let cases = [
            ("application/merge-patch+json", Some(PatchKind::Merge)),
            ("application/json-patch+json", Some(PatchKind::Json)),
            (
                "application/strategic-merge-patch+json; charset=utf-8",
                Some(PatchKind::Strategic),
            ),
            ("application/apply-patch+yaml", Some(PatchKind::Apply)),
            ("application/json", None),
        ];
        for (ct, want) in cases {
            assert_eq!(PatchKind::from_content_type(ct), want, "{ct}");
        }
    }

    #[test]
    fn merge_patch_replaces_lists_and_deletes_with_null() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]});
        let patch = decode(PatchKind::Merge, br#"{"a": null, "b": {"c": 5}, "l": [3]}"#).unwrap();
        apply(PatchKind::Merge, &mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_applies_operations_and_reports_failed_tests() {
        let mut doc = json!({"spec": {"x": 1}});
        let ok = decode(PatchKind::Json, br#"[{"op":"replace","path":"/spec/x","value":2},{"op":"add","path":"/spec/y","value":3}]"#)
            .unwrap();
        apply(PatchKind::Json, &mut doc, &ok).unwrap();
        assert_eq!(doc, json!({"spec": {"x": 2, "y": 3}}));
        let failing = decode(
            PatchKind::Json,
            br#"[{"op":"test","path":"/spec/x","value":9}]"#,
        )
        .unwrap();
        assert!(matches!(
            apply(PatchKind::Json, &mut doc, &failing),
            Err(PatchError::TestFailed(_))
        ));
        let bad_path = decode(PatchKind::Json, br#"[{"op":"remove","path":"/nope"}]"#).unwrap();
        assert!(matches!(
            apply(PatchKind::Json, &mut doc, &bad_path),
            Err(PatchError::Apply(_))
        ));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_honours_directives() {
        let mut pod = json!({"spec": {
            "containers": [
                {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": "b:1"}
            ],
            "tolerations": [{"key": "t"}]
        }});
        let patch = json!({
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "spec": {
                "containers": [
                    {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
                    {"name": "b", "$patch": "delete"},
                    {"name": "c", "image": "c:1"}
                ],
                "tolerations": [{"key": "u"}]
            }
        });
        apply(PatchKind::Strategic, &mut pod, &patch).unwrap();
        assert_eq!(
            pod,
            json!({"spec": {
                "containers": [
                    {"name": "a", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                    {"name": "c", "image": "c:1"}
                ],
                "tolerations": [{"key": "u"}]
            }})
        );
    }

    #[test]
    fn strategic_replace_directive_replaces_the_whole_list() {
        let mut doc = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let patch = json!({"containers": [{"$patch": "replace"}, {"name": "z"}]});
        apply(PatchKind::Strategic, &mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"containers": [{"name": "z"}]}));
    }

    #[test]
    fn apply_patches_accept_yaml_bodies() {
        let patch = decode(PatchKind::Apply, b"metadata:\n  labels:\n    a: b\n").unwrap();
        assert_eq!(patch, json!({"metadata": {"labels": {"a": "b"}}}));
        assert!(decode(PatchKind::Merge, b"[1]").is_err());
        assert!(decode(PatchKind::Json, b"{}").is_err());
    }
}
