//! ApiServerSource adapter: watches Kubernetes resources and publishes Knative's `dev.knative.apiserver.*` events.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cloudevents::{Event, EventBuilder, EventBuilderV10};
use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind, TypeMeta};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::broker::{BrokerKey, EventSink};
use crate::filter::{Filter, FilterResult};
use crate::manifest::{ApiServerSource, ApiVersionKind};

pub const ADD_EVENT_TYPE: &str = "dev.knative.apiserver.resource.add";
pub const UPDATE_EVENT_TYPE: &str = "dev.knative.apiserver.resource.update";
pub const DELETE_EVENT_TYPE: &str = "dev.knative.apiserver.resource.delete";
pub const REF_ADD_EVENT_TYPE: &str = "dev.knative.apiserver.ref.add";
pub const REF_UPDATE_EVENT_TYPE: &str = "dev.knative.apiserver.ref.update";
pub const REF_DELETE_EVENT_TYPE: &str = "dev.knative.apiserver.ref.delete";

/// Server-side watch timeout; the watch is re-issued from the last resourceVersion after it.
const WATCH_TIMEOUT_SECS: u32 = 290;
const RETRY_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ApiServerSourceError {
    #[error(
        "ApiServerSource {source_name}: sink must reference a Broker (eventing.knative.dev/v1)"
    )]
    Sink { source_name: String },
    #[error("ApiServerSource {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

/// What changed about an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Update,
    Delete,
}

/// One watched resource of one ApiServerSource.
#[derive(Debug, Clone)]
pub struct ResourceWatch {
    pub source_name: String,
    /// The ApiServerSource's namespace, which is also the namespace watched.
    pub namespace: String,
    pub resource: ApiResource,
    pub label_selector: String,
    /// Mode `Resource` (object as data) rather than `Reference` (ObjectReference as data).
    pub resource_mode: bool,
    pub extensions: Vec<(String, String)>,
    pub filter: Filter,
    /// `spec.owner`: report only objects controlled by this apiVersion/kind.
    pub owner: Option<ApiVersionKind>,
    pub sink: BrokerKey,
}

