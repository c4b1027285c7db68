//! prow-sinker: on each PingSource tick, deletes old ProwJobs and pods as Prow's sinker does.
//!
//! Lists the ProwJobs (ProwJob namespace) and Prow's pods (`created-by-prow=true` in the pod
//! namespace), decides with [`decide::decide`], and deletes. Deleting what is already gone is
//! fine, so repeated or concurrent ticks are harmless. Only the one cluster behind the client
//! is cleaned (Prow walks every build cluster; `exclude_clusters` has nothing to exclude here).

pub mod decide;
pub mod metrics;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use prow_core::config::{Config, LoadError};
use prow_core::jobspec::CREATED_BY_PROW;
use prow_kube::{KubeError, KubeOptions, Pods, ProwJobs};

use crate::decide::{Deletion, Kind, Limits, LimitsError, Observed, Reason};
use crate::metrics::Metrics;
pub use prow_core::clock::Clock;

/// Ping payloads are tiny; anything bigger is not a PingSource event.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Why sinker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading Prow config: {0}")]
    Config(#[from] LoadError),
    #[error(transparent)]
    Limits(#[from] LimitsError),
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// Everything the sinker router needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct SinkerState {
    /// The periodics (whose latest runs are kept) and the namespaces.
    pub config: Arc<Config>,
    /// ProwJobs in `prow.prowjob_namespace`.
    pub prowjobs: ProwJobs,
    /// Pods in `prow.pod_namespace` of each build cluster not in `sinker.exclude_clusters`,
    /// by cluster alias.
    pub clusters: Vec<(String, Pods)>,
    /// `sinker:` age limits, parsed once.
    pub limits: Limits,
    pub clock: Clock,
    /// Log and count what would be deleted, delete nothing.
    pub dry_run: bool,
    pub metrics: Arc<Metrics>,
    /// When set, each tick reads the periodics and `sinker:` limits from this source's config
    /// of the moment, so a merged config change applies without a restart (namespaces and
    /// build clusters stay as at start).
    pub live_config: Option<prow_runtime::LiveConfig>,
}

/// Optional parts of [`SinkerState`].
#[derive(Debug, Clone)]
pub struct Options {
    /// What "now" is; default: the system clock.
    pub clock: Clock,
    /// Decide and log, write nothing.
    pub dry_run: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Clock::system(),
            dry_run: false,
        }
    }
}

impl SinkerState {
    pub fn new(
        config: Arc<Config>,
        client: kube::Client,
        options: Options,
    ) -> Result<Self, StartError> {
        let Options { clock, dry_run } = options;
        let limits = Limits::from_config(&config.prow.sinker)?;
        let prowjobs = ProwJobs::new(client.clone(), &config.prow.prowjob_namespace);
        let clusters = vec![(
            prow_kube::DEFAULT_CLUSTER.to_owned(),
            Pods::new(client, &config.prow.pod_namespace),
        )];
        Ok(Self {
            config,
            prowjobs,
            clusters,
            limits,
            clock,
            dry_run,
            metrics: Arc::new(Metrics::default()),
            live_config: None,
        })
    }

    /// Follows `live` from now on (see [`SinkerState::live_config`]).
    pub fn with_live_config(mut self, live: prow_runtime::LiveConfig) -> Self {
        self.live_config = Some(live);
        self.current()
    }

    /// This state with the config of the moment. Limits that no longer parse are logged and
    /// the last good ones kept: a bad merge must not stop the cleanup.
    pub fn current(&self) -> SinkerState {
        let Some(live) = &self.live_config else {
            return self.clone();
        };
        let config = live.current();
        if Arc::ptr_eq(&config, &self.config) {
            return self.clone();
        }
        let limits = match Limits::from_config(&config.prow.sinker) {
            Ok(limits) => limits,
            Err(err) => {
                tracing::error!(error = %err, "sinker: limits of the new config do not parse; keeping the last good ones");
                self.limits
            }
        };
        SinkerState {
            config,
            limits,
            ..self.clone()
        }
    }

    /// Cleans the pods of every build cluster, except those `sinker.exclude_clusters` names.
    pub fn with_build_clusters(mut self, clusters: &prow_kube::BuildClusters) -> Self {
        let excluded = &self.config.prow.sinker.exclude_clusters;
        self.clusters = clusters
            .iter()
            .filter(|(alias, _)| !excluded.iter().any(|e| e == alias))
            .map(|(alias, client)| {
                (
                    alias.to_owned(),
                    Pods::new(client.clone(), &self.config.prow.pod_namespace),
                )
            })
            .collect();
        self
    }
}

