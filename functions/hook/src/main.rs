//! prow-hook binary: flags and env, then serve the hook router on $PORT.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "prow-hook", about = "GitHub webhooks in, CloudEvents out")]
struct Args {
    #[command(flatten)]
    flags: prow_hook::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    prow_runtime::init_tracing();
    let router = prow_hook::app(Args::parse().flags)?;
    prow_runtime::serve_function(router).await?;
    Ok(())
}
