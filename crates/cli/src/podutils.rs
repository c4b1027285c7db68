//! `prow clonerefs|initupload|entrypoint|sidecar`: Prow's pod utilities, configured as Prow's are
//! by JSON in `CLONEREFS_OPTIONS`, `INITUPLOAD_OPTIONS`, `ENTRYPOINT_OPTIONS`, `SIDECAR_OPTIONS`
//! (and `JOB_SPEC`), exiting with Prow's codes.
//!
//! The binary copied to `/tools/entrypoint` by `prow entrypoint --copy-mode-only` runs as the
//! entrypoint when started under that name ([`by_program_name`]).

use prow_artifacts::StoreArgs;
use prow_podutils::options::{
    CLONEREFS_OPTIONS_ENV, ENTRYPOINT_OPTIONS_ENV, GcsOptions, INITUPLOAD_OPTIONS_ENV,
    SIDECAR_OPTIONS_ENV, load_env,
};
use prow_podutils::{
    CloneRefsOptions, EntrypointOptions, InitUploadOptions, SidecarOptions, clonerefs, entrypoint,
    initupload, jobspec, sidecar, store_for,
};

/// Flags of `prow entrypoint` (everything else comes from `ENTRYPOINT_OPTIONS`).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct EntrypointArgs {
    /// Only copy this binary to --copy-destination (the place-entrypoint init container).
    #[arg(long)]
    copy_mode_only: bool,
    /// Where --copy-mode-only copies the binary.
    #[arg(long, default_value = entrypoint::DEFAULT_COPY_DST)]
    copy_destination: String,
}

/// Prints a fatal message the way the utilities log, and gives exit code 1 (logrus.Fatal).
fn fatal(component: &str, msg: impl std::fmt::Display) -> i32 {
    eprintln!(
        "{}",
        serde_json::json!({"component": component, "level": "fatal", "msg": msg.to_string()})
    );
    1
}

fn runtime(component: &str) -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fatal(component, format!("cannot start the async runtime: {e}")))
}

/// `prow clonerefs`: exit 1 when the options are bad or (with `fail`) a clone failed.
pub(crate) fn clonerefs() -> i32 {
    let mut options: CloneRefsOptions = match load_env(CLONEREFS_OPTIONS_ENV) {
        Ok(o) => o,
        Err(e) => return fatal("clonerefs", format!("Could not resolve options: {e}")),
    };
    if let Some(root) =
        std::env::var_os(prow_podutils::clone::LOCAL_CLONE_ROOT_ENV).filter(|root| !root.is_empty())
    {
        clonerefs::resolve_local_clone_uris(&mut options, std::path::Path::new(&root));
    }
    match clonerefs::run(&options) {
        Ok(_) => {
            eprintln!(
                "{}",
                serde_json::json!({"component": "clonerefs", "level": "info", "msg": "Finished cloning refs"})
            );
            0
        }
        Err(e) => fatal("clonerefs", format!("Failed to clone refs: {e}")),
    }
}

/// Prow's `--gcs-credentials-file` / `--s3-credentials-file` fill what the options JSON leaves
/// empty.
fn with_credentials(mut options: GcsOptions, flags: &StoreArgs) -> GcsOptions {
    let fill = |field: &mut String, flag: &Option<std::path::PathBuf>| {
        if let Some(path) = flag.as_ref().filter(|_| field.is_empty()) {
            *field = path.display().to_string();
        }
    };
    fill(
        &mut options.gcs_credentials_file,
        &flags.gcs_credentials_file,
    );
    fill(&mut options.s3_credentials_file, &flags.s3_credentials_file);
    options
}

