//! `sidecar`: waits for the test containers' marker files, then uploads their logs, the
//! artifacts and `finished.json` (Prow's `pkg/sidecar`).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use prow_artifacts::Finished;
use prow_artifacts::layout::{BUILD_LOG_TXT, FINISHED_JSON};
use prow_core::jobspec::JobSpec;
use serde_json::{Map, Value};

use crate::censor;
use crate::clone::now_unix;
use crate::entrypoint::{ABORTED_ERROR_CODE, Interrupt, PREVIOUS_ERROR_CODE, read_marker};
use crate::jobspec::revision;
use crate::log::Logger;
use crate::options::{OptionsError, SidecarOptions, WrapperOptions};
use crate::upload::{Destination, Source, Targets, UploadError, upload};

/// The sidecar's own log, uploaded next to the build log.
pub const SIDECAR_LOGS_JSON: &str = "sidecar-logs.json";
/// Key of `finished.json`'s metadata naming entries whose metadata file was unusable.
pub const SIDECAR_ERRORS: &str = "sidecar-errors";

/// How the entries ended and whether the upload worked.
#[derive(Debug)]
pub struct SidecarReport {
    /// Every marker read and was 0.
    pub passed: bool,
    /// Some entry was aborted (marker 130).
    pub aborted: bool,
    /// Entries that failed (non-zero, not skipped after a previous failure).
    pub failures: usize,
    /// The final upload's error, if any (the sidecar still exits by `failures`).
    pub upload_error: Option<UploadError>,
}

impl SidecarReport {
    /// `SUCCESS`, `ABORTED` or `FAILURE`, as written to `finished.json`.
    pub fn result(&self) -> &'static str {
        result_word(self.passed, self.aborted)
    }

    /// The process exit code upstream uses: 1 when `entry_error` is set and an entry failed.
    pub fn exit_code(&self, entry_error: bool) -> i32 {
        i32::from(entry_error && self.failures > 0)
    }
}

fn result_word(passed: bool, aborted: bool) -> &'static str {
    if passed {
        "SUCCESS"
    } else if aborted {
        "ABORTED"
    } else {
        "FAILURE"
    }
}

/// How often marker files are looked for.
pub const DEFAULT_POLL: Duration = Duration::from_millis(500);

/// Runs as the `sidecar` binary does, with SIGINT/SIGTERM as the interrupt.
pub async fn run(
    options: &SidecarOptions,
    spec: &JobSpec,
    dest: &Destination,
) -> Result<SidecarReport, OptionsError> {
    let log = Logger::new("sidecar");
    run_with(
        options,
        spec,
        dest,
        crate::entrypoint::os_interrupt(),
        DEFAULT_POLL,
        &log,
    )
    .await
}

/// [`run`] with the interrupt, poll interval and logger given. On an interrupt, unless
/// `ignore_interrupts`, a best-effort upload (result ABORTED) is made at once; either way the
/// sidecar keeps waiting for the markers and uploads again when they appear.
pub async fn run_with(
    options: &SidecarOptions,
    spec: &JobSpec,
    dest: &Destination,
    interrupt: impl Future<Output = Interrupt>,
    poll: Duration,
    log: &Logger,
) -> Result<SidecarReport, OptionsError> {
    options.validate()?;
    let entries = options.all_entries();
    if options.deprecated_wrapper_options.is_some() {
        log.warn("Using deprecated wrapper_options instead of entries");
    }
    let waiting = wait_for_markers(&entries, poll);
    let mut waiting = std::pin::pin!(waiting);
    let results = tokio::select! {
        r = &mut waiting => r,
        s = interrupt => {
            if options.ignore_interrupts {
                log.warn(&format!("Received an interrupt: {s:?}, ignoring..."));
            } else {
                log.error(&format!("Received an interrupt: {s:?}, cancelling..."));
                pre_upload(options, &entries, log);
                match do_upload(options, spec, dest, &entries, false, true, log).await {
                    Ok(()) => log.error("Best-effort upload was successful"),
                    Err(e) => log.error(&format!("Failed to perform best-effort upload: {e}")),
                }
            }
            waiting.await
        }
    };
    let mut passed = true;
    let mut aborted = false;
    let mut failures = 0;
    for r in &results {
        let code = r.as_ref().copied().unwrap_or(-1);
        passed = passed && r.is_ok() && code == 0;
        aborted = aborted || code == ABORTED_ERROR_CODE;
        if code != 0 && code != PREVIOUS_ERROR_CODE {
            failures += 1;
        }
    }
    pre_upload(options, &entries, log);
    let upload_error = do_upload(options, spec, dest, &entries, passed, aborted, log)
        .await
        .err();
    if let Some(e) = &upload_error {
        log.error(&format!("Failed to report job status: {e}"));
    }
    Ok(SidecarReport {
        passed,
        aborted,
        failures,
        upload_error,
    })
}

