//! plank's decision: observed ProwJob + pod + the other jobs + settings + now -> actions (Prow's state switch, pure).
//!
//! The I/O shell ([`crate::shell`]) carries the actions out. Status writes are expressed as a
//! [`StatusChange`] guarded by the state it was decided from, so a write that races another
//! plank instance (409, re-read) is dropped instead of overwriting a newer decision.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use prow_core::config::Plank;
use prow_core::duration::parse_go_duration;
use prow_core::jobspec::BUILD_ID_LABEL;
use prow_core::prowjob::{ProwJob, ProwJobAgent, ProwJobState, ProwJobStatus, ProwJobType};

use crate::buildid;
use crate::pod::build_pod;
use crate::url::{UrlSettings, job_url};

/// crier's GitHub reporter name, as it appears in `status.prev_report_states`.
pub const GITHUB_REPORTER: &str = "github-reporter";

pub const DESC_TRIGGERED: &str = "Job triggered.";
pub const DESC_SUCCEEDED: &str = "Job succeeded.";
pub const DESC_FAILED: &str = "Job failed.";
pub const DESC_OOM: &str = "Job pod was OOM killed by the cluster.";
pub const DESC_EVICTED: &str = "Job pod was evicted by the cluster.";
pub const DESC_UNFINISHED: &str = "Pod was in succeeded phase but some containers didn't finish";
pub const DESC_SCHEDULING_TIMEOUT: &str = "Pod scheduling timeout.";
pub const DESC_PENDING_TIMEOUT: &str = "Pod pending timeout.";
pub const DESC_RUNNING_TIMEOUT: &str = "Pod running timeout.";
pub const DESC_DELETED: &str = "Pod got deleted unexpectedly";
pub const DESC_SUPERSEDED: &str = "Aborted as the newer version of this job is running.";

/// How long a job blocked by a concurrency limit waits before it is looked at again.
pub const CONCURRENCY_REQUEUE: Duration = Duration::from_secs(10);

/// Prow's plank defaults.
pub const DEFAULT_PENDING_TIMEOUT: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_UNSCHEDULED_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_RUNNING_TIMEOUT: Duration = Duration::from_secs(48 * 3600);
pub const DEFAULT_MAX_REVIVALS: u32 = 3;

/// The plank settings a decision depends on (from `plank:` in config.yaml).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Cap on `pending` jobs overall; 0 = unlimited.
    pub max_concurrency: u32,
    /// `job_queue_name` -> capacity (0 blocks, negative = unlimited).
    pub job_queue_capacities: BTreeMap<String, i64>,
    pub pod_pending_timeout: Duration,
    pub pod_unscheduled_timeout: Duration,
    pub pod_running_timeout: Duration,
    pub max_revivals: u32,
    /// Namespace of pods whose job names none (`pod_namespace`).
    pub pod_namespace: String,
    pub urls: UrlSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_concurrency: 0,
            job_queue_capacities: BTreeMap::new(),
            pod_pending_timeout: DEFAULT_PENDING_TIMEOUT,
            pod_unscheduled_timeout: DEFAULT_UNSCHEDULED_TIMEOUT,
            pod_running_timeout: DEFAULT_RUNNING_TIMEOUT,
            max_revivals: DEFAULT_MAX_REVIVALS,
            pod_namespace: "default".into(),
            urls: UrlSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("plank.{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl Settings {
    /// Settings from the `plank:` section; unset timeouts keep Prow's defaults.
    pub fn from_config(plank: &Plank, pod_namespace: &str) -> Result<Settings, SettingsError> {
        let timeout = |field: &'static str, value: &Option<String>, default: Duration| match value {
            None => Ok(default),
            Some(text) => parse_go_duration(text).map_err(|e| SettingsError {
                field,
                message: format!("{text:?}: {e}"),
            }),
        };
        Ok(Settings {
            max_concurrency: plank.max_concurrency,
            job_queue_capacities: plank.job_queue_capacities.clone(),
            pod_pending_timeout: timeout(
                "pod_pending_timeout",
                &plank.pod_pending_timeout,
                DEFAULT_PENDING_TIMEOUT,
            )?,
            pod_unscheduled_timeout: timeout(
                "pod_unscheduled_timeout",
                &plank.pod_unscheduled_timeout,
                DEFAULT_UNSCHEDULED_TIMEOUT,
            )?,
            pod_running_timeout: timeout(
                "pod_running_timeout",
                &plank.pod_running_timeout,
                DEFAULT_RUNNING_TIMEOUT,
            )?,
            max_revivals: plank.max_revivals.unwrap_or(DEFAULT_MAX_REVIVALS),
            pod_namespace: if pod_namespace.is_empty() {
                "default".into()
            } else {
                pod_namespace.into()
            },
            urls: UrlSettings {
                job_url_prefix_config: plank.job_url_prefix_config.clone(),
                deck_url: None,
                job_url_template: plank.job_url_template.clone(),
                local_deck_only: false,
            },
        })
    }

    /// The three pod timeouts for `pj`, its `decoration_config` overriding the global ones.
    pub fn timeouts_for(&self, pj: &ProwJob) -> Timeouts {
        let dc = pj.spec.decoration_config.as_ref();
        let pick = |over: Option<&prow_core::prowjob::GoDuration>, default: Duration| {
            over.and_then(|d| d.to_std().ok()).unwrap_or(default)
        };
        Timeouts {
            pending: pick(
                dc.and_then(|d| d.pod_pending_timeout.as_ref()),
                self.pod_pending_timeout,
            ),
            unscheduled: pick(
                dc.and_then(|d| d.pod_unscheduled_timeout.as_ref()),
                self.pod_unscheduled_timeout,
            ),
            running: pick(
                dc.and_then(|d| d.pod_running_timeout.as_ref()),
                self.pod_running_timeout,
            ),
        }
    }
}

