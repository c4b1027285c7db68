//! `prow try` as a user runs it in a checkout: the change (committed and uncommitted) against
//! the base selects exactly the in-repo presubmits whose `run_if_changed` matches; they run as
//! decorated jobs through `prow up`'s runtime with the checkout as the cloned source, their log
//! is streamed with a `[job] ` prefix, and the summary and exit code follow the results.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.com")
        .env("GIT_COMMITTER_NAME", "tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const CONFIG: &str = r#"prowjob_namespace: prow
pod_namespace: test-pods
plank:
  default_decoration_configs:
    "*":
      timeout: 5m
      grace_period: 10s
      utility_images:
        clonerefs: us-docker.pkg.dev/k8s-infra-prow/images/clonerefs:v20260821-a61940897
        initupload: us-docker.pkg.dev/k8s-infra-prow/images/initupload:v20260821-a61940897
        entrypoint: us-docker.pkg.dev/k8s-infra-prow/images/entrypoint:v20260821-a61940897
        sidecar: us-docker.pkg.dev/k8s-infra-prow/images/sidecar:v20260821-a61940897
      gcs_configuration:
        bucket: local-ci
        path_strategy: explicit
      gcs_credentials_secret: gcs-credentials
"#;

/// Each job checks it runs on the working tree's content, the uncommitted file included.
const PROW_YAML: &str = r#"presubmits:
- name: try-src
  run_if_changed: '^src/'
  decorate: true
  spec:
    containers:
    - image: alpine
      command: [sh, -c]
      args: ["test -f src/new.txt && echo hi from $(cat src/new.txt)"]
- name: try-docs
  run_if_changed: '^docs/'
  decorate: true
  spec:
    containers:
    - image: alpine
      command: [sh, -c, "echo docs"]
- name: try-fail
  decorate: true
  spec:
    containers:
    - image: alpine
      command: [sh, -c, "echo failing; exit 3"]
"#;

fn prow_try(checkout: &Path, config: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_prow"))
        .current_dir(checkout)
        .arg("try")
        .args(["--base", "main", "--repo", "org/repo", "--timeout", "240"])
        .arg("--config-path")
        .arg(config)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
#[ignore = "needs git (installed by .ci/install-deps); runs decorated jobs as host processes"]
fn prow_try_runs_exactly_the_jobs_the_change_selects() {
    prow_testdata::counterpart("git", None, "apt-get install git");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let checkout = dir.path().join("checkout");
    std::fs::create_dir_all(checkout.join("src")).unwrap();
    git(&checkout, &["init", "-q", "-b", "main"]);
    std::fs::write(checkout.join(".prow.yaml"), PROW_YAML).unwrap();
    std::fs::write(checkout.join("src/lib.txt"), "base\n").unwrap();
    git(&checkout, &["add", "."]);
    git(&checkout, &["commit", "-q", "-m", "base"]);
    git(&checkout, &["checkout", "-q", "-b", "feature"]);
    // Uncommitted and untracked: still part of the change, and of what the job sees.
    std::fs::write(checkout.join("src/new.txt"), "the working tree\n").unwrap();

    let (ok, text) = prow_try(&checkout, &config, &["--dry-run"]);
    assert!(ok, "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
            .to_owned()
    };
    assert!(line("try-src").contains(" yes "), "{text}");
    assert!(
        line("try-docs").contains("run_if_changed \"^docs/\" matches no changed file"),
        "{text}"
    );
    assert!(line("try-fail").contains("manual job"), "{text}");

    let (ok, text) = prow_try(&checkout, &config, &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("[try-src] hi from the working tree"),
        "{text}"
    );
    assert!(!text.contains("[try-docs]"), "{text}");
    let summary = text.lines().find(|l| l.starts_with("try-src ")).unwrap();
    assert!(summary.contains("success"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("try-docs ")), "{text}");
    assert_eq!(
        git(&checkout, &["status", "--porcelain"]),
        "?? src/new.txt",
        "the checkout is left as it was"
    );
    assert!(git(&checkout, &["for-each-ref", "refs/prow-try"]).is_empty());

    // A required job that fails makes prow try fail.
    let (ok, text) = prow_try(&checkout, &config, &["--job", "try-fail"]);
    assert!(!ok, "{text}");
    assert!(text.contains("[try-fail] failing"), "{text}");
    let summary = text.lines().find(|l| l.starts_with("try-fail ")).unwrap();
    assert!(summary.contains("failure"), "{text}");
}
