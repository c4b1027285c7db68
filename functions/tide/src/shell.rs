//! tide's I/O: an event updates one repository's index (conditional write), the pools of that
//! repository are decided, and the decisions are carried out on GitHub and the API server.
//! The resync tick rebuilds the indexes from GitHub.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cloudevents::AttributesReader;
use prow_core::events::{APISERVER_ADD, APISERVER_UPDATE, GITHUB_EVENT_PREFIX, PING};
use prow_core::jobspec::{ORG_LABEL, REPO_LABEL};
use prow_core::prowjob::ProwJob;
use prow_github::{MergeOutcome, MergeRequest, NewStatus, StatusState};

use crate::TideState;
use crate::decide::{self, ActionKind, MergePlan, PoolDecision, PoolInput, STATUS_CONTEXT};
use crate::index::{
    CLAIM_TTL_SECONDS, Context, ContextState, HistoryRecord, MergeClaim, PoolSummary, RepoIndex,
};
use crate::observe::{self, Observed};
use crate::store::{Saved, StoreError};

/// How often a conditional index write is retried after conflicts before giving up (the
/// broker then redelivers).
const CONFLICT_RETRIES: usize = 8;
/// Prow's merge attempts when GitHub says the base branch was modified.
const MERGE_ATTEMPTS: u32 = 3;

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub enum TideError {
    #[error("event {id}: {source}")]
    Payload {
        id: String,
        #[source]
        source: observe::PayloadError,
    },
    #[error("event {id}: data is not a ProwJob: {source}")]
    ProwJob {
        id: String,
        #[source]
        source: prow_events::DecodeError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{org}/{repo}: the index kept changing under us ({CONFLICT_RETRIES} conflicts)")]
    Contended { org: String, repo: String },
    #[error("{target}: {source}")]
    GitHub {
        target: String,
        #[source]
        source: prow_github::GitHubError,
    },
    #[error("{target}: {source}")]
    Kube {
        target: String,
        #[source]
        source: prow_kube::KubeError,
    },
    #[error("{org}/{repo}: config: {source}")]
    Config {
        org: String,
        repo: String,
        #[source]
        source: prow_core::config::SectionError,
    },
    #[error("resync: {failed} of {total} repositories failed; first: {first}")]
    Resync {
        failed: usize,
        total: usize,
        first: Box<TideError>,
    },
}

impl TideError {
    pub fn is_bad_request(&self) -> bool {
        matches!(self, TideError::Payload { .. } | TideError::ProwJob { .. })
    }
}

fn gh(target: String) -> impl FnOnce(prow_github::GitHubError) -> TideError {
    move |source| TideError::GitHub { target, source }
}

/// The metric label of an event.
pub fn event_type(event: &prow_events::Event) -> String {
    let ty = event.ty();
    match ty.strip_prefix(GITHUB_EVENT_PREFIX) {
        Some(name @ ("pull_request" | "pull_request_review" | "status" | "check_run" | "push")) => {
            name.to_owned()
        }
        Some(_) => "github_other".to_owned(),
        None if ty == APISERVER_ADD || ty == APISERVER_UPDATE => "prowjob".to_owned(),
        None if ty == PING => "tick".to_owned(),
        None => "other".to_owned(),
    }
}

/// Handles one CloudEvent.
pub async fn handle_event(state: &TideState, event: &prow_events::Event) -> Result<(), TideError> {
    let ty = event.ty();
    let observed = if let Some(name) = ty.strip_prefix(GITHUB_EVENT_PREFIX) {
        let data: serde_json::Value = match prow_events::data_json(event) {
            Ok(data) => data,
            Err(source) => {
                return Err(TideError::ProwJob {
                    id: event.id().to_owned(),
                    source,
                });
            }
        };
        observe::github_event(name, &data).map_err(|source| TideError::Payload {
            id: event.id().to_owned(),
            source,
        })?
    } else if ty == APISERVER_ADD || ty == APISERVER_UPDATE {
        let kind = event.extension("kind").map(|k| k.to_string());
        if kind.as_deref().is_some_and(|k| k != "ProwJob") {
            return Ok(());
        }
        let pj: ProwJob = prow_events::data_json(event).map_err(|source| TideError::ProwJob {
            id: event.id().to_owned(),
            source,
        })?;
        observe::prowjob_event(&pj)
    } else if ty == PING {
        resync(state).await?;
        return Ok(());
    } else {
        None
    };
    let Some(Observed {
        org,
        repo,
        observation,
    }) = observed
    else {
        return Ok(());
    };
    if state
        .config
        .prow
        .tide
        .queries_for_repo(&org, &repo)
        .is_empty()
    {
        return Ok(());
    }
    sync_repo(state, &org, &repo, |index| index.observe(&observation)).await
}

/// What a repository's sync decided, per branch.
#[derive(Debug, Default)]
pub struct RepoReport {
    pub pools: BTreeMap<String, PoolDecision>,
}

/// Applies `observe` to the repository's index, decides its pools and acts. The write of the
/// index (with the decisions and any merge claim) is conditional on the version read; on a
/// conflict everything is re-read and re-decided, so two instances never act on one state.
pub async fn sync_repo(
    state: &TideState,
    org: &str,
    repo: &str,
    observe: impl Fn(&mut RepoIndex) -> bool,
) -> Result<(), TideError> {
    sync_repo_report(state, org, repo, None, observe)
        .await
        .map(|_| ())
}

/// The repository's ProwJobs as index records, by name.
pub type JobRecords = BTreeMap<String, crate::index::JobRecord>;

/// A ProwJob list and when it was made.
#[derive(Debug, Clone)]
pub struct ListedJobs {
    pub records: JobRecords,
    pub at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
}

/// [`sync_repo`], returning the decisions (tests, benchmark). `jobs`, when given, refreshes
/// the index's job records (the resync lists ProwJobs once for every repository).
pub async fn sync_repo_report(
    state: &TideState,
    org: &str,
    repo: &str,
    jobs: Option<&ListedJobs>,
    observe: impl Fn(&mut RepoIndex) -> bool,
) -> Result<RepoReport, TideError> {
    let presubmits = state
        .config
        .presubmits_for(&format!("{org}/{repo}"))
        .map_err(|source| TideError::Config {
            org: org.to_owned(),
            repo: repo.to_owned(),
            source,
        })?;
    // Held through the merges too: Prow's max_goroutines bounds whole pool syncs.
    let _permit = state.syncs.acquire().await.ok();
    let mut fresh = false;
    for _ in 0..CONFLICT_RETRIES {
        let read = if fresh {
            state.store.load_fresh(org, repo).await?
        } else {
            state.store.load(org, repo).await?
        };
        let stored = read.index;
        let mut index = stored.clone();
        observe(&mut index);
        fill_missing_facts(state, &mut index, presubmits).await?;
        match jobs {
            Some(listed) => index.refresh_jobs(&listed.records, &listed.at),
            // A new index learns the repository's jobs once; later, job events keep it current.
            None if read.version.is_none() => index.set_jobs(list_jobs(state, org, repo).await?),
            None => {}
        }
        index.prune_jobs();
        let prowjobs = index.prowjobs();
        let protected = protected_contexts(state, &index).await?;
        let now = state.clock.time();
        let now_text = now.0.to_string();
        let claim_live = index.claim.as_ref().is_some_and(|c| claim_is_live(c, &now));
        let mut report = RepoReport::default();
        for branch in index.branches() {
            let Some(base_sha) = index.base_shas.get(branch) else {
                continue;
            };
            let input = PoolInput {
                org,
                repo,
                branch,
                base_sha,
                prs: index
                    .prs
                    .values()
                    .filter(|p| p.base_ref == branch)
                    .collect(),
                tide: &state.config.prow.tide,
                presubmits,
                protected_contexts: protected.get(branch).map(Vec::as_slice).unwrap_or_default(),
                prowjobs: &prowjobs,
                deck_url: &state.deck_url,
                claimed: claim_live && index.claim.as_ref().is_some_and(|c| c.branch == branch),
                now: now.clone(),
            };
            report
                .pools
                .insert(branch.to_owned(), decide::decide_pool(&input));
        }
        let mut next = index.clone();
        let mut merging = None;
        for (branch, decision) in &report.pools {
            let summary = PoolSummary {
                base_sha: next.base_shas.get(branch).cloned().unwrap_or_default(),
                success_prs: decision.success.clone(),
                pending_prs: decision.pending.clone(),
                missing_prs: decision.missing.clone(),
                batch_pending: decision.batch_pending.clone(),
                action: decision.action.kind.as_str().to_owned(),
                target: decision.action.targets.iter().map(|(n, _)| *n).collect(),
                error: String::new(),
                updated: now_text.clone(),
            };
            next.pools.insert(branch.clone(), summary);
            if merging.is_none() && !decision.action.merges.is_empty() {
                merging = Some(MergeClaim {
                    branch: branch.clone(),
                    prs: decision.action.targets.clone(),
                    at: now_text.clone(),
                });
            }
        }
        if !claim_live || merging.is_some() {
            next.claim = merging;
        }
        // A decision like the last one keeps its time: the summary says when the pool last
        // changed, and an event that changes nothing then leaves the index as it was.
        let mut unchanged_summaries = true;
        for (branch, summary) in next.pools.iter_mut() {
            match index.pools.get(branch) {
                Some(old)
                    if PoolSummary {
                        updated: old.updated.clone(),
                        ..summary.clone()
                    } == *old =>
                {
                    summary.updated = old.updated.clone();
                }
                _ => unchanged_summaries = false,
            }
        }
        let nothing_to_do = report
            .pools
            .values()
            .all(|d| d.statuses.is_empty() && d.action.kind == ActionKind::Wait);
        // Saving nothing new when nothing changed keeps repeated events from writing at all.
        if !(unchanged_summaries && nothing_to_do && next == stored && read.version.is_some()) {
            match state.store.save(&next, read.version.as_deref()).await? {
                Saved::Conflict => {
                    state.metrics.index_conflicts.inc();
                    fresh = true;
                    continue;
                }
                Saved::Written => {
                    state.metrics.index_writes.inc();
                }
            }
        } else if read.cached {
            // Our copy may predate another instance's write, which this event would change:
            // "nothing changed" holds only against the stored index.
            fresh = true;
            continue;
        }
        act(state, org, repo, &report).await?;
        return Ok(report);
    }
    Err(TideError::Contended {
        org: org.to_owned(),
        repo: repo.to_owned(),
    })
}

/// The repository's ProwJobs from the API server, as index records.
async fn list_jobs(
    state: &TideState,
    org: &str,
    repo: &str,
) -> Result<BTreeMap<String, crate::index::JobRecord>, TideError> {
    let jobs = state
        .prowjobs
        .list(Some(&format!("{ORG_LABEL}={org},{REPO_LABEL}={repo}")))
        .await
        .map_err(|source| TideError::Kube {
            target: format!("{org}/{repo}"),
            source,
        })?;
    Ok(jobs
        .iter()
        .filter_map(crate::index::JobRecord::of)
        .collect())
}

fn claim_is_live(
    claim: &MergeClaim,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> bool {
    match claim.at.parse::<k8s_openapi::jiff::Timestamp>() {
        Ok(at) => now.0.as_second() - at.as_second() < CLAIM_TTL_SECONDS,
        Err(_) => false,
    }
}

/// Reads from GitHub what the index lacks: the head of each branch with PRs, and the
/// changed files of PRs when a required job depends on them.
async fn fill_missing_facts(
    state: &TideState,
    index: &mut RepoIndex,
    presubmits: &[prow_core::config::Presubmit],
) -> Result<(), TideError> {
    let (org, repo) = (index.org.clone(), index.repo.clone());
    let branches: Vec<String> = index.branches().into_iter().map(str::to_owned).collect();
    for branch in branches {
        if index.base_shas.contains_key(&branch) {
            continue;
        }
        let sha = state
            .github
            .get_ref(&org, &repo, &format!("heads/{branch}"))
            .await
            .map_err(gh(format!("{org}/{repo}@{branch}")))?;
        index.base_shas.insert(branch, sha);
    }
    if decide::needs_changed_files(presubmits) {
        let numbers: Vec<u64> = index
            .prs
            .values()
            .filter(|p| p.changed_files.is_none())
            .map(|p| p.number)
            .collect();
        for number in numbers {
            let files = state
                .github
                .pull_request_changed_files(&org, &repo, number)
                .await
                .map_err(gh(format!("{org}/{repo}#{number}")))?;
            if let Some(pr) = index.prs.get_mut(&number) {
                pr.changed_files = Some(files);
            }
        }
    }
    Ok(())
}

/// Required contexts of each branch's protection, read only for branches whose context
/// policy says `from-branch-protection`.
async fn protected_contexts(
    state: &TideState,
    index: &RepoIndex,
) -> Result<BTreeMap<String, Vec<String>>, TideError> {
    let mut out = BTreeMap::new();
    for branch in index.branches() {
        let policy =
            state
                .config
                .prow
                .tide
                .context_options
                .for_branch(&index.org, &index.repo, branch);
        if policy.from_branch_protection != Some(true) {
            continue;
        }
        let protection = state
            .github
            .get_branch_protection(&index.org, &index.repo, branch)
            .await
            .map_err(gh(format!("{}/{}@{branch}", index.org, index.repo)))?;
        let contexts = protection
            .map(|p| p.required_contexts().to_vec())
            .unwrap_or_default();
        out.insert(branch.to_owned(), contexts);
    }
    Ok(out)
}

fn status_state(state: ContextState) -> StatusState {
    match state {
        ContextState::Success => StatusState::Success,
        ContextState::Pending => StatusState::Pending,
        ContextState::Failure => StatusState::Failure,
        ContextState::Error => StatusState::Error,
    }
}

/// Carries out the decisions: statuses, then ProwJobs, then merges; then records what was
/// done (statuses written, history, merged PRs gone, the claim released).
async fn act(
    state: &TideState,
    org: &str,
    repo: &str,
    report: &RepoReport,
) -> Result<(), TideError> {
    let mut written: Vec<(u64, String, Context)> = Vec::new();
    let mut records: Vec<(String, HistoryRecord)> = Vec::new();
    let mut merged: Vec<(u64, String, String)> = Vec::new();
    let mut created: Vec<ProwJob> = Vec::new();
    let mut first_error = None;
    for (branch, decision) in &report.pools {
        for update in &decision.statuses {
            let status = NewStatus {
                context: STATUS_CONTEXT.to_owned(),
                state: status_state(update.state),
                description: Some(update.description.clone()),
                target_url: (!update.target_url.is_empty()).then(|| update.target_url.clone()),
            };
            match state
                .github
                .create_status(org, repo, &update.sha, &status)
                .await
            {
                Ok(()) => {
                    state.metrics.statuses.inc();
                    written.push((
                        update.number,
                        update.sha.clone(),
                        Context {
                            state: update.state,
                            description: update.description.clone(),
                        },
                    ));
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    first_error.get_or_insert(gh(format!("{org}/{repo}#{}", update.number))(e));
                }
            }
        }
        let action = &decision.action;
        let base_sha = decision.base_sha.clone();
        let record = |err: String| HistoryRecord {
            time: state.clock.time().0.to_string(),
            action: action.kind.as_str().to_owned(),
            base_sha: base_sha.clone(),
            targets: action.targets.clone(),
            err,
        };
        match action.kind {
            ActionKind::Wait => {}
            ActionKind::Trigger | ActionKind::TriggerBatch => {
                let mut err = String::new();
                for pj in &action.prowjobs {
                    match state.prowjobs.create(pj).await {
                        Ok(prow_kube::Created::New(stored)) => {
                            created.push(stored);
                            state.metrics.prowjobs_created.inc();
                            tracing::info!(name = pj.name(), job = pj.spec.job, %org, %repo, %branch, kind = action.kind.as_str(), "tide created prowjob");
                        }
                        Ok(prow_kube::Created::Existing) => {}
                        Err(source) => {
                            err = format!(
                                "failed to create a ProwJob for job: {:?}: {source}",
                                pj.spec.job
                            );
                            first_error.get_or_insert(TideError::Kube {
                                target: format!("{org}/{repo}@{branch}"),
                                source,
                            });
                            break;
                        }
                    }
                }
                records.push((branch.clone(), record(err)));
            }
            ActionKind::Merge | ActionKind::MergeBatch => {
                let outcome = merge_all(state, org, repo, &action.merges).await;
                for (number, sha) in &outcome.merged {
                    merged.push((*number, branch.clone(), sha.clone()));
                }
                let err = outcome.history_message(&action.merges);
                if let Some(e) = outcome.transport_error {
                    first_error.get_or_insert(e);
                }
                records.push((branch.clone(), record(err)));
            }
        }
    }
    if !written.is_empty() || !records.is_empty() || !merged.is_empty() {
        let results = Results {
            written: &written,
            records: &records,
            merged: &merged,
            created: &created,
        };
        record_results(state, org, repo, &results).await?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Default)]
struct MergeResults {
    merged: Vec<(u64, String)>,
    /// Per PR, the error in Prow's words (`userFacing` ones).
    failures: Vec<(u64, String)>,
    transport_error: Option<TideError>,
}

impl MergeResults {
    /// Prow's `mergeFailure.historyMessage`; empty when all merged.
    fn history_message(&self, plans: &[MergePlan]) -> String {
        if self.failures.is_empty() {
            return String::new();
        }
        let failed: Vec<String> = self.failures.iter().map(|(n, _)| n.to_string()).collect();
        let mut batch = String::new();
        if plans.len() > 1 {
            let all: Vec<String> = plans.iter().map(|p| p.number.to_string()).collect();
            batch = format!(" from batch [{}]", all.join(" "));
            if !self.merged.is_empty() {
                let done: Vec<String> = self.merged.iter().map(|(n, _)| n.to_string()).collect();
                batch = format!("{batch}, partial merge [{}]", done.join(" "));
            }
        }
        let msgs: Vec<String> = self
            .failures
            .iter()
            .map(|(n, e)| format!("#{n}: {e}"))
            .collect();
        format!(
            "failed merging [{}]{batch}: {}",
            failed.join(" "),
            msgs.join("; ")
        )
    }
}

/// Prow's `mergePRs` + `tryMerge`: each PR with its expected head; "base branch was
/// modified" is retried with backoff, a moved head or an unmergeable PR is skipped, and a
/// refusal that will hit every PR (no push rights, merge commits forbidden) stops the rest.
async fn merge_all(state: &TideState, org: &str, repo: &str, plans: &[MergePlan]) -> MergeResults {
    let mut results = MergeResults::default();
    for (i, plan) in plans.iter().enumerate() {
        let request = MergeRequest {
            sha: Some(plan.sha.clone()),
            merge_method: Some(match plan.method {
                prow_core::config::MergeMethod::Squash => prow_github::MergeMethod::Squash,
                prow_core::config::MergeMethod::Rebase => prow_github::MergeMethod::Rebase,
                _ => prow_github::MergeMethod::Merge,
            }),
            commit_title: plan.title.clone(),
            commit_message: plan.message.clone(),
        };
        let mut backoff = state.merge_backoff;
        let mut keep_going = true;
        let mut outcome = None;
        for attempt in 1..=MERGE_ATTEMPTS {
            match state
                .github
                .merge_pull_request(org, repo, plan.number, &request)
                .await
            {
                Ok(MergeOutcome::BaseBranchModified { message }) if attempt < MERGE_ATTEMPTS => {
                    tracing::info!(%org, %repo, pr = plan.number, %message, "base branch was modified; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        match outcome {
            Some(Ok(MergeOutcome::Merged { sha })) => {
                state.metrics.merges.inc();
                tracing::info!(%org, %repo, pr = plan.number, head = plan.sha, merge_sha = %sha, "merged");
                results.merged.push((plan.number, sha));
            }
            Some(Ok(MergeOutcome::HeadModified { message })) => {
                results
                    .failures
                    .push((plan.number, format!("PR was modified: {message}")));
            }
            Some(Ok(MergeOutcome::BaseBranchModified { message })) => {
                results
                    .failures
                    .push((plan.number, format!("base branch was modified: {message}")));
            }
            Some(Ok(MergeOutcome::UnauthorizedToPush { message })) => {
                results.failures.push((
                    plan.number,
                    format!("branch needs to be configured to allow this robot to push: {message}"),
                ));
                keep_going = false;
            }
            Some(Ok(MergeOutcome::MergeCommitsForbidden { message })) => {
                results.failures.push((plan.number, format!("Tide needs to be configured to use the 'rebase' merge method for this repo or the repo needs to allow merge commits: {message}")));
                keep_going = false;
            }
            Some(Ok(MergeOutcome::NotMergeable { message })) => {
                results.failures.push((plan.number, format!("PR is unmergable. Do the Tide merge requirements match the GitHub settings for the repo? {message}")));
            }
            Some(Err(e)) => {
                results
                    .failures
                    .push((plan.number, "merge error (contact Prow admin)".to_owned()));
                results
                    .transport_error
                    .get_or_insert(gh(format!("{org}/{repo}#{}", plan.number))(e));
            }
            None => {}
        }
        if !keep_going {
            break;
        }
        if i + 1 < plans.len() {
            // Prow waits for GitHub to recompute mergeability between merges of a batch.
            tokio::time::sleep(state.merge_backoff).await;
        }
    }
    if !results.failures.is_empty() {
        state.metrics.merge_failures.inc();
    }
    results
}

/// Records what was done in the index: our statuses as the PRs' `tide` context, history,
/// merged PRs gone (their branch moved to the merge commit), the claim released.
struct Results<'a> {
    written: &'a [(u64, String, Context)],
    records: &'a [(String, HistoryRecord)],
    merged: &'a [(u64, String, String)],
    created: &'a [ProwJob],
}

async fn record_results(
    state: &TideState,
    org: &str,
    repo: &str,
    results: &Results<'_>,
) -> Result<(), TideError> {
    let Results {
        written,
        records,
        merged,
        created,
    } = results;
    for _ in 0..CONFLICT_RETRIES {
        let read = state.store.load(org, repo).await?;
        let mut index = read.index;
        for pj in created.iter() {
            if let Some((name, record)) = crate::index::JobRecord::of(pj) {
                index.jobs.insert(name, record);
            }
        }
        for (number, sha, context) in written.iter() {
            if let Some(pr) = index.prs.get_mut(number).filter(|p| &p.head_sha == sha) {
                pr.contexts
                    .insert(STATUS_CONTEXT.to_owned(), context.clone());
            }
        }
        for (branch, record) in records.iter() {
            index.record(branch, record.clone());
        }
        let mut merged_branches = BTreeSet::new();
        for (number, branch, sha) in merged.iter() {
            index.remember_merged(*number);
            index.base_shas.insert(branch.clone(), sha.clone());
            merged_branches.insert(branch.clone());
        }
        if index.claim.as_ref().is_some_and(|c| {
            merged_branches.contains(&c.branch) || records.iter().any(|(b, _)| b == &c.branch)
        }) {
            index.claim = None;
        }
        match state.store.save(&index, read.version.as_deref()).await? {
            Saved::Written => {
                state.metrics.index_writes.inc();
                return Ok(());
            }
            Saved::Conflict => {
                state.metrics.index_conflicts.inc();
            }
        }
    }
    Err(TideError::Contended {
        org: org.to_owned(),
        repo: repo.to_owned(),
    })
}

/// The safety net: re-reads every open PR in the queries' scope from GitHub (search, then
/// each PR, its statuses and check runs, and each branch head), replaces what the indexes
/// knew about them, and syncs every repository.
pub async fn resync(state: &TideState) -> Result<usize, TideError> {
    let tide = &state.config.prow.tide;
    let mut scopes: BTreeSet<String> = BTreeSet::new();
    for q in &tide.queries {
        let mut terms = vec![
            "is:pr".to_owned(),
            "state:open".to_owned(),
            "archived:false".to_owned(),
        ];
        terms.extend(q.orgs.iter().map(|o| format!("org:\"{o}\"")));
        terms.extend(q.repos.iter().map(|r| format!("repo:\"{r}\"")));
        terms.extend(q.excluded_repos.iter().map(|r| format!("-repo:\"{r}\"")));
        scopes.insert(terms.join(" "));
    }
    let mut open: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for query in &scopes {
        let items = state
            .github
            .search_issues(query)
            .await
            .map_err(gh(format!("search {query}")))?;
        for item in items.iter().filter(|i| i.is_pull_request()) {
            let Some((org, repo)) = item
                .repository()
                .and_then(|r| r.split_once('/').map(|(o, r)| (o.to_owned(), r.to_owned())))
            else {
                continue;
            };
            if !tide.queries_for_repo(&org, &repo).is_empty() {
                open.entry((org, repo)).or_default().insert(item.number);
            }
        }
    }
    for index in state.store.list().await? {
        open.entry((index.org, index.repo)).or_default();
    }
    // One list for every repository: a list per repository makes the API server read every
    // ProwJob once per repository.
    let listed_at = state.clock.time();
    let mut jobs: BTreeMap<(String, String), JobRecords> = BTreeMap::new();
    for pj in state
        .prowjobs
        .list(None)
        .await
        .map_err(|source| TideError::Kube {
            target: "prowjobs".to_owned(),
            source,
        })?
    {
        let Some(refs) = pj.spec.refs.as_ref() else {
            continue;
        };
        let key = (refs.org.clone(), refs.repo.clone());
        if let Some((name, record)) = crate::index::JobRecord::of(&pj) {
            jobs.entry(key).or_default().insert(name, record);
        }
    }
    let total = open.len();
    // Repositories re-read in parallel, at most max_goroutines at once (each then waits for a
    // sync permit like any event), as Prow syncs its pools.
    let reads = std::sync::Arc::new(tokio::sync::Semaphore::new(state.max_syncs()));
    let mut tasks = tokio::task::JoinSet::new();
    for ((org, repo), numbers) in open {
        let (state, reads) = (state.clone(), reads.clone());
        let jobs = ListedJobs {
            records: jobs
                .remove(&(org.clone(), repo.clone()))
                .unwrap_or_default(),
            at: listed_at.clone(),
        };
        tasks.spawn(async move {
            let _permit = reads.acquire_owned().await.ok();
            let result = resync_repo(&state, &org, &repo, &numbers, &jobs).await;
            (org, repo, result)
        });
    }
    let (mut failed, mut first) = (0, None);
    while let Some(joined) = tasks.join_next().await {
        let (org, repo, result) = match joined {
            Ok(done) => done,
            // Nothing cancels these tasks: a join error is a panic, which stays one.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        if let Err(e) = result {
            tracing::warn!(%org, %repo, error = %e, "resync failed");
            failed += 1;
            first.get_or_insert(e);
        }
    }
    match first {
        Some(first) => Err(TideError::Resync {
            failed,
            total,
            first: Box::new(first),
        }),
        None => Ok(total),
    }
}

async fn resync_repo(
    state: &TideState,
    org: &str,
    repo: &str,
    numbers: &BTreeSet<u64>,
    jobs: &ListedJobs,
) -> Result<(), TideError> {
    let mut fresh = BTreeMap::new();
    for &number in numbers {
        let target = format!("{org}/{repo}#{number}");
        let pr = state
            .github
            .get_pull_request(org, repo, number)
            .await
            .map_err(gh(target.clone()))?;
        let mut facts = observe::facts_of(&pr);
        for status in state
            .github
            .combined_status(org, repo, &pr.head.sha)
            .await
            .map_err(gh(target.clone()))?
        {
            let state = match status.state {
                StatusState::Success => ContextState::Success,
                StatusState::Pending => ContextState::Pending,
                StatusState::Failure => ContextState::Failure,
                StatusState::Error => ContextState::Error,
            };
            facts.contexts.insert(
                status.context,
                Context {
                    state,
                    description: status.description.unwrap_or_default(),
                },
            );
        }
        for run in state
            .github
            .list_check_runs(org, repo, &pr.head.sha)
            .await
            .map_err(gh(target.clone()))?
        {
            facts.contexts.insert(
                run.name,
                Context {
                    state: ContextState::of_check_run(&run.status, run.conclusion.as_deref()),
                    description: String::new(),
                },
            );
        }
        fresh.insert(number, facts);
    }
    let mut heads = BTreeMap::new();
    let branches: BTreeSet<String> = fresh
        .values()
        .map(|p: &crate::index::PrFacts| p.base_ref.clone())
        .collect();
    for branch in branches {
        let sha = state
            .github
            .get_ref(org, repo, &format!("heads/{branch}"))
            .await
            .map_err(gh(format!("{org}/{repo}@{branch}")))?;
        heads.insert(branch, sha);
    }
    sync_repo_report(state, org, repo, Some(jobs), move |index| {
        let before = index.clone();
        let mut prs = fresh.clone();
        for (number, pr) in prs.iter_mut() {
            // Keep what only events tell (reviews) and what GitHub cannot list (changed files).
            if let Some(known) = index.prs.get(number) {
                pr.reviews = known.reviews.clone();
                if known.head_sha == pr.head_sha {
                    pr.changed_files = known.changed_files.clone();
                }
            }
        }
        prs.retain(|number, _| !index.merged.contains(number));
        index.prs = prs;
        index.base_shas.extend(heads.clone());
        *index != before
    })
    .await
    .map(|_| ())
}

/// Merge backoff Prow uses (4 s, doubling).
pub const DEFAULT_MERGE_BACKOFF: Duration = Duration::from_secs(4);