/// Flags of the sinker binary and of `prow serve sinker`; each also from env.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[command(flatten)]
    pub kube: KubeOptions,
    /// Log and count deletions, delete nothing.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Builds the router from flags: loads the config and connects to the Kubernetes API.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags.config.load_live(None)?;
    let client = prow_kube::client(&flags.kube).await?;
    let clusters = prow_kube::BuildClusters::from_options(&flags.kube, client.clone()).await?;
    let state = SinkerState::new(
        live.current(),
        client,
        Options {
            dry_run: flags.dry_run,
            ..Options::default()
        },
    )?
    .with_build_clusters(&clusters)
    .with_live_config(live);
    Ok(router(state))
}

/// `POST /` takes the ping CloudEvent; `/healthz` and `/metrics` for the platform.
pub fn router(state: SinkerState) -> Router {
    prow_runtime::tick_router(state, MAX_EVENT_BYTES)
}

/// Answers 200 with an empty body once the tick's work is done, 500 (asking for redelivery)
/// when the API server failed us; what a tick does is idempotent, so redelivery is harmless.
impl prow_runtime::TickFunction for SinkerState {
    const NAME: &'static str = "sinker";
    type Report = TickReport;
    type Error = TickError;

    fn tick(&self) -> impl Future<Output = Result<TickReport, TickError>> + Send {
        let state = self.current();
        async move { tick(&state).await }
    }

    fn ticks(&self) -> &prow_runtime::TickCounter {
        &self.metrics.ticks
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub deleted: usize,
    /// Deletions only logged because of `--dry-run`.
    pub dry_run: usize,
    /// Apparent orphans whose ProwJob turned up on a fresh read.
    pub kept: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    List(KubeError),
    /// The periodics could not be read from the config snapshot.
    #[error(transparent)]
    Config(#[from] prow_core::config::SectionError),
    #[error("{failed} of {planned} deletions failed; first error: {first}")]
    Delete {
        failed: usize,
        planned: usize,
        #[source]
        first: KubeError,
    },
}

/// Lists, decides and deletes (or, on `--dry-run`, logs and counts).
pub async fn tick(state: &SinkerState) -> Result<TickReport, TickError> {
    let now = state.clock.now();
    // ProwJobs before pods, as Prow: a pod created after the ProwJob list looks orphaned, which
    // the fresh read in `delete` (and the 30 s grace) settles.
    let prowjobs = state.prowjobs.list(None).await.map_err(TickError::List)?;
    let selector = format!("{CREATED_BY_PROW}=true");
    // Pod names are ProwJob names, unique across clusters: remember where each one lives.
    let mut pods = Vec::new();
    let mut cluster_of: HashMap<String, usize> = HashMap::new();
    for (index, (_, cluster_pods)) in state.clusters.iter().enumerate() {
        for pod in cluster_pods
            .list(Some(&selector))
            .await
            .map_err(TickError::List)?
        {
            cluster_of.insert(pod.metadata.name.clone().unwrap_or_default(), index);
            pods.push(pod);
        }
    }
    let periodics: HashSet<String> = state
        .config
        .periodic_jobs()?
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    let observed = Observed {
        prowjobs: &prowjobs,
        pods: &pods,
        periodics: &periodics,
    };
    let deletions = decide::decide(observed, &state.limits, now);

    let mut report = TickReport::default();
    let mut failures = Vec::new();
    for deletion in &deletions {
        if state.dry_run {
            tracing::info!(%deletion, "dry run: not deleted");
            state.metrics.dry_run(deletion.reason);
            report.dry_run += 1;
            continue;
        }
        match delete(state, deletion, &cluster_of).await {
            Ok(true) => {
                tracing::info!(%deletion, "deleted");
                state.metrics.deleted(deletion.reason);
                report.deleted += 1;
            }
            Ok(false) => report.kept += 1,
            Err(err) => {
                tracing::warn!(%deletion, error = %err, "not deleted");
                state.metrics.error(deletion.reason.kind());
                failures.push(err);
            }
        }
    }
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(report),
        Some(first) => Err(TickError::Delete {
            failed,
            planned: deletions.len(),
            first,
        }),
    }
}

/// Deletes one object; an orphan is first confirmed by reading its ProwJob afresh (Prow does
/// the same), and kept (`Ok(false)`) if the ProwJob exists after all.
async fn delete(
    state: &SinkerState,
    deletion: &Deletion,
    cluster_of: &HashMap<String, usize>,
) -> Result<bool, KubeError> {
    match deletion.reason.kind() {
        Kind::ProwJob => state.prowjobs.delete(&deletion.name).await.map(|()| true),
        Kind::Pod => {
            if deletion.reason == Reason::OrphanedPod
                && let Some(owner) = &deletion.prowjob
                && state.prowjobs.get(owner).await?.is_some()
            {
                tracing::info!(pod = %deletion.name, prowjob = %owner, "ProwJob appeared; pod kept");
                return Ok(false);
            }
            let index = cluster_of.get(&deletion.name).copied().unwrap_or(0);
            match state.clusters.get(index) {
                Some((_, pods)) => pods.delete(&deletion.name).await.map(|()| true),
                None => Ok(false),
            }
        }
    }
}
