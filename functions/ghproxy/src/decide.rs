//! The proxy's decisions as plain functions: what a request is (cacheable read, mutation,
//! pass-through), its cache key, which cached reads a mutation invalidates, what to do with
//! GitHub's answer, when a token's next request may leave, and how `Link` headers are rewritten.

use std::time::Duration;

use http::{Method, StatusCode};
use sha2::{Digest, Sha256};

/// Response header saying how the proxy answered, with Prow's ghcache values.
pub const CACHE_MODE_HEADER: &str = "x-cache-mode";

/// How the proxy answered one request (Prow's ghcache modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheMode {
    /// Not cached yet: fetched and stored.
    Miss,
    /// Served from the store without asking GitHub: confirmed within `--fresh-for-seconds`
    /// and not invalidated by a mutation since (off by default).
    Fresh,
    /// GitHub answered 304 to our conditional request: served from the store, free of budget.
    Revalidated,
    /// The cached copy was out of date: GitHub sent the new one, which replaced it.
    Changed,
    /// A read GitHub's answer cannot be revalidated (an error, no validator): passed on, not kept.
    NoStore,
    /// Not a cacheable read (a mutation, HEAD, GraphQL, the caller's own conditional request).
    Skip,
    /// An identical read (same path, `Accept` and token) was being asked already: answered with
    /// its answer, without a request to GitHub.
    Coalesced,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Miss => "MISS",
            CacheMode::Fresh => "FRESH",
            CacheMode::Revalidated => "REVALIDATED",
            CacheMode::Changed => "CHANGED",
            CacheMode::NoStore => "NO-STORE",
            CacheMode::Skip => "SKIP",
            CacheMode::Coalesced => "COALESCED",
        }
    }

    /// Whether answering this way cost no rate limit (GitHub does not count 304s).
    pub fn is_free(self) -> bool {
        matches!(
            self,
            CacheMode::Revalidated | CacheMode::Fresh | CacheMode::Coalesced
        )
    }
}

/// What the proxy does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A GET of the REST API: answered from the store after a conditional request.
    CacheableRead,
    /// A write: passed through, and on success the cached reads it changes are dropped.
    Mutation,
    /// Passed through untouched and not cached.
    PassThrough,
}

/// Classifies a request. GraphQL is a POST that mostly reads; it is neither cached (its body is
/// the query) nor taken for a mutation. A caller that sends its own `If-None-Match` or
/// `If-Modified-Since` manages its own cache, so its request goes through as it is.
pub fn classify(method: &Method, path: &str, caller_is_conditional: bool) -> RequestKind {
    let graphql = path.trim_start_matches('/').starts_with("graphql");
    if graphql || method == Method::HEAD || method == Method::OPTIONS {
        RequestKind::PassThrough
    } else if method == Method::GET {
        if caller_is_conditional {
            RequestKind::PassThrough
        } else {
            RequestKind::CacheableRead
        }
    } else {
        RequestKind::Mutation
    }
}

/// The identity a cache partition and a rate-limit budget belong to: a hash of the
/// `Authorization` header (GitHub's ETags and answers vary by token), never the token itself.
/// Requests without one share the `anonymous` partition.
pub fn token_identity(authorization: Option<&[u8]>) -> String {
    match authorization {
        Some(value) if !value.is_empty() => {
            let digest = Sha256::digest(value);
            hex::encode(&digest[..8])
        }
        _ => "anonymous".to_owned(),
    }
}

/// The caller a request is counted for in metrics: the first product of its `User-Agent`
/// (`prow-trigger/0.1` -> `prow-trigger`), limited to a short safe alphabet so a label can
/// never carry anything odd.
pub fn caller(user_agent: Option<&str>) -> String {
    let product = user_agent
        .and_then(|ua| ua.split_whitespace().next())
        .map(|p| p.split('/').next().unwrap_or(p))
        .unwrap_or_default();
    let cleaned: String = product
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    if cleaned.is_empty() {
        "unknown".to_owned()
    } else {
        cleaned
    }
}

/// Separates the parts of a cache key; never in a URL, an `Accept` value or a hash.
const KEY_SEPARATOR: char = '\u{0}';

/// The store key of a cached GET: path and query first, so every partition's copy of a path
/// sits together and a mutation finds them with one prefix scan; then the `Accept` header
/// (the same URL answers a diff, a patch or JSON) and the token identity.
pub fn cache_key(path_and_query: &str, accept: &str, identity: &str) -> String {
    format!("{path_and_query}{KEY_SEPARATOR}{accept}{KEY_SEPARATOR}{identity}")
}

