//! Black-box tests: `kube::Client` against the real server over loopback HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Running, api_status, eventually, prowjob, prowjobs};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{
    DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Resource};
use prow_local::{LogTarget, MemoryLogs};
use serde_json::json;

fn rv(obj: &kube::api::DynamicObject) -> u64 {
    obj.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn prowjobs_can_be_created_read_listed_replaced_and_deleted() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");

    let created = api
        .create(&PostParams::default(), &prowjob("pj1").dynamic())
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));

    let fetched = api.get("pj1").await.unwrap();
    assert_eq!(
        fetched.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(fetched.data["spec"]["job"], "ci-test");

    let mut changed = fetched.clone();
    changed.data["spec"]["job"] = json!("ci-other");
    let replaced = api
        .replace("pj1", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert!(rv(&replaced) > rv(&fetched));
    assert_eq!(replaced.metadata.generation, Some(2));

    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.metadata.resource_version.is_some());

    let dup = api
        .create(&PostParams::default(), &prowjob("pj1").dynamic())
        .await
        .unwrap_err();
    assert_eq!(api_status(dup).reason, "AlreadyExists");

    let deleted = api
        .delete("pj1", &DeleteParams::background())
        .await
        .unwrap();
    assert!(deleted.is_left(), "delete returns the object");
    assert!(api.get_opt("pj1").await.unwrap().is_none());
    let missing = api.get("pj1").await.unwrap_err();
    let status = api_status(missing);
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "prowjobs.prow.k8s.io \"pj1\" not found");
}

#[tokio::test]
async fn replacing_with_a_stale_resource_version_conflicts() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    let first = api
        .create(&PostParams::default(), &prowjob("pj1").dynamic())
        .await
        .unwrap();
    let mut a = first.clone();
    a.data["spec"]["job"] = json!("a");
    api.replace("pj1", &PostParams::default(), &a)
        .await
        .unwrap();
    let mut b = first.clone();
    b.data["spec"]["job"] = json!("b");
    let err = api
        .replace("pj1", &PostParams::default(), &b)
        .await
        .unwrap_err();
    let status = api_status(err);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(api.get("pj1").await.unwrap().data["spec"]["job"], "a");
}

#[tokio::test]
async fn status_subresource_owns_status_and_main_resource_owns_the_rest() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    api.create(&PostParams::default(), &prowjob("pj1").dynamic())
        .await
        .unwrap();

    let main_patch = json!({"spec": {"job": "renamed"}, "status": {"state": "success"}});
    let after_main = api
        .patch("pj1", &PatchParams::default(), &Patch::Merge(&main_patch))
        .await
        .unwrap();
    assert_eq!(after_main.data["spec"]["job"], "renamed");
    assert_eq!(
        after_main.data["status"]["state"], "triggered",
        "status is ignored on the main resource"
    );
    assert_eq!(after_main.metadata.generation, Some(2));

    let status_patch = json!({"spec": {"job": "ignored"}, "status": {"state": "pending"}});
    let after_status = api
        .patch_status("pj1", &PatchParams::default(), &Patch::Merge(&status_patch))
        .await
        .unwrap();
    assert_eq!(after_status.data["status"]["state"], "pending");
    assert_eq!(
        after_status.data["spec"]["job"], "renamed",
        "spec is ignored on /status"
    );
    assert_eq!(
        after_status.metadata.generation,
        Some(2),
        "status writes do not bump generation"
    );

    let got = api.get_status("pj1").await.unwrap();
    assert_eq!(got.data["status"]["state"], "pending");

    let mut replace = got.clone();
    replace.data["status"]["state"] = json!("success");
    let replaced = api
        .replace_status("pj1", &PostParams::default(), &replace)
        .await
        .unwrap();
    assert_eq!(replaced.data["status"]["state"], "success");
}

