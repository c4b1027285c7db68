//! Prints the cache's hit rate and the rate limit it saves on a replay of trigger+plugins
//! reads for 20 and 200 pull requests, each delivered twice, against a fake GitHub:
//! `cargo bench -p prow-ghproxy --bench replay`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use prow_ghproxy::Options;
use prow_ghproxy::store::MemoryCacheStore;

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for (prs, fresh_for) in [(20, 0), (200, 0), (200, 3600)] {
            let (github, fake) = support::FakeGitHub::start().await;
            let options = Options {
                fresh_for: Duration::from_secs(fresh_for),
                ..Options::default()
            };
            let (base, _state) =
                support::serve_proxy(&github.uri(), Arc::new(MemoryCacheStore::new()), options)
                    .await;
            let started = std::time::Instant::now();
            let report = support::replay(&base, &fake, &support::workload(prs, 5)).await;
            let policy = if fresh_for == 0 {
                "always revalidate".to_owned()
            } else {
                format!("fresh for {fresh_for}s")
            };
            println!(
                "{} in {:?}; {} requests reached GitHub",
                report.render(&format!("{prs} PRs x 2 passes, {policy}")),
                started.elapsed(),
                fake.requests()
            );
        }
    });
}
