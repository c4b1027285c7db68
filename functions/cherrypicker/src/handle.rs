//! The I/O shell: decode an event, check who asked, cherry-pick through the Git Data API and
//! open the PR, answering on the parent PR in Prow's words.

use prow_core::events::{GITHUB_ISSUE_COMMENT, GITHUB_PULL_REQUEST};
use prow_events::cloudevents::{AttributesReader, Event};
use prow_github::{
    GitActor, GitHubError, MergeBranchOutcome, NewCommit, NewPullRequest, PullRequest,
    PullRequestQuery,
};
use serde::Deserialize;

use crate::CherrypickerState;
use crate::decide::{self, CommentPlan, Request, Text};

/// Why an event was not (fully) handled.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
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
}

impl PickError {
    /// Whether the sender is at fault (400) rather than GitHub (5xx, redeliver).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, PickError::Payload { .. })
    }
}

/// The event type as a metrics label: ours, or `other`.
pub fn event_label(event: &Event) -> String {
    match event.ty() {
        t @ (GITHUB_ISSUE_COMMENT | GITHUB_PULL_REQUEST) => t.to_owned(),
        _ => "other".to_owned(),
    }
}

fn gh(target: &str) -> impl FnOnce(GitHubError) -> PickError + use<> {
    let target = target.to_owned();
    move |source| PickError::GitHub { target, source }
}

#[derive(Debug, Deserialize)]
struct Repo {
    name: String,
    owner: Login,
}

#[derive(Debug, Deserialize)]
struct Login {
    login: String,
}

#[derive(Debug, Deserialize)]
struct IssueCommentEvent {
    action: String,
    issue: Issue,
    comment: Comment,
    repository: Repo,
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    #[serde(default)]
    state: String,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    #[serde(default)]
    body: String,
    #[serde(default)]
    html_url: String,
    user: Login,
}

#[derive(Debug, Deserialize)]
struct PullRequestEvent {
    action: String,
    number: u64,
    repository: Repo,
}

fn payload<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, PickError> {
    prow_events::data_json(event).map_err(|source| PickError::Payload {
        id: event.id().to_owned(),
        source,
    })
}

/// Where a reply goes and what it answers: a comment (body, URL, author) or, for requests in
/// the PR body, the PR itself.
#[derive(Debug, Clone)]
struct ReplyTo {
    org: String,
    repo: String,
    number: u64,
    body: String,
    html_url: String,
    login: String,
}

impl ReplyTo {
    fn target(&self) -> String {
        format!("{}/{}#{}", self.org, self.repo, self.number)
    }
}

/// Handles one CloudEvent.
pub async fn handle_event(state: &CherrypickerState, event: &Event) -> Result<(), PickError> {
    match event.ty() {
        GITHUB_ISSUE_COMMENT => {
            let ic: IssueCommentEvent = payload(event)?;
            if ic.action != "created" || ic.issue.pull_request.is_none() {
                return Ok(());
            }
            let (org, repo) = (ic.repository.owner.login, ic.repository.name);
            if !decide::enabled(&state.config.current().plugins, &org, &repo) {
                return Ok(());
            }
            let reply = ReplyTo {
                org,
                repo,
                number: ic.issue.number,
                body: ic.comment.body,
                html_url: ic.comment.html_url,
                login: ic.comment.user.login,
            };
            on_comment(state, &reply, ic.issue.state == "open").await
        }
        GITHUB_PULL_REQUEST => {
            let pre: PullRequestEvent = payload(event)?;
            if pre.action != "closed" {
                return Ok(());
            }
            let (org, repo) = (pre.repository.owner.login, pre.repository.name);
            if !decide::enabled(&state.config.current().plugins, &org, &repo) {
                return Ok(());
            }
            on_merge(state, &org, &repo, pre.number).await
        }
        _ => Ok(()),
    }
}

async fn on_comment(
    state: &CherrypickerState,
    reply: &ReplyTo,
    open: bool,
) -> Result<(), PickError> {
    let target = reply.target();
    let pr = state
        .github
        .get_pull_request(&reply.org, &reply.repo, reply.number)
        .await
        .map_err(gh(&target))?;
    match decide::plan_comment(&reply.body, &pr.base.git_ref, open, pr.merged) {
        CommentPlan::Nothing => Ok(()),
        CommentPlan::OnlyBase(base) => {
            respond(state, reply, &decide::only_base_message(&base)).await
        }
        CommentPlan::Unmerged => respond(state, reply, decide::UNMERGED_MESSAGE).await,
        CommentPlan::Later { targets, also_base } => {
            if !may_request(state, &reply.org, &reply.login).await? {
                return respond(state, reply, &decide::not_member(&reply.org, &reply.login)).await;
            }
            respond(
                state,
                reply,
                &decide::later_message(&targets, also_base.as_deref()),
            )
            .await
        }
        CommentPlan::Now { targets, also_base } => {
            if !may_request(state, &reply.org, &reply.login).await? {
                return respond(state, reply, &decide::not_member(&reply.org, &reply.login)).await;
            }
            if let Some(base) = also_base {
                respond(state, reply, &decide::only_base_message(&base)).await?;
            }
            let mut first_err = None;
            for (branch, chain) in targets {
                let request = Request {
                    requester: reply.login.clone(),
                    target: branch,
                    chain,
                    comment: None,
                };
                // One failed pick must not keep the others from being made.
                if let Err(err) = pick(state, &pr, &request, reply).await {
                    tracing::warn!(error = %err, "cherry-pick failed");
                    first_err.get_or_insert(err);
                }
            }
            first_err.map_or(Ok(()), Err)
        }
    }
}

