//! prow-kube: how every function reads and writes ProwJobs and Pods through `kube::Client`
//! (the real API server in a cluster, the embedded one under `prow up`). Writes are idempotent:
//! creates treat AlreadyExists as done, updates re-read and retry on 409 Conflict.

use std::fmt::Debug;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, Config};
use prow_core::prowjob::ProwJob;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many times a read-modify-write is retried on 409 Conflict before giving up.
const CONFLICT_RETRIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("kube config: {0}")]
    Config(String),
    #[error("{verb} {kind} {name}: {source}")]
    Api {
        verb: &'static str,
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("{verb} {kind} {name}: still conflicting after {CONFLICT_RETRIES} attempts")]
    Conflict {
        verb: &'static str,
        kind: &'static str,
        name: String,
    },
}

impl KubeError {
    /// The HTTP status the API server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            KubeError::Api {
                source: kube::Error::Api(s),
                ..
            } => Some(s.code),
            _ => None,
        }
    }
}

/// Where the Kubernetes API is: an explicit URL (the embedded server under `prow up`, tests),
/// else KUBECONFIG / in-cluster service account.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeOptions {
    /// Kubernetes API server URL (plain http for the embedded server); default: kubeconfig or in-cluster.
    #[arg(long = "kube-url", env = "KUBE_URL")]
    pub url: Option<String>,
    /// Build clusters, as Prow's `--kubeconfig`: one context per cluster alias a job's
    /// `cluster` names; a `default` context (else the API above) runs jobs that name none.
    #[arg(long = "kubeconfig", env = "BUILD_CLUSTERS_KUBECONFIG")]
    pub build_clusters: Option<std::path::PathBuf>,
}

/// The cluster alias of jobs that name none (Prow's `kube.DefaultClusterAlias`).
pub const DEFAULT_CLUSTER: &str = "default";

/// The build clusters pods run in, by the alias a ProwJob's `spec.cluster` names.
#[derive(Clone)]
pub struct BuildClusters {
    clients: std::collections::BTreeMap<String, Client>,
}

impl std::fmt::Debug for BuildClusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildClusters")
            .field("aliases", &self.clients.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl BuildClusters {
    /// Only the `default` cluster.
    pub fn single(default: Client) -> Self {
        let mut clients = std::collections::BTreeMap::new();
        clients.insert(DEFAULT_CLUSTER.to_owned(), default);
        BuildClusters { clients }
    }

    /// Adds (or replaces) the cluster called `alias`.
    pub fn with_alias(mut self, alias: impl Into<String>, client: Client) -> Self {
        self.clients.insert(alias.into(), client);
        self
    }

    /// The cluster a job's `spec.cluster` names (`""` is `default`); `None` when unknown, which
    /// ends the job in `error` as Prow does.
    pub fn get(&self, alias: &str) -> Option<&Client> {
        let alias = if alias.is_empty() {
            DEFAULT_CLUSTER
        } else {
            alias
        };
        self.clients.get(alias)
    }

    /// Every cluster, `default` included, by alias.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Client)> {
        self.clients
            .iter()
            .map(|(alias, client)| (alias.as_str(), client))
    }

    /// `default` is `default_client` unless the kubeconfig has a `default` context; every
    /// context of the kubeconfig at `options.build_clusters` is a cluster of its name.
    pub async fn from_options(
        options: &KubeOptions,
        default_client: Client,
    ) -> Result<Self, KubeError> {
        let mut clusters = BuildClusters::single(default_client);
        let Some(path) = &options.build_clusters else {
            return Ok(clusters);
        };
        install_crypto_provider();
        let kubeconfig = kube::config::Kubeconfig::read_from(path)
            .map_err(|e| KubeError::Config(format!("{}: {e}", path.display())))?;
        for context in &kubeconfig.contexts {
            let settings = kube::config::KubeConfigOptions {
                context: Some(context.name.clone()),
                ..kube::config::KubeConfigOptions::default()
            };
            let config = Config::from_custom_kubeconfig(kubeconfig.clone(), &settings)
                .await
                .map_err(|e| {
                    KubeError::Config(format!("{} context {}: {e}", path.display(), context.name))
                })?;
            let client = if config.cluster_url.scheme_str() == Some("http") {
                plain_http_client(config)?
            } else {
                Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))?
            };
            clusters = clusters.with_alias(context.name.clone(), client);
        }
        Ok(clusters)
    }
}

