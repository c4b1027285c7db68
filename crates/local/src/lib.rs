//! prow-local: the embedded Kubernetes-API-compatible server behind `prow up` (ProwJobs, Pods, Namespaces on redb).
//!
//! `kube::Client` and real `kubectl` talk to it over HTTP exactly as to a cluster: discovery,
//! OpenAPI v3 for server-side field validation, CRUD with resourceVersion conflicts, the
//! `status` subresource, JSON/merge/strategic/apply patches, label and field selectors, watches
//! resumable from a resourceVersion, Tables for `kubectl get`, and `pods/log` from a pluggable
//! [`LogSource`]. State is durable (see [`store`]), so `prow up` can be killed and restarted.

pub mod discovery;
pub mod error;
pub mod events;
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
