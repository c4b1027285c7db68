//! The ProwJob custom resource (`prow.k8s.io/v1`) and the types it shares with Prow's job config.
//!
//! Field names, order and omission rules follow Prow's Go types (`pkg/apis/prowjobs/v1`), so a
//! ProwJob written by Go Prow reads back unchanged and Go Prow can read ours.

mod builder;
mod defaults;
mod duration;
mod go_order;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::{Affinity, PodSpec, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use builder::ProwJobBuilder;
pub use defaults::{DecorationConfigError, GcsConfigurationError};
pub use duration::{DurationError, GoDuration};

/// `apiVersion` of every ProwJob.
pub const API_VERSION: &str = "prow.k8s.io/v1";
/// `kind` of every ProwJob.
pub const KIND: &str = "ProwJob";
/// Cluster alias used when a job names none.
pub const DEFAULT_CLUSTER_ALIAS: &str = "default";

/// Map type for Go `map[string]string` fields: sorted, as Go's encoding/json writes them.
pub type StringMap = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// How a job is triggered.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProwJobType {
    /// Runs on unmerged PRs. Also the `Default`, which exists only for struct-update syntax.
    #[default]
    Presubmit,
    /// Runs on each new commit of a branch.
    Postsubmit,
    /// Runs on a schedule, unrelated to git changes.
    Periodic,
    /// Tests several unmerged PRs together (created by tide).
    Batch,
}

impl ProwJobType {
    pub const ALL: [ProwJobType; 4] = [
        Self::Presubmit,
        Self::Postsubmit,
        Self::Periodic,
        Self::Batch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Presubmit => "presubmit",
            Self::Postsubmit => "postsubmit",
            Self::Periodic => "periodic",
            Self::Batch => "batch",
        }
    }
}

impl fmt::Display for ProwJobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no known job type or state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for ProwJobType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "job type",
                value: s.to_owned(),
            })
    }
}

/// Where a job is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProwJobState {
    /// Created, waiting for the scheduler to pick a cluster.
    Scheduling,
    /// Scheduled, no pod running yet. The `Default`: what Prow sets at creation.
    #[default]
    Triggered,
    /// The pod (or build) is running.
    Pending,
    /// Finished with exit 0.
    Success,
    /// Finished with a non-zero exit.
    Failure,
    /// Stopped by Prow (superseded, timed out, or by a user).
    Aborted,
    /// Could not run (bad config, pod could not be created, ...).
    Error,
}

impl ProwJobState {
    pub const ALL: [ProwJobState; 7] = [
        Self::Scheduling,
        Self::Triggered,
        Self::Pending,
        Self::Success,
        Self::Failure,
        Self::Aborted,
        Self::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduling => "scheduling",
            Self::Triggered => "triggered",
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Aborted => "aborted",
            Self::Error => "error",
        }
    }

    /// A final state: success, failure, aborted or error.
    ///
    /// Not the same as [`ProwJob::is_complete`]: a job aborted by trigger is `aborted` before
    /// plank has deleted its pod and set `completionTime`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failure | Self::Aborted | Self::Error
        )
    }

    /// Not yet final: scheduling, triggered or pending.
    pub fn is_active(self) -> bool {
        !self.is_final()
    }

    /// Final and not a success.
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, Self::Failure | Self::Aborted | Self::Error)
    }
}

impl fmt::Display for ProwJobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProwJobState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "job state",
                value: s.to_owned(),
            })
    }
}

/// The controller that runs a job (`spec.agent`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ProwJobAgent {
    /// plank: the job runs as a pod. Prow's default.
    #[default]
    Kubernetes,
    Jenkins,
    TektonPipeline,
    /// Any other agent name, kept as written.
    Other(String),
}

impl ProwJobAgent {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::Jenkins => "jenkins",
            Self::TektonPipeline => "tekton-pipeline",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ProwJobAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for ProwJobAgent {
    fn from(s: String) -> Self {
        match s.as_str() {
            "kubernetes" => Self::Kubernetes,
            "jenkins" => Self::Jenkins,
            "tekton-pipeline" => Self::TektonPipeline,
            _ => Self::Other(s),
        }
    }
}

impl From<&str> for ProwJobAgent {
    fn from(s: &str) -> Self {
        Self::from(s.to_owned())
    }
}

impl Serialize for ProwJobAgent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProwJobAgent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

impl JsonSchema for ProwJobAgent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProwJobAgent".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// A pull request at a particular point in time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Pull {
    pub number: u64,
    pub author: String,
    pub sha: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// A git ref that can be checked out for the change, e.g. `pull/123/head` or `refs/changes/00/123/1`.
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "ref")]
    pub ref_: String,
    /// Branch name of the proposed change.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub head_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit_link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author_link: String,
}

