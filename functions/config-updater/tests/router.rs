//! Router tests: the real `pull_request.closed` payload (marked merged) as a CloudEvent in,
//! ConfigMaps in the embedded API server and one comment on a wiremock GitHub out.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use prow_config_updater::{ConfigUpdaterState, SnapshotTarget, router};
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_kube::BuildClusters;
use prow_kube::test_support::LocalApi;
use prow_runtime::LiveConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const MERGE_SHA: &str = "c4295bd74fb0f4fda03689c3df3f2803b658fd85";
const NEW_CONFIG: &str = "prowjob_namespace: prow\npresubmits: {}\n";

const PLUGINS: &str = "plugins:\n  Codertocat/Hello-World: [config-updater]\nconfig_updater:\n  maps:\n    prow/config.yaml: {name: config}\n    prow/jobs/**/*.yaml: {name: job-config, gzip: true}\n";

struct Harness {
    api: LocalApi,
    github: MockServer,
    app: Router,
    _dir: tempfile::TempDir,
}

async fn harness(plugins: &str) -> Harness {
    harness_with(plugins, None).await
}

async fn harness_with(plugins: &str, snapshot: Option<SnapshotTarget>) -> Harness {
    let api = LocalApi::start().await.unwrap();
    let client = api.client().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, "prowjob_namespace: prow\n").unwrap();
    let plugins_path = dir.path().join("plugins.yaml");
    std::fs::write(&plugins_path, plugins).unwrap();
    let config = LiveConfig::load(
        prow_core::config::LoadOptions {
            config_path,
            job_config_path: None,
            plugin_config_path: Some(plugins_path),
        },
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let github = MockServer::start().await;
    let gh: Arc<dyn GitHub> = Arc::new(
        OctocrabGitHub::builder(github.uri())
            .credentials(Credentials::Token("t0ken".into()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    );
    let mut state = ConfigUpdaterState::new(config, gh, BuildClusters::single(client));
    state.snapshot = snapshot;
    Harness {
        api,
        github,
        app: router(state),
        _dir: dir,
    }
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn contents(text: &str) -> Value {
    let encoded = base64_encode(text.as_bytes());
    json!({"type": "file", "encoding": "base64", "content": encoded})
}

/// Standard base64, enough for the contents API's answers.
fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn mock_reads(gh: &MockServer, comments: Value) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot"})))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([
            {"filename": "prow/config.yaml", "status": "modified"},
            {"filename": "prow/jobs/new.yaml", "status": "added"},
            {"filename": "prow/jobs/old.yaml", "status": "removed"},
            {"filename": "README.md", "status": "modified"},
        ])))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/prow/config.yaml")))
        .and(query_param("ref", MERGE_SHA))
        .respond_with(ok(contents(NEW_CONFIG)))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/contents/prow/jobs/new.yaml")))
        .and(query_param("ref", MERGE_SHA))
        .respond_with(ok(contents("presubmits: {}\n")))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .respond_with(ok(comments))
        .mount(gh)
        .await;
}

/// The corpus `pull_request.closed` payload, merged (Hello-World's default branch is its base).
fn merged_payload(merged: bool) -> Value {
    let mut p: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.closed.json")).unwrap();
    p["pull_request"]["merged"] = json!(merged);
    p
}

async fn send(app: &Router, id: &str, data: &Value) -> StatusCode {
    let req = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", "dev.prow.github.pull_request")
        .header("ce-source", "https://github.com/Codertocat/Hello-World")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(data).unwrap()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

fn comment_posts(requests: &[wiremock::Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| {
            r.method.as_str() == "POST" && r.url.path() == format!("{REPO}/issues/2/comments")
        })
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_merged_pr_writes_its_files_into_the_configmaps_and_says_so_once() {
    let h = harness(PLUGINS).await;
    mock_reads(&h.github, json!([])).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .and(body_string_contains("Updated the following 2 configmaps"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1, "user": {"login": "prow-bot"}, "body": ""})),
        )
        .mount(&h.github)
        .await;
    let client = h.api.client().unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, "prow");
    // job-config exists with a key the PR removes and one it leaves alone.
    let mut existing = ConfigMap::default();
    existing.metadata.name = Some("job-config".into());
    existing.data = Some(
        [("old.yaml", "x"), ("other.yaml", "y")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    );
    cms.create(&PostParams::default(), &existing).await.unwrap();

    assert_eq!(
        send(&h.app, "d1", &merged_payload(true)).await,
        StatusCode::OK
    );

    let config = cms.get("config").await.unwrap();
    let data = config.data.unwrap();
    assert_eq!(data["config.yaml"], NEW_CONFIG);
    assert_eq!(data["VERSION"], MERGE_SHA);
    let labels = config.metadata.labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/component"], "updateconfig-plugin");
    let jobs = cms.get("job-config").await.unwrap();
    let job_data = jobs.data.unwrap();
    assert!(
        !job_data.contains_key("old.yaml"),
        "removed file's key deleted"
    );
    assert_eq!(job_data["other.yaml"], "y");
    let zipped = &jobs.binary_data.unwrap()["new.yaml"].0;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut text)
        .unwrap();
    assert_eq!(text, "presubmits: {}\n");

    let posted = comment_posts(&h.github.received_requests().await.unwrap());
    assert_eq!(posted.len(), 1);
    assert!(posted[0].starts_with("@Codertocat: Updated the following 2 configmaps:\n * `config` configmap in namespace `prow` at cluster `default` using the following files:\n   - key `config.yaml` using file `prow/config.yaml`\n * `job-config` configmap in namespace `prow` at cluster `default` using the following files:\n   - key `new.yaml` using file `prow/jobs/new.yaml`\n   - key `old.yaml` using file ``\n"), "{}", posted[0]);
}

