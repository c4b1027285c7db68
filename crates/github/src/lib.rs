//! GitHub port of prow-rs: the `GitHub` trait trigger, crier, plugins and deck call, with an octocrab backend and a dry-run recorder.
//!
//! - [`GitHub`]: object-safe async trait (`Arc<dyn GitHub>`) speaking plain domain types.
//! - [`OctocrabGitHub`]: the real client, with Prow's retries and rate-limit handling.
//! - [`DryRunGitHub`]: answers reads from what it was told and records every call.
//! - [`ReadOnlyGitHub`]: reads from a real GitHub, records writes (Prow's `--dry-run`).
//! - [`connect`]: picks one of them from [`Settings`].
//! - As a GitHub App, the client acts in each org through its installation, with tokens
//!   kept in a [`TokenCache`] (see docs/deploy.md).
//!
//! TLS and crypto: octocrab is built without its default features, so there is one rustls
//! backend (ring, which octocrab selects explicitly when no process default is installed, so
//! there is no "no CryptoProvider" panic) and GitHub App JWTs are signed with pure-Rust RSA;
//! aws-lc-rs is not built. Redirects are not followed (org membership answers 302).
//!
//! ```
//! use std::sync::Arc;
//! use prow_github::{Call, DryRunGitHub, GitHub, NewStatus, StatusState};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dry = Arc::new(DryRunGitHub::new().trust(["alice"]));
//! let github: Arc<dyn GitHub> = dry.clone();
//! assert!(github.is_org_member("acme", "alice").await.unwrap());
//! let status = NewStatus::new("pull-foo-unit", StatusState::Pending).description("Job triggered.");
//! github.create_status("acme", "foo", "deadbeef", &status).await.unwrap();
//! assert!(matches!(&dry.writes()[..], [Call::CreateStatus { sha, .. }] if sha == "deadbeef"));
//! # });
//! ```

mod app_auth;
mod branch_protection;
mod dry_run;
mod error;
mod git_data;
mod hooks;
mod merge;
mod octocrab_client;
mod read_only;
mod retry;
mod shared_tokens;
mod types;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

pub use app_auth::{CachedToken, MemoryTokenCache, TOKEN_REFRESH_MARGIN, TokenCache};
pub use branch_protection::{
    BranchProtection, BranchProtectionRequest, RequiredReviews, RequiredReviewsRequest,
    RequiredStatusChecks, Restrictions, RestrictionsRequest,
};
pub use dry_run::{Call, DryRunGitHub};
pub use error::{GitHubError, Result};
pub use git_data::{Commit, CommitIdentity, GitActor, GitCommit, MergeBranchOutcome, NewCommit};
pub use hooks::{DeliveryQuery, Hook, HookDeliveries, HookDelivery, ParseHookError};
pub use merge::{MergeMethod, MergeOutcome, MergeRequest};
pub use octocrab_client::{Credentials, DEFAULT_ENDPOINT, OctocrabGitHub, OctocrabGitHubBuilder};
pub use read_only::ReadOnlyGitHub;
pub use retry::{RetryPolicy, RetryReason, Sleeper, TokioSleeper, Verdict, decide};
pub use shared_tokens::{SharedTokenCache, TOKENS_PATH as SHARED_TOKENS_PATH};
pub use types::{
    Branch, CheckRun, GitTree, Issue, IssueComment, IssueEdit, IssueEvent, IssuePullRequestLinks,
    IssueSearchItem, IssueState, Label, MAX_STATUS_DESCRIPTION_CHARS, Milestone, MilestoneEdit,
    NewPullRequest, NewStatus, OrgRepo, PullRequest, PullRequestBranch, PullRequestChange,
    PullRequestQuery, Repository, Review, ReviewState, StateFilter, Status, StatusState, TreeEntry,
    User, changed_filenames, normalize_login, truncate_description,
};

