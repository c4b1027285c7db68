//! Prow's job validation rules as pure functions: a job in, findings (field + message) out.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodSpec;

use super::jobs::{JobBase, Periodic, Postsubmit, Presubmit};
use super::locate::Seg;
use super::prow::ProwConfig;
use crate::cron::Schedule;
use crate::duration::parse_go_duration;

/// One problem with a job: the field it concerns (relative to the job) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub field: Vec<Seg>,
    pub message: String,
}

fn finding(field: &[&str], message: impl Into<String>) -> Finding {
    Finding {
        field: field.iter().map(|f| Seg::Key((*f).to_string())).collect(),
        message: message.into(),
    }
}

/// Checks a regex with Go RE2-compatible syntax rules; returns the parser's message on failure.
pub(crate) fn check_regex(pattern: &str) -> Result<(), String> {
    regex_syntax::Parser::new()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| {
            // The parser's message spans several lines with a caret diagram; keep the gist.
            let text = e.to_string();
            text.lines()
                .last()
                .unwrap_or(&text)
                .trim()
                .trim_start_matches("error: ")
                .to_string()
        })
}

const DNS1123_MAX: usize = 253;
const LABEL_MAX: usize = 63;

fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_qualified_segment(v)
}

fn is_qualified_segment(v: &str) -> bool {
    let bytes = v.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= LABEL_MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_dns1123_subdomain(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= DNS1123_MAX
        && v.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Kubernetes' IsQualifiedName: `[prefix/]name`.
pub(crate) fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_segment(name),
        None => is_qualified_segment(key),
    }
}

/// Labels Prow sets itself on every ProwJob and pod; jobs may not set them.
const RESERVED_LABELS: [&str; 3] = ["prow.k8s.io/type", "created-by-prow", "prow.k8s.io/id"];
/// Container names the pod utilities use.
const POD_UTILITY_CONTAINERS: [&str; 4] =
    ["clonerefs", "initupload", "place-entrypoint", "sidecar"];
const BASE_ENV: [&str; 7] = [
    "CI",
    "JOB_NAME",
    "JOB_SPEC",
    "JOB_TYPE",
    "PROW_JOB_ID",
    "BUILD_ID",
    "BUILD_NUMBER",
];
const REFS_ENV: [&str; 7] = [
    "REPO_OWNER",
    "REPO_NAME",
    "SRC_BASE",
    "SRC_HOST",
    "PULL_BASE_REF",
    "PULL_BASE_SHA",
    "PULL_REFS",
];
const PULL_ENV: [&str; 4] = [
    "PULL_NUMBER",
    "PULL_PULL_SHA",
    "PULL_HEAD_REF",
    "PULL_TITLE",
];

/// The kind of job, for the rules that differ by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Presubmit,
    Postsubmit,
    Periodic,
}

fn reserved_env(kind: Kind) -> Vec<&'static str> {
    let mut env = BASE_ENV.to_vec();
    if kind != Kind::Periodic {
        env.extend(REFS_ENV);
    }
    if kind == Kind::Presubmit {
        env.extend(PULL_ENV);
    }
    env
}

