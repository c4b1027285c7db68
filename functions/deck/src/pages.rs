//! HTML pages: the job list, a job's spyglass page, command help and the login form.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use k8s_openapi::jiff::Timestamp;
use prow_artifacts::layout::{
    BUILD_LOG_TXT, FINISHED_JSON, PODINFO_JSON, PROWJOB_JSON, STARTED_JSON,
};
use prow_artifacts::metadata::{Finished, Started};
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use serde::Deserialize;

use crate::api::{self, fetch_log, storage};
use crate::filter::Filter;
use crate::spyglass::{self, Outcome};
use crate::views::{
    self, ArtifactView, CloneView, CommandHelpPage, CommandView, FilterView, HtmlReport, JobPage,
    ListPage, LoginPage, MetadataLens, PluginView, PluginsPage, PodLens, RefsView,
};
use crate::web::{self, html, identity, message};
use crate::{DeckState, help, lenses};

/// Largest page a client may ask for.
pub const MAX_PER_PAGE: usize = 1000;
/// JUnit files read per job page, and bytes per file: a runaway job must not stall the page.
const MAX_JUNIT_FILES: usize = 20;
const MAX_JUNIT_BYTES: usize = 8 << 20;
/// Bytes of one file a lens reads (metadata, pod info, a link, an HTML report), and files per lens.
const MAX_LENS_BYTES: usize = 4 << 20;
const MAX_LENS_FILES: usize = 20;
/// Written by initupload (Prow's `clone-records.json`).
const CLONE_RECORDS_JSON: &str = "clone-records.json";

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    filter: Filter,
    page: Option<String>,
    per_page: Option<String>,
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `/?<filters>&page=N` (page omitted for the first), so links keep the filters.
pub fn page_link(filter: &Filter, page: usize, per_page: Option<usize>) -> String {
    let mut pairs = filter.pairs();
    if let Some(n) = per_page {
        pairs.push(("per_page", n.to_string()));
    }
    if page > 1 {
        pairs.push(("page", page.to_string()));
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{}", query.join("&"))
    }
}

pub async fn list(
    State(state): State<DeckState>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let synced = api::synced(&state).await;
    let page = q
        .page
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let asked = q
        .per_page
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let per_page = asked.unwrap_or(state.options.per_page).min(MAX_PER_PAGE);
    let keep = api::compile(&state, &q.filter);
    let result = state.index.query(keep, (page - 1) * per_page, per_page);
    let now = Timestamp::now();
    let first = (page - 1) * per_page + 1;
    let last = first + result.jobs.len().saturating_sub(1);
    let (jobs, repos) = state.index.facets();
    let view = ListPage {
        rows: result.jobs.iter().map(|pj| views::row(pj, now)).collect(),
        total: result.total,
        first,
        last,
        prev_link: if page > 1 {
            page_link(&q.filter, page - 1, asked)
        } else {
            String::new()
        },
        next_link: if page * per_page < result.total {
            page_link(&q.filter, page + 1, asked)
        } else {
            String::new()
        },
        filter: FilterView::from(&q.filter),
        jobs,
        repos,
        types: ProwJobType::ALL.iter().map(|t| t.as_str()).collect(),
        states: ProwJobState::ALL.iter().map(|s| s.as_str()).collect(),
        refresh: state.options.refresh_seconds,
        user: identity(&state, &headers).login().unwrap_or("").to_owned(),
        synced,
    };
    html(StatusCode::OK, &view)
}

/// Test results from the JUnit lens's files, failures first.
async fn junit(
    state: &DeckState,
    pj: &ProwJob,
    objects: &[(String, u64)],
    files: &[String],
) -> (Vec<spyglass::TestCase>, Vec<String>) {
    let Some((store, paths)) = storage(state, pj) else {
        return (Vec::new(), Vec::new());
    };
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let chosen = objects.iter().filter(|(rel, _)| files.contains(rel));
    for (rel, size) in chosen.take(MAX_JUNIT_FILES) {
        if *size as usize > MAX_JUNIT_BYTES {
            errors.push(format!("{rel}: too large to show ({size} bytes)"));
            continue;
        }
        match store.get(&paths.bucket.to_string(), &paths.file(rel)).await {
            Ok(Some(bytes)) => match spyglass::parse_junit(rel, &String::from_utf8_lossy(&bytes)) {
                Ok(mut found) => cases.append(&mut found),
                Err(err) => errors.push(err.to_string()),
            },
            Ok(None) => {}
            Err(err) => errors.push(format!("{rel}: {err}")),
        }
    }
    cases.sort_by_key(|c| match c.outcome {
        Outcome::Failed(_) => 0,
        Outcome::Passed => 1,
        Outcome::Skipped(_) => 2,
    });
    (cases, errors)
}

