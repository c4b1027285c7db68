//! The in-memory ProwJob index every page reads: kept current by one kube list+watch, so a request
//! never lists the API server (100k jobs are a scan of memory, not a 100 MB download).
//!
//! It keeps a slim copy of each ProwJob ([`slim`]): the pod spec, decoration config (but where
//! artifacts are), labels, annotations and managed fields are most of a real ProwJob's bytes and no list, filter or badge
//! reads them; what needs them (`/prowjob`, `/prowjobs.js` without `omit`, rerun) reads the API
//! server.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use prow_core::prowjob::{DecorationConfig, ProwJob, ProwJobState};
use tokio::sync::watch;

/// Newest first: start time (ms since the epoch) then name, iterated in reverse.
type SortKey = (i64, String);

fn sort_key(pj: &ProwJob) -> SortKey {
    let start = pj
        .status
        .start_time
        .as_ref()
        .or(pj.metadata.creation_timestamp.as_ref())
        .map_or(0, |t| t.0.as_millisecond());
    (start, pj.name().to_owned())
}

/// The index's copy of `pj`: the fields pages, filters, badges and authorization read. The number
/// of containers survives (Prow's `omit=pod_spec` keeps one empty container per container).
pub fn slim(mut pj: ProwJob) -> Indexed {
    let containers = pj.spec.pod_spec.as_ref().map_or(0, |p| p.containers.len());
    pj.metadata.managed_fields = None;
    pj.metadata.labels = None;
    pj.metadata.annotations = None;
    pj.spec.pod_spec = None;
    // Where the artifacts are is all Deck reads of the decoration config.
    pj.spec.decoration_config = pj.spec.decoration_config.take().and_then(|d| {
        d.gcs_configuration.map(|gcs| DecorationConfig {
            gcs_configuration: Some(gcs),
            ..DecorationConfig::default()
        })
    });
    pj.spec.jenkins_spec = None;
    pj.spec.pipeline_run_spec = None;
    pj.spec.tekton_pipeline_run_spec = None;
    pj.spec.reporter_config = None;
    pj.spec.prowjob_defaults = None;
    Indexed {
        job: Arc::new(pj),
        containers,
    }
}

/// A ProwJob as the index keeps it ([`slim`]).
#[derive(Debug, Clone)]
pub struct Indexed {
    pub job: Arc<ProwJob>,
    /// Containers in the job's pod spec.
    pub containers: usize,
}

#[derive(Debug, Default)]
struct Inner {
    by_time: BTreeMap<SortKey, Indexed>,
    by_name: HashMap<String, SortKey>,
    /// Distinct values (with counts) offered as suggestions in the filter form.
    jobs: BTreeMap<String, usize>,
    repos: BTreeMap<String, usize>,
}

fn bump(map: &mut BTreeMap<String, usize>, key: String, up: bool) {
    if up {
        *map.entry(key).or_default() += 1;
    } else if let Some(n) = map.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            map.remove(&key);
        }
    }
}

impl Inner {
    fn count(&mut self, pj: &ProwJob, up: bool) {
        bump(&mut self.jobs, pj.spec.job.clone(), up);
        if let Some(refs) = pj.spec.main_refs() {
            bump(&mut self.repos, refs.org_repo(), up);
        }
    }

    fn upsert(&mut self, pj: Indexed) {
        self.remove(pj.job.name());
        let key = sort_key(&pj.job);
        self.count(&pj.job, true);
        self.by_name.insert(key.1.clone(), key.clone());
        self.by_time.insert(key, pj);
    }

    fn remove(&mut self, name: &str) {
        if let Some(key) = self.by_name.remove(name)
            && let Some(old) = self.by_time.remove(&key)
        {
            self.count(&old.job, false);
        }
    }
}

/// One page of matching jobs, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub jobs: Vec<Arc<ProwJob>>,
    /// How many jobs match in total (all pages).
    pub total: usize,
}

/// Shared, cheap to clone; writers are the watch task and Deck's own rerun/abort.
#[derive(Debug, Clone)]
pub struct JobIndex {
    inner: Arc<RwLock<Inner>>,
    synced: watch::Sender<bool>,
}

