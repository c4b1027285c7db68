//! The first milestone, end to end on `prow up`: a signed GitHub webhook goes in at hook, trigger
//! creates a ProwJob, plank starts its pod, the local kubelet runs it, plank records success, and
//! crier reports the status to GitHub (a wiremock server speaking GitHub's REST shapes).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_kube::ProwJobs;
use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BASE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let repo = "/repos/Codertocat/Hello-World";
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"login": "prow-bot", "id": 1})),
        )
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/orgs/[^/]+/members/[^/]+$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/collaborators/[^/]+$")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/git/refs?/heads/master$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ref": "refs/heads/master", "object": {"sha": BASE_SHA, "type": "commit"}})))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/pulls/2/files$")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!([{"filename": "README.md", "status": "modified"}]),
            ),
        )
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/issues/2/comments$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/issues/2/labels$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{repo}/statuses/[0-9a-f]{{40}}$")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"id": 1, "state": "pending"})),
        )
        .mount(&gh)
        .await;
    gh
}

fn start_up(dir: &Path, github_url: &str) -> (Up, Value) {
    let config = dir.join("config");
    write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    write(
        &config.join("jobs/hello.yaml"),
        "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-unit\n    always_run: true\n    spec:\n      containers:\n      - image: alpine\n        command: [sh, -c, 'echo hello from $JOB_NAME at $PULL_PULL_SHA']\n",
    );
    write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [trigger]\n",
    );
    write(&dir.join("token"), "ghp_test_token\n");
    write(&dir.join("hmac"), "end-to-end-secret\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prow"))
        .args([
            "up",
            "--api-addr",
            "127.0.0.1:0",
            "--hook-addr",
            "127.0.0.1:0",
            "--deck-addr",
            "127.0.0.1:0",
        ])
        .arg("--config-path")
        .arg(config.join("config.yaml"))
        .arg("--job-config-path")
        .arg(config.join("jobs"))
        .arg("--plugin-config")
        .arg(config.join("plugins.yaml"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--hmac-secret-file")
        .arg(dir.join("hmac"))
        .arg("--github-endpoint")
        .arg(github_url)
        .arg("--github-token-path")
        .arg(dir.join("token"))
        // Started away from the checkout: the eventing wiring is compiled into the binary and
        // only the user's config is read from disk.
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start prow up");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read endpoints");
    let endpoints: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("endpoints line {line:?}: {e}"));
    (Up(child), endpoints)
}

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_webhook_runs_its_presubmit_and_reports_to_github() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");
    let api = endpoints["api"].as_str().expect("api url");

    let body = prow_testdata::webhook("pull_request.opened.json");
    let http = reqwest::Client::new();
    let send = || {
        http.post(hook)
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", "e2e-delivery-1")
            .header("X-Hub-Signature-256", sign(b"end-to-end-secret", &body))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    };
    let response = send().await.expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    let done: ProwJob = wait_for(
        "the presubmit to succeed",
        Duration::from_secs(120),
        async || {
            let list = jobs.list(None).await.ok()?;
            list.into_iter().find(|pj| {
                pj.spec.job == "pull-hello-unit" && pj.status.state == ProwJobState::Success
            })
        },
    )
    .await;
    assert_eq!(
        done.spec
            .refs
            .as_ref()
            .and_then(|r| r.pulls.first())
            .map(|p| p.number),
        Some(2)
    );
    assert!(done.status.completion_time.is_some());

    // crier reported the final state on the PR's head commit.
    let status: Value = wait_for(
        "a success status on GitHub",
        Duration::from_secs(60),
        async || {
            let requests = gh.received_requests().await?;
            requests
                .iter()
                .filter(|r| r.method.as_str() == "POST" && r.url.path().contains("/statuses/"))
                .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
                .find(|b| b["state"] == "success")
        },
    )
    .await;
    assert_eq!(status["context"], "pull-hello-unit");

    // A redelivery of the same webhook creates nothing new.
    assert_eq!(send().await.expect("redeliver").status(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let runs = jobs
        .list(None)
        .await
        .expect("list")
        .into_iter()
        .filter(|pj| pj.spec.job == "pull-hello-unit")
        .count();
    assert_eq!(runs, 1);
}
