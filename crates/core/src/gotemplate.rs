//! Prow's Go templates over a ProwJob (`plank.job_url_template`, `plank.report_templates`),
//! evaluated as Go's `text/template` evaluates them against Prow's Go structs.
//!
//! Templates name Go fields (`{{.Spec.Refs.Org}}`, `{{.Status.BuildID}}`, `{{.ObjectMeta.Name}}`
//! or the promoted `{{.Name}}`), not JSON keys, and a Go struct always has every field (a zero
//! value when unset), while our JSON leaves empty fields out. So the job is turned into a
//! template value with Go's field names and Go's zero values: `""`, `0`, `false`, and nil for
//! pointers (`{{if .Spec.Refs}}` is false for a periodic). Times print as Go prints a `time.Time`.

use std::collections::HashMap;

use gtmpl_value::Value;
use serde_json::Value as Json;

use crate::prowjob::ProwJob;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template:?}: {message}")]
    Render { template: String, message: String },
    #[error("ProwJob as a template value: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Renders `template` with the ProwJob as its dot, as Prow's `template.Execute(&b, &pj)`.
pub fn render_prowjob(template: &str, pj: &ProwJob) -> Result<String, TemplateError> {
    let dot = prowjob_value(pj)?;
    gtmpl::template(template, dot).map_err(|err| TemplateError::Render {
        template: template.to_owned(),
        message: err.to_string(),
    })
}

/// Renders `template` with a struct of string fields as its dot (`{{.AuthorLogin}}`), as
/// Prow's plugins render their message templates.
pub fn render_fields(template: &str, fields: &[(&str, &str)]) -> Result<String, TemplateError> {
    let dot: HashMap<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    gtmpl::template(template, Value::Object(dot)).map_err(|err| TemplateError::Render {
        template: template.to_owned(),
        message: err.to_string(),
    })
}

/// Go's initialisms as Prow's field names spell them (`BaseSHA`, `BuildID`, `CloneURI`, `URL`).
const INITIALISMS: [&str; 10] = [
    "ID", "URL", "URI", "SHA", "UID", "API", "HTTP", "JSON", "GCS", "IP",
];

/// JSON keys whose Go field name does not follow from the key.
const SPECIAL_NAMES: [(&str, &str); 3] = [
    ("workdir", "WorkDir"),
    ("prowjob_defaults", "ProwJobDefault"),
    ("metadata", "ObjectMeta"),
];

/// Objects that are Go maps: their keys are data, not field names.
const MAP_FIELDS: [&str; 5] = [
    "labels",
    "annotations",
    "prev_report_states",
    "nodeSelector",
    "matchLabels",
];

/// The Go field name of a JSON key (`base_sha` -> `BaseSHA`, `startTime` -> `StartTime`).
pub fn go_field_name(key: &str) -> String {
    if let Some((_, go)) = SPECIAL_NAMES.iter().find(|(json, _)| *json == key) {
        return (*go).to_owned();
    }
    let mut words: Vec<String> = Vec::new();
    for part in key.split('_').filter(|p| !p.is_empty()) {
        let mut word = String::new();
        for c in part.chars() {
            if c.is_uppercase() && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.push(c);
        }
        words.push(word);
    }
    words
        .iter()
        .map(|word| {
            let upper = word.to_uppercase();
            if INITIALISMS.contains(&upper.as_str()) {
                upper
            } else {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            }
        })
        .collect()
}

