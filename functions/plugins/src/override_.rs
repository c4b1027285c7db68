//! override: `/override <context>...` forces failed status contexts of an open PR to success,
//! `/override-sticky` does so in a way retests keep, and `/override-cancel [context]` sets
//! overridden contexts back to failure (Prow's `pkg/plugins/override`). Only repo admins, the
//! teams of `override.allowed_github_teams` and, with `allow_top_level_owners`, the approvers
//! of the top-level OWNERS file may. A context that is a presubmit's also gets a ProwJob that
//! is already successful, so Prow's other parts (tide, deck) see the job as passed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prow_core::config::{OverrideConfig, PluginsConfig, Presubmit};
use prow_core::naming::prowjob_name;
use prow_core::prowjob::{ProwJobState, Refs};
use prow_core::prowjob_new::{new_prowjob, presubmit_labels, presubmit_spec};
use regex::Regex;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const NAME: &str = "override";

/// The words overridden statuses start with; `/override-cancel` finds them by it.
const DESCRIPTION_PREFIX: &str = "Overridden by";

/// Prow's marker in a status description that retests must leave the context alone.
pub const SKIP_RETEST_SENTINEL: &str = "[prow:skip-retest]";

#[allow(clippy::expect_used)]
static STICKY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?mi)^/override-sticky( ([^\r\n]+))?[\r\n]?$").expect("valid regex")
});
#[allow(clippy::expect_used)]
static CANCEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?mi)^/override-cancel( ([^\r\n]+))?[\r\n]?$").expect("valid regex")
});
#[allow(clippy::expect_used)]
static PLAIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?mi)^/override( ([^\r\n]+))?[\r\n]?$").expect("valid regex"));

#[derive(Debug)]
pub struct Override;

/// A status on the PR's head, as override reads and rewrites it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStatus {
    pub context: String,
    /// As GitHub spells it; empty for a context branch protection requires that never reported.
    pub state: String,
    pub description: String,
    pub target_url: String,
}

/// What override reads about the PR once the commenter is allowed.
#[derive(Debug, Clone, Default)]
pub struct OverrideFacts {
    /// Repo admin, member of an allowed team, or (when allowed) a top-level OWNERS approver.
    pub authorized: bool,
    pub head_sha: String,
    /// The base branch's head now (Prow's base SHA getter: `GET git/ref/heads/<base>`).
    pub base_sha: String,
    /// The PR's refs at `base_sha` (Prow's createRefs), for override ProwJobs.
    pub refs: Refs,
    /// The latest status of each context on the head.
    pub statuses: Vec<HeadStatus>,
    /// Contexts the base branch's protection requires.
    pub required_contexts: Vec<String>,
    /// The repo's presubmits (central config).
    pub presubmits: Vec<Presubmit>,
    /// Where ProwJobs go (`prowjob_namespace`).
    pub namespace: String,
    /// The time override jobs start and complete at.
    pub now: Option<Time>,
}

/// The flavours of the command, each handled on its own as Prow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Plain,
    Sticky,
}

impl Flavour {
    fn command(self) -> &'static str {
        match self {
            Flavour::Plain => "/override",
            Flavour::Sticky => "/override-sticky",
        }
    }

    fn regex(self) -> &'static Regex {
        match self {
            Flavour::Plain => &PLAIN,
            Flavour::Sticky => &STICKY,
        }
    }

    fn description(self, user: &str) -> String {
        match self {
            Flavour::Plain => format!("{DESCRIPTION_PREFIX} {user}"),
            Flavour::Sticky => format!("{DESCRIPTION_PREFIX} {user} {SKIP_RETEST_SENTINEL}"),
        }
    }

    fn done(self, user: &str, contexts: &str) -> String {
        match self {
            Flavour::Plain => format!("Overrode contexts on behalf of {user}: {contexts}"),
            Flavour::Sticky => format!(
                "Overrode contexts on behalf of {user}: {contexts}\n\nThese overrides will persist across retests on the current HEAD SHA. Pushing a new commit will clear them. Use `/override-cancel` to remove them."
            ),
        }
    }
}

/// Each `/command` line of `body`: `Some(arguments)`, or `None` for the bare command.
fn commands(re: &Regex, body: &str) -> Vec<Option<String>> {
    re.captures_iter(body)
        .map(|c| c.get(2).map(|m| m.as_str().to_owned()))
        .collect()
}

