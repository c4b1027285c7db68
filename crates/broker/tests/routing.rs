//! Routing through the real eventing/*.yaml: each event reaches exactly the functions Knative would deliver it to.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use prow_broker::{Broker, BrokerKey, BrokerOptions, Clock, Manifests, PingTicker};
use prow_events::AttributesReader;
use support::*;

fn deployed() -> Manifests {
    Manifests::load_dir(eventing_dir()).expect("eventing/*.yaml loads")
}

#[test]
fn the_deployed_manifests_define_the_expected_objects() {
    let m = deployed();
    assert_eq!(m.brokers.len(), 1);
    assert_eq!(m.brokers[0].metadata.name, "default");
    assert_eq!(m.brokers[0].metadata.namespace(), "prow");
    let mut pings: Vec<_> = m
        .ping_sources
        .iter()
        .map(|p| (p.metadata.name.as_str(), p.spec.schedule()))
        .collect();
    pings.sort();
    assert_eq!(
        pings,
        [
            ("branchprotector", "17 * * * *"),
            ("crier-resync", "*/5 * * * *"),
            ("horologium", "* * * * *"),
            ("needs-rebase", "17 * * * *"),
            ("plank-resync", "*/5 * * * *"),
            ("redelivery", "*/5 * * * *"),
            ("sinker", "0 * * * *"),
            ("status-reconciler", "*/5 * * * *"),
            ("tide-resync", "0 * * * *"),
        ]
    );
    assert_eq!(m.api_server_sources.len(), 1);
    let watches =
        prow_broker::apiserver::ResourceWatch::from_sources(&m.api_server_sources).unwrap();
    let resources: Vec<_> = watches
        .iter()
        .map(|w| {
            (
                w.resource.plural.as_str(),
                w.label_selector.as_str(),
                w.resource_mode,
            )
        })
        .collect();
    assert_eq!(
        resources,
        [
            ("prowjobs", "", true),
            ("pods", "created-by-prow=true", true)
        ]
    );
}