/// Go's zero values for the fields of Prow's structs a template can reach; JSON leaves them out.
const SPEC_FIELDS: [(&str, Zero); 14] = [
    ("Type", Zero::Str),
    ("Agent", Zero::Str),
    ("Cluster", Zero::Str),
    ("Namespace", Zero::Str),
    ("Job", Zero::Str),
    ("Refs", Zero::Nil),
    ("ExtraRefs", Zero::Nil),
    ("Report", Zero::False),
    ("Context", Zero::Str),
    ("RerunCommand", Zero::Str),
    ("MaxConcurrency", Zero::Int),
    ("DecorationConfig", Zero::Nil),
    ("Hidden", Zero::False),
    ("JobQueueName", Zero::Str),
];
const STATUS_FIELDS: [(&str, Zero); 10] = [
    ("StartTime", Zero::Str),
    ("PendingTime", Zero::Nil),
    ("CompletionTime", Zero::Nil),
    ("State", Zero::Str),
    ("Description", Zero::Str),
    ("URL", Zero::Str),
    ("PodName", Zero::Str),
    ("BuildID", Zero::Str),
    ("JenkinsBuildID", Zero::Str),
    ("PrevReportStates", Zero::Nil),
];
const REFS_FIELDS: [(&str, Zero); 13] = [
    ("Org", Zero::Str),
    ("Repo", Zero::Str),
    ("RepoLink", Zero::Str),
    ("BaseRef", Zero::Str),
    ("BaseSHA", Zero::Str),
    ("BaseLink", Zero::Str),
    ("Pulls", Zero::Nil),
    ("PathAlias", Zero::Str),
    ("WorkDir", Zero::False),
    ("CloneURI", Zero::Str),
    ("SkipSubmodules", Zero::False),
    ("CloneDepth", Zero::Int),
    ("SkipFetchHead", Zero::False),
];
const PULL_FIELDS: [(&str, Zero); 9] = [
    ("Number", Zero::Int),
    ("Author", Zero::Str),
    ("SHA", Zero::Str),
    ("Title", Zero::Str),
    ("Ref", Zero::Str),
    ("Link", Zero::Str),
    ("CommitLink", Zero::Str),
    ("AuthorLink", Zero::Str),
    ("HeadRef", Zero::Str),
];
const META_FIELDS: [(&str, Zero); 6] = [
    ("Name", Zero::Str),
    ("Namespace", Zero::Str),
    ("UID", Zero::Str),
    ("ResourceVersion", Zero::Str),
    ("Labels", Zero::Nil),
    ("Annotations", Zero::Nil),
];

#[derive(Debug, Clone, Copy)]
enum Zero {
    Str,
    Int,
    False,
    Nil,
}

impl Zero {
    fn value(self) -> Value {
        match self {
            Zero::Str => Value::from(""),
            Zero::Int => Value::from(0i64),
            Zero::False => Value::Bool(false),
            Zero::Nil => Value::Nil,
        }
    }
}

/// The ProwJob as Go's template engine sees `&pj`.
pub fn prowjob_value(pj: &ProwJob) -> Result<Value, serde_json::Error> {
    let json = serde_json::to_value(pj)?;
    let mut top = match convert(&json, false) {
        Value::Object(map) => map,
        _ => HashMap::new(),
    };
    let meta = with_zeros(top.remove("ObjectMeta"), &META_FIELDS);
    let mut spec = with_zeros(top.remove("Spec"), &SPEC_FIELDS);
    if let Some(Value::Object(refs)) = spec.get_mut("Refs") {
        fill_refs(refs);
    }
    if let Some(Value::Array(extra)) = spec.get_mut("ExtraRefs") {
        for refs in extra {
            if let Value::Object(refs) = refs {
                fill_refs(refs);
            }
        }
    }
    let status = with_zeros(top.remove("Status"), &STATUS_FIELDS);
    // Go promotes the embedded ObjectMeta's fields: `.Name` works as well as `.ObjectMeta.Name`.
    for (key, value) in &meta {
        top.entry(key.clone()).or_insert_with(|| value.clone());
    }
    top.insert("ObjectMeta".into(), Value::Object(meta));
    top.insert("Spec".into(), Value::Object(spec));
    top.insert("Status".into(), Value::Object(status));
    Ok(Value::Object(top))
}

fn fill_refs(refs: &mut HashMap<String, Value>) {
    for (field, zero) in REFS_FIELDS {
        refs.entry(field.into()).or_insert_with(|| zero.value());
    }
    if let Some(Value::Array(pulls)) = refs.get_mut("Pulls") {
        for pull in pulls {
            if let Value::Object(pull) = pull {
                for (field, zero) in PULL_FIELDS {
                    pull.entry(field.into()).or_insert_with(|| zero.value());
                }
            }
        }
    }
}

fn with_zeros(value: Option<Value>, fields: &[(&str, Zero)]) -> HashMap<String, Value> {
    let mut map = match value {
        Some(Value::Object(map)) => map,
        _ => HashMap::new(),
    };
    for (field, zero) in fields {
        map.entry((*field).into()).or_insert_with(|| zero.value());
    }
    map
}

