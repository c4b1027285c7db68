//! HTML pages: the job list, a job's spyglass page, command help and the login form.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use k8s_openapi::jiff::Timestamp;
use prow_artifacts::layout::ARTIFACTS_DIR;
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use serde::Deserialize;

use crate::api::{self, fetch_log, storage};
use crate::filter::Filter;
use crate::spyglass::{self, Outcome};
use crate::views::{
    self, ArtifactView, CommandHelpPage, CommandView, FilterView, JobPage, ListPage, LoginPage,
    PluginView, PluginsPage,
};
use crate::web::{self, html, identity, message};
use crate::{DeckState, help};

/// Largest page a client may ask for.
pub const MAX_PER_PAGE: usize = 1000;
/// JUnit files read per job page, and bytes per file: a runaway job must not stall the page.
const MAX_JUNIT_FILES: usize = 20;
const MAX_JUNIT_BYTES: usize = 8 << 20;

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

/// Test results from `artifacts/junit*.xml` (any depth), failures first.
async fn junit(
    state: &DeckState,
    pj: &ProwJob,
    objects: &[(String, u64)],
) -> (Vec<spyglass::TestCase>, Vec<String>) {
    let Some((store, paths)) = storage(state, pj) else {
        return (Vec::new(), Vec::new());
    };
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let files = objects.iter().filter(|(rel, _)| {
        let base = rel.rsplit('/').next().unwrap_or("");
        rel.starts_with(&format!("{ARTIFACTS_DIR}/"))
            && base.starts_with("junit")
            && base.ends_with(".xml")
    });
    for (rel, size) in files.take(MAX_JUNIT_FILES) {
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

pub async fn job(
    State(state): State<DeckState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let who = identity(&state, &headers);
    let Some(pj) = api::find(&state, &name).await else {
        return message(
            &who,
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No ProwJob named {name}."),
            None,
        );
    };
    let now = Timestamp::now();
    let (log, objects) = tokio::join!(fetch_log(&state, &pj), objects(&state, &pj));
    let (tests, test_errors) = junit(&state, &pj, &objects).await;
    let count = |f: fn(&Outcome) -> bool| tests.iter().filter(|t| f(&t.outcome)).count();
    let (sid, set_cookie) = web::session(&headers);
    let storage_url = storage(&state, &pj)
        .map(|(_, p)| p.bucket.url(&p.build_dir))
        .unwrap_or_default();
    let encoded = encode(pj.name());
    let page = JobPage {
        row: views::row(&pj, now),
        cluster: pj.spec.cluster_alias().to_owned(),
        pod_name: pj.status.pod_name.clone(),
        pending: views::format_time(pj.status.pending_time.as_ref()),
        completed: views::format_time(pj.status.completion_time.as_ref()),
        url: views::safe_url(&pj.status.url),
        storage: storage_url,
        log: log.text.as_deref().map(spyglass::render_log),
        log_source: log.source,
        log_note: log.note,
        passed: count(|o| matches!(o, Outcome::Passed)),
        failed: count(|o| matches!(o, Outcome::Failed(_))),
        skipped: count(|o| matches!(o, Outcome::Skipped(_))),
        tests,
        test_errors,
        artifacts: objects
            .iter()
            .map(|(rel, size)| ArtifactView {
                name: rel.clone(),
                link: format!("/artifact/{encoded}/{}", encode(rel)),
                size: *size,
            })
            .collect(),
        can_abort: crate::actions::check_abortable(&pj).is_ok(),
        csrf: state.csrf.token(&sid),
        user: who.login().unwrap_or("").to_owned(),
    };
    let mut response = html(StatusCode::OK, &page);
    if let Some(set) = set_cookie.and_then(|s| HeaderValue::from_str(&s).ok()) {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// Prow's `/prowjob?prowjob=<name>` (the link plank gives undecorated jobs) goes to that job's page.
#[derive(Debug, Deserialize)]
pub struct ProwJobQuery {
    prowjob: String,
}

pub async fn prowjob_link(Query(q): Query<ProwJobQuery>) -> Response {
    Redirect::to(&format!("/view/{}", encode(&q.prowjob))).into_response()
}

/// `/view/gs/<bucket>/<build dir>`: the job URL plank and crier link to; the run is named by the
/// build dir's last two segments (`<job>/<build id>`), so it redirects to that run's page.
pub async fn view_storage(
    State(state): State<DeckState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    api::synced(&state).await;
    let run = match segments.as_slice() {
        [_bucket, .., job, build_id] => state
            .index
            .find_build(job, build_id)
            .filter(|pj| api::visible(&state, pj)),
        _ => None,
    };
    match run {
        Some(pj) => Redirect::to(&format!("/view/{}", encode(pj.name()))).into_response(),
        None => message(
            &identity(&state, &headers),
            StatusCode::NOT_FOUND,
            "Not found",
            "No known run is stored there.",
            None,
        ),
    }
}

pub async fn command_help(
    State(state): State<DeckState>,
    Query(query): Query<api::HelpQuery>,
    headers: HeaderMap,
) -> Response {
    let registry = match help::registry(&state.config.plugins, query.repo.as_deref()) {
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
    html(StatusCode::OK, &CommandHelpPage { commands, user })
}

/// Prow's `/plugins` page: what each plugin enabled in `?repo=org/repo` does (every known plugin
/// without a repo), its events, commands and that repo's settings.
pub async fn plugins(
    State(state): State<DeckState>,
    Query(query): Query<api::HelpQuery>,
    headers: HeaderMap,
) -> Response {
    let registry = match help::registry(&state.config.plugins, query.repo.as_deref()) {
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

pub async fn login(State(state): State<DeckState>, headers: HeaderMap) -> Response {
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &LoginPage {
            error: String::new(),
            user,
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