/// Pod timeouts in effect for one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub pending: Duration,
    pub unscheduled: Duration,
    pub running: Duration,
}

/// What plank saw when it looked at one job.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub job: &'a ProwJob,
    /// The pod named like the job in its pod namespace, if any.
    pub pod: Option<&'a Pod>,
    /// Every ProwJob in the namespace (the job itself may be among them): concurrency and dedupe facts.
    pub jobs: &'a [ProwJob],
    pub now: Timestamp,
    /// A freshly vended snowflake, used if this decision starts a pod.
    pub fresh_build_id: i64,
}

/// A status write, applied only if the stored job is still in `from` and not complete.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusChange {
    pub from: ProwJobState,
    pub state: Option<ProwJobState>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub pod_name: Option<String>,
    pub build_id: Option<String>,
    pub pending_time: Option<Time>,
    /// Set only if the job has none yet: completion time never moves.
    pub completion_time: Option<Time>,
    pub pod_revival_count: Option<u32>,
    pub prev_report_states: BTreeMap<String, ProwJobState>,
}

impl StatusChange {
    fn from(state: ProwJobState) -> Self {
        StatusChange {
            from: state,
            ..StatusChange::default()
        }
    }

    /// A final state with completion time `now`.
    fn complete(
        from: ProwJobState,
        state: ProwJobState,
        description: Option<&str>,
        now: Timestamp,
    ) -> Self {
        StatusChange {
            state: Some(state),
            description: description.map(str::to_owned),
            completion_time: Some(Time(now)),
            ..StatusChange::from(from)
        }
    }

    /// Applies the change to `status`; false (and untouched) when the guard does not hold or
    /// nothing would change.
    pub fn apply_to(&self, status: &mut ProwJobStatus) -> bool {
        if status.state != self.from || status.completion_time.is_some() {
            return false;
        }
        let before = status.clone();
        if let Some(state) = self.state {
            status.state = state;
        }
        if let Some(d) = &self.description {
            status.description.clone_from(d);
        }
        if let Some(u) = &self.url {
            status.url.clone_from(u);
        }
        if let Some(p) = &self.pod_name {
            status.pod_name.clone_from(p);
        }
        if let Some(b) = &self.build_id {
            status.build_id.clone_from(b);
        }
        if let Some(t) = &self.pending_time {
            status.pending_time.get_or_insert_with(|| t.clone());
        }
        if let Some(t) = &self.completion_time {
            // Never before the job started or went pending, even if this plank's clock lags.
            let floor = [&status.start_time, &status.pending_time]
                .into_iter()
                .flatten()
                .map(|t| t.0)
                .max();
            let at = floor.filter(|f| *f > t.0).map_or_else(|| t.clone(), Time);
            status.completion_time.get_or_insert(at);
        }
        if let Some(n) = self.pod_revival_count {
            status.pod_revival_count = n;
        }
        for (reporter, state) in &self.prev_report_states {
            status.prev_report_states.insert(reporter.clone(), *state);
        }
        *status != before
    }
}

