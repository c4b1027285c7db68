//! The OWNERS and OWNERS_ALIASES file formats, parsed as Prow's `repoowners` reads them (sigs.k8s.io/yaml, non-strict), and the config that says where to find them.

use std::collections::{BTreeMap, BTreeSet};

use prow_core::config::{GoYamlError, Seg, from_go_yaml, locate};
use serde::{Deserialize, Deserializer};

use crate::normalize_login;

/// Prow's default name of an OWNERS file.
pub const DEFAULT_OWNERS_FILE: &str = "OWNERS";
/// Prow's default name of the aliases file (read at the repository root only).
pub const DEFAULT_OWNERS_ALIASES_FILE: &str = "OWNERS_ALIASES";

/// A file that could not be read as OWNERS or OWNERS_ALIASES, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ParseError {
    fn from_yaml(file: &str, err: GoYamlError) -> Self {
        ParseError {
            file: file.to_owned(),
            line: err.line,
            column: err.column,
            message: err.message,
        }
    }
}

/// Go's JSON step turns `null` into an empty list; serde would refuse it.
fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// `options:` of an OWNERS file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct DirOptions {
    /// Owners of parent directories do not own this directory's files.
    #[serde(default)]
    pub no_parent_owners: bool,
    /// Files in subdirectories without their own OWNERS need no approval (approve plugin).
    #[serde(default)]
    pub auto_approve_unowned_subfolders: bool,
}

/// The people and labels of an OWNERS file (or of one of its `filters:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OwnersEntry {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub approvers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub reviewers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub required_reviewers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: Vec<String>,
    /// Kept for people and tools; Prow gives emeritus owners no rights.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub emeritus_approvers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub emeritus_reviewers: Vec<String>,
}

impl OwnersEntry {
    /// Prow's `SimpleConfig.Empty`: no approvers, reviewers, required reviewers or labels
    /// (emeritus lists and options do not count).
    pub fn is_empty(&self) -> bool {
        self.approvers.is_empty()
            && self.reviewers.is_empty()
            && self.required_reviewers.is_empty()
            && self.labels.is_empty()
    }
}

#[derive(Debug, Default, Deserialize)]
struct SimpleConfig {
    #[serde(default)]
    options: Option<DirOptions>,
    #[serde(default)]
    approvers: Option<Vec<String>>,
    #[serde(default)]
    reviewers: Option<Vec<String>>,
    #[serde(default)]
    required_reviewers: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    emeritus_approvers: Option<Vec<String>>,
    #[serde(default)]
    emeritus_reviewers: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct FullConfig {
    #[serde(default)]
    options: Option<DirOptions>,
    #[serde(default)]
    filters: Option<BTreeMap<String, Option<OwnersEntry>>>,
}

/// What an OWNERS file says. Prow reads the plain form first and, when that fails or names
/// nobody, the `filters:` form; a file with both keeps only the plain part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnersFile {
    /// `approvers:`, `reviewers:`, ... applying to every file below the directory.
    Simple {
        options: DirOptions,
        entry: OwnersEntry,
    },
    /// `filters:` keyed by a regular expression matched (unanchored, as Go's `MatchString`)
    /// against the path relative to the OWNERS file's directory; `.*` matches everything.
    Filters {
        options: DirOptions,
        filters: BTreeMap<String, OwnersEntry>,
    },
}

impl OwnersFile {
    pub fn options(&self) -> DirOptions {
        match self {
            OwnersFile::Simple { options, .. } | OwnersFile::Filters { options, .. } => *options,
        }
    }

    /// Every entry of the file (one for the plain form, one per filter).
    pub fn entries(&self) -> Vec<&OwnersEntry> {
        match self {
            OwnersFile::Simple { entry, .. } => vec![entry],
            OwnersFile::Filters { filters, .. } => filters.values().collect(),
        }
    }
}

