//! Job configs written the way real ones are: anchors with merge keys (`- <<: *base-job`,
//! `spec: {<<: *spec}`, containers, extra_refs, annotations, `<<: [*a, *b]`) and the odd repeated
//! key. They must load as Prow's Go YAML reads them: the same jobs as the expanded form, and
//! diagnostics that still name file:line:column and field.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use prow_core::config::{self, Config, Diagnostic, LoadOptions};

/// A Prow config dir: `config.yaml` plus `jobs/<name>` files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), "pod_namespace: test-pods\n").unwrap();
        for (name, text) in files {
            let path = dir.path().join("jobs").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Fixture { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn options(&self) -> LoadOptions {
        LoadOptions {
            config_path: self.root().join("config.yaml"),
            job_config_path: Some(self.root().join("jobs")),
            plugin_config_path: None,
        }
    }

    fn load(&self) -> (Config, Vec<Diagnostic>) {
        match config::load(&self.options()) {
            Ok(loaded) => (loaded.config, loaded.warnings),
            Err(e) => panic!("{e}:\n{:#?}", e.diagnostics),
        }
    }

    /// Errors as `file:line:column: field: message`, paths relative to the fixture.
    fn errors(&self) -> Vec<String> {
        let err = config::load(&self.options()).expect_err("config should be rejected");
        let root = format!("{}/", self.root().display());
        err.errors()
            .map(|d| d.to_string().replace(&root, ""))
            .collect()
    }
}

/// The config as JSON with the fixture's directory taken out of job source paths.
fn normalized(config: &Config, root: &Path) -> String {
    serde_json::to_string_pretty(config)
        .unwrap()
        .replace(&format!("{}/", root.display()), "")
}

const MERGED: &str = r#"# Anchors live under prow_ignored, Prow's key for data it does not read.
prow_ignored:
  base: &base-job
    max_concurrency: 2
    labels: {preset-dind: "true"}
    annotations: &common
      testgrid-dashboards: acme-foo
      owner: team-a
  periodic-defaults: &periodic-defaults
    cron: "0 3 * * *"
    max_concurrency: 5
  container: &container
    image: golang:1.22
    command: [make]
    env: [{name: GOFLAGS, value: -mod=mod}]
    resources: {requests: {cpu: 2, memory: 4Gi}}
  ref: &ref
    org: acme
    repo: tools
    base_ref: main
  spec: &spec
    containers:
    - <<: *container
      args: [test]
presubmits:
  acme/foo:
  - <<: *base-job
    name: unit
    always_run: true
    spec:
      <<: *spec
      nodeSelector: {pool: big}
    extra_refs:
    - <<: *ref
      path_alias: acme.dev/tools
  - <<: *base-job
    name: lint
    annotations:
      <<: *common
      owner: team-b
    run_if_changed: 'docs/'
    run_if_changed: '\.go$'
    spec:
      containers:
      - <<: *container
        image: golangci/golangci-lint:v1.59
        args: [lint]
postsubmits:
  acme/foo:
  - <<: *base-job
    name: post-unit
    spec: *spec
periodics:
- <<: [*base-job, *periodic-defaults]
  name: nightly
  extra_refs: [{<<: *ref}]
  spec: {<<: *spec}
"#;

const EXPANDED: &str = r#"prow_ignored: {}
presubmits:
  acme/foo:
  - name: unit
    max_concurrency: 2
    labels: {preset-dind: "true"}
    annotations: {testgrid-dashboards: acme-foo, owner: team-a}
    always_run: true
    spec:
      containers:
      - image: golang:1.22
        command: [make]
        env: [{name: GOFLAGS, value: -mod=mod}]
        resources: {requests: {cpu: 2, memory: 4Gi}}
        args: [test]
      nodeSelector: {pool: big}
    extra_refs:
    - org: acme
      repo: tools
      base_ref: main
      path_alias: acme.dev/tools
  - name: lint
    max_concurrency: 2
    labels: {preset-dind: "true"}
    annotations: {testgrid-dashboards: acme-foo, owner: team-b}
    run_if_changed: '\.go$'
    spec:
      containers:
      - image: golangci/golangci-lint:v1.59
        command: [make]
        env: [{name: GOFLAGS, value: -mod=mod}]
        resources: {requests: {cpu: 2, memory: 4Gi}}
        args: [lint]
postsubmits:
  acme/foo:
  - name: post-unit
    max_concurrency: 2
    labels: {preset-dind: "true"}
    annotations: {testgrid-dashboards: acme-foo, owner: team-a}
    spec:
      containers:
      - image: golang:1.22
        command: [make]
        env: [{name: GOFLAGS, value: -mod=mod}]
        resources: {requests: {cpu: 2, memory: 4Gi}}
        args: [test]
periodics:
- name: nightly
  cron: "0 3 * * *"
  max_concurrency: 2
  labels: {preset-dind: "true"}
  annotations: {testgrid-dashboards: acme-foo, owner: team-a}
  extra_refs: [{org: acme, repo: tools, base_ref: main}]
  spec:
    containers:
    - image: golang:1.22
      command: [make]
      env: [{name: GOFLAGS, value: -mod=mod}]
      resources: {requests: {cpu: 2, memory: 4Gi}}
      args: [test]
"#;

#[test]
fn merge_keys_give_the_same_jobs_as_the_expanded_form() {
    let merged = Fixture::new(&[("acme/foo.yaml", MERGED)]);
    let expanded = Fixture::new(&[("acme/foo.yaml", EXPANDED)]);
    let (config, warnings) = merged.load();
    assert!(warnings.is_empty(), "{warnings:#?}");
    let (want, warnings) = expanded.load();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(
        normalized(&config, merged.root()),
        normalized(&want, expanded.root())
    );

    // And the expanded form says what Go reads, field by field.
    let summary = config.summary();
    assert_eq!(
        (summary.presubmits, summary.postsubmits, summary.periodics),
        (2, 1, 1)
    );
    let pre = config.presubmits_for("acme/foo").unwrap();
    let (unit, lint) = (&pre[0], &pre[1]);
    assert_eq!(unit.base.max_concurrency, 2);
    assert_eq!(unit.base.annotations["owner"], "team-a");
    // Explicit keys after `<<` override merged ones; the rest of the anchor stays.
    assert_eq!(lint.base.annotations["owner"], "team-b");
    assert_eq!(lint.base.annotations["testgrid-dashboards"], "acme-foo");
    // A repeated key keeps its last value.
    assert!(lint.changes.runs_against_changes(&["main.go"]));
    assert!(!lint.changes.runs_against_changes(&["docs/README.md"]));
    let container = |spec: Option<&prow_core::config::Lazy<_>>| {
        let spec: &k8s_openapi::api::core::v1::PodSpec = spec.unwrap();
        spec.containers[0].clone()
    };
    let c = container(unit.base.spec.as_ref());
    assert_eq!(c.image.as_deref(), Some("golang:1.22"));
    assert_eq!(c.args, Some(vec!["test".to_string()]));
    assert_eq!(c.command, Some(vec!["make".to_string()]));
    let lc = container(lint.base.spec.as_ref());
    assert_eq!(lc.image.as_deref(), Some("golangci/golangci-lint:v1.59"));
    assert_eq!(lc.env.unwrap()[0].name, "GOFLAGS");
    assert_eq!(unit.base.utility.extra_refs[0].path_alias, "acme.dev/tools");
    assert_eq!(unit.base.utility.extra_refs[0].base_ref, "main");
    // `<<: [*base-job, *periodic-defaults]`: the first mapping wins where both set a key.
    let nightly = &config.periodics[0];
    assert_eq!(nightly.base.max_concurrency, 2);
    assert_eq!(nightly.cron, "0 3 * * *");
    assert_eq!(nightly.base.utility.extra_refs[0].repo, "tools");
}

#[test]
fn errors_inside_merged_mappings_name_file_line_and_field() {
    // A bad value in an anchor: reported where the anchor writes it, under the job that uses it.
    let text = "\
prow_ignored:
  base: &base
    max_concurrency: -1
    spec: {containers: [{image: alpine}]}
presubmits:
  acme/foo:
  - <<: *base
    name: unit
";
    let errors = Fixture::new(&[("jobs.yaml", text)]).errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("jobs/jobs.yaml:3:5: presubmits.acme/foo[0].max_concurrency: "),
        "{errors:#?}"
    );
    assert!(errors[0].contains("non-negative"), "{errors:#?}");

    // A type error in a merged container: the value's own line.
    let text = "\
prow_ignored:
  container: &container
    image: alpine
    command: true-but-not-a-list
presubmits:
  acme/foo:
  - name: unit
    spec:
      containers:
      - <<: *container
";
    let errors = Fixture::new(&[("jobs.yaml", text)]).errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "jobs/jobs.yaml:4:14: presubmits.acme/foo[0].spec.containers[0].command: invalid type"
        ),
        "{errors:#?}"
    );

    // A field the job lacks altogether: the job, i.e. the mapping that uses the anchor.
    let text = "\
prow_ignored:
  base: &base
    spec: {containers: [{image: alpine}]}
