use k8s_openapi::jiff::Timestamp;
use prow_core::config::tide::TidePriority;
use prow_core::config::{Brancher, ChangeMatcher, JobBase};
use prow_core::prowjob::ProwJobSpec;

use super::*;
use crate::index::Context;

fn tide(yaml: &str) -> Tide {
    serde_norway::from_str(yaml).unwrap()
}

fn default_tide() -> Tide {
    tide(
        r#"
queries:
- repos: [acme/foo]
  labels: [lgtm, approved]
  missingLabels: [do-not-merge/hold]
"#,
    )
}

fn job(name: &str) -> Presubmit {
    let mut job = Presubmit::default();
    job.base = JobBase {
        name: name.into(),
        ..JobBase::default()
    };
    job.context = name.into();
    job.always_run = true;
    job
}

fn pr(number: u64, labels: &[&str]) -> PrFacts {
    PrFacts {
        number,
        title: format!("PR {number}"),
        author: "alice".into(),
        head_ref: format!("branch-{number}"),
        head_sha: format!("head{number}"),
        base_ref: "main".into(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        ..PrFacts::default()
    }
}

fn with_context(mut pr: PrFacts, name: &str, state: ContextState) -> PrFacts {
    pr.contexts.insert(
        name.into(),
        Context {
            state,
            description: String::new(),
        },
    );
    pr
}

fn pj(
    kind: ProwJobType,
    context: &str,
    base: &str,
    pulls: &[(u64, &str)],
    state: ProwJobState,
) -> ProwJob {
    let mut refs = Refs::new("acme", "foo");
    refs.base_ref = "main".into();
    refs.base_sha = base.into();
    refs.pulls = pulls
        .iter()
        .map(|(n, sha)| Pull::new(*n, "alice", *sha))
        .collect();
    let mut pj = ProwJob::new(
        format!("{context}-{base}-{pulls:?}"),
        ProwJobSpec {
            type_: kind,
            job: context.into(),
            context: context.into(),
            refs: Some(refs),
            ..ProwJobSpec::default()
        },
    );
    pj.status.state = state;
    pj
}

fn now() -> Time {
    Time(Timestamp::from_second(1_800_000_000).unwrap())
}

struct Case<'a> {
    tide: &'a Tide,
    prs: Vec<PrFacts>,
    presubmits: Vec<Presubmit>,
    jobs: Vec<ProwJob>,
}

impl Case<'_> {
    fn decide(&self) -> PoolDecision {
        decide_pool(&PoolInput {
            org: "acme",
            repo: "foo",
            branch: "main",
            base_sha: "base1",
            prs: self.prs.iter().collect(),
            tide: self.tide,
            presubmits: &self.presubmits,
            protected_contexts: &[],
            prowjobs: &self.jobs,
            deck_url: "https://prow.example.com",
            claimed: false,
            now: now(),
        })
    }
}

fn status_of(d: &PoolDecision, number: u64) -> (ContextState, String) {
    let s = d.statuses.iter().find(|s| s.number == number).unwrap();
    (s.state, s.description.clone())
}

#[test]
fn status_descriptions_are_prows() {
    let t = default_tide();
    let unit = job("unit");
    let cases: Vec<(&str, PrFacts, ContextState, &str)> = vec![
        (
            "no labels",
            pr(1, &[]),
            ContextState::Pending,
            "Not mergeable. Needs approved, lgtm labels.",
        ),
        (
            "one label missing",
            pr(1, &["lgtm"]),
            ContextState::Pending,
            "Not mergeable. Needs approved label.",
        ),
        (
            "held",
            pr(1, &["lgtm", "approved", "do-not-merge/hold"]),
            ContextState::Pending,
            "Not mergeable. Should not have do-not-merge/hold label.",
        ),
        (
            "job failed",
            with_context(pr(1, &["lgtm", "approved"]), "unit", ContextState::Failure),
            ContextState::Pending,
            "Not mergeable. Job unit has not succeeded.",
        ),
        (
            "conflict",
            PrFacts {
                mergeable: Some(false),
                ..pr(1, &["lgtm", "approved"])
            },
            ContextState::Error,
            "Not mergeable. PR has a merge conflict.",
        ),
        (
            "passing, up to date",
            with_context(pr(1, &["lgtm", "approved"]), "unit", ContextState::Success),
            ContextState::Success,
            "In merge pool.",
        ),
    ];
    for (name, facts, state, description) in cases {
        let jobs = vec![pj(
            ProwJobType::Presubmit,
            "unit",
            "base1",
            &[(1, "head1")],
            ProwJobState::Success,
        )];
        let d = Case {
            tide: &t,
            prs: vec![facts],
            presubmits: vec![unit.clone()],
            jobs,
        }
        .decide();
        assert_eq!(status_of(&d, 1), (state, description.to_owned()), "{name}");
    }
}

