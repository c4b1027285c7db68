//! prow-status-reconciler binary: flags and env, then serve the status-reconciler router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-status-reconciler",
    about = "Triggers newly required presubmits and retires removed contexts on open PRs on PingSource ticks"
)]
struct Args {
    #[command(flatten)]
    flags: prow_status_reconciler::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_status_reconciler::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
