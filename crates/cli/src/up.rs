//! `prow up`: the whole system on one machine. An embedded Kubernetes API server on a durable
//! file, a local kubelet, the in-process broker routing by the same `eventing/` manifests that
//! are deployed on Knative, and every function mounted in-process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use clap::Args;
use prow_broker::apiserver::ApiServerAdapter;
use prow_broker::{
    Broker, BrokerOptions, Clock, Manifests, PingTicker, SenderPolicy, guarded_ingress_router,
};
use prow_core::config::{self, Config, LoadOptions};
use prow_local::container::ContainerEngine;
use prow_local::kubelet::{Kubelet, KubeletConfig};
use prow_local::{ApiServer, MemoryLogs};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Prow's config.yaml.
    #[arg(long, env = "CONFIG_PATH", default_value = "config/config.yaml")]
    config_path: PathBuf,
    /// Job config file or directory.
    #[arg(long, env = "JOB_CONFIG_PATH", default_value = "config/jobs")]
    job_config_path: PathBuf,
    /// plugins.yaml.
    #[arg(
        long = "plugin-config",
        env = "PLUGIN_CONFIG",
        default_value = "config/plugins.yaml"
    )]
    plugin_config: PathBuf,
    /// Route by the Knative Eventing manifests (Broker, Triggers, PingSources,
    /// ApiServerSources) in this directory instead of the ones compiled into `prow`.
    #[arg(long)]
    eventing_dir: Option<PathBuf>,
    /// More eventing manifest files, added to the compiled-in or `--eventing-dir` ones.
    #[arg(long = "eventing-file")]
    eventing_files: Vec<PathBuf>,
    /// Where state lives: the API server's database, pod work dirs, artifacts, secrets.
    #[arg(long, env = "PROW_STATE_DIR", default_value = ".prow")]
    state_dir: PathBuf,
    /// Kubernetes API (for kubectl and the functions). Beyond loopback it requires a bearer
    /// token (--api-token-file, else one generated in `<state-dir>/api-token`), which the
    /// kubeconfig carries.
    #[arg(long, default_value = "127.0.0.1:8081")]
    api_addr: SocketAddr,
    /// The API server's bearer token (a secret file); required of clients whenever given.
    #[arg(long, env = "PROW_API_TOKEN_FILE")]
    api_token_file: Option<PathBuf>,
    /// GitHub webhook endpoint (hook).
    #[arg(long, default_value = "127.0.0.1:8888")]
    hook_addr: SocketAddr,
    /// Deck, the dashboard.
    #[arg(long, default_value = "127.0.0.1:8080")]
    deck_addr: SocketAddr,
    /// Broker ingress (`POST /prow/default`).
    #[arg(long, default_value = "127.0.0.1:0")]
    broker_addr: SocketAddr,
    /// HMAC secret file for webhooks; default: `<state-dir>/hmac-token`, generated on first run.
    #[arg(long, env = "HMAC_SECRET_FILE")]
    hmac_secret_file: Option<PathBuf>,
    /// GitHub API endpoint.
    #[arg(long, env = "GITHUB_ENDPOINT", default_value = prow_github::DEFAULT_ENDPOINT)]
    github_endpoint: String,
    /// GitHub token file; without one (or an app), GitHub is simulated and every call is logged.
    #[arg(long, env = "GITHUB_TOKEN_PATH")]
    github_token_path: Option<PathBuf>,
    /// `--github-app-id` and `--github-app-private-key-path` (boxed: `Command` stays small).
    #[command(flatten)]
    github_app: Box<GitHubAppArgs>,
    /// Send every function's GitHub calls through ghproxy (functions/ghproxy), which answers
    /// repeated reads with free 304s from a cache kept in `<state-dir>/ghproxy`. Only with a
    /// real GitHub (a token or an app): a simulated one makes no calls to cache.
    #[arg(long, env = "PROW_GHPROXY")]
    ghproxy: bool,
    /// Where ghproxy listens (with --ghproxy).
    #[arg(long, default_value = "127.0.0.1:0")]
    ghproxy_addr: SocketAddr,
    /// Deck users allowed to act: lines of `token user`.
    #[arg(long, env = "AUTH_TOKEN_FILE")]
    auth_token_file: Option<PathBuf>,
    /// Fire every PingSource once at start (periodics, resyncs) instead of waiting for the schedule.
    #[arg(long)]
    tick: bool,
    /// Prow's S3 credentials JSON (region, endpoint, s3_force_path_style, access_key, secret_key):
    /// `s3://` buckets go to that server (MinIO, ...) instead of `<state-dir>/artifacts`.
    #[arg(long, env = "S3_CREDENTIALS_FILE")]
    s3_credentials_file: Option<PathBuf>,
    /// Where pods run: `podman` (user containers inside their images, Prow's pod utilities on
    /// the host), `host` (every container a host process, images ignored), or `auto` (podman
    /// when `podman info` works here, else host).
    #[arg(long, value_enum, env = "PROW_POD_RUNTIME", default_value = "auto")]
    pod_runtime: PodRuntime,
    /// Global podman arguments, whitespace-separated (e.g. `--runtime runc` where the default
    /// OCI runtime cannot run here).
    #[arg(long, env = "PROW_PODMAN_ARGS", allow_hyphen_values = true)]
    podman_args: Option<String>,
    /// Extra `podman run` arguments, whitespace-separated (e.g. `--ulimit nofile=1024:1024` in a
    /// sandbox that refuses podman's default limits).
    #[arg(long, env = "PROW_PODMAN_RUN_ARGS", allow_hyphen_values = true)]
    podman_run_args: Option<String>,
}

