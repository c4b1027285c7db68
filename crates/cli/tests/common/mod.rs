//! What the black-box tests of `prow up` share: starting the real binary on a temp directory,
//! reading the endpoints line it prints, and signing webhooks as GitHub does.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use hmac::{KeyInit, Mac};
use serde_json::Value;

/// A running `prow up`, killed when dropped (SIGKILL: also what the durability test needs).
pub(crate) struct Up(pub(crate) Child);

impl Up {
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// `X-Hub-Signature-256` as GitHub computes it, independently of hook's own code.
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How to start `prow up` beyond its config.
#[derive(Default)]
pub(crate) struct UpOptions<'a> {
    /// GitHub's API (a wiremock server); without it GitHub is simulated.
    pub(crate) github: Option<&'a str>,
    /// The webhook HMAC secret (written to a file); without it `prow up` generates one.
    pub(crate) hmac_secret: Option<&'a [u8]>,
    /// `RUST_LOG` for the child.
    pub(crate) log: Option<&'a str>,
    /// Prow's S3 credentials file: `s3://` buckets go to that server.
    pub(crate) s3_credentials_file: Option<&'a Path>,
    /// `--pod-runtime`; default `host`, so tests do not depend on the images a machine has.
    pub(crate) pod_runtime: Option<&'a str>,
    /// More `prow up` arguments.
    pub(crate) extra_args: &'a [String],
}

/// Starts `prow up` in `dir` (not the checkout: nothing but the user's config is read from
/// disk) with `dir/config/{config.yaml,jobs,plugins.yaml}`, state in `dir/state`, every port
/// chosen by the OS; returns it with the endpoints JSON it prints first.
pub(crate) fn start_up(dir: &Path, options: &UpOptions<'_>) -> (Up, Value) {
    let config = dir.join("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_prow"));
    command
        .args([
            "up",
            "--api-addr",
            "127.0.0.1:0",
            "--hook-addr",
            "127.0.0.1:0",
        ])
        .args(["--deck-addr", "127.0.0.1:0"])
        .arg("--config-path")
        .arg(config.join("config.yaml"))
        .arg("--job-config-path")
        .arg(config.join("jobs"))
        .arg("--plugin-config")
        .arg(config.join("plugins.yaml"))
        .arg("--state-dir")
        .arg(dir.join("state"));
    if let Some(secret) = options.hmac_secret {
        std::fs::write(dir.join("hmac"), secret).expect("hmac secret");
        command.arg("--hmac-secret-file").arg(dir.join("hmac"));
    }
    if let Some(github) = options.github {
        write(&dir.join("token"), "ghp_test_token\n");
        command
            .arg("--github-endpoint")
            .arg(github)
            .arg("--github-token-path")
            .arg(dir.join("token"));
    }
    command
        .arg("--pod-runtime")
        .arg(options.pod_runtime.unwrap_or("host"));
    command.args(options.extra_args);
    if let Some(creds) = options.s3_credentials_file {
        command.arg("--s3-credentials-file").arg(creds);
    }
    if let Some(log) = options.log {
        command.env("RUST_LOG", log);
    }
    let mut child = command
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start prow up");
    let stdout = child.stdout.take().expect("stdout");
    let up = Up(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read endpoints");
    let endpoints: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("endpoints line {line:?}: {e}"));
    (up, endpoints)
}
