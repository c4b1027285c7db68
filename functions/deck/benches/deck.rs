//! Deck with 100k ProwJobs in the embedded API server: time to first byte and to the last byte
//! of `/` and `/prowjobs.js?repo=...`, against a static file of the same size served over HTTP
//! by the same stack (tower-http `ServeFile`). Prints the figures and their ratios.
//!
//! The ProwJobs come from a minimal API server in this bench (list pages by `limit`/`continue`,
//! a quiet watch, GET by name) that renders job `i` on demand: storing 100k objects in the
//! embedded API server takes minutes and its paged lists re-read the whole store per page, which
//! would measure that server, not Deck.
//!
//! Then the idle RSS of the deck binary in its own process (not this one, which holds the API
//! server and a second Deck), with no jobs and with all of them. Figures and where the bytes
//! are: functions/deck/README.md (100k jobs, 5 000 PRs: 26.3 MB, of it 14.1 MB mapped binary).
//!
//! `cargo bench -p prow-deck --bench deck` (DECK_BENCH_JOBS=<n> to change the count;
//! DECK_BENCH_PULLS=per-run gives every run its own PR author and title;
//! DECK_BENCH_API_ONLY=1 only serves the ProwJobs, to profile a deck binary against them).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_core::config::Config;
use prow_core::prowjob::{DecorationConfig, ProwJob, ProwJobState, ProwJobType, Pull, Refs};
use prow_deck::{DeckOptions, DeckState};

const ROUNDS: usize = 15;

