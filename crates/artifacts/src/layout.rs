//! Where Prow puts a job's files in its bucket (`pkg/pod-utils/gcs/target.go`), as pure functions.

use prow_core::prowjob::{GcsConfiguration, ProwJobSpec, ProwJobType};

pub const STARTED_JSON: &str = "started.json";
pub const FINISHED_JSON: &str = "finished.json";
pub const PROWJOB_JSON: &str = "prowjob.json";
pub const PODINFO_JSON: &str = "podinfo.json";
pub const BUILD_LOG_TXT: &str = "build-log.txt";
pub const LATEST_BUILD_TXT: &str = "latest-build.txt";
/// Directory (under the build dir) holding what the job wrote to `$ARTIFACTS`.
pub const ARTIFACTS_DIR: &str = "artifacts";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("job {job}: no gcs_configuration (undecorated job)")]
    NoGcsConfiguration { job: String },
    #[error("job {job}: gcs_configuration has no bucket")]
    NoBucket { job: String },
    #[error("job {job}: no build id yet")]
    NoBuildId { job: String },
    #[error("job {job}: a {type_} job needs refs with a pull request")]
    NoPull { job: String, type_: &'static str },
    #[error("unknown path_strategy {0:?} (want explicit, legacy or single)")]
    UnknownPathStrategy(String),
}

/// `gcs_configuration.path_strategy`: how `org/repo` becomes a path segment for presubmits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathStrategy {
    /// Always `<org>_<repo>`.
    #[default]
    Explicit,
    /// Empty for the default org and repo, `<repo>` for the default org, else `<org>_<repo>`.
    Legacy,
    /// Empty only for the default org and repo, else `<org>_<repo>`.
    Single,
}

impl PathStrategy {
    /// Parses Prow's names; empty means explicit, Prow's default.
    pub fn parse(s: &str) -> Result<Self, LayoutError> {
        match s {
            "" | "explicit" => Ok(Self::Explicit),
            "legacy" => Ok(Self::Legacy),
            "single" => Ok(Self::Single),
            other => Err(LayoutError::UnknownPathStrategy(other.to_owned())),
        }
    }
}

/// The `<seg>` of `pr-logs/pull/<seg>/<pr>/...` for `org/repo`.
pub fn repo_segment(
    strategy: PathStrategy,
    default_org: &str,
    default_repo: &str,
    org: &str,
    repo: &str,
) -> String {
    // Gerrit repos may contain slashes.
    let explicit = || format!("{org}_{}", repo.replace('/', "_"));
    match strategy {
        PathStrategy::Explicit => explicit(),
        PathStrategy::Legacy if org == default_org && repo == default_repo => String::new(),
        PathStrategy::Legacy if org == default_org => repo.to_owned(),
        PathStrategy::Single if org == default_org && repo == default_repo => String::new(),
        PathStrategy::Legacy | PathStrategy::Single => explicit(),
    }
}

/// A `gcs_configuration.bucket`: a bare name (GCS) or `<provider>://<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `gs` or `s3` (the segment Deck puts in `/view/<provider>/<bucket>/...`).
    pub provider: String,
    pub name: String,
}

/// `<provider>://<name>`: how the store port is told which bucket (and so which backend).
impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.provider, self.name)
    }
}

impl Bucket {
    pub fn parse(bucket: &str) -> Self {
        match bucket.split_once("://") {
            Some((provider, name)) => Self {
                provider: provider.to_owned(),
                name: name.trim_end_matches('/').to_owned(),
            },
            None => Self {
                provider: "gs".to_owned(),
                name: bucket.trim_end_matches('/').to_owned(),
            },
        }
    }

    /// `gs://<bucket>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}/{}", self.provider, self.name, path)
    }
}

/// Every path a job's run touches, relative to its bucket (with `path_prefix` applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPaths {
    pub bucket: Bucket,
    /// The build directory, no trailing slash: `logs/<job>/<build>` or
    /// `pr-logs/pull/<seg>/<pr>/<job>/<build>`.
    pub build_dir: String,
    /// Every `latest-build.txt` to write (body = the build id).
    pub latest_build: Vec<String>,
    /// Presubmit alias `pr-logs/directory/<job>/<build>.txt`, body = `gs://<bucket>/<build dir>`.
    pub alias: Option<String>,
}

impl JobPaths {
    /// `<build dir>/<file>`.
    pub fn file(&self, file: &str) -> String {
        format!("{}/{}", self.build_dir, file)
    }

    /// The alias file's body: the full URL of the build dir.
    pub fn alias_body(&self) -> String {
        self.bucket.url(&self.build_dir)
    }
}

