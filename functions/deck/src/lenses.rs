//! Which spyglass lenses a run's page shows, from `deck.spyglass.lenses` as Prow reads it: each
//! entry names a lens and lists `required_files` and `optional_files` regexes, matched
//! (unanchored, as Go's `MatchString`) against the artifact paths relative to the build
//! directory. A lens shows when every required regex matches some artifact; it gets the
//! artifacts its regexes matched. Lenses show in config order. And the pure parts of the
//! metadata, pod info and links lenses.

use std::collections::BTreeMap;

use prow_core::prowjob::Refs;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// The lenses this Deck renders; other names in the config are skipped with a warning.
pub const KNOWN: [&str; 6] = ["metadata", "buildlog", "junit", "podinfo", "links", "html"];

/// One configured lens with its compiled file regexes.
#[derive(Debug, Clone)]
pub struct LensFile {
    pub name: String,
    /// `lens.config`, passed to the lens (e.g. `buildlog`'s `highlight_regexes`).
    pub config: Value,
    pub required: Vec<Regex>,
    pub optional: Vec<Regex>,
}

#[derive(Debug, thiserror::Error)]
pub enum LensError {
    #[error("deck.spyglass is malformed: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("deck.spyglass.lenses[{index}] ({lens}): invalid regex {regex:?}: {source}")]
    Regex {
        index: usize,
        lens: String,
        regex: String,
        source: regex::Error,
    },
}

#[derive(Deserialize)]
struct RawSpyglass {
    #[serde(default)]
    lenses: Vec<RawLensFile>,
}

#[derive(Deserialize)]
struct RawLensFile {
    lens: RawLens,
    #[serde(default)]
    required_files: Vec<String>,
    #[serde(default)]
    optional_files: Vec<String>,
}

#[derive(Deserialize)]
struct RawLens {
    name: String,
    #[serde(default)]
    config: Value,
}

/// Prow's example lens set, used when `deck.spyglass.lenses` is empty or absent (a Deck with no
/// lenses would show nothing of a run).
pub fn defaults() -> Vec<LensFile> {
    let lens = |name: &str, required: &[&str], optional: &[&str]| LensFile {
        name: name.to_owned(),
        config: Value::Null,
        required: required.iter().filter_map(|r| Regex::new(r).ok()).collect(),
        optional: optional.iter().filter_map(|r| Regex::new(r).ok()).collect(),
    };
    vec![
        lens(
            "metadata",
            &[r"^(?:started|finished)\.json$"],
            &[r"^(?:podinfo|prowjob|clone-records)\.json$"],
        ),
        lens("buildlog", &[r"^build-log\.txt$"], &[]),
        lens("junit", &[r"^artifacts/(?:.*/)?junit.*\.xml$"], &[]),
        lens("podinfo", &[r"^podinfo\.json$"], &[]),
        lens("links", &[r"^artifacts/.*\.link\.txt$"], &[]),
        lens("html", &[r"^artifacts/.*\.html$"], &[]),
    ]
}

/// The lenses `deck.spyglass` configures (Prow's defaults when it lists none).
pub fn from_config(spyglass: Option<&Value>) -> Result<Vec<LensFile>, LensError> {
    let raw: RawSpyglass = match spyglass {
        None | Some(Value::Null) => return Ok(defaults()),
        Some(v) => serde_json::from_value(v.clone())?,
    };
    if raw.lenses.is_empty() {
        return Ok(defaults());
    }
    let mut lenses = Vec::new();
    for (index, entry) in raw.lenses.into_iter().enumerate() {
        let compile = |regexes: &[String]| -> Result<Vec<Regex>, LensError> {
            regexes
                .iter()
                .map(|r| {
                    Regex::new(r).map_err(|source| LensError::Regex {
                        index,
                        lens: entry.lens.name.clone(),
                        regex: r.clone(),
                        source,
                    })
                })
                .collect()
        };
        let required = compile(&entry.required_files)?;
        let optional = compile(&entry.optional_files)?;
        if !KNOWN.contains(&entry.lens.name.as_str()) {
            tracing::warn!(lens = %entry.lens.name, "spyglass lens not known to this Deck; skipped");
            continue;
        }
        lenses.push(LensFile {
            name: entry.lens.name,
            config: entry.lens.config,
            required,
            optional,
        });
    }
    Ok(lenses)
}

/// A lens chosen for a run and the artifacts it was given (required matches, then optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub name: String,
    pub files: Vec<String>,
}

