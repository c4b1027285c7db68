//! prow-hook binary: flags and env, then serve the hook router on $PORT.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use prow_events::{Publisher, RetryPolicy};
use prow_hook::{Forward, HookState, SecretSource};

#[derive(Debug, Parser)]
#[command(name = "prow-hook", about = "GitHub webhooks in, CloudEvents out")]
struct Args {
    /// Prow HMAC secret file: one token, or the YAML map `'*'|org|org/repo -> [{value, created_at}]`.
    #[arg(long, env = "HMAC_SECRET_FILE")]
    hmac_secret_file: PathBuf,
    /// Where CloudEvents go (the broker); set by Knative's SinkBinding.
    #[arg(long = "sink", env = "K_SINK")]
    k_sink: Option<String>,
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Validate and acknowledge deliveries but publish nothing.
    #[arg(long, env = "DRY_RUN")]
    dry_run: bool,
    /// Attempts per event before GitHub is told to redeliver (GitHub waits 10 s in total).
    #[arg(long, env = "PUBLISH_ATTEMPTS", default_value_t = 3)]
    publish_attempts: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let forward = if args.dry_run {
        Forward::DryRun
    } else {
        let sink = args
            .k_sink
            .context("K_SINK (or --sink) is required unless --dry-run is set")?;
        let policy = RetryPolicy {
            max_attempts: args.publish_attempts,
            attempt_timeout: Duration::from_secs(2),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        Forward::Publish(Publisher::new(&sink, policy)?)
    };
    // Fail at start-up, not on the first delivery, when the secret is missing.
    prow_hook::secret::HmacSecrets::load(&args.hmac_secret_file)?;
    let state = HookState::new(SecretSource::File(args.hmac_secret_file), forward);

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", args.port))
        .await
        .with_context(|| format!("binding port {}", args.port))?;
    tracing::info!(addr = %listener.local_addr()?, "prow-hook listening");
    prow_hook::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (Knative scales to zero with SIGTERM).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
