//! Local kubelet: runs Pending pods, feeds their output to `pods/log` and reports pod status.
//!
//! With a [`ContainerEngine`] (podman), user containers run inside their images and Prow's pod
//! utilities on the host (see [`crate::container`]). Without one, images are not used: each
//! container's `command` + `args` run directly on this machine (in their own process group,
//! with the container's `env` and `workingDir`). Init containers run in
//! order, then all containers together; with `restartPolicy: Never` semantics the pod succeeds
//! when every container exits 0. Deleting a pod kills its processes.
//!
//! Volumes become directories: an `emptyDir` (or any other non-hostPath volume) is
//! `<pod dir>/volumes/<name>`, a `hostPath` is its path. A container sees them where it mounts
//! them in the only way a host process can: environment values and `workingDir` that start with a
//! mount path are rewritten to the directory (so Prow's `ARTIFACTS=/logs/artifacts` lands in the
//! pod's `logs` volume). When a pod's containers have ended, an optional [`PodFinished`] hook sees
//! the pod, its directory and its logs before the final status is written; `prow up` uses it to
//! upload build logs and artifacts, as Prow's sidecar does in a cluster.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{broadcast, watch};

use crate::container::{
    ContainerEngine, ENTRYPOINT_OPTIONS_ENV, PullPolicy, RunSpec, container_name, entrypoint_args,
    is_decorated, mark_not_started, pull_policy, run_argv, wrap_entrypoint_options,
};
use crate::error::ApiError;
use crate::events::EventType;
use crate::host::string_list;
pub use crate::host::{host_path, host_value, pod_utility, program};
use crate::logs::{LogTarget, MemoryLogs};
use crate::object::timestamp;
use crate::patch::PatchKind;
use crate::resources::{EVENTS, PODS};
use crate::server::{ApiServer, Filter, WriteOptions};

/// Called when a pod's containers have ended, before its final status is written.
pub trait PodFinished: Send + Sync {
    /// `pod` is the pod as the kubelet ran it, `pod_dir` its directory (volumes under
    /// `volumes/`), `log` the combined output of its containers.
    fn finished<'a>(
        &'a self,
        pod: &'a Value,
        pod_dir: &'a std::path::Path,
        log: String,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// Settings for [`Kubelet`].
#[derive(Clone)]
pub struct KubeletConfig {
    /// Pods with an empty `spec.nodeName` or this name run here.
    pub node_name: String,
    /// Parent of each pod's default working directory (`<work_dir>/<namespace>/<pod>`).
    pub work_dir: PathBuf,
    /// How long a deleted pod's processes get after SIGTERM before SIGKILL.
    pub grace_period: Duration,
    /// Sees every pod whose containers ended (not deleted ones).
    pub on_finished: Option<Arc<dyn PodFinished>>,
    /// The binary that runs Prow's pod utilities (`<binary> clonerefs|initupload|entrypoint|
    /// sidecar`) for containers whose image is a utility's and that name no command: decorated
    /// pods. `prow up` passes itself.
    pub utilities: Option<PathBuf>,
    /// Extra environment for pod-utility containers only (e.g. where the local artifact store is).
    pub utility_env: Vec<(String, String)>,
    /// Run user containers inside their images with this engine (see [`crate::container`]);
    /// `None`: every container is a host process.
    pub container_engine: Option<ContainerEngine>,
    /// Directories put before the inherited `PATH` of user containers that run as host
    /// processes (unless the container sets `PATH`): without an image, this is where a job's
    /// tools come from. `prow up` puts `prow` itself there.
    pub host_path: Vec<PathBuf>,
}

impl std::fmt::Debug for KubeletConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletConfig")
            .field("node_name", &self.node_name)
            .field("work_dir", &self.work_dir)
            .field("grace_period", &self.grace_period)
            .field("on_finished", &self.on_finished.is_some())
            .field("utilities", &self.utilities)
            .field("utility_env", &self.utility_env)
            .field("container_engine", &self.container_engine)
            .field("host_path", &self.host_path)
            .finish()
    }
}

impl KubeletConfig {
    pub fn new(work_dir: PathBuf) -> KubeletConfig {
        KubeletConfig {
            node_name: "prow-local".into(),
            work_dir,
            grace_period: Duration::from_secs(5),
            on_finished: None,
            utilities: None,
            utility_env: Vec::new(),
            container_engine: None,
            host_path: Vec::new(),
        }
    }
}

