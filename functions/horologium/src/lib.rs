//! prow-horologium: on each PingSource tick, starts the periodic jobs that are due.
//!
//! Stateless: the previous run of each periodic is read back from the ProwJobs on every tick,
//! and each new run is named after its job and schedule slot (see [`schedule`]), so repeated,
//! concurrent or late ticks converge on one run per slot.

pub mod decide;
pub mod job;
pub mod metrics;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_core::config::{Config, LoadError, Periodic};
use prow_core::duration::{DurationError, parse_go_duration};
use prow_core::jobspec::RE_RUN_LABEL;
use prow_core::naming::prowjob_name;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use prow_kube::{Created, KubeError, KubeOptions, ProwJobs};

use crate::decide::{
    Decision, PreviousRun, RerunLabel, RetryPolicy, Slot, Trigger, TriggerError, Wait,
    decide_with_retry,
};
use crate::metrics::{Metrics, RunResult};
pub use prow_core::clock::Clock;

/// Ping payloads are tiny; anything bigger is not a PingSource event.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Prow's default `horologium.tick_interval`.
const DEFAULT_TICK: Duration = Duration::from_secs(60);

/// Why horologium could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading Prow config: {0}")]
    Config(#[from] LoadError),
    #[error("horologium.tick_interval {value:?}: {source}")]
    TickInterval {
        value: String,
        #[source]
        source: DurationError,
    },
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// Everything the horologium router needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct HorologiumState {
    /// The periodics and the ProwJob namespace.
    pub config: Arc<Config>,
    /// ProwJobs in `prow.prowjob_namespace`.
    pub prowjobs: ProwJobs,
    pub clock: Clock,
    /// Log the runs that are due instead of creating them.
    pub dry_run: bool,
    /// How often the PingSource ticks (`horologium.tick_interval`, default 1m).
    pub tick: Duration,
    pub metrics: Arc<Metrics>,
    /// When set, each tick plans with this source's config of the moment instead of
    /// `config`, so a merged periodic goes live without a restart.
    pub live_config: Option<prow_runtime::LiveConfig>,
}

/// Optional parts of [`HorologiumState`].
#[derive(Debug, Clone)]
pub struct Options {
    /// What "now" is; default: the system clock.
    pub clock: Clock,
    /// Decide and log, write nothing.
    pub dry_run: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Clock::system(),
            dry_run: false,
        }
    }
}

impl HorologiumState {
    pub fn new(
        config: Arc<Config>,
        client: kube::Client,
        options: Options,
    ) -> Result<Self, StartError> {
        let Options { clock, dry_run } = options;
        let tick = match config.prow.horologium.tick_interval.as_deref() {
            None | Some("") => DEFAULT_TICK,
            Some(value) => parse_go_duration(value).map_err(|source| StartError::TickInterval {
                value: value.to_owned(),
                source,
            })?,
        };
        let prowjobs = ProwJobs::new(client, &config.prow.prowjob_namespace);
        Ok(Self {
            config,
            prowjobs,
            clock,
            dry_run,
            tick,
            metrics: Arc::new(Metrics::default()),
            live_config: None,
        })
    }

    /// Follows `live` from now on (see [`HorologiumState::live_config`]).
    pub fn with_live_config(mut self, live: prow_runtime::LiveConfig) -> Self {
        self.config = live.current();
        self.live_config = Some(live);
        self
    }
}

/// Flags of the horologium binary and of `prow serve horologium`; each also from env.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[command(flatten)]
    pub kube: KubeOptions,
    /// Decide and log due runs, create none.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Builds the router from flags: loads the config and connects to the Kubernetes API.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags.config.load_live(None)?;
    let client = prow_kube::client(&flags.kube).await?;
    let state = HorologiumState::new(
        live.current(),
        client,
        Options {
            dry_run: flags.dry_run,
            ..Options::default()
        },
    )?
    .with_live_config(live);
    Ok(router(state))
}

/// `POST /` takes the ping CloudEvent; `/healthz` and `/metrics` for the platform.
pub fn router(state: HorologiumState) -> Router {
    prow_runtime::tick_router(state, MAX_EVENT_BYTES)
}

/// Answers 200 with an empty body once the tick's work is done, 500 (asking for redelivery)
/// when the API server failed us; what a tick does is idempotent, so redelivery is harmless.
impl prow_runtime::TickFunction for HorologiumState {
    const NAME: &'static str = "horologium";
    type Report = TickReport;
    type Error = TickError;

