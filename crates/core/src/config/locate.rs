//! Finds the line and column of a YAML path (`presubmits.acme/foo[3].name`) by re-reading the file
//! with a position-tracking event parser. Used only when a diagnostic is reported.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(k: &str) -> Self {
        Seg::Key(k.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

fn position(mark: &Marker) -> Position {
    // yaml-rust2 lines are 1-based and columns 0-based.
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

type Events<'a> = Parser<std::str::Chars<'a>>;

/// Position of the node at `path` in the first document of `text`: for a mapping key, the key
/// itself; for a sequence item, the item. `None` when the path does not exist or the YAML is broken
/// before reaching it.
pub fn locate(text: &str, path: &[Seg]) -> Option<Position> {
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().ok()?;
        match event {
            Event::StreamStart | Event::DocumentStart => continue,
            Event::StreamEnd | Event::DocumentEnd => return None,
            _ => return descend(&mut parser, event, mark, path),
        }
    }
}

fn descend(parser: &mut Events<'_>, event: Event, mark: Marker, path: &[Seg]) -> Option<Position> {
    let Some((seg, rest)) = path.split_first() else {
        // A block mapping's start mark sits oddly; its first key is where a reader looks.
        if matches!(event, Event::MappingStart(..))
            && let Ok((Event::Scalar(..), key_mark)) = parser.next_token()
        {
            return Some(position(&key_mark));
        }
        return Some(position(&mark));
    };
    match (event, seg) {
        (Event::MappingStart(..), Seg::Key(wanted)) => loop {
            let (key, key_mark) = parser.next_token().ok()?;
            match key {
                Event::MappingEnd => return None,
                Event::Scalar(ref k, ..) if k == wanted => {
                    let (value, value_mark) = parser.next_token().ok()?;
                    if rest.is_empty() {
                        return Some(position(&key_mark));
                    }
                    return descend(parser, value, value_mark, rest);
                }
                other => {
                    skip(parser, other)?;
                    let (value, _) = parser.next_token().ok()?;
                    skip(parser, value)?;
                }
            }
        },
        (Event::SequenceStart(..), Seg::Index(wanted)) => {
            let mut index = 0;
            loop {
                let (item, item_mark) = parser.next_token().ok()?;
                if item == Event::SequenceEnd {
                    return None;
                }
                if index == *wanted {
                    return descend(parser, item, item_mark, rest);
                }
                skip(parser, item)?;
                index += 1;
            }
        }
        _ => None,
    }
}

/// Consumes the rest of the node that `first` started.
fn skip(parser: &mut Events<'_>, first: Event) -> Option<()> {
    let mut depth = match first {
        Event::MappingStart(..) | Event::SequenceStart(..) => 1usize,
        _ => return Some(()),
    };
    while depth > 0 {
        match parser.next_token().ok()?.0 {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => depth -= 1,
            Event::StreamEnd => return None,
            _ => {}
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
presubmits:
  acme/foo:
  - name: a
    always_run: true
  - name: b
    run_if_changed: '^docs/'
    spec: {containers: [{image: x}]}
periodics:
- name: p
  cron: '* * * * *'
";

    fn at(path: &[Seg]) -> Option<(usize, usize)> {
        locate(DOC, path).map(|p| (p.line, p.column))
    }

    #[test]
    fn finds_keys_and_items_by_path() {
        assert_eq!(at(&["presubmits".into()]), Some((1, 1)));
        assert_eq!(
            at(&["presubmits".into(), "acme/foo".into(), 1.into()]),
            Some((5, 5))
        );
        assert_eq!(
            at(&[
                "presubmits".into(),
                "acme/foo".into(),
                1.into(),
                "run_if_changed".into()
            ]),
            Some((6, 5))
        );
        assert_eq!(
            at(&["periodics".into(), 0.into(), "cron".into()]),
            Some((10, 3))
        );
        assert_eq!(
            at(&[
                "presubmits".into(),
                "acme/foo".into(),
                1.into(),
                "spec".into(),
                "containers".into(),
                0.into(),
                "image".into()
            ]),
            Some((7, 26))
        );
    }

    #[test]
    fn missing_paths_and_broken_yaml_give_none() {
        assert_eq!(at(&["postsubmits".into()]), None);
        assert_eq!(
            at(&["presubmits".into(), "acme/foo".into(), 7.into()]),
            None
        );
        assert_eq!(locate("a: [1, 2", &["b".into()]), None);
    }
}
