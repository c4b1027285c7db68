//! size: a PR gets one `size/XS`..`size/XXL` label from its added plus deleted lines, files that
//! `.generated_files` or `linguist-generated=true` in `.gitattributes` (both read at the base)
//! mark as generated left out; thresholds from `size:` (Prow's `pkg/plugins/size`,
//! `pkg/genfiles`, `pkg/gitattributes`).

use std::collections::BTreeSet;

use prow_core::config::{PluginsConfig, SizeConfig};

use crate::event::{Event, Kind};
use crate::help::PluginHelp;
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

pub const GENERATED_FILES: &str = ".generated_files";
pub const GITATTRIBUTES: &str = ".gitattributes";
const PREFIX: &str = "size/";

#[derive(Debug)]
pub struct Size;

/// One changed file's line counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileChange {
    pub filename: String,
    pub additions: u64,
    pub deletions: u64,
}

/// What size reads at the PR's base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SizeFacts {
    pub changes: Vec<FileChange>,
    /// `.generated_files`, when the repo has one.
    pub generated_files: Option<String>,
    /// The files its `paths-from-repo` lines name, as read (missing ones empty).
    pub paths_from_repo: Vec<String>,
    pub gitattributes: Option<String>,
}

/// Prow's genfiles group: which paths are generated.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    paths: BTreeSet<String>,
    path_prefixes: Vec<String>,
    file_names: BTreeSet<String>,
    file_prefixes: Vec<String>,
}

fn config_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The files `.generated_files` pulls paths from (`paths-from-repo <file>`).
pub fn paths_from_repo(generated_files: &str) -> Vec<String> {
    config_lines(generated_files)
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["paths-from-repo", file] => Some(file.to_owned()),
            _ => None,
        })
        .collect()
}

impl Generated {
    /// Reads `.generated_files` and the path lists it names. `Err` names the first line Prow
    /// cannot read.
    pub fn parse(generated_files: &str, path_lists: &[String]) -> Result<Self, String> {
        let mut g = Generated::default();
        for line in config_lines(generated_files) {
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["prefix" | "path-prefix", p] => g.path_prefixes.push(p.to_owned()),
                ["file-prefix", p] => g.file_prefixes.push(p.to_owned()),
                // Prow reads `path` lines as file names too.
                ["file-name" | "path", name] => {
                    g.file_names.insert(name.to_owned());
                }
                ["paths-from-repo", _] => {}
                _ => return Err(format!("invalid config line: {line:?}")),
            }
        }
        for list in path_lists {
            g.paths.extend(config_lines(list).map(str::to_owned));
        }
        Ok(g)
    }

    pub fn matches(&self, path: &str) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        self.paths.contains(path)
            || self
                .path_prefixes
                .iter()
                .any(|p| path.starts_with(p.as_str()))
            || self.file_names.contains(base)
            || self
                .file_prefixes
                .iter()
                .any(|p| base.starts_with(p.as_str()))
    }
}

/// Go's `filepath.Match` on one path element: `*`, `?`, `[...]` (ranges, `^` negation) and
/// `\` escapes; a malformed pattern matches nothing.
fn glob_element(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| glob_element(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && glob_element(rest, &name[1..]),
        Some(('[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let (negate, mut class) = match rest.split_first() {
                Some(('^', r)) => (true, r),
                _ => (false, rest),
            };
            let mut matched = false;
            let mut first = true;
            loop {
                match class {
                    [']', after @ ..] if !first => {
                        return matched != negate && glob_element(after, name_rest);
                    }
                    [] => return false,
                    _ => {}
                }
                first = false;
                let (lo, after) = match class {
                    ['\\', x, after @ ..] | [x, after @ ..] => (*x, after),
                    [] => return false,
                };
                let (hi, after) = match after {
                    ['-', ']', ..] => (lo, after),
                    ['-', '\\', y, after2 @ ..] | ['-', y, after2 @ ..] => (*y, after2),
                    _ => (lo, after),
                };
                matched |= lo <= c && c <= hi;
                class = after;
            }
        }
        Some(('\\', rest)) => match (rest.split_first(), name.split_first()) {
            (Some((p, rest)), Some((n, name_rest))) => p == n && glob_element(rest, name_rest),
            _ => false,
        },
        Some((p, rest)) => name.first() == Some(p) && glob_element(rest, &name[1..]),
    }
}

fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_element(&p, &n)
}

/// One `linguist-generated=true` pattern of `.gitattributes` (Prow's gitattributes pattern).
#[derive(Debug, PartialEq, Eq)]
struct Pattern {
    elements: Vec<String>,
    is_path: bool,
}

impl Pattern {
    /// `None` for what Prow refuses (negative and directory patterns).
    fn parse(p: &str) -> Option<Self> {
        if p.starts_with('!') {
            return None;
        }
        let p = if p.ends_with("\\ ") {
            p
        } else {
            p.trim_end_matches(' ')
        };
        if p.ends_with('/') {
            return None;
        }
        Some(Pattern {
            is_path: p.contains('/'),
            elements: p.split('/').map(str::to_owned).collect(),
        })
    }

