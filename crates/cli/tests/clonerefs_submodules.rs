//! `prow clonerefs` as the pod runs it (options in `CLONEREFS_OPTIONS`), on upstream's
//! integration case "presubmit-multi-pr-submodule": a repository with a submodule and pulls
//! named by ref and by SHA; every pull merged and the submodule checked out at its pinned
//! commit. The repository is named by a relative `clone_uri`, resolved as `prow up` has the
//! utilities resolve it (`PROW_LOCAL_CLONE_ROOT`).

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// git refuses local-path submodules unless allowed (CVE-2022-39253); the GitHub-hosted
/// submodules Prow's jobs meet need no such setting.
const ALLOW_FILE_SUBMODULES: [(&str, &str); 3] = [
    ("GIT_CONFIG_COUNT", "1"),
    ("GIT_CONFIG_KEY_0", "protocol.file.allow"),
    ("GIT_CONFIG_VALUE_0", "always"),
];

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(ALLOW_FILE_SUBMODULES)
        .env("GIT_AUTHOR_NAME", "tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.com")
        .env("GIT_COMMITTER_NAME", "tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.com")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A commit on a branch off `base` that adds `file`, published as `refs/pull/<n>/head`.
fn pull(dir: &Path, base: &str, n: u64, file: &str) -> String {
    git(dir, &["checkout", "-q", "-b", "pr", base]);
    common::write(&dir.join(file), &format!("PR {n}\n"));
    git(dir, &["add", file]);
    git(dir, &["commit", "-q", "-m", &format!("PR {n}")]);
    let sha = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["update-ref", &format!("refs/pull/{n}/head"), &sha]);
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["branch", "-q", "-D", "pr"]);
    sha
}

#[test]
fn clonerefs_merges_every_pull_and_checks_out_submodules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let foo = root.join("foo");
    std::fs::create_dir_all(&foo).expect("mkdir");
    git(&foo, &["init", "-q", "-b", "main"]);
    common::write(&foo.join("README.txt"), "foo\n");
    git(&foo, &["add", "."]);
    git(&foo, &["commit", "-q", "-m", "foo"]);
    let foo_sha = git(&foo, &["rev-parse", "HEAD"]);

    let bar = root.join("bar");
    std::fs::create_dir_all(&bar).expect("mkdir");
    git(&bar, &["init", "-q", "-b", "main"]);
    common::write(&bar.join("bar.txt"), "bar\n");
    git(&bar, &["add", "."]);
    git(&bar, &["commit", "-q", "-m", "bar"]);
    let foo_path = foo.display().to_string();
    git(&bar, &["submodule", "add", "-q", &foo_path, "foo"]);
    git(&bar, &["commit", "-q", "-m", "add submodule"]);
    let base = git(&bar, &["rev-parse", "HEAD"]);
    let prs = [
        pull(&bar, &base, 1, "1"),
        pull(&bar, &base, 2, "2"),
        pull(&bar, &base, 3, "3"),
    ];

    let src = root.join("src");
    let log = root.join("clone-records.json");
    let options = json!({
        "src_root": src,
        "log": log,
        "git_user_name": "ci-robot",
        "git_user_email": "ci-robot@k8s.io",
        "refs": [{
            "org": "org", "repo": "bar", "base_ref": "main", "base_sha": base,
            "clone_uri": "bar",
            "pulls": [
                {"number": 1, "author": "a", "sha": "", "ref": "pull/1/head"},
                {"number": 2, "author": "b", "sha": prs[1]},
                {"number": 3, "author": "c", "sha": prs[2]},
            ],
        }],
    });
    let out = Command::new(env!("CARGO_BIN_EXE_prow"))
        .arg("clonerefs")
        .env("CLONEREFS_OPTIONS", options.to_string())
        .env("PROW_LOCAL_CLONE_ROOT", root)
        .envs(ALLOW_FILE_SUBMODULES)
        .output()
        .expect("prow clonerefs");
    let records: Value =
        serde_json::from_slice(&std::fs::read(&log).expect("clone records")).expect("json");
    assert!(
        out.status.success(),
        "{}\n{records:#}",
        String::from_utf8_lossy(&out.stderr)
    );

    let clone = src.join("src/github.com/org/bar");
    for pr in &prs {
        let merged = Command::new("git")
            .args(["merge-base", "--is-ancestor", pr, "HEAD"])
            .current_dir(&clone)
            .status()
            .expect("git");
        assert!(merged.success(), "{pr} was not merged into HEAD");
    }
    for file in ["bar.txt", "1", "2", "3", "foo/README.txt"] {
        assert!(clone.join(file).exists(), "{file} missing from the clone");
    }
    assert_eq!(git(&clone.join("foo"), &["rev-parse", "HEAD"]), foo_sha);

    let record = &records[1];
    assert_ne!(record["failed"], json!(true), "{record:#}");
    let commands: Vec<&str> = record["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    // The relative clone_uri was fetched from under the clone root.
    assert!(
        commands
            .iter()
            .any(|c| c.contains(&format!("git fetch {} ", bar.display()))),
        "{commands:#?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.ends_with("git submodule update --init --recursive")),
        "{commands:#?}"
    );
}
