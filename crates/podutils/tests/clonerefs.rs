//! clonerefs and initupload against real git repositories built in temp dirs (no network: the
//! "remote" is a local path given as `clone_uri`).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use prow_core::jobspec::JobSpec;
use prow_core::prowjob::{GcsConfiguration, ProwJobType, Pull, Refs};
use prow_podutils::clone::{CloneSettings, Record};
use prow_podutils::clonerefs::{self, CloneRefsError};
use prow_podutils::initupload::{self, InitUploadError};
use prow_podutils::log::Logger;
use prow_podutils::options::path_for_refs;
use prow_podutils::{CloneRefsOptions, GcsOptions, InitUploadOptions, store_for};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A "remote" whose `main` moved on after PR #1 branched off; the PR's commit is reachable only
/// as `refs/pull/1/head`, as GitHub serves it. Returns (path, main's sha, the PR's sha).
fn remote(root: &Path) -> (PathBuf, String, String) {
    let dir = root.join("remote");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("base.txt"), "base\n").unwrap();
    git(&dir, &["add", "base.txt"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    git(&dir, &["checkout", "-q", "-b", "pr"]);
    std::fs::write(dir.join("pr.txt"), "from the PR\n").unwrap();
    git(&dir, &["add", "pr.txt"]);
    git(&dir, &["commit", "-q", "-m", "the change"]);
    let pr = git(&dir, &["rev-parse", "HEAD"]);
    git(&dir, &["update-ref", "refs/pull/1/head", &pr]);
    git(&dir, &["checkout", "-q", "main"]);
    git(&dir, &["branch", "-q", "-D", "pr"]);
    // main moves on after the PR branched, so the merge is a real one.
    std::fs::write(dir.join("later.txt"), "later\n").unwrap();
    git(&dir, &["add", "later.txt"]);
    git(&dir, &["commit", "-q", "-m", "later on main"]);
    let base = git(&dir, &["rev-parse", "HEAD"]);
    (dir, base, pr)
}

fn refs(remote: &Path, base_sha: &str, pr_sha: &str) -> Refs {
    let mut r = Refs::new("org", "repo");
    r.base_ref = "main".into();
    r.base_sha = base_sha.into();
    r.clone_uri = remote.display().to_string();
    r.pulls.push(Pull::new(1, "alice", pr_sha));
    r
}

fn options(root: &Path, refs: Vec<Refs>) -> CloneRefsOptions {
    CloneRefsOptions {
        src_root: root.join("go").display().to_string(),
        log: root.join("clone.json").display().to_string(),
        git_user_name: "ci-robot".into(),
        git_user_email: "ci-robot@k8s.io".into(),
        git_refs: refs,
        ..CloneRefsOptions::default()
    }
}

fn no_retries() -> CloneSettings {
    CloneSettings {
        fetch_retries: vec![],
    }
}

#[test]
fn clones_base_and_merges_the_pull_recording_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, base, pr) = remote(tmp.path());
    let r = refs(&remote, &base, &pr);
    let opts = options(tmp.path(), vec![r.clone()]);
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();

    // The environment set-up record comes first, then one per refs.
    assert_eq!(records.len(), 2);
    assert_eq!(records[0], Record::default());
    let rec = &records[1];
    assert!(!rec.failed, "{rec:#?}");
    assert_eq!(rec.refs, r);

    let dir = PathBuf::from(path_for_refs(&opts.src_root, &r));
    assert!(dir.ends_with("go/src/github.com/org/repo"));
    for (file, body) in [
        ("base.txt", "base\n"),
        ("later.txt", "later\n"),
        ("pr.txt", "from the PR\n"),
    ] {
        assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), body);
    }
    // HEAD is a --no-ff merge of the PR into the base, on branch main.
    let head = git(&dir, &["rev-parse", "HEAD"]);
    assert_eq!(rec.final_sha, head);
    assert_eq!(
        git(&dir, &["rev-list", "--parents", "-n1", "HEAD"]),
        format!("{head} {base} {pr}")
    );
    assert_eq!(git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(git(&dir, &["config", "user.name"]), "ci-robot");

    let d = dir.display().to_string();
    let uri = remote.display().to_string();
    let ts = git(&dir, &["show", "-s", "--format=%ct", "HEAD^1"])
        .parse::<i64>()
        .unwrap()
        + 1;
    let commands: Vec<&str> = rec.commands.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            format!("PWD=/  mkdir -p {d}"),
            format!("PWD={d}  git init"),
            format!("PWD={d}  git config user.name ci-robot"),
            format!("PWD={d}  git config user.email ci-robot@k8s.io"),
            format!("PWD={d}  git fetch {uri} --tags --prune"),
            format!("PWD={d}  git fetch {uri} {base}"),
            format!("PWD={d}  git checkout {base}"),
            format!("PWD={d}  git branch --force main {base}"),
            format!("PWD={d}  git checkout main"),
            format!("PWD={d}  git fetch {uri} {pr}"),
            format!("PWD={d} GIT_AUTHOR_DATE={ts} GIT_COMMITTER_DATE={ts} git merge --no-ff {pr}"),
            format!("PWD={d}  git submodule update --init --recursive"),
        ]
    );
    assert!(rec.commands.iter().all(|c| c.error.is_empty()));
    assert!(
        rec.commands[1]
            .output
            .contains("Initialized empty Git repository")
    );
    assert!(!rec.duration.is_zero());

    // The log holds exactly the records, as a JSON array.
    let logged: Vec<Record> = serde_json::from_slice(&std::fs::read(&opts.log).unwrap()).unwrap();
    assert_eq!(logged, records);
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&opts.log).unwrap()).unwrap();
    assert_eq!(raw[0], serde_json::json!({"refs": {"org": "", "repo": ""}}));
    assert!(raw[1]["commands"][0]["duration"].is_u64());
}

