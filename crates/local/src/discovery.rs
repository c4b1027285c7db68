//! Discovery and OpenAPI documents: `/version`, `/api`, `/apis`, resource lists and `/openapi/v3`.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

use crate::resources::{ALL, ResourceInfo, VERBS};
use crate::schema::CrdSchema;

/// `GET /version`. The minor version matters: the Debian `kubectl` dispatcher runs the bundled
/// client matching it, and 1.32 is the one our API notes document.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-prow-local",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `GET /api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = ALL
        .iter()
        .map(|r| r.group)
        .filter(|g| !g.is_empty())
        .collect();
    groups.dedup();
    groups
}

fn group_doc(group: &str) -> Value {
    let version = ALL
        .iter()
        .find(|r| r.group == group)
        .map_or("v1", |r| r.version);
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(group_doc).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`.
pub fn group(group: &str) -> Option<Value> {
    groups().contains(&group).then(|| {
        let mut doc = group_doc(group);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        doc
    })
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`: the legacy `APIResourceList`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceInfo> = ALL
        .iter()
        .copied()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let first = served.first()?;
    let mut resources = Vec::new();
    for r in &served {
        resources.push(json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": VERBS, "shortNames": r.short_names, "categories": r.categories,
        }));
        if r.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"],
            }));
        }
        if r.plural == "pods" {
            resources.push(json!({
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"],
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": first.api_version(), "resources": resources,
    }))
}

/// `/openapi/v3` path key of a group/version: `api/v1` or `apis/<group>/<version>`.
fn openapi_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn content_hash(crd: &CrdSchema, key: &str) -> String {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    crd.openapi.to_string().hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

/// `GET /openapi/v3`: one entry per served group/version.
pub fn openapi_root(crd: &CrdSchema) -> Value {
    let mut paths = serde_json::Map::new();
    for r in ALL.iter() {
        let key = openapi_key(r.group, r.version);
        let url = format!("/openapi/v3/{key}?hash={}", content_hash(crd, &key));
        paths.insert(key, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/<key>`: operations advertising `fieldValidation` (so kubectl validates
/// server-side), plus the ProwJob schema from the CRD so `kubectl explain` has something to show.
pub fn openapi_group_version(key: &str, crd: &CrdSchema) -> Option<Value> {
    let served: Vec<&ResourceInfo> = ALL
        .iter()
        .copied()
        .filter(|r| openapi_key(r.group, r.version) == key)
        .collect();
    let first = served.first()?;
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in &served {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = json!({
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}}
            ],
            "x-kubernetes-group-version-kind": gvk,
        });
        let prefix = if r.group.is_empty() {
            format!("/api/{}", r.version)
        } else {
            format!("/apis/{}/{}", r.group, r.version)
        };
        let collection = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        paths.insert(collection.clone(), json!({"post": op}));
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"put": op, "patch": op}),
        );
        if r.plural == "prowjobs" {
            let mut schema = crd.openapi.clone();
            schema["x-kubernetes-group-version-kind"] = json!([gvk]);
            schemas.insert(format!("io.k8s.prow.{}.{}", r.version, r.kind), schema);
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "prow-local", "version": first.api_version()},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resource_lists_advertise_short_names_and_subresources() {
        let prow = resource_list("prow.k8s.io", "v1").unwrap();
        let names: Vec<&str> = prow["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["prowjobs", "prowjobs/status"]);
        assert_eq!(prow["resources"][0]["shortNames"], json!(["pj"]));
        let core = resource_list("", "v1").unwrap();
        assert_eq!(core["groupVersion"], "v1");
        assert!(
            core["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == "pods/log")
        );
        assert!(resource_list("apps", "v1").is_none());
    }

    #[test]
    fn openapi_root_links_every_group_version() {
        let crd = crate::schema::prowjob().unwrap();
        let root = openapi_root(crd);
        assert!(
            root["paths"]["apis/prow.k8s.io/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/prow.k8s.io/v1?hash=")
        );
        assert!(root["paths"]["api/v1"].is_object());
        let doc = openapi_group_version("apis/prow.k8s.io/v1", crd).unwrap();
        assert!(
            doc["paths"]["/apis/prow.k8s.io/v1/namespaces/{namespace}/prowjobs"]["post"]
                .is_object()
        );
        assert!(
            doc["components"]["schemas"]["io.k8s.prow.v1.ProwJob"]["properties"]["spec"]
                .is_object()
        );
        assert!(openapi_group_version("apis/apps/v1", crd).is_none());
    }
}
