//! A Prow config that follows its files: re-read when they change, so a merged config change goes
//! live without restarting a function.
//!
//! Knative (like any kubelet) updates a mounted ConfigMap in place by swapping a `..data`
//! symlink, and `prow up` mirrors the config ConfigMaps to files the same way. A function asks
//! [`LiveConfig::current`] once per event; at most once per interval that call compares the
//! files' sizes, modification times and link targets with what it loaded and, if anything moved,
//! loads the config again. A config that fails to load is logged and counted
//! (`prow_config_reloads_total{outcome="error"}`) and the last good one keeps serving: a bad
//! merge must not stop Prow from acting on the next event.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use prow_core::config::{Config, LoadError, LoadOptions};

/// How often a function looks at its config files by default: a few seconds keeps the stat calls
/// off the hot path and still goes live long before anyone opens the next pull request.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(3);

/// Reloads that succeeded and failed in this process, for the `/metrics` lines
/// [`crate::encode_metrics`] appends.
pub(crate) static RELOADS_OK: AtomicU64 = AtomicU64::new(0);
pub(crate) static RELOADS_FAILED: AtomicU64 = AtomicU64::new(0);

/// The config a function acts on; cheap to clone (all clones share one config).
#[derive(Clone)]
pub struct LiveConfig {
    current: Arc<RwLock<Arc<Config>>>,
    files: Option<Arc<Files>>,
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("options", &self.files.as_ref().map(|files| &files.options))
            .finish_non_exhaustive()
    }
}

/// Where the config came from and what its files looked like when it was loaded.
struct Files {
    options: LoadOptions,
    interval: Duration,
    watch: Mutex<Watch>,
}

struct Watch {
    checked: Instant,
    stamp: Stamp,
}

/// What identifies a version of the config files without reading them.
type Stamp = Vec<(PathBuf, FileStamp)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    link: Option<PathBuf>,
}

impl LiveConfig {
    /// A config that never changes (tests, or a caller that reloads by itself).
    pub fn fixed(config: Arc<Config>) -> Self {
        Self {
            current: Arc::new(RwLock::new(config)),
            files: None,
        }
    }

    /// Loads the config now (an error here is fatal: there is no last good config yet) and
    /// re-reads it when its files change, checking at most once per `interval`.
    pub fn load(options: LoadOptions, interval: Duration) -> Result<Self, LoadError> {
        let stamp = stamp(&options);
        let config = crate::load_config(&options)?;
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(config))),
            files: Some(Arc::new(Files {
                options,
                interval,
                watch: Mutex::new(Watch {
                    checked: Instant::now(),
                    stamp,
                }),
            })),
        })
    }

    /// The config to act on now: re-read first when the interval has passed and the files
    /// changed. Concurrent callers never wait for a reload; they get the config of the moment.
    pub fn current(&self) -> Arc<Config> {
        if let Some(files) = &self.files {
            self.refresh(files);
        }
        self.snapshot()
    }

    fn snapshot(&self) -> Arc<Config> {
        match self.current.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn refresh(&self, files: &Files) {
        let Ok(mut watch) = files.watch.try_lock() else {
            return;
        };
        if watch.checked.elapsed() < files.interval {
            return;
        }
        watch.checked = Instant::now();
        let now = stamp(&files.options);
        if now == watch.stamp {
            return;
        }
        // Remember the new files whatever the outcome: a broken config is reported once, not
        // on every event, and the next change is tried again.
        watch.stamp = now;
        match crate::load_config(&files.options) {
            Ok(config) => {
                let config = Arc::new(config);
                match self.current.write() {
                    Ok(mut current) => *current = config,
                    Err(poisoned) => *poisoned.into_inner() = config,
                }
                RELOADS_OK.fetch_add(1, Ordering::Relaxed);
                tracing::info!(config = %files.options.config_path.display(), "config reloaded");
            }
            Err(err) => {
                RELOADS_FAILED.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    error = %err,
                    config = %files.options.config_path.display(),
                    "config changed but does not load; still serving the last good one"
                );
            }
        }
    }
}

/// The stamps of the config file, the plugin config and every entry under the job config path.
fn stamp(options: &LoadOptions) -> Stamp {
    let mut out = Vec::new();
    stamp_file(&options.config_path, &mut out);
    if let Some(plugins) = &options.plugin_config_path {
        stamp_file(plugins, &mut out);
    }
    if let Some(jobs) = &options.job_config_path {
        stamp_tree(jobs, &mut out, 0);
    }
    out
}

fn stamp_file(path: &Path, out: &mut Stamp) {
    let link = std::fs::read_link(path).ok();
    // A missing file is a state too: its stamp differs from any present one.
    let stamp = match std::fs::metadata(path) {
        Ok(meta) => FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: inode(&meta),
            link,
        },
        Err(_) => FileStamp {
            len: 0,
            modified: None,
            inode: 0,
            link,
        },
    };
    out.push((path.to_path_buf(), stamp));
}

