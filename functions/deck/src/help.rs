//! `/plugin-help` and `/command-help`: what the bot's commands do, from a registry of plugin help
//! (static for now: trigger's commands; a plugin registry can hand Deck its entries later).

use std::collections::BTreeMap;

use serde::Serialize;

/// One command, with Prow's `pluginhelp.Command` field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Command {
    pub usage: String,
    pub featured: bool,
    pub description: String,
    pub examples: Vec<String>,
    pub who_can_use: String,
}

/// One plugin's help, with Prow's `pluginhelp.PluginHelp` field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginHelp {
    pub description: String,
    pub events: Vec<String>,
    pub commands: Vec<Command>,
}

/// Prow's `/plugin-help` document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Help {
    pub all_repos: Vec<String>,
    pub repo_plugins: BTreeMap<String, Vec<String>>,
    pub repo_external_plugins: BTreeMap<String, Vec<String>>,
    pub plugin_help: BTreeMap<String, PluginHelp>,
    pub external_plugin_help: BTreeMap<String, PluginHelp>,
}

fn command(
    usage: &str,
    featured: bool,
    description: &str,
    examples: &[&str],
    who: &str,
) -> Command {
    Command {
        usage: usage.into(),
        featured,
        description: description.into(),
        examples: examples.iter().map(|e| (*e).to_owned()).collect(),
        who_can_use: who.into(),
    }
}

const TRUSTED: &str =
    "Anyone can trigger this command on a trusted PR; org members and collaborators on any PR.";

/// The trigger plugin's help, as Prow's trigger describes itself.
pub fn trigger() -> PluginHelp {
    PluginHelp {
        description: "The trigger plugin starts tests in reaction to commands and pull request events. It is responsible for ensuring that test jobs are only run on trusted PRs.".into(),
        events: vec!["pull_request".into(), "push".into(), "issue_comment".into()],
        commands: vec![
            command("/ok-to-test", false, "Marks a PR as 'trusted' and starts tests.", &["/ok-to-test"], "Members of the trusted organization for the repo."),
            command("/test (<job name>|all)", true, "Manually starts a/all test job(s). Lists all possible job(s) when no jobs/an invalid job are specified.", &["/test all", "/test pull-bazel-test"], TRUSTED),
            command("/retest", true, "Rerun test jobs that have failed.", &["/retest"], TRUSTED),
            command("/retest-required", false, "Rerun failed required test jobs.", &["/retest-required"], TRUSTED),
            command("/test-manual-required", false, "Starts the required jobs that only run when asked for (no always_run and no run_if_changed).", &["/test-manual-required"], TRUSTED),
        ],
    }
}

/// Help for every plugin Deck knows, given which repos enable which plugins.
pub fn registry(repo_plugins: BTreeMap<String, Vec<String>>) -> Help {
    let mut all_repos: Vec<String> = repo_plugins.keys().cloned().collect();
    all_repos.sort();
    Help {
        all_repos,
        repo_plugins,
        plugin_help: [("trigger".to_owned(), trigger())].into(),
        ..Help::default()
    }
}

/// Commands for the `/command-help` page: (plugin, command), featured first then by usage.
pub fn commands(help: &Help) -> Vec<(&str, &Command)> {
    let mut out: Vec<(&str, &Command)> = help
        .plugin_help
        .iter()
        .chain(help.external_plugin_help.iter())
        .flat_map(|(name, h)| h.commands.iter().map(move |c| (name.as_str(), c)))
        .collect();
    out.sort_by(|a, b| {
        b.1.featured
            .cmp(&a.1.featured)
            .then(a.1.usage.cmp(&b.1.usage))
    });
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plugin_help_uses_prows_json_names() {
        let help = registry([("acme/foo".to_owned(), vec!["trigger".to_owned()])].into());
        let json = serde_json::to_value(&help).unwrap();
        assert_eq!(json["AllRepos"][0], "acme/foo");
        assert_eq!(json["RepoPlugins"]["acme/foo"][0], "trigger");
        let cmd = &json["PluginHelp"]["trigger"]["Commands"][1];
        assert_eq!(cmd["Usage"], "/test (<job name>|all)");
        assert_eq!(cmd["Featured"], true);
        assert!(cmd["WhoCanUse"].is_string());
        assert_eq!(cmd["Examples"][0], "/test all");
    }

    #[test]
    fn command_list_covers_triggers_commands_featured_first() {
        let help = registry(BTreeMap::new());
        let usages: Vec<&str> = commands(&help)
            .iter()
            .map(|(_, c)| c.usage.as_str())
            .collect();
        assert_eq!(
            usages,
            [
                "/retest",
                "/test (<job name>|all)",
                "/ok-to-test",
                "/retest-required",
                "/test-manual-required"
            ]
        );
    }
}
