//! `prow check-config`: load and validate a Prow configuration, print findings as `file:line:column: field: message`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use prow_core::config::{self, LoadOptions};

/// Where a Prow configuration lives, as every function's flags name it.
#[derive(Debug, Args)]
pub(crate) struct ConfigSource {
    /// Prow's config.yaml (or a snapshot from `prow config compile`).
    #[arg(long, env = "CONFIG_PATH")]
    config_path: PathBuf,
    /// Job config file or directory (searched recursively for *.yaml / *.yml).
    #[arg(long, env = "JOB_CONFIG_PATH")]
    job_config_path: Option<PathBuf>,
    /// Prow's plugins.yaml.
    #[arg(long, alias = "plugin-config-path", env = "PLUGIN_CONFIG")]
    plugin_config: Option<PathBuf>,
}

impl ConfigSource {
    pub(crate) fn options(self) -> LoadOptions {
        LoadOptions {
            config_path: self.config_path,
            job_config_path: self.job_config_path,
            plugin_config_path: self.plugin_config,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// Treat warnings (e.g. unknown fields) as errors.
    #[arg(long)]
    strict: bool,
    /// Do not print warnings.
    #[arg(long)]
    quiet: bool,
}

pub(crate) fn run(args: CheckConfigArgs) -> ExitCode {
    match config::load(&args.source.options()) {
        Ok(loaded) => {
            if !args.quiet {
                for w in &loaded.warnings {
                    println!("{w}");
                }
            }
            let s = loaded.config.summary();
            println!(
                "config OK: {} presubmits, {} postsubmits, {} periodics across {} repos ({} warnings)",
                s.presubmits,
                s.postsubmits,
                s.periodics,
                s.repos,
                loaded.warnings.len()
            );
            if args.strict && !loaded.warnings.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            print_invalid(&err, args.quiet);
            ExitCode::FAILURE
        }
    }
}

/// Prints an invalid config's diagnostics (errors always, warnings unless `quiet`).
pub(crate) fn print_invalid(err: &config::LoadError, quiet: bool) {
    for d in err.diagnostics.iter().filter(|d| d.is_error() || !quiet) {
        println!("{d}");
    }
    eprintln!("config invalid: {} error(s)", err.errors().count());
}
