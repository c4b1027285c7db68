//! Black-box tests of plank: CloudEvents over its router against an embedded API server.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use prow_core::jobspec::{BUILD_ID_LABEL, ID_LABEL};
use prow_core::prowjob::{ProwJobState, ProwJobType, Pull, Refs};
use prow_plank::decide::{
    DESC_FAILED, DESC_SUCCEEDED, DESC_SUPERSEDED, DESC_TRIGGERED, GITHUB_REPORTER, Settings,
};
use serde_json::json;

#[tokio::test]
async fn a_new_prowjob_gets_one_pod_and_goes_pending_even_when_the_event_repeats() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    let pj = periodic("pj-1", "echo hi");
    world.jobs.create(&pj).await.unwrap();

    deliver_ok(&plank, &job_added(&pj)).await;
    let pod = world.pod("pj-1").await.expect("pod created");
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels[ID_LABEL], "pj-1");
    assert_eq!(labels["created-by-prow"], "true");
    let job = world.job("pj-1").await;
    assert_eq!(job.status.state, ProwJobState::Pending);
    assert_eq!(job.status.description, DESC_TRIGGERED);
    assert_eq!(job.status.pod_name, "pj-1");
    assert_eq!(job.status.build_id, labels[BUILD_ID_LABEL]);
    assert!(job.status.pending_time.is_some());

    // The same event again, and the update event of our own status write: nothing new.
    deliver_ok(&plank, &job_added(&pj)).await;
    deliver_ok(&plank, &job_added(&job)).await;
    assert_eq!(world.pods.list(None).await.unwrap().len(), 1);
    assert_eq!(world.job("pj-1").await.status, job.status);
}

#[tokio::test]
async fn pod_phases_become_job_states_with_completion_time() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    for (name, phase, exit_code, state, description) in [
        ("ok", "Succeeded", 0, ProwJobState::Success, DESC_SUCCEEDED),
        ("bad", "Failed", 1, ProwJobState::Failure, DESC_FAILED),
    ] {
        let pj = periodic(name, "true");
        world.jobs.create(&pj).await.unwrap();
        deliver_ok(&plank, &job_added(&pj)).await;
        world
            .set_pod_status(
                name,
                json!({"phase": phase, "startTime": "2026-01-01T00:00:00Z", "containerStatuses": [{
                    "name": "test", "ready": false, "restartCount": 0, "image": "alpine:3", "imageID": "",
                    "state": {"terminated": {"exitCode": exit_code, "finishedAt": "2026-01-01T00:00:05Z"}}}]}),
            )
            .await;
        let pod = world.pod(name).await.unwrap();
        deliver_ok(&plank, &pod_updated(&pod)).await;
        let job = world.job(name).await;
        assert_eq!(job.status.state, state, "{name}");
        assert_eq!(job.status.description, description, "{name}");
        let completed = job.status.completion_time.clone().expect("completion time");
        // A late duplicate of the pod event changes nothing: complete jobs are final.
        deliver_ok(&plank, &pod_updated(&pod)).await;
        assert_eq!(
            world.job(name).await.status.completion_time,
            Some(completed)
        );
    }
}

#[tokio::test]
async fn a_pod_the_api_server_rejects_puts_the_job_in_error() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    let mut pj = periodic("no-image", "true");
    pj.spec.pod_spec.as_mut().unwrap().containers[0].image = None;
    world.jobs.create(&pj).await.unwrap();
    deliver_ok(&plank, &job_added(&pj)).await;
    let job = world.job("no-image").await;
    assert_eq!(job.status.state, ProwJobState::Error);
    assert!(
        job.status
            .description
            .starts_with("Pod can not be created: "),
        "{}",
        job.status.description
    );
    assert!(job.status.completion_time.is_some());
    assert!(world.pod("no-image").await.is_none());
}

#[tokio::test]
async fn lost_events_are_healed_by_the_resync_ping() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    for name in ["a", "b", "c"] {
        world.jobs.create(&periodic(name, "true")).await.unwrap();
    }
    // No add events arrived at all; one tick starts everything.
    deliver_ok(&plank, &ping()).await;
    for name in ["a", "b", "c"] {
        assert!(world.pod(name).await.is_some(), "pod {name}");
        assert_eq!(world.job(name).await.status.state, ProwJobState::Pending);
    }
    // A pod that vanished while nobody listened is recreated on the next tick, with a new build id.
    let before = world.job("b").await.status.build_id;
    world.pods.delete("b").await.unwrap();
    deliver_ok(&plank, &ping()).await;
    let pod = world.pod("b").await.expect("recreated");
    let after = world.job("b").await.status.build_id;
    assert!(after.parse::<i64>().unwrap() > before.parse::<i64>().unwrap());
    assert_eq!(pod.metadata.labels.unwrap()[BUILD_ID_LABEL], after);
}

