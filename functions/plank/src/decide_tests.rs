//! Table tests of plank's decisions, one row per rule of Prow's state machine.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prow_core::prowjob::{DecorationConfig, GoDuration, Pull, Refs};

use super::*;

/// `prow_core`'s builder start time (2023-11-14T22:13:20Z).
const TEST_START_SECOND: i64 = 1_700_000_000;
const FRESH: i64 = 1_800_000_000_000_000_000;

fn at(seconds_after_start: i64) -> Timestamp {
    Timestamp::from_second(TEST_START_SECOND + seconds_after_start).unwrap()
}

fn time(seconds_after_start: i64) -> Time {
    Time(at(seconds_after_start))
}

fn job(name: &str) -> ProwJob {
    ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
        .name(name)
        .started_at(time(0))
        .refs(
            Refs::new("acme", "foo")
                .base("main", "aaaa")
                .pull(Pull::new(42, "alice", "bbbb")),
        )
        .build()
}

fn periodic(name: &str, created: i64) -> ProwJob {
    ProwJob::builder("ci-foo", ProwJobType::Periodic)
        .name(name)
        .started_at(time(created))
        .build()
}

fn pending_job(name: &str) -> ProwJob {
    let mut pj = job(name);
    pj.status.state = ProwJobState::Pending;
    pj.status.pending_time = Some(time(1));
    pj.status.pod_name = name.into();
    pj.status.build_id = "1790000000000000000".into();
    pj
}

fn with_state(mut pj: ProwJob, state: ProwJobState) -> ProwJob {
    pj.status.state = state;
    pj
}

fn pod(phase: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("pj".into()),
            creation_timestamp: Some(time(1)),
            labels: Some(BTreeMap::from([(
                BUILD_ID_LABEL.to_owned(),
                "1790000000000000000".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: job("pj").spec.pod_spec.clone(),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..PodStatus::default()
        }),
    }
}

fn started(mut p: Pod, at_second: i64) -> Pod {
    p.status.get_or_insert_with(PodStatus::default).start_time = Some(time(at_second));
    p
}

fn terminated(mut p: Pod, exit_code: i32, reason: &str) -> Pod {
    let status = p.status.get_or_insert_with(PodStatus::default);
    status.container_statuses = Some(vec![ContainerStatus {
        name: "test".into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                reason: Some(reason.into()),
                finished_at: Some(time(100)),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        }),
        ..ContainerStatus::default()
    }]);
    p
}

fn running_container(mut p: Pod) -> Pod {
    let status = p.status.get_or_insert_with(PodStatus::default);
    status.container_statuses = Some(vec![ContainerStatus {
        name: "test".into(),
        state: Some(ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..ContainerState::default()
        }),
        ..ContainerStatus::default()
    }]);
    p
}

fn with_reason(mut p: Pod, reason: &str) -> Pod {
    p.status.get_or_insert_with(PodStatus::default).reason = Some(reason.into());
    p
}

fn deleting(mut p: Pod) -> Pod {
    p.metadata.deletion_timestamp = Some(time(50));
    p
}

fn decide(
    pj: &ProwJob,
    pod: Option<&Pod>,
    jobs: &[ProwJob],
    now: Timestamp,
    settings: &Settings,
) -> Vec<Action> {
    reconcile(
        &Observed {
            job: pj,
            pod,
            jobs,
            now,
            fresh_build_id: FRESH,
        },
        settings,
    )
}

fn decide_simple(pj: &ProwJob, pod: Option<&Pod>, now: Timestamp) -> Vec<Action> {
    decide(pj, pod, std::slice::from_ref(pj), now, &Settings::default())
}

/// The status the job would end up with, and the other actions.
fn outcome(pj: &ProwJob, actions: &[Action]) -> (ProwJobStatus, Vec<String>) {
    let mut status = pj.status.clone();
    let mut others = Vec::new();
    for action in actions {
        match action {
            Action::UpdateStatus(change) => {
                change.apply_to(&mut status);
            }
            Action::CreatePod(p) => others.push(format!(
                "create {}",
                p.metadata.name.clone().unwrap_or_default()
            )),
            Action::DeletePod { name, .. } => others.push(format!("delete {name}")),
            Action::AbortOther { name, .. } => others.push(format!("abort {name}")),
            Action::Requeue(d) => others.push(format!("requeue {}s", d.as_secs())),
        }
    }
    (status, others)
}

