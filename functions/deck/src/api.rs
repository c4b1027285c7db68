//! Machine-facing endpoints: `/prowjobs.js`, `/badge.svg`, `/log`, `/plugin-help`, a job's
//! `prowjob.json`, and artifact downloads; plus the log and artifact reads the job page shares.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use kube::api::LogParams;
use prow_artifacts::layout::{BUILD_LOG_TXT, JobPaths, job_paths_for};
use prow_core::prowjob::ProwJob;
use serde::Deserialize;

use crate::DeckState;
use crate::filter::{Compiled, Filter};
use crate::summary::{JobFacts, Summary};
use crate::{badge, glob, help};
use prow_core::config::Config;

/// A log is cut to its last this many bytes: the end is what explains a failure.
pub const MAX_LOG_BYTES: usize = 16 << 20;

/// Waits (bounded) for the first full list after a cold start; false if it did not come.
pub async fn synced(state: &DeckState) -> bool {
    state.index.is_synced() || state.index.wait_synced(state.options.sync_timeout).await
}

/// Whether a job may be shown by this Deck (hidden jobs and `deck.hidden_repos` are not).
pub fn visible(state: &DeckState, pj: &impl JobFacts) -> bool {
    visible_in(&state.config(), state.options.show_hidden, pj)
}

/// [`visible`] against one config, for checking many jobs without re-reading it per job.
pub fn visible_in(config: &Config, show_hidden: bool, pj: &impl JobFacts) -> bool {
    if show_hidden {
        return true;
    }
    if pj.is_hidden() {
        return false;
    }
    let hidden = &config.prow.deck.hidden_repos;
    // `org/repo` compared in its two parts: this runs for every indexed job of a request.
    hidden.is_empty()
        || !pj.repos().any(|(org, repo)| {
            hidden
                .iter()
                .any(|h| *h == org || (!repo.is_empty() && h.split_once('/') == Some((org, repo))))
        })
}

/// A filter that also hides what this Deck must not show.
pub fn compile(state: &DeckState, filter: &Filter) -> impl Fn(&Summary) -> bool + use<> {
    let compiled: Compiled = filter.compile();
    let config = state.config();
    let show_hidden = state.options.show_hidden;
    move |pj| compiled.matches(pj) && visible_in(&config, show_hidden, pj)
}

#[derive(Debug, Default, Deserialize)]
pub struct ProwJobsQuery {
    #[serde(flatten)]
    filter: Filter,
    /// Wrap as `var <name> = {...};` (Prow's JavaScript form).
    var: Option<String>,
    /// Comma-separated: `annotations`, `labels`, `decoration_config`, `pod_spec`.
    omit: Option<String>,
}

fn is_js_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Prow's `omit=`: drop fields big clients do not need; `pod_spec` keeps one empty container per
/// container so clients can still count them.
pub fn omit_fields(pj: &mut ProwJob, omit: &[&str]) {
    pj.metadata.managed_fields = None;
    for field in omit {
        match *field {
            "annotations" => pj.metadata.annotations = None,
            "labels" => pj.metadata.labels = None,
            "decoration_config" => pj.spec.decoration_config = None,
            "pod_spec" => {
                if let Some(spec) = &pj.spec.pod_spec {
                    pj.spec.pod_spec = Some(placeholder_pod_spec(spec.containers.len()));
                }
            }
            _ => {}
        }
    }
}

/// The fields [`crate::index::slim`] drops: a request omitting all of them is answered from the
/// index alone; any other reads each selected job's full object from the API server.
const HEAVY_FIELDS: [&str; 4] = ["annotations", "labels", "decoration_config", "pod_spec"];

/// Full objects read from the API server at once while streaming `/prowjobs.js`.
const FULL_READS_IN_FLIGHT: usize = 16;