/// Rules every job obeys (Prow's validateJobBase).
pub(crate) fn validate_base(
    base: &JobBase,
    kind: Kind,
    prow: &ProwConfig,
    raw_max_concurrency: i64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let name_ok = !base.name.is_empty()
        && base
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !name_ok {
        out.push(finding(
            &["name"],
            format!("{:?} must match regex \"^[A-Za-z0-9-._]+$\"", base.name),
        ));
    }
    if raw_max_concurrency < 0 {
        out.push(finding(
            &["max_concurrency"],
            format!("{raw_max_concurrency} must be a non-negative number"),
        ));
    }
    out.extend(validate_agent(base, &prow.pod_namespace));
    if let Some(spec) = &base.spec {
        out.extend(validate_pod_spec(spec, kind, base.utility.decorate));
    }
    for (key, value) in &base.labels {
        if RESERVED_LABELS.contains(&key.as_str()) {
            out.push(finding(
                &["labels", key],
                format!("label {key} is reserved for decoration"),
            ));
        } else if !is_qualified_name(key) {
            out.push(finding(
                &["labels", key],
                format!("invalid label {key}: not a qualified name"),
            ));
        } else if !is_label_value(value) {
            out.push(finding(
                &["labels", key],
                format!("label {key} has invalid value {value:?}"),
            ));
        }
    }
    for key in base.annotations.keys() {
        if !is_qualified_name(key) {
            out.push(finding(
                &["annotations", key],
                format!("invalid annotation key {key:?}"),
            ));
        }
    }
    if !base.job_queue_name.is_empty()
        && !prow
            .plank
            .job_queue_capacities
            .contains_key(&base.job_queue_name)
    {
        out.push(finding(
            &["job_queue_name"],
            format!(
                "invalid job queue name {} (not in plank.job_queue_capacities)",
                base.job_queue_name
            ),
        ));
    }
    if let Some(dc) = &base.utility.decoration_config {
        if let Err(msg) = dc.validate() {
            out.push(finding(
                &["decoration_config"],
                format!("invalid decoration config: {msg}"),
            ));
        }
        for (i, c) in base
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .enumerate()
        {
            let first = c.command.iter().chain(c.args.iter()).flatten().next();
            if first.is_none_or(String::is_empty) {
                out.push(Finding {
                    field: vec!["spec".into(), "containers".into(), Seg::Index(i)],
                    message: "decorated job containers must specify command and/or args".into(),
                });
            }
        }
    }
    let mut seen_refs = BTreeSet::new();
    for r in &base.utility.extra_refs {
        let key = format!("{}/{}", r.org, r.repo);
        if !seen_refs.insert(key.clone()) {
            out.push(finding(
                &["extra_refs"],
                format!("the following refs specified more than once: {key}"),
            ));
        }
    }
    out
}

fn validate_agent(base: &JobBase, pod_namespace: &str) -> Vec<Finding> {
    let agent = base.agent.as_str();
    let message = match agent {
        "kubernetes" | "jenkins" | "tekton-pipeline" => {
            if base.spec.is_some() && agent != "kubernetes" {
                Some(format!(
                    "job specs require agent: kubernetes (found {agent:?})"
                ))
            } else if agent == "kubernetes" && base.spec.is_none() {
                Some("kubernetes jobs require a spec".to_string())
            } else if base.pipeline_run_spec.is_some() && agent != "tekton-pipeline" {
                Some(format!(
                    "job pipeline_run_spec require agent: tekton-pipeline (found {agent:?})"
                ))
            } else if base.utility.decoration_config.is_some() && agent != "kubernetes" {
                Some(format!(
                    "decoration requires agent: kubernetes (found {agent:?})"
                ))
            } else if base.error_on_eviction && agent != "kubernetes" {
                Some(format!(
                    "error_on_eviction only applies to agent: kubernetes (found {agent:?})"
                ))
            } else if base.namespace != pod_namespace && agent != "tekton-pipeline" {
                Some(format!(
                    "namespace customization requires agent: tekton-pipeline (found {agent:?})"
                ))
            } else {
                None
            }
        }
        // Prow only warns about unknown agents ("use at your own risk").
        _ => None,
    };
    message
        .map(|m| finding(&["agent"], m))
        .into_iter()
        .collect()
}

fn validate_pod_spec(spec: &PodSpec, kind: Kind, decorated: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let unsupported: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() != Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    if !unsupported.is_empty() {
        out.push(finding(
            &["spec", "initContainers"],
            format!("pod spec may not use init containers (sidecar containers are supported): {unsupported:?}"),
        ));
    }
    let n = spec.containers.len();
    if n == 0 {
        out.push(finding(
            &["spec", "containers"],
            "pod spec must specify at least 1 container, found: 0",
        ));
        return out;
    }
    if n > 1 && !decorated {
        out.push(finding(
            &["spec", "containers"],
            format!("pod utility decoration must be enabled to use multiple containers: {n}"),
        ));
        return out;
    }
    if n > 1 {
        let mut names = BTreeSet::new();
        for (i, c) in spec.containers.iter().enumerate() {
            let field = vec![Seg::from("spec"), Seg::from("containers"), Seg::Index(i)];
            if c.name.is_empty() {
                out.push(Finding {
                    field: field.clone(),
                    message: "all containers must have names when defining multiple containers"
                        .into(),
                });
            }
            if !names.insert(c.name.as_str()) {
                out.push(Finding {
                    field: field.clone(),
                    message: format!("container named {:?} is defined more than once", c.name),
                });
            }
            if POD_UTILITY_CONTAINERS.contains(&c.name.as_str()) {
                out.push(Finding {
                    field,
                    message: format!("container name {} is reserved for decoration", c.name),
                });
            }
        }
    }
    let reserved = reserved_env(kind);
    for (i, c) in spec.containers.iter().enumerate() {
        let mut names = BTreeSet::new();
        for (j, env) in c.env.iter().flatten().enumerate() {
            let field = vec![
                Seg::from("spec"),
                Seg::from("containers"),
                Seg::Index(i),
                Seg::from("env"),
                Seg::Index(j),
            ];
            if !names.insert(env.name.as_str()) {
                out.push(Finding {
                    field: field.clone(),
                    message: format!("env var named {:?} is defined more than once", env.name),
                });
            }
            if reserved.contains(&env.name.as_str()) {
                out.push(Finding {
                    field,
                    message: format!("env {} is reserved", env.name),
                });
            }
        }
    }
    out
}

