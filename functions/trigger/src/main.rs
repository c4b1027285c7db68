//! prow-trigger binary: flags and env, then serve the trigger router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "prow-trigger", about = "GitHub events in, ProwJobs out")]
struct Args {
    #[command(flatten)]
    flags: prow_trigger::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_trigger::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