/// Acting as a GitHub App instead of with a token, as Prow's flags name it.
#[derive(Debug, clap::Args)]
pub(crate) struct GitHubAppArgs {
    /// Act as this GitHub App (with --github-app-private-key-path) instead of a token.
    #[arg(long, env = "GITHUB_APP_ID", requires = "github_app_private_key_path")]
    github_app_id: Option<u64>,
    /// The GitHub App's private key (PEM).
    #[arg(long, env = "GITHUB_APP_PRIVATE_KEY_PATH", requires = "github_app_id")]
    github_app_private_key_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PodRuntime {
    Auto,
    Podman,
    Host,
}

/// The engine pods run with, from the flags; `auto` probes `podman info`.
fn container_engine(args: &UpArgs) -> anyhow::Result<Option<ContainerEngine>> {
    let split = |s: &Option<String>| -> Vec<String> {
        s.as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let engine = ContainerEngine {
        global_args: split(&args.podman_args),
        run_args: split(&args.podman_run_args),
        ..ContainerEngine::podman()
    };
    let works = || {
        let argv = engine.command(&["info"]);
        std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    match args.pod_runtime {
        PodRuntime::Host => Ok(None),
        PodRuntime::Auto => Ok(works().then_some(engine)),
        PodRuntime::Podman if works() => Ok(Some(engine)),
        PodRuntime::Podman => anyhow::bail!(
            "--pod-runtime podman: `{}` fails here",
            engine.command(&["info"]).join(" ")
        ),
    }
}

/// Where everything ended up; printed as one JSON line so scripts and tests can find it.
#[derive(Debug, serde::Serialize)]
struct Endpoints {
    api: String,
    hook: String,
    deck: String,
    broker: String,
    /// ghproxy's URL with --ghproxy and a real GitHub.
    #[serde(skip_serializing_if = "Option::is_none")]
    ghproxy: Option<String>,
    kubeconfig: PathBuf,
    hmac_secret_file: PathBuf,
}

pub(crate) async fn run(args: UpArgs) -> anyhow::Result<()> {
    prow_kube::install_crypto_provider();
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating state dir {}", args.state_dir.display()))?;
    let config = Arc::new(load_config(&args)?);

    // The embedded API server and kubelet.
    let logs = MemoryLogs::new();
    let db = args.state_dir.join("state.redb");
    let api = ApiServer::open(&db)
        .with_context(|| format!("opening {}", db.display()))?
        .with_log_source(Arc::new(logs.clone()));
    let api_token = api_token(&args)?;
    prow_local::auth::check_listen(args.api_addr, api_token.as_ref())?;
    let api_listener = bind(args.api_addr, "API server").await?;
    let api_url = format!("http://{}", api_listener.local_addr()?);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(prow_local::serve_with_token(
        api_listener,
        api.clone(),
        api_token.clone(),
        wait(stopped.clone()),
    )));
    let bearer = api_token.as_ref().map(prow_local::auth::ApiToken::expose);
    let kube = prow_kube::client_for_url_with_token(&api_url, bearer)?;
    let artifacts_dir = args.state_dir.join("artifacts");
    // gs:// buckets live in the state dir in Prow's layout; s3:// ones too unless S3 credentials
    // name a server. Crier, Deck and the pods' utilities share this one configuration.
    let storage = prow_artifacts::StoreConfig {
        local_dir: Some(artifacts_dir.clone()),
        s3_credentials_file: args.s3_credentials_file.clone(),
        ..prow_artifacts::StoreConfig::default()
    };
    let artifacts: Arc<dyn prow_artifacts::ArtifactStore> =
        Arc::new(prow_artifacts::Stores::new(storage).context("artifact storage")?);
    let ns = config.prow.prowjob_namespace.clone();
    let mut kubelet_config = KubeletConfig::new(args.state_dir.join("pods"));
    kubelet_config.on_finished = Some(Arc::new(crate::sidecar::LocalSidecar {
        prowjobs: prow_kube::ProwJobs::new(kube.clone(), &ns),
        store: artifacts.clone(),
    }));
    // Decorated pods run Prow's pod utilities from their images' entrypoints: here, this binary.
    kubelet_config.utilities = Some(std::env::current_exe().context("locating the prow binary")?);
    kubelet_config.utility_env = vec![(
        prow_podutils::LOCAL_ARTIFACTS_ENV.to_owned(),
        artifacts_dir.display().to_string(),
    )];
    if let Some(creds) = &args.s3_credentials_file {
        let creds = std::path::absolute(creds).unwrap_or_else(|_| creds.clone());
        kubelet_config.utility_env.push((
            prow_podutils::LOCAL_S3_CREDENTIALS_ENV.to_owned(),
            creds.display().to_string(),
        ));
    }
    // The bundled example clones "this checkout" (`clone_uri: .`) and runs `prow` on it: a
    // relative clone_uri names a path in the checkout holding the job config, and host
    // processes find this very binary as `prow`.
    kubelet_config.utility_env.push((
        prow_podutils::clone::LOCAL_CLONE_ROOT_ENV.to_owned(),
        local_clone_root(&args.job_config_path)
            .display()
            .to_string(),
    ));
    kubelet_config.host_path = vec![prow_on_path(&args.state_dir)?];
    kubelet_config.container_engine = container_engine(&args)?;
    let pods_banner = match &kubelet_config.container_engine {
        Some(engine) => format!(
            "containers in their images with {} (Prow's pod utilities run on the host as `prow <utility>`); work dirs in {}",
            engine.program.display(),
            args.state_dir.join("pods").display()
        ),
        None => format!(
            "host processes in {} (images are not used; decorated jobs' utilities run as `prow <utility>`)",
            args.state_dir.join("pods").display()
        ),
    };
    let kubelet = Kubelet::new(api.clone(), logs, kubelet_config);
    let kubelet_stop = wait(stopped.clone());
    tokio::spawn(async move {
        if let Err(err) = kubelet.run(kubelet_stop).await {
            tracing::error!(%err, "kubelet stopped");
        }
    });

    // Shared parts of the functions.
    let real_github = args.github_token_path.is_some() || args.github_app.github_app_id.is_some();
    let ghproxy = match (args.ghproxy, real_github) {
        (true, true) => {
            let (url, task) = start_ghproxy(&args, wait(stopped.clone())).await?;
            tasks.push(task);
            Some(url)
        }
        (true, false) => {
            tracing::warn!(
                "--ghproxy without a GitHub token or app: GitHub is simulated, nothing to cache"
            );
            None
        }
        (false, _) => None,
    };
    let github = prow_github::connect(&prow_github::Settings {
        endpoint: ghproxy
            .clone()
            .unwrap_or_else(|| args.github_endpoint.clone()),
        token_path: args.github_token_path.clone(),
        app_id: args.github_app.github_app_id,
        app_private_key_path: args.github_app.github_app_private_key_path.clone(),
        ..prow_github::Settings::default()
    })
    .context("connecting to GitHub")?;
    let deck_listener = bind(args.deck_addr, "Deck").await?;
    let deck_url = format!("http://{}", deck_listener.local_addr()?);

    // The config as ConfigMaps mirrored to files (crate::up_config): config-updater's writes
    // reach the functions that follow those files without a restart.
    let mounted = crate::up_config::Mounted::new(&args.state_dir);
    let user_config = crate::up_config::user_configmaps(
        &args.config_path,
        &args.job_config_path,
        &args.plugin_config,
    )?;
    crate::up_config::seed(&kube, &ns, user_config).await?;
    crate::up_config::mirror_once(&kube, &ns, &mounted).await?;
    let live_config =
        prow_runtime::LiveConfig::load(mounted.load_options(), crate::up_config::RELOAD_INTERVAL)
            .context("loading the mirrored config")?;
    tokio::spawn(crate::up_config::run_mirror(
        kube.clone(),
        ns.clone(),
        mounted,
        wait(stopped.clone()),
    ));

    // The functions the broker delivers to, by Knative Service name.
    let mut routers: HashMap<String, Router> = HashMap::new();
    routers.insert(
        "trigger".into(),
        prow_trigger::router(
            prow_trigger::TriggerState::new(config.clone(), kube.clone(), github.clone())
                .with_live_config(live_config.clone()),
        ),
    );
    routers.insert(
        "config-updater".into(),
        prow_config_updater::router(prow_config_updater::ConfigUpdaterState::new(
            live_config.clone(),
            github.clone(),
            local_build_clusters(&config, &kube),
        )),
    );
    routers.insert(
        "needs-rebase".into(),
        prow_needs_rebase::router(prow_needs_rebase::NeedsRebaseState::new(
            live_config.clone(),
            github.clone(),
        )),
    );
    routers.insert(
        "cherrypicker".into(),
        prow_cherrypicker::router(prow_cherrypicker::CherrypickerState::new(
            live_config.clone(),
            github.clone(),
            prow_cherrypicker::Options::default(),
        )),
    );
    // Acts only where config.yaml has `branch-protection:` (the example config has none).
    routers.insert(
        "branchprotector".into(),
        prow_branchprotector::router(prow_branchprotector::BranchProtectorState::new(
            live_config.clone(),
            github.clone(),
        )),
    );
    // Follows the mirrored config: a merged change of presubmits reaches open PRs.
    routers.insert(
        "status-reconciler".into(),
        prow_status_reconciler::router(prow_status_reconciler::StatusReconcilerState::new(
            live_config.clone(),
            kube.clone(),
            github.clone(),
        )),
    );
    // GitHub redelivers what hook missed while `prow up` was down: the app's own hook when
    // acting as an app (a token names no hook by itself, so nothing is watched then).
    let redelivery_hooks = match args.github_app.github_app_id {
        Some(_) => vec![prow_github::Hook::App],
        None => Vec::new(),
    };
    routers.insert(
        "redelivery".into(),
        prow_redelivery::router(prow_redelivery::RedeliveryState::new(
            github.clone(),
            redelivery_hooks,
        )),
    );
    routers.insert(
        "plugins".into(),
        prow_plugins::router(
            prow_plugins::PluginsState::new(config.clone(), github.clone())
                .with_live_config(live_config.clone())
                .with_prowjobs(Arc::new(prow_kube::ProwJobs::new(
                    kube.clone(),
                    &config.prow.prowjob_namespace,
                ))),
        ),
    );
    routers.insert(
        "tide".into(),
        prow_tide::router(
            prow_tide::TideState::new(config.clone(), kube.clone(), github.clone())
                .with_deck_url(deck_url.clone()),
        ),
    );
    let mut plank_settings =
        prow_plank::Settings::from_config(&config.prow.plank, &config.prow.pod_namespace)?;
    plank_settings.urls.deck_url = Some(deck_url.clone());
    // Jobs and artifacts exist only here: links to the config's Deck would show nothing.
    plank_settings.urls.local_deck_only = true;
    routers.insert(
        "plank".into(),
        prow_plank::router(
            prow_plank::PlankState::with_settings(
                plank_settings,
                kube.clone(),
                &ns,
                prow_plank::Options {
                    build_clusters: Some(local_build_clusters(&config, &kube)),
                    ..prow_plank::Options::default()
                },
            )
            .with_live_config(live_config.clone()),
        ),
    );
    routers.insert(
        "crier".into(),
        prow_crier::router(
            prow_crier::CrierState::new(
                config.clone(),
                kube.clone(),
                github.clone(),
                Some(artifacts.clone()),
            )
            .with_live_config(live_config.clone()),
        ),
    );
    routers.insert(
        "horologium".into(),
        prow_horologium::router(
            prow_horologium::HorologiumState::new(
                config.clone(),
                kube.clone(),
                prow_horologium::Options::default(),
            )?
            .with_live_config(live_config.clone()),
        ),
    );
    routers.insert(
        "sinker".into(),
        prow_sinker::router(
            prow_sinker::SinkerState::new(
                config.clone(),
                kube.clone(),
                prow_sinker::Options::default(),
            )?
            .with_build_clusters(&local_build_clusters(&config, &kube))
            .with_live_config(live_config.clone()),
        ),
    );

    // The broker, its sources, and its ingress.
    let mut manifests = match &args.eventing_dir {
        Some(dir) => {
            Manifests::load_dir(dir).with_context(|| format!("loading {}", dir.display()))?
        }
        None => embedded_manifests()?,
    };
    for file in &args.eventing_files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        manifests.extend(Manifests::parse_str(&text, &file.display().to_string())?);
    }
    // Accepted events wait on disk until delivered: a webhook hook answered 2xx survives kill -9.
    let broker_options = BrokerOptions {
        durable_store: Some(args.state_dir.join("broker.redb")),
        ..BrokerOptions::default()
    };
    let broker = Broker::new(&manifests, routers, broker_options)?;
    let ticker = PingTicker::new(
        &manifests.ping_sources,
        Arc::new(broker.clone()),
        Clock::system(),
    )?;
    let adapter = ApiServerAdapter::new(
        kube.clone(),
        &api_url,
        &manifests.api_server_sources,
        Arc::new(broker.clone()),
    )?;
    let broker_listener = bind(args.broker_addr, "broker").await?;
    let broker_url = format!("http://{}", broker_listener.local_addr()?);
    tokio::spawn(ticker.clone().run(wait(stopped.clone())));
    tokio::spawn(adapter.run(wait(stopped.clone())));
    // Only hook may publish GitHub events: it holds this token, a pod that can reach the
    // ingress port does not (on Knative: OIDC sender identity and an EventPolicy).
    let sink_token_file = generated_secret(&args.state_dir.join("broker-token"))?;
    let sink_token = std::fs::read_to_string(&sink_token_file)
        .with_context(|| format!("reading {}", sink_token_file.display()))?;
    tasks.push(tokio::spawn(serve(
        broker_listener,
        guarded_ingress_router(
            broker.clone(),
            SenderPolicy::github_events_from(sink_token.trim()),
        ),
        wait(stopped.clone()),
    )));

    // hook publishes to the broker over HTTP, exactly as it does to K_SINK in a cluster.
    let hmac_secret_file = match &args.hmac_secret_file {
        Some(path) => path.clone(),
        None => generated_secret(&args.state_dir.join("hmac-token"))?,
    };
    let hook_router = prow_hook::app(prow_hook::Flags {
        hmac_secret_file: hmac_secret_file.clone(),
        k_sink: Some(format!("{broker_url}/prow/default")),
        sink_token_file: Some(sink_token_file),
        dry_run: false,
        publish_attempts: 3,
    })?;
    let hook_listener = bind(args.hook_addr, "hook").await?;
    let hook_url = format!("http://{}/hook", hook_listener.local_addr()?);
    tasks.push(tokio::spawn(serve(
        hook_listener,
        hook_router,
        wait(stopped.clone()),
    )));

    let tokens = match &args.auth_token_file {
        Some(path) => Some(prow_deck::auth::Tokens::load(path)?),
        None => None,
    };
    let deck = prow_deck::DeckState::new(
        config.clone(),
        kube.clone(),
        &ns,
        tokens,
        Some(artifacts.clone()),
        prow_deck::DeckOptions {
            pod_namespace: config.prow.pod_namespace.clone(),
            ..Default::default()
        },
    );
    tasks.push(tokio::spawn(serve(
        deck_listener,
        prow_deck::router(deck),
        wait(stopped.clone()),
    )));

    let kubeconfig = args.state_dir.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &api_url, &ns, bearer)?;
    let endpoints = Endpoints {
        api: api_url.clone(),
        hook: hook_url,
        deck: deck_url,
        broker: broker_url,
        ghproxy: ghproxy.clone(),
        kubeconfig: kubeconfig.clone(),
        hmac_secret_file,
    };
    eprintln!(
        "prow up: {} presubmits, {} postsubmits, {} periodics",
        config.summary().presubmits,
        config.summary().postsubmits,
        config.summary().periodics
    );
    eprintln!("  deck: {}", endpoints.deck);
    eprintln!(
        "  hook: {} (HMAC secret in {})",
        endpoints.hook,
        endpoints.hmac_secret_file.display()
    );
    eprintln!(
        "  api: {} (KUBECONFIG={} kubectl get prowjobs)",
        endpoints.api,
        kubeconfig.display()
    );
    eprintln!(
        "  github: {}",
        if args.github_token_path.is_some() || args.github_app.github_app_id.is_some() {
            args.github_endpoint.as_str()
        } else {
            "simulated (no --github-token-path): calls are logged, not sent"
        }
    );
    if let Some(url) = &ghproxy {
        eprintln!(
            "  ghproxy: {url} (caching {}; metrics at {url}/metrics)",
            args.github_endpoint
        );
    }
    eprintln!("  pods: {pods_banner}");
    eprintln!("ready");
    println!("{}", serde_json::to_string(&endpoints)?);

