//! Prow job definitions (presubmits, postsubmits, periodics, presets) in their YAML shape and
//! their finalized, defaulted form.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::api::core::v1::{EnvVar, PodSpec, Toleration, Volume, VolumeMount};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::lazy::Lazy;
use crate::prowjob::{DecorationConfig, ProwJobDefault, Refs, ReporterConfig, RerunAuthConfig};

/// A job as written in YAML: the union of Prow's JobBase, UtilityConfig, Brancher,
/// RegexpChangeMatcher, Reporter and the type-specific fields. Fields that do not belong to the
/// job's type are reported as unknown when the job is finalized.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawJob {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub max_concurrency: i64,
    pub agent: String,
    pub cluster: String,
    pub namespace: Option<String>,
    pub error_on_eviction: bool,
    pub spec: Option<PodSpec>,
    pub pipeline_run_spec: Option<serde_json::Value>,
    pub tekton_pipeline_run_spec: Option<serde_json::Value>,
    pub reporter_config: Option<ReporterConfig>,
    pub rerun_auth_config: Option<RerunAuthConfig>,
    pub hidden: bool,
    pub prowjob_defaults: Option<ProwJobDefault>,
    pub job_queue_name: String,
    // UtilityConfig
    pub decorate: Option<bool>,
    pub path_alias: String,
    pub clone_uri: String,
    pub skip_submodules: bool,
    pub clone_depth: i64,
    pub skip_fetch_head: bool,
    pub extra_refs: Vec<Refs>,
    pub decoration_config: Option<DecorationConfig>,
    // Brancher, RegexpChangeMatcher, Reporter (presubmit, postsubmit)
    pub branches: Vec<String>,
    pub skip_branches: Vec<String>,
    pub run_if_changed: String,
    pub skip_if_only_changed: String,
    pub context: String,
    pub skip_report: bool,
    // Presubmit (always_run is also the postsubmit's optional flag)
    pub always_run: Option<bool>,
    pub optional: bool,
    pub trigger: String,
    pub rerun_command: String,
    pub run_before_merge: bool,
    pub jenkins_spec: Option<serde_json::Value>,
    // Periodic
    pub interval: String,
    pub minimum_interval: String,
    pub cron: String,
    pub tags: Vec<String>,
    pub retry: Option<Retry>,
}

/// Fields common to every job type (Prow's JobBase + UtilityConfig), after defaulting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobBase {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub max_concurrency: u32,
    /// `kubernetes` unless configured.
    pub agent: String,
    /// `default` unless configured.
    pub cluster: String,
    /// The pod namespace unless configured.
    pub namespace: String,
    pub error_on_eviction: bool,
    /// Decoded on first use when the config came from a snapshot.
    pub spec: Option<Lazy<PodSpec>>,
    pub pipeline_run_spec: Option<serde_json::Value>,
    pub reporter_config: Option<ReporterConfig>,
    pub rerun_auth_config: Option<RerunAuthConfig>,
    pub hidden: bool,
    pub prowjob_defaults: Option<ProwJobDefault>,
    pub job_queue_name: String,
    pub utility: UtilityConfig,
    /// Where the job was defined, for error messages.
    pub source: JobSource,
}

/// Prow's UtilityConfig: how the pod utilities clone and decorate the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UtilityConfig {
    pub decorate: bool,
    pub path_alias: String,
    pub clone_uri: String,
    pub skip_submodules: bool,
    pub clone_depth: i64,
    pub skip_fetch_head: bool,
    pub extra_refs: Vec<Refs>,
    /// The job's decoration config merged over the matching `plank.default_decoration_config_entries`
    /// (set only when the job is decorated).
    pub decoration_config: Option<DecorationConfig>,
}

/// The file a job came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobSource {
    pub file: Arc<str>,
}

/// Branch filters: `branches` and `skip_branches` are each joined with `|` into one unanchored
/// regex, as Prow does; skip wins; neither set means every branch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Brancher {
    pub branches: Vec<String>,
    pub skip_branches: Vec<String>,
    #[serde(skip)]
    compiled: Compiled<(Pattern, Pattern)>,
}

/// A value compiled on first use from the fields beside it; it is derived data, so it takes no
/// part in equality and is not serialized.
#[derive(Debug, Clone)]
pub(crate) struct Compiled<T>(OnceLock<T>);

impl<T> Default for Compiled<T> {
    fn default() -> Self {
        Compiled(OnceLock::new())
    }
}

