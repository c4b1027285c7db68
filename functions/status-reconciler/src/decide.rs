//! status-reconciler's decisions as pure functions: the presubmits remembered from the last
//! reconciled config against the current ones -> what to do per repo (Prow's
//! `addedBlockingPresubmits`, `removedPresubmits` and `migratedBlockingPresubmits`), and per PR
//! which statuses to write (Prow's status migrator in retire and move mode).

use std::collections::{BTreeMap, BTreeSet};

use prow_core::config::{Brancher, Config, Presubmit, SectionError};
use prow_github::{NewStatus, PullRequest, Status, StatusState};
use serde::{Deserialize, Serialize};

/// Prow's description of a context retired without a successor.
pub const RETIRED: &str = "Context retired without replacement.";

/// Prow's description of a context whose status moved to `to`.
pub fn moved_description(to: &str) -> String {
    format!("Context retired. Status moved to \"{to}\".")
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One presubmit as the reconciler remembers it: only what Prow's comparisons read. Defaults
/// are left out of the stored JSON so Kubernetes' whole job config fits in one ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub name: String,
    /// The status context, when it is not the job name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_report: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub always_run: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_if_changed: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub skip_if_only_changed: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_branches: Vec<String>,
}

impl Remembered {
    pub fn of(p: &Presubmit) -> Self {
        Remembered {
            name: p.name().to_owned(),
            context: if p.context == p.name() {
                String::new()
            } else {
                p.context.clone()
            },
            skip_report: p.skip_report,
            optional: p.optional,
            always_run: p.always_run,
            run_if_changed: p.changes.run_if_changed.clone(),
            skip_if_only_changed: p.changes.skip_if_only_changed.clone(),
            branches: p.brancher.branches.clone(),
            skip_branches: p.brancher.skip_branches.clone(),
        }
    }

    pub fn context(&self) -> &str {
        if self.context.is_empty() {
            &self.name
        } else {
            &self.context
        }
    }

    /// Prow's `ContextRequired`: reported and not optional.
    fn context_required(&self) -> bool {
        !self.optional && !self.skip_report
    }

    /// Prow's `NeedsExplicitTrigger`: neither always_run nor a file filter.
    fn needs_explicit_trigger(&self) -> bool {
        !self.always_run && self.run_if_changed.is_empty() && self.skip_if_only_changed.is_empty()
    }
}

/// `org/repo` -> its presubmits in config order (Prow allows one name twice in a repo for
/// disjoint branches, so this is a list, not a map by name).
pub type JobSet = BTreeMap<String, Vec<Remembered>>;

/// The presubmits of `config` as remembered (Prow compares `PresubmitsStatic`: in-repo jobs
/// take no part).
pub fn remember(config: &Config) -> Result<JobSet, SectionError> {
    let mut set = JobSet::new();
    for repo in config.presubmits.keys() {
        let jobs = config.presubmits_for(repo)?;
        if !jobs.is_empty() {
            set.insert(repo.clone(), jobs.iter().map(Remembered::of).collect());
        }
    }
    Ok(set)
}

/// A short fingerprint of a repo's remembered presubmits: it names the ProwJobs a reconcile
/// creates and tells whether a stored cursor still belongs to the same change.
pub fn fingerprint(jobs: &[Remembered]) -> String {
    let json = serde_json::to_string(jobs).unwrap_or_default();
    prow_core::naming::prowjob_name(&["status-reconciler", &json])
}

/// Repos Prow's `--denylist` / `--denylist-all` name (an org or an `org/repo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denylist {
    /// Added presubmits are not triggered here.
    pub added: BTreeSet<String>,
    /// Nothing is reconciled here.
    pub all: BTreeSet<String>,
}

impl Denylist {
    fn names(set: &BTreeSet<String>, repo: &str) -> bool {
        let org = repo.split_once('/').map_or(repo, |(org, _)| org);
        set.contains(org) || set.contains(repo)
    }

    fn denies_added(&self, repo: &str) -> bool {
        Self::names(&self.added, repo) || Self::names(&self.all, repo)
    }

    fn denies_all(&self, repo: &str) -> bool {
        Self::names(&self.all, repo)
    }
}

/// A context to retire on the PRs into a branch its (old) job ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retire {
    pub context: String,
    pub branches: Vec<String>,
    pub skip_branches: Vec<String>,
}

/// A job kept its name but reports under a new context: the status moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrate {
    pub from: String,
    pub to: String,
    pub branches: Vec<String>,
    pub skip_branches: Vec<String>,
}

/// What to do on one repo's open PRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPlan {
    /// `org/repo`.
    pub repo: String,
    /// Indexes into the repo's current presubmits (config order) of the jobs to trigger.
    pub trigger: Vec<usize>,
    pub retire: Vec<Retire>,
    pub migrate: Vec<Migrate>,
}

impl RepoPlan {
    pub fn is_empty(&self) -> bool {
        self.trigger.is_empty() && self.retire.is_empty() && self.migrate.is_empty()
    }

    /// Whether any PR needs its statuses read (retire or migrate).
    pub fn touches_statuses(&self) -> bool {
        !self.retire.is_empty() || !self.migrate.is_empty()
    }
}

