//! Builders for decision tests: events and facts without payload files.

use prow_core::commands::CommandText;

use crate::event::{CommentAction, Event, GenericComment, Kind, User};
use crate::plugin::Facts;

pub(crate) fn user(login: &str) -> User {
    User {
        login: login.to_owned(),
        kind: "User".to_owned(),
    }
}

/// `commenter` comments `body` on acme/foo#7, opened by `author`.
pub(crate) fn comment_event(body: &str, commenter: &str, is_pr: bool) -> Event {
    Event {
        kind: Kind::IssueComment,
        action: "created".into(),
        org: "acme".into(),
        repo: "foo".into(),
        number: 7,
        is_pr,
        state: "open".into(),
        title: "Fix the frobnicator".into(),
        body: String::new(),
        html_url: if is_pr {
            "https://github.com/acme/foo/pull/7".into()
        } else {
            "https://github.com/acme/foo/issues/7".into()
        },
        author: user("author"),
        assignees: vec![],
        labels: vec![],
        comment: Some(GenericComment {
            action: CommentAction::Created,
            body: body.into(),
            text: CommandText::new(body),
            html_url: "https://github.com/acme/foo/pull/7#issuecomment-1".into(),
            user: user(commenter),
        }),
        pull_request: None,
        review: None,
        label: None,
        sender: user(commenter),
        delivery_id: "delivery-1".into(),
    }
}

pub(crate) fn facts_with_labels(labels: &[&str]) -> Facts {
    Facts {
        bot: "prow-bot".into(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        ..Facts::default()
    }
}
