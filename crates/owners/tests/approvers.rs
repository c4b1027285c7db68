//! The approve plugin's arithmetic, from cases re-typed after upstream Prow's `pkg/plugins/approve/approvers` tests, on a real OWNERS tree.
#![allow(clippy::unwrap_used)]
// Case tables are tuples of login slices; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]

use std::collections::BTreeSet;

use prow_owners::{Approvers, BuildOptions, Owners, OwnersFileStatus, RepoOwners};

const ROOT: &[&str] = &["Alice", "Bob"];
const A: &[&str] = &["Art", "Anne"];
const B: &[&str] = &["Bill", "Ben", "Barbara"];
const C: &[&str] = &["Chris", "Carol"];
const D: &[&str] = &["David", "Dan", "Debbie"];
const E: &[&str] = &["Eve", "Erin"];

fn owners_file(approvers: &[&str]) -> String {
    format!("approvers: [{}]\n", approvers.join(", "))
}

/// Upstream's fake repository: an OWNERS file per directory.
fn repo(extra: &[(&str, String)]) -> RepoOwners {
    let combo: Vec<&str> = E.iter().chain(D).chain(C).copied().collect();
    let mut files = vec![
        ("OWNERS".to_owned(), owners_file(ROOT)),
        ("a/OWNERS".to_owned(), owners_file(A)),
        ("b/OWNERS".to_owned(), owners_file(B)),
        ("c/OWNERS".to_owned(), owners_file(C)),
        ("a/d/OWNERS".to_owned(), owners_file(D)),
        ("a/combo/OWNERS".to_owned(), owners_file(&combo)),
    ];
    for (path, text) in extra {
        files.retain(|(p, _)| p != path);
        files.push(((*path).to_owned(), text.clone()));
    }
    RepoOwners::build(
        files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        &BuildOptions::default(),
    )
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn lower(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_lowercase()).collect()
}

fn approvers<'a>(repo: &'a RepoOwners, files: &[&str], approved: &[&str]) -> Approvers<'a> {
    let mut ap = Approvers::new(Owners::new(names(files), repo));
    for login in approved {
        ap.add_approver(login, "REFERENCE", false);
    }
    ap
}

#[test]
fn owners_set_is_the_topmost_needed_owners_files() {
    let repo = repo(&[]);
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("empty PR", &[], &[]),
        ("single root file", &["kubernetes.go"], &[""]),
        ("multiple root files", &["test.go", "kubernetes.go"], &[""]),
        ("internal node file", &["a/test.go"], &["a"]),
        ("two leaves", &["a/test.go", "b/test.go"], &["a", "b"]),
        ("leaf and parent", &["a/test.go", "a/c/test.go"], &["a"]),
        (
            "a directory under a needed one",
            &["a/test.go", "a/d/test.go"],
            &["a"],
        ),
    ];
    for (name, files, want) in cases {
        let owners = Owners::new(names(files), &repo);
        let want: BTreeSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(owners.owners_set(), want, "{name}");
    }
}

#[test]
fn unapproved_files_are_owners_files_without_an_approval() {
    let repo = repo(&[]);
    let e_and_c: Vec<&str> = E.iter().chain(C).copied().collect();
    let cases: &[(&str, &[&str], &[&str], &[&str])] = &[
        ("empty PR", &[], &[], &[]),
        (
            "single root file approved",
            &["kubernetes.go"],
            &["Alice"],
            &[],
        ),
        (
            "single root file, no one approved",
            &["kubernetes.go"],
            &[],
            &[""],
        ),
        ("b approved only, no files", &[], B, &[]),
        (
            "b files approved at the root",
            &["b/test.go", "b/test_1.go"],
            ROOT,
            &[],
        ),
        ("b unapproved", &["b/test_1.go", "b/test.go"], &[], &["b"]),
        (
            "combo and d, neither approved",
            &["a/combo/test.go", "a/d/test.go"],
            &[],
            &["a/combo", "a/d"],
        ),
        (
            "combo approved",
            &["a/combo/test.go", "a/d/test.go"],
            &e_and_c,
            &["a/d"],
        ),
        (
            "both approved by d's approvers",
            &["a/combo/test.go", "a/d/test.go"],
            D,
            &[],
        ),
    ];
    for (name, files, approved, want) in cases {
        let ap = approvers(&repo, files, approved);
        let want: BTreeSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(ap.unapproved_files(), want, "{name}");
    }
}

