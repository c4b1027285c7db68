//! Trigger filters with Knative's exact semantics: legacy `spec.filter.attributes` and the `spec.filters` dialects.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Event};

use crate::manifest::{SubscriptionsApiFilter, TriggerSpec};

/// Outcome of one filter; only `Fail` stops a delivery (Knative delivers on `Pass` and `NoFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterResult {
    Pass,
    Fail,
    NoFilter,
}

/// A filter that Knative's webhook would reject, or that we cannot evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "filter attribute name {0:?} must start with a letter and contain only lowercase alphanumerics"
    )]
    AttributeName(String),
    #[error("multiple dialects found, filters can have only one dialect set")]
    MultipleDialects,
    #[error("CESQL filters ({0:?}) are not supported by the in-process broker")]
    CesqlUnsupported(String),
}

/// A materialized `spec.filters` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Evaluates to `NoFilter` (what Knative builds for an empty list).
    Empty,
    Exact(BTreeMap<String, String>),
    Prefix(BTreeMap<String, String>),
    Suffix(BTreeMap<String, String>),
    All(Vec<Filter>),
    Any(Vec<Filter>),
    /// `None`: the negated filter did not materialize, so `not` yields `NoFilter`.
    Not(Option<Box<Filter>>),
}

/// The filter of one Trigger, chosen as Knative's broker-filter does: `filters` wins over `filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerFilter {
    None,
    /// `filter.attributes`; `None` when `filter:` has no `attributes` key (Knative: no filter).
    Attributes(Option<BTreeMap<String, String>>),
    Filters(Filter),
}

impl TriggerFilter {
    /// Validates (as Knative's webhook) and materializes a Trigger's filters.
    pub fn compile(spec: &TriggerSpec) -> Result<Self, FilterError> {
        if let Some(filter) = &spec.filter
            && let Some(attrs) = &filter.attributes
        {
            validate_names(attrs)?;
        }
        if !spec.filters.is_empty() {
            return Ok(TriggerFilter::Filters(Filter::compile_list(&spec.filters)?));
        }
        Ok(match &spec.filter {
            Some(filter) => TriggerFilter::Attributes(filter.attributes.clone()),
            None => TriggerFilter::None,
        })
    }

    pub fn evaluate(&self, event: &Event) -> FilterResult {
        match self {
            TriggerFilter::None | TriggerFilter::Attributes(None) => FilterResult::NoFilter,
            TriggerFilter::Attributes(Some(attrs)) => attributes_filter(attrs, event),
            TriggerFilter::Filters(f) => f.evaluate(event),
        }
    }

    /// Whether an event is delivered to the Trigger's subscriber.
    pub fn accepts(&self, event: &Event) -> bool {
        self.evaluate(event) != FilterResult::Fail
    }
}

impl Filter {
    /// A `filters:` list is an implicit `all`.
    pub fn compile_list(filters: &[SubscriptionsApiFilter]) -> Result<Filter, FilterError> {
        let mut compiled = materialize_list(filters)?;
        Ok(match compiled.len() {
            0 => Filter::Empty,
            1 => compiled.remove(0),
            _ => Filter::All(compiled),
        })
    }

    pub fn evaluate(&self, event: &Event) -> FilterResult {
        match self {
            Filter::Empty => FilterResult::NoFilter,
            Filter::Exact(m) => string_match(m, event, |value, want| value == want),
            Filter::Prefix(m) => string_match(m, event, |value, want| value.starts_with(want)),
            Filter::Suffix(m) => string_match(m, event, |value, want| value.ends_with(want)),
            // Knative returns the last evaluated result when nothing short-circuits, so a
            // trailing `NoFilter` wins over earlier `Pass`es (all) or `Fail`s (any).
            Filter::All(filters) => {
                let mut result = FilterResult::NoFilter;
                for f in filters {
                    result = f.evaluate(event);
                    if result == FilterResult::Fail {
                        return FilterResult::Fail;
                    }
                }
                result
            }
            Filter::Any(filters) => {
                let mut result = FilterResult::NoFilter;
                for f in filters {
                    result = f.evaluate(event);
                    if result == FilterResult::Pass {
                        return FilterResult::Pass;
                    }
                }
                result
            }
            Filter::Not(None) => FilterResult::NoFilter,
            Filter::Not(Some(f)) => match f.evaluate(event) {
                FilterResult::Pass => FilterResult::Fail,
                FilterResult::Fail => FilterResult::Pass,
                FilterResult::NoFilter => FilterResult::NoFilter,
            },
        }
    }
}

