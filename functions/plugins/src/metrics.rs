//! plugins' Prometheus metrics.

use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of the plugins function.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "plugins_events");
        Self { registry, events }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}
