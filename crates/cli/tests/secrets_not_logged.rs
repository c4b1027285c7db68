//! No secret reaches a log: `prow up` runs end to end at `RUST_LOG=debug` (a signed webhook
//! becomes a ProwJob whose pod runs and whose status is reported, every PingSource ticks, the
//! redelivery function lists the app's hook and asks for a redelivery), acting once with a
//! token and once as a GitHub App, with its API server beyond loopback; then everything it
//! printed and every log file it wrote is searched for the webhook HMAC secret, the GitHub
//! token, the app's private key lines, JWTs, installation tokens and the API server's token.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const HMAC_SECRET: &str = "hmac-7f3a9c1e5b2d8046-never-logged";
const GITHUB_TOKEN: &str = "ghp_PersonalT0ken4f8e2b9c7d1a-never-logged";
const INSTALLATION_TOKEN: &str = "ghs_Installati0nT0ken93b1c7e2-never-logged";
const APP_ID: u64 = 12;
const REPO: &str = "/repos/Codertocat/Hello-World";

fn app_key_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../github/tests/fixtures/test-app-key.pem")
}

/// GitHub as trigger, crier and redelivery need it for Codertocat/Hello-World; as an app too
/// (installations, minted tokens, the app's hook listing one failed delivery).
async fn fake_github() -> MockServer {
    let gh = MockServer::start().await;
    let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    let mounts: Vec<(&str, String, ResponseTemplate)> = vec![
        (
            "GET",
            "^/user$".into(),
            ok(json!({"login": "prow-bot", "id": 1})),
        ),
        (
            "GET",
            "^/app$".into(),
            ok(json!({"id": APP_ID, "slug": "prow-test", "name": "prow-test"})),
        ),
        (
            "GET",
            "^/app/installations$".into(),
            ok(json!([{"id": 101, "app_id": APP_ID, "target_type": "User",
                       "account": {"login": "Codertocat", "id": 21031067, "type": "User"}}])),
        ),
        (
            "POST",
            "^/app/installations/101/access_tokens$".into(),
            ResponseTemplate::new(201).set_body_json(json!({
                "token": INSTALLATION_TOKEN, "expires_at": "2099-01-01T00:00:00Z"})),
        ),
        (
            "GET",
            "^/app/hook/deliveries$".into(),
            ok(
                json!([{"id": 555, "guid": "lost-while-down", "delivered_at": chrono_minutes_ago(30),
                       "redelivery": false, "status": "failed to connect to host", "status_code": 0,
                       "event": "pull_request", "action": "opened"}]),
            ),
        ),
        (
            "POST",
            "^/app/hook/deliveries/555/attempts$".into(),
            ResponseTemplate::new(202).set_body_json(json!({})),
        ),
        (
            "GET",
            r"^/orgs/[^/]+/members/[^/]+$".into(),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            format!("^{REPO}/collaborators/[^/]+$"),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            format!("^{REPO}/git/refs?/heads/master$"),
            ok(json!({"ref": "refs/heads/master",
                      "object": {"sha": "0123456789abcdef0123456789abcdef01234567", "type": "commit"}})),
        ),
        (
            "GET",
            format!("^{REPO}/pulls/[0-9]+/files$"),
            ok(json!([{"filename": "README.md", "status": "modified"}])),
        ),
        (
            "GET",
            format!("^{REPO}/issues/[0-9]+/(comments|labels)$"),
            ok(json!([])),
        ),
        (
            "POST",
            format!("^{REPO}/issues/[0-9]+/comments$"),
            ResponseTemplate::new(201).set_body_json(json!({"id": 1})),
        ),
        (
            "POST",
            format!("^{REPO}/statuses/[0-9a-f]{{40}}$"),
            ResponseTemplate::new(201).set_body_json(json!({"id": 1, "state": "pending"})),
        ),
    ];
    for (verb, at, answer) in mounts {
        Mock::given(method(verb))
            .and(path_regex(at))
            .respond_with(answer)
            .mount(&gh)
            .await;
    }
    // Anything else (tide's searches, the resync ticks' listings) is wiremock's 404.
    gh
}

