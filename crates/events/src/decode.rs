//! Decoding an HTTP request (binary or structured content mode) into a CloudEvent.

use std::borrow::Cow;

use cloudevents::binding::http::to_event;
use cloudevents::{AttributesReader, AttributesWriter, Data, Event};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use crate::percent::{self, PercentError};

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

/// Why a request is not a usable CloudEvent; the message is safe to return to the sender.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "not a CloudEvent: no ce-specversion header and Content-Type is not application/cloudevents+json"
    )]
    NotACloudEvent,
    #[error("batched CloudEvents (application/cloudevents-batch+json) are not supported")]
    Batch,
    #[error("header {header}: {source}")]
    HeaderEncoding {
        header: String,
        #[source]
        source: PercentError,
    },
    #[error("invalid CloudEvent: {0}")]
    Invalid(#[source] cloudevents::message::Error),
    #[error("event {id} carries no data")]
    NoData { id: String },
    #[error("event {id}: data is not the expected JSON: {source}")]
    DataJson {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Turns request headers and body into an event (binary or structured mode).
///
/// `ce-*` header values are percent-decoded first, as the HTTP binding requires; other SDKs
/// (Python's escapes `/` and `:` too) depend on that.
pub fn decode(headers: &HeaderMap, body: &[u8]) -> Result<Event, DecodeError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let content_type = content_type.as_deref().unwrap_or_default();
    if content_type.starts_with(BATCH) {
        return Err(DecodeError::Batch);
    }
    let structured = content_type.starts_with(STRUCTURED);
    if !structured && !headers.contains_key("ce-specversion") {
        return Err(DecodeError::NotACloudEvent);
    }

    let mut normalized = HeaderMap::with_capacity(headers.len());
    // Values that decode to non-ASCII cannot live in a HeaderValue the SDK accepts; they are
    // parsed in their escaped form and set on the event afterwards.
    let mut late: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        if name == CONTENT_TYPE && structured {
            // The SDK compares the media type case-sensitively.
            normalized.append(name, HeaderValue::from_static(STRUCTURED));
            continue;
        }
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            normalized.append(name, value.clone());
            continue;
        };
        if !value.as_bytes().contains(&b'%') {
            normalized.append(name, value.clone());
            continue;
        }
        let decoded =
            percent::decode(value.as_bytes()).map_err(|source| DecodeError::HeaderEncoding {
                header: name.as_str().to_owned(),
                source,
            })?;
        match HeaderValue::from_str(&decoded) {
            Ok(v) if decoded.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) => {
                normalized.append(name, v);
            }
            _ => {
                normalized.append(name, value.clone());
                late.push((attribute.to_owned(), decoded));
            }
        }
    }

    let mut event = to_event(&normalized, body.to_vec()).map_err(DecodeError::Invalid)?;
    for (attribute, value) in late {
        set_string_attribute(&mut event, &attribute, value);
    }
    Ok(event)
}

/// Sets a string attribute that arrived percent-encoded with non-ASCII content.
fn set_string_attribute(event: &mut Event, attribute: &str, value: String) {
    match attribute {
        "id" => {
            event.set_id(value);
        }
        "source" => {
            event.set_source(value);
        }
        "type" => {
            event.set_type(value);
        }
        "subject" => {
            event.set_subject(Some(value));
        }
        // A URL in escaped form is the same URL, and time/specversion are ASCII when valid:
        // the SDK already parsed (or rejected) those from the escaped header.
        "dataschema" | "schemaurl" | "time" | "specversion" | "datacontentencoding" => {}
        extension => {
            event.set_extension(extension, value);
        }
    }
}

/// Deserializes the event's data as JSON, whether the SDK handed it over parsed
/// (structured mode) or as raw bytes/text (binary mode).
pub fn data_json<T: DeserializeOwned>(event: &Event) -> Result<T, DecodeError> {
    let id = || event.id().to_owned();
    let parsed = match event.data() {
        None => return Err(DecodeError::NoData { id: id() }),
        Some(Data::Json(value)) => T::deserialize(value),
        Some(Data::Binary(bytes)) => serde_json::from_slice(bytes),
        Some(Data::String(text)) => serde_json::from_str(text),
    };
    parsed.map_err(|source| DecodeError::DataJson { id: id(), source })
}

