//! Merging a pull request (`PUT /repos/{o}/{r}/pulls/{n}/merge`) and the ways GitHub refuses it, as Prow tells them apart.

use serde::{Deserialize, Serialize};

/// How GitHub combines the pull request into its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    #[default]
    Merge,
    Squash,
    Rebase,
}

/// The merge request body. `None` fields are left out (GitHub's defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MergeRequest {
    /// The head SHA the merge was decided on: GitHub refuses (409) if the head moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_method: Option<MergeMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_message: Option<String>,
}

/// What GitHub answered a merge. Refusals are outcomes, not errors, because tide acts on
/// each differently (retry later, drop from the pool, report); other failures (404, 422,
/// 5xx) stay [`crate::GitHubError`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MergeOutcome {
    /// 200: merged; `sha` is the merge (or squash/rebase) commit.
    Merged { sha: String },
    /// 405 "Base branch was modified" (Prow's `UnmergablePRBaseChangedError`): try again.
    BaseBranchModified { message: String },
    /// 405 "You're not authorized to push to this branch" (`UnauthorizedToPushError`).
    UnauthorizedToPush { message: String },
    /// 405 "Merge commits are not allowed on this repository" (`MergeCommitsForbiddenError`).
    MergeCommitsForbidden { message: String },
    /// Any other 405 (`UnmergablePRError`): conflicts, failing required checks, reviews.
    NotMergeable { message: String },
    /// 409 (`ModifiedHeadError`): the head is no longer `sha`.
    HeadModified { message: String },
}

impl MergeOutcome {
    pub fn is_merged(&self) -> bool {
        matches!(self, MergeOutcome::Merged { .. })
    }

    /// Reads a 405 message as Prow does (substring matches on GitHub's wording).
    pub(crate) fn from_405(message: String) -> Self {
        if message.contains("Base branch was modified") {
            MergeOutcome::BaseBranchModified { message }
        } else if message.contains("You're not authorized to push to this branch") {
            MergeOutcome::UnauthorizedToPush { message }
        } else if message.contains("Merge commits are not allowed on this repository") {
            MergeOutcome::MergeCommitsForbidden { message }
        } else {
            MergeOutcome::NotMergeable { message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_405_is_told_apart_by_githubs_wording() {
        let cases = [
            (
                "Base branch was modified. Review and try the merge again.",
                "base_branch_modified",
            ),
            (
                "You're not authorized to push to this branch. Visit https://x for more information.",
                "unauthorized_to_push",
            ),
            (
                "Merge commits are not allowed on this repository.",
                "merge_commits_forbidden",
            ),
            ("Pull Request is not mergeable", "not_mergeable"),
            ("Required status check \"ci\" is expected.", "not_mergeable"),
        ];
        for (message, want) in cases {
            let outcome = MergeOutcome::from_405(message.to_owned());
            let tag = serde_json::to_value(&outcome).map(|v| v["outcome"].clone());
            assert_eq!(tag.ok(), Some(serde_json::json!(want)), "{message}");
            assert!(!outcome.is_merged());
        }
    }
}