#[test]
fn a_pool_pr_whose_jobs_ran_on_an_old_base_is_retested() {
    let t = default_tide();
    let facts = with_context(pr(1, &["lgtm", "approved"]), "unit", ContextState::Success);
    let jobs = vec![pj(
        ProwJobType::Presubmit,
        "unit",
        "base0",
        &[(1, "head1")],
        ProwJobState::Success,
    )];
    let d = Case {
        tide: &t,
        prs: vec![facts],
        presubmits: vec![job("unit")],
        jobs,
    }
    .decide();
    assert_eq!(
        status_of(&d, 1),
        (
            ContextState::Pending,
            "Not mergeable. Retesting: unit".to_owned()
        )
    );
    assert_eq!(d.action.kind, ActionKind::Trigger);
    assert_eq!(d.action.targets, vec![(1, "head1".to_owned())]);
    let created = &d.action.prowjobs[0];
    assert_eq!(created.spec.type_, ProwJobType::Presubmit);
    let refs = created.spec.refs.as_ref().unwrap();
    assert_eq!(refs.base_sha, "base1");
    assert_eq!(refs.pulls[0].sha, "head1");
    assert_eq!(
        created.metadata.labels.as_ref().unwrap()[CREATED_BY_TIDE],
        "true"
    );
    // The same facts give the same name: a second instance creates nothing new.
    let again = Case {
        tide: &t,
        prs: vec![with_context(
            pr(1, &["lgtm", "approved"]),
            "unit",
            ContextState::Success,
        )],
        presubmits: vec![job("unit")],
        jobs: vec![pj(
            ProwJobType::Presubmit,
            "unit",
            "base0",
            &[(1, "head1")],
            ProwJobState::Success,
        )],
    };
    assert_eq!(again.decide().action.prowjobs[0].name(), created.name());
}

#[test]
fn the_lowest_numbered_passing_pr_merges_first_unless_a_priority_says_otherwise() {
    let mut t = default_tide();
    let prs: Vec<PrFacts> = [3, 2, 5]
        .iter()
        .map(|n| with_context(pr(*n, &["lgtm", "approved"]), "unit", ContextState::Success))
        .collect();
    let jobs: Vec<ProwJob> = [3u64, 2, 5]
        .iter()
        .map(|n| {
            let sha = format!("head{n}");
            pj(
                ProwJobType::Presubmit,
                "unit",
                "base1",
                &[(*n, sha.as_str())],
                ProwJobState::Success,
            )
        })
        .collect();
    let case = Case {
        tide: &t,
        prs: prs.clone(),
        presubmits: vec![job("unit")],
        jobs: jobs.clone(),
    };
    let d = case.decide();
    assert_eq!(d.action.kind, ActionKind::Merge);
    assert_eq!(d.action.merges[0].number, 2);
    assert_eq!(d.action.merges[0].sha, "head2");
    assert_eq!(d.success, vec![2, 3, 5]);

    let mut prs = prs;
    prs[2].labels.insert("kind/flake".into());
    t.priority = vec![TidePriority {
        labels: vec!["kind/flake".into()],
    }];
    let d = Case {
        tide: &t,
        prs,
        presubmits: vec![job("unit")],
        jobs,
    }
    .decide();
    assert_eq!(d.action.merges[0].number, 5);
}

