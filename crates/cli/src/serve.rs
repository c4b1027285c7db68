//! `prow serve <function>` and `prow lambda <function>`: one binary, every function, each built
//! from its own flags exactly as its standalone binary builds it.

use anyhow::Context;
use axum::Router;
use clap::Subcommand;

/// A function and its flags.
#[derive(Debug, Subcommand)]
pub(crate) enum Function {
    /// GitHub webhooks in, CloudEvents out.
    Hook(prow_hook::Flags),
    /// GitHub events -> ProwJobs.
    Trigger(prow_trigger::Flags),
    /// GitHub events -> Prow's ChatOps plugins (hold, assign, lgtm).
    Plugins(prow_plugins::Flags),
    /// ProwJobs -> pods -> ProwJob status.
    Plank(prow_plank::Flags),
    /// ProwJob changes -> GitHub statuses/comments and artifacts.
    Crier(prow_crier::Flags),
    /// Merge pools kept by events: tide statuses, retests, batches, merges.
    Tide(prow_tide::Flags),
    /// Periodic jobs.
    Horologium(prow_horologium::Flags),
    /// branch-protection: from config.yaml applied to GitHub on ticks.
    Branchprotector(prow_branchprotector::Flags),
    /// Open PRs follow presubmits added to or removed from the config, on ticks.
    StatusReconciler(prow_status_reconciler::Flags),
    /// Webhook deliveries our hook never answered 2xx asked of GitHub again, on ticks.
    Redelivery(prow_redelivery::Flags),
    /// Garbage collection of old ProwJobs and pods.
    Sinker(prow_sinker::Flags),
    /// The dashboard.
    Deck(prow_deck::Flags),
    /// Merged config changes -> ConfigMaps (the only function that may write them).
    ConfigUpdater(prow_config_updater::Flags),
    /// PRs that no longer merge cleanly -> the needs-rebase label.
    NeedsRebase(prow_needs_rebase::Flags),
    /// `/cherrypick <branch>` -> the cherry-pick PR, through the Git Data API.
    Cherrypicker(prow_cherrypicker::Flags),
    /// The caching GitHub API proxy every function's --github-endpoint can point at.
    Ghproxy(prow_ghproxy::Flags),
}

impl Function {
    /// Builds the function's router from its flags.
    pub(crate) async fn router(self) -> anyhow::Result<Router> {
        Ok(match self {
            Function::Hook(flags) => prow_hook::app(flags).context("hook")?,
            Function::Trigger(flags) => prow_trigger::app(flags).await.context("trigger")?,
            Function::Plugins(flags) => prow_plugins::app(flags).await.context("plugins")?,
            Function::Plank(flags) => prow_plank::app(flags).await.context("plank")?,
            Function::Crier(flags) => prow_crier::app(flags).await.context("crier")?,
            Function::Tide(flags) => prow_tide::app(flags).await.context("tide")?,
            Function::Horologium(flags) => {
                prow_horologium::app(flags).await.context("horologium")?
            }
            Function::Branchprotector(flags) => prow_branchprotector::app(flags)
                .await
                .context("branchprotector")?,
            Function::StatusReconciler(flags) => prow_status_reconciler::app(flags)
                .await
                .context("status-reconciler")?,
            Function::Redelivery(flags) => {
                prow_redelivery::app(flags).await.context("redelivery")?
            }
            Function::Sinker(flags) => prow_sinker::app(flags).await.context("sinker")?,
            Function::Deck(flags) => prow_deck::app(flags).await.context("deck")?,
            Function::ConfigUpdater(flags) => prow_config_updater::app(flags)
                .await
                .context("config-updater")?,
            Function::NeedsRebase(flags) => prow_needs_rebase::app(flags)
                .await
                .context("needs-rebase")?,
            Function::Cherrypicker(flags) => prow_cherrypicker::app(flags)
                .await
                .context("cherrypicker")?,
            Function::Ghproxy(flags) => prow_ghproxy::app(flags).await.context("ghproxy")?,
        })
    }
}

/// Serves the function on `0.0.0.0:$PORT` until SIGTERM.
pub(crate) async fn serve(function: Function) -> anyhow::Result<()> {
    let router = function.router().await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}

/// Serves the function through the AWS Lambda Runtime API.
pub(crate) async fn lambda(function: Function) -> anyhow::Result<()> {
    let router = function.router().await?;
    prow_lambda::run(router)
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
