//! `prow up` with a ProwJob applied by hand (no `created-by-prow` label, as `kubectl apply`
//! leaves it): plank starts it within seconds, as Prow does, not at the next resync ping (every
//! five minutes); and its job URL leads to the local Deck although the config's prefix and
//! template name a Deck this machine's jobs are not on.

mod common;

use std::time::{Duration, Instant};

use prow_core::prowjob::{ProwJob, ProwJobState};
use prow_kube::ProwJobs;
use serde_json::json;

const CONFIG: &str = "prowjob_namespace: prow
pod_namespace: test-pods
plank:
  job_url_prefix_config:
    '*': https://prow.example.com/view/
  job_url_template: 'https://prow.example.com/view/gs/b/logs/{{.Spec.Job}}/{{.Status.BuildID}}'
";

/// A ProwJob as someone writes it for `kubectl apply`: no labels at all.
fn by_hand(name: &str, decorated: bool) -> ProwJob {
    let image = |utility: &str| format!("us-docker.pkg.dev/k8s-infra-prow/images/{utility}:v1");
    let mut spec = json!({
        "type": "periodic", "agent": "kubernetes", "job": name, "namespace": "test-pods",
        "pod_spec": {"containers": [{"image": "alpine", "command": ["true"]}]}
    });
    if decorated {
        spec["decoration_config"] = json!({
            "timeout": "5m", "grace_period": "5s",
            "utility_images": {"clonerefs": image("clonerefs"), "initupload": image("initupload"),
                               "entrypoint": image("entrypoint"), "sidecar": image("sidecar")},
            "gcs_configuration": {"bucket": "hand-bucket", "path_strategy": "explicit"}
        });
    }
    serde_json::from_value(json!({
        "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
        "metadata": {"name": name, "namespace": "prow"},
        "spec": spec,
        "status": {"state": "triggered", "startTime": "2026-01-01T00:00:00Z"}
    }))
    .expect("prowjob")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_applied_prowjob_starts_at_once_and_links_to_the_local_deck() {
    prow_kube::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config");
    common::write(&config.join("config.yaml"), CONFIG);
    std::fs::create_dir_all(config.join("jobs")).expect("jobs dir");
    common::write(&config.join("plugins.yaml"), "plugins: {}\n");
    let (_up, endpoints) = common::start_up(dir.path(), &common::UpOptions::default());
    let api = endpoints["api"].as_str().expect("api url");
    let deck = endpoints["deck"].as_str().expect("deck url");
    let jobs = ProwJobs::new(prow_kube::client_for_url(api).expect("client"), "prow");

    for (name, decorated) in [("hand-plain", false), ("hand-decorated", true)] {
        let created = Instant::now();
        jobs.create(&by_hand(name, decorated))
            .await
            .expect("create");
        let started = loop {
            let pj = jobs.get(name).await.expect("get").expect("stored");
            if pj.status.state != ProwJobState::Triggered {
                break pj;
            }
            assert!(
                created.elapsed() < Duration::from_secs(20),
                "{name} still triggered after 20 s: plank did not hear of it"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            started
                .metadata
                .labels
                .as_ref()
                .is_none_or(|l| !l.contains_key("created-by-prow")),
            "{name} must stay unlabelled"
        );
        let build = &started.status.build_id;
        let want = if decorated {
            format!("{deck}/view/gs/hand-bucket/logs/{name}/{build}")
        } else {
            format!("{deck}/prowjob?prowjob={name}")
        };
        assert_eq!(started.status.url, want, "{name}");
    }
}
