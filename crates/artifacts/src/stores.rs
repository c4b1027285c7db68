//! Choosing a store from a bucket URL and credentials files, as Prow's `pkg/io` opener does:
//! `gs://name` (or a bare name) is GCS, `s3://name` is S3 (or MinIO), `file:///dir` a directory.
//! [`Stores`] is the one constructor every user goes through.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::ClientOptions;
use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use serde::Deserialize;

use crate::cloud::{Backend, Builder, CloudStore, retry_config};
use crate::gcs_emulator::{EmulatorUploads, STORAGE_EMULATOR_HOST, emulator_endpoint};
use crate::layout::Bucket;
use crate::local::LocalStore;
use crate::store::{ArtifactError, ArtifactStore, Body, Listing, PutOptions};

/// Env var Google's libraries read for Application Default Credentials.
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// Prow's `s3_credentials_secret` file (`pkg/io/providers`): JSON with these fields, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct S3Credentials {
    pub region: String,
    /// Another S3 server (MinIO, ...): `https://host:port` or `http://...`.
    pub endpoint: String,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`.
    pub s3_force_path_style: bool,
    pub access_key: String,
    pub secret_key: String,
    pub session_token: String,
}

impl S3Credentials {
    pub fn from_file(path: &Path) -> Result<Self, ArtifactError> {
        let text = std::fs::read(path).map_err(|source| ArtifactError::Io {
            op: "read S3 credentials",
            location: path.display().to_string(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| ArtifactError::Decode {
            op: "read S3 credentials",
            location: path.display().to_string(),
            source,
        })
    }

    /// Where requests for `bucket` go, when an endpoint is set: `object_store` takes a
    /// virtual-hosted endpoint with the bucket already in the host, as the AWS SDK builds it.
    pub fn endpoint_for(&self, bucket: &str) -> Option<String> {
        let endpoint = self.endpoint.trim().trim_end_matches('/');
        if endpoint.is_empty() {
            return None;
        }
        if self.s3_force_path_style {
            return Some(endpoint.to_owned());
        }
        Some(match endpoint.split_once("://") {
            Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
            None => format!("https://{bucket}.{endpoint}"),
        })
    }
}

/// What a store needs besides the bucket: Prow's credentials files, an emulator, and for
/// `prow up` a directory standing in for the buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreConfig {
    /// A service-account key (`/secrets/gcs/service-account.json`); without one, Application
    /// Default Credentials, then the metadata server (workload identity).
    pub gcs_credentials_file: Option<PathBuf>,
    /// Prow's S3 credentials JSON; without one, the AWS environment (`AWS_*`, instance roles).
    pub s3_credentials_file: Option<PathBuf>,
    /// `STORAGE_EMULATOR_HOST`: GCS requests go there, anonymously unless a key is given.
    pub gcs_emulator: Option<String>,
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    pub application_credentials: Option<PathBuf>,
    /// Keep `gs://` buckets (and `s3://` ones when no S3 credentials are given) as
    /// `<dir>/<bucket>/<object>`: `prow up`.
    pub local_dir: Option<PathBuf>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl StoreConfig {
    /// Fills what the environment says: `STORAGE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn with_env(mut self, env: &dyn Fn(&str) -> Option<String>) -> Self {
        if self.gcs_emulator.is_none() {
            self.gcs_emulator = non_empty(env(STORAGE_EMULATOR_HOST));
        }
        if self.application_credentials.is_none() {
            self.application_credentials =
                non_empty(env(GOOGLE_APPLICATION_CREDENTIALS)).map(PathBuf::from);
        }
        self
    }

    /// With the process environment.
    pub fn with_process_env(self) -> Self {
        self.with_env(&|k| std::env::var(k).ok())
    }

    /// Whether anything points at storage (a directory, credentials or an emulator).
    pub fn is_configured(&self) -> bool {
        self.local_dir.is_some()
            || self.gcs_credentials_file.is_some()
            || self.application_credentials.is_some()
            || self.s3_credentials_file.is_some()
            || self.gcs_emulator.is_some()
    }

    fn gcs_builder(&self) -> Result<Builder, ArtifactError> {
        let emulator = self
            .gcs_emulator
            .as_deref()
            .map(emulator_endpoint)
            .transpose()?;
        let key = self.gcs_credentials_file.clone();
        let adc = self.application_credentials.clone();
        Ok(Box::new(move |bucket: &str| {
            let mut b = GoogleCloudStorageBuilder::new()
                .with_bucket_name(bucket)
                .with_retry(retry_config());
            if let Some(endpoint) = &emulator {
                b = b
                    .with_base_url(endpoint.as_str().trim_end_matches('/'))
                    .with_client_options(ClientOptions::new().with_allow_http(true));
            }
            match (&key, &adc, &emulator) {
                (Some(key), _, _) => b = b.with_service_account_path(key.display().to_string()),
                (None, Some(adc), _) => {
                    b = b.with_application_credentials(adc.display().to_string());
                }
                // Emulators take no credentials; real GCS falls back to the metadata server.
                (None, None, Some(_)) => b = b.with_skip_signature(true),
                (None, None, None) => {}
            }
            let store = b.build().map_err(|source| ArtifactError::Backend {
                op: "configure",
                location: format!("gs://{bucket}"),
                source,
            })?;
            Ok(Arc::new(store) as Arc<dyn Backend>)
        }))
    }

    fn s3_builder(&self) -> Result<Builder, ArtifactError> {
        let creds = self
            .s3_credentials_file
            .as_deref()
            .map(S3Credentials::from_file)
            .transpose()?
            .unwrap_or_default();
        Ok(Box::new(move |bucket: &str| {
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry_config());
            if !creds.region.is_empty() {
                b = b.with_region(&creds.region);
            }
            if !creds.access_key.is_empty() && !creds.secret_key.is_empty() {
                b = b
                    .with_access_key_id(&creds.access_key)
                    .with_secret_access_key(&creds.secret_key);
                if !creds.session_token.is_empty() {
                    b = b.with_token(&creds.session_token);
                }
            }
            if let Some(endpoint) = creds.endpoint_for(bucket) {
                b = b
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(!creds.s3_force_path_style);
            }
            let mut client = ClientOptions::new().with_allow_http(true);
            if creds.insecure {
                client = client.with_allow_invalid_certificates(true);
            }
            let store =
                b.with_client_options(client)
                    .build()
                    .map_err(|source| ArtifactError::Backend {
                        op: "configure",
                        location: format!("s3://{bucket}"),
                        source,
                    })?;
            Ok(Arc::new(store) as Arc<dyn Backend>)
        }))
    }
}

