//! Crash test: objects written through the standalone server survive SIGKILL with the same resourceVersions.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use common::{client_for, prowjob, prowjobs};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `prow-apiserver --db <path>` on a free port and returns it with its URL.
async fn spawn_server(db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prow-apiserver"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("server did not report its address")
        .unwrap()
        .unwrap();
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    (child, url)
}

async fn snapshot(url: &str) -> (BTreeMap<String, (String, String)>, String) {
    let api = prowjobs(&client_for(url), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let items = list
        .items
        .into_iter()
        .map(|o| {
            let state = o.data["status"]["state"].as_str().unwrap().to_string();
            (
                o.metadata.name.unwrap(),
                (o.metadata.resource_version.unwrap(), state),
            )
        })
        .collect();
    (items, list.metadata.resource_version.unwrap())
}

#[tokio::test]
async fn committed_writes_survive_sigkill_with_their_resource_versions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.redb");

    let (mut child, url) = spawn_server(&db).await;
    let api = prowjobs(&client_for(&url), "default");
    for i in 0..5 {
        api.create(
            &PostParams::default(),
            &prowjob(&format!("pj{i}")).dynamic(),
        )
        .await
        .unwrap();
    }
    api.patch_status(
        "pj1",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"state": "success"}})),
    )
    .await
    .unwrap();
    api.delete("pj4", &DeleteParams::default()).await.unwrap();
    let before = snapshot(&url).await;
    assert_eq!(before.0.len(), 4);

    // Child::kill sends SIGKILL: no shutdown code runs.
    child.kill().await.unwrap();
    child.wait().await.unwrap();

    let (_child, url) = spawn_server(&db).await;
    let after = snapshot(&url).await;
    assert_eq!(
        after, before,
        "objects, their resourceVersions and the list version survive"
    );
    assert_eq!(after.0["pj1"].1, "success");

    // The version counter continues where it stopped.
    let api = prowjobs(&client_for(&url), "default");
    let created = api
        .create(&PostParams::default(), &prowjob("pj-new").dynamic())
        .await
        .unwrap();
    let new_rv: u64 = created.metadata.resource_version.unwrap().parse().unwrap();
    let old_rv: u64 = before.1.parse().unwrap();
    assert_eq!(new_rv, old_rv + 1);
}