/// The event's data as bytes, as they would travel in a binary-mode body.
pub fn data_bytes(event: &Event) -> Option<Cow<'_, [u8]>> {
    match event.data()? {
        Data::Binary(bytes) => Some(Cow::Borrowed(bytes)),
        Data::String(text) => Some(Cow::Borrowed(text.as_bytes())),
        Data::Json(value) => Some(Cow::Owned(value.to_string().into_bytes())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cloudevents::EventBuilder;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    const MINIMAL: &[(&str, &str)] = &[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-type", "t"),
        ("ce-source", "/s"),
    ];

    #[test]
    fn requests_that_are_not_cloudevents_are_named_as_such() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "not a CloudEvent"),
            (&[("content-type", "application/json")], "not a CloudEvent"),
            (
                &[("content-type", "application/cloudevents-batch+json")],
                "batched",
            ),
            (
                &[
                    ("ce-specversion", "1.0"),
                    ("ce-type", "t"),
                    ("ce-source", "/s"),
                ],
                "id",
            ),
            (
                &[
                    ("ce-specversion", "0.9"),
                    ("ce-id", "1"),
                    ("ce-type", "t"),
                    ("ce-source", "/s"),
                ],
                "0.9",
            ),
            (
                &[
                    ("ce-specversion", "1.0"),
                    ("ce-id", "1%FF"),
                    ("ce-type", "t"),
                    ("ce-source", "/s"),
                ],
                "ce-id",
            ),
        ];
        for (pairs, reason) in cases {
            let err = decode(&headers(pairs), b"").unwrap_err().to_string();
            assert!(err.contains(reason), "{pairs:?}: {err:?} lacks {reason:?}");
        }
    }

    #[test]
    fn binary_mode_percent_decodes_attributes_and_extensions() {
        let mut pairs = MINIMAL.to_vec();
        pairs[3] = ("ce-source", "%2Fmy%20source");
        pairs.push(("ce-subject", "Hello,%20%F0%9F%8C%8E!"));
        pairs.push(("ce-action", "opened"));
        pairs.push(("ce-note", "caf%C3%A9"));
        pairs.push(("ce-time", "2018-04-05T03%3A56%3A24Z"));
        pairs.push(("ce-unescaped", "100% sure"));
        let event = decode(&headers(&pairs), b"").unwrap();
        assert_eq!(event.source(), "/my source");
        assert_eq!(event.subject(), Some("Hello, 🌎!"));
        assert_eq!(event.extension("action").unwrap().to_string(), "opened");
        assert_eq!(event.extension("note").unwrap().to_string(), "café");
        assert_eq!(
            event.extension("unescaped").unwrap().to_string(),
            "100% sure"
        );
        assert_eq!(
            event.time().unwrap().to_rfc3339(),
            "2018-04-05T03:56:24+00:00"
        );
        assert!(event.data().is_none());
    }

    #[test]
    fn structured_mode_content_type_is_matched_case_insensitively() {
        let body = br#"{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"a":1}}"#;
        let h = headers(&[(
            "content-type",
            "Application/CloudEvents+JSON; charset=UTF-8",
        )]);
        let event = decode(&h, body).unwrap();
        assert_eq!(event.id(), "1");
        assert_eq!(
            data_json::<serde_json::Value>(&event).unwrap(),
            json!({"a": 1})
        );
    }

    #[test]
    fn data_json_accepts_every_shape_the_sdk_produces() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Payload {
            action: String,
        }
        let base = || {
            cloudevents::EventBuilderV10::new()
                .id("1")
                .ty("t")
                .source("/s")
        };
        let shapes: Vec<Data> = vec![
            Data::Json(json!({"action": "opened"})),
            Data::Binary(br#"{"action":"opened"}"#.to_vec()),
            Data::String(r#"{"action":"opened"}"#.to_owned()),
        ];
        for data in shapes {
            let event = base()
                .data("application/json", data.clone())
                .build()
                .unwrap();
            let payload: Payload = data_json(&event).unwrap();
            assert_eq!(payload.action, "opened", "{data:?}");
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&data_bytes(&event).unwrap()).unwrap(),
                json!({"action": "opened"})
            );
        }
        let empty = base().build().unwrap();
        assert!(matches!(
            data_json::<Payload>(&empty),
            Err(DecodeError::NoData { .. })
        ));
        assert!(data_bytes(&empty).is_none());
        let bad = base()
            .data("application/json", b"{nope".to_vec())
            .build()
            .unwrap();
        assert!(matches!(
            data_json::<Payload>(&bad),
            Err(DecodeError::DataJson { .. })
        ));
    }
}
