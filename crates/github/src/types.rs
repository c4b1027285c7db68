//! Plain GitHub domain types: what Prow reads from and writes to GitHub, independent of octocrab.
//!
//! They deserialize from GitHub's REST shapes (and from the same objects inside webhook
//! payloads), ignoring fields Prow does not use.

use serde::{Deserialize, Serialize};

/// A GitHub account (user, bot or organization) as it appears nested in other objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct User {
    pub login: String,
    #[serde(default)]
    pub id: u64,
    /// `User`, `Bot` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// A label on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Label {
    pub name: String,
    #[serde(default)]
    pub color: String,
}

/// Whether an issue or pull request is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    #[default]
    Open,
    Closed,
}

/// The repository a pull request branch lives in (a fork for head, the target for base).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Repository {
    pub name: String,
    pub full_name: String,
    pub owner: User,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub clone_url: String,
    #[serde(default)]
    pub default_branch: String,
    #[serde(default)]
    pub private: bool,
}

/// One side (head or base) of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequestBranch {
    /// Branch name, e.g. `main` (GitHub's `ref`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    /// Null when the fork behind a head branch was deleted.
    #[serde(default)]
    pub repo: Option<Repository>,
}

/// The pull request fields trigger, crier and the plugins decide on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequest {
    pub number: u64,
    pub state: IssueState,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub merged: bool,
    /// `None` while GitHub is still computing mergeability.
    #[serde(default)]
    pub mergeable: Option<bool>,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub user: User,
    pub head: PullRequestBranch,
    pub base: PullRequestBranch,
    pub html_url: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    /// GitHub's merge verdict: `clean`, `dirty` (conflicts), `blocked`, `behind`,
    /// `unstable`, `has_hooks`, `draft` or `unknown` (still computing); empty when absent
    /// (webhook payloads and lists leave it out).
    #[serde(default, deserialize_with = "null_as_default")]
    pub mergeable_state: String,
    #[serde(default)]
    pub milestone: Option<Milestone>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "null_as_default")]
    pub created_at: String,
    /// RFC 3339.
    #[serde(default, deserialize_with = "null_as_default")]
    pub updated_at: String,
}

impl PullRequest {
    /// The milestone's title, when the pull request has one.
    pub fn milestone_title(&self) -> Option<&str> {
        self.milestone.as_ref().map(|m| m.title.as_str())
    }
}

/// One file of a pull request's diff (`GET /repos/{o}/{r}/pulls/{n}/files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequestChange {
    pub filename: String,
    /// Set for renames: the path before the change.
    #[serde(default)]
    pub previous_filename: Option<String>,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or `unchanged`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub additions: u64,
    #[serde(default)]
    pub deletions: u64,
    #[serde(default)]
    pub changes: u64,
    /// The file's unified diff; GitHub leaves it out of binary and very large diffs.
    #[serde(default)]
    pub patch: Option<String>,
}

/// The paths a pull request touches, as Prow's `run_if_changed`/`skip_if_only_changed` see
/// them: each file's current name only. Prow (`NewGitHubDeferredChangedFilesProvider`) ignores
/// `previous_filename`, so moving a file out of a directory does not count as a change there;
/// callers wanting both names have them in [`PullRequestChange`].
pub fn changed_filenames(changes: &[PullRequestChange]) -> Vec<String> {
    changes.iter().map(|c| c.filename.clone()).collect()
}

/// State of a commit status context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    Pending,
    Success,
    Failure,
    Error,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
        }
    }
}

/// One context of a commit's combined status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub context: String,
    pub state: StatusState,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

/// GitHub refuses status descriptions longer than this many characters.
pub const MAX_STATUS_DESCRIPTION_CHARS: usize = 140;

/// A status to set on a commit (`POST /repos/{o}/{r}/statuses/{sha}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStatus {
    pub state: StatusState,
    pub context: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

impl NewStatus {
    pub fn new(context: impl Into<String>, state: StatusState) -> Self {
        NewStatus {
            state,
            context: context.into(),
            description: None,
            target_url: None,
        }
    }

    /// Sets the description, shortened to what GitHub accepts.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(truncate_description(&description.into()));
        self
    }

    pub fn target_url(mut self, url: impl Into<String>) -> Self {
        self.target_url = Some(url.into());
        self
    }
}

