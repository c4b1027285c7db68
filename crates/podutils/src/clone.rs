//! Checking out one [`Refs`] with the `git` binary, as Prow's `pkg/pod-utils/clone` does, and the
//! clone records (`clone-records.json`) that trace every command.

use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prow_core::duration::format_go_duration;
use prow_core::prowjob::Refs;
use serde::{Deserialize, Serialize};

use crate::options::{go_nanos, path_for_refs};

fn is_false(b: &bool) -> bool {
    !*b
}

/// The trace of cloning one [`Refs`]: the commands run, whether one failed, and the final commit.
/// Prow's `clone.Record`; `clone-records.json` is a JSON array of these.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Record {
    pub refs: Refs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRecord>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed: bool,
    /// `HEAD` after base checkout and merges (started.json's `repo-commit`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub final_sha: String,
    /// Total time of the clone (only set when every command succeeded, as upstream).
    #[serde(default, with = "go_nanos", skip_serializing_if = "Duration::is_zero")]
    pub duration: Duration,
}

/// One command run while cloning (Prow's `clone.Command`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandRecord {
    pub command: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(default, with = "go_nanos", skip_serializing_if = "Duration::is_zero")]
    pub duration: Duration,
}

/// Knobs that are constants upstream, exposed so tests need not sleep a minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneSettings {
    /// Sleeps between attempts of a failing `git fetch` (one retry per entry).
    pub fetch_retries: Vec<Duration>,
}

impl Default for CloneSettings {
    fn default() -> Self {
        Self {
            fetch_retries: [100, 200, 400, 800, 2_000, 5_000, 10_000, 15_000, 30_000]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
        }
    }
}

/// Credentials used for HTTPS cloning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// GitHub App installation user (empty for OAuth tokens).
    pub user: String,
    /// The token; censored as `CENSORED` in every record.
    pub token: String,
}

/// A command to run in the clone: program, args, working dir and extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitStep {
    pub dir: String,
    /// `KEY=value` pairs added to the environment (shown in the record).
    pub env: Vec<String>,
    pub program: String,
    pub args: Vec<String>,
    /// Retried with these sleeps when it fails (fetches only).
    pub retry: bool,
}

impl GitStep {
    fn git(dir: &str, env: &[String], args: &[&str]) -> Self {
        Self {
            dir: dir.to_owned(),
            env: env.to_vec(),
            program: "git".to_owned(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            retry: false,
        }
    }

    /// How Prow renders the command in the record: `PWD=<dir> <env> <program> <args>`.
    pub fn display(&self) -> String {
        format!(
            "PWD={} {} {} {}",
            self.dir,
            self.env.join(" "),
            self.program,
            self.args.join(" ")
        )
    }

    /// Runs once: (rendered command, combined output, error message if it failed).
    pub fn run_once(&self) -> (String, String, Option<String>) {
        let mut cmd = Process::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            // Never prompt for credentials: a prompt would hang an unattended clone.
            .env("GIT_TERMINAL_PROMPT", "0");
        for kv in &self.env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        let (text, err) = outcome(cmd.output());
        (self.display(), text, err)
    }
}

/// What a finished command leaves in a record: its stdout then stderr, and Go's error text when
/// it failed or could not start.
pub fn outcome(result: std::io::Result<std::process::Output>) -> (String, Option<String>) {
    match result {
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let err = (!out.status.success()).then(|| exit_message(&out.status));
            (text, err)
        }
        Err(e) => (String::new(), Some(e.to_string())),
    }
}

/// Go's `exec.ExitError` text: `exit status N` or `signal: <name>`.
pub fn exit_message(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(9) => "signal: killed".to_owned(),
        Some(2) => "signal: interrupt".to_owned(),
        Some(15) => "signal: terminated".to_owned(),
        Some(n) => format!("signal: {n}"),
        None => "exit status unknown".to_owned(),
    }
}

/// Where refs are fetched from: `clone_uri`, else `<repo_link>.git`, else
/// `https://github.com/<org>/<repo>.git`, with a token as userinfo for URLs that have a scheme.
pub fn repository_uri(refs: &Refs, creds: &Credentials) -> String {
    let mut uri = if !refs.clone_uri.is_empty() {
        refs.clone_uri.clone()
    } else if !refs.repo_link.is_empty() {
        format!("{}.git", refs.repo_link)
    } else {
        format!("https://github.com/{}/{}.git", refs.org, refs.repo)
    };
    if !creds.token.is_empty()
        && let Some((scheme, rest)) = uri.split_once("://")
    {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let userinfo = if creds.user.is_empty() {
            format!("{}:x-oauth-basic", creds.token)
        } else {
            format!("{}:{}", creds.user, creds.token)
        };
        uri = format!("{scheme}://{userinfo}@{rest}");
    }
    uri
}

