//! Standalone embedded API server: `prow-apiserver --db state.redb --listen 127.0.0.1:8080`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use prow_local::kubelet::{Kubelet, KubeletConfig};
use prow_local::{ApiServer, MemoryLogs};

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
    /// File holding a bearer token clients must send; required when --listen is not loopback.
    #[arg(long, env = "PROW_LOCAL_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Also run pods locally (as host processes) with working directories under this directory.
    #[arg(long, env = "PROW_LOCAL_KUBELET_DIR")]
    kubelet_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let token = args
        .token_file
        .as_deref()
        .map(prow_local::auth::ApiToken::from_file)
        .transpose()?;
    prow_local::auth::check_listen(args.listen, token.as_ref())?;
    let state = match (&args.db, args.in_memory) {
        (Some(path), _) => {
            ApiServer::open(path).with_context(|| format!("opening {}", path.display()))?
        }
        (None, true) => ApiServer::in_memory()?,
        (None, false) => anyhow::bail!("pass --db <file> or --in-memory"),
    };
    let logs = MemoryLogs::new();
    let state = state.with_log_source(Arc::new(logs.clone()));
    let (stop_kubelet, kubelet_stopped) = tokio::sync::oneshot::channel::<()>();
    let kubelet = args.kubelet_dir.map(|dir| {
        let kubelet = Kubelet::new(state.clone(), logs, KubeletConfig::new(dir));
        tokio::spawn(kubelet.run(async {
            let _ = kubelet_stopped.await;
        }))
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    prow_local::serve_with_token(listener, state, token, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    })
    .await?;
    let _ = stop_kubelet.send(());
    if let Some(kubelet) = kubelet {
        kubelet.await??;
    }
    Ok(())
}
