//! Prometheus metrics of plank: events by kind and outcome, actions applied, job state transitions.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    /// `prowjob`, `pod`, `resync` or `ignored`.
    target: &'static str,
    /// `ok` or `error`.
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
    transitions: Family<StateLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "plank_events",
            "CloudEvents handled by target and outcome",
            events.clone(),
        );
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "plank_actions",
            "Actions applied (pod creates/deletes, status writes)",
            actions.clone(),
        );
        let transitions = Family::<StateLabels, Counter>::default();
        registry.register(
            "plank_job_transitions",
            "ProwJob status writes by resulting state",
            transitions.clone(),
        );
        Metrics {
            registry,
            events,
            actions,
            transitions,
        }
    }
}

impl Metrics {
    pub fn event(&self, target: &'static str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.events
            .get_or_create(&EventLabels { target, outcome })
            .inc();
    }

    pub fn action(&self, action: &'static str) {
        self.actions.get_or_create(&ActionLabels { action }).inc();
    }

    pub fn transition(&self, state: &str) {
        self.transitions
            .get_or_create(&StateLabels {
                state: state.to_owned(),
            })
            .inc();
    }

    /// OpenMetrics text.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
