//! The Broker runtime: matches events to Triggers and delivers them to in-process subscribers like Knative's MT broker.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Event};
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::delivery::{RetryPolicy, should_retry};
use crate::filter::{FilterError, TriggerFilter};
use crate::manifest::{Destination, Manifests};
use crate::metrics::{BrokerLabels, Metrics, TriggerLabels, TriggerStats};
use crate::store::{DeliveryKey, DeliveryStore, RedbStore, StoreError, StoredEvent};

/// Extension carrying how many more times an event may pass through the broker (reply loops).
pub const TTL_EXTENSION: &str = "knativebrokerttl";
/// Extension the ingress stamps with the arrival time.
pub const ARRIVAL_EXTENSION: &str = "knativearrivaltime";
/// Extensions Knative adds to an event sent to a dead letter sink.
pub const ERROR_DEST_EXTENSION: &str = "knativeerrordest";
pub const ERROR_CODE_EXTENSION: &str = "knativeerrorcode";
pub const ERROR_DATA_EXTENSION: &str = "knativeerrordata";
const ERROR_DATA_MAX: usize = 1024;
/// Largest subscriber response body read back (replies are events; anything bigger is a bug).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Namespace and name of a Broker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerKey {
    pub namespace: String,
    pub name: String,
}

impl BrokerKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        BrokerKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for BrokerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Tuning of the runtime; the defaults suit `prow up`.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Events waiting per Trigger before ingress answers 429.
    pub queue_capacity: usize,
    /// Deliveries in flight per Trigger (retries included: a backing-off event holds a slot).
    pub max_in_flight: usize,
    /// TTL given to events that arrive without one (Knative's `MAX_TTL`).
    pub max_ttl: i64,
    /// How long `publish` waits for queue room before giving up.
    pub publish_timeout: Duration,
    /// Per-attempt timeout when the delivery spec has none.
    pub attempt_timeout: Duration,
    /// How long `shutdown` waits for queued and in-flight deliveries.
    pub drain_timeout: Duration,
    /// A redb file where every accepted event is kept until each Trigger it matched is done with
    /// it (subscriber answered 2xx, or dead-lettered); what a killed process left there is
    /// delivered again by the next broker opened on it. `None`: events live only in the queues.
    pub durable_store: Option<PathBuf>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            queue_capacity: 1024,
            max_in_flight: 32,
            max_ttl: 255,
            publish_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(300),
            drain_timeout: Duration::from_secs(30),
            durable_store: None,
        }
    }
}

/// Why a Broker could not be built from manifests.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("no Broker in the manifests")]
    NoBroker,
    #[error("Broker::new must be called inside a Tokio runtime (it starts delivery workers)")]
    NoRuntime,
    #[error("Trigger {trigger}: Broker {broker} is not defined")]
    UnknownBroker { trigger: String, broker: BrokerKey },
    #[error("Trigger {trigger}: subscriber Service {service:?} is not mounted")]
    UnknownSubscriber { trigger: String, service: String },
    #[error("{owner}: destination {detail} is not supported in process")]
    UnsupportedDestination { owner: String, detail: String },
    #[error("Trigger {trigger}: {source}")]
    Filter {
        trigger: String,
        source: FilterError,
    },
    #[error("{owner}: {source}")]
    Delivery {
        owner: String,
        source: crate::delivery::DeliveryError,
    },
    #[error("opening the event store {path}: {source}")]
    OpenStore { path: PathBuf, source: StoreError },
    #[error("reading undelivered events: {0}")]
    Store(#[from] StoreError),
}

/// Why an event was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("broker {0} not found")]
    UnknownBroker(BrokerKey),
    #[error("no default broker: the manifests define several and none is {0}")]
    NoDefaultBroker(String),
    #[error("event {id}: broker TTL exhausted (reply loop?)")]
    TtlExhausted { id: String },
    #[error("trigger {trigger}: delivery queue is full")]
    QueueFull { trigger: String },
    #[error("broker is shutting down")]
    ShuttingDown,
    #[error("event {id} could not be stored: {reason}")]
    Store { id: String, reason: String },
}

/// Anything events can be handed to: the Broker, or a test double.
pub trait EventSink: Send + Sync + 'static {
    fn send<'a>(
        &'a self,
        broker: &'a BrokerKey,
        event: Event,
    ) -> BoxFuture<'a, Result<(), PublishError>>;
}

/// Where a destination resolved to in process.
#[derive(Clone)]
struct Target {
    /// The URL Knative would resolve the destination to (`knativeerrordest`, logs).
    url: String,
    /// `None` for a dead letter sink nobody mounted: dead letters are then only logged.
    router: Option<Router>,
    path: String,
}

