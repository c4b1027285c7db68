//! Shared set-up for Deck's black-box tests: an embedded API server, Deck on top, test data.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_artifacts::ArtifactStore;
use prow_core::config::Config;
use prow_core::prowjob::{
    DecorationConfig, GcsConfiguration, ProwJob, ProwJobState, ProwJobType, Pull, Refs,
    RerunAuthConfig,
};
use prow_deck::auth::Tokens;
use prow_deck::membership::Memberships;
use prow_deck::{DeckOptions, DeckState};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;
use tower::ServiceExt;

pub(crate) const NS: &str = "default";
pub(crate) const BUCKET: &str = "prow-logs";
/// `alice` may rerun/abort (deck config), `mallory` may not.
pub(crate) const TOKENS: &str = "alice-token alice\nmallory-token mallory\n";

pub(crate) struct Env {
    pub api: LocalApi,
    pub state: DeckState,
    pub prowjobs: ProwJobs,
    pub artifacts: tempfile::TempDir,
}

pub(crate) fn config() -> Config {
    let mut config = Config::default();
    config.prow.deck.rerun_auth_configs.insert(
        "*".into(),
        RerunAuthConfig {
            github_users: vec!["alice".into()],
            ..RerunAuthConfig::default()
        },
    );
    config
}

pub(crate) async fn start() -> Env {
    start_with(config()).await
}

pub(crate) async fn start_with(config: Config) -> Env {
    let api = LocalApi::start().await.unwrap();
    let client = api.client().unwrap();
    let artifacts = tempfile::tempdir().unwrap();
    let store: Arc<dyn ArtifactStore> =
        Arc::new(prow_artifacts::LocalStore::new(artifacts.path().to_path_buf()).unwrap());
    let state = DeckState::new(
        Arc::new(config),
        client.clone(),
        NS,
        Some(Tokens::parse(TOKENS, "tokens").unwrap()),
        Some(store),
        DeckOptions::default(),
    );
    assert!(
        state.index.wait_synced(Duration::from_secs(30)).await,
        "index never synced"
    );
    Env {
        api,
        state,
        prowjobs: ProwJobs::new(client, NS),
        artifacts,
    }
}

impl Env {
    /// Creates jobs and waits until the watch has brought them all into the index.
    pub(crate) async fn create(&self, jobs: &[ProwJob]) {
        for pj in jobs {
            self.prowjobs.create(pj).await.unwrap();
        }
        self.wait_for(|s| jobs.iter().all(|pj| s.index.get(pj.name()).is_some()))
            .await;
    }

    pub(crate) async fn wait_for(&self, cond: impl Fn(&DeckState) -> bool) {
        for _ in 0..300 {
            if cond(&self.state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("condition not reached in 30s");
    }

    /// Writes an artifact of `pj`'s run into the local store.
    pub(crate) fn artifact(&self, pj: &ProwJob, rel: &str, body: &str) {
        let paths = prow_artifacts::layout::job_paths_for(pj).unwrap();
        let path = self
            .artifacts
            .path()
            .join(&paths.bucket.name)
            .join(paths.file(rel));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

pub(crate) fn at(second: i64) -> Time {
    Time(Timestamp::from_second(second).unwrap())
}

/// A presubmit on `org/repo#pull` by `author`, started at `second`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn presubmit(
    name: &str,
    job: &str,
    org_repo: &str,
    pull: u64,
    author: &str,
    title: &str,
    state: ProwJobState,
    second: i64,
) -> ProwJob {
    let (org, repo) = org_repo.split_once('/').unwrap();
    let mut refs = Refs::new(org, repo);
    refs.base_ref = "main".into();
    refs.repo_link = format!("https://github.com/{org_repo}");
    let mut p = Pull::new(pull, author, "bbbb");
    p.title = title.into();
    p.link = format!("https://github.com/{org_repo}/pull/{pull}");
    refs.pulls.push(p);
    ProwJob::builder(job, ProwJobType::Presubmit)
        .name(name)
        .namespace(NS)
        .label("prow.k8s.io/type", "presubmit")
        .pod_spec(k8s_openapi::api::core::v1::PodSpec {
            containers: vec![k8s_openapi::api::core::v1::Container {
                name: "test".into(),
                image: Some("golang:1.25".into()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .refs(refs)
        .decoration(DecorationConfig {
            gcs_configuration: Some(GcsConfiguration {
                bucket: BUCKET.into(),
                path_strategy: "explicit".into(),
                ..GcsConfiguration::default()
            }),
            ..DecorationConfig::default()
        })
        .started_at(at(second))
        .state(state)
        .build_id(format!("{}", 1000 + second))
        .build()
}

pub(crate) fn periodic(name: &str, job: &str, state: ProwJobState, second: i64) -> ProwJob {
    ProwJob::builder(job, ProwJobType::Periodic)
        .name(name)
        .namespace(NS)
        .started_at(at(second))
        .state(state)
        .build()
}

/// A response of Deck's router, its body as text.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// `req` through Deck's router, without a socket.
pub(crate) async fn call(env: &Env, req: Request<Body>) -> Answer {
    let response = prow_deck::router(env.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Membership (and trust) checks through a fake GitHub at `github_uri`, as the bot whose token
/// is in `token_path`.
pub(crate) fn memberships_via(github_uri: &str, token_path: &Path) -> Memberships {
    let client = prow_github::connect(&prow_github::Settings {
        endpoint: github_uri.to_owned(),
        token_path: Some(token_path.to_path_buf()),
        dry_run: true,
        ..prow_github::Settings::default()
    })
    .unwrap();
    Memberships::new(client, prow_deck::membership::DEFAULT_TTL)
}
