//! Black-box: with a token (as beyond loopback) the API server serves only kube clients that
//! send it; health probes stay anonymous, as on a real API server.
#![allow(clippy::unwrap_used)]

mod common;

use common::{api_status, prowjobs};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use prow_local::ApiServer;
use prow_local::auth::ApiToken;

fn client(url: &str, bearer: Option<&str>) -> kube::Client {
    let mut config = kube::Config::new(url.parse().unwrap());
    config.default_namespace = "default".into();
    if let Some(token) = bearer {
        config.headers.push((
            axum::http::header::AUTHORIZATION,
            axum::http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        ));
    }
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn only_clients_sending_the_token_are_served_and_probes_stay_open() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let token = ApiToken::new("tok-3f1c9a").unwrap();
    tokio::spawn(prow_local::serve_with_token(
        listener,
        ApiServer::in_memory().unwrap(),
        Some(token),
        std::future::pending(),
    ));

    let allowed = client(&url, Some("tok-3f1c9a"));
    let pods: Api<Pod> = Api::namespaced(allowed.clone(), "default");
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        prowjobs(&allowed, "default")
            .list(&ListParams::default())
            .await
            .is_ok()
    );

    for bearer in [None, Some("tok-3f1c9"), Some("wrong")] {
        let pods: Api<Pod> = Api::namespaced(client(&url, bearer), "default");
        let status = api_status(pods.list(&ListParams::default()).await.unwrap_err());
        assert_eq!(status.code, 401, "{bearer:?}");
        assert_eq!(status.reason, "Unauthorized", "{bearer:?}");
    }

    let anonymous = client(&url, None);
    for probe in ["/healthz", "/readyz", "/livez", "/version"] {
        let request = axum::http::Request::get(probe).body(Vec::new()).unwrap();
        assert!(anonymous.request_text(request).await.is_ok(), "{probe}");
    }
    let discovery = axum::http::Request::get("/api").body(Vec::new()).unwrap();
    assert!(anonymous.request_text(discovery).await.is_err());
}
