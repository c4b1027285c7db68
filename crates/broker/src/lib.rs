//! prow-broker: the in-process Knative Eventing stand-in behind `prow up`.
//!
//! It reads the same `eventing/*.yaml` that is deployed on Knative (Broker, Triggers,
//! PingSources, ApiServerSources) and reproduces what Knative does with them: ingress
//! `POST /<namespace>/<broker>`, Trigger filters with Knative's exact semantics, binary-mode
//! delivery with `Prefer: reply` to the mounted function routers, retries and dead letters
//! from the delivery spec, subscriber replies fed back into the broker, PingSource ticks and
//! ApiServerSource watch events.
//!
//! With `BrokerOptions::durable_store` (what `prow up` sets), every accepted event is written to
//! a redb file before ingress answers 202 and stays there until each matching Trigger's subscriber
//! answered 2xx or the event was dead-lettered; a broker opened on that file after a crash
//! delivers the rest again (at-least-once; see the `store` module).
//!
//! Wiring under `prow up` (the functions' routers are mounted by Knative Service name; each
//! function gets `K_SINK=http://<ingress addr>/prow/default`):
//!
//! ```no_run
//! # async fn up(
//! #     routers: std::collections::HashMap<String, axum::Router>,
//! #     kube: kube::Client,
//! #     api_url: &str,
//! #     listener: tokio::net::TcpListener,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use prow_broker::{apiserver::ApiServerAdapter, *};
//!
//! let manifests = Manifests::load_dir("eventing")?;
//! let broker = Broker::new(&manifests, routers, BrokerOptions::default())?;
//! let ticker = PingTicker::new(&manifests.ping_sources, Arc::new(broker.clone()), Clock::system())?;
//! let adapter = ApiServerAdapter::new(kube, api_url, &manifests.api_server_sources, Arc::new(broker.clone()))?;
//! let (stop, _) = tokio::sync::watch::channel(());
//! let stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move { let _ = rx.changed().await; };
//! tokio::spawn(ticker.clone().run(stopped(stop.subscribe())));
//! tokio::spawn(adapter.run(stopped(stop.subscribe())));
//! tokio::spawn(axum::serve(listener, ingress_router(broker.clone())).into_future());
//! ticker.fire_now("horologium").await?; // `prow up --tick`
//! // ... on Ctrl-C:
//! stop.send_replace(());
//! broker.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod apiserver;
mod broker;
pub mod delivery;
pub mod filter;
mod ingress;
pub mod manifest;
pub mod metrics;
pub mod ping;
pub mod store;

pub use broker::{
    ARRIVAL_EXTENSION, Broker, BrokerError, BrokerKey, BrokerOptions, ERROR_CODE_EXTENSION,
    ERROR_DATA_EXTENSION, ERROR_DEST_EXTENSION, EventSink, PublishError, TTL_EXTENSION, next_ttl,
    pass_through_headers,
};
pub use ingress::{SenderPolicy, SenderRefusal, guarded_ingress_router, ingress_router};
pub use manifest::Manifests;
pub use metrics::{Metrics, TriggerStats};
pub use ping::{Clock, PingTicker};
pub use store::{DeliveryStore, MemoryStore, RedbStore};
