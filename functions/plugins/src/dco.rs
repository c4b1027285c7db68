//! dco: every commit of a PR must carry a `Signed-off-by:` line (the Developer Certificate of
//! Origin); the `dco` status context and the `dco-signoff: yes|no` labels say whether they do,
//! and one comment lists the commits that do not (Prow's `pkg/plugins/dco`). Merge commits
//! need none, and per `dco:` commits by trusted authors need none either. `/check-dco` checks
//! again.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use prow_core::config::PluginsConfig;
use regex::Regex;

use crate::event::{CommentAction, Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::invalidcommitmsg::{ABOUT_WITH_COMMANDS, sha_list};
use crate::plugin::{Action, Facts, Needs, OwnersCheck, Plugin, PrCommit};
use crate::registry::Repo;
use crate::respond::ABOUT_THIS_BOT;

pub const NAME: &str = "dco";
/// The status context.
pub const CONTEXT: &str = "dco";
pub const YES: &str = "dco-signoff: yes";
pub const NO: &str = "dco-signoff: no";
const FAILED: &str = "Commits in PR missing Signed-off-by";
const SUCCEEDED: &str = "All commits have Signed-off-by";
/// How our comment starts (and how we find it again to replace it).
const OPENING: &str = "Thanks for your pull request. Before we can look at it, you'll need to add a 'DCO signoff' to your commits.";

static SIGNED_OFF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?mi)^signed-off-by:").expect("the sign-off pattern compiles"));
static CHECK_DCO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?mi)^/check-dco[ \t\r\n\x0B\x0C]*$").expect("the command pattern compiles")
});

/// What the shell read for a DCO check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DcoFacts {
    pub head_sha: String,
    /// The `dco` context's state on the head (`success`, `failure`, ...), empty when unset.
    pub status: String,
    /// Authors of unsigned commits who need no sign-off.
    pub trusted: BTreeSet<String>,
}

/// A non-merge commit without a sign-off.
pub fn lacks_sign_off(commit: &PrCommit) -> bool {
    commit.parents <= 1 && !SIGNED_OFF.is_match(&commit.message)
}

#[derive(Debug)]
pub struct Dco;

fn pr_relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && matches!(event.action.as_str(), "opened" | "reopened" | "synchronize")
}

/// `/check-dco` on an open PR (any comment-like text, as Prow's generic comment handler).
fn check_requested(event: &Event) -> bool {
    event.is_pr
        && event.state == "open"
        && event
            .comment
            .as_ref()
            .is_some_and(|c| c.action == CommentAction::Created && CHECK_DCO.is_match(&c.body))
}

/// How the authors' trust is decided, from `dco:`.
fn trust_rule(event: &Event, config: &PluginsConfig) -> OwnersCheck {
    let cfg = config.dco_for(&event.org, &event.repo);
    OwnersCheck {
        skip_trust_check: !(cfg.skip_dco_check_for_members
            || cfg.skip_dco_check_for_collaborators
            || !cfg.trusted_apps.is_empty()),
        only_org_members: !cfg.skip_dco_check_for_collaborators,
        trusted_org: cfg.trusted_org,
        trusted_apps: cfg.trusted_apps,
        ..OwnersCheck::default()
    }
}

/// Our comment listing the unsigned commits.
fn report(event: &Event, url: &str, missing: &[&PrCommit]) -> String {
    format!(
        "{OPENING}\n\n:memo: **Please follow instructions in the [contributing guide]({url}) to update your commits with the DCO**\n\nFull details of the Developer Certificate of Origin can be found at [developercertificate.org](https://developercertificate.org/).\n\n**The list of commits missing DCO signoff**:\n\n{}\n\n<details>\n\n{ABOUT_THIS_BOT} {ABOUT_WITH_COMMANDS}\n</details>\n",
        sha_list(&event.org, &event.repo, missing)
    )
}

