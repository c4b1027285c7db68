//! Running a pod's containers inside their images with a container engine (podman), for the
//! local kubelet.
//!
//! What runs where:
//! - **User containers** run in their image: `podman run --rm` with the pod's volumes bind-mounted
//!   at their mount paths, the container's own `env` (container paths, unrewritten),
//!   `workingDir`, and the host network (a job reaches what the machine reaches, as a host
//!   process would). `command` replaces the image's entrypoint and `args` its command, as in
//!   Kubernetes; with neither, the image's own entrypoint runs.
//! - **Prow's pod utilities** (clonerefs, initupload, sidecar, `entrypoint --copy-mode-only`) run
//!   on the host from the `prow` binary, as in host-process mode: their images are Prow's and
//!   cannot be pulled here, and what they do (git, uploads) needs no isolation.
//! - **A decorated test container** (command `/tools/entrypoint`, options in
//!   `ENTRYPOINT_OPTIONS`) keeps Prow's wrapper on the host, where it enforces the timeout and
//!   grace period, writes the process log and the marker file; the command it wraps becomes
//!   `podman run ... <image> <the job's command>`. The wrapper's SIGINT on timeout reaches the
//!   job through podman's signal proxy.
//!
//! The functions here are pure: they turn a container spec into the engine's argv.

use std::path::PathBuf;

use serde_json::Value;

/// The environment variable Prow's decoration puts the wrapper's options in.
pub const ENTRYPOINT_OPTIONS_ENV: &str = "ENTRYPOINT_OPTIONS";

/// A container engine with a podman-compatible CLI, and the arguments this machine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEngine {
    /// `podman` (or a path to it).
    pub program: PathBuf,
    /// Before the subcommand, e.g. `--runtime runc` where the default OCI runtime cannot run here.
    pub global_args: Vec<String>,
    /// After `run`, e.g. `--ulimit nofile=...` where the engine may not raise limits.
    pub run_args: Vec<String>,
}

impl ContainerEngine {
    pub fn podman() -> ContainerEngine {
        ContainerEngine {
            program: PathBuf::from("podman"),
            global_args: Vec::new(),
            run_args: Vec::new(),
        }
    }

    /// `<program> <global args> <subcommand...>` as an argv.
    pub fn command(&self, subcommand: &[&str]) -> Vec<String> {
        std::iter::once(self.program.display().to_string())
            .chain(self.global_args.iter().cloned())
            .chain(subcommand.iter().map(|s| (*s).to_owned()))
            .collect()
    }
}

/// Whether a container must be pulled before it runs, from its `imagePullPolicy` (Kubernetes'
/// default: `Always` for `:latest` or untagged images, `IfNotPresent` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

pub fn pull_policy(container: &Value) -> PullPolicy {
    match container["imagePullPolicy"].as_str() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::IfNotPresent,
        _ => {
            let image = container["image"].as_str().unwrap_or_default();
            if image.contains('@') {
                return PullPolicy::IfNotPresent;
            }
            let last = image.rsplit('/').next().unwrap_or(image);
            match last.split_once(':') {
                None | Some((_, "latest")) => PullPolicy::Always,
                Some(_) => PullPolicy::IfNotPresent,
            }
        }
    }
}

/// A decorated test container: Prow's wrapper runs it, with its options in the environment.
pub fn is_decorated(container: &Value) -> bool {
    container["env"].as_array().is_some_and(|env| {
        env.iter()
            .any(|e| e["name"].as_str() == Some(ENTRYPOINT_OPTIONS_ENV))
    })
}

/// What the engine runs one container as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec<'a> {
    /// Unique among running containers: `podman rm -f` cleans up after a killed run.
    pub name: String,
    pub image: &'a str,
    /// Host directory -> mount path, as the kubelet resolved the pod's volumes.
    pub mounts: &'a [(String, PathBuf)],
    /// The container's environment, with container paths.
    pub env: &'a [(String, String)],
    pub working_dir: Option<&'a str>,
    /// Replaces the image's entrypoint when not empty.
    pub command: &'a [String],
    /// Replaces the image's command (or follows `command`).
    pub args: &'a [String],
}

