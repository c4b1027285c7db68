//! Where cached GitHub answers live: the [`CacheStore`] trait, [`RedbCacheStore`] (one redb
//! file, durable across restarts; on a cluster a PersistentVolumeClaim) and
//! [`MemoryCacheStore`] (tests, and `--cache-dir` unset); [`LateStore`] answers from memory
//! until the durable file can be opened.
//!
//! Keys come from [`crate::decide::cache_key`]: path and query first, so the copies of one
//! path in every token's partition sit next to each other and a mutation's scope is one
//! ordered range scan.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::decide::{self, Scope};

/// Cached answers by cache key, each as [`encode`] lays it out.
const RESPONSES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("responses");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ghproxy store: {0}")]
    Db(#[from] redb::Error),
    #[error("ghproxy store: entry {key:?} cannot be read back: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("ghproxy store: entry cannot be encoded: {0}")]
    Encode(serde_json::Error),
}

fn db_err<E: Into<redb::Error>>(err: E) -> StoreError {
    StoreError::Db(err.into())
}

/// One cached answer of GitHub to a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    pub status: u16,
    /// Response headers as GitHub sent them (lower-case names), minus hop-by-hop ones.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Seconds since the epoch when GitHub last sent this body.
    pub stored_at: u64,
    /// Seconds since the epoch when GitHub last confirmed this copy (sent it, or answered
    /// 304); 0 once a mutation invalidated it, so the next read asks GitHub whatever the
    /// freshness window.
    pub validated_at: u64,
}

impl CachedResponse {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The validators for a conditional request: `If-None-Match` from the ETag, else
    /// `If-Modified-Since` from `Last-Modified`.
    pub fn validator(&self) -> Option<(&'static str, &str)> {
        self.header("etag")
            .map(|etag| ("if-none-match", etag))
            .or_else(|| {
                self.header("last-modified")
                    .map(|lm| ("if-modified-since", lm))
            })
    }
}

/// Seconds since the epoch, for [`CachedResponse::stored_at`].
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Storage of cached answers, shared by every request the proxy serves. Calls are blocking
/// (a redb transaction); the proxy makes them off the async workers.
pub trait CacheStore: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError>;
    fn put(&self, key: &str, response: &CachedResponse) -> Result<(), StoreError>;
    fn remove(&self, key: &str) -> Result<(), StoreError>;
    /// Marks every entry in one of `scopes`, whatever its partition, as needing GitHub's
    /// confirmation before it is served again (its body and ETag stay: if GitHub answers 304
    /// the copy still costs nothing); returns how many were marked.
    fn invalidate(&self, scopes: &[Scope]) -> Result<usize, StoreError>;
    /// Drops entries GitHub last sent longer than `max_age` ago (tokens that no longer exist
    /// leave their partitions behind); returns how many.
    fn prune(&self, max_age: Duration) -> Result<usize, StoreError>;
    fn len(&self) -> Result<usize, StoreError>;
    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

/// Status, headers and time as JSON behind a 4-byte length, then the body as it came: bodies
/// are most of the bytes, and JSON would quadruple them.
#[derive(Serialize, Deserialize)]
struct Meta<'a> {
    status: u16,
    #[serde(borrow)]
    headers: Vec<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    stored_at: u64,
    validated_at: u64,
}

fn encode(response: &CachedResponse) -> Result<Vec<u8>, StoreError> {
    let meta = Meta {
        status: response.status,
        headers: response
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().into(), v.as_str().into()))
            .collect(),
        stored_at: response.stored_at,
        validated_at: response.validated_at,
    };
    let meta = serde_json::to_vec(&meta).map_err(StoreError::Encode)?;
    let len = u32::try_from(meta.len())
        .map_err(|_| StoreError::Encode(serde::ser::Error::custom("headers over 4 GiB")))?;
    let mut bytes = Vec::with_capacity(4 + meta.len() + response.body.len());
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&response.body);
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Result<CachedResponse, String> {
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| "shorter than its length prefix".to_owned())?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|e| e.to_string())?;
    if rest.len() < len {
        return Err(format!(
            "{len} bytes of headers announced, {} there",
            rest.len()
        ));
    }
    let (meta, body) = rest.split_at(len);
    let meta: Meta<'_> = serde_json::from_slice(meta).map_err(|e| e.to_string())?;
    Ok(CachedResponse {
        status: meta.status,
        headers: meta
            .headers
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect(),
        body: body.to_vec(),
        stored_at: meta.stored_at,
        validated_at: meta.validated_at,
    })
}

fn in_scopes(scopes: &[Scope], key: &str) -> bool {
    let path = decide::key_path(key);
    scopes.iter().any(|s| s.covers(path))
}

