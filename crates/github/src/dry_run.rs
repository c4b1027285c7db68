//! A GitHub that touches nothing: records every call (for `prow up` without a token, `--dry-run`, and other crates' tests) and answers reads from memory.
//!
//! Answers, chosen so a dry run never trusts or invents more than it was told:
//! - `bot_login`: `prow-dry-run` unless set with [`DryRunGitHub::with_bot_login`].
//! - membership (org, collaborator, team): true only for users given to
//!   [`DryRunGitHub::trust`] (and, as for the real client, a user in the org of the same name).
//!   Everyone else is untrusted, so `/ok-to-test`-style gates behave as for a stranger.
//! - `get_pull_request`, `get_ref`: what was seeded, else [`GitHubError::DryRunUnknown`]
//!   (a SHA or a pull request cannot be made up).
//! - `pull_request_changes`: what was seeded, else no files (only `always_run` jobs match).
//! - comments, labels, statuses: start empty (labels from a seeded pull request) and follow
//!   the writes made through this instance, so "edit my earlier comment" logic works.
//! - `get_tree`, `get_file`: the files seeded with [`DryRunGitHub::with_files`] at that ref
//!   (tree entries carry no object SHAs); an unseeded ref is [`GitHubError::DryRunUnknown`],
//!   an unseeded path at a seeded ref is no file.
//! - `get_issue`: a seeded issue, else one made from a seeded pull request, else unknown;
//!   assignees follow `add_assignees`/`remove_assignees`, which assign everyone asked (a
//!   dry run cannot tell who GitHub would refuse). Review requests likewise all succeed.
//! - `list_reviews`, `list_team_members`, `get_repo_labels`: what was seeded, else none;
//!   `list_collaborators`: the trusted users.
//! - PR commits, milestones, check runs, issue events, searches (by exact query): what was
//!   seeded, else none; `list_pull_requests` filters the seeded pull requests;
//!   `get_commit`, `get_pull_request_patch`: seeded, else unknown; protection: seeded, else none.
//! - `list_org_repos`, `list_branches`: seeded, else none; a branch counts as protected when
//!   this dry run holds a protection for it (seeded or written), so listings follow writes.
//! - Merges, ref and commit creation, PR creation and issue edits are acted out on the seeded
//!   state so later reads see them; what GitHub would name (merge and commit SHAs) is made up
//!   as a zero-padded counter, and a stale `sha` or an existing ref fails as GitHub would.
//! - `list_hook_deliveries`: the deliveries seeded for that hook, newest first, else none;
//!   a redelivery is only recorded (whether the hook would answer 2xx is not ours to invent).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Serialize;

use crate::GitHub;
use crate::branch_protection::{
    BranchProtection, BranchProtectionRequest, RequiredReviews, Restrictions, RestrictionsRequest,
};
use crate::error::{GitHubError, Result};
use crate::git_data::{Commit, GitCommit, MergeBranchOutcome, NewCommit};
use crate::hooks::{DeliveryQuery, Hook, HookDeliveries, HookDelivery};
use crate::merge::{MergeOutcome, MergeRequest};
use crate::types::{
    Branch, CheckRun, GitTree, Issue, IssueComment, IssueEdit, IssueEvent, IssuePullRequestLinks,
    IssueSearchItem, IssueState, Label, Milestone, MilestoneEdit, NewPullRequest, NewStatus,
    OrgRepo, PullRequest, PullRequestBranch, PullRequestChange, PullRequestQuery, Review,
    StateFilter, Status, TreeEntry, User, normalize_login, truncate_description,
};

/// One call made to a [`DryRunGitHub`], with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    BotLogin,
    GetPullRequest {
        org: String,
        repo: String,
        number: u64,
    },
    PullRequestChanges {
        org: String,
        repo: String,
        number: u64,
    },
    IsOrgMember {
        org: String,
        user: String,
    },
    IsCollaborator {
        org: String,
        repo: String,
        user: String,
    },
    IsTeamMember {
        org: String,
        team_slug: String,
        user: String,
    },
    UserPermission {
        org: String,
        repo: String,
        user: String,
    },
    IsTeamMemberById {
        org_id: u64,
        team_id: u64,
        user: String,
    },
    OrgId {
        org: String,
    },
    GetRef {
        org: String,
        repo: String,
        git_ref: String,
    },
    CombinedStatus {
        org: String,
        repo: String,
        sha: String,
    },
    CreateStatus {
        org: String,
        repo: String,
        sha: String,
        status: NewStatus,
    },
    ListIssueComments {
        org: String,
        repo: String,
        number: u64,
    },
    CreateComment {
        org: String,
        repo: String,
        number: u64,
        body: String,
    },
    EditComment {
        org: String,
        repo: String,
        comment_id: u64,
        body: String,
    },
    DeleteComment {
        org: String,
        repo: String,
        comment_id: u64,
    },
    AddLabel {
        org: String,
        repo: String,
        number: u64,
        label: String,
    },
    RemoveLabel {
        org: String,
        repo: String,
        number: u64,
        label: String,
    },
    GetIssueLabels {
        org: String,
        repo: String,
        number: u64,
    },
    GetIssue {
        org: String,
        repo: String,
        number: u64,
    },
    GetTree {
        org: String,
        repo: String,
        sha: String,
    },
    GetFile {
        org: String,
        repo: String,
        git_ref: String,
        path: String,
    },
    ListReviews {
        org: String,
        repo: String,
        number: u64,
    },
    RequestReviewers {
        org: String,
        repo: String,
        number: u64,
        logins: Vec<String>,
    },
    UnrequestReviewers {
        org: String,
        repo: String,
        number: u64,
        logins: Vec<String>,
    },
    AddAssignees {
        org: String,
        repo: String,
        number: u64,
        logins: Vec<String>,
    },
    RemoveAssignees {
        org: String,
        repo: String,
        number: u64,
        logins: Vec<String>,
    },
    ListCollaborators {
        org: String,
        repo: String,
    },
    ListTeamMembers {
        org: String,
        team_slug: String,
    },
    GetRepoLabels {
        org: String,
        repo: String,
    },
    ListPullRequestCommits {
        org: String,
        repo: String,
        number: u64,
    },
    EditIssue {
        org: String,
        repo: String,
        number: u64,
        edit: IssueEdit,
    },
    ListMilestones {
        org: String,
        repo: String,
    },
    ListPullRequests {
        org: String,
        repo: String,
        query: PullRequestQuery,
    },
    SearchIssues {
        query: String,
    },
    MergePullRequest {
        org: String,
        repo: String,
        number: u64,
        request: MergeRequest,
    },
    ListCheckRuns {
        org: String,
        repo: String,
        git_ref: String,
    },
    GetBranchProtection {
        org: String,
        repo: String,
        branch: String,
    },
    UpdateBranchProtection {
        org: String,
        repo: String,
        branch: String,
        request: BranchProtectionRequest,
    },
    RemoveBranchProtection {
        org: String,
        repo: String,
        branch: String,
    },
    SetRequiredSignatures {
        org: String,
        repo: String,
        branch: String,
        required: bool,
    },
    GetCommit {
        org: String,
        repo: String,
        sha: String,
    },
    CreateCommit {
        org: String,
        repo: String,
        commit: NewCommit,
    },
    CreateRef {
        org: String,
        repo: String,
        git_ref: String,
        sha: String,
    },
    UpdateRef {
        org: String,
        repo: String,
        git_ref: String,
        sha: String,
        force: bool,
    },
    DeleteRef {
        org: String,
        repo: String,
        git_ref: String,
    },
    MergeBranches {
        org: String,
        repo: String,
        base: String,
        head: String,
        commit_message: String,
    },
    CreatePullRequest {
        org: String,
        repo: String,
        pull_request: NewPullRequest,
    },
    GetPullRequestPatch {
        org: String,
        repo: String,
        number: u64,
    },
    ListIssueEvents {
        org: String,
        repo: String,
        number: u64,
    },
    ListOrgRepos {
        org: String,
    },
    ListBranches {
        org: String,
        repo: String,
    },
    ListHookDeliveries {
        hook: Hook,
    },
    RedeliverHookDelivery {
        hook: Hook,
        delivery_id: u64,
    },
}

