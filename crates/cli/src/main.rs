//! The `prow` command line: one binary for every prow-rs duty.

mod check_config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "prow",
    version,
    about = "prow-rs: Kubernetes Prow as scale-to-zero functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate a Prow config.yaml, job configs and plugins.yaml.
    CheckConfig(check_config::CheckConfigArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig(args) => check_config::run(args),
    }
}