/// JSON to a template value; object keys become Go field names unless the object is a Go map.
fn convert(json: &Json, is_map: bool) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::from(go_time(s).unwrap_or_else(|| s.clone())),
        Json::Array(items) => Value::Array(items.iter().map(|i| convert(i, false)).collect()),
        Json::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let name = if is_map {
                        key.clone()
                    } else {
                        go_field_name(key)
                    };
                    let value = convert(value, !is_map && MAP_FIELDS.contains(&key.as_str()));
                    (name, value)
                })
                .collect(),
        ),
    }
}

/// An RFC 3339 timestamp as Go prints a `time.Time` (`2026-12-01 23:43:10 +0000 UTC`).
fn go_time(s: &str) -> Option<String> {
    let looks_like_time = s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T');
    if !looks_like_time {
        return None;
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S +0000 UTC")
            .to_string(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::prowjob::{ProwJobType, Pull, Refs};

    fn presubmit() -> ProwJob {
        let mut pj = ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .name("3f6c2a1e")
            .refs(
                Refs::new("acme", "foo")
                    .base("main", "aaaa")
                    .pull(Pull::new(42, "alice", "bbbb")),
            )
            .build();
        pj.status.build_id = "1790".into();
        pj
    }

    #[test]
    fn json_keys_become_prows_go_field_names() {
        for (json, go) in [
            ("base_sha", "BaseSHA"),
            ("build_id", "BuildID"),
            ("url", "URL"),
            ("clone_uri", "CloneURI"),
            ("startTime", "StartTime"),
            ("prev_report_states", "PrevReportStates"),
            ("workdir", "WorkDir"),
            ("jenkins_build_id", "JenkinsBuildID"),
            ("rerun_command", "RerunCommand"),
            ("uid", "UID"),
        ] {
            assert_eq!(go_field_name(json), go, "{json}");
        }
    }

    /// Kubernetes' own `job_url_template` shape, and Prow's example report template.
    #[test]
    fn prows_templates_render_as_in_go() {
        let url = r#"https://prow.k8s.io/view/gs/kubernetes-ci-logs/{{if eq .Spec.Type "presubmit"}}pr-logs/pull{{else if eq .Spec.Type "batch"}}pr-logs/pull{{else}}logs{{end}}{{if .Spec.Refs}}{{if ne .Spec.Refs.Org ""}}/{{.Spec.Refs.Org}}_{{.Spec.Refs.Repo}}{{end}}{{end}}{{if eq .Spec.Type "presubmit"}}/{{with index .Spec.Refs.Pulls 0}}{{.Number}}{{end}}{{end}}/{{.Spec.Job}}/{{.Status.BuildID}}/"#;
        assert_eq!(
            render_prowjob(url, &presubmit()).unwrap(),
            "https://prow.k8s.io/view/gs/kubernetes-ci-logs/pr-logs/pull/acme_foo/42/pull-foo-unit/1790/"
        );
        let periodic = ProwJob::builder("ci-foo", ProwJobType::Periodic)
            .name("p1")
            .build();
        assert_eq!(
            render_prowjob(url, &periodic).unwrap(),
            "https://prow.k8s.io/view/gs/kubernetes-ci-logs/logs/ci-foo//"
        );
        let report = "[Full PR test history](https://prow.example.com/pr-history?org={{.Spec.Refs.Org}}&repo={{.Spec.Refs.Repo}}&pr={{with index .Spec.Refs.Pulls 0}}{{.Number}}{{end}}).";
        assert_eq!(
            render_prowjob(report, &presubmit()).unwrap(),
            "[Full PR test history](https://prow.example.com/pr-history?org=acme&repo=foo&pr=42)."
        );
    }

    #[test]
    fn unset_fields_are_go_zero_values_and_metadata_is_promoted() {
        let pj = presubmit();
        let t = "{{.Name}}={{.ObjectMeta.Name}} [{{.Spec.Refs.PathAlias}}] [{{.Status.URL}}] {{.Spec.Refs.CloneDepth}} {{if .Spec.DecorationConfig}}d{{else}}nil{{end}} {{(index .Spec.Refs.Pulls 0).Title}}|";
        assert_eq!(
            render_prowjob(t, &pj).unwrap(),
            "3f6c2a1e=3f6c2a1e [] [] 0 nil |"
        );
        let err = render_prowjob("{{.Spec.NoSuchField}}", &pj).unwrap_err();
        assert!(err.to_string().contains("NoSuchField"), "{err}");
    }
}
