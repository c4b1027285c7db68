//! The pure decisions of tide for one pool (org/repo/branch), as Prow's `pkg/tide` makes them:
//! which contexts block, which PRs are in the pool, the `tide` status of each PR, and the one
//! action to take (merge, merge a batch, trigger a batch, trigger a serial retest, or wait).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prow_core::config::Presubmit;
use prow_core::config::tide::{ContextPolicy, MergeMethod, Tide, TideQuery};
use prow_core::jobspec::CREATED_BY_TIDE;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType, Pull, Refs};
use regex::Regex;

use crate::index::{ContextState, PrFacts};

/// The context tide writes on every PR in a query's scope.
pub const STATUS_CONTEXT: &str = "tide";
const STATUS_IN_POOL: &str = "In merge pool.";
const STATUS_IN_POOL_DESPITE_BLOCKED: &str = "In merge pool (despite BLOCKED).";
/// GitHub refuses longer descriptions.
const MAX_STATUS_DESCRIPTION: usize = 140;

fn not_in_pool(reason: &str) -> String {
    format!("Not mergeable.{reason}")
}

/// Prow's `contextChecker`: which contexts must pass, which may be ignored.
#[derive(Debug, Clone, Default)]
pub struct ContextChecker {
    required: BTreeSet<String>,
    required_if_present: BTreeSet<String>,
    optional: BTreeSet<String>,
    optional_re: Vec<Regex>,
    skip_unknown: bool,
}

impl ContextChecker {
    /// Prow's `GetTideContextPolicy`: the configured policy for the branch, the branch
    /// protection's required contexts when `from-branch-protection`, and the branch's
    /// presubmits (required when always run, required-if-present when conditional, optional
    /// when optional or not reported).
    pub fn new(
        policy: &ContextPolicy,
        protected_contexts: &[String],
        presubmits: &[Presubmit],
        branch: &str,
    ) -> Self {
        let mut checker = ContextChecker {
            required: policy.required_contexts.iter().cloned().collect(),
            required_if_present: policy
                .required_if_present_contexts
                .iter()
                .cloned()
                .collect(),
            optional: policy.optional_contexts.iter().cloned().collect(),
            optional_re: policy
                .optional_regex_contexts
                .iter()
                .filter_map(|re| Regex::new(re).ok())
                .collect(),
            skip_unknown: policy.skip_unknown_contexts == Some(true),
        };
        if policy.from_branch_protection == Some(true) {
            checker.required.extend(protected_contexts.iter().cloned());
        }
        for job in presubmits.iter().filter(|j| j.brancher.should_run(branch)) {
            if !job.is_required() {
                checker.optional.insert(job.context.clone());
            } else if job.always_run {
                checker.required.insert(job.context.clone());
            } else {
                checker.required_if_present.insert(job.context.clone());
            }
        }
        checker
    }

    /// Prow's `IsOptional`.
    pub fn is_optional(&self, context: &str) -> bool {
        if self.optional.contains(context) || self.optional_re.iter().any(|re| re.is_match(context))
        {
            return true;
        }
        if self.required.contains(context) || self.required_if_present.contains(context) {
            return false;
        }
        self.skip_unknown
    }

    /// Prow's `MissingRequiredContexts`, sorted.
    pub fn missing_required<'a>(&self, present: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let present: BTreeSet<&str> = present.into_iter().collect();
        self.required
            .iter()
            .filter(|c| !present.contains(c.as_str()))
            .cloned()
            .collect()
    }

    /// Prow's `unsuccessfulContexts`: failed or pending non-optional contexts (our own
    /// excluded), then required contexts that are missing (`None`: Prow's "expected" state,
    /// which keeps a PR out of the pool).
    pub fn unsuccessful(&self, pr: &PrFacts) -> Vec<(String, Option<ContextState>)> {
        let mut failed: Vec<(String, Option<ContextState>)> = pr
            .contexts
            .iter()
            .filter(|(name, _)| name.as_str() != STATUS_CONTEXT && !self.is_optional(name))
            .filter(|(_, c)| c.state != ContextState::Success)
            .map(|(name, c)| (name.clone(), Some(c.state)))
            .collect();
        for missing in self.missing_required(pr.contexts.keys().map(String::as_str)) {
            failed.push((missing, None));
        }
        failed
    }
}

