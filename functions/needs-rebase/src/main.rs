//! prow-needs-rebase binary: flags and env, then serve the needs-rebase router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-needs-rebase",
    about = "Label PRs that no longer merge cleanly"
)]
struct Args {
    #[command(flatten)]
    flags: prow_needs_rebase::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_needs_rebase::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
