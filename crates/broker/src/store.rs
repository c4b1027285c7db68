//! Where the broker keeps accepted events until every Trigger they matched is done with them.
//!
//! An event is written once, with one delivery record per matching Trigger, in a single
//! transaction, before ingress answers 202. A delivery record goes when its subscriber answered
//! 2xx or the event was dead-lettered; the event goes with its last delivery record. Whatever is
//! left when the process dies is sent again by the next broker opened on the same store:
//! at-least-once, which the subscribers absorb (deterministic ProwJob names, idempotent creates).
//!
//! [`RedbStore`] is the durable one `prow up` uses; [`MemoryStore`] keeps the same records in
//! memory, for tests that restart a broker within one process. A broker without any store (the
//! default) keeps events only in its queues.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use cloudevents::Event;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

/// Event bytes by sequence number.
const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");
/// One row per delivery still owed: (event sequence number, Trigger `namespace/name`).
const DELIVERIES: TableDefinition<'_, (u64, &str), ()> = TableDefinition::new("deliveries");
/// Operations folded into one write transaction when several are waiting (group commit).
const MAX_BATCH: usize = 512;
/// Version byte in front of every stored event.
const RECORD_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("broker store: {0}")]
    Db(#[from] redb::Error),
    #[error("broker store: event {seq} cannot be read back: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("broker store: event cannot be encoded: {0}")]
    Encode(String),
    #[error("broker store: write failed: {0}")]
    Write(String),
    #[error("broker store: the writer thread is gone")]
    Closed,
    #[error("broker store: starting the writer thread: {0}")]
    Thread(std::io::Error),
}

fn db_err<E: Into<redb::Error>>(err: E) -> StoreError {
    StoreError::Db(err.into())
}

/// An accepted event as the broker delivers it: attributes already stamped (arrival time, no
/// TTL), the TTL it travels with, and the request headers passed through to subscribers.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: Event,
    pub ttl: i64,
    pub headers: HeaderMap,
}

/// One delivery still owed: event `seq` to the Trigger `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeliveryKey {
    pub seq: u64,
    pub trigger: String,
}

/// Storage behind a durable broker. `accept` must be atomic: after a crash either the event and
/// all its deliveries are there, or none of it is.
pub trait DeliveryStore: Send + Sync + 'static {
    /// Persists `event`, owed to each of `triggers`, in one transaction; returns its sequence
    /// number once the write is durable.
    fn accept<'a>(
        &'a self,
        event: &'a StoredEvent,
        triggers: &'a [&'a str],
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// Forgets one delivery (2xx or dead-lettered), and the event with its last delivery.
    fn complete<'a>(&'a self, seq: u64, trigger: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Every delivery still owed, oldest event first.
    fn pending(&self) -> Result<Vec<DeliveryKey>, StoreError>;
    /// The stored event `seq`, if any delivery still owes it.
    fn event(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError>;
}

/// A store in memory: survives a broker being dropped and rebuilt on it, not the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    next: u64,
    events: BTreeMap<u64, (StoredEvent, BTreeSet<String>)>,
}

impl MemoryStore {
    pub fn new() -> Arc<MemoryStore> {
        Arc::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DeliveryStore for MemoryStore {
    fn accept<'a>(
        &'a self,
        event: &'a StoredEvent,
        triggers: &'a [&'a str],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let mut state = self.lock();
        state.next += 1;
        let seq = state.next;
        let owed = triggers.iter().map(|t| t.to_string()).collect();
        state.events.insert(seq, (event.clone(), owed));
        futures::future::ready(Ok(seq)).boxed()
    }

    fn complete<'a>(&'a self, seq: u64, trigger: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut state = self.lock();
        if let Some((_, owed)) = state.events.get_mut(&seq) {
            owed.remove(trigger);
            if owed.is_empty() {
                state.events.remove(&seq);
            }
        }
        futures::future::ready(Ok(())).boxed()
    }

    fn pending(&self) -> Result<Vec<DeliveryKey>, StoreError> {
        Ok(self
            .lock()
            .events
            .iter()
            .flat_map(|(seq, (_, owed))| {
                owed.iter().map(|t| DeliveryKey {
                    seq: *seq,
                    trigger: t.clone(),
                })
            })
            .collect())
    }

    fn event(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.lock().events.get(&seq).map(|(e, _)| e.clone()))
    }
}

/// The durable store: one redb file, written by one thread that folds whatever writes are waiting
/// into a single transaction with a durable commit (group commit), so concurrent publishers share
/// an fsync instead of queueing for one each.
pub struct RedbStore {
    db: Arc<Database>,
    ops: Option<std::sync::mpsc::Sender<Op>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

enum Op {
    Accept {
        record: Bytes,
        triggers: Vec<String>,
        done: oneshot::Sender<Result<u64, String>>,
    },
    Complete {
        seq: u64,
        trigger: String,
        done: oneshot::Sender<Result<(), String>>,
    },
}

impl RedbStore {
    /// Opens (or creates) the store at `path`; a file left by a killed process is repaired by
    /// redb on open.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        Self::init(Database::create(path).map_err(db_err)?)
    }

