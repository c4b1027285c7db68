//! Durable object store: JSON objects keyed by (resource, namespace, name) in one redb file.
//!
//! Why redb: pure Rust (no C toolchain for `prow up`), ACID with durable commits (a write that
//! returned survives `kill -9`), a single file, no background compaction threads, and it opens in
//! milliseconds, which keeps a one-command local run fast. The global resourceVersion is stored in
//! the same transaction as the object it stamps, so the two can never disagree after a crash.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

const OBJECTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const RESOURCE_VERSION: &str = "resourceVersion";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("stored object {key} is not valid JSON: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("could not encode object {key}: {source}")]
    Encode {
        key: String,
        source: serde_json::Error,
    },
    #[error("could not initialise the store: {0}")]
    Init(String),
    #[error("store worker failed: {0}")]
    Worker(String),
}

fn db_err<E: Into<redb::Error>>(err: E) -> StoreError {
    StoreError::Db(err.into())
}

/// A write to one object.
#[derive(Debug)]
pub enum Change<'a> {
    /// Store the object; its `metadata.resourceVersion` is overwritten with the new version.
    Put(&'a mut Value),
    Delete,
}

pub struct Store {
    db: Database,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Store key; names and namespaces are DNS labels/subdomains, so `/` cannot occur inside them.
fn key(resource: &str, namespace: &str, name: &str) -> String {
    format!("{resource}/{namespace}/{name}")
}

impl Store {
    /// Opens (or creates) the store file at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::init(Database::create(path).map_err(db_err)?)
    }

    /// A store that lives in memory only (tests, throwaway runs).
    pub fn in_memory() -> Result<Store, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_err)?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Store, StoreError> {
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(OBJECTS).map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Store { db })
    }

    /// The newest committed resourceVersion (0 for an empty store).
    pub fn resource_version(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        Ok(meta
            .get(RESOURCE_VERSION)
            .map_err(db_err)?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    pub fn get(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        let k = key(resource, namespace, name);
        match objects.get(k.as_str()).map_err(db_err)? {
            Some(bytes) => Ok(Some(decode(&k, bytes.value())?)),
            None => Ok(None),
        }
    }

    /// All objects of `resource` (in `namespace`, or everywhere when `None`) plus the
    /// resourceVersion of that snapshot, read in one transaction.
    pub fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
    ) -> Result<(Vec<Value>, u64), StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        let rv = meta
            .get(RESOURCE_VERSION)
            .map_err(db_err)?
            .map(|v| v.value())
            .unwrap_or(0);
        let prefix = match namespace {
            Some(ns) => format!("{resource}/{ns}/"),
            None => format!("{resource}/"),
        };
        let mut items = Vec::new();
        for entry in objects.range(prefix.as_str()..).map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            items.push(decode(k.value(), v.value())?);
        }
        Ok((items, rv))
    }

    /// Applies `change` and bumps the global resourceVersion in one durable transaction.
    /// Returns the new resourceVersion.
    pub fn commit(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        change: Change<'_>,
    ) -> Result<u64, StoreError> {
        let k = key(resource, namespace, name);
        let txn = self.db.begin_write().map_err(db_err)?;
        let rv = {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let rv = meta
                .get(RESOURCE_VERSION)
                .map_err(db_err)?
                .map(|v| v.value())
                .unwrap_or(0)
                + 1;
            meta.insert(RESOURCE_VERSION, rv).map_err(db_err)?;
            let mut objects = txn.open_table(OBJECTS).map_err(db_err)?;
            match change {
                Change::Put(object) => {
                    object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                    let bytes =
                        serde_json::to_vec(object).map_err(|source| StoreError::Encode {
                            key: k.clone(),
                            source,
                        })?;
                    objects
                        .insert(k.as_str(), bytes.as_slice())
                        .map_err(db_err)?;
                }
                Change::Delete => {
                    objects.remove(k.as_str()).map_err(db_err)?;
                }
            }
            rv
        };
        txn.commit().map_err(db_err)?;
        Ok(rv)
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: key.to_string(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_write_gets_the_next_global_resource_version() {
        let store = Store::in_memory().unwrap();
        assert_eq!(store.resource_version().unwrap(), 0);
        let mut a = json!({"metadata": {"name": "a"}});
        assert_eq!(
            store
                .commit("pods", "ns", "a", Change::Put(&mut a))
                .unwrap(),
            1
        );
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        let mut b = json!({"metadata": {"name": "b"}});
        assert_eq!(
            store
                .commit("prowjobs", "ns", "b", Change::Put(&mut b))
                .unwrap(),
            2
        );
        assert_eq!(store.commit("pods", "ns", "a", Change::Delete).unwrap(), 3);
        assert_eq!(store.resource_version().unwrap(), 3);
        assert_eq!(store.get("pods", "ns", "a").unwrap(), None);
        assert_eq!(store.get("prowjobs", "ns", "b").unwrap(), Some(b));
    }

    #[test]
    fn list_is_scoped_by_resource_and_namespace() {
        let store = Store::in_memory().unwrap();
        for (res, ns, name) in [
            ("pods", "a", "x"),
            ("pods", "ab", "y"),
            ("pods", "b", "z"),
            ("podsx", "a", "w"),
        ] {
            let mut obj = json!({"metadata": {"name": name}});
            store.commit(res, ns, name, Change::Put(&mut obj)).unwrap();
        }
        let names = |items: Vec<Value>| -> Vec<String> {
            items
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (in_a, rv) = store.list("pods", Some("a")).unwrap();
        assert_eq!(names(in_a), vec!["x"]);
        assert_eq!(rv, 4);
        assert_eq!(
            names(store.list("pods", None).unwrap().0),
            vec!["x", "y", "z"]
        );
    }

    #[test]
    fn reopening_a_file_keeps_objects_and_the_version_counter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).unwrap();
            let mut obj = json!({"metadata": {"name": "a"}});
            store
                .commit("pods", "ns", "a", Change::Put(&mut obj))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version().unwrap(), 1);
        assert_eq!(
            store.get("pods", "ns", "a").unwrap().unwrap()["metadata"]["resourceVersion"],
            "1"
        );
    }
}