/// One step for the I/O shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create the job's pod (AlreadyExists = adopt it).
    CreatePod(Box<Pod>),
    DeletePod {
        namespace: String,
        name: String,
    },
    /// Write the observed job's status.
    UpdateStatus(Box<StatusChange>),
    /// Abort another job (a superseded presubmit run).
    AbortOther {
        name: String,
        change: Box<StatusChange>,
    },
    /// Nothing to write now; look again after this long (a timeout deadline or a concurrency slot).
    Requeue(Duration),
}

/// Decides what to do about `obs.job`.
pub fn reconcile(obs: &Observed<'_>, settings: &Settings) -> Vec<Action> {
    let pj = obs.job;
    if !matches!(
        pj.spec.agent.as_ref().unwrap_or(&ProwJobAgent::Kubernetes),
        ProwJobAgent::Kubernetes
    ) {
        return Vec::new();
    }
    if pj.is_complete() {
        return Vec::new();
    }
    let mut actions = supersede_older_runs(obs);
    if let Some(newer) = superseded_by(obs) {
        tracing::debug!(job = pj.name(), newer, "superseded by a newer run");
        actions.extend(abort_superseded(obs, settings));
        return actions;
    }
    actions.extend(match pj.status.state {
        ProwJobState::Scheduling => Vec::new(),
        ProwJobState::Triggered => triggered(obs, settings),
        ProwJobState::Pending => pending(obs, settings),
        ProwJobState::Aborted => vec![
            delete_pod(pj, settings),
            update(StatusChange {
                completion_time: Some(Time(obs.now)),
                ..StatusChange::from(ProwJobState::Aborted)
            }),
        ],
        // A final state without completion time (set by someone else): finish the record.
        done @ (ProwJobState::Success | ProwJobState::Failure | ProwJobState::Error) => {
            vec![update(StatusChange {
                completion_time: Some(Time(obs.now)),
                ..StatusChange::from(done)
            })]
        }
    });
    actions
}

fn update(change: StatusChange) -> Action {
    Action::UpdateStatus(Box::new(change))
}

fn delete_pod(pj: &ProwJob, settings: &Settings) -> Action {
    Action::DeletePod {
        namespace: pj.pod_namespace(&settings.pod_namespace).to_owned(),
        name: pj.name().to_owned(),
    }
}

// ---- triggered ----

fn triggered(obs: &Observed<'_>, settings: &Settings) -> Vec<Action> {
    let pj = obs.job;
    if let Some(pod) = obs.pod {
        // A pod with our name exists (an earlier attempt whose status write was lost): adopt it.
        let build_id = pod_build_id(pod)
            .unwrap_or_else(|| buildid::next_for_job(obs.fresh_build_id, &pj.status.build_id));
        return vec![update(to_pending(obs, &build_id, settings))];
    }
    if let Err(blocked) = may_start(pj, obs.jobs, settings) {
        tracing::debug!(job = pj.name(), %blocked, "not starting yet");
        return vec![Action::Requeue(CONCURRENCY_REQUEUE)];
    }
    start_pod(obs, settings, |obs, build_id| {
        to_pending(obs, build_id, settings)
    })
}

fn to_pending(obs: &Observed<'_>, build_id: &str, settings: &Settings) -> StatusChange {
    let pj = obs.job;
    StatusChange {
        state: Some(ProwJobState::Pending),
        description: Some(DESC_TRIGGERED.into()),
        url: Some(job_url(pj, build_id, &settings.urls)),
        pod_name: Some(pj.name().into()),
        build_id: Some(build_id.into()),
        pending_time: Some(Time(obs.now)),
        ..StatusChange::from(ProwJobState::Triggered)
    }
}

