//! `plugins.yaml`: which plugins run where, and the trigger plugin's trust settings.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_norway::Value;

use super::diagnostic::Severity;
use super::locate::Seg;

/// Prow's plugin Configuration. Plugin-specific sections prow-rs does not act on yet stay raw YAML.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginsConfig {
    /// `org` or `org/repo` -> enabled plugins. A repo runs its org's plugins (unless the org
    /// entry lists it in `excluded_repos`) plus its own entry's.
    pub plugins: BTreeMap<String, OrgPlugins>,
    pub external_plugins: BTreeMap<String, Vec<ExternalPlugin>>,
    pub triggers: Vec<TriggerConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub owners: OwnersConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub approve: Vec<ApproveConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub blockades: Vec<BlockadeConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub blunderbuss: BlunderbussConfig,
    pub rifle: Option<Value>,
    pub bugzilla: Option<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub branch_cleaner: BranchCleanerConfig,
    pub cat: Option<Value>,
    pub cherry_pick_approved: Option<Value>,
    pub cherry_pick_unapproved: Option<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub config_updater: ConfigUpdater,
    #[serde(deserialize_with = "null_as_default")]
    pub dco: BTreeMap<String, DcoConfig>,
    pub golint: Option<Value>,
    pub goose: Option<Value>,
    pub heart: Option<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub label: LabelConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub lgtm: Vec<LgtmConfig>,
    pub jira: Option<Value>,
    /// `org/repo` -> base branch -> the milestone a merged PR into it gets (milestoneapplier).
    #[serde(deserialize_with = "null_as_default")]
    pub milestone_applier: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(deserialize_with = "null_as_default")]
    pub release_note: ReleaseNoteConfig,
    /// `org/repo` (or `""` for every other repo) -> who may use `/milestone` there.
    #[serde(deserialize_with = "null_as_default")]
    pub repo_milestone: BTreeMap<String, RepoMilestone>,
    pub project_config: Option<Value>,
    pub project_manager: Option<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub require_matching_label: Vec<RequireMatchingLabelConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub retitle: RetitleConfig,
    pub slack: Option<Value>,
    pub sigmention: Option<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub size: SizeConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub welcome: Vec<WelcomeConfig>,
    #[serde(rename = "override", deserialize_with = "null_as_default")]
    pub override_: OverrideConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub help: HelpConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub invalid_commit_msg: Vec<InvalidCommitMsgConfig>,
}

/// Plugins enabled for an org or repo: either a plain list (Prow's older form) or
/// `{plugins, excluded_repos}`. `excluded_repos` holds bare repo names of the org (`foo`, not
/// `acme/foo`) and only means something in an org entry, as in Prow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OrgPlugins {
    List(Vec<String>),
    Detailed {
        #[serde(default)]
        plugins: Vec<String>,
        #[serde(default)]
        excluded_repos: Vec<String>,
    },
}

impl Default for OrgPlugins {
    fn default() -> Self {
        OrgPlugins::List(Vec::new())
    }
}

impl OrgPlugins {
    /// The plugin names, whichever form the entry is written in.
    pub fn plugins(&self) -> &[String] {
        match self {
            OrgPlugins::List(plugins) | OrgPlugins::Detailed { plugins, .. } => plugins,
        }
    }

    /// Repos of the org that do not get this entry's plugins (bare names).
    pub fn excluded_repos(&self) -> &[String] {
        match self {
            OrgPlugins::List(_) => &[],
            OrgPlugins::Detailed { excluded_repos, .. } => excluded_repos,
        }
    }
}

/// A list, a `{plugins, excluded_repos}` mapping, or nothing (an empty list, as Go reads null);
/// other keys of the mapping are ignored (and so reported as unknown).
impl<'de> Deserialize<'de> for OrgPlugins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;

        impl<'de> Visitor<'de> for Entry {
            type Value = OrgPlugins;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of plugin names or {plugins: [...], excluded_repos: [...]}")
            }

            fn visit_unit<E: de::Error>(self) -> Result<OrgPlugins, E> {
                Ok(OrgPlugins::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<OrgPlugins, E> {
                Ok(OrgPlugins::default())
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrgPlugins, A::Error> {
                let mut plugins = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(plugin) = seq.next_element()? {
                    plugins.push(plugin);
                }
                Ok(OrgPlugins::List(plugins))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrgPlugins, A::Error> {
                let (mut plugins, mut excluded_repos) = (Vec::new(), Vec::new());
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "plugins" => plugins = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "excluded_repos" => {
                            excluded_repos = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(OrgPlugins::Detailed {
                    plugins,
                    excluded_repos,
                })
            }
        }

        deserializer.deserialize_any(Entry)
    }
}

/// An external plugin endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalPlugin {
    pub name: String,
    pub endpoint: String,
    pub events: Vec<String>,
}

/// The trigger plugin's settings for a set of orgs/repos.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerConfig {
    pub repos: Vec<String>,
    pub trusted_apps: Vec<String>,
    pub trusted_org: String,
    pub join_org_url: String,
    pub only_org_members: bool,
    pub ignore_ok_to_test: bool,
    pub trigger_github_workflows: bool,
    pub org_invite: Option<Value>,
}