/// `prow initupload`: exit 1 when uploading failed or a clone record failed.
pub(crate) fn initupload(flags: &StoreArgs) -> i32 {
    let mut options: InitUploadOptions = match load_env(INITUPLOAD_OPTIONS_ENV) {
        Ok(o) => o,
        Err(e) => return fatal("initupload", format!("Could not resolve options: {e}")),
    };
    options.gcs = with_credentials(options.gcs, flags);
    if let Err(e) = options.gcs.validate() {
        return fatal("initupload", format!("Invalid options: {e}"));
    }
    let spec = match jobspec::resolve_spec_from_env() {
        Ok(s) => s,
        Err(e) => {
            return fatal(
                "initupload",
                format!("Failed to initialize job: could not resolve job spec: {e}"),
            );
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let dest = match store_for(&options.gcs, &env) {
        Ok(d) => d,
        Err(e) => return fatal("initupload", format!("Failed to initialize job: {e}")),
    };
    let rt = match runtime("initupload") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(initupload::run(&options, &spec, &dest)) {
        Ok(_) => 0,
        Err(e) => fatal("initupload", format!("Failed to initialize job: {e}")),
    }
}

/// `prow entrypoint`: the wrapped command's exit code (or Prow's internal codes).
pub(crate) fn entrypoint(args: &EntrypointArgs) -> i32 {
    let options: EntrypointOptions = match std::env::var(ENTRYPOINT_OPTIONS_ENV) {
        Ok(_) => match load_env(ENTRYPOINT_OPTIONS_ENV) {
            Ok(o) => o,
            Err(e) => return fatal("entrypoint", format!("Could not resolve options: {e}")),
        },
        // Without the JSON only copy mode can work (how the place-entrypoint container runs).
        Err(_) => EntrypointOptions {
            copy_mode_only: args.copy_mode_only,
            copy_dst: args.copy_destination.clone(),
            ..EntrypointOptions::default()
        },
    };
    if options.copy_mode_only || args.copy_mode_only {
        let dst = if options.copy_dst.is_empty() {
            args.copy_destination.as_str()
        } else {
            options.copy_dst.as_str()
        };
        return match entrypoint::copy_self(dst) {
            Ok(()) => 0,
            Err(e) => fatal(
                "entrypoint",
                format!("Failed running in copy mode, this is a prow bug: {e}"),
            ),
        };
    }
    if let Err(e) = options.validate() {
        return fatal("entrypoint", format!("Invalid options: {e}"));
    }
    match runtime("entrypoint") {
        Ok(rt) => rt.block_on(entrypoint::run(&options)),
        Err(code) => code,
    }
}

/// `prow sidecar`: exit 1 only when `entry_error` is set and a test container failed.
pub(crate) fn sidecar(flags: &StoreArgs) -> i32 {
    let mut options: SidecarOptions = match load_env(SIDECAR_OPTIONS_ENV) {
        Ok(o) => o,
        Err(e) => return fatal("sidecar", format!("Could not resolve options: {e}")),
    };
    options.gcs_options = with_credentials(options.gcs_options, flags);
    if let Err(e) = options.validate() {
        return fatal("sidecar", format!("Invalid options: {e}"));
    }
    let log = |msg: String| {
        eprintln!(
            "{}",
            serde_json::json!({"component": "sidecar", "level": "error", "msg": msg})
        );
    };
    // Upstream reports these and exits 0: the pod's outcome is the test's, not the upload's.
    let spec = match jobspec::resolve_spec_from_env() {
        Ok(s) => s,
        Err(e) => {
            log(format!(
                "Failed to report job status: could not resolve job spec: {e}"
            ));
            return 0;
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let dest = match store_for(&options.gcs_options, &env) {
        Ok(d) => d,
        Err(e) => {
            log(format!("Failed to report job status: {e}"));
            return 0;
        }
    };
    let rt = match runtime("sidecar") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(sidecar::run(&options, &spec, &dest)) {
        Ok(report) => {
            let code = report.exit_code(options.entry_error);
            if code != 0 {
                return fatal("sidecar", format!("{} containers failed", report.failures));
            }
            0
        }
        Err(e) => fatal("sidecar", format!("Invalid options: {e}")),
    }
}

/// When this binary was started as `entrypoint` (the copy in `/tools`), `clonerefs`,
/// `initupload` or `sidecar`, runs that utility and gives its exit code.
pub(crate) fn by_program_name() -> Option<i32> {
    let argv0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&argv0)
        .file_name()?
        .to_str()?
        .to_owned();
    match name.as_str() {
        "entrypoint" => {
            let copy_mode_only = std::env::args().any(|a| a == "--copy-mode-only");
            Some(entrypoint(&EntrypointArgs {
                copy_mode_only,
                copy_destination: entrypoint::DEFAULT_COPY_DST.to_owned(),
            }))
        }
        "clonerefs" => Some(clonerefs()),
        "initupload" => Some(initupload(&StoreArgs::default())),
        "sidecar" => Some(sidecar(&StoreArgs::default())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_flags_fill_only_what_the_options_leave_empty() {
        let flags = StoreArgs {
            gcs_credentials_file: Some("/flag/gcs.json".into()),
            s3_credentials_file: Some("/flag/s3.json".into()),
        };
        let from_json = GcsOptions {
            gcs_credentials_file: "/secrets/gcs/service-account.json".into(),
            ..GcsOptions::default()
        };
        let merged = with_credentials(from_json, &flags);
        assert_eq!(
            merged.gcs_credentials_file,
            "/secrets/gcs/service-account.json"
        );
        assert_eq!(merged.s3_credentials_file, "/flag/s3.json");
        let untouched = with_credentials(GcsOptions::default(), &StoreArgs::default());
        assert_eq!(untouched, GcsOptions::default());
    }
}
