//! blunderbuss: requests reviews from OWNERS reviewers when a PR is opened or ready for
//! review, and on `/auto-cc` (Prow's `pkg/plugins/blunderbuss` with `pkg/reviewer`). One
//! reviewer per OWNERS file first, nearest layer first, then more until `request_count`;
//! approvers fill in unless `exclude_approvers`. Prow picks at random; here the choice is
//! seeded by the PR, so a redelivered event requests the same people.

use std::collections::BTreeSet;

use prow_core::config::{BlunderbussConfig, PluginsConfig};
use prow_owners::{Layered, RepoOwners, normalize_login};

use crate::event::{Event, Kind};
use crate::help::{Command, PluginHelp};
use crate::plugin::{Action, Facts, Needs, Plugin};
use crate::registry::Repo;

/// Prow's default `request_count`.
const DEFAULT_REQUEST_COUNT: usize = 2;

#[derive(Debug)]
pub struct Blunderbuss;

/// Prow's layeredsets.String: logins by layer, each login in one layer only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Layers(Vec<BTreeSet<String>>);

impl Layers {
    fn flat<I: IntoIterator<Item = String>>(items: I) -> Self {
        let mut l = Layers::default();
        for i in items {
            l.insert(0, i);
        }
        l
    }

    fn from_layered(layered: &Layered) -> Self {
        let mut l = Layers::default();
        for (id, layer) in layered.layers().iter().enumerate() {
            for login in layer {
                l.insert(id, login.clone());
            }
        }
        l
    }

    fn insert(&mut self, layer: usize, item: String) {
        while self.0.len() <= layer {
            self.0.push(BTreeSet::new());
        }
        if !self.has(&item) {
            self.0[layer].insert(item);
        }
    }

    fn has(&self, item: &str) -> bool {
        self.0.iter().any(|l| l.contains(item))
    }

    fn len(&self) -> usize {
        self.0.iter().map(BTreeSet::len).sum()
    }

    fn set(&self) -> BTreeSet<String> {
        self.0.iter().flatten().cloned().collect()
    }

    /// By layer, sorted within each.
    fn list(&self) -> Vec<String> {
        self.0.iter().flatten().cloned().collect()
    }

    fn difference(&self, other: &BTreeSet<String>) -> Layers {
        let mut out = Layers::default();
        for (id, layer) in self.0.iter().enumerate() {
            for item in layer.iter().filter(|i| !other.contains(*i)) {
                out.insert(id, item.clone());
            }
        }
        out
    }

    fn union(&self, other: &Layers) -> Layers {
        let mut out = Layers::default();
        for src in [self, other] {
            for (id, layer) in src.0.iter().enumerate() {
                for item in layer {
                    out.insert(id, item.clone());
                }
            }
        }
        out
    }

    /// Takes one login from the nearest non-empty layer (Prow's PopRandom).
    fn pop(&mut self, rng: &mut Rng) -> Option<String> {
        let layer = self.0.iter_mut().find(|l| !l.is_empty())?;
        let index = rng.below(layer.len());
        let pick = layer.iter().nth(index)?.clone();
        layer.remove(&pick);
        Some(pick)
    }
}

/// splitmix64: a tiny deterministic generator, so the decision stays a pure function.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    /// Seeded by the PR, so every delivery of its events picks alike.
    fn for_pr(event: &Event) -> Self {
        // FNV-1a of `org/repo#number`.
        let seed = event
            .target()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is a handful of logins; modulo bias is immaterial.
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// Where reviewers come from: OWNERS reviewers, or approvers standing in for them (Prow's
/// FallbackReviewersClient).
#[derive(Clone, Copy)]
struct Source<'a> {
    owners: &'a RepoOwners,
    approvers: bool,
}

impl Source<'_> {
    fn owners_file(&self, path: &str) -> String {
        if self.approvers {
            self.owners.find_approver_owners_for_file(path)
        } else {
            self.owners.find_reviewers_owners_for_file(path)
        }
    }
    fn reviewers(&self, path: &str) -> Layered {
        if self.approvers {
            self.owners.approvers(path)
        } else {
            self.owners.reviewers(path)
        }
    }
    fn leaf_reviewers(&self, path: &str) -> BTreeSet<String> {
        if self.approvers {
            self.owners.leaf_approvers(path)
        } else {
            self.owners.leaf_reviewers(path)
        }
    }
}

/// Prow's GetReviewers: (reviewers, required reviewers).
fn get_reviewers(
    src: Source<'_>,
    rng: &mut Rng,
    author: &str,
    files: &[String],
    min: usize,
) -> (Vec<String>, Vec<String>) {
    let author_set = BTreeSet::from([normalize_login(author)]);
    let mut reviewers = Layers::default();
    let mut required = BTreeSet::new();
    let mut leaves = Layers::default();
    let mut seen = BTreeSet::new();
    if min == 0 {
        return (vec![], vec![]);
    }
    // One from the nearest reviewers of each OWNERS file.
    for file in files {
        if !seen.insert(src.owners_file(file)) {
            continue;
        }
        required.extend(src.owners.required_reviewers(file));
        let mut unused = Layers::flat(src.leaf_reviewers(file))
            .difference(&reviewers.set())
            .difference(&author_set);
        if unused.len() == 0 {
            continue;
        }
        leaves = leaves.union(&unused);
        if let Some(r) = unused.pop(rng) {
            reviewers.insert(0, r);
        }
    }
    // More from those leaves, then from every layer of each file's reviewers.
    let mut unused_leaves = leaves.difference(&reviewers.set());
    while reviewers.len() < min {
        let Some(r) = unused_leaves.pop(rng) else {
            break;
        };
        reviewers.insert(1, r);
    }
    for file in files {
        if reviewers.len() >= min {
            break;
        }
        let mut file_reviewers = Layers::from_layered(&src.reviewers(file)).difference(&author_set);
        while reviewers.len() < min {
            let Some(r) = file_reviewers.pop(rng) else {
                break;
            };
            reviewers.insert(2, r);
        }
    }
    (reviewers.list(), required.into_iter().collect())
}

