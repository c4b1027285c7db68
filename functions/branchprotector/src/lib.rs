//! prow-branchprotector: on each PingSource tick, makes GitHub's branch protection match
//! `branch-protection:` in config.yaml, as Prow's branchprotector does in one run.
//!
//! Stateless: every tick walks the configured orgs, repos and branches again and compares
//! GitHub's protection with the policy ([`decide`]); only differences are written, at most
//! `--budget` writes per tick, so what one tick leaves is picked up by the next.

pub mod decide;
pub mod metrics;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use prow_core::config::Config;
use prow_core::config::branch_protection::RepoPolicy;
use prow_github::{GitHub, GitHubError, OrgRepo};
use prow_runtime::LiveConfig;

use crate::decide::{Action, BranchInput, BranchPlan, Desired};
use crate::metrics::{BranchResult, Metrics};

/// Ping payloads are tiny; anything bigger is not a PingSource event.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Writes one tick makes at most by default.
const DEFAULT_BUDGET: usize = 100;

/// Why branchprotector could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading Prow config: {0}")]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
}

/// Flags of the branchprotector binary and of `prow serve branchprotector`; each also from env.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Protection changes (PUT or DELETE) one tick makes at most; the rest wait for the next.
    #[arg(long, env = "BRANCHPROTECTOR_BUDGET", default_value_t = DEFAULT_BUDGET)]
    pub budget: usize,
    /// Allow `restrictions.apps` (Prow's --enable-apps-restrictions; the token must be an app's).
    #[arg(long, env = "ENABLE_APPS_RESTRICTIONS")]
    pub enable_apps_restrictions: bool,
    /// Log the plan as a diff per branch and write nothing.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Everything the branchprotector router needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct BranchProtectorState {
    pub config: LiveConfig,
    pub github: Arc<dyn GitHub>,
    /// Writes per tick at most.
    pub budget: usize,
    pub enable_apps_restrictions: bool,
    /// Plan only: nothing is written.
    pub dry_run: bool,
    pub metrics: Arc<Metrics>,
}

impl BranchProtectorState {
    pub fn new(config: LiveConfig, github: Arc<dyn GitHub>) -> Self {
        Self {
            config,
            github,
            budget: DEFAULT_BUDGET,
            enable_apps_restrictions: false,
            dry_run: false,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// Builds the router from flags: loads the config (followed as it changes) and connects to
/// GitHub (reads only, writes recorded, on `--dry-run`).
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let config = flags.config.load_live(None)?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let mut state = BranchProtectorState::new(config, github);
    state.budget = flags.budget;
    state.enable_apps_restrictions = flags.enable_apps_restrictions;
    state.dry_run = flags.dry_run;
    Ok(router(state))
}

/// `POST /` takes the ping CloudEvent; `/healthz` and `/metrics` for the platform.
pub fn router(state: BranchProtectorState) -> Router {
    prow_runtime::tick_router(state, MAX_EVENT_BYTES)
}

/// Answers 200 once the walk is done, even when some branches failed (they are logged and
/// counted, and the next tick tries again); 500 only when GitHub could not be read at all.
impl prow_runtime::TickFunction for BranchProtectorState {
    const NAME: &'static str = "branchprotector";
    type Report = TickReport;
    type Error = TickError;

    fn tick(&self) -> impl Future<Output = Result<TickReport, TickError>> + Send {
        tick(self)
    }

    fn ticks(&self) -> &prow_runtime::TickCounter {
        &self.metrics.ticks
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}

/// What one tick did, branch by branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Branches whose policy was compared with GitHub.
    pub checked: usize,
    pub unchanged: usize,
    pub updated: usize,
    pub removed: usize,
    /// Branches left alone by the config (unmanaged, no policy, already unprotected).
    pub skipped: usize,
    /// Branches (or whole repos) that could not be planned or written.
    pub failed: usize,
    /// Changes left for a later tick by the budget.
    pub deferred: usize,
    /// On `--dry-run`, every planned change rendered as a diff.
    pub plan: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("no configured org could be listed on GitHub; first error: {0}")]
    Unreachable(#[source] GitHubError),
}

/// A repo to walk: its org, name and merged policy.
struct RepoTarget {
    org: String,
    repo: String,
    policy: RepoPolicy,
}

/// Collects failures as they happen: logged, counted, and kept out of the answer.
struct Walk<'a> {
    state: &'a BranchProtectorState,
    report: TickReport,
}

impl Walk<'_> {
    fn fail(&mut self, what: &str, error: &dyn std::fmt::Display) {
        tracing::warn!(subject = what, error = %error, "branchprotector failed");
        self.state.metrics.branch(BranchResult::Failed);
        self.report.failed += 1;
    }
}