/// How one container runs.
enum RunMode<'a> {
    /// A host process (no engine, or one of Prow's pod utilities).
    Host,
    /// `run` (`podman run ...`) is the process.
    InImage {
        engine: &'a ContainerEngine,
        name: String,
        run: Vec<String>,
    },
    /// A decorated test container: Prow's wrapper runs on the host and wraps `run`.
    WrappedInImage {
        engine: &'a ContainerEngine,
        name: String,
        run: Vec<String>,
    },
}

/// The engine's argv for a user container: its own command and args, or for a decorated one
/// the command Prow's wrapper would have run (from `ENTRYPOINT_OPTIONS`).
fn in_image<'a>(
    engine: &'a ContainerEngine,
    container: &Value,
    container_env: &[(String, String)],
    mounts: &[(String, PathBuf)],
    target: &LogTarget,
) -> Result<RunMode<'a>, String> {
    let name = container_name(&target.namespace, &target.pod, &target.container);
    let env: Vec<(String, String)> = container_env
        .iter()
        .filter(|(key, _)| key != ENTRYPOINT_OPTIONS_ENV)
        .cloned()
        .collect();
    let decorated = is_decorated(container);
    let (command, args) = if decorated {
        let options = container_env
            .iter()
            .find(|(key, _)| key == ENTRYPOINT_OPTIONS_ENV)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        (entrypoint_args(options)?, Vec::new())
    } else {
        (
            string_list(container, "command"),
            string_list(container, "args"),
        )
    };
    let run = run_argv(
        engine,
        &RunSpec {
            name: name.clone(),
            image: container["image"].as_str().unwrap_or_default(),
            mounts,
            env: &env,
            working_dir: container["workingDir"].as_str(),
            command: &command,
            args: &args,
        },
    );
    Ok(if decorated {
        RunMode::WrappedInImage { engine, name, run }
    } else {
        RunMode::InImage { engine, name, run }
    })
}

/// `PATH` with `dirs` first for a host-process container that does not set its own.
fn host_path_env(dirs: &[PathBuf], container_env: &[(String, String)]) -> Option<(String, String)> {
    if dirs.is_empty() || container_env.iter().any(|(key, _)| key == "PATH") {
        return None;
    }
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let all = dirs
        .iter()
        .map(|d| d.as_os_str().to_owned())
        .chain(std::env::split_paths(&inherited).map(PathBuf::into_os_string));
    let joined = std::env::join_paths(all).ok()?;
    Some(("PATH".to_owned(), joined.to_string_lossy().into_owned()))
}

/// Makes the container's image present as its `imagePullPolicy` asks; the error is the reason
/// the container cannot run (Kubernetes' `ErrImagePull` / `ErrImageNeverPull`).
async fn ensure_image(engine: &ContainerEngine, container: &Value) -> Result<(), String> {
    let image = container["image"].as_str().unwrap_or_default();
    if image.is_empty() {
        return Err("container names no image".to_owned());
    }
    let run = |argv: Vec<String>| async move {
        Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
    };
    let present = run(engine.command(&["image", "exists", image]))
        .await
        .is_ok_and(|out| out.status.success());
    let policy = pull_policy(container);
    match (policy, present) {
        (PullPolicy::Never, false) => Err(format!(
            "ErrImageNeverPull: image {image:?} is not present and imagePullPolicy is Never"
        )),
        (PullPolicy::IfNotPresent | PullPolicy::Never, true) => Ok(()),
        (PullPolicy::Always, _) | (PullPolicy::IfNotPresent, false) => {
            match run(engine.command(&["pull", "--quiet", image])).await {
                Ok(out) if out.status.success() => Ok(()),
                // `Always` with the image present: run what is there, as a kubelet whose
                // registry is unreachable does not (it fails); locally, offline work matters more.
                _ if present => Ok(()),
                Ok(out) => Err(format!(
                    "ErrImagePull: pulling {image:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => Err(format!("ErrImagePull: running {:?}: {e}", engine.program)),
            }
        }
    }
}

/// What the kubelet does about one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    /// The pod was running under a previous kubelet whose processes are gone.
    MarkLost,
    Nothing,
}

/// Decides what to do about `pod` after `event` (`None` = seen in the start-up list).
pub fn decide(pod: &Value, event: Option<EventType>, running_here: bool, node: &str) -> Action {
    let node_ok = pod["spec"]["nodeName"]
        .as_str()
        .is_none_or(|n| n.is_empty() || n == node);
    let deleting =
        event == Some(EventType::Deleted) || pod["metadata"].get("deletionTimestamp").is_some();
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    match (deleting, running_here, phase) {
        (true, true, _) => Action::Stop,
        (true, false, _) => Action::Nothing,
        (false, false, "Pending") if node_ok => Action::Start,
        (false, false, "Running") if node_ok && event.is_none() => Action::MarkLost,
        _ => Action::Nothing,
    }
}

/// How one container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: String,
    pub finished_at: String,
}

