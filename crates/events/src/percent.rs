//! Percent-encoding of `ce-*` header values as the CloudEvents HTTP binding (§3.1.3.2) requires.

/// Bytes a header value may carry verbatim: printable ASCII except `"` and `%`.
fn is_unreserved(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%'
}

/// Encodes space, `"`, `%`, controls and every non-ASCII byte of the UTF-8 form as `%XX`.
pub(crate) fn encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Why a header value could not be percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("percent-decoded value is not UTF-8")]
    NotUtf8,
}

/// Decodes `%XX` escapes; any other byte is kept as is. A `%` that starts no valid escape
/// stays literal: senders that never encode (`ce-note: 100%`) are still understood.
pub(crate) fn decode(value: &[u8]) -> Result<String, PercentError> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hi = value.get(i + 1).and_then(|b| hex_digit(*b));
            let lo = value.get(i + 2).and_then(|b| hex_digit(*b));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            out.push(b'%');
            i += 1;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PercentError::NotUtf8)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encoding_escapes_exactly_what_the_spec_lists() {
        let cases = [
            ("plain", "plain"),
            ("/mycontext/subcontext", "/mycontext/subcontext"),
            ("2018-04-05T03:56:24Z", "2018-04-05T03:56:24Z"),
            ("a b", "a%20b"),
            ("say \"hi\"", "say%20%22hi%22"),
            ("100%", "100%25"),
            ("Hello, 🌎!", "Hello,%20%F0%9F%8C%8E!"),
            ("tab\there", "tab%09here"),
            ("", ""),
        ];
        for (raw, encoded) in cases {
            assert_eq!(encode(raw), encoded, "encode({raw:?})");
            assert_eq!(
                decode(encoded.as_bytes()).as_deref(),
                Ok(raw),
                "decode({encoded:?})"
            );
        }
    }

    #[test]
    fn decoding_accepts_what_other_sdks_escape_too() {
        // The Python SDK escapes with `quote(safe="")`, so `/` and `:` arrive escaped.
        assert_eq!(
            decode(b"%2Fmycontext%2fsub").as_deref(),
            Ok("/mycontext/sub")
        );
        assert_eq!(
            decode(b"2018-04-05T03%3A56%3A24Z").as_deref(),
            Ok("2018-04-05T03:56:24Z")
        );
    }

    #[test]
    fn decoding_keeps_stray_percent_signs_and_rejects_invalid_utf8() {
        assert_eq!(decode(b"50%").as_deref(), Ok("50%"));
        assert_eq!(decode(b"%4").as_deref(), Ok("%4"));
        assert_eq!(decode(b"%zz%41").as_deref(), Ok("%zzA"));
        assert_eq!(decode(b"100% sure").as_deref(), Ok("100% sure"));
        assert_eq!(decode(b"%FF%FE"), Err(PercentError::NotUtf8));
    }
}
