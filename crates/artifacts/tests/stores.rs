//! Black-box: both backends behave the same, and GCS runs against a real fake-gcs-server.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use prow_artifacts::fake_gcs::FakeGcs;
use prow_artifacts::{ArtifactStore, LocalStore};

/// The same contract, whatever the backend.
async fn exercise(store: &dyn ArtifactStore, bucket: &str) {
    let dir = "pr-logs/pull/acme_foo/42/pull-foo-unit/17";
    assert_eq!(
        store
            .get(bucket, &format!("{dir}/started.json"))
            .await
            .unwrap(),
        None
    );
    store
        .put(
            bucket,
            &format!("{dir}/started.json"),
            Bytes::from(r#"{"timestamp":1}"#),
            "application/json",
        )
        .await
        .unwrap();
    store
        .put(
            bucket,
            &format!("{dir}/artifacts/junit 01.xml"),
            Bytes::from("<testsuite/>"),
            "application/xml",
        )
        .await
        .unwrap();
    store
        .put(
            bucket,
            "pr-logs/pull/acme_foo/42/pull-foo-unit/latest-build.txt",
            Bytes::from("17"),
            "text/plain",
        )
        .await
        .unwrap();
    assert!(
        store
            .put_if_absent(
                bucket,
                &format!("{dir}/finished.json"),
                Bytes::from("one"),
                "application/json"
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_if_absent(
                bucket,
                &format!("{dir}/finished.json"),
                Bytes::from("two"),
                "application/json"
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get(bucket, &format!("{dir}/finished.json"))
            .await
            .unwrap(),
        Some(Bytes::from("one"))
    );
    assert_eq!(
        store
            .get(bucket, &format!("{dir}/artifacts/junit 01.xml"))
            .await
            .unwrap(),
        Some(Bytes::from("<testsuite/>"))
    );

    let top = store
        .list(bucket, "pr-logs/pull/acme_foo/42/pull-foo-unit/", Some("/"))
        .await
        .unwrap();
    let names: Vec<&str> = top.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["pr-logs/pull/acme_foo/42/pull-foo-unit/latest-build.txt"]
    );
    assert_eq!(top.objects[0].size, 2);
    assert_eq!(top.prefixes, [format!("{dir}/")]);

    let build = store
        .list(bucket, &format!("{dir}/"), Some("/"))
        .await
        .unwrap();
    let names: Vec<&str> = build.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{dir}/finished.json"),
            format!("{dir}/started.json")
        ]
    );
    assert_eq!(build.prefixes, [format!("{dir}/artifacts/")]);

    let flat = store.list(bucket, &format!("{dir}/"), None).await.unwrap();
    assert_eq!(flat.objects.len(), 3);
    assert!(flat.prefixes.is_empty());
}

#[tokio::test]
async fn local_directory_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("root")).unwrap();
    exercise(&store, "my-bucket").await;
    // Plain files on disk, readable without us.
    let on_disk = std::fs::read_to_string(
        dir.path()
            .join("root/my-bucket/pr-logs/pull/acme_foo/42/pull-foo-unit/latest-build.txt"),
    )
    .unwrap();
    assert_eq!(on_disk, "17");
}

#[tokio::test]
#[ignore = "needs fake-gcs-server (.ci/install-deps installs it; .ci/test runs this)"]
async fn gcs_store_against_fake_gcs_server() {
    let server = FakeGcs::start().await.unwrap();
    server.create_bucket("my-bucket").await.unwrap();
    let store = server.store().unwrap();
    exercise(&store, "my-bucket").await;
    // A bucket that does not exist lists as empty and reads as missing.
    assert!(
        store
            .list("nope", "", Some("/"))
            .await
            .unwrap()
            .objects
            .is_empty()
    );
    assert_eq!(store.get("nope", "x").await.unwrap(), None);
    server.stop().await;
}
