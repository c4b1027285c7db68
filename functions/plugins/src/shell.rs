//! The I/O shell: decode an event, ask each enabled plugin what it needs, fetch those facts once,
//! let each plugin decide, apply the actions.

use prow_core::config::{Config, PluginsConfig};
use prow_core::events::GITHUB_EVENT_PREFIX;
use prow_events::cloudevents::{AttributesReader, Event as CloudEvent};
use prow_github::{GitHubError, IssueEdit, IssueState, NewStatus, ReviewState, StatusState};

use crate::event::{Event, Kind, Payload};
use crate::github::{OwnersPort, PluginGitHub};
use crate::plugin::{
    Action, ChangedOwnersFile, Facts, IssueComment, MissingReply, Needs, OwnersChanges,
    OwnersCheck, Plugin, PrCommit, PrFacts, PrReview,
};
use crate::registry;

/// Why an event was not (fully) handled.
#[derive(Debug, thiserror::Error)]
pub enum PluginsError {
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
    #[error("{target}: OWNERS: {message}")]
    Owners { target: String, message: String },
    /// The repo's jobs could not be read from the config.
    #[error("{target}: job config: {message}")]
    Jobs { target: String, message: String },
    /// Some plugins failed; the others' actions were applied (and converge on redelivery).
    #[error("{target}: plugins failed: {}", failed.join("; "))]
    Plugins { target: String, failed: Vec<String> },
}

impl PluginsError {
    pub fn is_bad_request(&self) -> bool {
        matches!(self, PluginsError::Payload { .. })
    }
}

fn gh(target: &str) -> impl FnOnce(GitHubError) -> PluginsError + '_ {
    move |source| PluginsError::GitHub {
        target: target.to_owned(),
        source,
    }
}

/// The webhook kind of a CloudEvent type (`dev.prow.github.<event>`), if plugins handle it.
pub fn kind_of(event_type: &str) -> Option<Kind> {
    Kind::from_event_name(event_type.strip_prefix(GITHUB_EVENT_PREFIX)?)
}

/// Handles one CloudEvent: every plugin enabled for its repo, in registry order. Other event
/// types are acknowledged and ignored.
pub async fn handle<G: PluginGitHub + ?Sized>(
    github: &G,
    owners: &dyn OwnersPort,
    config: &Config,
    cloud_event: &CloudEvent,
) -> Result<(), PluginsError> {
    let Some(kind) = kind_of(cloud_event.ty()) else {
        return Ok(());
    };
    let payload: Payload =
        prow_events::data_json(cloud_event).map_err(|source| PluginsError::Payload {
            event_type: cloud_event.ty().to_owned(),
            id: cloud_event.id().to_owned(),
            source,
        })?;
    let Some(event) = Event::from_payload(kind, payload) else {
        return Ok(());
    };
    handle_event(github, owners, config, &event).await
}

