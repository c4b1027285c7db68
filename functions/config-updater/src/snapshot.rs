//! The compiled config snapshot, without I/O: whether a merge touches the config it is compiled
//! from, which files at the merge SHA it reads, and compiling them exactly as
//! `prow config compile` does (same loader, same validation, same encoder).
//!
//! Every function in a cluster reads the snapshot (`CONFIG_PATH=/etc/config/config.snapshot`
//! from the `prow-config` ConfigMap), not the YAML, so writing the raw files into ConfigMaps
//! (Prow's `config_updater.maps`) alone would never change what they act on. A merge that
//! touches config.yaml, the job config or plugins.yaml is therefore compiled here and the
//! snapshot written into that ConfigMap; a config that does not compile is never written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use prow_core::config::{self, LoadError, LoadOptions, Summary, snapshot};
use prow_github::{PullRequestChange, TreeEntry};

use crate::decide::ConfigMapId;

/// A ConfigMap holds at most 1 MiB of data; the API server refuses anything larger.
pub const CONFIGMAP_LIMIT: usize = 1024 * 1024;

/// Where the config lives in the config repository and where its snapshot goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotTarget {
    /// Only merges into this `org/repo` compile the snapshot; `None`: any repo with
    /// config-updater enabled.
    pub repo: Option<String>,
    /// config.yaml's path in the repository.
    pub config_path: String,
    /// The job config directory (or file) in the repository, if any.
    pub job_config_path: Option<String>,
    /// plugins.yaml's path in the repository, if any.
    pub plugin_config_path: Option<String>,
    /// The ConfigMap the functions mount (cluster `default`: the one config-updater runs in).
    pub configmap: ConfigMapId,
    /// Its key, the file name under the mount (`CONFIG_PATH`'s base name).
    pub key: String,
}

impl SnapshotTarget {
    /// Whether a merge into `org/repo` changing `changes` must recompile the snapshot: a
    /// changed, added, removed or renamed file that is config.yaml, plugins.yaml or a YAML file
    /// of the job config.
    pub fn wanted(&self, changes: &[PullRequestChange], org: &str, repo: &str) -> bool {
        if self
            .repo
            .as_deref()
            .is_some_and(|only| !only.eq_ignore_ascii_case(&format!("{org}/{repo}")))
        {
            return false;
        }
        changes.iter().any(|c| {
            std::iter::once(c.filename.as_str())
                .chain(c.previous_filename.as_deref())
                .any(|path| self.is_source(path))
        })
    }

    fn is_source(&self, path: &str) -> bool {
        path == self.config_path
            || self.plugin_config_path.as_deref() == Some(path)
            || self
                .job_config_path
                .as_deref()
                .is_some_and(|jobs| path == jobs || (is_under(path, jobs) && is_yaml(path)))
    }

    /// The files to read at the merge SHA: config.yaml, plugins.yaml and every YAML file of the
    /// job config `tree` (the repository's recursive listing) holds, as the loader would walk
    /// the directory in a checkout.
    pub fn sources(&self, tree: &[TreeEntry]) -> Vec<String> {
        let mut files = vec![self.config_path.clone()];
        files.extend(self.plugin_config_path.clone());
        if let Some(jobs) = &self.job_config_path {
            files.extend(
                tree.iter()
                    .filter(|e| e.kind == "blob")
                    .filter(|e| e.path == *jobs || (is_under(&e.path, jobs) && is_yaml(&e.path)))
                    .map(|e| e.path.clone()),
            );
        }
        files
    }

    /// The load options naming the repository paths, for [`compile`].
    fn options(&self) -> LoadOptions {
        LoadOptions {
            config_path: PathBuf::from(&self.config_path),
            job_config_path: self.job_config_path.as_ref().map(PathBuf::from),
            plugin_config_path: self.plugin_config_path.as_ref().map(PathBuf::from),
        }
    }

    /// How the report names what the snapshot was compiled from.
    pub fn describe_sources(&self) -> String {
        let mut parts = vec![self.config_path.as_str()];
        parts.extend(self.job_config_path.as_deref());
        parts.extend(self.plugin_config_path.as_deref());
        format!("{} (compiled)", parts.join(" + "))
    }
}

fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// A snapshot ready to publish.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub bytes: Vec<u8>,
    pub summary: Summary,
}

/// Why the merged config was not published.
#[derive(Debug, thiserror::Error)]
pub enum CompileFailure {
    /// The config does not load: each error as `file:line:column: field: message`, as
    /// `prow check-config` prints it.
    #[error(transparent)]
    Invalid(#[from] LoadError),
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error("the snapshot is {0} bytes, more than a ConfigMap can hold (1 MiB)")]
    TooLarge(usize),
}

/// Compiles the files read at the merge SHA (path -> content) exactly as
/// `prow config compile` compiles a checkout. A missing file is the loader's "cannot read".
pub fn compile(
    target: &SnapshotTarget,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Compiled, CompileFailure> {
    let files = files
        .iter()
        .map(|(path, bytes)| {
            (
                PathBuf::from(path),
                String::from_utf8_lossy(bytes).into_owned(),
            )
        })
        .collect();
    let loaded = config::load_in_memory(&target.options(), files)?;
    let bytes = snapshot::compile(&loaded.config)?;
    if bytes.len() > CONFIGMAP_LIMIT {
        return Err(CompileFailure::TooLarge(bytes.len()));
    }
    Ok(Compiled {
        bytes,
        summary: loaded.config.summary(),
    })
}

/// The message (inside the bot's reply) when the merged config does not compile: nothing was
/// written, and each error as check-config words it.
pub fn failure_report(target: &SnapshotTarget, failure: &CompileFailure) -> String {
    let details = match failure {
        CompileFailure::Invalid(err) => {
            let mut lines: Vec<String> = err.errors().map(ToString::to_string).collect();
            lines.push(format!("config invalid: {} error(s)", lines.len()));
            lines.join("\n")
        }
        other => other.to_string(),
    };
    format!(
        "The merged config does not compile, so it was not published: every function keeps the config it runs now, and no configmap was updated.\n\n```\n{details}\n```\n\nFix it in a new pull request; its merge publishes the config (`{}` configmap in namespace `{}`, key `{}`).",
        target.configmap.name, target.configmap.namespace, target.key
    )
}

/// The line the success report adds about the snapshot.
pub fn success_line(compiled: &Compiled) -> String {
    let s = compiled.summary;
    format!(
        "The compiled config is live within a minute: {} presubmits, {} postsubmits, {} periodics across {} repos.",
        s.presubmits, s.postsubmits, s.periodics, s.repos
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target() -> SnapshotTarget {
        SnapshotTarget {
            repo: None,
            config_path: "config/config.yaml".into(),
            job_config_path: Some("config/jobs".into()),
            plugin_config_path: Some("config/plugins.yaml".into()),
            configmap: ConfigMapId {
                name: "prow-config".into(),
                namespace: "prow".into(),
                cluster: "default".into(),
            },
            key: "config.snapshot".into(),
        }
    }

    fn change(file: &str, previous: Option<&str>) -> PullRequestChange {
        PullRequestChange {
            filename: file.into(),
            previous_filename: previous.map(str::to_owned),
            status: if previous.is_some() {
                "renamed"
            } else {
                "modified"
            }
            .into(),
            ..PullRequestChange::default()
        }
    }

    #[test]
    fn only_the_files_the_config_is_compiled_from_recompile_it() {
        let only_cfg = SnapshotTarget {
            repo: Some("acme/Config".into()),
            ..target()
        };
        let cases = [
            (
                "config.yaml",
                target(),
                "acme/cfg",
                vec![change("config/config.yaml", None)],
                true,
            ),
            (
                "plugins.yaml",
                target(),
                "acme/cfg",
                vec![change("config/plugins.yaml", None)],
                true,
            ),
            (
                "a job file deep down",
                target(),
                "acme/cfg",
                vec![change("config/jobs/a/b/c.yml", None)],
                true,
            ),
            (
                "a README among the jobs",
                target(),
                "acme/cfg",
                vec![change("config/jobs/README.md", None)],
                false,
            ),
            (
                "a sibling directory with a shared prefix",
                target(),
                "acme/cfg",
                vec![change("config/jobs-old/a.yaml", None)],
                false,
            ),
            (
                "a job file renamed out of the tree",
                target(),
                "acme/cfg",
                vec![change("attic/a.yaml", Some("config/jobs/a.yaml"))],
                true,
            ),
            (
                "unrelated files",
                target(),
                "acme/cfg",
                vec![change("README.md", None), change("config/other.yaml", None)],
                false,
            ),
            (
                "the config repo, any case",
                only_cfg.clone(),
                "acme/config",
                vec![change("config/config.yaml", None)],
                true,
            ),
            (
                "another repo than the config repo",
                only_cfg,
                "acme/other",
                vec![change("config/config.yaml", None)],
                false,
            ),
        ];
        for (name, target, repo, changes, want) in cases {
            let (org, repo) = repo.split_once('/').unwrap_or_default();
            assert_eq!(target.wanted(&changes, org, repo), want, "{name}");
        }
    }

    #[test]
    fn the_job_config_is_every_yaml_blob_under_its_directory() {
        let entry = |path: &str, kind: &str| TreeEntry {
            path: path.into(),
            kind: kind.into(),
            sha: String::new(),
            mode: String::new(),
            size: None,
        };
        let tree = [
            entry("config", "tree"),
            entry("config/config.yaml", "blob"),
            entry("config/jobs", "tree"),
            entry("config/jobs/a.yaml", "blob"),
            entry("config/jobs/x", "tree"),
            entry("config/jobs/x/b.yml", "blob"),
            entry("config/jobs/x/OWNERS", "blob"),
            entry("config/jobs/sub.yaml", "commit"),
            entry("config/jobsfoo/c.yaml", "blob"),
        ];
        assert_eq!(
            target().sources(&tree),
            [
                "config/config.yaml",
                "config/plugins.yaml",
                "config/jobs/a.yaml",
                "config/jobs/x/b.yml",
            ]
        );
        let no_jobs = SnapshotTarget {
            job_config_path: None,
            plugin_config_path: None,
            ..target()
        };
        assert_eq!(no_jobs.sources(&tree), ["config/config.yaml"]);
    }

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        list.iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect()
    }

    const JOB: &str = "presubmits:\n  acme/app:\n  - name: unit\n    always_run: true\n    spec: {containers: [{image: alpine}]}\n";

    #[test]
    fn a_valid_config_compiles_to_a_snapshot_that_opens_as_it() {
        let compiled = compile(
            &target(),
            &files(&[
                ("config/config.yaml", "prowjob_namespace: prow\n"),
                ("config/jobs/acme/app.yaml", JOB),
                (
                    "config/plugins.yaml",
                    "plugins:\n  acme/app: [config-updater]\n",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(compiled.summary.presubmits, 1);
        let config = snapshot::decode(compiled.bytes).unwrap();
        assert_eq!(
            config.presubmits_for("acme/app").unwrap()[0].base.name,
            "unit"
        );
        assert!(config.plugins.is_enabled("acme", "app", "config-updater"));
    }

    #[test]
    fn an_invalid_config_is_reported_as_check_config_words_it() {
        let cases = [
            (
                "a job breaking a rule",
                files(&[
                    ("config/config.yaml", "prowjob_namespace: prow\n"),
                    (
                        "config/jobs/acme/app.yaml",
                        &format!("{JOB}    run_if_changed: x\n"),
                    ),
                    ("config/plugins.yaml", ""),
                ]),
                "config/jobs/acme/app.yaml:4:5: presubmits.acme/app[0].always_run: job unit is set to always run but also declares run_if_changed targets, which are mutually exclusive\nconfig invalid: 1 error(s)",
            ),
            (
                "plugins.yaml missing at the merge",
                files(&[("config/config.yaml", "prowjob_namespace: prow\n")]),
                "config/plugins.yaml:0:0: <file>: cannot read: no such file\nconfig invalid: 1 error(s)",
            ),
        ];
        for (name, files, want) in cases {
            let failure = compile(&target(), &files).unwrap_err();
            let report = failure_report(&target(), &failure);
            assert!(
                report.contains(&format!("```\n{want}\n```")),
                "{name}: {report}"
            );
            assert!(
                report.starts_with("The merged config does not compile"),
                "{name}"
            );
        }
    }
}