    if args.tick {
        for source in &manifests.ping_sources {
            if let Err(err) = ticker.fire_now(&source.metadata.name).await {
                tracing::warn!(%err, source = %source.metadata.name, "tick");
            }
        }
    }

    prow_runtime::shutdown_signal().await;
    eprintln!("prow up: stopping");
    let _ = stop.send(true);
    broker.shutdown().await;
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

/// The deployed wiring, compiled in so `prow up` runs from any directory: every file of
/// `eventing/` (what `kubectl apply -k .` deploys) and the test-pods ApiServerSource from `config/`.
const EMBEDDED_EVENTING: [(&str, &str); 6] = [
    (
        "eventing/apiserversource.yaml",
        include_str!("../../../eventing/apiserversource.yaml"),
    ),
    (
        "eventing/broker.yaml",
        include_str!("../../../eventing/broker.yaml"),
    ),
    (
        "eventing/dead-letters.yaml",
        include_str!("../../../eventing/dead-letters.yaml"),
    ),
    (
        "eventing/pingsources.yaml",
        include_str!("../../../eventing/pingsources.yaml"),
    ),
    (
        "eventing/triggers.yaml",
        include_str!("../../../eventing/triggers.yaml"),
    ),
    (
        "config/test-pods-source.yaml",
        include_str!("../../../config/test-pods-source.yaml"),
    ),
];

/// Where a relative `clone_uri` points: the git work tree holding the job config, else the
/// directory `prow up` runs in.
fn local_clone_root(job_config_path: &Path) -> PathBuf {
    let absolute = std::path::absolute(job_config_path).unwrap_or_else(|_| job_config_path.into());
    let dir = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent().unwrap_or(Path::new("/"))
    };
    let toplevel = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    toplevel
        .filter(|top| !top.as_os_str().is_empty())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or(absolute)
}

