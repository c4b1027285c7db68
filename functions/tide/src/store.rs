//! Where the merge-pool index lives: one ConfigMap per repository in the ProwJob namespace
//! (JSON under `index.json`), written with the resourceVersion it was read at, so two tide
//! instances never both act on the same state: the second write fails with 409 and that
//! instance re-reads and decides again. An in-memory store with the same semantics serves the
//! benchmark and unit tests.
//!
//! Each instance keeps the indexes it last read or wrote, decoded, with their resourceVersion
//! ([`IndexStore::load`]): an event that changes the index then costs one conditional write
//! instead of a read and a write, and a stale copy (another instance wrote since) only costs a
//! 409 and a fresh read. A copy is never trusted for "nothing changed": see
//! [`Versioned::cached`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, ObjectMeta, PostParams};
use sha2::{Digest, Sha256};

use crate::index::RepoIndex;

/// Label on every index ConfigMap (Deck lists them by it).
pub const INDEX_LABEL: &str = "prow.k8s.io/tide-index";
/// Annotation naming the repository of an index ConfigMap.
pub const REPO_ANNOTATION: &str = "prow.k8s.io/tide-repo";
const DATA_KEY: &str = "index.json";

/// Why the index could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("tide index {name}: {source}")]
    Kube {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("tide index {name}: not JSON: {source}")]
    Json {
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// An index with the version it was read at (`None`: not stored yet).
#[derive(Debug, Clone)]
pub struct Versioned {
    pub index: RepoIndex,
    pub version: Option<String>,
    /// From this instance's copy, not read just now: it may be stale. A conditional write
    /// proves it was not; deciding that an event changed nothing needs a fresh read
    /// ([`IndexStore::load_fresh`]), else an event another instance's write made news would
    /// be lost.
    pub cached: bool,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// Someone else wrote since we read: re-read and decide again.
    Conflict,
}

/// How many bytes of encoded indexes one instance keeps decoded; beyond it the least recently
/// used are dropped (a ConfigMap holds at most 1 MiB, so at least 64 of the largest fit).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

struct Cached {
    index: RepoIndex,
    version: String,
    bytes: usize,
    used: u64,
}

/// This instance's copies, by ConfigMap name.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, Cached>,
    bytes: usize,
    clock: u64,
}

impl Cache {
    fn get(&mut self, name: &str) -> Option<(RepoIndex, String)> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(name).map(|entry| {
            entry.used = clock;
            (entry.index.clone(), entry.version.clone())
        })
    }

    fn put(&mut self, name: &str, index: &RepoIndex, version: String, bytes: usize) {
        self.remove(name);
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(
            name.to_owned(),
            Cached {
                index: index.clone(),
                version,
                bytes,
                used: self.clock,
            },
        );
        while self.bytes > CACHE_BYTES && self.entries.len() > 1 {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.entries.remove(name) {
            self.bytes -= old.bytes;
        }
    }
}

#[derive(Clone)]
enum Backend {
    Kube(Box<kube::Api<ConfigMap>>),
    Memory(Arc<Mutex<BTreeMap<String, (u64, String)>>>),
}

/// The index store; clones share one instance's copies.
#[derive(Clone)]
pub struct IndexStore {
    backend: Backend,
    cache: Arc<Mutex<Cache>>,
}

impl std::fmt::Debug for IndexStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Kube(_) => "configmaps",
            Backend::Memory(_) => "memory",
        };
        f.debug_struct("IndexStore")
            .field("backend", &kind)
            .finish()
    }
}

