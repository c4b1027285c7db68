//! branchprotector's decisions, free of I/O: which repos and branches to look at, what
//! protection a branch should have, and whether GitHub's current protection must be replaced
//! or removed (with a readable diff of what changes).

use std::collections::{BTreeMap, BTreeSet};

use prow_core::config::Presubmit;
use prow_core::config::branch_protection::{
    BranchProtection as Config, Policy, PolicyError, RepoPolicy, UsersAndTeams,
};
use prow_github::{
    BranchProtection, BranchProtectionRequest, OrgRepo, RequiredReviewsRequest,
    RequiredStatusChecks, Restrictions, RestrictionsRequest,
};
use regex::Regex;

/// Why a branch (or repo) could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0} regex: {1}")]
    Regex(&'static str, String),
    #[error(
        "'enable-apps-restrictions' is not set, but apps restrictions are configured for {org}/{repo}={branch}"
    )]
    AppsRestrictionsDisabled {
        org: String,
        repo: String,
        branch: String,
    },
}

/// Prow skips private repositories GitHub made for security advisories.
fn is_security_fork(name: &str) -> bool {
    let (head, tail) = match name.split_once("-ghsa-") {
        Some(parts) => parts,
        None => return false,
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    word(head) && word(tail)
}

/// Whether branchprotector leaves this repository alone (archived, or a security fork).
pub fn skip_repo(repo: &OrgRepo) -> bool {
    repo.archived || (repo.private && is_security_fork(&repo.name))
}

fn join(kind: &'static str, patterns: &[String]) -> Result<Option<Regex>, DecideError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    Regex::new(&patterns.join("|"))
        .map(Some)
        .map_err(|err| DecideError::Regex(kind, err.to_string()))
}

/// The branches of a repo to manage, as Prow: a branch named under `branches:` always; else,
/// with `include`, only matching ones; else all but those matching `exclude`.
pub fn select_branches<'a>(
    repo: &RepoPolicy,
    branches: &'a [prow_github::Branch],
) -> Result<Vec<&'a prow_github::Branch>, DecideError> {
    let include = join("include", &repo.policy.include)?;
    let exclude = join("exclude", &repo.policy.exclude)?;
    Ok(branches
        .iter()
        .filter(|b| {
            if repo.branches.contains_key(&b.name) {
                return true;
            }
            if let Some(include) = &include {
                return include.is_match(&b.name);
            }
            !exclude.as_ref().is_some_and(|re| re.is_match(&b.name))
        })
        .collect())
}

/// What a branch's protection should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Desired {
    /// Leave the branch alone, and why.
    Skip(&'static str),
    Protect {
        request: Box<BranchProtectionRequest>,
        /// `require_signed_commits`: GitHub sets it apart from the protection `PUT` (Prow's
        /// separate request); `None` leaves it as it is.
        signed_commits: Option<bool>,
    },
    Unprotect,
}

/// Everything about one branch that decides its protection.
#[derive(Debug, Clone, Copy)]
pub struct BranchInput<'a> {
    pub org: &'a str,
    pub repo: &'a str,
    pub branch: &'a str,
    /// Whether GitHub lists the branch as protected.
    pub protected: bool,
    pub presubmits: &'a [Presubmit],
    /// Prow's `--enable-apps-restrictions`.
    pub enable_apps_restrictions: bool,
}

/// Prow's `UpdateBranch` up to reading the current protection.
pub fn desired(
    config: &Config,
    repo: &RepoPolicy,
    input: BranchInput<'_>,
) -> Result<Desired, DecideError> {
    let branch = repo.branch(input.branch)?;
    if branch.is_unmanaged() {
        return Ok(Desired::Skip("unmanaged"));
    }
    let Some(policy) = config.policy_for(
        (input.org, input.repo, input.branch),
        &branch,
        input.presubmits,
    )?
    else {
        return Ok(Desired::Skip("no policy"));
    };
    let Some(protect) = policy.protect else {
        return Ok(Desired::Skip("protect not set"));
    };
    if !protect && !input.protected {
        return Ok(Desired::Skip("already unprotected"));
    }
    let has_apps = policy
        .restrictions
        .as_ref()
        .is_some_and(|r| !r.apps.is_empty());
    if !input.enable_apps_restrictions && has_apps {
        return Err(DecideError::AppsRestrictionsDisabled {
            org: input.org.to_owned(),
            repo: input.repo.to_owned(),
            branch: input.branch.to_owned(),
        });
    }
    if !protect {
        return Ok(Desired::Unprotect);
    }
    Ok(Desired::Protect {
        request: Box::new(make_request(&policy, input.enable_apps_restrictions)),
        signed_commits: policy.require_signed_commits,
    })
}