/// Shortens a status description to GitHub's limit, marking the cut with `...` like Prow's crier.
pub fn truncate_description(description: &str) -> String {
    if description.chars().count() <= MAX_STATUS_DESCRIPTION_CHARS {
        return description.to_owned();
    }
    let mut cut: String = description
        .chars()
        .take(MAX_STATUS_DESCRIPTION_CHARS - 3)
        .collect();
    cut.push_str("...");
    cut
}

/// A comment on an issue or pull request conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IssueComment {
    pub id: u64,
    pub user: User,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

/// GitHub sends `null` for some strings (a review's body, an issue's body); read it as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Lower-cases a login and drops a leading `@`, as Prow's `github.NormLogin` does, so
/// `@Alice` and `alice` compare equal.
pub fn normalize_login(login: &str) -> String {
    login.trim_start_matches('@').to_lowercase()
}

/// One entry of a git tree (`GET /repos/{o}/{r}/git/trees/{sha}?recursive=1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TreeEntry {
    /// Path from the repository root, `/`-separated.
    pub path: String,
    /// `blob` (file), `tree` (directory) or `commit` (submodule).
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
    /// Git file mode, e.g. `100644`, `040000`.
    #[serde(default)]
    pub mode: String,
    /// Size in bytes, for blobs.
    #[serde(default)]
    pub size: Option<u64>,
}

impl TreeEntry {
    /// True for files (not directories or submodules).
    pub fn is_blob(&self) -> bool {
        self.kind == "blob"
    }
}

/// A whole git tree as GitHub lists it recursively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GitTree {
    pub sha: String,
    #[serde(rename = "tree")]
    pub entries: Vec<TreeEntry>,
    /// GitHub stops listing past 100,000 entries or 7 MB and sets this: `entries` is then
    /// only part of the tree, and callers must not take a missing path as absent.
    #[serde(default)]
    pub truncated: bool,
}

/// What a pull request review says. The REST API spells it `APPROVED`, webhooks
/// `approved`; both read the same (Prow upper-cases webhook states before comparing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
}

impl<'de> Deserialize<'de> for ReviewState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let state = String::deserialize(deserializer)?;
        match state.to_ascii_uppercase().as_str() {
            "APPROVED" => Ok(ReviewState::Approved),
            "CHANGES_REQUESTED" => Ok(ReviewState::ChangesRequested),
            "COMMENTED" => Ok(ReviewState::Commented),
            "DISMISSED" => Ok(ReviewState::Dismissed),
            "PENDING" => Ok(ReviewState::Pending),
            _ => Err(serde::de::Error::unknown_variant(
                &state,
                &[
                    "APPROVED",
                    "CHANGES_REQUESTED",
                    "COMMENTED",
                    "DISMISSED",
                    "PENDING",
                ],
            )),
        }
    }
}

/// A pull request review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    /// A deleted account's reviews come back with no user; they read as an empty login.
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: User,
    pub state: ReviewState,
    #[serde(default, deserialize_with = "null_as_default")]
    pub body: String,
    /// RFC 3339; absent for a pending review.
    #[serde(default)]
    pub submitted_at: Option<String>,
    /// The head commit the review was made on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub commit_id: String,
    #[serde(default)]
    pub html_url: String,
}

/// Present on issues that are pull requests (`pull_request` of an issue object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IssuePullRequestLinks {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub html_url: String,
}

/// An issue or pull request as the issues API (and `issue_comment` payloads) show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub body: String,
    pub user: User,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub state: IssueState,
    #[serde(default)]
    pub html_url: String,
    /// Set when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<IssuePullRequestLinks>,
    #[serde(default)]
    pub milestone: Option<Milestone>,
}

impl Issue {
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }

    /// Whether `login` is assigned, compared as Prow does ([`normalize_login`]).
    pub fn is_assignee(&self, login: &str) -> bool {
        let login = normalize_login(login);
        self.assignees
            .iter()
            .any(|a| normalize_login(&a.login) == login)
    }
}

/// A repository milestone (`GET /repos/{o}/{r}/milestones`, or nested in an issue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Milestone {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub state: IssueState,
}

