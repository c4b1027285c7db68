//! The resource types this API server serves and the facts discovery, paths and errors need about them.

/// Static description of one served resource (what a CRD or built-in type registration says).
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// Plural name used in URLs and as the store's table prefix, e.g. `prowjobs`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    /// API group; empty for the core (`/api/v1`) group.
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Whether `.status` is only writable through the `/status` subresource.
    pub status_subresource: bool,
    /// Field-selector keys (beyond `metadata.name`/`metadata.namespace`) the server filters on.
    pub field_labels: &'static [&'static str],
}

pub static PROWJOBS: ResourceInfo = ResourceInfo {
    plural: "prowjobs",
    singular: "prowjob",
    kind: "ProwJob",
    group: "prow.k8s.io",
    version: "v1",
    namespaced: true,
    short_names: &["pj"],
    categories: &["all"],
    status_subresource: true,
    field_labels: &[
        "status.state",
        "spec.job",
        "spec.type",
        "spec.agent",
        "spec.cluster",
    ],
};

pub static PODS: ResourceInfo = ResourceInfo {
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    group: "",
    version: "v1",
    namespaced: true,
    short_names: &["po"],
    categories: &["all"],
    status_subresource: true,
    field_labels: &[
        "status.phase",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.podIP",
    ],
};

pub static NAMESPACES: ResourceInfo = ResourceInfo {
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    group: "",
    version: "v1",
    namespaced: false,
    short_names: &["ns"],
    categories: &[],
    status_subresource: true,
    field_labels: &["status.phase"],
};

pub static EVENTS: ResourceInfo = ResourceInfo {
    plural: "events",
    singular: "event",
    kind: "Event",
    group: "",
    version: "v1",
    namespaced: true,
    short_names: &["ev"],
    categories: &[],
    status_subresource: false,
    field_labels: &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ],
};

/// `events.k8s.io/v1` Events, which kube-rs' event `Recorder` writes. Stored apart from core
/// Events (a real server converts between the two shapes; nobody here reads both).
pub static EVENTS_V1: ResourceInfo = ResourceInfo {
    plural: "events",
    singular: "event",
    kind: "Event",
    group: "events.k8s.io",
    version: "v1",
    namespaced: true,
    short_names: &[],
    categories: &[],
    status_subresource: false,
    field_labels: &[
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    ],
};

/// CustomResourceDefinitions are stored so `kubectl apply -k .` of the deployment (which carries
/// the ProwJob CRD) meets the same checks a real server makes, chiefly the annotation size limit
/// that client-side apply runs into. A stored CRD registers nothing: the resources above are the
/// ones served, whatever is applied here.
pub static CUSTOM_RESOURCE_DEFINITIONS: ResourceInfo = ResourceInfo {
    plural: "customresourcedefinitions",
    singular: "customresourcedefinition",
    kind: "CustomResourceDefinition",
    group: "apiextensions.k8s.io",
    version: "v1",
    namespaced: false,
    short_names: &["crd", "crds"],
    categories: &["api-extensions"],
    status_subresource: true,
    field_labels: &[],
};

/// ConfigMaps: config-updater writes Prow's config into them, and `prow up` mirrors them to the
/// files its functions read, as a kubelet refreshes a mounted ConfigMap.
pub static CONFIGMAPS: ResourceInfo = ResourceInfo {
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    group: "",
    version: "v1",
    namespaced: true,
    short_names: &["cm"],
    categories: &[],
    status_subresource: false,
    field_labels: &[],
};

/// Every served resource, in discovery order.
pub static ALL: [&ResourceInfo; 7] = [
    &PROWJOBS,
    &PODS,
    &NAMESPACES,
    &EVENTS,
    &EVENTS_V1,
    &CUSTOM_RESOURCE_DEFINITIONS,
    &CONFIGMAPS,
];

/// Every verb a stored resource supports (kubectl only trusts the full list).
pub const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `prowjobs.prow.k8s.io` / `pods`: how Kubernetes names the resource in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Field-selector keys this resource accepts.
    pub fn supports_field(&self, key: &str) -> bool {
        key == "metadata.name"
            || (key == "metadata.namespace" && self.namespaced)
            || self.field_labels.contains(&key)
    }
}

/// Finds the resource served under `group`/`version` with URL name `plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    ALL.iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_resources_the_way_kubernetes_error_messages_do() {
        assert_eq!(PROWJOBS.qualified(), "prowjobs.prow.k8s.io");
        assert_eq!(PODS.qualified(), "pods");
        assert_eq!(PROWJOBS.api_version(), "prow.k8s.io/v1");
        assert_eq!(PODS.api_version(), "v1");
    }

    #[test]
    fn lookup_requires_matching_group_and_version() {
        let cases = [
            ("prow.k8s.io", "v1", "prowjobs", Some("ProwJob")),
            ("", "v1", "pods", Some("Pod")),
            ("", "v1", "prowjobs", None),
            ("prow.k8s.io", "v2", "prowjobs", None),
            ("", "v1", "namespaces", Some("Namespace")),
            ("events.k8s.io", "v1", "events", Some("Event")),
            ("", "v1", "configmaps", Some("ConfigMap")),
        ];
        for (group, version, plural, kind) in cases {
            assert_eq!(
                lookup(group, version, plural).map(|r| r.kind),
                kind,
                "{group}/{version}/{plural}"
            );
        }
    }

    #[test]
    fn field_selectors_are_limited_to_declared_labels() {
        assert!(PROWJOBS.supports_field("status.state"));
        assert!(PODS.supports_field("status.phase"));
        assert!(!PODS.supports_field("status.state"));
        assert!(!NAMESPACES.supports_field("metadata.namespace"));
    }
}
