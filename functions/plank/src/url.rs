//! The job URL plank writes to `status.url` (crier's `target_url`): Prow's storage-browser link, or a Deck link.
//!
//! Prow uses `<job_url_prefix>/<provider>/<bucket>/<build dir>` for decorated jobs (prefix from
//! the job's `gcs_configuration.job_url_prefix`, else `plank.job_url_prefix_config` keyed
//! `org/repo`, `org`, `*`) and evaluates the Go template `plank.job_url_template` against the
//! ProwJob otherwise, as we do. Without a template (or when it fails to render, which Prow only
//! logs), a job links to Deck's ProwJob page, `<deck_url>/prowjob?prowjob=<name>`, when a Deck
//! URL is configured, and gets no URL otherwise.
//!
//! Under `prow up` ([`UrlSettings::local_deck_only`]) the jobs and their artifacts exist only on
//! this machine, so a configured prefix or template that leads elsewhere (say Kubernetes'
//! `https://prow.k8s.io/view/`) would link to pages that cannot show them: such links go to the
//! local Deck instead (its `/view/` storage pages, or its ProwJob page). A prefix or rendered
//! template on a loopback host or on the local Deck's own address is kept.

use std::collections::BTreeMap;

use prow_core::prowjob::{GcsConfiguration, ProwJob, ProwJobType};

/// Where job URLs point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlSettings {
    /// `plank.job_url_prefix_config`: `*`, `org` or `org/repo` -> prefix such as `https://prow.example.com/view/`.
    pub job_url_prefix_config: BTreeMap<String, String>,
    /// Deck's base URL for jobs without a storage link.
    pub deck_url: Option<String>,
    /// `plank.job_url_template`, a Go template over the ProwJob.
    pub job_url_template: Option<String>,
    /// Links must reach `deck_url`'s machine: configured ones that point off it are replaced.
    pub local_deck_only: bool,
}

impl UrlSettings {
    /// Whether a configured link may be used as it is.
    fn reachable(&self, url: &str) -> bool {
        if !self.local_deck_only {
            return true;
        }
        let Some(target) = authority(url) else {
            return false;
        };
        is_loopback(host(target))
            || self
                .deck_url
                .as_deref()
                .and_then(authority)
                .is_some_and(|deck| deck.eq_ignore_ascii_case(target))
    }

    /// Deck's storage pages, for prefixes that cannot be reached.
    fn local_prefix(&self) -> Option<String> {
        let deck = self.deck_url.as_deref()?;
        Some(format!("{}/view/", deck.trim_end_matches('/')))
    }
}

/// `host[:port]` of an absolute `scheme://` URL, without user info.
fn authority(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    (!authority.is_empty()).then_some(authority)
}

/// The host of an authority: `[v6]` unbracketed, the port cut off.
fn host(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `status.url` for `pj` running as `build_id`.
pub fn job_url(pj: &ProwJob, build_id: &str, settings: &UrlSettings) -> String {
    let gcs = pj
        .spec
        .decoration_config
        .as_ref()
        .and_then(|d| d.gcs_configuration.as_ref())
        .filter(|g| !g.bucket.is_empty());
    if let Some(gcs) = gcs {
        let mut prefix = if gcs.job_url_prefix.is_empty() {
            url_prefix(pj, &settings.job_url_prefix_config)
        } else {
            gcs.job_url_prefix.clone()
        };
        if !settings.reachable(&prefix) {
            prefix = settings.local_prefix().unwrap_or_default();
        }
        if !prefix.is_empty() {
            let (provider, bucket) = match gcs.bucket.split_once("://") {
                Some((scheme, bucket)) => (scheme, bucket),
                None => ("gs", gcs.bucket.as_str()),
            };
            return format!(
                "{}/{provider}/{bucket}/{}",
                prefix.trim_end_matches('/'),
                build_dir(pj, gcs, build_id)
            );
        }
    }
    if let Some(template) = settings
        .job_url_template
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        let mut with_build = pj.clone();
        if with_build.status.build_id.is_empty() {
            with_build.status.build_id = build_id.to_owned();
        }
        match prow_core::gotemplate::render_prowjob(template, &with_build) {
            Ok(url) if settings.reachable(&url) => return url,
            Ok(_) => {}
            Err(err) => tracing::warn!(job = pj.name(), %err, "job_url_template did not render"),
        }
    }
    match &settings.deck_url {
        Some(deck) if !pj.name().is_empty() => {
            format!(
                "{}/prowjob?prowjob={}",
                deck.trim_end_matches('/'),
                pj.name()
            )
        }
        _ => String::new(),
    }
}

