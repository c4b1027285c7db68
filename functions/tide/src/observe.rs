//! Events in, index facts out: what a GitHub webhook or a ProwJob change tells about a
//! repository's pull requests, as an [`Observation`]. Pure.

use prow_core::prowjob::ProwJob;
use prow_github::PullRequest;
use serde::Deserialize;

use crate::index::{Context, ContextState, JobRecord, Observation, PrFacts};

/// The repository an event is about and what it tells.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub org: String,
    pub repo: String,
    pub observation: Observation,
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{event} payload: {source}")]
pub struct PayloadError {
    pub event: &'static str,
    #[source]
    pub source: serde_json::Error,
}

#[derive(Deserialize)]
struct Owner {
    login: String,
}

#[derive(Deserialize)]
struct Repo {
    name: String,
    owner: Owner,
}

/// The facts of a PR as GitHub's pull request object tells them.
pub fn facts_of(pr: &PullRequest) -> PrFacts {
    PrFacts {
        number: pr.number,
        title: pr.title.clone(),
        body: pr.body.clone().unwrap_or_default(),
        author: pr.user.login.clone(),
        author_is_bot: pr.user.kind == "Bot",
        html_url: pr.html_url.clone(),
        head_ref: pr.head.git_ref.clone(),
        head_sha: pr.head.sha.clone(),
        base_ref: pr.base.git_ref.clone(),
        labels: pr.labels.iter().map(|l| l.name.clone()).collect(),
        milestone: pr.milestone_title().map(str::to_owned),
        draft: pr.draft,
        mergeable: pr.mergeable,
        mergeable_state: pr.mergeable_state.clone(),
        updated_at: pr.updated_at.clone(),
        ..PrFacts::default()
    }
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    pull_request: PullRequest,
    repository: Repo,
}

#[derive(Deserialize)]
struct ReviewUser {
    login: String,
}

#[derive(Deserialize)]
struct Review {
    user: ReviewUser,
    state: String,
}

#[derive(Deserialize)]
struct ReviewEvent {
    review: Review,
    pull_request: PullRequest,
    repository: Repo,
}

#[derive(Deserialize)]
struct StatusEvent {
    sha: String,
    context: String,
    state: ContextState,
    #[serde(default)]
    description: Option<String>,
    repository: Repo,
}

#[derive(Deserialize)]
struct CheckRun {
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    head_sha: String,
}

#[derive(Deserialize)]
struct CheckRunEvent {
    check_run: CheckRun,
    repository: Repo,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: Repo,
}

fn parse<T: for<'de> Deserialize<'de>>(
    event: &'static str,
    data: &serde_json::Value,
) -> Result<T, PayloadError> {
    T::deserialize(data).map_err(|source| PayloadError { event, source })
}

fn observed(repo: Repo, observation: Observation) -> Observed {
    Observed {
        org: repo.owner.login,
        repo: repo.name,
        observation,
    }
}

/// Reads a GitHub webhook payload of event `name` (`pull_request`, `status`...); `None` for
/// events and actions that tell tide nothing.
pub fn github_event(
    name: &str,
    data: &serde_json::Value,
) -> Result<Option<Observed>, PayloadError> {
    Ok(Some(match name {
        "pull_request" => {
            let ev: PullRequestEvent = parse("pull_request", data)?;
            let observation = if ev.action == "closed"
                || ev.pull_request.state == prow_github::IssueState::Closed
            {
                Observation::Closed {
                    number: ev.pull_request.number,
                    merged: ev.pull_request.merged,
                }
            } else {
                Observation::PullRequest(Box::new(facts_of(&ev.pull_request)))
            };
            observed(ev.repository, observation)
        }
        "pull_request_review" => {
            let ev: ReviewEvent = parse("pull_request_review", data)?;
            let observation = Observation::Review {
                pr: Box::new(facts_of(&ev.pull_request)),
                user: ev.review.user.login,
                state: ev.review.state,
            };
            observed(ev.repository, observation)
        }
        "status" => {
            let ev: StatusEvent = parse("status", data)?;
            let observation = Observation::Context {
                sha: ev.sha,
                name: ev.context,
                context: Context {
                    state: ev.state,
                    description: ev.description.unwrap_or_default(),
                },
            };
            observed(ev.repository, observation)
        }
        "check_run" => {
            let ev: CheckRunEvent = parse("check_run", data)?;
            let run = ev.check_run;
            let observation = Observation::Context {
                sha: run.head_sha,
                name: run.name,
                context: Context {
                    state: ContextState::of_check_run(&run.status, run.conclusion.as_deref()),
                    description: String::new(),
                },
            };
            observed(ev.repository, observation)
        }
        "push" => {
            let ev: PushEvent = parse("push", data)?;
            let Some(branch) = ev.git_ref.strip_prefix("refs/heads/") else {
                return Ok(None);
            };
            let observation = Observation::Push {
                branch: branch.to_owned(),
                sha: (!ev.deleted).then_some(ev.after),
            };
            observed(ev.repository, observation)
        }
        _ => return Ok(None),
    }))
}