impl Default for JobIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl JobIndex {
    pub fn new() -> Self {
        Self {
            inner: Arc::default(),
            synced: watch::Sender::new(false),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (each write is one insert or
        // remove), so a poisoned lock is still readable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, f: impl FnOnce(&mut Inner)) {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard);
    }

    /// Replaces everything (a fresh list) and marks the index synced.
    pub fn replace_all(&self, jobs: Vec<ProwJob>) {
        self.replace_all_slim(jobs.into_iter().map(slim));
    }

    fn replace_all_slim(&self, jobs: impl IntoIterator<Item = Indexed>) {
        let mut fresh = Inner::default();
        for pj in jobs {
            fresh.upsert(pj);
        }
        self.write(|inner| *inner = fresh);
        self.synced.send_replace(true);
    }

    pub fn upsert(&self, pj: ProwJob) {
        let pj = slim(pj);
        self.write(|inner| inner.upsert(pj));
    }

    pub fn remove(&self, name: &str) {
        self.write(|inner| inner.remove(name));
    }

    pub fn len(&self) -> usize {
        self.read().by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the first full list arrived; false if it did not within `timeout`.
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        let mut rx = self.synced.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn get(&self, name: &str) -> Option<Arc<ProwJob>> {
        let inner = self.read();
        let key = inner.by_name.get(name)?;
        inner.by_time.get(key).map(|e| e.job.clone())
    }

    /// The run of `job` with build id `build_id` (what `/log?job=&id=` names).
    pub fn find_build(&self, job: &str, build_id: &str) -> Option<Arc<ProwJob>> {
        self.read()
            .by_time
            .values()
            .rev()
            .map(|e| &e.job)
            .find(|pj| pj.spec.job == job && pj.status.build_id == build_id)
            .cloned()
    }

    /// Matching jobs newest first, skipping `offset` and returning at most `limit`.
    pub fn query(&self, keep: impl Fn(&ProwJob) -> bool, offset: usize, limit: usize) -> Page {
        let inner = self.read();
        let mut jobs = Vec::with_capacity(limit.min(1024));
        let mut total = 0usize;
        for pj in inner.by_time.values().rev().map(|e| &e.job) {
            if !keep(pj) {
                continue;
            }
            if total >= offset && jobs.len() < limit {
                jobs.push(pj.clone());
            }
            total += 1;
        }
        Page { jobs, total }
    }

    /// Every matching job, newest first.
    pub fn select(&self, keep: impl Fn(&ProwJob) -> bool) -> Vec<Indexed> {
        self.read()
            .by_time
            .values()
            .rev()
            .filter(|e| keep(&e.job))
            .cloned()
            .collect()
    }

    /// For each job name accepted by `wanted`, its latest run's state (badge input).
    pub fn latest_states(&self, wanted: impl Fn(&str) -> bool) -> BTreeMap<String, ProwJobState> {
        let inner = self.read();
        let mut latest = BTreeMap::new();
        for pj in inner.by_time.values().rev().map(|e| &e.job) {
            if !latest.contains_key(&pj.spec.job) && wanted(&pj.spec.job) {
                latest.insert(pj.spec.job.clone(), pj.status.state);
            }
        }
        latest
    }

    /// Job names and `org/repo`s present, for the filter form's suggestions.
    pub fn facets(&self) -> (Vec<String>, Vec<String>) {
        let inner = self.read();
        (
            inner.jobs.keys().cloned().collect(),
            inner.repos.keys().cloned().collect(),
        )
    }

    /// Follows `api` forever: a full list on start (and after a watch expires), then changes.
    pub async fn follow(self, api: Api<ProwJob>) {
        // Slimmed as they arrive: a full list of 100k real ProwJobs would be gigabytes.
        let mut buffer: Vec<Indexed> = Vec::new();
        let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => buffer.clear(),
                Ok(Event::InitApply(pj)) => buffer.push(slim(pj)),
                Ok(Event::InitDone) => {
                    let jobs = std::mem::take(&mut buffer);
                    tracing::info!(jobs = jobs.len(), "prowjob index synced");
                    self.replace_all_slim(jobs);
                }
                Ok(Event::Apply(pj)) => self.upsert(pj),
                Ok(Event::Delete(pj)) => self.remove(pj.name()),
                Err(err) => tracing::warn!(error = %err, "prowjob watch failed; retrying"),
            }
        }
    }

    /// Starts [`JobIndex::follow`] on the runtime; the task stops when the returned guard drops.
    pub fn spawn_follow(&self, api: Api<ProwJob>) -> FollowTask {
        FollowTask(tokio::spawn(self.clone().follow(api)))
    }
}

/// Aborts the watch task when dropped (a test's or `prow up`'s Deck going away).
#[derive(Debug)]
pub struct FollowTask(tokio::task::JoinHandle<()>);

impl Drop for FollowTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::filter::Filter;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use prow_core::prowjob::{ProwJobType, Refs};

