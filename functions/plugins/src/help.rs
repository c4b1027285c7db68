//! Plugin help in Prow's `pluginhelp` shape (the JSON Deck's `/plugin-help` serves), built from
//! the registry for the repos that enable each plugin.

use std::collections::BTreeMap;

use prow_core::config::PluginsConfig;
use serde::Serialize;

use crate::registry::{self, Repo};

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

impl Command {
    /// A command's help; `examples` as written.
    pub fn new(
        usage: &str,
        featured: bool,
        description: &str,
        examples: &[&str],
        who: &str,
    ) -> Self {
        Self {
            usage: usage.into(),
            featured,
            description: description.into(),
            examples: examples.iter().map(|e| (*e).to_owned()).collect(),
            who_can_use: who.into(),
        }
    }
}

/// One plugin's help, with Prow's `pluginhelp.PluginHelp` field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginHelp {
    pub description: String,
    /// `org/repo` (or `""` for every repo) -> that repo's settings, as HTML.
    pub config: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub snippet: String,
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

/// The help of every plugin the registry knows, as Prow's hook serves it: `RepoPlugins` maps
/// each `plugins:` key to its plugins (and `""` to every known plugin), `AllRepos` lists the
/// `org/repo` keys. With `repo` (`org/repo`), only the plugins enabled there, as Deck's
/// `?repo=` view.
pub fn help(config: &PluginsConfig, repo: Option<(&str, &str)>) -> Help {
    let mut repo_plugins: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut all_repos: Vec<String> = Vec::new();
    match repo {
        Some((org, name)) => {
            let full = format!("{org}/{name}");
            repo_plugins.insert(full.clone(), config.plugins_for(org, name));
            all_repos.push(full);
        }
        None => {
            for (key, entry) in &config.plugins {
                repo_plugins.insert(key.clone(), entry.plugins().to_vec());
                if key.contains('/') {
                    all_repos.push(key.clone());
                }
            }
            repo_plugins.insert(
                String::new(),
                registry::all()
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect(),
            );
        }
    }
    let wanted: std::collections::BTreeSet<&str> = repo_plugins
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    let plugin_help = registry::all()
        .iter()
        .filter(|p| wanted.contains(p.name()))
        .map(|p| {
            let repos = enabled_repos(config, p.name(), repo);
            let mut h = p.help(config, &repos);
            h.events = p.events().iter().map(|e| (*e).to_owned()).collect();
            (p.name().to_owned(), h)
        })
        .collect();
    all_repos.sort();
    Help {
        all_repos,
        repo_plugins,
        plugin_help,
        ..Help::default()
    }
}

/// The repos named in `plugins:` (as `org/repo`, or `org` with an empty repo) that enable
/// `plugin`, for the per-repo configuration a help shows.
fn enabled_repos(config: &PluginsConfig, plugin: &str, only: Option<(&str, &str)>) -> Vec<Repo> {
    if let Some((org, repo)) = only {
        return vec![Repo::new(org, repo)];
    }
    config
        .plugins
        .iter()
        .filter(|(_, entry)| entry.plugins().iter().any(|p| p == plugin))
        .map(|(key, _)| match key.split_once('/') {
            Some((org, repo)) => Repo::new(org, repo),
            None => Repo::new(key, ""),
        })
        .collect()
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

    fn config(yaml: &str) -> PluginsConfig {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn help_for_a_repo_lists_exactly_the_plugins_enabled_there() {
        let cfg = config(
            "plugins:\n  acme:\n    plugins: [hold, lgtm]\n    excluded_repos: [secret]\n  acme/foo:\n    plugins: [assign]\n",
        );
        let foo = help(&cfg, Some(("acme", "foo")));
        assert_eq!(
            foo.plugin_help.keys().collect::<Vec<_>>(),
            ["assign", "hold", "lgtm"]
        );
        assert_eq!(foo.repo_plugins["acme/foo"], ["assign", "hold", "lgtm"]);
        let secret = help(&cfg, Some(("acme", "secret")));
        assert!(secret.plugin_help.is_empty());
        let other = help(&cfg, Some(("acme", "bar")));
        assert_eq!(
            other.plugin_help.keys().collect::<Vec<_>>(),
            ["hold", "lgtm"]
        );
    }

    #[test]
    fn help_uses_prows_json_names() {
        let cfg = config("plugins:\n  acme/foo: [trigger, hold]\n");
        let json = serde_json::to_value(help(&cfg, None)).unwrap();
        assert_eq!(json["AllRepos"][0], "acme/foo");
        assert_eq!(json["RepoPlugins"]["acme/foo"][0], "trigger");
        assert!(json["RepoPlugins"][""].as_array().unwrap().len() >= 4);
        let hold = &json["PluginHelp"]["hold"];
        assert_eq!(hold["Events"][0], "issue_comment");
        let cmd = &hold["Commands"][0];
        assert_eq!(cmd["Usage"], "/[remove-][un]hold [cancel]");
        assert_eq!(cmd["Featured"], false);
        assert!(cmd["WhoCanUse"].is_string());
        assert_eq!(cmd["Examples"][0], "/hold");
        assert!(json["PluginHelp"]["trigger"]["Commands"].is_array());
    }

    #[test]
    fn command_list_is_featured_first_then_by_usage() {
        let cfg = config("plugins:\n  acme: [hold, assign]\n");
        let h = help(&cfg, None);
        let usages: Vec<&str> = commands(&h).iter().map(|(_, c)| c.usage.as_str()).collect();
        let featured = usages.iter().position(|u| u.starts_with("/[un]assign"));
        let hold = usages
            .iter()
            .position(|u| u.starts_with("/[remove-][un]hold"));
        assert!(featured < hold, "{usages:?}");
    }
}
