//! Watch-event history: a bounded ring of recent changes for resuming watches, plus live fan-out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::resources::ResourceInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change. `previous` lets a filtered watch turn a MODIFIED into ADDED/DELETED when
/// the object enters or leaves the selector, as the real API server does.
#[derive(Debug)]
pub struct StoredEvent {
    pub kind: EventType,
    pub resource: &'static ResourceInfo,
    pub namespace: String,
    pub resource_version: u64,
    pub object: Value,
    pub previous: Option<Value>,
}

/// The requested resourceVersion is older than the oldest event still remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct Expired {
    pub requested: u64,
    pub oldest: u64,
}

/// Events after a starting point: the remembered ones, then everything published later.
#[derive(Debug)]
pub struct Subscription {
    pub backlog: Vec<Arc<StoredEvent>>,
    pub live: broadcast::Receiver<Arc<StoredEvent>>,
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<Arc<StoredEvent>>,
    capacity: usize,
    /// Every event with a resourceVersion above this is in `events`.
    horizon: u64,
}

#[derive(Debug)]
pub struct Hub {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<StoredEvent>>,
}

impl Hub {
    /// A hub whose history starts at `current_rv` (history does not survive restarts).
    pub fn new(current_rv: u64, capacity: usize) -> Hub {
        let (live, _) = broadcast::channel(capacity.max(16));
        Hub {
            ring: Mutex::new(Ring {
                events: VecDeque::with_capacity(capacity),
                capacity: capacity.max(1),
                horizon: current_rv,
            }),
            live,
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while holding the lock cannot leave the ring inconsistent (pushes are atomic).
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records and broadcasts an event. Callers publish in resourceVersion order.
    pub fn publish(&self, event: StoredEvent) -> Arc<StoredEvent> {
        let event = Arc::new(event);
        let mut ring = self.ring();
        if ring.events.len() == ring.capacity
            && let Some(evicted) = ring.events.pop_front()
        {
            ring.horizon = evicted.resource_version;
        }
        ring.events.push_back(event.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(event.clone());
        event
    }

    /// Events with resourceVersion > `since`, or [`Expired`] if some of them were forgotten.
    pub fn subscribe(&self, since: u64) -> Result<Subscription, Expired> {
        let ring = self.ring();
        if since < ring.horizon {
            return Err(Expired {
                requested: since,
                oldest: ring.horizon,
            });
        }
        let backlog = ring
            .events
            .iter()
            .filter(|e| e.resource_version > since)
            .cloned()
            .collect();
        // Subscribing under the ring lock means no event falls between backlog and live.
        Ok(Subscription {
            backlog,
            live: self.live.subscribe(),
        })
    }

    /// Live events only (for in-process consumers such as an ApiServerSource stand-in).
    pub fn live(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.live.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::PODS;
    use serde_json::json;

    fn event(rv: u64) -> StoredEvent {
        StoredEvent {
            kind: EventType::Added,
            resource: &PODS,
            namespace: "ns".into(),
            resource_version: rv,
            object: json!({"metadata": {"resourceVersion": rv.to_string()}}),
            previous: None,
        }
    }

    #[test]
    fn subscribing_replays_only_newer_events() {
        let hub = Hub::new(10, 8);
        for rv in 11..=13 {
            hub.publish(event(rv));
        }
        let sub = hub.subscribe(11).unwrap();
        let rvs: Vec<u64> = sub.backlog.iter().map(|e| e.resource_version).collect();
        assert_eq!(rvs, vec![12, 13]);
        assert!(hub.subscribe(10).is_ok());
        assert_eq!(
            hub.subscribe(9).unwrap_err(),
            Expired {
                requested: 9,
                oldest: 10
            }
        );
    }

    #[test]
    fn evicted_history_makes_old_versions_expire() {
        let hub = Hub::new(0, 2);
        for rv in 1..=4 {
            hub.publish(event(rv));
        }
        assert_eq!(hub.subscribe(1).unwrap_err().oldest, 2);
        assert_eq!(hub.subscribe(2).unwrap().backlog.len(), 2);
    }

    #[tokio::test]
    async fn live_receivers_see_events_published_after_subscribing() {
        let hub = Hub::new(0, 4);
        let mut sub = hub.subscribe(0).unwrap();
        hub.publish(event(1));
        assert_eq!(sub.live.recv().await.unwrap().resource_version, 1);
    }
}
