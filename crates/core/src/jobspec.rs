//! Prow's contract with a job's pod: the `JOB_SPEC` JSON, the env vars, and the labels and annotations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prowjob::{
    DecorationConfig, GoDuration, ProwJob, ProwJobAgent, ProwJobSpec, ProwJobType, Refs,
};

/// Label `"true"` on everything Prow creates.
pub const CREATED_BY_PROW: &str = "created-by-prow";
/// Label on ProwJobs created by tide.
pub const CREATED_BY_TIDE: &str = "created-by-tide";
/// Label: the job type.
pub const TYPE_LABEL: &str = "prow.k8s.io/type";
/// Label on pods (and pending ProwJobs): the ProwJob name.
pub const ID_LABEL: &str = "prow.k8s.io/id";
/// Label on pods (and pending ProwJobs): the BUILD_ID.
pub const BUILD_ID_LABEL: &str = "prow.k8s.io/build-id";
/// Label (cut to 63 bytes) and annotation (full): the job name.
pub const JOB_ANNOTATION: &str = "prow.k8s.io/job";
/// Label (cut to 63 bytes) and annotation (full): the status context.
pub const CONTEXT_ANNOTATION: &str = "prow.k8s.io/context";
/// Label on pods: the version of plank that created them.
pub const PLANK_VERSION_LABEL: &str = "prow.k8s.io/plank-version";
pub const ORG_LABEL: &str = "prow.k8s.io/refs.org";
pub const REPO_LABEL: &str = "prow.k8s.io/refs.repo";
pub const BASE_REF_LABEL: &str = "prow.k8s.io/refs.base_ref";
/// Label: number of the first pull.
pub const PULL_LABEL: &str = "prow.k8s.io/refs.pull";
/// Label `"true"` on jobs started by `/retest` or `/retest-required`.
pub const RETEST_LABEL: &str = "prow.k8s.io/retest";
/// Label `"true"|"false"` on presubmits.
pub const IS_OPTIONAL_LABEL: &str = "prow.k8s.io/is-optional";
/// Label on retried periodics.
pub const RE_RUN_LABEL: &str = "prow.k8s.io/re-run";
/// Label: the `X-GitHub-Delivery` of the triggering webhook.
pub const EVENT_GUID_LABEL: &str = "event-GUID";
/// Label whose presence means the Gerrit reporter, not GitHub, reports the job.
pub const GERRIT_REPORT_LABEL: &str = "prow.k8s.io/gerrit-report-label";

/// Where decorated jobs write artifacts (`$ARTIFACTS`).
pub const ARTIFACTS_PATH: &str = "/logs/artifacts";
/// `SRC_HOST` when refs name no host.
pub const DEFAULT_SRC_HOST: &str = "github.com";
/// Longest valid Kubernetes label value.
pub const LABEL_VALUE_MAX_LEN: usize = 63;

