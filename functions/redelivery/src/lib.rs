//! prow-redelivery: on each PingSource tick, asks GitHub to send again the webhook deliveries
//! our hook never answered 2xx (hook down, unreachable, or failing), so an event GitHub gave
//! up on is not lost.
//!
//! Stateless: every tick lists each configured hook's recent deliveries through GitHub's API
//! and [`decide`]s from that list alone (an event's attempts share a `guid`; a 2xx on any of
//! them means delivered; redeliveries already made are counted from the list), so a restart,
//! a second instance or a lost tick loses nothing and duplicates little: a receiver sees the
//! same `X-GitHub-Delivery` again and its handlers are idempotent.

pub mod decide;
pub mod metrics;

use std::sync::Arc;

use axum::Router;
use chrono::{TimeDelta, Utc};
use prow_github::{DeliveryQuery, GitHub, GitHubError, Hook, HookDelivery};

use crate::decide::{Policy, Verdict};
use crate::metrics::Metrics;

/// Ping payloads are tiny; anything bigger is not a PingSource event.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Pages of 100 deliveries read per hook and tick at most by default.
const DEFAULT_MAX_PAGES: usize = 20;

/// Why redelivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error("--lookback-minutes {0} is outside GitHub's retention of deliveries (1 to 4320)")]
    Lookback(u32),
}

/// Flags of the redelivery binary and of `prow serve redelivery`; each also from env.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Hooks whose deliveries to watch: `app` (the GitHub App's hook; needs --github-app-id),
    /// `org/repo:HOOK_ID`, `org:HOOK_ID`. Default: `app` when acting as an app, else none.
    #[arg(long = "hook", env = "REDELIVERY_HOOKS", value_delimiter = ',')]
    pub hooks: Vec<Hook>,
    /// Events first delivered longer ago than this are left alone (GitHub keeps 3 days).
    #[arg(long, env = "REDELIVERY_LOOKBACK_MINUTES", default_value_t = 24 * 60)]
    pub lookback_minutes: u32,
    /// Redeliveries asked per tick at most; the oldest events go first.
    #[arg(long, env = "REDELIVERY_MAX_PER_TICK", default_value_t = 50)]
    pub max_per_tick: usize,
    /// Redeliveries of one event at most before it is left for a human.
    #[arg(long, env = "REDELIVERY_MAX_ATTEMPTS", default_value_t = 12)]
    pub max_attempts: u32,
    /// Wait after a failed attempt before the first redelivery, doubled per redelivery.
    #[arg(long, env = "REDELIVERY_BACKOFF_SECONDS", default_value_t = 60)]
    pub backoff_seconds: u32,
    /// The longest wait between two attempts of one event.
    #[arg(long, env = "REDELIVERY_MAX_BACKOFF_SECONDS", default_value_t = 3600)]
    pub max_backoff_seconds: u32,
    /// Pages of 100 deliveries read per hook and tick at most.
    #[arg(long, env = "REDELIVERY_MAX_PAGES", default_value_t = DEFAULT_MAX_PAGES)]
    pub max_pages: usize,
    /// List and decide, but only log the redeliveries.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

impl Flags {
    /// The tick's limits from the flags.
    pub fn policy(&self) -> Result<Policy, StartError> {
        if !(1..=3 * 24 * 60).contains(&self.lookback_minutes) {
            return Err(StartError::Lookback(self.lookback_minutes));
        }
        Ok(Policy {
            lookback: TimeDelta::minutes(i64::from(self.lookback_minutes)),
            max_per_tick: self.max_per_tick,
            max_attempts: self.max_attempts,
            backoff: TimeDelta::seconds(i64::from(self.backoff_seconds)),
            max_backoff: TimeDelta::seconds(i64::from(self.max_backoff_seconds)),
        })
    }

    /// The hooks given, else the app's own hook when acting as an app.
    pub fn hooks(&self) -> Vec<Hook> {
        if self.hooks.is_empty() && self.github.github_app_id.is_some() {
            vec![Hook::App]
        } else {
            self.hooks.clone()
        }
    }
}

/// Everything the redelivery router needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct RedeliveryState {
    pub github: Arc<dyn GitHub>,
    pub hooks: Vec<Hook>,
    pub policy: Policy,
    /// Pages read per hook and tick at most.
    pub max_pages: usize,
    /// Redeliveries are logged, not asked for (the GitHub client records them too).
    pub dry_run: bool,
    pub metrics: Arc<Metrics>,
}