fn chrono_minutes_ago(minutes: u64) -> String {
    let at = std::time::SystemTime::now() - Duration::from_secs(minutes * 60);
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // RFC 3339 by hand: the test needs no date crate for one timestamp.
    let days = secs / 86_400;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let (y, mo, d) = civil_from_days(i64::try_from(days).expect("days"));
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("day");
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("month");
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// How the run acts on GitHub.
#[derive(Clone, Copy, Debug)]
enum Acting {
    Token,
    App,
}

/// Starts `prow up` in `dir` with stdout and stderr going to files there; returns the child
/// and the endpoints line.
fn start(dir: &Path, github: &str, acting: Acting) -> (common::Up, Value) {
    let config = dir.join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    common::write(
        &config.join("jobs/hello.yaml"),
        "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-unit\n    always_run: true\n    spec:\n      containers:\n      - image: alpine\n        command: ['true']\n",
    );
    common::write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [trigger]\n",
    );
    common::write(&dir.join("hmac"), HMAC_SECRET);
    let stdout = std::fs::File::create(dir.join("stdout.log")).expect("stdout log");
    let stderr = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_prow"));
    command
        .args([
            "up",
            "--api-addr",
            "0.0.0.0:0",
            "--hook-addr",
            "127.0.0.1:0",
        ])
        .args([
            "--deck-addr",
            "127.0.0.1:0",
            "--pod-runtime",
            "host",
            "--tick",
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
        .arg(github);
    match acting {
        Acting::Token => {
            common::write(&dir.join("token"), &format!("{GITHUB_TOKEN}\n"));
            command.arg("--github-token-path").arg(dir.join("token"));
        }
        Acting::App => {
            command
                .arg("--github-app-id")
                .arg(APP_ID.to_string())
                .arg("--github-app-private-key-path")
                .arg(app_key_path());
        }
    }
    let child = command
        .env("RUST_LOG", "debug")
        .current_dir(dir)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("start prow up");
    let up = common::Up(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let printed = std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default();
        if let Some(line) = printed.lines().next().filter(|_| printed.contains('\n')) {
            let endpoints = serde_json::from_str(line).expect("endpoints line");
            return (up, endpoints);
        }
        assert!(Instant::now() < deadline, "prow up did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn requests_matching<'a>(requests: &'a [Request], verb: &str, prefix: &str) -> Vec<&'a Request> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().starts_with(prefix))
        .collect()
}

/// Every file under `dir` whose name says it is a log, with its text.
fn log_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".log") || n.ends_with("log.txt"))
            {
                let text =
                    String::from_utf8_lossy(&std::fs::read(&path).expect("log")).into_owned();
                found.push((path, text));
            }
        }
    }
    found
}

/// What must never be printed: each secret, each line of the app's key, and any JWT.
fn leaks(text: &str, secrets: &[(&str, String)]) -> Vec<String> {
    let mut found: Vec<String> = secrets
        .iter()
        .filter(|(_, secret)| text.contains(secret.as_str()))
        .map(|(what, _)| (*what).to_owned())
        .collect();
    // A JWT is `base64url({"...}).base64url({"...}).signature`: both parts start with `eyJ`.
    for (at, _) in text.match_indices("eyJ") {
        let token: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if token
            .split('.')
            .nth(1)
            .is_some_and(|p| p.starts_with("eyJ"))
        {
            found.push(format!("a JWT ({}...)", &token[..token.len().min(12)]));
            break;
        }
    }
    found
}

