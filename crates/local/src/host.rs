//! How a container's view of the world maps onto this machine when the kubelet runs it as a host
//! process: which program runs (a command, or a Prow pod utility's image entrypoint) and where
//! the paths it is given (arguments, env values, also inside JSON options) really are.
//!
//! Decorated Prow pods name paths under their volume mounts everywhere: `workingDir`, `ARTIFACTS`,
//! and inside the `*_OPTIONS` JSON (`"process_log":"/logs/process-log.txt"`). A host process cannot
//! have `/logs` mounted, so every string that starts with a mount path is rewritten to the
//! directory behind it, recursively through JSON objects and arrays.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Prow's pod utilities, run from their images' entrypoints (decorated pods give them no
/// `command`), and what the image's entrypoint is called.
pub const POD_UTILITIES: [&str; 4] = ["clonerefs", "initupload", "entrypoint", "sidecar"];

/// Where Prow's `entrypoint --copy-mode-only` copies itself unless told otherwise.
const ENTRYPOINT_COPY_DESTINATION: &str = "/tools/entrypoint";

/// The pod utility a container runs: no `command`, and an image whose repository's last path
/// segment is a utility's name (`us-docker.pkg.dev/k8s-infra-prow/images/clonerefs:v2026...`).
pub fn pod_utility(container: &Value) -> Option<&'static str> {
    let has_command = container["command"]
        .as_array()
        .is_some_and(|command| !command.is_empty());
    if has_command {
        return None;
    }
    let image = container["image"].as_str()?;
    let repository = image.split('@').next().unwrap_or(image);
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let name = last.split(':').next().unwrap_or(last);
    POD_UTILITIES.into_iter().find(|utility| *utility == name)
}

/// The program and arguments to run: `command` + `args`, or, for a pod utility's image, the
/// `utilities` binary with the utility's name (`prow entrypoint --copy-mode-only`). Image
/// defaults that name container paths are made explicit, so they can be mapped like the rest.
pub fn program(container: &Value, utilities: Option<&Path>) -> Result<Vec<String>, String> {
    let strings = |key: &str| string_list(container, key);
    let name = container["name"].as_str().unwrap_or("");
    if let Some(utility) = pod_utility(container) {
        let Some(binary) = utilities else {
            return Err(format!(
                "container {name:?} runs the {utility} image's entrypoint: the local kubelet runs commands on the host and has no pod utilities binary"
            ));
        };
        let mut argv = vec![binary.display().to_string(), utility.to_string()];
        let args = strings("args");
        let copies = utility == "entrypoint" && args.iter().any(|a| a == "--copy-mode-only");
        let names_destination = args.iter().any(|a| a.starts_with("--copy-destination"));
        argv.extend(args);
        if copies && !names_destination {
            argv.push(format!("--copy-destination={ENTRYPOINT_COPY_DESTINATION}"));
        }
        return Ok(argv);
    }
    let command = strings("command");
    if command.is_empty() {
        return Err(format!(
            "container {name:?} has no command: the local kubelet runs commands on the host and does not run image entrypoints"
        ));
    }
    Ok(command.into_iter().chain(strings("args")).collect())
}

