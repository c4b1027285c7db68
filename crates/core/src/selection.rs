//! Which jobs run: Prow's presubmit filters (`/test <name>`, `/test all`, `/retest`,
//! `/retest-required`, `/test-manual-required`, `/ok-to-test`) and postsubmit selection for pushes,
//! as pure functions. Changed files are passed in by the caller, who fetches them only when
//! [`needs_changed_files`] says a decision depends on them.

use std::collections::BTreeSet;

pub use crate::commands::strip_non_commands;
use crate::commands::{CommandLine, command_lines};
use crate::config::{Postsubmit, Presubmit};

/// The trigger commands found in a comment (already passed through [`strip_non_commands`]).
/// Trigger's commands compare case-sensitively, as in Prow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commands {
    /// `/test all` (optionally `all,`), with anything after it.
    pub test_all: bool,
    pub retest: bool,
    pub retest_required: bool,
    pub test_manual_required: bool,
    pub ok_to_test: bool,
    pub ok_to_test_cancel: bool,
    /// `/test ?` (or `/test?`): the user asks for the list of jobs.
    pub test_help: bool,
    /// `/test` with nothing after it.
    pub bare_test: bool,
    /// `/retest <something>`: `/retest` takes no job names.
    pub retest_with_target: bool,
    /// `/test <anything>`, `all` and `?` included.
    pub test_with_target: bool,
    /// Any command whose name starts with the word `test` or `retest`.
    pub any_test: bool,
    /// `/test ?`, a bare `/test`, or `/retest <something>`: the user wants the list of jobs.
    pub help: bool,
    /// Names after `/test` that are not `all` (used to tell the user about unknown ones).
    pub test_names: Vec<String>,
}

fn is_test_help(c: &CommandLine<'_>) -> bool {
    (c.is("test") && c.args == "?") || (c.is("test?") && c.bare())
}

/// `/test all`, `/test all,` or either followed by whitespace: one space before `all`, as
/// Prow's `^/test all,?($|\s.*)`.
fn is_test_all(c: &CommandLine<'_>) -> bool {
    c.raw_args.strip_prefix(" all").is_some_and(|rest| {
        let rest = rest.strip_prefix(',').unwrap_or(rest);
        rest.is_empty() || rest.starts_with(|ch: char| ch.is_ascii_whitespace())
    })
}

impl Commands {
    pub fn parse(body: &str) -> Self {
        let mut out = Commands::default();
        for c in command_lines(body) {
            out.any_test |= c.starts_with_word("test") || c.starts_with_word("retest");
            if c.is("test") {
                let spaced = c.raw_args.starts_with([' ', '\t']);
                out.bare_test |= c.bare();
                out.test_with_target |= spaced && !c.bare();
                out.test_all |= is_test_all(&c);
                out.test_names.extend(
                    c.args
                        .split(|ch: char| ch.is_whitespace() || ch == ',')
                        .filter(|n| !n.is_empty() && *n != "all" && *n != "?")
                        .map(str::to_owned),
                );
            }
            out.test_help |= is_test_help(&c);
            out.retest |= c.is("retest") && c.bare();
            out.retest_with_target |=
                c.is("retest") && c.raw_args.starts_with([' ', '\t']) && !c.bare();
            out.retest_required |= c.is("retest-required") && c.bare();
            out.test_manual_required |= c.is("test-manual-required") && c.bare();
            out.ok_to_test |= c.is("ok-to-test") && c.bare();
            out.ok_to_test_cancel |= c.is("ok-to-test") && c.args == "cancel";
        }
        out.help = out.test_help || out.bare_test || out.retest_with_target;
        out
    }

    /// Whether anything here asks for jobs to run.
    pub fn wants_jobs(&self) -> bool {
        self.test_all
            || self.retest
            || self.retest_required
            || self.test_manual_required
            || self.ok_to_test
    }
}

/// The status contexts on the PR's head commit, for `/retest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contexts {
    /// Contexts in state `failure` or `error`.
    pub failed: BTreeSet<String>,
    /// Every context that has a status.
    pub all: BTreeSet<String>,
}

