//! Black-box tests of the local kubelet: pods created over HTTP run as processes, report status and serve logs.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Running, eventually};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, LogParams, PostParams};
use prow_local::kubelet::{Kubelet, KubeletConfig, PodFinished};
use prow_local::{ApiServer, MemoryLogs};
use serde_json::json;

struct Node {
    srv: Running,
    _work: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start_node() -> Node {
    start_node_with(None).await
}

async fn start_node_with(on_finished: Option<Arc<dyn PodFinished>>) -> Node {
    let logs = MemoryLogs::new();
    let server = ApiServer::in_memory()
        .unwrap()
        .with_log_source(Arc::new(logs.clone()));
    let work = tempfile::tempdir().unwrap();
    let mut config = KubeletConfig::new(work.path().to_path_buf());
    config.grace_period = Duration::from_secs(2);
    config.on_finished = on_finished;
    let kubelet = Kubelet::new(server.clone(), logs, config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(kubelet.run(async {
        let _ = stopped.await;
    }));
    Node {
        srv: Running::start_with(server).await,
        _work: work,
        stop: Some(stop),
    }
}

fn pod(name: &str, script: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "test", "image": "local",
            "command": ["sh", "-c"], "args": [script],
            "env": [{"name": "GREETING", "value": "hello"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        }]}
    }))
    .unwrap()
}

async fn phase(pods: &Api<Pod>, name: &str) -> String {
    pods.get(name)
        .await
        .ok()
        .and_then(|p| p.status?.phase)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_pod_runs_to_completion_and_its_output_becomes_its_log() {
    let node = start_node().await;
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    pods.create(
        &PostParams::default(),
        &pod("ok", "echo \"$GREETING from $POD\"; echo oops >&2"),
    )
    .await
    .unwrap();
    eventually("the pod to succeed", || async {
        phase(&pods, "ok").await == "Succeeded"
    })
    .await;
    let status = pods.get("ok").await.unwrap().status.unwrap();
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    let log = pods.logs("ok", &LogParams::default()).await.unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["hello from ok", "oops"]);
}

#[tokio::test]
async fn a_failing_command_fails_the_pod_with_its_exit_code() {
    let node = start_node().await;
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    pods.create(&PostParams::default(), &pod("bad", "exit 3"))
        .await
        .unwrap();
    eventually("the pod to fail", || async {
        phase(&pods, "bad").await == "Failed"
    })
    .await;
    let status = pods.get("bad").await.unwrap().status.unwrap();
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (3, Some("Error"))
    );
}

#[tokio::test]
async fn deleting_a_running_pod_kills_its_processes() {
    let node = start_node().await;
    let work = node._work.path().to_path_buf();
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    // The child writes a marker only if it survives the pod's deletion.
    pods.create(
        &PostParams::default(),
        &pod("sleepy", "echo started; sleep 3; touch survived"),
    )
    .await
    .unwrap();
    eventually("the pod to run", || async {
        phase(&pods, "sleepy").await == "Running"
    })
    .await;
    eventually("the command to start", || async {
        pods.logs("sleepy", &LogParams::default())
            .await
            .unwrap_or_default()
            .contains("started")
    })
    .await;
    pods.delete("sleepy", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !work.join("default/sleepy/survived").exists(),
        "the process outlived its pod"
    );
}

#[tokio::test]
async fn an_active_deadline_fails_the_pod() {
    let node = start_node().await;
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    let mut p = pod("slow", "sleep 30");
    p.spec.as_mut().unwrap().active_deadline_seconds = Some(1);
    pods.create(&PostParams::default(), &p).await.unwrap();
    eventually("the deadline to fail the pod", || async {
        phase(&pods, "slow").await == "Failed"
    })
    .await;
    let status = pods.get("slow").await.unwrap().status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
}

#[tokio::test]
async fn a_container_without_a_command_cannot_run() {
    let node = start_node().await;
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "img"},
        "spec": {"containers": [{"name": "test", "image": "alpine"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    eventually("the pod to fail", || async {
        phase(&pods, "img").await == "Failed"
    })
    .await;
    let status = pods.get("img").await.unwrap().status.unwrap();
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.reason.as_deref(), Some("ContainerCannotRun"));
}

/// Records what the finished-hook saw: the artifact a job wrote under `$ARTIFACTS` and its log.
#[derive(Default)]
struct Collected(std::sync::Mutex<Vec<(String, String)>>);

impl PodFinished for Collected {
    fn finished<'a>(
        &'a self,
        _pod: &'a serde_json::Value,
        pod_dir: &'a std::path::Path,
        log: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let artifact =
                std::fs::read_to_string(pod_dir.join("volumes/logs/artifacts/result.txt"))
                    .unwrap_or_default();
            self.0.lock().unwrap().push((artifact, log));
        })
    }
}

#[tokio::test]
async fn volume_paths_reach_the_host_and_the_finished_hook_sees_artifacts_and_log() {
    let collected = Arc::new(Collected::default());
    let node = start_node_with(Some(collected.clone())).await;
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    let with_volume: Pod = serde_json::from_value(json!({
        "metadata": {"name": "art"},
        "spec": {"restartPolicy": "Never",
            "volumes": [{"name": "logs", "emptyDir": {}}],
            "containers": [{
                "name": "test", "image": "local", "command": ["sh", "-c"],
                "args": ["mkdir -p \"$ARTIFACTS\" && echo passed > \"$ARTIFACTS/result.txt\" && echo done"],
                "env": [{"name": "ARTIFACTS", "value": "/logs/artifacts"}],
                "volumeMounts": [{"name": "logs", "mountPath": "/logs"}]
            }]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &with_volume)
        .await
        .unwrap();
    eventually("pod art to succeed", || async {
        phase(&pods, "art").await == "Succeeded"
    })
    .await;
    let seen = collected.0.lock().unwrap().clone();
    assert_eq!(seen, vec![("passed\n".to_string(), "done\n".to_string())]);
}

#[tokio::test]
async fn a_pod_leaves_kubelet_events_that_go_with_it() {
    use k8s_openapi::api::core::v1::Event;
    let node = start_node().await;
    let pods: Api<Pod> = Api::namespaced(node.srv.client(), "default");
    let events: Api<Event> = Api::namespaced(node.srv.client(), "default");
    pods.create(&PostParams::default(), &pod("evented", "true"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("bystander", "true"))
        .await
        .unwrap();
    eventually("both pods to succeed", || async {
        phase(&pods, "evented").await == "Succeeded"
            && phase(&pods, "bystander").await == "Succeeded"
    })
    .await;
    let about = |name: &'static str| {
        let events = events.clone();
        async move {
            let list = events
                .list(&kube::api::ListParams::default().fields(&format!(
                    "involvedObject.kind=Pod,involvedObject.name={name}"
                )))
                .await
                .unwrap();
            let mut reasons: Vec<String> =
                list.items.into_iter().filter_map(|e| e.reason).collect();
            reasons.sort();
            reasons
        }
    };
    assert_eq!(about("evented").await, ["Scheduled", "Started"]);
    pods.delete("evented", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the deleted pod's events to go", || async {
        about("evented").await.is_empty()
    })
    .await;
    // Only that pod's: another pod's events stay while it does.
    assert_eq!(about("bystander").await, ["Scheduled", "Started"]);
}
