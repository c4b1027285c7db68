//! Black-box: ping CloudEvents over HTTP to a served sinker; ProwJobs and pods in the embedded API server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use prow_core::config::{Config, Periodic};
use prow_core::jobspec::{CREATED_BY_PROW, ID_LABEL};
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use prow_kube::test_support::LocalApi;
use prow_kube::{Pods, ProwJobs};
use prow_sinker::{Clock, Options, SinkerState};

const PROWJOB_NS: &str = "prow-jobs";
const POD_NS: &str = "test-pods";
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// The API server stamps pods with the real creation time; sinker's clock runs ten days
/// ahead so that creation times are old and each case sets the times that matter.
fn sinker_now() -> DateTime<Utc> {
    Utc::now() + TimeDelta::days(10)
}

fn ago(now: DateTime<Utc>, seconds: i64) -> Time {
    Time(Timestamp::from_second(now.timestamp() - seconds).unwrap())
}

struct World {
    api: LocalApi,
    prowjobs: ProwJobs,
    pods: Pods,
    now: DateTime<Utc>,
}

impl World {
    async fn start() -> Self {
        let api = LocalApi::start().await.unwrap();
        let client = api.client().unwrap();
        Self {
            prowjobs: ProwJobs::new(client.clone(), PROWJOB_NS),
            pods: Pods::new(client, POD_NS),
            api,
            now: sinker_now(),
        }
    }

    async fn prowjob(
        &self,
        name: &str,
        job: &str,
        type_: ProwJobType,
        started: i64,
        completed: Option<i64>,
    ) {
        let mut pj = ProwJob::builder(job, type_)
            .name(name)
            .namespace(PROWJOB_NS)
            .started_at(ago(self.now, started))
            .build();
        if let Some(done) = completed {
            pj.complete(ProwJobState::Success, ago(self.now, done));
        }
        self.prowjobs.create(&pj).await.unwrap();
    }

    async fn pod(&self, name: &str, labels: &[(&str, &str)], started: i64) {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "test".into(),
                    image: Some("alpine:3".into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        self.pods.create(&pod).await.unwrap();
        let start = ago(self.now, started);
        self.pods
            .update_status(name, |pod| {
                pod.status.get_or_insert_default().start_time = Some(start.clone());
                true
            })
            .await
            .unwrap();
    }

    /// The scenario of both tests: what each object is there to exercise is in its name.
    async fn populate(&self) {
        use ProwJobType::*;
        self.prowjob(
            "old-done",
            "pull-a",
            Presubmit,
            8 * DAY,
            Some(8 * DAY - HOUR),
        )
        .await;
        self.prowjob("young-done", "pull-a", Presubmit, HOUR, Some(50 * 60))
            .await;
        self.prowjob("old-running", "pull-a", Presubmit, 8 * DAY, None)
            .await;
        self.prowjob("ttl-done", "push-a", Postsubmit, 3 * DAY, Some(25 * HOUR))
            .await;
        self.prowjob(
            "periodic-latest",
            "ci-kept",
            Periodic,
            9 * DAY,
            Some(9 * DAY - HOUR),
        )
        .await;
        self.prowjob(
            "periodic-older",
            "ci-kept",
            Periodic,
            10 * DAY,
            Some(10 * DAY - HOUR),
        )
        .await;
        self.prowjob(
            "periodic-unconfigured",
            "ci-gone",
            Periodic,
            9 * DAY,
            Some(9 * DAY - HOUR),
        )
        .await;

        let prow = (CREATED_BY_PROW, "true");
        self.pod("old-done", &[prow], 2 * DAY).await;
        self.pod("young-done", &[prow, (ID_LABEL, "young-done")], HOUR)
            .await;
        self.pod("ttl-done-pod", &[prow, (ID_LABEL, "ttl-done")], 20 * HOUR)
            .await;
        self.pod("old-running", &[prow], 2 * DAY).await;
        self.pod("orphan", &[prow, (ID_LABEL, "no-such-job")], HOUR)
            .await;
        self.pod("not-prow", &[], 30 * DAY).await;
    }

    async fn serve(&self, dry_run: bool) -> String {
        let mut config = Config::default();
        config.prow.prowjob_namespace = PROWJOB_NS.into();
        config.prow.pod_namespace = POD_NS.into();
        let mut kept = Periodic::default();
        kept.base.name = "ci-kept".into();
        kept.interval = "1h".into();
        config.periodics = vec![kept].into();
        let state = SinkerState::new(
            Arc::new(config),
            self.api.client().unwrap(),
            Options {
                clock: Clock::fixed(self.now),
                dry_run,
            },
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, prow_sinker::router(state)).into_future());
        url
    }

