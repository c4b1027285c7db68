//! Spyglass lenses as pure functions: build logs (ANSI colours, failure highlighting, collapsed
//! context, line anchors) and JUnit XML results.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;

/// Lines shown around each highlighted line when a long log is collapsed.
pub const CONTEXT_LINES: usize = 10;
/// Logs with at most this many lines are shown whole.
pub const COLLAPSE_ABOVE: usize = 300;
/// The end of a log is always shown: that is where a job says why it stopped.
pub const TAIL_LINES: usize = 50;

/// Prow's build-log lens highlight pattern: errors, failures, panics, timeouts, klog errors.
static HIGHLIGHT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"timed out|ERROR:|(FAIL|Failure \[)\b|panic\b|^E\d{4} \d\d:\d\d:\d\d\.\d\d\d]|(?i:\berror\b)")
        .unwrap_or_else(|_| unreachable!("constant regex"))
});

static ANSI_CSI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("\x1b\\[([0-9;?]*)([@-~])").unwrap_or_else(|_| unreachable!("constant regex"))
});

pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Remaining control characters (a stray ESC, a bell) are dropped, tabs kept.
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
}

/// SGR state carried from one line to the next, as a terminal would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    fg: Option<u8>,
    bg: Option<u8>,
    bold: bool,
}

impl Style {
    fn apply(&mut self, params: &str) {
        let codes: Vec<u16> = if params.is_empty() {
            vec![0]
        } else {
            params.split(';').map(|p| p.parse().unwrap_or(0)).collect()
        };
        let mut it = codes.into_iter();
        while let Some(code) = it.next() {
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                22 => self.bold = false,
                30..=37 => self.fg = Some((code - 30) as u8),
                90..=97 => self.fg = Some((code - 90 + 8) as u8),
                39 => self.fg = None,
                40..=47 => self.bg = Some((code - 40) as u8),
                100..=107 => self.bg = Some((code - 100 + 8) as u8),
                49 => self.bg = None,
                // 256-colour and truecolour: skip their arguments, keep the default colour.
                38 | 48 => match it.next() {
                    Some(5) => {
                        it.next();
                    }
                    Some(2) => {
                        it.next();
                        it.next();
                        it.next();
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    fn classes(&self) -> String {
        let mut c = Vec::new();
        if let Some(fg) = self.fg {
            c.push(format!("f{fg}"));
        }
        if let Some(bg) = self.bg {
            c.push(format!("b{bg}"));
        }
        if self.bold {
            c.push("bold".to_owned());
        }
        c.join(" ")
    }
}

/// One log line as HTML (escaped text in colour spans) and the style it leaves behind.
pub fn ansi_line_to_html(line: &str, mut style: Style) -> (String, Style) {
    let mut out = String::new();
    let mut open = false;
    let mut last = 0;
    let emit = |text: &str, style: &Style, out: &mut String, open: &mut bool| {
        if text.is_empty() {
            return;
        }
        let classes = style.classes();
        if !classes.is_empty() {
            let _ = write!(out, "<span class=\"{classes}\">");
            *open = true;
        }
        escape(text, out);
        if *open {
            out.push_str("</span>");
            *open = false;
        }
    };
    for m in ANSI_CSI.captures_iter(line) {
        let (Some(all), Some(params), Some(kind)) = (m.get(0), m.get(1), m.get(2)) else {
            continue;
        };
        emit(&line[last..all.start()], &style, &mut out, &mut open);
        if kind.as_str() == "m" {
            style.apply(params.as_str());
        }
        last = all.end();
    }
    emit(&line[last..], &style, &mut out, &mut open);
    (out, style)
}

/// Text without escape sequences (for highlighting decisions and plain views).
pub fn strip_ansi(line: &str) -> String {
    ANSI_CSI.replace_all(line, "").into_owned()
}

pub fn is_highlighted(plain_line: &str) -> bool {
    HIGHLIGHT.is_match(plain_line)
}

/// A run of consecutive lines, shown or folded away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// 0-based, end exclusive.
    pub start: usize,
    pub end: usize,
    pub shown: bool,
}

/// Which lines of an `n`-line log to show: all of a short log; of a long one the context around
/// highlighted lines and the tail, the rest folded into expandable spans.
pub fn fold(n: usize, highlighted: &[usize]) -> Vec<Span> {
    if n == 0 {
        return Vec::new();
    }
    if n <= COLLAPSE_ABOVE {
        return vec![Span {
            start: 0,
            end: n,
            shown: true,
        }];
    }
    let mut shown = vec![false; n];
    for &h in highlighted.iter().filter(|h| **h < n) {
        let lo = h.saturating_sub(CONTEXT_LINES);
        let hi = (h + CONTEXT_LINES + 1).min(n);
        shown[lo..hi].iter_mut().for_each(|s| *s = true);
    }
    shown[n.saturating_sub(TAIL_LINES)..]
        .iter_mut()
        .for_each(|s| *s = true);
    let mut spans: Vec<Span> = Vec::new();
    for (i, s) in shown.into_iter().enumerate() {
        match spans.last_mut() {
            Some(last) if last.shown == s => last.end = i + 1,
            _ => spans.push(Span {
                start: i,
                end: i + 1,
                shown: s,
            }),
        }
    }
    spans
}

/// A rendered log: the HTML of each line and the folding.
#[derive(Debug, Clone, Default)]
pub struct RenderedLog {
    pub lines: Vec<LogLine>,
    pub spans: Vec<Span>,
    pub highlighted: usize,
}

#[derive(Debug, Clone)]
pub struct LogLine {
    /// 1-based, used for the `#L<n>` anchors.
    pub number: usize,
    pub html: String,
    pub highlighted: bool,
}

pub fn render_log(text: &str) -> RenderedLog {
    let mut style = Style::default();
    let mut lines = Vec::new();
    let mut marks = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let plain = strip_ansi(raw);
        let highlighted = is_highlighted(&plain);
        if highlighted {
            marks.push(i);
        }
        let (html, next) = ansi_line_to_html(raw, style);
        style = next;
        lines.push(LogLine {
            number: i + 1,
            html,
            highlighted,
        });
    }
    let spans = fold(lines.len(), &marks);
    RenderedLog {
        lines,
        spans,
        highlighted: marks.len(),
    }
}

/// A span of lines ready for the template.
#[derive(Debug, Clone)]
pub struct LogBlock<'a> {
    pub shown: bool,
    pub lines: &'a [LogLine],
}

impl RenderedLog {
    pub fn blocks(&self) -> Vec<LogBlock<'_>> {
        self.spans
            .iter()
            .map(|s| LogBlock {
                shown: s.shown,
                lines: &self.lines[s.start..s.end],
            })
            .collect()
    }
}

