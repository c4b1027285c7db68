//! Delivery specs as Knative's dispatcher applies them: retry count, ISO-8601 backoff, which responses are retried.

use std::time::Duration;

use crate::manifest::DeliverySpec;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("retry must not be negative, got {0}")]
    NegativeRetry(i32),
    #[error("backoffPolicy {0:?} is neither linear nor exponential")]
    BackoffPolicy(String),
    #[error("format {0:?}: only binary delivery is supported in process")]
    Format(String),
    #[error("{field} {value:?} is not an ISO-8601 duration")]
    Duration { field: &'static str, value: String },
}

/// How the wait before each retry grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// No policy or no delay: Knative retries immediately.
    None,
    Linear(Duration),
    Exponential(Duration),
}

/// Retry behaviour of one Trigger's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retry: u32,
    pub backoff: Backoff,
    /// Per-attempt timeout (`delivery.timeout`).
    pub timeout: Option<Duration>,
}

impl RetryPolicy {
    /// No delivery spec: one attempt, as Knative's channel dispatcher does.
    pub const NONE: RetryPolicy = RetryPolicy {
        retry: 0,
        backoff: Backoff::None,
        timeout: None,
    };

    pub fn from_spec(spec: &DeliverySpec) -> Result<Self, DeliveryError> {
        match spec.format.as_deref() {
            None | Some("binary") => {}
            Some(other) => return Err(DeliveryError::Format(other.to_string())),
        }
        let retry = match spec.retry {
            Some(n) if n < 0 => return Err(DeliveryError::NegativeRetry(n)),
            Some(n) => n.unsigned_abs(),
            None => 0,
        };
        let policy = match spec.backoff_policy.as_deref() {
            None => None,
            Some(p @ ("linear" | "exponential")) => Some(p),
            Some(other) => return Err(DeliveryError::BackoffPolicy(other.to_string())),
        };
        let delay = spec
            .backoff_delay
            .as_deref()
            .map(|d| {
                parse_iso8601_duration(d).ok_or_else(|| DeliveryError::Duration {
                    field: "backoffDelay",
                    value: d.to_string(),
                })
            })
            .transpose()?;
        let timeout = spec
            .timeout
            .as_deref()
            .map(|d| {
                parse_iso8601_duration(d).ok_or_else(|| DeliveryError::Duration {
                    field: "timeout",
                    value: d.to_string(),
                })
            })
            .transpose()?;
        // Knative only installs a backoff function when both policy and delay are set.
        let backoff = match (policy, delay) {
            (Some("linear"), Some(d)) => Backoff::Linear(d),
            (Some("exponential"), Some(d)) => Backoff::Exponential(d),
            _ => Backoff::None,
        };
        Ok(RetryPolicy {
            retry,
            backoff,
            timeout,
        })
    }

    /// Wait before retry number `retry` (1-based). go-retryablehttp hands Knative's backoff
    /// function the 0-based loop index, so the first retry of a linear policy is immediate and
    /// the first exponential one waits exactly `backoffDelay`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let index = retry.saturating_sub(1);
        match self.backoff {
            Backoff::None => Duration::ZERO,
            Backoff::Linear(d) => d.saturating_mul(index),
            Backoff::Exponential(d) => d.saturating_mul(2u32.saturating_pow(index)),
        }
    }
}

/// Knative's `SelectiveRetry`: `None` is a transport failure (no response).
pub fn should_retry(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(code) => code >= 500 || matches!(code, 404 | 408 | 409 | 429),
    }
}

/// ISO-8601 durations as Knative's `period.Parse` reads them (`PT0.5S`, `P1DT2H`, `PT1M30S`,
/// `P2W`); years and months use the same average lengths.
pub fn parse_iso8601_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.2425 * DAY;
    let mut seconds = 0.0;
    seconds += components(
        date,
        &[
            ('Y', YEAR),
            ('M', YEAR / 12.0),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(time) = time {
        seconds += components(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// Sums `<number><designator>` pairs that must appear in `units` order, each at most once.
fn components(text: &str, units: &[(char, f64)]) -> Option<f64> {
    let mut total = 0.0;
    let mut next_unit = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            number.push(if c == ',' { '.' } else { c });
            continue;
        }
        let pos = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
        if number.is_empty() {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        total += value * units[pos].1;
        number.clear();
        next_unit = pos + 1;
    }
    number.is_empty().then_some(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_durations() {
        let ms = |n| Some(Duration::from_millis(n));
        let cases = [
            ("PT0.5S", ms(500)),
            ("PT1S", ms(1000)),
            ("PT2,5S", ms(2500)),
            ("PT1M30S", ms(90_000)),
            ("PT2H", ms(7_200_000)),
            ("P1D", ms(86_400_000)),
            ("P1DT1S", ms(86_401_000)),
            ("P1W", ms(7 * 86_400_000)),
            ("5s", None),
            ("P", None),
            ("PT", None),
            ("PT1", None),
            ("PT1S1M", None),
            ("P1H", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_iso8601_duration(text), want, "{text}");
        }
    }

    fn spec(retry: Option<i32>, policy: Option<&str>, delay: Option<&str>) -> DeliverySpec {
        DeliverySpec {
            retry,
            backoff_policy: policy.map(String::from),
            backoff_delay: delay.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_schedules_match_knatives_dispatcher() {
        let secs = |v: &[f64]| {
            v.iter()
                .map(|s| Duration::from_secs_f64(*s))
                .collect::<Vec<_>>()
        };
        let cases = [
            (
                "exponential 0.5s",
                spec(Some(5), Some("exponential"), Some("PT0.5S")),
                secs(&[0.5, 1.0, 2.0, 4.0, 8.0]),
            ),
            (
                "linear 2.5s",
                spec(Some(4), Some("linear"), Some("PT2.5S")),
                secs(&[0.0, 2.5, 5.0, 7.5]),
            ),
            (
                "policy without delay retries at once",
                spec(Some(2), Some("linear"), None),
                secs(&[0.0, 0.0]),
            ),
            (
                "delay without policy retries at once",
                spec(Some(2), None, Some("PT1S")),
                secs(&[0.0, 0.0]),
            ),
        ];
        for (name, spec, want) in cases {
            let p = RetryPolicy::from_spec(&spec).unwrap();
            assert_eq!(p.retry as usize, want.len(), "{name}");
            let got: Vec<_> = (1..=p.retry).map(|n| p.backoff(n)).collect();
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(
            RetryPolicy::from_spec(&spec(None, None, None)).unwrap(),
            RetryPolicy::NONE
        );
        assert_eq!(
            RetryPolicy::from_spec(&spec(Some(-1), None, None)),
            Err(DeliveryError::NegativeRetry(-1))
        );
        let structured = DeliverySpec {
            format: Some("json".into()),
            ..Default::default()
        };
        assert_eq!(
            RetryPolicy::from_spec(&structured),
            Err(DeliveryError::Format("json".into()))
        );
    }

    #[test]
    fn selective_retry() {
        let cases = [
            (None, true),
            (Some(500), true),
            (Some(503), true),
            (Some(502), true),
            (Some(404), true),
            (Some(408), true),
            (Some(409), true),
            (Some(429), true),
            (Some(400), false),
            (Some(401), false),
            (Some(403), false),
            (Some(302), false),
            (Some(413), false),
        ];
        for (status, want) in cases {
            assert_eq!(should_retry(status), want, "{status:?}");
        }
    }
}