/// Walks the config, reads GitHub, plans and applies (or on `--dry-run` logs) the changes.
pub async fn tick(state: &BranchProtectorState) -> Result<TickReport, TickError> {
    let config = state.config.current();
    let mut walk = Walk {
        state,
        report: TickReport::default(),
    };
    let targets = match targets(&mut walk, &config).await? {
        Some(targets) => targets,
        None => return Ok(walk.report),
    };
    let mut pending = Vec::new();
    for target in &targets {
        plan_repo(&mut walk, &config, target, &mut pending).await;
    }
    apply(&mut walk, pending).await;
    Ok(walk.report)
}

/// The repos to walk, as Prow's `protect`: every configured org (all its repos when the org
/// sets `protect`, else the repos it lists), then with `protect-tested-repos` every repo with
/// presubmits. `None` when the whole section is unmanaged.
async fn targets(
    walk: &mut Walk<'_>,
    config: &Config,
) -> Result<Option<Vec<RepoTarget>>, TickError> {
    let bp = &config.prow.branch_protection;
    if bp.policy.is_unmanaged()
        && !bp.has_managed_orgs()
        && !bp.has_managed_repos()
        && !bp.has_managed_branches()
    {
        tracing::warn!("branch-protection has global unmanaged: true, nothing to do");
        return Ok(None);
    }
    let github = &walk.state.github;
    let mut listings: HashMap<String, Result<Vec<OrgRepo>, String>> = HashMap::new();
    let mut first_error = None;
    let mut listed_any = false;
    let mut wanted_orgs: BTreeSet<&str> = bp.orgs.keys().map(String::as_str).collect();
    if bp.protect_tested_repos == Some(true) {
        wanted_orgs.extend(
            config
                .presubmits
                .keys()
                .filter_map(|k| k.split_once('/'))
                .map(|(o, _)| o),
        );
    }
    for org in wanted_orgs {
        match github.list_org_repos(org).await {
            Ok(repos) => {
                listed_any = true;
                listings.insert(org.to_owned(), Ok(repos));
            }
            Err(err) => {
                listings.insert(org.to_owned(), Err(err.to_string()));
                first_error.get_or_insert(err);
            }
        }
    }
    if let (false, Some(err)) = (listed_any, first_error) {
        return Err(TickError::Unreachable(err));
    }
    let mut targets = Vec::new();
    let mut done = BTreeSet::new();
    let mut add = |walk: &mut Walk<'_>, org: &str, repo: &str, policy: RepoPolicy| {
        if !done.insert(format!("{org}/{repo}")) {
            return;
        }
        match listings.get(org) {
            Some(Ok(listing)) => match listing.iter().find(|r| r.name == repo) {
                Some(found) if decide::skip_repo(found) => {}
                Some(_) => targets.push(RepoTarget {
                    org: org.to_owned(),
                    repo: repo.to_owned(),
                    policy,
                }),
                None => walk.fail(&format!("{org}/{repo}"), &"no such repository"),
            },
            Some(Err(err)) => walk.fail(&format!("{org}/{repo}"), err),
            None => {}
        }
    };
    for org_name in bp.orgs.keys() {
        let org = bp.org(org_name);
        if org.policy.is_unmanaged() && !org.has_managed_repos() && !org.has_managed_branches() {
            continue;
        }
        let names: Vec<String> = if org.policy.protect.is_some() {
            match listings.get(org_name.as_str()) {
                Some(Ok(listing)) => listing.iter().map(|r| r.name.clone()).collect(),
                Some(Err(err)) => {
                    walk.fail(org_name, err);
                    continue;
                }
                None => continue,
            }
        } else {
            org.repos.keys().cloned().collect()
        };
        for name in names {
            add(walk, org_name, &name, org.repo(&name));
        }
    }
    if bp.protect_tested_repos == Some(true) {
        for key in config.presubmits.keys() {
            if let Some((org, repo)) = key.split_once('/') {
                add(walk, org, repo, bp.org(org).repo(repo));
            }
        }
    }
    Ok(Some(targets))
}

