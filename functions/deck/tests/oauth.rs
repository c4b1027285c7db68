//! GitHub login and team-based rerun rights through Deck's router, with GitHub's OAuth pages
//! and REST API faked by wiremock: state checks, code exchange, the signed session, CSRF, and
//! rerun allowed for a team member and refused for anyone else.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prow_core::config::Config;
use prow_core::prowjob::{GitHubTeamSlug, ProwJobState, RerunAuthConfig};
use prow_deck::oauth::{Endpoints, GitHubOAuth, GitHubOAuthConfig};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::*;

const REDIRECT: &str = "http://deck.test/github-login/redirect";

impl Answer {
    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// `name=value` of the cookie set under `name`.
    fn cookie(&self, name: &str) -> String {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.set_cookies()))
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

async fn get(env: &Env, uri: &str, cookie: Option<&str>) -> Answer {
    let mut req = Request::get(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    call(env, req.body(Body::empty()).unwrap()).await
}

async fn post(env: &Env, uri: &str, cookie: &str, form: &str) -> Answer {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(form.to_owned()))
        .unwrap();
    call(env, req).await
}

fn query_param(url: &str, name: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Rerun rights only through GitHub: team `acme/release` by slug, or team 7 of the job's org.
fn team_config() -> Config {
    let mut config = Config::default();
    config.prow.deck.rerun_auth_configs.insert(
        "*".into(),
        RerunAuthConfig {
            github_team_ids: vec![7],
            github_team_slugs: vec![GitHubTeamSlug {
                org: "acme".into(),
                slug: "release".into(),
            }],
            ..RerunAuthConfig::default()
        },
    );
    config
}

/// Fakes GitHub: `code-<user>` is exchanged for `gho-<user>`, `/user` answers `<user>`;
/// carol is in acme/release, dave in no team.
async fn fake_github() -> MockServer {
    let github = MockServer::start().await;
    for user in ["carol", "dave"] {
        Mock::given(method("POST"))
            .and(path("/login/oauth/access_token"))
            .and(body_string_contains(format!("code=code-{user}")))
            .and(body_string_contains("client_secret=csecret"))
            .and(body_string_contains("client_id=cid"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"access_token": format!("gho-{user}"), "token_type": "bearer", "scope": "read:org"}),
            ))
            .mount(&github)
            .await;
        Mock::given(method("GET"))
            .and(path("/user"))
            .and(has_header(
                "authorization",
                format!("Bearer gho-{user}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": user, "id": 1})))
            .mount(&github)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(body_string_contains("code=stale"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"error": "bad_verification_code"})),
        )
        .mount(&github)
        .await;
    // Carol's membership is asked once: the second rerun is answered from the cache.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release/memberships/carol"))
        .and(has_header("authorization", "Bearer bot-token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"state": "active", "role": "member"})),
        )
        .expect(1)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release/memberships/dave"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "acme", "id": 42})))
        .expect(1)
        .mount(&github)
        .await;
    for user in ["carol", "dave"] {
        Mock::given(method("GET"))
            .and(path(format!("/organizations/42/team/7/memberships/{user}")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .mount(&github)
            .await;
    }
    github
}

async fn deck_with_github(github: &MockServer, bot_token: &tempfile::NamedTempFile) -> Env {
    let mut env = start_with(team_config()).await;
    let config = GitHubOAuthConfig::parse(
        &format!(
            "client_id: cid\nclient_secret: csecret\nredirect_url: {REDIRECT}\nscopes: [read:org]\n"
        ),
        "oauth.yaml",
    )
    .unwrap();
    let oauth = GitHubOAuth::new(
        config,
        &[9; 32],
        Endpoints::new(&github.uri(), &github.uri()),
    )
    .unwrap();
    env.state = env
        .state
        .clone()
        .with_github_oauth(oauth)
        .with_memberships(memberships_via(&github.uri(), bot_token.path()));
    env
}

/// Logs `user` in through the fake GitHub; the cookies of the session.
async fn login(env: &Env, user: &str, dest: &str) -> (Answer, String) {
    let start = get(env, &format!("/github-login?dest={dest}"), None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let state = query_param(start.location(), "state");
    let state_cookie = start.cookie("deck_oauth_state");
    let back = get(
        env,
        &format!("/github-login/redirect?code=code-{user}&state={state}"),
        Some(&state_cookie),
    )
    .await;
    let session = if back.status == StatusCode::SEE_OTHER {
        back.cookie("deck_github_session")
    } else {
        String::new()
    };
    (back, session)
}

#[tokio::test]
async fn github_login_then_rerun_as_team_member_and_refused_outside_the_team() {
    let github = fake_github().await;
    let mut bot_token = tempfile::NamedTempFile::new().unwrap();
    bot_token.write_all(b"bot-token\n").unwrap();
    let env = deck_with_github(&github, &bot_token).await;
    sample_jobs(&env).await;

    // The login page offers GitHub; /github-login sends the browser there with a fresh state.
    let page = get(&env, "/login", None).await;
    assert!(
        page.body.contains("href=\"/github-login\""),
        "{}",
        page.body
    );
    let start = get(&env, "/github-login?dest=/view/a1", None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let location = start.location();
    assert!(
        location.starts_with(&format!("{}/login/oauth/authorize?", github.uri())),
        "{location}"
    );
    assert_eq!(query_param(location, "client_id"), "cid");
    assert_eq!(query_param(location, "redirect_uri"), REDIRECT);
    assert_eq!(query_param(location, "scope"), "read:org");
    let state = query_param(location, "state");
    assert_eq!(state.len(), 64);
    let set = start
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("deck_oauth_state="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http deck: {set}");
    let second = get(&env, "/github-login", None).await;
    assert_ne!(query_param(second.location(), "state"), state);

    // A wrong or missing state, or GitHub's refusal, logs nobody in.
    let state_cookie = start.cookie("deck_oauth_state");
    for (uri, cookie) in [
        (
            "/github-login/redirect?code=code-carol&state=00ff".to_owned(),
            Some(state_cookie.as_str()),
        ),
        (
            format!("/github-login/redirect?code=code-carol&state={state}"),
            None,
        ),
        (
            format!("/github-login/redirect?error=access_denied&state={state}"),
            Some(state_cookie.as_str()),
        ),
    ] {
        let answer = get(&env, &uri, cookie).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{uri}: {}",
            answer.body
        );
        assert!(
            !answer
                .set_cookies()
                .iter()
                .any(|c| c.starts_with("deck_github_session=") && !c.contains("Max-Age=0")),
            "{uri}"
        );
    }
    // A code GitHub does not accept: 502 with GitHub's reason.
    let stale = get(
        &env,
        &format!("/github-login/redirect?code=stale&state={state}"),
        Some(&state_cookie),
    )
    .await;
    assert_eq!(stale.status, StatusCode::BAD_GATEWAY);
    assert!(
        stale.body.contains("bad_verification_code"),
        "{}",
        stale.body
    );

    // Carol logs in: back on the page she came from, with a session naming only her.
    let (back, carol) = login(&env, "carol", "/view/a1").await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location(), "/view/a1");
    assert!(carol.starts_with("deck_github_session=carol."), "{carol}");
    assert!(
        !back.set_cookies().iter().any(|c| c.contains("gho-")),
        "the GitHub token is not kept"
    );
    let page = get(&env, "/", Some(&carol)).await;
    assert!(page.body.contains("carol"), "shown as logged in");

    // Rerun: the CSRF token is still needed with the session cookie.
    let sid = "0123456789abcdef0123456789abcdef";
    let cookies = format!("{carol}; deck_sid={sid}");
    let before = env.prowjobs.list(None).await.unwrap().len();
    let refused = post(&env, "/rerun?prowjob=a1", &cookies, "csrf=00").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("CSRF"));
    let csrf = env.state.csrf.token(sid);
    for _ in 0..2 {
        let ok = post(&env, "/rerun?prowjob=a1", &cookies, &format!("csrf={csrf}")).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert!(ok.body.contains("Job successfully triggered."));
    }
    let jobs = env.prowjobs.list(None).await.unwrap();
    assert_eq!(jobs.len(), before + 1, "two clicks in a minute: one rerun");
    assert!(
        jobs.iter()
            .any(|pj| pj.status.description == "carol successfully reran a1.")
    );

    // Dave is in neither team: refused, nothing created.
    let (back, dave) = login(&env, "dave", "/").await;
    assert_eq!(back.location(), "/");
    let cookies = format!("{dave}; deck_sid={sid}");
    let refused = post(&env, "/rerun?prowjob=a1", &cookies, &format!("csrf={csrf}")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body.contains("permission to rerun that job."),
        "{}",
        refused.body
    );
    let refused = post(&env, "/abort?prowjob=b1", &cookies, &format!("csrf={csrf}")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(env.prowjobs.list(None).await.unwrap().len(), before + 1);

    // A forged session (another login, same signature) is nobody.
    let forged = carol.replacen("carol", "admin", 1);
    let page = get(&env, "/login", Some(&forged)).await;
    assert!(!page.body.contains("admin"));
    let refused = post(
        &env,
        "/rerun?prowjob=a1",
        &format!("{forged}; deck_sid={sid}"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Logout ends the GitHub session.
    let out = post(&env, "/logout", &carol, "").await;
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("deck_github_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        out.set_cookies()
    );
}

#[tokio::test]
async fn without_github_login_configured_the_routes_are_absent() {
    let env = start().await;
    assert_eq!(
        get(&env, "/github-login", None).await.status,
        StatusCode::NOT_FOUND
    );
    let page = get(&env, "/login", None).await;
    assert!(!page.body.contains("/github-login"));
}

async fn sample_jobs(env: &Env) {
    env.create(&[
        presubmit(
            "a1",
            "pull-foo-unit",
            "acme/foo",
            1,
            "alice",
            "Fix foo",
            ProwJobState::Failure,
            100,
        ),
        presubmit(
            "b1",
            "pull-foo-lint",
            "acme/foo",
            1,
            "alice",
            "Fix foo",
            ProwJobState::Pending,
            200,
        ),
    ])
    .await;
}

#[derive(Debug, clap::Parser)]
struct Args {
    #[command(flatten)]
    flags: prow_deck::Flags,
}

#[test]
fn prows_login_flags_parse_beside_the_github_ones() {
    use clap::{CommandFactory, Parser};
    Args::command().debug_assert();
    let args = Args::try_parse_from([
        "deck",
        "--config-path=/etc/config/config.yaml",
        "--oauth-url=/github-login",
        "--github-oauth-config-file=/etc/githuboauth/secret",
        "--cookie-secret=/etc/cookie/secret",
        "--github-host=ghe.example.com",
        "--github-endpoint=http://ghproxy",
        "--github-token-path=/etc/github/oauth",
    ])
    .unwrap();
    let flags = args.flags;
    assert_eq!(flags.oauth_url.as_deref(), Some("/github-login"));
    assert_eq!(
        flags.github_oauth_config_file.unwrap().to_str(),
        Some("/etc/githuboauth/secret")
    );
    assert_eq!(
        flags.cookie_secret.unwrap().to_str(),
        Some("/etc/cookie/secret")
    );
    assert_eq!(flags.github_host, "ghe.example.com");
    assert_eq!(flags.github.github_endpoint, "http://ghproxy");
    let defaults = Args::try_parse_from(["deck", "--config-path=/c"]).unwrap();
    assert_eq!(defaults.flags.github_host, "github.com");
    assert!(defaults.flags.github.github_token_path.is_none());
}