#[test]
fn pulls_by_ref_without_shas_and_merges_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, _, pr) = remote(tmp.path());
    // No SHAs: base from FETCH_HEAD of main, the pull from pull/1/head.
    let mut r = refs(&remote, "", "");
    r.path_alias = "k8s.io/repo".into();
    r.skip_submodules = true;
    let opts = options(tmp.path(), vec![r.clone()]);
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();
    let rec = &records[1];
    assert!(!rec.failed, "{rec:#?}");
    let commands: Vec<&str> = rec.commands.iter().map(|c| c.command.as_str()).collect();
    assert!(
        commands
            .iter()
            .any(|c| c.ends_with("git checkout FETCH_HEAD"))
    );
    let pull_fetch = format!("git fetch {} pull/1/head", remote.display());
    assert!(
        commands.iter().any(|c| c.ends_with(&pull_fetch)),
        "{commands:#?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.ends_with("git merge --no-ff FETCH_HEAD"))
    );
    assert!(!commands.iter().any(|c| c.contains("submodule")));
    let dir = tmp.path().join("go/src/k8s.io/repo");
    assert!(dir.join("pr.txt").exists());
    assert_eq!(git(&dir, &["rev-parse", "HEAD^2"]), pr);

    // The same inputs give the same merge commit (timestamps derive from the base commit).
    let again = options(&tmp.path().join("again"), vec![r]);
    let second = clonerefs::run_with(&again, &no_retries()).unwrap();
    assert_eq!(second[1].final_sha, rec.final_sha);
}

#[test]
fn several_refs_clone_in_parallel_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, base, pr) = remote(tmp.path());
    let main = refs(&remote, &base, &pr);
    let mut tools = Refs::new("org", "tools");
    tools.base_ref = "main".into();
    tools.clone_uri = remote.display().to_string();
    let mut opts = options(tmp.path(), vec![main, tools]);
    opts.max_parallel_workers = 1;
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1].refs.repo, "repo");
    assert_eq!(records[2].refs.repo, "tools");
    let tools_dir = tmp.path().join("go/src/github.com/org/tools");
    assert!(tools_dir.join("later.txt").exists());
    assert!(!tools_dir.join("pr.txt").exists());
    assert_eq!(records[2].final_sha, base);
}

#[test]
fn failures_are_recorded_and_fatal_only_with_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = Refs::new("org", "gone");
    r.base_ref = "main".into();
    r.clone_uri = tmp.path().join("no-such-repo").display().to_string();
    let mut opts = options(tmp.path(), vec![r]);
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();
    let rec = &records[1];
    assert!(rec.failed);
    assert!(rec.final_sha.is_empty());
    let last = rec.commands.last().unwrap();
    assert!(last.command.contains("git fetch"), "{last:?}");
    assert_eq!(last.error, "exit status 128");
    assert!(!last.output.is_empty());
    assert!(
        rec.duration.is_zero(),
        "no duration on failure, as upstream"
    );

    opts.fail = true;
    match clonerefs::run_with(&opts, &no_retries()) {
        Err(CloneRefsError::Failed { failed, records }) => {
            assert_eq!(failed, 1);
            assert_eq!(records.len(), 2);
        }
        other => panic!("want Failed, got {other:?}"),
    }
    // The records are written even when failing.
    let logged: Vec<Record> = serde_json::from_slice(&std::fs::read(&opts.log).unwrap()).unwrap();
    assert!(logged[1].failed);

    opts.git_refs.clear();
    assert!(matches!(
        clonerefs::run_with(&opts, &no_retries()),
        Err(CloneRefsError::Options(_))
    ));
}