/// Waits until every entry's marker file exists and returns each one's code (or why it could not
/// be read), in entry order.
pub async fn wait_for_markers(
    entries: &[WrapperOptions],
    poll: Duration,
) -> Vec<Result<i32, String>> {
    let mut results: Vec<Option<Result<i32, String>>> = vec![None; entries.len()];
    loop {
        for (slot, entry) in results.iter_mut().zip(entries) {
            if slot.is_none()
                && tokio::fs::try_exists(&entry.marker_file)
                    .await
                    .unwrap_or(false)
            {
                *slot = Some(read_marker(Path::new(&entry.marker_file)));
            }
        }
        if results.iter().all(Option::is_some) {
            return results.into_iter().flatten().collect();
        }
        tokio::time::sleep(poll).await;
    }
}

fn pre_upload(options: &SidecarOptions, entries: &[WrapperOptions], log: &Logger) {
    match options.effective_censoring() {
        Ok(Some(c)) => {
            log.info("Starting to censor data");
            if censor::censor(&c, entries, &options.gcs_options.items, log).is_err() {
                log.warn("Failed to censor data");
            }
        }
        Ok(None) => {}
        Err(e) => log.warn(&format!("Failed to censor data: {e}")),
    }
}

/// `build-log.txt`, or `<container>-build-log.txt` per entry when there are several.
pub fn build_log_name(entries: &[WrapperOptions], entry: &WrapperOptions) -> String {
    if entries.len() > 1 {
        format!("{}-{BUILD_LOG_TXT}", entry.container_name)
    } else {
        BUILD_LOG_TXT.to_owned()
    }
}

fn entry_name(i: usize, entry: &WrapperOptions) -> String {
    format!("entry {i}: {}", entry.args.join(" "))
}

/// The entries' metadata files merged (later keys win), with `sidecar-errors` naming entries
/// whose file could not be read or parsed.
pub fn combine_metadata(entries: &[WrapperOptions]) -> Map<String, Value> {
    let mut errors = Map::new();
    let mut metadata = Map::new();
    for (i, entry) in entries.iter().enumerate() {
        if entry.metadata_file.is_empty() {
            continue;
        }
        let raw = match std::fs::read(&entry.metadata_file) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                errors.insert(entry_name(i, entry), Value::String(e.to_string()));
                continue;
            }
        };
        match serde_json::from_slice::<Map<String, Value>>(&raw) {
            Ok(piece) => metadata.extend(piece),
            Err(e) => {
                errors.insert(entry_name(i, entry), Value::String(e.to_string()));
            }
        }
    }
    if !errors.is_empty() {
        metadata.insert(SIDECAR_ERRORS.to_owned(), Value::Object(errors));
    }
    metadata
}

/// The sidecar's `finished.json`.
pub fn finished(
    spec: &JobSpec,
    passed: bool,
    aborted: bool,
    metadata: Map<String, Value>,
    timestamp: i64,
) -> Finished {
    Finished {
        timestamp: Some(timestamp),
        passed: Some(passed),
        result: result_word(passed, aborted).to_owned(),
        revision: revision(spec),
        metadata: (!metadata.is_empty()).then_some(metadata),
        ..Finished::default()
    }
}

async fn do_upload(
    options: &SidecarOptions,
    spec: &JobSpec,
    dest: &Destination,
    entries: &[WrapperOptions],
    passed: bool,
    aborted: bool,
    log: &Logger,
) -> Result<(), UploadError> {
    log.info("Starting to upload");
    let mut extra = Targets::default();
    for entry in entries {
        let data = match tokio::fs::read(&entry.process_log).await {
            Ok(d) => Bytes::from(d),
            Err(e) => {
                log.error(&format!("Failed to open {}", entry.process_log));
                Bytes::from(format!("Failed to open {}: {e}\n", entry.process_log))
            }
        };
        extra.add(build_log_name(entries, entry), Source::Data(data));
    }
    let finished = finished(spec, passed, aborted, combine_metadata(entries), now_unix());
    let finished = serde_json::to_vec(&finished)
        .map_err(|e| UploadError::Config(format!("could not marshal finishing data: {e}")))?;
    extra.add(SIDECAR_LOGS_JSON, Source::Data(Bytes::from(log.kept())));
    extra.add(FINISHED_JSON, Source::Data(Bytes::from(finished)));
    let result = upload(&options.gcs_options, spec, dest, extra, log).await;
    log.info("Finished uploading");
    result
}
