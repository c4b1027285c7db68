//! The CloudEvents conformance cases (cloudevents/conformance) decoded through our HTTP binding.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use http::{HeaderMap, HeaderName, HeaderValue};
use prow_events::{AttributesReader, Event, data_bytes, data_json, decode, encode_binary};
use serde_json::Value;

fn corpus() -> PathBuf {
    prow_testdata::testdata().join("cloudevents-conformance")
}

fn read(relative: &str) -> String {
    let path = corpus().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An attribute or extension in the conformance files' string form.
fn attribute(event: &Event, key: &str) -> Option<String> {
    match key {
        "id" => Some(event.id().to_owned()),
        "specversion" => Some(event.specversion().to_string()),
        "type" => Some(event.ty().to_owned()),
        "source" => Some(event.source().to_string()),
        "time" => event
            .time()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        "datacontenttype" => event.datacontenttype().map(str::to_owned),
        "subject" => event.subject().map(str::to_owned),
        other => event.extension(other).map(ToString::to_string),
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        let ct = ct.split(';').next().unwrap_or_default().trim();
        ct == "application/json" || ct == "text/json" || ct.ends_with("+json")
    })
}

// ---------------------------------------------------------------------------------------------
// features/http-protocol-binding.feature: raw HTTP requests and the attributes they must yield.

struct Scenario {
    name: String,
    request: String,
    attributes: Vec<(String, String)>,
    data_json: Option<String>,
    examples: Vec<(String, String)>,
}

fn doc_strings(lines: &[&str]) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<String>)> = None;
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.starts_with("\"\"\"") {
            match current.take() {
                None => current = Some((line.len() - trimmed.len(), Vec::new())),
                Some((_, body)) => blocks.push(body.join("\n")),
            }
        } else if let Some((indent, body)) = current.as_mut() {
            body.push(line.get(*indent..).unwrap_or_default().to_owned());
        }
    }
    blocks
}

fn table_rows(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| l.trim())
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

fn scenarios(feature: &str) -> Vec<Scenario> {
    let mut out = Vec::new();
    for chunk in feature.split("Scenario Outline:").skip(1) {
        let lines: Vec<&str> = chunk.lines().collect();
        let name = lines[0].trim().to_owned();
        let blocks = doc_strings(&lines);
        let after = |marker: &str| {
            let at = lines
                .iter()
                .position(|l| l.contains(marker))
                .unwrap_or_else(|| panic!("{name}: no {marker:?}"));
            table_rows(&lines[at + 1..])
        };
        let attributes = after("Then the attributes are:")
            .into_iter()
            .skip(1)
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect();
        let header = after("Examples:");
        let examples = header
            .iter()
            .skip(1)
            .map(|row| (header[0][0].clone(), row[0].clone()))
            .collect();
        out.push(Scenario {
            name,
            request: blocks[0].clone(),
            data_json: blocks.get(1).cloned(),
            attributes,
            examples,
        });
    }
    out
}

/// Headers and body of a raw HTTP/1.1 request; Content-Length is ignored since the
/// templated examples no longer match the lengths written in the file.
fn parse_request(raw: &str) -> (HeaderMap, Vec<u8>) {
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let mut headers = HeaderMap::new();
    for line in head.lines().skip(1) {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            HeaderValue::from_str(value.trim()).unwrap(),
        );
    }
    (headers, body.as_bytes().to_vec())
}