/// Prow's blunderbuss handle: whom to request.
fn choose(
    event: &Event,
    owners: &RepoOwners,
    files: &[String],
    cfg: &BlunderbussConfig,
) -> Vec<String> {
    let count = cfg.request_count.unwrap_or(DEFAULT_REQUEST_COUNT);
    let author = &event.author.login;
    let mut rng = Rng::for_pr(event);
    let reviewer_source = Source {
        owners,
        approvers: false,
    };
    let (mut reviewers, required) = get_reviewers(reviewer_source, &mut rng, author, files, count);
    if reviewers.len() < count && !cfg.exclude_approvers {
        let approver_source = Source {
            owners,
            approvers: true,
        };
        let (approvers, _) = get_reviewers(approver_source, &mut rng, author, files, count);
        for a in approvers {
            if !reviewers.contains(&a) {
                reviewers.push(a);
            }
        }
    }
    if cfg.max_request_count > 0 {
        reviewers.truncate(cfg.max_request_count);
    }
    reviewers.extend(required);
    reviewers
}

/// Prow's assign.CCRegexp on the raw PR body: a `/cc` or `/uncc` line means the author chose.
fn body_has_cc(body: &str) -> bool {
    body.lines().any(|line| {
        let lower = line.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("/cc")
            .or_else(|| lower.strip_prefix("/uncc"));
        rest.is_some_and(|r| crate::assign::targets(r, true).is_some())
    })
}

/// Prow's reviewer.AutoCCMatch: a line that is `/auto-cc` alone.
fn is_auto_cc(body: &str) -> bool {
    body.lines()
        .any(|l| l.trim_end().eq_ignore_ascii_case("/auto-cc"))
}

fn is_relevant(event: &Event, cfg: &BlunderbussConfig) -> bool {
    match event.kind {
        Kind::PullRequest if matches!(event.action.as_str(), "opened" | "ready_for_review") => {
            let Some(pr) = &event.pull_request else {
                return false;
            };
            // With wait_for_status Prow requests on the status event instead.
            !body_has_cc(pr.body.as_deref().unwrap_or_default())
                && cfg.wait_for_status.is_none()
                && (!pr.draft || !cfg.ignore_drafts)
                && !cfg.ignore_authors.contains(&pr.user.login)
        }
        Kind::PullRequest | Kind::IssueComment | Kind::PullRequestReview => event
            .created_comment()
            .is_some_and(|c| event.is_pr && event.state != "closed" && is_auto_cc(&c.body)),
        Kind::Issues => false,
    }
}

impl Plugin for Blunderbuss {
    fn name(&self) -> &'static str {
        "blunderbuss"
    }

    fn events(&self) -> &'static [&'static str] {
        &["issue_comment", "pull_request", "pull_request_review"]
    }

    fn help(&self, config: &PluginsConfig, _: &[Repo]) -> PluginHelp {
        let count = config
            .blunderbuss
            .request_count
            .unwrap_or(DEFAULT_REQUEST_COUNT);
        let plural = if count > 1 { "s" } else { "" };
        let mut help = PluginHelp {
            description: "The blunderbuss plugin automatically requests reviews from reviewers when a new PR is created. The reviewers are selected randomly from the OWNERS files that apply to the files modified by the PR.".into(),
            commands: vec![Command::new(
                "/auto-cc",
                false,
                "Manually request reviews from reviewers for a PR. Useful if OWNERS file were updated since the PR was opened.",
                &["/auto-cc"],
                "Anyone",
            )],
            ..PluginHelp::default()
        };
        help.config.insert(
            String::new(),
            format!(
                "blunderbuss is currently configured to request reviews from {count} reviewer{plural}."
            ),
        );
        help
    }

    fn needs(&self, event: &Event, config: &PluginsConfig) -> Option<Needs> {
        is_relevant(event, &config.blunderbuss).then(|| Needs {
            pull_request_owners: true,
            ..Needs::default()
        })
    }

    fn decide(&self, event: &Event, facts: &Facts, config: &PluginsConfig) -> Vec<Action> {
        let cfg = &config.blunderbuss;
        if !is_relevant(event, cfg) {
            return vec![];
        }
        let (Some(pr), Some(owners)) = (&facts.pull_request, &facts.repo_owners) else {
            return vec![];
        };
        let logins = choose(event, owners, &pr.changed_files, cfg);
        if logins.is_empty() {
            return vec![];
        }
        vec![Action::RequestReview {
            logins,
            missing: None,
        }]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
