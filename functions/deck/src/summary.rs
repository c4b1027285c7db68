//! What Deck's index keeps of a ProwJob: a compact summary with the fields its pages, filters,
//! badges and authorization read, and nothing else. A `ProwJob` value is 4.4 KB before any of its
//! strings (pod spec and decoration config are inline), and Kubernetes' jobs carry pod specs,
//! labels and annotations of several KB more; at 100k jobs that is gigabytes. A summary is 48
//! bytes: what runs of one job in one state share (the job config's `Shape`, the description,
//! the state) is one shared `Head`, what runs of one PR share (its refs, the URL's directory) is
//! one shared `Origin`, a UUID name is 16 bytes, the four times 8; a slim `ProwJob` is rebuilt
//! only for the rows a page shows.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use hashbrown::HashTable;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use prow_core::prowjob::{
    API_VERSION, DecorationConfig, GcsConfiguration, KIND, ProwJob, ProwJobAgent, ProwJobSpec,
    ProwJobState, ProwJobStatus, ProwJobType, Pull, Refs, RerunAuthConfig,
};

/// The facts filters and visibility rules read, from a full ProwJob or from a summary.
pub trait JobFacts {
    fn job_name(&self) -> &str;
    fn job_type(&self) -> &ProwJobType;
    fn state(&self) -> ProwJobState;
    fn is_hidden(&self) -> bool;
    /// `(org, repo)` of the primary refs, then of the extra refs.
    fn repos(&self) -> impl Iterator<Item = (&str, &str)>;
    /// `(number, author)` of every pull of the primary and extra refs.
    fn pulls(&self) -> impl Iterator<Item = (&u64, &str)>;
}

fn org_repo(refs: &Refs) -> (&str, &str) {
    (&refs.org, &refs.repo)
}