/// Set by `prow up` for the pod utilities it runs: the directory a relative `clone_uri` is a
/// path under (the checkout holding the job config), so the bundled example can clone "this
/// repository" without knowing where it lives. In a cluster it is unset and a relative
/// `clone_uri` means what it means to git.
pub const LOCAL_CLONE_ROOT_ENV: &str = "PROW_LOCAL_CLONE_ROOT";

/// `uri` made absolute under `root` when it is a relative path: no scheme, not absolute, not
/// `~`, and not git's scp-like `host:path` (any `:`). `None` when it is not such a path.
pub fn resolve_relative_clone_uri(uri: &str, root: &std::path::Path) -> Option<String> {
    if uri.is_empty() || uri.contains(':') || uri.starts_with('/') || uri.starts_with('~') {
        return None;
    }
    let joined = root.join(uri);
    // Normalized lexically, so the clone records show a plain path (git would accept `./..`).
    let normal: std::path::PathBuf =
        joined
            .components()
            .fold(std::path::PathBuf::new(), |mut path, part| {
                match part {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        path.pop();
                    }
                    other => path.push(other),
                }
                path
            });
    Some(normal.display().to_string())
}

fn blobless(refs: &Refs) -> bool {
    refs.blobless_fetch == Some(true) || !refs.sparse_checkout_files.is_empty()
}

/// The commands that create the clone directory, configure git and check out the base
/// (Prow's `commandsForBaseRef`), in upstream's order.
pub fn commands_for_base_ref(
    refs: &Refs,
    dir: &str,
    uri: &str,
    env: &[String],
    git_user_name: &str,
    git_user_email: &str,
    cookie_path: &str,
) -> Vec<GitStep> {
    let mut steps = vec![GitStep {
        dir: "/".to_owned(),
        env: env.to_vec(),
        program: "mkdir".to_owned(),
        args: vec!["-p".to_owned(), dir.to_owned()],
        retry: false,
    }];
    steps.push(GitStep::git(dir, env, &["init"]));
    if !git_user_name.is_empty() {
        steps.push(GitStep::git(
            dir,
            env,
            &["config", "user.name", git_user_name],
        ));
    }
    if !git_user_email.is_empty() {
        steps.push(GitStep::git(
            dir,
            env,
            &["config", "user.email", git_user_email],
        ));
    }
    if !cookie_path.is_empty() && refs.skip_submodules {
        steps.push(GitStep::git(
            dir,
            env,
            &["config", "http.cookiefile", cookie_path],
        ));
    }
    let sparse = !refs.sparse_checkout_files.is_empty();
    if sparse {
        steps.push(GitStep::git(dir, env, &["sparse-checkout", "init"]));
    }
    let depth = refs.clone_depth.to_string();
    let mut shared: Vec<&str> = Vec::new();
    if refs.clone_depth > 0 {
        shared.extend(["--depth", depth.as_str()]);
    }
    if blobless(refs) {
        shared.push("--filter=blob:none");
    }
    let fetch = |args: Vec<&str>| {
        let mut all = vec!["fetch"];
        all.extend(args);
        let mut step = GitStep::git(dir, env, &all);
        step.retry = true;
        step
    };
    if !(refs.skip_fetch_head || sparse) {
        let mut args = shared.clone();
        args.extend([uri, "--tags", "--prune"]);
        steps.push(fetch(args));
    }
    let (fetch_ref, target) = if refs.base_sha.is_empty() {
        (refs.base_ref.as_str(), "FETCH_HEAD")
    } else {
        (refs.base_sha.as_str(), refs.base_sha.as_str())
    };
    let mut args = shared.clone();
    if sparse {
        args.push("--no-tags");
    }
    args.extend([uri, fetch_ref]);
    steps.push(fetch(args));
    if sparse {
        let mut args = vec!["sparse-checkout", "set"];
        args.extend(refs.sparse_checkout_files.iter().map(String::as_str));
        steps.push(GitStep::git(dir, env, &args));
    }
    // Check out the commit first: the branch cannot be reset while it is checked out.
    steps.push(GitStep::git(dir, env, &["checkout", target]));
    steps.push(GitStep::git(
        dir,
        env,
        &["branch", "--force", &refs.base_ref, target],
    ));
    steps.push(GitStep::git(dir, env, &["checkout", &refs.base_ref]));
    steps
}

