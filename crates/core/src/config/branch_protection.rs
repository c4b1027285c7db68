//! `branch-protection:` in config.yaml, as Prow's branchprotector reads it: one policy at the
//! top, per org, per repo and per branch, each level applied over its parent (a set scalar
//! replaces the parent's, lists are unioned), and the required contexts Prow adds from the
//! presubmits that must pass on a branch.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::jobs::Presubmit;

/// The protection settings a level of `branch-protection:` may set (Prow's `Policy`). `None`
/// means "inherit from the parent level".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Leave the protection of these branches alone, whatever else is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<bool>,
    /// Protect (true) or unprotect (false) matching branches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_status_checks: Option<ContextPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_admins: Option<bool>,
    /// Who may push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Restrictions>,
    /// Also require the contexts of presubmits that only run when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_manually_triggered_jobs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_pull_request_reviews: Option<ReviewPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_linear_history: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_force_pushes: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_deletions: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_signed_commits: Option<bool>,
    /// Regexes (joined with `|`, unanchored) of branch names to leave alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Regexes of the only branch names to manage; branches named in `branches:` always are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

/// `required_status_checks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContextPolicy {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<String>,
    /// Require the branch to be up to date with its base before merging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `required_pull_request_reviews`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReviewPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissal_restrictions: Option<UsersAndTeams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismiss_stale_reviews: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_code_owner_reviews: Option<bool>,
    /// Without a count Prow leaves reviews unrequired (and warns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_approving_review_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_pull_request_allowances: Option<UsersAndTeams>,
}

/// Users and team slugs (review dismissal, review bypass).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsersAndTeams {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

/// `restrictions`: who may push to the branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Restrictions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

/// The whole `branch-protection:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BranchProtection {
    #[serde(flatten)]
    pub policy: Policy,
    /// Also protect every repo that has presubmits, configured under `orgs` or not.
    #[serde(
        rename = "protect-tested-repos",
        alias = "protect_tested_repos",
        skip_serializing_if = "Option::is_none"
    )]
    pub protect_tested_repos: Option<bool>,
    pub orgs: BTreeMap<String, OrgPolicy>,
    /// Allow `protect: false` next to other settings (they are then ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_disabled_policies: Option<bool>,
    /// Allow `protect: false` on branches that have required presubmits (left unmanaged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_disabled_job_policies: Option<bool>,
    /// Protect branches whose presubmits are all optional or conditional too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect_repos_with_optional_jobs: Option<bool>,
}

/// One org under `orgs:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgPolicy {
    #[serde(flatten)]
    pub policy: Policy,
    pub repos: BTreeMap<String, RepoPolicy>,
}

/// One repo under `repos:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoPolicy {
    #[serde(flatten)]
    pub policy: Policy,
    pub branches: BTreeMap<String, Policy>,
}

/// Why no policy could be computed for a branch (Prow's wording where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("defined branch policies must set protect or unmanaged=true")]
    BranchWithoutProtect,
    #[error("required prow jobs require branch protection")]
    RequiredJobsNeedProtection,
    #[error("{org}/{repo}={branch} defines a policy, which requires protect: true")]
    DisabledPolicyDefined {
        org: String,
        repo: String,
        branch: String,
    },
}

fn select<T: Clone>(parent: &Option<T>, child: &Option<T>) -> Option<T> {
    child.clone().or_else(|| parent.clone())
}