fn number_author(pull: &Pull) -> (&u64, &str) {
    (&pull.number, &pull.author)
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
    fn repos(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spec
            .refs
            .iter()
            .chain(self.spec.extra_refs.iter())
            .map(org_repo)
    }
    fn pulls(&self) -> impl Iterator<Item = (&u64, &str)> {
        self.spec
            .refs
            .iter()
            .chain(self.spec.extra_refs.iter())
            .flat_map(|r| r.pulls.iter())
            .map(number_author)
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
    fn repos(&self) -> impl Iterator<Item = (&str, &str)> {
        T::repos(self)
    }
    fn pulls(&self) -> impl Iterator<Item = (&u64, &str)> {
        T::pulls(self)
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
    /// Containers in the pod spec (Prow's `omit=pod_spec` keeps one empty container each).
    containers: u16,
    /// `type_` and `agent` again, hashed (they serialize only through their own modules).
    kind: String,
}

/// What the runs of one job share while in one state: a handful per job.
#[derive(Debug, PartialEq)]
struct Head {
    shape: Arc<Shape>,
    description: Arc<str>,
    state: ProwJobState,
}

impl Head {
    /// `shape` is interned, so its address stands for its value.
    fn hash(&self) -> u64 {
        hash_of(&(Arc::as_ptr(&self.shape), &*self.description, self.state))
    }
}

/// A `Pull` in two allocations instead of nine: its strings end to end in one `text`, with where
/// each ends. A `Pull` is 200 bytes plus eight small strings (~520 bytes of heap in all); this is
/// 56 plus the text.
#[derive(Debug, PartialEq, Hash)]
struct PackedPull {
    number: u64,
    /// author, sha, title, ref, head_ref, link, commit_link, author_link.
    text: Box<str>,
    ends: [u32; 8],
}

impl PackedPull {
    fn pack(pull: Pull) -> Self {
        // Destructured, so a field added to `Pull` does not compile until it is packed too.
        let Pull {
            number,
            author,
            sha,
            title,
            ref_,
            head_ref,
            link,
            commit_link,
            author_link,
        } = pull;
        let fields = [
            author,
            sha,
            title,
            ref_,
            head_ref,
            link,
            commit_link,
            author_link,
        ];
        let mut text = String::with_capacity(fields.iter().map(String::len).sum());
        let mut ends = [0u32; 8];
        for (end, field) in ends.iter_mut().zip(&fields) {
            text.push_str(field);
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Self {
            number,
            text: text.into_boxed_str(),
            ends,
        }
    }

    fn field(&self, index: usize) -> &str {
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] as usize);
        self.text
            .get(start..self.ends[index] as usize)
            .unwrap_or_default()
    }

    fn author(&self) -> &str {
        self.field(0)
    }

    fn unpack(&self) -> Pull {
        Pull {
            number: self.number,
            author: self.field(0).to_owned(),
            sha: self.field(1).to_owned(),
            title: self.field(2).to_owned(),
            ref_: self.field(3).to_owned(),
            head_ref: self.field(4).to_owned(),
            link: self.field(5).to_owned(),
            commit_link: self.field(6).to_owned(),
            author_link: self.field(7).to_owned(),
        }
    }
}

/// What the runs of one PR (or of one periodic's extra refs) share: the primary refs and the
/// directory of `status.url`.
#[derive(Debug, PartialEq)]
struct Origin {
    /// The primary refs without their pulls: shared by every PR of a repo at one base.
    base: Option<Arc<Refs>>,
    pulls: Box<[PackedPull]>,
    /// `status.url` up to the job name, when the URL is `<stem><job>/<build id>` (Prow's
    /// `job_url_template` for every job type).
    url_stem: Option<Arc<str>>,
    /// The run's own odd parts: a run that has them gets an origin of its own, so the common
    /// run's summary does not carry a pointer that is almost always null.
    rare: Option<Box<Rare>>,
}

impl Origin {
    /// `base` and `url_stem` are interned, so their addresses stand for their values.
    fn hash(&self) -> u64 {
        hash_of(&(
            self.base.as_ref().map(Arc::as_ptr),
            &self.pulls,
            self.url_stem.as_ref().map(|s| s.as_ptr()),
            &self.rare,
        ))
    }

    fn refs(&self) -> Option<Refs> {
        self.base.as_deref().map(|base| Refs {
            pulls: self.pulls.iter().map(PackedPull::unpack).collect(),
            ..base.clone()
        })
    }
}

/// No time: timestamps are kept as milliseconds since the epoch in an `i64`.
const NO_TIME: i64 = i64::MIN;

fn millis(t: Option<&Time>) -> i64 {
    t.map_or(NO_TIME, |t| t.0.as_millisecond())
}

fn time(ms: i64) -> Option<Timestamp> {
    (ms != NO_TIME)
        .then(|| Timestamp::from_millisecond(ms).ok())
        .flatten()
}

/// Creation, start, pending and completion time as whole seconds since the epoch (0: none), what
/// Kubernetes writes; `None` when a time is not (a fraction, before 1970 or after 2106).
type Seconds = [u32; 4];

fn seconds(times: [i64; 4]) -> Option<Seconds> {
    let mut out = [0u32; 4];
    for (slot, ms) in out.iter_mut().zip(times) {
        if ms == NO_TIME {
            continue;
        }
        if ms % 1000 != 0 {
            return None;
        }
        *slot = u32::try_from(ms / 1000).ok().filter(|s| *s != 0)?;
    }
    Some(out)
}

/// The four times in 8 bytes, as nearly every ProwJob has them: creation in whole seconds, the
/// start in the same second or one either side (its creator stamps it as the API server stamps
/// the creation), the pod pending within 4.5 hours of that, and the end within 18 hours of the
/// pod (or of the start). A job whose times are otherwise keeps all four as milliseconds in its
/// [`Rare`] part.
///
/// Bits 0-31: creation (0: none); 32-33: start (0 none, 1 the creation's second, 2 the one
/// before, 3 the one after); 34-47: pending, 1 + seconds after the start (0: none); 48-63: the
/// end, 1 + seconds after the pending (or else the start) time (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Times(u64);

const MAX_PENDING_STEP: u32 = (1 << 14) - 2;
const MAX_END_STEP: u32 = (1 << 16) - 2;

impl Times {
    fn pack(times: [i64; 4]) -> Option<Self> {
        let [creation, start, pending, end] = seconds(times)?;
        if creation == 0 {
            return (start == 0 && pending == 0 && end == 0).then_some(Times(0));
        }
        let start_code: u64 = match i64::from(start) - i64::from(creation) {
            _ if start == 0 => 0,
            0 => 1,
            -1 => 2,
            1 => 3,
            _ => return None,
        };
        let started = if start == 0 { creation } else { start };
        let step = |from: u32, to: u32, max: u32| -> Option<u64> {
            match to {
                0 => Some(0),
                _ => to
                    .checked_sub(from)
                    .filter(|d| *d <= max)
                    .map(|d| u64::from(d) + 1),
            }
        };
        let pending_code = step(started, pending, MAX_PENDING_STEP)?;
        let ended_from = if pending == 0 { started } else { pending };
        let end_code = step(ended_from, end, MAX_END_STEP)?;
        Some(Times(
            u64::from(creation) | start_code << 32 | pending_code << 34 | end_code << 48,
        ))
    }

    fn unpack(self) -> Seconds {
        let creation = (self.0 & 0xffff_ffff) as u32;
        let start = match (self.0 >> 32) & 0b11 {
            0 => 0,
            1 => creation,
            2 => creation.wrapping_sub(1),
            _ => creation.wrapping_add(1),
        };
        let started = if start == 0 { creation } else { start };
        let after = |from: u32, code: u64| match code {
            0 => 0,
            n => from.wrapping_add((n - 1) as u32),
        };
        let pending = after(started, (self.0 >> 34) & 0x3fff);
        let end = after(if pending == 0 { started } else { pending }, self.0 >> 48);
        [creation, start, pending, end]
    }
}

/// What most jobs do not have: kept out of line so the common summary stays small.
#[derive(Debug, Clone, PartialEq, Hash)]
struct Rare {
    /// A name that is not a UUID in its canonical spelling.
    name: Option<Box<str>>,
    /// When not the job's own name (plank names pods after their ProwJob).
    pod_name: Option<Box<str>>,
    /// When not a canonical decimal number.
    build_id: Option<Box<str>>,
    /// When not `<stem><job>/<build id>`.
    url: Option<Box<str>>,
    /// Milliseconds, when the times do not pack into [`Times`].
    millis: Option<[i64; 4]>,
}

/// One ProwJob as the index keeps it, 48 bytes: see the module comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The name when it is a UUID in canonical spelling (Prow's names), else nil and the name in
    /// `rare`: a 36-byte string would cost 48 bytes of heap per job.
    uuid: uuid::Uuid,
    /// `status.build_id` as a number (0 with `rare.build_id` or none).
    build: u64,
    head: Arc<Head>,
    origin: Arc<Origin>,
    times: Times,
}

