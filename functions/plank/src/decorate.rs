//! Pod decoration: what Prow's `pkg/pod-utils/decorate` does to a decorated job's pod spec.
//!
//! [`decorate`] turns the job's containers into a decorated pod:
//!
//! - init containers `clonerefs` (unless `skip_cloning` or the job has no refs; it clones every
//!   ref into the `code` volume and logs to `/logs/clone.json`), `initupload` (uploads
//!   `started.json` and the clone log) and `place-entrypoint` (copies the entrypoint binary
//!   into the `tools` volume); user init containers stay between clonerefs and initupload;
//! - each test container runs `/tools/entrypoint`, its own command and args moving into its
//!   `ENTRYPOINT_OPTIONS` (with a process log, marker file and metadata file of its own under
//!   `/logs`, prefixed by the container name when there are several containers);
//! - a `sidecar` container waits for every test container and uploads logs and artifacts
//!   (`SIDECAR_OPTIONS`), censoring the secrets mounted in test containers when
//!   `censor_secrets` is set;
//! - volumes `logs`, `tools`, GCS/S3 credential secrets, then (when cloning) ssh keys, the OAuth
//!   token, the GitHub App key, `clonerefs-tmp`, the cookiefile and `code`, whose repository
//!   (the `workdir` ref, else the first) is every test container's working directory;
//! - `ARTIFACTS` and `GOPATH` join the job's env; `default_memory_request`,
//!   `set_limit_equals_memory_request`, `run_as_user`/`run_as_group`/`fs_group`,
//!   `scheduling_options`, `default_service_account_name` and a termination grace period of
//!   5/4 of `grace_period` apply where the pod spec leaves them unset.
//!
//! Containers, volumes, mounts and env vars come out in upstream's order. Upstream's local mode
//! (`ProwJobToPodLocal`: copy into a host directory instead of uploading) is not built here:
//! plank never uses it.

use prow_podutils::options::{go_path_join, path_for_refs};
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, KeyToPath, PodSecurityContext, PodSpec,
    SecretVolumeSource, Volume, VolumeMount,
};
use prow_core::prowjob::{DecorationConfig, ProwJob, Refs, Resources, UtilityImages};
use prow_podutils::options::{
    self, CLONEREFS_OPTIONS_ENV, CloneRefsOptions, DEFAULT_GIT_USER_EMAIL, DEFAULT_GIT_USER_NAME,
    ENTRYPOINT_OPTIONS_ENV, EntrypointOptions, GcsOptions, INITUPLOAD_OPTIONS_ENV,
    InitUploadOptions, SIDECAR_OPTIONS_ENV, SidecarCensoringOptions, SidecarOptions,
    WrapperOptions,
};
use serde::Serialize;

/// Volume for logs, markers and `$ARTIFACTS`.
pub const LOGS_VOLUME: &str = "logs";
/// Where [`LOGS_VOLUME`] is mounted.
pub const LOGS_MOUNT_PATH: &str = "/logs";
/// `$ARTIFACTS`: uploaded by the sidecar.
pub const ARTIFACTS_DIR: &str = "/logs/artifacts";
/// Volume the repositories are cloned into.
pub const CODE_VOLUME: &str = "code";
/// Where [`CODE_VOLUME`] is mounted; also `$GOPATH` and clonerefs' `src_root`.
pub const CODE_MOUNT_PATH: &str = "/home/prow/go";
/// Volume the entrypoint binary is copied into.
pub const TOOLS_VOLUME: &str = "tools";
/// Where [`TOOLS_VOLUME`] is mounted.
pub const TOOLS_MOUNT_PATH: &str = "/tools";
/// The command of every decorated test container.
pub const ENTRYPOINT_BINARY: &str = "/tools/entrypoint";
/// Clone records written by clonerefs and uploaded by initupload.
pub const CLONE_LOG: &str = "/logs/clone.json";
/// Volume of `gcs_credentials_secret`.
pub const GCS_CREDENTIALS_VOLUME: &str = "gcs-credentials";
/// Where [`GCS_CREDENTIALS_VOLUME`] is mounted.
pub const GCS_CREDENTIALS_MOUNT_PATH: &str = "/secrets/gcs";
/// Volume of `s3_credentials_secret`.
pub const S3_CREDENTIALS_VOLUME: &str = "s3-credentials";
/// Where [`S3_CREDENTIALS_VOLUME`] is mounted.
pub const S3_CREDENTIALS_MOUNT_PATH: &str = "/secrets/s3-storage";

