//! Jobs that really run: a decorated presubmit under `prow up`, from a signed `pull_request`
//! webhook to Prow's artifact layout. The pod is built as Prow's decorate builds it (clonerefs,
//! initupload, place-entrypoint, entrypoint-wrapped test, sidecar), the local kubelet runs the
//! utilities as `prow <utility>`, clonerefs merges the PR onto its base from a real git
//! repository, and the sidecar uploads the log, metadata and `$ARTIFACTS`. A second job runs past
//! its decoration timeout, ignores the interrupt, and ends in failure after the grace period.
//! With an `s3://` bucket the same run lands in an S3 server (moto) and Deck reads it there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use prow_artifacts::counterparts::MotoS3;
use prow_artifacts::{ArtifactStore, StoreConfig, Stores};
use prow_core::prowjob::ProwJobState;
use prow_kube::ProwJobs;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "Codertocat/Hello-World";
const PR: u64 = 2;
const BUCKET: &str = "local-ci";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.com")
        .env("GIT_COMMITTER_NAME", "tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.com")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// The "GitHub" repository: `master` with one file, PR #2's head adding another, published
/// as `refs/pull/2/head` as GitHub does. Returns (base sha, head sha).
fn remote_repository(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir).expect("mkdir");
    git(dir, &["init", "-q", "-b", "master"]);
    common::write(&dir.join("base.txt"), "on master\n");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "base"]);
    let base = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["checkout", "-q", "-b", "feature"]);
    common::write(&dir.join("pr.txt"), "from the pull request\n");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "the change"]);
    let head = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["update-ref", &format!("refs/pull/{PR}/head"), &head]);
    git(dir, &["checkout", "-q", "master"]);
    (base, head)
}

async fn github(base_sha: &str) -> MockServer {
    let gh = MockServer::start().await;
    let repo = format!("/repos/{REPO}");
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot", "id": 1})))
        .mount(&gh)
        .await;
    for members in [
        r"^/orgs/[^/]+/members/[^/]+$".to_owned(),
        format!("^{repo}/collaborators/[^/]+$"),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(members))
            .respond_with(ResponseTemplate::new(204))
            .mount(&gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/git/refs?/heads/master$")))
        .respond_with(ok(
            json!({"ref": "refs/heads/master", "object": {"sha": base_sha, "type": "commit"}}),
        ))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{repo}/pulls/{PR}/files$")))
        .respond_with(ok(json!([{"filename": "pr.txt", "status": "added"}])))
        .mount(&gh)
        .await;
    for list in ["comments", "labels"] {
        Mock::given(method("GET"))
            .and(path_regex(format!("^{repo}/issues/{PR}/{list}$")))
            .respond_with(ok(json!([])))
            .mount(&gh)
            .await;
    }
    Mock::given(method("POST"))
        .and(path_regex(format!("^{repo}/statuses/[0-9a-f]{{40}}$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{repo}/issues/{PR}/comments$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 7, "body": "", "user": {"login": "prow-bot", "id": 1},
            "html_url": "https://github.com/x", "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z"})))
        .mount(&gh)
        .await;
    gh
}

/// Where the first test's jobs upload: a GCS bucket (kept in `prow up`'s state dir).
fn gcs_bucket() -> String {
    format!(
        "      gcs_configuration:\n        bucket: {BUCKET}\n        path_strategy: explicit\n      gcs_credentials_secret: gcs-credentials\n"
    )
}

/// A Prow config as users write it: default decoration with utility images, a bucket
/// (`storage`: the `gcs_configuration` and secret lines), and two decorated presubmits cloning
/// from `remote` (`clone_uri`, as for a mirror or GHE).
fn write_config(config: &Path, remote: &Path, storage: &str) {
    common::write(
        &config.join("config.yaml"),
        &format!(
            r#"prowjob_namespace: prow
pod_namespace: test-pods
plank:
  default_decoration_configs:
    "*":
      timeout: 5m
      grace_period: 10s
      utility_images:
        clonerefs: us-docker.pkg.dev/k8s-infra-prow/images/clonerefs:v20260821-a61940897
        initupload: us-docker.pkg.dev/k8s-infra-prow/images/initupload:v20260821-a61940897
        entrypoint: us-docker.pkg.dev/k8s-infra-prow/images/entrypoint:v20260821-a61940897
        sidecar: us-docker.pkg.dev/k8s-infra-prow/images/sidecar:v20260821-a61940897
{storage}"#
        ),
    );
    let remote = remote.display();
    common::write(
        &config.join("jobs/hello.yaml"),
        &format!(
            r#"presubmits:
  {REPO}:
  - name: pull-hello-unit
    always_run: true
    decorate: true
    clone_uri: {remote}
    spec:
      containers:
      - image: docker.io/library/alpine:3
        command: [sh, -c]
        args:
        - test -f base.txt && test -f pr.txt && echo "merged at $(git rev-parse HEAD)" && seq 1 400 && echo ok > "$ARTIFACTS/result.txt"
  - name: pull-hello-slow
    always_run: true
    decorate: true
    clone_uri: {remote}
    decoration_config:
      timeout: 2s
      grace_period: 1s
    spec:
      containers:
      - image: docker.io/library/alpine:3
        command: [sh, -c]
        args:
        - trap '' INT TERM; echo started; sleep 60
"#
        ),
    );
    common::write(
        &config.join("plugins.yaml"),
        &format!("plugins:\n  {REPO}: [trigger]\n"),
    );
}