#[tokio::test]
async fn other_patch_types_apply() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    api.create(&PostParams::default(), &prowjob("pj1").dynamic())
        .await
        .unwrap();

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/job", "value": "ci-test"},
        {"op": "replace", "path": "/spec/job", "value": "via-json-patch"}
    ]))
    .unwrap();
    let patched = api
        .patch("pj1", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["job"], "via-json-patch");

    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/job", "value": "nope"}]))
            .unwrap();
    let err = api
        .patch("pj1", &PatchParams::default(), &Patch::Json::<()>(failing))
        .await
        .unwrap_err();
    assert_eq!(api_status(err).code, 409);

    // Server-side apply creates missing objects and merges into existing ones.
    let ssa = PatchParams::apply("test-manager");
    let applied = api
        .patch("pj2", &ssa, &Patch::Apply(prowjob("pj2").json()))
        .await
        .unwrap();
    assert_eq!(applied.metadata.name.as_deref(), Some("pj2"));
    let again = api
        .patch("pj2", &ssa, &Patch::Apply(json!({"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob", "metadata": {"labels": {"extra": "yes"}}})))
        .await
        .unwrap();
    assert_eq!(again.metadata.labels.unwrap()["extra"], "yes");
    assert_eq!(again.data["spec"]["job"], "ci-test");
}

#[tokio::test]
async fn invalid_prowjobs_are_rejected_with_field_paths() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    let bad = prowjob("bad")
        .spec("type", json!("bogus"))
        .spec("max_concurrency", json!("many"));
    let err = api
        .create(&PostParams::default(), &bad.dynamic())
        .await
        .unwrap_err();
    let status = api_status(err);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let mut fields: Vec<String> = status
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| c.field)
        .collect();
    fields.sort();
    assert_eq!(fields, vec!["spec.max_concurrency", "spec.type"]);
    assert!(api.get_opt("bad").await.unwrap().is_none());

    // Unknown fields are pruned (no strict validation requested), as a real API server does.
    let extra = prowjob("extra").spec("not_a_field", json!(1));
    let stored = api
        .create(&PostParams::default(), &extra.dynamic())
        .await
        .unwrap();
    assert!(stored.data["spec"].get("not_a_field").is_none());
}

#[tokio::test]
async fn generate_name_yields_unique_names() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    let a = api
        .create(
            &PostParams::default(),
            &prowjob("").generate_name("run-").dynamic(),
        )
        .await
        .unwrap();
    let b = api
        .create(
            &PostParams::default(),
            &prowjob("").generate_name("run-").dynamic(),
        )
        .await
        .unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("run-") && b.starts_with("run-"), "{a} {b}");
    assert_ne!(a, b);
}