/// Installs ring as the process-wide rustls provider once; several crates pull in rustls and
/// without a chosen provider the first TLS use would panic.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds a client from [`KubeOptions`].
pub async fn client(options: &KubeOptions) -> Result<Client, KubeError> {
    install_crypto_provider();
    match &options.url {
        Some(url) => client_for_url(url),
        None => {
            let config = Config::infer()
                .await
                .map_err(|e| KubeError::Config(e.to_string()))?;
            Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
        }
    }
}

/// A client for the API server at `url`: the embedded one (`prow up`, tests) or any other.
pub fn client_for_url(url: &str) -> Result<Client, KubeError> {
    client_for_url_with_token(url, None)
}

/// As [`client_for_url`], sending `Authorization: Bearer <token>` when given (the embedded
/// API server requires one when it listens beyond loopback).
pub fn client_for_url_with_token(url: &str, token: Option<&str>) -> Result<Client, KubeError> {
    install_crypto_provider();
    let uri: http::Uri = url
        .parse()
        .map_err(|e| KubeError::Config(format!("invalid --kube-url {url:?}: {e}")))?;
    let mut config = Config::new(uri.clone());
    if let Some(token) = token {
        let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| KubeError::Config("the API token is not a valid header value".into()))?;
        // Keeps the token out of hyper's and kube's debug output.
        value.set_sensitive(true);
        config.headers.push((http::header::AUTHORIZATION, value));
    }
    if uri.scheme_str() == Some("http") {
        return plain_http_client(config);
    }
    Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
}

/// kube's own builder sets up rustls and loads the system's root certificates even for a plain
/// `http://` URL, which is most of a cold function's start-up time; plain HTTP needs none of it.
fn plain_http_client(config: Config) -> Result<Client, KubeError> {
    use kube::client::ConfigExt;
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_nodelay(true);
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .auth_layer()
                .map_err(|e| KubeError::Config(e.to_string()))?,
        )
        .layer(
            config
                .extra_headers_layer()
                .map_err(|e| KubeError::Config(e.to_string()))?,
        )
        .map_err(
            |e: hyper_util::client::legacy::Error| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(e)
            },
        )
        .service(http);
    Ok(Client::new(service, config.default_namespace))
}

/// Result of an idempotent create.
#[derive(Debug, Clone, PartialEq)]
pub enum Created<K> {
    /// We created it.
    New(K),
    /// An object with that name already existed (a repeated event); nothing was written.
    Existing,
}

/// Namespaced access to one kind of object with Prow's write discipline.
#[derive(Clone)]
pub struct Objects<K> {
    api: Api<K>,
    kind: &'static str,
}

impl<K> Debug for Objects<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").field("kind", &self.kind).finish()
    }
}

pub type ProwJobs = Objects<ProwJob>;
pub type Pods = Objects<Pod>;

impl ProwJobs {
    pub fn new(client: Client, namespace: &str) -> Self {
        Objects {
            api: Api::namespaced(client, namespace),
            kind: "prowjob",
        }
    }
}

impl Pods {
    pub fn new(client: Client, namespace: &str) -> Self {
        Objects {
            api: Api::namespaced(client, namespace),
            kind: "pod",
        }
    }
}

fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

