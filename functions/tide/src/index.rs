//! The durable merge-pool index of one repository: what tide knows about its open pull
//! requests, base branches, last decisions and history, and the pure updates events make to it.
//!
//! One index per repository (not per branch) because a status or check-run event names only a
//! commit: finding its pull request must not need a read per branch. The index is stored as
//! JSON in a ConfigMap (see `store.rs`), so it survives scale-to-zero and every instance sees
//! the same one.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prow_core::jobspec::CREATED_BY_TIDE;
use prow_core::prowjob::{ProwJob, ProwJobSpec, ProwJobState, ProwJobType, Pull, Refs};
use serde::{Deserialize, Serialize};

/// How many history records are kept per pool (Prow keeps 1000 in memory; a ConfigMap holds
/// at most 1 MiB, so we keep the recent ones).
pub const HISTORY_PER_POOL: usize = 50;

/// The state of one status context (or check run, read as a context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContextState {
    Success,
    Pending,
    Failure,
    Error,
}

impl ContextState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContextState::Success => "success",
            ContextState::Pending => "pending",
            ContextState::Failure => "failure",
            ContextState::Error => "error",
        }
    }

    /// Prow's `checkRunToContext`: a completed run counts as success when it succeeded, was
    /// neutral or skipped, else as failure; an unfinished run is pending.
    pub fn of_check_run(status: &str, conclusion: Option<&str>) -> ContextState {
        if status != "completed" {
            return ContextState::Pending;
        }
        match conclusion {
            Some("success" | "neutral" | "skipped") => ContextState::Success,
            _ => ContextState::Failure,
        }
    }
}

/// One context on a pull request's head commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub state: ContextState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// What tide needs of one ProwJob of the repository (kept in the index so an event needs no
/// ProwJob list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job: String,
    #[serde(rename = "type")]
    pub type_: ProwJobType,
    pub context: String,
    pub base_ref: String,
    pub base_sha: String,
    pub pulls: Vec<(u64, String)>,
    pub state: ProwJobState,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub report: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_tide: bool,
    /// RFC 3339 start time: the latest run of a context is what GitHub shows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
}

impl JobRecord {
    /// The record of a ProwJob with refs; `None` for jobs without (periodics).
    pub fn of(pj: &ProwJob) -> Option<(String, JobRecord)> {
        let refs = pj.spec.refs.as_ref()?;
        let record = JobRecord {
            job: pj.spec.job.clone(),
            type_: pj.spec.type_,
            context: pj.spec.context.clone(),
            base_ref: refs.base_ref.clone(),
            base_sha: refs.base_sha.clone(),
            pulls: refs
                .pulls
                .iter()
                .map(|p| (p.number, p.sha.clone()))
                .collect(),
            state: pj.status.state,
            report: pj.spec.report,
            by_tide: pj
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(CREATED_BY_TIDE))
                .is_some_and(|v| v == "true"),
            start: pj
                .status
                .start_time
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
        };
        Some((pj.name().to_owned(), record))
    }

    /// The ProwJob as the decisions read it (only the fields they look at).
    pub fn to_prowjob(&self, name: &str, org: &str, repo: &str) -> ProwJob {
        let mut refs = Refs::new(org, repo);
        refs.base_ref = self.base_ref.clone();
        refs.base_sha = self.base_sha.clone();
        refs.pulls = self
            .pulls
            .iter()
            .map(|(n, sha)| Pull::new(*n, "", sha.clone()))
            .collect();
        let mut pj = ProwJob::new(
            name,
            ProwJobSpec {
                type_: self.type_,
                job: self.job.clone(),
                context: self.context.clone(),
                report: self.report,
                refs: Some(refs),
                ..ProwJobSpec::default()
            },
        );
        pj.status.state = self.state;
        pj.status.start_time = self.start.parse().ok().map(Time);
        if self.by_tide {
            pj.metadata.labels = Some([(CREATED_BY_TIDE.to_owned(), "true".to_owned())].into());
        }
        pj
    }

    /// The context crier reports for this job, on the head it ran at.
    fn reported_context(&self) -> Option<(u64, &str, Context)> {
        if self.type_ != ProwJobType::Presubmit || !self.report || self.context.is_empty() {
            return None;
        }
        let [(number, sha)] = self.pulls.as_slice() else {
            return None;
        };
        let state = match self.state {
            ProwJobState::Triggered | ProwJobState::Pending => ContextState::Pending,
            ProwJobState::Success => ContextState::Success,
            ProwJobState::Error => ContextState::Error,
            _ => ContextState::Failure,
        };
        Some((
            *number,
            sha.as_str(),
            Context {
                state,
                description: String::new(),
            },
        ))
    }
}