/// Runs the enabled plugins on a decoded event (`full` also holds the jobs skip reads).
pub async fn handle_event<G: PluginGitHub + ?Sized>(
    github: &G,
    owners: &dyn OwnersPort,
    full: &Config,
    event: &Event,
) -> Result<(), PluginsError> {
    let config: &PluginsConfig = &full.plugins;
    let interested: Vec<(&'static dyn Plugin, Needs)> =
        registry::enabled(config, &event.org, &event.repo)
            .into_iter()
            .filter(|p| p.events().contains(&event.kind.event_name()))
            .filter_map(|p| p.needs(event, config).map(|n| (p, n)))
            .collect();
    if interested.is_empty() {
        return Ok(());
    }
    let needs = interested
        .iter()
        .fold(Needs::default(), |acc, (_, n)| acc.union(n.clone()));
    let target = event.target();
    let mut facts = gather(github, owners, event, &needs).await?;
    if needs.skip {
        facts.skip = Some(skip_facts(github, full, event).await?);
    }
    let mut failed = Vec::new();
    for (plugin, _) in interested {
        let actions = plugin.decide(event, &facts, config);
        if !actions.is_empty() {
            tracing::info!(plugin = plugin.name(), %target, actions = actions.len(), "acting");
            tracing::debug!(plugin = plugin.name(), %target, ?actions, "actions");
        }
        if let Err(err) = apply(github, event, &facts, actions).await {
            failed.push(format!("{}: {err}", plugin.name()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(PluginsError::Plugins { target, failed })
    }
}

/// Fetches what `needs` asks for.
pub async fn gather<G: PluginGitHub + ?Sized>(
    github: &G,
    owners: &dyn OwnersPort,
    event: &Event,
    needs: &Needs,
) -> Result<Facts, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    if let Some(wait) = needs.settle.filter(|w| !w.is_zero()) {
        tokio::time::sleep(wait).await;
    }
    let mut facts = Facts {
        bot: github.bot_login().await.map_err(gh(&target))?,
        ..Facts::default()
    };
    if needs.base_ref {
        facts.base_ref = Some(match event.pull_request.as_ref() {
            Some(pr) if !pr.base.git_ref.is_empty() => pr.base.git_ref.clone(),
            _ => {
                github
                    .get_pull_request(org, repo, number)
                    .await
                    .map_err(gh(&target))?
                    .base
                    .git_ref
            }
        });
    }
    if needs.labels {
        facts.labels = github
            .get_issue_labels(org, repo, number)
            .await
            .map_err(gh(&target))?
            .into_iter()
            .map(|l| l.name)
            .collect();
    }
    if needs.commenter_is_collaborator
        && let Some(c) = &event.comment
    {
        facts.commenter_is_collaborator = github
            .is_collaborator(org, repo, &c.user.login)
            .await
            .map_err(gh(&target))?;
    }
    if let Some(c) = &event.comment {
        let login = c.user.login.as_str();
        if needs.commenter_is_org_member {
            facts.commenter_is_org_member = github
                .is_org_member(org, login)
                .await
                .map_err(gh(&target))?;
        }
        for team in &needs.commenter_teams {
            if github
                .is_team_member(org, team, login)
                .await
                .map_err(gh(&target))?
            {
                facts.commenter_teams.push(team.clone());
            }
        }
    }
    if let (Some(rule), Some(c)) = (&needs.commenter_trust, &event.comment) {
        facts.commenter_trusted = untrusted_reason(github, event, rule, &facts.bot, &c.user.login)
            .await?
            .is_none();
    }
    if needs.comments {
        facts.comments = comments(github, event).await?;
    }
    if needs.head_tree {
        let sha = match event.pull_request.as_ref().map(|pr| pr.head.sha.clone()) {
            Some(sha) if !sha.is_empty() => sha,
            _ => {
                github
                    .get_pull_request(org, repo, number)
                    .await
                    .map_err(gh(&target))?
                    .head
                    .sha
            }
        };
        facts.head_tree = Some(github.tree_of(org, repo, &sha).await.map_err(gh(&target))?);
    }
    if needs.pull_request_owners {
        let pr = pull_request_facts(github, event).await?;
        facts.repo_owners = Some(owners.repo_owners(org, repo, &pr.base_sha).await.map_err(
            |message| PluginsError::Owners {
                target: target.clone(),
                message,
            },
        )?);
        facts.pull_request = Some(pr);
    }
    if needs.reviews {
        facts.reviews = github
            .list_reviews(org, repo, number)
            .await
            .map_err(gh(&target))?
            .into_iter()
            .map(|r| PrReview {
                user_is_bot: r.user.kind == "Bot",
                user: r.user.login,
                state: review_state(&r.state).to_owned(),
                body: r.body,
                html_url: r.html_url,
                submitted_at: r.submitted_at.unwrap_or_default(),
            })
            .collect();
    }
    if needs.owners_reviewers {
        let base_sha = match event.pull_request.as_ref().map(|pr| pr.base.sha.clone()) {
            Some(sha) if !sha.is_empty() => sha,
            _ => {
                github
                    .get_pull_request(org, repo, number)
                    .await
                    .map_err(gh(&target))?
                    .base
                    .sha
            }
        };
        let files = github
            .changed_files(org, repo, number)
            .await
            .map_err(gh(&target))?;
        facts.owners_reviewers = owners
            .reviewers_of(org, repo, &base_sha, &files)
            .await
            .map_err(|message| PluginsError::Owners {
                target: target.clone(),
                message,
            })?;
    }
    if let Some(check) = &needs.owners_changes {
        facts.owners_changes = Some(owners_changes(github, event, check, &facts.bot).await?);
    }
    if needs.repo_labels {
        facts.repo_labels = github
            .get_repo_labels(org, repo)
            .await
            .map_err(gh(&target))?
            .into_iter()
            .map(|l| l.name)
            .collect();
    }
    if needs.size {
        facts.size = Some(size_facts(github, event).await?);
    }
    if needs.changes {
        facts.changes = match &facts.size {
            Some(size) => size.changes.clone(),
            None => github
                .pull_request_changes(org, repo, number)
                .await
                .map_err(gh(&target))?
                .into_iter()
                .map(|c| crate::size::FileChange {
                    filename: c.filename,
                    additions: c.additions,
                    deletions: c.deletions,
                })
                .collect(),
        };
    }
    if needs.commits {
        facts.commits = github
            .list_pull_request_commits(org, repo, number)
            .await
            .map_err(gh(&target))?
            .into_iter()
            .map(|c| PrCommit {
                parents: c.parents.len(),
                sha: c.sha,
                message: c.message,
                author_login: c.author.login,
            })
            .collect();
    }
    if let Some(rule) = &needs.dco {
        facts.dco = Some(dco_facts(github, event, rule, &facts).await?);
    }
    if let Some(rule) = &needs.author_history {
        let author = event.author.login.as_str();
        facts.author_trusted = untrusted_reason(github, event, rule, &facts.bot, author)
            .await?
            .is_none();
        let query = format!("is:pr repo:{org}/{repo} author:{author}");
        facts.author_prs = github.search_numbers(&query).await.map_err(gh(&target))?;
    }
    for &other in &needs.labels_of {
        match github.get_issue_labels(org, repo, other).await {
            Ok(labels) => {
                facts
                    .labels_of
                    .insert(other, labels.into_iter().map(|l| l.name).collect());
            }
            Err(err) => {
                tracing::warn!(%target, other, error = %err, "cannot read the labels of a related PR");
            }
        }
    }
    if let Some(team) = &needs.author_in_team {
        facts.author_in_team = github
            .team_members(org, team)
            .await
            .map_err(gh(&target))?
            .iter()
            .any(|m| m.login.eq_ignore_ascii_case(&event.author.login));
    }
    Ok(facts)
}

/// The PR's head, its `dco` status, and which authors of unsigned commits are trusted.
async fn dco_facts<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
    rule: &OwnersCheck,
    facts: &Facts,
) -> Result<crate::dco::DcoFacts, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let head_sha = match event.pull_request.as_ref().map(|pr| pr.head.sha.clone()) {
        Some(sha) if !sha.is_empty() => sha,
        _ => {
            github
                .get_pull_request(org, repo, number)
                .await
                .map_err(gh(&target))?
                .head
                .sha
        }
    };
    let status = github
        .combined_status(org, repo, &head_sha)
        .await
        .map_err(gh(&target))?
        .into_iter()
        .find(|s| s.context == crate::dco::CONTEXT)
        .map(|s| s.state.as_str().to_owned())
        .unwrap_or_default();
    let mut trusted = std::collections::BTreeSet::new();
    if !rule.skip_trust_check {
        let authors: std::collections::BTreeSet<&str> = facts
            .commits
            .iter()
            .filter(|c| crate::dco::lacks_sign_off(c))
            .filter_map(|c| c.author_login.as_deref())
            .collect();
        for login in authors {
            if untrusted_reason(github, event, rule, &facts.bot, login)
                .await?
                .is_none()
            {
                trusted.insert(login.to_owned());
            }
        }
    }
    Ok(crate::dco::DcoFacts {
        head_sha,
        status,
        trusted,
    })
}

/// The PR's changed OWNERS files and the root aliases file at its head, and which of the
/// owners they newly add are not trusted.
async fn owners_changes<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
    check: &OwnersCheck,
    bot: &str,
) -> Result<OwnersChanges, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let (head_sha, pr_body, pr_url) = match &event.pull_request {
        Some(pr) if !pr.head.sha.is_empty() => (
            pr.head.sha.clone(),
            pr.body.clone().unwrap_or_default(),
            pr.html_url.clone(),
        ),
        _ => {
            let pr = github
                .get_pull_request(org, repo, number)
                .await
                .map_err(gh(&target))?;
            (pr.head.sha, pr.body.unwrap_or_default(), pr.html_url)
        }
    };
    let filenames = &check.filenames;
    let mut changes = OwnersChanges {
        filenames: filenames.clone(),
        head_sha,
        pr_body,
        pr_url,
        ..OwnersChanges::default()
    };
    let read = |path: String| {
        let sha = changes.head_sha.clone();
        let target = target.clone();
        async move {
            let bytes = github
                .get_file(org, repo, &sha, &path)
                .await
                .map_err(gh(&target))?;
            Ok::<_, PluginsError>(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
        }
    };
    let files = github
        .pull_request_changes(org, repo, number)
        .await
        .map_err(gh(&target))?;
    let mut owners_files = Vec::new();
    for file in files {
        let base = file.filename.rsplit('/').next().unwrap_or_default();
        if base == filenames.owners && file.status != "removed" {
            if let Some(contents) = read(file.filename.clone()).await? {
                owners_files.push(ChangedOwnersFile {
                    path: file.filename,
                    contents,
                    patch: file.patch,
                });
            }
        } else if file.filename == filenames.owners_aliases {
            changes.aliases_changed = true;
            changes.aliases_patch = file.patch;
        }
    }
    changes.owners_files = owners_files;
    if changes.owners_files.is_empty() && !changes.aliases_changed {
        // Nothing to verify; only a stale label may be left to remove.
        return Ok(changes);
    }
    changes.aliases = read(filenames.owners_aliases.clone()).await?;
    if check.skip_trust_check {
        return Ok(changes);
    }
    let input = crate::verify_owners::verify_input(&changes, &[], false);
    let logins = prow_owners::logins_to_check(&input);
    let mut untrusted = std::collections::BTreeMap::new();
    for login in logins
        .into_iter()
        .take(crate::verify_owners::MAX_TRUST_CHECKS)
    {
        if let Some(reason) = untrusted_reason(github, event, check, bot, &login).await? {
            untrusted.insert(login, reason);
        }
    }
    changes.untrusted = untrusted;
    Ok(changes)
}

