//! The CloudEvent catalogue: every event type and source shape that crosses the broker.

/// Prefix of the events hook publishes; the GitHub event name (`X-GitHub-Event`) follows it.
pub const GITHUB_EVENT_PREFIX: &str = "dev.prow.github.";
pub const GITHUB_PULL_REQUEST: &str = "dev.prow.github.pull_request";
pub const GITHUB_ISSUE_COMMENT: &str = "dev.prow.github.issue_comment";
pub const GITHUB_PUSH: &str = "dev.prow.github.push";
pub const GITHUB_PULL_REQUEST_REVIEW: &str = "dev.prow.github.pull_request_review";
pub const GITHUB_PULL_REQUEST_REVIEW_COMMENT: &str = "dev.prow.github.pull_request_review_comment";
/// Commit statuses and check runs: tide's merge pools follow them.
pub const GITHUB_STATUS: &str = "dev.prow.github.status";
pub const GITHUB_CHECK_RUN: &str = "dev.prow.github.check_run";

/// CloudEvent extension attribute carrying the GitHub payload's `action` field.
pub const EXT_ACTION: &str = "action";

/// Knative ApiServerSource (mode Resource) event types.
pub const APISERVER_ADD: &str = "dev.knative.apiserver.resource.add";
pub const APISERVER_UPDATE: &str = "dev.knative.apiserver.resource.update";
pub const APISERVER_DELETE: &str = "dev.knative.apiserver.resource.delete";

/// Knative PingSource tick.
pub const PING: &str = "dev.knative.sources.ping";

/// CloudEvent type for a GitHub webhook event name, e.g. `push` -> `dev.prow.github.push`.
pub fn github_event_type(event: &str) -> String {
    format!("{GITHUB_EVENT_PREFIX}{event}")
}

/// CloudEvent source for a repository: its GitHub URL.
pub fn github_source(full_name: &str) -> String {
    format!("https://github.com/{full_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_event_types_use_the_webhook_event_name() {
        assert_eq!(github_event_type("pull_request"), GITHUB_PULL_REQUEST);
        assert_eq!(github_event_type("push"), GITHUB_PUSH);
        assert_eq!(github_source("acme/foo"), "https://github.com/acme/foo");
    }
}