#[tokio::test]
async fn a_redelivered_merge_rewrites_the_same_content_and_does_not_comment_again() {
    let h = harness(PLUGINS).await;
    // What we would say is already there: the first delivery said it.
    let body = prow_core::respond::format_response_raw(
        "This is a pretty simple change that we need to pull into master.",
        "https://github.com/Codertocat/Hello-World/pull/2",
        "Codertocat",
        "Updated the following 2 configmaps:\n * `config` configmap in namespace `prow` at cluster `default` using the following files:\n   - key `config.yaml` using file `prow/config.yaml`\n * `job-config` configmap in namespace `prow` at cluster `default` using the following files:\n   - key `new.yaml` using file `prow/jobs/new.yaml`\n   - key `old.yaml` using file ``\n",
    );
    mock_reads(
        &h.github,
        json!([{"id": 9, "user": {"login": "prow-bot"}, "body": body}]),
    )
    .await;
    assert_eq!(
        send(&h.app, "d1", &merged_payload(true)).await,
        StatusCode::OK
    );
    assert!(comment_posts(&h.github.received_requests().await.unwrap()).is_empty());
    let cms: Api<ConfigMap> = Api::namespaced(h.api.client().unwrap(), "prow");
    assert_eq!(
        cms.get("config").await.unwrap().data.unwrap()["config.yaml"],
        NEW_CONFIG
    );
}

#[tokio::test]
async fn unmerged_prs_and_repos_without_the_plugin_change_nothing() {
    for (name, plugins, payload) in [
        ("closed without merging", PLUGINS, merged_payload(false)),
        (
            "config-updater not enabled for the repo",
            "config_updater:\n  maps:\n    prow/config.yaml: {name: config}\n",
            merged_payload(true),
        ),
    ] {
        let h = harness(plugins).await;
        assert_eq!(send(&h.app, "d1", &payload).await, StatusCode::OK, "{name}");
        assert!(
            h.github.received_requests().await.unwrap().is_empty(),
            "{name}: no GitHub call"
        );
        let cms: Api<ConfigMap> = Api::namespaced(h.api.client().unwrap(), "prow");
        assert!(cms.get_opt("config").await.unwrap().is_none(), "{name}");
    }
}

#[tokio::test]
async fn a_payload_that_is_not_a_pull_request_is_refused() {
    let h = harness(PLUGINS).await;
    assert_eq!(
        send(&h.app, "d1", &json!({"zen": "hi"})).await,
        StatusCode::BAD_REQUEST
    );
}

/// The manifests' defaults: this repository's layout, the `prow-config` ConfigMap.
fn snapshot_target() -> SnapshotTarget {
    SnapshotTarget {
        repo: Some("codertocat/hello-world".into()),
        config_path: "config/config.yaml".into(),
        job_config_path: Some("config/jobs".into()),
        plugin_config_path: Some("config/plugins.yaml".into()),
        configmap: prow_config_updater::decide::ConfigMapId {
            name: "prow-config".into(),
            namespace: "prow".into(),
            cluster: "default".into(),
        },
        key: "config.snapshot".into(),
    }
}

const NEW_JOB: &str = "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-unit\n    always_run: true\n    spec: {containers: [{image: alpine, command: [make, test]}]}\n";

