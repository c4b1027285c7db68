//! `clonerefs`: clone every configured repository and write the clone records (Prow's
//! `pkg/clonerefs`).
//!
//! The first record is always the environment set-up (SSH keys, known hosts, global cookie file),
//! with empty refs; then one record per [`Refs`], in the order given.

use std::path::Path;
use std::process::Command as Process;

use prow_core::prowjob::Refs;

use crate::clone::{
    CloneEnv, CloneSettings, CommandRecord, Credentials, Record, clone_refs, exit_message, outcome,
};
use crate::options::CloneRefsOptions;

/// Why clonerefs exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CloneRefsError {
    #[error("invalid options: {0}")]
    Options(#[from] crate::options::OptionsError),
    #[error("marshal clone records: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("write clone records to {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Only when `fail` is set, as upstream.
    #[error("{failed} clone records failed")]
    Failed { failed: usize, records: Vec<Record> },
}

/// Makes every relative-path `clone_uri` absolute under `root` (see
/// [`crate::clone::LOCAL_CLONE_ROOT_ENV`]).
pub fn resolve_local_clone_uris(options: &mut CloneRefsOptions, root: &Path) {
    for refs in &mut options.git_refs {
        if let Some(uri) = crate::clone::resolve_relative_clone_uri(&refs.clone_uri, root) {
            refs.clone_uri = uri;
        }
    }
}

/// Clones with upstream's fetch retry schedule. See [`run_with`].
pub fn run(options: &CloneRefsOptions) -> Result<Vec<Record>, CloneRefsError> {
    run_with(options, &CloneSettings::default())
}

/// Validates, clones everything, writes the records (JSON array) to `options.log`, and returns
/// them. A failed clone is an error only when `options.fail` is set.
pub fn run_with(
    options: &CloneRefsOptions,
    settings: &CloneSettings,
) -> Result<Vec<Record>, CloneRefsError> {
    options.validate()?;
    let records = create_records(options, settings);
    let data = serde_json::to_vec(&records)?;
    std::fs::write(&options.log, data).map_err(|source| CloneRefsError::Write {
        path: options.log.clone(),
        source,
    })?;
    let failed = records.iter().filter(|r| r.failed).count();
    if options.fail && failed > 0 {
        return Err(CloneRefsError::Failed { failed, records });
    }
    Ok(records)
}

/// The records without writing them: environment set-up first, then one per refs.
pub fn create_records(options: &CloneRefsOptions, settings: &CloneSettings) -> Vec<Record> {
    let mut setup = Record::default();
    let mut env: Vec<String> = Vec::new();
    let fail = |mut rec: Record| {
        rec.failed = true;
        vec![rec]
    };
    if !options.key_files.is_empty() {
        match add_ssh_keys(&options.key_files, &mut setup.commands) {
            Ok(vars) => env.extend(vars),
            Err(()) => return fail(setup),
        }
    }
    if !options.host_fingerprints.is_empty() {
        match add_host_fingerprints(&options.host_fingerprints, &mut setup.commands) {
            Ok(var) => env.push(var),
            Err(()) => return fail(setup),
        }
    }
    let mut creds = Credentials::default();
    if !options.oauth_token_file.is_empty() {
        match std::fs::read_to_string(&options.oauth_token_file) {
            Ok(token) => creds.token = token.trim().to_owned(),
            Err(e) => {
                setup.commands.push(CommandRecord {
                    command: format!("read oauth token file {:?}", options.oauth_token_file),
                    error: e.to_string(),
                    ..CommandRecord::default()
                });
                return fail(setup);
            }
        }
    }
    if !options.github_app_id.is_empty() && !options.github_app_private_key_file.is_empty() {
        // Minting installation tokens needs a GitHub client; not part of this port.
        setup.commands.push(CommandRecord {
            command: "github app authentication".to_owned(),
            error:
                "GitHub App authentication is not supported by this clonerefs; use oauth_token_file"
                    .to_owned(),
            ..CommandRecord::default()
        });
        return fail(setup);
    }
    if let Some(cookie) = needs_global_cookie_path(&options.cookie_path, &options.git_refs) {
        let out = Process::new("git")
            .args(["config", "--global", "http.cookiefile", cookie])
            .output();
        let mut cmd = CommandRecord {
            command: format!("git config --global http.cookiefile {cookie:?}"),
            ..CommandRecord::default()
        };
        let (output, error) = outcome(out);
        cmd.output = output;
        let ok = error.is_none();
        cmd.error = error.unwrap_or_default();
        setup.commands.push(cmd);
        if !ok {
            return fail(setup);
        }
    }

    let workers = match usize::try_from(options.max_parallel_workers) {
        Ok(n) if n > 0 => n,
        _ => options.git_refs.len(),
    }
    .max(1);
    let ctx = CloneEnv {
        src_root: &options.src_root,
        git_user_name: &options.git_user_name,
        git_user_email: &options.git_user_email,
        cookie_path: &options.cookie_path,
        env: &env,
        creds: &creds,
        settings,
    };
    let clone_one = |refs: &Refs| clone_refs(refs, &ctx);
    // A pool of `workers` threads takes refs in order; records keep the order of the refs
    // (upstream's order is completion order).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Record>>> = options
        .git_refs
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..workers.min(options.git_refs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(refs) = options.git_refs.get(i) else {
                        break;
                    };
                    let record = clone_one(refs);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(record);
                    }
                }
            });
        }
    });
    let mut records = vec![setup];
    for (slot, refs) in slots.into_iter().zip(&options.git_refs) {
        let record = slot.into_inner().ok().flatten();
        records.push(record.unwrap_or_else(|| Record {
            refs: refs.clone(),
            failed: true,
            ..Record::default()
        }));
    }
    records
}