/// Go reads `key: null` as the zero value; serde would refuse it for a list or a struct.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The lgtm plugin's settings for a set of orgs/repos (Prow's `plugins.Lgtm`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LgtmConfig {
    pub repos: Vec<String>,
    /// GitHub reviews that approve or request changes act as `/lgtm` and `/lgtm cancel`.
    pub review_acts_as_lgtm: bool,
    /// Record the tree hash when lgtm is added; a push that keeps the tree keeps the label.
    pub store_tree_hash: bool,
    /// Pushes by members of this team keep the label.
    #[serde(rename = "trusted_team_for_sticky_lgtm")]
    pub sticky_lgtm_team: String,
}

/// The approve plugin's settings for a set of orgs/repos (Prow's `plugins.Approve`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApproveConfig {
    pub repos: Vec<String>,
    /// Approval needs a linked issue (or `/approve no-issue`).
    pub issue_required: bool,
    /// The PR author's own approval is not implied (Prow's default: implied).
    pub require_self_approval: Option<bool>,
    /// The `lgtm` label's giver approves too.
    pub lgtm_acts_as_approve: bool,
    /// Review states do not count as approvals (Prow's default: ignored).
    pub ignore_review_state: Option<bool>,
    #[serde(rename = "commandHelpLink")]
    pub command_help_link: String,
    pub pr_process_link: String,
}

/// Prow's default command help link for the approve notification.
pub const DEFAULT_COMMAND_HELP_LINK: &str = "https://go.k8s.io/bot-commands";

impl ApproveConfig {
    /// Whether the author must approve explicitly (unset means no, as in Prow).
    pub fn require_self_approval(&self) -> bool {
        self.require_self_approval.unwrap_or(false)
    }

    /// Whether review states are ignored (unset means yes, as in Prow).
    pub fn ignore_review_state(&self) -> bool {
        self.ignore_review_state.unwrap_or(true)
    }
}

/// The blunderbuss plugin's settings (Prow's `plugins.Blunderbuss`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlunderbussConfig {
    /// Reviewers to request (Prow's default: 2).
    pub request_count: Option<usize>,
    pub max_request_count: usize,
    pub exclude_approvers: bool,
    pub use_status_availability: bool,
    pub ignore_drafts: bool,
    pub ignore_authors: Vec<String>,
    pub wait_for_status: Option<Value>,
}

/// The label plugin's settings (Prow's `plugins.Label`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelConfig {
    /// Labels `/label` may add or remove besides the restricted ones.
    pub additional_labels: Vec<String>,
    /// `*`, `org` or `org/repo` -> labels only some teams and users may add or remove.
    pub restricted_labels: BTreeMap<String, Vec<RestrictedLabel>>,
}

/// A label only `allowed_teams` and `allowed_users` may set (Prow's `plugins.RestrictedLabel`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestrictedLabel {
    pub label: String,
    /// Team slugs of the repo's org.
    pub allowed_teams: Vec<String>,
    pub allowed_users: Vec<String>,
    /// When a PR gets one of these labels, `allowed_users` are assigned to it.
    pub assign_on: Vec<AssignOnLabel>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssignOnLabel {
    pub label: String,
}

impl LabelConfig {
    /// The restricted labels of `org/repo` by lower-case name: entries for `*`, the org and the
    /// repo merged, their users, teams and `assign_on` united (Prow's RestrictedLabelsFor).
    pub fn restricted_labels_for(
        &self,
        org: &str,
        repo: &str,
    ) -> BTreeMap<String, RestrictedLabel> {
        let mut out: BTreeMap<String, RestrictedLabel> = BTreeMap::new();
        for key in ["*".to_owned(), org.to_owned(), format!("{org}/{repo}")] {
            for restricted in self.restricted_labels.get(&key).into_iter().flatten() {
                let name = restricted.label.to_lowercase();
                let Some(existing) = out.get_mut(&name) else {
                    out.insert(name, restricted.clone());
                    continue;
                };
                let union = |a: &[String], b: &[String]| -> Vec<String> {
                    let set: std::collections::BTreeSet<&String> = a.iter().chain(b).collect();
                    set.into_iter().cloned().collect()
                };
                existing.allowed_users = union(&existing.allowed_users, &restricted.allowed_users);
                existing.allowed_teams = union(&existing.allowed_teams, &restricted.allowed_teams);
                for on in &restricted.assign_on {
                    if !existing.assign_on.contains(on) {
                        existing.assign_on.push(on.clone());
                    }
                }
            }
        }
        out
    }
}

/// The help plugin's settings (Prow's `plugins.Help`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HelpConfig {
    /// Where the help-wanted guidelines are; Prow's default when empty
    /// ([`DEFAULT_HELP_GUIDELINES_URL`]).
    pub help_guidelines_url: String,
    /// Shown in the comment on a help-wanted issue, above the link.
    pub help_guidelines_summary: String,
}

/// Prow's default help-wanted guidelines.
pub const DEFAULT_HELP_GUIDELINES_URL: &str =
    "https://git.k8s.io/community/contributors/guide/help-wanted.md";

impl HelpConfig {
    /// The guidelines address, defaulted as Prow does.
    pub fn guidelines_url(&self) -> &str {
        if self.help_guidelines_url.is_empty() {
            DEFAULT_HELP_GUIDELINES_URL
        } else {
            &self.help_guidelines_url
        }
    }
}

/// The retitle plugin's settings (Prow's `plugins.Retitle`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetitleConfig {
    /// Closed and merged issues and PRs may be retitled too.
    pub allow_closed_issues: bool,
}

