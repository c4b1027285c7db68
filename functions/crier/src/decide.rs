//! Purpose: Prow's GitHub reporter rules as pure functions (what to report, status, failure comment).

use prow_core::config::GitHubReporter;
use prow_core::jobspec::{GERRIT_REPORT_LABEL, IS_OPTIONAL_LABEL};
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use prow_github::{IssueComment, NewStatus, Status, StatusState};

/// Key of this reporter in `status.prev_report_states`.
pub const GITHUB_REPORTER: &str = "github-reporter";
/// Key in `status.prev_report_states` naming the state whose commit status crier was about to
/// post when it last tried: written before the POST, so a crier killed between GitHub's answer
/// and recording [`GITHUB_REPORTER`] knows, when it comes back, that the status may already be
/// there. A key of the existing map rather than a new status field, so the ProwJob schema stays
/// Prow's and Prow's own crier simply ignores it.
pub const GITHUB_STATUS_INTENT: &str = "github-reporter-intent";
/// Marks crier's failure comments.
pub const COMMENT_TAG: &str = "<!-- test report -->";
/// Prow's `plugins.AboutThisBot`: the note every bot comment ends with, including the sentence
/// about the command list that `FormatResponse` leaves out but the test report keeps.
const ABOUT_THIS_BOT: &str = concat!(
    "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository.",
    " I understand the commands that are listed [here](https://go.k8s.io/bot-commands)."
);

/// Job types reported when `github_reporter.job_types_to_report` is empty (Prow's default).
const DEFAULT_TYPES: [ProwJobType; 2] = [ProwJobType::Presubmit, ProwJobType::Postsubmit];

/// Prow's `ShouldReport`: a reportable type, `report: true`, not a Gerrit job, one pull at most.
pub fn should_report(pj: &ProwJob, cfg: &GitHubReporter) -> bool {
    if !pj.spec.report {
        return false;
    }
    let gerrit = pj
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(GERRIT_REPORT_LABEL));
    if gerrit {
        return false;
    }
    let type_ok = if cfg.job_types_to_report.is_empty() {
        DEFAULT_TYPES.contains(&pj.spec.type_)
    } else {
        cfg.job_types_to_report
            .iter()
            .any(|t| t == pj.spec.type_.as_str())
            && DEFAULT_TYPES.contains(&pj.spec.type_)
    };
    let Some(refs) = pj.spec.refs.as_ref() else {
        return false;
    };
    type_ok && refs.pulls.len() <= 1
}

/// True when this state was already reported to GitHub (duplicate or self-caused events).
pub fn already_reported(pj: &ProwJob, reporter: &str) -> bool {
    pj.status.prev_report_states.get(reporter) == Some(&pj.status.state)
}

/// How to set the commit status of a job's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusStep {
    /// Nothing was attempted for this state: record the intent, then post.
    RecordIntentThenPost,
    /// An earlier attempt recorded its intent and never finished: it may have posted the status
    /// already, so read GitHub's statuses for the SHA and post only if it is not there.
    CheckGitHubFirst,
}

/// Whether an earlier, unfinished attempt may already have posted this state's status.
pub fn status_step(pj: &ProwJob) -> StatusStep {
    if pj.status.prev_report_states.get(GITHUB_STATUS_INTENT) == Some(&pj.status.state) {
        StatusStep::CheckGitHubFirst
    } else {
        StatusStep::RecordIntentThenPost
    }
}

/// Whether GitHub's current statuses of the SHA (the combined status: the latest per context)
/// already hold `want` as crier would post it: same context, state, description (shortened as
/// the client shortens it) and target URL. GitHub answers an unset field as `null` or `""`.
pub fn status_on_github(statuses: &[Status], want: &NewStatus) -> bool {
    let description = want
        .description
        .as_deref()
        .map(prow_github::truncate_description);
    let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
    statuses.iter().any(|s| {
        s.context == want.context
            && s.state == want.state
            && text(s.description.as_deref()) == text(description.as_deref())
            && text(s.target_url.as_deref()) == text(want.target_url.as_deref())
    })
}

/// The commit status for a job state; `None` for `scheduling`, which Prow has no mapping for
/// (it is reported once the job moves on).
pub fn status_state(state: ProwJobState) -> Option<StatusState> {
    match state {
        ProwJobState::Scheduling => None,
        ProwJobState::Triggered | ProwJobState::Pending => Some(StatusState::Pending),
        ProwJobState::Success => Some(StatusState::Success),
        ProwJobState::Failure | ProwJobState::Aborted => Some(StatusState::Failure),
        ProwJobState::Error => Some(StatusState::Error),
    }
}

/// Where and what to report: `org`, `repo`, commit SHA, status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub org: String,
    pub repo: String,
    pub sha: String,
    pub status: NewStatus,
}

