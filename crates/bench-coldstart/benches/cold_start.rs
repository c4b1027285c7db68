//! Cold start of every function, as scale-to-zero pays it: process spawn -> first 200, from
//! `/healthz` and from a real request (a signed webhook for hook, a pull_request CloudEvent for
//! kubernetes/kubernetes for trigger), with Kubernetes' full Prow config loaded from YAML and from
//! the compiled snapshot; plus resident memory when idle. The baseline is `axum-hello`, a
//! trivial axum binary built with the same profile, measured in the same run.
//!
//! Run: `bash bench/cold-start.sh` (builds `prow` in release first). ROUNDS=n sets the runs per
//! case (default 9; YAML cases run a third as often, they are slow by design).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HMAC_SECRET: &str = "cold-start-bench";

/// How a function is asked for its first real piece of work.
#[derive(Clone)]
enum Request {
    Healthz,
    Webhook { body: Vec<u8> },
    PullRequestEvent { body: Vec<u8> },
}

struct Case {
    function: &'static str,
    mode: &'static str,
    env: Vec<(String, String)>,
}

#[derive(Default)]
struct Sample {
    elapsed: Vec<Duration>,
    /// The same kind of request again, to the now warm process: the work itself.
    warm: Vec<Duration>,
    rss_kib: Vec<u64>,
}

fn median<T: Copy + Ord>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(HMAC_SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn send(
    client: &reqwest::Client,
    port: u16,
    request: &Request,
    run: usize,
) -> reqwest::RequestBuilder {
    let base = format!("http://127.0.0.1:{port}");
    match request {
        Request::Healthz => client.get(format!("{base}/healthz")),
        Request::Webhook { body } => client
            .post(format!("{base}/hook"))
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", format!("cold-start-{run}"))
            .header("x-hub-signature-256", sign(body))
            .header("content-type", "application/json")
            .body(body.clone()),
        Request::PullRequestEvent { body } => client
            .post(format!("{base}/"))
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("cold-start-{run}"))
            .header("ce-type", "dev.prow.github.pull_request")
            .header("ce-source", "https://github.com/kubernetes/kubernetes")
            .header("ce-action", "opened")
            .header("content-type", "application/json")
            .body(body.clone()),
    }
}

/// Spawns `command`, waits until its port accepts a connection, sends `request` and returns
/// spawn -> 200, the resident set size a moment after (the function idle again), and how long
/// `again` takes on the warm process.
async fn cold_start(
    mut command: Command,
    client: &reqwest::Client,
    (request, again): (&Request, &Request),
    run: usize,
    log: &Path,
) -> (Duration, u64, Duration) {
    let port = free_port();
    command
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    let start = Instant::now();
    let child = Running(command.spawn().expect("spawn function"));
    let deadline = start + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "never listened: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let response = send(client, port, request, run)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("request");
    let elapsed = start.elapsed();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "{status}: {body}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss = rss_kib(child.0.id());
    let warm_start = Instant::now();
    let response = send(client, port, again, run + 100_000)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("second request");
    assert!(response.status().is_success(), "{}", response.status());
    (elapsed, rss, warm_start.elapsed())
}

fn pull_request_for_kubernetes(number: u64) -> Vec<u8> {
    let mut event: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json")).expect("json");
    let repo = json!({
        "name": "kubernetes", "full_name": "kubernetes/kubernetes",
        "owner": {"login": "kubernetes"},
        "html_url": "https://github.com/kubernetes/kubernetes",
    });
    for pointer in ["/repository", "/pull_request/base/repo"] {
        let target = event.pointer_mut(pointer).expect("repo object");
        for (key, value) in repo.as_object().into_iter().flatten() {
            target[key] = value.clone();
        }
    }
    event["number"] = json!(number);
    event["pull_request"]["number"] = json!(number);
    event["pull_request"]["user"]["login"] = json!("alice");
    event["pull_request"]["head"]["sha"] = json!(format!("{number:040x}"));
    serde_json::to_vec(&event).expect("json")
}

