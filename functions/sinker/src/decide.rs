//! What sinker deletes and why: a pure function of the ProwJobs, the pods, the periodics still
//! in config, the age limits and now, following Prow's `cmd/sinker`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prow_core::config::Sinker;
use prow_core::duration::{DurationError, parse_go_duration};
use prow_core::jobspec::{CREATED_BY_PROW, ID_LABEL};
use prow_core::prowjob::{ProwJob, ProwJobType};

/// Prow's defaults: ProwJobs live a week, pods a day.
pub const DEFAULT_MAX_PROWJOB_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_MAX_POD_AGE: Duration = Duration::from_secs(24 * 3600);
/// A pod without a ProwJob is left alone this long, so that a ProwJob being created (or a list
/// that raced its creation) does not cost the pod its life.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(30);

/// The `sinker:` age limits, defaulted as Prow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_prowjob_age: Duration,
    pub max_pod_age: Duration,
    /// How long a pod outlives the completion of its ProwJob (default: `max_pod_age`).
    pub terminated_pod_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_prowjob_age: DEFAULT_MAX_PROWJOB_AGE,
            max_pod_age: DEFAULT_MAX_POD_AGE,
            terminated_pod_ttl: DEFAULT_MAX_POD_AGE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sinker.{field} {value:?}: {source}")]
pub struct LimitsError {
    pub field: &'static str,
    pub value: String,
    #[source]
    pub source: DurationError,
}

impl Limits {
    pub fn from_config(sinker: &Sinker) -> Result<Self, LimitsError> {
        let parse = |field: &'static str,
                     value: &Option<String>|
         -> Result<Option<Duration>, LimitsError> {
            match value.as_deref() {
                None | Some("") => Ok(None),
                Some(text) => parse_go_duration(text)
                    .map(Some)
                    .map_err(|source| LimitsError {
                        field,
                        value: text.to_owned(),
                        source,
                    }),
            }
        };
        let max_prowjob_age =
            parse("max_prowjob_age", &sinker.max_prowjob_age)?.unwrap_or(DEFAULT_MAX_PROWJOB_AGE);
        let max_pod_age = parse("max_pod_age", &sinker.max_pod_age)?.unwrap_or(DEFAULT_MAX_POD_AGE);
        let terminated_pod_ttl =
            parse("terminated_pod_ttl", &sinker.terminated_pod_ttl)?.unwrap_or(max_pod_age);
        Ok(Self {
            max_prowjob_age,
            max_pod_age,
            terminated_pod_ttl,
        })
    }
}

/// Which kind of object a deletion removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    ProwJob,
    Pod,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProwJob => "prowjob",
            Kind::Pod => "pod",
        }
    }
}

/// Why an object goes; the names are Prow's sinker metric reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A completed ProwJob started longer ago than `max_prowjob_age`.
    AgedProwJob,
    /// The same for a periodic run that is not the latest run of a periodic in config.
    AgedPeriodicProwJob,
    /// A pod of a completed ProwJob, started longer ago than `max_pod_age`.
    AgedPod,
    /// A pod whose ProwJob completed longer ago than `terminated_pod_ttl`.
    TtledPod,
    /// A pod whose ProwJob does not exist.
    OrphanedPod,
}

impl Reason {
    pub fn kind(self) -> Kind {
        match self {
            Reason::AgedProwJob | Reason::AgedPeriodicProwJob => Kind::ProwJob,
            Reason::AgedPod | Reason::TtledPod | Reason::OrphanedPod => Kind::Pod,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AgedProwJob | Reason::AgedPod => "aged",
            Reason::AgedPeriodicProwJob => "aged-periodic",
            Reason::TtledPod => "ttled",
            Reason::OrphanedPod => "orphaned",
        }
    }
}

/// One object to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub name: String,
    pub reason: Reason,
    /// For pods: the ProwJob name the pod belongs to (its `prow.k8s.io/id` label or its name).
    pub prowjob: Option<String>,
}

impl fmt::Display for Deletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.reason.kind().as_str(),
            self.name,
            self.reason.as_str()
        )
    }
}

/// What sinker saw on one tick.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub prowjobs: &'a [ProwJob],
    /// Pods in the pod namespace (only those labelled `created-by-prow=true` are considered).
    pub pods: &'a [Pod],
    /// Names of the periodics in the current config.
    pub periodics: &'a HashSet<String>,
}