impl Pull {
    pub fn new(number: u64, author: impl Into<String>, sha: impl Into<String>) -> Self {
        Self {
            number,
            author: author.into(),
            sha: sha.into(),
            ..Self::default()
        }
    }
}

/// The code a job runs against: a repository, a base, and the pulls merged onto it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Refs {
    pub org: String,
    pub repo: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_sha: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_link: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pulls: Vec<Pull>,
    /// Clone location under `<root>/src` instead of `github.com/org/repo`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_alias: String,
    /// Use this repository's clone as the working directory.
    #[serde(default, skip_serializing_if = "is_false", rename = "workdir")]
    pub work_dir: bool,
    /// Only provides tooling; the first non-auxiliary refs are the job's main repository.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auxiliary: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub clone_uri: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_submodules: bool,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub clone_depth: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_fetch_head: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobless_fetch: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sparse_checkout_files: Vec<String>,
}

impl Refs {
    pub fn new(org: impl Into<String>, repo: impl Into<String>) -> Self {
        Self {
            org: org.into(),
            repo: repo.into(),
            ..Self::default()
        }
    }

    /// `org/repo`, or just `org` when there is no repo (Go's `OrgRepoString`).
    pub fn org_repo(&self) -> String {
        if self.repo.is_empty() {
            self.org.clone()
        } else {
            format!("{}/{}", self.org, self.repo)
        }
    }

    /// Prow's `Refs.String()`, the value of `PULL_REFS`: `base_ref[:base_sha]` then
    /// `,number:sha[:ref]` for each pull.
    pub fn pull_refs_string(&self) -> String {
        let mut out = self.base_ref.clone();
        if !self.base_sha.is_empty() {
            out.push(':');
            out.push_str(&self.base_sha);
        }
        for pull in &self.pulls {
            out.push_str(&format!(",{}:{}", pull.number, pull.sha));
            if !pull.ref_.is_empty() {
                out.push(':');
                out.push_str(&pull.ref_);
            }
        }
        out
    }
}

/// Container images of the pod utilities.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct UtilityImages {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub clonerefs: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initupload: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entrypoint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sidecar: String,
}

/// Resource requests and limits of the utility containers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_order::serialize"
    )]
    pub clonerefs: Option<ResourceRequirements>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_order::serialize"
    )]
    pub initupload: Option<ResourceRequirements>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_order::serialize"
    )]
    pub place_entrypoint: Option<ResourceRequirements>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_order::serialize"
    )]
    pub sidecar: Option<ResourceRequirements>,
}

/// Where logs and artifacts go (GCS, S3, or a local directory).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GcsConfiguration {
    /// `gs://bucket`, `s3://bucket`, or a bare (GCS) bucket name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// `legacy`, `single` or `explicit`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_strategy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_org: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_repo: String,
    /// Extension -> media type, e.g. `log: text/plain`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        rename = "mediaTypes"
    )]
    pub media_types: StringMap,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_url_prefix: String,
    /// Copy files here instead of uploading them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub local_output_dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compress_file_types: Vec<String>,
}

/// A key in a Kubernetes secret (OAuth token or GitHub App key).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
}

/// Options for censoring secrets out of logs and artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CensoringOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_buffer_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_directories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_directories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_secret_length: Option<i64>,
}

/// Pod scheduling settings applied unless the pod spec sets them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SchedulingOptions {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_order::serialize"
    )]
    pub affinity: Option<Affinity>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "go_order::serialize"
    )]
    pub tolerations: Vec<Toleration>,
}

