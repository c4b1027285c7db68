//! Org and team memberships behind `rerun_auth_configs`' `github_orgs`, `github_team_ids` and
//! `github_team_slugs`, asked of GitHub with Deck's own client (`--github-token-path` or the
//! GitHub App, through ghproxy when `--github-endpoint` points there), as Prow asks with its
//! bot's. Answers are kept briefly so a page of rerun clicks costs one lookup per team.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prow_github::{GitHub, GitHubError};

use crate::auth::{Membership, Verdict};

/// How long a membership answer is trusted: a user removed from a team loses rerun rights
/// within this time.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// Bound on remembered answers; the cache starts over when full.
const MAX_ENTRIES: usize = 10_000;

type Key = (Membership, String);

/// Answers membership questions through the GitHub port, remembering them for a while.
pub struct Memberships {
    github: Arc<dyn GitHub>,
    ttl: Duration,
    answers: Mutex<HashMap<Key, (bool, Instant)>>,
    org_ids: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Memberships {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memberships")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Memberships {
    pub fn new(github: Arc<dyn GitHub>, ttl: Duration) -> Self {
        Self {
            github,
            ttl,
            answers: Mutex::default(),
            org_ids: Mutex::default(),
        }
    }

    fn cached(&self, key: &Key) -> Option<bool> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(yes, _)| *yes)
    }

    fn remember(&self, key: Key, yes: bool) {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        if answers.len() >= MAX_ENTRIES {
            answers.clear();
        }
        answers.insert(key, (yes, Instant::now()));
    }

    /// Org ids never change: kept for the life of the process.
    async fn org_id(&self, org: &str) -> Result<u64, GitHubError> {
        let known = {
            let ids = self.org_ids.lock().unwrap_or_else(|p| p.into_inner());
            ids.get(org).copied()
        };
        if let Some(id) = known {
            return Ok(id);
        }
        let id = self.github.org_id(org).await?;
        let mut ids = self.org_ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.len() >= MAX_ENTRIES {
            ids.clear();
        }
        ids.insert(org.to_owned(), id);
        Ok(id)
    }

    pub async fn is_member(&self, m: &Membership, user: &str) -> Result<bool, GitHubError> {
        let key = (m.clone(), prow_core::prowjob::normalize_login(user));
        if let Some(yes) = self.cached(&key) {
            return Ok(yes);
        }
        let yes = match m {
            Membership::Org(org) => self.github.is_org_member(org, user).await?,
            Membership::TeamSlug { org, slug } => {
                self.github.is_team_member(org, slug, user).await?
            }
            Membership::TeamId { org, id } => {
                let org_id = self.org_id(org).await?;
                self.github.is_team_member_by_id(org_id, *id, user).await?
            }
        };
        self.remember(key, yes);
        Ok(yes)
    }

    /// Whether `user` belongs to any of `list`, asked in order and stopping at the first yes.
    /// An error stops the check, as in Prow: a GitHub outage refuses rather than guesses.
    pub async fn any(&self, user: &str, list: &[Membership]) -> Result<bool, GitHubError> {
        for m in list {
            if self.is_member(m, user).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Whether `user` may rerun or abort `pj` now. As Prow's Deck: on a presubmit, a user trigger
/// trusts on its repo may (with a plugin config and a GitHub client); then the rerun auth config,
/// asking GitHub if it names orgs or teams.
pub async fn allowed(
    state: &crate::DeckState,
    pj: &prow_core::prowjob::ProwJob,
    user: Option<&str>,
) -> Result<bool, GitHubError> {
    if let (Some(memberships), Some(user), Some(refs)) =
        (&state.memberships, user, pj.spec.refs.as_ref())
        && state.options.trigger_trust
        && pj.spec.type_ == prow_core::prowjob::ProwJobType::Presubmit
    {
        let trigger = state.config().plugins.trigger_for(&refs.org, &refs.repo);
        // No bot name: Deck's users log in through GitHub, and the bot does not.
        let trusted = prow_trigger::trust::trusted_user(
            memberships.github.as_ref(),
            &trigger,
            "",
            user,
            &refs.org,
            &refs.repo,
        )
        .await?;
        if trusted {
            return Ok(true);
        }
    }
    match crate::auth::decide(&state.config().prow.deck, pj, user) {
        Verdict::Allowed => Ok(true),
        Verdict::Denied => Ok(false),
        Verdict::IfMemberOfAny(list) => match (&state.memberships, user) {
            (Some(memberships), Some(user)) => memberships.any(user, &list).await,
            _ => Ok(false),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_github::{Call, DryRunGitHub};

    fn team(org: &str, slug: &str) -> Membership {
        Membership::TeamSlug {
            org: org.into(),
            slug: slug.into(),
        }
    }

    #[tokio::test]
    async fn answers_are_remembered_for_the_ttl_and_stop_at_the_first_yes() {
        let dry = Arc::new(DryRunGitHub::new().trust(["alice"]));
        let m = Memberships::new(dry.clone(), Duration::from_secs(60));
        let list = [
            team("acme", "admins"),
            Membership::Org("acme".into()),
            Membership::TeamId {
                org: "acme".into(),
                id: 7,
            },
        ];
        assert!(m.any("alice", &list).await.unwrap());
        assert!(m.any("Alice", &list).await.unwrap());
        assert!(!m.any("bob", &list).await.unwrap());
        assert!(!m.any("bob", &list).await.unwrap());
        let calls = dry.calls();
        let asked = |f: &dyn Fn(&Call) -> bool| calls.iter().filter(|c| f(c)).count();
        // alice: one team lookup, then cached. bob: all three once (one org id), then cached.
        assert_eq!(asked(&|c| matches!(c, Call::IsTeamMember { .. })), 2);
        assert_eq!(asked(&|c| matches!(c, Call::IsOrgMember { .. })), 1);
        assert_eq!(asked(&|c| matches!(c, Call::IsTeamMemberById { .. })), 1);
        assert_eq!(asked(&|c| matches!(c, Call::OrgId { .. })), 1);

        let fresh = Memberships::new(dry.clone(), Duration::ZERO);
        let before = dry.calls().len();
        assert!(!fresh.any("bob", &list[..1]).await.unwrap());
        assert!(!fresh.any("bob", &list[..1]).await.unwrap());
        assert_eq!(dry.calls().len(), before + 2, "nothing kept with ttl 0");
    }
}