#[test]
fn is_approved_needs_every_owners_file() {
    let repo = repo(&[]);
    let a_and_b: Vec<&str> = A.iter().chain(B).copied().collect();
    let cases: &[(&str, &[&str], &[&str], bool)] = &[
        ("empty PR", &[], &[], false),
        (
            "single root file approved",
            &["kubernetes.go"],
            &["Alice"],
            true,
        ),
        ("single root file, no one", &["kubernetes.go"], &[], false),
        (
            "combo and d, neither",
            &["a/combo/test.go", "a/d/test.go"],
            &[],
            false,
        ),
        (
            "combo and d, both",
            &["a/combo/test.go", "a/d/test.go"],
            &["David", "Dan", "Debbie"],
            true,
        ),
        (
            "a, b, c; nothing",
            &["a/test.go", "b/test.go", "c/test"],
            &[],
            false,
        ),
        (
            "a, b, c; partially",
            &["a/test.go", "b/test.go", "c/test"],
            &a_and_b,
            false,
        ),
        (
            "a, b, c; at the root",
            &["a/test.go", "b/test.go", "c/test"],
            ROOT,
            true,
        ),
        (
            "a, b, c; at the leaves",
            &["a/test.go", "b/test.go", "c/test"],
            &["Anne", "Ben", "Carol"],
            true,
        ),
    ];
    for (name, files, approved, want) in cases {
        assert_eq!(
            approvers(&repo, files, approved).is_approved(),
            *want,
            "{name}"
        );
    }
}

#[test]
fn auto_approve_unowned_subfolders_waives_subfolders_without_owners() {
    let a_auto = (
        "a/OWNERS",
        "options: {auto_approve_unowned_subfolders: true}\napprovers: [Art, Anne]\n".to_owned(),
    );
    let repo = repo(&[a_auto]);
    assert!(!approvers(&repo, &["a/test.go"], &[]).is_approved());
    let ap = approvers(&repo, &["a/new-folder/test.go"], &[]);
    assert!(ap.owners().owners_set().is_empty());
    assert!(ap.is_approved());
}

#[test]
fn an_issue_can_be_required_linked_or_waived() {
    let repo = repo(&[]);
    let mut ap = approvers(&repo, &["kubernetes.go"], &["Alice"]);
    ap.require_issue = true;
    assert!(!ap.is_approved());
    ap.associated_issue = Some(100);
    assert!(ap.is_approved());
    ap.associated_issue = None;
    ap.add_approver("Bob", "REFERENCE", true);
    assert!(ap.is_approved());
    assert_eq!(ap.list_no_issue_approvals()[0].login, "Bob");
    // A later plain approval does not take the waiver back.
    ap.add_approver("bob", "REFERENCE", false);
    assert!(ap.is_approved());
    // A waiver by someone who approves nothing here does not count.
    let mut other = approvers(&repo, &["kubernetes.go"], &["Alice"]);
    other.require_issue = true;
    other.add_approver("Mallory", "REFERENCE", true);
    assert!(!other.is_approved());
    other.manually_approved = true;
    assert!(other.is_approved());
}

/// CCs: ties go to the alphabetically first login where Prow shuffles with the PR number
/// as seed, so only the cases that do not depend on the shuffle keep upstream's answers;
/// the others are worked out for our order.
#[test]
fn ccs_cover_what_is_left_preferring_assignees() {
    let repo = repo(&[]);
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: &[Case<'_>] = &[
        ("empty PR", &[], &[], &[], &[], &[]),
        (
            "single root file approved",
            &["kubernetes.go"],
            &["Alice"],
            &[],
            &[],
            &[],
        ),
        (
            "single root file unapproved",
            &["kubernetes.go"],
            &[],
            &[],
            &["alice"],
            &[],
        ),
        (
            "combo and d, neither",
            &["a/combo/test.go", "a/d/test.go"],
            &[],
            &[],
            &["dan"],
            &[],
        ),
        (
            "combo approved",
            &["a/combo/test.go", "a/d/test.go"],
            E,
            &[],
            &["dan"],
            &[],
        ),
        (
            "both approved",
            &["a/combo/test.go", "a/d/test.go"],
            D,
            &[],
            &[],
            &[],
        ),
        (
            "combo, c, d; none",
            &["a/combo/test.go", "a/d/test.go", "c/test"],
            &[],
            &[],
            &["carol", "dan"],
            &[],
        ),
        (
            "a, b, c; none",
            &["a/test.go", "b/test.go", "c/test"],
            &[],
            &[],
            &["anne", "barbara", "carol"],
            &[],
        ),
        (
            "a, b, c; partly by others",
            &["a/test.go", "b/test.go", "c/test"],
            &["Art", "Ben"],
            &[],
            &["carol"],
            &[],
        ),
        (
            "a, b, c; assignees can approve",
            &["a/test.go", "b/test.go", "c/test"],
            &[],
            &["Art", "Ben"],
            &["art", "ben", "carol"],
            &["art", "ben"],
        ),
        (
            "a, b, c; some assignees can approve",
            &["a/test.go", "b/test.go", "c/test"],
            &[],
            &["Art", "Ben", "John", "Jack"],
            &["art", "ben", "carol"],
            &["art", "ben"],
        ),
        (
            "assignee is a top owner",
            &["a/test.go"],
            &[],
            &["alice"],
            &["alice"],
            &["alice"],
        ),
    ];
    for (name, files, approved, assignees, ccs, assigned) in cases {
        let mut ap = approvers(&repo, files, approved);
        ap.add_assignees(assignees.iter());
        assert_eq!(ap.ccs(), names(ccs), "{name}: ccs");
        assert_eq!(ap.assigned_ccs(), names(assigned), "{name}: assigned");
        let suggested: Vec<String> = ccs
            .iter()
            .filter(|c| !assigned.contains(c))
            .map(|c| (*c).to_owned())
            .collect();
        assert_eq!(ap.suggested_ccs(), suggested, "{name}: suggested");
    }
}

