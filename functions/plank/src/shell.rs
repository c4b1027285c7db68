//! plank's I/O shell: read the job, its pod and (when a decision needs them) the other jobs; decide; apply the actions.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::PostParams;
use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_kube::{Created, KubeError, Pods};

use crate::PlankState;
use crate::decide::{Action, Observed, StatusChange, may_start, reconcile};

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// The job names a build cluster plank has no client for: a terminal error for the job.
    #[error("unknown cluster alias {0:?}")]
    UnknownCluster(String),
    #[error("resync: {failed} of {total} jobs failed, first: {first}")]
    Resync {
        failed: usize,
        total: usize,
        first: String,
    },
}

/// What applying a decision left behind.
#[derive(Debug, Default)]
pub struct Applied {
    /// The job as stored after the last status write, if one was written.
    pub stored: Option<ProwJob>,
    /// The earliest time the job wants another look.
    pub requeue: Option<Duration>,
}

impl PlankState {
    /// The pods of `namespace` in the build cluster `pj` runs in.
    fn pods(&self, pj: &ProwJob, namespace: &str) -> Result<Pods, ShellError> {
        self.inner
            .clusters
            .get(&pj.spec.cluster)
            .map(|client| Pods::new(client.clone(), namespace))
            .ok_or_else(|| ShellError::UnknownCluster(pj.spec.cluster.clone()))
    }

