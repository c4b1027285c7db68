//! The I/O shell: decode a pull_request event, read the merged files from GitHub, write the
//! ConfigMaps [`crate::decide::plan`] names, and report on the PR.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use prow_core::events::GITHUB_PULL_REQUEST;
use prow_events::cloudevents::{AttributesReader, Event};
use prow_github::GitHubError;

use futures::{StreamExt, TryStreamExt};

use crate::decide::{self, ConfigMapData, ConfigMapId, KeyUpdate, Merge};
use crate::metrics::ConfigMapLabels;
use crate::snapshot::{self, CompileFailure, Compiled, SnapshotTarget};
use crate::{ConfigUpdaterState, PLUGIN_NAME};

/// How many config files are read from GitHub at once when compiling (through ghproxy).
const PARALLEL_READS: usize = 8;

/// Why an event was not (fully) handled.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The event data is not a pull_request payload; redelivery will not help.
    #[error("{id}: payload does not parse: {source}")]
    Payload {
        id: String,
        #[source]
        source: prow_events::DecodeError,
    },
    #[error("{target}: GitHub: {source}")]
    GitHub {
        target: String,
        #[source]
        source: GitHubError,
    },
    #[error("{target}: {source}")]
    MissingFile {
        target: String,
        #[source]
        source: decide::MissingFile,
    },
    #[error("configmap {target}: {source}")]
    Kube {
        target: String,
        #[source]
        source: kube::Error,
    },
    #[error("configmap {target}: no client for cluster {cluster:?}")]
    UnknownCluster { target: String, cluster: String },
    /// GitHub listed only part of the repository: compiling from it could drop jobs.
    #[error("{target}: GitHub truncated the repository tree; the job config cannot be listed")]
    TreeTruncated { target: String },
    #[error("configmap {target}: still conflicting after {CONFLICT_RETRIES} attempts")]
    Conflict { target: String },
    /// Some ConfigMaps were not written; the ones that were are reported on the PR and a
    /// redelivery writes them again (harmless: the same content).
    #[error("{} configmap update(s) failed: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<UpdateError>),
}

impl UpdateError {
    /// Whether the sender is at fault (400) rather than a dependency (5xx, redeliver).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, UpdateError::Payload { .. })
    }
}

/// The event type as a metrics label: ours, or `other`.
pub fn event_label(event: &Event) -> String {
    match event.ty() {
        t @ GITHUB_PULL_REQUEST => t.to_owned(),
        _ => "other".to_owned(),
    }
}

/// How often a ConfigMap write is retried when someone else wrote it in between.
const CONFLICT_RETRIES: usize = 5;

fn gh(target: &str) -> impl FnOnce(GitHubError) -> UpdateError + use<> {
    let target = target.to_owned();
    move |source| UpdateError::GitHub { target, source }
}