impl ResourceWatch {
    /// One watch per resource of each source.
    pub fn from_sources(
        sources: &[ApiServerSource],
    ) -> Result<Vec<ResourceWatch>, ApiServerSourceError> {
        let mut out = Vec::new();
        for source in sources {
            let namespace = source.metadata.namespace().to_string();
            let source_name = format!("{namespace}/{}", source.metadata.name);
            let invalid = |message: String| ApiServerSourceError::Invalid {
                source_name: source_name.clone(),
                message,
            };
            let sink = source.spec.sink.broker_key(&namespace).ok_or_else(|| {
                ApiServerSourceError::Sink {
                    source_name: source_name.clone(),
                }
            })?;
            let filter =
                Filter::compile_list(&source.spec.filters).map_err(|e| invalid(e.to_string()))?;
            for res in &source.spec.resources {
                let (group, version) = split_api_version(&res.api_version);
                let gvk = GroupVersionKind::gvk(group, version, &res.kind);
                let label_selector = match &res.selector {
                    Some(sel) => sel.to_query().map_err(&invalid)?,
                    None => String::new(),
                };
                out.push(ResourceWatch {
                    source_name: source_name.clone(),
                    namespace: namespace.clone(),
                    resource: ApiResource::from_gvk_with_plural(&gvk, &guess_plural(&res.kind)),
                    label_selector,
                    resource_mode: source.spec.mode.as_deref() == Some("Resource"),
                    extensions: source
                        .spec
                        .ce_overrides
                        .as_ref()
                        .map(|o| {
                            o.extensions
                                .iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    filter: filter.clone(),
                    owner: source.spec.owner.clone(),
                    sink: sink.clone(),
                });
            }
        }
        Ok(out)
    }

    /// The CloudEvent Knative's adapter sends for `change` of `object`; `None` if the source's
    /// filters drop it. `source` is the API server URL.
    pub fn event(&self, source: &str, change: Change, object: &DynamicObject) -> Option<Event> {
        if !controlled_by(object, self.owner.as_ref()) {
            return None;
        }
        let api_version = object
            .types
            .as_ref()
            .map(|t| t.api_version.clone())
            .unwrap_or_else(|| self.resource.api_version.clone());
        let kind = object
            .types
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_else(|| self.resource.kind.clone());
        let name = object.metadata.name.clone().unwrap_or_default();
        let namespace = object.metadata.namespace.clone().unwrap_or_default();
        let ty = match (self.resource_mode, change) {
            (true, Change::Add) => ADD_EVENT_TYPE,
            (true, Change::Update) => UPDATE_EVENT_TYPE,
            (true, Change::Delete) => DELETE_EVENT_TYPE,
            (false, Change::Add) => REF_ADD_EVENT_TYPE,
            (false, Change::Update) => REF_UPDATE_EVENT_TYPE,
            (false, Change::Delete) => REF_DELETE_EVENT_TYPE,
        };
        let data = if self.resource_mode {
            let mut full = object.clone();
            full.types = Some(TypeMeta {
                api_version: api_version.clone(),
                kind: kind.clone(),
            });
            serde_json::to_vec(&full).ok()?
        } else {
            serde_json::to_vec(&serde_json::json!({
                "kind": kind, "namespace": namespace, "name": name, "apiVersion": api_version,
            }))
            .ok()?
        };
        let mut builder = EventBuilderV10::new()
            .id(uuid::Uuid::new_v4().to_string())
            .ty(ty)
            .source(source)
            .subject(self_link(&api_version, &kind, &namespace, &name))
            .time(chrono::Utc::now())
            .extension("kind", kind.as_str())
            .extension("apiversion", api_version.as_str())
            .extension("name", name.as_str())
            .extension("namespace", namespace.as_str());
        for (k, v) in &self.extensions {
            builder = builder.extension(k, v.as_str());
        }
        let event = builder.data("application/json", data).build().ok()?;
        (self.filter.evaluate(&event) != FilterResult::Fail).then_some(event)
    }
}

/// Knative's controller filter: with an owner set, the object's controlling ownerReference must
/// exist and match the non-empty fields.
fn controlled_by(object: &DynamicObject, owner: Option<&ApiVersionKind>) -> bool {
    let Some(owner) = owner else { return true };
    let controller = object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    controller.is_some_and(|c| {
        (owner.api_version.is_empty() || owner.api_version == c.api_version)
            && (owner.kind.is_empty() || owner.kind == c.kind)
    })
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Kubernetes' `UnsafeGuessKindToResource`, which Knative uses for the event subject.
pub fn guess_plural(kind: &str) -> String {
    let singular = kind.to_lowercase();
    if singular.is_empty() || singular.ends_with("endpoints") {
        return singular;
    }
    if singular.ends_with('s') {
        format!("{singular}es")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    }
}

/// Knative's subject: `/apis/<apiVersion>/namespaces/<ns>/<plural>/<name>`, `/apis/v1/...` for the
/// core group too.
pub fn self_link(api_version: &str, kind: &str, namespace: &str, name: &str) -> String {
    let version = if api_version.contains('.') && !api_version.contains('/') {
        format!("{api_version}/versionUnknown")
    } else {
        api_version.to_string()
    };
    format!(
        "/apis/{version}/namespaces/{namespace}/{}/{name}",
        guess_plural(kind)
    )
}

/// Runs the watches of all ApiServerSources and publishes their events.
pub struct ApiServerAdapter {
    client: kube::Client,
    source: String,
    sink: Arc<dyn EventSink>,
    watches: Vec<ResourceWatch>,
    listed: Arc<(AtomicUsize, Notify)>,
}

impl std::fmt::Debug for ApiServerAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServerAdapter")
            .field("source", &self.source)
            .field("watches", &self.watches.len())
            .finish_non_exhaustive()
    }
}

impl ApiServerAdapter {
    /// `api_server_url` becomes the events' `source`, as Knative uses its rest config's host.
    pub fn new(
        client: kube::Client,
        api_server_url: &str,
        sources: &[ApiServerSource],
        sink: Arc<dyn EventSink>,
    ) -> Result<ApiServerAdapter, ApiServerSourceError> {
        Ok(ApiServerAdapter {
            client,
            source: api_server_url.trim_end_matches('/').to_string(),
            sink,
            watches: ResourceWatch::from_sources(sources)?,
            listed: Arc::new((AtomicUsize::new(0), Notify::new())),
        })
    }

    pub fn watches(&self) -> &[ResourceWatch] {
        &self.watches
    }

