//! Writes embedded Kubernetes types in Go's struct-field order, as Go Prow's JSON has them.
//!
//! k8s-openapi serializes fields alphabetically; Go's encoding/json follows struct order. Only
//! the types inside `decoration_config` matter (they are part of `JOB_SPEC`), and their field
//! names rank consistently across types, so one ranking covers them all.

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Field names of ResourceRequirements, ResourceClaim, Affinity and its terms, LabelSelector
/// and Toleration, in the order their Go structs declare them.
const GO_FIELD_ORDER: &[&str] = &[
    "limits",
    "requests",
    "claims",
    "name",
    "request",
    "nodeAffinity",
    "podAffinity",
    "podAntiAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "preferredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
    "weight",
    "preference",
    "podAffinityTerm",
    "labelSelector",
    "namespaces",
    "topologyKey",
    "namespaceSelector",
    "matchLabelKeys",
    "mismatchLabelKeys",
    "matchLabels",
    "matchExpressions",
    "matchFields",
    "key",
    "operator",
    "value",
    "values",
    "effect",
    "tolerationSeconds",
];

/// Fields that are Go maps: their keys are data, written sorted like every Go map.
const MAP_FIELDS: &[&str] = &["limits", "requests", "matchLabels"];

fn rank(key: &str) -> usize {
    GO_FIELD_ORDER
        .iter()
        .position(|k| *k == key)
        .unwrap_or(usize::MAX)
}

struct Ordered<'a> {
    value: &'a Value,
    is_map: bool,
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Object(object) => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                if !self.is_map {
                    // Stable: fields missing from the ranking stay alphabetical, at the end.
                    keys.sort_by_key(|k| rank(k));
                }
                let mut map = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    let child = Ordered {
                        value: &object[key.as_str()],
                        is_map: MAP_FIELDS.contains(&key.as_str()),
                    };
                    map.serialize_entry(key, &child)?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Ordered {
                        value: item,
                        is_map: false,
                    })?;
                }
                seq.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}

/// `serialize_with` for fields holding k8s-openapi types.
pub(super) fn serialize<T: Serialize, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let value = serde_json::to_value(value).map_err(S::Error::custom)?;
    Ordered {
        value: &value,
        is_map: false,
    }
    .serialize(serializer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::prowjob::{Resources, SchedulingOptions};

    #[test]
    fn kubernetes_types_come_out_in_go_field_order() {
        let resources: Resources = serde_json::from_str(
            r#"{"sidecar":{"claims":[{"request":"r","name":"n"}],"requests":{"memory":"1Gi","cpu":"100m"},"limits":{"cpu":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&resources).unwrap(),
            r#"{"sidecar":{"limits":{"cpu":"1"},"requests":{"cpu":"100m","memory":"1Gi"},"claims":[{"name":"n","request":"r"}]}}"#
        );
        let scheduling: SchedulingOptions = serde_json::from_str(
            r#"{"tolerations":[{"value":"ci","tolerationSeconds":5,"operator":"Equal","key":"dedicated","effect":"NoSchedule"}],
                "affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"zone","labelSelector":{"matchLabels":{"value":"1","effect":"2"}}}]},
                            "nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"preference":{"matchExpressions":[{"values":["a"],"operator":"In","key":"pool"}]},"weight":1}]}}}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&scheduling).unwrap(),
            concat!(
                r#"{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{"matchExpressions":[{"key":"pool","operator":"In","values":["a"]}]}}]},"#,
                r#""podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"effect":"2","value":"1"}},"topologyKey":"zone"}]}},"#,
                r#""tolerations":[{"key":"dedicated","operator":"Equal","value":"ci","effect":"NoSchedule","tolerationSeconds":5}]}"#
            )
        );
    }
}
