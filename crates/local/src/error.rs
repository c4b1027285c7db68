//! API failures rendered as Kubernetes `Status` objects with the matching HTTP code and reason.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::resources::ResourceInfo;
use crate::store::StoreError;

/// One invalid field, reported in `Status.details.causes` (kubectl prints these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Kubernetes cause type, e.g. `FieldValueRequired`, `FieldValueNotSupported`.
    pub reason: &'static str,
    pub message: String,
    /// Dotted field path, e.g. `spec.refs.pulls[0].number`.
    pub field: String,
}

impl Cause {
    /// `<field>: <message>`, the way the API server joins causes into `Status.message`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{} \"{name}\" not found", resource.qualified())]
    NotFound {
        resource: &'static ResourceInfo,
        name: String,
    },
    #[error("{} \"{name}\" already exists", resource.qualified())]
    AlreadyExists {
        resource: &'static ResourceInfo,
        name: String,
    },
    #[error("Operation cannot be fulfilled on {} \"{name}\": {reason}", resource.qualified())]
    Conflict {
        resource: &'static ResourceInfo,
        name: String,
        reason: String,
    },
    #[error("{}.{} \"{name}\" is invalid: {}", resource.kind, resource.group, join_causes(causes))]
    Invalid {
        resource: &'static ResourceInfo,
        name: String,
        causes: Vec<Cause>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A request body over the server's limit, answered before it is decoded.
    #[error("Request entity too large: limit is {limit}")]
    RequestEntityTooLarge { limit: usize },
    #[error("the server could not find the requested resource")]
    PathNotFound,
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    /// A server-side fault that is not the client's doing (e.g. the embedded CRD does not parse).
    #[error("internal error: {0}")]
    Internal(String),
}

fn join_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes.iter().map(Cause::describe).collect();
    if parts.len() == 1 {
        parts.concat()
    } else {
        format!("[{}]", parts.join(", "))
    }
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } | ApiError::PathNotFound => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestEntityTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::PathNotFound => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::RequestEntityTooLarge { .. } => "RequestEntityTooLarge",
            ApiError::Store(_) | ApiError::Internal(_) => "InternalError",
        }
    }

    /// The `Status` object Kubernetes clients decode from an error response.
    pub fn to_status(&self) -> Value {
        // 5xx details go to the log, not to clients.
        let message = if self.status_code().is_server_error() {
            "Internal error occurred; see the server log".to_string()
        } else {
            self.to_string()
        };
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": self.reason(),
            "code": self.status_code().as_u16(),
        });
        let details = match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name, .. } => Some(json!({
                "name": name, "group": resource.group, "kind": resource.plural,
            })),
            ApiError::Invalid {
                resource,
                name,
                causes,
            } => Some(json!({
                "name": name,
                "group": resource.group,
                "kind": resource.kind,
                "causes": causes.iter().map(|c| json!({
                    "reason": c.reason, "message": c.message, "field": c.field,
                })).collect::<Vec<_>>(),
            })),
            _ => None,
        };
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status_code().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (self.status_code(), axum::Json(self.to_status())).into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::{PODS, PROWJOBS};

    #[test]
    fn statuses_carry_kubernetes_codes_reasons_and_messages() {
        let cases = [
            (
                ApiError::NotFound {
                    resource: &PROWJOBS,
                    name: "pj1".into(),
                },
                404,
                "NotFound",
                "prowjobs.prow.k8s.io \"pj1\" not found",
            ),
            (
                ApiError::AlreadyExists {
                    resource: &PODS,
                    name: "p".into(),
                },
                409,
                "AlreadyExists",
                "pods \"p\" already exists",
            ),
            (
                ApiError::Invalid {
                    resource: &PROWJOBS,
                    name: "x".into(),
                    causes: vec![Cause {
                        reason: "FieldValueRequired",
                        message: "Required value".into(),
                        field: "spec.job".into(),
                    }],
                },
                422,
                "Invalid",
                "ProwJob.prow.k8s.io \"x\" is invalid: spec.job: Required value",
            ),
            (
                ApiError::RequestEntityTooLarge { limit: 3_145_728 },
                413,
                "RequestEntityTooLarge",
                "Request entity too large: limit is 3145728",
            ),
            (
                ApiError::PathNotFound,
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        ];
        for (err, code, reason, message) in cases {
            let status = err.to_status();
            assert_eq!(status["code"], code);
            assert_eq!(status["reason"], reason);
            assert_eq!(status["message"], message);
            assert_eq!(err.status_code().as_u16(), code);
        }
    }

    #[test]
    fn invalid_status_lists_each_cause_with_its_field() {
        let err = ApiError::Invalid {
            resource: &PROWJOBS,
            name: "x".into(),
            causes: vec![Cause {
                reason: "FieldValueNotSupported",
                message: "Unsupported value: \"bogus\"".into(),
                field: "spec.type".into(),
            }],
        };
        let status = err.to_status();
        assert_eq!(status["details"]["kind"], "ProwJob");
        assert_eq!(status["details"]["causes"][0]["field"], "spec.type");
    }
}
