//! plugins.yaml's `plugins:` map as Prow reads and validates it, with positioned diagnostics.
#![allow(clippy::unwrap_used)]

use prow_core::config::{self, LoadOptions};

fn load(plugins_yaml: &str) -> Result<config::Loaded, config::LoadError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), "").unwrap();
    std::fs::write(dir.path().join("plugins.yaml"), plugins_yaml).unwrap();
    config::load(&LoadOptions {
        config_path: dir.path().join("config.yaml"),
        job_config_path: None,
        plugin_config_path: Some(dir.path().join("plugins.yaml")),
    })
}

fn rendered(diagnostics: &[config::Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            let text = d.to_string();
            text[text.find("plugins.yaml:").unwrap()..].to_string()
        })
        .collect()
}

#[test]
fn prow_refuses_what_we_refuse_and_says_where() {
    let err = load(
        "plugins:\n  acme:\n    plugins: [lgtm, trigger]\n  acme/foo:\n    plugins: [trigger]\n  acme/bar: [hold]\n",
    )
    .unwrap_err();
    assert_eq!(
        rendered(&err.diagnostics),
        vec![
            "plugins.yaml:6:3: plugins.acme/bar: a plain list among {plugins: [...]} entries: \
             Prow reads the whole map in one form or the other and fails to load this plugins.yaml",
            "plugins.yaml:4:3: plugins.acme/foo: plugins [trigger] are duplicated for foo and acme",
        ]
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
    );
}

#[test]
fn an_exclusion_that_cannot_match_is_a_warning() {
    let loaded = load(
        "plugins:\n  acme:\n    plugins: [trigger]\n    excluded_repos:\n    - foo\n    - acme/bar\n",
    )
    .unwrap();
    assert_eq!(
        rendered(&loaded.warnings),
        vec![
            "plugins.yaml:6:7: plugins.acme.excluded_repos[1]: \"acme/bar\" never matches: \
             excluded_repos holds bare repo names of the org"
        ]
    );
    let plugins = &loaded.config.plugins;
    assert!(!plugins.is_enabled("acme", "foo", "trigger"));
    assert!(plugins.is_enabled("acme", "bar", "trigger"));
}
