//! The GitHub events plugins see, reduced to what they read: which issue or PR, who, and the
//! comment-like text Prow's hook hands to generic comment handlers (issue comments, PR bodies on
//! `opened`/`edited`, review bodies on `submitted`).

use prow_core::commands::CommandText;
use serde::Deserialize;

/// A GitHub account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct User {
    #[serde(default)]
    pub login: String,
    /// `User` or `Bot`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Label {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Repository {
    pub name: String,
    pub owner: User,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: String,
    /// Present when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub user: User,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Branch {
    #[serde(default, rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub sha: String,
    /// The repository the branch is in (a fork's for a head from a fork; absent when the
    /// fork was deleted).
    #[serde(default)]
    pub repo: Option<BranchRepo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BranchRepo {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub default_branch: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Milestone {
    #[serde(default)]
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub head: Branch,
    #[serde(default)]
    pub base: Branch,
    #[serde(default)]
    pub milestone: Option<Milestone>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Review {
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: String,
}

/// `issue_comment`, `issues`, `pull_request` and `pull_request_review` payloads share these keys.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payload {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub issue: Option<Issue>,
    #[serde(default)]
    pub comment: Option<Comment>,
    #[serde(default)]
    pub pull_request: Option<PullRequest>,
    #[serde(default)]
    pub review: Option<Review>,
    #[serde(default)]
    pub label: Option<Label>,
    /// Who caused the event (for `labeled`, who added the label).
    #[serde(default)]
    pub sender: User,
    pub repository: Repository,
}

/// The GitHub events plugins subscribe to (webhook names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    IssueComment,
    Issues,
    PullRequest,
    PullRequestReview,
}

impl Kind {
    /// The kind of a webhook event name, if plugins handle it.
    pub fn from_event_name(name: &str) -> Option<Self> {
        Some(match name {
            "issue_comment" => Kind::IssueComment,
            "issues" => Kind::Issues,
            "pull_request" => Kind::PullRequest,
            "pull_request_review" => Kind::PullRequestReview,
            _ => return None,
        })
    }

    pub fn event_name(self) -> &'static str {
        match self {
            Kind::IssueComment => "issue_comment",
            Kind::Issues => "issues",
            Kind::PullRequest => "pull_request",
            Kind::PullRequestReview => "pull_request_review",
        }
    }
}

/// What happened to a comment-like text (Prow's GenericCommentEventAction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction {
    Created,
    Edited,
    Deleted,
}

impl CommentAction {
    /// Prow's GeneralizeCommentAction: `None` for actions that say nothing about the text.
    pub fn of(action: &str) -> Option<Self> {
        match action {
            "created" | "opened" | "submitted" => Some(CommentAction::Created),
            "edited" => Some(CommentAction::Edited),
            "deleted" | "dismissed" => Some(CommentAction::Deleted),
            _ => None,
        }
    }
}

/// Comment-like text and its author (Prow's GenericCommentEvent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericComment {
    pub action: CommentAction,
    /// The text as written (quoted back in replies).
    pub body: String,
    /// The commands in it (code blocks and quotes removed).
    pub text: CommandText,
    pub html_url: String,
    pub user: User,
}

/// One GitHub event as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub action: String,
    pub org: String,
    pub repo: String,
    pub number: u64,
    pub is_pr: bool,
    /// The issue's or PR's state (`open`, `closed`).
    pub state: String,
    pub title: String,
    /// The issue's or PR's description (empty when it has none).
    pub body: String,
    /// The issue's or PR's page.
    pub html_url: String,
    pub author: User,
    pub assignees: Vec<String>,
    /// Labels as the payload lists them (may be stale; plugins that decide on labels ask GitHub).
    pub labels: Vec<String>,
    pub comment: Option<GenericComment>,
    /// The PR, for `pull_request` and `pull_request_review` events.
    pub pull_request: Option<PullRequest>,
    pub review: Option<Review>,
    /// The label a `labeled`/`unlabeled` event is about.
    pub label: Option<String>,
    pub sender: User,
    /// The webhook delivery (`X-GitHub-Delivery`, the CloudEvent id; Prow's event GUID).
    pub delivery_id: String,
}

fn logins(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.login.clone()).collect()
}

