//! verify-owners as a pure function: what is wrong with the OWNERS and OWNERS_ALIASES files a pull request changes.
//!
//! Checks, after Prow's `verify-owners` plugin: files that do not parse (with the line),
//! labels from `labels_denylist`, a root OWNERS without approvers, empty aliases, and owners
//! newly added who are not trusted (the caller's predicate: org members, or whatever
//! trigger trusts). Beyond Prow: names that are neither an alias nor a possible GitHub
//! login (`sig-foo_approvers`, `org/team`) are reported as unknown aliases, since they can
//! never match anyone.
//!
//! Which owners count as newly added: with the file's patch, logins written on its added
//! lines (Prow looks only at `+ - login` list items; flow lists `[a, b]` count here too);
//! without a patch (GitHub leaves it out of very large diffs), every owner of the file.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Aliases, Filenames, OwnersFile, parse_aliases, parse_owners};
use crate::normalize_login;
use crate::repo::parent_dir;

/// One changed file, as of the pull request's head.
#[derive(Debug, Clone, Copy)]
pub struct ChangedFile<'a> {
    pub path: &'a str,
    pub contents: &'a str,
    /// The file's diff as GitHub gives it (`patch` of a pull request file).
    pub patch: Option<&'a str>,
}

/// What verify-owners looks at.
#[derive(Debug, Clone, Default)]
pub struct VerifyInput<'a> {
    /// Changed (not removed) OWNERS files.
    pub owners_files: Vec<ChangedFile<'a>>,
    /// The root aliases file at the head, when it exists; `changed` says whether the pull
    /// request touches it (only then are its members checked).
    pub aliases_file: Option<ChangedFile<'a>>,
    pub aliases_changed: bool,
    /// `owners.labels_denylist` of plugins.yaml.
    pub labels_denylist: &'a [String],
    pub filenames: Filenames,
    /// `owners.skip_collaborators` names the repository: no membership checks.
    pub skip_trust_check: bool,
}

/// A problem verify-owners reports. `line` is the 1-based line in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file does not parse.
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    /// The file sets labels the configuration forbids.
    BannedLabels {
        file: String,
        line: usize,
        labels: Vec<String>,
    },
    /// The root OWNERS names no approvers.
    NoRootApprovers { file: String },
    /// A name that is not an alias and cannot be a GitHub login.
    UnknownAlias {
        file: String,
        line: usize,
        name: String,
    },
    /// A newly added owner the predicate does not trust.
    NotTrusted {
        file: String,
        line: usize,
        login: String,
    },
    /// Aliases without members (Prow advises a cleanup).
    EmptyAliases { file: String, aliases: Vec<String> },
}

impl Problem {
    pub fn file(&self) -> &str {
        match self {
            Problem::Syntax { file, .. }
            | Problem::BannedLabels { file, .. }
            | Problem::NoRootApprovers { file }
            | Problem::UnknownAlias { file, .. }
            | Problem::NotTrusted { file, .. }
            | Problem::EmptyAliases { file, .. } => file,
        }
    }

    /// The line the problem is on (1 when it concerns the whole file).
    pub fn line(&self) -> usize {
        match self {
            Problem::Syntax { line, .. }
            | Problem::BannedLabels { line, .. }
            | Problem::UnknownAlias { line, .. }
            | Problem::NotTrusted { line, .. } => *line,
            Problem::NoRootApprovers { .. } | Problem::EmptyAliases { .. } => 1,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Syntax {
                file,
                line,
                message,
            } => {
                write!(f, "{file}:{line}: cannot parse file: {message}")
            }
            Problem::BannedLabels { file, line, labels } => write!(
                f,
                "{file}:{line}: file contains banned labels: {}",
                labels.join(", ")
            ),
            Problem::NoRootApprovers { file } => {
                write!(
                    f,
                    "{file}: no approvers defined in this root directory file"
                )
            }
            Problem::UnknownAlias { file, line, name } => write!(
                f,
                "{file}:{line}: {name:?} is not an alias of OWNERS_ALIASES nor a GitHub login"
            ),
            Problem::NotTrusted { file, line, login } => write!(
                f,
                "{file}:{line}: {login} is not a member of the organisation"
            ),
            Problem::EmptyAliases { file, aliases } => write!(
                f,
                "{file}: empty aliases, cleanup is advised: {}",
                aliases.join(", ")
            ),
        }
    }
}