impl<T> PartialEq for Compiled<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Compiled<T> {
    fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }
}

/// A compiled filter regex. Patterns are validated at load time; one that still fails to compile
/// matches nothing rather than everything.
#[derive(Debug, Clone)]
enum Pattern {
    Unset,
    Valid(Regex),
    Invalid,
}

impl Pattern {
    /// Compiles through a process-wide cache: jobs repeat the same few filters (kubernetes/kubernetes
    /// has 533 over 461 presubmits, 39 distinct), and compiling each copy was most of a cold
    /// function's first event. Patterns come from the config, so the cache stays config-sized.
    fn compile(pattern: &str) -> Self {
        static CACHE: OnceLock<Mutex<HashMap<String, Pattern>>> = OnceLock::new();
        if pattern.is_empty() {
            return Pattern::Unset;
        }
        let cache = CACHE.get_or_init(Mutex::default);
        if let Some(hit) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
            return hit;
        }
        let compiled = Regex::new(pattern).map_or(Pattern::Invalid, Pattern::Valid);
        if let Ok(mut cache) = cache.lock() {
            cache.insert(pattern.to_string(), compiled.clone());
        }
        compiled
    }

    fn joined(patterns: &[String]) -> Self {
        Self::compile(&patterns.join("|"))
    }

    fn matches(&self, text: &str) -> bool {
        matches!(self, Pattern::Valid(re) if re.is_match(text))
    }
}

impl Brancher {
    pub fn new(branches: Vec<String>, skip_branches: Vec<String>) -> Self {
        Self {
            branches,
            skip_branches,
            compiled: Compiled::default(),
        }
    }

    fn patterns(&self) -> &(Pattern, Pattern) {
        self.compiled.get_or_init(|| {
            (
                Pattern::joined(&self.branches),
                Pattern::joined(&self.skip_branches),
            )
        })
    }

    pub fn runs_against_all_branches(&self) -> bool {
        self.branches.is_empty() && self.skip_branches.is_empty()
    }

    /// Whether a job with this filter runs against `branch` (a base ref without `refs/heads/`).
    pub fn should_run(&self, branch: &str) -> bool {
        if self.runs_against_all_branches() {
            return true;
        }
        let (run, skip) = self.patterns();
        if skip.matches(branch) {
            return false;
        }
        matches!(run, Pattern::Unset) || run.matches(branch)
    }

    /// Whether two filters can both match some branch (Prow's `Intersects`, used to find duplicates).
    pub fn intersects(&self, other: &Brancher) -> bool {
        if self.runs_against_all_branches() || other.runs_against_all_branches() {
            return true;
        }
        if !self.branches.is_empty() {
            if !other.branches.is_empty() {
                return self.branches.iter().any(|b| other.branches.contains(b));
            }
            return self.branches.iter().any(|b| other.should_run(b));
        }
        if other.branches.is_empty() {
            // Both only skip some branches: some branch is surely left for both.
            return true;
        }
        other.intersects(self)
    }
}

/// `run_if_changed` / `skip_if_only_changed`: file filters over a change's paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeMatcher {
    pub run_if_changed: String,
    pub skip_if_only_changed: String,
    #[serde(skip)]
    compiled: Compiled<Pattern>,
}

impl ChangeMatcher {
    pub fn new(run_if_changed: String, skip_if_only_changed: String) -> Self {
        Self {
            run_if_changed,
            skip_if_only_changed,
            compiled: Compiled::default(),
        }
    }

    /// Whether a file filter is configured at all (a job without one is "always run" or manual).
    pub fn could_run(&self) -> bool {
        !self.run_if_changed.is_empty() || !self.skip_if_only_changed.is_empty()
    }

    fn pattern(&self) -> &Pattern {
        self.compiled.get_or_init(|| {
            Pattern::compile(if self.run_if_changed.is_empty() {
                &self.skip_if_only_changed
            } else {
                &self.run_if_changed
            })
        })
    }

    /// Prow's `RunsAgainstChanges`: `run_if_changed` runs if any path matches; `skip_if_only_changed`
    /// runs if any path does not match (so it skips only when every path matches).
    pub fn runs_against_changes<S: AsRef<str>>(&self, changes: &[S]) -> bool {
        let pattern = self.pattern();
        if matches!(pattern, Pattern::Unset) {
            return false;
        }
        if !self.run_if_changed.is_empty() {
            changes.iter().any(|c| pattern.matches(c.as_ref()))
        } else {
            changes.iter().any(|c| !pattern.matches(c.as_ref()))
        }
    }
}

