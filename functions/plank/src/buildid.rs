//! BUILD_ID vending: snowflake ids as Prow's plank makes them (bwmarrin/snowflake, node 1).

use std::sync::Mutex;

use k8s_openapi::jiff::Timestamp;

/// 2010-11-04T01:42:54.657Z in ms since the Unix epoch: the snowflake epoch Prow uses.
pub const TWITTER_EPOCH_MS: i64 = 1_288_834_974_657;
const NODE: i64 = 1;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const SEQ_MASK: i64 = (1 << SEQ_BITS) - 1;

/// The id for `ms` (Unix ms) and sequence number `seq` within that millisecond.
pub fn snowflake(ms: i64, seq: i64) -> i64 {
    ((ms - TWITTER_EPOCH_MS) << (NODE_BITS + SEQ_BITS)) | (NODE << SEQ_BITS) | (seq & SEQ_MASK)
}

/// A new build id for a job whose previous id was `previous` (empty when it has none):
/// `candidate` unless that would not be larger, so a job's ids only ever increase even if
/// clocks of two plank instances disagree.
pub fn next_for_job(candidate: i64, previous: &str) -> String {
    match previous.parse::<i64>() {
        Ok(prev) if prev >= candidate => prev.saturating_add(1).to_string(),
        _ => candidate.to_string(),
    }
}

/// Hands out snowflake ids that strictly increase within this process.
#[derive(Debug, Default)]
pub struct BuildIds {
    last: Mutex<i64>,
}

impl BuildIds {
    /// The next id at time `now`; never equal to or below an id handed out before.
    pub fn next(&self, now: Timestamp) -> i64 {
        let fresh = snowflake(now.as_millisecond(), 0);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        // Same millisecond (or a clock step back): bump the sequence, spilling into the next ms.
        let id = if fresh > *last { fresh } else { *last + 1 };
        *last = id;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_has_prows_layout() {
        // 2020-03-23T18:18:32.955Z, node 1, seq 0 (a BUILD_ID seen on prow.k8s.io has this shape).
        let id = snowflake(1_584_987_512_955, 0);
        assert_eq!(id >> 22, 1_584_987_512_955 - TWITTER_EPOCH_MS);
        assert_eq!((id >> 12) & 0x3ff, 1);
        assert_eq!(id & 0xfff, 0);
        assert_eq!(id.to_string().len(), 19);
    }

    #[test]
    fn ids_strictly_increase_even_within_one_millisecond_or_when_the_clock_steps_back() {
        let ids = BuildIds::default();
        let t = Timestamp::from_millisecond(1_790_000_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let earlier =
            Timestamp::from_millisecond(1_780_000_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let a = ids.next(t);
        let b = ids.next(t);
        let c = ids.next(earlier);
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn a_jobs_next_build_id_is_larger_than_its_previous_one() {
        let table = [
            (100, "", "100"),
            (100, "99", "100"),
            (100, "100", "101"),
            (100, "250", "251"),
            (100, "not-a-number", "100"),
        ];
        for (candidate, previous, want) in table {
            assert_eq!(
                next_for_job(candidate, previous),
                want,
                "{candidate} after {previous:?}"
            );
        }
    }
}
