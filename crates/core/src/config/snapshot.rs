//! Compiled config snapshots: the validated config in a compact file that a cold function opens
//! in about a millisecond, decoding each repo's jobs and each job's pod spec only when used.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! "PROWSNAP" | format: u32 | checksum: u64 | index length: u32 | index (JSON) | sections
//! ```
//!
//! The checksum (FNV-1a 64) covers everything after it. The index names the prow-rs version
//! and schema fingerprint that wrote the file and where each section lies. Every section is
//! deflated JSON: `prow`, `plugins`, `presets`, `periodics`, `presubmits/<org>/<repo>`,
//! `postsubmits/<org>/<repo>`. A job section is a list of `{"job": ..., "spec": ...}` with the
//! pod spec kept apart, so reading a job does not pay for parsing its pod spec.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::ops::Range;
use std::sync::Arc;

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use k8s_openapi::api::core::v1::PodSpec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Config;
use super::jobs::{JobBase, Periodic, Postsubmit, Presubmit};
use super::lazy::Lazy;
use super::plugins::PluginsConfig;
use super::prow::ProwConfig;

/// The first bytes of every snapshot file.
pub const MAGIC: &[u8; 8] = b"PROWSNAP";
/// Bumped whenever the layout above changes.
pub const FORMAT: u32 = 1;
const HEADER_LEN: usize = MAGIC.len() + 4 + 8 + 4;

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a prow-rs config snapshot (it does not start with PROWSNAP)")]
    NotASnapshot,
    #[error(
        "snapshot format {found}, this build reads format {FORMAT}; run `prow config compile` again"
    )]
    Format { found: u32 },
    #[error("snapshot is damaged: {0}")]
    Damaged(String),
    #[error(
        "snapshot was compiled by prow-rs {written} with config schema {written_schema:016x}; this is prow-rs {running} with schema {running_schema:016x}; run `prow config compile` with this version"
    )]
    Version {
        written: String,
        written_schema: u64,
        running: &'static str,
        running_schema: u64,
    },
    #[error("snapshot section {section}: {message}")]
    Section { section: String, message: String },
    #[error("the snapshot does not decode to the config it was compiled from")]
    RoundTrip,
}

#[derive(Serialize, Deserialize)]
struct Index {
    prow_rs: String,
    schema: u64,
    sections: Vec<SectionEntry>,
}

#[derive(Serialize, Deserialize)]
struct SectionEntry {
    name: String,
    offset: usize,
    len: usize,
}

/// Whether `bytes` (a file's beginning is enough) look like a snapshot.
pub fn is_snapshot(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// A job whose pod spec the snapshot stores apart from the rest of it.
trait Job: Serialize + DeserializeOwned + Clone + Default + Send + Sync + 'static {
    fn base(&self) -> &JobBase;
    fn base_mut(&mut self) -> &mut JobBase;
}

impl Job for Presubmit {
    fn base(&self) -> &JobBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut JobBase {
        &mut self.base
    }
}

impl Job for Postsubmit {
    fn base(&self) -> &JobBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut JobBase {
        &mut self.base
    }
}

impl Job for Periodic {
    fn base(&self) -> &JobBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut JobBase {
        &mut self.base
    }
}

#[derive(Serialize)]
struct JobOut<'a, J> {
    job: J,
    spec: Option<&'a PodSpec>,
}

#[derive(Deserialize)]
struct JobIn<J> {
    job: J,
    spec: Option<Box<RawValue>>,
}

