//! The comments trigger posts, worded as Prow's trigger plugin words them (welcome, draft, untrusted, help).

use std::collections::BTreeSet;

use prow_core::config::TriggerConfig;

/// Prow's `AboutThisBotWithoutCommands`, the footer of its replies.
pub const ABOUT_THIS_BOT: &str = "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository.";

/// GitHub's host as Prow's welcome message names it.
const GITHUB_HOST: &str = "github.com";

pub const OK_TO_TEST: &str = "ok-to-test";
pub const NEEDS_OK_TO_TEST: &str = "needs-ok-to-test";
pub const LGTM: &str = "lgtm";

pub const DRAFT_MESSAGE: &str = "Skipping CI for Draft Pull Request.\nIf you want CI signal for your change, please convert it to an actual PR.\nYou can still manually trigger a test run with `/test all`";

pub const UNTRUSTED_REPLY: &str = "Cannot trigger testing until a trusted user reviews the PR and leaves an `/ok-to-test` message.";
pub const UNTRUSTED_REPLY_IGNORE_OK_TO_TEST: &str = "PRs from untrusted users cannot be marked as trusted with `/ok-to-test` in this repo meaning untrusted PR authors can never trigger tests themselves. Collaborators can still trigger tests on the PR using `/test`.";
pub const ONLY_TRUSTED_CAN_CANCEL: &str = "Only trusted users can revoke `/ok-to-test`.";

pub const TEST_WITHOUT_TARGET_NOTE: &str = "The `/test` command needs one or more targets.\n";
pub const RETEST_WITH_TARGET_NOTE: &str = "The `/retest` command does not accept any targets.\n";
pub const TARGET_NOT_FOUND_NOTE: &str = "The specified target(s) for `/test` were not found.\n";
pub const NO_TEST_ALL_JOBS_NOTE: &str = "No jobs can be run with `/test all`.\n";
const AVAILABLE_REQUIRED: &str = "The following commands are available to trigger required jobs:";
const AVAILABLE_OPTIONAL: &str = "The following commands are available to trigger optional jobs:";

/// Prow's `FormatResponseRaw`: mention the commenter, answer, and quote their comment in a
/// collapsed section.
pub fn reply_to_comment(body: &str, comment_url: &str, login: &str, reply: &str) -> String {
    let quoted: Vec<String> = body.split('\n').map(|l| format!(">{l}")).collect();
    let reason = format!(
        "In response to [this]({comment_url}):\n\n{}\n",
        quoted.join("\n")
    );
    format!("@{login}: {reply}\n\n<details>\n\n{reason}\n\n{ABOUT_THIS_BOT}\n</details>")
}

/// The welcome comment for a PR whose author is not trusted. `full_name` is `org/repo`.
pub fn welcome(trigger: &TriggerConfig, author: &str, org: &str, full_name: &str) -> String {
    let repo_param = query_escape(full_name);
    if trigger.ignore_ok_to_test {
        return format!(
            "Hi @{author}. Thanks for your PR.\n\n\
             PRs from untrusted users cannot be marked as trusted with `/ok-to-test` in this repo meaning untrusted PR authors can never trigger tests themselves. Collaborators can still trigger tests on the PR using `/test all`.\n\n\
             I understand the commands that are listed [here](https://go.k8s.io/bot-commands?repo={repo_param}).\n\n\
             <details>\n\n{ABOUT_THIS_BOT}\n</details>\n"
        );
    }
    let more = if !trigger.trusted_org.is_empty() && trigger.trusted_org != org {
        let t = &trigger.trusted_org;
        format!("or [{t}](https://{GITHUB_HOST}/orgs/{t}/people) ")
    } else {
        String::new()
    };
    // Prow's `Trigger.SetDefaults`: an unset join_org_url is the trusted org's people page when
    // there is a trusted org; only then does the welcome fall back to the repo's org.
    let join_org_url = match (trigger.join_org_url.as_str(), trigger.trusted_org.as_str()) {
        ("", "") => format!("https://{GITHUB_HOST}/orgs/{org}/people"),
        ("", trusted) => format!("https://github.com/orgs/{trusted}/people"),
        (url, _) => url.to_owned(),
    };
    // Prow highlights the join-org advice for frequent contributors after a GitHub search; we
    // always give the regular advice (Prow's fallback when the search is off or fails).
    let guidance =
        format!("Regular contributors should [join the org]({join_org_url}) to skip this step.");
    format!(
        "Hi @{author}. Thanks for your PR.\n\n\
         I'm waiting for a [{org}](https://{GITHUB_HOST}/orgs/{org}/people) {more}member to verify that this patch is reasonable to test. If it is, they should reply with `/ok-to-test` on its own line. Until that is done, I will not automatically test new commits in this PR, but the usual testing commands by org members will still work.\n\n\
         {guidance}\n\n\
         Once the patch is verified, the new status will be reflected by the `{OK_TO_TEST}` label.\n\n\
         I understand the commands that are listed [here](https://go.k8s.io/bot-commands?repo={repo_param}).\n\n\
         <details>\n\n{ABOUT_THIS_BOT}\n</details>\n"
    )
}

