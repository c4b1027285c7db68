//! The plugin contract: each plugin says which events it wants and which GitHub facts it needs
//! for one, then decides purely (event + facts -> actions); the shell fetches the facts once per
//! event for all plugins and applies the actions.

use std::sync::Arc;

use prow_core::config::PluginsConfig;
use prow_owners::{Filenames, RepoOwners};

use crate::event::Event;
use crate::help::PluginHelp;
use crate::registry::Repo;

/// One plugin. Implementations hold no state: everything comes from the event, the facts and
/// plugins.yaml.
pub trait Plugin: Sync + std::fmt::Debug {
    /// The name plugins.yaml enables it by.
    fn name(&self) -> &'static str;

    /// GitHub webhook event names it handles (Prow's help lists them).
    fn events(&self) -> &'static [&'static str];

    /// Prow's help provider: description, commands, and the settings of `repos` (those enabling it).
    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp;

    /// The facts deciding on `event` needs, or `None` when the plugin has nothing to do with it
    /// (so an unrelated event costs no GitHub call).
    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs>;

    /// What to do; pure.
    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action>;
}

/// GitHub facts a decision may need; the shell fetches the union over all plugins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The issue's current labels (payload labels may be stale after a redelivery).
    pub labels: bool,
    /// Whether the comment's author is a collaborator of the repo.
    pub commenter_is_collaborator: bool,
    /// Whether the comment's author is a member of the repo's org.
    pub commenter_is_org_member: bool,
    /// Teams (slugs, in the repo's org) to ask whether the comment's author is in.
    pub commenter_teams: Vec<String>,
    /// The issue's comments (for notifications we edit, prune or must not repeat).
    pub comments: bool,
    /// The tree hash of the PR's head commit.
    pub head_tree: bool,
    /// Whether the PR's author is in this team of the org (lgtm's sticky team).
    pub author_in_team: Option<String>,
    /// The approvers and reviewers in the OWNERS files of the PR's changed files, at its base.
    pub owners_reviewers: bool,
    /// The PR itself (body, base branch), its changed files, and the repository's OWNERS at
    /// its base (approve's arithmetic).
    pub pull_request_owners: bool,
    /// The PR's reviews (approve reads approvals from them).
    pub reviews: bool,
    /// The labels the repository defines (owners-label adds no others).
    pub repo_labels: bool,
    /// Whether the comment's author is trusted by trigger's rule (org member, collaborator
    /// unless only org members count, trusted app or member of the trusted org).
    pub commenter_trust: Option<OwnersCheck>,
    /// The PR's changed line counts and what marks files generated at its base (size).
    pub size: bool,
    /// The PR's head statuses, changed files and the repo's presubmits (skip).
    pub skip: bool,
    /// The PR's commits.
    pub commits: bool,
    /// The PR's changed files with their line counts.
    pub changes: bool,
    /// The PR's changed OWNERS and aliases files at its head, and whether their newly added
    /// owners are trusted (verify-owners).
    pub owners_changes: Option<OwnersCheck>,
    /// The labels of these other issues or PRs of the repo (release-note reads the parents
    /// of a cherry-pick).
    pub labels_of: Vec<u64>,
    /// The PR's head and its `dco` status, and which authors of commits lacking a sign-off
    /// are trusted by this rule (`skip_trust_check`: nobody is asked).
    pub dco: Option<OwnersCheck>,
    /// Wait this long before reading anything (a grace period for labels added just after
    /// an issue or PR opens).
    pub settle: Option<std::time::Duration>,
    /// The PR's base branch, when the event does not carry it.
    pub base_ref: bool,
    /// Whether the PR's author is trusted by this rule, and their PRs in the repo.
    pub author_history: Option<OwnersCheck>,
    /// Whether the comment's author may override (checked in this order, stopping at the
    /// first yes), then the PR's head statuses, protection and presubmits (override).
    pub override_: Option<crate::override_::OverrideCheck>,
    /// Members of these teams (slugs, in the repo's org).
    pub team_members: Vec<String>,
    /// The repo's open milestones.
    pub milestones: bool,
}

/// What verify-owners needs read: which files are OWNERS files here, and how to tell
/// whether a newly added owner is trusted (Prow's trigger rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnersCheck {
    pub filenames: Filenames,
    /// `owners.skip_collaborators` names the repo: nobody's trust is checked.
    pub skip_trust_check: bool,
    pub only_org_members: bool,
    /// A second org whose members are trusted (`trusted_org`), empty for none.
    pub trusted_org: String,
    /// GitHub Apps trusted as `<app>[bot]`.
    pub trusted_apps: Vec<String>,
}