impl Terminated {
    fn state(&self) -> Value {
        let mut t = json!({
            "exitCode": self.exit_code, "reason": self.reason,
            "startedAt": self.started_at, "finishedAt": self.finished_at,
        });
        if let Some(m) = &self.message {
            t["message"] = json!(m);
        }
        json!({"terminated": t})
    }
}

/// Where each of the container's volume mounts lives on this machine: `(mountPath, directory)`,
/// longest mount path first so nested mounts win.
pub fn mounts(container: &Value, pod: &Value, pod_dir: &std::path::Path) -> Vec<(String, PathBuf)> {
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<(String, PathBuf)> = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let name = m["name"].as_str()?;
            let mount_path = m["mountPath"].as_str()?.trim_end_matches('/').to_string();
            let volume = volumes.iter().find(|v| v["name"] == name)?;
            let dir = match volume["hostPath"]["path"].as_str() {
                Some(host) => PathBuf::from(host),
                None => pod_dir.join("volumes").join(name),
            };
            let dir = match m["subPath"].as_str() {
                Some(sub) if !sub.is_empty() && !sub.contains("..") => dir.join(sub),
                _ => dir,
            };
            (!mount_path.is_empty()).then_some((mount_path, dir))
        })
        .collect();
    out.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    out
}

/// The container's environment: literal values and the downward-API fields Prow uses.
pub fn environment(container: &Value, pod: &Value) -> Vec<(String, String)> {
    let Some(env) = container["env"].as_array() else {
        return Vec::new();
    };
    env.iter()
        .filter_map(|e| {
            let name = e["name"].as_str()?.to_string();
            let value = match (
                e["value"].as_str(),
                e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
            ) {
                (Some(v), _) => v.to_string(),
                (None, Some(path)) => {
                    let v = path.split('.').fold(pod, |v, seg| &v[seg]);
                    v.as_str().unwrap_or("").to_string()
                }
                (None, None) => String::new(),
            };
            Some((name, value))
        })
        .collect()
}

/// Pod phase once every container ended: Succeeded if all exited 0.
pub fn final_phase(results: &[Terminated]) -> &'static str {
    if results.iter().all(|t| t.exit_code == 0) {
        "Succeeded"
    } else {
        "Failed"
    }
}

type PodKey = (String, String, String);

/// Resolves once `cancelled` turns true (or its sender is gone).
/// A core/v1 Event about `pod`, as a kubelet (or, for `Scheduled`, the scheduler) records one:
/// what `kubectl describe pod` and Prow's `podinfo.json` show. `sequence` keeps names unique
/// when two events share a timestamp (Kubernetes names them `<pod>.<hex nanoseconds>`).
pub fn pod_event(
    pod: &Value,
    node: &str,
    (kind, reason, message): (&str, &str, &str),
    at: &str,
    sequence: u64,
) -> Value {
    let (ns, name, uid) = pod_key(pod);
    let now = Utc::now();
    let component = if reason == "Scheduled" {
        "default-scheduler"
    } else {
        "kubelet"
    };
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{name}.{:x}{sequence:x}", now.timestamp_nanos_opt().unwrap_or_default()),
            "namespace": ns,
        },
        "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": ns, "name": name, "uid": uid},
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": component, "host": node},
        "reportingComponent": component,
        "reportingInstance": node,
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    })
}

/// The events a finished pod leaves, from its containers' results: each container that ran was
/// started; one that could not run failed with its reason; a pod past its deadline says so.
pub fn finished_pod_events<'a>(
    containers: impl IntoIterator<Item = (&'a str, &'a Terminated)>,
    timed_out: bool,
) -> Vec<(&'static str, &'static str, String, String)> {
    let mut events = Vec::new();
    for (name, result) in containers {
        if result.reason == "ContainerCannotRun" {
            let why = result.message.as_deref().unwrap_or("could not start");
            events.push((
                "Warning",
                "Failed",
                format!("Error: {why}"),
                result.finished_at.clone(),
            ));
        } else {
            events.push((
                "Normal",
                "Started",
                format!("Started container {name}"),
                result.started_at.clone(),
            ));
        }
    }
    if timed_out {
        events.push((
            "Warning",
            "DeadlineExceeded",
            "Pod was active on the node longer than the specified deadline".to_owned(),
            timestamp(Utc::now()),
        ));
    }
    events
}