impl Plugin for Dco {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: format!(
                "The dco plugin checks pull request commits for 'DCO sign off' and maintains the '{CONTEXT}' status context, as well as the 'dco' label."
            ),
            snippet: "dco:\n  org/repo:\n    # SkipDCOCheckForMembers is used to skip DCO check for trusted org members\n    skip_dco_check_for_members: true\n    # TrustedOrg is the org whose members' commits will not be checked for DCO signoff\n    # if the skip DCO option is enabled. The default is the PR's org.\n    trusted_org: org\n    # SkipDCOCheckForCollaborators is used to skip DCO check for trusted org members\n    skip_dco_check_for_collaborators: true\n    # ContributingRepo is used to point users to a different repo containing CONTRIBUTING.md\n    contributing_repo: other-org/other-repo\n    # ContributingBranch allows setting a custom branch where to find CONTRIBUTING.md\n    contributing_branch: main\n    # ContributingPath is used to override the default path to CONTRIBUTING.md\n    contributing_path: docs/CONTRIBUTING.md\n".into(),
            commands: vec![Command::new(
                "/check-dco",
                true,
                "Forces rechecking of the DCO status.",
                &["/check-dco"],
                "Anyone",
            )],
            ..PluginHelp::default()
        };
        for repo in repos {
            let cfg = config.dco_for(&repo.org, &repo.repo);
            if cfg.skip_dco_check_for_members || cfg.skip_dco_check_for_collaborators {
                // Prow names the repo here, not its trusted org.
                help.config.insert(
                    repo.full_name(),
                    format!(
                        "The trusted GitHub organization for this repository is \"{}\".",
                        repo.full_name()
                    ),
                );
            }
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        (pr_relevant(event) || check_requested(event)).then(|| Needs {
            labels: true,
            comments: true,
            commits: true,
            dco: Some(trust_rule(event, config)),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let requested = check_requested(event);
        let Some(dco) = facts
            .dco
            .as_ref()
            .filter(|_| pr_relevant(event) || requested)
        else {
            return vec![];
        };
        // A reopened PR is not told again.
        let comment = requested || matches!(event.action.as_str(), "opened" | "synchronize");
        let missing: Vec<&PrCommit> = facts
            .commits
            .iter()
            .filter(|c| lacks_sign_off(c))
            .filter(|c| {
                c.author_login
                    .as_ref()
                    .is_none_or(|login| !dco.trusted.contains(login))
            })
            .collect();
        let url = config
            .dco_for(&event.org, &event.repo)
            .contributing_url(&event.org, &event.repo);
        let (label, other, state, description) = if missing.is_empty() {
            (YES, NO, "success", SUCCEEDED)
        } else {
            (NO, YES, "failure", FAILED)
        };
        let mut out = Vec::new();
        if missing.is_empty() && facts.has_label(other) {
            out.push(Action::RemoveLabel(other.into()));
        }
        if !facts.has_label(label) {
            out.push(Action::AddLabel(label.into()));
        }
        if !missing.is_empty() && facts.has_label(other) {
            out.push(Action::RemoveLabel(other.into()));
        }
        if dco.status != state {
            out.push(Action::CreateStatus {
                sha: dco.head_sha.clone(),
                context: CONTEXT.into(),
                state: state.into(),
                description: description.into(),
                target_url: url.clone(),
            });
        }
        let report = (!missing.is_empty() && comment).then(|| report(event, &url, &missing));
        if missing.is_empty() || report.is_some() {
            // One comment, saying what is missing now; a redelivery keeps it as it is.
            out.extend(
                facts
                    .bot_comments()
                    .filter(|c| c.body.contains(OPENING) && Some(&c.body) != report.as_ref())
                    .map(|c| Action::DeleteComment(c.id)),
            );
        }
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

    fn pr(action: &str) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = action.into();
        ev.comment = None;
        ev.pull_request = Some(PullRequest::default());
        ev
    }

    fn commit(sha: &str, message: &str, author: Option<&str>, parents: usize) -> PrCommit {
        PrCommit {
            sha: sha.into(),
            message: message.into(),
            parents,
            author_login: author.map(str::to_owned),
        }
    }

    fn facts(labels: &[&str], status: &str, commits: Vec<PrCommit>, trusted: &[&str]) -> Facts {
        Facts {
            commits,
            dco: Some(DcoFacts {
                head_sha: "head".into(),
                status: status.into(),
                trusted: trusted.iter().map(|t| (*t).to_owned()).collect(),
            }),
            ..facts_with_labels(labels)
        }
    }

    fn status(state: &str, description: &str) -> Action {
        Action::CreateStatus {
            sha: "head".into(),
            context: CONTEXT.into(),
            state: state.into(),
            description: description.into(),
            target_url: "https://github.com/acme/foo/blob/master/CONTRIBUTING.md".into(),
        }
    }

    #[test]
    fn unsigned_commits_fail_the_context_and_are_listed_once() {
        let cfg = PluginsConfig::default();
        let commits = vec![
            commit("1111111111", "Good\n\nSigned-off-by: A <a@x>", Some("a"), 1),
            commit("2222222222", "Merge branch 'main'", None, 2),
            commit(
                "3333333333",
                "Forgot\n\nsigned-off-BY: lowercase counts",
                None,
                1,
            ),
            commit("4444444444", "Unsigned", Some("b"), 1),
        ];
        let actions = Dco.decide(
            &pr("opened"),
            &facts(&[YES], "", commits.clone(), &[]),
            &cfg,
        );
        assert_eq!(
            actions[..3],
            [
                Action::AddLabel(NO.into()),
                Action::RemoveLabel(YES.into()),
                status("failure", FAILED)
            ]
        );
        let Action::Comment(body) = &actions[3] else {
            panic!("{actions:?}")
        };
        assert!(body.starts_with(OPENING), "{body}");
        assert!(
            body.contains("(https://github.com/acme/foo/blob/master/CONTRIBUTING.md)"),
            "{body}"
        );
        assert!(
            body.contains("**The list of commits missing DCO signoff**:\n\n- [4444444](https://github.com/acme/foo/commits/4444444444) Unsigned\n\n<details>"),
            "{body}"
        );
        // Redelivered: the same comment stays, nothing else happens.
        let ours = IssueComment {
            id: 9,
            user: "prow-bot".into(),
            body: body.clone(),
            ..IssueComment::default()
        };
        let mut again = facts(&[NO], "failure", commits.clone(), &[]);
        again.comments = vec![ours.clone()];
        assert_eq!(
            Dco.decide(&pr("synchronize"), &again, &cfg),
            [Action::Comment(body.clone())]
        );
        // Reopened: labels and status converge, nothing is said.
        assert_eq!(
            Dco.decide(&pr("reopened"), &facts(&[], "", commits, &[]), &cfg),
            [Action::AddLabel(NO.into()), status("failure", FAILED)]
        );
        // Signed now: yes, success, and our comment goes.
        let mut fixed = facts(
            &[NO],
            "failure",
            vec![commit("5", "x\nSigned-off-by: b", Some("b"), 1)],
            &[],
        );
        fixed.comments = vec![ours];
        assert_eq!(
            Dco.decide(&pr("synchronize"), &fixed, &cfg),
            [
                Action::RemoveLabel(NO.into()),
                Action::AddLabel(YES.into()),
                status("success", SUCCEEDED),
                Action::DeleteComment(9)
            ]
        );
    }

    #[test]
    fn trusted_authors_need_no_sign_off_when_configured() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "dco:\n  acme:\n    skip_dco_check_for_members: true\n    trusted_apps: [dependabot]\n    contributing_repo: acme/community\n    contributing_branch: main\n",
        )
        .unwrap();
        let ev = pr("opened");
        let rule = Dco.needs(&ev, &cfg).unwrap().dco.unwrap();
        assert!(!rule.skip_trust_check && rule.only_org_members);
        assert_eq!(rule.trusted_apps, ["dependabot"]);
        // Without settings nobody is asked about.
        assert!(
            Dco.needs(&ev, &PluginsConfig::default())
                .unwrap()
                .dco
                .unwrap()
                .skip_trust_check
        );
        let commits = vec![commit("1", "Unsigned", Some("member"), 1)];
        let actions = Dco.decide(&ev, &facts(&[], "", commits, &["member"]), &cfg);
        assert_eq!(
            actions,
            [
                Action::AddLabel(YES.into()),
                Action::CreateStatus {
                    sha: "head".into(),
                    context: CONTEXT.into(),
                    state: "success".into(),
                    description: SUCCEEDED.into(),
                    target_url: "https://github.com/acme/community/blob/main/CONTRIBUTING.md"
                        .into(),
                }
            ]
        );
    }

    #[test]
    fn check_dco_rechecks_an_open_pr() {
        let cfg = PluginsConfig::default();
        let ev = comment_event("/check-dco", "anyone", true);
        assert!(Dco.needs(&ev, &cfg).is_some());
        assert!(
            Dco.needs(&comment_event("/check-dco", "anyone", false), &cfg)
                .is_none()
        );
        assert!(
            Dco.needs(&comment_event("please /check-dco", "anyone", true), &cfg)
                .is_none()
        );
        let mut closed = comment_event("/check-dco", "anyone", true);
        closed.state = "closed".into();
        assert!(Dco.needs(&closed, &cfg).is_none());
        let actions = Dco.decide(
            &ev,
            &facts(&[NO], "failure", vec![commit("1", "x", None, 1)], &[]),
            &cfg,
        );
        assert!(
            matches!(&actions[..], [Action::Comment(b)] if b.starts_with(OPENING)),
            "{actions:?}"
        );
    }
}
