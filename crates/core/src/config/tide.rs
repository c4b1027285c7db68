//! `tide:` in `config.yaml`, typed as Prow's `config.Tide` reads it, with Prow's per
//! org/repo/branch lookups (merge method, commit templates, batch size, context policy, URLs).

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_norway::Value;

/// Prow's `config.Tide` (GitHub part; `gerrit` is kept raw).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tide {
    /// How often Prow's loop re-reads GitHub (`1m` by default there). Not read: tide follows
    /// events, and its safety-net resync runs on the `tide-resync` PingSource's schedule.
    pub sync_period: Option<String>,
    pub status_update_period: Option<String>,
    /// Bound on repositories one tide instance syncs (and merges) at once, as Prow bounds its
    /// parallel pool syncs; 0 (unset) means Prow's 20.
    pub max_goroutines: i64,
    /// `*`, org or org/repo -> largest batch; 0 = unlimited, negative disables batches.
    pub batch_size_limit: BTreeMap<String, i64>,
    pub prioritize_existing_batches: BTreeMap<String, bool>,
    /// `*`, org or org/repo -> `ignore`, `permit` (Prow's default) or `block`.
    pub github_merge_blocks_policy: BTreeMap<String, String>,
    pub queries: Vec<TideQuery>,
    /// org, org/repo or org/repo@branch -> method, or nested maps down to branch regexes.
    pub merge_method: BTreeMap<String, OrgMergeMethod>,
    /// org or org/repo -> Go templates for the merge commit's title and body.
    pub merge_commit_template: BTreeMap<String, MergeCommitTemplate>,
    pub target_url: String,
    pub target_urls: BTreeMap<String, String>,
    pub pr_status_base_url: String,
    pub pr_status_base_urls: BTreeMap<String, String>,
    pub blocker_label: String,
    pub squash_label: String,
    pub rebase_label: String,
    pub merge_label: String,
    pub context_options: ContextPolicyOptions,
    pub priority: Vec<TidePriority>,
    pub display_all_tide_queries_in_status: bool,
    pub gerrit: Option<Value>,
}

/// One `tide.queries` entry: a PR is in the pool when some query matches it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TideQuery {
    pub orgs: Vec<String>,
    pub repos: Vec<String>,
    pub excluded_repos: Vec<String>,
    pub author: String,
    /// Each entry is required; `a,b` means either label.
    pub labels: Vec<String>,
    pub missing_labels: Vec<String>,
    pub excluded_branches: Vec<String>,
    pub included_branches: Vec<String>,
    pub milestone: String,
    pub review_approved_required: bool,
}

impl TideQuery {
    /// Prow's `ForRepo`: an org query covers the org's repos except its excluded ones.
    pub fn for_repo(&self, org: &str, repo: &str) -> bool {
        let full = format!("{org}/{repo}");
        if self.orgs.iter().any(|o| o == org) {
            return !self.excluded_repos.contains(&full);
        }
        self.repos.contains(&full)
    }

    /// The GitHub search string Prow's `Query()` builds for this query (what the resync
    /// tick searches for), org and repo terms sorted so the string is stable.
    pub fn search_query(&self) -> String {
        let mut terms = vec![
            "is:pr".to_owned(),
            "state:open".to_owned(),
            "archived:false".to_owned(),
        ];
        if !self.author.is_empty() {
            terms.push(format!("author:\"{}\"", self.author));
        }
        terms.extend(
            self.excluded_branches
                .iter()
                .map(|b| format!("-base:\"{b}\"")),
        );
        terms.extend(
            self.included_branches
                .iter()
                .map(|b| format!("base:\"{b}\"")),
        );
        for label in &self.labels {
            let alternatives: Vec<String> = label.split(',').map(|l| format!("\"{l}\"")).collect();
            terms.push(format!("label:{}", alternatives.join(",")));
        }
        terms.extend(
            self.missing_labels
                .iter()
                .map(|l| format!("-label:\"{l}\"")),
        );
        if !self.milestone.is_empty() {
            terms.push(format!("milestone:\"{}\"", self.milestone));
        }
        if self.review_approved_required {
            terms.push("review:approved".to_owned());
        }
        terms.extend(self.orgs.iter().map(|o| format!("org:\"{o}\"")));
        terms.extend(self.repos.iter().map(|r| format!("repo:\"{r}\"")));
        terms.extend(self.excluded_repos.iter().map(|r| format!("-repo:\"{r}\"")));
        terms.join(" ")
    }