/// A merge adding a job file to the config repo: the files, the tree and the contents at the
/// merge SHA, and the PR's comments (none yet).
async fn mock_config_repo(gh: &MockServer, job: &str) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot"})))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls/2/files")))
        .respond_with(ok(json!([
            {"filename": "config/jobs/hello/hello.yaml", "status": "added"},
        ])))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/trees/{MERGE_SHA}")))
        .and(query_param("recursive", "1"))
        .respond_with(ok(json!({"sha": MERGE_SHA, "truncated": false, "tree": [
            {"path": "README.md", "type": "blob", "sha": "1", "mode": "100644"},
            {"path": "config", "type": "tree", "sha": "2", "mode": "040000"},
            {"path": "config/config.yaml", "type": "blob", "sha": "3", "mode": "100644"},
            {"path": "config/plugins.yaml", "type": "blob", "sha": "4", "mode": "100644"},
            {"path": "config/jobs", "type": "tree", "sha": "5", "mode": "040000"},
            {"path": "config/jobs/hello", "type": "tree", "sha": "6", "mode": "040000"},
            {"path": "config/jobs/hello/hello.yaml", "type": "blob", "sha": "7", "mode": "100644"},
            {"path": "config/jobs/hello/OWNERS", "type": "blob", "sha": "8", "mode": "100644"},
        ]})))
        .mount(gh)
        .await;
    for (file, text) in [
        (
            "config/config.yaml",
            "prowjob_namespace: prow\npod_namespace: test-pods\n",
        ),
        ("config/plugins.yaml", PLUGINS),
        ("config/jobs/hello/hello.yaml", job),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/contents/{file}")))
            .and(query_param("ref", MERGE_SHA))
            .respond_with(ok(contents(text)))
            .mount(gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .respond_with(ok(json!([])))
        .mount(gh)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/issues/2/comments")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1, "user": {"login": "prow-bot"}, "body": ""})),
        )
        .mount(gh)
        .await;
}

#[tokio::test]
async fn a_merged_job_is_compiled_into_the_snapshot_configmap_the_functions_mount() {
    let h = harness_with(PLUGINS, Some(snapshot_target())).await;
    mock_config_repo(&h.github, NEW_JOB).await;
    let cms: Api<ConfigMap> = Api::namespaced(h.api.client().unwrap(), "prow");
    // As `kubectl apply -k` left it: the snapshot of the config before the merge.
    let mut existing = ConfigMap::default();
    existing.metadata.name = Some("prow-config".into());
    existing.binary_data = Some(
        [(
            "config.snapshot".to_owned(),
            k8s_openapi::ByteString(
                prow_core::config::snapshot::compile(&prow_core::config::Config::default())
                    .unwrap(),
            ),
        )]
        .into(),
    );
    cms.create(&PostParams::default(), &existing).await.unwrap();

    for delivery in ["d1", "d1-redelivered"] {
        assert_eq!(
            send(&h.app, delivery, &merged_payload(true)).await,
            StatusCode::OK,
            "{delivery}"
        );
        let cm = cms.get("prow-config").await.unwrap();
        let bytes = cm.binary_data.unwrap()["config.snapshot"].0.clone();
        let config = prow_core::config::snapshot::decode(bytes).unwrap();
        let jobs = config.presubmits_for("Codertocat/Hello-World").unwrap();
        assert_eq!(jobs.len(), 1, "{delivery}");
        assert_eq!(jobs[0].base.name, "pull-hello-unit");
        assert_eq!(config.prow.pod_namespace, "test-pods");
        assert_eq!(cm.data.unwrap()["VERSION"], MERGE_SHA);
    }
    let posted = comment_posts(&h.github.received_requests().await.unwrap());
    assert_eq!(
        posted.len(),
        2,
        "the mock lists no comments, so each delivery says it"
    );
    assert!(
        posted[0].contains("Updated the `prow-config` configmap in namespace `prow` at cluster `default` using the following files:\n - key `config.snapshot` using file `config/config.yaml + config/jobs + config/plugins.yaml (compiled)`\n\nThe compiled config is live within a minute: 1 presubmits, 0 postsubmits, 0 periodics across 1 repos."),
        "{}",
        posted[0]
    );
}

#[tokio::test]
async fn a_merged_config_that_does_not_compile_changes_nothing_and_says_where_it_breaks() {
    let plugins = format!("{PLUGINS}    config/jobs/**/*.yaml: {{name: job-config}}\n");
    let h = harness_with(&plugins, Some(snapshot_target())).await;
    let broken = NEW_JOB.replace(
        "    always_run: true\n",
        "    always_run: true\n    run_if_changed: '^src/'\n",
    );
    mock_config_repo(&h.github, &broken).await;

    assert_eq!(
        send(&h.app, "d1", &merged_payload(true)).await,
        StatusCode::OK
    );

    let cms: Api<ConfigMap> = Api::namespaced(h.api.client().unwrap(), "prow");
    for name in ["prow-config", "job-config"] {
        assert!(
            cms.get_opt(name).await.unwrap().is_none(),
            "{name} not written"
        );
    }
    let posted = comment_posts(&h.github.received_requests().await.unwrap());
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].starts_with("@Codertocat: The merged config does not compile, so it was not published: every function keeps the config it runs now, and no configmap was updated.\n\n```\nconfig/jobs/hello/hello.yaml:4:5: presubmits.Codertocat/Hello-World[0].always_run: job pull-hello-unit is set to always run but also declares run_if_changed targets, which are mutually exclusive\nconfig invalid: 1 error(s)\n```\n"),
        "{}",
        posted[0]
    );
}