/// A presubmit: runs on pull requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Presubmit {
    pub base: JobBase,
    pub brancher: Brancher,
    pub changes: ChangeMatcher,
    /// GitHub status context; defaults to the job name.
    pub context: String,
    pub skip_report: bool,
    pub always_run: bool,
    pub optional: bool,
    /// Regex matching comments that trigger this job; Prow's default when unset.
    pub trigger: String,
    pub rerun_command: String,
    pub run_before_merge: bool,
    #[serde(skip)]
    pub(crate) trigger_re: Compiled<Option<Regex>>,
}

/// Prow's default trigger regex for a job: `/test <name>` on its own line (name is not escaped, as in Prow).
pub fn default_trigger_for(name: &str) -> String {
    format!(r"(?m)^/test( | .* ){name},?($|\s.*)")
}

/// Prow's default rerun command for a job.
pub fn default_rerun_command_for(name: &str) -> String {
    format!("/test {name}")
}

impl Presubmit {
    pub fn name(&self) -> &str {
        &self.base.name
    }

    /// Whether a comment body triggers this job explicitly (`/test <name>` or a custom trigger).
    pub fn triggered_by(&self, body: &str) -> bool {
        self.trigger_re
            .get_or_init(|| Regex::new(&self.trigger).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(body))
    }

    /// A manual job runs only when asked for by name (no always_run, no file filter).
    pub fn is_manual(&self) -> bool {
        !self.always_run && !self.changes.could_run()
    }

    /// Required for merge: reported and not optional.
    pub fn is_required(&self) -> bool {
        !self.optional && !self.skip_report
    }

    pub fn set_trigger(&mut self, trigger: String, rerun_command: String) {
        self.trigger = trigger;
        self.rerun_command = rerun_command;
        self.trigger_re = Compiled::default();
    }
}

/// A postsubmit: runs on pushes to a branch (or tag).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Postsubmit {
    pub base: JobBase,
    pub brancher: Brancher,
    pub changes: ChangeMatcher,
    pub context: String,
    pub skip_report: bool,
    /// `None` means "not set": runs unless a file filter says otherwise.
    pub always_run: Option<bool>,
}

impl Postsubmit {
    pub fn name(&self) -> &str {
        &self.base.name
    }
}

/// Re-runs of a failed periodic (Prow's `retry`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retry {
    pub run_all: bool,
    pub attempts: i64,
    pub interval: String,
}

/// A periodic: runs on a schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Periodic {
    pub base: JobBase,
    pub interval: String,
    pub minimum_interval: String,
    pub cron: String,
    pub tags: Vec<String>,
    pub retry: Option<Retry>,
}

impl Periodic {
    pub fn name(&self) -> &str {
        &self.base.name
    }
}

/// A preset: env, volumes, mounts and tolerations merged into every job whose labels carry all of
/// the preset's labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preset {
    pub labels: BTreeMap<String, String>,
    pub env: Vec<EnvVar>,
    pub volumes: Vec<Volume>,
    #[serde(rename = "volumeMounts")]
    pub volume_mounts: Vec<VolumeMount>,
    pub tolerations: Vec<Toleration>,
}

impl Preset {
    pub fn applies_to(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// Merges this preset into a pod spec as Prow's `mergePreset` does; a name clash is an error.
    pub fn merge_into(&self, spec: &mut PodSpec) -> Result<(), String> {
        for env in &self.env {
            for c in &mut spec.containers {
                let envs = c.env.get_or_insert_with(Vec::new);
                if envs.iter().any(|e| e.name == env.name) {
                    return Err(format!("env var duplicated in pod spec: {}", env.name));
                }
                envs.push(env.clone());
            }
        }
        for volume in &self.volumes {
            let volumes = spec.volumes.get_or_insert_with(Vec::new);
            if volumes.iter().any(|v| v.name == volume.name) {
                return Err(format!("volume duplicated in pod spec: {}", volume.name));
            }
            volumes.push(volume.clone());
        }
        for mount in &self.volume_mounts {
            for c in &mut spec.containers {
                let mounts = c.volume_mounts.get_or_insert_with(Vec::new);
                if mounts.iter().any(|m| m.name == mount.name) {
                    return Err(format!(
                        "volume mount duplicated in pod spec: {}",
                        mount.name
                    ));
                }
                mounts.push(mount.clone());
            }
        }
        for toleration in &self.tolerations {
            let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
            if tolerations.contains(toleration) {
                return Err(format!("toleration duplicated in pod spec: {toleration:?}"));
            }
            tolerations.push(toleration.clone());
        }
        Ok(())
    }
}

/// One job config file (or the job part of config.yaml) as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawJobConfig {
    pub presets: Vec<Preset>,
    pub presubmits: Option<BTreeMap<String, Option<Vec<RawJob>>>>,
    pub postsubmits: Option<BTreeMap<String, Option<Vec<RawJob>>>>,
    pub periodics: Option<Vec<RawJob>>,
    pub decorate_all_jobs: bool,
    /// Prow's escape hatch for tooling data in job files; never parsed.
    pub prow_ignored: Option<serde_norway::Value>,
}

