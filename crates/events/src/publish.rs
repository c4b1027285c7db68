//! Publishing events to a sink (`K_SINK`, the broker) in binary mode with bounded retries.

use std::time::Duration;

use cloudevents::{AttributesReader, Event};
use http::StatusCode;

use crate::encode::{EncodeError, encode_binary};

/// How hard [`Publisher::publish`] tries before giving up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first one (at least 1).
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubled after each further failure.
    pub initial_backoff: Duration,
    /// Upper bound for one pause.
    pub max_backoff: Duration,
    /// Time allowed for one attempt: connect, send, and the sink's response headers.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Pause after the `failed`-th failed attempt (1-based): deterministic exponential backoff.
    pub fn backoff(&self, failed: u32) -> Duration {
        let factor = 2u32.saturating_pow(failed.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// What a sink's answer means for the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Accepted,
    /// The sink will never take this event; retrying is pointless.
    Permanent,
    Retryable,
}

/// 2xx accepted; 408/429 and 5xx worth another try; any other status final.
pub fn classify_status(status: StatusCode) -> Disposition {
    if status.is_success() {
        Disposition::Accepted
    } else if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Disposition::Retryable
    } else {
        Disposition::Permanent
    }
}

/// Why an event was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("sink {sink} rejected event {id} with {status}: {body}")]
    Rejected {
        sink: String,
        id: String,
        status: StatusCode,
        body: String,
    },
    #[error("sink {sink} did not accept event {id} after {attempts} attempt(s): {last}")]
    Exhausted {
        sink: String,
        id: String,
        attempts: u32,
        last: String,
    },
    #[error("invalid sink URL {url:?}: {reason}")]
    InvalidSink { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Sends events to one sink; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Publisher {
    client: reqwest::Client,
    sink: reqwest::Url,
    policy: RetryPolicy,
    /// Sent as `Authorization: Bearer <contents>` when the file exists (see
    /// [`Self::with_bearer_token_file`]).
    token_file: Option<std::path::PathBuf>,
}

/// At most this much of a rejecting sink's body ends up in the error message.
const MAX_REASON_BYTES: usize = 512;

impl Publisher {
    /// A publisher with its own client. Installs rustls' ring provider if the process has
    /// none, because reqwest (feature `rustls-no-provider`) panics without one.
    pub fn new(sink: &str, policy: RetryPolicy) -> Result<Self, PublishError> {
        let sink = parse_sink(sink)?;
        // Err only means another provider is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder();
        if sink.scheme() == "http" {
            // The broker ingress is plain HTTP: skip loading the system's root certificates,
            // which would otherwise be most of a cold start.
            builder = builder.tls_certs_only(std::iter::empty());
        }
        let client = builder.build().map_err(PublishError::Client)?;
        Ok(Self::with_client(client, sink, policy))
    }

    /// A publisher sharing an existing client.
    pub fn with_client(client: reqwest::Client, sink: reqwest::Url, policy: RetryPolicy) -> Self {
        Self {
            client,
            sink,
            policy,
            token_file: None,
        }
    }

    /// Authenticates to the sink with the token in `path`, read again for every attempt because
    /// its owner rotates it: Knative's SinkBinding mounts an OIDC token for the sink's audience at
    /// `/oidc/token` when sender identity is enabled, `prow up` writes a shared secret. While the
    /// file is absent or empty (OIDC disabled) events go without `Authorization`.
    pub fn with_bearer_token_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    async fn authorization(&self) -> Option<String> {
        let path = self.token_file.as_ref()?;
        match tokio::fs::read_to_string(path).await {
            Ok(token) if !token.trim().is_empty() => Some(format!("Bearer {}", token.trim())),
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the sink token; sending without it");
                None
            }
        }
    }

    pub fn sink(&self) -> &reqwest::Url {
        &self.sink
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Delivers `event` in binary mode; `Ok` once the sink answered 2xx.
    pub async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        self.publish_counting_attempts(event).await.0
    }

    /// Like [`Self::publish`], also reporting how many HTTP attempts were made (for metrics).
    pub async fn publish_counting_attempts(
        &self,
        event: &Event,
    ) -> (Result<(), PublishError>, u32) {
        let (headers, body) = match encode_binary(event) {
            Ok(message) => message,
            Err(e) => return (Err(e.into()), 0),
        };
        let max_attempts = self.policy.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=max_attempts {
            let mut request = self
                .client
                .post(self.sink.clone())
                .headers(headers.clone())
                .body(body.clone())
                .timeout(self.policy.attempt_timeout);
            if let Some(authorization) = self.authorization().await {
                request = request.header(http::header::AUTHORIZATION, authorization);
            }
            let sent = request.send().await;
            match sent {
                Ok(response) => match classify_status(response.status()) {
                    Disposition::Accepted => return (Ok(()), attempt),
                    Disposition::Permanent => {
                        let status = response.status();
                        let body = reason(response).await;
                        let err = PublishError::Rejected {
                            sink: self.sink.to_string(),
                            id: event.id().to_owned(),
                            status,
                            body,
                        };
                        return (Err(err), attempt);
                    }
                    Disposition::Retryable => last = format!("HTTP {}", response.status()),
                },
                Err(e) => last = error_chain(&e),
            }
            tracing::debug!(event_id = event.id(), attempt, %last, "publish attempt failed");
            if attempt < max_attempts {
                tokio::time::sleep(self.policy.backoff(attempt)).await;
            }
        }
        let err = PublishError::Exhausted {
            sink: self.sink.to_string(),
            id: event.id().to_owned(),
            attempts: max_attempts,
            last,
        };
        (Err(err), max_attempts)
    }
}

fn parse_sink(sink: &str) -> Result<reqwest::Url, PublishError> {
    let invalid = |reason: String| PublishError::InvalidSink {
        url: sink.to_owned(),
        reason,
    };
    let url = reqwest::Url::parse(sink).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(invalid(format!("scheme {other:?} is not http(s)"))),
    }
}

/// The start of a rejecting sink's body, lossily decoded, for the error message.
async fn reason(mut response: reqwest::Response) -> String {
    let mut collected = Vec::new();
    while collected.len() < MAX_REASON_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => collected.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    collected.truncate(MAX_REASON_BYTES);
    String::from_utf8_lossy(&collected).trim().to_owned()
}

/// reqwest's top-level message hides the cause (refused, timed out): include the chain.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_like_knative_senders_do() {
        let cases = [
            (200, Disposition::Accepted),
            (202, Disposition::Accepted),
            (204, Disposition::Accepted),
            (400, Disposition::Permanent),
            (404, Disposition::Permanent),
            (413, Disposition::Permanent),
            (408, Disposition::Retryable),
            (429, Disposition::Retryable),
            (500, Disposition::Retryable),
            (502, Disposition::Retryable),
            (503, Disposition::Retryable),
            (301, Disposition::Permanent),
        ];
        for (code, want) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(classify_status(status), want, "{code}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_initial_pause_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(1),
        };
        let pauses: Vec<u128> = (1..=5).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn sinks_must_be_http_urls() {
        assert!(parse_sink("http://127.0.0.1:8080/default/broker").is_ok());
        assert!(parse_sink("https://broker.example/").is_ok());
        for bad in ["", "broker:8080", "ftp://x/", "not a url"] {
            assert!(
                matches!(parse_sink(bad), Err(PublishError::InvalidSink { .. })),
                "{bad:?}"
            );
        }
    }
}
