//! crier: reports ProwJob changes as GitHub commit statuses and failure comments, and writes job
//! metadata (prowjob.json, started.json, finished.json, latest-build.txt) in Prow's bucket layout.
//!
//! Driven by ApiServerSource ProwJob add/update events and the `crier-resync` ping. Every
//! report is recorded in `status.prev_report_states`, so a duplicate event, or the update event
//! our own status patch causes, finds nothing left to do. A report that fails answers the
//! delivery with 503 (the broker retries) and stays unrecorded, so the next resync tick retries
//! it: nothing is lost.
//!
//! Reported once across kills: before posting a commit status crier records its intent for that
//! state; a later attempt that finds the intent (crier died between GitHub's answer and the
//! record) reads the SHA's statuses and posts only if the status is not there yet. The failure
//! comment is planned against the PR's existing comments and writes before it deletes, so a
//! repeated plan finds its own comment and leaves it.

pub mod decide;
pub mod gcs_report;
pub mod metrics;

pub use crate::metrics::Metrics;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use cloudevents::AttributesReader;
use prow_artifacts::ArtifactStore;
use prow_core::config::Config;
use prow_core::events::{APISERVER_ADD, APISERVER_UPDATE, PING};
use prow_core::jobspec::{ORG_LABEL, PULL_LABEL, REPO_LABEL};
use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_github::GitHub;
use prow_kube::{KubeOptions, ProwJobs};
use tokio::sync::Mutex;

use crate::decide::{CommentAction, GITHUB_REPORTER, GITHUB_STATUS_INTENT, StatusStep};
use crate::gcs_report::{GCS_K8S_REPORTER, GCS_REPORTER, GcsReportError};

/// ProwJob objects (with pod specs) fit well within this.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Why reporting one job failed; all are worth a retry.
#[derive(Debug, thiserror::Error)]
pub enum CrierError {
    #[error("GitHub report of job {job}: {source}")]
    GitHub {
        job: String,
        #[source]
        source: prow_github::GitHubError,
    },
    #[error(transparent)]
    Gcs(#[from] GcsReportError),
    #[error("ProwJob {job}: {source}")]
    Kube {
        job: String,
        #[source]
        source: prow_kube::KubeError,
    },
    #[error("event {id}: data is not a ProwJob: {source}")]
    Payload {
        id: String,
        #[source]
        source: prow_events::DecodeError,
    },
    #[error("resync: {failed} of {total} jobs could not be reported; first: {first}")]
    Resync {
        failed: usize,
        total: usize,
        first: Box<CrierError>,
    },
}

/// Everything crier needs, built once (by `app` or by `prow up`).
#[derive(Clone)]
pub struct CrierState {
    /// Prow's config (`github_reporter` settings, ProwJob namespace).
    pub config: Arc<Config>,
    /// ProwJobs of the configured namespace.
    pub prowjobs: ProwJobs,
    pub github: Arc<dyn GitHub>,
    /// Where job metadata goes; `None` turns the GCS reporter off.
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
    /// Where jobs' pods run, for `podinfo.json`; by default the cluster the ProwJobs live in.
    pub build_clusters: Arc<prow_kube::BuildClusters>,
    /// Serialises reports per ProwJob and failure-comment edits per pull request, so concurrent
    /// deliveries cannot both report the same state or race on one comment.
    locks: Arc<Locks>,
    pub metrics: Arc<Metrics>,
    /// When set, each event reads `config` from this source's config of the moment, so a merged
    /// config change applies without a restart (the ProwJob namespace stays as at start).
    pub live_config: Option<prow_runtime::LiveConfig>,
}

#[derive(Default)]
struct Locks {
    by_key: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Locks {
    fn get(&self, key: String) -> Arc<Mutex<()>> {
        let mut map = match self.by_key.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Drop idle entries so the map does not grow with every job ever seen.
        map.retain(|_, lock| Arc::strong_count(lock) > 1);
        map.entry(key).or_default().clone()
    }
}

impl CrierState {
    pub fn new(
        config: Arc<Config>,
        kube: kube::Client,
        github: Arc<dyn GitHub>,
        artifacts: Option<Arc<dyn ArtifactStore>>,
    ) -> Self {
        let ns = match config.prow.prowjob_namespace.as_str() {
            "" => "default".to_owned(),
            ns => ns.to_owned(),
        };
        Self {
            build_clusters: Arc::new(prow_kube::BuildClusters::single(kube.clone())),
            prowjobs: ProwJobs::new(kube, &ns),
            config,
            github,
            artifacts,
            locks: Arc::new(Locks::default()),
            metrics: Arc::new(Metrics::default()),
            live_config: None,
        }
    }
}

impl CrierState {
    /// Reads pods from these clusters (Prow's `--kubeconfig`) instead of the ProwJobs' one.
    pub fn with_build_clusters(mut self, clusters: prow_kube::BuildClusters) -> Self {
        self.build_clusters = Arc::new(clusters);
        self
    }

