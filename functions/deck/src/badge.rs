//! `/badge.svg?jobs=<glob>,...`: Prow's status badge, decided from the latest run of each job.

use std::collections::BTreeMap;

use prow_core::prowjob::ProwJobState;

/// What the badge says and in which colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub text: String,
    pub color: &'static str,
}

const GREY: &str = "darkgrey";
const RED: &str = "#e05d44";
const GREEN: &str = "#4c1";

/// Prow's rule: no runs -> "no results"; any latest run failed -> "failing a, b, c, ..." (sorted,
/// three names at most); otherwise "passing" (pending, aborted and error count as passing).
pub fn decide(latest: &BTreeMap<String, ProwJobState>) -> Badge {
    if latest.is_empty() {
        return Badge {
            text: "no results".into(),
            color: GREY,
        };
    }
    let failing: Vec<&str> = latest
        .iter()
        .filter(|(_, s)| **s == ProwJobState::Failure)
        .map(|(j, _)| j.as_str())
        .collect();
    if failing.is_empty() {
        return Badge {
            text: "passing".into(),
            color: GREEN,
        };
    }
    let mut text = format!("failing {}", failing[..failing.len().min(3)].join(", "));
    if failing.len() > 3 {
        text.push_str(", ...");
    }
    Badge { text, color: RED }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Shields-style SVG: left "build", right the badge text; widths 13 + 6 per character as Prow.
pub fn svg(badge: &Badge) -> String {
    let left = "build";
    let (lw, rw) = (
        13 + 6 * left.chars().count(),
        13 + 6 * badge.text.chars().count(),
    );
    let total = lw + rw;
    let text = escape(&badge.text);
    let color = badge.color;
    let (lx, rx) = (lw / 2, lw + rw / 2);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20"><linearGradient id="a" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><rect rx="3" width="{total}" height="20" fill="#555"/><rect rx="3" x="{lw}" width="{rw}" height="20" fill="{color}"/><path fill="{color}" d="M{lw} 0h4v20h-4z"/><rect rx="3" width="{total}" height="20" fill="url(#a)"/><g fill="#fff" text-anchor="middle" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11"><text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{left}</text><text x="{lx}" y="14">{left}</text><text x="{rx}" y="15" fill="#010101" fill-opacity=".3">{text}</text><text x="{rx}" y="14">{text}</text></g></svg>"##
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ProwJobState::*;

    fn latest(pairs: &[(&str, ProwJobState)]) -> BTreeMap<String, ProwJobState> {
        pairs.iter().map(|(j, s)| ((*j).to_owned(), *s)).collect()
    }

    type Case<'a> = (&'a [(&'a str, ProwJobState)], &'a str, &'a str);

    #[test]
    fn badge_follows_prow() {
        let table: &[Case<'_>] = &[
            (&[], "no results", GREY),
            (&[("a", Success)], "passing", GREEN),
            (
                &[("a", Pending), ("b", Aborted), ("c", Error)],
                "passing",
                GREEN,
            ),
            (&[("b", Failure), ("a", Success)], "failing b", RED),
            (
                &[
                    ("d", Failure),
                    ("c", Failure),
                    ("b", Failure),
                    ("a", Failure),
                ],
                "failing a, b, c, ...",
                RED,
            ),
            (
                &[("c", Failure), ("b", Failure), ("a", Failure)],
                "failing a, b, c",
                RED,
            ),
        ];
        for (input, text, color) in table {
            let badge = decide(&latest(input));
            assert_eq!(
                (badge.text.as_str(), badge.color),
                (*text, *color),
                "{input:?}"
            );
        }
    }

    #[test]
    fn svg_escapes_job_names_and_sizes_by_text() {
        let badge = Badge {
            text: "failing <x>".into(),
            color: RED,
        };
        let svg = svg(&badge);
        assert!(svg.contains("failing &lt;x&gt;"));
        assert!(!svg.contains("<x>"));
        // 13 + 6*5 for "build", 13 + 6*11 for the text.
        assert!(svg.contains(r#"width="122""#), "{svg}");
    }
}
