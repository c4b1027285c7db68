//! The approve notification comment, character for character as upstream Prow's `GetMessage` tests expect it.
#![allow(clippy::unwrap_used)]

use prow_owners::{Approvers, BuildOptions, NotificationLinks, Owners, RepoOwners};

const PROCESS: &str =
    "https://git.k8s.io/community/contributors/guide/owners.md#the-code-review-process";

fn links(github_url: &str) -> NotificationLinks {
    NotificationLinks {
        github_url: github_url.to_owned(),
        command_help_link: "https://go.k8s.io/bot-commands".to_owned(),
        pr_process_link: PROCESS.to_owned(),
    }
}

fn repo(files: &[(&str, &str)]) -> RepoOwners {
    RepoOwners::build(
        files.iter().copied(),
        &BuildOptions {
            md_yaml: true,
            ..BuildOptions::default()
        },
    )
}

const A_AND_B: &[(&str, &str)] = &[
    ("a/OWNERS", "approvers: [Alice]"),
    ("b/OWNERS", "approvers: [Bill]"),
];

fn approvers<'a>(repo: &'a RepoOwners, files: &[&str]) -> Approvers<'a> {
    Approvers::new(Owners::new(
        files.iter().map(|f| (*f).to_owned()).collect(),
        repo,
    ))
}

/// The parts every notification ends with.
fn tail(open: bool, files: &[&str], ccs: &str) -> String {
    format!(
        "<details {}>\nNeeds approval from an approver in each of these files:\n\n{}\nApprovers can indicate their approval by writing `/approve` in a comment\nApprovers can cancel approval by writing `/approve cancel` in a comment\n</details>\n<!-- META={{\"approvers\":[{ccs}]}} -->",
        if open { "open" } else { "" },
        files.concat()
    )
}

const COMMANDS: &str = "The full list of commands accepted by this bot can be found [here](https://go.k8s.io/bot-commands?repo=org%2Frepo).\n\n";
const NO_ISSUE: &str = "*No associated issue*. Update pull-request body to add a reference to an issue, or get approval with `/approve no-issue`\n\n";

fn assign(who: &str) -> String {
    format!(
        "**Once this PR has been reviewed and has the lgtm label**, please assign {who} for approval. For more information see [the Code Review Process]({PROCESS}).\n\n"
    )
}

#[test]
fn one_of_two_files_approved_asks_for_the_other() {
    let repo = repo(A_AND_B);
    let mut ap = approvers(&repo, &["a/a.go", "b/b.go"]);
    ap.require_issue = true;
    ap.add_approver("Bill", "REFERENCE", false);
    let want = format!(
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: *<a href=\"REFERENCE\" title=\"Approved\">Bill</a>*\n{}{NO_ISSUE}{COMMANDS}{}",
        assign("[alice](https://github.com/alice)"),
        tail(
            true,
            &[
                "- **[a/OWNERS](https://github.com/org/repo/blob/dev/a/OWNERS)**\n",
                "- ~~[b/OWNERS](https://github.com/org/repo/blob/dev/b/OWNERS)~~ [Bill]\n",
            ],
            "\"alice\""
        )
    );
    assert_eq!(
        ap.notification(&links("https://github.com"), "org", "repo", "dev"),
        want
    );

    let repo = repo_with_c();
    let mut ap = approvers(&repo, &["a/a.go", "b/b.go", "c/c.go"]);
    ap.require_issue = true;
    ap.add_approver("Bill", "REFERENCE", false);
    let got = ap.notification(&links("https://github.com"), "org", "repo", "dev");
    assert!(
        got.contains(&assign(
            "[alice](https://github.com/alice), [bob](https://github.com/bob)"
        )),
        "{got}"
    );
    assert!(
        got.ends_with("<!-- META={\"approvers\":[\"alice\",\"bob\"]} -->"),
        "{got}"
    );
}

fn repo_with_c() -> RepoOwners {
    repo(&[
        ("a/OWNERS", "approvers: [Alice]"),
        ("b/OWNERS", "approvers: [Bill]"),
        ("c/OWNERS", "approvers: [Bob]"),
    ])
}

#[test]
fn all_files_approved_but_no_issue_is_still_not_approved() {
    let repo = repo(A_AND_B);
    let mut ap = approvers(&repo, &["a/a.go", "b/b.go"]);
    ap.require_issue = true;
    ap.add_approver("Alice", "REFERENCE", false);
    ap.add_lgtmer("Bill", "REFERENCE", false);
    let want = format!(
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: *<a href=\"REFERENCE\" title=\"Approved\">Alice</a>*, *<a href=\"REFERENCE\" title=\"LGTM\">Bill</a>*\n\n{NO_ISSUE}{COMMANDS}The pull request process is described [here]({PROCESS})\n\n{}",
        tail(
            false,
            &[
                "- ~~[a/OWNERS](https://github.com/org/repo/blob/master/a/OWNERS)~~ [Alice]\n",
                "- ~~[b/OWNERS](https://github.com/org/repo/blob/master/b/OWNERS)~~ [Bill]\n",
            ],
            ""
        )
    );
    assert_eq!(
        ap.notification(&links("https://github.com"), "org", "repo", "master"),
        want
    );
}

