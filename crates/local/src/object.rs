//! Write semantics as pure functions: what a create, update or status update turns an object into.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::error::{ApiError, Cause};
use crate::resources::{NAMESPACES, PODS, PROWJOBS, ResourceInfo};
use crate::schema;

/// Where a write goes and the facts the server supplies (time, fresh uid, random name suffix).
#[derive(Debug, Clone)]
pub struct WriteContext<'a> {
    pub resource: &'static ResourceInfo,
    /// Namespace from the URL; empty for cluster-scoped resources.
    pub namespace: &'a str,
    pub now: DateTime<Utc>,
    pub uid: String,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being pruned.
    pub strict: bool,
}

/// Result of checking and normalising an object before it is stored.
#[derive(Debug, PartialEq)]
pub struct Prepared {
    pub object: Value,
    /// Unknown fields that were pruned (sent back as `Warning` headers).
    pub warnings: Vec<String>,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The object's `metadata.name`, or "" if absent.
pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or("")
}

/// Five characters from the alphabet Kubernetes uses for `generateName` suffixes (no vowels).
pub fn name_suffix(uid: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uid.bytes()
        .filter(u8::is_ascii_hexdigit)
        .take(5)
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn invalid(resource: &'static ResourceInfo, name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::Invalid {
        resource,
        name: name.to_string(),
        causes,
    }
}

/// Kubernetes' `TotalAnnotationSizeLimitB`: the sum of every annotation key and value. Client-side
/// `kubectl apply` copies the whole object into one annotation, so a large object (the ProwJob CRD,
/// a big config ConfigMap) fails here on a real cluster and must do so here too.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_B: usize = 256 * 1024;

fn annotations_too_long(object: &Value) -> bool {
    let total: usize = object["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    total > TOTAL_ANNOTATION_SIZE_LIMIT_B
}

/// Checks ObjectMeta fields every resource shares.
fn metadata_causes(resource: &ResourceInfo, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = name_of(object);
    let name_ok = if resource.plural == NAMESPACES.plural {
        is_dns_label(name)
    } else {
        is_dns_subdomain(name)
    };
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else if !name_ok {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            message: format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
            field: "metadata.name".into(),
        });
    }
    if annotations_too_long(object) {
        causes.push(Cause {
            reason: "FieldValueTooLong",
            message: format!("Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT_B} bytes"),
            field: "metadata.annotations".into(),
        });
    }
    for map in ["labels", "annotations"] {
        if let Some(entries) = object["metadata"][map].as_object() {
            for (k, v) in entries {
                if !v.is_string() {
                    causes.push(Cause {
                        reason: "FieldValueTypeInvalid",
                        message: "Invalid value: must be a string".into(),
                        field: format!("metadata.{map}.{k}"),
                    });
                }
            }
        }
    }
    causes
}

fn pod_causes(object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    match object["spec"]["containers"].as_array() {
        Some(containers) if !containers.is_empty() => {
            for (i, c) in containers.iter().enumerate() {
                for field in ["name", "image"] {
                    if c[field].as_str().is_none_or(str::is_empty) {
                        causes.push(Cause {
                            reason: "FieldValueRequired",
                            message: "Required value".into(),
                            field: format!("spec.containers[{i}].{field}"),
                        });
                    }
                }
            }
        }
        _ => causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: "spec.containers".into(),
        }),
    }
    causes
}

/// Validates `object` for `resource`, pruning unknown ProwJob fields per the CRD schema.
pub fn validate(
    resource: &'static ResourceInfo,
    object: &mut Value,
    strict: bool,
) -> Result<Vec<String>, ApiError> {
    let mut causes = metadata_causes(resource, object);
    let mut pruned = Vec::new();
    if resource.plural == PROWJOBS.plural {
        let crd = schema::prowjob()
            .map_err(|e| ApiError::Internal(format!("ProwJob schema unavailable: {e}")))?;
        let outcome = crd.schema.validate(object);
        causes.extend(outcome.causes);
        pruned = outcome.pruned;
    } else if resource.plural == PODS.plural {
        causes.extend(pod_causes(object));
    }
    if !causes.is_empty() {
        return Err(invalid(resource, name_of(object), causes));
    }
    if strict && !pruned.is_empty() {
        let fields: Vec<String> = pruned
            .iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect();
        return Err(ApiError::BadRequest(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", "),
            kind = resource.kind,
            version = resource.version,
        )));
    }
    Ok(pruned
        .into_iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect())
}

