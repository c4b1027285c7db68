//! Size limits a real kube-apiserver enforces, so `prow up` and tests fail where a cluster would:
//! 256 KiB of annotations per object (422 Invalid) and 3 MiB per request body (413).
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use prow_local::ApiServer;
use prow_local::http::MAX_REQUEST_BODY_BYTES;
use prow_local::object::TOTAL_ANNOTATION_SIZE_LIMIT_B;
use serde_json::{Value, json};
use tower::ServiceExt;

const PJ: &str = "/apis/prow.k8s.io/v1/namespaces/default/prowjobs";
const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const TOO_LONG: &str = "metadata.annotations: Too long: must have at most 262144 bytes";

async fn send(
    server: &ApiServer,
    method: Method,
    uri: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let response = prow_local::router(server.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn pj(name: &str, annotation_bytes: usize) -> Value {
    let mut pj = json!({
        "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
        "metadata": {"name": name},
        "spec": {"type": "periodic", "job": "ci-test"},
    });
    if annotation_bytes > 0 {
        // One annotation whose key ("a") and value add up to `annotation_bytes`.
        pj["metadata"]["annotations"] = json!({"a": "x".repeat(annotation_bytes - 1)});
    }
    pj
}

fn assert_too_long(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(body["reason"], "Invalid", "{what}");
    let message = body["message"].as_str().unwrap();
    assert!(message.ends_with(TOO_LONG), "{what}: {message}");
    assert_eq!(
        body["details"]["causes"][0]["field"],
        "metadata.annotations"
    );
    assert_eq!(body["details"]["causes"][0]["reason"], "FieldValueTooLong");
}

#[tokio::test]
async fn annotations_over_256_kib_are_refused_by_every_write() {
    let server = ApiServer::in_memory().unwrap();
    let limit = TOTAL_ANNOTATION_SIZE_LIMIT_B;
    let json_ct = "application/json";

    let (status, _) = send(
        &server,
        Method::POST,
        PJ,
        json_ct,
        pj("at", limit).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "exactly 256 KiB is allowed");
    let (status, body) = send(
        &server,
        Method::POST,
        PJ,
        json_ct,
        pj("over", limit + 1).to_string(),
    )
    .await;
    assert_too_long(status, &body, "create");
    assert_eq!(
        body["message"],
        format!("ProwJob.prow.k8s.io \"over\" is invalid: {TOO_LONG}")
    );

    let (status, small) = send(&server, Method::POST, PJ, json_ct, pj("pj", 0).to_string()).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut replaced = small.clone();
    replaced["metadata"]["annotations"] = pj("pj", limit + 1)["metadata"]["annotations"].clone();
    let (status, body) = send(
        &server,
        Method::PUT,
        &format!("{PJ}/pj"),
        json_ct,
        replaced.to_string(),
    )
    .await;
    assert_too_long(status, &body, "update");

    let merge =
        json!({"metadata": {"annotations": pj("pj", limit + 1)["metadata"]["annotations"]}});
    let (status, body) = send(
        &server,
        Method::PATCH,
        &format!("{PJ}/pj"),
        "application/merge-patch+json",
        merge.to_string(),
    )
    .await;
    assert_too_long(status, &body, "merge patch");

    // Server-side apply, both creating and updating.
    for name in ["pj", "applied"] {
        let (status, body) = send(
            &server,
            Method::PATCH,
            &format!("{PJ}/{name}?fieldManager=kubectl&force=false"),
            "application/apply-patch+yaml",
            pj(name, limit + 1).to_string(),
        )
        .await;
        assert_too_long(status, &body, &format!("apply {name}"));
    }
    let (status, _) = send(
        &server,
        Method::GET,
        &format!("{PJ}/applied"),
        json_ct,
        String::new(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refused apply creates nothing"
    );
}

#[tokio::test]
async fn request_bodies_over_3_mib_are_refused_with_413() {
    let server = ApiServer::in_memory().unwrap();
    // A CustomResourceDefinition carries no schema here, so its spec can be any size: 2.5 MiB is
    // over axum's default limit and under the API server's.
    let crd = |name: &str, spec_bytes: usize| {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {"filler": "x".repeat(spec_bytes)},
        })
        .to_string()
    };
    let fits = crd("fits.example.com", 5 * 512 * 1024);
    assert!(fits.len() < MAX_REQUEST_BODY_BYTES);
    let (status, body) = send(&server, Method::POST, CRDS, "application/json", fits).await;
    assert_eq!(status, StatusCode::CREATED, "{}", body["message"]);

    let over = crd("over.example.com", MAX_REQUEST_BODY_BYTES);
    for (method, uri, content_type) in [
        (Method::POST, CRDS.to_string(), "application/json"),
        (
            Method::PUT,
            format!("{CRDS}/fits.example.com"),
            "application/json",
        ),
        (
            Method::PATCH,
            format!("{CRDS}/over.example.com?fieldManager=kubectl"),
            "application/apply-patch+yaml",
        ),
    ] {
        let (status, body) = send(&server, method.clone(), &uri, content_type, over.clone()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {uri}");
        assert_eq!(body["reason"], "RequestEntityTooLarge");
        assert_eq!(
            body["message"],
            format!("Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}")
        );
    }
    let (status, _) = send(
        &server,
        Method::GET,
        &format!("{CRDS}/over.example.com"),
        "application/json",
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
