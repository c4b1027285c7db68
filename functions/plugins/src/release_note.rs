//! release-note: a PR's `release-note` block decides its release note label
//! (`release-note`, `release-note-none`, `release-note-action-required`), and a PR without
//! one is held with `do-not-merge/release-note-label-needed` and told how to write one
//! (Prow's `pkg/plugins/releasenote`). `/release-note-none` is for the PR's author and org
//! members, `/release-note-edit` for org members; a `kind/deprecation` PR needs a real note.
//! A cherry-pick whose parents all carry a note needs none of its own.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use prow_core::config::PluginsConfig;
use regex::Regex;

use crate::event::{Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::{ReplyTo, format_response, format_simple_response};

pub const NAME: &str = "release-note";
pub const RELEASE_NOTE: &str = "release-note";
pub const NONE: &str = "release-note-none";
pub const ACTION_REQUIRED: &str = "release-note-action-required";
pub const LABEL_NEEDED: &str = "do-not-merge/release-note-label-needed";
pub const DEPRECATION: &str = "kind/deprecation";

/// Every label this plugin sets; a PR keeps only one of them.
const ALL_LABELS: [&str; 4] = [NONE, ACTION_REQUIRED, LABEL_NEEDED, RELEASE_NOTE];

/// A release-note block: after the PR template's `Release note**:` heading (any fence, an
/// optional HTML comment first) or any fence tagged `release-note`.
static NOTE_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)(?:Release note\*\*:\s*(?:<!--[^<>]*-->\s*)?```(?:release-note)?|```release-note)(.+?)```",
    )
    .expect("the release-note block pattern compiles")
});
/// `Cherry pick of #N on release-X.Y.`, one per line (Prow's cherry-pick PR bodies).
static CHERRY_PICK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Cherry pick of #([0-9]+) on release-([0-9]+\.[0-9]+).")
        .expect("the cherry-pick pattern compiles")
});
/// A note saying "none" (Go's `\W` is ASCII only).
static NONE_NOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[^0-9A-Za-z_]*(NONE|NO)[^0-9A-Za-z_]*$").expect("the none pattern compiles")
});

fn command(name: &str) -> Regex {
    Regex::new(&format!(r"(?mi)^/{name}[ \t\r\n\x0B\x0C]*$")).expect("a command pattern compiles")
}

static CMD_RELEASE_NOTE: LazyLock<Regex> = LazyLock::new(|| command("release-note"));
static CMD_EDIT: LazyLock<Regex> = LazyLock::new(|| command("release-note-edit"));
static CMD_NONE: LazyLock<Regex> = LazyLock::new(|| command("release-note-none"));
static CMD_ACTION_REQUIRED: LazyLock<Regex> =
    LazyLock::new(|| command("release-note-action-required"));

/// The explanation left on a PR with no release note.
fn needed_body(guidelines: &str) -> String {
    format!(
        "Adding the \"{LABEL_NEEDED}\" label because no release-note block was detected, please follow our [release note process]({guidelines}) to remove it."
    )
}

fn parent_body() -> String {
    format!(
        "All 'parent' PRs of a cherry-pick PR must have one of the \"{RELEASE_NOTE}\" or \"{ACTION_REQUIRED}\" labels, or this PR must follow the standard/parent release note labeling requirement."
    )
}

fn deprecation_body() -> String {
    format!(
        "Adding the \"{LABEL_NEEDED}\" label and removing any existing \"{NONE}\" label because there is a \"{DEPRECATION}\" label on the PR."
    )
}

/// The release note in `body`, trimmed; empty when there is no block.
pub fn release_note(body: &str) -> &str {
    NOTE_BLOCK
        .captures(body)
        .and_then(|c| c.get(1))
        .map_or("", |m| m.as_str().trim())
}

/// The label a PR with `body` and `labels` should carry (Prow's determineReleaseNoteLabel).
pub fn label_for(body: &str, labels: &BTreeSet<String>) -> &'static str {
    let note = release_note(body).to_lowercase();
    let note = note.trim();
    let none = NONE_NOTE.is_match(note);
    let deprecated = labels.contains(DEPRECATION);
    match () {
        () if note.is_empty() && deprecated => LABEL_NEEDED,
        () if note.is_empty() && labels.contains(NONE) => NONE,
        () if note.is_empty() => LABEL_NEEDED,
        () if none && deprecated => LABEL_NEEDED,
        () if none => NONE,
        () if note.contains("action required") => ACTION_REQUIRED,
        () => RELEASE_NOTE,
    }
}