/// Prow's parseOverrideInput: contexts split on spaces outside double quotes, quotes removed.
pub fn parse_contexts(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut field = String::new();
    for c in input.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && c == ' ' {
            if !field.is_empty() {
                out.push(std::mem::take(&mut field));
            }
        } else {
            field.push(c);
        }
    }
    if !field.is_empty() {
        out.push(field);
    }
    out.iter()
        .map(|f| f.trim().trim_matches('"').to_owned())
        .collect()
}

/// Prow's whoCanUse; `org`/`repo` empty lists the teams of every entry (the help's form).
pub fn who_can_use(config: &OverrideConfig, org: &str, repo: &str) -> String {
    let owners = if config.allow_top_level_owners {
        ", approvers in top level OWNERS file"
    } else {
        ""
    };
    let mut teams = String::new();
    if !config.allowed_github_teams.is_empty() {
        let repo_ref = format!("{org}/{repo}");
        let entries: Vec<String> = config
            .allowed_github_teams
            .iter()
            .filter(|(r, _)| repo_ref == "/" || **r == repo_ref || *r == org)
            .map(|(r, slugs)| format!("{r}: {}", slugs.join(" ")))
            .collect();
        // The map iterates sorted, as Go sorts these lines.
        teams = format!(", and the following github teams:{}", entries.join(", "));
    }
    format!("Repo administrators{owners}{teams}.")
}

/// The commands of the comment, when override has anything to do with the event.
fn wanted(event: &Event) -> Option<&crate::event::GenericComment> {
    let comment = event.created_comment()?;
    let any = [&*PLAIN, &*STICKY, &*CANCEL]
        .iter()
        .any(|re| re.is_match(&comment.body));
    (event.is_pr && event.state == "open" && any).then_some(comment)
}

/// Whether any part of the comment needs the PR read (a bare `/override` is answered without).
fn needs_facts(body: &str) -> bool {
    !commands(&CANCEL, body).is_empty()
        || [Flavour::Plain, Flavour::Sticky].iter().any(|f| {
            let found = commands(f.regex(), body);
            !found.is_empty() && found.iter().all(Option::is_some)
        })
}

