//! The I/O shell: decode an event, ask each enabled plugin what it needs, fetch those facts once,
//! let each plugin decide, apply the actions.

use prow_core::config::{Config, PluginsConfig};
use prow_core::events::GITHUB_EVENT_PREFIX;
use prow_events::cloudevents::{AttributesReader, Event as CloudEvent};
use prow_github::{GitHubError, IssueEdit, IssueState, NewStatus, ReviewState, StatusState};

use crate::event::{Event, Kind, Payload};
use crate::github::{OwnersPort, PluginGitHub, ProwJobPort};
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
    /// A ProwJob could not be created.
    #[error("{target}: ProwJob: {message}")]
    ProwJob { target: String, message: String },
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

/// The event's PR: a field the payload carries is read from it, any other from one
/// `get_pull_request`, made the first time a field is missing and shared by every fact
/// (a comment event carries only the issue, and several plugins read its PR).
pub struct PrSource<'a, G: ?Sized> {
    github: &'a G,
    event: &'a Event,
    fetched: tokio::sync::OnceCell<prow_github::PullRequest>,
}

impl<G: ?Sized> std::fmt::Debug for PrSource<'_, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrSource")
            .field("target", &self.event.target())
            .field("fetched", &self.fetched.initialized())
            .finish()
    }
}

impl<'a, G: PluginGitHub + ?Sized> PrSource<'a, G> {
    pub fn new(github: &'a G, event: &'a Event) -> Self {
        Self {
            github,
            event,
            fetched: tokio::sync::OnceCell::new(),
        }
    }

    /// The PR as GitHub has it now (read once).
    pub async fn fetched(&self) -> Result<&prow_github::PullRequest, PluginsError> {
        let (org, repo, number) = (&self.event.org, &self.event.repo, self.event.number);
        self.fetched
            .get_or_try_init(|| async {
                self.github
                    .get_pull_request(org, repo, number)
                    .await
                    .map_err(gh(&self.event.target()))
            })
            .await
    }

    /// The payload's PR when it carries one with a head (a `pull_request` or review event).
    fn payload(&self) -> Option<&'a crate::event::PullRequest> {
        self.event
            .pull_request
            .as_ref()
            .filter(|pr| !pr.head.sha.is_empty() && !pr.base.sha.is_empty())
    }

    pub async fn head_sha(&self) -> Result<String, PluginsError> {
        match self.payload() {
            Some(pr) => Ok(pr.head.sha.clone()),
            None => Ok(self.fetched().await?.head.sha.clone()),
        }
    }

    pub async fn base_sha(&self) -> Result<String, PluginsError> {
        match self.payload() {
            Some(pr) => Ok(pr.base.sha.clone()),
            None => Ok(self.fetched().await?.base.sha.clone()),
        }
    }

    pub async fn base_ref(&self) -> Result<String, PluginsError> {
        match self.payload().filter(|pr| !pr.base.git_ref.is_empty()) {
            Some(pr) => Ok(pr.base.git_ref.clone()),
            None => Ok(self.fetched().await?.base.git_ref.clone()),
        }
    }

    /// The description (empty when it has none) and the PR's page.
    pub async fn body_and_url(&self) -> Result<(String, String), PluginsError> {
        match self.payload() {
            Some(pr) => Ok((pr.body.clone().unwrap_or_default(), pr.html_url.clone())),
            None => {
                let pr = self.fetched().await?;
                Ok((pr.body.clone().unwrap_or_default(), pr.html_url.clone()))
            }
        }
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
    jobs: &dyn ProwJobPort,
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
    let Some(mut event) = Event::from_payload(kind, payload) else {
        return Ok(());
    };
    cloud_event.id().clone_into(&mut event.delivery_id);
    handle_event(github, owners, jobs, config, &event).await
}

