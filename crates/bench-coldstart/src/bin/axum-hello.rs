//! The baseline of the cold-start benchmark: the least an axum function can do, on the same
//! runtime flavour and release profile as `prow serve <function>`.

use axum::Router;
use axum::routing::get;

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    tokio::runtime::Runtime::new()?.block_on(async {
        let app = Router::new().route("/healthz", get(|| async { "ok" }));
        let listener =
            tokio::net::TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(8080))).await?;
        axum::serve(listener, app).await
    })
}
