//! Prow's TrustedUser: who may have their PRs tested automatically, asked of GitHub in Prow's order.

use prow_core::config::TriggerConfig;
use prow_github::GitHub;

/// The bot; a member of the repo's org; a collaborator (unless `only_org_members`); a GitHub App
/// listed in `trusted_apps` (`<app>[bot]`); a member of `trusted_org`. Stops at the first yes.
pub async fn trusted_user(
    github: &dyn GitHub,
    trigger: &TriggerConfig,
    bot: &str,
    user: &str,
    org: &str,
    repo: &str,
) -> prow_github::Result<bool> {
    if user.eq_ignore_ascii_case(bot) {
        return Ok(true);
    }
    if github.is_org_member(org, user).await? {
        return Ok(true);
    }
    if !trigger.only_org_members && github.is_collaborator(org, repo, user).await? {
        return Ok(true);
    }
    if let Some(app) = user.strip_suffix("[bot]")
        && trigger.trusted_apps.iter().any(|a| a == app)
    {
        return Ok(true);
    }
    if trigger.trusted_org.is_empty() || trigger.trusted_org == org {
        return Ok(false);
    }
    github.is_org_member(&trigger.trusted_org, user).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_github::{Call, DryRunGitHub};

    #[tokio::test]
    async fn trust_rules_in_prow_order() {
        let only_members = TriggerConfig {
            only_org_members: true,
            ..TriggerConfig::default()
        };
        let apps = TriggerConfig {
            trusted_apps: vec!["renovate".into()],
            ..TriggerConfig::default()
        };
        let gh = DryRunGitHub::new().trust(["alice"]);
        let cases: [(&TriggerConfig, &str, bool); 6] = [
            (&TriggerConfig::default(), "prow-bot", true),
            (&TriggerConfig::default(), "alice", true),
            (&TriggerConfig::default(), "mallory", false),
            (&only_members, "mallory", false),
            (&apps, "renovate[bot]", true),
            (&apps, "renovate", false),
        ];
        for (cfg, user, want) in cases {
            let got = trusted_user(&gh, cfg, "prow-bot", user, "acme", "foo")
                .await
                .unwrap();
            assert_eq!(got, want, "{user}");
        }
        // The bot is trusted without asking GitHub.
        gh.take_calls();
        trusted_user(
            &gh,
            &TriggerConfig::default(),
            "prow-bot",
            "prow-bot",
            "acme",
            "foo",
        )
        .await
        .unwrap();
        assert!(gh.calls().is_empty());
        // only_org_members skips the collaborator lookup.
        trusted_user(&gh, &only_members, "prow-bot", "mallory", "acme", "foo")
            .await
            .unwrap();
        assert!(
            !gh.calls()
                .iter()
                .any(|c| matches!(c, Call::IsCollaborator { .. })),
            "{:?}",
            gh.calls()
        );
    }
}
