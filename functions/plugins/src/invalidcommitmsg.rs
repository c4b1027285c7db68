//! invalidcommitmsg: a PR whose commit messages or title hold issue-closing keywords, or whose
//! commits are `fixup!`/`amend!`/`squash!`, gets `do-not-merge/invalid-commit-message` and one
//! comment listing the problems; checks can be turned off per repo in `invalid_commit_msg`
//! (Prow's `pkg/plugins/invalidcommitmsg`). Our comment is replaced only when what it says
//! changes, so a redelivered event leaves it alone.

use prow_core::config::PluginsConfig;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin, PrCommit};
use crate::registry::Repo;
use crate::respond::ABOUT_THIS_BOT;
use crate::retitle::closes_issues;

pub const LABEL: &str = "do-not-merge/invalid-commit-message";
const MARKER: &str = "<!-- [prow:invalid-commit-message] -->";
/// Prow's bot note with its link to the command list.
pub(crate) const ABOUT_WITH_COMMANDS: &str =
    "I understand the commands that are listed [here](https://go.k8s.io/bot-commands).";

#[derive(Debug)]
pub struct InvalidCommitMsg;

fn relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && matches!(
            event.action.as_str(),
            "opened" | "reopened" | "synchronize" | "edited"
        )
}

fn is_fixup(subject: &str) -> bool {
    ["fixup!", "amend!", "squash!"]
        .iter()
        .any(|p| subject.starts_with(p))
}

fn subject(message: &str) -> &str {
    message.split('\n').next().unwrap_or(message)
}