/// Knative's validation: one dialect per entry, lowercase alphanumeric attribute names.
fn validate(filter: &SubscriptionsApiFilter) -> Result<(), FilterError> {
    let dialects = [
        !filter.exact.is_empty(),
        !filter.prefix.is_empty(),
        !filter.suffix.is_empty(),
        !filter.all.is_empty(),
        !filter.any.is_empty(),
        filter.not.is_some(),
        filter.cesql.as_deref().is_some_and(|s| !s.is_empty()),
    ];
    if dialects.iter().filter(|set| **set).count() > 1 {
        return Err(FilterError::MultipleDialects);
    }
    validate_names(&filter.exact)?;
    validate_names(&filter.prefix)?;
    validate_names(&filter.suffix)?;
    Ok(())
}

fn validate_names(attrs: &BTreeMap<String, String>) -> Result<(), FilterError> {
    for name in attrs.keys() {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(FilterError::AttributeName(name.clone()));
        }
    }
    Ok(())
}

/// Knative skips entries that do not materialize (empty entries, empty values) instead of failing.
fn materialize_list(filters: &[SubscriptionsApiFilter]) -> Result<Vec<Filter>, FilterError> {
    let mut out = Vec::with_capacity(filters.len());
    for f in filters {
        if let Some(m) = materialize(f)? {
            out.push(m);
        } else {
            tracing::warn!(filter = ?f, "trigger filter entry does not materialize; skipped as Knative does");
        }
    }
    Ok(out)
}

fn materialize(filter: &SubscriptionsApiFilter) -> Result<Option<Filter>, FilterError> {
    validate(filter)?;
    let leaf = |m: &BTreeMap<String, String>, make: fn(BTreeMap<String, String>) -> Filter| {
        let valid = m.iter().all(|(k, v)| !k.is_empty() && !v.is_empty());
        valid.then(|| make(m.clone()))
    };
    Ok(if !filter.exact.is_empty() {
        leaf(&filter.exact, Filter::Exact)
    } else if !filter.prefix.is_empty() {
        leaf(&filter.prefix, Filter::Prefix)
    } else if !filter.suffix.is_empty() {
        leaf(&filter.suffix, Filter::Suffix)
    } else if !filter.all.is_empty() {
        Some(group(materialize_list(&filter.all)?, Filter::All))
    } else if !filter.any.is_empty() {
        Some(group(materialize_list(&filter.any)?, Filter::Any))
    } else if let Some(inner) = &filter.not {
        Some(Filter::Not(materialize(inner)?.map(Box::new)))
    } else if let Some(expr) = filter.cesql.as_deref().filter(|s| !s.is_empty()) {
        return Err(FilterError::CesqlUnsupported(expr.to_string()));
    } else {
        None
    })
}

/// Knative's all/any constructors return a lone child unchanged.
fn group(mut filters: Vec<Filter>, make: fn(Vec<Filter>) -> Filter) -> Filter {
    match filters.len() {
        0 => Filter::Empty,
        1 => filters.remove(0),
        _ => make(filters),
    }
}

fn string_match(
    m: &BTreeMap<String, String>,
    event: &Event,
    ok: impl Fn(&str, &str) -> bool,
) -> FilterResult {
    for (name, want) in m {
        match lookup_attribute(event, name) {
            Some(value) if ok(value.text(), want) => {}
            _ => return FilterResult::Fail,
        }
    }
    FilterResult::Pass
}

