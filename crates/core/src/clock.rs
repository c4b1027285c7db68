//! Where "now" comes from: the system clock in production, a controllable one in tests.
//!
//! The one clock of every function. Config, cron and the broker think in `chrono`; Kubernetes
//! objects carry `jiff` timestamps (k8s-openapi's `Time`), so the clock answers in both.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A source of the current time; cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// Always `at`.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Clock(Arc::new(move || at))
    }

    /// Whatever `now` answers, e.g. a time a test moves forward.
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// Now as a Kubernetes timestamp (ProwJob `startTime`, `completionTime`, ...).
    pub fn timestamp(&self) -> Timestamp {
        let now = self.now();
        // Every chrono UTC instant we can produce is inside jiff's range; the fallback is only
        // there so this never panics.
        Timestamp::new(now.timestamp(), now.timestamp_subsec_nanos() as i32)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// Now as the `metav1.Time` Kubernetes objects carry.
    pub fn time(&self) -> Time {
        Time(self.timestamp())
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.now()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrono_and_jiff_views_are_the_same_instant() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T01:02:03.456789Z")
            .expect("valid")
            .with_timezone(&Utc);
        let clock = Clock::fixed(at);
        assert_eq!(clock.timestamp().to_string(), "2026-12-02T01:02:03.456789Z");
        assert_eq!(clock.time().0, clock.timestamp());
    }
}
