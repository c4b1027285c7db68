//! Why each job would or would not run for a webhook (`prow explain`): trigger's own decisions
//! ([`crate::decide`], `prow_core::selection`) asked for their reasons, never re-implemented.

use prow_core::config::{Postsubmit, Presubmit, TriggerConfig};
use prow_core::selection::{
    Contexts, Filter, SkipReason, branch_of_ref, postsubmit_decision, presubmit_decision,
};
use serde::Serialize;

use crate::decide::{
    Action, CommentFacts, NoRun, PrFacts, RunRequest, comment_relevance, decide_comment_why,
    decide_pull_request_why, help_note,
};
use crate::payload::{IssueCommentEvent, PullRequestEvent, PushEvent};

/// What trigger would do with one webhook, job by job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// `pull_request opened`, `issue_comment created`, `push`.
    pub event: String,
    pub repo: String,
    /// The branch the jobs' branch filters were matched against.
    pub branch: String,
    /// The files run_if_changed / skip_if_only_changed were matched against, when known.
    pub changed_files: Option<Vec<String>>,
    /// A reply trigger would post instead of running jobs (`/test ?`, an unknown job name).
    pub help_reply: bool,
    pub jobs: Vec<JobVerdict>,
}

/// One job's fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobVerdict {
    pub job: String,
    /// `presubmit` or `postsubmit`.
    pub kind: &'static str,
    pub runs: bool,
    /// Machine-readable reason when it does not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Why>,
    /// The same, as a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The file that defines the job (central config or `.prow.yaml`).
    pub source: String,
}

/// Why a job does not run: the event as a whole, or the job's own filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Why {
    Event(NoRun),
    Job(SkipReason),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Event(e) => e.fmt(f),
            Why::Job(j) => j.fmt(f),
        }
    }
}

fn verdict(name: &str, kind: &'static str, source: &str, why: Option<Why>) -> JobVerdict {
    JobVerdict {
        job: name.to_owned(),
        kind,
        runs: why.is_none(),
        message: why.as_ref().map(ToString::to_string),
        why,
        source: source.to_owned(),
    }
}

fn all_blocked(presubmits: &[Presubmit], why: &NoRun) -> Vec<JobVerdict> {
    presubmits
        .iter()
        .map(|p| {
            verdict(
                p.name(),
                "presubmit",
                &p.base.source.file,
                Some(Why::Event(why.clone())),
            )
        })
        .collect()
}

fn per_presubmit(
    presubmits: &[Presubmit],
    filters: &[Filter],
    branch: &str,
    changed: Option<&[String]>,
) -> Vec<JobVerdict> {
    presubmits
        .iter()
        .map(|p| {
            let why = presubmit_decision(filters, branch, changed, p)
                .err()
                .map(Why::Job);
            verdict(p.name(), "presubmit", &p.base.source.file, why)
        })
        .collect()
}

/// The run request among actions, if any.
fn run_request(actions: &[Action]) -> Option<&RunRequest> {
    actions.iter().find_map(|a| match a {
        Action::Run(run) => Some(run),
        _ => None,
    })
}

/// A `pull_request` event: trigger's handlePR, then the selection for what it runs.
pub fn explain_pull_request(
    ev: &PullRequestEvent,
    plugin_enabled: bool,
    trigger: &TriggerConfig,
    facts: &PrFacts,
    presubmits: &[Presubmit],
    changed: Option<&[String]>,
) -> Explanation {
    let pr = &ev.pull_request;
    let repo = ev.repository.full_name.clone();
    let branch = pr.base.git_ref.clone();
    let jobs = if !plugin_enabled {
        all_blocked(presubmits, &NoRun::PluginDisabled { repo: repo.clone() })
    } else {
        let (actions, why) = decide_pull_request_why(ev, trigger, facts);
        match (run_request(&actions), why) {
            (Some(_), _) if pr.mergeable == Some(false) => {
                all_blocked(presubmits, &NoRun::Unmergeable)
            }
            (Some(run), _) => per_presubmit(
                presubmits,
                &run.filters(&Contexts::default()),
                &branch,
                changed,
            ),
            (None, why) => all_blocked(
                presubmits,
                &why.unwrap_or(NoRun::Action {
                    action: format!("pull_request {}", ev.action),
                }),
            ),
        }
    };
    Explanation {
        event: format!("pull_request {}", ev.action),
        repo,
        branch,
        changed_files: changed.map(<[String]>::to_vec),
        help_reply: false,
        jobs,
    }
}

