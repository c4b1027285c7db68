//! Trigger's decisions as pure functions: event + config + trust facts -> actions, and selected jobs -> ProwJobs.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prow_core::commands::strip_non_commands;
use prow_core::config::{Postsubmit, Presubmit, TriggerConfig};
use prow_core::jobspec::RETEST_LABEL;
use prow_core::naming::prowjob_name;
use prow_core::prowjob::{ProwJob, ProwJobState, Pull, Refs};
use prow_core::prowjob_new::{
    new_prowjob, postsubmit_labels, postsubmit_spec, presubmit_labels, presubmit_spec,
};
use prow_core::selection::{
    Commands, Contexts, Filter, branch_of_ref, filters_for_comment, select_postsubmits,
    select_presubmits,
};
use prow_github::{IssueState, PullRequest};

use crate::messages::{self, LGTM, NEEDS_OK_TO_TEST, OK_TO_TEST};
use crate::payload::{IssueCommentEvent, PullRequestEvent, PushEvent, Repo};

/// Description Prow sets on presubmits it aborts.
pub const ABORTED_DESCRIPTION: &str = "Aborted by trigger plugin.";

/// Something trigger does to the world.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create this ProwJob (its name is deterministic, so a repeat is a no-op).
    CreateProwJob(Box<ProwJob>),
    /// Comment on the PR.
    Comment(String),
    AddLabel(String),
    RemoveLabel(String),
    /// Abort the PR's non-complete presubmits, except those testing `keep_sha` (the head a
    /// redelivered `synchronize` just created jobs for).
    AbortJobs {
        keep_sha: Option<String>,
    },
    /// Delete our earlier help replies on the PR.
    PruneHelpComments,
    /// Select presubmits (needs changed files, base SHA, maybe statuses) and run them; turned
    /// into `CreateProwJob`/`Comment` by [`plan_run`].
    Run(RunRequest),
}

/// Which presubmits to consider running, before GitHub facts are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRequest {
    /// `/test all` semantics: new, updated, reopened or ok-to-test'd PRs.
    TestAll,
    /// A comment's commands; `text` has code blocks and quotes removed.
    Comment {
        text: String,
        honor_ok_to_test: bool,
    },
}

impl RunRequest {
    /// Whether the combined status of the head commit is needed (`/retest`, `/retest-required`).
    pub fn needs_contexts(&self) -> bool {
        match self {
            RunRequest::TestAll => false,
            RunRequest::Comment { text, .. } => {
                let c = Commands::parse(text);
                c.retest || c.retest_required
            }
        }
    }

    /// The filters for this request, given the head commit's status contexts.
    pub fn filters(&self, contexts: &Contexts) -> Vec<Filter> {
        match self {
            RunRequest::TestAll => vec![Filter::TestAll],
            RunRequest::Comment {
                text,
                honor_ok_to_test,
            } => filters_for_comment(&Commands::parse(text), text, contexts, *honor_ok_to_test),
        }
    }
}

/// What trigger must know from GitHub to decide on a pull_request event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrNeeds {
    /// Whether the author is trusted, and the PR's current labels.
    pub trust: bool,
    /// Whether the sender is the bot.
    pub sender_is_bot: bool,
}

/// Which facts a pull_request event needs (so untouched actions cost no GitHub calls).
pub fn pr_needs(ev: &PullRequestEvent) -> PrNeeds {
    let label = ev.label.as_ref().map(|l| l.name.as_str());
    match ev.action.as_str() {
        "opened" | "reopened" | "synchronize" | "ready_for_review" => PrNeeds {
            trust: true,
            ..PrNeeds::default()
        },
        "edited" => PrNeeds {
            trust: ev.base_changed(),
            ..PrNeeds::default()
        },
        "labeled" => PrNeeds {
            trust: label == Some(LGTM),
            sender_is_bot: label == Some(OK_TO_TEST),
        },
        _ => PrNeeds::default(),
    }
}

/// Facts gathered per [`pr_needs`]; unneeded ones stay default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrFacts {
    pub author_trusted: bool,
    pub labels: Vec<String>,
    pub sender_is_bot: bool,
}

