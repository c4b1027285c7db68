//! `/job-history/<provider>/<bucket>/<root>`: the runs of one job as the artifact store has them
//! (`logs/<job>` for periodics and postsubmits, `pr-logs/directory/<job>` for presubmits), newest
//! first, 20 a page, `?buildId=` to start below a run, as Prow's Deck pages them. It reads storage,
//! not ProwJobs, so history survives sinker.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use prow_artifacts::layout::{Bucket, LATEST_BUILD_TXT};
use prow_artifacts::metadata::{Finished, Started};
use prow_artifacts::{ArtifactStore, Listing};
use serde::Deserialize;

use crate::DeckState;
use crate::views::{JobHistoryPage, JobHistoryRow, format_duration};
use crate::web::{html, identity, message};

/// Runs per page (Prow's `resultsPerPage`).
pub const RESULTS_PER_PAGE: usize = 20;

/// Runs of a job are listed from here in Prow's layout; any other root holds `<id>.txt` aliases.
const LOGS_PREFIX: &str = "logs/";

/// What the URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPath {
    pub bucket: Bucket,
    /// `logs/<job>` or `pr-logs/directory/<job>`, no trailing slash.
    pub root: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "expected /job-history/<bucket>/<path> or /job-history/<provider>/<bucket>/<path>, got {0:?}"
    )]
    Path(String),
    #[error("buildId must be a positive integer, got {0:?}")]
    BuildId(String),
}

/// Parses what follows `/job-history/`: `gs/<bucket>/<root>`, `s3/<bucket>/<root>`, or
/// `<bucket>/<root>` (GCS), as Prow's `parseJobHistURL`.
pub fn parse_path(path: &str) -> Result<HistoryPath, HistoryError> {
    let path = path.trim_matches('/');
    let (provider, rest) = match path.split_once('/') {
        Some((p @ ("gs" | "s3"), rest)) => (p, rest),
        _ => ("gs", path),
    };
    let bad = || HistoryError::Path(path.to_owned());
    let (bucket, root) = rest.split_once('/').ok_or_else(bad)?;
    if bucket.is_empty() || root.is_empty() || root.split('/').any(|s| s == ".." || s == ".") {
        return Err(bad());
    }
    Ok(HistoryPath {
        bucket: Bucket::parse(&format!("{provider}://{bucket}")),
        root: root.to_owned(),
    })
}

/// `?buildId=`: `None` for the newest page.
pub fn parse_build_id(value: Option<&str>) -> Result<Option<u64>, HistoryError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(HistoryError::BuildId(v.to_owned())),
        },
    }
}

/// The build ids under `root`, newest first: numeric "directories" under `logs/<job>/`, or
/// `<id>.txt` aliases under `pr-logs/directory/<job>/`. Other names are not runs.
pub fn build_ids(root: &str, listing: &Listing) -> Vec<u64> {
    let leaf = |name: &str| {
        name.trim_end_matches('/')
            .rsplit('/')
            .next()
            .map(str::to_owned)
    };
    let mut ids: Vec<u64> = if root.starts_with(LOGS_PREFIX) {
        listing
            .prefixes
            .iter()
            .filter_map(|p| leaf(p)?.parse().ok())
            .collect()
    } else {
        listing
            .objects
            .iter()
            .filter_map(|o| leaf(&o.name)?.strip_suffix(".txt")?.parse().ok())
            .collect()
    };
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    ids
}

/// One page of a job's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub shown: Vec<u64>,
    /// `Some(None)`: the newer page is the newest one (no `buildId`).
    pub newer: Option<Option<u64>>,
    pub older: Option<u64>,
    pub total: usize,
}

/// The page starting at `top` (newest when `None` or above every run), as Prow's `cropResults`:
/// up to [`RESULTS_PER_PAGE`] ids `<= top`, links to the page before and after.
pub fn window(ids_newest_first: &[u64], top: Option<u64>) -> Window {
    let first = top.map_or(0, |top| {
        ids_newest_first
            .iter()
            .position(|id| *id <= top)
            .unwrap_or(ids_newest_first.len())
    });
    let end = (first + RESULTS_PER_PAGE).min(ids_newest_first.len());
    let shown = ids_newest_first[first..end].to_vec();
    let newer = (first > 0).then(|| {
        first
            .checked_sub(RESULTS_PER_PAGE)
            .filter(|i| *i > 0)
            .map(|i| ids_newest_first[i])
    });
    let older = ids_newest_first.get(end).copied();
    Window {
        shown,
        newer,
        older,
        total: ids_newest_first.len(),
    }
}

