//! require-matching-label: per `require_matching_label:` rule, an issue or PR with no label
//! matching the rule's `regexp` gets its `missing_label` (and `missing_comment`, said once),
//! which goes again once a matching label is there (Prow's
//! `pkg/plugins/require-matching-label`). Opening waits the rule's grace period first, so labels
//! added right after creation count; `/check-required-labels` checks again.

use std::sync::LazyLock;

use prow_core::config::{PluginsConfig, RequireMatchingLabelConfig};
use regex::Regex;

use crate::event::{CommentAction, Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::format_simple_response;

pub const NAME: &str = "require-matching-label";

static CHECK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?mi)^/check-required-labels[ \t\r\n\x0B\x0C]*$")
        .expect("the command pattern compiles")
});

#[derive(Debug)]
pub struct RequireMatchingLabel;

/// Why we look: a label change (and which label), opening, or a request.
enum Trigger<'a> {
    Label(&'a str),
    Opened,
    Requested,
}

fn trigger(event: &Event) -> Option<Trigger<'_>> {
    match event.kind {
        Kind::Issues | Kind::PullRequest => match event.action.as_str() {
            "opened" | "reopened" => Some(Trigger::Opened),
            "labeled" | "unlabeled" => Some(Trigger::Label(event.label.as_deref().unwrap_or(""))),
            _ => None,
        },
        _ => event
            .comment
            .as_ref()
            .filter(|c| {
                event.state == "open"
                    && c.action == CommentAction::Created
                    && CHECK.is_match(&c.body)
            })
            .map(|_| Trigger::Requested),
    }
}

/// The rules for this issue or PR (`branch`: the PR's base, `None` for an issue) and, on a
/// label event, that label (Prow's matchingConfigs).
fn rules<'a>(
    config: &'a PluginsConfig,
    event: &Event,
    branch: Option<&str>,
    label: Option<&str>,
) -> Vec<(&'a RequireMatchingLabelConfig, Regex)> {
    config
        .require_matching_label
        .iter()
        .filter(|r| if event.is_pr { r.prs } else { r.issues })
        .filter(|r| {
            r.org == event.org
                && (r.repo.is_empty() || r.repo == event.repo)
                && (r.branch.is_empty() || branch.is_none_or(|b| b == r.branch))
        })
        .filter_map(|r| r.regex().map(|re| (r, re)))
        .filter(|(_, re)| label.is_none_or(|l| re.is_match(l)))
        .collect()
}

fn pr_branch(event: &Event) -> Option<&str> {
    event
        .pull_request
        .as_ref()
        .map(|pr| pr.base.git_ref.as_str())
}