impl JobFacts for Summary {
    fn job_name(&self) -> &str {
        &self.head.shape.job
    }
    fn job_type(&self) -> &ProwJobType {
        &self.head.shape.type_
    }
    fn state(&self) -> ProwJobState {
        self.head.state
    }
    fn is_hidden(&self) -> bool {
        self.head.shape.hidden
    }
    fn repos(&self) -> impl Iterator<Item = (&str, &str)> {
        self.origin
            .base
            .as_deref()
            .into_iter()
            .chain(self.head.shape.extra_refs.iter())
            .map(org_repo)
    }
    fn pulls(&self) -> impl Iterator<Item = (&u64, &str)> {
        self.origin
            .pulls
            .iter()
            .map(|p| (&p.number, p.author()))
            .chain(
                self.head
                    .shape
                    .extra_refs
                    .iter()
                    .flat_map(|r| r.pulls.iter())
                    .map(number_author),
            )
    }
}

const CREATION: usize = 0;
const START: usize = 1;
const PENDING: usize = 2;
const COMPLETION: usize = 3;

impl Summary {
    fn rare(&self) -> Option<&Rare> {
        self.origin.rare.as_deref()
    }

    fn rare_name(&self) -> Option<&str> {
        self.rare().and_then(|r| r.name.as_deref())
    }

    /// The name as text, written into `buf` when it is a UUID.
    pub fn name<'a>(&'a self, buf: &'a mut [u8; 36]) -> &'a str {
        match self.rare_name() {
            Some(text) => text,
            None => self.uuid.hyphenated().encode_lower(buf),
        }
    }

    pub fn name_is(&self, name: &str) -> bool {
        self.name(&mut [0; 36]) == name
    }

    /// Orders by name as text without building it: a canonical UUID's lowercase hyphenated
    /// spelling sorts as its bytes do, so two UUID names compare as `Uuid`s.
    pub fn cmp_name(&self, other: &Summary) -> std::cmp::Ordering {
        match (self.rare_name(), other.rare_name()) {
            (None, None) => self.uuid.cmp(&other.uuid),
            _ => self.name(&mut [0; 36]).cmp(other.name(&mut [0; 36])),
        }
    }