/// Turns a POSTed body into the object to store: names it, stamps server-owned metadata, validates.
pub fn prepare_create(ctx: &WriteContext<'_>, mut body: Value) -> Result<Prepared, ApiError> {
    let resource = ctx.resource;
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    check_type_meta(resource, &body)?;
    body["apiVersion"] = json!(resource.api_version());
    body["kind"] = json!(resource.kind);
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    if name_of(&body).is_empty()
        && let Some(prefix) = body["metadata"]["generateName"].as_str()
    {
        body["metadata"]["name"] = json!(format!("{prefix}{}", name_suffix(&ctx.uid)));
    }
    set_namespace(ctx, &mut body)?;
    let meta = &mut body["metadata"];
    meta["uid"] = json!(ctx.uid);
    meta["creationTimestamp"] = json!(timestamp(ctx.now));
    meta["generation"] = json!(1);
    if let Some(m) = meta.as_object_mut() {
        m.remove("resourceVersion");
        m.remove("deletionTimestamp");
        m.remove("managedFields");
    }
    if resource.plural == PODS.plural {
        // The kubelet owns pod status; a new pod is always Pending.
        body["status"] = json!({"phase": "Pending"});
    } else if resource.plural == NAMESPACES.plural {
        body["status"] = json!({"phase": "Active"});
    }
    // ProwJobs keep a POSTed status: Prow creates jobs with `status.state` and `startTime` set.
    let warnings = validate(resource, &mut body, ctx.strict)?;
    Ok(Prepared {
        object: body,
        warnings,
    })
}

fn check_type_meta(resource: &ResourceInfo, body: &Value) -> Result<(), ApiError> {
    let kind_ok = body["kind"]
        .as_str()
        .is_none_or(|k| k.is_empty() || k == resource.kind);
    let version_ok = body["apiVersion"]
        .as_str()
        .is_none_or(|v| v.is_empty() || v == resource.api_version());
    if kind_ok && version_ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "the API version in the data ({}) does not match the expected API version ({}) or kind ({}) is wrong",
            body["apiVersion"].as_str().unwrap_or(""),
            resource.api_version(),
            body["kind"].as_str().unwrap_or(""),
        )))
    }
}

fn set_namespace(ctx: &WriteContext<'_>, body: &mut Value) -> Result<(), ApiError> {
    let meta = &mut body["metadata"];
    if !ctx.resource.namespaced {
        if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        return Ok(());
    }
    match meta["namespace"].as_str() {
        Some(ns) if !ns.is_empty() && ns != ctx.namespace => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => {
            meta["namespace"] = json!(ctx.namespace);
            Ok(())
        }
    }
}

/// What an update does to the stored object.
#[derive(Debug, PartialEq)]
pub enum UpdatePlan {
    /// Store this object (a new resourceVersion is assigned on commit).
    Write(Prepared),
    /// Nothing changed: answer with the stored object and do not bump the resourceVersion.
    Unchanged,
}