/// Every bucket a Prow config can name, each on its backend: the store crier, Deck, `prow up`
/// and the pod utilities use.
pub struct Stores {
    config: StoreConfig,
    gcs: CloudStore,
    s3: CloudStore,
    local: Option<LocalStore>,
    /// `file://` buckets: one local store per directory.
    files: Mutex<HashMap<PathBuf, LocalStore>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

enum Route<'a> {
    Store(&'a dyn ArtifactStore, String),
    File(LocalStore, String),
}

impl Stores {
    /// Reads the credentials files now, so a bad file fails at start-up; clients are built per
    /// bucket on first use.
    pub fn new(config: StoreConfig) -> Result<Self, ArtifactError> {
        // reqwest is built without a default TLS provider; install ring's unless the binary
        // already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emulator_uploads = config
            .gcs_emulator
            .as_deref()
            .map(|host| EmulatorUploads::new(emulator_endpoint(host)?))
            .transpose()?;
        let local = config.local_dir.clone().map(LocalStore::new).transpose()?;
        Ok(Self {
            gcs: CloudStore::new("gs", config.gcs_builder()?, emulator_uploads),
            s3: CloudStore::new("s3", config.s3_builder()?, None),
            local,
            files: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// Which store holds `bucket`, and the bucket name it knows it by.
    fn route(&self, bucket: &str) -> Result<Route<'_>, ArtifactError> {
        let parsed = Bucket::parse(bucket);
        match parsed.provider.as_str() {
            "gs" => Ok(match &self.local {
                Some(local) => Route::Store(local, parsed.name),
                None => Route::Store(&self.gcs, parsed.name),
            }),
            "s3" => Ok(match (&self.local, &self.config.s3_credentials_file) {
                (Some(local), None) => Route::Store(local, parsed.name),
                _ => Route::Store(&self.s3, parsed.name),
            }),
            "file" => {
                let dir = Path::new("/").join(&parsed.name);
                let (Some(root), Some(name)) = (dir.parent(), dir.file_name()) else {
                    return Err(ArtifactError::UnsupportedBucket(bucket.to_owned()));
                };
                let mut files = self
                    .files
                    .lock()
                    .map_err(|_| ArtifactError::Credentials("store cache poisoned".into()))?;
                let store = match files.get(root) {
                    Some(s) => s.clone(),
                    None => {
                        let s = LocalStore::new(root)?;
                        files.insert(root.to_path_buf(), s.clone());
                        s
                    }
                };
                Ok(Route::File(store, name.to_string_lossy().into_owned()))
            }
            _ => Err(ArtifactError::UnsupportedBucket(bucket.to_owned())),
        }
    }
}

#[async_trait]
impl ArtifactStore for Stores {
    async fn upload(
        &self,
        bucket: &str,
        name: &str,
        body: Body,
        options: &PutOptions,
    ) -> Result<bool, ArtifactError> {
        match self.route(bucket)? {
            Route::Store(s, b) => s.upload(&b, name, body, options).await,
            Route::File(s, b) => s.upload(&b, name, body, options).await,
        }
    }

    async fn get(&self, bucket: &str, name: &str) -> Result<Option<Bytes>, ArtifactError> {
        match self.route(bucket)? {
            Route::Store(s, b) => s.get(&b, name).await,
            Route::File(s, b) => s.get(&b, name).await,
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, ArtifactError> {
        match self.route(bucket)? {
            Route::Store(s, b) => s.list(&b, prefix, delimiter).await,
            Route::File(s, b) => s.list(&b, prefix, delimiter).await,
        }
    }
}

/// Storage flags shared by the functions (Prow's `--gcs-credentials-file`, `--s3-credentials-file`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct StoreArgs {
    /// GCS service-account key file (Prow mounts `gcs_credentials_secret` at
    /// /secrets/gcs/service-account.json); without it, Application Default Credentials or the
    /// metadata server.
    #[arg(long, env = "GCS_CREDENTIALS_FILE")]
    pub gcs_credentials_file: Option<PathBuf>,
    /// Prow's S3 credentials JSON (region, endpoint, insecure, s3_force_path_style, access_key,
    /// secret_key) for `s3://` buckets.
    #[arg(long, env = "S3_CREDENTIALS_FILE")]
    pub s3_credentials_file: Option<PathBuf>,
}

impl StoreArgs {
    /// The config for these flags and the process environment, with `local_dir` for `gs://`.
    pub fn config(&self, local_dir: Option<PathBuf>) -> StoreConfig {
        StoreConfig {
            gcs_credentials_file: self.gcs_credentials_file.clone(),
            s3_credentials_file: self.s3_credentials_file.clone(),
            local_dir,
            ..StoreConfig::default()
        }
        .with_process_env()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prow_s3_credentials_files_parse_and_pick_endpoints() {
        let creds: S3Credentials = serde_json::from_str(
            r#"{"region":"us-east-1","endpoint":"http://minio.example:9000","insecure":true,
                "s3_force_path_style":true,"access_key":"AK","secret_key":"SK"}"#,
        )
        .unwrap();
        assert!(creds.insecure);
        assert_eq!(
            creds.endpoint_for("bkt").as_deref(),
            Some("http://minio.example:9000")
        );
        let virtual_hosted = S3Credentials {
            s3_force_path_style: false,
            ..creds.clone()
        };
        assert_eq!(
            virtual_hosted.endpoint_for("bkt").as_deref(),
            Some("http://bkt.minio.example:9000")
        );
        assert_eq!(S3Credentials::default().endpoint_for("bkt"), None);
        let partial: S3Credentials = serde_json::from_str(r#"{"region":"eu-west-1"}"#).unwrap();
        assert_eq!(partial.access_key, "");
    }

    #[tokio::test]
    async fn buckets_route_by_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Stores::new(StoreConfig {
            local_dir: Some(dir.path().join("local")),
            ..StoreConfig::default()
        })
        .unwrap();
        // gs:// and bare names share the local directory under prow up; s3:// without S3
        // credentials too.
        stores
            .put("gs://b1", "x/a.txt", Bytes::from("1"), "")
            .await
            .unwrap();
        stores
            .put("b2", "x/a.txt", Bytes::from("2"), "")
            .await
            .unwrap();
        stores
            .put("s3://b3", "x/a.txt", Bytes::from("3"), "")
            .await
            .unwrap();
        for (bucket, want) in [("b1", "1"), ("b2", "2"), ("b3", "3")] {
            let on_disk = dir.path().join("local").join(bucket).join("x/a.txt");
            assert_eq!(std::fs::read_to_string(on_disk).unwrap(), want);
        }
        let file_bucket = format!("file://{}/fb", dir.path().display());
        stores
            .put(&file_bucket, "y.txt", Bytes::from("4"), "")
            .await
            .unwrap();
        assert_eq!(
            stores.get(&file_bucket, "y.txt").await.unwrap(),
            Some(Bytes::from("4"))
        );
        assert!(dir.path().join("fb/y.txt").is_file());
        assert!(matches!(
            stores.get("az://c", "x").await,
            Err(ArtifactError::UnsupportedBucket(_))
        ));
    }

    #[test]
    fn the_environment_names_emulators_and_default_credentials() {
        let env = |k: &str| match k {
            STORAGE_EMULATOR_HOST => Some("127.0.0.1:4443".to_owned()),
            GOOGLE_APPLICATION_CREDENTIALS => Some(String::new()),
            _ => None,
        };
        let c = StoreConfig::default().with_env(&env);
        assert_eq!(c.gcs_emulator.as_deref(), Some("127.0.0.1:4443"));
        assert_eq!(c.application_credentials, None);
        assert!(c.is_configured());
        assert!(!StoreConfig::default().is_configured());
        let adc =
            |k: &str| (k == GOOGLE_APPLICATION_CREDENTIALS).then(|| "/etc/gcs/key.json".into());
        assert!(StoreConfig::default().with_env(&adc).is_configured());
    }
}