/// All deletions for this tick: ProwJobs first, then pods, each in input order.
pub fn decide(observed: Observed<'_>, limits: &Limits, now: DateTime<Utc>) -> Vec<Deletion> {
    let mut deletions = prowjob_deletions(observed.prowjobs, observed.periodics, limits, now);
    deletions.extend(pod_deletions(observed.prowjobs, observed.pods, limits, now));
    deletions
}

/// Completed ProwJobs past `max_prowjob_age`, except the latest run of each configured periodic.
pub fn prowjob_deletions(
    prowjobs: &[ProwJob],
    periodics: &HashSet<String>,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Vec<Deletion> {
    let latest = latest_periodic_runs(prowjobs);
    prowjobs
        .iter()
        .filter(|pj| pj.is_complete() && older_than(started(pj), limits.max_prowjob_age, now))
        .filter_map(|pj| {
            let reason = if pj.spec.type_ != ProwJobType::Periodic {
                Reason::AgedProwJob
            } else if periodics.contains(&pj.spec.job)
                && latest.get(pj.spec.job.as_str()) == Some(&pj.name())
            {
                return None;
            } else {
                Reason::AgedPeriodicProwJob
            };
            Some(Deletion {
                name: pj.name().to_owned(),
                reason,
                prowjob: None,
            })
        })
        .collect()
}

/// Prow-created pods that are orphaned, or belong to a completed ProwJob and are too old.
pub fn pod_deletions(
    prowjobs: &[ProwJob],
    pods: &[Pod],
    limits: &Limits,
    now: DateTime<Utc>,
) -> Vec<Deletion> {
    let by_name: HashMap<&str, &ProwJob> = prowjobs.iter().map(|pj| (pj.name(), pj)).collect();
    pods.iter()
        .filter(|pod| label(pod, CREATED_BY_PROW) == Some("true"))
        .filter_map(|pod| {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            let owner = label(pod, ID_LABEL).unwrap_or(name);
            let reason = match by_name.get(owner) {
                None => older_than(
                    time(pod.metadata.creation_timestamp.as_ref()),
                    ORPHAN_GRACE,
                    now,
                )
                .then_some(Reason::OrphanedPod),
                Some(pj) if !pj.is_complete() => None,
                Some(pj) => {
                    let pod_started = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.start_time.as_ref())
                        .or(pod.metadata.creation_timestamp.as_ref());
                    if older_than(time(pod_started), limits.max_pod_age, now) {
                        Some(Reason::AgedPod)
                    } else if older_than(
                        time(pj.status.completion_time.as_ref()),
                        limits.terminated_pod_ttl,
                        now,
                    ) {
                        Some(Reason::TtledPod)
                    } else {
                        None
                    }
                }
            }?;
            Some(Deletion {
                name: name.to_owned(),
                reason,
                prowjob: Some(owner.to_owned()),
            })
        })
        .collect()
}

/// The name of the latest run (by `status.startTime`, ties by name) of every periodic job.
fn latest_periodic_runs(prowjobs: &[ProwJob]) -> HashMap<&str, &str> {
    let mut latest: HashMap<&str, (Option<DateTime<Utc>>, &str)> = HashMap::new();
    for pj in prowjobs
        .iter()
        .filter(|pj| pj.spec.type_ == ProwJobType::Periodic)
    {
        let candidate = (started(pj), pj.name());
        latest
            .entry(pj.spec.job.as_str())
            .and_modify(|best| {
                if candidate > *best {
                    *best = candidate;
                }
            })
            .or_insert(candidate);
    }
    latest
        .into_iter()
        .map(|(job, (_, name))| (job, name))
        .collect()
}

