//! HTTP surface: Kubernetes REST paths parsed into resource targets and dispatched by verb.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use chrono::Utc;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::discovery;
use crate::error::ApiError;
use crate::logs::{LogOptions, LogTarget};
use crate::patch::{self, PatchKind};
use crate::protobuf;
use crate::resources::{self, NAMESPACES, PODS, ResourceInfo};
use crate::schema;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::{ApiServer, Filter, Preconditions, WriteOptions, Written};
use crate::table;
use crate::watch::{self, WatchRequest};

type Params = HashMap<String, String>;

/// The Kubernetes API router over `state`.
pub fn router(state: ApiServer) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async { axum::Json(discovery::version()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/api", get(core_versions))
        .route(
            "/apis",
            get(|| async { axum::Json(discovery::group_list()) }),
        )
        .route("/apis/{group}", get(api_group))
        .route("/api/{version}", get(core_resource_list))
        .route("/apis/{group}/{version}", get(group_resource_list))
        .route("/api/{version}/{*rest}", any(core_resource))
        .route("/apis/{group}/{version}/{*rest}", any(group_resource))
        .route("/openapi/v3", get(openapi_root))
        .route("/openapi/v3/{*key}", get(openapi_group_version))
        .fallback(|| async { ApiError::PathNotFound })
        .with_state(state)
}

async fn core_versions(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    axum::Json(discovery::core_versions(host)).into_response()
}

async fn api_group(Path(group): Path<String>) -> Response {
    match discovery::group(&group) {
        Some(doc) => axum::Json(doc).into_response(),
        None => ApiError::PathNotFound.into_response(),
    }
}

async fn core_resource_list(Path(version): Path<String>) -> Response {
    resource_list("", &version)
}

async fn group_resource_list(Path((group, version)): Path<(String, String)>) -> Response {
    resource_list(&group, &version)
}

fn resource_list(group: &str, version: &str) -> Response {
    match discovery::resource_list(group, version) {
        Some(doc) => axum::Json(doc).into_response(),
        None => ApiError::PathNotFound.into_response(),
    }
}

async fn openapi_root() -> Response {
    match schema::prowjob() {
        Ok(crd) => axum::Json(discovery::openapi_root(crd)).into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

async fn openapi_group_version(Path(key): Path<String>) -> Response {
    let doc = schema::prowjob()
        .ok()
        .and_then(|crd| discovery::openapi_group_version(&key, crd));
    match doc {
        Some(doc) => axum::Json(doc).into_response(),
        None => ApiError::PathNotFound.into_response(),
    }
}

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: &'static ResourceInfo,
    /// The URL namespace; `None` for cluster-scoped resources and all-namespace collections.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses the part of a path after `/api/v1/` or `/apis/<group>/<version>/`.
pub fn parse_target(group: &str, version: &str, rest: &str) -> Option<Target> {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let namespaced = match segs.as_slice() {
        ["namespaces", ns, plural, tail @ ..] => resources::lookup(group, version, plural)
            .filter(|r| r.namespaced)
            .map(|r| (r, Some(ns.to_string()), tail)),
        _ => None,
    };
    let (resource, namespace, tail) = match namespaced {
        Some(found) => found,
        None => {
            let (plural, tail) = segs.split_first()?;
            let r = resources::lookup(group, version, plural)?;
            // A namespaced resource without a namespace is only addressable as a collection.
            if r.namespaced && !tail.is_empty() {
                return None;
            }
            (r, None, tail)
        }
    };
    let (name, subresource) = match tail {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] if known_subresource(resource, sub) => {
            (Some(name.to_string()), Some(sub.to_string()))
        }
        _ => return None,
    };
    Some(Target {
        resource,
        namespace,
        name,
        subresource,
    })
}

fn known_subresource(resource: &ResourceInfo, sub: &str) -> bool {
    (sub == "status" && resource.status_subresource)
        || (sub == "log" && std::ptr::eq(resource, &PODS))
}

/// The API server's `MaxRequestBodyBytes` (3 MiB): larger create, update and patch bodies are
/// refused with 413 before they are decoded, as kube-apiserver does.
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Reads a request body of at most [`MAX_REQUEST_BODY_BYTES`]. Taking the raw [`Body`] instead of
/// `Bytes` keeps axum's own 2 MB limit (and its plain-text 413) out of the way.
async fn read_limited(body: Body) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if buf.len() + chunk.len() > MAX_REQUEST_BODY_BYTES {
            return Err(ApiError::RequestEntityTooLarge {
                limit: MAX_REQUEST_BODY_BYTES,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

async fn core_resource(
    State(server): State<ApiServer>,
    Path((version, rest)): Path<(String, String)>,
    method: Method,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    dispatch(server, "", &version, &rest, method, params, headers, body).await
}

async fn group_resource(
    State(server): State<ApiServer>,
    Path((group, version, rest)): Path<(String, String, String)>,
    method: Method,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    dispatch(
        server, &group, &version, &rest, method, params, headers, body,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    server: ApiServer,
    group: &str,
    version: &str,
    rest: &str,
    method: Method,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(target) = parse_target(group, version, rest) else {
        return ApiError::PathNotFound.into_response();
    };
    let body = match read_limited(body).await {
        Ok(body) => body,
        Err(err) => return err.into_response(),
    };
    tracing::debug!(%method, ?target, "request");
    let request = Request {
        server,
        target,
        params,
        headers,
        body,
    };
    match handle(method, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

struct Request {
    server: ApiServer,
    target: Target,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true" | "1"))
    }

    fn namespace(&self) -> &str {
        self.target.namespace.as_deref().unwrap_or("")
    }

    fn accepts(&self, what: &str) -> bool {
        self.headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains(what))
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            strict: self.param("fieldValidation") == Some("Strict"),
            dry_run: self.param("dryRun").is_some_and(|d| d == "All"),
        }
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        let labels = LabelSelector::parse(self.param("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let fields = FieldSelector::parse(
            self.param("fieldSelector").unwrap_or(""),
            self.target.resource,
        )
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Ok(Filter { labels, fields })
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // kubectl's typed `create namespace` sends protobuf; no other write here does.
        if content_type.contains("protobuf") && std::ptr::eq(self.target.resource, &NAMESPACES) {
            return protobuf::decode_namespace(&self.body)
                .map_err(|e| ApiError::UnsupportedMediaType(e.to_string()));
        }
        if content_type.contains("protobuf") || content_type.contains("cbor") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"
            )));
        }
        let body: Value = if self.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&self.body)
                .map_err(|e| ApiError::BadRequest(format!("error decoding request body: {e}")))?
        };
        Ok(body)
    }

    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or("")
    }
}

