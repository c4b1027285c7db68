//! prow-status-reconciler: when the presubmits in the config change, open PRs get the newly
//! required jobs triggered and the contexts of removed jobs retired, as Prow's
//! status-reconciler does.
//!
//! Prow's keeps the previous config in memory (and in a file for restarts) and reacts to each
//! change. A function that scales to zero has no previous config, so on each PingSource tick it
//! compares the current presubmits with the set it last reconciled, kept in a ConfigMap it owns
//! ([`store`]); the plan is a pure function ([`decide`]). The first tick only stores the set, as
//! Prow does on start. A tick spends at most `--budget` GitHub calls; a repo cut short is
//! continued by the next tick from the PR it reached. ProwJob names derive from the PR, its head
//! and the repo's new presubmits, so a repeated tick creates nothing twice, and a context
//! retired already is not written again.

pub mod decide;
pub mod metrics;
pub mod store;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use prow_core::clock::Clock;
use prow_core::config::{Config, Presubmit};
use prow_core::naming::prowjob_name;
use prow_core::selection::{Filter, needs_changed_files, select_presubmits};
use prow_github::{GitHub, GitHubError, PullRequest, PullRequestQuery};
use prow_kube::{Created, KubeOptions, ProwJobs};
use prow_runtime::LiveConfig;
use prow_trigger::decide::{JobContext, pr_refs, presubmit_prowjobs};
use prow_trigger::messages::OK_TO_TEST;
use prow_trigger::payload::{Owner, Repo};

use crate::decide::{Denylist, JobSet, RepoPlan};
use crate::metrics::{Done, Metrics, RepoResult};
use crate::store::{Progress, Store, StoreError, Stored};

/// Ping payloads are tiny; anything bigger is not a PingSource event.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// GitHub calls one tick makes at most by default.
const DEFAULT_BUDGET: usize = 1000;
/// The ConfigMap holding the reconciled presubmits, by default.
pub const DEFAULT_CONFIGMAP: &str = "status-reconciler";

/// Why status-reconciler could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading Prow config: {0}")]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    Kube(#[from] prow_kube::KubeError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
}

