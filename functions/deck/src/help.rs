//! `/plugin-help` and `/command-help`: the plugin registry's help (`prow_plugins`, without the
//! plugins function's runtime), for every repo or for one (`?repo=org/repo`).

use prow_core::config::PluginsConfig;
pub use prow_plugins::help::{Command, Help, PluginHelp, commands};

/// Why a `?repo=` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("repo must be org/repo, got {0:?}")]
pub struct BadRepo(pub String);

/// Prow's `/plugin-help` document: every plugin, or with `repo` (`org/repo`) exactly the plugins
/// enabled there.
pub fn registry(config: &PluginsConfig, repo: Option<&str>) -> Result<Help, BadRepo> {
    match repo.filter(|r| !r.is_empty()) {
        None => Ok(prow_plugins::help::help(config, None)),
        Some(full) => match full.split_once('/') {
            Some((org, name)) if !org.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(prow_plugins::help::help(config, Some((org, name))))
            }
            _ => Err(BadRepo(full.to_owned())),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_repo_gets_exactly_its_plugins_and_a_malformed_one_is_refused() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "plugins:\n  acme: {plugins: [trigger, hold], excluded_repos: [bar]}\n  acme/foo: {plugins: [lgtm]}\n",
        )
        .unwrap();
        let foo = registry(&cfg, Some("acme/foo")).unwrap();
        assert_eq!(
            foo.plugin_help.keys().collect::<Vec<_>>(),
            ["hold", "lgtm", "trigger"]
        );
        assert!(
            registry(&cfg, Some("acme/bar"))
                .unwrap()
                .plugin_help
                .is_empty()
        );
        assert!(registry(&cfg, Some("acme")).is_err());
        let all = registry(&cfg, None).unwrap();
        assert!(all.plugin_help.contains_key("assign"));
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json["RepoPlugins"]["acme"][0], "trigger");
        assert_eq!(
            json["PluginHelp"]["trigger"]["Commands"][1]["Usage"],
            "/test (<job name>|all)"
        );
    }
}