fn sorted(items: &[String]) -> Vec<String> {
    items
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn users_and_teams(list: Option<&UsersAndTeams>) -> RestrictionsRequest {
    list.map(|l| RestrictionsRequest {
        users: Some(sorted(&l.users)),
        teams: Some(sorted(&l.teams)),
        apps: None,
    })
    .unwrap_or_default()
}

/// The PUT body for a policy, as Prow's `makeRequest`: unset booleans are false, lists sorted
/// without duplicates, reviews only with an approval count, apps only when enabled.
pub fn make_request(policy: &Policy, enable_apps_restrictions: bool) -> BranchProtectionRequest {
    BranchProtectionRequest {
        required_status_checks: policy.required_status_checks.as_ref().map(|c| {
            RequiredStatusChecks {
                strict: c.strict == Some(true),
                contexts: sorted(&c.contexts),
            }
        }),
        enforce_admins: Some(policy.enforce_admins == Some(true)),
        required_pull_request_reviews: policy.required_pull_request_reviews.as_ref().and_then(
            |r| {
                Some(RequiredReviewsRequest {
                    required_approving_review_count: r.required_approving_review_count?,
                    dismiss_stale_reviews: r.dismiss_stale_reviews == Some(true),
                    require_code_owner_reviews: r.require_code_owner_reviews == Some(true),
                    dismissal_restrictions: users_and_teams(r.dismissal_restrictions.as_ref()),
                    bypass_pull_request_allowances: users_and_teams(
                        r.bypass_pull_request_allowances.as_ref(),
                    ),
                })
            },
        ),
        restrictions: policy.restrictions.as_ref().map(|r| RestrictionsRequest {
            users: Some(sorted(&r.users)),
            teams: Some(sorted(&r.teams)),
            apps: enable_apps_restrictions.then(|| sorted(&r.apps)),
        }),
        required_linear_history: policy.required_linear_history == Some(true),
        allow_force_pushes: policy.allow_force_pushes == Some(true),
        allow_deletions: policy.allow_deletions == Some(true),
    }
}

fn same_set(current: &[String], wanted: &[String], fold: bool) -> bool {
    let norm = |items: &[String]| -> BTreeSet<String> {
        items
            .iter()
            .map(|s| if fold { s.to_lowercase() } else { s.clone() })
            .collect()
    };
    current.len() == wanted.len() && norm(current) == norm(wanted)
}

fn same_restrictions(current: Option<&Restrictions>, wanted: &RestrictionsRequest) -> bool {
    let unset = wanted.users.is_none() && wanted.teams.is_none() && wanted.apps.is_none();
    let Some(current) = current else {
        return unset;
    };
    let empty = Vec::new();
    wanted
        .apps
        .as_ref()
        .is_none_or(|apps| same_set(&current.apps, apps, false))
        && same_set(
            &current.teams,
            wanted.teams.as_ref().unwrap_or(&empty),
            false,
        )
        && same_set(
            &current.users,
            wanted.users.as_ref().unwrap_or(&empty),
            true,
        )
}

/// Whether GitHub's protection already is what `wanted` asks for (Prow's
/// `equalBranchProtections`; `None` = unprotected).
pub fn matches(
    current: Option<&BranchProtection>,
    wanted: Option<&BranchProtectionRequest>,
) -> bool {
    let (current, wanted) = match (current, wanted) {
        (None, None) => return true,
        (Some(c), Some(w)) => (c, w),
        _ => return false,
    };
    let checks = match (
        &current.required_status_checks,
        &wanted.required_status_checks,
    ) {
        (None, None) => true,
        (Some(c), Some(w)) => c.strict == w.strict && same_set(&c.contexts, &w.contexts, false),
        _ => false,
    };
    let reviews = match (
        &current.required_pull_request_reviews,
        &wanted.required_pull_request_reviews,
    ) {
        (None, None) => true,
        (Some(c), Some(w)) => {
            c.dismiss_stale_reviews == w.dismiss_stale_reviews
                && c.require_code_owner_reviews == w.require_code_owner_reviews
                && c.required_approving_review_count == w.required_approving_review_count
                && same_restrictions(c.dismissal_restrictions.as_ref(), &w.dismissal_restrictions)
                && same_restrictions(
                    c.bypass_pull_request_allowances.as_ref(),
                    &w.bypass_pull_request_allowances,
                )
        }
        _ => false,
    };
    let restrictions = match (&current.restrictions, &wanted.restrictions) {
        (None, None) => true,
        (c, Some(w)) => same_restrictions(c.as_ref(), w),
        (Some(_), None) => false,
    };
    checks
        && reviews
        && restrictions
        && current.enforce_admins == wanted.enforce_admins.unwrap_or(false)
        && current.allow_force_pushes == wanted.allow_force_pushes
        && current.required_linear_history == wanted.required_linear_history
        && current.allow_deletions == wanted.allow_deletions
}

/// A change to make on GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Update(Box<BranchProtectionRequest>),
    Remove,
    /// The protection is as it should be; only `signed_commits` changes.
    Keep,
}