async fn on_merge(
    state: &CherrypickerState,
    org: &str,
    repo: &str,
    number: u64,
) -> Result<(), PickError> {
    let target = format!("{org}/{repo}#{number}");
    let pr = state
        .github
        .get_pull_request(org, repo, number)
        .await
        .map_err(gh(&target))?;
    if !pr.merged {
        return Ok(());
    }
    let comments = state
        .github
        .list_issue_comments(org, repo, number)
        .await
        .map_err(gh(&target))?;
    let texts: Vec<Text> = std::iter::once(Text {
        author: pr.user.login.clone(),
        body: pr.body.clone().unwrap_or_default(),
        html_url: pr.html_url.clone(),
        is_pr_body: true,
    })
    .chain(comments.iter().map(|c| Text {
        author: c.user.login.clone(),
        body: c.body.clone(),
        html_url: c.html_url.clone(),
        is_pr_body: false,
    }))
    .collect();
    let mut first_err = None;
    for request in decide::requests_at_merge(&texts) {
        let reply = match &request.comment {
            Some((body, html_url, login)) => ReplyTo {
                org: org.to_owned(),
                repo: repo.to_owned(),
                number,
                body: body.clone(),
                html_url: html_url.clone(),
                login: login.clone(),
            },
            None => ReplyTo {
                org: org.to_owned(),
                repo: repo.to_owned(),
                number,
                body: pr.body.clone().unwrap_or_default(),
                html_url: pr.html_url.clone(),
                login: pr.user.login.clone(),
            },
        };
        // Requests of non-members are dropped silently at merge, as Prow does.
        if !may_request(state, org, &request.requester).await? {
            continue;
        }
        if request.target == pr.base.git_ref {
            let base = &pr.base.git_ref;
            respond(
                state,
                &reply,
                &format!("base branch ({base}) needs to differ from target branch ({base})"),
            )
            .await?;
            continue;
        }
        if let Err(err) = pick(state, &pr, &request, &reply).await {
            tracing::warn!(error = %err, "cherry-pick failed");
            first_err.get_or_insert(err);
        }
    }
    first_err.map_or(Ok(()), Err)
}

async fn may_request(state: &CherrypickerState, org: &str, user: &str) -> Result<bool, PickError> {
    if state.options.allow_all {
        return Ok(true);
    }
    state
        .github
        .is_org_member(org, user)
        .await
        .map_err(gh(&format!("{org} member {user}")))
}

/// Comments `message` in answer to `reply`, unless we already said exactly that (redelivery).
async fn respond(
    state: &CherrypickerState,
    reply: &ReplyTo,
    message: &str,
) -> Result<(), PickError> {
    let target = reply.target();
    let body = prow_core::respond::format_response_raw(
        &reply.body,
        &reply.html_url,
        &reply.login,
        message,
    );
    let bot = state.github.bot_login().await.map_err(gh(&target))?;
    let comments = state
        .github
        .list_issue_comments(&reply.org, &reply.repo, reply.number)
        .await
        .map_err(gh(&target))?;
    let said = comments.iter().any(|c| {
        prow_github::normalize_login(&c.user.login) == prow_github::normalize_login(&bot)
            && c.body == body
    });
    if !said {
        state
            .github
            .create_comment(&reply.org, &reply.repo, reply.number, &body)
            .await
            .map_err(gh(&target))?;
    }
    Ok(())
}

