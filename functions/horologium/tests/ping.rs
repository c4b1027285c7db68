//! Black-box: ping CloudEvents over HTTP to a served horologium, ProwJobs in the embedded API server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_core::config::{Config, Periodic};
use prow_core::naming::prowjob_name;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use prow_horologium::{Clock, HorologiumState, Options};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;

const NAMESPACE: &str = "prow-jobs";

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, s).unwrap()
}

fn time(t: DateTime<Utc>) -> Time {
    Time(Timestamp::from_second(t.timestamp()).unwrap())
}

fn periodic(name: &str, field: &str, value: &str) -> Periodic {
    let mut p = Periodic::default();
    p.base.name = name.into();
    p.base.agent = "kubernetes".into();
    p.base.namespace = "test-pods".into();
    p.base.spec = Some(
        PodSpec {
            containers: vec![Container {
                name: "test".into(),
                image: Some("alpine:3".into()),
                command: Some(vec!["echo".into(), name.into()]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }
        .into(),
    );
    match field {
        "cron" => p.cron = value.into(),
        "interval" => p.interval = value.into(),
        _ => p.minimum_interval = value.into(),
    }
    p
}

/// A served horologium whose clock the test moves.
struct Horologium {
    url: String,
    now: Arc<Mutex<DateTime<Utc>>>,
    prowjobs: ProwJobs,
    http: reqwest::Client,
    _api: LocalApi,
}

impl Horologium {
    async fn start(periodics: Vec<Periodic>, start: DateTime<Utc>, dry_run: bool) -> Self {
        let api = LocalApi::start().await.unwrap();
        let mut config = Config::default();
        config.prow.prowjob_namespace = NAMESPACE.into();
        config.prow.pod_namespace = "test-pods".into();
        config.periodics = periodics.into();
        let now = Arc::new(Mutex::new(start));
        let read = now.clone();
        let clock = Clock::from_fn(move || *read.lock().unwrap());
        let state = HorologiumState::new(
            Arc::new(config),
            api.client().unwrap(),
            Options { clock, dry_run },
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, prow_horologium::router(state)).into_future());
        Self {
            url,
            now,
            prowjobs: ProwJobs::new(api.client().unwrap(), NAMESPACE),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            _api: api,
        }
    }

    fn set_time(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap() = t;
    }

    async fn send(&self, ty: &str, id: &str) -> (u16, String) {
        let response = self
            .http
            .post(&self.url)
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-type", ty)
            .header(
                "ce-source",
                "/apis/v1/namespaces/prow/pingsources/horologium",
            )
            .header("content-type", "application/json")
            .body(r#"{"message":"tick"}"#)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Pings and expects the broker contract's success: 200 and an empty body.
    async fn ping(&self, id: &str) {
        let (status, body) = self.send(prow_core::events::PING, id).await;
        assert_eq!((status, body.as_str()), (200, ""), "ping {id}");
    }

    async fn runs(&self) -> Vec<ProwJob> {
        let mut jobs = self.prowjobs.list(None).await.unwrap();
        jobs.sort_by_key(|pj| (pj.status.start_time.clone(), pj.spec.job.clone()));
        jobs
    }

    async fn complete(&self, name: &str, t: DateTime<Utc>) {
        self.finish(name, ProwJobState::Success, t).await;
    }

    async fn finish(&self, name: &str, state: ProwJobState, t: DateTime<Utc>) {
        self.prowjobs
            .update_status(name, |pj| {
                pj.complete(state, time(t));
                true
            })
            .await
            .unwrap()
            .expect("run exists");
    }

    async fn metrics(&self) -> String {
        let url = format!("{}metrics", self.url);
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn names(jobs: &[ProwJob]) -> Vec<String> {
    jobs.iter().map(|pj| pj.name().to_owned()).collect()
}

#[tokio::test]
async fn pings_in_one_minute_create_one_run_per_slot_and_the_next_slot_the_next() {
    let h = Horologium::start(
        vec![
            periodic("ci-cron", "cron", "*/5 * * * *"),
            periodic("ci-interval", "interval", "1h"),
        ],
        at(10, 0, 5),
        false,
    )
    .await;

    h.ping("t1").await;
    h.set_time(at(10, 0, 40));
    h.ping("t1-again").await;
    let runs = h.runs().await;
    let cron_10 = prowjob_name(&["ci-cron", "2026-11-25T10:00:00Z"]);
    let interval_first = prowjob_name(&["ci-interval", "first"]);
    let mut expected = vec![cron_10.clone(), interval_first.clone()];
    expected.sort();
    let mut got = names(&runs);
    got.sort();
    assert_eq!(got, expected);

    let cron_run = runs.iter().find(|pj| pj.name() == cron_10).unwrap();
    assert_eq!(cron_run.spec.type_, ProwJobType::Periodic);
    assert_eq!(cron_run.spec.job, "ci-cron");
    assert!(cron_run.spec.report);
    assert_eq!(cron_run.status.state, ProwJobState::Triggered);
    assert_eq!(cron_run.status.start_time, Some(time(at(10, 0, 5))));
    let labels = cron_run.metadata.labels.clone().unwrap();
    assert_eq!(labels["created-by-prow"], "true");
    assert_eq!(labels["prow.k8s.io/type"], "periodic");
    assert_eq!(labels["prow.k8s.io/job"], "ci-cron");

    // Both runs finish; the next cron slot starts the next cron run, the interval is not due.
    h.complete(&cron_10, at(10, 2, 0)).await;
    h.complete(&interval_first, at(10, 3, 0)).await;
    h.set_time(at(10, 5, 1));
    h.ping("t2").await;
    h.ping("t2-redelivered").await;
    let cron_1005 = prowjob_name(&["ci-cron", "2026-11-25T10:05:00Z"]);
    let runs = h.runs().await;
    assert_eq!(runs.len(), 3, "{:?}", names(&runs));
    assert!(names(&runs).contains(&cron_1005));

    // An hour after the first interval run it is due again; the running cron run blocks its job.
    h.set_time(at(11, 0, 6));
    h.ping("t3").await;
    let runs = h.runs().await;
    assert_eq!(runs.len(), 4, "{:?}", names(&runs));
    assert!(names(&runs).contains(&prowjob_name(&["ci-interval", "2026-11-25T11:00:05Z"])));

    let metrics = h.metrics().await;
    assert!(
        metrics.contains("horologium_runs_total{result=\"created\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("horologium_ticks_total{outcome=\"ok\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn concurrent_duplicate_pings_create_each_run_once() {
    let h = Horologium::start(
        vec![periodic("ci-min", "minimum_interval", "30m")],
        at(9, 0, 0),
        false,
    )
    .await;
    let (a, b, c) = tokio::join!(
        h.send(prow_core::events::PING, "x"),
        h.send(prow_core::events::PING, "x"),
        h.send(prow_core::events::PING, "x")
    );
    for (status, body) in [a, b, c] {
        assert_eq!((status, body.as_str()), (200, ""));
    }
    assert_eq!(
        names(&h.runs().await),
        vec![prowjob_name(&["ci-min", "first"])]
    );
}

#[tokio::test]
async fn a_late_tick_after_missed_firings_creates_one_catch_up_run() {
    let h = Horologium::start(
        vec![periodic("ci-hourly", "cron", "0 * * * *")],
        at(7, 0, 2),
        false,
    )
    .await;
    h.ping("07:00").await;
    let first = prowjob_name(&["ci-hourly", "2026-11-25T07:00:00Z"]);
    h.complete(&first, at(7, 10, 0)).await;

    // Horologium heard nothing from 08:00 to 10:00; the tick at 10:42 catches up once.
    h.set_time(at(10, 42, 0));
    h.ping("10:42").await;
    h.set_time(at(10, 43, 0));
    h.ping("10:43").await;
    let runs = h.runs().await;
    assert_eq!(
        names(&runs),
        vec![first, prowjob_name(&["ci-hourly", "2026-11-25T10:00:00Z"])]
    );
}

#[tokio::test]
async fn a_cron_job_that_never_ran_waits_for_its_first_firing() {
    let h = Horologium::start(
        vec![periodic("ci-hourly", "cron", "0 * * * *")],
        at(7, 30, 0),
        false,
    )
    .await;
    h.ping("07:30").await;
    assert!(h.runs().await.is_empty());
    h.set_time(at(8, 0, 1));
    h.ping("08:00").await;
    assert_eq!(
        names(&h.runs().await),
        vec![prowjob_name(&["ci-hourly", "2026-11-25T08:00:00Z"])]
    );
}

#[tokio::test]
async fn dry_run_creates_nothing_and_counts() {
    let h = Horologium::start(
        vec![periodic("ci-interval", "interval", "1h")],
        at(9, 0, 0),
        true,
    )
    .await;
    h.ping("t1").await;
    assert!(h.runs().await.is_empty());
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("horologium_runs_total{result=\"dry_run\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn other_events_are_refused_and_health_answers() {
    let h = Horologium::start(
        vec![periodic("ci-interval", "interval", "1h")],
        at(9, 0, 0),
        false,
    )
    .await;
    let (status, body) = h.send("dev.prow.github.push", "p1").await;
    assert_eq!(status, 400);
    assert!(body.contains("dev.knative.sources.ping"), "{body}");
    assert!(h.runs().await.is_empty());
    let health = h
        .http
        .get(format!("{}healthz", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn an_unreachable_api_server_asks_for_redelivery() {
    let mut config = Config::default();
    config.prow.prowjob_namespace = NAMESPACE.into();
    config.periodics = vec![periodic("ci-interval", "interval", "1h")].into();
    // Nothing listens on a port we bound and released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = prow_kube::client_for_url(&url).unwrap();
    let state = HorologiumState::new(Arc::new(config), client, fixed(at(9, 0, 0))).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, prow_horologium::router(state)).into_future());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let response = http
        .post(&base)
        .header("ce-specversion", "1.0")
        .header("ce-id", "t1")
        .header("ce-type", prow_core::events::PING)
        .header(
            "ce-source",
            "/apis/v1/namespaces/prow/pingsources/horologium",
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let metrics = http
        .get(format!("{base}metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("horologium_ticks_total{outcome=\"error\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_bodies_and_other_methods_are_refused() {
    let h = Horologium::start(
        vec![periodic("ci-interval", "interval", "1h")],
        at(9, 0, 0),
        false,
    )
    .await;
    let response = h
        .http
        .post(&h.url)
        .header("ce-specversion", "1.0")
        .header("ce-id", "big")
        .header("ce-type", prow_core::events::PING)
        .header(
            "ce-source",
            "/apis/v1/namespaces/prow/pingsources/horologium",
        )
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let get = h.http.get(&h.url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert!(h.runs().await.is_empty());
}

#[tokio::test]
async fn a_failed_run_is_retried_once_per_attempt_with_the_rerun_label() {
    let mut flaky = periodic("ci-flaky", "interval", "1h");
    flaky.retry = Some(prow_core::config::Retry {
        run_all: false,
        attempts: 1,
        interval: "5m".into(),
    });
    let h = Horologium::start(vec![flaky], at(9, 0, 0), false).await;
    h.ping("09:00").await;
    let first = prowjob_name(&["ci-flaky", "first"]);
    h.finish(&first, ProwJobState::Failure, at(9, 2, 0)).await;

    h.set_time(at(9, 6, 0));
    h.ping("09:06").await;
    h.ping("09:06-again").await;
    let rerun = prowjob_name(&["ci-flaky", "rerun-1-2026-11-25T09:00:00Z"]);
    let runs = h.runs().await;
    assert_eq!(names(&runs), vec![first, rerun.clone()]);
    assert_eq!(
        runs[1].metadata.labels.as_ref().unwrap()["prow.k8s.io/re-run"],
        "1"
    );

    // The only attempt failed too: no more re-runs, the schedule takes over an hour later.
    h.finish(&rerun, ProwJobState::Failure, at(9, 8, 0)).await;
    h.set_time(at(9, 30, 0));
    h.ping("09:30").await;
    assert_eq!(h.runs().await.len(), 2);
    h.set_time(at(10, 6, 1));
    h.ping("10:06").await;
    let runs = h.runs().await;
    assert_eq!(runs.len(), 3);
    assert_eq!(
        runs[2].name(),
        prowjob_name(&["ci-flaky", "2026-11-25T10:06:00Z"])
    );
    assert!(
        !runs[2]
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key("prow.k8s.io/re-run")
    );
}

/// Options with a clock stopped at `at`, not a dry run.
fn fixed(at: chrono::DateTime<chrono::Utc>) -> Options {
    Options {
        clock: Clock::fixed(at),
        dry_run: false,
    }
}
