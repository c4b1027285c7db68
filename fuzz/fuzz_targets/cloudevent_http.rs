//! HTTP requests into the CloudEvent decoder every receiver uses (binary mode with `ce-*`
//! headers, structured mode with `application/cloudevents+json`), then what a receiver does
//! with the event: read its data as JSON or bytes, and forward it in binary mode, which must
//! decode to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = prow_fuzz::framed(data);
    let Ok(event) = prow_events::decode(&request.headers, request.body) else {
        return;
    };
    let _ = prow_events::data_json::<serde_json::Value>(&event);
    let _ = prow_events::data_bytes(&event);
    // The broker forwards what it received: a decoded event must survive being re-sent.
    let Ok((headers, body)) = prow_events::encode_binary(&event) else {
        return;
    };
    let back = prow_events::decode(&headers, &body)
        .unwrap_or_else(|e| panic!("a received event, re-encoded, does not decode: {e}"));
    prow_fuzz::assert_same_event(&event, &back);
});
