//! Prow's pod utilities in Rust.
//!
//! Prow decorates a job's pod with four helpers: `clonerefs` (init container checking out the
//! code), `initupload` (init container writing `started.json`), `entrypoint` (wraps the test
//! command: timeout, process log, marker file) and `sidecar` (waits for the test and uploads
//! logs, artifacts and `finished.json`). Each is configured by one JSON environment variable;
//! [`options`] holds those documents with Prow's exact field names, so pods built by Go Prow run
//! our utilities and pods built by us run Prow's images.
//!
//! Each utility is a library function (`clonerefs::run`, `initupload::run`, `entrypoint::run`,
//! `sidecar::run`); the `prow` binary exposes them as subcommands.

pub mod censor;
pub mod clone;
pub mod clonerefs;
pub mod entrypoint;
pub mod initupload;
pub mod jobspec;
pub mod log;
pub mod options;
pub mod sidecar;
pub mod upload;

pub use options::{
    CloneRefsOptions, EntrypointOptions, GcsOptions, InitUploadOptions, OptionsError,
    SidecarCensoringOptions, SidecarOptions, WrapperOptions,
};
pub use upload::{
    Destination, LOCAL_ARTIFACTS_ENV, LOCAL_S3_CREDENTIALS_ENV, store_config, store_for,
};
