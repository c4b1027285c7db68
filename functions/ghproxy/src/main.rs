//! prow-ghproxy binary: flags and env, then serve the caching GitHub proxy on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-ghproxy",
    about = "Caching reverse proxy for GitHub's REST API (conditional requests, per-token throttling)"
)]
struct Args {
    #[command(flatten)]
    flags: prow_ghproxy::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_ghproxy::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