#[test]
fn a_triggered_job_gets_a_pod_and_becomes_pending_with_pod_name_build_id_pending_time_url_and_description()
 {
    let pj = job("pj");
    let mut settings = Settings::default();
    settings.urls.deck_url = Some("http://deck".into());
    let actions = decide(&pj, None, std::slice::from_ref(&pj), at(5), &settings);
    let Action::CreatePod(pod) = &actions[0] else {
        panic!("{actions:?}")
    };
    assert_eq!(pod.metadata.name.as_deref(), Some("pj"));
    assert_eq!(
        pod_build_id(pod).as_deref(),
        Some(FRESH.to_string().as_str())
    );
    let (status, others) = outcome(&pj, &actions);
    assert_eq!(others, ["create pj"]);
    assert_eq!(status.state, ProwJobState::Pending);
    assert_eq!(status.description, DESC_TRIGGERED);
    assert_eq!(status.pod_name, "pj");
    assert_eq!(status.build_id, FRESH.to_string());
    assert_eq!(status.pending_time, Some(time(5)));
    assert_eq!(status.url, "http://deck/prowjob?prowjob=pj");
    assert_eq!(status.completion_time, None);
}

#[test]
fn a_triggered_job_whose_pod_already_exists_adopts_it_and_its_build_id() {
    let pj = job("pj");
    let (status, others) = outcome(&pj, &decide_simple(&pj, Some(&pod("Pending")), at(5)));
    assert!(others.is_empty(), "{others:?}");
    assert_eq!(status.state, ProwJobState::Pending);
    assert_eq!(status.build_id, "1790000000000000000");
}

#[test]
fn a_job_that_cannot_get_a_pod_ends_in_error_at_once() {
    let mut pj = job("pj");
    pj.spec.pod_spec = None;
    let (status, others) = outcome(&pj, &decide_simple(&pj, None, at(5)));
    assert!(others.is_empty());
    assert_eq!(status.state, ProwJobState::Error);
    assert_eq!(
        status.description,
        "Pod can not be created: job pull-foo-unit has no pod_spec"
    );
    assert_eq!(status.completion_time, Some(time(5)));
}

/// why, job, pod, resulting state, description, other actions.
type Row = (
    &'static str,
    ProwJob,
    Option<Pod>,
    ProwJobState,
    &'static str,
    Vec<&'static str>,
);

#[test]
fn a_pending_job_follows_its_pod() {
    let now = at(400);
    let table: Vec<Row> = vec![
        (
            "succeeded with every container at exit 0 is success",
            pending_job("pj"),
            Some(terminated(started(pod("Succeeded"), 2), 0, "Completed")),
            ProwJobState::Success,
            DESC_SUCCEEDED,
            vec![],
        ),
        (
            "succeeded with an unfinished container is error",
            pending_job("pj"),
            Some(running_container(started(pod("Succeeded"), 2))),
            ProwJobState::Error,
            DESC_UNFINISHED,
            vec![],
        ),
        (
            "failed is failure",
            pending_job("pj"),
            Some(terminated(started(pod("Failed"), 2), 1, "Error")),
            ProwJobState::Failure,
            DESC_FAILED,
            vec![],
        ),
        (
            "OOM killed while running is error",
            pending_job("pj"),
            Some(terminated(started(pod("Running"), 2), 137, "OOMKilled")),
            ProwJobState::Error,
            DESC_OOM,
            vec![],
        ),
        (
            "OOM killed init container while running is error",
            pending_job("pj"),
            Some(oom_init_container(started(pod("Running"), 2))),
            ProwJobState::Error,
            DESC_OOM,
            vec![],
        ),
        (
            "evicted with error_on_eviction is error",
            {
                let mut pj = pending_job("pj");
                pj.spec.error_on_eviction = true;
                pj
            },
            Some(with_reason(started(pod("Failed"), 2), "Evicted")),
            ProwJobState::Error,
            DESC_EVICTED,
            vec![],
        ),
        (
            "evicted after max revivals is error",
            {
                let mut pj = pending_job("pj");
                pj.status.pod_revival_count = 3;
                pj
            },
            Some(with_reason(started(pod("Failed"), 2), "Evicted")),
            ProwJobState::Error,
            "Job pod reached max revivals (3) after being stopped unexpectedly (evicted)",
            vec![],
        ),
        (
            "a running pod being deleted means it got deleted unexpectedly",
            pending_job("pj"),
            Some(deleting(running_container(started(pod("Running"), 2)))),
            ProwJobState::Error,
            DESC_DELETED,
            vec![],
        ),
        (
            "unscheduled past pod_unscheduled_timeout is error and the pod is deleted",
            pending_job("pj"),
            Some(pod("Pending")),
            ProwJobState::Error,
            DESC_SCHEDULING_TIMEOUT,
            vec!["delete pj"],
        ),
        (
            "scheduled but pending past pod_pending_timeout is error and the pod is deleted",
            pending_job("pj"),
            Some(started(pod("Pending"), -500)),
            ProwJobState::Error,
            DESC_PENDING_TIMEOUT,
            vec!["delete pj"],
        ),
        (
            "running past pod_running_timeout is aborted and the pod is deleted",
            pending_job("pj"),
            Some(running_container(started(pod("Running"), -48 * 3600))),
            ProwJobState::Aborted,
            DESC_RUNNING_TIMEOUT,
            vec!["delete pj"],
        ),
    ];
    for (why, pj, p, state, description, others) in table {
        let actions = decide_simple(&pj, p.as_ref(), now);
        let (status, got_others) = outcome(&pj, &actions);
        assert_eq!(status.state, state, "{why}: {actions:?}");
        assert_eq!(status.description, description, "{why}");
        assert_eq!(status.completion_time, Some(Time(now)), "{why}");
        assert_eq!(got_others, others, "{why}");
    }
}