#[tokio::test]
async fn max_concurrency_holds_runs_back_and_starts_them_in_order_when_a_slot_frees() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    for (i, name) in ["first", "second", "third"].into_iter().enumerate() {
        let mut pj = periodic(name, "true");
        pj.spec.max_concurrency = 1;
        pj.metadata.creation_timestamp = None;
        world.jobs.create(&pj).await.unwrap();
        if i < 2 {
            // Distinct creation timestamps (second resolution) keep the FIFO order unambiguous.
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    }
    deliver_ok(&plank, &ping()).await;
    let states = |w: &World| {
        let jobs = w.jobs.clone();
        async move {
            let mut out = Vec::new();
            for name in ["first", "second", "third"] {
                out.push(jobs.get(name).await.unwrap().unwrap().status.state);
            }
            out
        }
    };
    use ProwJobState::*;
    assert_eq!(states(&world).await, [Pending, Triggered, Triggered]);
    assert!(world.pod("second").await.is_none());

    world
        .set_pod_status(
            "first",
            json!({"phase": "Failed", "startTime": "2026-01-01T00:00:00Z"}),
        )
        .await;
    let pod = world.pod("first").await.unwrap();
    deliver_ok(&plank, &pod_updated(&pod)).await;
    assert_eq!(states(&world).await, [Failure, Pending, Triggered]);
}

