//! Prow's `--dry-run` for a function that has credentials: reads go to the real GitHub, writes are only recorded.

use std::sync::Arc;

use async_trait::async_trait;

use crate::GitHub;
use crate::dry_run::{Call, DryRunGitHub};
use crate::error::Result;
use crate::types::{
    GitTree, Issue, IssueComment, Label, NewStatus, PullRequest, PullRequestChange, Review, Status,
    User,
};

/// [`GitHub`] that answers reads from `reads` and records writes in a [`DryRunGitHub`].
pub struct ReadOnlyGitHub {
    reads: Arc<dyn GitHub>,
    writes: DryRunGitHub,
}

impl std::fmt::Debug for ReadOnlyGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyGitHub")
            .field("writes", &self.writes.writes())
            .finish_non_exhaustive()
    }
}

impl ReadOnlyGitHub {
    pub fn new(reads: Arc<dyn GitHub>) -> Self {
        ReadOnlyGitHub {
            reads,
            writes: DryRunGitHub::new(),
        }
    }

    /// The writes that were not made, in order.
    pub fn writes(&self) -> Vec<Call> {
        self.writes.writes()
    }
}

#[async_trait]
impl GitHub for ReadOnlyGitHub {
    async fn bot_login(&self) -> Result<String> {
        self.reads.bot_login().await
    }

    async fn get_pull_request(&self, org: &str, repo: &str, number: u64) -> Result<PullRequest> {
        self.reads.get_pull_request(org, repo, number).await
    }

    async fn pull_request_changes(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<PullRequestChange>> {
        self.reads.pull_request_changes(org, repo, number).await
    }

    async fn is_org_member(&self, org: &str, user: &str) -> Result<bool> {
        self.reads.is_org_member(org, user).await
    }

    async fn is_collaborator(&self, org: &str, repo: &str, user: &str) -> Result<bool> {
        self.reads.is_collaborator(org, repo, user).await
    }

    async fn is_team_member(&self, org: &str, team_slug: &str, user: &str) -> Result<bool> {
        self.reads.is_team_member(org, team_slug, user).await
    }

    async fn is_team_member_by_id(&self, org_id: u64, team_id: u64, user: &str) -> Result<bool> {
        self.reads.is_team_member_by_id(org_id, team_id, user).await
    }

    async fn get_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<String> {
        self.reads.get_ref(org, repo, git_ref).await
    }

    async fn combined_status(&self, org: &str, repo: &str, sha: &str) -> Result<Vec<Status>> {
        self.reads.combined_status(org, repo, sha).await
    }

    async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<()> {
        self.writes.create_status(org, repo, sha, status).await
    }

    async fn list_issue_comments(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>> {
        self.reads.list_issue_comments(org, repo, number).await
    }

    async fn create_comment(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<IssueComment> {
        let mut comment = self.writes.create_comment(org, repo, number, body).await?;
        // Callers compare authors with the bot; say who would have written it.
        if let Ok(login) = self.reads.bot_login().await {
            comment.user.login = login;
        }
        Ok(comment)
    }

    async fn edit_comment(&self, org: &str, repo: &str, comment_id: u64, body: &str) -> Result<()> {
        self.writes.edit_comment(org, repo, comment_id, body).await
    }

    async fn delete_comment(&self, org: &str, repo: &str, comment_id: u64) -> Result<()> {
        self.writes.delete_comment(org, repo, comment_id).await
    }

    async fn add_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        self.writes.add_label(org, repo, number, label).await
    }

    async fn remove_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        self.writes.remove_label(org, repo, number, label).await
    }

    async fn get_issue_labels(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Label>> {
        self.reads.get_issue_labels(org, repo, number).await
    }

    async fn get_repo_labels(&self, org: &str, repo: &str) -> Result<Vec<Label>> {
        self.reads.get_repo_labels(org, repo).await
    }

    async fn get_issue(&self, org: &str, repo: &str, number: u64) -> Result<Issue> {
        self.reads.get_issue(org, repo, number).await
    }

    async fn get_tree(&self, org: &str, repo: &str, sha: &str) -> Result<GitTree> {
        self.reads.get_tree(org, repo, sha).await
    }

    async fn get_file(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>> {
        self.reads.get_file(org, repo, git_ref, path).await
    }

    async fn list_reviews(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Review>> {
        self.reads.list_reviews(org, repo, number).await
    }

    async fn request_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        self.writes
            .request_reviewers(org, repo, number, logins)
            .await
    }

    async fn unrequest_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        self.writes
            .unrequest_reviewers(org, repo, number, logins)
            .await
    }

    async fn add_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        self.writes.add_assignees(org, repo, number, logins).await
    }

    async fn remove_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        self.writes
            .remove_assignees(org, repo, number, logins)
            .await
    }

    async fn list_collaborators(&self, org: &str, repo: &str) -> Result<Vec<User>> {
        self.reads.list_collaborators(org, repo).await
    }

    async fn list_team_members(&self, org: &str, team_slug: &str) -> Result<Vec<User>> {
        self.reads.list_team_members(org, team_slug).await
    }
}