#[test]
fn several_pool_prs_without_current_results_trigger_a_batch() {
    let t = default_tide();
    let prs: Vec<PrFacts> = (1..=3)
        .map(|n| with_context(pr(n, &["lgtm", "approved"]), "unit", ContextState::Success))
        .collect();
    // Their jobs passed on the previous base.
    let jobs: Vec<ProwJob> = (1..=3u64)
        .map(|n| {
            let sha = format!("head{n}");
            pj(
                ProwJobType::Presubmit,
                "unit",
                "base0",
                &[(n, sha.as_str())],
                ProwJobState::Success,
            )
        })
        .collect();
    let d = Case {
        tide: &t,
        prs: prs.clone(),
        presubmits: vec![job("unit")],
        jobs: jobs.clone(),
    }
    .decide();
    assert_eq!(d.action.kind, ActionKind::TriggerBatch);
    assert_eq!(d.action.targets.len(), 3);
    let batch = &d.action.prowjobs[0];
    assert_eq!(batch.spec.type_, ProwJobType::Batch);
    assert_eq!(batch.spec.refs.as_ref().unwrap().pulls.len(), 3);

    // While the batch runs no other batch starts (Prow still retests the oldest PR alone,
    // since none of them has a result at this base).
    let mut running = jobs.clone();
    let pulls = [(1, "head1"), (2, "head2"), (3, "head3")];
    running.push(pj(
        ProwJobType::Batch,
        "unit",
        "base1",
        &pulls,
        ProwJobState::Pending,
    ));
    let d = Case {
        tide: &t,
        prs: prs.clone(),
        presubmits: vec![job("unit")],
        jobs: running,
    }
    .decide();
    assert_eq!(d.batch_pending, vec![1, 2, 3]);
    assert_eq!(d.action.kind, ActionKind::Trigger);
    assert_eq!(d.action.targets[0].0, 1);
    let mut passed = jobs;
    passed.push(pj(
        ProwJobType::Batch,
        "unit",
        "base1",
        &pulls,
        ProwJobState::Success,
    ));
    let d = Case {
        tide: &t,
        prs,
        presubmits: vec![job("unit")],
        jobs: passed,
    }
    .decide();
    assert_eq!(d.action.kind, ActionKind::MergeBatch);
    let merged: Vec<u64> = d.action.merges.iter().map(|m| m.number).collect();
    assert_eq!(merged, vec![1, 2, 3]);
}

#[test]
fn batch_size_limit_bounds_and_disables_batches() {
    let base = "queries:\n- repos: [acme/foo]\n  labels: [lgtm]\n";
    let prs: Vec<PrFacts> = (1..=4)
        .map(|n| with_context(pr(n, &["lgtm"]), "unit", ContextState::Success))
        .collect();
    let limited = tide(&format!("{base}batch_size_limit: {{acme/foo: 2}}\n"));
    let d = Case {
        tide: &limited,
        prs: prs.clone(),
        presubmits: vec![job("unit")],
        jobs: vec![],
    }
    .decide();
    assert_eq!(d.action.kind, ActionKind::TriggerBatch);
    assert_eq!(d.action.targets.len(), 2);
    let off = tide(&format!("{base}batch_size_limit: {{acme/foo: -1}}\n"));
    let d = Case {
        tide: &off,
        prs,
        presubmits: vec![job("unit")],
        jobs: vec![],
    }
    .decide();
    // No batch: the oldest PR is retested alone.
    assert_eq!(d.action.kind, ActionKind::Trigger);
    assert_eq!(d.action.targets[0].0, 1);
}