    pub fn name_string(&self) -> String {
        self.name(&mut [0; 36]).to_owned()
    }

    /// Containers in the pod spec.
    pub fn containers(&self) -> usize {
        usize::from(self.head.shape.containers)
    }

    fn millis(&self, which: usize) -> i64 {
        match self.rare().and_then(|r| r.millis) {
            Some(ms) => ms[which],
            None => match self.times.unpack()[which] {
                0 => NO_TIME,
                s => i64::from(s) * 1000,
            },
        }
    }

    pub fn start(&self) -> Option<Timestamp> {
        time(self.millis(START))
    }

    pub fn creation(&self) -> Option<Timestamp> {
        time(self.millis(CREATION))
    }

    /// Milliseconds of the start (or else the creation) time: what the index sorts by.
    pub fn sort_millis(&self) -> i64 {
        match (self.millis(START), self.millis(CREATION)) {
            (NO_TIME, NO_TIME) => 0,
            (NO_TIME, c) => c,
            (s, _) => s,
        }
    }

    pub fn build_id(&self) -> String {
        match self.rare().and_then(|r| r.build_id.as_deref()) {
            Some(text) => text.to_owned(),
            None if self.build == 0 => String::new(),
            None => self.build.to_string(),
        }
    }

    fn url(&self) -> String {
        if let Some(url) = self.rare().and_then(|r| r.url.as_deref()) {
            return url.to_owned();
        }
        match &self.origin.url_stem {
            Some(stem) => format!("{stem}{}/{}", self.head.shape.job, self.build_id()),
            None => String::new(),
        }
    }

    /// Whether both runs' refs and URL directory are one shared value.
    #[cfg(test)]
    pub fn shares_origin_with(&self, other: &Summary) -> bool {
        Arc::ptr_eq(&self.origin, &other.origin)
    }

    /// The slim ProwJob this summary stands for: everything Deck's pages read; no pod spec,
    /// labels, annotations or decoration config but where artifacts are.
    pub fn to_prowjob(&self) -> ProwJob {
        let shape = &*self.head.shape;
        let name = self.name_string();
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
                refs: self.origin.refs(),
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
                pending_time: time(self.millis(PENDING)).map(Time),
                completion_time: time(self.millis(COMPLETION)).map(Time),
                state: self.head.state,
                description: self.head.description.to_string(),
                url: self.url(),
                pod_name: self
                    .rare()
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
    bases: Table<Refs>,
    shapes: Table<Shape>,
    heads: Table<Head>,
    origins: Table<Origin>,
}

/// An entry is its value's hash and a weak reference: 24 bytes (32 for `str`), where a map of
/// hash to a `Vec` of them cost three times that.
#[derive(Debug)]
struct Table<T: ?Sized> {
    entries: HashTable<(u64, Weak<T>)>,
    swept_at: usize,
}

impl<T: ?Sized> Default for Table<T> {
    fn default() -> Self {
        Self {
            entries: HashTable::new(),
            swept_at: 0,
        }
    }
}

impl<T: ?Sized + PartialEq> Table<T> {
    fn find(&self, hash: u64, value: &T) -> Option<Arc<T>> {
        self.entries
            .iter_hash(hash)
            .filter(|(h, _)| *h == hash)
            .filter_map(|(_, w)| w.upgrade())
            .find(|v| **v == *value)
    }

    fn insert(&mut self, hash: u64, fresh: &Arc<T>) {
        if self.entries.len() > 1024 && self.entries.len() > 2 * self.swept_at {
            self.sweep();
        }
        self.entries
            .insert_unique(hash, (hash, Arc::downgrade(fresh)), |(h, _)| *h);
    }

    fn sweep(&mut self) {
        self.entries.retain(|(_, w)| w.strong_count() > 0);
        self.entries.shrink_to_fit(|(h, _)| *h);
        self.swept_at = self.entries.len();
    }

