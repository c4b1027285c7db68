//! When a periodic is due: a pure function of its trigger, its latest previous run and now,
//! answering with the schedule slot the new run belongs to.
//!
//! # Slots (where prow-rs deliberately differs from Prow)
//!
//! Prow names each run with a random UUID and remembers cron firings in memory. Here every run
//! is named `prowjob_name(&[job, slot])`, so a repeated, concurrent or late tick that reaches
//! the same decision produces the same name and the API server's AlreadyExists turns it into a
//! no-op. The slot is:
//!
//! - `cron`: the latest firing at or before now (UTC). Ticks missed while horologium was down
//!   collapse into the latest firing: one catch-up run, not one per missed firing.
//! - `@every d`: the latest point of a grid of `d` steps anchored at the Unix epoch (UTC);
//!   otherwise as `cron`.
//! - `interval`: the instant the job became due, `prev.start + interval`.
//! - `minimum_interval`: `prev.completion + minimum_interval`.
//! - the very first run of an `interval`/`minimum_interval`/`@every` job (no previous run at
//!   all): [`Slot::First`], a constant, so racing ticks cannot create two first runs.
//! - a `retry:` re-run: [`Slot::Rerun`], the attempt number and the start of the run it
//!   follows, so each failed run is retried once however many ticks see it.
//!
//! Rules carried over from Prow: runs never overlap (an incomplete previous run blocks); a cron
//! firing that happens while the previous run is still going is dropped, not deferred (Prow
//! consumes the firing on the next tick; here the stored completion time tells whether the run
//! was still going when the firing happened); `cron` jobs wait for their first firing, which we
//! recognise statelessly as a firing within the last tick interval.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use prow_core::config::Periodic;
use prow_core::cron::{CronError, Schedule};
use prow_core::duration::{DurationError, parse_go_duration};

/// How a periodic is scheduled.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// `interval`: due once the previous run is complete and started longer ago than this.
    Interval(Duration),
    /// `minimum_interval`: due once the previous run completed longer ago than this.
    MinimumInterval(Duration),
    /// `cron` (including `@every` and descriptors).
    Cron(Schedule),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TriggerError {
    #[error("periodic {job}: invalid {field} {value:?}: {source}")]
    Duration {
        job: String,
        field: &'static str,
        value: String,
        #[source]
        source: DurationError,
    },
    #[error("periodic {job}: {source}")]
    Cron {
        job: String,
        #[source]
        source: CronError,
    },
    #[error("periodic {job}: none of cron, interval, minimum_interval is set")]
    Missing { job: String },
}

impl Trigger {
    /// The trigger of a configured periodic; config validation makes exactly one field set, and
    /// the first set one wins here otherwise.
    pub fn of(periodic: &Periodic) -> Result<Self, TriggerError> {
        let job = periodic.name();
        let duration = |field: &'static str, value: &str| {
            parse_go_duration(value).map_err(|source| TriggerError::Duration {
                job: job.to_owned(),
                field,
                value: value.to_owned(),
                source,
            })
        };
        if !periodic.cron.is_empty() {
            return Schedule::parse(&periodic.cron)
                .map(Trigger::Cron)
                .map_err(|source| TriggerError::Cron {
                    job: job.to_owned(),
                    source,
                });
        }
        if !periodic.interval.is_empty() {
            return duration("interval", &periodic.interval).map(Trigger::Interval);
        }
        if !periodic.minimum_interval.is_empty() {
            return duration("minimum_interval", &periodic.minimum_interval)
                .map(Trigger::MinimumInterval);
        }
        Err(TriggerError::Missing {
            job: job.to_owned(),
        })
    }
}

/// Prow caps `retry.attempts` at this many re-runs.
pub const MAX_RETRIES: u32 = 10;

/// A periodic's `retry:`: re-run a failed (with `run_all`: any) run once `interval` has passed
/// since its start, at most `attempts` times in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub interval: Duration,
    pub run_all: bool,
}

