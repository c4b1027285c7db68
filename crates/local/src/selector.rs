//! Label and field selectors (`labelSelector=`, `fieldSelector=`) parsed from query strings and matched against objects.

use serde_json::Value;

use crate::resources::ResourceInfo;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("unable to parse requirement: {0}")]
    Syntax(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in split_top_level(input) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether `labels` (an object's `metadata.labels`, possibly absent) satisfies every requirement.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas that are not inside `( … )`, so `a in (x,y),b` yields two parts.
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    let err = || SelectorError::Syntax(part.to_string());
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        return if valid_key(key) {
            Ok(Requirement::DoesNotExist(key.to_string()))
        } else {
            Err(err())
        };
    }
    for (op, ctor) in [
        (
            "!=",
            Requirement::NotEquals as fn(String, String) -> Requirement,
        ),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) || !valid_value(v) {
                return Err(err());
            }
            return Ok(ctor(k.to_string(), v.to_string()));
        }
    }
    if let Some(open) = part.find('(') {
        let head: Vec<&str> = part[..open].split_whitespace().collect();
        let inner = part[open + 1..].strip_suffix(')').ok_or_else(err)?;
        let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(|v| !valid_value(v)) {
            return Err(err());
        }
        return match head.as_slice() {
            [k, "in"] if valid_key(k) => Ok(Requirement::In(k.to_string(), values)),
            [k, "notin"] if valid_key(k) => Ok(Requirement::NotIn(k.to_string(), values)),
            _ => Err(err()),
        };
    }
    if valid_key(part) {
        return Ok(Requirement::Exists(part.to_string()));
    }
    Err(err())
}

/// A parsed field selector: `key=value`/`key==value`/`key!=value` terms joined by commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `input`, rejecting keys the resource does not index (as the real API server does).
    pub fn parse(input: &str, resource: &ResourceInfo) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(SelectorError::Syntax(part.to_string()));
            };
            let key = key.trim();
            if !resource.supports_field(key) {
                return Err(SelectorError::UnsupportedField(key.to_string()));
            }
            terms.push((key.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(key, equal, value)| {
            let actual = field_value(object, key);
            (actual == *value) == *equal
        })
    }
}

/// The string value of a dotted field path; missing fields read as "" like Kubernetes' field sets.
fn field_value(object: &Value, path: &str) -> String {
    let mut cur = object;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(next) => cur = next,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::{PODS, PROWJOBS};
    use serde_json::json;

    #[test]
    fn label_selectors_follow_kubernetes_semantics() {
        let labels = json!({"app": "web", "tier": "front", "env": "prod"});
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("app notin (db,cache)", true),
            ("missing notin (db)", true),
            ("tier", true),
            ("missing", false),
            ("!missing", true),
            ("!tier", false),
            ("app=web,tier=front", true),
            ("app in (web, db),env=dev", false),
            ("app in (web,db), !missing ,tier", true),
        ];
        for (sel, want) in cases {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(parsed.matches(Some(&labels)), want, "{sel}");
        }
    }

    #[test]
    fn objects_without_labels_only_match_negative_requirements() {
        for (sel, want) in [("a=b", false), ("a!=b", true), ("!a", true), ("a", false)] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(None),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn malformed_label_selectors_are_rejected() {
        for sel in ["a in b", "a in (b", "=x", "a=b c", "a notin", "!"] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel} should fail");
        }
    }

    #[test]
    fn field_selectors_match_declared_fields() {
        let pod =
            json!({"metadata": {"name": "p1", "namespace": "ns"}, "status": {"phase": "Running"}});
        let cases = [
            ("metadata.name=p1", true),
            ("metadata.name==p2", false),
            ("metadata.name!=p2,status.phase=Running", true),
            ("metadata.namespace=ns,status.phase!=Running", false),
            ("spec.nodeName=", true),
        ];
        for (sel, want) in cases {
            assert_eq!(
                FieldSelector::parse(sel, &PODS).unwrap().matches(&pod),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn unsupported_field_labels_are_errors() {
        assert_eq!(
            FieldSelector::parse("status.phase=Running", &PROWJOBS),
            Err(SelectorError::UnsupportedField("status.phase".into()))
        );
        assert!(FieldSelector::parse("status.state=pending", &PROWJOBS).is_ok());
        assert!(FieldSelector::parse("nonsense", &PODS).is_err());
    }
}
