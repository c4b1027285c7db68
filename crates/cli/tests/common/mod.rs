//! What the black-box tests of `prow up` share: starting the real binary on a temp directory,
//! reading the endpoints line it prints, and signing webhooks as GitHub does.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hmac::{KeyInit, Mac};
use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A running `prow up`, killed when dropped (SIGKILL: also what the durability test needs).
pub(crate) struct Up(pub(crate) Child);

impl Up {
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// `X-Hub-Signature-256` as GitHub computes it, independently of hook's own code.
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How to start `prow up` beyond its config.
#[derive(Default)]
pub(crate) struct UpOptions<'a> {
    /// GitHub's API (a wiremock server); without it GitHub is simulated.
    pub(crate) github: Option<&'a str>,
    /// The webhook HMAC secret (written to a file); without it `prow up` generates one.
    pub(crate) hmac_secret: Option<&'a [u8]>,
    /// `RUST_LOG` for the child.
    pub(crate) log: Option<&'a str>,
    /// Prow's S3 credentials file: `s3://` buckets go to that server.
    pub(crate) s3_credentials_file: Option<&'a Path>,
    /// `--pod-runtime`; default `host`, so tests do not depend on the images a machine has.
    pub(crate) pod_runtime: Option<&'a str>,
    /// More `prow up` arguments.
    pub(crate) extra_args: &'a [String],
}

/// Starts `prow up` in `dir` (not the checkout: nothing but the user's config is read from
/// disk) with `dir/config/{config.yaml,jobs,plugins.yaml}`, state in `dir/state`, every port
/// chosen by the OS; returns it with the endpoints JSON it prints first.
pub(crate) fn start_up(dir: &Path, options: &UpOptions<'_>) -> (Up, Value) {
    let config = dir.join("config");
    // PROW_TEST_BIN: a copy of the binary, so a long run (the full chaos run) is not switched to
    // another build halfway when the shared target directory is rebuilt.
    let bin = std::env::var_os("PROW_TEST_BIN")
        .unwrap_or_else(|| std::ffi::OsString::from(env!("CARGO_BIN_EXE_prow")));
    let mut command = Command::new(bin);
    command
        .args([
            "up",
            "--api-addr",
            "127.0.0.1:0",
            "--hook-addr",
            "127.0.0.1:0",
        ])
        .args(["--deck-addr", "127.0.0.1:0"])
        .arg("--config-path")
        .arg(config.join("config.yaml"))
        .arg("--job-config-path")
        .arg(config.join("jobs"))
        .arg("--plugin-config")
        .arg(config.join("plugins.yaml"))
        .arg("--state-dir")
        .arg(dir.join("state"));
    if let Some(secret) = options.hmac_secret {
        std::fs::write(dir.join("hmac"), secret).expect("hmac secret");
        command.arg("--hmac-secret-file").arg(dir.join("hmac"));
    }
    if let Some(github) = options.github {
        write(&dir.join("token"), "ghp_test_token\n");
        command
            .arg("--github-endpoint")
            .arg(github)
            .arg("--github-token-path")
            .arg(dir.join("token"));
    }
    command
        .arg("--pod-runtime")
        .arg(options.pod_runtime.unwrap_or("host"));
    command.args(options.extra_args);
    if let Some(creds) = options.s3_credentials_file {
        command.arg("--s3-credentials-file").arg(creds);
    }
    if let Some(log) = options.log {
        command.env("RUST_LOG", log);
    }
    let mut child = command
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start prow up");
    let stdout = child.stdout.take().expect("stdout");
    let up = Up(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read endpoints");
    let endpoints: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("endpoints line {line:?}: {e}"));
    (up, endpoints)
}

/// A file only images built by [`build_image`] have.
pub(crate) const IMAGE_MARKER: &str = "/etc/prow-test-image";

