//! The I/O shell: decode an event, gather the GitHub facts [`crate::decide`] needs, apply its actions.

use std::borrow::Cow;

use prow_core::config::{Postsubmit, Presubmit, ProwYaml, TriggerConfig, touches_in_repo_config};
use prow_core::events::{
    GITHUB_ISSUE_COMMENT, GITHUB_PULL_REQUEST, GITHUB_PULL_REQUEST_REVIEW,
    GITHUB_PULL_REQUEST_REVIEW_COMMENT, GITHUB_PUSH,
};
use prow_core::prowjob::ProwJob;
use prow_core::selection::{Contexts, Filter, needs_changed_files, select_presubmits};
use prow_events::cloudevents::{AttributesReader, Event};
use prow_github::{GitHubError, PullRequest, StatusState};
use prow_kube::{Created, KubeError};

use crate::TriggerState;
use crate::decide::{
    self, Action, CommentFacts, JobContext, PrFacts, RunRequest, help_message, help_note,
    is_retest, may_reply_with_help, pr_needs, prunes_help,
};
use crate::in_repo::InRepoError;
use crate::messages;
use crate::payload::{Comment, IssueCommentEvent, PullRequestEvent, PushEvent, Repo, ReviewEvent};
use crate::trust::trusted_user;

/// Why an event was not (fully) handled.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The event data is not the GitHub payload its type says; redelivery will not help.
    #[error("{event_type} {id}: payload does not parse: {source}")]
    Payload {
        event_type: String,
        id: String,
        #[source]
        source: prow_events::DecodeError,
    },
    #[error("{target}: GitHub: {source}")]
    GitHub {
        target: String,
        #[source]
        source: GitHubError,
    },
    #[error("{target}: {source}")]
    Kube {
        target: String,
        #[source]
        source: KubeError,
    },
    /// GitHub could not list or serve the in-repo config; a redelivery may.
    #[error(transparent)]
    InRepo(InRepoError),
    /// The repo's jobs could not be read from the config snapshot: answering 5xx keeps the
    /// event for redelivery instead of silently running nothing.
    #[error("{target}: {source}")]
    Config {
        target: String,
        #[source]
        source: prow_core::config::SectionError,
    },
}

/// The snapshot error naming the repo whose jobs could not be read (a closure, like [`gh`]: a
/// function returning `Result<_, TriggerError>` trips clippy's `result_large_err`).
fn config_err(
    org: &str,
    repo: &str,
) -> impl FnOnce(prow_core::config::SectionError) -> TriggerError + use<> {
    let target = format!("{org}/{repo}");
    move |source| TriggerError::Config { target, source }
}

impl TriggerError {
    /// Whether the sender is at fault (400) rather than a dependency (5xx, redeliver).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, TriggerError::Payload { .. })
    }
}

/// The event type as a metrics label: one of ours, or `other`.
pub fn event_type(event: &Event) -> String {
    match event.ty() {
        t @ (GITHUB_PULL_REQUEST
        | GITHUB_ISSUE_COMMENT
        | GITHUB_PUSH
        | GITHUB_PULL_REQUEST_REVIEW
        | GITHUB_PULL_REQUEST_REVIEW_COMMENT) => t.to_owned(),
        _ => "other".to_owned(),
    }
}

/// Handles one CloudEvent; other event types are acknowledged and ignored.
pub async fn handle_event(state: &TriggerState, event: &Event) -> Result<(), TriggerError> {
    let id = event.id().to_owned();
    let payload_err = |source| TriggerError::Payload {
        event_type: event.ty().to_owned(),
        id: id.clone(),
        source,
    };
    match event.ty() {
        GITHUB_PULL_REQUEST => {
            let ev: PullRequestEvent = prow_events::data_json(event).map_err(payload_err)?;
            handle_pull_request(state, &ev, &id).await?;
            // Commands in an opened PR's body count as the author's comment (Prow's hook). Job
            // names derive from the delivery id, so a job both paths pick is created once.
            match ev.body_as_comment() {
                Some(comment) => handle_comment(state, &comment, &id).await,
                None => Ok(()),
            }
        }
        GITHUB_PULL_REQUEST_REVIEW | GITHUB_PULL_REQUEST_REVIEW_COMMENT => {
            let ev: ReviewEvent = prow_events::data_json(event).map_err(payload_err)?;
            match ev.as_comment() {
                Some(comment) => handle_comment(state, &comment, &id).await,
                None => Ok(()),
            }
        }
        GITHUB_ISSUE_COMMENT => {
            let ev: IssueCommentEvent = prow_events::data_json(event).map_err(payload_err)?;
            handle_comment(state, &ev, &id).await
        }
        GITHUB_PUSH => {
            let ev: PushEvent = prow_events::data_json(event).map_err(payload_err)?;
            handle_push(state, &ev, &id).await
        }
        other => {
            tracing::debug!(event_type = other, "not a trigger event");
            Ok(())
        }
    }
}

