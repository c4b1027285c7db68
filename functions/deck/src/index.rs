//! The in-memory ProwJob index every page reads: kept current by one kube list+watch, so a request
//! never lists the API server (100k jobs are a scan of memory, not a 100 MB download).
//!
//! It keeps a [`Summary`] of each ProwJob: the pod spec, decoration config (but where artifacts
//! are), labels, annotations and managed fields are most of a real ProwJob's bytes and no list,
//! filter or badge reads them; what needs them (`/prowjob.json`, `/prowjobs.js` without `omit`,
//! rerun) reads the API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use prow_core::prowjob::{ProwJob, ProwJobState};
use tokio::sync::watch;

use crate::summary::{Interner, JobFacts, Summary};

/// Newest first: start time (ms since the epoch) then name, iterated in reverse.
type SortKey = (i64, Arc<str>);

fn sort_key(job: &Summary) -> SortKey {
    let start = job
        .start()
        .or(job.creation())
        .map_or(0, |t| t.as_millisecond());
    (start, job.name.clone())
}

/// A ProwJob as the index answers with it: rebuilt from its summary, so slim (see
/// [`Summary::to_prowjob`]), with the number of containers its pod spec had.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub job: Arc<ProwJob>,
    pub containers: usize,
}

impl From<&Summary> for Indexed {
    fn from(summary: &Summary) -> Self {
        Indexed {
            job: Arc::new(summary.to_prowjob()),
            containers: summary.containers,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_time: BTreeMap<SortKey, Summary>,
    by_name: HashMap<Arc<str>, i64>,
    /// Distinct values (with counts) offered as suggestions in the filter form.
    jobs: BTreeMap<String, usize>,
    repos: BTreeMap<String, usize>,
    interner: Interner,
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
    fn count(&mut self, job: &Summary, up: bool) {
        bump(&mut self.jobs, job.job_name().to_owned(), up);
        if let Some(refs) = job.all_refs().next() {
            bump(&mut self.repos, refs.org_repo(), up);
        }
    }

    fn upsert(&mut self, pj: ProwJob) {
        self.remove(pj.name());
        let job = self.interner.summarize(pj);
        let key = sort_key(&job);
        self.count(&job, true);
        self.by_name.insert(key.1.clone(), key.0);
        self.by_time.insert(key, job);
    }

    fn remove(&mut self, name: &str) {
        if let Some((name, start)) = self.by_name.remove_entry(name)
            && let Some(old) = self.by_time.remove(&(start, name))
        {
            self.count(&old, false);
        }
    }

    fn get(&self, name: &str) -> Option<&Summary> {
        let (name, start) = self.by_name.get_key_value(name)?;
        self.by_time.get(&(*start, name.clone()))
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
        let mut fresh = Inner::default();
        for pj in jobs {
            fresh.upsert(pj);
        }
        self.replace_with(fresh);
    }

    fn replace_with(&self, fresh: Inner) {
        self.write(|inner| *inner = fresh);
        self.synced.send_replace(true);
    }

    pub fn upsert(&self, pj: ProwJob) {
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

    /// The job's slim copy ([`Summary::to_prowjob`]).
    pub fn get(&self, name: &str) -> Option<Arc<ProwJob>> {
        self.read().get(name).map(|s| Arc::new(s.to_prowjob()))
    }

    /// The run of `job` with build id `build_id` (what `/log?job=&id=` names).
    pub fn find_build(&self, job: &str, build_id: &str) -> Option<Arc<ProwJob>> {
        self.read()
            .by_time
            .values()
            .rev()
            .find(|s| s.job_name() == job && s.build_id() == build_id)
            .map(|s| Arc::new(s.to_prowjob()))
    }

    /// Matching jobs newest first, skipping `offset` and returning at most `limit`.
    pub fn query(&self, keep: impl Fn(&Summary) -> bool, offset: usize, limit: usize) -> Page {
        let inner = self.read();
        let mut jobs = Vec::with_capacity(limit.min(1024));
        let mut total = 0usize;
        for job in inner.by_time.values().rev() {
            if !keep(job) {
                continue;
            }
            if total >= offset && jobs.len() < limit {
                jobs.push(Arc::new(job.to_prowjob()));
            }
            total += 1;
        }
        Page { jobs, total }
    }

    /// Every matching job, newest first.
    pub fn select(&self, keep: impl Fn(&Summary) -> bool) -> Vec<Indexed> {
        self.read()
            .by_time
            .values()
            .rev()
            .filter(|s| keep(s))
            .map(Indexed::from)
            .collect()
    }

    /// For each job name accepted by `wanted`, its latest run's state (badge input).
    pub fn latest_states(&self, wanted: impl Fn(&str) -> bool) -> BTreeMap<String, ProwJobState> {
        let inner = self.read();
        let mut latest = BTreeMap::new();
        for job in inner.by_time.values().rev() {
            if !latest.contains_key(job.job_name()) && wanted(job.job_name()) {
                latest.insert(job.job_name().to_owned(), job.state());
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
        // Summarized as they arrive (a full list of 100k real ProwJobs would be gigabytes), into
        // an index that replaces the served one once complete.
        let mut fresh = Inner::default();
        let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => fresh = Inner::default(),
                Ok(Event::InitApply(pj)) => fresh.upsert(pj),
                Ok(Event::InitDone) => {
                    let complete = std::mem::take(&mut fresh);
                    tracing::info!(jobs = complete.by_time.len(), "prowjob index synced");
                    self.replace_with(complete);
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
        use prow_core::prowjob::{DecorationConfig, GcsConfiguration};
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
        pj.status.url = "https://prow/view/a".into();
        pj.status.description = "Job succeeded.".into();
        pj.status.pod_name = "a".into();
        let index = JobIndex::new();
        index.upsert(pj.clone());
        let kept = index.select(|_| true).remove(0);
        assert_eq!(kept.containers, 2);
        let mut want = pj;
        want.metadata.labels = None;
        want.metadata.annotations = None;
        want.spec.pod_spec = None;
        want.spec.decoration_config = Some(DecorationConfig {
            gcs_configuration: Some(gcs),
            ..DecorationConfig::default()
        });
        assert_eq!(*kept.job, want);
        assert_eq!(index.get("a").as_deref(), Some(&want));
    }

    #[test]
    fn runs_of_one_pull_share_their_refs_and_strings() {
        let index = JobIndex::new();
        index.upsert(job("1", "ci-a", 10, ProwJobState::Success));
        index.upsert(job("2", "ci-a", 20, ProwJobState::Failure));
        let inner = index.read();
        let mut jobs = inner.by_time.values();
        let (one, two) = (jobs.next().unwrap(), jobs.next().unwrap());
        let (r1, r2) = (
            one.all_refs().next().unwrap(),
            two.all_refs().next().unwrap(),
        );
        assert!(std::ptr::eq(r1, r2), "equal refs are stored once");
        assert!(std::ptr::eq(one.job_name(), two.job_name()));
    }
}
