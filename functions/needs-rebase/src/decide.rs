//! needs-rebase's decisions, without I/O: which repos it runs for, what a PR's mergeability
//! means for its label and comment (Prow's `takeAction`), the searches a tick runs and which
//! slice of the open PRs one tick checks.

use prow_core::config::PluginsConfig;
use prow_github::IssueComment;

/// The plugin's name in `external_plugins` (and the label it manages).
pub const PLUGIN_NAME: &str = "needs-rebase";
/// The label on PRs that do not merge cleanly.
pub const LABEL: &str = "needs-rebase";
/// Prow's comment text; also how our old comments are recognised.
pub const NEEDS_REBASE_MESSAGE: &str = "PR needs rebase.";
/// What dependabot is told instead: it rebases when asked.
pub const DEPENDABOT_MESSAGE: &str = "rebase";
pub const DEPENDABOT: &str = "dependabot[bot]";

/// Whether `org/repo` runs needs-rebase: an `external_plugins` entry for the org or the repo
/// names it (Prow's `EnabledReposForExternalPlugin`).
pub fn enabled(plugins: &PluginsConfig, org: &str, repo: &str) -> bool {
    let names_us = |key: &str| {
        plugins
            .external_plugins
            .get(key)
            .is_some_and(|list| list.iter().any(|p| p.name == PLUGIN_NAME))
    };
    names_us(org) || names_us(&format!("{org}/{repo}"))
}

/// Prow's search prefix for the open, unarchived PRs a tick looks at.
const SEARCH_PREFIX: &str = "archived:false is:pr is:open";

/// The issue searches that find every open PR of the enabled orgs and repos, one per entry,
/// in a stable order.
pub fn tick_queries(plugins: &PluginsConfig) -> Vec<String> {
    plugins
        .external_plugins
        .iter()
        .filter(|(_, list)| list.iter().any(|p| p.name == PLUGIN_NAME))
        .map(|(key, _)| match key.split_once('/') {
            Some(_) => format!("{SEARCH_PREFIX} repo:\"{key}\""),
            None => format!("{SEARCH_PREFIX} org:\"{key}\""),
        })
        .collect()
}

/// The part of `candidates` one tick checks: at most `budget`, starting where tick number
/// `round` left off, so that successive ticks walk through every open PR even when there
/// are more than one tick may check (each check is one GitHub call).
pub fn tick_window<T: Clone>(candidates: &[T], budget: usize, round: u64) -> Vec<T> {
    if candidates.is_empty() || budget == 0 {
        return Vec::new();
    }
    if candidates.len() <= budget {
        return candidates.to_vec();
    }
    let len = candidates.len();
    let start = usize::try_from(round.wrapping_mul(budget as u64) % len as u64).unwrap_or(0);
    candidates
        .iter()
        .cycle()
        .skip(start)
        .take(budget)
        .cloned()
        .collect()
}

/// What a PR's state asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// GitHub is still computing mergeability: look again later, never guess.
    Unknown,
    /// Conflicts and no label yet: label it and say so.
    NeedsRebase,
    /// Merges cleanly again but still labelled: take the label and our comment away.
    Rebased,
    /// The label already matches.
    Nothing,
}

/// Prow's `takeAction` condition.
pub fn verdict(mergeable: Option<bool>, has_label: bool) -> Verdict {
    match (mergeable, has_label) {
        (None, _) => Verdict::Unknown,
        (Some(false), false) => Verdict::NeedsRebase,
        (Some(true), true) => Verdict::Rebased,
        _ => Verdict::Nothing,
    }
}

/// One GitHub write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Comment(String),
    AddLabel,
    RemoveLabel,
    DeleteComment(u64),
}

/// The comment Prow makes (`FormatSimpleResponse`).
pub fn comment_for(author: &str) -> String {
    let message = if author == DEPENDABOT {
        DEPENDABOT_MESSAGE
    } else {
        NEEDS_REBASE_MESSAGE
    };
    format!(
        "{message}\n\n<details>\n\n{}\n</details>",
        prow_core::respond::ABOUT_THIS_BOT
    )
}

/// Whether a comment is ours about needing a rebase (Prow's `shouldPrune`).
fn is_ours(comment: &IssueComment, bot: &str) -> bool {
    prow_github::normalize_login(&comment.user.login) == prow_github::normalize_login(bot)
        && comment.body.contains(NEEDS_REBASE_MESSAGE)
}

