//! Shell-style globs (`*`, `?`, `[a-z]`, `[!x]`) on job names, as Prow's badge uses Go's `path.Match`.

/// Whether `name` matches the whole `pattern`. A malformed class (`[` without `]`) matches nothing,
/// as `path.Match` reports an error for it.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n).unwrap_or(false)
}

/// Iterative matcher with one backtrack point for the last `*` (linear for typical patterns).
fn match_from(p: &[char], n: &[char]) -> Option<bool> {
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    let (hit, len) = class(&p[pi..], n[ni])?;
                    if hit {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == n[ni] {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return Some(false),
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    Some(pi == p.len())
}

/// Matches `c` against the class starting at `p[0] == '['`; returns (hit, class length).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|hi| *hi != ']') {
            let hi = *p.get(i + 2)?;
            hit |= lo <= c && c <= hi;
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_like_go_path_match() {
        let table = [
            ("pull-*", "pull-foo-unit", true),
            ("pull-*", "ci-foo", false),
            ("*", "anything", true),
            ("*-unit", "pull-foo-unit", true),
            ("*-unit", "pull-foo-unit-x", false),
            ("pull-?oo", "pull-foo", true),
            ("pull-?oo", "pull-fooo", false),
            ("ci-[a-c]*", "ci-bar", true),
            ("ci-[a-c]*", "ci-dar", false),
            ("ci-[!a-c]*", "ci-dar", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("broken[", "broken[", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, name, want) in table {
            assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
        }
    }
}
