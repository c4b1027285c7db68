//! Black-box tests with the real `kubectl` binary against the server (skipped, loudly, if kubectl is absent).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Running, prowjobs};
use kube::api::PostParams;
use prow_local::{LogTarget, MemoryLogs};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// kubectl with its own HOME (fresh discovery cache) and a kubeconfig pointing at the server.
struct Kubectl {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    fn new(bin: PathBuf, url: &str) -> Kubectl {
        let home = tempfile::tempdir().unwrap();
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster: {{server: \"{url}\"}}\n\
             contexts:\n- name: local\n  context: {{cluster: local, user: local, namespace: default}}\n\
             current-context: local\nusers:\n- name: local\n  user: {{}}\n"
        );
        std::fs::write(home.path().join("kubeconfig"), config).unwrap();
        Kubectl { bin, home }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.home.path().join("kubeconfig"))
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.command(args).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl hung")
            .unwrap()
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if it exits non-zero.
    async fn ok(&self, args: &[&str]) -> String {
        self.ok_with_input(args, "").await
    }

    async fn ok_with_input(&self, args: &[&str], input: &str) -> String {
        let out = self.run_with_input(args, input).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs kubectl expecting failure; returns stderr.
    async fn fails(&self, args: &[&str], input: &str) -> String {
        let out = self.run_with_input(args, input).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded"
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn home(&self) -> &Path {
        self.home.path()
    }
}

const PROWJOB_YAML: &str = "\
apiVersion: prow.k8s.io/v1
kind: ProwJob
metadata:
  name: NAME
  labels:
    tier: TIER
spec:
  type: periodic
  job: ci-test
  agent: kubernetes
status:
  state: triggered
";

fn prowjob_yaml(name: &str, tier: &str) -> String {
    PROWJOB_YAML.replace("NAME", name).replace("TIER", tier)
}

async fn setup() -> (Running, Kubectl, MemoryLogs) {
    let bin = prow_testdata::counterpart(
        "kubectl",
        None,
        "install the apt package `kubectl` (.ci/install-deps does)",
    );
    let logs = MemoryLogs::new();
    let srv = Running::start_with_logs(Arc::new(logs.clone())).await;
    let kubectl = Kubectl::new(bin, &srv.url);
    (srv, kubectl, logs)
}

#[tokio::test]
#[ignore = "needs kubectl (.ci/install-deps installs it; .ci/test runs this)"]
async fn kubectl_manages_prowjobs() {
    let (srv, kubectl, _logs) = setup().await;
    let pj1 = kubectl.file("pj1.yaml", &prowjob_yaml("pj1", "fast"));
    let out = kubectl.ok(&["apply", "-f", &pj1]).await;
    assert_eq!(out.trim(), "prowjob.prow.k8s.io/pj1 created");
    assert_eq!(
        kubectl.ok(&["apply", "-f", &pj1]).await.trim(),
        "prowjob.prow.k8s.io/pj1 unchanged"
    );
    let pj2 = kubectl.file("pj2.yaml", &prowjob_yaml("pj2", "slow"));
    kubectl.ok(&["create", "-f", &pj2]).await;

    let json: serde_json::Value =
        serde_json::from_str(&kubectl.ok(&["get", "prowjob", "pj1", "-o", "json"]).await).unwrap();
    assert_eq!(json["spec"]["job"], "ci-test");
    assert_eq!(json["metadata"]["namespace"], "default");
    assert!(
        json["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );

    let table = kubectl.ok(&["get", "pj"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "JOB", "TYPE", "STATE", "AGE"]);
    assert_eq!(table.lines().count(), 3, "{table}");

    let selected = kubectl
        .ok(&["get", "pj", "-l", "tier=fast", "-o", "name"])
        .await;
    assert_eq!(selected.trim(), "prowjob.prow.k8s.io/pj1");
    let set_based = kubectl
        .ok(&["get", "pj", "-l", "tier in (slow,medium)", "-o", "name"])
        .await;
    assert_eq!(set_based.trim(), "prowjob.prow.k8s.io/pj2");

    let patched = kubectl
        .ok(&[
            "patch",
            "pj",
            "pj1",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"job":"renamed"}}"#,
        ])
        .await;
    assert_eq!(patched.trim(), "prowjob.prow.k8s.io/pj1 patched");
    let status = kubectl
        .ok(&[
            "patch",
            "pj",
            "pj1",
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"state":"success"}}"#,
        ])
        .await;
    assert_eq!(status.trim(), "prowjob.prow.k8s.io/pj1 patched");
    let stored = prowjobs(&srv.client(), "default").get("pj1").await.unwrap();
    assert_eq!(stored.data["spec"]["job"], "renamed");
    assert_eq!(stored.data["status"]["state"], "success");
    let state = kubectl
        .ok(&[
            "get",
            "pj",
            "--field-selector",
            "status.state=success",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(state.trim(), "prowjob.prow.k8s.io/pj1");

    let invalid = prowjob_yaml("bad", "x").replace("periodic", "bogus");
    let err = kubectl.fails(&["create", "-f", "-"], &invalid).await;
    assert!(
        err.contains("spec.type: Unsupported value: \"bogus\""),
        "{err}"
    );
    let unknown = prowjob_yaml("unknown", "x").replace("  agent:", "  no_such_field: 1\n  agent:");
    let err = kubectl.fails(&["apply", "-f", "-"], &unknown).await;
    assert!(
        err.contains("unknown field \"spec.no_such_field\""),
        "{err}"
    );

    let deleted = kubectl.ok(&["delete", "pj", "pj1"]).await;
    assert_eq!(deleted.trim(), "prowjob.prow.k8s.io \"pj1\" deleted");
    let err = kubectl.fails(&["get", "pj", "pj1"], "").await;
    assert!(
        err.contains("(NotFound): prowjobs.prow.k8s.io \"pj1\" not found"),
        "{err}"
    );
    assert!(
        kubectl.home().join(".kube/cache/discovery").exists(),
        "kubectl used our discovery"
    );
}

#[tokio::test]
#[ignore = "needs kubectl (.ci/install-deps installs it; .ci/test runs this)"]
async fn kubectl_watch_prints_an_event_and_ends_with_the_server_stream() {
    let (srv, kubectl, _logs) = setup().await;
    let pj1 = kubectl.file("pj1.yaml", &prowjob_yaml("pj1", "fast"));
    kubectl.ok(&["apply", "-f", &pj1]).await;

    // `--request-timeout` becomes the watch's `timeout`, which the server honours by ending the stream.
    let mut child = kubectl
        .command(&["get", "pj", "-w", "--request-timeout=15s"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("kubectl printed nothing")
            .unwrap()
            .expect("kubectl output ended early")
    };
    assert!(next_line().await.starts_with("NAME"));
    assert!(next_line().await.starts_with("pj1"));

    let created = common::prowjob("watched").dynamic();
    prowjobs(&srv.client(), "default")
        .create(&PostParams::default(), &created)
        .await
        .unwrap();
    let event = next_line().await;
    assert!(event.starts_with("watched"), "{event}");
    assert!(event.contains("triggered"), "{event}");

    let status = tokio::time::timeout(Duration::from_secs(90), child.wait())
        .await
        .expect("kubectl get -w did not end")
        .unwrap();
    assert!(status.success(), "kubectl get -w exited with {status}");
}

#[tokio::test]
#[ignore = "needs kubectl (.ci/install-deps installs it; .ci/test runs this)"]
async fn kubectl_reads_pod_logs() {
    let (_srv, kubectl, logs) = setup().await;
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\nspec:\n  containers:\n  - name: test\n    image: alpine\n";
    assert_eq!(
        kubectl
            .ok_with_input(&["apply", "-f", "-"], pod)
            .await
            .trim(),
        "pod/p1 created"
    );
    let pods = kubectl.ok(&["get", "pods"]).await;
    let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["p1", "0/1", "Pending", "0"]);

    let target = LogTarget {
        namespace: "default".into(),
        pod: "p1".into(),
        container: "test".into(),
    };
    for line in ["first", "second", "third"] {
        logs.append(&target, line);
    }
    assert_eq!(kubectl.ok(&["logs", "p1"]).await, "first\nsecond\nthird\n");
    assert_eq!(
        kubectl.ok(&["logs", "p1", "--tail=2", "-c", "test"]).await,
        "second\nthird\n"
    );
    logs.finish(&target);
    let stamped = kubectl.ok(&["logs", "-f", "p1", "--timestamps"]).await;
    assert_eq!(stamped.lines().count(), 3);
    assert!(
        stamped
            .lines()
            .all(|l| l.split_once(' ').is_some_and(|(t, _)| t.ends_with('Z'))),
        "{stamped}"
    );

    let err = kubectl.fails(&["logs", "nope"], "").await;
    assert!(err.contains("pods \"nope\" not found"), "{err}");
}

/// The deployment carries Prow's ProwJob CRD (~375 KB as JSON). Client-side `kubectl apply`
/// copies it into the last-applied annotation, over the 256 KiB a real API server allows, so the
/// docs use server-side apply; this shows the server refuses the one and takes the other.
#[tokio::test]
#[ignore = "needs kubectl (.ci/install-deps installs it; .ci/test runs this)"]
async fn the_prowjob_crd_needs_server_side_apply() {
    let (_srv, kubectl, _logs) = setup().await;
    let crd = prow_testdata::testdata()
        .join("prow/crd/prowjob_customresourcedefinition.yaml")
        .to_str()
        .unwrap()
        .to_string();
    let stderr = kubectl.fails(&["apply", "-f", &crd], "").await;
    assert!(
        stderr.contains("metadata.annotations: Too long: must have at most 262144 bytes"),
        "{stderr}"
    );
    assert!(
        kubectl
            .run_with_input(&["get", "crd", "prowjobs.prow.k8s.io"], "")
            .await
            .status
            .code()
            != Some(0),
        "the refused apply stored nothing"
    );

    let out = kubectl.ok(&["apply", "--server-side", "-f", &crd]).await;
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/prowjobs.prow.k8s.io serverside-applied"
    );
    let stored: serde_json::Value = serde_json::from_str(
        &kubectl
            .ok(&["get", "crd", "prowjobs.prow.k8s.io", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(stored["spec"]["names"]["kind"], "ProwJob");
    assert!(
        stored["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none()
    );
    // Applying again is a no-op update, not a create.
    let out = kubectl.ok(&["apply", "--server-side", "-f", &crd]).await;
    assert!(out.contains("serverside-applied"), "{out}");
}