    /// Prow's `TideQuery.Validate`, in its words.
    pub fn validate(&self) -> Result<(), String> {
        fn duplicates(field: &str, list: &[String]) -> Result<(), String> {
            let mut seen = BTreeSet::new();
            let dups: BTreeSet<&String> = list.iter().filter(|e| !seen.insert(*e)).collect();
            if dups.is_empty() {
                return Ok(());
            }
            let names: Vec<&str> = dups.iter().map(|s| s.as_str()).collect();
            Err(format!(
                "{field:?} contains {} duplicate entries: {}",
                list.len() - seen.len(),
                names.join(", ")
            ))
        }
        let is_org_repo = |s: &str| {
            let parts: Vec<&str> = s.split('/').collect();
            parts.len() == 2 && !parts[0].is_empty() && !parts[1].is_empty()
        };
        for (i, org) in self.orgs.iter().enumerate() {
            if org.contains('/') {
                return Err(format!(
                    "orgs[{i}]: {org:?} contains a '/' which is not valid"
                ));
            }
            if org.is_empty() {
                return Err(format!("orgs[{i}]: is an empty string"));
            }
        }
        duplicates("orgs", &self.orgs)?;
        for (i, repo) in self.repos.iter().enumerate() {
            if !is_org_repo(repo) {
                return Err(format!(
                    "repos[{i}]: {repo:?} is not of the form \"org/repo\""
                ));
            }
            let org = repo.split('/').next().unwrap_or_default();
            if self.orgs.iter().any(|o| o == org) {
                return Err(format!(
                    "repos[{i}]: {repo:?} is already included via org: {org:?}"
                ));
            }
        }
        duplicates("repos", &self.repos)?;
        if self.orgs.is_empty() && self.repos.is_empty() {
            return Err("'orgs' and 'repos' cannot both be empty".to_owned());
        }
        for (i, repo) in self.excluded_repos.iter().enumerate() {
            if !is_org_repo(repo) {
                return Err(format!(
                    "excludedRepos[{i}]: {repo:?} is not of the form \"org/repo\""
                ));
            }
            let org = repo.split('/').next().unwrap_or_default();
            if !self.orgs.iter().any(|o| o == org) {
                return Err(format!(
                    "excludedRepos[{i}]: {repo:?} has no effect because org {org:?} is not included"
                ));
            }
        }
        duplicates("excludedRepos", &self.excluded_repos)?;
        let both: Vec<&String> = self
            .labels
            .iter()
            .filter(|l| self.missing_labels.contains(l))
            .collect();
        if !both.is_empty() {
            return Err(format!(
                "the labels: {both:?} are both required and forbidden"
            ));
        }
        duplicates("labels", &self.labels)?;
        duplicates("missingLabels", &self.missing_labels)?;
        if !self.excluded_branches.is_empty() && !self.included_branches.is_empty() {
            return Err("both 'includedBranches' and 'excludedBranches' are specified ('excludedBranches' have no effect)".to_owned());
        }
        duplicates("includedBranches", &self.included_branches)?;
        duplicates("excludedBranches", &self.excluded_branches)
    }
}

/// How GitHub merges a pull request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MergeMethod {
    #[default]
    #[serde(rename = "merge")]
    Merge,
    #[serde(rename = "squash")]
    Squash,
    #[serde(rename = "rebase")]
    Rebase,
    /// Gerrit's; refused for GitHub repos as Prow does.
    #[serde(rename = "ifNecessary")]
    IfNecessary,
}

impl MergeMethod {
    /// The value GitHub's merge API and Prow's messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
            MergeMethod::IfNecessary => "ifNecessary",
        }
    }
}

/// A `merge_method` value under an org key: one method, or repos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrgMergeMethod {
    Method(MergeMethod),
    Repos(BTreeMap<String, RepoMergeMethod>),
}

/// A `merge_method` value under a repo key: one method, or branch regexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RepoMergeMethod {
    Method(MergeMethod),
    Branches(BTreeMap<String, MergeMethod>),
}

/// Go templates for a merge commit (`{{.Title}}`, `{{.Number}}`... over the pull request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeCommitTemplate {
    pub title: String,
    pub body: String,
}

/// A `tide.priority` entry: PRs with all these labels (`a,b` = either) merge first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TidePriority {
    pub labels: Vec<String>,
}

/// Prow's `TideContextPolicy`: which status contexts block a merge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ContextPolicy {
    pub skip_unknown_contexts: Option<bool>,
    pub required_contexts: Vec<String>,
    pub required_if_present_contexts: Vec<String>,
    pub optional_contexts: Vec<String>,
    pub optional_regex_contexts: Vec<String>,
    pub from_branch_protection: Option<bool>,
    pub overwrite_pending_contexts: Option<bool>,
}