    /// Follows `live` from now on (see [`CrierState::live_config`]).
    pub fn with_live_config(mut self, live: prow_runtime::LiveConfig) -> Self {
        self.config = live.current();
        self.live_config = Some(live);
        self
    }

    /// This state with the config of the moment.
    pub fn current(&self) -> CrierState {
        match &self.live_config {
            Some(live) => CrierState {
                config: live.current(),
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}

impl std::fmt::Debug for CrierState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrierState")
            .field("github", &self.github)
            .field("artifacts", &self.artifacts)
            .finish_non_exhaustive()
    }
}

/// What one job's report did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reported {
    pub github: bool,
    pub gcs: bool,
    /// `podinfo.json` handled (written, or the pod was gone).
    pub podinfo: bool,
}

/// Reports one ProwJob by name: re-reads it (the event's copy may predate our last report),
/// runs each reporter whose last reported state differs, then records what was reported.
pub async fn report_job(state: &CrierState, name: &str) -> Result<Reported, CrierError> {
    let lock = state.locks.get(format!("job/{name}"));
    let _held = lock.lock().await;
    let kube_err = |source| CrierError::Kube {
        job: name.to_owned(),
        source,
    };
    let Some(pj) = state.prowjobs.get(name).await.map_err(kube_err)? else {
        return Ok(Reported::default());
    };
    let reported_state = pj.status.state;
    let mut done = Reported::default();
    let mut first_error = None;

    match report_github(state, &pj).await {
        Ok(did) => done.github = did,
        Err(e) => first_error = Some(e),
    }
    match report_gcs(state, &pj).await {
        Ok(did) => done.gcs = did,
        Err(e) => {
            first_error.get_or_insert(e);
        }
    }
    match report_podinfo(state, &pj).await {
        Ok(did) => done.podinfo = did,
        Err(e) => {
            first_error.get_or_insert(e);
        }
    }

    if done.github || done.gcs || done.podinfo {
        let marks: Vec<&str> = [
            done.github.then_some(GITHUB_REPORTER),
            done.gcs.then_some(GCS_REPORTER),
            done.podinfo.then_some(GCS_K8S_REPORTER),
        ]
        .into_iter()
        .flatten()
        .collect();
        state
            .prowjobs
            .update_status(name, |pj: &mut ProwJob| mark(pj, &marks, reported_state))
            .await
            .map_err(kube_err)?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Records `state` as reported by `reporters`; false when already recorded.
fn mark(pj: &mut ProwJob, reporters: &[&str], state: ProwJobState) -> bool {
    let mut changed = false;
    for r in reporters {
        if pj.status.prev_report_states.get(*r) != Some(&state) {
            pj.status.prev_report_states.insert((*r).to_owned(), state);
            changed = true;
        }
    }
    changed
}

async fn report_github(state: &CrierState, pj: &ProwJob) -> Result<bool, CrierError> {
    let cfg = &state.config.prow.github_reporter;
    if !decide::should_report(pj, cfg) || decide::already_reported(pj, GITHUB_REPORTER) {
        return Ok(false);
    }
    let Some(report) = decide::status_report(pj) else {
        return Ok(false);
    };
    let gh_err = |source| CrierError::GitHub {
        job: pj.name().to_owned(),
        source,
    };
    let already_there = match decide::status_step(pj) {
        StatusStep::RecordIntentThenPost => {
            let intent = pj.status.state;
            state
                .prowjobs
                .update_status(pj.name(), |pj: &mut ProwJob| {
                    mark(pj, &[GITHUB_STATUS_INTENT], intent)
                })
                .await
                .map_err(|source| CrierError::Kube {
                    job: pj.name().to_owned(),
                    source,
                })?;
            false
        }
        StatusStep::CheckGitHubFirst => match state
            .github
            .combined_status(&report.org, &report.repo, &report.sha)
            .await
        {
            Ok(statuses) => decide::status_on_github(&statuses, &report.status),
            Err(e) if decide::is_ignorable_status_error(&e) => {
                tracing::info!(job = pj.name(), error = %e, "commit gone; treated as reported");
                return Ok(true);
            }
            Err(e) => return Err(gh_err(e)),
        },
    };
    if already_there {
        state.metrics.github_statuses_found.inc();
        tracing::info!(job = pj.name(), context = %report.status.context, state = report.status.state.as_str(),
            "status already on GitHub from an attempt that did not finish; not posted again");
    } else {
        match state
            .github
            .create_status(&report.org, &report.repo, &report.sha, &report.status)
            .await
        {
            Ok(()) => {
                state.metrics.github_statuses.inc();
                tracing::info!(job = pj.name(), org = %report.org, repo = %report.repo, sha = %report.sha,
                    context = %report.status.context, state = report.status.state.as_str(), "status reported");
            }
            Err(e) if decide::is_ignorable_status_error(&e) => {
                // Prow ends the report here: the commit is gone or its statuses are full, so
                // there is no point in touching the PR's comment either.
                tracing::info!(job = pj.name(), error = %e, "status not settable; treated as reported");
                return Ok(true);
            }
            Err(e) => return Err(gh_err(e)),
        }
    }
    if decide::wants_failure_comment(pj, cfg) {
        update_failure_comment(state, pj).await?;
    }
    Ok(true)
}

/// The label selector of a pull request's ProwJobs (Prow's org, repo and pull labels), taken
/// from the job's labels as Prow's `pjsToReport` does, else from its refs.
fn pr_selector(pj: &ProwJob) -> Option<String> {
    let refs = pj.spec.refs.as_ref()?;
    let pull = refs.pulls.first()?;
    let label = |key: &str, fallback: String| {
        pj.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key).cloned())
            .unwrap_or(fallback)
    };
    Some(format!(
        "{}={},{}={},{}={}",
        ORG_LABEL,
        label(ORG_LABEL, refs.org.clone()),
        REPO_LABEL,
        label(REPO_LABEL, refs.repo.clone()),
        PULL_LABEL,
        label(PULL_LABEL, pull.number.to_string()),
    ))
}

async fn update_failure_comment(state: &CrierState, pj: &ProwJob) -> Result<(), CrierError> {
    let Some(refs) = pj.spec.refs.as_ref() else {
        return Ok(());
    };
    let Some(pull) = refs.pulls.first() else {
        return Ok(());
    };
    let cfg = &state.config.prow.github_reporter;
    let (org, repo, number) = (refs.org.as_str(), refs.repo.as_str(), pull.number);
    let lock = state.locks.get(format!("pr/{org}/{repo}#{number}"));
    let _held = lock.lock().await;
    let gh_err = |source| CrierError::GitHub {
        job: pj.name().to_owned(),
        source,
    };
    // A summary repo's comment covers the latest run of every job of the PR, once all are done.
    let must_create = decide::repo_listed(&cfg.summary_comment_repos, pj);
    let pr_jobs = match pr_selector(pj).filter(|_| must_create) {
        Some(selector) => state
            .prowjobs
            .list(Some(&selector))
            .await
            .map_err(|source| CrierError::Kube {
                job: pj.name().to_owned(),
                source,
            })?,
        None => Vec::new(),
    };
    let candidates = if must_create {
        match decide::summary_jobs(&pr_jobs) {
            Some(jobs) => jobs,
            None => return Ok(()),
        }
    } else {
        vec![pj]
    };
    let jobs: Vec<&ProwJob> = candidates
        .into_iter()
        .filter(|j| decide::should_report(j, cfg) && j.is_complete())
        .collect();
    let Some(first) = jobs.first() else {
        return Ok(());
    };
    let bot = state.github.bot_login().await.map_err(gh_err)?;
    let comments = state
        .github
        .list_issue_comments(org, repo, number)
        .await
        .map_err(gh_err)?;
    // Prow fails the report when the template does not render; we report without it (and say
    // why in the log) so one bad template cannot block every failure comment. Like Prow, the
    // template is picked by the reported job's repo and rendered against the first job listed.
    let report = decide::report_template(&state.config.prow.plank, pj).and_then(|t| {
        prow_core::gotemplate::render_prowjob(t, first)
            .map_err(|err| tracing::warn!(job = pj.name(), %err, "report template left out"))
            .ok()
    });
    let actions =
        decide::plan_report_comment(&jobs, &bot, &comments, report.as_deref(), must_create);
    for action in actions {
        match action {
            CommentAction::Delete(id) => state
                .github
                .delete_comment(org, repo, id)
                .await
                .map_err(gh_err)?,
            CommentAction::Edit(id, body) => {
                state
                    .github
                    .edit_comment(org, repo, id, &body)
                    .await
                    .map_err(gh_err)?;
            }
            CommentAction::Create(body) => {
                state
                    .github
                    .create_comment(org, repo, number, &body)
                    .await
                    .map_err(gh_err)?;
            }
        }
        state.metrics.github_comment_changes.inc();
    }
    Ok(())
}

async fn report_gcs(state: &CrierState, pj: &ProwJob) -> Result<bool, CrierError> {
    let Some(store) = state.artifacts.as_deref() else {
        return Ok(false);
    };
    if decide::already_reported(pj, GCS_REPORTER) {
        return Ok(false);
    }
    let Some(paths) = gcs_report::paths(pj) else {
        return Ok(false);
    };
    gcs_report::report(store, pj, &paths).await?;
    state.metrics.gcs_reports.inc();
    tracing::info!(job = pj.name(), dir = %paths.bucket.url(&paths.build_dir), state = %pj.status.state, "job metadata written");
    Ok(true)
}

/// `podinfo.json` for a finished job, as Prow's gcsk8sreporter: its pod and the pod's events,
/// read from the build cluster the job ran in. A pod already gone (or a cluster crier does not
/// know) leaves nothing to write, as in Prow; any other failure to read is retried, where Prow
/// gives up.
async fn report_podinfo(state: &CrierState, pj: &ProwJob) -> Result<bool, CrierError> {
    let Some(store) = state.artifacts.as_deref() else {
        return Ok(false);
    };
    if !gcs_report::podinfo_due(pj) {
        return Ok(false);
    }
    let Some(paths) = gcs_report::paths(pj) else {
        return Ok(false);
    };
    let Some(client) = state.build_clusters.get(&pj.spec.cluster) else {
        tracing::info!(job = pj.name(), cluster = %pj.spec.cluster, "no client for the job's cluster; no podinfo.json");
        return Ok(true);
    };
    let namespace = gcs_report::pod_namespace(pj, &state.config.prow.pod_namespace);
    let kube_err = |source| CrierError::Kube {
        job: pj.name().to_owned(),
        source,
    };
    let pod = prow_kube::Pods::new(client.clone(), namespace)
        .get(pj.name())
        .await
        .map_err(kube_err)?;
    let Some(pod) = pod else {
        tracing::info!(job = pj.name(), %namespace, "pod gone; no podinfo.json");
        return Ok(true);
    };
    let mut fields = format!(
        "involvedObject.kind=Pod,involvedObject.namespace={namespace},involvedObject.name={}",
        pj.name()
    );
    if let Some(uid) = pod.metadata.uid.as_deref() {
        fields.push_str(&format!(",involvedObject.uid={uid}"));
    }
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(client.clone(), namespace);
    let events = events
        .list(&kube::api::ListParams::default().fields(&fields))
        .await
        .map_err(|source| {
            kube_err(prow_kube::KubeError::Api {
                verb: "list",
                kind: "event",
                name: fields.clone(),
                source,
            })
        })?
        .items;
    let report = gcs_report::PodReport {
        pod: Some(pod),
        events,
    };
    gcs_report::report_podinfo(store, pj, &paths, &report).await?;
    tracing::info!(
        job = pj.name(),
        events = report.events.len(),
        "podinfo.json written"
    );
    Ok(true)
}

/// The resync tick: report every job with something unreported.
pub async fn resync(state: &CrierState) -> Result<usize, CrierError> {
    let jobs = state
        .prowjobs
        .list(None)
        .await
        .map_err(|source| CrierError::Kube {
            job: "*".into(),
            source,
        })?;
    let total = jobs.len();
    let mut failed = 0;
    let mut first = None;
    let mut reported = 0;
    for pj in jobs {
        match report_job(state, pj.name()).await {
            Ok(r) if r.github || r.gcs || r.podinfo => reported += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(job = pj.name(), error = %e, "resync report failed");
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    match first {
        Some(first) => Err(CrierError::Resync {
            failed,
            total,
            first: Box::new(first),
        }),
        None => Ok(reported),
    }
}

/// Handles one CloudEvent; other types are acknowledged and ignored.
pub async fn handle_event(
    state: &CrierState,
    event: &cloudevents::Event,
) -> Result<(), CrierError> {
    match event.ty() {
        APISERVER_ADD | APISERVER_UPDATE => {
            let kind = event.extension("kind").map(|k| k.to_string());
            if kind.as_deref().is_some_and(|k| k != "ProwJob") {
                return Ok(());
            }
            let pj: ProwJob =
                prow_events::data_json(event).map_err(|source| CrierError::Payload {
                    id: event.id().to_owned(),
                    source,
                })?;
            report_job(state, pj.name()).await.map(|_| ())
        }
        PING => resync(state).await.map(|_| ()),
        _ => Ok(()),
    }
}

/// `POST /` takes CloudEvents; `/healthz` and `/metrics` for the platform.
pub fn router(state: CrierState) -> Router {
    prow_runtime::event_router(state, MAX_BODY_BYTES)
}

impl prow_runtime::EventFunction for CrierState {
    type Error = CrierError;

    fn event_label(event: &cloudevents::Event) -> String {
        match event.ty() {
            t @ (APISERVER_ADD | APISERVER_UPDATE | PING) => t.to_owned(),
            _ => "other".to_owned(),
        }
    }

    async fn handle(&self, event: &cloudevents::Event) -> Result<(), CrierError> {
        // A failed report is retried by the broker's redelivery or, failing that, the next resync.
        handle_event(&self.current(), event).await
    }

    fn is_bad_request(error: &CrierError) -> bool {
        matches!(error, CrierError::Payload { .. })
    }

    fn events(&self) -> &prow_runtime::EventCounter {
        &self.metrics.events
    }

    fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        self.metrics.render()
    }
}

/// crier's flags; each also from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    #[command(flatten)]
    pub config: prow_runtime::ConfigArgs,
    #[command(flatten)]
    pub kube: KubeOptions,
    #[command(flatten)]
    pub github: prow_github::GitHubArgs,
    /// Write job metadata to each job's bucket: GCS, S3 (`s3://`), an emulator named by
    /// `STORAGE_EMULATOR_HOST`.
    #[arg(long, env = "GCS_REPORTER")]
    pub gcs: bool,
    #[command(flatten)]
    pub storage: prow_artifacts::StoreArgs,
    /// Write job metadata under this directory instead (`<dir>/<bucket>/<path>`).
    #[arg(long, env = "ARTIFACTS_DIR", conflicts_with = "gcs")]
    pub artifacts_dir: Option<PathBuf>,
    /// Record GitHub writes instead of sending them.
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
}

/// Why crier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] prow_core::config::LoadError),
    #[error(transparent)]
    Kube(#[from] prow_kube::KubeError),
    #[error(transparent)]
    GitHub(#[from] prow_github::GitHubError),
    #[error(transparent)]
    Artifacts(#[from] prow_artifacts::ArtifactError),
}

/// Builds the router from flags: loads the config (followed as it changes), connects to
/// Kubernetes, GitHub and storage.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let live = flags.config.load_live(None)?;
    let client = prow_kube::client(&flags.kube).await?;
    let github = prow_github::connect(&flags.github.settings(flags.dry_run))?;
    let artifacts: Option<Arc<dyn ArtifactStore>> = if flags.gcs || flags.artifacts_dir.is_some() {
        let config = flags.storage.config(flags.artifacts_dir.clone());
        Some(Arc::new(prow_artifacts::Stores::new(config)?))
    } else {
        None
    };
    let clusters = prow_kube::BuildClusters::from_options(&flags.kube, client.clone()).await?;
    Ok(router(
        CrierState::new(live.current(), client, github, artifacts)
            .with_build_clusters(clusters)
            .with_live_config(live),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_record_each_reporter_once() {
        let mut pj = ProwJob::default();
        assert!(mark(
            &mut pj,
            &[GITHUB_REPORTER, GCS_REPORTER],
            ProwJobState::Pending
        ));
        assert!(!mark(&mut pj, &[GITHUB_REPORTER], ProwJobState::Pending));
        assert!(mark(&mut pj, &[GITHUB_REPORTER], ProwJobState::Success));
        assert_eq!(
            pj.status.prev_report_states.get(GCS_REPORTER),
            Some(&ProwJobState::Pending)
        );
    }
}
