//! Live config under `prow up`: a signed webhook for a PR merged into the config repo reaches
//! config-updater through the broker, which writes the new config.yaml (read from a wiremock
//! GitHub at the merge SHA) into the `config` ConfigMap; `prow up` mirrors it to the files
//! trigger follows, and the next pull_request runs the presubmit that config added, with no
//! restart.

mod common;

use base64::Engine as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const MERGE_SHA: &str = "c4295bd74fb0f4fda03689c3df3f2803b658fd85";
const SECRET: &[u8] = b"config-secret\n";

/// The config the merge brings: one presubmit for Hello-World, which had none.
const NEW_CONFIG: &str = "prowjob_namespace: prow\npod_namespace: prow\npresubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-new\n    always_run: true\n    spec:\n      containers:\n      - image: alpine\n        command: [\"true\"]\n";

/// base64 of `NEW_CONFIG`, as the contents API answers (computed here, not by our code).
fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let mounts = [
        (
            "GET",
            "/user".to_owned(),
            ok(json!({"login": "prow-bot", "id": 1})),
        ),
        (
            "GET",
            format!("{REPO}/pulls/2/files"),
            ok(json!([{"filename": "prow/config.yaml", "status": "modified"}])),
        ),
        ("GET", format!("{REPO}/issues/2/comments"), ok(json!([]))),
        (
            "POST",
            format!("{REPO}/issues/2/comments"),
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 5, "user": {"login": "prow-bot"}, "body": ""})),
        ),
        (
            "GET",
            format!("{REPO}/git/ref/heads/master"),
            ok(json!({"ref": "refs/heads/master", "object": {"sha": MERGE_SHA, "type": "commit"}})),
        ),
    ];
    for (verb, p, answer) in mounts {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/prow/config.yaml")))
        .and(query_param("ref", MERGE_SHA))
        .respond_with(ok(json!({
            "type": "file", "encoding": "base64", "content": base64(NEW_CONFIG.as_bytes())
        })))
        .mount(&gh)
        .await;
    gh
}

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    let config = dir.join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    common::write(&config.join("jobs/none.yaml"), "presubmits: {}\n");
    common::write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [trigger, config-updater]\ntriggers:\n- repos: [Codertocat]\nconfig_updater:\n  maps:\n    prow/config.yaml: {name: config}\n",
    );
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(SECRET),
            ..common::UpOptions::default()
        },
    )
}

async fn deliver(hook: &str, event: &str, delivery: &str, body: Vec<u8>) {
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header(
            "X-Hub-Signature-256",
            common::sign(SECRET.trim_ascii(), &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

async fn presubmit_jobs(api: &str) -> Vec<String> {
    let url = format!("{api}/apis/prow.k8s.io/v1/namespaces/prow/prowjobs");
    let list: Value = match reqwest::get(&url).await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    };
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pj| pj["spec"]["job"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_config_change_runs_its_new_presubmit_on_the_next_pr_without_a_restart() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");
    let api = endpoints["api"].as_str().expect("api url");

    let opened = prow_testdata::webhook("pull_request.opened.json");
    let mut merged: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.closed.json"))
            .expect("payload");
    merged["pull_request"]["merged"] = json!(true);
    deliver(
        hook,
        "pull_request",
        "merge",
        serde_json::to_vec(&merged).expect("json"),
    )
    .await;

    // config-updater reports on the merged PR once the ConfigMap is written.
    let deadline = Instant::now() + Duration::from_secs(60);
    let comments = loop {
        let comments: Vec<String> = gh
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                r.method.as_str() == "POST" && r.url.path() == format!("{REPO}/issues/2/comments")
            })
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        if !comments.is_empty() || Instant::now() > deadline {
            break comments;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains(
            "Updated the `config` configmap in namespace `prow` at cluster `default` using the following files:\\n - key `config.yaml` using file `prow/config.yaml`"
        ),
        "{}",
        comments[0]
    );

    // The next PR event runs the new presubmit once the mirrored config is live (a second or
    // two: mirror and reload each look every second). Until then an event finds no job, so
    // each try is a new delivery.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attempt = 0;
    let jobs = loop {
        attempt += 1;
        deliver(
            hook,
            "pull_request",
            &format!("after-merge-{attempt}"),
            opened.clone(),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let jobs = presubmit_jobs(api).await;
        if !jobs.is_empty() || Instant::now() > deadline {
            break jobs;
        }
    };
    assert!(
        !jobs.is_empty() && jobs.iter().all(|j| j == "pull-hello-new"),
        "{jobs:?}"
    );
}
