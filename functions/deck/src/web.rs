//! HTTP plumbing shared by the pages: identity and session cookies, security headers, static
//! files, and the rerun/abort/login handlers (fetch, decide with `actions`/`auth`, write).

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use k8s_openapi::jiff::Timestamp;
use prow_kube::Created;
use serde::Deserialize;

use crate::DeckState;
use crate::actions;
use crate::auth::{self, Identity, SESSION_COOKIE, TOKEN_COOKIE};
use crate::views::MessagePage;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Defence in depth behind the escaping: no inline script can run, no framing, no sniffing.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

pub(crate) async fn css() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../static/deck.css"),
    )
}

pub(crate) async fn js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/deck.js"),
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The caller's identity from the `Authorization` header, the token cookie or a GitHub login.
pub(crate) fn identity(state: &DeckState, headers: &HeaderMap) -> Identity {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let who = auth::identify(
        &state.tokens,
        get(header::AUTHORIZATION),
        get(header::COOKIE),
    );
    if who != Identity::Anonymous || get(header::AUTHORIZATION).is_some() {
        return who;
    }
    let now = std::time::SystemTime::now();
    state
        .oauth
        .as_ref()
        .zip(cookie(headers, crate::oauth::GITHUB_SESSION_COOKIE))
        .and_then(|(oauth, value)| oauth.session_login(&value, now))
        .map_or(Identity::Anonymous, Identity::Cookie)
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| auth::cookie(c, name).map(str::to_owned))
}

/// The CSRF session id, and the `Set-Cookie` that creates it when the browser has none yet.
pub(crate) fn session(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, SESSION_COOKIE).filter(|s| s.len() >= 16) {
        Some(sid) => (sid, None),
        None => {
            let sid = auth::new_session_id();
            let set = format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax");
            (sid, Some(set))
        }
    }
}

/// Renders a template, 500 (logged) if rendering fails.
pub(crate) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )
                .into_response()
        }
    }
}