/// Prow's trigger rule for whether `login` is trusted in `org/repo`: us, an org member, a
/// collaborator (unless only org members count), a trusted app, a member of the trusted org.
/// `None` when trusted, else why not.
async fn untrusted_reason<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
    check: &OwnersCheck,
    bot: &str,
    login: &str,
) -> Result<Option<String>, PluginsError> {
    let target = event.target();
    let (org, repo) = (event.org.as_str(), event.repo.as_str());
    if login.eq_ignore_ascii_case(bot)
        || github
            .is_org_member(org, login)
            .await
            .map_err(gh(&target))?
    {
        return Ok(None);
    }
    if !check.only_org_members
        && github
            .is_collaborator(org, repo, login)
            .await
            .map_err(gh(&target))?
    {
        return Ok(None);
    }
    if let Some(app) = login.strip_suffix("[bot]")
        && check
            .trusted_apps
            .iter()
            .any(|a| a.eq_ignore_ascii_case(app))
    {
        return Ok(None);
    }
    let secondary = !check.trusted_org.is_empty() && check.trusted_org != org;
    if secondary
        && github
            .is_org_member(&check.trusted_org, login)
            .await
            .map_err(gh(&target))?
    {
        return Ok(None);
    }
    Ok(Some(crate::verify_owners::untrusted_reason(
        check.only_org_members,
        secondary,
    )))
}