/// The path and query a cache key was made for.
pub fn key_path(key: &str) -> &str {
    key.split(KEY_SEPARATOR).next().unwrap_or(key)
}

/// Where GitHub App installation tokens are shared (`prow_github::SharedTokenCache`); not a
/// GitHub path, so never proxied.
pub const APP_TOKENS_PATH: &str = "/_prow/app-tokens";

/// The store key of a shared installation token, for a cache key
/// `github-app/{app id}/installation/{installation id}` and nothing else, so the endpoint
/// cannot be used to park arbitrary data. Outside the path-first key space (`\u{1}` sorts
/// before `/`), so no invalidation scope reaches it.
pub fn app_token_key(key: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    match key.split('/').collect::<Vec<_>>().as_slice() {
        ["github-app", app, "installation", id] if digits(app) && digits(id) => {
            Some(format!("\u{1}app-tokens/{key}"))
        }
        _ => None,
    }
}

/// A set of cached reads a mutation invalidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The path itself and everything below it, with any query (`/repos/o/r/issues/5` covers
    /// `/repos/o/r/issues/5/labels?per_page=100`).
    Tree(String),
    /// Exactly this collection, with any query (the lists a new or changed item shows in).
    Collection(String),
}

impl Scope {
    /// The prefix to scan the store from.
    pub fn prefix(&self) -> &str {
        match self {
            Scope::Tree(p) | Scope::Collection(p) => p,
        }
    }

    /// Whether the cached read of `path_and_query` is in this scope.
    pub fn covers(&self, path_and_query: &str) -> bool {
        let (path, _) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        match self {
            Scope::Tree(prefix) => {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            Scope::Collection(collection) => path == collection,
        }
    }
}

/// The cached reads a successful mutation of `path` invalidates.
///
/// Invalidated copies are not deleted: their ETag still makes the next read a conditional
/// request, free if GitHub says nothing changed (a label write does not change the PR's
/// files). Invalidation ends their freshness window ([`serve_without_asking`]), so a read
/// after a write through the proxy always asks GitHub. The rule, by the object the
/// mutation addresses:
/// - `/repos/{o}/{r}/{kind}/{id}/...`: that object's tree and the `{kind}` collection;
///   issues and pulls share numbers, so both `issues/{n}` and `pulls/{n}` go; a merge or a
///   ref change also moves branches, so `branches`, `git/refs` and `commits` go;
///   `statuses/{sha}` invalidates `commits/{sha}` (combined status, check runs).
/// - `/repos/{o}/{r}/{kind}` (a create): that whole kind.
/// - `/repos/{o}/{r}` (repo settings): the whole repo.
/// - `/orgs/{o}/{kind}/{id}/...` and other roots: the object's tree and its collection.
///
/// A mutation addressed by another id than the reads it changes (editing comment 123 changes
/// `issues/5/comments`) is not traced back; revalidation still catches it.
pub fn invalidation_scopes(path_and_query: &str) -> Vec<Scope> {
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let join = |parts: &[&str]| format!("/{}", parts.join("/"));
    let mut scopes = Vec::new();
    match segments.as_slice() {
        ["repos", owner, repo, kind, id, rest @ ..] => {
            let repo_root = ["repos", owner, repo];
            let kinds: &[&str] = match *kind {
                "issues" | "pulls" => &["issues", "pulls"],
                "statuses" | "commits" | "check-runs" => &["statuses", "commits"],
                _ => std::slice::from_ref(kind),
            };
            for kind in kinds {
                scopes.push(Scope::Tree(join(&[&repo_root[..], &[kind, id]].concat())));
                scopes.push(Scope::Collection(join(&[&repo_root[..], &[kind]].concat())));
            }
            let moves_branches = *kind == "git"
                || *kind == "merges"
                || (*kind == "pulls" && rest.first() == Some(&"merge"));
            if moves_branches {
                for moved in ["branches", "git", "commits", "compare"] {
                    scopes.push(Scope::Tree(join(&[&repo_root[..], &[moved]].concat())));
                }
            }
        }
        ["repos", owner, repo, kind] => {
            scopes.push(Scope::Tree(join(&["repos", owner, repo, kind])));
        }
        ["repos", ..] => scopes.push(Scope::Tree(join(&segments))),
        [root, owner, kind, id, ..] => {
            scopes.push(Scope::Tree(join(&[root, owner, kind, id])));
            scopes.push(Scope::Collection(join(&[root, owner, kind])));
        }
        _ => scopes.push(Scope::Tree(join(&segments))),
    }
    scopes.dedup();
    scopes
}

/// Whether a copy GitHub confirmed at `validated_at` (0 = invalidated) is served at `now`
/// without asking again. With the default window of zero every read asks, as Prow's ghproxy
/// does: a 304 is free, and a webhook's reader must never see the state before the change
/// the webhook announces. A window trades that for fewer round trips; a mutation through the
/// proxy ends it early for what it changed, so a function at least reads its own writes.
pub fn serve_without_asking(validated_at: u64, now: u64, fresh_for: Duration) -> bool {
    validated_at != 0
        && !fresh_for.is_zero()
        && now.saturating_sub(validated_at) < fresh_for.as_secs()
}

/// What to do with GitHub's answer to a cacheable read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// 304: answer with the stored copy.
    ServeCached,
    /// A new copy with a validator: store it and answer with it.
    Store(CacheMode),
    /// Answer with GitHub's response; drop any stored copy when it is gone or unverifiable.
    PassOn { drop_cached: bool },
}

