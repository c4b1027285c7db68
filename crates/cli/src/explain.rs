//! `prow explain <payload.json>`: which jobs trigger would run for a webhook and why each other
//! job would not, through trigger's own decisions (`prow_trigger::explain`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use prow_core::config::{self, Config, Presubmit, ProwYaml};
use prow_core::selection::Contexts;
use prow_github::{GitHub, PullRequest};
use prow_trigger::decide::{CommentFacts, PrFacts};
use prow_trigger::explain::{self, CommentContext, Explanation};
use prow_trigger::in_repo::InRepoCache;
use prow_trigger::payload::{IssueCommentEvent, PullRequestEvent, PushEvent, ReviewEvent};
use prow_trigger::trust::trusted_user;
use serde_json::Value;

use crate::check_config::ConfigSource;

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A GitHub webhook payload (the JSON body GitHub posts).
    payload: PathBuf,
    /// The webhook's event name (`X-GitHub-Event`); guessed from the payload when absent.
    #[arg(long)]
    event: Option<String>,
    #[command(flatten)]
    source: ConfigSource,
    /// A file the PR changes (repeat); without them and without a token, jobs with file
    /// filters are reported as depending on unknown files.
    #[arg(long = "changed-file")]
    changed_files: Vec<String>,
    /// The PR's base branch for comment events (default: the PR from GitHub, else the payload's
    /// `repository.default_branch`).
    #[arg(long)]
    base_branch: Option<String>,
    /// A checkout whose `.prow.yaml` / `.prow/` holds the repo's in-repo jobs (without a token).
    #[arg(long)]
    in_repo_config_dir: Option<PathBuf>,
    /// GitHub token file: trust, labels, changed files, statuses and the in-repo config are
    /// then read from GitHub (read only) instead of guessed from the payload.
    #[arg(long, env = "GITHUB_TOKEN_PATH")]
    github_token_path: Option<PathBuf>,
    /// GitHub API endpoint.
    #[arg(long, env = "GITHUB_ENDPOINT", default_value = prow_github::DEFAULT_ENDPOINT)]
    github_endpoint: String,
    /// `table` or `json`.
    #[arg(short = 'o', long = "output", default_value = "table")]
    output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Table,
    Json,
}

/// Explains the payload and prints the result.
pub(crate) async fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let raw: Value = serde_json::from_slice(
        &std::fs::read(&args.payload)
            .with_context(|| format!("reading {}", args.payload.display()))?,
    )
    .with_context(|| format!("{} is not JSON", args.payload.display()))?;
    let event = match &args.event {
        Some(e) => e.clone(),
        None => guess_event(&raw)
            .context("cannot tell the event from the payload: pass --event")?
            .to_owned(),
    };
    let config = match config::load(&args.source.options_ref()) {
        Ok(loaded) => loaded.config,
        Err(err) => {
            crate::check_config::print_invalid(&err, true);
            bail!("the Prow config is invalid");
        }
    };
    let github = match &args.github_token_path {
        Some(path) => Some(prow_github::connect(&prow_github::Settings {
            endpoint: args.github_endpoint.clone(),
            token_path: Some(path.clone()),
            dry_run: true,
            ..prow_github::Settings::default()
        })?),
        None => None,
    };
    let explainer = Explainer {
        config: &config,
        args: &args,
        github,
        cache: InRepoCache::default(),
    };
    let explanation = explainer.explain(&event, raw).await?;
    match args.output {
        Output::Table => print!("{}", explanation.table()),
        Output::Json => println!("{}", serde_json::to_string_pretty(&explanation)?),
    }
    Ok(())
}

/// Webhook payloads name their event only in a header; their keys tell them apart.
fn guess_event(raw: &Value) -> Option<&'static str> {
    let has = |k: &str| raw.get(k).is_some();
    if has("review") && has("pull_request") {
        Some("pull_request_review")
    } else if has("comment") && has("pull_request") {
        Some("pull_request_review_comment")
    } else if has("comment") && has("issue") {
        Some("issue_comment")
    } else if has("pull_request") && has("number") {
        Some("pull_request")
    } else if has("ref") && has("commits") {
        Some("push")
    } else {
        None
    }
}

/// GitHub's author association: what trust the payload itself shows.
fn associated(value: Option<&Value>) -> bool {
    matches!(
        value.and_then(Value::as_str),
        Some("OWNER" | "MEMBER" | "COLLABORATOR")
    )
}