/// The PRs `body` says it cherry-picks.
fn cherry_pick_parents(body: &str) -> Vec<u64> {
    body.split('\n')
        .filter_map(|line| CHERRY_PICK.captures(line))
        .filter_map(|c| c.get(1).and_then(|n| n.as_str().parse().ok()))
        .collect()
}

#[derive(Debug)]
pub struct ReleaseNote;

fn pr_relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && match event.action.as_str() {
            "opened" | "edited" | "ready_for_review" => true,
            // Other labels would only repeat our comment.
            "labeled" => event
                .label
                .as_deref()
                .is_some_and(|l| ALL_LABELS.contains(&l)),
            _ => false,
        }
}

fn base_ref(event: &Event) -> &str {
    event
        .pull_request
        .as_ref()
        .map_or("", |pr| pr.base.git_ref.as_str())
}

/// Whether the PR must follow the process: `None` for a cherry-pick whose parents all have a
/// note (Prow's prMustFollowRelNoteProcess), else the parents without one (`#N`, empty when
/// the PR targets master or cherry-picks nothing).
fn must_follow(event: &Event, facts: &Facts) -> Option<Vec<String>> {
    if base_ref(event) == "master" {
        return Some(vec![]);
    }
    let parents = cherry_pick_parents(&event.body);
    if parents.is_empty() {
        return Some(vec![]);
    }
    let noteless: Vec<String> = parents
        .iter()
        .filter(|p| {
            // A parent GitHub would not show us does not hold the cherry-pick back (as Prow).
            facts.labels_of.get(p).is_some_and(|labels| {
                !labels.iter().any(|l| {
                    l.eq_ignore_ascii_case(RELEASE_NOTE) || l.eq_ignore_ascii_case(ACTION_REQUIRED)
                })
            })
        })
        .map(|p| format!("#{p}"))
        .collect();
    (!noteless.is_empty()).then_some(noteless)
}

fn decide_pr(event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
    let needed = needed_body(config.release_note.guidelines_url());
    let mut labels: BTreeSet<String> = facts.labels.iter().cloned().collect();
    let mut want = label_for(&event.body, &labels);
    let noteless = must_follow(event, facts);
    let mut out = Vec::new();
    if want == LABEL_NEEDED {
        if event.pull_request.as_ref().is_some_and(|pr| pr.merged) {
            return out;
        }
        let Some(noteless) = &noteless else {
            // Every parent has a note: nothing to hold, nothing left to explain.
            if labels.contains(LABEL_NEEDED) {
                out.push(Action::RemoveLabel(LABEL_NEEDED.into()));
            }
            out.extend(prune(facts, &needed));
            return out;
        };
        if !noteless.is_empty() && !labels.contains(LABEL_NEEDED) {
            let reason = format!(
                "The following parent PRs have neither the \"{RELEASE_NOTE}\" nor the \"{ACTION_REQUIRED}\" labels: {}.",
                noteless.join(", ")
            );
            out.push(Action::Comment(format_response(
                &event.author.login,
                &parent_body(),
                &reason,
            )));
        }
        if labels.contains(DEPRECATION) {
            if !labels.contains(LABEL_NEEDED) {
                out.push(Action::Comment(format_simple_response(&deprecation_body())));
            }
        } else if facts.comments.iter().any(|c| CMD_NONE.is_match(&c.body)) {
            want = NONE;
        } else if !labels.contains(LABEL_NEEDED) {
            out.push(Action::Comment(format_simple_response(&needed)));
        }
    }
    if labels.insert(want.to_owned()) {
        out.push(Action::AddLabel(want.into()));
    }
    for other in ALL_LABELS.iter().filter(|l| **l != want) {
        if labels.remove(*other) {
            out.push(Action::RemoveLabel((*other).into()));
        }
    }
    let noted = [RELEASE_NOTE, ACTION_REQUIRED, NONE]
        .iter()
        .any(|l| labels.contains(*l));
    // While the PR still owes a note, the explanation stays.
    if noteless.is_none() || noted {
        out.extend(prune(facts, &needed));
    }
    out
}