/// Prow's MarkdownSHAList: one linked short SHA and subject per commit.
pub(crate) fn sha_list(org: &str, repo: &str, commits: &[&PrCommit]) -> String {
    commits
        .iter()
        .map(|c| {
            let short: String = c.sha.chars().take(7).collect();
            format!(
                "- [{short}](https://github.com/{org}/{repo}/commits/{}) {}",
                c.sha,
                subject(&c.message)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The comment for what was found, `None` when nothing was.
fn report(event: &Event, facts: &Facts, config: &PluginsConfig) -> Option<String> {
    let cfg = config.invalid_commit_msg_for(&event.org, &event.repo);
    let check_fixup = !cfg.is_check_disabled("fixupPrefix");
    let check_closing = !cfg.is_check_disabled("issueClosingKeywords");
    let closing: Vec<&PrCommit> = facts
        .commits
        .iter()
        .filter(|c| check_closing && closes_issues(&c.message))
        .collect();
    let fixups: Vec<&PrCommit> = facts
        .commits
        .iter()
        .filter(|c| check_fixup && is_fixup(subject(&c.message)))
        .collect();
    let bad_title = check_closing && closes_issues(&event.title);
    let mut sections = Vec::new();
    if !closing.is_empty() {
        sections.push(format!(
            "### Invalid commit messages\n\n[Keywords](https://help.github.com/articles/closing-issues-using-keywords) which can automatically close issues and hashtag(#) mentions are not allowed.\n\n{}",
            sha_list(&event.org, &event.repo, &closing)
        ));
    }
    if !fixups.is_empty() {
        sections.push(format!(
            "### Fixup/amend/squash commits\n\nTemporary commits like fixup!, amend!, or squash! are not allowed.\n\nUse [git rebase --autosquash](https://git-scm.com/docs/git-rebase#Documentation/git-rebase.txt---autosquash) to fix them.\n\n{}",
            sha_list(&event.org, &event.repo, &fixups)
        ));
    }
    if bad_title {
        sections.push("### Invalid PR title\n\n[Keywords](https://help.github.com/articles/closing-issues-using-keywords) are not allowed in PR titles.\n\nUse `/retitle <new-title>` to fix it.".to_owned());
    }
    (!sections.is_empty()).then(|| {
        format!(
            "{MARKER}\n\nInvalid commit message issues detected\n\n{}\n\n{ABOUT_THIS_BOT} {ABOUT_WITH_COMMANDS}",
            sections.join("\n\n")
        )
    })
}

/// One of our comments about commit messages (Prow's prune rule).
fn is_ours(body: &str) -> bool {
    body.contains(MARKER)
        || body.contains("**The list of commits with invalid commit messages**:")
        || body.contains("not allowed in the title of a Pull Request")
}

impl Plugin for InvalidCommitMsg {
    fn name(&self) -> &'static str {
        "invalidcommitmsg"
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: format!(
                "The invalidcommitmsg plugin applies the '{LABEL}' label to pull requests whose commit messages and titles contain keywords which can automatically close issues or contain temporary commits such as fixup!, amend!, or squash!"
            ),
            ..PluginHelp::default()
        };
        help.config.insert(
            String::new(),
            "The plugin can be configured per-check using the 'checks' field. Each check can be individually disabled by setting 'disabled: true'. Available checks: 'fixupPrefix' (for fixup!/amend!/squash! commits) and 'issueClosingKeywords' (for issue-closing keywords in titles/commits).".into(),
        );
        help
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        relevant(event).then(|| Needs {
            labels: true,
            comments: true,
            commits: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        if !relevant(event) {
            return vec![];
        }
        let report = report(event, facts, config);
        let has = facts.has_label(LABEL);
        let mut out = Vec::new();
        match (&report, has) {
            (Some(_), false) => out.push(Action::AddLabel(LABEL.into())),
            (None, true) => out.push(Action::RemoveLabel(LABEL.into())),
            _ => {}
        }
        out.extend(
            facts
                .bot_comments()
                .filter(|c| is_ours(&c.body) && Some(&c.body) != report.as_ref())
                .map(|c| Action::DeleteComment(c.id)),
        );
        out.extend(report.map(Action::Comment));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::PullRequest;
    use crate::plugin::IssueComment;
    use crate::testing::{comment_event, facts_with_labels};

    fn event(title: &str) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = "synchronize".into();
        ev.comment = None;
        ev.title = title.into();
        ev.pull_request = Some(PullRequest::default());
        ev
    }

    fn commit(sha: &str, message: &str) -> PrCommit {
        PrCommit {
            sha: sha.into(),
            message: message.into(),
            parents: 1,
            author_login: None,
        }
    }

    fn facts(labels: &[&str], commits: &[PrCommit], ours: &[&str]) -> Facts {
        Facts {
            commits: commits.to_vec(),
            comments: ours
                .iter()
                .enumerate()
                .map(|(i, b)| IssueComment {
                    id: i as u64 + 1,
                    user: "prow-bot".into(),
                    body: (*b).into(),
                    ..IssueComment::default()
                })
                .collect(),
            ..facts_with_labels(labels)
        }
    }

    #[test]
    fn commit_messages_and_titles_follow_prow() {
        let cfg = PluginsConfig::default();
        let commits = [
            commit("0123456789abcdef", "Fixes #12\n\nbody"),
            commit("fedcba9876543210", "fixup! earlier"),
            commit("aaaaaaaaaaaaaaaa", "Good change"),
        ];
        let ev = event("Closes #3");
        let actions = InvalidCommitMsg.decide(&ev, &facts(&[], &commits, &[]), &cfg);
        assert_eq!(actions[0], Action::AddLabel(LABEL.into()));
        let Action::Comment(body) = &actions[1] else {
            panic!("{actions:?}")
        };
        assert!(body.starts_with(MARKER), "{body}");
        assert!(body.contains("- [0123456](https://github.com/acme/foo/commits/0123456789abcdef) Fixes #12\n\n### Fixup/amend/squash commits"), "{body}");
        assert!(
            body.contains(
                "- [fedcba9](https://github.com/acme/foo/commits/fedcba9876543210) fixup! earlier"
            ),
            "{body}"
        );
        assert!(body.contains("### Invalid PR title"), "{body}");
        assert!(!body.contains("aaaaaaa"), "{body}");
        // Redelivered: the same comment stays, nothing else happens.
        assert_eq!(
            InvalidCommitMsg.decide(&ev, &facts(&[LABEL], &commits, &[body]), &cfg),
            [Action::Comment(body.clone())]
        );
        // Fixed: label and our stale comment go.
        let clean = [commit("bbbbbbbbbbbb", "Good change")];
        assert_eq!(
            InvalidCommitMsg.decide(
                &event("Good title"),
                &facts(&[LABEL], &clean, &[body, "thanks"]),
                &cfg
            ),
            [Action::RemoveLabel(LABEL.into()), Action::DeleteComment(1)]
        );
    }

    #[test]
    fn checks_can_be_turned_off_per_repo() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "invalid_commit_msg:\n- repos: [acme/foo]\n  checks:\n  - {name: fixupPrefix, disabled: true}\n",
        )
        .unwrap();
        let fixup = [commit("c1", "squash! x")];
        assert!(
            InvalidCommitMsg
                .decide(&event("ok"), &facts(&[], &fixup, &[]), &cfg)
                .is_empty()
        );
        let closing = [commit("c2", "resolves acme/foo#9")];
        assert_eq!(
            InvalidCommitMsg.decide(&event("ok"), &facts(&[], &closing, &[]), &cfg)[0],
            Action::AddLabel(LABEL.into())
        );
    }
}