/// How plank decorates a job's pod with the pod utilities (clone, upload, timeouts).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DecorationConfig {
    /// How long the entrypoint waits before interrupting the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// How long after the interrupt before the test is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<GoDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utility_images: Option<UtilityImages>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_configuration: Option<GcsConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_key_secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_host_fingerprints: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobless_fetch: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sparse_checkout_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_cloning: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookiefile_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token_secret: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub github_api_endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub github_app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_app_private_key_secret: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censor_secrets: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censoring_options: Option<CensoringOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_ignores_interrupts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_limit_equals_memory_request: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_memory_request: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_options: Option<SchedulingOptions>,
    /// Overrides plank's `pod_pending_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_pending_timeout: Option<GoDuration>,
    /// Overrides plank's `pod_running_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_running_timeout: Option<GoDuration>,
    /// Overrides plank's `pod_unscheduled_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_unscheduled_timeout: Option<GoDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<i64>,
}

/// Slack reporting of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SlackReporterConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_states_to_report: Vec<ProwJobState>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub report_template: String,
    /// Explicit on/off; `None` means "derived from `job_states_to_report`".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<bool>,
}

/// Per-reporter settings of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReporterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackReporterConfig>,
}

/// A GitHub team named by org and slug.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitHubTeamSlug {
    pub slug: String,
    pub org: String,
}

/// Who may rerun a job from Deck.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RerunAuthConfig {
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_anyone: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub github_team_ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub github_team_slugs: Vec<GitHubTeamSlug>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub github_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub github_orgs: Vec<String>,
}

/// `allow_anyone` together with an allow-list: the list would mean nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allow_anyone is set to true and permitted users or groups are specified")]
pub struct RerunAuthConflict;

/// GitHub logins compare case-insensitively and may be written with a leading `@`.
pub fn normalize_login(login: &str) -> String {
    let lower = login.to_lowercase();
    lower.strip_prefix('@').unwrap_or(&lower).to_owned()
}

impl RerunAuthConfig {
    /// Authorized without asking GitHub: anyone is allowed, or the user is listed by name.
    pub fn authorizes_user(&self, user: &str) -> bool {
        let user = normalize_login(user);
        self.allow_anyone || self.github_users.iter().any(|u| normalize_login(u) == user)
    }

    /// Whether orgs or teams are listed, so a user not matched by [`Self::authorizes_user`]
    /// may still be authorized through a GitHub membership lookup.
    pub fn needs_membership_lookup(&self) -> bool {
        !self.github_orgs.is_empty()
            || !self.github_team_ids.is_empty()
            || !self.github_team_slugs.is_empty()
    }

    fn has_allow_list(&self) -> bool {
        !self.github_users.is_empty() || self.needs_membership_lookup()
    }

    pub fn validate(&self) -> Result<(), RerunAuthConflict> {
        if self.allow_anyone && self.has_allow_list() {
            return Err(RerunAuthConflict);
        }
        Ok(())
    }
}

/// ResultStore upload settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ResultStoreConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project_id: String,
}

/// ProwJob fields that Prow config can default (`prowjob_default_entries`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProwJobDefault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resultstore_config: Option<ResultStoreConfig>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant_id: String,
}

/// Settings for jobs run by the Jenkins operator.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct JenkinsSpec {
    #[serde(default, skip_serializing_if = "is_false")]
    pub github_branch_source_job: bool,
}

/// A Tekton PipelineRun spec, kept as opaque JSON.
pub type PipelineRunSpec = serde_json::Map<String, serde_json::Value>;

/// Tekton pipeline settings by API version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TektonPipelineRunSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta1: Option<PipelineRunSpec>,
}

/// What to run, against which code, and how to report it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProwJobSpec {
    #[serde(rename = "type")]
    pub type_: ProwJobType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<ProwJobAgent>,
    /// Build cluster alias; empty means [`DEFAULT_CLUSTER_ALIAS`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Namespace of the pod.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default)]
    pub job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refs: Option<Refs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_refs: Vec<Refs>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub report: bool,
    /// GitHub status context.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rerun_command: String,
    /// At most this many instances of the job run at once; 0 means unlimited.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub max_concurrency: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub error_on_eviction: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_spec: Option<PodSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jenkins_spec: Option<JenkinsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_run_spec: Option<PipelineRunSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tekton_pipeline_run_spec: Option<TektonPipelineRunSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoration_config: Option<DecorationConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter_config: Option<ReporterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_auth_config: Option<RerunAuthConfig>,
    /// Only shown by Deck instances that show hidden jobs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "prowjob_defaults"
    )]
    pub prowjob_defaults: Option<ProwJobDefault>,
    /// Queue whose capacity (plank `job_queue_capacities`) limits this job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_queue_name: String,
}