fn payload_labels(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

struct Explainer<'a> {
    config: &'a Config,
    args: &'a ExplainArgs,
    github: Option<Arc<dyn GitHub>>,
    cache: InRepoCache,
}

impl Explainer<'_> {
    async fn explain(&self, event: &str, raw: Value) -> anyhow::Result<Explanation> {
        match event {
            "pull_request" => {
                let ev: PullRequestEvent = serde_json::from_value(raw.clone())?;
                self.pull_request(&ev, &raw).await
            }
            "issue_comment" => {
                let ev: IssueCommentEvent = serde_json::from_value(raw.clone())?;
                let default_branch = raw["repository"]["default_branch"].as_str();
                self.comment(&ev, &raw["comment"], &raw["issue"], None, default_branch)
                    .await
            }
            "pull_request_review" | "pull_request_review_comment" => {
                let ev: ReviewEvent = serde_json::from_value(raw.clone())?;
                let comment = ev
                    .as_comment()
                    .context("the review has no body or comment")?;
                let key = if event == "pull_request_review" {
                    "review"
                } else {
                    "comment"
                };
                self.comment(
                    &comment,
                    &raw[key],
                    &raw["pull_request"],
                    Some(&ev.pull_request),
                    None,
                )
                .await
            }
            "push" => {
                let ev: PushEvent = serde_json::from_value(raw)?;
                let (org, repo) = (&ev.repository.owner.login, &ev.repository.name);
                let org_repo = format!("{org}/{repo}");
                let in_repo = self.in_repo(org, repo, Some(&ev.after)).await?;
                let postsubmits = self.config.postsubmits_with(&org_repo, in_repo.as_ref())?;
                let enabled = self.config.plugins.is_enabled(org, repo, "trigger");
                Ok(explain::explain_push(&ev, enabled, &postsubmits))
            }
            other => bail!("trigger does not act on {other} events"),
        }
    }

    /// The in-repo jobs: from the checkout given, else from GitHub at `sha`.
    async fn in_repo(
        &self,
        org: &str,
        repo: &str,
        sha: Option<&str>,
    ) -> anyhow::Result<Option<ProwYaml>> {
        let org_repo = format!("{org}/{repo}");
        if !self.config.prow.in_repo_config.enabled_for(&org_repo) {
            return Ok(None);
        }
        let files = match (&self.args.in_repo_config_dir, &self.github, sha) {
            (Some(dir), _, _) => read_dir(dir)?,
            (None, Some(github), Some(sha)) => self
                .cache
                .files_at(github.as_ref(), org, repo, sha)
                .await?
                .to_vec(),
            _ => {
                eprintln!(
                    "note: in_repo_config is enabled for {org_repo}; pass --in-repo-config-dir or a token to include its jobs"
                );
                return Ok(None);
            }
        };
        Ok(Some(self.config.prow_yaml(&org_repo, &files)?))
    }

    fn changed_from_flags(&self) -> Option<Vec<String>> {
        (!self.args.changed_files.is_empty()).then(|| self.args.changed_files.clone())
    }

    async fn changed(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> anyhow::Result<Option<Vec<String>>> {
        if let Some(files) = self.changed_from_flags() {
            return Ok(Some(files));
        }
        match &self.github {
            Some(gh) => Ok(Some(
                gh.pull_request_changed_files(org, repo, number).await?,
            )),
            None => Ok(None),
        }
    }

    /// Presubmits at the PR's merged state, as trigger reads them.
    async fn presubmits(
        &self,
        org: &str,
        repo: &str,
        pr: &PullRequest,
        changed: Option<&[String]>,
    ) -> anyhow::Result<Vec<Presubmit>> {
        let sha = match (&self.github, changed) {
            (Some(_), Some(files)) if config::touches_in_repo_config(files) => {
                Some(pr.head.sha.clone())
            }
            (Some(gh), _) => Some(
                gh.get_ref(org, repo, &format!("heads/{}", pr.base.git_ref))
                    .await?,
            ),
            (None, _) => None,
        };
        let in_repo = self.in_repo(org, repo, sha.as_deref()).await?;
        Ok(self
            .config
            .presubmits_with(&format!("{org}/{repo}"), in_repo.as_ref())?)
    }

    async fn pull_request(
        &self,
        ev: &PullRequestEvent,
        raw: &Value,
    ) -> anyhow::Result<Explanation> {
        let pr = &ev.pull_request;
        let (org, repo) = (&ev.repository.owner.login, &ev.repository.name);
        let trigger = self.config.plugins.trigger_for(org, repo);
        let facts = match &self.github {
            Some(gh) => {
                let bot = gh.bot_login().await?;
                PrFacts {
                    author_trusted: trusted_user(
                        gh.as_ref(),
                        &trigger,
                        &bot,
                        &pr.user.login,
                        org,
                        repo,
                    )
                    .await?,
                    labels: gh
                        .get_issue_labels(org, repo, pr.number)
                        .await?
                        .into_iter()
                        .map(|l| l.name)
                        .collect(),
                    sender_is_bot: ev.sender.login.eq_ignore_ascii_case(&bot),
                }
            }
            None => PrFacts {
                author_trusted: associated(raw["pull_request"].get("author_association")),
                labels: payload_labels(raw["pull_request"].get("labels")),
                sender_is_bot: false,
            },
        };
        let changed = self.changed(org, repo, pr.number).await?;
        let presubmits = self.presubmits(org, repo, pr, changed.as_deref()).await?;
        let enabled = self.config.plugins.is_enabled(org, repo, "trigger");
        Ok(explain::explain_pull_request(
            ev,
            enabled,
            &trigger,
            &facts,
            &presubmits,
            changed.as_deref(),
        ))
    }

    async fn comment(
        &self,
        ev: &IssueCommentEvent,
        raw_comment: &Value,
        raw_issue: &Value,
        pr_in_payload: Option<&PullRequest>,
        default_branch: Option<&str>,
    ) -> anyhow::Result<Explanation> {
        let (org, repo) = (&ev.repository.owner.login, &ev.repository.name);
        let trigger = self.config.plugins.trigger_for(org, repo);
        let number = ev.issue.number;
        let (facts, bot, pr) = match &self.github {
            Some(gh) => {
                let bot = gh.bot_login().await?;
                let commenter = trusted_user(
                    gh.as_ref(),
                    &trigger,
                    &bot,
                    &ev.comment.user.login,
                    org,
                    repo,
                )
                .await?;
                let author = !commenter
                    && trusted_user(gh.as_ref(), &trigger, &bot, &ev.issue.user.login, org, repo)
                        .await?;
                let labels = gh.get_issue_labels(org, repo, number).await?;
                let pr = match pr_in_payload {
                    Some(pr) => Some(pr.clone()),
                    None if ev.issue.pull_request.is_some() => {
                        Some(gh.get_pull_request(org, repo, number).await?)
                    }
                    None => None,
                };
                let facts = CommentFacts {
                    commenter_trusted: commenter,
                    author_trusted: author,
                    labels: labels.into_iter().map(|l| l.name).collect(),
                };
                (facts, bot, pr)
            }
            None => {
                let facts = CommentFacts {
                    commenter_trusted: associated(raw_comment.get("author_association")),
                    author_trusted: associated(raw_issue.get("author_association")),
                    labels: payload_labels(raw_issue.get("labels")),
                };
                (facts, String::new(), pr_in_payload.cloned())
            }
        };
        let branch = self
            .args
            .base_branch
            .clone()
            .or_else(|| pr.as_ref().map(|p| p.base.git_ref.clone()))
            .or_else(|| default_branch.map(str::to_owned))
            .unwrap_or_else(|| "master".to_owned());
        let contexts = match (&self.github, &pr) {
            (Some(gh), Some(pr)) => prow_trigger::handle::contexts_of(
                &gh.combined_status(org, repo, &pr.head.sha).await?,
            ),
            _ => Contexts::default(),
        };
        let changed = match ev.issue.pull_request {
            Some(_) => self.changed(org, repo, number).await?,
            None => None,
        };
        let presubmits = match &pr {
            Some(pr) => self.presubmits(org, repo, pr, changed.as_deref()).await?,
            None => {
                let in_repo = self.in_repo(org, repo, None).await?;
                self.config
                    .presubmits_with(&format!("{org}/{repo}"), in_repo.as_ref())?
            }
        };
        let ctx = CommentContext {
            plugin_enabled: self.config.plugins.is_enabled(org, repo, "trigger"),
            bot: &bot,
            branch: &branch,
            mergeable: pr.as_ref().and_then(|p| p.mergeable),
            contexts,
        };
        Ok(explain::explain_comment(
            ev,
            &ctx,
            &trigger,
            &facts,
            &presubmits,
            changed.as_deref(),
        ))
    }
}

fn read_dir(dir: &Path) -> anyhow::Result<Vec<config::InRepoFile>> {
    let (files, _) = config::read_in_repo_config_dir(dir)
        .with_context(|| format!("reading the in-repo config in {}", dir.display()))?;
    Ok(files)
}
