//! crier follows its config file: a change (a merged config PR, as config-updater publishes it)
//! applies from the next event, without a restart. ProwJobs in the embedded API server, GitHub
//! as wiremock.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType, Pull, Refs};
use prow_crier::CrierState;
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NAMESPACE: &str = "prow-jobs";
const SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

fn presubmit() -> ProwJob {
    let mut refs = Refs::new("Codertocat", "Hello-World");
    refs.base_ref = "master".into();
    refs.base_sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c".into();
    refs.pulls.push(Pull::new(2, "Codertocat", SHA));
    let mut pj = ProwJob::builder("pull-unit", ProwJobType::Presubmit)
        .name("pull-unit-1")
        .namespace(NAMESPACE)
        .refs(refs)
        .context("pull-unit")
        .report(true)
        .build();
    pj.status.state = ProwJobState::Pending;
    pj.status.description = "Job triggered.".into();
    pj
}

async fn deliver(app: &axum::Router, pj: &ProwJob, id: &str) -> u16 {
    let request = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", prow_core::events::APISERVER_UPDATE)
        .header(
            "ce-source",
            "https://127.0.0.1/apis/v1/namespaces/prow-jobs",
        )
        .header("ce-kind", "ProwJob")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(pj).unwrap()))
        .unwrap();
    app.clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn status_posts(requests: &[wiremock::Request]) -> usize {
    requests
        .iter()
        .filter(|r| {
            r.method.as_str() == "POST"
                && r.url.path() == format!("/repos/Codertocat/Hello-World/statuses/{SHA}")
        })
        .count()
}

#[tokio::test]
async fn a_changed_config_file_applies_from_the_next_event_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    let write = |types: &str| {
        std::fs::write(
            &config_path,
            format!(
                "prowjob_namespace: {NAMESPACE}\ngithub_reporter:\n  job_types_to_report: [{types}]\n"
            ),
        )
        .unwrap();
    };
    write("postsubmit");
    let live = prow_runtime::LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path: config_path.clone(),
            ..Default::default()
        },
        Duration::ZERO,
    )
    .unwrap();

    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/repos/Codertocat/Hello-World/statuses/{SHA}"
        )))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1, "state": "pending", "context": "pull-unit"})),
        )
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/Codertocat/Hello-World/commits/{SHA}/status")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"state": "pending", "sha": SHA, "total_count": 0, "statuses": Value::Array(vec![])}),
        ))
        .mount(&github)
        .await;
    let gh: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(github.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    let api = LocalApi::start().await.unwrap();
    let prowjobs = ProwJobs::new(api.client().unwrap(), NAMESPACE);
    let pj = presubmit();
    prowjobs.create(&pj).await.unwrap();
    let status = pj.status.clone();
    prowjobs
        .update_status(pj.name(), |stored| {
            stored.status = status.clone();
            true
        })
        .await
        .unwrap();
    let state =
        CrierState::new(live.current(), api.client().unwrap(), gh, None).with_live_config(live);
    let app = prow_crier::router(state);

    assert_eq!(deliver(&app, &pj, "e1").await, 200);
    assert_eq!(
        status_posts(&github.received_requests().await.unwrap()),
        0,
        "presubmits are not reported at start"
    );

    write("presubmit, postsubmit");
    assert_eq!(deliver(&app, &pj, "e2").await, 200);
    assert_eq!(
        status_posts(&github.received_requests().await.unwrap()),
        1,
        "the changed config reports presubmits"
    );
    let stored = prowjobs.get(pj.name()).await.unwrap().unwrap();
    assert_eq!(
        stored.status.prev_report_states.get("github-reporter"),
        Some(&ProwJobState::Pending)
    );
}
