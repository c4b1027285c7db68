//! Tide's pages: `/tide` (each merge pool, its last decision and what blocks each PR),
//! `/tide-history` (the actions tide took per pool) and `/pr` (one author's open PRs with their
//! job states and what tide waits for), read from tide's merge-pool index in the API server.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prow_tide::index::{ContextState, RepoIndex};
use prow_tide::store::IndexStore;

use crate::DeckState;
use crate::views::safe_url;
use crate::web::{html, identity};

/// One PR as the pages show it.
#[derive(Debug, Clone)]
pub struct PrView {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub url: String,
    pub head: String,
    /// The `tide` context tide last wrote: `success`, `pending`, `error`, or empty.
    pub tide_state: String,
    pub tide_description: String,
    /// Other contexts: (name, state).
    pub contexts: Vec<(String, String)>,
}

/// One pool on `/tide`.
#[derive(Debug, Clone)]
pub struct PoolView {
    pub org_repo: String,
    pub branch: String,
    pub base_sha: String,
    pub action: String,
    pub target: String,
    pub success: String,
    pub pending: String,
    pub missing: String,
    pub batch_pending: String,
    pub updated: String,
    pub prs: Vec<PrView>,
}

/// One history record on `/tide-history`.
#[derive(Debug, Clone)]
pub struct RecordView {
    pub pool: String,
    pub time: String,
    pub action: String,
    pub base_sha: String,
    pub targets: String,
    pub err: String,
}

#[derive(Debug, Template)]
#[template(path = "tide.html")]
pub struct TidePage {
    pub pools: Vec<PoolView>,
    pub user: String,
}

#[derive(Debug, Template)]
#[template(path = "tide_history.html")]
pub struct TideHistoryPage {
    pub records: Vec<RecordView>,
    pub user: String,
}

#[derive(Debug, Template)]
#[template(path = "pr.html")]
pub struct PrPage {
    pub author: String,
    pub prs: Vec<(String, PrView)>,
    pub user: String,
}