fn regex_findings(out: &mut Vec<Finding>, field: &str, patterns: &[String], joined: bool) {
    if patterns.is_empty() {
        return;
    }
    if joined {
        if let Err(msg) = check_regex(&patterns.join("|")) {
            out.push(finding(&[field], format!("invalid regex: {msg}")));
        }
    } else {
        for p in patterns {
            if let Err(msg) = check_regex(p) {
                out.push(finding(&[field], format!("invalid regex {p:?}: {msg}")));
            }
        }
    }
}

/// Presubmit-specific rules (Prow's validateTriggering, validateReporting, SetPresubmitRegexes).
pub(crate) fn validate_presubmit(
    ps: &Presubmit,
    raw_trigger_set: bool,
    raw_rerun_set: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = ps.name();
    if ps.always_run && !ps.changes.run_if_changed.is_empty() {
        out.push(finding(&["always_run"], format!("job {name} is set to always run but also declares run_if_changed targets, which are mutually exclusive")));
    }
    if ps.always_run && !ps.changes.skip_if_only_changed.is_empty() {
        out.push(finding(&["always_run"], format!("job {name} is set to always run but also declares skip_if_only_changed targets, which are mutually exclusive")));
    }
    out.extend(change_filter_findings(
        name,
        &ps.changes.run_if_changed,
        &ps.changes.skip_if_only_changed,
    ));
    if raw_trigger_set != raw_rerun_set {
        out.push(finding(
            &[if raw_trigger_set { "trigger" } else { "rerun_command" }],
            format!("either both of trigger and rerun_command must be set, wasn't the case for job {name:?}"),
        ));
    } else if raw_trigger_set {
        match check_regex(&ps.trigger) {
            Err(msg) => out.push(finding(
                &["trigger"],
                format!("could not compile trigger regex for {name}: {msg}"),
            )),
            Ok(()) if !ps.triggered_by(&ps.rerun_command) => out.push(finding(
                &["rerun_command"],
                format!(
                    "for job {name}, rerun command {:?} does not match trigger {:?}",
                    ps.rerun_command, ps.trigger
                ),
            )),
            Ok(()) => {}
        }
    }
    regex_findings(&mut out, "branches", &ps.brancher.branches, true);
    regex_findings(&mut out, "skip_branches", &ps.brancher.skip_branches, true);
    out
}

fn change_filter_findings(
    name: &str,
    run_if_changed: &str,
    skip_if_only_changed: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !run_if_changed.is_empty() && !skip_if_only_changed.is_empty() {
        out.push(finding(&["skip_if_only_changed"], format!("job {name} declares run_if_changed and skip_if_only_changed, which are mutually exclusive")));
    }
    for (field, pattern) in [
        ("run_if_changed", run_if_changed),
        ("skip_if_only_changed", skip_if_only_changed),
    ] {
        if !pattern.is_empty()
            && let Err(msg) = check_regex(pattern)
        {
            out.push(finding(
                &[field],
                format!("invalid regex {pattern:?}: {msg}"),
            ));
        }
    }
    out
}