impl PrFacts {
    fn has(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// Prow's TrustedPullRequest: a trusted author or the `ok-to-test` label.
    fn pr_trusted(&self) -> bool {
        self.author_trusted || self.has(OK_TO_TEST)
    }
}

/// Why an event runs no job at all, before any job's own filters are consulted (`prow
/// explain` reports it for every job).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NoRun {
    /// plugins.yaml does not enable `trigger` for the repo.
    PluginDisabled { repo: String },
    /// Draft PRs run nothing until they are ready for review.
    Draft,
    /// The PR's author is not trusted and the PR lacks `ok-to-test`.
    UntrustedAuthor { author: String },
    /// This webhook action starts no jobs.
    Action { action: String },
    /// A comment that is not new (edited, deleted).
    NotNewComment { action: String },
    /// A comment on an issue, not a pull request.
    NotPullRequest,
    /// A comment on a closed pull request.
    Closed,
    /// A comment by the bot itself.
    FromBot,
    /// The comment has no trigger command and names no job.
    NoCommand,
    /// Neither the commenter nor the PR is trusted.
    UntrustedCommenter { commenter: String },
    /// `/ok-to-test cancel` only changes labels.
    OkToTestCancel,
    /// GitHub says the PR has merge conflicts; Prow creates nothing for it.
    Unmergeable,
}

impl std::fmt::Display for NoRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoRun::PluginDisabled { repo } => {
                write!(f, "the trigger plugin is not enabled for {repo}")
            }
            NoRun::Draft => f.write_str("draft PR: nothing runs until it is ready for review"),
            NoRun::UntrustedAuthor { author } => write!(
                f,
                "author {author} is not trusted: a trusted member must comment /ok-to-test"
            ),
            NoRun::Action { action } => write!(f, "{action} starts no jobs"),
            NoRun::NotNewComment { action } => {
                write!(f, "comment {action}: only new comments run jobs")
            }
            NoRun::NotPullRequest => f.write_str("comment on an issue, not a pull request"),
            NoRun::Closed => f.write_str("comment on a closed pull request"),
            NoRun::FromBot => f.write_str("comment by the bot itself"),
            NoRun::NoCommand => f.write_str("not a /test, /retest or /ok-to-test command"),
            NoRun::UntrustedCommenter { commenter } => write!(
                f,
                "neither commenter {commenter} nor the PR's author is trusted"
            ),
            NoRun::OkToTestCancel => f.write_str("/ok-to-test cancel only changes labels"),
            NoRun::Unmergeable => f.write_str("the PR has merge conflicts"),
        }
    }
}

/// Prow's handlePR.
pub fn decide_pull_request(
    ev: &PullRequestEvent,
    trigger: &TriggerConfig,
    facts: &PrFacts,
) -> Vec<Action> {
    decide_pull_request_why(ev, trigger, facts).0
}