    fn job(name: &str, job: &str, second: i64, state: ProwJobState) -> ProwJob {
        ProwJob::builder(job, ProwJobType::Periodic)
            .name(name)
            .extra_refs(Refs::new("acme", "foo"))
            .started_at(Time(Timestamp::from_second(second).unwrap()))
            .state(state)
            .build()
    }

    #[test]
    fn query_is_newest_first_paged_and_counts_all_matches() {
        let index = JobIndex::new();
        index.replace_all(
            (0..10)
                .map(|i| job(&format!("j{i}"), "ci", 1000 + i, ProwJobState::Success))
                .collect(),
        );
        let all = Filter::default().compile();
        let page = index.query(|pj| all.matches(pj), 3, 4);
        let names: Vec<&str> = page.jobs.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["j6", "j5", "j4", "j3"]);
        assert_eq!(page.total, 10);
        assert!(index.is_synced());
    }

    #[test]
    fn upsert_moves_a_job_and_keeps_facet_counts() {
        let index = JobIndex::new();
        index.upsert(job("a", "ci-a", 10, ProwJobState::Pending));
        index.upsert(job("b", "ci-b", 20, ProwJobState::Pending));
        index.upsert(job("a", "ci-a", 30, ProwJobState::Failure));
        let page = index.query(|_| true, 0, 10);
        let names: Vec<&str> = page.jobs.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(page.jobs[0].status.state, ProwJobState::Failure);
        index.remove("b");
        assert_eq!(index.facets().0, vec!["ci-a".to_owned()]);
        assert_eq!(index.facets().1, vec!["acme/foo".to_owned()]);
        assert!(index.get("b").is_none());
    }

    #[test]
    fn latest_states_take_the_newest_run_of_each_job() {
        let index = JobIndex::new();
        index.upsert(job("1", "ci-a", 10, ProwJobState::Failure));
        index.upsert(job("2", "ci-a", 20, ProwJobState::Success));
        index.upsert(job("3", "ci-b", 15, ProwJobState::Failure));
        let latest = index.latest_states(|_| true);
        assert_eq!(latest["ci-a"], ProwJobState::Success);
        assert_eq!(latest["ci-b"], ProwJobState::Failure);
    }

    #[test]
    fn the_index_keeps_a_slim_copy_with_where_artifacts_are() {
        use k8s_openapi::api::core::v1::{Container, PodSpec};
        use prow_core::prowjob::GcsConfiguration;
        let mut pj = job("a", "ci-a", 10, ProwJobState::Success);
        pj.metadata.labels = Some([("created-by-prow".into(), "true".into())].into());
        pj.metadata.annotations = Some([("prow.k8s.io/job".into(), "ci-a".into())].into());
        pj.spec.pod_spec = Some(PodSpec {
            containers: vec![Container::default(), Container::default()],
            ..PodSpec::default()
        });
        let gcs = GcsConfiguration {
            bucket: "logs".into(),
            ..GcsConfiguration::default()
        };
        pj.spec.decoration_config = Some(DecorationConfig {
            gcs_configuration: Some(gcs.clone()),
            gcs_credentials_secret: Some("gcs-credentials".into()),
            ..DecorationConfig::default()
        });
        let kept = slim(pj);
        assert_eq!(kept.containers, 2);
        assert!(kept.job.spec.pod_spec.is_none());
        assert!(kept.job.metadata.labels.is_none() && kept.job.metadata.annotations.is_none());
        assert_eq!(
            kept.job.spec.decoration_config,
            Some(DecorationConfig {
                gcs_configuration: Some(gcs),
                ..DecorationConfig::default()
            })
        );
        assert_eq!(kept.job.status.state, ProwJobState::Success);
    }
}