    fn matches(&self, path: &str) -> bool {
        let elements: Vec<&str> = path.split('/').collect();
        if self.is_path {
            self.path_match(&elements)
        } else {
            elements.iter().any(|e| glob(&self.elements[0], e))
        }
    }

    /// Anchored element-by-element match where `**` spans any number of directories.
    fn path_match(&self, mut path: &[&str]) -> bool {
        let mut matched = false;
        let mut traverse = false;
        for (i, p) in self.elements.iter().enumerate() {
            if p.is_empty() {
                traverse = false;
                continue;
            }
            if p == "**" {
                if i == self.elements.len() - 1 {
                    break;
                }
                traverse = true;
                continue;
            }
            if p.contains("**") || path.is_empty() {
                return false;
            }
            if traverse {
                traverse = false;
                matched = false;
                while let Some((e, rest)) = path.split_first() {
                    path = rest;
                    if glob(p, e) {
                        matched = true;
                        break;
                    }
                }
            } else {
                if !glob(p, path[0]) {
                    return false;
                }
                matched = true;
                path = &path[1..];
            }
        }
        matched
    }
}

/// The `linguist-generated=true` patterns of a `.gitattributes` (lines Prow refuses are skipped).
fn linguist_generated(gitattributes: &str) -> Vec<Pattern> {
    config_lines(gitattributes)
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let pattern = fields.next()?;
            fields
                .any(|a| a == "linguist-generated=true")
                .then(|| Pattern::parse(pattern))?
        })
        .collect()
}

/// The label for `lines` changed lines.
pub fn label_for(lines: u64, sizes: &SizeConfig) -> &'static str {
    let s = sizes.or_defaults();
    if lines < s.s {
        "size/XS"
    } else if lines < s.m {
        "size/S"
    } else if lines < s.l {
        "size/M"
    } else if lines < s.xl {
        "size/L"
    } else if lines < s.xxl {
        "size/XL"
    } else {
        "size/XXL"
    }
}

/// Changed lines outside generated files.
pub fn count(facts: &SizeFacts) -> u64 {
    // A `.generated_files` Prow cannot read counts as none (Prow warns and goes on).
    let generated = facts
        .generated_files
        .as_deref()
        .and_then(|g| Generated::parse(g, &facts.paths_from_repo).ok())
        .unwrap_or_default();
    let linguist = linguist_generated(facts.gitattributes.as_deref().unwrap_or(""));
    facts
        .changes
        .iter()
        .filter(|c| {
            !generated.matches(&c.filename) && !linguist.iter().any(|p| p.matches(&c.filename))
        })
        .map(|c| c.additions + c.deletions)
        .sum()
}

fn relevant(event: &Event) -> bool {
    event.kind == Kind::PullRequest
        && matches!(
            event.action.as_str(),
            "opened" | "reopened" | "synchronize" | "edited"
        )
}

