//! Watch responses: newline-delimited JSON events streamed from a resourceVersion, with bookmarks and timeouts.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::events::{EventType, StoredEvent};
use crate::resources::ResourceInfo;
use crate::server::{ApiServer, Filter};
use crate::table;

/// What a `?watch=true` request asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub resource: &'static ResourceInfo,
    /// `None` watches all namespaces (or a cluster-scoped resource).
    pub namespace: Option<String>,
    pub filter: Filter,
    /// Start after this resourceVersion; `None` (absent, "" or "0") starts with the current state.
    pub since: Option<u64>,
    pub send_initial_events: bool,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    /// Render objects as one-row Tables (kubectl `get -w`).
    pub as_table: bool,
}

/// How an event looks to one watcher: selectors turn MODIFIED into ADDED/DELETED at their edge.
pub fn project<'a>(
    event: &'a StoredEvent,
    req: &WatchRequest,
) -> Option<(&'static str, &'a Value)> {
    if !std::ptr::eq(event.resource, req.resource)
        || req
            .namespace
            .as_ref()
            .is_some_and(|ns| *ns != event.namespace)
    {
        return None;
    }
    let now = req.filter.matches(&event.object);
    let before = event
        .previous
        .as_ref()
        .is_some_and(|p| req.filter.matches(p));
    let kind = match event.kind {
        EventType::Added => now.then_some("ADDED"),
        EventType::Deleted => (before || now).then_some("DELETED"),
        EventType::Modified => match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }?;
    Some((kind, &event.object))
}

fn line(kind: &str, object: &Value, req: &WatchRequest) -> Bytes {
    let rendered = if req.as_table {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        table::render(req.resource, &[object], rv, Utc::now())
    } else {
        object.clone()
    };
    let mut text = json!({"type": kind, "object": rendered}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn bookmark(req: &WatchRequest, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object = json!({"kind": req.resource.kind, "apiVersion": req.resource.api_version(), "metadata": metadata});
    let mut text = json!({"type": "BOOKMARK", "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn expired(message: String) -> Bytes {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": "Expired", "code": 410,
    });
    let mut text = json!({"type": "ERROR", "object": status}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Starts the watch and returns the streaming response (HTTP 200 even for an expired version:
/// clients only re-list on an in-stream 410).
pub async fn respond(server: ApiServer, req: WatchRequest) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if let Err(err) = run(server, req, &tx).await {
            tracing::debug!(error = %err, "watch ended");
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Debug, thiserror::Error)]
enum WatchEnd {
    #[error("client went away")]
    Disconnected,
    #[error("listing failed: {0}")]
    List(String),
}

async fn send(tx: &mpsc::Sender<Bytes>, chunk: Bytes) -> Result<(), WatchEnd> {
    tx.send(chunk).await.map_err(|_| WatchEnd::Disconnected)
}

async fn run(
    server: ApiServer,
    req: WatchRequest,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), WatchEnd> {
    let deadline = req.timeout.map(|t| tokio::time::Instant::now() + t);
    let initial = req.since.is_none() || req.send_initial_events;
    let mut last_rv;
    let subscription = if initial {
        let (items, rv) = server
            .list(req.resource, req.namespace.as_deref(), &req.filter)
            .await
            .map_err(|e| WatchEnd::List(e.to_string()))?;
        for item in &items {
            send(tx, line("ADDED", item, &req)).await?;
        }
        if req.send_initial_events && req.bookmarks {
            send(tx, bookmark(&req, rv, true)).await?;
        }
        last_rv = rv;
        server.subscribe(rv)
    } else {
        last_rv = req.since.unwrap_or(0);
        server.subscribe(last_rv)
    };
    let mut sub = match subscription {
        Ok(sub) => sub,
        Err(expired_at) => return send(tx, expired(expired_at.to_string())).await,
    };
    for event in &sub.backlog {
        if event.resource_version <= last_rv {
            continue;
        }
        last_rv = event.resource_version;
        if let Some((kind, object)) = project(event, &req) {
            send(tx, line(kind, object, &req)).await?;
        }
    }
    let mut stopping = server.stopping();
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(server.bookmark_interval());
    ticker.tick().await;
    loop {
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = sub.live.recv() => match received {
                // A write committed before our list but published after we subscribed is already
                // in the list: skip anything at or below what the client has.
                Ok(event) if event.resource_version <= last_rv => {}
                Ok(event) => {
                    let event: Arc<StoredEvent> = event;
                    last_rv = event.resource_version;
                    if let Some((kind, object)) = project(&event, &req) {
                        send(tx, line(kind, object, &req)).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let msg = format!("watch fell behind at resource version {last_rv}; please re-list");
                    return send(tx, expired(msg)).await;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = ticker.tick(), if req.bookmarks => send(tx, bookmark(&req, last_rv, false)).await?,
            _ = timeout => return Ok(()),
            _ = &mut stop => return Ok(()),
            _ = tx.closed() => return Err(WatchEnd::Disconnected),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::{PODS, PROWJOBS};
    use crate::selector::LabelSelector;

    fn event(kind: EventType, previous: Option<&str>, now: &str) -> StoredEvent {
        let obj = |app: &str| json!({"metadata": {"name": "p", "labels": {"app": app}}});
        StoredEvent {
            kind,
            resource: &PODS,
            namespace: "ns".into(),
            resource_version: 2,
            object: obj(now),
            previous: previous.map(obj),
        }
    }

    fn request(selector: &str) -> WatchRequest {
        WatchRequest {
            resource: &PODS,
            namespace: Some("ns".into()),
            filter: Filter {
                labels: LabelSelector::parse(selector).unwrap(),
                ..Filter::default()
            },
            since: Some(1),
            send_initial_events: false,
            bookmarks: false,
            timeout: None,
            as_table: false,
        }
    }

    #[test]
    fn selectors_turn_modifications_into_adds_and_deletes_at_their_edge() {
        let cases = [
            (event(EventType::Added, None, "web"), Some("ADDED")),
            (event(EventType::Added, None, "db"), None),
            (
                event(EventType::Modified, Some("web"), "web"),
                Some("MODIFIED"),
            ),
            (event(EventType::Modified, Some("db"), "web"), Some("ADDED")),
            (
                event(EventType::Modified, Some("web"), "db"),
                Some("DELETED"),
            ),
            (event(EventType::Modified, Some("db"), "db"), None),
            (
                event(EventType::Deleted, Some("web"), "web"),
                Some("DELETED"),
            ),
        ];
        let req = request("app=web");
        for (ev, want) in cases {
            assert_eq!(project(&ev, &req).map(|(k, _)| k), want, "{ev:?}");
        }
    }

    #[test]
    fn events_of_other_resources_and_namespaces_are_not_delivered() {
        let mut req = request("");
        let ev = event(EventType::Added, None, "web");
        assert!(project(&ev, &req).is_some());
        req.namespace = Some("other".into());
        assert!(project(&ev, &req).is_none());
        req.namespace = None;
        req.resource = &PROWJOBS;
        assert!(project(&ev, &req).is_none());
    }

    #[test]
    fn bookmarks_carry_type_meta_and_the_initial_events_marker() {
        let req = request("");
        let b: Value = serde_json::from_slice(&bookmark(&req, 9, true)).unwrap();
        assert_eq!(b["type"], "BOOKMARK");
        assert_eq!(b["object"]["kind"], "Pod");
        assert_eq!(b["object"]["apiVersion"], "v1");
        assert_eq!(b["object"]["metadata"]["resourceVersion"], "9");
        assert_eq!(
            b["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
    }
}