#[test]
fn a_pending_job_waits_for_its_pod_and_looks_again_at_the_next_deadline() {
    let table: Vec<(&str, Pod, i64, u64)> = vec![
        ("unscheduled for 60s of 5m", pod("Pending"), 61, 240),
        (
            "scheduled, pending for 60s of 10m",
            started(pod("Pending"), 1),
            61,
            540,
        ),
        (
            "running for 1h of 48h",
            running_container(started(pod("Running"), 1)),
            3601,
            47 * 3600,
        ),
    ];
    for (why, p, now, requeue) in table {
        let pj = pending_job("pj");
        let (status, others) = outcome(&pj, &decide_simple(&pj, Some(&p), at(now)));
        assert_eq!(status, pj.status, "{why}");
        assert_eq!(others, [format!("requeue {requeue}s")], "{why}");
    }
}

#[test]
fn timeouts_in_decoration_config_override_the_global_ones() {
    let mut pj = pending_job("pj");
    pj.spec.decoration_config = Some(DecorationConfig {
        pod_running_timeout: Some(GoDuration::parse("1m").unwrap()),
        pod_pending_timeout: Some(GoDuration::parse("30s").unwrap()),
        pod_unscheduled_timeout: Some(GoDuration::parse("20s").unwrap()),
        ..DecorationConfig::default()
    });
    let table = [
        (
            running_container(started(pod("Running"), 1)),
            ProwJobState::Aborted,
        ),
        (started(pod("Pending"), 1), ProwJobState::Error),
        (pod("Pending"), ProwJobState::Error),
    ];
    for (p, state) in table {
        let (status, _) = outcome(&pj, &decide_simple(&pj, Some(&p), at(62)));
        assert_eq!(status.state, state);
    }
    let settings = Settings::from_config(
        &Plank {
            pod_pending_timeout: Some("15m".into()),
            ..Plank::default()
        },
        "test-pods",
    )
    .unwrap();
    assert_eq!(settings.pod_pending_timeout, Duration::from_secs(900));
    assert_eq!(settings.pod_running_timeout, DEFAULT_RUNNING_TIMEOUT);
    assert_eq!(settings.max_revivals, 3);
    assert!(
        Settings::from_config(
            &Plank {
                pod_running_timeout: Some("soon".into()),
                ..Plank::default()
            },
            ""
        )
        .is_err()
    );
}

fn oom_init_container(mut p: Pod) -> Pod {
    let status = p.status.get_or_insert_with(PodStatus::default);
    status.init_container_statuses = Some(vec![ContainerStatus {
        name: "clonerefs".into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 137,
                reason: Some("OOMKilled".into()),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        }),
        ..ContainerStatus::default()
    }]);
    p
}

