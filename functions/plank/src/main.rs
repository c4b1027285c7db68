//! prow-plank binary: flags and env, then serve the plank router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-plank",
    about = "ProwJobs -> pods, pods -> ProwJob status"
)]
struct Args {
    #[command(flatten)]
    flags: prow_plank::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_plank::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
