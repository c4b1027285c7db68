//! prow-broker: the in-process Knative Eventing stand-in behind `prow up`.
//!
//! It reads the same `eventing/*.yaml` that is deployed on Knative (Broker, Triggers,
//! PingSources, ApiServerSources) and reproduces what Knative does with them: ingress
//! `POST /<namespace>/<broker>`, Trigger filters with Knative's exact semantics, binary-mode
//! delivery with `Prefer: reply` to the mounted function routers, retries and dead letters
//! from the delivery spec, subscriber replies fed back into the broker, PingSource ticks and
//! ApiServerSource watch events.

pub mod apiserver;
mod broker;
pub mod delivery;
pub mod filter;
mod ingress;
pub mod manifest;
pub mod metrics;
pub mod ping;

pub use broker::{
    ARRIVAL_EXTENSION, Broker, BrokerError, BrokerKey, BrokerOptions, ERROR_CODE_EXTENSION,
    ERROR_DATA_EXTENSION, ERROR_DEST_EXTENSION, EventSink, PublishError, TTL_EXTENSION, next_ttl,
    pass_through_headers,
};
pub use ingress::ingress_router;
pub use manifest::Manifests;
pub use metrics::{Metrics, TriggerStats};
pub use ping::{Clock, PingTicker};
