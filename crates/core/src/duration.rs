//! Go-style durations (`1h30m`, `90s`, `1.5h`, `300ms`) as Prow's config writes them, as std
//! `Duration`s; the parsing itself is [`GoDuration`]'s.

use std::time::Duration;

pub use crate::prowjob::DurationError;
use crate::prowjob::GoDuration;

/// Parses with Go's `time.ParseDuration` grammar; negative durations are rejected.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    GoDuration::parse(input)?.to_std()
}

/// Formats like Go's `Duration.String()` (`1h30m0s`, `45s`).
pub fn format_go_duration(d: Duration) -> String {
    GoDuration::from_std(d).canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_parses() {
        let cases = [
            ("0", 0),
            ("90s", 90_000),
            ("15m", 900_000),
            ("2h", 7_200_000),
            ("1h30m", 5_400_000),
            ("1.5h", 5_400_000),
            ("300ms", 300),
            ("2h0m0s", 7_200_000),
            ("168h", 604_800_000),
        ];
        for (input, millis) in cases {
            assert_eq!(
                parse_go_duration(input),
                Ok(Duration::from_millis(millis)),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for input in ["", "5", "h", "1d", "-1h", "1h x", "1..5h"] {
            assert!(
                parse_go_duration(input).is_err(),
                "{input} should be rejected"
            );
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format_go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_go_duration(Duration::from_secs(900)), "15m0s");
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(123), "2m3s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(150), "150ms"),
            (Duration::from_micros(1), "1µs"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(61_001), "1m1.001s"),
            (Duration::from_secs(100 * 3600 + 1), "100h0m1s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(d), want, "{d:?}");
        }
    }
}
