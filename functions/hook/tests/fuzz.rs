//! Property tests: arbitrary bytes and mutated real payloads, correctly signed or not, never panic
//! hook; they get a 2xx, a 4xx with a reason, never a 5xx.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use http::Request;
use proptest::prelude::*;
use prow_hook::secret::{HmacSecrets, sign};
use prow_hook::{Forward, HookState, SecretSource, router};
use tower::ServiceExt;

fn state() -> HookState {
    HookState::new(
        SecretSource::Static(Arc::new(HmacSecrets::parse(b"t0ken"))),
        Forward::DryRun,
    )
}

fn payload() -> Vec<u8> {
    prow_testdata::webhook("pull_request.opened.json")
}

fn status_of(body: Vec<u8>, signed: bool, event: &str) -> u16 {
    let signature = if signed {
        sign(b"t0ken", &body)
    } else {
        sign(b"wrong", &body)
    };
    let request = Request::post("/hook")
        .header("x-github-event", event)
        .header("x-github-delivery", "fuzz")
        .header("x-hub-signature-256", signature)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        router(state())
            .oneshot(request)
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048), signed in any::<bool>()) {
        let status = status_of(body, signed, "pull_request");
        prop_assert!((200..500).contains(&status), "status {status}");
        if !signed {
            prop_assert_eq!(status, 403);
        }
    }

    #[test]
    fn mutated_real_payloads_never_panic(cut in 0usize..20_000, flip in 0usize..20_000, byte in any::<u8>(), event in "[a-z_]{1,20}") {
        let mut body = payload();
        body.truncate(cut.min(body.len()));
        if !body.is_empty() {
            let i = flip % body.len();
            body[i] = byte;
        }
        let status = status_of(body, true, &event);
        prop_assert!((200..500).contains(&status), "status {status}");
    }
}