#[tokio::test]
async fn each_event_reaches_only_its_functions() {
    let (routers, rec) = functions();
    let broker = Broker::new(&deployed(), routers, BrokerOptions::default()).unwrap();
    let key = BrokerKey::new("prow", "default");
    let cases: Vec<(&str, prow_events::Event, Vec<&str>)> = vec![
        (
            "pull_request",
            github_event("pull_request", "{}"),
            vec![
                "cherrypicker-github",
                "needs-rebase-github",
                "plugins-github",
                "tide-github",
                "trigger-github",
            ],
        ),
        (
            "issue_comment",
            github_event("issue_comment", "{}"),
            vec!["cherrypicker-github", "plugins-github", "trigger-github"],
        ),
        (
            "pull_request_review",
            github_event("pull_request_review", "{}"),
            vec!["plugins-github", "tide-github", "trigger-github"],
        ),
        (
            "pull_request_review_comment",
            github_event("pull_request_review_comment", "{}"),
            vec!["trigger-github"],
        ),
        (
            "push",
            github_event("push", "{}"),
            vec!["needs-rebase-github", "tide-github", "trigger-github"],
        ),
        ("status", github_event("status", "{}"), vec!["tide-github"]),
        (
            "an unrouted GitHub event",
            github_event("fork", "{}"),
            vec![],
        ),
        (
            "ProwJob add",
            apiserver_event("add", "ProwJob", "j1"),
            vec!["crier-prowjobs", "plank-resources", "tide-prowjobs"],
        ),
        (
            "ProwJob update",
            apiserver_event("update", "ProwJob", "j1"),
            vec!["crier-prowjobs", "plank-resources", "tide-prowjobs"],
        ),
        (
            "ProwJob delete",
            apiserver_event("delete", "ProwJob", "j1"),
            vec!["plank-resources"],
        ),
        (
            "Pod update",
            apiserver_event("update", "Pod", "j1"),
            vec!["plank-resources"],
        ),
        (
            "Pod delete",
            apiserver_event("delete", "Pod", "j1"),
            vec!["plank-resources"],
        ),
        (
            "a Node update",
            apiserver_event("update", "Node", "n1"),
            vec![],
        ),
        ("sinker ping", ping_event("sinker"), vec!["sinker"]),
        (
            "horologium ping",
            ping_event("horologium"),
            vec!["horologium"],
        ),
        (
            "plank-resync ping",
            ping_event("plank-resync"),
            vec!["plank-resync"],
        ),
        (
            "crier-resync ping",
            ping_event("crier-resync"),
            vec!["crier-resync"],
        ),
        ("tide ping", ping_event("tide-resync"), vec!["tide-resync"]),
        (
            "needs-rebase ping",
            ping_event("needs-rebase"),
            vec!["needs-rebase"],
        ),
        (
            "branchprotector ping",
            ping_event("branchprotector"),
            vec!["branchprotector"],
        ),
        (
            "status-reconciler ping",
            ping_event("status-reconciler"),
            vec!["status-reconciler"],
        ),
        (
            "redelivery ping",
            ping_event("redelivery"),
            vec!["redelivery"],
        ),
        ("a ping from an unknown source", ping_event("other"), vec![]),
    ];
    for (name, event, want) in &cases {
        let mut got: Vec<_> = broker
            .route(&key, event)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        got.sort();
        assert_eq!(&got, want, "{name}");
    }

    // And the deliveries themselves: one event of each routed kind.
    broker
        .publish(github_event("pull_request", r#"{"number":1}"#))
        .await
        .unwrap();
    broker
        .publish(apiserver_event("update", "ProwJob", "j1"))
        .await
        .unwrap();
    broker.publish(ping_event("sinker")).await.unwrap();
    broker.wait_idle().await;
    assert_eq!(rec["trigger"].types(), ["dev.prow.github.pull_request"]);
    assert_eq!(
        rec["plank"].types(),
        ["dev.knative.apiserver.resource.update"]
    );
    assert_eq!(
        rec["crier"].types(),
        ["dev.knative.apiserver.resource.update"]
    );
    assert_eq!(rec["sinker"].types(), ["dev.knative.sources.ping"]);
    for quiet in ["horologium", "hook", "deck", "dead-letters"] {
        assert_eq!(rec[quiet].count(), 0, "{quiet}");
    }
    assert_eq!(broker.stats("prow", "plank-resources").delivered, 1);
    assert_eq!(broker.stats("prow", "crier-prowjobs").delivered, 1);
}

#[tokio::test]
async fn deliveries_look_like_knatives_broker_filter() {
    let (routers, rec) = functions();
    let broker = Broker::new(&deployed(), routers, BrokerOptions::default()).unwrap();
    let event = github_event("pull_request", r#"{"action":"opened","number":7}"#);
    let id = event.id().to_string();
    broker.publish(event).await.unwrap();
    broker.wait_idle().await;
    let got = rec["trigger"].last().expect("trigger got the event");
    assert_eq!(got.path, "/");
    assert_eq!(got.header("ce-specversion"), Some("1.0"));
    assert_eq!(got.header("ce-id"), Some(id.as_str()));
    assert_eq!(got.header("ce-type"), Some("dev.prow.github.pull_request"));
    assert_eq!(got.header("ce-action"), Some("opened"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("prefer"), Some("reply"));
    assert_eq!(got.header("kn-namespace"), Some("prow"));
    assert!(got.header("ce-knativearrivaltime").is_some());
    assert_eq!(
        got.header("ce-knativebrokerttl"),
        None,
        "the TTL never reaches subscribers"
    );
    assert_eq!(&got.body[..], br#"{"action":"opened","number":7}"#);
}

#[tokio::test]
async fn the_deployed_pingsources_tick_into_their_functions() {
    let (routers, rec) = functions();
    let m = deployed();
    let broker = Broker::new(&m, routers, BrokerOptions::default()).unwrap();
    let ticker =
        PingTicker::new(&m.ping_sources, Arc::new(broker.clone()), Clock::system()).unwrap();
    for name in ["horologium", "plank-resync", "crier-resync", "sinker"] {
        ticker.fire_now(name).await.unwrap();
    }
    broker.wait_idle().await;
    for name in ["horologium", "plank", "crier", "sinker"] {
        assert_eq!(rec[name].types(), ["dev.knative.sources.ping"], "{name}");
    }
    let sinker = rec["sinker"].last().unwrap();
    assert_eq!(
        sinker.header("ce-source"),
        Some("/apis/v1/namespaces/prow/pingsources/sinker")
    );
    assert_eq!(&sinker.body[..], br#"{"tick":"sinker"}"#);
    assert!(rec["trigger"].count() == 0);
}