impl Plugin for RequireMatchingLabel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &[
            "issues",
            "pull_request",
            "issue_comment",
            "pull_request_review",
        ]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let descs: Vec<String> = config
            .require_matching_label
            .iter()
            .map(RequireMatchingLabelConfig::describe)
            .collect();
        let mut help = PluginHelp {
            description: "The require-matching-label plugin is a configurable plugin that applies a label to issues and/or PRs that do not have any labels matching a regular expression. An example of this is applying a 'needs-sig' label to all issues that do not have a 'sig/*' label. This plugin can have multiple configurations to provide this kind of behavior for multiple different label sets. The configuration allows issue type, PR branch, and an optional explanation comment to be specified.".into(),
            commands: vec![Command::new(
                "/check-required-labels",
                true,
                "Checks for required labels.",
                &["/check-required-labels"],
                "Anyone",
            )],
            ..PluginHelp::default()
        };
        help.config.insert(
            String::new(),
            format!(
                "The plugin has the following configurations:\n<ul><li>{}</li></ul>",
                descs.join("</li><li>")
            ),
        );
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        let trigger = trigger(event)?;
        // A comment does not carry the PR's branch: rules are narrowed by it after reading it.
        let (branch, label) = match trigger {
            Trigger::Label(l) => (pr_branch(event), Some(l)),
            Trigger::Opened => (pr_branch(event), None),
            Trigger::Requested => (None, None),
        };
        let rules = rules(config, event, branch, label);
        if rules.is_empty() {
            return None;
        }
        // Prow waits on everything but a label change.
        let settle = (!matches!(trigger, Trigger::Label(_)))
            .then(|| rules.iter().map(|(r, _)| r.grace()).max())
            .flatten();
        Some(Needs {
            labels: true,
            comments: rules.iter().any(|(r, _)| !r.missing_comment.is_empty()),
            settle,
            base_ref: event.is_pr && matches!(trigger, Trigger::Requested),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let Some(trigger) = trigger(event) else {
            return vec![];
        };
        let branch = facts.base_ref.as_deref().or_else(|| pr_branch(event));
        let label = match trigger {
            Trigger::Label(l) => Some(l),
            _ => None,
        };
        let mut out = Vec::new();
        for (rule, re) in rules(config, event, branch, label) {
            let has_missing = facts.labels.contains(&rule.missing_label);
            let has_matching = facts.labels.iter().any(|l| re.is_match(l));
            if has_matching && has_missing {
                out.push(Action::RemoveLabel(rule.missing_label.clone()));
                if !rule.missing_comment.is_empty() {
                    out.extend(
                        facts
                            .bot_comments()
                            .filter(|c| c.body.contains(&rule.missing_comment))
                            .map(|c| Action::DeleteComment(c.id)),
                    );
                }
            } else if !has_matching && !has_missing {
                out.push(Action::AddLabel(rule.missing_label.clone()));
                if !rule.missing_comment.is_empty() {
                    out.push(Action::Comment(format_simple_response(
                        &rule.missing_comment,
                    )));
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::PullRequest;
    use crate::plugin::IssueComment;
    use crate::testing::{comment_event, facts_with_labels};

    const RULES: &str = "require_matching_label:\n\
- {org: acme, repo: foo, issues: true, regexp: '^sig/', missing_label: needs-sig, missing_comment: Please add a sig label., grace_period: 2s}\n\
- {org: acme, branch: main, prs: true, regexp: '^kind/', missing_label: needs-kind}\n\
- {org: other, issues: true, prs: true, regexp: '^x', missing_label: needs-x}\n";

    fn config() -> PluginsConfig {
        serde_norway::from_str(RULES).unwrap()
    }

    fn issue(action: &str, label: Option<&str>) -> Event {
        let mut ev = comment_event("", "author", false);
        ev.kind = Kind::Issues;
        ev.action = action.into();
        ev.comment = None;
        ev.label = label.map(str::to_owned);
        ev
    }

    fn pr(action: &str, base: &str) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = action.into();
        ev.comment = None;
        let mut pr = PullRequest::default();
        pr.base.git_ref = base.into();
        ev.pull_request = Some(pr);
        ev
    }

    #[test]
    fn an_opened_issue_without_a_matching_label_waits_then_is_labeled_and_told() {
        let cfg = config();
        let ev = issue("opened", None);
        let needs = RequireMatchingLabel.needs(&ev, &cfg).unwrap();
        assert_eq!(needs.settle, Some(Duration::from_secs(2)));
        assert!(needs.labels && needs.comments && !needs.base_ref);
        assert_eq!(
            RequireMatchingLabel.decide(&ev, &facts_with_labels(&["kind/bug"]), &cfg),
            [
                Action::AddLabel("needs-sig".into()),
                Action::Comment(format_simple_response("Please add a sig label."))
            ]
        );
        // Already marked: nothing.
        assert!(
            RequireMatchingLabel
                .decide(&ev, &facts_with_labels(&["needs-sig"]), &cfg)
                .is_empty()
        );
    }

    #[test]
    fn a_matching_label_removes_the_mark_and_our_comment() {
        let cfg = config();
        let ev = issue("labeled", Some("sig/node"));
        let needs = RequireMatchingLabel.needs(&ev, &cfg).unwrap();
        assert_eq!(needs.settle, None);
        let facts = Facts {
            comments: vec![
                IssueComment {
                    id: 4,
                    user: "prow-bot".into(),
                    body: format_simple_response("Please add a sig label."),
                    ..IssueComment::default()
                },
                IssueComment {
                    id: 5,
                    user: "someone".into(),
                    body: "Please add a sig label.".into(),
                    ..IssueComment::default()
                },
            ],
            ..facts_with_labels(&["needs-sig", "sig/node"])
        };
        assert_eq!(
            RequireMatchingLabel.decide(&ev, &facts, &cfg),
            [
                Action::RemoveLabel("needs-sig".into()),
                Action::DeleteComment(4)
            ]
        );
        // A label the rule's regexp does not match is not its business.
        assert!(
            RequireMatchingLabel
                .needs(&issue("labeled", Some("kind/bug")), &cfg)
                .is_none()
        );
    }

    #[test]
    fn pr_rules_follow_the_branch_and_the_command_reads_it() {
        let cfg = config();
        assert!(
            RequireMatchingLabel
                .needs(&pr("opened", "release-1"), &cfg)
                .is_none()
        );
        let ev = pr("opened", "main");
        // Prow's default grace period.
        assert_eq!(
            RequireMatchingLabel.needs(&ev, &cfg).unwrap().settle,
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            RequireMatchingLabel.decide(&ev, &facts_with_labels(&[]), &cfg),
            [Action::AddLabel("needs-kind".into())]
        );
        assert!(
            RequireMatchingLabel
                .needs(&pr("synchronize", "main"), &cfg)
                .is_none()
        );
        let ask = comment_event("/check-required-labels", "anyone", true);
        let needs = RequireMatchingLabel.needs(&ask, &cfg).unwrap();
        assert!(needs.base_ref);
        assert_eq!(needs.settle, Some(Duration::from_secs(5)));
        let on = |base: &str| Facts {
            base_ref: Some(base.into()),
            ..facts_with_labels(&[])
        };
        assert_eq!(
            RequireMatchingLabel.decide(&ask, &on("main"), &cfg),
            [Action::AddLabel("needs-kind".into())]
        );
        assert!(
            RequireMatchingLabel
                .decide(&ask, &on("dev"), &cfg)
                .is_empty()
        );
        assert!(
            RequireMatchingLabel
                .needs(
                    &comment_event("/check-required-labels please", "a", true),
                    &cfg
                )
                .is_none()
        );
    }

    #[test]
    fn rules_describe_themselves_as_prow() {
        let cfg = config();
        assert_eq!(
            cfg.require_matching_label[0].describe(),
            "Applies the 'needs-sig' label and comments on Issues in the 'acme/foo' GitHub repo that have no labels matching the regular expression '^sig/'."
        );
        assert_eq!(
            cfg.require_matching_label[1].describe(),
            "Applies the 'needs-kind' label to 'main' branch PRs in the 'acme' GitHub org that have no labels matching the regular expression '^kind/'."
        );
    }
}
