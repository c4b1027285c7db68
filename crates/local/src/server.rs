//! `ApiServer`: the object operations (get, list, create, update, patch, delete) over the store and event hub.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::events::{EventType, Expired, Hub, StoredEvent, Subscription};
use crate::logs::{LogSource, NoLogs};
use crate::object::{self, Prepared, UpdatePlan, WriteContext};
use crate::patch::{self, PatchError, PatchKind};
use crate::resources::{ALL, NAMESPACES, ResourceInfo};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Change, Store, StoreError};

/// How many past events a watch can resume from.
const HISTORY: usize = 4096;

/// Per-request write options from the query string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `fieldValidation=Strict`.
    pub strict: bool,
    /// `dryRun=All`: validate and answer, but store nothing.
    pub dry_run: bool,
}

/// An answer to a write: the resulting object, whether it was created, and warnings to pass on.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub object: Value,
    pub created: bool,
    pub warnings: Vec<String>,
}

/// DELETE preconditions (`DeleteOptions.preconditions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// Selects objects in a list, watch or deletecollection.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object["metadata"].get("labels")) && self.fields.matches(object)
    }
}

enum Mutation {
    Put(Value),
    Delete(Value),
    Unchanged(Value),
}

struct Inner {
    store: Store,
    hub: Hub,
    /// Serialises read-modify-write cycles and keeps events published in resourceVersion order.
    write: Mutex<()>,
    stopping: tokio::sync::watch::Sender<bool>,
}

