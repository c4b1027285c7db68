//! `prow explain` as a user runs it on real webhook payloads from testdata/webhooks: every job is
//! listed, and each one that would not run names why, in the table and in JSON.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const CONFIG: &str = r#"
in_repo_config:
  enabled:
    Codertocat/Hello-World: true
presubmits:
  Codertocat/Hello-World:
  - name: unit
    always_run: true
    spec: {containers: [{image: alpine, command: ["true"]}]}
  - name: docs
    run_if_changed: '^docs/'
    spec: {containers: [{image: alpine, command: ["true"]}]}
  - name: build
    skip_if_only_changed: '\.md$'
    spec: {containers: [{image: alpine, command: ["true"]}]}
  - name: e2e
    spec: {containers: [{image: alpine, command: ["true"]}]}
  - name: release
    always_run: true
    branches: ['^release-']
    spec: {containers: [{image: alpine, command: ["true"]}]}
postsubmits:
  Codertocat/Hello-World:
  - name: post-unit
    branches: [master]
    spec: {containers: [{image: alpine, command: ["true"]}]}
"#;

const PLUGINS: &str = "plugins:\n  Codertocat:\n    plugins: [trigger]\n";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(plugins: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("plugins.yaml"), plugins).unwrap();
        let checkout = dir.path().join("checkout");
        std::fs::create_dir_all(&checkout).unwrap();
        std::fs::write(
            checkout.join(".prow.yaml"),
            "presubmits:\n- name: in-repo-lint\n  run_if_changed: '^lint/'\n  spec: {containers: [{image: alpine, command: [\"true\"]}]}\n",
        )
        .unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `prow explain` on `payload` (written to a file) with JSON output.
    fn explain(&self, payload: &Value, extra: &[&str]) -> Value {
        let file = self.path("payload.json");
        std::fs::write(&file, serde_json::to_vec(payload).unwrap()).unwrap();
        let text = self.run(&file, &[extra, &["-o", "json"]].concat());
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn run(&self, payload: &Path, extra: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_prow"))
            .arg("explain")
            .arg(payload)
            .arg("--config-path")
            .arg(self.path("config.yaml"))
            .arg("--plugin-config")
            .arg(self.path("plugins.yaml"))
            .arg("--in-repo-config-dir")
            .arg(self.path("checkout"))
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

fn webhook(name: &str) -> Value {
    serde_json::from_slice(&prow_testdata::webhook(name)).unwrap()
}

/// job -> the reason code (`None` when it runs).
fn reasons(explained: &Value) -> Vec<(String, Option<String>)> {
    explained["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job"].as_str().unwrap().to_owned(),
                j["why"]["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn expect(explained: &Value, want: &[(&str, Option<&str>)]) {
    let got = reasons(explained);
    let got: Vec<(&str, Option<&str>)> = got
        .iter()
        .map(|(j, r)| (j.as_str(), r.as_deref()))
        .collect();
    assert_eq!(got, want, "{explained:#}");
}

#[test]
fn an_opened_pr_names_the_reason_for_each_skipped_job() {
    let setup = Setup::new(PLUGINS);
    let opened = webhook("pull_request.opened.json");
    let explained = setup.explain(&opened, &["--changed-file", "README.md"]);
    assert_eq!(explained["event"], "pull_request opened");
    assert_eq!(explained["branch"], "master");
    expect(
        &explained,
        &[
            ("unit", None),
            ("docs", Some("run_if_changed")),
            ("build", Some("skip_if_only_changed")),
            ("e2e", Some("manual")),
            ("release", Some("branch")),
            ("in-repo-lint", Some("run_if_changed")),
        ],
    );
    let docs = &explained["jobs"][1];
    assert_eq!(docs["why"]["pattern"], "^docs/");
    assert_eq!(
        docs["message"],
        "run_if_changed \"^docs/\" matches no changed file"
    );
    assert!(
        explained["jobs"][5]["source"]
            .as_str()
            .unwrap()
            .ends_with(".prow.yaml"),
        "{explained:#}"
    );

    // The same change under docs/ and lint/ runs their jobs; unknown files are said to be unknown.
    let explained = setup.explain(
        &opened,
        &["--changed-file", "docs/a.md", "--changed-file", "lint/x.go"],
    );
    let runs: Vec<String> = reasons(&explained)
        .into_iter()
        .filter(|(_, r)| r.is_none())
        .map(|(j, _)| j)
        .collect();
    assert_eq!(runs, ["unit", "docs", "build", "in-repo-lint"]);
    let explained = setup.explain(&opened, &[]);
    assert_eq!(
        explained["jobs"][1]["why"]["reason"],
        "changed_files_unknown"
    );

    // The table says the same in words.
    let table = setup.run(
        &setup.path("payload.json"),
        &["--changed-file", "README.md"],
    );
    assert!(table.contains("e2e"), "{table}");
    assert!(table.contains("needs /test <name>"), "{table}");
}

#[test]
fn drafts_untrusted_authors_and_disabled_plugins_block_every_job() {
    let setup = Setup::new(PLUGINS);
    let mut draft = webhook("pull_request.opened.json");
    draft["pull_request"]["draft"] = json!(true);
    let explained = setup.explain(&draft, &["--changed-file", "a"]);
    assert!(
        reasons(&explained)
            .iter()
            .all(|(_, r)| r.as_deref() == Some("draft"))
    );

    let mut untrusted = webhook("pull_request.opened.json");
    untrusted["pull_request"]["author_association"] = json!("FIRST_TIME_CONTRIBUTOR");
    let explained = setup.explain(&untrusted, &["--changed-file", "a"]);
    assert_eq!(explained["jobs"][0]["why"]["reason"], "untrusted_author");

    let closed = webhook("pull_request.closed.json");
    let explained = setup.explain(&closed, &[]);
    assert_eq!(explained["jobs"][0]["why"]["reason"], "action");

    let disabled = Setup::new("plugins:\n  Codertocat:\n    plugins: [hold]\n");
    let explained = disabled.explain(&webhook("pull_request.opened.json"), &[]);
    assert!(
        reasons(&explained)
            .iter()
            .all(|(_, r)| r.as_deref() == Some("plugin_disabled")),
        "{explained:#}"
    );
}

#[test]
fn comments_are_explained_as_trigger_reads_them() {
    let setup = Setup::new(PLUGINS);
    // The corpus comment is on an issue, and says no command.
    let explained = setup.explain(&webhook("issue_comment.created.json"), &[]);
    assert_eq!(explained["event"], "issue_comment created");
    assert_eq!(explained["jobs"][0]["why"]["reason"], "not_pull_request");

    let mut on_pr = webhook("issue_comment.created.json");
    on_pr["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"});
    let explained = setup.explain(&on_pr, &[]);
    assert_eq!(explained["jobs"][0]["why"]["reason"], "no_command");

    on_pr["comment"]["body"] = json!("/test e2e");
    let explained = setup.explain(&on_pr, &["--changed-file", "a.go"]);
    expect(
        &explained,
        &[
            ("unit", Some("not_requested")),
            ("docs", Some("not_requested")),
            ("build", Some("not_requested")),
            ("e2e", None),
            ("release", Some("not_requested")),
            ("in-repo-lint", Some("not_requested")),
        ],
    );
    on_pr["comment"]["body"] = json!("/test ?");
    let explained = setup.explain(&on_pr, &[]);
    assert_eq!(explained["help_reply"], true);
}

#[test]
fn pushes_explain_postsubmits() {
    let setup = Setup::new(PLUGINS);
    let mut push = webhook("push.json");
    let explained = setup.explain(&push, &[]);
    assert_eq!(explained["branch"], "simple-tag");
    expect(&explained, &[("post-unit", Some("branch"))]);
    push["ref"] = json!("refs/heads/master");
    expect(&setup.explain(&push, &[]), &[("post-unit", None)]);
}
