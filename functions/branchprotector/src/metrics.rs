//! Prometheus metrics of branchprotector: ticks by outcome, branches checked, and what became
//! of each branch.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::TickCounter;

/// What became of one branch on a tick.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum BranchResult {
    Unchanged,
    Updated,
    Removed,
    /// Left alone by the config (unmanaged, no policy, already unprotected).
    Skipped,
    /// A change over the tick's budget, left for the next tick.
    Deferred,
    /// `--dry-run`: the change was logged, not made.
    DryRun,
    Failed,
}

impl BranchResult {
    pub fn as_str(self) -> &'static str {
        match self {
            BranchResult::Unchanged => "unchanged",
            BranchResult::Updated => "updated",
            BranchResult::Removed => "removed",
            BranchResult::Skipped => "skipped",
            BranchResult::Deferred => "deferred",
            BranchResult::DryRun => "dry_run",
            BranchResult::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BranchLabels {
    result: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) ticks: TickCounter,
    checked: Counter,
    branches: Family<BranchLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let ticks = TickCounter::register(&mut registry, "branchprotector_ticks");
        let checked = Counter::default();
        registry.register(
            "branchprotector_branches_checked",
            "Branches whose protection was compared with their policy",
            checked.clone(),
        );
        let branches = Family::<BranchLabels, Counter>::default();
        registry.register(
            "branchprotector_branches",
            "Branches by what a tick did about them",
            branches.clone(),
        );
        Self {
            registry,
            ticks,
            checked,
            branches,
        }
    }
}

impl Metrics {
    pub fn checked(&self) {
        self.checked.inc();
    }

    pub fn branch(&self, result: BranchResult) {
        self.branches
            .get_or_create(&BranchLabels {
                result: result.as_str(),
            })
            .inc();
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
    fn rendered_text_counts_checked_branches_and_results() {
        let metrics = Metrics::default();
        metrics.ticks.observe(true);
        metrics.checked();
        metrics.checked();
        metrics.branch(BranchResult::Updated);
        metrics.branch(BranchResult::Failed);
        let text = metrics.render().unwrap();
        for line in [
            "branchprotector_ticks_total{outcome=\"ok\"} 1",
            "branchprotector_branches_checked_total 2",
            "branchprotector_branches_total{result=\"updated\"} 1",
            "branchprotector_branches_total{result=\"failed\"} 1",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