/// Names of the utility containers.
pub const CLONEREFS_CONTAINER: &str = "clonerefs";
pub const INITUPLOAD_CONTAINER: &str = "initupload";
pub const PLACE_ENTRYPOINT_CONTAINER: &str = "place-entrypoint";
pub const SIDECAR_CONTAINER: &str = "sidecar";

/// Env var with the job's `JOB_SPEC` document.
pub const JOB_SPEC_ENV: &str = "JOB_SPEC";
const ARTIFACTS_ENV: &str = "ARTIFACTS";
const GOPATH_ENV: &str = "GOPATH";

const CLONEREFS_TMP_VOLUME: &str = "clonerefs-tmp";
const COOKIEFILE_VOLUME: &str = "cookiefile";
const COOKIEFILE_MOUNT_PATH: &str = "/secrets/cookiefile";
const SSH_KEYS_MOUNT_ROOT: &str = "/secrets/ssh";
const OAUTH_MOUNT_PATH: &str = "/secrets/oauth";
const GITHUB_APP_MOUNT_PATH: &str = "/secrets/github-app";
const CREDENTIALS_FILE: &str = "service-account.json";
const DEFAULT_GITHUB_API_ENDPOINT: &str = "https://api.github.com";
/// `u+r`: ssh keys and cookiefiles are readable by their owner only.
const OWNER_READ_ONLY: i32 = 0o400;
const MEMORY: &str = "memory";

