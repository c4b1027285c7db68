//! Prow's `ApplyDefault` merges of job-level settings over config defaults, and decoration validation.

use super::{
    CensoringOptions, DecorationConfig, GcsConfiguration, ProwJobDefault, Resources,
    SchedulingOptions, SlackReporterConfig, UtilityImages,
};

/// `value` when set, else the default's: Go's `if merged.X == nil { merged.X = def.X }`.
fn or_default<T: Clone>(value: &Option<T>, def: &Option<T>) -> Option<T> {
    value.clone().or_else(|| def.clone())
}

/// A non-empty `value`, else the default's: Go's `if len(merged.X) == 0` / `== ""`.
fn non_empty_or<T: Clone + IsEmpty>(value: &T, def: &T) -> T {
    if value.is_empty() {
        def.clone()
    } else {
        value.clone()
    }
}

trait IsEmpty {
    fn is_empty(&self) -> bool;
}

impl IsEmpty for String {
    fn is_empty(&self) -> bool {
        String::is_empty(self)
    }
}

impl<T> IsEmpty for Vec<T> {
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

/// Merges two optional sections the way every Prow `ApplyDefault` does at the top: whichever
/// exists, or `merge` of both.
fn merge_sections<T: Clone>(
    value: Option<&T>,
    def: Option<&T>,
    merge: impl FnOnce(&T, &T) -> T,
) -> Option<T> {
    match (value, def) {
        (Some(v), Some(d)) => Some(merge(v, d)),
        (v, d) => v.or(d).cloned(),
    }
}

impl UtilityImages {
    /// Empty images taken from `def`.
    pub fn apply_default(&self, def: &UtilityImages) -> UtilityImages {
        UtilityImages {
            clonerefs: non_empty_or(&self.clonerefs, &def.clonerefs),
            initupload: non_empty_or(&self.initupload, &def.initupload),
            entrypoint: non_empty_or(&self.entrypoint, &def.entrypoint),
            sidecar: non_empty_or(&self.sidecar, &def.sidecar),
        }
    }
}

impl Resources {
    /// Unset containers' requirements taken whole from `def` (no merge inside one container).
    pub fn apply_default(&self, def: &Resources) -> Resources {
        Resources {
            clonerefs: or_default(&self.clonerefs, &def.clonerefs),
            initupload: or_default(&self.initupload, &def.initupload),
            place_entrypoint: or_default(&self.place_entrypoint, &def.place_entrypoint),
            sidecar: or_default(&self.sidecar, &def.sidecar),
        }
    }
}

impl GcsConfiguration {
    /// Empty fields taken from `def`. Media types are the union, and for an extension both
    /// define, **`def` wins** (Prow copies the default map over the job's).
    pub fn apply_default(&self, def: &GcsConfiguration) -> GcsConfiguration {
        let mut media_types = self.media_types.clone();
        media_types.extend(def.media_types.iter().map(|(k, v)| (k.clone(), v.clone())));
        GcsConfiguration {
            bucket: non_empty_or(&self.bucket, &def.bucket),
            path_prefix: non_empty_or(&self.path_prefix, &def.path_prefix),
            path_strategy: non_empty_or(&self.path_strategy, &def.path_strategy),
            default_org: non_empty_or(&self.default_org, &def.default_org),
            default_repo: non_empty_or(&self.default_repo, &def.default_repo),
            media_types,
            job_url_prefix: non_empty_or(&self.job_url_prefix, &def.job_url_prefix),
            local_output_dir: non_empty_or(&self.local_output_dir, &def.local_output_dir),
            compress_file_types: non_empty_or(&self.compress_file_types, &def.compress_file_types),
        }
    }
}

impl CensoringOptions {
    pub fn apply_default(&self, def: &CensoringOptions) -> CensoringOptions {
        CensoringOptions {
            censoring_concurrency: or_default(
                &self.censoring_concurrency,
                &def.censoring_concurrency,
            ),
            censoring_buffer_size: or_default(
                &self.censoring_buffer_size,
                &def.censoring_buffer_size,
            ),
            include_directories: non_empty_or(&self.include_directories, &def.include_directories),
            exclude_directories: non_empty_or(&self.exclude_directories, &def.exclude_directories),
            minimum_secret_length: or_default(
                &self.minimum_secret_length,
                &def.minimum_secret_length,
            ),
        }
    }
}

impl SchedulingOptions {
    pub fn apply_default(&self, def: &SchedulingOptions) -> SchedulingOptions {
        SchedulingOptions {
            affinity: or_default(&self.affinity, &def.affinity),
            tolerations: non_empty_or(&self.tolerations, &def.tolerations),
        }
    }
}

impl DecorationConfig {
    /// Prow's `DecorationConfig.ApplyDefault`: every unset field taken from `def`, nested
    /// sections merged field by field. Apply the most general default first, then more
    /// specific ones over it (`specific.apply_default(&general)`).
    pub fn apply_default(&self, def: &DecorationConfig) -> DecorationConfig {
        let d = def;
        DecorationConfig {
            timeout: or_default(&self.timeout, &d.timeout),
            grace_period: or_default(&self.grace_period, &d.grace_period),
            utility_images: merge_sections(
                self.utility_images.as_ref(),
                d.utility_images.as_ref(),
                UtilityImages::apply_default,
            ),
            resources: merge_sections(
                self.resources.as_ref(),
                d.resources.as_ref(),
                Resources::apply_default,
            ),
            gcs_configuration: merge_sections(
                self.gcs_configuration.as_ref(),
                d.gcs_configuration.as_ref(),
                GcsConfiguration::apply_default,
            ),
            gcs_credentials_secret: or_default(
                &self.gcs_credentials_secret,
                &d.gcs_credentials_secret,
            ),
            s3_credentials_secret: or_default(
                &self.s3_credentials_secret,
                &d.s3_credentials_secret,
            ),
            default_service_account_name: or_default(
                &self.default_service_account_name,
                &d.default_service_account_name,
            ),
            ssh_key_secrets: non_empty_or(&self.ssh_key_secrets, &d.ssh_key_secrets),
            ssh_host_fingerprints: non_empty_or(
                &self.ssh_host_fingerprints,
                &d.ssh_host_fingerprints,
            ),
            blobless_fetch: or_default(&self.blobless_fetch, &d.blobless_fetch),
            sparse_checkout_files: non_empty_or(
                &self.sparse_checkout_files,
                &d.sparse_checkout_files,
            ),
            skip_cloning: or_default(&self.skip_cloning, &d.skip_cloning),
            cookiefile_secret: or_default(&self.cookiefile_secret, &d.cookiefile_secret),
            oauth_token_secret: or_default(&self.oauth_token_secret, &d.oauth_token_secret),
            github_api_endpoints: non_empty_or(&self.github_api_endpoints, &d.github_api_endpoints),
            github_app_id: non_empty_or(&self.github_app_id, &d.github_app_id),
            github_app_private_key_secret: or_default(
                &self.github_app_private_key_secret,
                &d.github_app_private_key_secret,
            ),
            censor_secrets: or_default(&self.censor_secrets, &d.censor_secrets),
            censoring_options: merge_sections(
                self.censoring_options.as_ref(),
                d.censoring_options.as_ref(),
                CensoringOptions::apply_default,
            ),
            upload_ignores_interrupts: or_default(
                &self.upload_ignores_interrupts,
                &d.upload_ignores_interrupts,
            ),
            set_limit_equals_memory_request: or_default(
                &self.set_limit_equals_memory_request,
                &d.set_limit_equals_memory_request,
            ),
            default_memory_request: or_default(
                &self.default_memory_request,
                &d.default_memory_request,
            ),
            scheduling_options: merge_sections(
                self.scheduling_options.as_ref(),
                d.scheduling_options.as_ref(),
                SchedulingOptions::apply_default,
            ),
            pod_pending_timeout: or_default(&self.pod_pending_timeout, &d.pod_pending_timeout),
            pod_running_timeout: or_default(&self.pod_running_timeout, &d.pod_running_timeout),
            pod_unscheduled_timeout: or_default(
                &self.pod_unscheduled_timeout,
                &d.pod_unscheduled_timeout,
            ),
            run_as_user: or_default(&self.run_as_user, &d.run_as_user),
            run_as_group: or_default(&self.run_as_group, &d.run_as_group),
            fs_group: or_default(&self.fs_group, &d.fs_group),
        }
    }

