//! What the templates show: ProwJobs flattened into display strings, and the askama page types.
//! Every value reaches HTML through askama's escaping; links pass [`safe_url`] first.

use askama::Template;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_core::prowjob::ProwJob;

use crate::filter::Filter;
use crate::spyglass::{RenderedLog, TestCase};

/// Only http(s) links become hrefs: a `javascript:` URL in a ProwJob must not run.
pub fn safe_url(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url.trim().to_owned()
    } else {
        String::new()
    }
}

pub fn format_time(t: Option<&Time>) -> String {
    t.map(|t| t.0.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// `1h2m3s` style, as Prow's list shows durations.
pub fn format_duration(seconds: i64) -> String {
    if seconds < 0 {
        return String::new();
    }
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// One row of the job list (and the header of a job page).
#[derive(Debug, Clone, Default)]
pub struct RowView {
    pub name: String,
    pub job: String,
    pub type_: String,
    pub state: String,
    pub repo: String,
    pub repo_link: String,
    pub base_ref: String,
    pub base_link: String,
    pub pull: String,
    pub pull_link: String,
    pub title: String,
    pub author: String,
    pub author_link: String,
    pub started: String,
    pub duration: String,
    pub build_id: String,
    pub description: String,
}

pub fn row(pj: &ProwJob, now: Timestamp) -> RowView {
    let refs = pj.spec.main_refs();
    let pull = refs.and_then(|r| r.pulls.first());
    let start = pj.status.start_time.as_ref();
    let end = pj.status.completion_time.as_ref().map_or(now, |t| t.0);
    RowView {
        name: pj.name().to_owned(),
        job: pj.spec.job.clone(),
        type_: pj.spec.type_.as_str().to_owned(),
        state: pj.status.state.as_str().to_owned(),
        repo: refs.map(|r| r.org_repo()).unwrap_or_default(),
        repo_link: refs.map(|r| safe_url(&r.repo_link)).unwrap_or_default(),
        base_ref: refs.map(|r| r.base_ref.clone()).unwrap_or_default(),
        base_link: refs.map(|r| safe_url(&r.base_link)).unwrap_or_default(),
        pull: pull.map(|p| p.number.to_string()).unwrap_or_default(),
        pull_link: pull.map(|p| safe_url(&p.link)).unwrap_or_default(),
        title: pull.map(|p| p.title.clone()).unwrap_or_default(),
        author: pull.map(|p| p.author.clone()).unwrap_or_default(),
        author_link: pull.map(|p| safe_url(&p.author_link)).unwrap_or_default(),
        started: format_time(start),
        // A final state without completionTime has no known end: no duration rather than a
        // clock that keeps running.
        duration: start
            .filter(|_| pj.is_complete() || pj.status.state.is_active())
            .map(|s| format_duration((end - s.0).get_seconds()))
            .unwrap_or_default(),
        build_id: pj.status.build_id.clone(),
        description: pj.status.description.clone(),
    }
}

/// The filter form's current values (empty = any).
#[derive(Debug, Clone, Default)]
pub struct FilterView {
    pub repo: String,
    pub job: String,
    pub type_: String,
    pub state: String,
    pub author: String,
    pub pull: String,
}

impl From<&Filter> for FilterView {
    fn from(f: &Filter) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            repo: s(&f.repo),
            job: s(&f.job),
            type_: s(&f.type_),
            state: s(&f.state),
            author: f
                .author
                .clone()
                .or_else(|| f.owner.clone())
                .unwrap_or_default(),
            pull: s(&f.pull),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "list.html")]
pub struct ListPage {
    pub rows: Vec<RowView>,
    pub total: usize,
    pub first: usize,
    pub last: usize,
    pub prev_link: String,
    pub next_link: String,
    pub filter: FilterView,
    pub jobs: Vec<String>,
    pub repos: Vec<String>,
    pub types: Vec<&'static str>,
    pub states: Vec<&'static str>,
    pub refresh: u64,
    pub user: String,
    pub synced: bool,
}

/// An artifact link on the job page.
#[derive(Debug, Clone)]
pub struct ArtifactView {
    pub name: String,
    pub link: String,
    pub size: u64,
}

#[derive(Debug, Template)]
#[template(path = "job.html")]
pub struct JobPage {
    pub row: RowView,
    pub cluster: String,
    pub pod_name: String,
    pub pending: String,
    pub completed: String,
    pub url: String,
    pub storage: String,
    pub log: Option<RenderedLog>,
    pub log_source: String,
    pub log_note: String,
    pub tests: Vec<TestCase>,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub test_errors: Vec<String>,
    /// Whether the build log section shows (its lens applies, or the run has no artifacts).
    pub show_log: bool,
    /// Names of the lenses that apply, in config order.
    pub lenses: Vec<String>,
    pub metadata: Option<MetadataLens>,
    pub podinfo: Option<PodLens>,
    /// (name, URL) of each `*.link.txt`.
    pub links: Vec<(String, String)>,
    pub reports: Vec<HtmlReport>,
    pub artifacts: Vec<ArtifactView>,
    /// Rendered from the stored `prowjob.json`: the ProwJob itself is gone (sinker).
    pub from_storage: bool,
    /// Where the ProwJob's JSON and the raw build log are: the API server and the pod while
    /// the ProwJob exists, the artifact store once sinker deleted it.
    pub prowjob_link: String,
    pub raw_log_link: String,
    pub can_abort: bool,
    pub csrf: String,
    pub user: String,
}

/// The metadata lens: `started.json`, `finished.json`, clone records and the job's refs.
#[derive(Debug, Clone, Default)]
pub struct MetadataLens {
    pub started: String,
    pub finished: String,
    pub duration: String,
    pub result: String,
    pub revision: String,
    pub node: String,
    /// `metadata` of started/finished.json.
    pub rows: Vec<(String, String)>,
    pub refs: Vec<RefsView>,
    pub clones: Vec<CloneView>,
}

/// One repository the job checked out: base and pulls.
#[derive(Debug, Clone)]
pub struct RefsView {
    pub repo: String,
    pub base_ref: String,
    pub base_sha: String,
    /// `#<number> <sha> by <author>` per pull.
    pub pulls: Vec<String>,
}

impl From<&prow_core::prowjob::Refs> for RefsView {
    fn from(r: &prow_core::prowjob::Refs) -> Self {
        RefsView {
            repo: r.org_repo(),
            base_ref: r.base_ref.clone(),
            base_sha: r.base_sha.clone(),
            pulls: r
                .pulls
                .iter()
                .map(|p| format!("#{} {} by {}", p.number, p.sha, p.author))
                .collect(),
        }
    }
}

/// One repository's clone from `clone-records.json`.
#[derive(Debug, Clone)]
pub struct CloneView {
    pub repo: String,
    pub failed: bool,
    pub final_sha: String,
    pub commands: Vec<crate::lenses::CloneCommand>,
}

/// The pod info lens.
#[derive(Debug, Clone)]
pub struct PodLens {
    pub containers: Vec<crate::lenses::ContainerView>,
    pub events: Vec<crate::lenses::EventView>,
}

/// An HTML report artifact, shown in a sandboxed frame (no scripts, no same origin).
#[derive(Debug, Clone)]
pub struct HtmlReport {
    pub title: String,
    pub path: String,
    pub html: String,
}

/// One run on the job-history page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobHistoryRow {
    pub id: String,
    /// The run's page (`/view/<provider>/<bucket>/<build dir>`).
    pub link: String,
    pub started: String,
    pub duration: String,
    /// `SUCCESS`, `FAILURE`, `ABORTED`, `Pending`, `Unknown`... as Prow shows it.
    pub result: String,
    pub state_class: &'static str,
    pub pull: String,
}

#[derive(Debug, Template)]
#[template(path = "job_history.html")]
pub struct JobHistoryPage {
    pub name: String,
    pub rows: Vec<JobHistoryRow>,
    pub shown: usize,
    pub total: usize,
    pub newer_link: String,
    pub older_link: String,
    pub latest_link: String,
    pub user: String,
}

#[derive(Debug, Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub message: String,
    pub link: String,
    pub link_text: String,
    pub user: String,
}