/// One blockade (Prow's `plugins.Blockade`): PRs into matching branches of `repos` that touch
/// files matching `blockregexps` (and none of `exceptionregexps`) are blocked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockadeConfig {
    /// `org` or `org/repo`.
    pub repos: Vec<String>,
    /// Branches it applies to (all when unset).
    pub branchregexp: Option<String>,
    pub blockregexps: Vec<String>,
    pub exceptionregexps: Vec<String>,
    /// Said when blocking; Prow's default "Files are protected".
    pub explanation: String,
}

/// The welcome plugin's settings for some repos or orgs (Prow's `plugins.Welcome`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WelcomeConfig {
    /// `org/repo` or `org`.
    pub repos: Vec<String>,
    /// A Go template over `.Org`, `.Repo`, `.AuthorLogin`, `.AuthorName`; Prow's default
    /// ([`DEFAULT_WELCOME_MESSAGE`]) when empty.
    pub message_template: String,
    /// Greet every PR, not only an author's first one in the repo.
    pub always_post: bool,
}

/// Prow's welcome message.
pub const DEFAULT_WELCOME_MESSAGE: &str =
    "Welcome @{{.AuthorLogin}}! It looks like this is your first PR to {{.Org}}/{{.Repo}} 🎉";

impl WelcomeConfig {
    /// The template to render, Prow's default when unset.
    pub fn template(&self) -> &str {
        if self.message_template.is_empty() {
            DEFAULT_WELCOME_MESSAGE
        } else {
            &self.message_template
        }
    }
}

/// Who may use `/override` besides repo admins (Prow's `plugins.Override`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OverrideConfig {
    /// Approvers in the repo's top-level OWNERS file may override.
    pub allow_top_level_owners: bool,
    /// `org` or `org/repo` -> team slugs of the org whose members may override.
    pub allowed_github_teams: BTreeMap<String, Vec<String>>,
}

impl OverrideConfig {
    /// The team slugs allowed in `org/repo`: the repo's entry, then the org's (Prow's order).
    pub fn teams_for(&self, org: &str, repo: &str) -> Vec<String> {
        [format!("{org}/{repo}"), org.to_owned()]
            .iter()
            .filter_map(|k| self.allowed_github_teams.get(k))
            .flatten()
            .cloned()
            .collect()
    }
}

/// The milestone plugin's maintainers for a repo (Prow's `plugins.Milestone`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoMilestone {
    /// Deprecated in Prow for `maintainers_team`; the team's numeric id.
    pub maintainers_id: u64,
    /// Slug of the team (in the repo's org) whose members may set milestones.
    pub maintainers_team: String,
    /// How the refusal names the people to ask. Prow's "SIG Chairs/TLs" default is set on a
    /// copy of the entry and so never applies; unset stays empty here too.
    pub maintainers_friendly_name: String,
}

impl PluginsConfig {
    /// The milestone maintainers of `org/repo`: its entry, else the `""` default (Prow's).
    pub fn repo_milestone(&self, org: &str, repo: &str) -> RepoMilestone {
        self.repo_milestone
            .get(&format!("{org}/{repo}"))
            .or_else(|| self.repo_milestone.get(""))
            .cloned()
            .unwrap_or_default()
    }

    /// The milestone milestoneapplier gives a PR of `org/repo` into `branch`, if configured.
    pub fn applied_milestone(&self, org: &str, repo: &str, branch: &str) -> Option<&str> {
        self.milestone_applier
            .get(&format!("{org}/{repo}"))?
            .get(branch)
            .map(String::as_str)
    }
}

/// The branchcleaner plugin's settings (Prow's `plugins.BranchCleaner`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BranchCleanerConfig {
    /// `org/repo` or `org` -> branches (names or regexps) never deleted.
    pub preserved_branches: BTreeMap<String, Vec<String>>,
}

impl BranchCleanerConfig {
    /// Whether `branch` of `org/repo` is kept: named, or matched by a regexp, by the repo's or
    /// the org's entry (Prow's IsPreservedBranch; an unmatched regexp search counts anywhere).
    pub fn is_preserved(&self, org: &str, repo: &str, branch: &str) -> bool {
        [format!("{org}/{repo}"), org.to_owned()]
            .iter()
            .filter_map(|k| self.preserved_branches.get(k))
            .flatten()
            .any(|pb| pb == branch || regex::Regex::new(pb).is_ok_and(|re| re.is_match(branch)))
    }
}

/// The dco plugin's settings for an `org/repo`, an `org` or `*` (Prow's `plugins.Dco`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DcoConfig {
    /// Commits by trusted users (org members, see trigger) need no sign-off.
    pub skip_dco_check_for_members: bool,
    /// GitHub Apps (without `[bot]`) whose commits need no sign-off.
    pub trusted_apps: Vec<String>,
    /// A second org whose members are trusted; the PR's org when empty.
    pub trusted_org: String,
    /// Collaborators are trusted too.
    pub skip_dco_check_for_collaborators: bool,
    /// Where CONTRIBUTING.md lives: `org/repo` (the PR's repo when empty), branch (`master`
    /// when empty) and path (`CONTRIBUTING.md` when empty).
    pub contributing_repo: String,
    pub contributing_branch: String,
    pub contributing_path: String,
}

