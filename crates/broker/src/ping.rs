//! PingSource ticker: emits `dev.knative.sources.ping` events on each PingSource's cron schedule.

use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use croner::Cron;
use tokio::task::JoinSet;

pub use prow_core::clock::Clock;

use crate::broker::{BrokerKey, EventSink, PublishError};
use crate::manifest::PingSource;

/// CloudEvent type of every PingSource event.
pub const PING_EVENT_TYPE: &str = "dev.knative.sources.ping";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    #[error("schedule {schedule:?}: {message}")]
    Schedule { schedule: String, message: String },
    #[error("timezone {0:?} is unknown")]
    Timezone(String),
    #[error("data and dataBase64 are mutually exclusive")]
    DataAndBase64,
    #[error("dataBase64 is not valid base64: {0}")]
    Base64(String),
    #[error("{field} is not a JSON object although contentType is application/json: {message}")]
    Json {
        field: &'static str,
        message: String,
    },
    #[error("sink must reference a Broker (eventing.knative.dev/v1), got {0}")]
    Sink(String),
    #[error("no PingSource named {0:?}")]
    Unknown(String),
    #[error("building the event: {0}")]
    Event(String),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Knative's admission checks for a PingSource.
pub fn validate(source: &PingSource) -> Result<(), PingError> {
    Schedule::compile(source).map(|_| ())
}

/// A PingSource ready to fire.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub namespace: String,
    pub name: String,
    cron: Cron,
    timezone: Option<Tz>,
    content_type: Option<String>,
    data: Option<Vec<u8>>,
    extensions: Vec<(String, String)>,
    sink: Option<BrokerKey>,
}

impl Schedule {
    pub fn compile(source: &PingSource) -> Result<Schedule, PingError> {
        let spec = &source.spec;
        let pattern = spec.schedule();
        let schedule_err = |message: String| PingError::Schedule {
            schedule: pattern.to_string(),
            message,
        };
        if pattern.contains("@every") {
            return Err(schedule_err("unsupported descriptor @every".into()));
        }
        let cron = Cron::from_str(pattern).map_err(|e| schedule_err(e.to_string()))?;
        let timezone = match spec.timezone.as_deref().filter(|t| !t.is_empty()) {
            Some(tz) => Some(Tz::from_str(tz).map_err(|_| PingError::Timezone(tz.to_string()))?),
            None => None,
        };
        let data = match (spec.data.as_deref(), spec.data_base64.as_deref()) {
            (Some(d), Some(b)) if !d.is_empty() && !b.is_empty() => {
                return Err(PingError::DataAndBase64);
            }
            (_, Some(b)) if !b.is_empty() => Some((
                "dataBase64",
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| PingError::Base64(e.to_string()))?,
            )),
            (Some(d), _) if !d.is_empty() => Some(("data", d.as_bytes().to_vec())),
            _ => None,
        };
        if let Some((field, bytes)) = &data
            && spec.content_type.as_deref() == Some("application/json")
        {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes).map_err(
                |e| PingError::Json {
                    field,
                    message: e.to_string(),
                },
            )?;
        }
        Ok(Schedule {
            namespace: source.metadata.namespace().to_string(),
            name: source.metadata.name.clone(),
            cron,
            timezone,
            content_type: spec.content_type.clone().filter(|c| !c.is_empty()),
            data: data.map(|(_, bytes)| bytes),
            extensions: spec
                .ce_overrides
                .as_ref()
                .map(|o| {
                    o.extensions
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            sink: source.spec.sink.broker_key(source.metadata.namespace()),
        })
    }

    /// `/apis/v1/namespaces/<ns>/pingsources/<name>`, Knative's PingSource event source.
    pub fn source(&self) -> String {
        format!(
            "/apis/v1/namespaces/{}/pingsources/{}",
            self.namespace, self.name
        )
    }

    /// The first firing strictly after `after`, evaluated in the source's timezone (UTC if unset).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.timezone {
            Some(tz) => self
                .cron
                .find_next_occurrence(&after.with_timezone(&tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            None => self.cron.find_next_occurrence(&after, false).ok(),
        }
    }

    /// The event of one firing at `time`, with a fresh id.
    pub fn event(&self, time: DateTime<Utc>) -> Result<Event, PingError> {
        let mut builder = EventBuilderV10::new()
            .id(uuid::Uuid::new_v4().to_string())
            .ty(PING_EVENT_TYPE)
            .source(self.source())
            .time(time);
        for (k, v) in &self.extensions {
            builder = builder.extension(k, v.as_str());
        }
        if let (Some(data), Some(ct)) = (&self.data, &self.content_type) {
            builder = builder.data(ct.clone(), data.clone());
        }
        let mut event = builder
            .build()
            .map_err(|e| PingError::Event(e.to_string()))?;
        if let (Some(data), None) = (&self.data, &self.content_type) {
            event.set_data_unchecked(data.clone());
        }
        Ok(event)
    }
}

