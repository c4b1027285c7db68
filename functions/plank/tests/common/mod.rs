//! Shared helpers of plank's black-box tests: an embedded API server, CloudEvents like Knative's sources, polling.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::Request;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use prow_core::events::{APISERVER_ADD, APISERVER_UPDATE, PING};
use prow_core::prowjob::{ProwJob, ProwJobType};
use prow_events::{Event, EventBuilder, EventBuilderV10};
use prow_kube::test_support::LocalApi;
use prow_kube::{Pods, ProwJobs};
use prow_plank::decide::Settings;
use prow_plank::{Options, PlankState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const JOB_NS: &str = "default";
pub(crate) const POD_NS: &str = "test-pods";

pub(crate) struct World {
    pub api: LocalApi,
    pub jobs: ProwJobs,
    pub pods: Pods,
}

impl World {
    pub(crate) async fn start() -> World {
        let api = LocalApi::start().await.unwrap();
        let client = api.client().unwrap();
        World {
            jobs: ProwJobs::new(client.clone(), JOB_NS),
            pods: Pods::new(client, POD_NS),
            api,
        }
    }

    pub(crate) fn plank(&self, settings: Settings) -> Router {
        router(self.state(settings))
    }

    pub(crate) fn state(&self, settings: Settings) -> PlankState {
        PlankState::with_settings(
            settings,
            self.api.client().unwrap(),
            JOB_NS,
            Options::default(),
        )
    }

    pub(crate) async fn job(&self, name: &str) -> ProwJob {
        self.jobs
            .get(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no ProwJob {name}"))
    }

    pub(crate) async fn pod(&self, name: &str) -> Option<Pod> {
        self.pods.get(name).await.unwrap()
    }

    /// Sets the pod's status as a kubelet would.
    pub(crate) async fn set_pod_status(&self, name: &str, status: Value) {
        self.pods
            .api()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .unwrap();
    }
}

/// A periodic ProwJob whose pod runs `script` with sh.
pub(crate) fn periodic(name: &str, script: &str) -> ProwJob {
    let mut pj = ProwJob::builder("ci-foo", ProwJobType::Periodic)
        .name(name)
        .build();
    let container = &mut pj.spec.pod_spec.as_mut().unwrap().containers[0];
    container.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    pj
}

pub(crate) fn apiserver_event(ty: &str, kind: &str, object: &impl serde::Serialize) -> Event {
    let object = serde_json::to_value(object).unwrap();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    EventBuilderV10::new()
        .id(format!(
            "{ty}-{name}-{}",
            object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("0")
        ))
        .ty(ty)
        .source("https://127.0.0.1/apis/v1/namespaces/prow/apiserversources/prow-resources")
        .extension("kind", kind)
        .extension("name", name)
        .extension(
            "namespace",
            object["metadata"]["namespace"].as_str().unwrap_or_default(),
        )
        .data("application/json", object)
        .build()
        .unwrap()
}

pub(crate) fn job_added(pj: &ProwJob) -> Event {
    apiserver_event(APISERVER_ADD, "ProwJob", pj)
}

pub(crate) fn pod_updated(pod: &Pod) -> Event {
    apiserver_event(APISERVER_UPDATE, "Pod", pod)
}

pub(crate) fn ping() -> Event {
    EventBuilderV10::new()
        .id("ping-1")
        .ty(PING)
        .source("/apis/v1/namespaces/prow/pingsources/plank-resync")
        .data("application/json", json!({"tick": "plank-resync"}))
        .build()
        .unwrap()
}

/// Delivers `event` in binary mode as the broker does; returns status and body.
pub(crate) async fn deliver(app: &Router, event: &Event) -> (u16, String) {
    let (headers, body) = prow_events::encode_binary(event).unwrap();
    let mut request = Request::post("/").body(Body::from(body)).unwrap();
    *request.headers_mut() = headers;
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Delivers and insists on the broker's "done": 2xx with an empty body.
pub(crate) async fn deliver_ok(app: &Router, event: &Event) {
    let (status, body) = deliver(app, event).await;
    assert!(
        (200..300).contains(&status) && body.is_empty(),
        "{status} {body:?}"
    );
}

/// Polls `check` until it yields a value (generous: the machine is shared).
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