/// One in-repo config file (`.prow.yaml` or a file under `.prow/`) as written: Prow's
/// ProwYAML, which has no periodics and whose job lists carry no repo key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawProwYaml {
    pub presets: Vec<Preset>,
    pub presubmits: Option<Vec<RawJob>>,
    pub postsubmits: Option<Vec<RawJob>>,
    pub prow_ignored: Option<serde_norway::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brancher(branches: &[&str], skip: &[&str]) -> Brancher {
        Brancher::new(
            branches.iter().map(|s| s.to_string()).collect(),
            skip.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn branch_filters_follow_prow() {
        // (branches, skip_branches, branch, runs)
        let cases: &[(&[&str], &[&str], &str, bool)] = &[
            (&[], &[], "anything", true),
            (&["main"], &[], "main", true),
            (&["main"], &[], "release-1.0", false),
            // Unanchored, like Go's MatchString: "main" also matches "maintenance".
            (&["main"], &[], "maintenance", true),
            (&["^main$"], &[], "maintenance", false),
            (&["^release-.*"], &[], "release-1.30", true),
            (&[], &["^release-"], "release-1.30", false),
            (&[], &["^release-"], "main", true),
            // skip wins over branches
            (&["^release-"], &["^release-1\\.2"], "release-1.2", false),
            (&["^v.*"], &[], "v1.2.3", true),
        ];
        for (branches, skip, branch, want) in cases {
            assert_eq!(
                brancher(branches, skip).should_run(branch),
                *want,
                "{branches:?} {skip:?} {branch}"
            );
        }
    }

    #[test]
    fn brancher_intersection_finds_overlaps() {
        assert!(brancher(&[], &[]).intersects(&brancher(&["main"], &[])));
        assert!(brancher(&["main"], &[]).intersects(&brancher(&["main", "dev"], &[])));
        assert!(!brancher(&["main"], &[]).intersects(&brancher(&["dev"], &[])));
        assert!(!brancher(&["main"], &[]).intersects(&brancher(&[], &["main"])));
        assert!(brancher(&["main"], &[]).intersects(&brancher(&[], &["dev"])));
        assert!(brancher(&[], &["a"]).intersects(&brancher(&[], &["b"])));
    }

    #[test]
    fn change_matchers_follow_prow() {
        let run = ChangeMatcher::new("^docs/".into(), String::new());
        assert!(run.runs_against_changes(&["docs/a.md", "main.go"]));
        assert!(!run.runs_against_changes(&["main.go"]));
        assert!(!run.runs_against_changes::<&str>(&[]));
        let skip = ChangeMatcher::new(String::new(), r"\.md$".into());
        assert!(!skip.runs_against_changes(&["README.md", "docs/x.md"]));
        assert!(skip.runs_against_changes(&["README.md", "main.go"]));
        assert!(!ChangeMatcher::default().could_run());
    }

    #[test]
    fn default_trigger_matches_prow_commands() {
        let mut ps = Presubmit {
            base: JobBase {
                name: "pull-foo-unit".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        ps.set_trigger(
            default_trigger_for("pull-foo-unit"),
            default_rerun_command_for("pull-foo-unit"),
        );
        for (body, want) in [
            ("/test pull-foo-unit", true),
            ("/test pull-foo-unit,", true),
            ("lgtm\n/test pull-foo-unit\nthanks", true),
            ("/test other pull-foo-unit", true),
            ("/test pull-foo-unit-extra", false),
            ("please /test pull-foo-unit", false),
            ("/test all", false),
        ] {
            assert_eq!(ps.triggered_by(body), want, "{body:?}");
        }
        assert!(ps.triggered_by(&ps.rerun_command.clone()));
    }
}