/// What tide knows about one open pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrFacts {
    pub number: u64,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    pub author: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub author_is_bot: bool,
    pub html_url: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub labels: BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
    /// GitHub's verdict; `None` while GitHub computes it (webhooks usually carry `null`).
    pub mergeable: Option<bool>,
    /// GitHub's `mergeable_state` (`clean`, `dirty`, `blocked`...), when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mergeable_state: String,
    /// Latest review state per reviewer (`approved`, `changes_requested`, `dismissed`...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reviews: BTreeMap<String, String>,
    /// Status contexts and check runs on `head_sha` (also our own `tide` context).
    pub contexts: BTreeMap<String, Context>,
    /// Files the PR changes, read only when a required job runs on changed files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_files: Option<Vec<String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
}

impl PrFacts {
    /// GitHub's review decision as far as reviews tell it: someone's latest review approves
    /// and nobody's latest review asks for changes.
    pub fn review_approved(&self) -> bool {
        let states = self.reviews.values().map(String::as_str);
        let mut approved = false;
        for state in states {
            match state {
                "changes_requested" => return false,
                "approved" => approved = true,
                _ => {}
            }
        }
        approved
    }

    /// Replaces the PR's own fields with `fresh` (from a webhook or the API), keeping what
    /// only other events tell (contexts, reviews, changed files) unless the head moved.
    pub fn refresh(&mut self, fresh: PrFacts) {
        let head_moved = self.head_sha != fresh.head_sha;
        let contexts = std::mem::take(&mut self.contexts);
        let reviews = std::mem::take(&mut self.reviews);
        let changed = self.changed_files.take();
        let mergeable = self.mergeable;
        let mergeable_state = std::mem::take(&mut self.mergeable_state);
        *self = PrFacts {
            contexts: if head_moved {
                fresh.contexts
            } else {
                merge_contexts(contexts, fresh.contexts)
            },
            reviews: if fresh.reviews.is_empty() {
                reviews
            } else {
                fresh.reviews
            },
            changed_files: if head_moved {
                fresh.changed_files
            } else {
                fresh.changed_files.or(changed)
            },
            mergeable: match (fresh.mergeable, head_moved) {
                (Some(m), _) => Some(m),
                (None, true) => None,
                (None, false) => mergeable,
            },
            mergeable_state: if fresh.mergeable_state.is_empty() && !head_moved {
                mergeable_state
            } else {
                fresh.mergeable_state.clone()
            },
            ..fresh
        };
    }
}

fn merge_contexts(
    mut old: BTreeMap<String, Context>,
    new: BTreeMap<String, Context>,
) -> BTreeMap<String, Context> {
    old.extend(new);
    old
}

/// One entry of a pool's history, as Prow's `history.Record`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// RFC 3339.
    pub time: String,
    /// `MERGE`, `MERGE_BATCH`, `TRIGGER`, `TRIGGER_BATCH`.
    pub action: String,
    pub base_sha: String,
    /// Pull request number and head SHA of each target.
    pub targets: Vec<(u64, String)>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub err: String,
}