/// Changes to an issue or pull request (`PATCH /repos/{o}/{r}/issues/{n}`); `None` fields
/// are left out of the request and so stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IssueEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<IssueState>,
    /// With `state: closed`: `completed` or `not_planned` (Prow's /close and
    /// /close not-planned); with `open`: `reopened`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub milestone: Option<MilestoneEdit>,
}

impl IssueEdit {
    pub fn title(title: impl Into<String>) -> Self {
        IssueEdit {
            title: Some(title.into()),
            ..IssueEdit::default()
        }
    }

    /// Closes as completed, as Prow's `CloseIssue`.
    pub fn close() -> Self {
        IssueEdit {
            state: Some(IssueState::Closed),
            state_reason: Some("completed".to_owned()),
            ..IssueEdit::default()
        }
    }

    pub fn reopen() -> Self {
        IssueEdit {
            state: Some(IssueState::Open),
            ..IssueEdit::default()
        }
    }

    /// Sets milestone `number`, or clears the milestone with `None`.
    pub fn milestone(number: Option<u64>) -> Self {
        IssueEdit {
            milestone: Some(number.map_or(MilestoneEdit::Clear, MilestoneEdit::Set)),
            ..IssueEdit::default()
        }
    }
}

/// What an [`IssueEdit`] does to the milestone: set one (by number) or clear it (sent as
/// `null`, which is how GitHub clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MilestoneEdit {
    Set(u64),
    Clear,
}

/// Reads a present field (even `null`) as `Some`, so `{"milestone": null}` round-trips.
fn present_or_null<'de, D>(deserializer: D) -> Result<Option<MilestoneEdit>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    MilestoneEdit::deserialize(deserializer).map(Some)
}

/// Which pull requests a list asks for, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StateFilter {
    /// GitHub's default.
    #[default]
    Open,
    Closed,
    All,
}

impl StateFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        }
    }
}

/// Filters of `GET /repos/{o}/{r}/pulls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequestQuery {
    pub state: StateFilter,
    /// Only pull requests into this branch.
    #[serde(default)]
    pub base: Option<String>,
}

impl PullRequestQuery {
    /// Every open pull request.
    pub fn open() -> Self {
        PullRequestQuery::default()
    }

    /// Open pull requests into `base`.
    pub fn open_into(base: impl Into<String>) -> Self {
        PullRequestQuery {
            state: StateFilter::Open,
            base: Some(base.into()),
        }
    }
}

/// A pull request to open (`POST /repos/{o}/{r}/pulls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewPullRequest {
    pub title: String,
    /// The branch with the changes; `user:branch` for a fork.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub maintainer_can_modify: bool,
    #[serde(default)]
    pub draft: bool,
}

/// One hit of `GET /search/issues`: an issue or a pull request of any repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IssueSearchItem {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    /// `https://api.github.com/repos/{org}/{repo}`; see [`IssueSearchItem::repository`].
    #[serde(default)]
    pub repository_url: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: User,
    #[serde(default)]
    pub state: IssueState,
    #[serde(default)]
    pub html_url: String,
    /// RFC 3339.
    #[serde(default, deserialize_with = "null_as_default")]
    pub updated_at: String,
    /// Set when the hit is a pull request.
    #[serde(default)]
    pub pull_request: Option<IssuePullRequestLinks>,
}

impl IssueSearchItem {
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }

    /// `org/repo`, the last two segments of `repository_url` (its host differs on GitHub
    /// Enterprise, so only the tail is read).
    pub fn repository(&self) -> Option<String> {
        let mut parts = self.repository_url.trim_end_matches('/').rsplit('/');
        let repo = parts.next().filter(|s| !s.is_empty())?;
        let org = parts.next().filter(|s| !s.is_empty())?;
        Some(format!("{org}/{repo}"))
    }

    pub fn has_label(&self, name: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(name))
    }
}

/// One repository of an org as its listing shows it (`GET /orgs/{org}/repos`): enough for
/// branchprotector to skip archived repositories and private security forks as Prow does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OrgRepo {
    pub name: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub private: bool,
}

/// One branch of a repository (`GET /repos/{o}/{r}/branches`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Branch {
    pub name: String,
    /// Whether GitHub reports the branch as protected.
    #[serde(default)]
    pub protected: bool,
}