impl Needs {
    /// Both sets of needs.
    pub fn union(self, other: Needs) -> Needs {
        let author_in_team = self.author_in_team.or(other.author_in_team);
        Needs {
            labels: self.labels || other.labels,
            commenter_is_collaborator: self.commenter_is_collaborator
                || other.commenter_is_collaborator,
            commenter_is_org_member: self.commenter_is_org_member || other.commenter_is_org_member,
            commenter_teams: union_of(self.commenter_teams, other.commenter_teams),
            comments: self.comments || other.comments,
            head_tree: self.head_tree || other.head_tree,
            author_in_team,
            owners_reviewers: self.owners_reviewers || other.owners_reviewers,
            pull_request_owners: self.pull_request_owners || other.pull_request_owners,
            reviews: self.reviews || other.reviews,
            repo_labels: self.repo_labels || other.repo_labels,
            commenter_trust: self.commenter_trust.or(other.commenter_trust),
            size: self.size || other.size,
            skip: self.skip || other.skip,
            commits: self.commits || other.commits,
            changes: self.changes || other.changes,
            owners_changes: self.owners_changes.or(other.owners_changes),
            labels_of: union_of(self.labels_of, other.labels_of),
            dco: self.dco.or(other.dco),
            settle: self.settle.max(other.settle),
            base_ref: self.base_ref || other.base_ref,
            author_history: self.author_history.or(other.author_history),
            override_: self.override_.or(other.override_),
            team_members: union_of(self.team_members, other.team_members),
            milestones: self.milestones || other.milestones,
        }
    }
}

/// `a` then those of `b` not in it.
fn union_of<T: PartialEq>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
    for x in b {
        if !a.contains(&x) {
            a.push(x);
        }
    }
    a
}

/// A comment already on the issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub user: String,
    pub body: String,
    /// Whether it was edited since it was created.
    pub edited: bool,
    pub html_url: String,
    /// RFC 3339, as GitHub sends it (UTC, so it orders as text).
    pub created_at: String,
}

/// A review of the PR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrReview {
    pub user: String,
    /// A GitHub App's account (Prow treats those as bots).
    pub user_is_bot: bool,
    /// Upper case, as the reviews API spells it (`APPROVED`, `CHANGES_REQUESTED`, ...).
    pub state: String,
    pub body: String,
    pub html_url: String,
    /// RFC 3339; empty for a pending review.
    pub submitted_at: String,
}

/// The PR as approve needs it, whichever event brought us here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrFacts {
    pub body: String,
    pub html_url: String,
    /// The base branch's name (OWNERS links point into it).
    pub base_ref: String,
    pub base_sha: String,
    pub assignees: Vec<String>,
    pub changed_files: Vec<String>,
}

/// One commit of the PR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrCommit {
    pub sha: String,
    pub message: String,
    /// How many parents: more than one is a merge commit.
    pub parents: usize,
    /// The author's GitHub login, when the commit's email belongs to an account.
    pub author_login: Option<String>,
}

/// What the shell found out, per [`Needs`]; unneeded facts stay empty.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Our own login.
    pub bot: String,
    pub labels: Vec<String>,
    pub commenter_is_collaborator: bool,
    pub commenter_is_org_member: bool,
    /// Those of the asked teams the comment's author is in.
    pub commenter_teams: Vec<String>,
    pub comments: Vec<IssueComment>,
    pub head_tree: Option<String>,
    pub author_in_team: bool,
    /// Approvers and reviewers of the changed files (lower-case logins).
    pub owners_reviewers: Vec<String>,
    pub pull_request: Option<PrFacts>,
    /// The repository's OWNERS at the PR's base, as plugins see them (collaborators only
    /// unless `skip_collaborators`).
    pub repo_owners: Option<Arc<RepoOwners>>,
    pub reviews: Vec<PrReview>,
    /// Labels the repository defines.
    pub repo_labels: Vec<String>,
    pub commenter_trusted: bool,
    pub size: Option<crate::size::SizeFacts>,
    pub skip: Option<crate::skip::SkipFacts>,
    pub commits: Vec<PrCommit>,
    pub changes: Vec<crate::size::FileChange>,
    pub owners_changes: Option<OwnersChanges>,
    /// Labels of the issues [`Needs::labels_of`] asked about; one GitHub could not read is
    /// absent (Prow logs it and goes on).
    pub labels_of: std::collections::BTreeMap<u64, Vec<String>>,
    pub dco: Option<crate::dco::DcoFacts>,
    /// The PR's base branch ([`Needs::base_ref`]).
    pub base_ref: Option<String>,
    /// [`Needs::author_history`]: whether the author is trusted, and the numbers of their PRs
    /// in the repo (GitHub's search).
    pub author_trusted: bool,
    pub author_prs: Vec<u64>,
    pub override_: Option<crate::override_::OverrideFacts>,
    /// Logins of the teams [`Needs::team_members`] asked about; a team GitHub could not list
    /// is absent.
    pub team_members: std::collections::BTreeMap<String, Vec<String>>,
    /// The repo's open milestones: (title, number).
    pub milestones: Vec<(String, u64)>,
}