fn method_not_allowed(method: &Method, target: &Target) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "the server does not allow this method on the requested resource: {method} {}{}",
        target.resource.qualified(),
        target
            .subresource
            .as_deref()
            .map(|s| format!("/{s}"))
            .unwrap_or_default()
    ))
}

async fn handle(method: Method, req: Request) -> Result<Response, ApiError> {
    let target = req.target.clone();
    match (target.name.is_some(), target.subresource.as_deref()) {
        (false, _) => match method {
            Method::GET if req.flag("watch") => start_watch(req).await,
            Method::GET => list(req).await,
            Method::POST if target.namespace.is_some() || !target.resource.namespaced => {
                create(req).await
            }
            Method::DELETE => delete_collection(req).await,
            _ => Err(method_not_allowed(&method, &target)),
        },
        (true, None) => match method {
            Method::GET => get_one(req).await,
            Method::PUT => update(req, false).await,
            Method::PATCH => patch_one(req, false).await,
            Method::DELETE => delete_one(req).await,
            _ => Err(method_not_allowed(&method, &target)),
        },
        (true, Some("status")) if target.resource.status_subresource => match method {
            Method::GET => get_one(req).await,
            Method::PUT => update(req, true).await,
            Method::PATCH => patch_one(req, true).await,
            _ => Err(method_not_allowed(&method, &target)),
        },
        (true, Some("log")) if std::ptr::eq(target.resource, &PODS) => match method {
            Method::GET => pod_logs(req).await,
            _ => Err(method_not_allowed(&method, &target)),
        },
        _ => Err(ApiError::PathNotFound),
    }
}

fn json_response(status: StatusCode, body: &Value, warnings: &[String]) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    for warning in warnings {
        let text = format!("299 - {}", Value::String(warning.clone()));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append("Warning", value);
        }
    }
    response
}

/// Renders one object for a GET: a one-row Table when kubectl asks for it.
fn object_response(req: &Request, object: &Value) -> Response {
    if req.accepts("as=Table") {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let t = table::render(req.target.resource, &[object], rv, Utc::now());
        return json_response(StatusCode::OK, &t, &[]);
    }
    if req.accepts("as=PartialObjectMetadata;") || req.accepts("as=PartialObjectMetadata,") {
        return json_response(StatusCode::OK, &partial(object), &[]);
    }
    json_response(StatusCode::OK, object, &[])
}

