//! config-updater's decisions, without I/O: whether a pull_request event is a merge into the
//! default branch, which ConfigMap keys its changed files feed (Prow's `FilterChanges`), what a
//! ConfigMap holds after the update (Prow's `Update`), and the comment that reports it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use prow_core::config::ConfigUpdater;
use prow_github::PullRequestChange;
use serde::Deserialize;
use sha2::Digest;

/// The parts of a `pull_request` webhook config-updater reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub pull_request: PullRequest,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: String,
    pub user: Login,
    pub base: Base,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Login {
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Base {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub repo: BaseRepo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BaseRepo {
    pub name: String,
    pub owner: Login,
    #[serde(default)]
    pub default_branch: String,
}

/// A pull request merged into its repository's default branch: the only event that updates
/// ConfigMaps (a merge into a release branch must not change the running config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub org: String,
    pub repo: String,
    pub number: u64,
    pub merge_sha: String,
    pub body: String,
    pub html_url: String,
    pub author: String,
}

/// The merge this event reports, if it is one config-updater acts on (Prow: `closed`, merged,
/// with a merge SHA, into the default branch).
pub fn merge(event: &PullRequestEvent) -> Option<Merge> {
    let pr = &event.pull_request;
    let merge_sha = pr
        .merge_commit_sha
        .as_deref()
        .filter(|sha| !sha.is_empty())?;
    let into_default = pr.base.git_ref == pr.base.repo.default_branch;
    (event.action == "closed" && pr.merged && into_default).then(|| Merge {
        org: pr.base.repo.owner.login.clone(),
        repo: pr.base.repo.name.clone(),
        number: pr.number,
        merge_sha: merge_sha.to_owned(),
        body: pr.body.clone().unwrap_or_default(),
        html_url: pr.html_url.clone(),
        author: pr.user.login.clone(),
    })
}

/// One ConfigMap in one namespace of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigMapId {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
}

/// One key of a ConfigMap: set from `file` (at the merge SHA), or deleted when `file` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUpdate {
    pub key: String,
    pub file: Option<String>,
    pub gzip: bool,
}

/// What the merge's changed files do to which ConfigMaps (Prow's `FilterChanges`, not in
/// bootstrap mode). A file feeds the first map (in glob order) whose glob matches it, if the
/// map allows this repo; removed files delete their key, renamed ones also delete the old key.
/// A map's empty namespace is `default_namespace` (Prow's prowjob namespace).
pub fn plan(
    cfg: &ConfigUpdater,
    changes: &[PullRequestChange],
    org: &str,
    repo: &str,
    default_namespace: &str,
) -> BTreeMap<ConfigMapId, Vec<KeyUpdate>> {
    let maps = cfg.resolved_maps();
    let mut out: BTreeMap<ConfigMapId, Vec<KeyUpdate>> = BTreeMap::new();
    for change in changes {
        let Some(spec) = maps
            .iter()
            .find(|(glob, _)| glob_match(glob, &change.filename))
            .map(|(_, spec)| spec)
        else {
            continue;
        };
        if !spec.is_allowed(org, repo) {
            tracing::debug!(file = %change.filename, configmap = %spec.name, "repo may not update this ConfigMap");
            continue;
        }
        let key_of = |file: &str| {
            if !spec.key.is_empty() {
                spec.key.clone()
            } else if spec.use_full_path_as_key {
                file.replace('/', "-")
            } else {
                file.rsplit('/').next().unwrap_or(file).to_owned()
            }
        };
        let gzip = spec.gzip.unwrap_or(cfg.gzip);
        for (cluster, namespaces) in &spec.clusters {
            for namespace in namespaces {
                let namespace = if namespace.is_empty() {
                    default_namespace
                } else {
                    namespace
                };
                let id_for = |key: &str| ConfigMapId {
                    name: if spec.partitioned_names.is_empty() {
                        spec.name.clone()
                    } else {
                        partition(&spec.partitioned_names, key).to_owned()
                    },
                    namespace: namespace.to_owned(),
                    cluster: cluster.clone(),
                };
                let key = key_of(&change.filename);
                if spec.key.is_empty()
                    && change.status == "renamed"
                    && let Some(previous) = &change.previous_filename
                {
                    let old = key_of(previous);
                    out.entry(id_for(&old)).or_default().push(KeyUpdate {
                        key: old,
                        file: None,
                        gzip: false,
                    });
                }
                let update = if change.status == "removed" {
                    KeyUpdate {
                        key: key.clone(),
                        file: None,
                        gzip: false,
                    }
                } else {
                    KeyUpdate {
                        key: key.clone(),
                        file: Some(change.filename.clone()),
                        gzip,
                    }
                };
                out.entry(id_for(&key)).or_default().push(update);
            }
        }
    }
    out
}