impl RetryPolicy {
    pub fn of(periodic: &Periodic) -> Result<Option<Self>, TriggerError> {
        let Some(retry) = &periodic.retry else {
            return Ok(None);
        };
        let interval =
            parse_go_duration(&retry.interval).map_err(|source| TriggerError::Duration {
                job: periodic.name().to_owned(),
                field: "retry.interval",
                value: retry.interval.clone(),
                source,
            })?;
        let attempts = u32::try_from(retry.attempts.max(0))
            .unwrap_or(MAX_RETRIES)
            .min(MAX_RETRIES);
        Ok(Some(Self {
            attempts,
            interval,
            run_all: retry.run_all,
        }))
    }
}

/// The `prow.k8s.io/re-run` label of a run: which re-run attempt it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RerunLabel {
    /// A scheduled run (or one started by hand).
    #[default]
    Absent,
    Attempt(u32),
    /// Not a number; Prow then never retries.
    Invalid,
}

impl RerunLabel {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            None => RerunLabel::Absent,
            Some(v) => v.parse().map_or(RerunLabel::Invalid, RerunLabel::Attempt),
        }
    }
}

/// The latest previous run of the job, reduced to what the decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousRun {
    pub start: DateTime<Utc>,
    /// `None` while the run is going.
    pub completion: Option<DateTime<Utc>>,
    /// Ended in state `success`.
    pub succeeded: bool,
    pub rerun: RerunLabel,
}

/// The schedule slot a run belongs to; its key goes into the run's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The first run of a job that has never run.
    First,
    /// A cron firing, a grid point of `@every`, or the instant an interval job became due.
    At(DateTime<Utc>),
    /// Re-run number `attempt` (`retry:`), following the run that started at `after`.
    Rerun { attempt: u32, after: DateTime<Utc> },
}