impl Call {
    /// True for calls that would change something on GitHub.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Call::CreateStatus { .. }
                | Call::CreateComment { .. }
                | Call::EditComment { .. }
                | Call::DeleteComment { .. }
                | Call::AddLabel { .. }
                | Call::RemoveLabel { .. }
                | Call::RequestReviewers { .. }
                | Call::UnrequestReviewers { .. }
                | Call::AddAssignees { .. }
                | Call::RemoveAssignees { .. }
                | Call::EditIssue { .. }
                | Call::MergePullRequest { .. }
                | Call::UpdateBranchProtection { .. }
                | Call::RemoveBranchProtection { .. }
                | Call::SetRequiredSignatures { .. }
                | Call::CreateCommit { .. }
                | Call::CreateRef { .. }
                | Call::UpdateRef { .. }
                | Call::DeleteRef { .. }
                | Call::MergeBranches { .. }
                | Call::CreatePullRequest { .. }
                | Call::RedeliverHookDelivery { .. }
        )
    }
}

type IssueKey = (String, String, u64);
type RepoKey = (String, String);
/// (org, repo, ref or SHA or branch).
type RefKey = (String, String, String);

fn issue_key(org: &str, repo: &str, number: u64) -> IssueKey {
    (org.to_owned(), repo.to_owned(), number)
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Call>,
    pulls: HashMap<IssueKey, PullRequest>,
    changes: HashMap<IssueKey, Vec<PullRequestChange>>,
    refs: HashMap<(String, String, String), String>,
    statuses: HashMap<(String, String, String), Vec<Status>>,
    comments: HashMap<IssueKey, Vec<IssueComment>>,
    labels: HashMap<IssueKey, Vec<Label>>,
    last_comment_id: u64,
    /// Files by (org, repo, ref), path -> contents.
    files: HashMap<(String, String, String), BTreeMap<String, Vec<u8>>>,
    issues: HashMap<IssueKey, Issue>,
    /// Assignee logins once a write changed them (else the seeded issue's).
    assignees: HashMap<IssueKey, Vec<String>>,
    requested_reviewers: HashMap<IssueKey, Vec<String>>,
    reviews: HashMap<IssueKey, Vec<Review>>,
    team_members: HashMap<(String, String), Vec<String>>,
    /// Permissions by (org, repo, lower-case login).
    permissions: HashMap<RefKey, String>,
    repo_labels: HashMap<(String, String), Vec<Label>>,
    commits: HashMap<IssueKey, Vec<Commit>>,
    milestones: HashMap<RepoKey, Vec<Milestone>>,
    search_results: HashMap<String, Vec<IssueSearchItem>>,
    merge_outcomes: HashMap<IssueKey, MergeOutcome>,
    check_runs: HashMap<RefKey, Vec<CheckRun>>,
    /// By (org, repo, branch).
    protections: HashMap<RefKey, BranchProtection>,
    /// By (org, repo, SHA).
    git_commits: HashMap<RefKey, GitCommit>,
    patches: HashMap<IssueKey, String>,
    issue_events: HashMap<IssueKey, Vec<IssueEvent>>,
    org_repos: HashMap<String, Vec<OrgRepo>>,
    /// Branch names by (org, repo).
    branches: HashMap<RepoKey, Vec<String>>,
    hook_deliveries: HashMap<Hook, Vec<HookDelivery>>,
    /// Numbers the SHAs this dry run makes up (commits, merges).
    last_made_up_sha: u64,
}

/// [`GitHub`] that records calls instead of making them; see the module docs for its answers.
#[derive(Debug)]
pub struct DryRunGitHub {
    bot_login: String,
    /// Lower-cased logins answered as members/collaborators.
    trusted: BTreeSet<String>,
    state: Mutex<State>,
}

impl Default for DryRunGitHub {
    fn default() -> Self {
        Self::new()
    }
}

impl DryRunGitHub {
    pub fn new() -> Self {
        DryRunGitHub {
            bot_login: "prow-dry-run".to_owned(),
            trusted: BTreeSet::new(),
            state: Mutex::new(State::default()),
        }
    }

    pub fn with_bot_login(mut self, login: impl Into<String>) -> Self {
        self.bot_login = login.into();
        self
    }

