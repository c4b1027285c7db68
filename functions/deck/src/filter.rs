//! Which ProwJobs a request asks for: the `/` and `/prowjobs.js` query parameters as a pure predicate.

use prow_core::prowjob::{ProwJobState, ProwJobType};

use crate::summary::JobFacts;
use serde::Deserialize;

use crate::glob;

/// Query parameters shared by the list page and `/prowjobs.js`; empty values mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// `org/repo` (exact, against the refs or any extra ref), or a bare repo name.
    pub repo: Option<String>,
    /// Organisation of the refs or any extra ref.
    pub org: Option<String>,
    /// Job name, exact or a shell glob (`pull-*`).
    pub job: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub state: Option<String>,
    /// Pull request author (case-insensitive); `owner` is Prow's name for it.
    pub author: Option<String>,
    pub owner: Option<String>,
    /// Pull request number.
    pub pull: Option<String>,
}

/// A [`Filter`] checked once per request, so matching 100k jobs does no parsing.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    repo: Option<(Option<String>, String)>,
    org: Option<String>,
    job: Option<JobMatch>,
    type_: Want<ProwJobType>,
    state: Want<ProwJobState>,
    author: Option<String>,
    pull: Want<u64>,
}

/// One parsed query value: absent (anything goes), a value to match, or unparseable (nothing
/// matches).
#[derive(Debug, Clone, Default)]
enum Want<T> {
    #[default]
    Any,
    Only(T),
    Invalid,
}

impl<T: PartialEq> Want<T> {
    fn parse<E>(raw: Option<&str>, parse: impl FnOnce(&str) -> Result<T, E>) -> Self {
        match raw.map(parse) {
            None => Want::Any,
            Some(Ok(v)) => Want::Only(v),
            Some(Err(_)) => Want::Invalid,
        }
    }

    fn admits(&self, v: &T) -> bool {
        match self {
            Want::Any => true,
            Want::Only(want) => want == v,
            Want::Invalid => false,
        }
    }

    /// Whether some value in `values` is admitted; an absent filter admits an empty list.
    fn admits_any<'a>(&self, mut values: impl Iterator<Item = &'a T>) -> bool
    where
        T: 'a,
    {
        match self {
            Want::Any => true,
            _ => values.any(|v| self.admits(v)),
        }
    }
}

#[derive(Debug, Clone)]
enum JobMatch {
    Exact(String),
    Glob(String),
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Filter {
    /// Unknown type/state/pull values match nothing rather than everything, so a typo shows an
    /// empty page instead of silently ignoring the filter.
    pub fn compile(&self) -> Compiled {
        Compiled {
            repo: nonempty(&self.repo).map(|r| match r.split_once('/') {
                Some((org, repo)) => (Some(org.to_owned()), repo.to_owned()),
                None => (None, r.to_owned()),
            }),
            org: nonempty(&self.org).map(str::to_owned),
            job: nonempty(&self.job).map(|j| {
                if j.contains(['*', '?', '[']) {
                    JobMatch::Glob(j.to_owned())
                } else {
                    JobMatch::Exact(j.to_owned())
                }
            }),
            type_: Want::parse(nonempty(&self.type_), str::parse),
            state: Want::parse(nonempty(&self.state), str::parse),
            author: nonempty(&self.author)
                .or(nonempty(&self.owner))
                .map(str::to_lowercase),
            pull: Want::parse(nonempty(&self.pull), |p| p.trim_start_matches('#').parse()),
        }
    }

    /// The filter as query-string pairs (non-empty only), for links that keep it.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("repo", &self.repo),
            ("org", &self.org),
            ("job", &self.job),
            ("type", &self.type_),
            ("state", &self.state),
            ("author", &self.author),
            ("owner", &self.owner),
            ("pull", &self.pull),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| nonempty(v).map(|v| (k, v.to_owned())))
            .collect()
    }
}

impl Compiled {
    pub fn matches(&self, pj: &impl JobFacts) -> bool {
        if let Some(job) = &self.job {
            let ok = match job {
                JobMatch::Exact(j) => pj.job_name() == j,
                JobMatch::Glob(g) => glob::matches(g, pj.job_name()),
            };
            if !ok {
                return false;
            }
        }
        if !self.type_.admits(pj.job_type()) || !self.state.admits(&pj.state()) {
            return false;
        }
        if let Some((org, repo)) = &self.repo {
            let hit = pj
                .repos()
                .any(|(o, r)| r == repo && org.as_ref().is_none_or(|want| o == want));
            if !hit {
                return false;
            }
        }
        if let Some(org) = &self.org
            && !pj.repos().any(|(o, _)| o == org)
        {
            return false;
        }
        if let Some(author) = &self.author {
            let hit = pj.pulls().any(|(_, a)| a.to_lowercase() == *author);
            if !hit {
                return false;
            }
        }
        self.pull.admits_any(pj.pulls().map(|(number, _)| number))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::{ProwJob, Pull, Refs};

    fn presubmit() -> ProwJob {
        let mut refs = Refs::new("acme", "foo");
        refs.pulls.push(Pull::new(42, "Alice", "bbbb"));
        ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .refs(refs)
            .extra_refs(Refs::new("acme", "tools"))
            .state(ProwJobState::Failure)
            .build()
    }

    fn filter(pairs: &[(&str, &str)]) -> Filter {
        let mut f = Filter::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "repo" => f.repo = v,
                "org" => f.org = v,
                "job" => f.job = v,
                "type" => f.type_ = v,
                "state" => f.state = v,
                "author" => f.author = v,
                "owner" => f.owner = v,
                "pull" => f.pull = v,
                other => panic!("unknown key {other}"),
            }
        }
        f
    }

    #[test]
    fn filters_select_jobs_as_the_list_page_promises() {
        let pj = presubmit();
        let table: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("repo", "")], true),
            (&[("repo", "acme/foo")], true),
            (&[("repo", "acme/tools")], true),
            (&[("repo", "foo")], true),
            (&[("repo", "other/foo")], false),
            (&[("repo", "acme/bar")], false),
            (&[("org", "acme")], true),
            (&[("org", "other")], false),
            (&[("job", "pull-foo-unit")], true),
            (&[("job", "pull-foo")], false),
            (&[("job", "pull-*")], true),
            (&[("job", "ci-*")], false),
            (&[("type", "presubmit")], true),
            (&[("type", "periodic")], false),
            (&[("type", "bogus")], false),
            (&[("state", "failure")], true),
            (&[("state", "success")], false),
            (&[("author", "alice")], true),
            (&[("owner", "ALICE")], true),
            (&[("author", "bob")], false),
            (&[("pull", "42")], true),
            (&[("pull", "#42")], true),
            (&[("pull", "43")], false),
            (&[("pull", "x")], false),
            (
                &[("repo", "acme/foo"), ("state", "failure"), ("pull", "42")],
                true,
            ),
            (&[("repo", "acme/foo"), ("state", "success")], false),
        ];
        for (pairs, want) in table {
            assert_eq!(filter(pairs).compile().matches(&pj), *want, "{pairs:?}");
        }
    }

    #[test]
    fn pairs_keep_only_set_values() {
        let f = filter(&[("repo", "acme/foo"), ("job", " "), ("state", "failure")]);
        assert_eq!(
            f.pairs(),
            vec![
                ("repo", "acme/foo".to_owned()),
                ("state", "failure".to_owned())
            ]
        );
    }
}
