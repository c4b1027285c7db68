//! approve: the `approved` label and the approval notification (Prow's `pkg/plugins/approve`).
//! Approvals are rebuilt from the PR's whole comment and review history on every event, so a
//! redelivered or reordered event converges; only OWNERS approvers of the changed files count
//! (prow-owners does the arithmetic and renders the notification). Unlike Prow, which deletes
//! its notification and posts a new one on every change, the newest notification is edited in
//! place and older duplicates are deleted.

use prow_core::config::{ApproveConfig, PluginsConfig};
use prow_owners::{APPROVAL_NOTIFIER, Approvers, NotificationLinks, Owners};

use crate::event::{Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, IssueComment, Needs, Plugin, PrFacts, PrReview};
use crate::registry::Repo;

pub const LABEL: &str = "approved";
/// Prow's default `github.link_url`: where the notification's OWNERS links point.
const GITHUB_URL: &str = "https://github.com";

#[derive(Debug)]
pub struct Approve;

/// One `/command args` line as Prow's approve reads it (`(?m)^/([^\s]+)[\t ]*([^\n\r]*)` on
/// the raw body: unlike other plugins, code blocks and quotes are not stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cmd<'a> {
    /// Upper case.
    name: String,
    args: &'a str,
}

fn commands(body: &str) -> Vec<Cmd<'_>> {
    body.split('\n')
        .filter_map(|line| {
            let rest = line.strip_prefix('/')?;
            // Go's \s: tab, newline, form feed, carriage return, space.
            let is_space = |c: char| matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ');
            let end = rest.find(is_space).unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            let (name, after) = rest.split_at(end);
            let args = after.trim_start_matches([' ', '\t']);
            let args = &args[..args.find('\r').unwrap_or(args.len())];
            Some(Cmd {
                name: name.to_uppercase(),
                args,
            })
        })
        .collect()
}

/// Prow's isApprovalCommand, bots already excluded.
fn has_approval_command(body: &str, lgtm_acts_as_approve: bool) -> bool {
    commands(body).iter().any(|c| {
        c.name == "APPROVE"
            || c.name == "REMOVE-APPROVE"
            || (c.name == "LGTM" && lgtm_acts_as_approve)
    })
}

/// Prow's isApprovalState: review states that approve, cancel or withdraw.
fn is_approval_state(state: &str, consider_reviews: bool) -> bool {
    consider_reviews
        && matches!(
            state.to_ascii_uppercase().as_str(),
            "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
        )
}

/// Whether `event` may change approval (Prow's three handlers' filters). `bot` is our login
/// when known; without it only GitHub App accounts are recognised as bots.
fn is_relevant(event: &Event, bot: Option<&str>, cfg: &ApproveConfig) -> bool {
    let is_bot = |login: &str, kind: &str| {
        kind == "Bot" || bot.is_some_and(|b| login.eq_ignore_ascii_case(b))
    };
    let consider_reviews = !cfg.ignore_review_state();
    match event.kind {
        Kind::PullRequest => match event.action.as_str() {
            "opened" | "reopened" | "synchronize" => true,
            "labeled" => {
                event.label.as_deref() == Some(LABEL)
                    && !is_bot(&event.sender.login, &event.sender.kind)
                    && event.state != "closed"
            }
            _ => false,
        },
        Kind::IssueComment | Kind::PullRequestReview => {
            // A command in a comment or a review body (Prow's generic comment handler).
            if let Some(c) = event.created_comment()
                && event.is_pr
                && event.state != "closed"
                && !is_bot(&c.user.login, &c.user.kind)
                && has_approval_command(&c.body, cfg.lgtm_acts_as_approve)
            {
                return true;
            }
            // Else a review's state (Prow's review handler), submitted or dismissed.
            let Some(review) = &event.review else {
                return false;
            };
            event.kind == Kind::PullRequestReview
                && matches!(event.action.as_str(), "submitted" | "dismissed")
                && !is_bot(&review.user.login, &review.user.kind)
                && !has_approval_command(
                    review.body.as_deref().unwrap_or_default(),
                    cfg.lgtm_acts_as_approve,
                )
                && is_approval_state(&review.state, consider_reviews)
        }
        Kind::Issues => false,
    }
}