/// One of Prow's presubmit filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Jobs whose trigger regex matches the comment body (forced: file filters ignored).
    Command(String),
    /// `/test all`, `/ok-to-test`, and new or updated PRs: every job that is not manual.
    TestAll,
    /// `/retest`: failed jobs, plus automatic jobs that never reported.
    Retest(Contexts),
    /// `/retest-required`: as `/retest`, without optional jobs.
    RetestRequired(Contexts),
    /// `/test-manual-required`: required manual jobs.
    TestManualRequired,
}

/// What a filter says about a job: whether it applies, whether it forces the run (ignoring file
/// filters), and the default when no file filter decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    pub matches: bool,
    pub forced: bool,
    pub default: bool,
}

impl Filter {
    pub fn verdict(&self, p: &Presubmit) -> Verdict {
        match self {
            Filter::Command(body) => {
                let hit = p.triggered_by(body);
                Verdict {
                    matches: hit,
                    forced: hit,
                    default: true,
                }
            }
            Filter::TestAll => Verdict {
                matches: !p.is_manual(),
                ..Verdict::default()
            },
            Filter::Retest(ctx) => retest_verdict(p, ctx),
            Filter::RetestRequired(ctx) if p.optional => {
                let _ = ctx;
                Verdict::default()
            }
            Filter::RetestRequired(ctx) => retest_verdict(p, ctx),
            Filter::TestManualRequired => {
                let hit = !p.optional && p.is_manual();
                Verdict {
                    matches: hit,
                    forced: hit,
                    default: false,
                }
            }
        }
    }
}

fn retest_verdict(p: &Presubmit, ctx: &Contexts) -> Verdict {
    let failed = ctx.failed.contains(&p.context);
    Verdict {
        matches: failed || (!p.is_manual() && !ctx.all.contains(&p.context)),
        forced: false,
        default: failed,
    }
}

/// The filters a comment asks for, in Prow's order (the first one that matches a job decides).
/// `honor_ok_to_test` is false when the trigger plugin ignores `/ok-to-test`.
pub fn filters_for_comment(
    commands: &Commands,
    body: &str,
    contexts: &Contexts,
    honor_ok_to_test: bool,
) -> Vec<Filter> {
    let mut filters = vec![Filter::Command(body.to_string())];
    if commands.retest {
        filters.push(Filter::Retest(contexts.clone()));
    }
    if commands.retest_required {
        filters.push(Filter::RetestRequired(contexts.clone()));
    }
    if commands.test_manual_required {
        filters.push(Filter::TestManualRequired);
    }
    if (honor_ok_to_test && commands.ok_to_test) || commands.test_all {
        filters.push(Filter::TestAll);
    }
    filters
}

fn aggregate(filters: &[Filter], p: &Presubmit) -> Verdict {
    filters
        .iter()
        .map(|f| f.verdict(p))
        .find(|v| v.matches)
        .unwrap_or_default()
}

/// Whether deciding `filters` over `presubmits` on `branch` needs the PR's changed files; lets the
/// caller skip the GitHub call when no file filter is consulted.
pub fn needs_changed_files(filters: &[Filter], branch: &str, presubmits: &[Presubmit]) -> bool {
    presubmits.iter().any(|p| {
        let v = aggregate(filters, p);
        v.matches
            && !v.forced
            && !p.always_run
            && p.changes.could_run()
            && p.brancher.should_run(branch)
    })
}

/// Prow's FilterPresubmits: the presubmits to run. `changed_files` must be `Some` whenever
/// [`needs_changed_files`] is true; with `None`, jobs that depend on them do not run.
pub fn select_presubmits<'a>(
    filters: &[Filter],
    branch: &str,
    changed_files: Option<&[String]>,
    presubmits: &'a [Presubmit],
) -> Vec<&'a Presubmit> {
    presubmits
        .iter()
        .filter(|p| presubmit_decision(filters, branch, changed_files, p).is_ok())
        .collect()
}