/// Why a pod spec cannot be decorated.
#[derive(Debug, thiserror::Error)]
pub enum DecorateError {
    #[error("job {job} has no decoration_config")]
    NotDecorated { job: String },
    #[error("encoding {var} of job {job}: {source}")]
    Encode {
        var: &'static str,
        job: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Decorates `spec`, the pod spec of `pj` (renamed, restart policy set), as Prow does: `env` is
/// the job's env (`prow_core::jobspec::prow_env`), to which `ARTIFACTS` and `GOPATH` are added;
/// its `JOB_SPEC` is also given to initupload and sidecar.
pub fn decorate(
    spec: &mut PodSpec,
    pj: &ProwJob,
    mut env: BTreeMap<String, String>,
) -> Result<(), DecorateError> {
    let job = pj.spec.job.as_str();
    let dc = pj
        .spec
        .decoration_config
        .as_ref()
        .ok_or_else(|| DecorateError::NotDecorated { job: job.into() })?;
    let images = dc.utility_images.clone().unwrap_or_default();
    let resources = dc.resources.clone().unwrap_or_default();

    env.insert(ARTIFACTS_ENV.into(), ARTIFACTS_DIR.into());
    env.insert(GOPATH_ENV.into(), CODE_MOUNT_PATH.into());
    let job_spec = env.get(JOB_SPEC_ENV).cloned().unwrap_or_default();

    let blob = BlobStorage::for_config(dc);
    let clone = clone_refs(pj, dc, &images, &resources)?;
    let init_containers = spec.init_containers.get_or_insert_with(Vec::new);
    if let Some(clone) = &clone {
        init_containers.insert(0, clone.container.clone());
    }
    let mut initupload_options = InitUploadOptions {
        gcs: blob.options.clone(),
        ..InitUploadOptions::default()
    };
    let mut initupload_mounts = Vec::new();
    if clone.is_some() {
        initupload_options.log = CLONE_LOG.into();
        initupload_mounts.push(logs_mount());
    }
    initupload_mounts.extend(blob.mounts.iter().cloned());
    init_containers.push(Container {
        name: INITUPLOAD_CONTAINER.into(),
        image: Some(images.initupload.clone()),
        env: Some(kube_env([
            (
                INITUPLOAD_OPTIONS_ENV,
                encode(INITUPLOAD_OPTIONS_ENV, job, &initupload_options)?,
            ),
            (JOB_SPEC_ENV, job_spec.clone()),
        ])),
        volume_mounts: Some(initupload_mounts),
        resources: resources.initupload.clone(),
        ..Container::default()
    });
    init_containers.push(place_entrypoint(&images, &resources));

    let job_env = kube_env(env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    for container in &mut spec.containers {
        container
            .env
            .get_or_insert_with(Vec::new)
            .extend(job_env.iter().cloned());
    }

    let censor = dc.censor_secrets == Some(true);
    let secret_volumes: BTreeSet<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.secret.is_some())
        .map(|v| v.name.clone())
        .collect();
    let (timeout, grace_period) = options::entrypoint_timing(dc);
    let single = spec.containers.len() == 1;
    let mut entries = Vec::with_capacity(spec.containers.len());
    let mut secret_mounts = Vec::new();
    for container in &mut spec.containers {
        let prefix = if single {
            String::new()
        } else {
            container.name.clone()
        };
        let wrapper = wrapper_options(container, &prefix);
        let entrypoint = EntrypointOptions {
            timeout,
            grace_period,
            artifact_dir: ARTIFACTS_DIR.into(),
            wrapper: wrapper.clone(),
            ..EntrypointOptions::default()
        };
        container.command = Some(vec![ENTRYPOINT_BINARY.into()]);
        container.args = None;
        container.env.get_or_insert_with(Vec::new).push(env_var(
            ENTRYPOINT_OPTIONS_ENV,
            encode(ENTRYPOINT_OPTIONS_ENV, job, &entrypoint)?,
        ));
        let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
        mounts.extend([logs_mount(), tools_mount()]);
        if censor {
            secret_mounts.extend(
                mounts
                    .iter()
                    .filter(|m| secret_volumes.contains(&m.name))
                    .cloned(),
            );
        }
        entries.push(wrapper);
    }

    let sidecar = sidecar(SidecarSpec {
        config: dc,
        job: job.into(),
        gcs_options: blob.options,
        blob_storage_mounts: blob.mounts,
        log_mount: logs_mount(),
        output_mount: None,
        job_spec,
        require_passing_entries: false,
        ignore_interrupts: dc.upload_ignores_interrupts == Some(true),
        secret_volume_mounts: secret_mounts,
        entries,
    })?;

    let volumes = spec.volumes.get_or_insert_with(Vec::new);
    volumes.extend([empty_dir(LOGS_VOLUME), empty_dir(TOOLS_VOLUME)]);
    volumes.extend(blob.volumes);
    if let Some(clone) = clone {
        let work_dir = work_dir(&clone.refs);
        for container in &mut spec.containers {
            container.working_dir = Some(work_dir.clone());
            container
                .volume_mounts
                .get_or_insert_with(Vec::new)
                .push(code_mount());
        }
        volumes.extend(clone.volumes);
        volumes.push(empty_dir(CODE_VOLUME));
    }

    if let Some(default) = &dc.default_memory_request {
        for container in &mut spec.containers {
            let requests = container
                .resources
                .get_or_insert_with(Default::default)
                .requests
                .get_or_insert_with(BTreeMap::new);
            requests
                .entry(MEMORY.into())
                .or_insert_with(|| default.clone());
        }
    }

    let security = spec
        .security_context
        .get_or_insert_with(PodSecurityContext::default);
    if security.run_as_user.is_none() {
        security.run_as_user = dc.run_as_user;
    }
    if security.run_as_group.is_none() {
        security.run_as_group = dc.run_as_group;
    }
    if security.fs_group.is_none() {
        security.fs_group = dc.fs_group;
    }

    if let Some(scheduling) = &dc.scheduling_options {
        if spec.affinity.is_none() {
            spec.affinity.clone_from(&scheduling.affinity);
        }
        if spec.tolerations.is_none() && !scheduling.tolerations.is_empty() {
            spec.tolerations = Some(scheduling.tolerations.clone());
        }
    }

    if dc.set_limit_equals_memory_request == Some(true) {
        for container in &mut spec.containers {
            let Some(resources) = container.resources.as_mut() else {
                continue;
            };
            let Some(request) = resources
                .requests
                .as_ref()
                .and_then(|r| r.get(MEMORY))
                .cloned()
            else {
                continue;
            };
            resources
                .limits
                .get_or_insert_with(BTreeMap::new)
                .insert(MEMORY.into(), request);
        }
    }

    spec.containers.push(sidecar);

    if spec.termination_grace_period_seconds.is_none()
        && let Some(grace) = &dc.grace_period
    {
        // Whole seconds, truncated, as Go's int64(d.Seconds()); room for the sidecar's upload
        // after the test's own grace period.
        let seconds = i64::try_from(grace.as_nanos() / 1_000_000_000).unwrap_or(i64::MAX);
        spec.termination_grace_period_seconds = Some(seconds.saturating_mul(5) / 4);
    }

    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
        && let Some(account) = dc
            .default_service_account_name
            .as_ref()
            .filter(|a| !a.is_empty())
    {
        spec.service_account_name = Some(account.clone());
    }
    Ok(())
}

/// Inputs of the sidecar container ([`sidecar`]).
#[derive(Debug, Clone)]
pub struct SidecarSpec<'a> {
    /// Supplies the image, resources and censoring options.
    pub config: &'a DecorationConfig,
    /// The job's name, for errors.
    pub job: String,
    /// Where to upload; [`ARTIFACTS_DIR`] is appended to its items.
    pub gcs_options: GcsOptions,
    /// Storage credential mounts.
    pub blob_storage_mounts: Vec<VolumeMount>,
    /// Where the test containers write logs and markers.
    pub log_mount: VolumeMount,
    /// Upstream's local mode: a host directory the uploads are copied into.
    pub output_mount: Option<VolumeMount>,
    /// The `JOB_SPEC` document.
    pub job_spec: String,
    /// Exit non-zero unless every entry passed (`entry_error`).
    pub require_passing_entries: bool,
    /// Keep uploading when interrupted.
    pub ignore_interrupts: bool,
    /// Secret mounts of the test containers, whose contents are censored.
    pub secret_volume_mounts: Vec<VolumeMount>,
    /// The wrapped test processes to wait for.
    pub entries: Vec<WrapperOptions>,
}

/// The `sidecar` container (upstream's `decorate.Sidecar`).
pub fn sidecar(input: SidecarSpec<'_>) -> Result<Container, DecorateError> {
    let SidecarSpec {
        config,
        job,
        mut gcs_options,
        blob_storage_mounts,
        log_mount,
        output_mount,
        job_spec,
        require_passing_entries,
        ignore_interrupts,
        secret_volume_mounts,
        entries,
    } = input;
    gcs_options
        .items
        .push(go_path_join(&[&log_mount.mount_path, "artifacts"]));
    let secret_directories = secret_volume_mounts
        .iter()
        .map(|m| m.mount_path.clone())
        .collect();
    let options = SidecarOptions {
        gcs_options,
        entries,
        entry_error: require_passing_entries,
        ignore_interrupts,
        censoring_options: Some(SidecarCensoringOptions::from_decoration(
            secret_directories,
            config.censoring_options.as_ref(),
        )),
        ..SidecarOptions::default()
    };
    let mut mounts = vec![log_mount];
    mounts.extend(blob_storage_mounts);
    mounts.extend(secret_volume_mounts);
    mounts.extend(output_mount);
    Ok(Container {
        name: SIDECAR_CONTAINER.into(),
        image: Some(
            config
                .utility_images
                .as_ref()
                .map(|i| i.sidecar.clone())
                .unwrap_or_default(),
        ),
        env: Some(kube_env([
            (
                SIDECAR_OPTIONS_ENV,
                encode(SIDECAR_OPTIONS_ENV, &job, &options)?,
            ),
            (JOB_SPEC_ENV, job_spec),
        ])),
        volume_mounts: Some(mounts),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        resources: config.resources.as_ref().and_then(|r| r.sidecar.clone()),
        ..Container::default()
    })
}

/// The test containers' working directory: the clone of the first ref marked `workdir`, else
/// of the first ref. `refs` must not be empty.
fn work_dir(refs: &[Refs]) -> String {
    refs.iter()
        .find(|r| r.work_dir)
        .or(refs.first())
        .map(|r| path_for_refs(CODE_MOUNT_PATH, r))
        .unwrap_or_else(|| CODE_MOUNT_PATH.to_owned())
}

/// Storage credentials: volumes, their mounts, and the upload options naming the files.
struct BlobStorage {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
    options: GcsOptions,
}

impl BlobStorage {
    fn for_config(dc: &DecorationConfig) -> Self {
        let mut out = Self {
            volumes: Vec::new(),
            mounts: Vec::new(),
            options: GcsOptions::new(dc.gcs_configuration.clone().unwrap_or_default()),
        };
        let secrets = [
            (
                &dc.gcs_credentials_secret,
                GCS_CREDENTIALS_VOLUME,
                GCS_CREDENTIALS_MOUNT_PATH,
            ),
            (
                &dc.s3_credentials_secret,
                S3_CREDENTIALS_VOLUME,
                S3_CREDENTIALS_MOUNT_PATH,
            ),
        ];
        for (secret, volume, mount_path) in secrets {
            let Some(secret) = secret.as_ref().filter(|s| !s.is_empty()) else {
                continue;
            };
            out.volumes.push(secret_volume(volume, secret, None, None));
            out.mounts.push(mount(volume, mount_path, false));
            let file = format!("{mount_path}/{CREDENTIALS_FILE}");
            if volume == GCS_CREDENTIALS_VOLUME {
                out.options.gcs_credentials_file = file;
            } else {
                out.options.s3_credentials_file = file;
            }
        }
        out
    }
}

/// The clonerefs init container, the refs it clones and the volumes only it mounts.
struct CloneRefs {
    container: Container,
    refs: Vec<Refs>,
    volumes: Vec<Volume>,
}

/// `None` when cloning is skipped or there is nothing to clone.
fn clone_refs(
    pj: &ProwJob,
    dc: &DecorationConfig,
    images: &UtilityImages,
    resources: &Resources,
) -> Result<Option<CloneRefs>, DecorateError> {
    if dc.skip_cloning == Some(true) {
        return Ok(None);
    }
    let refs: Vec<Refs> = pj
        .spec
        .refs
        .iter()
        .chain(&pj.spec.extra_refs)
        .cloned()
        .collect();
    if refs.is_empty() {
        return Ok(None);
    }
    let mut volumes = Vec::new();
    let mut mounts = vec![logs_mount(), code_mount()];
    let mut options = CloneRefsOptions {
        src_root: CODE_MOUNT_PATH.into(),
        log: CLONE_LOG.into(),
        git_user_name: DEFAULT_GIT_USER_NAME.into(),
        git_user_email: DEFAULT_GIT_USER_EMAIL.into(),
        host_fingerprints: dc.ssh_host_fingerprints.clone(),
        github_api_endpoints: if dc.github_api_endpoints.is_empty() {
            vec![DEFAULT_GITHUB_API_ENDPOINT.into()]
        } else {
            dc.github_api_endpoints.clone()
        },
        github_app_id: dc.github_app_id.clone(),
        ..CloneRefsOptions::default()
    };

    for secret in &dc.ssh_key_secrets {
        let name = format!("ssh-keys-{secret}");
        let mount_path = go_path_join(&[SSH_KEYS_MOUNT_ROOT, secret]);
        volumes.push(secret_volume(&name, secret, Some(OWNER_READ_ONLY), None));
        options.key_files.push(mount_path.clone());
        mounts.push(mount(&name, &mount_path, true));
    }
    for (secret, mount_path, file) in [
        (
            &dc.oauth_token_secret,
            OAUTH_MOUNT_PATH,
            &mut options.oauth_token_file,
        ),
        (
            &dc.github_app_private_key_secret,
            GITHUB_APP_MOUNT_PATH,
            &mut options.github_app_private_key_file,
        ),
    ] {
        let Some(secret) = secret else { continue };
        let item = KeyToPath {
            key: secret.key.clone(),
            path: format!("./{}", secret.key),
            mode: None,
        };
        volumes.push(secret_volume(&secret.name, &secret.name, None, Some(item)));
        mounts.push(mount(&secret.name, mount_path, true));
        *file = go_path_join(&[mount_path, &secret.key]);
    }
    volumes.push(empty_dir(CLONEREFS_TMP_VOLUME));
    mounts.push(mount(CLONEREFS_TMP_VOLUME, "/tmp", false));

    let mut args = None;
    if let Some(cookie) = dc.cookiefile_secret.as_ref().filter(|c| !c.is_empty()) {
        // `secret` or `secret/key`; the key defaults to the secret's name.
        let (secret, key) = cookie.split_once('/').unwrap_or((cookie, cookie));
        volumes.push(secret_volume(
            COOKIEFILE_VOLUME,
            secret,
            Some(OWNER_READ_ONLY),
            None,
        ));
        mounts.push(mount(COOKIEFILE_VOLUME, COOKIEFILE_MOUNT_PATH, true));
        options.cookie_path = go_path_join(&[COOKIEFILE_MOUNT_PATH, key]);
        args = Some(vec![format!("--cookiefile={}", options.cookie_path)]);
    }
    options.git_refs.clone_from(&refs);

    let container = Container {
        name: CLONEREFS_CONTAINER.into(),
        image: Some(images.clonerefs.clone()),
        args,
        env: Some(kube_env([(
            CLONEREFS_OPTIONS_ENV,
            encode(CLONEREFS_OPTIONS_ENV, &pj.spec.job, &options)?,
        )])),
        volume_mounts: Some(mounts),
        resources: resources.clonerefs.clone(),
        ..Container::default()
    };
    Ok(Some(CloneRefs {
        container,
        refs,
        volumes,
    }))
}

/// The init container copying the entrypoint binary into the tools volume.
fn place_entrypoint(images: &UtilityImages, resources: &Resources) -> Container {
    Container {
        name: PLACE_ENTRYPOINT_CONTAINER.into(),
        image: Some(images.entrypoint.clone()),
        args: Some(vec!["--copy-mode-only".into()]),
        volume_mounts: Some(vec![tools_mount()]),
        resources: resources.place_entrypoint.clone(),
        ..Container::default()
    }
}

/// What entrypoint wraps in `container`: its command and args, and its log, marker and
/// metadata files (`process-log.txt`, `marker-file.txt`, `metadata.json`, or
/// `<prefix>-log.txt`, `<prefix>-marker.txt`, `<prefix>-metadata.json`).
fn wrapper_options(container: &Container, prefix: &str) -> WrapperOptions {
    let (log, marker, metadata) = if prefix.is_empty() {
        (
            "process-log.txt".to_owned(),
            "marker-file.txt".to_owned(),
            "metadata.json".to_owned(),
        )
    } else {
        (
            format!("{prefix}-log.txt"),
            format!("{prefix}-marker.txt"),
            format!("{prefix}-metadata.json"),
        )
    };
    WrapperOptions {
        args: container
            .command
            .iter()
            .chain(&container.args)
            .flatten()
            .cloned()
            .collect(),
        container_name: container.name.clone(),
        process_log: go_path_join(&[LOGS_MOUNT_PATH, &log]),
        marker_file: go_path_join(&[LOGS_MOUNT_PATH, &marker]),
        metadata_file: go_path_join(&[ARTIFACTS_DIR, &metadata]),
    }
}

fn encode<T: Serialize>(var: &'static str, job: &str, value: &T) -> Result<String, DecorateError> {
    options::encode(value).map_err(|source| DecorateError::Encode {
        var,
        job: job.into(),
        source,
    })
}

fn env_var(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    }
}

