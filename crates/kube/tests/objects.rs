//! ProwJob and Pod access against the embedded API server over HTTP: idempotent creates,
//! conflict-retried updates, status writes, selectors, deletes.

use prow_core::prowjob::{ProwJob, ProwJobState, ProwJobType};
use prow_kube::test_support::LocalApi;
use prow_kube::{Created, ProwJobs};

fn job(name: &str) -> ProwJob {
    ProwJob::builder("pull-unit", ProwJobType::Presubmit)
        .name(name)
        .namespace("default")
        .label("app", "x")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_are_idempotent_and_updates_survive_conflicts() {
    let api = LocalApi::start().await.expect("server");
    let jobs = ProwJobs::new(api.client().expect("client"), "default");

    assert!(matches!(
        jobs.create(&job("a")).await.expect("create"),
        Created::New(_)
    ));
    assert_eq!(
        jobs.create(&job("a")).await.expect("repeat create"),
        Created::Existing
    );
    jobs.create(&job("b")).await.expect("create b");

    // A writer that loses a race once: the first attempt's copy is made stale by a concurrent
    // write, the API server answers 409, and the update is re-applied to a fresh read.
    let other = jobs.clone();
    let mut raced = false;
    let updated = jobs
        .update("a", |pj| {
            if !raced {
                raced = true;
                // Run the competing write to completion before our write is sent.
                let other = other.clone();
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(other.update("a", |pj| {
                        pj.metadata
                            .labels
                            .get_or_insert_default()
                            .insert("winner".into(), "other".into());
                        true
                    }))
                })
                .expect("competing update");
            }
            pj.metadata
                .labels
                .get_or_insert_default()
                .insert("mine".into(), "yes".into());
            true
        })
        .await
        .expect("update")
        .expect("exists");
    let labels = updated.metadata.labels.expect("labels");
    assert_eq!(labels.get("mine").map(String::as_str), Some("yes"));
    assert_eq!(
        labels.get("winner").map(String::as_str),
        Some("other"),
        "the competing write is kept"
    );

    let pending = jobs
        .update_status("b", |pj| {
            pj.status.state = ProwJobState::Pending;
            true
        })
        .await
        .expect("status")
        .expect("exists");
    assert_eq!(pending.status.state, ProwJobState::Pending);
    assert_eq!(
        jobs.get("b")
            .await
            .expect("get")
            .expect("exists")
            .status
            .state,
        ProwJobState::Pending
    );

    assert_eq!(
        jobs.list(Some("winner=other")).await.expect("list").len(),
        1
    );
    assert_eq!(jobs.list(None).await.expect("list").len(), 2);
    assert!(
        jobs.update_status("missing", |_| true)
            .await
            .expect("no error")
            .is_none()
    );

    jobs.delete("a").await.expect("delete");
    jobs.delete("a").await.expect("delete again is fine");
    assert!(jobs.get("a").await.expect("get").is_none());
}