/// What a comment's explanation needs besides the event.
#[derive(Debug, Clone, Default)]
pub struct CommentContext<'a> {
    pub plugin_enabled: bool,
    pub bot: &'a str,
    /// The PR's base branch (the comment payload does not carry it).
    pub branch: &'a str,
    pub mergeable: Option<bool>,
    /// The head commit's statuses, for `/retest`.
    pub contexts: Contexts,
}

/// An `issue_comment` (or a review seen as a comment): relevance, trust, then the selection.
pub fn explain_comment(
    ev: &IssueCommentEvent,
    ctx: &CommentContext<'_>,
    trigger: &TriggerConfig,
    facts: &CommentFacts,
    presubmits: &[Presubmit],
    changed: Option<&[String]>,
) -> Explanation {
    let repo = ev.repository.full_name.clone();
    let mut help_reply = false;
    let jobs = if !ctx.plugin_enabled {
        all_blocked(presubmits, &NoRun::PluginDisabled { repo: repo.clone() })
    } else if let Err(why) = comment_relevance(ev, ctx.bot, presubmits) {
        all_blocked(presubmits, &why)
    } else {
        let (actions, why) = decide_comment_why(ev, trigger, facts);
        match (run_request(&actions), why) {
            (Some(_), _) if ctx.mergeable == Some(false) => {
                all_blocked(presubmits, &NoRun::Unmergeable)
            }
            (Some(run), _) => {
                let filters = run.filters(&ctx.contexts);
                let jobs = per_presubmit(presubmits, &filters, ctx.branch, changed);
                if let RunRequest::Comment { text, .. } = run {
                    help_reply = help_note(text, jobs.iter().filter(|j| j.runs).count()).is_some();
                }
                jobs
            }
            (None, why) => all_blocked(presubmits, &why.unwrap_or(NoRun::NoCommand)),
        }
    };
    Explanation {
        event: format!("issue_comment {}", ev.action),
        repo,
        branch: ctx.branch.to_owned(),
        changed_files: changed.map(<[String]>::to_vec),
        help_reply,
        jobs,
    }
}

/// A `push`: the postsubmits for the pushed branch and files.
pub fn explain_push(
    ev: &PushEvent,
    plugin_enabled: bool,
    postsubmits: &[Postsubmit],
) -> Explanation {
    let repo = ev.repository.full_name.clone();
    let changed = ev.changed_files();
    let deleted = ev.deleted || ev.after.bytes().all(|b| b == b'0');
    let jobs = postsubmits
        .iter()
        .map(|p| {
            let why = if !plugin_enabled {
                Some(Why::Event(NoRun::PluginDisabled { repo: repo.clone() }))
            } else if deleted {
                Some(Why::Event(NoRun::Action {
                    action: "a branch deletion".to_owned(),
                }))
            } else {
                postsubmit_decision(&ev.git_ref, &changed, p)
                    .err()
                    .map(Why::Job)
            };
            verdict(p.name(), "postsubmit", &p.base.source.file, why)
        })
        .collect();
    Explanation {
        event: "push".to_owned(),
        repo,
        branch: branch_of_ref(&ev.git_ref).to_owned(),
        changed_files: Some(changed),
        help_reply: false,
        jobs,
    }
}

impl Explanation {
    /// A fixed-width table: job, whether it runs, and why not.
    pub fn table(&self) -> String {
        let width = self
            .jobs
            .iter()
            .map(|j| j.job.len())
            .max()
            .unwrap_or(3)
            .max(3);
        let mut out = format!("{} on {} (branch {})\n", self.event, self.repo, self.branch);
        match &self.changed_files {
            Some(files) => out.push_str(&format!("changed files: {}\n", files.len())),
            None => out.push_str("changed files: unknown\n"),
        }
        if self.help_reply {
            out.push_str("trigger replies with the list of jobs\n");
        }
        out.push_str(&format!("{:<width$}  {:<4}  WHY NOT\n", "JOB", "RUNS"));
        for j in &self.jobs {
            out.push_str(&format!(
                "{:<width$}  {:<4}  {}\n",
                j.job,
                if j.runs { "yes" } else { "no" },
                j.message.as_deref().unwrap_or("")
            ));
        }
        out
    }
}
