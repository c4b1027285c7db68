//! The config view: the effective job config for a repository (its presubmits and postsubmits,
//! and the periodics that check it out), with what decides whether a job runs: trigger, branches,
//! `run_if_changed`/`skip_if_only_changed`, required or optional. A pure projection of `Config`.

use prow_core::config::{Brancher, ChangeMatcher, Config, Periodic};

/// One job as the config page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfigView {
    pub name: String,
    /// `presubmit`, `postsubmit` or `periodic`.
    pub kind: &'static str,
    /// When it runs: `always`, `changes matching …`, `unless only … changed`, `on demand`, or the
    /// periodic's `cron`/`interval`.
    pub when: String,
    /// The comment that (re)runs it (presubmits).
    pub command: String,
    pub trigger: String,
    /// `all branches`, or the branch and skip-branch regexes.
    pub branches: String,
    pub context: String,
    /// `required`, `optional` or `not reported` (presubmits and postsubmits).
    pub gate: String,
    pub cluster: String,
    pub source: String,
}

/// Presubmits, postsubmits and periodics of `org_repo` (every periodic without a repo), hidden
/// jobs left out unless `show_hidden`. Jobs that a snapshot could not decode are skipped with a
/// note in the returned errors.
pub fn jobs_for(
    config: &Config,
    org_repo: Option<&str>,
    show_hidden: bool,
) -> (Vec<JobConfigView>, Vec<String>) {
    let mut jobs = Vec::new();
    let mut errors = Vec::new();
    let repos: Vec<&String> = match org_repo {
        Some(r) => config
            .presubmits
            .keys()
            .chain(config.postsubmits.keys())
            .filter(|k| k.as_str() == r)
            .take(1)
            .collect(),
        None => Vec::new(),
    };
    for repo in repos {
        match config.presubmits_for(repo) {
            Ok(list) => jobs.extend(list.iter().filter(|p| show_hidden || !p.base.hidden).map(
                |p| {
                    let when = if p.always_run {
                        "always".to_owned()
                    } else if p.changes.could_run() {
                        changes(&p.changes)
                    } else {
                        "on demand".to_owned()
                    };
                    let gate = if p.skip_report {
                        "not reported"
                    } else if p.optional {
                        "optional"
                    } else {
                        "required"
                    };
                    JobConfigView {
                        name: p.base.name.clone(),
                        kind: "presubmit",
                        when,
                        command: p.rerun_command.clone(),
                        trigger: p.trigger.clone(),
                        branches: branches(&p.brancher),
                        context: p.context.clone(),
                        gate: gate.to_owned(),
                        cluster: p.base.cluster.clone(),
                        source: p.base.source.file.to_string(),
                    }
                },
            )),
            Err(err) => errors.push(format!("presubmits of {repo}: {err}")),
        }
        match config.postsubmits_for(repo) {
            Ok(list) => jobs.extend(list.iter().filter(|p| show_hidden || !p.base.hidden).map(
                |p| {
                    let when = if p.changes.could_run() && p.always_run != Some(true) {
                        changes(&p.changes)
                    } else {
                        "every push".to_owned()
                    };
                    JobConfigView {
                        name: p.base.name.clone(),
                        kind: "postsubmit",
                        when,
                        command: String::new(),
                        trigger: String::new(),
                        branches: branches(&p.brancher),
                        context: p.context.clone(),
                        gate: if p.skip_report {
                            "not reported"
                        } else {
                            "reported"
                        }
                        .to_owned(),
                        cluster: p.base.cluster.clone(),
                        source: p.base.source.file.to_string(),
                    }
                },
            )),
            Err(err) => errors.push(format!("postsubmits of {repo}: {err}")),
        }
    }
    match config.periodic_jobs() {
        Ok(list) => jobs.extend(
            list.iter()
                .filter(|p| show_hidden || !p.base.hidden)
                .filter(|p| match org_repo {
                    None => true,
                    Some(r) => p.base.utility.extra_refs.iter().any(|e| e.org_repo() == r),
                })
                .map(periodic),
        ),
        Err(err) => errors.push(format!("periodics: {err}")),
    }
    (jobs, errors)
}