/// Fires every PingSource on schedule into an [`EventSink`] (the Broker).
#[derive(Clone)]
pub struct PingTicker {
    schedules: Arc<Vec<Schedule>>,
    sink: Arc<dyn EventSink>,
    clock: Clock,
}

impl std::fmt::Debug for PingTicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PingTicker")
            .field("schedules", &self.schedules.len())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl PingTicker {
    /// Every PingSource must sink into a Broker.
    pub fn new(
        sources: &[PingSource],
        sink: Arc<dyn EventSink>,
        clock: Clock,
    ) -> Result<PingTicker, PingError> {
        let mut schedules = Vec::with_capacity(sources.len());
        for s in sources {
            let schedule = Schedule::compile(s)?;
            if schedule.sink.is_none() {
                return Err(PingError::Sink(format!("{:?}", s.spec.sink)));
            }
            schedules.push(schedule);
        }
        Ok(PingTicker {
            schedules: Arc::new(schedules),
            sink,
            clock,
        })
    }

    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// Fires the PingSource `name` right away (`prow up --tick`, tests); returns the event id.
    pub async fn fire_now(&self, name: &str) -> Result<String, PingError> {
        let schedule = self
            .schedules
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| PingError::Unknown(name.to_string()))?;
        self.fire(schedule, self.clock.now()).await
    }

    async fn fire(&self, schedule: &Schedule, at: DateTime<Utc>) -> Result<String, PingError> {
        let event = schedule.event(at)?;
        let id = cloudevents::AttributesReader::id(&event).to_string();
        let Some(sink) = &schedule.sink else {
            return Err(PingError::Sink(schedule.name.clone()));
        };
        self.sink.send(sink, event).await?;
        Ok(id)
    }

    /// Runs until `shutdown` resolves, firing each schedule at its cron times.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut tasks = JoinSet::new();
        for index in 0..self.schedules.len() {
            let ticker = self.clone();
            tasks.spawn(async move { ticker.run_one(index).await });
        }
        shutdown.await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    async fn run_one(&self, index: usize) {
        let schedule = &self.schedules[index];
        let mut after = self.clock.now();
        loop {
            let Some(next) = schedule.next_after(after) else {
                tracing::warn!(pingsource = %schedule.name, "schedule has no future firing");
                return;
            };
            let wait = (next - self.clock.now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            match self.fire(schedule, next).await {
                Ok(id) => {
                    tracing::debug!(pingsource = %schedule.name, event.id = %id, "ping fired")
                }
                Err(e) => tracing::warn!(pingsource = %schedule.name, "ping not delivered: {e}"),
            }
            after = next;
        }
    }
}