/// Prow's `HelpMessage`: the rerun commands of required and optional jobs, and what `/test all`
/// would run, after an optional note.
pub fn help(
    org: &str,
    repo: &str,
    branch: &str,
    note: &str,
    test_all_names: &BTreeSet<String>,
    optional_commands: &BTreeSet<String>,
    required_commands: &BTreeSet<String>,
) -> String {
    if test_all_names.len() + optional_commands.len() + required_commands.len() == 0 {
        return format!("No presubmit jobs available for {org}/{repo}@{branch}");
    }
    let list = |names: &BTreeSet<String>| {
        names
            .iter()
            .map(|n| format!("\n```\n{n}\n```"))
            .collect::<String>()
    };
    let mut out = note.to_owned();
    if !required_commands.is_empty() {
        out += &format!("{AVAILABLE_REQUIRED}{}\n\n", list(required_commands));
    }
    if !optional_commands.is_empty() {
        out += &format!("{AVAILABLE_OPTIONAL}{}\n\n", list(optional_commands));
    }
    if test_all_names.len() == optional_commands.len() + required_commands.len() {
        out += "Use `/test all` to run all jobs.\n";
    } else if !test_all_names.is_empty() {
        out += &format!(
            "Use `/test all` to run the following jobs that were automatically triggered:{}\n\n",
            list(test_all_names)
        );
    }
    out
}

/// Whether a comment of ours is a help reply (so a later `/test` can prune it).
pub fn is_help_comment(body: &str) -> bool {
    [
        TEST_WITHOUT_TARGET_NOTE,
        RETEST_WITH_TARGET_NOTE,
        TARGET_NOT_FOUND_NOTE,
        NO_TEST_ALL_JOBS_NOTE,
        AVAILABLE_REQUIRED,
        AVAILABLE_OPTIONAL,
    ]
    .iter()
    .any(|marker| body.contains(marker))
}

/// Go's `url.QueryEscape`: unreserved characters stay, space becomes `+`, the rest is %XX.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn welcome_names_org_trusted_org_and_label() {
        let trigger = TriggerConfig {
            trusted_org: "friends".into(),
            ..TriggerConfig::default()
        };
        let msg = welcome(&trigger, "bob", "acme", "acme/foo");
        assert!(msg.starts_with("Hi @bob. Thanks for your PR.\n\nI'm waiting for a [acme](https://github.com/orgs/acme/people) or [friends](https://github.com/orgs/friends/people) member to verify"));
        // join_org_url defaults to the trusted org's people page, as Prow's SetDefaults does.
        assert!(msg.contains("Regular contributors should [join the org](https://github.com/orgs/friends/people) to skip this step."));
        let plain = welcome(&TriggerConfig::default(), "bob", "acme", "acme/foo");
        assert!(plain.contains("[join the org](https://github.com/orgs/acme/people)"));
        let set = TriggerConfig {
            trusted_org: "friends".into(),
            join_org_url: "https://example.com/join".into(),
            ..TriggerConfig::default()
        };
        let msg = welcome(&set, "bob", "acme", "acme/foo");
        assert!(msg.contains("[join the org](https://example.com/join)"));
        assert!(msg.contains("reflected by the `ok-to-test` label."));
        assert!(msg.contains("https://go.k8s.io/bot-commands?repo=acme%2Ffoo"));
        let ignoring = welcome(
            &TriggerConfig {
                ignore_ok_to_test: true,
                ..TriggerConfig::default()
            },
            "bob",
            "acme",
            "acme/foo",
        );
        assert!(ignoring.contains("can never trigger tests themselves"));
        assert!(!ignoring.contains("I'm waiting"));
    }

    #[test]
    fn reply_quotes_each_line() {
        let r = reply_to_comment("/test x\nplease", "https://c", "bob", "nope");
        assert!(r.starts_with(
            "@bob: nope\n\n<details>\n\nIn response to [this](https://c):\n\n>/test x\n>please\n"
        ));
        assert!(r.ends_with("</details>"));
    }

    #[test]
    fn help_message_cases() {
        /// note, /test-all names, optional commands, required commands, expected message.
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
            &'a str,
        );
        let cases: [Case<'_>; 3] = [
            (
                "",
                &[],
                &[],
                &[],
                "No presubmit jobs available for acme/foo@main",
            ),
            (
                TARGET_NOT_FOUND_NOTE,
                &["unit"],
                &["/test lint"],
                &["/test unit"],
                "The specified target(s) for `/test` were not found.\nThe following commands are available to trigger required jobs:\n```\n/test unit\n```\n\nThe following commands are available to trigger optional jobs:\n```\n/test lint\n```\n\nUse `/test all` to run the following jobs that were automatically triggered:\n```\nunit\n```\n\n",
            ),
            (
                "",
                &["unit"],
                &[],
                &["/test unit"],
                "The following commands are available to trigger required jobs:\n```\n/test unit\n```\n\nUse `/test all` to run all jobs.\n",
            ),
        ];
        for (note, all, optional, required, want) in cases {
            let got = help(
                "acme",
                "foo",
                "main",
                note,
                &set(all),
                &set(optional),
                &set(required),
            );
            assert_eq!(got, want);
            assert_eq!(is_help_comment(&got), !all.is_empty());
        }
    }
}