fn start_up(dir: &Path, github_url: &str, s3_credentials: Option<&Path>) -> (common::Up, Value) {
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(b"decorated-secret\n"),
            s3_credentials_file: s3_credentials,
            ..common::UpOptions::default()
        },
    )
}

/// Delivers PR #2's `pull_request.opened` to hook, signed, with the given base and head.
async fn open_pull_request(hook: &str, base_sha: &str, head_sha: &str, delivery: &str) {
    let mut payload: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json")).expect("json");
    payload["pull_request"]["head"]["sha"] = json!(head_sha);
    payload["pull_request"]["base"]["sha"] = json!(base_sha);
    let body = serde_json::to_vec(&payload).expect("body");
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", delivery)
        .header(
            "X-Hub-Signature-256",
            common::sign(b"decorated-secret", &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// The run's directory in the local artifact store, in Prow's layout for a presubmit.
fn build_dir(state: &Path, job: &str, build_id: &str) -> PathBuf {
    state.join(format!(
        "artifacts/{BUCKET}/pr-logs/pull/{}/{PR}/{job}/{build_id}",
        REPO.replace('/', "_")
    ))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decorated_presubmit_clones_the_pr_runs_and_uploads_in_prows_layout() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = KeepOnFailure(dir.path().to_path_buf());
    let remote = dir.path().join("remote");
    let (base_sha, head_sha) = remote_repository(&remote);
    write_config(&dir.path().join("config"), &remote, &gcs_bucket());
    let gh = github(&base_sha).await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri(), None);
    let hook = endpoints["hook"].as_str().expect("hook url");
    let api = endpoints["api"].as_str().expect("api url");
    open_pull_request(hook, &base_sha, &head_sha, "decorated-1").await;

    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    let unit = common::finished(&jobs, "pull-hello-unit", Duration::from_secs(180)).await;
    let state = dir.path().join("state");
    let run = build_dir(&state, "pull-hello-unit", &unit.status.build_id);
    assert_eq!(
        unit.status.state,
        ProwJobState::Success,
        "{}; build log: {:?}",
        unit.status.description,
        std::fs::read_to_string(run.join("build-log.txt"))
    );

    // The test ran on the PR merged onto its base, in Prow's working directory.
    let log = read(&run.join("build-log.txt"));
    assert!(log.contains("merged at "), "{log}");
    let records: Value =
        serde_json::from_str(&read(&run.join("clone-records.json"))).expect("records");
    // Prow writes an environment-setup record first, then one per repository cloned.
    let record = records
        .as_array()
        .and_then(|r| r.iter().find(|r| r["commands"].is_array()))
        .expect("a clone record with commands");
    assert_ne!(record["failed"], json!(true), "{record:#}");
    assert!(
        record["commands"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["command"].as_str().is_some_and(|c| c.contains("merge")))),
        "{record:#}"
    );
    let started: Value = serde_json::from_str(&read(&run.join("started.json"))).expect("started");
    assert!(started["timestamp"].as_i64().is_some(), "{started}");
    let finished_json: Value =
        serde_json::from_str(&read(&run.join("finished.json"))).expect("finished");
    assert_eq!(finished_json["passed"], json!(true), "{finished_json}");
    assert_eq!(finished_json["result"], json!("SUCCESS"), "{finished_json}");
    assert_eq!(read(&run.join("artifacts/result.txt")), "ok\n");
    // crier adds the pod and its events once the job is done, as Prow's gcsk8sreporter, so
    // Deck's pod info lens has them under `prow up` too.
    let podinfo: Value = common::wait_for("podinfo.json", Duration::from_secs(30), async || {
        std::fs::read_to_string(run.join("podinfo.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
    })
    .await;
    assert_eq!(
        podinfo["pod"]["metadata"]["name"],
        json!(unit.metadata.name.as_deref().expect("name")),
        "{podinfo:#}"
    );
    assert_eq!(
        podinfo["pod"]["status"]["phase"],
        json!("Succeeded"),
        "{podinfo:#}"
    );
    // The local kubelet records events as a kubelet does: the pod's scheduling and each start.
    let reasons: Vec<&str> = podinfo["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"Scheduled") && reasons.contains(&"Started"),
        "{podinfo:#}"
    );

    // Past its 2 s timeout the slow job is interrupted, ignores it, and is killed after the
    // 1 s grace period: a failure, as in Prow, well before its 60 s sleep would end.
    let slow = common::finished(&jobs, "pull-hello-slow", Duration::from_secs(120)).await;
    assert_eq!(
        slow.status.state,
        ProwJobState::Failure,
        "{}",
        slow.status.description
    );
    let slow_run = build_dir(&state, "pull-hello-slow", &slow.status.build_id);
    let slow_log = read(&slow_run.join("build-log.txt"));
    assert!(slow_log.contains("started"), "{slow_log}");
    let elapsed = slow
        .status
        .completion_time
        .as_ref()
        .zip(slow.status.start_time.as_ref())
        .map(|(end, start)| end.0.duration_since(start.0).as_secs_f64());
    assert!(elapsed.is_some_and(|s| s < 50.0), "ran {elapsed:?} s");
    drop(keep);
}

const S3_BUCKET: &str = "prow-s3-artifacts";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server (pip install 'moto[server]'; .ci/install-deps installs it)"]
async fn a_decorated_presubmit_with_an_s3_bucket_uploads_there_and_deck_reads_it_there() {
    prow_kube::install_crypto_provider();
    let s3 = MotoS3::start().await.expect("moto_server");
    s3.create_bucket(S3_BUCKET).await.expect("bucket");
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = KeepOnFailure(dir.path().to_path_buf());
    let creds = s3.write_credentials(dir.path()).expect("credentials");
    let remote = dir.path().join("remote");
    let (base_sha, head_sha) = remote_repository(&remote);
    // Prow's convention for S3: an s3:// bucket and s3_credentials_secret; logs gzip-encoded.
    let storage = format!(
        "      gcs_configuration:\n        bucket: s3://{S3_BUCKET}\n        path_strategy: explicit\n        compress_file_types: [txt]\n      s3_credentials_secret: s3-credentials\n"
    );
    write_config(&dir.path().join("config"), &remote, &storage);
    let gh = github(&base_sha).await;
    let (_up, endpoints) = start_up(dir.path(), &gh.uri(), Some(&creds));
    let hook = endpoints["hook"].as_str().expect("hook url");
    let api = endpoints["api"].as_str().expect("api url");
    let deck = endpoints["deck"].as_str().expect("deck url");
    open_pull_request(hook, &base_sha, &head_sha, "decorated-s3").await;

    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    let unit = common::finished(&jobs, "pull-hello-unit", Duration::from_secs(180)).await;
    let store = Stores::new(StoreConfig {
        s3_credentials_file: Some(creds.clone()),
        ..StoreConfig::default()
    })
    .expect("store");
    let bucket = format!("s3://{S3_BUCKET}");
    let run = format!(
        "pr-logs/pull/{}/{PR}/pull-hello-unit/{}",
        REPO.replace('/', "_"),
        unit.status.build_id
    );
    let get = |name: String| {
        let store = &store;
        let bucket = bucket.clone();
        async move {
            let data = store
                .get(&bucket, &name)
                .await
                .expect("read s3")
                .unwrap_or_else(|| panic!("{name} is not in S3"));
            String::from_utf8(data.to_vec()).expect("utf-8")
        }
    };
    let log = get(format!("{run}/build-log.txt")).await;
    assert_eq!(unit.status.state, ProwJobState::Success, "{log}");
    assert!(
        log.contains("merged at ") && log.contains("\n400\n"),
        "{log}"
    );
    let finished_json: Value =
        serde_json::from_str(&get(format!("{run}/finished.json")).await).expect("finished");
    assert_eq!(finished_json["passed"], json!(true), "{finished_json}");
    assert_eq!(get(format!("{run}/artifacts/result.txt")).await, "ok\n");
    assert!(
        get(format!("{run}/prowjob.json"))
            .await
            .contains("pull-hello-unit")
    );
    // The log is stored gzip-encoded (compress_file_types), and read back decompressed.
    let listed = store
        .list(&bucket, &format!("{run}/build-log.txt"), None)
        .await
        .expect("list");
    assert!(
        listed
            .objects
            .first()
            .is_some_and(|o| o.size < log.len() as u64),
        "{listed:?} vs {} bytes",
        log.len()
    );
    // Nothing went to the local directory that gs:// buckets use.
    assert!(!dir.path().join("state/artifacts").join(S3_BUCKET).exists());

    // Deck shows the log from the bucket: what it serves changes when the object does.
    store
        .put(
            &bucket,
            &format!("{run}/build-log.txt"),
            Bytes::from("served from s3\n"),
            "text/plain; charset=utf-8",
        )
        .await
        .expect("overwrite");
    let shown = reqwest::get(format!(
        "{deck}/log?job=pull-hello-unit&id={}",
        unit.status.build_id
    ))
    .await
    .expect("deck")
    .text()
    .await
    .expect("body");
    assert_eq!(shown, "served from s3\n");
    drop(keep);
    s3.stop().await;
}

/// On a failed assertion, copies the run's state (pods' directories, artifacts) somewhere that
/// outlives the temp dir and says where, so the failure can be read.
struct KeepOnFailure(PathBuf);

impl Drop for KeepOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let kept = std::env::temp_dir().join(format!("decorated-job-{}", std::process::id()));
            let _ = Command::new("cp")
                .arg("-a")
                .arg(&self.0)
                .arg(&kept)
                .status();
            eprintln!("state of the failed run kept in {}", kept.display());
        }
    }
}
