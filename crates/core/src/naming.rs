//! Deterministic names for ProwJobs: the same input event always yields the same name, so a
//! redelivered webhook or a repeated tick creates nothing new (Prow uses random UUIDs instead).

use uuid::Uuid;

/// Namespace for prow-rs name UUIDs (a fixed random v4, never to change).
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2d4e_9a7b_4c3d_8e5f_0a1b_2c3d_4e5f);

/// A UUID-shaped name (like Prow's) derived from `parts`, e.g. `[delivery_id, job_name]` for a
/// webhook-triggered job or `[job_name, slot]` for a periodic run.
pub fn prowjob_name(parts: &[&str]) -> String {
    // Length-prefix each part so ("ab","c") and ("a","bc") differ.
    let mut key = Vec::new();
    for p in parts {
        key.extend_from_slice(&(p.len() as u64).to_be_bytes());
        key.extend_from_slice(p.as_bytes());
    }
    Uuid::new_v5(&NAMESPACE, &key).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_distinct_and_dns_safe() {
        let a = prowjob_name(&["delivery-1", "pull-unit"]);
        assert_eq!(a, prowjob_name(&["delivery-1", "pull-unit"]));
        assert_ne!(a, prowjob_name(&["delivery-2", "pull-unit"]));
        assert_ne!(prowjob_name(&["ab", "c"]), prowjob_name(&["a", "bc"]));
        assert_eq!(a.len(), 36);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    }
}
