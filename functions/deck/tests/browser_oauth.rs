//! Headless Chromium logs in to Deck through a faked GitHub OAuth app (authorize page, token
//! endpoint, `/user`) and reruns a job as a member of the allowed team; a user outside the team
//! is refused. Screenshots go to `<target>/screenshots/`.
#![allow(clippy::unwrap_used)]

mod chrome;
mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use fantoccini::{Client, Locator};
use prow_core::config::Config;
use prow_core::prowjob::{GitHubTeamSlug, ProwJobState, RerunAuthConfig};
use prow_deck::oauth::{Endpoints, GitHubOAuth, GitHubOAuthConfig};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use chrome::*;
use common::*;

async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// GitHub's authorize page as the browser sees it: an "Authorize" button sending it back to
/// the app's redirect URI with a code for whoever is "signed in to GitHub" and the state.
struct AuthorizePage {
    signed_in: Arc<Mutex<String>>,
}

impl Respond for AuthorizePage {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let param = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let user = self.signed_in.lock().unwrap().clone();
        let html = format!(
            "<!DOCTYPE html><html><body><h1>Authorize Prow</h1><p>Signed in as {user}; client {client}</p>\
             <form method=\"get\" action=\"{action}\">\
             <input type=\"hidden\" name=\"code\" value=\"code-{user}\">\
             <input type=\"hidden\" name=\"state\" value=\"{state}\">\
             <button id=\"authorize\" type=\"submit\">Authorize</button></form></body></html>",
            client = escape(&param("client_id")),
            action = escape(&param("redirect_uri")),
            state = escape(&param("state")),
        );
        ResponseTemplate::new(200).set_body_raw(html, "text/html; charset=utf-8")
    }
}

async fn fake_github(signed_in: Arc<Mutex<String>>) -> MockServer {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/login/oauth/authorize"))
        .respond_with(AuthorizePage { signed_in })
        .mount(&github)
        .await;
    for user in ["carol", "dave"] {
        Mock::given(method("POST"))
            .and(path("/login/oauth/access_token"))
            .and(body_string_contains(format!("code=code-{user}")))
            .and(body_string_contains("client_secret=csecret"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"access_token": format!("gho-{user}"), "token_type": "bearer"}),
            ))
            .mount(&github)
            .await;
        Mock::given(method("GET"))
            .and(path("/user"))
            .and(header(
                "authorization",
                format!("Bearer gho-{user}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": user})))
            .mount(&github)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release/memberships/carol"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"state": "active"})))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/teams/release/memberships/dave"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&github)
        .await;
    github
}

async fn github_login(client: &Client, base: &str, who: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    click(client, "github-login").await;
    let text = wait_text(client, "Authorize Prow").await;
    assert!(text.contains(&format!("Signed in as {who}")), "{text}");
    assert!(text.contains("client cid"), "{text}");
    click(client, "authorize").await;
    let text = wait_text(client, "Log out").await;
    assert!(text.contains(who), "{who} not shown as logged in: {text}");
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (.ci/install-deps installs them; .ci/test runs this)"]
async fn github_login_in_a_real_browser_allows_the_team_and_refuses_others() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} and {CHROMEDRIVER} are required: apt install chromium chromium-driver"
    );
    let signed_in = Arc::new(Mutex::new("carol".to_owned()));
    let github = fake_github(signed_in.clone()).await;
    let mut config = Config::default();
    config.prow.deck.rerun_auth_configs.insert(
        "*".into(),
        RerunAuthConfig {
            github_team_slugs: vec![GitHubTeamSlug {
                org: "acme".into(),
                slug: "release".into(),
            }],
            ..RerunAuthConfig::default()
        },
    );
    let mut env = start_with(config).await;
    env.create(&[presubmit(
        "a1",
        "pull-foo-unit",
        "acme/foo",
        1,
        "alice",
        "Fix foo",
        ProwJobState::Failure,
        100,
    )])
    .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let oauth_config = GitHubOAuthConfig::parse(
        &format!(
            "client_id: cid\nclient_secret: csecret\nredirect_url: {base}/github-login/redirect\nscopes: [read:org]\n"
        ),
        "oauth.yaml",
    )
    .unwrap();
    let oauth = GitHubOAuth::new(
        oauth_config,
        &[3; 32],
        Endpoints::new(&github.uri(), &github.uri()),
    )
    .unwrap();
    let mut bot_token = tempfile::NamedTempFile::new().unwrap();
    bot_token.write_all(b"bot-token\n").unwrap();
    env.state = env
        .state
        .clone()
        .with_github_oauth(oauth)
        .with_memberships(memberships_via(&github.uri(), bot_token.path()));
    let state = env.state.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, prow_deck::router(state)).await;
    });
    let (_driver, client) = start_driver().await;
    let before = env.prowjobs.list(None).await.unwrap().len();

    // Carol, in acme/release, logs in through "GitHub" and reruns the job.
    client.goto(&format!("{base}/login")).await.unwrap();
    shot(&client, "deck-login-github.png").await;
    click(&client, "github-login").await;
    wait_text(&client, "Authorize Prow").await;
    shot(&client, "deck-github-authorize.png").await;
    click(&client, "authorize").await;
    let text = wait_text(&client, "Log out").await;
    assert!(text.contains("carol"), "{text}");
    client.goto(&format!("{base}/view/a1")).await.unwrap();
    click(&client, "rerun").await;
    let text = wait_text(&client, "Job successfully triggered.").await;
    assert!(text.contains("Job successfully triggered."), "{text}");
    shot(&client, "deck-github-rerun-allowed.png").await;
    let jobs = env.prowjobs.list(None).await.unwrap();
    assert_eq!(jobs.len(), before + 1);
    assert!(
        jobs.iter()
            .any(|pj| pj.status.description == "carol successfully reran a1.")
    );

    // Carol logs out; Dave, outside the team, logs in and is refused.
    let logout = client
        .find(Locator::Css("form[action='/logout'] button"))
        .await
        .unwrap();
    logout.click().await.unwrap();
    let text = wait_text(&client, "Log in").await;
    assert!(!text.contains("carol"), "{text}");
    *signed_in.lock().unwrap() = "dave".to_owned();
    github_login(&client, &base, "dave").await;
    client.goto(&format!("{base}/view/a1")).await.unwrap();
    click(&client, "rerun").await;
    let text = wait_text(&client, "You don't have permission").await;
    assert!(
        text.contains("You don't have permission to rerun that job."),
        "{text}"
    );
    shot(&client, "deck-github-rerun-refused.png").await;
    assert_eq!(env.prowjobs.list(None).await.unwrap().len(), before + 1);
}
