//! tide under `prow up`, end to end and without a tick: a PR webhook goes in at hook, trigger's
//! presubmit runs and passes, `/lgtm` is answered by the lgtm plugin, GitHub's `labeled`
//! webhooks for `lgtm` and `approved` come in, and tide merges the PR through the faked GitHub
//! (wiremock) with the head SHA its job passed on.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const BASE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const SECRET: &[u8] = b"tide-secret\n";

async fn github() -> MockServer {
    let gh = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let mounts = [
        ("GET", "^/user$".to_owned(), ok(json!({"login": "prow-bot", "id": 1}))),
        ("GET", r"^/orgs/[^/]+/members/[^/]+$".to_owned(), ResponseTemplate::new(204)),
        ("GET", format!(r"^{REPO}/collaborators/[^/]+$"), ResponseTemplate::new(204)),
        (
            "GET",
            format!("^{REPO}/git/refs?/heads/master$"),
            ok(json!({"ref": "refs/heads/master", "object": {"sha": BASE_SHA, "type": "commit"}})),
        ),
        ("GET", format!("^{REPO}/pulls/2/files$"), ok(json!([{"filename": "README.md", "status": "modified"}]))),
        ("GET", format!("^{REPO}/issues/2/comments$"), ok(json!([]))),
        ("GET", format!("^{REPO}/issues/2/labels$"), ok(json!([]))),
        ("GET", format!("^{REPO}/pulls/2/reviews$"), ok(json!([]))),
        ("POST", format!("^{REPO}/issues/2/labels$"), ok(json!([]))),
        // lgtm assigns the reviewer, as Prow's does.
        (
            "POST",
            format!("^{REPO}/issues/2/assignees$"),
            ResponseTemplate::new(201).set_body_json(json!({"number": 2, "user": {"login": "Codertocat"}, "assignees": [{"login": "alice"}]})),
        ),
        (
            "POST",
            format!("^{REPO}/issues/2/comments$"),
            ResponseTemplate::new(201).set_body_json(json!({"id": 9, "user": {"login": "prow-bot"}, "body": "", "html_url": ""})),
        ),
        ("POST", format!("^{REPO}/statuses/[0-9a-f]{{40}}$"), ResponseTemplate::new(201).set_body_json(json!({"id": 1}))),
        (
            "PUT",
            format!("^{REPO}/pulls/2/merge$"),
            ok(json!({"sha": "89abcdef0123456789abcdef0123456789abcdef", "merged": true, "message": "Pull Request successfully merged"})),
        ),
    ];
    // The PR as GitHub answers it (the lgtm plugin reads it for a comment event).
    let pr = webhook("pull_request.opened.json")["pull_request"].clone();
    Mock::given(method("GET"))
        .and(path_regex(format!("^{REPO}/pulls/2$")))
        .respond_with(ok(pr))
        .mount(&gh)
        .await;
    for (verb, p, answer) in mounts {
        Mock::given(method(verb))
            .and(path_regex(p))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    gh
}

async fn deliver(hook: &str, event: &str, delivery: &str, payload: &Value) {
    let body = serde_json::to_vec(payload).expect("json");
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header("X-Hub-Signature-256", common::sign(b"tide-secret", &body))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(
        response.status(),
        200,
        "{event}: {:?}",
        response.text().await
    );
}

fn webhook(file: &str) -> Value {
    serde_json::from_slice(&prow_testdata::webhook(file)).expect("payload")
}

fn labeled(labels: &[&str]) -> Value {
    let mut p = webhook("pull_request.opened.json");
    p["action"] = json!("labeled");
    p["label"] = json!({"name": labels[labels.len() - 1]});
    p["pull_request"]["labels"] = json!(
        labels
            .iter()
            .map(|l| json!({"name": l}))
            .collect::<Vec<_>>()
    );
    p
}

async fn requests(gh: &MockServer, verb: &str, suffix: &str) -> Vec<Value> {
    gh.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().ends_with(suffix))
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_whose_presubmit_passed_merges_after_lgtm_and_approved_without_a_tick() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = github().await;
    let config = dir.path().join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\ntide:\n  queries:\n  - repos: [Codertocat/Hello-World]\n    labels: [lgtm, approved]\n    missingLabels: [do-not-merge/hold]\n",
    );
    common::write(
        &config.join("jobs/hello.yaml"),
        "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-unit\n    always_run: true\n    spec:\n      containers:\n      - image: alpine\n        command: [\"true\"]\n",
    );
    common::write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [trigger, lgtm]\n",
    );
    let (_up, endpoints) = common::start_up(
        dir.path(),
        &common::UpOptions {
            github: Some(&gh.uri()),
            hmac_secret: Some(SECRET),
            ..common::UpOptions::default()
        },
    );
    let hook = endpoints["hook"].as_str().expect("hook url");
    let api = endpoints["api"].as_str().expect("api url");

    deliver(
        hook,
        "pull_request",
        "tide-opened",
        &webhook("pull_request.opened.json"),
    )
    .await;
    let jobs = prow_kube::ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    common::finished(&jobs, "pull-hello-unit", Duration::from_secs(120)).await;

    // tide told the PR why it waits, in Prow's words.
    common::wait_for("tide's first status", Duration::from_secs(60), async || {
        requests(&gh, "POST", &format!("/statuses/{HEAD}"))
            .await
            .into_iter()
            .find(|s| {
                s["context"] == "tide"
                    && s["description"] == "Not mergeable. Needs approved, lgtm labels."
            })
    })
    .await;

    // A reviewer's /lgtm: the lgtm plugin labels the PR on GitHub ...
    let mut comment = webhook("issue_comment.created.json");
    comment["issue"]["number"] = json!(2);
    comment["issue"]["pull_request"] =
        json!({"url": format!("https://api.github.com{REPO}/pulls/2")});
    comment["issue"]["user"]["login"] = json!("Codertocat");
    comment["comment"]["user"]["login"] = json!("alice");
    comment["comment"]["body"] = json!("/lgtm");
    deliver(hook, "issue_comment", "tide-lgtm", &comment).await;
    common::wait_for("the lgtm label", Duration::from_secs(60), async || {
        requests(&gh, "POST", "/issues/2/labels")
            .await
            .into_iter()
            .find(|b| b["labels"] == json!(["lgtm"]))
    })
    .await;
    // ... and GitHub announces it; then an approver's label arrives the same way.
    deliver(
        hook,
        "pull_request",
        "tide-labeled-lgtm",
        &labeled(&["lgtm"]),
    )
    .await;
    assert!(
        requests(&gh, "PUT", "/merge").await.is_empty(),
        "not approved yet"
    );
    deliver(
        hook,
        "pull_request",
        "tide-labeled-approved",
        &labeled(&["lgtm", "approved"]),
    )
    .await;

    let merge = common::wait_for("tide's merge", Duration::from_secs(60), async || {
        requests(&gh, "PUT", "/pulls/2/merge")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(merge["sha"], HEAD);
    assert_eq!(merge["merge_method"], "merge");
    let pool = requests(&gh, "POST", &format!("/statuses/{HEAD}"))
        .await
        .into_iter()
        .rfind(|s| s["context"] == "tide")
        .expect("a tide status");
    assert_eq!(pool["state"], "success");
    assert_eq!(pool["description"], "In merge pool.");
    assert!(
        pool["target_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/tide")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        requests(&gh, "PUT", "/pulls/2/merge").await.len(),
        1,
        "merged once"
    );
}