/// Whether plugins.yaml enables trigger for the repo: Prow's hook hands a repo's events only to
/// the plugins enabled there, so elsewhere trigger does nothing (and answers 200).
fn enabled(state: &TriggerState, org: &str, repo: &str) -> bool {
    let on = state.config.plugins.is_enabled(org, repo, "trigger");
    if !on {
        tracing::debug!(org, repo, "trigger is not enabled for this repo");
    }
    on
}

/// The PR an action applies to, with what running jobs needs.
struct Target<'a> {
    org: String,
    repo: String,
    number: u64,
    /// Fetched lazily for comments (the payload has only the issue).
    pr: Option<&'a PullRequest>,
    fallback_repo: &'a Repo,
    presubmits: &'a [Presubmit],
    /// The comment being answered, for help replies.
    comment: Option<&'a Comment>,
    bot: Option<String>,
    delivery_id: &'a str,
}

impl Target<'_> {
    fn name(&self) -> String {
        format!("{}/{}#{}", self.org, self.repo, self.number)
    }
}

fn gh(target: &str) -> impl FnOnce(GitHubError) -> TriggerError + '_ {
    move |source| TriggerError::GitHub {
        target: target.to_owned(),
        source,
    }
}

fn kube_err(target: &str) -> impl FnOnce(KubeError) -> TriggerError + '_ {
    move |source| TriggerError::Kube {
        target: target.to_owned(),
        source,
    }
}

async fn handle_pull_request(
    state: &TriggerState,
    ev: &PullRequestEvent,
    id: &str,
) -> Result<(), TriggerError> {
    let pr = &ev.pull_request;
    let (org, repo) = match &pr.base.repo {
        Some(r) => (r.owner.login.clone(), r.name.clone()),
        None => (
            ev.repository.owner.login.clone(),
            ev.repository.name.clone(),
        ),
    };
    if !enabled(state, &org, &repo) {
        return Ok(());
    }
    let presubmits = pr_presubmits(state, &org, &repo, pr).await?;
    if presubmits.is_empty() {
        return Ok(());
    }
    let where_ = format!("{org}/{repo}#{}", pr.number);
    let trigger = state.config.plugins.trigger_for(&org, &repo);
    let needs = pr_needs(ev);
    let mut facts = PrFacts::default();
    let mut bot = None;
    if needs.trust || needs.sender_is_bot {
        let login = state.github.bot_login().await.map_err(gh(&where_))?;
        if needs.sender_is_bot {
            facts.sender_is_bot = ev.sender.login.eq_ignore_ascii_case(&login);
        }
        bot = Some(login);
    }
    if needs.trust {
        let bot_login = bot.as_deref().unwrap_or_default();
        facts.author_trusted = trusted_user(
            state.github.as_ref(),
            &trigger,
            bot_login,
            &pr.user.login,
            &org,
            &repo,
        )
        .await
        .map_err(gh(&where_))?;
        facts.labels = if facts.author_trusted {
            pr.labels.iter().map(|l| l.name.clone()).collect()
        } else {
            labels(state, &org, &repo, pr.number).await?
        };
    }
    let actions = decide::decide_pull_request(ev, &trigger, &facts);
    let target = Target {
        org,
        repo,
        number: pr.number,
        pr: Some(pr),
        fallback_repo: &ev.repository,
        presubmits: &presubmits,
        comment: None,
        bot,
        delivery_id: id,
    };
    apply(state, &target, actions).await
}

async fn labels(
    state: &TriggerState,
    org: &str,
    repo: &str,
    number: u64,
) -> Result<Vec<String>, TriggerError> {
    let where_ = format!("{org}/{repo}#{number}");
    Ok(state
        .github
        .get_issue_labels(org, repo, number)
        .await
        .map_err(gh(&where_))?
        .into_iter()
        .map(|l| l.name)
        .collect())
}