#[test]
fn an_assignee_who_can_approve_is_asked_rather_than_suggested() {
    let repo = repo(A_AND_B);
    let mut ap = approvers(&repo, &["a/a.go", "b/b.go"]);
    ap.add_assignees(["Bill"]);
    ap.add_approver("Alice", "REFERENCE", false);
    let want = format!(
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: *<a href=\"REFERENCE\" title=\"Approved\">Alice</a>*\n**Once this PR has been reviewed and has the lgtm label**, please ask for approval from [bill](https://github.com/bill). For more information see [the Code Review Process]({PROCESS}).\n\n{COMMANDS}{}",
        tail(
            true,
            &[
                "- ~~[a/OWNERS](https://github.com/org/repo/blob/master/a/OWNERS)~~ [Alice]\n",
                "- **[b/OWNERS](https://github.com/org/repo/blob/master/b/OWNERS)**\n",
            ],
            "\"bill\""
        )
    );
    assert_eq!(
        ap.notification(&links("https://github.com"), "org", "repo", "master"),
        want
    );
}

#[test]
fn an_author_self_approval_outside_owners_approves_nothing() {
    let repo = repo(A_AND_B);
    let mut ap = approvers(&repo, &["a/a.go", "b/b.go"]);
    ap.add_author_self_approver("John", "REFERENCE", false);
    ap.require_issue = true;
    let want = format!(
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: *<a href=\"REFERENCE\" title=\"Author self-approved\">John</a>*\n{}{NO_ISSUE}{COMMANDS}{}",
        assign("[alice](https://github.com/alice), [bill](https://github.com/bill)"),
        tail(
            true,
            &[
                "- **[a/OWNERS](https://github.com/org/repo/blob/master/a/OWNERS)**\n",
                "- **[b/OWNERS](https://github.com/org/repo/blob/master/b/OWNERS)**\n",
            ],
            "\"alice\",\"bill\""
        )
    );
    assert_eq!(
        ap.notification(&links("https://github.com"), "org", "repo", "master"),
        want
    );
}

#[test]
fn approved_with_an_associated_issue_or_a_no_issue_waiver() {
    let repo = repo(A_AND_B);
    let files = [
        "- ~~[a/OWNERS](https://github.com/org/repo/blob/master/a/OWNERS)~~ [Alice]\n",
        "- ~~[b/OWNERS](https://github.com/org/repo/blob/master/b/OWNERS)~~ [Bill]\n",
    ];
    let approved_by = "This pull-request has been approved by: *<a href=\"REFERENCE\" title=\"Approved\">Alice</a>*, *<a href=\"REFERENCE\" title=\"Approved\">Bill</a>*, *<a href=\"REFERENCE\" title=\"Author self-approved\">John</a>*\n\n";
    let process = format!("The pull request process is described [here]({PROCESS})\n\n");

    let mut ap = approvers(&repo, &["a/a.go", "b/b.go"]);
    ap.require_issue = true;
    ap.associated_issue = Some(12345);
    ap.add_author_self_approver("John", "REFERENCE", false);
    ap.add_approver("Bill", "REFERENCE", false);
    ap.add_approver("Alice", "REFERENCE", false);
    let want = format!(
        "[APPROVALNOTIFIER] This PR is **APPROVED**\n\n{approved_by}Associated issue: *#12345*\n\n{COMMANDS}{process}{}",
        tail(false, &files, "")
    );
    assert_eq!(
        ap.notification(&links("https://github.com"), "org", "repo", "master"),
        want
    );

    let mut ap = approvers(&repo, &["a/a.go", "b/b.md"]);
    ap.require_issue = true;
    ap.add_author_self_approver("John", "REFERENCE", false);
    ap.add_approver("Bill", "REFERENCE", true);
    ap.add_approver("Alice", "REFERENCE", true);
    let want = format!(
        "[APPROVALNOTIFIER] This PR is **APPROVED**\n\n{approved_by}Associated issue requirement bypassed by: *<a href=\"REFERENCE\" title=\"Approved\">Alice</a>*, *<a href=\"REFERENCE\" title=\"Approved\">Bill</a>*\n\n{COMMANDS}{process}{}",
        tail(false, &files, "")
    );
    assert_eq!(
        ap.notification(&links("https://github.com"), "org", "repo", "master"),
        want
    );
}

#[test]
fn markdown_owners_and_another_github_host() {
    let repo = repo(&[
        ("a/OWNERS", "approvers: [Alice]"),
        ("b/OWNERS", "approvers: [Bill]"),
        ("b/README.md", "---\napprovers: [Doctor]\n---\n# Read me\n"),
    ]);
    let mut ap = approvers(&repo, &["a/a.go", "b/README.md"]);
    ap.add_author_self_approver("John", "REFERENCE", false);
    ap.require_issue = true;
    for host in ["https://github.com", "https://github.mycorp.com"] {
        let want = format!(
            "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: *<a href=\"REFERENCE\" title=\"Author self-approved\">John</a>*\n{}{NO_ISSUE}{COMMANDS}{}",
            assign("[alice](https://github.com/alice), [doctor](https://github.com/doctor)"),
            tail(
                true,
                &[
                    &format!("- **[a/OWNERS]({host}/org/repo/blob/master/a/OWNERS)**\n"),
                    &format!("- **[b/README.md]({host}/org/repo/blob/master/b/README.md)**\n"),
                ],
                "\"alice\",\"doctor\""
            )
        );
        assert_eq!(
            ap.notification(&links(host), "org", "repo", "master"),
            want,
            "{host}"
        );
    }
}

#[test]
fn a_manual_approval_bypasses_the_requirements() {
    let repo = repo(A_AND_B);
    let mut ap = approvers(&repo, &["a/a.go", "b/b.go"]);
    ap.require_issue = true;
    ap.manually_approved = true;
    let got = ap.notification(&links("https://github.com"), "org", "repo", "master");
    assert!(
        got.starts_with("[APPROVALNOTIFIER] This PR is **APPROVED**\n\nApproval requirements bypassed by manually added approval.\n\nThis pull-request has been approved by:\n\n*No associated issue*. Requirement bypassed by manually added approval.\n\n"),
        "{got}"
    );
    assert!(got.contains("<details >"), "{got}");
}