/// Parses an OWNERS file as Prow does. `file` only names it in errors. When both forms fail
/// the error is the plain form's (the one people write).
pub fn parse_owners(file: &str, text: &str) -> Result<OwnersFile, ParseError> {
    let simple = from_go_yaml::<SimpleConfig>(text);
    if let Ok(simple) = &simple {
        let entry = OwnersEntry {
            approvers: simple.approvers.clone().unwrap_or_default(),
            reviewers: simple.reviewers.clone().unwrap_or_default(),
            required_reviewers: simple.required_reviewers.clone().unwrap_or_default(),
            labels: simple.labels.clone().unwrap_or_default(),
            emeritus_approvers: simple.emeritus_approvers.clone().unwrap_or_default(),
            emeritus_reviewers: simple.emeritus_reviewers.clone().unwrap_or_default(),
        };
        if !entry.is_empty() {
            return Ok(OwnersFile::Simple {
                options: simple.options.unwrap_or_default(),
                entry,
            });
        }
    }
    match from_go_yaml::<FullConfig>(text) {
        Ok(full) => Ok(OwnersFile::Filters {
            options: full.options.unwrap_or_default(),
            filters: full
                .filters
                .unwrap_or_default()
                .into_iter()
                .map(|(pattern, entry)| (pattern, entry.unwrap_or_default()))
                .collect(),
        }),
        Err(full_err) => Err(ParseError::from_yaml(
            file,
            simple.err().unwrap_or(full_err),
        )),
    }
}

/// OWNERS_ALIASES: alias name -> members, both normalised ([`normalize_login`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases(BTreeMap<String, BTreeSet<String>>);

impl Aliases {
    pub fn new(aliases: BTreeMap<String, BTreeSet<String>>) -> Self {
        Aliases(aliases)
    }

    /// The members of `alias`, if it is one (`@Sig-Foo` finds `sig-foo`).
    pub fn expand(&self, alias: &str) -> Option<&BTreeSet<String>> {
        self.0.get(&normalize_login(alias))
    }

    pub fn is_alias(&self, name: &str) -> bool {
        self.expand(name).is_some()
    }

    /// `logins` with every alias among them replaced by its members (one level: aliases
    /// naming aliases are not followed, as in Prow).
    pub fn expand_all<'a, I>(&self, logins: I) -> BTreeSet<String>
    where
        I: IntoIterator<Item = &'a String>,
    {
        let mut out = BTreeSet::new();
        for login in logins {
            match self.expand(login) {
                Some(members) => out.extend(members.iter().cloned()),
                None => {
                    out.insert(normalize_login(login));
                }
            }
        }
        out
    }

    /// Every member of every alias.
    pub fn all_members(&self) -> BTreeSet<String> {
        self.0.values().flatten().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &BTreeSet<String>)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Default, Deserialize)]
struct AliasesFile {
    #[serde(default)]
    aliases: Option<BTreeMap<String, serde_json::Value>>,
}

/// Parses OWNERS_ALIASES as Prow's `ParseAliasesConfig`: each alias is a list of logins
/// (a mapping counts by its keys, `null` is empty); a single string is an error.
pub fn parse_aliases(file: &str, text: &str) -> Result<Aliases, ParseError> {
    let parsed: AliasesFile = from_go_yaml(text).map_err(|e| ParseError::from_yaml(file, e))?;
    let mut aliases = BTreeMap::new();
    for (alias, value) in parsed.aliases.unwrap_or_default() {
        let at = |message: String| {
            let position = locate(text, &[Seg::Key("aliases".into()), Seg::Key(alias.clone())])
                .unwrap_or(prow_core::config::Position { line: 1, column: 1 });
            ParseError {
                file: file.to_owned(),
                line: position.line,
                column: position.column,
                message,
            }
        };
        let members: BTreeSet<String> = match value {
            serde_json::Value::Array(items) => {
                let mut members = BTreeSet::new();
                for item in items {
                    match item {
                        serde_json::Value::String(login) => {
                            members.insert(normalize_login(&login));
                        }
                        other => {
                            return Err(at(format!(
                                "alias group {alias:?} has a member that is not a string: {other}"
                            )));
                        }
                    }
                }
                members
            }
            serde_json::Value::Object(map) => map.keys().map(|k| normalize_login(k)).collect(),
            serde_json::Value::Null => BTreeSet::new(),
            serde_json::Value::String(_) => {
                return Err(at(format!(
                    "alias group {alias:?} must contain a list of members"
                )));
            }
            other => {
                return Err(at(format!(
                    "alias group {alias:?} has an unexpected value: {other}"
                )));
            }
        };
        aliases.insert(normalize_login(&alias), members);
    }
    Ok(Aliases(aliases))
}

