//! Reads config.yaml, the job config tree and plugins.yaml; defaults and validates every job the
//! way Prow does; reports problems as diagnostics with file, line, column and field.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Config;
use super::diagnostic::{Diagnostic, FileReporter, Severity, field_name};
use super::inrepo::{InRepoFile, ProwYaml};
use super::jobs::{
    Brancher, ChangeMatcher, JobBase, JobSource, Periodic, Postsubmit, Presubmit, RawJob,
    RawJobConfig, RawProwYaml, UtilityConfig, default_rerun_command_for, default_trigger_for,
};
use super::lazy::Lazy;
use super::locate::{Position, Seg};
use super::plugins::PluginsConfig;
use super::prow::{DefaultDecorationConfigEntry, ProwConfig};
use super::validate::{self, Finding, Kind};
use crate::prowjob::DecorationConfig;

pub(super) mod goyaml;

/// Where the configuration lives.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `config.yaml`.
    pub config_path: PathBuf,
    /// A job config file or a directory searched recursively for `*.yaml`/`*.yml`.
    pub job_config_path: Option<PathBuf>,
    /// `plugins.yaml`.
    pub plugin_config_path: Option<PathBuf>,
}

/// A configuration that loaded without errors, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// The configuration has errors; `diagnostics` holds them and any warnings, in file order.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} error(s) in Prow configuration{}", self.error_count(), self.first_error())]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    fn error_count(&self) -> usize {
        self.errors().count()
    }

    fn first_error(&self) -> String {
        self.errors()
            .next()
            .map(|d| format!(", first: {d}"))
            .unwrap_or_default()
    }
}

/// Loads, defaults and validates a Prow configuration. A `config_path` holding a compiled
/// snapshot (`prow config compile`) is opened as that instead; the other paths are then unused,
/// since the snapshot already contains the jobs and plugins it was compiled from.
///
/// A snapshot from another prow-rs build (version, schema or format) is not fatal when the YAML
/// it was compiled from is deployed beside it (`config.yaml`, and `jobs/` and `plugins.yaml`
/// unless the options name them): that YAML is loaded instead, with a warning first in
/// [`Loaded::warnings`], so an image rolled out before its snapshot was recompiled keeps serving
/// rather than crash-looping every Revision.
pub fn load(options: &LoadOptions) -> Result<Loaded, LoadError> {
    if let Some(opened) = open_if_snapshot(options) {
        return opened;
    }
    load_yaml(options)
}

/// The warning [`load`] puts first when it fell back from a snapshot to the YAML beside it.
pub const SNAPSHOT_FALLBACK_WARNING: &str = "loaded the YAML beside it instead";

/// Loads, defaults and validates a Prow configuration held in memory instead of on disk:
/// `files` maps each path to its text, and the paths in `options` (never a snapshot) name files
/// in it, the job config path a file or a directory prefix. The same loader as [`load`], so a
/// config compiled from files read through GitHub's API (config-updater) is judged, and its
/// diagnostics worded, exactly as `prow check-config` judges a checkout.
pub fn load_in_memory(
    options: &LoadOptions,
    files: BTreeMap<PathBuf, String>,
) -> Result<Loaded, LoadError> {
    load_with(
        Loader {
            memory: Some(files),
            ..Loader::default()
        },
        options,
    )
}

fn load_yaml(options: &LoadOptions) -> Result<Loaded, LoadError> {
    load_with(Loader::default(), options)
}

fn load_with(mut loader: Loader, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let prow = loader.load_prow_config(&options.config_path);
    if let Some(path) = &options.job_config_path {
        loader.load_job_tree(path);
    }
    let plugins = options
        .plugin_config_path
        .as_deref()
        .map(|p| loader.load_plugins(p))
        .unwrap_or_default();
    let config = loader.finalize(prow.unwrap_or_default(), plugins);
    let mut diagnostics = loader.diagnostics;
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(LoadError { diagnostics });
    }
    Ok(Loaded {
        config,
        warnings: diagnostics,
    })
}

