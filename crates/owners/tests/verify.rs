//! verify-owners' checks on changed OWNERS/OWNERS_ALIASES files, after upstream's verify-owners cases (syntax with line, banned labels, root without approvers, untrusted new owners, empty aliases) plus unknown aliases.
#![allow(clippy::unwrap_used)]
// Case tables are tuples of login slices; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]

use prow_owners::{ChangedFile, Filenames, Problem, VerifyInput, logins_to_check, verify_owners};

fn owners(path: &'static str, contents: &'static str) -> ChangedFile<'static> {
    ChangedFile {
        path,
        contents,
        patch: None,
    }
}

fn input(files: Vec<ChangedFile<'static>>) -> VerifyInput<'static> {
    VerifyInput {
        owners_files: files,
        filenames: Filenames::default(),
        ..VerifyInput::default()
    }
}

fn members(login: &str) -> bool {
    matches!(login, "alice" | "bob" | "carol")
}

#[test]
fn valid_files_by_members_have_no_problems() {
    let input = input(vec![
        owners("OWNERS", "approvers:\n- alice\nreviewers:\n- Bob\n"),
        owners(
            "pkg/OWNERS",
            "filters:\n  \".*\":\n    approvers: [carol]\n",
        ),
    ]);
    assert_eq!(verify_owners(&input, &members), []);
    assert_eq!(
        logins_to_check(&input).into_iter().collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let input = input(vec![owners(
        "pkg/OWNERS",
        "approvers:\n- alice\nreviewers:\n- bob\n  - carol: [\n",
    )]);
    let problems = verify_owners(&input, &members);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let Problem::Syntax { file, line, .. } = &problems[0] else {
        panic!("{problems:?}");
    };
    assert_eq!(file, "pkg/OWNERS");
    assert!(*line >= 4, "{}", problems[0]);
    assert!(problems[0].to_string().starts_with("pkg/OWNERS:"));
}

#[test]
fn banned_labels_and_a_root_without_approvers_are_reported() {
    let denylist = vec!["approved".to_owned(), "lgtm".to_owned()];
    let mut input = input(vec![
        owners("OWNERS", "reviewers: [alice]\nlabels:\n- sig/foo\n- lgtm\n"),
        owners("sub/OWNERS", "reviewers: [alice]\n"),
    ]);
    input.labels_denylist = &denylist;
    let problems = verify_owners(&input, &members);
    assert_eq!(
        problems,
        [
            Problem::BannedLabels {
                file: "OWNERS".into(),
                line: 4,
                labels: vec!["lgtm".into()],
            },
            Problem::NoRootApprovers {
                file: "OWNERS".into()
            },
        ]
    );
}

#[test]
fn only_newly_added_owners_must_be_trusted() {
    let contents = "approvers:\n- alice\n- mallory\n- trudy\n";
    let patch = "@@ -1,2 +1,4 @@\n approvers:\n- alice\n+- mallory\n+- trudy\n+- alice";
    let mut input = input(vec![ChangedFile {
        path: "pkg/OWNERS",
        contents,
        patch: Some(patch),
    }]);
    assert_eq!(
        logins_to_check(&input).into_iter().collect::<Vec<_>>(),
        ["alice", "mallory", "trudy"]
    );
    let problems = verify_owners(&input, &|login| login == "alice" || login == "trudy");
    assert_eq!(
        problems,
        [Problem::NotTrusted {
            file: "pkg/OWNERS".into(),
            line: 3,
            login: "mallory".into(),
        }]
    );
    // Repositories in skip_collaborators trust OWNERS as written.
    input.skip_trust_check = true;
    assert!(logins_to_check(&input).is_empty());
    assert!(verify_owners(&input, &|_| false).is_empty());
}

#[test]
fn aliases_are_expanded_checked_and_unknown_ones_reported() {
    let aliases = "aliases:\n  sig-api:\n  - alice\n  - newcomer\n  sig-empty:\n";
    let mut input = input(vec![owners(
        "api/OWNERS",
        "approvers:\n- sig-api\n- sig_api_leads\n- acme/api-team\nreviewers:\n- bob\n",
    )]);
    input.aliases_file = Some(ChangedFile {
        path: "OWNERS_ALIASES",
        contents: aliases,
        patch: Some("@@ -1,3 +1,4 @@\n aliases:\n   sig-api:\n   - alice\n+  - newcomer"),
    });
    input.aliases_changed = true;
    let problems = verify_owners(&input, &members);
    assert_eq!(
        problems,
        [
            Problem::EmptyAliases {
                file: "OWNERS_ALIASES".into(),
                aliases: vec!["sig-empty".into()],
            },
            Problem::UnknownAlias {
                file: "api/OWNERS".into(),
                line: 4,
                name: "acme/api-team".into(),
            },
            Problem::UnknownAlias {
                file: "api/OWNERS".into(),
                line: 3,
                name: "sig_api_leads".into(),
            },
            Problem::NotTrusted {
                file: "OWNERS_ALIASES".into(),
                line: 4,
                login: "newcomer".into(),
            },
        ]
    );
}

#[test]
fn an_invalid_aliases_file_is_a_syntax_problem() {
    let mut input = input(vec![]);
    input.aliases_file = Some(ChangedFile {
        path: "OWNERS_ALIASES",
        contents: "aliases:\n  sig-api: alice\n",
        patch: None,
    });
    input.aliases_changed = true;
    let problems = verify_owners(&input, &members);
    assert!(
        matches!(&problems[..], [Problem::Syntax { line: 2, .. }]),
        "{problems:?}"
    );
}