/// What to do about one branch, with the diff shown on `--dry-run` and in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPlan {
    pub org: String,
    pub repo: String,
    pub branch: String,
    pub action: Action,
    /// Require (or stop requiring) signed commits after the action, when that differs from
    /// GitHub's.
    pub signed_commits: Option<bool>,
    /// `- key: old` / `+ key: new` lines, sorted by key.
    pub diff: Vec<String>,
}

impl BranchPlan {
    /// The plan as text: a header naming the branch and the action, then the diff.
    pub fn render(&self) -> String {
        let verb = match self.action {
            Action::Update(_) | Action::Keep => "update",
            Action::Remove => "remove protection",
        };
        let mut out = format!("{}/{}={}: {verb}\n", self.org, self.repo, self.branch);
        for line in &self.diff {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Compares the desired protection with GitHub's; `None` when nothing has to change.
pub fn plan_branch(
    (org, repo, branch): (&str, &str, &str),
    desired: &Desired,
    current: Option<&BranchProtection>,
) -> Option<BranchPlan> {
    let (action, wanted, signed) = match desired {
        Desired::Skip(_) => return None,
        Desired::Protect {
            request,
            signed_commits,
        } => (
            Action::Update(request.clone()),
            Some(request.as_ref()),
            *signed_commits,
        ),
        Desired::Unprotect => (Action::Remove, None, None),
    };
    // As Prow's equalSeparateRequests: an unprotected branch does not require signatures.
    let signed_now = current.is_some_and(|c| c.required_signatures);
    let signed_commits = signed.filter(|want| *want != signed_now);
    let action = match (matches(current, wanted), signed_commits) {
        (true, None) => return None,
        (true, Some(_)) => Action::Keep,
        (false, _) => action,
    };
    let mut before = current.map(describe_current).unwrap_or_default();
    let mut after = wanted.map(describe_request).unwrap_or_default();
    if let Some(want) = signed_commits {
        if current.is_some() {
            before.insert("required_signatures", signed_now.to_string());
        }
        after.insert("required_signatures", want.to_string());
    }
    if wanted.is_some() {
        // Apps a request does not name are left as they are (Prow sends none without
        // --enable-apps-restrictions), so they are no difference either.
        before.retain(|key, _| !key.ends_with(".apps") || after.contains_key(key));
    }
    Some(BranchPlan {
        org: org.to_owned(),
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        action,
        signed_commits,
        diff: diff(&before, &after),
    })
}

type Described = BTreeMap<&'static str, String>;

fn list(items: &[String]) -> String {
    format!("[{}]", sorted(items).join(", "))
}

/// Logins are compared without case, as GitHub does.
fn users(items: &[String]) -> String {
    let lower: Vec<String> = items.iter().map(|u| u.to_lowercase()).collect();
    list(&lower)
}

fn describe_restrictions(out: &mut Described, keys: [&'static str; 3], r: &Restrictions) {
    out.insert(keys[0], users(&r.users));
    out.insert(keys[1], list(&r.teams));
    out.insert(keys[2], list(&r.apps));
}

fn describe_restrictions_request(
    out: &mut Described,
    keys: [&'static str; 3],
    r: &RestrictionsRequest,
) {
    if let Some(items) = &r.users {
        out.insert(keys[0], users(items));
    }
    for (key, items) in keys.into_iter().skip(1).zip([&r.teams, &r.apps]) {
        if let Some(items) = items {
            out.insert(key, list(items));
        }
    }
}

const RESTRICTIONS: [&str; 3] = [
    "restrictions.users",
    "restrictions.teams",
    "restrictions.apps",
];
const DISMISSAL: [&str; 3] = [
    "required_pull_request_reviews.dismissal_restrictions.users",
    "required_pull_request_reviews.dismissal_restrictions.teams",
    "required_pull_request_reviews.dismissal_restrictions.apps",
];
const BYPASS: [&str; 3] = [
    "required_pull_request_reviews.bypass_pull_request_allowances.users",
    "required_pull_request_reviews.bypass_pull_request_allowances.teams",
    "required_pull_request_reviews.bypass_pull_request_allowances.apps",
];

fn describe_current(p: &BranchProtection) -> Described {
    let mut out = Described::new();
    if let Some(c) = &p.required_status_checks {
        out.insert("required_status_checks.strict", c.strict.to_string());
        out.insert("required_status_checks.contexts", list(&c.contexts));
    }
    out.insert("enforce_admins", p.enforce_admins.to_string());
    if let Some(r) = &p.required_pull_request_reviews {
        out.insert(
            "required_pull_request_reviews.required_approving_review_count",
            r.required_approving_review_count.to_string(),
        );
        out.insert(
            "required_pull_request_reviews.dismiss_stale_reviews",
            r.dismiss_stale_reviews.to_string(),
        );
        out.insert(
            "required_pull_request_reviews.require_code_owner_reviews",
            r.require_code_owner_reviews.to_string(),
        );
        if let Some(d) = &r.dismissal_restrictions {
            describe_restrictions(&mut out, DISMISSAL, d);
        }
        if let Some(b) = &r.bypass_pull_request_allowances {
            describe_restrictions(&mut out, BYPASS, b);
        }
    }
    if let Some(r) = &p.restrictions {
        describe_restrictions(&mut out, RESTRICTIONS, r);
    }
    out.insert(
        "required_linear_history",
        p.required_linear_history.to_string(),
    );
    out.insert("allow_force_pushes", p.allow_force_pushes.to_string());
    out.insert("allow_deletions", p.allow_deletions.to_string());
    out
}

fn describe_request(p: &BranchProtectionRequest) -> Described {
    let mut out = Described::new();
    if let Some(c) = &p.required_status_checks {
        out.insert("required_status_checks.strict", c.strict.to_string());
        out.insert("required_status_checks.contexts", list(&c.contexts));
    }
    out.insert(
        "enforce_admins",
        p.enforce_admins.unwrap_or(false).to_string(),
    );
    if let Some(r) = &p.required_pull_request_reviews {
        out.insert(
            "required_pull_request_reviews.required_approving_review_count",
            r.required_approving_review_count.to_string(),
        );
        out.insert(
            "required_pull_request_reviews.dismiss_stale_reviews",
            r.dismiss_stale_reviews.to_string(),
        );
        out.insert(
            "required_pull_request_reviews.require_code_owner_reviews",
            r.require_code_owner_reviews.to_string(),
        );
        describe_restrictions_request(&mut out, DISMISSAL, &r.dismissal_restrictions);
        describe_restrictions_request(&mut out, BYPASS, &r.bypass_pull_request_allowances);
    }
    if let Some(r) = &p.restrictions {
        describe_restrictions_request(&mut out, RESTRICTIONS, r);
    }
    out.insert(
        "required_linear_history",
        p.required_linear_history.to_string(),
    );
    out.insert("allow_force_pushes", p.allow_force_pushes.to_string());
    out.insert("allow_deletions", p.allow_deletions.to_string());
    out
}

fn diff(before: &Described, after: &Described) -> Vec<String> {
    let keys: BTreeSet<&&str> = before.keys().chain(after.keys()).collect();
    let mut lines = Vec::new();
    for key in keys {
        let (old, new) = (before.get(*key), after.get(*key));
        if old == new {
            continue;
        }
        if let Some(old) = old {
            lines.push(format!("- {key}: {old}"));
        }
        if let Some(new) = new {
            lines.push(format!("+ {key}: {new}"));
        }
    }
    lines
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        serde_norway::from_str(yaml).unwrap()
    }

    fn presubmit(context: &str) -> Presubmit {
        let mut job = Presubmit::default();
        job.context = context.to_owned();
        job.always_run = true;
        job.base.name = context.to_owned();
        job
    }

    fn input<'a>(branch: &'a str, protected: bool, jobs: &'a [Presubmit]) -> BranchInput<'a> {
        BranchInput {
            org: "acme",
            repo: "foo",
            branch,
            protected,
            presubmits: jobs,
            enable_apps_restrictions: false,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    const CONFIG: &str = r#"
allow_disabled_policies: true
orgs:
  acme:
    protect: true
    enforce_admins: true
    exclude: ["^dependabot/"]
    repos:
      foo:
        required_pull_request_reviews:
          required_approving_review_count: 1
          dismissal_restrictions:
            users: [Alice]
        restrictions:
          teams: [release]
        branches:
          legacy:
            protect: false
          frozen:
            unmanaged: true
          apps:
            protect: true
            restrictions:
              apps: [renovate]
          signed:
            require_signed_commits: true
          unsigned:
            require_signed_commits: false
"#;

    fn protection(contexts: &[&str]) -> BranchProtection {
        BranchProtection {
            required_status_checks: Some(RequiredStatusChecks {
                strict: false,
                contexts: strings(contexts),
            }),
            enforce_admins: true,
            required_pull_request_reviews: Some(prow_github::RequiredReviews {
                required_approving_review_count: 1,
                dismissal_restrictions: Some(Restrictions {
                    users: strings(&["alice"]),
                    ..Restrictions::default()
                }),
                ..prow_github::RequiredReviews::default()
            }),
            restrictions: Some(Restrictions {
                teams: strings(&["release"]),
                ..Restrictions::default()
            }),
            ..BranchProtection::default()
        }
    }

    /// (branch, protected on GitHub, current protection, expected action and diff)
    type Case<'a> = (
        &'a str,
        bool,
        Option<&'a BranchProtection>,
        Option<(Action, Vec<&'a str>)>,
    );

    #[test]
    fn the_plan_updates_removes_or_leaves_each_branch() {
        let bp = config(CONFIG);
        let repo = bp.org("acme").repo("foo");
        let jobs = [presubmit("unit"), presubmit("lint")];
        let up_to_date = protection(&["lint", "unit"]);
        let missing_context = protection(&["unit"]);
        let cases: Vec<Case<'_>> = vec![
            ("main", true, Some(&up_to_date), None),
            (
                "main",
                true,
                Some(&missing_context),
                Some((
                    Action::Update(Box::default()),
                    vec![
                        "- required_status_checks.contexts: [unit]",
                        "+ required_status_checks.contexts: [lint, unit]",
                    ],
                )),
            ),
            (
                "main",
                false,
                None,
                Some((
                    Action::Update(Box::default()),
                    vec![
                        "+ allow_deletions: false",
                        "+ allow_force_pushes: false",
                        "+ enforce_admins: true",
                        "+ required_linear_history: false",
                        "+ required_pull_request_reviews.dismiss_stale_reviews: false",
                        "+ required_pull_request_reviews.dismissal_restrictions.teams: []",
                        "+ required_pull_request_reviews.dismissal_restrictions.users: [alice]",
                        "+ required_pull_request_reviews.require_code_owner_reviews: false",
                        "+ required_pull_request_reviews.required_approving_review_count: 1",
                        "+ required_status_checks.contexts: [lint, unit]",
                        "+ required_status_checks.strict: false",
                        "+ restrictions.teams: [release]",
                        "+ restrictions.users: []",
                    ],
                )),
            ),
            ("frozen", true, Some(&missing_context), None),
        ];
        for (branch, protected, current, want) in cases {
            let desired = desired(&bp, &repo, input(branch, protected, &jobs)).unwrap();
            let plan = plan_branch(("acme", "foo", branch), &desired, current);
            match (plan, want) {
                (None, None) => {}
                (Some(plan), Some((action, diff))) => {
                    assert_eq!(
                        std::mem::discriminant(&plan.action),
                        std::mem::discriminant(&action),
                        "{branch}"
                    );
                    assert_eq!(plan.diff, diff, "{branch}");
                }
                (plan, want) => panic!("{branch}: got {plan:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn signed_commits_change_apart_from_the_protection_and_only_when_github_differs() {
        let bp = config(CONFIG);
        let repo = bp.org("acme").repo("foo");
        let jobs = [presubmit("unit")];
        let unsigned = protection(&["unit"]);
        let signed = BranchProtection {
            required_signatures: true,
            ..protection(&["unit"])
        };
        let stale = protection(&[]);
        let flip = |from: bool, to: bool| {
            vec![
                format!("- required_signatures: {from}"),
                format!("+ required_signatures: {to}"),
            ]
        };
        // (branch, GitHub's protection, want (action, signed_commits, diff) or no plan)
        type SignedCase<'a> = (
            &'a str,
            Option<&'a BranchProtection>,
            Option<(Action, bool, Vec<String>)>,
        );
        let cases: Vec<SignedCase<'_>> = vec![
            (
                "signed",
                Some(&unsigned),
                Some((Action::Keep, true, flip(false, true))),
            ),
            ("signed", Some(&signed), None),
            (
                "unsigned",
                Some(&signed),
                Some((Action::Keep, false, flip(true, false))),
            ),
            ("unsigned", Some(&unsigned), None),
            // A branch whose policy says nothing keeps what GitHub has.
            ("main", Some(&signed), None),
            (
                "signed",
                Some(&stale),
                Some((
                    Action::Update(Box::default()),
                    true,
                    vec![
                        "- required_signatures: false".to_owned(),
                        "+ required_signatures: true".to_owned(),
                        "- required_status_checks.contexts: []".to_owned(),
                        "+ required_status_checks.contexts: [unit]".to_owned(),
                    ],
                )),
            ),
        ];
        for (branch, current, want) in cases {
            let desired = desired(&bp, &repo, input(branch, true, &jobs)).unwrap();
            let plan = plan_branch(("acme", "foo", branch), &desired, current);
            match (plan, want) {
                (None, None) => {}
                (Some(plan), Some((action, signed, diff))) => {
                    assert_eq!(
                        std::mem::discriminant(&plan.action),
                        std::mem::discriminant(&action),
                        "{branch}"
                    );
                    assert_eq!(plan.signed_commits, Some(signed), "{branch}");
                    assert_eq!(plan.diff, diff, "{branch}");
                }
                (plan, want) => panic!("{branch}: got {plan:?}, want {want:?}"),
            }
        }
        // An unprotected branch gets its protection and then the signatures.
        let desired = desired(&bp, &repo, input("signed", false, &jobs)).unwrap();
        let plan = plan_branch(("acme", "foo", "signed"), &desired, None).unwrap();
        assert!(matches!(plan.action, Action::Update(_)));
        assert_eq!(plan.signed_commits, Some(true));
        assert!(
            plan.diff
                .contains(&"+ required_signatures: true".to_owned())
        );
        assert!(!plan.diff.iter().any(|l| l.starts_with("- ")));
    }

    #[test]
    fn protect_false_removes_protection_only_where_there_is_some() {
        let bp = config(CONFIG);
        let repo = bp.org("acme").repo("foo");
        let current = protection(&[]);
        let desired_on = desired(&bp, &repo, input("legacy", true, &[])).unwrap();
        assert_eq!(desired_on, Desired::Unprotect);
        let plan = plan_branch(("acme", "foo", "legacy"), &desired_on, Some(&current)).unwrap();
        assert_eq!(plan.action, Action::Remove);
        assert!(
            plan.render()
                .starts_with("acme/foo=legacy: remove protection\n  - ")
        );
        assert_eq!(
            desired(&bp, &repo, input("legacy", false, &[])).unwrap(),
            Desired::Skip("already unprotected")
        );
        // A branch with required jobs may not be unprotected.
        assert_eq!(
            desired(&bp, &repo, input("legacy", true, &[presubmit("unit")])),
            Err(DecideError::Policy(PolicyError::RequiredJobsNeedProtection))
        );
    }

    #[test]
    fn apps_restrictions_need_the_flag() {
        let bp = config(CONFIG);
        let repo = bp.org("acme").repo("foo");
        assert!(matches!(
            desired(&bp, &repo, input("apps", true, &[])),
            Err(DecideError::AppsRestrictionsDisabled { .. })
        ));
        let mut enabled = input("apps", true, &[]);
        enabled.enable_apps_restrictions = true;
        let Desired::Protect { request, .. } = desired(&bp, &repo, enabled).unwrap() else {
            panic!("not protected")
        };
        let restrictions = request.restrictions.unwrap();
        assert_eq!(restrictions.apps, Some(strings(&["renovate"])));
        assert_eq!(restrictions.teams, Some(strings(&["release"])));
    }

    #[test]
    fn request_follows_prows_make_request() {
        let policy: Policy = serde_norway::from_str(
            "protect: true\nrequired_status_checks:\n  contexts: [b, a, b]\nrequired_pull_request_reviews:\n  dismiss_stale_reviews: true\nrequired_linear_history: true\n",
        )
        .unwrap();
        let request = make_request(&policy, false);
        assert_eq!(
            request.required_status_checks,
            Some(RequiredStatusChecks {
                strict: false,
                contexts: strings(&["a", "b"]),
            })
        );
        // No approval count: reviews are not required at all, as in Prow.
        assert_eq!(request.required_pull_request_reviews, None);
        assert_eq!(request.enforce_admins, Some(false));
        assert!(request.required_linear_history);
        assert_eq!(request.restrictions, None);
    }

    #[test]
    fn branches_are_selected_by_name_include_and_exclude() {
        let branch = |name: &str| prow_github::Branch {
            name: name.to_owned(),
            protected: false,
        };
        let all = [
            branch("main"),
            branch("dependabot/x"),
            branch("release-1"),
            branch("legacy"),
        ];
        let names = |repo: &RepoPolicy| -> Vec<String> {
            select_branches(repo, &all)
                .unwrap()
                .into_iter()
                .map(|b| b.name.clone())
                .collect()
        };
        let bp = config(CONFIG);
        assert_eq!(
            names(&bp.org("acme").repo("foo")),
            strings(&["main", "release-1", "legacy"])
        );
        let included = config(
            "orgs:\n  acme:\n    include: [\"^release-\"]\n    repos:\n      foo:\n        branches:\n          main:\n            protect: true\n",
        );
        assert_eq!(
            names(&included.org("acme").repo("foo")),
            strings(&["main", "release-1"])
        );
        let bad = config("orgs:\n  acme:\n    exclude: [\"(\"]\n");
        assert!(select_branches(&bad.org("acme").repo("foo"), &all).is_err());
    }

    #[test]
    fn archived_repos_and_private_security_forks_are_skipped() {
        let repo = |name: &str, archived, private| OrgRepo {
            name: name.to_owned(),
            archived,
            private,
        };
        assert!(skip_repo(&repo("old", true, false)));
        assert!(skip_repo(&repo("foo-ghsa-abcd-1234", false, true)));
        assert!(!skip_repo(&repo("foo-ghsa-abcd-1234", false, false)));
        assert!(!skip_repo(&repo("foo", false, true)));
    }
}