#[test]
fn an_unexpectedly_stopped_pod_is_revived_until_max_revivals() {
    let table = [
        (
            "evicted",
            with_reason(started(pod("Failed"), 2), "Evicted"),
            vec!["delete pj"],
        ),
        (
            "unknown phase",
            started(pod("Unknown"), 2),
            vec!["delete pj"],
        ),
        (
            "node lost while deleting: already on its way out",
            deleting(with_reason(started(pod("Running"), 2), "NodeLost")),
            vec![],
        ),
    ];
    for (why, p, deletes) in table {
        let mut pj = pending_job("pj");
        pj.status.pod_revival_count = 1;
        let (status, others) = outcome(&pj, &decide_simple(&pj, Some(&p), at(100)));
        assert_eq!(status.state, ProwJobState::Pending, "{why}");
        assert_eq!(status.pod_revival_count, 2, "{why}");
        assert_eq!(status.pod_name, "", "{why}: counted for this pod");
        assert_eq!(status.completion_time, None, "{why}");
        assert_eq!(others, deletes, "{why}");
    }
}

/// A NodeLost pod keeps its deletionTimestamp until the node controller removes it; every
/// reconcile until then sees it. The revival is counted on the first, and the rest wait.
#[test]
fn a_lingering_node_lost_pod_is_revived_once_not_once_per_reconcile() {
    let lost = deleting(with_reason(started(pod("Running"), 2), "NodeLost"));
    let mut pj = pending_job("pj");
    let mut reconciles = 0;
    for now in [100, 130, 160, 190] {
        let actions = decide_simple(&pj, Some(&lost), at(now));
        let (status, others) = outcome(&pj, &actions);
        assert!(others.is_empty(), "{others:?}");
        reconciles += 1;
        pj.status = status;
    }
    assert_eq!((reconciles, pj.status.pod_revival_count), (4, 1));
    assert_eq!(pj.status.state, ProwJobState::Pending);
    // Once it is gone the next pod starts, and owns the job again.
    let (status, others) = outcome(&pj, &decide_simple(&pj, None, at(200)));
    assert_eq!(others, ["create pj"]);
    assert_eq!(
        (status.pod_name.as_str(), status.pod_revival_count),
        ("pj", 1)
    );
    // A counted pod whose delete was lost is deleted again, not counted again.
    let mut counted = pending_job("pj");
    counted.status.pod_name.clear();
    counted.status.pod_revival_count = 1;
    let evicted = with_reason(started(pod("Failed"), 2), "Evicted");
    let (status, others) = outcome(&counted, &decide_simple(&counted, Some(&evicted), at(100)));
    assert_eq!(others, ["delete pj"]);
    assert_eq!(status.pod_revival_count, 1);
    // At max revivals a stopped pod ends the job, naming the cause as Prow does.
    let mut at_max = pending_job("pj");
    at_max.status.pod_revival_count = 3;
    let (status, _) = outcome(&at_max, &decide_simple(&at_max, Some(&lost), at(100)));
    assert_eq!(status.state, ProwJobState::Error);
    assert_eq!(
        status.description,
        "Job pod reached max revivals (3) after being stopped unexpectedly (unreachable)"
    );
    let unknown = started(pod("Unknown"), 2);
    let (status, _) = outcome(&at_max, &decide_simple(&at_max, Some(&unknown), at(100)));
    assert_eq!(
        status.description,
        "Job pod reached max revivals (3) after being stopped unexpectedly (unknown)"
    );
}

#[test]
fn a_pending_job_whose_pod_is_gone_gets_a_new_pod_with_a_new_build_id() {
    let pj = pending_job("pj");
    let actions = decide_simple(&pj, None, at(100));
    let (status, others) = outcome(&pj, &actions);
    assert_eq!(others, ["create pj"]);
    assert_eq!(status.state, ProwJobState::Pending);
    assert_eq!(status.build_id, FRESH.to_string());
    assert_eq!(status.pending_time, Some(time(1)), "pending time is kept");
}

#[test]
fn an_aborted_job_has_its_pod_deleted_and_is_completed_with_its_description_kept() {
    let mut pj = with_state(pending_job("pj"), ProwJobState::Aborted);
    pj.status.description = "Aborted by alice.".into();
    let (status, others) = outcome(&pj, &decide_simple(&pj, Some(&pod("Running")), at(100)));
    assert_eq!(others, ["delete pj"]);
    assert_eq!(status.state, ProwJobState::Aborted);
    assert_eq!(status.description, "Aborted by alice.");
    assert_eq!(status.completion_time, Some(time(100)));
}

#[test]
fn complete_jobs_never_change() {
    for state in [
        ProwJobState::Success,
        ProwJobState::Failure,
        ProwJobState::Aborted,
        ProwJobState::Error,
    ] {
        let pj = ProwJob::builder("x", ProwJobType::Periodic)
            .completed(state)
            .build();
        for p in [None, Some(pod("Running")), Some(pod("Failed"))] {
            assert_eq!(decide_simple(&pj, p.as_ref(), at(1000)), vec![], "{state}");
        }
    }
}

