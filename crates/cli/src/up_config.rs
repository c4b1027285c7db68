//! `prow up`'s config held as a cluster holds it: ConfigMaps `config`, `plugins` and
//! `job-config` in the prowjob namespace (Prow's names, and config-updater's defaults), mirrored
//! to files under `<state-dir>/config/` the way a kubelet refreshes a mounted ConfigMap. The
//! functions read those files through [`prow_runtime::LiveConfig`], so a merge that
//! config-updater writes into a ConfigMap goes live without a restart, by the same path as on
//! Knative.
//!
//! At start the ConfigMaps are (re)written from the user's files: those are what `prow up` was
//! asked to deploy, as `kubectl apply` would overwrite a cluster's ConfigMaps.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use prow_core::config::LoadOptions;

/// A mirrored ConfigMap: its name, and the one key that is the file functions read (none for
/// `job-config`, whose every key is a job file).
const MOUNTS: [(&str, Option<&str>); 3] = [
    ("config", Some("config.yaml")),
    ("plugins", Some("plugins.yaml")),
    ("job-config", None),
];

/// How often the mirror looks at the ConfigMaps; functions look at the files every second too,
/// so a change is live within about two seconds.
pub(crate) const MIRROR_INTERVAL: Duration = Duration::from_secs(1);
pub(crate) const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Where the mirrored files are.
#[derive(Debug, Clone)]
pub(crate) struct Mounted {
    root: PathBuf,
}

impl Mounted {
    pub(crate) fn new(state_dir: &Path) -> Self {
        Self {
            root: state_dir.join("config"),
        }
    }

    fn dir(&self, configmap: &str) -> PathBuf {
        self.root.join(configmap)
    }

    /// The load options functions read the mirrored config with.
    pub(crate) fn load_options(&self) -> LoadOptions {
        LoadOptions {
            config_path: self.dir("config").join("config.yaml"),
            job_config_path: Some(self.dir("job-config")),
            plugin_config_path: Some(self.dir("plugins").join("plugins.yaml")),
        }
    }
}

/// The user's files as the three ConfigMaps' data.
pub(crate) fn user_configmaps(
    config_path: &Path,
    job_config_path: &Path,
    plugin_config: &Path,
) -> anyhow::Result<BTreeMap<&'static str, BTreeMap<String, String>>> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(BTreeMap::from([
        (
            "config",
            BTreeMap::from([("config.yaml".to_owned(), read(config_path)?)]),
        ),
        (
            "plugins",
            BTreeMap::from([("plugins.yaml".to_owned(), read(plugin_config)?)]),
        ),
        ("job-config", job_config_keys(job_config_path)?),
    ]))
}

/// Every job file under `path` by its ConfigMap key: its base name (config-updater's default
/// key, so a later merge replaces the same key), or its path with `/` as `-` where two files
/// share a base name.
fn job_config_keys(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = Vec::new();
    collect_yaml(path, path, &mut files)?;
    let mut base_count: BTreeMap<String, usize> = BTreeMap::new();
    for (relative, _) in &files {
        *base_count.entry(base_name(relative)).or_default() += 1;
    }
    Ok(files
        .into_iter()
        .map(|(relative, text)| {
            let base = base_name(&relative);
            let key = if base_count[&base] > 1 {
                relative.replace('/', "-")
            } else {
                base
            };
            (key, text)
        })
        .collect())
}

fn base_name(relative: &str) -> String {
    relative.rsplit('/').next().unwrap_or(relative).to_owned()
}

fn collect_yaml(root: &Path, path: &Path, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            collect_yaml(root, &entry, out)?;
        }
    } else if path
        .extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
    {
        let relative = path
            .strip_prefix(root)
            .ok()
            .filter(|r| !r.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()));
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        out.push((relative.to_string_lossy().into_owned(), text));
    }
    Ok(())
}

/// Writes the user's config into the ConfigMaps (created or replaced).
pub(crate) async fn seed(
    kube: &kube::Client,
    namespace: &str,
    configmaps: BTreeMap<&'static str, BTreeMap<String, String>>,
) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(kube.clone(), namespace);
    for (name, data) in configmaps {
        let existing = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading configmap {namespace}/{name}"))?;
        let result = match existing {
            Some(mut cm) => {
                cm.data = Some(data);
                cm.binary_data = None;
                api.replace(name, &PostParams::default(), &cm).await
            }
            None => {
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some(name.to_owned());
                cm.metadata.namespace = Some(namespace.to_owned());
                cm.data = Some(data);
                api.create(&PostParams::default(), &cm).await
            }
        };
        result.with_context(|| format!("writing configmap {namespace}/{name}"))?;
    }
    Ok(())
}