/// Computes the result of PUT/PATCH of `new` over `old` on the main resource or, with
/// `status_only`, on the `/status` subresource.
pub fn prepare_update(
    ctx: &WriteContext<'_>,
    old: &Value,
    mut new: Value,
    status_only: bool,
) -> Result<UpdatePlan, ApiError> {
    let resource = ctx.resource;
    if !new.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    check_type_meta(resource, &new)?;
    let name = name_of(old).to_string();
    let new_name = name_of(&new);
    if !new_name.is_empty() && new_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({new_name}) does not match the name on the URL ({name})"
        )));
    }
    let old_rv = old["metadata"]["resourceVersion"].as_str().unwrap_or("");
    if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && rv != old_rv
    {
        return Err(ApiError::Conflict {
            resource,
            name,
            reason: "the object has been modified; please apply your changes to the latest version and try again"
                .into(),
        });
    }
    let mut result = if status_only {
        let mut result = old.clone();
        result["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        if result["status"].is_null()
            && let Some(m) = result.as_object_mut()
        {
            m.remove("status");
        }
        result
    } else {
        if !new["metadata"].is_object() {
            new["metadata"] = json!({});
        }
        set_namespace(ctx, &mut new)?;
        new["apiVersion"] = json!(resource.api_version());
        new["kind"] = json!(resource.kind);
        for field in [
            "name",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
        ] {
            match old["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        if resource.status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        if new.get("spec") != old.get("spec") {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        new
    };
    result["metadata"]["resourceVersion"] = json!(old_rv);
    let warnings = validate(resource, &mut result, ctx.strict)?;
    if result == *old {
        return Ok(UpdatePlan::Unchanged);
    }
    Ok(UpdatePlan::Write(Prepared {
        object: result,
        warnings,
    }))
}

/// Whether a DELETE must wait for finalizers (the object is only marked) or removes it now.
pub fn has_finalizers(object: &Value) -> bool {
    object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(resource: &'static ResourceInfo) -> WriteContext<'static> {
        WriteContext {
            resource,
            namespace: "default",
            now: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
            uid: "0a1b2c3d-0000-4000-8000-000000000000".into(),
            strict: false,
        }
    }

    fn prowjob() -> Value {
        json!({
            "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
            "metadata": {"name": "pj1", "labels": {"a": "b"}},
            "spec": {"type": "periodic", "job": "ci-test"},
            "status": {"state": "triggered"}
        })
    }

    fn stored(mut obj: Value, rv: &str) -> Value {
        obj = prepare_create(&ctx(&PROWJOBS), obj).unwrap().object;
        obj["metadata"]["resourceVersion"] = json!(rv);
        obj
    }

    #[test]
    fn create_stamps_server_owned_metadata() {
        let out = prepare_create(&ctx(&PROWJOBS), prowjob()).unwrap().object;
        let meta = &out["metadata"];
        assert_eq!(meta["namespace"], "default");
        assert_eq!(meta["uid"], "0a1b2c3d-0000-4000-8000-000000000000");
        assert_eq!(meta["creationTimestamp"], "2024-01-02T03:04:05Z");
        assert_eq!(meta["generation"], 1);
        assert_eq!(
            out["status"]["state"], "triggered",
            "ProwJobs are created with their status"
        );
    }

    #[test]
    fn create_generates_names_from_generate_name() {
        let mut body = prowjob();
        body["metadata"] = json!({"generateName": "job-"});
        let out = prepare_create(&ctx(&PROWJOBS), body).unwrap().object;
        let name = name_of(&out);
        assert!(name.starts_with("job-") && name.len() == 9, "{name}");
    }

    #[test]
    fn create_rejects_bad_names_namespaces_and_kinds() {
        let cases: Vec<(Value, u16)> = vec![
            (
                json!({"metadata": {}, "spec": {"type": "periodic", "job": "x"}}),
                422,
            ),
            (
                json!({"metadata": {"name": "Bad_Name"}, "spec": {"type": "periodic", "job": "x"}}),
                422,
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "other"}, "spec": {"type": "periodic", "job": "x"}}),
                400,
            ),
            (json!({"kind": "Pod", "metadata": {"name": "a"}}), 400),
            (
                json!({"metadata": {"name": "a"}, "spec": {"type": "bogus", "job": "x"}}),
                422,
            ),
            (json!([1]), 400),
        ];
        for (body, code) in cases {
            let err = prepare_create(&ctx(&PROWJOBS), body.clone()).unwrap_err();
            assert_eq!(err.status_code().as_u16(), code, "{body}");
        }
    }

    #[test]
    fn annotations_are_limited_to_256_kib_in_total_on_create_and_update() {
        let with_annotation = |value_len: usize| {
            let mut body = prowjob();
            // Key "k" plus value: the limit counts both.
            body["metadata"]["annotations"] = json!({"k": "x".repeat(value_len)});
            body
        };
        let at_limit = with_annotation(TOTAL_ANNOTATION_SIZE_LIMIT_B - 1);
        prepare_create(&ctx(&PROWJOBS), at_limit).unwrap();
        let over = with_annotation(TOTAL_ANNOTATION_SIZE_LIMIT_B);
        let err = prepare_create(&ctx(&PROWJOBS), over.clone()).unwrap_err();
        assert_eq!(err.status_code().as_u16(), 422);
        assert_eq!(
            err.to_string(),
            "ProwJob.prow.k8s.io \"pj1\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes"
        );
        let old = stored(prowjob(), "5");
        let mut new = old.clone();
        new["metadata"]["annotations"] = over["metadata"]["annotations"].clone();
        let err = prepare_update(&ctx(&PROWJOBS), &old, new, false).unwrap_err();
        assert_eq!(err.status_code().as_u16(), 422);
    }

    #[test]
    fn strict_validation_rejects_unknown_fields_and_lenient_prunes_them() {
        let mut body = prowjob();
        body["spec"]["bogus"] = json!(1);
        let mut strict = ctx(&PROWJOBS);
        strict.strict = true;
        assert_eq!(
            prepare_create(&strict, body.clone())
                .unwrap_err()
                .status_code()
                .as_u16(),
            400
        );
        let out = prepare_create(&ctx(&PROWJOBS), body).unwrap();
        assert_eq!(out.warnings, vec!["unknown field \"spec.bogus\""]);
        assert!(out.object["spec"].get("bogus").is_none());
    }

    #[test]
    fn pods_start_pending_whatever_status_was_posted() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]},
                         "status": {"phase": "Succeeded"}});
        let out = prepare_create(&ctx(&PODS), pod).unwrap().object;
        assert_eq!(out["status"], json!({"phase": "Pending"}));
        let bad = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        let err = prepare_create(&ctx(&PODS), bad).unwrap_err();
        assert_eq!(
            err.to_status()["details"]["causes"][0]["field"],
            "spec.containers[0].image"
        );
    }

    #[test]
    fn main_resource_updates_keep_status_and_bump_generation_on_spec_change() {
        let old = stored(prowjob(), "7");
        let mut new = old.clone();
        new["spec"]["job"] = json!("other");
        new["status"]["state"] = json!("success");
        let UpdatePlan::Write(out) = prepare_update(&ctx(&PROWJOBS), &old, new, false).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(out.object["status"]["state"], "triggered");
        assert_eq!(out.object["spec"]["job"], "other");
        assert_eq!(out.object["metadata"]["generation"], 2);
    }

    #[test]
    fn status_updates_change_only_status() {
        let old = stored(prowjob(), "7");
        let mut new = old.clone();
        new["spec"]["job"] = json!("other");
        new["metadata"]["labels"] = json!({"x": "y"});
        new["status"]["state"] = json!("success");
        let UpdatePlan::Write(out) = prepare_update(&ctx(&PROWJOBS), &old, new, true).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(out.object["status"]["state"], "success");
        assert_eq!(out.object["spec"]["job"], "ci-test");
        assert_eq!(out.object["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(out.object["metadata"]["generation"], 1);
    }

    #[test]
    fn stale_resource_versions_conflict_and_missing_ones_do_not() {
        let old = stored(prowjob(), "7");
        let mut stale = old.clone();
        stale["metadata"]["resourceVersion"] = json!("6");
        stale["metadata"]["labels"]["n"] = json!("1");
        let err = prepare_update(&ctx(&PROWJOBS), &old, stale.clone(), false).unwrap_err();
        assert_eq!(err.status_code().as_u16(), 409);
        stale["metadata"]["resourceVersion"] = json!("");
        assert!(matches!(
            prepare_update(&ctx(&PROWJOBS), &old, stale, false).unwrap(),
            UpdatePlan::Write(_)
        ));
    }

    #[test]
    fn identical_updates_are_no_ops() {
        let old = stored(prowjob(), "7");
        assert_eq!(
            prepare_update(&ctx(&PROWJOBS), &old, old.clone(), false).unwrap(),
            UpdatePlan::Unchanged
        );
    }

    #[test]
    fn generated_suffixes_use_the_kubernetes_alphabet() {
        let s = name_suffix("9f2c1e0a-1111");
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }
}
