//! Trigger's decision time per event over Kubernetes' full Prow config (target: p99 < 1 ms):
//! decide on a `pull_request opened` for kubernetes/kubernetes, select presubmits against a
//! changed-file list, and build the ProwJobs. GitHub and the API server are not involved.
//! Run: `cargo bench -p prow-trigger --bench decide`.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_core::config::{LoadOptions, load};
use prow_core::selection::{Contexts, needs_changed_files, select_presubmits};
use prow_trigger::decide::{self, Action, JobContext, PrFacts};
use prow_trigger::payload::PullRequestEvent;

fn main() {
    let root = prow_testdata::corpus().join("prow/test-infra/config");
    let config = load(&LoadOptions {
        config_path: root.join("prow/config.yaml"),
        job_config_path: Some(root.join("jobs")),
        plugin_config_path: Some(root.join("prow/plugins.yaml")),
    })
    .unwrap()
    .config;
    let mut payload: serde_json::Value = serde_json::from_str(
        &String::from_utf8(prow_testdata::webhook("pull_request.opened.json")).unwrap(),
    )
    .unwrap();
    let kubernetes = serde_json::json!({
        "name": "kubernetes",
        "full_name": "kubernetes/kubernetes",
        "owner": {"login": "kubernetes"},
        "html_url": "https://github.com/kubernetes/kubernetes",
    });
    payload["repository"] = kubernetes.clone();
    payload["pull_request"]["base"]["repo"] = kubernetes;
    payload["pull_request"]["base"]["ref"] = "master".into();
    let ev: PullRequestEvent = serde_json::from_value(payload).unwrap();
    let presubmits = config.presubmits_for("kubernetes/kubernetes").unwrap();
    let trigger = config.plugins.trigger_for("kubernetes", "kubernetes");
    let facts = PrFacts {
        author_trusted: true,
        ..PrFacts::default()
    };
    let changed: Vec<String> = ["pkg/kubelet/kubelet.go", "test/e2e/node/pods.go", "go.mod"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let now = Time(Timestamp::from_second(1_800_000_000).unwrap());

    let mut samples = Vec::new();
    let mut created = 0;
    for i in 0..2000 {
        let id = format!("delivery-{i}");
        let start = Instant::now();
        for action in decide::decide_pull_request(&ev, &trigger, &facts) {
            let Action::Run(run) = action else { continue };
            let filters = run.filters(&Contexts::default());
            let files = needs_changed_files(&filters, "master", presubmits).then_some(&changed[..]);
            let selected = select_presubmits(&filters, "master", files, presubmits);
            let refs = decide::pr_refs(&ev.pull_request, &ev.repository, "base");
            let ctx = JobContext {
                delivery_id: &id,
                namespace: "default",
                now: now.clone(),
            };
            created = decide::presubmit_prowjobs(&selected, &refs, false, &ctx).len();
        }
        samples.push(start.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let show = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    println!(
        "trigger decision over {} kubernetes/kubernetes presubmits ({} ProwJobs per event): p50 {}, p99 {}, max {}",
        presubmits.len(),
        created,
        show(pct(0.50)),
        show(pct(0.99)),
        show(samples[samples.len() - 1]),
    );
}
