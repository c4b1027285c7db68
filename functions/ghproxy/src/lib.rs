//! prow-ghproxy: a reverse proxy for GitHub's REST API that every function points
//! `--github-endpoint` at, as Prow's ghproxy.
//!
//! Each GET is answered from a durable store after a conditional request to GitHub
//! (`If-None-Match` with the stored ETag): GitHub answers an unchanged resource with a 304,
//! which does not count against the rate limit, so the functions' repeated reads (every
//! event re-reads its PR, files, labels, memberships) cost nothing while nothing changed, and
//! are never served stale. Mutations pass through and drop the cached reads they change
//! ([`decide::invalidation_scopes`]). Requests are spaced per token
//! ([`decide::schedule`]) and bounded in number overall, and `/metrics` shows per caller and
//! token what was spent and saved and GitHub's remaining budget. See the README's design note
//! for why the store is a redb file on a volume and the proxy a single instance.

pub mod decide;
pub mod metrics;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tokio::sync::Semaphore;

use crate::decide::{
    CACHE_MODE_HEADER, CacheMode, ReadOutcome, RequestKind, Slot, ThrottleSettings,
};
use crate::metrics::Metrics;
use crate::store::{
    CacheStore, CachedResponse, LateStore, MemoryCacheStore, RedbCacheStore, StoreError,
};

/// GitHub's API; Prow's ghproxy `--upstream` default.
pub const DEFAULT_UPSTREAM: &str = "https://api.github.com";
/// Largest request body passed on (GitHub's own limit for API payloads is well below).
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// The store file's name under `--cache-dir`.
pub const STORE_FILE: &str = "ghproxy.redb";
/// How often a store file another process still holds is tried again.
const REOPEN_INTERVAL: Duration = Duration::from_secs(5);
/// How often entries older than `--cache-max-age-hours` are dropped.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Why ghproxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--upstream {url:?} is not an http(s) URL")]
    Upstream { url: String },
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("opening the cache in {dir}: {source}")]
    Store {
        dir: PathBuf,
        #[source]
        source: StoreError,
    },
}

/// Flags of the ghproxy binary and of `prow serve ghproxy`; each also from env. Names follow
/// Prow's ghproxy where it has the same knob.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Scheme, host and base path of GitHub's API (GitHub Enterprise: `https://host/api/v3`).
    #[arg(long, env = "GHPROXY_UPSTREAM", default_value = DEFAULT_UPSTREAM)]
    pub upstream: String,
    /// Directory of the durable cache (`ghproxy.redb`; a PersistentVolumeClaim on a cluster).
    /// Without it the cache lives in memory and is lost on restart.
    #[arg(long, env = "GHPROXY_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Entries GitHub last sent longer ago than this are dropped (hourly).
    #[arg(long, env = "GHPROXY_CACHE_MAX_AGE_HOURS", default_value_t = 7 * 24)]
    pub cache_max_age_hours: u64,
    /// Requests in flight to GitHub at most.
    #[arg(long, env = "GHPROXY_CONCURRENCY", default_value_t = 25)]
    pub concurrency: usize,
    /// Least time between a token's requests when one of them is a write (0 = off).
    #[arg(long, env = "GHPROXY_THROTTLING_TIME_MS", default_value_t = 0)]
    pub throttling_time_ms: u64,
    /// Least time between two GETs of one token (0 = off).
    #[arg(long, env = "GHPROXY_GET_THROTTLING_TIME_MS", default_value_t = 0)]
    pub get_throttling_time_ms: u64,
    /// A request never waits for its throttling slot longer than this.
    #[arg(
        long,
        env = "GHPROXY_THROTTLING_MAX_DELAY_SECONDS",
        default_value_t = 30
    )]
    pub throttling_max_delay_duration_seconds: u64,
    /// Serve a copy GitHub confirmed less than this long ago without asking again (0 = always
    /// ask, as Prow's ghproxy; see the README before raising it).
    #[arg(long, env = "GHPROXY_FRESH_FOR_SECONDS", default_value_t = 0)]
    pub fresh_for_seconds: u64,
    /// How long one request to GitHub may take.
    #[arg(long, env = "GHPROXY_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
}