/// Prow's `GetJobURLPrefix` lookup: `org/repo`, then `org`, then `*`.
fn url_prefix(pj: &ProwJob, config: &BTreeMap<String, String>) -> String {
    let refs = pj.spec.main_refs();
    let keys = refs
        .map(|r| vec![format!("{}/{}", r.org, r.repo), r.org.clone()])
        .unwrap_or_default();
    keys.iter()
        .map(String::as_str)
        .chain(["*"])
        .find_map(|k| config.get(k))
        .cloned()
        .unwrap_or_default()
}

/// The artifact directory under the bucket (§4 of the reference): `logs/<job>/<id>` for
/// periodics and postsubmits, `pr-logs/pull/<seg>/<pr>/<job>/<id>` for presubmits,
/// `pr-logs/pull/batch/<job>/<id>` for batches, below the optional `path_prefix`.
pub fn build_dir(pj: &ProwJob, gcs: &GcsConfiguration, build_id: &str) -> String {
    let job = &pj.spec.job;
    let refs = pj.spec.refs.as_ref();
    let dir = match pj.spec.type_ {
        ProwJobType::Presubmit => {
            let seg = refs
                .map(|r| repo_segment(gcs, &r.org, &r.repo))
                .unwrap_or_default();
            let pr = refs
                .and_then(|r| r.pulls.first())
                .map(|p| p.number.to_string())
                .unwrap_or_default();
            join(&["pr-logs/pull", &seg, &pr, job, build_id])
        }
        ProwJobType::Batch => join(&["pr-logs/pull/batch", job, build_id]),
        ProwJobType::Periodic | ProwJobType::Postsubmit => join(&["logs", job, build_id]),
    };
    join(&[gcs.path_prefix.trim_matches('/'), &dir])
}