    /// Resolves once every watch has done its first list (later changes are then all seen).
    pub fn ready(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let listed = self.listed.clone();
        let want = self.watches.len();
        async move {
            loop {
                let notified = listed.1.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if listed.0.load(Ordering::SeqCst) >= want {
                    return;
                }
                notified.await;
            }
        }
    }

    /// Watches until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        for index in 0..this.watches.len() {
            let this = this.clone();
            tasks.spawn(async move { this.watch_forever(index).await });
        }
        shutdown.await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    /// List (to learn the resourceVersion; like Knative's store, a list emits nothing), then
    /// watch from it, re-watching from the last seen version and relisting on 410 Gone.
    async fn watch_forever(&self, index: usize) {
        let w = &self.watches[index];
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &w.namespace, &w.resource);
        let mut first_list = true;
        loop {
            let list_params = ListParams::default().labels(&w.label_selector);
            let mut version = match api.list_metadata(&list_params).await {
                Ok(list) => list.metadata.resource_version.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(source = %w.source_name, resource = %w.resource.plural, "list failed: {e}");
                    tokio::time::sleep(RETRY_DELAY).await;
                    continue;
                }
            };
            if std::mem::take(&mut first_list) {
                self.listed.0.fetch_add(1, Ordering::SeqCst);
                self.listed.1.notify_waiters();
            }
            loop {
                match self.watch_once(&api, w, &mut version).await {
                    WatchEnd::Expired => break,
                    WatchEnd::Closed => {}
                    WatchEnd::Failed => tokio::time::sleep(RETRY_DELAY).await,
                }
            }
        }
    }

    async fn watch_once(
        &self,
        api: &Api<DynamicObject>,
        w: &ResourceWatch,
        version: &mut String,
    ) -> WatchEnd {
        let params = WatchParams::default()
            .labels(&w.label_selector)
            .timeout(WATCH_TIMEOUT_SECS);
        let stream = match api.watch(&params, version).await {
            Ok(s) => s,
            Err(kube::Error::Api(status)) if status.code == 410 => return WatchEnd::Expired,
            Err(e) => {
                tracing::warn!(source = %w.source_name, resource = %w.resource.plural, "watch failed: {e}");
                return WatchEnd::Failed;
            }
        };
        let mut stream = std::pin::pin!(stream.into_stream());
        loop {
            let event = match stream.next().await {
                None => return WatchEnd::Closed,
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    tracing::warn!(source = %w.source_name, resource = %w.resource.plural, "watch stream broke: {e}");
                    return WatchEnd::Failed;
                }
            };
            let (change, object) = match event {
                WatchEvent::Added(o) => (Change::Add, o),
                WatchEvent::Modified(o) => (Change::Update, o),
                WatchEvent::Deleted(o) => (Change::Delete, o),
                WatchEvent::Bookmark(b) => {
                    *version = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(status) if status.code == 410 => return WatchEnd::Expired,
                WatchEvent::Error(status) => {
                    tracing::warn!(source = %w.source_name, resource = %w.resource.plural, "watch error: {status}");
                    return WatchEnd::Failed;
                }
            };
            if let Some(v) = &object.metadata.resource_version {
                version.clone_from(v);
            }
            let Some(event) = w.event(&self.source, change, &object) else {
                continue;
            };
            if let Err(e) = self.sink.send(&w.sink, event).await {
                tracing::warn!(
                    source = %w.source_name,
                    object = %object.metadata.name.as_deref().unwrap_or_default(),
                    "event not published: {e}"
                );
            }
        }
    }
}

enum WatchEnd {
    /// 410 Gone: the version is too old, relist.
    Expired,
    /// The server ended the watch (timeout): re-watch from the last version.
    Closed,
    Failed,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::manifest::Manifests;
    use cloudevents::AttributesReader;
    use serde_json::json;