impl ContextPolicy {
    /// Prow's `mergeTideContextPolicy`: `more`'s flags win when set, lists are unions.
    fn merged(&self, more: &ContextPolicy) -> ContextPolicy {
        let union = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter()
                .chain(b)
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        ContextPolicy {
            skip_unknown_contexts: more.skip_unknown_contexts.or(self.skip_unknown_contexts),
            from_branch_protection: more.from_branch_protection.or(self.from_branch_protection),
            overwrite_pending_contexts: more
                .overwrite_pending_contexts
                .or(self.overwrite_pending_contexts),
            required_contexts: union(&self.required_contexts, &more.required_contexts),
            required_if_present_contexts: union(
                &self.required_if_present_contexts,
                &more.required_if_present_contexts,
            ),
            optional_contexts: union(&self.optional_contexts, &more.optional_contexts),
            optional_regex_contexts: union(
                &self.optional_regex_contexts,
                &more.optional_regex_contexts,
            ),
        }
    }
}

/// `tide.context_options`: a policy for everything, refined per org, repo and branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContextPolicyOptions {
    #[serde(flatten)]
    pub policy: ContextPolicy,
    pub orgs: BTreeMap<String, OrgContextPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgContextPolicy {
    #[serde(flatten)]
    pub policy: ContextPolicy,
    pub repos: BTreeMap<String, RepoContextPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoContextPolicy {
    #[serde(flatten)]
    pub policy: ContextPolicy,
    pub branches: BTreeMap<String, ContextPolicy>,
}

impl ContextPolicyOptions {
    /// Prow's `ParseTideContextPolicyOptions`: the global policy refined by org, repo, branch.
    pub fn for_branch(&self, org: &str, repo: &str, branch: &str) -> ContextPolicy {
        let mut policy = self.policy.clone();
        if let Some(o) = self.orgs.get(org) {
            policy = policy.merged(&o.policy);
            if let Some(r) = o.repos.get(repo) {
                policy = policy.merged(&r.policy);
                if let Some(b) = r.branches.get(branch) {
                    policy = policy.merged(b);
                }
            }
        }
        policy
    }
}

/// The most specific of `org/repo`, `org`, `*` in a per-repo map (Prow's lookup order).
fn by_repo<'a, T>(map: &'a BTreeMap<String, T>, org: &str, repo: &str) -> Option<&'a T> {
    map.get(&format!("{org}/{repo}"))
        .or_else(|| map.get(org))
        .or_else(|| map.get("*"))
}

impl Tide {
    /// Prow's `OrgRepoBranchMergeMethod`: `org/repo@branch`, then branch regexes under
    /// `org: repo:`, then `org/repo`, then `org: repo: method`, then `org`, else merge.
    pub fn merge_method(&self, org: &str, repo: &str, branch: &str) -> MergeMethod {
        if let Some(OrgMergeMethod::Method(m)) =
            self.merge_method.get(&format!("{org}/{repo}@{branch}"))
        {
            return *m;
        }
        let repo_config = match self.merge_method.get(org) {
            Some(OrgMergeMethod::Repos(repos)) => repos.get(repo).or_else(|| repos.get("*")),
            _ => None,
        };
        if let Some(RepoMergeMethod::Branches(branches)) = repo_config {
            // Sorted keys (BTreeMap), first match wins, as Prow sorts them.
            for (pattern, method) in branches {
                if Regex::new(pattern).is_ok_and(|re| re.is_match(branch)) {
                    return *method;
                }
            }
        }
        if let Some(OrgMergeMethod::Method(m)) = self.merge_method.get(&format!("{org}/{repo}")) {
            return *m;
        }
        if let Some(RepoMergeMethod::Method(m)) = repo_config {
            return *m;
        }
        if let Some(OrgMergeMethod::Method(m)) = self.merge_method.get(org) {
            return *m;
        }
        MergeMethod::Merge
    }

    /// Prow's `MergeCommitTemplate`: `org/repo`, else `org` (no `*`).
    pub fn merge_commit_template(&self, org: &str, repo: &str) -> Option<&MergeCommitTemplate> {
        self.merge_commit_template
            .get(&format!("{org}/{repo}"))
            .or_else(|| self.merge_commit_template.get(org))
    }

    /// Prow's `BatchSizeLimit`: 0 (unlimited) unless configured; negative disables batches.
    pub fn batch_size_limit(&self, org: &str, repo: &str) -> i64 {
        by_repo(&self.batch_size_limit, org, repo)
            .copied()
            .unwrap_or(0)
    }

