//! Censoring secrets out of logs and artifacts before upload (Prow's `pkg/sidecar/censor.go` and
//! `pkg/secretutil`): every file under the secret directories is a secret; each occurrence of a
//! secret (trimmed, and its base64 forms) is overwritten in place with as many `X`s.
//!
//! Files are censored whole in memory rather than streamed; archives are not unpacked.

use std::path::{Path, PathBuf};

use crate::log::Logger;
use crate::options::{SidecarCensoringOptions, WrapperOptions};

/// Replaces secrets with `X`s of the same length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Censorer {
    /// Longest first, so a secret containing another is censored whole.
    needles: Vec<Vec<u8>>,
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Censorer {
    /// Prow's `ReloadingCensorer.Refresh`: secrets are trimmed; empty ones, `true`/`false` and
    /// ones shorter than `min_length` are skipped; base64 of the raw and trimmed forms is added.
    pub fn new(secrets: &[Vec<u8>], min_length: usize) -> Self {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for raw in secrets {
            let text = String::from_utf8_lossy(raw).into_owned();
            let trimmed = text.trim();
            let mut to_encode = vec![text.as_str()];
            if trimmed != text {
                to_encode.push(trimmed);
            }
            if trimmed.is_empty()
                || trimmed.eq_ignore_ascii_case("true")
                || trimmed.eq_ignore_ascii_case("false")
                || trimmed.len() < min_length
            {
                continue;
            }
            needles.push(trimmed.as_bytes().to_vec());
            for item in to_encode {
                needles.push(base64(item.as_bytes()).into_bytes());
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Overwrites every occurrence of every secret with `X`s; true when anything changed.
    pub fn censor(&self, data: &mut [u8]) -> bool {
        let mut changed = false;
        for needle in &self.needles {
            if needle.is_empty() || needle.len() > data.len() {
                continue;
            }
            let mut i = 0;
            while i + needle.len() <= data.len() {
                if data[i..i + needle.len()] == needle[..] {
                    data[i..i + needle.len()].fill(b'X');
                    changed = true;
                    i += needle.len();
                } else {
                    i += 1;
                }
            }
        }
        changed
    }

    /// Censors a file in place (temp file + rename, so it is never half-written).
    pub fn censor_file(&self, path: &Path) -> std::io::Result<()> {
        let mut data = std::fs::read(path)?;
        if !self.censor(&mut data) {
            return Ok(());
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp-censor"));
        std::fs::write(&tmp, &data)?;
        if let Ok(meta) = std::fs::metadata(path) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        std::fs::rename(&tmp, path)
    }
}

fn walk(dir: &Path, skip_dot_dot: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        if meta.is_file() {
            out.push(dir.to_path_buf());
        }
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Kubernetes secret volumes hold `..data` and timestamped dirs beside the key links.
        if skip_dot_dot && name.starts_with("..") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            walk(&path, skip_dot_dot, out)?;
        } else if meta.is_file() {
            out.push(path);
        } else if skip_dot_dot && meta.file_type().is_symlink() && path.is_file() {
            // Secret keys are symlinks into `..data`.
            out.push(path);
        }
    }
    Ok(())
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
}

fn auth_values(entries: impl Iterator<Item = AuthEntry>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        if !e.auth.is_empty() {
            out.push(e.auth.into_bytes());
        }
        if !e.password.is_empty() {
            out.push(e.password.into_bytes());
        }
    }
    out
}

/// Every file under `dirs` is a secret; registry credential files and INI files named in
/// `ini_filenames` also contribute their individual values.
pub fn load_secrets(dirs: &[String], ini_filenames: &[String]) -> Result<Vec<Vec<u8>>, String> {
    let mut secrets = Vec::new();
    for dir in dirs {
        let mut files = Vec::new();
        walk(Path::new(dir), true, &mut files).map_err(|e| format!("{dir}: {e}"))?;
        for file in files {
            let raw = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let extra = if name == ".dockercfg" {
                let map: std::collections::BTreeMap<String, AuthEntry> =
                    serde_json::from_slice(&raw).map_err(|e| {
                        format!("could not read {} as a docker secret: {e}", file.display())
                    })?;
                auth_values(map.into_values())
            } else if name == ".dockerconfigjson" {
                #[derive(serde::Deserialize)]
                struct Config {
                    #[serde(default)]
                    auths: std::collections::BTreeMap<String, AuthEntry>,
                }
                let cfg: Config = serde_json::from_slice(&raw).map_err(|e| {
                    format!("could not read {} as a docker secret: {e}", file.display())
                })?;
                auth_values(cfg.auths.into_values())
            } else if ini_filenames.contains(&name) {
                ini_values(&String::from_utf8_lossy(&raw))
            } else {
                Vec::new()
            };
            secrets.push(raw);
            secrets.extend(extra);
        }
    }
    Ok(secrets)
}

/// Values of `key = value` lines of an INI file.
fn ini_values(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(['#', ';', '[']))
        .filter_map(|l| l.split_once('='))
        .map(|(_, v)| v.trim().trim_matches('"').as_bytes().to_vec())
        .filter(|v| !v.is_empty())
        .collect()
}

