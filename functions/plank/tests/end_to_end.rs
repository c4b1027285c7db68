//! End to end: ProwJob created -> ApiServerSource-like events -> plank creates the pod -> the local kubelet runs it -> pod events -> ProwJob final state.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use prow_core::events::{APISERVER_ADD, APISERVER_DELETE, APISERVER_UPDATE};
use prow_core::prowjob::ProwJobState;
use prow_kube::test_support::LocalApi;
use prow_kube::{Pods, ProwJobs};
use prow_local::events::EventType;
use prow_local::kubelet::{Kubelet, KubeletConfig};
use prow_local::{ApiServer, MemoryLogs};
use prow_plank::decide::Settings;
use tokio::sync::broadcast::error::RecvError;

struct Node {
    world: World,
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

/// An API server with a kubelet, and plank fed every ProwJob/Pod change as an ApiServerSource
/// event, each delivered `copies` times (a source or broker that repeats itself).
async fn start(copies: usize) -> Node {
    let logs = MemoryLogs::new();
    let server = ApiServer::in_memory()
        .unwrap()
        .with_log_source(Arc::new(logs.clone()));
    let work = tempfile::tempdir().unwrap();
    let mut config = KubeletConfig::new(work.path().to_path_buf());
    config.grace_period = Duration::from_secs(2);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Kubelet::new(server.clone(), logs, config).run(async {
        let _ = stopped.await;
    }));
    let mut changes = server.changes();
    let api = LocalApi::start_with(server).await.unwrap();
    let client = api.client().unwrap();
    let world = World {
        jobs: ProwJobs::new(client.clone(), JOB_NS),
        pods: Pods::new(client, POD_NS),
        api,
    };
    let plank = world.plank(Settings::default());
    tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let kind = change.resource.kind;
            if kind != "ProwJob" && kind != "Pod" {
                continue;
            }
            let ty = match change.kind {
                EventType::Added => APISERVER_ADD,
                EventType::Modified => APISERVER_UPDATE,
                EventType::Deleted => APISERVER_DELETE,
            };
            let event = apiserver_event(ty, kind, &change.object);
            for _ in 0..copies {
                let (status, body) = deliver(&plank, &event).await;
                assert_eq!(status, 200, "{body}");
            }
        }
    });
    Node {
        world,
        _work: work,
        stop: Some(stop),
    }
}

async fn final_state(world: &World, name: &str) -> ProwJobState {
    eventually(&format!("{name} to complete"), || async {
        let job = world.jobs.get(name).await.ok()??;
        job.is_complete().then_some(job.status.state)
    })
    .await
}

#[tokio::test]
async fn a_prowjob_runs_its_pod_on_the_local_kubelet_and_ends_in_success_or_failure() {
    let node = start(1).await;
    let world = &node.world;
    world
        .jobs
        .create(&periodic("passes", "echo hi; exit 0"))
        .await
        .unwrap();
    world
        .jobs
        .create(&periodic("fails", "echo bye; exit 1"))
        .await
        .unwrap();
    assert_eq!(final_state(world, "passes").await, ProwJobState::Success);
    assert_eq!(final_state(world, "fails").await, ProwJobState::Failure);
    let passed = world.job("passes").await;
    assert_eq!(passed.status.description, "Job succeeded.");
    assert!(passed.status.pending_time.is_some());
    assert_eq!(world.job("fails").await.status.description, "Job failed.");
}

#[tokio::test]
async fn duplicated_events_do_not_create_duplicate_pods() {
    let node = start(3).await;
    let world = &node.world;
    for name in ["dup-1", "dup-2"] {
        world
            .jobs
            .create(&periodic(name, "echo $JOB_NAME $BUILD_ID"))
            .await
            .unwrap();
    }
    for name in ["dup-1", "dup-2"] {
        assert_eq!(final_state(world, name).await, ProwJobState::Success);
    }
    let pods = world.pods.list(None).await.unwrap();
    assert_eq!(pods.len(), 2, "one pod per job");
    for name in ["dup-1", "dup-2"] {
        let job = world.job(name).await;
        let pod = world.pod(name).await.unwrap();
        assert_eq!(
            pod.metadata.labels.unwrap()["prow.k8s.io/build-id"],
            job.status.build_id
        );
    }
}
