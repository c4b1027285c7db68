//! Comment bodies into Prow's command grammar (prow_core::commands), the way trigger and every
//! plugin read them: stripped of code and quotes, split into `/name args` lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prow_core::commands::{CommandLine, CommandText, command_lines, strip_non_commands};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let text = CommandText::new(body);
    // Stripping is idempotent: a stripped text has no code or quotes left to remove.
    assert_eq!(strip_non_commands(text.as_str()), text.as_str());
    for command in text.commands() {
        assert!(!command.name.is_empty());
        assert!(!command.name.contains(|c: char| c.is_ascii_whitespace()));
        assert_eq!(command.bare(), command.first_word().is_none());
        assert!(command.raw_args.contains(command.args));
        for word in command.words() {
            assert!(!word.is_empty());
        }
        let _ = command.is("test");
        let _ = command.is_any_case("LGTM");
        let _ = command.starts_with_word("test");
    }
    assert_eq!(
        command_lines(text.as_str()).count(),
        text.commands().count()
    );
    for line in body.lines() {
        let _ = CommandLine::parse(line);
    }
    let _ = text.any(|c| c.is("retest"));
});