#[tokio::test]
async fn lists_are_paged_by_limit_and_continue() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    for name in ["pj-c", "pj-a", "pj-e", "pj-b", "pj-d"] {
        api.create(&PostParams::default(), &prowjob(name).dynamic())
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(2);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        names.extend(page.items.iter().map(|o| o.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(token) => {
                assert_eq!(
                    page.metadata.remaining_item_count,
                    Some(5 - names.len() as i64)
                );
                params = ListParams::default().limit(2).continue_token(&token);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["pj-a", "pj-b", "pj-c", "pj-d", "pj-e"]);
    // Without a limit, one page holds everything.
    let all = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(all.metadata.continue_.is_none());
    let bad = api
        .list(&ListParams::default().limit(2).continue_token("garbage"))
        .await
        .unwrap_err();
    assert_eq!(api_status(bad).code, 400);
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    for (name, tier, state) in [
        ("a", "fast", "pending"),
        ("b", "slow", "pending"),
        ("c", "fast", "success"),
    ] {
        let pj = prowjob(name).label("tier", tier).state(state);
        api.create(&PostParams::default(), &pj.dynamic())
            .await
            .unwrap();
    }
    let names = |list: kube::api::ObjectList<kube::api::DynamicObject>| -> Vec<String> {
        list.items
            .into_iter()
            .map(|o| o.metadata.name.unwrap())
            .collect()
    };
    let cases = [
        (ListParams::default().labels("tier=fast"), vec!["a", "c"]),
        (ListParams::default().labels("tier!=fast"), vec!["b"]),
        (
            ListParams::default().labels("tier in (slow,medium)"),
            vec!["b"],
        ),
        (ListParams::default().labels("!tier"), vec![]),
        (
            ListParams::default().fields("status.state=pending"),
            vec!["a", "b"],
        ),
        (ListParams::default().fields("metadata.name=c"), vec!["c"]),
        (
            ListParams::default()
                .labels("tier=fast")
                .fields("status.state!=success"),
            vec!["a"],
        ),
    ];
    for (params, want) in cases {
        let got = names(api.list(&params).await.unwrap());
        assert_eq!(
            got, want,
            "{:?} {:?}",
            params.label_selector, params.field_selector
        );
    }
    let err = api
        .list(&ListParams::default().fields("spec.bogus=1"))
        .await
        .unwrap_err();
    assert_eq!(api_status(err).code, 400);

    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=fast"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().map(|l| l.items.len()), Some(2));
    assert_eq!(
        names(api.list(&ListParams::default()).await.unwrap()),
        vec!["b"]
    );
}

#[tokio::test]
async fn watch_from_a_resource_version_sees_only_later_changes() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    let first = api
        .create(&PostParams::default(), &prowjob("before").dynamic())
        .await
        .unwrap();
    let start = first.metadata.resource_version.clone().unwrap();
    api.create(&PostParams::default(), &prowjob("after").dynamic())
        .await
        .unwrap();
    api.patch_status(
        "after",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"state": "success"}})),
    )
    .await
    .unwrap();
    api.delete("before", &DeleteParams::default())
        .await
        .unwrap();

    let params = WatchParams::default().timeout(5);
    let stream = api.watch(&params, &start).await.unwrap();
    let events: Vec<WatchEvent<kube::api::DynamicObject>> =
        stream.take(3).try_collect().await.unwrap();
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(o) => ("ADDED".into(), o.metadata.name.clone().unwrap()),
            WatchEvent::Modified(o) => ("MODIFIED".into(), o.metadata.name.clone().unwrap()),
            WatchEvent::Deleted(o) => ("DELETED".into(), o.metadata.name.clone().unwrap()),
            other => (format!("{other:?}"), String::new()),
        })
        .collect();
    let want = [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "before"),
    ];
    assert_eq!(summary, want.map(|(a, b)| (a.to_string(), b.to_string())));

    // A live change after the watch started arrives too.
    let mut live = api
        .watch(&WatchParams::default().timeout(10), &start)
        .await
        .unwrap()
        .boxed();
    for _ in 0..3 {
        live.try_next().await.unwrap();
    }
    api.create(&PostParams::default(), &prowjob("live").dynamic())
        .await
        .unwrap();
    match live.try_next().await.unwrap() {
        Some(WatchEvent::Added(o)) => assert_eq!(o.metadata.name.as_deref(), Some("live")),
        other => panic!("expected ADDED live, got {other:?}"),
    }
}

#[tokio::test]
async fn watches_honour_selectors_and_send_bookmarks() {
    let srv = Running::start_with(
        prow_local::ApiServer::in_memory()
            .unwrap()
            .with_bookmark_interval(Duration::from_millis(200)),
    )
    .await;
    let api = prowjobs(&srv.client(), "default");
    let params = WatchParams::default().labels("tier=fast").timeout(20);
    let mut stream = api.watch(&params, "0").await.unwrap().boxed();
    api.create(
        &PostParams::default(),
        &prowjob("slow").label("tier", "slow").dynamic(),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &prowjob("fast").label("tier", "fast").dynamic(),
    )
    .await
    .unwrap();
    // Relabelling the slow job into the selector looks like an ADDED to this watcher.
    api.patch(
        "slow",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "fast"}}})),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut bookmark = false;
    while seen.len() < 2 || !bookmark {
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Added(o)) => seen.push(o.metadata.name.unwrap()),
            Some(WatchEvent::Bookmark(b)) => {
                assert!(!b.metadata.resource_version.is_empty());
                bookmark = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec!["fast", "slow"]);
}

