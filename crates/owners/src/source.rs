//! Loading a repository's owners at a commit through the GitHub API (one tree listing, then the OWNERS files), with a small in-memory cache keyed by (org, repo, sha).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use prow_github::{GitHub, GitHubError, GitTree};

use crate::repo::{BuildOptions, RepoOwners};

/// Why owners could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("loading owners of {org}/{repo}@{sha}: {source}")]
    GitHub {
        org: String,
        repo: String,
        sha: String,
        #[source]
        source: GitHubError,
    },
    /// GitHub cut the tree listing short, so some OWNERS files may be missing from it; using
    /// the rest would silently give some paths the wrong owners.
    #[error(
        "{org}/{repo}@{sha}: GitHub truncated the tree listing; owners cannot be read reliably"
    )]
    TreeTruncated {
        org: String,
        repo: String,
        sha: String,
    },
    #[error("{org}/{repo}@{sha}: {path} is not UTF-8")]
    NotText {
        org: String,
        repo: String,
        sha: String,
        path: String,
    },
}

/// What loading owners reads: a tree and files at a commit, and the collaborators
/// (for the filtering Prow does unless `skip_collaborators`).
#[async_trait]
pub trait OwnersSource: Send + Sync + std::fmt::Debug {
    async fn tree(&self, org: &str, repo: &str, sha: &str) -> Result<GitTree, GitHubError>;
    async fn file(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, GitHubError>;
    async fn collaborators(&self, org: &str, repo: &str) -> Result<Vec<String>, GitHubError>;
}

#[async_trait]
impl OwnersSource for Arc<dyn GitHub> {
    async fn tree(&self, org: &str, repo: &str, sha: &str) -> Result<GitTree, GitHubError> {
        self.get_tree(org, repo, sha).await
    }

    async fn file(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        self.get_file(org, repo, sha, path).await
    }

    async fn collaborators(&self, org: &str, repo: &str) -> Result<Vec<String>, GitHubError> {
        Ok(self
            .list_collaborators(org, repo)
            .await?
            .into_iter()
            .map(|u| u.login)
            .collect())
    }
}

/// Files fetched at once while loading one tree.
const CONCURRENT_FETCHES: usize = 8;

/// Reads every OWNERS file (and the root aliases file, and `*.md` headers when enabled) of
/// `org/repo` at `sha`: one tree listing and one contents call per file; no clone.
pub async fn load_repo_owners(
    source: &dyn OwnersSource,
    org: &str,
    repo: &str,
    sha: &str,
    options: &BuildOptions,
) -> Result<RepoOwners, LoadError> {
    let github = |source: GitHubError| LoadError::GitHub {
        org: org.to_owned(),
        repo: repo.to_owned(),
        sha: sha.to_owned(),
        source,
    };
    let tree = source.tree(org, repo, sha).await.map_err(github)?;
    if tree.truncated {
        return Err(LoadError::TreeTruncated {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
        });
    }
    let denylist = options.denylist();
    let wanted: Vec<String> = tree
        .entries
        .iter()
        .filter(|e| e.is_blob() && options.wants(&e.path, &denylist))
        .map(|e| e.path.clone())
        .collect();
    let fetched: Vec<(String, Option<Vec<u8>>)> = futures::stream::iter(wanted)
        .map(|path| async move {
            let contents = source.file(org, repo, sha, &path).await?;
            Ok::<_, GitHubError>((path, contents))
        })
        .buffer_unordered(CONCURRENT_FETCHES)
        .try_collect()
        .await
        .map_err(github)?;
    let mut files = Vec::with_capacity(fetched.len());
    for (path, contents) in fetched {
        // Listed in the tree but gone by the contents call: nothing to read.
        let Some(contents) = contents else { continue };
        let text = String::from_utf8(contents).map_err(|_| LoadError::NotText {
            org: org.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
            path: path.clone(),
        })?;
        files.push((path, text));
    }
    Ok(RepoOwners::build(
        files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        options,
    ))
}

type CacheKey = (String, String, String);

#[derive(Debug)]
struct CacheEntry {
    owners: Arc<RepoOwners>,
    /// The options the entry was built with; other options are a miss.
    options: String,
    last_used: u64,
}

#[derive(Debug, Default)]
struct Lru {
    entries: HashMap<CacheKey, CacheEntry>,
    clock: u64,
}

/// Loads owners through an [`OwnersSource`], remembering the last `capacity` (org, repo,
/// sha) read. A commit's files never change, so entries never go stale; the bound is on the
/// number of entries (least recently used goes first), which suits one function instance
/// serving a handful of repositories. Nothing is shared between instances, and two
/// concurrent misses for the same commit both load it.
#[derive(Debug)]
pub struct OwnersLoader<S> {
    source: S,
    capacity: usize,
    cache: Mutex<Lru>,
}

impl<S: OwnersSource> OwnersLoader<S> {
    /// `capacity` is at least one entry.
    pub fn new(source: S, capacity: usize) -> Self {
        OwnersLoader {
            source,
            capacity: capacity.max(1),
            cache: Mutex::new(Lru::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The owners of `org/repo` at `sha` as written (no collaborator filtering).
    pub async fn load(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        options: &BuildOptions,
    ) -> Result<Arc<RepoOwners>, LoadError> {
        let key = (org.to_owned(), repo.to_owned(), sha.to_owned());
        let fingerprint = format!("{options:?}");
        {
            let mut lru = self.lock();
            lru.clock += 1;
            let now = lru.clock;
            if let Some(entry) = lru.entries.get_mut(&key)
                && entry.options == fingerprint
            {
                entry.last_used = now;
                return Ok(entry.owners.clone());
            }
        }
        let owners = Arc::new(load_repo_owners(&self.source, org, repo, sha, options).await?);
        let mut lru = self.lock();
        lru.clock += 1;
        let now = lru.clock;
        if !lru.entries.contains_key(&key) && lru.entries.len() >= self.capacity {
            let oldest = lru
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                lru.entries.remove(&oldest);
            }
        }
        lru.entries.insert(
            key,
            CacheEntry {
                owners: owners.clone(),
                options: fingerprint,
                last_used: now,
            },
        );
        Ok(owners)
    }

    /// The owners Prow's plugins see: [`OwnersLoader::load`], then, unless
    /// `skip_collaborators`, approvers and reviewers who are not collaborators dropped. If
    /// the collaborators cannot be listed the owners are used unfiltered (as Prow does).
    pub async fn load_for_plugins(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        options: &BuildOptions,
        skip_collaborators: bool,
    ) -> Result<Arc<RepoOwners>, LoadError> {
        let owners = self.load(org, repo, sha, options).await?;
        if skip_collaborators {
            return Ok(owners);
        }
        match self.source.collaborators(org, repo).await {
            Ok(collaborators) => Ok(Arc::new(
                owners.filter_collaborators(collaborators.iter().map(String::as_str)),
            )),
            Err(e) => {
                tracing::warn!(%org, %repo, error = %e, "cannot list collaborators; using OWNERS unfiltered");
                Ok(owners)
            }
        }
    }

    /// How many commits are cached.
    pub fn cached(&self) -> usize {
        self.lock().entries.len()
    }
}
