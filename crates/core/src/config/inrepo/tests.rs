use super::*;

/// A table row: files (path, text) or map entries, a repo or message, and what is expected.
type Pairs<'a, V> = &'a [(&'a str, V)];
use crate::config::{LoadOptions, load};

/// A central config with one presubmit and one postsubmit for `org/repo`.
fn central(extra_config: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "plank:\n  default_decoration_config_entries:\n  - config:\n      timeout: 2h\n      utility_images: {{clonerefs: c, initupload: i, entrypoint: e, sidecar: s}}\n      gcs_configuration: {{bucket: b, path_strategy: explicit}}\n      gcs_credentials_secret: g\n{extra_config}\
             presets:\n- labels: {{preset-x: \"true\"}}\n  env: [{{name: FROM_PRESET, value: central}}]\n\
             presubmits:\n  org/repo:\n  - name: central-unit\n    always_run: true\n    spec: {{containers: [{{image: alpine}}]}}\n\
             postsubmits:\n  org/repo:\n  - name: central-post\n    spec: {{containers: [{{image: alpine}}]}}\n"
        ),
    )
    .unwrap();
    load(&LoadOptions {
        config_path: config,
        ..LoadOptions::default()
    })
    .unwrap()
    .config
}

fn file(path: &str, text: &str) -> InRepoFile {
    InRepoFile {
        path: path.into(),
        text: text.into(),
    }
}

#[test]
fn enablement_takes_the_narrowest_key() {
    // (enabled map, repo, want)
    let cases: &[(Pairs<'_, bool>, &str, bool)] = &[
        (&[], "org/repo", false),
        (&[("*", true)], "org/repo", true),
        (&[("*", true), ("org", false)], "org/repo", false),
        (
            &[("*", true), ("org", false), ("org/repo", true)],
            "org/repo",
            true,
        ),
        (&[("org", true)], "other/repo", false),
        (&[("org/repo", true)], "org/other", false),
    ];
    for (enabled, repo, want) in cases {
        let cfg = InRepoConfig {
            enabled: enabled.iter().map(|(k, v)| ((*k).into(), *v)).collect(),
            ..InRepoConfig::default()
        };
        assert_eq!(cfg.enabled_for(repo), *want, "{enabled:?} {repo}");
    }
}

#[test]
fn allowed_clusters_are_the_union_of_levels_with_default_unless_star_is_set() {
    let cfg = |pairs: &[(&str, &[&str])]| InRepoConfig {
        allowed_clusters: pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.iter().map(|c| (*c).into()).collect()))
            .collect(),
        ..InRepoConfig::default()
    };
    assert!(cfg(&[]).allows_cluster("default", "org/repo"));
    assert!(!cfg(&[]).allows_cluster("gpu", "org/repo"));
    assert!(!cfg(&[("*", &[])]).allows_cluster("default", "org/repo"));
    let layered = cfg(&[("org", &["gpu"]), ("org/repo", &["arm"])]);
    assert!(layered.allows_cluster("default", "org/repo"));
    assert!(layered.allows_cluster("gpu", "org/repo"));
    assert!(layered.allows_cluster("arm", "org/repo"));
    assert!(!layered.allows_cluster("arm", "org/other"));
}

#[test]
fn the_prow_directory_wins_over_the_single_file_and_is_read_in_walk_order() {
    let tree = [
        "README.md",
        ".prow.yaml",
        ".prow/a.yaml",
        ".prow/a/b.yml",
        ".prow/notes.txt",
        ".prow/z.yaml",
    ];
    assert_eq!(
        in_repo_config_paths(tree),
        [".prow/a/b.yml", ".prow/a.yaml", ".prow/z.yaml"]
    );
    assert_eq!(
        in_repo_config_paths(["main.go", ".prow.yaml"]),
        [".prow.yaml"]
    );
    assert!(in_repo_config_paths([".prowl.yaml", "x/.prow.yaml"]).is_empty());
}

#[test]
fn changes_touching_the_in_repo_config_are_recognised() {
    assert!(touches_in_repo_config(&["a.go", ".prow.yaml"]));
    assert!(touches_in_repo_config(&[".prow/jobs.yaml"]));
    assert!(!touches_in_repo_config(&["docs/.prow.yaml", ".prowignore"]));
}

#[test]
fn in_repo_jobs_are_defaulted_like_central_ones() {
    let config = central("");
    let yaml = config
        .prow_yaml(
            "org/repo",
            &[file(
                ".prow.yaml",
                "presubmits:\n- name: in-repo-lint\n  decorate: true\n  run_if_changed: '^src/'\n  labels: {preset-x: \"true\"}\n  spec: {containers: [{image: alpine, command: [make]}]}\n\
                 postsubmits:\n- name: in-repo-post\n  spec: {containers: [{image: alpine}]}\n",
            )],
        )
        .unwrap();
    let pre = &yaml.presubmits[0];
    assert_eq!(pre.context, "in-repo-lint");
    assert!(pre.triggered_by("/test in-repo-lint"));
    assert_eq!(pre.base.cluster, "default");
    assert_eq!(&*pre.base.source.file, ".prow.yaml");
    let decoration = pre.base.utility.decoration_config.as_ref().unwrap();
    assert!(
        decoration.timeout.is_some(),
        "central decoration defaults apply"
    );
    let spec = pre.base.spec.as_ref().unwrap();
    let env = spec.containers[0].env.as_ref().unwrap();
    assert_eq!(env[0].name, "FROM_PRESET", "central presets apply");
    assert_eq!(yaml.postsubmits[0].name(), "in-repo-post");
    let all = config.presubmits_with("org/repo", Some(&yaml)).unwrap();
    let names: Vec<&str> = all.iter().map(Presubmit::name).collect();
    assert_eq!(names, ["central-unit", "in-repo-lint"]);
}

