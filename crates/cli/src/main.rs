//! The `prow` command line: one binary for every prow-rs duty.

mod check_config;
mod config_compile;
mod explain;
mod podutils;
mod serve;
mod sidecar;
mod try_;
mod up;
mod up_config;

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
    /// Work with a Prow config: `prow config compile` writes a snapshot for fast cold starts.
    Config {
        #[command(subcommand)]
        command: config_compile::ConfigCommand,
    },
    /// Run everything locally: embedded API server, kubelet, broker and all functions.
    Up(Box<up::UpArgs>),
    /// Which jobs a webhook payload would run, and why each other job would not.
    Explain(explain::ExplainArgs),
    /// Run the presubmits Prow would run for this checkout's change, locally.
    Try(try_::TryArgs),
    /// Print a kubeconfig for the API server `prow up` runs.
    Kubeconfig {
        /// The API server's URL.
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        server: String,
        /// Default namespace of the context.
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// Serve one function over HTTP on $PORT (what each Knative Service runs).
    Serve {
        #[command(subcommand)]
        function: serve::Function,
    },
    /// Serve one function through the AWS Lambda Runtime API.
    Lambda {
        #[command(subcommand)]
        function: serve::Function,
    },
    /// Prow's clonerefs: clone the refs in $CLONEREFS_OPTIONS, write clone records.
    Clonerefs,
    /// Prow's initupload: upload started.json and clone records ($INITUPLOAD_OPTIONS, $JOB_SPEC).
    Initupload(prow_artifacts::StoreArgs),
    /// Prow's entrypoint: run the test in $ENTRYPOINT_OPTIONS with timeout and marker file.
    Entrypoint(podutils::EntrypointArgs),
    /// Prow's sidecar: wait for the test, upload logs, artifacts, finished.json ($SIDECAR_OPTIONS).
    Sidecar(prow_artifacts::StoreArgs),
}

fn main() -> ExitCode {
    if let Some(code) = podutils::by_program_name() {
        std::process::exit(code);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Clonerefs => std::process::exit(podutils::clonerefs()),
        Command::Initupload(args) => std::process::exit(podutils::initupload(&args)),
        Command::Entrypoint(args) => std::process::exit(podutils::entrypoint(&args)),
        Command::Sidecar(args) => std::process::exit(podutils::sidecar(&args)),
        Command::CheckConfig(args) => return check_config::run(args),
        Command::Config { command } => return config_compile::run(command),
        Command::Kubeconfig { server, namespace } => {
            print!("{}", up::kubeconfig(&server, &namespace, None));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    prow_runtime::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("prow: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::CheckConfig(_)
            | Command::Config { .. }
            | Command::Kubeconfig { .. }
            | Command::Clonerefs
            | Command::Initupload(_)
            | Command::Entrypoint(_)
            | Command::Sidecar(_) => Ok(()),
            Command::Up(args) => up::run(*args).await,
            Command::Explain(args) => explain::run(args).await,
            Command::Try(args) => try_::run(args).await.and_then(|ok| {
                if ok {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("a required job did not succeed"))
                }
            }),
            Command::Serve { function } => serve::serve(function).await,
            Command::Lambda { function } => serve::lambda(function).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("prow: {err:#}");
            ExitCode::FAILURE
        }
    }
}