    async fn names(&self) -> (Vec<String>, Vec<String>) {
        let mut pjs: Vec<String> = self
            .prowjobs
            .list(None)
            .await
            .unwrap()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        let mut pods: Vec<String> = self
            .pods
            .list(None)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        pjs.sort();
        pods.sort();
        (pjs, pods)
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn ping(url: &str, id: &str) -> (u16, String) {
    let response = http()
        .post(url)
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", prow_core::events::PING)
        .header("ce-source", "/apis/v1/namespaces/prow/pingsources/sinker")
        .header("content-type", "application/json")
        .body(r#"{"message":"tick"}"#)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn metrics(url: &str) -> String {
    http()
        .get(format!("{url}metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_tick_deletes_exactly_the_expired_prowjobs_and_pods() {
    let world = World::start().await;
    world.populate().await;
    let url = world.serve(false).await;

    assert_eq!(ping(&url, "t1").await, (200, String::new()));
    let (prowjobs, pods) = world.names().await;
    assert_eq!(
        prowjobs,
        strings(&["old-running", "periodic-latest", "ttl-done", "young-done"])
    );
    assert_eq!(pods, strings(&["not-prow", "old-running", "young-done"]));

    let text = metrics(&url).await;
    for line in [
        "sinker_deletions_total{kind=\"prowjob\",reason=\"aged\"} 1",
        "sinker_deletions_total{kind=\"prowjob\",reason=\"aged-periodic\"} 2",
        "sinker_deletions_total{kind=\"pod\",reason=\"aged\"} 1",
        "sinker_deletions_total{kind=\"pod\",reason=\"ttled\"} 1",
        "sinker_deletions_total{kind=\"pod\",reason=\"orphaned\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }

    // A repeated tick finds nothing more to do.
    assert_eq!(ping(&url, "t1").await, (200, String::new()));
    assert_eq!(world.names().await, (prowjobs, pods));
}

#[tokio::test]
async fn dry_run_deletes_nothing_and_counts_what_it_would_delete() {
    let world = World::start().await;
    world.populate().await;
    let before = world.names().await;
    let url = world.serve(true).await;

    assert_eq!(ping(&url, "t1").await, (200, String::new()));
    assert_eq!(world.names().await, before);
    let text = metrics(&url).await;
    for line in [
        "sinker_dry_run_deletions_total{kind=\"prowjob\",reason=\"aged\"} 1",
        "sinker_dry_run_deletions_total{kind=\"prowjob\",reason=\"aged-periodic\"} 2",
        "sinker_dry_run_deletions_total{kind=\"pod\",reason=\"aged\"} 1",
        "sinker_dry_run_deletions_total{kind=\"pod\",reason=\"ttled\"} 1",
        "sinker_dry_run_deletions_total{kind=\"pod\",reason=\"orphaned\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    assert!(!text.contains("sinker_deletions_total{"), "{text}");
}

#[tokio::test]
async fn other_events_are_refused() {
    let world = World::start().await;
    let url = world.serve(false).await;
    let response = http()
        .post(&url)
        .header("ce-specversion", "1.0")
        .header("ce-id", "x")
        .header("ce-type", "dev.prow.github.push")
        .header("ce-source", "https://github.com/acme/foo")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let health = http().get(format!("{url}healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn an_unreachable_api_server_asks_for_redelivery() {
    // Nothing listens on a port we bound and released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let state = SinkerState::new(
        Arc::new(Config::default()),
        prow_kube::client_for_url(&api_url).unwrap(),
        fixed(sinker_now()),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, prow_sinker::router(state)).into_future());
    let (status, _) = ping(&url, "t1").await;
    assert_eq!(status, 500);
    assert!(
        metrics(&url)
            .await
            .contains("sinker_ticks_total{outcome=\"error\"} 1")
    );
}

#[test]
fn bad_age_limits_are_refused_at_construction() {
    let mut config = Config::default();
    config.prow.sinker.max_pod_age = Some("a day".into());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client =
        runtime.block_on(async { prow_kube::client_for_url("http://127.0.0.1:1").unwrap() });
    let err = SinkerState::new(Arc::new(config), client, Options::default()).unwrap_err();
    assert!(err.to_string().contains("sinker.max_pod_age"), "{err}");
}

/// Sinker cleans the test pods of every build cluster it knows, except the ones
/// `sinker.exclude_clusters` names (Prow's behaviour); ProwJobs live in the default cluster.
#[tokio::test]
async fn pods_are_cleaned_in_every_build_cluster_but_excluded_ones() {
    let main = World::start().await;
    let build = World::start().await;
    let excluded = World::start().await;
    let prow = (CREATED_BY_PROW, "true");
    main.prowjob(
        "done",
        "ci-done",
        ProwJobType::Periodic,
        3 * DAY,
        Some(2 * DAY),
    )
    .await;
    build
        .pod("done", &[prow, (ID_LABEL, "done")], 3 * DAY)
        .await;
    excluded
        .pod("done-too", &[prow, (ID_LABEL, "done")], 3 * DAY)
        .await;
    let mut config = Config::default();
    config.prow.prowjob_namespace = PROWJOB_NS.into();
    config.prow.pod_namespace = POD_NS.into();
    config.prow.sinker.exclude_clusters = vec!["gpu".into()];
    let clusters = prow_kube::BuildClusters::single(main.api.client().unwrap())
        .with_alias("build", build.api.client().unwrap())
        .with_alias("gpu", excluded.api.client().unwrap());
    let state = SinkerState::new(
        Arc::new(config),
        main.api.client().unwrap(),
        fixed(main.now),
    )
    .unwrap()
    .with_build_clusters(&clusters);
    let report = prow_sinker::tick(&state).await.unwrap();
    assert_eq!(report.deleted, 1, "{report:?}");
    assert!(build.names().await.1.is_empty());
    assert_eq!(excluded.names().await.1, ["done-too"]);
}

/// Options with a clock stopped at `at`, not a dry run.
fn fixed(at: chrono::DateTime<chrono::Utc>) -> Options {
    Options {
        clock: Clock::fixed(at),
        dry_run: false,
    }
}

#[tokio::test]
async fn a_merged_sinker_config_applies_from_the_next_tick_and_a_broken_one_keeps_the_last() {
    let dir = std::env::temp_dir().join(format!("sinker-live-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    let write = |age: &str| {
        std::fs::write(
            &path,
            format!("prowjob_namespace: default\nsinker:\n  max_prowjob_age: {age}\n"),
        )
        .unwrap();
    };
    write("48h");
    let live = prow_runtime::LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path: path.clone(),
            job_config_path: None,
            plugin_config_path: None,
        },
        Duration::ZERO,
    )
    .unwrap();
    let api = LocalApi::start().await.unwrap();
    let state = SinkerState::new(live.current(), api.client().unwrap(), Options::default())
        .unwrap()
        .with_live_config(live);
    assert_eq!(state.limits.max_prowjob_age, Duration::from_secs(48 * 3600));
    write("1h");
    let next = state.current();
    assert_eq!(next.limits.max_prowjob_age, Duration::from_secs(3600));
    write("a-while");
    assert_eq!(
        next.current().limits.max_prowjob_age,
        Duration::from_secs(3600)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
