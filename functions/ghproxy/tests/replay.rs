//! Replays the reads trigger and the plugins make for 20 pull requests, twice, through the
//! proxy against a fake GitHub, and checks what the cache saved.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use prow_ghproxy::Options;
use prow_ghproxy::store::MemoryCacheStore;
use support::{FakeGitHub, LIMIT, replay, serve_proxy, workload};

#[tokio::test]
async fn replaying_twenty_prs_twice_answers_repeated_reads_with_free_304s() {
    let (github, fake) = FakeGitHub::start().await;
    let (base, _state) = serve_proxy(
        &github.uri(),
        Arc::new(MemoryCacheStore::new()),
        Options::default(),
    )
    .await;
    let calls = workload(20, 5);
    let report = replay(&base, &fake, &calls).await;
    println!("{}", report.render("20 PRs x 2 passes, always revalidate"));

    assert_eq!((report.reads, report.mutations), (280, 60));
    // First pass: each PR's own reads miss, and so do the first read of each of the 5
    // authors, of OWNERS and of the collaborators; everything else repeats a read.
    // Second pass: the PR and its labels changed (the size label), so those two per PR come
    // back CHANGED; files, comments, memberships, OWNERS, collaborators answer 304.
    let want: Vec<(String, u64)> = [
        ("CHANGED", 40),
        ("MISS", 87),
        ("REVALIDATED", 153),
        ("SKIP", 60),
    ]
    .into_iter()
    .map(|(m, n)| (m.to_owned(), n))
    .collect();
    assert_eq!(report.modes.into_iter().collect::<Vec<_>>(), want);
    assert_eq!(
        report.spent,
        87 + 40 + 60,
        "misses, changes and writes cost"
    );
    assert_eq!(
        fake.free(),
        153,
        "every revalidated read was a 304 upstream"
    );
    assert_eq!(report.saved, 153);
    assert_eq!(report.remaining, LIMIT - 187);
}

#[tokio::test]
async fn a_freshness_window_saves_the_round_trips_too_but_a_write_ends_it() {
    let (github, fake) = FakeGitHub::start().await;
    let options = Options {
        fresh_for: std::time::Duration::from_secs(3600),
        ..Options::default()
    };
    let (base, _state) =
        serve_proxy(&github.uri(), Arc::new(MemoryCacheStore::new()), options).await;
    let report = replay(&base, &fake, &workload(20, 5)).await;
    println!("{}", report.render("20 PRs x 2 passes, fresh for an hour"));
    // Same misses; the labels write invalidated each PR's object (PR, files, labels,
    // comments), so the second pass asks about those: two changed, two answer 304. The rest
    // is served without asking.
    assert_eq!(report.modes["MISS"], 87);
    assert_eq!(report.modes["CHANGED"], 40);
    assert_eq!(report.modes["REVALIDATED"], 40);
    assert_eq!(report.modes["FRESH"], 113);
    assert_eq!(
        report.spent, 187,
        "the budget is the same as revalidating everything"
    );
    assert_eq!(
        fake.requests() as u64,
        187 + 40,
        "but 113 round trips fewer"
    );
}
