//! prow-local: the embedded Kubernetes-API-compatible server behind `prow up` (ProwJobs, Pods, Namespaces on redb).
//!
//! `kube::Client` and real `kubectl` talk to it over HTTP exactly as to a cluster: discovery,
//! OpenAPI v3 for server-side field validation, CRUD with resourceVersion conflicts, the
//! `status` subresource, JSON/merge/strategic/apply patches, label and field selectors, watches
//! resumable from a resourceVersion, Tables for `kubectl get`, and `pods/log` from a pluggable
//! [`LogSource`]. State is durable (see [`store`]), so `prow up` can be killed and restarted.
//! [`kubelet`] runs pods as host processes for a one-machine setup.
//!
//! Deliberate differences from a real API server (none matter to kubectl or kube-rs clients):
//! - no authorization or admission, plain HTTP; authentication is one bearer token
//!   ([`auth`]), required when listening beyond loopback ([`serve_with_token`]);
//! - JSON only (plus the protobuf Namespace body `kubectl create namespace` sends);
//! - lists page by `limit`/`continue`, but each page re-reads the store and resumes after the
//!   last key returned, so pages are not one consistent snapshot and a token never expires;
//! - ProwJobs keep a `status` sent on create (Prow creates jobs with their initial state);
//!   afterwards status is only writable through `/status`;
//! - strategic merge patches merge lists by well-known field names (containers, env, ...),
//!   and server-side apply is a create-or-merge without field ownership;
//! - pod specs are mutable and pods are deleted at once (no graceful termination period);
//! - watch history lives in memory, so after a restart older resourceVersions get 410 Expired;
//! - core `v1` Events and `events.k8s.io/v1` Events are stored separately, not converted, and
//!   have no TTL: the local kubelet drops a pod's events when the pod is deleted.

pub mod auth;
pub mod container;
pub mod discovery;
pub mod error;
pub mod events;
pub mod host;
pub mod http;
pub mod kubelet;
pub mod logs;
pub mod object;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod server;
pub mod store;
pub mod table;
pub mod watch;

use std::future::Future;

pub use error::ApiError;
pub use http::router;
pub use logs::{LogError, LogLine, LogOutput, LogSource, LogTarget, MemoryLogs, NoLogs};
pub use server::ApiServer;
pub use store::StoreError;

/// Serves the API on `listener` until `shutdown` resolves; open watches and log follows are
/// ended then so the graceful shutdown completes.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    state: ApiServer,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let stopper = state.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopper.stop();
        })
        .await
}

/// As [`serve`], answering 401 to any request without `token` (health probes excepted) when
/// one is given.
pub async fn serve_with_token<F>(
    listener: tokio::net::TcpListener,
    state: ApiServer,
    token: Option<auth::ApiToken>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let stopper = state.clone();
    let app = match token {
        Some(token) => auth::require_token(router(state), token),
        None => router(state),
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopper.stop();
        })
        .await
}
