//! The JSON documents that configure the pod utilities, as Prow's decorator writes them into
//! the `CLONEREFS_OPTIONS`, `INITUPLOAD_OPTIONS`, `ENTRYPOINT_OPTIONS` and `SIDECAR_OPTIONS`
//! environment variables.
//!
//! Field names, field order and omission rules are Go Prow's (`pkg/clonerefs`,
//! `pkg/initupload`, `pkg/entrypoint`, `pkg/sidecar`, `pkg/gcsupload`, `pkg/pod-utils/wrapper`),
//! so documents written by either side read back unchanged on the other. Go's embedded structs
//! are `#[serde(flatten)]`ed; Go's `time.Duration` is an integer count of nanoseconds in JSON.

use std::time::Duration;

use prow_core::prowjob::{
    CensoringOptions, DecorationConfig, GcsConfiguration, GcsConfigurationError, Refs,
};
use serde::{Deserialize, Deserializer, Serialize};

/// Environment variable holding [`CloneRefsOptions`].
pub const CLONEREFS_OPTIONS_ENV: &str = "CLONEREFS_OPTIONS";
/// Environment variable holding [`InitUploadOptions`].
pub const INITUPLOAD_OPTIONS_ENV: &str = "INITUPLOAD_OPTIONS";
/// Environment variable holding [`EntrypointOptions`].
pub const ENTRYPOINT_OPTIONS_ENV: &str = "ENTRYPOINT_OPTIONS";
/// Environment variable holding [`SidecarOptions`].
pub const SIDECAR_OPTIONS_ENV: &str = "SIDECAR_OPTIONS";
/// Environment variable holding the stand-alone upload options (gcsupload).
pub const GCSUPLOAD_OPTIONS_ENV: &str = "GCSUPLOAD_OPTIONS";

/// `git config user.name` the decorator sets for clonerefs.
pub const DEFAULT_GIT_USER_NAME: &str = "ci-robot";
/// `git config user.email` the decorator sets for clonerefs.
pub const DEFAULT_GIT_USER_EMAIL: &str = "ci-robot@k8s.io";
/// Entrypoint's timeout when the options give none (zero).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120 * 60);
/// Entrypoint's grace period between SIGINT and SIGKILL when the options give none (zero).
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(15);

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Go writes a nil slice or pointer as `null`; read that as the empty value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Why an options document is unusable.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
    #[error("could not load config from JSON var {var}: {source}")]
    Json {
        var: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Gcs(#[from] GcsConfigurationError),
}

fn invalid(msg: impl Into<String>) -> OptionsError {
    OptionsError::Invalid(msg.into())
}

/// Reads and parses the JSON document in environment variable `var`.
pub fn load_env<T: for<'de> Deserialize<'de>>(var: &'static str) -> Result<T, OptionsError> {
    let text = std::env::var(var).map_err(|_| OptionsError::MissingEnv(var))?;
    load_str(var, &text)
}

/// Parses an options document; `var` only names it in errors.
pub fn load_str<T: for<'de> Deserialize<'de>>(
    var: &'static str,
    text: &str,
) -> Result<T, OptionsError> {
    serde_json::from_str(text).map_err(|source| OptionsError::Json { var, source })
}

/// Serializes options the way Go's `Encode` does (compact JSON).
pub fn encode<T: Serialize>(options: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(options)
}

/// `serde(with)` for Go `time.Duration` fields: integer nanoseconds. Negative values (which
/// Go allows) read as zero, i.e. "use the default"; a Go duration string is also accepted.
pub mod go_nanos {
    use std::time::Duration;

    use prow_core::prowjob::GoDuration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        serializer.serialize_i64(nanos)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Nanos(i64),
            Text(String),
        }
        match Option::<Raw>::deserialize(deserializer)? {
            None => Ok(Duration::ZERO),
            Some(Raw::Nanos(n)) => Ok(Duration::from_nanos(u64::try_from(n).unwrap_or(0))),
            Some(Raw::Text(t)) => {
                let d = GoDuration::parse(&t).map_err(serde::de::Error::custom)?;
                Ok(d.to_std().unwrap_or(Duration::ZERO))
            }
        }
    }
}