    /// Prow's `PrioritizeExistingBatches`: true unless configured.
    pub fn prioritize_existing_batches(&self, org: &str, repo: &str) -> bool {
        by_repo(&self.prioritize_existing_batches, org, repo)
            .copied()
            .unwrap_or(true)
    }

    /// Prow's `GitHubMergeBlocksPolicy`: `permit` unless configured.
    pub fn github_merge_blocks_policy(&self, org: &str, repo: &str) -> &str {
        by_repo(&self.github_merge_blocks_policy, org, repo)
            .map(String::as_str)
            .unwrap_or("permit")
    }

    /// Prow's `GetTargetURL` (`target_urls`, falling back to the single `target_url`).
    pub fn target_url(&self, org: &str, repo: &str) -> &str {
        by_repo(&self.target_urls, org, repo)
            .map(String::as_str)
            .unwrap_or(self.target_url.as_str())
    }

    /// Prow's `GetPRStatusBaseURL` (`pr_status_base_urls`, falling back to the single one).
    pub fn pr_status_base_url(&self, org: &str, repo: &str) -> &str {
        by_repo(&self.pr_status_base_urls, org, repo)
            .map(String::as_str)
            .unwrap_or(self.pr_status_base_url.as_str())
    }

    /// The queries that cover `org/repo` (Prow's `QueryMap.ForRepo`).
    pub fn queries_for_repo(&self, org: &str, repo: &str) -> Vec<&TideQuery> {
        self.queries
            .iter()
            .filter(|q| q.for_repo(org, repo))
            .collect()
    }