impl DcoConfig {
    /// The CONTRIBUTING.md link for a PR in `org/repo` (the dco status's target).
    pub fn contributing_url(&self, org: &str, repo: &str) -> String {
        let or = |v: &str, d: String| if v.is_empty() { d } else { v.to_owned() };
        format!(
            "https://github.com/{}/blob/{}/{}",
            or(&self.contributing_repo, format!("{org}/{repo}")),
            or(&self.contributing_branch, "master".to_owned()),
            or(&self.contributing_path, "CONTRIBUTING.md".to_owned()),
        )
    }
}

/// One require-matching-label rule (Prow's `plugins.RequireMatchingLabel`): issues and/or PRs
/// of `org` (`repo`, PRs into `branch`) with no label matching `regexp` get `missing_label`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequireMatchingLabelConfig {
    pub org: String,
    /// Every repo of the org when empty.
    pub repo: String,
    /// PRs into any branch when empty.
    pub branch: String,
    pub prs: bool,
    pub issues: bool,
    pub regexp: String,
    pub missing_label: String,
    /// Said (once) when the label is added; nothing when empty.
    pub missing_comment: String,
    /// How long to wait after an issue or PR opens before looking (Go duration; Prow's
    /// default `5s`), so labels added right after creation count.
    pub grace_period: String,
}

impl RequireMatchingLabelConfig {
    /// The compiled `regexp`; `None` when it does not compile.
    pub fn regex(&self) -> Option<regex::Regex> {
        regex::Regex::new(&self.regexp).ok()
    }

    /// The grace period, Prow's 5s when unset; an unreadable one counts as none.
    pub fn grace(&self) -> std::time::Duration {
        if self.grace_period.is_empty() {
            return std::time::Duration::from_secs(5);
        }
        crate::duration::parse_go_duration(&self.grace_period).unwrap_or_default()
    }

    /// Prow's one-line description of the rule (plugin help).
    pub fn describe(&self) -> String {
        let mut s = format!("Applies the '{}' label ", self.missing_label);
        s.push_str(if self.missing_comment.is_empty() {
            "to "
        } else {
            "and comments on "
        });
        if self.issues {
            s.push_str("Issues ");
            if self.prs {
                s.push_str("and ");
            }
        }
        if self.prs {
            if !self.branch.is_empty() {
                s.push_str(&format!("'{}' branch ", self.branch));
            }
            s.push_str("PRs ");
        }
        if self.repo.is_empty() {
            s.push_str(&format!("in the '{}' GitHub org ", self.org));
        } else {
            s.push_str(&format!("in the '{}/{}' GitHub repo ", self.org, self.repo));
        }
        s.push_str(&format!(
            "that have no labels matching the regular expression '{}'.",
            self.regexp
        ));
        s
    }
}

/// The release-note plugin's settings (Prow's `plugins.ReleaseNote`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleaseNoteConfig {
    /// Where the release note process is described; empty means Prow's default
    /// ([`DEFAULT_RELEASE_NOTE_GUIDELINES`]).
    pub guidelines_url: String,
}

/// Prow's default for `release_note.guidelines_url`.
pub const DEFAULT_RELEASE_NOTE_GUIDELINES: &str =
    "https://git.k8s.io/community/contributors/guide/release-notes.md";

impl ReleaseNoteConfig {
    /// The guidelines link, Prow's default when unset.
    pub fn guidelines_url(&self) -> &str {
        if self.guidelines_url.is_empty() {
            DEFAULT_RELEASE_NOTE_GUIDELINES
        } else {
            &self.guidelines_url
        }
    }
}

/// The invalidcommitmsg plugin's settings for a set of orgs/repos (Prow's
/// `plugins.InvalidCommitMsg`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvalidCommitMsgConfig {
    pub repos: Vec<String>,
    /// Checks by name (`fixupPrefix`, `issueClosingKeywords`); unlisted ones run.
    pub checks: Vec<InvalidCommitMsgCheck>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvalidCommitMsgCheck {
    pub name: String,
    pub disabled: bool,
}

impl InvalidCommitMsgConfig {
    /// Whether the check named `name` is turned off (Prow's IsCheckDisabled).
    pub fn is_check_disabled(&self, name: &str) -> bool {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .is_some_and(|c| c.disabled)
    }
}

/// The size plugin's thresholds (Prow's `plugins.Size`): the least changed lines of each
/// label; 0 means Prow's default (10, 30, 100, 500, 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SizeConfig {
    pub s: u64,
    pub m: u64,
    pub l: u64,
    pub xl: u64,
    pub xxl: u64,
}

impl SizeConfig {
    /// The thresholds with Prow's defaults for those left at 0.
    pub fn or_defaults(&self) -> SizeConfig {
        let or = |v: u64, d: u64| if v == 0 { d } else { v };
        SizeConfig {
            s: or(self.s, 10),
            m: or(self.m, 30),
            l: or(self.l, 100),
            xl: or(self.xl, 500),
            xxl: or(self.xxl, 1000),
        }
    }
}

/// How OWNERS files are read (Prow's `plugins.Owners`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OwnersConfig {
    pub mdyamlrepos: Vec<String>,
    /// Repos (`org/repo` or `org`) whose approvers and reviewers are not limited to collaborators.
    pub skip_collaborators: Vec<String>,
    pub labels_denylist: Vec<String>,
    pub filenames: Option<Value>,
}