/// The writes for a verdict, given the PR's comments. The comment goes before the label so a
/// failure between them is repaired by the redelivery (the label is what says we are done),
/// and a comment we already made is not repeated: Prow comments once per label.
pub fn actions(
    verdict: Verdict,
    author: &str,
    bot: &str,
    comments: &[IssueComment],
) -> Vec<Action> {
    match verdict {
        Verdict::NeedsRebase => {
            let body = comment_for(author);
            let commented = comments.iter().any(|c| {
                prow_github::normalize_login(&c.user.login) == prow_github::normalize_login(bot)
                    && c.body == body
            });
            let mut out = Vec::new();
            if !commented {
                out.push(Action::Comment(body));
            }
            out.push(Action::AddLabel);
            out
        }
        Verdict::Rebased => std::iter::once(Action::RemoveLabel)
            .chain(
                comments
                    .iter()
                    .filter(|c| is_ours(c, bot))
                    .map(|c| Action::DeleteComment(c.id)),
            )
            .collect(),
        Verdict::Unknown | Verdict::Nothing => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prow_github::User;

    fn comment(id: u64, login: &str, body: &str) -> IssueComment {
        IssueComment {
            id,
            user: User {
                login: login.into(),
                ..User::default()
            },
            body: body.into(),
            ..IssueComment::default()
        }
    }

    #[test]
    fn the_label_follows_githubs_verdict_and_unknown_waits() {
        let cases = [
            (None, false, Verdict::Unknown),
            (None, true, Verdict::Unknown),
            (Some(false), false, Verdict::NeedsRebase),
            (Some(false), true, Verdict::Nothing),
            (Some(true), true, Verdict::Rebased),
            (Some(true), false, Verdict::Nothing),
        ];
        for (mergeable, has_label, want) in cases {
            assert_eq!(
                verdict(mergeable, has_label),
                want,
                "{mergeable:?} {has_label}"
            );
        }
    }

    #[test]
    fn actions_comment_once_label_and_clean_up_our_comments() {
        let ours = comment(1, "prow-bot", &comment_for("alice"));
        let human = comment(2, "alice", "PR needs rebase. please");
        let cases = [
            (
                "conflicting: comment then label",
                Verdict::NeedsRebase,
                "alice",
                vec![],
                vec![Action::Comment(comment_for("alice")), Action::AddLabel],
            ),
            (
                "redelivered after the comment: only the label",
                Verdict::NeedsRebase,
                "alice",
                vec![ours.clone()],
                vec![Action::AddLabel],
            ),
            (
                "dependabot is asked to rebase",
                Verdict::NeedsRebase,
                DEPENDABOT,
                vec![],
                vec![Action::Comment(comment_for(DEPENDABOT)), Action::AddLabel],
            ),
            (
                "fixed: label off, only our comment deleted",
                Verdict::Rebased,
                "alice",
                vec![ours.clone(), human.clone()],
                vec![Action::RemoveLabel, Action::DeleteComment(1)],
            ),
            (
                "unknown: nothing",
                Verdict::Unknown,
                "alice",
                vec![],
                vec![],
            ),
            (
                "in line: nothing",
                Verdict::Nothing,
                "alice",
                vec![ours],
                vec![],
            ),
        ];
        for (name, verdict, author, comments, want) in cases {
            assert_eq!(
                actions(verdict, author, "prow-bot", &comments),
                want,
                "{name}"
            );
        }
        assert!(comment_for(DEPENDABOT).starts_with("rebase\n\n<details>\n\n"));
        assert!(comment_for("alice").starts_with("PR needs rebase.\n\n<details>\n\n"));
    }

    fn plugins(yaml: &str) -> PluginsConfig {
        serde_norway::from_str(yaml).expect("plugins.yaml")
    }

    #[test]
    fn external_plugin_entries_enable_orgs_and_repos_and_give_the_tick_its_searches() {
        let p = plugins(
            "external_plugins:\n  acme:\n  - name: needs-rebase\n    endpoint: http://x\n  other/one:\n  - name: needs-rebase\n  other/two:\n  - name: cherrypicker\n",
        );
        assert!(enabled(&p, "acme", "anything"));
        assert!(enabled(&p, "other", "one"));
        assert!(!enabled(&p, "other", "two"));
        assert_eq!(
            tick_queries(&p),
            [
                "archived:false is:pr is:open org:\"acme\"",
                "archived:false is:pr is:open repo:\"other/one\"",
            ]
        );
    }

    #[test]
    fn ticks_walk_through_every_pr_a_budget_at_a_time() {
        let prs: Vec<u32> = (0..5).collect();
        assert_eq!(tick_window(&prs, 10, 7), prs, "all fit");
        assert_eq!(tick_window(&prs, 2, 0), [0, 1]);
        assert_eq!(tick_window(&prs, 2, 1), [2, 3]);
        assert_eq!(tick_window(&prs, 2, 2), [4, 0]);
        let mut seen: Vec<u32> = (0..3)
            .flat_map(|round| tick_window(&prs, 2, round))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, prs, "three ticks cover five PRs");
        assert!(tick_window::<u32>(&[], 2, 0).is_empty());
    }
}