/// Prow's `requirementDiff`: why `pr` does not match `query`, in Prow's words, and how far it
/// is from matching (0 = matches). Without a checker, contexts are not looked at: that is
/// what GitHub's search (Prow's pool membership) matches.
pub fn requirement_diff(
    pr: &PrFacts,
    query: &TideQuery,
    checker: Option<&ContextChecker>,
    blocks_policy: &str,
) -> (String, u32) {
    const MAX_LABEL_CHARS: usize = 50;
    let truncate = |items: &[String]| -> Vec<String> {
        let mut chars = items[0].len();
        let mut n = 1;
        while n < items.len() {
            if chars + items[n].len() > MAX_LABEL_CHARS {
                break;
            }
            chars += items[n].len() + 2;
            n += 1;
        }
        items[..n].to_vec()
    };
    let mut desc = String::new();
    let mut diff = 0;
    let denied = query.excluded_branches.contains(&pr.base_ref);
    let allowed =
        query.included_branches.is_empty() || query.included_branches.contains(&pr.base_ref);
    if denied || !allowed {
        diff += 2000;
        if desc.is_empty() {
            desc = format!(" Merging to branch {} is forbidden.", pr.base_ref);
        }
    }
    let author = prow_github::normalize_login(&query.author);
    if !author.is_empty() && prow_github::normalize_login(&pr.author) != author {
        diff += 1000;
        if desc.is_empty() {
            desc = format!(" Must be by author {author}.");
        }
    }
    if !query.milestone.is_empty() && pr.milestone.as_deref() != Some(query.milestone.as_str()) {
        diff += 100;
        if desc.is_empty() {
            desc = format!(" Must be in milestone {}.", query.milestone);
        }
    }
    let mut missing: Vec<String> = query
        .labels
        .iter()
        .filter(|wanted| !wanted.split(',').any(|alt| pr.labels.contains(alt)))
        .map(|wanted| wanted.replace(',', " or "))
        .collect();
    diff += missing.len() as u32;
    if desc.is_empty() && !missing.is_empty() {
        missing.sort();
        let shown = truncate(&missing);
        desc = if shown.len() == 1 {
            format!(" Needs {} label.", shown[0])
        } else {
            format!(" Needs {} labels.", shown.join(", "))
        };
    }
    let mut present: Vec<String> = query
        .missing_labels
        .iter()
        .filter(|l| pr.labels.contains(*l))
        .cloned()
        .collect();
    diff += present.len() as u32;
    if desc.is_empty() && !present.is_empty() {
        present.sort();
        let shown = truncate(&present);
        desc = if shown.len() == 1 {
            format!(" Should not have {} label.", shown[0])
        } else {
            format!(" Should not have {} labels.", shown.join(", "))
        };
    }
    let mut contexts: Vec<String> = Vec::new();
    if let Some(checker) = checker {
        contexts.extend(checker.unsuccessful(pr).into_iter().map(|(name, _)| name));
        contexts.extend(checker.missing_required(pr.contexts.keys().map(String::as_str)));
    }
    diff += contexts.len() as u32;
    if desc.is_empty() && !contexts.is_empty() {
        contexts.sort();
        contexts.dedup();
        let shown = truncate(&contexts);
        desc = if shown.len() == 1 {
            format!(" Job {} has not succeeded.", shown[0])
        } else {
            format!(" Jobs {} have not succeeded.", shown.join(", "))
        };
    }
    if query.review_approved_required && !pr.review_approved() {
        diff += 50;
        if desc.is_empty() {
            desc = " PullRequest is missing sufficient approving GitHub review(s)".to_owned();
        }
    }
    if blocks_policy == "block" && pr.mergeable_state == "blocked" {
        diff += 100;
        if desc.is_empty() {
            desc = " Blocked by GitHub (branch rulesets or protection)".to_owned();
        }
    }
    (desc, diff)
}

/// Prow's `prMergeMethod`: the configured method, overridden by one of the merge-method
/// labels; `None` when the PR carries more than one of them.
pub fn merge_method(tide: &Tide, org: &str, repo: &str, pr: &PrFacts) -> Option<MergeMethod> {
    let mut method = tide.merge_method(org, repo, &pr.base_ref);
    let overrides = [
        (tide.squash_label.as_str(), MergeMethod::Squash),
        (tide.rebase_label.as_str(), MergeMethod::Rebase),
        (tide.merge_label.as_str(), MergeMethod::Merge),
    ];
    let mut found = 0;
    for label in &pr.labels {
        if let Some((_, m)) = overrides
            .iter()
            .find(|(name, _)| !name.is_empty() && name == label)
        {
            method = *m;
            found += 1;
        }
    }
    (found <= 1).then_some(method)
}