impl RedeliveryState {
    /// Watches `hooks` with the default limits.
    pub fn new(github: Arc<dyn GitHub>, hooks: Vec<Hook>) -> Self {
        Self {
            github,
            hooks,
            policy: Policy::default(),
            max_pages: DEFAULT_MAX_PAGES,
            dry_run: false,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// Builds the router from flags: connects to GitHub (reads only, redeliveries recorded, on
/// `--dry-run`).
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let hooks = flags.hooks();
    if hooks.is_empty() {
        tracing::warn!(
            "no hooks to watch: give --hook (REDELIVERY_HOOKS) or act as a GitHub App; every tick does nothing"
        );
    }
    let mut state = RedeliveryState::new(github, hooks);
    state.policy = flags.policy()?;
    state.max_pages = flags.max_pages;
    state.dry_run = flags.dry_run;
    Ok(router(state))
}

/// `POST /` takes the ping CloudEvent; `/healthz` and `/metrics` for the platform.
pub fn router(state: RedeliveryState) -> Router {
    prow_runtime::tick_router(state, MAX_EVENT_BYTES)
}

/// Answers 200 once the tick is done, even when some redeliveries failed (logged, counted,
/// and due again next tick); 500 only when no hook could be listed at all.
impl prow_runtime::TickFunction for RedeliveryState {
    const NAME: &'static str = "redelivery";
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

/// What one tick saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Hooks listed.
    pub hooks: usize,
    /// Hooks whose listing failed.
    pub unlisted_hooks: usize,
    /// Hooks whose listing stopped at `max_pages` before the lookback window was covered.
    pub truncated_hooks: usize,
    /// Delivery attempts listed over all hooks.
    pub attempts: usize,
    /// Events (guids) by verdict.
    pub delivered: usize,
    pub waiting: usize,
    pub gave_up: usize,
    pub expired: usize,
    pub deferred: usize,
    /// Delivery ids GitHub was asked (on a dry run: would have been asked) to redeliver.
    pub redelivered: Vec<u64>,
    /// Redelivery requests GitHub refused or that failed.
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("no hook's deliveries could be listed; first error: {0}")]
    Unreachable(#[source] GitHubError),
}

/// Lists every hook's recent deliveries, decides, and asks GitHub for the redeliveries.
pub async fn tick(state: &RedeliveryState) -> Result<TickReport, TickError> {
    let now = Utc::now();
    let query = DeliveryQuery {
        since: now - state.policy.lookback,
        max_pages: state.max_pages,
    };
    let mut report = TickReport::default();
    let mut listed: Vec<(Hook, Vec<HookDelivery>)> = Vec::new();
    let mut first_error = None;
    for hook in &state.hooks {
        match state.github.list_hook_deliveries(hook, &query).await {
            Ok(list) => {
                if list.truncated {
                    tracing::warn!(%hook, pages = state.max_pages, "deliveries not listed back to the lookback window; raise --max-pages or tick more often");
                    state.metrics.truncated();
                    report.truncated_hooks += 1;
                }
                report.hooks += 1;
                report.attempts += list.deliveries.len();
                listed.push((hook.clone(), list.deliveries));
            }
            Err(err) => {
                tracing::warn!(%hook, error = %err, "listing webhook deliveries failed");
                state.metrics.list_failed();
                report.unlisted_hooks += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    if let (true, Some(err)) = (listed.is_empty(), first_error) {
        return Err(TickError::Unreachable(err));
    }
    let plan = decide::decide(&listed, now, &state.policy);
    for (guid, verdict) in &plan.verdicts {
        state.metrics.event(*verdict);
        if *verdict == Verdict::GaveUp {
            tracing::warn!(%guid, attempts = state.policy.max_attempts, "webhook event never answered 2xx; redeliver it by hand once the cause is fixed");
        }
    }
    report.delivered = plan.count(Verdict::Delivered);
    report.waiting = plan.count(Verdict::Waiting);
    report.gave_up = plan.count(Verdict::GaveUp);
    report.expired = plan.count(Verdict::Expired);
    report.deferred = plan.count(Verdict::Deferred);
    for redelivery in plan.redeliver {
        let decide::Redelivery {
            hook,
            delivery_id,
            guid,
            event,
            attempts,
        } = &redelivery;
        match state
            .github
            .redeliver_hook_delivery(hook, *delivery_id)
            .await
        {
            Ok(()) => {
                let outcome = if state.dry_run { "dry_run" } else { "ok" };
                tracing::info!(%hook, delivery_id, %guid, %event, attempt = attempts + 1, dry_run = state.dry_run, "redelivery requested");
                state.metrics.request(outcome);
                report.redelivered.push(*delivery_id);
            }
            Err(err) => {
                tracing::warn!(%hook, delivery_id, %guid, error = %err, "redelivery refused; due again next tick");
                state.metrics.request("failed");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