/// Builds the pod with a new build id and pairs it with the status write `then` describes; a
/// job whose pod cannot be built ends in `error`.
fn start_pod(
    obs: &Observed<'_>,
    settings: &Settings,
    then: impl FnOnce(&Observed<'_>, &str) -> StatusChange,
) -> Vec<Action> {
    let pj = obs.job;
    let build_id = buildid::next_for_job(obs.fresh_build_id, &pj.status.build_id);
    match build_pod(pj, &build_id, &settings.pod_namespace) {
        Ok(pod) => vec![
            Action::CreatePod(Box::new(pod)),
            update(then(obs, &build_id)),
        ],
        Err(err) => vec![update(StatusChange::complete(
            pj.status.state,
            ProwJobState::Error,
            Some(&format!("Pod can not be created: {err}")),
            obs.now,
        ))],
    }
}

/// The build id a pod was started as, from its `prow.k8s.io/build-id` label.
pub fn pod_build_id(pod: &Pod) -> Option<String> {
    pod.metadata
        .labels
        .as_ref()?
        .get(BUILD_ID_LABEL)
        .filter(|v| !v.is_empty())
        .cloned()
}

/// Why a job may not start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error("{pending} jobs pending, plank.max_concurrency is {max}")]
    Global { pending: usize, max: u32 },
    #[error("{running} runs of {job} ahead of it, max_concurrency is {max}")]
    Job {
        job: String,
        running: usize,
        max: u32,
    },
    #[error("{running} jobs of queue {queue} ahead of it, capacity {capacity}")]
    Queue {
        queue: String,
        running: usize,
        capacity: i64,
    },
    #[error("job_queue_name {queue} is not in plank.job_queue_capacities")]
    UnknownQueue { queue: String },
}

/// Prow's concurrency check, done only when starting a pod: the global cap counts `pending`
/// jobs; per-job and per-queue caps count same-name (same-queue) jobs that are `pending`, or
/// `triggered` and created before this one (FIFO by creationTimestamp, then name).
pub fn may_start(pj: &ProwJob, jobs: &[ProwJob], settings: &Settings) -> Result<(), Blocked> {
    let others = || {
        jobs.iter()
            .filter(|o| o.name() != pj.name() && !o.is_complete())
    };
    if settings.max_concurrency > 0 {
        let pending = others()
            .filter(|o| o.status.state == ProwJobState::Pending)
            .count();
        if pending >= settings.max_concurrency as usize {
            return Err(Blocked::Global {
                pending,
                max: settings.max_concurrency,
            });
        }
    }
    let ahead = |o: &&ProwJob| match o.status.state {
        ProwJobState::Pending => true,
        ProwJobState::Triggered => queue_key(o) < queue_key(pj),
        _ => false,
    };
    if pj.spec.max_concurrency > 0 {
        let running = others()
            .filter(|o| o.spec.job == pj.spec.job)
            .filter(ahead)
            .count();
        if running >= pj.spec.max_concurrency as usize {
            return Err(Blocked::Job {
                job: pj.spec.job.clone(),
                running,
                max: pj.spec.max_concurrency,
            });
        }
    }
    let queue = &pj.spec.job_queue_name;
    if !queue.is_empty() {
        let Some(&capacity) = settings.job_queue_capacities.get(queue) else {
            return Err(Blocked::UnknownQueue {
                queue: queue.clone(),
            });
        };
        if capacity >= 0 {
            let running = others()
                .filter(|o| &o.spec.job_queue_name == queue)
                .filter(ahead)
                .count();
            if running as i64 >= capacity {
                return Err(Blocked::Queue {
                    queue: queue.clone(),
                    running,
                    capacity,
                });
            }
        }
    }
    Ok(())
}

/// FIFO order of jobs: creation time (start time if absent), then name.
fn queue_key(pj: &ProwJob) -> (Option<Timestamp>, &str) {
    let created = pj
        .metadata
        .creation_timestamp
        .as_ref()
        .or(pj.status.start_time.as_ref())
        .map(|t| t.0);
    (created, pj.name())
}

// ---- dedupe ----

/// Presubmit runs of the same job on the same PR are duplicates; only the newest may run.
fn dedupe_key(pj: &ProwJob) -> Option<(&str, &str, &str, u64)> {
    if pj.spec.type_ != ProwJobType::Presubmit || pj.is_complete() || pj.status.state.is_final() {
        return None;
    }
    let refs = pj.spec.refs.as_ref()?;
    let pull = refs.pulls.first()?;
    Some((
        pj.spec.job.as_str(),
        refs.org.as_str(),
        refs.repo.as_str(),
        pull.number,
    ))
}

fn superseded_by<'a>(obs: &Observed<'a>) -> Option<&'a str> {
    let key = dedupe_key(obs.job)?;
    obs.jobs
        .iter()
        .filter(|o| o.name() != obs.job.name() && dedupe_key(o) == Some(key))
        .find(|o| queue_key(o) > queue_key(obs.job))
        .map(ProwJob::name)
}