pub async fn prowjobs_js(
    State(state): State<DeckState>,
    Query(q): Query<ProwJobsQuery>,
) -> Response {
    if let Some(var) = &q.var
        && !is_js_identifier(var)
    {
        return (
            StatusCode::BAD_REQUEST,
            "var must be a JavaScript identifier",
        )
            .into_response();
    }
    let omit: Vec<String> = q
        .omit
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    let content_type = if q.var.is_some() {
        "application/javascript; charset=utf-8"
    } else {
        "application/json"
    };
    let head = match &q.var {
        Some(var) => format!("var {var} = {{\"items\":["),
        None => "{\"items\":[".to_owned(),
    };
    let tail = if q.var.is_some() { "]};" } else { "]}" };
    if !synced(&state).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "ProwJobs are still loading",
        )
            .into_response();
    }
    let jobs = state.index.select(compile(&state, &q.filter));
    if !HEAVY_FIELDS.iter().all(|f| omit.iter().any(|o| o == f)) {
        let body = full_prowjobs(state, jobs, omit, head, tail);
        return (
            [(header::CONTENT_TYPE, content_type)],
            axum::body::Body::from_stream(body),
        )
            .into_response();
    }
    let mut body = String::with_capacity(jobs.len() * 1024 + 32);
    body.push_str(&head);
    for (i, entry) in jobs.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let mut copy = ProwJob::clone(&entry.job);
        copy.spec.decoration_config = None;
        if entry.containers > 0 {
            copy.spec.pod_spec = Some(placeholder_pod_spec(entry.containers));
        }
        match serde_json::to_string(&copy) {
            Ok(json) => body.push_str(&json),
            Err(err) => {
                tracing::error!(error = %err, "serializing prowjob");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }
    body.push_str(tail);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// What `omit=pod_spec` leaves of a pod spec: one empty container per container.
fn placeholder_pod_spec(containers: usize) -> PodSpec {
    PodSpec {
        containers: vec![Container::default(); containers],
        ..PodSpec::default()
    }
}

/// The selected ProwJobs (newest first, as the index orders them) as full objects read one by one
/// from the API server, a bounded number in flight: memory stays that of a few jobs whatever the
/// selection, at the price of one read per job (Deck's own pages never ask for this). A job
/// deleted meanwhile is left out; a failed read ends the body with an error, so a client never
/// mistakes a cut list for a complete one.
fn full_prowjobs(
    state: DeckState,
    jobs: Vec<crate::index::Indexed>,
    omit: Vec<String>,
    head: String,
    tail: &'static str,
) -> impl futures::Stream<Item = Result<String, prow_kube::KubeError>> + Send {
    use futures::StreamExt as _;
    let reads = futures::stream::iter(jobs)
        .map(move |entry| {
            let state = state.clone();
            async move { state.prowjobs.get(entry.job.name()).await }
        })
        .buffered(FULL_READS_IN_FLIGHT);
    let items = reads.scan(true, move |first, read| {
        let item = match read {
            Ok(None) => Ok(String::new()),
            Ok(Some(mut pj)) => {
                let omit: Vec<&str> = omit.iter().map(String::as_str).collect();
                omit_fields(&mut pj, &omit);
                match serde_json::to_string(&pj) {
                    Ok(json) if *first => {
                        *first = false;
                        Ok(json)
                    }
                    Ok(json) => Ok(format!(",{json}")),
                    Err(err) => {
                        tracing::error!(error = %err, "serializing prowjob");
                        Ok(String::new())
                    }
                }
            }
            // The body ends with this error (hyper drops the connection): nothing after it
            // is sent.
            Err(err) => {
                tracing::error!(error = %err, "reading prowjob");
                Err(err)
            }
        };
        std::future::ready(Some(item))
    });
    futures::stream::once(std::future::ready(Ok(head)))
        .chain(items)
        .chain(futures::stream::once(std::future::ready(Ok(
            tail.to_owned()
        ))))
}

#[derive(Debug, Default, Deserialize)]
pub struct BadgeQuery {
    jobs: Option<String>,
}

pub async fn badge(State(state): State<DeckState>, Query(q): Query<BadgeQuery>) -> Response {
    let Some(jobs) = q.jobs.filter(|j| !j.trim().is_empty()) else {
        return (StatusCode::BAD_REQUEST, "missing jobs parameter").into_response();
    };
    synced(&state).await;
    let patterns: Vec<&str> = jobs
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let latest = state
        .index
        .latest_states(|name| patterns.iter().any(|p| glob::matches(p, name)));
    let svg = badge::svg(&badge::decide(&latest));
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response()
}

/// Where a job's build log came from, and what it said.
#[derive(Debug, Default)]
pub struct FetchedLog {
    pub text: Option<String>,
    /// `gs://bucket/path` or `pod ns/name`.
    pub source: String,
    /// Why it is missing or cut.
    pub note: String,
}

fn cut(bytes: &[u8]) -> (String, bool) {
    let cut = bytes.len() > MAX_LOG_BYTES;
    let tail = &bytes[bytes.len().saturating_sub(MAX_LOG_BYTES)..];
    (String::from_utf8_lossy(tail).into_owned(), cut)
}

/// The job's storage location, when it uploads and a store is configured.
pub fn storage(
    state: &DeckState,
    pj: &ProwJob,
) -> Option<(Arc<dyn prow_artifacts::ArtifactStore>, JobPaths)> {
    let store = state.artifacts.clone()?;
    let paths = job_paths_for(pj).ok()?;
    Some((store, paths))
}

/// The build log: `build-log.txt` from artifact storage, else the pod's log.
pub async fn fetch_log(state: &DeckState, pj: &ProwJob) -> FetchedLog {
    if let Some((store, paths)) = storage(state, pj) {
        let name = paths.file(BUILD_LOG_TXT);
        let source = paths.bucket.url(&name);
        match store.get(&paths.bucket.to_string(), &name).await {
            Ok(Some(bytes)) => {
                let (text, was_cut) = cut(&bytes);
                let note = if was_cut {
                    "Only the end of a long log is shown.".into()
                } else {
                    String::new()
                };
                return FetchedLog {
                    text: Some(text),
                    source,
                    note,
                };
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, %source, "reading build log");
                return FetchedLog {
                    text: None,
                    source,
                    note: "The build log could not be read.".into(),
                };
            }
        }
    }
    if pj.status.pod_name.is_empty() && pj.status.build_id.is_empty() {
        return FetchedLog {
            note: "The job has not started a pod yet.".into(),
            ..FetchedLog::default()
        };
    }
    let namespace = pj.pod_namespace(&state.options.pod_namespace);
    let pod = if pj.status.pod_name.is_empty() {
        pj.name()
    } else {
        pj.status.pod_name.as_str()
    };
    let pods: kube::Api<Pod> = kube::Api::namespaced(state.client.clone(), namespace);
    let source = format!("pod {namespace}/{pod}");
    match pods.logs(pod, &LogParams::default()).await {
        Ok(text) => {
            let (text, was_cut) = cut(text.as_bytes());
            let note = if was_cut {
                "Only the end of a long log is shown.".into()
            } else {
                String::new()
            };
            FetchedLog {
                text: Some(text),
                source,
                note,
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, %source, "no pod log");
            FetchedLog {
                text: None,
                source,
                note: "No build log is available (no upload, pod gone).".into(),
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    job: Option<String>,
    id: Option<String>,
}

/// `/log?job=&id=`: the raw build log of one run, as plain text.
pub async fn log(State(state): State<DeckState>, Query(q): Query<LogQuery>) -> Response {
    let (Some(job), Some(id)) = (
        q.job.filter(|j| !j.is_empty()),
        q.id.filter(|i| !i.is_empty()),
    ) else {
        return (StatusCode::BAD_REQUEST, "missing job or id").into_response();
    };
    synced(&state).await;
    let Some(pj) = state
        .index
        .find_build(&job, &id)
        .filter(|pj| visible(&state, pj))
    else {
        return (StatusCode::NOT_FOUND, format!("no run {id} of job {job}")).into_response();
    };
    let fetched = fetch_log(&state, &pj).await;
    match fetched.text {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        None => (StatusCode::NOT_FOUND, fetched.note).into_response(),
    }
}

/// `/plugin-help`: Prow's JSON document from the plugin registry; `?repo=org/repo` narrows it to
/// the plugins enabled there.
pub async fn plugin_help(
    State(state): State<DeckState>,
    Query(query): Query<HelpQuery>,
) -> Response {
    match help::registry(&state.config().plugins, query.repo.as_deref()) {
        Ok(help) => axum::Json(help).into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
}

/// `/plugin-help` and `/command-help` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct HelpQuery {
    pub repo: Option<String>,
}

/// A job's ProwJob as JSON (managedFields dropped), read from the API server: the index's copy
/// is slim.
pub async fn prowjob_json(State(state): State<DeckState>, Path(name): Path<String>) -> Response {
    let mut copy = match state.prowjobs.get(&name).await {
        Ok(Some(pj)) if visible(&state, &pj) => pj,
        Ok(_) => return (StatusCode::NOT_FOUND, format!("no ProwJob {name}")).into_response(),
        Err(err) => {
            tracing::error!(error = %err, prowjob = %name, "reading prowjob");
            return (StatusCode::BAD_GATEWAY, "could not read the ProwJob").into_response();
        }
    };
    omit_fields(&mut copy, &[]);
    match serde_json::to_string_pretty(&copy) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A job from the index, else the API server (a job created a moment ago).
pub async fn find(state: &DeckState, name: &str) -> Option<Arc<ProwJob>> {
    synced(state).await;
    let pj = match state.index.get(name) {
        Some(pj) => Some(pj),
        None => state.prowjobs.get(name).await.ok().flatten().map(Arc::new),
    }?;
    visible(state, &pj).then_some(pj)
}

/// One artifact of a run, served inert: text as `text/plain`, never as a page of this origin.
pub async fn artifact(
    State(state): State<DeckState>,
    Path((name, path)): Path<(String, String)>,
) -> Response {
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return (StatusCode::BAD_REQUEST, "invalid artifact path").into_response();
    }
    let Some(pj) = find(&state, &name).await else {
        return (StatusCode::NOT_FOUND, format!("no ProwJob {name}")).into_response();
    };
    serve_artifact(&state, &pj, &path).await
}

/// `path` (relative to the run's build dir) of `pj`'s artifacts, served inert.
pub async fn serve_artifact(state: &DeckState, pj: &ProwJob, path: &str) -> Response {
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return (StatusCode::BAD_REQUEST, "invalid artifact path").into_response();
    }
    let Some((store, paths)) = storage(state, pj) else {
        return (StatusCode::NOT_FOUND, "this job has no artifact storage").into_response();
    };
    match store
        .get(&paths.bucket.to_string(), &paths.file(path))
        .await
    {
        Ok(Some(bytes)) => {
            let content_type = match path.rsplit('.').next() {
                Some("json") => "application/json",
                Some("png") => "image/png",
                Some("jpg" | "jpeg") => "image/jpeg",
                _ if std::str::from_utf8(&bytes).is_ok() => "text/plain; charset=utf-8",
                _ => "application/octet-stream",
            };
            let mut response =
                ([(header::CONTENT_TYPE, content_type)], bytes.to_vec()).into_response();
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox"),
            );
            response
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no such artifact").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "reading artifact");
            (StatusCode::BAD_GATEWAY, "artifact storage unavailable").into_response()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::ProwJobType;

    #[test]
    fn var_must_be_an_identifier() {
        for (v, ok) in [
            ("allBuilds", true),
            ("_x1", true),
            ("$", true),
            ("1a", false),
            ("a;alert(1)", false),
            ("", false),
        ] {
            assert_eq!(is_js_identifier(v), ok, "{v}");
        }
    }

    #[test]
    fn omit_drops_fields_and_keeps_container_count() {
        let mut pj = ProwJob::builder("j", ProwJobType::Periodic)
            .label("a", "b")
            .annotation("c", "d")
            .pod_spec(PodSpec {
                containers: vec![
                    Container {
                        name: "test".into(),
                        image: Some("img".into()),
                        ..Container::default()
                    },
                    Container {
                        name: "side".into(),
                        ..Container::default()
                    },
                ],
                ..PodSpec::default()
            })
            .build();
        omit_fields(&mut pj, &["labels", "annotations", "pod_spec"]);
        assert!(pj.metadata.labels.is_none());
        assert!(pj.metadata.annotations.is_none());
        let spec = pj.spec.pod_spec.unwrap();
        assert_eq!(spec.containers.len(), 2);
        assert_eq!(spec.containers[0], Container::default());
    }
}