    /// Prow's `DecorationConfig.Validate`, for a config after defaults were applied.
    pub fn validate(&self) -> Result<(), DecorationConfigError> {
        let images = self
            .utility_images
            .as_ref()
            .ok_or(DecorationConfigError::NoUtilityImages)?;
        let missing: Vec<&'static str> = [
            ("clonerefs", &images.clonerefs),
            ("initupload", &images.initupload),
            ("entrypoint", &images.entrypoint),
            ("sidecar", &images.sidecar),
        ]
        .into_iter()
        .filter(|(_, image)| image.is_empty())
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            return Err(DecorationConfigError::MissingUtilityImages(missing));
        }
        self.gcs_configuration
            .as_ref()
            .ok_or(DecorationConfigError::NoGcsConfiguration)?
            .validate()?;
        if self.oauth_token_secret.is_some() && !self.ssh_key_secrets.is_empty() {
            return Err(DecorationConfigError::OauthAndSshKeys);
        }
        Ok(())
    }
}

/// Why a decoration config cannot decorate a pod.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecorationConfigError {
    #[error("utility image config is not specified")]
    NoUtilityImages,
    #[error("the following utility images are not specified: {0:?}")]
    MissingUtilityImages(Vec<&'static str>),
    #[error("GCS upload configuration is not specified")]
    NoGcsConfiguration,
    #[error("GCS configuration is invalid: {0}")]
    Gcs(#[from] GcsConfigurationError),
    #[error("both OAuth token and SSH key secrets are specified")]
    OauthAndSshKeys,
}

/// Why a GCS configuration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GcsConfigurationError {
    #[error("invalid extension media type {0:?}")]
    MediaType(String),
    #[error("gcs_path_strategy must be one of \"legacy\", \"explicit\", or \"single\"")]
    PathStrategy,
    #[error("default org and repo must be provided for GCS strategy {0:?}")]
    MissingDefaultOrgRepo(String),
}

