//! The in-memory ProwJob index every page reads: kept current by one kube list+watch, so a request
//! never lists the API server (100k jobs are a scan of memory, not a 100 MB download).
//!
//! It keeps a [`Summary`] of each ProwJob: the pod spec, decoration config (but where artifacts
//! are), labels, annotations and managed fields are most of a real ProwJob's bytes and no list,
//! filter or badge reads them; what needs them (`/prowjob.json`, `/prowjobs.js` without `omit`,
//! rerun) reads the API server.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::StreamExt;
use hashbrown::HashTable;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use prow_core::prowjob::{ProwJob, ProwJobState};
use tokio::sync::watch;

use crate::slim::SlimProwJob;
use crate::summary::{Interner, JobFacts, Summary};

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
            containers: summary.containers(),
        }
    }
}

fn name_hash(name: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// Summaries in a slab, a slot list sorted by time and a name table of slot numbers: about 60
/// bytes a job in all (48 the summary, 4 its place in the order, ~7 its name-table slot).
#[derive(Debug, Default)]
struct Inner {
    slots: Vec<Option<Summary>>,
    free: Vec<u32>,
    /// Slots sorted oldest first by (start or else creation time, name); unsorted while a full
    /// list is being loaded ([`Inner::load`]).
    order: Vec<u32>,
    loading: bool,
    names: HashTable<u32>,
    /// Distinct values (with counts) offered as suggestions in the filter form.
    jobs: BTreeMap<String, usize>,
    repos: BTreeMap<String, usize>,
    interner: Interner,
}

fn bump(map: &mut BTreeMap<String, usize>, key: &str, up: bool) {
    if up {
        match map.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                map.insert(key.to_owned(), 1);
            }
        }
    } else if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Inner {
    /// An empty index that takes a full list in any order; [`Inner::finish`] sorts it.
    fn load() -> Self {
        Self {
            loading: true,
            ..Self::default()
        }
    }

    fn finish(&mut self) {
        let slots = &self.slots;
        // Compared in place: a cached key per job (a name `String` each) would be a transient
        // 8 MB at 100k jobs, and glibc keeps heap up to twice its largest freed block.
        self.order.sort_unstable_by(|a, b| {
            match (slots[*a as usize].as_ref(), slots[*b as usize].as_ref()) {
                (Some(a), Some(b)) => by_time_then_name(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            }
        });
        self.loading = false;
        self.slots.shrink_to_fit();
        self.order.shrink_to_fit();
        self.free.shrink_to_fit();
        let slots = &self.slots;
        self.names.shrink_to_fit(|slot| hash_slot(slots, *slot));
    }

    fn summary(&self, slot: u32) -> Option<&Summary> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn slot_of(&self, name: &str) -> Option<u32> {
        self.names
            .find(name_hash(name), |slot| {
                self.summary(*slot).is_some_and(|s| s.name_is(name))
            })
            .copied()
    }

    /// Where `slot` is (or belongs) in `order`.
    fn position(&self, job: &Summary) -> Result<usize, usize> {
        self.order
            .binary_search_by(|other| match self.summary(*other) {
                Some(other) => by_time_then_name(other, job),
                None => Ordering::Less,
            })
    }

    fn count(&mut self, job: &Summary, up: bool) {
        bump(&mut self.jobs, job.job_name(), up);
        if let Some((org, repo)) = job.repos().next() {
            let org_repo = if repo.is_empty() {
                org.to_owned()
            } else {
                format!("{org}/{repo}")
            };
            bump(&mut self.repos, &org_repo, up);
        }
    }

    fn upsert(&mut self, pj: ProwJob) {
        let job = self.interner.summarize(pj);
        let name = job.name_string();
        if let Some(slot) = self.slot_of(&name)
            && let Some(old) = self.slots[slot as usize].take()
        {
            self.count(&old, false);
            self.count(&job, true);
            if old.sort_millis() == job.sort_millis() || self.loading {
                self.slots[slot as usize] = Some(job);
                return;
            }
            // It moves in time: out of the order (found by its old key) and back in.
            self.slots[slot as usize] = Some(old);
            if let Ok(at) = self.position_of_slot(slot) {
                self.order.remove(at);
            }
            let at = self.position(&job).unwrap_or_else(|at| at);
            self.slots[slot as usize] = Some(job);
            self.order.insert(at, slot);
            return;
        }
        self.count(&job, true);
        let at = (!self.loading).then(|| self.position(&job).unwrap_or_else(|at| at));
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(job);
                slot
            }
            None => {
                self.slots.push(Some(job));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let slots = &self.slots;
        self.names
            .insert_unique(name_hash(&name), slot, |s| hash_slot(slots, *s));
        match at {
            Some(at) => self.order.insert(at, slot),
            None => self.order.push(slot),
        }
    }

    fn position_of_slot(&self, slot: u32) -> Result<usize, usize> {
        match self.summary(slot) {
            Some(job) if !self.loading => self.position(job),
            _ => self.order.iter().position(|s| *s == slot).ok_or(0),
        }
    }

    fn remove(&mut self, name: &str) {
        let Some(slot) = self.slot_of(name) else {
            return;
        };
        if let Ok(at) = self.position_of_slot(slot) {
            self.order.remove(at);
        }
        if let Ok(entry) = self.names.find_entry(name_hash(name), |s| *s == slot) {
            entry.remove();
        }
        if let Some(old) = self.slots[slot as usize].take() {
            self.count(&old, false);
        }
        self.free.push(slot);
    }

    fn get(&self, name: &str) -> Option<&Summary> {
        self.slot_of(name).and_then(|slot| self.summary(slot))
    }

    /// Every job, newest first.
    fn newest_first(&self) -> impl Iterator<Item = &Summary> {
        self.order
            .iter()
            .rev()
            .filter_map(|slot| self.summary(*slot))
    }
}

/// The index's order: by start (or else creation) time, then by name.
fn by_time_then_name(a: &Summary, b: &Summary) -> Ordering {
    a.sort_millis()
        .cmp(&b.sort_millis())
        .then_with(|| a.cmp_name(b))
}

fn hash_slot(slots: &[Option<Summary>], slot: u32) -> u64 {
    slots
        .get(slot as usize)
        .and_then(Option::as_ref)
        .map_or(0, |s| name_hash(s.name(&mut [0; 36])))
}

/// One page of matching jobs, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub jobs: Vec<Arc<ProwJob>>,
    /// How many jobs match in total (all pages).
    pub total: usize,
}

