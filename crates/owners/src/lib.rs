//! OWNERS for prow-rs: Prow's `repoowners` (who owns each path), the approve plugin's approvers arithmetic, loading owners at a commit through the GitHub API, and verify-owners' checks.
//!
//! - [`parse_owners`], [`parse_aliases`]: the two file formats, read with go-yaml semantics;
//!   errors name the file and line.
//! - [`RepoOwners`]: built from (path, contents) pairs; approvers, reviewers, labels and
//!   required reviewers of any path, honouring `no_parent_owners`, `filters:` and the
//!   directory denylist.
//! - [`Owners`], [`Approvers`]: which OWNERS files a pull request needs approval in, who
//!   approved what, whom to suggest.
//! - [`OwnersLoader`]: reads a repository at a SHA through an [`OwnersSource`] (implemented
//!   for `Arc<dyn prow_github::GitHub>`: one tree call, one contents call per OWNERS file;
//!   no clone), caching by (org, repo, sha).
//! - [`verify_owners`]: what is wrong with changed OWNERS files.
//!
//! Logins are compared as Prow compares them: lower-cased, without a leading `@`
//! ([`normalize_login`]); `@org/team` is therefore kept as the name `org/team`, which no
//! user login matches (Prow gives teams in OWNERS no meaning either).
//!
//! `skip_collaborators`: Prow drops approvers and reviewers who are not repository
//! collaborators when it loads owners, unless the repository (or its org) is listed in
//! `owners.skip_collaborators` (`prow_core::config::PluginsConfig::skip_collaborators`);
//! [`OwnersLoader::load_for_plugins`] does the same, and
//! [`RepoOwners::filter_collaborators`] is the pure step.
//!
//! Configuration comes from prow-core's typed `plugins.yaml` (`owners:`) and config.yaml
//! (`owners_dir_denylist`): [`BuildOptions::for_repo`] turns them into what a load needs.

mod approvers;
mod config;
mod repo;
mod source;
mod verify;

pub use approvers::{
    APPROVAL_NOTIFIER, Approval, ApprovalKind, Approvers, NotificationLinks, Owners,
    OwnersFileStatus,
};
pub use config::{
    Aliases, ConfigError, DEFAULT_OWNERS_ALIASES_FILE, DEFAULT_OWNERS_FILE, DirOptions, Filenames,
    OwnersDirDenylist, OwnersEntry, OwnersFile, PRECONFIGURED_DENYLIST, ParseError, filenames_for,
    parse_aliases, parse_owners,
};
pub use prow_github::normalize_login;
pub use repo::{BuildOptions, Layered, RepoOwners};
pub use source::{LoadError, OwnersLoader, OwnersSource, load_repo_owners};
pub use verify::{
    ChangedFile, Problem, VerifyInput, added_line_positions, is_possible_login, logins_to_check,
    verify_owners,
};