/// `clonerefs` options (`CLONEREFS_OPTIONS`), Prow's `clonerefs.Options`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloneRefsOptions {
    /// Root under which every repository is cloned (`<src_root>/src/<path>`).
    #[serde(default)]
    pub src_root: String,
    /// File the clone records (JSON array) are written to.
    #[serde(default)]
    pub log: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub git_user_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub git_user_email: String,
    /// The repositories to clone.
    #[serde(default, rename = "refs", deserialize_with = "null_as_default")]
    pub git_refs: Vec<Refs>,
    /// SSH keys added to an ssh-agent for cloning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_files: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub oauth_token_file: String,
    /// `ssh-keyscan` lines added to `~/.ssh/known_hosts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_fingerprints: Vec<String>,
    /// Repositories cloned at once; 0 means no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_parallel_workers: i64,
    /// Exit non-zero when any repository fails to clone.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fail: bool,
    /// `http.cookiefile` for git.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cookie_path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub github_api_endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub github_app_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub github_app_private_key_file: String,
}

impl CloneRefsOptions {
    /// Prow's `Options.Validate`.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.src_root.is_empty() {
            return Err(invalid("no source root specified"));
        }
        if self.log.is_empty() {
            return Err(invalid("no log file specified"));
        }
        if self.git_refs.is_empty() {
            return Err(invalid("no refs specified to clone"));
        }
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, refs) in self.git_refs.iter().enumerate() {
            let path = crate::options::path_for_refs(&self.src_root, refs);
            if let Some((_, j)) = seen.iter().find(|(p, _)| *p == path) {
                let other = &self.git_refs[*j];
                // Two different repositories in one place is only a warning upstream.
                if other.org == refs.org && other.repo == refs.repo {
                    return Err(invalid(format!(
                        "clone ref config {i} (for {}/{}) will be extracted to {path}, which clone ref {j} (for {}/{}) is also using",
                        refs.org, refs.repo, other.org, other.repo
                    )));
                }
            }
            seen.push((path, i));
        }
        if !self.github_app_id.is_empty() || !self.github_app_private_key_file.is_empty() {
            if !self.oauth_token_file.is_empty() {
                return Err(invalid("multiple authentication methods specified"));
            }
            if self.github_api_endpoints.is_empty() {
                return Err(invalid(
                    "no GitHub API endpoints for GitHub App authentication",
                ));
            }
        }
        if !self.github_app_id.is_empty() && self.github_app_private_key_file.is_empty() {
            return Err(invalid("no GitHub App private key file specified"));
        }
        if self.github_app_id.is_empty() && !self.github_app_private_key_file.is_empty() {
            return Err(invalid("no GitHub App ID specified"));
        }
        Ok(())
    }
}

/// Where a repository is cloned (Prow's `clone.PathForRefs`): `<src_root>/src/` then the
/// `path_alias`, else the `repo_link` without its scheme, else `github.com/<org>/<repo>`.
pub fn path_for_refs(src_root: &str, refs: &Refs) -> String {
    let rel = if !refs.path_alias.is_empty() {
        refs.path_alias.clone()
    } else if !refs.repo_link.is_empty() {
        refs.repo_link
            .rsplit("://")
            .next()
            .unwrap_or(&refs.repo_link)
            .to_owned()
    } else {
        format!("github.com/{}/{}", refs.org, refs.repo)
    };
    clean_join(src_root, &rel)
}

/// Go's `path.Join(root, "src", rel)`.
fn clean_join(root: &str, rel: &str) -> String {
    go_path_join(&[root, "src", rel])
}

