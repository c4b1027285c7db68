//! The bundled example config as a new user meets it: `prow up --tick` in a checkout, with no
//! network and no GitHub token. Its periodic `ci-prow-rs-check-config` clones the checkout's
//! committed `main` through its relative `clone_uri`, runs `prow check-config --strict` on the
//! clone as a host process, and ends `success` with its log and metadata uploaded in Prow's
//! layout. With podman and its image absent, the job fails at once and its build log names the
//! image. The config files are the repository's own `config/`, copied unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_kube::ProwJobs;
use serde_json::{Value, json};

const JOB: &str = "ci-prow-rs-check-config";

/// Copies a directory tree (files and directories only: the config has nothing else).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The user's checkout (the repository's config/ committed on `main`) in `dir`, and the run of
/// the example periodic under `prow up --tick` there: the finished job, its build directory in
/// the artifact store, and the checkout's commit.
async fn run_example(
    dir: &Path,
    pod_runtime: &str,
    extra_args: &[String],
) -> (ProwJob, PathBuf, String) {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    copy_tree(&bundled, &dir.join("config"));
    common::run("git", &["init", "-q", "-b", "main"], dir);
    common::run("git", &["add", "config"], dir);
    common::run("git", &["commit", "-q", "-m", "the example config"], dir);
    let commit = common::run("git", &["rev-parse", "HEAD"], dir);

    let mut args = vec!["--tick".to_owned()];
    args.extend_from_slice(extra_args);
    let (_up, endpoints) = common::start_up(
        dir,
        &common::UpOptions {
            pod_runtime: Some(pod_runtime),
            extra_args: &args,
            ..common::UpOptions::default()
        },
    );
    let api = endpoints["api"].as_str().expect("api url");
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");
    let job = common::finished(&jobs, JOB, Duration::from_secs(180)).await;
    // Prow's layout for a periodic in the example's bucket, kept in the state dir.
    let run = dir.join(format!(
        "state/artifacts/prow-rs-example-artifacts/logs/{JOB}/{}",
        job.status.build_id
    ));
    (job, run, commit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_example_periodic_passes_offline_on_the_checkout_itself() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let checkout = dir.path();
    let (job, run, commit) = run_example(checkout, "host", &[]).await;
    let log = std::fs::read_to_string(run.join("build-log.txt"));
    assert_eq!(
        job.status.state,
        ProwJobState::Success,
        "{}; build log: {log:?}",
        job.status.description
    );
    let log = read(&run.join("build-log.txt"));
    assert!(
        log.contains("config OK: 3 presubmits, 1 postsubmits, 2 periodics"),
        "{log}"
    );
    let finished: Value = serde_json::from_str(&read(&run.join("finished.json"))).expect("json");
    assert_eq!(finished["passed"], json!(true), "{finished}");
    assert_eq!(finished["result"], json!("SUCCESS"), "{finished}");

    // The clone came from the checkout itself, at its committed head.
    let records: Value =
        serde_json::from_str(&read(&run.join("clone-records.json"))).expect("records");
    let record = records
        .as_array()
        .and_then(|r| r.iter().find(|r| r["refs"]["repo"] == json!("prow-rs")))
        .expect("the prow-rs clone record");
    assert_eq!(record["final_sha"], json!(commit), "{record:#}");
    let checkout_path = checkout
        .canonicalize()
        .expect("canonical")
        .display()
        .to_string();
    assert!(
        record["commands"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| {
                c["command"]
                    .as_str()
                    .is_some_and(|c| c.contains("git fetch") && c.contains(&checkout_path))
            })),
        "{record:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman (apt-get install podman runc; .ci/install-deps installs it)"]
async fn with_podman_and_the_image_absent_the_example_fails_at_once_naming_it() {
    prow_kube::install_crypto_provider();
    // Present (else this fails saying how to install it); `prow up` runs it from PATH.
    let _podman = prow_testdata::counterpart(
        "podman",
        None,
        "apt-get install podman runc (.ci/install-deps does)",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Image storage of this test's own: the machine's images (a built prow-rs:dev) are not seen.
    let storage = dir.path().join("podman");
    let podman_args = format!(
        "--podman-args=--root {} --runroot {}",
        storage.join("root").display(),
        storage.join("run").display()
    );
    let checkout = dir.path().join("checkout");
    let (job, run, _) = run_example(&checkout, "podman", &[podman_args]).await;
    let log = read(&run.join("build-log.txt"));
    assert_eq!(job.status.state, ProwJobState::Failure, "{log}");
    assert!(
        log.contains(r#"ErrImageNeverPull: image "localhost/prow-rs:dev" is not present"#),
        "{log}"
    );
    let finished: Value = serde_json::from_str(&read(&run.join("finished.json"))).expect("json");
    assert_eq!(finished["passed"], json!(false), "{finished}");
    // Failed at once, not after the pod's deadline or the decoration timeout.
    let ran = job
        .status
        .completion_time
        .as_ref()
        .zip(job.status.start_time.as_ref())
        .map(|(end, start)| end.0.duration_since(start.0).as_secs_f64());
    assert!(ran.is_some_and(|s| s < 60.0), "ran {ran:?} s");
}