/// Joins non-empty segments with `/`, as Go's `path.Join` drops empty elements.
fn join(segments: &[&str]) -> String {
    segments
        .iter()
        .flat_map(|s| s.split('/'))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a run of `spec` with `build_id` writes, per Prow's `PathForSpec`/`LatestBuildForSpec`/
/// `AliasForSpec` under `gcs.path_prefix`.
pub fn job_paths(
    spec: &ProwJobSpec,
    build_id: &str,
    gcs: &GcsConfiguration,
) -> Result<JobPaths, LayoutError> {
    let job = spec.job.as_str();
    if gcs.bucket.is_empty() {
        return Err(LayoutError::NoBucket { job: job.into() });
    }
    if build_id.is_empty() {
        return Err(LayoutError::NoBuildId { job: job.into() });
    }
    let strategy = PathStrategy::parse(&gcs.path_strategy)?;
    let prefix = gcs.path_prefix.as_str();
    let (build_dir, latest_build, alias) = match spec.type_ {
        ProwJobType::Periodic | ProwJobType::Postsubmit => (
            join(&[prefix, "logs", job, build_id]),
            vec![join(&[prefix, "logs", job, LATEST_BUILD_TXT])],
            None,
        ),
        ProwJobType::Presubmit => {
            let refs = spec.refs.as_ref();
            let pull = refs
                .and_then(|r| r.pulls.first())
                .ok_or(LayoutError::NoPull {
                    job: job.into(),
                    type_: "presubmit",
                })?;
            let refs = refs.ok_or(LayoutError::NoPull {
                job: job.into(),
                type_: "presubmit",
            })?;
            let seg = repo_segment(
                strategy,
                &gcs.default_org,
                &gcs.default_repo,
                &refs.org,
                &refs.repo,
            );
            let number = pull.number.to_string();
            let pr_dir = join(&[prefix, "pr-logs", "pull", &seg, &number, job]);
            (
                join(&[&pr_dir, build_id]),
                vec![
                    join(&[prefix, "pr-logs", "directory", job, LATEST_BUILD_TXT]),
                    join(&[&pr_dir, LATEST_BUILD_TXT]),
                ],
                Some(join(&[
                    prefix,
                    "pr-logs",
                    "directory",
                    job,
                    &format!("{build_id}.txt"),
                ])),
            )
        }
        ProwJobType::Batch => (
            join(&[prefix, "pr-logs", "pull", "batch", job, build_id]),
            vec![join(&[
                prefix,
                "pr-logs",
                "directory",
                job,
                LATEST_BUILD_TXT,
            ])],
            None,
        ),
    };
    Ok(JobPaths {
        bucket: Bucket::parse(&gcs.bucket),
        build_dir,
        latest_build,
        alias,
    })
}

/// The job's `gcs_configuration`, if it is decorated and uploads somewhere.
pub fn gcs_configuration(spec: &ProwJobSpec) -> Option<&GcsConfiguration> {
    spec.decoration_config
        .as_ref()
        .and_then(|d| d.gcs_configuration.as_ref())
        .filter(|g| !g.bucket.is_empty())
}

/// [`job_paths`] for a ProwJob, using its own decoration config and build id.
pub fn job_paths_for(pj: &prow_core::prowjob::ProwJob) -> Result<JobPaths, LayoutError> {
    let gcs = pj
        .spec
        .decoration_config
        .as_ref()
        .and_then(|d| d.gcs_configuration.as_ref())
        .ok_or_else(|| LayoutError::NoGcsConfiguration {
            job: pj.spec.job.clone(),
        })?;
    job_paths(&pj.spec, &pj.status.build_id, gcs)
}

/// The build directory of a job run (`build_dir(pj, gcs_configuration)`).
pub fn build_dir(
    spec: &ProwJobSpec,
    build_id: &str,
    gcs: &GcsConfiguration,
) -> Result<String, LayoutError> {
    job_paths(spec, build_id, gcs).map(|p| p.build_dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::{Pull, Refs};

    fn gcs(strategy: &str, prefix: &str) -> GcsConfiguration {
        GcsConfiguration {
            bucket: "my-bucket".into(),
            path_prefix: prefix.into(),
            path_strategy: strategy.into(),
            default_org: "kubernetes".into(),
            default_repo: "kubernetes".into(),
            ..GcsConfiguration::default()
        }
    }

    fn spec(type_: ProwJobType, org: &str, repo: &str, pr: Option<u64>) -> ProwJobSpec {
        let mut refs = Refs::new(org, repo);
        refs.base_ref = "main".into();
        refs.base_sha = "a".repeat(40);
        if let Some(n) = pr {
            refs.pulls.push(Pull::new(n, "alice", "b".repeat(40)));
        }
        ProwJobSpec {
            type_,
            job: "the-job".into(),
            refs: Some(refs),
            ..ProwJobSpec::default()
        }
    }

    #[test]
    fn repo_segments_follow_the_path_strategy() {
        use PathStrategy::*;
        let table = [
            (
                Explicit,
                "kubernetes",
                "kubernetes",
                "kubernetes_kubernetes",
            ),
            (Explicit, "acme", "foo", "acme_foo"),
            (Legacy, "kubernetes", "kubernetes", ""),
            (Legacy, "kubernetes", "test-infra", "test-infra"),
            (Legacy, "acme", "kubernetes", "acme_kubernetes"),
            (Single, "kubernetes", "kubernetes", ""),
            (Single, "kubernetes", "test-infra", "kubernetes_test-infra"),
            (
                Explicit,
                "gerrit.example.com",
                "a/b",
                "gerrit.example.com_a_b",
            ),
        ];
        for (strategy, org, repo, want) in table {
            assert_eq!(
                repo_segment(strategy, "kubernetes", "kubernetes", org, repo),
                want,
                "{strategy:?} {org}/{repo}"
            );
        }
        assert_eq!(PathStrategy::parse(""), Ok(Explicit));
        assert!(PathStrategy::parse("weird").is_err());
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn paths_for_each_job_type() {
        use ProwJobType::*;
        let table: [(&str, ProwJobSpec, &str, &str, &[&str], Option<&str>); 7] = [
            (
                "periodic",
                spec(Periodic, "acme", "foo", None),
                "",
                "logs/the-job/17",
                &["logs/the-job/latest-build.txt"],
                None,
            ),
            (
                "postsubmit with prefix",
                spec(Postsubmit, "acme", "foo", None),
                "pfx/",
                "pfx/logs/the-job/17",
                &["pfx/logs/the-job/latest-build.txt"],
                None,
            ),
            (
                "presubmit explicit",
                spec(Presubmit, "acme", "foo", Some(42)),
                "",
                "pr-logs/pull/acme_foo/42/the-job/17",
                &[
                    "pr-logs/directory/the-job/latest-build.txt",
                    "pr-logs/pull/acme_foo/42/the-job/latest-build.txt",
                ],
                Some("pr-logs/directory/the-job/17.txt"),
            ),
            (
                "presubmit legacy default repo drops the segment",
                spec(Presubmit, "kubernetes", "kubernetes", Some(7)),
                "legacy",
                "pr-logs/pull/7/the-job/17",
                &[
                    "pr-logs/directory/the-job/latest-build.txt",
                    "pr-logs/pull/7/the-job/latest-build.txt",
                ],
                Some("pr-logs/directory/the-job/17.txt"),
            ),
            (
                "presubmit legacy default org",
                spec(Presubmit, "kubernetes", "test-infra", Some(7)),
                "legacy",
                "pr-logs/pull/test-infra/7/the-job/17",
                &[
                    "pr-logs/directory/the-job/latest-build.txt",
                    "pr-logs/pull/test-infra/7/the-job/latest-build.txt",
                ],
                Some("pr-logs/directory/the-job/17.txt"),
            ),
            (
                "presubmit single",
                spec(Presubmit, "kubernetes", "test-infra", Some(7)),
                "single",
                "pr-logs/pull/kubernetes_test-infra/7/the-job/17",
                &[
                    "pr-logs/directory/the-job/latest-build.txt",
                    "pr-logs/pull/kubernetes_test-infra/7/the-job/latest-build.txt",
                ],
                Some("pr-logs/directory/the-job/17.txt"),
            ),
            (
                "batch",
                spec(Batch, "acme", "foo", Some(1)),
                "",
                "pr-logs/pull/batch/the-job/17",
                &["pr-logs/directory/the-job/latest-build.txt"],
                None,
            ),
        ];
        for (name, spec, strategy_or_prefix, dir, latest, alias) in table {
            let (strategy, prefix) = match strategy_or_prefix {
                "legacy" | "single" => (strategy_or_prefix, ""),
                p => ("explicit", p),
            };
            let paths = job_paths(&spec, "17", &gcs(strategy, prefix)).unwrap();
            assert_eq!(paths.build_dir, dir, "{name}");
            assert_eq!(paths.latest_build, latest, "{name}");
            assert_eq!(paths.alias.as_deref(), alias, "{name}");
        }
    }

    #[test]
    fn missing_pieces_are_errors_not_panics() {
        let g = gcs("explicit", "");
        let no_pull = spec(ProwJobType::Presubmit, "acme", "foo", None);
        assert!(matches!(
            job_paths(&no_pull, "1", &g),
            Err(LayoutError::NoPull { .. })
        ));
        let periodic = spec(ProwJobType::Periodic, "acme", "foo", None);
        assert!(matches!(
            job_paths(&periodic, "", &g),
            Err(LayoutError::NoBuildId { .. })
        ));
        let no_bucket = GcsConfiguration::default();
        assert!(matches!(
            job_paths(&periodic, "1", &no_bucket),
            Err(LayoutError::NoBucket { .. })
        ));
    }

    #[test]
    fn buckets_with_and_without_provider() {
        assert_eq!(
            Bucket::parse("my-bucket").url("logs/x/1"),
            "gs://my-bucket/logs/x/1"
        );
        let s3 = Bucket::parse("s3://other/");
        assert_eq!((s3.provider.as_str(), s3.name.as_str()), ("s3", "other"));
        let paths = job_paths(
            &spec(ProwJobType::Presubmit, "acme", "foo", Some(42)),
            "9",
            &gcs("explicit", ""),
        )
        .unwrap();
        assert_eq!(
            paths.alias_body(),
            "gs://my-bucket/pr-logs/pull/acme_foo/42/the-job/9"
        );
        assert_eq!(
            paths.file(FINISHED_JSON),
            "pr-logs/pull/acme_foo/42/the-job/9/finished.json"
        );
    }
}