/// Go's `path.Join`: the non-empty parts joined by `/`, then cleaned (`.` and empty elements
/// dropped, `..` resolved lexically); `""` when every part is empty.
pub fn go_path_join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    let rooted = joined.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for element in joined.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|last| *last != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            _ => out.push(element),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// The part of the options shared by entrypoint and sidecar: one wrapped test process
/// (Prow's `wrapper.Options`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WrapperOptions {
    /// The command and its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    /// Where the process's stdout and stderr are written.
    #[serde(default)]
    pub process_log: String,
    /// Written with the exit code (decimal text) when the process ends.
    #[serde(default)]
    pub marker_file: String,
    /// JSON the job may write; merged into `finished.json`'s `metadata`.
    #[serde(default)]
    pub metadata_file: String,
}

impl WrapperOptions {
    /// Prow's `wrapper.Options.Validate`.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.process_log.is_empty() {
            return Err(invalid("no log file specified with --process-log"));
        }
        if self.marker_file.is_empty() {
            return Err(invalid("no marker file specified with --marker-file"));
        }
        Ok(())
    }
}

/// `entrypoint` options (`ENTRYPOINT_OPTIONS`), Prow's `entrypoint.Options`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EntrypointOptions {
    /// When SIGINT is sent to the process; zero means [`DEFAULT_TIMEOUT`].
    #[serde(default, with = "go_nanos")]
    pub timeout: Duration,
    /// How long after SIGINT before SIGKILL; zero means [`DEFAULT_GRACE_PERIOD`].
    #[serde(default, with = "go_nanos")]
    pub grace_period: Duration,
    /// Created before the process starts and exported to it as `$ARTIFACTS`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_dir: String,
    /// Wait for this marker; run only when it holds 0, otherwise mark the skip code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub previous_marker: String,
    /// Exit 0 whatever the marker says.
    #[serde(default, skip_serializing_if = "is_false")]
    pub always_zero: bool,
    /// On timeout or interrupt, use the child's exit code instead of the internal codes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub propagate_error_code: bool,
    /// Only copy the entrypoint binary to `copy_dst` (the place-entrypoint init container).
    #[serde(default, skip_serializing_if = "is_false")]
    pub copy_mode_only: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub copy_dst: String,
    #[serde(flatten)]
    pub wrapper: WrapperOptions,
}

impl EntrypointOptions {
    /// Prow's `entrypoint.Options.Validate`.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.wrapper.args.is_empty() {
            return Err(invalid("no process to wrap specified"));
        }
        if self.propagate_error_code && self.always_zero {
            return Err(invalid("cannot propagate error code and always exit zero"));
        }
        self.wrapper.validate()
    }

    /// The timeout in effect (zero means the default).
    pub fn effective_timeout(&self) -> Duration {
        if self.timeout.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            self.timeout
        }
    }

    /// The grace period in effect (zero means the default).
    pub fn effective_grace_period(&self) -> Duration {
        if self.grace_period.is_zero() {
            DEFAULT_GRACE_PERIOD
        } else {
            self.grace_period
        }
    }
}

/// Where uploads land (Prow's `gcsupload.Options`): the job's [`GcsConfiguration`] inlined,
/// plus the items to upload and the storage credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GcsOptions {
    /// Files or directories to upload under `artifacts/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Appended to the build's path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_dir: String,
    #[serde(flatten)]
    pub gcs_configuration: GcsConfiguration,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gcs_credentials_file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub s3_credentials_file: String,
    /// Do not talk to the storage service.
    #[serde(default)]
    pub dry_run: bool,
}

impl GcsOptions {
    /// Options uploading to `config` (what the decorator writes; `dry_run` false).
    pub fn new(config: GcsConfiguration) -> Self {
        Self {
            gcs_configuration: config,
            ..Self::default()
        }
    }