fn superseded_change(from: ProwJobState) -> StatusChange {
    StatusChange {
        state: Some(ProwJobState::Aborted),
        description: Some(DESC_SUPERSEDED.into()),
        prev_report_states: BTreeMap::from([(GITHUB_REPORTER.to_owned(), ProwJobState::Aborted)]),
        ..StatusChange::from(from)
    }
}

/// This run is superseded: abort it (crier must not report it), delete its pod, complete it.
fn abort_superseded(obs: &Observed<'_>, settings: &Settings) -> Vec<Action> {
    let change = StatusChange {
        completion_time: Some(Time(obs.now)),
        ..superseded_change(obs.job.status.state)
    };
    vec![delete_pod(obs.job, settings), update(change)]
}

/// Older active runs of this job on the same PR are aborted; their own reconcile then deletes
/// their pods and completes them.
fn supersede_older_runs(obs: &Observed<'_>) -> Vec<Action> {
    let Some(key) = dedupe_key(obs.job) else {
        return Vec::new();
    };
    obs.jobs
        .iter()
        .filter(|o| o.name() != obs.job.name() && dedupe_key(o) == Some(key))
        .filter(|o| queue_key(o) < queue_key(obs.job))
        .map(|o| Action::AbortOther {
            name: o.name().to_owned(),
            change: Box::new(superseded_change(o.status.state)),
        })
        .collect()
}

// ---- pending ----

/// Why a pod stopped without finishing (Prow's `PodUnexpectedStopCause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnexpectedStop {
    OomKilled,
    Evicted,
    /// `NodeLost`: the node stopped answering and the pod is being deleted.
    Unreachable,
    Unknown,
}

impl UnexpectedStop {
    /// The cause as Prow's descriptions name it ("... stopped unexpectedly (evicted)").
    fn as_str(self) -> &'static str {
        match self {
            UnexpectedStop::OomKilled => "oomkilled",
            UnexpectedStop::Evicted => "evicted",
            UnexpectedStop::Unreachable => "unreachable",
            UnexpectedStop::Unknown => "unknown",
        }
    }
}

fn unexpected_stop(pod: &Pod) -> Option<UnexpectedStop> {
    let status = pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or("");
    let reason = status.reason.as_deref().unwrap_or("");
    // An init container killed for memory stops the pod as surely as the test container.
    let oom = || {
        status
            .container_statuses
            .iter()
            .chain(status.init_container_statuses.iter())
            .flatten()
            .any(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"))
            })
    };
    if reason == "Evicted" {
        Some(UnexpectedStop::Evicted)
    } else if reason == "NodeLost" && pod.metadata.deletion_timestamp.is_some() {
        Some(UnexpectedStop::Unreachable)
    } else if phase == "Running" && oom() {
        Some(UnexpectedStop::OomKilled)
    } else if phase == "Unknown" {
        Some(UnexpectedStop::Unknown)
    } else {
        None
    }
}

fn pending(obs: &Observed<'_>, settings: &Settings) -> Vec<Action> {
    let pj = obs.job;
    let Some(pod) = obs.pod else {
        // The pod vanished (or its creation was lost): start it again as a new build.
        return start_pod(obs, settings, |obs, build_id| StatusChange {
            pod_name: Some(obs.job.name().into()),
            build_id: Some(build_id.into()),
            url: Some(job_url(obs.job, build_id, &settings.urls)),
            ..StatusChange::from(ProwJobState::Pending)
        });
    };
    let from = ProwJobState::Pending;
    let now = obs.now;
    if let Some(cause) = unexpected_stop(pod) {
        return revive_or_fail(obs, pod, settings, cause);
    }
    let status = pod.status.clone().unwrap_or_default();
    let timeouts = settings.timeouts_for(pj);
    match status.phase.as_deref().unwrap_or("Pending") {
        "Succeeded" if all_containers_finished_ok(pod) => {
            vec![update(StatusChange::complete(
                from,
                ProwJobState::Success,
                Some(DESC_SUCCEEDED),
                now,
            ))]
        }
        "Succeeded" => vec![update(StatusChange::complete(
            from,
            ProwJobState::Error,
            Some(DESC_UNFINISHED),
            now,
        ))],
        "Failed" => vec![update(StatusChange::complete(
            from,
            ProwJobState::Failure,
            Some(DESC_FAILED),
            now,
        ))],
        _ if pod.metadata.deletion_timestamp.is_some() => {
            vec![update(StatusChange::complete(
                from,
                ProwJobState::Error,
                Some(DESC_DELETED),
                now,
            ))]
        }
        "Running" => {
            let started = status.start_time.as_ref().map(|t| t.0);
            timeout_or_requeue(
                obs,
                settings,
                started,
                timeouts.running,
                ProwJobState::Aborted,
                DESC_RUNNING_TIMEOUT,
            )
        }
        _ => match status.start_time.as_ref() {
            None => {
                let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
                timeout_or_requeue(
                    obs,
                    settings,
                    created,
                    timeouts.unscheduled,
                    ProwJobState::Error,
                    DESC_SCHEDULING_TIMEOUT,
                )
            }
            Some(started) => timeout_or_requeue(
                obs,
                settings,
                Some(started.0),
                timeouts.pending,
                ProwJobState::Error,
                DESC_PENDING_TIMEOUT,
            ),
        },
    }
}

