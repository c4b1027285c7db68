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

/// `pull_request_review` or `pull_request_review_comment`: a review's body or a comment on the
/// diff, both of which Prow's hook hands to trigger as comments on the PR
/// (`GeneralizeCommentAction`), so `/test`, `/retest` and `/ok-to-test` work there too.
#[derive(Debug, Clone, Deserialize)]
pub struct ReviewEvent {
    pub action: String,
    pub pull_request: PullRequest,
    /// The review (`pull_request_review`).
    #[serde(default)]
    pub review: Option<Comment>,
    /// The diff comment (`pull_request_review_comment`).
    #[serde(default)]
    pub comment: Option<Comment>,
    pub repository: Repo,
}

impl ReviewEvent {
    /// The event as the comment Prow makes of it: a submitted review or a created diff comment
    /// is a created comment; edits and dismissals/deletions keep their own action, which
    /// trigger ignores as it ignores edited comments.
    pub fn as_comment(&self) -> Option<IssueCommentEvent> {
        let comment = self.review.as_ref().or(self.comment.as_ref())?.clone();
        let action = match self.action.as_str() {
            "submitted" | "created" => "created",
            "dismissed" => "deleted",
            other => other,
        };
        Some(IssueCommentEvent {
            action: action.to_owned(),
            issue: Issue::of_pull_request(&self.pull_request),
            comment,
            repository: self.repository.clone(),
        })
    }
}

impl PullRequestEvent {
    /// The body of an opened PR, as the comment Prow's hook makes of it: its commands count as
    /// if the author had commented them.
    pub fn body_as_comment(&self) -> Option<IssueCommentEvent> {
        let body = self
            .pull_request
            .body
            .as_deref()
            .filter(|b| !b.trim().is_empty())?;
        (self.action == "opened").then(|| IssueCommentEvent {
            action: "created".to_owned(),
            issue: Issue::of_pull_request(&self.pull_request),
            comment: Comment {
                body: body.to_owned(),
                html_url: self.pull_request.html_url.clone(),
                user: self.pull_request.user.clone(),
            },
            repository: self.repository.clone(),
        })
    }
}

impl Issue {
    fn of_pull_request(pr: &PullRequest) -> Issue {
        Issue {
            number: pr.number,
            state: pr.state,
            user: pr.user.clone(),
            pull_request: Some(serde_json::json!({"html_url": pr.html_url})),
        }
    }
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