impl ProwJobSpec {
    /// The build cluster alias, defaulted.
    pub fn cluster_alias(&self) -> &str {
        if self.cluster.is_empty() {
            DEFAULT_CLUSTER_ALIAS
        } else {
            &self.cluster
        }
    }

    /// The repository the job is about: `refs`, else the first non-auxiliary extra ref.
    pub fn main_refs(&self) -> Option<&Refs> {
        self.refs
            .as_ref()
            .or_else(|| self.extra_refs.iter().find(|r| !r.auxiliary))
    }

    /// Whether the pod utilities decorate this job.
    pub fn is_decorated(&self) -> bool {
        self.decoration_config.is_some()
    }
}

/// Runtime state of a ProwJob.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProwJobStatus {
    /// Creation time of the job.
    #[serde(default, rename = "startTime", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the job went from triggered to pending.
    #[serde(
        default,
        rename = "pendingTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub pending_time: Option<Time>,
    /// When the job reached a final state; set means complete.
    #[serde(
        default,
        rename = "completionTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub completion_time: Option<Time>,
    #[serde(default)]
    pub state: ProwJobState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// How often plank recreated the pod after an unexpected stop.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub pod_revival_count: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub build_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jenkins_build_id: String,
    /// Last state each reporter reported, so crier does not report twice.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prev_report_states: BTreeMap<String, ProwJobState>,
}

/// A Prow job run: the `prow.k8s.io/v1` `ProwJob` custom resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProwJob {
    #[serde(rename = "apiVersion", default = "default_api_version")]
    pub api_version: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ProwJobSpec,
    #[serde(default)]
    pub status: ProwJobStatus,
}

fn default_api_version() -> String {
    API_VERSION.to_owned()
}

fn default_kind() -> String {
    KIND.to_owned()
}

impl Default for ProwJob {
    fn default() -> Self {
        Self {
            api_version: default_api_version(),
            kind: default_kind(),
            metadata: ObjectMeta::default(),
            spec: ProwJobSpec::default(),
            status: ProwJobStatus::default(),
        }
    }
}

impl ProwJob {
    /// A new ProwJob with the given metadata name and spec, status defaulted.
    pub fn new(name: impl Into<String>, spec: ProwJobSpec) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec,
            ..Self::default()
        }
    }

    /// Fluent test-data builder; see [`ProwJobBuilder`].
    pub fn builder(job: impl Into<String>, type_: ProwJobType) -> ProwJobBuilder {
        ProwJobBuilder::new(job, type_)
    }

    /// `metadata.name`, or `""` when unset.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// The namespace this job's pod runs in: the job's own, else `default_namespace` (Prow's
    /// `pod_namespace`).
    pub fn pod_namespace<'a>(&'a self, default_namespace: &'a str) -> &'a str {
        if self.spec.namespace.is_empty() {
            default_namespace
        } else {
            &self.spec.namespace
        }
    }

    /// Complete as Prow defines it: `status.completionTime` is set.
    pub fn is_complete(&self) -> bool {
        self.status.completion_time.is_some()
    }

    /// Sets the state and marks the job complete at `now` (Go's `SetComplete`).
    pub fn complete(&mut self, state: ProwJobState, now: Time) {
        self.status.state = state;
        self.status.completion_time = Some(now);
    }
}

