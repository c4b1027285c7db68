//! tide's Prometheus metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of tide.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
    /// Pull requests merged.
    pub merges: Counter,
    /// Merge actions with at least one PR GitHub refused or failed to merge.
    pub merge_failures: Counter,
    /// ProwJobs created (serial retests and batches).
    pub prowjobs_created: Counter,
    /// `tide` statuses written.
    pub statuses: Counter,
    /// Index writes, and writes refused because another instance wrote first.
    pub index_writes: Counter,
    pub index_conflicts: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "tide_events");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        Self {
            merges: counter(&mut registry, "tide_merges", "Pull requests merged by tide"),
            merge_failures: counter(
                &mut registry,
                "tide_merge_failures",
                "Merge actions where GitHub refused or failed a merge",
            ),
            prowjobs_created: counter(
                &mut registry,
                "tide_prowjobs_created",
                "ProwJobs created by tide (serial retests and batches)",
            ),
            statuses: counter(
                &mut registry,
                "tide_statuses",
                "tide status contexts written",
            ),
            index_writes: counter(
                &mut registry,
                "tide_index_writes",
                "Merge-pool index writes",
            ),
            index_conflicts: counter(
                &mut registry,
                "tide_index_conflicts",
                "Merge-pool index writes refused because another instance wrote first",
            ),
            registry,
            events,
        }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}