/// Postsubmit-specific rules (Prow's validateAlwaysRun and regex compilation).
pub(crate) fn validate_postsubmit(ps: &Postsubmit) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = ps.name();
    if ps.always_run == Some(true) && ps.changes.could_run() {
        out.push(finding(&["always_run"], format!("job {name} is set to always run but also declares run_if_changed or skip_if_only_changed targets, which are mutually exclusive")));
    }
    out.extend(change_filter_findings(
        name,
        &ps.changes.run_if_changed,
        &ps.changes.skip_if_only_changed,
    ));
    regex_findings(&mut out, "branches", &ps.brancher.branches, true);
    regex_findings(&mut out, "skip_branches", &ps.brancher.skip_branches, true);
    out
}

/// Periodic-specific rules (Prow's validatePeriodics, per job).
pub(crate) fn validate_periodic(p: &Periodic) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = p.name();
    let set: Vec<&str> = [
        ("cron", &p.cron),
        ("interval", &p.interval),
        ("minimum_interval", &p.minimum_interval),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, _)| k)
    .collect();
    match set.len() {
        0 => out.push(finding(
            &["cron"],
            format!(
                "at least one of cron, interval, or minimum_interval must be set in periodic {name}"
            ),
        )),
        1 => {}
        _ => out.push(finding(
            &[set[1]],
            format!(
                "cron, interval, and minimum_interval are mutually exclusive in periodic {name}"
            ),
        )),
    }
    if !p.cron.is_empty()
        && let Err(e) = Schedule::parse(&p.cron)
    {
        out.push(finding(
            &["cron"],
            format!("invalid cron string in periodic {name}: {}", e.reason),
        ));
    }
    for (field, value) in [
        ("interval", &p.interval),
        ("minimum_interval", &p.minimum_interval),
    ] {
        if !value.is_empty()
            && let Err(e) = parse_go_duration(value)
        {
            out.push(finding(
                &[field],
                format!("cannot parse duration for {name}: {e}"),
            ));
        }
    }
    if let Some(retry) = &p.retry
        && let Err(e) = parse_go_duration(&retry.interval)
    {
        out.push(finding(
            &["retry", "interval"],
            format!("cannot parse retry duration for {name}: {e}"),
        ));
    }
    out
}

/// Two jobs for the same repo with the same name whose branch filters overlap, or with different
/// names reporting to the same context on overlapping branches. Returns (index, finding).
pub(crate) fn duplicates<'a>(
    jobs: impl Iterator<Item = (&'a str, &'a str, &'a super::jobs::Brancher)>,
    kind: &str,
) -> Vec<(usize, Finding)> {
    let jobs: Vec<_> = jobs.collect();
    let mut out = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (name, _, _)) in jobs.iter().enumerate() {
        by_name.entry(name).or_default().push(i);
    }
    for indices in by_name.values().filter(|v| v.len() > 1) {
        for (pos, &i) in indices.iter().enumerate() {
            if indices[..pos]
                .iter()
                .any(|&j| jobs[j].2.intersects(jobs[i].2))
            {
                out.push((i, finding(&["name"], format!("duplicated {kind} job {} (branches overlap with an earlier definition)", jobs[i].0))));
            }
        }
    }
    let mut by_context: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, context, _)) in jobs.iter().enumerate() {
        if !context.is_empty() {
            by_context.entry(context).or_default().push(i);
        }
    }
    for indices in by_context.values().filter(|v| v.len() > 1) {
        for (pos, &i) in indices.iter().enumerate() {
            if let Some(&j) = indices[..pos]
                .iter()
                .find(|&&j| jobs[j].0 != jobs[i].0 && jobs[j].2.intersects(jobs[i].2))
            {
                out.push((
                    i,
                    finding(
                        &["context"],
                        format!(
                            "jobs {} and {} report to the same GitHub context {:?}",
                            jobs[j].0, jobs[i].0, jobs[i].1
                        ),
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_and_label_values() {
        for ok in [
            "app",
            "prow.k8s.io/job",
            "preset-service-account",
            "a.b_c-d",
        ] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a/", "/a", "UPPER.example.com/x", &"x".repeat(64)] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        assert!(is_label_value(""));
        assert!(is_label_value("true"));
        assert!(!is_label_value("release/v1.2"));
    }

    #[test]
    fn regex_errors_are_reported_briefly() {
        assert!(check_regex("^docs/").is_ok());
        let msg = check_regex("^(docs/").expect_err("unclosed group");
        assert!(msg.contains("unclosed group"), "{msg}");
    }
}
