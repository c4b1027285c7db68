//! label: `/kind bug`, `/area x`, `/priority`, `/sig`, `/triage`, `/wg`, `/committee`,
//! `/language` and their `/remove-` forms, plus `/label` and `/remove-label` for the labels
//! configured in `label.additional_labels` or `label.restricted_labels` (Prow's
//! `pkg/plugins/label`). Only labels the repository defines are added (never created);
//! `triage/accepted` only by org members; restricted labels only by their teams and users,
//! whose `allowed_users` are assigned when a PR gets an `assign_on` label.

use std::collections::{BTreeMap, BTreeSet};

use prow_core::commands::{CommandLine, CommandText};
use prow_core::config::{PluginsConfig, RestrictedLabel};

use crate::event::{Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const NAME: &str = "label";
pub const TRIAGE_ACCEPTED: &str = "triage/accepted";

/// Commands whose argument words are labels of that prefix (`/kind bug` -> `kind/bug`).
const PREFIXES: &[&str] = &[
    "area",
    "committee",
    "kind",
    "language",
    "priority",
    "sig",
    "triage",
    "wg",
];
/// Prefixes always listed in the help, before `additional_labels`.
const DEFAULT_LABELS: &[&str] = &["kind", "priority", "area"];
/// Categories whose `needs-<category>` label returns when their last label is removed.
const NEEDS_CATEGORIES: &[&str] = &["kind", "priority", "sig", "triage"];

#[derive(Debug)]
pub struct Label;

/// `body` without HTML comments, which PR and issue templates fill with example commands
/// (Prow's label plugin removes them before reading commands, and quotes the rest back).
pub fn strip_html_comments(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("<!--") {
        let Some(len) = rest[start + 4..].find("-->") else {
            break;
        };
        out.push_str(&rest[..start]);
        rest = &rest[start + 4 + len + 3..];
    }
    out.push_str(rest);
    out
}

/// What a comment asks, before looking at GitHub.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    add: Vec<String>,
    remove: Vec<String>,
    /// `/label` lines naming a label that is neither additional nor restricted, as written.
    not_configured: Vec<String>,
    /// The comment without HTML comments (quoted in replies).
    body: String,
}

fn push_unique(list: &mut Vec<String>, label: String) {
    if !list.contains(&label) {
        list.push(label);
    }
}

/// The labels of a prefix command: every word after the command, lower-cased.
fn prefixed(c: &CommandLine<'_>, prefix: &str) -> Vec<String> {
    c.args
        .split_ascii_whitespace()
        .map(|word| format!("{prefix}/{word}").to_lowercase())
        .collect()
}

fn request(event: &Event, config: &PluginsConfig) -> Option<Request> {
    let comment = event.created_comment()?;
    let body = strip_html_comments(&comment.body);
    let text = CommandText::new(&body);
    let restricted = config.label.restricted_labels_for(&event.org, &event.repo);
    let additional: BTreeSet<String> = config
        .label
        .additional_labels
        .iter()
        .map(|l| l.to_lowercase())
        .collect();
    let configured = |l: &str| restricted.contains_key(l) || additional.contains(l);
    let mut req = Request::default();
    let mut any = false;
    for c in text.commands() {
        // Prow's label commands are case-sensitive.
        let (name, removing) = match c.name.strip_prefix("remove-") {
            Some(name) => (name, true),
            None => (c.name, false),
        };
        let target = if removing {
            &mut req.remove
        } else {
            &mut req.add
        };
        if PREFIXES.contains(&name) {
            any = true;
            for label in prefixed(&c, name) {
                push_unique(target, label);
            }
        } else if name == "label" {
            any = true;
            let words: Vec<&str> = c.args.split_ascii_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [label] if configured(&label.to_lowercase()) => {
                    push_unique(target, label.to_lowercase());
                }
                _ => req
                    .not_configured
                    .push(format!("/{}{}", c.name, c.raw_args).trim().to_owned()),
            }
        }
    }
    any.then_some(Request { body, ..req })
}