/// zglob-style matching: `**` spans directories, `*` and `?` stay within one segment.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let mut rest = &p[2..];
                if rest.first() == Some(&b'/') {
                    // `**/x` also matches `x` at the top.
                    if go(&rest[1..], s) {
                        return true;
                    }
                    rest = &rest[1..];
                    return (0..=s.len())
                        .any(|i| (i == 0 || s[i - 1] == b'/') && go(rest, &s[i..]));
                }
                (0..=s.len()).any(|i| go(rest, &s[i..]))
            }
            Some(b'*') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => s.first().is_some_and(|c| *c != b'/') && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// Prow's `shouldCensor`: excluded globs never, included globs always, else only when no
/// include globs are set.
pub fn should_censor(options: &SidecarCensoringOptions, rel: &str) -> bool {
    if options
        .exclude_directories
        .iter()
        .any(|g| glob_match(g, rel))
    {
        return false;
    }
    if options
        .include_directories
        .iter()
        .any(|g| glob_match(g, rel))
    {
        return true;
    }
    options.include_directories.is_empty()
}

/// Censors the entries' process logs and every regular file under `items` (symlinks skipped).
/// Every file is attempted; errors are collected.
pub fn censor(
    options: &SidecarCensoringOptions,
    entries: &[WrapperOptions],
    items: &[String],
    log: &Logger,
) -> Result<(), Vec<String>> {
    let secrets = load_secrets(&options.secret_directories, &options.ini_filenames)
        .map_err(|e| vec![format!("could not load secrets: {e}")])?;
    let min = options
        .minimum_secret_length
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(0);
    let censorer = Censorer::new(&secrets, min);
    if censorer.is_empty() {
        return Ok(());
    }
    let mut errors = Vec::new();
    for entry in entries {
        let path = Path::new(&entry.process_log);
        if let Err(e) = censorer.censor_file(path) {
            errors.push(format!("{}: {e}", path.display()));
        }
    }
    for item in items {
        let root = Path::new(item);
        let mut files = Vec::new();
        if let Err(e) = walk(root, false, &mut files) {
            if e.kind() != std::io::ErrorKind::NotFound {
                errors.push(format!("{item}: {e}"));
            }
            continue;
        }
        for file in files {
            let rel = file
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !should_censor(options, &rel) {
                continue;
            }
            if let Err(e) = censorer.censor_file(&file) {
                errors.push(format!("{}: {e}", file.display()));
            }
        }
    }
    for e in &errors {
        log.warn(&format!("Failed to censor data: {e}"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"secret\n"), "c2VjcmV0Cg==");
    }

    #[test]
    fn censorer_replaces_secrets_and_their_encodings() {
        let c = Censorer::new(
            &[
                b"hunter2\n".to_vec(),
                b"true".to_vec(),
                b"  ".to_vec(),
                b"ab".to_vec(),
            ],
            3,
        );
        let mut text = b"pw=hunter2 b64=aHVudGVyMg== raw=aHVudGVyMgo= keep true ab".to_vec();
        assert!(c.censor(&mut text));
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "pw=XXXXXXX b64=XXXXXXXXXXXX raw=XXXXXXXXXXXX keep true ab"
        );
        let mut clean = b"nothing here".to_vec();
        assert!(!c.censor(&mut clean));
    }

    #[test]
    fn globs_like_zglob() {
        assert!(glob_match("**/*.log", "a/b/c.log"));
        assert!(glob_match("**/*.log", "c.log"));
        assert!(glob_match("first/*", "first/x.txt"));
        assert!(!glob_match("first/*", "first/a/x.txt"));
        assert!(glob_match("first/**", "first/a/x.txt"));
        assert!(glob_match("?.txt", "a.txt"));
        assert!(!glob_match("*.txt", "a/b.txt"));
        let opts = SidecarCensoringOptions {
            include_directories: vec!["**/*.log".into()],
            exclude_directories: vec!["skip/**".into()],
            ..SidecarCensoringOptions::default()
        };
        assert!(should_censor(&opts, "a/x.log"));
        assert!(!should_censor(&opts, "skip/x.log"));
        assert!(!should_censor(&opts, "a/x.txt"));
        assert!(should_censor(&SidecarCensoringOptions::default(), "any"));
    }

    #[test]
    fn secrets_files_and_registry_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("secrets");
        std::fs::create_dir_all(s.join("..data")).unwrap();
        std::fs::write(s.join("..data/ignored"), "ignored-value").unwrap();
        std::fs::write(s.join("token"), "tok-123456\n").unwrap();
        std::fs::write(
            s.join(".dockerconfigjson"),
            r#"{"auths":{"r.io":{"auth":"YXV0aA==","password":"pa55word"}}}"#,
        )
        .unwrap();
        let secrets = load_secrets(&[s.display().to_string()], &[]).unwrap();
        let texts: Vec<String> = secrets
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        assert!(texts.contains(&"tok-123456\n".to_owned()));
        assert!(texts.contains(&"pa55word".to_owned()));
        assert!(texts.contains(&"YXV0aA==".to_owned()));
        assert!(!texts.contains(&"ignored-value".to_owned()));
        assert_eq!(
            ini_values("[s]\nkey = v1\n# c\nk2=\"v2\"\n"),
            [b"v1".to_vec(), b"v2".to_vec()]
        );
    }
}
