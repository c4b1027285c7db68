//! welcome: an author's first PR in a repository is greeted with `welcome[].message_template`
//! (a Go template over `.Org`, `.Repo`, `.AuthorLogin`, `.AuthorName`), or with every PR when
//! `always_post` is set (Prow's `pkg/plugins/welcome`). Trusted authors (trigger's rule) and
//! bots are not greeted.

use prow_core::config::PluginsConfig;
use prow_core::gotemplate::render_fields;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, OwnersCheck, Plugin};
use crate::registry::Repo;

pub const NAME: &str = "welcome";

#[derive(Debug)]
pub struct Welcome;

/// A PR just opened by a person (GitHub cannot search a bot's PRs).
fn relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest && event.action == "opened" && event.author.kind == "User"
}

impl Plugin for Welcome {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: "The welcome plugin greets incoming PRs with a welcoming message.".into(),
            snippet: "welcome:\n- # Repos is either of the form org/repos or just org.\n  repos:\n  - org/repo1\n  - org/repo2\n  # MessageTemplate is the welcome message template to post on new-contributor PRs\n  # For the info struct see prow/plugins/welcome/welcome.go's PRInfo\n  message_template: Welcome @{{.AuthorLogin}}!\n".into(),
            ..PluginHelp::default()
        };
        for repo in repos {
            help.config.insert(
                repo.full_name(),
                format!(
                    "The welcome plugin is configured to post using following welcome template: {}.",
                    config.welcome_for(&repo.org, &repo.repo).template()
                ),
            );
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        if !relevant(event) {
            return None;
        }
        if config.welcome_for(&event.org, &event.repo).always_post {
            return Some(Needs::default());
        }
        let trigger = config.trigger_for(&event.org, &event.repo);
        Some(Needs {
            author_history: Some(OwnersCheck {
                only_org_members: trigger.only_org_members,
                trusted_org: trigger.trusted_org,
                trusted_apps: trigger.trusted_apps,
                ..OwnersCheck::default()
            }),
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        if !relevant(event) {
            return vec![];
        }
        let options = config.welcome_for(&event.org, &event.repo);
        let first = match facts.author_prs.as_slice() {
            [] => true,
            [only] => *only == event.number,
            _ => false,
        };
        if !options.always_post && (facts.author_trusted || !first) {
            return vec![];
        }
        let fields = [
            ("Org", event.org.as_str()),
            ("Repo", event.repo.as_str()),
            ("AuthorLogin", event.author.login.as_str()),
            // Webhook payloads carry no display name.
            ("AuthorName", ""),
        ];
        match render_fields(options.template(), &fields) {
            Ok(message) => vec![Action::Comment(message)],
            // Prow fails the event; greeting nobody is the same outcome, and the function logs
            // why (deck builds this crate without logging).
            Err(_err) => {
                #[cfg(feature = "function")]
                tracing::warn!(target = %event.target(), error = %_err, "welcome template does not render");
                vec![]
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{comment_event, facts_with_labels};

    fn opened() -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = "opened".into();
        ev.comment = None;
        ev
    }

    fn facts(trusted: bool, prs: &[u64]) -> Facts {
        Facts {
            author_trusted: trusted,
            author_prs: prs.to_vec(),
            ..facts_with_labels(&[])
        }
    }

    #[test]
    fn a_first_pr_by_an_untrusted_author_is_welcomed() {
        let cfg = PluginsConfig::default();
        let ev = opened();
        assert!(Welcome.needs(&ev, &cfg).unwrap().author_history.is_some());
        let hello = [Action::Comment(
            "Welcome @author! It looks like this is your first PR to acme/foo 🎉".into(),
        )];
        assert_eq!(Welcome.decide(&ev, &facts(false, &[]), &cfg), hello);
        assert_eq!(Welcome.decide(&ev, &facts(false, &[7]), &cfg), hello);
        assert!(Welcome.decide(&ev, &facts(false, &[3]), &cfg).is_empty());
        assert!(Welcome.decide(&ev, &facts(false, &[3, 7]), &cfg).is_empty());
        assert!(Welcome.decide(&ev, &facts(true, &[]), &cfg).is_empty());
        let mut bot = opened();
        bot.author.kind = "Bot".into();
        assert!(Welcome.needs(&bot, &cfg).is_none());
    }

    #[test]
    fn always_post_greets_everyone_with_the_repos_template() {
        let cfg: PluginsConfig = serde_norway::from_str(
            "welcome:\n- repos: [acme]\n  message_template: 'Hi {{.AuthorLogin}} in {{.Repo}}'\n  always_post: true\n- repos: [acme/bar]\n",
        )
        .unwrap();
        let ev = opened();
        assert_eq!(Welcome.needs(&ev, &cfg).unwrap(), Needs::default());
        assert_eq!(
            Welcome.decide(&ev, &facts(true, &[1, 2]), &cfg),
            [Action::Comment("Hi author in foo".into())]
        );
        let help = Welcome.help(&cfg, &[Repo::new("acme", "bar")]);
        assert!(help.config["acme/bar"].contains("your first PR to {{.Org}}/{{.Repo}}"));
    }
}
