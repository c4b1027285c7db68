//! `initupload`: uploads `started.json` when the job starts and, from clonerefs' records,
//! `clone-records.json` and `clone-log.txt`; a failed clone also gets `build-log.txt` and a
//! FAILURE `finished.json`, and makes initupload fail (Prow's `pkg/initupload`).

use bytes::Bytes;
use prow_artifacts::Finished;
use prow_artifacts::layout::{BUILD_LOG_TXT, FINISHED_JSON, STARTED_JSON};
use prow_core::jobspec::JobSpec;

use crate::clone::{Record, format_record, now_unix};
use crate::jobspec::started;
use crate::log::Logger;
use crate::options::{InitUploadOptions, OptionsError};
use crate::upload::{Destination, Source, Targets, UploadError, upload};

/// The clone records as uploaded.
pub const CLONE_RECORDS_JSON: &str = "clone-records.json";
/// The clone records as text.
pub const CLONE_LOG_TXT: &str = "clone-log.txt";

/// Why initupload exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum InitUploadError {
    #[error("invalid options: {0}")]
    Options(#[from] OptionsError),
    #[error("could not read clone log: {0}")]
    ReadCloneLog(#[source] std::io::Error),
    #[error("could not unmarshal clone records: {0}")]
    ParseCloneLog(#[source] serde_json::Error),
    #[error("could not marshal {file}: {source}")]
    Encode {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to upload to blob storage: {0}")]
    Upload(#[from] UploadError),
    /// Everything was uploaded, but a clone record failed.
    #[error("cloning the appropriate refs failed")]
    CloneFailed,
}

/// Uploads the start of the run. Returns the clone records read (empty without `log`).
pub async fn run(
    options: &InitUploadOptions,
    spec: &JobSpec,
    dest: &Destination,
) -> Result<Vec<Record>, InitUploadError> {
    run_with(options, spec, dest, &Logger::new("initupload")).await
}

/// [`run`] with a logger.
pub async fn run_with(
    options: &InitUploadOptions,
    spec: &JobSpec,
    dest: &Destination,
    log: &Logger,
) -> Result<Vec<Record>, InitUploadError> {
    options.gcs.validate()?;
    let mut targets = Targets::default();
    let mut failed = false;
    let mut records = Vec::new();
    if !options.log.is_empty() {
        let raw = tokio::fs::read(&options.log)
            .await
            .map_err(InitUploadError::ReadCloneLog)?;
        records =
            serde_json::from_slice::<Vec<Record>>(&raw).map_err(InitUploadError::ParseCloneLog)?;
        let text: String = records.iter().map(format_record).collect();
        failed = records.iter().any(|r| r.failed);
        targets.add(CLONE_LOG_TXT, Source::Data(Bytes::from(text.clone())));
        targets.add(CLONE_RECORDS_JSON, Source::Data(Bytes::from(raw)));
        if failed {
            targets.add(BUILD_LOG_TXT, Source::Data(Bytes::from(text)));
            let finished = Finished {
                timestamp: Some(now_unix()),
                passed: Some(false),
                result: "FAILURE".to_owned(),
                ..Finished::default()
            };
            let data = serde_json::to_vec(&finished).map_err(|source| InitUploadError::Encode {
                file: FINISHED_JSON,
                source,
            })?;
            targets.add(FINISHED_JSON, Source::Data(Bytes::from(data)));
        }
    }
    let started = started(spec, &records, now_unix());
    let data = serde_json::to_vec(&started).map_err(|source| InitUploadError::Encode {
        file: STARTED_JSON,
        source,
    })?;
    targets.add(STARTED_JSON, Source::Data(Bytes::from(data)));
    upload(&options.gcs, spec, dest, targets, log).await?;
    if failed {
        return Err(InitUploadError::CloneFailed);
    }
    Ok(records)
}