/// The first issue the PR body links: `#123` or `<org>/<any repo>/issues/123` (Prow's
/// associatedIssueRegexFormat, leftmost match).
pub fn associated_issue(body: &str, org: &str) -> Option<u64> {
    let digits = |s: &str| -> Option<u64> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok()
    };
    let link = format!("{org}/");
    body.char_indices().find_map(|(i, c)| {
        let rest = &body[i..];
        if c == '#'
            && let Some(n) = digits(&rest[1..])
        {
            return Some(n);
        }
        let after = rest.strip_prefix(&link)?;
        let slash = after.find('/')?;
        if slash == 0 {
            return None;
        }
        digits(after[slash..].strip_prefix("/issues/")?)
    })
}

/// A comment-like entry of the PR's history (Prow's approve `comment`).
struct Entry<'a> {
    author: &'a str,
    body: &'a str,
    html_url: &'a str,
    created_at: &'a str,
    /// Upper case; empty for comments.
    review_state: &'a str,
}

/// Comments and reviews, oldest first (stable, so ties keep comments before reviews as Prow's
/// order of concatenation does).
fn history<'a>(comments: &'a [IssueComment], reviews: &'a [PrReview]) -> Vec<Entry<'a>> {
    let mut all: Vec<Entry<'a>> = comments
        .iter()
        .map(|c| Entry {
            author: &c.user,
            body: &c.body,
            html_url: &c.html_url,
            created_at: &c.created_at,
            review_state: "",
        })
        .chain(reviews.iter().map(|r| Entry {
            author: &r.user,
            body: &r.body,
            html_url: &r.html_url,
            created_at: &r.submitted_at,
            review_state: &r.state,
        }))
        .collect();
    all.sort_by(|a, b| a.created_at.cmp(b.created_at));
    all
}