/// The commands that fetch and merge each pull, then update submodules (Prow's
/// `commandsForPullRefs`). Merge commits get the timestamps `base_timestamp + 1, + 2, ...` so
/// the same inputs always give the same commits.
pub fn commands_for_pull_refs(
    refs: &Refs,
    dir: &str,
    uri: &str,
    env: &[String],
    base_timestamp: i64,
) -> Vec<GitStep> {
    let mut steps = Vec::new();
    let mut timestamp = base_timestamp;
    for pull in &refs.pulls {
        let mut args = vec!["fetch".to_owned()];
        if blobless(refs) {
            args.push("--filter=blob:none".to_owned());
        }
        let fetch_ref = if !pull.ref_.is_empty() {
            pull.ref_.clone()
        } else if !pull.sha.is_empty() {
            pull.sha.clone()
        } else {
            format!("pull/{}/head", pull.number)
        };
        args.push(uri.to_owned());
        args.push(fetch_ref);
        steps.push(GitStep {
            dir: dir.to_owned(),
            env: env.to_vec(),
            program: "git".to_owned(),
            args,
            retry: true,
        });
        let head = if pull.sha.is_empty() {
            "FETCH_HEAD"
        } else {
            pull.sha.as_str()
        };
        timestamp += 1;
        let mut merge_env = env.to_vec();
        merge_env.push(format!("GIT_AUTHOR_DATE={timestamp}"));
        merge_env.push(format!("GIT_COMMITTER_DATE={timestamp}"));
        steps.push(GitStep::git(dir, &merge_env, &["merge", "--no-ff", head]));
    }
    if !refs.skip_submodules {
        steps.push(GitStep::git(
            dir,
            env,
            &["submodule", "update", "--init", "--recursive"],
        ));
    }
    steps
}

fn censor_token(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_owned()
    } else {
        text.replace(token, "CENSORED")
    }
}

/// Runs steps in order into `record`, stopping at the first failure (after its retries).
/// Returns false when a step failed.
fn run_steps(
    record: &mut Record,
    steps: &[GitStep],
    settings: &CloneSettings,
    token: &str,
) -> bool {
    for step in steps {
        let start = Instant::now();
        let (mut shown, mut output, mut err) = step.run_once();
        if step.retry && err.is_some() {
            for sleep in &settings.fetch_retries {
                std::thread::sleep(*sleep);
                (shown, output, err) = step.run_once();
                if err.is_none() {
                    break;
                }
            }
        }
        let failed = err.is_some();
        record.commands.push(CommandRecord {
            command: censor_token(&shown, token),
            output: censor_token(&output, token),
            error: censor_token(&err.unwrap_or_default(), token),
            duration: start.elapsed(),
        });
        if failed {
            record.failed = true;
            return false;
        }
    }
    true
}

fn git_output(dir: &str, args: &[&str]) -> Option<String> {
    let out = Process::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Everything a clone needs besides the refs (shared by every refs of one clonerefs run).
#[derive(Debug, Clone, Copy)]
pub struct CloneEnv<'a> {
    pub src_root: &'a str,
    pub git_user_name: &'a str,
    pub git_user_email: &'a str,
    pub cookie_path: &'a str,
    /// `KEY=value` pairs for every git command (ssh-agent, `GIT_SSH_COMMAND`).
    pub env: &'a [String],
    pub creds: &'a Credentials,
    pub settings: &'a CloneSettings,
}

