//! How the bot answers a comment, as Prow's `plugins.FormatResponseRaw`: a mention, the message,
//! and the comment quoted in a details block.

/// Prow's note about the bot, under every response.
pub const ABOUT_THIS_BOT: &str = "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository.";

/// The comment a response answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyTo {
    pub body: String,
    pub html_url: String,
    pub login: String,
}

impl ReplyTo {
    pub fn new(body: &str, html_url: &str, login: &str) -> Self {
        Self {
            body: body.to_owned(),
            html_url: html_url.to_owned(),
            login: login.to_owned(),
        }
    }

    /// `message` as a response to this comment.
    pub fn reply(&self, message: &str) -> String {
        let quoted: Vec<String> = self.body.split('\n').map(|l| format!(">{l}")).collect();
        let reason = format!(
            "In response to [this]({}):\n{}\n",
            self.html_url,
            quoted.join("\n")
        );
        format_response(&self.login, message, &reason)
    }
}

/// Prow's FormatSimpleResponse: a message that needs no quote, with the note folded away.
pub fn format_simple_response(message: &str) -> String {
    format!("{message}\n\n<details>\n\n{ABOUT_THIS_BOT}\n</details>")
}

/// Prow's FormatResponse.
pub fn format_response(to: &str, message: &str, reason: &str) -> String {
    format!("@{to}: {message}\n<details>\n{reason}\n{ABOUT_THIS_BOT}\n</details>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_quote_every_line_of_the_comment() {
        let r =
            ReplyTo::new("/lgtm\nthanks", "https://c", "bob").reply("you cannot LGTM your own PR.");
        assert_eq!(
            r,
            format!(
                "@bob: you cannot LGTM your own PR.\n<details>\nIn response to [this](https://c):\n>/lgtm\n>thanks\n\n{ABOUT_THIS_BOT}\n</details>"
            )
        );
    }
}