periodics:
- <<: *base
  name: nightly
";
    let errors = Fixture::new(&[("jobs.yaml", text)]).errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("jobs/jobs.yaml:5:3: periodics[0]"),
        "{errors:#?}"
    );

    // A merge of something that is not a mapping is a syntax-level error at the `<<`.
    let text = "presubmits:\n  acme/foo:\n  - <<: [just, strings]\n    name: unit\n";
    let errors = Fixture::new(&[("jobs.yaml", text)]).errors();
    assert_eq!(
        errors,
        vec!["jobs/jobs.yaml:3:5: <file>: map merge requires map or sequence of maps as the value"]
    );
}

#[test]
fn a_repeated_key_keeps_the_last_and_is_located_there() {
    let text = "\
presubmits:
  acme/foo:
  - name: unit
    spec: {containers: [{image: alpine}]}
    max_concurrency: 1
    max_concurrency: -3
";
    let errors = Fixture::new(&[("jobs.yaml", text)]).errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("jobs/jobs.yaml:6:5: presubmits.acme/foo[0].max_concurrency: "),
        "{errors:#?}"
    );
    // A repeated repo key: the last list of jobs is the one Go keeps.
    let text = "\
presubmits:
  acme/foo:
  - name: first
    spec: {containers: [{image: alpine}]}
  acme/foo:
  - name: second
    spec: {containers: [{image: alpine}]}
