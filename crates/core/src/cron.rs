//! Prow's periodic schedules: robfig/cron syntax (5 fields, optional leading seconds, `@daily`-style
//! descriptors and `@every <duration>`), always evaluated in UTC as horologium does.

use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::duration::parse_go_duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expr:?}: {reason}")]
pub struct CronError {
    pub expr: String,
    pub reason: String,
}

/// A parsed `cron:` value.
#[derive(Debug, Clone)]
pub enum Schedule {
    Cron(Box<Cron>),
    /// `@every <duration>`: fires every duration, counted from the previous firing.
    Every(Duration),
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, CronError> {
        let err = |reason: String| CronError {
            expr: expr.to_string(),
            reason,
        };
        let trimmed = expr.trim();
        if let Some(every) = trimmed.strip_prefix("@every ") {
            let d = parse_go_duration(every.trim()).map_err(|e| err(e.to_string()))?;
            if d < Duration::from_secs(1) {
                return Err(err("@every needs at least one second".into()));
            }
            return Ok(Schedule::Every(d));
        }
        let pattern = match trimmed {
            "@midnight" => "@daily",
            other => other,
        };
        if !pattern.starts_with('@') {
            let fields = pattern.split_whitespace().count();
            if !(5..=6).contains(&fields) {
                return Err(err(format!("expected 5 or 6 fields, found {fields}")));
            }
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        parser
            .parse(pattern)
            .map(|c| Schedule::Cron(Box::new(c)))
            .map_err(|e| err(e.to_string()))
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(c) => c.find_next_occurrence(&after, false).ok(),
            Schedule::Every(d) => chrono::Duration::from_std(*d).ok().map(|d| after + d),
        }
    }

    /// The last firing at or before `at` (None for `@every`, which has no fixed grid).
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(c) => c.find_previous_occurrence(&at, true).ok(),
            Schedule::Every(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0)
            .single()
            .expect("valid time")
    }

    #[test]
    fn accepts_prow_cron_syntax() {
        for expr in [
            "0 */6 * * *",
            "30 5 * * 1-5",
            "0 0 * * SUN",
            "0 30 5 * * *",
            "@daily",
            "@hourly",
            "@midnight",
            "@every 1h30m",
            "0 8 1 JAN *",
            "5 * * * ?",
        ] {
            assert!(Schedule::parse(expr).is_ok(), "{expr} should parse");
        }
    }

    #[test]
    fn rejects_malformed_cron() {
        for expr in [
            "",
            "* * *",
            "61 * * * *",
            "* * * * * * 2026",
            "@every",
            "@every 0s",
            "@sometimes",
            "a b c d e",
        ] {
            assert!(Schedule::parse(expr).is_err(), "{expr} should be rejected");
        }
    }

    #[test]
    fn next_firing_in_utc() {
        let s = Schedule::parse("0 */6 * * *").expect("parses");
        assert_eq!(s.next_after(t(7, 0)), Some(t(12, 0)));
        assert_eq!(s.latest_at_or_before(t(7, 0)), Some(t(6, 0)));
        let every = Schedule::parse("@every 2h").expect("parses");
        assert_eq!(every.next_after(t(7, 0)), Some(t(9, 0)));
    }
}