fn partial(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]})
}

async fn get_one(req: Request) -> Result<Response, ApiError> {
    let object = req
        .server
        .get(req.target.resource, req.namespace(), req.name())
        .await?;
    Ok(object_response(&req, &object))
}

async fn list(req: Request) -> Result<Response, ApiError> {
    let filter = req.filter()?;
    let resource = req.target.resource;
    let (items, rv) = req
        .server
        .list(resource, req.target.namespace.as_deref(), &filter)
        .await?;
    if req.accepts("as=Table") {
        let refs: Vec<&Value> = items.iter().collect();
        return Ok(json_response(
            StatusCode::OK,
            &table::render(resource, &refs, rv, Utc::now()),
            &[],
        ));
    }
    let (items, next) = page(items, req.param("limit"), req.param("continue"))?;
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = next {
        metadata["continue"] = json!(token);
        metadata["remainingItemCount"] = json!(remaining);
    }
    let body = if req.accepts("as=PartialObjectMetadataList") {
        let items: Vec<Value> = items.iter().map(partial).collect();
        json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": items})
    } else {
        json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": metadata, "items": items})
    };
    Ok(json_response(StatusCode::OK, &body, &[]))
}

/// `namespace/name`: the order lists are paged in.
fn list_key(object: &Value) -> String {
    let meta = &object["metadata"];
    format!(
        "{}/{}",
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or("")
    )
}

/// The continue token for the rest of a list and how many objects remain after this page.
type NextPage = Option<(String, usize)>;

/// `limit` and `continue` as the API server pages lists: at most `limit` objects after the one the
/// token names, and a token for the rest with how many remain. Unlike a real API server, later
/// pages read the current state rather than the first page's snapshot: objects created or deleted
/// meanwhile may appear or be missed, which watchers resolve from the list's resourceVersion on.
fn page(
    mut items: Vec<Value>,
    limit: Option<&str>,
    token: Option<&str>,
) -> Result<(Vec<Value>, NextPage), ApiError> {
    let limit = match limit.filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => return Err(ApiError::BadRequest(format!("invalid limit {l:?}"))),
        },
    };
    // The token is the last key returned; clients treat it as opaque.
    let after = match token.filter(|t| !t.is_empty()) {
        Some(t) if !t.contains('/') => {
            return Err(ApiError::BadRequest(format!(
                "invalid continue token {t:?}"
            )));
        }
        t => t.map(str::to_owned),
    };
    if limit.is_none() && after.is_none() {
        return Ok((items, None));
    }
    items.sort_by_cached_key(list_key);
    if let Some(after) = after {
        let start = items.partition_point(|o| list_key(o) <= after);
        items.drain(..start);
    }
    match limit {
        Some(n) if items.len() > n => {
            let remaining = items.len() - n;
            items.truncate(n);
            let token = items.last().map(list_key).unwrap_or_default();
            Ok((items, Some((token, remaining))))
        }
        _ => Ok((items, None)),
    }
}

/// Parses `timeoutSeconds`, or else kubectl's `timeout` (a Go duration such as `32s` or `1m0s`).
fn watch_timeout(req: &Request) -> Option<Duration> {
    if let Some(secs) = req
        .param("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs));
    }
    req.param("timeout")
        .and_then(|t| prow_core::duration::parse_go_duration(t).ok())
}

async fn start_watch(req: Request) -> Result<Response, ApiError> {
    let filter = req.filter()?;
    let since = match req.param("resourceVersion") {
        None | Some("" | "0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let watch = WatchRequest {
        resource: req.target.resource,
        namespace: req.target.namespace.clone(),
        filter,
        since,
        send_initial_events: req.flag("sendInitialEvents"),
        bookmarks: req.flag("allowWatchBookmarks"),
        timeout: watch_timeout(&req),
        as_table: req.accepts("as=Table"),
    };
    Ok(watch::respond(req.server.clone(), watch).await)
}

fn written_response(written: Written) -> Response {
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_response(status, &written.object, &written.warnings)
}

async fn create(req: Request) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let written = req
        .server
        .create(
            req.target.resource,
            req.namespace(),
            body,
            req.write_options(),
        )
        .await?;
    Ok(written_response(written))
}