impl GcsConfiguration {
    /// Prow's `GCSConfiguration.Validate` (the bucket is not parsed as a URL here).
    pub fn validate(&self) -> Result<(), GcsConfigurationError> {
        if let Some(bad) = self.media_types.values().find(|m| !is_media_type(m)) {
            return Err(GcsConfigurationError::MediaType(bad.clone()));
        }
        if !matches!(
            self.path_strategy.as_str(),
            "legacy" | "explicit" | "single"
        ) {
            return Err(GcsConfigurationError::PathStrategy);
        }
        if self.path_strategy != "explicit"
            && (self.default_org.is_empty() || self.default_repo.is_empty())
        {
            return Err(GcsConfigurationError::MissingDefaultOrgRepo(
                self.path_strategy.clone(),
            ));
        }
        Ok(())
    }
}

/// RFC 2045 shape: `type/subtype` of token characters, then `; name=value` parameters.
fn is_media_type(text: &str) -> bool {
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    let mut parts = text.split(';');
    let full_type = parts.next().unwrap_or("").trim();
    let type_ok = match full_type.split_once('/') {
        Some((t, sub)) => is_token(t) && is_token(sub),
        None => false,
    };
    type_ok
        && parts.all(|param| {
            let param = param.trim();
            param.is_empty()
                || param.split_once('=').is_some_and(|(k, v)| {
                    is_token(k.trim())
                        && (is_token(v.trim())
                            || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"')))
                })
        })
}

impl SlackReporterConfig {
    /// Prow's `SlackReporterConfig.ApplyDefault`: empty fields from `def`.
    pub fn apply_default(&self, def: &SlackReporterConfig) -> SlackReporterConfig {
        SlackReporterConfig {
            host: non_empty_or(&self.host, &def.host),
            channel: non_empty_or(&self.channel, &def.channel),
            job_states_to_report: non_empty_or(
                &self.job_states_to_report,
                &def.job_states_to_report,
            ),
            report_template: non_empty_or(&self.report_template, &def.report_template),
            report: or_default(&self.report, &def.report),
        }
    }
}

impl ProwJobDefault {
    /// Prow's `ProwJobDefault.ApplyDefault`.
    pub fn apply_default(&self, def: &ProwJobDefault) -> ProwJobDefault {
        ProwJobDefault {
            resultstore_config: or_default(&self.resultstore_config, &def.resultstore_config),
            tenant_id: non_empty_or(&self.tenant_id, &def.tenant_id),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::prowjob::{GoDuration, SecretKeyRef};
    use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
    use std::collections::BTreeMap;

    fn images(tag: &str) -> UtilityImages {
        UtilityImages {
            clonerefs: format!("clonerefs:{tag}"),
            initupload: format!("initupload:{tag}"),
            entrypoint: format!("entrypoint:{tag}"),
            sidecar: format!("sidecar:{tag}"),
        }
    }

    fn gcs() -> GcsConfiguration {
        GcsConfiguration {
            bucket: "gs://acme".into(),
            path_strategy: "explicit".into(),
            ..GcsConfiguration::default()
        }
    }

    fn valid() -> DecorationConfig {
        DecorationConfig {
            utility_images: Some(images("v1")),
            gcs_configuration: Some(gcs()),
            ..DecorationConfig::default()
        }
    }

    #[test]
    fn job_settings_win_and_gaps_come_from_the_default() {
        let def = DecorationConfig {
            timeout: Some(GoDuration::parse("2h").unwrap()),
            grace_period: Some(GoDuration::parse("15s").unwrap()),
            utility_images: Some(images("v1")),
            gcs_configuration: Some(GcsConfiguration {
                media_types: BTreeMap::from([("log".into(), "text/plain".into())]),
                ..gcs()
            }),
            ssh_key_secrets: vec!["default-key".into()],
            censoring_options: Some(CensoringOptions {
                censoring_concurrency: Some(10),
                ..CensoringOptions::default()
            }),
            run_as_user: Some(1000),
            ..DecorationConfig::default()
        };
        let job = DecorationConfig {
            timeout: Some(GoDuration::parse("4h").unwrap()),
            utility_images: Some(UtilityImages {
                sidecar: "sidecar:custom".into(),
                ..UtilityImages::default()
            }),
            gcs_configuration: Some(GcsConfiguration {
                path_prefix: "jobs".into(),
                media_types: BTreeMap::from([
                    ("log".into(), "text/x-log".into()),
                    ("txt".into(), "text/plain".into()),
                ]),
                ..GcsConfiguration::default()
            }),
            censoring_options: Some(CensoringOptions {
                minimum_secret_length: Some(6),
                ..CensoringOptions::default()
            }),
            ..DecorationConfig::default()
        };
        let merged = job.apply_default(&def);
        assert_eq!(merged.timeout.as_ref().map(GoDuration::as_str), Some("4h"));
        assert_eq!(
            merged.grace_period.as_ref().map(GoDuration::as_str),
            Some("15s")
        );
        let imgs = merged.utility_images.as_ref().unwrap();
        assert_eq!(
            (imgs.sidecar.as_str(), imgs.clonerefs.as_str()),
            ("sidecar:custom", "clonerefs:v1")
        );
        let g = merged.gcs_configuration.as_ref().unwrap();
        assert_eq!(
            (g.bucket.as_str(), g.path_prefix.as_str()),
            ("gs://acme", "jobs")
        );
        // Prow copies the default media types over the job's.
        assert_eq!(g.media_types["log"], "text/plain");
        assert_eq!(g.media_types["txt"], "text/plain");
        assert_eq!(merged.ssh_key_secrets, vec!["default-key".to_owned()]);
        let c = merged.censoring_options.as_ref().unwrap();
        assert_eq!(
            (c.censoring_concurrency, c.minimum_secret_length),
            (Some(10), Some(6))
        );
        assert_eq!(merged.run_as_user, Some(1000));
        assert_eq!(merged.validate(), Ok(()));
    }

    #[test]
    fn sections_present_on_one_side_are_taken_whole() {
        let sidecar = ResourceRequirements::default();
        let def = DecorationConfig {
            resources: Some(Resources {
                sidecar: Some(sidecar.clone()),
                ..Resources::default()
            }),
            scheduling_options: Some(SchedulingOptions {
                tolerations: vec![Toleration {
                    key: Some("dedicated".into()),
                    ..Toleration::default()
                }],
                ..SchedulingOptions::default()
            }),
            ..DecorationConfig::default()
        };
        let merged = DecorationConfig::default().apply_default(&def);
        assert_eq!(merged, def);
        let merged = def.apply_default(&DecorationConfig::default());
        assert_eq!(merged, def);
    }

    #[test]
    fn validation_table() {
        let cases: Vec<(&str, DecorationConfig, Result<(), DecorationConfigError>)> = vec![
            ("complete", valid(), Ok(())),
            (
                "no images",
                DecorationConfig {
                    utility_images: None,
                    ..valid()
                },
                Err(DecorationConfigError::NoUtilityImages),
            ),
            (
                "two images missing",
                DecorationConfig {
                    utility_images: Some(UtilityImages {
                        initupload: String::new(),
                        sidecar: String::new(),
                        ..images("v1")
                    }),
                    ..valid()
                },
                Err(DecorationConfigError::MissingUtilityImages(vec![
                    "initupload",
                    "sidecar",
                ])),
            ),
            (
                "no gcs",
                DecorationConfig {
                    gcs_configuration: None,
                    ..valid()
                },
                Err(DecorationConfigError::NoGcsConfiguration),
            ),
            (
                "bad strategy",
                DecorationConfig {
                    gcs_configuration: Some(GcsConfiguration {
                        path_strategy: "flat".into(),
                        ..gcs()
                    }),
                    ..valid()
                },
                Err(GcsConfigurationError::PathStrategy.into()),
            ),
            (
                "legacy without default org",
                DecorationConfig {
                    gcs_configuration: Some(GcsConfiguration {
                        path_strategy: "legacy".into(),
                        default_repo: "foo".into(),
                        ..gcs()
                    }),
                    ..valid()
                },
                Err(GcsConfigurationError::MissingDefaultOrgRepo("legacy".into()).into()),
            ),
            (
                "bad media type",
                DecorationConfig {
                    gcs_configuration: Some(GcsConfiguration {
                        media_types: BTreeMap::from([("log".into(), "text".into())]),
                        ..gcs()
                    }),
                    ..valid()
                },
                Err(GcsConfigurationError::MediaType("text".into()).into()),
            ),
            (
                "oauth and ssh",
                DecorationConfig {
                    oauth_token_secret: Some(SecretKeyRef::default()),
                    ssh_key_secrets: vec!["k".into()],
                    ..valid()
                },
                Err(DecorationConfigError::OauthAndSshKeys),
            ),
        ];
        for (name, config, expected) in cases {
            assert_eq!(config.validate(), expected, "{name}");
        }
    }

    #[test]
    fn media_type_shapes() {
        for (text, ok) in [
            ("text/plain", true),
            ("text/plain; charset=utf-8", true),
            ("application/json;charset=\"utf-8\"", true),
            ("text", false),
            ("text/", false),
            ("text/pl ain", false),
            ("text/plain; charset", false),
        ] {
            assert_eq!(is_media_type(text), ok, "{text}");
        }
    }

    #[test]
    fn slack_and_prowjob_defaults() {
        let def = SlackReporterConfig {
            channel: "ci".into(),
            job_states_to_report: vec![crate::prowjob::ProwJobState::Failure],
            report: Some(true),
            ..SlackReporterConfig::default()
        };
        let job = SlackReporterConfig {
            channel: "team".into(),
            report: Some(false),
            ..SlackReporterConfig::default()
        };
        let merged = job.apply_default(&def);
        assert_eq!(merged.channel, "team");
        assert_eq!(merged.report, Some(false));
        assert_eq!(merged.job_states_to_report, def.job_states_to_report);

        let merged = ProwJobDefault::default().apply_default(&ProwJobDefault {
            tenant_id: "t".into(),
            ..ProwJobDefault::default()
        });
        assert_eq!(merged.tenant_id, "t");
    }
}
