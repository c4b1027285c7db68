//! What Deck's index keeps of a ProwJob: a compact summary with the fields its pages, filters,
//! badges and authorization read, and nothing else. A `ProwJob` value is 4.4 KB before any of its
//! strings (pod spec and decoration config are inline), and Kubernetes' jobs carry pod specs,
//! labels and annotations of several KB more; at 100k jobs that is gigabytes. A summary is about
//! 130 bytes: what a job's config decides (name, type, context, cluster, extra refs, where the
//! artifacts go...) is one shared `Shape`, a PR's refs and the URL's directory are shared by its
//! runs, and a slim `ProwJob` is rebuilt only for the rows a page shows.

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

/// What a job's config decides, the same for every run of the job: kept once and shared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct Shape {
    namespace: Box<str>,
    job: Box<str>,
    #[serde(skip)]
    type_: ProwJobType,
    #[serde(skip)]
    agent: Option<ProwJobAgent>,
    cluster: Box<str>,
    pod_namespace: Box<str>,
    extra_refs: Vec<Refs>,
    report: bool,
    context: Box<str>,
    rerun_command: Box<str>,
    hidden: bool,
    rerun_auth: Option<RerunAuthConfig>,
    gcs: Option<GcsConfiguration>,
    /// `type_` and `agent` again, hashed (they serialize only through their own modules).
    kind: String,
}

/// A ProwJob's name: Prow names jobs with UUIDs, kept as their 16 bytes (a string would be a
/// 36-byte allocation, 48 with the allocator's rounding, per job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    Uuid(uuid::Uuid),
    Text(Box<str>),
}

impl Name {
    fn new(name: String) -> Self {
        match uuid::Uuid::try_parse(&name) {
            // Only the canonical spelling round-trips; anything else is kept as written.
            Ok(u) if u.hyphenated().to_string() == name => Name::Uuid(u),
            _ => Name::Text(name.into_boxed_str()),
        }
    }

    /// The name as text, written into `buf` when it is a UUID.
    pub fn as_str<'a>(&'a self, buf: &'a mut [u8; 36]) -> &'a str {
        match self {
            Name::Uuid(u) => u.hyphenated().encode_lower(buf),
            Name::Text(t) => t,
        }
    }

    pub fn is(&self, name: &str) -> bool {
        self.as_str(&mut [0; 36]) == name
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str(&mut [0; 36]))
    }
}

/// No time: timestamps are kept as milliseconds since the epoch in an `i64`.
const NO_TIME: i64 = i64::MIN;

fn millis(t: Option<Time>) -> i64 {
    t.map_or(NO_TIME, |t| t.0.as_millisecond())
}

fn time(ms: i64) -> Option<Timestamp> {
    (ms != NO_TIME)
        .then(|| Timestamp::from_millisecond(ms).ok())
        .flatten()
}

/// What most jobs do not have: kept out of line so the common summary stays small.
#[derive(Debug, Clone, PartialEq)]
struct Rare {
    /// When not the job's own name (plank names pods after their ProwJob).
    pod_name: Option<Box<str>>,
    /// When not a canonical decimal number.
    build_id: Option<Box<str>>,
    /// When not `<stem><job>/<build id>`.
    url: Option<Box<str>>,
}

/// One ProwJob as the index keeps it, about 130 bytes: job-config facts, a PR's refs and the
/// URL's directory are shared with other runs, times are milliseconds, a UUID name is 16 bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub name: Name,
    shape: Arc<Shape>,
    refs: Option<Arc<Refs>>,
    description: Arc<str>,
    /// `status.url` up to the job name, when the URL is `<stem><job>/<build id>` (Prow's
    /// `job_url_template` for every job type).
    url_stem: Option<Arc<str>>,
    rare: Option<Box<Rare>>,
    /// `status.build_id` as a number (0 with `rare.build_id` or none).
    build: u64,
    creation: i64,
    start: i64,
    pending: i64,
    completion: i64,
    state: ProwJobState,
    /// Containers in the pod spec (Prow's `omit=pod_spec` keeps one empty container each).
    pub containers: u16,
}

impl JobFacts for Summary {
    fn job_name(&self) -> &str {
        &self.shape.job
    }
    fn job_type(&self) -> &ProwJobType {
        &self.shape.type_
    }
    fn state(&self) -> ProwJobState {
        self.state
    }
    fn is_hidden(&self) -> bool {
        self.shape.hidden
    }
    fn all_refs(&self) -> impl Iterator<Item = &Refs> {
        self.refs
            .as_deref()
            .into_iter()
            .chain(self.shape.extra_refs.iter())
    }
}

impl Summary {
    pub fn start(&self) -> Option<Timestamp> {
        time(self.start)
    }

    pub fn creation(&self) -> Option<Timestamp> {
        time(self.creation)
    }