/// Env vars sorted by name, as upstream's `KubeEnv` writes a map.
fn kube_env<'a>(vars: impl IntoIterator<Item = (&'a str, String)>) -> Vec<EnvVar> {
    let sorted: BTreeMap<&str, String> = vars.into_iter().collect();
    sorted
        .into_iter()
        .map(|(name, value)| env_var(name, value))
        .collect()
}

fn mount(name: &str, mount_path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: mount_path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn logs_mount() -> VolumeMount {
    mount(LOGS_VOLUME, LOGS_MOUNT_PATH, false)
}

fn tools_mount() -> VolumeMount {
    mount(TOOLS_VOLUME, TOOLS_MOUNT_PATH, false)
}

fn code_mount() -> VolumeMount {
    mount(CODE_VOLUME, CODE_MOUNT_PATH, false)
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn secret_volume(
    name: &str,
    secret: &str,
    default_mode: Option<i32>,
    item: Option<KeyToPath>,
) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            default_mode,
            items: item.map(|i| vec![i]),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use prow_core::prowjob::{CensoringOptions, ProwJobSpec, ProwJobType, SecretKeyRef};

    fn env_value<'a>(container: &'a Container, name: &str) -> &'a str {
        container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .and_then(|e| e.value.as_deref())
            .unwrap_or_else(|| panic!("{} has no {name}", container.name))
    }

    fn mounts(container: &Container) -> Vec<(&str, &str, bool)> {
        container
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.mount_path.as_str(),
                    m.read_only == Some(true),
                )
            })
            .collect()
    }

    fn job(dc: DecorationConfig, refs: Option<Refs>, extra_refs: Vec<Refs>) -> ProwJob {
        ProwJob::new(
            "pj",
            ProwJobSpec {
                type_: ProwJobType::Postsubmit,
                job: "post-foo".into(),
                refs,
                extra_refs,
                decoration_config: Some(dc),
                ..ProwJobSpec::default()
            },
        )
    }

    fn one_container() -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "test".into(),
                command: Some(vec!["make".into()]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }
    }

    #[test]
    fn clone_credentials_become_secret_volumes_mounted_in_clonerefs_only() {
        let mut deep = Refs::new("acme", "foo");
        deep.clone_depth = 1;
        let mut tools = Refs::new("acme", "tools");
        tools.work_dir = true;
        let dc = DecorationConfig {
            oauth_token_secret: Some(SecretKeyRef {
                name: "oauth".into(),
                key: "token".into(),
            }),
            github_app_id: "123".into(),
            github_app_private_key_secret: Some(SecretKeyRef {
                name: "app".into(),
                key: "cert".into(),
            }),
            github_api_endpoints: vec!["http://ghproxy".into()],
            s3_credentials_secret: Some("s3".into()),
            ..DecorationConfig::default()
        };
        let mut spec = one_container();
        decorate(
            &mut spec,
            &job(dc, Some(deep), vec![tools]),
            BTreeMap::new(),
        )
        .unwrap();

        let init = spec.init_containers.as_deref().unwrap();
        let clonerefs = &init[0];
        assert_eq!(
            mounts(clonerefs),
            [
                ("logs", "/logs", false),
                ("code", "/home/prow/go", false),
                ("oauth", "/secrets/oauth", true),
                ("app", "/secrets/github-app", true),
                ("clonerefs-tmp", "/tmp", false),
            ]
        );
        let options: CloneRefsOptions =
            serde_json::from_str(env_value(clonerefs, CLONEREFS_OPTIONS_ENV)).unwrap();
        assert_eq!(options.oauth_token_file, "/secrets/oauth/token");
        assert_eq!(
            options.github_app_private_key_file,
            "/secrets/github-app/cert"
        );
        assert_eq!(options.github_app_id, "123");
        assert_eq!(options.github_api_endpoints, ["http://ghproxy"]);
        assert_eq!(options.git_refs[0].clone_depth, 1);
        // Both auth methods at once: clonerefs rejects that, the decorator does not judge.
        assert!(options.validate().is_err());

        let initupload = &init[1];
        assert_eq!(
            mounts(initupload),
            [
                ("logs", "/logs", false),
                ("s3-credentials", "/secrets/s3-storage", false)
            ]
        );
        let upload: InitUploadOptions =
            serde_json::from_str(env_value(initupload, INITUPLOAD_OPTIONS_ENV)).unwrap();
        assert_eq!(
            upload.gcs.s3_credentials_file,
            "/secrets/s3-storage/service-account.json"
        );

        let test = &spec.containers[0];
        assert_eq!(
            test.working_dir.as_deref(),
            Some("/home/prow/go/src/github.com/acme/tools")
        );
        assert!(
            mounts(test)
                .iter()
                .all(|(name, _, _)| !["oauth", "app"].contains(name))
        );
        let volumes = spec.volumes.as_deref().unwrap();
        let oauth = volumes.iter().find(|v| v.name == "oauth").unwrap();
        let items = oauth.secret.as_ref().unwrap().items.as_deref().unwrap();
        assert_eq!(
            (items[0].key.as_str(), items[0].path.as_str()),
            ("token", "./token")
        );
        assert_eq!(
            volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            [
                "logs",
                "tools",
                "s3-credentials",
                "oauth",
                "app",
                "clonerefs-tmp",
                "code"
            ]
        );
    }

    #[test]
    fn censoring_options_and_mounted_secrets_reach_the_sidecar() {
        let dc = DecorationConfig {
            censor_secrets: Some(true),
            censoring_options: Some(CensoringOptions {
                censoring_concurrency: Some(4),
                exclude_directories: vec!["junit".into()],
                ..CensoringOptions::default()
            }),
            ..DecorationConfig::default()
        };
        let mut spec = one_container();
        spec.volumes = Some(vec![
            secret_volume("creds", "creds", None, None),
            empty_dir("cache"),
        ]);
        spec.containers[0].volume_mounts = Some(vec![
            mount("creds", "/etc/creds", true),
            mount("cache", "/cache", false),
        ]);
        decorate(&mut spec, &job(dc, None, Vec::new()), BTreeMap::new()).unwrap();
        assert_eq!(
            spec.init_containers
                .iter()
                .flatten()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["initupload", "place-entrypoint"],
            "nothing to clone"
        );
        let sidecar = spec.containers.last().unwrap();
        let options: SidecarOptions =
            serde_json::from_str(env_value(sidecar, SIDECAR_OPTIONS_ENV)).unwrap();
        let censoring = options.censoring_options.unwrap();
        assert_eq!(censoring.secret_directories, ["/etc/creds"]);
        assert_eq!(censoring.censoring_concurrency, Some(4));
        assert_eq!(censoring.exclude_directories, ["junit"]);
        assert_eq!(
            mounts(sidecar),
            [("logs", "/logs", false), ("creds", "/etc/creds", true)]
        );
        assert_eq!(spec.containers[0].working_dir, None);
    }

    #[test]
    fn only_decorated_jobs_can_be_decorated() {
        let mut pj = job(DecorationConfig::default(), None, Vec::new());
        pj.spec.decoration_config = None;
        assert!(matches!(
            decorate(&mut one_container(), &pj, BTreeMap::new()),
            Err(DecorateError::NotDecorated { .. })
        ));
    }

    #[test]
    fn go_path_join_cleans_like_go() {
        for (parts, want) in [
            (
                &["/home/prow/go", "src", "github.com/a/b"][..],
                "/home/prow/go/src/github.com/a/b",
            ),
            (&["/secrets/ssh", "key"][..], "/secrets/ssh/key"),
            (
                &["/secrets/cookiefile", ".gitcookies"][..],
                "/secrets/cookiefile/.gitcookies",
            ),
            (&["/a/", "./b//c/", "../d"][..], "/a/b/d"),
            (&["/a", "../../b"][..], "/b"),
            (&["a", "", "../.."][..], ".."),
            (&["a", ".."][..], "."),
            (&["", ""][..], ""),
        ] {
            assert_eq!(go_path_join(parts), want, "{parts:?}");
        }
    }

    #[test]
    fn repositories_are_cloned_under_their_alias_link_or_github_path() {
        let mut refs = Refs::new("acme", "foo");
        assert_eq!(
            path_for_refs(CODE_MOUNT_PATH, &refs),
            "/home/prow/go/src/github.com/acme/foo"
        );
        refs.repo_link = "https://gitlab.example.com/acme/foo".into();
        assert_eq!(
            path_for_refs(CODE_MOUNT_PATH, &refs),
            "/home/prow/go/src/gitlab.example.com/acme/foo"
        );
        refs.path_alias = "k8s.io/foo".into();
        assert_eq!(
            path_for_refs(CODE_MOUNT_PATH, &refs),
            "/home/prow/go/src/k8s.io/foo"
        );
        let mut tools = Refs::new("acme", "tools");
        tools.work_dir = true;
        assert_eq!(
            work_dir(&[Refs::new("acme", "foo"), tools]),
            "/home/prow/go/src/github.com/acme/tools"
        );
        assert_eq!(
            work_dir(&[Refs::new("acme", "foo"), Refs::new("acme", "bar")]),
            "/home/prow/go/src/github.com/acme/foo"
        );
    }
}
