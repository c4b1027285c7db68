//! Write requests into the embedded Kubernetes API server behind `prow up`: creates, updates,
//! deletes and the four patch flavours (merge, strategic merge, JSON patch, apply) of
//! ProwJobs, Pods and ConfigMaps, decoded, validated (the ProwJob CRD schema) and stored.
//! Each input runs against a fresh in-memory server holding one object of each kind named
//! `seed` in `default`, so patches and updates meet a real object.
#![no_main]

use axum::body::Body;
use http::{Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use prow_local::ApiServer;

const SEEDS: &[(&str, &str)] = &[
    (
        "/apis/prow.k8s.io/v1/namespaces/default/prowjobs",
        r#"{"apiVersion":"prow.k8s.io/v1","kind":"ProwJob","metadata":{"name":"seed","labels":{"prow.k8s.io/job":"ci"}},"spec":{"type":"presubmit","job":"ci","refs":{"org":"o","repo":"r","base_ref":"main","base_sha":"abc","pulls":[{"number":1,"author":"a","sha":"def"}]},"pod_spec":{"containers":[{"name":"test","image":"alpine","args":["true"]}]}},"status":{"state":"pending","startTime":"2024-01-01T00:00:00Z"}}"#,
    ),
    (
        "/api/v1/namespaces/default/pods",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"seed","labels":{"created-by-prow":"true"}},"spec":{"containers":[{"name":"test","image":"alpine","command":["true"],"env":[{"name":"A","value":"1"}]}]}}"#,
    ),
    (
        "/api/v1/namespaces/default/configmaps",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"seed"},"data":{"config.yaml":"a: 1\n"}}"#,
    ),
];

fn request(
    method: Method,
    uri: &str,
    headers: &http::HeaderMap,
    body: Vec<u8>,
) -> Option<http::Request<Body>> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).ok()
}

fuzz_target!(|data: &[u8]| {
    let input = prow_fuzz::framed(data);
    // Bodies only: reads (and watches, which never end) are not what this target is about.
    let Ok(method) = Method::from_bytes(input.method.as_bytes()) else {
        return;
    };
    if ![Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(&method)
        || !input.path.starts_with('/')
    {
        return;
    }
    let Some(fuzzed) = request(method, input.path, &input.headers, input.body.to_vec()) else {
        return;
    };
    prow_fuzz::runtime().block_on(async move {
        let server = ApiServer::in_memory().unwrap_or_else(|e| panic!("in-memory server: {e}"));
        let json = {
            let mut h = http::HeaderMap::new();
            h.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            h
        };
        for (uri, object) in SEEDS {
            let seed = request(Method::POST, uri, &json, object.as_bytes().to_vec())
                .unwrap_or_else(|| panic!("seed request {uri}"));
            let (status, body) = prow_fuzz::call(prow_local::router(server.clone()), seed).await;
            assert!(
                status.is_success(),
                "seed {uri}: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        let (status, body) = prow_fuzz::call(prow_local::router(server.clone()), fuzzed).await;
        // A malformed request is the client's fault: 4xx with a Status body, never a 500.
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            String::from_utf8_lossy(&body)
        );
        // Whatever was written must read back: a stored object the server cannot serve
        // breaks every later list and watch.
        for (uri, _) in SEEDS {
            let list = request(Method::GET, uri, &http::HeaderMap::new(), Vec::new())
                .unwrap_or_else(|| panic!("list request {uri}"));
            let (status, body) = prow_fuzz::call(prow_local::router(server.clone()), list).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "list {uri}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        server.stop();
    });
});
