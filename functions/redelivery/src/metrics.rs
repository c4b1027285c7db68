//! Prometheus metrics of redelivery: ticks by outcome, events by verdict, and redelivery
//! requests by outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use prow_runtime::TickCounter;

use crate::decide::Verdict;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) ticks: TickCounter,
    events: Family<VerdictLabels, Counter>,
    requests: Family<OutcomeLabels, Counter>,
    list_failures: Counter,
    truncated: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let ticks = TickCounter::register(&mut registry, "redelivery_ticks");
        let events = Family::<VerdictLabels, Counter>::default();
        registry.register(
            "redelivery_events",
            "Webhook events (delivery guids) seen on a tick, by verdict; gave_up needs a human",
            events.clone(),
        );
        let requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "redelivery_requests",
            "Redeliveries asked of GitHub, by outcome",
            requests.clone(),
        );
        let list_failures = Counter::default();
        registry.register(
            "redelivery_list_failures",
            "Hooks whose deliveries could not be listed on a tick",
            list_failures.clone(),
        );
        let truncated = Counter::default();
        registry.register(
            "redelivery_truncated_listings",
            "Hook listings cut by --max-pages before the lookback window was covered",
            truncated.clone(),
        );
        Self {
            registry,
            ticks,
            events,
            requests,
            list_failures,
            truncated,
        }
    }
}

impl Metrics {
    pub fn event(&self, verdict: Verdict) {
        self.events
            .get_or_create(&VerdictLabels {
                verdict: verdict.as_str(),
            })
            .inc();
    }

    /// One redelivery request: `ok`, `failed` or `dry_run`.
    pub fn request(&self, outcome: &'static str) {
        self.requests
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn list_failed(&self) {
        self.list_failures.inc();
    }

    pub fn truncated(&self) {
        self.truncated.inc();
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
    fn rendered_text_counts_verdicts_and_requests() {
        let metrics = Metrics::default();
        metrics.ticks.observe(true);
        metrics.event(Verdict::Redeliver);
        metrics.event(Verdict::GaveUp);
        metrics.request("ok");
        metrics.list_failed();
        let text = metrics.render().unwrap();
        for line in [
            "redelivery_ticks_total{outcome=\"ok\"} 1",
            "redelivery_events_total{verdict=\"redeliver\"} 1",
            "redelivery_events_total{verdict=\"gave_up\"} 1",
            "redelivery_requests_total{outcome=\"ok\"} 1",
            "redelivery_list_failures_total 1",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