async fn update(req: Request, status_only: bool) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let written = req
        .server
        .update(
            req.target.resource,
            req.namespace(),
            req.name(),
            body,
            status_only,
            req.write_options(),
        )
        .await?;
    Ok(written_response(written))
}

async fn patch_one(req: Request, status_only: bool) -> Result<Response, ApiError> {
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let kind = PatchKind::from_content_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
        ))
    })?;
    let patch_body =
        patch::decode(kind, &req.body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let written = req
        .server
        .patch(
            req.target.resource,
            req.namespace(),
            req.name(),
            kind,
            patch_body,
            status_only,
            req.write_options(),
        )
        .await?;
    Ok(written_response(written))
}

/// Reads `DeleteOptions` from the body (kubectl sends `propagationPolicy`; kube-rs may send preconditions).
fn delete_options(req: &Request) -> Result<(Preconditions, bool), ApiError> {
    let body = req.json_body()?;
    let pre = &body["preconditions"];
    let preconditions = Preconditions {
        uid: pre["uid"].as_str().map(str::to_string),
        resource_version: pre["resourceVersion"].as_str().map(str::to_string),
    };
    let dry_run = req.write_options().dry_run
        || body["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok((preconditions, dry_run))
}

async fn delete_one(req: Request) -> Result<Response, ApiError> {
    let (preconditions, dry_run) = delete_options(&req)?;
    let object = req
        .server
        .delete(
            req.target.resource,
            req.namespace(),
            req.name(),
            preconditions,
            dry_run,
        )
        .await?;
    // Still present (finalizers pending): 202 like the real server.
    let still_there = object["metadata"].get("deletionTimestamp").is_some()
        && object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
    let status = if still_there {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &object, &[]))
}

async fn delete_collection(req: Request) -> Result<Response, ApiError> {
    let filter = req.filter()?;
    let (_, dry_run) = delete_options(&req)?;
    let resource = req.target.resource;
    let items = req
        .server
        .delete_collection(resource, req.target.namespace.as_deref(), &filter, dry_run)
        .await?;
    let body = json!({
        "kind": resource.list_kind(), "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": ""}, "items": items,
    });
    Ok(json_response(StatusCode::OK, &body, &[]))
}

fn container_names(pod: &Value) -> Vec<String> {
    ["containers", "initContainers"]
        .iter()
        .flat_map(|list| pod["spec"][*list].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn log_options(req: &Request) -> Result<LogOptions, ApiError> {
    let number = |key: &str| -> Result<Option<usize>, ApiError> {
        req.param(key)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid {key}: {v:?}")))
            })
            .transpose()
    };
    let since = match (req.param("sinceSeconds"), req.param("sinceTime")) {
        (Some(secs), _) => {
            let secs: i64 = secs
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid sinceSeconds: {secs:?}")))?;
            Some(Utc::now() - chrono::Duration::seconds(secs))
        }
        (None, Some(time)) => Some(
            chrono::DateTime::parse_from_rfc3339(time)
                .map_err(|_| ApiError::BadRequest(format!("invalid sinceTime: {time:?}")))?
                .with_timezone(&Utc),
        ),
        (None, None) => None,
    };
    Ok(LogOptions {
        tail_lines: number("tailLines")?,
        timestamps: req.flag("timestamps"),
        since,
        limit_bytes: number("limitBytes")?,
    })
}

/// Cuts the output at `limitBytes`; returns false once the limit is reached.
fn take_within(limit: &mut Option<usize>, mut chunk: String) -> (String, bool) {
    match limit {
        None => (chunk, true),
        Some(left) => {
            if chunk.len() >= *left {
                let mut cut = *left;
                while !chunk.is_char_boundary(cut) {
                    cut -= 1;
                }
                chunk.truncate(cut);
                *left = 0;
                (chunk, false)
            } else {
                *left -= chunk.len();
                (chunk, true)
            }
        }
    }
}