/// The embedded Kubernetes API server's state; cheap to clone.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<Inner>,
    logs: Arc<dyn LogSource>,
    bookmark_interval: Duration,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Opens (or creates) the durable store at `path`.
    pub fn open(path: &Path) -> Result<ApiServer, StoreError> {
        Self::with_store(Store::open(path)?)
    }

    /// A server whose objects live in memory only.
    pub fn in_memory() -> Result<ApiServer, StoreError> {
        Self::with_store(Store::in_memory()?)
    }

    fn with_store(store: Store) -> Result<ApiServer, StoreError> {
        let rv = store.resource_version()?;
        let server = ApiServer {
            inner: Arc::new(Inner {
                store,
                hub: Hub::new(rv, HISTORY),
                write: Mutex::new(()),
                stopping: tokio::sync::watch::channel(false).0,
            }),
            logs: Arc::new(NoLogs),
            bookmark_interval: Duration::from_secs(30),
        };
        server
            .ensure_namespace_blocking("default")
            .map_err(|e| match e {
                ApiError::Store(e) => e,
                other => StoreError::Init(other.to_string()),
            })?;
        Ok(server)
    }

    /// Uses `logs` to answer `pods/{name}/log` (the local kubelet's output).
    pub fn with_log_source(mut self, logs: Arc<dyn LogSource>) -> ApiServer {
        self.logs = logs;
        self
    }

    /// How often idle watches that allow bookmarks receive one (default 30 s).
    pub fn with_bookmark_interval(mut self, every: Duration) -> ApiServer {
        self.bookmark_interval = every;
        self
    }

    pub fn log_source(&self) -> &Arc<dyn LogSource> {
        &self.logs
    }

    pub fn bookmark_interval(&self) -> Duration {
        self.bookmark_interval
    }

    /// Every committed change from now on (for in-process consumers, e.g. an ApiServerSource).
    pub fn changes(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.inner.hub.live()
    }

    pub(crate) fn subscribe(&self, since: u64) -> Result<Subscription, Expired> {
        self.inner.hub.subscribe(since)
    }

    /// Resolves once [`ApiServer::stop`] was called; long-running responses end then.
    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }

    /// Ends watches and log follows so a graceful shutdown does not wait for them.
    pub fn stop(&self) {
        self.inner.stopping.send_replace(true);
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&ApiServer) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| ApiError::Store(StoreError::Worker(e.to_string())))?
    }

    /// Runs one read-modify-write cycle on an object and publishes the resulting event.
    fn mutate(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        dry_run: bool,
        decide: impl FnOnce(Option<&Value>) -> Result<Mutation, ApiError>,
    ) -> Result<Value, ApiError> {
        let inner = &self.inner;
        let _guard = inner.write.lock().unwrap_or_else(|p| p.into_inner());
        let current = inner.store.get(&resource.qualified(), namespace, name)?;
        let mutation = decide(current.as_ref())?;
        if dry_run {
            return Ok(match mutation {
                Mutation::Put(v) | Mutation::Delete(v) | Mutation::Unchanged(v) => v,
            });
        }
        let (kind, object) = match mutation {
            Mutation::Unchanged(object) => return Ok(object),
            Mutation::Put(mut object) => {
                let rv = inner.store.commit(
                    &resource.qualified(),
                    namespace,
                    name,
                    Change::Put(&mut object),
                )?;
                let kind = if current.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (kind, (rv, object))
            }
            Mutation::Delete(mut object) => {
                let rv =
                    inner
                        .store
                        .commit(&resource.qualified(), namespace, name, Change::Delete)?;
                // A DELETED event carries the last state stamped with the deletion's version.
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                (EventType::Deleted, (rv, object))
            }
        };
        let (rv, object) = object;
        inner.hub.publish(StoredEvent {
            kind,
            resource,
            namespace: namespace.to_string(),
            resource_version: rv,
            object: object.clone(),
            previous: current,
        });
        Ok(object)
    }

    fn context<'a>(
        &self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        strict: bool,
    ) -> WriteContext<'a> {
        WriteContext {
            resource,
            namespace,
            now: Utc::now(),
            uid: uuid::Uuid::new_v4().to_string(),
            strict,
        }
    }

    fn ensure_namespace_blocking(&self, namespace: &str) -> Result<(), ApiError> {
        if namespace.is_empty()
            || self
                .inner
                .store
                .get(&NAMESPACES.qualified(), "", namespace)?
                .is_some()
        {
            return Ok(());
        }
        let ctx = self.context(&NAMESPACES, "", false);
        let body = json!({"metadata": {"name": namespace}});
        let Prepared { object, .. } = object::prepare_create(&ctx, body)?;
        self.mutate(&NAMESPACES, "", namespace, false, |current| {
            Ok(match current {
                Some(existing) => Mutation::Unchanged(existing.clone()),
                None => Mutation::Put(object),
            })
        })?;
        Ok(())
    }

    pub async fn get(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let (namespace, name) = (namespace.to_string(), name.to_string());
        self.blocking(move |this| {
            this.inner
                .store
                .get(&resource.qualified(), &namespace, &name)?
                .ok_or(ApiError::NotFound { resource, name })
        })
        .await
    }

    /// Matching objects and the resourceVersion of the snapshot they come from.
    pub async fn list(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        filter: &Filter,
    ) -> Result<(Vec<Value>, u64), ApiError> {
        let namespace = namespace.map(str::to_string);
        let filter = filter.clone();
        self.blocking(move |this| {
            let (items, rv) = this
                .inner
                .store
                .list(&resource.qualified(), namespace.as_deref())?;
            Ok((
                items.into_iter().filter(|o| filter.matches(o)).collect(),
                rv,
            ))
        })
        .await
    }

    pub async fn create(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        body: Value,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let namespace = namespace.to_string();
        self.blocking(move |this| {
            let ctx = this.context(resource, &namespace, opts.strict);
            let Prepared { object, warnings } = object::prepare_create(&ctx, body)?;
            if resource.namespaced && !opts.dry_run {
                this.ensure_namespace_blocking(&namespace)?;
            }
            let name = object::name_of(&object).to_string();
            let object =
                this.mutate(
                    resource,
                    &namespace,
                    &name,
                    opts.dry_run,
                    |current| match current {
                        Some(_) => Err(ApiError::AlreadyExists {
                            resource,
                            name: name.clone(),
                        }),
                        None => Ok(Mutation::Put(object)),
                    },
                )?;
            Ok(Written {
                object,
                created: true,
                warnings,
            })
        })
        .await
    }

    /// PUT on the object (`status_only = false`) or on its `/status` subresource.
    pub async fn update(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        body: Value,
        status_only: bool,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let (namespace, name) = (namespace.to_string(), name.to_string());
        self.blocking(move |this| {
            this.write_existing(resource, &namespace, &name, status_only, opts, |_| Ok(body))
        })
        .await
    }

    /// PATCH on the object or its `/status`; an apply patch creates a missing object.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        kind: PatchKind,
        patch_body: Value,
        status_only: bool,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let (namespace, name) = (namespace.to_string(), name.to_string());
        let exists = self.get(resource, &namespace, &name).await.is_ok();
        if kind == PatchKind::Apply && !exists && !status_only {
            let mut body = patch_body;
            // Indexing into a scalar `metadata` would panic (found by fuzz/kube_api).
            if body
                .get("metadata")
                .is_some_and(|m| !m.is_object() && !m.is_null())
            {
                return Err(ApiError::BadRequest(
                    "metadata: expected an object".to_owned(),
                ));
            }
            body["metadata"]["name"] = json!(name);
            return self.create(resource, &namespace, body, opts).await;
        }
        self.blocking(move |this| {
            this.write_existing(resource, &namespace, &name, status_only, opts, |current| {
                let mut patched = current.clone();
                patch::apply(kind, &mut patched, &patch_body).map_err(|e| match e {
                    PatchError::TestFailed(_) => ApiError::Conflict {
                        resource,
                        name: name.clone(),
                        reason: e.to_string(),
                    },
                    other => ApiError::BadRequest(other.to_string()),
                })?;
                Ok(patched)
            })
        })
        .await
    }

    /// Shared tail of update and patch: builds the new object from the current one and stores it.
    fn write_existing(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        status_only: bool,
        opts: WriteOptions,
        build: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Written, ApiError> {
        let ctx = self.context(resource, namespace, opts.strict);
        let mut warnings = Vec::new();
        let object = self.mutate(resource, namespace, name, opts.dry_run, |current| {
            let current = current.ok_or_else(|| ApiError::NotFound {
                resource,
                name: name.to_string(),
            })?;
            let new = build(current)?;
            match object::prepare_update(&ctx, current, new, status_only)? {
                UpdatePlan::Unchanged => Ok(Mutation::Unchanged(current.clone())),
                UpdatePlan::Write(prepared) => {
                    warnings = prepared.warnings;
                    let finalized = prepared.object["metadata"]
                        .get("deletionTimestamp")
                        .is_some()
                        && !object::has_finalizers(&prepared.object);
                    Ok(if finalized {
                        Mutation::Delete(prepared.object)
                    } else {
                        Mutation::Put(prepared.object)
                    })
                }
            }
        })?;
        Ok(Written {
            object,
            created: false,
            warnings,
        })
    }

    /// Deletes an object (or marks it for deletion while finalizers remain) and returns its last state.
    pub async fn delete(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        preconditions: Preconditions,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let (namespace, name) = (namespace.to_string(), name.to_string());
        self.blocking(move |this| {
            let deleted =
                this.delete_blocking(resource, &namespace, &name, &preconditions, dry_run)?;
            if resource.plural == NAMESPACES.plural
                && !dry_run
                && deleted["metadata"].get("deletionTimestamp").is_none()
            {
                this.delete_namespace_contents(&name)?;
            }
            Ok(deleted)
        })
        .await
    }

    fn delete_blocking(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        preconditions: &Preconditions,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let now = object::timestamp(Utc::now());
        self.mutate(resource, namespace, name, dry_run, |current| {
            let current = current.ok_or_else(|| ApiError::NotFound {
                resource,
                name: name.to_string(),
            })?;
            let meta = &current["metadata"];
            let failed = [
                (&preconditions.uid, "uid", "UID"),
                (&preconditions.resource_version, "resourceVersion", "ResourceVersion"),
            ]
            .into_iter()
            .find(|(want, field, _)| want.as_ref().is_some_and(|w| meta[*field].as_str() != Some(w.as_str())));
            if let Some((want, field, label)) = failed {
                return Err(ApiError::Conflict {
                    resource,
                    name: name.to_string(),
                    reason: format!(
                        "Precondition failed: {label} in precondition: {}, {label} in object meta: {}",
                        want.as_deref().unwrap_or(""),
                        meta[field].as_str().unwrap_or("")
                    ),
                });
            }
            if object::has_finalizers(current) {
                if meta.get("deletionTimestamp").is_some() {
                    return Ok(Mutation::Unchanged(current.clone()));
                }
                let mut marked = current.clone();
                marked["metadata"]["deletionTimestamp"] = json!(now);
                return Ok(Mutation::Put(marked));
            }
            Ok(Mutation::Delete(current.clone()))
        })
    }

    fn delete_namespace_contents(&self, namespace: &str) -> Result<(), ApiError> {
        for resource in ALL.iter().copied().filter(|r| r.namespaced) {
            let (items, _) = self
                .inner
                .store
                .list(&resource.qualified(), Some(namespace))?;
            for item in items {
                let name = object::name_of(&item).to_string();
                match self.delete_blocking(
                    resource,
                    namespace,
                    &name,
                    &Preconditions::default(),
                    false,
                ) {
                    Ok(_) | Err(ApiError::NotFound { .. }) => {}
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(())
    }

    /// Deletes every matching object; returns their last states.
    pub async fn delete_collection(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        filter: &Filter,
        dry_run: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let (items, _) = self.list(resource, namespace, filter).await?;
        let mut deleted = Vec::with_capacity(items.len());
        for item in items {
            let ns = item["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let name = object::name_of(&item).to_string();
            match self
                .delete(resource, &ns, &name, Preconditions::default(), dry_run)
                .await
            {
                Ok(obj) => deleted.push(obj),
                // Someone else deleted it meanwhile: the collection is still gone.
                Err(ApiError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::CONFIGMAPS;

    #[tokio::test]
    async fn an_apply_patch_creating_an_object_with_scalar_metadata_is_a_bad_request() {
        // `metadata:\n  name:x` is YAML for the string "name:x": the fuzzer's find, once a panic.
        let server = ApiServer::in_memory().unwrap();
        let patch = crate::patch::decode(
            PatchKind::Apply,
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name:x\n",
        )
        .unwrap();
        let result = server
            .patch(
                &CONFIGMAPS,
                "default",
                "x",
                PatchKind::Apply,
                patch,
                false,
                WriteOptions::default(),
            )
            .await;
        assert!(matches!(result, Err(ApiError::BadRequest(_))), "{result:?}");
    }
}