/// Why a job does not run for an event (`prow explain` prints these).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// A manual job (no `always_run`, no file filter): only `/test <name>` runs it.
    Manual,
    /// The comment names other jobs (or none): its trigger regex did not match.
    NotRequested { trigger: String },
    /// `/retest` re-runs failed jobs and jobs that never reported; this one has a status that
    /// is not a failure.
    NotFailed { context: String },
    /// `/retest-required` leaves optional jobs alone.
    Optional,
    /// The target branch is excluded by `branches` / `skip_branches`.
    Branch {
        branch: String,
        branches: Vec<String>,
        skip_branches: Vec<String>,
    },
    /// No changed file matches `run_if_changed`.
    RunIfChanged { pattern: String },
    /// Every changed file matches `skip_if_only_changed`.
    SkipIfOnlyChanged { pattern: String },
    /// The job has a file filter and the changed files are not known.
    ChangedFilesUnknown,
    /// A postsubmit with `always_run: false` and no file filter.
    NotAlwaysRun,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Manual => {
                f.write_str("manual job (no always_run or file filter): needs /test <name>")
            }
            SkipReason::NotRequested { trigger } => {
                write!(f, "not asked for: the comment does not match {trigger:?}")
            }
            SkipReason::NotFailed { context } => {
                write!(f, "/retest: context {context:?} did not fail")
            }
            SkipReason::Optional => f.write_str("optional job: /retest-required skips it"),
            SkipReason::Branch {
                branch,
                branches,
                skip_branches,
            } => write!(
                f,
                "branch {branch:?} filtered out (branches {branches:?}, skip_branches {skip_branches:?})"
            ),
            SkipReason::RunIfChanged { pattern } => {
                write!(f, "run_if_changed {pattern:?} matches no changed file")
            }
            SkipReason::SkipIfOnlyChanged { pattern } => {
                write!(
                    f,
                    "skip_if_only_changed {pattern:?} matches every changed file"
                )
            }
            SkipReason::ChangedFilesUnknown => {
                f.write_str("has a file filter, and the changed files are unknown")
            }
            SkipReason::NotAlwaysRun => f.write_str("always_run: false and no file filter"),
        }
    }
}

/// Whether one presubmit runs under `filters` (Prow's FilterPresubmits for one job, then
/// Presubmit.ShouldRun), and if not, why.
pub fn presubmit_decision(
    filters: &[Filter],
    branch: &str,
    changed: Option<&[String]>,
    p: &Presubmit,
) -> Result<(), SkipReason> {
    let v = aggregate(filters, p);
    if !v.matches {
        return Err(not_selected(filters, p));
    }
    if !p.brancher.should_run(branch) {
        return Err(SkipReason::Branch {
            branch: branch.to_owned(),
            branches: p.brancher.branches.clone(),
            skip_branches: p.brancher.skip_branches.clone(),
        });
    }
    if p.always_run || v.forced {
        return Ok(());
    }
    if p.changes.could_run() {
        let Some(files) = changed else {
            return Err(SkipReason::ChangedFilesUnknown);
        };
        return if p.changes.runs_against_changes(files) {
            Ok(())
        } else {
            Err(change_reason(&p.changes))
        };
    }
    if v.default {
        Ok(())
    } else {
        Err(not_selected(filters, p))
    }
}

fn change_reason(changes: &crate::config::ChangeMatcher) -> SkipReason {
    if changes.run_if_changed.is_empty() {
        SkipReason::SkipIfOnlyChanged {
            pattern: changes.skip_if_only_changed.clone(),
        }
    } else {
        SkipReason::RunIfChanged {
            pattern: changes.run_if_changed.clone(),
        }
    }
}

/// Why no filter picked a job, naming the most specific filter that passed it over.
fn not_selected(filters: &[Filter], p: &Presubmit) -> SkipReason {
    let retest = filters.iter().find_map(|f| match f {
        Filter::Retest(ctx) => Some((ctx, false)),
        Filter::RetestRequired(ctx) => Some((ctx, true)),
        _ => None,
    });
    match retest {
        Some((_, true)) if p.optional => SkipReason::Optional,
        Some((ctx, _)) if !p.is_manual() || ctx.all.contains(&p.context) => SkipReason::NotFailed {
            context: p.context.clone(),
        },
        _ if p.is_manual() => SkipReason::Manual,
        _ => SkipReason::NotRequested {
            trigger: p.trigger.clone(),
        },
    }
}

/// The branch (or tag) name a push ref names: `refs/heads/main` -> `main`, `refs/tags/v1` -> `v1`.
pub fn branch_of_ref(git_ref: &str) -> &str {
    git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref)
}

/// Prow's Postsubmit.ShouldRun over a push: branch filter, then file filters, then `always_run`
/// (true when unset).
pub fn select_postsubmits<'a>(
    git_ref: &str,
    changed_files: &[String],
    postsubmits: &'a [Postsubmit],
) -> Vec<&'a Postsubmit> {
    postsubmits
        .iter()
        .filter(|p| postsubmit_decision(git_ref, changed_files, p).is_ok())
        .collect()
}