/// The last decision for one pool, for Deck's `/tide`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolSummary {
    pub base_sha: String,
    pub success_prs: Vec<u64>,
    pub pending_prs: Vec<u64>,
    pub missing_prs: Vec<u64>,
    pub batch_pending: Vec<u64>,
    pub action: String,
    pub target: Vec<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// RFC 3339: when the pool's decision last changed.
    pub updated: String,
}

/// A merge one instance decided on and recorded before calling GitHub, so others (which
/// see it after their conflicting write) leave that pool alone until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeClaim {
    pub branch: String,
    pub prs: Vec<(u64, String)>,
    /// RFC 3339; a claim older than [`CLAIM_TTL_SECONDS`] is void (its holder died).
    pub at: String,
}

/// How long a merge claim holds a pool.
pub const CLAIM_TTL_SECONDS: i64 = 120;

/// Everything tide keeps about one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoIndex {
    pub org: String,
    pub repo: String,
    /// Branch -> the SHA its head was last seen at.
    pub base_shas: BTreeMap<String, String>,
    pub prs: BTreeMap<u64, PrFacts>,
    /// Branch -> last decision.
    pub pools: BTreeMap<String, PoolSummary>,
    /// Branch -> recent actions, oldest first.
    pub history: BTreeMap<String, Vec<HistoryRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<MergeClaim>,
    /// Recently merged PR numbers, newest last: a late or redelivered event about a merged
    /// PR must not bring it back into a pool.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<u64>,
    /// The repository's ProwJobs that still matter (for open PRs at their current heads), by
    /// name.
    pub jobs: BTreeMap<String, JobRecord>,
}

/// How many merged PR numbers are remembered.
pub const MERGED_REMEMBERED: usize = 200;

/// A fact one event tells about a repository.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The PR as the event shows it (opened, edited, labeled, synchronize, review...).
    PullRequest(Box<PrFacts>),
    /// The PR closed (or merged): it leaves every pool.
    Closed { number: u64, merged: bool },
    /// A review by `user` in `state`.
    Review {
        pr: Box<PrFacts>,
        user: String,
        state: String,
    },
    /// A status context or check run on a commit.
    Context {
        sha: String,
        name: String,
        context: Context,
    },
    /// A branch moved to `sha` (or was deleted: `None`).
    Push { branch: String, sha: Option<String> },
    /// A ProwJob of the repository was created or changed.
    Job {
        name: String,
        record: Box<JobRecord>,
    },
    /// Nothing to record; the event only asks for the repository's pools to be re-evaluated
    /// (a ProwJob changed, a tick).
    Reevaluate,
}

impl RepoIndex {
    pub fn new(org: &str, repo: &str) -> Self {
        RepoIndex {
            org: org.to_owned(),
            repo: repo.to_owned(),
            ..RepoIndex::default()
        }
    }

    /// Records what an event tells; false when nothing changed (then nothing is written).
    pub fn observe(&mut self, observation: &Observation) -> bool {
        let before = self.clone();
        match observation {
            Observation::PullRequest(pr) => self.upsert(pr),
            Observation::Closed { number, merged } => {
                self.prs.remove(number);
                self.jobs
                    .retain(|_, r| r.pulls.iter().all(|(n, _)| n != number));
                if *merged {
                    self.remember_merged(*number);
                }
            }
            Observation::Review { pr, user, state } => {
                self.upsert(pr);
                if let Some(facts) = self.prs.get_mut(&pr.number) {
                    facts
                        .reviews
                        .insert(user.to_lowercase(), state.to_lowercase());
                }
            }
            Observation::Context { sha, name, context } => {
                for facts in self.prs.values_mut().filter(|p| &p.head_sha == sha) {
                    facts.contexts.insert(name.clone(), context.clone());
                }
            }
            Observation::Push { branch, sha } => match sha {
                Some(sha) => {
                    self.base_shas.insert(branch.clone(), sha.clone());
                }
                None => {
                    self.base_shas.remove(branch);
                }
            },
            Observation::Job { name, record } => {
                self.jobs.insert(name.clone(), (**record).clone());
            }
            Observation::Reevaluate => {}
        }
        // A PR indexed after its jobs ran, or a job after its PR: either way the PR shows them.
        self.apply_job_contexts();
        *self != before
    }

