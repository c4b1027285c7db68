//! Per-event pool update vs a full resync, with 1,000 open PRs across 50 repositories, and the
//! GitHub API calls each costs. The index lives in ConfigMaps and the ProwJobs (2 per PR) in
//! the embedded API server over HTTP, as under `prow up`; GitHub is the in-process dry-run
//! client (no network latency, so the times are tide's own work and the call counts are what
//! a real GitHub would be asked). Run: `cargo bench -p prow-tide --bench pool_update`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use prow_core::prowjob::{ProwJob, ProwJobSpec, ProwJobState, ProwJobType, Pull, Refs};
use prow_github::{DryRunGitHub, GitHub, IssueSearchItem, PullRequest};
use prow_tide::index::{Context, ContextState, Observation};
use prow_tide::{TideState, shell};

const REPOS: usize = 50;
const PRS_PER_REPO: usize = 20;
const EVENTS: usize = 400;

fn repo(i: usize) -> String {
    format!("repo-{i:02}")
}

fn config_yaml() -> String {
    let mut yaml = String::from(
        "prowjob_namespace: default\ntide:\n  queries:\n  - orgs: [bench]\n    labels: [lgtm, approved]\n    missingLabels: [do-not-merge/hold]\npresubmits:\n",
    );
    for r in 0..REPOS {
        yaml.push_str(&format!("  bench/{}:\n", repo(r)));
        for job in ["unit", "lint"] {
            yaml.push_str(&format!(
                "  - name: {job}\n    always_run: true\n    spec:\n      containers:\n      - image: alpine:3\n"
            ));
        }
    }
    yaml
}

fn pull_request(r: usize, n: usize) -> PullRequest {
    serde_json::from_value(serde_json::json!({
        "number": n, "state": "open", "title": format!("PR {n}"), "user": {"login": "alice"},
        "head": {"ref": format!("b{n}"), "sha": format!("{r:02}{n:038}")},
        "base": {"ref": "main", "sha": "base"}, "html_url": "",
        // Most open PRs wait for review: in scope (statuses), not in the pool.
        "labels": [{"name": "lgtm"}], "mergeable": true
    }))
    .unwrap()
}

