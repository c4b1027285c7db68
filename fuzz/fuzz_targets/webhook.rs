//! GitHub deliveries into hook: header checks, HMAC, JSON routing fields, the CloudEvent it
//! publishes (which must survive the trip to the broker), the axum router around it, and the
//! HMAC secret file parser. A `X-Hub-Signature-256: sign` header is replaced by the body's real
//! signature, so mutated bodies get past the HMAC check and into the parsing behind it.
#![no_main]

use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use prow_hook::decide::{SIGNATURE_HEADER, check_body, check_headers, to_cloud_event};
use prow_hook::secret::{HmacSecrets, sign};
use prow_hook::{Forward, HookState, SecretSource};

const SECRET: &[u8] = b"fuzz-hmac-secret";

fuzz_target!(|data: &[u8]| {
    let mut request = prow_fuzz::framed(data);
    if request
        .headers
        .get(SIGNATURE_HEADER)
        .is_some_and(|v| v == "sign")
    {
        let signature = sign(SECRET, request.body);
        if let Ok(value) = HeaderValue::from_str(&signature) {
            request.headers.insert(SIGNATURE_HEADER, value);
        }
    }
    let Ok(method) = Method::from_bytes(request.method.as_bytes()) else {
        return;
    };
    let secrets = HmacSecrets::Single(SECRET.to_vec());

    if let Ok(delivery) = check_headers(&method, &request.headers)
        && let Ok(routing) = check_body(&secrets, &delivery.signature, request.body)
        && let Ok(event) = to_cloud_event(&delivery, &routing, request.body)
    {
        // The broker decodes what hook publishes: every accepted delivery must arrive intact.
        let (headers, body) = prow_events::encode_binary(&event)
            .unwrap_or_else(|e| panic!("hook's event does not encode: {e}"));
        let back = prow_events::decode(&headers, &body)
            .unwrap_or_else(|e| panic!("hook's event does not decode: {e}"));
        prow_fuzz::assert_same_event(&event, &back);
    }

    let path = if request.path.starts_with('/') {
        request.path
    } else {
        "/hook"
    };
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let Ok(http_request) = builder.body(axum::body::Body::from(request.body.to_vec())) else {
        return;
    };
    let router = prow_hook::router(HookState::new(
        SecretSource::Static(Arc::new(secrets)),
        Forward::DryRun,
    ));
    let (status, _) = prow_fuzz::runtime().block_on(prow_fuzz::call(router, http_request));
    // hook answers 500 only for its own bugs (or a missing secret, which cannot happen here).
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);

    // The same bytes as a secret file: a YAML map of token lists or one plain token.
    let _ = HmacSecrets::parse(request.body);
});
