//! `prow config compile`: the YAML config tree -> a validated snapshot that functions open in
//! about a millisecond on a cold start (see prow_core::config::snapshot).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use prow_core::config::{self, snapshot};

use crate::check_config::{ConfigSource, print_invalid};

/// A ConfigMap holds at most 1 MiB, and the manifests mount the snapshot from one.
const CONFIGMAP_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate the config and write it as a snapshot (CONFIG_PATH may then name the snapshot).
    Compile(CompileArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// Where to write the snapshot.
    #[arg(long, short)]
    output: PathBuf,
}

pub(crate) fn run(command: ConfigCommand) -> ExitCode {
    let ConfigCommand::Compile(args) = command;
    let loaded = match config::load(&args.source.options()) {
        Ok(loaded) => loaded,
        Err(err) => {
            print_invalid(&err, false);
            return ExitCode::FAILURE;
        }
    };
    for warning in &loaded.warnings {
        println!("{warning}");
    }
    match compile(&loaded.config, &args.output) {
        Ok(len) => {
            let s = loaded.config.summary();
            println!(
                "wrote {} ({len} bytes): {} presubmits, {} postsubmits, {} periodics across {} repos",
                args.output.display(),
                s.presubmits,
                s.postsubmits,
                s.periodics,
                s.repos
            );
            if len > CONFIGMAP_LIMIT {
                eprintln!(
                    "warning: the snapshot is larger than a ConfigMap can hold (1 MiB); ship it in an image or volume instead"
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("prow config compile: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Compiles (encoded, proved to decode to exactly this config), then replaces `output`
/// atomically so a function never opens a half-written file.
fn compile(config: &config::Config, output: &Path) -> anyhow::Result<usize> {
    let bytes = snapshot::compile(config).context("compiling the snapshot")?;
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut staging = output.as_os_str().to_owned();
    staging.push(".tmp");
    let staging = PathBuf::from(staging);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&staging, &bytes).with_context(|| format!("writing {}", staging.display()))?;
    std::fs::rename(&staging, output)
        .with_context(|| format!("renaming to {}", output.display()))?;
    Ok(bytes.len())
}