fn format_list(items: &BTreeSet<String>) -> String {
    items
        .iter()
        .map(|i| format!(" - `{i}`"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `/override-cancel`: overridden statuses named (or all) back to failure.
fn decide_cancel(
    event: &Event,
    facts: &OverrideFacts,
    config: &OverrideConfig,
    reply: &ReplyTo,
) -> Vec<Action> {
    let user = &reply.login;
    let found = commands(&CANCEL, &reply.body);
    if found.is_empty() {
        return vec![];
    }
    if !facts.authorized {
        return vec![Action::Comment(reply.reply(&format!(
            "{user} unauthorized: /override-cancel is restricted to {}",
            who_can_use(config, &event.org, &event.repo)
        )))];
    }
    let all = found.iter().any(Option::is_none);
    let named: BTreeSet<String> = found
        .iter()
        .flatten()
        .flat_map(|args| parse_contexts(args))
        .collect();
    let mut actions = Vec::new();
    let mut cancelled = BTreeSet::new();
    for status in &facts.statuses {
        if !status.description.contains(DESCRIPTION_PREFIX)
            || !all && !named.contains(&status.context)
        {
            continue;
        }
        actions.push(Action::CreateStatus {
            sha: facts.head_sha.clone(),
            context: status.context.clone(),
            state: "failure".into(),
            description: format!("Override cancelled by {user}"),
            target_url: status.target_url.clone(),
        });
        cancelled.insert(status.context.clone());
    }
    let message = if cancelled.is_empty() {
        "No overrides found to cancel".to_owned()
    } else {
        let list: Vec<&str> = cancelled.iter().map(String::as_str).collect();
        format!(
            "Cancelled overrides on behalf of {user}: {}",
            list.join(", ")
        )
    };
    actions.push(Action::Comment(reply.reply(&message)));
    actions
}

/// `/override` or `/override-sticky`.
fn decide_override(
    event: &Event,
    facts: Option<&OverrideFacts>,
    config: &OverrideConfig,
    reply: &ReplyTo,
    flavour: Flavour,
) -> Vec<Action> {
    let user = &reply.login;
    let command = flavour.command();
    let found = commands(flavour.regex(), &reply.body);
    if found.is_empty() {
        return vec![];
    }
    if found.iter().any(Option::is_none) {
        return vec![Action::Comment(reply.reply(&format!(
            "{command} requires failed status contexts to operate on, but none was given"
        )))];
    }
    let Some(facts) = facts else {
        return vec![];
    };
    if !facts.authorized {
        return vec![Action::Comment(reply.reply(&format!(
            "{user} unauthorized: {command} is restricted to {}",
            who_can_use(config, &event.org, &event.repo)
        )))];
    }
    let overrides: BTreeSet<String> = found
        .iter()
        .flatten()
        .flat_map(|args| parse_contexts(args))
        .collect();
    let job_of = |context: &str| facts.presubmits.iter().find(|p| p.context == context);
    let mut statuses = facts.statuses.clone();
    let mut contexts = BTreeSet::new();
    for status in statuses.iter().filter(|s| s.state != "success") {
        contexts.insert(status.context.clone());
        if let Some(job) = job_of(&status.context) {
            contexts.insert(job.name().to_owned());
        }
    }
    for required in &facts.required_contexts {
        if contexts.insert(required.clone()) {
            statuses.push(HeadStatus {
                context: required.clone(),
                ..HeadStatus::default()
            });
        }
    }
    let unknown: BTreeSet<String> = overrides.difference(&contexts).cloned().collect();
    if !unknown.is_empty() {
        return vec![Action::Comment(reply.reply(&format!(
            "{command} requires failed status contexts, check run or a prowjob name to operate on.\nThe following unknown contexts/checkruns were given:\n{}\n\nOnly the following failed contexts/checkruns were expected:\n{}\n\nIf you are trying to override a checkrun that has a space in it, you must put a double quote on the context.\n",
            format_list(&unknown),
            format_list(&contexts),
        )))];
    }
    let description = flavour.description(user);
    let mut actions = Vec::new();
    let mut done = BTreeSet::new();
    let mut jobs_created = BTreeSet::new();
    for status in &statuses {
        let job = job_of(&status.context);
        let asked = overrides.contains(&status.context)
            || job.is_some_and(|j| overrides.contains(j.name()));
        if status.state == "success" || !asked || jobs_created.contains(&status.context) {
            continue;
        }
        if let Some(job) = job {
            actions.push(Action::CreateProwJob(Box::new(override_job(
                event,
                facts,
                job,
                flavour,
                &description,
                &reply.html_url,
            ))));
            jobs_created.insert(status.context.clone());
        }
        actions.push(Action::CreateStatus {
            sha: facts.head_sha.clone(),
            context: status.context.clone(),
            state: "success".into(),
            description: prow_core::status_description::with_base_sha(
                &description,
                &facts.base_sha,
            ),
            target_url: status.target_url.clone(),
        });
        done.insert(status.context.clone());
    }
    if !done.is_empty() {
        let list: Vec<&str> = done.iter().map(String::as_str).collect();
        actions.push(Action::Comment(
            reply.reply(&flavour.done(user, &list.join(", "))),
        ));
    }
    actions
}

/// Prow's NewPresubmit for `job` at the base SHA, already successful: started and completed
/// now, described as overridden, linking to the comment. Its name derives from the delivery,
/// the command and the job, so a redelivered comment creates nothing new.
fn override_job(
    event: &Event,
    facts: &OverrideFacts,
    job: &Presubmit,
    flavour: Flavour,
    description: &str,
    comment_url: &str,
) -> prow_core::prowjob::ProwJob {
    let (labels, annotations) = presubmit_labels(job, &event.delivery_id, &BTreeMap::new());
    let now = facts
        .now
        .clone()
        .unwrap_or(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    let name = prowjob_name(&[&event.delivery_id, flavour.command(), job.name()]);
    let mut pj = new_prowjob(
        presubmit_spec(job, facts.refs.clone()),
        &labels,
        &annotations,
        name,
        now.clone(),
    );
    pj.metadata.namespace = Some(facts.namespace.clone());
    pj.status.completion_time = Some(now);
    pj.status.state = ProwJobState::Success;
    pj.status.description = description.to_owned();
    pj.status.url = comment_url.to_owned();
    pj
}

impl Plugin for Override {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let who = who_can_use(&config.override_, "", "");
        PluginHelp {
            description: "The override plugin allows repo admins to force a github status context to pass".into(),
            snippet: "override:\n  allow_top_level_owners: true\n  # AllowedGitHubTeams is a map of orgs and/or repositories (eg \"org\" or \"org/repo\") to list of GitHub team slugs,\n  # members of which are allowed to override contexts\n  allowed_github_teams:\n    kubernetes/kubernetes:\n    - team1\n    - team2\n".into(),
            commands: vec![
                Command::new(
                    "/override [context1] [context2]",
                    false,
                    "Forces github status contexts to green (multiple can be given). If the desired context has spaces, it must be quoted. Overrides expire when the base branch moves.",
                    &[
                        "/override pull-repo-whatever",
                        "/override \"test / Unit Tests\"",
                        "/override ci/circleci",
                        "/override deleted-job other-job",
                    ],
                    &who,
                ),
                Command::new(
                    "/override-sticky [context1] [context2]",
                    false,
                    "Like /override, but the override persists across retests on the current HEAD SHA even when the base branch moves. Pushing a new commit clears them. Use /override-cancel to remove.",
                    &[
                        "/override-sticky pull-repo-whatever",
                        "/override-sticky \"test / Unit Tests\"",
                    ],
                    &who,
                ),
                Command::new(
                    "/override-cancel [context]",
                    false,
                    "Removes overrides by setting the status back to failure. Works on both regular and sticky overrides. If a context is given, only that override is removed. If no context is given, all overrides on the PR are removed.",
                    &["/override-cancel pull-repo-whatever", "/override-cancel"],
                    &who,
                ),
            ],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        let comment = wanted(event)?;
        let check = needs_facts(&comment.body).then(|| OverrideCheck {
            teams: if config.override_.allowed_github_teams.is_empty() {
                vec![]
            } else {
                config.override_.teams_for(&event.org, &event.repo)
            },
            top_level_owners: config.override_.allow_top_level_owners,
        });
        Some(Needs {
            override_: check,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let Some(comment) = wanted(event) else {
            return vec![];
        };
        let reply = ReplyTo::new(&comment.body, &comment.html_url, &comment.user.login);
        let config = &config.override_;
        let facts = facts.override_.as_ref();
        // Prow runs the three handlers in this order, each on its own.
        let mut actions = match facts {
            Some(f) => decide_cancel(event, f, config, &reply),
            None => vec![],
        };
        actions.extend(decide_override(
            event,
            facts,
            config,
            &reply,
            Flavour::Sticky,
        ));
        actions.extend(decide_override(
            event,
            facts,
            config,
            &reply,
            Flavour::Plain,
        ));
        actions
    }
}

/// Who the shell must check the commenter against, in Prow's order: repo admin, then these
/// teams (slugs of the repo's org), then the top-level OWNERS approvers when allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideCheck {
    pub teams: Vec<String>,
    pub top_level_owners: bool,
}

/// Whether a GitHub permission is the admin role Prow asks for.
pub fn is_admin(permission: &str) -> bool {
    permission == "admin"
}

/// Whether `user` is among a team's members (Prow compares logins exactly).
pub fn in_team(members: &[String], user: &str) -> bool {
    members.iter().any(|m| m == user)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    fn presubmits() -> Vec<Presubmit> {
        let yaml = "presubmits:\n  acme/foo:\n  - name: pull-unit\n    context: ci/unit\n    always_run: true\n    labels: {team: core}\n    spec: {containers: [{image: x}]}\n";
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, "prowjob_namespace: default\n").unwrap();
        let jobs = dir.path().join("jobs.yaml");
        std::fs::write(&jobs, yaml).unwrap();
        prow_core::config::load(&prow_core::config::LoadOptions {
            config_path,
            job_config_path: Some(jobs),
            plugin_config_path: None,
        })
        .unwrap()
        .config
        .presubmits_for("acme/foo")
        .unwrap()
        .to_vec()
    }

    fn status(context: &str, state: &str, description: &str) -> HeadStatus {
        HeadStatus {
            context: context.into(),
            state: state.into(),
            description: description.into(),
            target_url: format!("https://ci/{context}"),
        }
    }

    fn facts(authorized: bool, statuses: Vec<HeadStatus>) -> Facts {
        let mut refs = Refs::new("acme", "foo");
        refs.base_ref = "main".into();
        refs.base_sha = "base1".into();
        Facts {
            override_: Some(OverrideFacts {
                authorized,
                head_sha: "head1".into(),
                base_sha: "base1".into(),
                refs,
                statuses,
                required_contexts: vec!["tide-required".into()],
                presubmits: presubmits(),
                namespace: "prow".into(),
                now: Some(Time(
                    k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap(),
                )),
            }),
            ..facts_with_labels(&[])
        }
    }

    fn cfg() -> PluginsConfig {
        serde_norway::from_str(
            "override:\n  allow_top_level_owners: true\n  allowed_github_teams:\n    acme: [admins]\n    acme/foo: [release]\n    other: [x]\n",
        )
        .unwrap()
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

    fn succeeded(context: &str, description: &str) -> Action {
        Action::CreateStatus {
            sha: "head1".into(),
            context: context.into(),
            state: "success".into(),
            description: prow_core::status_description::with_base_sha(description, "base1"),
            target_url: if context == "tide-required" {
                String::new()
            } else {
                format!("https://ci/{context}")
            },
        }
    }

    #[test]
    fn contexts_split_on_spaces_outside_quotes() {
        assert_eq!(
            parse_contexts(r#"ci/unit "test / Unit Tests"  other"#),
            ["ci/unit", "test / Unit Tests", "other"]
        );
    }

    #[test]
    fn who_can_use_names_admins_owners_and_the_teams_of_the_repo() {
        let c = cfg().override_;
        assert_eq!(
            who_can_use(&c, "acme", "foo"),
            "Repo administrators, approvers in top level OWNERS file, and the following github teams:acme: admins, acme/foo: release."
        );
        assert_eq!(
            who_can_use(&c, "", ""),
            "Repo administrators, approvers in top level OWNERS file, and the following github teams:acme: admins, acme/foo: release, other: x."
        );
        assert_eq!(
            who_can_use(&OverrideConfig::default(), "acme", "foo"),
            "Repo administrators."
        );
    }

    #[test]
    fn a_job_context_gets_a_successful_prowjob_and_a_status_and_the_comment_lists_them() {
        let body = "/override pull-unit tide-required";
        let mut ev = comment_event(body, "alice", true);
        ev.delivery_id = "d-1".into();
        let f = facts(
            true,
            vec![
                status("ci/unit", "failure", "Job failed."),
                status("lint", "success", "ok"),
            ],
        );
        let actions = Override.decide(&ev, &f, &cfg());
        assert_eq!(actions.len(), 4, "{actions:?}");
        let Action::CreateProwJob(pj) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert_eq!(pj.spec.job, "pull-unit");
        assert_eq!(pj.spec.context, "ci/unit");
        assert_eq!(pj.status.state, ProwJobState::Success);
        assert_eq!(pj.status.description, "Overridden by alice");
        assert_eq!(
            pj.status.url,
            "https://github.com/acme/foo/pull/7#issuecomment-1"
        );
        assert_eq!(pj.status.completion_time, pj.status.start_time);
        assert_eq!(pj.metadata.namespace.as_deref(), Some("prow"));
        assert_eq!(
            pj.metadata.name.as_deref().unwrap(),
            prowjob_name(&["d-1", "/override", "pull-unit"])
        );
        let labels = pj.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["event-GUID"], "d-1");
        assert_eq!(labels["team"], "core");
        assert_eq!(labels["prow.k8s.io/is-optional"], "false");
        assert_eq!(pj.spec.refs.as_ref().unwrap().base_sha, "base1");
        assert_eq!(
            actions[1..],
            [
                succeeded("ci/unit", "Overridden by alice"),
                succeeded("tide-required", "Overridden by alice"),
                reply(
                    body,
                    "Overrode contexts on behalf of alice: ci/unit, tide-required"
                ),
            ]
        );
    }

    #[test]
    fn sticky_marks_the_description_and_says_it_persists() {
        let body = "/override-sticky ci/unit";
        let ev = comment_event(body, "alice", true);
        let actions = Override.decide(
            &ev,
            &facts(true, vec![status("ci/unit", "error", "")]),
            &cfg(),
        );
        let sticky = "Overridden by alice [prow:skip-retest]";
        assert!(
            matches!(&actions[0], Action::CreateProwJob(pj) if pj.status.description == sticky)
        );
        assert_eq!(
            actions[1..],
            [
                succeeded("ci/unit", sticky),
                reply(
                    body,
                    "Overrode contexts on behalf of alice: ci/unit\n\nThese overrides will persist across retests on the current HEAD SHA. Pushing a new commit will clear them. Use `/override-cancel` to remove them."
                ),
            ]
        );
    }

    #[test]
    fn refusals_and_unknown_contexts_are_answered_in_prows_words() {
        let cfg = cfg();
        // A bare command needs nothing read.
        let bare = comment_event("/override", "alice", true);
        assert_eq!(Override.needs(&bare, &cfg).unwrap().override_, None);
        assert_eq!(
            Override.decide(&bare, &facts_with_labels(&[]), &cfg),
            [reply(
                "/override",
                "/override requires failed status contexts to operate on, but none was given"
            )]
        );
        let body = "/override ci/unit";
        let ev = comment_event(body, "alice", true);
        assert_eq!(
            Override.needs(&ev, &cfg).unwrap().override_,
            Some(OverrideCheck {
                teams: vec!["release".into(), "admins".into()],
                top_level_owners: true
            })
        );
        assert_eq!(
            Override.decide(
                &ev,
                &facts(false, vec![status("ci/unit", "failure", "")]),
                &cfg
            ),
            [reply(
                body,
                "alice unauthorized: /override is restricted to Repo administrators, approvers in top level OWNERS file, and the following github teams:acme: admins, acme/foo: release."
            )]
        );
        let body = "/override nope \"ci/unit\"";
        let ev = comment_event(body, "alice", true);
        let msg = "/override requires failed status contexts, check run or a prowjob name to operate on.\nThe following unknown contexts/checkruns were given:\n - `nope`\n\nOnly the following failed contexts/checkruns were expected:\n - `ci/unit`\n - `pull-unit`\n - `tide-required`\n\nIf you are trying to override a checkrun that has a space in it, you must put a double quote on the context.\n";
        assert_eq!(
            Override.decide(
                &ev,
                &facts(true, vec![status("ci/unit", "failure", "")]),
                &cfg
            ),
            [reply(body, msg)]
        );
        // Not on issues, closed PRs or edits.
        assert!(
            Override
                .needs(&comment_event(body, "alice", false), &cfg)
                .is_none()
        );
        let mut closed = comment_event(body, "alice", true);
        closed.state = "closed".into();
        assert!(Override.needs(&closed, &cfg).is_none());
    }

    #[test]
    fn cancel_fails_overridden_contexts_again() {
        let cfg = cfg();
        let statuses = vec![
            status("ci/unit", "success", "Overridden by bob BaseSHA:x"),
            status("lint", "success", "Overridden by bob [prow:skip-retest]"),
            status("e2e", "success", "Job succeeded."),
        ];
        let body = "/override-cancel lint";
        let ev = comment_event(body, "alice", true);
        let failed = |context: &str| Action::CreateStatus {
            sha: "head1".into(),
            context: context.into(),
            state: "failure".into(),
            description: "Override cancelled by alice".into(),
            target_url: format!("https://ci/{context}"),
        };
        assert_eq!(
            Override.decide(&ev, &facts(true, statuses.clone()), &cfg),
            [
                failed("lint"),
                reply(body, "Cancelled overrides on behalf of alice: lint")
            ]
        );
        let ev = comment_event("/override-cancel", "alice", true);
        assert_eq!(
            Override.decide(&ev, &facts(true, statuses), &cfg),
            [
                failed("ci/unit"),
                failed("lint"),
                reply(
                    "/override-cancel",
                    "Cancelled overrides on behalf of alice: ci/unit, lint"
                )
            ]
        );
        assert_eq!(
            Override.decide(&ev, &facts(true, vec![]), &cfg),
            [reply("/override-cancel", "No overrides found to cancel")]
        );
    }

    #[test]
    fn admins_and_exact_team_members_are_allowed() {
        assert!(is_admin("admin"));
        assert!(!is_admin("write"));
        let members = vec!["Alice".to_owned()];
        assert!(in_team(&members, "Alice"));
        assert!(!in_team(&members, "alice"));
    }
}