#[test]
fn a_final_state_without_completion_time_only_gets_its_completion_time() {
    let pj = with_state(pending_job("pj"), ProwJobState::Failure);
    let (status, others) = outcome(&pj, &decide_simple(&pj, Some(&pod("Running")), at(9)));
    assert!(others.is_empty());
    assert_eq!(status.state, ProwJobState::Failure);
    assert_eq!(status.completion_time, Some(time(9)));
}

#[test]
fn completion_time_is_set_once_and_a_stale_decision_cannot_move_it_or_the_state() {
    let change = StatusChange::complete(
        ProwJobState::Pending,
        ProwJobState::Success,
        Some(DESC_SUCCEEDED),
        at(50),
    );
    let mut done = pending_job("pj").status;
    done.state = ProwJobState::Pending;
    done.completion_time = Some(time(10));
    let before = done.clone();
    assert!(!change.apply_to(&mut done), "a complete job is not touched");
    assert_eq!(done, before);
    // Decided from `pending`, but another plank already moved the job on.
    let mut moved = with_state(pending_job("pj"), ProwJobState::Aborted).status;
    assert!(!change.apply_to(&mut moved));
    assert_eq!(moved.state, ProwJobState::Aborted);
    // The matching state takes it, and applying it twice changes nothing the second time.
    let mut fresh = pending_job("pj").status;
    assert!(change.apply_to(&mut fresh));
    assert!(!change.apply_to(&mut fresh));
    assert_eq!(fresh.completion_time, Some(time(50)));
}

#[test]
fn completion_time_is_never_before_the_pending_time_even_with_a_lagging_clock() {
    let pj = pending_job("pj");
    let lagging = at(-30);
    let (status, _) = outcome(&pj, &decide_simple(&pj, Some(&pod("Failed")), lagging));
    assert_eq!(status.state, ProwJobState::Failure);
    assert_eq!(status.completion_time, pj.status.pending_time);
}

#[test]
fn jobs_of_other_agents_are_left_alone() {
    let mut pj = job("pj");
    pj.spec.agent = Some(ProwJobAgent::Jenkins);
    assert_eq!(decide_simple(&pj, None, at(1)), vec![]);
    let scheduling = with_state(job("pj"), ProwJobState::Scheduling);
    assert_eq!(decide_simple(&scheduling, None, at(1)), vec![]);
}

#[test]
fn per_job_max_concurrency_starts_runs_in_creation_order() {
    let mk = |name: &str, created: i64, state: ProwJobState| {
        let mut pj = with_state(periodic(name, created), state);
        pj.spec.max_concurrency = 1;
        pj
    };
    let table = [
        (
            "nothing else running",
            vec![mk("b", 20, ProwJobState::Triggered)],
            true,
        ),
        (
            "an older run pending",
            vec![
                mk("a", 10, ProwJobState::Pending),
                mk("b", 20, ProwJobState::Triggered),
            ],
            false,
        ),
        (
            "an older run still triggered",
            vec![
                mk("a", 10, ProwJobState::Triggered),
                mk("b", 20, ProwJobState::Triggered),
            ],
            false,
        ),
        (
            "only a newer run triggered",
            vec![
                mk("b", 20, ProwJobState::Triggered),
                mk("c", 30, ProwJobState::Triggered),
            ],
            true,
        ),
        (
            "the older run is complete",
            vec![
                {
                    let mut a = mk("a", 10, ProwJobState::Success);
                    a.status.completion_time = Some(time(15));
                    a
                },
                mk("b", 20, ProwJobState::Triggered),
            ],
            true,
        ),
    ];
    for (why, jobs, starts) in table {
        let b = jobs.iter().find(|j| j.name() == "b").unwrap();
        let (_, others) = outcome(b, &decide(b, None, &jobs, at(100), &Settings::default()));
        let want = if starts { "create b" } else { "requeue 10s" };
        assert_eq!(others, [want], "{why}");
    }
}

