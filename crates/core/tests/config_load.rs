//! Loads real Prow configurations (a vendored slice of Kubernetes' own, Prow's integration config,
//! and with `PROW_CORPUS` the whole of Kubernetes' config) and broken ones, checking counts,
//! defaults, diagnostics with exact positions, and that garbage never panics.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use prow_core::config::{self, Config, Diagnostic, LoadOptions};

fn testdata() -> PathBuf {
    prow_testdata::testdata().join("prow")
}

/// Kubernetes' config layout (`prow/config.yaml`, `prow/plugins.yaml`, `jobs/`) under `root`.
fn test_infra_options(root: &Path) -> LoadOptions {
    LoadOptions {
        config_path: root.join("prow/config.yaml"),
        job_config_path: Some(root.join("jobs")),
        plugin_config_path: Some(root.join("prow/plugins.yaml")),
    }
}

/// Jobs in the vendored slice (etcd and containerd): presubmits, postsubmits, periodics, repos.
const SLICE_COUNTS: (usize, usize, usize, usize) = (34, 21, 79, 6);

/// `file:line field` of each "stored but not acted on" warning, in order.
fn inert_settings(warnings: &[Diagnostic]) -> Vec<String> {
    warnings
        .iter()
        .filter(|w| {
            !w.is_error()
                && w.message
                    .starts_with("stored but not acted on by prow-rs: ")
        })
        .map(|w| {
            let file = w.file.file_name().unwrap_or_default().to_string_lossy();
            format!("{file}:{} {}", w.line, w.field)
        })
        .collect()
}

