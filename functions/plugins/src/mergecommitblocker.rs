//! mergecommitblocker: a PR whose commits include a merge commit gets
//! `do-not-merge/contains-merge-commits` and Prow's rebase advice; once they are gone the label
//! and our advice go too (Prow's `pkg/plugins/mergecommitblocker`, which reads the commits from a
//! clone; here from the PR's commit list).

use prow_core::config::PluginsConfig;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::format_simple_response;

pub const LABEL: &str = "do-not-merge/contains-merge-commits";

#[derive(Debug)]
pub struct MergeCommitBlocker;

/// Prow's advice, which also marks our comment for pruning.
pub fn advice() -> String {
    format!(
        "Adding label `{LABEL}` because PR contains merge commits, which are not allowed in this repository.\nUse `git rebase` to reapply your commits on top of the target branch. Detailed instructions for doing so can be found [here](https://git.k8s.io/community/contributors/guide/github-workflow.md#4-keep-your-branch-in-sync)."
    )
}

fn relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && matches!(event.action.as_str(), "opened" | "reopened" | "synchronize")
}

impl Plugin for MergeCommitBlocker {
    fn name(&self) -> &'static str {
        "mergecommitblocker"
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: format!(
                "The merge commit blocker plugin adds the {LABEL} label to pull requests that contain merge commits"
            ),
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        relevant(event).then(|| Needs {
            labels: true,
            comments: true,
            commits: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, _: &PluginsConfig) -> Vec<Action> {
        if !relevant(event) {
            return vec![];
        }
        let merges = facts.commits.iter().any(|c| c.parents > 1);
        let has = facts.has_label(LABEL);
        let advice = advice();
        if has && !merges {
            let mut out = vec![Action::RemoveLabel(LABEL.into())];
            out.extend(
                facts
                    .bot_comments()
                    .filter(|c| c.body.contains(&advice))
                    .map(|c| Action::DeleteComment(c.id)),
            );
            out
        } else if !has && merges {
            vec![
                Action::AddLabel(LABEL.into()),
                Action::Comment(format_simple_response(&advice)),
            ]
        } else {
            vec![]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PullRequest;
    use crate::plugin::{IssueComment, PrCommit};
    use crate::testing::{comment_event, facts_with_labels};

    #[test]
    fn merge_commits_label_and_explain_and_their_absence_cleans_up() {
        let cfg = PluginsConfig::default();
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = "synchronize".into();
        ev.comment = None;
        ev.pull_request = Some(PullRequest::default());
        let commit = |parents: usize| PrCommit {
            sha: "s".into(),
            parents,
            ..PrCommit::default()
        };
        let facts = |labels: &[&str], parents: &[usize]| Facts {
            commits: parents.iter().map(|p| commit(*p)).collect(),
            comments: vec![IssueComment {
                id: 4,
                user: "prow-bot".into(),
                body: format_simple_response(&advice()),
                ..IssueComment::default()
            }],
            ..facts_with_labels(labels)
        };
        assert_eq!(
            MergeCommitBlocker.decide(&ev, &facts(&[], &[1, 2]), &cfg),
            [
                Action::AddLabel(LABEL.into()),
                Action::Comment(format_simple_response(&advice()))
            ]
        );
        assert!(
            MergeCommitBlocker
                .decide(&ev, &facts(&[LABEL], &[2]), &cfg)
                .is_empty()
        );
        assert_eq!(
            MergeCommitBlocker.decide(&ev, &facts(&[LABEL], &[1, 1]), &cfg),
            [Action::RemoveLabel(LABEL.into()), Action::DeleteComment(4)]
        );
        assert!(
            MergeCommitBlocker
                .decide(&ev, &facts(&[], &[1]), &cfg)
                .is_empty()
        );
        ev.action = "edited".into();
        assert!(MergeCommitBlocker.needs(&ev, &cfg).is_none());
    }
}