/// The lenses that apply to a run with these artifacts, in config order.
pub fn select(lenses: &[LensFile], artifacts: &[String]) -> Vec<Selected> {
    lenses
        .iter()
        .filter_map(|lens| {
            let mut files: Vec<String> = Vec::new();
            for re in &lens.required {
                let matched: Vec<&String> = artifacts.iter().filter(|a| re.is_match(a)).collect();
                if matched.is_empty() {
                    return None;
                }
                files.extend(matched.into_iter().cloned());
            }
            for re in &lens.optional {
                files.extend(artifacts.iter().filter(|a| re.is_match(a)).cloned());
            }
            let mut seen = std::collections::HashSet::new();
            files.retain(|f| seen.insert(f.clone()));
            Some(Selected {
                name: lens.name.clone(),
                files,
            })
        })
        .collect()
}

/// One clone of `clone-records.json` (Prow's `clone.Record`), as the metadata lens shows it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct CloneRecord {
    #[serde(default)]
    pub refs: Refs,
    #[serde(default)]
    pub commands: Vec<CloneCommand>,
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub final_sha: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct CloneCommand {
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub error: String,
}

/// `started.json`/`finished.json` `metadata` maps flattened to rows (nested values as JSON).
pub fn metadata_rows(maps: &[Option<&serde_json::Map<String, Value>>]) -> Vec<(String, String)> {
    let mut rows = BTreeMap::new();
    for map in maps.iter().flatten() {
        for (k, v) in map.iter() {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            rows.insert(k.clone(), text);
        }
    }
    rows.into_iter().collect()
}

/// `podinfo.json` as Prow's crier writes it: the test pod and its events.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodInfo {
    #[serde(default)]
    pub pod: Option<k8s_openapi::api::core::v1::Pod>,
    #[serde(default)]
    pub events: Vec<k8s_openapi::api::core::v1::Event>,
}

/// One container as the pod info lens shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    /// `init` or `main`.
    pub kind: &'static str,
    /// `running`, `waiting (reason)`, `terminated (reason)` or `unknown`.
    pub state: String,
    pub exit_code: Option<i32>,
    pub restarts: i32,
    pub ok: bool,
}

/// One pod event as the pod info lens shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
}

