//! Prow's `--dry-run` for a function that has credentials: reads go to the real GitHub, writes are only recorded.

use std::sync::Arc;

use async_trait::async_trait;

use crate::GitHub;
use crate::branch_protection::{BranchProtection, BranchProtectionRequest};
use crate::dry_run::{Call, DryRunGitHub};
use crate::error::Result;
use crate::git_data::{Commit, GitCommit, MergeBranchOutcome, NewCommit};
use crate::hooks::{DeliveryQuery, Hook, HookDeliveries};
use crate::merge::{MergeOutcome, MergeRequest};
use crate::types::{
    Branch, CheckRun, GitTree, Issue, IssueComment, IssueEdit, IssueEvent, IssueSearchItem, Label,
    Milestone, NewPullRequest, NewStatus, OrgRepo, PullRequest, PullRequestChange,
    PullRequestQuery, Review, Status, User,
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

    async fn user_permission(&self, org: &str, repo: &str, user: &str) -> Result<String> {
        self.reads.user_permission(org, repo, user).await
    }

    async fn is_team_member(&self, org: &str, team_slug: &str, user: &str) -> Result<bool> {
        self.reads.is_team_member(org, team_slug, user).await
    }

    async fn is_team_member_by_id(&self, org_id: u64, team_id: u64, user: &str) -> Result<bool> {
        self.reads.is_team_member_by_id(org_id, team_id, user).await
    }

    async fn org_id(&self, org: &str) -> Result<u64> {
        self.reads.org_id(org).await
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

    async fn list_pull_request_commits(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<Commit>> {
        self.reads
            .list_pull_request_commits(org, repo, number)
            .await
    }

    async fn edit_issue(&self, org: &str, repo: &str, number: u64, edit: &IssueEdit) -> Result<()> {
        self.writes.edit_issue(org, repo, number, edit).await
    }

    async fn list_milestones(&self, org: &str, repo: &str) -> Result<Vec<Milestone>> {
        self.reads.list_milestones(org, repo).await
    }

    async fn list_pull_requests(
        &self,
        org: &str,
        repo: &str,
        query: &PullRequestQuery,
    ) -> Result<Vec<PullRequest>> {
        self.reads.list_pull_requests(org, repo, query).await
    }

    async fn search_issues(&self, query: &str) -> Result<Vec<IssueSearchItem>> {
        self.reads.search_issues(query).await
    }

    /// Recorded; answers `Merged` with a made-up SHA unless the head moved (read from
    /// GitHub), so a dry run of tide goes on as if the merge had worked.
    async fn merge_pull_request(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        request: &MergeRequest,
    ) -> Result<MergeOutcome> {
        if let Some(sha) = &request.sha {
            let pr = self.reads.get_pull_request(org, repo, number).await?;
            if pr.head.sha != *sha {
                // Recorded all the same: the dry run shows what would have been tried.
                self.writes
                    .merge_pull_request(org, repo, number, request)
                    .await?;
                return Ok(MergeOutcome::HeadModified {
                    message: "Head branch was modified. Review and try the merge again.".to_owned(),
                });
            }
        }
        self.writes
            .merge_pull_request(org, repo, number, request)
            .await
    }

    async fn list_check_runs(&self, org: &str, repo: &str, git_ref: &str) -> Result<Vec<CheckRun>> {
        self.reads.list_check_runs(org, repo, git_ref).await
    }

    async fn get_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<BranchProtection>> {
        self.reads.get_branch_protection(org, repo, branch).await
    }

    async fn update_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        request: &BranchProtectionRequest,
    ) -> Result<()> {
        self.writes
            .update_branch_protection(org, repo, branch, request)
            .await
    }

    async fn remove_branch_protection(&self, org: &str, repo: &str, branch: &str) -> Result<()> {
        self.writes
            .remove_branch_protection(org, repo, branch)
            .await
    }

    async fn set_required_signatures(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        required: bool,
    ) -> Result<()> {
        self.writes
            .set_required_signatures(org, repo, branch, required)
            .await
    }

    async fn get_commit(&self, org: &str, repo: &str, sha: &str) -> Result<GitCommit> {
        match self.writes.made_commit(org, repo, sha) {
            Some(commit) => Ok(commit),
            None => self.reads.get_commit(org, repo, sha).await,
        }
    }

    async fn create_commit(&self, org: &str, repo: &str, commit: &NewCommit) -> Result<String> {
        self.writes.create_commit(org, repo, commit).await
    }

    /// Recorded only; unlike the plain dry run it cannot tell whether the ref exists.
    async fn create_ref(&self, org: &str, repo: &str, git_ref: &str, sha: &str) -> Result<()> {
        self.writes.record_only(Call::CreateRef {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            sha: sha.to_owned(),
        });
        Ok(())
    }

    async fn update_ref(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        sha: &str,
        force: bool,
    ) -> Result<()> {
        self.writes.record_only(Call::UpdateRef {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            sha: sha.to_owned(),
            force,
        });
        Ok(())
    }

    async fn delete_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<()> {
        self.writes.delete_ref(org, repo, git_ref).await
    }

    async fn merge_branches(
        &self,
        org: &str,
        repo: &str,
        base: &str,
        head: &str,
        commit_message: &str,
    ) -> Result<MergeBranchOutcome> {
        self.writes
            .merge_branches(org, repo, base, head, commit_message)
            .await
    }

    async fn create_pull_request(
        &self,
        org: &str,
        repo: &str,
        pull_request: &NewPullRequest,
    ) -> Result<PullRequest> {
        let mut pr = self
            .writes
            .create_pull_request(org, repo, pull_request)
            .await?;
        if let Ok(login) = self.reads.bot_login().await {
            pr.user.login = login;
        }
        Ok(pr)
    }

    async fn get_pull_request_patch(&self, org: &str, repo: &str, number: u64) -> Result<String> {
        self.reads.get_pull_request_patch(org, repo, number).await
    }

    async fn list_issue_events(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueEvent>> {
        self.reads.list_issue_events(org, repo, number).await
    }

    async fn list_org_repos(&self, org: &str) -> Result<Vec<OrgRepo>> {
        self.reads.list_org_repos(org).await
    }

    async fn list_branches(&self, org: &str, repo: &str) -> Result<Vec<Branch>> {
        self.reads.list_branches(org, repo).await
    }

    async fn list_hook_deliveries(
        &self,
        hook: &Hook,
        query: &DeliveryQuery,
    ) -> Result<HookDeliveries> {
        self.reads.list_hook_deliveries(hook, query).await
    }

    async fn redeliver_hook_delivery(&self, hook: &Hook, delivery_id: u64) -> Result<()> {
        self.writes.redeliver_hook_delivery(hook, delivery_id).await
    }
}