/// A run shaped like Kubernetes' decorated presubmits as trigger and plank leave them: the
/// labels and annotations Prow computes, a pod spec with resources and env, the decoration
/// config, and a finished status with its URL (what makes a real ProwJob ~5-40 KB).
fn job(i: usize) -> ProwJob {
    let repo = format!("repo-{}", i % 50);
    let number = (i % 5000) as u64 + 1;
    let job_name = format!("pull-{repo}-unit-{}", i % 7);
    let mut refs = Refs::new("acme", &repo);
    refs.base_ref = "main".into();
    refs.base_sha = "89abcdef0123456789abcdef0123456789abcdef".into();
    refs.repo_link = format!("https://github.com/acme/{repo}");
    refs.base_link = format!("https://github.com/acme/{repo}/commit/89abcdef0123");
    // A PR's author and title are the PR's: every run of it carries the same ones. The first
    // version of this bench gave each run its own (DECK_BENCH_PULLS=per-run still does), which
    // makes every run's refs distinct as no real Prow's are.
    let (author, title) = if per_run_pulls() {
        (i % 300, i)
    } else {
        (number as usize % 300, number as usize)
    };
    let mut pull = Pull::new(
        number,
        format!("user{author}"),
        "0123456789abcdef0123456789abcdef01234567",
    );
    pull.title = format!("Change number {title}");
    pull.link = format!("https://github.com/acme/{repo}/pull/{number}");
    pull.commit_link = format!("https://github.com/acme/{repo}/pull/{number}/commits/0123456789ab");
    pull.author_link = format!("https://github.com/user{author}");
    refs.pulls.push(pull);
    let states = [
        ProwJobState::Success,
        ProwJobState::Failure,
        ProwJobState::Pending,
        ProwJobState::Success,
    ];
    let build_id = format!("{}", 1_800_000_000_000_000_000u64 + i as u64);
    let name = job_name_of(i);
    let pod_spec: PodSpec = serde_json::from_value(serde_json::json!({
        "containers": [{
            "name": "test",
            "image": "gcr.io/k8s-staging-test-infra/kubekins-e2e:v20261201-1234567-master",
            "command": ["runner.sh"],
            "args": ["make", "test", "KUBE_TIMEOUT=--timeout=600s", "KUBE_RACE=-race"],
            "env": [
                {"name": "GOFLAGS", "value": "-mod=mod"},
                {"name": "KUBE_INTEGRATION_TEST_MAX_CONCURRENCY", "value": "4"},
                {"name": "LOG_LEVEL", "value": "4"},
                {"name": "GO111MODULE", "value": "on"}
            ],
            "resources": {
                "requests": {"cpu": "4", "memory": "36Gi"},
                "limits": {"cpu": "4", "memory": "36Gi"}
            },
            "securityContext": {"privileged": false}
        }],
        "nodeSelector": {"cloud.google.com/gke-nodepool": "pool5"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "pool5", "effect": "NoSchedule"}]
    }))
    .unwrap();
    let decoration: DecorationConfig = serde_json::from_value(serde_json::json!({
        "timeout": "2h0m0s",
        "grace_period": "15m0s",
        "utility_images": {
            "clonerefs": "us-docker.pkg.dev/k8s-infra-prow/images/clonerefs:v20261201-abcdef0",
            "initupload": "us-docker.pkg.dev/k8s-infra-prow/images/initupload:v20261201-abcdef0",
            "entrypoint": "us-docker.pkg.dev/k8s-infra-prow/images/entrypoint:v20261201-abcdef0",
            "sidecar": "us-docker.pkg.dev/k8s-infra-prow/images/sidecar:v20261201-abcdef0"
        },
        "resources": {
            "clonerefs": {"requests": {"cpu": "100m"}},
            "initupload": {"requests": {"cpu": "100m"}},
            "place_entrypoint": {"requests": {"cpu": "100m"}},
            "sidecar": {"requests": {"cpu": "100m"}}
        },
        "gcs_configuration": {
            "bucket": "kubernetes-ci-logs",
            "path_strategy": "legacy",
            "default_org": "kubernetes",
            "default_repo": "kubernetes"
        },
        "gcs_credentials_secret": "gcs-credentials"
    }))
    .unwrap();
    let mut pj = ProwJob::builder(job_name.clone(), ProwJobType::Presubmit)
        .name(name.clone())
        .namespace("default")
        .label("created-by-prow", "true")
        .label("prow.k8s.io/type", "presubmit")
        .label("prow.k8s.io/job", &job_name)
        .label("prow.k8s.io/refs.org", "acme")
        .label("prow.k8s.io/refs.repo", &repo)
        .label("prow.k8s.io/refs.base_ref", "main")
        .label("prow.k8s.io/refs.pull", number.to_string())
        .label("prow.k8s.io/context", "unit")
        .label("prow.k8s.io/build-id", &build_id)
        .label("prow.k8s.io/id", &name)
        .label(
            "event-GUID",
            format!("5a1c0de0-{i:08}-11ef-8f0e-6e1c2a0b0c0d"),
        )
        .label("prow.k8s.io/is-optional", "false")
        .annotation("prow.k8s.io/job", &job_name)
        .annotation("prow.k8s.io/context", "unit")
        .annotation("testgrid-dashboards", "sig-testing-acme")
        .refs(refs)
        .context("unit")
        .pod_spec(pod_spec)
        .started_at(Time(
            Timestamp::from_second(1_700_000_000 + i as i64).unwrap(),
        ))
        .state(states[i % 4])
        .build_id(build_id.clone())
        .build();
    pj.spec.decoration_config = Some(decoration);
    pj.metadata.creation_timestamp = pj.status.start_time.clone();
    // The pod starts within a minute of its job, and a finished run took 5 to 55 minutes.
    let started = 1_700_000_000 + i as i64;
    let pending = started + 5 + (i % 50) as i64;
    pj.status.pending_time = Some(Time(Timestamp::from_second(pending).unwrap()));
    if pj.status.state != ProwJobState::Pending {
        pj.status.completion_time = Some(Time(
            Timestamp::from_second(pending + 300 + (i % 3000) as i64).unwrap(),
        ));
    }
    pj.metadata.uid = Some(format!("{i:032x}"));
    pj.spec.rerun_command = "/test unit".into();
    pj.status.pod_name = name.clone();
    pj.status.description = "Job succeeded.".into();
    pj.status.url = format!(
        "https://prow.example.com/view/gs/kubernetes-ci-logs/pr-logs/pull/acme_{repo}/{number}/{job_name}/{build_id}"
    );
    pj
}

fn per_run_pulls() -> bool {
    static PER_RUN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PER_RUN.get_or_init(|| std::env::var("DECK_BENCH_PULLS").is_ok_and(|v| v == "per-run"))
}

