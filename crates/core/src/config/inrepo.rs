//! In-repo config (`.prow.yaml` or `.prow/*.yaml`): where it is enabled, which clusters its jobs
//! may use, which files of a tree Prow reads, and its jobs defaulted and validated against the
//! central config (Prow's `pkg/config/inrepoconfig.go`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Config, Diagnostic, LoadError, Postsubmit, Presubmit};

/// The single-file form, read when the repository has no `.prow/` directory.
pub const PROW_YAML_FILE: &str = ".prow.yaml";
/// The directory form: every `*.yaml`/`*.yml` below it, concatenated.
pub const PROW_YAML_DIR: &str = ".prow";

/// The cluster in-repo jobs may use when `allowed_clusters` has no `"*"` entry.
const DEFAULT_CLUSTER: &str = "default";

/// `config.yaml`'s `in_repo_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InRepoConfig {
    /// `"*"`, org or `org/repo` -> on/off; the narrowest key set wins, off when none is.
    pub enabled: BTreeMap<String, bool>,
    /// `"*"`, org or `org/repo` -> clusters; a repo may use the union of its three levels.
    pub allowed_clusters: BTreeMap<String, Vec<String>>,
}

/// The keys that apply to `org/repo`, narrowest first.
fn keys_for(org_repo: &str) -> [&str; 3] {
    let org = org_repo.split_once('/').map_or(org_repo, |(org, _)| org);
    [org_repo, org, "*"]
}

impl InRepoConfig {
    /// Whether jobs of `org/repo` are also read from the repository.
    pub fn enabled_for(&self, org_repo: &str) -> bool {
        keys_for(org_repo)
            .iter()
            .find_map(|k| self.enabled.get(*k))
            .copied()
            .unwrap_or(false)
    }

    /// Whether an in-repo job of `org/repo` may run on `cluster`. Without a `"*"` entry every
    /// repo may use `default`; an explicit `"*": []` takes that away, as in Prow.
    pub fn allows_cluster(&self, cluster: &str, org_repo: &str) -> bool {
        if !self.allowed_clusters.contains_key("*") && cluster == DEFAULT_CLUSTER {
            return true;
        }
        keys_for(org_repo).iter().any(|k| {
            self.allowed_clusters
                .get(*k)
                .is_some_and(|clusters| clusters.iter().any(|c| c == cluster))
        })
    }
}

/// Whether a change touches the in-repo config (Prow's `ContainsInRepoConfigPath`).
pub fn touches_in_repo_config<S: AsRef<str>>(changed_files: &[S]) -> bool {
    changed_files.iter().any(|f| {
        let f = f.as_ref();
        f == PROW_YAML_FILE || f.starts_with(".prow/")
    })
}

/// Which of a tree's file paths Prow reads, in the order it reads them: the YAML files under
/// `.prow/` when there are any (Prow then ignores `.prow.yaml`), ordered as Go's `filepath.Walk`
/// visits them; else `.prow.yaml` if present.
pub fn in_repo_config_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut dir_files = Vec::new();
    let mut single = false;
    for path in paths {
        if path == PROW_YAML_FILE {
            single = true;
        } else if path.starts_with(".prow/") && is_yaml(path) {
            dir_files.push(path.to_owned());
        }
    }
    if dir_files.is_empty() {
        return if single {
            vec![PROW_YAML_FILE.to_owned()]
        } else {
            Vec::new()
        };
    }
    // Walk order compares names within a directory, so `a/b.yaml` comes before `a.yaml`,
    // which a plain string sort puts the other way round ('.' < '/').
    dir_files.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    dir_files
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// One in-repo config file: its path in the repository and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InRepoFile {
    pub path: String,
    pub text: String,
}

/// Reads a checkout's in-repo config files (`prow check-config --prow-yaml-repo-name`, `prow try`).
/// A `.prow.yaml` beside a `.prow/` directory is left out, as Prow ignores it; the second value
/// says so, for a warning.
pub fn read_in_repo_config_dir(dir: &Path) -> std::io::Result<(Vec<InRepoFile>, bool)> {
    let mut paths = Vec::new();
    let prow_dir = dir.join(PROW_YAML_DIR);
    if prow_dir.is_dir() {
        collect(&prow_dir, PROW_YAML_DIR, &mut paths)?;
    }
    let single = dir.join(PROW_YAML_FILE).is_file();
    if single {
        paths.push(PROW_YAML_FILE.to_owned());
    }
    let chosen = in_repo_config_paths(paths.iter().map(String::as_str));
    let shadowed = single && !chosen.iter().any(|p| p == PROW_YAML_FILE);
    let files = chosen
        .into_iter()
        .map(|path| std::fs::read_to_string(dir.join(&path)).map(|text| InRepoFile { path, text }))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok((files, shadowed))
}

fn collect(dir: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{rel}/{name}");
        if entry.file_type()?.is_dir() {
            collect(&entry.path(), &rel, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// A repository's in-repo jobs, defaulted like central jobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProwYaml {
    pub presubmits: Vec<Presubmit>,
    pub postsubmits: Vec<Postsubmit>,
    /// Unknown fields and other problems that do not stop the jobs from running.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// Defaults and validates `org/repo`'s in-repo config files as Prow's
    /// `DefaultAndValidateProwYAML`: central presets and decoration defaults apply, names must
    /// not collide with the repo's central jobs, and every job's cluster must be allowed.
    /// Errors name the file and line.
    pub fn prow_yaml(&self, org_repo: &str, files: &[InRepoFile]) -> Result<ProwYaml, LoadError> {
        super::load::load_prow_yaml(self, org_repo, files)
    }

    /// The repo's central presubmits followed by `in_repo`'s (Prow's `GetPresubmits`).
    pub fn presubmits_with(
        &self,
        org_repo: &str,
        in_repo: Option<&ProwYaml>,
    ) -> Result<Vec<Presubmit>, super::SectionError> {
        let mut jobs = self.presubmits_for(org_repo)?.to_vec();
        jobs.extend(
            in_repo
                .into_iter()
                .flat_map(|y| y.presubmits.iter().cloned()),
        );
        Ok(jobs)
    }

    /// The repo's central postsubmits followed by `in_repo`'s (Prow's `GetPostsubmits`).
    pub fn postsubmits_with(
        &self,
        org_repo: &str,
        in_repo: Option<&ProwYaml>,
    ) -> Result<Vec<Postsubmit>, super::SectionError> {
        let mut jobs = self.postsubmits_for(org_repo)?.to_vec();
        jobs.extend(
            in_repo
                .into_iter()
                .flat_map(|y| y.postsubmits.iter().cloned()),
        );
        Ok(jobs)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