/// [`decide_pull_request`], with the reason when the actions run no jobs.
pub fn decide_pull_request_why(
    ev: &PullRequestEvent,
    trigger: &TriggerConfig,
    facts: &PrFacts,
) -> (Vec<Action>, Option<NoRun>) {
    let pr = &ev.pull_request;
    let untrusted = || NoRun::UntrustedAuthor {
        author: pr.user.login.clone(),
    };
    let action = |what: String| Some(NoRun::Action { action: what });
    let run_unless_draft = |mut actions: Vec<Action>| {
        if pr.draft {
            (actions, Some(NoRun::Draft))
        } else {
            actions.push(Action::Run(RunRequest::TestAll));
            (actions, None)
        }
    };
    let build_if_trusted = || {
        if !facts.pr_trusted() {
            return (vec![], Some(untrusted()));
        }
        let mut actions = Vec::new();
        if facts.has(NEEDS_OK_TO_TEST) {
            actions.push(Action::RemoveLabel(NEEDS_OK_TO_TEST.into()));
        }
        run_unless_draft(actions)
    };
    match ev.action.as_str() {
        "opened" if facts.author_trusted => {
            if pr.draft {
                (
                    vec![Action::Comment(messages::DRAFT_MESSAGE.into())],
                    Some(NoRun::Draft),
                )
            } else {
                (vec![Action::Run(RunRequest::TestAll)], None)
            }
        }
        "opened" => {
            // A redelivered `opened` finds the label from the first delivery: welcome once.
            if facts.has(NEEDS_OK_TO_TEST) {
                return (vec![], Some(untrusted()));
            }
            let org = &pr_repo(pr, &ev.repository).owner.login;
            let full_name = format!("{org}/{}", pr_repo(pr, &ev.repository).name);
            let mut actions = Vec::new();
            if !trigger.ignore_ok_to_test && !facts.has(OK_TO_TEST) {
                actions.push(Action::AddLabel(NEEDS_OK_TO_TEST.into()));
            }
            actions.push(Action::Comment(messages::welcome(
                trigger,
                &pr.user.login,
                org,
                &full_name,
            )));
            (actions, Some(untrusted()))
        }
        "reopened" | "ready_for_review" => build_if_trusted(),
        "edited" if ev.base_changed() => build_if_trusted(),
        "synchronize" => {
            let (more, why) = build_if_trusted();
            let mut actions = vec![Action::AbortJobs {
                keep_sha: Some(pr.head.sha.clone()),
            }];
            actions.extend(more);
            (actions, why)
        }
        "labeled" => match ev.label.as_ref().map(|l| l.name.as_str()) {
            Some(LGTM) if !facts.pr_trusted() => run_unless_draft(vec![]),
            Some(OK_TO_TEST) if !facts.sender_is_bot => run_unless_draft(vec![]),
            label => (
                vec![],
                action(format!("labeled {}", label.unwrap_or_default())),
            ),
        },
        "closed" | "converted_to_draft" => (
            vec![Action::AbortJobs { keep_sha: None }],
            action(format!("pull_request {}", ev.action)),
        ),
        other => (vec![], action(format!("pull_request {other}"))),
    }
}

/// Whether a comment is for trigger at all (Prow's check before any trust lookup): created on
/// an open PR by someone else than the bot, with a trigger command or a job's trigger in it.
pub fn comment_is_relevant(ev: &IssueCommentEvent, bot: &str, presubmits: &[Presubmit]) -> bool {
    comment_relevance(ev, bot, presubmits).is_ok()
}

/// [`comment_is_relevant`], saying why not.
pub fn comment_relevance(
    ev: &IssueCommentEvent,
    bot: &str,
    presubmits: &[Presubmit],
) -> Result<(), NoRun> {
    comment_on_open_pr_why(ev, bot)?;
    let text = strip_non_commands(&ev.comment.body);
    let c = Commands::parse(&text);
    let relevant = c.retest
        || c.retest_required
        || c.test_manual_required
        || c.ok_to_test
        || c.ok_to_test_cancel
        || c.test_all
        || may_need_help(&text)
        || presubmits.iter().any(|p| p.triggered_by(&text));
    if relevant {
        Ok(())
    } else {
        Err(NoRun::NoCommand)
    }
}

/// A new comment on an open PR by someone other than the bot: the part of
/// [`comment_is_relevant`] that needs no jobs.
pub fn comment_on_open_pr(ev: &IssueCommentEvent, bot: &str) -> bool {
    comment_on_open_pr_why(ev, bot).is_ok()
}

/// Whether a comment has any command line (`/word` at a line start, outside code and quotes):
/// comments without one cannot name an in-repo job, so their PR need not be read.
pub fn has_command(body: &str) -> bool {
    prow_core::commands::command_lines(&strip_non_commands(body))
        .next()
        .is_some()
}

fn comment_on_open_pr_why(ev: &IssueCommentEvent, bot: &str) -> Result<(), NoRun> {
    if ev.action != "created" {
        Err(NoRun::NotNewComment {
            action: ev.action.clone(),
        })
    } else if ev.issue.pull_request.is_none() {
        Err(NoRun::NotPullRequest)
    } else if ev.issue.state != IssueState::Open {
        Err(NoRun::Closed)
    } else if ev.comment.user.login.eq_ignore_ascii_case(bot) {
        Err(NoRun::FromBot)
    } else {
        Ok(())
    }
}