#[tokio::test]
async fn kube_runtime_watcher_follows_the_server() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    api.create(&PostParams::default(), &prowjob("existing").dynamic())
        .await
        .unwrap();
    let store = kube::runtime::reflector::store::Writer::<kube::api::DynamicObject>::new(
        common::prowjob_resource(),
    );
    let reader = store.as_reader();
    let stream = kube::runtime::watcher(api.clone(), kube::runtime::watcher::Config::default());
    let task = tokio::spawn(kube::runtime::reflector(store, stream).for_each(|_| async {}));
    eventually("the reflector to list the existing job", || async {
        reader.len() == 1
    })
    .await;
    api.create(&PostParams::default(), &prowjob("new").dynamic())
        .await
        .unwrap();
    eventually("the reflector to see the new job", || async {
        reader.len() == 2
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn kube_runtime_watcher_supports_streaming_lists() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    api.create(&PostParams::default(), &prowjob("existing").dynamic())
        .await
        .unwrap();
    let config = kube::runtime::watcher::Config::default().streaming_lists();
    let mut events = kube::runtime::watcher(api.clone(), config).boxed();
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.unwrap().unwrap() {
            kube::runtime::watcher::Event::Init => {}
            kube::runtime::watcher::Event::InitApply(o) => initial.push(o.metadata.name.unwrap()),
            kube::runtime::watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?} before InitDone"),
        }
    }
    assert_eq!(initial, vec!["existing"]);
    api.create(&PostParams::default(), &prowjob("later").dynamic())
        .await
        .unwrap();
    match events.try_next().await.unwrap().unwrap() {
        kube::runtime::watcher::Event::Apply(o) => {
            assert_eq!(o.metadata.name.as_deref(), Some("later"))
        }
        other => panic!("expected Apply(later), got {other:?}"),
    }
}