#[tokio::test]
async fn global_max_concurrency_caps_pending_jobs() {
    let world = World::start().await;
    let plank = world.plank(Settings {
        max_concurrency: 2,
        ..Settings::default()
    });
    for name in ["a", "b", "c", "d"] {
        world.jobs.create(&periodic(name, "true")).await.unwrap();
    }
    deliver_ok(&plank, &ping()).await;
    deliver_ok(&plank, &ping()).await;
    let pending = world
        .jobs
        .list(None)
        .await
        .unwrap()
        .iter()
        .filter(|j| j.status.state == ProwJobState::Pending)
        .count();
    assert_eq!(pending, 2);
    assert_eq!(world.pods.list(None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn aborting_a_pending_job_deletes_its_pod_and_completes_it() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    let pj = periodic("pj", "sleep 100");
    world.jobs.create(&pj).await.unwrap();
    deliver_ok(&plank, &job_added(&pj)).await;
    let aborted = world
        .jobs
        .update_status("pj", |j| {
            j.status.state = ProwJobState::Aborted;
            j.status.description = "Aborted by alice.".into();
            true
        })
        .await
        .unwrap()
        .unwrap();
    deliver_ok(
        &plank,
        &apiserver_event(prow_core::events::APISERVER_UPDATE, "ProwJob", &aborted),
    )
    .await;
    assert!(world.pod("pj").await.is_none());
    let job = world.job("pj").await;
    assert_eq!(job.status.state, ProwJobState::Aborted);
    assert_eq!(job.status.description, "Aborted by alice.");
    assert!(job.status.completion_time.is_some());
}

#[tokio::test]
async fn a_newer_run_of_a_presubmit_on_the_same_pr_aborts_the_older_one() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    let presubmit = |name: &str| {
        let mut pj = ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .name(name)
            .refs(
                Refs::new("acme", "foo")
                    .base("main", "aaaa")
                    .pull(Pull::new(42, "alice", "bbbb")),
            )
            .build();
        pj.metadata.creation_timestamp = None;
        pj
    };
    let old = presubmit("old");
    world.jobs.create(&old).await.unwrap();
    deliver_ok(&plank, &job_added(&old)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let new = presubmit("new");
    world.jobs.create(&new).await.unwrap();
    deliver_ok(&plank, &job_added(&new)).await;
    let old_now = world.job("old").await;
    assert_eq!(old_now.status.state, ProwJobState::Aborted);
    assert_eq!(old_now.status.description, DESC_SUPERSEDED);
    assert_eq!(
        old_now.status.prev_report_states.get(GITHUB_REPORTER),
        Some(&ProwJobState::Aborted)
    );
    assert_eq!(world.job("new").await.status.state, ProwJobState::Pending);
    // The abort's own update event removes the old pod and completes the old run.
    deliver_ok(
        &plank,
        &apiserver_event(prow_core::events::APISERVER_UPDATE, "ProwJob", &old_now),
    )
    .await;
    assert!(world.pod("old").await.is_none());
    assert!(world.job("old").await.status.completion_time.is_some());
    assert!(world.pod("new").await.is_some());
}

#[tokio::test]
async fn two_plank_instances_racing_on_the_same_event_create_one_pod_and_agree_on_its_build_id() {
    let world = World::start().await;
    let one = world.plank(Settings::default());
    let two = world.plank(Settings::default());
    for round in 0..5 {
        let name = format!("race-{round}");
        let pj = periodic(&name, "true");
        world.jobs.create(&pj).await.unwrap();
        let event = job_added(&pj);
        let (a, b) = tokio::join!(deliver(&one, &event), deliver(&two, &event));
        assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
        // Whoever lost the pod race adopts on the pod's own event.
        let pod = world.pod(&name).await.expect("one pod");
        deliver_ok(&one, &pod_updated(&pod)).await;
        let job = world.job(&name).await;
        assert_eq!(job.status.state, ProwJobState::Pending);
        assert_eq!(
            job.status.build_id,
            pod.metadata.labels.unwrap()[BUILD_ID_LABEL],
            "round {round}"
        );
    }
    assert_eq!(world.pods.list(None).await.unwrap().len(), 5);
}

#[tokio::test]
async fn events_that_are_not_for_plank_are_acknowledged_and_bad_ones_rejected() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    let other = apiserver_event(
        prow_core::events::APISERVER_ADD,
        "ConfigMap",
        &json!({"metadata": {"name": "x"}}),
    );
    deliver_ok(&plank, &other).await;
    // A ProwJob that no longer exists (a delete event) is fine too.
    deliver_ok(&plank, &job_added(&periodic("gone", "true"))).await;
    let request = http::Request::post("/")
        .body(axum::body::Body::from("not an event"))
        .unwrap();
    let response = tower::ServiceExt::oneshot(plank.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let metrics = tower::ServiceExt::oneshot(
        plank,
        http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let text = axum::body::to_bytes(metrics.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text)
            .contains("plank_events_total{target=\"ignored\",outcome=\"ok\"} 1")
    );
}

use prow_core::prowjob::ProwJob;

/// An event over plank's body limit is refused with 413 and changes nothing; the same job in an
/// event of ordinary size is acted on.
#[tokio::test]
async fn an_oversized_event_is_refused_with_413_and_changes_nothing() {
    let world = World::start().await;
    let plank = world.plank(Settings::default());
    let pj = periodic("big", "true");
    world.jobs.create(&pj).await.unwrap();
    let before = world.job("big").await;
    let mut padded = before.clone();
    padded
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("padding".into(), "x".repeat(prow_plank::MAX_EVENT_BYTES));
    let (status, _) = deliver(&plank, &job_added(&padded)).await;
    assert_eq!(status, 413);
    assert!(world.pod("big").await.is_none());
    assert_eq!(world.job("big").await, before);

    deliver_ok(&plank, &job_added(&before)).await;
    assert!(world.pod("big").await.is_some());
}

#[tokio::test]
async fn app_builds_plank_from_flags_and_a_config_file() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "prowjob_namespace: default\npod_namespace: test-pods\nplank:\n  pod_pending_timeout: 15m\n  job_url_prefix_config:\n    '*': https://prow.example.com/view/\n",
    )
    .unwrap();
    let flags = prow_plank::Flags {
        config: prow_runtime::ConfigArgs {
            config_path: config,
            job_config_path: None,
        },
        kube: prow_kube::KubeOptions {
            url: Some(world.api.url.clone()),
            build_clusters: None,
        },
        namespace: None,
        deck_url: Some("http://deck.example".into()),
        dry_run: false,
    };
    let plank = prow_plank::app(flags).await.unwrap();
    let pj = periodic("from-flags", "true");
    world.jobs.create(&pj).await.unwrap();
    deliver_ok(&plank, &job_added(&pj)).await;
    let job = world.job("from-flags").await;
    assert_eq!(job.status.state, ProwJobState::Pending);
    assert_eq!(
        job.status.url,
        "http://deck.example/prowjob?prowjob=from-flags"
    );
}

#[tokio::test]
async fn dry_run_decides_but_writes_nothing() {
    let world = World::start().await;
    let options = prow_plank::Options {
        dry_run: true,
        ..prow_plank::Options::default()
    };
    let plank = prow_plank::router(prow_plank::PlankState::with_settings(
        Settings::default(),
        world.api.client().unwrap(),
        JOB_NS,
        options,
    ));
    let pj = periodic("dry", "true");
    world.jobs.create(&pj).await.unwrap();
    deliver_ok(&plank, &job_added(&pj)).await;
    deliver_ok(&plank, &ping()).await;
    assert!(world.pod("dry").await.is_none());
    assert_eq!(world.job("dry").await.status.state, ProwJobState::Triggered);
}

