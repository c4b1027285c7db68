//! Chaos: real-shaped signed `pull_request` webhooks (opened and synchronize, each PR its own
//! number and head SHA) are replayed through `prow up` while the whole process is SIGKILLed at
//! random points and restarted on the same state dir. A webhook not answered 2xx is sent again
//! to the next life, as GitHub's redelivery would. Afterwards exactly one ProwJob exists per
//! webhook, each is complete with its final status reported, and GitHub got each commit status
//! (context, state, description) exactly once per SHA: crier records its intent before posting
//! and, after a kill, reads the SHA's statuses before posting again, so the fake GitHub keeps
//! the statuses it was given and answers them back as the combined status.
//!
//! CI runs 300 webhooks and 6 kills (a few minutes on 2 cores); `PROW_CHAOS_EVENTS=1000
//! PROW_CHAOS_KILLS=8` is the full run. `PROW_CHAOS_SEED` replays a schedule (the seed is
//! printed first); kill points also depend on timing, so a seed replays the schedule, not the
//! exact interleaving. `PROW_CHAOS_LOG` sets `prow up`'s RUST_LOG (default `warn`).

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prow_core::prowjob::ProwJob;
use prow_kube::ProwJobs;
use serde_json::Value;

const SECRET: &[u8] = b"chaos-webhooks-secret";
/// Webhooks in flight at once, as GitHub sends them: concurrently, not one by one.
const SENDERS: usize = 8;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a seeded schedule without a dependency; statistical quality is not needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    let log = std::env::var("PROW_CHAOS_LOG").unwrap_or_else(|_| "warn".to_owned());
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
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(SECRET),
            // A thousand jobs at `info` would bury a failure's output; PROW_CHAOS_LOG overrides.
            log: Some(log.as_str()),
            ..common::UpOptions::default()
        },
    )
}

/// The webhooks still owed a 2xx, the current hook URL (`None` while `prow up` is down), and
/// how many sends did not get a 2xx.
struct Deliveries {
    owed: Mutex<VecDeque<u64>>,
    answered: Mutex<BTreeSet<u64>>,
    resent: std::sync::atomic::AtomicU64,
    hook: tokio::sync::watch::Sender<Option<String>>,
}

impl Deliveries {
    fn next(&self) -> Option<u64> {
        self.owed.lock().expect("owed").pop_front()
    }

    fn all_answered(&self, total: u64) -> bool {
        self.answered.lock().expect("answered").len() as u64 == total
    }
}

/// One sender: takes the next owed webhook, posts it to the live hook, and puts it back when the
/// answer is not 2xx (connection refused or reset by the kill, or an error status).
async fn send(deliveries: Arc<Deliveries>, bodies: Arc<Vec<Vec<u8>>>, total: u64) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let mut hook = deliveries.hook.subscribe();
    while !deliveries.all_answered(total) {
        let Some(n) = deliveries.next() else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let url = loop {
            if let Some(url) = hook.borrow_and_update().clone() {
                break url;
            }
            let _ = hook.changed().await;
        };
        let body = bodies[(n - 1) as usize].clone();
        let answer = http
            .post(&url)
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", format!("chaos-delivery-{n}"))
            .header("X-Hub-Signature-256", common::sign(SECRET, &body))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                deliveries.answered.lock().expect("answered").insert(n);
            }
            _ => {
                deliveries
                    .resent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                deliveries.owed.lock().expect("owed").push_back(n);
                // Wait for the next life rather than spin against a dead port.
                let _ = tokio::time::timeout(Duration::from_millis(500), hook.changed()).await;
            }
        }
    }
}

/// GitHub's commit statuses as a stateful fake: a POST sets the context's latest status, the
/// combined status answers the latest of each context, as GitHub does.
#[derive(Clone, Default)]
struct StatusBoard(Arc<Mutex<BTreeMap<String, BTreeMap<String, Value>>>>);

