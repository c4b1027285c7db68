//! Encoding a CloudEvent as an HTTP binary-mode message (`ce-*` headers + raw data body).

use bytes::Bytes;
use cloudevents::{AttributesReader, Data, Event};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

/// Why an event cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("event {id}: attribute name {name:?} must be lower-case letters and digits only")]
    InvalidName { id: String, name: String },
    #[error("event {id}: datacontenttype {value:?} is not a valid Content-Type header")]
    InvalidContentType { id: String, value: String },
}

/// Headers and body of the binary-mode HTTP message for `event`.
///
/// Attribute values are percent-encoded (space, `"`, `%`, non-printable and non-ASCII), so
/// any string survives; data goes into the body byte for byte.
pub fn encode_binary(event: &Event) -> Result<(HeaderMap, Bytes), EncodeError> {
    let mut headers = HeaderMap::new();
    let attributes = event
        .iter_attributes()
        .map(|(name, value)| (name, value.to_string()));
    let extensions = event
        .iter_extensions()
        .map(|(name, value)| (name, value.to_string()));
    for (name, value) in attributes.chain(extensions) {
        if name == "datacontenttype" {
            let header =
                HeaderValue::from_str(&value).map_err(|_| EncodeError::InvalidContentType {
                    id: event.id().to_owned(),
                    value: value.clone(),
                })?;
            headers.insert(CONTENT_TYPE, header);
            continue;
        }
        headers.insert(header_name(event, name)?, percent_value(&value));
    }

    let body = match event.data() {
        None => Bytes::new(),
        Some(Data::Binary(bytes)) => Bytes::copy_from_slice(bytes),
        Some(Data::String(text)) => Bytes::copy_from_slice(text.as_bytes()),
        Some(Data::Json(value)) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Bytes::from(value.to_string())
        }
    };
    Ok((headers, body))
}

fn header_name(event: &Event, name: &str) -> Result<HeaderName, EncodeError> {
    let invalid = || EncodeError::InvalidName {
        id: event.id().to_owned(),
        name: name.to_owned(),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid {
        return Err(invalid());
    }
    HeaderName::from_bytes(format!("ce-{name}").as_bytes()).map_err(|_| invalid())
}

fn percent_value(value: &str) -> HeaderValue {
    let encoded = crate::percent::encode(value);
    // Percent-encoding leaves only printable ASCII, which every HeaderValue accepts.
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode;
    use cloudevents::{EventBuilder, EventBuilderV10};
    use serde_json::json;

    fn event() -> EventBuilderV10 {
        EventBuilderV10::new()
            .id("d-1")
            .ty("dev.prow.github.push")
            .source("https://github.com/acme/foo")
    }

    #[test]
    fn binary_encoding_puts_attributes_in_headers_and_data_in_the_body() {
        let e = event()
            .subject("a \"quoted\" 100% 🌎")
            .extension("action", "opened")
            .data("application/json", br#"{"x": 1 }"#.to_vec())
            .build()
            .unwrap();
        let (headers, body) = encode_binary(&e).unwrap();
        assert_eq!(headers["ce-specversion"], "1.0");
        assert_eq!(headers["ce-id"], "d-1");
        assert_eq!(headers["ce-type"], "dev.prow.github.push");
        assert_eq!(headers["ce-source"], "https://github.com/acme/foo");
        assert_eq!(headers["ce-action"], "opened");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            headers["ce-subject"],
            "a%20%22quoted%22%20100%25%20%F0%9F%8C%8E"
        );
        assert_eq!(
            &body[..],
            br#"{"x": 1 }"#,
            "raw bytes are not re-serialized"
        );
        assert_eq!(decode(&headers, &body).unwrap(), e, "round trip");
    }

    #[test]
    fn json_data_without_content_type_is_labelled_json() {
        let mut e = event().build().unwrap();
        e.set_data_unchecked(json!({"a": [1, 2]}));
        let (headers, body) = encode_binary(&e).unwrap();
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(&body[..], br#"{"a":[1,2]}"#);
    }

    #[test]
    fn extension_names_outside_the_spec_alphabet_are_refused() {
        for bad in ["Action", "git_hub", "with space", ""] {
            let e = event().extension(bad, "x").build().unwrap();
            assert_eq!(
                encode_binary(&e).unwrap_err(),
                EncodeError::InvalidName {
                    id: "d-1".into(),
                    name: bad.into()
                },
                "{bad:?}"
            );
        }
    }
}