#[tokio::test]
async fn two_plank_instances_racing_to_finish_a_job_write_its_final_state_once() {
    let world = World::start().await;
    let one = world.plank(Settings::default());
    let two = world.plank(Settings::default());
    for round in 0..5 {
        let name = format!("finish-{round}");
        let pj = periodic(&name, "true");
        world.jobs.create(&pj).await.unwrap();
        deliver_ok(&one, &job_added(&pj)).await;
        world
            .set_pod_status(
                &name,
                json!({"phase": "Failed", "startTime": "2026-01-01T00:00:00Z"}),
            )
            .await;
        let pod = world.pod(&name).await.unwrap();
        let event = pod_updated(&pod);
        let (a, b) = tokio::join!(deliver(&one, &event), deliver(&two, &event));
        assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
        let job = world.job(&name).await;
        assert_eq!(job.status.state, ProwJobState::Failure);
        let completed = job.status.completion_time.clone().unwrap();
        deliver_ok(&two, &event).await;
        assert_eq!(
            world.job(&name).await.status.completion_time,
            Some(completed)
        );
    }
    let text = {
        let response = tower::ServiceExt::oneshot(
            one,
            http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    assert!(
        text.contains("plank_job_transitions_total{state=\"pending\"} 5"),
        "{text}"
    );
}

/// Jobs name build clusters (`spec.cluster`); plank runs each pod in the cluster named, and a
/// job naming a cluster plank has no client for ends in `error` as in Prow, before any pod.
#[tokio::test]
async fn jobs_run_in_the_build_cluster_they_name_and_an_unknown_one_is_a_terminal_error() {
    let world = World::start().await;
    let clusters = prow_kube::BuildClusters::single(world.api.client().unwrap())
        .with_alias("k8s-infra-prow-build", world.api.client().unwrap());
    let plank = prow_plank::router(prow_plank::PlankState::with_settings(
        Settings::default(),
        world.api.client().unwrap(),
        JOB_NS,
        prow_plank::Options {
            build_clusters: Some(clusters),
            ..prow_plank::Options::default()
        },
    ));
    let mut known = periodic("on-build-cluster", "true");
    known.spec.cluster = "k8s-infra-prow-build".into();
    world.jobs.create(&known).await.unwrap();
    deliver_ok(&plank, &job_added(&known)).await;
    assert!(world.pod("on-build-cluster").await.is_some());
    assert_eq!(
        world.job("on-build-cluster").await.status.state,
        ProwJobState::Pending
    );

    let mut unknown = periodic("on-nowhere", "true");
    unknown.spec.cluster = "nowhere".into();
    world.jobs.create(&unknown).await.unwrap();
    deliver_ok(&plank, &job_added(&unknown)).await;
    let job = world.job("on-nowhere").await;
    assert_eq!(job.status.state, ProwJobState::Error);
    assert_eq!(
        job.status.description,
        "Terminal error: unknown cluster alias \"nowhere\"."
    );
    assert!(job.status.completion_time.is_some());
    assert!(world.pod("on-nowhere").await.is_none());
    // The resync sees it complete and leaves it alone.
    deliver_ok(&plank, &ping()).await;
    assert_eq!(world.job("on-nowhere").await.status, job.status);
}

#[tokio::test]
async fn a_changed_config_file_applies_from_the_next_event_without_a_restart() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let write = |max: u32| {
        std::fs::write(
            &path,
            format!(
                "prowjob_namespace: {JOB_NS}\npod_namespace: {POD_NS}\nplank:\n  max_concurrency: {max}\n"
            ),
        )
        .unwrap();
    };
    write(1);
    let live = prow_runtime::LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path: path.clone(),
            ..Default::default()
        },
        std::time::Duration::ZERO,
    )
    .unwrap();
    let state = world.state(Settings::default()).with_live_config(live);
    let plank = prow_plank::router(state.clone());
    for name in ["a", "b", "c"] {
        world.jobs.create(&periodic(name, "true")).await.unwrap();
    }
    let pending = || async {
        world
            .jobs
            .list(None)
            .await
            .unwrap()
            .iter()
            .filter(|j| j.status.state == ProwJobState::Pending)
            .count()
    };
    deliver_ok(&plank, &ping()).await;
    assert_eq!(pending().await, 1, "plank.max_concurrency: 1 at start");

    write(10);
    deliver_ok(&plank, &ping()).await;
    assert_eq!(pending().await, 3, "the merged max_concurrency: 10");
    assert_eq!(state.settings().max_concurrency, 10);
    assert_eq!(world.pods.list(None).await.unwrap().len(), 3);
}