/// Facts for a relevant comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentFacts {
    pub commenter_trusted: bool,
    /// Only looked up when the commenter is not trusted.
    pub author_trusted: bool,
    pub labels: Vec<String>,
}

/// Prow's handleGenericComment, up to the job selection (which needs the PR).
pub fn decide_comment(
    ev: &IssueCommentEvent,
    trigger: &TriggerConfig,
    facts: &CommentFacts,
) -> Vec<Action> {
    decide_comment_why(ev, trigger, facts).0
}

/// [`decide_comment`], with the reason when the actions run no jobs.
pub fn decide_comment_why(
    ev: &IssueCommentEvent,
    trigger: &TriggerConfig,
    facts: &CommentFacts,
) -> (Vec<Action>, Option<NoRun>) {
    let text = strip_non_commands(&ev.comment.body);
    let commands = Commands::parse(&text);
    let has = |l: &str| facts.labels.iter().any(|x| x == l);
    let reply = |msg: &str| {
        Action::Comment(messages::reply_to_comment(
            &ev.comment.body,
            &ev.comment.html_url,
            &ev.comment.user.login,
            msg,
        ))
    };
    let pr_trusted = facts.author_trusted || has(OK_TO_TEST);
    if !(facts.commenter_trusted || pr_trusted) {
        let msg = if trigger.ignore_ok_to_test {
            messages::UNTRUSTED_REPLY_IGNORE_OK_TO_TEST
        } else {
            messages::UNTRUSTED_REPLY
        };
        return (
            vec![reply(msg)],
            Some(NoRun::UntrustedCommenter {
                commenter: ev.comment.user.login.clone(),
            }),
        );
    }
    let honor = !trigger.ignore_ok_to_test;
    let mut actions = Vec::new();
    let ok_to_test = honor && commands.ok_to_test;
    if ok_to_test && !has(OK_TO_TEST) {
        actions.push(Action::AddLabel(OK_TO_TEST.into()));
    }
    if (ok_to_test || has(OK_TO_TEST)) && has(NEEDS_OK_TO_TEST) {
        actions.push(Action::RemoveLabel(NEEDS_OK_TO_TEST.into()));
    }
    if honor && commands.ok_to_test_cancel {
        if !facts.commenter_trusted {
            return (
                vec![reply(messages::ONLY_TRUSTED_CAN_CANCEL)],
                Some(NoRun::OkToTestCancel),
            );
        }
        // Prow returns here: the labels added above for a simultaneous /ok-to-test are not
        // applied separately, only the cancel's.
        let mut cancel = Vec::new();
        if has(OK_TO_TEST) {
            cancel.push(Action::RemoveLabel(OK_TO_TEST.into()));
        }
        if !has(NEEDS_OK_TO_TEST) {
            cancel.push(Action::AddLabel(NEEDS_OK_TO_TEST.into()));
        }
        return (cancel, Some(NoRun::OkToTestCancel));
    }
    actions.push(Action::Run(RunRequest::Comment {
        text,
        honor_ok_to_test: honor,
    }));
    (actions, None)
}

fn may_need_help(text: &str) -> bool {
    let c = Commands::parse(text);
    c.bare_test || c.retest_with_target || c.test_with_target || c.test_help
}

/// Prow's ShouldRespondWithHelp: the note of the help reply a comment deserves, if any, given
/// how many jobs it selected.
pub fn help_note(text: &str, selected: usize) -> Option<&'static str> {
    let c = Commands::parse(text);
    if c.test_help {
        Some("")
    } else if c.bare_test {
        Some(messages::TEST_WITHOUT_TARGET_NOTE)
    } else if c.retest_with_target {
        Some(messages::RETEST_WITH_TARGET_NOTE)
    } else if selected == 0 && c.test_all {
        Some(messages::NO_TEST_ALL_JOBS_NOTE)
    } else if selected == 0 && c.test_with_target {
        Some(messages::TARGET_NOT_FOUND_NOTE)
    } else {
        None
    }
}