/// Containers (init first) with their state and exit code, and the pod's events.
pub fn pod_view(info: &PodInfo) -> (Vec<ContainerView>, Vec<EventView>) {
    let mut containers = Vec::new();
    if let Some(pod) = &info.pod {
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let groups = [
            (
                "init",
                spec.init_containers.unwrap_or_default(),
                status.init_container_statuses.unwrap_or_default(),
            ),
            (
                "main",
                spec.containers,
                status.container_statuses.unwrap_or_default(),
            ),
        ];
        for (kind, specs, statuses) in groups {
            for c in specs {
                let st = statuses.iter().find(|s| s.name == c.name);
                let state = st.and_then(|s| s.state.clone()).unwrap_or_default();
                let (text, exit, ok) = if let Some(t) = state.terminated {
                    let reason = t.reason.unwrap_or_default();
                    (
                        format!("terminated ({reason})"),
                        Some(t.exit_code),
                        t.exit_code == 0,
                    )
                } else if let Some(w) = state.waiting {
                    (
                        format!("waiting ({})", w.reason.unwrap_or_default()),
                        None,
                        false,
                    )
                } else if state.running.is_some() {
                    ("running".to_owned(), None, true)
                } else {
                    ("unknown".to_owned(), None, false)
                };
                containers.push(ContainerView {
                    name: c.name,
                    image: c.image.unwrap_or_default(),
                    kind,
                    state: text,
                    exit_code: exit,
                    restarts: st.map_or(0, |s| s.restart_count),
                    ok,
                });
            }
        }
    }
    let events = info
        .events
        .iter()
        .map(|e| EventView {
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .collect();
    (containers, events)
}

/// A links lens entry: `artifacts/<dir>/<name>.link.txt` holds one URL; only http(s) URLs link.
pub fn link(path: &str, body: &str) -> Option<(String, String)> {
    let url = body.lines().next()?.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    let name = base.strip_suffix(".link.txt").unwrap_or(base);
    Some((name.to_owned(), url.to_owned()))
}

/// The `<title>` of an HTML report, else its file name.
pub fn html_title(path: &str, html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|start| {
        let from = start + "<title>".len();
        let end = lower[from..].find("</title>")? + from;
        html.get(from..end).map(str::trim)
    });
    match title {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => path.rsplit('/').next().unwrap_or(path).to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn configured_lenses_need_every_required_file_and_keep_config_order() {
        let config = serde_json::json!({"lenses": [
            {"lens": {"name": "junit"}, "required_files": ["junit.*\\.xml"]},
            {"lens": {"name": "metadata"}, "required_files": ["^started\\.json$", "^finished\\.json$"],
             "optional_files": ["^podinfo\\.json$"]},
            {"lens": {"name": "buildlog", "config": {"highlight_regexes": ["boom"]}},
             "required_files": ["^build-log\\.txt$"]},
            {"lens": {"name": "coverage"}, "required_files": ["cov"]}
        ]});
        let lenses = from_config(Some(&config)).unwrap();
        assert_eq!(lenses.len(), 3, "an unknown lens is skipped");
        assert_eq!(lenses[2].config["highlight_regexes"][0], "boom");
        let artifacts = files(&[
            "build-log.txt",
            "started.json",
            "podinfo.json",
            "artifacts/junit_01.xml",
            "artifacts/sub/junit_02.xml",
        ]);
        let chosen = select(&lenses, &artifacts);
        let names: Vec<&str> = chosen.iter().map(|s| s.name.as_str()).collect();
        // No finished.json: the metadata lens needs both.
        assert_eq!(names, ["junit", "buildlog"]);
        // Unanchored, as Go's MatchString: the nested junit file matches too.
        assert_eq!(
            chosen[0].files,
            files(&["artifacts/junit_01.xml", "artifacts/sub/junit_02.xml"])
        );
        let mut with_finished = artifacts.clone();
        with_finished.push("finished.json".into());
        let chosen = select(&lenses, &with_finished);
        assert_eq!(
            chosen[1],
            Selected {
                name: "metadata".into(),
                files: files(&["started.json", "finished.json", "podinfo.json"])
            }
        );
    }

    #[test]
    fn no_lenses_configured_means_prows_defaults_and_a_bad_regex_is_an_error() {
        assert_eq!(from_config(None).unwrap().len(), 6);
        assert_eq!(
            from_config(Some(&serde_json::json!({"size_limit": 100})))
                .unwrap()
                .len(),
            6
        );
        let bad =
            serde_json::json!({"lenses": [{"lens": {"name": "html"}, "required_files": ["("]}]});
        assert!(matches!(
            from_config(Some(&bad)),
            Err(LensError::Regex { index: 0, .. })
        ));
        let chosen = select(
            &defaults(),
            &files(&["artifacts/report.html", "artifacts/a/docs.link.txt"]),
        );
        let names: Vec<&str> = chosen.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["links", "html"]);
    }

    #[test]
    fn pod_info_shows_containers_exit_codes_and_events() {
        let info: PodInfo = serde_json::from_value(serde_json::json!({
            "pod": {
                "metadata": {"name": "p"},
                "spec": {"initContainers": [{"name": "clonerefs", "image": "clonerefs:1"}],
                         "containers": [{"name": "test", "image": "golang:1"}, {"name": "sidecar"}]},
                "status": {
                    "initContainerStatuses": [{"name": "clonerefs", "image": "clonerefs:1", "imageID": "", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                    "containerStatuses": [{"name": "test", "image": "golang:1", "imageID": "", "ready": false, "restartCount": 1,
                        "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]
                }
            },
            "events": [{"metadata": {"name": "e"}, "involvedObject": {}, "type": "Warning", "reason": "BackOff", "message": "Back-off restarting", "count": 3}]
        }))
        .unwrap();
        let (containers, events) = pod_view(&info);
        assert_eq!(containers.len(), 3);
        assert_eq!(containers[0].kind, "init");
        assert!(containers[0].ok);
        assert_eq!(containers[1].exit_code, Some(2));
        assert_eq!(containers[1].state, "terminated (Error)");
        assert_eq!(containers[1].restarts, 1);
        assert!(!containers[1].ok);
        assert_eq!(containers[2].state, "unknown");
        assert_eq!(events[0].reason, "BackOff");
        assert_eq!(events[0].count, 3);
    }

    #[test]
    fn links_need_http_urls_and_html_reports_are_titled() {
        assert_eq!(
            link(
                "artifacts/x/Dashboard.link.txt",
                "https://d.example/run/1\n"
            ),
            Some(("Dashboard".into(), "https://d.example/run/1".into()))
        );
        assert_eq!(link("artifacts/evil.link.txt", "javascript:alert(1)"), None);
        assert_eq!(
            html_title("artifacts/r.html", "<html><TITLE> Coverage </TITLE>"),
            "Coverage"
        );
        assert_eq!(html_title("artifacts/r.html", "<p>hi"), "r.html");
        let rows = metadata_rows(&[
            serde_json::json!({"node": "n1", "infra": {"a": 1}}).as_object(),
            None,
        ]);
        assert_eq!(
            rows,
            vec![
                ("infra".into(), "{\"a\":1}".into()),
                ("node".into(), "n1".into())
            ]
        );
    }
}