/// The ConfigMap name of a repository's index: DNS-safe and collision-free whatever the
/// org and repo are called.
pub fn configmap_name(org: &str, repo: &str) -> String {
    let digest = Sha256::digest(format!("{org}/{repo}").as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let readable: String = format!("{org}-{repo}")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("tide-{}-{hash}", readable.trim_matches('-'))
}

impl IndexStore {
    /// ConfigMaps in `namespace`.
    pub fn kube(client: kube::Client, namespace: &str) -> Self {
        IndexStore {
            backend: Backend::Kube(Box::new(kube::Api::namespaced(client, namespace))),
            cache: Arc::default(),
        }
    }

    /// An in-process store (benchmarks, tests).
    pub fn memory() -> Self {
        IndexStore {
            backend: Backend::Memory(Arc::default()),
            cache: Arc::default(),
        }
    }

    /// The same stored indexes as seen by another instance (its own copies): tests of what
    /// several instances do.
    pub fn another_instance(&self) -> Self {
        IndexStore {
            backend: self.backend.clone(),
            cache: Arc::default(),
        }
    }

    /// This instance's copy of the index when it has one (`cached`), else a fresh read.
    pub async fn load(&self, org: &str, repo: &str) -> Result<Versioned, StoreError> {
        let name = configmap_name(org, repo);
        if let Some((index, version)) = lock(&self.cache).get(&name) {
            return Ok(Versioned {
                index,
                version: Some(version),
                cached: true,
            });
        }
        self.load_fresh(org, repo).await
    }

    /// The index as stored now.
    pub async fn load_fresh(&self, org: &str, repo: &str) -> Result<Versioned, StoreError> {
        let name = configmap_name(org, repo);
        let stored: Option<(String, String)> = match &self.backend {
            Backend::Kube(api) => {
                let cm = api
                    .get_opt(&name)
                    .await
                    .map_err(|source| StoreError::Kube {
                        name: name.clone(),
                        source,
                    })?;
                cm.map(|cm| {
                    let version = cm.metadata.resource_version.unwrap_or_default();
                    let data = cm
                        .data
                        .and_then(|mut d| d.remove(DATA_KEY))
                        .unwrap_or_default();
                    (version, data)
                })
            }
            Backend::Memory(map) => lock(map)
                .get(&name)
                .map(|(v, data)| (v.to_string(), data.clone())),
        };
        match stored {
            None => {
                lock(&self.cache).remove(&name);
                Ok(Versioned {
                    index: RepoIndex::new(org, repo),
                    version: None,
                    cached: false,
                })
            }
            Some((version, data)) => {
                let index = if data.is_empty() {
                    RepoIndex::new(org, repo)
                } else {
                    serde_json::from_str(&data).map_err(|source| StoreError::Json {
                        name: name.clone(),
                        source,
                    })?
                };
                lock(&self.cache).put(&name, &index, version.clone(), data.len());
                Ok(Versioned {
                    index,
                    version: Some(version),
                    cached: false,
                })
            }
        }
    }

    /// Writes `index` if nobody wrote since `version` was read.
    pub async fn save(
        &self,
        index: &RepoIndex,
        version: Option<&str>,
    ) -> Result<Saved, StoreError> {
        let name = configmap_name(&index.org, &index.repo);
        let data = serde_json::to_string(index).map_err(|source| StoreError::Json {
            name: name.clone(),
            source,
        })?;
        let bytes = data.len();
        match &self.backend {
            Backend::Kube(api) => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        resource_version: version.map(str::to_owned),
                        labels: Some([(INDEX_LABEL.to_owned(), "true".to_owned())].into()),
                        annotations: Some(
                            [(
                                REPO_ANNOTATION.to_owned(),
                                format!("{}/{}", index.org, index.repo),
                            )]
                            .into(),
                        ),
                        ..ObjectMeta::default()
                    },
                    data: Some([(DATA_KEY.to_owned(), data)].into()),
                    ..ConfigMap::default()
                };
                let result = match version {
                    None => api.create(&PostParams::default(), &cm).await,
                    Some(_) => api.replace(&name, &PostParams::default(), &cm).await,
                };
                match result {
                    Ok(written) => {
                        match written.metadata.resource_version {
                            Some(version) => lock(&self.cache).put(&name, index, version, bytes),
                            None => lock(&self.cache).remove(&name),
                        }
                        Ok(Saved::Written)
                    }
                    // 409 on a replace (stale version) and on a create (someone created it).
                    Err(kube::Error::Api(status)) if status.code == 409 => {
                        lock(&self.cache).remove(&name);
                        Ok(Saved::Conflict)
                    }
                    Err(source) => {
                        lock(&self.cache).remove(&name);
                        Err(StoreError::Kube { name, source })
                    }
                }
            }
            Backend::Memory(map) => {
                let mut map = lock(map);
                let current = map.get(&name).map(|(v, _)| *v);
                let expected = version.and_then(|v| v.parse::<u64>().ok());
                if current != expected {
                    lock(&self.cache).remove(&name);
                    return Ok(Saved::Conflict);
                }
                let next = current.unwrap_or(0) + 1;
                map.insert(name.clone(), (next, data));
                lock(&self.cache).put(&name, index, next.to_string(), bytes);
                Ok(Saved::Written)
            }
        }
    }

    /// Every stored index (Deck's pages, the resync tick).
    pub async fn list(&self) -> Result<Vec<RepoIndex>, StoreError> {
        let raw: Vec<(String, String)> = match &self.backend {
            Backend::Kube(api) => api
                .list(&ListParams::default().labels(&format!("{INDEX_LABEL}=true")))
                .await
                .map_err(|source| StoreError::Kube {
                    name: "*".to_owned(),
                    source,
                })?
                .items
                .into_iter()
                .map(|cm| {
                    let name = cm.metadata.name.unwrap_or_default();
                    let data = cm
                        .data
                        .and_then(|mut d| d.remove(DATA_KEY))
                        .unwrap_or_default();
                    (name, data)
                })
                .collect(),
            Backend::Memory(map) => lock(map)
                .iter()
                .map(|(name, (_, data))| (name.clone(), data.clone()))
                .collect(),
        };
        raw.into_iter()
            .filter(|(_, data)| !data.is_empty())
            .map(|(name, data)| {
                serde_json::from_str(&data).map_err(|source| StoreError::Json { name, source })
            })
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn configmap_names_are_dns_safe_and_distinct() {
        let a = configmap_name("Acme_Corp", "my.repo");
        assert!(a.starts_with("tide-acme-corp-my-repo-"), "{a}");
        assert!(a.len() <= 63);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_ne!(configmap_name("a-b", "c"), configmap_name("a", "b-c"));
    }

    #[tokio::test]
    async fn a_write_from_a_stale_read_conflicts() {
        let store = IndexStore::memory();
        let first = store.load("acme", "foo").await.unwrap();
        let second = store.load("acme", "foo").await.unwrap();
        assert_eq!(
            store
                .save(&first.index, first.version.as_deref())
                .await
                .unwrap(),
            Saved::Written
        );
        assert_eq!(
            store
                .save(&second.index, second.version.as_deref())
                .await
                .unwrap(),
            Saved::Conflict
        );
        let again = store.load("acme", "foo").await.unwrap();
        assert_eq!(
            store
                .save(&again.index, again.version.as_deref())
                .await
                .unwrap(),
            Saved::Written
        );
        assert_eq!(store.list().await.unwrap().len(), 1);
    }
}