/// Names of the OWNERS and aliases files (Prow's `owners.filenames`, per org or repo).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Filenames {
    #[serde(default = "default_owners")]
    pub owners: String,
    #[serde(default = "default_aliases")]
    pub owners_aliases: String,
}

fn default_owners() -> String {
    DEFAULT_OWNERS_FILE.to_owned()
}

fn default_aliases() -> String {
    DEFAULT_OWNERS_ALIASES_FILE.to_owned()
}

impl Default for Filenames {
    fn default() -> Self {
        Filenames {
            owners: default_owners(),
            owners_aliases: default_aliases(),
        }
    }
}

/// A section of config.yaml or plugins.yaml that does not have the shape Prow gives it.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {source}")]
pub struct ConfigError {
    pub field: &'static str,
    #[source]
    pub source: serde_norway::Error,
}

/// The OWNERS file names for `org/repo` from plugins.yaml's `owners.filenames` (by org or
/// `org/repo`, the repo winning), else Prow's defaults.
pub fn filenames_for(
    owners: &prow_core::config::OwnersConfig,
    org: &str,
    repo: &str,
) -> Result<Filenames, ConfigError> {
    let Some(value) = &owners.filenames else {
        return Ok(Filenames::default());
    };
    let by_key: BTreeMap<String, Filenames> =
        serde_norway::from_value(value.clone()).map_err(|source| ConfigError {
            field: "owners.filenames",
            source,
        })?;
    Ok(by_key
        .get(&format!("{org}/{repo}"))
        .or_else(|| by_key.get(org))
        .cloned()
        .unwrap_or_default())
}

/// `owners_dir_denylist` of config.yaml: directories (regular expressions on the path from
/// the repository root) whose OWNERS files are not read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OwnersDirDenylist {
    /// By org or `org/repo`; both apply.
    #[serde(default)]
    pub repos: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub default: Vec<String>,
    /// Drops Prow's built-in [`PRECONFIGURED_DENYLIST`].
    #[serde(default)]
    pub ignore_preconfigured_defaults: bool,
}

/// Directories Prow never reads OWNERS from unless told to.
pub const PRECONFIGURED_DENYLIST: [&str; 3] = ["\\.git$", "_output$", "vendor/.*/.*"];

impl OwnersDirDenylist {
    /// Reads config.yaml's `owners_dir_denylist` (absent: Prow's built-ins only).
    pub fn from_config(value: Option<&serde_norway::Value>) -> Result<Self, ConfigError> {
        match value {
            None => Ok(OwnersDirDenylist::default()),
            Some(value) => serde_norway::from_value(value.clone()).map_err(|source| ConfigError {
                field: "owners_dir_denylist",
                source,
            }),
        }
    }

