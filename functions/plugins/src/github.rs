//! The GitHub calls plugins make, as one narrow port (so tests see exactly these calls).

use async_trait::async_trait;
use std::sync::Arc;

use prow_github::{
    Commit, GitHub, IssueComment, IssueEdit, IssueState, Label, NewStatus, PullRequest,
    PullRequestChange, Result, Review, Status, User,
};
use prow_owners::RepoOwners;

/// The OWNERS facts plugins read, loaded (and cached by commit) through GitHub.
#[async_trait]
pub trait OwnersPort: Send + Sync + std::fmt::Debug {
    /// Approvers and reviewers (lower-case) of `files` in `org/repo`'s OWNERS at `base_sha`.
    async fn reviewers_of(
        &self,
        org: &str,
        repo: &str,
        base_sha: &str,
        files: &[String],
    ) -> std::result::Result<Vec<String>, String>;

    /// `org/repo`'s OWNERS at `base_sha` as Prow's plugins see them: approvers and reviewers
    /// who are not collaborators dropped unless the repo skips collaborators.
    async fn repo_owners(
        &self,
        org: &str,
        repo: &str,
        base_sha: &str,
    ) -> std::result::Result<Arc<RepoOwners>, String>;
}

/// Where override's ProwJobs go (Kubernetes, in the function).
#[async_trait]
pub trait ProwJobPort: Send + Sync + std::fmt::Debug {
    /// Creates `job`; `Ok(false)` when a job of its name exists already (a redelivery).
    async fn create(&self, job: &prow_core::prowjob::ProwJob) -> std::result::Result<bool, String>;
}

/// For a plugins function without a Kubernetes client: every create fails, so an override
/// of a job's context is retried rather than reported done without its ProwJob.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProwJobs;

#[async_trait]
impl ProwJobPort for NoProwJobs {
    async fn create(&self, job: &prow_core::prowjob::ProwJob) -> std::result::Result<bool, String> {
        Err(format!(
            "cannot create ProwJob {}: this plugins function has no Kubernetes client",
            job.spec.job
        ))
    }
}

