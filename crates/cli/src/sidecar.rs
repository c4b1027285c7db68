//! The local stand-in for Prow's sidecar under `prow up`, for decorated pods that carry no
//! `sidecar` container (pods built by an older plank): when the kubelet sees such a job's
//! pod end, its build log and everything it wrote to `$ARTIFACTS` go to the artifact store in
//! Prow's layout (`<build dir>/build-log.txt`, `<build dir>/artifacts/...`), before the pod's final
//! status is written, so they exist by the time the job is reported complete.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use prow_artifacts::layout::job_paths;
use prow_artifacts::upload::{content_type, files_under};
use prow_artifacts::{ArtifactStore, Body, PutOptions};
use prow_kube::ProwJobs;
use prow_local::kubelet::{PodFinished, pod_utility};
use serde_json::Value;

#[derive(Debug)]
pub(crate) struct LocalSidecar {
    pub prowjobs: ProwJobs,
    pub store: Arc<dyn ArtifactStore>,
}

impl PodFinished for LocalSidecar {
    fn finished<'a>(
        &'a self,
        pod: &'a Value,
        pod_dir: &'a Path,
        log: String,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let Err(err) = self.upload(pod, pod_dir, log).await {
                tracing::warn!(pod = %pod["metadata"]["name"], %err, "could not upload the job's log and artifacts");
            }
        })
    }
}

impl LocalSidecar {
    async fn upload(&self, pod: &Value, pod_dir: &Path, log: String) -> anyhow::Result<()> {
        let decorated_with_sidecar = pod["spec"]["containers"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| pod_utility(c) == Some("sidecar")));
        if decorated_with_sidecar {
            return Ok(()); // Prow's sidecar (ours, `prow sidecar`) uploaded everything already
        }
        let labels = &pod["metadata"]["labels"];
        let Some(name) = labels["prow.k8s.io/id"]
            .as_str()
            .or(pod["metadata"]["name"].as_str())
        else {
            return Ok(());
        };
        let Some(pj) = self.prowjobs.get(name).await? else {
            return Ok(());
        };
        let Some(gcs) = prow_artifacts::layout::gcs_configuration(&pj.spec) else {
            return Ok(()); // undecorated: Deck reads its log from the pod
        };
        let build_id = labels["prow.k8s.io/build-id"]
            .as_str()
            .unwrap_or(&pj.status.build_id)
            .to_string();
        if build_id.is_empty() {
            return Ok(());
        }
        let paths = job_paths(&pj.spec, &build_id, gcs)?;
        let bucket = paths.bucket.to_string();
        self.store
            .put(
                &bucket,
                &paths.file("build-log.txt"),
                Bytes::from(log),
                "text/plain; charset=utf-8",
            )
            .await?;
        for (file, rel) in files_under(&pod_dir.join("volumes/logs/artifacts")).await? {
            let object = paths.file(&format!("artifacts/{rel}"));
            let options = PutOptions::new(content_type(&rel));
            self.store
                .upload(&bucket, &object, Body::File(file), &options)
                .await?;
        }
        Ok(())
    }
}