#[test]
fn oauth_tokens_are_censored_in_records() {
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("token");
    std::fs::write(&token, "tok-abc123\n").unwrap();
    let mut r = Refs::new("org", "repo");
    r.base_ref = "main".into();
    // An https URL nobody serves: the fetch fails fast and its command shows the URL.
    r.clone_uri = "https://127.0.0.1:9/org/repo.git".into();
    let mut opts = options(tmp.path(), vec![r]);
    opts.oauth_token_file = token.display().to_string();
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains("tok-abc123"), "{text}");
    assert!(text.contains("https://CENSORED:x-oauth-basic@127.0.0.1:9/org/repo.git"));
}

/// Upstream's integration case "postsubmit": only a base SHA, no pulls; the checkout is exactly
/// that commit on the base branch, even when the branch moved on since.
#[test]
fn a_postsubmit_checks_out_exactly_its_base_sha() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, base, _) = remote(tmp.path());
    std::fs::write(remote.join("newer.txt"), "after the job was created\n").unwrap();
    git(&remote, &["add", "newer.txt"]);
    git(&remote, &["commit", "-q", "-m", "main moves on"]);
    let mut r = Refs::new("org", "repo");
    r.base_ref = "main".into();
    r.base_sha = base.clone();
    r.clone_uri = remote.display().to_string();
    let opts = options(tmp.path(), vec![r.clone()]);
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();
    let rec = &records[1];
    assert!(!rec.failed, "{rec:#?}");
    assert_eq!(rec.final_sha, base);
    let dir = PathBuf::from(path_for_refs(&opts.src_root, &r));
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), base);
    assert_eq!(git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert!(!dir.join("newer.txt").exists());
    assert!(!dir.join("pr.txt").exists());
    assert!(
        !rec.commands.iter().any(|c| c.command.contains("merge")),
        "no pulls, no merges: {:#?}",
        rec.commands
    );
}