async fn pod_logs(req: Request) -> Result<Response, ApiError> {
    let pod = req.server.get(&PODS, req.namespace(), req.name()).await?;
    let names = container_names(&pod);
    let container = match req.param("container") {
        Some(c) if names.iter().any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::BadRequest(format!(
                "container {c} is not valid for pod {}",
                req.name()
            )));
        }
        None => match pod["spec"]["containers"].as_array().map(Vec::as_slice) {
            Some([only]) => only["name"].as_str().unwrap_or("").to_string(),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "a container name must be specified for pod {}, choose one of: [{}]",
                    req.name(),
                    names.join(" ")
                )));
            }
        },
    };
    let opts = log_options(&req)?;
    let target = LogTarget {
        namespace: req.namespace().to_string(),
        pod: req.name().to_string(),
        container,
    };
    let follow = req.flag("follow");
    let output = req
        .server
        .log_source()
        .logs(&target, follow)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut limit = opts.limit_bytes;
    let history: String = opts
        .select_history(&output.history)
        .into_iter()
        .map(|l| opts.render(l))
        .collect();
    let (history, more) = take_within(&mut limit, history);
    let text_plain = [(header::CONTENT_TYPE, "text/plain")];
    let live = match output.live {
        Some(live) if more => live,
        _ => return Ok((text_plain, history).into_response()),
    };
    let mut stopping = req.server.stopping();
    let stop = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let admit = opts.clone();
    let tail = live
        .filter(move |line| std::future::ready(admit.admits(line)))
        .map(move |line| opts.render(&line))
        .scan(limit, |limit, chunk| {
            let (chunk, more) = take_within(limit, chunk);
            std::future::ready(if chunk.is_empty() && !more {
                None
            } else {
                Some(chunk)
            })
        })
        .take_until(Box::pin(stop));
    let stream = futures::stream::once(std::future::ready(history))
        .chain(tail)
        .map(|chunk| Ok::<_, std::convert::Infallible>(Bytes::from(chunk)));
    Ok((text_plain, Body::from_stream(stream)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::PROWJOBS;

    #[test]
    fn paths_resolve_to_resource_targets() {
        let t = |ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
            (
                ns.map(String::from),
                name.map(String::from),
                sub.map(String::from),
            )
        };
        let cases = [
            (
                "prow.k8s.io",
                "namespaces/default/prowjobs",
                Some((&PROWJOBS, t(Some("default"), None, None))),
            ),
            (
                "prow.k8s.io",
                "namespaces/default/prowjobs/pj1",
                Some((&PROWJOBS, t(Some("default"), Some("pj1"), None))),
            ),
            (
                "prow.k8s.io",
                "namespaces/d/prowjobs/pj1/status",
                Some((&PROWJOBS, t(Some("d"), Some("pj1"), Some("status")))),
            ),
            (
                "prow.k8s.io",
                "prowjobs",
                Some((&PROWJOBS, t(None, None, None))),
            ),
            ("prow.k8s.io", "prowjobs/pj1", None),
            ("", "namespaces", Some((&NAMESPACES, t(None, None, None)))),
            (
                "",
                "namespaces/default",
                Some((&NAMESPACES, t(None, Some("default"), None))),
            ),
            (
                "",
                "namespaces/default/status",
                Some((&NAMESPACES, t(None, Some("default"), Some("status")))),
            ),
            (
                "",
                "namespaces/ns/pods/p/log",
                Some((&PODS, t(Some("ns"), Some("p"), Some("log")))),
            ),
            ("", "pods", Some((&PODS, t(None, None, None)))),
            ("", "namespaces/ns/deployments", None),
            ("", "namespaces/ns/pods/p/log/extra", None),
        ];
        for (group, rest, want) in cases {
            let got = parse_target(group, "v1", rest)
                .map(|t| (t.resource, (t.namespace, t.name, t.subresource)));
            assert_eq!(
                got,
                want.map(|(r, x)| (r as &ResourceInfo, x)),
                "{group} {rest}"
            );
        }
    }

    #[test]
    fn go_durations_parse() {
        let cases = [
            ("32s", Some(32_000)),
            ("1m0s", Some(60_000)),
            ("2h", Some(7_200_000)),
            ("1.5s", Some(1_500)),
            ("5", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                prow_core::duration::parse_go_duration(text).ok(),
                want.map(Duration::from_millis),
                "{text}"
            );
        }
    }

    #[test]
    fn log_output_is_cut_at_the_byte_limit() {
        let mut limit = Some(5);
        assert_eq!(
            take_within(&mut limit, "abc\n".into()),
            ("abc\n".to_string(), true)
        );
        assert_eq!(
            take_within(&mut limit, "def\n".into()),
            ("d".to_string(), false)
        );
        let mut none = None;
        assert_eq!(take_within(&mut none, "x".into()), ("x".to_string(), true));
    }
}