#[test]
fn optional_and_unreported_jobs_never_block() {
    let t = default_tide();
    let mut optional = job("lint");
    optional.optional = true;
    let mut quiet = job("perf");
    quiet.skip_report = true;
    let facts = with_context(
        with_context(
            with_context(pr(1, &["lgtm", "approved"]), "unit", ContextState::Success),
            "lint",
            ContextState::Failure,
        ),
        "perf",
        ContextState::Failure,
    );
    let jobs = vec![pj(
        ProwJobType::Presubmit,
        "unit",
        "base1",
        &[(1, "head1")],
        ProwJobState::Success,
    )];
    let d = Case {
        tide: &t,
        prs: vec![facts],
        presubmits: vec![job("unit"), optional, quiet],
        jobs,
    }
    .decide();
    assert_eq!(status_of(&d, 1).1, "In merge pool.");
    assert_eq!(d.action.kind, ActionKind::Merge);
}

#[test]
fn an_unknown_failing_context_blocks_unless_skipped() {
    let facts = with_context(
        pr(1, &["lgtm", "approved"]),
        "external-ci",
        ContextState::Failure,
    );
    let t = default_tide();
    let d = Case {
        tide: &t,
        prs: vec![facts.clone()],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert_eq!(
        status_of(&d, 1).1,
        "Not mergeable. Job external-ci has not succeeded."
    );
    let skip = tide(
        "queries:\n- repos: [acme/foo]\n  labels: [lgtm, approved]\ncontext_options:\n  skip-unknown-contexts: true\n",
    );
    let d = Case {
        tide: &skip,
        prs: vec![facts],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert_eq!(status_of(&d, 1).1, "In merge pool.");
    assert_eq!(d.action.kind, ActionKind::Merge);
}

#[test]
fn required_contexts_from_config_and_conditional_jobs() {
    let t = tide(
        "queries:\n- repos: [acme/foo]\n  labels: [lgtm]\ncontext_options:\n  required-contexts: [cla]\n",
    );
    let d = Case {
        tide: &t,
        prs: vec![pr(1, &["lgtm"])],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert_eq!(
        status_of(&d, 1).1,
        "Not mergeable. Job cla has not succeeded."
    );
    // A run_if_changed job is required only when the PR touches its files.
    let mut docs = job("docs");
    docs.always_run = false;
    docs.changes = ChangeMatcher::new("^docs/".into(), String::new());
    let mut touching = pr(1, &["lgtm"]);
    touching.changed_files = Some(vec!["docs/a.md".into()]);
    let mut elsewhere = pr(2, &["lgtm"]);
    elsewhere.changed_files = Some(vec!["src/a.rs".into()]);
    assert_eq!(
        required_presubmits(std::slice::from_ref(&docs), "main", &touching).len(),
        1
    );
    assert!(required_presubmits(std::slice::from_ref(&docs), "main", &elsewhere).is_empty());
    assert!(needs_changed_files(&[docs]));
    // A job for other branches is not required here.
    let mut release = job("release-only");
    release.brancher = Brancher::new(vec!["release".into()], vec![]);
    assert!(required_presubmits(&[release], "main", &touching).is_empty());
}

#[test]
fn merge_method_labels_override_and_conflict() {
    let t = tide(
        "squash_label: tide/squash\nrebase_label: tide/rebase\nmerge_method: {acme: rebase}\n",
    );
    let cases: Vec<(&[&str], Option<MergeMethod>)> = vec![
        (&[], Some(MergeMethod::Rebase)),
        (&["tide/squash"], Some(MergeMethod::Squash)),
        (&["tide/squash", "tide/rebase"], None),
    ];
    for (labels, want) in cases {
        assert_eq!(
            merge_method(&t, "acme", "foo", &pr(1, labels)),
            want,
            "{labels:?}"
        );
    }
    assert_eq!(
        merge_blocker(&t, "acme", "foo", &pr(1, &["tide/squash", "tide/rebase"])).as_deref(),
        Some("PR has conflicting merge method override labels")
    );
}

#[test]
fn merge_commit_templates_render_into_the_plan() {
    let t = tide(
        "queries:\n- repos: [acme/foo]\n  labels: [lgtm]\nmerge_commit_template:\n  acme/foo:\n    title: \"{{.Title}} (#{{.Number}})\"\n    body: \"{{.Body}}\"\n",
    );
    let mut facts = pr(4, &["lgtm"]);
    facts.body = "Details.".into();
    let d = Case {
        tide: &t,
        prs: vec![facts],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    let plan = &d.action.merges[0];
    assert_eq!(plan.title.as_deref(), Some("PR 4 (#4)"));
    assert_eq!(plan.message.as_deref(), Some("Details."));
    assert_eq!(plan.method, MergeMethod::Merge);
}

#[test]
fn query_diffs_pick_the_closest_query_and_say_why() {
    let t = tide(
        r#"
queries:
- repos: [acme/foo]
  labels: [lgtm, approved, "cncf-cla: yes"]
- repos: [acme/foo]
  author: bot
  labels: [skip-review]
"#,
    );
    let d = Case {
        tide: &t,
        prs: vec![pr(1, &["lgtm"])],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert_eq!(
        status_of(&d, 1).1,
        "Not mergeable. Needs approved, cncf-cla: yes labels."
    );
    let mut milestone = tide("queries:\n- repos: [acme/foo]\n  milestone: v1\n");
    let d = Case {
        tide: &milestone,
        prs: vec![pr(1, &[])],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert_eq!(
        status_of(&d, 1).1,
        "Not mergeable. Must be in milestone v1."
    );
    milestone.queries[0].milestone = String::new();
    milestone.queries[0].included_branches = vec!["release".into()];
    let d = Case {
        tide: &milestone,
        prs: vec![pr(1, &[])],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert_eq!(
        status_of(&d, 1).1,
        "Not mergeable. Merging to branch main is forbidden."
    );
}

#[test]
fn unchanged_statuses_are_not_rewritten_and_the_link_goes_to_deck() {
    let t = default_tide();
    let first = Case {
        tide: &t,
        prs: vec![pr(1, &[])],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    let update = &first.statuses[0];
    assert_eq!(update.target_url, "https://prow.example.com/tide");
    let mut seen = pr(1, &[]);
    seen.contexts.insert(
        STATUS_CONTEXT.into(),
        Context {
            state: update.state,
            description: update.description.clone(),
        },
    );
    let again = Case {
        tide: &t,
        prs: vec![seen],
        presubmits: vec![],
        jobs: vec![],
    }
    .decide();
    assert!(again.statuses.is_empty());
}

#[test]
fn pr_status_base_url_links_to_a_search_for_the_pr() {
    let t = tide("pr_status_base_urls: {\"*\": \"https://prow.example.com/pr\"}\n");
    let url = target_url(&t, "acme", "foo", &pr(1, &[]), "");
    assert_eq!(
        url,
        "https://prow.example.com/pr?query=is%3Apr+repo%3Aacme%2Ffoo+author%3Aalice+head%3Abranch-1"
    );
}

#[test]
fn long_retesting_lists_are_counted_and_descriptions_capped() {
    let names: Vec<String> = (0..20)
        .map(|i| format!("pull-very-long-job-name-{i}"))
        .collect();
    assert_eq!(retesting_status(names), "Not mergeable. Retesting 20 jobs.");
    let long = "x".repeat(200);
    assert_eq!(truncate_description(long).len(), MAX_STATUS_DESCRIPTION);
}

#[test]
fn a_claimed_pool_waits() {
    let t = default_tide();
    let facts = with_context(pr(1, &["lgtm", "approved"]), "unit", ContextState::Success);
    let jobs = vec![pj(
        ProwJobType::Presubmit,
        "unit",
        "base1",
        &[(1, "head1")],
        ProwJobState::Success,
    )];
    let presubmits = vec![job("unit")];
    let d = decide_pool(&PoolInput {
        org: "acme",
        repo: "foo",
        branch: "main",
        base_sha: "base1",
        prs: vec![&facts],
        tide: &t,
        presubmits: &presubmits,
        protected_contexts: &[],
        prowjobs: &jobs,
        deck_url: "",
        claimed: true,
        now: now(),
    });
    assert_eq!(d.action.kind, ActionKind::Wait);
}
