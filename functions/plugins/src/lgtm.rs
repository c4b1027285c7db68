//! lgtm: `/lgtm` adds the `lgtm` label, `/lgtm cancel` and `/remove-lgtm` remove it; reviews
//! act as them with `review_acts_as_lgtm`; a push removes it unless the tree is unchanged
//! (`store_tree_hash`) or the author is in `trusted_team_for_sticky_lgtm` (Prow's
//! `pkg/plugins/lgtm`). Collaborators may; the PR author may only cancel.

use prow_core::commands::CommandLine;
use prow_core::config::{LgtmConfig, PluginsConfig};

use crate::event::{Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;
use crate::respond::ReplyTo;

pub const LABEL: &str = "lgtm";
/// The comment that records the tree hash lgtm was given on; `{}` is the hash.
const ADDED_PREFIX: &str = "LGTM label has been added.  <details>Git tree hash: ";
const ADDED_SUFFIX: &str = "</details>";
pub const REMOVED_NOTICE: &str = "New changes are detected. LGTM label has been removed.";

#[derive(Debug)]
pub struct Lgtm;

/// The tree-hash notification for `tree`.
pub fn added_notice(tree: &str) -> String {
    format!("{ADDED_PREFIX}{tree}{ADDED_SUFFIX}")
}

/// The tree hash in one of our tree-hash notifications (Prow's `addLGTMLabelNotificationRe`).
fn notice_tree(body: &str) -> Option<&str> {
    let start = body.find(ADDED_PREFIX)? + ADDED_PREFIX.len();
    let rest = &body[start..];
    let end = rest.find(ADDED_SUFFIX)?;
    Some(&rest[..end])
}

/// `/lgtm` or `/lgtm no-issue`.
fn is_lgtm(c: &CommandLine<'_>) -> bool {
    c.is_any_case("lgtm") && (c.bare() || c.args.eq_ignore_ascii_case("no-issue"))
}

/// `/remove-lgtm` or `/lgtm cancel` (one space, as Prow's regex).
fn is_cancel(c: &CommandLine<'_>) -> bool {
    (c.is_any_case("remove-lgtm") && c.bare())
        || (c.is_any_case("lgtm")
            && c.raw_args
                .trim_end_matches(|ch: char| ch.is_ascii_whitespace())
                .eq_ignore_ascii_case(" cancel"))
}

/// Who asks for what: the person, whether they want the label, the comment to answer.
struct Request {
    who: String,
    want: bool,
    reply_to: ReplyTo,
}

fn request(event: &Event, bot: Option<&str>, cfg: &LgtmConfig) -> Option<Request> {
    let comment = event.created_comment()?;
    let text = &comment.text;
    let commanded = if text.any(is_lgtm) {
        Some(true)
    } else if text.any(is_cancel) {
        Some(false)
    } else {
        None
    };
    let want = match commanded {
        // Comments, PR bodies and review bodies alike (Prow's generic comment handler).
        Some(want) if event.is_pr && event.state == "open" => want,
        Some(_) => return None,
        // A review's state (Prow's review handler), when its body holds no command.
        None if event.kind == Kind::PullRequestReview => {
            let review = event.review.as_ref()?;
            let is_bot = review.user.kind == "Bot"
                || bot.is_some_and(|b| review.user.login.eq_ignore_ascii_case(b));
            if !cfg.review_acts_as_lgtm || is_bot {
                return None;
            }
            match review.state.to_ascii_uppercase().as_str() {
                "APPROVED" => true,
                "CHANGES_REQUESTED" => false,
                _ => return None,
            }
        }
        None => return None,
    };
    Some(Request {
        who: comment.user.login.clone(),
        want,
        reply_to: ReplyTo::new(&comment.body, &comment.html_url, &comment.user.login),
    })
}

fn is_push(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && event.action == "synchronize"
        && event.pull_request.as_ref().is_some_and(|pr| !pr.merged)
}

fn facts_needed(cfg: &LgtmConfig) -> Needs {
    Needs {
        labels: true,
        comments: true,
        head_tree: cfg.store_tree_hash,
        author_in_team: (!cfg.sticky_lgtm_team.is_empty()).then(|| cfg.sticky_lgtm_team.clone()),
        ..Needs::default()
    }
}

impl Plugin for Lgtm {
    fn name(&self) -> &'static str {
        "lgtm"
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let mut help = PluginHelp {
            description: "The lgtm plugin manages the application and removal of the 'lgtm' (Looks Good To Me) label which is typically used to gate merging.".into(),
            commands: vec![Command::new(
                "/[remove-]lgtm [cancel] or GitHub Review action",
                true,
                "Adds or removes the 'lgtm' label which is typically used to gate merging.",
                &["/lgtm", "/lgtm cancel", "/remove-lgtm", "<a href=\"https://help.github.com/articles/about-pull-request-reviews/\">'Approve' or 'Request Changes'</a>"],
                "Collaborators on the repository. '/lgtm cancel' can be used additionally by the PR author.",
            )],
            ..PluginHelp::default()
        };
        for repo in repos {
            let opts = config.lgtm_for(&repo.org, &repo.repo);
            let mut items = Vec::new();
            if opts.review_acts_as_lgtm {
                items.push(
                    r#"Reviews of "approve" or "request changes" act as adding or removing LGTM."#
                        .to_owned(),
                );
            }
            if opts.store_tree_hash {
                items.push("Squashing commits does not remove LGTM.".to_owned());
            }
            if !opts.sticky_lgtm_team.is_empty() {
                items.push(format!(
                    r#"Commits from "{}" do not remove LGTM."#,
                    opts.sticky_lgtm_team
                ));
            }
            if !items.is_empty() {
                let lis: String = items.iter().map(|i| format!("<li>{i}</li>\n")).collect();
                help.config.insert(
                    repo.full_name(),
                    format!("The plugin has the following configuration:<ul>\n{lis}</ul>"),
                );
            }
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        let cfg = config.lgtm_for(&event.org, &event.repo);
        if is_push(event) {
            return Some(facts_needed(&cfg));
        }
        let req = request(event, None, &cfg)?;
        let other = req.who != event.author.login;
        let skip = config.skip_collaborators(&event.org, &event.repo);
        Some(Needs {
            commenter_is_collaborator: other && !skip,
            owners_reviewers: other && skip,
            ..facts_needed(&cfg)
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let cfg = config.lgtm_for(&event.org, &event.repo);
        if is_push(event) {
            return on_push(event, facts, &cfg);
        }
        let Some(req) = request(event, Some(&facts.bot), &cfg) else {
            return vec![];
        };
        on_request(
            event,
            &req,
            facts,
            &cfg,
            config.skip_collaborators(&event.org, &event.repo),
        )
    }
}

fn on_request(
    event: &Event,
    req: &Request,
    facts: &Facts,
    cfg: &LgtmConfig,
    skip_collaborators: bool,
) -> Vec<Action> {
    let is_author = req.who == event.author.login;
    if is_author && req.want {
        return vec![Action::Comment(
            req.reply_to.reply("you cannot LGTM your own PR."),
        )];
    }
    let mut actions = Vec::new();
    if !is_author && skip_collaborators {
        // Prow's skip_collaborators: OWNERS approvers and reviewers of the changed files may,
        // collaborators or not.
        let who = req.who.to_lowercase();
        if !facts.owners_reviewers.contains(&who) {
            return vec![Action::Comment(req.reply_to.reply(
                "adding LGTM is restricted to approvers and reviewers in OWNERS files.",
            ))];
        }
    } else if !is_author {
        if !facts.commenter_is_collaborator {
            return vec![Action::Comment(
                req.reply_to
                    .reply("changing LGTM is restricted to collaborators"),
            )];
        }
        if !event.assignees.contains(&req.who) {
            actions.push(Action::Assign {
                logins: vec![req.who.clone()],
                missing: None,
            });
        }
    }
    let has = facts.has_label(LABEL);
    if has && !req.want {
        actions.extend(remove(event, cfg));
        if cfg.store_tree_hash {
            actions.extend(prune(facts, |body| notice_tree(body).is_some()));
        }
    } else if !has && req.want {
        actions.push(Action::AddLabel(LABEL.into()));
        if !facts.author_in_team {
            if let (true, Some(tree)) = (cfg.store_tree_hash, &facts.head_tree) {
                actions.push(Action::Comment(added_notice(tree)));
            }
            actions.extend(prune(facts, |body| body.contains(REMOVED_NOTICE)));
        }
    }
    actions
}

fn on_push(event: &Event, facts: &Facts, cfg: &LgtmConfig) -> Vec<Action> {
    if facts.author_in_team || !facts.has_label(LABEL) {
        return vec![];
    }
    if cfg.store_tree_hash {
        // The newest notification we have not edited since (Prow's check).
        let last = facts
            .bot_comments()
            .rev()
            .filter(|c| !c.edited)
            .find_map(|c| notice_tree(&c.body));
        if last.is_some() && last == facts.head_tree.as_deref() {
            return vec![];
        }
    }
    let mut actions = remove(event, cfg);
    actions.push(Action::Comment(REMOVED_NOTICE.into()));
    actions
}

/// Prow's removeLGTMAndRequestReview: with tree hashes, the assignees are asked to review again.
fn remove(event: &Event, cfg: &LgtmConfig) -> Vec<Action> {
    let mut actions = vec![Action::RemoveLabel(LABEL.into())];
    if cfg.store_tree_hash && !event.assignees.is_empty() {
        actions.push(Action::RequestReview {
            logins: event.assignees.clone(),
            missing: None,
        });
    }
    actions
}

fn prune(facts: &Facts, matches: impl Fn(&str) -> bool) -> Vec<Action> {
    facts
        .bot_comments()
        .filter(|c| matches(&c.body))
        .map(|c| Action::DeleteComment(c.id))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