/// Clones `refs` under `<src_root>/src/...` (Prow's `clone.Run`): base checkout, then each pull
/// merged, then submodules; every command is recorded. Never fails: failure is `record.failed`.
pub fn clone_refs(refs: &Refs, ctx: &CloneEnv<'_>) -> Record {
    let start = Instant::now();
    let mut record = Record {
        refs: refs.clone(),
        ..Record::default()
    };
    let dir = path_for_refs(ctx.src_root, refs);
    let uri = repository_uri(refs, ctx.creds);
    let base = commands_for_base_ref(
        refs,
        &dir,
        &uri,
        ctx.env,
        ctx.git_user_name,
        ctx.git_user_email,
        ctx.cookie_path,
    );
    if !run_steps(&mut record, &base, ctx.settings, &ctx.creds.token) {
        return record;
    }
    let timestamp = git_output(&dir, &["show", "-s", "--format=format:%ct", "HEAD"])
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or_else(now_unix);
    let pulls = commands_for_pull_refs(refs, &dir, &uri, ctx.env, timestamp);
    if !run_steps(&mut record, &pulls, ctx.settings, &ctx.creds.token) {
        return record;
    }
    if let Some(sha) = git_output(&dir, &["rev-parse", "HEAD"]) {
        record.final_sha = sha;
    }
    record.duration = start.elapsed();
    record
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A record as text for build logs (Prow's `clone.FormatRecord`; initupload writes these to
/// `clone-log.txt`).
pub fn format_record(record: &Record) -> String {
    let mut out = String::new();
    if record.failed {
        out.push_str("# FAILED\n");
    }
    if record.refs.repo.is_empty() {
        out.push_str("Environment setup");
    } else {
        out.push_str(&format!(
            "# Cloning {}/{} at {}",
            record.refs.org, record.refs.repo, record.refs.base_ref
        ));
    }
    if !record.refs.base_sha.is_empty() {
        out.push_str(&format!("({})", record.refs.base_sha));
    }
    out.push('\n');
    if !record.refs.pulls.is_empty() {
        out.push_str("# Checking out pulls:\n");
        for pull in &record.refs.pulls {
            out.push_str(&format!("#\t{}", pull.number));
            if !pull.sha.is_empty() {
                out.push_str(&format!("({})", pull.sha));
            }
            out.push('\n');
        }
    }
    for command in &record.commands {
        let runtime = if command.duration.is_zero() {
            String::new()
        } else {
            format!(" (runtime: {})", format_go_duration(command.duration))
        };
        out.push_str(&format!("$ {}{runtime}\n", command.command));
        out.push_str(&command.output);
        if !command.error.is_empty() {
            out.push_str(&format!("# Error: {}\n", command.error));
        }
    }
    out.push_str(&format!("# Final SHA: {}\n", record.final_sha));
    out.push_str(&format!(
        "# Total runtime: {}\n",
        format_go_duration(record.duration)
    ));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::prowjob::Pull;

    fn refs() -> Refs {
        let mut r = Refs::new("org", "repo");
        r.base_ref = "main".into();
        r.base_sha = "abc".into();
        r.pulls.push(Pull::new(1, "alice", "def"));
        r
    }

    fn shown(steps: &[GitStep]) -> Vec<String> {
        steps.iter().map(GitStep::display).collect()
    }

    #[test]
    fn base_ref_commands_follow_upstream_order() {
        let r = refs();
        let steps = commands_for_base_ref(
            &r,
            "/go/src/github.com/org/repo",
            "https://github.com/org/repo.git",
            &[],
            "ci-robot",
            "ci-robot@k8s.io",
            "",
        );
        let d = "PWD=/go/src/github.com/org/repo ";
        assert_eq!(
            shown(&steps),
            [
                "PWD=/  mkdir -p /go/src/github.com/org/repo".to_owned(),
                format!("{d} git init"),
                format!("{d} git config user.name ci-robot"),
                format!("{d} git config user.email ci-robot@k8s.io"),
                format!("{d} git fetch https://github.com/org/repo.git --tags --prune"),
                format!("{d} git fetch https://github.com/org/repo.git abc"),
                format!("{d} git checkout abc"),
                format!("{d} git branch --force main abc"),
                format!("{d} git checkout main"),
            ]
        );
    }

    #[test]
    fn base_ref_options_shape_the_fetches() {
        let mut r = refs();
        r.base_sha.clear();
        r.clone_depth = 2;
        r.blobless_fetch = Some(true);
        r.skip_fetch_head = true;
        r.skip_submodules = true;
        let steps = commands_for_base_ref(&r, "/d", "u", &[], "", "", "/cookie");
        assert_eq!(
            shown(&steps),
            [
                "PWD=/  mkdir -p /d",
                "PWD=/d  git init",
                "PWD=/d  git config http.cookiefile /cookie",
                "PWD=/d  git fetch --depth 2 --filter=blob:none u main",
                "PWD=/d  git checkout FETCH_HEAD",
                "PWD=/d  git branch --force main FETCH_HEAD",
                "PWD=/d  git checkout main",
            ]
        );
        r.sparse_checkout_files = vec!["a".into(), "b".into()];
        r.blobless_fetch = None;
        r.clone_depth = 0;
        let steps = commands_for_base_ref(&r, "/d", "u", &[], "", "", "");
        assert_eq!(
            shown(&steps)[2..],
            [
                "PWD=/d  git sparse-checkout init",
                "PWD=/d  git fetch --filter=blob:none --no-tags u main",
                "PWD=/d  git sparse-checkout set a b",
                "PWD=/d  git checkout FETCH_HEAD",
                "PWD=/d  git branch --force main FETCH_HEAD",
                "PWD=/d  git checkout main",
            ]
        );
    }

    #[test]
    fn pull_commands_merge_with_fixed_timestamps() {
        let mut r = refs();
        let mut second = Pull::new(2, "bob", "");
        second.ref_ = "refs/changes/2".into();
        r.pulls.push(second);
        r.pulls.push(Pull::new(3, "carol", ""));
        let steps = commands_for_pull_refs(&r, "/d", "u", &[], 100);
        assert_eq!(
            shown(&steps),
            [
                "PWD=/d  git fetch u def",
                "PWD=/d GIT_AUTHOR_DATE=101 GIT_COMMITTER_DATE=101 git merge --no-ff def",
                "PWD=/d  git fetch u refs/changes/2",
                "PWD=/d GIT_AUTHOR_DATE=102 GIT_COMMITTER_DATE=102 git merge --no-ff FETCH_HEAD",
                "PWD=/d  git fetch u pull/3/head",
                "PWD=/d GIT_AUTHOR_DATE=103 GIT_COMMITTER_DATE=103 git merge --no-ff FETCH_HEAD",
                "PWD=/d  git submodule update --init --recursive",
            ]
        );
    }

    #[test]
    fn uris_and_tokens() {
        let mut r = Refs::new("o", "r");
        let none = Credentials::default();
        assert_eq!(repository_uri(&r, &none), "https://github.com/o/r.git");
        let tok = Credentials {
            user: String::new(),
            token: "s3cret".into(),
        };
        assert_eq!(
            repository_uri(&r, &tok),
            "https://s3cret:x-oauth-basic@github.com/o/r.git"
        );
        r.repo_link = "https://gitlab.example/o/r".into();
        assert_eq!(repository_uri(&r, &none), "https://gitlab.example/o/r.git");
        r.clone_uri = "/srv/git/r".into();
        assert_eq!(repository_uri(&r, &tok), "/srv/git/r", "paths get no token");
        assert_eq!(censor_token("a s3cret b", "s3cret"), "a CENSORED b");
    }

    #[test]
    fn only_relative_paths_resolve_under_the_local_clone_root() {
        let root = std::path::Path::new("/home/me/prow-rs");
        let resolved = |uri: &str| resolve_relative_clone_uri(uri, root);
        assert_eq!(resolved(".").as_deref(), Some("/home/me/prow-rs"));
        assert_eq!(
            resolved("../mirrors/./tools.git").as_deref(),
            Some("/home/me/mirrors/tools.git")
        );
        for left_alone in [
            "",
            "/srv/git/r",
            "~/r",
            "https://github.com/o/r.git",
            "file:///srv/r",
            "git@github.com:o/r.git",
            "host:r",
        ] {
            assert_eq!(resolved(left_alone), None, "{left_alone}");
        }
    }

    #[test]
    fn records_serialize_like_go() {
        let rec = Record {
            refs: Refs::new("o", "r"),
            commands: vec![CommandRecord {
                command: "git init".into(),
                output: "ok\n".into(),
                error: String::new(),
                duration: Duration::from_millis(5),
            }],
            failed: false,
            final_sha: "abc".into(),
            duration: Duration::from_secs(1),
        };
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            r#"{"refs":{"org":"o","repo":"r"},"commands":[{"command":"git init","output":"ok\n","duration":5000000}],"final_sha":"abc","duration":1000000000}"#
        );
        assert_eq!(
            serde_json::to_string(&Record::default()).unwrap(),
            r#"{"refs":{"org":"","repo":""}}"#
        );
        let text = format_record(&rec);
        assert_eq!(
            text,
            "# Cloning o/r at \n$ git init (runtime: 5ms)\nok\n# Final SHA: abc\n# Total runtime: 1s\n"
        );
        let failed = Record {
            failed: true,
            commands: vec![CommandRecord {
                command: "x".into(),
                error: "exit status 1".into(),
                ..CommandRecord::default()
            }],
            ..Record::default()
        };
        assert_eq!(
            format_record(&failed),
            "# FAILED\nEnvironment setup\n$ x\n# Error: exit status 1\n# Final SHA: \n# Total runtime: 0s\n"
        );
    }
}
