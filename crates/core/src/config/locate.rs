//! Finds the line and column of a YAML path (`presubmits.acme/foo[3].name`) by re-reading the file
//! as the loader reads it (merge keys applied, the last of repeated keys kept), keeping positions.
//! Used only when a diagnostic is reported.

use super::load::goyaml;

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

/// Position of the node at `path` in the first document of `text`: for a mapping key, the key
/// itself; for a sequence item, the item (a mapping item: its first key). A key that came from a
/// merge (`<<: *anchor`) is found where the anchor writes it; a repeated key, at its last
/// occurrence (the one that counts). `None` when the path does not exist or the YAML is broken.
pub fn locate(text: &str, path: &[Seg]) -> Option<Position> {
    goyaml::parse(text).ok()?.locate(path)
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