/// Handles one CloudEvent: only a merge into the default branch of a repo with config-updater
/// enabled does anything.
pub async fn handle_event(state: &ConfigUpdaterState, event: &Event) -> Result<(), UpdateError> {
    if event.ty() != GITHUB_PULL_REQUEST {
        return Ok(());
    }
    let payload: decide::PullRequestEvent =
        prow_events::data_json(event).map_err(|source| UpdateError::Payload {
            id: event.id().to_owned(),
            source,
        })?;
    let Some(merge) = decide::merge(&payload) else {
        return Ok(());
    };
    let config = state.config.current();
    if !config
        .plugins
        .is_enabled(&merge.org, &merge.repo, PLUGIN_NAME)
    {
        return Ok(());
    }
    let target = format!("{}/{}#{}", merge.org, merge.repo, merge.number);
    let changes = state
        .github
        .pull_request_changes(&merge.org, &merge.repo, merge.number)
        .await
        .map_err(gh(&target))?;
    let mut plan = decide::plan(
        &config.plugins.config_updater,
        &changes,
        &merge.org,
        &merge.repo,
        &config.prow.prowjob_namespace,
    );
    let snapshot_target = state
        .snapshot
        .as_ref()
        .filter(|t| t.wanted(&changes, &merge.org, &merge.repo));
    if plan.is_empty() && snapshot_target.is_none() {
        return Ok(());
    }
    // Compiled before anything is written: a config that does not compile changes nothing,
    // not even the raw-file ConfigMaps, and the PR is told why.
    let compiled = match snapshot_target {
        Some(target) => match compile_at_merge(state, target, &merge).await? {
            Ok(compiled) => Some((target, compiled)),
            Err(failure) => {
                tracing::warn!(pr = %target_of(&merge), error = %failure, "merged config does not compile; nothing published");
                state.metrics.compile_failures.inc();
                return comment_once(state, &merge, &snapshot::failure_report(target, &failure))
                    .await;
            }
        },
        None => None,
    };
    let mut files = BTreeMap::new();
    for file in decide::files_to_read(&plan) {
        let file_target = format!("{}/{}@{}:{file}", merge.org, merge.repo, merge.merge_sha);
        let content = state
            .github
            .get_file(&merge.org, &merge.repo, &merge.merge_sha, &file)
            .await
            .map_err(gh(&file_target))?;
        // A file the PR changed but the merge commit lacks is left out: `updated` names it.
        if let Some(content) = content {
            files.insert(file, content);
        }
    }

    if let Some((target, compiled)) = &compiled {
        let source = target.describe_sources();
        plan.entry(target.configmap.clone())
            .or_default()
            .push(KeyUpdate {
                key: target.key.clone(),
                file: Some(source.clone()),
                gzip: false,
            });
        files.insert(source, compiled.bytes.clone());
    }

    let mut updated = Vec::new();
    let mut errors = Vec::new();
    for (id, updates) in plan {
        match write_configmap(state, &id, &updates, &files, &merge).await {
            Ok(()) => updated.push((id, updates)),
            Err(err) => {
                tracing::error!(error = %err, pr = %target, "configmap update failed");
                errors.push(err);
            }
        }
    }
    let published = compiled.as_ref().filter(|(target, _)| {
        updated.iter().any(|(id, updates)| {
            *id == target.configmap && updates.iter().any(|u| u.key == target.key)
        })
    });
    if let Some(message) = decide::report(&updated).map(|report| match published {
        Some((_, compiled)) => format!(
            "{}\n\n{}",
            report.trim_end(),
            snapshot::success_line(compiled)
        ),
        None => report,
    }) && let Err(err) = comment_once(state, &merge, &message).await
    {
        errors.push(err);
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(UpdateError::Several(errors)),
    }
}

fn target_of(merge: &Merge) -> String {
    format!("{}/{}#{}", merge.org, merge.repo, merge.number)
}

/// Reads the config's files at the merge SHA (the job config listed through the recursive tree,
/// no clone) and compiles them; the outer error is GitHub failing us (redeliver), the inner one
/// a config that does not compile (final).
async fn compile_at_merge(
    state: &ConfigUpdaterState,
    target: &SnapshotTarget,
    merge: &Merge,
) -> Result<Result<Compiled, CompileFailure>, UpdateError> {
    let at = format!("{}/{}@{}", merge.org, merge.repo, merge.merge_sha);
    let tree = match &target.job_config_path {
        Some(_) => {
            let tree = state
                .github
                .get_tree(&merge.org, &merge.repo, &merge.merge_sha)
                .await
                .map_err(gh(&at))?;
            if tree.truncated {
                return Err(UpdateError::TreeTruncated { target: at });
            }
            tree.entries
        }
        None => Vec::new(),
    };
    let files: BTreeMap<String, Vec<u8>> = futures::stream::iter(target.sources(&tree))
        .map(|path| async {
            let content = state
                .github
                .get_file(&merge.org, &merge.repo, &merge.merge_sha, &path)
                .await
                .map_err(gh(&format!("{at}:{path}")))?;
            Ok::<_, UpdateError>(content.map(|c| (path, c)))
        })
        .buffer_unordered(PARALLEL_READS)
        .try_filter_map(|file| async move { Ok(file) })
        .try_collect()
        .await?;
    Ok(snapshot::compile(target, &files))
}

