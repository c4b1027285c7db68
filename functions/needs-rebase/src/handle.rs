//! The I/O shell: decode an event, ask GitHub for mergeability, labels and comments, apply
//! [`crate::decide`]'s actions.

use prow_core::events::{GITHUB_PULL_REQUEST, GITHUB_PUSH, PING};
use prow_events::cloudevents::{AttributesReader, Event};
use prow_github::{GitHubError, PullRequestQuery};
use serde::Deserialize;

use crate::NeedsRebaseState;
use crate::decide::{self, Action, LABEL, Verdict};

/// Why an event was not (fully) handled.
#[derive(Debug, thiserror::Error)]
pub enum RebaseError {
    /// The event data is not the payload its type says; redelivery will not help.
    #[error("{id}: payload does not parse: {source}")]
    Payload {
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
    /// GitHub has not computed mergeability yet: the broker redelivers later.
    #[error("{target}: GitHub is still computing mergeability")]
    Unknown { target: String },
}

impl RebaseError {
    /// Whether the sender is at fault (400) rather than GitHub (5xx, redeliver).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, RebaseError::Payload { .. })
    }
}

/// The event type as a metrics label: ours, or `other`.
pub fn event_label(event: &Event) -> String {
    match event.ty() {
        t @ (GITHUB_PULL_REQUEST | GITHUB_PUSH | PING) => t.to_owned(),
        _ => "other".to_owned(),
    }
}

fn gh(target: &str) -> impl FnOnce(GitHubError) -> RebaseError + use<> {
    let target = target.to_owned();
    move |source| RebaseError::GitHub { target, source }
}

#[derive(Debug, Deserialize)]
struct Repo {
    name: String,
    owner: Owner,
}

#[derive(Debug, Deserialize)]
struct Owner {
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: Option<String>,
}

impl Owner {
    /// Push payloads name the owner in `name` and sometimes leave `login` out.
    fn login(&self) -> &str {
        if self.login.is_empty() {
            self.name.as_deref().unwrap_or_default()
        } else {
            &self.login
        }
    }
}

#[derive(Debug, Deserialize)]
struct PullRequestEvent {
    action: String,
    number: u64,
    repository: Repo,
}

#[derive(Debug, Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    deleted: bool,
    repository: Repo,
}

fn payload<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, RebaseError> {
    prow_events::data_json(event).map_err(|source| RebaseError::Payload {
        id: event.id().to_owned(),
        source,
    })
}

/// Handles one CloudEvent.
pub async fn handle_event(state: &NeedsRebaseState, event: &Event) -> Result<(), RebaseError> {
    match event.ty() {
        GITHUB_PULL_REQUEST => {
            let pr: PullRequestEvent = payload(event)?;
            // Prow's events: a PR's own commits change only on these.
            if !matches!(pr.action.as_str(), "opened" | "reopened" | "synchronize") {
                return Ok(());
            }
            let (org, repo) = (pr.repository.owner.login(), pr.repository.name.as_str());
            if !decide::enabled(&state.config.current().plugins, org, repo) {
                return Ok(());
            }
            check_pr(state, org, repo, pr.number).await
        }
        GITHUB_PUSH => {
            let push: PushEvent = payload(event)?;
            let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else {
                return Ok(());
            };
            let (org, repo) = (push.repository.owner.login(), push.repository.name.as_str());
            if push.deleted || !decide::enabled(&state.config.current().plugins, org, repo) {
                return Ok(());
            }
            check_base(state, org, repo, branch).await
        }
        PING => tick(state).await,
        _ => Ok(()),
    }
}

/// A push moved `branch`: its open PRs may conflict now (or no longer).
async fn check_base(
    state: &NeedsRebaseState,
    org: &str,
    repo: &str,
    branch: &str,
) -> Result<(), RebaseError> {
    let target = format!("{org}/{repo}@{branch}");
    let prs = state
        .github
        .list_pull_requests(org, repo, &PullRequestQuery::open_into(branch))
        .await
        .map_err(gh(&target))?;
    let mut unknown = None;
    for pr in prs.iter().take(state.budget) {
        match check_pr(state, org, repo, pr.number).await {
            // Check the others first; the redelivery covers this one.
            Err(err @ RebaseError::Unknown { .. }) => unknown = Some(err),
            other => other?,
        }
    }
    if prs.len() > state.budget {
        tracing::info!(%target, open = prs.len(), budget = state.budget, "the tick checks the rest");
    }
    unknown.map_or(Ok(()), Err)
}

