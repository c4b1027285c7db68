//! Shared helpers for black-box tests: start the real server on a loopback port and build clients for it.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use prow_local::{ApiServer, LogSource};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A server running on 127.0.0.1:<random port>; stops when dropped.
pub(crate) struct Running {
    pub url: String,
    pub server: ApiServer,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Running {
    pub(crate) async fn start() -> Running {
        Self::start_with(ApiServer::in_memory().unwrap()).await
    }

    pub(crate) async fn start_with_logs(logs: Arc<dyn LogSource>) -> Running {
        Self::start_with(ApiServer::in_memory().unwrap().with_log_source(logs)).await
    }

    pub(crate) async fn start_with(server: ApiServer) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state = server.clone();
        tokio::spawn(async move {
            prow_local::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Running {
            url,
            server,
            stop: Some(stop),
        }
    }

    pub(crate) fn client(&self) -> kube::Client {
        client_for(&self.url)
    }
}

pub(crate) fn client_for(url: &str) -> kube::Client {
    let mut config = kube::Config::new(url.parse().unwrap());
    config.default_namespace = "default".into();
    kube::Client::try_from(config).unwrap()
}

pub(crate) fn prowjob_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("prow.k8s.io", "v1", "ProwJob"),
        "prowjobs",
    )
}

pub(crate) fn prowjobs(client: &kube::Client, ns: &str) -> kube::Api<DynamicObject> {
    kube::Api::namespaced_with(client.clone(), ns, &prowjob_resource())
}

/// Builder for ProwJob test objects.
pub(crate) struct ProwJobBuilder(Value);

pub(crate) fn prowjob(name: &str) -> ProwJobBuilder {
    ProwJobBuilder(json!({
        "apiVersion": "prow.k8s.io/v1",
        "kind": "ProwJob",
        "metadata": {"name": name, "labels": {"prow.k8s.io/job": "ci-test"}},
        "spec": {"type": "periodic", "job": "ci-test", "agent": "kubernetes"},
        "status": {"state": "triggered", "startTime": "2024-01-02T03:04:05Z"}
    }))
}

impl ProwJobBuilder {
    pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
        self.0["metadata"]["labels"][k] = json!(v);
        self
    }
    pub(crate) fn state(mut self, s: &str) -> Self {
        self.0["status"]["state"] = json!(s);
        self
    }
    pub(crate) fn generate_name(mut self, prefix: &str) -> Self {
        self.0["metadata"] = json!({"generateName": prefix});
        self
    }
    pub(crate) fn spec(mut self, k: &str, v: Value) -> Self {
        self.0["spec"][k] = v;
        self
    }
    pub(crate) fn json(self) -> Value {
        self.0
    }
    pub(crate) fn dynamic(self) -> DynamicObject {
        serde_json::from_value(self.0).unwrap()
    }
}

/// Polls `check` until it is true (generous timeout for a loaded machine).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The `Status` inside a kube API error.
pub(crate) fn api_status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