/// The files a plan reads at the merge SHA.
pub fn files_to_read(plan: &BTreeMap<ConfigMapId, Vec<KeyUpdate>>) -> BTreeSet<String> {
    plan.values()
        .flatten()
        .filter_map(|u| u.file.clone())
        .collect()
}

/// The partition a key lands in: the first byte of the key's SHA-256 modulo the number of
/// names, as Prow spreads keys, so both agree on where a key lives.
pub fn partition<'a>(names: &'a [String], key: &str) -> &'a str {
    let first = sha2::Sha256::digest(key.as_bytes())[0];
    names
        .get(usize::from(first) % names.len().max(1))
        .map_or("", String::as_str)
}

/// Whether `path` matches `pattern` as zglob does: `*` and `?` stay within one path segment,
/// `**` spans any number of segments (none included), `[abc]` is a class.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    match_segments(&pattern, &path)
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(seg, tail)| {
            match_segment(first.as_bytes(), seg.as_bytes()) && match_segments(rest, tail)
        }),
    }
}

fn match_segment(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| match_segment(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && match_segment(rest, &text[1..]),
        Some((b'[', rest)) => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return text.first() == Some(&b'[') && match_segment(rest, &text[1..]);
            };
            let (class, after) = (&rest[..end], &rest[end + 1..]);
            let (negated, class) = match class.split_first() {
                Some((b'^' | b'!', tail)) => (true, tail),
                _ => (false, class),
            };
            text.split_first().is_some_and(|(&c, tail)| {
                in_class(class, c) != negated && match_segment(after, tail)
            })
        }
        Some((&c, rest)) => text.first() == Some(&c) && match_segment(rest, &text[1..]),
    }
}