/// Past `since + timeout`: delete the pod and end in `state`; before it: look again at the deadline.
fn timeout_or_requeue(
    obs: &Observed<'_>,
    settings: &Settings,
    since: Option<Timestamp>,
    timeout: Duration,
    state: ProwJobState,
    description: &str,
) -> Vec<Action> {
    let Some(since) = since else {
        return Vec::new();
    };
    let elapsed = obs.now.duration_since(since);
    let limit = SignedDuration::try_from(timeout).unwrap_or(SignedDuration::MAX);
    if elapsed >= limit {
        return vec![
            delete_pod(obs.job, settings),
            update(StatusChange::complete(
                ProwJobState::Pending,
                state,
                Some(description),
                obs.now,
            )),
        ];
    }
    let left = limit - elapsed;
    vec![Action::Requeue(
        Duration::try_from(left).unwrap_or(Duration::ZERO),
    )]
}

/// Prow's revival: fail the job (OOM, eviction with `error_on_eviction`, `max_revivals`
/// reached) or count a revival and delete the pod so the next reconcile starts a new one.
///
/// A revival is counted once per pod: counting also clears `status.pod_name` (the job has no
/// pod until the next one starts), so a stopped pod that lingers (a NodeLost pod keeps its
/// deletionTimestamp until the node controller removes it, an evicted one until its deletion
/// completes) is seen as already counted and only waited for. Prow drops its count write in
/// these cases and so never reaches `max_revivals` for them; counting once keeps the bound.
fn revive_or_fail(
    obs: &Observed<'_>,
    pod: &Pod,
    settings: &Settings,
    cause: UnexpectedStop,
) -> Vec<Action> {
    let pj = obs.job;
    let from = ProwJobState::Pending;
    let fail = |description: String| {
        vec![update(StatusChange::complete(
            from,
            ProwJobState::Error,
            Some(&description),
            obs.now,
        ))]
    };
    if cause == UnexpectedStop::OomKilled {
        return fail(DESC_OOM.into());
    }
    if cause == UnexpectedStop::Evicted && pj.spec.error_on_eviction {
        return fail(DESC_EVICTED.into());
    }
    let deleting = pod.metadata.deletion_timestamp.is_some();
    if pj.status.pod_name.is_empty() {
        // Counted already: see the pod gone, then start the next.
        return if deleting {
            Vec::new()
        } else {
            vec![delete_pod(pj, settings)]
        };
    }
    if pj.status.pod_revival_count >= settings.max_revivals {
        return fail(format!(
            "Job pod reached max revivals ({}) after being stopped unexpectedly ({})",
            pj.status.pod_revival_count,
            cause.as_str()
        ));
    }
    let count = update(StatusChange {
        pod_revival_count: Some(pj.status.pod_revival_count + 1),
        pod_name: Some(String::new()),
        ..StatusChange::from(from)
    });
    if deleting {
        vec![count]
    } else {
        vec![delete_pod(pj, settings), count]
    }
}

/// Every (init) container terminated with exit code 0 and a finish time.
fn all_containers_finished_ok(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    let expected = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    if containers.len() < expected {
        return false;
    }
    containers
        .iter()
        .chain(status.init_container_statuses.iter().flatten())
        .all(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0 && t.finished_at.is_some())
        })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