#[derive(Debug, Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub error: String,
    pub user: String,
    /// Offer "Log in with GitHub".
    pub github: bool,
}

/// One command on `/command-help`.
#[derive(Debug, Clone)]
pub struct CommandView {
    pub plugin: String,
    pub usage: String,
    pub featured: bool,
    pub description: String,
    pub examples: Vec<String>,
    pub who: String,
}

#[derive(Debug, Template)]
#[template(path = "command_help.html")]
pub struct CommandHelpPage {
    pub repo: String,
    pub commands: Vec<CommandView>,
    pub user: String,
}

/// One plugin on `/plugins`.
#[derive(Debug, Clone)]
pub struct PluginView {
    pub name: String,
    pub description: String,
    pub events: Vec<String>,
    /// Each command's usage.
    pub commands: Vec<String>,
    /// (`org/repo` or `""`, that scope's settings as text: escaped, never rendered as HTML).
    pub config: Vec<(String, String)>,
}

/// `/plugins`: the plugins enabled in a repo (or every known plugin), from the registry.
#[derive(Debug, Template)]
#[template(path = "plugins.html")]
pub struct PluginsPage {
    pub repo: String,
    pub plugins: Vec<PluginView>,
    pub user: String,
}

/// `/config`: the effective job config of a repository.
#[derive(Debug, Template)]
#[template(path = "config.html")]
pub struct ConfigPage {
    pub repo: String,
    pub repos: Vec<String>,
    pub jobs: Vec<crate::jobconfig::JobConfigView>,
    pub errors: Vec<String>,
    pub user: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_http_links_survive() {
        for (url, want) in [
            (
                "https://github.com/acme/foo/pull/1",
                "https://github.com/acme/foo/pull/1",
            ),
            ("http://x", "http://x"),
            ("javascript:alert(1)", ""),
            (" JavaScript:alert(1)", ""),
            ("data:text/html,<script>", ""),
            ("", ""),
        ] {
            assert_eq!(safe_url(url), want, "{url}");
        }
    }

    #[test]
    fn duration_runs_only_for_active_or_completed_jobs() {
        use prow_core::prowjob::{ProwJobState, ProwJobType};
        let start = Time(Timestamp::from_second(1_000).unwrap());
        let now = Timestamp::from_second(1_090).unwrap();
        let job = |state| {
            ProwJob::builder("j", ProwJobType::Periodic)
                .started_at(start.clone())
                .state(state)
                .build()
        };
        assert_eq!(row(&job(ProwJobState::Pending), now).duration, "1m30s");
        assert_eq!(row(&job(ProwJobState::Failure), now).duration, "");
        let mut done = job(ProwJobState::Failure);
        done.status.completion_time = Some(Time(Timestamp::from_second(1_005).unwrap()));
        assert_eq!(row(&done, now).duration, "5s");
    }

    #[test]
    fn durations_read_like_prows() {
        for (s, want) in [
            (0, "0s"),
            (59, "59s"),
            (61, "1m1s"),
            (3723, "1h2m3s"),
            (-1, ""),
        ] {
            assert_eq!(format_duration(s), want);
        }
    }
}
