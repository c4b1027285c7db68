//! Typed errors of the GitHub port; each names the call it came from (`get_pull_request org/repo#123`).

use std::time::Duration;

/// What went wrong talking to GitHub. `call` names the operation and its target.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// GitHub answered with a status the call does not accept.
    #[error("{call}: GitHub answered {status}: {message}")]
    Status {
        call: String,
        status: u16,
        message: String,
    },
    /// The primary rate limit is spent and resets later than we are willing to wait.
    #[error(
        "{call}: rate limit exhausted; it resets in {reset_in:?}, longer than the {max_wait:?} we wait"
    )]
    RateLimited {
        call: String,
        reset_in: Duration,
        max_wait: Duration,
    },
    /// Every attempt failed with a retryable answer (5xx, secondary rate limit).
    #[error("{call}: gave up after {attempts} attempts; last answer {last_status}: {message}")]
    RetriesExhausted {
        call: String,
        attempts: u32,
        last_status: u16,
        message: String,
    },
    /// The request never got an answer (connection refused, reset, timeout).
    #[error("{call}: no answer after {attempts} attempts: {source}")]
    Transport {
        call: String,
        attempts: u32,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// GitHub's answer did not have the expected shape.
    #[error("{call}: cannot decode GitHub's answer: {source}")]
    Decode {
        call: String,
        #[source]
        source: serde_json::Error,
    },
    /// GitHub answered successfully but not with what the call asks for (a directory where
    /// a file was asked for, a file too large for the contents API).
    #[error("{call}: {message}")]
    Unexpected { call: String, message: String },
    /// A list kept announcing a next page past our limit.
    #[error("{call}: still more pages after {pages}; giving up")]
    TooManyPages { call: String, pages: usize },
    /// We are a GitHub App that is not installed in the account a call is about.
    #[error("{call}: the GitHub App is not installed in {account}")]
    AppNotInstalled { call: String, account: String },
    /// A dry run was asked for something it has not been told.
    #[error("{call}: not known to the dry-run GitHub")]
    DryRunUnknown { call: String },
    /// The client could not be set up (bad base URI, unreadable credentials, bad key).
    #[error("GitHub client setup: {0}")]
    Setup(String),
}

impl GitHubError {
    /// The HTTP status GitHub answered, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            GitHubError::RetriesExhausted { last_status, .. } => Some(*last_status),
            _ => None,
        }
    }

    /// GitHub's own explanation (the `message` field of its answer), when it answered.
    pub fn message(&self) -> Option<&str> {
        match self {
            GitHubError::Status { message, .. } | GitHubError::RetriesExhausted { message, .. } => {
                Some(message)
            }
            _ => None,
        }
    }

    /// True for "no such thing" answers, which callers often treat as a normal outcome.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || matches!(self, GitHubError::DryRunUnknown { .. })
    }
}

pub type Result<T, E = GitHubError> = std::result::Result<T, E>;