struct TriggerRuntime {
    broker: BrokerKey,
    /// `namespace/name`: how the store names the Trigger a delivery is owed to.
    key: String,
    namespace: String,
    name: String,
    filter: TriggerFilter,
    subscriber: Target,
    policy: RetryPolicy,
    dead_letter: Option<Target>,
    labels: TriggerLabels,
}

struct BrokerRuntime {
    /// Indexes into `Inner::triggers`.
    triggers: Vec<usize>,
}

/// One event bound for one Trigger.
struct Envelope {
    event: Event,
    ttl: i64,
    headers: HeaderMap,
    /// The event's sequence number in the store, when there is one.
    seq: Option<u64>,
}

struct Inner {
    brokers: BTreeMap<BrokerKey, BrokerRuntime>,
    default_broker: Result<BrokerKey, PublishError>,
    triggers: Vec<Arc<TriggerRuntime>>,
    /// Dropping these (with `Inner`) ends the workers.
    senders: Vec<mpsc::Sender<Envelope>>,
    metrics: Metrics,
    options: BrokerOptions,
    /// Where accepted events wait for their deliveries; `None`: only in the queues.
    store: Option<Arc<dyn DeliveryStore>>,
    accepting: AtomicBool,
    pending: AtomicUsize,
    idle: Notify,
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// The in-process broker; cheap to clone.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

impl Broker {
    /// Builds the runtime for every Broker and Trigger in `manifests` and starts one delivery
    /// worker per Trigger (call inside a Tokio runtime). `subscribers` maps Knative Service
    /// names to the routers mounted in this process. With `options.durable_store`, events are
    /// kept in that file until delivered, and what it still owes is delivered again now.
    pub fn new(
        manifests: &Manifests,
        subscribers: HashMap<String, Router>,
        options: BrokerOptions,
    ) -> Result<Broker, BrokerError> {
        let store: Option<Arc<dyn DeliveryStore>> = match &options.durable_store {
            Some(path) => {
                // Checked first so a missing runtime does not leave a writer thread behind.
                tokio::runtime::Handle::try_current().map_err(|_| BrokerError::NoRuntime)?;
                let store = RedbStore::open(path).map_err(|source| BrokerError::OpenStore {
                    path: path.clone(),
                    source,
                })?;
                Some(Arc::new(store))
            }
            None => None,
        };
        Self::build(manifests, subscribers, options, store)
    }

    /// As [`Broker::new`], keeping events in `store` (which overrides `options.durable_store`)
    /// and delivering again what it still owes.
    pub fn with_store(
        manifests: &Manifests,
        subscribers: HashMap<String, Router>,
        options: BrokerOptions,
        store: Arc<dyn DeliveryStore>,
    ) -> Result<Broker, BrokerError> {
        Self::build(manifests, subscribers, options, Some(store))
    }

