//! What Deck's index keeps of a ProwJob: a compact summary with the fields its pages, filters,
//! badges and authorization read, and nothing else. A `ProwJob` value is 4.4 KB before any of its
//! strings (pod spec and decoration config are inline), and Kubernetes' jobs carry pod specs,
//! labels and annotations of several KB more; at 100k jobs that is gigabytes. The summary is a few
//! hundred bytes: values many runs share (job name, context, namespace, a PR's refs, where the
//! artifacts go) are interned once, and a slim `ProwJob` is rebuilt only for the rows a page shows.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use prow_core::prowjob::{
    API_VERSION, DecorationConfig, GcsConfiguration, KIND, ProwJob, ProwJobAgent, ProwJobSpec,
    ProwJobState, ProwJobStatus, ProwJobType, Refs, RerunAuthConfig,
};

/// The facts filters and visibility rules read, from a full ProwJob or from a summary.
pub trait JobFacts {
    fn job_name(&self) -> &str;
    fn job_type(&self) -> &ProwJobType;
    fn state(&self) -> ProwJobState;
    fn is_hidden(&self) -> bool;
    /// The primary refs, then the extra refs.
    fn all_refs(&self) -> impl Iterator<Item = &Refs>;
}

impl JobFacts for ProwJob {
    fn job_name(&self) -> &str {
        &self.spec.job
    }
    fn job_type(&self) -> &ProwJobType {
        &self.spec.type_
    }
    fn state(&self) -> ProwJobState {
        self.status.state
    }
    fn is_hidden(&self) -> bool {
        self.spec.hidden
    }
    fn all_refs(&self) -> impl Iterator<Item = &Refs> {
        self.spec.refs.iter().chain(self.spec.extra_refs.iter())
    }
}

impl<T: JobFacts> JobFacts for Arc<T> {
    fn job_name(&self) -> &str {
        T::job_name(self)
    }
    fn job_type(&self) -> &ProwJobType {
        T::job_type(self)
    }
    fn state(&self) -> ProwJobState {
        T::state(self)
    }
    fn is_hidden(&self) -> bool {
        T::is_hidden(self)
    }
    fn all_refs(&self) -> impl Iterator<Item = &Refs> {
        T::all_refs(self)
    }
}

/// One ProwJob as the index keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub name: Arc<str>,
    namespace: Arc<str>,
    creation: Option<Timestamp>,
    job: Arc<str>,
    type_: ProwJobType,
    agent: Option<ProwJobAgent>,
    cluster: Arc<str>,
    pod_namespace: Arc<str>,
    refs: Option<Arc<Refs>>,
    extra_refs: Option<Arc<Vec<Refs>>>,
    report: bool,
    context: Arc<str>,
    rerun_command: Arc<str>,
    hidden: bool,
    rerun_auth: Option<Arc<RerunAuthConfig>>,
    gcs: Option<Arc<GcsConfiguration>>,
    start: Option<Timestamp>,
    pending: Option<Timestamp>,
    completion: Option<Timestamp>,
    state: ProwJobState,
    description: Arc<str>,
    url: Box<str>,
    /// `None` when it is the job's own name (plank names pods after their ProwJob).
    pod_name: Option<Box<str>>,
    build_id: Box<str>,
    /// Containers in the pod spec (Prow's `omit=pod_spec` keeps one empty container each).
    pub containers: usize,
}

impl JobFacts for Summary {
    fn job_name(&self) -> &str {
        &self.job
    }
    fn job_type(&self) -> &ProwJobType {
        &self.type_
    }
    fn state(&self) -> ProwJobState {
        self.state
    }
    fn is_hidden(&self) -> bool {
        self.hidden
    }
    fn all_refs(&self) -> impl Iterator<Item = &Refs> {
        self.refs
            .as_deref()
            .into_iter()
            .chain(self.extra_refs.iter().flat_map(|r| r.iter()))
    }
}

impl Summary {
    pub fn start(&self) -> Option<Timestamp> {
        self.start
    }

    pub fn creation(&self) -> Option<Timestamp> {
        self.creation
    }

    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    /// The slim ProwJob this summary stands for: everything Deck's pages read; no pod spec,
    /// labels, annotations or decoration config but where artifacts are.
    pub fn to_prowjob(&self) -> ProwJob {
        let text = |s: &Arc<str>| s.as_ref().to_owned();
        ProwJob {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: ObjectMeta {
                name: Some(text(&self.name)),
                namespace: (!self.namespace.is_empty()).then(|| text(&self.namespace)),
                creation_timestamp: self.creation.map(Time),
                ..ObjectMeta::default()
            },
            spec: ProwJobSpec {
                type_: self.type_,
                agent: self.agent.clone(),
                cluster: text(&self.cluster),
                namespace: text(&self.pod_namespace),
                job: text(&self.job),
                refs: self.refs.as_deref().cloned(),
                extra_refs: self.extra_refs.as_deref().cloned().unwrap_or_default(),
                report: self.report,
                context: text(&self.context),
                rerun_command: text(&self.rerun_command),
                hidden: self.hidden,
                rerun_auth_config: self.rerun_auth.as_deref().cloned(),
                decoration_config: self.gcs.as_ref().map(|gcs| DecorationConfig {
                    gcs_configuration: Some(GcsConfiguration::clone(gcs)),
                    ..DecorationConfig::default()
                }),
                ..ProwJobSpec::default()
            },
            status: ProwJobStatus {
                start_time: self.start.map(Time),
                pending_time: self.pending.map(Time),
                completion_time: self.completion.map(Time),
                state: self.state,
                description: text(&self.description),
                url: self.url.to_string(),
                pod_name: self
                    .pod_name
                    .as_deref()
                    .map_or_else(|| text(&self.name), str::to_owned),
                build_id: self.build_id.to_string(),
                ..ProwJobStatus::default()
            },
        }
    }
}