/// Prow's addApprovers: each approving entry in order; the latest word of each person wins.
fn add_approvals(
    approvers: &mut Approvers<'_>,
    entries: &[Entry<'_>],
    author: &str,
    consider_reviews: bool,
) {
    for e in entries {
        if e.author.is_empty() {
            continue;
        }
        if consider_reviews && e.review_state == "APPROVED" {
            approvers.add_approver(e.author, e.html_url, false);
        }
        if consider_reviews && e.review_state == "CHANGES_REQUESTED" {
            approvers.remove_approver(e.author);
        }
        for cmd in commands(e.body) {
            if cmd.name == "REMOVE-APPROVE" {
                approvers.remove_approver(e.author);
                continue;
            }
            if cmd.name != "APPROVE" && cmd.name != "LGTM" {
                continue;
            }
            let args = cmd.args.trim().to_lowercase();
            if args.contains("cancel") {
                approvers.remove_approver(e.author);
                continue;
            }
            let no_issue = args == "no-issue";
            if e.author == author {
                approvers.add_author_self_approver(e.author, e.html_url, no_issue);
            }
            if cmd.name == "APPROVE" {
                approvers.add_approver(e.author, e.html_url, no_issue);
            } else {
                approvers.add_lgtmer(e.author, e.html_url, no_issue);
            }
        }
    }
}

/// Our approval notifications, oldest first (Prow's notificationMatcher).
fn notifications(facts: &Facts) -> Vec<&IssueComment> {
    facts
        .bot_comments()
        .filter(|c| {
            c.body
                .get(..APPROVAL_NOTIFIER.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(APPROVAL_NOTIFIER))
        })
        .collect()
}

/// What the PR's history adds up to: whether it is approved, and the notification text.
fn evaluate(
    event: &Event,
    facts: &Facts,
    pr: &PrFacts,
    owners: &prow_owners::RepoOwners,
    cfg: &ApproveConfig,
) -> (bool, String) {
    let mut approvers = Approvers::new(Owners::new(pr.changed_files.clone(), owners));
    approvers.associated_issue = associated_issue(&pr.body, &event.org);
    approvers.require_issue = cfg.issue_required;
    // Prow asks GitHub's issue events whether a human added the label; we know it only when
    // this very event is that labeling (is_relevant already excluded bots).
    approvers.manually_approved = event.kind == Kind::PullRequest
        && event.action == "labeled"
        && event.label.as_deref() == Some(LABEL);
    let author = event.author.login.as_str();
    if !cfg.require_self_approval() {
        approvers.add_author_self_approver(author, &format!("{}#", pr.html_url), false);
    }
    let is_bot = |login: &str| {
        login.eq_ignore_ascii_case(&facts.bot)
            || facts
                .reviews
                .iter()
                .any(|r| r.user_is_bot && r.user == login)
    };
    let consider_reviews = !cfg.ignore_review_state();
    let approving: Vec<Entry<'_>> = history(&facts.comments, &facts.reviews)
        .into_iter()
        .filter(|e| !is_bot(e.author))
        .filter(|e| {
            has_approval_command(e.body, cfg.lgtm_acts_as_approve)
                || is_approval_state(e.review_state, consider_reviews)
        })
        .collect();
    add_approvals(&mut approvers, &approving, author, consider_reviews);
    approvers.add_assignees(pr.assignees.iter());
    let links = NotificationLinks {
        github_url: GITHUB_URL.to_owned(),
        command_help_link: cfg.command_help_link.clone(),
        pr_process_link: cfg.pr_process_link.clone(),
    };
    let message = approvers.notification(&links, &event.org, &event.repo, &pr.base_ref);
    (approvers.is_approved(), message)
}

/// The notification edited in place: nothing when the newest already says it, else the
/// newest rewritten and the older ones deleted, or a first one created.
fn notify(facts: &Facts, message: String) -> Vec<Action> {
    let existing = notifications(facts);
    let Some((latest, older)) = existing.split_last() else {
        return vec![Action::Comment(message)];
    };
    if latest.body.contains(&message) {
        return vec![];
    }
    let mut actions: Vec<Action> = older.iter().map(|c| Action::DeleteComment(c.id)).collect();
    actions.push(Action::EditComment {
        id: latest.id,
        body: message,
    });
    actions
}

impl Plugin for Approve {
    fn name(&self) -> &'static str {
        "approve"
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, config: &PluginsConfig, repos: &[Repo]) -> PluginHelp {
        let do_not = |b: bool| if b { "" } else { "do not " };
        let will_not = |b: bool| if b { "will " } else { "will not " };
        let mut help = PluginHelp {
            description: format!(
                "The approve plugin implements a pull request approval process that manages the '{LABEL}' label and an approval notification comment. Approval is achieved when the set of users that have approved the PR is capable of approving every file changed by the PR. A user is able to approve a file if their username or an alias they belong to is listed in the 'approvers' section of an OWNERS file in the directory of the file or higher in the directory tree.\n<br>\n<br>Per-repo configuration may be used to require that PRs link to an associated issue before approval is granted. It may also be used to specify that the PR authors implicitly approve their own PRs.\n<br>For more information see <a href=\"https://docs.prow.k8s.io/docs/components/plugins/approve/approvers/\">here</a>."
            ),
            commands: vec![Command::new(
                "/[remove-]approve [no-issue|cancel]",
                true,
                "Approves a pull request",
                &["/approve", "/approve no-issue", "/remove-approve"],
                "Users listed as 'approvers' in appropriate OWNERS files.",
            )],
            ..PluginHelp::default()
        };
        for repo in repos {
            let opts = config.approve_for(&repo.org, &repo.repo);
            help.config.insert(
                repo.full_name(),
                format!(
                    "Pull requests {}require an associated issue.<br>Pull request authors {}implicitly approve their own PRs.<br>The /lgtm [cancel] command(s) {}act as approval.<br>A GitHub approved or changes requested review {}act as approval or cancel respectively.",
                    do_not(opts.issue_required),
                    do_not(!opts.require_self_approval()),
                    will_not(opts.lgtm_acts_as_approve),
                    will_not(!opts.ignore_review_state()),
                ),
            );
        }
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        let cfg = config.approve_for(&event.org, &event.repo);
        is_relevant(event, None, &cfg).then(|| Needs {
            labels: true,
            comments: true,
            pull_request_owners: true,
            reviews: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let cfg = config.approve_for(&event.org, &event.repo);
        if !is_relevant(event, Some(&facts.bot), &cfg) {
            return vec![];
        }
        let (Some(pr), Some(owners)) = (&facts.pull_request, &facts.repo_owners) else {
            return vec![];
        };
        let (approved, message) = evaluate(event, facts, pr, owners, &cfg);
        let mut actions = notify(facts, message);
        let has = facts.has_label(LABEL);
        if approved && !has {
            actions.push(Action::AddLabel(LABEL.into()));
        } else if !approved && has {
            actions.push(Action::RemoveLabel(LABEL.into()));
        }
        actions
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