/// Plans every selected branch of one repo (Prow's `UpdateRepo` and `UpdateBranch`).
async fn plan_repo(
    walk: &mut Walk<'_>,
    config: &Config,
    target: &RepoTarget,
    pending: &mut Vec<BranchPlan>,
) {
    let (org, repo) = (target.org.as_str(), target.repo.as_str());
    let full = format!("{org}/{repo}");
    if target.policy.policy.is_unmanaged() && !target.policy.has_managed_branches() {
        return;
    }
    let presubmits = match config.presubmits_for(&full) {
        Ok(jobs) => jobs,
        Err(err) => return walk.fail(&full, &err),
    };
    let branches = match walk.state.github.list_branches(org, repo).await {
        Ok(branches) => branches,
        Err(err) => return walk.fail(&full, &err),
    };
    let selected = match decide::select_branches(&target.policy, &branches) {
        Ok(selected) => selected,
        Err(err) => return walk.fail(&full, &err),
    };
    let bp = &config.prow.branch_protection;
    for branch in selected {
        let name = format!("{full}={}", branch.name);
        let input = BranchInput {
            org,
            repo,
            branch: &branch.name,
            protected: branch.protected,
            presubmits,
            enable_apps_restrictions: walk.state.enable_apps_restrictions,
        };
        let desired = match decide::desired(bp, &target.policy, input) {
            Ok(Desired::Skip(why)) => {
                tracing::debug!(branch = %name, why, "left alone");
                walk.state.metrics.branch(BranchResult::Skipped);
                walk.report.skipped += 1;
                continue;
            }
            Ok(desired) => desired,
            Err(err) => {
                walk.fail(&name, &err);
                continue;
            }
        };
        let current = match walk
            .state
            .github
            .get_branch_protection(org, repo, &branch.name)
            .await
        {
            Ok(current) => current,
            Err(err) => {
                walk.fail(&name, &err);
                continue;
            }
        };
        walk.report.checked += 1;
        walk.state.metrics.checked();
        match decide::plan_branch((org, repo, &branch.name), &desired, current.as_ref()) {
            Some(plan) => pending.push(plan),
            None => {
                walk.state.metrics.branch(BranchResult::Unchanged);
                walk.report.unchanged += 1;
            }
        }
    }
}

/// Applies the plan within the budget, starting at a place that moves with the clock so that
/// branches failing on every tick cannot starve the rest.
async fn apply(walk: &mut Walk<'_>, mut pending: Vec<BranchPlan>) {
    if walk.state.dry_run {
        for plan in pending {
            let text = plan.render();
            tracing::info!(plan = %text, "dry run: branch protection not changed");
            walk.state.metrics.branch(BranchResult::DryRun);
            walk.report.plan.push(text);
        }
        return;
    }
    if pending.len() > walk.state.budget {
        let minutes = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or_default();
        let start = usize::try_from(minutes).unwrap_or_default() % pending.len();
        pending.rotate_left(start);
    }
    let deferred = pending.split_off(pending.len().min(walk.state.budget));
    for plan in pending {
        let (org, repo, branch) = (&plan.org, &plan.repo, &plan.branch);
        let name = format!("{org}/{repo}={branch}");
        let result = match &plan.action {
            Action::Update(request) => walk
                .state
                .github
                .update_branch_protection(org, repo, branch, request)
                .await
                .map(|()| BranchResult::Updated),
            Action::Remove => walk
                .state
                .github
                .remove_branch_protection(org, repo, branch)
                .await
                .map(|()| BranchResult::Removed),
            Action::Keep => Ok(BranchResult::Updated),
        };
        // Signatures need the protection in place: only after the update went through.
        let result = match (result, plan.signed_commits) {
            (Ok(BranchResult::Updated), Some(required)) => walk
                .state
                .github
                .set_required_signatures(org, repo, branch, required)
                .await
                .map(|()| BranchResult::Updated),
            (result, _) => result,
        };
        match result {
            Ok(done) => {
                tracing::info!(plan = %plan.render(), "branch protection changed");
                walk.state.metrics.branch(done);
                if done == BranchResult::Removed {
                    walk.report.removed += 1;
                } else {
                    walk.report.updated += 1;
                }
            }
            Err(err) => walk.fail(&name, &err),
        }
    }
    for plan in &deferred {
        tracing::info!(branch = %format!("{}/{}={}", plan.org, plan.repo, plan.branch), "over budget, left for the next tick");
        walk.state.metrics.branch(BranchResult::Deferred);
    }
    walk.report.deferred += deferred.len();
}
