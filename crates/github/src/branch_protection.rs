//! Branch protection as GitHub reports it (`GET .../branches/{b}/protection`) and as branchprotector sets it (`PUT`).

use serde::{Deserialize, Serialize};

/// The status contexts a branch requires before merging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RequiredStatusChecks {
    /// Pull requests must be up to date with the branch before merging.
    #[serde(default)]
    pub strict: bool,
    /// Required contexts. Read from both of GitHub's lists (`contexts` and the newer
    /// `checks[].context`), without repeats; sent as `contexts`.
    #[serde(default)]
    pub contexts: Vec<String>,
}

/// Who a restriction lets through: user logins, team slugs and app slugs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Restrictions {
    pub users: Vec<String>,
    pub teams: Vec<String>,
    pub apps: Vec<String>,
}

/// Review requirements of a protected branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RequiredReviews {
    pub dismiss_stale_reviews: bool,
    pub require_code_owner_reviews: bool,
    pub required_approving_review_count: u32,
    /// Who may dismiss reviews; `None` when anyone with write access may.
    pub dismissal_restrictions: Option<Restrictions>,
    /// Who may merge without the required reviews.
    pub bypass_pull_request_allowances: Option<Restrictions>,
}

/// A branch's protection as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(from = "RawProtection")]
pub struct BranchProtection {
    pub required_status_checks: Option<RequiredStatusChecks>,
    pub enforce_admins: bool,
    pub required_pull_request_reviews: Option<RequiredReviews>,
    /// Who may push; `None` when anyone with write access may.
    pub restrictions: Option<Restrictions>,
    pub allow_force_pushes: bool,
    pub allow_deletions: bool,
    pub required_linear_history: bool,
    pub required_signatures: bool,
}

impl BranchProtection {
    /// The contexts required to pass (empty without required status checks).
    pub fn required_contexts(&self) -> &[String] {
        self.required_status_checks
            .as_ref()
            .map(|c| c.contexts.as_slice())
            .unwrap_or_default()
    }
}

#[derive(Deserialize, Default)]
struct Enabled {
    #[serde(default)]
    enabled: bool,
}

fn enabled(flag: Option<Enabled>) -> bool {
    flag.is_some_and(|f| f.enabled)
}

#[derive(Deserialize)]
struct RawCheck {
    context: String,
}

#[derive(Deserialize)]
struct RawStatusChecks {
    #[serde(default)]
    strict: bool,
    #[serde(default)]
    contexts: Vec<String>,
    #[serde(default)]
    checks: Vec<RawCheck>,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct Slug {
    slug: String,
}

#[derive(Deserialize)]
struct RawRestrictions {
    #[serde(default)]
    users: Vec<Login>,
    #[serde(default)]
    teams: Vec<Slug>,
    #[serde(default)]
    apps: Vec<Slug>,
}

impl From<RawRestrictions> for Restrictions {
    fn from(raw: RawRestrictions) -> Self {
        Restrictions {
            users: raw.users.into_iter().map(|u| u.login).collect(),
            teams: raw.teams.into_iter().map(|t| t.slug).collect(),
            apps: raw.apps.into_iter().map(|a| a.slug).collect(),
        }
    }
}

#[derive(Deserialize)]
struct RawReviews {
    #[serde(default)]
    dismiss_stale_reviews: bool,
    #[serde(default)]
    require_code_owner_reviews: bool,
    #[serde(default)]
    required_approving_review_count: u32,
    #[serde(default)]
    dismissal_restrictions: Option<RawRestrictions>,
    #[serde(default)]
    bypass_pull_request_allowances: Option<RawRestrictions>,
}

#[derive(Deserialize)]
struct RawProtection {
    #[serde(default)]
    required_status_checks: Option<RawStatusChecks>,
    #[serde(default)]
    enforce_admins: Option<Enabled>,
    #[serde(default)]
    required_pull_request_reviews: Option<RawReviews>,
    #[serde(default)]
    restrictions: Option<RawRestrictions>,
    #[serde(default)]
    allow_force_pushes: Option<Enabled>,
    #[serde(default)]
    allow_deletions: Option<Enabled>,
    #[serde(default)]
    required_linear_history: Option<Enabled>,
    #[serde(default)]
    required_signatures: Option<Enabled>,
}

impl From<RawProtection> for BranchProtection {
    fn from(raw: RawProtection) -> Self {
        BranchProtection {
            required_status_checks: raw.required_status_checks.map(|checks| {
                let mut contexts = checks.contexts;
                for check in checks.checks {
                    if !contexts.contains(&check.context) {
                        contexts.push(check.context);
                    }
                }
                RequiredStatusChecks {
                    strict: checks.strict,
                    contexts,
                }
            }),
            enforce_admins: enabled(raw.enforce_admins),
            required_pull_request_reviews: raw.required_pull_request_reviews.map(|r| {
                RequiredReviews {
                    dismiss_stale_reviews: r.dismiss_stale_reviews,
                    require_code_owner_reviews: r.require_code_owner_reviews,
                    required_approving_review_count: r.required_approving_review_count,
                    dismissal_restrictions: r.dismissal_restrictions.map(Into::into),
                    bypass_pull_request_allowances: r
                        .bypass_pull_request_allowances
                        .map(Into::into),
                }
            }),
            restrictions: raw.restrictions.map(Into::into),
            allow_force_pushes: enabled(raw.allow_force_pushes),
            allow_deletions: enabled(raw.allow_deletions),
            required_linear_history: enabled(raw.required_linear_history),
            required_signatures: enabled(raw.required_signatures),
        }
    }
}

/// Who a restriction in a protection request lets through. `None` leaves a list out; for
/// GitHub an empty object means "no restriction" and empty lists mean "nobody".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RestrictionsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<String>>,
}

/// Review requirements to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RequiredReviewsRequest {
    #[serde(default)]
    pub dismissal_restrictions: RestrictionsRequest,
    #[serde(default)]
    pub dismiss_stale_reviews: bool,
    #[serde(default)]
    pub require_code_owner_reviews: bool,
    #[serde(default)]
    pub required_approving_review_count: u32,
    #[serde(default)]
    pub bypass_pull_request_allowances: RestrictionsRequest,
}

/// The whole protection to put on a branch (`PUT .../branches/{b}/protection` replaces
/// it). GitHub requires the four optional keys to be present, so `None` is sent as `null`
/// (meaning "off").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BranchProtectionRequest {
    pub required_status_checks: Option<RequiredStatusChecks>,
    pub enforce_admins: Option<bool>,
    pub required_pull_request_reviews: Option<RequiredReviewsRequest>,
    pub restrictions: Option<RestrictionsRequest>,
    #[serde(default)]
    pub required_linear_history: bool,
    #[serde(default)]
    pub allow_force_pushes: bool,
    #[serde(default)]
    pub allow_deletions: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_protection_request_sends_the_four_required_keys_as_null() {
        let body = serde_json::to_value(BranchProtectionRequest::default()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "required_status_checks": null,
                "enforce_admins": null,
                "required_pull_request_reviews": null,
                "restrictions": null,
                "required_linear_history": false,
                "allow_force_pushes": false,
                "allow_deletions": false
            })
        );
    }
}