/// Deletes our explanations that no longer apply.
fn prune(facts: &Facts, needed: &str) -> impl Iterator<Item = Action> {
    let parent = parent_body();
    facts
        .bot_comments()
        .filter(|c| c.body.contains(needed) || c.body.contains(&parent))
        .map(|c| Action::DeleteComment(c.id))
        .collect::<Vec<_>>()
        .into_iter()
}

fn comment_relevant(event: &Event) -> bool {
    event.kind == Kind::IssueComment
        && event.is_pr
        && event.action == "created"
        && event.comment.is_some()
}

fn decide_comment(event: &Event, facts: &Facts) -> Vec<Action> {
    let Some(c) = &event.comment else {
        return vec![];
    };
    let reply = |message: &str| {
        Action::Comment(ReplyTo::new(&c.body, &c.html_url, &c.user.login).reply(message))
    };
    if CMD_EDIT.is_match(&c.body) {
        if !facts.commenter_is_org_member {
            // Prow links the PR here, not the comment.
            let to = ReplyTo::new(&c.body, &event.html_url, &c.user.login);
            return vec![Action::Comment(
                to.reply("You must be an org member to edit the release note."),
            )];
        }
        let new_note = release_note(&c.body);
        if new_note.is_empty() {
            return vec![reply(
                "/release-note-edit must be used with a release note block.",
            )];
        }
        let Some(old) = NOTE_BLOCK.captures(&event.body).and_then(|m| m.get(1)) else {
            return vec![reply(
                "/release-note-edit must be used with a single release note block.",
            )];
        };
        // The edit is a new event that sets the labels.
        let body = format!(
            "{}\r\n{new_note}\r\n{}",
            &event.body[..old.start()],
            &event.body[old.end()..]
        );
        return vec![Action::EditBody(body)];
    }
    if CMD_RELEASE_NOTE.is_match(&c.body)
        || (!CMD_NONE.is_match(&c.body) && CMD_ACTION_REQUIRED.is_match(&c.body))
    {
        return vec![reply(&format!(
            "the `/{RELEASE_NOTE}` and `/{ACTION_REQUIRED}` commands have been deprecated.\nPlease edit the `release-note` block in the PR body text to include the release note. If the release note requires additional action include the string `action required` in the release note. For example:\n````\n```release-note\nSome release note with action required.\n```\n````"
        ))];
    }
    if !CMD_NONE.is_match(&c.body) {
        return vec![];
    }
    let is_author = c.user.login.eq_ignore_ascii_case(&event.author.login);
    if !facts.commenter_is_org_member && !is_author {
        return vec![reply(&format!(
            "you can only set the release note label to {NONE} if you are the PR author or an org member."
        ))];
    }
    let labels: BTreeSet<String> = event.labels.iter().cloned().collect();
    if matches!(
        label_for(&event.body, &labels),
        RELEASE_NOTE | ACTION_REQUIRED
    ) {
        return vec![reply(&format!(
            "you can only set the release note label to {NONE} if the release-note block in the PR body text is empty or \"none\"."
        ))];
    }
    if labels.contains(DEPRECATION) {
        return vec![reply(&format!(
            "you can not set the release note label to \"{NONE}\" because the PR has the label \"{DEPRECATION}\"."
        ))];
    }
    let mut out = Vec::new();
    if !labels.contains(NONE) {
        out.push(Action::AddLabel(NONE.into()));
    }
    out.extend(
        ALL_LABELS
            .iter()
            .filter(|l| **l != NONE && labels.contains(**l))
            .map(|l| Action::RemoveLabel((*l).into())),
    );
    out
}