/// Prow's `isAllowedToMerge` (without the repository's allowed methods, which need a
/// GitHub read; GitHub then refuses the merge and the failure is recorded): the reason a PR
/// cannot merge at all, or `None`.
pub fn merge_blocker(tide: &Tide, org: &str, repo: &str, pr: &PrFacts) -> Option<String> {
    if pr.mergeable == Some(false) || pr.mergeable_state == "dirty" {
        return Some("PR has a merge conflict.".to_owned());
    }
    let method = merge_method(tide, org, repo, pr);
    let Some(method) = method else {
        return Some("PR has conflicting merge method override labels".to_owned());
    };
    if method == MergeMethod::IfNecessary {
        return Some(format!(
            "Merge type {:?} disallowed by repo settings",
            method.as_str()
        ));
    }
    if pr.draft {
        // GitHub refuses to merge drafts; Prow's search finds them and its merge fails.
        return Some("PR is a draft.".to_owned());
    }
    if pr.mergeable_state == "blocked" && tide.github_merge_blocks_policy(org, repo) == "block" {
        return Some(
            "PR is blocked from merging by GitHub (check branch protection, required reviews, or rulesets)"
                .to_owned(),
        );
    }
    None
}

/// Prow's `retestingStatus`.
fn retesting_status(mut retested: Vec<String>) -> String {
    retested.sort();
    let all = not_in_pool(&format!(" Retesting: {}", retested.join(" ")));
    if all.len() > MAX_STATUS_DESCRIPTION {
        let s = if retested.len() > 1 { "s" } else { "" };
        return not_in_pool(&format!(" Retesting {} job{s}.", retested.len()));
    }
    all
}

/// What one PR's `tide` context should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub number: u64,
    pub sha: String,
    pub state: ContextState,
    pub description: String,
    pub target_url: String,
}

/// Prow's `targetURL`: the configured tide URL, else the PR dashboard's search for the PR,
/// else Deck's `/tide` page when we know where Deck is.
pub fn target_url(tide: &Tide, org: &str, repo: &str, pr: &PrFacts, deck_url: &str) -> String {
    let configured = tide.target_url(org, repo);
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let base = tide.pr_status_base_url(org, repo);
    if !base.is_empty() {
        let author = if pr.author_is_bot && !pr.author.starts_with("app/") {
            format!("app/{}", pr.author)
        } else {
            pr.author.clone()
        };
        let query = format!(
            "is:pr repo:{org}/{repo} author:{author} head:{}",
            pr.head_ref
        );
        return format!("{base}?query={}", query_escape(&query));
    }
    if deck_url.is_empty() {
        return String::new();
    }
    format!("{}/tide", deck_url.trim_end_matches('/'))
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Prow's three-valued job outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Simple {
    Failure,
    Pending,
    Success,
}

fn simple(state: ProwJobState) -> Simple {
    match state {
        ProwJobState::Triggered | ProwJobState::Pending => Simple::Pending,
        ProwJobState::Success => Simple::Success,
        _ => Simple::Failure,
    }
}

/// Everything one pool's decision looks at.
#[derive(Debug)]
pub struct PoolInput<'a> {
    pub org: &'a str,
    pub repo: &'a str,
    pub branch: &'a str,
    /// The branch head now.
    pub base_sha: &'a str,
    /// Open PRs into the branch.
    pub prs: Vec<&'a PrFacts>,
    pub tide: &'a Tide,
    /// The repository's presubmits.
    pub presubmits: &'a [Presubmit],
    /// Required contexts of the branch's protection (read only with from-branch-protection).
    pub protected_contexts: &'a [String],
    /// The repository's ProwJobs (any base; the decision keeps the ones at `base_sha`).
    pub prowjobs: &'a [ProwJob],
    pub deck_url: &'a str,
    /// Another instance is merging in this pool: do not merge or trigger now.
    pub claimed: bool,
    /// For new ProwJobs' start time.
    pub now: Time,
}

/// A merge to ask GitHub for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePlan {
    pub number: u64,
    pub sha: String,
    pub method: MergeMethod,
    pub title: Option<String>,
    pub message: Option<String>,
}

/// Prow's action names (recorded in history and shown by Deck).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Wait,
    Trigger,
    TriggerBatch,
    Merge,
    MergeBatch,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Wait => "WAIT",
            ActionKind::Trigger => "TRIGGER",
            ActionKind::TriggerBatch => "TRIGGER_BATCH",
            ActionKind::Merge => "MERGE",
            ActionKind::MergeBatch => "MERGE_BATCH",
        }
    }
}

/// The one action for a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolAction {
    pub kind: ActionKind,
    /// The PRs acted on: (number, head SHA).
    pub targets: Vec<(u64, String)>,
    /// ProwJobs to create (Trigger, TriggerBatch).
    pub prowjobs: Vec<ProwJob>,
    /// Merges, in order (Merge, MergeBatch).
    pub merges: Vec<MergePlan>,
}

impl PoolAction {
    fn wait() -> Self {
        PoolAction {
            kind: ActionKind::Wait,
            targets: Vec::new(),
            prowjobs: Vec::new(),
            merges: Vec::new(),
        }
    }
}