async fn wait_cancelled(cancelled: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send; drop it here.
    let _ = cancelled.wait_for(|c| *c).await.map(|_| ());
}

fn pod_key(pod: &Value) -> PodKey {
    let meta = &pod["metadata"];
    let s = |k: &str| meta[k].as_str().unwrap_or("").to_string();
    (s("namespace"), s("name"), s("uid"))
}

/// Runs pods from `server` on this machine. See the module docs.
#[derive(Clone)]
pub struct Kubelet {
    server: ApiServer,
    logs: MemoryLogs,
    config: Arc<KubeletConfig>,
    running: Arc<Mutex<HashMap<PodKey, watch::Sender<bool>>>>,
    /// Pods (by uid) started by this kubelet, so a late, stale "Pending" event never runs a pod twice.
    started: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubelet")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Kubelet {
    /// `logs` must be the source the server answers `pods/log` from.
    pub fn new(server: ApiServer, logs: MemoryLogs, config: KubeletConfig) -> Kubelet {
        Kubelet {
            server,
            logs,
            config: Arc::new(config),
            running: Arc::new(Mutex::new(HashMap::new())),
            started: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    fn is_running(&self, key: &PodKey) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(key)
    }

    /// Watches pods until `shutdown` resolves, then kills what it started.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ApiError> {
        // Subscribe before listing so nothing committed in between is missed.
        let mut changes = self.server.changes();
        self.resync(true).await?;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(event) if std::ptr::eq(event.resource, &PODS) => {
                        self.handle(&event.object, Some(event.kind)).await;
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => self.resync(false).await?,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = &mut shutdown => break,
            }
        }
        self.stop_all();
        Ok(())
    }

    async fn resync(&self, startup: bool) -> Result<(), ApiError> {
        let (pods, _) = self.server.list(&PODS, None, &Filter::default()).await?;
        for pod in pods {
            self.handle(
                &pod,
                if startup {
                    None
                } else {
                    Some(EventType::Modified)
                },
            )
            .await;
        }
        Ok(())
    }

    async fn handle(&self, pod: &Value, event: Option<EventType>) {
        let key = pod_key(pod);
        if event == Some(EventType::Deleted) {
            self.logs.remove_pod(&key.0, &key.1);
            self.forget_events(&key).await;
            self.started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key.2);
        }
        match decide(pod, event, self.is_running(&key), &self.config.node_name) {
            Action::Start => {
                let first_time = self
                    .started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key.2.clone());
                if first_time {
                    self.start(pod.clone(), key);
                }
            }
            Action::Stop => self.stop(&key),
            Action::MarkLost => {
                let status = json!({"phase": "Failed", "reason": "NodeLost",
                    "message": "the local kubelet restarted while this pod was running"});
                self.write_status(&key, status).await;
            }
            Action::Nothing => {}
        }
    }

    /// Drops a deleted pod's events. A real API server expires events after `--event-ttl` (1 h);
    /// this one keeps no TTL, so events leave with their pod instead (sinker deletes pods only
    /// once crier has reported them), which keeps the store from growing with every job.
    async fn forget_events(&self, (ns, name, uid): &PodKey) {
        let selector = format!("involvedObject.kind=Pod,involvedObject.uid={uid}");
        let fields = match crate::selector::FieldSelector::parse(&selector, &EVENTS) {
            Ok(fields) => fields,
            Err(err) => {
                tracing::warn!(error = %err, "pod event selector refused");
                return;
            }
        };
        let filter = Filter {
            fields,
            ..Filter::default()
        };
        if let Err(err) = self
            .server
            .delete_collection(&EVENTS, Some(ns), &filter, false)
            .await
        {
            tracing::warn!(pod = %name, namespace = %ns, error = %err, "could not drop a deleted pod's events");
        }
    }

    fn stop(&self, key: &PodKey) {
        if let Some(cancel) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
        {
            cancel.send_replace(true);
        }
    }

    fn stop_all(&self) {
        for (_, cancel) in self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            cancel.send_replace(true);
        }
    }

    fn start(&self, pod: Value, key: PodKey) {
        let (cancel, cancelled) = watch::channel(false);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), cancel);
        let this = self.clone();
        tokio::spawn(async move {
            this.run_pod(&pod, &key, cancelled).await;
            this.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        });
    }

    async fn write_status(&self, key: &PodKey, status: Value) {
        let (ns, name, uid) = key;
        // Guard against a same-named replacement pod: only touch the pod we ran.
        match self.server.get(&PODS, ns, name).await {
            Ok(current) if current["metadata"]["uid"].as_str() == Some(uid.as_str()) => {}
            _ => return,
        }
        let patch = json!({"status": status});
        if let Err(err) = self
            .server
            .patch(
                &PODS,
                ns,
                name,
                PatchKind::Merge,
                patch,
                true,
                WriteOptions::default(),
            )
            .await
        {
            tracing::warn!(pod = %name, namespace = %ns, error = %err, "could not update pod status");
        }
    }

    /// Records an event about `pod`; losing one only costs a line in `describe` and podinfo.
    async fn record_event(&self, pod: &Value, what: (&str, &str, &str), at: &str) {
        static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let event = pod_event(pod, &self.config.node_name, what, at, sequence);
        let namespace = event["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Err(err) = self
            .server
            .create(&EVENTS, &namespace, event, WriteOptions::default())
            .await
        {
            tracing::warn!(namespace = %namespace, reason = what.1, error = %err, "could not record a pod event");
        }
    }

    async fn run_pod(&self, pod: &Value, key: &PodKey, cancelled: watch::Receiver<bool>) {
        let (ns, name, _) = key;
        let dir = self.config.work_dir.join(ns).join(name);
        let started = timestamp(Utc::now());
        self.record_event(
            pod,
            (
                "Normal",
                "Scheduled",
                &format!(
                    "Successfully assigned {ns}/{name} to {}",
                    self.config.node_name
                ),
            ),
            &started,
        )
        .await;
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let running: Vec<Value> = containers
            .iter()
            .map(|c| {
                json!({"name": c["name"], "ready": true, "restartCount": 0, "image": c["image"],
                            "started": true, "state": {"running": {"startedAt": started}}})
            })
            .collect();
        self.write_status(
            key,
            json!({"phase": "Running", "startTime": started, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
                   "containerStatuses": running}),
        )
        .await;

        let deadline = pod["spec"]["activeDeadlineSeconds"]
            .as_u64()
            .map(Duration::from_secs);
        let (deadline_cancel, deadline_rx) = watch::channel(false);
        let mut merged = cancelled.clone();
        let watchdog = tokio::spawn(async move {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = timer => { deadline_cancel.send_replace(true); }
                _ = wait_cancelled(&mut merged) => { deadline_cancel.send_replace(true); }
            }
        });

        let mut init_results = Vec::new();
        for c in pod["spec"]["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let result = self.run_container(&c, pod, &dir, deadline_rx.clone()).await;
            let failed = result.exit_code != 0;
            init_results.push((c["name"].clone(), result));
            if failed {
                break;
            }
        }
        let init_ok = init_results.iter().all(|(_, r)| r.exit_code == 0);
        let results: Vec<Terminated> = if init_ok {
            let runs = containers
                .iter()
                .map(|c| self.run_container(c, pod, &dir, deadline_rx.clone()));
            futures::future::join_all(runs).await
        } else {
            Vec::new()
        };
        watchdog.abort();
        if *cancelled.borrow() {
            return; // deleted: nobody reads this pod's status any more
        }
        let timed_out = *deadline_rx.borrow();
        let statuses = |names: Vec<Value>, results: &[Terminated]| -> Vec<Value> {
            names
                .into_iter()
                .zip(results)
                .map(|(n, r)| json!({"name": n, "ready": false, "restartCount": 0, "started": false, "state": r.state()}))
                .collect()
        };
        let all: Vec<Terminated> = init_results
            .iter()
            .map(|(_, r)| r.clone())
            .chain(results.iter().cloned())
            .collect();
        let mut status = json!({
            "phase": if init_ok { final_phase(&all) } else { "Failed" },
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": timestamp(Utc::now())}],
            "initContainerStatuses": statuses(init_results.iter().map(|(n, _)| n.clone()).collect(), &init_results.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()),
            "containerStatuses": statuses(containers.iter().map(|c| c["name"].clone()).collect(), &results),
        });
        if timed_out {
            status["phase"] = json!("Failed");
            status["reason"] = json!("DeadlineExceeded");
            status["message"] =
                json!("Pod was active on the node longer than the specified deadline");
        }
        let names: Vec<String> = init_results
            .iter()
            .map(|(n, _)| n.as_str().unwrap_or_default().to_owned())
            .chain(
                containers
                    .iter()
                    .map(|c| c["name"].as_str().unwrap_or_default().to_owned()),
            )
            .collect();
        // Before the final status: whoever reacts to it (crier's podinfo.json) finds them.
        for (kind, reason, message, at) in
            finished_pod_events(names.iter().map(String::as_str).zip(&all), timed_out)
        {
            self.record_event(pod, (kind, reason, &message), &at).await;
        }
        if let Some(hook) = &self.config.on_finished {
            let log = self.logs.combined(ns, name);
            hook.finished(pod, &dir, log).await;
        }
        self.write_status(key, status).await;
    }

    async fn run_container(
        &self,
        container: &Value,
        pod: &Value,
        pod_dir: &std::path::Path,
        mut cancelled: watch::Receiver<bool>,
    ) -> Terminated {
        let started_at = timestamp(Utc::now());
        let (ns, pod_name, _) = pod_key(pod);
        let target = LogTarget {
            namespace: ns,
            pod: pod_name,
            container: container["name"].as_str().unwrap_or("").to_string(),
        };
        let cannot_run = |message: String| {
            self.logs.finish(&target);
            Terminated {
                exit_code: 128,
                reason: "ContainerCannotRun".into(),
                message: Some(message),
                started_at: started_at.clone(),
                finished_at: timestamp(Utc::now()),
            }
        };
        let all_mounts = mounts(container, pod, pod_dir);
        let mut mounts = all_mounts.clone();
        // A volume at /tmp (clonerefs has one, for read-only root filesystems) is the process's
        // TMPDIR: rewriting every /tmp path would also move the host's own paths under /tmp
        // (a local `clone_uri`, a user's files) into the pod.
        let tmp_dir = mounts
            .iter()
            .position(|(mount, _)| mount == "/tmp")
            .map(|i| mounts.remove(i).1);
        for volume_dir in mounts.iter().map(|(_, dir)| dir).chain(&tmp_dir) {
            if let Err(e) = std::fs::create_dir_all(volume_dir) {
                return cannot_run(format!("creating volume {}: {e}", volume_dir.display()));
            }
        }
        let container_env = environment(container, pod);
        let mode = match self
            .config
            .container_engine
            .as_ref()
            .filter(|_| pod_utility(container).is_none())
        {
            None => RunMode::Host,
            Some(engine) => {
                if let Err(message) = ensure_image(engine, container).await {
                    if let Some((_, options)) = container_env
                        .iter()
                        .find(|(key, _)| key == ENTRYPOINT_OPTIONS_ENV)
                        && let Err(e) =
                            mark_not_started(&host_value(options, &all_mounts), &message)
                    {
                        tracing::warn!(container = %target.container, error = %e, "could not tell the sidecar why the container did not start");
                    }
                    return cannot_run(message);
                }
                match in_image(engine, container, &container_env, &all_mounts, &target) {
                    Ok(mode) => mode,
                    Err(message) => return cannot_run(message),
                }
            }
        };
        // The engine itself needs no working directory or environment of the container's: those
        // are inside the image. Host processes and Prow's wrapper see the pod's directories.
        let (argv, dir, mut env): (Vec<String>, PathBuf, Vec<(String, String)>) = match &mode {
            RunMode::InImage { run, .. } => (run.clone(), pod_dir.to_path_buf(), Vec::new()),
            RunMode::Host | RunMode::WrappedInImage { .. } => {
                let argv = match program(container, self.config.utilities.as_deref()) {
                    Ok(argv) => argv.iter().map(|a| host_value(a, &mounts)).collect(),
                    Err(message) => return cannot_run(message),
                };
                let dir = container["workingDir"]
                    .as_str()
                    .map(|w| host_path(w, &mounts).map_or_else(|| PathBuf::from(w), PathBuf::from))
                    .unwrap_or_else(|| pod_dir.to_path_buf());
                let utility_env = if pod_utility(container).is_some() {
                    self.config.utility_env.clone()
                } else {
                    host_path_env(&self.config.host_path, &container_env)
                        .into_iter()
                        .collect()
                };
                let env = container_env
                    .into_iter()
                    .map(|(k, v)| {
                        let v = host_value(&v, &mounts);
                        (k, v)
                    })
                    .chain(utility_env)
                    .chain(tmp_dir.map(|dir| ("TMPDIR".to_owned(), dir.display().to_string())))
                    .collect();
                (argv, dir, env)
            }
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return cannot_run(format!("creating working directory {}: {e}", dir.display()));
        }
        if let RunMode::WrappedInImage { run, .. } = &mode {
            for (key, value) in env.iter_mut() {
                if key == ENTRYPOINT_OPTIONS_ENV {
                    match wrap_entrypoint_options(value, run.clone()) {
                        Ok(wrapped) => *value = wrapped,
                        Err(message) => return cannot_run(message),
                    }
                }
            }
        }
        let mut child = match Command::new(&argv[0])
            .args(&argv[1..])
            .envs(env)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => return cannot_run(format!("starting {:?}: {e}", argv[0])),
        };
        let readers = [
            child.stdout.take().map(|s| self.pump(s, target.clone())),
            child.stderr.take().map(|s| self.pump(s, target.clone())),
        ];
        let status = tokio::select! {
            status = child.wait() => status,
            _ = wait_cancelled(&mut cancelled) => {
                self.terminate(&mut child).await;
                child.wait().await
            }
        };
        for reader in readers.into_iter().flatten() {
            let _ = reader.await;
        }
        if let RunMode::InImage { engine, name, .. }
        | RunMode::WrappedInImage { engine, name, .. } = &mode
        {
            // A killed `podman run` leaves its container running; `--rm` only covers clean exits.
            let rm = engine.command(&["rm", "--force", "--ignore", name]);
            let _ = Command::new(&rm[0])
                .args(&rm[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
        self.logs.finish(&target);
        let finished_at = timestamp(Utc::now());
        match status {
            Ok(status) => {
                let exit_code = status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
                Terminated {
                    exit_code,
                    reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
                    message: None,
                    started_at,
                    finished_at,
                }
            }
            Err(e) => Terminated {
                exit_code: 128,
                reason: "Error".into(),
                message: Some(format!("waiting for the process: {e}")),
                started_at,
                finished_at,
            },
        }
    }

    /// SIGTERM to the container's process group, SIGKILL after the grace period.
    async fn terminate(&self, child: &mut tokio::process::Child) {
        if let Some(pid) = child.id() {
            // `kill` on the group reaches grandchildren too (the shell's children, test runners...).
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status()
                .await;
            if tokio::time::timeout(self.config.grace_period, child.wait())
                .await
                .is_ok()
            {
                return;
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status()
                .await;
        }
        let _ = child.kill().await;
    }

    fn pump(
        &self,
        stream: impl AsyncRead + Unpin + Send + 'static,
        target: LogTarget,
    ) -> tokio::task::JoinHandle<()> {
        let logs = self.logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.append(&target, line);
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn host_processes_find_the_configured_tools_first_unless_they_set_path() {
        let dirs = [PathBuf::from("/state/bin")];
        let (key, value) = host_path_env(&dirs, &[]).unwrap();
        assert_eq!(key, "PATH");
        let inherited = std::env::var("PATH").unwrap_or_default();
        assert_eq!(
            value,
            format!("/state/bin:{inherited}").trim_end_matches(':')
        );
        let own = [("PATH".to_owned(), "/opt/bin".to_owned())];
        assert_eq!(host_path_env(&dirs, &own), None);
        assert_eq!(host_path_env(&[], &[]), None);
    }

    fn pod(phase: &str, node: &str, deleting: bool) -> Value {
        let mut p = json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
                           "spec": {"nodeName": node, "containers": []}, "status": {"phase": phase}});
        if deleting {
            p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        p
    }

    #[test]
    fn decides_what_to_do_about_each_pod() {
        use EventType::*;
        let cases = [
            (pod("Pending", "", false), Some(Added), false, Action::Start),
            (
                pod("Pending", "prow-local", false),
                None,
                false,
                Action::Start,
            ),
            (
                pod("Pending", "other-node", false),
                Some(Added),
                false,
                Action::Nothing,
            ),
            (
                pod("Pending", "", false),
                Some(Modified),
                true,
                Action::Nothing,
            ),
            (
                pod("Running", "", false),
                Some(Modified),
                true,
                Action::Nothing,
            ),
            (pod("Running", "", false), None, false, Action::MarkLost),
            (
                pod("Running", "", false),
                Some(Modified),
                false,
                Action::Nothing,
            ),
            (pod("Succeeded", "", false), None, false, Action::Nothing),
            (pod("Running", "", false), Some(Deleted), true, Action::Stop),
            (pod("Running", "", true), Some(Modified), true, Action::Stop),
            (
                pod("Pending", "", true),
                Some(Added),
                false,
                Action::Nothing,
            ),
        ];
        for (p, event, running, want) in cases {
            assert_eq!(
                decide(&p, event, running, "prow-local"),
                want,
                "{p} {event:?} running={running}"
            );
        }
    }

    #[test]
    fn argv_is_command_then_args_and_requires_a_command() {
        let c = json!({"name": "t", "command": ["sh", "-c"], "args": ["echo hi"]});
        assert_eq!(program(&c, None).unwrap(), vec!["sh", "-c", "echo hi"]);
        assert!(program(&json!({"name": "t", "args": ["x"]}), None).is_err());
    }

    #[test]
    fn volume_mounts_map_to_pod_directories() {
        let pod = json!({"spec": {"volumes": [
            {"name": "logs", "emptyDir": {}},
            {"name": "cache", "hostPath": {"path": "/var/cache/ci"}},
        ]}});
        let c = json!({"volumeMounts": [
            {"name": "logs", "mountPath": "/logs"},
            {"name": "logs", "mountPath": "/logs/artifacts/deep", "subPath": "x"},
            {"name": "cache", "mountPath": "/cache/"},
            {"name": "missing", "mountPath": "/nowhere"},
        ]});
        let m = mounts(&c, &pod, std::path::Path::new("/work/ns/pod"));
        assert_eq!(m.len(), 3);
        let cases = [
            (
                "/logs/artifacts",
                Some("/work/ns/pod/volumes/logs/artifacts"),
            ),
            ("/logs", Some("/work/ns/pod/volumes/logs")),
            (
                "/logs/artifacts/deep/f",
                Some("/work/ns/pod/volumes/logs/x/f"),
            ),
            ("/cache/go", Some("/var/cache/ci/go")),
            ("/logsextra", None),
            ("relative/logs", None),
        ];
        for (value, want) in cases {
            assert_eq!(host_path(value, &m).as_deref(), want, "{value}");
        }
    }

    #[test]
    fn environment_resolves_values_and_field_refs() {
        let pod =
            json!({"metadata": {"name": "p", "namespace": "ns"}, "status": {"podIP": "127.0.0.1"}});
        let c = json!({"env": [
            {"name": "A", "value": "1"},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
        ]});
        let env = environment(&c, &pod);
        let want = [
            ("A", "1"),
            ("NAME", "p"),
            ("IP", "127.0.0.1"),
            ("SECRET", ""),
        ];
        assert_eq!(
            env,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
    }

    #[test]
    fn finished_pods_leave_started_failed_and_deadline_events() {
        let ran = |reason: &str, message: Option<&str>| Terminated {
            exit_code: if reason == "Completed" { 0 } else { 128 },
            reason: reason.into(),
            message: message.map(str::to_owned),
            started_at: "2026-12-02T10:00:00Z".into(),
            finished_at: "2026-12-02T10:00:05Z".into(),
        };
        let (clone, test) = (
            ran("Completed", None),
            ran("ContainerCannotRun", Some("image x not present")),
        );
        let events = finished_pod_events([("clonerefs", &clone), ("test", &test)], true);
        let seen: Vec<(&str, &str, &str, &str)> = events
            .iter()
            .map(|(k, r, m, at)| (*k, *r, m.as_str(), at.as_str()))
            .collect();
        assert_eq!(
            seen[..2],
            [
                (
                    "Normal",
                    "Started",
                    "Started container clonerefs",
                    "2026-12-02T10:00:00Z"
                ),
                (
                    "Warning",
                    "Failed",
                    "Error: image x not present",
                    "2026-12-02T10:00:05Z"
                ),
            ]
        );
        assert_eq!((seen[2].0, seen[2].1), ("Warning", "DeadlineExceeded"));
        assert_eq!(finished_pod_events([("test", &clone)], false).len(), 1);
    }

    #[test]
    fn pod_events_name_their_pod_and_are_named_apart() {
        let p = pod("Running", "prow-local", false);
        let a = pod_event(&p, "prow-local", ("Normal", "Scheduled", "m"), "t", 0);
        let b = pod_event(&p, "prow-local", ("Normal", "Started", "m"), "t", 1);
        assert_ne!(a["metadata"]["name"], b["metadata"]["name"]);
        assert_eq!(
            a["involvedObject"],
            json!({"kind": "Pod", "apiVersion": "v1", "namespace": "ns", "name": "p", "uid": "u"})
        );
        assert_eq!(a["source"]["component"], "default-scheduler");
        assert_eq!(
            b["source"],
            json!({"component": "kubelet", "host": "prow-local"})
        );
        assert_eq!(b["metadata"]["namespace"], "ns");
    }

    #[test]
    fn pods_succeed_only_if_every_container_exits_zero() {
        let t = |code| Terminated {
            exit_code: code,
            reason: String::new(),
            message: None,
            started_at: String::new(),
            finished_at: String::new(),
        };
        assert_eq!(final_phase(&[t(0), t(0)]), "Succeeded");
        assert_eq!(final_phase(&[t(0), t(2)]), "Failed");
        assert_eq!(final_phase(&[]), "Succeeded");
    }
}
