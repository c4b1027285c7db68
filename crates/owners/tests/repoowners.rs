//! Owners per path, from cases re-typed after upstream Prow's `pkg/repoowners` tests (same trees, same expectations).
#![allow(clippy::unwrap_used)]
// Case tables are tuples of login slices; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]

use std::collections::BTreeSet;

use prow_owners::{BuildOptions, OwnersDirDenylist, RepoOwners};

/// Upstream's test repository: plain OWNERS, an alias user, `no_parent_owners`, a markdown
/// header, vendored OWNERS, and a file named `foo` that is not an OWNERS file.
const TREE: &[(&str, &str)] = &[
    ("foo", "approvers:\n- bob"),
    (
        "OWNERS",
        "approvers:\n- cjwagner\nreviewers:\n- Alice\n- bob\nrequired_reviewers:\n- chris\nlabels:\n- EVERYTHING",
    ),
    ("src/OWNERS", "approvers:\n- Best-Approvers"),
    (
        "src/dir/OWNERS",
        "approvers:\n- bob\nreviewers:\n- alice\n- \"@CJWagner\"\n- jakub\nrequired_reviewers:\n- ben\nlabels:\n- src-code",
    ),
    (
        "src/dir/subdir/OWNERS",
        "approvers:\n- bob\n- alice\nreviewers:\n- bob\n- alice",
    ),
    (
        "src/dir/conformance/OWNERS",
        "options:\n  no_parent_owners: true\n  auto_approve_unowned_subfolders: true\napprovers:\n- mml",
    ),
    (
        "docs/file.md",
        "---\napprovers:\n- ALICE\n\nlabels:\n- docs\n---",
    ),
    ("vendor/OWNERS", "approvers:\n- alice"),
    ("vendor/k8s.io/client-go/OWNERS", "approvers:\n- bob"),
];

const ALIASES: (&str, &str) = (
    "OWNERS_ALIASES",
    "aliases:\n  Best-approvers:\n  - carl\n  - cjwagner\n  best-reviewers:\n  - Carl\n  - BOB",
);

const COLLABORATORS: &[&str] = &[
    "cjwagner",
    "k8s-ci-robot",
    "alice",
    "bob",
    "carl",
    "mml",
    "maggie",
];

fn set(logins: &[&str]) -> BTreeSet<String> {
    logins.iter().map(|l| (*l).to_owned()).collect()
}

fn build(files: &[(&str, &str)], options: &BuildOptions) -> RepoOwners {
    RepoOwners::build(files.iter().copied(), options)
}

fn default_options() -> BuildOptions {
    BuildOptions {
        dir_denylist: OwnersDirDenylist::default().ignored_dirs("org", "repo"),
        ..BuildOptions::default()
    }
}

type Logins = &'static [&'static str];