/// Reads one PR's mergeability and label and applies the verdict.
async fn check_pr(
    state: &NeedsRebaseState,
    org: &str,
    repo: &str,
    number: u64,
) -> Result<(), RebaseError> {
    let target = format!("{org}/{repo}#{number}");
    let pr = state
        .github
        .get_pull_request(org, repo, number)
        .await
        .map_err(gh(&target))?;
    if pr.state != prow_github::IssueState::Open {
        return Ok(());
    }
    state.metrics.observe(pr.mergeable);
    let has_label = pr.labels.iter().any(|l| l.name == LABEL);
    match decide::verdict(pr.mergeable, has_label) {
        Verdict::Unknown => Err(RebaseError::Unknown { target }),
        Verdict::Nothing => Ok(()),
        verdict => apply(state, org, repo, number, verdict, &pr.user.login).await,
    }
}

async fn apply(
    state: &NeedsRebaseState,
    org: &str,
    repo: &str,
    number: u64,
    verdict: Verdict,
    author: &str,
) -> Result<(), RebaseError> {
    let target = format!("{org}/{repo}#{number}");
    let github = &state.github;
    let bot = github.bot_login().await.map_err(gh(&target))?;
    let comments = github
        .list_issue_comments(org, repo, number)
        .await
        .map_err(gh(&target))?;
    for action in decide::actions(verdict, author, &bot, &comments) {
        match action {
            Action::Comment(body) => github
                .create_comment(org, repo, number, &body)
                .await
                .map(drop),
            Action::AddLabel => github.add_label(org, repo, number, LABEL).await,
            Action::RemoveLabel => github.remove_label(org, repo, number, LABEL).await,
            Action::DeleteComment(id) => github.delete_comment(org, repo, id).await,
        }
        .map_err(gh(&target))?;
    }
    Ok(())
}

/// What one tick did.
#[derive(Debug, Default)]
pub struct TickReport {
    pub open: usize,
    pub checked: usize,
    pub unknown: usize,
    pub failed: usize,
}

/// The periodic scan: every open PR of the enabled orgs and repos, a budget's worth per tick.
/// One PR failing does not stop the others (the next tick sees it again); the tick fails only
/// when GitHub could not even be searched.
async fn tick(state: &NeedsRebaseState) -> Result<(), RebaseError> {
    let config = state.config.current();
    let mut candidates = Vec::new();
    for query in decide::tick_queries(&config.plugins) {
        let hits = state
            .github
            .search_issues(&query)
            .await
            .map_err(gh(&query))?;
        candidates.extend(hits.into_iter().filter_map(|hit| {
            let full = hit.repository()?;
            let (org, repo) = full.split_once('/')?;
            (hit.is_pull_request() && decide::enabled(&config.plugins, org, repo))
                .then(|| (org.to_owned(), repo.to_owned(), hit.number))
        }));
    }
    candidates.sort();
    candidates.dedup();
    // Ticks arrive every few hours at most; the hour number moves the window along.
    let round = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 3600);
    let mut report = TickReport {
        open: candidates.len(),
        ..TickReport::default()
    };
    for (org, repo, number) in decide::tick_window(&candidates, state.budget, round) {
        report.checked += 1;
        match check_pr(state, &org, &repo, number).await {
            Ok(()) => {}
            Err(RebaseError::Unknown { .. }) => report.unknown += 1,
            Err(err) => {
                report.failed += 1;
                tracing::warn!(error = %err, "needs-rebase check failed; the next tick retries");
            }
        }
    }
    tracing::info!(?report, "needs-rebase tick");
    Ok(())
}