/// Whether `name` can be a GitHub login: letters, digits and single inner hyphens, at most
/// 39 characters.
pub fn is_possible_login(name: &str) -> bool {
    let name = name.trim_start_matches('@');
    !name.is_empty()
        && name.len() <= 39
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '/'
}

/// Whether `line` holds `word` on its own (case-insensitive).
fn has_word(line: &str, word: &str) -> bool {
    let line = line.to_lowercase();
    let word = word.trim_start_matches('@').to_lowercase();
    if word.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(found) = line[from..].find(&word) {
        let start = from + found;
        let end = start + word.len();
        let before = line[..start].chars().next_back();
        let after = line[end..].chars().next();
        if !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char) {
            return true;
        }
        from = start + 1;
        while !line.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// The first line (1-based) naming `word`, else 1.
fn line_of(text: &str, word: &str) -> usize {
    text.lines()
        .position(|l| has_word(l, word))
        .map_or(1, |i| i + 1)
}

fn added_lines(patch: &str) -> Vec<&str> {
    patch
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect()
}

/// Whether `login` counts as newly added to a file with this patch.
fn newly_added(patch: Option<&str>, login: &str) -> bool {
    match patch {
        None => true,
        Some(patch) => added_lines(patch).iter().any(|l| has_word(l, login)),
    }
}

/// Maps the new-file line numbers of a patch's added lines to their position in the patch
/// (the `position` GitHub review comments take; the first `@@` line is position 0), as
/// Prow's `golint.AddedLines`. Malformed hunks end the map where they start.
pub fn added_line_positions(patch: &str) -> BTreeMap<usize, usize> {
    let mut positions = BTreeMap::new();
    let mut new_line = 0;
    for (position, line) in patch.split('\n').enumerate() {
        if let Some(header) = line.strip_prefix("@@ ") {
            let Some(new_start) = header
                .split_whitespace()
                .find_map(|part| part.strip_prefix('+'))
                .and_then(|range| range.split(',').next())
                .and_then(|start| start.parse::<usize>().ok())
            else {
                break;
            };
            new_line = new_start;
        } else if line.starts_with('+') {
            positions.insert(new_line, position);
            new_line += 1;
        } else if line.starts_with(' ') || line.is_empty() {
            new_line += 1;
        }
    }
    positions
}

/// The logins whose trust [`verify_owners`] will ask about, so a caller can look them up
/// (e.g. org membership) before calling it.
pub fn logins_to_check(input: &VerifyInput<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if input.skip_trust_check {
        return out;
    }
    let aliases = aliases_of(input).unwrap_or_default();
    for (login, _, _) in candidates(input, &aliases) {
        out.insert(login);
    }
    out
}

fn aliases_of(input: &VerifyInput<'_>) -> Option<Aliases> {
    let file = input.aliases_file?;
    parse_aliases(file.path, file.contents).ok()
}

/// (login, file, line) of each owner to check for trust.
fn candidates(input: &VerifyInput<'_>, aliases: &Aliases) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    if let (true, Some(file)) = (input.aliases_changed, input.aliases_file) {
        for member in aliases.all_members() {
            if is_possible_login(&member) && newly_added(file.patch, &member) {
                out.push((
                    member.clone(),
                    file.path.to_owned(),
                    line_of(file.contents, &member),
                ));
            }
        }
    }
    for file in &input.owners_files {
        let Ok(parsed) = parse_owners(file.path, file.contents) else {
            continue;
        };
        let mut names = BTreeSet::new();
        for entry in parsed.entries() {
            names.extend(entry.reviewers.iter().chain(&entry.approvers).cloned());
        }
        for name in names {
            if aliases.is_alias(&name) || !is_possible_login(&name) {
                continue;
            }
            if newly_added(file.patch, &name) {
                out.push((
                    normalize_login(&name),
                    file.path.to_owned(),
                    line_of(file.contents, &name),
                ));
            }
        }
    }
    out
}