/// Shares equal values between summaries. Entries are weak, so a value no summary uses any more
/// is freed; dead entries are swept when the table has doubled since the last sweep.
#[derive(Debug, Default)]
pub struct Interner {
    strings: Table<str>,
    refs: Table<Refs>,
    extra_refs: Table<Vec<Refs>>,
    gcs: Table<GcsConfiguration>,
    rerun_auth: Table<RerunAuthConfig>,
}

#[derive(Debug)]
struct Table<T: ?Sized> {
    by_hash: HashMap<u64, Vec<Weak<T>>>,
    entries: usize,
    swept_at: usize,
}

impl<T: ?Sized> Default for Table<T> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
            entries: 0,
            swept_at: 0,
        }
    }
}

impl<T: ?Sized + PartialEq> Table<T> {
    fn find(&self, hash: u64, value: &T) -> Option<Arc<T>> {
        self.by_hash
            .get(&hash)?
            .iter()
            .filter_map(Weak::upgrade)
            .find(|v| **v == *value)
    }

    fn insert(&mut self, hash: u64, fresh: &Arc<T>) {
        self.by_hash
            .entry(hash)
            .or_default()
            .push(Arc::downgrade(fresh));
        self.entries += 1;
        if self.entries > 1024 && self.entries > 2 * self.swept_at {
            self.sweep();
        }
    }

    fn sweep(&mut self) {
        self.by_hash.retain(|_, bucket| {
            bucket.retain(|w| w.strong_count() > 0);
            !bucket.is_empty()
        });
        self.entries = self.by_hash.values().map(Vec::len).sum();
        self.swept_at = self.entries;
    }
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The hash of a value without `Hash`: of its JSON (these values are small and interned once per
/// job, not per request).
fn json_hash(value: &impl serde::Serialize) -> u64 {
    hash_of(&serde_json::to_vec(value).unwrap_or_default())
}

impl Interner {
    fn str(&mut self, s: &str) -> Arc<str> {
        let hash = hash_of(&s);
        self.strings.find(hash, s).unwrap_or_else(|| {
            let fresh: Arc<str> = Arc::from(s);
            self.strings.insert(hash, &fresh);
            fresh
        })
    }

    fn shared<T: PartialEq + serde::Serialize>(table: &mut Table<T>, value: T) -> Arc<T> {
        let hash = json_hash(&value);
        table.find(hash, &value).unwrap_or_else(|| {
            let fresh = Arc::new(value);
            table.insert(hash, &fresh);
            fresh
        })
    }

    /// The summary of `pj`, sharing what other summaries already hold.
    pub fn summarize(&mut self, pj: ProwJob) -> Summary {
        let ProwJob {
            metadata,
            spec,
            status,
            ..
        } = pj;
        let name: Arc<str> = Arc::from(metadata.name.unwrap_or_default());
        let pod_name = (status.pod_name != *name).then(|| status.pod_name.into_boxed_str());
        let gcs = spec
            .decoration_config
            .and_then(|d| d.gcs_configuration)
            .map(|g| Self::shared(&mut self.gcs, g));
        let extra_refs = (!spec.extra_refs.is_empty())
            .then(|| Self::shared(&mut self.extra_refs, spec.extra_refs));
        Summary {
            namespace: self.str(metadata.namespace.as_deref().unwrap_or("")),
            creation: metadata.creation_timestamp.map(|t| t.0),
            job: self.str(&spec.job),
            type_: spec.type_,
            agent: spec.agent,
            cluster: self.str(&spec.cluster),
            pod_namespace: self.str(&spec.namespace),
            refs: spec.refs.map(|r| Self::shared(&mut self.refs, r)),
            extra_refs,
            report: spec.report,
            context: self.str(&spec.context),
            rerun_command: self.str(&spec.rerun_command),
            hidden: spec.hidden,
            rerun_auth: spec
                .rerun_auth_config
                .map(|r| Self::shared(&mut self.rerun_auth, r)),
            gcs,
            start: status.start_time.map(|t| t.0),
            pending: status.pending_time.map(|t| t.0),
            completion: status.completion_time.map(|t| t.0),
            state: status.state,
            description: self.str(&status.description),
            url: status.url.into_boxed_str(),
            pod_name,
            build_id: status.build_id.into_boxed_str(),
            containers: spec.pod_spec.map_or(0, |p| p.containers.len()),
            name,
        }
    }
}