/// A container's string list field (`command`, `args`); missing or non-strings left out.
pub(crate) fn string_list(container: &Value, key: &str) -> Vec<String> {
    container[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Rewrites a container path under one of `mounts` (longest first) to the directory behind it.
pub fn host_path(value: &str, mounts: &[(String, PathBuf)]) -> Option<String> {
    mounts.iter().find_map(|(mount, dir)| {
        let rest = value.strip_prefix(mount.as_str())?;
        if rest.is_empty() {
            Some(dir.display().to_string())
        } else {
            rest.strip_prefix('/')
                .map(|r| dir.join(r).display().to_string())
        }
    })
}

/// An argument as the host process needs it: a path under a mount (also `--flag=/path`), or
/// JSON whose strings are such paths, rewritten; anything else as it is.
pub fn host_value(value: &str, mounts: &[(String, PathBuf)]) -> String {
    if let Some(path) = host_path(value, mounts) {
        return path;
    }
    if let Some((flag, path)) = value.split_once('=')
        && flag.starts_with('-')
        && let Some(path) = host_path(path, mounts)
    {
        return format!("{flag}={path}");
    }
    let trimmed = value.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut json) = serde_json::from_str::<Value>(value)
        && rewrite_json(&mut json, mounts)
    {
        return json.to_string();
    }
    value.to_string()
}

/// Rewrites every string in `json` that is a path under a mount; true when any changed.
fn rewrite_json(json: &mut Value, mounts: &[(String, PathBuf)]) -> bool {
    match json {
        Value::String(s) => match host_path(s, mounts) {
            Some(path) => {
                *s = path;
                true
            }
            None => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| rewrite_json(item, mounts) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, item| rewrite_json(item, mounts) | changed),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mounts() -> Vec<(String, PathBuf)> {
        vec![
            ("/home/prow/go".into(), PathBuf::from("/pod/volumes/code")),
            ("/logs".into(), PathBuf::from("/pod/volumes/logs")),
            ("/tools".into(), PathBuf::from("/pod/volumes/tools")),
        ]
    }

    #[test]
    fn utility_images_are_known_by_their_repository_name() {
        for (image, utility) in [
            (
                "us-docker.pkg.dev/k8s-infra-prow/images/clonerefs:v20260821-a61940897",
                Some("clonerefs"),
            ),
            ("gcr.io/k8s-prow/sidecar@sha256:abc", Some("sidecar")),
            ("entrypoint:tag", Some("entrypoint")),
            ("initupload", Some("initupload")),
            ("docker.io/library/rust:1.90", None),
            ("example.com/entrypoint-helper:1", None),
        ] {
            assert_eq!(
                pod_utility(&json!({"name": "c", "image": image})),
                utility,
                "{image}"
            );
        }
        // A command means the image's entrypoint is not what runs.
        assert_eq!(
            pod_utility(&json!({"image": "sidecar:tag", "command": ["/bin/sh"]})),
            None
        );
    }

    #[test]
    fn a_utility_runs_the_utilities_binary_and_copy_mode_names_its_destination() {
        let prow = Path::new("/usr/bin/prow");
        let place = json!({"name": "place-entrypoint", "image": "entrypoint:tag", "args": ["--copy-mode-only"]});
        assert_eq!(
            program(&place, Some(prow)).unwrap(),
            [
                "/usr/bin/prow",
                "entrypoint",
                "--copy-mode-only",
                "--copy-destination=/tools/entrypoint"
            ]
        );
        let sidecar = json!({"name": "sidecar", "image": "sidecar:tag"});
        assert_eq!(
            program(&sidecar, Some(prow)).unwrap(),
            ["/usr/bin/prow", "sidecar"]
        );
        assert!(
            program(&sidecar, None)
                .unwrap_err()
                .contains("no pod utilities binary")
        );
        let test = json!({"name": "test", "image": "rust", "command": ["/tools/entrypoint"]});
        assert_eq!(program(&test, Some(prow)).unwrap(), ["/tools/entrypoint"]);
        assert!(program(&json!({"name": "x", "image": "rust"}), None).is_err());
    }

    #[test]
    fn paths_under_mounts_are_rewritten_also_inside_json_and_flags() {
        let m = mounts();
        assert_eq!(
            host_value("/logs/artifacts", &m),
            "/pod/volumes/logs/artifacts"
        );
        assert_eq!(host_value("/logs", &m), "/pod/volumes/logs");
        assert_eq!(host_value("/logsx", &m), "/logsx");
        assert_eq!(
            host_value("--copy-destination=/tools/entrypoint", &m),
            "--copy-destination=/pod/volumes/tools/entrypoint"
        );
        let options = r#"{"timeout":7200000000000,"artifact_dir":"/logs/artifacts","args":["/bin/thing","/home/prow/go/src/x"],"process_log":"/logs/process-log.txt"}"#;
        let rewritten: Value = serde_json::from_str(&host_value(options, &m)).unwrap();
        assert_eq!(
            rewritten,
            json!({"timeout":7200000000000u64,"artifact_dir":"/pod/volumes/logs/artifacts",
                   "args":["/bin/thing","/pod/volumes/code/src/x"],
                   "process_log":"/pod/volumes/logs/process-log.txt"})
        );
        // JSON without such paths, and text that only looks like JSON, stay byte for byte.
        let spec = r#"{"type":"presubmit", "job":"j"}"#;
        assert_eq!(host_value(spec, &m), spec);
        assert_eq!(host_value("{not json", &m), "{not json");
    }
}
