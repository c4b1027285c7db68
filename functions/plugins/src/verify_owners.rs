//! verify-owners: the OWNERS and OWNERS_ALIASES files a PR changes must parse, carry no banned
//! labels, give the root approvers, and add only trusted owners (Prow's
//! `pkg/plugins/verify-owners`; the checks are prow-owners' `verify_owners`). When they do not,
//! the PR gets `do-not-merge/invalid-owners-file` and comments saying why; once they do, the
//! label and our complaints go.
//!
//! Differences from Prow: the files are read at the PR's head through the contents API rather
//! than from a merge checkout; invalid files are listed in one issue comment (with the line,
//! linked at the head) instead of a review with comments on diff positions; every problem of a
//! file is listed, not only the first; an untrusted owner lists every file adding them. Our
//! earlier complaints that no longer hold are deleted, so a redelivered event says nothing new.

use std::collections::BTreeMap;

use prow_core::commands::CommandLine;
use prow_core::config::PluginsConfig;
use prow_owners::{ChangedFile, Problem, VerifyInput, filenames_for, verify_owners};

use crate::event::{CommentAction, Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, OwnersChanges, OwnersCheck, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const NAME: &str = "verify-owners";
pub const LABEL: &str = "do-not-merge/invalid-owners-file";
/// Prow stops asking GitHub about owners' trust after this many, so a PR adding hundreds of
/// names cannot spend the token's rate limit; the ones after it are not reported.
pub const MAX_TRUST_CHECKS: usize = 50;

#[derive(Debug)]
pub struct VerifyOwners;

/// `/verify-owners` alone on a line (Prow's `(?mi)^/verify-owners\s*$`).
fn is_verify_command(c: &CommandLine<'_>) -> bool {
    c.is_any_case("verify-owners") && c.bare()
}

fn is_relevant(event: &Event) -> bool {
    match event.kind {
        Kind::PullRequest => matches!(event.action.as_str(), "opened" | "reopened" | "synchronize"),
        // Prow's generic comment handler: issue comments and review bodies.
        Kind::IssueComment | Kind::PullRequestReview => event.comment.as_ref().is_some_and(|c| {
            c.action == CommentAction::Created
                && event.is_pr
                && event.state == "open"
                && c.text.any(is_verify_command)
        }),
        _ => false,
    }
}

/// How trust is checked for `org/repo`: trigger's rule, unless the repo skips collaborators.
pub fn owners_check(config: &PluginsConfig, org: &str, repo: &str) -> OwnersCheck {
    let trigger = config.trigger_for(org, repo);
    OwnersCheck {
        // A malformed `owners.filenames` is reported by config validation; Prow's names then.
        filenames: filenames_for(&config.owners, org, repo).unwrap_or_default(),
        skip_trust_check: config.skip_collaborators(org, repo),
        only_org_members: trigger.only_org_members,
        trusted_org: trigger.trusted_org,
        trusted_apps: trigger.trusted_apps,
    }
}

/// prow-owners' input for these changes (the shell uses it too, to know whose trust to ask).
pub fn verify_input<'a>(
    changes: &'a OwnersChanges,
    labels_denylist: &'a [String],
    skip_trust_check: bool,
) -> VerifyInput<'a> {
    VerifyInput {
        owners_files: changes
            .owners_files
            .iter()
            .map(|f| ChangedFile {
                path: &f.path,
                contents: &f.contents,
                patch: f.patch.as_deref(),
            })
            .collect(),
        aliases_file: changes.aliases.as_deref().map(|contents| ChangedFile {
            path: &changes.filenames.owners_aliases,
            contents,
            patch: changes.aliases_patch.as_deref(),
        }),
        aliases_changed: changes.aliases_changed,
        labels_denylist,
        filenames: changes.filenames.clone(),
        skip_trust_check,
    }
}

/// Prow's explanation of why a user is not trusted (trigger's reasons).
pub fn untrusted_reason(only_org_members: bool, secondary_org: bool) -> String {
    let mut reason = String::from("User is not a member of the org. ");
    if !only_org_members {
        reason.push_str("User is not a collaborator. ");
    }
    if secondary_org {
        reason.push_str("User is not a member of the trusted secondary org. ");
    }
    reason.push_str("Satisfy at least one of these conditions to make the user trusted.");
    reason
}

