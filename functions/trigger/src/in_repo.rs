//! A repository's in-repo config (`.prow.yaml`, `.prow/`) read through GitHub's tree and
//! contents APIs, never a clone, with the raw files cached per commit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use prow_core::config::{InRepoFile, in_repo_config_paths};
use prow_github::{GitHub, GitHubError};

/// Commits whose in-repo files are kept; Prow's in-repo config cache holds 200 too.
pub const DEFAULT_CAPACITY: usize = 200;

/// Why the in-repo files of a commit could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InRepoError {
    #[error("{org}/{repo}@{sha}: GitHub: {source}")]
    GitHub {
        org: String,
        repo: String,
        sha: String,
        #[source]
        source: GitHubError,
    },
    /// GitHub cut the tree listing short, so `.prow/` files may be missing from it.
    #[error("{org}/{repo}@{sha}: GitHub truncated the tree; the in-repo config cannot be listed")]
    Truncated {
        org: String,
        repo: String,
        sha: String,
    },
    #[error("{org}/{repo}@{sha}: {path} is not UTF-8")]
    NotUtf8 {
        org: String,
        repo: String,
        sha: String,
        path: String,
    },
    /// Listed in the tree, then absent from the contents API: redelivery may see it.
    #[error("{org}/{repo}@{sha}: {path} is listed but could not be read")]
    Vanished {
        org: String,
        repo: String,
        sha: String,
        path: String,
    },
}

/// In-repo config files by `org/repo@sha`, oldest evicted first. A commit's files never
/// change, so entries need no invalidation; only successful reads are kept.
#[derive(Debug)]
pub struct InRepoCache {
    capacity: usize,
    entries: Mutex<VecDeque<(String, Arc<[InRepoFile]>)>>,
}

impl Default for InRepoCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl InRepoCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    fn get(&self, key: &str) -> Option<Arc<[InRepoFile]>> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, files)| files.clone())
    }

    fn put(&self, key: String, files: Arc<[InRepoFile]>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.iter().any(|(k, _)| *k == key) {
                return;
            }
            if entries.len() >= self.capacity {
                entries.pop_front();
            }
            entries.push_back((key, files));
        }
    }

    /// The in-repo config files of `org/repo` at `sha`, in the order Prow reads them (empty
    /// when the repo has none): one tree listing and one contents call per file on a miss.
    pub async fn files_at(
        &self,
        github: &dyn GitHub,
        org: &str,
        repo: &str,
        sha: &str,
    ) -> Result<Arc<[InRepoFile]>, InRepoError> {
        let key = format!("{org}/{repo}@{sha}");
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let gh_err = |source| InRepoError::GitHub {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
            source,
        };
        let tree = github.get_tree(org, repo, sha).await.map_err(gh_err)?;
        if tree.truncated {
            return Err(InRepoError::Truncated {
                org: org.to_owned(),
                repo: repo.to_owned(),
                sha: sha.to_owned(),
            });
        }
        let blobs = tree
            .entries
            .iter()
            .filter(|e| e.kind == "blob")
            .map(|e| e.path.as_str());
        let mut files = Vec::new();
        for path in in_repo_config_paths(blobs) {
            let bytes = github
                .get_file(org, repo, sha, &path)
                .await
                .map_err(gh_err)?
                .ok_or_else(|| InRepoError::Vanished {
                    org: org.to_owned(),
                    repo: repo.to_owned(),
                    sha: sha.to_owned(),
                    path: path.clone(),
                })?;
            let text = String::from_utf8(bytes).map_err(|_| InRepoError::NotUtf8 {
                org: org.to_owned(),
                repo: repo.to_owned(),
                sha: sha.to_owned(),
                path: path.clone(),
            })?;
            files.push(InRepoFile { path, text });
        }
        let files: Arc<[InRepoFile]> = files.into();
        self.put(key, files.clone());
        Ok(files)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(path: &str) -> Arc<[InRepoFile]> {
        vec![InRepoFile {
            path: path.into(),
            text: String::new(),
        }]
        .into()
    }

    #[test]
    fn the_cache_keeps_the_newest_commits() {
        let cache = InRepoCache::new(2);
        cache.put("o/r@1".into(), file("a"));
        cache.put("o/r@2".into(), file("b"));
        cache.put("o/r@3".into(), file("c"));
        assert!(cache.get("o/r@1").is_none());
        assert_eq!(cache.get("o/r@2").unwrap()[0].path, "b");
        assert_eq!(cache.get("o/r@3").unwrap()[0].path, "c");
    }
}