fn prowjob(r: usize, n: usize, job: &str) -> ProwJob {
    let mut refs = Refs::new("bench", repo(r));
    refs.base_ref = "main".into();
    refs.base_sha = "base".into();
    refs.pulls = vec![Pull::new(n as u64, "alice", format!("{r:02}{n:038}"))];
    let spec = ProwJobSpec {
        type_: ProwJobType::Presubmit,
        job: job.into(),
        context: job.into(),
        report: true,
        refs: Some(refs),
        ..ProwJobSpec::default()
    };
    let labels =
        prow_core::jobspec::labels_and_annotations(&spec, &Default::default(), &Default::default());
    let mut pj = ProwJob::new(
        prow_core::naming::prowjob_name(&[&repo(r), &n.to_string(), job]),
        spec,
    );
    pj.metadata.labels = Some(labels.labels);
    pj.status.state = ProwJobState::Success;
    pj
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let api = prow_kube::test_support::LocalApi::start().await.unwrap();
    let client = api.client().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, config_yaml()).unwrap();
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path,
        job_config_path: None,
        plugin_config_path: None,
    })
    .unwrap()
    .config;

    let scope = "is:pr state:open archived:false org:\"bench\"";
    let mut dry = DryRunGitHub::new();
    let mut hits = Vec::new();
    for r in 0..REPOS {
        dry = dry.with_ref("bench", &repo(r), "heads/main", "base");
        for n in 1..=PRS_PER_REPO {
            dry = dry.with_pull_request("bench", &repo(r), pull_request(r, n));
            hits.push(IssueSearchItem {
                number: n as u64,
                repository_url: format!("https://api.github.com/repos/bench/{}", repo(r)),
                pull_request: Some(Default::default()),
                ..IssueSearchItem::default()
            });
        }
    }
    let dry = Arc::new(dry.with_search_results(scope, hits));
    let github: Arc<dyn GitHub> = dry.clone();
    let state =
        TideState::new(Arc::new(config), client.clone(), github).with_merge_backoff(Duration::ZERO);

    let prowjobs = prow_kube::ProwJobs::new(client, "default");
    for r in 0..REPOS {
        for n in 1..=PRS_PER_REPO {
            for job in ["unit", "lint"] {
                prowjobs.create(&prowjob(r, n, job)).await.unwrap();
            }
        }
    }

    // Full resyncs (what Prow's loop does every sync_period); the first one builds the indexes.
    let mut resyncs = Vec::new();
    let mut resync_calls = 0;
    for _ in 0..3 {
        let before = dry.calls().len();
        let start = Instant::now();
        let repos = shell::resync(&state).await.unwrap();
        resyncs.push(start.elapsed());
        resync_calls = dry.calls().len() - before;
        assert_eq!(repos, REPOS);
    }
    resyncs.sort();
    let resync = resyncs[1];

    // Per-event updates: a commit status on one PR (alternating, so every event changes it).
    let mut times = Vec::with_capacity(EVENTS);
    let before = dry.calls().len();
    for i in 0..EVENTS {
        let r = (i * 7) % REPOS;
        let n = (i * 13) % PRS_PER_REPO + 1;
        let state_of = if (i / REPOS).is_multiple_of(2) {
            ContextState::Pending
        } else {
            ContextState::Success
        };
        let observation = Observation::Context {
            sha: format!("{r:02}{n:038}"),
            name: "external-ci".into(),
            context: Context {
                state: state_of,
                description: String::new(),
            },
        };
        let start = Instant::now();
        shell::sync_repo(&state, "bench", &repo(r), |index| {
            index.observe(&observation)
        })
        .await
        .unwrap();
        times.push(start.elapsed());
    }
    let event_calls = dry.calls().len() - before;

    // The API server's share: a fresh read and a conditional write of one index, nothing
    // decided (what every event paid before indexes were kept decoded between events).
    let mut round_trips = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let r = (i * 7) % REPOS;
        let start = Instant::now();
        let read = state.store.load_fresh("bench", &repo(r)).await.unwrap();
        let saved = state
            .store
            .save(&read.index, read.version.as_deref())
            .await
            .unwrap();
        round_trips.push(start.elapsed());
        assert_eq!(saved, prow_tide::store::Saved::Written);
    }
    round_trips.sort();
    times.sort();
    let p50 = percentile(&times, 0.5);
    let p99 = percentile(&times, 0.99);
    let per_event_calls = event_calls as f64 / EVENTS as f64;

    println!(
        "tide pool update: {} PRs across {REPOS} repos, {} ProwJobs",
        REPOS * PRS_PER_REPO,
        REPOS * PRS_PER_REPO * 2
    );
    println!(
        "  per-event update (index change written to its ConfigMap, pool decided): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {EVENTS} events",
        ms(p50),
        ms(p99),
        ms(times[times.len() - 1])
    );
    println!(
        "  ConfigMap read + write alone (API server over HTTP): p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&round_trips, 0.5)),
        ms(percentile(&round_trips, 0.99))
    );
    println!(
        "  full resync of the same pools (median of 3): {:.1} ms",
        ms(resync)
    );
    println!(
        "  ratio resync / per-event p50: {:.0}x",
        ms(resync) / ms(p50)
    );
    println!(
        "  GitHub calls: {resync_calls} per full resync; {per_event_calls:.2} per event (tide status writes)"
    );
    let polling = resync_calls * 60;
    for rate in [1_000usize, 10_000] {
        let evented = (per_event_calls * rate as f64) as usize + resync_calls;
        println!(
            "  GitHub calls per hour at {rate} events/h: {evented} (events + hourly resync) vs {polling} polling every minute ({:.0}x fewer)",
            polling as f64 / evented as f64
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