    /// Milliseconds of the start (or else the creation) time: what the index sorts by.
    pub fn sort_millis(&self) -> i64 {
        match (self.start, self.creation) {
            (NO_TIME, NO_TIME) => 0,
            (NO_TIME, c) => c,
            (s, _) => s,
        }
    }

    pub fn build_id(&self) -> String {
        match self.rare.as_ref().and_then(|r| r.build_id.as_deref()) {
            Some(text) => text.to_owned(),
            None if self.build == 0 => String::new(),
            None => self.build.to_string(),
        }
    }

    fn url(&self) -> String {
        if let Some(url) = self.rare.as_ref().and_then(|r| r.url.as_deref()) {
            return url.to_owned();
        }
        match &self.url_stem {
            Some(stem) => format!("{stem}{}/{}", self.shape.job, self.build_id()),
            None => String::new(),
        }
    }

    /// The slim ProwJob this summary stands for: everything Deck's pages read; no pod spec,
    /// labels, annotations or decoration config but where artifacts are.
    pub fn to_prowjob(&self) -> ProwJob {
        let shape = &*self.shape;
        let name = self.name.to_string();
        ProwJob {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: ObjectMeta {
                namespace: (!shape.namespace.is_empty()).then(|| shape.namespace.to_string()),
                creation_timestamp: self.creation().map(Time),
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            spec: ProwJobSpec {
                type_: shape.type_,
                agent: shape.agent.clone(),
                cluster: shape.cluster.to_string(),
                namespace: shape.pod_namespace.to_string(),
                job: shape.job.to_string(),
                refs: self.refs.as_deref().cloned(),
                extra_refs: shape.extra_refs.clone(),
                report: shape.report,
                context: shape.context.to_string(),
                rerun_command: shape.rerun_command.to_string(),
                hidden: shape.hidden,
                rerun_auth_config: shape.rerun_auth.clone(),
                decoration_config: shape.gcs.as_ref().map(|gcs| DecorationConfig {
                    gcs_configuration: Some(gcs.clone()),
                    ..DecorationConfig::default()
                }),
                ..ProwJobSpec::default()
            },
            status: ProwJobStatus {
                start_time: self.start().map(Time),
                pending_time: time(self.pending).map(Time),
                completion_time: time(self.completion).map(Time),
                state: self.state,
                description: self.description.to_string(),
                url: self.url(),
                pod_name: self
                    .rare
                    .as_ref()
                    .and_then(|r| r.pod_name.as_deref())
                    .map_or(name, str::to_owned),
                build_id: self.build_id(),
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
    shapes: Table<Shape>,
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
        let name = metadata.name.unwrap_or_default();
        let containers = spec
            .pod_spec
            .map_or(0, |p| u16::try_from(p.containers.len()).unwrap_or(u16::MAX));
        let shape = Shape {
            kind: format!("{:?}/{:?}", spec.type_, spec.agent),
            namespace: metadata.namespace.unwrap_or_default().into_boxed_str(),
            job: spec.job.into_boxed_str(),
            type_: spec.type_,
            agent: spec.agent,
            cluster: spec.cluster.into_boxed_str(),
            pod_namespace: spec.namespace.into_boxed_str(),
            extra_refs: spec.extra_refs,
            report: spec.report,
            context: spec.context.into_boxed_str(),
            rerun_command: spec.rerun_command.into_boxed_str(),
            hidden: spec.hidden,
            rerun_auth: spec.rerun_auth_config,
            gcs: spec.decoration_config.and_then(|d| d.gcs_configuration),
        };
        let shape = Self::shared(&mut self.shapes, shape);
        // A canonical number only: "007" or "" must come back as written.
        let build = status
            .build_id
            .parse::<u64>()
            .ok()
            .filter(|n| *n != 0 && n.to_string() == status.build_id);
        let tail = format!("{}/{}", shape.job, status.build_id);
        let url_stem = match status.url.strip_suffix(&tail) {
            Some(stem) if !status.url.is_empty() => Some(self.str(stem)),
            _ => None,
        };
        let rare = Rare {
            pod_name: (status.pod_name != name).then(|| status.pod_name.into_boxed_str()),
            build_id: build
                .is_none()
                .then(|| status.build_id.into_boxed_str())
                .filter(|b| !b.is_empty()),
            url: (url_stem.is_none() && !status.url.is_empty())
                .then(|| status.url.into_boxed_str()),
        };
        let rare = (rare.pod_name.is_some() || rare.build_id.is_some() || rare.url.is_some())
            .then(|| Box::new(rare));
        Summary {
            name: Name::new(name),
            shape,
            refs: spec.refs.map(|r| Self::shared(&mut self.refs, r)),
            description: self.str(&status.description),
            url_stem,
            rare,
            build: build.unwrap_or(0),
            creation: millis(metadata.creation_timestamp),
            start: millis(status.start_time),
            pending: millis(status.pending_time),
            completion: millis(status.completion_time),
            state: status.state,
            containers,
        }
    }
}