async fn handle_comment(
    state: &TriggerState,
    ev: &IssueCommentEvent,
    id: &str,
) -> Result<(), TriggerError> {
    let org = ev.repository.owner.login.clone();
    let repo = ev.repository.name.clone();
    let number = ev.issue.number;
    let where_ = format!("{org}/{repo}#{number}");
    if !enabled(state, &org, &repo) {
        return Ok(());
    }
    if ev.action != "created" || ev.issue.pull_request.is_none() {
        return Ok(());
    }
    let bot = state.github.bot_login().await.map_err(gh(&where_))?;
    let org_repo = format!("{org}/{repo}");
    // In-repo jobs depend on the PR's head and base, so the PR is read before knowing whether
    // the comment names one of them; only for new comments with a command line in them.
    let mut early_pr = None;
    let presubmits = if state.config.prow.in_repo_config.enabled_for(&org_repo)
        && decide::comment_on_open_pr(ev, &bot)
        && decide::has_command(&ev.comment.body)
    {
        let pr = state
            .github
            .get_pull_request(&org, &repo, number)
            .await
            .map_err(gh(&where_))?;
        let jobs = pr_presubmits(state, &org, &repo, &pr).await?;
        early_pr = Some(pr);
        jobs
    } else {
        Cow::Borrowed(
            state
                .config
                .presubmits_for(&org_repo)
                .map_err(config_err(&org, &repo))?,
        )
    };
    if !decide::comment_is_relevant(ev, &bot, &presubmits) {
        return Ok(());
    }
    let trigger: TriggerConfig = state.config.plugins.trigger_for(&org, &repo);
    let github = state.github.as_ref();
    let commenter = &ev.comment.user.login;
    let commenter_trusted = trusted_user(github, &trigger, &bot, commenter, &org, &repo)
        .await
        .map_err(gh(&where_))?;
    let author_trusted = if commenter_trusted {
        false
    } else {
        trusted_user(github, &trigger, &bot, &ev.issue.user.login, &org, &repo)
            .await
            .map_err(gh(&where_))?
    };
    let facts = CommentFacts {
        commenter_trusted,
        author_trusted,
        labels: labels(state, &org, &repo, number).await?,
    };
    let actions = decide::decide_comment(ev, &trigger, &facts);
    let pr = match early_pr {
        Some(pr) => Some(pr),
        None if actions.iter().any(|a| matches!(a, Action::Run(_))) => Some(
            state
                .github
                .get_pull_request(&org, &repo, number)
                .await
                .map_err(gh(&where_))?,
        ),
        None => None,
    };
    let target = Target {
        org,
        repo,
        number,
        pr: pr.as_ref(),
        fallback_repo: &ev.repository,
        presubmits: &presubmits,
        comment: Some(&ev.comment),
        bot: Some(bot),
        delivery_id: id,
    };
    apply(state, &target, actions).await
}

async fn handle_push(state: &TriggerState, ev: &PushEvent, id: &str) -> Result<(), TriggerError> {
    if !enabled(state, &ev.repository.owner.login, &ev.repository.name) {
        return Ok(());
    }
    let (org, repo) = (&ev.repository.owner.login, &ev.repository.name);
    let org_repo = format!("{org}/{repo}");
    let central = state
        .config
        .postsubmits_for(&org_repo)
        .map_err(config_err(org, repo))?;
    // A push's in-repo postsubmits are those of the pushed commit, as Prow reads them.
    let postsubmits: Cow<'_, [Postsubmit]> = match in_repo_jobs(state, org, repo, &ev.after).await?
    {
        Some(yaml) => Cow::Owned(
            state
                .config
                .postsubmits_with(&org_repo, Some(&yaml))
                .map_err(config_err(org, repo))?,
        ),
        None => Cow::Borrowed(central),
    };
    let ctx = JobContext {
        delivery_id: id,
        namespace: &state.config.prow.prowjob_namespace,
        now: state.clock.time(),
    };
    for pj in decide::push_prowjobs(ev, &postsubmits, &ctx) {
        create(state, &pj, &format!("{org_repo}@{}", ev.git_ref)).await?;
    }
    Ok(())
}

