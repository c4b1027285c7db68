//! The parts of GitHub's pull_request, issue_comment and push webhook payloads trigger reads.

use prow_github::{IssueState, Label, PullRequest, User};
use serde::Deserialize;

/// The repository an event is about.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Repo {
    pub name: String,
    #[serde(default)]
    pub full_name: String,
    pub owner: Owner,
    #[serde(default)]
    pub html_url: String,
}

/// A repository owner; push payloads carry `name` besides `login`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Owner {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `pull_request` event.
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub pull_request: PullRequest,
    /// The label added or removed (`labeled`/`unlabeled`).
    #[serde(default)]
    pub label: Option<Label>,
    /// What an `edited` changed, e.g. `{"base": {"ref": {"from": "main"}}}`.
    #[serde(default)]
    pub changes: Option<serde_json::Value>,
    #[serde(default)]
    pub sender: User,
    pub repository: Repo,
}

impl PullRequestEvent {
    /// Whether an `edited` event moved the PR to another base (ref or sha).
    pub fn base_changed(&self) -> bool {
        let Some(base) = self.changes.as_ref().and_then(|c| c.get("base")) else {
            return false;
        };
        ["ref", "sha"].iter().any(|k| {
            base.get(k)
                .and_then(|v| v.get("from"))
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty())
        })
    }
}

/// `issue_comment` event.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueCommentEvent {
    pub action: String,
    pub issue: Issue,
    pub comment: Comment,
    pub repository: Repo,
}

/// The issue (or PR) a comment is on.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub state: IssueState,
    pub user: User,
    /// Present when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

/// A comment.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub html_url: String,
    pub user: User,
}

/// `push` event.
#[derive(Debug, Clone, Deserialize)]
pub struct PushEvent {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub after: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub compare: String,
    #[serde(default)]
    pub commits: Vec<Commit>,
    pub repository: Repo,
}

/// One pushed commit's file lists.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Commit {
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
    #[serde(default)]
    pub modified: Vec<String>,
}

impl PushEvent {
    /// The union of added, removed and modified paths over all commits, sorted.
    pub fn changed_files(&self) -> Vec<String> {
        let files: std::collections::BTreeSet<&String> = self
            .commits
            .iter()
            .flat_map(|c| c.added.iter().chain(&c.removed).chain(&c.modified))
            .collect();
        files.into_iter().cloned().collect()
    }
}