/// Whether `user` may add or remove `label`: unrestricted, or an allowed user, or in one of the
/// allowed teams (`teams` are those the user is in). `Err` is Prow's refusal.
fn may_set(
    label: &str,
    user: &str,
    restricted: &BTreeMap<String, RestrictedLabel>,
    teams: &[String],
) -> Result<(), String> {
    let Some(r) = restricted.get(label) else {
        return Ok(());
    };
    if r.allowed_users.iter().any(|u| u.eq_ignore_ascii_case(user))
        || r.allowed_teams.iter().any(|t| teams.contains(t))
    {
        return Ok(());
    }
    let mut msg = format!(
        "The label(s) `{label}` cannot be applied or removed, because you are not in one of the allowed teams and are not an allowed user."
    );
    if !r.allowed_teams.is_empty() {
        msg.push_str(&format!(
            " Must be a member of one of these teams: {}",
            r.allowed_teams.join(", ")
        ));
    } else if !r.allowed_users.is_empty() {
        // Prow means to pick up to 20 at random but takes the first 20.
        let users: Vec<&str> = r
            .allowed_users
            .iter()
            .take(20)
            .map(String::as_str)
            .collect();
        msg.push_str(&format!(
            " Consider assigning one of the following members: {}",
            users.join(",")
        ));
    }
    Err(msg)
}

/// Teams whose membership decides whether the commenter may set the restricted labels the
/// request touches (none for allowed users).
fn teams_to_ask(
    req: &Request,
    user: &str,
    restricted: &BTreeMap<String, RestrictedLabel>,
) -> Vec<String> {
    let mut teams = Vec::new();
    for label in req.add.iter().chain(&req.remove) {
        if let Some(r) = restricted.get(label)
            && !r.allowed_users.iter().any(|u| u.eq_ignore_ascii_case(user))
        {
            for t in &r.allowed_teams {
                push_unique(&mut teams, t.clone());
            }
        }
    }
    teams
}

fn in_category<'a>(
    labels: impl IntoIterator<Item = &'a String>,
    category: &str,
) -> BTreeSet<&'a str> {
    let prefix = format!("{category}/");
    labels
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .map(String::as_str)
        .collect()
}

/// `needs-<category>` labels to add because the request removes every label of the category
/// the issue has and adds none (only where the repo defines the needs label).
fn needs_labels(
    req: &Request,
    issue_labels: &[String],
    repo_labels: &BTreeSet<String>,
) -> Vec<String> {
    NEEDS_CATEGORIES
        .iter()
        .filter_map(|category| {
            let needs = format!("needs-{category}");
            let removed = in_category(&req.remove, category);
            let readd = !in_category(&req.add, category).is_empty();
            let has = in_category(issue_labels, category);
            (repo_labels.contains(&needs)
                && !removed.is_empty()
                && !readd
                && has.is_subset(&removed))
            .then_some(needs)
        })
        .collect()
}

fn decide_comment(event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
    let (Some(req), Some(comment)) = (request(event, config), event.comment.as_ref()) else {
        return vec![];
    };
    let user = comment.user.login.as_str();
    let reply = ReplyTo::new(&req.body, &comment.html_url, user);
    let restricted = config.label.restricted_labels_for(&event.org, &event.repo);
    let repo_labels: BTreeSet<String> =
        facts.repo_labels.iter().map(|l| l.to_lowercase()).collect();
    let mut actions = Vec::new();
    let (mut missing_in_repo, mut not_on_issue) = (Vec::new(), Vec::new());
    let mut non_member_accepted = false;
    let mut add = req.add.clone();
    add.extend(needs_labels(&req, &facts.labels, &repo_labels));
    for label in add {
        if facts.has_label(&label) {
            continue;
        }
        if !repo_labels.contains(&label) {
            missing_in_repo.push(label);
            continue;
        }
        if label == TRIAGE_ACCEPTED && !facts.commenter_is_org_member {
            non_member_accepted = true;
            continue;
        }
        match may_set(&label, user, &restricted, &facts.commenter_teams) {
            Ok(()) => actions.push(Action::AddLabel(label)),
            Err(why) => actions.push(Action::Comment(reply.reply(&why))),
        }
    }
    for label in &req.remove {
        if !facts.has_label(label) {
            not_on_issue.push(label.clone());
            continue;
        }
        if !repo_labels.contains(label) {
            continue;
        }
        match may_set(label, user, &restricted, &facts.commenter_teams) {
            Ok(()) => actions.push(Action::RemoveLabel(label.clone())),
            Err(why) => actions.push(Action::Comment(reply.reply(&why))),
        }
    }
    // Prow answers with the first of these that applies.
    let message = if !req.not_configured.is_empty() {
        let supported: Vec<&str> = config
            .label
            .additional_labels
            .iter()
            .map(String::as_str)
            .chain(restricted.keys().map(String::as_str))
            .collect();
        Some(format!(
            "The label(s) `{}` cannot be applied. These labels are supported: `{}`. Is this label configured under `labels -> additional_labels` or `labels -> restricted_labels` in `plugin.yaml`?",
            req.not_configured.join(", "),
            supported.join(", ")
        ))
    } else if !missing_in_repo.is_empty() {
        Some(format!(
            "The label(s) `{}` cannot be applied, because the repository doesn't have them.",
            missing_in_repo.join(", ")
        ))
    } else if !not_on_issue.is_empty() {
        Some(format!(
            "Those labels are not set on the issue: `{}`",
            not_on_issue.join(", ")
        ))
    } else if non_member_accepted {
        Some(format!(
            "The label `{TRIAGE_ACCEPTED}` cannot be applied. Only GitHub organization members can add the label."
        ))
    } else {
        None
    };
    actions.extend(message.map(|m| Action::Comment(reply.reply(&m))));
    actions
}