fn periodic(p: &Periodic) -> JobConfigView {
    let when = if !p.cron.is_empty() {
        format!("cron {}", p.cron)
    } else if !p.interval.is_empty() {
        format!("every {}", p.interval)
    } else if !p.minimum_interval.is_empty() {
        format!("at least {} apart", p.minimum_interval)
    } else {
        String::new()
    };
    JobConfigView {
        name: p.base.name.clone(),
        kind: "periodic",
        when,
        command: String::new(),
        trigger: String::new(),
        branches: p
            .base
            .utility
            .extra_refs
            .iter()
            .map(|r| format!("{}@{}", r.org_repo(), r.base_ref))
            .collect::<Vec<_>>()
            .join(", "),
        context: String::new(),
        gate: String::new(),
        cluster: p.base.cluster.clone(),
        source: p.base.source.file.to_string(),
    }
}

fn changes(c: &ChangeMatcher) -> String {
    if !c.run_if_changed.is_empty() {
        format!("changes matching {}", c.run_if_changed)
    } else {
        format!("unless only {} changed", c.skip_if_only_changed)
    }
}

fn branches(b: &Brancher) -> String {
    let mut parts = Vec::new();
    if !b.branches.is_empty() {
        parts.push(format!("only {}", b.branches.join(", ")));
    }
    if !b.skip_branches.is_empty() {
        parts.push(format!("not {}", b.skip_branches.join(", ")));
    }
    if parts.is_empty() {
        "all branches".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Every repository with presubmits or postsubmits, for the page's repository picker.
pub fn repos(config: &Config) -> Vec<String> {
    let mut repos: Vec<String> = config
        .presubmits
        .keys()
        .chain(config.postsubmits.keys())
        .cloned()
        .collect();
    repos.sort();
    repos.dedup();
    repos
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> Config {
        let yaml = r#"
presubmits:
  acme/widget:
  - name: pull-widget-unit
    always_run: true
    spec: {containers: [{image: golang}]}
  - name: pull-widget-docs
    run_if_changed: '^docs/'
    optional: true
    branches: [main, release-1.0]
    spec: {containers: [{image: golang}]}
  - name: pull-widget-e2e
    skip_branches: ['^dev$']
    spec: {containers: [{image: golang}]}
  - name: pull-widget-secret
    hidden: true
    always_run: true
    spec: {containers: [{image: golang}]}
postsubmits:
  acme/widget:
  - name: post-widget-push
    spec: {containers: [{image: golang}]}
periodics:
- name: ci-widget-nightly
  cron: '0 3 * * *'
  extra_refs: [{org: acme, repo: widget, base_ref: main}]
  spec: {containers: [{image: golang}]}
- name: ci-other
  interval: 1h
  spec: {containers: [{image: golang}]}
"#;
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, "prowjob_namespace: default\n").unwrap();
        let jobs = dir.path().join("jobs.yaml");
        std::fs::write(&jobs, yaml).unwrap();
        prow_core::config::load(&prow_core::config::LoadOptions {
            config_path,
            job_config_path: Some(jobs),
            plugin_config_path: None,
        })
        .unwrap()
        .config
    }

    #[test]
    fn a_repos_jobs_say_when_they_run_on_which_branches_and_how_to_trigger_them() {
        let config = config();
        let (jobs, errors) = jobs_for(&config, Some("acme/widget"), false);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pull-widget-unit",
                "pull-widget-docs",
                "pull-widget-e2e",
                "post-widget-push",
                "ci-widget-nightly"
            ]
        );
        assert_eq!(jobs[0].when, "always");
        assert_eq!(jobs[0].gate, "required");
        assert_eq!(jobs[0].command, "/test pull-widget-unit");
        assert_eq!(jobs[1].when, "changes matching ^docs/");
        assert_eq!(jobs[1].gate, "optional");
        assert_eq!(jobs[1].branches, "only main, release-1.0");
        assert_eq!(jobs[2].when, "on demand");
        assert_eq!(jobs[2].branches, "not ^dev$");
        assert_eq!(jobs[3].kind, "postsubmit");
        assert_eq!(jobs[4].when, "cron 0 3 * * *");
        assert_eq!(jobs[4].branches, "acme/widget@main");
        let (with_hidden, _) = jobs_for(&config, Some("acme/widget"), true);
        assert_eq!(with_hidden.len(), 6);
        let (all_periodics, _) = jobs_for(&config, None, false);
        assert_eq!(all_periodics.len(), 2);
        assert_eq!(repos(&config), ["acme/widget"]);
    }
}
