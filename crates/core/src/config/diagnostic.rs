//! Config diagnostics: an error or warning pinned to `file:line:column` and the field it concerns.

use std::fmt;
use std::path::{Path, PathBuf};

use super::load::goyaml;
use super::locate::{Position, Seg};

/// How bad a diagnostic is: errors make the config unusable, warnings (e.g. unknown fields) do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a config file, printed as `file:line:column: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based; 0 when the position is unknown (e.g. the file could not be read).
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    /// Dotted path of the offending field, e.g. `presubmits.acme/foo[2].run_if_changed`.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            if self.field.is_empty() {
                "<file>"
            } else {
                &self.field
            },
            self.message
        )
    }
}

/// Renders a YAML path as the dotted field name used in diagnostics.
pub(super) fn field_name(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Collects diagnostics for one file, resolving YAML paths to positions only when something is
/// reported: the happy path never pays for position tracking.
pub(super) struct FileReporter<'a> {
    file: &'a Path,
    text: &'a str,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a> FileReporter<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str, out: &'a mut Vec<Diagnostic>) -> Self {
        Self { file, text, out }
    }

    pub(super) fn report(&mut self, severity: Severity, path: &[Seg], message: impl Into<String>) {
        let pos = locate_nearest(self.text, path);
        self.out.push(Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            field: field_name(path),
            message: message.into(),
        });
    }

    pub(super) fn error(&mut self, path: &[Seg], message: impl Into<String>) {
        self.report(Severity::Error, path, message);
    }

    pub(super) fn warning(&mut self, path: &[Seg], message: impl Into<String>) {
        self.report(Severity::Warning, path, message);
    }
}

/// Position of `path`, or of its longest existing prefix (a defaulted field has no line of its
/// own, so the job that lacks it is the most useful place to point at). A field that came from a
/// merged anchor points at the anchor's line for it; one the job lacks altogether, at the job
/// (the mapping that uses the anchor).
pub(super) fn locate_nearest(text: &str, path: &[Seg]) -> Position {
    goyaml::parse(text)
        .map(|doc| doc.locate_nearest(path))
        .unwrap_or(Position { line: 1, column: 1 })
}