    /// Replaces the job records (a fresh list from the API server) and applies their contexts.
    pub fn set_jobs(&mut self, jobs: BTreeMap<String, JobRecord>) {
        self.jobs = jobs;
        self.apply_job_contexts();
    }

    /// Takes the job records of a ProwJob list made at `listed_at` (the resync's, made before
    /// it read GitHub), keeping what job events taught since: a record that finished while the
    /// listed one had not, and records of jobs started after the list.
    pub fn refresh_jobs(&mut self, listed: &BTreeMap<String, JobRecord>, listed_at: &Time) {
        let mut jobs = listed.clone();
        for (name, known) in &self.jobs {
            match jobs.get(name) {
                Some(old) if known.state.is_final() && !old.state.is_final() => {
                    jobs.insert(name.clone(), known.clone());
                }
                Some(_) => {}
                None => {
                    let newer = known
                        .start
                        .parse::<k8s_openapi::jiff::Timestamp>()
                        .is_ok_and(|start| start >= listed_at.0);
                    if newer {
                        jobs.insert(name.clone(), known.clone());
                    }
                }
            }
        }
        self.set_jobs(jobs);
    }

    /// The contexts crier reports for the latest run of each (PR, head, context), on PRs at
    /// that head: a pool moves without waiting for GitHub's status webhook, and whatever the
    /// order of job and PR events.
    fn apply_job_contexts(&mut self) {
        let mut latest: BTreeMap<(u64, String, String), (&str, Context)> = BTreeMap::new();
        for record in self.jobs.values() {
            let Some((number, sha, context)) = record.reported_context() else {
                continue;
            };
            let key = (number, sha.to_owned(), record.context.clone());
            if latest
                .get(&key)
                .is_none_or(|(start, _)| *start <= record.start.as_str())
            {
                latest.insert(key, (record.start.as_str(), context));
            }
        }
        let updates: Vec<((u64, String, String), Context)> =
            latest.into_iter().map(|(k, (_, c))| (k, c)).collect();
        for ((number, sha, name), context) in updates {
            if let Some(pr) = self.prs.get_mut(&number).filter(|p| p.head_sha == sha) {
                pr.contexts.insert(name, context);
            }
        }
    }

    /// Drops job records of PRs that moved on (a known PR at another head) or merged; records
    /// of PRs not indexed yet stay (the job may finish before its PR's first event).
    pub fn prune_jobs(&mut self) {
        let (prs, merged) = (&self.prs, &self.merged);
        self.jobs.retain(|_, r| {
            r.pulls.iter().all(|(n, sha)| {
                !merged.contains(n) && prs.get(n).is_none_or(|p| &p.head_sha == sha)
            })
        });
    }

    /// The job records as the decisions read them.
    pub fn prowjobs(&self) -> Vec<ProwJob> {
        self.jobs
            .iter()
            .map(|(name, r)| r.to_prowjob(name, &self.org, &self.repo))
            .collect()
    }

    /// Records that `number` merged (and leaves every pool).
    pub fn remember_merged(&mut self, number: u64) {
        self.prs.remove(&number);
        if !self.merged.contains(&number) {
            self.merged.push(number);
        }
        if self.merged.len() > MERGED_REMEMBERED {
            let excess = self.merged.len() - MERGED_REMEMBERED;
            self.merged.drain(..excess);
        }
    }

    fn upsert(&mut self, pr: &PrFacts) {
        if self.merged.contains(&pr.number) {
            return;
        }
        match self.prs.get_mut(&pr.number) {
            Some(known) => known.refresh(pr.clone()),
            None => {
                self.prs.insert(pr.number, pr.clone());
            }
        }
    }