/// What a ProwJob change tells: its record for the repository's index (which also gives the
/// context crier reports for a presubmit). `None` without refs.
pub fn prowjob_event(pj: &ProwJob) -> Option<Observed> {
    let refs = pj.spec.refs.as_ref()?;
    let (name, record) = JobRecord::of(pj)?;
    Some(Observed {
        org: refs.org.clone(),
        repo: refs.repo.clone(),
        observation: Observation::Job {
            name,
            record: Box::new(record),
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn webhook(name: &str) -> serde_json::Value {
        serde_json::from_slice(&prow_testdata::webhook(&format!("{name}.json"))).unwrap()
    }

    #[test]
    fn a_real_pull_request_payload_becomes_the_prs_facts() {
        let data = webhook("pull_request.opened");
        let got = github_event("pull_request", &data).unwrap().unwrap();
        let Observation::PullRequest(pr) = got.observation else {
            panic!("{got:?}");
        };
        let payload = &data["pull_request"];
        assert_eq!(pr.number, payload["number"].as_u64().unwrap());
        assert_eq!(pr.head_sha, payload["head"]["sha"].as_str().unwrap());
        assert_eq!(pr.base_ref, payload["base"]["ref"].as_str().unwrap());
        assert_eq!(
            got.org,
            data["repository"]["owner"]["login"].as_str().unwrap()
        );
    }

    #[test]
    fn closing_status_check_run_and_push_payloads() {
        let closed = serde_json::json!({
            "action": "closed",
            "pull_request": {"number": 3, "state": "closed", "title": "t", "user": {"login": "a"},
                "head": {"ref": "x", "sha": "h"}, "base": {"ref": "main", "sha": "b"}, "html_url": ""},
            "repository": {"name": "foo", "owner": {"login": "acme"}}
        });
        let got = github_event("pull_request", &closed).unwrap().unwrap();
        assert_eq!(
            got.observation,
            Observation::Closed {
                number: 3,
                merged: false
            }
        );

        let status = serde_json::json!({"sha": "h", "context": "unit", "state": "failure",
            "description": "Job failed.", "repository": {"name": "foo", "owner": {"login": "acme"}}});
        let got = github_event("status", &status).unwrap().unwrap();
        assert_eq!(
            got.observation,
            Observation::Context {
                sha: "h".into(),
                name: "unit".into(),
                context: Context {
                    state: ContextState::Failure,
                    description: "Job failed.".into()
                }
            }
        );

        let run = serde_json::json!({"action": "completed", "check_run": {"name": "lint", "status": "completed",
            "conclusion": "neutral", "head_sha": "h"}, "repository": {"name": "foo", "owner": {"login": "acme"}}});
        let got = github_event("check_run", &run).unwrap().unwrap();
        assert!(
            matches!(got.observation, Observation::Context { ref context, .. } if context.state == ContextState::Success)
        );

        let push = serde_json::json!({"ref": "refs/heads/main", "after": "new", "repository": {"name": "foo", "owner": {"login": "acme"}}});
        let got = github_event("push", &push).unwrap().unwrap();
        assert_eq!(
            got.observation,
            Observation::Push {
                branch: "main".into(),
                sha: Some("new".into())
            }
        );
        let tag = serde_json::json!({"ref": "refs/tags/v1", "after": "new", "repository": {"name": "foo", "owner": {"login": "acme"}}});
        assert!(github_event("push", &tag).unwrap().is_none());
        assert!(github_event("issues", &tag).unwrap().is_none());
        assert!(github_event("status", &serde_json::json!({})).is_err());
    }
}
