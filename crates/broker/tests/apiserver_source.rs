//! The ApiServerSource adapter against the embedded API server (prow-local): watch events become Knative events in the broker.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use prow_broker::apiserver::ApiServerAdapter;
use prow_broker::{Broker, BrokerOptions, Manifests};
use serde_json::json;
use support::*;

struct LocalApi {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for LocalApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start_api_server() -> LocalApi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = prow_local::ApiServer::in_memory().unwrap();
    tokio::spawn(async move {
        prow_local::serve(listener, server, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    LocalApi {
        url,
        stop: Some(stop),
    }
}

fn client_for(url: &str) -> kube::Client {
    kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

fn prowjobs(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("prow.k8s.io", "v1", "ProwJob"),
        "prowjobs",
    );
    Api::namespaced_with(client.clone(), "prow", &ar)
}

fn pods(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods");
    Api::namespaced_with(client.clone(), "prow", &ar)
}

fn object(
    api_version: &str,
    kind: &str,
    name: &str,
    labelled: bool,
    spec: serde_json::Value,
) -> DynamicObject {
    let labels = if labelled {
        json!({"created-by-prow": "true"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {"name": name, "namespace": "prow", "labels": labels},
        "spec": spec,
    }))
    .unwrap()
}

#[tokio::test]
async fn prowjob_and_pod_changes_reach_plank_and_crier() {
    let api = start_api_server().await;
    let client = client_for(&api.url);
    let (routers, rec) = functions();
    let m = Manifests::load_dir(eventing_dir()).unwrap();
    let broker = Broker::new(&m, routers, BrokerOptions::default()).unwrap();
    let adapter = ApiServerAdapter::new(
        client.clone(),
        &api.url,
        &m.api_server_sources,
        Arc::new(broker.clone()),
    )
    .unwrap();
    let ready = adapter.ready();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(adapter.run(async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .expect("watches listed");

    let jobs = prowjobs(&client);
    jobs.create(
        &PostParams::default(),
        &object(
            "prow.k8s.io/v1",
            "ProwJob",
            "pj1",
            true,
            json!({"type": "periodic", "job": "unit"}),
        ),
    )
    .await
    .unwrap();
    // Every ProwJob is watched, but only Pods labelled created-by-prow.
    pods(&client)
        .create(
            &PostParams::default(),
            &object(
                "v1",
                "Pod",
                "foreign",
                false,
                json!({"containers": [{"name": "test", "image": "busybox"}]}),
            ),
        )
        .await
        .unwrap();
    eventually("plank and crier to see the add", || {
        rec["plank"].count() == 1 && rec["crier"].count() == 1
    })
    .await;

    let add = rec["crier"].last().unwrap();
    assert_eq!(
        add.header("ce-type"),
        Some("dev.knative.apiserver.resource.add")
    );
    assert_eq!(add.header("ce-source"), Some(api.url.as_str()));
    assert_eq!(
        add.header("ce-subject"),
        Some("/apis/prow.k8s.io/v1/namespaces/prow/prowjobs/pj1")
    );
    assert_eq!(add.header("ce-kind"), Some("ProwJob"));
    assert_eq!(add.header("ce-apiversion"), Some("prow.k8s.io/v1"));
    assert_eq!(add.header("ce-name"), Some("pj1"));
    assert_eq!(add.header("ce-namespace"), Some("prow"));
    assert_eq!(add.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&add.body).unwrap();
    assert_eq!(body["spec"]["job"], "unit");
    assert_eq!(body["metadata"]["name"], "pj1");

    jobs.patch(
        "pj1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"job": "unit-2"}})),
    )
    .await
    .unwrap();
    eventually("the update", || {
        rec["plank"].count() == 2 && rec["crier"].count() == 2
    })
    .await;
    assert_eq!(
        rec["crier"].types()[1],
        "dev.knative.apiserver.resource.update"
    );

    pods(&client)
        .create(
            &PostParams::default(),
            &object(
                "v1",
                "Pod",
                "pj1",
                true,
                json!({"containers": [{"name": "test", "image": "busybox"}]}),
            ),
        )
        .await
        .unwrap();
    eventually("plank to see the pod", || rec["plank"].count() == 3).await;
    let pod = rec["plank"].last().unwrap();
    assert_eq!(pod.header("ce-kind"), Some("Pod"));
    assert_eq!(
        pod.header("ce-subject"),
        Some("/apis/v1/namespaces/prow/pods/pj1")
    );

    jobs.delete("pj1", &DeleteParams::default()).await.unwrap();
    eventually("plank to see the delete", || rec["plank"].count() == 4).await;
    assert_eq!(
        rec["plank"].types()[3],
        "dev.knative.apiserver.resource.delete"
    );

    broker.wait_idle().await;
    // crier wants no pods and no deletes; nobody hears about the unlabelled Pod.
    assert_eq!(rec["crier"].count(), 2);
    assert!(
        rec["plank"]
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.header("ce-name") == Some("pj1"))
    );
    stop.send(()).unwrap();
    running.await.unwrap();
}

/// A scripted API server: lists at version 5; the first watch says 410 Gone, so the adapter must
/// relist (now at version 9) and watch from there, where one ProwJob is added.
#[tokio::test]
async fn an_expired_watch_relists_and_resumes() {
    let calls = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = calls.clone();
    let app = axum::Router::new().route(
        "/apis/prow.k8s.io/v1/namespaces/prow/prowjobs",
        axum::routing::get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
            let log = log.clone();
            async move {
                let watching = q.get("watch").is_some_and(|w| w == "true" || w == "1");
                let version = q.get("resourceVersion").cloned().unwrap_or_default();
                let lists = {
                    let mut calls = log.lock().unwrap();
                    calls.push(format!(
                        "{} {version} {}",
                        if watching { "watch" } else { "list" },
                        q.get("labelSelector").cloned().unwrap_or_default()
                    ));
                    calls.iter().filter(|c| c.starts_with("list")).count()
                };
                if !watching {
                    let rv = if lists == 1 { "5" } else { "9" };
                    return axum::Json(json!({
                        "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                        "metadata": {"resourceVersion": rv}, "items": []
                    }))
                    .into_response();
                }
                let line = if version == "5" {
                    json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "reason": "Expired", "code": 410, "message": "too old resource version: 5"}})
                } else if version == "9" {
                    json!({"type": "ADDED", "object": {"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
                        "metadata": {"name": "late", "namespace": "prow", "resourceVersion": "10",
                                     "labels": {"created-by-prow": "true"}}}})
                } else {
                    // Later re-watches: hold the stream open without events.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return StatusCode::OK.into_response();
                };
                (StatusCode::OK, [("content-type", "application/json")], Bytes::from(format!("{line}\n"))).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let only_prowjobs = Manifests::parse_str(
        r#"
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: jobs, namespace: prow}
spec:
  mode: Resource
  resources: [{apiVersion: prow.k8s.io/v1, kind: ProwJob, selector: {matchLabels: {created-by-prow: "true"}}}]
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
"#,
        "jobs.yaml",
    )
    .unwrap();
    let (routers, rec) = functions();
    let broker = Broker::new(
        &Manifests::load_dir(eventing_dir()).unwrap(),
        routers,
        BrokerOptions::default(),
    )
    .unwrap();
    let adapter = ApiServerAdapter::new(
        client_for(&url),
        &format!("{url}/"),
        &only_prowjobs.api_server_sources,
        Arc::new(broker.clone()),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(adapter.run(async {
        let _ = stopped.await;
    }));
    eventually("the late ProwJob to reach crier", || {
        rec["crier"].count() == 1
    })
    .await;
    let got = rec["crier"].last().unwrap();
    assert_eq!(got.header("ce-name"), Some("late"));
    assert_eq!(
        got.header("ce-source"),
        Some(url.as_str()),
        "trailing slash trimmed"
    );
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls[..4],
        [
            "list  created-by-prow=true",
            "watch 5 created-by-prow=true",
            "list  created-by-prow=true",
            "watch 9 created-by-prow=true",
        ],
        "{calls:?}"
    );
    stop.send(()).unwrap();
    running.await.unwrap();
}