/// Reads the ConfigMap, applies the updates and writes it back (created when missing), again
/// from a fresh read when someone else wrote it in between.
async fn write_configmap(
    state: &ConfigUpdaterState,
    id: &ConfigMapId,
    updates: &[KeyUpdate],
    files: &BTreeMap<String, Vec<u8>>,
    merge: &Merge,
) -> Result<(), UpdateError> {
    let target = format!("{}/{} (cluster {})", id.namespace, id.name, id.cluster);
    let client = state
        .clusters
        .get(&id.cluster)
        .ok_or_else(|| UpdateError::UnknownCluster {
            target: target.clone(),
            cluster: id.cluster.clone(),
        })?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &id.namespace);
    let kube_err = |source| UpdateError::Kube {
        target: target.clone(),
        source,
    };
    for _ in 0..CONFLICT_RETRIES {
        let existing = api.get_opt(&id.name).await.map_err(kube_err)?;
        let current = existing.as_ref().map(data_of).unwrap_or_default();
        let next =
            decide::updated(current, updates, files, &merge.merge_sha).map_err(|source| {
                UpdateError::MissingFile {
                    target: target.clone(),
                    source,
                }
            })?;
        let size = next.size();
        if state.dry_run {
            tracing::info!(configmap = %target, keys = ?next.data.keys().chain(next.binary_data.keys()).collect::<Vec<_>>(), "dry run: would write");
            return Ok(());
        }
        let written = match existing {
            Some(mut cm) => {
                set_data(&mut cm, next);
                api.replace(&id.name, &PostParams::default(), &cm).await
            }
            None => {
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some(id.name.clone());
                cm.metadata.namespace = Some(id.namespace.clone());
                cm.metadata.labels = Some(BTreeMap::from([
                    ("app.kubernetes.io/name".to_owned(), "prow".to_owned()),
                    (
                        "app.kubernetes.io/component".to_owned(),
                        "updateconfig-plugin".to_owned(),
                    ),
                ]));
                set_data(&mut cm, next);
                api.create(&PostParams::default(), &cm).await
            }
        };
        match written {
            Ok(_) => {
                state
                    .metrics
                    .configmap_bytes
                    .get_or_create(&ConfigMapLabels {
                        name: id.name.clone(),
                        namespace: id.namespace.clone(),
                    })
                    .set(i64::try_from(size).unwrap_or(i64::MAX));
                tracing::info!(configmap = %target, sha = %merge.merge_sha, "configmap updated");
                return Ok(());
            }
            // Created or changed by someone else meanwhile: read again and re-apply.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(source) => return Err(kube_err(source)),
        }
    }
    Err(UpdateError::Conflict { target })
}

fn data_of(cm: &ConfigMap) -> ConfigMapData {
    ConfigMapData {
        data: cm.data.clone().unwrap_or_default(),
        binary_data: cm
            .binary_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
    }
}

fn set_data(cm: &mut ConfigMap, data: ConfigMapData) {
    cm.data = Some(data.data);
    cm.binary_data = (!data.binary_data.is_empty()).then(|| {
        data.binary_data
            .into_iter()
            .map(|(k, v)| (k, ByteString(v)))
            .collect()
    });
}

/// Comments Prow's report on the PR, unless we already did (a redelivered event).
async fn comment_once(
    state: &ConfigUpdaterState,
    merge: &Merge,
    message: &str,
) -> Result<(), UpdateError> {
    let target = format!("{}/{}#{}", merge.org, merge.repo, merge.number);
    let body = prow_core::respond::format_response_raw(
        &merge.body,
        &merge.html_url,
        &merge.author,
        message,
    );
    let bot = state.github.bot_login().await.map_err(gh(&target))?;
    let comments = state
        .github
        .list_issue_comments(&merge.org, &merge.repo, merge.number)
        .await
        .map_err(gh(&target))?;
    let already = comments.iter().any(|c| {
        prow_github::normalize_login(&c.user.login) == prow_github::normalize_login(&bot)
            && c.body == body
    });
    if !already {
        state
            .github
            .create_comment(&merge.org, &merge.repo, merge.number, &body)
            .await
            .map_err(gh(&target))?;
    }
    Ok(())
}
