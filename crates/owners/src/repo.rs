//! `RepoOwners`: who approves, reviews and labels each path of one repository at one commit, resolved up the tree as Prow's `repoowners` does.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use crate::config::{
    Aliases, DirOptions, Filenames, OwnersEntry, OwnersFile, ParseError, parse_aliases,
    parse_owners,
};
use crate::normalize_login;

/// Logins by layer: layer 0 is the file's own directory, 1 its parent, and so on. A login
/// sits only in the nearest layer naming it (Prow's `layeredsets.String`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layered {
    layers: Vec<BTreeSet<String>>,
}

impl Layered {
    fn insert(&mut self, layer: usize, logins: &BTreeSet<String>) {
        while self.layers.len() <= layer {
            self.layers.push(BTreeSet::new());
        }
        for login in logins {
            if !self.contains(login) {
                self.layers[layer].insert(login.clone());
            }
        }
    }

    pub fn contains(&self, login: &str) -> bool {
        self.layers.iter().any(|l| l.contains(login))
    }

    /// Every login, all layers together.
    pub fn all(&self) -> BTreeSet<String> {
        self.layers.iter().flatten().cloned().collect()
    }

    /// The layers, nearest first; a layer may be empty.
    pub fn layers(&self) -> &[BTreeSet<String>] {
        &self.layers
    }

    pub fn len(&self) -> usize {
        self.layers.iter().map(BTreeSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One `filters:` entry (or a plain file, with no filter) of one directory.
#[derive(Debug, Clone)]
struct Rule {
    /// `None` for a plain file and for the `.*` filter (Prow stores both as "no regexp").
    filter: Option<Regex>,
    logins: BTreeSet<String>,
}

impl Rule {
    fn applies_to(&self, relative: &str) -> bool {
        self.filter.as_ref().is_none_or(|re| re.is_match(relative))
    }
}

type Rules = BTreeMap<String, Vec<Rule>>;

/// How to read a repository's files.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub filenames: Filenames,
    /// Directory patterns whose OWNERS files are skipped, e.g. from
    /// [`crate::OwnersDirDenylist::ignored_dirs`]. Matched, unanchored, against each
    /// directory's path from the root (`.` for the root itself).
    pub dir_denylist: Vec<String>,
    /// Read OWNERS headers at the top of `*.md` files (Prow's `mdyamlrepos`).
    pub md_yaml: bool,
}

impl BuildOptions {
    /// The options Prow uses for `org/repo`: file names and `mdyamlrepos` from plugins.yaml's
    /// `owners:`, the directory denylist from config.yaml's `owners_dir_denylist`.
    pub fn for_repo(
        owners: &prow_core::config::OwnersConfig,
        denylist: &crate::OwnersDirDenylist,
        org: &str,
        repo: &str,
    ) -> Result<Self, crate::ConfigError> {
        let full = format!("{org}/{repo}");
        Ok(BuildOptions {
            filenames: crate::config::filenames_for(owners, org, repo)?,
            dir_denylist: denylist.ignored_dirs(org, repo),
            md_yaml: owners.mdyamlrepos.iter().any(|r| r == org || *r == full),
        })
    }

    fn compiled_denylist(&self, problems: &mut Vec<ParseError>) -> Vec<Regex> {
        self.dir_denylist
            .iter()
            .filter_map(|pattern| match Regex::new(pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    problems.push(ParseError {
                        file: "owners_dir_denylist".to_owned(),
                        line: 0,
                        column: 0,
                        message: format!("invalid regular expression {pattern:?}: {e}"),
                    });
                    None
                }
            })
            .collect()
    }

    /// Whether the file at `path` (from the root) is one [`RepoOwners::build`] reads: the
    /// root aliases file, OWNERS files and (with `md_yaml`) `*.md` files outside denylisted
    /// directories. Loaders fetch only these.
    pub fn wants(&self, path: &str, denylist: &[Regex]) -> bool {
        if path == self.filenames.owners_aliases {
            return true;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let relevant = name == self.filenames.owners || (self.md_yaml && name.ends_with(".md"));
        relevant && !denied(parent_dir(path), denylist)
    }

    /// The denylist compiled (invalid patterns are dropped; [`RepoOwners::problems`] names
    /// them after a build).
    pub fn denylist(&self) -> Vec<Regex> {
        self.compiled_denylist(&mut Vec::new())
    }
}

/// The directory of `path`, `""` for the root (Prow's `canonicalize(filepath.Dir(p))`).
pub(crate) fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A directory is skipped, with everything below it, when it or any parent matches.
fn denied(dir: &str, denylist: &[Regex]) -> bool {
    if denylist.is_empty() {
        return false;
    }
    if denylist.iter().any(|re| re.is_match(".")) {
        return true;
    }
    let mut end = 0;
    let parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in parts {
        end += part.len();
        let prefix = &dir[..end];
        if denylist.iter().any(|re| re.is_match(prefix)) {
            return true;
        }
        end += 1;
    }
    false
}

/// `path` relative to `dir` as Go's `filepath.Rel` gives it for a parent (or the path itself).
fn relative_to<'a>(dir: &str, path: &'a str) -> &'a str {
    if dir.is_empty() {
        if path.is_empty() { "." } else { path }
    } else if dir == path {
        "."
    } else {
        path.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(path)
    }
}

