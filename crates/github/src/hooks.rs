//! Webhook deliveries: which hook, what GitHub recorded of each delivery, and how far back to list.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A webhook whose deliveries GitHub lists and can send again: the GitHub App's own hook
/// (acted on as the app, with its JWT), or a hook configured on a repository or organization
/// (acted on with the token, or the app's installation in that org; both need hook admin).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hook {
    App,
    Repo { org: String, repo: String, id: u64 },
    Org { org: String, id: u64 },
}

impl Hook {
    /// The deliveries collection of this hook, with path segments as given (callers encode).
    pub(crate) fn deliveries_path(&self, seg: impl Fn(&str) -> String) -> String {
        match self {
            Hook::App => "/app/hook/deliveries".to_owned(),
            Hook::Repo { org, repo, id } => {
                format!("/repos/{}/{}/hooks/{id}/deliveries", seg(org), seg(repo))
            }
            Hook::Org { org, id } => format!("/orgs/{}/hooks/{id}/deliveries", seg(org)),
        }
    }
}

/// `app`, `org/repo:ID` or `org:ID`, as `--hook` takes it.
impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hook::App => f.write_str("app"),
            Hook::Repo { org, repo, id } => write!(f, "{org}/{repo}:{id}"),
            Hook::Org { org, id } => write!(f, "{org}:{id}"),
        }
    }
}

/// Why a `--hook` value names no hook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hook {given:?}: expected `app`, `org/repo:HOOK_ID` or `org:HOOK_ID`")]
pub struct ParseHookError {
    given: String,
}

impl FromStr for Hook {
    type Err = ParseHookError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseHookError {
            given: s.to_owned(),
        };
        if s == "app" {
            return Ok(Hook::App);
        }
        let (owner, id) = s.rsplit_once(':').ok_or_else(invalid)?;
        let id: u64 = id.parse().map_err(|_| invalid())?;
        let valid = |name: &str| !name.is_empty() && !name.contains(['/', ':', ' ']);
        match owner.split_once('/') {
            None if valid(owner) => Ok(Hook::Org {
                org: owner.to_owned(),
                id,
            }),
            Some((org, repo)) if valid(org) && valid(repo) => Ok(Hook::Repo {
                org: org.to_owned(),
                repo: repo.to_owned(),
                id,
            }),
            _ => Err(invalid()),
        }
    }
}

/// One attempt GitHub made to deliver an event to a hook (its list shape: no payload).
/// Redeliveries of one event share its `guid` (the `X-GitHub-Delivery` header) and get ids
/// of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookDelivery {
    pub id: u64,
    pub guid: String,
    pub delivered_at: DateTime<Utc>,
    /// True for an attempt someone asked for (the UI's "Redeliver" or the API).
    #[serde(default)]
    pub redelivery: bool,
    /// GitHub's summary, e.g. `OK`, `Invalid HTTP Response: 503`, `failed to connect to host`.
    #[serde(default)]
    pub status: String,
    /// The hook's HTTP answer; 0 when there was none (unreachable, timed out).
    #[serde(default)]
    pub status_code: u16,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub installation_id: Option<u64>,
    #[serde(default)]
    pub repository_id: Option<u64>,
}

impl HookDelivery {
    /// Whether our hook answered 2xx: GitHub will never send this event again by itself.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// How far back to list a hook's deliveries (GitHub lists newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Stop once a page reaches deliveries older than this (that page is still returned whole).
    pub since: DateTime<Utc>,
    /// Pages (of 100) read at most, so a busy hook cannot make one call unbounded.
    pub max_pages: usize,
}

/// A hook's recent deliveries, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HookDeliveries {
    pub deliveries: Vec<HookDelivery>,
    /// True when `max_pages` ran out before the list reached `since`: older deliveries of the
    /// window were not seen.
    pub truncated: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_named_app_org_repo_id_or_org_id_and_read_back() {
        for (text, hook) in [
            ("app", Hook::App),
            (
                "acme/widgets:12",
                Hook::Repo {
                    org: "acme".into(),
                    repo: "widgets".into(),
                    id: 12,
                },
            ),
            (
                "acme:7",
                Hook::Org {
                    org: "acme".into(),
                    id: 7,
                },
            ),
        ] {
            assert_eq!(text.parse::<Hook>().unwrap(), hook);
            assert_eq!(hook.to_string(), text);
        }
        for bad in [
            "", "apps", "acme", "acme:", "acme:x", "/w:1", "acme/:1", "a/b/c:1", ":3",
        ] {
            assert!(bad.parse::<Hook>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_delivery_reads_githubs_list_shape_and_a_missing_answer_is_a_failure() {
        let delivery: HookDelivery = serde_json::from_str(
            r#"{"id": 12345678, "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
                "delivered_at": "2019-06-03T00:57:16Z", "redelivery": false, "duration": 0.27,
                "status": "failed to connect to host", "status_code": 0, "event": "issues",
                "action": "opened", "installation_id": 123, "repository_id": 456,
                "throttled_at": null}"#,
        )
        .unwrap();
        assert_eq!(delivery.id, 12_345_678);
        assert_eq!(
            delivery.delivered_at.to_rfc3339(),
            "2019-06-03T00:57:16+00:00"
        );
        assert!(!delivery.succeeded());
        let ok = HookDelivery {
            status_code: 202,
            ..delivery
        };
        assert!(ok.succeeded());
    }
}