    fn build(
        manifests: &Manifests,
        subscribers: HashMap<String, Router>,
        options: BrokerOptions,
        store: Option<Arc<dyn DeliveryStore>>,
    ) -> Result<Broker, BrokerError> {
        if manifests.brokers.is_empty() {
            return Err(BrokerError::NoBroker);
        }
        let tokio_handle =
            tokio::runtime::Handle::try_current().map_err(|_| BrokerError::NoRuntime)?;
        let mut brokers = BTreeMap::new();
        let mut broker_delivery = HashMap::new();
        for b in &manifests.brokers {
            let key = BrokerKey::new(b.metadata.namespace(), &b.metadata.name);
            broker_delivery.insert(key.clone(), b.spec.delivery.clone());
            brokers.insert(
                key,
                BrokerRuntime {
                    triggers: Vec::new(),
                },
            );
        }
        let default_broker = default_broker(&brokers);

        let metrics = Metrics::default();
        let mut triggers = Vec::new();
        let mut receivers = Vec::new();
        let mut senders = Vec::new();
        for t in &manifests.triggers {
            let namespace = t.metadata.namespace().to_string();
            let owner = format!("Trigger {namespace}/{}", t.metadata.name);
            let key = BrokerKey::new(&namespace, t.broker_name());
            let Some(runtime) = brokers.get_mut(&key) else {
                return Err(BrokerError::UnknownBroker {
                    trigger: owner,
                    broker: key,
                });
            };
            let filter = TriggerFilter::compile(&t.spec).map_err(|source| BrokerError::Filter {
                trigger: owner.clone(),
                source,
            })?;
            let subscriber = resolve(&t.spec.subscriber, &namespace, &subscribers, &owner)?;
            if subscriber.router.is_none() {
                return Err(BrokerError::UnknownSubscriber {
                    trigger: owner,
                    service: subscriber.url,
                });
            }
            // Knative hands the Trigger's delivery to its subscription, else the Broker's.
            let delivery = t
                .spec
                .delivery
                .clone()
                .or_else(|| broker_delivery.get(&key).cloned().flatten());
            let (policy, dead_letter) = match &delivery {
                Some(spec) => {
                    let policy =
                        RetryPolicy::from_spec(spec).map_err(|source| BrokerError::Delivery {
                            owner: owner.clone(),
                            source,
                        })?;
                    let dls = spec
                        .dead_letter_sink
                        .as_ref()
                        .map(|d| resolve(d, &namespace, &subscribers, &owner))
                        .transpose()?;
                    (policy, dls)
                }
                None => (RetryPolicy::NONE, None),
            };
            runtime.triggers.push(triggers.len());
            let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
            senders.push(tx);
            receivers.push(rx);
            triggers.push(Arc::new(TriggerRuntime {
                labels: TriggerLabels {
                    namespace: namespace.clone(),
                    trigger: t.metadata.name.clone(),
                },
                broker: key,
                key: format!("{namespace}/{}", t.metadata.name),
                namespace,
                name: t.metadata.name.clone(),
                filter,
                subscriber,
                policy,
                dead_letter,
            }));
        }

        let (stop, stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            brokers,
            default_broker,
            triggers,
            senders,
            metrics,
            options,
            store,
            accepting: AtomicBool::new(true),
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            stop,
            workers: Mutex::new(Vec::new()),
        });
        let handles = receivers
            .into_iter()
            .zip(inner.triggers.iter().cloned())
            .map(|(rx, trigger)| {
                tokio_handle.spawn(run_worker(
                    trigger,
                    rx,
                    Arc::downgrade(&inner),
                    Arc::new(Semaphore::new(inner.options.max_in_flight.max(1))),
                    stop_rx.clone(),
                ))
            })
            .collect();
        if let Ok(mut workers) = inner.workers.lock() {
            *workers = handles;
        }
        if let Some(store) = &inner.store {
            let (owed, orphans) = owed_deliveries(&inner, store.as_ref())?;
            if !owed.is_empty() || !orphans.is_empty() {
                tokio_handle.spawn(redeliver(
                    Arc::downgrade(&inner),
                    store.clone(),
                    owed,
                    orphans,
                    stop_rx,
                ));
            }
        }
        Ok(Broker { inner })
    }

    /// Publishes to the default Broker (the only one, or `default` in its namespace), waiting up
    /// to `publish_timeout` for queue room.
    pub async fn publish(&self, event: Event) -> Result<(), PublishError> {
        let key = self.inner.default_broker.clone()?;
        self.publish_to(&key, event).await
    }

    /// Publishes to a named Broker, waiting up to `publish_timeout` for queue room.
    pub async fn publish_to(&self, broker: &BrokerKey, event: Event) -> Result<(), PublishError> {
        if !self.inner.accepting.load(Ordering::SeqCst) {
            return Err(PublishError::ShuttingDown);
        }
        self.inner
            .ingest(broker, event, HeaderMap::new(), Admission::Wait)
            .await
    }

    /// What ingress uses: never waits, a full queue is an immediate `QueueFull`.
    pub async fn try_publish_to(
        &self,
        broker: &BrokerKey,
        event: Event,
        headers: HeaderMap,
    ) -> Result<(), PublishError> {
        if !self.inner.accepting.load(Ordering::SeqCst) {
            return Err(PublishError::ShuttingDown);
        }
        self.inner
            .ingest(broker, event, headers, Admission::Immediate)
            .await
    }

    pub fn has_broker(&self, broker: &BrokerKey) -> bool {
        self.inner.brokers.contains_key(broker)
    }

    pub fn default_broker(&self) -> Option<BrokerKey> {
        self.inner.default_broker.clone().ok()
    }

    /// The counters (register them with `Metrics::register`).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn stats(&self, namespace: &str, trigger: &str) -> TriggerStats {
        self.inner.metrics.stats(namespace, trigger)
    }

    /// Names of the Triggers (namespace, name) an event would be delivered to.
    pub fn route(&self, broker: &BrokerKey, event: &Event) -> Vec<(String, String)> {
        self.inner
            .matching(broker, event)
            .unwrap_or_default()
            .into_iter()
            .map(|i| {
                let t = &self.inner.triggers[i];
                (t.namespace.clone(), t.name.clone())
            })
            .collect()
    }

    /// Events queued or being delivered (retries and replies included).
    pub fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Waits until every queued and in-flight delivery has finished.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Stops accepting new events (ingress answers 503), lets queued deliveries, their retries and
    /// replies finish for up to `drain_timeout`, then stops the workers. Returns whether the
    /// queues drained completely.
    pub async fn shutdown(&self) -> bool {
        self.inner.accepting.store(false, Ordering::SeqCst);
        let drained = tokio::time::timeout(self.inner.options.drain_timeout, self.wait_idle())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                pending = self.pending(),
                "broker drain timed out; abandoning remaining deliveries"
            );
        }
        self.inner.stop.send_replace(true);
        let handles = match self.inner.workers.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(_) => Vec::new(),
        };
        for h in handles {
            if let Err(e) = h.await
                && e.is_panic()
            {
                tracing::error!("broker worker panicked: {e}");
            }
        }
        drained
    }
}

