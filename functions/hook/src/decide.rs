//! The pure part of hook: Prow's request checks in Prow's order, and the CloudEvent for a delivery.

use http::{HeaderMap, Method, StatusCode};
use prow_core::events::{EXT_ACTION, github_event_type, github_source};
use prow_events::{Event, EventBuilder, EventBuilderV10};
use serde::Deserialize;

use crate::secret::{HmacSecrets, SignatureError};

pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// GitHub's own limit for webhook payloads.
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;

/// The answer GitHub gets for an accepted delivery, as Prow words it.
pub const ACCEPTED_BODY: &str = "Event received. Have a nice day.";

/// Why a delivery was refused; the Display text is the response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("405 Method not allowed")]
    MethodNotAllowed,
    #[error("400 Bad Request: Missing X-GitHub-Event Header")]
    MissingEvent,
    #[error("400 Bad Request: Missing X-GitHub-Delivery Header")]
    MissingDelivery,
    #[error("403 Forbidden: Missing X-Hub-Signature-256")]
    MissingSignature,
    #[error(
        "400 Bad Request: Hook only accepts content-type: application/json - please reconfigure this hook on GitHub"
    )]
    ContentType,
    #[error("413 Payload Too Large: webhook payloads are limited to {MAX_PAYLOAD_BYTES} bytes")]
    TooLarge,
    #[error("400 Bad Request: reading the body failed: {0}")]
    UnreadableBody(String),
    #[error("403 Forbidden: Invalid X-Hub-Signature-256 - {0}")]
    Signature(#[from] SignatureError),
    #[error("400 Bad Request: payload is not valid JSON: {0}")]
    InvalidJson(String),
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::MissingSignature | Rejection::Signature(_) => StatusCode::FORBIDDEN,
            Rejection::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::MissingEvent
            | Rejection::MissingDelivery
            | Rejection::ContentType
            | Rejection::UnreadableBody(_)
            | Rejection::InvalidJson(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Headers of a delivery that passed the checks that need no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeaders {
    pub event: String,
    pub delivery: String,
    pub signature: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// Method, event, delivery, signature presence and content type, in Prow's order.
pub fn check_headers(method: &Method, headers: &HeaderMap) -> Result<DeliveryHeaders, Rejection> {
    if method != Method::POST {
        return Err(Rejection::MethodNotAllowed);
    }
    let event = header(headers, EVENT_HEADER).ok_or(Rejection::MissingEvent)?;
    let delivery = header(headers, DELIVERY_HEADER).ok_or(Rejection::MissingDelivery)?;
    let signature = header(headers, SIGNATURE_HEADER).ok_or(Rejection::MissingSignature)?;
    // Prow compares the whole header: form-encoded hooks and parameters are both refused.
    if header(headers, http::header::CONTENT_TYPE.as_str()) != Some("application/json") {
        return Err(Rejection::ContentType);
    }
    Ok(DeliveryHeaders {
        event: event.to_owned(),
        delivery: delivery.to_owned(),
        signature: signature.to_owned(),
    })
}

/// The few payload fields hook routes by; everything else stays in the raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Routing {
    #[serde(default)]
    repository: Option<Repository>,
    #[serde(default)]
    organization: Option<Organization>,
    #[serde(default)]
    action: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Repository {
    #[serde(default)]
    full_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Organization {
    #[serde(default)]
    login: Option<String>,
}

impl Routing {
    /// `org/repo`, else the organization's login, else empty (as Prow keys its secrets).
    pub fn org_repo(&self) -> &str {
        let full_name = self
            .repository
            .as_ref()
            .and_then(|r| r.full_name.as_deref());
        let org = self.organization.as_ref().and_then(|o| o.login.as_deref());
        full_name.or(org).unwrap_or_default()
    }

    pub fn action(&self) -> Option<&str> {
        self.action.as_ref().and_then(serde_json::Value::as_str)
    }

    /// `https://github.com/<org>/<repo>`, the org's URL, or GitHub itself.
    pub fn source(&self) -> String {
        match self.org_repo() {
            "" => "https://github.com".to_owned(),
            name => github_source(name),
        }
    }
}

/// Signature, then JSON: a correctly signed but malformed payload is a 400, anything
/// unsigned a 403. The routing fields pick the secret, so they are parsed first; an
/// unparsable payload can still be verified against a plain or `'*'` secret.
pub fn check_body(
    secrets: &HmacSecrets,
    signature: &str,
    body: &[u8],
) -> Result<Routing, Rejection> {
    let routing = serde_json::from_slice::<Routing>(body);
    let org_repo = routing.as_ref().map(Routing::org_repo).unwrap_or_default();
    secrets.verify(org_repo, signature, body)?;
    routing.map_err(|e| Rejection::InvalidJson(e.to_string()))
}

/// GitHub's `ping` (sent when a hook is created) is acknowledged and not forwarded.
pub fn is_forwarded(event: &str) -> bool {
    event != "ping"
}

/// The CloudEvent for a delivery: same delivery, same id; data is the payload byte for byte.
pub fn to_cloud_event(
    headers: &DeliveryHeaders,
    routing: &Routing,
    body: &[u8],
) -> Result<Event, prow_events::cloudevents::event::EventBuilderError> {
    let mut builder = EventBuilderV10::new()
        .id(headers.delivery.as_str())
        .ty(github_event_type(&headers.event))
        .source(routing.source())
        .data("application/json", body.to_vec());
    if let Some(action) = routing.action() {
        builder = builder.extension(EXT_ACTION, action);
    }
    builder.build()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::secret::sign;
    use prow_events::{AttributesReader, Data};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    const ALL: &[(&str, &str)] = &[
        ("x-github-event", "push"),
        ("x-github-delivery", "d-1"),
        ("x-hub-signature-256", "sha256=00"),
        ("content-type", "application/json"),
    ];

    fn without(name: &str) -> HeaderMap {
        headers(
            &ALL.iter()
                .copied()
                .filter(|(k, _)| *k != name)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn header_checks_run_in_prows_order() {
        let cases: Vec<(&str, Method, HeaderMap, Rejection)> = vec![
            (
                "GET with nothing",
                Method::GET,
                HeaderMap::new(),
                Rejection::MethodNotAllowed,
            ),
            (
                "PUT with all",
                Method::PUT,
                headers(ALL),
                Rejection::MethodNotAllowed,
            ),
            (
                "no headers",
                Method::POST,
                HeaderMap::new(),
                Rejection::MissingEvent,
            ),
            (
                "no event",
                Method::POST,
                without("x-github-event"),
                Rejection::MissingEvent,
            ),
            (
                "no delivery",
                Method::POST,
                without("x-github-delivery"),
                Rejection::MissingDelivery,
            ),
            (
                "no signature",
                Method::POST,
                without("x-hub-signature-256"),
                Rejection::MissingSignature,
            ),
            (
                "no content type",
                Method::POST,
                without("content-type"),
                Rejection::ContentType,
            ),
        ];
        for (name, method, headers, want) in cases {
            assert_eq!(check_headers(&method, &headers), Err(want), "{name}");
        }
        for content_type in [
            "application/x-www-form-urlencoded",
            "application/json; charset=utf-8",
            "text/plain",
        ] {
            let mut h = headers(ALL);
            h.insert("content-type", content_type.parse().unwrap());
            assert_eq!(
                check_headers(&Method::POST, &h),
                Err(Rejection::ContentType),
                "{content_type}"
            );
        }
        assert_eq!(
            check_headers(&Method::POST, &headers(ALL)).unwrap(),
            DeliveryHeaders {
                event: "push".into(),
                delivery: "d-1".into(),
                signature: "sha256=00".into()
            }
        );
    }

    #[test]
    fn rejections_map_to_prows_statuses() {
        let cases = [
            (Rejection::MethodNotAllowed, 405),
            (Rejection::MissingEvent, 400),
            (Rejection::MissingDelivery, 400),
            (Rejection::MissingSignature, 403),
            (Rejection::ContentType, 400),
            (Rejection::TooLarge, 413),
            (Rejection::Signature(SignatureError::Mismatch), 403),
            (Rejection::InvalidJson("x".into()), 400),
        ];
        for (rejection, status) in cases {
            assert_eq!(rejection.status().as_u16(), status, "{rejection}");
        }
    }

    #[test]
    fn signature_is_checked_before_json_validity() {
        let secrets = HmacSecrets::parse(b"token");
        let bad_json = b"{not json";
        let signed = sign(b"token", bad_json);
        assert!(matches!(
            check_body(&secrets, &signed, bad_json),
            Err(Rejection::InvalidJson(_))
        ));
        assert!(matches!(
            check_body(&secrets, &sign(b"other", bad_json), bad_json),
            Err(Rejection::Signature(SignatureError::Mismatch))
        ));
        let per_org = HmacSecrets::parse(b"acme: [{value: token}]");
        assert!(matches!(
            check_body(&per_org, &signed, bad_json),
            Err(Rejection::Signature(SignatureError::NoSecretFor(_)))
        ));
    }

    #[test]
    fn routing_picks_repo_then_org_then_github() {
        let cases = [
            (
                r#"{"action":"opened","repository":{"full_name":"acme/foo"},"organization":{"login":"acme"}}"#,
                "https://github.com/acme/foo",
                Some("opened"),
            ),
            (
                r#"{"organization":{"login":"acme"},"action":"created"}"#,
                "https://github.com/acme",
                Some("created"),
            ),
            (r#"{"zen":"hi","action":5}"#, "https://github.com", None),
            (r#"{"repository":null}"#, "https://github.com", None),
        ];
        for (payload, source, action) in cases {
            let routing: Routing = serde_json::from_str(payload).unwrap();
            assert_eq!(routing.source(), source, "{payload}");
            assert_eq!(routing.action(), action, "{payload}");
        }
    }

    #[test]
    fn the_event_carries_the_delivery_and_the_raw_payload() {
        let body = br#"{ "action" : "opened", "repository": {"full_name": "acme/foo"} }"#;
        let routing: Routing = serde_json::from_slice(body).unwrap();
        let delivery = DeliveryHeaders {
            event: "pull_request".into(),
            delivery: "72d3162e".into(),
            signature: String::new(),
        };
        let event = to_cloud_event(&delivery, &routing, body).unwrap();
        assert_eq!(event.id(), "72d3162e");
        assert_eq!(event.ty(), "dev.prow.github.pull_request");
        assert_eq!(event.source(), "https://github.com/acme/foo");
        assert_eq!(event.datacontenttype(), Some("application/json"));
        assert_eq!(event.extension("action").unwrap().to_string(), "opened");
        assert_eq!(event.data(), Some(&Data::Binary(body.to_vec())));
        assert_eq!(to_cloud_event(&delivery, &routing, body).unwrap(), event);
        assert!(!is_forwarded("ping"));
        assert!(is_forwarded("push"));
    }
}