impl k8s_openapi::Resource for ProwJob {
    const API_VERSION: &'static str = API_VERSION;
    const GROUP: &'static str = "prow.k8s.io";
    const KIND: &'static str = KIND;
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "prowjobs";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::ListableResource for ProwJob {
    const LIST_KIND: &'static str = "ProwJobList";
}

impl k8s_openapi::Metadata for ProwJob {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn job_types_and_states_round_trip_through_their_names() {
        for t in ProwJobType::ALL {
            assert_eq!(t.as_str().parse::<ProwJobType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for s in ProwJobState::ALL {
            assert_eq!(s.as_str().parse::<ProwJobState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("Presubmit".parse::<ProwJobType>().is_err());
        assert!("done".parse::<ProwJobState>().is_err());
    }

    #[test]
    fn state_predicates() {
        use ProwJobState::*;
        let table = [
            // state, final, unsuccessful
            (Scheduling, false, false),
            (Triggered, false, false),
            (Pending, false, false),
            (Success, true, false),
            (Failure, true, true),
            (Aborted, true, true),
            (Error, true, true),
        ];
        for (state, is_final, unsuccessful) in table {
            assert_eq!(state.is_final(), is_final, "{state}");
            assert_eq!(state.is_active(), !is_final, "{state}");
            assert_eq!(state.is_unsuccessful(), unsuccessful, "{state}");
        }
    }

    #[test]
    fn agent_keeps_unknown_names() {
        let a: ProwJobAgent = serde_json::from_str("\"tekton-pipeline\"").unwrap();
        assert_eq!(a, ProwJobAgent::TektonPipeline);
        let o: ProwJobAgent = serde_json::from_str("\"buildkite\"").unwrap();
        assert_eq!(o, ProwJobAgent::Other("buildkite".into()));
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"buildkite\"");
    }

    #[test]
    fn pull_refs_string_matches_prow_refs_string() {
        let mut refs = Refs::new("acme", "foo");
        refs.base_ref = "main".into();
        assert_eq!(refs.pull_refs_string(), "main");
        refs.base_sha = "aaaa".into();
        assert_eq!(refs.pull_refs_string(), "main:aaaa");
        refs.pulls.push(Pull::new(42, "alice", "bbbb"));
        assert_eq!(refs.pull_refs_string(), "main:aaaa,42:bbbb");
        let mut gerrit = Pull::new(43, "bob", "cccc");
        gerrit.ref_ = "refs/changes/00/43/1".into();
        refs.pulls.push(gerrit);
        assert_eq!(
            refs.pull_refs_string(),
            "main:aaaa,42:bbbb,43:cccc:refs/changes/00/43/1"
        );
        refs.base_sha.clear();
        assert_eq!(
            refs.pull_refs_string(),
            "main,42:bbbb,43:cccc:refs/changes/00/43/1"
        );
    }

    #[test]
    fn rerun_auth_by_user_name() {
        let cfg = RerunAuthConfig {
            github_users: vec!["Alice".into(), "@bob".into()],
            github_orgs: vec!["acme".into()],
            ..RerunAuthConfig::default()
        };
        let table = [
            ("alice", true),
            ("@ALICE", true),
            ("bob", true),
            ("carol", false),
            ("", false),
        ];
        for (user, ok) in table {
            assert_eq!(cfg.authorizes_user(user), ok, "{user}");
        }
        assert!(cfg.needs_membership_lookup());
        assert_eq!(cfg.validate(), Ok(()));

        let anyone = RerunAuthConfig {
            allow_anyone: true,
            ..RerunAuthConfig::default()
        };
        assert!(anyone.authorizes_user("carol"));
        assert!(!anyone.needs_membership_lookup());
        assert_eq!(anyone.validate(), Ok(()));
        let conflicting = RerunAuthConfig {
            allow_anyone: true,
            github_team_ids: vec![7],
            ..RerunAuthConfig::default()
        };
        assert_eq!(conflicting.validate(), Err(RerunAuthConflict));
        assert!(!RerunAuthConfig::default().authorizes_user("alice"));
    }

    #[test]
    fn main_refs_skips_auxiliary_extra_refs() {
        let mut tools = Refs::new("acme", "tools");
        tools.auxiliary = true;
        let spec = ProwJobSpec {
            extra_refs: vec![tools, Refs::new("acme", "foo")],
            ..ProwJobSpec::default()
        };
        assert_eq!(spec.main_refs().map(|r| r.repo.as_str()), Some("foo"));
        assert_eq!(ProwJobSpec::default().main_refs(), None);
        assert_eq!(ProwJobSpec::default().cluster_alias(), "default");
    }

    #[test]
    fn empty_fields_are_omitted_like_go() {
        let pj = ProwJob::new(
            "x",
            ProwJobSpec {
                type_: ProwJobType::Periodic,
                job: "ci-foo".into(),
                ..ProwJobSpec::default()
            },
        );
        let json = serde_json::to_string(&pj).unwrap();
        assert_eq!(
            json,
            r#"{"apiVersion":"prow.k8s.io/v1","kind":"ProwJob","metadata":{"name":"x"},"spec":{"type":"periodic","job":"ci-foo"},"status":{"state":"triggered"}}"#
        );
    }
}
