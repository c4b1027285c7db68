//! prow-plugins binary: flags and env, then serve the plugins router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-plugins",
    about = "GitHub events in, plugin actions on GitHub out"
)]
struct Args {
    #[command(flatten)]
    flags: prow_plugins::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_plugins::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
