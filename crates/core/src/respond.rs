//! How Prow's bot words a reply (`plugins.FormatResponseRaw`), for functions outside the plugins
//! crate (config-updater, needs-rebase, cherrypicker) that answer on a PR.

/// Prow's note about the bot, under every response.
pub const ABOUT_THIS_BOT: &str = "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository.";

/// Prow's `FormatResponse`: mention `to`, say `message`, and fold `reason` and the note away.
pub fn format_response(to: &str, message: &str, reason: &str) -> String {
    format!("@{to}: {message}\n<details>\n{reason}\n{ABOUT_THIS_BOT}\n</details>")
}

/// Prow's `FormatResponseRaw`: `message` to `login`, quoting every line of `body` (a comment or
/// PR description at `html_url`).
pub fn format_response_raw(body: &str, html_url: &str, login: &str, message: &str) -> String {
    let quoted: Vec<String> = body.split('\n').map(|l| format!(">{l}")).collect();
    let reason = format!(
        "In response to [this]({html_url}):\n{}\n",
        quoted.join("\n")
    );
    format_response(login, message, &reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_response_mentions_the_author_and_quotes_every_line() {
        assert_eq!(
            format_response_raw("/cherrypick r1\nthanks", "https://c", "bob", "done"),
            format!(
                "@bob: done\n<details>\nIn response to [this](https://c):\n>/cherrypick r1\n>thanks\n\n{ABOUT_THIS_BOT}\n</details>"
            )
        );
    }
}