/// config-updater's settings (Prow's `plugins.ConfigUpdater`): which files of the config repo
/// feed which ConfigMap keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigUpdater {
    /// Named groups of clusters and namespaces a map may target instead of `clusters`.
    #[serde(deserialize_with = "null_as_default")]
    pub cluster_groups: BTreeMap<String, ClusterGroup>,
    /// File glob (`**` crosses directories) -> the ConfigMap it updates.
    #[serde(deserialize_with = "null_as_default")]
    pub maps: BTreeMap<String, ConfigMapSpec>,
    /// Gzip every file's content before storing it, unless its map says otherwise.
    pub gzip: bool,
}

/// Clusters and the namespaces in each that a ConfigMap goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroup {
    pub clusters: Vec<String>,
    pub namespaces: Vec<String>,
}

/// One ConfigMap config-updater writes (Prow's `plugins.ConfigMapSpec`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigMapSpec {
    pub name: String,
    /// Names to spread the keys over (by a hash of the key), instead of one `name`.
    pub partitioned_names: Vec<String>,
    /// The key to store the file under; empty means the file's base name (or its full path
    /// with `/` as `-` under `use_full_path_as_key`).
    pub key: String,
    /// Overrides the global `gzip` for this map.
    pub gzip: Option<bool>,
    /// Cluster alias -> namespaces (`""` is Prow's prowjob namespace).
    pub clusters: BTreeMap<String, Vec<String>>,
    pub cluster_groups: Vec<String>,
    pub use_full_path_as_key: bool,
    /// `org` or `org/repo` entries whose merges may update this map (empty: all).
    pub allowed_repos: Vec<String>,
    /// `org` or `org/repo` entries whose merges may not update this map.
    pub denied_repos: Vec<String>,
}

/// Prow's default cluster alias.
pub const DEFAULT_CLUSTER_ALIAS: &str = "default";

impl ConfigUpdater {
    /// The maps as Prow applies them: Prow's two defaults when none are configured, cluster
    /// groups expanded, and a map naming no cluster sent to the default cluster's prowjob
    /// namespace (Prow's SetDefaults and resolve).
    pub fn resolved_maps(&self) -> BTreeMap<String, ConfigMapSpec> {
        let mut maps = self.maps.clone();
        if maps.is_empty() {
            for (file, name) in [
                ("config/prow/config.yaml", "config"),
                ("config/prow/plugins.yaml", "plugins"),
            ] {
                maps.insert(
                    file.to_owned(),
                    ConfigMapSpec {
                        name: name.to_owned(),
                        ..ConfigMapSpec::default()
                    },
                );
            }
        }
        for spec in maps.values_mut() {
            if spec.clusters.is_empty() {
                for group in spec
                    .cluster_groups
                    .iter()
                    .filter_map(|g| self.cluster_groups.get(g))
                {
                    for cluster in &group.clusters {
                        spec.clusters
                            .entry(cluster.clone())
                            .or_default()
                            .extend(group.namespaces.iter().cloned());
                    }
                }
            }
            if spec.clusters.is_empty() && spec.cluster_groups.is_empty() {
                spec.clusters
                    .insert(DEFAULT_CLUSTER_ALIAS.to_owned(), vec![String::new()]);
            }
        }
        maps
    }
}

impl ConfigMapSpec {
    /// Whether merges into `org/repo` may update this ConfigMap: a denied org or repo never
    /// may; with an allow list, only the listed ones may (Prow's IsAllowed).
    pub fn is_allowed(&self, org: &str, repo: &str) -> bool {
        let full = format!("{org}/{repo}");
        let names = |list: &[String]| list.iter().any(|e| *e == full || e == org);
        !names(&self.denied_repos) && (self.allowed_repos.is_empty() || names(&self.allowed_repos))
    }
}

/// Prow's `<plugin>For`: the entry naming `org/repo`, else the one naming `org`.
fn entry_for<'a, T>(
    entries: &'a [T],
    repos: impl Fn(&T) -> &[String],
    org: &str,
    repo: &str,
) -> Option<&'a T> {
    let full = format!("{org}/{repo}");
    entries
        .iter()
        .find(|e| repos(e).contains(&full))
        .or_else(|| entries.iter().find(|e| repos(e).iter().any(|r| r == org)))
}

impl PluginsConfig {
    /// The lgtm settings for `org/repo` (Prow's LgtmFor).
    pub fn lgtm_for(&self, org: &str, repo: &str) -> LgtmConfig {
        entry_for(&self.lgtm, |e| &e.repos, org, repo)
            .cloned()
            .unwrap_or_default()
    }

    /// The welcome settings for `org/repo`: the first entry naming the repo, else the first
    /// naming its org, else none (Prow's optionsForRepo).
    pub fn welcome_for(&self, org: &str, repo: &str) -> WelcomeConfig {
        let full = format!("{org}/{repo}");
        let named = |name: &str| {
            self.welcome
                .iter()
                .find(|w| w.repos.iter().any(|r| r == name))
        };
        named(&full)
            .or_else(|| named(org))
            .cloned()
            .unwrap_or_default()
    }

    /// The dco settings for `org/repo`: its own, its org's, `*`'s, or none (Prow's DcoFor).
    pub fn dco_for(&self, org: &str, repo: &str) -> DcoConfig {
        [format!("{org}/{repo}"), org.to_owned(), "*".to_owned()]
            .iter()
            .find_map(|k| self.dco.get(k))
            .cloned()
            .unwrap_or_default()
    }

    /// The invalidcommitmsg settings for `org/repo` (Prow's InvalidCommitMsgFor).
    pub fn invalid_commit_msg_for(&self, org: &str, repo: &str) -> InvalidCommitMsgConfig {
        entry_for(&self.invalid_commit_msg, |e| &e.repos, org, repo)
            .cloned()
            .unwrap_or_default()
    }