fn too_old(response_stored_at: u64, max_age: Duration) -> bool {
    now_secs().saturating_sub(response_stored_at) > max_age.as_secs()
}

/// [`CacheStore`] in this process's memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryCacheStore {
    entries: Arc<Mutex<BTreeMap<String, CachedResponse>>>,
}

impl MemoryCacheStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CachedResponse>> {
        // Plain data: a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CacheStore for MemoryCacheStore {
    fn get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    fn put(&self, key: &str, response: &CachedResponse) -> Result<(), StoreError> {
        self.lock().insert(key.to_owned(), response.clone());
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    fn invalidate(&self, scopes: &[Scope]) -> Result<usize, StoreError> {
        let mut marked = 0;
        for (key, entry) in self.lock().iter_mut() {
            if entry.validated_at != 0 && in_scopes(scopes, key) {
                entry.validated_at = 0;
                marked += 1;
            }
        }
        Ok(marked)
    }

    fn prune(&self, max_age: Duration) -> Result<usize, StoreError> {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, r| !too_old(r.stored_at, max_age));
        Ok(before - entries.len())
    }

    fn len(&self) -> Result<usize, StoreError> {
        Ok(self.lock().len())
    }
}

/// [`CacheStore`] in one redb file: survives restarts, and redb repairs a file left by a
/// killed process when it is opened. One process opens the file at a time (redb locks it),
/// which is why ghproxy runs as a single instance.
pub struct RedbCacheStore {
    db: Database,
}

impl std::fmt::Debug for RedbCacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbCacheStore").finish_non_exhaustive()
    }
}

impl RedbCacheStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(RESPONSES).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    fn decode(key: &str, bytes: &[u8]) -> Result<CachedResponse, StoreError> {
        decode(bytes).map_err(|reason| StoreError::Corrupt {
            key: key.to_owned(),
            reason,
        })
    }
}

impl CacheStore for RedbCacheStore {
    fn get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(RESPONSES).map_err(db_err)?;
        match table.get(key).map_err(db_err)? {
            Some(value) => Self::decode(key, value.value()).map(Some),
            None => Ok(None),
        }
    }

    fn put(&self, key: &str, response: &CachedResponse) -> Result<(), StoreError> {
        let bytes = encode(response)?;
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(RESPONSES).map_err(db_err)?;
            table.insert(key, bytes.as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    fn remove(&self, key: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(RESPONSES).map_err(db_err)?;
            table.remove(key).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    fn invalidate(&self, scopes: &[Scope]) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let marked = {
            let mut table = txn.open_table(RESPONSES).map_err(db_err)?;
            let mut stale = Vec::new();
            for scope in scopes {
                let prefix = scope.prefix();
                for item in table.range(prefix..).map_err(db_err)? {
                    let (key, value) = item.map_err(db_err)?;
                    let key = key.value();
                    if !key.starts_with(prefix) {
                        break;
                    }
                    if scope.covers(decide::key_path(key)) {
                        let mut entry = Self::decode(key, value.value())?;
                        if entry.validated_at != 0 {
                            entry.validated_at = 0;
                            stale.push((key.to_owned(), encode(&entry)?));
                        }
                    }
                }
            }
            for (key, bytes) in &stale {
                table
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(db_err)?;
            }
            stale.len()
        };
        txn.commit().map_err(db_err)?;
        Ok(marked)
    }

    fn prune(&self, max_age: Duration) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let pruned = {
            let mut table = txn.open_table(RESPONSES).map_err(db_err)?;
            let before = table.len().map_err(db_err)?;
            // An entry that cannot be read is as good as gone.
            table
                .retain(|_, bytes| decode(bytes).is_ok_and(|r| !too_old(r.stored_at, max_age)))
                .map_err(db_err)?;
            before - table.len().map_err(db_err)?
        };
        txn.commit().map_err(db_err)?;
        Ok(usize::try_from(pruned).unwrap_or(usize::MAX))
    }

    fn len(&self) -> Result<usize, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(RESPONSES).map_err(db_err)?;
        let len = table.len().map_err(db_err)?;
        Ok(usize::try_from(len).unwrap_or(usize::MAX))
    }
}

/// Memory until a durable store is attached, then that store. A new Knative Revision starts
/// while the old one still holds the redb file's lock (and the volume); refusing to start
/// would keep the new Revision from ever becoming ready, so it serves from memory and
/// attaches the file once the old one let go.
#[derive(Debug, Default)]
pub struct LateStore {
    durable: std::sync::OnceLock<Arc<dyn CacheStore>>,
    memory: MemoryCacheStore,
}