/// The PR's line counts, and `.generated_files` (with the lists it names) and `.gitattributes`
/// at its base.
async fn size_facts<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
) -> Result<crate::size::SizeFacts, PluginsError> {
    use crate::size::{FileChange, GENERATED_FILES, GITATTRIBUTES, SizeFacts, paths_from_repo};
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let base = match event.pull_request.as_ref().map(|pr| pr.base.sha.clone()) {
        Some(sha) if !sha.is_empty() => sha,
        _ => {
            github
                .get_pull_request(org, repo, number)
                .await
                .map_err(gh(&target))?
                .base
                .sha
        }
    };
    let read = |path: String| {
        let (base, target) = (base.clone(), target.clone());
        async move {
            let bytes = github
                .get_file(org, repo, &base, &path)
                .await
                .map_err(gh(&target))?;
            Ok::<_, PluginsError>(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
        }
    };
    let generated_files = read(GENERATED_FILES.to_owned()).await?;
    let mut lists = Vec::new();
    for path in generated_files
        .as_deref()
        .map(paths_from_repo)
        .unwrap_or_default()
    {
        lists.push(read(path).await?.unwrap_or_default());
    }
    let gitattributes = read(GITATTRIBUTES.to_owned()).await?;
    let changes = github
        .pull_request_changes(org, repo, number)
        .await
        .map_err(gh(&target))?
        .into_iter()
        .map(|c| FileChange {
            filename: c.filename,
            additions: c.additions,
            deletions: c.deletions,
        })
        .collect();
    Ok(SizeFacts {
        changes,
        generated_files,
        paths_from_repo: lists,
        gitattributes,
    })
}

/// The PR's head statuses and changed files, and the repo's presubmits.
async fn skip_facts<G: PluginGitHub + ?Sized>(
    github: &G,
    config: &Config,
    event: &Event,
) -> Result<crate::skip::SkipFacts, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let pr = github
        .get_pull_request(org, repo, number)
        .await
        .map_err(gh(&target))?;
    let presubmits = config
        .presubmits_for(&format!("{org}/{repo}"))
        .map_err(|e| PluginsError::Jobs {
            target: target.clone(),
            message: e.to_string(),
        })?
        .to_vec();
    let statuses = github
        .combined_status(org, repo, &pr.head.sha)
        .await
        .map_err(gh(&target))?
        .into_iter()
        .map(|s| (s.context, s.state.as_str().to_owned()))
        .collect();
    let changed_files = github
        .changed_files(org, repo, number)
        .await
        .map_err(gh(&target))?;
    Ok(crate::skip::SkipFacts {
        head_sha: pr.head.sha,
        base_ref: pr.base.git_ref,
        presubmits,
        statuses,
        changed_files,
    })
}