fn open_if_snapshot(options: &LoadOptions) -> Option<Result<Loaded, LoadError>> {
    let path = &options.config_path;
    let mut magic = [0u8; super::snapshot::MAGIC.len()];
    let mut file = std::fs::File::open(path).ok()?;
    std::io::Read::read_exact(&mut file, &mut magic).ok()?;
    if !super::snapshot::is_snapshot(&magic) {
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Some(Err(snapshot_error(path, e.to_string()))),
    };
    Some(match super::snapshot::decode(bytes) {
        Ok(config) => Ok(Loaded {
            config,
            warnings: Vec::new(),
        }),
        Err(
            e @ (super::snapshot::SnapshotError::Version { .. }
            | super::snapshot::SnapshotError::Format { .. }),
        ) => match yaml_beside(options) {
            Some(yaml) => load_yaml(&yaml).map(|mut loaded| {
                let warning = Diagnostic {
                    severity: Severity::Warning,
                    file: path.clone(),
                    line: 0,
                    column: 0,
                    field: String::new(),
                    message: format!(
                        "{e}; {SNAPSHOT_FALLBACK_WARNING} ({}): start-up is slower until the snapshot is recompiled with this release",
                        yaml.config_path.display()
                    ),
                };
                loaded.warnings.insert(0, warning);
                loaded
            }),
            None => Err(snapshot_error(path, e.to_string())),
        },
        Err(e) => Err(snapshot_error(path, e.to_string())),
    })
}

/// Where the YAML a snapshot was compiled from lies when it is deployed beside the snapshot.
fn yaml_beside(options: &LoadOptions) -> Option<LoadOptions> {
    let dir = options.config_path.parent()?;
    let config_path = dir.join("config.yaml");
    if !config_path.is_file() {
        return None;
    }
    let sibling = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
    Some(LoadOptions {
        config_path,
        job_config_path: options.job_config_path.clone().or_else(|| sibling("jobs")),
        plugin_config_path: options
            .plugin_config_path
            .clone()
            .or_else(|| sibling("plugins.yaml")),
    })
}

fn snapshot_error(path: &Path, message: String) -> LoadError {
    LoadError {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message,
        }],
    }
}

/// Keys of a job config file; in config.yaml they sit beside the ProwConfig keys.
const JOB_CONFIG_KEYS: [&str; 6] = [
    "presets",
    "presubmits",
    "postsubmits",
    "periodics",
    "decorate_all_jobs",
    "prow_ignored",
];

/// A job as read, before defaulting: where it came from and its raw fields.
struct Pending {
    file: usize,
    path: Vec<Seg>,
    raw: RawJob,
}

#[derive(Default)]
struct Loader {
    /// Every file read, kept for locating diagnostics.
    files: Vec<(Arc<str>, PathBuf, String)>,
    diagnostics: Vec<Diagnostic>,
    presets: Vec<(usize, usize, super::jobs::Preset)>,
    presubmits: BTreeMap<String, Vec<Pending>>,
    postsubmits: BTreeMap<String, Vec<Pending>>,
    periodics: Vec<Pending>,
    decorate_all_jobs: bool,
    /// Files by path, read instead of the filesystem when set ([`load_in_memory`]).
    memory: Option<BTreeMap<PathBuf, String>>,
}

impl Loader {
    /// Keeps a file that did not come from disk (an in-repo config read through GitHub).
    fn add_text(&mut self, path: &str, text: String) -> usize {
        self.files
            .push((Arc::from(path), PathBuf::from(path), text));
        self.files.len() - 1
    }

