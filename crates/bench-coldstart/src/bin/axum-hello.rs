//! The baseline of the cold-start and hook-throughput benchmarks: the least an axum function can
//! do, on the same runtime flavour and release profile as `prow serve <function>`.

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    tokio::runtime::Runtime::new()?.block_on(async {
        // `POST /hook` reads the whole body and answers 200: the trivial counterpart of hook in
        // bench/hook-throughput.sh. `/` accepts anything with 202: a CloudEvent sink for hook.
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/hook",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route("/", post(|| async { StatusCode::ACCEPTED }));
        let listener =
            tokio::net::TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(8080))).await?;
        axum::serve(listener, app).await
    })
}