/// `podman run --rm ...` for one container.
pub fn run_argv(engine: &ContainerEngine, spec: &RunSpec<'_>) -> Vec<String> {
    let mut argv = engine.command(&["run", "--rm", "--network", "host"]);
    argv.extend(["--name".to_owned(), spec.name.clone()]);
    argv.extend(engine.run_args.iter().cloned());
    for (mount, dir) in spec.mounts {
        argv.push("--volume".to_owned());
        argv.push(format!("{}:{mount}", dir.display()));
    }
    for (key, value) in spec.env {
        argv.push("--env".to_owned());
        argv.push(format!("{key}={value}"));
    }
    if let Some(dir) = spec.working_dir {
        argv.extend(["--workdir".to_owned(), dir.to_owned()]);
    }
    let mut rest = spec.args.to_vec();
    if let Some((entrypoint, leading)) = spec.command.split_first() {
        argv.extend(["--entrypoint".to_owned(), entrypoint.clone()]);
        rest = leading.iter().cloned().chain(rest).collect();
    }
    argv.push(spec.image.to_owned());
    argv.extend(rest);
    argv
}

/// The decorated container's options with the wrapped command replaced by `engine_argv` (which
/// runs the job's command in its image): `options` already has its paths rewritten for the host,
/// where the wrapper runs. Fails when the options are not Prow's entrypoint JSON.
pub fn wrap_entrypoint_options(options: &str, engine_argv: Vec<String>) -> Result<String, String> {
    let mut json: Value = serde_json::from_str(options)
        .map_err(|e| format!("{ENTRYPOINT_OPTIONS_ENV} is not JSON: {e}"))?;
    let Some(object) = json.as_object_mut() else {
        return Err(format!("{ENTRYPOINT_OPTIONS_ENV} is not a JSON object"));
    };
    let args: Vec<Value> = engine_argv.into_iter().map(Value::String).collect();
    object.insert("args".to_owned(), Value::Array(args));
    Ok(json.to_string())
}

/// Prow's entrypoint code for a process that could not start.
const NOT_STARTED_CODE: &str = "127";

/// For a decorated container that could not start (its image is absent and cannot be pulled):
/// what Prow's entrypoint leaves when its process fails to start, `message` in the process log
/// and the internal-error code in the marker file. The sidecar then uploads a build log that
/// says why and the job ends at once, instead of the sidecar waiting for a marker until the
/// pod's deadline. `options` is the container's entrypoint options with host paths.
pub fn mark_not_started(options: &str, message: &str) -> Result<(), String> {
    let json: Value = serde_json::from_str(options)
        .map_err(|e| format!("{ENTRYPOINT_OPTIONS_ENV} is not JSON: {e}"))?;
    let path = |key: &str| {
        json[key]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| format!("{ENTRYPOINT_OPTIONS_ENV} names no {key}"))
    };
    let (log, marker) = (path("process_log")?, path("marker_file")?);
    let write = |file: &std::path::Path, text: &str| {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(file, text).map_err(|e| format!("{}: {e}", file.display()))
    };
    write(&log, &format!("{message}\n"))?;
    // Written whole then renamed: the sidecar polls for the marker and must not read it half.
    let partial = marker.with_extension("not-started");
    write(&partial, NOT_STARTED_CODE)?;
    std::fs::rename(&partial, &marker).map_err(|e| format!("{}: {e}", marker.display()))
}

