//! Prometheus metrics of horologium: ticks by outcome and periodic runs by result.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::TickCounter;

/// What became of one run horologium decided to create.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum RunResult {
    Created,
    /// The run for that slot already existed (a repeated or concurrent tick).
    Existing,
    /// `--dry-run`: logged, not created.
    DryRun,
    Failed,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Created => "created",
            RunResult::Existing => "existing",
            RunResult::DryRun => "dry_run",
            RunResult::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    result: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) ticks: TickCounter,
    runs: Family<RunLabels, Counter>,
    invalid_periodics: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let ticks = TickCounter::register(&mut registry, "horologium_ticks");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "horologium_runs",
            "Periodic runs horologium decided to start, by result",
            runs.clone(),
        );
        let invalid_periodics = Counter::default();
        registry.register(
            "horologium_invalid_periodics",
            "Periodics skipped on a tick because their schedule does not parse",
            invalid_periodics.clone(),
        );
        Self {
            registry,
            ticks,
            runs,
            invalid_periodics,
        }
    }
}

impl Metrics {
    pub fn run(&self, result: RunResult) {
        self.runs
            .get_or_create(&RunLabels {
                result: result.as_str(),
            })
            .inc();
    }

    pub fn invalid_periodic(&self) {
        self.invalid_periodics.inc();
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
    fn rendered_text_counts_ticks_and_runs_by_result() {
        let metrics = Metrics::default();
        metrics.ticks.observe(true);
        metrics.run(RunResult::Created);
        metrics.run(RunResult::Created);
        metrics.run(RunResult::Existing);
        let text = metrics.render().unwrap();
        assert!(
            text.contains("horologium_ticks_total{outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("horologium_runs_total{result=\"created\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("horologium_runs_total{result=\"existing\"} 1"),
            "{text}"
        );
    }
}