/// The YAML header of a markdown file (between a leading `---` line and the last `---`
/// line), as Prow's `mdStructuredHeaderRegex` takes it.
fn md_header(text: &str) -> &str {
    if !text.starts_with("---\n") {
        return "";
    }
    match text.rfind("\n---") {
        Some(end) if end >= 4 => &text[..end + 4],
        _ => "",
    }
}

/// The owners of one repository at one commit. Built from its files by [`RepoOwners::build`];
/// all queries are pure. Paths are `/`-separated from the root, without a leading `/`;
/// directories are named the same way, the root being `""`.
#[derive(Debug, Clone, Default)]
pub struct RepoOwners {
    aliases: Aliases,
    approvers: Rules,
    reviewers: Rules,
    required_reviewers: Rules,
    labels: Rules,
    options: BTreeMap<String, DirOptions>,
    md_yaml: bool,
    filenames: Filenames,
    problems: Vec<ParseError>,
}

impl RepoOwners {
    /// Reads the OWNERS files among `files` (path, contents), with the aliases of the root
    /// OWNERS_ALIASES. Files that do not parse are skipped and listed in
    /// [`RepoOwners::problems`], as Prow logs and skips them; so is an aliases file that does
    /// not parse (no aliases are then used, where Prow keeps whichever it read first).
    pub fn build<'a, I>(files: I, options: &BuildOptions) -> RepoOwners
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut owners = RepoOwners {
            md_yaml: options.md_yaml,
            filenames: options.filenames.clone(),
            ..RepoOwners::default()
        };
        let denylist = options.compiled_denylist(&mut owners.problems);
        let mut files: Vec<(&str, &str)> = files
            .into_iter()
            .map(|(path, text)| (path.trim_start_matches('/'), text))
            .collect();
        // Prow walks the tree in lexical order; the last word on a directory wins.
        files.sort_by(|a, b| a.0.cmp(b.0));
        if let Some((path, text)) = files
            .iter()
            .find(|(path, _)| *path == options.filenames.owners_aliases)
        {
            match parse_aliases(path, text) {
                Ok(aliases) => owners.aliases = aliases,
                Err(e) => owners.problems.push(e),
            }
        }
        for (path, text) in files {
            let name = path.rsplit('/').next().unwrap_or(path);
            if denied(parent_dir(path), &denylist) {
                continue;
            }
            if options.md_yaml && name.ends_with(".md") {
                owners.apply_md(path, text);
            } else if name == options.filenames.owners {
                match parse_owners(path, text) {
                    Ok(file) => owners.apply_file(parent_dir(path), &file),
                    Err(e) => owners.problems.push(e),
                }
            }
        }
        owners
    }

    fn apply_md(&mut self, path: &str, text: &str) {
        let header = md_header(text);
        if header.is_empty() {
            return;
        }
        // A markdown header is only ever the plain form, and applies to the file itself.
        match parse_owners(path, header) {
            Ok(OwnersFile::Simple { options, entry }) => {
                self.apply_entry(path, None, &entry);
                self.apply_options(path, options);
            }
            Ok(OwnersFile::Filters { options, .. }) => self.apply_options(path, options),
            Err(e) => self.problems.push(e),
        }
    }

    fn apply_file(&mut self, dir: &str, file: &OwnersFile) {
        match file {
            OwnersFile::Simple { entry, .. } => self.apply_entry(dir, None, entry),
            OwnersFile::Filters { filters, .. } => {
                for (pattern, entry) in filters {
                    if pattern == ".*" {
                        self.apply_entry(dir, None, entry);
                        continue;
                    }
                    match Regex::new(pattern) {
                        Ok(re) => self.apply_entry(dir, Some(re), entry),
                        Err(e) => self.problems.push(ParseError {
                            file: format!("{}{}", dir_prefix(dir), self.filenames.owners),
                            line: 0,
                            column: 0,
                            message: format!("invalid filter {pattern:?}: {e}"),
                        }),
                    }
                }
            }
        }
        self.apply_options(dir, file.options());
    }

    fn apply_entry(&mut self, at: &str, filter: Option<Regex>, entry: &OwnersEntry) {
        let expand = |logins: &[String]| self.aliases.expand_all(logins);
        let sets = [
            (expand(&entry.approvers), 0),
            (expand(&entry.reviewers), 1),
            (expand(&entry.required_reviewers), 2),
            // Labels are not logins: kept as written.
            (entry.labels.iter().cloned().collect(), 3),
        ];
        for (logins, which) in sets {
            if logins.is_empty() {
                continue;
            }
            let rules = match which {
                0 => &mut self.approvers,
                1 => &mut self.reviewers,
                2 => &mut self.required_reviewers,
                _ => &mut self.labels,
            };
            rules.entry(at.to_owned()).or_default().push(Rule {
                filter: filter.clone(),
                logins,
            });
        }
    }

    fn apply_options(&mut self, at: &str, options: DirOptions) {
        if options != DirOptions::default() {
            self.options.insert(at.to_owned(), options);
        }
    }

    /// Files that could not be read (skipped, as Prow skips them).
    pub fn problems(&self) -> &[ParseError] {
        &self.problems
    }

    pub fn aliases(&self) -> &Aliases {
        &self.aliases
    }

    pub fn filenames(&self) -> &Filenames {
        &self.filenames
    }

    /// Keeps only approvers and reviewers who are `collaborators` (Prow's behaviour unless
    /// the repository is in `skip_collaborators`); required reviewers and labels stay.
    pub fn filter_collaborators<'a, I>(&self, collaborators: I) -> RepoOwners
    where
        I: IntoIterator<Item = &'a str>,
    {
        let keep: BTreeSet<String> = collaborators.into_iter().map(normalize_login).collect();
        let filter = |rules: &Rules| -> Rules {
            rules
                .iter()
                .map(|(dir, rules)| {
                    let kept = rules
                        .iter()
                        .map(|rule| Rule {
                            filter: rule.filter.clone(),
                            logins: rule.logins.intersection(&keep).cloned().collect(),
                        })
                        .collect();
                    (dir.clone(), kept)
                })
                .collect()
        };
        RepoOwners {
            approvers: filter(&self.approvers),
            reviewers: filter(&self.reviewers),
            ..self.clone()
        }
    }

    /// Prow's `entriesForFile`: from the path itself up to the root, the rules that apply;
    /// `leaf_only` stops at the first layer naming anyone, `no_parent_owners` at the first
    /// directory with the option once anyone was found.
    fn entries_for(&self, path: &str, rules: &Rules, leaf_only: bool) -> Layered {
        let path = path.trim_start_matches('/');
        let path = path.strip_prefix("./").unwrap_or(path);
        let path = if path == "." { "" } else { path };
        let mut dir = if self.md_yaml && path.ends_with(".md") {
            path
        } else {
            path.trim_end_matches('/')
        };
        let mut out = Layered::default();
        let mut layer = 0;
        loop {
            let relative = relative_to(dir, path);
            for rule in rules.get(dir).into_iter().flatten() {
                if rule.applies_to(relative) {
                    out.insert(layer, &rule.logins);
                }
            }
            if (leaf_only && !out.is_empty()) || dir.is_empty() {
                break;
            }
            if self.is_no_parent_owners(dir) && !out.is_empty() {
                break;
            }
            dir = parent_dir(dir);
            layer += 1;
        }
        out
    }

    /// Prow's `findOwnersForFile`: the nearest directory (or `.md` file) at or above `path`
    /// with a rule naming someone for it; `""` for the root or when nobody is named.
    fn find_owners_for(&self, path: &str, rules: &Rules) -> String {
        let path = path.trim_start_matches('/');
        let mut dir = path;
        while !dir.is_empty() {
            let relative = relative_to(dir, path);
            if rules
                .get(dir)
                .into_iter()
                .flatten()
                .any(|rule| rule.applies_to(relative) && !rule.logins.is_empty())
            {
                return dir.to_owned();
            }
            dir = parent_dir(dir);
        }
        String::new()
    }

    /// Everyone who may approve `path`, by layer (nearest OWNERS first).
    pub fn approvers(&self, path: &str) -> Layered {
        self.entries_for(path, &self.approvers, false)
    }

    /// The approvers of the nearest OWNERS naming any for `path`.
    pub fn leaf_approvers(&self, path: &str) -> BTreeSet<String> {
        self.entries_for(path, &self.approvers, true).all()
    }

    pub fn reviewers(&self, path: &str) -> Layered {
        self.entries_for(path, &self.reviewers, false)
    }

    pub fn leaf_reviewers(&self, path: &str) -> BTreeSet<String> {
        self.entries_for(path, &self.reviewers, true).all()
    }

    /// Required reviewers of `path` from every OWNERS up the tree.
    pub fn required_reviewers(&self, path: &str) -> BTreeSet<String> {
        self.entries_for(path, &self.required_reviewers, false)
            .all()
    }

    /// Labels OWNERS files up the tree give `path` (Prow's `FindLabelsForFile`).
    pub fn labels(&self, path: &str) -> BTreeSet<String> {
        self.entries_for(path, &self.labels, false).all()
    }

    /// The directory whose OWNERS approvers own `path` (`""`: the root, or nobody).
    pub fn find_approver_owners_for_file(&self, path: &str) -> String {
        self.find_owners_for(path, &self.approvers)
    }

    pub fn find_reviewers_owners_for_file(&self, path: &str) -> String {
        self.find_owners_for(path, &self.reviewers)
    }

    /// Whether the OWNERS of directory `dir` (`""` for the root) sets `no_parent_owners`.
    pub fn is_no_parent_owners(&self, dir: &str) -> bool {
        self.options.get(dir).is_some_and(|o| o.no_parent_owners)
    }

    pub fn is_auto_approve_unowned_subfolders(&self, dir: &str) -> bool {
        self.options
            .get(dir)
            .is_some_and(|o| o.auto_approve_unowned_subfolders)
    }

    /// The root OWNERS's approvers.
    pub fn top_level_approvers(&self) -> BTreeSet<String> {
        self.entries_for("", &self.approvers, true).all()
    }

    /// Directories (and `.md` files) whose OWNERS name approvers or reviewers.
    pub fn owners_dirs(&self) -> BTreeSet<String> {
        self.approvers
            .keys()
            .chain(self.reviewers.keys())
            .cloned()
            .collect()
    }

    pub fn all_approvers(&self) -> BTreeSet<String> {
        all_logins(&self.approvers)
    }

    pub fn all_reviewers(&self) -> BTreeSet<String> {
        all_logins(&self.reviewers)
    }

    pub fn all_owners(&self) -> BTreeSet<String> {
        let mut all = self.all_approvers();
        all.extend(self.all_reviewers());
        all
    }
}

