//! Purpose: Prow's GitHub reporter rules as pure functions (what to report, status, failure comment).

use prow_core::config::GitHubReporter;
use prow_core::jobspec::{GERRIT_REPORT_LABEL, IS_OPTIONAL_LABEL};
use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use prow_github::{IssueComment, NewStatus, StatusState};

/// Key of this reporter in `status.prev_report_states`.
pub const GITHUB_REPORTER: &str = "github-reporter";
/// Marks crier's failure comments.
pub const COMMENT_TAG: &str = "<!-- test report -->";
/// GitHub's bound on a status description, which Prow's BaseSHA suffix is fitted into.
pub const DESCRIPTION_MAX_LEN: usize = 140;
const BASE_SHA_DELIMITER: &str = " BaseSHA:";
/// U+2001 EM QUAD: pads the description so the SHA sits at the right where GitHub cuts.
const PAD: char = '\u{2001}';
const ABOUT_THIS_BOT: &str = "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository.";

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

/// Cuts `s` to at most `max` bytes on a char boundary.
fn head(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last at most `max` bytes of `s`, on a char boundary.
fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Prow's `truncate`: keeps both ends of a long description, `first ... last`.
fn truncate(desc: &str, max: usize) -> String {
    if desc.len() <= max {
        return desc.to_owned();
    }
    let half = max.saturating_sub(5) / 2;
    format!("{} ... {}", head(desc, half), tail(desc, half))
}

/// Prow's `ContextDescriptionWithBaseSha`: the description with ` BaseSHA:<sha>` (which tide
/// reads back), padded with EM QUADs or shortened so the whole stays within 140 bytes.
pub fn description_with_base_sha(desc: &str, base_sha: &str) -> String {
    if base_sha.is_empty() {
        return truncate(desc, DESCRIPTION_MAX_LEN);
    }
    let suffix = format!("{BASE_SHA_DELIMITER}{base_sha}");
    let room = DESCRIPTION_MAX_LEN.saturating_sub(suffix.len());
    if desc.len() >= room {
        return format!("{}{suffix}", truncate(desc, room));
    }
    // Go pads in a loop whose bound shrinks as 3-byte pads are added: ceil(gap / 4) pads.
    let gap = room - desc.len();
    let pads: String = std::iter::repeat_n(PAD, gap.div_ceil(4)).collect();
    format!("{desc}{pads}{suffix}")
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
    status.description = Some(description_with_base_sha(
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

/// Whether a finished job takes part in the failure comment.
pub fn wants_failure_comment(pj: &ProwJob, cfg: &GitHubReporter) -> bool {
    let Some(refs) = pj.spec.refs.as_ref() else {
        return false;
    };
    pj.spec.type_ == ProwJobType::Presubmit
        && pj.is_complete()
        && refs.pulls.len() == 1
        && !cfg
            .no_comment_repos
            .iter()
            .any(|r| *r == refs.org_repo() || *r == refs.org)
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
    let optional = pj
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(IS_OPTIONAL_LABEL))
        .is_some_and(|v| v == "true");
    format!(
        "{} | {} | [link]({}) | {} | `{}`",
        pj.spec.context, sha, pj.status.url, !optional, pj.spec.rerun_command
    )
}

/// The `plank.report_templates` entry for the job's repo, as Prow's `ReportTemplateForRepo`
/// picks it: `org/repo`, then `org`, then `*` (the legacy `report_template` counts as `*`).
pub fn report_template<'a>(plank: &'a prow_core::config::Plank, pj: &ProwJob) -> Option<&'a str> {
    let templates = &plank.report_templates;
    let star = || {
        templates
            .get("*")
            .or(plank.report_template.as_ref())
            .map(String::as_str)
    };
    let Some(refs) = pj.spec.refs.as_ref() else {
        return star();
    };
    templates
        .get(&refs.org_repo())
        .or_else(|| templates.get(&refs.org))
        .map(String::as_str)
        .or_else(star)
        .filter(|t| !t.is_empty())
}

/// The failure comment body for `rows`, with the rendered report template (if any) under the
/// table, as Prow's `createComment` writes it.
pub fn comment_body(author: &str, rows: &[String], report: Option<&str>) -> String {
    let plural = if rows.len() == 1 { "test" } else { "tests" };
    let mut lines = vec![
        format!(
            "@{author}: The following {plural} **failed**, say `/retest` to rerun all failed tests or `/retest-required` to rerun all mandatory failed tests:"
        ),
        String::new(),
        "Test name | Commit | Details | Required | Rerun command".to_owned(),
        "--- | --- | --- | --- | ---".to_owned(),
    ];
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

/// Prow's comment update for one reported job, given the PR's comments (oldest first): keep
/// other jobs' rows, replace this job's row (added only when it failed), delete older report
/// comments, then create, edit or delete the latest one.
pub fn plan_failure_comment(
    pj: &ProwJob,
    bot_login: &str,
    comments: &[IssueComment],
    report: Option<&str>,
) -> Vec<CommentAction> {
    let Some(author) = pj
        .spec
        .refs
        .as_ref()
        .and_then(|r| r.pulls.first())
        .map(|p| p.author.clone())
    else {
        return Vec::new();
    };
    let ours: Vec<&IssueComment> = comments
        .iter()
        .filter(|c| c.user.login.eq_ignore_ascii_case(bot_login) && c.body.contains(COMMENT_TAG))
        .collect();
    // Rows by context; a newer comment's row replaces an older one's.
    let mut rows: Vec<String> = Vec::new();
    for comment in &ours {
        for row in table_rows(&comment.body) {
            let ctx = row_context(&row).to_owned();
            rows.retain(|r| row_context(r) != ctx);
            rows.push(row);
        }
    }
    rows.retain(|r| row_context(r) != pj.spec.context);
    let added = pj.status.state == ProwJobState::Failure;
    if added {
        rows.push(failure_row(pj));
    }

    let mut actions = Vec::new();
    let latest = ours.last().map(|c| c.id);
    for older in ours.iter().rev().skip(1) {
        actions.push(CommentAction::Delete(older.id));
    }
    match latest {
        _ if rows.is_empty() => actions.extend(latest.map(CommentAction::Delete)),
        Some(id) if !added => {
            let body = comment_body(&author, &rows, report);
            let unchanged = ours.last().is_some_and(|c| c.body == body);
            if !unchanged {
                actions.push(CommentAction::Edit(id, body));
            }
        }
        _ => {
            actions.extend(latest.map(CommentAction::Delete));
            actions.push(CommentAction::Create(comment_body(&author, &rows, report)));
        }
    }
    actions
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
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
    fn descriptions_carry_the_base_sha_within_140_bytes() {
        let short = description_with_base_sha("Job succeeded.", BASE);
        assert_eq!(short.matches(PAD).count(), 20);
        assert!(short.starts_with("Job succeeded.\u{2001}"));
        assert!(short.ends_with(&format!(" BaseSHA:{BASE}")));

        let long = "x".repeat(60) + &"y".repeat(60);
        let cut = description_with_base_sha(&long, BASE);
        assert_eq!(
            cut,
            format!("{} ... {} BaseSHA:{BASE}", "x".repeat(43), "y".repeat(43))
        );
        assert_eq!(cut.len(), 140);

        assert_eq!(
            description_with_base_sha("Job triggered.", ""),
            "Job triggered."
        );
        let exact = "z".repeat(91);
        assert_eq!(
            description_with_base_sha(&exact, BASE),
            format!("{exact} BaseSHA:{BASE}")
        );
        // Multi-byte text is never cut inside a character.
        let unicode = "é".repeat(80);
        let cut = description_with_base_sha(&unicode, BASE);
        assert!(cut.contains(" ... "));
        assert!(cut.len() <= 140);
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

    /// The example config's `report_templates` entry, rendered under the table exactly where
    /// Prow's `createComment` puts it: after the rows, a blank line, the rendered text, then the
    /// bot footer.
    #[test]
    fn failure_comment_carries_the_repos_report_template_like_prow() {
        let mut plank = prow_core::config::Plank::default();
        plank.report_templates.insert(
            "*".into(),
            "[Full PR test history](https://prow.example.com/pr-history?org={{.Spec.Refs.Org}}&repo={{.Spec.Refs.Repo}}&pr={{with index .Spec.Refs.Pulls 0}}{{.Number}}{{end}}).".into(),
        );
        plank
            .report_templates
            .insert("other-org".into(), "other".into());
        let pj = presubmit("pull-foo-unit", ProwJobState::Failure);
        let template = report_template(&plank, &pj).unwrap();
        let report = prow_core::gotemplate::render_prowjob(template, &pj).unwrap();
        let actions = plan_failure_comment(&pj, "bot", &[], Some(&report));
        let [CommentAction::Create(body)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let expected = [
            "@alice: The following test **failed**, say `/retest` to rerun all failed tests or `/retest-required` to rerun all mandatory failed tests:",
            "",
            "Test name | Commit | Details | Required | Rerun command",
            "--- | --- | --- | --- | ---",
            &format!("pull-foo-unit | {SHA} | [link](https://prow.example.com/view/gs/b/pull-foo-unit/1) | true | `/test pull-foo-unit`"),
            "",
            "[Full PR test history](https://prow.example.com/pr-history?org=acme&repo=foo&pr=42).",
            "",
            "<details>",
            "",
            ABOUT_THIS_BOT,
            "</details>",
            COMMENT_TAG,
        ]
        .join("\n");
        assert_eq!(body, &expected);
        // The org's own entry wins over `*`; the legacy singular form counts as `*`.
        plank
            .report_templates
            .insert("acme".into(), "acme's".into());
        assert_eq!(report_template(&plank, &pj), Some("acme's"));
        let legacy = prow_core::config::Plank {
            report_template: Some("legacy".into()),
            ..prow_core::config::Plank::default()
        };
        assert_eq!(report_template(&legacy, &pj), Some("legacy"));
    }

    #[test]
    fn failure_comment_lifecycle() {
        let unit_failed = presubmit("pull-foo-unit", ProwJobState::Failure);
        let lint_failed = presubmit("pull-foo-lint", ProwJobState::Failure);
        let unit_passed = presubmit("pull-foo-unit", ProwJobState::Success);
        let lint_passed = presubmit("pull-foo-lint", ProwJobState::Success);

        // First failure: a new comment with one row, "test" singular.
        let actions = plan_failure_comment(&unit_failed, "bot", &[], None);
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
        let actions = plan_failure_comment(&lint_failed, "bot", &existing, None);
        let [CommentAction::Delete(7), CommentAction::Create(both)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert!(both.contains("The following tests **failed**"));
        assert!(both.contains("pull-foo-unit |") && both.contains("pull-foo-lint |"));

        // The unit test passes on a retest: edited in place, its row gone.
        let existing = [comment(8, "bot", both)];
        let actions = plan_failure_comment(&unit_passed, "bot", &existing, None);
        let [CommentAction::Edit(8, edited)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert!(!edited.contains("pull-foo-unit |") && edited.contains("pull-foo-lint |"));

        // Everything passes: the comment is deleted.
        let existing = [comment(8, "bot", edited)];
        let actions = plan_failure_comment(&lint_passed, "bot", &existing, None);
        assert_eq!(actions, [CommentAction::Delete(8)]);

        // Nothing failed and no comment: nothing to do; the same report twice: no edit.
        assert!(plan_failure_comment(&lint_passed, "bot", &[], None).is_empty());
        let existing = [comment(9, "bot", edited)];
        assert!(plan_failure_comment(&unit_passed, "bot", &existing, None).is_empty());

        // Older duplicates are deleted; comments by others are left alone.
        let existing = [
            comment(3, "bot", &first),
            comment(4, "mallory", &first),
            comment(5, "bot", &first),
        ];
        // (the latest already says the right thing, so it is left as it is).
        let actions = plan_failure_comment(&lint_passed, "bot", &existing, None);
        assert_eq!(actions, [CommentAction::Delete(3)]);
    }

    #[test]
    fn failure_comments_only_for_complete_presubmits_outside_no_comment_repos() {
        let cfg = GitHubReporter::default();
        let quiet = GitHubReporter {
            no_comment_repos: vec!["acme/foo".into()],
            ..GitHubReporter::default()
        };
        let done = presubmit("a", ProwJobState::Failure);
        let running = presubmit("a", ProwJobState::Pending);
        let mut post = done.clone();
        post.spec.type_ = ProwJobType::Postsubmit;
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