impl Flags {
    fn throttle(&self) -> ThrottleSettings {
        ThrottleSettings {
            spacing: Duration::from_millis(self.throttling_time_ms),
            get_spacing: Duration::from_millis(self.get_throttling_time_ms),
            max_delay: Duration::from_secs(self.throttling_max_delay_duration_seconds),
        }
    }
}

/// Everything the proxy router needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct GhproxyState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The upstream base without a trailing slash.
    upstream: String,
    client: reqwest::Client,
    store: Arc<dyn CacheStore>,
    metrics: Arc<Metrics>,
    throttle: ThrottleSettings,
    fresh_for: Duration,
    /// Each token's last throttling slot.
    slots: Mutex<HashMap<String, Slot>>,
    /// The throttling clock's zero.
    started: tokio::time::Instant,
    in_flight: Semaphore,
    /// Reads being answered, by cache key: a second identical GET waits for the first's
    /// answer instead of asking GitHub again (Prow's ghcache coalesces the same way).
    reads_in_flight: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<SharedRead>>>>,
}

/// Options of a [`GhproxyState`] beyond its upstream and store.
#[derive(Debug, Clone)]
pub struct Options {
    pub throttle: ThrottleSettings,
    /// See [`decide::serve_without_asking`]; zero by default.
    pub fresh_for: Duration,
    pub concurrency: usize,
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            throttle: ThrottleSettings::default(),
            fresh_for: Duration::ZERO,
            concurrency: 25,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl GhproxyState {
    /// A proxy to `upstream` keeping its cache in `store`.
    pub fn new(
        upstream: &str,
        store: Arc<dyn CacheStore>,
        options: Options,
    ) -> Result<Self, StartError> {
        let parsed = reqwest::Url::parse(upstream).map_err(|_| StartError::Upstream {
            url: upstream.to_owned(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(StartError::Upstream {
                url: upstream.to_owned(),
            });
        }
        // Err only means another provider is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            // A redirect is GitHub's answer (a 302 on org membership means "not public"), for
            // the caller to read, not for the proxy to follow.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.request_timeout)
            .build()
            .map_err(StartError::Client)?;
        Ok(Self {
            inner: Arc::new(Inner {
                upstream: upstream.trim_end_matches('/').to_owned(),
                client,
                store,
                metrics: Arc::new(Metrics::default()),
                throttle: options.throttle,
                fresh_for: options.fresh_for,
                slots: Mutex::new(HashMap::new()),
                started: tokio::time::Instant::now(),
                in_flight: Semaphore::new(options.concurrency.max(1)),
                reads_in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.inner.store
    }
}

/// Builds the router from flags: opens the store (redb under `--cache-dir`, else memory) and
/// prunes old entries hourly. While another process (the previous Revision) holds the file,
/// requests are cached in memory and the file is tried again every few seconds.
pub async fn app(flags: Flags) -> Result<Router, StartError> {
    let store: Arc<dyn CacheStore> = match &flags.cache_dir {
        Some(dir) => match open_store(dir) {
            Ok(store) => Arc::new(store),
            Err(err) => {
                tracing::warn!(%err, "cache file busy or unreadable: caching in memory until it opens");
                let late = Arc::new(LateStore::new());
                tokio::spawn(attach_when_free(late.clone(), dir.clone()));
                late
            }
        },
        None => {
            tracing::warn!("no --cache-dir: the cache lives in memory and is lost on restart");
            Arc::new(MemoryCacheStore::new())
        }
    };
    let options = Options {
        throttle: flags.throttle(),
        fresh_for: Duration::from_secs(flags.fresh_for_seconds),
        concurrency: flags.concurrency,
        request_timeout: Duration::from_secs(flags.request_timeout),
    };
    let state = GhproxyState::new(&flags.upstream, store.clone(), options)?;
    let max_age = Duration::from_secs(flags.cache_max_age_hours.saturating_mul(3600));
    tokio::spawn(prune_loop(store, max_age));
    Ok(router(state))
}

/// Opens the durable store `ghproxy.redb` in `dir`, creating the directory.
pub fn open_store(dir: &std::path::Path) -> Result<RedbCacheStore, StartError> {
    let fail = |source| StartError::Store {
        dir: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(StoreError::Db(redb::Error::Io(e))))?;
    RedbCacheStore::open(&dir.join(STORE_FILE)).map_err(fail)
}

async fn attach_when_free(late: Arc<LateStore>, dir: PathBuf) {
    loop {
        tokio::time::sleep(REOPEN_INTERVAL).await;
        let opened = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || open_store(&dir)).await
        };
        if let Ok(Ok(store)) = opened {
            late.attach(Arc::new(store));
            tracing::info!(dir = %dir.display(), "cache file opened: caching durably again");
            return;
        }
    }
}

async fn prune_loop(store: Arc<dyn CacheStore>, max_age: Duration) {
    let mut ticks = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        ticks.tick().await;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.prune(max_age)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(pruned)) => tracing::info!(pruned, "old cache entries dropped"),
            Ok(Err(err)) => tracing::warn!(%err, "pruning the cache failed"),
            Err(err) => tracing::warn!(%err, "pruning the cache panicked"),
        }
    }
}

/// `/healthz` and `/metrics` for the platform; every other path is proxied to GitHub.
pub fn router(state: GhproxyState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(state): State<GhproxyState>| async move {
                prow_runtime::metrics_response(state.inner.metrics.render())
            }),
        )
        .route(
            &format!("{}/{{*key}}", decide::APP_TOKENS_PATH),
            get(get_app_token)
                .put(put_app_token)
                .delete(delete_app_token),
        )
        .fallback(proxy)
        .with_state(state)
}