fn all_logins(rules: &Rules) -> BTreeSet<String> {
    rules
        .values()
        .flatten()
        .flat_map(|r| r.logins.iter().cloned())
        .collect()
}

fn dir_prefix(dir: &str) -> String {
    if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_go_filepath_rel() {
        assert_eq!(relative_to("", "a/b.go"), "a/b.go");
        assert_eq!(relative_to("a", "a/b.go"), "b.go");
        assert_eq!(relative_to("a/b.go", "a/b.go"), ".");
        assert_eq!(relative_to("", ""), ".");
        assert_eq!(parent_dir("a/b/c"), "a/b");
        assert_eq!(parent_dir("c"), "");
    }

    #[test]
    fn denylisted_directories_hide_everything_below() {
        let deny: Vec<Regex> = ["^docs$", "vendor/.*/.*"]
            .iter()
            .map(|p| Regex::new(p).unwrap())
            .collect();
        assert!(denied("docs", &deny));
        assert!(denied("docs/api", &deny));
        assert!(!denied("pkg/docs", &deny));
        assert!(denied("vendor/x/y", &deny));
        assert!(!denied("vendor/x", &deny));
        assert!(!denied("", &deny));
    }

    #[test]
    fn markdown_headers_are_the_leading_yaml_block() {
        assert_eq!(
            md_header("---\napprovers: [a]\n---\n# Title\n"),
            "---\napprovers: [a]\n---"
        );
        assert_eq!(md_header("# Title\n---\n"), "");
        assert_eq!(md_header("---\nno end\n"), "");
    }
}