/// The pool's decision: statuses to write, the action, and the buckets for Deck.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDecision {
    /// The branch head the decision was made at.
    pub base_sha: String,
    pub statuses: Vec<StatusUpdate>,
    pub action: PoolAction,
    pub success: Vec<u64>,
    pub pending: Vec<u64>,
    pub missing: Vec<u64>,
    pub batch_pending: Vec<u64>,
}

/// Decides one pool.
pub fn decide_pool(input: &PoolInput<'_>) -> PoolDecision {
    let tide = input.tide;
    let (org, repo, branch) = (input.org, input.repo, input.branch);
    let policy = tide.context_options.for_branch(org, repo, branch);
    let checker = ContextChecker::new(&policy, input.protected_contexts, input.presubmits, branch);
    let queries = tide.queries_for_repo(org, repo);
    let blocks_policy = tide.github_merge_blocks_policy(org, repo);
    let mut prs: Vec<&PrFacts> = input.prs.clone();
    prs.sort_by_key(|p| p.number);

    let required: BTreeMap<u64, Vec<&Presubmit>> = prs
        .iter()
        .map(|pr| (pr.number, required_presubmits(input.presubmits, branch, pr)))
        .collect();
    let jobs: Vec<&ProwJob> = input
        .prowjobs
        .iter()
        .filter(|pj| {
            pj.spec.refs.as_ref().is_some_and(|r| {
                r.org == org
                    && r.repo == repo
                    && r.base_ref == branch
                    && r.base_sha == input.base_sha
            })
        })
        .collect();

    // Prow's pool: PRs a query matches, that may merge, whose unsuccessful contexts are all
    // pending jobs tide itself controls.
    let mut pool: Vec<&PrFacts> = Vec::new();
    let mut statuses = Vec::new();
    for pr in &prs {
        let blocker = merge_blocker(tide, org, repo, pr);
        let fulfilled = queries
            .iter()
            .any(|q| requirement_diff(pr, q, None, blocks_policy).1 == 0);
        let controlled: BTreeSet<&str> = required[&pr.number]
            .iter()
            .map(|j| j.context.as_str())
            .collect();
        let contexts_ok = checker.unsuccessful(pr).iter().all(|(name, state)| {
            *state == Some(ContextState::Pending) && controlled.contains(name.as_str())
        });
        let in_pool = fulfilled && blocker.is_none() && contexts_ok;
        if in_pool {
            pool.push(pr);
        }
        let (state, description) = expected_status(
            pr,
            in_pool,
            blocker.as_deref(),
            &queries,
            &checker,
            blocks_policy,
            tide.display_all_tide_queries_in_status,
            &jobs,
        );
        let description = truncate_description(description);
        let current = pr.contexts.get(STATUS_CONTEXT);
        if current.is_none_or(|c| c.state != state || c.description != description) {
            statuses.push(StatusUpdate {
                number: pr.number,
                sha: pr.head_sha.clone(),
                state,
                description,
                target_url: target_url(tide, org, repo, pr, input.deck_url),
            });
        }
    }

    let acc = accumulate(&pool, &required, &jobs);
    let (batch_success, batch_pending) = accumulate_batch(&pool, &jobs, input.presubmits, branch);
    let action = if input.claimed {
        PoolAction::wait()
    } else {
        take_action(
            input,
            &pool,
            &required,
            &jobs,
            &acc,
            &batch_success,
            &batch_pending,
            &checker,
        )
    };
    PoolDecision {
        base_sha: input.base_sha.to_owned(),
        statuses,
        action,
        success: acc.success.iter().map(|p| p.number).collect(),
        pending: acc.pending.iter().map(|p| p.number).collect(),
        missing: acc.missing.iter().map(|p| p.number).collect(),
        batch_pending: batch_pending.iter().map(|p| p.number).collect(),
    }
}

fn truncate_description(description: String) -> String {
    if description.len() <= MAX_STATUS_DESCRIPTION {
        return description;
    }
    let mut end = MAX_STATUS_DESCRIPTION - 3;
    while !description.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &description[..end])
}

