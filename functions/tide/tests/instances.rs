//! Several tide instances share one stored index while each keeps its own decoded copy between
//! events. A copy that another instance's write made stale must never cost an event: a change
//! written from it conflicts and is redone on the stored index, and "this event changes
//! nothing" is only concluded against the stored index.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use prow_github::{DryRunGitHub, GitHub};
use prow_kube::test_support::LocalApi;
use prow_tide::index::{Context, ContextState, Observation, PrFacts};
use prow_tide::store::IndexStore;
use prow_tide::{TideState, shell};

const CONFIG: &str =
    "prowjob_namespace: default\ntide:\n  queries:\n  - repos: [acme/foo]\n    labels: [lgtm]\n";
const HEAD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

async fn instance(api: &LocalApi, store: IndexStore) -> TideState {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path,
        job_config_path: None,
        plugin_config_path: None,
    })
    .unwrap()
    .config;
    let github: Arc<dyn GitHub> =
        Arc::new(DryRunGitHub::new().with_ref("acme", "foo", "heads/main", "base"));
    TideState::new(Arc::new(config), api.client().unwrap(), github)
        .with_store(store)
        .with_merge_backoff(Duration::ZERO)
}

fn ci(state: ContextState) -> Observation {
    Observation::Context {
        sha: HEAD.into(),
        name: "ci".into(),
        context: Context {
            state,
            description: String::new(),
        },
    }
}

async fn stored_ci(store: &IndexStore) -> Option<ContextState> {
    let fresh = store.load_fresh("acme", "foo").await.unwrap();
    fresh.index.prs[&1].contexts.get("ci").map(|c| c.state)
}

#[tokio::test]
async fn a_copy_made_stale_by_another_instance_loses_no_event() {
    let api = LocalApi::start().await.unwrap();
    let store_a = IndexStore::memory();
    let store_b = store_a.another_instance();
    let a = instance(&api, store_a.clone()).await;
    let b = instance(&api, store_b.clone()).await;
    let pr = Observation::PullRequest(Box::new(PrFacts {
        number: 1,
        head_sha: HEAD.into(),
        base_ref: "main".into(),
        ..PrFacts::default()
    }));

    // A indexes the PR with ci passing and keeps that copy.
    shell::sync_repo(&a, "acme", "foo", |i| i.observe(&pr))
        .await
        .unwrap();
    shell::sync_repo(&a, "acme", "foo", |i| i.observe(&ci(ContextState::Success)))
        .await
        .unwrap();
    assert!(store_a.load("acme", "foo").await.unwrap().cached);

    // B learns ci went pending (a re-run): A's copy is now stale.
    shell::sync_repo(&b, "acme", "foo", |i| i.observe(&ci(ContextState::Pending)))
        .await
        .unwrap();
    assert_eq!(stored_ci(&store_b).await, Some(ContextState::Pending));

    // The re-run passed. Against A's stale copy this changes nothing; against the stored
    // index it does, and it must be recorded.
    shell::sync_repo(&a, "acme", "foo", |i| i.observe(&ci(ContextState::Success)))
        .await
        .unwrap();
    // Found by reading the stored index, not by a conflicting write: A wrote nothing stale.
    assert_eq!(a.metrics.index_conflicts.get(), 0);
    assert_eq!(stored_ci(&store_a).await, Some(ContextState::Success));

    // A change written from a stale copy conflicts and is redone on the stored index.
    shell::sync_repo(&b, "acme", "foo", |i| i.observe(&ci(ContextState::Failure)))
        .await
        .unwrap();
    let conflicts_before = b.metrics.index_conflicts.get();
    shell::sync_repo(&b, "acme", "foo", |i| i.observe(&ci(ContextState::Error)))
        .await
        .unwrap();
    assert_eq!(b.metrics.index_conflicts.get(), conflicts_before);
    let a_conflicts = a.metrics.index_conflicts.get();
    shell::sync_repo(&a, "acme", "foo", |i| {
        i.observe(&Observation::Context {
            sha: HEAD.into(),
            name: "lint".into(),
            context: Context {
                state: ContextState::Success,
                description: String::new(),
            },
        })
    })
    .await
    .unwrap();
    assert_eq!(a.metrics.index_conflicts.get(), a_conflicts + 1);
    let fresh = store_a.load_fresh("acme", "foo").await.unwrap();
    let contexts = &fresh.index.prs[&1].contexts;
    assert_eq!(contexts["ci"].state, ContextState::Error, "B's write kept");
    assert_eq!(
        contexts["lint"].state,
        ContextState::Success,
        "A's event kept"
    );
}
