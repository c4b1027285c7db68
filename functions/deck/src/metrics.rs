//! Deck's Prometheus metrics: user actions by outcome and the size of the ProwJob index.

use axum::extract::State;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::DeckState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
    outcome: &'static str,
}

/// Counters on `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    actions: Family<ActionLabels, Counter>,
    indexed: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "deck_actions",
            "Rerun/abort requests by outcome",
            actions.clone(),
        );
        let indexed = Gauge::default();
        registry.register(
            "deck_indexed_prowjobs",
            "ProwJobs in Deck's index",
            indexed.clone(),
        );
        Self {
            registry,
            actions,
            indexed,
        }
    }
}

impl Metrics {
    pub(crate) fn count(&self, action: &'static str, outcome: &'static str) {
        self.actions
            .get_or_create(&ActionLabels { action, outcome })
            .inc();
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<DeckState>) -> Response {
    state
        .metrics
        .indexed
        .set(i64::try_from(state.index.len()).unwrap_or(i64::MAX));
    prow_runtime::metrics_response(prow_runtime::encode_metrics(&state.metrics.registry))
}
