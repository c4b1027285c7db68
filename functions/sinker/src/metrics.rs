//! Prometheus metrics of sinker: deletions (and dry-run would-be deletions) by kind and reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::TickCounter;

use crate::decide::{Kind, Reason};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeletionLabels {
    kind: &'static str,
    /// Prow's sinker reasons: `aged`, `aged-periodic`, `ttled`, `orphaned`.
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) ticks: TickCounter,
    deleted: Family<DeletionLabels, Counter>,
    dry_run: Family<DeletionLabels, Counter>,
    errors: Family<KindLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let ticks = TickCounter::register(&mut registry, "sinker_ticks");
        let deleted = Family::<DeletionLabels, Counter>::default();
        registry.register(
            "sinker_deletions",
            "ProwJobs and pods deleted, by kind and reason",
            deleted.clone(),
        );
        let dry_run = Family::<DeletionLabels, Counter>::default();
        registry.register(
            "sinker_dry_run_deletions",
            "Deletions --dry-run logged instead of doing, by kind and reason",
            dry_run.clone(),
        );
        let errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "sinker_deletion_errors",
            "Deletions the API server refused, by kind",
            errors.clone(),
        );
        Self {
            registry,
            ticks,
            deleted,
            dry_run,
            errors,
        }
    }
}

impl Metrics {
    pub fn deleted(&self, reason: Reason) {
        self.deleted.get_or_create(&labels(reason)).inc();
    }

    pub fn dry_run(&self, reason: Reason) {
        self.dry_run.get_or_create(&labels(reason)).inc();
    }

    pub fn error(&self, kind: Kind) {
        self.errors
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}

fn labels(reason: Reason) -> DeletionLabels {
    DeletionLabels {
        kind: reason.kind().as_str(),
        reason: reason.as_str(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deletions_and_dry_runs_are_counted_by_kind_and_reason() {
        let metrics = Metrics::default();
        metrics.deleted(Reason::AgedPeriodicProwJob);
        metrics.deleted(Reason::OrphanedPod);
        metrics.deleted(Reason::OrphanedPod);
        metrics.dry_run(Reason::TtledPod);
        let text = metrics.render().unwrap();
        for line in [
            "sinker_deletions_total{kind=\"prowjob\",reason=\"aged-periodic\"} 1",
            "sinker_deletions_total{kind=\"pod\",reason=\"orphaned\"} 2",
            "sinker_dry_run_deletions_total{kind=\"pod\",reason=\"ttled\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