#[test]
fn global_max_concurrency_counts_every_pending_job() {
    let settings = Settings {
        max_concurrency: 2,
        ..Settings::default()
    };
    let b = periodic("b", 20);
    let pending_other = |name: &str| {
        with_state(
            ProwJob::builder(name, ProwJobType::Periodic)
                .name(name)
                .build(),
            ProwJobState::Pending,
        )
    };
    let one = vec![pending_other("x"), b.clone()];
    let two = vec![pending_other("x"), pending_other("y"), b.clone()];
    assert!(may_start(&b, &one, &settings).is_ok());
    assert_eq!(
        may_start(&b, &two, &settings),
        Err(Blocked::Global { pending: 2, max: 2 })
    );
    assert!(
        may_start(&b, &two, &Settings::default()).is_ok(),
        "0 means unlimited"
    );
}

#[test]
fn job_queues_cap_jobs_across_job_names() {
    let queued = |name: &str, job: &str, created: i64, state: ProwJobState| {
        let mut pj = with_state(periodic(name, created), state);
        pj.spec.job = job.into();
        pj.spec.job_queue_name = "gpu".into();
        pj
    };
    let settings = |capacity: i64| Settings {
        job_queue_capacities: BTreeMap::from([("gpu".to_owned(), capacity)]),
        ..Settings::default()
    };
    let me = queued("b", "job-b", 20, ProwJobState::Triggered);
    let jobs = vec![queued("a", "job-a", 10, ProwJobState::Pending), me.clone()];
    assert!(may_start(&me, &jobs, &settings(2)).is_ok());
    assert!(matches!(
        may_start(&me, &jobs, &settings(1)),
        Err(Blocked::Queue { running: 1, .. })
    ));
    assert!(
        matches!(
            may_start(&me, std::slice::from_ref(&me), &settings(0)),
            Err(Blocked::Queue { .. })
        ),
        "0 blocks"
    );
    assert!(
        may_start(&me, &jobs, &settings(-1)).is_ok(),
        "negative is unlimited"
    );
    assert_eq!(
        may_start(&me, &jobs, &Settings::default()),
        Err(Blocked::UnknownQueue {
            queue: "gpu".into()
        })
    );
}

#[test]
fn an_older_run_of_the_same_presubmit_on_the_same_pr_is_aborted_without_a_github_report() {
    let old = pending_job("old");
    let new = {
        let mut pj = job("new");
        pj.metadata.creation_timestamp = Some(time(30));
        pj
    };
    let jobs = vec![old.clone(), new.clone()];
    // Reconciling the new run starts it and aborts the old one.
    let actions = decide(&new, None, &jobs, at(40), &Settings::default());
    let abort = actions
        .iter()
        .find_map(|a| match a {
            Action::AbortOther { name, change } => Some((name.clone(), change.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(abort.0, "old");
    let mut old_status = old.status.clone();
    assert!(abort.1.apply_to(&mut old_status));
    assert_eq!(old_status.state, ProwJobState::Aborted);
    assert_eq!(old_status.description, DESC_SUPERSEDED);
    assert_eq!(
        old_status.prev_report_states.get(GITHUB_REPORTER),
        Some(&ProwJobState::Aborted)
    );
    assert!(actions.iter().any(|a| matches!(a, Action::CreatePod(_))));

    // Reconciling the old run (say, on the resync) aborts it, deletes its pod and completes it.
    let (status, others) = outcome(
        &old,
        &decide(
            &old,
            Some(&pod("Running")),
            &jobs,
            at(40),
            &Settings::default(),
        ),
    );
    assert_eq!(others, ["delete old"]);
    assert_eq!(status.state, ProwJobState::Aborted);
    assert_eq!(status.completion_time, Some(time(40)));
    assert_eq!(
        status.prev_report_states.get(GITHUB_REPORTER),
        Some(&ProwJobState::Aborted)
    );
}

#[test]
fn runs_on_other_prs_or_of_other_jobs_are_not_duplicates() {
    let old = pending_job("old");
    let mut other_pr = job("new");
    other_pr.metadata.creation_timestamp = Some(time(30));
    if let Some(r) = other_pr.spec.refs.as_mut() {
        r.pulls[0].number = 43;
    }
    let mut other_job = other_pr.clone();
    other_job.spec.job = "pull-foo-e2e".into();
    for newer in [other_pr, other_job] {
        let jobs = vec![old.clone(), newer];
        let (status, others) = outcome(
            &old,
            &decide(
                &old,
                Some(&pod("Pending")),
                &jobs,
                at(40),
                &Settings::default(),
            ),
        );
        assert_eq!(status.state, ProwJobState::Pending);
        assert!(
            !others
                .iter()
                .any(|o| o.starts_with("abort") || o.starts_with("delete")),
            "{others:?}"
        );
    }
}