/// Runs a program (git with a fixed identity) and returns its trimmed stdout; panics on failure.
pub(crate) fn run(program: &str, args: &[&str], dir: &Path) -> String {
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

/// An image with `binaries` (and their shared libraries) and a marker file at [`IMAGE_IMAGE_MARKER`]
/// that the host does not have, imported into podman as `tag`: podman cannot pull here.
pub(crate) fn build_image(podman: &Path, tag: &str, binaries: &[&str], dir: &Path) {
    let rootfs = dir.join("rootfs");
    for binary in binaries {
        copy_with_libraries(binary, &rootfs);
    }
    std::fs::create_dir_all(rootfs.join("etc")).expect("etc");
    std::fs::create_dir_all(rootfs.join("tmp")).expect("tmp");
    write(
        &rootfs.join(IMAGE_MARKER.trim_start_matches('/')),
        "inside\n",
    );
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

/// The podman arguments this machine needs to start a container of `tag` (which has `/bin/sh`): none, or (in sandboxes whose
/// crun refuses hybrid cgroups or raising RLIMIT_NOFILE) runc and limits within the current ones.
pub(crate) fn podman_arguments(podman: &Path, tag: &str) -> (String, String) {
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
            .args([tag, "/bin/sh", "-c", ":"])
            .output()
            .expect("podman run");
        if out.status.success() {
            return (global, run_args);
        }
        errors.push(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    panic!("podman cannot start a container here: {errors:?}");
}

/// `prow up` in `dir` with one always_run presubmit of Codertocat/Hello-World (the repository
/// of the vendored webhooks) whose pod runs `command` (a YAML flow list), trigger enabled there,
/// GitHub at `github_url` and `hmac_secret` for webhooks.
pub(crate) fn start_up_hello(
    dir: &Path,
    github_url: &str,
    hmac_secret: &[u8],
    command: &str,
) -> (Up, Value) {
    let config = dir.join("config");
    write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    write(
        &config.join("jobs/hello.yaml"),
        &format!(
            "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-unit\n    always_run: true\n    spec:\n      containers:\n      - image: alpine\n        command: {command}\n"
        ),
    );
    write(
        &config.join("plugins.yaml"),
        "plugins:\n  Codertocat/Hello-World: [trigger]\n",
    );
    start_up(
        dir,
        &UpOptions {
            github: Some(github_url),
            hmac_secret: Some(hmac_secret),
            ..UpOptions::default()
        },
    )
}

/// The first complete ProwJob of `job`, polling the API server until `timeout`.
pub(crate) async fn finished(
    jobs: &prow_kube::ProwJobs,
    job: &str,
    timeout: std::time::Duration,
) -> prow_core::prowjob::ProwJob {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let list = jobs.list(None).await.unwrap_or_default();
        if let Some(pj) = list
            .into_iter()
            .find(|pj| pj.spec.job == job && pj.is_complete())
        {
            return pj;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The base branch head the fake GitHub of [`hello_github`] reports.
pub(crate) const HELLO_BASE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const HELLO_REPO: &str = "/repos/Codertocat/Hello-World";

/// Enough of GitHub for trigger (trust, base ref, PR files) and crier (statuses, comments) on
/// Codertocat/Hello-World, the repository of the vendored webhooks; every request is recorded.
pub(crate) async fn hello_github() -> MockServer {
    let gh = MockServer::start().await;
    let json = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(json(serde_json::json!({"login": "prow-bot", "id": 1})))
        .mount(&gh)
        .await;
    for (p, status) in [
        (r"^/orgs/[^/]+/members/[^/]+$".to_string(), 204),
        (format!("^{HELLO_REPO}/collaborators/[^/]+$"), 204),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(p))
            .respond_with(ResponseTemplate::new(status))
            .mount(&gh)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(format!("^{HELLO_REPO}/git/refs?/heads/master$")))
        .respond_with(json(serde_json::json!({"ref": "refs/heads/master", "object": {"sha": HELLO_BASE_SHA, "type": "commit"}})))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{HELLO_REPO}/pulls/[0-9]+/files$")))
        .respond_with(json(
            serde_json::json!([{"filename": "README.md", "status": "modified"}]),
        ))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "^{HELLO_REPO}/issues/[0-9]+/(comments|labels)$"
        )))
        .respond_with(json(serde_json::json!([])))
        .mount(&gh)
        .await;
    // crier comments on a PR whose job failed (e.g. its pod died with the first `prow up`), and
    // decodes the comment GitHub answers with.
    Mock::given(method("POST"))
        .and(path_regex(format!("^{HELLO_REPO}/issues/[0-9]+/comments$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "id": 1, "body": "", "user": {"login": "prow-bot", "id": 1},
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"
        })))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!(
            "^{HELLO_REPO}/statuses/[0-9a-f]{{40}}$"
        )))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"id": 1, "state": "pending"})),
        )
        .mount(&gh)
        .await;
    gh
}

/// A real pull_request payload renumbered: PR `n` with its own head SHA (`n` in hex).
pub(crate) fn renumbered_webhook(template: &Value, n: u64) -> Vec<u8> {
    let mut payload = template.clone();
    payload["number"] = n.into();
    payload["pull_request"]["number"] = n.into();
    payload["pull_request"]["head"]["sha"] = format!("{n:040x}").into();
    serde_json::to_vec(&payload).expect("payload")
}

/// What `probe` finds, polling every 200 ms until it finds something; fails naming `what` once
/// `timeout` has passed (no test waits a fixed time for an asynchronous effect).
pub(crate) async fn wait_for<T>(
    what: &str,
    timeout: std::time::Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
