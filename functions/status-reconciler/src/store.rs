//! Where the last reconciled presubmits live between ticks: one ConfigMap the reconciler owns in
//! the ProwJob namespace (Prow keeps a YAML of the whole config in a file or bucket named by
//! `--status-path`; only the fields its comparisons read are kept here). Written with the
//! resourceVersion it was read at, so two overlapping ticks cannot both store.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use serde::{Deserialize, Serialize};

use crate::decide::JobSet;

/// The ConfigMap's key holding [`Stored`] as JSON.
pub const DATA_KEY: &str = "presubmits.json";

/// A ConfigMap holds at most 1 MiB; refuse to write more than fits with room for metadata.
const MAX_BYTES: usize = 1000 * 1024;

/// What the reconciler remembers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// The presubmits every open PR has been reconciled with, per repo.
    pub presubmits: JobSet,
    /// Where a repo's reconcile stopped when a tick ran out of budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// A repo half done: PRs up to `done_through` (by number) are reconciled with the repo's
/// presubmits of `fingerprint`; a later config change of the repo starts it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub repo: String,
    pub fingerprint: String,
    pub done_through: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ConfigMap {name}: {source}")]
    Kube {
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Not ours to overwrite: bad data means someone else wrote it, and guessing would
    /// retire or trigger on the whole config.
    #[error("ConfigMap {name} key {DATA_KEY} does not parse: {source}")]
    Json {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("ConfigMap {name} would hold {bytes} bytes, over the {MAX_BYTES} a ConfigMap can take")]
    TooBig { name: String, bytes: usize },
    #[error("ConfigMap {name} was written by someone else since this tick read it")]
    Conflict { name: String },
}

/// The reconciler's ConfigMap.
#[derive(Clone)]
pub struct Store {
    api: Api<ConfigMap>,
    name: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("name", &self.name).finish()
    }
}

impl Store {
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Store {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
        }
    }

    /// The stored state (`None` before the first tick) and the resourceVersion of the
    /// ConfigMap (`None` when it does not exist yet).
    pub async fn load(&self) -> Result<(Option<Stored>, Option<String>), StoreError> {
        let kube_err = |source| StoreError::Kube {
            name: self.name.clone(),
            source,
        };
        let Some(cm) = self.api.get_opt(&self.name).await.map_err(kube_err)? else {
            return Ok((None, None));
        };
        let version = cm.metadata.resource_version.clone();
        let Some(data) = cm.data.as_ref().and_then(|d| d.get(DATA_KEY)) else {
            return Ok((None, version));
        };
        let stored = serde_json::from_str(data).map_err(|source| StoreError::Json {
            name: self.name.clone(),
            source,
        })?;
        Ok((Some(stored), version))
    }

    /// Writes `stored`: creates the ConfigMap when `version` is `None`, else replaces the one
    /// read at `version`.
    pub async fn save(&self, stored: &Stored, version: Option<&str>) -> Result<usize, StoreError> {
        let data = serde_json::to_string(stored).map_err(|source| StoreError::Json {
            name: self.name.clone(),
            source,
        })?;
        let bytes = data.len();
        if bytes > MAX_BYTES {
            return Err(StoreError::TooBig {
                name: self.name.clone(),
                bytes,
            });
        }
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: version.map(str::to_owned),
                labels: Some(
                    [(
                        "app.kubernetes.io/component".to_owned(),
                        "status-reconciler".to_owned(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            data: Some([(DATA_KEY.to_owned(), data)].into()),
            ..ConfigMap::default()
        };
        let result = match version {
            None => self.api.create(&PostParams::default(), &cm).await,
            Some(_) => {
                self.api
                    .replace(&self.name, &PostParams::default(), &cm)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(bytes),
            Err(kube::Error::Api(status)) if status.code == 409 => Err(StoreError::Conflict {
                name: self.name.clone(),
            }),
            Err(source) => Err(StoreError::Kube {
                name: self.name.clone(),
                source,
            }),
        }
    }
}
