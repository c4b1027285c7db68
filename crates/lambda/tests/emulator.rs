//! Runs the demo function under cargo-lambda's Lambda Runtime API emulator and invokes it the way Function URLs and EventBridge do.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Emulator {
    _emulator: Child,
    _function: Child,
    base: String,
    client: reqwest::Client,
}

impl Emulator {
    async fn start(dir: &Path) -> Emulator {
        let port = free_port();
        anchor_project(dir);
        let emulator = Command::new("cargo-lambda")
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn cargo-lambda");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "cargo-lambda never listened on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let function = Command::new(env!("CARGO_BIN_EXE_prow-lambda-demo"))
            .env("AWS_LAMBDA_RUNTIME_API", format!("{base}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("DEMO_REFUSE", "sinker")
            .kill_on_drop(true)
            .spawn()
            .expect("spawn prow-lambda-demo");
        Emulator {
            _emulator: emulator,
            _function: function,
            base,
            client,
        }
    }

    async fn invoke(&self, payload: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/2015-03-31/functions/_/invocations", self.base))
            .json(payload)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

fn scheduled(rule: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("tick-{rule}"),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-25T14:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")],
        "detail": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs cargo-lambda (.ci/install-deps installs it; .ci/test runs this)"]
async fn function_urls_and_schedules_reach_the_router() {
    prow_testdata::counterpart("cargo-lambda", None, "pip install cargo-lambda");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("prow-lambda-emulator-{}", std::process::id()));
    let emulator = Emulator::start(&dir).await;

    // Function URL shaped requests: path, query, headers and body arrive intact.
    let health = emulator
        .client
        .get(format!("{}/lambda-url/_/healthz", emulator.base))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let payload = r#"{"action":"opened","number":7}"#;
    let echo: Value = emulator
        .client
        .post(format!(
            "{}/lambda-url/_/echo?org=example-org",
            emulator.base
        ))
        .header("x-hub-signature-256", "sha256=0123abcd")
        .header("x-github-event", "pull_request")
        .header("content-type", "application/json")
        .body(payload)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        echo,
        json!({
            "method": "POST", "path": "/echo", "query": "org=example-org", "body": payload,
            "signature": "sha256=0123abcd", "event": "pull_request"
        })
    );

    // An EventBridge schedule arrives at POST / as the PingSource tick of the same name.
    let (status, body) = emulator.invoke(&scheduled("horologium")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "id": "tick-horologium",
            "type": "dev.knative.sources.ping",
            "source": "/apis/v1/namespaces/prow/pingsources/horologium",
            "time": "2026-11-25T14:00:00+00:00"
        })
    );

    // A refused ping fails the invocation, so Lambda retries it.
    let (status, body) = emulator.invoke(&scheduled("sinker")).await;
    assert_eq!(status, 500, "{body}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("sinker") && message.contains("503"),
        "{body}"
    );

    // Events that are neither HTTP nor schedules are errors, not silently dropped.
    let (status, body) = emulator
        .invoke(&json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}))
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("neither an HTTP request nor an EventBridge scheduled event"),
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