/// Runs the enabled plugins on a decoded event (`full` also holds the jobs skip reads).
pub async fn handle_event<G: PluginGitHub + ?Sized>(
    github: &G,
    owners: &dyn OwnersPort,
    jobs: &dyn ProwJobPort,
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
    let pr = PrSource::new(github, event);
    let mut facts = gather(github, owners, event, &needs, &pr).await?;
    if needs.skip {
        facts.skip = Some(skip_facts(github, full, event, &pr).await?);
    }
    if let Some(check) = &needs.override_ {
        facts.override_ = Some(override_facts(github, owners, full, event, check, &pr).await?);
    }
    let mut failed = Vec::new();
    for (plugin, _) in interested {
        let actions = plugin.decide(event, &facts, config);
        if !actions.is_empty() {
            tracing::info!(plugin = plugin.name(), %target, actions = actions.len(), "acting");
            tracing::debug!(plugin = plugin.name(), %target, ?actions, "actions");
        }
        if let Err(err) = apply(github, jobs, event, &facts, actions).await {
            failed.push(format!("{}: {err}", plugin.name()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(PluginsError::Plugins { target, failed })
    }
}

/// Fetches what `needs` asks for; PR fields come from `pr`.
pub async fn gather<G: PluginGitHub + ?Sized>(
    github: &G,
    owners: &dyn OwnersPort,
    event: &Event,
    needs: &Needs,
    pr: &PrSource<'_, G>,
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
        facts.base_ref = Some(pr.base_ref().await?);
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
        let sha = pr.head_sha().await?;
        facts.head_tree = Some(github.tree_of(org, repo, &sha).await.map_err(gh(&target))?);
    }
    if needs.pull_request_owners {
        let facts_of_pr = pull_request_facts(github, event, pr).await?;
        facts.repo_owners = Some(
            owners
                .repo_owners(org, repo, &facts_of_pr.base_sha)
                .await
                .map_err(|message| PluginsError::Owners {
                    target: target.clone(),
                    message,
                })?,
        );
        facts.pull_request = Some(facts_of_pr);
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
        let base_sha = pr.base_sha().await?;
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
        facts.owners_changes = Some(owners_changes(github, event, check, &facts.bot, pr).await?);
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
        facts.size = Some(size_facts(github, event, pr).await?);
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
        facts.dco = Some(dco_facts(github, event, rule, &facts, pr).await?);
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
    for team in &needs.team_members {
        let members = github.team_members(org, team).await.map_err(gh(&target))?;
        facts
            .team_members
            .insert(team.clone(), members.into_iter().map(|m| m.login).collect());
    }
    if needs.milestones {
        facts.milestones = github
            .open_milestones(org, repo)
            .await
            .map_err(gh(&target))?;
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
    pr: &PrSource<'_, G>,
) -> Result<crate::dco::DcoFacts, PluginsError> {
    let target = event.target();
    let (org, repo) = (event.org.as_str(), event.repo.as_str());
    let head_sha = pr.head_sha().await?;
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
    pr: &PrSource<'_, G>,
) -> Result<OwnersChanges, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let head_sha = pr.head_sha().await?;
    let (pr_body, pr_url) = pr.body_and_url().await?;
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
    pr: &PrSource<'_, G>,
) -> Result<crate::size::SizeFacts, PluginsError> {
    use crate::size::{FileChange, GENERATED_FILES, GITATTRIBUTES, SizeFacts, paths_from_repo};
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let base = pr.base_sha().await?;
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

/// Whether the commenter may override, checked as Prow does and stopping at the first yes
/// (repo admin, member of an allowed team, top-level OWNERS approver); then, if so, the PR's
/// head statuses, its base branch's required contexts and head, and the repo's presubmits.
/// A check GitHub cannot answer counts as no, as in Prow.
async fn override_facts<G: PluginGitHub + ?Sized>(
    github: &G,
    owners: &dyn OwnersPort,
    config: &Config,
    event: &Event,
    check: &crate::override_::OverrideCheck,
    pr: &PrSource<'_, G>,
) -> Result<crate::override_::OverrideFacts, PluginsError> {
    use crate::override_::{HeadStatus, OverrideFacts, in_team, is_admin};
    let target = event.target();
    let (org, repo) = (event.org.as_str(), event.repo.as_str());
    let user = event
        .comment
        .as_ref()
        .map(|c| c.user.login.as_str())
        .unwrap_or_default();
    let pull = pr.fetched().await?;
    let base_ref = format!("heads/{}", pull.base.git_ref);
    let mut base_sha = None;
    let mut authorized = match github.user_permission(org, repo, user).await {
        Ok(permission) => is_admin(&permission),
        Err(err) => {
            tracing::warn!(%target, user, error = %err, "cannot tell whether the commenter is a repo admin");
            false
        }
    };
    for team in &check.teams {
        if authorized {
            break;
        }
        match github.team_members(org, team).await {
            Ok(members) => {
                let logins: Vec<String> = members.into_iter().map(|m| m.login).collect();
                authorized = in_team(&logins, user);
            }
            Err(err) => {
                tracing::warn!(%target, team, error = %err, "cannot list the members of an override team");
            }
        }
    }
    if !authorized && check.top_level_owners {
        let sha = github
            .get_ref(org, repo, &base_ref)
            .await
            .map_err(gh(&target))?;
        match owners.repo_owners(org, repo, &sha).await {
            Ok(owners) => {
                authorized = owners
                    .top_level_approvers()
                    .contains(&prow_github::normalize_login(user));
            }
            Err(message) => {
                tracing::warn!(%target, user, %message, "cannot tell whether the commenter is a top-level approver");
            }
        }
        base_sha = Some(sha);
    }
    if !authorized {
        return Ok(OverrideFacts::default());
    }
    let head_sha = pull.head.sha.clone();
    let statuses = github
        .combined_status(org, repo, &head_sha)
        .await
        .map_err(gh(&target))?
        .into_iter()
        .map(|s| HeadStatus {
            state: s.state.as_str().to_owned(),
            context: s.context,
            description: s.description.unwrap_or_default(),
            target_url: s.target_url.unwrap_or_default(),
        })
        .collect();
    let presubmits = config
        .presubmits_for(&format!("{org}/{repo}"))
        .map_err(|e| PluginsError::Jobs {
            target: target.clone(),
            message: e.to_string(),
        })?
        .to_vec();
    let required_contexts = github
        .required_contexts(org, repo, &pull.base.git_ref)
        .await
        .map_err(gh(&target))?;
    let base_sha = match base_sha {
        Some(sha) => sha,
        None => github
            .get_ref(org, repo, &base_ref)
            .await
            .map_err(gh(&target))?,
    };
    Ok(OverrideFacts {
        authorized,
        head_sha,
        refs: pr_refs(pull, event, &base_sha),
        base_sha,
        statuses,
        required_contexts,
        presubmits,
        namespace: config.prow.prowjob_namespace.clone(),
        now: Some(prow_core::clock::Clock::system().time()),
    })
}

/// Prow's createRefs: the PR's refs against `base_sha`. The author's link is GitHub's profile
/// address on the repo's host (the API's PR carries no user `html_url` here).
fn pr_refs(
    pr: &prow_github::PullRequest,
    event: &Event,
    base_sha: &str,
) -> prow_core::prowjob::Refs {
    use prow_core::prowjob::{Pull, Refs};
    let (org, name, repo_link) = match &pr.base.repo {
        Some(r) => (r.owner.login.clone(), r.name.clone(), r.html_url.clone()),
        None => (event.org.clone(), event.repo.clone(), String::new()),
    };
    let host = repo_link
        .find("://")
        .map(|i| {
            let rest = &repo_link[i + 3..];
            &repo_link[..i + 3 + rest.find('/').unwrap_or(rest.len())]
        })
        .unwrap_or_default();
    let mut pull = Pull::new(pr.number, pr.user.login.clone(), pr.head.sha.clone());
    pull.head_ref = pr.head.git_ref.clone();
    pull.title = pr.title.clone();
    pull.link = pr.html_url.clone();
    if !host.is_empty() {
        pull.author_link = format!("{host}/{}", pr.user.login);
    }
    pull.commit_link = format!("{repo_link}/pull/{}/commits/{}", pr.number, pr.head.sha);
    let mut refs = Refs::new(org, name);
    refs.base_ref = pr.base.git_ref.clone();
    refs.base_sha = base_sha.to_owned();
    refs.base_link = format!("{repo_link}/commit/{base_sha}");
    refs.repo_link = repo_link;
    refs.pulls = vec![pull];
    refs
}

/// The PR's head statuses and changed files, and the repo's presubmits.
async fn skip_facts<G: PluginGitHub + ?Sized>(
    github: &G,
    config: &Config,
    event: &Event,
    pr: &PrSource<'_, G>,
) -> Result<crate::skip::SkipFacts, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    // GitHub's PR, not the payload's: skip acts on the head as it is now.
    let pr = pr.fetched().await?;
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
        head_sha: pr.head.sha.clone(),
        base_ref: pr.base.git_ref.clone(),
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
    source: &PrSource<'_, G>,
) -> Result<PrFacts, PluginsError> {
    let target = event.target();
    let (org, repo, number) = (event.org.as_str(), event.repo.as_str(), event.number);
    let (body, html_url) = source.body_and_url().await?;
    let mut pr = PrFacts {
        body,
        html_url,
        base_ref: source.base_ref().await?,
        base_sha: source.base_sha().await?,
        // A PR's payload lists its assignees; an issue's (a comment event) are the PR's.
        assignees: match &event.pull_request {
            Some(pr) => pr.assignees.iter().map(|u| u.login.clone()).collect(),
            None => event.assignees.clone(),
        },
        changed_files: vec![],
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
    jobs: &dyn ProwJobPort,
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
                reply_to_refused(github, jobs, event, facts, missing, &logins, &assigned).await?;
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
                reply_to_refused(github, jobs, event, facts, missing, &logins, &requested).await?;
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
                        return Box::pin(apply(github, jobs, event, facts, reply)).await;
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
            Action::CreateProwJob(job) => {
                let created = jobs
                    .create(&job)
                    .await
                    .map_err(|message| PluginsError::ProwJob {
                        target: target.clone(),
                        message,
                    })?;
                tracing::info!(%target, job = job.spec.job, name = ?job.metadata.name, created, "override prowjob");
            }
            Action::SetMilestone(milestone) => github
                .edit_issue(org, repo, number, &IssueEdit::milestone(milestone))
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
    jobs: &dyn ProwJobPort,
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
            Box::pin(apply(github, jobs, event, facts, comment)).await
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
