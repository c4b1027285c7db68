//! Black-box: every backend behaves the same; GCS runs against a real fake-gcs-server and S3
//! against a real moto server, both started by the tests.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use prow_artifacts::counterparts::{FakeGcs, MotoS3, write_service_account_key};
use prow_artifacts::{ArtifactStore, Body, LocalStore, PutOptions, StoreConfig, Stores};

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

/// Streaming uploads: a file larger than several multipart parts, and a gzip-encoded log that
/// readers get back decompressed while the bucket holds it compressed.
async fn exercise_large_files(store: &dyn ArtifactStore, bucket: &str) {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    // Not compressible, 17 MiB: three 8 MiB parts where the backend uploads in parts.
    let mut data = Vec::with_capacity(17 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 17 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&big, &data).unwrap();
    assert!(
        store
            .upload(
                bucket,
                "logs/big/1/artifacts/big.bin",
                Body::File(big),
                &PutOptions::new("application/octet-stream"),
            )
            .await
            .unwrap()
    );
    let back = store
        .get(bucket, "logs/big/1/artifacts/big.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "downloaded bytes differ");

    let log = dir.path().join("build-log.txt");
    let text: String = (0..60_000).map(|i| format!("line {i}: ok\n")).collect();
    std::fs::write(&log, &text).unwrap();
    let gzip = PutOptions {
        gzip: true,
        ..PutOptions::new("text/plain; charset=utf-8")
    };
    store
        .upload(bucket, "logs/big/1/build-log.txt", Body::File(log), &gzip)
        .await
        .unwrap();
    let back = store
        .get(bucket, "logs/big/1/build-log.txt")
        .await
        .unwrap()
        .unwrap();
    assert!(back == text.as_bytes(), "the log reads back decompressed");
    let listed = store
        .list(bucket, "logs/big/1/build-log.txt", None)
        .await
        .unwrap();
    assert_eq!(listed.objects.len(), 1);
    assert!(
        listed.objects[0].size < text.len() as u64 / 4,
        "stored compressed: {} of {}",
        listed.objects[0].size,
        text.len()
    );
}

#[tokio::test]
#[ignore = "needs fake-gcs-server and openssl (.ci/install-deps installs them; .ci/test runs this)"]
async fn gcs_with_a_service_account_key_against_fake_gcs_server() {
    let server = FakeGcs::start().await.unwrap();
    server.create_bucket("my-bucket").await.unwrap();
    let secrets = tempfile::tempdir().unwrap();
    // As Prow mounts gcs_credentials_secret: the key signs every request (object_store makes a
    // self-signed JWT from it); the emulator accepts any bearer.
    let key = write_service_account_key(secrets.path()).unwrap();
    let store = Stores::new(server.config(Some(key))).unwrap();
    exercise(&store, "gs://my-bucket").await;
    exercise_large_files(&store, "gs://my-bucket").await;
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs fake-gcs-server (.ci/install-deps installs it; .ci/test runs this)"]
async fn gcs_anonymous_against_fake_gcs_server() {
    let server = FakeGcs::start().await.unwrap();
    server.create_bucket("my-bucket").await.unwrap();
    // A bare bucket name is GCS, as in Prow's gcs_configuration.
    exercise(&server.store().unwrap(), "my-bucket").await;
    assert_eq!(
        server.store().unwrap().get("my-bucket", "x").await.unwrap(),
        None
    );
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs moto_server (pip install 'moto[server]'; .ci/install-deps installs it)"]
async fn s3_with_prow_credentials_file_against_moto() {
    let server = MotoS3::start().await.unwrap();
    server.create_bucket("prow-artifacts").await.unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let creds = server.write_credentials(secrets.path()).unwrap();
    let store = Stores::new(StoreConfig {
        s3_credentials_file: Some(creds),
        ..StoreConfig::default()
    })
    .unwrap();
    exercise(&store, "s3://prow-artifacts").await;
    exercise_large_files(&store, "s3://prow-artifacts").await;
    // A bucket that does not exist reads as missing objects; listing it is a configuration
    // error worth surfacing, not an empty run.
    assert_eq!(store.get("s3://nope", "x").await.unwrap(), None);
    assert!(store.list("s3://nope", "", Some("/")).await.is_err());
    server.stop().await;
}

/// Fails the first `failures` requests with 503, then accepts every PUT as S3 does.
struct FlakyS3 {
    failures: usize,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl wiremock::Respond for FlakyS3 {
    fn respond(&self, _: &wiremock::Request) -> wiremock::ResponseTemplate {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < self.failures {
            wiremock::ResponseTemplate::new(503)
                .set_body_string("<Error><Code>SlowDown</Code></Error>")
        } else {
            wiremock::ResponseTemplate::new(200).insert_header("ETag", "\"0123\"")
        }
    }
}

#[tokio::test]
async fn transient_server_errors_are_retried_with_backoff() {
    let server = wiremock::MockServer::start().await;
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    wiremock::Mock::given(wiremock::matchers::method("PUT"))
        .and(wiremock::matchers::path("/bkt/logs/ci-foo/1/started.json"))
        .respond_with(FlakyS3 {
            failures: 2,
            seen: seen.clone(),
        })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("s3.json");
    std::fs::write(
        &creds,
        serde_json::json!({
            "region": "us-east-1", "endpoint": server.uri(), "s3_force_path_style": true,
            "access_key": "a", "secret_key": "s",
        })
        .to_string(),
    )
    .unwrap();
    let store = Stores::new(StoreConfig {
        s3_credentials_file: Some(creds),
        ..StoreConfig::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    store
        .put(
            "s3://bkt",
            "logs/ci-foo/1/started.json",
            Bytes::from("{}"),
            "application/json",
        )
        .await
        .unwrap();
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Two waits of the exponential backoff, starting at 200 ms.
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
}