/// Objects under the run's build directory, as paths relative to it.
async fn objects(state: &DeckState, pj: &ProwJob) -> Vec<(String, u64)> {
    let Some((store, paths)) = storage(state, pj) else {
        return Vec::new();
    };
    let prefix = format!("{}/", paths.build_dir);
    match store.list(&paths.bucket.to_string(), &prefix, None).await {
        Ok(listing) => listing
            .objects
            .into_iter()
            .filter_map(|o| {
                o.name
                    .strip_prefix(&prefix)
                    .map(|rel| (rel.to_owned(), o.size))
            })
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, prefix, "listing artifacts");
            Vec::new()
        }
    }
}

/// A run's file as text, when stored and at most `MAX_LENS_BYTES`.
async fn read_text(state: &DeckState, pj: &ProwJob, rel: &str) -> Option<String> {
    let (store, paths) = storage(state, pj)?;
    match store.get(&paths.bucket.to_string(), &paths.file(rel)).await {
        Ok(Some(bytes)) if bytes.len() <= MAX_LENS_BYTES => {
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Ok(Some(_)) => None,
        Ok(None) => None,
        Err(err) => {
            tracing::warn!(error = %err, file = rel, "reading artifact for a lens");
            None
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    state: &DeckState,
    pj: &ProwJob,
    rel: &str,
) -> Option<T> {
    let text = read_text(state, pj, rel).await?;
    serde_json::from_str(&text)
        .inspect_err(|err| tracing::warn!(error = %err, file = rel, "malformed lens input"))
        .ok()
}

fn epoch(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| {
            views::format_time(Some(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                t,
            )))
        })
        .unwrap_or_default()
}

/// The metadata lens: started/finished.json, clone records and the job's refs.
async fn metadata_lens(state: &DeckState, pj: &ProwJob, files: &[String]) -> MetadataLens {
    let has = |f: &str| files.iter().any(|x| x == f);
    let started: Option<Started> = match has(STARTED_JSON) {
        true => read_json(state, pj, STARTED_JSON).await,
        false => None,
    };
    let finished: Option<Finished> = match has(FINISHED_JSON) {
        true => read_json(state, pj, FINISHED_JSON).await,
        false => None,
    };
    let clones: Vec<lenses::CloneRecord> = match files.iter().any(|f| f == CLONE_RECORDS_JSON) {
        true => read_json(state, pj, CLONE_RECORDS_JSON)
            .await
            .unwrap_or_default(),
        false => Vec::new(),
    };
    let result = finished.as_ref().map(|f| {
        if !f.result.is_empty() {
            f.result.clone()
        } else {
            match f.passed {
                Some(true) => "SUCCESS".to_owned(),
                Some(false) => "FAILURE".to_owned(),
                None => String::new(),
            }
        }
    });
    let duration = match (&started, finished.as_ref().and_then(|f| f.timestamp)) {
        (Some(s), Some(end)) if end >= s.timestamp => views::format_duration(end - s.timestamp),
        _ => String::new(),
    };
    MetadataLens {
        started: started
            .as_ref()
            .map(|s| epoch(s.timestamp))
            .unwrap_or_default(),
        finished: finished
            .as_ref()
            .and_then(|f| f.timestamp)
            .map(epoch)
            .unwrap_or_default(),
        duration,
        result: result.unwrap_or_default(),
        revision: finished
            .as_ref()
            .map(|f| f.revision.clone())
            .filter(|r| !r.is_empty())
            .or_else(|| started.as_ref().map(|s| s.repo_commit.clone()))
            .unwrap_or_default(),
        node: started.as_ref().map(|s| s.node.clone()).unwrap_or_default(),
        rows: lenses::metadata_rows(&[
            started.as_ref().and_then(|s| s.metadata.as_ref()),
            finished.as_ref().and_then(|f| f.metadata.as_ref()),
        ]),
        refs: pj
            .spec
            .refs
            .iter()
            .chain(pj.spec.extra_refs.iter())
            .map(RefsView::from)
            .collect(),
        clones: clones
            .into_iter()
            .map(|c| CloneView {
                repo: c.refs.org_repo(),
                failed: c.failed,
                final_sha: c.final_sha,
                commands: c.commands,
            })
            .collect(),
    }
}

/// Everything the spyglass page shows for `pj`, its artifacts linked under `artifact_base`.
async fn render_job(
    state: &DeckState,
    pj: &ProwJob,
    headers: &HeaderMap,
    artifact_base: &str,
    from_storage: bool,
) -> Response {
    let who = identity(state, headers);
    let now = Timestamp::now();
    let (log, objects) = tokio::join!(fetch_log(state, pj), objects(state, pj));
    let spyglass =
        (state.config().prow.deck.spyglass.as_ref()).and_then(|v| serde_json::to_value(v).ok());
    let configured = lenses::from_config(spyglass.as_ref()).unwrap_or_else(|err| {
        tracing::warn!(error = %err, "deck.spyglass.lenses; using the default lenses");
        lenses::defaults()
    });
    let names: Vec<String> = objects.iter().map(|(rel, _)| rel.clone()).collect();
    let chosen = lenses::select(&configured, &names);
    let files_of = |lens: &str| {
        chosen
            .iter()
            .find(|s| s.name == lens)
            .map(|s| s.files.clone())
    };
    let junit_files = files_of("junit").unwrap_or_default();
    let (tests, test_errors) = junit(state, pj, &objects, &junit_files).await;
    let metadata = match files_of("metadata") {
        Some(files) => Some(metadata_lens(state, pj, &files).await),
        None => None,
    };
    let podinfo = match files_of("podinfo") {
        Some(_) => read_json::<lenses::PodInfo>(state, pj, PODINFO_JSON)
            .await
            .map(|info| {
                let (containers, events) = lenses::pod_view(&info);
                PodLens { containers, events }
            }),
        None => None,
    };
    let mut links = Vec::new();
    for rel in files_of("links")
        .unwrap_or_default()
        .iter()
        .take(MAX_LENS_FILES)
    {
        if let Some(link) = read_text(state, pj, rel)
            .await
            .and_then(|body| lenses::link(rel, &body))
        {
            links.push(link);
        }
    }
    let mut reports = Vec::new();
    for rel in files_of("html")
        .unwrap_or_default()
        .iter()
        .take(MAX_LENS_FILES)
    {
        if let Some(body) = read_text(state, pj, rel).await {
            reports.push(HtmlReport {
                title: lenses::html_title(rel, &body),
                path: rel.clone(),
                html: body,
            });
        }
    }
    // The build log shows when its lens applies, and always for a run without stored
    // artifacts (an undecorated or still-running job: its pod's log).
    let show_log = files_of("buildlog").is_some() || objects.is_empty() || log.text.is_some();
    let count = |f: fn(&Outcome) -> bool| tests.iter().filter(|t| f(&t.outcome)).count();
    let (sid, set_cookie) = web::session(headers);
    let storage_url = storage(state, pj)
        .map(|(_, p)| p.bucket.url(&p.build_dir))
        .unwrap_or_default();
    // A stored run has no ProwJob to read nor pod to tail: both come from its artifacts.
    let (prowjob_link, raw_log_link) = if from_storage {
        (
            format!("{artifact_base}{PROWJOB_JSON}"),
            if objects.iter().any(|(rel, _)| rel == BUILD_LOG_TXT) {
                format!("{artifact_base}{BUILD_LOG_TXT}")
            } else {
                String::new()
            },
        )
    } else {
        (
            format!("/view/{}/prowjob.json", encode(pj.name())),
            if pj.status.build_id.is_empty() {
                String::new()
            } else {
                format!(
                    "/log?job={}&id={}",
                    encode(&pj.spec.job),
                    encode(&pj.status.build_id)
                )
            },
        )
    };
    let page = JobPage {
        row: views::row(pj, now),
        cluster: pj.spec.cluster_alias().to_owned(),
        pod_name: pj.status.pod_name.clone(),
        pending: views::format_time(pj.status.pending_time.as_ref()),
        completed: views::format_time(pj.status.completion_time.as_ref()),
        url: views::safe_url(&pj.status.url),
        storage: storage_url,
        log: if show_log {
            log.text.as_deref().map(spyglass::render_log)
        } else {
            None
        },
        show_log,
        log_source: log.source,
        log_note: log.note,
        passed: count(|o| matches!(o, Outcome::Passed)),
        failed: count(|o| matches!(o, Outcome::Failed(_))),
        skipped: count(|o| matches!(o, Outcome::Skipped(_))),
        tests,
        test_errors,
        lenses: chosen.iter().map(|s| s.name.clone()).collect(),
        metadata,
        podinfo,
        links,
        reports,
        artifacts: objects
            .iter()
            .map(|(rel, size)| ArtifactView {
                name: rel.clone(),
                link: format!("{artifact_base}{}", encode(rel)),
                size: *size,
            })
            .collect(),
        from_storage,
        prowjob_link,
        raw_log_link,
        can_abort: !from_storage && crate::actions::check_abortable(pj).is_ok(),
        csrf: state.csrf.token(&sid),
        user: who.login().unwrap_or("").to_owned(),
    };
    let mut response = html(StatusCode::OK, &page);
    if let Some(set) = set_cookie.and_then(|s| HeaderValue::from_str(&s).ok()) {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

pub async fn job(
    State(state): State<DeckState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(pj) = api::find(&state, &name).await else {
        return message(
            &identity(&state, &headers),
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No ProwJob named {name}."),
            None,
        );
    };
    let base = format!("/artifact/{}/", encode(pj.name()));
    render_job(&state, &pj, &headers, &base, false).await
}

/// Prow's `/prowjob?prowjob=<name>` (the link plank gives undecorated jobs) goes to that job's page.
#[derive(Debug, Deserialize)]
pub struct ProwJobQuery {
    prowjob: String,
}

pub async fn prowjob_link(Query(q): Query<ProwJobQuery>) -> Response {
    Redirect::to(&format!("/view/{}", encode(&q.prowjob))).into_response()
}

/// `/view/<provider>/<bucket>/<build dir>`: the job URL plank and crier link to. A run still in
/// the index (named by the build dir's last two segments, `<job>/<build id>`) redirects to its
/// page; a run whose ProwJob sinker deleted renders from the `prowjob.json` stored with it, so
/// `/job-history` links keep working.
pub async fn view_storage(
    State(state): State<DeckState>,
    Path(path): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let provider = if uri.path().starts_with("/view/s3/") {
        "s3"
    } else {
        "gs"
    };
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    api::synced(&state).await;
    let run = match segments.as_slice() {
        [_bucket, .., job, build_id] => state
            .index
            .find_build(job, build_id)
            .filter(|pj| api::visible(&state, pj)),
        _ => None,
    };
    if let Some(pj) = run {
        return Redirect::to(&format!("/view/{}", encode(pj.name()))).into_response();
    }
    if let Some((bucket, build_dir)) = path.split_once('/')
        && let Some(pj) = stored_run(&state, provider, bucket, build_dir).await
    {
        let base = format!("/stored/{provider}/{bucket}/{build_dir}/");
        return render_job(&state, &pj, &headers, &base, true).await;
    }
    message(
        &identity(&state, &headers),
        StatusCode::NOT_FOUND,
        "Not found",
        "No known run is stored there.",
        None,
    )
}

/// The ProwJob stored in `<build dir>/prowjob.json`, when it is visible here and its own
/// artifact paths are that build dir (so a page or an artifact is only ever one of a run's).
async fn stored_run(
    state: &DeckState,
    provider: &str,
    bucket: &str,
    build_dir: &str,
) -> Option<ProwJob> {
    if build_dir
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return None;
    }
    let store = state.artifacts.clone()?;
    let bucket_url = format!("{provider}://{bucket}");
    let bytes = store
        .get(&bucket_url, &format!("{build_dir}/{PROWJOB_JSON}"))
        .await
        .ok()
        .flatten()?;
    let pj: ProwJob = serde_json::from_slice(&bytes).ok()?;
    let paths = prow_artifacts::layout::job_paths_for(&pj).ok()?;
    (paths.build_dir == build_dir
        && paths.bucket.name == bucket
        && paths.bucket.provider == provider
        && api::visible(state, &pj))
    .then_some(pj)
}

/// `/stored/<provider>/<bucket>/<build dir>/<file>`: an artifact of a run known only from
/// storage, served inert as `/artifact/` serves them.
pub async fn stored_artifact(State(state): State<DeckState>, Path(path): Path<String>) -> Response {
    let mut parts = path.splitn(2, '/');
    let (Some(provider), Some(rest)) = (parts.next(), parts.next()) else {
        return (StatusCode::NOT_FOUND, "no such artifact").into_response();
    };
    let Some((bucket, rest)) = rest.split_once('/') else {
        return (StatusCode::NOT_FOUND, "no such artifact").into_response();
    };
    // The build dir is the longest prefix with a prowjob.json whose paths are that dir: try
    // the Prow layouts' depths (logs/<job>/<id>, pr-logs/pull/<repo>/<pr>/<job>/<id>, with a
    // path_prefix possibly in front).
    let segments: Vec<&str> = rest.split('/').collect();
    for depth in (2..segments.len()).rev() {
        let build_dir = segments[..depth].join("/");
        if let Some(pj) = stored_run(&state, provider, bucket, &build_dir).await {
            let file = segments[depth..].join("/");
            return api::serve_artifact(&state, &pj, &file).await;
        }
    }
    (StatusCode::NOT_FOUND, "no such artifact").into_response()
}

pub async fn command_help(
    State(state): State<DeckState>,
    Query(query): Query<api::HelpQuery>,
    headers: HeaderMap,
) -> Response {
    let registry = match help::registry(&state.config().plugins, query.repo.as_deref()) {
        Ok(registry) => registry,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let commands = help::commands(&registry)
        .into_iter()
        .map(|(plugin, c)| CommandView {
            plugin: plugin.to_owned(),
            usage: c.usage.clone(),
            featured: c.featured,
            description: c.description.clone(),
            examples: c.examples.clone(),
            who: c.who_can_use.clone(),
        })
        .collect();
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &CommandHelpPage {
            repo: query.repo.unwrap_or_default(),
            commands,
            user,
        },
    )
}

/// Prow's `/plugins` page: what each plugin enabled in `?repo=org/repo` does (every known plugin
/// without a repo), its events, commands and that repo's settings.
pub async fn plugins(
    State(state): State<DeckState>,
    Query(query): Query<api::HelpQuery>,
    headers: HeaderMap,
) -> Response {
    let registry = match help::registry(&state.config().plugins, query.repo.as_deref()) {
        Ok(registry) => registry,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let plugins = registry
        .plugin_help
        .iter()
        .map(|(name, h)| PluginView {
            name: name.clone(),
            description: h.description.clone(),
            events: h.events.clone(),
            commands: h.commands.iter().map(|c| c.usage.clone()).collect(),
            config: h
                .config
                .iter()
                .map(|(scope, text)| (scope.clone(), text.clone()))
                .collect(),
        })
        .collect();
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &PluginsPage {
            repo: query.repo.unwrap_or_default(),
            plugins,
            user,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ConfigQuery {
    repo: Option<String>,
}

/// `/config?repo=org/repo`: the repo's presubmits, postsubmits and periodics with what decides
/// whether each runs; every periodic without a repo.
pub async fn config_view(
    State(state): State<DeckState>,
    Query(query): Query<ConfigQuery>,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    let repo = query
        .repo
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let (jobs, errors) =
        crate::jobconfig::jobs_for(&config, repo.as_deref(), state.options.show_hidden);
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &views::ConfigPage {
            repo: repo.unwrap_or_default(),
            repos: crate::jobconfig::repos(&config),
            jobs,
            errors,
            user,
        },
    )
}

pub async fn login(State(state): State<DeckState>, headers: HeaderMap) -> Response {
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &LoginPage {
            error: String::new(),
            user,
            github: state.oauth.is_some(),
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_filters_and_escape_values() {
        let filter = Filter {
            repo: Some("acme/foo".into()),
            job: Some("pull-*".into()),
            author: Some("a&b c".into()),
            ..Filter::default()
        };
        assert_eq!(
            page_link(&filter, 1, None),
            "/?repo=acme/foo&job=pull-*&author=a%26b%20c"
        );
        assert_eq!(
            page_link(&filter, 3, Some(50)),
            "/?repo=acme/foo&job=pull-*&author=a%26b%20c&per_page=50&page=3"
        );
        assert_eq!(page_link(&Filter::default(), 2, None), "/?page=2");
        assert_eq!(page_link(&Filter::default(), 1, None), "/");
    }
}