/// Flags of the binary and of `prow serve status-reconciler`; each also from env.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    /// plugins.yaml: trigger's trust settings per repo (who may have PRs tested).
    #[arg(long = "plugin-config", env = "PLUGIN_CONFIG")]
    pub plugin_config: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeOptions,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Org or org/repo whose added presubmits are not triggered (removed ones are still
    /// retired); repeat or separate with commas.
    #[arg(long, env = "DENYLIST", value_delimiter = ',')]
    pub denylist: Vec<String>,
    /// Org or org/repo not reconciled at all; repeat or separate with commas.
    #[arg(long, env = "DENYLIST_ALL", value_delimiter = ',')]
    pub denylist_all: Vec<String>,
    /// GitHub calls one tick makes at most; the rest wait for the next tick.
    #[arg(long, env = "STATUS_RECONCILER_BUDGET", default_value_t = DEFAULT_BUDGET)]
    pub budget: usize,
    /// The ConfigMap (in the ProwJob namespace) holding the presubmits last reconciled.
    #[arg(long, env = "STATUS_CONFIGMAP", default_value = DEFAULT_CONFIGMAP)]
    pub status_configmap: String,
    /// Log what would be done; create no ProwJob, write no status and store nothing.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Everything the router needs; cheap to clone.
#[derive(Clone)]
pub struct StatusReconcilerState {
    pub config: LiveConfig,
    pub client: kube::Client,
    pub github: Arc<dyn GitHub>,
    pub denylist: Denylist,
    /// GitHub calls per tick at most.
    pub budget: usize,
    pub configmap: String,
    pub dry_run: bool,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for StatusReconcilerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusReconcilerState")
            .field("configmap", &self.configmap)
            .field("budget", &self.budget)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl StatusReconcilerState {
    pub fn new(config: LiveConfig, client: kube::Client, github: Arc<dyn GitHub>) -> Self {
        Self {
            config,
            client,
            github,
            denylist: Denylist::default(),
            budget: DEFAULT_BUDGET,
            configmap: DEFAULT_CONFIGMAP.to_owned(),
            dry_run: false,
            clock: Clock::system(),
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// Builds the router from flags: loads the config (followed as it changes), connects to
/// Kubernetes and GitHub.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let config = flags.config.load_live(flags.plugin_config)?;
    let client = prow_kube::client(&flags.kube).await?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let mut state = StatusReconcilerState::new(config, client, github);
    state.denylist = Denylist {
        added: flags.denylist.into_iter().collect(),
        all: flags.denylist_all.into_iter().collect(),
    };
    state.budget = flags.budget;
    state.configmap = flags.status_configmap;
    state.dry_run = flags.dry_run;
    Ok(router(state))
}

/// `POST /` takes the ping CloudEvent; `/healthz` and `/metrics` for the platform.
pub fn router(state: StatusReconcilerState) -> Router {
    prow_runtime::tick_router(state, MAX_EVENT_BYTES)
}

/// Answers 200 once the tick is done, even when some repos failed (logged, counted, and tried
/// again next tick); 500 when the config or the stored set could not be read or written.
impl prow_runtime::TickFunction for StatusReconcilerState {
    const NAME: &'static str = "status-reconciler";
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

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// No set was stored yet: the current one was stored and nothing else done.
    pub first_run: bool,
    /// Repos whose presubmits changed in a way that needs work on PRs.
    pub planned: usize,
    pub repos_done: usize,
    pub repos_failed: usize,
    /// Repos left for the next tick by the budget.
    pub repos_deferred: usize,
    /// ProwJobs created.
    pub triggered: usize,
    /// ProwJobs that existed already (a repeated tick).
    pub existing: usize,
    pub retired: usize,
    pub copied: usize,
    pub github_calls: usize,
    /// Whether the ConfigMap was written.
    pub stored: bool,
    /// On `--dry-run`, each write that would have been made.
    pub dry_run: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("reading the presubmits of {repo} from the config: {source}")]
    Config {
        repo: String,
        #[source]
        source: prow_core::config::SectionError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One tick: plan from the stored and the current presubmits, act within the budget, store
/// what is reconciled now.
pub async fn tick(state: &StatusReconcilerState) -> Result<TickReport, TickError> {
    let config = state.config.current();
    let current = remember(&config)?;
    let store = Store::new(
        state.client.clone(),
        &config.prow.prowjob_namespace,
        &state.configmap,
    );
    let (stored, version) = store.load().await?;
    let mut run = Run {
        state,
        config: &config,
        prowjobs: ProwJobs::new(state.client.clone(), &config.prow.prowjob_namespace),
        report: TickReport::default(),
        bot: None,
        prs: 0,
    };
    let Some(stored) = stored else {
        // Prow's reconciler starts from the config it finds: nothing is known to have changed.
        run.report.first_run = true;
        if !state.dry_run {
            let bytes = store
                .save(
                    &Stored {
                        presubmits: current,
                        progress: None,
                    },
                    version.as_deref(),
                )
                .await?;
            tracing::info!(bytes, "first run: stored the current presubmits");
            run.report.stored = true;
        }
        return Ok(run.report);
    };
    let plans = decide::plan(&stored.presubmits, &current, &state.denylist);
    run.report.planned = plans.len();
    let mut unfinished = BTreeSet::new();
    let mut progress = None;
    for plan in &plans {
        if progress.is_some() {
            unfinished.insert(plan.repo.clone());
            state.metrics.repo(RepoResult::Deferred);
            run.report.repos_deferred += 1;
            continue;
        }
        let jobs = current.get(&plan.repo).map(Vec::as_slice).unwrap_or(&[]);
        let fingerprint = decide::fingerprint(jobs);
        let resume = stored
            .progress
            .as_ref()
            .filter(|p| p.repo == plan.repo && p.fingerprint == fingerprint)
            .map_or(0, |p| p.done_through);
        match run.repo(plan, &fingerprint, resume).await {
            Outcome::Done => {
                state.metrics.repo(RepoResult::Done);
                run.report.repos_done += 1;
            }
            Outcome::Failed => {
                unfinished.insert(plan.repo.clone());
                state.metrics.repo(RepoResult::Failed);
                run.report.repos_failed += 1;
            }
            Outcome::OutOfBudget { done_through } => {
                tracing::info!(repo = %plan.repo, done_through, "budget spent, the next tick goes on from here");
                unfinished.insert(plan.repo.clone());
                state.metrics.repo(RepoResult::Deferred);
                run.report.repos_deferred += 1;
                progress = Some(Progress {
                    repo: plan.repo.clone(),
                    fingerprint,
                    done_through,
                });
            }
        }
    }
    state.metrics.github_calls(run.report.github_calls);
    if state.dry_run {
        return Ok(run.report);
    }
    // Repos not finished keep their old presubmits, so the next tick plans them again.
    let mut next = current;
    for repo in &unfinished {
        match stored.presubmits.get(repo) {
            Some(old) => next.insert(repo.clone(), old.clone()),
            None => next.remove(repo),
        };
    }
    let next = Stored {
        presubmits: next,
        progress,
    };
    if next != stored {
        store.save(&next, version.as_deref()).await?;
        run.report.stored = true;
    }
    Ok(run.report)
}

fn remember(config: &Config) -> Result<JobSet, TickError> {
    decide::remember(config).map_err(|source| TickError::Config {
        repo: "*".to_owned(),
        source,
    })
}

enum Outcome {
    Done,
    Failed,
    OutOfBudget { done_through: u64 },
}

/// One tick's work in progress.
struct Run<'a> {
    state: &'a StatusReconcilerState,
    config: &'a Config,
    prowjobs: ProwJobs,
    report: TickReport,
    /// The bot's login, read once a tick when trust is first checked.
    bot: Option<String>,
    /// PRs reconciled (or tried) this tick.
    prs: usize,
}

/// The failure of one PR, for the log.
#[derive(Debug, thiserror::Error)]
enum PrError {
    #[error("GitHub: {0}")]
    GitHub(#[from] GitHubError),
    #[error("creating a ProwJob: {0}")]
    Kube(#[from] prow_kube::KubeError),
}

impl Run<'_> {
    fn can_spend(&self, calls: usize) -> bool {
        // The first PR of a tick goes ahead whatever it costs, so a tiny budget still makes
        // progress.
        self.prs == 0 || self.report.github_calls + calls <= self.state.budget
    }

    fn spend(&mut self, calls: usize) {
        self.report.github_calls += calls;
    }

    async fn repo(&mut self, plan: &RepoPlan, fingerprint: &str, resume: u64) -> Outcome {
        let Some((org, name)) = plan.repo.split_once('/') else {
            tracing::warn!(repo = %plan.repo, "not an org/repo; skipped");
            return Outcome::Done;
        };
        let presubmits = match self.config.presubmits_for(&plan.repo) {
            Ok(jobs) => jobs,
            Err(err) => {
                tracing::warn!(repo = %plan.repo, error = %err, "presubmits do not decode");
                return Outcome::Failed;
            }
        };
        let to_trigger: Vec<Presubmit> = plan
            .trigger
            .iter()
            .filter_map(|&i| presubmits.get(i).cloned())
            .collect();
        if !self.can_spend(1) {
            return Outcome::OutOfBudget {
                done_through: resume,
            };
        }
        self.spend(1);
        let mut prs = match self
            .state
            .github
            .list_pull_requests(org, name, &PullRequestQuery::open())
            .await
        {
            Ok(prs) => prs,
            // A repo gone from GitHub has no PR waiting on anything.
            Err(err) if err.status() == Some(404) => {
                tracing::info!(repo = %plan.repo, "repo not found on GitHub; nothing to reconcile");
                return Outcome::Done;
            }
            Err(err) => {
                tracing::warn!(repo = %plan.repo, error = %err, "listing open PRs failed");
                return Outcome::Failed;
            }
        };
        prs.sort_by_key(|pr| pr.number);
        let cost = decide::pr_cost(plan);
        let mut base_shas = HashMap::new();
        let mut done_through = resume;
        let mut failed = false;
        for pr in prs.iter().filter(|pr| pr.number > resume) {
            if !self.can_spend(cost) {
                return Outcome::OutOfBudget { done_through };
            }
            self.prs += 1;
            let result = self
                .pr(
                    plan,
                    (org, name),
                    pr,
                    &to_trigger,
                    fingerprint,
                    &mut base_shas,
                )
                .await;
            match result {
                // After a failure the cursor stays, so a deferred repo retries that PR too.
                Ok(()) if !failed => done_through = pr.number,
                Ok(()) => {}
                Err(err) => {
                    tracing::warn!(pr = %format!("{}#{}", plan.repo, pr.number), error = %err, "reconciling the PR failed; the repo is tried again next tick");
                    failed = true;
                }
            }
        }
        if failed {
            Outcome::Failed
        } else {
            Outcome::Done
        }
    }

    async fn pr(
        &mut self,
        plan: &RepoPlan,
        (org, repo): (&str, &str),
        pr: &PullRequest,
        to_trigger: &[Presubmit],
        fingerprint: &str,
        base_shas: &mut HashMap<String, String>,
    ) -> Result<(), PrError> {
        let branch = pr.base.git_ref.as_str();
        if !to_trigger.is_empty() && decide::triggers_on(pr) && self.trusted(org, repo, pr).await? {
            let filters = [Filter::TestAll];
            let changed = if needs_changed_files(&filters, branch, to_trigger) {
                self.spend(1);
                Some(
                    self.state
                        .github
                        .pull_request_changed_files(org, repo, pr.number)
                        .await?,
                )
            } else {
                None
            };
            let selected = select_presubmits(&filters, branch, changed.as_deref(), to_trigger);
            if !selected.is_empty() {
                let base_sha = match base_shas.get(branch) {
                    Some(sha) => sha.clone(),
                    None => {
                        self.spend(1);
                        let sha = self
                            .state
                            .github
                            .get_ref(org, repo, &format!("heads/{branch}"))
                            .await?;
                        base_shas.insert(branch.to_owned(), sha.clone());
                        sha
                    }
                };
                self.create_jobs((org, repo), pr, &selected, &base_sha, fingerprint)
                    .await?;
            }
        }
        if plan.touches_statuses() {
            self.spend(1);
            let statuses = self
                .state
                .github
                .combined_status(org, repo, &pr.head.sha)
                .await?;
            for write in decide::status_writes(plan, branch, &statuses) {
                let status = write.status();
                let what = format!(
                    "{org}/{repo}#{} {}: {:?} {:?}",
                    pr.number,
                    status.context,
                    status.state,
                    status.description.as_deref().unwrap_or_default()
                );
                if self.state.dry_run {
                    tracing::info!(status = %what, "dry run: status not written");
                    self.report.dry_run.push(what);
                    continue;
                }
                self.spend(1);
                self.state
                    .github
                    .create_status(org, repo, &pr.head.sha, status)
                    .await?;
                tracing::info!(status = %what, "status written");
                if let decide::StatusWrite::Copy(_) = write {
                    self.state.metrics.done(Done::Copied);
                    self.report.copied += 1;
                } else {
                    self.state.metrics.done(Done::Retired);
                    self.report.retired += 1;
                }
            }
        }
        Ok(())
    }

    /// Prow's `TrustedPullRequest`: an `ok-to-test` label (from the PR list, no call), else a
    /// trusted author as trigger decides it.
    async fn trusted(&mut self, org: &str, repo: &str, pr: &PullRequest) -> Result<bool, PrError> {
        if pr.labels.iter().any(|l| l.name == OK_TO_TEST) {
            return Ok(true);
        }
        let bot = match &self.bot {
            Some(bot) => bot.clone(),
            None => {
                self.spend(1);
                let bot = self.state.github.bot_login().await?;
                self.bot = Some(bot.clone());
                bot
            }
        };
        let trigger = self.config.plugins.trigger_for(org, repo);
        // Up to three lookups (org, collaborators, trusted org); counted as the most.
        self.spend(3);
        Ok(prow_trigger::trust::trusted_user(
            self.state.github.as_ref(),
            &trigger,
            &bot,
            &pr.user.login,
            org,
            repo,
        )
        .await?)
    }

    async fn create_jobs(
        &mut self,
        (org, repo): (&str, &str),
        pr: &PullRequest,
        selected: &[&Presubmit],
        base_sha: &str,
        fingerprint: &str,
    ) -> Result<(), PrError> {
        let fallback = Repo {
            name: repo.to_owned(),
            full_name: format!("{org}/{repo}"),
            owner: Owner {
                login: org.to_owned(),
                name: None,
            },
            html_url: String::new(),
        };
        let refs = pr_refs(pr, &fallback, base_sha);
        // Stands in for the webhook delivery id trigger names its jobs with: one per PR head
        // and change of the repo's presubmits, so a repeated tick names the same jobs.
        let seed = prowjob_name(&[
            "status-reconciler",
            org,
            repo,
            &pr.number.to_string(),
            &pr.head.sha,
            fingerprint,
        ]);
        let ctx = JobContext {
            delivery_id: &seed,
            namespace: &self.config.prow.prowjob_namespace,
            now: self.state.clock.time(),
        };
        for pj in presubmit_prowjobs(selected, &refs, false, &ctx) {
            let what = format!("{org}/{repo}#{} {}", pr.number, pj.spec.job);
            if self.state.dry_run {
                tracing::info!(job = %what, "dry run: ProwJob not created");
                self.report.dry_run.push(format!("trigger {what}"));
                continue;
            }
            match self.prowjobs.create(&pj).await? {
                Created::New(_) => {
                    tracing::info!(job = %what, name = %pj.name(), "triggered a newly required presubmit");
                    self.state.metrics.done(Done::Triggered);
                    self.report.triggered += 1;
                }
                Created::Existing => self.report.existing += 1,
            }
        }
        Ok(())
    }
}