    fn tick(&self) -> impl Future<Output = Result<TickReport, TickError>> + Send {
        let state = match &self.live_config {
            Some(live) => HorologiumState {
                config: live.current(),
                ..self.clone()
            },
            None => self.clone(),
        };
        async move { tick(&state).await }
    }

    fn ticks(&self) -> &prow_runtime::TickCounter {
        &self.metrics.ticks
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub created: usize,
    pub existing: usize,
    pub dry_run: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    List(KubeError),
    /// The periodics could not be read from the config snapshot.
    #[error(transparent)]
    Config(#[from] prow_core::config::SectionError),
    #[error("{failed} of {due} due runs could not be created; first error: {first}")]
    Create {
        failed: usize,
        due: usize,
        #[source]
        first: KubeError,
    },
}

/// One run to start.
#[derive(Debug, Clone)]
pub struct Due<'a> {
    pub periodic: &'a Periodic,
    pub slot: Slot,
    /// `prowjob_name(&[job, slot])`.
    pub name: String,
}

/// The decisions of one tick.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    pub due: Vec<Due<'a>>,
    pub waiting: Vec<(&'a str, Wait)>,
    pub invalid: Vec<TriggerError>,
}

/// Decides for every periodic from the ProwJobs that exist (pure).
pub fn plan<'a>(
    periodics: &'a [Periodic],
    prowjobs: &[ProwJob],
    now: DateTime<Utc>,
    tick: Duration,
) -> Plan<'a> {
    let latest = latest_runs(prowjobs);
    let mut plan = Plan::default();
    for periodic in periodics {
        let (trigger, retry) =
            match Trigger::of(periodic).and_then(|t| Ok((t, RetryPolicy::of(periodic)?))) {
                Ok(parsed) => parsed,
                Err(err) => {
                    plan.invalid.push(err);
                    continue;
                }
            };
        let previous = latest.get(periodic.name()).copied();
        match decide_with_retry(&trigger, retry.as_ref(), previous, now, tick) {
            Decision::Create(slot) => plan.due.push(Due {
                periodic,
                slot,
                name: prowjob_name(&[periodic.name(), &slot.key()]),
            }),
            Decision::Wait(wait) => plan.waiting.push((periodic.name(), wait)),
        }
    }
    plan
}

/// The latest periodic run of each job by `status.startTime`, as Prow's `GetLatestProwJobs`
/// (ties broken by name so that the answer does not depend on list order).
pub fn latest_runs(prowjobs: &[ProwJob]) -> HashMap<&str, PreviousRun> {
    let mut latest: HashMap<&str, (PreviousRun, &str)> = HashMap::new();
    for pj in prowjobs {
        if pj.spec.type_ != ProwJobType::Periodic {
            continue;
        }
        let run = previous_run(pj);
        let candidate = (run, pj.name());
        latest
            .entry(pj.spec.job.as_str())
            .and_modify(|best| {
                if (candidate.0.start, candidate.1) > (best.0.start, best.1) {
                    *best = candidate;
                }
            })
            .or_insert(candidate);
    }
    latest
        .into_iter()
        .map(|(job, (run, _))| (job, run))
        .collect()
}

/// A ProwJob without `status.startTime` (e.g. applied by hand) counts from its creation, and
/// failing that from the epoch, so that it still blocks while incomplete.
fn previous_run(pj: &ProwJob) -> PreviousRun {
    let start = pj
        .status
        .start_time
        .as_ref()
        .or(pj.metadata.creation_timestamp.as_ref())
        .and_then(to_chrono)
        .unwrap_or(DateTime::UNIX_EPOCH);
    let completion = pj.status.completion_time.as_ref().map(|t| {
        // An unreadable completion time still means complete.
        to_chrono(t).unwrap_or(start)
    });
    let rerun = RerunLabel::parse(
        pj.metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(RE_RUN_LABEL))
            .map(String::as_str),
    );
    PreviousRun {
        start,
        completion,
        succeeded: pj.status.state == ProwJobState::Success,
        rerun,
    }
}

fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(time.0.subsec_nanosecond()).ok()?;
    DateTime::from_timestamp(time.0.as_second(), nanos)
}

