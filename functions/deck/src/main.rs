//! prow-deck binary: flags and env, then serve the deck router on $PORT until SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "prow-deck", about = "Prow's dashboard")]
struct Args {
    #[command(flatten)]
    flags: prow_deck::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_deck::app(Args::parse().flags).await?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