/// Prow's three comparisons of the old and new presubmits, per repo of the OLD config (as Prow
/// does: a repo new to the config has no PRs waiting on a context it lacked). Repos with
/// nothing to do are left out.
pub fn plan(old: &JobSet, new: &JobSet, deny: &Denylist) -> Vec<RepoPlan> {
    let none = Vec::new();
    let mut plans = Vec::new();
    for (repo, old_jobs) in old {
        if deny.denies_all(repo) {
            continue;
        }
        let new_jobs = new.get(repo).unwrap_or(&none);
        let mut plan = RepoPlan {
            repo: repo.clone(),
            ..RepoPlan::default()
        };
        if !deny.denies_added(repo) {
            plan.trigger = added(old_jobs, new_jobs);
        }
        plan.retire = old_jobs
            .iter()
            .filter(|o| !new_jobs.iter().any(|n| n.name == o.name))
            .map(|o| Retire {
                context: o.context().to_owned(),
                branches: o.branches.clone(),
                skip_branches: o.skip_branches.clone(),
            })
            .collect();
        for n in new_jobs.iter().filter(|n| n.context_required()) {
            for o in old_jobs.iter().filter(|o| o.name == n.name) {
                if o.context() != n.context() {
                    plan.migrate.push(Migrate {
                        from: o.context().to_owned(),
                        to: n.context().to_owned(),
                        branches: o.branches.clone(),
                        skip_branches: o.skip_branches.clone(),
                    });
                }
            }
        }
        if !plan.is_empty() {
            plans.push(plan);
        }
    }
    plans
}

/// Prow's `addedBlockingPresubmits`: required, automatically run jobs that are new, newly
/// reporting, or whose file filters changed (Prow lists a job twice when both hold; once is
/// enough here, as the same ProwJob would be created).
fn added(old_jobs: &[Remembered], new_jobs: &[Remembered]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, n) in new_jobs.iter().enumerate() {
        if !n.context_required() || n.needs_explicit_trigger() {
            continue;
        }
        let hit = match old_jobs.iter().find(|o| o.name == n.name) {
            None => true,
            Some(o) => {
                (o.skip_report && !n.skip_report)
                    || o.run_if_changed != n.run_if_changed
                    || o.skip_if_only_changed != n.skip_if_only_changed
            }
        };
        if hit {
            out.push(i);
        }
    }
    out
}

/// Whether added jobs are triggered on `pr`: not drafts, and not PRs GitHub calls unmergeable
/// (their tests would fail on the conflict; the push that fixes it triggers them anyway).
pub fn triggers_on(pr: &PullRequest) -> bool {
    !pr.draft && pr.mergeable != Some(false)
}

/// A status to write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusWrite {
    /// A context set to success as retired.
    Retire(NewStatus),
    /// A moved context's status copied to its new name.
    Copy(NewStatus),
}

impl StatusWrite {
    pub fn status(&self) -> &NewStatus {
        match self {
            StatusWrite::Retire(s) | StatusWrite::Copy(s) => s,
        }
    }
}

/// The statuses to write on a PR's head into `branch`, given its current `statuses`: retired
/// contexts set to success with Prow's words, moved ones copied to their new context first
/// (only when the new one is not there yet). A context already retired with our words is not
/// written again, so a repeated tick writes nothing.
pub fn status_writes(plan: &RepoPlan, branch: &str, statuses: &[Status]) -> Vec<StatusWrite> {
    let find = |context: &str| {
        statuses
            .iter()
            .find(|s| !s.context.is_empty() && s.context == context)
    };
    let retire = |context: &str, description: String| {
        let already = find(context).is_some_and(|s| {
            s.state == StatusState::Success && s.description.as_deref() == Some(&description)
        });
        (!already).then(|| {
            StatusWrite::Retire(NewStatus {
                state: StatusState::Success,
                context: context.to_owned(),
                description: Some(description),
                target_url: None,
            })
        })
    };
    let mut writes = Vec::new();
    for r in &plan.retire {
        if !Brancher::new(r.branches.clone(), r.skip_branches.clone()).should_run(branch) {
            continue;
        }
        if find(&r.context).is_some() {
            writes.extend(retire(&r.context, RETIRED.to_owned()));
        }
    }
    for m in &plan.migrate {
        if !Brancher::new(m.branches.clone(), m.skip_branches.clone()).should_run(branch) {
            continue;
        }
        let (Some(old), None) = (find(&m.from), find(&m.to)) else {
            continue;
        };
        writes.push(StatusWrite::Copy(NewStatus {
            state: old.state,
            context: m.to.clone(),
            description: old.description.clone(),
            target_url: old.target_url.clone(),
        }));
        writes.extend(retire(&m.from, moved_description(&m.to)));
    }
    writes
}

/// The most GitHub calls one PR can take, so a PR is never left half done by the budget:
/// trust (org member, collaborator, trusted org), changed files, the base branch's head, the
/// combined status, and the writes.
pub fn pr_cost(plan: &RepoPlan) -> usize {
    let trigger = if plan.trigger.is_empty() { 0 } else { 5 };
    let statuses = if plan.touches_statuses() {
        1 + plan.retire.len() + 2 * plan.migrate.len()
    } else {
        0
    };
    trigger + statuses
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
