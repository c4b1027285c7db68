//! Prometheus counters of the in-process broker: deliveries, retries and dead letters per Trigger.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriggerLabels {
    pub namespace: String,
    pub trigger: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BrokerLabels {
    pub namespace: String,
    pub broker: String,
}

/// Counters, cheap to clone (shared storage).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub delivered: Family<TriggerLabels, Counter>,
    pub retried: Family<TriggerLabels, Counter>,
    pub dead_lettered: Family<TriggerLabels, Counter>,
    /// Events refused at ingress because a Trigger queue was full.
    pub rejected: Family<BrokerLabels, Counter>,
    pub accepted: Family<BrokerLabels, Counter>,
}

/// Snapshot of one Trigger's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriggerStats {
    pub delivered: u64,
    pub retried: u64,
    pub dead_lettered: u64,
}

impl Metrics {
    /// Adds the counters to `registry` under the `broker_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("broker");
        sub.register(
            "delivered",
            "Events a Trigger's subscriber accepted",
            self.delivered.clone(),
        );
        sub.register(
            "retried",
            "Delivery attempts repeated after a retryable failure",
            self.retried.clone(),
        );
        sub.register(
            "dead_lettered",
            "Events given up on after the Trigger's retries",
            self.dead_lettered.clone(),
        );
        sub.register(
            "accepted",
            "Events accepted at broker ingress",
            self.accepted.clone(),
        );
        sub.register(
            "rejected",
            "Events refused at broker ingress because a Trigger queue was full",
            self.rejected.clone(),
        );
    }

    pub fn stats(&self, namespace: &str, trigger: &str) -> TriggerStats {
        let labels = TriggerLabels {
            namespace: namespace.to_string(),
            trigger: trigger.to_string(),
        };
        TriggerStats {
            delivered: self.delivered.get_or_create(&labels).get(),
            retried: self.retried.get_or_create(&labels).get(),
            dead_lettered: self.dead_lettered.get_or_create(&labels).get(),
        }
    }
}