fn numbers(list: &[u64]) -> String {
    list.iter()
        .map(|n| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn short(sha: &str) -> String {
    sha.chars().take(8).collect()
}

fn pr_view(pr: &prow_tide::index::PrFacts) -> PrView {
    let tide = pr.contexts.get(prow_tide::decide::STATUS_CONTEXT);
    PrView {
        number: pr.number,
        title: pr.title.clone(),
        author: pr.author.clone(),
        url: safe_url(&pr.html_url),
        head: short(&pr.head_sha),
        tide_state: tide
            .map(|c| c.state.as_str().to_owned())
            .unwrap_or_default(),
        tide_description: tide.map(|c| c.description.clone()).unwrap_or_default(),
        contexts: pr
            .contexts
            .iter()
            .filter(|(name, _)| name.as_str() != prow_tide::decide::STATUS_CONTEXT)
            .map(|(name, c)| (name.clone(), c.state.as_str().to_owned()))
            .collect(),
    }
}

/// The pools of the indexes, sorted by repository and branch.
pub fn pool_views(indexes: &[RepoIndex]) -> Vec<PoolView> {
    let mut pools = Vec::new();
    for index in indexes {
        for branch in index.branches() {
            let summary = index.pools.get(branch).cloned().unwrap_or_default();
            pools.push(PoolView {
                org_repo: format!("{}/{}", index.org, index.repo),
                branch: branch.to_owned(),
                base_sha: short(&summary.base_sha),
                action: summary.action.clone(),
                target: numbers(&summary.target),
                success: numbers(&summary.success_prs),
                pending: numbers(&summary.pending_prs),
                missing: numbers(&summary.missing_prs),
                batch_pending: numbers(&summary.batch_pending),
                updated: summary.updated.clone(),
                prs: index
                    .prs
                    .values()
                    .filter(|p| p.base_ref == branch)
                    .map(pr_view)
                    .collect(),
            });
        }
    }
    pools.sort_by(|a, b| (&a.org_repo, &a.branch).cmp(&(&b.org_repo, &b.branch)));
    pools
}

/// Every pool's history, newest first.
pub fn history_views(indexes: &[RepoIndex]) -> Vec<RecordView> {
    let mut records: Vec<RecordView> = indexes
        .iter()
        .flat_map(|index| {
            index.history.iter().flat_map(move |(branch, records)| {
                records.iter().map(move |r| RecordView {
                    pool: format!("{}/{}:{branch}", index.org, index.repo),
                    time: r.time.clone(),
                    action: r.action.clone(),
                    base_sha: short(&r.base_sha),
                    targets: r
                        .targets
                        .iter()
                        .map(|(n, sha)| format!("#{n} ({})", short(sha)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    err: r.err.clone(),
                })
            })
        })
        .collect();
    records.sort_by(|a, b| b.time.cmp(&a.time));
    records
}

fn store(state: &DeckState) -> IndexStore {
    let config = state.config();
    let ns = match config.prow.prowjob_namespace.as_str() {
        "" => "default",
        ns => ns,
    };
    IndexStore::kube(state.client.clone(), ns)
}

async fn indexes(state: &DeckState) -> Result<Vec<RepoIndex>, Response> {
    store(state).list().await.map_err(|err| {
        tracing::warn!(%err, "reading tide's index");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "tide's pools cannot be read now",
        )
            .into_response()
    })
}

/// `/tide`: every pool, its last decision and each PR's tide status.
pub async fn tide(State(state): State<DeckState>, headers: HeaderMap) -> Response {
    let indexes = match indexes(&state).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &TidePage {
            pools: pool_views(&indexes),
            user,
        },
    )
}

/// `/tide-history`: what tide did, newest first.
pub async fn tide_history(State(state): State<DeckState>, headers: HeaderMap) -> Response {
    let indexes = match indexes(&state).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    html(
        StatusCode::OK,
        &TideHistoryPage {
            records: history_views(&indexes),
            user,
        },
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct PrQuery {
    /// GitHub login; the logged-in user when absent.
    pub author: Option<String>,
}

/// `/pr?author=login`: that author's open PRs in tide's scope, their jobs and tide's status.
pub async fn pr(
    State(state): State<DeckState>,
    Query(query): Query<PrQuery>,
    headers: HeaderMap,
) -> Response {
    let indexes = match indexes(&state).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let user = identity(&state, &headers).login().unwrap_or("").to_owned();
    let author = query.author.unwrap_or_else(|| user.clone());
    let prs = prs_by(&indexes, &author);
    html(StatusCode::OK, &PrPage { author, prs, user })
}

/// `author`'s PRs (case-insensitive login), with their repository.
pub fn prs_by(indexes: &[RepoIndex], author: &str) -> Vec<(String, PrView)> {
    let mut out = Vec::new();
    for index in indexes {
        for pr in index.prs.values() {
            if !author.is_empty() && pr.author.eq_ignore_ascii_case(author) {
                out.push((format!("{}/{}", index.org, index.repo), pr_view(pr)));
            }
        }
    }
    out
}

/// Whether a PR's jobs all passed (for a summary mark).
pub fn all_passing(view: &PrView) -> bool {
    view.contexts
        .iter()
        .all(|(_, s)| s == ContextState::Success.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_tide::index::{Context, HistoryRecord, PoolSummary, PrFacts};

    fn index() -> RepoIndex {
        let mut index = RepoIndex::new("acme", "foo");
        let mut pr = PrFacts {
            number: 7,
            title: "<b>Fix</b>".into(),
            author: "Alice".into(),
            html_url: "javascript:alert(1)".into(),
            head_sha: "abcdef0123456789".into(),
            base_ref: "main".into(),
            ..PrFacts::default()
        };
        pr.contexts.insert(
            "tide".into(),
            Context {
                state: ContextState::Pending,
                description: "Not mergeable. Needs lgtm label.".into(),
            },
        );
        pr.contexts.insert(
            "unit".into(),
            Context {
                state: ContextState::Success,
                description: String::new(),
            },
        );
        index.prs.insert(7, pr);
        index.pools.insert(
            "main".into(),
            PoolSummary {
                base_sha: "0123456789".into(),
                missing_prs: vec![7],
                action: "WAIT".into(),
                ..PoolSummary::default()
            },
        );
        index.record(
            "main",
            HistoryRecord {
                time: "2026-12-02T05:00:00Z".into(),
                action: "MERGE".into(),
                base_sha: "0123456789".into(),
                targets: vec![(3, "fedcba9876".into())],
                err: String::new(),
            },
        );
        index
    }

    #[test]
    fn pools_show_each_prs_tide_status_and_history_its_actions() {
        let pools = pool_views(&[index()]);
        assert_eq!(pools.len(), 1);
        let pool = &pools[0];
        assert_eq!(
            (pool.org_repo.as_str(), pool.branch.as_str()),
            ("acme/foo", "main")
        );
        assert_eq!(pool.missing, "#7");
        assert_eq!(pool.base_sha, "01234567");
        let pr = &pool.prs[0];
        assert_eq!(pr.tide_description, "Not mergeable. Needs lgtm label.");
        assert_eq!(pr.url, "", "only http(s) links become hrefs");
        assert_eq!(pr.contexts, vec![("unit".to_owned(), "success".to_owned())]);
        assert!(all_passing(pr));
        let page = TidePage {
            pools,
            user: String::new(),
        }
        .render()
        .unwrap();
        assert!(
            page.contains("Fix") && !page.contains("<b>Fix"),
            "titles are escaped"
        );
        assert!(page.contains("Not mergeable. Needs lgtm label."));

        let history = history_views(&[index()]);
        assert_eq!(history[0].pool, "acme/foo:main");
        assert_eq!(history[0].targets, "#3 (fedcba98)");
        let page = TideHistoryPage {
            records: history,
            user: String::new(),
        }
        .render()
        .unwrap();
        assert!(page.contains("MERGE"));
    }

    #[test]
    fn the_pr_page_lists_one_authors_prs() {
        let prs = prs_by(&[index()], "alice");
        assert_eq!(prs.len(), 1);
        assert_eq!(prs[0].0, "acme/foo");
        assert!(prs_by(&[index()], "bob").is_empty());
        assert!(prs_by(&[index()], "").is_empty());
        let page = PrPage {
            author: "alice".into(),
            prs,
            user: String::new(),
        }
        .render()
        .unwrap();
        assert!(page.contains("#7"));
    }
}
