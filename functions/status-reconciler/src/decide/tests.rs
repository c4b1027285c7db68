use super::*;

fn job(name: &str) -> Remembered {
    Remembered {
        name: name.into(),
        always_run: true,
        ..Remembered::default()
    }
}

fn with(mut j: Remembered, edit: impl FnOnce(&mut Remembered)) -> Remembered {
    edit(&mut j);
    j
}

fn set(repo: &str, jobs: Vec<Remembered>) -> JobSet {
    JobSet::from([(repo.to_owned(), jobs)])
}

fn retire(context: &str) -> Retire {
    Retire {
        context: context.into(),
        branches: vec![],
        skip_branches: vec![],
    }
}

#[test]
fn plans_follow_prows_three_comparisons() {
    let r = "acme/foo";
    let plain = RepoPlan {
        repo: r.into(),
        ..RepoPlan::default()
    };
    // (name, old, new, expected plan or None for nothing to do)
    let cases: Vec<(&str, JobSet, JobSet, Option<RepoPlan>)> = vec![
        (
            "unchanged",
            set(r, vec![job("a")]),
            set(r, vec![job("a")]),
            None,
        ),
        (
            "a new always_run required job is triggered",
            set(r, vec![job("a")]),
            set(r, vec![job("a"), job("b")]),
            Some(RepoPlan {
                trigger: vec![1],
                ..plain.clone()
            }),
        ),
        (
            "a new run_if_changed job is triggered (files decide per PR)",
            set(r, vec![job("a")]),
            set(
                r,
                vec![
                    job("a"),
                    with(job("b"), |j| {
                        j.always_run = false;
                        j.run_if_changed = "^docs/".into();
                    }),
                ],
            ),
            Some(RepoPlan {
                trigger: vec![1],
                ..plain.clone()
            }),
        ),
        (
            "a new optional job is not",
            set(r, vec![job("a")]),
            set(r, vec![job("a"), with(job("b"), |j| j.optional = true)]),
            None,
        ),
        (
            "a new skip_report job is not",
            set(r, vec![job("a")]),
            set(r, vec![job("a"), with(job("b"), |j| j.skip_report = true)]),
            None,
        ),
        (
            "a new manual job is not",
            set(r, vec![job("a")]),
            set(r, vec![job("a"), with(job("b"), |j| j.always_run = false)]),
            None,
        ),
        (
            "a job that starts reporting is triggered",
            set(r, vec![with(job("a"), |j| j.skip_report = true)]),
            set(r, vec![job("a")]),
            Some(RepoPlan {
                trigger: vec![0],
                ..plain.clone()
            }),
        ),
        (
            "an optional job becoming required is not (its context is on the PRs already)",
            set(r, vec![with(job("a"), |j| j.optional = true)]),
            set(r, vec![job("a")]),
            None,
        ),
        (
            "a changed run_if_changed is triggered",
            set(r, vec![with(job("a"), |j| j.run_if_changed = "^a/".into())]),
            set(r, vec![with(job("a"), |j| j.run_if_changed = "^b/".into())]),
            Some(RepoPlan {
                trigger: vec![0],
                ..plain.clone()
            }),
        ),
        (
            "a changed skip_if_only_changed is triggered",
            set(r, vec![job("a")]),
            set(
                r,
                vec![with(job("a"), |j| j.skip_if_only_changed = "\\.md$".into())],
            ),
            Some(RepoPlan {
                trigger: vec![0],
                ..plain.clone()
            }),
        ),
        (
            "a job turning always_run without a file filter change is not",
            set(r, vec![with(job("a"), |j| j.always_run = false)]),
            set(r, vec![job("a")]),
            None,
        ),
        (
            "a removed job's context is retired on the branches it ran on",
            set(
                r,
                vec![
                    job("a"),
                    with(job("b"), |j| {
                        j.context = "ci/b".into();
                        j.branches = vec!["main".into()];
                    }),
                ],
            ),
            set(r, vec![job("a")]),
            Some(RepoPlan {
                retire: vec![Retire {
                    context: "ci/b".into(),
                    branches: vec!["main".into()],
                    skip_branches: vec![],
                }],
                ..plain.clone()
            }),
        ),
        (
            "a removed optional job is retired too (Prow retires every removed context)",
            set(r, vec![job("a"), with(job("b"), |j| j.optional = true)]),
            set(r, vec![job("a")]),
            Some(RepoPlan {
                retire: vec![retire("b")],
                ..plain.clone()
            }),
        ),
        (
            "a repo dropped from the config has all its contexts retired",
            set(r, vec![job("a")]),
            JobSet::new(),
            Some(RepoPlan {
                retire: vec![retire("a")],
                ..plain.clone()
            }),
        ),
        (
            "a repo new to the config is left alone",
            JobSet::new(),
            set(r, vec![job("a")]),
            None,
        ),
        (
            "a renamed context moves",
            set(r, vec![job("a")]),
            set(r, vec![with(job("a"), |j| j.context = "ci/a".into())]),
            Some(RepoPlan {
                migrate: vec![Migrate {
                    from: "a".into(),
                    to: "ci/a".into(),
                    branches: vec![],
                    skip_branches: vec![],
                }],
                ..plain.clone()
            }),
        ),
        (
            "a renamed context of an optional job does not",
            set(r, vec![job("a")]),
            set(
                r,
                vec![with(job("a"), |j| {
                    j.context = "ci/a".into();
                    j.optional = true;
                })],
            ),
            None,
        ),
        (
            "a job renamed is a removal plus an addition",
            set(r, vec![job("a")]),
            set(r, vec![job("b")]),
            Some(RepoPlan {
                trigger: vec![0],
                retire: vec![retire("a")],
                ..plain.clone()
            }),
        ),
    ];
    for (name, old, new, want) in cases {
        let got = plan(&old, &new, &Denylist::default());
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn denylists_as_prow_reads_them() {
    let old = JobSet::from([
        ("acme/foo".to_owned(), vec![job("a"), job("gone")]),
        ("acme/bar".to_owned(), vec![job("a"), job("gone")]),
        ("other/baz".to_owned(), vec![job("a"), job("gone")]),
    ]);
    let new: JobSet = old
        .keys()
        .map(|k| (k.clone(), vec![job("a"), job("new")]))
        .collect();
    let summary = |deny: &Denylist| -> Vec<(String, usize, usize)> {
        plan(&old, &new, deny)
            .into_iter()
            .map(|p| (p.repo, p.trigger.len(), p.retire.len()))
            .collect()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    let t = |r: &str, trig, ret| (r.to_owned(), trig, ret);
    let cases = [
        (
            Denylist::default(),
            vec![
                t("acme/bar", 1, 1),
                t("acme/foo", 1, 1),
                t("other/baz", 1, 1),
            ],
        ),
        // --denylist: added jobs are not triggered, removed contexts are still retired.
        (
            Denylist {
                added: s(&["acme"]),
                all: s(&[]),
            },
            vec![
                t("acme/bar", 0, 1),
                t("acme/foo", 0, 1),
                t("other/baz", 1, 1),
            ],
        ),
        (
            Denylist {
                added: s(&["acme/foo"]),
                all: s(&[]),
            },
            vec![
                t("acme/bar", 1, 1),
                t("acme/foo", 0, 1),
                t("other/baz", 1, 1),
            ],
        ),
        // --denylist-all: nothing at all.
        (
            Denylist {
                added: s(&[]),
                all: s(&["acme/bar", "other"]),
            },
            vec![t("acme/foo", 1, 1)],
        ),
    ];
    for (deny, want) in cases {
        assert_eq!(summary(&deny), want, "{deny:?}");
    }
}

fn status(context: &str, state: StatusState, description: &str) -> Status {
    Status {
        context: context.into(),
        state,
        description: Some(description.into()),
        target_url: Some(format!("https://prow.example.com/{context}")),
    }
}

#[test]
fn status_writes_retire_and_move_as_prows_migrator() {
    let retire_plan = RepoPlan {
        repo: "acme/foo".into(),
        retire: vec![Retire {
            context: "old".into(),
            branches: vec!["main".into()],
            skip_branches: vec![],
        }],
        ..RepoPlan::default()
    };
    let move_plan = RepoPlan {
        repo: "acme/foo".into(),
        migrate: vec![Migrate {
            from: "a".into(),
            to: "ci/a".into(),
            branches: vec![],
            skip_branches: vec!["^release-".into()],
        }],
        ..RepoPlan::default()
    };
    let retired = StatusWrite::Retire(NewStatus {
        state: StatusState::Success,
        context: "old".into(),
        description: Some(RETIRED.into()),
        target_url: None,
    });
    // (case, plan, PR's base branch, statuses on its head, expected writes)
    type Case<'a> = (
        &'a str,
        &'a RepoPlan,
        &'a str,
        Vec<Status>,
        Vec<StatusWrite>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "a present context is retired",
            &retire_plan,
            "main",
            vec![status("old", StatusState::Failure, "Job failed.")],
            vec![retired.clone()],
        ),
        (
            "an absent one is not",
            &retire_plan,
            "main",
            vec![status("other", StatusState::Pending, "")],
            vec![],
        ),
        (
            "nor on a branch the job did not run on",
            &retire_plan,
            "dev",
            vec![status("old", StatusState::Failure, "Job failed.")],
            vec![],
        ),
        (
            "nor when it is retired already (a repeated tick)",
            &retire_plan,
            "main",
            vec![status("old", StatusState::Success, RETIRED)],
            vec![],
        ),
        (
            "a moved context is copied, then retired with the new name",
            &move_plan,
            "main",
            vec![status("a", StatusState::Failure, "Job failed.")],
            vec![
                StatusWrite::Copy(NewStatus {
                    state: StatusState::Failure,
                    context: "ci/a".into(),
                    description: Some("Job failed.".into()),
                    target_url: Some("https://prow.example.com/a".into()),
                }),
                StatusWrite::Retire(NewStatus {
                    state: StatusState::Success,
                    context: "a".into(),
                    description: Some("Context retired. Status moved to \"ci/a\".".into()),
                    target_url: None,
                }),
            ],
        ),
        (
            "not when the new context is there already",
            &move_plan,
            "main",
            vec![
                status("a", StatusState::Failure, "Job failed."),
                status("ci/a", StatusState::Pending, "Job triggered."),
            ],
            vec![],
        ),
        (
            "nor on a skipped branch",
            &move_plan,
            "release-1.0",
            vec![status("a", StatusState::Failure, "Job failed.")],
            vec![],
        ),
    ];
    for (name, plan, branch, statuses, want) in cases {
        assert_eq!(status_writes(plan, branch, &statuses), want, "{name}");
    }
}

#[test]
fn prs_that_are_drafts_or_unmergeable_get_no_jobs() {
    let pr = |draft: bool, mergeable: Option<bool>| PullRequest {
        draft,
        mergeable,
        ..PullRequest::default()
    };
    let cases = [
        (pr(false, None), true),
        (pr(false, Some(true)), true),
        (pr(true, None), false),
        (pr(false, Some(false)), false),
    ];
    for (pr, want) in cases {
        assert_eq!(triggers_on(&pr), want, "{pr:?}");
    }
}

#[test]
fn remembered_jobs_store_only_what_differs_from_defaults() {
    let j = with(job("a"), |j| j.context = String::new());
    assert_eq!(
        serde_json::to_string(&j).unwrap(),
        r#"{"name":"a","always_run":true}"#
    );
    let back: Remembered = serde_json::from_str(r#"{"name":"a","context":"ci/a"}"#).unwrap();
    assert_eq!(back.context(), "ci/a");
    assert_eq!(job("a").context(), "a");
    // The fingerprint follows every remembered field.
    assert_ne!(
        fingerprint(&[job("a")]),
        fingerprint(&[with(job("a"), |j| j.optional = true)])
    );
    assert_eq!(fingerprint(&[job("a")]), fingerprint(&[job("a")]));
}

#[test]
fn pr_cost_covers_every_call_a_pr_can_take() {
    let p = RepoPlan {
        repo: "acme/foo".into(),
        trigger: vec![0],
        retire: vec![retire("x"), retire("y")],
        migrate: vec![Migrate {
            from: "a".into(),
            to: "b".into(),
            branches: vec![],
            skip_branches: vec![],
        }],
    };
    // trust 3 + files 1 + base ref 1, combined status 1 + 2 retires + a copy and a retire.
    assert_eq!(pr_cost(&p), 5 + 1 + 2 + 2);
    assert_eq!(
        pr_cost(&RepoPlan {
            repo: "r".into(),
            ..RepoPlan::default()
        }),
        0
    );
}