    /// The same store on redb's in-memory backend (benchmarks of the store's own cost).
    pub fn in_memory() -> Result<RedbStore, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_err)?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<RedbStore, StoreError> {
        let txn = db.begin_write().map_err(db_err)?;
        let next = {
            let events = txn.open_table(EVENTS).map_err(db_err)?;
            txn.open_table(DELIVERIES).map_err(db_err)?;
            events
                .last()
                .map_err(db_err)?
                .map(|(k, _)| k.value() + 1)
                .unwrap_or(1)
        };
        txn.commit().map_err(db_err)?;
        let db = Arc::new(db);
        let (ops, rx) = std::sync::mpsc::channel();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("broker-store".into())
            .spawn(move || write_loop(&writer_db, next, &rx))
            .map_err(StoreError::Thread)?;
        Ok(RedbStore {
            db,
            ops: Some(ops),
            writer: Some(writer),
        })
    }

    fn submit(&self, op: Op) -> Result<(), StoreError> {
        self.ops
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(op)
            .map_err(|_| StoreError::Closed)
    }
}

impl Drop for RedbStore {
    /// Lets the writer finish its batch and closes the file, so the store can be reopened at once.
    fn drop(&mut self) {
        self.ops.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl DeliveryStore for RedbStore {
    fn accept<'a>(
        &'a self,
        event: &'a StoredEvent,
        triggers: &'a [&'a str],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        async move {
            let record = encode(event)?;
            let (done, answer) = oneshot::channel();
            self.submit(Op::Accept {
                record,
                triggers: triggers.iter().map(|t| t.to_string()).collect(),
                done,
            })?;
            answer
                .await
                .map_err(|_| StoreError::Closed)?
                .map_err(StoreError::Write)
        }
        .boxed()
    }

    fn complete<'a>(&'a self, seq: u64, trigger: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let (done, answer) = oneshot::channel();
            self.submit(Op::Complete {
                seq,
                trigger: trigger.to_string(),
                done,
            })?;
            answer
                .await
                .map_err(|_| StoreError::Closed)?
                .map_err(StoreError::Write)
        }
        .boxed()
    }

    fn pending(&self) -> Result<Vec<DeliveryKey>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let deliveries = txn.open_table(DELIVERIES).map_err(db_err)?;
        let mut keys = Vec::new();
        for row in deliveries.iter().map_err(db_err)? {
            let (k, _) = row.map_err(db_err)?;
            let (seq, trigger) = k.value();
            keys.push(DeliveryKey {
                seq,
                trigger: trigger.to_string(),
            });
        }
        Ok(keys)
    }

    fn event(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let events = txn.open_table(EVENTS).map_err(db_err)?;
        let Some(bytes) = events.get(seq).map_err(db_err)? else {
            return Ok(None);
        };
        decode(bytes.value())
            .map(Some)
            .map_err(|reason| StoreError::Corrupt { seq, reason })
    }
}

/// The writer thread: takes every operation waiting (up to `MAX_BATCH`), applies them in one
/// transaction, commits durably, then answers each. Ends when the store is dropped.
fn write_loop(db: &Database, mut next: u64, ops: &std::sync::mpsc::Receiver<Op>) {
    while let Ok(first) = ops.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let start = next;
        match apply(db, &mut next, &batch) {
            Ok(seqs) => {
                let mut seqs = seqs.into_iter();
                for op in batch {
                    match op {
                        Op::Accept { done, .. } => {
                            let _ = done.send(seqs.next().ok_or_else(|| "no sequence".into()));
                        }
                        Op::Complete { done, .. } => {
                            let _ = done.send(Ok(()));
                        }
                    }
                }
            }
            Err(e) => {
                next = start;
                let message = e.to_string();
                tracing::error!(error = %message, "broker store write failed");
                for op in batch {
                    match op {
                        Op::Accept { done, .. } => {
                            let _ = done.send(Err(message.clone()));
                        }
                        Op::Complete { done, .. } => {
                            let _ = done.send(Err(message.clone()));
                        }
                    }
                }
            }
        }
    }
}

/// One transaction for a batch; returns the sequence numbers given to its accepts, in order.
fn apply(db: &Database, next: &mut u64, batch: &[Op]) -> Result<Vec<u64>, StoreError> {
    // Durability::Immediate (redb's default): the commit returns once it is on disk.
    let txn = db.begin_write().map_err(db_err)?;
    let mut seqs = Vec::new();
    {
        let mut events = txn.open_table(EVENTS).map_err(db_err)?;
        let mut deliveries = txn.open_table(DELIVERIES).map_err(db_err)?;
        for op in batch {
            match op {
                Op::Accept {
                    record, triggers, ..
                } => {
                    let seq = *next;
                    *next += 1;
                    events.insert(seq, record.as_ref()).map_err(db_err)?;
                    for t in triggers {
                        deliveries.insert((seq, t.as_str()), ()).map_err(db_err)?;
                    }
                    seqs.push(seq);
                }
                Op::Complete { seq, trigger, .. } => {
                    deliveries
                        .remove((*seq, trigger.as_str()))
                        .map_err(db_err)?;
                    let more = deliveries
                        .range((*seq, "")..(*seq + 1, ""))
                        .map_err(db_err)?
                        .next()
                        .is_some();
                    if !more {
                        events.remove(*seq).map_err(db_err)?;
                    }
                }
            }
        }
    }
    txn.commit().map_err(db_err)?;
    Ok(seqs)
}

