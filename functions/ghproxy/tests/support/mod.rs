//! A fake GitHub that answers conditional requests as GitHub does, a proxy served on port 0
//! in front of it, and the replay of a trigger+plugins workload through the proxy.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prow_ghproxy::store::CacheStore;
use prow_ghproxy::{GhproxyState, Options};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const LIMIT: i64 = 5000;

/// What the fake saw: each request with the validator it carried and what it cost.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Current version of each readable path (no query); a mutation bumps what it changes.
    versions: HashMap<String, u32>,
    /// Requests GitHub counts against the rate limit (everything but a 304).
    pub spent: u64,
    /// 304s, which GitHub does not count.
    pub free: u64,
    pub remaining: i64,
    /// (method, path and query, If-None-Match, Authorization) of every request.
    pub requests: Vec<(String, String, Option<String>, Option<String>)>,
    /// Bodies of the mutations.
    pub bodies: Vec<String>,
}

/// A GitHub whose resources change only when written: each GET answers a JSON body naming
/// the path and its version with `ETag: "v{version}"`, or 304 to a matching `If-None-Match`.
#[derive(Debug, Clone)]
pub struct FakeGitHub {
    pub ledger: Arc<Mutex<Ledger>>,
}

/// The paths a write changes on GitHub (not the proxy's rule: what really changes). Adding a
/// label changes the label list and the issue/PR (`updated_at`, `labels`), not its files or
/// comments; a status changes the commit's combined status.
pub fn changed_by(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["repos", o, r, "issues", n, "labels", ..] => vec![
            format!("/repos/{o}/{r}/issues/{n}/labels"),
            format!("/repos/{o}/{r}/issues/{n}"),
            format!("/repos/{o}/{r}/pulls/{n}"),
        ],
        ["repos", o, r, "statuses", sha] => {
            vec![format!("/repos/{o}/{r}/commits/{sha}/status")]
        }
        _ => vec![path.to_owned()],
    }
}

impl Respond for FakeGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut ledger = self.ledger.lock().unwrap();
        let path = request.url.path().to_owned();
        let path_and_query = match request.url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let if_none_match = header("if-none-match");
        ledger.requests.push((
            request.method.to_string(),
            path_and_query.clone(),
            if_none_match.clone(),
            header("authorization"),
        ));
        let rate = |template: ResponseTemplate, remaining: i64| {
            template
                .insert_header("x-ratelimit-limit", LIMIT.to_string().as_str())
                .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
                .insert_header("x-ratelimit-resource", "core")
        };
        if request.method.as_str() == "GET" {
            let version = *ledger.versions.entry(path.clone()).or_insert(1);
            let etag = format!("\"v{version}\"");
            if if_none_match.as_deref() == Some(etag.as_str()) {
                ledger.free += 1;
                let remaining = ledger.remaining;
                return rate(
                    ResponseTemplate::new(304).insert_header("etag", etag.as_str()),
                    remaining,
                );
            }
            ledger.spent += 1;
            ledger.remaining -= 1;
            let body = serde_json::json!({"path": path, "version": version});
            let remaining = ledger.remaining;
            return rate(
                ResponseTemplate::new(200)
                    .insert_header("etag", etag.as_str())
                    .set_body_json(body),
                remaining,
            );
        }
        ledger.spent += 1;
        ledger.remaining -= 1;
        ledger
            .bodies
            .push(String::from_utf8_lossy(&request.body).into_owned());
        for changed in changed_by(&path) {
            *ledger.versions.entry(changed).or_insert(1) += 1;
        }
        let remaining = ledger.remaining;
        rate(
            ResponseTemplate::new(201).set_body_json(serde_json::json!({"ok": true})),
            remaining,
        )
    }
}

impl FakeGitHub {
    pub async fn start() -> (MockServer, FakeGitHub) {
        let server = MockServer::start().await;
        let fake = FakeGitHub {
            ledger: Arc::new(Mutex::new(Ledger {
                remaining: LIMIT,
                ..Ledger::default()
            })),
        };
        Mock::given(wiremock::matchers::any())
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        (server, fake)
    }

    pub fn spent(&self) -> u64 {
        self.ledger.lock().unwrap().spent
    }

    pub fn free(&self) -> u64 {
        self.ledger.lock().unwrap().free
    }

    pub fn requests(&self) -> usize {
        self.ledger.lock().unwrap().requests.len()
    }

    pub fn last_request(&self) -> (String, String, Option<String>, Option<String>) {
        self.ledger
            .lock()
            .unwrap()
            .requests
            .last()
            .cloned()
            .unwrap()
    }
}

/// A proxy in front of `upstream`, served on a port-0 socket; returns its base URL.
pub async fn serve_proxy(
    upstream: &str,
    store: Arc<dyn CacheStore>,
    options: Options,
) -> (String, GhproxyState) {
    let state = GhproxyState::new(upstream, store, options).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = prow_ghproxy::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, state)
}