/// A message page for browsers, plain text for API clients (bearer header).
pub(crate) fn message(
    identity: &Identity,
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(String, &str)>,
) -> Response {
    if matches!(identity, Identity::Header(_)) {
        let mut body = text.to_owned();
        if let Some((href, _)) = &link {
            body.push('\n');
            body.push_str(href);
        }
        return (status, body).into_response();
    }
    let (link, link_text) = link.map_or((String::new(), String::new()), |(l, t)| (l, t.to_owned()));
    html(
        status,
        &MessagePage {
            title: title.into(),
            message: text.into(),
            link,
            link_text,
            user: identity.login().unwrap_or("").to_owned(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionQuery {
    prowjob: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionForm {
    csrf: Option<String>,
    prowjob: Option<String>,
}

/// The checks rerun and abort share; on success the job as stored now.
async fn authorize(
    state: &DeckState,
    action: &'static str,
    headers: &HeaderMap,
    query: ActionQuery,
    form: Option<ActionForm>,
) -> Result<(Identity, prow_core::prowjob::ProwJob), Response> {
    let who = identity(state, headers);
    let form = form.unwrap_or_default();
    // A bearer header cannot be attached by a foreign page; a cookie (or no identity at all,
    // for allow_anyone jobs) can, so those need the signed CSRF token.
    if !matches!(who, Identity::Header(_)) {
        let sid = cookie(headers, SESSION_COOKIE);
        if !state.csrf.verify(sid.as_deref(), form.csrf.as_deref()) {
            state.metrics.count(action, "csrf");
            return Err(message(
                &who,
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Missing or invalid CSRF token: reload the page and try again.",
                None,
            ));
        }
    }
    let Some(name) = query.prowjob.or(form.prowjob).filter(|n| !n.is_empty()) else {
        state.metrics.count(action, "bad_request");
        return Err(message(
            &who,
            StatusCode::BAD_REQUEST,
            "Bad request",
            "Missing parameter: prowjob.",
            None,
        ));
    };
    let pj = match state.prowjobs.get(&name).await {
        Ok(Some(pj)) => pj,
        Ok(None) => {
            state.metrics.count(action, "not_found");
            return Err(message(
                &who,
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("No ProwJob named {name}."),
                None,
            ));
        }
        Err(err) => {
            tracing::error!(error = %err, prowjob = %name, "reading prowjob");
            state.metrics.count(action, "error");
            return Err(message(
                &who,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Could not read the ProwJob; try again.",
                None,
            ));
        }
    };
    let allowed = match crate::membership::allowed(state, &pj, who.login()).await {
        Ok(allowed) => allowed,
        Err(err) => {
            tracing::error!(error = %err, "checking GitHub memberships");
            state.metrics.count(action, "error");
            return Err(message(
                &who,
                StatusCode::BAD_GATEWAY,
                "Error",
                "Could not check your GitHub org and team memberships; try again.",
                None,
            ));
        }
    };
    if !allowed {
        state.metrics.count(action, "forbidden");
        let what = if action == "rerun" { "rerun" } else { "abort" };
        return Err(message(
            &who,
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("You don't have permission to {what} that job."),
            None,
        ));
    }
    Ok((who, pj))
}

fn actor(who: &Identity) -> &str {
    who.login().unwrap_or("anonymous")
}

pub(crate) async fn rerun(
    State(state): State<DeckState>,
    Query(query): Query<ActionQuery>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let form = form.ok().map(|Form(f)| f);
    let (who, old) = match authorize(&state, "rerun", &headers, query, form).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let new = actions::rerun_of(&old, actor(&who), Timestamp::now());
    let name = new.name().to_owned();
    match state.prowjobs.create(&new).await {
        Ok(created) => {
            if let Created::New(stored) = created {
                state.index.upsert(stored);
            }
            tracing::info!(user = actor(&who), old = old.name(), new = %name, "rerun");
            state.metrics.count("rerun", "ok");
            message(
                &who,
                StatusCode::OK,
                "Rerun",
                "Job successfully triggered.",
                Some((format!("/view/{name}"), "Go to the new run")),
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "creating rerun prowjob");
            state.metrics.count("rerun", "error");
            message(
                &who,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Could not create the ProwJob; try again.",
                None,
            )
        }
    }
}

pub(crate) async fn abort(
    State(state): State<DeckState>,
    Query(query): Query<ActionQuery>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let form = form.ok().map(|Form(f)| f);
    let (who, pj) = match authorize(&state, "abort", &headers, query, form).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    if let Err(refusal) = actions::check_abortable(&pj) {
        state.metrics.count("abort", "not_abortable");
        return message(
            &who,
            StatusCode::BAD_REQUEST,
            "Bad request",
            &refusal.to_string(),
            None,
        );
    }
    let user = actor(&who).to_owned();
    let result = state
        .prowjobs
        .update_status(pj.name(), |current| actions::apply_abort(current, &user))
        .await;
    match result {
        Ok(Some(stored)) if stored.status.state == prow_core::prowjob::ProwJobState::Aborted => {
            state.index.upsert(stored);
            state.metrics.count("abort", "ok");
            message(
                &who,
                StatusCode::OK,
                "Abort",
                "Job successfully aborted.",
                Some((format!("/view/{}", pj.name()), "Back to the job")),
            )
        }
        Ok(Some(stored)) => {
            // It finished between our read and the write.
            state.metrics.count("abort", "not_abortable");
            let text = actions::NotAbortable(stored.status.state).to_string();
            message(&who, StatusCode::BAD_REQUEST, "Bad request", &text, None)
        }
        Ok(None) => message(
            &who,
            StatusCode::NOT_FOUND,
            "Not found",
            "The ProwJob is gone.",
            None,
        ),
        Err(err) => {
            tracing::error!(error = %err, "aborting prowjob");
            state.metrics.count("abort", "error");
            message(
                &who,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Could not abort the ProwJob; try again.",
                None,
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

/// Characters a token may have so it can sit in a cookie unquoted.
fn cookie_safe(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

pub(crate) async fn login(State(state): State<DeckState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    if !cookie_safe(token) || state.tokens.user_for(token).is_none() {
        let page = crate::views::LoginPage {
            error: "Unknown token.".into(),
            user: String::new(),
            github: state.oauth.is_some(),
        };
        return html(StatusCode::FORBIDDEN, &page);
    }
    // SameSite=Strict: a cross-site form post does not even carry the login.
    let set = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&set) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

pub(crate) async fn logout(State(state): State<DeckState>) -> Response {
    let mut response = Redirect::to("/").into_response();
    let mut clear = vec![format!(
        "{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    )];
    if let Some(oauth) = &state.oauth {
        clear.extend(oauth.clear_cookies());
    }
    for c in clear {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}