/// The first paragraph of Prow's untrusted-users comment; it identifies those comments.
fn untrusted_header(owners_file: &str, join_org_url: &str, org: &str) -> String {
    format!(
        "The {owners_file} file contains untrusted users, which makes it INVALID. The following users are mentioned in {owners_file} file(s) but are untrusted for the following reasons. One way to make the user trusted is to add them as [members]({join_org_url}) of the {org} org. You can then trigger verification by writing `/verify-owners` in a comment."
    )
}

/// Prow's sentence for a problem that makes a file invalid.
fn file_message(problem: &Problem, owners_file: &str) -> String {
    match problem {
        Problem::Syntax { message, .. } => format!("Cannot parse file: {message}."),
        Problem::BannedLabels { labels, .. } => {
            format!("File contains banned labels: [{}].", labels.join(" "))
        }
        Problem::NoRootApprovers { .. } => {
            format!("No approvers defined in this root directory {owners_file} file.")
        }
        other => other.to_string(),
    }
}

/// Whether a comment of ours is an invalid-files complaint (see [`invalid_files_comment`]).
fn is_invalid_files_comment(body: &str, owners_file: &str) -> bool {
    body.starts_with('@')
        && body
            .split('\n')
            .next()
            .is_some_and(|first| first.contains(&format!(" invalid {owners_file} file")))
}

fn invalid_files_comment(event: &Event, changes: &OwnersChanges, problems: &[&Problem]) -> String {
    let owners_file = &changes.filenames.owners;
    let mut files: Vec<&str> = problems.iter().map(|p| p.file()).collect();
    files.dedup();
    let s = if files.len() == 1 { "" } else { "s" };
    let mut message = format!("{} invalid {owners_file} file{s}:", files.len());
    for p in problems {
        message.push_str(&format!(
            "\n- [{file}:{line}](https://github.com/{org}/{repo}/blob/{sha}/{file}#L{line}): {text}",
            file = p.file(),
            line = p.line(),
            org = event.org,
            repo = event.repo,
            sha = changes.head_sha,
            text = file_message(p, owners_file),
        ));
    }
    ReplyTo::new(&changes.pr_body, &changes.pr_url, &event.author.login).reply(&message)
}

fn untrusted_comment(
    header: &str,
    problems: &[&Problem],
    untrusted: &BTreeMap<String, String>,
) -> String {
    let mut files: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in problems {
        if let Problem::NotTrusted { file, login, .. } = p {
            let of = files.entry(login.as_str()).or_default();
            if !of.contains(&file.as_str()) {
                of.push(file);
            }
        }
    }
    let mut lines = vec![header.to_owned()];
    for (login, of) in files {
        lines.push(format!("- {login}"));
        if let Some(reason) = untrusted.get(login) {
            lines.push(format!("  - {reason}"));
        }
        lines.extend(of.iter().map(|f| format!("  - {f}")));
    }
    lines.join("\n")
}

/// Deletes our comments `is_ours` recognises except one whose body is `keep`; says whether
/// that one is already there.
fn prune(
    facts: &Facts,
    is_ours: impl Fn(&str) -> bool,
    keep: Option<&str>,
    actions: &mut Vec<Action>,
) -> bool {
    let mut kept = false;
    for c in facts.bot_comments().filter(|c| is_ours(&c.body)) {
        if !kept && keep == Some(c.body.as_str()) {
            kept = true;
        } else {
            actions.push(Action::DeleteComment(c.id));
        }
    }
    kept
}

