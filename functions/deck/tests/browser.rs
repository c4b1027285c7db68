//! Headless Chromium drives a real Deck: list and filters, job page with log and JUnit, rerun
//! allowed/refused, an XSS payload shown as text. Screenshots go to `<target>/screenshots/`.
//! Skipped (with a message) when `chromium`/`chromedriver` are not installed.
#![allow(clippy::unwrap_used)]

mod chrome;
mod common;

use std::time::Duration;

use fantoccini::{Client, Locator};
use prow_core::prowjob::ProwJobState;
use serde_json::json;

use chrome::*;
use common::*;

async fn rows(client: &Client) -> Vec<String> {
    // Tolerates a page being replaced while it is read: the caller polls.
    let mut names = Vec::new();
    let Ok(found) = client.find_all(Locator::Css("#jobs tr")).await else {
        return names;
    };
    for row in found {
        match row.attr("data-name").await {
            Ok(name) => names.push(name.unwrap_or_default()),
            Err(_) => return Vec::new(),
        }
    }
    names
}

async fn login(client: &Client, base: &str, token: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    client
        .find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let text = wait_text(client, "Log out").await;
    assert!(
        text.contains("Log out"),
        "login with {token} failed: {text}"
    );
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (.ci/install-deps installs them; .ci/test runs this)"]
async fn deck_in_a_real_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} and {CHROMEDRIVER} are required: apt install chromium chromium-driver"
    );
    let env = start().await;
    let failing = presubmit(
        "a1",
        "pull-foo-unit",
        "acme/foo",
        1,
        "alice",
        "Fix foo",
        ProwJobState::Failure,
        100,
    );
    let xss = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    env.create(&[
        failing.clone(),
        presubmit(
            "a2",
            "pull-foo-unit",
            "acme/foo",
            2,
            "bob",
            xss,
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
    let mut log = String::from("\x1b[1mbuilding\x1b[0m\n");
    for i in 0..600 {
        log.push_str(&format!("step {i} ok\n"));
    }
    log.push_str("\x1b[31m--- FAIL: TestFoo (0.01s)\x1b[0m\n    foo_test.go:12: want 1, got 2\n");
    for i in 0..100 {
        log.push_str(&format!("cleanup {i}\n"));
    }
    env.artifact(&failing, "build-log.txt", &log);
    env.artifact(
        &failing,
        "artifacts/junit_unit.xml",
        r#"<testsuites><testsuite name="unit"><testcase classname="foo" name="TestFoo" time="0.01"><failure message="want 1, got 2">foo_test.go:12</failure></testcase><testcase classname="foo" name="TestBar" time="0.02"/><testcase classname="foo" name="TestSkip"><skipped/></testcase></testsuite></testsuites>"#,
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = env.state.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, prow_deck::router(state)).await;
    });

    let (_driver, client) = start_driver().await;

    // The list loads, newest first, and the filter form narrows it through the URL.
    client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(rows(&client).await, ["p1", "b1", "a2", "a1"]);
    shot(&client, "deck-list.png").await;
    let repo = client.find(Locator::Css("input[name=repo]")).await.unwrap();
    repo.send_keys("acme/foo").await.unwrap();
    client
        .find(Locator::Css("#filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..50 {
        if client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("repo=acme%2Ffoo")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("repo=acme%2Ffoo")
    );
    for _ in 0..50 {
        if rows(&client).await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows(&client).await, ["a2", "a1"]);
    shot(&client, "deck-list-filtered.png").await;

    // The XSS payload in a PR title is text: nothing ran, the text is there verbatim.
    let title = client
        .find(Locator::Css("tr[data-name=a2] .title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title, xss);
    assert!(
        client.get_alert_text().await.is_err(),
        "an alert was opened"
    );
    assert!(
        client
            .find_all(Locator::Css("#jobs img"))
            .await
            .unwrap()
            .is_empty()
    );

    // The job page: coloured, folded log with the failure shown, and the JUnit table.
    client.goto(&format!("{base}/view/a1")).await.unwrap();
    let highlighted = client
        .find(Locator::Css("#buildlog .line.hl"))
        .await
        .unwrap();
    assert!(
        highlighted
            .text()
            .await
            .unwrap()
            .contains("--- FAIL: TestFoo")
    );
    let red = client
        .find(Locator::Css("#buildlog .line.hl span.f1"))
        .await
        .unwrap();
    let colour = red.css_value("color").await.unwrap();
    assert!(colour.contains("255, 85, 85"), "{colour}");
    let folds = client
        .find_all(Locator::Css("#buildlog details.fold"))
        .await
        .unwrap();
    assert!(!folds.is_empty(), "a long log is folded");
    let junit = client
        .find(Locator::Id("junit"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(junit.contains("1 passed, 1 failed, 1 skipped"), "{junit}");
    assert!(
        junit.contains("TestFoo") && junit.contains("want 1, got 2"),
        "{junit}"
    );
    shot(&client, "deck-job.png").await;

    // Rerun refused for mallory: 403 page, nothing created.
    let before = env.prowjobs.list(None).await.unwrap().len();
    login(&client, &base, "mallory-token").await;
    client.goto(&format!("{base}/view/a1")).await.unwrap();
    client
        .find(Locator::Id("rerun"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let text = wait_text(&client, "You don't have permission").await;
    assert!(
        text.contains("You don't have permission to rerun that job."),
        "{text}"
    );
    shot(&client, "deck-rerun-forbidden.png").await;
    assert_eq!(env.prowjobs.list(None).await.unwrap().len(), before);
    client
        .find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&client, "Log in").await;

    // Rerun by alice creates the new ProwJob.
    login(&client, &base, "alice-token").await;
    client.goto(&format!("{base}/view/a1")).await.unwrap();
    client
        .find(Locator::Id("rerun"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let text = wait_text(&client, "Job successfully triggered.").await;
    assert!(text.contains("Job successfully triggered."), "{text}");
    shot(&client, "deck-rerun-ok.png").await;
    let jobs = env.prowjobs.list(None).await.unwrap();
    assert_eq!(jobs.len(), before + 1);
    assert!(
        jobs.iter()
            .any(|pj| pj.status.description == "alice successfully reran a1.")
    );
    client
        .find(Locator::Id("next-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        wait_text(&client, "pull-foo-unit")
            .await
            .contains("pull-foo-unit")
    );

    client.close().await.unwrap();
    println!("screenshots in {}", screenshots_dir().display());
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (.ci/install-deps installs them; .ci/test runs this)"]
async fn history_lenses_help_and_config_in_a_real_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} and {CHROMEDRIVER} are required: apt install chromium chromium-driver"
    );
    let env = start().await;
    // 25 runs of one presubmit, none of them a ProwJob any more (sinker deleted them all):
    // history pages through storage and every run's page renders from its prowjob.json.
    let mut newest = None;
    for i in 0..25i64 {
        let pj = presubmit(
            &format!("gone-{i}"),
            "pull-foo-unit",
            "acme/foo",
            (i + 1) as u64,
            "alice",
            "Gone",
            if i % 3 == 0 {
                ProwJobState::Failure
            } else {
                ProwJobState::Success
            },
            1_000 + i,
        );
        let paths = prow_artifacts::layout::job_paths_for(&pj).unwrap();
        env.artifact(&pj, "prowjob.json", &serde_json::to_string(&pj).unwrap());
        env.artifact(
            &pj,
            "started.json",
            &format!(
                r#"{{"timestamp": {}, "node": "node-{i}"}}"#,
                1_700_000_000 + i * 100
            ),
        );
        env.artifact(
            &pj,
            "finished.json",
            &format!(
                r#"{{"timestamp": {}, "passed": {}, "result": "{}"}}"#,
                1_700_000_000 + i * 100 + 90,
                i % 3 != 0,
                if i % 3 == 0 { "FAILURE" } else { "SUCCESS" }
            ),
        );
        let alias = env
            .artifacts
            .path()
            .join(BUCKET)
            .join(paths.alias.clone().unwrap());
        std::fs::create_dir_all(alias.parent().unwrap()).unwrap();
        std::fs::write(alias, paths.alias_body()).unwrap();
        newest = Some(pj);
    }
    let newest = newest.unwrap();
    env.artifact(&newest, "build-log.txt", "building\nFAIL: TestGone\n");
    env.artifact(
        &newest,
        "clone-records.json",
        r#"[{"refs": {"org": "acme", "repo": "foo"}, "commands": [{"command": "git init"}]}]"#,
    );
    env.artifact(&newest, "podinfo.json", r#"{"pod": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "test", "image": "golang"}]}, "status": {"containerStatuses": [{"name": "test", "image": "golang", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}, "events": [{"metadata": {"name": "e"}, "involvedObject": {}, "type": "Warning", "reason": "BackOff", "message": "back-off"}]}"#);
    env.artifact(&newest, "artifacts/junit_1.xml", r#"<testsuite><testcase classname="c" name="TestGone"><failure>boom</failure></testcase></testsuite>"#);
    env.artifact(
        &newest,
        "artifacts/Dash.link.txt",
        "https://dash.example/1\n",
    );
    env.artifact(
        &newest,
        "artifacts/report.html",
        "<html><title>Perf report</title><body><h1>fast</h1></body></html>",
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = env.state.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, prow_deck::router(state)).await;
    });
    let (_driver, client) = start_driver().await;

    client
        .goto(&format!(
            "{base}/job-history/gs/{BUCKET}/pr-logs/directory/pull-foo-unit"
        ))
        .await
        .unwrap();
    let text = wait_text(&client, "Showing 20 of 25").await;
    assert!(text.contains("Showing 20 of 25"), "{text}");
    shot(&client, "deck-history-page1.png").await;
    let older = client
        .find(Locator::Css("a[href*='buildId=']"))
        .await
        .unwrap();
    older.click().await.unwrap();
    let text = wait_text(&client, "Showing 5 of 25").await;
    assert!(
        text.contains("Showing 5 of 25") && text.contains("2004"),
        "the five oldest runs are on page two: {text}"
    );
    shot(&client, "deck-history-page2.png").await;

    client
        .goto(&format!(
            "{base}/job-history/gs/{BUCKET}/pr-logs/directory/pull-foo-unit"
        ))
        .await
        .unwrap();
    wait_text(&client, "Showing").await;
    let first_run = client
        .find(Locator::Css("a[href^='/view/gs/']"))
        .await
        .unwrap();
    first_run.click().await.unwrap();
    let text = wait_text(&client, "no longer exists").await;
    for fact in [
        "no longer exists",
        "Metadata",
        "Clone records",
        "Pod",
        "BackOff",
        "Links",
        "Dash",
        "Perf report",
        "TestGone",
        "Build log",
    ] {
        assert!(text.contains(fact), "{fact}: {text}");
    }
    shot(&client, "deck-lenses.png").await;
    for lens in ["lens-metadata", "lens-podinfo", "lens-links", "lens-html"] {
        let section = client.find(Locator::Id(lens)).await.unwrap();
        section.find(Locator::Css("h2")).await.unwrap();
    }

    client.goto(&format!("{base}/plugins")).await.unwrap();
    wait_text(&client, "Plugins").await;
    let filter = client.find(Locator::Id("plugin-filter")).await.unwrap();
    filter.send_keys("zzz-no-such-plugin").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let visible = client
        .execute("return Array.from(document.querySelectorAll('section.plugin')).filter(s => !s.hidden).length", vec![])
        .await
        .unwrap();
    assert_eq!(visible, json!(0), "the search hides every plugin");
    shot(&client, "deck-plugins-search.png").await;
    client.goto(&format!("{base}/command-help")).await.unwrap();
    wait_text(&client, "Commands").await;
    shot(&client, "deck-command-help.png").await;

    client.goto(&format!("{base}/config")).await.unwrap();
    let text = wait_text(&client, "Job config").await;
    assert!(text.contains("Job config"), "{text}");
    // Labelled and reachable from the nav.
    client
        .find(Locator::Css("label[for=config-repo]"))
        .await
        .unwrap();
    client
        .find(Locator::Css("header nav a[href='/config']"))
        .await
        .unwrap();
    shot(&client, "deck-config.png").await;
}