#[test]
fn suggested_approvers_cover_every_owners_file() {
    let repo = repo(&[]);
    let combo: Vec<&str> = E.iter().chain(D).chain(C).copied().collect();
    let cases: &[(&[&str], &[&[&str]])] = &[
        (&[], &[]),
        (&["kubernetes.go"], &[ROOT]),
        (&["a/test.go"], &[A]),
        (&["a/test.go", "a/test1.go"], &[A]),
        (&["a/test.go", "b/test.go"], &[A, B]),
        (&["a/test.go", "a/d/test.go"], &[A]),
        (&["a/combo/test.go", "b/test.go"], &[&combo, B]),
        (&["a/combo/test.go"], &[&combo]),
    ];
    for (files, want) in cases {
        let owners = Owners::new(names(files), &repo);
        let reverse = Owners::reverse_map(&owners.leaf_approvers());
        let suggested = owners.suggested_approvers(&reverse, &owners.potential_approvers());
        for group in *want {
            assert!(
                !lower(group).is_disjoint(&suggested),
                "{files:?}: none of {group:?} in {suggested:?}"
            );
        }
    }
}

#[test]
fn files_list_each_owners_file_with_its_approvers_and_links() {
    let repo = repo(&[]);
    let ap = approvers(
        &repo,
        &["a/test.go", "b/test.go", "c/test"],
        &["Anne", "Carol"],
    );
    let files = ap.files();
    let want = [
        ("a", true, vec!["Anne"]),
        ("b", false, vec![]),
        ("c", true, vec!["Carol"]),
    ];
    assert_eq!(files.len(), want.len());
    for (got, (path, approved, who)) in files.iter().zip(want) {
        assert_eq!(got.path, path);
        assert_eq!(got.approved, approved, "{path}");
        let who: BTreeSet<String> = who.into_iter().map(str::to_owned).collect();
        assert_eq!(got.approvers, who, "{path}");
    }
    let base = "https://github.com/org/repo";
    assert_eq!(
        files[0].markdown(base, "master", "OWNERS"),
        "- ~~[a/OWNERS](https://github.com/org/repo/blob/master/a/OWNERS)~~ [Anne]\n"
    );
    assert_eq!(
        files[1].markdown(base, "master", "OWNERS"),
        "- **[b/OWNERS](https://github.com/org/repo/blob/master/b/OWNERS)**\n"
    );
    let partial = OwnersFileStatus {
        path: String::new(),
        approved: false,
        approvers: ["Alice".to_owned()].into(),
    };
    assert_eq!(
        partial.markdown(base, "main", "OWNERS"),
        "- **[OWNERS](https://github.com/org/repo/blob/main/OWNERS)** [Alice]\n  > Need more approvers for rest parts.\n"
    );
    assert_eq!(
        ap.list_approvals()[0].markdown(),
        "*<a href=\"REFERENCE\" title=\"Approved\">Anne</a>*"
    );
}

#[test]
fn files_approvers_keep_the_case_approvers_wrote() {
    let repo = repo(&[]);
    let mut ap = approvers(&repo, &["a/test.go", "b/test.go"], &[]);
    ap.add_approver("ANNE", "REFERENCE", false);
    ap.add_lgtmer("Bill", "REFERENCE", false);
    ap.add_author_self_approver("Mallory", "REFERENCE", false);
    let got = ap.files_approvers();
    assert_eq!(got["a"], ["ANNE".to_owned()].into());
    assert_eq!(got["b"], ["Bill".to_owned()].into());
    assert!(ap.is_approved());
    ap.remove_approver("bill");
    assert!(!ap.is_approved());
}