#[test]
fn in_repo_presets_apply_to_in_repo_jobs() {
    let yaml = central("")
        .prow_yaml(
            "org/repo",
            &[file(
                ".prow/jobs.yaml",
                "presets:\n- labels: {local: \"yes\"}\n  env: [{name: LOCAL, value: \"1\"}]\n\
                 presubmits:\n- name: with-local\n  labels: {local: \"yes\"}\n  spec: {containers: [{image: alpine}]}\n",
            )],
        )
        .unwrap();
    let spec = yaml.presubmits[0].base.spec.as_ref().unwrap();
    assert_eq!(spec.containers[0].env.as_ref().unwrap()[0].name, "LOCAL");
}

#[test]
fn invalid_in_repo_config_is_refused_with_file_and_line() {
    let config = central("in_repo_config:\n  allowed_clusters:\n    org/repo: [arm]\n");
    // (files, expected message part, expected file:line)
    let cases: &[(Pairs<'_, &str>, &str, &str)] = &[
        (
            &[(
                ".prow.yaml",
                "presubmits:\n- name: ok\n  spec: {containers: [{image: a}]}\n- name: central-unit\n  spec: {containers: [{image: a}]}\n",
            )],
            "duplicated presubmit job central-unit",
            ".prow.yaml:4",
        ),
        (
            &[
                (
                    ".prow/a.yaml",
                    "postsubmits:\n- name: p\n  spec: {containers: [{image: a}]}\n",
                ),
                (
                    ".prow/b.yaml",
                    "\npostsubmits:\n- name: p\n  spec: {containers: [{image: a}]}\n",
                ),
            ],
            "duplicated postsubmit job p",
            ".prow/b.yaml:3",
        ),
        (
            &[(
                ".prow.yaml",
                "presubmits:\n- name: gpu\n  cluster: gpu\n  spec: {containers: [{image: a}]}\n",
            )],
            "cluster \"gpu\" is not allowed for repository \"org/repo\"",
            ".prow.yaml:3",
        ),
        (
            &[(".prow.yaml", "presubmits:\n- name: [unclosed\n")],
            "",
            ".prow.yaml:3",
        ),
    ];
    for (files, message, at) in cases {
        let files: Vec<InRepoFile> = files.iter().map(|(p, t)| file(p, t)).collect();
        let err = config.prow_yaml("org/repo", &files).unwrap_err();
        let first = err.errors().next().unwrap().to_string();
        assert!(first.contains(message), "{first}");
        assert!(first.starts_with(at), "{first} should start with {at}");
    }
    // A cluster allowed for the repo is fine, and so is `default` (no "*" entry).
    let ok = config.prow_yaml(
        "org/repo",
        &[file(
            ".prow.yaml",
            "presubmits:\n- name: arm\n  cluster: arm\n  spec: {containers: [{image: a}]}\n- name: d\n  spec: {containers: [{image: a}]}\n",
        )],
    );
    assert_eq!(ok.unwrap().presubmits.len(), 2);
}

#[test]
fn unknown_fields_are_warnings_not_errors() {
    let yaml = central("")
        .prow_yaml(
            "org/repo",
            &[file(
                ".prow.yaml",
                "prow_ignored: {anything: 1}\npresubmits:\n- name: x\n  colour: blue\n  spec: {containers: [{image: a}]}\n",
            )],
        )
        .unwrap();
    assert_eq!(yaml.warnings.len(), 1, "{:?}", yaml.warnings);
    assert!(yaml.warnings[0].to_string().contains("colour"));
}

#[test]
fn a_checkout_is_read_as_prow_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".prow.yaml"), "presubmits: []\n").unwrap();
    let (files, shadowed) = read_in_repo_config_dir(dir.path()).unwrap();
    assert_eq!(files.len(), 1);
    assert!(!shadowed);
    std::fs::create_dir_all(dir.path().join(".prow/sub")).unwrap();
    std::fs::write(dir.path().join(".prow/sub/x.yaml"), "postsubmits: []\n").unwrap();
    let (files, shadowed) = read_in_repo_config_dir(dir.path()).unwrap();
    assert_eq!(files[0].path, ".prow/sub/x.yaml");
    assert_eq!(files.len(), 1);
    assert!(shadowed, ".prow.yaml beside .prow/ is ignored, and said so");
}
