//! Pods in containers: with podman, `prow up` runs a decorated job's test container inside its
//! image while Prow's pod utilities run on the host. The image is built here from a few host
//! binaries (podman cannot pull from public registries on this machine) and carries a marker
//! file the host does not have, so the job passes only if it really ran inside the image; the
//! source clonerefs checked out on the host is visible to it at Prow's path, and what it writes
//! to `$ARTIFACTS` is uploaded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_kube::ProwJobs;

const MARKER: &str = "/etc/prow-test-image";

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.com")
        .env("GIT_COMMITTER_NAME", "tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.com")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Copies `binary` and the shared libraries `ldd` names into `rootfs` at the same paths.
fn copy_with_libraries(binary: &str, rootfs: &Path) {
    let mut files = vec![PathBuf::from(binary)];
    let ldd = run("ldd", &[binary], Path::new("/"));
    for line in ldd.lines() {
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or `/lib64/ld-linux-x86-64.so.2 (0x...)`
        let path = line
            .split("=>")
            .last()
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|p| p.starts_with('/'));
        files.extend(path.map(PathBuf::from));
    }
    for file in files {
        let target = rootfs.join(file.strip_prefix("/").expect("absolute"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&file, &target).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

/// An image with `sh`, `cat` and a marker file, imported into podman as `tag`.
fn build_image(podman: &Path, tag: &str, dir: &Path) {
    let rootfs = dir.join("rootfs");
    for binary in ["/bin/sh", "/bin/cat"] {
        copy_with_libraries(binary, &rootfs);
    }
    std::fs::create_dir_all(rootfs.join("etc")).expect("etc");
    std::fs::create_dir_all(rootfs.join("tmp")).expect("tmp");
    common::write(&rootfs.join(MARKER.trim_start_matches('/')), "inside\n");
    let tar = dir.join("rootfs.tar");
    run(
        "tar",
        &[
            "-C",
            &rootfs.display().to_string(),
            "-cf",
            &tar.display().to_string(),
            ".",
        ],
        dir,
    );
    run(
        &podman.display().to_string(),
        &["import", "--quiet", &tar.display().to_string(), tag],
        dir,
    );
}

/// The podman arguments this machine needs to start a container: none, or (in sandboxes whose
/// crun refuses hybrid cgroups or raising RLIMIT_NOFILE) runc and limits within the current ones.
fn podman_arguments(podman: &Path, tag: &str) -> (String, String) {
    let nofile = run("sh", &["-c", "ulimit -Hn"], Path::new("/"));
    let nofile = if nofile == "unlimited" {
        "1048576".to_owned()
    } else {
        nofile
    };
    let limits = format!("--ulimit nofile={nofile}:{nofile} --ulimit nproc=4096:4096");
    let candidates = [
        (String::new(), String::new()),
        (String::new(), limits.clone()),
        ("--runtime runc".to_owned(), limits),
    ];
    let mut errors = Vec::new();
    for (global, run_args) in candidates {
        let mut command = Command::new(podman);
        command
            .args(global.split_whitespace())
            .arg("run")
            .arg("--rm");
        command.args(run_args.split_whitespace());
        let out = command
            .args([tag, "/bin/cat", MARKER])
            .output()
            .expect("podman run");
        if out.status.success() {
            return (global, run_args);
        }
        errors.push(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    panic!("podman cannot start a container here: {errors:?}");
}

async fn finished(jobs: &ProwJobs, job: &str, timeout: Duration) -> ProwJob {
    let deadline = Instant::now() + timeout;
    loop {
        let list = jobs.list(None).await.unwrap_or_default();
        if let Some(pj) = list
            .into_iter()
            .find(|pj| pj.spec.job == job && pj.is_complete())
        {
            return pj;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {job}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman (apt-get install podman runc; .ci/install-deps installs it)"]
async fn a_decorated_job_runs_inside_its_image_with_the_source_and_artifacts() {
    prow_kube::install_crypto_provider();
    let podman = prow_testdata::counterpart(
        "podman",
        None,
        "apt-get install podman runc (.ci/install-deps does)",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = format!("localhost/prow-test-job:{}", std::process::id());
    build_image(&podman, &tag, dir.path());
    let (global, run_args) = podman_arguments(&podman, &tag);

    // The repository the periodic checks out, through clonerefs on the host.
    let remote = dir.path().join("remote");
    std::fs::create_dir_all(&remote).expect("mkdir");
    run("git", &["init", "-q", "-b", "main"], &remote);
    common::write(&remote.join("README"), "checked out\n");
    run("git", &["add", "."], &remote);
    run("git", &["commit", "-q", "-m", "base"], &remote);

    let config = dir.path().join("config");
    common::write(
        &config.join("config.yaml"),
        r#"prowjob_namespace: prow
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
"#,
    );
    common::write(
        &config.join("jobs/periodic.yaml"),
        &format!(
            r#"periodics:
- name: ci-in-image
  interval: 24h
  decorate: true
  extra_refs:
  - org: example
    repo: local
    base_ref: main
    clone_uri: {remote}
  spec:
    containers:
    - image: {tag}
      imagePullPolicy: Never
      command: [/bin/sh, -c]
      args:
      - /bin/cat {MARKER} && /bin/cat README && echo ok > "$ARTIFACTS/result.txt"
"#,
            remote = remote.display()
        ),
    );
    common::write(&config.join("plugins.yaml"), "plugins: {}\n");

    let mut extra = vec!["--tick".to_owned()];
    if !global.is_empty() {
        extra.push(format!("--podman-args={global}"));
    }
    if !run_args.is_empty() {
        extra.push(format!("--podman-run-args={run_args}"));
    }
    let (_up, endpoints) = common::start_up(
        dir.path(),
        &common::UpOptions {
            pod_runtime: Some("podman"),
            extra_args: &extra,
            ..common::UpOptions::default()
        },
    );
    let api = endpoints["api"].as_str().expect("api url");
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    let job = finished(&jobs, "ci-in-image", Duration::from_secs(180)).await;
    let run_dir = dir.path().join(format!(
        "state/artifacts/local-ci/logs/ci-in-image/{}",
        job.status.build_id
    ));
    let log = std::fs::read_to_string(run_dir.join("build-log.txt")).unwrap_or_default();
    assert_eq!(
        job.status.state,
        ProwJobState::Success,
        "{}; build log: {log}",
        job.status.description
    );
    assert!(
        log.contains("inside") && log.contains("checked out"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(run_dir.join("artifacts/result.txt")).expect("artifact"),
        "ok\n"
    );
    // The host has no marker: the same job as host processes fails, so the pass above is the
    // image's doing.
    assert!(!Path::new(MARKER).exists());
    let _ = Command::new(&podman)
        .args(["rmi", "--force", &tag])
        .output();
}