fn load_ok(options: &LoadOptions) -> (Config, Vec<Diagnostic>) {
    match config::load(options) {
        Ok(loaded) => (loaded.config, loaded.warnings),
        Err(e) => panic!(
            "expected a valid config, got:\n{}",
            e.diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The compiled snapshot of Kubernetes' config opens through `config::load` (found by its magic
/// bytes) and is, job for job and pod spec for pod spec, the config it was compiled from.
fn snapshot_of_test_infra_is_the_same_config(config: &Config, big_repo: &str) {
    let bytes = config::snapshot::encode(config).unwrap();
    // Small enough for a ConfigMap (1 MiB), which is how the manifests mount it.
    assert!(
        bytes.len() < 1024 * 1024,
        "snapshot is {} bytes",
        bytes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.snapshot");
    std::fs::write(&path, &bytes).unwrap();
    let opened = load_ok(&LoadOptions {
        config_path: path,
        job_config_path: None,
        plugin_config_path: None,
    });
    assert!(opened.1.is_empty());
    let opened = opened.0;
    let k8s = opened.presubmits_for(big_repo).unwrap();
    assert!(!opened.periodics.is_decoded() && !k8s.is_empty());
    assert!(
        k8s.iter()
            .all(|j| !j.base.spec.as_ref().unwrap().is_decoded())
    );
    assert!(
        opened == *config,
        "snapshot differs from the YAML it came from"
    );
}

#[test]
fn kubernetes_config_slice_gets_prows_defaults_and_plugins() {
    let root = testdata().join("test-infra/config");
    let (config, warnings) = load_ok(&test_infra_options(&root));
    // The settings Kubernetes sets that prow-rs stores without acting on, each named where it
    // is set; nothing else.
    assert_eq!(
        inert_settings(&warnings),
        [
            "config.yaml:62 sinker.resync_period",
            "config.yaml:192 log_level",
            "config.yaml:194 slack_reporter_configs",
            "plugins.yaml:12 triggers[0].trigger_github_workflows",
            "plugins.yaml:29 triggers[4].trigger_github_workflows",
            "plugins.yaml:33 triggers[5].trigger_github_workflows",
            "plugins.yaml:37 triggers[6].trigger_github_workflows",
            "plugins.yaml:42 triggers[7].trigger_github_workflows",
            "plugins.yaml:50 triggers[8].trigger_github_workflows",
            "plugins.yaml:56 triggers[9].trigger_github_workflows",
        ]
    );
    assert_eq!(warnings.len(), 10, "{warnings:#?}");
    let summary = config.summary();
    assert_eq!(
        (
            summary.presubmits,
            summary.postsubmits,
            summary.periodics,
            summary.repos
        ),
        SLICE_COUNTS
    );
    snapshot_of_test_infra_is_the_same_config(&config, "etcd-io/etcd");
    let etcd = config.presubmits_for("etcd-io/etcd").unwrap();
    assert!(!etcd.is_empty());
    let decorated = etcd
        .iter()
        .find(|p| p.base.utility.decorate)
        .expect("a decorated etcd presubmit");
    let dc =
        serde_json::to_value(decorated.base.utility.decoration_config.as_ref().unwrap()).unwrap();
    assert_eq!(dc["gcs_configuration"]["bucket"], "kubernetes-ci-logs");
    assert!(
        config
            .plugins
            .plugins_for("kubernetes", "kubernetes")
            .contains(&"trigger".to_string())
    );
}

#[test]
#[ignore = "needs PROW_CORPUS (the whole of Kubernetes' config)"]
fn corpus_kubernetes_test_infra_config_loads_without_errors() {
    let root = prow_testdata::corpus().join("prow/test-infra/config");
    let (config, warnings) = load_ok(&test_infra_options(&root));
    let summary = config.summary();
    assert_eq!(
        (
            summary.presubmits,
            summary.postsubmits,
            summary.periodics,
            summary.repos
        ),
        (2261, 253, 1335, 185)
    );

    // Besides the settings prow-rs does not act on, the only warnings are real oddities in the
    // corpus: a non-job YAML file in the jobs tree and an env var spelled `NAME:`.
    let inert = inert_settings(&warnings).len();
    assert_eq!(inert, 10, "{warnings:#?}");
    let warnings: Vec<Diagnostic> = warnings
        .into_iter()
        .filter(|w| !w.message.starts_with("stored but not acted on"))
        .collect();
    assert_eq!(warnings.len(), 12, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .all(|w| !w.is_error() && w.message.starts_with("unknown field"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.field.ends_with("env[2].NAME") && w.line == 196)
    );

    snapshot_of_test_infra_is_the_same_config(&config, "kubernetes/kubernetes");

    // Prow's defaults were applied.
    let k8s = config.presubmits_for("kubernetes/kubernetes").unwrap();
    assert!(!k8s.is_empty());
    for ps in k8s {
        assert!(!ps.context.is_empty());
        assert!(
            ps.triggered_by(&ps.rerun_command),
            "{} rerun command must match its trigger",
            ps.name()
        );
        assert_eq!(ps.base.agent, "kubernetes");
    }
    // Decorated jobs get the default decoration config merged under their own.
    let decorated = k8s
        .iter()
        .find(|p| p.base.utility.decorate)
        .expect("a decorated job");
    let dc = serde_json::to_value(
        decorated
            .base
            .utility
            .decoration_config
            .as_ref()
            .expect("merged"),
    )
    .expect("json");
    assert_eq!(dc["gcs_configuration"]["bucket"], "kubernetes-ci-logs");
    assert!(
        dc["utility_images"]["sidecar"]
            .as_str()
            .is_some_and(|s| s.contains("sidecar"))
    );
    // Presets are merged by label.
    let with_preset = config
        .periodics
        .iter()
        .find(|p| {
            p.base
                .labels
                .get("preset-service-account")
                .map(String::as_str)
                == Some("true")
        })
        .expect("a periodic using preset-service-account");
    let env = with_preset.base.spec.as_ref().expect("spec").containers[0]
        .env
        .as_ref()
        .expect("env");
    assert!(
        env.iter()
            .any(|e| e.name == "GOOGLE_APPLICATION_CREDENTIALS"),
        "{env:?}"
    );
    // plugins.yaml
    assert!(
        config
            .plugins
            .plugins_for("kubernetes", "kubernetes")
            .contains(&"trigger".to_string())
    );
}

#[test]
fn prow_integration_config_loads() {
    let root = testdata().join("examples/integration-minimal");
    let (config, warnings) = load_ok(&LoadOptions {
        config_path: root.join("config.yaml"),
        job_config_path: Some(root.join("jobs")),
        plugin_config_path: Some(root.join("plugins.yaml")),
    });
    // Prow's own integration config sets components prow-rs has no counterpart for: each is
    // named, with why, and nothing else is warned about.
    assert_eq!(
        inert_settings(&warnings),
        [
            "config.yaml:7 sinker.resync_period",
            "config.yaml:17 log_level",
            "config.yaml:29 gerrit",
            "config.yaml:57 pubsub_subscriptions",
            "config.yaml:75 gangway",
        ]
    );
    assert_eq!(warnings.len(), 5, "{warnings:#?}");
    assert!(warnings.iter().all(|w| !w.is_error()));
    assert_eq!(config.summary().presubmits, 6);
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.yaml"), "pod_namespace: test-pods\n")
            .expect("write");
        for (name, text) in files {
            let path = dir.path().join("jobs").join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        Fixture { dir }
    }

    fn options(&self) -> LoadOptions {
        LoadOptions {
            config_path: self.dir.path().join("config.yaml"),
            job_config_path: Some(self.dir.path().join("jobs")),
            plugin_config_path: None,
        }
    }

    fn errors(&self) -> Vec<String> {
        let err = config::load(&self.options()).expect_err("config should be rejected");
        let root = format!("{}/", self.dir.path().display());
        err.errors()
            .map(|d| d.to_string().replace(&root, ""))
            .collect()
    }
}

const GOOD_JOB: &str =
    "    spec:\n      containers:\n      - image: alpine\n        command: [\"true\"]\n";

#[test]
fn bad_regex_is_named_with_file_line_and_field() {
    let text = format!(
        "presubmits:\n  acme/foo:\n  - name: ok\n{GOOD_JOB}  - name: broken\n    run_if_changed: '^(docs/'\n{GOOD_JOB}"
    );
    let f = Fixture::new(&[("acme/foo.yaml", &text)]);
    let errors = f.errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "jobs/acme/foo.yaml:9:5: presubmits.acme/foo[1].run_if_changed: invalid regex"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn duplicate_jobs_are_reported_where_the_second_one_is_defined() {
    let a = format!("presubmits:\n  acme/foo:\n  - name: unit\n{GOOD_JOB}");
    let b = format!(
        "# another file\npresubmits:\n  acme/foo:\n  - name: unit\n    branches: [main]\n{GOOD_JOB}"
    );
    let f = Fixture::new(&[("a.yaml", &a), ("sub/b.yaml", &b)]);
    let errors = f.errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "jobs/sub/b.yaml:4:5: presubmits.acme/foo[0].name: duplicated presubmit job unit"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn prow_validation_rules_are_enforced() {
    let cases: &[(&str, &str)] = &[
        (
            "periodics:\n- name: p\n  cron: '61 * * * *'\n  spec: {containers: [{image: a}]}\n",
            "periodics[0].cron: invalid cron string",
        ),
        (
            "periodics:\n- name: p\n  spec: {containers: [{image: a}]}\n",
            "at least one of cron, interval, or minimum_interval",
        ),
        (
            "periodics:\n- name: p\n  interval: 1h\n  cron: '@daily'\n  spec: {containers: [{image: a}]}\n",
            "mutually exclusive",
        ),
        (
            "periodics:\n- name: p\n  interval: 1d\n  spec: {containers: [{image: a}]}\n",
            "cannot parse duration",
        ),
        (
            "periodics:\n- name: p\n  interval: 1h\n  spec: {containers: []}\n",
            "at least 1 container",
        ),
        (
            "periodics:\n- name: p\n  interval: 1h\n",
            "kubernetes jobs require a spec",
        ),
        (
            "periodics:\n- name: 'bad name!'\n  interval: 1h\n  spec: {containers: [{image: a}]}\n",
            "must match regex",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    always_run: true\n    run_if_changed: x\n    spec: {containers: [{image: a}]}\n",
            "mutually exclusive",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    run_if_changed: x\n    skip_if_only_changed: y\n    spec: {containers: [{image: a}]}\n",
            "mutually exclusive",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    trigger: '/go'\n    spec: {containers: [{image: a}]}\n",
            "both of trigger and rerun_command",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    trigger: '(?m)^/go$'\n    rerun_command: '/run'\n    spec: {containers: [{image: a}]}\n",
            "does not match trigger",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    branches: ['[']\n    spec: {containers: [{image: a}]}\n",
            "branches: invalid regex",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    max_concurrency: -1\n    spec: {containers: [{image: a}]}\n",
            "non-negative",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    labels: {created-by-prow: 'true'}\n    spec: {containers: [{image: a}]}\n",
            "reserved",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    spec: {containers: [{image: a, env: [{name: JOB_NAME, value: x}]}]}\n",
            "env JOB_NAME is reserved",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    decorate: true\n    spec: {containers: [{image: a}]}\n",
            "utility image config is not specified",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n  - name: q\n    context: p\n    spec: {containers: [{image: a}]}\n",
            "same GitHub context",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    job_queue_name: nope\n    spec: {containers: [{image: a}]}\n",
            "invalid job queue name",
        ),
        (
            "presets:\n- labels: {a: b}\n- labels: {a: b}\n",
            "duplicated preset",
        ),
        (
            "presubmits:\n  a/b:\n  - name: p\n    always_run: maybe\n",
            "invalid type",
        ),
    ];
    for (text, expected) in cases {
        let f = Fixture::new(&[("jobs.yaml", text)]);
        let errors = f.errors();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "expected {expected:?} for\n{text}\ngot {errors:#?}"
        );
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with("jobs/jobs.yaml:") && !e.starts_with("jobs/jobs.yaml:0:")),
            "{errors:#?}"
        );
    }
}

#[test]
fn unknown_fields_are_named_warnings_not_errors() {
    let text = format!(
        "presubmits:\n  acme/foo:\n  - name: unit\n    alwyas_run: true\n    cron: '@daily'\n{GOOD_JOB}"
    );
    let f = Fixture::new(&[("jobs.yaml", &text)]);
    let loaded = config::load(&f.options()).expect("warnings only");
    let got: Vec<(usize, String)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line, w.field.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "presubmits.acme/foo[0].alwyas_run".into()),
            (5, "presubmits.acme/foo[0].cron".into())
        ]
    );
}

#[test]
fn duplicated_basenames_are_rejected_like_prow() {
    let job = format!("presubmits:\n  acme/foo:\n  - name: unit\n{GOOD_JOB}");
    let other = format!("presubmits:\n  acme/bar:\n  - name: unit\n{GOOD_JOB}");
    let f = Fixture::new(&[("a/jobs.yaml", &job), ("b/jobs.yaml", &other)]);
    assert!(f.errors().iter().any(|e| e.contains("duplicated basename")));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Truncated or garbled real job files give diagnostics, never a panic.
    #[test]
    fn garbled_yaml_never_panics(cut in 0usize..4000, flip in 0usize..4000, byte in any::<u8>()) {
        let source = testdata().join("test-infra/config/jobs/etcd/etcd-postsubmits.yaml");
        let mut bytes = std::fs::read(source).expect("fixture");
        bytes.truncate(cut.min(bytes.len()));
        if !bytes.is_empty() {
            let i = flip % bytes.len();
            bytes[i] = byte;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let f = Fixture::new(&[("garbled.yaml", &text)]);
        match config::load(&f.options()) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.errors().count() > 0),
        }
    }
}