/// Prow unions lists level over level (sorted, without duplicates); an empty list on either
/// side takes the other unchanged.
fn union(parent: &[String], child: &[String]) -> Vec<String> {
    if child.is_empty() {
        return parent.to_vec();
    }
    if parent.is_empty() {
        return child.to_vec();
    }
    parent
        .iter()
        .chain(child)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A child block replaces nothing on its own: absent takes the parent's, present is merged.
fn merge_with<T: Clone>(
    parent: &Option<T>,
    child: &Option<T>,
    merge: impl FnOnce(&T, &T) -> T,
) -> Option<T> {
    match (parent, child) {
        (Some(p), Some(c)) => Some(merge(p, c)),
        (None, c) => c.clone(),
        (p, None) => p.clone(),
    }
}

fn merge_users_and_teams(p: &UsersAndTeams, c: &UsersAndTeams) -> UsersAndTeams {
    UsersAndTeams {
        users: union(&p.users, &c.users),
        teams: union(&p.teams, &c.teams),
    }
}

impl Policy {
    /// `child` applied over `self`, as Prow's `Policy.Apply`.
    pub fn apply(&self, child: &Policy) -> Policy {
        Policy {
            unmanaged: select(&self.unmanaged, &child.unmanaged),
            protect: select(&self.protect, &child.protect),
            required_status_checks: merge_with(
                &self.required_status_checks,
                &child.required_status_checks,
                |p, c| ContextPolicy {
                    contexts: union(&p.contexts, &c.contexts),
                    strict: select(&p.strict, &c.strict),
                },
            ),
            enforce_admins: select(&self.enforce_admins, &child.enforce_admins),
            restrictions: merge_with(&self.restrictions, &child.restrictions, |p, c| {
                Restrictions {
                    apps: union(&p.apps, &c.apps),
                    users: union(&p.users, &c.users),
                    teams: union(&p.teams, &c.teams),
                }
            }),
            require_manually_triggered_jobs: select(
                &self.require_manually_triggered_jobs,
                &child.require_manually_triggered_jobs,
            ),
            required_pull_request_reviews: merge_with(
                &self.required_pull_request_reviews,
                &child.required_pull_request_reviews,
                |p, c| ReviewPolicy {
                    dismissal_restrictions: merge_with(
                        &p.dismissal_restrictions,
                        &c.dismissal_restrictions,
                        merge_users_and_teams,
                    ),
                    dismiss_stale_reviews: select(
                        &p.dismiss_stale_reviews,
                        &c.dismiss_stale_reviews,
                    ),
                    require_code_owner_reviews: select(
                        &p.require_code_owner_reviews,
                        &c.require_code_owner_reviews,
                    ),
                    required_approving_review_count: select(
                        &p.required_approving_review_count,
                        &c.required_approving_review_count,
                    ),
                    bypass_pull_request_allowances: merge_with(
                        &p.bypass_pull_request_allowances,
                        &c.bypass_pull_request_allowances,
                        merge_users_and_teams,
                    ),
                },
            ),
            required_linear_history: select(
                &self.required_linear_history,
                &child.required_linear_history,
            ),
            allow_force_pushes: select(&self.allow_force_pushes, &child.allow_force_pushes),
            allow_deletions: select(&self.allow_deletions, &child.allow_deletions),
            require_signed_commits: select(
                &self.require_signed_commits,
                &child.require_signed_commits,
            ),
            exclude: union(&self.exclude, &child.exclude),
            include: union(&self.include, &child.include),
        }
    }

    /// `unmanaged: false` said explicitly: this level is managed even under an unmanaged parent.
    pub fn managed(&self) -> bool {
        self.unmanaged == Some(false)
    }

    pub fn is_unmanaged(&self) -> bool {
        self.unmanaged == Some(true)
    }

    /// Whether any protection setting is given (Prow's `defined`: not unmanaged, include or
    /// exclude).
    pub fn defined(&self) -> bool {
        self.protect.is_some()
            || self.required_status_checks.is_some()
            || self.enforce_admins.is_some()
            || self.restrictions.is_some()
            || self.require_manually_triggered_jobs.is_some()
            || self.required_pull_request_reviews.is_some()
            || self.required_linear_history.is_some()
            || self.allow_force_pushes.is_some()
            || self.allow_deletions.is_some()
            || self.require_signed_commits.is_some()
    }
}

impl BranchProtection {
    /// The org's settings with its policy applied over the top level (the top level alone for
    /// an org not listed, as Prow's `GetOrg`).
    pub fn org(&self, name: &str) -> OrgPolicy {
        match self.orgs.get(name) {
            Some(org) => OrgPolicy {
                policy: self.policy.apply(&org.policy),
                repos: org.repos.clone(),
            },
            None => OrgPolicy {
                policy: self.policy.clone(),
                repos: BTreeMap::new(),
            },
        }
    }

    pub fn has_managed_orgs(&self) -> bool {
        self.orgs.values().any(|o| o.policy.managed())
    }

    pub fn has_managed_repos(&self) -> bool {
        self.orgs.values().any(OrgPolicy::has_managed_repos)
    }

    pub fn has_managed_branches(&self) -> bool {
        self.orgs.values().any(OrgPolicy::has_managed_branches)
    }

    /// The final policy of a branch, Prow's `GetPolicy`: `branch` (already merged down from
    /// the top) plus the contexts of the presubmits that must pass on it. `None`: nothing to
    /// manage. `protected_on_github` only changes what is logged.
    pub fn policy_for(
        &self,
        (org, repo, branch_name): (&str, &str, &str),
        branch: &Policy,
        presubmits: &[Presubmit],
    ) -> Result<Option<Policy>, PolicyError> {
        let mut policy = branch.clone();
        let requirements = BranchRequirements::of(
            branch_name,
            presubmits,
            policy.require_manually_triggered_jobs == Some(true),
        );
        if self.should_manage_required_checks(&requirements) {
            if policy.protect == Some(false) {
                if self.allow_disabled_job_policies == Some(true) {
                    return Ok(None);
                }
                return Err(PolicyError::RequiredJobsNeedProtection);
            }
            let derived = Policy {
                required_status_checks: Some(ContextPolicy {
                    contexts: requirements.required,
                    strict: None,
                }),
                protect: (self.protect_tested_repos == Some(true)).then_some(true),
                ..Policy::default()
            };
            policy = policy.apply(&derived);
        }
        if policy.protect == Some(false) {
            let rest = Policy {
                protect: None,
                ..policy.clone()
            };
            if rest.defined() && self.allow_disabled_policies != Some(true) {
                return Err(PolicyError::DisabledPolicyDefined {
                    org: org.to_owned(),
                    repo: repo.to_owned(),
                    branch: branch_name.to_owned(),
                });
            }
        }
        Ok(policy.defined().then_some(policy))
    }

    fn should_manage_required_checks(&self, requirements: &BranchRequirements) -> bool {
        if !requirements.required.is_empty() {
            return true;
        }
        self.protect_repos_with_optional_jobs == Some(true)
            && !(requirements.required_if_present.is_empty() && requirements.optional.is_empty())
    }
}

impl OrgPolicy {
    /// The repo's settings with its policy applied over the org's (Prow's `GetRepo`).
    pub fn repo(&self, name: &str) -> RepoPolicy {
        match self.repos.get(name) {
            Some(repo) => RepoPolicy {
                policy: self.policy.apply(&repo.policy),
                branches: repo.branches.clone(),
            },
            None => RepoPolicy {
                policy: self.policy.clone(),
                branches: BTreeMap::new(),
            },
        }
    }

    pub fn has_managed_repos(&self) -> bool {
        self.repos.values().any(|r| r.policy.managed())
    }

    pub fn has_managed_branches(&self) -> bool {
        self.repos.values().any(RepoPolicy::has_managed_branches)
    }
}

impl RepoPolicy {
    /// The branch's policy applied over the repo's (Prow's `GetBranch`). A branch listed
    /// under `branches:` must say `protect` or `unmanaged: true`.
    pub fn branch(&self, name: &str) -> Result<Policy, PolicyError> {
        match self.branches.get(name) {
            Some(branch) => {
                let policy = self.policy.apply(branch);
                if policy.protect.is_none() && !policy.is_unmanaged() {
                    return Err(PolicyError::BranchWithoutProtect);
                }
                Ok(policy)
            }
            None => Ok(self.policy.clone()),
        }
    }

    pub fn has_managed_branches(&self) -> bool {
        self.branches.values().any(Policy::managed)
    }
}

/// The status contexts of the presubmits that could run on a branch, split as Prow's
/// `BranchRequirements` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchRequirements {
    /// Reported, non-optional jobs that run on every PR (`always_run`), plus manual ones when
    /// `require_manually_triggered_jobs` is set: these become required contexts.
    pub required: Vec<String>,
    /// Reported, non-optional jobs that run only when files match or when asked for.
    pub required_if_present: Vec<String>,
    /// Optional or unreported jobs.
    pub optional: Vec<String>,
}