/// Prow's `expectedStatus`.
#[allow(clippy::too_many_arguments)]
fn expected_status(
    pr: &PrFacts,
    in_pool: bool,
    blocker: Option<&str>,
    queries: &[&TideQuery],
    checker: &ContextChecker,
    blocks_policy: &str,
    display_all: bool,
    jobs: &[&ProwJob],
) -> (ContextState, String) {
    if let Some(reason) = blocker {
        return (ContextState::Error, not_in_pool(&format!(" {reason}")));
    }
    if !in_pool {
        let mut fulfilled = false;
        let mut min: Option<u32> = None;
        let mut min_diff = String::new();
        for q in queries {
            let (desc, count) = requirement_diff(pr, q, Some(checker), blocks_policy);
            if count == 0 {
                fulfilled = true;
                break;
            } else if display_all {
                if count >= 2000 {
                    continue;
                }
                if !min_diff.is_empty() {
                    min_diff = format!("{} OR", min_diff.trim_end_matches('.'));
                }
                min_diff.push_str(&desc);
            } else if min.is_none_or(|m| count < m) {
                min = Some(count);
                min_diff = desc;
            }
        }
        if display_all && min_diff.is_empty() {
            min_diff = format!(" No Tide query for branch {} found.", pr.base_ref);
        }
        if !fulfilled {
            return (ContextState::Pending, not_in_pool(&min_diff));
        }
    }
    let passing: Vec<&str> = jobs
        .iter()
        .filter(|pj| {
            pj.spec.type_ == ProwJobType::Presubmit && pj.status.state == ProwJobState::Success
        })
        .filter(|pj| first_pull(pj).is_some_and(|p| p.number == pr.number && p.sha == pr.head_sha))
        .map(|pj| pj.spec.context.as_str())
        .collect();
    let missing = checker.missing_required(passing);
    if !missing.is_empty() {
        return (ContextState::Pending, retesting_status(missing));
    }
    let description = if blocks_policy == "permit" && pr.mergeable_state == "blocked" {
        STATUS_IN_POOL_DESPITE_BLOCKED
    } else {
        STATUS_IN_POOL
    };
    (ContextState::Success, description.to_owned())
}

fn first_pull(pj: &ProwJob) -> Option<&Pull> {
    pj.spec.refs.as_ref().and_then(|r| r.pulls.first())
}

/// Prow's `presubmitsByPull` for one PR: the presubmits tide waits for (required, or
/// `run_before_merge`) that run on the branch and, for conditional ones, on the PR's files.
/// Without the PR's files a conditional job counts when its context is on the PR.
pub fn required_presubmits<'a>(
    presubmits: &'a [Presubmit],
    branch: &str,
    pr: &PrFacts,
) -> Vec<&'a Presubmit> {
    presubmits
        .iter()
        .filter(|job| job.is_required() || job.run_before_merge)
        .filter(|job| job.brancher.should_run(branch))
        .filter(|job| {
            if job.run_before_merge || job.always_run {
                return true;
            }
            if !job.changes.could_run() {
                return false;
            }
            match &pr.changed_files {
                Some(files) => job.changes.runs_against_changes(files),
                None => pr.contexts.contains_key(&job.context),
            }
        })
        .collect()
}

/// Whether any required job of the repository depends on changed files (then the shell
/// reads them for each new head).
pub fn needs_changed_files(presubmits: &[Presubmit]) -> bool {
    presubmits
        .iter()
        .any(|j| (j.is_required() || j.run_before_merge) && !j.always_run && j.changes.could_run())
}

struct Accumulated<'a> {
    success: Vec<&'a PrFacts>,
    pending: Vec<&'a PrFacts>,
    missing: Vec<&'a PrFacts>,
    missing_tests: BTreeMap<u64, Vec<&'a Presubmit>>,
}

/// Prow's `accumulate`: each PR's best result per required job at the current base and its
/// head, then the worst over its jobs.
fn accumulate<'a>(
    pool: &[&'a PrFacts],
    required: &BTreeMap<u64, Vec<&'a Presubmit>>,
    jobs: &[&ProwJob],
) -> Accumulated<'a> {
    let mut acc = Accumulated {
        success: Vec::new(),
        pending: Vec::new(),
        missing: Vec::new(),
        missing_tests: BTreeMap::new(),
    };
    for pr in pool {
        let mut best: BTreeMap<&str, Simple> = BTreeMap::new();
        for pj in jobs
            .iter()
            .filter(|pj| pj.spec.type_ == ProwJobType::Presubmit)
        {
            if first_pull(pj).is_none_or(|p| p.number != pr.number || p.sha != pr.head_sha) {
                continue;
            }
            let state = simple(pj.status.state);
            let entry = best.entry(pj.spec.context.as_str()).or_insert(state);
            *entry = (*entry).max(state);
        }
        let mut overall = Simple::Success;
        let mut missing = Vec::new();
        for job in &required[&pr.number] {
            match best.get(job.context.as_str()) {
                None | Some(Simple::Failure) => missing.push(*job),
                Some(Simple::Pending) => overall = Simple::Pending,
                Some(Simple::Success) => {}
            }
        }
        if !missing.is_empty() {
            acc.missing_tests.insert(pr.number, missing);
            acc.missing.push(pr);
        } else if overall == Simple::Pending {
            acc.pending.push(pr);
        } else {
            acc.success.push(pr);
        }
    }
    acc
}

/// Prow's `presubmitsForBatch`: the jobs a batch of these PRs must pass.
fn batch_presubmits<'a>(
    presubmits: &'a [Presubmit],
    branch: &str,
    prs: &[&PrFacts],
) -> Vec<&'a Presubmit> {
    let mut union: Vec<&Presubmit> = Vec::new();
    for pr in prs {
        for job in required_presubmits(presubmits, branch, pr) {
            if !union.iter().any(|j| j.name() == job.name()) {
                union.push(job);
            }
        }
    }
    union
}

