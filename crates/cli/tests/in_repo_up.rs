//! In-repo config under `prow up`: a presubmit defined only in the repository's `.prow.yaml`
//! (served by a faked GitHub's tree and contents APIs) runs on a signed PR webhook.

mod common;

use base64::Engine as _;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const BASE_SHA: &str = "1111111111111111111111111111111111111111";
const SECRET: &[u8] = b"in-repo-secret";

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let prow_yaml = "presubmits:\n- name: pull-hello-in-repo\n  always_run: true\n  spec:\n    containers:\n    - image: alpine\n      command: [\"true\"]\n";
    let gets = [
        (
            "/user".to_owned(),
            ok(json!({"login": "prow-bot", "id": 1})),
        ),
        (
            format!("{REPO}/pulls/2/files"),
            ok(json!([{"filename": "src/main.rs", "status": "modified"}])),
        ),
        (
            format!("{REPO}/git/ref/heads/master"),
            ok(json!({"ref": "refs/heads/master", "object": {"sha": BASE_SHA, "type": "commit"}})),
        ),
        (
            format!("{REPO}/git/trees/{BASE_SHA}"),
            ok(json!({"sha": BASE_SHA, "truncated": false, "tree": [
                {"path": "README", "type": "blob", "sha": "a", "mode": "100644"},
                {"path": ".prow.yaml", "type": "blob", "sha": "b", "mode": "100644"}
            ]})),
        ),
        (format!("{REPO}/issues/2/labels"), ok(json!([]))),
        (format!("{REPO}/issues/2/comments"), ok(json!([]))),
    ];
    for (p, answer) in gets {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/.prow.yaml")))
        .and(query_param("ref", BASE_SHA))
        .respond_with(ok(json!({
            "type": "file", "encoding": "base64", "path": ".prow.yaml",
            "content": base64(prow_yaml.as_bytes())
        })))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/orgs/[^/]+/members/[^/]+$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&gh)
        .await;
    gh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presubmit_only_in_prow_yaml_runs_on_a_pr_webhook() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let config = dir.path().join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\nin_repo_config:\n  enabled:\n    Codertocat/Hello-World: true\n",
    );
    common::write(&config.join("jobs/none.yaml"), "presubmits: {}\n");
    common::write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [trigger]\n",
    );
    let (_up, endpoints) = common::start_up(
        dir.path(),
        &common::UpOptions {
            github: Some(&gh.uri()),
            hmac_secret: Some(SECRET),
            ..common::UpOptions::default()
        },
    );
    let body = prow_testdata::webhook("pull_request.opened.json");
    let response = reqwest::Client::new()
        .post(endpoints["hook"].as_str().expect("hook"))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", "in-repo-1")
        .header("X-Hub-Signature-256", common::sign(SECRET, &body))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200);
    let client =
        prow_kube::client_for_url(endpoints["api"].as_str().expect("api")).expect("client");
    let jobs = prow_kube::ProwJobs::new(client, "prow");
    let pj = common::finished(&jobs, "pull-hello-in-repo", Duration::from_secs(90)).await;
    assert_eq!(
        pj.status.state,
        prow_core::prowjob::ProwJobState::Success,
        "{pj:?}"
    );
}
