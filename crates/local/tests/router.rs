//! Router tests without a socket (`oneshot`): discovery, error shapes and request options kubectl and kube-rs rely on.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use prow_local::ApiServer;
use serde_json::{Value, json};
use tower::ServiceExt;

const PJ: &str = "/apis/prow.k8s.io/v1/namespaces/default/prowjobs";

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(
    server: &ApiServer,
    method: Method,
    uri: &str,
    content_type: &str,
    accept: &str,
    body: Value,
) -> Reply {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .header("accept", accept)
        .body(body)
        .unwrap();
    let response = prow_local::router(server.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(server: &ApiServer, uri: &str) -> Reply {
    call(
        server,
        Method::GET,
        uri,
        "application/json",
        "application/json",
        Value::Null,
    )
    .await
}

async fn post(server: &ApiServer, uri: &str, body: Value) -> Reply {
    call(
        server,
        Method::POST,
        uri,
        "application/json",
        "application/json",
        body,
    )
    .await
}

fn pj(name: &str) -> Value {
    json!({"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob", "metadata": {"name": name},
           "spec": {"type": "periodic", "job": "ci"}, "status": {"state": "pending"}})
}

#[tokio::test]
async fn discovery_documents_describe_the_served_resources() {
    let server = ApiServer::in_memory().unwrap();
    let version = get(&server, "/version?timeout=5s").await;
    assert_eq!(
        version.body["minor"], "32",
        "the kubectl dispatcher picks its client by this"
    );
    assert_eq!(get(&server, "/api").await.body["versions"], json!(["v1"]));
    assert_eq!(
        get(&server, "/apis").await.body["groups"][0]["name"],
        "prow.k8s.io"
    );
    let prow = get(&server, "/apis/prow.k8s.io/v1").await.body;
    assert_eq!(prow["resources"][0]["shortNames"], json!(["pj"]));
    let core = get(&server, "/api/v1").await.body;
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in ["pods", "pods/status", "pods/log", "namespaces", "events"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let root = get(&server, "/openapi/v3").await.body;
    let url = root["paths"]["apis/prow.k8s.io/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = get(&server, &url).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(
        doc.body["paths"][format!("{PJ}/{{name}}").replace("default", "{namespace}")]["patch"]
            .is_object()
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_with_status_objects() {
    let server = ApiServer::in_memory().unwrap();
    let cases = [
        (
            Method::GET,
            "/openapi/v2",
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
        (
            Method::GET,
            "/apis/apps/v1/namespaces/default/deployments",
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
        (
            Method::GET,
            "/api/v1/namespaces/default/pods/p/exec",
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
        (
            Method::PUT,
            PJ,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        (
            Method::POST,
            "/apis/prow.k8s.io/v1/prowjobs",
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        (
            Method::GET,
            &format!("{PJ}/missing"),
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
    ];
    for (method, uri, code, reason) in cases {
        let reply = call(
            &server,
            method.clone(),
            uri,
            "application/json",
            "application/json",
            Value::Null,
        )
        .await;
        assert_eq!(reply.status, code, "{method} {uri}");
        assert_eq!(reply.body["kind"], "Status", "{method} {uri}");
        assert_eq!(reply.body["reason"], reason, "{method} {uri}");
        assert_eq!(reply.body["code"], code.as_u16(), "{method} {uri}");
    }
    let bad_patch = call(
        &server,
        Method::PATCH,
        &format!("{PJ}/x"),
        "text/plain",
        "application/json",
        json!({}),
    )
    .await;
    assert_eq!(bad_patch.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let protobuf = call(
        &server,
        Method::POST,
        "/api/v1/namespaces/default/pods",
        "application/vnd.kubernetes.protobuf",
        "application/json",
        json!({}),
    )
    .await;
    assert_eq!(
        protobuf.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "only JSON bodies are understood"
    );
    let bad_json = call(
        &server,
        Method::POST,
        PJ,
        "application/json",
        "application/json",
        json!("not an object"),
    )
    .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn kubectl_style_table_requests_get_tables() {
    let server = ApiServer::in_memory().unwrap();
    post(&server, PJ, pj("pj1")).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let table = call(
        &server,
        Method::GET,
        &format!("{PJ}?limit=500"),
        "",
        accept,
        Value::Null,
    )
    .await
    .body;
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns[..5], ["Name", "Job", "Type", "State", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "pj1");
    assert_eq!(
        table["rows"][0]["object"]["metadata"]["namespace"],
        "default"
    );
    let one = call(
        &server,
        Method::GET,
        &format!("{PJ}/pj1"),
        "",
        accept,
        Value::Null,
    )
    .await
    .body;
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    let meta = call(
        &server,
        Method::GET,
        PJ,
        "",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        Value::Null,
    )
    .await
    .body;
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert!(meta["items"][0].get("spec").is_none());
}

#[tokio::test]
async fn field_validation_and_dry_run_options_are_honoured() {
    let server = ApiServer::in_memory().unwrap();
    let mut extra = pj("pj1");
    extra["spec"]["surprise"] = json!(true);
    let strict = post(
        &server,
        &format!("{PJ}?fieldValidation=Strict"),
        extra.clone(),
    )
    .await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert!(
        strict.body["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec.surprise\"")
    );

    let dry = post(&server, &format!("{PJ}?dryRun=All"), extra.clone()).await;
    assert_eq!(dry.status, StatusCode::CREATED);
    assert_eq!(
        get(&server, &format!("{PJ}/pj1")).await.status,
        StatusCode::NOT_FOUND,
        "dry runs store nothing"
    );

    let lenient = post(&server, PJ, extra).await;
    assert_eq!(lenient.status, StatusCode::CREATED);
    let warning = lenient.headers.get("warning").unwrap().to_str().unwrap();
    assert_eq!(warning, r#"299 - "unknown field \"spec.surprise\"""#);
}

#[tokio::test]
async fn finalizers_delay_deletion_until_they_are_removed() {
    let server = ApiServer::in_memory().unwrap();
    let mut obj = pj("pj1");
    obj["metadata"]["finalizers"] = json!(["prow.k8s.io/test"]);
    post(&server, PJ, obj).await;
    let first = call(
        &server,
        Method::DELETE,
        &format!("{PJ}/pj1"),
        "application/json",
        "application/json",
        json!({"propagationPolicy": "Background"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let marked = get(&server, &format!("{PJ}/pj1")).await.body;
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    let patch = json!({"metadata": {"finalizers": null}});
    let last = call(
        &server,
        Method::PATCH,
        &format!("{PJ}/pj1"),
        "application/merge-patch+json",
        "application/json",
        patch,
    )
    .await;
    assert_eq!(last.status, StatusCode::OK);
    assert_eq!(
        get(&server, &format!("{PJ}/pj1")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let server = ApiServer::in_memory().unwrap();
    post(&server, PJ, pj("pj1")).await;
    let body = json!({"preconditions": {"resourceVersion": "999"}});
    let reply = call(
        &server,
        Method::DELETE,
        &format!("{PJ}/pj1"),
        "application/json",
        "application/json",
        body,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(
        get(&server, &format!("{PJ}/pj1")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_objects() {
    let server = ApiServer::in_memory().unwrap();
    let uri = "/apis/prow.k8s.io/v1/namespaces/team/prowjobs";
    assert_eq!(
        post(&server, uri, pj("pj1")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        get(&server, "/api/v1/namespaces/team").await.body["status"]["phase"],
        "Active"
    );
    let reply = call(
        &server,
        Method::DELETE,
        "/api/v1/namespaces/team",
        "application/json",
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        get(&server, &format!("{uri}/pj1")).await.status,
        StatusCode::NOT_FOUND
    );
    let all = get(&server, "/apis/prow.k8s.io/v1/prowjobs").await.body;
    assert_eq!(all["items"], json!([]));
}

#[tokio::test]
async fn describe_can_list_events_by_involved_object() {
    let server = ApiServer::in_memory().unwrap();
    let uri = "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dpj1%2CinvolvedObject.namespace%3Ddefault%2CinvolvedObject.kind%3DProwJob&limit=500";
    let reply = get(&server, uri).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["kind"], "EventList");
    assert_eq!(reply.body["items"], json!([]));
}

#[tokio::test]
async fn table_watches_send_one_row_tables_and_end_at_the_timeout() {
    let server = ApiServer::in_memory().unwrap();
    post(&server, PJ, pj("pj1")).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let request = Request::builder()
        .uri(format!("{PJ}?watch=true&timeoutSeconds=1"))
        .header("accept", accept)
        .body(Body::empty())
        .unwrap();
    let response = prow_local::router(server.clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The body only completes because the server ends the stream at timeoutSeconds.
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let events: Vec<Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["kind"], "Table");
    assert_eq!(events[0]["object"]["rows"][0]["cells"][0], "pj1");
}