/// A check run on a commit (`GET /repos/{o}/{r}/commits/{ref}/check-runs`); tide counts
/// them as status contexts named `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckRun {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested` or `pending`.
    pub status: String,
    /// Set once `completed`: `success`, `failure`, `neutral`, `cancelled`, `skipped`,
    /// `timed_out`, `action_required` or `stale`.
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub head_sha: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub details_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub html_url: String,
}

/// One entry of an issue's timeline of events (`GET /repos/{o}/{r}/issues/{n}/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IssueEvent {
    #[serde(default)]
    pub id: u64,
    /// `labeled`, `unlabeled`, `closed`, `reopened`, `milestoned`, `renamed`, ...
    pub event: String,
    /// Who caused it; a deleted account reads as an empty login.
    #[serde(default, deserialize_with = "null_as_default")]
    pub actor: User,
    /// For `labeled`/`unlabeled`: the label (name and color).
    #[serde(default)]
    pub label: Option<Label>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
}

impl IssueEvent {
    /// The label name of a `labeled`/`unlabeled` event.
    pub fn label_name(&self) -> Option<&str> {
        self.label.as_ref().map(|l| l.name.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_edit_sends_only_what_it_changes_and_clears_a_milestone_with_null() {
        let cases = [
            (IssueEdit::default(), serde_json::json!({})),
            (IssueEdit::title("x"), serde_json::json!({"title": "x"})),
            (
                IssueEdit::milestone(Some(4)),
                serde_json::json!({"milestone": 4}),
            ),
            (
                IssueEdit::milestone(None),
                serde_json::json!({"milestone": null}),
            ),
        ];
        for (edit, want) in cases {
            let sent = serde_json::to_value(&edit).unwrap();
            assert_eq!(sent, want);
            let back: IssueEdit = serde_json::from_value(sent).unwrap();
            assert_eq!(back, edit);
        }
    }

    #[test]
    fn a_search_hit_names_its_repository_from_the_repository_url() {
        let cases = [
            ("https://api.github.com/repos/acme/foo", Some("acme/foo")),
            ("https://ghe.corp/api/v3/repos/acme/foo/", Some("acme/foo")),
            ("", None),
            ("foo", None),
        ];
        for (url, want) in cases {
            let item = IssueSearchItem {
                repository_url: url.to_owned(),
                ..IssueSearchItem::default()
            };
            assert_eq!(item.repository().as_deref(), want, "{url}");
        }
    }

    #[test]
    fn changed_filenames_are_current_names_only_as_in_prow() {
        type Case<'a> = (&'a [(&'a str, Option<&'a str>)], &'a [&'a str]);
        let cases: &[Case<'_>] = &[
            (&[], &[]),
            (&[("a.go", None)], &["a.go"]),
            (&[("new/a.go", Some("old/a.go"))], &["new/a.go"]),
            (&[("x", None), ("y/z", Some("w/z"))], &["x", "y/z"]),
        ];
        for (input, want) in cases {
            let changes: Vec<PullRequestChange> = input
                .iter()
                .map(|(f, p)| PullRequestChange {
                    filename: (*f).to_owned(),
                    previous_filename: p.map(str::to_owned),
                    ..Default::default()
                })
                .collect();
            assert_eq!(changed_filenames(&changes), *want, "input {input:?}");
        }
    }

    #[test]
    fn descriptions_longer_than_github_allows_are_cut_with_an_ellipsis() {
        let exact = "x".repeat(140);
        let long = "é".repeat(200);
        let cases = [
            ("", "".to_owned()),
            ("Job succeeded.", "Job succeeded.".to_owned()),
            (exact.as_str(), exact.clone()),
            (long.as_str(), format!("{}...", "é".repeat(137))),
        ];
        for (input, want) in cases {
            let got = truncate_description(input);
            assert_eq!(got, want);
            assert!(got.chars().count() <= MAX_STATUS_DESCRIPTION_CHARS);
        }
    }

    #[test]
    fn a_webhook_pull_request_object_parses() {
        let payload: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/pull_request.opened.json"))
                .unwrap();
        let pr: PullRequest = serde_json::from_value(payload["pull_request"].clone()).unwrap();
        assert!(pr.number > 0);
        assert!(!pr.head.sha.is_empty());
        assert!(!pr.base.git_ref.is_empty());
        assert!(!pr.user.login.is_empty());
    }
}