#[tokio::test]
async fn kube_event_recorder_can_publish_events() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    let pj = api
        .create(&PostParams::default(), &prowjob("pj1").dynamic())
        .await
        .unwrap();
    let recorder = Recorder::new(srv.client(), Reporter::from("plank"));
    let reference = pj.object_ref(&common::prowjob_resource());
    let event = Event {
        type_: EventType::Normal,
        reason: "PodCreated".into(),
        note: Some("created the test pod".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(srv.client(), "default");
    let list = events
        .list(&ListParams::default().fields("regarding.name=pj1"))
        .await
        .unwrap();
    assert_eq!(
        list.items.len(),
        1,
        "the second publish patches the same event into a series"
    );
    assert_eq!(list.items[0].reason.as_deref(), Some("PodCreated"));
}

#[tokio::test]
async fn typed_pods_start_pending_and_serve_logs_from_the_log_source() {
    let logs = MemoryLogs::new();
    let srv = Running::start_with_logs(Arc::new(logs.clone())).await;
    let pods: Api<Pod> = Api::namespaced(srv.client(), "jobs");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p1", "labels": {"created-by-prow": "true"}},
        "spec": {"containers": [{"name": "test", "image": "alpine"}, {"name": "sidecar", "image": "alpine"}]}
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    // Creating in a missing namespace created the namespace.
    let namespaces: Api<Namespace> = Api::all(srv.client());
    assert!(namespaces.get_opt("jobs").await.unwrap().is_some());
    assert!(namespaces.get_opt("default").await.unwrap().is_some());

    let running = pods
        .patch_status(
            "p1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await
        .unwrap();
    assert_eq!(running.status.unwrap().phase.as_deref(), Some("Running"));
    let by_phase = pods
        .list(&ListParams::default().fields("status.phase=Running"))
        .await
        .unwrap();
    assert_eq!(by_phase.items.len(), 1);

    let target = LogTarget {
        namespace: "jobs".into(),
        pod: "p1".into(),
        container: "test".into(),
    };
    for line in ["one", "two", "three"] {
        logs.append(&target, line);
    }
    let lp = |tail: Option<i64>, ts: bool| LogParams {
        container: Some("test".into()),
        tail_lines: tail,
        timestamps: ts,
        ..LogParams::default()
    };
    assert_eq!(
        pods.logs("p1", &lp(None, false)).await.unwrap(),
        "one\ntwo\nthree\n"
    );
    assert_eq!(
        pods.logs("p1", &lp(Some(1), false)).await.unwrap(),
        "three\n"
    );
    let stamped = pods.logs("p1", &lp(Some(1), true)).await.unwrap();
    let (time, text) = stamped.trim_end().split_once(' ').unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "{stamped}"
    );
    assert_eq!(text, "three");

    let no_container = pods.logs("p1", &LogParams::default()).await.unwrap_err();
    assert_eq!(
        api_status(no_container).code,
        400,
        "two containers: a name is required"
    );
    let missing = pods.logs("nope", &lp(None, false)).await.unwrap_err();
    assert_eq!(api_status(missing).code, 404);

    let follow = LogParams {
        follow: true,
        ..lp(Some(0), false)
    };
    let mut lines = pods.log_stream("p1", &follow).await.unwrap().lines();
    logs.append(&target, "four");
    assert_eq!(lines.try_next().await.unwrap().as_deref(), Some("four"));
    logs.finish(&target);
    assert_eq!(
        lines.try_next().await.unwrap(),
        None,
        "the stream ends when the container finishes"
    );
}

#[tokio::test]
async fn watching_from_a_forgotten_version_reports_410_in_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    {
        let srv = Running::start_with(prow_local::ApiServer::open(&path).unwrap()).await;
        let api = prowjobs(&srv.client(), "default");
        api.create(&PostParams::default(), &prowjob("a").dynamic())
            .await
            .unwrap();
        api.create(&PostParams::default(), &prowjob("b").dynamic())
            .await
            .unwrap();
        drop(srv);
    }
    // History does not survive a restart, so old versions are expired.
    let server = loop {
        match prow_local::ApiServer::open(&path) {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let srv = Running::start_with(server).await;
    let api = prowjobs(&srv.client(), "default");
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), "1")
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_read_modify_write_loops_never_lose_an_update() {
    let srv = Running::start().await;
    let api = prowjobs(&srv.client(), "default");
    api.create(&PostParams::default(), &prowjob("counter").dynamic())
        .await
        .unwrap();
    let writers = (0..8).map(|_| {
        let api = api.clone();
        tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..5 {
                loop {
                    let mut pj = api.get("counter").await.unwrap();
                    let n = pj.data["spec"]["max_concurrency"].as_i64().unwrap_or(0);
                    pj.data["spec"]["max_concurrency"] = json!(n + 1);
                    match api.replace("counter", &PostParams::default(), &pj).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            conflicts
        })
    });
    let conflicts: u32 = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    let final_value = api.get("counter").await.unwrap().data["spec"]["max_concurrency"].clone();
    assert_eq!(
        final_value, 40,
        "every increment landed exactly once ({conflicts} conflicts retried)"
    );
}

#[tokio::test]
async fn shutdown_completes_while_watches_are_open() {
    let server = prow_local::ApiServer::in_memory().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(prow_local::serve(listener, server, async {
        let _ = stopped.await;
    }));
    let api = prowjobs(&common::client_for(&url), "default");
    api.create(&PostParams::default(), &prowjob("pj").dynamic())
        .await
        .unwrap();
    let mut watch = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        watch.try_next().await.unwrap(),
        Some(WatchEvent::Added(_))
    ));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("serve did not return with a watch open")
        .unwrap()
        .unwrap();
    let rest: Vec<_> = watch.collect().await;
    assert!(
        rest.iter().all(|e| e.is_ok()),
        "the watch ended cleanly: {rest:?}"
    );
}
