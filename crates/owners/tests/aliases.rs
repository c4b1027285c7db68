//! OWNERS_ALIASES reading and expansion, from cases re-typed after upstream Prow's `TestParseAliasesConfig` and `TestExpandAliases`.
#![allow(clippy::unwrap_used)]
// Case tables are tuples of login slices; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]

use std::collections::{BTreeMap, BTreeSet};

use prow_owners::{Aliases, parse_aliases};

fn set(logins: &[&str]) -> BTreeSet<String> {
    logins.iter().map(|l| (*l).to_owned()).collect()
}

fn aliases(entries: &[(&str, &[&str])]) -> Aliases {
    Aliases::new(
        entries
            .iter()
            .map(|(alias, members)| ((*alias).to_owned(), set(members)))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[test]
fn aliases_files_read_as_prow_reads_them() {
    let cases: &[(&str, &str, Result<&[(&str, &[&str])], &str>)] = &[
        (
            "valid aliases",
            "aliases:\n  team1:\n    - alice\n    - bob\n  team2:\n    - nikhilnishad\n",
            Ok(&[("team1", &["alice", "bob"]), ("team2", &["nikhilnishad"])]),
        ),
        (
            "flow style mapping",
            "aliases:\n  team1: {alice, bob}\n",
            Ok(&[("team1", &["alice", "bob"])]),
        ),
        (
            "empty group with braces",
            "aliases:\n  empty-alias-group-with-braces: {}\n",
            Ok(&[("empty-alias-group-with-braces", &[])]),
        ),
        (
            "empty group",
            "aliases:\n  empty-alias-group:\n",
            Ok(&[("empty-alias-group", &[])]),
        ),
        (
            "incorrect indentation",
            "aliases:\n  alias-group-1:\n    - user1\n    alias-group-2:\n    - user2\n",
            Err(""),
        ),
        (
            "a string instead of a list",
            "aliases:\n  alias-group-1: \"\"\n",
            Err("must contain a list of members"),
        ),
    ];
    for (name, text, want) in cases {
        match (parse_aliases("OWNERS_ALIASES", text), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, aliases(want), "{name}"),
            (Err(err), Err(fragment)) => {
                assert!(err.message.contains(fragment), "{name}: {err}");
                assert_eq!(err.file, "OWNERS_ALIASES", "{name}");
                assert!(err.line >= 2, "{name}: {err}");
            }
            (got, _) => panic!("{name}: got {got:?}"),
        }
    }
}

#[test]
fn expansion_replaces_aliases_case_insensitively() {
    let teams = aliases(&[
        ("team/t1", &["u1", "u2"]),
        ("team/t2", &["u1", "u3"]),
        ("team/t3", &[]),
    ]);
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("no expansions", &["abc", "def"], &["abc", "def"]),
        ("one alias", &["abc", "team/t1"], &["abc", "u1", "u2"]),
        (
            "duplicates inside and outside",
            &["u1", "team/t1"],
            &["u1", "u2"],
        ),
        (
            "duplicates across aliases",
            &["u1", "team/t1", "team/t2"],
            &["u1", "u2", "u3"],
        ),
        ("mixed case", &["Team/T1"], &["u1", "u2"]),
        ("empty team", &["Team/T3"], &[]),
    ];
    for (name, logins, want) in cases {
        let logins: Vec<String> = logins.iter().map(|l| (*l).to_owned()).collect();
        assert_eq!(teams.expand_all(&logins), set(want), "{name}");
    }
    assert_eq!(teams.all_members(), set(&["u1", "u2", "u3"]));
}