/// Whether one postsubmit runs for a push to `git_ref`, and if not, why.
pub fn postsubmit_decision(
    git_ref: &str,
    changed_files: &[String],
    p: &Postsubmit,
) -> Result<(), SkipReason> {
    let branch = branch_of_ref(git_ref);
    if !p.brancher.should_run(branch) {
        return Err(SkipReason::Branch {
            branch: branch.to_owned(),
            branches: p.brancher.branches.clone(),
            skip_branches: p.brancher.skip_branches.clone(),
        });
    }
    if p.changes.could_run() {
        return if p.changes.runs_against_changes(changed_files) {
            Ok(())
        } else {
            Err(change_reason(&p.changes))
        };
    }
    if p.always_run.unwrap_or(true) {
        Ok(())
    } else {
        Err(SkipReason::NotAlwaysRun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        Brancher, ChangeMatcher, JobBase, default_rerun_command_for, default_trigger_for,
    };

    fn job(name: &str) -> Presubmit {
        let mut p = Presubmit {
            base: JobBase {
                name: name.into(),
                ..Default::default()
            },
            context: name.into(),
            ..Default::default()
        };
        p.set_trigger(default_trigger_for(name), default_rerun_command_for(name));
        p
    }

    fn fixture() -> Vec<Presubmit> {
        let always = Presubmit {
            always_run: true,
            ..job("unit")
        };
        let docs = Presubmit {
            changes: ChangeMatcher::new("^docs/".into(), String::new()),
            ..job("docs")
        };
        let not_md = Presubmit {
            changes: ChangeMatcher::new(String::new(), r"\.md$".into()),
            ..job("build")
        };
        let manual = job("e2e-manual");
        let optional_manual = Presubmit {
            optional: true,
            ..job("bench")
        };
        let release_only = Presubmit {
            always_run: true,
            brancher: Brancher::new(vec!["^release-".into()], vec![]),
            ..job("release-verify")
        };
        let optional_auto = Presubmit {
            always_run: true,
            optional: true,
            ..job("lint")
        };
        vec![
            always,
            docs,
            not_md,
            manual,
            optional_manual,
            release_only,
            optional_auto,
        ]
    }

    fn names(selected: Vec<&Presubmit>) -> Vec<&str> {
        selected.into_iter().map(Presubmit::name).collect()
    }

    fn files(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn comment(body: &str, contexts: &Contexts) -> Vec<Filter> {
        let clean = strip_non_commands(body);
        filters_for_comment(&Commands::parse(&clean), &clean, contexts, true)
    }

    #[test]
    fn presubmit_selection_follows_prow() {
        let jobs = fixture();
        let none = Contexts::default();
        let retest_ctx = Contexts {
            failed: ["docs".to_string(), "bench".to_string()].into(),
            all: ["docs", "bench", "unit"].map(String::from).into(),
        };
        // (case, filters, branch, changed files, expected jobs)
        // (case, filters, branch, changed files, expected jobs)
        type Case<'a> = (&'a str, Vec<Filter>, &'a str, Vec<String>, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            (
                "new PR runs automatic jobs whose file filters match",
                vec![Filter::TestAll],
                "main",
                files(&["docs/a.md"]),
                vec!["unit", "docs", "lint"],
            ),
            (
                "skip_if_only_changed runs when a file outside the filter changed",
                vec![Filter::TestAll],
                "main",
                files(&["a.go", "README.md"]),
                vec!["unit", "build", "lint"],
            ),
            (
                "branch filter applies to /test all",
                vec![Filter::TestAll],
                "release-1.0",
                files(&["a.go"]),
                vec!["unit", "build", "release-verify", "lint"],
            ),
            (
                "/test <name> forces a manual job",
                comment("/test e2e-manual", &none),
                "main",
                files(&[]),
                vec!["e2e-manual"],
            ),
            (
                "/test <name> ignores file filters",
                comment("/test docs", &none),
                "main",
                files(&["a.go"]),
                vec!["docs"],
            ),
            (
                "/test <name> still honours branches",
                comment("/test release-verify", &none),
                "main",
                files(&[]),
                vec![],
            ),
            (
                "/test all skips manual jobs",
                comment("/test all", &none),
                "main",
                files(&["a.go"]),
                vec!["unit", "build", "lint"],
            ),
            (
                "two jobs on one line",
                comment("/test e2e-manual bench", &none),
                "main",
                files(&[]),
                vec!["e2e-manual", "bench"],
            ),
            (
                "/retest reruns failed jobs and never-run automatic ones",
                comment("/retest", &retest_ctx),
                "main",
                files(&["docs/a.md"]),
                vec!["docs", "bench", "lint"],
            ),
            // As in Prow's code, a failed job's file filter still applies (it is not forced).
            (
                "/retest keeps file filters of failed jobs",
                comment("/retest", &retest_ctx),
                "main",
                files(&["README.md"]),
                vec!["bench", "lint"],
            ),
            (
                "/retest-required skips optional jobs",
                comment("/retest-required", &retest_ctx),
                "main",
                files(&["docs/a.md"]),
                vec!["docs"],
            ),
            (
                "/test-manual-required runs required manual jobs",
                comment("/test-manual-required", &none),
                "main",
                files(&[]),
                vec!["e2e-manual"],
            ),
            (
                "/ok-to-test acts as /test all",
                comment("/ok-to-test", &none),
                "main",
                files(&["docs/x"]),
                vec!["unit", "docs", "build", "lint"],
            ),
            (
                "quoted commands are ignored",
                comment("> /test all\nthanks", &none),
                "main",
                files(&["a.go"]),
                vec![],
            ),
            (
                "commands in code blocks are ignored",
                comment("```\n/test e2e-manual\n```", &none),
                "main",
                files(&[]),
                vec![],
            ),
            (
                "commands must start the line",
                comment("please /test e2e-manual", &none),
                "main",
                files(&[]),
                vec![],
            ),
        ];
        for (case, filters, branch, changed, want) in cases {
            let got = names(select_presubmits(&filters, branch, Some(&changed), &jobs));
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn every_skipped_job_has_its_reason() {
        let jobs = fixture();
        let reason = |filters: &[Filter], branch: &str, changed: Option<&[String]>| {
            jobs.iter()
                .map(|p| {
                    let r = presubmit_decision(filters, branch, changed, p);
                    (p.name(), r.err().map(|e| e.to_string()))
                })
                .collect::<Vec<_>>()
        };
        let md = files(&["README.md"]);
        let got = reason(&[Filter::TestAll], "main", Some(&md));
        let want: Vec<(&str, Option<&str>)> = vec![
            ("unit", None),
            (
                "docs",
                Some("run_if_changed \"^docs/\" matches no changed file"),
            ),
            (
                "build",
                Some(r#"skip_if_only_changed "\\.md$" matches every changed file"#),
            ),
            (
                "e2e-manual",
                Some("manual job (no always_run or file filter): needs /test <name>"),
            ),
            (
                "bench",
                Some("manual job (no always_run or file filter): needs /test <name>"),
            ),
            (
                "release-verify",
                Some("branch \"main\" filtered out (branches [\"^release-\"], skip_branches [])"),
            ),
            ("lint", None),
        ];
        let got_ref: Vec<(&str, Option<&str>)> =
            got.iter().map(|(n, r)| (*n, r.as_deref())).collect();
        assert_eq!(got_ref, want);
        // Reasons agree with the selection itself.
        let selected = names(select_presubmits(
            &[Filter::TestAll],
            "main",
            Some(&md),
            &jobs,
        ));
        assert_eq!(selected, ["unit", "lint"]);
        // Without changed files, file-filtered jobs say so.
        let unknown = presubmit_decision(&[Filter::TestAll], "main", None, &jobs[1]);
        assert_eq!(unknown, Err(SkipReason::ChangedFilesUnknown));
        // /retest: passed jobs did not fail; /retest-required leaves optional ones.
        let ctx = Contexts {
            failed: ["bench".to_string()].into(),
            all: ["unit", "bench"].map(String::from).into(),
        };
        let retest = comment("/retest", &ctx);
        assert_eq!(
            presubmit_decision(&retest, "main", Some(&md), &jobs[0]),
            Err(SkipReason::NotFailed {
                context: "unit".into()
            })
        );
        let required = comment("/retest-required", &ctx);
        assert_eq!(
            presubmit_decision(&required, "main", Some(&md), &jobs[4]),
            Err(SkipReason::Optional)
        );
        let named = comment("/test unit", &none_ctx());
        assert!(matches!(
            presubmit_decision(&named, "main", Some(&md), &jobs[0]),
            Ok(())
        ));
        assert!(matches!(
            presubmit_decision(&named, "main", Some(&md), &jobs[3]),
            Err(SkipReason::Manual)
        ));
    }

    fn none_ctx() -> Contexts {
        Contexts::default()
    }

    #[test]
    fn changed_files_are_needed_only_for_file_filters() {
        let jobs = fixture();
        assert!(needs_changed_files(&[Filter::TestAll], "main", &jobs));
        let forced = comment("/test docs", &Contexts::default());
        assert!(!needs_changed_files(&forced, "main", &jobs));
        // Without the files, filtered jobs do not run but the rest do.
        assert_eq!(
            names(select_presubmits(&[Filter::TestAll], "main", None, &jobs)),
            vec!["unit", "lint"]
        );
    }

    #[test]
    fn commands_are_recognised() {
        let c = Commands::parse("/retest\n/test foo bar\n/test ?");
        assert!(c.retest && c.help && !c.test_all);
        assert_eq!(c.test_names, vec!["foo", "bar"]);
        assert!(Commands::parse("/ok-to-test cancel").ok_to_test_cancel);
        assert!(!Commands::parse("/ok-to-test cancel").ok_to_test);
        assert!(Commands::parse("/test").help);
        assert!(Commands::parse("/retest foo").help);
        assert!(!Commands::parse("/retest").help);
        assert!(Commands::parse("/test all,").test_all);
        // Prow's regexes pin one space before `all` and a space or tab after `/retest`.
        assert!(!Commands::parse("/test  all").test_all);
        assert!(!Commands::parse("/test all,x").test_all);
        assert!(Commands::parse("/test all, please").test_all);
        assert!(Commands::parse("/test?").test_help);
        assert!(Commands::parse("/test-manual-required").any_test);
        assert!(!Commands::parse("/testing").any_test);
        assert!(!Commands::parse("/Retest").retest);
    }

    fn post(
        name: &str,
        branches: &[&str],
        run_if_changed: &str,
        always_run: Option<bool>,
    ) -> Postsubmit {
        Postsubmit {
            base: JobBase {
                name: name.into(),
                ..Default::default()
            },
            brancher: Brancher::new(branches.iter().map(|s| s.to_string()).collect(), vec![]),
            changes: ChangeMatcher::new(run_if_changed.into(), String::new()),
            always_run,
            ..Default::default()
        }
    }

    #[test]
    fn postsubmit_selection_follows_prow() {
        let jobs = vec![
            post("build", &["^main$"], "", None),
            post("docs", &[], "^docs/", None),
            post("release", &["^v.*"], "", None),
            post("disabled", &[], "", Some(false)),
        ];
        let pick = |r: &str, f: &[&str]| -> Vec<String> {
            select_postsubmits(r, &files(f), &jobs)
                .into_iter()
                .map(|p| p.name().to_string())
                .collect()
        };
        assert_eq!(pick("refs/heads/main", &["a.go"]), vec!["build"]);
        assert_eq!(
            pick("refs/heads/main", &["docs/x.md"]),
            vec!["build", "docs"]
        );
        assert_eq!(pick("refs/tags/v1.2.0", &[]), vec!["release"]);
        assert_eq!(pick("refs/heads/dev", &["a.go"]), Vec::<String>::new());
        assert_eq!(branch_of_ref("refs/heads/release/1.0"), "release/1.0");
    }

    proptest::proptest! {
        /// Arbitrary comment text never panics the command parser or job selection.
        #[test]
        fn arbitrary_comments_never_panic(body in "\\PC{0,400}", lines in proptest::collection::vec("(/test|/retest|/ok-to-test|> /test|```|/test all|    /test) ?[a-z-]{0,12}", 0..6)) {
            let text = format!("{body}\n{}", lines.join("\n"));
            let clean = strip_non_commands(&text);
            let commands = Commands::parse(&clean);
            let filters = filters_for_comment(&commands, &clean, &Contexts::default(), true);
            let jobs = fixture();
            let _ = select_presubmits(&filters, "main", Some(&[String::from("a.go")]), &jobs);
            let _ = needs_changed_files(&filters, "main", &jobs);
        }
    }
}