/// Decides a read from whether a copy was stored (and so a conditional request sent), GitHub's
/// status, and whether its answer carries a validator (`ETag` or `Last-Modified`).
pub fn decide_read(had_copy: bool, status: StatusCode, has_validator: bool) -> ReadOutcome {
    if status == StatusCode::NOT_MODIFIED {
        if had_copy {
            ReadOutcome::ServeCached
        } else {
            ReadOutcome::PassOn { drop_cached: false }
        }
    } else if status.is_success() && has_validator {
        ReadOutcome::Store(if had_copy {
            CacheMode::Changed
        } else {
            CacheMode::Miss
        })
    } else {
        // A 404/410 means the copy describes something gone; a 2xx without a validator can no
        // longer be revalidated. A 5xx or a 403 (rate limit) says nothing about the resource.
        let gone = status == StatusCode::NOT_FOUND || status == StatusCode::GONE;
        ReadOutcome::PassOn {
            drop_cached: had_copy && (gone || status.is_success()),
        }
    }
}

/// Headers of a 304 that replace the stored copy's when it is served: the budget and
/// request id are the current request's, not those of the request that filled the cache.
pub fn refreshed_by_revalidation(name: &str) -> bool {
    name.starts_with("x-ratelimit-") || matches!(name, "date" | "x-github-request-id")
}

/// Headers that belong to one hop, or that the proxy recomputes, and so are never forwarded
/// or stored.
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            // Bodies are kept plain: a compressed copy could not be served to a caller that
            // did not ask for that encoding.
            | "accept-encoding"
            | "content-encoding"
    )
}

/// Rewrites the upstream's base in a `Link` header to the proxy's, so a caller following
/// `rel="next"` pages stays behind the proxy instead of going to GitHub directly.
pub fn rewrite_links(link: &str, upstream_base: &str, own_base: &str) -> String {
    let upstream = upstream_base.trim_end_matches('/');
    let own = own_base.trim_end_matches('/');
    if upstream.is_empty() {
        return link.to_owned();
    }
    link.replace(&format!("<{upstream}/"), &format!("<{own}/"))
        .replace(&format!("<{upstream}>"), &format!("<{own}>"))
}

/// Per-token spacing of requests to GitHub, as Prow's ghproxy `--throttling-time-ms` and
/// `--get-throttling-time-ms`: zero spacing for both turns throttling off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleSettings {
    /// Least time between a token's requests when either is a write.
    pub spacing: Duration,
    /// Least time between two GETs of one token.
    pub get_spacing: Duration,
    /// A request never waits longer than this, so a slow GitHub cannot pile up a backlog.
    pub max_delay: Duration,
}

impl ThrottleSettings {
    pub fn is_enabled(&self) -> bool {
        !self.spacing.is_zero() || !self.get_spacing.is_zero()
    }
}

/// The last slot handed to a token: when its request leaves and whether it was a GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Time since the proxy's clock started.
    pub at: Duration,
    pub get: bool,
}

