//! Prow configuration into the loaders: `config.yaml`, a job config file and `plugins.yaml`
//! (the input's three NUL-separated parts, each omitted when absent), through `load` with its
//! defaulting and validation, then the compiled-snapshot round trip and the in-repo
//! `.prow.yaml` parser over the job part.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prow_core::config::{InRepoFile, LoadOptions, load, snapshot};

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
}

fn write(path: &PathBuf, text: &[u8]) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let prow = parts.next().unwrap_or_default();
    let jobs = parts.next();
    let plugins = parts.next();
    let root = dir().path();
    let options = LoadOptions {
        config_path: root.join("config.yaml"),
        job_config_path: jobs.map(|_| root.join("jobs.yaml")),
        plugin_config_path: plugins.map(|_| root.join("plugins.yaml")),
    };
    write(&options.config_path, prow);
    if let (Some(path), Some(text)) = (&options.job_config_path, jobs) {
        write(path, text);
    }
    if let (Some(path), Some(text)) = (&options.plugin_config_path, plugins) {
        write(path, text);
    }

    if let Ok(loaded) = load(&options) {
        let config = loaded.config;
        let summary = config.summary();
        // What `prow config compile` writes must open again, with the same jobs.
        let bytes = snapshot::encode(&config).unwrap_or_else(|e| panic!("snapshot encode: {e}"));
        let reopened = snapshot::decode(bytes).unwrap_or_else(|e| panic!("snapshot decode: {e}"));
        assert_eq!(reopened.summary(), summary);
        for org_repo in config.presubmits.keys() {
            let _ = reopened.presubmits_for(org_repo);
        }
        let _ = reopened.periodic_jobs();

        if let Some(text) = jobs.and_then(|j| std::str::from_utf8(j).ok()) {
            let files = [InRepoFile {
                path: ".prow.yaml".to_owned(),
                text: text.to_owned(),
            }];
            let _ = config.prow_yaml("Codertocat/Hello-World", &files);
        }
    }
});