fn names(labels: &[Label]) -> Vec<String> {
    labels.iter().map(|l| l.name.clone()).collect()
}

impl Event {
    /// Reduces a payload of `kind`; `None` when the payload lacks what that event must carry.
    pub fn from_payload(kind: Kind, p: Payload) -> Option<Self> {
        let org = p.repository.owner.login.clone();
        let repo = p.repository.name.clone();
        let comment_action = CommentAction::of(&p.action);
        let generic = |body: Option<String>, html_url: String, user: User| {
            comment_action.map(|action| {
                let body = body.unwrap_or_default();
                GenericComment {
                    action,
                    text: CommandText::new(&body),
                    body,
                    html_url,
                    user,
                }
            })
        };
        let label = p.label.map(|l| l.name);
        match kind {
            Kind::IssueComment | Kind::Issues => {
                let issue = p.issue?;
                let comment = match (kind, p.comment) {
                    (Kind::IssueComment, Some(c)) => generic(c.body, c.html_url, c.user),
                    (Kind::IssueComment, None) => return None,
                    _ => generic(
                        issue.body.clone(),
                        issue.html_url.clone(),
                        issue.user.clone(),
                    ),
                };
                Some(Event {
                    kind,
                    action: p.action,
                    org,
                    repo,
                    number: issue.number,
                    is_pr: issue.pull_request.is_some(),
                    state: issue.state,
                    title: issue.title,
                    body: issue.body.clone().unwrap_or_default(),
                    html_url: issue.html_url,
                    author: issue.user,
                    assignees: logins(&issue.assignees),
                    labels: names(&issue.labels),
                    comment,
                    pull_request: None,
                    review: None,
                    label,
                    sender: p.sender,
                    delivery_id: String::new(),
                })
            }
            Kind::PullRequest | Kind::PullRequestReview => {
                let pr = p.pull_request?;
                let comment = match (kind, &p.review) {
                    (Kind::PullRequestReview, Some(r)) => {
                        generic(r.body.clone(), r.html_url.clone(), r.user.clone())
                    }
                    (Kind::PullRequestReview, None) => return None,
                    _ => generic(pr.body.clone(), pr.html_url.clone(), pr.user.clone()),
                };
                Some(Event {
                    kind,
                    action: p.action,
                    org,
                    repo,
                    number: pr.number,
                    is_pr: true,
                    state: pr.state.clone(),
                    title: pr.title.clone(),
                    body: pr.body.clone().unwrap_or_default(),
                    html_url: pr.html_url.clone(),
                    author: pr.user.clone(),
                    assignees: logins(&pr.assignees),
                    labels: names(&pr.labels),
                    comment,
                    review: p.review,
                    pull_request: Some(pr),
                    label,
                    sender: p.sender,
                    delivery_id: String::new(),
                })
            }
        }
    }

    /// `org/repo#number`, for errors and logs.
    pub fn target(&self) -> String {
        format!("{}/{}#{}", self.org, self.repo, self.number)
    }

    /// The comment, when it was just created (what most command handlers act on).
    pub fn created_comment(&self) -> Option<&GenericComment> {
        self.comment
            .as_ref()
            .filter(|c| c.action == CommentAction::Created)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(kind: Kind, file: &str) -> Event {
        let p: Payload = serde_json::from_slice(&prow_testdata::webhook(file)).unwrap();
        Event::from_payload(kind, p).unwrap()
    }

    #[test]
    fn comment_like_texts_come_from_comments_pr_bodies_and_reviews() {
        let ic = event(Kind::IssueComment, "issue_comment.created.json");
        let c = ic.created_comment().unwrap();
        assert_eq!(c.action, CommentAction::Created);
        assert!(!c.user.login.is_empty());
        let pr = event(Kind::PullRequest, "pull_request.opened.json");
        assert!(pr.is_pr);
        assert_eq!(pr.comment.as_ref().unwrap().action, CommentAction::Created);
        assert_eq!(pr.comment.as_ref().unwrap().user, pr.author);
        let review = event(
            Kind::PullRequestReview,
            "pull_request_review.submitted.json",
        );
        assert!(review.created_comment().is_some());
        assert!(review.review.is_some());
        // A push to a PR says nothing about its text.
        let sync = event(Kind::PullRequest, "pull_request.synchronize.json");
        assert!(sync.comment.is_none());
    }
}
