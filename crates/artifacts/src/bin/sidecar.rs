//! prow-sidecar: runs a job's test command and uploads its outputs in Prow's layout, as Prow's
//! initupload + entrypoint + sidecar do together inside a pod.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Parser;
use prow_artifacts::layout::job_paths;
use prow_artifacts::metadata::{SidecarResult, sidecar_finished, started_from_refs};
use prow_artifacts::upload::{read_job_metadata, upload_finished, upload_started};
use prow_artifacts::{ArtifactStore, Body, LocalStore, StoreConfig, Stores};
use prow_core::jobspec::JobSpec;
use prow_core::prowjob::ProwJobSpec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, Parser)]
#[command(
    name = "prow-sidecar",
    about = "Run a job's test command and upload started.json, build-log.txt, $ARTIFACTS and finished.json"
)]
struct Args {
    /// The job, as Prow passes it to pods.
    #[arg(long, env = "JOB_SPEC")]
    job_spec: String,
    /// Directory the test writes artifacts to.
    #[arg(long, env = "ARTIFACTS", default_value = "/logs/artifacts")]
    artifacts: PathBuf,
    /// Upload under this directory (`<dir>/<bucket>/...`) instead of to the bucket's storage.
    #[arg(long, env = "OUTPUT_DIR")]
    output_dir: Option<PathBuf>,
    /// The test command and its arguments.
    #[arg(required = true, last = true)]
    command: Vec<String>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Copies a child's output to our own stream and into the build log file, so a long log is
/// streamed from disk at upload time instead of held in memory.
async fn tee(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    log: Arc<Mutex<std::fs::File>>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.flush().await;
        }
        to.write_all(&buf[..n]).await?;
        if let Ok(mut log) = log.lock() {
            std::io::Write::write_all(&mut *log, &buf[..n])?;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec: JobSpec = serde_json::from_str(&args.job_spec).context("JOB_SPEC")?;
    let pj_spec = ProwJobSpec {
        type_: spec.type_,
        job: spec.job.clone(),
        refs: spec.refs.clone(),
        extra_refs: spec.extra_refs.clone(),
        decoration_config: spec.decoration_config.clone(),
        ..ProwJobSpec::default()
    };
    let gcs = prow_artifacts::layout::gcs_configuration(&pj_spec)
        .context("JOB_SPEC has no decoration_config.gcs_configuration.bucket")?;
    let paths = job_paths(&pj_spec, &spec.buildid, gcs)?;
    let store: Arc<dyn ArtifactStore> = match &args.output_dir {
        Some(dir) => Arc::new(LocalStore::new(dir)?),
        None => Arc::new(Stores::new(StoreConfig::default().with_process_env())?),
    };

    let started = started_from_refs(spec.refs.as_ref(), &spec.extra_refs, now());
    upload_started(store.as_ref(), &paths, &spec.buildid, &started)
        .await
        .context("uploading started.json")?;

    tokio::fs::create_dir_all(&args.artifacts)
        .await
        .with_context(|| format!("creating {}", args.artifacts.display()))?;
    let (program, rest) = args
        .command
        .split_first()
        .context("no test command given")?;
    let mut child = tokio::process::Command::new(program)
        .args(rest)
        .env("ARTIFACTS", &args.artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let log_path = std::env::temp_dir().join(format!(
        "prow-sidecar-{}-{}-build-log.txt",
        std::process::id(),
        spec.buildid
    ));
    let log = Arc::new(Mutex::new(
        std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?,
    ));
    let out = child
        .stdout
        .take()
        .map(|o| tokio::spawn(tee(o, tokio::io::stdout(), log.clone())));
    let err = child
        .stderr
        .take()
        .map(|e| tokio::spawn(tee(e, tokio::io::stderr(), log.clone())));
    let status = child.wait().await.context("waiting for the test")?;
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    let result = if status.success() {
        SidecarResult::Success
    } else {
        SidecarResult::Failure
    };

    let metadata = read_job_metadata(&args.artifacts).await;
    let finished = sidecar_finished(now(), result, spec.refs.as_ref(), metadata);
    upload_finished(
        store.as_ref(),
        &paths,
        &spec.buildid,
        Some(Body::File(log_path.clone())),
        Some(&args.artifacts),
        &finished,
    )
    .await
    .context("uploading the job's outputs")?;
    let _ = std::fs::remove_file(&log_path);
    std::process::exit(status.code().unwrap_or(1));
}