/// ProwJobs per list request. kube holds a page's body twice (the bytes and a copy as text) and
/// its decoded objects at once, and the allocator keeps what a peak took: glibc raises its trim
/// threshold to twice the largest block it ever handed back to the kernel, per thread arena. At
/// 25 Kubernetes-shaped jobs (~5 KB of JSON each) a body stays under the 128 KiB at which glibc
/// maps blocks of their own, so the threshold never grows: 100k jobs idle at 13-14 MB anonymous
/// where pages of 100 left 16-19 MB (functions/deck/README.md). The cost is requests: 4k
/// lists for a cold start of 100k (the sync time is in the benchmark).
const LIST_PAGE: u32 = 25;

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
        let mut fresh = Inner::load();
        for pj in jobs {
            fresh.upsert(pj);
        }
        fresh.finish();
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
        self.read().order.len()
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
            .newest_first()
            .find(|s| s.job_name() == job && s.build_id() == build_id)
            .map(|s| Arc::new(s.to_prowjob()))
    }

    /// Matching jobs newest first, skipping `offset` and returning at most `limit`.
    pub fn query(&self, keep: impl Fn(&Summary) -> bool, offset: usize, limit: usize) -> Page {
        let inner = self.read();
        let mut jobs = Vec::with_capacity(limit.min(1024));
        let mut total = 0usize;
        for job in inner.newest_first() {
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
            .newest_first()
            .filter(|s| keep(s))
            .map(Indexed::from)
            .collect()
    }

    /// For each job name accepted by `wanted`, its latest run's state (badge input).
    pub fn latest_states(&self, wanted: impl Fn(&str) -> bool) -> BTreeMap<String, ProwJobState> {
        let inner = self.read();
        let mut latest = BTreeMap::new();
        for job in inner.newest_first() {
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

    /// Follows the ProwJobs of `namespace` forever: a full list on start (and after a watch
    /// expires), then changes.
    pub async fn follow(self, client: kube::Client, namespace: String) {
        // Decoded slim (no pod spec, labels...) and summarized as they arrive, into an index
        // that replaces the served one once complete: a page of full ProwJobs is megabytes.
        let api: Api<SlimProwJob> = Api::namespaced(client, &namespace);
        let mut fresh = Inner::load();
        let config = watcher::Config::default().page_size(LIST_PAGE);
        let stream = watcher::watcher(api, config).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => fresh = Inner::load(),
                Ok(Event::InitApply(pj)) => fresh.upsert(pj.0),
                Ok(Event::InitDone) => {
                    let mut complete = std::mem::replace(&mut fresh, Inner::load());
                    complete.finish();
                    tracing::info!(jobs = complete.order.len(), "prowjob index synced");
                    self.replace_with(complete);
                }
                Ok(Event::Apply(pj)) => self.upsert(pj.0),
                Ok(Event::Delete(pj)) => self.remove(pj.0.name()),
                Err(err) => tracing::warn!(error = %err, "prowjob watch failed; retrying"),
            }
        }
    }

    /// Starts [`JobIndex::follow`] on the runtime; the task stops when the returned guard drops.
    pub fn spawn_follow(&self, client: kube::Client, namespace: &str) -> FollowTask {
        FollowTask(tokio::spawn(
            self.clone().follow(client, namespace.to_owned()),
        ))
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
        // Names as Prow's (UUIDs) and pods named after their jobs: nothing odd about either run.
        for (name, second, state) in [
            (
                "00000000-0000-0000-0000-000000000001",
                10,
                ProwJobState::Success,
            ),
            (
                "00000000-0000-0000-0000-000000000002",
                20,
                ProwJobState::Failure,
            ),
        ] {
            let mut run = job(name, "ci-a", second, state);
            run.status.pod_name = name.into();
            index.upsert(run);
        }
        let inner = index.read();
        let mut jobs = inner.newest_first();
        let (one, two) = (jobs.next().unwrap(), jobs.next().unwrap());
        assert!(one.shares_origin_with(two), "equal refs are stored once");
        assert!(std::ptr::eq(one.job_name(), two.job_name()));
    }

    #[test]
    fn names_build_ids_and_urls_round_trip_whatever_their_form() {
        let index = JobIndex::new();
        let mut uuid = job(
            "0b6f6c4e-5a0d-11ef-8f0e-6e1c2a0b0c0d",
            "ci-a",
            10,
            ProwJobState::Success,
        );
        uuid.status.build_id = "1800000000000000001".into();
        uuid.status.url = "https://prow/view/gs/logs/logs/ci-a/1800000000000000001".into();
        uuid.status.pod_name = uuid.name().to_owned();
        // Upper case is not the canonical UUID spelling: kept as written.
        let mut odd = job(
            "0B6F6C4E-5A0D-11EF-8F0E-6E1C2A0B0C0D",
            "ci-a",
            11,
            ProwJobState::Failure,
        );
        odd.status.build_id = "007".into();
        odd.status.url = "https://prow/elsewhere".into();
        odd.status.pod_name = "a-pod".into();
        index.upsert(uuid.clone());
        index.upsert(odd.clone());
        assert_eq!(index.get(uuid.name()).unwrap().status, uuid.status);
        assert_eq!(index.get(odd.name()).unwrap().status, odd.status);
        assert_eq!(index.get(odd.name()).unwrap().name(), odd.name());
        assert!(index.find_build("ci-a", "007").is_some());
    }

    #[test]
    fn a_job_whose_start_moves_is_reordered_and_removal_frees_its_slot() {
        let index = JobIndex::new();
        for (name, second) in [("a", 10), ("b", 20), ("c", 30)] {
            index.upsert(job(name, "ci", second, ProwJobState::Pending));
        }
        index.upsert(job("a", "ci", 40, ProwJobState::Pending));
        let names = |index: &JobIndex| -> Vec<String> {
            index
                .query(|_| true, 0, 10)
                .jobs
                .iter()
                .map(|p| p.name().to_owned())
                .collect()
        };
        assert_eq!(names(&index), ["a", "c", "b"]);
        index.remove("c");
        index.upsert(job("d", "ci", 5, ProwJobState::Pending));
        assert_eq!(names(&index), ["a", "b", "d"]);
        assert_eq!(index.read().slots.len(), 3, "d took c's slot");
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn a_loaded_list_in_any_order_is_served_newest_first() {
        let index = JobIndex::new();
        index.replace_all(
            [("m", 20), ("z", 10), ("a", 30), ("b", 20)]
                .into_iter()
                .map(|(n, s)| job(n, "ci", s, ProwJobState::Success))
                .collect(),
        );
        let names: Vec<String> = index
            .query(|_| true, 0, 10)
            .jobs
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        assert_eq!(names, ["a", "m", "b", "z"]);
        index.upsert(job("c", "ci", 15, ProwJobState::Success));
        assert_eq!(index.query(|_| true, 3, 1).jobs[0].name(), "c");
    }
}