impl Slot {
    /// The name component: `first`, the slot time in RFC 3339 to the second, or
    /// `rerun-<attempt>-<start of the retried run>`.
    pub fn key(&self) -> String {
        match self {
            Slot::First => "first".to_owned(),
            Slot::At(at) => at.to_rfc3339_opts(SecondsFormat::Secs, true),
            Slot::Rerun { attempt, after } => format!(
                "rerun-{attempt}-{}",
                after.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        }
    }

    /// The `prow.k8s.io/re-run` label value a run of this slot carries.
    pub fn rerun_attempt(&self) -> Option<u32> {
        match self {
            Slot::Rerun { attempt, .. } => Some(*attempt),
            _ => None,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Why no run is created on this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wait {
    /// The previous run is not complete yet.
    Running,
    /// The interval since the previous run has not passed yet.
    NotDue,
    /// A run already started at or after the current slot.
    AlreadyRan,
    /// The current firing happened while the previous run was going, so it is skipped.
    Dropped,
    /// A cron job that never ran waits for a firing within the current tick.
    AwaitingFirstFiring,
    /// The schedule has no firing at or before now.
    NoFiring,
}

impl Wait {
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Running => "running",
            Wait::NotDue => "not_due",
            Wait::AlreadyRan => "already_ran",
            Wait::Dropped => "dropped",
            Wait::AwaitingFirstFiring => "awaiting_first_firing",
            Wait::NoFiring => "no_firing",
        }
    }
}

/// What to do with one periodic on this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Create(Slot),
    Wait(Wait),
}

/// Decides whether the periodic gets a new run at `now`. `tick` is how often horologium is
/// pinged (`horologium.tick_interval`): a cron job that has never run starts only if its
/// latest firing is less than one tick old.
pub fn decide(
    trigger: &Trigger,
    previous: Option<PreviousRun>,
    now: DateTime<Utc>,
    tick: Duration,
) -> Decision {
    match trigger {
        Trigger::Interval(interval) => {
            after_previous(previous, now, *interval, |prev, _| Some(prev.start))
        }
        Trigger::MinimumInterval(min) => {
            after_previous(previous, now, *min, |_, completion| Some(completion))
        }
        Trigger::Cron(schedule @ Schedule::Cron(_)) => match schedule.latest_at_or_before(now) {
            None => Decision::Wait(Wait::NoFiring),
            Some(firing) => on_firing(previous, firing, now, tick, false),
        },
        Trigger::Cron(Schedule::Every(every)) => match every_grid_point(*every, now) {
            None => Decision::Wait(Wait::NoFiring),
            Some(point) => on_firing(previous, point, now, tick, true),
        },
    }
}

/// [`decide`], then Prow's `retry:` for jobs that are not due: like Prow, which only looks at
/// retries of cron jobs on the tick their firing is queued, re-runs here are for `interval` and
/// `minimum_interval` jobs; a cron job simply runs again on its next firing.
pub fn decide_with_retry(
    trigger: &Trigger,
    retry: Option<&RetryPolicy>,
    previous: Option<PreviousRun>,
    now: DateTime<Utc>,
    tick: Duration,
) -> Decision {
    let decision = decide(trigger, previous, now, tick);
    match (decision, trigger, retry, previous) {
        (
            Decision::Wait(_),
            Trigger::Interval(_) | Trigger::MinimumInterval(_),
            Some(policy),
            Some(prev),
        ) => rerun(policy, &prev, now).map_or(decision, |attempt| {
            Decision::Create(Slot::Rerun {
                attempt,
                after: prev.start,
            })
        }),
        _ => decision,
    }
}

/// Prow's `shouldTriggerFailedRun`: the attempt number of the re-run due now, if any.
fn rerun(policy: &RetryPolicy, prev: &PreviousRun, now: DateTime<Utc>) -> Option<u32> {
    if prev.completion.is_none() && !policy.run_all {
        return None;
    }
    let attempt = match prev.rerun {
        RerunLabel::Absent => 1,
        RerunLabel::Attempt(n) => n.checked_add(1)?,
        RerunLabel::Invalid => return None,
    };
    if attempt > policy.attempts {
        return None;
    }
    let waited =
        TimeDelta::from_std(policy.interval).is_ok_and(|interval| now - prev.start > interval);
    if !waited || (!policy.run_all && prev.succeeded) {
        return None;
    }
    Some(attempt)
}

/// `interval` and `minimum_interval`: due `period` after the reference instant `since` picks
/// from the complete previous run.
fn after_previous(
    previous: Option<PreviousRun>,
    now: DateTime<Utc>,
    period: Duration,
    since: impl Fn(&PreviousRun, DateTime<Utc>) -> Option<DateTime<Utc>>,
) -> Decision {
    let Some(prev) = previous else {
        return Decision::Create(Slot::First);
    };
    let Some(completion) = prev.completion else {
        return Decision::Wait(Wait::Running);
    };
    let Some(due) = since(&prev, completion).and_then(|at| add(at, period)) else {
        return Decision::Wait(Wait::NotDue);
    };
    // Prow's `time.Since(ref) > period`: due strictly after the period has passed.
    if now > due {
        Decision::Create(Slot::At(due))
    } else {
        Decision::Wait(Wait::NotDue)
    }
}

/// Cron and `@every`: the latest firing, if nothing ran for it and the previous run was
/// finished when it fired.
fn on_firing(
    previous: Option<PreviousRun>,
    firing: DateTime<Utc>,
    now: DateTime<Utc>,
    tick: Duration,
    first_runs_immediately: bool,
) -> Decision {
    let Some(prev) = previous else {
        let fresh = TimeDelta::from_std(tick).is_ok_and(|tick| now - firing < tick);
        return if first_runs_immediately || fresh {
            Decision::Create(Slot::At(firing))
        } else {
            Decision::Wait(Wait::AwaitingFirstFiring)
        };
    };
    match prev.completion {
        None => Decision::Wait(Wait::Running),
        Some(_) if prev.start >= firing => Decision::Wait(Wait::AlreadyRan),
        Some(completion) if completion > firing => Decision::Wait(Wait::Dropped),
        Some(_) => Decision::Create(Slot::At(firing)),
    }
}

/// The latest multiple of `every` since the Unix epoch at or before `now`.
fn every_grid_point(every: Duration, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let step = i64::try_from(every.as_millis()).ok().filter(|s| *s > 0)?;
    let now_ms = now.timestamp_millis();
    DateTime::from_timestamp_millis(now_ms - now_ms.rem_euclid(step))
}

fn add(at: DateTime<Utc>, period: Duration) -> Option<DateTime<Utc>> {
    TimeDelta::from_std(period)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MINUTE: Duration = Duration::from_secs(60);

    /// 2026-11-25 at h:m:s UTC.
    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, s).unwrap()
    }

    fn done(start: DateTime<Utc>, completion: DateTime<Utc>) -> Option<PreviousRun> {
        Some(PreviousRun {
            start,
            completion: Some(completion),
            succeeded: true,
            rerun: RerunLabel::Absent,
        })
    }

    fn running(start: DateTime<Utc>) -> Option<PreviousRun> {
        Some(PreviousRun {
            start,
            completion: None,
            succeeded: false,
            rerun: RerunLabel::Absent,
        })
    }

    fn trigger(field: &str, value: &str) -> Trigger {
        let mut p = Periodic::default();
        p.base.name = "ci-periodic".into();
        match field {
            "cron" => p.cron = value.into(),
            "interval" => p.interval = value.into(),
            _ => p.minimum_interval = value.into(),
        }
        Trigger::of(&p).unwrap()
    }

    fn create(at: DateTime<Utc>) -> Decision {
        Decision::Create(Slot::At(at))
    }

    #[test]
    fn decisions_by_trigger_previous_run_and_time() {
        use Decision::Wait as W;
        #[rustfmt::skip]
        let cases = [
            // interval
            ("an interval job that never ran runs at once", trigger("interval", "2h"), None, t(10, 0, 0), Decision::Create(Slot::First)),
            ("an interval job waits for its running run", trigger("interval", "2h"), running(t(6, 0, 0)), t(10, 0, 0), W(Wait::Running)),
            ("an interval job is not due before the interval passed", trigger("interval", "2h"), done(t(9, 0, 0), t(9, 10, 0)), t(10, 59, 0), W(Wait::NotDue)),
            ("an interval job is not due exactly at the interval", trigger("interval", "2h"), done(t(9, 0, 0), t(9, 10, 0)), t(11, 0, 0), W(Wait::NotDue)),
            ("an interval job's slot is previous start plus interval", trigger("interval", "2h"), done(t(9, 0, 0), t(9, 10, 0)), t(11, 0, 1), create(t(11, 0, 0))),
            ("a late tick keeps the interval slot", trigger("interval", "2h"), done(t(9, 0, 0), t(9, 10, 0)), t(17, 30, 0), create(t(11, 0, 0))),
            ("interval counts from the start, not the completion", trigger("interval", "1h"), done(t(9, 0, 0), t(9, 50, 0)), t(10, 1, 0), create(t(10, 0, 0))),
            // minimum_interval
            ("a minimum_interval job that never ran runs at once", trigger("minimum_interval", "1h"), None, t(10, 0, 0), Decision::Create(Slot::First)),
            ("a minimum_interval job waits for its running run", trigger("minimum_interval", "1h"), running(t(1, 0, 0)), t(10, 0, 0), W(Wait::Running)),
            ("minimum_interval counts from the completion", trigger("minimum_interval", "1h"), done(t(8, 0, 0), t(9, 30, 0)), t(10, 15, 0), W(Wait::NotDue)),
            ("minimum_interval's slot is completion plus the interval", trigger("minimum_interval", "1h"), done(t(8, 0, 0), t(9, 30, 0)), t(10, 31, 0), create(t(10, 30, 0))),
            // cron
            ("a cron job that never ran waits for a firing", trigger("cron", "0 * * * *"), None, t(10, 30, 0), W(Wait::AwaitingFirstFiring)),
            ("a cron job that never ran starts on a fresh firing", trigger("cron", "0 * * * *"), None, t(10, 0, 20), create(t(10, 0, 0))),
            ("a firing one tick old is no longer fresh", trigger("cron", "0 * * * *"), None, t(10, 1, 0), W(Wait::AwaitingFirstFiring)),
            ("a cron job runs on the latest firing", trigger("cron", "0 * * * *"), done(t(9, 0, 0), t(9, 20, 0)), t(10, 0, 0), create(t(10, 0, 0))),
            ("a repeated tick after the run started does nothing", trigger("cron", "0 * * * *"), done(t(10, 0, 0), t(10, 0, 30)), t(10, 0, 45), W(Wait::AlreadyRan)),
            ("missed firings collapse into one catch-up run", trigger("cron", "0 * * * *"), done(t(5, 0, 0), t(5, 20, 0)), t(10, 42, 0), create(t(10, 0, 0))),
            ("a running run blocks the firing", trigger("cron", "0 * * * *"), running(t(9, 0, 0)), t(10, 0, 0), W(Wait::Running)),
            ("a firing during the previous run is dropped", trigger("cron", "0 * * * *"), done(t(9, 0, 0), t(10, 10, 0)), t(10, 15, 0), W(Wait::Dropped)),
            ("the firing after a dropped one runs", trigger("cron", "0 * * * *"), done(t(9, 0, 0), t(10, 10, 0)), t(11, 0, 0), create(t(11, 0, 0))),
            ("cron is evaluated in UTC", trigger("cron", "30 5 * * *"), done(t(0, 0, 0), t(0, 5, 0)), t(5, 30, 10), create(t(5, 30, 0))),
            ("descriptors are cron firings", trigger("cron", "@daily"), done(t(0, 0, 0) - TimeDelta::days(1), t(0, 5, 0) - TimeDelta::days(1)), t(0, 0, 5), create(t(0, 0, 0))),
            // @every
            ("@every runs at once when it never ran", trigger("cron", "@every 2h"), None, t(9, 37, 0), create(t(8, 0, 0))),
            ("@every waits for the next grid point", trigger("cron", "@every 2h"), done(t(9, 37, 0), t(9, 47, 0)), t(9, 59, 0), W(Wait::AlreadyRan)),
            ("@every runs on the next grid point", trigger("cron", "@every 2h"), done(t(9, 37, 0), t(9, 47, 0)), t(10, 0, 0), create(t(10, 0, 0))),
            ("@every is blocked by a running run", trigger("cron", "@every 2h"), running(t(9, 37, 0)), t(10, 0, 0), W(Wait::Running)),
        ];
        for (name, trigger, previous, now, expected) in cases {
            assert_eq!(decide(&trigger, previous, now, MINUTE), expected, "{name}");
        }
    }

    #[test]
    fn ticks_within_a_slot_agree_on_the_slot() {
        let cron = trigger("cron", "*/5 * * * *");
        let prev = done(t(9, 55, 0), t(9, 56, 0));
        let slots: Vec<_> = [t(10, 0, 0), t(10, 0, 59), t(10, 3, 0), t(10, 4, 59)]
            .into_iter()
            .map(|now| decide(&cron, prev, now, MINUTE))
            .collect();
        assert!(slots.iter().all(|d| *d == create(t(10, 0, 0))), "{slots:?}");
        assert_eq!(
            decide(&cron, prev, t(10, 5, 0), MINUTE),
            create(t(10, 5, 0))
        );
    }

    #[test]
    fn slot_keys_are_stable_strings() {
        assert_eq!(Slot::First.key(), "first");
        assert_eq!(Slot::At(t(10, 5, 0)).key(), "2026-11-25T10:05:00Z");
    }

    #[test]
    fn triggers_come_from_the_set_field() {
        assert!(
            matches!(trigger("interval", "90m"), Trigger::Interval(d) if d == Duration::from_secs(5400))
        );
        assert!(
            matches!(trigger("minimum_interval", "5m"), Trigger::MinimumInterval(d) if d == Duration::from_secs(300))
        );
        assert!(matches!(
            trigger("cron", "@every 5m"),
            Trigger::Cron(Schedule::Every(_))
        ));
        let mut p = Periodic::default();
        p.base.name = "ci-bad".into();
        assert_eq!(
            Trigger::of(&p).unwrap_err(),
            TriggerError::Missing {
                job: "ci-bad".into()
            }
        );
        p.interval = "soon".into();
        assert!(matches!(
            Trigger::of(&p).unwrap_err(),
            TriggerError::Duration {
                field: "interval",
                ..
            }
        ));
        p.cron = "61 * * * *".into();
        assert!(matches!(
            Trigger::of(&p).unwrap_err(),
            TriggerError::Cron { .. }
        ));
    }

    fn failed(
        start: DateTime<Utc>,
        completion: DateTime<Utc>,
        rerun: RerunLabel,
    ) -> Option<PreviousRun> {
        Some(PreviousRun {
            start,
            completion: Some(completion),
            succeeded: false,
            rerun,
        })
    }

    #[test]
    fn failed_runs_are_retried_as_prow_does() {
        use RerunLabel::*;
        let policy = RetryPolicy {
            attempts: 2,
            interval: Duration::from_secs(600),
            run_all: false,
        };
        let all = RetryPolicy {
            run_all: true,
            ..policy
        };
        let hourly = trigger("interval", "1h");
        let rerun = |attempt, after| Decision::Create(Slot::Rerun { attempt, after });
        #[rustfmt::skip]
        let cases = [
            ("a failed run is re-run after the retry interval", hourly.clone(), policy, failed(t(9, 0, 0), t(9, 5, 0), Absent), t(9, 10, 1), rerun(1, t(9, 0, 0))),
            ("not before the retry interval passed", hourly.clone(), policy, failed(t(9, 0, 0), t(9, 5, 0), Absent), t(9, 10, 0), Decision::Wait(Wait::NotDue)),
            ("the attempt counts up from the label", hourly.clone(), policy, failed(t(9, 11, 0), t(9, 15, 0), Attempt(1)), t(9, 30, 0), rerun(2, t(9, 11, 0))),
            ("attempts are bounded", hourly.clone(), policy, failed(t(9, 22, 0), t(9, 25, 0), Attempt(2)), t(9, 40, 0), Decision::Wait(Wait::NotDue)),
            ("an unreadable label stops retries", hourly.clone(), policy, failed(t(9, 0, 0), t(9, 5, 0), Invalid), t(9, 40, 0), Decision::Wait(Wait::NotDue)),
            ("a successful run is not retried", hourly.clone(), policy, done(t(9, 0, 0), t(9, 5, 0)), t(9, 40, 0), Decision::Wait(Wait::NotDue)),
            ("run_all retries successful runs too", hourly.clone(), all, done(t(9, 0, 0), t(9, 5, 0)), t(9, 40, 0), rerun(1, t(9, 0, 0))),
            ("run_all retries even a running run", hourly.clone(), all, running(t(9, 0, 0)), t(9, 40, 0), rerun(1, t(9, 0, 0))),
            ("a due scheduled run wins over a retry", hourly.clone(), policy, failed(t(8, 0, 0), t(8, 5, 0), Absent), t(9, 0, 1), create(t(9, 0, 0))),
            ("cron jobs are not retried between firings", trigger("cron", "0 * * * *"), policy, failed(t(9, 0, 0), t(9, 5, 0), Absent), t(9, 40, 0), Decision::Wait(Wait::AlreadyRan)),
        ];
        for (name, trigger, policy, previous, now, expected) in cases {
            assert_eq!(
                decide_with_retry(&trigger, Some(&policy), previous, now, MINUTE),
                expected,
                "{name}"
            );
        }
        assert_eq!(
            decide_with_retry(
                &hourly,
                None,
                failed(t(9, 0, 0), t(9, 5, 0), Absent),
                t(9, 40, 0),
                MINUTE
            ),
            Decision::Wait(Wait::NotDue)
        );
        assert_eq!(
            Slot::Rerun {
                attempt: 2,
                after: t(9, 0, 0)
            }
            .key(),
            "rerun-2-2026-11-25T09:00:00Z"
        );
    }

    #[test]
    fn retry_policies_are_capped_at_ten_attempts() {
        let mut p = Periodic::default();
        p.base.name = "ci-flaky".into();
        assert_eq!(RetryPolicy::of(&p).unwrap(), None);
        p.retry = Some(prow_core::config::Retry {
            run_all: false,
            attempts: 50,
            interval: "5m".into(),
        });
        let policy = RetryPolicy::of(&p).unwrap().unwrap();
        assert_eq!(
            (policy.attempts, policy.interval),
            (MAX_RETRIES, Duration::from_secs(300))
        );
        p.retry = Some(prow_core::config::Retry {
            run_all: false,
            attempts: 1,
            interval: "often".into(),
        });
        assert!(RetryPolicy::of(&p).is_err());
        assert_eq!(RerunLabel::parse(Some("3")), RerunLabel::Attempt(3));
        assert_eq!(RerunLabel::parse(Some("x")), RerunLabel::Invalid);
        assert_eq!(RerunLabel::parse(None), RerunLabel::Absent);
    }
}