async fn run_and_check(acting: Acting) {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = fake_github().await;
    let (mut up, endpoints) = start(dir.path(), &gh.uri(), acting);
    let hook = endpoints["hook"].as_str().expect("hook url").to_owned();
    let api = endpoints["api"].as_str().expect("api url").to_owned();

    // Beyond loopback the API server wants its token, which the kubeconfig carries.
    let api_token = std::fs::read_to_string(dir.path().join("state/api-token"))
        .expect("an API token was generated for the non-loopback API server");
    let kubeconfig = std::fs::read_to_string(endpoints["kubeconfig"].as_str().expect("kubeconfig"))
        .expect("kubeconfig");
    assert!(kubeconfig.contains(&format!("token: {}", api_token.trim())));
    let anonymous = reqwest::get(format!(
        "{api}/apis/prow.k8s.io/v1/namespaces/prow/prowjobs"
    ))
    .await
    .expect("API server answers");
    assert_eq!(anonymous.status().as_u16(), 401);
    let client =
        prow_kube::client_for_url_with_token(&api, Some(api_token.trim())).expect("client");
    let jobs = prow_kube::ProwJobs::new(client, "prow");

    // One webhook signed with the secret, one forged.
    let body = prow_testdata::webhook("pull_request.opened.json");
    let http = reqwest::Client::new();
    for (delivery, signature) in [
        (
            "secrets-delivery-1",
            common::sign(HMAC_SECRET.as_bytes(), &body),
        ),
        ("secrets-forged-1", common::sign(b"not-the-secret", &body)),
    ] {
        let answer = http
            .post(&hook)
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", signature)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("deliver");
        let expected = if delivery.contains("forged") {
            403
        } else {
            200
        };
        assert_eq!(answer.status().as_u16(), expected, "{delivery}");
    }
    common::finished(&jobs, "pull-hello-unit", Duration::from_secs(90)).await;

    // Wait until crier reported the final state and (as an app) redelivery asked for 555.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let requests = gh.received_requests().await.expect("recorded");
        let reported = requests_matching(&requests, "POST", &format!("{REPO}/statuses/"))
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("\"success\""));
        let redelivered = matches!(acting, Acting::Token)
            || !requests_matching(&requests, "POST", "/app/hook/deliveries/555/attempts")
                .is_empty();
        if reported && redelivered {
            // The secrets were really in use: GitHub saw them.
            let bearers: Vec<String> = requests
                .iter()
                .filter_map(|r| r.headers.get("authorization"))
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            match acting {
                Acting::Token => {
                    assert!(
                        bearers.iter().any(|b| b.contains(GITHUB_TOKEN)),
                        "{bearers:?}"
                    );
                }
                Acting::App => {
                    assert!(bearers.iter().any(|b| b.contains(INSTALLATION_TOKEN)));
                    assert!(bearers.iter().any(|b| b.starts_with("Bearer eyJ")));
                }
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{acting:?}: no final status or redelivery request"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    up.kill();

    let key = std::fs::read_to_string(app_key_path()).expect("app key");
    let mut secrets: Vec<(&str, String)> = vec![
        ("the webhook HMAC secret", HMAC_SECRET.to_owned()),
        ("the GitHub token", GITHUB_TOKEN.to_owned()),
        ("an installation token", INSTALLATION_TOKEN.to_owned()),
        ("the API server token", api_token.trim().to_owned()),
        (
            "the broker ingress token",
            read_trimmed(&dir.path().join("state/broker-token")),
        ),
        ("a private key marker", "PRIVATE KEY-----".to_owned()),
    ];
    secrets.extend(
        key.lines()
            .filter(|line| !line.starts_with("-----") && line.len() >= 16)
            .map(|line| ("a line of the app's private key", line.to_owned())),
    );
    let logs = log_files(dir.path());
    let printed: usize = logs.iter().map(|(_, text)| text.len()).sum();
    let stderr = logs
        .iter()
        .find(|(path, _)| path.ends_with("stderr.log"))
        .map(|(_, text)| text.as_str())
        .unwrap_or_default();
    // The search is only worth something if the run logged what it did.
    for expected in ["secrets-delivery-1", "event published", "webhook rejected"] {
        assert!(
            stderr.contains(expected),
            "{acting:?}: {expected:?} not logged"
        );
    }
    if matches!(acting, Acting::App) {
        assert!(
            stderr.contains("redelivery requested"),
            "redelivery not logged"
        );
    }
    let mut found = Vec::new();
    for (path, text) in &logs {
        for leak in leaks(text, &secrets) {
            found.push(format!("{leak} in {}", path.display()));
        }
    }
    eprintln!(
        "{acting:?}: searched {} log files ({printed} bytes) for {} secrets and JWTs",
        logs.len(),
        secrets.len()
    );
    assert!(found.is_empty(), "{acting:?}: secrets in logs: {found:#?}");
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_logged_by_an_end_to_end_run_with_a_token() {
    run_and_check(Acting::Token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_logged_by_an_end_to_end_run_as_a_github_app() {
    run_and_check(Acting::App).await;
}

/// The search itself finds what it looks for, so a clean result means something.
#[test]
fn the_search_finds_a_secret_and_a_jwt_but_not_lookalikes() {
    let secrets = [("the webhook HMAC secret", HMAC_SECRET.to_owned())];
    let jwt = "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMiJ9.c2lnbmF0dXJl";
    assert_eq!(leaks(jwt, &secrets), ["a JWT (eyJhbGciOiJS...)"]);
    assert_eq!(
        leaks(&format!("secret={HMAC_SECRET}"), &secrets),
        ["the webhook HMAC secret"]
    );
    assert!(leaks("eyJust a word. eyJ and another", &secrets).is_empty());
}
