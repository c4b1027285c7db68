//! `prow lambda hook` under cargo-lambda's Runtime API emulator answers a signed GitHub webhook, sent as a Function URL request, exactly as `prow serve hook` answers it over HTTP.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{KeyInit, Mac};

const TOKEN: &[u8] = b"lambda-hook-token";
const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
/// Cold starts of three processes on a loaded two-core machine: be patient, poll instead.
const PATIENCE: Duration = Duration::from_secs(120);

fn corpus(name: &str) -> Vec<u8> {
    prow_testdata::webhook(name)
}

/// `X-Hub-Signature-256` as GitHub computes it, independently of hook's own code.
fn sign(token: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(token).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed with the test, printing its log if the test failed.
struct Running {
    name: &'static str,
    child: Child,
    log: Option<PathBuf>,
}

impl Running {
    fn spawn(name: &'static str, command: &mut Command, log: Option<PathBuf>) -> Running {
        let (stdout, stderr) = match &log {
            Some(path) => {
                let file = std::fs::File::create(path).unwrap();
                (Stdio::from(file.try_clone().unwrap()), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Running { name, child, log }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking()
            && let Some(log) = &self.log
        {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            eprintln!(
                "--- {} log ---\n{text}--- end of {} log ---",
                self.name, self.name
            );
        }
    }
}

/// One request the sink accepted: its CloudEvent attributes (binary mode headers) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    attributes: BTreeMap<String, String>,
    content_type: Option<String>,
    body: Bytes,
}

type Sink = Arc<Mutex<Vec<Received>>>;

async fn record(State(sink): State<Sink>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let attributes = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("ce-"))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    sink.lock().unwrap().push(Received {
        attributes,
        content_type,
        body,
    });
    StatusCode::ACCEPTED
}

async fn start_sink() -> (Sink, String) {
    let sink = Sink::default();
    let app = Router::new()
        .route("/", post(record))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (sink, url)
}

/// The emulator insists on a Cargo project with a binary in its working directory even with
/// `--only-lambda-apis`; an empty one keeps it independent of this workspace's state.
fn anchor_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"emulator-anchor\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
}

fn hook_command(kind: &str, secret: &Path, sink: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prow"));
    command
        .args([kind, "hook"])
        .env("HMAC_SECRET_FILE", secret)
        .env("K_SINK", sink)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("DRY_RUN")
        .env_remove("PUBLISH_ATTEMPTS");
    command
}

/// GETs `url` until it answers 200 `ok`: the process behind it is up and routing.
async fn wait_healthy(client: &reqwest::Client, url: &str, child: &mut Running) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.child.try_wait().unwrap() {
            panic!("{} exited early with {status}", child.name);
        }
        let answer = client
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if let Ok(response) = answer
            && response.status() == StatusCode::OK
            && response.text().await.is_ok_and(|t| t == "ok")
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never became healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_listening(port: u16, child: &mut Running) {
    let deadline = Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Some(status) = child.child.try_wait().unwrap() {
            panic!("{} exited early with {status}", child.name);
        }
        assert!(
            Instant::now() < deadline,
            "{} never listened on {port}",
            child.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a client sees of hook's answer.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

/// hook served over HTTP and through the Lambda emulator.
struct Doors<'a> {
    client: &'a reqwest::Client,
    http: &'a str,
    lambda: &'a str,
}

impl Doors<'_> {
    /// The same delivery through both doors, HTTP first; both must answer alike.
    async fn deliver_both(
        &self,
        event: &str,
        delivery: &str,
        signature: &str,
        body: &[u8],
    ) -> Answer {
        let over_http = deliver(self.client, self.http, event, delivery, signature, body).await;
        let over_lambda = deliver(self.client, self.lambda, event, delivery, signature, body).await;
        assert_eq!(
            over_lambda, over_http,
            "Lambda and HTTP answered differently"
        );
        over_http
    }
}

/// A delivery with the headers GitHub sends, to `url`.
async fn deliver(
    client: &reqwest::Client,
    url: &str,
    event: &str,
    delivery: &str,
    signature: &str,
    body: &[u8],
) -> Answer {
    let response = client
        .post(url)
        .header("user-agent", "GitHub-Hookshot/4f3a2b1")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-github-hook-id", "292430182")
        .header("x-github-hook-installation-target-id", "79929171")
        .header("x-github-hook-installation-target-type", "repository")
        .header("x-hub-signature-256", signature)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Answer {
        status,
        content_type,
        body: response.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs cargo-lambda (.ci/install-deps installs it; .ci/test runs this)"]
async fn lambda_hook_answers_function_url_webhooks_as_http_hook_does() {
    prow_testdata::counterpart("cargo-lambda", None, "pip install cargo-lambda");
    prow_kube::install_crypto_provider();
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("hmac");
    std::fs::write(
        &secret,
        format!("{}\n", std::str::from_utf8(TOKEN).unwrap()),
    )
    .unwrap();
    let (sink, sink_url) = start_sink().await;

    let http_port = free_port();
    let mut http = Running::spawn(
        "prow serve hook",
        hook_command("serve", &secret, &sink_url).env("PORT", http_port.to_string()),
        Some(dir.path().join("serve.log")),
    );

    let anchor = dir.path().join("anchor");
    anchor_project(&anchor);
    let emulator_port = free_port();
    let mut emulator = Running::spawn(
        "cargo-lambda",
        Command::new("cargo-lambda")
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(emulator_port.to_string())
            .current_dir(&anchor),
        Some(dir.path().join("emulator.log")),
    );
    wait_listening(emulator_port, &mut emulator).await;
    let emulator_base = format!("http://127.0.0.1:{emulator_port}");
    let mut lambda = Running::spawn(
        "prow lambda hook",
        hook_command("lambda", &secret, &sink_url)
            .env("AWS_LAMBDA_RUNTIME_API", format!("{emulator_base}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1"),
        Some(dir.path().join("lambda.log")),
    );

    let http_hook = format!("http://127.0.0.1:{http_port}/hook");
    let lambda_hook = format!("{emulator_base}/lambda-url/_/hook");
    let doors = Doors {
        client: &client,
        http: &http_hook,
        lambda: &lambda_hook,
    };
    wait_healthy(
        &client,
        &format!("http://127.0.0.1:{http_port}/healthz"),
        &mut http,
    )
    .await;
    wait_healthy(
        &client,
        &format!("{emulator_base}/lambda-url/_/healthz"),
        &mut lambda,
    )
    .await;

    // The same signed delivery through both doors: same answer, equivalent events.
    let payload = corpus("pull_request.opened.json");
    let full_name =
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["repository"]["full_name"]
            .as_str()
            .unwrap()
            .to_owned();
    let signature = sign(TOKEN, &payload);
    let over_http = doors
        .deliver_both("pull_request", DELIVERY, &signature, &payload)
        .await;
    assert_eq!(over_http.status, 200, "{over_http:?}");
    assert_eq!(over_http.body, "Event received. Have a nice day.");

    let received = sink.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one event per accepted delivery");
    let (from_http, from_lambda) = (&received[0], &received[1]);
    let source = format!("https://github.com/{full_name}");
    for (name, want) in [
        ("ce-id", DELIVERY),
        ("ce-type", "dev.prow.github.pull_request"),
        ("ce-source", source.as_str()),
        ("ce-action", "opened"),
        ("ce-specversion", "1.0"),
    ] {
        assert_eq!(
            from_http.attributes.get(name).map(String::as_str),
            Some(want),
            "{name} over HTTP"
        );
    }
    assert_eq!(from_http.content_type.as_deref(), Some("application/json"));
    assert_eq!(from_http.body, payload, "data is the payload byte for byte");
    assert_eq!(
        from_lambda, from_http,
        "the Lambda path publishes the same event"
    );

    // Real comments carry raw UTF-8 (GitHub does not \u-escape it): the signature covers those
    // bytes, so the Lambda path must hand them to hook unchanged.
    let mut comment: serde_json::Value =
        serde_json::from_slice(&corpus("issue_comment.created.json")).unwrap();
    comment["comment"]["body"] = "/lgtm 👍 — ça marche, 谢谢".into();
    let comment_payload = serde_json::to_vec(&comment).unwrap();
    assert!(!comment_payload.is_ascii());
    let comment_signature = sign(TOKEN, &comment_payload);
    let delivery = "9d1e5c1a-cc78-11e3-81ab-4c9367dc0958";
    let over_http = doors
        .deliver_both(
            "issue_comment",
            delivery,
            &comment_signature,
            &comment_payload,
        )
        .await;
    assert_eq!(over_http.status, 200, "{over_http:?}");
    let received = sink.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "one event per accepted delivery");
    assert_eq!(received[2].body, comment_payload);
    assert_eq!(received[3], received[2]);

    // A wrong signature is refused on both paths and publishes nothing.
    let forged = sign(b"not-the-token", &payload);
    let over_http = doors
        .deliver_both("pull_request", DELIVERY, &forged, &payload)
        .await;
    assert_eq!(over_http.status, 403, "{over_http:?}");
    assert_eq!(
        sink.lock().unwrap().len(),
        4,
        "a forged delivery was published"
    );

    // A correctly signed body that is not JSON is a 400 on both paths, also unpublished.
    let malformed = br#"{"action": "opened", "number": "#;
    let signature = sign(TOKEN, malformed);
    let over_http = doors
        .deliver_both("pull_request", DELIVERY, &signature, malformed)
        .await;
    assert_eq!(over_http.status, 400, "{over_http:?}");
    assert!(over_http.body.contains("not valid JSON"), "{over_http:?}");
    assert_eq!(
        sink.lock().unwrap().len(),
        4,
        "a malformed delivery was published"
    );

    drop(lambda);
    drop(emulator);
    drop(http);
}