/// The commit status for a job: on the PR head (else the base SHA), context, mapped state,
/// description with BaseSHA, target_url = `status.url`.
pub fn status_report(pj: &ProwJob) -> Option<StatusReport> {
    let refs = pj.spec.refs.as_ref()?;
    let state = status_state(pj.status.state)?;
    let sha = refs
        .pulls
        .first()
        .map(|p| p.sha.clone())
        .unwrap_or_else(|| refs.base_sha.clone());
    if sha.is_empty() {
        return None;
    }
    let mut status = NewStatus::new(pj.spec.context.clone(), state);
    status.description = Some(prow_core::status_description::with_base_sha(
        &pj.status.description,
        &refs.base_sha,
    ));
    if !pj.status.url.is_empty() {
        status.target_url = Some(pj.status.url.clone());
    }
    Some(StatusReport {
        org: refs.org.clone(),
        repo: refs.repo.clone(),
        sha,
        status,
    })
}

/// GitHub answers Prow's reporter treats as done rather than as failures to retry: the commit
/// is gone (404, or 422 "No commit found for SHA"), or the context already holds GitHub's
/// maximum number of statuses (422). Decided on the status code GitHub answered, then its
/// message; anything else (401, 5xx, no answer) is retried.
pub fn is_ignorable_status_error(err: &prow_github::GitHubError) -> bool {
    match (err.status(), err.message()) {
        (Some(404), _) => true,
        (Some(422), Some(message)) => {
            message.contains("No commit found for SHA")
                || message.contains("reached the maximum number of statuses")
        }
        _ => false,
    }
}

/// Whether a report of this job touches the PR's failure comment: Prow's `ReportComment` looks
/// only at complete jobs of a single pull, in repos not listed in `no_comment_repos`.
pub fn wants_failure_comment(pj: &ProwJob, cfg: &GitHubReporter) -> bool {
    let Some(refs) = pj.spec.refs.as_ref() else {
        return false;
    };
    pj.is_complete() && refs.pulls.len() == 1 && !repo_listed(&cfg.no_comment_repos, pj)
}

/// Whether the job's repo (`org/repo`) or its org is in `list`, as Prow matches
/// `no_comment_repos` and `summary_comment_repos`.
pub fn repo_listed(list: &[String], pj: &ProwJob) -> bool {
    pj.spec
        .refs
        .as_ref()
        .is_some_and(|refs| list.iter().any(|r| *r == refs.org_repo() || *r == refs.org))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The Required column as Prow's `createEntry` fills it: the negation of a presubmit's
/// `prow.k8s.io/is-optional` label, and `unknown` when the job is no presubmit or the label is
/// missing or not a Go boolean (a ProwJob created by hand, say).
fn required_column(pj: &ProwJob) -> String {
    let optional = (pj.spec.type_ == ProwJobType::Presubmit)
        .then(|| pj.metadata.labels.as_ref()?.get(IS_OPTIONAL_LABEL))
        .flatten()
        .and_then(|v| parse_go_bool(v));
    match optional {
        Some(optional) => (!optional).to_string(),
        None => "unknown".to_owned(),
    }
}

/// One table row of the failure comment.
pub fn failure_row(pj: &ProwJob) -> String {
    let sha = pj
        .spec
        .refs
        .as_ref()
        .and_then(|r| r.pulls.first())
        .map(|p| p.sha.as_str())
        .unwrap_or_default();
    format!(
        "{} | {} | [link]({}) | {} | `{}`",
        pj.spec.context,
        sha,
        pj.status.url,
        required_column(pj),
        pj.spec.rerun_command
    )
}

/// The `plank.report_templates` entry for the job's repo, as Prow's `ReportTemplateForRepo`
/// picks it: `org/repo`, then `org`, then `*` (the legacy `report_template` counts as `*`).
/// An entry that is an empty string is still a template: Prow renders it to nothing and keeps
/// the blank lines around it.
pub fn report_template<'a>(plank: &'a prow_core::config::Plank, pj: &ProwJob) -> Option<&'a str> {
    let templates = &plank.report_templates;
    let legacy = plank.report_template.as_deref().filter(|t| !t.is_empty());
    let star = || templates.get("*").map(String::as_str).or(legacy);
    let Some(refs) = pj.spec.refs.as_ref() else {
        return star();
    };
    templates
        .get(&refs.org_repo())
        .or_else(|| templates.get(&refs.org))
        .map(String::as_str)
        .or_else(star)
}