fn in_class(class: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            if (class[i]..=class[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if class[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// A ConfigMap's contents: text keys and binary keys (a key is in one or the other).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMapData {
    pub data: BTreeMap<String, String>,
    pub binary_data: BTreeMap<String, Vec<u8>>,
}

impl ConfigMapData {
    /// Bytes stored, for the size gauge.
    pub fn size(&self) -> usize {
        self.data.values().map(String::len).sum::<usize>()
            + self.binary_data.values().map(Vec::len).sum::<usize>()
    }
}

/// The key Prow records the merge SHA under, so anyone can tell which commit a ConfigMap holds.
pub const VERSION_KEY: &str = "VERSION";

/// A file the plan needs was not there at the merge SHA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not in the merged commit")]
pub struct MissingFile(pub String);

/// The ConfigMap after `updates` (Prow's `Update`): other keys stay, `VERSION` becomes the merge
/// SHA, a key is text when its (possibly gzipped) bytes are UTF-8 and binary otherwise.
pub fn updated(
    mut current: ConfigMapData,
    updates: &[KeyUpdate],
    files: &BTreeMap<String, Vec<u8>>,
    merge_sha: &str,
) -> Result<ConfigMapData, MissingFile> {
    current
        .data
        .insert(VERSION_KEY.to_owned(), merge_sha.to_owned());
    for update in updates {
        let Some(file) = &update.file else {
            current.data.remove(&update.key);
            current.binary_data.remove(&update.key);
            continue;
        };
        let content = files.get(file).ok_or_else(|| MissingFile(file.clone()))?;
        let value = if update.gzip {
            gzip(content)
        } else {
            content.clone()
        };
        match String::from_utf8(value) {
            Ok(text) => {
                current.binary_data.remove(&update.key);
                current.data.insert(update.key.clone(), text);
            }
            Err(binary) => {
                current.data.remove(&update.key);
                current
                    .binary_data
                    .insert(update.key.clone(), binary.into_bytes());
            }
        }
    }
    Ok(current)
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail; should it ever, the raw content is stored, as Prow does.
    match encoder.write_all(content).and_then(|()| encoder.finish()) {
        Ok(zipped) => zipped,
        Err(_) => content.to_vec(),
    }
}

/// Prow's report of what was updated (the message inside the bot's reply); `None` when
/// nothing was.
pub fn report(updated: &[(ConfigMapId, Vec<KeyUpdate>)]) -> Option<String> {
    let indent = if updated.len() > 1 { "   " } else { " " };
    let describe = |(id, updates): &(ConfigMapId, Vec<KeyUpdate>)| {
        let mut msg = format!("`{}` configmap", id.name);
        if !id.namespace.is_empty() {
            msg.push_str(&format!(" in namespace `{}`", id.namespace));
        }
        if !id.cluster.is_empty() {
            msg.push_str(&format!(" at cluster `{}`", id.cluster));
        }
        msg.push_str(" using the following files:");
        for u in updates {
            msg.push_str(&format!(
                "\n{indent}- key `{}` using file `{}`",
                u.key,
                u.file.as_deref().unwrap_or_default()
            ));
        }
        msg
    };
    match updated {
        [] => None,
        [one] => Some(format!("Updated the {}", describe(one))),
        many => {
            let mut msg = format!("Updated the following {} configmaps:\n", many.len());
            for each in many {
                msg.push_str(&format!(" * {}\n", describe(each)));
            }
            Some(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(file: &str, status: &str) -> PullRequestChange {
        PullRequestChange {
            filename: file.to_owned(),
            status: status.to_owned(),
            ..PullRequestChange::default()
        }
    }

    type Plan = Vec<(ConfigMapId, Vec<KeyUpdate>)>;

    fn cfg(yaml: &str) -> ConfigUpdater {
        serde_norway::from_str(yaml).expect("config_updater parses")
    }

    fn id(name: &str, namespace: &str, cluster: &str) -> ConfigMapId {
        ConfigMapId {
            name: name.into(),
            namespace: namespace.into(),
            cluster: cluster.into(),
        }
    }

    fn set(key: &str, file: &str, gzip: bool) -> KeyUpdate {
        KeyUpdate {
            key: key.into(),
            file: Some(file.into()),
            gzip,
        }
    }

    fn delete(key: &str) -> KeyUpdate {
        KeyUpdate {
            key: key.into(),
            file: None,
            gzip: false,
        }
    }

    #[test]
    fn globs_match_as_zglob_does() {
        let cases = [
            ("config/prow/config.yaml", "config/prow/config.yaml", true),
            ("config/prow/config.yaml", "config/prow/plugins.yaml", false),
            ("config/jobs/**/*.yaml", "config/jobs/a.yaml", true),
            ("config/jobs/**/*.yaml", "config/jobs/x/y/a.yaml", true),
            ("config/jobs/**/*.yaml", "config/jobs/x/a.yml", false),
            ("config/jobs/*.yaml", "config/jobs/x/a.yaml", false),
            ("config/*/a?.yaml", "config/x/ab.yaml", true),
            ("config/[a-c]*.yaml", "config/b1.yaml", true),
            ("config/[!a-c]*.yaml", "config/b1.yaml", false),
            ("**", "anything/at/all", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(glob_match(pattern, path), want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn only_a_merge_into_the_default_branch_counts() {
        let event = |action: &str, merged: bool, sha: Option<&str>, base: &str| {
            serde_json::from_value::<PullRequestEvent>(serde_json::json!({
                "action": action,
                "pull_request": {
                    "number": 7, "merged": merged, "merge_commit_sha": sha, "body": "b",
                    "html_url": "https://pr", "user": {"login": "alice"},
                    "base": {"ref": base, "repo": {"name": "cfg", "owner": {"login": "acme"}, "default_branch": "main"}}
                }
            }))
            .expect("payload")
        };
        let cases = [
            (
                "a merge into main",
                event("closed", true, Some("abc"), "main"),
                true,
            ),
            (
                "closed unmerged",
                event("closed", false, Some("abc"), "main"),
                false,
            ),
            (
                "merged without a SHA",
                event("closed", true, None, "main"),
                false,
            ),
            (
                "merged into a release branch",
                event("closed", true, Some("abc"), "release-1"),
                false,
            ),
            ("opened", event("opened", false, Some("abc"), "main"), false),
        ];
        for (name, event, want) in cases {
            assert_eq!(merge(&event).is_some(), want, "{name}");
        }
        let m = merge(&event("closed", true, Some("abc"), "main")).expect("merge");
        assert_eq!(
            (
                m.org.as_str(),
                m.repo.as_str(),
                m.number,
                m.merge_sha.as_str()
            ),
            ("acme", "cfg", 7, "abc")
        );
    }

    #[test]
    fn changed_files_become_key_updates_as_prow_filters_them() {
        let c = cfg(
            "gzip: false\nmaps:\n  prow/config.yaml: {name: config}\n  prow/jobs/**/*.yaml: {name: job-config, gzip: true}\n  prow/full/**/*.yaml: {name: full, use_full_path_as_key: true, clusters: {default: [\"\"], build: [test-pods, other]}}\n  prow/fixed.yaml: {name: fixed, key: the-key}\n  prow/private.yaml: {name: private, allowed_repos: [acme/secret]}\n",
        );
        type Case = (&'static str, Vec<PullRequestChange>, Plan);
        let cases: Vec<Case> = vec![
            (
                "an unrelated file",
                vec![change("README.md", "modified")],
                vec![],
            ),
            (
                "config.yaml into the default namespace of the default cluster",
                vec![change("prow/config.yaml", "modified")],
                vec![(
                    id("config", "prow", "default"),
                    vec![set("config.yaml", "prow/config.yaml", false)],
                )],
            ),
            (
                "job files keyed by base name, gzipped by their map",
                vec![
                    change("prow/jobs/a/x.yaml", "added"),
                    change("prow/jobs/y.yaml", "modified"),
                ],
                vec![(
                    id("job-config", "prow", "default"),
                    vec![
                        set("x.yaml", "prow/jobs/a/x.yaml", true),
                        set("y.yaml", "prow/jobs/y.yaml", true),
                    ],
                )],
            ),
            (
                "a removed file deletes its key",
                vec![change("prow/jobs/gone.yaml", "removed")],
                vec![(
                    id("job-config", "prow", "default"),
                    vec![delete("gone.yaml")],
                )],
            ),
            (
                "a rename deletes the old key and sets the new one",
                vec![PullRequestChange {
                    previous_filename: Some("prow/jobs/old.yaml".into()),
                    ..change("prow/jobs/new.yaml", "renamed")
                }],
                vec![(
                    id("job-config", "prow", "default"),
                    vec![
                        delete("old.yaml"),
                        set("new.yaml", "prow/jobs/new.yaml", true),
                    ],
                )],
            ),
            (
                "full paths as keys, to every cluster and namespace",
                vec![change("prow/full/a/b.yaml", "modified")],
                vec![
                    (
                        id("full", "other", "build"),
                        vec![set("prow-full-a-b.yaml", "prow/full/a/b.yaml", false)],
                    ),
                    (
                        id("full", "prow", "default"),
                        vec![set("prow-full-a-b.yaml", "prow/full/a/b.yaml", false)],
                    ),
                    (
                        id("full", "test-pods", "build"),
                        vec![set("prow-full-a-b.yaml", "prow/full/a/b.yaml", false)],
                    ),
                ],
            ),
            (
                "an explicit key",
                vec![change("prow/fixed.yaml", "modified")],
                vec![(
                    id("fixed", "prow", "default"),
                    vec![set("the-key", "prow/fixed.yaml", false)],
                )],
            ),
            (
                "a map this repo may not update",
                vec![change("prow/private.yaml", "modified")],
                vec![],
            ),
        ];
        for (name, changes, want) in cases {
            let got: Vec<_> = plan(&c, &changes, "acme", "config", "prow")
                .into_iter()
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn partitioned_maps_spread_keys_as_prow_does() {
        let names: Vec<String> = ["p0", "p1", "p2"].map(String::from).to_vec();
        let first = sha2::Sha256::digest(b"a.yaml")[0];
        assert_eq!(partition(&names, "a.yaml"), names[usize::from(first) % 3]);
        let c = cfg("maps:\n  jobs/*.yaml: {partitioned_names: [p0, p1, p2]}\n");
        let got = plan(
            &c,
            &[change("jobs/a.yaml", "modified")],
            "acme",
            "config",
            "prow",
        );
        assert_eq!(
            got.keys().map(|id| id.name.as_str()).collect::<Vec<_>>(),
            [partition(&names, "a.yaml")]
        );
    }

    #[test]
    fn an_update_keeps_other_keys_records_the_sha_and_stores_gzip_as_binary() {
        let current = ConfigMapData {
            data: BTreeMap::from([
                ("keep.yaml".to_owned(), "k".to_owned()),
                ("gone.yaml".to_owned(), "g".to_owned()),
            ]),
            binary_data: BTreeMap::from([("was-binary.yaml".to_owned(), vec![0xff])]),
        };
        let files = BTreeMap::from([
            ("prow/a.yaml".to_owned(), b"a: 1\n".to_vec()),
            ("prow/was-binary.yaml".to_owned(), b"text now\n".to_vec()),
        ]);
        let out = updated(
            current,
            &[
                set("a.yaml", "prow/a.yaml", false),
                set("z.yaml", "prow/a.yaml", true),
                set("was-binary.yaml", "prow/was-binary.yaml", false),
                delete("gone.yaml"),
            ],
            &files,
            "abc123",
        )
        .expect("all files there");
        assert_eq!(
            out.data.keys().map(String::as_str).collect::<Vec<_>>(),
            ["VERSION", "a.yaml", "keep.yaml", "was-binary.yaml"]
        );
        assert_eq!(out.data["VERSION"], "abc123");
        assert_eq!(out.data["a.yaml"], "a: 1\n");
        let zipped = &out.binary_data["z.yaml"];
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&zipped[..]),
            &mut unzipped,
        )
        .expect("gzip");
        assert_eq!(unzipped, "a: 1\n");
        assert!(!out.binary_data.contains_key("was-binary.yaml"));
        assert_eq!(
            updated(
                ConfigMapData::default(),
                &[set("x", "nope.yaml", false)],
                &files,
                "s"
            ),
            Err(MissingFile("nope.yaml".into()))
        );
    }

    #[test]
    fn the_report_reads_as_prows() {
        let one = vec![(
            id("config", "prow", "default"),
            vec![set("config.yaml", "prow/config.yaml", false)],
        )];
        assert_eq!(
            report(&one).as_deref(),
            Some(
                "Updated the `config` configmap in namespace `prow` at cluster `default` using the following files:\n - key `config.yaml` using file `prow/config.yaml`"
            )
        );
        let two = vec![
            (
                id("config", "prow", "default"),
                vec![set("config.yaml", "prow/config.yaml", false)],
            ),
            (
                id("job-config", "prow", "default"),
                vec![delete("old.yaml")],
            ),
        ];
        assert_eq!(
            report(&two).as_deref(),
            Some(
                "Updated the following 2 configmaps:\n * `config` configmap in namespace `prow` at cluster `default` using the following files:\n   - key `config.yaml` using file `prow/config.yaml`\n * `job-config` configmap in namespace `prow` at cluster `default` using the following files:\n   - key `old.yaml` using file ``\n"
            )
        );
        assert_eq!(report(&[]), None);
    }
}
