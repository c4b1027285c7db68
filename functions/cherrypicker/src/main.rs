//! prow-cherrypicker binary: flags and env, then serve the cherrypicker router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-cherrypicker",
    about = "Cherry-pick merged PRs onto other branches"
)]
struct Args {
    #[command(flatten)]
    flags: prow_cherrypicker::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_cherrypicker::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