/// The report comment as Prow's `createComment` writes it: the failure table for `rows` (or,
/// with no rows, the "all tests passed" line a summary comment gets), the rendered report
/// template (if the repo has one) under it, then the bot footer and the tag.
pub fn comment_body(author: &str, rows: &[String], report: Option<&str>) -> String {
    let mut lines = if rows.is_empty() {
        vec![format!("@{author}: all tests **passed!**"), String::new()]
    } else {
        let plural = if rows.len() == 1 { "test" } else { "tests" };
        vec![
            format!(
                "@{author}: The following {plural} **failed**, say `/retest` to rerun all failed tests or `/retest-required` to rerun all mandatory failed tests:"
            ),
            String::new(),
            "Test name | Commit | Details | Required | Rerun command".to_owned(),
            "--- | --- | --- | --- | ---".to_owned(),
        ]
    };
    lines.extend(rows.iter().cloned());
    if let Some(report) = report {
        lines.extend([String::new(), report.to_owned()]);
    }
    lines.extend([
        String::new(),
        "<details>".to_owned(),
        String::new(),
        ABOUT_THIS_BOT.to_owned(),
        "</details>".to_owned(),
        COMMENT_TAG.to_owned(),
    ]);
    lines.join("\n")
}

/// The table rows of one report comment: lines after a `---` line until a blank line.
fn table_rows(body: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut tracking = false;
    for line in body.lines().map(str::trim) {
        if line.starts_with("---") {
            tracking = true;
        } else if line.is_empty() {
            tracking = false;
        } else if tracking {
            rows.push(line.to_owned());
        }
    }
    rows
}

fn row_context(row: &str) -> &str {
    row.split(" | ").next().unwrap_or_default()
}

/// What to do with the PR's failure comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentAction {
    Delete(u64),
    Create(String),
    Edit(u64, String),
}

/// Prow's `ReportComment` for `jobs` of one pull request (the reported job, or for a
/// `summary_comment_repos` repo the latest run of each of the PR's jobs), given the PR's
/// comments oldest first: keep other jobs' rows (a newer row for the same context replaces an
/// older one), drop these jobs' old rows and add a row for each that failed, delete older
/// report comments, then create, edit or delete the latest. `must_create` (a summary repo)
/// writes the comment even with no failure, unless one of the jobs was aborted.
pub fn plan_report_comment(
    jobs: &[&ProwJob],
    bot_login: &str,
    comments: &[IssueComment],
    report: Option<&str>,
    must_create: bool,
) -> Vec<CommentAction> {
    let Some(author) = jobs
        .first()
        .and_then(|pj| pj.spec.refs.as_ref())
        .and_then(|r| r.pulls.first())
        .map(|p| p.author.clone())
    else {
        return Vec::new();
    };
    let ours: Vec<&IssueComment> = comments
        .iter()
        .filter(|c| c.user.login.eq_ignore_ascii_case(bot_login) && c.body.contains(COMMENT_TAG))
        .collect();
    let mut rows: Vec<String> = Vec::new();
    for comment in &ours {
        for row in table_rows(&comment.body) {
            let ctx = row_context(&row).to_owned();
            rows.retain(|r| row_context(r) != ctx);
            rows.push(row);
        }
    }
    rows.retain(|r| !jobs.iter().any(|pj| row_context(r) == pj.spec.context));
    let failed: Vec<String> = jobs
        .iter()
        .filter(|pj| pj.status.state == ProwJobState::Failure)
        .map(|pj| failure_row(pj))
        .collect();
    let added = !failed.is_empty();
    rows.extend(failed);

    let aborted = jobs
        .iter()
        .any(|pj| pj.status.state == ProwJobState::Aborted);
    let summary = must_create && !aborted;
    let deletes = |comments: &[&IssueComment]| {
        comments
            .iter()
            .map(|c| CommentAction::Delete(c.id))
            .collect::<Vec<_>>()
    };
    if rows.is_empty() && !summary {
        return deletes(&ours);
    }
    let body = comment_body(&author, &rows, report);
    let Some((latest, older)) = ours.split_last() else {
        return vec![CommentAction::Create(body)];
    };
    // The new text is written before old comments are deleted, so a crier killed in between
    // leaves rows twice rather than losing them; the next attempt finds the latest comment
    // already saying exactly this and only deletes the rest. Prow deletes first, and would
    // delete and recreate an identical comment for a failure reported again.
    let mut actions = Vec::new();
    if latest.body == body {
        actions.extend(deletes(older));
    } else if added || rows.is_empty() {
        // Prow moves the comment down the PR: a new one, the old ones deleted.
        actions.push(CommentAction::Create(body));
        actions.extend(deletes(&ours));
    } else {
        actions.push(CommentAction::Edit(latest.id, body));
        actions.extend(deletes(older));
    }
    actions
}

