//! prow-horologium binary: flags and env, then serve the horologium router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-horologium",
    about = "Starts periodic ProwJobs on PingSource ticks"
)]
struct Args {
    #[command(flatten)]
    flags: prow_horologium::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_horologium::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