impl EventSink for Broker {
    fn send<'a>(
        &'a self,
        broker: &'a BrokerKey,
        event: Event,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(self.publish_to(broker, event))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Admission {
    Wait,
    Immediate,
}

impl Inner {
    fn matching(&self, broker: &BrokerKey, event: &Event) -> Result<Vec<usize>, PublishError> {
        let runtime = self
            .brokers
            .get(broker)
            .ok_or_else(|| PublishError::UnknownBroker(broker.clone()))?;
        Ok(runtime
            .triggers
            .iter()
            .copied()
            .filter(|i| self.triggers[*i].filter.accepts(event))
            .collect())
    }

    /// Broker ingress: TTL bookkeeping, arrival stamp, fan-out to the matching Triggers. Either
    /// every matching Trigger gets the event or none does, so a refused producer can retry
    /// without creating duplicates.
    async fn ingest(
        &self,
        broker: &BrokerKey,
        mut event: Event,
        headers: HeaderMap,
        admission: Admission,
    ) -> Result<(), PublishError> {
        let ttl = next_ttl(event.extension(TTL_EXTENSION), self.options.max_ttl);
        if ttl <= 0 {
            return Err(PublishError::TtlExhausted {
                id: event.id().to_string(),
            });
        }
        // Subscribers never see the TTL; it travels beside the event.
        event.remove_extension(TTL_EXTENSION);
        event.set_extension(
            ARRIVAL_EXTENSION,
            ExtensionValue::String(go_timestamp(Utc::now())),
        );
        let matched = self.matching(broker, &event)?;
        let broker_labels = BrokerLabels {
            namespace: broker.namespace.clone(),
            broker: broker.name.clone(),
        };

        let deadline = tokio::time::Instant::now() + self.options.publish_timeout;
        let mut permits = Vec::with_capacity(matched.len());
        for &i in &matched {
            let tx = &self.senders[i];
            let permit = match admission {
                Admission::Immediate => tx.try_reserve().map_err(|e| match e {
                    mpsc::error::TrySendError::Full(()) => self.full(i, &broker_labels),
                    mpsc::error::TrySendError::Closed(()) => PublishError::ShuttingDown,
                })?,
                Admission::Wait => match tokio::time::timeout_at(deadline, tx.reserve()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_closed)) => return Err(PublishError::ShuttingDown),
                    Err(_elapsed) => return Err(self.full(i, &broker_labels)),
                },
            };
            permits.push(permit);
        }
        let stored = StoredEvent {
            event,
            ttl,
            headers: pass_through_headers(&headers),
        };
        // Durable before accepted: the permits keep the queue room while the write commits.
        let seq = match &self.store {
            Some(store) if !matched.is_empty() => {
                let keys: Vec<&str> = matched
                    .iter()
                    .map(|&i| self.triggers[i].key.as_str())
                    .collect();
                let seq = store.accept(&stored, &keys).await.map_err(|e| {
                    tracing::error!(event.id = %stored.event.id(), "storing an accepted event: {e}");
                    PublishError::Store {
                        id: stored.event.id().to_string(),
                        reason: e.to_string(),
                    }
                })?;
                Some(seq)
            }
            _ => None,
        };
        self.metrics.accepted.get_or_create(&broker_labels).inc();
        self.pending.fetch_add(permits.len(), Ordering::SeqCst);
        for permit in permits {
            permit.send(Envelope {
                event: stored.event.clone(),
                ttl: stored.ttl,
                headers: stored.headers.clone(),
                seq,
            });
        }
        Ok(())
    }

    fn full(&self, trigger: usize, labels: &BrokerLabels) -> PublishError {
        self.metrics.rejected.get_or_create(labels).inc();
        PublishError::QueueFull {
            trigger: self.triggers[trigger].name.clone(),
        }
    }

    fn done(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

fn default_broker(brokers: &BTreeMap<BrokerKey, BrokerRuntime>) -> Result<BrokerKey, PublishError> {
    let mut keys = brokers.keys();
    match (keys.next(), keys.next()) {
        (Some(only), None) => Ok(only.clone()),
        _ => {
            let mut named_default = brokers.keys().filter(|k| k.name == "default");
            match (named_default.next(), named_default.next()) {
                (Some(k), None) => Ok(k.clone()),
                _ => Err(PublishError::NoDefaultBroker("default".into())),
            }
        }
    }
}

/// Knative's TTL defaulter: missing or unreadable -> max, otherwise one less (never negative).
pub fn next_ttl(current: Option<&ExtensionValue>, max_ttl: i64) -> i64 {
    let parsed = match current {
        Some(ExtensionValue::Integer(n)) => Some(*n),
        Some(ExtensionValue::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    match parsed {
        Some(n) => (n - 1).max(0),
        None => max_ttl,
    }
}

/// Headers Knative forwards from the original request (`x-request-id`, `retry-after`,
/// `knative-*`, `x-b3-*`).
pub fn pass_through_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if n == "x-request-id"
            || n == "retry-after"
            || n.starts_with("knative-")
            || n.starts_with("x-b3-")
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// As the Go SDK renders a timestamp extension (RFC 3339, trimmed nanoseconds).
fn go_timestamp(t: chrono::DateTime<Utc>) -> String {
    crate::filter::go_rfc3339_nano(Some(&t))
}

/// Resolves a Destination the way Knative's URI resolver would, onto mounted routers.
fn resolve(
    dest: &Destination,
    namespace: &str,
    services: &HashMap<String, Router>,
    owner: &str,
) -> Result<Target, BrokerError> {
    let unsupported = |detail: String| BrokerError::UnsupportedDestination {
        owner: owner.to_string(),
        detail,
    };
    let Some(reference) = &dest.reference else {
        return Err(unsupported(format!(
            "uri {:?} without ref (only Services mounted in this process can be reached)",
            dest.uri.as_deref().unwrap_or_default()
        )));
    };
    let is_service = reference.kind == "Service"
        && matches!(
            reference.api_version.as_str(),
            "serving.knative.dev/v1" | "v1"
        );
    if !is_service {
        return Err(unsupported(format!(
            "{} {} ({})",
            reference.kind, reference.name, reference.api_version
        )));
    }
    let ns = reference.namespace.as_deref().unwrap_or(namespace);
    let path = match dest.uri.as_deref() {
        None | Some("") => "/".to_string(),
        Some(p) if p.starts_with('/') && p.parse::<http::uri::PathAndQuery>().is_ok() => {
            p.to_string()
        }
        Some(other) => {
            return Err(unsupported(format!(
                "uri {other:?} is not a path relative to the ref"
            )));
        }
    };
    Ok(Target {
        url: format!("http://{}.{ns}.svc.cluster.local{path}", reference.name),
        router: services.get(&reference.name).cloned(),
        path,
    })
}

/// What the store still owes, by event, oldest first, counted as pending; and the deliveries owed
/// to Triggers that are no longer in the manifests (the wiring changed since they were accepted).
#[allow(clippy::type_complexity)]
fn owed_deliveries(
    inner: &Inner,
    store: &dyn DeliveryStore,
) -> Result<(Vec<(u64, Vec<usize>)>, Vec<DeliveryKey>), StoreError> {
    let by_key: HashMap<&str, usize> = inner
        .triggers
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    let mut owed: Vec<(u64, Vec<usize>)> = Vec::new();
    let mut orphans = Vec::new();
    for d in store.pending()? {
        match by_key.get(d.trigger.as_str()) {
            Some(&i) => match owed.last_mut() {
                Some((seq, triggers)) if *seq == d.seq => triggers.push(i),
                _ => owed.push((d.seq, vec![i])),
            },
            None => orphans.push(d),
        }
    }
    let deliveries: usize = owed.iter().map(|(_, t)| t.len()).sum();
    // Orphans count too, until they are forgotten: `wait_idle` covers the whole backlog.
    inner
        .pending
        .fetch_add(deliveries + orphans.len(), Ordering::SeqCst);
    if deliveries > 0 {
        tracing::info!(
            events = owed.len(),
            deliveries,
            "delivering again what the last run accepted but did not finish"
        );
    }
    if !orphans.is_empty() {
        tracing::warn!(
            deliveries = orphans.len(),
            "dropping undelivered events owed to Triggers that no longer exist"
        );
    }
    Ok((owed, orphans))
}

/// Feeds the store's backlog through the ordinary queues (waiting for room like any publisher,
/// so ingress still sees back-pressure), then ends.
async fn redeliver(
    inner: Weak<Inner>,
    store: Arc<dyn DeliveryStore>,
    owed: Vec<(u64, Vec<usize>)>,
    orphans: Vec<DeliveryKey>,
    mut stop: watch::Receiver<bool>,
) {
    for d in orphans {
        if let Err(e) = store.complete(d.seq, &d.trigger).await {
            tracing::warn!(trigger = %d.trigger, seq = d.seq, "dropping an orphaned delivery: {e}");
        }
        match inner.upgrade() {
            Some(inner) => inner.done(),
            None => return,
        }
    }
    for (seq, triggers) in owed {
        let stored = match store.event(seq) {
            Ok(Some(stored)) => Some(stored),
            Ok(None) => {
                tracing::error!(
                    seq,
                    "the store owes deliveries of an event it does not have"
                );
                None
            }
            Err(e) => {
                tracing::error!(
                    seq,
                    "an undelivered event cannot be read back; dropping it: {e}"
                );
                None
            }
        };
        for i in triggers {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let trigger = strong.triggers[i].clone();
            let Some(stored) = &stored else {
                let _ = store.complete(seq, &trigger.key).await;
                strong.done();
                continue;
            };
            let tx = strong.senders[i].clone();
            drop(strong);
            let envelope = Envelope {
                event: stored.event.clone(),
                ttl: stored.ttl,
                headers: stored.headers.clone(),
                seq: Some(seq),
            };
            tokio::select! {
                sent = tx.send(envelope) => if sent.is_err() { return },
                _ = stop.changed() => return,
            }
        }
    }
}

async fn run_worker(
    trigger: Arc<TriggerRuntime>,
    mut rx: mpsc::Receiver<Envelope>,
    inner: Weak<Inner>,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            // Taking an event only when a delivery slot is free keeps the queue the only
            // buffer, so `queue_capacity` is exactly what ingress can absorb.
            envelope = rx.recv(), if slots.available_permits() > 0 => {
                let Some(envelope) = envelope else { break };
                let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                let trigger = trigger.clone();
                let inner = inner.clone();
                tasks.spawn(async move {
                    let seq = envelope.seq;
                    let finished = deliver(&trigger, envelope, &inner).await;
                    if let Some(inner) = inner.upgrade() {
                        if finished && let (Some(store), Some(seq)) = (&inner.store, seq) {
                            // Until this commits, a restart delivers the event again.
                            if let Err(e) = store.complete(seq, &trigger.key).await {
                                tracing::warn!(trigger = %trigger.key, seq, "recording a finished delivery: {e}");
                            }
                        }
                        inner.done();
                    }
                    drop(slot);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    tasks.abort_all();
                    break;
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Outcome of one HTTP exchange with a subscriber.
enum Attempt {
    Delivered {
        reply: Option<Box<Event>>,
    },
    Failed {
        status: Option<u16>,
        body: Bytes,
        retryable: bool,
    },
}

/// Delivers with the Trigger's retries, then to its dead letter sink. Returns whether the
/// delivery is over (2xx or dead-lettered); `false` only when the broker went away meanwhile.
async fn deliver(trigger: &TriggerRuntime, envelope: Envelope, inner: &Weak<Inner>) -> bool {
    let Some(router) = &trigger.subscriber.router else {
        return false;
    };
    let timeout = trigger
        .policy
        .timeout
        .or_else(|| inner.upgrade().map(|i| i.options.attempt_timeout));
    let metrics = match inner.upgrade() {
        Some(i) => i.metrics.clone(),
        None => return false,
    };
    let mut retry = 0;
    let failure = loop {
        let attempt = send(
            router,
            &trigger.subscriber.path,
            &envelope.event,
            &envelope.headers,
            &trigger.namespace,
            timeout,
        )
        .await;
        match attempt {
            Attempt::Delivered { reply } => {
                metrics.delivered.get_or_create(&trigger.labels).inc();
                if let Some(reply) = reply {
                    handle_reply(trigger, &envelope, *reply, inner).await;
                }
                return true;
            }
            Attempt::Failed {
                status,
                body,
                retryable,
            } => {
                if !retryable || retry >= trigger.policy.retry {
                    break (status, body);
                }
                retry += 1;
                metrics.retried.get_or_create(&trigger.labels).inc();
                tracing::debug!(
                    trigger = %trigger.name, event.id = %envelope.event.id(), ?status, retry,
                    "delivery failed; retrying"
                );
                tokio::time::sleep(trigger.policy.backoff(retry)).await;
            }
        }
    };
    dead_letter(trigger, &envelope, failure, timeout, &metrics).await;
    true
}

/// Knative sends a subscriber's reply event back into the Trigger's Broker with the TTL the
/// original had; if the Broker refuses it the original event is dead-lettered.
async fn handle_reply(
    trigger: &TriggerRuntime,
    envelope: &Envelope,
    mut reply: Event,
    inner: &Weak<Inner>,
) {
    let Some(inner) = inner.upgrade() else { return };
    reply.set_extension(TTL_EXTENSION, ExtensionValue::Integer(envelope.ttl));
    if let Err(e) = inner
        .ingest(
            &trigger.broker,
            reply,
            envelope.headers.clone(),
            Admission::Wait,
        )
        .await
    {
        tracing::warn!(trigger = %trigger.name, event.id = %envelope.event.id(), "reply refused by broker: {e}");
        let timeout = trigger
            .policy
            .timeout
            .or(Some(inner.options.attempt_timeout));
        let failure = (Some(400), Bytes::from(e.to_string()));
        dead_letter(trigger, envelope, failure, timeout, &inner.metrics).await;
    }
}

async fn dead_letter(
    trigger: &TriggerRuntime,
    envelope: &Envelope,
    failure: (Option<u16>, Bytes),
    timeout: Option<Duration>,
    metrics: &Metrics,
) {
    let (status, body) = failure;
    metrics.dead_lettered.get_or_create(&trigger.labels).inc();
    let event = &envelope.event;
    tracing::warn!(
        trigger = %format!("{}/{}", trigger.namespace, trigger.name),
        event.id = %event.id(),
        event.type = %event.ty(),
        event.source = %event.source(),
        status = ?status,
        dead_letter_sink = trigger.dead_letter.as_ref().map(|d| d.url.as_str()),
        "event dead-lettered"
    );
    let Some(Target {
        router: Some(router),
        path,
        url,
    }) = &trigger.dead_letter
    else {
        return;
    };
    let mut dead = event.clone();
    dead.set_extension(
        ERROR_DEST_EXTENSION,
        ExtensionValue::String(trigger.subscriber.url.clone()),
    );
    // Knative reports 500 when no response came back at all.
    dead.set_extension(
        ERROR_CODE_EXTENSION,
        ExtensionValue::Integer(i64::from(status.unwrap_or(500))),
    );
    let mut data = base64::engine::general_purpose::STANDARD.encode(&body);
    data.truncate(ERROR_DATA_MAX);
    dead.set_extension(ERROR_DATA_EXTENSION, ExtensionValue::String(data));
    let mut retry = 0;
    loop {
        match send(
            router,
            path,
            &dead,
            &envelope.headers,
            &trigger.namespace,
            timeout,
        )
        .await
        {
            Attempt::Delivered { .. } => return,
            Attempt::Failed {
                status, retryable, ..
            } => {
                if !retryable || retry >= trigger.policy.retry {
                    tracing::error!(
                        trigger = %trigger.name, event.id = %event.id(), ?status, sink = %url,
                        "dead letter sink refused the event; it is lost"
                    );
                    return;
                }
                retry += 1;
                tokio::time::sleep(trigger.policy.backoff(retry)).await;
            }
        }
    }
}

/// One binary-mode POST, exactly as Knative's dispatcher sends it, answered in process.
async fn send(
    router: &Router,
    path: &str,
    event: &Event,
    pass_through: &HeaderMap,
    namespace: &str,
    timeout: Option<Duration>,
) -> Attempt {
    let (headers, body) = match prow_events::encode_binary(event) {
        Ok(encoded) => encoded,
        Err(e) => {
            return Attempt::Failed {
                status: None,
                body: Bytes::from(e.to_string()),
                retryable: false,
            };
        }
    };
    let mut request = match Request::post(path).body(Body::from(body)) {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Failed {
                status: None,
                body: Bytes::from(format!("building the request for {path}: {e}")),
                retryable: false,
            };
        }
    };
    *request.headers_mut() = headers;
    let h = request.headers_mut();
    for (name, value) in pass_through {
        h.append(name.clone(), value.clone());
    }
    h.insert(
        HeaderName::from_static("prefer"),
        HeaderValue::from_static("reply"),
    );
    if let Ok(ns) = HeaderValue::from_str(namespace) {
        h.insert(HeaderName::from_static("kn-namespace"), ns);
    }
    let call = router.clone().oneshot(request);
    let response = match timeout {
        Some(t) => match tokio::time::timeout(t, call).await {
            Ok(r) => r,
            Err(_) => {
                return Attempt::Failed {
                    status: None,
                    body: Bytes::from_static(b"timeout"),
                    retryable: true,
                };
            }
        },
        None => call.await,
    };
    let Ok(response) = response;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            return Attempt::Failed {
                status: Some(500),
                body: Bytes::from(format!("reading response: {e}")),
                retryable: true,
            };
        }
    };
    if !status.is_success() {
        let code = status.as_u16();
        return Attempt::Failed {
            status: Some(code),
            body,
            retryable: should_retry(Some(code)),
        };
    }
    classify_success(&parts.headers, body)
}

/// A 2xx answer is either empty, or a CloudEvent (the reply); Knative's broker-filter turns
/// anything else into a 502, which the delivery then retries.
fn classify_success(headers: &HeaderMap, body: Bytes) -> Attempt {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_event = headers.contains_key("ce-specversion")
        || content_type.starts_with("application/cloudevents");
    if !is_event {
        if body.is_empty() {
            return Attempt::Delivered { reply: None };
        }
        return Attempt::Failed {
            status: Some(502),
            body: Bytes::from_static(
                b"received a non-empty response not recognized as CloudEvent. The response MUST be either empty or a valid CloudEvent",
            ),
            retryable: true,
        };
    }
    match prow_events::decode(headers, &body) {
        Ok(reply) => Attempt::Delivered {
            reply: Some(Box::new(reply)),
        },
        Err(e) => Attempt::Failed {
            status: Some(502),
            body: Bytes::from(e.to_string()),
            retryable: true,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn building_a_broker_outside_a_runtime_is_an_error_not_a_panic() {
        let m = Manifests::parse_str(
            "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default}",
            "t",
        )
        .unwrap();
        assert!(matches!(
            Broker::new(&m, HashMap::new(), BrokerOptions::default()),
            Err(BrokerError::NoRuntime)
        ));
    }

    #[test]
    fn ttl_is_defaulted_then_decremented() {
        let cases = [
            (None, 255),
            (Some(ExtensionValue::Integer(10)), 9),
            (Some(ExtensionValue::String("3".into())), 2),
            (Some(ExtensionValue::Integer(1)), 0),
            (Some(ExtensionValue::Integer(0)), 0),
            (Some(ExtensionValue::String("many".into())), 255),
            (Some(ExtensionValue::Boolean(true)), 255),
        ];
        for (current, want) in cases {
            assert_eq!(next_ttl(current.as_ref(), 255), want, "{current:?}");
        }
    }

    #[test]
    fn only_tracing_and_knative_headers_pass_through() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-request-id", "r1"),
            ("knative-foo", "1"),
            ("x-b3-traceid", "t"),
            ("retry-after", "5"),
            ("authorization", "secret"),
            ("ce-id", "1"),
            ("content-type", "application/json"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = pass_through_headers(&h);
        let mut names: Vec<_> = out.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            ["knative-foo", "retry-after", "x-b3-traceid", "x-request-id"]
        );
    }

    #[test]
    fn successful_responses_must_be_empty_or_a_cloudevent() {
        let empty = classify_success(&HeaderMap::new(), Bytes::new());
        assert!(matches!(empty, Attempt::Delivered { reply: None }));

        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let text = classify_success(&json, Bytes::from_static(b"{\"ok\":true}"));
        assert!(matches!(
            text,
            Attempt::Failed {
                status: Some(502),
                retryable: true,
                ..
            }
        ));

        let mut ce = json.clone();
        for (k, v) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "r1"),
            ("ce-type", "t"),
            ("ce-source", "/s"),
        ] {
            ce.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        match classify_success(&ce, Bytes::from_static(b"{}")) {
            Attempt::Delivered { reply: Some(e) } => assert_eq!(e.id(), "r1"),
            _ => panic!("expected a reply event"),
        }

        let mut broken = HeaderMap::new();
        broken.insert(
            HeaderName::from_static("ce-specversion"),
            HeaderValue::from_static("1.0"),
        );
        assert!(matches!(
            classify_success(&broken, Bytes::new()),
            Attempt::Failed {
                status: Some(502),
                ..
            }
        ));
    }

    #[test]
    fn destinations_resolve_to_mounted_services() {
        let services: HashMap<String, Router> = [("plank".to_string(), Router::new())].into();
        let dest: Destination = serde_norway::from_str(
            "{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: plank}, uri: /resync}",
        )
        .unwrap();
        let t = resolve(&dest, "prow", &services, "Trigger prow/x").unwrap();
        assert_eq!(t.url, "http://plank.prow.svc.cluster.local/resync");
        assert_eq!(t.path, "/resync");
        assert!(t.router.is_some());

        let missing: Destination = serde_norway::from_str(
            "{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letters}}",
        )
        .unwrap();
        let t = resolve(&missing, "prow", &services, "o").unwrap();
        assert!(t.router.is_none());
        assert_eq!(t.path, "/");

        for yaml in [
            "{uri: 'http://example.com/'}",
            "{ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}",
            "{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: plank}, uri: 'http://x/'}",
            "{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: plank}, uri: '/a b'}",
        ] {
            let d: Destination = serde_norway::from_str(yaml).unwrap();
            assert!(
                matches!(
                    resolve(&d, "prow", &services, "o"),
                    Err(BrokerError::UnsupportedDestination { .. })
                ),
                "{yaml}"
            );
        }
    }
}
