//! blockade: a PR into a branch a blockade covers that touches files matching its block regexps
//! (and none of its exception regexps) gets `do-not-merge/blocked-paths` and a comment listing
//! the files per explanation; once it no longer does, the label and our comment go (Prow's
//! `pkg/plugins/blockade`).

use std::collections::BTreeMap;

use prow_core::config::{BlockadeConfig, PluginsConfig};
use regex::Regex;

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::format_response;

pub const LABEL: &str = "do-not-merge/blocked-paths";

#[derive(Debug)]
pub struct Blockade;

/// What our comment says first (and how we find it again).
pub fn blocked_body() -> String {
    format!("Adding label: `{LABEL}` because PR changes a protected file.")
}

/// A blockade that applies, its regexps compiled (those that do not compile are left out, as
/// Prow logs and skips them).
#[derive(Debug)]
struct Compiled {
    block: Vec<Regex>,
    except: Vec<Regex>,
    explanation: String,
}

fn compile_all(patterns: &[String]) -> Vec<Regex> {
    patterns.iter().filter_map(|p| Regex::new(p).ok()).collect()
}

fn applicable(org: &str, repo: &str, branch: &str, config: &[BlockadeConfig]) -> Vec<Compiled> {
    let full = format!("{org}/{repo}");
    config
        .iter()
        .filter(|b| b.repos.iter().any(|r| *r == org || *r == full))
        .filter(|b| {
            b.branchregexp
                .as_deref()
                .is_none_or(|re| Regex::new(re).is_ok_and(|re| re.is_match(branch)))
        })
        .filter_map(|b| {
            let block = compile_all(&b.blockregexps);
            (!block.is_empty()).then(|| Compiled {
                block,
                except: compile_all(&b.exceptionregexps),
                explanation: if b.explanation.is_empty() {
                    "Files are protected".to_owned()
                } else {
                    b.explanation.clone()
                },
            })
        })
        .collect()
}

fn relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && matches!(event.action.as_str(), "opened" | "reopened" | "synchronize")
}

fn base_branch(event: &Event) -> &str {
    event
        .pull_request
        .as_ref()
        .map_or("", |pr| pr.base.git_ref.as_str())
}