/// `path_strategy`: `explicit` (also the default here) is always `org_repo`; `legacy` drops
/// the default org; `single` only omits the default org/repo.
fn repo_segment(gcs: &GcsConfiguration, org: &str, repo: &str) -> String {
    let default_pair = org == gcs.default_org && repo == gcs.default_repo;
    match gcs.path_strategy.as_str() {
        "legacy" if default_pair => String::new(),
        "legacy" if org == gcs.default_org => repo.to_owned(),
        "single" if default_pair => String::new(),
        _ => format!("{org}_{repo}"),
    }
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use prow_core::prowjob::{DecorationConfig, Pull, Refs};

    use super::*;

    fn decorated(type_: ProwJobType, bucket: &str, strategy: &str) -> ProwJob {
        let gcs = GcsConfiguration {
            bucket: bucket.into(),
            path_strategy: strategy.into(),
            default_org: "kubernetes".into(),
            default_repo: "kubernetes".into(),
            ..GcsConfiguration::default()
        };
        let b = ProwJob::builder("pull-foo-unit", type_)
            .name("pj-1")
            .decoration(DecorationConfig {
                gcs_configuration: Some(gcs),
                ..DecorationConfig::default()
            });
        match type_ {
            ProwJobType::Periodic => b.build(),
            _ => b
                .refs(
                    Refs::new("acme", "foo")
                        .base("main", "aaaa")
                        .pull(Pull::new(42, "alice", "bbbb")),
                )
                .build(),
        }
    }

    fn prefixes(pairs: &[(&str, &str)]) -> UrlSettings {
        UrlSettings {
            job_url_prefix_config: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            deck_url: Some("http://deck.local/".into()),
            job_url_template: None,
            local_deck_only: false,
        }
    }

    /// `prow up`: Kubernetes' prefix and template lead to prow.k8s.io, which cannot show a job
    /// that ran here, so the links go to the local Deck; loopback ones and Deck's own stay.
    #[test]
    fn under_prow_up_links_off_this_machine_go_to_the_local_deck() {
        let mut local = prefixes(&[("*", "https://prow.k8s.io/view/")]);
        local.deck_url = Some("http://127.0.0.1:8081".into());
        local.local_deck_only = true;
        let pj = decorated(ProwJobType::Periodic, "kubernetes-ci-logs", "explicit");
        assert_eq!(
            job_url(&pj, "7", &local),
            "http://127.0.0.1:8081/view/gs/kubernetes-ci-logs/logs/pull-foo-unit/7"
        );
        for reachable in [
            "http://localhost:9000/view/",
            "http://127.0.0.1:8081/view/",
            "http://[::1]:8081/view/",
            "http://deck.localhost/view/",
        ] {
            local
                .job_url_prefix_config
                .insert("*".into(), reachable.into());
            assert_eq!(
                job_url(&pj, "7", &local),
                format!("{reachable}gs/kubernetes-ci-logs/logs/pull-foo-unit/7"),
                "{reachable}"
            );
        }
        // The job's own prefix is held to the same rule.
        let mut own = pj.clone();
        if let Some(gcs) = own
            .spec
            .decoration_config
            .as_mut()
            .and_then(|d| d.gcs_configuration.as_mut())
        {
            gcs.job_url_prefix = "https://user@prow.example.com:443/view/".into();
        }
        assert!(job_url(&own, "7", &local).starts_with("http://127.0.0.1:8081/view/gs/"));

        let mut undecorated = pj.clone();
        undecorated.spec.decoration_config = None;
        local.job_url_template =
            Some("https://prow.k8s.io/view/gs/b/logs/{{.Spec.Job}}/{{.Status.BuildID}}".into());
        assert_eq!(
            job_url(&undecorated, "7", &local),
            "http://127.0.0.1:8081/prowjob?prowjob=pj-1"
        );
        local.job_url_template = Some("http://127.0.0.1:8081/view/{{.ObjectMeta.Name}}".into());
        assert_eq!(
            job_url(&undecorated, "7", &local),
            "http://127.0.0.1:8081/view/pj-1"
        );
        // Outside prow up nothing is rewritten.
        local.local_deck_only = false;
        local.job_url_template = Some("https://prow.k8s.io/{{.Spec.Job}}".into());
        assert_eq!(
            job_url(&undecorated, "7", &local),
            "https://prow.k8s.io/pull-foo-unit"
        );
    }

    #[test]
    fn undecorated_jobs_render_job_url_template_like_prow() {
        let pj = ProwJob::builder("ci-foo", ProwJobType::Periodic)
            .name("pj-9")
            .build();
        let mut settings = prefixes(&[("*", "https://star/")]);
        settings.job_url_template = Some(
            "https://prow.example.com/view/gs/bucket/{{if .Spec.Refs}}pr-logs{{else}}logs{{end}}/{{.Spec.Job}}/{{.Status.BuildID}}".into(),
        );
        assert_eq!(
            job_url(&pj, "17", &settings),
            "https://prow.example.com/view/gs/bucket/logs/ci-foo/17"
        );
        // A template that does not render (Prow logs it) falls back to Deck.
        settings.job_url_template = Some("{{.Spec.NoSuchField}}".into());
        assert_eq!(
            job_url(&pj, "17", &settings),
            "http://deck.local/prowjob?prowjob=pj-9"
        );
    }

    #[test]
    fn decorated_jobs_link_to_their_artifacts_under_the_configured_prefix() {
        let star = prefixes(&[("*", "https://prow.example.com/view/")]);
        let table = [
            (
                decorated(ProwJobType::Presubmit, "my-bucket", "explicit"),
                "https://prow.example.com/view/gs/my-bucket/pr-logs/pull/acme_foo/42/pull-foo-unit/1790",
            ),
            (
                decorated(ProwJobType::Postsubmit, "gs://my-bucket", ""),
                "https://prow.example.com/view/gs/my-bucket/logs/pull-foo-unit/1790",
            ),
            (
                decorated(ProwJobType::Periodic, "s3://logs", ""),
                "https://prow.example.com/view/s3/logs/logs/pull-foo-unit/1790",
            ),
            (
                decorated(ProwJobType::Batch, "my-bucket", ""),
                "https://prow.example.com/view/gs/my-bucket/pr-logs/pull/batch/pull-foo-unit/1790",
            ),
        ];
        for (pj, want) in table {
            assert_eq!(job_url(&pj, "1790", &star), want, "{:?}", pj.spec.type_);
        }
    }

    #[test]
    fn the_prefix_is_looked_up_by_repo_then_org_then_star_and_the_jobs_own_prefix_wins() {
        let pj = decorated(ProwJobType::Postsubmit, "b", "");
        let table = [
            (
                vec![
                    ("*", "https://star/"),
                    ("acme", "https://org/"),
                    ("acme/foo", "https://repo"),
                ],
                "https://repo/gs/b/logs/pull-foo-unit/1",
            ),
            (
                vec![("*", "https://star/"), ("acme", "https://org/")],
                "https://org/gs/b/logs/pull-foo-unit/1",
            ),
            (
                vec![("*", "https://star/"), ("other", "https://org/")],
                "https://star/gs/b/logs/pull-foo-unit/1",
            ),
        ];
        for (config, want) in table {
            assert_eq!(job_url(&pj, "1", &prefixes(&config)), want);
        }
        let mut own = pj.clone();
        if let Some(g) = own
            .spec
            .decoration_config
            .as_mut()
            .and_then(|d| d.gcs_configuration.as_mut())
        {
            g.job_url_prefix = "https://own/view".into();
        }
        assert_eq!(
            job_url(&own, "1", &prefixes(&[("*", "https://star/")])),
            "https://own/view/gs/b/logs/pull-foo-unit/1"
        );
    }

    #[test]
    fn path_strategies_name_the_repo_segment_like_prow() {
        let gcs = |strategy: &str| GcsConfiguration {
            path_strategy: strategy.into(),
            default_org: "kubernetes".into(),
            default_repo: "kubernetes".into(),
            ..GcsConfiguration::default()
        };
        let table = [
            (
                "explicit",
                "kubernetes",
                "kubernetes",
                "kubernetes_kubernetes",
            ),
            ("legacy", "kubernetes", "kubernetes", ""),
            ("legacy", "kubernetes", "test-infra", "test-infra"),
            ("legacy", "acme", "foo", "acme_foo"),
            ("single", "kubernetes", "kubernetes", ""),
            (
                "single",
                "kubernetes",
                "test-infra",
                "kubernetes_test-infra",
            ),
        ];
        for (strategy, org, repo, want) in table {
            assert_eq!(
                repo_segment(&gcs(strategy), org, repo),
                want,
                "{strategy} {org}/{repo}"
            );
        }
    }

    #[test]
    fn path_prefix_goes_before_the_build_dir() {
        let pj = decorated(ProwJobType::Periodic, "b", "");
        let gcs = GcsConfiguration {
            path_prefix: "/tenant-a/".into(),
            ..GcsConfiguration::default()
        };
        assert_eq!(build_dir(&pj, &gcs, "7"), "tenant-a/logs/pull-foo-unit/7");
    }

    #[test]
    fn undecorated_jobs_link_to_deck_or_to_nothing() {
        let pj = ProwJob::builder("ci-foo", ProwJobType::Periodic)
            .name("pj-9")
            .build();
        assert_eq!(
            job_url(&pj, "1", &prefixes(&[("*", "https://star/")])),
            "http://deck.local/prowjob?prowjob=pj-9"
        );
        assert_eq!(job_url(&pj, "1", &UrlSettings::default()), "");
        // Decorated, but no prefix anywhere: Deck again.
        let no_prefix = decorated(ProwJobType::Periodic, "b", "");
        assert_eq!(
            job_url(&no_prefix, "1", &prefixes(&[])),
            "http://deck.local/prowjob?prowjob=pj-1"
        );
    }
}
