//! Go duration strings (`"2h"`, `"15m0s"`) as they appear in Prow YAML and ProwJobs, kept verbatim.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Go `time.Duration` in its string form.
///
/// The original text is kept so that a ProwJob read from the API server is written back
/// byte for byte; [`GoDuration::to_std`] gives the value. Construction always validates,
/// so a `GoDuration` in hand is known to parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GoDuration {
    text: String,
    nanos: i128,
}

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}")]
    Invalid(String),
    #[error("missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit { text: String, unit: String },
    #[error("duration {0:?} overflows")]
    Overflow(String),
    #[error("duration {0:?} is negative")]
    Negative(String),
}

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// Go durations are int64 nanoseconds; parsing rejects anything beyond.
const MAX_NANOS: i128 = i64::MAX as i128;

impl GoDuration {
    /// Parses Go's `time.ParseDuration` syntax: an optional sign, then one or more decimal
    /// numbers each followed by a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`); a bare `0` is allowed.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let nanos = parse_nanos(text)?;
        Ok(Self {
            text: text.to_owned(),
            nanos,
        })
    }

    /// The duration in Go's canonical `String()` form, e.g. 90 minutes -> `"1h30m0s"`.
    pub fn from_std(d: Duration) -> Self {
        let nanos = i128::try_from(d.as_nanos())
            .unwrap_or(MAX_NANOS)
            .min(MAX_NANOS);
        Self {
            text: format_go(nanos),
            nanos,
        }
    }

    /// The text exactly as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value as a signed count of nanoseconds (Go durations may be negative).
    pub fn as_nanos(&self) -> i128 {
        self.nanos
    }

    /// The value as a std `Duration`; negative Go durations have no such value.
    pub fn to_std(&self) -> Result<Duration, DurationError> {
        let nanos =
            u128::try_from(self.nanos).map_err(|_| DurationError::Negative(self.text.clone()))?;
        let secs = u64::try_from(nanos / NANOS_PER_SEC as u128)
            .map_err(|_| DurationError::Overflow(self.text.clone()))?;
        // The remainder is below one second, so it fits in u32.
        let sub = (nanos % NANOS_PER_SEC as u128) as u32;
        Ok(Duration::new(secs, sub))
    }

    /// Go's `Duration.String()` of this value (what Go writes back after parsing it).
    pub fn canonical(&self) -> String {
        format_go(self.nanos)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        Self::from_std(d)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Prow's own Duration type also accepts an integer count of nanoseconds.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Nanos(i64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => Self::parse(&text).map_err(serde::de::Error::custom),
            Raw::Nanos(n) => Ok(Self {
                text: format_go(i128::from(n)),
                nanos: i128::from(n),
            }),
        }
    }
}

impl schemars::JsonSchema for GoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A Go duration string such as \"2h\" or \"15m0s\".",
            "type": "string",
        })
    }
}

fn unit_nanos(unit: &str) -> Option<i128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        _ => return None,
    })
}

fn parse_nanos(text: &str) -> Result<i128, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(text.to_owned()));
        }
        let scale = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            text: text.to_owned(),
            unit: unit.to_owned(),
        })?;
        let overflow = || DurationError::Overflow(text.to_owned());
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<i128>().map_err(|_| overflow())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(overflow)?;
        // Go truncates fractional nanoseconds; extra digits beyond what the unit resolves add nothing.
        let mut place = scale;
        for digit in frac_part.bytes() {
            place /= 10;
            if place == 0 {
                break;
            }
            value += i128::from(digit - b'0') * place;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
        if total > MAX_NANOS + 1 {
            return Err(overflow());
        }
    }
    if negative {
        total = -total;
    }
    if total > MAX_NANOS {
        return Err(DurationError::Overflow(text.to_owned()));
    }
    Ok(total)
}

/// Go's `time.Duration.String()`.
fn format_go(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", fixed(u, 1_000));
    }
    if u < NANOS_PER_SEC as u128 {
        return format!("{sign}{}ms", fixed(u, 1_000_000));
    }
    let secs = u / NANOS_PER_SEC as u128;
    let sub = u % NANOS_PER_SEC as u128;
    let hours = secs / 3600;
    let minutes = (secs % 3600) / 60;
    let seconds = fixed(
        (secs % 60) * NANOS_PER_SEC as u128 + sub,
        NANOS_PER_SEC as u128,
    );
    let mut out = String::from(sign);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{seconds}s"));
    out
}

/// `value / unit` as a decimal without trailing fractional zeros.
fn fixed(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_duration_syntax() {
        let cases: &[(&str, i128)] = &[
            ("0", 0),
            ("0s", 0),
            ("2h", 2 * 3600 * NANOS_PER_SEC),
            ("15m0s", 15 * 60 * NANOS_PER_SEC),
            ("1h30m", 90 * 60 * NANOS_PER_SEC),
            ("1.5s", 1_500_000_000),
            (".5s", 500_000_000),
            ("300ms", 300_000_000),
            ("10us", 10_000),
            ("10µs", 10_000),
            ("7ns", 7),
            ("-1m", -60 * NANOS_PER_SEC),
            ("+1m", 60 * NANOS_PER_SEC),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
        ];
        for (text, nanos) in cases {
            assert_eq!(
                GoDuration::parse(text).map(|d| d.as_nanos()),
                Ok(*nanos),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for text in ["", "1", "h", "1x", "1.s.", "-", "s1", "99999999999h", "1 h"] {
            assert!(
                GoDuration::parse(text).is_err(),
                "{text:?} should not parse"
            );
        }
    }

    #[test]
    fn formats_like_go_string() {
        let cases: &[(i128, &str)] = &[
            (0, "0s"),
            (7, "7ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (1_500_000_000, "1.5s"),
            (90 * NANOS_PER_SEC, "1m30s"),
            (2 * 3600 * NANOS_PER_SEC, "2h0m0s"),
            (-60 * NANOS_PER_SEC, "-1m0s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_go(*nanos), *text, "{nanos}");
        }
        assert_eq!(
            GoDuration::from_std(Duration::from_secs(900)).as_str(),
            "15m0s"
        );
        assert_eq!(
            GoDuration::parse("2h").map(|d| d.canonical()),
            Ok("2h0m0s".to_owned())
        );
    }

    #[test]
    fn serde_keeps_the_text_and_accepts_nanoseconds() {
        let d: GoDuration = serde_json::from_str("\"2h\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2h\"");
        assert_eq!(d.to_std(), Ok(Duration::from_secs(7200)));
        let n: GoDuration = serde_json::from_str("1500000000").unwrap();
        assert_eq!(n.as_str(), "1.5s");
        assert!(serde_json::from_str::<GoDuration>("\"2 hours\"").is_err());
        assert!(GoDuration::parse("-1s").unwrap().to_std().is_err());
    }
}