/// Every problem of the changed OWNERS files, in file order. `is_trusted` answers for the
/// logins of [`logins_to_check`] (normalised: lower case, no `@`).
pub fn verify_owners(input: &VerifyInput<'_>, is_trusted: &dyn Fn(&str) -> bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    let aliases = match input.aliases_file {
        Some(file) => match parse_aliases(file.path, file.contents) {
            Ok(aliases) => {
                let empty: Vec<String> = aliases
                    .iter()
                    .filter(|(_, members)| members.is_empty())
                    .map(|(alias, _)| alias.clone())
                    .collect();
                if !empty.is_empty() {
                    problems.push(Problem::EmptyAliases {
                        file: file.path.to_owned(),
                        aliases: empty,
                    });
                }
                aliases
            }
            Err(e) => {
                problems.push(Problem::Syntax {
                    file: file.path.to_owned(),
                    line: e.line,
                    message: e.message,
                });
                Aliases::default()
            }
        },
        None => Aliases::default(),
    };
    let banned: BTreeSet<&str> = input.labels_denylist.iter().map(String::as_str).collect();
    for file in &input.owners_files {
        let parsed = match parse_owners(file.path, file.contents) {
            Ok(parsed) => parsed,
            Err(e) => {
                problems.push(Problem::Syntax {
                    file: file.path.to_owned(),
                    line: e.line,
                    message: e.message,
                });
                continue;
            }
        };
        problems.extend(file_problems(file, &parsed, &aliases, &banned));
    }
    if !input.skip_trust_check {
        for (login, file, line) in candidates(input, &aliases) {
            if !is_trusted(&login) {
                problems.push(Problem::NotTrusted { file, line, login });
            }
        }
    }
    problems
}

fn file_problems(
    file: &ChangedFile<'_>,
    parsed: &OwnersFile,
    aliases: &Aliases,
    banned: &BTreeSet<&str>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let entries = parsed.entries();
    let labels: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.labels.iter().map(String::as_str))
        .collect();
    let hit: Vec<String> = labels
        .intersection(banned)
        .map(|l| (*l).to_owned())
        .collect();
    if let Some(first) = hit.first() {
        problems.push(Problem::BannedLabels {
            file: file.path.to_owned(),
            line: line_of(file.contents, first),
            labels: hit,
        });
    }
    if parent_dir(file.path).is_empty() && entries.iter().all(|e| e.approvers.is_empty()) {
        problems.push(Problem::NoRootApprovers {
            file: file.path.to_owned(),
        });
    }
    let mut names = BTreeSet::new();
    for entry in &entries {
        names.extend(
            entry
                .approvers
                .iter()
                .chain(&entry.reviewers)
                .chain(&entry.required_reviewers)
                .cloned(),
        );
    }
    for name in names {
        if !aliases.is_alias(&name) && !is_possible_login(&name) {
            problems.push(Problem::UnknownAlias {
                file: file.path.to_owned(),
                line: line_of(file.contents, &name),
                name,
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn possible_logins_follow_githubs_rules() {
        for ok in ["alice", "Bob-2", "@carol", "a"] {
            assert!(is_possible_login(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "sig_node",
            "org/team",
            &"x".repeat(40),
        ] {
            assert!(!is_possible_login(bad), "{bad}");
        }
    }

    #[test]
    fn words_match_whole_logins_only() {
        assert!(has_word("+- Alice", "alice"));
        assert!(has_word("approvers: [bob, alice]", "@alice"));
        assert!(!has_word("- alicex", "alice"));
        assert!(!has_word("- sig-alice", "alice"));
        assert_eq!(line_of("a\nb\n- carol\n", "carol"), 3);
    }

    #[test]
    fn added_lines_map_to_patch_positions() {
        let patch = "@@ -1,2 +1,3 @@\n approvers:\n+- alice\n - bob\n@@ -10,1 +11,2 @@\n-x\n+y\n+z";
        let positions = added_line_positions(patch);
        assert_eq!(positions.get(&2), Some(&2));
        assert_eq!(positions.get(&11), Some(&6));
        assert_eq!(positions.get(&12), Some(&7));
        assert_eq!(positions.len(), 3);
    }
}
