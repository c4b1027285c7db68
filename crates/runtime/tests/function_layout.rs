//! Every function crate has the same skeleton, so a reader who knows one knows them all:
//! `main.rs` (thin), `lib.rs` (flags, `StartError`, state, `app`, `router`), `decide.rs` (the pure
//! decisions), `metrics.rs`. Two crates split their decisions instead of one `decide.rs`: deck,
//! a web app, per page (`actions.rs`, `filter.rs`, `auth.rs`), and plugins, per plugin (each
//! module's pure `decide` behind the `Plugin` trait).

use std::path::{Path, PathBuf};

fn functions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions")
}

fn function_crates() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(functions_dir())
        .expect("functions/ is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    crates
}

#[test]
fn every_function_crate_has_the_same_skeleton() {
    let crates = function_crates();
    assert!(crates.len() >= 7, "found only {crates:?}");
    let mut missing = Vec::new();
    for krate in &crates {
        let name = krate
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let mut required = vec!["lib.rs", "main.rs", "metrics.rs"];
        if !["deck", "plugins"].contains(&name) {
            required.push("decide.rs");
        }
        for file in required {
            if !krate.join("src").join(file).is_file() {
                missing.push(format!("functions/{name}/src/{file}"));
            }
        }
    }
    assert!(missing.is_empty(), "missing: {missing:?}");
}

#[test]
fn every_function_exposes_router_and_app_and_start_error() {
    for krate in function_crates() {
        // lib.rs or a module it re-exports from (plugins keeps its server in server.rs).
        let lib: String = std::fs::read_dir(krate.join("src"))
            .expect("src/")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
            .map(|path| std::fs::read_to_string(path).expect("source file"))
            .collect();
        for needle in [
            "pub fn router(",
            "pub async fn app(",
            "pub enum StartError",
            "pub struct Flags",
        ] {
            // hook's app is synchronous: it needs no API server or GitHub at start-up.
            let found = lib.contains(needle)
                || (needle == "pub async fn app(" && lib.contains("pub fn app("));
            assert!(found, "{}: no `{needle}`", krate.display());
        }
    }
}