impl BranchRequirements {
    pub fn of(branch: &str, presubmits: &[Presubmit], require_manual: bool) -> Self {
        let mut out = BranchRequirements::default();
        for job in presubmits.iter().filter(|j| j.brancher.should_run(branch)) {
            let context = job.context.clone();
            if !job.is_required() {
                out.optional.push(context);
            } else if require_manual && job.is_manual() {
                out.required.push(context);
            } else if job.is_manual() || job.changes.could_run() {
                out.required_if_present.push(context);
            } else {
                out.required.push(context);
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Brancher, ChangeMatcher};

    fn parse(yaml: &str) -> BranchProtection {
        serde_norway::from_str(yaml).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn presubmit(context: &str, always_run: bool, run_if_changed: &str) -> Presubmit {
        let mut job = Presubmit {
            context: context.to_owned(),
            always_run,
            changes: ChangeMatcher::new(run_if_changed.to_owned(), String::new()),
            ..Presubmit::default()
        };
        job.base.name = context.to_owned();
        job
    }

    const CONFIG: &str = r#"
protect: false
required_status_checks:
  contexts: [cla]
enforce_admins: true
allow_disabled_policies: true
orgs:
  acme:
    protect: true
    required_status_checks:
      contexts: [lint]
      strict: true
    restrictions:
      teams: [admins]
    exclude: ["^dependabot/"]
    repos:
      foo:
        enforce_admins: false
        required_pull_request_reviews:
          required_approving_review_count: 1
          dismissal_restrictions:
            users: [alice]
        restrictions:
          users: [bot]
          teams: [admins, release]
        exclude: ["^tmp-"]
        branches:
          release-1.0:
            required_status_checks:
              contexts: [lint, e2e]
              strict: false
            required_pull_request_reviews:
              required_approving_review_count: 2
              dismissal_restrictions:
                teams: [leads]
          scratch:
            unmanaged: true
          bare:
            enforce_admins: true
"#;

    #[test]
    fn each_level_overrides_scalars_and_unions_lists_as_prow() {
        let bp = parse(CONFIG);
        let org = bp.org("acme");
        assert_eq!(org.policy.protect, Some(true));
        assert_eq!(org.policy.enforce_admins, Some(true));
        let repo = org.repo("foo");
        let cases: &[(&str, Policy)] = &[
            (
                "main",
                Policy {
                    protect: Some(true),
                    required_status_checks: Some(ContextPolicy {
                        contexts: strings(&["cla", "lint"]),
                        strict: Some(true),
                    }),
                    enforce_admins: Some(false),
                    restrictions: Some(Restrictions {
                        teams: strings(&["admins", "release"]),
                        users: strings(&["bot"]),
                        ..Restrictions::default()
                    }),
                    required_pull_request_reviews: Some(ReviewPolicy {
                        required_approving_review_count: Some(1),
                        dismissal_restrictions: Some(UsersAndTeams {
                            users: strings(&["alice"]),
                            ..UsersAndTeams::default()
                        }),
                        ..ReviewPolicy::default()
                    }),
                    exclude: strings(&["^dependabot/", "^tmp-"]),
                    ..Policy::default()
                },
            ),
            (
                "release-1.0",
                Policy {
                    protect: Some(true),
                    required_status_checks: Some(ContextPolicy {
                        contexts: strings(&["cla", "e2e", "lint"]),
                        strict: Some(false),
                    }),
                    enforce_admins: Some(false),
                    restrictions: Some(Restrictions {
                        teams: strings(&["admins", "release"]),
                        users: strings(&["bot"]),
                        ..Restrictions::default()
                    }),
                    required_pull_request_reviews: Some(ReviewPolicy {
                        required_approving_review_count: Some(2),
                        dismissal_restrictions: Some(UsersAndTeams {
                            users: strings(&["alice"]),
                            teams: strings(&["leads"]),
                        }),
                        ..ReviewPolicy::default()
                    }),
                    exclude: strings(&["^dependabot/", "^tmp-"]),
                    ..Policy::default()
                },
            ),
        ];
        for (branch, want) in cases {
            assert_eq!(&repo.branch(branch).unwrap(), want, "{branch}");
        }
        assert!(repo.branch("scratch").unwrap().is_unmanaged());
        // `protect` comes from the org here, so a branch entry without it is still valid.
        assert_eq!(repo.branch("bare").unwrap().enforce_admins, Some(true));
        // An org that is not listed gets the top-level policy alone.
        assert_eq!(bp.org("other").repo("x").policy.protect, Some(false));
    }

    #[test]
    fn a_branch_entry_must_resolve_to_protect_or_unmanaged() {
        let bp = parse(
            "orgs:\n  acme:\n    repos:\n      foo:\n        branches:\n          main:\n            enforce_admins: true\n",
        );
        assert_eq!(
            bp.org("acme").repo("foo").branch("main"),
            Err(PolicyError::BranchWithoutProtect)
        );
    }

    #[test]
    fn requirements_split_presubmits_as_prow() {
        let mut optional = presubmit("optional", true, "");
        optional.optional = true;
        let mut unreported = presubmit("unreported", true, "");
        unreported.skip_report = true;
        let mut other_branch = presubmit("release-only", true, "");
        other_branch.brancher = Brancher::new(strings(&["^release-"]), Vec::new());
        let jobs = vec![
            presubmit("unit", true, ""),
            presubmit("docs", false, "^docs/"),
            presubmit("manual", false, ""),
            optional,
            unreported,
            other_branch,
        ];
        let cases = [
            (
                false,
                BranchRequirements {
                    required: strings(&["unit"]),
                    required_if_present: strings(&["docs", "manual"]),
                    optional: strings(&["optional", "unreported"]),
                },
            ),
            (
                true,
                BranchRequirements {
                    required: strings(&["unit", "manual"]),
                    required_if_present: strings(&["docs"]),
                    optional: strings(&["optional", "unreported"]),
                },
            ),
        ];
        for (require_manual, want) in cases {
            assert_eq!(
                BranchRequirements::of("main", &jobs, require_manual),
                want,
                "{require_manual}"
            );
        }
    }

    #[test]
    fn policy_adds_required_presubmit_contexts_and_checks_disabled_policies() {
        let jobs = vec![presubmit("unit", true, ""), presubmit("docs", false, "x")];
        let key = ("acme", "foo", "main");
        let bp = parse("protect-tested-repos: true\norgs:\n  acme: {}\n");
        let want = Policy {
            protect: Some(true),
            required_status_checks: Some(ContextPolicy {
                contexts: strings(&["unit"]),
                strict: None,
            }),
            ..Policy::default()
        };
        assert_eq!(
            bp.policy_for(key, &Policy::default(), &jobs).unwrap(),
            Some(want)
        );
        // Without jobs or settings there is nothing to manage.
        assert_eq!(bp.policy_for(key, &Policy::default(), &[]).unwrap(), None);
        // Conditional jobs count only with protect_repos_with_optional_jobs.
        let conditional = [presubmit("docs", false, "x")];
        assert_eq!(
            bp.policy_for(key, &Policy::default(), &conditional)
                .unwrap(),
            None
        );
        let optional_too = BranchProtection {
            protect_repos_with_optional_jobs: Some(true),
            ..bp.clone()
        };
        let policy = optional_too
            .policy_for(key, &Policy::default(), &conditional)
            .unwrap()
            .unwrap();
        assert_eq!(policy.protect, Some(true));
        assert_eq!(
            policy.required_status_checks.unwrap().contexts,
            Vec::<String>::new()
        );

        let off = Policy {
            protect: Some(false),
            ..Policy::default()
        };
        assert_eq!(
            bp.policy_for(key, &off, &jobs),
            Err(PolicyError::RequiredJobsNeedProtection)
        );
        let allowed = BranchProtection {
            allow_disabled_job_policies: Some(true),
            ..bp.clone()
        };
        assert_eq!(allowed.policy_for(key, &off, &jobs), Ok(None));
        let off_with_settings = Policy {
            enforce_admins: Some(true),
            ..off.clone()
        };
        assert_eq!(
            bp.policy_for(key, &off_with_settings, &[]),
            Err(PolicyError::DisabledPolicyDefined {
                org: "acme".into(),
                repo: "foo".into(),
                branch: "main".into()
            })
        );
        assert_eq!(bp.policy_for(key, &off, &[]), Ok(Some(off.clone())));
    }

    #[test]
    fn managed_levels_under_an_unmanaged_top_are_found() {
        let bp = parse(
            "unmanaged: true\norgs:\n  acme:\n    repos:\n      foo:\n        branches:\n          main:\n            unmanaged: false\n            protect: true\n",
        );
        assert!(bp.policy.is_unmanaged());
        assert!(!bp.has_managed_orgs());
        assert!(!bp.has_managed_repos());
        assert!(bp.has_managed_branches());
    }
}