#[test]
fn http_protocol_binding_feature_scenarios_decode_to_the_listed_attributes() {
    let feature = read("features/http-protocol-binding.feature");
    let scenarios = scenarios(&feature);
    assert_eq!(scenarios.len(), 2, "binary and structured outlines");
    let mut checked = 0;
    for scenario in &scenarios {
        assert!(!scenario.examples.is_empty(), "{}", scenario.name);
        for (placeholder, value) in &scenario.examples {
            let fill = |s: &str| s.replace(&format!("<{placeholder}>"), value);
            let (headers, body) = parse_request(&fill(&scenario.request));
            let event = decode(&headers, &body)
                .unwrap_or_else(|e| panic!("{} ({value}): {e}", scenario.name));
            for (key, want) in &scenario.attributes {
                assert_eq!(
                    attribute(&event, key).as_deref(),
                    Some(fill(want).as_str()),
                    "{} ({value}): attribute {key}",
                    scenario.name
                );
            }
            let want: Value = serde_json::from_str(scenario.data_json.as_deref().unwrap()).unwrap();
            assert_eq!(
                data_json::<Value>(&event).unwrap(),
                want,
                "{}",
                scenario.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}

// ---------------------------------------------------------------------------------------------
// yaml/*.yaml: events to send in binary and structured mode (what `cloudevents invoke` does).

#[derive(Debug)]
struct YamlEvent {
    mode: Option<String>,
    attributes: Vec<(String, String)>,
    extensions: Vec<(String, String)>,
    transport: Vec<(String, String)>,
    data: Option<String>,
}

fn scalar(value: &serde_norway::Value) -> String {
    match value {
        serde_norway::Value::String(s) => s.clone(),
        serde_norway::Value::Number(n) => n.to_string(),
        serde_norway::Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn pairs(value: Option<&serde_norway::Value>) -> Vec<(String, String)> {
    value
        .and_then(|v| v.as_mapping())
        .map(|m| m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect())
        .unwrap_or_default()
}

fn yaml_events(relative: &str) -> Vec<YamlEvent> {
    let text = read(relative);
    let mut events = Vec::new();
    for document in serde_norway::Deserializer::from_str(&text) {
        let doc: serde_norway::Value = serde::Deserialize::deserialize(document).unwrap();
        let context = doc.get("ContextAttributes").expect("ContextAttributes");
        let attributes = context
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.as_str() != Some("Extensions"))
            .map(|(k, v)| (scalar(k), scalar(v)))
            .collect();
        events.push(YamlEvent {
            mode: doc.get("Mode").map(scalar),
            attributes,
            extensions: pairs(context.get("Extensions")),
            transport: pairs(doc.get("TransportExtensions")),
            data: doc.get("Data").map(scalar),
        });
    }
    events
}

/// Escapes like a conformant sender (the reader of these files is ours, not the SDK's).
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl YamlEvent {
    fn content_type(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == "datacontenttype")
            .map(|(_, v)| v.as_str())
    }

    fn binary(&self) -> (HeaderMap, Vec<u8>) {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.transport {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        for (name, value) in self.attributes.iter().chain(&self.extensions) {
            // Content-Type is a plain HTTP header; only ce-* values are percent-encoded.
            let (header, value) = if name == "datacontenttype" {
                ("content-type".to_owned(), value.clone())
            } else {
                (format!("ce-{name}"), escape(value))
            };
            headers.insert(
                HeaderName::from_bytes(header.as_bytes()).unwrap(),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        let body = self.data.clone().unwrap_or_default().into_bytes();
        (headers, body)
    }

    fn structured(&self) -> (HeaderMap, Vec<u8>) {
        let mut object = serde_json::Map::new();
        for (name, value) in self.attributes.iter().chain(&self.extensions) {
            object.insert(name.clone(), Value::String(value.clone()));
        }
        if let Some(data) = &self.data {
            let value = if is_json(self.content_type()) {
                serde_json::from_str(data).unwrap()
            } else {
                Value::String(data.clone())
            };
            object.insert("data".into(), value);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json; charset=utf-8"),
        );
        (headers, serde_json::to_vec(&object).unwrap())
    }

    fn assert_matches(&self, event: &Event, context: &str) {
        for (key, want) in &self.attributes {
            let got = attribute(event, key);
            if key == "time" {
                let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
                assert_eq!(parse(&got.unwrap()), parse(want), "{context}: time");
            } else {
                assert_eq!(got.as_deref(), Some(want.as_str()), "{context}: {key}");
            }
        }
        for (key, want) in &self.extensions {
            assert_eq!(
                event.extension(key).map(ToString::to_string).as_deref(),
                Some(want.as_str()),
                "{context}: extension {key}"
            );
        }
        let Some(data) = &self.data else {
            assert!(event.data().is_none(), "{context}: no data expected");
            return;
        };
        if is_json(self.content_type()) {
            let want: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data_json::<Value>(event).unwrap(), want, "{context}: data");
        } else {
            assert_eq!(
                data_bytes(event).as_deref(),
                Some(data.as_bytes()),
                "{context}: data"
            );
        }
    }
}

fn check_yaml(relative: &str, expected_events: usize) {
    let events = yaml_events(relative);
    assert_eq!(events.len(), expected_events, "{relative}");
    for (i, case) in events.iter().enumerate() {
        let modes: &[&str] = match case.mode.as_deref() {
            Some("binary") => &["binary"],
            Some("structured") => &["structured"],
            _ => &["binary", "structured"],
        };
        for mode in modes {
            let context = format!("{relative}#{i} {mode}");
            let (headers, body) = if *mode == "binary" {
                case.binary()
            } else {
                case.structured()
            };
            let event =
                decode(&headers, &body).unwrap_or_else(|e| panic!("{context}: decode: {e}"));
            case.assert_matches(&event, &context);

            // What we forward must decode to the same event again.
            let (headers, body) = encode_binary(&event).unwrap();
            let again = decode(&headers, &body).unwrap();
            case.assert_matches(&again, &format!("{context} re-encoded"));
        }
    }
}

#[test]
fn v1_yaml_events_decode_in_their_declared_mode() {
    check_yaml("yaml/v1.yaml", 2);
}

#[test]
fn v1_minimum_events_decode_in_both_modes() {
    check_yaml("yaml/v1.0/v1_minimum.yaml", 6);
}

#[test]
fn v03_events_decode_too() {
    check_yaml("yaml/v03.yaml", 1);
    check_yaml("yaml/v0.3/v03_minimum.yaml", 6);
}