/// Legacy attributes filter: an empty value means "present and non-empty".
pub fn attributes_filter(attrs: &BTreeMap<String, String>, event: &Event) -> FilterResult {
    for (name, want) in attrs {
        let Some(value) = lookup_attribute(event, name) else {
            return FilterResult::Fail;
        };
        if want.is_empty() {
            if value.is_empty_string() {
                return FilterResult::Fail;
            }
        } else if !value.equals_string(want) {
            return FilterResult::Fail;
        }
    }
    FilterResult::Pass
}

/// An attribute value as Knative sees it: strings compare as strings, other extension
/// types only through their `%v` rendering (so the legacy filter never matches them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    Other(String),
}

impl AttributeValue {
    fn text(&self) -> &str {
        match self {
            AttributeValue::String(s) | AttributeValue::Other(s) => s,
        }
    }
    fn is_empty_string(&self) -> bool {
        matches!(self, AttributeValue::String(s) if s.is_empty())
    }
    fn equals_string(&self, want: &str) -> bool {
        matches!(self, AttributeValue::String(s) if s == want)
    }
}

/// Knative's `LookupAttribute`: context attributes are always present (empty when unset),
/// extensions only when set.
pub fn lookup_attribute(event: &Event, name: &str) -> Option<AttributeValue> {
    let s = |v: &str| Some(AttributeValue::String(v.to_string()));
    match name {
        "specversion" => s(event.specversion().as_str()),
        "type" => s(event.ty()),
        "source" => s(event.source()),
        "subject" => s(event.subject().unwrap_or_default()),
        "id" => s(event.id()),
        "time" => Some(AttributeValue::String(go_rfc3339_nano(event.time()))),
        "dataschema" | "schemaurl" => s(event.dataschema().map(|u| u.as_str()).unwrap_or_default()),
        "datacontenttype" => s(event.datacontenttype().unwrap_or_default()),
        "datamediatype" => Some(AttributeValue::String(media_type(event.datacontenttype()))),
        "datacontentencoding" => s(""),
        ext => event.extension(ext).map(|v| match v {
            ExtensionValue::String(s) => AttributeValue::String(s.clone()),
            other => AttributeValue::Other(other.to_string()),
        }),
    }
}

fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|mt| mt.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Go's `time.Time.MarshalText` (RFC 3339 with trailing-zero-trimmed nanoseconds); an unset
/// time is Go's zero time.
pub(crate) fn go_rfc3339_nano(time: Option<&DateTime<Utc>>) -> String {
    let Some(t) = time else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        format!("{base}Z")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}Z", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};

    fn event() -> Event {
        EventBuilderV10::new()
            .id("1")
            .ty("dev.knative.apiserver.resource.update")
            .source("https://10.96.0.1:443")
            .extension("kind", "ProwJob")
            .extension("empty", "")
            .extension("count", 5i64)
            .build()
            .unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn legacy_attributes_filter_follows_knative() {
        use FilterResult::*;
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], FilterResult);
        let cases: &[Case<'_>] = &[
            ("an empty attribute map passes everything", &[], Pass),
            (
                "exact type matches",
                &[("type", "dev.knative.apiserver.resource.update")],
                Pass,
            ),
            (
                "type and extension must both match",
                &[
                    ("type", "dev.knative.apiserver.resource.update"),
                    ("kind", "Pod"),
                ],
                Fail,
            ),
            ("a missing extension fails", &[("name", "x")], Fail),
            (
                "an empty filter value means any non-empty value",
                &[("kind", "")],
                Pass,
            ),
            (
                "an empty filter value fails on an empty extension",
                &[("empty", "")],
                Fail,
            ),
            (
                "an empty filter value fails on an unset subject",
                &[("subject", "")],
                Fail,
            ),
            (
                "an empty filter value matches a non-string extension",
                &[("count", "")],
                Pass,
            ),
            (
                "a non-string extension never equals a string",
                &[("count", "5")],
                Fail,
            ),
            ("unset subject equals nothing", &[("subject", "x")], Fail),
            (
                "specversion is always there",
                &[("specversion", "1.0")],
                Pass,
            ),
            ("the value is case sensitive", &[("kind", "prowjob")], Fail),
        ];
        for (name, attrs, want) in cases {
            assert_eq!(attributes_filter(&map(attrs), &event()), *want, "{name}");
        }
    }

    fn exact(pairs: &[(&str, &str)]) -> SubscriptionsApiFilter {
        SubscriptionsApiFilter {
            exact: map(pairs),
            ..Default::default()
        }
    }
    fn prefix(pairs: &[(&str, &str)]) -> SubscriptionsApiFilter {
        SubscriptionsApiFilter {
            prefix: map(pairs),
            ..Default::default()
        }
    }
    fn suffix(pairs: &[(&str, &str)]) -> SubscriptionsApiFilter {
        SubscriptionsApiFilter {
            suffix: map(pairs),
            ..Default::default()
        }
    }
    fn all(f: Vec<SubscriptionsApiFilter>) -> SubscriptionsApiFilter {
        SubscriptionsApiFilter {
            all: f,
            ..Default::default()
        }
    }
    fn any(f: Vec<SubscriptionsApiFilter>) -> SubscriptionsApiFilter {
        SubscriptionsApiFilter {
            any: f,
            ..Default::default()
        }
    }
    fn not(f: SubscriptionsApiFilter) -> SubscriptionsApiFilter {
        SubscriptionsApiFilter {
            not: Some(Box::new(f)),
            ..Default::default()
        }
    }

    #[test]
    fn subscriptions_api_dialects_follow_knative() {
        use FilterResult::*;
        let ty = "dev.knative.apiserver.resource.update";
        let cases: Vec<(&str, Vec<SubscriptionsApiFilter>, FilterResult)> = vec![
            ("no filters at all", vec![], NoFilter),
            ("exact match", vec![exact(&[("type", ty)])], Pass),
            ("exact mismatch", vec![exact(&[("type", "x")])], Fail),
            (
                "exact on a non-string extension uses its text",
                vec![exact(&[("count", "5")])],
                Pass,
            ),
            (
                "prefix",
                vec![prefix(&[("type", "dev.knative.apiserver.")])],
                Pass,
            ),
            (
                "prefix mismatch",
                vec![prefix(&[("type", "dev.prow.")])],
                Fail,
            ),
            (
                "prefix on a missing extension",
                vec![prefix(&[("name", "a")])],
                Fail,
            ),
            ("suffix", vec![suffix(&[("type", ".update")])], Pass),
            ("suffix mismatch", vec![suffix(&[("type", ".add")])], Fail),
            (
                "list entries are and-ed",
                vec![exact(&[("type", ty)]), exact(&[("kind", "Pod")])],
                Fail,
            ),
            (
                "all passes when every child passes",
                vec![all(vec![
                    exact(&[("type", ty)]),
                    exact(&[("kind", "ProwJob")]),
                ])],
                Pass,
            ),
            (
                "any passes on one child",
                vec![any(vec![
                    exact(&[("kind", "Pod")]),
                    exact(&[("kind", "ProwJob")]),
                ])],
                Pass,
            ),
            (
                "any fails when no child passes",
                vec![any(vec![
                    exact(&[("kind", "Pod")]),
                    exact(&[("kind", "Node")]),
                ])],
                Fail,
            ),
            ("not inverts", vec![not(exact(&[("kind", "Pod")]))], Pass),
            (
                "not inverts a pass",
                vec![not(exact(&[("kind", "ProwJob")]))],
                Fail,
            ),
            (
                "an empty exact value does not materialize and is skipped",
                vec![exact(&[("kind", "")])],
                NoFilter,
            ),
            (
                "a skipped entry leaves the others",
                vec![exact(&[("kind", "")]), exact(&[("kind", "Pod")])],
                Fail,
            ),
            (
                "not of an empty entry yields no filter",
                vec![not(SubscriptionsApiFilter::default())],
                NoFilter,
            ),
            (
                "any keeps the last result when nothing passes",
                vec![any(vec![
                    exact(&[("kind", "Pod")]),
                    not(SubscriptionsApiFilter::default()),
                ])],
                NoFilter,
            ),
            (
                "any with a trailing fail fails",
                vec![any(vec![
                    not(SubscriptionsApiFilter::default()),
                    exact(&[("kind", "Pod")]),
                ])],
                Fail,
            ),
            (
                "all keeps the last result when nothing fails",
                vec![all(vec![
                    exact(&[("type", ty)]),
                    not(SubscriptionsApiFilter::default()),
                ])],
                NoFilter,
            ),
            (
                "nested any inside all",
                vec![all(vec![
                    prefix(&[("type", "dev.knative.apiserver.resource.")]),
                    any(vec![
                        exact(&[("kind", "ProwJob")]),
                        exact(&[("kind", "Pod")]),
                    ]),
                ])],
                Pass,
            ),
        ];
        for (name, filters, want) in cases {
            let f = Filter::compile_list(&filters).unwrap();
            assert_eq!(f.evaluate(&event()), want, "{name}");
        }
    }

    #[test]
    fn invalid_filters_are_rejected_like_the_webhook_and_cesql_is_unsupported() {
        let both = SubscriptionsApiFilter {
            exact: map(&[("type", "a")]),
            suffix: map(&[("type", "b")]),
            ..Default::default()
        };
        assert_eq!(
            Filter::compile_list(&[both]),
            Err(FilterError::MultipleDialects)
        );
        assert_eq!(
            Filter::compile_list(&[all(vec![exact(&[("Kind", "x")])])]),
            Err(FilterError::AttributeName("Kind".into()))
        );
        assert_eq!(
            Filter::compile_list(&[exact(&[("9lives", "x")])]),
            Err(FilterError::AttributeName("9lives".into()))
        );
        let cesql = SubscriptionsApiFilter {
            cesql: Some("type = 'x'".into()),
            ..Default::default()
        };
        assert!(matches!(
            Filter::compile_list(&[not(cesql)]),
            Err(FilterError::CesqlUnsupported(_))
        ));
    }

    #[test]
    fn filters_take_precedence_over_the_legacy_filter() {
        let spec: TriggerSpec = serde_norway::from_str(
            "{broker: default, filter: {attributes: {type: nope}}, filters: [{exact: {kind: ProwJob}}], subscriber: {uri: /}}",
        )
        .unwrap();
        let f = TriggerFilter::compile(&spec).unwrap();
        assert!(f.accepts(&event()));
        let legacy_without_attributes: TriggerSpec =
            serde_norway::from_str("{broker: default, filter: {}, subscriber: {uri: /}}").unwrap();
        assert_eq!(
            TriggerFilter::compile(&legacy_without_attributes)
                .unwrap()
                .evaluate(&event()),
            FilterResult::NoFilter
        );
    }

    #[test]
    fn context_attributes_render_like_the_go_sdk() {
        let mut e = event();
        assert_eq!(
            lookup_attribute(&e, "time"),
            Some(AttributeValue::String("0001-01-01T00:00:00Z".into()))
        );
        cloudevents::AttributesWriter::set_time(
            &mut e,
            Some(DateTime::parse_from_rfc3339("2026-11-25T10:00:00.500Z").unwrap()),
        );
        cloudevents::AttributesWriter::set_datacontenttype(
            &mut e,
            Some("Application/JSON; charset=utf-8"),
        );
        assert_eq!(
            lookup_attribute(&e, "time"),
            Some(AttributeValue::String("2026-11-25T10:00:00.5Z".into()))
        );
        assert_eq!(
            lookup_attribute(&e, "datamediatype"),
            Some(AttributeValue::String("application/json".into()))
        );
        assert_eq!(lookup_attribute(&e, "missing"), None);
    }
}