/// Every file under `dir`, by its path relative to `dir`, as config-updater reads a repository
/// through GitHub's API.
fn files_in(dir: &Path, under: &Path, out: &mut std::collections::BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_in(&path, under, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.insert(path.strip_prefix(under).unwrap().to_path_buf(), text);
        }
    }
}

#[test]
fn a_config_in_memory_loads_as_the_same_files_on_disk() {
    let root = testdata().join("test-infra/config");
    let (from_disk, disk_warnings) = load_ok(&test_infra_options(&root));
    let mut files = std::collections::BTreeMap::new();
    files_in(&root, &root, &mut files);
    let loaded = config::load_in_memory(&test_infra_options(Path::new("")), files).unwrap();
    // Jobs remember the file they came from: on disk its full path, in memory the path given.
    let jobs = |c: &Config, strip: &str| {
        c.presubmits
            .iter()
            .flat_map(|(repo, jobs)| {
                jobs.iter().map(move |p| {
                    let file = p.base.source.file.trim_start_matches(strip).to_owned();
                    format!("{repo} {} {file}", p.base.name)
                })
            })
            .collect::<Vec<_>>()
    };
    let root_prefix = format!("{}/", root.display());
    assert_eq!(jobs(&loaded.config, ""), jobs(&from_disk, &root_prefix));
    assert_eq!(loaded.config.summary(), from_disk.summary());
    assert_eq!(loaded.config.prow, from_disk.prow);
    assert_eq!(loaded.config.plugins, from_disk.plugins);
    assert_eq!(loaded.warnings.len(), disk_warnings.len());
    assert_eq!(
        config::snapshot::decode(config::snapshot::compile(&loaded.config).unwrap()).unwrap(),
        loaded.config
    );
}

#[test]
fn a_config_in_memory_reports_its_errors_by_the_paths_it_was_given() {
    let files = [
        ("config/config.yaml", "prowjob_namespace: prow\n"),
        (
            "config/jobs/org/repo.yaml",
            "presubmits:\n  org/repo:\n  - name: unit\n    always_run: true\n    run_if_changed: 'x'\n    spec: {containers: [{image: alpine}]}\n",
        ),
        ("config/jobs/README.md", "not yaml: ["),
    ];
    let files = files
        .into_iter()
        .map(|(path, text)| (PathBuf::from(path), text.to_owned()))
        .collect();
    let options = LoadOptions {
        config_path: "config/config.yaml".into(),
        job_config_path: Some("config/jobs".into()),
        plugin_config_path: Some("config/plugins.yaml".into()),
    };
    let err = config::load_in_memory(&options, files).unwrap_err();
    let errors: Vec<String> = err.errors().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "config/jobs/org/repo.yaml:4:5: presubmits.org/repo[0].always_run: job unit is set to always run but also declares run_if_changed targets, which are mutually exclusive",
            "config/plugins.yaml:0:0: <file>: cannot read: no such file",
        ]
    );
}