/// A PR got a label some restricted label's `assign_on` names: assign its allowed users.
fn decide_labeled(event: &Event, config: &PluginsConfig) -> Vec<Action> {
    let Some(added) = event.label.as_deref().filter(|_| is_labeled_pr(event)) else {
        return vec![];
    };
    config
        .label
        .restricted_labels_for(&event.org, &event.repo)
        .into_values()
        .filter(|r| {
            !r.allowed_users.is_empty()
                && r.assign_on
                    .iter()
                    .any(|on| on.label.eq_ignore_ascii_case(added))
        })
        .map(|r| Action::Assign {
            logins: r.allowed_users,
            missing: None,
        })
        .collect()
}

fn is_labeled_pr(event: &Event) -> bool {
    event.kind == Kind::PullRequest && event.action == "labeled"
}

impl Plugin for Label {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &[
            "issue_comment",
            "issues",
            "pull_request",
            "pull_request_review",
        ]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let labels: Vec<String> = DEFAULT_LABELS
            .iter()
            .map(|l| (*l).to_owned())
            .chain(config.label.additional_labels.iter().cloned())
            .map(|l| format!("\"{l}/*\""))
            .collect();
        let (last, rest) = labels
            .split_last()
            .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
        let mut help = PluginHelp {
            description: "The label plugin provides commands that add or remove certain types of labels. Labels of the following types can be manipulated: 'area/*', 'committee/*', 'kind/*', 'language/*', 'priority/*', 'sig/*', 'triage/*', and 'wg/*'. More labels can be configured to be used via the /label command. Restricted labels are only able to be added by the teams and users present in their configuration, and those users can be automatically assigned when another label is added using the assign_on config.".into(),
            commands: vec![Command::new(
                "/[remove-](area|committee|kind|language|priority|sig|triage|wg|label) <target>",
                false,
                "Applies or removes a label from one of the recognized types of labels.",
                &["/kind bug", "/remove-area prow", "/sig testing", "/language zh", "/label foo-bar-baz"],
                "Anyone can trigger this command on issues and PRs. `triage/accepted` can only be added by org members. Restricted labels are only able to be added by teams and users in their configuration.",
            )],
            snippet: "label:\n  additional_labels:\n  - api-review\n  - community/discussion\n  restricted_labels:\n    '*':\n    - label: restricted-label\n      allowed_teams:\n      - authorized-team\n      allowed_users:\n      - alice\n      - bob\n      assign_on:\n      - label: other-label\n".into(),
            ..PluginHelp::default()
        };
        help.config.insert(
            String::new(),
            format!(
                "The label plugin will work on {} and {last} labels.",
                rest.join(", ")
            ),
        );
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        if is_labeled_pr(event) {
            return (!decide_labeled(event, config).is_empty()).then(Needs::default);
        }
        let req = request(event, config)?;
        let user = event.comment.as_ref().map(|c| c.user.login.as_str())?;
        let restricted = config.label.restricted_labels_for(&event.org, &event.repo);
        Some(Needs {
            labels: true,
            repo_labels: true,
            commenter_is_org_member: req.add.iter().any(|l| l == TRIAGE_ACCEPTED),
            commenter_teams: teams_to_ask(&req, user, &restricted),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        if is_labeled_pr(event) {
            decide_labeled(event, config)
        } else {
            decide_comment(event, facts, config)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::respond::ReplyTo;
    use crate::testing::{comment_event, facts_with_labels, user};

    const REPO_LABELS: &[&str] = &[
        "kind/bug",
        "kind/feature",
        "area/infra",
        "priority/important-soon",
        "sig/testing",
        "triage/accepted",
        "needs-kind",
        "needs-sig",
        "api-review",
        "restricted",
        "Team-Only",
    ];

    const CONFIG: &str = "label:\n  additional_labels: [api-review, nowhere]\n  restricted_labels:\n    acme:\n    - label: restricted\n      allowed_users: [boss]\n      assign_on: [{label: kind/feature}]\n    acme/foo:\n    - label: team-only\n      allowed_teams: [leads]\n";

    fn config() -> PluginsConfig {
        serde_norway::from_str(CONFIG).unwrap()
    }

    fn facts(on_issue: &[&str]) -> Facts {
        Facts {
            repo_labels: REPO_LABELS.iter().map(|l| (*l).to_owned()).collect(),
            ..facts_with_labels(on_issue)
        }
    }

    fn reply(body: &str, message: &str) -> Action {
        Action::Comment(
            ReplyTo::new(
                body,
                "https://github.com/acme/foo/pull/7#issuecomment-1",
                "alice",
            )
            .reply(message),
        )
    }

    fn add(l: &str) -> Action {
        Action::AddLabel(l.into())
    }

    fn remove(l: &str) -> Action {
        Action::RemoveLabel(l.into())
    }

    #[test]
    fn label_commands_follow_prow() {
        let missing = |labels: &str| {
            format!(
                "The label(s) `{labels}` cannot be applied, because the repository doesn't have them."
            )
        };
        // (case, comment, labels on the issue, actions)
        let cases: Vec<(&str, &str, &[&str], Vec<Action>)> = vec![
            ("kind", "/kind bug", &[], vec![add("kind/bug")]),
            (
                "several words and commands, lower-cased",
                "/kind Bug feature\n/area infra",
                &[],
                vec![add("kind/bug"), add("kind/feature"), add("area/infra")],
            ),
            ("already there", "/kind bug", &["kind/bug"], vec![]),
            (
                "a label the repo lacks is refused, never created",
                "/kind regression",
                &[],
                vec![reply("/kind regression", &missing("kind/regression"))],
            ),
            ("commands are case-sensitive", "/Kind bug", &[], vec![]),
            (
                "inside an HTML comment",
                "<!--\n/kind bug\n-->",
                &[],
                vec![],
            ),
            ("a bare prefix command", "/kind", &[], vec![]),
            (
                "remove",
                "/remove-area infra",
                &["area/infra"],
                vec![remove("area/infra")],
            ),
            (
                "remove what is not there",
                "/remove-area infra",
                &[],
                vec![reply(
                    "/remove-area infra",
                    "Those labels are not set on the issue: `area/infra`",
                )],
            ),
            (
                "removing the last kind brings needs-kind back",
                "/remove-kind bug",
                &["kind/bug", "sig/testing"],
                vec![add("needs-kind"), remove("kind/bug")],
            ),
            (
                "the issue keeps another kind",
                "/remove-kind bug",
                &["kind/bug", "kind/feature"],
                vec![remove("kind/bug")],
            ),
            (
                "swap kinds: no needs-kind",
                "/remove-kind bug\n/kind feature",
                &["kind/bug"],
                vec![add("kind/feature"), remove("kind/bug")],
            ),
            (
                "needs-priority is not in the repo",
                "/remove-priority important-soon",
                &["priority/important-soon"],
                vec![remove("priority/important-soon")],
            ),
            (
                "an additional label",
                "/label API-Review",
                &[],
                vec![add("api-review")],
            ),
            (
                "an additional label the repo lacks",
                "/label nowhere",
                &[],
                vec![reply("/label nowhere", &missing("nowhere"))],
            ),
            (
                "a label not configured",
                "/label random",
                &[],
                vec![reply(
                    "/label random",
                    "The label(s) `/label random` cannot be applied. These labels are supported: `api-review, nowhere, restricted, team-only`. Is this label configured under `labels -> additional_labels` or `labels -> restricted_labels` in `plugin.yaml`?",
                )],
            ),
            (
                "two words after /label",
                "/label api-review  extra",
                &[],
                vec![reply(
                    "/label api-review  extra",
                    "The label(s) `/label api-review  extra` cannot be applied. These labels are supported: `api-review, nowhere, restricted, team-only`. Is this label configured under `labels -> additional_labels` or `labels -> restricted_labels` in `plugin.yaml`?",
                )],
            ),
            (
                "remove an additional label",
                "/remove-label api-review",
                &["api-review"],
                vec![remove("api-review")],
            ),
            (
                "a restricted label by someone not allowed",
                "/label restricted",
                &[],
                vec![reply(
                    "/label restricted",
                    "The label(s) `restricted` cannot be applied or removed, because you are not in one of the allowed teams and are not an allowed user. Consider assigning one of the following members: boss",
                )],
            ),
            (
                "a team-restricted label by a non-member",
                "/remove-label team-only",
                &["Team-Only"],
                vec![reply(
                    "/remove-label team-only",
                    "The label(s) `team-only` cannot be applied or removed, because you are not in one of the allowed teams and are not an allowed user. Must be a member of one of these teams: leads",
                )],
            ),
            (
                "triage/accepted by a non-member",
                "/triage accepted",
                &[],
                vec![reply(
                    "/triage accepted",
                    "The label `triage/accepted` cannot be applied. Only GitHub organization members can add the label.",
                )],
            ),
            (
                "the reply quotes the comment without its HTML comments",
                "/kind regression <!-- why -->\n/kind bug",
                &[],
                vec![
                    add("kind/bug"),
                    reply("/kind regression \n/kind bug", &missing("kind/regression")),
                ],
            ),
        ];
        let cfg = config();
        for (name, body, on_issue, want) in cases {
            let ev = comment_event(body, "alice", true);
            assert_eq!(Label.decide(&ev, &facts(on_issue), &cfg), want, "{name}");
        }
    }

    #[test]
    fn members_allowed_users_and_teams_may_set_what_they_are_allowed() {
        let cfg = config();
        let mut member = facts(&[]);
        member.commenter_is_org_member = true;
        let ev = comment_event("/triage accepted", "alice", true);
        assert_eq!(Label.decide(&ev, &member, &cfg), [add("triage/accepted")]);
        let boss = comment_event("/label restricted", "BOSS", true);
        assert_eq!(Label.decide(&boss, &facts(&[]), &cfg), [add("restricted")]);
        let mut lead = facts(&[]);
        lead.commenter_teams = vec!["leads".into()];
        let ev = comment_event("/label team-only", "alice", true);
        assert_eq!(Label.decide(&ev, &lead, &cfg), [add("team-only")]);
    }

    #[test]
    fn needs_ask_only_what_the_comment_requires() {
        let cfg = config();
        let n = |body: &str, who: &str| Label.needs(&comment_event(body, who, true), &cfg);
        assert_eq!(n("thanks", "alice"), None);
        let plain = n("/kind bug", "alice").unwrap();
        assert!(plain.labels && plain.repo_labels && !plain.commenter_is_org_member);
        assert!(plain.commenter_teams.is_empty());
        assert!(
            n("/triage accepted", "alice")
                .unwrap()
                .commenter_is_org_member
        );
        assert_eq!(
            n("/label team-only\n/label restricted", "alice")
                .unwrap()
                .commenter_teams,
            ["leads"]
        );
        assert!(
            n("/label restricted", "boss")
                .unwrap()
                .commenter_teams
                .is_empty()
        );
    }

    #[test]
    fn a_pr_labeled_with_an_assign_on_label_gets_the_allowed_users() {
        let cfg = config();
        let mut ev = comment_event("", "alice", true);
        ev.kind = Kind::PullRequest;
        ev.action = "labeled".into();
        ev.comment = None;
        ev.label = Some("Kind/Feature".into());
        ev.sender = user("alice");
        assert_eq!(Label.needs(&ev, &cfg), Some(Needs::default()));
        assert_eq!(
            Label.decide(&ev, &Facts::default(), &cfg),
            [Action::Assign {
                logins: vec!["boss".into()],
                missing: None
            }]
        );
        ev.label = Some("kind/bug".into());
        assert_eq!(Label.needs(&ev, &cfg), None);
    }

    #[test]
    fn html_comments_are_removed_even_across_lines() {
        assert_eq!(strip_html_comments("a<!-- x\ny -->b<!--c"), "ab<!--c");
    }

    #[test]
    fn help_lists_default_and_additional_prefixes() {
        let h = Label.help(&config(), &[]);
        assert_eq!(
            h.config[""],
            "The label plugin will work on \"kind/*\", \"priority/*\", \"area/*\", \"api-review/*\" and \"nowhere/*\" labels."
        );
    }
}