    fn read(&mut self, path: &Path) -> Option<usize> {
        let read = match &self.memory {
            Some(files) => files
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")),
            None => std::fs::read_to_string(path),
        };
        match read {
            Ok(text) => {
                self.files.push((
                    Arc::from(path.display().to_string()),
                    path.to_path_buf(),
                    text,
                ));
                Some(self.files.len() - 1)
            }
            Err(e) => {
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    file: path.to_path_buf(),
                    line: 0,
                    column: 0,
                    field: String::new(),
                    message: format!("cannot read: {e}"),
                });
                None
            }
        }
    }

    fn reporter(&mut self, file: usize) -> FileReporter<'_> {
        let (_, path, text) = &self.files[file];
        FileReporter::new(path, text, &mut self.diagnostics)
    }

    /// Reads one file as Prow's Go YAML does (first document, merge keys, last of repeated
    /// keys); `None` after reporting a syntax error. Empty files read as an empty mapping.
    fn read_doc(&mut self, file: usize) -> Option<goyaml::Doc> {
        let text = yaml11_octal_modes(&self.files[file].2);
        let text = if is_empty_document(&text) { "" } else { &text };
        match goyaml::parse(text) {
            Ok(doc) => {
                if let Some(at) = doc.ignored_document() {
                    let (_, path, _) = &self.files[file];
                    self.diagnostics.push(Diagnostic {
                        severity: Severity::Warning,
                        file: path.clone(),
                        line: at.line,
                        column: at.column,
                        field: String::new(),
                        message: "only the first YAML document of a file is read, as Prow \
                                  does; the rest is ignored"
                            .into(),
                    });
                }
                Some(doc)
            }
            Err(err) => {
                let at = err.position().unwrap_or(Position { line: 1, column: 1 });
                let (_, path, _) = &self.files[file];
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    file: path.clone(),
                    line: at.line,
                    column: at.column,
                    field: String::new(),
                    message: err.to_string(),
                });
                None
            }
        }
    }

    /// Deserializes a parsed file; unknown fields become warnings unless `known_elsewhere`
    /// claims them.
    fn parse<T: DeserializeOwned>(
        &mut self,
        file: usize,
        doc: &goyaml::Doc,
        known_elsewhere: &dyn Fn(&[Seg]) -> bool,
    ) -> Option<T> {
        let mut unknown = Vec::new();
        let result: Result<T, _> =
            serde_ignored::deserialize(doc.deserializer(), |p| unknown.push(segments(&p)));
        match result {
            Ok(value) => {
                for path in unknown.into_iter().filter(|p| !known_elsewhere(p)) {
                    let last =
                        field_name(path.last().map(std::slice::from_ref).unwrap_or_default());
                    self.reporter(file)
                        .warning(&path, format!("unknown field {last:?} (ignored)"));
                }
                Some(value)
            }
            Err(err) => {
                self.report_parse_error::<T>(file, doc, err);
                None
            }
        }
    }

    /// Deserializes again, tracking the path, to name the field that broke the file.
    fn report_parse_error<T: DeserializeOwned>(
        &mut self,
        file: usize,
        doc: &goyaml::Doc,
        err: goyaml::Error,
    ) {
        let field_path = match serde_path_to_error::deserialize::<_, T>(doc.deserializer()) {
            Err(e) => path_to_error_segments(e.path()),
            Ok(_) => Vec::new(),
        };
        let at = err
            .position()
            .unwrap_or_else(|| doc.locate_nearest(&field_path));
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: self.files[file].1.clone(),
            line: at.line,
            column: at.column,
            field: field_name(&field_path),
            message: err.to_string(),
        });
    }

    fn load_prow_config(&mut self, path: &Path) -> Option<ProwConfig> {
        let file = self.read(path)?;
        let doc = self.read_doc(file)?;
        let is_job_key = |p: &[Seg]| matches!(p.first(), Some(Seg::Key(k)) if JOB_CONFIG_KEYS.contains(&k.as_str()));
        let prow: ProwConfig = self.parse(file, &doc, &is_job_key)?;
        self.warn_inert(file, &doc, super::inert::PROW_CONFIG);
        // The same file may hold jobs; its top-level non-job keys were judged by the pass above.
        let top_level_only = |p: &[Seg]| p.len() == 1;
        if let Some(jobs) = self.parse::<RawJobConfig>(file, &doc, &top_level_only) {
            self.decorate_all_jobs = jobs.decorate_all_jobs;
            self.add_jobs(file, jobs);
        }
        Some(prow)
    }

    /// Warns about each setting in `list` the file sets: accepted, but with no effect here.
    fn warn_inert(&mut self, file: usize, doc: &goyaml::Doc, list: &[super::inert::Inert]) {
        for (path, inert) in super::inert::found(doc, list) {
            self.reporter(file)
                .warning(&path, super::inert::message(inert));
        }
    }

    fn load_job_tree(&mut self, root: &Path) {
        let mut paths = Vec::new();
        if let Some(files) = &self.memory {
            if files.contains_key(root) {
                paths.push(root.to_path_buf());
            } else {
                paths.extend(
                    files
                        .keys()
                        .filter(|p| p.starts_with(root) && is_yaml(p))
                        .cloned(),
                );
            }
        } else if root.is_dir() {
            if let Err(e) = collect_yaml_files(root, &mut paths) {
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    file: root.to_path_buf(),
                    line: 0,
                    column: 0,
                    field: String::new(),
                    message: format!("cannot walk job config directory: {e}"),
                });
            }
        } else {
            paths.push(root.to_path_buf());
        }
        paths.sort();
        let mut basenames: HashMap<String, PathBuf> = HashMap::new();
        for path in paths {
            let base = path
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(first) = basenames.get(&base) {
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    file: path.clone(),
                    line: 1,
                    column: 1,
                    field: String::new(),
                    message: format!(
                        "duplicated basename is not allowed: {base} (also {})",
                        first.display()
                    ),
                });
                continue;
            }
            basenames.insert(base, path.clone());
            let Some(file) = self.read(&path) else {
                continue;
            };
            let Some(doc) = self.read_doc(file) else {
                continue;
            };
            if let Some(jobs) = self.parse::<RawJobConfig>(file, &doc, &|_| false) {
                self.add_jobs(file, jobs);
            }
        }
    }

    fn load_plugins(&mut self, path: &Path) -> PluginsConfig {
        let Some(file) = self.read(path) else {
            return PluginsConfig::default();
        };
        let Some(doc) = self.read_doc(file) else {
            return PluginsConfig::default();
        };
        let Some(plugins) = self.parse::<PluginsConfig>(file, &doc, &|_| false) else {
            return PluginsConfig::default();
        };
        self.warn_inert(file, &doc, super::inert::PLUGINS_CONFIG);
        for (at, severity, message) in plugins.check() {
            self.reporter(file).report(severity, &at, message);
        }
        plugins
    }

    fn add_jobs(&mut self, file: usize, jobs: RawJobConfig) {
        for (i, preset) in jobs.presets.into_iter().enumerate() {
            self.presets.push((file, i, preset));
        }
        for (repo, list) in jobs.presubmits.into_iter().flatten() {
            let pending = self.presubmits.entry(repo.clone()).or_default();
            for (i, raw) in list.into_iter().flatten().enumerate() {
                pending.push(Pending {
                    file,
                    path: vec![
                        Seg::from("presubmits"),
                        Seg::Key(repo.clone()),
                        Seg::Index(i),
                    ],
                    raw,
                });
            }
        }
        for (repo, list) in jobs.postsubmits.into_iter().flatten() {
            let pending = self.postsubmits.entry(repo.clone()).or_default();
            for (i, raw) in list.into_iter().flatten().enumerate() {
                pending.push(Pending {
                    file,
                    path: vec![
                        Seg::from("postsubmits"),
                        Seg::Key(repo.clone()),
                        Seg::Index(i),
                    ],
                    raw,
                });
            }
        }
        for (i, raw) in jobs.periodics.into_iter().flatten().enumerate() {
            self.periodics.push(Pending {
                file,
                path: vec![Seg::from("periodics"), Seg::Index(i)],
                raw,
            });
        }
    }

    fn report_findings(&mut self, file: usize, job_path: &[Seg], findings: Vec<Finding>) {
        for f in findings {
            let mut path = job_path.to_vec();
            path.extend(f.field);
            self.reporter(file).error(&path, f.message);
        }
    }

    fn finalize(&mut self, prow: ProwConfig, plugins: PluginsConfig) -> Config {
        let mut prow = prow;
        if prow.pod_namespace.is_empty() {
            prow.pod_namespace = "default".into();
        }
        if prow.prowjob_namespace.is_empty() {
            prow.prowjob_namespace = "default".into();
        }
        let presets = self.check_presets();
        let decoration = DecorationDefaults::new(prow.plank.decoration_entries());

        let mut config = Config {
            presets: presets.clone().into(),
            plugins,
            ..Config::default()
        };
        for (repo, pending) in std::mem::take(&mut self.presubmits) {
            let mut jobs = Vec::with_capacity(pending.len());
            let mut paths = Vec::with_capacity(pending.len());
            for p in pending {
                let ps = self.finalize_presubmit(
                    &prow,
                    &presets,
                    &decoration,
                    &repo,
                    p.file,
                    &p.path,
                    p.raw,
                );
                paths.push((p.file, p.path));
                jobs.push(ps);
            }
            let dupes = validate::duplicates(
                jobs.iter()
                    .map(|j| (j.name(), j.context.as_str(), &j.brancher)),
                "presubmit",
            );
            for (i, f) in dupes {
                self.report_findings(paths[i].0, &paths[i].1, vec![f]);
            }
            config.presubmits.insert(repo, jobs.into());
        }
        for (repo, pending) in std::mem::take(&mut self.postsubmits) {
            let mut jobs = Vec::with_capacity(pending.len());
            let mut paths = Vec::with_capacity(pending.len());
            for p in pending {
                let ps = self.finalize_postsubmit(
                    &prow,
                    &presets,
                    &decoration,
                    &repo,
                    p.file,
                    &p.path,
                    p.raw,
                );
                paths.push((p.file, p.path));
                jobs.push(ps);
            }
            let dupes = validate::duplicates(
                jobs.iter()
                    .map(|j| (j.name(), j.context.as_str(), &j.brancher)),
                "postsubmit",
            );
            for (i, f) in dupes {
                self.report_findings(paths[i].0, &paths[i].1, vec![f]);
            }
            config.postsubmits.insert(repo, jobs.into());
        }
        let mut periodics = Vec::with_capacity(self.periodics.len());
        let mut seen_periodics: HashMap<String, ()> = HashMap::new();
        for p in std::mem::take(&mut self.periodics) {
            let periodic =
                self.finalize_periodic(&prow, &presets, &decoration, p.file, &p.path, p.raw);
            if seen_periodics
                .insert(periodic.base.name.clone(), ())
                .is_some()
            {
                let msg = format!("duplicated periodic job: {}", periodic.base.name);
                self.report_findings(
                    p.file,
                    &p.path,
                    vec![Finding {
                        field: vec![Seg::from("name")],
                        message: msg,
                    }],
                );
            }
            periodics.push(periodic);
        }
        config.periodics = periodics.into();
        config.prow = prow;
        config
    }

    /// Presets in load order; a `label:value` pair claimed by two presets is an error, as in Prow.
    fn check_presets(&mut self) -> Vec<super::jobs::Preset> {
        let mut seen: HashMap<String, ()> = HashMap::new();
        let presets = std::mem::take(&mut self.presets);
        let mut out = Vec::with_capacity(presets.len());
        for (file, i, preset) in presets {
            for (k, v) in &preset.labels {
                if seen.insert(format!("{k}:{v}"), ()).is_some() {
                    let path = [
                        Seg::from("presets"),
                        Seg::Index(i),
                        Seg::from("labels"),
                        Seg::Key(k.clone()),
                    ];
                    self.reporter(file).error(
                        &path,
                        format!("duplicated preset 'label:value' pair: {k}:{v}"),
                    );
                }
            }
            out.push(preset);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn finalize_base(
        &mut self,
        prow: &ProwConfig,
        presets: &[super::jobs::Preset],
        decoration: &DecorationDefaults,
        repo: &str,
        file: usize,
        path: &[Seg],
        raw: &mut RawJob,
    ) -> JobBase {
        let decorate = raw.decorate.unwrap_or(self.decorate_all_jobs);
        let cluster = if raw.cluster.is_empty() {
            "default".to_string()
        } else {
            std::mem::take(&mut raw.cluster)
        };
        let decoration_config =
            decorate.then(|| decoration.merged(repo, &cluster, raw.decoration_config.take()));
        let prowjob_defaults =
            prow.merged_prowjob_default(repo, &cluster, raw.prowjob_defaults.as_ref());
        let mut spec = raw.spec.take();
        if let Some(spec) = spec.as_mut() {
            for preset in presets.iter().filter(|p| p.applies_to(&raw.labels)) {
                if let Err(msg) = preset.merge_into(spec) {
                    let message = format!(
                        "job {} failed to merge presets for podspec: {msg}",
                        raw.name
                    );
                    let mut at = path.to_vec();
                    at.push(Seg::from("labels"));
                    self.reporter(file).error(&at, message);
                }
            }
        }
        JobBase {
            name: std::mem::take(&mut raw.name),
            labels: std::mem::take(&mut raw.labels),
            annotations: std::mem::take(&mut raw.annotations),
            max_concurrency: u32::try_from(raw.max_concurrency).unwrap_or(0),
            agent: if raw.agent.is_empty() {
                "kubernetes".into()
            } else {
                std::mem::take(&mut raw.agent)
            },
            cluster,
            namespace: raw
                .namespace
                .take()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| prow.pod_namespace.clone()),
            error_on_eviction: raw.error_on_eviction,
            spec: spec.map(Lazy::from),
            pipeline_run_spec: raw
                .pipeline_run_spec
                .take()
                .or_else(|| raw.tekton_pipeline_run_spec.take()),
            reporter_config: raw.reporter_config.take(),
            rerun_auth_config: raw.rerun_auth_config.take(),
            hidden: raw.hidden,
            prowjob_defaults: Some(prowjob_defaults),
            job_queue_name: std::mem::take(&mut raw.job_queue_name),
            utility: UtilityConfig {
                decorate,
                path_alias: std::mem::take(&mut raw.path_alias),
                clone_uri: std::mem::take(&mut raw.clone_uri),
                skip_submodules: raw.skip_submodules,
                clone_depth: raw.clone_depth,
                skip_fetch_head: raw.skip_fetch_head,
                extra_refs: std::mem::take(&mut raw.extra_refs),
                decoration_config,
            },
            source: JobSource {
                file: self.files[file].0.clone(),
            },
        }
    }

    /// Fields set on a job that its type does not have: warned about, as Prow would silently drop them.
    fn warn_foreign_fields(&mut self, file: usize, path: &[Seg], raw: &RawJob, kind: Kind) {
        let periodic_only = [
            ("interval", !raw.interval.is_empty()),
            ("minimum_interval", !raw.minimum_interval.is_empty()),
            ("cron", !raw.cron.is_empty()),
            ("tags", !raw.tags.is_empty()),
            ("retry", raw.retry.is_some()),
        ];
        let repo_job_only = [
            ("branches", !raw.branches.is_empty()),
            ("skip_branches", !raw.skip_branches.is_empty()),
            ("run_if_changed", !raw.run_if_changed.is_empty()),
            ("skip_if_only_changed", !raw.skip_if_only_changed.is_empty()),
            ("context", !raw.context.is_empty()),
            ("skip_report", raw.skip_report),
            ("always_run", raw.always_run.is_some()),
            ("jenkins_spec", raw.jenkins_spec.is_some()),
        ];
        let presubmit_only = [
            ("optional", raw.optional),
            ("trigger", !raw.trigger.is_empty()),
            ("rerun_command", !raw.rerun_command.is_empty()),
            ("run_before_merge", raw.run_before_merge),
        ];
        let foreign: Vec<&str> = match kind {
            Kind::Presubmit => periodic_only.iter().filter(|f| f.1).map(|f| f.0).collect(),
            Kind::Postsubmit => periodic_only
                .iter()
                .chain(&presubmit_only)
                .filter(|f| f.1)
                .map(|f| f.0)
                .collect(),
            Kind::Periodic => repo_job_only
                .iter()
                .chain(&presubmit_only)
                .filter(|f| f.1)
                .map(|f| f.0)
                .collect(),
        };
        let kind_name = match kind {
            Kind::Presubmit => "presubmit",
            Kind::Postsubmit => "postsubmit",
            Kind::Periodic => "periodic",
        };
        for field in foreign {
            let mut at = path.to_vec();
            at.push(Seg::from(field));
            self.reporter(file).warning(
                &at,
                format!("unknown field {field:?} for a {kind_name} (ignored)"),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finalize_presubmit(
        &mut self,
        prow: &ProwConfig,
        presets: &[super::jobs::Preset],
        decoration: &DecorationDefaults,
        repo: &str,
        file: usize,
        path: &[Seg],
        mut raw: RawJob,
    ) -> Presubmit {
        self.warn_foreign_fields(file, path, &raw, Kind::Presubmit);
        let raw_max_concurrency = raw.max_concurrency;
        let (trigger_set, rerun_set) = (!raw.trigger.is_empty(), !raw.rerun_command.is_empty());
        let base = self.finalize_base(prow, presets, decoration, repo, file, path, &mut raw);
        let mut ps = Presubmit {
            context: if raw.context.is_empty() {
                base.name.clone()
            } else {
                raw.context
            },
            brancher: Brancher::new(raw.branches, raw.skip_branches),
            changes: ChangeMatcher::new(raw.run_if_changed, raw.skip_if_only_changed),
            skip_report: raw.skip_report,
            always_run: raw.always_run.unwrap_or(false),
            optional: raw.optional,
            run_before_merge: raw.run_before_merge,
            ..Presubmit::default()
        };
        let (trigger, rerun) = if !trigger_set && !rerun_set {
            (
                default_trigger_for(&base.name),
                default_rerun_command_for(&base.name),
            )
        } else {
            (raw.trigger, raw.rerun_command)
        };
        ps.set_trigger(trigger, rerun);
        ps.base = base;
        let mut findings =
            validate::validate_base(&ps.base, Kind::Presubmit, prow, raw_max_concurrency);
        findings.extend(validate::validate_presubmit(&ps, trigger_set, rerun_set));
        if ps
            .base
            .utility
            .extra_refs
            .iter()
            .any(|r| format!("{}/{}", r.org, r.repo) == repo)
        {
            findings.push(Finding {
                field: vec![Seg::from("extra_refs")],
                message: format!("invalid job {} on repo {repo}: the following refs specified more than once: {repo}", ps.name()),
            });
        }
        self.report_findings(file, path, findings);
        ps
    }

    #[allow(clippy::too_many_arguments)]
    fn finalize_postsubmit(
        &mut self,
        prow: &ProwConfig,
        presets: &[super::jobs::Preset],
        decoration: &DecorationDefaults,
        repo: &str,
        file: usize,
        path: &[Seg],
        mut raw: RawJob,
    ) -> Postsubmit {
        self.warn_foreign_fields(file, path, &raw, Kind::Postsubmit);
        let raw_max_concurrency = raw.max_concurrency;
        let base = self.finalize_base(prow, presets, decoration, repo, file, path, &mut raw);
        let ps = Postsubmit {
            context: if raw.context.is_empty() {
                base.name.clone()
            } else {
                raw.context
            },
            base,
            brancher: Brancher::new(raw.branches, raw.skip_branches),
            changes: ChangeMatcher::new(raw.run_if_changed, raw.skip_if_only_changed),
            skip_report: raw.skip_report,
            always_run: raw.always_run,
        };
        let mut findings =
            validate::validate_base(&ps.base, Kind::Postsubmit, prow, raw_max_concurrency);
        findings.extend(validate::validate_postsubmit(&ps));
        self.report_findings(file, path, findings);
        ps
    }

    fn finalize_periodic(
        &mut self,
        prow: &ProwConfig,
        presets: &[super::jobs::Preset],
        decoration: &DecorationDefaults,
        file: usize,
        path: &[Seg],
        mut raw: RawJob,
    ) -> Periodic {
        self.warn_foreign_fields(file, path, &raw, Kind::Periodic);
        let raw_max_concurrency = raw.max_concurrency;
        // A periodic's decoration defaults follow its first extra ref, as in Prow.
        let repo = raw
            .extra_refs
            .first()
            .map(|r| format!("{}/{}", r.org, r.repo))
            .unwrap_or_default();
        let base = self.finalize_base(prow, presets, decoration, &repo, file, path, &mut raw);
        let periodic = Periodic {
            base,
            interval: raw.interval,
            minimum_interval: raw.minimum_interval,
            cron: raw.cron,
            tags: raw.tags,
            retry: raw.retry,
        };
        let mut findings =
            validate::validate_base(&periodic.base, Kind::Periodic, prow, raw_max_concurrency);
        findings.extend(validate::validate_periodic(&periodic));
        self.report_findings(file, path, findings);
        periodic
    }
}

/// Defaults and validates in-repo config files against a loaded central config (see
/// [`Config::prow_yaml`]).
pub(super) fn load_prow_yaml(
    config: &Config,
    org_repo: &str,
    files: &[InRepoFile],
) -> Result<ProwYaml, LoadError> {
    let mut loader = Loader {
        decorate_all_jobs: config.prow.decorate_all_jobs,
        ..Loader::default()
    };
    let mut pending_pre = Vec::new();
    let mut pending_post = Vec::new();
    let mut presets = match config.presets.try_get() {
        Ok(p) => p.clone(),
        Err(e) => {
            return Err(snapshot_error(Path::new("presets"), e.to_string()));
        }
    };
    for f in files {
        let file = loader.add_text(&f.path, f.text.clone());
        let Some(doc) = loader.read_doc(file) else {
            continue;
        };
        let Some(raw) = loader.parse::<RawProwYaml>(file, &doc, &|_| false) else {
            continue;
        };
        // In-repo presets join the central ones (Prow appends them before defaulting).
        presets.extend(raw.presets);
        for (i, job) in raw.presubmits.into_iter().flatten().enumerate() {
            pending_pre.push((file, vec![Seg::from("presubmits"), Seg::Index(i)], job));
        }
        for (i, job) in raw.postsubmits.into_iter().flatten().enumerate() {
            pending_post.push((file, vec![Seg::from("postsubmits"), Seg::Index(i)], job));
        }
    }
    let static_err =
        |e: super::lazy::SectionError| snapshot_error(Path::new(org_repo), e.to_string());
    let prow = &config.prow;
    let decoration = DecorationDefaults::new(prow.plank.decoration_entries());
    let mut out = ProwYaml::default();
    let mut paths = Vec::new();
    for (file, path, raw) in pending_pre {
        let job =
            loader.finalize_presubmit(prow, &presets, &decoration, org_repo, file, &path, raw);
        paths.push((file, path));
        out.presubmits.push(job);
    }
    let central = config.presubmits_for(org_repo).map_err(static_err)?;
    let dupes = validate::duplicates(
        central
            .iter()
            .chain(&out.presubmits)
            .map(|j| (j.name(), j.context.as_str(), &j.brancher)),
        "presubmit",
    );
    for (i, f) in dupes {
        if let Some((file, path)) = i.checked_sub(central.len()).and_then(|i| paths.get(i)) {
            loader.report_findings(*file, path, vec![f]);
        }
    }
    let mut post_paths = Vec::new();
    for (file, path, raw) in pending_post {
        let job =
            loader.finalize_postsubmit(prow, &presets, &decoration, org_repo, file, &path, raw);
        post_paths.push((file, path));
        out.postsubmits.push(job);
    }
    let central = config.postsubmits_for(org_repo).map_err(static_err)?;
    let dupes = validate::duplicates(
        central
            .iter()
            .chain(&out.postsubmits)
            .map(|j| (j.name(), j.context.as_str(), &j.brancher)),
        "postsubmit",
    );
    for (i, f) in dupes {
        if let Some((file, path)) = i.checked_sub(central.len()).and_then(|i| post_paths.get(i)) {
            loader.report_findings(*file, path, vec![f]);
        }
    }
    let clusters = out
        .presubmits
        .iter()
        .map(|j| &j.base)
        .zip(&paths)
        .chain(out.postsubmits.iter().map(|j| &j.base).zip(&post_paths));
    let mut refused = Vec::new();
    for (base, (file, path)) in clusters {
        if !prow.in_repo_config.allows_cluster(&base.cluster, org_repo) {
            refused.push((
                *file,
                path.clone(),
                format!(
                    "cluster {:?} is not allowed for repository {org_repo:?}",
                    base.cluster
                ),
            ));
        }
    }
    for (file, path, message) in refused {
        loader.report_findings(
            file,
            &path,
            vec![Finding {
                field: vec![Seg::from("cluster")],
                message,
            }],
        );
    }
    let mut diagnostics = loader.diagnostics;
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(LoadError { diagnostics });
    }
    out.warnings = diagnostics;
    Ok(out)
}

/// `plank.default_decoration_config_entries` applied in order under the job's own config (Prow's
/// `mergeDefaultDecorationConfig`), memoized per set of matching entries because thousands of
/// jobs share a handful of (repo, cluster) combinations.
struct DecorationDefaults {
    entries: Vec<DefaultDecorationConfigEntry>,
    cache: std::cell::RefCell<HashMap<Vec<usize>, Option<DecorationConfig>>>,
}

impl DecorationDefaults {
    fn new(entries: Vec<DefaultDecorationConfigEntry>) -> Self {
        Self {
            entries,
            cache: Default::default(),
        }
    }

    fn merged(&self, repo: &str, cluster: &str, job: Option<DecorationConfig>) -> DecorationConfig {
        let matching: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].matches(repo, cluster))
            .collect();
        let defaults = self
            .cache
            .borrow_mut()
            .entry(matching.clone())
            .or_insert_with(|| {
                matching
                    .iter()
                    .fold(None, |acc: Option<DecorationConfig>, &i| {
                        let entry = &self.entries[i].config;
                        Some(match acc {
                            Some(general) => entry.apply_default(&general),
                            None => entry.clone(),
                        })
                    })
            })
            .clone();
        match (job, defaults) {
            (Some(job), Some(defaults)) => job.apply_default(&defaults),
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => DecorationConfig::default(),
        }
    }
}

fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        // Kubernetes ConfigMap volumes carry `..data` links; Prow skips them too.
        if name.to_string_lossy().starts_with("..") {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if is_yaml(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Kubernetes users write file modes as YAML 1.1 octal (`defaultMode: 0400`), which Prow's Go YAML
/// reads as 256 but a YAML 1.2 parser reads as a string. Rewrites exactly those plain scalars of
/// the `mode`/`defaultMode` keys to decimal; lines and therefore diagnostics keep their positions.
fn yaml11_octal_modes(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("ode: 0") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let converted = ["defaultMode: ", "mode: "].iter().find_map(|key| {
            let (head, value) = body.split_once(key)?;
            let head_ok = head.trim_start_matches([' ', '-']).is_empty();
            let digits = value.trim_end();
            let octal = digits.len() > 1
                && digits.starts_with('0')
                && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
            let n = u32::from_str_radix(digits, 8)
                .ok()
                .filter(|_| head_ok && octal)?;
            Some(format!("{head}{key}{n}"))
        });
        match converted {
            Some(line_out) => {
                out.push_str(&line_out);
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_empty_document(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<Seg> {
    use serde_ignored::Path as P;
    let mut out = Vec::new();
    fn walk(p: &P<'_>, out: &mut Vec<Seg>) {
        match p {
            P::Root => {}
            P::Seq { parent, index } => {
                walk(parent, out);
                out.push(Seg::Index(*index));
            }
            P::Map { parent, key } => {
                walk(parent, out);
                out.push(Seg::Key(key.clone()));
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                walk(parent, out)
            }
        }
    }
    walk(path, &mut out);
    out
}

fn path_to_error_segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_modes_are_read_as_go_does() {
        let text = "volumes:\n- secret:\n    defaultMode: 0400\n    name: '0400'\n  items:\n  - mode: 0644\n";
        let out = yaml11_octal_modes(text);
        assert!(out.contains("defaultMode: 256\n"), "{out}");
        assert!(out.contains("- mode: 420\n"), "{out}");
        assert!(out.contains("name: '0400'"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(matches!(
            yaml11_octal_modes("a: 1\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