impl StatusBoard {
    fn sha(request: &wiremock::Request, marker: &str) -> String {
        let path = request.url.path();
        let after = path.split_once(marker).map(|(_, rest)| rest).unwrap_or("");
        after.split('/').next().unwrap_or("").to_owned()
    }

    async fn mount(&self, gh: &wiremock::MockServer) {
        use wiremock::matchers::{method, path_regex};
        wiremock::Mock::given(method("POST"))
            .and(path_regex(r"/statuses/[0-9a-f]{40}$"))
            .respond_with(self.clone())
            .with_priority(1)
            .mount(gh)
            .await;
        wiremock::Mock::given(method("GET"))
            .and(path_regex(r"/commits/[0-9a-f]{40}/status$"))
            .respond_with(self.clone())
            .with_priority(1)
            .mount(gh)
            .await;
    }
}

impl wiremock::Respond for StatusBoard {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let mut board = self.0.lock().expect("status board");
        if request.method == wiremock::http::Method::POST {
            let Ok(status) = serde_json::from_slice::<Value>(&request.body) else {
                return wiremock::ResponseTemplate::new(422);
            };
            let context = status["context"].as_str().unwrap_or_default().to_owned();
            board
                .entry(Self::sha(request, "/statuses/"))
                .or_default()
                .insert(context, status.clone());
            return wiremock::ResponseTemplate::new(201).set_body_json(status);
        }
        let sha = Self::sha(request, "/commits/");
        let statuses: Vec<Value> = board
            .get(&sha)
            .map(|by_context| by_context.values().cloned().collect())
            .unwrap_or_default();
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "state": "pending", "sha": sha, "total_count": statuses.len(), "statuses": statuses
        }))
    }
}

fn pull_number(pj: &ProwJob) -> Option<u64> {
    pj.spec
        .refs
        .as_ref()
        .and_then(|r| r.pulls.first())
        .map(|p| p.number)
}

async fn prowjobs(api: &str) -> Vec<ProwJob> {
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    jobs.list(None).await.unwrap_or_default()
}

/// Every commit status GitHub received: (sha, context, state, description) -> times posted.
async fn statuses(gh: &wiremock::MockServer) -> BTreeMap<(String, String, String, String), u64> {
    let mut counts = BTreeMap::new();
    for request in gh.received_requests().await.unwrap_or_default() {
        let path = request.url.path();
        let Some(sha) = path
            .split_once("/statuses/")
            .map(|(_, sha)| sha.to_owned())
            .filter(|_| request.method == wiremock::http::Method::POST)
        else {
            continue;
        };
        let body: Value = serde_json::from_slice(&request.body).expect("status body");
        let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        *counts
            .entry((sha, field("context"), field("state"), field("description")))
            .or_insert(0) += 1;
    }
    counts
}

/// The figures the run is judged by.
#[derive(Debug, Default, PartialEq, Eq)]
struct Figures {
    jobs: u64,
    lost: u64,
    duplicated: u64,
    not_final: u64,
    duplicate_reports: u64,
    unreported_final: u64,
}