/// Brings the mirrored files in line with the ConfigMaps once; true when a file changed.
pub(crate) async fn mirror_once(
    kube: &kube::Client,
    namespace: &str,
    mounted: &Mounted,
) -> anyhow::Result<bool> {
    let api: Api<ConfigMap> = Api::namespaced(kube.clone(), namespace);
    let mut changed = false;
    for (name, only_key) in MOUNTS {
        let Some(cm) = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading configmap {namespace}/{name}"))?
        else {
            // A deleted ConfigMap leaves its last files: a kubelet keeps a mounted volume too.
            continue;
        };
        let mut files = files_of(&cm);
        if let Some(key) = only_key {
            files.retain(|k, _| k == key);
        }
        changed |= sync_dir(&mounted.dir(name), &files)
            .with_context(|| format!("mirroring configmap {name}"))?;
    }
    Ok(changed)
}

/// Mirrors until `stop` resolves; a failed round is logged and tried again.
pub(crate) async fn run_mirror(
    kube: kube::Client,
    namespace: String,
    mounted: Mounted,
    stop: impl Future<Output = ()>,
) {
    let mirror = async {
        loop {
            tokio::time::sleep(MIRROR_INTERVAL).await;
            match mirror_once(&kube, &namespace, &mounted).await {
                Ok(true) => tracing::info!("config ConfigMaps changed; files mirrored"),
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "mirroring config ConfigMaps")
                }
            }
        }
    };
    tokio::select! {
        () = mirror => {},
        () = stop => {},
    }
}

/// A ConfigMap's keys as file contents; gzipped values (config-updater's `gzip`) are stored
/// unzipped, since the config loader reads plain YAML.
fn files_of(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let text = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()));
    let binary = cm.binary_data.iter().flatten().map(|(k, v)| {
        let mut unzipped = Vec::new();
        let bytes = if v.0.starts_with(&[0x1f, 0x8b])
            && flate2::read::GzDecoder::new(&v.0[..])
                .read_to_end(&mut unzipped)
                .is_ok()
        {
            unzipped
        } else {
            v.0.clone()
        };
        (k.clone(), bytes)
    });
    text.chain(binary).collect()
}

/// Makes `dir` hold exactly `files` (plain keys only); each file is replaced by a rename so a
/// reader never sees half of one. True when anything changed.
fn sync_dir(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let mut changed = false;
    for (key, content) in files {
        if key.contains('/') || key.starts_with('.') {
            continue;
        }
        let path = dir.join(key);
        if std::fs::read(&path).is_ok_and(|old| old == *content) {
            continue;
        }
        let tmp = dir.join(format!(".{key}.tmp"));
        std::fs::write(&tmp, content)?;
        std::fs::rename(&tmp, &path)?;
        changed = true;
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !files.contains_key(&name) && entry.path().is_file() {
            std::fs::remove_file(entry.path())?;
            changed = true;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_files_are_keyed_by_base_name_unless_two_share_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (file, text) in [
            ("a/unit.yaml", "u"),
            ("b/e2e.yaml", "e"),
            ("c/e2e.yaml", "e2"),
            ("notes.txt", "n"),
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let keys = job_config_keys(dir.path()).expect("keys");
        assert_eq!(
            keys.into_iter().collect::<Vec<_>>(),
            [
                ("b-e2e.yaml".to_owned(), "e".to_owned()),
                ("c-e2e.yaml".to_owned(), "e2".to_owned()),
                ("unit.yaml".to_owned(), "u".to_owned()),
            ]
        );
    }

    #[test]
    fn the_mirror_writes_changed_keys_unzips_and_removes_deleted_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut zipped = Vec::new();
        {
            use std::io::Write;
            let mut enc =
                flate2::write::GzEncoder::new(&mut zipped, flate2::Compression::default());
            enc.write_all(b"presubmits: {}\n").expect("gzip");
            enc.finish().expect("gzip");
        }
        let cm = ConfigMap {
            data: Some(BTreeMap::from([
                ("a.yaml".to_owned(), "a".to_owned()),
                ("VERSION".to_owned(), "sha".to_owned()),
            ])),
            binary_data: Some(BTreeMap::from([(
                "z.yaml".to_owned(),
                k8s_openapi::ByteString(zipped),
            )])),
            ..ConfigMap::default()
        };
        std::fs::write(dir.path().join("stale.yaml"), "old").expect("write");
        assert!(sync_dir(dir.path(), &files_of(&cm)).expect("sync"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("z.yaml")).expect("z"),
            "presubmits: {}\n"
        );
        assert!(!dir.path().join("stale.yaml").exists());
        assert!(
            !sync_dir(dir.path(), &files_of(&cm)).expect("sync"),
            "nothing changed the second time"
        );
    }
}