/// A client as a function's: its token and User-Agent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only(std::iter::empty())
        // As octocrab is configured: a redirect is GitHub's answer.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    user_agent: &str,
) -> reqwest::Response {
    http.request(method.parse().unwrap(), format!("{base}{path}"))
        .header("authorization", format!("token {token}"))
        .header("user-agent", user_agent)
        .header("accept", "application/vnd.github+json")
        .body(if method == "GET" {
            ""
        } else {
            r#"{"labels":["size/S"]}"#
        })
        .send()
        .await
        .unwrap()
}

/// One API call of the workload.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub user_agent: &'static str,
}

fn get(path: String, user_agent: &'static str) -> Call {
    Call {
        method: "GET",
        path,
        user_agent,
    }
}

/// The calls trigger and the plugins make for one pull request event, in the order they make
/// them (shaped after their code: trust check, changed files for run_if_changed, labels for
/// lgtm/hold, OWNERS at the base, comments for approve, collaborators for blunderbuss), then
/// the commit status trigger reports. A first event (`opened`) also labels the PR (size).
pub fn pull_request_event(pr: u64, authors: u64, first: bool) -> Vec<Call> {
    let repo = "/repos/acme/widgets";
    let author = format!("author{}", pr % authors);
    let sha = format!("{pr:040x}");
    let mut calls = vec![
        get(format!("{repo}/pulls/{pr}"), "prow-trigger"),
        get(format!("/orgs/acme/members/{author}"), "prow-trigger"),
        get(
            format!("{repo}/pulls/{pr}/files?per_page=100"),
            "prow-trigger",
        ),
        get(
            format!("{repo}/issues/{pr}/labels?per_page=100"),
            "prow-plugins",
        ),
        get(format!("{repo}/contents/OWNERS?ref=main"), "prow-plugins"),
        get(
            format!("{repo}/issues/{pr}/comments?per_page=100"),
            "prow-plugins",
        ),
        get(format!("{repo}/collaborators?per_page=100"), "prow-plugins"),
        Call {
            method: "POST",
            path: format!("{repo}/statuses/{sha}"),
            user_agent: "prow-trigger",
        },
    ];
    if first {
        calls.push(Call {
            method: "POST",
            path: format!("{repo}/issues/{pr}/labels"),
            user_agent: "prow-plugins",
        });
    }
    calls
}

/// `prs` PRs opened, then every event delivered again (a resync, or a `synchronize` that
/// re-reads the same state): the repetition a busy Prow sees all day.
pub fn workload(prs: u64, authors: u64) -> Vec<Call> {
    let mut calls = Vec::new();
    for first in [true, false] {
        for pr in 1..=prs {
            calls.extend(pull_request_event(pr, authors, first));
        }
    }
    calls
}

/// What a replay cost with and without the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub reads: u64,
    pub mutations: u64,
    /// Answers by `X-Cache-Mode`.
    pub modes: BTreeMap<String, u64>,
    /// Rate limit GitHub counted through the proxy.
    pub spent: u64,
    /// 304s GitHub answered (free) plus reads never sent.
    pub saved: u64,
    /// X-RateLimit-Remaining the last answer reported.
    pub remaining: i64,
}

impl Report {
    /// What the same calls cost without a proxy: every one of them.
    pub fn spent_without_proxy(&self) -> u64 {
        self.reads + self.mutations
    }

    /// Share of reads that cost nothing.
    pub fn hit_rate(&self) -> f64 {
        let free = self.modes.get("REVALIDATED").copied().unwrap_or_default()
            + self.modes.get("FRESH").copied().unwrap_or_default();
        free as f64 / self.reads as f64
    }

    pub fn render(&self, title: &str) -> String {
        format!(
            "{title}: {} reads + {} writes; modes {:?}; hit rate {:.1}%; GitHub counted {} of {} calls \
             (saved {} = {:.1}% of the budget); X-RateLimit-Remaining {} of {LIMIT}",
            self.reads,
            self.mutations,
            self.modes,
            100.0 * self.hit_rate(),
            self.spent,
            self.spent_without_proxy(),
            self.saved,
            100.0 * self.saved as f64 / self.spent_without_proxy() as f64,
            self.remaining,
        )
    }
}

/// Sends `calls` through the proxy at `base` with one token, and tallies the answers.
pub async fn replay(base: &str, fake: &FakeGitHub, calls: &[Call]) -> Report {
    let http = client();
    let mut modes = BTreeMap::new();
    let (mut reads, mut mutations) = (0, 0);
    let mut remaining = LIMIT;
    for c in calls {
        let response = call(&http, base, c.method, &c.path, "ghs_replay", c.user_agent).await;
        assert!(
            response.status().is_success(),
            "{} {}: {}",
            c.method,
            c.path,
            response.status()
        );
        let mode = response.headers()["x-cache-mode"]
            .to_str()
            .unwrap()
            .to_owned();
        if let Some(r) = response.headers().get("x-ratelimit-remaining") {
            remaining = r.to_str().unwrap().parse().unwrap();
        }
        *modes.entry(mode).or_insert(0) += 1;
        if c.method == "GET" {
            reads += 1;
        } else {
            mutations += 1;
        }
    }
    let spent = fake.spent();
    Report {
        reads,
        mutations,
        modes,
        spent,
        saved: reads + mutations - spent,
        remaining,
    }
}