/// The cookie file to configure globally: only when some refs clone submodules.
fn needs_global_cookie_path<'a>(cookie: &'a str, refs: &[Refs]) -> Option<&'a str> {
    (!cookie.is_empty() && refs.iter().any(|r| !r.skip_submodules)).then_some(cookie)
}

/// Appends fingerprints to `/tmp/known_hosts` and returns the `GIT_SSH_COMMAND` using it.
fn add_host_fingerprints(
    fingerprints: &[String],
    log: &mut Vec<CommandRecord>,
) -> Result<String, ()> {
    use std::io::Write;
    let ssh_dir = Path::new("/tmp");
    let known_hosts = ssh_dir.join("known_hosts");
    let mut cmd = CommandRecord {
        command: format!("golang: append {:?}", known_hosts.display().to_string()),
        ..CommandRecord::default()
    };
    let written = std::fs::create_dir_all(ssh_dir).and_then(|_| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&known_hosts)?;
        f.write_all(fingerprints.join("\n").as_bytes())
    });
    if let Err(e) = written {
        cmd.error = e.to_string();
        log.push(cmd);
        return Err(());
    }
    log.push(cmd);
    let ssh = which("ssh");
    let mut cmd = CommandRecord {
        command: "golang: lookup ssh path".to_owned(),
        ..CommandRecord::default()
    };
    match ssh {
        Some(ssh) => {
            log.push(cmd);
            Ok(format!(
                "GIT_SSH_COMMAND={} -o UserKnownHostsFile={}",
                ssh.display(),
                known_hosts.display()
            ))
        }
        None => {
            cmd.error = "exec: \"ssh\": executable file not found in $PATH".to_owned();
            log.push(cmd);
            Err(())
        }
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Starts an ssh-agent, adds every key file (directories are walked, skipping Kubernetes'
/// `..data` entries) and returns the agent's environment.
fn add_ssh_keys(paths: &[String], log: &mut Vec<CommandRecord>) -> Result<Vec<String>, ()> {
    let out = Process::new("ssh-agent").output();
    let mut cmd = CommandRecord {
        command: "ssh-agent".to_owned(),
        ..CommandRecord::default()
    };
    let vars = match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            cmd.output = text.clone();
            log.push(cmd);
            text
        }
        Ok(out) => {
            cmd.output = String::from_utf8_lossy(&out.stdout).into_owned();
            cmd.error = exit_message(&out.status);
            log.push(cmd);
            return Err(());
        }
        Err(e) => {
            cmd.error = e.to_string();
            log.push(cmd);
            return Err(());
        }
    };
    // `SSH_AUTH_SOCK=...; export SSH_AUTH_SOCK;\nSSH_AGENT_PID=...; export ...`
    let parts: Vec<&str> = vars.split(';').collect();
    let env: Vec<String> = [parts.first(), parts.get(2)]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .collect();
    for key_path in paths {
        let mut files = Vec::new();
        collect_key_files(Path::new(key_path), &mut files);
        for file in files {
            let mut add = Process::new("ssh-add");
            add.arg(&file);
            for kv in &env {
                if let Some((k, v)) = kv.split_once('=') {
                    add.env(k, v);
                }
            }
            let mut cmd = CommandRecord {
                command: format!("ssh-add {:?}", file.display().to_string()),
                ..CommandRecord::default()
            };
            let (output, error) = outcome(add.output());
            cmd.output = output;
            let ok = error.is_none();
            cmd.error = error.unwrap_or_default();
            log.push(cmd);
            if !ok {
                return Err(());
            }
        }
    }
    Ok(env)
}

fn collect_key_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    if name.as_deref().is_some_and(|n| n.starts_with("..")) {
        return;
    }
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            collect_key_files(&e, out);
        }
    } else {
        out.push(path.to_path_buf());
    }
}