    /// Prow's `gcsupload.Options.Validate`.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if !self.gcs_configuration.local_output_dir.is_empty() {
            return Ok(());
        }
        if !self.dry_run && self.gcs_configuration.bucket.is_empty() {
            return Err(invalid(
                "GCS upload was requested no GCS bucket was provided",
            ));
        }
        Ok(self.gcs_configuration.validate()?)
    }
}

/// `initupload` options (`INITUPLOAD_OPTIONS`), Prow's `initupload.Options`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InitUploadOptions {
    #[serde(flatten)]
    pub gcs: GcsOptions,
    /// The clone records written by clonerefs; none are uploaded when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
}

/// The sidecar's censoring settings (Prow's `sidecar.CensoringOptions`, a superset of the
/// job config's [`CensoringOptions`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SidecarCensoringOptions {
    /// Directories whose files' contents are secrets to censor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_directories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_buffer_size: Option<i64>,
    /// Globs (relative to the artifact dir) to censor; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_directories: Vec<String>,
    /// Globs (relative to the artifact dir) never censored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_directories: Vec<String>,
    /// Secret files parsed as INI whose values are censored too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ini_filenames: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_secret_length: Option<i64>,
}

impl SidecarCensoringOptions {
    /// What the decorator writes: the mounted secret directories plus the job's settings.
    pub fn from_decoration(
        secret_directories: Vec<String>,
        config: Option<&CensoringOptions>,
    ) -> Self {
        let mut out = Self {
            secret_directories,
            ..Self::default()
        };
        if let Some(c) = config {
            out.censoring_concurrency = c.censoring_concurrency;
            out.censoring_buffer_size = c.censoring_buffer_size;
            out.include_directories = c.include_directories.clone();
            out.exclude_directories = c.exclude_directories.clone();
            out.minimum_secret_length = c.minimum_secret_length;
        }
        out
    }
}

/// `sidecar` options (`SIDECAR_OPTIONS`), Prow's `sidecar.Options`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SidecarOptions {
    #[serde(default, deserialize_with = "null_as_default")]
    pub gcs_options: GcsOptions,
    /// Deprecated single entry, still honoured before `entries`.
    #[serde(
        default,
        rename = "wrapper_options",
        skip_serializing_if = "Option::is_none"
    )]
    pub deprecated_wrapper_options: Option<WrapperOptions>,
    /// The test processes to wait for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<WrapperOptions>,
    /// Exit non-zero unless every entry passed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub entry_error: bool,
    /// Keep waiting and uploading when SIGINT/SIGTERM arrives.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_interrupts: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub write_memory_profile: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_options: Option<SidecarCensoringOptions>,
    /// Deprecated: `censoring_options.secret_directories`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_directories: Vec<String>,
    /// Deprecated: `censoring_options.censoring_concurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_concurrency: Option<i64>,
    /// Deprecated: `censoring_options.censoring_buffer_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_buffer_size: Option<i64>,
}

impl SidecarOptions {
    /// Every entry to wait for: the deprecated `wrapper_options` first, then `entries`.
    pub fn all_entries(&self) -> Vec<WrapperOptions> {
        self.deprecated_wrapper_options
            .iter()
            .chain(self.entries.iter())
            .cloned()
            .collect()
    }

    /// The censoring settings in effect, folding in the deprecated top-level fields.
    pub fn effective_censoring(&self) -> Result<Option<SidecarCensoringOptions>, OptionsError> {
        let deprecated = !self.secret_directories.is_empty()
            || self.censoring_concurrency.is_some()
            || self.censoring_buffer_size.is_some();
        if !deprecated {
            return Ok(self.censoring_options.clone());
        }
        if self.censoring_options.is_some() {
            return Err(invalid(
                "cannot use deprecated options (secret_directories, censoring_{concurrency,buffer_size}) and new options (censoring_options) at the same time",
            ));
        }
        Ok(Some(SidecarCensoringOptions {
            secret_directories: self.secret_directories.clone(),
            censoring_concurrency: self.censoring_concurrency,
            censoring_buffer_size: self.censoring_buffer_size,
            ..SidecarCensoringOptions::default()
        }))
    }