impl Plugin for Size {
    fn name(&self) -> &'static str {
        "size"
    }

    fn events(&self) -> &'static [&'static str] {
        &["pull_request"]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let s = config.size.or_defaults();
        let mut help = PluginHelp {
            description: "The size plugin manages the 'size/*' labels, maintaining the appropriate label on each pull request as it is updated. Generated files identified by the config file '.generated_files' at the repo root are ignored. Labels are applied based on the total number of lines of changes (additions and deletions).".into(),
            snippet: "size:\n  s: 10\n  m: 30\n  l: 100\n  xl: 500\n  xxl: 1000\n".into(),
            ..PluginHelp::default()
        };
        help.config.insert(
            String::new(),
            format!(
                "The plugin has the following thresholds:<ul>\n<li>size/XS:  0-{}</li>\n<li>size/S:   {}-{}</li>\n<li>size/M:   {}-{}</li>\n<li>size/L:   {}-{}</li>\n<li>size/XL:  {}-{}</li>\n<li>size/XXL: {}+</li>\n</ul>",
                s.s.saturating_sub(1),
                s.s,
                s.m.saturating_sub(1),
                s.m,
                s.l.saturating_sub(1),
                s.l,
                s.xl.saturating_sub(1),
                s.xl,
                s.xxl.saturating_sub(1),
                s.xxl
            ),
        );
        help
    }

    fn needs(&self, event: &Event, _: &PluginsConfig) -> Option<Needs> {
        relevant(event).then(|| Needs {
            labels: true,
            size: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let Some(size) = facts.size.as_ref().filter(|_| relevant(event)) else {
            return vec![];
        };
        let wanted = label_for(count(size), &config.size);
        // Prow compares names exactly: other size labels go, the wanted one is added if missing.
        let mut out: Vec<Action> = facts
            .labels
            .iter()
            .filter(|l| l.as_str() != wanted && l.starts_with(PREFIX))
            .map(|l| Action::RemoveLabel(l.clone()))
            .collect();
        if !facts.labels.iter().any(|l| l == wanted) {
            out.push(Action::AddLabel(wanted.into()));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::PullRequest;
    use crate::testing::{comment_event, facts_with_labels};

    fn change(name: &str, lines: u64) -> FileChange {
        FileChange {
            filename: name.into(),
            additions: lines,
            deletions: 0,
        }
    }

    #[test]
    fn thresholds_are_prows_with_defaults() {
        let d = SizeConfig::default();
        let cases = [
            (0, "size/XS"),
            (9, "size/XS"),
            (10, "size/S"),
            (29, "size/S"),
            (30, "size/M"),
            (100, "size/L"),
            (500, "size/XL"),
            (999, "size/XL"),
            (1000, "size/XXL"),
        ];
        for (lines, want) in cases {
            assert_eq!(label_for(lines, &d), want, "{lines}");
        }
        let custom = SizeConfig {
            s: 1,
            xxl: 20,
            ..SizeConfig::default()
        };
        assert_eq!(label_for(1, &custom), "size/S");
        // Thresholds are checked in order, so a small xxl under the default m changes nothing.
        assert_eq!(label_for(25, &custom), "size/S");
        assert_eq!(label_for(1000, &custom), "size/XXL");
    }

    #[test]
    fn generated_files_and_linguist_generated_paths_do_not_count() {
        let facts = SizeFacts {
            changes: vec![
                change("main.go", 5),
                change("zz_generated.deepcopy.go", 100),
                change("api/openapi.json", 100),
                change("vendor/x/y.go", 100),
                change("listed/by/repo.go", 100),
                change("docs/gen/a/b.md", 100),
                change("pkg/fake_client.go", 100),
                change("Gopkg.lock", 100),
                change("docs/hand.md", 7),
            ],
            generated_files: Some(
                "# generated\nfile-prefix zz_generated.\npath-prefix vendor/\nfile-name Gopkg.lock\npaths-from-repo generated.txt\n".into(),
            ),
            paths_from_repo: vec!["# list\nlisted/by/repo.go\n".into()],
            gitattributes: Some(
                "*.json linguist-generated=true\ndocs/gen/** linguist-generated=true\n**/fake_*.go linguist-generated=true\n!x linguist-generated=true\n*.md text\n".into(),
            ),
        };
        assert_eq!(count(&facts), 12);
        assert_eq!(
            paths_from_repo(facts.generated_files.as_deref().unwrap()),
            ["generated.txt"]
        );
        let broken = SizeFacts {
            generated_files: Some("nonsense line here\n".into()),
            ..facts.clone()
        };
        assert!(Generated::parse("nonsense line here", &[]).is_err());
        assert!(count(&broken) > count(&facts));
    }

    #[test]
    fn gitattributes_patterns_match_as_prow() {
        let cases = [
            ("*.pb.go", "a/b/c.pb.go", true),
            ("c.pb.go", "a/c.pb.go", true),
            ("a/*.go", "a/b.go", true),
            ("a/*.go", "x/a/b.go", false),
            ("a/**/b.go", "a/x/y/b.go", true),
            ("a/**", "a/x/y/b.go", true),
            ("**/b.go", "x/b.go", true),
            ("[ab].go", "b.go", true),
            ("[^ab].go", "b.go", false),
            ("?.go", "ab.go", false),
        ];
        for (pattern, path, want) in cases {
            let p = Pattern::parse(pattern).unwrap();
            assert_eq!(p.matches(path), want, "{pattern} on {path}");
        }
        assert!(Pattern::parse("dir/").is_none());
        assert!(Pattern::parse("!neg").is_none());
    }

    #[test]
    fn one_size_label_is_kept() {
        let cfg = PluginsConfig::default();
        let mut ev = comment_event("", "author", true);
        ev.kind = Kind::PullRequest;
        ev.action = "synchronize".into();
        ev.comment = None;
        ev.pull_request = Some(PullRequest::default());
        let facts = |labels: &[&str]| Facts {
            size: Some(SizeFacts {
                changes: vec![change("a.go", 40)],
                ..SizeFacts::default()
            }),
            ..facts_with_labels(labels)
        };
        assert_eq!(
            Size.decide(&ev, &facts(&["size/S", "lgtm"]), &cfg),
            [
                Action::RemoveLabel("size/S".into()),
                Action::AddLabel("size/M".into())
            ]
        );
        assert!(Size.decide(&ev, &facts(&["size/M"]), &cfg).is_empty());
        assert!(Size.needs(&ev, &cfg).is_some_and(|n| n.size && n.labels));
        ev.action = "labeled".into();
        assert!(Size.needs(&ev, &cfg).is_none());
    }
}
