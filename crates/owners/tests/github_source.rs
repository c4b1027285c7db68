//! Loading owners at a SHA through the real GitHub client against a wiremock GitHub: one tree call, one contents call per OWNERS file, and a cache hit makes no call at all.
#![allow(clippy::unwrap_used)]
// Case tables are tuples of login slices; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]

use base64::Engine as _;
use std::collections::BTreeSet;
use std::sync::Arc;

use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_owners::{BuildOptions, LoadError, Owners, OwnersDirDenylist, OwnersLoader};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

/// An OWNERS tree with aliases, `no_parent_owners` and filters.
const FILES: &[(&str, &str)] = &[
    (
        "OWNERS",
        "approvers:\n- root-approvers\nreviewers:\n- carol\nlabels:\n- kind/everything\n",
    ),
    (
        "OWNERS_ALIASES",
        "aliases:\n  root-approvers:\n  - alice\n  - Bob\n  api-team:\n  - dave\n  - erin\n",
    ),
    ("api/OWNERS", "approvers:\n- api-team\n"),
    (
        "api/v1/OWNERS",
        "options:\n  no_parent_owners: true\napprovers:\n- frank\n",
    ),
    (
        "docs/OWNERS",
        "filters:\n  \".*\":\n    reviewers: [gina]\n  \"\\\\.md$\":\n    approvers: [hank]\n    labels: [kind/documentation]\n",
    ),
    // Vendored OWNERS are never read (Prow's built-in denylist): no contents call for it.
    ("vendor/github.com/x/OWNERS", "approvers: [mallory]\n"),
];

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn github_with_tree(server: &MockServer, truncated: bool) {
    let mut entries = vec![
        json!({"path": "api", "mode": "040000", "type": "tree", "sha": "1"}),
        json!({"path": "api/v1", "mode": "040000", "type": "tree", "sha": "2"}),
        json!({"path": "api/v1/types.go", "mode": "100644", "type": "blob", "sha": "3", "size": 10}),
        json!({"path": "README.md", "mode": "100644", "type": "blob", "sha": "4", "size": 10}),
    ];
    for (file, text) in FILES {
        entries.push(
            json!({"path": file, "mode": "100644", "type": "blob", "sha": "5", "size": text.len()}),
        );
    }
    Mock::given(method("GET"))
        .and(path(format!("/repos/acme/widgets/git/trees/{SHA}")))
        .and(query_param("recursive", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": SHA, "tree": entries, "truncated": truncated
        })))
        .expect(1)
        .mount(server)
        .await;
    for (file, text) in FILES {
        let wanted = !file.starts_with("vendor/");
        Mock::given(method("GET"))
            .and(path(format!("/repos/acme/widgets/contents/{file}")))
            .and(query_param("ref", SHA))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "type": "file", "encoding": "base64", "path": file,
                "content": base64(text.as_bytes())
            })))
            .expect(u64::from(wanted && !truncated))
            .mount(server)
            .await;
    }
}

fn github(server: &MockServer) -> Arc<dyn GitHub> {
    Arc::new(
        OctocrabGitHub::builder(server.uri())
            .credentials(Credentials::Token("t".to_owned()))
            .retry_policy(RetryPolicy::for_tests())
            .build()
            .unwrap(),
    )
}

fn options() -> BuildOptions {
    BuildOptions {
        dir_denylist: OwnersDirDenylist::default().ignored_dirs("acme", "widgets"),
        ..BuildOptions::default()
    }
}

fn set(logins: &[&str]) -> BTreeSet<String> {
    logins.iter().map(|l| (*l).to_owned()).collect()
}