/// (time to first byte, time to last byte, bytes) of one GET.
async fn fetch(client: &reqwest::Client, url: &str) -> (Duration, Duration, usize) {
    let start = Instant::now();
    let response = client.get(url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let ttfb = start.elapsed();
    let body = response.bytes().await.unwrap();
    (ttfb, start.elapsed(), body.len())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(client: &reqwest::Client, url: &str) -> (Duration, Duration, usize) {
    fetch(client, url).await; // warm-up
    let mut ttfb = Vec::new();
    let mut full = Vec::new();
    let mut size = 0;
    for _ in 0..ROUNDS {
        let (t, f, n) = fetch(client, url).await;
        ttfb.push(t);
        full.push(f);
        size = n;
    }
    (median(ttfb), median(full), size)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prow names ProwJobs with UUIDs; job `i`'s is `i` under a fixed prefix.
const NAME_BASE: u128 = 0x5a1c_0de0_0000_4000_8000_0000_0000_0000;

fn job_name_of(i: usize) -> String {
    uuid::Uuid::from_u128(NAME_BASE + i as u128)
        .hyphenated()
        .to_string()
}

fn index_of(name: &str) -> Option<usize> {
    let n = uuid::Uuid::parse_str(name).ok()?.as_u128();
    usize::try_from(n.checked_sub(NAME_BASE)?).ok()
}

#[derive(Debug, serde::Deserialize)]
struct ListParams {
    limit: Option<usize>,
    #[serde(rename = "continue")]
    continue_: Option<String>,
    watch: Option<bool>,
    #[serde(rename = "timeoutSeconds")]
    timeout_seconds: Option<u64>,
}

/// The API server Deck talks to in this bench: ProwJobs `0..n` of namespace `default`.
async fn api_server(n: usize) -> String {
    use axum::extract::{Path, Query};
    use axum::response::IntoResponse;
    let list = move |Query(q): Query<ListParams>| async move {
        if q.watch == Some(true) {
            // Nothing changes: the watch stays open, quiet, until its timeout.
            let wait = Duration::from_secs(q.timeout_seconds.unwrap_or(300));
            let body = futures::stream::once(async move {
                tokio::time::sleep(wait).await;
                Ok::<_, std::convert::Infallible>(axum::body::Bytes::new())
            });
            return axum::body::Body::from_stream(body).into_response();
        }
        let from: usize = q.continue_.and_then(|c| c.parse().ok()).unwrap_or(0);
        let to = q.limit.filter(|l| *l > 0).map_or(n, |l| (from + l).min(n));
        let items: Vec<serde_json::Value> = (from..to)
            .map(|i| {
                let mut v = serde_json::to_value(job(i)).unwrap();
                v["metadata"]["resourceVersion"] = serde_json::json!("1");
                v
            })
            .collect();
        let mut metadata = serde_json::json!({"resourceVersion": "1"});
        if to < n {
            metadata["continue"] = serde_json::json!(to.to_string());
            metadata["remainingItemCount"] = serde_json::json!(n - to);
        }
        axum::Json(serde_json::json!({
            "apiVersion": "prow.k8s.io/v1", "kind": "ProwJobList",
            "metadata": metadata, "items": items
        }))
        .into_response()
    };
    let get = move |Path(name): Path<String>| async move {
        match index_of(&name).filter(|i| *i < n) {
            Some(i) => axum::Json(serde_json::to_value(job(i)).unwrap()).into_response(),
            None => (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404,
                    "message": format!("prowjobs.prow.k8s.io \"{name}\" not found")
                })),
            )
                .into_response(),
        }
    };
    let app = axum::Router::new()
        .route(
            "/apis/prow.k8s.io/v1/namespaces/default/prowjobs",
            axum::routing::get(list),
        )
        .route(
            "/apis/prow.k8s.io/v1/namespaces/default/prowjobs/{name}",
            axum::routing::get(get),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    url
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("DECK_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let api = api_server(n).await;
    if std::env::var_os("DECK_BENCH_API_ONLY").is_some() {
        // For profiling the deck binary by hand (heaptrack, valgrind) against these jobs.
        println!("serving {n} ProwJobs at {api}");
        std::future::pending::<()>().await;
    }
    let started = Instant::now();
    let state = DeckState::new(
        Arc::new(Config::default()),
        prow_kube::client_for_url(&api).unwrap(),
        "default",
        None,
        None,
        DeckOptions::default(),
    );
    assert!(state.index.wait_synced(Duration::from_secs(600)).await);
    println!(
        "cold start: index of {} jobs synced in {:.2}s (paged list + decode, once per instance)",
        state.index.len(),
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let deck = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, prow_deck::router(state)).into_future());

    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("/ (first page, 100 rows)", "/".to_owned()),
        (
            "/?repo=acme/repo-7&state=failure",
            "/?repo=acme/repo-7&state=failure".to_owned(),
        ),
        ("/?page=900 (deep page)", "/?page=900".to_owned()),
        (
            "/prowjobs.js?repo=acme/repo-7 (full)",
            "/prowjobs.js?repo=acme/repo-7".to_owned(),
        ),
        (
            "/prowjobs.js?repo=acme/repo-7 (UI omit)",
            "/prowjobs.js?repo=acme/repo-7&omit=annotations,labels,decoration_config,pod_spec"
                .to_owned(),
        ),
    ];
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "endpoint", "bytes", "ttfb ms", "full ms", "static ttfb", "static full", "ttfb x", "full x"
    );
    for (label, path) in cases {
        let (ttfb, full, size) = measure(&client, &format!("{deck}{path}")).await;
        // The same number of bytes from a file, served by tower-http on the same runtime.
        let file = dir.path().join("static.bin");
        std::fs::write(&file, vec![b'x'; size]).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let static_url = format!("http://{}/", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback_service(tower_http::services::ServeFile::new(file));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let (s_ttfb, s_full, _) = measure(&client, &static_url).await;
        server.abort();
        println!(
            "{label:<40} {size:>10} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>8.1} {:>8.1}",
            ms(ttfb),
            ms(full),
            ms(s_ttfb),
            ms(s_full),
            ttfb.as_secs_f64() / s_ttfb.as_secs_f64(),
            full.as_secs_f64() / s_full.as_secs_f64()
        );
    }

    // Memory as Knative sees it: the real deck binary, its own process, watching the same API
    // server; resident set size once the index is synced and the process is idle.
    let empty = api_server(0).await;
    let idle_empty = deck_rss(&empty, 0, dir.path()).await;
    let idle_full = deck_rss(&api, n, dir.path()).await;
    for (what, rss) in [
        ("no jobs", idle_empty),
        (&format!("{n} jobs")[..], idle_full),
    ] {
        println!(
            "deck binary idle RSS with {what}: {:.1} MB (anonymous {:.1} MB, mapped from files {:.1} MB)",
            mb(rss.total),
            mb(rss.anon),
            mb(rss.file)
        );
    }
    println!(
        "per job: {:.0} bytes of RSS, {:.0} bytes anonymous",
        (idle_full.total.saturating_sub(idle_empty.total)) as f64 / n.max(1) as f64,
        (idle_full.anon.saturating_sub(idle_empty.anon)) as f64 / n.max(1) as f64
    );
}

/// A process's resident set, from `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy)]
struct Rss {
    total: u64,
    /// Heap and stacks: what Deck's data costs.
    anon: u64,
    /// The binary's and libraries' pages read from the page cache (shared, reclaimable).
    file: u64,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Starts the deck binary against `kube_url`, waits until its index holds `jobs` ProwJobs, lets
/// it settle, and returns its resident set.
async fn deck_rss(kube_url: &str, jobs: usize, dir: &std::path::Path) -> Rss {
    let config = dir.join("config.yaml");
    std::fs::write(&config, "prowjob_namespace: default\n").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_prow-deck"))
        .arg("--config-path")
        .arg(&config)
        .arg("--kube-url")
        .arg(kube_url)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let wanted = format!("deck_indexed_prowjobs {jobs}");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(Instant::now() < deadline, "deck never indexed {jobs} jobs");
        if let Ok(response) = client.get(&metrics).send().await
            && let Ok(text) = response.text().await
            && text.lines().any(|l| l == wanted)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = child.id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |field: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    let rss = Rss {
        total: kb("VmRSS:"),
        anon: kb("RssAnon:"),
        file: kb("RssFile:") + kb("RssShmem:"),
    };
    child.kill().await.unwrap();
    rss
}
