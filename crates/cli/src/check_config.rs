//! `prow check-config`: load and validate a Prow configuration, print findings as `file:line:column: field: message`.

use std::path::{Path, PathBuf};
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
    pub(crate) fn options_ref(&self) -> LoadOptions {
        LoadOptions {
            config_path: self.config_path.clone(),
            job_config_path: self.job_config_path.clone(),
            plugin_config_path: self.plugin_config.clone(),
        }
    }

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
    /// Also check a repository's in-repo config (`.prow.yaml` or `.prow/`) as this repo's
    /// (`org/repo`): defaulted and validated against the central config, as Prow's checkconfig.
    #[arg(long, value_name = "ORG/REPO")]
    prow_yaml_repo_name: Option<String>,
    /// The `.prow.yaml` to check; its directory is the checkout (default: the current directory).
    #[arg(long, requires = "prow_yaml_repo_name")]
    prow_yaml_path: Option<PathBuf>,
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
            let mut warnings = loaded.warnings.len();
            if let Some(repo) = &args.prow_yaml_repo_name {
                let dir = args
                    .prow_yaml_path
                    .as_deref()
                    .and_then(Path::parent)
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                match check_in_repo(&loaded.config, repo, &dir, args.quiet) {
                    Some(n) => warnings += n,
                    None => return ExitCode::FAILURE,
                }
            }
            if args.strict && warnings > 0 {
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

/// Checks the in-repo config of the checkout at `dir` as `repo`'s; the number of warnings, or
/// `None` when it is invalid (after printing why).
fn check_in_repo(config: &config::Config, repo: &str, dir: &Path, quiet: bool) -> Option<usize> {
    let (files, shadowed) = match config::read_in_repo_config_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("{}: cannot read the in-repo config: {e}", dir.display());
            return None;
        }
    };
    let mut warnings = 0;
    if shadowed {
        warnings += 1;
        if !quiet {
            println!(
                "{}: ignored: a {}/ directory exists, and Prow then reads only that",
                config::PROW_YAML_FILE,
                config::PROW_YAML_DIR
            );
        }
    }
    match config.prow_yaml(repo, &files) {
        Ok(yaml) => {
            if !quiet {
                for w in &yaml.warnings {
                    println!("{w}");
                }
            }
            println!(
                "in-repo config OK for {repo}: {} presubmits, {} postsubmits from {} file(s){}",
                yaml.presubmits.len(),
                yaml.postsubmits.len(),
                files.len(),
                if config.prow.in_repo_config.enabled_for(repo) {
                    ""
                } else {
                    " (in_repo_config is not enabled for this repo: Prow will not read them)"
                }
            );
            Some(warnings + yaml.warnings.len())
        }
        Err(err) => {
            print_invalid(&err, quiet);
            None
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
