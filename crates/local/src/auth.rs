//! Bearer-token authentication of the embedded API server, required whenever it listens beyond
//! loopback: there it is reachable by others, and the API holds every job and can run pods.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The token clients must send as `Authorization: Bearer <token>`. `Debug` never shows it.
#[derive(Clone)]
pub struct ApiToken(Arc<str>);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Why the server may not start as asked.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "the API server would listen on {0}, beyond loopback, without a token: give it a token file"
    )]
    TokenRequired(SocketAddr),
    #[error("reading API token file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("API token file {0} is empty")]
    Empty(String),
}

impl ApiToken {
    /// A token as given; leading and trailing whitespace is not part of it.
    pub fn new(token: &str) -> Result<Self, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Empty("(given)".to_owned()));
        }
        Ok(ApiToken(Arc::from(token)))
    }

    /// Reads the token from a secret file (one line).
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.display().to_string(),
            source,
        })?;
        ApiToken::new(&text).map_err(|_| AuthError::Empty(path.display().to_string()))
    }

    /// The secret itself, for a client's `Authorization` header or a kubeconfig.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `header` (the whole `Authorization` value) carries this token; compared in
    /// constant time so the answer's timing does not reveal how much of a guess was right.
    fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let want = self.0.as_bytes();
        let mut differ = u8::from(given.len() != want.len());
        for (i, byte) in want.iter().enumerate() {
            differ |= byte ^ given.get(i).copied().unwrap_or(!byte);
        }
        differ == 0
    }
}

/// The rule `prow up` and `prow-apiserver` follow: loopback may go without a token, any other
/// address needs one.
pub fn check_listen(addr: SocketAddr, token: Option<&ApiToken>) -> Result<(), AuthError> {
    match token {
        None if !addr.ip().is_loopback() => Err(AuthError::TokenRequired(addr)),
        _ => Ok(()),
    }
}

/// Health probes that a real API server also answers anonymously.
const ANONYMOUS: [&str; 4] = ["/healthz", "/livez", "/readyz", "/version"];

/// `router` with every request but the health probes answered 401 (a Kubernetes `Status`,
/// as kubectl expects) unless it carries `token`.
pub fn require_token(router: Router, token: ApiToken) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let token = token.clone();
            async move {
                let anonymous = ANONYMOUS.contains(&request.uri().path());
                let presented = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .map(|v| v.as_bytes());
                if anonymous || token.accepts(presented) {
                    next.run(request).await
                } else {
                    unauthorized()
                }
            }
        },
    ))
}

fn unauthorized() -> Response {
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401
    });
    (StatusCode::UNAUTHORIZED, axum::Json(status)).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let token = ApiToken::new("s3cret\n").unwrap();
        let cases: [(Option<&[u8]>, bool); 7] = [
            (Some(b"Bearer s3cret"), true),
            (None, false),
            (Some(b"s3cret"), false),
            (Some(b"Bearer s3cre"), false),
            (Some(b"Bearer s3cretX"), false),
            (Some(b"Bearer "), false),
            (Some(b"Basic s3cret"), false),
        ];
        for (header, accepted) in cases {
            assert_eq!(token.accepts(header), accepted, "{header:?}");
        }
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn beyond_loopback_a_token_is_required() {
        let token = ApiToken::new("t").unwrap();
        let loopback: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let v6_loopback: SocketAddr = "[::1]:8081".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8081".parse().unwrap();
        assert!(check_listen(loopback, None).is_ok());
        assert!(check_listen(v6_loopback, None).is_ok());
        assert!(matches!(
            check_listen(any, None),
            Err(AuthError::TokenRequired(_))
        ));
        assert!(check_listen(any, Some(&token)).is_ok());
    }
}