#[async_trait]
impl ProwJobPort for prow_kube::ProwJobs {
    async fn create(&self, job: &prow_core::prowjob::ProwJob) -> std::result::Result<bool, String> {
        match prow_kube::ProwJobs::create(self, job).await {
            Ok(prow_kube::Created::New(_)) => Ok(true),
            Ok(prow_kube::Created::Existing) => Ok(false),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// What the plugins shell asks of GitHub.
#[async_trait]
pub trait PluginGitHub: Send + Sync + std::fmt::Debug {
    async fn bot_login(&self) -> Result<String>;
    async fn get_issue_labels(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Label>>;
    async fn add_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()>;
    async fn remove_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()>;
    async fn list_issue_comments(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>>;
    async fn create_comment(&self, org: &str, repo: &str, number: u64, body: &str) -> Result<()>;
    async fn edit_comment(&self, org: &str, repo: &str, id: u64, body: &str) -> Result<()>;
    async fn delete_comment(&self, org: &str, repo: &str, id: u64) -> Result<()>;
    async fn list_reviews(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Review>>;
    async fn is_collaborator(&self, org: &str, repo: &str, user: &str) -> Result<bool>;
    /// `admin`, `write`, `read` or `none`.
    async fn user_permission(&self, org: &str, repo: &str, user: &str) -> Result<String>;
    /// The SHA `git_ref` (`heads/<branch>`) points at.
    async fn get_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<String>;
    /// The contexts the branch's protection requires (none when it is not protected).
    async fn required_contexts(&self, org: &str, repo: &str, branch: &str) -> Result<Vec<String>>;
    /// The repo's open milestones: (title, number).
    async fn open_milestones(&self, org: &str, repo: &str) -> Result<Vec<(String, u64)>>;
    async fn get_pull_request(&self, org: &str, repo: &str, number: u64) -> Result<PullRequest>;
    async fn changed_files(&self, org: &str, repo: &str, number: u64) -> Result<Vec<String>>;
    /// The PR's files with status and patch (verify-owners needs both).
    async fn pull_request_changes(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<PullRequestChange>>;
    /// A file's contents at `git_ref`; `None` when it is not there.
    async fn get_file(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>>;
    async fn get_repo_labels(&self, org: &str, repo: &str) -> Result<Vec<Label>>;
    async fn list_pull_request_commits(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<Commit>>;
    /// Every status on a commit.
    async fn combined_status(&self, org: &str, repo: &str, sha: &str) -> Result<Vec<Status>>;
    async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<()>;
    /// Changes the issue's (or PR's) title or state.
    async fn edit_issue(&self, org: &str, repo: &str, number: u64, edit: &IssueEdit) -> Result<()>;
    async fn is_org_member(&self, org: &str, user: &str) -> Result<bool>;
    async fn delete_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<()>;
    /// Numbers of the issues and PRs matching a search query.
    async fn search_numbers(&self, query: &str) -> Result<Vec<u64>>;
    /// Whether `user` is an active member of the team `team` (a slug) of `org`.
    async fn is_team_member(&self, org: &str, team: &str, user: &str) -> Result<bool>;
    /// The tree hash of a commit.
    async fn tree_of(&self, org: &str, repo: &str, sha: &str) -> Result<String>;
    async fn team_members(&self, org: &str, team: &str) -> Result<Vec<User>>;
    /// Returns the logins assigned afterwards.
    async fn add_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>>;
    async fn remove_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<()>;
    /// Returns the logins requested.
    async fn request_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>>;
    async fn unrequest_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<()>;
}

#[async_trait]
impl<T: GitHub + ?Sized> PluginGitHub for T {
    async fn bot_login(&self) -> Result<String> {
        GitHub::bot_login(self).await
    }
    async fn get_issue_labels(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Label>> {
        GitHub::get_issue_labels(self, org, repo, number).await
    }
    async fn add_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        GitHub::add_label(self, org, repo, number, label).await
    }
    async fn remove_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        GitHub::remove_label(self, org, repo, number, label).await
    }
    async fn list_issue_comments(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>> {
        GitHub::list_issue_comments(self, org, repo, number).await
    }
    async fn create_comment(&self, org: &str, repo: &str, number: u64, body: &str) -> Result<()> {
        GitHub::create_comment(self, org, repo, number, body)
            .await
            .map(|_| ())
    }
    async fn edit_comment(&self, org: &str, repo: &str, id: u64, body: &str) -> Result<()> {
        GitHub::edit_comment(self, org, repo, id, body).await
    }
    async fn delete_comment(&self, org: &str, repo: &str, id: u64) -> Result<()> {
        GitHub::delete_comment(self, org, repo, id).await
    }
    async fn list_reviews(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Review>> {
        GitHub::list_reviews(self, org, repo, number).await
    }
    async fn is_collaborator(&self, org: &str, repo: &str, user: &str) -> Result<bool> {
        GitHub::is_collaborator(self, org, repo, user).await
    }
    async fn user_permission(&self, org: &str, repo: &str, user: &str) -> Result<String> {
        GitHub::user_permission(self, org, repo, user).await
    }
    async fn get_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<String> {
        GitHub::get_ref(self, org, repo, git_ref).await
    }
    async fn required_contexts(&self, org: &str, repo: &str, branch: &str) -> Result<Vec<String>> {
        Ok(GitHub::get_branch_protection(self, org, repo, branch)
            .await?
            .map(|p| p.required_contexts().to_vec())
            .unwrap_or_default())
    }
    async fn open_milestones(&self, org: &str, repo: &str) -> Result<Vec<(String, u64)>> {
        // Prow lists GitHub's default, the open ones; the port lists every state.
        Ok(GitHub::list_milestones(self, org, repo)
            .await?
            .into_iter()
            .filter(|m| m.state == IssueState::Open)
            .map(|m| (m.title, m.number))
            .collect())
    }
    async fn get_pull_request(&self, org: &str, repo: &str, number: u64) -> Result<PullRequest> {
        GitHub::get_pull_request(self, org, repo, number).await
    }
    async fn changed_files(&self, org: &str, repo: &str, number: u64) -> Result<Vec<String>> {
        GitHub::pull_request_changed_files(self, org, repo, number).await
    }
    async fn pull_request_changes(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<PullRequestChange>> {
        GitHub::pull_request_changes(self, org, repo, number).await
    }
    async fn get_file(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>> {
        GitHub::get_file(self, org, repo, git_ref, path).await
    }
    async fn get_repo_labels(&self, org: &str, repo: &str) -> Result<Vec<Label>> {
        GitHub::get_repo_labels(self, org, repo).await
    }
    async fn list_pull_request_commits(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<Commit>> {
        GitHub::list_pull_request_commits(self, org, repo, number).await
    }
    async fn combined_status(&self, org: &str, repo: &str, sha: &str) -> Result<Vec<Status>> {
        GitHub::combined_status(self, org, repo, sha).await
    }
    async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<()> {
        GitHub::create_status(self, org, repo, sha, status).await
    }
    async fn edit_issue(&self, org: &str, repo: &str, number: u64, edit: &IssueEdit) -> Result<()> {
        GitHub::edit_issue(self, org, repo, number, edit).await
    }
    async fn is_org_member(&self, org: &str, user: &str) -> Result<bool> {
        GitHub::is_org_member(self, org, user).await
    }
    async fn delete_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<()> {
        GitHub::delete_ref(self, org, repo, git_ref).await
    }
    async fn search_numbers(&self, query: &str) -> Result<Vec<u64>> {
        Ok(GitHub::search_issues(self, query)
            .await?
            .into_iter()
            .map(|i| i.number)
            .collect())
    }
    async fn is_team_member(&self, org: &str, team: &str, user: &str) -> Result<bool> {
        GitHub::is_team_member(self, org, team, user).await
    }
    async fn tree_of(&self, org: &str, repo: &str, sha: &str) -> Result<String> {
        Ok(GitHub::get_tree(self, org, repo, sha).await?.sha)
    }
    async fn team_members(&self, org: &str, team: &str) -> Result<Vec<User>> {
        GitHub::list_team_members(self, org, team).await
    }
    async fn add_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        GitHub::add_assignees(self, org, repo, number, logins).await
    }
    async fn remove_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<()> {
        GitHub::remove_assignees(self, org, repo, number, logins)
            .await
            .map(|_| ())
    }
    async fn request_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        GitHub::request_reviewers(self, org, repo, number, logins).await
    }
    async fn unrequest_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<()> {
        GitHub::unrequest_reviewers(self, org, repo, number, logins)
            .await
            .map(|_| ())
    }
}