fn started(pj: &ProwJob) -> Option<DateTime<Utc>> {
    time(
        pj.status
            .start_time
            .as_ref()
            .or(pj.metadata.creation_timestamp.as_ref()),
    )
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

fn time(t: Option<&Time>) -> Option<DateTime<Utc>> {
    let t = t?;
    let nanos = u32::try_from(t.0.subsec_nanosecond()).ok()?;
    DateTime::from_timestamp(t.0.as_second(), nanos)
}

/// Whether `at` lies more than `age` before `now`. A missing time counts as the zero time, as
/// in Go, which is older than any limit.
fn older_than(at: Option<DateTime<Utc>>, age: Duration, now: DateTime<Utc>) -> bool {
    let Some(at) = at else { return true };
    TimeDelta::from_std(age).is_ok_and(|age| now - at > age)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::jiff::Timestamp;
    use prow_core::prowjob::ProwJobState;
    use std::collections::BTreeMap;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    /// `seconds` before now.
    fn ago(seconds: i64) -> Time {
        Time(Timestamp::from_second(now().timestamp() - seconds).unwrap())
    }

    /// A job started `started` seconds ago; completed `completed` seconds ago when given.
    fn pj(
        name: &str,
        job: &str,
        type_: ProwJobType,
        started: i64,
        completed: Option<i64>,
    ) -> ProwJob {
        let mut pj = ProwJob::builder(job, type_)
            .name(name)
            .started_at(ago(started))
            .build();
        if let Some(done) = completed {
            pj.complete(ProwJobState::Success, ago(done));
        }
        pj
    }

    fn pod(name: &str, id: Option<&str>, created: i64, started: Option<i64>) -> Pod {
        let mut labels = BTreeMap::from([(CREATED_BY_PROW.to_owned(), "true".to_owned())]);
        if let Some(id) = id {
            labels.insert(ID_LABEL.to_owned(), id.to_owned());
        }
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels),
                creation_timestamp: Some(ago(created)),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                start_time: started.map(ago),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    fn names(deletions: &[Deletion]) -> Vec<(&str, Reason)> {
        deletions
            .iter()
            .map(|d| (d.name.as_str(), d.reason))
            .collect()
    }

    #[test]
    fn limits_default_like_prow_and_ttl_follows_max_pod_age() {
        assert_eq!(
            Limits::from_config(&Sinker::default()).unwrap(),
            Limits::default()
        );
        let sinker = Sinker {
            max_prowjob_age: Some("48h".into()),
            max_pod_age: Some("2h".into()),
            ..Sinker::default()
        };
        let limits = Limits::from_config(&sinker).unwrap();
        assert_eq!(limits.max_prowjob_age, Duration::from_secs(48 * 3600));
        assert_eq!(limits.terminated_pod_ttl, Duration::from_secs(2 * 3600));
        let bad = Sinker {
            terminated_pod_ttl: Some("1 day".into()),
            ..Sinker::default()
        };
        assert_eq!(
            Limits::from_config(&bad).unwrap_err().field,
            "terminated_pod_ttl"
        );
    }

    #[test]
    fn prowjobs_are_deleted_when_complete_and_older_than_max_prowjob_age() {
        use ProwJobType::*;
        let periodics: HashSet<String> = ["ci-kept".to_owned()].into();
        #[rustfmt::skip]
        let cases = [
            ("a completed presubmit past the age is deleted", pj("p", "pull-a", Presubmit, 8 * DAY, Some(8 * DAY - HOUR)), Some(Reason::AgedProwJob)),
            ("a completed presubmit within the age stays", pj("p", "pull-a", Presubmit, 6 * DAY, Some(6 * DAY - HOUR)), None),
            ("an incomplete presubmit past the age stays", pj("p", "pull-a", Presubmit, 8 * DAY, None), None),
            ("the age counts from the start, not the completion", pj("p", "push-a", Postsubmit, 8 * DAY, Some(HOUR)), Some(Reason::AgedProwJob)),
            ("the only run of a configured periodic stays", pj("p", "ci-kept", Periodic, 30 * DAY, Some(29 * DAY)), None),
            ("a periodic no longer in config goes", pj("p", "ci-gone", Periodic, 30 * DAY, Some(29 * DAY)), Some(Reason::AgedPeriodicProwJob)),
        ];
        for (name, job, expected) in cases {
            let got = prowjob_deletions(
                std::slice::from_ref(&job),
                &periodics,
                &Limits::default(),
                now(),
            );
            assert_eq!(got.first().map(|d| d.reason), expected, "{name}");
            assert!(got.len() <= 1, "{name}");
        }
    }

    #[test]
    fn only_the_latest_run_of_a_configured_periodic_is_kept() {
        let periodics: HashSet<String> = ["ci-kept".to_owned()].into();
        let jobs = vec![
            pj(
                "old",
                "ci-kept",
                ProwJobType::Periodic,
                10 * DAY,
                Some(10 * DAY - HOUR),
            ),
            pj(
                "newest",
                "ci-kept",
                ProwJobType::Periodic,
                9 * DAY,
                Some(9 * DAY - HOUR),
            ),
            pj(
                "older",
                "ci-kept",
                ProwJobType::Periodic,
                11 * DAY,
                Some(11 * DAY - HOUR),
            ),
        ];
        let got = prowjob_deletions(&jobs, &periodics, &Limits::default(), now());
        assert_eq!(
            names(&got),
            vec![
                ("old", Reason::AgedPeriodicProwJob),
                ("older", Reason::AgedPeriodicProwJob)
            ]
        );
        // A running newest run protects only itself; the completed older ones still go.
        let mut with_running = jobs.clone();
        with_running.push(pj("running", "ci-kept", ProwJobType::Periodic, HOUR, None));
        let got = prowjob_deletions(&with_running, &periodics, &Limits::default(), now());
        assert_eq!(got.len(), 3, "{got:?}");
    }

    #[test]
    fn pods_are_deleted_by_age_ttl_or_orphanhood() {
        let jobs = vec![
            pj(
                "done-long-ago",
                "pull-a",
                ProwJobType::Presubmit,
                2 * DAY,
                Some(25 * HOUR),
            ),
            pj(
                "done-recently",
                "pull-a",
                ProwJobType::Presubmit,
                2 * DAY,
                Some(HOUR),
            ),
            pj(
                "done-just-now",
                "pull-a",
                ProwJobType::Presubmit,
                3 * HOUR,
                Some(60),
            ),
            pj("running", "pull-a", ProwJobType::Presubmit, 2 * DAY, None),
        ];
        #[rustfmt::skip]
        let cases = [
            ("a pod started past max_pod_age of a complete job is aged", pod("done-recently", None, 2 * DAY, Some(2 * DAY)), Some(Reason::AgedPod)),
            ("a pod of a job completed past the ttl is ttled", pod("x", Some("done-long-ago"), 20 * HOUR, Some(20 * HOUR)), Some(Reason::TtledPod)),
            ("a young pod of a recently completed job stays", pod("done-just-now", None, 3 * HOUR, Some(3 * HOUR)), None),
            ("the pod's start, not its creation, counts", pod("done-just-now", None, 2 * DAY, Some(3 * HOUR)), None),
            ("an old pod of a running job stays", pod("running", None, 2 * DAY, Some(2 * DAY)), None),
            ("the id label wins over the pod name", pod("done-recently", Some("running"), 2 * DAY, Some(2 * DAY)), None),
            ("a pod without a ProwJob is orphaned after 30s", pod("nobody", None, 31, None), Some(Reason::OrphanedPod)),
            ("a pod without a ProwJob is left alone for 30s", pod("nobody", None, 10, None), None),
        ];
        let limits = Limits::default();
        for (name, p, expected) in cases {
            let got = pod_deletions(&jobs, std::slice::from_ref(&p), &limits, now());
            assert_eq!(got.first().map(|d| d.reason), expected, "{name}");
            assert!(got.len() <= 1, "{name}");
        }
    }

    #[test]
    fn pods_not_created_by_prow_are_never_touched() {
        let mut p = pod("nobody", None, 10 * DAY, Some(10 * DAY));
        p.metadata.labels = None;
        assert!(pod_deletions(&[], &[p], &Limits::default(), now()).is_empty());
    }

    #[test]
    fn decide_lists_prowjobs_then_pods_with_their_owner() {
        let periodics = HashSet::new();
        let jobs = vec![pj(
            "old",
            "pull-a",
            ProwJobType::Presubmit,
            8 * DAY,
            Some(8 * DAY),
        )];
        let pods = vec![
            pod("old", None, 8 * DAY, Some(8 * DAY)),
            pod("lost", Some("gone"), HOUR, None),
        ];
        let observed = Observed {
            prowjobs: &jobs,
            pods: &pods,
            periodics: &periodics,
        };
        let got = decide(observed, &Limits::default(), now());
        assert_eq!(
            names(&got),
            vec![
                ("old", Reason::AgedProwJob),
                ("old", Reason::AgedPod),
                ("lost", Reason::OrphanedPod)
            ]
        );
        assert_eq!(got[2].prowjob.as_deref(), Some("gone"));
        assert_eq!(got[1].to_string(), "pod old (aged)");
    }
}
