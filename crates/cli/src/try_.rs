//! `prow try`: inside a git checkout, the presubmits Prow would run for the working tree's
//! change against a base branch (trigger's selection over central config + the checkout's
//! `.prow.yaml`), run through `prow up`'s embedded runtime with the checkout as the cloned
//! source, logs streamed with a `[job] ` prefix, then a summary; non-zero when a required job
//! did not succeed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use prow_core::config::{self, Config, LoadOptions, Presubmit};
use prow_core::prowjob::{ProwJob, ProwJobState, Pull, Refs};
use prow_core::selection::{Filter, SkipReason, presubmit_decision};
use prow_trigger::decide::{JobContext, presubmit_prowjobs};
use prow_trigger::explain::{Explanation, JobVerdict, Why};

#[derive(Debug, Args)]
pub(crate) struct TryArgs {
    /// The branch the change would merge into; changed files are taken against the merge-base.
    #[arg(long, default_value = "main")]
    base: String,
    /// The branch name jobs' branch filters see (default: `--base` without its remote, e.g.
    /// `origin/main` -> `main`); set it when `--base` is a commit.
    #[arg(long)]
    branch: Option<String>,
    /// Run these jobs (as `/test NAME` would), whatever the changed files say.
    #[arg(long = "job")]
    jobs: Vec<String>,
    /// Run every non-manual job on the branch, ignoring file filters.
    #[arg(long, conflicts_with = "jobs")]
    all: bool,
    /// List the jobs that would run (and why the others would not) without running them.
    #[arg(long)]
    dry_run: bool,
    /// The central config.yaml (default: none, only the checkout's in-repo config).
    #[arg(long, env = "CONFIG_PATH")]
    config_path: Option<PathBuf>,
    /// Central job config file or directory.
    #[arg(long, env = "JOB_CONFIG_PATH")]
    job_config_path: Option<PathBuf>,
    /// The repository as Prow knows it (`org/repo`); default: from `git remote get-url origin`.
    #[arg(long)]
    repo: Option<String>,
    /// Where `prow up` keeps its state for this run (default: a temporary directory).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How pods run: `host`, `podman` or `auto`, as `prow up --pod-runtime`.
    #[arg(long, default_value = "host")]
    pod_runtime: String,
    /// Give up on jobs still running after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// What the working tree changes, found with git.
struct Change {
    root: PathBuf,
    merge_base: String,
    files: Vec<String>,
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Committed and uncommitted changes (tracked and untracked) against the merge-base with `base`.
fn change(base: &str) -> anyhow::Result<Change> {
    let here = std::env::current_dir()?;
    let root = PathBuf::from(git(&here, &["rev-parse", "--show-toplevel"])?);
    let merge_base = git(&root, &["merge-base", "HEAD", base])
        .with_context(|| format!("no merge-base with {base:?} (try --base)"))?;
    let mut files: Vec<String> = git(&root, &["diff", "--name-only", &merge_base])?
        .lines()
        .chain(git(&root, &["ls-files", "--others", "--exclude-standard"])?.lines())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    Ok(Change {
        root,
        merge_base,
        files,
    })
}

/// `org/repo` from the origin remote's URL (`git@host:org/repo.git`, `https://host/org/repo`).
fn repo_of(root: &Path) -> String {
    let url = git(root, &["remote", "get-url", "origin"]).unwrap_or_default();
    let path = url.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = path.rsplit(['/', ':']);
    match (parts.next(), parts.next()) {
        (Some(repo), Some(org)) if !repo.is_empty() && !org.is_empty() && !url.is_empty() => {
            format!("{org}/{repo}")
        }
        _ => format!(
            "local/{}",
            root.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
    }
}

/// The filters trigger would apply for the requested run.
fn filters(args: &TryArgs) -> Vec<Filter> {
    if args.jobs.is_empty() {
        vec![Filter::TestAll]
    } else {
        let body: Vec<String> = args.jobs.iter().map(|j| format!("/test {j}")).collect();
        vec![Filter::Command(body.join("\n"))]
    }
}

/// Which presubmits run, with trigger's reasons for the others. `--all` forces file-filtered
/// jobs (the reason would only be the file filter) but never manual or branch-filtered ones.
fn decide(
    args: &TryArgs,
    branch: &str,
    change: &Change,
    presubmits: &[Presubmit],
) -> Vec<JobVerdict> {
    let filters = filters(args);
    presubmits
        .iter()
        .map(|p| {
            let mut why = presubmit_decision(&filters, branch, Some(&change.files), p).err();
            if args.all
                && matches!(
                    why,
                    Some(SkipReason::RunIfChanged { .. } | SkipReason::SkipIfOnlyChanged { .. })
                )
            {
                why = None;
            }
            JobVerdict {
                job: p.name().to_owned(),
                kind: "presubmit",
                runs: why.is_none(),
                message: why.as_ref().map(ToString::to_string),
                why: why.map(Why::Job),
                source: p.base.source.file.to_string(),
            }
        })
        .collect()
}

fn load(args: &TryArgs, state: &Path, root: &Path) -> anyhow::Result<(PathBuf, Config)> {
    let config_path = match &args.config_path {
        Some(p) => p.clone(),
        None => {
            let p = state.join("config.yaml");
            std::fs::write(&p, "")?;
            p
        }
    };
    let options = LoadOptions {
        config_path: config_path.clone(),
        job_config_path: args.job_config_path.clone(),
        plugin_config_path: None,
    };
    match config::load(&options) {
        Ok(loaded) => Ok((config_path, loaded.config)),
        Err(err) => {
            crate::check_config::print_invalid(&err, true);
            bail!("the Prow config is invalid ({})", root.display())
        }
    }
}

pub(crate) async fn run(args: TryArgs) -> anyhow::Result<bool> {
    let change = change(&args.base)?;
    let repo = args.repo.clone().unwrap_or_else(|| repo_of(&change.root));
    let branch = args.branch.clone().unwrap_or_else(|| {
        args.base
            .rsplit_once('/')
            .map_or(args.base.as_str(), |(_, b)| b)
            .to_owned()
    });
    let temp = std::env::temp_dir().join(format!("prow-try-{}", uuid::Uuid::new_v4()));
    let state = args.state_dir.clone().unwrap_or_else(|| temp.clone());
    std::fs::create_dir_all(&state)?;
    let result = plan_and_run(&args, &change, &repo, &branch, &state).await;
    if args.state_dir.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

async fn plan_and_run(
    args: &TryArgs,
    change: &Change,
    repo: &str,
    branch: &str,
    state: &Path,
) -> anyhow::Result<bool> {
    let (repo, branch) = (repo.to_owned(), branch.to_owned());
    let (config_path, config) = load(args, state, &change.root)?;
    let (files, _) = config::read_in_repo_config_dir(&change.root)?;
    let in_repo = config.prow_yaml(&repo, &files).map_err(|err| {
        crate::check_config::print_invalid(&err, true);
        anyhow::anyhow!("the checkout's in-repo config is invalid")
    })?;
    let presubmits = config.presubmits_with(&repo, Some(&in_repo))?;
    let verdicts = decide(args, &branch, change, &presubmits);
    let plan = Explanation {
        event: "prow try".to_owned(),
        repo: repo.clone(),
        branch: branch.clone(),
        changed_files: Some(change.files.clone()),
        help_reply: false,
        jobs: verdicts,
    };
    if args.dry_run {
        print!("{}", plan.table());
        return Ok(true);
    }
    let selected: Vec<&Presubmit> = presubmits
        .iter()
        .zip(&plan.jobs)
        .filter(|(_, v)| v.runs)
        .map(|(p, _)| p)
        .collect();
    if selected.is_empty() {
        print!("{}", plan.table());
        println!("nothing to run");
        return Ok(true);
    }
    let snapshot = Snapshot::take(&change.root)?;
    let up = Up::start(&config_path, args, state)?;
    let result = run_jobs(
        args, &config, &repo, &branch, change, &snapshot, &up, &selected,
    )
    .await;
    drop(up);
    snapshot.release();
    result
}

/// The working tree (untracked files included) as a commit made through a private index, so
/// nothing in the checkout changes, behind a temporary ref clonerefs can fetch from it.
struct Snapshot {
    root: PathBuf,
    sha: String,
}

const SNAPSHOT_REF: &str = "refs/prow-try/head";

impl Snapshot {
    fn take(root: &Path) -> anyhow::Result<Self> {
        // A private index, so untracked files are included and the user's index is untouched.
        let index = std::env::temp_dir().join(format!("prow-try-index-{}", uuid::Uuid::new_v4()));
        let run = |args: &[&str]| -> anyhow::Result<String> {
            let out = Command::new("git")
                .args(args)
                .current_dir(root)
                .env("GIT_INDEX_FILE", &index)
                .env("GIT_AUTHOR_NAME", "prow try")
                .env("GIT_AUTHOR_EMAIL", "prow@localhost")
                .env("GIT_COMMITTER_NAME", "prow try")
                .env("GIT_COMMITTER_EMAIL", "prow@localhost")
                .output()
                .context("running git")?;
            if !out.status.success() {
                bail!(
                    "git {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let made = run(&["read-tree", "HEAD"])
            .and_then(|_| run(&["add", "-A"]))
            .and_then(|_| run(&["write-tree"]))
            .and_then(|tree| run(&["commit-tree", &tree, "-p", "HEAD", "-m", "prow try"]));
        let _ = std::fs::remove_file(&index);
        let sha = made?;
        git(root, &["update-ref", SNAPSHOT_REF, &sha])?;
        Ok(Self {
            root: root.to_path_buf(),
            sha,
        })
    }

    fn release(self) {
        if let Err(e) = git(&self.root, &["update-ref", "-d", SNAPSHOT_REF]) {
            eprintln!("prow try: removing {SNAPSHOT_REF}: {e}");
        }
    }
}

/// A `prow up` child (API server, kubelet, plank, deck...), killed when dropped.
struct Up {
    child: Child,
    api: String,
    deck: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    fn start(config_path: &Path, args: &TryArgs, state: &Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let jobs = match &args.job_config_path {
            Some(p) => p.clone(),
            None => {
                let p = state.join("jobs");
                std::fs::create_dir_all(&p)?;
                p
            }
        };
        let plugins = state.join("plugins.yaml");
        std::fs::write(&plugins, "")?;
        let mut child = Command::new(exe)
            .arg("up")
            .args(["--api-addr", "127.0.0.1:0", "--hook-addr", "127.0.0.1:0"])
            .args(["--deck-addr", "127.0.0.1:0"])
            .arg("--config-path")
            .arg(config_path)
            .arg("--job-config-path")
            .arg(jobs)
            .arg("--plugin-config")
            .arg(plugins)
            .arg("--state-dir")
            .arg(state.join("up"))
            .args(["--pod-runtime", &args.pod_runtime])
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(state.join("up.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .context("starting prow up")?;
        let stdout = child.stdout.take().context("prow up's stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        // Keep draining so `prow up` never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let endpoints: serde_json::Value = serde_json::from_str(&line).with_context(|| {
            format!(
                "prow up did not start (see {})",
                state.join("up.log").display()
            )
        })?;
        let field = |k: &str| endpoints[k].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            api: field("api"),
            deck: field("deck"),
            child,
        })
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_jobs(
    args: &TryArgs,
    config: &Config,
    repo: &str,
    branch: &str,
    change: &Change,
    snapshot: &Snapshot,
    up: &Up,
    selected: &[&Presubmit],
) -> anyhow::Result<bool> {
    prow_kube::install_crypto_provider();
    let client = prow_kube::client_for_url(&up.api)?;
    let ns = &config.prow.prowjob_namespace;
    let prowjobs = prow_kube::ProwJobs::new(client.clone(), ns);
    let (org, name) = repo.split_once('/').unwrap_or((repo, repo));
    let mut refs = Refs::new(org, name);
    refs.base_ref = branch.to_owned();
    refs.base_sha = change.merge_base.clone();
    refs.clone_uri = change.root.display().to_string();
    let mut pull = Pull::new(0, std::env::var("USER").unwrap_or_default(), &snapshot.sha);
    pull.ref_ = SNAPSHOT_REF.to_owned();
    refs.pulls = vec![pull];
    let delivery = format!("try-{}", uuid::Uuid::new_v4());
    let ctx = JobContext {
        delivery_id: &delivery,
        namespace: ns,
        now: prow_core::clock::Clock::system().time(),
    };
    let mut jobs = presubmit_prowjobs(selected, &refs, false, &ctx);
    for pj in &mut jobs {
        if let Some(r) = pj.spec.refs.as_mut() {
            r.clone_uri = refs.clone_uri.clone();
        }
        prowjobs.create(pj).await?;
    }
    let started = Instant::now();
    let mut printed: HashMap<String, usize> = HashMap::new();
    let mut done: HashMap<String, ProwJob> = HashMap::new();
    while done.len() < jobs.len() {
        for pj in &jobs {
            if done.contains_key(pj.name()) {
                continue;
            }
            let Some(now) = prowjobs.get(pj.name()).await? else {
                continue;
            };
            stream_log(&client, &now, &mut printed).await;
            if now.is_complete() {
                stream_log(&client, &now, &mut printed).await;
                done.insert(pj.name().to_owned(), now);
            }
        }
        if started.elapsed() > Duration::from_secs(args.timeout) {
            eprintln!("prow try: giving up after {}s", args.timeout);
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(summary(selected, &jobs, &done, &up.deck))
}

/// Prints the test container's log lines not printed yet, each prefixed by the job's name.
async fn stream_log(client: &kube::Client, pj: &ProwJob, printed: &mut HashMap<String, usize>) {
    if pj.status.pod_name.is_empty() {
        return;
    }
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &pj.spec.namespace);
    let params = LogParams {
        container: Some("test".to_owned()),
        ..LogParams::default()
    };
    let Ok(log) = pods.logs(&pj.status.pod_name, &params).await else {
        return;
    };
    let seen = printed.entry(pj.name().to_owned()).or_default();
    let lines: Vec<&str> = log.lines().collect();
    for line in lines.iter().skip(*seen) {
        println!("[{}] {line}", pj.spec.job);
    }
    *seen = lines.len().max(*seen);
}

/// The summary table; whether every required job succeeded.
fn summary(
    selected: &[&Presubmit],
    jobs: &[ProwJob],
    done: &HashMap<String, ProwJob>,
    deck: &str,
) -> bool {
    let width = jobs
        .iter()
        .map(|j| j.spec.job.len())
        .max()
        .unwrap_or(3)
        .max(3);
    println!();
    println!(
        "{:<width$}  {:<9}  {:>8}  LINK",
        "JOB", "RESULT", "DURATION"
    );
    let mut ok = true;
    for (p, pj) in selected.iter().zip(jobs) {
        let (state, duration, link) = match done.get(pj.name()) {
            Some(done) => {
                let secs = match (&done.status.start_time, &done.status.completion_time) {
                    (Some(s), Some(c)) => c.0.duration_since(s.0).as_secs_f64(),
                    _ => 0.0,
                };
                let link = if done.status.url.is_empty() {
                    deck.to_owned()
                } else {
                    done.status.url.clone()
                };
                (done.status.state, format!("{secs:.1}s"), link)
            }
            None => (ProwJobState::Pending, "-".to_owned(), deck.to_owned()),
        };
        if state != ProwJobState::Success && p.is_required() {
            ok = false;
        }
        println!(
            "{:<width$}  {:<9}  {:>8}  {link}",
            pj.spec.job,
            format!("{state:?}").to_lowercase(),
            duration
        );
    }
    ok
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repos_are_named_from_their_origin_url() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]).unwrap();
        assert!(repo_of(dir.path()).starts_with("local/"));
        for (url, want) in [
            (
                "git@github.com:kubernetes/test-infra.git",
                "kubernetes/test-infra",
            ),
            ("https://github.com/org/repo", "org/repo"),
            ("https://github.com/org/repo.git/", "org/repo"),
        ] {
            let _ = git(dir.path(), &["remote", "remove", "origin"]);
            git(dir.path(), &["remote", "add", "origin", url]).unwrap();
            assert_eq!(repo_of(dir.path()), want, "{url}");
        }
    }
}
