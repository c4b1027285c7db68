//! crier's Prometheus metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of crier.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
    pub github_statuses: Counter,
    pub github_statuses_found: Counter,
    pub github_comment_changes: Counter,
    pub gcs_reports: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "crier_events");
        let github_statuses = Counter::default();
        registry.register(
            "crier_github_statuses",
            "Commit statuses set",
            github_statuses.clone(),
        );
        let github_statuses_found = Counter::default();
        registry.register(
            "crier_github_statuses_found",
            "Commit statuses not posted again: an attempt killed before recording it had set them",
            github_statuses_found.clone(),
        );
        let github_comment_changes = Counter::default();
        registry.register(
            "crier_github_comment_changes",
            "Failure comments created, edited or deleted",
            github_comment_changes.clone(),
        );
        let gcs_reports = Counter::default();
        registry.register(
            "crier_gcs_reports",
            "Job metadata uploads",
            gcs_reports.clone(),
        );
        Self {
            registry,
            events,
            github_statuses,
            github_statuses_found,
            github_comment_changes,
            gcs_reports,
        }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}