fn figures(
    total: u64,
    jobs: &[ProwJob],
    reports: &BTreeMap<(String, String, String, String), u64>,
) -> Figures {
    let pulls: BTreeSet<u64> = jobs.iter().filter_map(pull_number).collect();
    let final_reported: BTreeSet<&str> = reports
        .keys()
        .filter(|(_, _, state, _)| state != "pending")
        .map(|(sha, _, _, _)| sha.as_str())
        .collect();
    let sha = |pj: &ProwJob| {
        pj.spec
            .refs
            .as_ref()
            .and_then(|r| r.pulls.first())
            .map(|p| p.sha.clone())
            .unwrap_or_default()
    };
    Figures {
        jobs: jobs.len() as u64,
        lost: (1..=total).filter(|n| !pulls.contains(n)).count() as u64,
        duplicated: jobs.len() as u64 - pulls.len() as u64,
        not_final: jobs.iter().filter(|pj| !pj.is_complete()).count() as u64,
        duplicate_reports: reports.values().map(|n| n - 1).sum(),
        unreported_final: jobs
            .iter()
            .filter(|pj| !final_reported.contains(sha(pj).as_str()))
            .count() as u64,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_survive_random_kill_9s_exactly_once() {
    prow_kube::install_crypto_provider();
    let total = env_u64("PROW_CHAOS_EVENTS", 300);
    let kills_planned = env_u64("PROW_CHAOS_KILLS", 6);
    let seed = env_u64(
        "PROW_CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    eprintln!(
        "chaos: seed {seed} (PROW_CHAOS_SEED={seed} replays the schedule), {total} webhooks, {kills_planned} kills"
    );
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = common::hello_github().await;
    StatusBoard::default().mount(&gh).await;

    let opened: Value = serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json"))
        .expect("opened json");
    let synchronize: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.synchronize.json"))
            .expect("synchronize json");
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (1..=total)
            .map(|n| {
                let template = if n % 2 == 1 { &opened } else { &synchronize };
                common::renumbered_webhook(template, n)
            })
            .collect(),
    );
    let deliveries = Arc::new(Deliveries {
        owed: Mutex::new((1..=total).collect()),
        answered: Mutex::new(BTreeSet::new()),
        resent: 0.into(),
        hook: tokio::sync::watch::channel(None).0,
    });
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        senders.spawn(send(deliveries.clone(), bodies.clone(), total));
    }

    // Lives: each runs for a random while, then the whole process is SIGKILLed. The last life
    // is left to finish the work.
    let started = Instant::now();
    let mut kills = 0;
    let (_up, api) = loop {
        let (mut up, endpoints) = tokio::task::block_in_place(|| start_up(dir.path(), &gh.uri()));
        let hook = endpoints["hook"].as_str().expect("hook url").to_owned();
        let api = endpoints["api"].as_str().expect("api url").to_owned();
        deliveries.hook.send_replace(Some(hook));
        if kills == kills_planned {
            break (up, api);
        }
        tokio::time::sleep(rng.millis(300, 4000)).await;
        deliveries.hook.send_replace(None);
        up.kill();
        kills += 1;
        eprintln!(
            "chaos: kill {kills} at {:.1}s, {} of {total} webhooks answered 2xx",
            started.elapsed().as_secs_f64(),
            deliveries.answered.lock().expect("answered").len()
        );
    };
    while let Some(sender) = senders.join_next().await {
        sender.expect("sender");
    }
    let answered_at = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(env_u64("PROW_CHAOS_DEADLINE_SECS", 600));
    let mut result = figures(total, &prowjobs(&api).await, &statuses(&gh).await);
    while (result.lost, result.not_final, result.unreported_final) != (0, 0, 0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        result = figures(total, &prowjobs(&api).await, &statuses(&gh).await);
        eprintln!(
            "chaos: waiting at {:.0}s: {result:?}",
            started.elapsed().as_secs_f64()
        );
    }
    // Anything still owed would arrive now: give duplicates a chance to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let jobs = prowjobs(&api).await;
    let reports = statuses(&gh).await;
    let result = figures(total, &jobs, &reports);
    let resent = deliveries.resent.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "chaos: seed {seed}: {total} events, {kills} kills, {resent} resends, all answered 2xx after {:.1}s, settled after {:.1}s; \
         {} ProwJobs, {} lost, {} duplicated, {} not final, {} status reports, {} duplicate reports, {} jobs without a final report",
        answered_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        result.jobs,
        result.lost,
        result.duplicated,
        result.not_final,
        reports.values().sum::<u64>(),
        result.duplicate_reports,
        result.unreported_final,
    );
    for ((sha, context, state, description), n) in reports.iter().filter(|(_, n)| **n > 1) {
        eprintln!("chaos: duplicate report x{n}: {sha} {context} {state} {description:?}");
    }
    assert_eq!(
        result,
        Figures {
            jobs: total,
            ..Figures::default()
        }
    );
}
