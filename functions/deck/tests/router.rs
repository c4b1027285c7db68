//! Router tests (no socket): filters, prowjobs.js, badge, job page, actions with auth and CSRF.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prow_core::prowjob::{ProwJob, ProwJobState};

use common::*;

async fn get(env: &Env, uri: &str) -> Answer {
    call(env, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn post(uri: &str, auth: Option<&str>, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut req =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(token) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.body(Body::from(form.to_owned())).unwrap()
}

async fn sample(env: &Env) {
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
            "a2",
            "pull-foo-unit",
            "acme/foo",
            2,
            "bob",
            "Add bar",
            ProwJobState::Success,
            200,
        ),
        presubmit(
            "b1",
            "pull-bar-lint",
            "acme/bar",
            3,
            "carol",
            "Lint",
            ProwJobState::Pending,
            300,
        ),
        periodic("p1", "ci-nightly", ProwJobState::Success, 400),
    ])
    .await;
}

fn rows(body: &str) -> Vec<String> {
    body.split("data-name=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_filters_newest_first_and_paginates() {
    let env = start().await;
    sample(&env).await;
    let table: &[(&str, &[&str])] = &[
        ("/", &["p1", "b1", "a2", "a1"]),
        ("/?repo=acme/foo", &["a2", "a1"]),
        ("/?repo=acme%2Ffoo&state=failure", &["a1"]),
        ("/?job=pull-*", &["b1", "a2", "a1"]),
        ("/?type=periodic", &["p1"]),
        ("/?author=CAROL", &["b1"]),
        ("/?pull=2", &["a2"]),
        ("/?state=bogus", &[]),
        ("/?per_page=2", &["p1", "b1"]),
        ("/?per_page=2&page=2", &["a2", "a1"]),
    ];
    for (uri, want) in table {
        let answer = get(&env, uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(rows(&answer.body), *want, "{uri}");
    }
    let page = get(&env, "/?repo=acme/foo&per_page=1").await.body;
    assert!(
        page.contains(r#"href="/?repo=acme/foo&#38;per_page=1&#38;page=2""#),
        "{page}"
    );
    assert!(page.contains(r#"value="acme/foo""#));
}

#[tokio::test]
async fn prowjobs_js_is_prow_shaped() {
    let env = start().await;
    sample(&env).await;
    let answer = get(&env, "/prowjobs.js?repo=acme/foo").await;
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["metadata"]["name"], "a2");
    assert_eq!(items[0]["spec"]["job"], "pull-foo-unit");
    assert_eq!(items[0]["status"]["state"], "success");
    assert_eq!(items[0]["kind"], "ProwJob");
    assert!(items[0]["metadata"].get("managedFields").is_none());
    // Without `omit`, full objects (read from the API server: the index keeps slim copies).
    assert_eq!(
        items[0]["metadata"]["labels"]["prow.k8s.io/type"],
        "presubmit"
    );
    assert_eq!(
        items[0]["spec"]["pod_spec"]["containers"][0]["image"],
        "golang:1.25"
    );

    // What Deck's own UI asks for comes from the index: the heavy fields stay out, one empty
    // container per container is left as Prow does.
    let slim = get(
        &env,
        "/prowjobs.js?repo=acme/foo&omit=annotations,labels,decoration_config,pod_spec",
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(&slim.body).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["metadata"]["name"], "a2");
    assert!(items[0]["metadata"].get("labels").is_none());
    assert!(items[0]["spec"].get("decoration_config").is_none());
    assert_eq!(
        items[0]["spec"]["pod_spec"]["containers"],
        serde_json::json!([{"name": ""}])
    );

    let answer = get(
        &env,
        "/prowjobs.js?var=allBuilds&omit=decoration_config,labels",
    )
    .await;
    assert!(
        answer.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    let body = answer
        .body
        .strip_prefix("var allBuilds = ")
        .unwrap()
        .strip_suffix(';')
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 4);
    assert!(json["items"][1]["spec"].get("decoration_config").is_none());
    assert!(json["items"][1]["metadata"].get("labels").is_none());

    assert_eq!(
        get(&env, "/prowjobs.js?var=x;alert(1)").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn badge_reports_the_latest_runs() {
    let env = start().await;
    sample(&env).await;
    let table = [
        ("/badge.svg?jobs=pull-foo-unit", "passing"),
        ("/badge.svg?jobs=ci-*,pull-bar-*", "passing"),
        ("/badge.svg?jobs=nothing-*", "no results"),
    ];
    for (uri, text) in table {
        let answer = get(&env, uri).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers[header::CONTENT_TYPE], "image/svg+xml");
        assert!(
            answer.body.contains(&format!(">{text}<")),
            "{uri}: {}",
            answer.body
        );
    }
    env.create(&[presubmit(
        "a3",
        "pull-foo-unit",
        "acme/foo",
        2,
        "bob",
        "x",
        ProwJobState::Failure,
        500,
    )])
    .await;
    assert!(
        get(&env, "/badge.svg?jobs=pull-*")
            .await
            .body
            .contains(">failing pull-foo-unit<")
    );
    assert_eq!(
        get(&env, "/badge.svg").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn job_page_renders_log_junit_and_artifacts() {
    let env = start().await;
    let pj = presubmit(
        "a1",
        "pull-foo-unit",
        "acme/foo",
        1,
        "alice",
        "Fix",
        ProwJobState::Failure,
        100,
    );
    env.create(std::slice::from_ref(&pj)).await;
    env.artifact(
        &pj,
        "build-log.txt",
        "starting\n\x1b[31m--- FAIL: TestFoo\x1b[0m <b>\ndone\n",
    );
    env.artifact(
        &pj,
        "artifacts/junit_01.xml",
        r#"<testsuite name="unit"><testcase classname="foo" name="TestFoo"><failure message="want 1, got 2"/></testcase><testcase classname="foo" name="TestOk"/></testsuite>"#,
    );
    let page = get(&env, "/view/a1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"<span class="f1">--- FAIL: TestFoo</span> &lt;b&gt;"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r##"href="#L2""##));
    assert!(page.body.contains("1 passed, 1 failed, 0 skipped"));
    assert!(page.body.contains("want 1, got 2"));
    assert!(page.body.contains("/artifact/a1/artifacts/junit_01.xml"));
    assert!(
        page.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("deck_sid="))
    );
    assert!(
        page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );

    assert_eq!(href_of(&page.body, "prowjob-json"), "/view/a1/prowjob.json");
    assert_eq!(
        href_of(&page.body, "raw-log"),
        "/log?job=pull-foo-unit&id=1100"
    );
    let log = get(&env, "/log?job=pull-foo-unit&id=1100").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.body.starts_with("starting\n"));
    assert_eq!(
        get(&env, "/log?job=pull-foo-unit&id=9").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&env, "/log?job=pull-foo-unit").await.status,
        StatusCode::BAD_REQUEST
    );

    let artifact = get(&env, "/artifact/a1/artifacts/junit_01.xml").await;
    assert_eq!(artifact.status, StatusCode::OK);
    assert!(
        artifact.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        get(&env, "/artifact/a1/../x").await.status,
        StatusCode::BAD_REQUEST
    );

    let json: serde_json::Value =
        serde_json::from_str(&get(&env, "/view/a1/prowjob.json").await.body).unwrap();
    assert_eq!(json["spec"]["job"], "pull-foo-unit");
    assert_eq!(get(&env, "/view/nope").await.status, StatusCode::NOT_FOUND);

    // The job URL crier reports (`/view/gs/<bucket>/<build dir>`) leads to the run's page.
    let by_path = get(
        &env,
        "/view/gs/prow-logs/pr-logs/pull/acme_foo/1/pull-foo-unit/1100",
    )
    .await;
    assert_eq!(by_path.status, StatusCode::SEE_OTHER);
    assert_eq!(by_path.headers[header::LOCATION], "/view/a1");
    let unknown = get(&env, "/view/gs/prow-logs/logs/ci-x/1").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Prow's `/prowjob?prowjob=<name>` link (plank's URL for undecorated jobs) too.
    let by_name = get(&env, "/prowjob?prowjob=a1").await;
    assert_eq!(by_name.status, StatusCode::SEE_OTHER);
    assert_eq!(by_name.headers[header::LOCATION], "/view/a1");
}

#[tokio::test]
async fn user_controlled_text_is_escaped() {
    let env = start().await;
    let xss = "<script>alert(1)</script>\"'";
    let mut pj = presubmit(
        "x1",
        "pull-foo-unit",
        "acme/foo",
        1,
        "eve",
        xss,
        ProwJobState::Failure,
        100,
    );
    pj.spec.refs.as_mut().unwrap().pulls[0].link = "javascript:alert(2)".into();
    env.create(&[pj]).await;
    for uri in ["/", "/view/x1"] {
        let body = get(&env, uri).await.body;
        assert!(!body.contains("<script>alert"), "{uri}");
        assert!(
            body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{uri}"
        );
        assert!(!body.contains("javascript:"), "{uri}");
    }
}

#[tokio::test]
async fn rerun_needs_an_allowed_user_and_csrf_for_cookies() {
    let env = start().await;
    sample(&env).await;
    let before = env.prowjobs.list(None).await.unwrap().len();

    // Not allowed: 403 and nothing created.
    let answer = call(
        &env,
        post("/rerun?prowjob=a1", Some("mallory-token"), None, ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("permission"));
    // Not logged in.
    let sid = "0123456789abcdef0123456789abcdef";
    let csrf = env.state.csrf.token(sid);
    let cookie = format!("deck_sid={sid}");
    let answer = call(
        &env,
        post(
            "/rerun?prowjob=a1",
            None,
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    // Logged in by cookie, but no or a wrong CSRF token.
    let alice = format!("deck_sid={sid}; deck_token=alice-token");
    for form in [
        "",
        "csrf=00",
        &format!("csrf={}", env.state.csrf.token("another-session-id-000")),
    ] {
        let answer = call(&env, post("/rerun?prowjob=a1", None, Some(&alice), form)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{form}");
        assert!(answer.body.contains("CSRF"));
    }
    assert_eq!(env.prowjobs.list(None).await.unwrap().len(), before);

    // Allowed by header (no CSRF needed) and by cookie with the token.
    let answer = call(
        &env,
        post("/rerun?prowjob=a1", Some("alice-token"), None, ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("Job successfully triggered."));
    let answer = call(
        &env,
        post(
            "/rerun",
            None,
            Some(&alice),
            &format!("csrf={csrf}&prowjob=p1"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let jobs = env.prowjobs.list(None).await.unwrap();
    assert_eq!(jobs.len(), before + 2);
    let rerun = jobs
        .iter()
        .find(|pj| pj.status.description == "alice successfully reran a1.")
        .unwrap();
    assert_eq!(rerun.spec.job, "pull-foo-unit");
    assert_eq!(rerun.status.state, ProwJobState::Triggered);

    assert_eq!(
        call(
            &env,
            post("/rerun?prowjob=zzz", Some("alice-token"), None, "")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&env, post("/rerun", Some("alice-token"), None, ""))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&env, "/rerun?prowjob=a1").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn abort_sets_aborted_only_for_running_jobs() {
    let env = start().await;
    sample(&env).await;
    let answer = call(
        &env,
        post("/abort?prowjob=b1", Some("mallory-token"), None, ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        env.prowjobs.get("b1").await.unwrap().unwrap().status.state,
        ProwJobState::Pending
    );

    let answer = call(
        &env,
        post("/abort?prowjob=b1", Some("alice-token"), None, ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let stored = env.prowjobs.get("b1").await.unwrap().unwrap();
    assert_eq!(stored.status.state, ProwJobState::Aborted);
    assert_eq!(stored.status.description, "alice successfully aborted b1.");

    let answer = call(
        &env,
        post("/abort?prowjob=a2", Some("alice-token"), None, ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("Cannot abort job with state: success"));
}

#[tokio::test]
async fn login_sets_a_strict_cookie_for_known_tokens_only() {
    let env = start().await;
    let ok = call(
        &env,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("token=alice-token"))
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("deck_token=alice-token;")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("HttpOnly")
    );
    let bad = call(
        &env,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("token=nope"))
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert!(bad.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn help_pages_list_triggers_commands() {
    let env = start().await;
    let json: serde_json::Value =
        serde_json::from_str(&get(&env, "/plugin-help").await.body).unwrap();
    assert_eq!(
        json["PluginHelp"]["trigger"]["Commands"][0]["Usage"],
        "/ok-to-test"
    );
    assert!(json["PluginHelp"]["lgtm"]["Commands"].is_array());
    // The test config enables no plugin anywhere: a repo's help is empty, a malformed repo refused.
    let repo: serde_json::Value =
        serde_json::from_str(&get(&env, "/plugin-help?repo=acme/foo").await.body).unwrap();
    assert_eq!(repo["PluginHelp"], serde_json::json!({}));
    assert_eq!(repo["RepoPlugins"]["acme/foo"], serde_json::json!([]));
    assert_eq!(
        get(&env, "/plugin-help?repo=acme").await.status,
        StatusCode::BAD_REQUEST
    );
    // The HTML view of the same registry: every plugin, or exactly a repo's (none here).
    let plugins = get(&env, "/plugins").await.body;
    for name in [
        "plugin-lgtm",
        "plugin-approve",
        "plugin-hold",
        "plugin-trigger",
    ] {
        assert!(plugins.contains(&format!("id=\"{name}\"")), "{name}");
    }
    let none = get(&env, "/plugins?repo=acme/foo").await.body;
    assert!(none.contains("No plugin is enabled here."), "{none}");
    assert!(!none.contains("id=\"plugin-lgtm\""));
    assert_eq!(
        get(&env, "/plugins?repo=acme").await.status,
        StatusCode::BAD_REQUEST
    );
    let page = get(&env, "/command-help").await.body;
    for cmd in [
        "/retest",
        "/retest-required",
        "/test-manual-required",
        "/ok-to-test",
        "/test (&#60;job name&#62;|all)",
    ] {
        assert!(page.contains(cmd), "{cmd}");
    }
    assert_eq!(get(&env, "/healthz").await.body, "ok");
    assert!(
        get(&env, "/metrics")
            .await
            .body
            .contains("deck_indexed_prowjobs")
    );
}

/// Writes `rel` under the local store's bucket directory.
fn stored(env: &Env, rel: &str, body: &str) {
    let path = env.artifacts.path().join(BUCKET).join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

fn history_rows(body: &str) -> Vec<String> {
    body.split("data-build=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn job_history_lists_runs_from_storage_newest_first_and_pages() {
    // No ProwJob exists for any of these runs: history comes from storage alone.
    let env = start().await;
    for id in 1..=25u64 {
        let dir = format!("logs/ci-nightly/{id}");
        stored(
            &env,
            &format!("{dir}/started.json"),
            &format!(r#"{{"timestamp": {}}}"#, 1_700_000_000 + id * 100),
        );
        if id != 25 {
            let result = if id % 2 == 0 { "SUCCESS" } else { "FAILURE" };
            stored(
                &env,
                &format!("{dir}/finished.json"),
                &format!(
                    r#"{{"timestamp": {}, "passed": {}, "result": "{result}"}}"#,
                    1_700_000_000 + id * 100 + 65,
                    id % 2 == 0
                ),
            );
        }
    }
    stored(&env, "logs/ci-nightly/latest-build.txt", "25");
    stored(&env, "logs/ci-nightly/not-a-run/x.txt", "x");

    let first = get(&env, &format!("/job-history/gs/{BUCKET}/logs/ci-nightly")).await;
    assert_eq!(first.status, StatusCode::OK);
    let ids = history_rows(&first.body);
    assert_eq!(ids.len(), 20);
    assert_eq!(ids[0], "25");
    assert_eq!(ids[19], "6");
    assert!(
        first.body.contains("Showing 20 of 25 runs."),
        "{}",
        first.body
    );
    assert!(first.body.contains("Pending"), "the unfinished newest run");
    assert!(
        first
            .body
            .contains(&format!(r#"href="/view/gs/{BUCKET}/logs/ci-nightly/24""#))
    );
    assert!(
        first.body.contains("1m5s") || first.body.contains("1m 5s") || first.body.contains("65"),
        "{}",
        first.body
    );
    let older = format!("/job-history/gs/{BUCKET}/logs/ci-nightly?buildId=5");
    assert!(
        first.body.contains(&older.replace('&', "&#38;")),
        "{}",
        first.body
    );

    let second = get(&env, &older).await;
    assert_eq!(history_rows(&second.body), ["5", "4", "3", "2", "1"]);
    assert!(second.body.contains("FAILURE") && second.body.contains("SUCCESS"));
    assert!(
        second.body.contains(&format!(
            r#"href="/job-history/gs/{BUCKET}/logs/ci-nightly""#
        )),
        "newer and latest lead to the newest page"
    );

    // Presubmits are listed through pr-logs/directory aliases that name their build dirs.
    let dir = "pr-logs/pull/acme_foo/7/pull-foo-unit/300";
    stored(
        &env,
        &format!("{dir}/started.json"),
        r#"{"timestamp": 1700000000, "pull": "7"}"#,
    );
    stored(
        &env,
        &format!("{dir}/finished.json"),
        r#"{"timestamp": 1700000030, "passed": true, "result": "SUCCESS"}"#,
    );
    stored(
        &env,
        "pr-logs/directory/pull-foo-unit/300.txt",
        &format!("gs://{BUCKET}/{dir}"),
    );
    let pr = get(
        &env,
        &format!("/job-history/{BUCKET}/pr-logs/directory/pull-foo-unit"),
    )
    .await;
    assert_eq!(history_rows(&pr.body), ["300"]);
    assert!(
        pr.body
            .contains(&format!(r#"href="/view/gs/{BUCKET}/{dir}""#)),
        "{}",
        pr.body
    );
    assert!(pr.body.contains("<td>7</td>"));

    assert_eq!(
        get(&env, "/job-history/gs/only-bucket").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(
            &env,
            &format!("/job-history/gs/{BUCKET}/logs/ci-nightly?buildId=x")
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let empty = get(&env, &format!("/job-history/gs/{BUCKET}/logs/never-ran")).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("No runs are stored there."));
}

/// The `href` of the link with id `id` in `body`.
fn href_of(body: &str, id: &str) -> String {
    let at = body
        .find(&format!(r#"id="{id}" href=""#))
        .unwrap_or_else(|| panic!("no link {id}: {body}"));
    let rest = &body[at + id.len() + 12..];
    // Askama escapes `&` in attributes as `&#38;`.
    rest[..rest.find('"').unwrap()].replace("&#38;", "&")
}

/// Every lens's input for `pj`'s run, and `prowjob.json` as crier stores it.
fn store_every_lens_input(env: &Env, pj: &ProwJob) {
    env.artifact(pj, "prowjob.json", &serde_json::to_string(pj).unwrap());
    env.artifact(
        pj,
        "started.json",
        r#"{"timestamp": 1700000000, "node": "node-7", "repo-commit": "cafe1234", "metadata": {"pod": "gone-pod"}}"#,
    );
    env.artifact(
        pj,
        "finished.json",
        r#"{"timestamp": 1700000125, "passed": false, "result": "FAILURE", "revision": "cafe1234"}"#,
    );
    env.artifact(
        pj,
        "clone-records.json",
        r#"[{"refs": {"org": "acme", "repo": "foo", "base_ref": "main"}, "commands": [{"command": "git fetch origin main", "output": "fetched"}], "final_sha": "cafe1234"}]"#,
    );
    env.artifact(
        pj,
        "podinfo.json",
        r#"{"pod": {"metadata": {"name": "gone-pod"},
                   "spec": {"containers": [{"name": "test", "image": "golang:1.25"}]},
                   "status": {"containerStatuses": [{"name": "test", "image": "golang:1.25", "imageID": "", "ready": false, "restartCount": 0,
                              "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}},
            "events": [{"metadata": {"name": "e1"}, "involvedObject": {}, "type": "Warning", "reason": "OOMKilling", "message": "memory cgroup out of memory", "count": 2}]}"#,
    );
    env.artifact(pj, "build-log.txt", "compiling\nFAIL: TestGone\n");
    env.artifact(
        pj,
        "artifacts/junit_01.xml",
        r#"<testsuite name="s"><testcase classname="c" name="TestGone"><failure message="boom">trace</failure></testcase></testsuite>"#,
    );
    env.artifact(
        pj,
        "artifacts/perf/Dashboard.link.txt",
        "https://perf.example/run/9\n",
    );
    env.artifact(
        pj,
        "artifacts/coverage.html",
        "<html><head><title>Coverage report</title></head><body><script>alert(1)</script><p>87%</p></body></html>",
    );
}

#[tokio::test]
async fn a_run_whose_prowjob_sinker_deleted_renders_from_storage_with_every_lens() {
    let env = start().await;
    // Never created in the API server: as after sinker deleted it.
    let gone = presubmit(
        "gone-1",
        "pull-foo-unit",
        "acme/foo",
        7,
        "alice",
        "Gone",
        ProwJobState::Failure,
        500,
    );
    store_every_lens_input(&env, &gone);
    let paths = prow_artifacts::layout::job_paths_for(&gone).unwrap();
    // The presubmit alias crier writes: what pr-logs/directory history lists.
    stored(&env, paths.alias.as_deref().unwrap(), &paths.alias_body());
    let dir = paths.build_dir;

    let history = get(
        &env,
        &format!("/job-history/gs/{BUCKET}/pr-logs/directory/pull-foo-unit"),
    )
    .await;
    let run_link = format!("/view/gs/{BUCKET}/{dir}");
    assert!(
        history.body.contains(&format!(r#"href="{run_link}""#)),
        "{}",
        history.body
    );

    let page = get(&env, &run_link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("no longer exists"), "{body}");
    for section in [
        "lens-metadata",
        "lens-podinfo",
        "lens-links",
        "lens-html",
        "junit",
        "buildlog",
    ] {
        assert!(
            body.contains(&format!(r#"id="{section}""#)),
            "{section}: {body}"
        );
    }
    for fact in [
        "FAILURE",
        "node-7",
        "gone-pod",
        "2m5s",
        "git fetch origin main",
        "cafe1234",
        "#7 bbbb by alice",
        "terminated (Error)",
        "<td>3</td>",
        "OOMKilling",
        r#"href="https://perf.example/run/9""#,
        "Coverage report",
        "TestGone",
    ] {
        assert!(body.contains(fact), "{fact}: {body}");
    }
    // The report is framed inert: no scripts, no same origin; its markup is an attribute value.
    assert!(body.contains(r#"sandbox="""#), "{body}");
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(!body.contains(r#"id="rerun""#), "no rerun of a deleted job");

    // Its prowjob.json and raw build log come from the artifact store: the API server has no
    // such ProwJob and no pod runs it any more.
    let json_link = href_of(body, "prowjob-json");
    assert_eq!(json_link, format!("/stored/gs/{BUCKET}/{dir}/prowjob.json"));
    let json = get(&env, &json_link).await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.body);
    let stored_pj: ProwJob = serde_json::from_str(&json.body).unwrap();
    assert_eq!(stored_pj.name(), "gone-1");
    let log_link = href_of(body, "raw-log");
    let log = get(&env, &log_link).await;
    assert_eq!(log.status, StatusCode::OK, "{log_link}: {}", log.body);
    assert_eq!(log.body, "compiling\nFAIL: TestGone\n");

    let artifact = get(
        &env,
        &format!("/stored/gs/{BUCKET}/{dir}/artifacts/junit_01.xml"),
    )
    .await;
    assert_eq!(artifact.status, StatusCode::OK);
    assert!(artifact.body.contains("TestGone"));
    assert!(
        get(&env, &format!("/stored/gs/{BUCKET}/{dir}/../x"))
            .await
            .status
            .is_client_error()
    );
    assert_eq!(
        get(&env, &format!("/stored/gs/{BUCKET}/logs/none/1/x.txt"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&env, &format!("/view/gs/{BUCKET}/logs/none/1"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn lenses_follow_deck_spyglass_lenses() {
    let mut config = config();
    config.prow.deck.spyglass = Some(
        serde_norway::from_str(
            r#"
lenses:
- lens: {name: buildlog}
  required_files: ['^build-log\.txt$']
- lens: {name: links}
  required_files: ['\.link\.txt$']
"#,
        )
        .unwrap(),
    );
    let env = start_with(config).await;
    let pj = presubmit(
        "lensed",
        "pull-foo-unit",
        "acme/foo",
        8,
        "bob",
        "Lensed",
        ProwJobState::Success,
        600,
    );
    env.create(std::slice::from_ref(&pj)).await;
    store_every_lens_input(&env, &pj);
    let page = get(&env, "/view/lensed").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"id="lens-links""#));
    assert!(page.body.contains(r#"id="buildlog""#));
    for absent in [
        "lens-metadata",
        "lens-podinfo",
        "lens-html",
        r#"id="junit""#,
    ] {
        assert!(!page.body.contains(absent), "{absent} is not configured");
    }
}

/// Abort is as guarded as rerun: a logged-in cookie without the session's CSRF token changes
/// nothing, and a body over axum's form limit is not read (the action is refused, not run).
#[tokio::test]
async fn abort_by_cookie_needs_csrf_and_oversized_forms_are_refused() {
    let env = start().await;
    sample(&env).await;
    let sid = "0123456789abcdef0123456789abcdef";
    let alice = format!("deck_sid={sid}; deck_token=alice-token");
    for form in ["prowjob=b1", "csrf=00&prowjob=b1"] {
        let answer = call(&env, post("/abort", None, Some(&alice), form)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{form}");
        assert!(answer.body.contains("CSRF"), "{form}");
    }
    let csrf = env.state.csrf.token(sid);
    let huge = format!("csrf={csrf}&prowjob=b1&pad={}", "x".repeat(3 * 1024 * 1024));
    let answer = call(&env, post("/abort", None, Some(&alice), &huge)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        env.prowjobs.get("b1").await.unwrap().unwrap().status.state,
        ProwJobState::Pending
    );
    let answer = call(
        &env,
        post(
            "/abort",
            None,
            Some(&alice),
            &format!("csrf={csrf}&prowjob=b1"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        env.prowjobs.get("b1").await.unwrap().unwrap().status.state,
        ProwJobState::Aborted
    );
}

/// As Prow's Deck with a plugin config: whoever trigger trusts on a presubmit's repo (here an org
/// member) may rerun it, though the rerun auth config does not name them; not a periodic, and not
/// without the plugin config. GitHub is faked over HTTP.
#[tokio::test]
async fn a_user_trigger_trusts_may_rerun_the_repos_presubmits() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/members/mallory"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&github)
        .await;
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "bot-token").unwrap();
    let mut env = start().await;
    sample(&env).await;
    env.state = env
        .state
        .clone()
        .with_memberships(memberships_via(&github.uri(), token.path()));
    let rerun = |name: &str| {
        post(
            &format!("/rerun?prowjob={name}"),
            Some("mallory-token"),
            None,
            "",
        )
    };
    assert_eq!(
        call(&env, rerun("a1")).await.status,
        StatusCode::FORBIDDEN,
        "without a plugin config only the rerun auth config counts"
    );

    env.state.options.trigger_trust = true;
    let answer = call(&env, rerun("a1")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("Job successfully triggered."));
    assert_eq!(
        call(&env, rerun("p1")).await.status,
        StatusCode::FORBIDDEN,
        "a periodic has no PR to be trusted on"
    );
    let jobs = env.prowjobs.list(None).await.unwrap();
    assert_eq!(
        jobs.iter()
            .filter(|pj| pj.status.description == "mallory successfully reran a1.")
            .count(),
        1
    );
}
