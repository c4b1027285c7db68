//! Commit status descriptions as Prow writes them: fitted to GitHub's 140 bytes, with the base
//! SHA the status was computed against at the end (tide reads it back to tell a stale status).

/// GitHub's bound on a status description.
pub const MAX_LEN: usize = 140;
const BASE_SHA_DELIMITER: &str = " BaseSHA:";
/// U+2001 EM QUAD: pads the description so the SHA sits at the right where GitHub cuts.
const PAD: char = '\u{2001}';

/// Cuts `s` to at most `max` bytes on a char boundary.
fn head(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last at most `max` bytes of `s`, on a char boundary.
fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Prow's `truncate`: keeps both ends of a long description, `first ... last`.
fn truncate(desc: &str, max: usize) -> String {
    if desc.len() <= max {
        return desc.to_owned();
    }
    let half = max.saturating_sub(5) / 2;
    format!("{} ... {}", head(desc, half), tail(desc, half))
}

/// Prow's `ContextDescriptionWithBaseSha`: the description with ` BaseSHA:<sha>`, padded with
/// EM QUADs or shortened so the whole stays within [`MAX_LEN`] bytes.
pub fn with_base_sha(desc: &str, base_sha: &str) -> String {
    if base_sha.is_empty() {
        return truncate(desc, MAX_LEN);
    }
    let suffix = format!("{BASE_SHA_DELIMITER}{base_sha}");
    let room = MAX_LEN.saturating_sub(suffix.len());
    if desc.len() >= room {
        return format!("{}{suffix}", truncate(desc, room));
    }
    // Go pads in a loop whose bound shrinks as 3-byte pads are added: ceil(gap / 4) pads.
    let gap = room - desc.len();
    let pads: String = std::iter::repeat_n(PAD, gap.div_ceil(4)).collect();
    format!("{desc}{pads}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn the_base_sha_ends_a_padded_or_shortened_description_within_140_bytes() {
        let short = with_base_sha("Overridden by alice", BASE);
        assert!(short.starts_with("Overridden by alice\u{2001}"));
        assert!(short.ends_with(&format!(" BaseSHA:{BASE}")));
        assert!(short.len() <= MAX_LEN);
        // 140 - 49 = 91 bytes of room, 19 used: ceil(72 / 4) = 18 pads of 3 bytes.
        assert_eq!(short.matches('\u{2001}').count(), 18);
        let long = "x".repeat(200);
        let cut = with_base_sha(&long, BASE);
        assert!(cut.contains(" ... "));
        assert!(cut.len() <= MAX_LEN);
        assert_eq!(with_base_sha("Job triggered.", ""), "Job triggered.");
    }

    #[test]
    fn descriptions_carry_the_base_sha_within_140_bytes() {
        let short = with_base_sha("Job succeeded.", BASE);
        assert_eq!(short.matches(PAD).count(), 20);
        assert!(short.starts_with("Job succeeded.\u{2001}"));
        assert!(short.ends_with(&format!(" BaseSHA:{BASE}")));

        let long = "x".repeat(60) + &"y".repeat(60);
        let cut = with_base_sha(&long, BASE);
        assert_eq!(
            cut,
            format!("{} ... {} BaseSHA:{BASE}", "x".repeat(43), "y".repeat(43))
        );
        assert_eq!(cut.len(), 140);

        assert_eq!(with_base_sha("Job triggered.", ""), "Job triggered.");
        let exact = "z".repeat(91);
        assert_eq!(
            with_base_sha(&exact, BASE),
            format!("{exact} BaseSHA:{BASE}")
        );
        // Multi-byte text is never cut inside a character.
        let unicode = "é".repeat(80);
        let cut = with_base_sha(&unicode, BASE);
        assert!(cut.contains(" ... "));
        assert!(cut.len() <= 140);
    }
}