/// Why the env of a job cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum JobSpecError {
    #[error("{job_type} job {job:?} has no refs")]
    MissingRefs { job: String, job_type: ProwJobType },
    #[error("presubmit job {job:?} has no pull in its refs")]
    MissingPull { job: String },
    #[error("encoding JOB_SPEC of {job:?}: {source}")]
    Encode {
        job: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The `JOB_SPEC` document (Go's `downwardapi.JobSpec`): field order and omitted empties as Go writes them.
///
/// One known difference remains: resource quantities are written as stored, where Go
/// re-emits them in canonical form (`1024Mi` -> `1Gi`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobSpec {
    #[serde(rename = "type")]
    pub type_: ProwJobType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub buildid: String,
    /// The ProwJob's `metadata.name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prowjobid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refs: Option<Refs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_refs: Vec<Refs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoration_config: Option<DecorationConfig>,
}

impl JobSpec {
    /// The job spec of a run. Durations in the decoration config are written the way Go
    /// prints them (`2h` -> `2h0m0s`), since Go Prow's JOB_SPEC is a re-encoding of parsed values.
    pub fn new(spec: &ProwJobSpec, build_id: &str, prowjob_id: &str) -> Self {
        Self {
            type_: spec.type_,
            job: spec.job.clone(),
            buildid: build_id.to_owned(),
            prowjobid: prowjob_id.to_owned(),
            refs: spec.refs.clone(),
            extra_refs: spec.extra_refs.clone(),
            decoration_config: spec.decoration_config.as_ref().map(canonical_durations),
        }
    }

    /// Compact JSON as Go's `json.Marshal` writes it, including its escaping of `<`, `>`, `&`,
    /// U+2028 and U+2029.
    pub fn to_json(&self) -> Result<String, JobSpecError> {
        let json = serde_json::to_string(self).map_err(|source| JobSpecError::Encode {
            job: self.job.clone(),
            source,
        })?;
        Ok(go_html_escape(&json))
    }
}

fn canonical_durations(config: &DecorationConfig) -> DecorationConfig {
    let canonical = |d: &Option<GoDuration>| -> Option<GoDuration> {
        d.as_ref()
            .map(|d| GoDuration::parse(&d.canonical()).unwrap_or_else(|_| d.clone()))
    };
    DecorationConfig {
        timeout: canonical(&config.timeout),
        grace_period: canonical(&config.grace_period),
        pod_pending_timeout: canonical(&config.pod_pending_timeout),
        pod_running_timeout: canonical(&config.pod_running_timeout),
        pod_unscheduled_timeout: canonical(&config.pod_unscheduled_timeout),
        ..config.clone()
    }
}

/// Go's encoding/json escapes these even inside strings; they only occur inside strings in
/// JSON text, so a plain replacement is exact.
fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// The env Prow gives a job's test containers, sorted by name as Prow writes them into the pod.
///
/// `CI`, `JOB_NAME`, `JOB_TYPE`, `JOB_SPEC`, `BUILD_ID`, `PROW_JOB_ID` always (`BUILD_NUMBER`
/// too for the kubernetes agent); non-periodic jobs add `REPO_OWNER`, `REPO_NAME`, `SRC_HOST`,
/// `SRC_BASE`, `PULL_BASE_REF`, `PULL_BASE_SHA`, `PULL_REFS`; presubmits add `PULL_NUMBER`,
/// `PULL_PULL_SHA`, `PULL_HEAD_REF`, `PULL_TITLE`; decorated jobs add `ARTIFACTS`. (The
/// decorator's `GOPATH` belongs with the code mount it points at, not here.)
pub fn prow_env(pj: &ProwJob, build_id: &str) -> Result<Vec<(String, String)>, JobSpecError> {
    let spec = &pj.spec;
    let job_spec = JobSpec::new(spec, build_id, pj.name());
    let mut env: BTreeMap<&str, String> = BTreeMap::new();
    env.insert("CI", "true".into());
    env.insert("JOB_NAME", spec.job.clone());
    env.insert("BUILD_ID", build_id.to_owned());
    env.insert("PROW_JOB_ID", pj.name().to_owned());
    env.insert("JOB_TYPE", spec.type_.as_str().to_owned());
    if spec.agent == Some(ProwJobAgent::Kubernetes) {
        env.insert("BUILD_NUMBER", build_id.to_owned());
    }
    env.insert("JOB_SPEC", job_spec.to_json()?);
    if spec.is_decorated() {
        env.insert("ARTIFACTS", ARTIFACTS_PATH.to_owned());
    }
    if spec.type_ != ProwJobType::Periodic {
        let refs = spec
            .refs
            .as_ref()
            .ok_or_else(|| JobSpecError::MissingRefs {
                job: spec.job.clone(),
                job_type: spec.type_,
            })?;
        let (src_host, src_base) = src_host_and_base(refs);
        env.insert("REPO_OWNER", refs.org.clone());
        env.insert("REPO_NAME", refs.repo.clone());
        env.insert("SRC_HOST", src_host);
        env.insert("SRC_BASE", src_base);
        env.insert("PULL_BASE_REF", refs.base_ref.clone());
        env.insert("PULL_BASE_SHA", refs.base_sha.clone());
        env.insert("PULL_REFS", refs.pull_refs_string());
        if spec.type_ == ProwJobType::Presubmit {
            let pull = refs
                .pulls
                .first()
                .ok_or_else(|| JobSpecError::MissingPull {
                    job: spec.job.clone(),
                })?;
            env.insert("PULL_NUMBER", pull.number.to_string());
            env.insert("PULL_PULL_SHA", pull.sha.clone());
            env.insert("PULL_HEAD_REF", pull.head_ref.clone());
            env.insert("PULL_TITLE", pull.title.clone());
        }
    }
    Ok(env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `SRC_HOST` and `SRC_BASE`: from `path_alias` (`host/rest`), else from `repo_link`
/// (scheme dropped), else `github.com` and `org/repo`.
fn src_host_and_base(refs: &Refs) -> (String, String) {
    let host_and_path = if !refs.path_alias.is_empty() {
        refs.path_alias.as_str()
    } else if !refs.repo_link.is_empty() {
        refs.repo_link
            .rsplit("://")
            .next()
            .unwrap_or(&refs.repo_link)
    } else {
        return (
            DEFAULT_SRC_HOST.to_owned(),
            format!("{}/{}", refs.org, refs.repo),
        );
    };
    match host_and_path.split_once('/') {
        Some((host, base)) => (host.to_owned(), base.to_owned()),
        None => (
            host_and_path.to_owned(),
            format!("{}/{}", refs.org, refs.repo),
        ),
    }
}

/// Labels and annotations Prow puts on a job's ProwJob and pod, and the labels it had to drop.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelsAndAnnotations {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `(key, value)` of labels removed because neither the value nor its path basename is
    /// a valid label value; Prow only logs these.
    pub dropped: Vec<(String, String)>,
}

/// Prow's `LabelsAndAnnotationsForSpec`: `created-by-prow`, type, job and context (label cut
/// to 63 bytes and trimmed of trailing `._-`, annotation in full), refs org/repo/base_ref/pull
/// from `refs` or else the first extra ref; then `extra_labels` override, invalid values are
/// replaced by their basename or dropped, and `extra_annotations` are merged in.
pub fn labels_and_annotations(
    spec: &ProwJobSpec,
    extra_labels: &BTreeMap<String, String>,
    extra_annotations: &BTreeMap<String, String>,
) -> LabelsAndAnnotations {
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    labels.insert(CREATED_BY_PROW.to_owned(), "true".to_owned());
    labels.insert(TYPE_LABEL.to_owned(), spec.type_.as_str().to_owned());
    for (key, value) in [
        (JOB_ANNOTATION, &spec.job),
        (CONTEXT_ANNOTATION, &spec.context),
    ] {
        labels.insert(key.to_owned(), truncate_label_value(value));
        annotations.insert(key.to_owned(), value.clone());
    }
    if let Some(refs) = spec.refs.as_ref().or(spec.extra_refs.first()) {
        labels.insert(ORG_LABEL.to_owned(), refs.org.clone());
        labels.insert(REPO_LABEL.to_owned(), refs.repo.clone());
        labels.insert(BASE_REF_LABEL.to_owned(), refs.base_ref.clone());
        if let Some(pull) = refs.pulls.first() {
            labels.insert(PULL_LABEL.to_owned(), pull.number.to_string());
        }
    }
    labels.extend(extra_labels.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut dropped = Vec::new();
    labels.retain(|key, value| {
        if is_valid_label_value(value) {
            return true;
        }
        let base = go_path_base(value);
        if is_valid_label_value(base) {
            *value = base.to_owned();
            return true;
        }
        dropped.push((key.clone(), value.clone()));
        false
    });
    annotations.extend(
        extra_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    LabelsAndAnnotations {
        labels,
        annotations,
        dropped,
    }
}

/// A value cut to 63 bytes (Go slices bytes; we back off to a char boundary, which only
/// matters for non-ASCII values, and those are invalid label values either way), then
/// trailing `.`, `_`, `-` trimmed.
pub fn truncate_label_value(value: &str) -> String {
    if value.len() <= LABEL_VALUE_MAX_LEN {
        return value.to_owned();
    }
    let mut end = LABEL_VALUE_MAX_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].trim_end_matches(['.', '_', '-']).to_owned()
}

/// Kubernetes label value rule: empty, or at most 63 characters of `[A-Za-z0-9._-]` that
/// begin and end with an alphanumeric.
pub fn is_valid_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let bytes = value.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    value.len() <= LABEL_VALUE_MAX_LEN
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
}

/// Go's `filepath.Base` on Unix: last element after trailing slashes are removed; `"."` for
/// an empty path, `"/"` for a path of slashes.
fn go_path_base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::prowjob::{Pull, UtilityImages};

    const BASE_SHA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const PULL_SHA: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const PJ_ID: &str = "3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f";

    fn pr_refs() -> Refs {
        Refs {
            repo_link: "https://github.com/acme/foo".into(),
            base_link: format!("https://github.com/acme/foo/commit/{BASE_SHA}"),
            ..Refs::new("acme", "foo").base("main", BASE_SHA).pull(Pull {
                title: "Fix x".into(),
                head_ref: "fix-x".into(),
                link: "https://github.com/acme/foo/pull/42".into(),
                commit_link: format!("https://github.com/acme/foo/pull/42/commits/{PULL_SHA}"),
                author_link: "https://github.com/alice".into(),
                ..Pull::new(42, "alice", PULL_SHA)
            })
        }
    }

    fn presubmit() -> ProwJob {
        ProwJob::builder("pull-foo-unit", ProwJobType::Presubmit)
            .name(PJ_ID)
            .refs(pr_refs())
            .context("pull-foo-unit")
            .build()
    }

    fn env_map(pj: &ProwJob, build_id: &str) -> BTreeMap<String, String> {
        prow_env(pj, build_id).unwrap().into_iter().collect()
    }

    #[test]
    fn presubmit_job_spec_is_byte_identical_to_go() {
        // PROW-REFERENCE §3's example, with the keys of each pull in Go's struct order:
        // encoding/json writes head_ref after title/ref and before link (the reference's
        // example lists it last, which Go never produces).
        let expected = concat!(
            r#"{"type":"presubmit","job":"pull-foo-unit","buildid":"1790000000000000000","prowjobid":"3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f","#,
            r#""refs":{"org":"acme","repo":"foo","repo_link":"https://github.com/acme/foo","base_ref":"main","base_sha":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","base_link":"https://github.com/acme/foo/commit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
            r#""pulls":[{"number":42,"author":"alice","sha":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","title":"Fix x","head_ref":"fix-x","link":"https://github.com/acme/foo/pull/42","commit_link":"https://github.com/acme/foo/pull/42/commits/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","author_link":"https://github.com/alice"}]}}"#,
        );
        let pj = presubmit();
        let json = JobSpec::new(&pj.spec, "1790000000000000000", pj.name())
            .to_json()
            .unwrap();
        assert_eq!(json, expected);
    }

    #[test]
    fn periodic_job_spec_has_no_refs() {
        let pj = ProwJob::builder("ci-foo-nightly", ProwJobType::Periodic)
            .name(PJ_ID)
            .build();
        let json = JobSpec::new(&pj.spec, "1790000000000000001", pj.name())
            .to_json()
            .unwrap();
        assert_eq!(
            json,
            r#"{"type":"periodic","job":"ci-foo-nightly","buildid":"1790000000000000001","prowjobid":"3f6c2a1e-9b1d-4c7e-8f00-1a2b3c4d5e6f"}"#
        );
        let with_extra = ProwJob::builder("ci-foo-nightly", ProwJobType::Periodic)
            .name("x")
            .extra_refs(Refs::new("acme", "foo").base("main", ""))
            .build();
        let json = JobSpec::new(&with_extra.spec, "1", "x").to_json().unwrap();
        assert_eq!(
            json,
            r#"{"type":"periodic","job":"ci-foo-nightly","buildid":"1","prowjobid":"x","extra_refs":[{"org":"acme","repo":"foo","base_ref":"main"}]}"#
        );
    }

    #[test]
    fn job_spec_escapes_and_canonicalizes_like_go() {
        let mut refs = Refs::new("acme", "foo").base("main", "");
        refs.pulls.push(Pull {
            title: "a <b> & c\u{2028}".into(),
            ref_: "refs/changes/00/7/1".into(),
            ..Pull::new(7, "bob", "c")
        });
        let pj = ProwJob::builder("j", ProwJobType::Presubmit)
            .name("x")
            .refs(refs)
            .decoration(DecorationConfig {
                timeout: Some(GoDuration::parse("2h").unwrap()),
                grace_period: Some(GoDuration::parse("15m").unwrap()),
                utility_images: Some(UtilityImages {
                    sidecar: "sidecar:v1".into(),
                    ..UtilityImages::default()
                }),
                ..DecorationConfig::default()
            })
            .build();
        let json = JobSpec::new(&pj.spec, "1", "x").to_json().unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"type":"presubmit","job":"j","buildid":"1","prowjobid":"x","refs":{"org":"acme","repo":"foo","base_ref":"main","#,
                r#""pulls":[{"number":7,"author":"bob","sha":"c","title":"a \u003cb\u003e \u0026 c\u2028","ref":"refs/changes/00/7/1"}]},"#,
                r#""decoration_config":{"timeout":"2h0m0s","grace_period":"15m0s","utility_images":{"sidecar":"sidecar:v1"}}}"#
            )
        );
        let back: JobSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back.refs.unwrap().pulls[0].title, "a <b> & c\u{2028}");
    }

    #[test]
    fn env_per_job_type() {
        let pj = presubmit();
        let env = env_map(&pj, "1790000000000000000");
        let job_spec = JobSpec::new(&pj.spec, "1790000000000000000", PJ_ID)
            .to_json()
            .unwrap();
        let expected: BTreeMap<String, String> = [
            ("BUILD_ID", "1790000000000000000"),
            ("BUILD_NUMBER", "1790000000000000000"),
            ("CI", "true"),
            ("JOB_NAME", "pull-foo-unit"),
            ("JOB_SPEC", job_spec.as_str()),
            ("JOB_TYPE", "presubmit"),
            ("PROW_JOB_ID", PJ_ID),
            ("PULL_BASE_REF", "main"),
            ("PULL_BASE_SHA", BASE_SHA),
            ("PULL_HEAD_REF", "fix-x"),
            ("PULL_NUMBER", "42"),
            ("PULL_PULL_SHA", PULL_SHA),
            ("PULL_REFS", &format!("main:{BASE_SHA},42:{PULL_SHA}")),
            ("PULL_TITLE", "Fix x"),
            ("REPO_NAME", "foo"),
            ("REPO_OWNER", "acme"),
            ("SRC_BASE", "acme/foo"),
            ("SRC_HOST", "github.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);

        // The env is sorted by name, as Prow writes it into the pod.
        let names: Vec<String> = prow_env(&pj, "1")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn env_names_by_type_agent_and_decoration() {
        let names = |pj: &ProwJob| -> Vec<String> { env_map(pj, "7").into_keys().collect() };
        let base = [
            "BUILD_ID",
            "BUILD_NUMBER",
            "CI",
            "JOB_NAME",
            "JOB_SPEC",
            "JOB_TYPE",
            "PROW_JOB_ID",
        ];
        let repo = [
            "PULL_BASE_REF",
            "PULL_BASE_SHA",
            "PULL_REFS",
            "REPO_NAME",
            "REPO_OWNER",
            "SRC_BASE",
            "SRC_HOST",
        ];
        let sorted = |parts: &[&[&str]]| -> Vec<String> {
            let mut v: Vec<String> = parts
                .iter()
                .flat_map(|p| p.iter().map(|s| (*s).to_owned()))
                .collect();
            v.sort();
            v
        };
        let periodic = ProwJob::builder("p", ProwJobType::Periodic)
            .extra_refs(Refs::new("acme", "foo"))
            .build();
        assert_eq!(
            names(&periodic),
            sorted(&[&base]),
            "periodics stop at the base env even with extra_refs"
        );

        let postsubmit = ProwJob::builder("post", ProwJobType::Postsubmit)
            .refs(Refs::new("acme", "foo").base("main", "aaaa"))
            .build();
        assert_eq!(names(&postsubmit), sorted(&[&base, &repo]));
        let batch = ProwJob::builder("batch", ProwJobType::Batch)
            .refs(pr_refs())
            .build();
        assert_eq!(names(&batch), sorted(&[&base, &repo]));

        let jenkins = ProwJob::builder("p", ProwJobType::Periodic)
            .agent(ProwJobAgent::Jenkins)
            .build();
        assert!(!names(&jenkins).contains(&"BUILD_NUMBER".to_owned()));
        let no_agent = ProwJob::builder("p", ProwJobType::Periodic)
            .spec_with(|s| s.agent = None)
            .build();
        assert!(!names(&no_agent).contains(&"BUILD_NUMBER".to_owned()));

        let decorated = ProwJob::builder("p", ProwJobType::Periodic)
            .decoration(DecorationConfig::default())
            .build();
        assert_eq!(
            env_map(&decorated, "7")
                .get("ARTIFACTS")
                .map(String::as_str),
            Some("/logs/artifacts")
        );
    }

    #[test]
    fn batch_pull_refs_list_every_pull() {
        let refs = Refs::new("acme", "foo")
            .base("main", "aaaa")
            .pull(Pull::new(42, "alice", "bbbb"))
            .pull(Pull::new(43, "bob", "cccc"));
        let pj = ProwJob::builder("batch", ProwJobType::Batch)
            .refs(refs)
            .build();
        assert_eq!(env_map(&pj, "1")["PULL_REFS"], "main:aaaa,42:bbbb,43:cccc");
    }

    #[test]
    fn src_host_and_base_from_path_alias_or_repo_link() {
        let cases = [
            // path_alias, repo_link, SRC_HOST, SRC_BASE
            ("", "", "github.com", "acme/foo"),
            (
                "k8s.io/test-infra",
                "https://github.com/acme/foo",
                "k8s.io",
                "test-infra",
            ),
            ("example.com", "", "example.com", "acme/foo"),
            (
                "",
                "https://gitlab.example.com/group/sub/foo",
                "gitlab.example.com",
                "group/sub/foo",
            ),
            (
                "",
                "https://gerrit.example.com",
                "gerrit.example.com",
                "acme/foo",
            ),
            ("", "gerrit.example.com/foo", "gerrit.example.com", "foo"),
        ];
        for (alias, link, host, base) in cases {
            let refs = Refs {
                path_alias: alias.into(),
                repo_link: link.into(),
                ..Refs::new("acme", "foo")
            };
            assert_eq!(
                src_host_and_base(&refs),
                (host.to_owned(), base.to_owned()),
                "{alias:?} {link:?}"
            );
        }
    }

    #[test]
    fn missing_refs_or_pull_is_an_error_not_a_panic() {
        let no_refs = ProwJob::builder("post", ProwJobType::Postsubmit).build();
        assert!(matches!(
            prow_env(&no_refs, "1"),
            Err(JobSpecError::MissingRefs { .. })
        ));
        let no_pull = ProwJob::builder("pre", ProwJobType::Presubmit)
            .refs(Refs::new("acme", "foo").base("main", "aaaa"))
            .build();
        assert!(matches!(
            prow_env(&no_pull, "1"),
            Err(JobSpecError::MissingPull { .. })
        ));
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_for_a_presubmit() {
        let pj = presubmit();
        let out = labels_and_annotations(
            &pj.spec,
            &map(&[("event-GUID", "abc"), ("prow.k8s.io/is-optional", "false")]),
            &map(&[("note", "x")]),
        );
        assert_eq!(
            out.labels,
            map(&[
                ("created-by-prow", "true"),
                ("event-GUID", "abc"),
                ("prow.k8s.io/context", "pull-foo-unit"),
                ("prow.k8s.io/is-optional", "false"),
                ("prow.k8s.io/job", "pull-foo-unit"),
                ("prow.k8s.io/refs.base_ref", "main"),
                ("prow.k8s.io/refs.org", "acme"),
                ("prow.k8s.io/refs.pull", "42"),
                ("prow.k8s.io/refs.repo", "foo"),
                ("prow.k8s.io/type", "presubmit"),
            ])
        );
        assert_eq!(
            out.annotations,
            map(&[
                ("note", "x"),
                ("prow.k8s.io/context", "pull-foo-unit"),
                ("prow.k8s.io/job", "pull-foo-unit")
            ])
        );
        assert!(out.dropped.is_empty());
    }

    #[test]
    fn labels_cut_fix_up_override_and_drop() {
        let long = format!("{}-_.tail", "a".repeat(60));
        let spec = ProwJobSpec {
            type_: ProwJobType::Periodic,
            job: long.clone(),
            extra_refs: vec![Refs::new("acme", "foo").base("release/v1.2", "")],
            ..ProwJobSpec::default()
        };
        let out = labels_and_annotations(
            &spec,
            &map(&[
                ("prow.k8s.io/type", "custom"),
                ("bad", "has space/"),
                ("path", "a/b c/ok"),
            ]),
            &BTreeMap::new(),
        );
        let label = |k: &str| out.labels.get(k).map(String::as_str);
        assert_eq!(
            label("prow.k8s.io/job"),
            Some("a".repeat(60).as_str()),
            "cut to 63 bytes, `-_.` trimmed"
        );
        assert_eq!(
            out.annotations["prow.k8s.io/job"], long,
            "annotation keeps the full value"
        );
        assert_eq!(
            label("prow.k8s.io/context"),
            Some(""),
            "empty context stays as an empty label"
        );
        assert_eq!(
            label("prow.k8s.io/refs.base_ref"),
            Some("v1.2"),
            "invalid value -> basename"
        );
        assert_eq!(
            label("prow.k8s.io/refs.org"),
            Some("acme"),
            "first extra ref without refs"
        );
        assert_eq!(label("prow.k8s.io/refs.pull"), None);
        assert_eq!(
            label("prow.k8s.io/type"),
            Some("custom"),
            "job labels override"
        );
        assert_eq!(label("path"), Some("ok"));
        assert_eq!(label("bad"), None);
        assert_eq!(
            out.dropped,
            vec![("bad".to_owned(), "has space/".to_owned())]
        );
    }

    #[test]
    fn label_value_rules() {
        let cases = [
            ("", true),
            ("a", true),
            ("v1.2", true),
            ("a-b_c.d", true),
            ("-a", false),
            ("a-", false),
            ("a b", false),
            ("release/v1", false),
            ("é", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ];
        for (value, ok) in cases {
            assert_eq!(is_valid_label_value(value), ok, "{value:?}");
        }
        let truncations = [
            ("short", "short"),
            (&format!("{}xyz", "b".repeat(63)), &"b".repeat(63)),
            (&format!("{}.-_xyz", "b".repeat(60)), &"b".repeat(60)),
            // 62 ASCII bytes then a 2-byte char straddling the cut: back off to byte 62.
            (&format!("{}éz", "c".repeat(62)), &"c".repeat(62)),
        ];
        for (value, cut) in truncations {
            assert_eq!(truncate_label_value(value), cut, "{value:?}");
        }
        let bases = [
            ("", "."),
            ("/", "/"),
            ("a/b/", "b"),
            ("release/v1.2", "v1.2"),
            ("x", "x"),
        ];
        for (path, base) in bases {
            assert_eq!(go_path_base(path), base, "{path:?}");
        }
    }
}