    fn intern(&mut self, hash: u64, value: T) -> Arc<T>
    where
        T: Sized,
    {
        self.find(hash, &value).unwrap_or_else(|| {
            let fresh = Arc::new(value);
            self.insert(hash, &fresh);
            fresh
        })
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

    /// Sweeps every table: after a full list replaced the index, what only the old one held.
    pub fn sweep(&mut self) {
        self.strings.sweep();
        self.bases.sweep();
        self.shapes.sweep();
        self.heads.sweep();
        self.origins.sweep();
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
            containers,
        };
        let shape = self.shapes.intern(json_hash(&shape), shape);
        let head = Head {
            shape,
            description: self.str(&status.description),
            state: status.state,
        };
        let head = self.heads.intern(head.hash(), head);
        // A canonical number only: "007" or "" must come back as written.
        let build = status
            .build_id
            .parse::<u64>()
            .ok()
            .filter(|n| *n != 0 && n.to_string() == status.build_id);
        let tail = format!("{}/{}", head.shape.job, status.build_id);
        let url_stem = match status.url.strip_suffix(&tail) {
            Some(stem) if !status.url.is_empty() => Some(self.str(stem)),
            _ => None,
        };
        let (base, pulls) = match spec.refs {
            Some(mut refs) => {
                let pulls = std::mem::take(&mut refs.pulls)
                    .into_iter()
                    .map(PackedPull::pack)
                    .collect();
                (Some(self.bases.intern(json_hash(&refs), refs)), pulls)
            }
            None => (None, Box::default()),
        };
        let uuid = match uuid::Uuid::try_parse(&name) {
            // Only the canonical spelling round-trips; anything else is kept as written.
            Ok(u) if u.hyphenated().to_string() == name => Some(u),
            _ => None,
        };
        let all_millis = [
            millis(metadata.creation_timestamp.as_ref()),
            millis(status.start_time.as_ref()),
            millis(status.pending_time.as_ref()),
            millis(status.completion_time.as_ref()),
        ];
        let times = Times::pack(all_millis);
        let rare = Rare {
            pod_name: (status.pod_name != name).then(|| status.pod_name.into_boxed_str()),
            name: uuid.is_none().then(|| name.into_boxed_str()),
            build_id: build
                .is_none()
                .then(|| status.build_id.into_boxed_str())
                .filter(|b| !b.is_empty()),
            url: (url_stem.is_none() && !status.url.is_empty())
                .then(|| status.url.into_boxed_str()),
            millis: times.is_none().then_some(all_millis),
        };
        let rare = (rare.name.is_some()
            || rare.pod_name.is_some()
            || rare.build_id.is_some()
            || rare.url.is_some()
            || rare.millis.is_some())
        .then(|| Box::new(rare));
        let origin = Origin {
            base,
            pulls,
            url_stem,
            rare,
        };
        let origin = self.origins.intern(origin.hash(), origin);
        Summary {
            uuid: uuid.unwrap_or_default(),
            build: build.unwrap_or(0),
            head,
            origin,
            times: times.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Summary>(), 48);
        assert_eq!(std::mem::size_of::<Option<Summary>>(), 48);
    }

    #[test]
    fn a_packed_pull_unpacks_to_the_same_pull() {
        let pull = Pull {
            number: 7,
            author: "alice".into(),
            sha: "abc".into(),
            title: "Fix ünïcode".into(),
            ref_: "pull/7/head".into(),
            head_ref: String::new(),
            link: "https://github.com/acme/foo/pull/7".into(),
            commit_link: "https://github.com/acme/foo/pull/7/commits/abc".into(),
            author_link: "https://github.com/alice".into(),
        };
        let packed = PackedPull::pack(pull.clone());
        assert_eq!(packed.author(), "alice");
        assert_eq!(packed.unpack(), pull);
        assert_eq!(PackedPull::pack(Pull::default()).unpack(), Pull::default());
    }