/// Whether a request may end in a help reply (which lists `/test all` jobs, so it may need the
/// changed files even when the selection does not).
pub fn may_reply_with_help(run: &RunRequest) -> bool {
    matches!(run, RunRequest::Comment { text, .. } if may_need_help(text) || Commands::parse(text).test_all)
}

/// Prow's AvailablePresubmits + HelpMessage for the PR's base branch.
pub fn help_message(
    org: &str,
    repo: &str,
    branch: &str,
    note: &str,
    changed_files: Option<&[String]>,
    presubmits: &[Presubmit],
) -> String {
    let test_all: BTreeSet<String> =
        select_presubmits(&[Filter::TestAll], branch, changed_files, presubmits)
            .into_iter()
            .map(|p| p.name().to_owned())
            .collect();
    let rerun_commands: Vec<&str> = presubmits
        .iter()
        .map(|p| p.rerun_command.as_str())
        .collect();
    let by_command = Filter::Command(rerun_commands.join("\n"));
    let (mut optional, mut required) = (BTreeSet::new(), BTreeSet::new());
    for p in select_presubmits(&[by_command], branch, changed_files, presubmits) {
        if p.optional {
            optional.insert(p.rerun_command.clone());
        } else {
            required.insert(p.rerun_command.clone());
        }
    }
    messages::help(org, repo, branch, note, &test_all, &optional, &required)
}

/// Whether a run request ends with pruning old help replies (`/test …` or `/retest …`).
pub fn prunes_help(run: &RunRequest) -> bool {
    matches!(run, RunRequest::Comment { text, .. } if Commands::parse(text).any_test)
}

/// Whether ProwJobs created for this request carry `prow.k8s.io/retest: "true"`.
pub fn is_retest(run: &RunRequest) -> bool {
    match run {
        RunRequest::TestAll => false,
        RunRequest::Comment { text, .. } => {
            let c = Commands::parse(text);
            c.retest || c.retest_required
        }
    }
}

/// Where a ProwJob goes and when it is created.
#[derive(Debug, Clone, PartialEq)]
pub struct JobContext<'a> {
    /// `X-GitHub-Delivery` (the CloudEvent id): the `event-GUID` label and the name seed.
    pub delivery_id: &'a str,
    pub namespace: &'a str,
    pub now: Time,
}

/// The base repository of a PR: `pull_request.base.repo`, else the event's repository.
fn pr_repo<'a>(pr: &'a PullRequest, fallback: &'a Repo) -> RepoRef<'a> {
    match &pr.base.repo {
        Some(r) => RepoRef {
            owner: OwnerRef {
                login: &r.owner.login,
            },
            name: &r.name,
            html_url: &r.html_url,
        },
        None => RepoRef {
            owner: OwnerRef {
                login: &fallback.owner.login,
            },
            name: &fallback.name,
            html_url: &fallback.html_url,
        },
    }
}

struct RepoRef<'a> {
    owner: OwnerRef<'a>,
    name: &'a str,
    html_url: &'a str,
}

struct OwnerRef<'a> {
    login: &'a str,
}

/// Prow's createRefs for a PR at `base_sha`.
pub fn pr_refs(pr: &PullRequest, fallback: &Repo, base_sha: &str) -> Refs {
    let repo = pr_repo(pr, fallback);
    let repo_link = repo.html_url.to_owned();
    // Prow copies the author's html_url; GitHub builds it as <host>/<login>.
    let author_link = host_of(&repo_link)
        .map(|host| format!("{host}/{}", pr.user.login))
        .unwrap_or_default();
    let mut pull = Pull::new(pr.number, pr.user.login.clone(), pr.head.sha.clone());
    pull.head_ref = pr.head.git_ref.clone();
    pull.title = pr.title.clone();
    pull.link = pr.html_url.clone();
    pull.author_link = author_link;
    pull.commit_link = format!("{repo_link}/pull/{}/commits/{}", pr.number, pr.head.sha);
    let mut refs = Refs::new(repo.owner.login, repo.name);
    refs.repo_link = repo_link.clone();
    refs.base_ref = pr.base.git_ref.clone();
    refs.base_sha = base_sha.to_owned();
    refs.base_link = format!("{repo_link}/commit/{base_sha}");
    refs.pulls = vec![pull];
    refs
}

