//! config-updater's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use prow_runtime::EventCounter;

/// Prometheus metrics of config-updater.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) events: EventCounter,
    /// Bytes stored in each ConfigMap after the last update (Prow's `prow_configmap_size_bytes`):
    /// an alert before a ConfigMap reaches Kubernetes' 1 MiB limit.
    pub configmap_bytes: Family<ConfigMapLabels, Gauge>,
    /// Merges whose config did not compile and so were not published: each one means the
    /// cluster runs an older config than the repository's default branch.
    pub compile_failures: Counter,
}

/// Which ConfigMap a size is about.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConfigMapLabels {
    pub name: String,
    pub namespace: String,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = EventCounter::register(&mut registry, "config_updater_events");
        let configmap_bytes = Family::<ConfigMapLabels, Gauge>::default();
        registry.register(
            "config_updater_configmap_size_bytes",
            "Bytes of data in a ConfigMap config-updater last wrote",
            configmap_bytes.clone(),
        );
        let compile_failures = Counter::default();
        registry.register(
            "config_updater_compile_failures",
            "Merged configs that did not compile and were not published",
            compile_failures.clone(),
        );
        Self {
            registry,
            events,
            configmap_bytes,
            compile_failures,
        }
    }
}

impl Metrics {
    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}