/// The `args` of Prow's entrypoint options: the job's command.
pub fn entrypoint_args(options: &str) -> Result<Vec<String>, String> {
    let json: Value = serde_json::from_str(options)
        .map_err(|e| format!("{ENTRYPOINT_OPTIONS_ENV} is not JSON: {e}"))?;
    json["args"]
        .as_array()
        .map(|args| {
            args.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .filter(|args: &Vec<String>| !args.is_empty())
        .ok_or_else(|| format!("{ENTRYPOINT_OPTIONS_ENV} names no args to run"))
}

/// A container name podman accepts: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn container_name(namespace: &str, pod: &str, container: &str) -> String {
    format!("prow-{namespace}-{pod}-{container}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_container_that_cannot_start_leaves_its_reason_and_a_failed_marker() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let options = json!({
            "args": ["prow", "check-config"],
            "process_log": logs.join("process-log.txt"),
            "marker_file": logs.join("marker-file.txt"),
            "metadata_file": logs.join("artifacts/metadata.json"),
        })
        .to_string();
        let reason = "ErrImageNeverPull: image \"localhost/prow-rs:dev\" is not present";
        mark_not_started(&options, reason).unwrap();
        assert_eq!(
            std::fs::read_to_string(logs.join("process-log.txt")).unwrap(),
            format!("{reason}\n")
        );
        assert_eq!(
            std::fs::read_to_string(logs.join("marker-file.txt")).unwrap(),
            "127"
        );
        assert!(mark_not_started("{}", reason).is_err());
    }

    #[test]
    fn pull_policy_defaults_as_kubernetes_does() {
        let policy = |image: &str| pull_policy(&json!({"image": image}));
        assert_eq!(policy("alpine"), PullPolicy::Always);
        assert_eq!(policy("alpine:latest"), PullPolicy::Always);
        assert_eq!(policy("localhost:5000/alpine"), PullPolicy::Always);
        assert_eq!(policy("rust:1.90"), PullPolicy::IfNotPresent);
        assert_eq!(policy("localhost:5000/rust:1.90"), PullPolicy::IfNotPresent);
        assert_eq!(policy("alpine@sha256:abc"), PullPolicy::IfNotPresent);
        assert_eq!(
            pull_policy(&json!({"image": "alpine", "imagePullPolicy": "Never"})),
            PullPolicy::Never
        );
    }

    #[test]
    fn run_argv_mounts_volumes_sets_env_and_replaces_entrypoint_with_command() {
        let engine = ContainerEngine {
            program: PathBuf::from("podman"),
            global_args: strings(&["--runtime", "runc"]),
            run_args: strings(&["--ulimit", "nproc=4096:4096"]),
        };
        let mounts = vec![(
            "/logs".to_owned(),
            PathBuf::from("/state/pods/ns/p/volumes/logs"),
        )];
        let env = vec![("ARTIFACTS".to_owned(), "/logs/artifacts".to_owned())];
        let command = strings(&["sh", "-c"]);
        let args = strings(&["echo hi > $ARTIFACTS/x"]);
        let argv = run_argv(
            &engine,
            &RunSpec {
                name: "prow-ns-p-test".into(),
                image: "localhost/job:1",
                mounts: &mounts,
                env: &env,
                working_dir: Some("/home/prow/go/src/github.com/o/r"),
                command: &command,
                args: &args,
            },
        );
        assert_eq!(
            argv,
            strings(&[
                "podman",
                "--runtime",
                "runc",
                "run",
                "--rm",
                "--network",
                "host",
                "--name",
                "prow-ns-p-test",
                "--ulimit",
                "nproc=4096:4096",
                "--volume",
                "/state/pods/ns/p/volumes/logs:/logs",
                "--env",
                "ARTIFACTS=/logs/artifacts",
                "--workdir",
                "/home/prow/go/src/github.com/o/r",
                "--entrypoint",
                "sh",
                "localhost/job:1",
                "-c",
                "echo hi > $ARTIFACTS/x",
            ])
        );
    }

    #[test]
    fn without_command_the_image_entrypoint_runs_with_args_as_its_command() {
        let args = strings(&["--version"]);
        let argv = run_argv(
            &ContainerEngine::podman(),
            &RunSpec {
                name: "n".into(),
                image: "img:1",
                mounts: &[],
                env: &[],
                working_dir: None,
                command: &[],
                args: &args,
            },
        );
        assert_eq!(
            argv,
            strings(&[
                "podman",
                "run",
                "--rm",
                "--network",
                "host",
                "--name",
                "n",
                "img:1",
                "--version"
            ])
        );
    }

    #[test]
    fn the_wrapped_command_moves_into_the_image_and_the_rest_of_the_options_stays() {
        let options = r#"{"timeout":7200000000000,"grace_period":15000000000,"args":["make","test"],"process_log":"/host/logs/process-log.txt"}"#;
        let original = entrypoint_args(options).unwrap();
        assert_eq!(original, strings(&["make", "test"]));
        let engine_argv = strings(&["podman", "run", "img"])
            .into_iter()
            .chain(original)
            .collect();
        let wrapped = wrap_entrypoint_options(options, engine_argv).unwrap();
        let json: Value = serde_json::from_str(&wrapped).unwrap();
        assert_eq!(
            json["args"],
            json!(["podman", "run", "img", "make", "test"])
        );
        assert_eq!(json["process_log"], "/host/logs/process-log.txt");
        assert_eq!(json["timeout"], 7_200_000_000_000_u64);
    }

    #[test]
    fn options_that_are_not_prows_are_refused_with_the_reason() {
        assert!(
            entrypoint_args("not json")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            entrypoint_args(r#"{"args":[]}"#)
                .unwrap_err()
                .contains("no args")
        );
        assert!(
            wrap_entrypoint_options("[1]", vec![])
                .unwrap_err()
                .contains("object")
        );
    }

    #[test]
    fn decorated_containers_are_recognised_by_their_options() {
        assert!(is_decorated(
            &json!({"env": [{"name": "ENTRYPOINT_OPTIONS", "value": "{}"}]})
        ));
        assert!(!is_decorated(
            &json!({"env": [{"name": "ARTIFACTS", "value": "/logs"}]})
        ));
        assert!(!is_decorated(&json!({})));
    }

    #[test]
    fn container_names_are_what_podman_accepts() {
        assert_eq!(
            container_name("test-pods", "abc:1", "test"),
            "prow-test-pods-abc-1-test"
        );
    }
}