/// The reviews API's spelling of a state.
fn review_state(state: &ReviewState) -> &'static str {
    match state {
        ReviewState::Approved => "APPROVED",
        ReviewState::ChangesRequested => "CHANGES_REQUESTED",
        ReviewState::Commented => "COMMENTED",
        ReviewState::Dismissed => "DISMISSED",
        ReviewState::Pending => "PENDING",
    }
}

/// The PR's body, base and changed files: from the payload when it carries the PR, else read
/// (a comment event carries only the issue), as Prow's approve does.
async fn pull_request_facts<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
) -> Result<PrFacts, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let mut pr = match &event.pull_request {
        Some(pr) if !pr.base.sha.is_empty() => PrFacts {
            body: pr.body.clone().unwrap_or_default(),
            html_url: pr.html_url.clone(),
            base_ref: pr.base.git_ref.clone(),
            base_sha: pr.base.sha.clone(),
            assignees: pr.assignees.iter().map(|u| u.login.clone()).collect(),
            changed_files: vec![],
        },
        _ => {
            let pr = github
                .get_pull_request(org, repo, number)
                .await
                .map_err(gh(&target))?;
            PrFacts {
                body: pr.body.unwrap_or_default(),
                html_url: pr.html_url,
                base_ref: pr.base.git_ref,
                base_sha: pr.base.sha,
                // The issue's assignees are the PR's.
                assignees: event.assignees.clone(),
                changed_files: vec![],
            }
        }
    };
    pr.changed_files = github
        .changed_files(org, repo, number)
        .await
        .map_err(gh(&target))?;
    Ok(pr)
}

async fn comments<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
) -> Result<Vec<IssueComment>, PluginsError> {
    Ok(github
        .list_issue_comments(&event.org, &event.repo, event.number)
        .await
        .map_err(gh(&event.target()))?
        .into_iter()
        .map(|c| IssueComment {
            id: c.id,
            edited: c.updated_at != c.created_at,
            user: c.user.login,
            body: c.body,
            html_url: c.html_url,
            created_at: c.created_at,
        })
        .collect())
}

