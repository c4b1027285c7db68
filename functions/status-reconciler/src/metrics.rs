//! Prometheus metrics of status-reconciler: ticks by outcome, what was done on PRs, and how
//! repos' reconciles ended.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::TickCounter;

/// Something done (or, on `--dry-run`, only planned) on a PR.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Done {
    /// A ProwJob created for a newly required presubmit.
    Triggered,
    /// A context set to success as retired.
    Retired,
    /// A context's status copied to its new name.
    Copied,
}

impl Done {
    fn as_str(self) -> &'static str {
        match self {
            Done::Triggered => "triggered",
            Done::Retired => "retired",
            Done::Copied => "copied",
        }
    }
}

/// How one repo's reconcile ended on a tick.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum RepoResult {
    Done,
    /// Some PR failed; the repo is tried again on the next tick.
    Failed,
    /// The tick's budget ran out; the next tick goes on where this one stopped.
    Deferred,
}

impl RepoResult {
    fn as_str(self) -> &'static str {
        match self {
            RepoResult::Done => "done",
            RepoResult::Failed => "failed",
            RepoResult::Deferred => "deferred",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepoLabels {
    result: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) ticks: TickCounter,
    actions: Family<ActionLabels, Counter>,
    repos: Family<RepoLabels, Counter>,
    github_calls: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let ticks = TickCounter::register(&mut registry, "status_reconciler_ticks");
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "status_reconciler_actions",
            "ProwJobs created and statuses written on open PRs, by kind",
            actions.clone(),
        );
        let repos = Family::<RepoLabels, Counter>::default();
        registry.register(
            "status_reconciler_repos",
            "Repos with a config change to reconcile, by how a tick ended for them",
            repos.clone(),
        );
        let github_calls = Counter::default();
        registry.register(
            "status_reconciler_github_calls",
            "GitHub calls made by ticks (each tick spends at most --budget)",
            github_calls.clone(),
        );
        Self {
            registry,
            ticks,
            actions,
            repos,
            github_calls,
        }
    }
}

impl Metrics {
    pub fn done(&self, what: Done) {
        self.actions
            .get_or_create(&ActionLabels {
                action: what.as_str(),
            })
            .inc();
    }

    pub fn repo(&self, result: RepoResult) {
        self.repos
            .get_or_create(&RepoLabels {
                result: result.as_str(),
            })
            .inc();
    }

    pub fn github_calls(&self, n: usize) {
        self.github_calls.inc_by(n as u64);
    }

    /// OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rendered_text_counts_actions_repos_and_calls() {
        let metrics = Metrics::default();
        metrics.ticks.observe(true);
        metrics.done(Done::Triggered);
        metrics.done(Done::Retired);
        metrics.done(Done::Retired);
        metrics.repo(RepoResult::Deferred);
        metrics.github_calls(7);
        let text = metrics.render().unwrap();
        for line in [
            "status_reconciler_ticks_total{outcome=\"ok\"} 1",
            "status_reconciler_actions_total{action=\"triggered\"} 1",
            "status_reconciler_actions_total{action=\"retired\"} 2",
            "status_reconciler_repos_total{result=\"deferred\"} 1",
            "status_reconciler_github_calls_total 7",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
