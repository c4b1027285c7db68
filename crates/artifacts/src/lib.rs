//! Job artifacts as Prow lays them out in GCS: the store port and its backends, paths, metadata files.
//!
//! Existing tools (Deck's spyglass, testgrid, gsutil scripts) read Prow's bucket layout, so this
//! crate reproduces it exactly: [`layout`] computes where a job's files go, [`metadata`] renders
//! `started.json`, `finished.json` and `prowjob.json` with Prow's field names, and an
//! [`ArtifactStore`] writes them to a local directory ([`LocalStore`]) or to GCS ([`GcsStore`]).

#[cfg(feature = "test-support")]
pub mod fake_gcs;
pub mod gcs;
pub mod layout;
pub mod local;
pub mod metadata;
pub mod store;
pub mod upload;

pub use gcs::{GcsAuth, GcsStore};
pub use layout::{Bucket, JobPaths, LayoutError, PathStrategy};
pub use local::LocalStore;
pub use metadata::{Finished, Started};
pub use store::{ArtifactError, ArtifactStore, Listing, ObjectInfo};