    /// Prow's `sidecar.Options.Validate` (without mutating: see [`Self::effective_censoring`]).
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.effective_censoring()?;
        let entries = self.all_entries();
        if entries.is_empty() {
            return Err(invalid("no wrapper.Option entries"));
        }
        for (i, e) in entries.iter().enumerate() {
            e.validate()
                .map_err(|err| invalid(format!("entry {i}: {err}")))?;
        }
        self.gcs_options.validate()
    }
}

/// Convenience for the decorator: entrypoint timing from a job's decoration config
/// (unset or unparsable durations are left zero, meaning the defaults).
pub fn entrypoint_timing(config: &DecorationConfig) -> (Duration, Duration) {
    let get = |d: &Option<prow_core::prowjob::GoDuration>| {
        d.as_ref()
            .and_then(|d| d.to_std().ok())
            .unwrap_or(Duration::ZERO)
    };
    (get(&config.timeout), get(&config.grace_period))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::Pull;

    /// Option JSON as Go Prow's decorator writes it (pkg/pod-utils/decorate/testdata).
    const CLONEREFS: &str = r#"{"src_root":"/home/prow/go","log":"/logs/clone.json","git_user_name":"ci-robot","git_user_email":"ci-robot@k8s.io","refs":[{"org":"org","repo":"repo","base_ref":"main","base_sha":"abcd1234","pulls":[{"number":1,"author":"","sha":"aksdjhfkds"}]},{"org":"other","repo":"something","base_ref":"release","base_sha":"sldijfsd"}],"github_api_endpoints":["https://api.github.com"]}"#;
    const INITUPLOAD: &str = r#"{"bucket":"bucket","path_strategy":"single","default_org":"org","default_repo":"repo","gcs_credentials_file":"/secrets/gcs/service-account.json","dry_run":false,"log":"/logs/clone.json"}"#;
    const ENTRYPOINT: &str = r#"{"timeout":60000000000,"grace_period":3600000000000,"artifact_dir":"/logs/artifacts","args":["/bin/ls","-l","-a"],"container_name":"test","process_log":"/logs/process-log.txt","marker_file":"/logs/marker-file.txt","metadata_file":"/logs/artifacts/metadata.json"}"#;
    const SIDECAR: &str = r#"{"gcs_options":{"items":["/logs/artifacts"],"bucket":"bucket","path_strategy":"single","default_org":"org","default_repo":"repo","gcs_credentials_file":"/secrets/gcs/service-account.json","dry_run":false},"entries":[{"args":["/bin/ls","-l","-a"],"container_name":"test","process_log":"/logs/process-log.txt","marker_file":"/logs/marker-file.txt","metadata_file":"/logs/artifacts/metadata.json"}],"censoring_options":{"secret_directories":["/secret"]}}"#;
    const SIDECAR_MULTI: &str = r#"{"gcs_options":{"items":["/logs/artifacts"],"bucket":"bucket","path_strategy":"single","default_org":"org","default_repo":"repo","mediaTypes":{"log":"text/plain"},"local_output_dir":"/output","dry_run":false},"entries":[{"args":["/bin/ls"],"container_name":"a","process_log":"/logs/a-log.txt","marker_file":"/logs/a-marker.txt","metadata_file":"/logs/artifacts/a-metadata.json"},{"args":["/bin/ls"],"container_name":"b","process_log":"/logs/b-log.txt","marker_file":"/logs/b-marker.txt","metadata_file":"/logs/artifacts/b-metadata.json"}],"entry_error":true,"ignore_interrupts":true,"censoring_options":{"secret_directories":["/secrets/a","/secrets/b"],"censoring_concurrency":4,"censoring_buffer_size":1024,"include_directories":["**/*.log"],"exclude_directories":["junit"],"minimum_secret_length":6}}"#;
    const ENTRYPOINT_FULL: &str = r#"{"timeout":7200000000000,"grace_period":15000000000,"artifact_dir":"/logs/artifacts","previous_marker":"/logs/0-marker.txt","always_zero":true,"copy_mode_only":true,"copy_dst":"/tools/entrypoint","args":["sh","-c","true"],"process_log":"/logs/process-log.txt","marker_file":"/logs/marker-file.txt","metadata_file":""}"#;

    fn round_trip<T>(text: &str) -> T
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        let parsed: T = serde_json::from_str(text).unwrap();
        assert_eq!(encode(&parsed).unwrap(), text, "byte-for-byte round trip");
        parsed
    }

    #[test]
    fn clonerefs_round_trip_golden() {
        let o: CloneRefsOptions = round_trip(CLONEREFS);
        assert_eq!(o.src_root, "/home/prow/go");
        assert_eq!(o.git_refs.len(), 2);
        assert_eq!(o.git_refs[0].pulls[0], Pull::new(1, "", "aksdjhfkds"));
        o.validate().unwrap();
    }

    #[test]
    fn initupload_round_trip_golden() {
        let o: InitUploadOptions = round_trip(INITUPLOAD);
        assert_eq!(o.gcs.gcs_configuration.bucket, "bucket");
        assert_eq!(
            o.gcs.gcs_credentials_file,
            "/secrets/gcs/service-account.json"
        );
        assert_eq!(o.log, "/logs/clone.json");
        assert!(!o.gcs.dry_run);
        o.gcs.validate().unwrap();
    }

    #[test]
    fn entrypoint_round_trip_golden() {
        let o: EntrypointOptions = round_trip(ENTRYPOINT);
        assert_eq!(o.timeout, Duration::from_secs(60));
        assert_eq!(o.grace_period, Duration::from_secs(3600));
        assert_eq!(o.wrapper.args, ["/bin/ls", "-l", "-a"]);
        assert_eq!(o.wrapper.container_name, "test");
        o.validate().unwrap();
        let full: EntrypointOptions = round_trip(ENTRYPOINT_FULL);
        assert!(full.always_zero && full.copy_mode_only);
        assert_eq!(full.previous_marker, "/logs/0-marker.txt");
    }

    #[test]
    fn sidecar_round_trip_golden() {
        let o: SidecarOptions = round_trip(SIDECAR);
        assert_eq!(o.gcs_options.items, ["/logs/artifacts"]);
        assert_eq!(o.all_entries().len(), 1);
        assert_eq!(
            o.effective_censoring().unwrap().unwrap().secret_directories,
            ["/secret"]
        );
        o.validate().unwrap();
        let m: SidecarOptions = round_trip(SIDECAR_MULTI);
        assert!(m.entry_error && m.ignore_interrupts);
        assert_eq!(m.gcs_options.gcs_configuration.local_output_dir, "/output");
        assert_eq!(
            m.censoring_options.as_ref().unwrap().minimum_secret_length,
            Some(6)
        );
        m.validate().unwrap();
    }

    #[test]
    fn zero_values_serialize_like_go() {
        // Fields without omitempty upstream are always present.
        assert_eq!(
            encode(&EntrypointOptions::default()).unwrap(),
            r#"{"timeout":0,"grace_period":0,"process_log":"","marker_file":"","metadata_file":""}"#
        );
        assert_eq!(
            encode(&CloneRefsOptions::default()).unwrap(),
            r#"{"src_root":"","log":"","refs":[]}"#
        );
        assert_eq!(
            encode(&InitUploadOptions::default()).unwrap(),
            r#"{"dry_run":false}"#
        );
        assert_eq!(
            encode(&SidecarOptions::default()).unwrap(),
            r#"{"gcs_options":{"dry_run":false}}"#
        );
    }

    #[test]
    fn go_nils_and_defaults_are_read() {
        let c: CloneRefsOptions =
            serde_json::from_str(r#"{"src_root":"/s","log":"/l","refs":null}"#).unwrap();
        assert!(c.git_refs.is_empty());
        assert!(c.validate().is_err());
        let s: SidecarOptions = serde_json::from_str(r#"{"gcs_options":null}"#).unwrap();
        assert_eq!(s.gcs_options, GcsOptions::default());
        let e: EntrypointOptions = serde_json::from_str(r#"{"args":["x"]}"#).unwrap();
        assert_eq!(e.effective_timeout(), DEFAULT_TIMEOUT);
        assert_eq!(e.effective_grace_period(), DEFAULT_GRACE_PERIOD);
        let e: EntrypointOptions =
            serde_json::from_str(r#"{"timeout":"1m30s","grace_period":-5}"#).unwrap();
        assert_eq!(e.timeout, Duration::from_secs(90));
        assert_eq!(e.grace_period, Duration::ZERO);
    }

    #[test]
    fn validation_matches_upstream() {
        let mut e: EntrypointOptions = serde_json::from_str(ENTRYPOINT).unwrap();
        e.always_zero = true;
        e.propagate_error_code = true;
        assert!(e.validate().is_err());

        let mut s: SidecarOptions = serde_json::from_str(SIDECAR).unwrap();
        s.secret_directories = vec!["/old".into()];
        assert!(
            s.validate().is_err(),
            "deprecated and new censoring together"
        );
        s.censoring_options = None;
        assert_eq!(
            s.effective_censoring().unwrap().unwrap().secret_directories,
            ["/old"]
        );
        s.entries[0].marker_file.clear();
        assert!(s.validate().is_err());

        let mut g = GcsOptions::default();
        assert!(g.validate().is_err(), "no bucket");
        g.gcs_configuration.local_output_dir = "/out".into();
        g.validate().unwrap();

        let mut c: CloneRefsOptions = serde_json::from_str(CLONEREFS).unwrap();
        c.git_refs.push(c.git_refs[0].clone());
        assert!(c.validate().is_err(), "same repo twice in one place");
        let mut c: CloneRefsOptions = serde_json::from_str(CLONEREFS).unwrap();
        c.github_app_id = "123".into();
        assert!(c.validate().is_err(), "app id without key");
        c.github_app_private_key_file = "/key".into();
        c.validate().unwrap();
        c.oauth_token_file = "/token".into();
        assert!(c.validate().is_err(), "two auth methods");
    }

    #[test]
    fn paths_for_refs() {
        let mut r = Refs::new("kubernetes", "test-infra");
        assert_eq!(
            path_for_refs("/go", &r),
            "/go/src/github.com/kubernetes/test-infra"
        );
        r.repo_link = "https://gitlab.example.com/a/b".into();
        assert_eq!(path_for_refs("/go", &r), "/go/src/gitlab.example.com/a/b");
        r.path_alias = "k8s.io/test-infra".into();
        assert_eq!(path_for_refs("/go/", &r), "/go/src/k8s.io/test-infra");
        assert_eq!(path_for_refs("go", &r), "go/src/k8s.io/test-infra");
    }

    #[test]
    fn decorator_helpers() {
        let cfg = DecorationConfig {
            timeout: Some("2h".parse().unwrap()),
            grace_period: Some("15s".parse().unwrap()),
            censoring_options: Some(CensoringOptions {
                minimum_secret_length: Some(3),
                ..CensoringOptions::default()
            }),
            ..DecorationConfig::default()
        };
        assert_eq!(
            entrypoint_timing(&cfg),
            (Duration::from_secs(7200), Duration::from_secs(15))
        );
        let c = SidecarCensoringOptions::from_decoration(
            vec!["/secrets/x".into()],
            cfg.censoring_options.as_ref(),
        );
        assert_eq!(
            encode(&c).unwrap(),
            r#"{"secret_directories":["/secrets/x"],"minimum_secret_length":3}"#
        );
    }
}
