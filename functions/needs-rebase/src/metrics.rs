//! needs-rebase's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of needs-rebase.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
    /// PRs looked at, by what GitHub said: `mergeable`, `conflicting`, or `unknown` (still
    /// computing: looked at again later).
    pub checked: Family<Verdict, Counter>,
}

/// What GitHub said about one PR's mergeability.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Verdict {
    pub mergeable: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "needs_rebase_events");
        let checked = Family::<Verdict, Counter>::default();
        registry.register(
            "needs_rebase_prs_checked",
            "Pull requests checked, by GitHub's mergeability verdict",
            checked.clone(),
        );
        Self {
            registry,
            events,
            checked,
        }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }

    pub(crate) fn observe(&self, mergeable: Option<bool>) {
        let mergeable = match mergeable {
            Some(true) => "mergeable",
            Some(false) => "conflicting",
            None => "unknown",
        };
        self.checked.get_or_create(&Verdict { mergeable }).inc();
    }
}
