//! trigger's Prometheus metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of trigger.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
    /// ProwJobs created (not counting ones that already existed).
    pub prowjobs_created: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "trigger_events");
        let prowjobs_created = Counter::default();
        registry.register(
            "trigger_prowjobs_created",
            "ProwJobs created by trigger",
            prowjobs_created.clone(),
        );
        Self {
            registry,
            events,
            prowjobs_created,
        }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}