impl Plugin for Blockade {
    fn name(&self) -> &'static str {
        "blockade"
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: format!(
                "The blockade plugin blocks pull requests from merging if they touch specific files. The plugin applies the '{LABEL}' label to pull requests that touch files that match a blockade's block regular expression and none of the corresponding exception regular expressions."
            ),
            snippet: "blockades:\n- repos:\n  - kubernetes/kubernetes\n  branchregexp: ^release-.*$\n  blockregexps:\n  - ^docs/\n  exceptionregexps:\n  - ^docs/OWNERS$\n  explanation: Docs are frozen for the release.\n".into(),
            ..PluginHelp::default()
        };
        for repo in repos {
            let mut items = Vec::new();
            for b in config.blockades.iter().filter(|b| {
                b.repos
                    .iter()
                    .any(|r| *r == repo.org || *r == repo.full_name())
            }) {
                let mut item = format!("<li>Blocks changes to files matching {:?}", b.blockregexps);
                if !b.exceptionregexps.is_empty() {
                    item.push_str(&format!(", except {:?}", b.exceptionregexps));
                }
                item.push_str("</li>");
                items.push(item);
            }
            if !items.is_empty() {
                help.config.insert(
                    repo.full_name(),
                    format!(
                        "The following blockades apply in this repository:<ul>{}</ul>",
                        items.concat()
                    ),
                );
            }
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        let applies = !applicable(
            &event.org,
            &event.repo,
            base_branch(event),
            &config.blockades,
        )
        .is_empty();
        // Without an applicable blockade only a stale label may need removing.
        relevant(event).then(|| Needs {
            labels: true,
            comments: true,
            changes: applies,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        if !relevant(event) {
            return vec![];
        }
        let blockades = applicable(
            &event.org,
            &event.repo,
            base_branch(event),
            &config.blockades,
        );
        let present = facts.has_label(LABEL);
        if blockades.is_empty() && !present {
            return vec![];
        }
        let head = event
            .pull_request
            .as_ref()
            .map_or("", |pr| pr.head.sha.as_str());
        // explanation -> blocked files
        let mut blocked: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for change in &facts.changes {
            let file = change.filename.as_str();
            for b in &blockades {
                if b.block.iter().any(|r| r.is_match(file))
                    && !b.except.iter().any(|r| r.is_match(file))
                {
                    blocked
                        .entry(b.explanation.as_str())
                        .or_default()
                        .push(file);
                }
            }
        }
        let body = blocked_body();
        if !blocked.is_empty() && !present {
            let mut reasons = String::from("#### Reasons for blocking this PR:\n");
            for (why, files) in &blocked {
                reasons.push_str(&format!("[{why}]\n"));
                for file in files {
                    reasons.push_str(&format!(
                        "- [{file}](https://github.com/{}/{}/blob/{head}/{file})\n\n",
                        event.org, event.repo
                    ));
                }
            }
            vec![
                Action::AddLabel(LABEL.into()),
                Action::Comment(format_response(&event.author.login, &body, &reasons)),
            ]
        } else if blocked.is_empty() && present {
            let mut out = vec![Action::RemoveLabel(LABEL.into())];
            out.extend(
                facts
                    .bot_comments()
                    .filter(|c| c.body.contains(&body))
                    .map(|c| Action::DeleteComment(c.id)),
            );
            out
        } else {
            vec![]
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::{Branch, PullRequest};
    use crate::plugin::IssueComment;
    use crate::size::FileChange;
    use crate::testing::{comment_event, facts_with_labels};

    const CONFIG: &str = "blockades:\n- repos: [acme]\n  blockregexps: ['^docs/']\n  exceptionregexps: ['^docs/OWNERS$']\n  explanation: Docs are frozen\n- repos: [acme/foo]\n  branchregexp: '^release-'\n  blockregexps: ['^api/']\n- repos: [other]\n  blockregexps: ['.*']\n";

    fn event(branch: &str) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = "synchronize".into();
        ev.comment = None;
        ev.pull_request = Some(PullRequest {
            base: Branch {
                git_ref: branch.into(),
                sha: "b".into(),
                repo: None,
            },
            head: Branch {
                git_ref: "x".into(),
                sha: "h1".into(),
                repo: None,
            },
            ..PullRequest::default()
        });
        ev
    }

    fn facts(labels: &[&str], files: &[&str]) -> Facts {
        Facts {
            changes: files
                .iter()
                .map(|f| FileChange {
                    filename: (*f).into(),
                    ..FileChange::default()
                })
                .collect(),
            comments: vec![IssueComment {
                id: 3,
                user: "prow-bot".into(),
                body: format!("@author: {}", blocked_body()),
                ..IssueComment::default()
            }],
            ..facts_with_labels(labels)
        }
    }

    #[test]
    fn blockades_follow_prow() {
        let cfg: PluginsConfig = serde_norway::from_str(CONFIG).unwrap();
        let reasons = "#### Reasons for blocking this PR:\n[Docs are frozen]\n- [docs/a.md](https://github.com/acme/foo/blob/h1/docs/a.md)\n\n[Files are protected]\n- [api/v1.go](https://github.com/acme/foo/blob/h1/api/v1.go)\n\n";
        assert_eq!(
            Blockade.decide(
                &event("release-1"),
                &facts(&[], &["docs/a.md", "docs/OWNERS", "api/v1.go", "main.go"]),
                &cfg
            ),
            [
                Action::AddLabel(LABEL.into()),
                Action::Comment(format_response("author", &blocked_body(), reasons))
            ]
        );
        // api/ is only blocked on release branches; OWNERS is an exception.
        assert!(
            Blockade
                .decide(
                    &event("main"),
                    &facts(&[], &["api/v1.go", "docs/OWNERS"]),
                    &cfg
                )
                .is_empty()
        );
        assert!(
            Blockade
                .decide(&event("main"), &facts(&[LABEL], &["docs/a.md"]), &cfg)
                .is_empty()
        );
        assert_eq!(
            Blockade.decide(&event("main"), &facts(&[LABEL], &["main.go"]), &cfg),
            [Action::RemoveLabel(LABEL.into()), Action::DeleteComment(3)]
        );
        assert!(
            Blockade
                .needs(&event("main"), &cfg)
                .is_some_and(|n| n.changes)
        );
        let mut elsewhere = event("main");
        elsewhere.org = "nobody".into();
        assert!(
            Blockade
                .needs(&elsewhere, &cfg)
                .is_some_and(|n| !n.changes && n.labels)
        );
    }
}