    /// Problems Prow's config validation reports for `tide:` (queries, merge methods,
    /// context policies), each prefixed with where it is.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, q) in self.queries.iter().enumerate() {
            if let Err(e) = q.validate() {
                problems.push(format!("tide.queries[{i}]: {e}"));
            }
        }
        let valid = |m: &MergeMethod| *m != MergeMethod::IfNecessary;
        for (key, org) in &self.merge_method {
            match org {
                OrgMergeMethod::Method(m) if !valid(m) => problems.push(format!(
                    "tide.merge_method: merge type {:?} for {key} is not a valid type",
                    m.as_str()
                )),
                OrgMergeMethod::Method(_) => {}
                OrgMergeMethod::Repos(repos) => {
                    for (repo, config) in repos {
                        match config {
                            RepoMergeMethod::Method(m) if !valid(m) => problems.push(format!(
                                "tide.merge_method: merge type {:?} for {key}/{repo} is not a valid type",
                                m.as_str()
                            )),
                            RepoMergeMethod::Method(_) => {}
                            RepoMergeMethod::Branches(branches) => {
                                for (branch, m) in branches {
                                    if Regex::new(branch).is_err() {
                                        problems.push(format!(
                                            "tide.merge_method: regex {branch:?} is not valid"
                                        ));
                                    }
                                    if !valid(m) {
                                        problems.push(format!("tide.merge_method: merge type {:?} for {key}/{repo}@{branch} is not a valid type", m.as_str()));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for policy in std::iter::once(&self.context_options.policy)
            .chain(self.context_options.orgs.values().map(|o| &o.policy))
        {
            for re in &policy.optional_regex_contexts {
                if Regex::new(re).is_err() {
                    problems.push(format!(
                        "tide.context_options: optional context regex {re:?} doesn't compile"
                    ));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tide(yaml: &str) -> Tide {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn merge_method_lookup_follows_prows_precedence() {
        let t = tide(
            r#"
merge_method:
  acme: squash
  acme/special: rebase
  acme/special@release: merge
  kube:
    infra: rebase
    api:
      "^release-.*": squash
      main: merge
    "*": squash
"#,
        );
        let cases = [
            ("acme", "foo", "main", MergeMethod::Squash),
            ("acme", "special", "main", MergeMethod::Rebase),
            ("acme", "special", "release", MergeMethod::Merge),
            ("kube", "infra", "main", MergeMethod::Rebase),
            ("kube", "api", "release-1.2", MergeMethod::Squash),
            ("kube", "api", "main", MergeMethod::Merge),
            ("kube", "api", "dev", MergeMethod::Merge),
            ("kube", "other", "main", MergeMethod::Squash),
            ("nobody", "x", "main", MergeMethod::Merge),
        ];
        for (org, repo, branch, want) in cases {
            assert_eq!(
                t.merge_method(org, repo, branch),
                want,
                "{org}/{repo}@{branch}"
            );
        }
    }

    #[test]
    fn per_repo_settings_take_the_most_specific_key() {
        let t = tide(
            r#"
batch_size_limit: {"*": 5, acme: 3, acme/big: 15, acme/off: -1}
pr_status_base_urls: {"*": "https://prow.example.com/pr"}
target_url: https://prow.example.com/tide
merge_commit_template:
  acme: {title: "{{.Title}} (#{{.Number}})"}
"#,
        );
        assert_eq!(t.batch_size_limit("acme", "big"), 15);
        assert_eq!(t.batch_size_limit("acme", "x"), 3);
        assert_eq!(t.batch_size_limit("other", "x"), 5);
        assert_eq!(t.batch_size_limit("acme", "off"), -1);
        assert_eq!(
            t.pr_status_base_url("a", "b"),
            "https://prow.example.com/pr"
        );
        assert_eq!(t.target_url("a", "b"), "https://prow.example.com/tide");
        assert_eq!(
            t.merge_commit_template("acme", "x").unwrap().title,
            "{{.Title}} (#{{.Number}})"
        );
        assert!(t.merge_commit_template("other", "x").is_none());
        assert!(t.prioritize_existing_batches("a", "b"));
        assert_eq!(t.github_merge_blocks_policy("a", "b"), "permit");
    }

    #[test]
    fn context_options_refine_from_org_to_branch() {
        let t = tide(
            r#"
context_options:
  optional-contexts: [global-opt]
  skip-unknown-contexts: false
  orgs:
    acme:
      required-contexts: [org-req]
      repos:
        foo:
          from-branch-protection: true
          skip-unknown-contexts: true
          branches:
            main:
              optional-contexts: [main-opt]
"#,
        );
        let p = t.context_options.for_branch("acme", "foo", "main");
        assert_eq!(p.optional_contexts, vec!["global-opt", "main-opt"]);
        assert_eq!(p.required_contexts, vec!["org-req"]);
        assert_eq!(p.from_branch_protection, Some(true));
        assert_eq!(p.skip_unknown_contexts, Some(true));
        let other = t.context_options.for_branch("other", "x", "main");
        assert_eq!(other.skip_unknown_contexts, Some(false));
        assert!(other.required_contexts.is_empty());
    }

    #[test]
    fn queries_match_repos_as_prow_and_build_its_search_string() {
        let t = tide(
            r#"
queries:
- orgs: [acme]
  excludedRepos: [acme/skip]
  labels: [lgtm, "approved,auto-approved"]
  missingLabels: [do-not-merge/hold]
- repos: [other/one]
  milestone: v1
  includedBranches: [main]
  reviewApprovedRequired: true
  author: bot
"#,
        );
        assert!(t.queries[0].for_repo("acme", "foo"));
        assert!(!t.queries[0].for_repo("acme", "skip"));
        assert!(t.queries[1].for_repo("other", "one"));
        assert!(!t.queries[1].for_repo("other", "two"));
        assert_eq!(t.queries_for_repo("acme", "foo").len(), 1);
        assert_eq!(
            t.queries[0].search_query(),
            r#"is:pr state:open archived:false label:"lgtm" label:"approved","auto-approved" -label:"do-not-merge/hold" org:"acme" -repo:"acme/skip""#
        );
        assert_eq!(
            t.queries[1].search_query(),
            r#"is:pr state:open archived:false author:"bot" base:"main" milestone:"v1" review:approved repo:"other/one""#
        );
        assert!(t.validate().is_empty(), "{:?}", t.validate());
    }

    #[test]
    fn validation_reports_prows_query_and_merge_method_errors() {
        let t = tide(
            r#"
queries:
- labels: [a]
- orgs: [acme]
  repos: [acme/x]
- orgs: [acme]
  labels: [x]
  missingLabels: [x]
- orgs: [acme]
  excludedRepos: [other/y]
- repos: [a/b]
  includedBranches: [main]
  excludedBranches: [dev]
merge_method:
  acme: ifNecessary
  kube:
    api:
      "(": squash
"#,
        );
        let problems = t.validate();
        let want = [
            "tide.queries[0]: 'orgs' and 'repos' cannot both be empty",
            "tide.queries[1]: repos[0]: \"acme/x\" is already included via org: \"acme\"",
            "tide.queries[2]: the labels: [\"x\"] are both required and forbidden",
            "tide.queries[3]: excludedRepos[0]: \"other/y\" has no effect because org \"other\" is not included",
            "tide.queries[4]: both 'includedBranches' and 'excludedBranches' are specified ('excludedBranches' have no effect)",
            "tide.merge_method: merge type \"ifNecessary\" for acme is not a valid type",
            "tide.merge_method: regex \"(\" is not valid",
        ];
        assert_eq!(problems, want);
    }
}
