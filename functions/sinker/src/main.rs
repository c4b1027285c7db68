//! prow-sinker binary: flags and env, then serve the sinker router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-sinker",
    about = "Deletes old ProwJobs and pods on PingSource ticks"
)]
struct Args {
    #[command(flatten)]
    flags: prow_sinker::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_sinker::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