fn host_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let host_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    Some(&url[..host_end])
}

/// The ProwJobs for presubmits selected on a PR (Prow's NewPresubmit per job).
pub fn presubmit_prowjobs(
    selected: &[&Presubmit],
    refs: &Refs,
    retest: bool,
    ctx: &JobContext<'_>,
) -> Vec<ProwJob> {
    let mut additional = BTreeMap::new();
    if retest {
        additional.insert(RETEST_LABEL.to_owned(), "true".to_owned());
    }
    selected
        .iter()
        .map(|job| {
            let (labels, annotations) = presubmit_labels(job, ctx.delivery_id, &additional);
            let name = prowjob_name(&[ctx.delivery_id, job.name()]);
            let mut pj = new_prowjob(
                presubmit_spec(job, refs.clone()),
                &labels,
                &annotations,
                name,
                ctx.now.clone(),
            );
            pj.metadata.namespace = Some(ctx.namespace.to_owned());
            pj
        })
        .collect()
}

/// Prow's handlePE: postsubmits for a push, none for branch deletions.
pub fn push_prowjobs(
    ev: &PushEvent,
    postsubmits: &[Postsubmit],
    ctx: &JobContext<'_>,
) -> Vec<ProwJob> {
    if ev.deleted || ev.after.bytes().all(|b| b == b'0') {
        return vec![];
    }
    let changed = ev.changed_files();
    let mut refs = Refs::new(
        ev.repository
            .owner
            .name
            .clone()
            .unwrap_or_else(|| ev.repository.owner.login.clone()),
        ev.repository.name.clone(),
    );
    refs.repo_link = ev.repository.html_url.clone();
    refs.base_ref = branch_of_ref(&ev.git_ref).to_owned();
    refs.base_sha = ev.after.clone();
    refs.base_link = ev.compare.clone();
    select_postsubmits(&ev.git_ref, &changed, postsubmits)
        .into_iter()
        .map(|job| {
            let (labels, annotations) = postsubmit_labels(job, ctx.delivery_id);
            let name = prowjob_name(&[ctx.delivery_id, job.name()]);
            let mut pj = new_prowjob(
                postsubmit_spec(job, refs.clone()),
                &labels,
                &annotations,
                name,
                ctx.now.clone(),
            );
            pj.metadata.namespace = Some(ctx.namespace.to_owned());
            pj
        })
        .collect()
}

/// The label selector of a PR's presubmits (Prow's labelSelectorForPR).
pub fn pr_selector(org: &str, repo: &str, number: u64) -> String {
    use prow_core::jobspec::{ORG_LABEL, PULL_LABEL, REPO_LABEL, TYPE_LABEL};
    format!("{ORG_LABEL}={org},{REPO_LABEL}={repo},{PULL_LABEL}={number},{TYPE_LABEL}=presubmit")
}

/// Names of the listed presubmits to abort: not complete, and not testing `keep_sha`.
pub fn jobs_to_abort(jobs: &[ProwJob], keep_sha: Option<&str>) -> Vec<String> {
    jobs.iter()
        .filter(|pj| !pj.is_complete())
        .filter(|pj| {
            let sha = pj
                .spec
                .refs
                .as_ref()
                .and_then(|r| r.pulls.first())
                .map(|p| p.sha.as_str());
            keep_sha.is_none() || sha != keep_sha
        })
        .map(|pj| pj.name().to_owned())
        .collect()
}

/// The abort edit: state aborted with Prow's description, unless the job completed meanwhile.
pub fn abort(pj: &mut ProwJob) -> bool {
    if pj.is_complete() || pj.status.state == ProwJobState::Aborted {
        return false;
    }
    pj.status.state = ProwJobState::Aborted;
    pj.status.description = ABORTED_DESCRIPTION.to_owned();
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
