//! Prow settings prow-rs accepts and stores but does not act on: each one a config sets is
//! warned about by its path, so a user moving from Prow learns which settings have no effect
//! here instead of finding out from a job that behaves differently. The README's compatibility
//! table lists the same settings.

use super::locate::Seg;

/// A setting prow-rs keeps without acting on it, and why.
#[derive(Debug, Clone, Copy)]
pub(super) struct Inert {
    /// Dotted path in the file; `*` is any key or list item.
    pub(super) path: &'static str,
    pub(super) why: &'static str,
}

/// `config.yaml` settings prow-rs has no component or behaviour for.
pub(super) const PROW_CONFIG: &[Inert] = &[
    Inert {
        path: "plank.build_cluster_status_file",
        why: "plank does not publish build cluster reachability",
    },
    Inert {
        path: "sinker.resync_period",
        why: "sinker runs on its PingSource schedule (eventing/pingsources.yaml)",
    },
    Inert {
        path: "log_level",
        why: "functions log at the level RUST_LOG sets",
    },
    Inert {
        path: "scheduler.enabled",
        why: "there is no scheduler: ProwJobs are created triggered and run on the cluster their job names",
    },
    Inert {
        path: "gerrit",
        why: "there is no Gerrit adapter",
    },
    Inert {
        path: "slack_reporter_configs",
        why: "crier reports to GitHub and storage only",
    },
    Inert {
        path: "gangway",
        why: "there is no gangway API",
    },
    Inert {
        path: "moonraker",
        why: "config is read from files or the compiled snapshot, not through moonraker",
    },
    Inert {
        path: "jenkins_operators",
        why: "only the kubernetes agent runs jobs",
    },
    Inert {
        path: "pipeline",
        why: "only the kubernetes agent runs jobs",
    },
    Inert {
        path: "push_gateway",
        why: "functions expose /metrics for scraping; nothing pushes",
    },
    Inert {
        path: "pubsub_subscriptions",
        why: "jobs are triggered by GitHub webhooks and periodics, not Pub/Sub",
    },
    Inert {
        path: "pubsub_triggers",
        why: "jobs are triggered by GitHub webhooks and periodics, not Pub/Sub",
    },
    Inert {
        path: "managed_webhooks",
        why: "hook does not manage GitHub webhooks",
    },
    Inert {
        path: "github",
        why: "GitHub's address comes from each function's --github-endpoint",
    },
    Inert {
        path: "status_error_link",
        why: "statuses link to the job, never to an error page",
    },
    Inert {
        path: "disabled_clusters",
        why: "build clusters come from each function's kubeconfig",
    },
];

/// `plugins.yaml` settings prow-rs stores without acting on them.
pub(super) const PLUGINS_CONFIG: &[Inert] = &[Inert {
    path: "triggers.*.trigger_github_workflows",
    why: "trigger does not re-run GitHub Actions workflows",
}];

/// The warning for one inert setting found at `path`.
pub(super) fn message(inert: &Inert) -> String {
    format!("stored but not acted on by prow-rs: {}", inert.why)
}

/// Every inert setting a document sets, with where.
pub(super) fn found<'a>(
    doc: &super::load::goyaml::Doc,
    list: &'a [Inert],
) -> Vec<(Vec<Seg>, &'a Inert)> {
    list.iter()
        .flat_map(|inert| {
            let pattern: Vec<&str> = inert.path.split('.').collect();
            doc.paths_matching(&pattern)
                .into_iter()
                .map(move |path| (path, inert))
        })
        .collect()
}