async fn fake_github() -> MockServer {
    let github = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ok(json!({"login": "prow-bot"})))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/orgs/[^/]+/members/"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/repos/[^/]+/[^/]+/git/ref/"))
        .respond_with(ok(json!({"ref": "refs/heads/master",
            "object": {"sha": "ab".repeat(20), "type": "commit"}})))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/repos/[^/]+/[^/]+/pulls/[0-9]+/files"))
        .respond_with(ok(json!([
            {"filename": "pkg/kubelet/kubelet.go", "status": "modified"},
            {"filename": "test/e2e/node/pods.go", "status": "modified"}
        ])))
        .mount(&github)
        .await;
    github
}

/// A CloudEvent sink that accepts everything, standing in for the broker.
async fn sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::ACCEPTED });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn main() {
    // `cargo test` also runs harness=false benches; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    prow_kube::install_crypto_provider();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(run());
}

fn prow_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PROW_BIN") {
        return PathBuf::from(path);
    }
    // This bench runs from <target>/release/deps/; `prow` is built beside it by bench/cold-start.sh.
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .map(|release| release.join("prow"))
        .expect("target dir")
}

async fn run() {
    let prow = prow_binary();
    assert!(
        prow.is_file(),
        "{} is missing: build it with `cargo build --release -p prow-cli` (bench/cold-start.sh does)",
        prow.display()
    );
    let hello = PathBuf::from(env!("CARGO_BIN_EXE_axum-hello"));
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);

    let dir = tempfile::tempdir().expect("tempdir");
    let root = prow_testdata::corpus().join("prow/test-infra/config");
    let yaml = prow_core::config::LoadOptions {
        config_path: root.join("prow/config.yaml"),
        job_config_path: Some(root.join("jobs")),
        plugin_config_path: Some(root.join("prow/plugins.yaml")),
    };
    let config = prow_core::config::load(&yaml)
        .expect("test-infra config")
        .config;
    let snapshot = dir.path().join("config.snapshot");
    let bytes = prow_core::config::snapshot::encode(&config).expect("snapshot");
    std::fs::write(&snapshot, &bytes).expect("write snapshot");
    let hmac_file = dir.path().join("hmac");
    std::fs::write(&hmac_file, HMAC_SECRET).expect("hmac");
    let token = dir.path().join("token");
    std::fs::write(&token, "bench-token").expect("token");
    let api = prow_kube::test_support::LocalApi::start()
        .await
        .expect("local api");
    let github = fake_github().await;
    let sink = sink().await;

    let env = |pairs: &[(&str, &Path)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect()
    };
    let common = |mode: &'static str| -> Vec<(String, String)> {
        let mut vars = vec![
            ("KUBE_URL".to_string(), api.url.clone()),
            ("GITHUB_ENDPOINT".to_string(), github.uri()),
            ("GITHUB_TOKEN_PATH".to_string(), token.display().to_string()),
            (
                "ARTIFACTS_DIR".to_string(),
                dir.path().join("artifacts").display().to_string(),
            ),
        ];
        vars.extend(if mode == "snapshot" {
            env(&[("CONFIG_PATH", &snapshot)])
        } else {
            env(&[
                ("CONFIG_PATH", &yaml.config_path),
                (
                    "JOB_CONFIG_PATH",
                    yaml.job_config_path.as_deref().expect("jobs"),
                ),
                (
                    "PLUGIN_CONFIG",
                    yaml.plugin_config_path.as_deref().expect("plugins"),
                ),
            ])
        });
        vars
    };
    let mut cases = vec![Case {
        function: "hook",
        mode: "-",
        env: vec![
            ("HMAC_SECRET_FILE".into(), hmac_file.display().to_string()),
            ("K_SINK".into(), sink.clone()),
        ],
    }];
    for function in ["trigger", "plank", "crier", "sinker", "horologium", "deck"] {
        for mode in ["snapshot", "yaml"] {
            cases.push(Case {
                function,
                mode,
                env: common(mode),
            });
        }
    }

    let client = reqwest::Client::new();
    let log = dir.path().join("function.log");
    let measure = |bin: PathBuf,
                   args: Vec<String>,
                   env: Vec<(String, String)>,
                   request: Request,
                   runs: usize,
                   offset: usize| {
        let client = client.clone();
        let log = log.clone();
        async move {
            let mut sample = Sample::default();
            for run in 0..runs {
                let mut command = Command::new(&bin);
                command.args(&args).envs(env.iter().cloned());
                // Each pull request is new (number and head SHA), so each one creates its jobs.
                let fresh = |n: usize| match &request {
                    Request::PullRequestEvent { .. } => Request::PullRequestEvent {
                        body: pull_request_for_kubernetes(n as u64),
                    },
                    other => other.clone(),
                };
                let (first, again) = (fresh(1000 + offset + run), fresh(500_000 + offset + run));
                let (elapsed, rss, warm) =
                    cold_start(command, &client, (&first, &again), offset + run, &log).await;
                sample.elapsed.push(elapsed);
                sample.warm.push(warm);
                sample.rss_kib.push(rss);
            }
            sample
        }
    };

    println!(
        "cold start: process spawn -> first 200, median of {rounds} runs ({} for YAML); Kubernetes' test-infra config ({} jobs); snapshot {} bytes",
        rounds.div_ceil(3).max(1),
        config.summary().presubmits + config.summary().postsubmits + config.summary().periodics,
        bytes.len()
    );
    let baseline = measure(hello.clone(), vec![], vec![], Request::Healthz, rounds, 0).await;
    let base = median(&baseline.elapsed);
    println!(
        "{:<11} {:<9} {:>12} {:>6} {:>22} {:>6} {:>18} {:>9}",
        "function",
        "config",
        "/healthz ms",
        "ratio",
        "first real request ms",
        "ratio",
        "same request warm",
        "idle RSS"
    );
    println!(
        "{:<11} {:<9} {:>12.2} {:>6} {:>22} {:>6} {:>18} {:>6.1} MB",
        "axum-hello",
        "-",
        base.as_secs_f64() * 1e3,
        "1.0",
        "-",
        "-",
        format!("{:.2}", median(&baseline.warm).as_secs_f64() * 1e3),
        median(&baseline.rss_kib) as f64 / 1024.0
    );
    let mut offset = 0;
    let mut deck_sees = None;
    for case in &cases {
        let runs = if case.mode == "yaml" {
            rounds.div_ceil(3).max(1)
        } else {
            rounds
        };
        let args = vec!["serve".to_string(), case.function.to_string()];
        if case.function == "deck" && deck_sees.is_none() {
            deck_sees = Some(prowjob_count(&client, &api.url).await);
        }
        let health = measure(
            prow.clone(),
            args.clone(),
            case.env.clone(),
            Request::Healthz,
            runs,
            offset,
        )
        .await;
        offset += runs;
        let real = match case.function {
            "hook" => Some(Request::Webhook {
                body: prow_testdata::webhook("pull_request.opened.json"),
            }),
            "trigger" => Some(Request::PullRequestEvent { body: Vec::new() }),
            _ => None,
        };
        let real = match real {
            Some(request) => {
                let sample =
                    measure(prow.clone(), args, case.env.clone(), request, runs, offset).await;
                offset += runs;
                Some((median(&sample.elapsed), median(&sample.warm)))
            }
            None => None,
        };
        let health_ms = median(&health.elapsed);
        let ratio = |d: Duration| format!("{:.1}", d.as_secs_f64() / base.as_secs_f64());
        println!(
            "{:<11} {:<9} {:>12.2} {:>6} {:>22} {:>6} {:>18} {:>6.1} MB",
            case.function,
            case.mode,
            health_ms.as_secs_f64() * 1e3,
            ratio(health_ms),
            real.map_or("-".into(), |(d, _)| format!("{:.2}", d.as_secs_f64() * 1e3)),
            real.map_or("-".into(), |(d, _)| ratio(d)),
            real.map_or("-".into(), |(_, w)| format!("{:.2}", w.as_secs_f64() * 1e3)),
            median(&health.rss_kib) as f64 / 1024.0
        );
    }
    if let Some(count) = deck_sees {
        println!(
            "deck's idle RSS includes its index of the {count} ProwJobs trigger's runs left in the API server"
        );
    }
}

async fn prowjob_count(client: &reqwest::Client, api: &str) -> usize {
    let list: Value = client
        .get(format!("{api}/apis/prow.k8s.io/v1/prowjobs"))
        .send()
        .await
        .expect("list prowjobs")
        .json()
        .await
        .expect("prowjob list");
    list["items"].as_array().map_or(0, Vec::len)
}