    #[test]
    fn plurals_and_subjects_follow_kubernetes_guessing() {
        let cases = [
            ("ProwJob", "prowjobs"),
            ("Pod", "pods"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("Endpoints", "endpoints"),
        ];
        for (kind, plural) in cases {
            assert_eq!(guess_plural(kind), plural);
        }
        assert_eq!(
            self_link("v1", "Pod", "prow", "p1"),
            "/apis/v1/namespaces/prow/pods/p1"
        );
        assert_eq!(
            self_link("prow.k8s.io/v1", "ProwJob", "prow", "j1"),
            "/apis/prow.k8s.io/v1/namespaces/prow/prowjobs/j1"
        );
        assert_eq!(
            self_link("prow.k8s.io", "ProwJob", "prow", "j1"),
            "/apis/prow.k8s.io/versionUnknown/namespaces/prow/prowjobs/j1"
        );
    }

    const SOURCE: &str = r#"
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: prow-resources, namespace: prow}
spec:
  mode: Resource
  serviceAccountName: apiserversource
  resources:
    - apiVersion: prow.k8s.io/v1
      kind: ProwJob
      selector: {matchLabels: {created-by-prow: "true"}}
    - apiVersion: v1
      kind: Pod
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
"#;

    #[test]
    fn events_carry_knatives_attributes() {
        let m = Manifests::parse_str(SOURCE, "t").unwrap();
        let watches = ResourceWatch::from_sources(&m.api_server_sources).unwrap();
        assert_eq!(watches.len(), 2);
        assert_eq!(watches[0].resource.plural, "prowjobs");
        assert_eq!(watches[0].label_selector, "created-by-prow=true");
        assert_eq!(watches[1].resource.api_version, "v1");
        assert_eq!(watches[0].sink, BrokerKey::new("prow", "default"));

        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
            "metadata": {"name": "j1", "namespace": "prow", "resourceVersion": "7"},
            "spec": {"job": "unit"}
        }))
        .unwrap();
        let e = watches[0]
            .event("https://10.96.0.1:443", Change::Update, &object)
            .unwrap();
        assert_eq!(e.ty(), UPDATE_EVENT_TYPE);
        assert_eq!(e.source(), "https://10.96.0.1:443");
        assert_eq!(
            e.subject(),
            Some("/apis/prow.k8s.io/v1/namespaces/prow/prowjobs/j1")
        );
        for (ext, want) in [
            ("kind", "ProwJob"),
            ("apiversion", "prow.k8s.io/v1"),
            ("name", "j1"),
            ("namespace", "prow"),
        ] {
            assert_eq!(
                e.extension(ext).map(|v| v.to_string()).as_deref(),
                Some(want),
                "{ext}"
            );
        }
        assert_eq!(e.datacontenttype(), Some("application/json"));
        let data: serde_json::Value = prow_events::data_json(&e).unwrap();
        assert_eq!(data["spec"]["job"], "unit");
        assert_eq!(data["kind"], "ProwJob");

        // Objects from a watch may lack TypeMeta; the event still names the kind.
        let mut bare = object.clone();
        bare.types = None;
        let e = watches[0]
            .event("https://h", Change::Delete, &bare)
            .unwrap();
        assert_eq!(e.ty(), DELETE_EVENT_TYPE);
        assert_eq!(
            e.extension("kind").map(|v| v.to_string()).as_deref(),
            Some("ProwJob")
        );

        let owned_by_jobs = ResourceWatch {
            owner: Some(ApiVersionKind {
                api_version: String::new(),
                kind: "Job".into(),
            }),
            ..watches[0].clone()
        };
        assert!(
            owned_by_jobs
                .event("https://h", Change::Add, &object)
                .is_none(),
            "no controller"
        );
        let mut owned = object.clone();
        owned.metadata.owner_references = Some(vec![
            serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "1"})).unwrap(),
            serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "2", "controller": true})).unwrap(),
        ]);
        assert!(
            owned_by_jobs
                .event("https://h", Change::Add, &owned)
                .is_some()
        );
        let owned_by_pods = ResourceWatch {
            owner: Some(ApiVersionKind {
                api_version: "v1".into(),
                kind: "Pod".into(),
            }),
            ..watches[0].clone()
        };
        assert!(
            owned_by_pods
                .event("https://h", Change::Add, &owned)
                .is_none()
        );

        let reference_mode = ResourceWatch {
            resource_mode: false,
            ..watches[0].clone()
        };
        let e = reference_mode
            .event("https://h", Change::Add, &object)
            .unwrap();
        assert_eq!(e.ty(), REF_ADD_EVENT_TYPE);
        let data: serde_json::Value = prow_events::data_json(&e).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob", "name": "j1", "namespace": "prow"})
        );
    }
}