    /// The approve settings for `org/repo` (Prow's ApproveFor), the help link defaulted.
    pub fn approve_for(&self, org: &str, repo: &str) -> ApproveConfig {
        let mut a = entry_for(&self.approve, |e| &e.repos, org, repo)
            .cloned()
            .unwrap_or_default();
        if a.command_help_link.is_empty() {
            a.command_help_link = DEFAULT_COMMAND_HELP_LINK.to_owned();
        }
        a
    }

    /// Whether `org/repo` skips the collaborator checks of OWNERS-based plugins.
    pub fn skip_collaborators(&self, org: &str, repo: &str) -> bool {
        let full = format!("{org}/{repo}");
        self.owners
            .skip_collaborators
            .iter()
            .any(|r| r == org || *r == full)
    }

    /// The org entry's plugins for `repo`: none when the entry excludes it (Prow's getPlugins).
    fn org_plugins(&self, org: &str, repo: &str) -> &[String] {
        match self.plugins.get(org) {
            Some(entry) if !entry.excluded_repos().iter().any(|r| r == repo) => entry.plugins(),
            _ => &[],
        }
    }

    fn repo_plugins(&self, org: &str, repo: &str) -> &[String] {
        self.plugins
            .get(&format!("{org}/{repo}"))
            .map_or(&[], OrgPlugins::plugins)
    }

    /// Plugins enabled for `org/repo`, sorted: the org entry's unless it excludes the repo, plus
    /// the repo entry's (Prow's getPlugins; names and keys compare case-sensitively, as there).
    pub fn plugins_for(&self, org: &str, repo: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .org_plugins(org, repo)
            .iter()
            .chain(self.repo_plugins(org, repo))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether `plugin` is enabled for `org/repo`: Prow dispatches a repo's events only to the
    /// plugins enabled for it.
    pub fn is_enabled(&self, org: &str, repo: &str, plugin: &str) -> bool {
        self.org_plugins(org, repo)
            .iter()
            .chain(self.repo_plugins(org, repo))
            .any(|p| p == plugin)
    }

    /// What Prow's plugin config validation says about the `plugins` map, as (path, severity,
    /// message): both entry forms in one map (Prow then fails to read the map at all), a plugin
    /// enabled at both the org and the repo level (Prow's validatePluginsDupes), and an
    /// `excluded_repos` entry that can never match.
    pub(crate) fn check(&self) -> Vec<(Vec<Seg>, Severity, String)> {
        let mut out = Vec::new();
        let at = |key: &str| vec![Seg::from("plugins"), Seg::Key(key.to_string())];
        let detailed = self
            .plugins
            .values()
            .any(|e| matches!(e, OrgPlugins::Detailed { .. }));
        for (key, entry) in &self.plugins {
            if detailed && matches!(entry, OrgPlugins::List(_)) {
                out.push((
                    at(key),
                    Severity::Error,
                    "a plain list among {plugins: [...]} entries: Prow reads the whole map in \
                     one form or the other and fails to load this plugins.yaml"
                        .to_string(),
                ));
            }
            for (i, excluded) in entry.excluded_repos().iter().enumerate() {
                if excluded.contains('/') {
                    let mut path = at(key);
                    path.extend([Seg::from("excluded_repos"), Seg::Index(i)]);
                    out.push((
                        path,
                        Severity::Warning,
                        format!(
                            "{excluded:?} never matches: excluded_repos holds bare repo names \
                             of the org"
                        ),
                    ));
                }
            }
            if let Some((org, repo)) = key.split_once('/') {
                let repo = repo.split('/').next().unwrap_or(repo);
                let dupes: Vec<&str> = entry
                    .plugins()
                    .iter()
                    .filter(|p| self.org_plugins(org, repo).contains(p))
                    .map(String::as_str)
                    .collect();
                if !dupes.is_empty() {
                    out.push((
                        at(key),
                        Severity::Error,
                        format!(
                            "plugins [{}] are duplicated for {repo} and {org}",
                            dupes.join(" ")
                        ),
                    ));
                }
            }
        }
        out
    }

    /// The trigger settings for `org/repo`: a repo entry wins over an org entry (Prow's TriggerFor).
    pub fn trigger_for(&self, org: &str, repo: &str) -> TriggerConfig {
        let full = format!("{org}/{repo}");
        self.triggers
            .iter()
            .find(|t| t.repos.contains(&full))
            .or_else(|| {
                self.triggers
                    .iter()
                    .find(|t| t.repos.iter().any(|r| r == org))
            })
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn override_and_milestone_settings_are_typed_per_repo_with_prows_fallbacks() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "override:\n  allow_top_level_owners: true\n  allowed_github_teams:\n    acme: [admins]\n    acme/foo: [release]\n\
             repo_milestone:\n  '': {maintainers_team: leads}\n  acme/foo: {maintainers_team: milestone-maintainers, maintainers_friendly_name: SIG Chairs}\n\
             milestone_applier:\n  acme/foo: {release-1.2: v1.2}\n",
        )
        .unwrap();
        assert!(cfg.override_.allow_top_level_owners);
        assert_eq!(
            cfg.override_.teams_for("acme", "foo"),
            ["release", "admins"]
        );
        assert_eq!(cfg.override_.teams_for("acme", "bar"), ["admins"]);
        assert_eq!(
            cfg.repo_milestone("acme", "foo").maintainers_team,
            "milestone-maintainers"
        );
        assert_eq!(cfg.repo_milestone("acme", "bar").maintainers_team, "leads");
        assert_eq!(
            cfg.repo_milestone("acme", "bar").maintainers_friendly_name,
            ""
        );
        assert_eq!(
            cfg.applied_milestone("acme", "foo", "release-1.2"),
            Some("v1.2")
        );
        assert_eq!(cfg.applied_milestone("acme", "foo", "main"), None);
    }