/// Prow's `accumulateBatch`: the batch whose jobs all passed, and the one still running,
/// among batch jobs whose pulls are all still in the pool at the same heads.
fn accumulate_batch<'a>(
    pool: &[&'a PrFacts],
    jobs: &[&ProwJob],
    presubmits: &[Presubmit],
    branch: &str,
) -> (Vec<&'a PrFacts>, Vec<&'a PrFacts>) {
    let mut by_refs: BTreeMap<String, (Vec<&'a PrFacts>, BTreeMap<&str, Simple>)> = BTreeMap::new();
    for pj in jobs.iter().filter(|pj| pj.spec.type_ == ProwJobType::Batch) {
        let Some(refs) = pj.spec.refs.as_ref() else {
            continue;
        };
        let prs: Option<Vec<&'a PrFacts>> = refs
            .pulls
            .iter()
            .map(|pull| {
                pool.iter()
                    .find(|pr| pr.number == pull.number && pr.head_sha == pull.sha)
                    .copied()
            })
            .collect();
        let Some(prs) = prs else {
            continue;
        };
        let entry = by_refs
            .entry(refs.pull_refs_string())
            .or_insert_with(|| (prs, BTreeMap::new()));
        let state = simple(pj.status.state);
        let best = entry.1.entry(pj.spec.context.as_str()).or_insert(state);
        *best = (*best).max(state);
    }
    let (mut success, mut pending) = (Vec::new(), Vec::new());
    for (prs, states) in by_refs.into_values() {
        let mut overall = Simple::Success;
        for job in batch_presubmits(presubmits, branch, &prs) {
            match states.get(job.context.as_str()) {
                None | Some(Simple::Failure) => {
                    overall = Simple::Failure;
                    break;
                }
                Some(Simple::Pending) => overall = Simple::Pending,
                Some(Simple::Success) => {}
            }
        }
        match overall {
            Simple::Success => success = prs,
            Simple::Pending => pending = prs,
            Simple::Failure => {}
        }
    }
    (success, pending)
}

/// Prow's `hasAllLabels`.
fn has_all_labels(pr: &PrFacts, wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|w| w.split(',').any(|alt| pr.labels.contains(alt)))
}

/// Prow's `pickHighestPriorityPR`: per priority (then none), the lowest-numbered PR that has
/// the priority's labels and passes `ok`.
fn pick_highest_priority<'a>(
    prs: &[&'a PrFacts],
    priorities: &[Vec<String>],
    ok: impl Fn(&PrFacts) -> bool,
) -> Option<&'a PrFacts> {
    let none = Vec::new();
    for labels in priorities.iter().chain(std::iter::once(&none)) {
        let pick = prs
            .iter()
            .filter(|pr| has_all_labels(pr, labels) && ok(pr))
            .min_by_key(|pr| pr.number);
        if let Some(pr) = pick {
            return Some(pr);
        }
    }
    None
}

/// Prow's `isRetestEligible`: required contexts present, and every non-optional context
/// either passing or pending on a job tide itself started for this head.
fn retest_eligible(pr: &PrFacts, checker: &ContextChecker, jobs: &[&ProwJob]) -> bool {
    if !checker
        .missing_required(pr.contexts.keys().map(String::as_str))
        .is_empty()
    {
        return false;
    }
    pr.contexts.iter().all(|(name, c)| {
        if name == STATUS_CONTEXT || checker.is_optional(name) || c.state == ContextState::Success {
            return true;
        }
        c.state == ContextState::Pending
            && jobs.iter().any(|pj| {
                pj.spec.type_ == ProwJobType::Presubmit
                    && &pj.spec.context == name
                    && pj
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(CREATED_BY_TIDE))
                        .is_some_and(|v| v == "true")
                    && pj.spec.refs.as_ref().is_some_and(|r| {
                        r.pulls.len() == 1
                            && r.pulls[0].number == pr.number
                            && r.pulls[0].sha == pr.head_sha
                    })
            })
    })
}