impl<K> Objects<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
    K::DynamicType: Default,
{
    fn err(&self, verb: &'static str, name: &str, source: kube::Error) -> KubeError {
        KubeError::Api {
            verb,
            kind: self.kind,
            name: name.to_string(),
            source,
        }
    }

    /// The raw kube API, for calls this wrapper does not cover (watch, log).
    pub fn api(&self) -> &Api<K> {
        &self.api
    }

    pub async fn get(&self, name: &str) -> Result<Option<K>, KubeError> {
        self.api
            .get_opt(name)
            .await
            .map_err(|e| self.err("get", name, e))
    }

    /// Lists objects, optionally filtered by a label selector (`k=v,k2 in (a,b)`).
    pub async fn list(&self, label_selector: Option<&str>) -> Result<Vec<K>, KubeError> {
        let mut params = ListParams::default();
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        self.api
            .list(&params)
            .await
            .map(|l| l.items)
            .map_err(|e| self.err("list", label_selector.unwrap_or(""), e))
    }

    /// Creates `obj`; an existing object of the same name means a repeated event, not an error.
    pub async fn create(&self, obj: &K) -> Result<Created<K>, KubeError> {
        let name = obj.meta().name.clone().unwrap_or_default();
        match self.api.create(&PostParams::default(), obj).await {
            Ok(created) => Ok(Created::New(created)),
            Err(e) if is_status(&e, 409) => Ok(Created::Existing),
            Err(e) => Err(self.err("create", &name, e)),
        }
    }

    /// Deletes by name; already gone is fine.
    pub async fn delete(&self, name: &str) -> Result<(), KubeError> {
        match self.api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(self.err("delete", name, e)),
        }
    }

    /// Read-modify-write of the whole object: `change` edits a fresh copy and says whether it
    /// changed anything; on 409 the object is re-read and `change` applied again. Returns the
    /// stored object, or `None` when the object does not exist.
    pub async fn update(
        &self,
        name: &str,
        change: impl FnMut(&mut K) -> bool,
    ) -> Result<Option<K>, KubeError> {
        self.read_modify_write(name, false, change).await
    }

    /// Like [`Objects::update`], but writes through the `status` subresource.
    pub async fn update_status(
        &self,
        name: &str,
        change: impl FnMut(&mut K) -> bool,
    ) -> Result<Option<K>, KubeError> {
        self.read_modify_write(name, true, change).await
    }

    async fn read_modify_write(
        &self,
        name: &str,
        status: bool,
        mut change: impl FnMut(&mut K) -> bool,
    ) -> Result<Option<K>, KubeError> {
        let verb = if status { "update status of" } else { "update" };
        for _ in 0..CONFLICT_RETRIES {
            let Some(mut obj) = self.get(name).await? else {
                return Ok(None);
            };
            if !change(&mut obj) {
                return Ok(Some(obj));
            }
            let result = if status {
                self.api
                    .replace_status(name, &PostParams::default(), &obj)
                    .await
            } else {
                self.api.replace(name, &PostParams::default(), &obj).await
            };
            match result {
                Ok(stored) => return Ok(Some(stored)),
                Err(e) if is_status(&e, 409) => {}
                Err(e) if is_status(&e, 404) => return Ok(None),
                Err(e) => return Err(self.err(verb, name, e)),
            }
        }
        Err(KubeError::Conflict {
            verb,
            kind: self.kind,
            name: name.to_string(),
        })
    }
}

#[cfg(feature = "test-support")]
pub mod test_support {
    //! An in-memory embedded API server on a loopback port, for black-box tests of functions.

    use tokio::sync::oneshot;

    /// A running embedded API server; stops when dropped.
    #[derive(Debug)]
    pub struct LocalApi {
        pub url: String,
        pub server: prow_local::ApiServer,
        stop: Option<oneshot::Sender<()>>,
    }

    impl LocalApi {
        /// Starts an in-memory server on 127.0.0.1:<random port>.
        pub async fn start() -> std::io::Result<Self> {
            let server = prow_local::ApiServer::in_memory().map_err(std::io::Error::other)?;
            Self::start_with(server).await
        }

        pub async fn start_with(server: prow_local::ApiServer) -> std::io::Result<Self> {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let (stop, stopped) = oneshot::channel::<()>();
            let state = server.clone();
            tokio::spawn(async move {
                let _ = prow_local::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await;
            });
            Ok(LocalApi {
                url,
                server,
                stop: Some(stop),
            })
        }

        pub fn client(&self) -> Result<kube::Client, super::KubeError> {
            super::client_for_url(&self.url)
        }
    }

    impl Drop for LocalApi {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
        }
    }
}