/// A PR's presubmits: the central ones, followed where `in_repo_config` is enabled by those of
/// the PR's in-repo config at its merged state. Without a clone that is read at the PR's head
/// when the PR changes `.prow.yaml` or `.prow/`, else at the base branch's tip (docs/design.md
/// says where this differs from Prow's merge).
async fn pr_presubmits<'a>(
    state: &'a TriggerState,
    org: &str,
    repo: &str,
    pr: &PullRequest,
) -> Result<Cow<'a, [Presubmit]>, TriggerError> {
    let org_repo = format!("{org}/{repo}");
    let central = state
        .config
        .presubmits_for(&org_repo)
        .map_err(config_err(org, repo))?;
    if !state.config.prow.in_repo_config.enabled_for(&org_repo) {
        return Ok(Cow::Borrowed(central));
    }
    let where_ = format!("{org_repo}#{}", pr.number);
    let changed = state
        .github
        .pull_request_changed_files(org, repo, pr.number)
        .await
        .map_err(gh(&where_))?;
    let sha = if touches_in_repo_config(&changed) {
        pr.head.sha.clone()
    } else {
        state
            .github
            .get_ref(org, repo, &format!("heads/{}", pr.base.git_ref))
            .await
            .map_err(gh(&where_))?
    };
    match in_repo_jobs(state, org, repo, &sha).await? {
        Some(yaml) => Ok(Cow::Owned(
            state
                .config
                .presubmits_with(&org_repo, Some(&yaml))
                .map_err(config_err(org, repo))?,
        )),
        None => Ok(Cow::Borrowed(central)),
    }
}

/// The in-repo jobs of `org/repo` at `sha`; `None` where in-repo config is off, and also when
/// it is invalid: then the central jobs run alone, as in Prow, so a PR fixing a broken
/// `.prow.yaml` can still be tested. GitHub failures ask for redelivery instead.
async fn in_repo_jobs(
    state: &TriggerState,
    org: &str,
    repo: &str,
    sha: &str,
) -> Result<Option<ProwYaml>, TriggerError> {
    let org_repo = format!("{org}/{repo}");
    if !state.config.prow.in_repo_config.enabled_for(&org_repo) {
        return Ok(None);
    }
    let files = match state
        .in_repo
        .files_at(state.github.as_ref(), org, repo, sha)
        .await
    {
        Ok(files) => files,
        Err(e @ InRepoError::GitHub { .. }) => return Err(TriggerError::InRepo(e)),
        Err(e) => {
            tracing::warn!(error = %e, "in-repo config unreadable; central jobs only");
            return Ok(None);
        }
    };
    match state.config.prow_yaml(&org_repo, &files) {
        Ok(yaml) => {
            for w in &yaml.warnings {
                tracing::info!(%org_repo, sha, warning = %w, "in-repo config");
            }
            Ok(Some(yaml))
        }
        Err(e) => {
            tracing::warn!(%org_repo, sha, error = %e, "invalid in-repo config; central jobs only");
            Ok(None)
        }
    }
}

async fn create(state: &TriggerState, pj: &ProwJob, target: &str) -> Result<(), TriggerError> {
    match state.prowjobs.create(pj).await.map_err(kube_err(target))? {
        Created::New(_) => {
            state.metrics.prowjobs_created.inc();
            tracing::info!(name = pj.name(), job = pj.spec.job, %target, "created prowjob");
        }
        Created::Existing => {
            tracing::info!(name = pj.name(), job = pj.spec.job, %target, "prowjob already exists");
        }
    }
    Ok(())
}

/// Applies actions in order; the first failure stops the rest (the redelivery redoes them).
async fn apply(
    state: &TriggerState,
    target: &Target<'_>,
    actions: Vec<Action>,
) -> Result<(), TriggerError> {
    let where_ = target.name();
    let (org, repo, number) = (&target.org, &target.repo, target.number);
    for action in actions {
        match action {
            Action::Comment(body) => {
                state
                    .github
                    .create_comment(org, repo, number, &body)
                    .await
                    .map_err(gh(&where_))?;
            }
            Action::AddLabel(label) => state
                .github
                .add_label(org, repo, number, &label)
                .await
                .map_err(gh(&where_))?,
            Action::RemoveLabel(label) => state
                .github
                .remove_label(org, repo, number, &label)
                .await
                .map_err(gh(&where_))?,
            Action::AbortJobs { keep_sha } => {
                abort_jobs(state, target, keep_sha.as_deref()).await?
            }
            Action::PruneHelpComments => prune_help(state, target).await?,
            Action::CreateProwJob(pj) => create(state, &pj, &where_).await?,
            Action::Run(run) => {
                let planned = plan_run(state, target, &run).await?;
                Box::pin(apply(state, target, planned)).await?;
            }
        }
    }
    Ok(())
}

