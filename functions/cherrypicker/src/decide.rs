//! cherrypicker's decisions and words, without I/O: `/cherrypick` commands, which requests a
//! comment or a merge leads to, and the cherry-pick PR's branch, title and body as Prow makes
//! them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use prow_core::config::PluginsConfig;
use regex::Regex;

/// The plugin's name in `external_plugins`.
pub const PLUGIN_NAME: &str = "cherrypicker";

static CHERRY_PICK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(?:/cherrypick|/cherry-pick)\s+(.+)$").unwrap_or_else(|_| unreachable!())
});

static RELEASE_NOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)(?:Release note\*\*:\s*(?:<!--[^<>]*-->\s*)?```(?:release-note)?|```release-note)(.+?)```")
        .unwrap_or_else(|_| unreachable!())
});

/// Whether `org/repo` runs cherrypicker (an `external_plugins` entry for the org or repo).
pub fn enabled(plugins: &PluginsConfig, org: &str, repo: &str) -> bool {
    let names_us = |key: &str| {
        plugins
            .external_plugins
            .get(key)
            .is_some_and(|list| list.iter().any(|p| p.name == PLUGIN_NAME))
    };
    names_us(org) || names_us(&format!("{org}/{repo}"))
}

/// Target branch -> the branches to chain after it (`/cherrypick release-1.6 release-1.5`
/// picks onto 1.6 and asks the new PR to go on to 1.5), as Prow parses them.
pub fn parse_commands(body: &str) -> BTreeMap<String, Vec<String>> {
    CHERRY_PICK
        .captures_iter(body)
        .filter_map(|c| {
            let mut words = c.get(1)?.as_str().split_whitespace().map(str::to_owned);
            Some((words.next()?, words.collect()))
        })
        .collect()
}

/// The branch the cherry-pick is built on (in the repo itself: a function has no fork).
pub fn branch_name(number: u64, target: &str) -> String {
    format!("cherry-pick-{number}-to-{target}")
}

/// `[target] title`, without the `[base] ` a backport of a backport would repeat.
pub fn title(title: &str, base: &str, target: &str) -> String {
    format!(
        "[{target}] {}",
        title.replacen(&format!("[{base}] "), "", 1)
    )
}

/// The release note block of the parent PR's body, re-fenced as the PR template wants.
pub fn release_note(body: &str) -> Option<String> {
    let note = RELEASE_NOTE.captures(body)?.get(1)?.as_str().trim();
    Some(format!("```release-note\n{note}\n```"))
}

/// Prow's `CreateCherrypickBody`.
pub fn body(
    number: u64,
    requester: Option<&str>,
    parent_body: &str,
    chain: &[String],
    labels: &[String],
) -> String {
    let mut out = format!("This is an automated cherry-pick of #{number}");
    if let Some(requester) = requester.filter(|r| !r.is_empty()) {
        out.push_str(&format!("\n\n/assign {requester}"));
    }
    if let Some(note) = release_note(parent_body) {
        out.push_str(&format!("\n\n{note}"));
    }
    if !chain.is_empty() {
        out.push_str(&format!("\n\n/cherrypick {}", chain.join(" ")));
    }
    let mut kinds: Vec<&str> = labels
        .iter()
        .filter_map(|l| l.strip_prefix("kind/"))
        .filter(|k| !k.is_empty())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    if !kinds.is_empty() {
        let lines: Vec<String> = kinds.iter().map(|k| format!("/kind {k}")).collect();
        out.push_str(&format!("\n\n{}", lines.join("\n")));
    }
    out
}

/// Prow's refusal for requesters outside the org.
pub fn not_member(org: &str, user: &str) -> String {
    format!(
        "only [{org}](https://github.com/orgs/{org}/people) org members may request cherry picks. If you are already part of the org, make sure to [change](https://github.com/orgs/{org}/people?query={user}) your membership to public. Otherwise you can still do the cherry-pick manually. "
    )
}

/// What a `/cherrypick` comment asks for, before membership is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentPlan {
    /// No command in the comment.
    Nothing,
    /// Only the PR's own base branch was named.
    OnlyBase(String),
    /// The PR is open: say the picks will happen at merge (they are read again then).
    Later {
        targets: Vec<String>,
        also_base: Option<String>,
    },
    /// Closed without merging: nothing to pick.
    Unmerged,
    /// Merged: pick now.
    Now {
        targets: BTreeMap<String, Vec<String>>,
        also_base: Option<String>,
    },
}

/// Prow's `handleIssueComment` decision.
pub fn plan_comment(body: &str, base: &str, open: bool, merged: bool) -> CommentPlan {
    let mut targets = parse_commands(body);
    if targets.is_empty() {
        return CommentPlan::Nothing;
    }
    let also_base = targets.remove(base).map(|_| base.to_owned());
    if targets.is_empty() {
        return CommentPlan::OnlyBase(base.to_owned());
    }
    if open {
        CommentPlan::Later {
            targets: targets.into_keys().collect(),
            also_base,
        }
    } else if !merged {
        CommentPlan::Unmerged
    } else {
        CommentPlan::Now { targets, also_base }
    }
}

/// The answers of [`CommentPlan`]s that reply in words only.
pub fn only_base_message(base: &str) -> String {
    format!("I cannot cherry-pick the present PR on top of its base branch (`{base}`).")
}

pub fn later_message(targets: &[String], also_base: Option<&str>) -> String {
    let names: Vec<String> = targets.iter().map(|t| format!("`{t}`")).collect();
    let mut out = if names.len() == 1 {
        format!(
            "once the present PR merges, I will cherry-pick it on top of {} in a new PR and assign it to you.",
            names[0]
        )
    } else {
        format!(
            "once the present PR merges, I will cherry-pick it on top of {} in new PRs and assign them to you.",
            names.join(", ")
        )
    };
    if let Some(base) = also_base {
        out.push_str(&format!(
            " I cannot cherry-pick it on top of `{base}` because that is already its base branch."
        ));
    }
    out
}

pub const UNMERGED_MESSAGE: &str = "cannot cherry-pick an unmerged PR";

/// One request found at merge time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub requester: String,
    pub target: String,
    pub chain: Vec<String>,
    /// The comment that asked (body, URL, author), for the reply; `None` for the PR body.
    pub comment: Option<(String, String, String)>,
}

/// A text that may carry `/cherrypick` lines: the PR body or a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub author: String,
    pub body: String,
    pub html_url: String,
    pub is_pr_body: bool,
}

/// Prow's `handlePullRequestClosed` collection: every `/cherrypick` in the PR body and the
/// comments, one request per target branch (the first asker wins), chains from any of them.
pub fn requests_at_merge(texts: &[Text]) -> Vec<Request> {
    let mut chains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out: BTreeMap<String, Request> = BTreeMap::new();
    for text in texts {
        for (target, chain) in parse_commands(&text.body) {
            if !chain.is_empty() {
                chains.insert(target.clone(), chain);
            }
            out.entry(target.clone()).or_insert_with(|| Request {
                requester: text.author.clone(),
                target,
                chain: Vec::new(),
                comment: (!text.is_pr_body).then(|| {
                    (
                        text.body.clone(),
                        text.html_url.clone(),
                        text.author.clone(),
                    )
                }),
            });
        }
    }
    out.into_values()
        .map(|mut r| {
            r.chain = chains.get(&r.target).cloned().unwrap_or_default();
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_as_prow_does() {
        let cmds = parse_commands(
            "please\n/cherrypick release-1.6 release-1.5\n/cherry-pick release-1.4\n /cherrypick ignored\n/cherrypick",
        );
        assert_eq!(
            cmds.into_iter().collect::<Vec<_>>(),
            [
                ("release-1.4".to_owned(), vec![]),
                ("release-1.6".to_owned(), vec!["release-1.5".to_owned()]),
            ]
        );
    }

    #[test]
    fn a_comment_is_planned_by_the_prs_state() {
        let later = |t: &[&str], b: Option<&str>| CommentPlan::Later {
            targets: t.iter().map(|s| s.to_string()).collect(),
            also_base: b.map(str::to_owned),
        };
        let cases = [
            ("no command", "lgtm", true, false, CommentPlan::Nothing),
            (
                "only the base",
                "/cherrypick main",
                false,
                true,
                CommentPlan::OnlyBase("main".into()),
            ),
            ("open", "/cherrypick r1", true, false, later(&["r1"], None)),
            (
                "open, base too",
                "/cherrypick r1\n/cherrypick main",
                true,
                false,
                later(&["r1"], Some("main")),
            ),
            (
                "closed unmerged",
                "/cherrypick r1",
                false,
                false,
                CommentPlan::Unmerged,
            ),
            (
                "merged",
                "/cherrypick r1 r0",
                false,
                true,
                CommentPlan::Now {
                    targets: BTreeMap::from([("r1".to_owned(), vec!["r0".to_owned()])]),
                    also_base: None,
                },
            ),
        ];
        for (name, body, open, merged, want) in cases {
            assert_eq!(plan_comment(body, "main", open, merged), want, "{name}");
        }
    }

    #[test]
    fn the_new_prs_title_and_body_read_as_prows() {
        assert_eq!(title("[r2] Fix it", "r2", "r1"), "[r1] Fix it");
        assert_eq!(title("Fix it", "main", "r1"), "[r1] Fix it");
        let parent = "Fixes things.\n\n**Release note**:\n<!-- write it -->\n```release-note\nFixed a crash.\n```\n";
        assert_eq!(
            body(
                7,
                Some("alice"),
                parent,
                &["r0".into()],
                &["kind/bug".into(), "lgtm".into(), "kind/api-change".into()]
            ),
            "This is an automated cherry-pick of #7\n\n/assign alice\n\n```release-note\nFixed a crash.\n```\n\n/cherrypick r0\n\n/kind api-change\n/kind bug"
        );
        assert_eq!(
            body(7, None, "", &[], &[]),
            "This is an automated cherry-pick of #7"
        );
        assert_eq!(
            branch_name(7, "release-1.6"),
            "cherry-pick-7-to-release-1.6"
        );
    }

    #[test]
    fn the_words_for_later_and_refusals() {
        assert_eq!(
            later_message(&["r1".into(), "r2".into()], Some("main")),
            "once the present PR merges, I will cherry-pick it on top of `r1`, `r2` in new PRs and assign them to you. I cannot cherry-pick it on top of `main` because that is already its base branch."
        );
        assert!(
            not_member("acme", "bob")
                .starts_with("only [acme](https://github.com/orgs/acme/people) org members")
        );
    }

    #[test]
    fn requests_at_merge_come_from_the_body_and_comments_first_asker_first() {
        let text = |author: &str, body: &str, pr: bool| Text {
            author: author.into(),
            body: body.into(),
            html_url: format!("https://c/{author}"),
            is_pr_body: pr,
        };
        let got = requests_at_merge(&[
            text("author", "/cherrypick r1", true),
            text("alice", "/cherrypick r1 r0\n/cherrypick r2", false),
        ]);
        assert_eq!(
            got.iter()
                .map(|r| (
                    r.requester.as_str(),
                    r.target.as_str(),
                    r.chain.clone(),
                    r.comment.is_some()
                ))
                .collect::<Vec<_>>(),
            [
                ("author", "r1", vec!["r0".to_owned()], false),
                ("alice", "r2", vec![], true),
            ]
        );
    }
}
