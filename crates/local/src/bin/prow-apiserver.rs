//! Standalone embedded API server: `prow-apiserver --db state.redb --listen 127.0.0.1:8080`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use prow_local::ApiServer;

/// Serves the prow-local Kubernetes API (ProwJobs, Pods, Namespaces) from a durable file.
#[derive(Debug, Parser)]
struct Args {
    /// redb file holding the objects; created if missing.
    #[arg(long, env = "PROW_LOCAL_DB")]
    db: Option<PathBuf>,
    /// Keep objects in memory only (ignored when --db is given).
    #[arg(long)]
    in_memory: bool,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, env = "PROW_LOCAL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let state = match (&args.db, args.in_memory) {
        (Some(path), _) => {
            ApiServer::open(path).with_context(|| format!("opening {}", path.display()))?
        }
        (None, true) => ApiServer::in_memory()?,
        (None, false) => anyhow::bail!("pass --db <file> or --in-memory"),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    prow_local::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