    #[test]
    fn restricted_labels_merge_global_org_and_repo_entries_as_prow() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "label:\n  additional_labels: [api-review]\n  restricted_labels:\n    '*':\n    - label: Restricted\n      allowed_users: [bob]\n      assign_on: [{label: ready}]\n    acme:\n    - label: restricted\n      allowed_users: [alice]\n      allowed_teams: [leads]\n    acme/foo:\n    - label: other\n      allowed_teams: [infra]\nretitle: {allow_closed_issues: true}\nhelp: ~\n",
        )
        .expect("parses");
        let foo = cfg.label.restricted_labels_for("acme", "foo");
        assert_eq!(foo.keys().collect::<Vec<_>>(), ["other", "restricted"]);
        let r = &foo["restricted"];
        assert_eq!(r.allowed_users, ["alice", "bob"]);
        assert_eq!(r.allowed_teams, ["leads"]);
        assert_eq!(
            r.assign_on,
            [AssignOnLabel {
                label: "ready".into()
            }]
        );
        let bar = cfg.label.restricted_labels_for("other", "bar");
        assert_eq!(bar.keys().collect::<Vec<_>>(), ["restricted"]);
        assert_eq!(bar["restricted"].allowed_users, ["bob"]);
        assert!(cfg.retitle.allow_closed_issues);
        assert_eq!(cfg.help.guidelines_url(), DEFAULT_HELP_GUIDELINES_URL);
    }

    #[test]
    fn plugins_and_triggers_resolve_per_repo() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "plugins:\n  acme:\n    plugins: [trigger, lgtm]\n    excluded_repos: [secret]\n  acme/foo: [hold]\n\
             triggers:\n- repos: [acme]\n  trusted_org: acme-friends\n- repos: [acme/foo]\n  only_org_members: true\n",
        )
        .expect("parses");
        assert_eq!(
            cfg.plugins_for("acme", "foo"),
            vec!["hold", "lgtm", "trigger"]
        );
        assert!(cfg.plugins_for("acme", "secret").is_empty());
        assert!(cfg.trigger_for("acme", "foo").only_org_members);
        assert_eq!(cfg.trigger_for("acme", "bar").trusted_org, "acme-friends");
        assert_eq!(cfg.trigger_for("other", "x"), TriggerConfig::default());
    }

    #[test]
    fn review_plugin_settings_resolve_per_repo_as_prow() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "lgtm:\n- repos: [acme]\n  review_acts_as_lgtm: true\n- repos: [acme/foo]\n  store_tree_hash: true\n  trusted_team_for_sticky_lgtm: bots\n\
             approve:\n- repos: [acme/foo]\n  require_self_approval: true\n  commandHelpLink: https://x\n- repos: [acme]\n  lgtm_acts_as_approve: true\n\
             owners: {skip_collaborators: [acme/foo]}\nblunderbuss: ~\n",
        )
        .expect("parses");
        let foo = cfg.lgtm_for("acme", "foo");
        assert!(foo.store_tree_hash && !foo.review_acts_as_lgtm);
        assert_eq!(foo.sticky_lgtm_team, "bots");
        assert!(cfg.lgtm_for("acme", "bar").review_acts_as_lgtm);
        assert_eq!(cfg.lgtm_for("other", "x"), LgtmConfig::default());
        let a = cfg.approve_for("acme", "foo");
        assert!(a.require_self_approval() && a.ignore_review_state());
        assert_eq!(a.command_help_link, "https://x");
        let bar = cfg.approve_for("acme", "bar");
        assert!(bar.lgtm_acts_as_approve && !bar.require_self_approval());
        assert_eq!(bar.command_help_link, DEFAULT_COMMAND_HELP_LINK);
        assert!(cfg.skip_collaborators("acme", "foo"));
        assert!(!cfg.skip_collaborators("acme", "bar"));
        assert_eq!(cfg.blunderbuss, BlunderbussConfig::default());
    }

    fn plugins(yaml: &str) -> PluginsConfig {
        serde_norway::from_str(yaml).expect("parses")
    }

    /// Prow's getPlugins: the org's plugins unless its entry excludes the repo (by bare name),
    /// plus the repo's own.
    #[test]
    fn enablement_follows_prows_get_plugins() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("plugins: {acme: [trigger]}", "acme", "foo", true),
            ("plugins: {acme: {plugins: [trigger]}}", "acme", "foo", true),
            ("plugins: {acme/foo: [trigger]}", "acme", "foo", true),
            ("plugins: {acme/foo: [trigger]}", "acme", "bar", false),
            ("plugins: {acme: [lgtm]}", "acme", "foo", false),
            ("plugins: {other: [trigger]}", "acme", "foo", false),
            ("triggers: [{repos: [acme]}]", "acme", "foo", false),
            (
                "plugins: {acme: {plugins: [trigger], excluded_repos: [foo]}}",
                "acme",
                "foo",
                false,
            ),
            (
                "plugins: {acme: {plugins: [trigger], excluded_repos: [foo]}}",
                "acme",
                "bar",
                true,
            ),
            // Prow compares bare names: `acme/foo` excludes nothing.
            (
                "plugins: {acme: {plugins: [trigger], excluded_repos: [acme/foo]}}",
                "acme",
                "foo",
                true,
            ),
            // The repo's own entry still applies to an excluded repo.
            (
                "plugins: {acme: {plugins: [trigger], excluded_repos: [foo]}, acme/foo: {plugins: [trigger]}}",
                "acme",
                "foo",
                true,
            ),
            // excluded_repos means nothing in a repo entry.
            (
                "plugins: {acme/foo: {plugins: [trigger], excluded_repos: [foo]}}",
                "acme",
                "foo",
                true,
            ),
            // Keys compare case-sensitively, as Go map lookups do.
            ("plugins: {Acme: [trigger]}", "acme", "foo", false),
            ("plugins: {acme: ~}", "acme", "foo", false),
        ];
        for (yaml, org, repo, enabled) in cases {
            let cfg = plugins(yaml);
            assert_eq!(
                cfg.is_enabled(org, repo, "trigger"),
                *enabled,
                "{yaml} for {org}/{repo}"
            );
            assert_eq!(
                cfg.plugins_for(org, repo).contains(&"trigger".to_string()),
                *enabled,
                "{yaml} for {org}/{repo}"
            );
        }
    }

    #[test]
    fn prows_plugin_map_checks() {
        let messages = |yaml: &str| -> Vec<(String, Severity, String)> {
            plugins(yaml)
                .check()
                .into_iter()
                .map(|(path, severity, message)| {
                    (
                        super::super::diagnostic::field_name(&path),
                        severity,
                        message,
                    )
                })
                .collect()
        };
        assert!(messages("plugins: {acme: [lgtm], acme/foo: [hold]}").is_empty());
        assert!(
            messages("plugins: {acme: {plugins: [lgtm]}, acme/foo: {plugins: [hold]}}").is_empty()
        );
        let mixed = messages("plugins: {acme: {plugins: [lgtm]}, acme/foo: [hold]}");
        assert_eq!(mixed.len(), 1, "{mixed:?}");
        assert_eq!(
            (mixed[0].0.as_str(), mixed[0].1),
            ("plugins.acme/foo", Severity::Error)
        );
        assert_eq!(
            messages("plugins: {acme: [lgtm, hold, size], acme/foo: [hold, size, cat]}"),
            vec![(
                "plugins.acme/foo".to_string(),
                Severity::Error,
                "plugins [hold size] are duplicated for foo and acme".to_string()
            )]
        );
        // An excluded repo may enable what its org has.
        assert!(
            messages(
                "plugins: {acme: {plugins: [lgtm], excluded_repos: [foo]}, acme/foo: {plugins: [lgtm]}}"
            )
            .is_empty()
        );
        let never = messages("plugins: {acme: {plugins: [lgtm], excluded_repos: [foo, acme/bar]}}");
        assert_eq!(
            never
                .iter()
                .map(|(p, s, _)| (p.as_str(), *s))
                .collect::<Vec<_>>(),
            vec![("plugins.acme.excluded_repos[1]", Severity::Warning)]
        );
    }

    #[test]
    fn config_updater_maps_resolve_as_prow_defaults_them() {
        let none = ConfigUpdater::default().resolved_maps();
        assert_eq!(
            none.iter()
                .map(|(f, s)| (f.as_str(), s.name.as_str(), s.clusters.clone()))
                .collect::<Vec<_>>(),
            vec![
                (
                    "config/prow/config.yaml",
                    "config",
                    BTreeMap::from([("default".to_owned(), vec![String::new()])])
                ),
                (
                    "config/prow/plugins.yaml",
                    "plugins",
                    BTreeMap::from([("default".to_owned(), vec![String::new()])])
                ),
            ]
        );
        let cfg: PluginsConfig = serde_norway::from_str(
            "config_updater:\n  gzip: true\n  cluster_groups:\n    build: {clusters: [b1, b2], namespaces: [test-pods]}\n  maps:\n    prow/jobs/**/*.yaml: {name: job-config, cluster_groups: [build]}\n    prow/config.yaml: {name: config, gzip: false, denied_repos: [evil]}\n",
        )
        .expect("parses");
        let maps = cfg.config_updater.resolved_maps();
        assert_eq!(
            maps["prow/jobs/**/*.yaml"].clusters,
            BTreeMap::from([
                ("b1".to_owned(), vec!["test-pods".to_owned()]),
                ("b2".to_owned(), vec!["test-pods".to_owned()]),
            ])
        );
        assert!(cfg.config_updater.gzip);
        assert_eq!(maps["prow/config.yaml"].gzip, Some(false));
        assert!(maps["prow/config.yaml"].is_allowed("acme", "config"));
        assert!(!maps["prow/config.yaml"].is_allowed("evil", "config"));
        let only = ConfigMapSpec {
            allowed_repos: vec!["acme/config".into(), "friends".into()],
            denied_repos: vec!["friends/bad".into()],
            ..ConfigMapSpec::default()
        };
        assert!(only.is_allowed("acme", "config"));
        assert!(!only.is_allowed("acme", "other"));
        assert!(only.is_allowed("friends", "any"));
        assert!(!only.is_allowed("friends", "bad"));
    }
}