/// A run's row from its `started.json` and `finished.json` (absent while it runs).
pub fn row(
    id: u64,
    build_dir: &str,
    bucket: &Bucket,
    started: Option<&Started>,
    finished: Option<&Finished>,
    now: DateTime<Utc>,
) -> JobHistoryRow {
    let start = started.and_then(|s| DateTime::from_timestamp(s.timestamp, 0));
    let result = match (started, finished) {
        (None, _) => "Unknown".to_owned(),
        (Some(_), None) => "Pending".to_owned(),
        (Some(_), Some(f)) if !f.result.is_empty() => f.result.to_uppercase(),
        (Some(_), Some(f)) => match f.passed {
            Some(true) => "SUCCESS".to_owned(),
            Some(false) => "FAILURE".to_owned(),
            None => "Unknown".to_owned(),
        },
    };
    let end = finished
        .and_then(|f| f.timestamp)
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or(now);
    let duration = start.map(|s| format_duration((end - s).num_seconds().max(0)));
    let pull = started.map(|s| s.pull.clone()).unwrap_or_default();
    JobHistoryRow {
        id: id.to_string(),
        link: format!("/view/{}/{}/{}", bucket.provider, bucket.name, build_dir),
        started: start.map_or_else(String::new, |s| {
            s.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        }),
        duration: duration.unwrap_or_default(),
        state_class: match result.as_str() {
            "SUCCESS" => "success",
            "FAILURE" => "failure",
            "ABORTED" => "aborted",
            "ERROR" => "error",
            "PENDING" | "Pending" => "pending",
            _ => "unknown",
        },
        result,
        pull,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    #[serde(rename = "buildId")]
    build_id: Option<String>,
}

fn history_link(path: &str, id: Option<u64>) -> String {
    match id {
        Some(id) => format!("/job-history/{path}?buildId={id}"),
        None => format!("/job-history/{path}"),
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    store: &dyn ArtifactStore,
    bucket: &str,
    name: &str,
) -> Option<T> {
    let bytes = store.get(bucket, name).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Where run `id` lives: `<root>/<id>` under `logs/`, else what its alias names.
async fn build_dir(store: &dyn ArtifactStore, path: &HistoryPath, id: u64) -> Option<String> {
    let bucket = path.bucket.to_string();
    if path.root.starts_with(LOGS_PREFIX) {
        return Some(format!("{}/{id}", path.root));
    }
    let alias = store
        .get(&bucket, &format!("{}/{id}.txt", path.root))
        .await
        .ok()??;
    let target = String::from_utf8_lossy(&alias).trim().to_owned();
    let dir = target
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(target.as_str(), |(_, dir)| dir);
    Some(dir.trim_matches('/').to_owned())
}

pub async fn job_history(
    State(state): State<DeckState>,
    Path(raw): Path<String>,
    Query(query): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Response {
    let who = identity(&state, &headers);
    let parsed = parse_path(&raw).and_then(|p| Ok((p, parse_build_id(query.build_id.as_deref())?)));
    let (path, top) = match parsed {
        Ok(ok) => ok,
        Err(err) => {
            return message(
                &who,
                StatusCode::BAD_REQUEST,
                "Bad request",
                &err.to_string(),
                None,
            );
        }
    };
    let Some(store) = state.artifacts.clone() else {
        return message(
            &who,
            StatusCode::NOT_FOUND,
            "Not found",
            "This Deck reads no artifact storage.",
            None,
        );
    };
    let bucket = path.bucket.to_string();
    let listing = if path.root.starts_with(LOGS_PREFIX) {
        store
            .list(&bucket, &format!("{}/", path.root), Some("/"))
            .await
    } else {
        store.list(&bucket, &format!("{}/", path.root), None).await
    };
    let ids = match listing {
        Ok(listing) => build_ids(&path.root, &listing),
        Err(err) => {
            tracing::warn!(error = %err, %bucket, root = %path.root, "listing job history");
            return message(
                &who,
                StatusCode::BAD_GATEWAY,
                "Storage error",
                "Could not list the job's runs; try again.",
                None,
            );
        }
    };
    // Prow starts from latest-build.txt; runs listed above it (a crashed upload) still show.
    let latest: Option<u64> = store
        .get(&bucket, &format!("{}/{LATEST_BUILD_TXT}", path.root))
        .await
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok());
    let window = window(&ids, top);
    let now = Utc::now();
    let rows = futures::future::join_all(window.shown.iter().map(|id| {
        let store = store.clone();
        let path = path.clone();
        async move {
            let bucket = path.bucket.to_string();
            let Some(dir) = build_dir(store.as_ref(), &path, *id).await else {
                return row(
                    *id,
                    &format!("{}/{id}", path.root),
                    &path.bucket,
                    None,
                    None,
                    now,
                );
            };
            let started: Option<Started> =
                read_json(store.as_ref(), &bucket, &format!("{dir}/started.json")).await;
            let finished: Option<Finished> =
                read_json(store.as_ref(), &bucket, &format!("{dir}/finished.json")).await;
            row(
                *id,
                &dir,
                &path.bucket,
                started.as_ref(),
                finished.as_ref(),
                now,
            )
        }
    }))
    .await;
    let raw_path = raw.trim_matches('/').to_owned();
    let page = JobHistoryPage {
        name: path.root.clone(),
        rows,
        shown: window.shown.len(),
        total: window.total,
        newer_link: window
            .newer
            .map(|id| history_link(&raw_path, id))
            .unwrap_or_default(),
        older_link: window
            .older
            .map(|id| history_link(&raw_path, Some(id)))
            .unwrap_or_default(),
        latest_link: if top.is_some() && top != latest {
            history_link(&raw_path, None)
        } else {
            String::new()
        },
        user: who.login().unwrap_or("").to_owned(),
    };
    html(StatusCode::OK, &page)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_artifacts::ObjectInfo;

    #[test]
    fn paths_name_provider_bucket_and_root_as_prow_reads_them() {
        let table = [
            (
                "gs/logs-bkt/logs/ci-foo",
                Some(("gs", "logs-bkt", "logs/ci-foo")),
            ),
            (
                "s3/b/pr-logs/directory/pull-x",
                Some(("s3", "b", "pr-logs/directory/pull-x")),
            ),
            (
                "kubernetes-ci-logs/logs/ci-foo/",
                Some(("gs", "kubernetes-ci-logs", "logs/ci-foo")),
            ),
            ("gs/bucket-only", None),
            ("gs/b/../etc", None),
            ("", None),
        ];
        for (input, want) in table {
            let got = parse_path(input).ok();
            let got = got.as_ref().map(|p| {
                (
                    p.bucket.provider.as_str(),
                    p.bucket.name.as_str(),
                    p.root.as_str(),
                )
            });
            assert_eq!(got, want, "{input}");
        }
        assert_eq!(parse_build_id(Some("17")), Ok(Some(17)));
        assert_eq!(parse_build_id(Some("")), Ok(None));
        assert!(parse_build_id(Some("0")).is_err());
        assert!(parse_build_id(Some("x1")).is_err());
    }

    #[test]
    fn build_ids_come_from_numeric_dirs_or_id_aliases_newest_first() {
        let logs = Listing {
            objects: vec![],
            prefixes: vec![
                "logs/ci/9/".into(),
                "logs/ci/10/".into(),
                "logs/ci/latest/".into(),
            ],
        };
        assert_eq!(build_ids("logs/ci", &logs), [10, 9]);
        let obj = |name: &str| ObjectInfo {
            name: name.into(),
            size: 1,
        };
        let aliases = Listing {
            objects: vec![
                obj("pr-logs/directory/j/3.txt"),
                obj("pr-logs/directory/j/12.txt"),
                obj("pr-logs/directory/j/latest-build.txt"),
            ],
            prefixes: vec![],
        };
        assert_eq!(build_ids("pr-logs/directory/j", &aliases), [12, 3]);
    }

    #[test]
    fn windows_page_by_twenty_below_build_id() {
        let ids: Vec<u64> = (1..=45).rev().collect();
        let first = window(&ids, None);
        assert_eq!(first.shown.first(), Some(&45));
        assert_eq!(first.shown.len(), 20);
        assert_eq!(first.newer, None);
        assert_eq!(first.older, Some(25));
        let second = window(&ids, Some(25));
        assert_eq!(second.shown.first(), Some(&25));
        assert_eq!(second.newer, Some(None), "the newer page is the newest");
        assert_eq!(second.older, Some(5));
        let third = window(&ids, Some(5));
        assert_eq!(third.shown, [5, 4, 3, 2, 1]);
        assert_eq!(third.newer, Some(Some(25)));
        assert_eq!(third.older, None);
        // A buildId between runs starts at the next older run.
        assert_eq!(window(&[30, 20, 10], Some(25)).shown, [20, 10]);
        assert_eq!(window(&[], None).total, 0);
    }

    #[test]
    fn rows_read_result_and_duration_from_started_and_finished() {
        let bucket = Bucket::parse("gs://b");
        let now = DateTime::from_timestamp(1_000_600, 0).unwrap();
        let started = Started {
            timestamp: 1_000_000,
            pull: "42".into(),
            ..Started::default()
        };
        let finished = Finished {
            timestamp: Some(1_000_090),
            passed: Some(false),
            result: "FAILURE".into(),
            ..Finished::default()
        };
        let done = row(
            7,
            "logs/ci/7",
            &bucket,
            Some(&started),
            Some(&finished),
            now,
        );
        assert_eq!(done.result, "FAILURE");
        assert_eq!(done.state_class, "failure");
        assert_eq!(done.duration, format_duration(90));
        assert_eq!(done.link, "/view/gs/b/logs/ci/7");
        assert_eq!(done.pull, "42");
        let running = row(8, "logs/ci/8", &bucket, Some(&started), None, now);
        assert_eq!(running.result, "Pending");
        assert_eq!(running.duration, format_duration(600));
        let crier = Finished {
            result: "success".into(),
            ..Finished::default()
        };
        assert_eq!(
            row(9, "d", &bucket, Some(&started), Some(&crier), now).result,
            "SUCCESS"
        );
        assert_eq!(row(10, "d", &bucket, None, None, now).result, "Unknown");
    }
}
