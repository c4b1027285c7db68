//! prow-redelivery binary: flags and env, then serve the redelivery router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-redelivery",
    about = "Asks GitHub to redeliver webhook deliveries our hook never answered 2xx"
)]
struct Args {
    #[command(flatten)]
    flags: prow_redelivery::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_redelivery::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
