//! Pods in containers: with podman, `prow up` runs a decorated job's test container inside its
//! image while Prow's pod utilities run on the host. The image is built here from a few host
//! binaries (podman cannot pull from public registries on this machine) and carries a marker
//! file the host does not have, so the job passes only if it really ran inside the image; the
//! source clonerefs checked out on the host is visible to it at Prow's path, and what it writes
//! to `$ARTIFACTS` is uploaded.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use prow_core::prowjob::ProwJobState;
use prow_kube::ProwJobs;

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
    common::build_image(&podman, &tag, &["/bin/sh", "/bin/cat"], dir.path());
    let (global, run_args) = common::podman_arguments(&podman, &tag);

    // The repository the periodic checks out, through clonerefs on the host.
    let remote = dir.path().join("remote");
    std::fs::create_dir_all(&remote).expect("mkdir");
    common::run("git", &["init", "-q", "-b", "main"], &remote);
    common::write(&remote.join("README"), "checked out\n");
    common::run("git", &["add", "."], &remote);
    common::run("git", &["commit", "-q", "-m", "base"], &remote);

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
      - /bin/cat {marker} && /bin/cat README && echo ok > "$ARTIFACTS/result.txt"
"#,
            remote = remote.display(),
            marker = common::IMAGE_MARKER,
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
    let job = common::finished(&jobs, "ci-in-image", Duration::from_secs(180)).await;
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
    assert!(!Path::new(common::IMAGE_MARKER).exists());
    let _ = Command::new(&podman)
        .args(["rmi", "--force", &tag])
        .output();
}
