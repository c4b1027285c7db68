//! prow-tide binary: flags and env, then serve the tide router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-tide",
    about = "Merge pools kept current by events; merges, retests and batches"
)]
struct Args {
    #[command(flatten)]
    flags: prow_tide::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_tide::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