/// `<state-dir>/bin` with `prow` linked to this binary, for host-process containers' PATH.
fn prow_on_path(state_dir: &Path) -> anyhow::Result<PathBuf> {
    let bin = std::path::absolute(state_dir.join("bin"))?;
    std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    let link = bin.join("prow");
    let exe = std::env::current_exe().context("locating the prow binary")?;
    // A link left by an earlier run may point at another build.
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&exe, &link)
        .with_context(|| format!("linking {} to {}", link.display(), exe.display()))?;
    Ok(bin)
}

fn embedded_manifests() -> anyhow::Result<Manifests> {
    let mut all = Manifests::default();
    for (origin, text) in EMBEDDED_EVENTING {
        all.extend(Manifests::parse_str(text, origin)?);
    }
    Ok(all)
}

/// The embedded cluster under every build-cluster alias the config's jobs name, so a job
/// written for `k8s-infra-prow-build` runs here as it would there.
fn local_build_clusters(config: &Config, kube: &kube::Client) -> prow_kube::BuildClusters {
    let presubmits = config
        .presubmits
        .values()
        .flat_map(|jobs| jobs.get().iter().map(|j| &j.base));
    let postsubmits = config
        .postsubmits
        .values()
        .flat_map(|jobs| jobs.get().iter().map(|j| &j.base));
    let periodics = config.periodics.get().iter().map(|j| &j.base);
    presubmits
        .chain(postsubmits)
        .chain(periodics)
        .map(|base| base.cluster.as_str())
        .filter(|alias| !alias.is_empty())
        .fold(
            prow_kube::BuildClusters::single(kube.clone()),
            |clusters, alias| clusters.with_alias(alias, kube.clone()),
        )
}