/// (path, leaf approvers, all approvers, all reviewers, required reviewers, labels)
type Expectation = (&'static str, Logins, Logins, Logins, Logins, Logins);

struct Scenario {
    name: &'static str,
    aliases: bool,
    md: bool,
    skip_collaborators: bool,
    expect: Vec<Expectation>,
}

#[test]
fn owners_per_path_match_upstream_load_repo_owners_scenarios() {
    let scenarios = [
        Scenario {
            name: "no alias, no md: Best-Approvers and jakub are not collaborators",
            aliases: false,
            md: false,
            skip_collaborators: false,
            expect: vec![
                (
                    "main.go",
                    &["cjwagner"],
                    &["cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
                // src's only approver is filtered out, so its files fall to the root.
                (
                    "src/main.go",
                    &["cjwagner"],
                    &["cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
                (
                    "src/dir/a.go",
                    &["bob"],
                    &["bob", "cjwagner"],
                    &["alice", "bob", "cjwagner"],
                    &["ben", "chris"],
                    &["EVERYTHING", "src-code"],
                ),
                (
                    "src/dir/subdir/a.go",
                    &["alice", "bob"],
                    &["alice", "bob", "cjwagner"],
                    &["alice", "bob", "cjwagner"],
                    &["ben", "chris"],
                    &["EVERYTHING", "src-code"],
                ),
                (
                    // no_parent_owners stops a list only once it names someone: the
                    // directory has no reviewers, so its parents' review.
                    "src/dir/conformance/a.go",
                    &["mml"],
                    &["mml"],
                    &["alice", "bob", "cjwagner"],
                    &["ben", "chris"],
                    &["EVERYTHING", "src-code"],
                ),
                (
                    "docs/file.md",
                    &["cjwagner"],
                    &["cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
                (
                    "vendor/a.go",
                    &["alice"],
                    &["alice", "cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
                // vendor/*/* is denylisted by Prow's built-in defaults.
                (
                    "vendor/k8s.io/client-go/a.go",
                    &["alice"],
                    &["alice", "cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
            ],
        },
        Scenario {
            name: "alias, no md: Best-Approvers expands",
            aliases: true,
            md: false,
            skip_collaborators: false,
            expect: vec![
                (
                    "src/main.go",
                    &["carl", "cjwagner"],
                    &["carl", "cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
                (
                    "docs/file.md",
                    &["cjwagner"],
                    &["cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
            ],
        },
        Scenario {
            name: "alias, md: the markdown header owns its file",
            aliases: true,
            md: true,
            skip_collaborators: false,
            expect: vec![
                (
                    "docs/file.md",
                    &["alice"],
                    &["alice", "cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING", "docs"],
                ),
                (
                    "docs/other.md",
                    &["cjwagner"],
                    &["cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
            ],
        },
        Scenario {
            name: "skip collaborators: OWNERS as written",
            aliases: false,
            md: false,
            skip_collaborators: true,
            expect: vec![
                (
                    "src/main.go",
                    &["best-approvers"],
                    &["best-approvers", "cjwagner"],
                    &["alice", "bob"],
                    &["chris"],
                    &["EVERYTHING"],
                ),
                (
                    "src/dir/a.go",
                    &["bob"],
                    &["best-approvers", "bob", "cjwagner"],
                    &["alice", "bob", "cjwagner", "jakub"],
                    &["ben", "chris"],
                    &["EVERYTHING", "src-code"],
                ),
            ],
        },
    ];
    for scenario in scenarios {
        let mut files = TREE.to_vec();
        if scenario.aliases {
            files.push(ALIASES);
        }
        let options = BuildOptions {
            md_yaml: scenario.md,
            ..default_options()
        };
        let written = build(&files, &options);
        assert!(written.problems().is_empty(), "{:?}", written.problems());
        let owners = if scenario.skip_collaborators {
            written
        } else {
            written.filter_collaborators(COLLABORATORS.iter().copied())
        };
        for (path, leaf, all, reviewers, required, labels) in &scenario.expect {
            let name = scenario.name;
            assert_eq!(
                owners.leaf_approvers(path),
                set(leaf),
                "{name}: leaf approvers of {path}"
            );
            assert_eq!(
                owners.approvers(path).all(),
                set(all),
                "{name}: approvers of {path}"
            );
            assert_eq!(
                owners.reviewers(path).all(),
                set(reviewers),
                "{name}: reviewers of {path}"
            );
            assert_eq!(
                owners.required_reviewers(path),
                set(required),
                "{name}: required reviewers of {path}"
            );
            assert_eq!(owners.labels(path), set(labels), "{name}: labels of {path}");
        }
        assert!(owners.is_no_parent_owners("src/dir/conformance"));
        assert!(owners.is_auto_approve_unowned_subfolders("src/dir/conformance"));
        assert!(!owners.is_no_parent_owners("src/dir"));
    }
}

#[test]
fn approvers_are_layered_nearest_first() {
    let owners = build(TREE, &default_options());
    let layers = owners.approvers("src/dir/subdir/a.go");
    let layers: Vec<BTreeSet<String>> = layers.layers().to_vec();
    // The file itself, subdir, dir, src, root; bob sits only in the nearest layer.
    assert_eq!(
        layers,
        [
            set(&[]),
            set(&["alice", "bob"]),
            set(&[]),
            set(&["best-approvers"]),
            set(&["cjwagner"])
        ]
    );
}

#[test]
fn the_owners_dir_denylist_hides_directories_as_upstream_tests_expect() {
    type Case = (
        &'static str,
        OwnersDirDenylist,
        &'static [&'static str],
        &'static [&'static str],
    );
    let by = |key: &str, patterns: &[&str]| OwnersDirDenylist {
        repos: [(
            key.to_owned(),
            patterns.iter().map(|p| (*p).to_owned()).collect(),
        )]
        .into(),
        ..OwnersDirDenylist::default()
    };
    let default = |patterns: &[&str]| OwnersDirDenylist {
        default: patterns.iter().map(|p| (*p).to_owned()).collect(),
        ..OwnersDirDenylist::default()
    };
    let src_tree: &[&str] = &["src", "src/dir", "src/dir/conformance", "src/dir/subdir"];
    let everything: &[&str] = &[
        "",
        "src",
        "src/dir",
        "src/dir/conformance",
        "src/dir/subdir",
    ];
    let cases: Vec<Case> = vec![
        ("denylist by org", by("org", &["src"]), &[""], src_tree),
        (
            "denylist by org/repo",
            by("org/repo", &["src"]),
            &[""],
            src_tree,
        ),
        ("denylist by default", default(&["src"]), &[""], src_tree),
        (
            "subdir denylist",
            default(&["dir"]),
            &["", "src"],
            &["src/dir", "src/dir/conformance", "src/dir/subdir"],
        ),
        (
            "no denylist setup",
            OwnersDirDenylist::default(),
            everything,
            &[],
        ),
        (
            "denylist setup but not matching this repo",
            OwnersDirDenylist {
                repos: [
                    ("not_org/not_repo".to_owned(), vec!["src".to_owned()]),
                    ("not_org".to_owned(), vec!["src".to_owned()]),
                ]
                .into(),
                ..OwnersDirDenylist::default()
            },
            everything,
            &[],
        ),
        ("non-matching denylist", default(&["sr$"]), everything, &[]),
        (
            "path denylist",
            default(&["src/dir"]),
            &["", "src"],
            &["src/dir", "src/dir/conformance", "src/dir/subdir"],
        ),
        (
            "regexp denylist path",
            default(&["src/dir/."]),
            &["", "src", "src/dir"],
            &["src/dir/conformance", "src/dir/subdir"],
        ),
        (
            "path substring",
            default(&["/c"]),
            &["", "src", "src/dir", "src/dir/subdir"],
            &["src/dir/conformance"],
        ),
        (
            "exclude preconfigured defaults",
            OwnersDirDenylist::default(),
            &["", "src", "src/dir", "src/dir/subdir", "vendor"],
            &["vendor/k8s.io/client-go"],
        ),
        (
            "ignore preconfigured defaults",
            OwnersDirDenylist {
                ignore_preconfigured_defaults: true,
                ..OwnersDirDenylist::default()
            },
            &[
                "",
                "src",
                "src/dir",
                "src/dir/subdir",
                "vendor",
                "vendor/k8s.io/client-go",
            ],
            &[],
        ),
    ];
    for (name, denylist, include, exclude) in cases {
        let options = BuildOptions {
            dir_denylist: denylist.ignored_dirs("org", "repo"),
            ..BuildOptions::default()
        };
        let dirs = build(TREE, &options).owners_dirs();
        for dir in include {
            assert!(
                dirs.contains(*dir),
                "{name}: {dir:?} should have owners: {dirs:?}"
            );
        }
        for dir in exclude {
            assert!(
                !dirs.contains(*dir),
                "{name}: {dir:?} should be skipped: {dirs:?}"
            );
        }
    }
}

#[test]
fn filters_give_labels_by_regular_expression_on_the_relative_path() {
    let files = [
        (
            "re/OWNERS",
            "filters:\n  \".*\":\n    labels:\n    - re/all\n  \"\\\\.go$\":\n    labels:\n    - re/go",
        ),
        (
            "re/a/OWNERS",
            "filters:\n  \"\\\\.md$\":\n    labels:\n    - re/md-in-a\n  \"\\\\.go$\":\n    labels:\n    - re/go-in-a",
        ),
    ];
    let owners = build(&files, &BuildOptions::default());
    let cases: &[(&str, &[&str])] = &[
        ("re/a/go.go", &["re/all", "re/go", "re/go-in-a"]),
        ("re/a/md.md", &["re/all", "re/md-in-a"]),
        ("re/a/txt.txt", &["re/all"]),
        ("re/go.go", &["re/all", "re/go"]),
        ("re/txt.txt", &["re/all"]),
        ("re/b/md.md", &["re/all"]),
    ];
    for (path, want) in cases {
        assert_eq!(owners.labels(path), set(want), "{path}");
    }
}

/// Upstream's `TestGetApprovers` tree: filters in a leaf and in a `no_parent_owners` dir.
fn filtered_tree() -> RepoOwners {
    let files = [
        ("OWNERS", "approvers: [alice, bob]"),
        ("a/b/c/OWNERS", "approvers: [carl, dave]"),
        (
            "a/b/e/OWNERS",
            "filters:\n  '.*\\.md':\n    approvers: [carl, dave]\n  '.*\\.txt':\n    approvers: [elic]\n",
        ),
        (
            "d/OWNERS",
            "options: {no_parent_owners: true}\napprovers: [mml]",
        ),
        (
            "f/OWNERS",
            "options: {no_parent_owners: true}\nfilters:\n  '.*\\.md':\n    approvers: [carl, dave]\n  '.*\\.txt':\n    approvers: [flex]\n",
        ),
    ];
    build(&files, &BuildOptions::default())
}

#[test]
fn approvers_of_a_file_follow_filters_and_no_parent_owners() {
    let owners = filtered_tree();
    assert!(owners.problems().is_empty(), "{:?}", owners.problems());
    // (file, owners dir, leaf approvers, all approvers)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("testFile.md", "", &["alice", "bob"], &["alice", "bob"]),
        (
            "a/b/c/testFile.md",
            "a/b/c",
            &["carl", "dave"],
            &["alice", "bob", "carl", "dave"],
        ),
        (
            "a/b/e/testFile.md",
            "a/b/e",
            &["carl", "dave"],
            &["alice", "bob", "carl", "dave"],
        ),
        (
            "a/b/e/testFile.dat",
            "",
            &["alice", "bob"],
            &["alice", "bob"],
        ),
        ("d/testFile.go", "d", &["mml"], &["mml"]),
        ("f/testFile.txt", "f", &["flex"], &["flex"]),
        // The filters of a no_parent_owners directory do not match: its parents own the file.
        (
            "f/testFile.go_to_parent",
            "",
            &["alice", "bob"],
            &["alice", "bob"],
        ),
        (
            "DELETED_DIR/testFile.md",
            "",
            &["alice", "bob"],
            &["alice", "bob"],
        ),
    ];
    for (path, dir, leaf, all) in cases {
        assert_eq!(owners.find_approver_owners_for_file(path), *dir, "{path}");
        assert_eq!(owners.leaf_approvers(path), set(leaf), "{path}");
        assert_eq!(owners.approvers(path).all(), set(all), "{path}");
    }
}

#[test]
fn labels_for_paths_include_every_parent() {
    let files = [
        ("OWNERS", "labels: [sig/godzilla]"),
        ("a/b/c/OWNERS", "labels: [wg/save-tokyo]"),
    ];
    let owners = build(&files, &BuildOptions::default());
    let cases: &[(&str, &[&str])] = &[
        ("foo.txt", &["sig/godzilla"]),
        ("./foo.txt", &["sig/godzilla"]),
        ("", &["sig/godzilla"]),
        (".", &["sig/godzilla"]),
        ("a/b/c/foo.txt", &["sig/godzilla", "wg/save-tokyo"]),
        ("a/b/foo.txt", &["sig/godzilla"]),
    ];
    for (path, want) in cases {
        assert_eq!(owners.labels(path), set(want), "{path:?}");
    }
}

#[test]
fn top_level_and_all_owners() {
    let owners = build(TREE, &default_options());
    assert_eq!(owners.top_level_approvers(), set(&["cjwagner"]));
    assert_eq!(
        owners.all_approvers(),
        set(&["alice", "best-approvers", "bob", "cjwagner", "mml"])
    );
    assert_eq!(
        owners.all_reviewers(),
        set(&["alice", "bob", "cjwagner", "jakub"])
    );
    assert_eq!(
        owners.all_owners(),
        set(&["alice", "best-approvers", "bob", "cjwagner", "jakub", "mml"])
    );
}

#[test]
fn files_that_do_not_parse_are_skipped_and_named() {
    let files = [
        ("OWNERS", "approvers: [alice]"),
        ("bad/OWNERS", "approvers:\n  - bob\n reviewers: [x\n"),
        ("worse/OWNERS", "filters:\n  '(':\n    approvers: [carl]\n"),
    ];
    let owners = build(&files, &BuildOptions::default());
    assert_eq!(owners.leaf_approvers("bad/x.go"), set(&["alice"]));
    assert_eq!(owners.leaf_approvers("worse/x.go"), set(&["alice"]));
    let problems: Vec<String> = owners.problems().iter().map(|p| p.file.clone()).collect();
    assert_eq!(problems, ["bad/OWNERS", "worse/OWNERS"]);
    assert!(owners.problems()[0].line >= 2, "{}", owners.problems()[0]);
}
