//! When to retry a GitHub request and how long to wait: Prow's backoff and rate-limit rules as pure functions.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use http::HeaderMap;

/// Bounds on retries and waits. Defaults follow Prow's GitHub client (8 attempts, 2 s initial
/// backoff doubling, at most 2 min waiting for a rate limit to reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. At least 1.
    pub max_attempts: u32,
    /// Wait before the second attempt after a 5xx or a connection error; doubles each time.
    pub initial_backoff: Duration,
    /// Ceiling for the doubling backoff.
    pub max_backoff: Duration,
    /// Ceiling for a secondary rate limit's `Retry-After`.
    pub max_retry_after: Duration,
    /// Longest wait for the primary rate limit to reset; a later reset fails the call instead.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(64),
            max_retry_after: Duration::from_secs(120),
            max_rate_limit_wait: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Millisecond waits and few attempts, for tests against a local mock server.
    pub fn for_tests() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(2),
            max_rate_limit_wait: Duration::from_secs(2),
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): initial, 2x, 4x, ... capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// What to do with an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the answer to the caller (success or a non-retryable error status).
    Accept,
    /// Try again after this long.
    Retry {
        after: Duration,
        reason: RetryReason,
    },
    /// The primary rate limit resets too late to wait for it.
    RateLimited { reset_in: Duration },
}

/// Why a request is retried; logged and used in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    ServerError,
    SecondaryRateLimit,
    PrimaryRateLimit,
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetryReason::ServerError => "server error",
            RetryReason::SecondaryRateLimit => "secondary rate limit",
            RetryReason::PrimaryRateLimit => "rate limit exhausted",
        })
    }
}

/// Decides on one answer, following GitHub's documented order for rate limits: `Retry-After`
/// first, then `X-RateLimit-Remaining: 0` (wait for `X-RateLimit-Reset`), then a body that
/// names a secondary rate limit. `attempt` is 1-based, `now_epoch_secs` is the current Unix time.
pub fn decide(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    attempt: u32,
    now_epoch_secs: u64,
    policy: &RetryPolicy,
) -> Verdict {
    if (500..600).contains(&status) {
        return Verdict::Retry {
            after: policy.backoff(attempt),
            reason: RetryReason::ServerError,
        };
    }
    if status != 403 && status != 429 {
        return Verdict::Accept;
    }
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Verdict::Retry {
            after: Duration::from_secs(secs).min(policy.max_retry_after),
            reason: RetryReason::SecondaryRateLimit,
        };
    }
    let spent = header_u64(headers, "x-ratelimit-remaining") == Some(0);
    if let (true, Some(reset)) = (spent, header_u64(headers, "x-ratelimit-reset")) {
        // One extra second because the reset time is truncated to whole seconds.
        let reset_in = Duration::from_secs(reset.saturating_sub(now_epoch_secs) + 1);
        if reset_in > policy.max_rate_limit_wait {
            return Verdict::RateLimited { reset_in };
        }
        return Verdict::Retry {
            after: reset_in,
            reason: RetryReason::PrimaryRateLimit,
        };
    }
    let lower = body.to_ascii_lowercase();
    if status == 429 || lower.contains("secondary rate limit") || lower.contains("abuse detection")
    {
        return Verdict::Retry {
            after: policy.backoff(attempt),
            reason: RetryReason::SecondaryRateLimit,
        };
    }
    Verdict::Accept
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Waits between attempts; injectable so tests can observe waits without sleeping through them.
#[async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    async fn sleep(&self, duration: Duration);
}

/// Sleeps on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn backoff_doubles_from_the_initial_wait_up_to_the_ceiling() {
        let policy = RetryPolicy::default();
        let got: Vec<u64> = (1..=8).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(got, vec![2, 4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(policy.backoff(1000), secs(64));
    }

    #[test]
    fn answers_are_retried_accepted_or_failed_as_github_documents() {
        let policy = RetryPolicy::default();
        let reset_soon = (NOW + 30).to_string();
        let reset_late = (NOW + 3600).to_string();
        let cases: Vec<(&str, u16, HeaderMap, &str, u32, Verdict)> = vec![
            ("200 is accepted", 200, headers(&[]), "", 1, Verdict::Accept),
            ("404 is accepted", 404, headers(&[]), "", 1, Verdict::Accept),
            (
                "502 backs off",
                502,
                headers(&[]),
                "",
                1,
                Verdict::Retry {
                    after: secs(2),
                    reason: RetryReason::ServerError,
                },
            ),
            (
                "third 503 backs off longer",
                503,
                headers(&[]),
                "",
                3,
                Verdict::Retry {
                    after: secs(8),
                    reason: RetryReason::ServerError,
                },
            ),
            (
                "plain 403 is a real refusal",
                403,
                headers(&[("x-ratelimit-remaining", "4000")]),
                r#"{"message":"Must have admin rights"}"#,
                1,
                Verdict::Accept,
            ),
            (
                "403 with Retry-After waits that long",
                403,
                headers(&[("retry-after", "7")]),
                "",
                1,
                Verdict::Retry {
                    after: secs(7),
                    reason: RetryReason::SecondaryRateLimit,
                },
            ),
            (
                "Retry-After is capped",
                429,
                headers(&[("retry-after", "100000")]),
                "",
                1,
                Verdict::Retry {
                    after: secs(120),
                    reason: RetryReason::SecondaryRateLimit,
                },
            ),
            (
                "spent rate limit waits for a near reset",
                403,
                headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset_soon),
                ]),
                "",
                1,
                Verdict::Retry {
                    after: secs(31),
                    reason: RetryReason::PrimaryRateLimit,
                },
            ),
            (
                "spent rate limit with a far reset fails",
                403,
                headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset_late),
                ]),
                "",
                1,
                Verdict::RateLimited {
                    reset_in: secs(3601),
                },
            ),
            (
                "secondary limit named only in the body backs off",
                403,
                headers(&[]),
                r#"{"message":"You have exceeded a secondary rate limit."}"#,
                2,
                Verdict::Retry {
                    after: secs(4),
                    reason: RetryReason::SecondaryRateLimit,
                },
            ),
            (
                "429 without headers backs off",
                429,
                headers(&[]),
                "",
                1,
                Verdict::Retry {
                    after: secs(2),
                    reason: RetryReason::SecondaryRateLimit,
                },
            ),
            (
                "Retry-After on a 200 is ignored",
                200,
                headers(&[("retry-after", "5")]),
                "",
                1,
                Verdict::Accept,
            ),
        ];
        for (name, status, headers, body, attempt, want) in cases {
            assert_eq!(
                decide(status, &headers, body, attempt, NOW, &policy),
                want,
                "{name}"
            );
        }
    }
}
