//! The everyday plugins under `prow up`: signed webhooks go in at hook, the broker routes them
//! to plugins, and label and wip act on GitHub (a wiremock server speaking GitHub's REST
//! shapes): `/kind bug` adds the label the repo defines, `/kind nope` is refused in Prow's
//! words instead of creating a label, and a `WIP:` PR gets `do-not-merge/work-in-progress`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let mounts = [
        ("GET", "/user".to_owned(), ok(json!({"login": "prow-bot", "id": 1}))),
        ("GET", format!("{REPO}/issues/2/labels"), ok(json!([]))),
        (
            "GET",
            format!("{REPO}/labels"),
            ok(json!([{"name": "kind/bug"}, {"name": "do-not-merge/work-in-progress"}])),
        ),
        ("GET", format!("{REPO}/issues/2/comments"), ok(json!([]))),
        ("POST", format!("{REPO}/issues/2/labels"), ok(json!([]))),
        (
            "POST",
            format!("{REPO}/issues/2/comments"),
            ResponseTemplate::new(201).set_body_json(
                json!({"id": 9, "user": {"login": "prow-bot"}, "body": "x", "html_url": "https://x"}),
            ),
        ),
    ];
    for (verb, p, answer) in mounts {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
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
        "plugins:\n  Codertocat/Hello-World: [label, wip]\n",
    );
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(b"everyday-secret\n"),
            ..common::UpOptions::default()
        },
    )
}

fn webhook(file: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut p: Value = serde_json::from_slice(&prow_testdata::webhook(file)).unwrap_or_default();
    edit(&mut p);
    serde_json::to_vec(&p).unwrap_or_default()
}

async fn deliver(hook: &str, event: &str, id: &str, body: Vec<u8>) {
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header(
            "X-Hub-Signature-256",
            common::sign(b"everyday-secret", &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// The POSTs GitHub saw, once there are `n` of them (or after a minute).
async fn posts(gh: &MockServer, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let writes: Vec<String> = gh
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| format!("{} {}", r.url.path(), String::from_utf8_lossy(&r.body)))
            .collect();
        if writes.len() >= n || Instant::now() > deadline {
            return writes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_and_wip_through_prow_up_label_only_what_the_repo_defines() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url");

    let comment = webhook("issue_comment.created.json", |p| {
        p["issue"]["number"] = json!(2);
        p["issue"]["pull_request"] =
            json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2"});
        p["comment"]["user"]["login"] = json!("alice");
        p["comment"]["body"] = json!("/kind bug\n/kind nope");
    });
    deliver(hook, "issue_comment", "everyday-1", comment).await;
    let after_comment = posts(&gh, 2).await;
    assert_eq!(
        after_comment[0],
        format!("{REPO}/issues/2/labels {{\"labels\":[\"kind/bug\"]}}")
    );
    assert!(
        after_comment[1].starts_with(&format!(
            "{REPO}/issues/2/comments {{\"body\":\"@alice: The label(s) `kind/nope` cannot be applied, because the repository doesn't have them.\\n<details>"
        )),
        "{after_comment:?}"
    );

    let opened = webhook("pull_request.opened.json", |p| {
        p["number"] = json!(2);
        p["pull_request"]["number"] = json!(2);
        p["pull_request"]["title"] = json!("WIP: new README");
        p["pull_request"]["body"] = json!("");
    });
    deliver(hook, "pull_request", "everyday-2", opened).await;
    let all = posts(&gh, 3).await;
    assert_eq!(
        all[2..],
        [format!(
            "{REPO}/issues/2/labels {{\"labels\":[\"do-not-merge/work-in-progress\"]}}"
        )]
    );
    assert_eq!(all.len(), 3, "{all:?}");
}
