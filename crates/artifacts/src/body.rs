//! An upload body read in chunks, gzip-compressed on the way when asked, so uploads of any size
//! stream with bounded memory.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::io::AsyncReadExt;

use crate::store::{ArtifactError, Body};

/// Bytes read from a file per chunk.
pub(crate) const CHUNK: usize = 1 << 20;
/// Prow compresses only when the first write is larger than this.
const GZIP_MIN: usize = 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Prow's rule (`pkg/pod-utils/gcs/upload.go`): compress when the first chunk is over 1 KiB and
/// does not already look like gzip.
pub(crate) fn should_gzip(requested: bool, first_chunk: &[u8]) -> bool {
    requested && first_chunk.len() > GZIP_MIN && !first_chunk.starts_with(&GZIP_MAGIC)
}

enum Source {
    Bytes(Option<Bytes>),
    File {
        file: tokio::fs::File,
        location: String,
    },
}

/// The chunks of one upload attempt.
pub(crate) struct Chunks {
    source: Source,
    gzip: Option<GzEncoder<Vec<u8>>>,
    /// The first chunk, read ahead to decide on compression.
    first: Option<Bytes>,
    done: bool,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunks")
            .field("gzip", &self.gzip.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl Chunks {
    /// Opens `body` and reads its first chunk to decide whether it is compressed.
    pub(crate) async fn open(body: &Body, gzip: bool) -> Result<Self, ArtifactError> {
        let mut source = match body {
            Body::Bytes(b) => Source::Bytes(Some(b.clone())),
            Body::File(path) => Source::File {
                file: tokio::fs::File::open(path)
                    .await
                    .map_err(|source| ArtifactError::Io {
                        op: "open",
                        location: path.display().to_string(),
                        source,
                    })?,
                location: path.display().to_string(),
            },
        };
        let first = read_raw(&mut source).await?.unwrap_or_default();
        let gzip =
            should_gzip(gzip, &first).then(|| GzEncoder::new(Vec::new(), Compression::default()));
        Ok(Self {
            source,
            gzip,
            first: Some(first),
            done: false,
        })
    }

    /// `Some("gzip")` when the chunks are compressed.
    pub(crate) fn content_encoding(&self) -> Option<&'static str> {
        self.gzip.as_ref().map(|_| "gzip")
    }

    /// The next chunk to send; `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, ArtifactError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let raw = match self.first.take() {
                Some(first) => Some(first),
                None => read_raw(&mut self.source).await?,
            };
            let Some(encoder) = self.gzip.as_mut() else {
                match raw {
                    Some(chunk) if !chunk.is_empty() => return Ok(Some(chunk)),
                    Some(_) => continue,
                    None => {
                        self.done = true;
                        return Ok(None);
                    }
                }
            };
            match raw {
                Some(chunk) => {
                    encoder.write_all(&chunk).map_err(gzip_err)?;
                    let out = std::mem::take(encoder.get_mut());
                    if !out.is_empty() {
                        return Ok(Some(Bytes::from(out)));
                    }
                }
                None => {
                    self.done = true;
                    let out = self
                        .gzip
                        .take()
                        .map(|e| e.finish())
                        .transpose()
                        .map_err(gzip_err)?
                        .unwrap_or_default();
                    return Ok((!out.is_empty()).then(|| Bytes::from(out)));
                }
            }
        }
    }

    /// Everything left, in memory: for create-only writes, which are small metadata files.
    pub(crate) async fn collect(mut self) -> Result<Bytes, ArtifactError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(all))
    }
}

fn gzip_err(source: std::io::Error) -> ArtifactError {
    ArtifactError::Io {
        op: "gzip",
        location: String::new(),
        source,
    }
}

/// Reads up to [`CHUNK`] bytes (fewer only at the end); `None` at the end.
async fn read_raw(source: &mut Source) -> Result<Option<Bytes>, ArtifactError> {
    match source {
        Source::Bytes(b) => Ok(b.take()),
        Source::File { file, location } => {
            let mut buf = Vec::with_capacity(CHUNK);
            while buf.len() < CHUNK {
                let n = (&mut *file)
                    .take((CHUNK - buf.len()) as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(|source| ArtifactError::Io {
                        op: "read",
                        location: location.clone(),
                        source,
                    })?;
                if n == 0 {
                    break;
                }
            }
            Ok((!buf.is_empty()).then(|| Bytes::from(buf)))
        }
    }
}

/// Undoes `Content-Encoding: gzip` for readers, when the bytes are gzip (GCS may have
/// decompressed them already while serving).
pub(crate) fn gunzip_if_encoded(
    data: Bytes,
    content_encoding: Option<&str>,
    location: &str,
) -> Result<Bytes, ArtifactError> {
    let encoded = content_encoding.is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    if !encoded || !data.starts_with(&GZIP_MAGIC) {
        return Ok(data);
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&data[..]), &mut out)
        .map_err(|source| ArtifactError::Io {
            op: "gunzip",
            location: location.to_owned(),
            source,
        })?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gzip_only_larger_than_a_kib_and_not_gzip_already() {
        let big = vec![b'a'; 1025];
        let mut gz = GZIP_MAGIC.to_vec();
        gz.extend_from_slice(&big);
        let table: [(bool, &[u8], bool); 5] = [
            (true, &big, true),
            (true, &big[..1024], false),
            (false, &big, false),
            (true, &gz, false),
            (true, b"", false),
        ];
        for (requested, chunk, want) in table {
            assert_eq!(
                should_gzip(requested, chunk),
                want,
                "{requested} {}",
                chunk.len()
            );
        }
    }

    #[tokio::test]
    async fn a_file_streams_in_chunks_and_round_trips_through_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build-log.txt");
        let text: Vec<u8> = (0..CHUNK * 2 + 17).map(|i| b'a' + (i % 23) as u8).collect();
        std::fs::write(&path, &text).unwrap();

        let mut plain = Chunks::open(&Body::File(path.clone()), false)
            .await
            .unwrap();
        assert_eq!(plain.content_encoding(), None);
        let mut sizes = Vec::new();
        while let Some(c) = plain.next().await.unwrap() {
            sizes.push(c.len());
        }
        assert_eq!(sizes, [CHUNK, CHUNK, 17]);

        let gz = Chunks::open(&Body::File(path), true).await.unwrap();
        assert_eq!(gz.content_encoding(), Some("gzip"));
        let compressed = gz.collect().await.unwrap();
        assert!(compressed.len() < text.len() / 4, "{}", compressed.len());
        let back = gunzip_if_encoded(compressed, Some("gzip"), "x").unwrap();
        assert_eq!(back, text);
    }

    #[tokio::test]
    async fn small_bodies_stay_plain_and_readers_leave_plain_bytes_alone() {
        let small = Chunks::open(&Body::Bytes(Bytes::from("{}")), true)
            .await
            .unwrap();
        assert_eq!(small.content_encoding(), None);
        assert_eq!(small.collect().await.unwrap(), Bytes::from("{}"));
        let empty = Chunks::open(&Body::Bytes(Bytes::new()), false)
            .await
            .unwrap();
        assert_eq!(empty.collect().await.unwrap(), Bytes::new());
        let plain = Bytes::from("already decompressed by the server");
        assert_eq!(
            gunzip_if_encoded(plain.clone(), Some("gzip"), "x").unwrap(),
            plain
        );
    }
}