/// Largest sealed token accepted (a sealed token is about 150 bytes).
const MAX_APP_TOKEN_BYTES: usize = 4096;

/// A sealed installation token, opaque here (`prow_github::SharedTokenCache` seals it with a
/// key only the app's private key yields).
async fn get_app_token(State(state): State<GhproxyState>, Path(key): Path<String>) -> Response {
    let Some(key) = decide::app_token_key(&key) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match blocking(&state, move |store| store.get(&key)).await {
        Some(Some(entry)) => entry.body.into_response(),
        Some(None) => StatusCode::NOT_FOUND.into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn put_app_token(
    State(state): State<GhproxyState>,
    Path(key): Path<String>,
    body: Body,
) -> Response {
    let Some(key) = decide::app_token_key(&key) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(sealed) = axum::body::to_bytes(body, MAX_APP_TOKEN_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let now = store::now_secs();
    let entry = CachedResponse {
        status: 200,
        headers: Vec::new(),
        body: sealed.to_vec(),
        stored_at: now,
        validated_at: now,
    };
    match blocking(&state, move |store| store.put(&key, &entry)).await {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn delete_app_token(State(state): State<GhproxyState>, Path(key): Path<String>) -> Response {
    let Some(key) = decide::app_token_key(&key) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match blocking(&state, move |store| store.remove(&key)).await {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// GitHub's answer, read whole.
#[derive(Debug)]
struct Upstream {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Who a request is from, for the cache partition, throttling and metrics.
#[derive(Debug)]
struct Caller {
    identity: String,
    name: String,
    /// The proxy's own base URL as the caller reached it, for `Link` rewriting.
    own_base: Option<String>,
}

async fn proxy(State(state): State<GhproxyState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let caller = Caller {
        identity: decide::token_identity(
            parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes),
        ),
        name: decide::caller(parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok())),
        own_base: own_base(&parts.headers),
    };
    let conditional = parts.headers.contains_key(http::header::IF_NONE_MATCH)
        || parts.headers.contains_key(http::header::IF_MODIFIED_SINCE);
    let outgoing = forwarded_headers(&parts.headers);
    let result = match decide::classify(&parts.method, parts.uri.path(), conditional) {
        RequestKind::CacheableRead => read(&state, &caller, &path_and_query, outgoing).await,
        RequestKind::Mutation => mutate(
            &state,
            &caller,
            parts.method,
            &path_and_query,
            outgoing,
            body,
        )
        .await
        .map_err(|err| err.to_string()),
        RequestKind::PassThrough => {
            let sent = send(
                &state,
                &caller,
                parts.method,
                &path_and_query,
                outgoing,
                body,
            )
            .await;
            sent.map_err(|err| err.to_string()).map(|upstream| {
                state.inner.metrics.request(
                    &caller.name,
                    &caller.identity,
                    free_or(CacheMode::Skip, upstream.status),
                );
                respond(
                    &state,
                    &caller,
                    upstream.status,
                    &upstream.headers,
                    upstream.body,
                    CacheMode::Skip,
                )
            })
        }
    };
    result.unwrap_or_else(|err| {
        state.inner.metrics.upstream_error();
        tracing::warn!(path = %parts.uri.path(), error = %err, "GitHub did not answer");
        (StatusCode::BAD_GATEWAY, "ghproxy: GitHub did not answer").into_response()
    })
}

/// A caller's own conditional request that GitHub answered 304 cost nothing either.
fn free_or(mode: CacheMode, status: StatusCode) -> CacheMode {
    if status == StatusCode::NOT_MODIFIED {
        CacheMode::Revalidated
    } else {
        mode
    }
}

/// One read's answer before it is addressed to a caller; shared by coalesced callers.
#[derive(Debug, Clone)]
struct SharedRead {
    /// GitHub's answer, or why GitHub did not answer.
    answer: Result<(StatusCode, HeaderMap, Bytes), String>,
    mode: CacheMode,
}

/// A GET. Identical reads in flight at once (same path, `Accept` and token: the cache key) are
/// answered by one: the first asks GitHub ([`read_once`]), the others wait for its answer and
/// spend no budget (`COALESCED`). A caller that gives up does not fail the others: the next one
/// waiting takes over.
async fn read(
    state: &GhproxyState,
    caller: &Caller,
    path_and_query: &str,
    outgoing: HeaderMap,
) -> Result<Response, String> {
    let accept = outgoing
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let key = decide::cache_key(path_and_query, accept, &caller.identity);
    let cell = {
        let mut in_flight = state
            .inner
            .reads_in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(in_flight.entry(key.clone()).or_default())
    };
    let asked = std::sync::atomic::AtomicBool::new(false);
    let shared = cell
        .get_or_init(|| async {
            asked.store(true, std::sync::atomic::Ordering::Relaxed);
            match read_once(state, caller, &key, path_and_query, outgoing).await {
                Ok(shared) => shared,
                Err(err) => SharedRead {
                    answer: Err(err.to_string()),
                    mode: CacheMode::NoStore,
                },
            }
        })
        .await
        .clone();
    {
        // Whoever finishes first forgets the read, so a later GET asks GitHub again.
        let mut in_flight = state
            .inner
            .reads_in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if in_flight
            .get(&key)
            .is_some_and(|current| Arc::ptr_eq(current, &cell))
        {
            in_flight.remove(&key);
        }
    }
    let mode = if asked.load(std::sync::atomic::Ordering::Relaxed) {
        shared.mode
    } else {
        state
            .inner
            .metrics
            .request(&caller.name, &caller.identity, CacheMode::Coalesced);
        CacheMode::Coalesced
    };
    let (status, headers, body) = shared.answer?;
    Ok(respond(state, caller, status, &headers, body, mode))
}

/// Asks GitHub once: the stored copy's validator goes with the request; a 304 is answered from
/// the store.
async fn read_once(
    state: &GhproxyState,
    caller: &Caller,
    key: &str,
    path_and_query: &str,
    mut outgoing: HeaderMap,
) -> Result<SharedRead, reqwest::Error> {
    let key = key.to_owned();
    let copy = blocking(state, {
        let key = key.clone();
        move |store| store.get(&key)
    })
    .await
    .flatten();
    let metrics = &state.inner.metrics;
    let now = store::now_secs();
    if let Some(copy) = &copy
        && decide::serve_without_asking(copy.validated_at, now, state.inner.fresh_for)
    {
        metrics.request(&caller.name, &caller.identity, CacheMode::Fresh);
        let status = StatusCode::from_u16(copy.status).unwrap_or(StatusCode::OK);
        let headers = to_header_map(&copy.headers);
        let body = Bytes::from(copy.body.clone());
        return Ok(SharedRead {
            answer: Ok((status, headers, body)),
            mode: CacheMode::Fresh,
        });
    }
    if let Some((name, value)) = copy.as_ref().and_then(CachedResponse::validator)
        && let Ok(value) = HeaderValue::from_str(value)
    {
        outgoing.insert(HeaderName::from_static(name), value);
    }
    let upstream = send(
        state,
        caller,
        Method::GET,
        path_and_query,
        outgoing,
        Bytes::new(),
    )
    .await?;
    let has_validator = upstream.headers.contains_key(http::header::ETAG)
        || upstream.headers.contains_key(http::header::LAST_MODIFIED);
    let outcome = decide::decide_read(copy.is_some(), upstream.status, has_validator);
    Ok(match (outcome, copy) {
        (ReadOutcome::ServeCached, Some(mut copy)) => {
            metrics.request(&caller.name, &caller.identity, CacheMode::Revalidated);
            if !state.inner.fresh_for.is_zero() {
                // Only a window reads the confirmation time: without one, a 304 writes nothing.
                copy.validated_at = now;
                let (key, entry) = (key.clone(), copy.clone());
                blocking(state, move |store| store.put(&key, &entry)).await;
            }
            let mut headers = to_header_map(&copy.headers);
            for (name, value) in &upstream.headers {
                if decide::refreshed_by_revalidation(name.as_str()) {
                    headers.insert(name.clone(), value.clone());
                }
            }
            let status = StatusCode::from_u16(copy.status).unwrap_or(StatusCode::OK);
            SharedRead {
                answer: Ok((status, headers, Bytes::from(copy.body))),
                mode: CacheMode::Revalidated,
            }
        }
        (ReadOutcome::Store(mode), _) => {
            metrics.request(&caller.name, &caller.identity, mode);
            let entry = CachedResponse {
                status: upstream.status.as_u16(),
                headers: from_header_map(&upstream.headers),
                body: upstream.body.to_vec(),
                stored_at: now,
                validated_at: now,
            };
            blocking(state, move |store| store.put(&key, &entry)).await;
            SharedRead {
                answer: Ok((upstream.status, upstream.headers, upstream.body)),
                mode,
            }
        }
        (outcome, _) => {
            if matches!(outcome, ReadOutcome::PassOn { drop_cached: true }) {
                blocking(state, move |store| store.remove(&key)).await;
            }
            metrics.request(&caller.name, &caller.identity, CacheMode::NoStore);
            SharedRead {
                answer: Ok((upstream.status, upstream.headers, upstream.body)),
                mode: CacheMode::NoStore,
            }
        }
    })
}

/// A write: sent as it is; once GitHub accepted it, the reads it changes are dropped.
async fn mutate(
    state: &GhproxyState,
    caller: &Caller,
    method: Method,
    path_and_query: &str,
    outgoing: HeaderMap,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    let upstream = send(state, caller, method, path_and_query, outgoing, body).await?;
    if upstream.status.is_success() || upstream.status.is_redirection() {
        let scopes = decide::invalidation_scopes(path_and_query);
        if let Some(dropped) = blocking(state, move |store| store.invalidate(&scopes)).await {
            state.inner.metrics.invalidated(dropped);
        }
    }
    state
        .inner
        .metrics
        .request(&caller.name, &caller.identity, CacheMode::Skip);
    Ok(respond(
        state,
        caller,
        upstream.status,
        &upstream.headers,
        upstream.body,
        CacheMode::Skip,
    ))
}

/// Sends one request to GitHub once the token's throttling slot has come and a concurrency
/// permit is free, and records the budget GitHub reports.
async fn send(
    state: &GhproxyState,
    caller: &Caller,
    method: Method,
    path_and_query: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Upstream, reqwest::Error> {
    let inner = &state.inner;
    if inner.throttle.is_enabled() {
        let waited = {
            let now = inner.started.elapsed();
            let mut slots = inner.slots.lock().unwrap_or_else(|e| e.into_inner());
            let last = slots.get(&caller.identity).copied();
            let (slot, wait) = decide::schedule(last, now, method == Method::GET, &inner.throttle);
            slots.insert(caller.identity.clone(), slot);
            wait
        };
        if !waited.is_zero() {
            inner.metrics.throttled(&caller.identity, waited);
            tokio::time::sleep(waited).await;
        }
    }
    // Never closed: the semaphore lives as long as the state.
    let _permit = inner.in_flight.acquire().await.ok();
    let url = format!("{}{path_and_query}", inner.upstream);
    let response = inner
        .client
        .request(method, url)
        .headers(headers)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    record_budget(&inner.metrics, &caller.identity, &headers);
    Ok(Upstream {
        status,
        headers,
        body,
    })
}

fn record_budget(metrics: &Metrics, identity: &str, headers: &HeaderMap) {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    if let Some(remaining) = number("x-ratelimit-remaining") {
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core");
        metrics.budget(identity, resource, remaining, number("x-ratelimit-limit"));
    }
}

/// Runs a store call off the async workers. A failing store degrades to no cache: the
/// request still goes to GitHub, and the failure is logged.
async fn blocking<T: Send + 'static>(
    state: &GhproxyState,
    call: impl FnOnce(&dyn CacheStore) -> Result<T, StoreError> + Send + 'static,
) -> Option<T> {
    let store = state.inner.store.clone();
    match tokio::task::spawn_blocking(move || call(store.as_ref())).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(err)) => {
            tracing::warn!(%err, "cache store failed; answering without it");
            None
        }
        Err(err) => {
            tracing::warn!(%err, "cache store call panicked; answering without it");
            None
        }
    }
}

/// The caller's headers minus those of this hop.
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter(|(name, _)| !decide::is_hop_by_hop(name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The proxy's base URL as the caller addressed it (`Host`, `X-Forwarded-Proto`).
fn own_base(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    Some(format!("{scheme}://{host}"))
}

fn from_header_map(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !decide::is_hop_by_hop(name.as_str()) && name.as_str() != "set-cookie")
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

fn to_header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// The answer to the caller: GitHub's status, headers (links pointed back at the proxy) and
/// body, with `X-Cache-Mode`.
fn respond(
    state: &GhproxyState,
    caller: &Caller,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    mode: CacheMode,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let out = response.headers_mut();
    for (name, value) in headers {
        if decide::is_hop_by_hop(name.as_str()) {
            continue;
        }
        if name == http::header::LINK
            && let (Some(own), Ok(link)) = (&caller.own_base, value.to_str())
            && let Ok(rewritten) =
                HeaderValue::from_str(&decide::rewrite_links(link, &state.inner.upstream, own))
        {
            out.append(name.clone(), rewritten);
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out.insert(
        HeaderName::from_static(CACHE_MODE_HEADER),
        HeaderValue::from_static(mode.as_str()),
    );
    response
}