/// What Prow's functions ask of GitHub. `org`/`repo` name the repository; `number` is an
/// issue or pull request number.
#[async_trait]
pub trait GitHub: Send + Sync + std::fmt::Debug {
    /// The login of the account we act as (cached after the first call).
    async fn bot_login(&self) -> Result<String>;

    async fn get_pull_request(&self, org: &str, repo: &str, number: u64) -> Result<PullRequest>;

    /// Every file of the pull request's diff (all pages).
    async fn pull_request_changes(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<PullRequestChange>>;

    /// The paths the pull request touches, as Prow's `run_if_changed` matches them (current
    /// names; see [`changed_filenames`]).
    async fn pull_request_changed_files(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<String>> {
        let changes = self.pull_request_changes(org, repo, number).await?;
        Ok(changed_filenames(&changes))
    }

    /// Whether `user` belongs to `org`. A user "belongs" to the org of the same name, so
    /// personal repositories trust their owner (as Prow does).
    async fn is_org_member(&self, org: &str, user: &str) -> Result<bool>;

    async fn is_collaborator(&self, org: &str, repo: &str, user: &str) -> Result<bool>;

    /// `user`'s permission on the repository as GitHub's collaborator permission API names it
    /// (`admin`, `write`, `read` or `none`; Prow's GetUserPermission). A user GitHub does not
    /// know is `Err` with status 404.
    async fn user_permission(&self, org: &str, repo: &str, user: &str) -> Result<String>;

    /// Whether `user` is an active (not merely invited) member of the team.
    async fn is_team_member(&self, org: &str, team_slug: &str, user: &str) -> Result<bool>;

    /// As [`GitHub::is_team_member`], naming the org and team by their numeric ids.
    async fn is_team_member_by_id(&self, org_id: u64, team_id: u64, user: &str) -> Result<bool>;

    /// The numeric id of an organization (`GET /orgs/{org}`): team lookups by id need it, and
    /// Prow's `github_team_ids` name a team of the job's org by id alone.
    async fn org_id(&self, org: &str) -> Result<u64>;

    /// The SHA a ref points at; `git_ref` is e.g. `heads/main` or `tags/v1.0`.
    async fn get_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<String>;

    /// Every status context set on a commit (all pages of the combined status).
    async fn combined_status(&self, org: &str, repo: &str, sha: &str) -> Result<Vec<Status>>;

    async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<()>;

    /// Every comment of an issue or pull request conversation (all pages), oldest first.
    async fn list_issue_comments(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>>;

    async fn create_comment(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<IssueComment>;

    async fn edit_comment(&self, org: &str, repo: &str, comment_id: u64, body: &str) -> Result<()>;

    /// Deletes a comment; one that is already gone counts as deleted (redelivered events).
    async fn delete_comment(&self, org: &str, repo: &str, comment_id: u64) -> Result<()>;

    async fn add_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()>;

    /// Removes a label; a label that is not there counts as removed.
    async fn remove_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()>;

    async fn get_issue_labels(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Label>>;

    /// Every label defined in the repository (all pages): owners-label adds only those, as
    /// GitHub would otherwise create a label nobody configured.
    async fn get_repo_labels(&self, org: &str, repo: &str) -> Result<Vec<Label>>;

    /// An issue or pull request as the issues API shows it (assignees, labels, whether it is
    /// a pull request).
    async fn get_issue(&self, org: &str, repo: &str, number: u64) -> Result<Issue>;

    /// Every file and directory at `sha` (a commit or tree SHA, or a branch name), listed
    /// recursively in one call. Check [`GitTree::truncated`]: GitHub cuts very large trees.
    async fn get_tree(&self, org: &str, repo: &str, sha: &str) -> Result<GitTree>;

    /// The contents of the file at `path` as of `git_ref` (a SHA or branch; empty means the
    /// default branch); `None` when there is no such file there. Decoded from base64.
    async fn get_file(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>>;

    /// Every review of a pull request (all pages), oldest first.
    async fn list_reviews(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Review>>;

    /// Asks `logins` to review the pull request; `org/team` (or `@org/team`) names a team of
    /// `org`. GitHub refuses the whole request when one login may not review (422), so, as
    /// Prow does, the logins are then retried one at a time. Returns the logins that were
    /// requested: the others are not collaborators, or teams of another org.
    async fn request_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>>;

    /// Withdraws review requests. Returns those of `logins` GitHub still lists as requested
    /// afterwards (empty when all went).
    async fn unrequest_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>>;

    /// Assigns `logins`. GitHub silently skips users who cannot be assigned, so this returns
    /// those of `logins` that are assigned afterwards (Prow reports the rest as missing).
    async fn add_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>>;

    /// Unassigns `logins`. Returns those of `logins` still assigned afterwards.
    async fn remove_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>>;

    /// Everyone with access to the repository (all pages).
    async fn list_collaborators(&self, org: &str, repo: &str) -> Result<Vec<User>>;

    /// The members of a team of `org` (all pages).
    async fn list_team_members(&self, org: &str, team_slug: &str) -> Result<Vec<User>>;

    /// Every commit of a pull request (all pages; GitHub lists at most 250), oldest first.
    async fn list_pull_request_commits(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<Commit>>;

    /// Changes an issue's or pull request's title, body, state or milestone; fields left
    /// `None` stay. GitHub answers 422 when a state cannot change (e.g. reopening a pull
    /// request whose branch is gone): see [`GitHubError::status`].
    async fn edit_issue(&self, org: &str, repo: &str, number: u64, edit: &IssueEdit) -> Result<()>;

    /// Every milestone of the repository, open and closed (all pages).
    async fn list_milestones(&self, org: &str, repo: &str) -> Result<Vec<Milestone>>;

    /// The repository's pull requests matching `query` (all pages). Lists leave out
    /// `mergeable`/`mergeable_state` (GitHub computes them per pull request only).
    async fn list_pull_requests(
        &self,
        org: &str,
        repo: &str,
        query: &PullRequestQuery,
    ) -> Result<Vec<PullRequest>>;

    /// Issues and pull requests matching a search `query` (GitHub's search syntax, e.g.
    /// `is:pr is:open repo:acme/foo label:lgtm`), all pages up to GitHub's cap of 1000 hits.
    async fn search_issues(&self, query: &str) -> Result<Vec<IssueSearchItem>>;

    /// Merges a pull request. GitHub's refusals (405 not mergeable, 409 head moved) are
    /// [`MergeOutcome`]s; anything else that fails is an error.
    async fn merge_pull_request(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        request: &MergeRequest,
    ) -> Result<MergeOutcome>;

    /// Every check run on `git_ref` (a SHA, branch or tag; all pages).
    async fn list_check_runs(&self, org: &str, repo: &str, git_ref: &str) -> Result<Vec<CheckRun>>;

    /// The branch's protection; `None` when it is not protected. Other 404s (no such
    /// branch, or a token that may not read protection) stay errors, as in Prow.
    async fn get_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<BranchProtection>>;

    /// Replaces the branch's protection with `request`.
    async fn update_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        request: &BranchProtectionRequest,
    ) -> Result<()>;

    /// Removes the branch's protection.
    async fn remove_branch_protection(&self, org: &str, repo: &str, branch: &str) -> Result<()>;

    /// Requires signed commits on a protected branch (`POST .../protection/required_signatures`,
    /// 200) or stops requiring them (`DELETE`, 204), as Prow's Enable/DisableCommitSignProtection.
    /// GitHub keeps this out of the protection `PUT`, so it is a call of its own.
    async fn set_required_signatures(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        required: bool,
    ) -> Result<()>;

    /// A git commit object (tree, parents, message, identities).
    async fn get_commit(&self, org: &str, repo: &str, sha: &str) -> Result<GitCommit>;

    /// Creates a git commit object (no ref moves); returns its SHA.
    async fn create_commit(&self, org: &str, repo: &str, commit: &NewCommit) -> Result<String>;

    /// Creates `git_ref` (`refs/heads/x`; `heads/x` is completed) at `sha`. An existing
    /// ref is an error (422).
    async fn create_ref(&self, org: &str, repo: &str, git_ref: &str, sha: &str) -> Result<()>;

    /// Points `git_ref` (`heads/x`) at `sha`; without `force` only fast-forwards (422
    /// otherwise).
    async fn update_ref(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        sha: &str,
        force: bool,
    ) -> Result<()>;

    /// Deletes `git_ref` (`heads/x`); one that is already gone counts as deleted.
    async fn delete_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<()>;

    /// Merges `head` (a branch or SHA) into branch `base` on GitHub (`POST /merges`); an
    /// empty `commit_message` lets GitHub write its default.
    async fn merge_branches(
        &self,
        org: &str,
        repo: &str,
        base: &str,
        head: &str,
        commit_message: &str,
    ) -> Result<MergeBranchOutcome>;

    /// Opens a pull request. One already open for the same head and base is an error (422).
    async fn create_pull_request(
        &self,
        org: &str,
        repo: &str,
        pull_request: &NewPullRequest,
    ) -> Result<PullRequest>;

    /// The pull request as one `git format-patch` mailbox (all its commits).
    async fn get_pull_request_patch(&self, org: &str, repo: &str, number: u64) -> Result<String>;

    /// Every event of an issue or pull request (all pages), oldest first.
    async fn list_issue_events(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueEvent>>;

    /// Every repository of the organization (all pages, archived ones included).
    async fn list_org_repos(&self, org: &str) -> Result<Vec<OrgRepo>>;

    /// Every branch of the repository with whether it is protected (all pages).
    async fn list_branches(&self, org: &str, repo: &str) -> Result<Vec<Branch>>;

    /// The hook's recent deliveries, newest first, back to `query.since` (following the
    /// cursor of `Link: rel="next"`) or `query.max_pages`. [`Hook::App`] needs GitHub App
    /// credentials (GitHub takes only the app's JWT there).
    async fn list_hook_deliveries(
        &self,
        hook: &Hook,
        query: &DeliveryQuery,
    ) -> Result<HookDeliveries>;

    /// Asks GitHub to send delivery `delivery_id` of the hook again (202: queued). The new
    /// attempt shows in [`GitHub::list_hook_deliveries`] with the same `guid` and
    /// `redelivery: true`.
    async fn redeliver_hook_delivery(&self, hook: &Hook, delivery_id: u64) -> Result<()>;
}

/// The GitHub flags functions share (`#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct GitHubArgs {
    /// GitHub API endpoint (a ghproxy, or a fake in tests).
    #[arg(long, env = "GITHUB_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub github_endpoint: String,
    /// File holding a GitHub token; without one (or an app) GitHub is simulated (nothing
    /// is sent).
    #[arg(long, env = "GITHUB_TOKEN_PATH")]
    pub github_token_path: Option<PathBuf>,
    /// Act as this GitHub App (with --github-app-private-key-path) instead of a token:
    /// each org through its own installation.
    #[arg(long, env = "GITHUB_APP_ID", requires = "github_app_private_key_path")]
    pub github_app_id: Option<u64>,
    /// The GitHub App's private key (PEM).
    #[arg(long, env = "GITHUB_APP_PRIVATE_KEY_PATH", requires = "github_app_id")]
    pub github_app_private_key_path: Option<PathBuf>,
    /// Share the app's installation tokens with every other instance through this ghproxy
    /// (sealed with a key derived from the private key) instead of each instance minting its
    /// own.
    #[arg(long, env = "GITHUB_APP_TOKEN_CACHE_URL", requires = "github_app_id")]
    pub github_app_token_cache_url: Option<String>,
}

impl GitHubArgs {
    /// [`Settings`] for these flags; `dry_run` makes no writes.
    pub fn settings(&self, dry_run: bool) -> Settings {
        Settings {
            endpoint: self.github_endpoint.clone(),
            token_path: self.github_token_path.clone(),
            app_id: self.github_app_id,
            app_private_key_path: self.github_app_private_key_path.clone(),
            app_token_cache_url: self.github_app_token_cache_url.clone(),
            dry_run,
            ..Settings::default()
        }
    }
}

/// How a function reaches GitHub; binaries fill it from flags/env.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// API base URI; empty means [`DEFAULT_ENDPOINT`]. GitHub Enterprise: `https://host/api/v3`.
    pub endpoint: String,
    /// File holding a personal access token.
    pub token_path: Option<PathBuf>,
    /// GitHub App id, with `app_private_key_path`.
    pub app_id: Option<u64>,
    pub app_private_key_path: Option<PathBuf>,
    /// Act through this one installation of the app for every org, instead of looking up
    /// each org's installation.
    pub app_installation_id: Option<u64>,
    /// Where app installation tokens are kept; `None` is a [`SharedTokenCache`] in
    /// `app_token_cache_url` when set, else one [`MemoryTokenCache`] per client.
    pub token_cache: Option<Arc<dyn TokenCache>>,
    /// A ghproxy that keeps the app's installation tokens for every instance.
    pub app_token_cache_url: Option<String>,
    /// Make no writes. With credentials, reads still go to GitHub ([`ReadOnlyGitHub`], Prow's
    /// `--dry-run`); without, nothing is called ([`DryRunGitHub`], also the choice whenever
    /// no credentials are given).
    pub dry_run: bool,
    /// Dry run only: users answered as org members/collaborators.
    pub dry_run_trusted_users: Vec<String>,
}

/// Builds the client `settings` ask for: [`DryRunGitHub`] without credentials, else
/// octocrab with the token or the GitHub App, wrapped in [`ReadOnlyGitHub`] for a dry run.
pub fn connect(settings: &Settings) -> Result<Arc<dyn GitHub>> {
    let credentials =
        match (
            &settings.token_path,
            settings.app_id,
            &settings.app_private_key_path,
            settings.app_installation_id,
        ) {
            (Some(path), None, None, None) => Some(Credentials::token_from_file(path)?),
            (None, Some(app_id), Some(key_path), installation_id) => Some(
                Credentials::app_from_file(app_id, key_path, installation_id)?,
            ),
            (None, None, None, None) => None,
            _ => {
                return Err(GitHubError::Setup(
                    "give either a token file or a GitHub App id with its private key".to_owned(),
                ));
            }
        };
    let Some(credentials) = credentials else {
        return Ok(Arc::new(
            DryRunGitHub::new().trust(settings.dry_run_trusted_users.iter().cloned()),
        ));
    };
    let endpoint = if settings.endpoint.is_empty() {
        DEFAULT_ENDPOINT
    } else {
        settings.endpoint.as_str()
    };
    let mut builder = OctocrabGitHub::builder(endpoint).credentials(credentials);
    if let Some(cache) = &settings.token_cache {
        builder = builder.token_cache(cache.clone());
    } else if let (Some(url), Some(key_path)) = (
        &settings.app_token_cache_url,
        &settings.app_private_key_path,
    ) {
        let pem = std::fs::read(key_path)
            .map_err(|e| GitHubError::Setup(format!("reading {}: {e}", key_path.display())))?;
        builder = builder.token_cache(Arc::new(SharedTokenCache::new(url, &pem)?));
    }
    let client: Arc<dyn GitHub> = Arc::new(builder.build()?);
    if settings.dry_run {
        Ok(Arc::new(ReadOnlyGitHub::new(client)))
    } else {
        Ok(client)
    }
}