    /// The branches with open pull requests, each once.
    pub fn branches(&self) -> BTreeSet<&str> {
        self.prs.values().map(|p| p.base_ref.as_str()).collect()
    }

    /// Appends a history record for `branch`, dropping the oldest beyond the bound.
    pub fn record(&mut self, branch: &str, record: HistoryRecord) {
        let records = self.history.entry(branch.to_owned()).or_default();
        records.push(record);
        if records.len() > HISTORY_PER_POOL {
            let excess = records.len() - HISTORY_PER_POOL;
            records.drain(..excess);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pr(number: u64, sha: &str) -> PrFacts {
        PrFacts {
            number,
            head_sha: sha.into(),
            base_ref: "main".into(),
            ..PrFacts::default()
        }
    }

    fn ctx(state: ContextState) -> Context {
        Context {
            state,
            description: String::new(),
        }
    }

    #[test]
    fn a_status_lands_on_the_pr_whose_head_it_names() {
        let mut index = RepoIndex::new("acme", "foo");
        index.observe(&Observation::PullRequest(Box::new(pr(1, "aaa"))));
        index.observe(&Observation::PullRequest(Box::new(pr(2, "bbb"))));
        let changed = index.observe(&Observation::Context {
            sha: "bbb".into(),
            name: "unit".into(),
            context: ctx(ContextState::Success),
        });
        assert!(changed);
        assert!(index.prs[&1].contexts.is_empty());
        assert_eq!(index.prs[&2].contexts["unit"].state, ContextState::Success);
        // The same status again changes nothing, so nothing is written.
        assert!(!index.observe(&Observation::Context {
            sha: "bbb".into(),
            name: "unit".into(),
            context: ctx(ContextState::Success),
        }));
    }

    #[test]
    fn a_new_head_forgets_contexts_and_mergeability_of_the_old_one() {
        let mut index = RepoIndex::new("acme", "foo");
        let mut first = pr(1, "aaa");
        first.mergeable = Some(true);
        first
            .contexts
            .insert("unit".into(), ctx(ContextState::Success));
        index.observe(&Observation::PullRequest(Box::new(first)));
        // A label event for the same head keeps contexts and mergeability.
        let mut labeled = pr(1, "aaa");
        labeled.labels.insert("lgtm".into());
        index.observe(&Observation::PullRequest(Box::new(labeled)));
        assert_eq!(index.prs[&1].mergeable, Some(true));
        assert!(index.prs[&1].contexts.contains_key("unit"));
        assert!(index.prs[&1].labels.contains("lgtm"));
        // A push to the PR does not.
        index.observe(&Observation::PullRequest(Box::new(pr(1, "ccc"))));
        assert_eq!(index.prs[&1].mergeable, None);
        assert!(index.prs[&1].contexts.is_empty());
    }

    #[test]
    fn reviews_decide_approval_by_each_reviewers_latest_state() {
        let mut index = RepoIndex::new("acme", "foo");
        let review = |user: &str, state: &str| Observation::Review {
            pr: Box::new(pr(1, "aaa")),
            user: user.into(),
            state: state.into(),
        };
        index.observe(&review("alice", "APPROVED"));
        assert!(index.prs[&1].review_approved());
        index.observe(&review("bob", "changes_requested"));
        assert!(!index.prs[&1].review_approved());
        index.observe(&review("bob", "dismissed"));
        assert!(index.prs[&1].review_approved());
    }

    #[test]
    fn closing_removes_the_pr_and_pushes_move_the_base() {
        let mut index = RepoIndex::new("acme", "foo");
        index.observe(&Observation::PullRequest(Box::new(pr(1, "aaa"))));
        index.observe(&Observation::Push {
            branch: "main".into(),
            sha: Some("base2".into()),
        });
        assert_eq!(index.base_shas["main"], "base2");
        index.observe(&Observation::Closed {
            number: 1,
            merged: true,
        });
        assert!(index.prs.is_empty());
        // A late event about the merged PR does not bring it back.
        index.observe(&Observation::PullRequest(Box::new(pr(1, "aaa"))));
        assert!(index.prs.is_empty());
        index.observe(&Observation::Push {
            branch: "main".into(),
            sha: None,
        });
        assert!(index.base_shas.is_empty());
    }

    fn record(state: ProwJobState, start: &str) -> JobRecord {
        JobRecord {
            job: "unit".into(),
            type_: ProwJobType::Presubmit,
            context: "unit".into(),
            base_ref: "main".into(),
            base_sha: "base".into(),
            pulls: vec![(1, "aaa".into())],
            state,
            report: true,
            by_tide: false,
            start: start.into(),
        }
    }

    #[test]
    fn a_resync_list_does_not_undo_what_job_events_taught_since() {
        let listed_at: Time = Time("2026-12-02T08:00:00Z".parse().unwrap());
        let mut index = RepoIndex::new("acme", "foo");
        index.observe(&Observation::PullRequest(Box::new(pr(1, "aaa"))));
        for (name, state, start) in [
            (
                "finished-since",
                ProwJobState::Success,
                "2026-12-02T07:00:00Z",
            ),
            ("deleted", ProwJobState::Success, "2026-12-02T06:00:00Z"),
            (
                "started-since",
                ProwJobState::Pending,
                "2026-12-02T08:00:05Z",
            ),
            (
                "listed-newer",
                ProwJobState::Pending,
                "2026-12-02T07:30:00Z",
            ),
        ] {
            index.jobs.insert(name.into(), record(state, start));
        }
        let listed: BTreeMap<String, JobRecord> = [
            (
                "finished-since",
                ProwJobState::Pending,
                "2026-12-02T07:00:00Z",
            ),
            (
                "listed-newer",
                ProwJobState::Failure,
                "2026-12-02T07:30:00Z",
            ),
            ("only-listed", ProwJobState::Success, "2026-12-02T05:00:00Z"),
        ]
        .into_iter()
        .map(|(n, st, t)| (n.to_owned(), record(st, t)))
        .collect();
        index.refresh_jobs(&listed, &listed_at);
        let states: Vec<(&str, ProwJobState)> = index
            .jobs
            .iter()
            .map(|(n, r)| (n.as_str(), r.state))
            .collect();
        assert_eq!(
            states,
            [
                ("finished-since", ProwJobState::Success),
                ("listed-newer", ProwJobState::Failure),
                ("only-listed", ProwJobState::Success),
                ("started-since", ProwJobState::Pending),
            ]
        );
    }

    #[test]
    fn history_keeps_the_most_recent_records_per_pool() {
        let mut index = RepoIndex::new("acme", "foo");
        for i in 0..(HISTORY_PER_POOL + 5) {
            index.record(
                "main",
                HistoryRecord {
                    time: format!("t{i}"),
                    action: "MERGE".into(),
                    base_sha: String::new(),
                    targets: vec![],
                    err: String::new(),
                },
            );
        }
        let records = &index.history["main"];
        assert_eq!(records.len(), HISTORY_PER_POOL);
        assert_eq!(records[0].time, "t5");
    }

    #[test]
    fn check_runs_read_as_prow_reads_them() {
        let cases = [
            ("completed", Some("success"), ContextState::Success),
            ("completed", Some("neutral"), ContextState::Success),
            ("completed", Some("skipped"), ContextState::Success),
            ("completed", Some("failure"), ContextState::Failure),
            ("completed", Some("cancelled"), ContextState::Failure),
            ("in_progress", None, ContextState::Pending),
            ("queued", None, ContextState::Pending),
        ];
        for (status, conclusion, want) in cases {
            assert_eq!(
                ContextState::of_check_run(status, conclusion),
                want,
                "{status} {conclusion:?}"
            );
        }
    }
}
