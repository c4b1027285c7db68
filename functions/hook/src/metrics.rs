//! Prometheus metrics of hook: deliveries by event and outcome, handling latency, publish attempts.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// What became of one delivery.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    RejectedSignature,
    BadRequest,
    PublishFailed,
    /// The secret file could not be read: our fault, not the sender's.
    InternalError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::RejectedSignature => "rejected_signature",
            Outcome::BadRequest => "bad_request",
            Outcome::PublishFailed => "publish_failed",
            Outcome::InternalError => "internal_error",
        }
    }
}

/// Label value for requests whose event name was not (yet) authenticated.
pub const UNVERIFIED: &str = "unverified";

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    webhooks: EventCounter,
    latency: Histogram,
    publish_attempts: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        // The `event` label is the `X-GitHub-Event` name once the signature holds, and
        // `unverified` before, so that unauthenticated senders cannot mint label values.
        let webhooks = EventCounter::register_with_help(
            &mut registry,
            "hook_webhooks",
            "GitHub webhook deliveries by event and outcome",
        );
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "hook_request_duration_seconds",
            "Time from request to response for webhook deliveries",
            latency.clone(),
        );
        let publish_attempts = Counter::default();
        registry.register(
            "hook_publish_attempts",
            "HTTP attempts to deliver CloudEvents to the sink",
            publish_attempts.clone(),
        );
        Self {
            registry,
            webhooks,
            latency,
            publish_attempts,
        }
    }
}

impl Metrics {
    pub fn observe(&self, event: &str, outcome: Outcome, seconds: f64) {
        self.webhooks.observe(event, outcome.as_str());
        self.latency.observe(seconds);
    }

    pub fn publish_attempts(&self, attempts: u32) {
        self.publish_attempts.inc_by(u64::from(attempts));
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
    fn rendered_text_names_events_outcomes_and_attempts() {
        let metrics = Metrics::default();
        metrics.observe("push", Outcome::Accepted, 0.01);
        metrics.observe("push", Outcome::Accepted, 0.02);
        metrics.observe(UNVERIFIED, Outcome::RejectedSignature, 0.001);
        metrics.publish_attempts(3);
        let text = metrics.render().unwrap();
        assert!(
            text.contains(r#"hook_webhooks_total{event="push",outcome="accepted"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"hook_webhooks_total{event="unverified",outcome="rejected_signature"} 1"#
            )
        );
        assert!(text.contains("hook_publish_attempts_total 3"));
        assert!(text.contains("hook_request_duration_seconds_count 3"));
    }
}