/// `now` as a ProwJob time, to the second as the API stores it.
fn to_time(now: DateTime<Utc>) -> Time {
    Time(Timestamp::from_second(now.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Lists the ProwJobs, decides, and creates the due runs (or logs them on `--dry-run`).
pub async fn tick(state: &HorologiumState) -> Result<TickReport, TickError> {
    let now = state.clock.now();
    let prowjobs = state.prowjobs.list(None).await.map_err(TickError::List)?;
    let plan = plan(state.config.periodic_jobs()?, &prowjobs, now, state.tick);
    for err in &plan.invalid {
        state.metrics.invalid_periodic();
        tracing::error!(error = %err, "periodic skipped");
    }
    for (job, wait) in &plan.waiting {
        tracing::debug!(job, reason = wait.as_str(), "not due");
    }
    let namespace = &state.config.prow.prowjob_namespace;
    let mut report = TickReport::default();
    let mut failures = Vec::new();
    for due in &plan.due {
        let job = due.periodic.name();
        if state.dry_run {
            tracing::info!(job, slot = %due.slot, name = %due.name, "dry run: periodic run not created");
            state.metrics.run(RunResult::DryRun);
            report.dry_run += 1;
            continue;
        }
        let pj = job::periodic_prowjob(
            due.periodic,
            &due.name,
            namespace,
            to_time(now),
            due.slot.rerun_attempt(),
        );
        match state.prowjobs.create(&pj).await {
            Ok(Created::New(_)) => {
                tracing::info!(job, slot = %due.slot, name = %due.name, "periodic run created");
                state.metrics.run(RunResult::Created);
                report.created += 1;
            }
            Ok(Created::Existing) => {
                tracing::info!(job, slot = %due.slot, name = %due.name, "periodic run already exists");
                state.metrics.run(RunResult::Existing);
                report.existing += 1;
            }
            Err(err) => {
                tracing::warn!(job, slot = %due.slot, error = %err, "periodic run not created");
                state.metrics.run(RunResult::Failed);
                failures.push(err);
            }
        }
    }
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(report),
        Some(first) => Err(TickError::Create {
            failed,
            due: plan.due.len(),
            first,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
    }

    fn run(job: &str, name: &str, start: DateTime<Utc>, done: bool) -> ProwJob {
        let mut b = ProwJob::builder(job, ProwJobType::Periodic)
            .name(name)
            .started_at(to_time(start));
        if done {
            b = b.completed(ProwJobState::Success);
        }
        b.build()
    }

    fn periodic(name: &str, field: &str, value: &str) -> Periodic {
        let mut p = Periodic::default();
        p.base.name = name.into();
        match field {
            "cron" => p.cron = value.into(),
            _ => p.interval = value.into(),
        }
        p
    }

    #[test]
    fn latest_run_is_the_latest_start_of_periodics_of_that_job() {
        let presubmit = ProwJob::builder("ci-a", ProwJobType::Presubmit)
            .name("z")
            .started_at(to_time(t(12, 0)))
            .build();
        let jobs = vec![
            run("ci-a", "a1", t(8, 0), true),
            run("ci-a", "a2", t(9, 0), false),
            run("ci-b", "b1", t(7, 0), true),
            presubmit,
        ];
        let latest = latest_runs(&jobs);
        assert_eq!(latest.len(), 2);
        assert_eq!(latest["ci-a"].start, t(9, 0));
        assert_eq!(latest["ci-a"].completion, None);
        assert_eq!(latest["ci-b"].completion, Some(t(7, 10)));
    }

    #[test]
    fn plan_names_runs_by_job_and_slot_and_skips_bad_schedules() {
        let periodics = vec![
            periodic("ci-new", "interval", "1h"),
            periodic("ci-hourly", "cron", "0 * * * *"),
            periodic("ci-busy", "interval", "1h"),
            periodic("ci-bad", "cron", "not cron"),
        ];
        let jobs = vec![
            run("ci-hourly", "h1", t(9, 0), true),
            run("ci-busy", "b1", t(9, 0), false),
        ];
        let plan = plan(&periodics, &jobs, t(10, 0), DEFAULT_TICK);
        let due: Vec<_> = plan
            .due
            .iter()
            .map(|d| (d.periodic.name(), d.slot, d.name.clone()))
            .collect();
        assert_eq!(
            due,
            vec![
                ("ci-new", Slot::First, prowjob_name(&["ci-new", "first"])),
                (
                    "ci-hourly",
                    Slot::At(t(10, 0)),
                    prowjob_name(&["ci-hourly", "2026-11-25T10:00:00Z"])
                ),
            ]
        );
        assert_eq!(plan.waiting, vec![("ci-busy", Wait::Running)]);
        assert_eq!(plan.invalid.len(), 1);
    }
}