/// Prow's `pjsToReport` for a summary comment: of the PR's ProwJobs, the latest run (by
/// creation) of each job that reports; `None` while any of them is still running, since the
/// summary waits for all of them.
pub fn summary_jobs(pr_jobs: &[ProwJob]) -> Option<Vec<&ProwJob>> {
    if pr_jobs.iter().any(|pj| !pj.is_complete()) {
        return None;
    }
    let mut latest: std::collections::BTreeMap<&str, &ProwJob> = Default::default();
    for pj in pr_jobs.iter().filter(|pj| pj.spec.report) {
        let created = |p: &ProwJob| p.metadata.creation_timestamp.clone().map(|t| t.0);
        match latest.get(pj.spec.job.as_str()) {
            Some(seen) if created(seen) >= created(pj) => {}
            _ => {
                latest.insert(&pj.spec.job, pj);
            }
        }
    }
    Some(latest.into_values().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use prow_core::prowjob::{Pull, Refs};
    use prow_github::User;

    const SHA: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const BASE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn presubmit(job: &str, state: ProwJobState) -> ProwJob {
        let mut refs = Refs::new("acme", "foo");
        refs.base_ref = "main".into();
        refs.base_sha = BASE.into();
        refs.pulls.push(Pull::new(42, "alice", SHA));
        let mut pj = ProwJob::builder(job, ProwJobType::Presubmit)
            .refs(refs)
            .context(job)
            .report(true)
            .rerun_command(format!("/test {job}"))
            .build();
        pj.status.state = state;
        pj.status.url = format!("https://prow.example.com/view/gs/b/{job}/1");
        pj.status.description = "Job failed.".into();
        // Trigger labels every presubmit it creates with whether it is optional.
        pj.metadata
            .labels
            .get_or_insert_default()
            .insert(IS_OPTIONAL_LABEL.into(), "false".into());
        if state.is_final() {
            pj.status.completion_time = pj.status.start_time.clone();
        }
        pj
    }

    #[test]
    fn which_jobs_are_reported() {
        let cfg = GitHubReporter::default();
        let only_post = GitHubReporter {
            job_types_to_report: vec!["postsubmit".into()],
            ..GitHubReporter::default()
        };
        let mut no_report = presubmit("a", ProwJobState::Pending);
        no_report.spec.report = false;
        let mut batch = presubmit("a", ProwJobState::Pending);
        batch
            .spec
            .refs
            .as_mut()
            .unwrap()
            .pulls
            .push(Pull::new(43, "bob", "c"));
        let mut periodic = presubmit("a", ProwJobState::Pending);
        periodic.spec.type_ = ProwJobType::Periodic;
        let mut gerrit = presubmit("a", ProwJobState::Pending);
        gerrit
            .metadata
            .labels
            .get_or_insert_default()
            .insert(GERRIT_REPORT_LABEL.into(), "Verified".into());
        let table = [
            (
                "presubmit",
                presubmit("a", ProwJobState::Pending),
                &cfg,
                true,
            ),
            ("report false", no_report, &cfg, false),
            ("batch", batch, &cfg, false),
            ("periodic", periodic, &cfg, false),
            ("gerrit", gerrit, &cfg, false),
            (
                "type not configured",
                presubmit("a", ProwJobState::Pending),
                &only_post,
                false,
            ),
        ];
        for (name, pj, cfg, want) in table {
            assert_eq!(should_report(&pj, cfg), want, "{name}");
        }
    }

    #[test]
    fn states_map_like_prow() {
        use ProwJobState::*;
        let table = [
            (Scheduling, None),
            (Triggered, Some(StatusState::Pending)),
            (Pending, Some(StatusState::Pending)),
            (Success, Some(StatusState::Success)),
            (Failure, Some(StatusState::Failure)),
            (Aborted, Some(StatusState::Failure)),
            (Error, Some(StatusState::Error)),
        ];
        for (state, want) in table {
            assert_eq!(status_state(state), want, "{state}");
        }
    }

    #[test]
    fn status_goes_to_the_pull_head_else_the_base() {
        let pj = presubmit("pull-foo-unit", ProwJobState::Aborted);
        let r = status_report(&pj).unwrap();
        assert_eq!(
            (r.org.as_str(), r.repo.as_str(), r.sha.as_str()),
            ("acme", "foo", SHA)
        );
        assert_eq!(r.status.state, StatusState::Failure);
        assert_eq!(r.status.context, "pull-foo-unit");
        assert_eq!(r.status.target_url.as_deref(), Some(pj.status.url.as_str()));
        let mut post = pj.clone();
        post.spec.type_ = ProwJobType::Postsubmit;
        post.spec.refs.as_mut().unwrap().pulls.clear();
        assert_eq!(status_report(&post).unwrap().sha, BASE);
        let mut sched = pj;
        sched.status.state = ProwJobState::Scheduling;
        assert_eq!(status_report(&sched), None);
    }

    fn comment(id: u64, login: &str, body: &str) -> IssueComment {
        IssueComment {
            id,
            user: User {
                login: login.into(),
                ..User::default()
            },
            body: body.into(),
            ..IssueComment::default()
        }
    }

    /// The footer of every report comment, as Prow's `createComment` ends it.
    fn footer() -> String {
        [
            "",
            "<details>",
            "",
            "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository. I understand the commands that are listed [here](https://go.k8s.io/bot-commands).",
            "</details>",
            "<!-- test report -->",
        ]
        .join("\n")
    }

    /// Upstream's `TestCreateComment` cases (pkg/github/report): an empty template still
    /// leaves its blank lines, the plural follows the row count, a summary with no failure says
    /// all tests passed.
    #[test]
    fn comment_bodies_match_prows_create_comment() {
        let head = |plural: &str| {
            format!(
                "@chaodaig: The following test{plural} **failed**, say `/retest` to rerun all failed tests or `/retest-required` to rerun all mandatory failed tests:\n\nTest name | Commit | Details | Required | Rerun command\n--- | --- | --- | --- | ---\n"
            )
        };
        let one = vec!["aaa | bbb | ccc | ddd | eee".to_owned()];
        let two = vec![one[0].clone(), "fff | ggg | hhh | iii | jjj".to_owned()];
        let table = [
            (
                "one failure, empty template",
                comment_body("chaodaig", &one, Some("")),
                format!("{}aaa | bbb | ccc | ddd | eee\n\n\n{}", head(""), footer()),
            ),
            (
                "two failures, empty template",
                comment_body("chaodaig", &two, Some("")),
                format!(
                    "{}aaa | bbb | ccc | ddd | eee\nfff | ggg | hhh | iii | jjj\n\n\n{}",
                    head("s"),
                    footer()
                ),
            ),
            (
                "rendered template",
                comment_body("chaodaig", &one, Some("job-a")),
                format!(
                    "{}aaa | bbb | ccc | ddd | eee\n\njob-a\n{}",
                    head(""),
                    footer()
                ),
            ),
            (
                "all passed, no template",
                comment_body("chaodaig", &[], None),
                format!("@chaodaig: all tests **passed!**\n\n{}", footer()),
            ),
        ];
        for (name, got, want) in table {
            assert_eq!(got, want, "{name}");
        }
    }

    /// Kubernetes' own `plank.report_templates` (the vendored slice of its config.yaml, read as
    /// Go's YAML reads it) on a failed presubmit created the way trigger creates one: the whole
    /// comment, byte for byte as Prow's crier writes it.
    #[test]
    fn a_failure_comment_from_kubernetes_report_template_matches_prow() {
        let prow: prow_core::config::ProwConfig = prow_core::config::from_go_yaml(include_str!(
            "../../../testdata/prow/test-infra/config/prow/config.yaml"
        ))
        .unwrap();
        let plank = &prow.plank;
        let mut pj = presubmit("pull-kubernetes-unit", ProwJobState::Failure);
        let refs = pj.spec.refs.as_mut().unwrap();
        (refs.org, refs.repo) = ("kubernetes".into(), "kubernetes".into());
        pj.metadata
            .labels
            .get_or_insert_default()
            .insert(IS_OPTIONAL_LABEL.into(), "false".into());
        pj.status.url =
            "https://prow.k8s.io/view/gs/kubernetes-ci-logs/pr-logs/pull/42/pull-kubernetes-unit/1"
                .into();

        let template = report_template(plank, &pj).unwrap();
        let report = prow_core::gotemplate::render_prowjob(template, &pj).unwrap();
        let actions = plan_report_comment(&[&pj], "bot", &[], Some(&report), false);
        let [CommentAction::Create(body)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let expected = format!(
            "@alice: The following test **failed**, say `/retest` to rerun all failed tests or `/retest-required` to rerun all mandatory failed tests:

Test name | Commit | Details | Required | Rerun command
--- | --- | --- | --- | ---
pull-kubernetes-unit | {SHA} | [link](https://prow.k8s.io/view/gs/kubernetes-ci-logs/pr-logs/pull/42/pull-kubernetes-unit/1) | true | `/test pull-kubernetes-unit`

[Full PR test history](https://prow.k8s.io/pr-history?org=kubernetes&repo=kubernetes&pr=42). [Your PR dashboard](https://prow.k8s.io/pr?query=is%3Apr%20state%3Aopen%20author%3Aalice). Please help us cut down on flakes by [linking to](https://git.k8s.io/community/contributors/devel/sig-testing/flaky-tests.md#filing-issues-for-flaky-tests) an [open issue](https://github.com/kubernetes/kubernetes/issues?q=is:issue+is:open) when you hit one in your PR.
{}",
            footer()
        );
        assert_eq!(body, &expected);
    }

    #[test]
    fn report_templates_are_picked_by_repo_then_org_then_star() {
        let pj = presubmit("pull-foo-unit", ProwJobState::Failure);
        let mut plank = prow_core::config::Plank::default();
        assert_eq!(report_template(&plank, &pj), None);
        plank.report_templates.insert("*".into(), "star".into());
        plank
            .report_templates
            .insert("other".into(), "other".into());
        assert_eq!(report_template(&plank, &pj), Some("star"));
        plank.report_templates.insert("acme".into(), "org".into());
        assert_eq!(report_template(&plank, &pj), Some("org"));
        plank
            .report_templates
            .insert("acme/foo".into(), String::new());
        assert_eq!(
            report_template(&plank, &pj),
            Some(""),
            "empty is a template"
        );
        let legacy = prow_core::config::Plank {
            report_template: Some("legacy".into()),
            ..prow_core::config::Plank::default()
        };
        assert_eq!(report_template(&legacy, &pj), Some("legacy"));
    }

    /// Prow's `createEntry`: `unknown` unless a presubmit carries a Go-boolean is-optional label.
    #[test]
    fn the_required_column_is_unknown_unless_the_optional_label_says() {
        let labelled = |value: Option<&str>, type_: ProwJobType| {
            let mut pj = presubmit("a", ProwJobState::Failure);
            pj.spec.type_ = type_;
            pj.metadata.labels = None;
            if let Some(v) = value {
                pj.metadata
                    .labels
                    .get_or_insert_default()
                    .insert(IS_OPTIONAL_LABEL.into(), v.into());
            }
            failure_row(&pj).split(" | ").nth(3).unwrap().to_owned()
        };
        let table = [
            (Some("true"), ProwJobType::Presubmit, "false"),
            (Some("false"), ProwJobType::Presubmit, "true"),
            (Some("T"), ProwJobType::Presubmit, "false"),
            (Some("0"), ProwJobType::Presubmit, "true"),
            (Some("yes"), ProwJobType::Presubmit, "unknown"),
            (None, ProwJobType::Presubmit, "unknown"),
            (Some("false"), ProwJobType::Postsubmit, "unknown"),
        ];
        for (value, type_, want) in table {
            assert_eq!(labelled(value, type_), want, "{value:?} {type_:?}");
        }
    }

    /// `summary_comment_repos`: every job of the PR in one comment once all are done; an
    /// aborted job suppresses the "all passed" comment, as in Prow.
    #[test]
    fn summary_comments_cover_the_latest_run_of_every_job() {
        let mut old_unit = presubmit("pull-foo-unit", ProwJobState::Failure);
        old_unit.metadata.creation_timestamp = Some(Time(Timestamp::from_second(100).unwrap()));
        let mut new_unit = presubmit("pull-foo-unit", ProwJobState::Success);
        new_unit.metadata.creation_timestamp = Some(Time(Timestamp::from_second(200).unwrap()));
        let lint = presubmit("pull-foo-lint", ProwJobState::Success);
        let running = presubmit("pull-foo-e2e", ProwJobState::Pending);
        let all = [old_unit.clone(), new_unit.clone(), lint.clone()];
        assert_eq!(summary_jobs(&[lint.clone(), running]), None);
        let jobs = summary_jobs(&all).unwrap();
        assert_eq!(
            jobs.iter()
                .map(|j| (j.spec.job.as_str(), j.status.state))
                .collect::<Vec<_>>(),
            [
                ("pull-foo-lint", ProwJobState::Success),
                ("pull-foo-unit", ProwJobState::Success)
            ]
        );
        let actions = plan_report_comment(&jobs, "bot", &[], None, true);
        assert_eq!(
            actions,
            [CommentAction::Create(format!(
                "@alice: all tests **passed!**\n\n{}",
                footer()
            ))]
        );
        // Without summary mode nothing is written when nothing failed.
        assert!(plan_report_comment(&jobs, "bot", &[], None, false).is_empty());
        let mut aborted = lint;
        aborted.status.state = ProwJobState::Aborted;
        assert!(plan_report_comment(&[&new_unit, &aborted], "bot", &[], None, true).is_empty());
        // A failure among them: a table of it, even in summary mode.
        let actions = plan_report_comment(&[&old_unit, &new_unit], "bot", &[], None, true);
        let [CommentAction::Create(body)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert!(body.contains("The following test **failed**"));
    }

    #[test]
    fn failure_comment_lifecycle() {
        let unit_failed = presubmit("pull-foo-unit", ProwJobState::Failure);
        let lint_failed = presubmit("pull-foo-lint", ProwJobState::Failure);
        let unit_passed = presubmit("pull-foo-unit", ProwJobState::Success);
        let lint_passed = presubmit("pull-foo-lint", ProwJobState::Success);

        // First failure: a new comment with one row, "test" singular.
        let actions = plan_report_comment(&[&unit_failed], "bot", &[], None, false);
        let [CommentAction::Create(body)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert!(body.starts_with("@alice: The following test **failed**"));
        assert!(body.contains(&format!(
            "pull-foo-unit | {SHA} | [link](https://prow.example.com/view/gs/b/pull-foo-unit/1) | true | `/test pull-foo-unit`"
        )));
        assert!(body.ends_with(COMMENT_TAG));
        let first = body.clone();

        // A second failure: the old comment goes, a new one lists both ("tests").
        let existing = [comment(1, "someone", "hi"), comment(7, "bot", &first)];
        let actions = plan_report_comment(&[&lint_failed], "bot", &existing, None, false);
        let [CommentAction::Create(both), CommentAction::Delete(7)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert!(both.contains("The following tests **failed**"));
        assert!(both.contains("pull-foo-unit |") && both.contains("pull-foo-lint |"));

        // The unit test passes on a retest: edited in place, its row gone.
        let existing = [comment(8, "bot", both)];
        let actions = plan_report_comment(&[&unit_passed], "bot", &existing, None, false);
        let [CommentAction::Edit(8, edited)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert!(!edited.contains("pull-foo-unit |") && edited.contains("pull-foo-lint |"));

        // Everything passes: the comment is deleted.
        let existing = [comment(8, "bot", edited)];
        let actions = plan_report_comment(&[&lint_passed], "bot", &existing, None, false);
        assert_eq!(actions, [CommentAction::Delete(8)]);

        // Nothing failed and no comment: nothing to do; the same report twice: no edit.
        assert!(plan_report_comment(&[&lint_passed], "bot", &[], None, false).is_empty());
        let existing = [comment(9, "bot", edited)];
        assert!(plan_report_comment(&[&unit_passed], "bot", &existing, None, false).is_empty());

        // Older duplicates are deleted; comments by others are left alone.
        let existing = [
            comment(3, "bot", &first),
            comment(4, "mallory", &first),
            comment(5, "bot", &first),
        ];
        // (the latest already says the right thing, so it is left as it is).
        let actions = plan_report_comment(&[&lint_passed], "bot", &existing, None, false);
        assert_eq!(actions, [CommentAction::Delete(3)]);
    }

    /// A crier killed after creating the new comment and before deleting the old one: the next
    /// attempt keeps the new comment (it already says everything) and deletes the old one only.
    #[test]
    fn a_comment_written_before_a_kill_is_not_written_again() {
        let unit_failed = presubmit("pull-foo-unit", ProwJobState::Failure);
        let lint_failed = presubmit("pull-foo-lint", ProwJobState::Failure);
        let unit_passed = presubmit("pull-foo-unit", ProwJobState::Success);
        let actions = plan_report_comment(&[&unit_failed], "bot", &[], None, false);
        let [CommentAction::Create(first)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let existing = [comment(7, "bot", first)];
        let actions = plan_report_comment(&[&lint_failed], "bot", &existing, None, false);
        let [CommentAction::Create(both), CommentAction::Delete(7)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let existing = [comment(9, "bot", both)];
        let actions = plan_report_comment(&[&unit_passed], "bot", &existing, None, false);
        let [CommentAction::Edit(9, edited)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let table: [(&str, &ProwJob, Vec<IssueComment>, Vec<CommentAction>); 4] = [
            (
                "killed before the create: the whole plan again",
                &lint_failed,
                vec![comment(7, "bot", first)],
                vec![
                    CommentAction::Create(both.clone()),
                    CommentAction::Delete(7),
                ],
            ),
            (
                "killed after the create: only the delete is left",
                &lint_failed,
                vec![comment(7, "bot", first), comment(8, "bot", both)],
                vec![CommentAction::Delete(7)],
            ),
            (
                "killed after the edit: only the older delete is left",
                &unit_passed,
                vec![comment(7, "bot", first), comment(9, "bot", edited)],
                vec![CommentAction::Delete(7)],
            ),
            (
                "nothing was left to do",
                &lint_failed,
                vec![comment(8, "bot", both)],
                vec![],
            ),
        ];
        for (name, job, existing, want) in table {
            assert_eq!(
                plan_report_comment(&[job], "bot", &existing, None, false),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn an_unfinished_attempt_at_the_same_state_checks_github_first() {
        let with = |state: ProwJobState, marks: &[(&str, ProwJobState)]| {
            let mut pj = presubmit("a", state);
            for (key, s) in marks {
                pj.status.prev_report_states.insert((*key).into(), *s);
            }
            status_step(&pj)
        };
        use ProwJobState::{Pending, Success};
        use StatusStep::{CheckGitHubFirst, RecordIntentThenPost};
        let table = [
            ("never tried", with(Pending, &[]), RecordIntentThenPost),
            (
                "pending reported, now success",
                with(
                    Success,
                    &[(GITHUB_REPORTER, Pending), (GITHUB_STATUS_INTENT, Pending)],
                ),
                RecordIntentThenPost,
            ),
            (
                "success tried, never recorded",
                with(
                    Success,
                    &[(GITHUB_REPORTER, Pending), (GITHUB_STATUS_INTENT, Success)],
                ),
                CheckGitHubFirst,
            ),
            (
                "only the other reporter's mark",
                with(Success, &[("gcsreporter", Success)]),
                RecordIntentThenPost,
            ),
        ];
        for (name, got, want) in table {
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_status_is_on_github_only_when_context_state_description_and_url_match() {
        let pj = presubmit("pull-foo-unit", ProwJobState::Failure);
        let want = status_report(&pj).unwrap().status;
        let posted = Status {
            context: want.context.clone(),
            state: want.state,
            description: want.description.clone(),
            target_url: want.target_url.clone(),
        };
        let long = NewStatus {
            description: Some("x".repeat(200)),
            ..want.clone()
        };
        let long_posted = Status {
            description: Some(prow_github::truncate_description(&"x".repeat(200))),
            ..posted.clone()
        };
        let unset = NewStatus {
            description: None,
            target_url: None,
            ..want.clone()
        };
        let unset_posted = Status {
            description: Some(String::new()),
            target_url: None,
            ..posted.clone()
        };
        let table = [
            ("the same", vec![posted.clone()], &want, true),
            ("nothing there", vec![], &want, false),
            (
                "another context",
                vec![Status {
                    context: "other".into(),
                    ..posted.clone()
                }],
                &want,
                false,
            ),
            (
                "the previous state",
                vec![Status {
                    state: StatusState::Pending,
                    ..posted.clone()
                }],
                &want,
                false,
            ),
            (
                "another description",
                vec![Status {
                    description: Some("Job triggered.".into()),
                    ..posted.clone()
                }],
                &want,
                false,
            ),
            (
                "another run's URL",
                vec![Status {
                    target_url: Some("https://prow.example.com/view/gs/b/x/2".into()),
                    ..posted.clone()
                }],
                &want,
                false,
            ),
            ("shortened as posted", vec![long_posted], &long, true),
            ("unset answered as empty", vec![unset_posted], &unset, true),
        ];
        for (name, statuses, want, on_github) in table {
            assert_eq!(status_on_github(&statuses, want), on_github, "{name}");
        }
    }

    #[test]
    fn failure_comments_only_for_complete_jobs_of_one_pull_outside_no_comment_repos() {
        let cfg = GitHubReporter::default();
        let quiet = GitHubReporter {
            no_comment_repos: vec!["acme/foo".into()],
            ..GitHubReporter::default()
        };
        let done = presubmit("a", ProwJobState::Failure);
        let running = presubmit("a", ProwJobState::Pending);
        let mut post = done.clone();
        post.spec.type_ = ProwJobType::Postsubmit;
        post.spec.refs.as_mut().unwrap().pulls.clear();
        assert!(wants_failure_comment(&done, &cfg));
        assert!(!wants_failure_comment(&running, &cfg));
        assert!(!wants_failure_comment(&post, &cfg));
        assert!(!wants_failure_comment(&done, &quiet));
    }

    #[test]
    fn optional_jobs_are_not_required() {
        let mut pj = presubmit("a", ProwJobState::Failure);
        pj.metadata
            .labels
            .get_or_insert_default()
            .insert(IS_OPTIONAL_LABEL.into(), "true".into());
        assert!(failure_row(&pj).contains("| false |"));
    }

    #[test]
    fn only_gone_commits_and_full_contexts_are_ignorable() {
        let answered = |status: u16, message: &str| prow_github::GitHubError::Status {
            call: "create_status acme/foo@abc".into(),
            status,
            message: message.into(),
        };
        assert!(is_ignorable_status_error(&answered(404, "Not Found")));
        assert!(is_ignorable_status_error(&answered(
            422,
            "No commit found for SHA: abc"
        )));
        assert!(is_ignorable_status_error(&answered(
            422,
            "This SHA and context has reached the maximum number of statuses."
        )));
        assert!(!is_ignorable_status_error(&answered(
            422,
            "Validation Failed"
        )));
        assert!(!is_ignorable_status_error(&answered(
            401,
            "Bad credentials"
        )));
        assert!(!is_ignorable_status_error(&answered(502, "Not Found")));
        assert!(!is_ignorable_status_error(
            &prow_github::GitHubError::TooManyPages {
                call: "x".into(),
                pages: 3
            }
        ));
    }
}