#[allow(clippy::too_many_arguments)]
fn take_action(
    input: &PoolInput<'_>,
    pool: &[&PrFacts],
    required: &BTreeMap<u64, Vec<&Presubmit>>,
    jobs: &[&ProwJob],
    acc: &Accumulated<'_>,
    batch_success: &[&PrFacts],
    batch_pending: &[&PrFacts],
    checker: &ContextChecker,
) -> PoolAction {
    let priorities: Vec<Vec<String>> = input
        .tide
        .priority
        .iter()
        .map(|p| p.labels.clone())
        .collect();
    let targets = |prs: &[&PrFacts]| -> Vec<(u64, String)> {
        prs.iter().map(|p| (p.number, p.head_sha.clone())).collect()
    };
    if !batch_success.is_empty() {
        return PoolAction {
            kind: ActionKind::MergeBatch,
            targets: targets(batch_success),
            prowjobs: Vec::new(),
            merges: batch_success
                .iter()
                .filter_map(|pr| merge_plan(input, pr))
                .collect(),
        };
    }
    if !acc.success.is_empty() && batch_pending.is_empty() {
        let passing = |pr: &PrFacts| checker.unsuccessful(pr).is_empty();
        if let Some(pr) = pick_highest_priority(&acc.success, &priorities, passing) {
            return PoolAction {
                kind: ActionKind::Merge,
                targets: targets(&[pr]),
                prowjobs: Vec::new(),
                merges: merge_plan(input, pr).into_iter().collect(),
            };
        }
    }
    if required.values().all(Vec::is_empty) {
        return PoolAction::wait();
    }
    if pool.len() > 1 && batch_pending.is_empty() {
        let batch = pick_batch(input, pool, jobs, checker);
        if batch.len() > 1 {
            let presubmits = batch_presubmits(input.presubmits, input.branch, &batch);
            return PoolAction {
                kind: ActionKind::TriggerBatch,
                targets: targets(&batch),
                prowjobs: new_jobs(input, &presubmits, &batch, jobs),
                merges: Vec::new(),
            };
        }
    }
    if !acc.missing.is_empty() && acc.pending.is_empty() && acc.success.is_empty() {
        let eligible = |pr: &PrFacts| retest_eligible(pr, checker, jobs);
        if let Some(pr) = pick_highest_priority(&acc.missing, &priorities, eligible) {
            let missing = acc
                .missing_tests
                .get(&pr.number)
                .cloned()
                .unwrap_or_default();
            return PoolAction {
                kind: ActionKind::Trigger,
                targets: targets(&[pr]),
                prowjobs: new_jobs(input, &missing, &[pr], jobs),
                merges: Vec::new(),
            };
        }
    }
    PoolAction::wait()
}

/// Prow's `pickBatch` without a git checkout: the oldest retest-eligible PRs, up to the
/// batch size limit, skipping PRs GitHub reports conflicting; an existing batch of them
/// (successful first, then pending) is preferred when `prioritize_existing_batches`.
fn pick_batch<'a>(
    input: &PoolInput<'_>,
    pool: &[&'a PrFacts],
    jobs: &[&ProwJob],
    checker: &ContextChecker,
) -> Vec<&'a PrFacts> {
    let limit = input.tide.batch_size_limit(input.org, input.repo);
    if limit < 0 {
        return Vec::new();
    }
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut candidates: Vec<&PrFacts> = pool
        .iter()
        .copied()
        .filter(|pr| retest_eligible(pr, checker, jobs))
        .collect();
    candidates.sort_by_key(|p| p.number);
    if candidates.is_empty() {
        return Vec::new();
    }
    if input
        .tide
        .prioritize_existing_batches(input.org, input.repo)
    {
        let existing = existing_batch(&candidates, jobs, limit);
        if !existing.is_empty() {
            return existing;
        }
    }
    let mut batch = Vec::new();
    for pr in candidates {
        if pr.mergeable == Some(false)
            || merge_method(input.tide, input.org, input.repo, pr).is_none()
        {
            continue;
        }
        batch.push(pr);
        if limit > 0 && batch.len() >= limit {
            break;
        }
    }
    batch
}

/// Prow's `pickBatchWithPreexistingTests`.
fn existing_batch<'a>(
    candidates: &[&'a PrFacts],
    jobs: &[&ProwJob],
    limit: usize,
) -> Vec<&'a PrFacts> {
    let mut succeeded: BTreeMap<Vec<u64>, usize> = BTreeMap::new();
    let mut pending: BTreeMap<Vec<u64>, usize> = BTreeMap::new();
    for pj in jobs.iter().filter(|pj| pj.spec.type_ == ProwJobType::Batch) {
        let Some(refs) = pj.spec.refs.as_ref() else {
            continue;
        };
        if limit != 0 && refs.pulls.len() > limit {
            continue;
        }
        let valid = refs.pulls.iter().all(|pull| {
            candidates
                .iter()
                .any(|pr| pr.number == pull.number && pr.head_sha == pull.sha)
        });
        if !valid {
            continue;
        }
        let key: Vec<u64> = refs.pulls.iter().map(|p| p.number).collect();
        match pj.status.state {
            ProwJobState::Success => *succeeded.entry(key).or_default() += 1,
            ProwJobState::Pending => *pending.entry(key).or_default() += 1,
            _ => {}
        }
    }
    let best =
        |m: &BTreeMap<Vec<u64>, usize>| m.iter().max_by_key(|(_, n)| **n).map(|(k, _)| k.clone());
    let numbers = best(&succeeded)
        .or_else(|| best(&pending))
        .unwrap_or_default();
    numbers
        .iter()
        .filter_map(|n| candidates.iter().find(|pr| pr.number == *n).copied())
        .collect()
}