/// Upstream's integration case "presubmit-multi-pr": three pulls, the first named only by its
/// ref; each is merged in order and every PR commit is an ancestor of the result.
#[test]
fn several_pulls_merge_in_order_whether_named_by_ref_or_sha() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, base, first) = remote(tmp.path());
    let mut shas = vec![first];
    for n in [2u64, 3] {
        git(&remote, &["checkout", "-q", "-b", "pr", &base]);
        let file = format!("{n}.txt");
        std::fs::write(remote.join(&file), format!("PR {n}\n")).unwrap();
        git(&remote, &["add", &file]);
        git(&remote, &["commit", "-q", "-m", &format!("PR {n}")]);
        let sha = git(&remote, &["rev-parse", "HEAD"]);
        git(
            &remote,
            &["update-ref", &format!("refs/pull/{n}/head"), &sha],
        );
        git(&remote, &["checkout", "-q", "main"]);
        git(&remote, &["branch", "-q", "-D", "pr"]);
        shas.push(sha);
    }
    let mut r = Refs::new("org", "repo");
    r.base_ref = "main".into();
    r.base_sha = base.clone();
    r.clone_uri = remote.display().to_string();
    let mut by_ref = Pull::new(1, "alice", "");
    by_ref.ref_ = "pull/1/head".into();
    r.pulls = vec![
        by_ref,
        Pull::new(2, "bob", shas[1].clone()),
        Pull::new(3, "carol", shas[2].clone()),
    ];
    let opts = options(tmp.path(), vec![r.clone()]);
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();
    let rec = &records[1];
    assert!(!rec.failed, "{rec:#?}");
    let dir = PathBuf::from(path_for_refs(&opts.src_root, &r));
    for (sha, file) in shas.iter().zip(["pr.txt", "2.txt", "3.txt"]) {
        assert!(dir.join(file).exists(), "{file}");
        let ancestor = Command::new("git")
            .args(["merge-base", "--is-ancestor", sha, "HEAD"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(ancestor.success(), "{sha} was not merged into HEAD");
    }
    // Three merges, in the pulls' order: the last one's second parent is PR 3.
    let merges = git(&dir, &["rev-list", "--merges", "--count", "HEAD"]);
    assert_eq!(merges, "3");
    assert_eq!(git(&dir, &["rev-parse", "HEAD^2"]), shas[2]);
    assert_eq!(git(&dir, &["rev-parse", "HEAD~2^2"]), shas[0]);
    assert_eq!(rec.final_sha, git(&dir, &["rev-parse", "HEAD"]));
}

fn spec_for(refs: Refs, gcs: &GcsConfiguration) -> JobSpec {
    JobSpec {
        type_: ProwJobType::Presubmit,
        job: "pull-repo-unit".into(),
        buildid: "42".into(),
        prowjobid: "abc".into(),
        refs: Some(refs),
        decoration_config: Some(prow_core::prowjob::DecorationConfig {
            gcs_configuration: Some(gcs.clone()),
            ..Default::default()
        }),
        ..JobSpec::default()
    }
}

#[tokio::test]
async fn initupload_writes_started_and_clone_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, base, pr) = remote(tmp.path());
    let r = refs(&remote, &base, &pr);
    let opts = options(tmp.path(), vec![r.clone()]);
    let records = clonerefs::run_with(&opts, &no_retries()).unwrap();

    let bucket = tmp.path().join("bucket");
    let gcs = GcsConfiguration {
        bucket: format!("file://{}", bucket.display()),
        path_strategy: "explicit".into(),
        ..GcsConfiguration::default()
    };
    let spec = spec_for(r, &gcs);
    let options = InitUploadOptions {
        gcs: GcsOptions::new(gcs),
        log: opts.log.clone(),
    };
    let dest = store_for(&options.gcs, &|_| None).unwrap();
    let read = initupload::run_with(&options, &spec, &dest, &Logger::quiet("initupload"))
        .await
        .unwrap();
    assert_eq!(read, records);

    let build = bucket.join("pr-logs/pull/org_repo/1/pull-repo-unit/42");
    let started: serde_json::Value =
        serde_json::from_slice(&std::fs::read(build.join("started.json")).unwrap()).unwrap();
    assert_eq!(started["repo-commit"], records[1].final_sha.as_str());
    assert_eq!(started["pull"], "1");
    assert_eq!(
        started["repos"]["org/repo"],
        format!("main:{base},1:{pr}").as_str()
    );
    assert_eq!(
        std::fs::read(build.join("clone-records.json")).unwrap(),
        std::fs::read(&opts.log).unwrap()
    );
    let clone_log = std::fs::read_to_string(build.join("clone-log.txt")).unwrap();
    assert!(clone_log.starts_with("Environment setup\n# Final SHA: \n"));
    assert!(clone_log.contains(&format!("# Cloning org/repo at main({base})")));
    assert!(!build.join("finished.json").exists());
    assert!(!build.join("build-log.txt").exists());
    assert_eq!(
        std::fs::read_to_string(bucket.join("pr-logs/directory/pull-repo-unit/latest-build.txt"))
            .unwrap(),
        "42"
    );
    assert_eq!(
        std::fs::read_to_string(bucket.join("pr-logs/directory/pull-repo-unit/42.txt")).unwrap(),
        format!(
            "file://{}/pr-logs/pull/org_repo/1/pull-repo-unit/42",
            bucket.display()
        )
    );
}

#[tokio::test]
async fn initupload_marks_a_failed_clone_as_a_failed_job() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = Refs::new("org", "repo");
    r.base_ref = "main".into();
    r.pulls.push(Pull::new(5, "a", "abc"));
    r.clone_uri = tmp.path().join("missing").display().to_string();
    let opts = options(tmp.path(), vec![r.clone()]);
    clonerefs::run_with(&opts, &no_retries()).unwrap();

    let out = tmp.path().join("out");
    let gcs = GcsConfiguration {
        bucket: "unused".into(),
        path_strategy: "explicit".into(),
        local_output_dir: out.display().to_string(),
        ..GcsConfiguration::default()
    };
    let spec = spec_for(r, &gcs);
    let options = InitUploadOptions {
        gcs: GcsOptions::new(gcs),
        log: opts.log.clone(),
    };
    let dest = store_for(&options.gcs, &|_| None).unwrap();
    let err = initupload::run_with(&options, &spec, &dest, &Logger::quiet("initupload"))
        .await
        .unwrap_err();
    assert!(matches!(err, InitUploadError::CloneFailed), "{err}");
    // Local mode: files rooted in the output dir, no latest-build or alias.
    let finished: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("finished.json")).unwrap()).unwrap();
    assert_eq!(finished["passed"], false);
    assert_eq!(finished["result"], "FAILURE");
    let build_log = std::fs::read_to_string(out.join("build-log.txt")).unwrap();
    assert!(build_log.contains("# FAILED"));
    assert!(build_log.contains("# Error: exit status 128"));
    assert!(out.join("started.json").exists());
    assert!(!out.join("pr-logs").exists());
}
