//! Job artifacts as Prow lays them out in GCS: the store port and its backends, paths, metadata files.
//!
//! Existing tools (Deck's spyglass, testgrid, gsutil scripts) read Prow's bucket layout, so this
//! crate reproduces it exactly: [`layout`] computes where a job's files go, [`metadata`] renders
//! `started.json`, `finished.json` and `prowjob.json` with Prow's field names, and an
//! [`ArtifactStore`] writes them to a local directory ([`LocalStore`]) or to GCS and S3 through
//! `object_store` ([`CloudStore`]); [`Stores`] picks the backend from the bucket URL.

mod body;
mod cloud;
#[cfg(feature = "test-support")]
pub mod counterparts;
pub mod gcs_emulator;
pub mod layout;
pub mod local;
pub mod metadata;
pub mod store;
pub mod stores;
pub mod upload;

pub use cloud::CloudStore;
pub use layout::{Bucket, JobPaths, LayoutError, PathStrategy};
pub use local::LocalStore;
pub use metadata::{Finished, Started};
pub use store::{ArtifactError, ArtifactStore, Body, Listing, ObjectInfo, PutOptions};
pub use stores::{S3Credentials, StoreArgs, StoreConfig, Stores};