/// Turns a run request into actions: help reply, or pruning and ProwJob creation.
async fn plan_run(
    state: &TriggerState,
    target: &Target<'_>,
    run: &RunRequest,
) -> Result<Vec<Action>, TriggerError> {
    let where_ = target.name();
    let Some(pr) = target.pr else {
        return Ok(vec![]);
    };
    let (org, repo) = (&target.org, &target.repo);
    let branch = pr.base.git_ref.as_str();
    let contexts = if run.needs_contexts() {
        contexts_of(
            &state
                .github
                .combined_status(org, repo, &pr.head.sha)
                .await
                .map_err(gh(&where_))?,
        )
    } else {
        Contexts::default()
    };
    let filters = run.filters(&contexts);
    let need_files = needs_changed_files(&filters, branch, target.presubmits)
        || (may_reply_with_help(run)
            && needs_changed_files(&[Filter::TestAll], branch, target.presubmits));
    let changed = if need_files {
        Some(
            state
                .github
                .pull_request_changed_files(org, repo, pr.number)
                .await
                .map_err(gh(&where_))?,
        )
    } else {
        None
    };
    let selected = select_presubmits(&filters, branch, changed.as_deref(), target.presubmits);
    if let (RunRequest::Comment { text, .. }, Some(comment)) = (run, target.comment)
        && let Some(note) = help_note(text, selected.len())
    {
        let help = help_message(
            org,
            repo,
            branch,
            note,
            changed.as_deref(),
            target.presubmits,
        );
        let body = messages::reply_to_comment(
            &comment.body,
            &comment.html_url,
            &comment.user.login,
            &help,
        );
        return Ok(vec![Action::Comment(body)]);
    }
    let mut actions = Vec::new();
    if prunes_help(run) {
        actions.push(Action::PruneHelpComments);
    }
    // Prow creates nothing for a PR GitHub calls unmergeable (merge conflicts).
    if pr.mergeable == Some(false) || selected.is_empty() {
        return Ok(actions);
    }
    let base_sha = state
        .github
        .get_ref(org, repo, &format!("heads/{branch}"))
        .await
        .map_err(gh(&where_))?;
    let refs = decide::pr_refs(pr, target.fallback_repo, &base_sha);
    let ctx = JobContext {
        delivery_id: target.delivery_id,
        namespace: &state.config.prow.prowjob_namespace,
        now: state.clock.time(),
    };
    actions.extend(
        decide::presubmit_prowjobs(&selected, &refs, is_retest(run), &ctx)
            .into_iter()
            .map(|pj| Action::CreateProwJob(Box::new(pj))),
    );
    Ok(actions)
}

/// The head commit's status contexts as `/retest` reads them: failed (failure or error) and all.
pub fn contexts_of(statuses: &[prow_github::Status]) -> Contexts {
    let mut contexts = Contexts::default();
    for s in statuses {
        contexts.all.insert(s.context.clone());
        if matches!(s.state, StatusState::Failure | StatusState::Error) {
            contexts.failed.insert(s.context.clone());
        }
    }
    contexts
}

async fn abort_jobs(
    state: &TriggerState,
    target: &Target<'_>,
    keep_sha: Option<&str>,
) -> Result<(), TriggerError> {
    let where_ = target.name();
    let selector = decide::pr_selector(&target.org, &target.repo, target.number);
    let jobs = state
        .prowjobs
        .list(Some(&selector))
        .await
        .map_err(kube_err(&where_))?;
    for name in decide::jobs_to_abort(&jobs, keep_sha) {
        state
            .prowjobs
            .update_status(&name, decide::abort)
            .await
            .map_err(kube_err(&where_))?;
        tracing::info!(%name, pr = %where_, "aborted presubmit");
    }
    Ok(())
}

async fn prune_help(state: &TriggerState, target: &Target<'_>) -> Result<(), TriggerError> {
    let where_ = target.name();
    let Some(bot) = target.bot.as_deref() else {
        return Ok(());
    };
    let comments = state
        .github
        .list_issue_comments(&target.org, &target.repo, target.number)
        .await
        .map_err(gh(&where_))?;
    for c in comments
        .iter()
        .filter(|c| c.user.login.eq_ignore_ascii_case(bot) && messages::is_help_comment(&c.body))
    {
        state
            .github
            .delete_comment(&target.org, &target.repo, c.id)
            .await
            .map_err(gh(&where_))?;
    }
    Ok(())
}