    /// Users answered as org members, collaborators and team members.
    pub fn trust<I, S>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trusted
            .extend(users.into_iter().map(|u| u.as_ref().to_ascii_lowercase()));
        self
    }

    /// Makes `get_pull_request` (and the issue's labels) answer with `pr`.
    pub fn with_pull_request(self, org: &str, repo: &str, pr: PullRequest) -> Self {
        {
            let mut state = self.lock();
            state.pulls.insert(issue_key(org, repo, pr.number), pr);
        }
        self
    }

    pub fn with_changes(
        self,
        org: &str,
        repo: &str,
        number: u64,
        changes: Vec<PullRequestChange>,
    ) -> Self {
        self.lock()
            .changes
            .insert(issue_key(org, repo, number), changes);
        self
    }

    /// Makes `get_ref(org, repo, git_ref)` answer `sha`; `git_ref` as passed, e.g. `heads/main`.
    pub fn with_ref(self, org: &str, repo: &str, git_ref: &str, sha: &str) -> Self {
        self.lock().refs.insert(
            (org.to_owned(), repo.to_owned(), git_ref.to_owned()),
            sha.to_owned(),
        );
        self
    }

    /// Makes the tree at `git_ref` (a SHA or branch, as later passed to `get_tree` and
    /// `get_file`) hold exactly `files`, given as (path, contents).
    pub fn with_files<I, P, C>(self, org: &str, repo: &str, git_ref: &str, files: I) -> Self
    where
        I: IntoIterator<Item = (P, C)>,
        P: Into<String>,
        C: Into<Vec<u8>>,
    {
        let files = files
            .into_iter()
            .map(|(path, contents)| (path.into(), contents.into()))
            .collect();
        self.lock()
            .files
            .insert((org.to_owned(), repo.to_owned(), git_ref.to_owned()), files);
        self
    }

    /// Makes `get_issue` answer with `issue`.
    pub fn with_issue(self, org: &str, repo: &str, issue: Issue) -> Self {
        self.lock()
            .issues
            .insert(issue_key(org, repo, issue.number), issue);
        self
    }

    pub fn with_reviews(self, org: &str, repo: &str, number: u64, reviews: Vec<Review>) -> Self {
        self.lock()
            .reviews
            .insert(issue_key(org, repo, number), reviews);
        self
    }

    /// The permission `user_permission` answers for `user` on `org/repo` (else `none`).
    pub fn with_permission(self, org: &str, repo: &str, user: &str, permission: &str) -> Self {
        self.lock().permissions.insert(
            (org.to_owned(), repo.to_owned(), user.to_ascii_lowercase()),
            permission.to_owned(),
        );
        self
    }

    pub fn with_team_members<I, S>(self, org: &str, team_slug: &str, logins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lock().team_members.insert(
            (org.to_owned(), team_slug.to_owned()),
            logins.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// The labels `get_repo_labels` answers for `org/repo`.
    pub fn with_repo_labels<I, S>(self, org: &str, repo: &str, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lock().repo_labels.insert(
            (org.to_owned(), repo.to_owned()),
            names
                .into_iter()
                .map(|name| Label {
                    name: name.into(),
                    color: String::new(),
                })
                .collect(),
        );
        self
    }

    /// Makes `list_pull_request_commits` answer `commits`.
    pub fn with_commits(self, org: &str, repo: &str, number: u64, commits: Vec<Commit>) -> Self {
        self.lock()
            .commits
            .insert(issue_key(org, repo, number), commits);
        self
    }

    /// Makes `list_org_repos` answer `repos`.
    pub fn with_org_repos(self, org: &str, repos: Vec<OrgRepo>) -> Self {
        self.lock().org_repos.insert(org.to_owned(), repos);
        self
    }

    /// Makes `list_branches` answer these names; whether each is protected follows the
    /// protections this dry run holds.
    pub fn with_branches<I, S>(self, org: &str, repo: &str, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lock().branches.insert(
            (org.to_owned(), repo.to_owned()),
            names.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Makes `list_hook_deliveries(hook, ..)` answer `deliveries` (in any order; listed
    /// newest first).
    pub fn with_hook_deliveries(self, hook: Hook, deliveries: Vec<HookDelivery>) -> Self {
        self.lock().hook_deliveries.insert(hook, deliveries);
        self
    }

    /// Makes `list_milestones` answer `milestones`; `edit_issue` finds milestone titles here.
    pub fn with_milestones(self, org: &str, repo: &str, milestones: Vec<Milestone>) -> Self {
        self.lock()
            .milestones
            .insert((org.to_owned(), repo.to_owned()), milestones);
        self
    }

    /// Seeds several pull requests at once (see [`DryRunGitHub::with_pull_request`]);
    /// `list_pull_requests` filters the seeded ones.
    pub fn with_pull_requests<I>(self, org: &str, repo: &str, prs: I) -> Self
    where
        I: IntoIterator<Item = PullRequest>,
    {
        prs.into_iter()
            .fold(self, |gh, pr| gh.with_pull_request(org, repo, pr))
    }

    /// Makes `search_issues(query)` (this exact query) answer `items`.
    pub fn with_search_results(self, query: &str, items: Vec<IssueSearchItem>) -> Self {
        self.lock().search_results.insert(query.to_owned(), items);
        self
    }

    /// Makes `merge_pull_request` of that pull request answer `outcome` instead of merging.
    pub fn with_merge_outcome(
        self,
        org: &str,
        repo: &str,
        number: u64,
        outcome: MergeOutcome,
    ) -> Self {
        self.lock()
            .merge_outcomes
            .insert(issue_key(org, repo, number), outcome);
        self
    }

    /// Makes `list_check_runs(org, repo, git_ref)` answer `runs`.
    pub fn with_check_runs(
        self,
        org: &str,
        repo: &str,
        git_ref: &str,
        runs: Vec<CheckRun>,
    ) -> Self {
        self.lock()
            .check_runs
            .insert(ref_key(org, repo, git_ref), runs);
        self
    }

    /// Makes `branch` protected as `protection`.
    pub fn with_branch_protection(
        self,
        org: &str,
        repo: &str,
        branch: &str,
        protection: BranchProtection,
    ) -> Self {
        self.lock()
            .protections
            .insert(ref_key(org, repo, branch), protection);
        self
    }

    /// Makes `get_commit(org, repo, commit.sha)` answer `commit`.
    pub fn with_git_commit(self, org: &str, repo: &str, commit: GitCommit) -> Self {
        self.lock()
            .git_commits
            .insert(ref_key(org, repo, &commit.sha), commit);
        self
    }

    /// Makes `get_pull_request_patch` answer `patch`.
    pub fn with_patch(self, org: &str, repo: &str, number: u64, patch: impl Into<String>) -> Self {
        self.lock()
            .patches
            .insert(issue_key(org, repo, number), patch.into());
        self
    }

    /// Makes `list_issue_events` answer `events`.
    pub fn with_issue_events(
        self,
        org: &str,
        repo: &str,
        number: u64,
        events: Vec<IssueEvent>,
    ) -> Self {
        self.lock()
            .issue_events
            .insert(issue_key(org, repo, number), events);
        self
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls so far that would have changed GitHub.
    pub fn writes(&self) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.is_write())
            .cloned()
            .collect()
    }

    /// Returns the calls so far and forgets them.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.lock().calls)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `call` (logging writes) and returns the state for answering it.
    fn record(&self, call: Call) -> MutexGuard<'_, State> {
        if call.is_write() {
            tracing::info!(?call, "dry-run: GitHub call not made");
        } else {
            tracing::debug!(?call, "dry-run: GitHub read answered from memory");
        }
        let mut state = self.lock();
        state.calls.push(call);
        state
    }

    fn note(&self, call: Call) {
        drop(self.record(call));
    }

    /// Records a write without acting it out ([`crate::ReadOnlyGitHub`], whose refs live
    /// on GitHub).
    pub(crate) fn record_only(&self, call: Call) {
        self.note(call);
    }

    /// A commit made through this instance, so a read-only run can read back its own.
    pub(crate) fn made_commit(&self, org: &str, repo: &str, sha: &str) -> Option<GitCommit> {
        self.lock()
            .git_commits
            .get(&ref_key(org, repo, sha))
            .cloned()
    }

    fn trusts(&self, user: &str) -> bool {
        self.trusted.contains(&user.to_ascii_lowercase())
    }
}

/// The directories above each file, as `tree` entries, then the files as `blob`s.
fn tree_of(files: &BTreeMap<String, Vec<u8>>) -> Vec<TreeEntry> {
    let mut dirs = BTreeSet::new();
    for path in files.keys() {
        let mut dir = path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            dirs.insert(parent.to_owned());
            dir = parent;
        }
    }
    let dirs = dirs.into_iter().map(|path| TreeEntry {
        path,
        kind: "tree".to_owned(),
        mode: "040000".to_owned(),
        ..TreeEntry::default()
    });
    let blobs = files.iter().map(|(path, contents)| TreeEntry {
        path: path.clone(),
        kind: "blob".to_owned(),
        mode: "100644".to_owned(),
        size: u64::try_from(contents.len()).ok(),
        ..TreeEntry::default()
    });
    dirs.chain(blobs).collect()
}

fn ref_key(org: &str, repo: &str, name: &str) -> RefKey {
    (org.to_owned(), repo.to_owned(), name.to_owned())
}

/// `heads/x` for `refs/heads/x` or `heads/x`: refs are stored as `get_ref` is asked.
fn short_ref(git_ref: &str) -> &str {
    git_ref.strip_prefix("refs/").unwrap_or(git_ref)
}

/// GitHub's answer to a ref change it refuses, so a dry run fails where GitHub would.
fn unprocessable(call: String, message: &str) -> GitHubError {
    GitHubError::Status {
        call,
        status: 422,
        message: message.to_owned(),
    }
}

/// The protection GitHub would report after `request` was put.
fn protection_from(request: &BranchProtectionRequest) -> BranchProtection {
    let restrictions = |r: &RestrictionsRequest| Restrictions {
        users: r.users.clone().unwrap_or_default(),
        teams: r.teams.clone().unwrap_or_default(),
        apps: r.apps.clone().unwrap_or_default(),
    };
    BranchProtection {
        required_status_checks: request.required_status_checks.clone(),
        enforce_admins: request.enforce_admins.unwrap_or(false),
        required_pull_request_reviews: request.required_pull_request_reviews.as_ref().map(|r| {
            RequiredReviews {
                dismiss_stale_reviews: r.dismiss_stale_reviews,
                require_code_owner_reviews: r.require_code_owner_reviews,
                required_approving_review_count: r.required_approving_review_count,
                dismissal_restrictions: Some(restrictions(&r.dismissal_restrictions)),
                bypass_pull_request_allowances: Some(restrictions(
                    &r.bypass_pull_request_allowances,
                )),
            }
        }),
        restrictions: request.restrictions.as_ref().map(restrictions),
        allow_force_pushes: request.allow_force_pushes,
        allow_deletions: request.allow_deletions,
        required_linear_history: request.required_linear_history,
        required_signatures: false,
    }
}

fn owned(logins: &[String]) -> Vec<String> {
    logins.to_vec()
}

impl State {
    /// The issue as seeded, or made from a seeded pull request.
    fn issue(&self, key: &IssueKey) -> Option<Issue> {
        let mut issue = match (self.issues.get(key), self.pulls.get(key)) {
            (Some(issue), _) => issue.clone(),
            (None, Some(pr)) => Issue {
                number: pr.number,
                title: pr.title.clone(),
                body: pr.body.clone().unwrap_or_default(),
                user: pr.user.clone(),
                labels: pr.labels.clone(),
                assignees: Vec::new(),
                state: pr.state,
                html_url: pr.html_url.clone(),
                pull_request: Some(IssuePullRequestLinks {
                    url: String::new(),
                    html_url: pr.html_url.clone(),
                }),
                milestone: pr.milestone.clone(),
            },
            (None, None) => return None,
        };
        if let Some(labels) = self.labels.get(key) {
            issue.labels = labels.clone();
        }
        if let Some(assignees) = self.assignees.get(key) {
            issue.assignees = assignees
                .iter()
                .map(|login| User {
                    login: login.clone(),
                    ..User::default()
                })
                .collect();
        }
        Some(issue)
    }

    fn assignees_mut(&mut self, key: &IssueKey) -> &mut Vec<String> {
        let seeded = self
            .issues
            .get(key)
            .map(|i| i.assignees.iter().map(|u| u.login.clone()).collect())
            .unwrap_or_default();
        self.assignees.entry(key.clone()).or_insert(seeded)
    }

    /// A SHA-shaped name for something this dry run pretends to create: the zero-padded
    /// counter, so it is recognizably made up.
    fn made_up_sha(&mut self) -> String {
        self.last_made_up_sha += 1;
        format!("{:040x}", self.last_made_up_sha)
    }

    fn ref_sha(&self, org: &str, repo: &str, branch: &str) -> String {
        self.refs
            .get(&ref_key(org, repo, &format!("heads/{branch}")))
            .cloned()
            .unwrap_or_default()
    }

    fn labels_mut(&mut self, key: &IssueKey) -> &mut Vec<Label> {
        let seeded = self
            .pulls
            .get(key)
            .map(|pr| pr.labels.clone())
            .unwrap_or_default();
        self.labels.entry(key.clone()).or_insert(seeded)
    }
}

#[async_trait]
impl GitHub for DryRunGitHub {
    async fn bot_login(&self) -> Result<String> {
        self.note(Call::BotLogin);
        Ok(self.bot_login.clone())
    }

    async fn get_pull_request(&self, org: &str, repo: &str, number: u64) -> Result<PullRequest> {
        let state = self.record(Call::GetPullRequest {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        state
            .pulls
            .get(&issue_key(org, repo, number))
            .cloned()
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_pull_request {org}/{repo}#{number}"),
            })
    }

    async fn pull_request_changes(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<PullRequestChange>> {
        let state = self.record(Call::PullRequestChanges {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        Ok(state
            .changes
            .get(&issue_key(org, repo, number))
            .cloned()
            .unwrap_or_default())
    }

    async fn is_org_member(&self, org: &str, user: &str) -> Result<bool> {
        self.note(Call::IsOrgMember {
            org: org.to_owned(),
            user: user.to_owned(),
        });
        Ok(org.eq_ignore_ascii_case(user) || self.trusts(user))
    }

    async fn is_collaborator(&self, org: &str, repo: &str, user: &str) -> Result<bool> {
        self.note(Call::IsCollaborator {
            org: org.to_owned(),
            repo: repo.to_owned(),
            user: user.to_owned(),
        });
        Ok(self.trusts(user))
    }

    async fn user_permission(&self, org: &str, repo: &str, user: &str) -> Result<String> {
        let state = self.record(Call::UserPermission {
            org: org.to_owned(),
            repo: repo.to_owned(),
            user: user.to_owned(),
        });
        Ok(state
            .permissions
            .get(&(org.to_owned(), repo.to_owned(), user.to_ascii_lowercase()))
            .cloned()
            .unwrap_or_else(|| "none".to_owned()))
    }

    async fn is_team_member(&self, org: &str, team_slug: &str, user: &str) -> Result<bool> {
        self.note(Call::IsTeamMember {
            org: org.to_owned(),
            team_slug: team_slug.to_owned(),
            user: user.to_owned(),
        });
        Ok(self.trusts(user))
    }

    async fn is_team_member_by_id(&self, org_id: u64, team_id: u64, user: &str) -> Result<bool> {
        self.note(Call::IsTeamMemberById {
            org_id,
            team_id,
            user: user.to_owned(),
        });
        Ok(self.trusts(user))
    }

    /// Dry run: 0 for every org; team lookups by id answer from the trusted users whatever
    /// the org id.
    async fn org_id(&self, org: &str) -> Result<u64> {
        self.note(Call::OrgId {
            org: org.to_owned(),
        });
        Ok(0)
    }

    async fn get_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<String> {
        let state = self.record(Call::GetRef {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
        });
        state
            .refs
            .get(&(org.to_owned(), repo.to_owned(), git_ref.to_owned()))
            .cloned()
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_ref {org}/{repo} {git_ref}"),
            })
    }

    async fn combined_status(&self, org: &str, repo: &str, sha: &str) -> Result<Vec<Status>> {
        let state = self.record(Call::CombinedStatus {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
        });
        Ok(state
            .statuses
            .get(&(org.to_owned(), repo.to_owned(), sha.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<()> {
        let mut state = self.record(Call::CreateStatus {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
            status: status.clone(),
        });
        let statuses = state
            .statuses
            .entry((org.to_owned(), repo.to_owned(), sha.to_owned()))
            .or_default();
        statuses.retain(|s| s.context != status.context);
        statuses.push(Status {
            context: status.context.clone(),
            state: status.state,
            description: status.description.as_deref().map(truncate_description),
            target_url: status.target_url.clone(),
        });
        Ok(())
    }

    async fn list_issue_comments(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>> {
        let state = self.record(Call::ListIssueComments {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        Ok(state
            .comments
            .get(&issue_key(org, repo, number))
            .cloned()
            .unwrap_or_default())
    }

    async fn create_comment(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<IssueComment> {
        let mut state = self.record(Call::CreateComment {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            body: body.to_owned(),
        });
        state.last_comment_id += 1;
        let comment = IssueComment {
            id: state.last_comment_id,
            user: User {
                login: self.bot_login.clone(),
                ..User::default()
            },
            body: body.to_owned(),
            ..IssueComment::default()
        };
        state
            .comments
            .entry(issue_key(org, repo, number))
            .or_default()
            .push(comment.clone());
        Ok(comment)
    }

    async fn edit_comment(&self, org: &str, repo: &str, comment_id: u64, body: &str) -> Result<()> {
        let mut state = self.record(Call::EditComment {
            org: org.to_owned(),
            repo: repo.to_owned(),
            comment_id,
            body: body.to_owned(),
        });
        for ((o, r, _), comments) in state.comments.iter_mut() {
            if o == org && r == repo {
                for comment in comments.iter_mut().filter(|c| c.id == comment_id) {
                    comment.body = body.to_owned();
                }
            }
        }
        Ok(())
    }

    async fn delete_comment(&self, org: &str, repo: &str, comment_id: u64) -> Result<()> {
        let mut state = self.record(Call::DeleteComment {
            org: org.to_owned(),
            repo: repo.to_owned(),
            comment_id,
        });
        for ((o, r, _), comments) in state.comments.iter_mut() {
            if o == org && r == repo {
                comments.retain(|c| c.id != comment_id);
            }
        }
        Ok(())
    }

    async fn add_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        let mut state = self.record(Call::AddLabel {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            label: label.to_owned(),
        });
        let labels = state.labels_mut(&issue_key(org, repo, number));
        if !labels.iter().any(|l| l.name == label) {
            labels.push(Label {
                name: label.to_owned(),
                ..Label::default()
            });
        }
        Ok(())
    }

    async fn remove_label(&self, org: &str, repo: &str, number: u64, label: &str) -> Result<()> {
        let mut state = self.record(Call::RemoveLabel {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            label: label.to_owned(),
        });
        state
            .labels_mut(&issue_key(org, repo, number))
            .retain(|l| l.name != label);
        Ok(())
    }

    async fn get_issue_labels(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Label>> {
        let mut state = self.record(Call::GetIssueLabels {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        Ok(state.labels_mut(&issue_key(org, repo, number)).clone())
    }

    async fn get_repo_labels(&self, org: &str, repo: &str) -> Result<Vec<Label>> {
        let state = self.record(Call::GetRepoLabels {
            org: org.to_owned(),
            repo: repo.to_owned(),
        });
        Ok(state
            .repo_labels
            .get(&(org.to_owned(), repo.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn get_issue(&self, org: &str, repo: &str, number: u64) -> Result<Issue> {
        let state = self.record(Call::GetIssue {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        state
            .issue(&issue_key(org, repo, number))
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_issue {org}/{repo}#{number}"),
            })
    }

    async fn get_tree(&self, org: &str, repo: &str, sha: &str) -> Result<GitTree> {
        let state = self.record(Call::GetTree {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
        });
        let files = state
            .files
            .get(&(org.to_owned(), repo.to_owned(), sha.to_owned()))
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_tree {org}/{repo}@{sha}"),
            })?;
        Ok(GitTree {
            sha: sha.to_owned(),
            entries: tree_of(files),
            truncated: false,
        })
    }

    async fn get_file(
        &self,
        org: &str,
        repo: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>> {
        let state = self.record(Call::GetFile {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            path: path.to_owned(),
        });
        let files = state
            .files
            .get(&(org.to_owned(), repo.to_owned(), git_ref.to_owned()))
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_file {org}/{repo}@{git_ref} {path}"),
            })?;
        Ok(files.get(path.trim_start_matches('/')).cloned())
    }

    async fn list_reviews(&self, org: &str, repo: &str, number: u64) -> Result<Vec<Review>> {
        let state = self.record(Call::ListReviews {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        Ok(state
            .reviews
            .get(&issue_key(org, repo, number))
            .cloned()
            .unwrap_or_default())
    }

    async fn request_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let mut state = self.record(Call::RequestReviewers {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            logins: owned(logins),
        });
        let requested = state
            .requested_reviewers
            .entry(issue_key(org, repo, number))
            .or_default();
        add_logins(requested, logins);
        Ok(owned(logins))
    }

    async fn unrequest_reviewers(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let mut state = self.record(Call::UnrequestReviewers {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            logins: owned(logins),
        });
        if let Some(requested) = state
            .requested_reviewers
            .get_mut(&issue_key(org, repo, number))
        {
            remove_logins(requested, logins);
        }
        Ok(Vec::new())
    }

    async fn add_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let mut state = self.record(Call::AddAssignees {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            logins: owned(logins),
        });
        add_logins(state.assignees_mut(&issue_key(org, repo, number)), logins);
        Ok(owned(logins))
    }

    async fn remove_assignees(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        logins: &[String],
    ) -> Result<Vec<String>> {
        let mut state = self.record(Call::RemoveAssignees {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            logins: owned(logins),
        });
        remove_logins(state.assignees_mut(&issue_key(org, repo, number)), logins);
        Ok(Vec::new())
    }

    async fn list_collaborators(&self, org: &str, repo: &str) -> Result<Vec<User>> {
        self.note(Call::ListCollaborators {
            org: org.to_owned(),
            repo: repo.to_owned(),
        });
        Ok(self
            .trusted
            .iter()
            .map(|login| User {
                login: login.clone(),
                ..User::default()
            })
            .collect())
    }

    async fn list_team_members(&self, org: &str, team_slug: &str) -> Result<Vec<User>> {
        let state = self.record(Call::ListTeamMembers {
            org: org.to_owned(),
            team_slug: team_slug.to_owned(),
        });
        Ok(state
            .team_members
            .get(&(org.to_owned(), team_slug.to_owned()))
            .into_iter()
            .flatten()
            .map(|login| User {
                login: login.clone(),
                ..User::default()
            })
            .collect())
    }

    async fn list_pull_request_commits(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<Commit>> {
        let state = self.record(Call::ListPullRequestCommits {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        Ok(state
            .commits
            .get(&issue_key(org, repo, number))
            .cloned()
            .unwrap_or_default())
    }

    async fn edit_issue(&self, org: &str, repo: &str, number: u64, edit: &IssueEdit) -> Result<()> {
        let mut state = self.record(Call::EditIssue {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            edit: edit.clone(),
        });
        let key = issue_key(org, repo, number);
        let milestone = edit.milestone.map(|change| match change {
            MilestoneEdit::Clear => None,
            MilestoneEdit::Set(number) => Some(
                state
                    .milestones
                    .get(&(org.to_owned(), repo.to_owned()))
                    .and_then(|all| all.iter().find(|m| m.number == number).cloned())
                    .unwrap_or(Milestone {
                        number,
                        ..Milestone::default()
                    }),
            ),
        });
        // Later reads see the edit, whether the issue was seeded as an issue or a PR.
        if !state.issues.contains_key(&key)
            && let Some(issue) = state.issue(&key)
        {
            state.issues.insert(key.clone(), issue);
        }
        if let Some(issue) = state.issues.get_mut(&key) {
            if let Some(title) = &edit.title {
                issue.title = title.clone();
            }
            if let Some(body) = &edit.body {
                issue.body = body.clone();
            }
            if let Some(issue_state) = edit.state {
                issue.state = issue_state;
            }
            if let Some(milestone) = &milestone {
                issue.milestone = milestone.clone();
            }
        }
        if let Some(pr) = state.pulls.get_mut(&key) {
            if let Some(title) = &edit.title {
                pr.title = title.clone();
            }
            if let Some(body) = &edit.body {
                pr.body = Some(body.clone());
            }
            if let Some(issue_state) = edit.state {
                pr.state = issue_state;
            }
            if let Some(milestone) = milestone {
                pr.milestone = milestone;
            }
        }
        Ok(())
    }

    async fn list_milestones(&self, org: &str, repo: &str) -> Result<Vec<Milestone>> {
        let state = self.record(Call::ListMilestones {
            org: org.to_owned(),
            repo: repo.to_owned(),
        });
        Ok(state
            .milestones
            .get(&(org.to_owned(), repo.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn list_pull_requests(
        &self,
        org: &str,
        repo: &str,
        query: &PullRequestQuery,
    ) -> Result<Vec<PullRequest>> {
        let state = self.record(Call::ListPullRequests {
            org: org.to_owned(),
            repo: repo.to_owned(),
            query: query.clone(),
        });
        let mut prs: Vec<PullRequest> = state
            .pulls
            .iter()
            .filter(|((o, r, _), _)| o == org && r == repo)
            .map(|(_, pr)| pr)
            .filter(|pr| match query.state {
                StateFilter::Open => pr.state == IssueState::Open,
                StateFilter::Closed => pr.state == IssueState::Closed,
                StateFilter::All => true,
            })
            .filter(|pr| query.base.as_ref().is_none_or(|b| *b == pr.base.git_ref))
            .cloned()
            .collect();
        // GitHub lists the newest first.
        prs.sort_by_key(|pr| std::cmp::Reverse(pr.number));
        Ok(prs)
    }

    async fn search_issues(&self, query: &str) -> Result<Vec<IssueSearchItem>> {
        let state = self.record(Call::SearchIssues {
            query: query.to_owned(),
        });
        Ok(state.search_results.get(query).cloned().unwrap_or_default())
    }

    async fn merge_pull_request(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        request: &MergeRequest,
    ) -> Result<MergeOutcome> {
        let mut state = self.record(Call::MergePullRequest {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
            request: request.clone(),
        });
        let key = issue_key(org, repo, number);
        if let Some(outcome) = state.merge_outcomes.get(&key) {
            return Ok(outcome.clone());
        }
        if let (Some(pr), Some(sha)) = (state.pulls.get(&key), &request.sha)
            && pr.head.sha != *sha
        {
            return Ok(MergeOutcome::HeadModified {
                message: "Head branch was modified. Review and try the merge again.".to_owned(),
            });
        }
        let sha = state.made_up_sha();
        if let Some(pr) = state.pulls.get_mut(&key) {
            pr.merged = true;
            pr.state = IssueState::Closed;
            pr.merge_commit_sha = Some(sha.clone());
        }
        Ok(MergeOutcome::Merged { sha })
    }

    async fn list_check_runs(&self, org: &str, repo: &str, git_ref: &str) -> Result<Vec<CheckRun>> {
        let state = self.record(Call::ListCheckRuns {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
        });
        Ok(state
            .check_runs
            .get(&ref_key(org, repo, git_ref))
            .cloned()
            .unwrap_or_default())
    }

    async fn get_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<BranchProtection>> {
        let state = self.record(Call::GetBranchProtection {
            org: org.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
        });
        Ok(state.protections.get(&ref_key(org, repo, branch)).cloned())
    }

    async fn update_branch_protection(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        request: &BranchProtectionRequest,
    ) -> Result<()> {
        let mut state = self.record(Call::UpdateBranchProtection {
            org: org.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
            request: request.clone(),
        });
        state
            .protections
            .insert(ref_key(org, repo, branch), protection_from(request));
        Ok(())
    }

    async fn remove_branch_protection(&self, org: &str, repo: &str, branch: &str) -> Result<()> {
        let mut state = self.record(Call::RemoveBranchProtection {
            org: org.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
        });
        state.protections.remove(&ref_key(org, repo, branch));
        Ok(())
    }

    async fn set_required_signatures(
        &self,
        org: &str,
        repo: &str,
        branch: &str,
        required: bool,
    ) -> Result<()> {
        let mut state = self.record(Call::SetRequiredSignatures {
            org: org.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
            required,
        });
        // As GitHub: only a protected branch has the setting.
        match state.protections.get_mut(&ref_key(org, repo, branch)) {
            Some(protection) => {
                protection.required_signatures = required;
                Ok(())
            }
            None => Err(GitHubError::Status {
                call: format!("set_required_signatures {org}/{repo}:{branch}"),
                status: 404,
                message: "Branch not protected".to_owned(),
            }),
        }
    }

    async fn get_commit(&self, org: &str, repo: &str, sha: &str) -> Result<GitCommit> {
        let state = self.record(Call::GetCommit {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
        });
        state
            .git_commits
            .get(&ref_key(org, repo, sha))
            .cloned()
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_commit {org}/{repo}@{sha}"),
            })
    }

    async fn create_commit(&self, org: &str, repo: &str, commit: &NewCommit) -> Result<String> {
        let mut state = self.record(Call::CreateCommit {
            org: org.to_owned(),
            repo: repo.to_owned(),
            commit: commit.clone(),
        });
        let sha = state.made_up_sha();
        let created = GitCommit {
            sha: sha.clone(),
            tree: commit.tree.clone(),
            parents: commit.parents.clone(),
            message: commit.message.clone(),
            author: commit.author.clone().unwrap_or_default(),
            committer: commit.committer.clone().unwrap_or_default(),
        };
        state.git_commits.insert(ref_key(org, repo, &sha), created);
        Ok(sha)
    }

    async fn create_ref(&self, org: &str, repo: &str, git_ref: &str, sha: &str) -> Result<()> {
        let mut state = self.record(Call::CreateRef {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            sha: sha.to_owned(),
        });
        let key = ref_key(org, repo, short_ref(git_ref));
        if state.refs.contains_key(&key) {
            return Err(unprocessable(
                format!("create_ref {org}/{repo} {git_ref}"),
                "Reference already exists",
            ));
        }
        state.refs.insert(key, sha.to_owned());
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
        let mut state = self.record(Call::UpdateRef {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            sha: sha.to_owned(),
            force,
        });
        match state.refs.get_mut(&ref_key(org, repo, short_ref(git_ref))) {
            Some(current) => {
                *current = sha.to_owned();
                Ok(())
            }
            None => Err(unprocessable(
                format!("update_ref {org}/{repo} {git_ref}"),
                "Reference does not exist",
            )),
        }
    }

    async fn delete_ref(&self, org: &str, repo: &str, git_ref: &str) -> Result<()> {
        let mut state = self.record(Call::DeleteRef {
            org: org.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
        });
        state.refs.remove(&ref_key(org, repo, short_ref(git_ref)));
        Ok(())
    }

    async fn merge_branches(
        &self,
        org: &str,
        repo: &str,
        base: &str,
        head: &str,
        commit_message: &str,
    ) -> Result<MergeBranchOutcome> {
        let mut state = self.record(Call::MergeBranches {
            org: org.to_owned(),
            repo: repo.to_owned(),
            base: base.to_owned(),
            head: head.to_owned(),
            commit_message: commit_message.to_owned(),
        });
        let sha = state.made_up_sha();
        if let Some(current) = state
            .refs
            .get_mut(&ref_key(org, repo, &format!("heads/{base}")))
        {
            *current = sha.clone();
        }
        Ok(MergeBranchOutcome::Merged { sha })
    }

    async fn create_pull_request(
        &self,
        org: &str,
        repo: &str,
        pull_request: &NewPullRequest,
    ) -> Result<PullRequest> {
        let mut state = self.record(Call::CreatePullRequest {
            org: org.to_owned(),
            repo: repo.to_owned(),
            pull_request: pull_request.clone(),
        });
        // Issues and pull requests share numbers.
        let number = state
            .pulls
            .keys()
            .chain(state.issues.keys())
            .filter(|(o, r, _)| o == org && r == repo)
            .map(|(_, _, n)| *n)
            .max()
            .unwrap_or(0)
            + 1;
        let branch = |git_ref: &str, sha: String| PullRequestBranch {
            git_ref: git_ref.to_owned(),
            sha,
            repo: None,
        };
        let head_branch = pull_request
            .head
            .rsplit_once(':')
            .map_or(pull_request.head.as_str(), |(_, b)| b);
        let pr = PullRequest {
            number,
            state: IssueState::Open,
            draft: pull_request.draft,
            title: pull_request.title.clone(),
            body: Some(pull_request.body.clone()),
            user: User {
                login: self.bot_login.clone(),
                ..User::default()
            },
            head: branch(head_branch, state.ref_sha(org, repo, head_branch)),
            base: branch(
                &pull_request.base,
                state.ref_sha(org, repo, &pull_request.base),
            ),
            html_url: format!("https://github.com/{org}/{repo}/pull/{number}"),
            ..PullRequest::default()
        };
        state.pulls.insert(issue_key(org, repo, number), pr.clone());
        Ok(pr)
    }

    async fn get_pull_request_patch(&self, org: &str, repo: &str, number: u64) -> Result<String> {
        let state = self.record(Call::GetPullRequestPatch {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        state
            .patches
            .get(&issue_key(org, repo, number))
            .cloned()
            .ok_or_else(|| GitHubError::DryRunUnknown {
                call: format!("get_pull_request_patch {org}/{repo}#{number}"),
            })
    }

    async fn list_issue_events(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueEvent>> {
        let state = self.record(Call::ListIssueEvents {
            org: org.to_owned(),
            repo: repo.to_owned(),
            number,
        });
        Ok(state
            .issue_events
            .get(&issue_key(org, repo, number))
            .cloned()
            .unwrap_or_default())
    }

    async fn list_org_repos(&self, org: &str) -> Result<Vec<OrgRepo>> {
        let state = self.record(Call::ListOrgRepos {
            org: org.to_owned(),
        });
        Ok(state.org_repos.get(org).cloned().unwrap_or_default())
    }

    async fn list_branches(&self, org: &str, repo: &str) -> Result<Vec<Branch>> {
        let state = self.record(Call::ListBranches {
            org: org.to_owned(),
            repo: repo.to_owned(),
        });
        let names = state
            .branches
            .get(&(org.to_owned(), repo.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(names
            .iter()
            .map(|name| Branch {
                name: name.clone(),
                protected: state.protections.contains_key(&ref_key(org, repo, name)),
            })
            .collect())
    }

    async fn list_hook_deliveries(
        &self,
        hook: &Hook,
        _query: &DeliveryQuery,
    ) -> Result<HookDeliveries> {
        let state = self.record(Call::ListHookDeliveries { hook: hook.clone() });
        let mut deliveries = state.hook_deliveries.get(hook).cloned().unwrap_or_default();
        deliveries.sort_by(|a, b| b.delivered_at.cmp(&a.delivered_at).then(b.id.cmp(&a.id)));
        Ok(HookDeliveries {
            deliveries,
            truncated: false,
        })
    }

    async fn redeliver_hook_delivery(&self, hook: &Hook, delivery_id: u64) -> Result<()> {
        self.note(Call::RedeliverHookDelivery {
            hook: hook.clone(),
            delivery_id,
        });
        Ok(())
    }
}

fn add_logins(current: &mut Vec<String>, logins: &[String]) {
    for login in logins {
        if !current
            .iter()
            .any(|c| normalize_login(c) == normalize_login(login))
        {
            current.push(login.clone());
        }
    }
}

fn remove_logins(current: &mut Vec<String>, logins: &[String]) {
    let gone: BTreeSet<String> = logins.iter().map(|l| normalize_login(l)).collect();
    current.retain(|c| !gone.contains(&normalize_login(c)));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::StatusState;

    #[tokio::test]
    async fn only_trusted_users_and_the_orgs_namesake_are_members() {
        let gh = DryRunGitHub::new().trust(["Alice"]);
        let cases = [
            ("acme", "alice", true),
            ("acme", "ALICE", true),
            ("acme", "mallory", false),
            ("bob", "bob", true),
        ];
        for (org, user, want) in cases {
            assert_eq!(
                gh.is_org_member(org, user).await.unwrap(),
                want,
                "{org} {user}"
            );
        }
        assert!(gh.is_collaborator("acme", "foo", "alice").await.unwrap());
        assert!(!gh.is_collaborator("acme", "foo", "bob").await.unwrap());
        assert!(!gh.is_team_member("acme", "admins", "bob").await.unwrap());
        assert!(gh.writes().is_empty());
        assert_eq!(gh.calls().len(), 7);
    }

    #[tokio::test]
    async fn seeded_files_answer_tree_and_file_reads_and_assignees_follow_writes() {
        let gh = DryRunGitHub::new()
            .with_files(
                "acme",
                "foo",
                "sha1",
                [
                    ("OWNERS", "approvers: [alice]\n"),
                    ("pkg/a/OWNERS", "reviewers: [bob]\n"),
                ],
            )
            .with_issue(
                "acme",
                "foo",
                Issue {
                    number: 3,
                    assignees: vec![User {
                        login: "carol".to_owned(),
                        ..User::default()
                    }],
                    ..Issue::default()
                },
            );
        let tree = gh.get_tree("acme", "foo", "sha1").await.unwrap();
        let paths: Vec<(&str, &str)> = tree
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("pkg", "tree"),
                ("pkg/a", "tree"),
                ("OWNERS", "blob"),
                ("pkg/a/OWNERS", "blob")
            ]
        );
        assert_eq!(
            gh.get_file("acme", "foo", "sha1", "OWNERS").await.unwrap(),
            Some(b"approvers: [alice]\n".to_vec())
        );
        assert_eq!(
            gh.get_file("acme", "foo", "sha1", "nope").await.unwrap(),
            None
        );
        assert!(
            gh.get_tree("acme", "foo", "sha2")
                .await
                .unwrap_err()
                .is_not_found()
        );

        let logins = vec!["Dave".to_owned(), "carol".to_owned()];
        assert_eq!(
            gh.add_assignees("acme", "foo", 3, &logins).await.unwrap(),
            logins
        );
        let remove = vec!["CAROL".to_owned()];
        assert!(
            gh.remove_assignees("acme", "foo", 3, &remove)
                .await
                .unwrap()
                .is_empty()
        );
        let issue = gh.get_issue("acme", "foo", 3).await.unwrap();
        assert!(issue.is_assignee("dave"));
        assert!(!issue.is_assignee("carol"));
        assert!(!issue.is_pull_request());
        assert_eq!(gh.writes().len(), 2);
    }

    #[tokio::test]
    async fn unknown_pull_requests_and_refs_are_not_made_up() {
        let gh = DryRunGitHub::new().with_ref("acme", "foo", "heads/main", "abc");
        let err = gh.get_pull_request("acme", "foo", 1).await.unwrap_err();
        assert!(err.is_not_found());
        assert!(err.to_string().contains("acme/foo#1"), "{err}");
        assert_eq!(
            gh.get_ref("acme", "foo", "heads/main").await.unwrap(),
            "abc"
        );
        assert!(gh.get_ref("acme", "foo", "heads/dev").await.is_err());
        assert!(
            gh.pull_request_changed_files("acme", "foo", 1)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn writes_are_recorded_and_reflected_in_later_reads() {
        let pr = PullRequest {
            number: 5,
            labels: vec![Label {
                name: "lgtm".to_owned(),
                ..Label::default()
            }],
            ..PullRequest::default()
        };
        let gh = DryRunGitHub::new()
            .with_bot_login("k8s-ci-robot")
            .with_pull_request("acme", "foo", pr);
        let status =
            NewStatus::new("pull-foo-unit", StatusState::Pending).description("Job triggered.");
        gh.create_status("acme", "foo", "sha1", &status)
            .await
            .unwrap();
        gh.create_status(
            "acme",
            "foo",
            "sha1",
            &NewStatus::new("pull-foo-unit", StatusState::Success),
        )
        .await
        .unwrap();
        let statuses = gh.combined_status("acme", "foo", "sha1").await.unwrap();
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].state, StatusState::Success);

        let first = gh.create_comment("acme", "foo", 5, "hello").await.unwrap();
        let second = gh.create_comment("acme", "foo", 5, "again").await.unwrap();
        assert_ne!(first.id, second.id);
        assert_eq!(first.user.login, "k8s-ci-robot");
        gh.edit_comment("acme", "foo", first.id, "edited")
            .await
            .unwrap();
        gh.delete_comment("acme", "foo", second.id).await.unwrap();
        let comments = gh.list_issue_comments("acme", "foo", 5).await.unwrap();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0].body, "edited");

        gh.add_label("acme", "foo", 5, "approved").await.unwrap();
        gh.remove_label("acme", "foo", 5, "lgtm").await.unwrap();
        gh.remove_label("acme", "foo", 5, "never-there")
            .await
            .unwrap();
        let labels: Vec<String> = gh
            .get_issue_labels("acme", "foo", 5)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(labels, vec!["approved"]);

        let writes = gh.writes();
        assert_eq!(writes.len(), 9);
        assert_eq!(
            writes[0],
            Call::CreateStatus {
                org: "acme".to_owned(),
                repo: "foo".to_owned(),
                sha: "sha1".to_owned(),
                status,
            }
        );
        assert_eq!(gh.take_calls().len(), 12);
        assert!(gh.calls().is_empty());
    }

    #[tokio::test]
    async fn repo_labels_are_what_was_seeded_for_that_repo_only() {
        let gh = DryRunGitHub::new().with_repo_labels("acme", "foo", ["kind/bug", "area/docs"]);
        let names =
            |labels: Vec<Label>| -> Vec<String> { labels.into_iter().map(|l| l.name).collect() };
        assert_eq!(
            names(gh.get_repo_labels("acme", "foo").await.unwrap()),
            ["kind/bug", "area/docs"]
        );
        assert!(gh.get_repo_labels("acme", "bar").await.unwrap().is_empty());
        assert!(gh.writes().is_empty());
        assert_eq!(
            gh.calls()[0],
            Call::GetRepoLabels {
                org: "acme".to_owned(),
                repo: "foo".to_owned(),
            }
        );
    }

    fn pr(number: u64, base: &str, head_sha: &str) -> PullRequest {
        PullRequest {
            number,
            title: format!("PR {number}"),
            base: PullRequestBranch {
                git_ref: base.to_owned(),
                ..PullRequestBranch::default()
            },
            head: PullRequestBranch {
                git_ref: format!("topic-{number}"),
                sha: head_sha.to_owned(),
                repo: None,
            },
            ..PullRequest::default()
        }
    }

    #[tokio::test]
    async fn seeded_pull_requests_are_listed_by_state_and_base_and_merges_close_them() {
        let gh = DryRunGitHub::new()
            .with_pull_requests(
                "acme",
                "foo",
                [pr(1, "main", "a"), pr(2, "dev", "b"), pr(3, "main", "c")],
            )
            .with_pull_request("acme", "bar", pr(9, "main", "z"))
            .with_merge_outcome(
                "acme",
                "foo",
                3,
                MergeOutcome::NotMergeable {
                    message: "Pull Request is not mergeable".to_owned(),
                },
            );
        let numbers =
            |prs: Vec<PullRequest>| -> Vec<u64> { prs.iter().map(|p| p.number).collect() };
        let into_main = PullRequestQuery::open_into("main");
        assert_eq!(
            numbers(
                gh.list_pull_requests("acme", "foo", &into_main)
                    .await
                    .unwrap()
            ),
            [3, 1]
        );

        let stale = MergeRequest {
            sha: Some("old".to_owned()),
            ..MergeRequest::default()
        };
        assert!(matches!(
            gh.merge_pull_request("acme", "foo", 1, &stale)
                .await
                .unwrap(),
            MergeOutcome::HeadModified { .. }
        ));
        let current = MergeRequest {
            sha: Some("a".to_owned()),
            ..MergeRequest::default()
        };
        let merged = gh
            .merge_pull_request("acme", "foo", 1, &current)
            .await
            .unwrap();
        assert_eq!(
            merged,
            MergeOutcome::Merged {
                sha: "0000000000000000000000000000000000000001".to_owned()
            }
        );
        assert!(
            !gh.merge_pull_request("acme", "foo", 3, &current)
                .await
                .unwrap()
                .is_merged()
        );
        assert_eq!(
            numbers(
                gh.list_pull_requests("acme", "foo", &into_main)
                    .await
                    .unwrap()
            ),
            [3]
        );
        let closed = PullRequestQuery {
            state: StateFilter::Closed,
            base: None,
        };
        let closed = gh.list_pull_requests("acme", "foo", &closed).await.unwrap();
        assert_eq!(numbers(closed.clone()), [1]);
        assert!(closed[0].merged);
        assert_eq!(gh.writes().len(), 3);
    }

    #[tokio::test]
    async fn edits_show_in_later_issue_and_pull_request_reads() {
        let gh = DryRunGitHub::new()
            .with_pull_request("acme", "foo", pr(4, "main", "a"))
            .with_milestones(
                "acme",
                "foo",
                vec![Milestone {
                    number: 2,
                    title: "v1.2".to_owned(),
                    state: IssueState::Open,
                }],
            );
        gh.edit_issue("acme", "foo", 4, &IssueEdit::title("Better"))
            .await
            .unwrap();
        gh.edit_issue("acme", "foo", 4, &IssueEdit::milestone(Some(2)))
            .await
            .unwrap();
        gh.edit_issue("acme", "foo", 4, &IssueEdit::close())
            .await
            .unwrap();
        let pr = gh.get_pull_request("acme", "foo", 4).await.unwrap();
        assert_eq!(pr.title, "Better");
        assert_eq!(pr.milestone_title(), Some("v1.2"));
        assert_eq!(pr.state, IssueState::Closed);
        let issue = gh.get_issue("acme", "foo", 4).await.unwrap();
        assert_eq!(issue.title, "Better");
        assert_eq!(issue.state, IssueState::Closed);
        assert!(issue.is_pull_request());
        gh.edit_issue("acme", "foo", 4, &IssueEdit::milestone(None))
            .await
            .unwrap();
        assert_eq!(
            gh.get_issue("acme", "foo", 4).await.unwrap().milestone,
            None
        );
        assert_eq!(
            gh.get_pull_request("acme", "foo", 4)
                .await
                .unwrap()
                .milestone,
            None
        );
        assert_eq!(gh.writes().len(), 4);
    }

    #[tokio::test]
    async fn refs_commits_and_pull_requests_made_by_a_dry_run_read_back() {
        let gh = DryRunGitHub::new()
            .with_ref("acme", "foo", "heads/release-1.0", "base1")
            .with_git_commit(
                "acme",
                "foo",
                GitCommit {
                    sha: "c1".to_owned(),
                    tree: "t1".to_owned(),
                    parents: vec!["p1".to_owned()],
                    message: "Fix".to_owned(),
                    ..GitCommit::default()
                },
            );
        let picked = gh.get_commit("acme", "foo", "c1").await.unwrap();
        assert!(
            gh.get_commit("acme", "foo", "nope")
                .await
                .unwrap_err()
                .is_not_found()
        );
        let sha = gh
            .create_commit(
                "acme",
                "foo",
                &NewCommit {
                    message: picked.message.clone(),
                    tree: picked.tree.clone(),
                    parents: vec!["base1".to_owned()],
                    ..NewCommit::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(gh.get_commit("acme", "foo", &sha).await.unwrap().tree, "t1");
        gh.create_ref("acme", "foo", "refs/heads/cherry-pick", &sha)
            .await
            .unwrap();
        let again = gh
            .create_ref("acme", "foo", "refs/heads/cherry-pick", &sha)
            .await;
        assert_eq!(again.unwrap_err().status(), Some(422));
        assert_eq!(
            gh.get_ref("acme", "foo", "heads/cherry-pick")
                .await
                .unwrap(),
            sha
        );
        assert_eq!(
            gh.update_ref("acme", "foo", "heads/missing", "x", true)
                .await
                .unwrap_err()
                .status(),
            Some(422)
        );

        let opened = gh
            .create_pull_request(
                "acme",
                "foo",
                &NewPullRequest {
                    title: "[release-1.0] Fix".to_owned(),
                    head: "cherry-pick".to_owned(),
                    base: "release-1.0".to_owned(),
                    ..NewPullRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(opened.number, 1);
        assert_eq!(opened.head.sha, sha);
        assert_eq!(opened.base.sha, "base1");
        assert_eq!(opened.user.login, "prow-dry-run");
        assert_eq!(gh.get_pull_request("acme", "foo", 1).await.unwrap(), opened);

        let merged = gh
            .merge_branches("acme", "foo", "release-1.0", "cherry-pick", "")
            .await
            .unwrap();
        let MergeBranchOutcome::Merged { sha: merge_sha } = merged else {
            panic!("{merged:?}");
        };
        assert_eq!(
            gh.get_ref("acme", "foo", "heads/release-1.0")
                .await
                .unwrap(),
            merge_sha
        );
        gh.delete_ref("acme", "foo", "heads/cherry-pick")
            .await
            .unwrap();
        assert!(
            gh.get_ref("acme", "foo", "heads/cherry-pick")
                .await
                .is_err()
        );
        let kinds: Vec<bool> = gh.calls().iter().map(Call::is_write).collect();
        assert_eq!(kinds.iter().filter(|w| **w).count(), 7);
    }

    #[tokio::test]
    async fn listed_branches_are_protected_once_a_protection_is_written() {
        let gh = DryRunGitHub::new()
            .with_org_repos(
                "acme",
                vec![OrgRepo {
                    name: "foo".to_owned(),
                    archived: false,
                    private: false,
                }],
            )
            .with_branches("acme", "foo", ["main", "dev"]);
        assert_eq!(gh.list_org_repos("acme").await.unwrap().len(), 1);
        assert!(gh.list_org_repos("other").await.unwrap().is_empty());
        gh.update_branch_protection("acme", "foo", "main", &BranchProtectionRequest::default())
            .await
            .unwrap();
        let branches = gh.list_branches("acme", "foo").await.unwrap();
        assert_eq!(
            branches,
            [
                Branch {
                    name: "main".to_owned(),
                    protected: true
                },
                Branch {
                    name: "dev".to_owned(),
                    protected: false
                },
            ]
        );
        assert!(gh.list_branches("acme", "bar").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn branch_protection_follows_updates_and_removal() {
        let gh = DryRunGitHub::new();
        assert_eq!(
            gh.get_branch_protection("acme", "foo", "main")
                .await
                .unwrap(),
            None
        );
        let request = BranchProtectionRequest {
            required_status_checks: Some(crate::RequiredStatusChecks {
                strict: true,
                contexts: vec!["tide".to_owned()],
            }),
            enforce_admins: Some(true),
            restrictions: Some(RestrictionsRequest {
                users: Some(vec!["bot".to_owned()]),
                ..RestrictionsRequest::default()
            }),
            ..BranchProtectionRequest::default()
        };
        gh.update_branch_protection("acme", "foo", "main", &request)
            .await
            .unwrap();
        let now = gh
            .get_branch_protection("acme", "foo", "main")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.required_contexts(), ["tide"]);
        assert!(now.enforce_admins);
        assert_eq!(now.restrictions.unwrap().users, ["bot"]);
        assert!(!now.required_signatures);
        gh.set_required_signatures("acme", "foo", "main", true)
            .await
            .unwrap();
        let signed = gh.get_branch_protection("acme", "foo", "main").await;
        assert!(signed.unwrap().unwrap().required_signatures);
        assert!(
            gh.set_required_signatures("acme", "foo", "unprotected", true)
                .await
                .is_err(),
            "only a protected branch has the setting"
        );
        gh.remove_branch_protection("acme", "foo", "main")
            .await
            .unwrap();
        assert_eq!(
            gh.get_branch_protection("acme", "foo", "main")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn seeded_reads_answer_and_unseeded_ones_are_empty_or_unknown() {
        let event = IssueEvent {
            event: "labeled".to_owned(),
            label: Some(Label {
                name: "approved".to_owned(),
                ..Label::default()
            }),
            ..IssueEvent::default()
        };
        let run = CheckRun {
            name: "build".to_owned(),
            status: "completed".to_owned(),
            conclusion: Some("success".to_owned()),
            ..CheckRun::default()
        };
        let hit = IssueSearchItem {
            number: 5,
            ..IssueSearchItem::default()
        };
        let gh = DryRunGitHub::new()
            .with_commits("acme", "foo", 1, vec![Commit::default()])
            .with_issue_events("acme", "foo", 1, vec![event.clone()])
            .with_check_runs("acme", "foo", "sha1", vec![run.clone()])
            .with_search_results("is:pr label:lgtm", vec![hit.clone()])
            .with_patch("acme", "foo", 1, "From abc\n");
        assert_eq!(
            gh.list_pull_request_commits("acme", "foo", 1)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            gh.list_pull_request_commits("acme", "foo", 2)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            gh.list_issue_events("acme", "foo", 1).await.unwrap(),
            [event]
        );
        assert_eq!(
            gh.list_check_runs("acme", "foo", "sha1").await.unwrap(),
            [run]
        );
        assert!(
            gh.list_check_runs("acme", "foo", "sha2")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(gh.search_issues("is:pr label:lgtm").await.unwrap(), [hit]);
        assert!(gh.search_issues("is:pr").await.unwrap().is_empty());
        assert!(gh.list_milestones("acme", "foo").await.unwrap().is_empty());
        assert_eq!(
            gh.get_pull_request_patch("acme", "foo", 1).await.unwrap(),
            "From abc\n"
        );
        assert!(
            gh.get_pull_request_patch("acme", "foo", 2)
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(gh.writes().is_empty());
        assert_eq!(
            gh.calls()[0],
            Call::ListPullRequestCommits {
                org: "acme".to_owned(),
                repo: "foo".to_owned(),
                number: 1
            }
        );
    }

    #[tokio::test]
    async fn seeded_hook_deliveries_are_listed_newest_first_and_redeliveries_recorded() {
        let hook = Hook::Org {
            org: "acme".into(),
            id: 7,
        };
        let delivery = |id: u64, at: &str| HookDelivery {
            id,
            guid: format!("g{id}"),
            delivered_at: at.parse().unwrap(),
            redelivery: false,
            status: "OK".into(),
            status_code: 200,
            event: "push".into(),
            action: None,
            installation_id: None,
            repository_id: None,
        };
        let gh = DryRunGitHub::new().with_hook_deliveries(
            hook.clone(),
            vec![
                delivery(1, "2030-01-01T00:00:00Z"),
                delivery(2, "2030-01-02T00:00:00Z"),
            ],
        );
        let query = DeliveryQuery {
            since: "2000-01-01T00:00:00Z".parse().unwrap(),
            max_pages: 1,
        };
        let listed = gh.list_hook_deliveries(&hook, &query).await.unwrap();
        let ids: Vec<u64> = listed.deliveries.iter().map(|d| d.id).collect();
        assert_eq!(ids, [2, 1]);
        assert!(
            gh.list_hook_deliveries(&Hook::App, &query)
                .await
                .unwrap()
                .deliveries
                .is_empty()
        );
        gh.redeliver_hook_delivery(&hook, 1).await.unwrap();
        assert_eq!(
            gh.writes(),
            [Call::RedeliverHookDelivery {
                hook,
                delivery_id: 1
            }]
        );
    }
}