";
    let (config, warnings) = Fixture::new(&[("jobs.yaml", text)]).load();
    assert!(warnings.is_empty(), "{warnings:#?}");
    let jobs = config.presubmits_for("acme/foo").unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.name()).collect::<Vec<_>>(),
        vec!["second"]
    );
}

#[test]
fn only_the_first_document_of_a_job_file_counts() {
    let text = "\
presubmits:
  acme/foo:
  - name: unit
    spec: {containers: [{image: alpine}]}
---
presubmits:
  acme/foo:
  - name: ignored
";
    let (config, warnings) = Fixture::new(&[("jobs.yaml", text)]).load();
    assert_eq!(config.summary().presubmits, 1);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!((warnings[0].line, warnings[0].column), (5, 1));
    assert!(warnings[0].message.contains("only the first YAML document"));
}

#[test]
fn plugins_yaml_and_config_yaml_read_merge_keys_too() {
    let dir = tempfile::tempdir().unwrap();
    let config_yaml = "\
prow_ignored:
  ns: &ns {pod_namespace: test-pods}
<<: *ns
prowjob_namespace: prow
prowjob_namespace: prow-jobs
";
    std::fs::write(dir.path().join("config.yaml"), config_yaml).unwrap();
    let plugins_yaml = "\
common: &common [trigger, lgtm]
plugins:
  acme:
    plugins: *common
  acme/foo:
    plugins: [hold]
";
    std::fs::write(dir.path().join("plugins.yaml"), plugins_yaml).unwrap();
    let loaded = config::load(&LoadOptions {
        config_path: dir.path().join("config.yaml"),
        job_config_path: None,
        plugin_config_path: Some(dir.path().join("plugins.yaml")),
    })
    .unwrap();
    assert_eq!(loaded.config.prow.pod_namespace, "test-pods");
    assert_eq!(loaded.config.prow.prowjob_namespace, "prow-jobs");
    assert_eq!(
        loaded.config.plugins.plugins_for("acme", "foo"),
        vec!["hold", "lgtm", "trigger"]
    );
    // The anchor holder is an unknown key of plugins.yaml: a warning, as before.
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].field, "common");
}