impl Plugin for VerifyOwners {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let describe = |org: &str, repo: &str| {
            let names = filenames_for(&config.owners, org, repo).unwrap_or_default();
            let mut d = format!(
                "{} and {} files are validated.",
                names.owners, names.owners_aliases
            );
            if !config.owners.labels_denylist.is_empty() {
                d.push_str(&format!(
                    " The verify-owners plugin will complain if {} files contain any of the following banned labels: {}.",
                    names.owners,
                    config.owners.labels_denylist.join(", ")
                ));
            }
            d
        };
        let mut help = PluginHelp {
            description: format!(
                "The verify-owners plugin validates OWNERS and OWNERS_ALIASES files (by default) and ensures that they always contain collaborators of the org, if they are modified in a PR. On validation failure it automatically adds the '{LABEL}' label to the PR, and a review comment on the incriminating file(s). Per-repo configuration for filenames is possible."
            ),
            commands: vec![Command::new(
                "/verify-owners",
                false,
                LABEL,
                &["/verify-owners"],
                "Anyone",
            )],
            ..PluginHelp::default()
        };
        let default = describe("", "");
        for r in repos {
            let d = describe(&r.org, &r.repo);
            if d != default {
                help.config.insert(r.full_name(), d);
            }
        }
        help.config.insert("default".into(), default);
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        is_relevant(event).then(|| Needs {
            labels: true,
            comments: true,
            owners_changes: Some(owners_check(config, &event.org, &event.repo)),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let Some(changes) = &facts.owners_changes else {
            return vec![];
        };
        if !is_relevant(event) {
            return vec![];
        }
        let has_label = facts.has_label(LABEL);
        if changes.owners_files.is_empty() && !changes.aliases_changed && !has_label {
            return vec![];
        }
        let check = owners_check(config, &event.org, &event.repo);
        let input = verify_input(
            changes,
            &config.owners.labels_denylist,
            check.skip_trust_check,
        );
        let problems = verify_owners(&input, &|login| !changes.untrusted.contains_key(login));
        let aliases_file = &changes.filenames.owners_aliases;
        let owners_file = &changes.filenames.owners;
        let mut actions = Vec::new();

        if problems
            .iter()
            .any(|p| matches!(p, Problem::Syntax { file, .. } if file == aliases_file))
        {
            // Prow stops here: without the aliases no OWNERS file can be judged.
            if !has_label {
                actions.push(Action::AddLabel(LABEL.into()));
            }
            actions.push(Action::Comment(format!(
                "The content of {aliases_file} is invalid."
            )));
            return actions;
        }
        if problems
            .iter()
            .any(|p| matches!(p, Problem::EmptyAliases { .. }))
        {
            // Prow's wording, typo included: the advice is all it gives.
            actions.push(Action::Comment(
                "There are empty aliases in OWNER_ALIASES, cleanup is advised.".into(),
            ));
        }

        let invalid: Vec<&Problem> = problems
            .iter()
            .filter(|p| {
                matches!(
                    p,
                    Problem::Syntax { .. }
                        | Problem::BannedLabels { .. }
                        | Problem::NoRootApprovers { .. }
                        | Problem::UnknownAlias { .. }
                )
            })
            .collect();
        let untrusted: Vec<&Problem> = problems
            .iter()
            .filter(|p| matches!(p, Problem::NotTrusted { .. }))
            .collect();

        let trigger = config.trigger_for(&event.org, &event.repo);
        let join_org_url = if trigger.join_org_url.is_empty() {
            format!("https://github.com/orgs/{}/people", event.org)
        } else {
            trigger.join_org_url
        };
        let header = untrusted_header(owners_file, &join_org_url, &event.org);

        if (!invalid.is_empty() || !untrusted.is_empty()) && !has_label {
            actions.push(Action::AddLabel(LABEL.into()));
        }
        if invalid.is_empty() && untrusted.is_empty() && has_label {
            actions.push(Action::RemoveLabel(LABEL.into()));
        }

        let files_comment =
            (!invalid.is_empty()).then(|| invalid_files_comment(event, changes, &invalid));
        let already = prune(
            facts,
            |b| is_invalid_files_comment(b, owners_file),
            files_comment.as_deref(),
            &mut actions,
        );
        if let (Some(body), false) = (files_comment, already) {
            actions.push(Action::Comment(body));
        }

        let trust_comment = (!untrusted.is_empty())
            .then(|| untrusted_comment(&header, &untrusted, &changes.untrusted));
        let already = prune(
            facts,
            |b| b.contains(&header),
            trust_comment.as_deref(),
            &mut actions,
        );
        if let (Some(body), false) = (trust_comment, already) {
            actions.push(Action::Comment(body));
        }
        actions
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