/// One JUnit test case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub suite: String,
    pub class: String,
    pub name: String,
    pub time: String,
    pub outcome: Outcome,
}

impl TestCase {
    pub fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }

    pub fn detail(&self) -> &str {
        match &self.outcome {
            Outcome::Passed => "",
            Outcome::Failed(t) | Outcome::Skipped(t) => t,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: not JUnit XML: {reason}")]
pub struct JunitError {
    pub file: String,
    pub reason: String,
}

/// Test cases of a JUnit XML document (`<testsuites>` or a lone `<testsuite>`).
pub fn parse_junit(file: &str, xml: &str) -> Result<Vec<TestCase>, JunitError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| JunitError {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    let root = doc.root_element();
    if !matches!(root.tag_name().name(), "testsuites" | "testsuite") {
        return Err(JunitError {
            file: file.to_owned(),
            reason: format!("root element is <{}>", root.tag_name().name()),
        });
    }
    let mut cases = Vec::new();
    for case in root.descendants().filter(|n| n.has_tag_name("testcase")) {
        let suite = case
            .ancestors()
            .find(|a| a.has_tag_name("testsuite"))
            .and_then(|s| s.attribute("name"))
            .unwrap_or("");
        let child = |tag: &str| case.children().find(|c| c.has_tag_name(tag));
        let text_of = |n: roxmltree::Node<'_, '_>| {
            let body = n.text().unwrap_or("").trim();
            let message = n.attribute("message").unwrap_or("").trim();
            match (message.is_empty(), body.is_empty()) {
                (_, false) if message.is_empty() || body.contains(message) => body.to_owned(),
                (false, false) => format!("{message}\n{body}"),
                _ => message.to_owned(),
            }
        };
        let outcome = if let Some(f) = child("failure").or_else(|| child("error")) {
            Outcome::Failed(text_of(f))
        } else if let Some(s) = child("skipped") {
            Outcome::Skipped(text_of(s))
        } else {
            Outcome::Passed
        };
        cases.push(TestCase {
            suite: suite.to_owned(),
            class: case.attribute("classname").unwrap_or("").to_owned(),
            name: case.attribute("name").unwrap_or("").to_owned(),
            time: case.attribute("time").unwrap_or("").to_owned(),
            outcome,
        });
    }
    // Failures first, as the job page's reader is looking for them.
    cases.sort_by_key(|c| match c.outcome {
        Outcome::Failed(_) => 0,
        Outcome::Skipped(_) => 2,
        Outcome::Passed => 1,
    });
    Ok(cases)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_become_classes_and_text_is_escaped() {
        let table = [
            ("plain <b>", "plain &lt;b&gt;"),
            ("\x1b[31mred\x1b[0m ok", "<span class=\"f1\">red</span> ok"),
            (
                "\x1b[1;92mBOLD\x1b[22m",
                "<span class=\"f10 bold\">BOLD</span>",
            ),
            ("\x1b[38;5;200mx\x1b[m", "x"),
            ("\x1b[2Kcleared", "cleared"),
            ("bell\x07", "bell"),
        ];
        for (input, want) in table {
            assert_eq!(
                ansi_line_to_html(input, Style::default()).0,
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn colour_carries_over_to_the_next_line() {
        let (_, style) = ansi_line_to_html("\x1b[33mstart", Style::default());
        assert_eq!(
            ansi_line_to_html("more", style).0,
            "<span class=\"f3\">more</span>"
        );
    }

    #[test]
    fn highlights_follow_prows_pattern() {
        for (line, want) in [
            ("--- FAIL: TestFoo (0.1s)", true),
            ("ERROR: build failed", true),
            ("panic: runtime error", true),
            ("E0102 15:04:05.000] boom", true),
            ("context deadline: timed out", true),
            ("error: cannot find module", true),
            ("all good", false),
            ("errors.go compiled", false),
        ] {
            assert_eq!(is_highlighted(line), want, "{line}");
        }
    }

    #[test]
    fn short_logs_are_whole_and_long_logs_fold_around_failures() {
        assert_eq!(fold(0, &[]), vec![]);
        assert_eq!(
            fold(10, &[3]),
            vec![Span {
                start: 0,
                end: 10,
                shown: true
            }]
        );
        let spans = fold(1000, &[500]);
        assert_eq!(
            spans,
            vec![
                Span {
                    start: 0,
                    end: 490,
                    shown: false
                },
                Span {
                    start: 490,
                    end: 511,
                    shown: true
                },
                Span {
                    start: 511,
                    end: 950,
                    shown: false
                },
                Span {
                    start: 950,
                    end: 1000,
                    shown: true
                },
            ]
        );
        let covered: usize = spans.iter().map(|s| s.end - s.start).sum();
        assert_eq!(covered, 1000);
        // Near the start and overlapping the tail.
        assert_eq!(
            fold(400, &[2, 345]),
            vec![
                Span {
                    start: 0,
                    end: 13,
                    shown: true
                },
                Span {
                    start: 13,
                    end: 335,
                    shown: false
                },
                Span {
                    start: 335,
                    end: 400,
                    shown: true
                },
            ]
        );
    }

    #[test]
    fn render_log_numbers_lines_and_counts_highlights() {
        let log = render_log("ok\n\x1b[31mFAIL\x1b[0m here\nend\n");
        assert_eq!(log.lines.len(), 3);
        assert_eq!(log.lines[1].number, 2);
        assert!(log.lines[1].highlighted);
        assert_eq!(log.highlighted, 1);
        assert_eq!(log.blocks().len(), 1);
    }

    #[test]
    fn junit_cases_with_failures_first() {
        let xml = r#"<?xml version="1.0"?>
<testsuites><testsuite name="unit">
  <testcase classname="pkg" name="TestOk" time="0.1"/>
  <testcase classname="pkg" name="TestBad" time="0.2"><failure message="boom">stack &lt;here&gt;</failure></testcase>
  <testcase classname="pkg" name="TestSkip"><skipped message="flaky"/></testcase>
</testsuite></testsuites>"#;
        let cases = parse_junit("junit.xml", xml).unwrap();
        let names: Vec<(&str, &str)> = cases
            .iter()
            .map(|c| (c.name.as_str(), c.status()))
            .collect();
        assert_eq!(
            names,
            [
                ("TestBad", "failed"),
                ("TestOk", "passed"),
                ("TestSkip", "skipped")
            ]
        );
        assert_eq!(cases[0].detail(), "boom\nstack <here>");
        assert_eq!(cases[0].suite, "unit");
        assert_eq!(cases[2].detail(), "flaky");
        let single = parse_junit(
            "j.xml",
            r#"<testsuite name="s"><testcase name="t"><error>bad</error></testcase></testsuite>"#,
        )
        .unwrap();
        assert_eq!(single[0].outcome, Outcome::Failed("bad".into()));
        assert!(parse_junit("x.xml", "<html/>").is_err());
        assert!(parse_junit("x.xml", "not xml").is_err());
    }
}