/// `[1][ttl i64][passed headers][event headers][body]`: the event in CloudEvents binary mode,
/// the form it is delivered in, so reading it back is the decoding every subscriber does.
fn encode(stored: &StoredEvent) -> Result<Bytes, StoreError> {
    let (headers, body) =
        prow_events::encode_binary(&stored.event).map_err(|e| StoreError::Encode(e.to_string()))?;
    let mut out = BytesMut::with_capacity(body.len() + 512);
    out.put_u8(RECORD_V1);
    out.put_i64_le(stored.ttl);
    put_headers(&mut out, &stored.headers);
    put_headers(&mut out, &headers);
    out.put_slice(&body);
    Ok(out.freeze())
}

fn put_headers(out: &mut BytesMut, headers: &HeaderMap) {
    out.put_u32_le(u32::try_from(headers.len()).unwrap_or(u32::MAX));
    for (name, value) in headers {
        put_bytes(out, name.as_str().as_bytes());
        put_bytes(out, value.as_bytes());
    }
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u32_le(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.put_slice(bytes);
}

fn decode(mut bytes: &[u8]) -> Result<StoredEvent, String> {
    if bytes.try_get_u8().map_err(|e| e.to_string())? != RECORD_V1 {
        return Err("unknown record version".into());
    }
    let ttl = bytes.try_get_i64_le().map_err(|e| e.to_string())?;
    let headers = get_headers(&mut bytes)?;
    let event_headers = get_headers(&mut bytes)?;
    let event = prow_events::decode(&event_headers, bytes).map_err(|e| e.to_string())?;
    Ok(StoredEvent {
        event,
        ttl,
        headers,
    })
}

fn get_headers(bytes: &mut &[u8]) -> Result<HeaderMap, String> {
    let n = bytes.try_get_u32_le().map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::new();
    for _ in 0..n {
        let name = get_bytes(bytes)?;
        let value = get_bytes(bytes)?;
        headers.append(
            HeaderName::from_bytes(name).map_err(|e| e.to_string())?,
            HeaderValue::from_bytes(value).map_err(|e| e.to_string())?,
        );
    }
    Ok(headers)
}

fn get_bytes<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = bytes.try_get_u32_le().map_err(|e| e.to_string())? as usize;
    if bytes.len() < len {
        return Err("truncated record".into());
    }
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Ok(head)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};

    fn stored(id: &str) -> StoredEvent {
        let event = EventBuilderV10::new()
            .id(id)
            .ty("dev.prow.github.pull_request")
            .source("https://github.com/o/r")
            .extension("action", "opened")
            .data("application/json", br#"{"number":7}"#.to_vec())
            .build()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("r-1"));
        StoredEvent {
            event,
            ttl: 254,
            headers,
        }
    }

    #[test]
    fn records_read_back_as_they_were_written() {
        let original = stored("d-1");
        let back = decode(&encode(&original).unwrap()).unwrap();
        assert_eq!(back.ttl, 254);
        assert_eq!(back.headers, original.headers);
        assert_eq!(back.event.id(), "d-1");
        assert_eq!(back.event.ty(), "dev.prow.github.pull_request");
        assert_eq!(
            prow_events::data_bytes(&back.event).unwrap().as_ref(),
            br#"{"number":7}"#
        );
        assert!(decode(&[2]).is_err());
        assert!(decode(&encode(&original).unwrap()[..12]).is_err());
    }

    #[tokio::test]
    async fn an_event_goes_with_its_last_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.redb");
        let store = RedbStore::open(&path).unwrap();
        let e = stored("d-1");
        let a = store.accept(&e, &["prow/a", "prow/b"]).await.unwrap();
        let b = store.accept(&e, &["prow/a"]).await.unwrap();
        assert!(b > a);
        store.complete(a, "prow/a").await.unwrap();
        assert!(store.event(a).unwrap().is_some());
        store.complete(a, "prow/b").await.unwrap();
        assert!(store.event(a).unwrap().is_none());
        drop(store);

        let store = RedbStore::open(&path).unwrap();
        assert_eq!(
            store.pending().unwrap(),
            [DeliveryKey {
                seq: b,
                trigger: "prow/a".into()
            }]
        );
        // Numbering continues after the newest stored event.
        let c = store.accept(&e, &["prow/a"]).await.unwrap();
        assert!(c > b);
    }
}