/// Job trees are shallow; the bound only stops a symlink loop from recursing forever.
const MAX_DEPTH: usize = 16;

fn stamp_tree(path: &Path, out: &mut Stamp, depth: usize) {
    stamp_file(path, out);
    let is_real_dir = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir());
    if !is_real_dir && depth > 0 || depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    children.sort();
    for child in children {
        stamp_tree(&child, out, depth + 1);
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// The reload counter in the OpenMetrics text format, once this process has reloaded at all.
pub(crate) fn reload_metrics() -> Option<String> {
    let ok = RELOADS_OK.load(Ordering::Relaxed);
    let failed = RELOADS_FAILED.load(Ordering::Relaxed);
    (ok + failed > 0).then(|| {
        format!(
            "# HELP prow_config_reloads Config reloads after its files changed, by outcome (on error the last good config keeps serving).\n# TYPE prow_config_reloads counter\nprow_config_reloads_total{{outcome=\"ok\"}} {ok}\nprow_config_reloads_total{{outcome=\"error\"}} {failed}\n"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("dir");
        }
        std::fs::write(path, text).expect("write");
    }

    fn presubmits(config: &Config) -> Vec<String> {
        config
            .presubmits
            .values()
            .flat_map(|jobs| jobs.get().iter().map(|j| j.base.name.clone()))
            .collect()
    }

    const JOB: &str = "presubmits:\n  acme/foo:\n  - name: NAME\n    always_run: true\n    spec:\n      containers:\n      - image: alpine\n";

    #[test]
    fn a_changed_job_file_is_picked_up_and_a_broken_one_keeps_the_last_good_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.yaml");
        write(&config_path, "prowjob_namespace: prow\n");
        let jobs = dir.path().join("jobs");
        write(&jobs.join("a.yaml"), &JOB.replace("NAME", "unit"));
        let live = LiveConfig::load(
            LoadOptions {
                config_path,
                job_config_path: Some(jobs.clone()),
                plugin_config_path: None,
            },
            Duration::ZERO,
        )
        .expect("loads");
        assert_eq!(presubmits(&live.current()), ["unit"]);

        write(&jobs.join("sub/b.yaml"), &JOB.replace("NAME", "e2e"));
        let mut names = presubmits(&live.current());
        names.sort();
        assert_eq!(names, ["e2e", "unit"]);

        write(&jobs.join("sub/b.yaml"), "presubmits: [this is not a map\n");
        let mut names = presubmits(&live.current());
        names.sort();
        assert_eq!(names, ["e2e", "unit"], "the last good config keeps serving");
        assert!(RELOADS_FAILED.load(Ordering::Relaxed) >= 1);
        assert!(reload_metrics().is_some_and(|m| m.contains("outcome=\"error\"")));

        std::fs::remove_file(jobs.join("sub/b.yaml")).expect("rm");
        assert_eq!(presubmits(&live.current()), ["unit"]);
    }

    #[test]
    fn files_are_not_looked_at_again_before_the_interval_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.yaml");
        write(&config_path, "prowjob_namespace: prow\n");
        let live = LiveConfig::load(
            LoadOptions {
                config_path: config_path.clone(),
                job_config_path: None,
                plugin_config_path: None,
            },
            Duration::from_secs(3600),
        )
        .expect("loads");
        write(&config_path, "prowjob_namespace: elsewhere\n");
        assert_eq!(live.current().prow.prowjob_namespace, "prow");
    }

    #[cfg(unix)]
    #[test]
    fn a_configmap_volume_swapping_its_data_link_is_a_change() {
        // The layout a kubelet writes: key -> ..data/key, ..data -> ..<timestamp>/.
        let dir = tempfile::tempdir().expect("tempdir");
        let mount = dir.path();
        write(&mount.join("..v1/config.yaml"), "prowjob_namespace: one\n");
        std::os::unix::fs::symlink("..v1", mount.join("..data")).expect("link");
        std::os::unix::fs::symlink("..data/config.yaml", mount.join("config.yaml")).expect("link");
        let live = LiveConfig::load(
            LoadOptions {
                config_path: mount.join("config.yaml"),
                job_config_path: None,
                plugin_config_path: None,
            },
            Duration::ZERO,
        )
        .expect("loads");
        assert_eq!(live.current().prow.prowjob_namespace, "one");
        write(&mount.join("..v2/config.yaml"), "prowjob_namespace: two\n");
        std::os::unix::fs::symlink("..v2", mount.join("..data.tmp")).expect("link");
        std::fs::rename(mount.join("..data.tmp"), mount.join("..data")).expect("swap");
        assert_eq!(live.current().prow.prowjob_namespace, "two");
    }

    #[test]
    fn a_fixed_config_never_changes() {
        let config = Arc::new(Config::default());
        let live = LiveConfig::fixed(config.clone());
        assert!(Arc::ptr_eq(&live.current(), &config));
    }
}