    /// Reads `pj`'s pod; a job on a build cluster plank does not know ends in `error` there and
    /// then, as in Prow (`None` then means "done with this job").
    async fn pod_of(
        &self,
        pj: &ProwJob,
        namespace: &str,
    ) -> Result<Option<Option<Pod>>, ShellError> {
        match self.pods(pj, namespace) {
            Ok(pods) => Ok(Some(pods.get(pj.name()).await?)),
            Err(ShellError::UnknownCluster(alias)) => {
                let change = StatusChange {
                    state: Some(ProwJobState::Error),
                    description: Some(format!("Terminal error: unknown cluster alias {alias:?}.")),
                    completion_time: Some(self.inner.clock.time()),
                    ..StatusChange {
                        from: pj.status.state,
                        ..StatusChange::default()
                    }
                };
                tracing::warn!(job = pj.name(), cluster = %alias, "unknown build cluster");
                if !self.inner.dry_run {
                    self.write_own_status(pj, &change).await?;
                }
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Does a decision about `pj` need the list of every job? Only when starting it under a
    /// concurrency limit, or for presubmit dedupe.
    fn needs_other_jobs(&self, pj: &ProwJob) -> bool {
        let limited = pj.status.state == ProwJobState::Triggered
            && (self.settings().max_concurrency > 0
                || pj.spec.max_concurrency > 0
                || !pj.spec.job_queue_name.is_empty());
        let dedupe = pj.spec.type_ == prow_core::prowjob::ProwJobType::Presubmit;
        limited || dedupe
    }

    /// Reconciles the ProwJob `name` (an event for it or its pod arrived).
    pub async fn reconcile_job(&self, name: &str) -> Result<(), ShellError> {
        let Some(pj) = self.inner.jobs.get(name).await? else {
            tracing::debug!(job = name, "no such ProwJob");
            return Ok(());
        };
        if pj.is_complete() {
            return Ok(());
        }
        let namespace = pj.pod_namespace(&self.settings().pod_namespace).to_owned();
        let Some(pod) = self.pod_of(&pj, &namespace).await? else {
            return Ok(());
        };
        let jobs = if self.needs_other_jobs(&pj) {
            self.inner.jobs.list(None).await?
        } else {
            Vec::new()
        };
        let applied = self.decide_and_apply(&pj, pod.as_ref(), &jobs).await?;
        let completed = applied.stored.as_ref().is_some_and(ProwJob::is_complete);
        if completed && self.frees_a_slot(&pj) {
            // A slot freed up: start waiting jobs now rather than at the next resync.
            self.start_waiting(&pj).await?;
        }
        Ok(())
    }

    fn frees_a_slot(&self, pj: &ProwJob) -> bool {
        self.settings().max_concurrency > 0
            || pj.spec.max_concurrency > 0
            || !pj.spec.job_queue_name.is_empty()
    }

    /// Gives the triggered jobs that shared a limit with `finished`, oldest first, a chance to
    /// start. Jobs still blocked are skipped before their pod is even read.
    async fn start_waiting(&self, finished: &ProwJob) -> Result<(), ShellError> {
        let settings = self.settings();
        let mut jobs = self.inner.jobs.list(None).await?;
        sort_fifo(&mut jobs);
        let shares_limit = |pj: &ProwJob| {
            settings.max_concurrency > 0
                || (pj.spec.max_concurrency > 0 && pj.spec.job == finished.spec.job)
                || (!pj.spec.job_queue_name.is_empty()
                    && pj.spec.job_queue_name == finished.spec.job_queue_name)
        };
        for i in 0..jobs.len() {
            let pj = &jobs[i];
            if pj.status.state != ProwJobState::Triggered || pj.is_complete() || !shares_limit(pj) {
                continue;
            }
            if may_start(pj, &jobs, &settings).is_err() {
                continue;
            }
            let pj = pj.clone();
            let namespace = pj.pod_namespace(&settings.pod_namespace).to_owned();
            let Some(pod) = self.pod_of(&pj, &namespace).await? else {
                continue;
            };
            let applied = self.decide_and_apply(&pj, pod.as_ref(), &jobs).await?;
            if let Some(stored) = applied.stored {
                jobs[i] = stored;
            }
        }
        Ok(())
    }

    /// Lists and reconciles every ProwJob, oldest first (the `plank-resync` tick). One job's
    /// failure does not stop the others; the tick fails (and is redelivered) if any failed.
    pub async fn resync(&self) -> Result<usize, ShellError> {
        let mut jobs = self.inner.jobs.list(None).await?;
        sort_fifo(&mut jobs);
        // Pods by build cluster and namespace, each listed once.
        let mut pods_by_ns: HashMap<(String, String), HashMap<String, Pod>> = HashMap::new();
        let mut failures = Vec::new();
        let mut reconciled = 0;
        for i in 0..jobs.len() {
            if jobs[i].is_complete() {
                continue;
            }
            let pj = jobs[i].clone();
            let namespace = pj.pod_namespace(&self.settings().pod_namespace).to_owned();
            let key = (pj.spec.cluster.clone(), namespace.clone());
            if !pods_by_ns.contains_key(&key) {
                let pods = match self.pods(&pj, &namespace) {
                    Ok(pods) => pods.list(None).await?,
                    Err(ShellError::UnknownCluster(_)) => {
                        if let Err(err) = self.pod_of(&pj, &namespace).await {
                            failures.push(format!("{}: {err}", pj.name()));
                        }
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                let by_name = pods
                    .into_iter()
                    .map(|p| (p.metadata.name.clone().unwrap_or_default(), p))
                    .collect();
                pods_by_ns.insert(key.clone(), by_name);
            }
            let pod = pods_by_ns.get(&key).and_then(|m| m.get(pj.name()));
            match self.decide_and_apply(&pj, pod, &jobs).await {
                Ok(applied) => {
                    reconciled += 1;
                    if let Some(stored) = applied.stored {
                        jobs[i] = stored;
                    }
                }
                Err(err) => failures.push(format!("{}: {err}", pj.name())),
            }
        }
        match failures.first() {
            None => Ok(reconciled),
            Some(first) => Err(ShellError::Resync {
                failed: failures.len(),
                total: jobs.len(),
                first: first.clone(),
            }),
        }
    }

    async fn decide_and_apply(
        &self,
        pj: &ProwJob,
        pod: Option<&Pod>,
        jobs: &[ProwJob],
    ) -> Result<Applied, ShellError> {
        let now = self.inner.clock.timestamp();
        let observed = Observed {
            job: pj,
            pod,
            jobs,
            now,
            fresh_build_id: self.inner.build_ids.next(now),
        };
        let actions = reconcile(&observed, &self.settings());
        if actions.is_empty() {
            return Ok(Applied::default());
        }
        tracing::debug!(job = pj.name(), ?actions, "decided");
        if self.inner.dry_run {
            for action in &actions {
                tracing::info!(job = pj.name(), ?action, "dry run: not applied");
            }
            return Ok(Applied::default());
        }
        self.apply(pj, actions).await
    }

    /// Carries out `actions` for `pj` in order.
    async fn apply(&self, pj: &ProwJob, actions: Vec<Action>) -> Result<Applied, ShellError> {
        let mut applied = Applied::default();
        let mut skip_status = false;
        for action in actions {
            match action {
                Action::CreatePod(pod) => {
                    let namespace = pod
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| self.settings().pod_namespace.clone());
                    match self.pods(pj, &namespace)?.create(&pod).await {
                        Ok(Created::New(_)) => self.inner.metrics.action("create_pod"),
                        Ok(Created::Existing) => {
                            // Another plank (or an earlier try) made it: its build id is the
                            // one that counts, and our status write would name ours. The pod's
                            // own event brings the job back here to adopt it.
                            tracing::info!(
                                job = pj.name(),
                                "pod already exists, adopting on next event"
                            );
                            skip_status = true;
                        }
                        Err(err) if err.status().is_some_and(|s| (400..500).contains(&s)) => {
                            tracing::warn!(job = pj.name(), error = %err, "pod rejected");
                            let change = StatusChange {
                                state: Some(ProwJobState::Error),
                                description: Some(format!("Pod can not be created: {err}")),
                                completion_time: Some(self.inner.clock.time()),
                                ..StatusChange {
                                    from: pj.status.state,
                                    ..StatusChange::default()
                                }
                            };
                            applied.stored =
                                self.write_own_status(pj, &change).await?.or(applied.stored);
                            return Ok(applied);
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
                Action::DeletePod { namespace, name } => {
                    self.pods(pj, &namespace)?.delete(&name).await?;
                    self.inner.metrics.action("delete_pod");
                }
                Action::UpdateStatus(change) => {
                    if !skip_status {
                        applied.stored =
                            self.write_own_status(pj, &change).await?.or(applied.stored);
                    }
                }
                Action::AbortOther { name, change } => {
                    self.write_status(&name, &change).await?;
                }
                Action::Requeue(after) => {
                    applied.requeue = Some(applied.requeue.map_or(after, |r| r.min(after)));
                }
            }
        }
        Ok(applied)
    }

    /// Writes `change` to the job as observed, saving the re-read when nobody wrote in
    /// between; on 409 falls back to [`Self::write_status`], which re-reads and re-checks.
    async fn write_own_status(
        &self,
        observed: &ProwJob,
        change: &StatusChange,
    ) -> Result<Option<ProwJob>, ShellError> {
        let mut next = observed.clone();
        if observed.metadata.resource_version.is_none() || !change.apply_to(&mut next.status) {
            return self.write_status(observed.name(), change).await;
        }
        match self
            .inner
            .jobs
            .api()
            .replace_status(observed.name(), &PostParams::default(), &next)
            .await
        {
            Ok(stored) => {
                self.written(&stored);
                Ok(Some(stored))
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.write_status(observed.name(), change).await
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(source) => Err(ShellError::Kube(KubeError::Api {
                verb: "update status of",
                kind: "prowjob",
                name: observed.name().to_owned(),
                source,
            })),
        }
    }

    fn written(&self, pj: &ProwJob) {
        self.inner.metrics.action("update_status");
        self.inner.metrics.transition(pj.status.state.as_str());
        tracing::info!(job = pj.name(), state = %pj.status.state, description = %pj.status.description, "status written");
    }

    /// Writes `change` through the status subresource (re-read and re-checked on 409); the
    /// stored job when something was written.
    async fn write_status(
        &self,
        name: &str,
        change: &StatusChange,
    ) -> Result<Option<ProwJob>, ShellError> {
        let mut wrote = false;
        let stored = self
            .inner
            .jobs
            .update_status(name, |pj| {
                wrote = change.apply_to(&mut pj.status);
                wrote
            })
            .await?;
        match stored {
            Some(pj) if wrote => {
                self.written(&pj);
                Ok(Some(pj))
            }
            _ => Ok(None),
        }
    }
}

/// Oldest first, so jobs waiting on a limit start in the order they were created.
fn sort_fifo(jobs: &mut [ProwJob]) {
    jobs.sort_by(|a, b| {
        let key = |pj: &ProwJob| {
            (
                pj.metadata
                    .creation_timestamp
                    .as_ref()
                    .or(pj.status.start_time.as_ref())
                    .map(|t| t.0),
                pj.name().to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
}
