//! The trigger plugin's help: trigger runs as its own function (it creates ProwJobs), but its
//! commands belong in the same help as every other plugin's.

use prow_core::config::PluginsConfig;

use crate::event::Event;
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const NAME: &str = "trigger";

const TRUSTED: &str =
    "Anyone can trigger this command on a trusted PR; org members and collaborators on any PR.";

/// Help only; `needs` is never asked of it here.
#[derive(Debug)]
pub struct Trigger;

impl Plugin for Trigger {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request", "push", "issue_comment"]
    }

    fn help(&self, _: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        PluginHelp {
            description: "The trigger plugin starts tests in reaction to commands and pull request events. It is responsible for ensuring that test jobs are only run on trusted PRs.".into(),
            commands: vec![
                Command::new("/ok-to-test", false, "Marks a PR as 'trusted' and starts tests.", &["/ok-to-test"], "Members of the trusted organization for the repo."),
                Command::new("/test (<job name>|all)", true, "Manually starts a/all test job(s). Lists all possible job(s) when no jobs/an invalid job are specified.", &["/test all", "/test pull-bazel-test"], TRUSTED),
                Command::new("/retest", true, "Rerun test jobs that have failed.", &["/retest"], TRUSTED),
                Command::new("/retest-required", false, "Rerun failed required test jobs.", &["/retest-required"], TRUSTED),
                Command::new("/test-manual-required", false, "Starts the required jobs that only run when asked for (no always_run and no run_if_changed).", &["/test-manual-required"], TRUSTED),
            ],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, _: &Event, _: &PluginsConfig) -> Option<Needs> {
        None
    }

    fn decide(&self, _: &Event, _: &Facts, _: &PluginsConfig) -> Vec<Action> {
        Vec::new()
    }
}
