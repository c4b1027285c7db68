//! Where the merge-pool index lives: one ConfigMap per repository in the ProwJob namespace
//! (JSON under `index.json`), written with the resourceVersion it was read at, so two tide
//! instances never both act on the same state: the second write fails with 409 and that
//! instance re-reads and decides again. An in-memory store with the same semantics serves the
//! benchmark and unit tests.

use std::collections::BTreeMap;
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
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// Someone else wrote since we read: re-read and decide again.
    Conflict,
}

#[derive(Clone)]
enum Backend {
    Kube(Box<kube::Api<ConfigMap>>),
    Memory(Arc<Mutex<BTreeMap<String, (u64, String)>>>),
}

/// The index store.
#[derive(Clone)]
pub struct IndexStore {
    backend: Backend,
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
        }
    }

    /// An in-process store (benchmarks, tests).
    pub fn memory() -> Self {
        IndexStore {
            backend: Backend::Memory(Arc::default()),
        }
    }

    pub async fn load(&self, org: &str, repo: &str) -> Result<Versioned, StoreError> {
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
            None => Ok(Versioned {
                index: RepoIndex::new(org, repo),
                version: None,
            }),
            Some((version, data)) => {
                let index = if data.is_empty() {
                    RepoIndex::new(org, repo)
                } else {
                    serde_json::from_str(&data).map_err(|source| StoreError::Json {
                        name: name.clone(),
                        source,
                    })?
                };
                Ok(Versioned {
                    index,
                    version: Some(version),
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
                    Ok(_) => Ok(Saved::Written),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(Saved::Conflict),
                    Err(source) => Err(StoreError::Kube { name, source }),
                }
            }
            Backend::Memory(map) => {
                let mut map = lock(map);
                let current = map.get(&name).map(|(v, _)| *v);
                let expected = version.and_then(|v| v.parse::<u64>().ok());
                if current != expected {
                    return Ok(Saved::Conflict);
                }
                map.insert(name, (current.unwrap_or(0) + 1, data));
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
