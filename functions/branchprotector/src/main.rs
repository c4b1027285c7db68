//! prow-branchprotector binary: flags and env, then serve the branchprotector router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-branchprotector",
    about = "Applies branch-protection: from config.yaml to GitHub on PingSource ticks"
)]
struct Args {
    #[command(flatten)]
    flags: prow_branchprotector::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_branchprotector::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