    #[test]
    fn names_order_as_their_text_whether_uuids_or_not() {
        let names = [
            "00000000-0000-0000-0000-00000000000a",
            "0a000000-0000-0000-0000-000000000000",
            "9fffffff-ffff-ffff-ffff-ffffffffffff",
            "a0000000-0000-0000-0000-000000000000",
            "ci-run",
            "f0000000-0000-0000-0000-000000000000",
            "zz",
        ];
        let mut interner = Interner::default();
        let summaries: Vec<Summary> = names
            .iter()
            .map(|n| {
                interner.summarize(
                    ProwJob::builder("ci", ProwJobType::Periodic)
                        .name(*n)
                        .build(),
                )
            })
            .collect();
        for (a, x) in names.iter().zip(&summaries) {
            for (b, y) in names.iter().zip(&summaries) {
                assert_eq!(x.cmp_name(y), a.cmp(b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn whole_seconds_are_kept_as_seconds_and_anything_else_as_millis() {
        let second = 1_700_000_000_000;
        assert_eq!(
            seconds([second, NO_TIME, second + 5000, NO_TIME]),
            Some([1_700_000_000, 0, 1_700_000_005, 0])
        );
        for odd in [second + 1, 0, -1000, (i64::from(u32::MAX) + 1) * 1000] {
            assert_eq!(seconds([odd, NO_TIME, NO_TIME, NO_TIME]), None, "{odd}");
        }
    }

    #[test]
    fn prowjob_times_pack_into_eight_bytes_and_others_do_not() {
        let c = 1_700_000_000u32;
        let ms = |s: [u32; 4]| s.map(|v| if v == 0 { NO_TIME } else { i64::from(v) * 1000 });
        for fits in [
            [0, 0, 0, 0],
            [c, 0, 0, 0],
            [c, c, 0, 0],
            [c, c - 1, c + 5, c + 605],
            [c, c + 1, 0, c + 10],
            [
                c,
                c,
                c + MAX_PENDING_STEP,
                c + MAX_PENDING_STEP + MAX_END_STEP,
            ],
            [c, 0, c + 3, 0],
            [c, c, c, c],
            [u32::MAX, u32::MAX, u32::MAX, u32::MAX],
            [u32::MAX, 0, u32::MAX, 0],
        ] {
            let packed = Times::pack(ms(fits)).unwrap_or_else(|| panic!("{fits:?}"));
            assert_eq!(packed.unpack(), fits);
        }
        for odd in [
            [0, c, 0, 0],
            [c, c + 2, 0, 0],
            [c, c, c + MAX_PENDING_STEP + 1, 0],
            [c, c, c + 1, c + 1 + MAX_END_STEP + 1],
            [c, c, c - 1, 0],
            [c, c, c + 5, c + 4],
            [c, c, 0, c - 1],
            [c, 0, c - 1, 0],
        ] {
            assert_eq!(Times::pack(ms(odd)), None, "{odd:?}");
        }
        let mut fraction = ms([c, c, 0, 0]);
        fraction[1] += 1;
        assert_eq!(Times::pack(fraction), None);
    }

    #[test]
    fn odd_times_round_trip_through_the_rare_part() {
        let mut pj = ProwJob::builder("ci", ProwJobType::Periodic)
            .name("a")
            .started_at(Time(
                Timestamp::from_millisecond(1_700_000_000_123).unwrap(),
            ))
            .build();
        pj.status.completion_time = Some(Time(Timestamp::from_second(-5).unwrap()));
        let summary = Interner::default().summarize(pj.clone());
        let back = summary.to_prowjob();
        assert_eq!(back.status.start_time, pj.status.start_time);
        assert_eq!(back.status.completion_time, pj.status.completion_time);
        assert_eq!(
            back.metadata.creation_timestamp,
            pj.metadata.creation_timestamp
        );
    }

    #[test]
    fn heads_and_origins_are_shared_and_freed_with_their_last_run() {
        let mut interner = Interner::default();
        let run = |state, number| {
            let mut refs = Refs::new("acme", "foo");
            refs.pulls.push(Pull::new(number, "alice", "abc"));
            ProwJob::builder("pull-foo", ProwJobType::Presubmit)
                .name(format!("run-{number}-{state:?}"))
                .refs(refs)
                .state(state)
                .build()
        };
        let one = interner.summarize(run(ProwJobState::Success, 1));
        let two = interner.summarize(run(ProwJobState::Success, 1));
        let other = interner.summarize(run(ProwJobState::Failure, 2));
        assert!(Arc::ptr_eq(&one.head, &two.head));
        assert!(one.shares_origin_with(&two));
        assert!(!one.shares_origin_with(&other));
        assert!(Arc::ptr_eq(
            one.origin.base.as_ref().unwrap(),
            other.origin.base.as_ref().unwrap()
        ));
        assert_eq!(
            other.pulls().collect::<Vec<_>>(),
            [(&2, "alice")],
            "pulls kept beside the shared base"
        );
        assert_eq!(
            other.to_prowjob().spec.refs,
            run(ProwJobState::Failure, 2).spec.refs
        );
        drop((one, two));
        interner.sweep();
        assert_eq!(interner.origins.entries.len(), 1);
        assert_eq!(interner.heads.entries.len(), 1);
    }
}