#[tokio::test]
async fn owners_load_once_per_sha_and_give_prows_approvers_per_file() {
    let server = MockServer::start().await;
    github_with_tree(&server, false).await;
    let loader = OwnersLoader::new(github(&server), 4);

    let owners = loader
        .load("acme", "widgets", SHA, &options())
        .await
        .unwrap();
    assert!(owners.problems().is_empty(), "{:?}", owners.problems());
    // (file, owners dir, approvers, reviewers, labels)
    let cases: &[(&str, &str, &[&str], &[&str], &[&str])] = &[
        (
            "main.go",
            "",
            &["alice", "bob"],
            &["carol"],
            &["kind/everything"],
        ),
        (
            "api/server.go",
            "api",
            &["alice", "bob", "dave", "erin"],
            &["carol"],
            &["kind/everything"],
        ),
        (
            "api/v1/types.go",
            "api/v1",
            &["frank"],
            &["carol"],
            &["kind/everything"],
        ),
        (
            "docs/guide.md",
            "docs",
            &["alice", "bob", "hank"],
            &["carol", "gina"],
            &["kind/documentation", "kind/everything"],
        ),
        (
            "docs/diagram.svg",
            "",
            &["alice", "bob"],
            &["carol", "gina"],
            &["kind/everything"],
        ),
        (
            "vendor/github.com/x/y.go",
            "",
            &["alice", "bob"],
            &["carol"],
            &["kind/everything"],
        ),
    ];
    for (file, dir, approvers, reviewers, labels) in cases {
        assert_eq!(owners.find_approver_owners_for_file(file), *dir, "{file}");
        assert_eq!(owners.approvers(file).all(), set(approvers), "{file}");
        assert_eq!(owners.reviewers(file).all(), set(reviewers), "{file}");
        assert_eq!(owners.labels(file), set(labels), "{file}");
    }

    // The approve plugin's view of a pull request touching three of them.
    let pr = Owners::new(
        vec![
            "api/v1/types.go".into(),
            "api/server.go".into(),
            "docs/guide.md".into(),
        ],
        &owners,
    );
    assert_eq!(pr.owners_set(), set(&["api", "api/v1", "docs"]));

    // Same SHA: answered from the cache (every mock expects exactly one call).
    let again = loader
        .load("acme", "widgets", SHA, &options())
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&owners, &again));
    assert_eq!(loader.cached(), 1);
}

#[tokio::test]
async fn plugins_see_only_collaborators_unless_told_to_skip_them() {
    let server = MockServer::start().await;
    github_with_tree(&server, false).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/widgets/collaborators"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"login": "Alice", "id": 1}, {"login": "dave", "id": 2}, {"login": "carol", "id": 3}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let loader = OwnersLoader::new(github(&server), 4);
    let filtered = loader
        .load_for_plugins("acme", "widgets", SHA, &options(), false)
        .await
        .unwrap();
    assert_eq!(
        filtered.approvers("api/server.go").all(),
        set(&["alice", "dave"])
    );
    // frank is not a collaborator: api/v1 has no approver left, so its parents approve.
    assert_eq!(
        filtered.find_approver_owners_for_file("api/v1/types.go"),
        "api"
    );
    let trusted = loader
        .load_for_plugins("acme", "widgets", SHA, &options(), true)
        .await
        .unwrap();
    assert_eq!(trusted.approvers("api/v1/types.go").all(), set(&["frank"]));
}

#[tokio::test]
async fn a_truncated_tree_is_an_error_not_partial_owners() {
    let server = MockServer::start().await;
    github_with_tree(&server, true).await;
    let loader = OwnersLoader::new(github(&server), 4);
    let err = loader
        .load("acme", "widgets", SHA, &options())
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::TreeTruncated { .. }), "{err:?}");
    assert_eq!(loader.cached(), 0);
}

#[tokio::test]
async fn the_cache_forgets_the_least_recently_used_sha() {
    let files = [("OWNERS", "approvers: [alice]\n")];
    let dry = prow_github::DryRunGitHub::new()
        .with_files("acme", "widgets", "sha1", files)
        .with_files("acme", "widgets", "sha2", files)
        .with_files("acme", "widgets", "sha3", files);
    let dry = Arc::new(dry);
    let github: Arc<dyn GitHub> = dry.clone();
    let loader = OwnersLoader::new(github, 2);
    let opts = BuildOptions::default();
    for sha in ["sha1", "sha2", "sha1", "sha3", "sha1", "sha2"] {
        let owners = loader.load("acme", "widgets", sha, &opts).await.unwrap();
        assert_eq!(owners.top_level_approvers(), set(&["alice"]));
    }
    let trees: Vec<String> = dry
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            prow_github::Call::GetTree { sha, .. } => Some(sha),
            _ => None,
        })
        .collect();
    // sha1 stays (used again before sha3 came); sha2 was evicted by sha3 and reloaded.
    assert_eq!(trees, ["sha1", "sha2", "sha3", "sha2"]);
    assert_eq!(loader.cached(), 2);
}
