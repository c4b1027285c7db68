//! prow-crier binary: flags and env, then serve the crier router on $PORT.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-crier",
    about = "ProwJob changes in, GitHub statuses and job metadata out"
)]
struct Args {
    #[command(flatten)]
    flags: prow_crier::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_crier::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