    /// The patterns for one repository, in Prow's order (default, org, repo, built-ins).
    pub fn ignored_dirs(&self, org: &str, repo: &str) -> Vec<String> {
        let mut out = self.default.clone();
        out.extend(self.repos.get(org).into_iter().flatten().cloned());
        out.extend(
            self.repos
                .get(&format!("{org}/{repo}"))
                .into_iter()
                .flatten()
                .cloned(),
        );
        if !self.ignore_preconfigured_defaults {
            out.extend(PRECONFIGURED_DENYLIST.iter().map(|p| (*p).to_owned()));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn owners_files_read_in_prows_order_plain_then_filters() {
        let simple = parse_owners(
            "OWNERS",
            "approvers:\n- Alice\nreviewers: [bob]\nemeritus_approvers: [old]\noptions:\n  no_parent_owners: true\n",
        )
        .unwrap();
        let OwnersFile::Simple { options, entry } = &simple else {
            panic!("{simple:?}");
        };
        assert!(options.no_parent_owners);
        assert_eq!(entry.approvers, ["Alice"]);
        assert_eq!(entry.emeritus_approvers, ["old"]);

        let filters = parse_owners(
            "OWNERS",
            "filters:\n  \".*\":\n    approvers: [alice]\n  \"\\\\.go$\":\n    labels: [lang/go]\n",
        )
        .unwrap();
        let OwnersFile::Filters { filters, .. } = &filters else {
            panic!("{filters:?}");
        };
        assert_eq!(filters["\\.go$"].labels, ["lang/go"]);

        // Plain people win over filters written beside them.
        let both = parse_owners(
            "OWNERS",
            "approvers: [a]\nfilters:\n  x: {approvers: [b]}\n",
        )
        .unwrap();
        assert!(matches!(both, OwnersFile::Simple { .. }));

        // Only emeritus people: empty, so read as (no) filters.
        let emeritus = parse_owners("OWNERS", "emeritus_approvers: [old]\n").unwrap();
        assert_eq!(emeritus.entries().len(), 0);

        // `approvers: alice` is a type error in the plain form but a filters file without
        // filters in the other, which is how Prow ends up ignoring it.
        let odd = parse_owners("OWNERS", "approvers: alice\n").unwrap();
        assert_eq!(odd.entries().len(), 0);

        let err = parse_owners("pkg/OWNERS", "approvers:\n- a\nreviewers: [b\n").unwrap_err();
        assert_eq!(err.file, "pkg/OWNERS");
        assert!(err.line >= 3, "{err}");
    }

    #[test]
    fn aliases_are_lists_maps_or_null_and_normalised() {
        let aliases = parse_aliases(
            "OWNERS_ALIASES",
            "aliases:\n  Sig-Foo:\n  - Alice\n  - '@bob'\n  as-map:\n    carol: {}\n  empty:\n",
        )
        .unwrap();
        assert_eq!(aliases.len(), 3);
        let foo: Vec<&str> = aliases
            .expand("@sig-foo")
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(foo, ["alice", "bob"]);
        assert!(aliases.expand("as-map").unwrap().contains("carol"));
        assert!(aliases.expand("empty").unwrap().is_empty());
        let expanded = aliases.expand_all(&["sig-foo".to_owned(), "Dave".to_owned()]);
        assert_eq!(
            expanded.into_iter().collect::<Vec<_>>(),
            ["alice", "bob", "dave"]
        );

        let err = parse_aliases("OWNERS_ALIASES", "aliases:\n  a: [x]\n  b: single\n").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("list of members"), "{err}");
        let err = parse_aliases("OWNERS_ALIASES", "aliases:\n  a:\n  - 12\n").unwrap_err();
        assert!(err.message.contains("not a string"), "{err}");
    }

    #[test]
    fn config_names_orgs_or_repos() {
        let plugins: prow_core::config::PluginsConfig = serde_norway::from_str(
            "owners:\n  filenames:\n    acme: {owners: OWNERS.acme}\n    acme/special: {owners: CODEOWNERS, owners_aliases: ALIASES}\n",
        )
        .unwrap();
        let names = |org, repo| filenames_for(&plugins.owners, org, repo).unwrap();
        assert_eq!(names("acme", "x").owners, "OWNERS.acme");
        assert_eq!(names("acme", "x").owners_aliases, "OWNERS_ALIASES");
        assert_eq!(names("acme", "special").owners_aliases, "ALIASES");
        assert_eq!(names("z", "z"), Filenames::default());

        let value: serde_norway::Value =
            serde_norway::from_str("default: ['^docs']\nrepos:\n  acme/foo: ['^hack']\n").unwrap();
        let parsed = OwnersDirDenylist::from_config(Some(&value)).unwrap();
        assert_eq!(parsed.default, ["^docs"]);
        assert!(OwnersDirDenylist::from_config(Some(&serde_norway::Value::from("x"))).is_err());

        let options =
            crate::BuildOptions::for_repo(&plugins.owners, &parsed, "acme", "special").unwrap();
        assert_eq!(options.filenames.owners, "CODEOWNERS");
        assert_eq!(options.dir_denylist[0], "^docs");
        assert!(!options.md_yaml);

        let denylist = OwnersDirDenylist {
            default: vec!["^docs".into()],
            repos: [("acme/foo".to_owned(), vec!["^hack".to_owned()])].into(),
            ignore_preconfigured_defaults: false,
        };
        assert_eq!(
            denylist.ignored_dirs("acme", "foo"),
            ["^docs", "^hack", "\\.git$", "_output$", "vendor/.*/.*"]
        );
    }
}