/// Applies actions in order; the first failure stops the rest (the redelivery redoes them).
pub async fn apply<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
    facts: &Facts,
    actions: Vec<Action>,
) -> Result<(), PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    // What we have said on the issue, so a redelivered event does not say it twice. Read once,
    // when a comment is to be made, unless the facts already hold it.
    let mut said: Option<Vec<String>> = None;
    for action in actions {
        match action {
            Action::AddLabel(label) => github
                .add_label(org, repo, number, &label)
                .await
                .map_err(gh(&target))?,
            Action::RemoveLabel(label) => github
                .remove_label(org, repo, number, &label)
                .await
                .map_err(gh(&target))?,
            Action::Comment(body) => {
                if said.is_none() {
                    let ours = if facts.comments.is_empty() {
                        comments(github, event).await?
                    } else {
                        facts.comments.clone()
                    };
                    said = Some(
                        ours.into_iter()
                            .filter(|c| c.user.eq_ignore_ascii_case(&facts.bot))
                            .map(|c| c.body)
                            .collect(),
                    );
                }
                let said = said.get_or_insert_with(Vec::new);
                if said.contains(&body) {
                    tracing::info!(%target, "comment already made; not repeating it");
                    continue;
                }
                github
                    .create_comment(org, repo, number, &body)
                    .await
                    .map_err(gh(&target))?;
                said.push(body);
            }
            Action::EditComment { id, body } => github
                .edit_comment(org, repo, id, &body)
                .await
                .map_err(gh(&target))?,
            Action::DeleteComment(id) => github
                .delete_comment(org, repo, id)
                .await
                .map_err(gh(&target))?,
            Action::Assign { logins, missing } => {
                let assigned = github
                    .add_assignees(org, repo, number, &logins)
                    .await
                    .map_err(gh(&target))?;
                reply_to_refused(github, event, facts, missing, &logins, &assigned).await?;
            }
            Action::Unassign(logins) => github
                .remove_assignees(org, repo, number, &logins)
                .await
                .map_err(gh(&target))?,
            Action::RequestReview { logins, missing } => {
                let requested = github
                    .request_reviewers(org, repo, number, &logins)
                    .await
                    .map_err(gh(&target))?;
                reply_to_refused(github, event, facts, missing, &logins, &requested).await?;
            }
            Action::UnrequestReview(logins) => github
                .unrequest_reviewers(org, repo, number, &logins)
                .await
                .map_err(gh(&target))?,
            Action::SetState {
                open,
                reason,
                refused,
            } => {
                let edit = IssueEdit {
                    state: Some(if open {
                        IssueState::Open
                    } else {
                        IssueState::Closed
                    }),
                    state_reason: reason,
                    ..IssueEdit::default()
                };
                match (github.edit_issue(org, repo, number, &edit).await, refused) {
                    (Ok(()), _) => {}
                    (Err(err), Some(refused)) if err.status() == Some(422) => {
                        let message = format!("{}{}", refused.prefix, err.message().unwrap_or(""));
                        let reply = vec![Action::Comment(refused.to.reply(&message))];
                        return Box::pin(apply(github, event, facts, reply)).await;
                    }
                    (Err(err), _) => return Err(gh(&target)(err)),
                }
            }
            Action::CreateStatus {
                sha,
                context,
                state,
                description,
                target_url,
            } => {
                let state = match state.as_str() {
                    "success" => StatusState::Success,
                    "failure" => StatusState::Failure,
                    "error" => StatusState::Error,
                    _ => StatusState::Pending,
                };
                let status = NewStatus {
                    description: Some(description),
                    target_url: (!target_url.is_empty()).then_some(target_url),
                    ..NewStatus::new(context, state)
                };
                github
                    .create_status(org, repo, &sha, &status)
                    .await
                    .map_err(gh(&target))?
            }
            Action::Retitle(title) => github
                .edit_issue(org, repo, number, &IssueEdit::title(title))
                .await
                .map_err(gh(&target))?,
            Action::DeleteRef(git_ref) => github
                .delete_ref(org, repo, &git_ref)
                .await
                .map_err(gh(&target))?,
            Action::EditBody(body) => {
                let edit = IssueEdit {
                    body: Some(body),
                    ..IssueEdit::default()
                };
                github
                    .edit_issue(org, repo, number, &edit)
                    .await
                    .map_err(gh(&target))?
            }
        }
    }
    Ok(())
}

/// Answers with `missing`'s reply naming those of `asked` GitHub did not take, if any, as a
/// comment action (so a redelivered event does not say it twice).
async fn reply_to_refused<G: PluginGitHub + ?Sized>(
    github: &G,
    event: &Event,
    facts: &Facts,
    missing: Option<MissingReply>,
    asked: &[String],
    taken: &[String],
) -> Result<(), PluginsError> {
    let refused = refused(asked, taken);
    match missing {
        Some(reply) if !refused.is_empty() => {
            let comment = vec![Action::Comment(reply.render(&refused))];
            Box::pin(apply(github, event, facts, comment)).await
        }
        _ => Ok(()),
    }
}

/// Those of `asked` GitHub did not take (logins compare as Prow's NormLogin: no `@`, any case).
fn refused(asked: &[String], taken: &[String]) -> Vec<String> {
    asked
        .iter()
        .filter(|a| {
            !taken
                .iter()
                .any(|t| prow_github::normalize_login(t) == prow_github::normalize_login(a))
        })
        .cloned()
        .collect()
}
