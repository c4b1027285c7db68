//! Where tests find what they read and run.
//!
//! - [`testdata`]: fixtures vendored in the repository (`testdata/` at the workspace root), so a
//!   clean clone tests itself.
//! - [`corpus`]: the full real-world corpus (Kubernetes' whole Prow config and friends), which
//!   stays outside the repository. Tests that need it are `#[ignore = "needs PROW_CORPUS"]` and
//!   named `corpus_*`; `.ci/test` runs them with `--include-ignored` when `PROW_CORPUS` is set.
//! - [`counterpart`]: a real program a test talks to (kubectl, chromium, fake-gcs-server...).
//!   Tests that need one are ignored with the reason and run by `.ci/test`, where a missing
//!   program fails the test loudly instead of passing silently.

use std::path::{Path, PathBuf};

/// The environment variable naming the full corpus directory (CI sets it).
pub const PROW_CORPUS: &str = "PROW_CORPUS";

/// The repository's `testdata/` directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A file under `testdata/`, read whole; panics naming the path when it is missing.
pub fn read(relative: &str) -> String {
    let path = testdata().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading fixture {}: {err}", path.display()))
}

/// The directory of real GitHub webhook payloads (`<event>.<action>.json`).
pub fn webhooks() -> PathBuf {
    testdata().join("webhooks")
}

/// One real GitHub webhook payload's bytes, e.g. `webhook("pull_request.opened.json")`.
pub fn webhook(file: &str) -> Vec<u8> {
    read(&format!("webhooks/{file}")).into_bytes()
}

/// The full corpus named by `PROW_CORPUS`; panics with what to set when it is not there.
///
/// Only `corpus_*` tests, ignored by default, call this.
pub fn corpus() -> PathBuf {
    match std::env::var_os(PROW_CORPUS) {
        Some(dir) if Path::new(&dir).is_dir() => PathBuf::from(dir),
        Some(dir) => panic!(
            "{PROW_CORPUS}={} is not a directory",
            Path::new(&dir).display()
        ),
        None => panic!(
            "this test reads the full corpus: set {PROW_CORPUS} to its directory (CI does); \
             it is ignored unless run with --include-ignored"
        ),
    }
}

/// The path of `program` on `PATH` (or the file named by `override_var`, when set).
///
/// Panics naming the program and how to install it: tests that call this are ignored by
/// default and run by `.ci/test`, where a missing counterpart must fail, never pass silently.
pub fn counterpart(program: &str, override_var: Option<&str>, install_hint: &str) -> PathBuf {
    find_counterpart(program, override_var).unwrap_or_else(|| {
        panic!("{program} is required by this test and was not found: {install_hint}")
    })
}

/// Like [`counterpart`] without panicking.
pub fn find_counterpart(program: &str, override_var: Option<&str>) -> Option<PathBuf> {
    if let Some(path) = override_var.and_then(std::env::var_os) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_fixtures_are_in_the_repository() {
        for dir in [
            "webhooks",
            "prow/crd",
            "prow/test-infra/config/prow",
            "prow/examples/integration-minimal",
            "schemas/knative-serving",
            "schemas/knative-eventing",
            "cloudevents-conformance",
        ] {
            assert!(testdata().join(dir).is_dir(), "testdata/{dir} is missing");
        }
        assert!(webhook("pull_request.opened.json").starts_with(b"{"));
    }

    #[test]
    fn a_program_on_path_is_found_and_a_missing_one_is_not() {
        assert!(find_counterpart("sh", None).is_some());
        assert!(find_counterpart("no-such-program-prow-rs", None).is_none());
    }
}
