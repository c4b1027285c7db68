//! prow-config-updater binary: flags and env, then serve the config-updater router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "prow-config-updater",
    about = "Merged config changes into their ConfigMaps"
)]
struct Args {
    #[command(flatten)]
    flags: prow_config_updater::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_config_updater::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
