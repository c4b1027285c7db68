//! skip: `/skip` on an open PR sets the failed statuses of jobs that do not block merging
//! (optional or skip_report) to success "Skipped", except jobs the same comment asks trigger
//! to run (Prow's `pkg/plugins/skip`). Anyone may.

use prow_core::config::{PluginsConfig, Presubmit};
use prow_core::selection::{Commands, Contexts, filters_for_comment, select_presubmits};

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

#[derive(Debug)]
pub struct Skip;

/// What skip reads about the PR.
#[derive(Debug, Clone, Default)]
pub struct SkipFacts {
    pub head_sha: String,
    pub base_ref: String,
    /// The repo's presubmits (central config).
    pub presubmits: Vec<Presubmit>,
    /// Every status on the head: (context, state as GitHub spells it).
    pub statuses: Vec<(String, String)>,
    pub changed_files: Vec<String>,
}

fn wanted(event: &Event) -> bool {
    event.is_pr
        && event.state == "open"
        && event
            .created_comment()
            .is_some_and(|c| c.text.any(|l| l.is_any_case("skip") && l.bare()))
}

fn decide_skip(event: &Event, facts: &SkipFacts, config: &PluginsConfig) -> Vec<Action> {
    let Some(comment) = event.comment.as_ref() else {
        return vec![];
    };
    let state_of = |context: &str| {
        facts
            .statuses
            .iter()
            .filter(|(c, _)| c == context)
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
    };
    // GitHub's combined state is success only when every context is.
    if !facts.statuses.is_empty() && facts.statuses.iter().all(|(_, s)| s == "success") {
        return vec![];
    }
    let contexts = Contexts {
        failed: facts
            .statuses
            .iter()
            .filter(|(_, s)| s == "failure" || s == "error")
            .map(|(c, _)| c.clone())
            .collect(),
        all: facts.statuses.iter().map(|(c, _)| c.clone()).collect(),
    };
    let honor_ok_to_test = !config
        .trigger_for(&event.org, &event.repo)
        .ignore_ok_to_test;
    let filters = filters_for_comment(
        &Commands::parse(comment.text.as_str()),
        comment.text.as_str(),
        &contexts,
        honor_ok_to_test,
    );
    let triggered = select_presubmits(
        &filters,
        &facts.base_ref,
        Some(&facts.changed_files),
        &facts.presubmits,
    );
    facts
        .presubmits
        .iter()
        .filter(|job| {
            let states = state_of(&job.context);
            !states.is_empty()
                && !states.contains(&"success")
                && !triggered
                    .iter()
                    .any(|t| t.name() == job.name() && t.context == job.context)
                && !job.is_required()
        })
        .map(|job| Action::CreateStatus {
            sha: facts.head_sha.clone(),
            context: job.context.clone(),
            state: "success".into(),
            description: "Skipped".into(),
            target_url: String::new(),
        })
        .collect()
}

impl Plugin for Skip {
    fn name(&self) -> &'static str {
        "skip"
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: "The skip plugin allows users to clean up GitHub stale commit statuses for non-blocking jobs on a PR.".into(),
            commands: vec![Command::new(
                "/skip",
                false,
                "Cleans up GitHub stale commit statuses for non-blocking jobs on a PR.",
                &["/skip"],
                "Anyone can trigger this command on a PR.",
            )],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        wanted(event).then(|| Needs {
            skip: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        match facts.skip.as_ref().filter(|_| wanted(event)) {
            Some(skip) => decide_skip(event, skip, config),
            None => vec![],
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    fn presubmits() -> Vec<Presubmit> {
        let yaml = "presubmits:\n  acme/foo:\n  - name: unit\n    always_run: true\n    spec: {containers: [{image: x}]}\n  - name: lint\n    optional: true\n    always_run: true\n    spec: {containers: [{image: x}]}\n  - name: report-less\n    skip_report: true\n    always_run: true\n    spec: {containers: [{image: x}]}\n  - name: docs\n    optional: true\n    always_run: true\n    spec: {containers: [{image: x}]}\n  - name: e2e\n    optional: true\n    always_run: false\n    spec: {containers: [{image: x}]}\n";
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, "prowjob_namespace: default\n").unwrap();
        let jobs = dir.path().join("jobs.yaml");
        std::fs::write(&jobs, yaml).unwrap();
        let cfg = prow_core::config::load(&prow_core::config::LoadOptions {
            config_path,
            job_config_path: Some(jobs),
            plugin_config_path: None,
        })
        .unwrap()
        .config;
        cfg.presubmits_for("acme/foo").unwrap().to_vec()
    }

    fn skip_facts(statuses: &[(&str, &str)]) -> Facts {
        Facts {
            skip: Some(SkipFacts {
                head_sha: "abc".into(),
                base_ref: "main".into(),
                presubmits: presubmits(),
                statuses: statuses
                    .iter()
                    .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
                    .collect(),
                changed_files: vec![],
            }),
            ..facts_with_labels(&[])
        }
    }

    fn skipped(context: &str) -> Action {
        Action::CreateStatus {
            sha: "abc".into(),
            context: context.into(),
            state: "success".into(),
            description: "Skipped".into(),
            target_url: String::new(),
        }
    }

    #[test]
    fn skip_marks_failed_optional_contexts_only() {
        let cfg = PluginsConfig::default();
        let facts = skip_facts(&[
            ("unit", "failure"),
            ("lint", "failure"),
            ("report-less", "error"),
            ("docs", "success"),
            ("e2e", "pending"),
        ]);
        let ev = comment_event("/skip", "mallory", true);
        assert_eq!(
            Skip.decide(&ev, &facts, &cfg),
            [skipped("lint"), skipped("report-less"), skipped("e2e")]
        );
        // A job the same comment asks trigger to run is left to trigger.
        let retest = comment_event("/skip\n/test lint", "mallory", true);
        assert_eq!(
            Skip.decide(&retest, &facts, &cfg),
            [skipped("report-less"), skipped("e2e")]
        );
        // Nothing to do when every context passed.
        let green = skip_facts(&[("unit", "success"), ("lint", "success")]);
        assert!(Skip.decide(&ev, &green, &cfg).is_empty());
        assert!(
            Skip.needs(&comment_event("/skip", "a", false), &cfg)
                .is_none()
        );
        assert!(
            Skip.needs(&comment_event("/skip it", "a", true), &cfg)
                .is_none()
        );
        assert!(Skip.needs(&ev, &cfg).is_some_and(|n| n.skip));
    }
}