/// The slot of a token's next request at `now`, given the token's last slot: it leaves a
/// spacing after the last one (the GET spacing between two GETs), at most `max_delay` from
/// now. Returns the slot (to remember) and how long the request waits.
pub fn schedule(
    last: Option<Slot>,
    now: Duration,
    get: bool,
    settings: &ThrottleSettings,
) -> (Slot, Duration) {
    let at = match last {
        Some(last) if settings.is_enabled() => {
            let spacing = if last.get && get {
                settings.get_spacing
            } else {
                settings.spacing
            };
            (last.at + spacing).max(now).min(now + settings.max_delay)
        }
        _ => now,
    };
    (Slot { at, get }, at.saturating_sub(now))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_as_reads_mutations_or_pass_through() {
        let cases = [
            (
                Method::GET,
                "/repos/o/r/pulls/1",
                false,
                RequestKind::CacheableRead,
            ),
            (
                Method::GET,
                "/repos/o/r/pulls/1",
                true,
                RequestKind::PassThrough,
            ),
            (Method::HEAD, "/repos/o/r", false, RequestKind::PassThrough),
            (Method::POST, "/graphql", false, RequestKind::PassThrough),
            (
                Method::POST,
                "/repos/o/r/issues/1/labels",
                false,
                RequestKind::Mutation,
            ),
            (
                Method::PATCH,
                "/repos/o/r/issues/1",
                false,
                RequestKind::Mutation,
            ),
            (
                Method::PUT,
                "/repos/o/r/pulls/1/merge",
                false,
                RequestKind::Mutation,
            ),
            (
                Method::DELETE,
                "/repos/o/r/issues/1/labels/x",
                false,
                RequestKind::Mutation,
            ),
        ];
        for (method, path, conditional, want) in cases {
            assert_eq!(
                classify(&method, path, conditional),
                want,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_token_identity_is_a_short_hash_and_never_the_token() {
        let id = token_identity(Some(b"token ghp_secret"));
        assert_eq!(id.len(), 16);
        assert!(!id.contains("secret"));
        assert_eq!(id, token_identity(Some(b"token ghp_secret")));
        assert_ne!(id, token_identity(Some(b"token ghp_other")));
        assert_eq!(token_identity(None), "anonymous");
        assert_eq!(token_identity(Some(b"")), "anonymous");
    }

    #[test]
    fn callers_are_named_by_their_user_agent_product() {
        assert_eq!(caller(Some("prow-trigger/0.1.0 (linux)")), "prow-trigger");
        assert_eq!(caller(Some("octocrab")), "octocrab");
        assert_eq!(caller(Some("a\"b{c}")), "abc");
        assert_eq!(caller(None), "unknown");
        assert_eq!(caller(Some("///")), "unknown");
    }

    #[test]
    fn a_cache_key_starts_with_its_path_so_scopes_find_every_partition() {
        let key = cache_key("/repos/o/r/pulls/1?per_page=100", "application/json", "abc");
        assert_eq!(key_path(&key), "/repos/o/r/pulls/1?per_page=100");
        assert!(key.starts_with("/repos/o/r/pulls/1"));
        assert_ne!(
            key,
            cache_key(
                "/repos/o/r/pulls/1?per_page=100",
                "application/vnd.github.v3.diff",
                "abc"
            )
        );
    }

    fn covered(mutation: &str, read: &str) -> bool {
        invalidation_scopes(mutation).iter().any(|s| s.covers(read))
    }

    #[test]
    fn a_mutation_invalidates_the_reads_of_the_object_it_changes() {
        let cases = [
            // (mutation path, read path, invalidated?)
            (
                "/repos/o/r/issues/5/labels",
                "/repos/o/r/issues/5/labels?per_page=100",
                true,
            ),
            ("/repos/o/r/issues/5/labels", "/repos/o/r/issues/5", true),
            ("/repos/o/r/issues/5/labels", "/repos/o/r/pulls/5", true),
            (
                "/repos/o/r/issues/5/labels",
                "/repos/o/r/pulls?state=open",
                true,
            ),
            ("/repos/o/r/issues/5/labels", "/repos/o/r/issues/50", false),
            (
                "/repos/o/r/issues/5/labels",
                "/repos/o/r/pulls/6/files",
                false,
            ),
            (
                "/repos/o/r/issues/5/labels",
                "/repos/o/other/issues/5",
                false,
            ),
            (
                "/repos/o/r/statuses/abc",
                "/repos/o/r/commits/abc/status",
                true,
            ),
            (
                "/repos/o/r/statuses/abc",
                "/repos/o/r/commits/def/status",
                false,
            ),
            ("/repos/o/r/pulls/5/merge", "/repos/o/r/branches/main", true),
            (
                "/repos/o/r/pulls/5/merge",
                "/repos/o/r/git/refs/heads/main",
                true,
            ),
            (
                "/repos/o/r/git/refs/heads/x",
                "/repos/o/r/branches?per_page=100",
                true,
            ),
            (
                "/repos/o/r/branches/main/protection",
                "/repos/o/r/branches/main/protection",
                true,
            ),
            (
                "/repos/o/r/branches/main/protection",
                "/repos/o/r/branches?protected=true",
                true,
            ),
            (
                "/repos/o/r/branches/main/protection",
                "/repos/o/r/branches/dev/protection",
                false,
            ),
            ("/repos/o/r/labels", "/repos/o/r/labels/bug", true),
            ("/repos/o/r/labels", "/repos/o/r/issues/1/labels", false),
            ("/repos/o/r", "/repos/o/r/collaborators", true),
            ("/orgs/o/memberships/u", "/orgs/o/memberships/u", true),
            ("/orgs/o/memberships/u", "/orgs/o/memberships", true),
            ("/orgs/o/memberships/u", "/orgs/o/members/u", false),
        ];
        for (mutation, read, want) in cases {
            assert_eq!(covered(mutation, read), want, "{mutation} -> {read}");
        }
    }

    #[test]
    fn only_installation_token_keys_are_shared() {
        let key = app_token_key("github-app/12/installation/101").unwrap();
        assert!(
            !invalidation_scopes("/")
                .iter()
                .any(|s| s.covers(key_path(&key)))
        );
        for bad in [
            "github-app/x/installation/1",
            "anything",
            "github-app/1/installation/1/x",
            "",
        ] {
            assert_eq!(app_token_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_copy_is_served_unasked_only_inside_a_window_and_until_invalidated() {
        let minute = Duration::from_secs(60);
        assert!(serve_without_asking(1000, 1030, minute));
        assert!(!serve_without_asking(1000, 1060, minute));
        assert!(!serve_without_asking(0, 10, minute), "invalidated");
        assert!(
            !serve_without_asking(1000, 1000, Duration::ZERO),
            "the default asks"
        );
    }

    #[test]
    fn githubs_answer_decides_whether_the_copy_is_served_stored_or_dropped() {
        use ReadOutcome::*;
        let cases = [
            (true, 304, true, ServeCached),
            (false, 304, false, PassOn { drop_cached: false }),
            (false, 200, true, Store(CacheMode::Miss)),
            (true, 200, true, Store(CacheMode::Changed)),
            (false, 200, false, PassOn { drop_cached: false }),
            (true, 200, false, PassOn { drop_cached: true }),
            (true, 404, false, PassOn { drop_cached: true }),
            (true, 403, false, PassOn { drop_cached: false }),
            (true, 502, false, PassOn { drop_cached: false }),
        ];
        for (had, status, validator, want) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(decide_read(had, status, validator), want, "{had} {status}");
        }
    }

    #[test]
    fn links_to_the_upstream_are_rewritten_to_the_proxy() {
        let link = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last""#;
        assert_eq!(
            rewrite_links(link, "https://api.github.com/", "http://ghproxy"),
            r#"<http://ghproxy/repositories/1/issues?page=2>; rel="next", <http://ghproxy/repositories/1/issues?page=9>; rel="last""#
        );
        let elsewhere = r#"<https://example.com/x>; rel="next""#;
        assert_eq!(
            rewrite_links(elsewhere, "https://api.github.com", "http://ghproxy"),
            elsewhere
        );
    }

    #[test]
    fn a_tokens_requests_are_spaced_and_never_held_past_the_max_delay() {
        let ms = Duration::from_millis;
        let settings = ThrottleSettings {
            spacing: ms(300),
            get_spacing: ms(100),
            max_delay: ms(1000),
        };
        let get = |at| {
            Some(Slot {
                at: ms(at),
                get: true,
            })
        };
        let write = |at| {
            Some(Slot {
                at: ms(at),
                get: false,
            })
        };
        let cases = [
            // (last slot, now, this is a GET, want slot, want wait)
            (None, 0, true, 0, 0),
            (get(0), 0, true, 100, 100),
            (get(0), 50, true, 100, 50),
            (get(0), 500, true, 500, 0),
            (get(0), 0, false, 300, 300),
            (write(0), 0, true, 300, 300),
            // A queue already formed: the next waits behind the last queued slot.
            (get(900), 100, true, 1000, 900),
            // ...but never more than max_delay.
            (get(5000), 100, true, 1100, 1000),
        ];
        for (last, now, is_get, slot, wait) in cases {
            let (got, waited) = schedule(last, ms(now), is_get, &settings);
            assert_eq!((got.at, waited), (ms(slot), ms(wait)), "{last:?} at {now}");
            assert_eq!(got.get, is_get);
        }
        let off = ThrottleSettings::default();
        assert_eq!(schedule(get(5000), ms(1), true, &off).1, Duration::ZERO);
    }
}