/// `Utc.with_ymd_and_hms` without the `LocalResult` ceremony, for callers building test clocks.
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::manifest::Manifests;
    use cloudevents::AttributesReader;
    use std::sync::Mutex;

    fn source(spec: &str) -> PingSource {
        let yaml = format!(
            "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {{name: horologium, namespace: prow}}\nspec: {spec}"
        );
        Manifests::parse_str(&yaml, "t")
            .map(|m| m.ping_sources[0].clone())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const SINK: &str =
        "sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}";

    #[test]
    fn next_firings_follow_cron_and_timezone() {
        let at = utc(2026, 11, 25, 13, 59, 30).unwrap();
        let cases = [
            ("{schedule: '* * * * *', SINK}", utc(2026, 11, 25, 14, 0, 0)),
            (
                "{schedule: '*/5 * * * *', SINK}",
                utc(2026, 11, 25, 14, 0, 0),
            ),
            ("{schedule: '0 * * * *', SINK}", utc(2026, 11, 25, 14, 0, 0)),
            ("{schedule: '0 2 * * *', SINK}", utc(2026, 11, 26, 2, 0, 0)),
            (
                "{schedule: '0 2 * * *', timezone: Europe/Berlin, SINK}",
                utc(2026, 11, 26, 1, 0, 0),
            ),
            ("{SINK}", utc(2026, 11, 25, 14, 0, 0)),
        ];
        for (spec, want) in cases {
            let s = Schedule::compile(&source(&spec.replace("SINK", SINK))).unwrap();
            assert_eq!(s.next_after(at), want, "{spec}");
        }
    }

    #[test]
    fn invalid_pingsources_are_rejected() {
        let cases = [
            ("{schedule: '@every 1m', SINK}", "@every"),
            ("{schedule: '61 * * * *', SINK}", "schedule"),
            ("{timezone: Mars/Olympus, SINK}", "timezone"),
            ("{data: a, dataBase64: YQ==, SINK}", "mutually exclusive"),
            ("{dataBase64: '***', SINK}", "base64"),
            (
                "{contentType: application/json, data: '[1]', SINK}",
                "JSON object",
            ),
        ];
        for (spec, needle) in cases {
            let yaml = format!(
                "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {{name: p}}\nspec: {}",
                spec.replace("SINK", SINK)
            );
            let err = Manifests::parse_str(&yaml, "t").unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }

    #[test]
    fn ping_events_look_like_knatives() {
        let s = Schedule::compile(&source(&format!(
            "{{contentType: application/json, data: '{{\"job\":\"tick\"}}', ceOverrides: {{extensions: {{team: prow}}}}, {SINK}}}"
        )))
        .unwrap();
        let at = utc(2026, 11, 25, 14, 0, 0).unwrap();
        let a = s.event(at).unwrap();
        let b = s.event(at).unwrap();
        assert_eq!(a.ty(), PING_EVENT_TYPE);
        assert_eq!(
            a.source(),
            "/apis/v1/namespaces/prow/pingsources/horologium"
        );
        assert_eq!(a.datacontenttype(), Some("application/json"));
        assert_eq!(a.time(), Some(&at));
        assert_eq!(
            a.extension("team").map(|v| v.to_string()).as_deref(),
            Some("prow")
        );
        assert_ne!(a.id(), b.id());
        let body = prow_events::data_bytes(&a).unwrap();
        assert_eq!(&*body, br#"{"job":"tick"}"#);

        let b64 = Schedule::compile(&source(&format!("{{dataBase64: aGVsbG8=, {SINK}}}"))).unwrap();
        let e = b64.event(at).unwrap();
        assert_eq!(&*prow_events::data_bytes(&e).unwrap(), b"hello");
        assert_eq!(e.datacontenttype(), None);
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(BrokerKey, Event)>>);

    impl EventSink for Recorder {
        fn send<'a>(
            &'a self,
            broker: &'a BrokerKey,
            event: Event,
        ) -> futures::future::BoxFuture<'a, Result<(), PublishError>> {
            Box::pin(async move {
                self.0.lock().unwrap().push((broker.clone(), event));
                Ok(())
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ticker_fires_on_schedule_under_a_paused_clock() {
        let sources = vec![source(&format!("{{schedule: '* * * * *', {SINK}}}")), {
            let mut s = source(&format!("{{schedule: '*/5 * * * *', {SINK}}}"));
            s.metadata.name = "crier-resync".into();
            s
        }];
        let recorder = Arc::new(Recorder::default());
        let start = utc(2026, 11, 25, 13, 59, 30).unwrap();
        // Now follows Tokio's paused clock, so `advance()` moves the ticker's notion of time.
        let origin = tokio::time::Instant::now();
        let clock = Clock::from_fn(move || {
            start + chrono::Duration::from_std(origin.elapsed()).unwrap_or_default()
        });
        let ticker = PingTicker::new(&sources, recorder.clone(), clock).unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(ticker.clone().run(async {
            let _ = stop_rx.await;
        }));
        // 13:59:30 -> 14:05:10 crosses six minute marks and two five-minute marks.
        for _ in 0..340 {
            tokio::time::advance(std::time::Duration::from_secs(1)).await;
        }
        stop_tx.send(()).unwrap();
        handle.await.unwrap();
        {
            let fired = recorder.0.lock().unwrap();
            let count = |name: &str| {
                fired
                    .iter()
                    .filter(|(_, e)| e.source().ends_with(name))
                    .count()
            };
            assert_eq!(count("/horologium"), 6);
            assert_eq!(count("/crier-resync"), 2);
            assert!(
                fired
                    .iter()
                    .all(|(b, _)| *b == BrokerKey::new("prow", "default"))
            );
            let first = fired
                .iter()
                .find(|(_, e)| e.source().ends_with("/horologium"))
                .unwrap();
            assert_eq!(first.1.time(), utc(2026, 11, 25, 14, 0, 0).as_ref());
        }
        let id = ticker.fire_now("crier-resync").await.unwrap();
        assert!(recorder.0.lock().unwrap().iter().any(|(_, e)| e.id() == id));
        assert!(matches!(
            ticker.fire_now("nope").await,
            Err(PingError::Unknown(_))
        ));
    }
}
