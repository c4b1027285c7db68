//! Go-YAML reading for files outside the config tree (OWNERS, OWNERS_ALIASES): the same reader as the config loader, with the error's position.

use serde::de::DeserializeOwned;

use super::load::goyaml;

/// A YAML syntax or type error at `line:column` (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct GoYamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Deserializes the first document of `text` as Prow's `sigs.k8s.io/yaml` reads it (merge
/// keys, last of repeated keys win, unknown fields ignored). A file of only comments reads
/// as an empty mapping.
pub fn from_go_yaml<T: DeserializeOwned>(text: &str) -> Result<T, GoYamlError> {
    let empty = text
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---");
    let doc = goyaml::parse(if empty { "" } else { text }).map_err(|e| at(&e))?;
    T::deserialize(doc.deserializer()).map_err(|e| at(&e))
}

fn at(err: &goyaml::Error) -> GoYamlError {
    let position = err
        .position()
        .unwrap_or(super::Position { line: 1, column: 1 });
    GoYamlError {
        line: position.line,
        column: position.column,
        message: err.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn errors_carry_the_line_and_empty_files_are_empty_mappings() {
        let ok: BTreeMap<String, Vec<String>> =
            from_go_yaml("approvers:\n- alice\nreviewers: [bob]\n").unwrap();
        assert_eq!(ok["reviewers"], ["bob"]);
        let empty: BTreeMap<String, Vec<String>> = from_go_yaml("# nothing\n").unwrap();
        assert!(empty.is_empty());
        let err = from_go_yaml::<BTreeMap<String, Vec<String>>>("a: [x]\nb: {c\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
        let err = from_go_yaml::<BTreeMap<String, Vec<String>>>("a: [x]\nb: y\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }
}