/// Refs of `prs` at the pool's base, as Prow's `refsForJob`.
pub fn pool_refs(input: &PoolInput<'_>, prs: &[&PrFacts]) -> Refs {
    let repo_link = format!("https://github.com/{}/{}", input.org, input.repo);
    let mut refs = Refs::new(input.org, input.repo);
    refs.repo_link = repo_link.clone();
    refs.base_ref = input.branch.to_owned();
    refs.base_sha = input.base_sha.to_owned();
    refs.base_link = format!("{repo_link}/commit/{}", input.base_sha);
    refs.pulls = prs
        .iter()
        .map(|pr| {
            let mut pull = Pull::new(pr.number, pr.author.clone(), pr.head_sha.clone());
            pull.title = pr.title.clone();
            pull.head_ref = pr.head_ref.clone();
            pull.link = pr.html_url.clone();
            pull.commit_link = format!("{repo_link}/pull/{}/commits/{}", pr.number, pr.head_sha);
            pull.author_link = format!("https://github.com/{}", pr.author);
            pull
        })
        .collect();
    refs
}

/// Prow's `trigger`: one ProwJob per distinct context, a presubmit for one PR or a batch for
/// several. Names derive from the job, the base and the heads, and count earlier runs of the
/// same, so two instances deciding on the same facts create the same job once, and a rerun
/// after a failure gets a new name.
fn new_jobs(
    input: &PoolInput<'_>,
    presubmits: &[&Presubmit],
    prs: &[&PrFacts],
    jobs: &[&ProwJob],
) -> Vec<ProwJob> {
    let refs = pool_refs(input, prs);
    let batch = prs.len() > 1;
    let mut contexts = BTreeSet::new();
    let mut out = Vec::new();
    for job in presubmits {
        if !contexts.insert(job.context.as_str()) {
            continue;
        }
        let same: Vec<&&ProwJob> = jobs
            .iter()
            .filter(|pj| pj.spec.job == job.name())
            .filter(|pj| pj.spec.refs.as_ref().is_some_and(|r| same_pulls(r, &refs)))
            .collect();
        if batch
            && same.iter().any(|pj| {
                pj.spec.type_ == ProwJobType::Batch && simple(pj.status.state) != Simple::Failure
            })
        {
            continue;
        }
        let spec = if batch {
            prow_core::prowjob_new::batch_spec(job, refs.clone())
        } else {
            prow_core::prowjob_new::presubmit_spec(job, refs.clone())
        };
        let mut labels = job.base.labels.clone();
        labels.insert(CREATED_BY_TIDE.to_owned(), "true".to_owned());
        let attempt = same.len().to_string();
        let mut parts = vec!["tide", job.name(), input.base_sha, attempt.as_str()];
        let heads: Vec<String> = prs
            .iter()
            .map(|p| format!("{}:{}", p.number, p.head_sha))
            .collect();
        parts.extend(heads.iter().map(String::as_str));
        let name = prow_core::naming::prowjob_name(&parts);
        let mut pj = prow_core::prowjob_new::new_prowjob(
            spec,
            &labels,
            &job.base.annotations,
            name,
            input.now.clone(),
        );
        pj.metadata.namespace = None;
        out.push(pj);
    }
    out
}

fn same_pulls(a: &Refs, b: &Refs) -> bool {
    a.base_sha == b.base_sha
        && a.pulls.len() == b.pulls.len()
        && a.pulls
            .iter()
            .zip(&b.pulls)
            .all(|(x, y)| x.number == y.number && x.sha == y.sha)
}

/// Prow's `prepareMergeDetails`: method, expected head, and the commit title and body from
/// the repository's templates (a template that fails is left out, as Prow logs and skips it).
fn merge_plan(input: &PoolInput<'_>, pr: &PrFacts) -> Option<MergePlan> {
    let method = merge_method(input.tide, input.org, input.repo, pr)?;
    let template = input.tide.merge_commit_template(input.org, input.repo);
    let render = |t: &str| -> Option<String> {
        if t.is_empty() {
            return None;
        }
        crate::template::render_merge_template(t, input.org, input.repo, pr)
            .map_err(|err| tracing::warn!(pr = pr.number, %err, "merge commit template left out"))
            .ok()
    };
    Some(MergePlan {
        number: pr.number,
        sha: pr.head_sha.clone(),
        method,
        title: template.and_then(|t| render(&t.title)),
        message: template.and_then(|t| render(&t.body)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