fn load_config(args: &UpArgs) -> anyhow::Result<Config> {
    let options = LoadOptions {
        config_path: args.config_path.clone(),
        job_config_path: Some(args.job_config_path.clone()),
        plugin_config_path: Some(args.plugin_config.clone()),
    };
    match config::load(&options) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded.config)
        }
        Err(err) => {
            for d in &err.diagnostics {
                eprintln!("{d}");
            }
            bail!("the Prow config has {} error(s)", err.errors().count())
        }
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {what} to {addr}"))
}

/// Serves ghproxy in front of `--github-endpoint` with its durable cache in
/// `<state-dir>/ghproxy`; returns its URL and the serving task.
async fn start_ghproxy(
    args: &UpArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let store = prow_ghproxy::open_store(&args.state_dir.join("ghproxy"))?;
    let state = prow_ghproxy::GhproxyState::new(
        &args.github_endpoint,
        Arc::new(store),
        prow_ghproxy::Options::default(),
    )?;
    let listener = bind(args.ghproxy_addr, "ghproxy").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(serve(listener, prow_ghproxy::router(state), shutdown));
    Ok((url, task))
}

/// Resolves when the stop flag is raised.
async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A random secret, created once and kept (mode 0600): the webhook secret stays what GitHub has.
fn generated_secret(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.exists() {
        let token =
            uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(path, token).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(path.to_path_buf())
}

/// The API server's token: the given file's, else (beyond loopback) one generated once in the
/// state dir; none on loopback, where only this machine's users reach it.
fn api_token(args: &UpArgs) -> anyhow::Result<Option<prow_local::auth::ApiToken>> {
    let path = match &args.api_token_file {
        Some(path) => path.clone(),
        None if args.api_addr.ip().is_loopback() => return Ok(None),
        None => generated_secret(&args.state_dir.join("api-token"))?,
    };
    Ok(Some(prow_local::auth::ApiToken::from_file(&path)?))
}

/// Writes the kubeconfig, readable by its owner only when it holds a token.
fn write_kubeconfig(
    path: &Path,
    api_url: &str,
    namespace: &str,
    token: Option<&str>,
) -> anyhow::Result<()> {
    std::fs::write(path, kubeconfig(api_url, namespace, token))
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if token.is_some() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// A kubeconfig for the embedded API server (plain HTTP, with its bearer token if it has one).
pub(crate) fn kubeconfig(api_url: &str, namespace: &str, token: Option<&str>) -> String {
    let user = match token {
        Some(token) => format!("\n    token: {token}"),
        None => " {}".to_owned(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prow-up\n  cluster:\n    server: {api_url}\ncontexts:\n- name: prow-up\n  context:\n    cluster: prow-up\n    user: prow-up\n    namespace: {namespace}\ncurrent-context: prow-up\nusers:\n- name: prow-up\n  user:{user}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest added to `eventing/` must be compiled in too, or `prow up` would route
    /// differently from the cluster.
    #[test]
    fn every_eventing_manifest_is_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eventing");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("eventing/")
            .map(|entry| {
                let name = entry.expect("entry").file_name();
                format!("eventing/{}", name.to_string_lossy())
            })
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = EMBEDDED_EVENTING
            .iter()
            .map(|(origin, _)| *origin)
            .filter(|origin| origin.starts_with("eventing/"))
            .collect();
        assert_eq!(on_disk, embedded);
        let compiled = embedded_manifests().expect("embedded manifests parse");
        let from_dir = Manifests::load_dir(&dir).expect("eventing/ parses");
        assert_eq!(compiled.triggers.len(), from_dir.triggers.len());
        assert_eq!(compiled.ping_sources.len(), from_dir.ping_sources.len());
        assert!(compiled.api_server_sources.len() > from_dir.api_server_sources.len());
    }

    /// The kubeconfig `prow up` writes lets kube-rs (as kubectl) into an API server that
    /// requires a token; the same kubeconfig without it is turned away.
    #[tokio::test]
    async fn the_kubeconfig_carries_the_api_token_a_guarded_api_server_requires() {
        use k8s_openapi::api::core::v1::Pod;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let token = prow_local::auth::ApiToken::new("tok-kubeconfig-1").expect("token");
        let api = ApiServer::in_memory().expect("api server");
        tokio::spawn(prow_local::serve_with_token(
            listener,
            api,
            Some(token),
            std::future::pending(),
        ));
        let list = |token: Option<&'static str>| {
            let url = url.clone();
            async move {
                let yaml = kubeconfig(&url, "default", token);
                let parsed = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
                let options = kube::config::KubeConfigOptions::default();
                let config = kube::Config::from_custom_kubeconfig(parsed, &options)
                    .await
                    .expect("kube config");
                let client = kube::Client::try_from(config).expect("client");
                kube::Api::<Pod>::namespaced(client, "default")
                    .list(&Default::default())
                    .await
            }
        };
        assert!(list(Some("tok-kubeconfig-1")).await.is_ok());
        match list(None).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 401),
            other => panic!("expected 401, got {other:?}"),
        }
    }
}
