//! Prow's comment command grammar, shared by trigger and every plugin: a command is a line that
//! starts with `/name`, followed by its arguments; a comment may hold several; lines GitHub
//! renders as code or quotes are not commands.
//!
//! Prow writes each plugin's commands as a multi-line regex anchored at line start (`(?m)^/hold
//! (\s.*)?$`); some are case-insensitive (`(?mi)`, most plugins) and some are not (trigger's).
//! Here a line is split once into a name and its arguments, and each caller says how its name
//! compares ([`CommandLine::is`], [`CommandLine::is_any_case`]), so no plugin re-declares the
//! line rules. Separators are ASCII whitespace, as Go's `\s`.

/// Removes what GitHub renders as code or quotes (fenced blocks, indented blocks, `>` lines), so a
/// command quoted from someone else's comment does not run again.
pub fn strip_non_commands(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        if trimmed.starts_with('>') || line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        out.push_str(line.trim_end_matches('\r'));
        out.push('\n');
    }
    out
}

/// A comment (issue comment, PR body, review body) reduced to the lines that may hold commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandText {
    text: String,
}

impl CommandText {
    /// The command lines of `body` (code blocks and quotes removed).
    pub fn new(body: &str) -> Self {
        Self {
            text: strip_non_commands(body),
        }
    }

    /// The text with code blocks and quotes removed (what job trigger regexes are matched on).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every command in the text, in order.
    pub fn commands(&self) -> impl Iterator<Item = CommandLine<'_>> {
        command_lines(&self.text)
    }

    /// Whether any command satisfies `f`.
    pub fn any(&self, mut f: impl FnMut(&CommandLine<'_>) -> bool) -> bool {
        self.commands().any(|c| f(&c))
    }
}

/// The commands of text that is already stripped of code and quotes (see [`CommandText`]).
pub fn command_lines(text: &str) -> impl Iterator<Item = CommandLine<'_>> {
    text.lines().filter_map(CommandLine::parse)
}

/// One `/name args` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLine<'a> {
    /// Everything between `/` and the first whitespace, as written.
    pub name: &'a str,
    /// The rest of the line, without surrounding whitespace.
    pub args: &'a str,
    /// The rest of the line as written, separator included (for commands whose regex in Prow
    /// pins the separator, like trigger's `/test all`).
    pub raw_args: &'a str,
}

fn is_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

impl<'a> CommandLine<'a> {
    /// The command on `line`, if it starts with `/` followed by a name.
    pub fn parse(line: &'a str) -> Option<Self> {
        let rest = line.trim_end_matches('\r').strip_prefix('/')?;
        let end = rest.find(is_space).unwrap_or(rest.len());
        let (name, args) = rest.split_at(end);
        if name.is_empty() {
            return None;
        }
        Some(Self {
            name,
            args: args.trim_matches(is_space),
            raw_args: args,
        })
    }

    /// The name compares exactly (Prow's case-sensitive commands, e.g. trigger's).
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The name compares ignoring ASCII case (Prow's `(?mi)` commands, most plugins').
    pub fn is_any_case(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the name starts with the word `word`: equal to it, or followed by a non-word
    /// character (regex `^/word\b`, e.g. `/test-manual-required` starts with `test`).
    pub fn starts_with_word(&self, word: &str) -> bool {
        self.name.strip_prefix(word).is_some_and(|rest| {
            rest.chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
    }

    /// The arguments split on whitespace.
    pub fn words(&self) -> impl Iterator<Item = &'a str> {
        self.args.split(is_space).filter(|w| !w.is_empty())
    }

    /// The first argument, if any.
    pub fn first_word(&self) -> Option<&'a str> {
        self.words().next()
    }

    /// Whether there are no arguments.
    pub fn bare(&self) -> bool {
        self.args.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<(String, String)> {
        CommandText::new(body)
            .commands()
            .map(|c| (c.name.to_owned(), c.args.to_owned()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, a)| ((*n).to_owned(), (*a).to_owned()))
            .collect()
    }

    #[test]
    fn commands_are_lines_that_start_with_a_slash() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("/lgtm", &[("lgtm", "")]),
            ("/hold cancel  \r\n", &[("hold", "cancel")]),
            ("/assign @a @b\n/cc c", &[("assign", "@a @b"), ("cc", "c")]),
            ("please /lgtm", &[]),
            (" /lgtm", &[]),
            ("/", &[]),
            ("/ lgtm", &[]),
            ("/test?", &[("test?", "")]),
            (
                "text\n\n/approve no-issue\nmore",
                &[("approve", "no-issue")],
            ),
            ("/LGTM\t cancel", &[("LGTM", "cancel")]),
        ];
        for (body, want) in cases {
            assert_eq!(names(body), pairs(want), "{body:?}");
        }
    }

    #[test]
    fn code_blocks_quotes_and_indented_lines_are_not_commands() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("```\n/lgtm\n```\n/hold", &[("hold", "")]),
            ("~~~sh\n/approve\n~~~", &[]),
            ("> /lgtm\n/assign", &[("assign", "")]),
            ("    /lgtm", &[]),
            ("\t/lgtm", &[]),
            ("```\n/lgtm", &[]),
        ];
        for (body, want) in cases {
            assert_eq!(names(body), pairs(want), "{body:?}");
        }
    }

    #[test]
    fn names_compare_as_each_command_says() {
        let c = CommandLine::parse("/LGTM cancel").unwrap_or_else(|| panic!("a command"));
        assert!(c.is_any_case("lgtm"));
        assert!(!c.is("lgtm"));
        assert_eq!(c.first_word(), Some("cancel"));
        let t = CommandLine::parse("/test-manual-required").unwrap_or_else(|| panic!("a command"));
        assert!(t.starts_with_word("test"));
        assert!(
            !CommandLine::parse("/testing")
                .unwrap_or_else(|| panic!("a command"))
                .starts_with_word("test")
        );
        assert!(
            CommandLine::parse("/retest")
                .unwrap_or_else(|| panic!("a command"))
                .bare()
        );
    }
}
