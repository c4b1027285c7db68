//! The `prow` command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "prow", version, about = "prow-rs: Kubernetes Prow as scale-to-zero functions")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