/// Cherry-picks the merged `pr` onto `request.target` and opens the PR.
async fn pick(
    state: &CherrypickerState,
    pr: &PullRequest,
    request: &Request,
    reply: &ReplyTo,
) -> Result<(), PickError> {
    let (org, repo, number) = (reply.org.as_str(), reply.repo.as_str(), pr.number);
    let github = &state.github;
    let target = format!("{org}/{repo}#{number} -> {}", request.target);
    let err = |what: &str| gh(&format!("{target}: {what}"));
    let onto = request.target.as_str();
    let head = match github.get_ref(org, repo, &format!("heads/{onto}")).await {
        Ok(sha) => sha,
        Err(e) if e.is_not_found() => {
            return respond(state, reply, &format!("cannot checkout `{onto}`: {e}")).await;
        }
        Err(e) => return Err(err("target branch")(e)),
    };
    let branch = decide::branch_name(number, onto);
    let branch_ref = format!("heads/{branch}");
    if let Err(e) = github
        .create_ref(org, repo, &format!("refs/{branch_ref}"), &head)
        .await
    {
        if e.status() != Some(422) {
            return Err(err("create branch")(e));
        }
        // The branch exists: either its PR is open already, or an earlier attempt stopped
        // half-way and the branch starts over from the target.
        let open = github
            .list_pull_requests(org, repo, &PullRequestQuery::open_into(onto))
            .await
            .map_err(err("list PRs"))?;
        if let Some(existing) = open.iter().find(|p| p.head.git_ref == branch) {
            state.metrics.observe("exists");
            let message = format!(
                "Looks like #{number} has already been cherry picked in {}",
                existing.html_url
            );
            return respond(state, reply, &message).await;
        }
        github
            .update_ref(org, repo, &branch_ref, &head, true)
            .await
            .map_err(err("reset branch"))?;
    }

    let commits = github
        .list_pull_request_commits(org, repo, number)
        .await
        .map_err(err("list commits"))?;
    let mut tip = head;
    // `git am` of the PR's patch, which Prow applies, skips merge commits too.
    for commit in commits.iter().filter(|c| !c.is_merge()) {
        let Some(parent) = commit.parents.first() else {
            continue;
        };
        let tip_tree = github
            .get_commit(org, repo, &tip)
            .await
            .map_err(err("read branch head"))?
            .tree;
        // The branch's tree on the picked commit's parent: merging the picked commit into it
        // applies exactly the commit's own change to the branch's tree.
        let sibling = github
            .create_commit(
                org,
                repo,
                &NewCommit {
                    message: format!("cherry-pick base for {}", commit.sha),
                    tree: tip_tree,
                    parents: vec![parent.clone()],
                    author: None,
                    committer: None,
                },
            )
            .await
            .map_err(err("sibling commit"))?;
        github
            .update_ref(org, repo, &branch_ref, &sibling, true)
            .await
            .map_err(err("move branch"))?;
        let merged = match github
            .merge_branches(org, repo, &branch, &commit.sha, "")
            .await
            .map_err(err("merge"))?
        {
            MergeBranchOutcome::Merged { sha } => sha,
            // Already contained: nothing of this commit is left to apply.
            MergeBranchOutcome::NothingToMerge => {
                github
                    .update_ref(org, repo, &branch_ref, &tip, true)
                    .await
                    .map_err(err("move branch"))?;
                continue;
            }
            MergeBranchOutcome::Conflict { message } => {
                state.metrics.observe("conflict");
                github
                    .delete_ref(org, repo, &branch_ref)
                    .await
                    .map_err(err("delete branch"))?;
                let message = format!(
                    "#{number} failed to apply on top of branch {onto:?}:\n```\n{message}\n```"
                );
                return respond(state, reply, &message).await;
            }
        };
        let merged_tree = github
            .get_commit(org, repo, &merged)
            .await
            .map_err(err("read merge"))?
            .tree;
        tip = github
            .create_commit(
                org,
                repo,
                &NewCommit {
                    message: commit.message.clone(),
                    tree: merged_tree,
                    parents: vec![tip.clone()],
                    author: Some(GitActor {
                        name: commit.author.name.clone(),
                        email: commit.author.email.clone(),
                        date: Some(commit.author.date.clone()).filter(|d| !d.is_empty()),
                    }),
                    committer: None,
                },
            )
            .await
            .map_err(err("picked commit"))?;
        github
            .update_ref(org, repo, &branch_ref, &tip, true)
            .await
            .map_err(err("move branch"))?;
    }

    let labels: Vec<String> = match github.get_issue_labels(org, repo, number).await {
        Ok(labels) => labels.into_iter().map(|l| l.name).collect(),
        Err(e) => {
            tracing::debug!(error = %e, "no labels: the new PR's body gets no /kind");
            Vec::new()
        }
    };
    let requester = state
        .options
        .prow_assignments
        .then_some(request.requester.as_str());
    let new_pr = NewPullRequest {
        title: decide::title(&pr.title, &pr.base.git_ref, onto),
        head: branch,
        base: onto.to_owned(),
        body: decide::body(
            number,
            requester,
            pr.body.as_deref().unwrap_or_default(),
            &request.chain,
            &labels,
        ),
        maintainer_can_modify: true,
        draft: false,
    };
    let created = match github.create_pull_request(org, repo, &new_pr).await {
        Ok(created) => created,
        Err(e) => {
            respond(
                state,
                reply,
                &format!("new pull request could not be created: {e}"),
            )
            .await?;
            return Err(err("create PR")(e));
        }
    };
    state.metrics.observe("created");
    respond(
        state,
        reply,
        &format!("new pull request created: #{}", created.number),
    )
    .await?;
    for label in &state.options.labels {
        github
            .add_label(org, repo, created.number, label)
            .await
            .map_err(err("label"))?;
    }
    if state.options.prow_assignments {
        // Non-members cannot be assigned; Prow ignores that failure too.
        if let Err(e) = github
            .add_assignees(
                org,
                repo,
                created.number,
                std::slice::from_ref(&request.requester),
            )
            .await
        {
            tracing::info!(error = %e, "could not assign the requester");
        }
    }
    Ok(())
}