/// One changed (not removed) OWNERS file at the PR's head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedOwnersFile {
    pub path: String,
    pub contents: String,
    /// GitHub's diff of it; absent for very large diffs.
    pub patch: Option<String>,
}

/// The PR's OWNERS changes as verify-owners reads them, fetched at the PR's head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnersChanges {
    pub filenames: Filenames,
    /// The commit the files were read at.
    pub head_sha: String,
    /// The PR's description and address (Prow quotes them when it complains).
    pub pr_body: String,
    pub pr_url: String,
    pub owners_files: Vec<ChangedOwnersFile>,
    /// The root aliases file at the head, if there is one.
    pub aliases: Option<String>,
    pub aliases_changed: bool,
    pub aliases_patch: Option<String>,
    /// Newly added owners that were checked and are not trusted, with Prow's reason.
    pub untrusted: std::collections::BTreeMap<String, String>,
}

impl Facts {
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l.eq_ignore_ascii_case(label))
    }

    /// Our comments, oldest first.
    pub fn bot_comments(&self) -> impl DoubleEndedIterator<Item = &IssueComment> {
        self.comments
            .iter()
            .filter(|c| c.user.eq_ignore_ascii_case(&self.bot))
    }
}

/// Something a plugin does on GitHub (or, for [`Action::CreateProwJob`], in Kubernetes). Every
/// action is safe to repeat: labels and assignments converge, [`Action::Comment`] is skipped
/// when we already said exactly that, and a ProwJob's name is derived from the delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    AddLabel(String),
    RemoveLabel(String),
    /// Comment, unless one of our comments already has this exact body.
    Comment(String),
    /// Replace the body of one of our comments (a notification kept in one place).
    EditComment {
        id: u64,
        body: String,
    },
    DeleteComment(u64),
    Assign {
        logins: Vec<String>,
        /// Said when GitHub would not assign some of them.
        missing: Option<MissingReply>,
    },
    Unassign(Vec<String>),
    RequestReview {
        logins: Vec<String>,
        missing: Option<MissingReply>,
    },
    UnrequestReview(Vec<String>),
    /// Close (`open: false`) or reopen the issue or PR.
    SetState {
        open: bool,
        /// GitHub's `state_reason` for a closed issue (`completed`, `not_planned`).
        reason: Option<String>,
        /// When GitHub refuses the change (422), answer with its message and stop.
        refused: Option<RefusedReply>,
    },
    /// Change the issue's or PR's title.
    Retitle(String),
    /// Replace the issue's or PR's description.
    EditBody(String),
    /// Delete a git ref of the repo (`heads/<branch>`).
    DeleteRef(String),
    /// Set a commit status.
    CreateStatus {
        sha: String,
        context: String,
        /// As GitHub spells it (`success`, `failure`, ...).
        state: String,
        description: String,
        /// Where the status links to (empty for nowhere).
        target_url: String,
    },
    /// Create this ProwJob; one that already exists (a redelivery) counts as created.
    CreateProwJob(Box<prow_core::prowjob::ProwJob>),
    /// Set (`Some(number)`) or clear the issue's or PR's milestone.
    SetMilestone(Option<u64>),
}

/// The reply when GitHub refuses a change: `prefix` + GitHub's message, answering `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedReply {
    pub prefix: String,
    pub to: crate::respond::ReplyTo,
}

/// The reply when GitHub refused some users: `before` + the users joined by `, ` + `after`,
/// sent as a response to the comment that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingReply {
    pub before: String,
    pub after: String,
    pub to: crate::respond::ReplyTo,
}

impl MissingReply {
    /// The comment for these missing users.
    pub fn render(&self, missing: &[String]) -> String {
        let message = format!("{}{}{}", self.before, missing.join(", "), self.after);
        self.to.reply(&message)
    }
}
