//! cherrypicker's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of cherrypicker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
    /// Cherry-picks attempted, by outcome: `created`, `conflict`, `exists`.
    pub picks: Family<Outcome, Counter>,
}

/// How one cherry-pick ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "cherrypicker_events");
        let picks = Family::<Outcome, Counter>::default();
        registry.register(
            "cherrypicker_picks",
            "Cherry-picks attempted, by outcome",
            picks.clone(),
        );
        Self {
            registry,
            events,
            picks,
        }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }

    pub(crate) fn observe(&self, outcome: &'static str) {
        self.picks.get_or_create(&Outcome { outcome }).inc();
    }
}