impl Plugin for ReleaseNote {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request"]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let url = config.release_note.guidelines_url();
        PluginHelp {
            description: format!(
                "The releasenote plugin implements a release note process that uses a markdown 'release-note' code block to associate a release note with a pull request. Until the 'release-note' block in the pull request body is populated the PR will be assigned the '{LABEL_NEEDED}' label.\n<br>There are three valid types of release notes that can replace this label:\n<ol><li>PRs with a normal release note in the 'release-note' block are given the label '{RELEASE_NOTE}'.</li>\n<li>PRs that have a release note of 'none' in the block are given the label '{NONE}' to indicate that the PR does not warrant a release note.</li>\n<li>PRs that contain 'action required' in their 'release-note' block are given the label '{ACTION_REQUIRED}' to indicate that the PR introduces potentially breaking changes that necessitate user action before upgrading to the release.</li></ol>\nTo use the plugin, in the pull request body text:\n\n```release-note\n<release note content>\n```"
            ),
            commands: vec![
                Command::new(
                    "/release-note-none",
                    false,
                    &format!(
                        "Adds the '{NONE}' label to indicate that the PR does not warrant a release note. This is deprecated and ideally <a href=\"{url}\">the release note process</a> should be followed in the PR body instead."
                    ),
                    &["/release-note-none"],
                    "PR Authors and Org Members.",
                ),
                Command::new(
                    "/release-note-edit",
                    false,
                    "Replaces the release note block in the top level comment with the provided one.",
                    &["/release-note-edit\r\n```release-note\r\nThe new release note\r\n```"],
                    "Org Members.",
                ),
            ],
            ..PluginHelp::default()
        }
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        if pr_relevant(event) {
            let labels_of = if base_ref(event) == "master" {
                vec![]
            } else {
                cherry_pick_parents(&event.body)
            };
            return Some(Needs {
                labels: true,
                comments: true,
                labels_of,
                ..Needs::default()
            });
        }
        let c = event.comment.as_ref().filter(|_| comment_relevant(event))?;
        let asks = CMD_EDIT.is_match(&c.body) || CMD_NONE.is_match(&c.body);
        let answers =
            asks || CMD_RELEASE_NOTE.is_match(&c.body) || CMD_ACTION_REQUIRED.is_match(&c.body);
        answers.then(|| Needs {
            commenter_is_org_member: asks,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        if pr_relevant(event) {
            decide_pr(event, facts, config)
        } else if comment_relevant(event) {
            decide_comment(event, facts)
        } else {
            vec![]
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::PullRequest;
    use crate::plugin::IssueComment;
    use crate::testing::{comment_event, facts_with_labels};

    const NOTE: &str =
        "**What this PR does**:\r\n\r\n```release-note\r\nFixed the frobnicator.\r\n```\r\n";

    fn pr(action: &str, body: &str, base: &str) -> Event {
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = action.into();
        ev.comment = None;
        ev.body = body.into();
        let mut pr = PullRequest::default();
        pr.base.git_ref = base.into();
        ev.pull_request = Some(pr);
        ev
    }

    fn set(labels: &[&str]) -> BTreeSet<String> {
        labels.iter().map(|l| (*l).to_owned()).collect()
    }

    fn needed() -> String {
        format_simple_response(&needed_body(
            prow_core::config::DEFAULT_RELEASE_NOTE_GUIDELINES,
        ))
    }

    fn bot(id: u64, body: &str) -> IssueComment {
        IssueComment {
            id,
            user: "prow-bot".into(),
            body: body.into(),
            ..IssueComment::default()
        }
    }

    #[test]
    fn the_block_decides_the_label_as_prow() {
        let cases = [
            ("", &[][..], LABEL_NEEDED),
            ("", &[NONE][..], NONE),
            ("", &[DEPRECATION, NONE][..], LABEL_NEEDED),
            ("```release-note\nNONE\n```", &[][..], NONE),
            ("```release-note\n- no.\n```", &[][..], NONE),
            (
                "```release-note\nnone\n```",
                &[DEPRECATION][..],
                LABEL_NEEDED,
            ),
            (
                "```release-note\nAction required: rename flags\n```",
                &[][..],
                ACTION_REQUIRED,
            ),
            ("```release-note\nNew flag --x\n```", &[][..], RELEASE_NOTE),
            // The PR template's heading with an untagged fence and its HTML hint.
            (
                "**Release note**:\n<!-- write it -->\n```\nNew flag\n```",
                &[][..],
                RELEASE_NOTE,
            ),
            // A plain fence without the heading is not a release note.
            ("```\nNew flag\n```", &[][..], LABEL_NEEDED),
            ("```release-note\n\n```", &[][..], LABEL_NEEDED),
        ];
        for (body, labels, want) in cases {
            assert_eq!(label_for(body, &set(labels)), want, "{body:?} {labels:?}");
        }
        assert_eq!(
            cherry_pick_parents(
                "Cherry pick of #12 on release-1.2.\nCherry pick of #13 on release-1.2."
            ),
            [12, 13]
        );
    }

    #[test]
    fn a_pr_without_a_note_is_held_and_told_once() {
        let cfg = PluginsConfig::default();
        let ev = pr("opened", "no note here", "master");
        assert_eq!(
            ReleaseNote.needs(&ev, &cfg).unwrap(),
            Needs {
                labels: true,
                comments: true,
                ..Needs::default()
            }
        );
        assert_eq!(
            ReleaseNote.decide(&ev, &facts_with_labels(&[]), &cfg),
            [
                Action::Comment(needed()),
                Action::AddLabel(LABEL_NEEDED.into())
            ]
        );
        // Already held: nothing more is said.
        assert!(
            ReleaseNote
                .decide(&ev, &facts_with_labels(&[LABEL_NEEDED]), &cfg)
                .is_empty()
        );
        // A /release-note-none comment on the PR stands in for the block.
        let facts = Facts {
            comments: vec![IssueComment {
                id: 5,
                user: "author".into(),
                body: "/release-note-none".into(),
                ..IssueComment::default()
            }],
            ..facts_with_labels(&[LABEL_NEEDED])
        };
        assert_eq!(
            ReleaseNote.decide(&ev, &facts, &cfg),
            [
                Action::AddLabel(NONE.into()),
                Action::RemoveLabel(LABEL_NEEDED.into())
            ]
        );
        // Merged without a note: left alone.
        let mut merged = pr("edited", "", "master");
        merged.pull_request.as_mut().unwrap().merged = true;
        assert!(
            ReleaseNote
                .decide(&merged, &facts_with_labels(&[]), &cfg)
                .is_empty()
        );
        // Unrelated labels are not our business.
        let mut labeled = pr("labeled", "", "master");
        labeled.label = Some("lgtm".into());
        assert!(ReleaseNote.needs(&labeled, &cfg).is_none());
        labeled.label = Some(RELEASE_NOTE.into());
        assert!(ReleaseNote.needs(&labeled, &cfg).is_some());
    }

    #[test]
    fn a_written_note_replaces_the_hold_and_our_explanation_goes() {
        let cfg: PluginsConfig =
            serde_norway::from_str("release_note:\n  guidelines_url: https://example.com/rn\n")
                .unwrap();
        let explanation = format_simple_response(&needed_body("https://example.com/rn"));
        let facts = Facts {
            comments: vec![bot(3, &explanation), bot(4, "unrelated")],
            ..facts_with_labels(&[LABEL_NEEDED, NONE])
        };
        assert_eq!(
            ReleaseNote.decide(&pr("edited", NOTE, "master"), &facts, &cfg),
            [
                Action::AddLabel(RELEASE_NOTE.into()),
                Action::RemoveLabel(NONE.into()),
                Action::RemoveLabel(LABEL_NEEDED.into()),
                Action::DeleteComment(3),
            ]
        );
    }

    #[test]
    fn deprecation_needs_a_real_note() {
        let cfg = PluginsConfig::default();
        let ev = pr("labeled", "```release-note\nNONE\n```", "master");
        let mut ev = ev;
        ev.label = Some(NONE.into());
        assert_eq!(
            ReleaseNote.decide(&ev, &facts_with_labels(&[DEPRECATION, NONE]), &cfg),
            [
                Action::Comment(format_simple_response(&deprecation_body())),
                Action::AddLabel(LABEL_NEEDED.into()),
                Action::RemoveLabel(NONE.into()),
            ]
        );
    }

    #[test]
    fn a_cherry_pick_follows_its_parents() {
        let cfg = PluginsConfig::default();
        let body = "Cherry pick of #12 on release-1.2.\nCherry pick of #13 on release-1.2.";
        let ev = pr("opened", body, "release-1.2");
        assert_eq!(ReleaseNote.needs(&ev, &cfg).unwrap().labels_of, [12, 13]);
        // On master the parents are not even read.
        assert!(
            ReleaseNote
                .needs(&pr("opened", body, "master"), &cfg)
                .unwrap()
                .labels_of
                .is_empty()
        );
        let mut facts = facts_with_labels(&[LABEL_NEEDED]);
        facts.comments = vec![bot(8, &needed())];
        facts.labels_of.insert(12, vec!["release-note".into()]);
        facts
            .labels_of
            .insert(13, vec!["Release-Note-Action-Required".into()]);
        assert_eq!(
            ReleaseNote.decide(&ev, &facts, &cfg),
            [
                Action::RemoveLabel(LABEL_NEEDED.into()),
                Action::DeleteComment(8)
            ]
        );
        facts.labels_of.insert(13, vec![]);
        facts.labels = vec![];
        let reason = format!(
            "The following parent PRs have neither the \"{RELEASE_NOTE}\" nor the \"{ACTION_REQUIRED}\" labels: #13."
        );
        assert_eq!(
            ReleaseNote.decide(&ev, &facts, &cfg),
            [
                Action::Comment(format_response("author", &parent_body(), &reason)),
                Action::Comment(needed()),
                Action::AddLabel(LABEL_NEEDED.into()),
            ]
        );
    }

    fn comment(
        body: &str,
        commenter: &str,
        member: bool,
        pr_body: &str,
        labels: &[&str],
    ) -> Vec<Action> {
        let mut ev = comment_event(body, commenter, true);
        ev.body = pr_body.into();
        ev.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        let facts = Facts {
            commenter_is_org_member: member,
            ..facts_with_labels(&[])
        };
        ReleaseNote.decide(&ev, &facts, &PluginsConfig::default())
    }

    fn reply(body: &str, commenter: &str, message: &str) -> Action {
        Action::Comment(
            ReplyTo::new(
                body,
                "https://github.com/acme/foo/pull/7#issuecomment-1",
                commenter,
            )
            .reply(message),
        )
    }

    #[test]
    fn release_note_none_is_for_the_author_and_org_members() {
        assert_eq!(
            comment("/release-note-none", "author", false, "", &[LABEL_NEEDED]),
            [
                Action::AddLabel(NONE.into()),
                Action::RemoveLabel(LABEL_NEEDED.into())
            ]
        );
        assert_eq!(
            comment("/release-note-none", "member", true, "", &[NONE]),
            []
        );
        assert_eq!(
            comment("/release-note-none", "stranger", false, "", &[]),
            [reply(
                "/release-note-none",
                "stranger",
                "you can only set the release note label to release-note-none if you are the PR author or an org member."
            )]
        );
        assert_eq!(
            comment("/release-note-none", "author", false, NOTE, &[]),
            [reply(
                "/release-note-none",
                "author",
                "you can only set the release note label to release-note-none if the release-note block in the PR body text is empty or \"none\"."
            )]
        );
        assert_eq!(
            comment("/release-note-none", "author", false, "", &[DEPRECATION]),
            [reply(
                "/release-note-none",
                "author",
                "you can not set the release note label to \"release-note-none\" because the PR has the label \"kind/deprecation\"."
            )]
        );
        let Action::Comment(deprecated) = &comment("/release-note", "author", false, "", &[])[0]
        else {
            panic!()
        };
        assert!(
            deprecated.contains("commands have been deprecated"),
            "{deprecated}"
        );
        assert!(comment("/release-notes", "author", true, "", &[]).is_empty());
        // Only the edit and none commands ask GitHub who the commenter is.
        let ev = comment_event("/release-note", "author", true);
        assert!(
            !ReleaseNote
                .needs(&ev, &PluginsConfig::default())
                .unwrap()
                .commenter_is_org_member
        );
        assert!(
            ReleaseNote
                .needs(
                    &comment_event("/release-note-none", "a", false),
                    &PluginsConfig::default()
                )
                .is_none()
        );
    }

    #[test]
    fn release_note_edit_splices_the_new_note_in() {
        let edit = "/release-note-edit\r\n```release-note\r\nThe new note\r\n```";
        assert_eq!(
            comment(edit, "member", true, NOTE, &[]),
            [Action::EditBody(
                "**What this PR does**:\r\n\r\n```release-note\r\nThe new note\r\n```\r\n".into()
            )]
        );
        assert_eq!(
            comment("/release-note-edit", "member", true, NOTE, &[]),
            [reply(
                "/release-note-edit",
                "member",
                "/release-note-edit must be used with a release note block."
            )]
        );
        assert_eq!(
            comment(edit, "member", true, "no block", &[]),
            [reply(
                edit,
                "member",
                "/release-note-edit must be used with a single release note block."
            )]
        );
        let Action::Comment(refused) = &comment(edit, "author", false, NOTE, &[])[0] else {
            panic!()
        };
        assert!(
            refused.starts_with("@author: You must be an org member to edit the release note.")
                && refused.contains("In response to [this](https://github.com/acme/foo/pull/7):"),
            "{refused}"
        );
    }
}