/// Identifies the shape of the config types, so a snapshot written by a build whose types
/// differ is refused at open instead of failing to decode a section later.
pub fn schema_fingerprint() -> u64 {
    let sample = serde_json::to_vec(&(
        Presubmit::default(),
        Postsubmit::default(),
        Periodic::default(),
        ProwConfig::default(),
        PluginsConfig::default(),
    ))
    .unwrap_or_default();
    fnv1a(&sample)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn section_error(section: &str, message: impl ToString) -> SnapshotError {
    SnapshotError::Section {
        section: section.to_string(),
        message: message.to_string(),
    }
}

fn deflate(section: &str, json: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(json)
        .and_then(|()| encoder.finish())
        .map_err(|e| section_error(section, e))
}

fn encode_jobs<J: Job>(jobs: &[J]) -> Result<Vec<u8>, serde_json::Error> {
    let entries: Vec<JobOut<'_, J>> = jobs
        .iter()
        .map(|job| {
            let mut bare = job.clone();
            bare.base_mut().spec = None;
            JobOut {
                job: bare,
                spec: job.base().spec.as_deref(),
            }
        })
        .collect();
    serde_json::to_vec(&entries)
}

/// Writes `config` as a snapshot.
pub fn encode(config: &Config) -> Result<Vec<u8>, SnapshotError> {
    let mut sections: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: String, json: Result<Vec<u8>, serde_json::Error>| {
        let json = json.map_err(|e| section_error(&name, e))?;
        let blob = deflate(&name, &json)?;
        sections.push((name, blob));
        Ok::<(), SnapshotError>(())
    };
    add("prow".into(), serde_json::to_vec(&config.prow))?;
    add("plugins".into(), serde_json::to_vec(&config.plugins))?;
    add("presets".into(), serde_json::to_vec(config.presets.get()))?;
    add("periodics".into(), encode_jobs(config.periodics.get()))?;
    for (repo, jobs) in &config.presubmits {
        add(format!("presubmits/{repo}"), encode_jobs(jobs.get()))?;
    }
    for (repo, jobs) in &config.postsubmits {
        add(format!("postsubmits/{repo}"), encode_jobs(jobs.get()))?;
    }

    let mut index = Index {
        prow_rs: env!("CARGO_PKG_VERSION").to_string(),
        schema: schema_fingerprint(),
        sections: Vec::with_capacity(sections.len()),
    };
    let mut offset = 0;
    for (name, blob) in &sections {
        index.sections.push(SectionEntry {
            name: name.clone(),
            offset,
            len: blob.len(),
        });
        offset += blob.len();
    }
    let index = serde_json::to_vec(&index).map_err(|e| section_error("index", e))?;
    let index_len = u32::try_from(index.len())
        .map_err(|_| SnapshotError::Damaged("index larger than 4 GiB".into()))?;

    let mut body = Vec::with_capacity(4 + index.len() + offset);
    body.extend_from_slice(&index_len.to_le_bytes());
    body.extend_from_slice(&index);
    for (_, blob) in &sections {
        body.extend_from_slice(blob);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&fnv1a(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// A snapshot's bytes, shared by the decoders of its lazy sections.
#[derive(Clone)]
struct Blob {
    bytes: Arc<[u8]>,
    sections_start: usize,
}

impl Blob {
    fn inflate(&self, name: &str, range: &Range<usize>) -> Result<Vec<u8>, SnapshotError> {
        let start = self.sections_start + range.start;
        let end = self.sections_start + range.end;
        let compressed = self
            .bytes
            .get(start..end)
            .ok_or_else(|| SnapshotError::Damaged(format!("section {name} lies past the end")))?;
        let mut json = Vec::with_capacity(compressed.len() * 8);
        DeflateDecoder::new(compressed)
            .read_to_end(&mut json)
            .map_err(|e| section_error(name, e))?;
        Ok(json)
    }

    fn eager<T: DeserializeOwned>(
        &self,
        name: &str,
        range: &Range<usize>,
    ) -> Result<T, SnapshotError> {
        let json = self.inflate(name, range)?;
        serde_json::from_slice(&json).map_err(|e| section_error(name, e))
    }

    fn lazy_jobs<J: Job>(&self, name: String, range: Range<usize>) -> Lazy<Vec<J>> {
        let blob = self.clone();
        Lazy::decoded_by(move || {
            let json = blob.inflate(&name, &range).map_err(|e| e.to_string())?;
            decode_jobs(&json).map_err(|e| section_error(&name, e).to_string())
        })
    }
}

fn decode_jobs<J: Job>(json: &[u8]) -> Result<Vec<J>, serde_json::Error> {
    let entries: Vec<JobIn<J>> = serde_json::from_slice(json)?;
    Ok(entries
        .into_iter()
        .map(|JobIn { mut job, spec }| {
            job.base_mut().spec = spec.map(|raw| {
                Lazy::decoded_by(move || {
                    serde_json::from_str::<PodSpec>(raw.get()).map_err(|e| format!("pod spec: {e}"))
                })
            });
            job
        })
        .collect())
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// What `prow config compile` writes and config-updater publishes: `config` encoded, after
/// proving the bytes decode to exactly this config (a snapshot that would load as something
/// else must never reach a function).
pub fn compile(config: &Config) -> Result<Vec<u8>, SnapshotError> {
    let bytes = encode(config)?;
    if decode(bytes.clone())? != *config {
        return Err(SnapshotError::RoundTrip);
    }
    Ok(bytes)
}

/// Opens a snapshot: checks its integrity and version, decodes the small `prow` and `plugins`
/// sections, and leaves presets and jobs to be decoded when first read.
pub fn decode(bytes: impl Into<Arc<[u8]>>) -> Result<Config, SnapshotError> {
    let bytes: Arc<[u8]> = bytes.into();
    if !is_snapshot(&bytes) {
        return Err(SnapshotError::NotASnapshot);
    }
    let truncated = || SnapshotError::Damaged("truncated header".into());
    let format = read_u32(&bytes, MAGIC.len()).ok_or_else(truncated)?;
    if format != FORMAT {
        return Err(SnapshotError::Format { found: format });
    }
    let checksum = read_u64(&bytes, MAGIC.len() + 4).ok_or_else(truncated)?;
    let body = &bytes[MAGIC.len() + 12..];
    if fnv1a(body) != checksum {
        return Err(SnapshotError::Damaged("checksum mismatch".into()));
    }
    let index_len = read_u32(body, 0).ok_or_else(truncated)? as usize;
    let index_bytes = body
        .get(4..4 + index_len)
        .ok_or_else(|| SnapshotError::Damaged("truncated index".into()))?;
    let index: Index =
        serde_json::from_slice(index_bytes).map_err(|e| section_error("index", e))?;
    let running_schema = schema_fingerprint();
    if index.prow_rs != env!("CARGO_PKG_VERSION") || index.schema != running_schema {
        return Err(SnapshotError::Version {
            written: index.prow_rs,
            written_schema: index.schema,
            running: env!("CARGO_PKG_VERSION"),
            running_schema,
        });
    }
    let blob = Blob {
        sections_start: HEADER_LEN + index_len,
        bytes: bytes.clone(),
    };
    let sections_len = bytes.len() - blob.sections_start;

    let mut ranges: BTreeMap<&str, Range<usize>> = BTreeMap::new();
    for entry in &index.sections {
        let range = entry.offset..entry.offset.saturating_add(entry.len);
        if range.end > sections_len {
            return Err(SnapshotError::Damaged(format!(
                "section {} lies past the end",
                entry.name
            )));
        }
        ranges.insert(&entry.name, range);
    }
    let required = |name: &str| {
        ranges
            .get(name)
            .cloned()
            .ok_or_else(|| SnapshotError::Damaged(format!("section {name} is missing")))
    };

    let prow: ProwConfig = blob.eager("prow", &required("prow")?)?;
    let plugins: PluginsConfig = blob.eager("plugins", &required("plugins")?)?;
    let presets = {
        let blob = blob.clone();
        let range = required("presets")?;
        Lazy::decoded_by(move || blob.eager("presets", &range).map_err(|e| e.to_string()))
    };
    let periodics = blob.lazy_jobs("periodics".into(), required("periodics")?);
    let mut presubmits = BTreeMap::new();
    let mut postsubmits = BTreeMap::new();
    for (name, range) in &ranges {
        if let Some(repo) = name.strip_prefix("presubmits/") {
            presubmits.insert(
                repo.to_string(),
                blob.lazy_jobs(name.to_string(), range.clone()),
            );
        } else if let Some(repo) = name.strip_prefix("postsubmits/") {
            postsubmits.insert(
                repo.to_string(),
                blob.lazy_jobs(name.to_string(), range.clone()),
            );
        }
    }
    Ok(Config {
        prow,
        presets,
        presubmits,
        postsubmits,
        periodics,
        plugins,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::jobs::Brancher;

    fn config() -> Config {
        let spec = PodSpec {
            containers: vec![k8s_openapi::api::core::v1::Container {
                name: "test".into(),
                image: Some("golang".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let job = |name: &str| JobBase {
            name: name.into(),
            spec: Some(spec.clone().into()),
            ..Default::default()
        };
        let mut config = Config::default();
        config.prow.prowjob_namespace = "prow".into();
        config.presubmits.insert(
            "acme/widgets".into(),
            vec![Presubmit {
                base: job("pull-unit"),
                brancher: Brancher::new(vec!["main".into()], vec![]),
                always_run: true,
                ..Default::default()
            }]
            .into(),
        );
        config.postsubmits.insert(
            "acme/widgets".into(),
            vec![Postsubmit {
                base: job("post-build"),
                ..Default::default()
            }]
            .into(),
        );
        config.periodics = vec![
            Periodic {
                base: job("ci-nightly"),
                cron: "0 3 * * *".into(),
                ..Default::default()
            },
            Periodic {
                base: JobBase {
                    name: "ci-no-spec".into(),
                    ..Default::default()
                },
                interval: "1h".into(),
                ..Default::default()
            },
        ]
        .into();
        config
    }

    #[test]
    fn round_trips_and_decodes_lazily() {
        let config = config();
        let bytes = encode(&config).unwrap();
        let opened = decode(bytes).unwrap();
        assert_eq!(opened.prow.prowjob_namespace, "prow");
        let lazy = &opened.presubmits["acme/widgets"];
        assert!(!lazy.is_decoded());
        let job = &opened.presubmits_for("acme/widgets").unwrap()[0];
        assert!(lazy.is_decoded());
        assert!(!job.base.spec.as_ref().unwrap().is_decoded());
        assert!(job.brancher.should_run("main") && !job.brancher.should_run("dev"));
        assert_eq!(
            job.base.spec.as_deref().unwrap().containers[0]
                .image
                .as_deref(),
            Some("golang")
        );
        assert_eq!(opened, config);
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let bytes = encode(&config()).unwrap();
        assert!(matches!(
            decode(b"presubmits: {}\n".to_vec()),
            Err(SnapshotError::NotASnapshot)
        ));

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x55;
        let err = decode(flipped).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");

        assert!(decode(bytes[..HEADER_LEN - 3].to_vec()).is_err());

        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&(FORMAT + 1).to_le_bytes());
        assert!(
            matches!(decode(future), Err(SnapshotError::Format { found }) if found == FORMAT + 1)
        );
    }

    #[test]
    fn refuses_a_snapshot_from_another_schema() {
        // Rewrite the index as an older build would have, with a fresh checksum.
        let bytes = encode(&config()).unwrap();
        let body = &bytes[HEADER_LEN - 4..];
        let index_len = read_u32(body, 0).unwrap() as usize;
        let mut index: Index = serde_json::from_slice(&body[4..4 + index_len]).unwrap();
        index.schema ^= 1;
        index.prow_rs = "0.0.9".into();
        let index = serde_json::to_vec(&index).unwrap();
        let mut new_body = (index.len() as u32).to_le_bytes().to_vec();
        new_body.extend_from_slice(&index);
        new_body.extend_from_slice(&body[4 + index_len..]);
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&FORMAT.to_le_bytes());
        old.extend_from_slice(&fnv1a(&new_body).to_le_bytes());
        old.extend_from_slice(&new_body);
        let err = decode(old).unwrap_err();
        assert!(matches!(err, SnapshotError::Version { .. }), "{err}");
        assert!(err.to_string().contains("0.0.9"), "{err}");
    }
}
