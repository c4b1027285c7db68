//! Commits and git objects: a pull request's commits as the pulls API lists them, and the git data API cherrypicker uses to build commits without a clone.

use serde::{Deserialize, Serialize};

/// Who wrote or committed a commit: the git identity, plus the GitHub account GitHub
/// matched to its email (`None` when it matched none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommitIdentity {
    pub login: Option<String>,
    pub name: String,
    pub email: String,
    /// RFC 3339.
    pub date: String,
}

/// One commit of a pull request (`GET /repos/{o}/{r}/pulls/{n}/commits`). Deserializes
/// from GitHub's shape, where git identities sit under `commit` and accounts beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(from = "RawCommit")]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub author: CommitIdentity,
    pub committer: CommitIdentity,
    /// Parent SHAs; more than one means a merge commit.
    pub parents: Vec<String>,
}

impl Commit {
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
}

#[derive(Deserialize)]
struct RawCommit {
    sha: String,
    commit: RawCommitDetail,
    #[serde(default)]
    author: Option<RawAccount>,
    #[serde(default)]
    committer: Option<RawAccount>,
    #[serde(default)]
    parents: Vec<ShaRef>,
}

#[derive(Deserialize)]
struct RawCommitDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: Option<GitActor>,
    #[serde(default)]
    committer: Option<GitActor>,
}

#[derive(Deserialize)]
struct RawAccount {
    login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct ShaRef {
    pub(crate) sha: String,
}

fn identity(actor: Option<GitActor>, account: Option<RawAccount>) -> CommitIdentity {
    let actor = actor.unwrap_or_default();
    CommitIdentity {
        login: account.map(|a| a.login),
        name: actor.name,
        email: actor.email,
        date: actor.date.unwrap_or_default(),
    }
}

impl From<RawCommit> for Commit {
    fn from(raw: RawCommit) -> Self {
        Commit {
            sha: raw.sha,
            message: raw.commit.message,
            author: identity(raw.commit.author, raw.author),
            committer: identity(raw.commit.committer, raw.committer),
            parents: raw.parents.into_iter().map(|p| p.sha).collect(),
        }
    }
}

/// A git identity as the git data API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GitActor {
    pub name: String,
    pub email: String,
    /// RFC 3339; GitHub fills in the current time when it is left out of a new commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// A git commit object (`GET /repos/{o}/{r}/git/commits/{sha}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(from = "RawGitCommit")]
pub struct GitCommit {
    pub sha: String,
    /// The SHA of the commit's root tree.
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: GitActor,
    pub committer: GitActor,
}

#[derive(Deserialize)]
struct RawGitCommit {
    sha: String,
    tree: ShaRef,
    #[serde(default)]
    parents: Vec<ShaRef>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: GitActor,
    #[serde(default)]
    committer: GitActor,
}

impl From<RawGitCommit> for GitCommit {
    fn from(raw: RawGitCommit) -> Self {
        GitCommit {
            sha: raw.sha,
            tree: raw.tree.sha,
            parents: raw.parents.into_iter().map(|p| p.sha).collect(),
            message: raw.message,
            author: raw.author,
            committer: raw.committer,
        }
    }
}

/// A commit to create (`POST /repos/{o}/{r}/git/commits`). Without `author`/`committer`
/// GitHub uses the authenticated account and the current time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewCommit {
    pub message: String,
    /// The root tree SHA.
    pub tree: String,
    pub parents: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<GitActor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committer: Option<GitActor>,
}

/// What `POST /repos/{o}/{r}/merges` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MergeBranchOutcome {
    /// 201: `base` now points at this new merge commit.
    Merged { sha: String },
    /// 204: `base` already contains `head`.
    NothingToMerge,
    /// 409: the branches conflict; nothing changed.
    Conflict { message: String },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_request_commit_reads_git_identities_and_linked_accounts() {
        let commit: Commit = serde_json::from_value(serde_json::json!({
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "commit": {
                "author": {"name": "Monalisa Octocat", "email": "mona@github.com", "date": "2011-04-14T16:00:49Z"},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2011-04-14T16:00:49Z"},
                "message": "Fix all the bugs\n\nSigned-off-by: Monalisa Octocat <mona@github.com>",
                "tree": {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"}
            },
            "author": {"login": "octocat", "id": 1},
            "committer": null,
            "parents": [{"sha": "aaa"}, {"sha": "bbb"}]
        }))
        .unwrap();
        assert_eq!(commit.author.login.as_deref(), Some("octocat"));
        assert_eq!(commit.author.email, "mona@github.com");
        assert_eq!(commit.committer.login, None);
        assert_eq!(commit.committer.name, "GitHub");
        assert!(commit.message.ends_with("<mona@github.com>"));
        assert!(commit.is_merge());
    }
}