impl LateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call goes to `store`; what memory held is dropped (it is a cache).
    /// Only the first attachment counts.
    pub fn attach(&self, store: Arc<dyn CacheStore>) {
        if self.durable.set(store).is_ok()
            && let Ok(mut entries) = self.memory.entries.lock()
        {
            entries.clear();
        }
    }

    pub fn is_durable(&self) -> bool {
        self.durable.get().is_some()
    }

    fn current(&self) -> &dyn CacheStore {
        match self.durable.get() {
            Some(store) => store.as_ref(),
            None => &self.memory,
        }
    }
}

impl CacheStore for LateStore {
    fn get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError> {
        self.current().get(key)
    }
    fn put(&self, key: &str, response: &CachedResponse) -> Result<(), StoreError> {
        self.current().put(key, response)
    }
    fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.current().remove(key)
    }
    fn invalidate(&self, scopes: &[Scope]) -> Result<usize, StoreError> {
        self.current().invalidate(scopes)
    }
    fn prune(&self, max_age: Duration) -> Result<usize, StoreError> {
        self.current().prune(max_age)
    }
    fn len(&self) -> Result<usize, StoreError> {
        self.current().len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decide::cache_key;

    fn response(body: &str, stored_at: u64) -> CachedResponse {
        CachedResponse {
            status: 200,
            headers: vec![("etag".into(), format!("\"{body}\""))],
            body: body.as_bytes().to_vec(),
            stored_at,
            validated_at: stored_at,
        }
    }

    fn exercise(store: &dyn CacheStore) {
        let now = now_secs();
        let labels_a = cache_key("/repos/o/r/issues/5/labels", "json", "a");
        let labels_b = cache_key("/repos/o/r/issues/5/labels?page=2", "json", "b");
        let issue_50 = cache_key("/repos/o/r/issues/50", "json", "a");
        let old = cache_key("/repos/o/r/branches", "json", "gone");
        store.put(&labels_a, &response("a", now)).unwrap();
        store.put(&labels_b, &response("b", now)).unwrap();
        store.put(&issue_50, &response("c", now)).unwrap();
        store.put(&old, &response("d", now - 3600)).unwrap();
        assert_eq!(store.len().unwrap(), 4);
        assert_eq!(
            store.get(&labels_a).unwrap().unwrap().validator(),
            Some(("if-none-match", "\"a\""))
        );

        let scopes = crate::decide::invalidation_scopes("/repos/o/r/issues/5/labels");
        assert_eq!(
            store.invalidate(&scopes).unwrap(),
            2,
            "both partitions' copies of issue 5's labels"
        );
        let stale = store.get(&labels_a).unwrap().unwrap();
        assert_eq!(stale.validated_at, 0);
        assert_eq!(stale.body, b"a", "the copy stays for a conditional request");
        assert_eq!(store.get(&labels_b).unwrap().unwrap().validated_at, 0);
        assert_ne!(
            store.get(&issue_50).unwrap().unwrap().validated_at,
            0,
            "issue 50 is another object"
        );
        assert_eq!(store.invalidate(&scopes).unwrap(), 0, "already stale");

        assert_eq!(store.prune(Duration::from_secs(600)).unwrap(), 1);
        assert!(store.get(&old).unwrap().is_none());
        for key in [&labels_a, &labels_b, &issue_50] {
            store.remove(key).unwrap();
        }
        assert!(store.is_empty().unwrap());
    }

    #[test]
    fn the_memory_store_marks_a_scope_stale_across_partitions_and_prunes_by_age() {
        exercise(&MemoryCacheStore::new());
    }

    #[test]
    fn a_late_store_answers_from_memory_until_the_file_is_attached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ghproxy.redb");
        let holder = RedbCacheStore::open(&path).unwrap();
        assert!(RedbCacheStore::open(&path).is_err(), "redb locks its file");
        let late = LateStore::new();
        let key = cache_key("/repos/o/r", "json", "a");
        late.put(&key, &response("memory", now_secs())).unwrap();
        assert_eq!(late.len().unwrap(), 1);
        drop(holder);
        late.attach(Arc::new(RedbCacheStore::open(&path).unwrap()));
        assert!(late.is_durable());
        assert!(late.get(&key).unwrap().is_none(), "now the file answers");
        late.put(&key, &response("durable", now_secs())).unwrap();
        assert!(
            RedbCacheStore::open(&path).is_err(),
            "held by the late store"
        );
    }

    #[test]
    fn the_redb_store_does_the_same_and_keeps_entries_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ghproxy.redb");
        exercise(&RedbCacheStore::open(&path).unwrap());
        let key = cache_key("/repos/o/r", "json", "a");
        RedbCacheStore::open(&path)
            .unwrap()
            .put(&key, &response("kept", now_secs()))
            .unwrap();
        let reopened = RedbCacheStore::open(&path).unwrap();
        assert_eq!(reopened.get(&key).unwrap().unwrap().body, b"kept");
    }
}
