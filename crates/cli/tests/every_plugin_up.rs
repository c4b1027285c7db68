//! Every plugin the plugins function runs, replayed black-box through one `prow up`: real
//! webhook payloads (edited per case: comment, author, labels, files, commits) go in at hook
//! signed with its HMAC secret, the broker routes them to plugins, and each case asserts the
//! exact writes (method, path, body) a wiremock GitHub received for its delivery. Every plugin
//! is enabled for the repository, as a real installation does, so a case also proves the other
//! plugins stay quiet (or shows what they add). Cases are told apart by their issue number: a
//! case's PR has its number in hex as head SHA, its branch is `case-<n>`, its comments have ids
//! `n * 1000 + k`, so every write names its case.

mod common;

use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const REPO: &str = "/repos/Codertocat/Hello-World";
const SECRET: &[u8] = b"every-plugin-secret";
/// The base branch head (not a case number: it does not fit a u64).
const BASE_SHA: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

/// Org members and collaborators (`ann` is a repo admin); `mallory` and `newbie` are neither.
const MEMBERS: &[&str] = &["alice", "bob", "ann"];
/// Team slug -> members.
const TEAMS: &[(&str, &[&str])] = &[
    ("security-team", &["sec-lead"]),
    ("milestone-maintainers", &["alice"]),
    ("release-team", &["alice"]),
];
/// The labels the repository defines.
const REPO_LABELS: &[&str] = &[
    "kind/bug",
    "security",
    "lgtm",
    "approved",
    "do-not-merge/hold",
    "area/docs",
];
/// The repository's OWNERS at its base: alice approves, bob reviews; docs/ gets `area/docs`.
const OWNERS: &str = "approvers:\n- alice\nreviewers:\n- bob\n";
const DOCS_OWNERS: &str = "approvers:\n- alice\nreviewers:\n- bob\nlabels:\n- area/docs\n";

const PLUGINS_YAML: &str = r#"plugins:
  Codertocat/Hello-World:
    plugins:
    - approve
    - assign
    - blockade
    - blunderbuss
    - branchcleaner
    - dco
    - help
    - hold
    - invalidcommitmsg
    - label
    - lgtm
    - lifecycle
    - mergecommitblocker
    - milestone
    - milestoneapplier
    - override
    - owners-label
    - release-note
    - require-matching-label
    - retitle
    - shrug
    - size
    - skip
    - verify-owners
    - welcome
    - wip
label:
  restricted_labels:
    Codertocat/Hello-World:
    - label: security
      allowed_teams: [security-team]
blockades:
- repos: [Codertocat/Hello-World]
  blockregexps: ['^vendor/']
  explanation: vendor/ is updated by a bot
require_matching_label:
- org: Codertocat
  repo: Hello-World
  prs: true
  regexp: ^kind/
  missing_label: needs-kind
  grace_period: 0s
repo_milestone:
  Codertocat/Hello-World:
    maintainers_team: milestone-maintainers
milestone_applier:
  Codertocat/Hello-World:
    release-1.0: v1.0
override:
  allowed_github_teams:
    Codertocat/Hello-World: [release-team]
welcome:
- repos: [Codertocat/Hello-World]
  message_template: "Welcome @{{.AuthorLogin}} to {{.Org}}/{{.Repo}}!"
dco:
  Codertocat/Hello-World: {}
blunderbuss:
  request_count: 1
"#;

/// The one presubmit: optional, so `/skip` may mark its failure skipped; trigger is not
/// enabled, so nothing runs it.
const JOBS_YAML: &str = "presubmits:\n  Codertocat/Hello-World:\n  - name: pull-hello-optional\n    optional: true\n    spec:\n      containers:\n      - image: alpine\n        command: [\"true\"]\n";

/// What GitHub knows about one case's issue or PR beyond its webhook payload.
#[derive(Clone, Default)]
struct Item {
    /// The PR object GitHub answers `GET /pulls/<n>` with (the payload's); `None` for an issue.
    pull_request: Option<Value>,
    labels: Vec<&'static str>,
    /// `(login, body)`; ids are `n * 1000 + index`.
    comments: Vec<(&'static str, &'static str)>,
    /// `(filename, additions, deletions)`.
    files: Vec<(&'static str, u64, u64)>,
    /// `(message, parent count)`; the author is the PR's.
    commits: Vec<(&'static str, usize)>,
    /// `(context, state)` on the head.
    statuses: Vec<(&'static str, &'static str)>,
    /// `(path, text)` of files at the PR's head that differ from the base.
    head_files: Vec<(&'static str, &'static str)>,
}

/// The fake GitHub: answers every read from the cases' items and the constants above, accepts
/// every write. Anything it does not know is a 404 the test would see as a plugin failure.
struct FakeGitHub {
    items: BTreeMap<u64, Item>,
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn yes_or_no(yes: bool) -> ResponseTemplate {
    ResponseTemplate::new(if yes { 204 } else { 404 })
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn head_sha(n: u64) -> String {
    format!("{n:040x}")
}

fn comment_json(id: u64, login: &str, body: &str) -> Value {
    json!({
        "id": id, "user": {"login": login}, "body": body,
        "html_url": format!("https://github.com/Codertocat/Hello-World/pull/{}#issuecomment-{id}", id / 1000),
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"
    })
}

impl FakeGitHub {
    fn read(&self, p: &str, query: &BTreeMap<String, String>) -> ResponseTemplate {
        let team = |slug: &str| TEAMS.iter().find(|(t, _)| *t == slug).map(|(_, m)| *m);
        let seg: Vec<&str> = p.trim_start_matches('/').split('/').collect();
        match seg.as_slice() {
            ["user"] => ok(json!({"login": "prow-bot", "id": 1})),
            ["orgs", "Codertocat", "members", user] => yes_or_no(MEMBERS.contains(user)),
            ["orgs", "Codertocat", "teams", slug, "memberships", user] => {
                if team(slug).is_some_and(|m| m.contains(user)) {
                    ok(json!({"state": "active", "role": "member"}))
                } else {
                    ResponseTemplate::new(404)
                }
            }
            ["orgs", "Codertocat", "teams", slug, "members"] => ok(json!(
                team(slug)
                    .unwrap_or_default()
                    .iter()
                    .map(|l| json!({"login": l}))
                    .collect::<Vec<_>>()
            )),
            ["search", "issues"] => {
                // welcome asks for the author's PRs: those of the cases, plus #1 by Codertocat.
                let query = query.get("q").cloned().unwrap_or_default();
                let mut numbers: Vec<u64> = self
                    .items
                    .iter()
                    .filter(|(_, i)| {
                        i.pull_request.as_ref().is_some_and(|pr| {
                            pr["user"]["login"]
                                .as_str()
                                .is_some_and(|a| query.contains(&format!("author:{a}")))
                        })
                    })
                    .map(|(n, _)| *n)
                    .collect();
                if query.contains("author:Codertocat") {
                    numbers.push(1);
                }
                let items: Vec<Value> = numbers.iter().map(|n| json!({"number": n})).collect();
                ok(json!({"total_count": items.len(), "incomplete_results": false, "items": items}))
            }
            ["repos", "Codertocat", "Hello-World", rest @ ..] => self.repo_read(rest, query),
            _ => ResponseTemplate::new(404),
        }
    }

    fn repo_read(&self, rest: &[&str], query: &BTreeMap<String, String>) -> ResponseTemplate {
        let item = |n: &str| n.parse::<u64>().ok().and_then(|n| self.items.get(&n));
        match rest {
            ["collaborators", user] => yes_or_no(MEMBERS.contains(user)),
            ["collaborators", user, "permission"] => {
                let permission = match *user {
                    "ann" => "admin",
                    u if MEMBERS.contains(&u) => "write",
                    _ => "read",
                };
                ok(json!({"permission": permission, "user": {"login": user}}))
            }
            ["collaborators"] => ok(json!(
                MEMBERS
                    .iter()
                    .map(|l| json!({"login": l}))
                    .collect::<Vec<_>>()
            )),
            ["labels"] => ok(json!(
                REPO_LABELS
                    .iter()
                    .map(|l| json!({"name": l}))
                    .collect::<Vec<_>>()
            )),
            ["milestones"] => ok(json!([
                {"number": 7, "title": "v1.0", "state": "open"},
                {"number": 8, "title": "v2.0", "state": "open"}
            ])),
            ["issues", n, "labels"] => ok(json!(
                item(n)
                    .map(|i| i.labels.clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|l| json!({"name": l}))
                    .collect::<Vec<_>>()
            )),
            ["issues", n, "comments"] => {
                let number: u64 = n.parse().unwrap_or_default();
                ok(json!(
                    item(n)
                        .map(|i| i.comments.clone())
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(k, (login, body))| comment_json(
                            number * 1000 + k as u64,
                            login,
                            body
                        ))
                        .collect::<Vec<_>>()
                ))
            }
            ["pulls", n] => match item(n).and_then(|i| i.pull_request.clone()) {
                Some(pr) => ok(pr),
                None => ResponseTemplate::new(404),
            },
            ["pulls", n, "files"] => ok(json!(
                item(n)
                    .map(|i| i.files.clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|(f, a, d)| json!({
                        "filename": f, "status": "modified", "additions": a,
                        "deletions": d, "changes": a + d, "sha": "0"
                    }))
                    .collect::<Vec<_>>()
            )),
            ["pulls", n, "commits"] => {
                let Some(i) = item(n) else {
                    return ok(json!([]));
                };
                let author = i
                    .pull_request
                    .as_ref()
                    .and_then(|pr| pr["user"]["login"].as_str())
                    .unwrap_or("Codertocat")
                    .to_owned();
                ok(json!(
                    i.commits
                        .iter()
                        .enumerate()
                        .map(|(k, (message, parents))| json!({
                            "sha": format!("{:040x}", 0xc000 + k),
                            "commit": {
                                "message": message,
                                "author": {"name": author, "email": format!("{author}@example.com"), "date": "2024-01-01T00:00:00Z"},
                                "committer": {"name": author, "email": format!("{author}@example.com"), "date": "2024-01-01T00:00:00Z"}
                            },
                            "author": {"login": author},
                            "committer": {"login": author},
                            "parents": (0..*parents).map(|p| json!({"sha": format!("{p:040x}")})).collect::<Vec<_>>()
                        }))
                        .collect::<Vec<_>>()
                ))
            }
            ["pulls", _, "reviews"] => ok(json!([])),
            ["commits", sha, "status"] => {
                let statuses = case_of_sha(sha)
                    .and_then(|n| self.items.get(&n))
                    .map(|i| i.statuses.clone())
                    .unwrap_or_default();
                ok(json!({
                    "state": if statuses.is_empty() { "pending" } else { "failure" },
                    "sha": sha,
                    "total_count": statuses.len(),
                    "statuses": statuses.iter().map(|(c, s)| json!({"context": c, "state": s, "description": "", "target_url": ""})).collect::<Vec<_>>()
                }))
            }
            ["commits", _, "check-runs"] => ok(json!({"total_count": 0, "check_runs": []})),
            ["git", "trees", sha] => ok(json!({
                "sha": format!("tree-of-{sha}"),
                "truncated": false,
                "tree": [
                    {"path": "OWNERS", "type": "blob", "mode": "100644", "sha": "1"},
                    {"path": "docs", "type": "tree", "mode": "040000", "sha": "2"},
                    {"path": "docs/OWNERS", "type": "blob", "mode": "100644", "sha": "3"},
                    {"path": "README.md", "type": "blob", "mode": "100644", "sha": "4"}
                ]
            })),
            ["contents", path @ ..] => {
                let path = path.join("/");
                let at_head = query
                    .get("ref")
                    .and_then(|r| case_of_sha(r))
                    .and_then(|n| self.items.get(&n))
                    .and_then(|i| i.head_files.iter().find(|(p, _)| *p == path));
                let text = match (at_head, path.as_str()) {
                    (Some((_, text)), _) => *text,
                    (None, "OWNERS") => OWNERS,
                    (None, "docs/OWNERS") => DOCS_OWNERS,
                    _ => return ResponseTemplate::new(404),
                };
                ok(
                    json!({"type": "file", "encoding": "base64", "content": base64(text.as_bytes())}),
                )
            }
            ["git", "ref" | "refs", "heads", branch] => ok(json!({
                "ref": format!("refs/heads/{branch}"),
                "object": {"sha": BASE_SHA, "type": "commit"}
            })),
            // GitHub's words for an unprotected branch (a bare 404 means "may not read").
            ["branches", _, "protection", ..] => {
                ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not protected"}))
            }
            _ => ResponseTemplate::new(404),
        }
    }

    fn write(&self, verb: &str, p: &str) -> ResponseTemplate {
        let issue = |n: u64| {
            json!({"number": n, "state": "open", "title": "t", "user": {"login": "Codertocat"},
                   "html_url": format!("https://github.com/Codertocat/Hello-World/issues/{n}"),
                   "labels": [], "assignees": []})
        };
        let n = case_of(p).unwrap_or_default();
        let rest = p.strip_prefix(REPO).unwrap_or(p);
        match (verb, rest.trim_start_matches('/').split('/').next_back()) {
            ("POST", Some("comments")) => ResponseTemplate::new(201).set_body_json(comment_json(
                n * 1000 + 900,
                "prow-bot",
                "x",
            )),
            ("PATCH", _) if rest.starts_with("/issues/comments/") => {
                ok(comment_json(n * 1000 + 900, "prow-bot", "x"))
            }
            ("POST", Some("labels")) => ok(json!([])),
            ("POST", Some("assignees")) | ("PATCH", _) => {
                ResponseTemplate::new(if verb == "POST" { 201 } else { 200 })
                    .set_body_json(issue(n))
            }
            ("POST", Some("requested_reviewers")) => ResponseTemplate::new(201).set_body_json(
                self.items
                    .get(&n)
                    .and_then(|i| i.pull_request.clone())
                    .unwrap_or_else(|| issue(n)),
            ),
            ("POST", _) if rest.starts_with("/statuses/") => {
                ResponseTemplate::new(201).set_body_json(json!({"id": 1, "state": "success"}))
            }
            ("DELETE", _) if rest.contains("/labels/") => ok(json!([])),
            ("DELETE", _) if rest.contains("/assignees") => ok(issue(n)),
            ("DELETE", _) => ResponseTemplate::new(204),
            _ => ResponseTemplate::new(404),
        }
    }
}

impl wiremock::Respond for FakeGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let p = request.url.path();
        if request.method.as_str() == "GET" {
            self.read(p, &request.url.query_pairs().into_owned().collect())
        } else {
            self.write(request.method.as_str(), p)
        }
    }
}

/// The case a head SHA belongs to: `n` in hex, zero-padded.
fn case_of_sha(sha: &str) -> Option<u64> {
    (sha.len() == 40)
        .then(|| u64::from_str_radix(sha, 16).ok())
        .flatten()
}

/// The case a request path belongs to, by issue number, comment id, head SHA or branch.
fn case_of(p: &str) -> Option<u64> {
    let seg: Vec<&str> = p.split('/').collect();
    seg.windows(2).find_map(|w| match w {
        ["issues", "comments"] => None,
        ["comments", id] if p.contains("/issues/comments/") => {
            id.parse::<u64>().ok().map(|id| id / 1000)
        }
        ["issues" | "pulls", n] => n.parse().ok(),
        ["statuses" | "commits", sha] => case_of_sha(sha),
        ["heads", branch] => branch.strip_prefix("case-").and_then(|n| n.parse().ok()),
        _ => None,
    })
}

/// One delivery and the writes it must cause.
struct Case {
    name: &'static str,
    number: u64,
    event: &'static str,
    payload: Value,
    item: Item,
    expected: Vec<String>,
}

fn fixture(file: &str) -> Value {
    serde_json::from_slice(&prow_testdata::webhook(file)).expect("fixture")
}

/// The corpus PR, renumbered to `n` (head SHA and branch follow), by `author`.
fn pull_request(n: u64, author: &str, title: &str, body: &str) -> Value {
    let mut pr = fixture("pull_request.opened.json")["pull_request"].clone();
    pr["number"] = json!(n);
    pr["title"] = json!(title);
    pr["body"] = json!(body);
    pr["user"]["login"] = json!(author);
    pr["head"]["sha"] = json!(head_sha(n));
    pr["head"]["ref"] = json!(format!("case-{n}"));
    pr["base"]["sha"] = json!(BASE_SHA);
    pr["html_url"] = json!(format!(
        "https://github.com/Codertocat/Hello-World/pull/{n}"
    ));
    pr["labels"] = json!([]);
    pr
}

/// A `pull_request` webhook of `action` carrying `pr`.
fn pr_event(action: &str, pr: &Value) -> Value {
    let mut p = fixture("pull_request.opened.json");
    p["action"] = json!(action);
    p["number"] = pr["number"].clone();
    p["pull_request"] = pr.clone();
    p
}

/// `commenter` comments `body` on case `n`, a PR when `pr` holds one; the comment is the first
/// GitHub lists on it (id `n * 1000`).
fn comment_event(n: u64, pr: Option<&Value>, commenter: &str, body: &str) -> Value {
    let mut p = fixture("issue_comment.created.json");
    p["issue"]["number"] = json!(n);
    p["issue"]["labels"] = json!([]);
    p["issue"]["html_url"] = json!(issue_url(n));
    if let Some(pr) = pr {
        p["issue"]["pull_request"] =
            json!({"url": format!("https://api.github.com{REPO}/pulls/{n}")});
        p["issue"]["user"]["login"] = pr["user"]["login"].clone();
        p["issue"]["title"] = pr["title"].clone();
    }
    p["comment"]["id"] = json!(n * 1000);
    p["comment"]["user"]["login"] = json!(commenter);
    p["comment"]["body"] = json!(body);
    p["comment"]["html_url"] = json!(comment_url(n));
    p
}

fn issue_url(n: u64) -> String {
    format!("https://github.com/Codertocat/Hello-World/issues/{n}")
}

fn comment_url(n: u64) -> String {
    format!("{}#issuecomment-{}", issue_url(n), n * 1000)
}

/// A comment case: `who` says `body` on case `n` (a PR when `on_pr`).
fn comment_case(
    name: &'static str,
    n: u64,
    on_pr: bool,
    who: &'static str,
    body: &'static str,
    item: Item,
    expected: Vec<String>,
) -> Case {
    let pr = on_pr.then(|| {
        pull_request(
            n,
            "Codertocat",
            "Update README",
            "```release-note\nNONE\n```",
        )
    });
    let mut comments = vec![(who, body)];
    comments.extend(item.comments.iter().copied());
    Case {
        name,
        number: n,
        event: "issue_comment",
        payload: comment_event(n, pr.as_ref(), who, body),
        item: Item {
            pull_request: pr,
            comments,
            ..item
        },
        expected,
    }
}

/// A `pull_request` case: `action` on case `n`'s PR by `author`, edited by `edit`.
#[allow(clippy::too_many_arguments)]
fn pr_case(
    name: &'static str,
    n: u64,
    action: &str,
    author: &str,
    title: &str,
    body: &str,
    edit: impl Fn(&mut Value),
    item: Item,
    expected: Vec<String>,
) -> Case {
    let mut pr = pull_request(n, author, title, body);
    edit(&mut pr);
    Case {
        name,
        number: n,
        event: "pull_request",
        payload: pr_event(action, &pr),
        item: Item {
            pull_request: Some(pr),
            ..item
        },
        expected,
    }
}

/// Prow's footer under every reply.
const ABOUT: &str = "Instructions for interacting with me using PR comments are available [here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or suggestions related to my behavior, please file an issue against the [kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository.";

fn comment(n: u64, body: &str) -> String {
    format!(
        "POST {REPO}/issues/{n}/comments {}",
        json!({ "body": body })
    )
}

/// Prow's reply to `who`'s comment `said` at `url`.
fn reply(n: u64, who: &str, said: &str, url: &str, message: &str) -> String {
    let quoted: Vec<String> = said.lines().map(|l| format!(">{l}")).collect();
    comment(
        n,
        &format!(
            "@{who}: {message}\n<details>\nIn response to [this]({url}):\n{}\n\n{ABOUT}\n</details>",
            quoted.join("\n")
        ),
    )
}

fn label(n: u64, name: &str) -> String {
    format!(
        "POST {REPO}/issues/{n}/labels {}",
        json!({ "labels": [name] })
    )
}

/// `encoded`: the label as its path segment.
fn unlabel(n: u64, encoded: &str) -> String {
    format!("DELETE {REPO}/issues/{n}/labels/{encoded}")
}

fn cases() -> Vec<Case> {
    let none = Item::default;
    let failed = |context| Item {
        statuses: vec![(context, "failure")],
        ..Item::default()
    };
    vec![
        comment_case(
            "label: a restricted label by a non-member is refused, no label call",
            101,
            false,
            "mallory",
            "/label security",
            none(),
            vec![reply(
                101,
                "mallory",
                "/label security",
                &comment_url(101),
                "The label(s) `security` cannot be applied or removed, because you are not in one of the allowed teams and are not an allowed user. Must be a member of one of these teams: security-team",
            )],
        ),
        comment_case(
            "label: a label the repo lacks is never created",
            102,
            false,
            "alice",
            "/kind bug\n/kind nope",
            none(),
            vec![
                label(102, "kind/bug"),
                reply(
                    102,
                    "alice",
                    "/kind bug\n/kind nope",
                    &comment_url(102),
                    "The label(s) `kind/nope` cannot be applied, because the repository doesn't have them.",
                ),
            ],
        ),
        comment_case(
            "hold: anyone may hold",
            103,
            true,
            "mallory",
            "/hold",
            none(),
            vec![label(103, "do-not-merge/hold")],
        ),
        comment_case(
            "override: a non-admin outside the allowed teams is refused",
            104,
            true,
            "mallory",
            "/override ci/external",
            failed("ci/external"),
            vec![reply(
                104,
                "mallory",
                "/override ci/external",
                &comment_url(104),
                "mallory unauthorized: /override is restricted to Repo administrators, and the following github teams:Codertocat/Hello-World: release-team.",
            )],
        ),
        comment_case(
            "override: a repo admin overrides a failed context",
            105,
            true,
            "ann",
            "/override ci/external",
            failed("ci/external"),
            vec![
                // Prow's description: the overrider, padded so that the base SHA ends it.
                format!(
                    "POST {REPO}/statuses/{} {}",
                    head_sha(105),
                    json!({
                        "context": "ci/external",
                        "description": format!("Overridden by ann{} BaseSHA:{BASE_SHA}", "\u{2001}".repeat(19)),
                        "state": "success"
                    })
                ),
                reply(
                    105,
                    "ann",
                    "/override ci/external",
                    &comment_url(105),
                    "Overrode contexts on behalf of ann: ci/external",
                ),
            ],
        ),
        comment_case(
            "lifecycle: /lifecycle frozen",
            106,
            false,
            "alice",
            "/lifecycle frozen",
            none(),
            vec![label(106, "lifecycle/frozen")],
        ),
        comment_case(
            "lifecycle: /close by a collaborator",
            107,
            false,
            "alice",
            "/close",
            none(),
            vec![
                format!(
                    "PATCH {REPO}/issues/107 {{\"state\":\"closed\",\"state_reason\":\"completed\"}}"
                ),
                reply(
                    107,
                    "alice",
                    "/close",
                    &comment_url(107),
                    "Closing this issue.",
                ),
            ],
        ),
        comment_case(
            "help: /help by anyone",
            108,
            false,
            "mallory",
            "/help",
            none(),
            vec![
                // Prow answers help on the issue's URL, not the comment's.
                reply(
                    108,
                    "mallory",
                    "/help",
                    &issue_url(108),
                    "\n\tThis request has been marked as needing help from a contributor.\n\nPlease ensure the request meets the requirements listed [here](https://git.k8s.io/community/contributors/guide/help-wanted.md).\n\nIf this request no longer meets these requirements, the label can be removed\nby commenting with the `/remove-help` command.\n",
                ),
                label(108, "help wanted"),
            ],
        ),
        comment_case(
            "retitle: /retitle by an org member",
            109,
            true,
            "alice",
            "/retitle Clearer title",
            none(),
            vec![format!(
                "PATCH {REPO}/issues/109 {{\"title\":\"Clearer title\"}}"
            )],
        ),
        comment_case(
            "shrug: /shrug",
            110,
            false,
            "mallory",
            "/shrug",
            none(),
            vec![label(110, "¯\\_(ツ)_/¯")],
        ),
        comment_case(
            "skip: /skip marks a failed optional job skipped",
            111,
            true,
            "mallory",
            "/skip",
            failed("pull-hello-optional"),
            vec![format!(
                "POST {REPO}/statuses/{} {{\"context\":\"pull-hello-optional\",\"description\":\"Skipped\",\"state\":\"success\"}}",
                head_sha(111)
            )],
        ),
        comment_case(
            "milestone: /milestone by a maintainer",
            112,
            false,
            "alice",
            "/milestone v1.0",
            none(),
            vec![format!("PATCH {REPO}/issues/112 {{\"milestone\":7}}")],
        ),
        comment_case(
            "milestone: /milestone by anyone else is refused",
            113,
            false,
            "mallory",
            "/milestone v1.0",
            none(),
            vec![reply(
                113,
                "mallory",
                "/milestone v1.0",
                &comment_url(113),
                "You must be a member of the [Codertocat/milestone-maintainers](https://github.com/orgs/Codertocat/teams/milestone-maintainers/members) GitHub team to set the milestone. If you believe you should be able to issue the /milestone command, please contact your  and have them propose you as an additional delegate for this responsibility.",
            )],
        ),
        comment_case(
            "lgtm: /lgtm by a collaborator assigns them and labels",
            114,
            true,
            "alice",
            "/lgtm",
            none(),
            vec![
                format!("POST {REPO}/issues/114/assignees {{\"assignees\":[\"alice\"]}}"),
                label(114, "lgtm"),
            ],
        ),
        comment_case(
            "approve: /approve by an approver",
            115,
            true,
            "alice",
            "/approve",
            Item {
                files: vec![("README.md", 1, 0)],
                ..Item::default()
            },
            vec![
                comment(
                    115,
                    "[APPROVALNOTIFIER] This PR is **APPROVED**\n\nThis pull-request has been approved by: *<a href=\"https://github.com/Codertocat/Hello-World/pull/115#issuecomment-115000\" title=\"Approved\">alice</a>*, *<a href=\"https://github.com/Codertocat/Hello-World/pull/115#\" title=\"Author self-approved\">Codertocat</a>*\n\nThe full list of commands accepted by this bot can be found [here](https://go.k8s.io/bot-commands?repo=Codertocat%2FHello-World).\n\nThe pull request process is described [here]()\n\n<details >\nNeeds approval from an approver in each of these files:\n\n- ~~[OWNERS](https://github.com/Codertocat/Hello-World/blob/master/OWNERS)~~ [alice]\n\nApprovers can indicate their approval by writing `/approve` in a comment\nApprovers can cancel approval by writing `/approve cancel` in a comment\n</details>\n<!-- META={\"approvers\":[]} -->",
                ),
                label(115, "approved"),
            ],
        ),
        comment_case(
            "release-note: /release-note-none by an org member",
            116,
            true,
            "alice",
            "/release-note-none",
            none(),
            vec![label(116, "release-note-none")],
        ),
        comment_case(
            "assign: /cc asks for a review",
            117,
            true,
            "alice",
            "/cc @bob",
            none(),
            vec![format!(
                "POST {REPO}/pulls/117/requested_reviewers {{\"reviewers\":[\"bob\"],\"team_reviewers\":[]}}"
            )],
        ),
        comment_case(
            "label: /remove-kind takes off a label the issue has",
            118,
            false,
            "alice",
            "/remove-kind bug",
            Item {
                labels: vec!["kind/bug"],
                ..Item::default()
            },
            vec![unlabel(118, "kind%2Fbug")],
        ),
        comment_case(
            "lgtm: /lgtm cancel by a collaborator takes the label off",
            119,
            true,
            "alice",
            "/lgtm cancel",
            Item {
                labels: vec!["lgtm"],
                ..Item::default()
            },
            vec![
                // As Prow: whoever changes LGTM and is not assigned is assigned first.
                format!("POST {REPO}/issues/119/assignees {{\"assignees\":[\"alice\"]}}"),
                unlabel(119, "lgtm"),
            ],
        ),
        comment_case(
            "help: /good-first-issue labels it and help wanted too",
            120,
            false,
            "mallory",
            "/good-first-issue",
            none(),
            vec![
                reply(
                    120,
                    "mallory",
                    "/good-first-issue",
                    &issue_url(120),
                    "\n\tThis request has been marked as suitable for new contributors.\n\nPlease ensure the request meets the requirements listed [here](https://git.k8s.io/community/contributors/guide/help-wanted.md#good-first-issue).\n\nIf this request no longer meets these requirements, the label can be removed\nby commenting with the `/remove-good-first-issue` command.\n",
                ),
                label(120, "good first issue"),
                label(120, "help wanted"),
            ],
        ),
        // PR events: every plugin with something to say about the PR speaks. Labels already
        // there keep the plugins that would add them quiet.
        pr_case(
            "size, blockade, invalidcommitmsg, mergecommitblocker, dco, verify-owners, lgtm, approve on a push",
            201,
            "synchronize",
            "Codertocat",
            "Update vendor",
            "```release-note\nNONE\n```",
            |_| {},
            Item {
                labels: QUIET.to_vec(),
                files: vec![("vendor/lib.go", 40, 2), ("OWNERS", 1, 0)],
                commits: vec![
                    ("Merge branch 'master' into case-201", 2),
                    ("Fixes #1 @alice", 1),
                ],
                head_files: vec![("OWNERS", "approvers: [alice\n")],
                ..Item::default()
            },
            vec![
                // approve: the author alone does not approve; the stale label goes.
                comment(201, &not_approved(201, "Codertocat", "OWNERS")),
                unlabel(201, "approved"),
                // blockade
                label(201, "do-not-merge/blocked-paths"),
                comment(
                    201,
                    &format!(
                        "@Codertocat: Adding label: `do-not-merge/blocked-paths` because PR changes a protected file.\n<details>\n#### Reasons for blocking this PR:\n[vendor/ is updated by a bot]\n- [vendor/lib.go](https://github.com/Codertocat/Hello-World/blob/{}/vendor/lib.go)\n\n\n{ABOUT}\n</details>",
                        head_sha(201)
                    ),
                ),
                // dco: the merge commit needs no sign-off, the other lacks one.
                label(201, "dco-signoff: no"),
                unlabel(201, "dco-signoff%3A%20yes"),
                format!(
                    "POST {REPO}/statuses/{} {{\"context\":\"dco\",\"description\":\"Commits in PR missing Signed-off-by\",\"state\":\"failure\",\"target_url\":\"https://github.com/Codertocat/Hello-World/blob/master/CONTRIBUTING.md\"}}",
                    head_sha(201)
                ),
                comment(
                    201,
                    &format!(
                        "Thanks for your pull request. Before we can look at it, you'll need to add a 'DCO signoff' to your commits.\n\n:memo: **Please follow instructions in the [contributing guide](https://github.com/Codertocat/Hello-World/blob/master/CONTRIBUTING.md) to update your commits with the DCO**\n\nFull details of the Developer Certificate of Origin can be found at [developercertificate.org](https://developercertificate.org/).\n\n**The list of commits missing DCO signoff**:\n\n- [0000000](https://github.com/Codertocat/Hello-World/commits/{COMMIT_2}) Fixes #1 @alice\n\n<details>\n\n{ABOUT} {COMMANDS}\n</details>\n"
                    ),
                ),
                // invalidcommitmsg
                label(201, "do-not-merge/invalid-commit-message"),
                comment(
                    201,
                    &format!(
                        "<!-- [prow:invalid-commit-message] -->\n\nInvalid commit message issues detected\n\n### Invalid commit messages\n\n[Keywords](https://help.github.com/articles/closing-issues-using-keywords) which can automatically close issues and hashtag(#) mentions are not allowed.\n\n- [0000000](https://github.com/Codertocat/Hello-World/commits/{COMMIT_2}) Fixes #1 @alice\n\n{ABOUT} {COMMANDS}"
                    ),
                ),
                // lgtm: a push drops it
                unlabel(201, "lgtm"),
                comment(
                    201,
                    "New changes are detected. LGTM label has been removed.",
                ),
                // mergecommitblocker
                label(201, "do-not-merge/contains-merge-commits"),
                comment(
                    201,
                    &format!(
                        "Adding label `do-not-merge/contains-merge-commits` because PR contains merge commits, which are not allowed in this repository.\nUse `git rebase` to reapply your commits on top of the target branch. Detailed instructions for doing so can be found [here](https://git.k8s.io/community/contributors/guide/github-workflow.md#4-keep-your-branch-in-sync).\n\n<details>\n\n{ABOUT}\n</details>"
                    ),
                ),
                // size: 43 changed lines
                unlabel(201, "size%2FXS"),
                label(201, "size/M"),
                // verify-owners: the OWNERS at the head does not parse
                label(201, "do-not-merge/invalid-owners-file"),
                comment(
                    201,
                    &format!(
                        "@Codertocat: 1 invalid OWNERS file:\n- [OWNERS:2](https://github.com/Codertocat/Hello-World/blob/{}/OWNERS#L2): Cannot parse file: while parsing a flow sequence, expected ',' or ']'.\n<details>\nIn response to [this](https://github.com/Codertocat/Hello-World/pull/201):\n>```release-note\n>NONE\n>```\n\n{ABOUT}\n</details>",
                        head_sha(201)
                    ),
                ),
            ],
        ),
        pr_case(
            "welcome, require-matching-label, release-note, blunderbuss, owners-label, size, dco, approve on a first PR",
            202,
            "opened",
            "newbie",
            "Update docs",
            "",
            |_| {},
            Item {
                files: vec![("docs/guide.md", 3, 1)],
                commits: vec![(SIGNED, 1)],
                ..Item::default()
            },
            vec![
                comment(202, &not_approved(202, "newbie", "docs/OWNERS")),
                // blunderbuss: one reviewer from the OWNERS of the changed files
                format!(
                    "POST {REPO}/pulls/202/requested_reviewers {{\"reviewers\":[\"bob\"],\"team_reviewers\":[]}}"
                ),
                label(202, "dco-signoff: yes"),
                format!(
                    "POST {REPO}/statuses/{} {{\"context\":\"dco\",\"description\":\"All commits have Signed-off-by\",\"state\":\"success\",\"target_url\":\"https://github.com/Codertocat/Hello-World/blob/master/CONTRIBUTING.md\"}}",
                    head_sha(202)
                ),
                // owners-label: docs/OWNERS names area/docs
                label(202, "area/docs"),
                comment(
                    202,
                    &format!(
                        "Adding the \"do-not-merge/release-note-label-needed\" label because no release-note block was detected, please follow our [release note process](https://git.k8s.io/community/contributors/guide/release-notes.md) to remove it.\n\n<details>\n\n{ABOUT}\n</details>"
                    ),
                ),
                label(202, "do-not-merge/release-note-label-needed"),
                label(202, "needs-kind"),
                label(202, "size/XS"),
                comment(202, "Welcome @newbie to Codertocat/Hello-World!"),
            ],
        ),
        pr_case(
            "wip on a retitled PR",
            203,
            "edited",
            "Codertocat",
            "WIP: owners",
            "```release-note\nNONE\n```",
            |_| {},
            Item {
                labels: QUIET.to_vec(),
                ..Item::default()
            },
            vec![label(203, "do-not-merge/work-in-progress")],
        ),
        pr_case(
            "milestoneapplier and branchcleaner on a merged PR",
            204,
            "closed",
            "Codertocat",
            "Backport",
            "```release-note\nNONE\n```",
            |pr| {
                pr["state"] = json!("closed");
                pr["merged"] = json!(true);
                pr["base"]["ref"] = json!("release-1.0");
            },
            Item {
                labels: QUIET.to_vec(),
                ..Item::default()
            },
            vec![
                format!("DELETE {REPO}/git/refs/heads/case-204"),
                format!("PATCH {REPO}/issues/204 {{\"milestone\":7}}"),
            ],
        ),
        // Last, so that no earlier case's late or repeated write goes unseen.
        comment_case(
            "hold: the last delivery",
            299,
            true,
            "bob",
            "/hold",
            none(),
            vec![label(299, "do-not-merge/hold")],
        ),
    ]
}

/// Labels that keep kind, release-note, size, dco, approve and lgtm from adding theirs.
const QUIET: &[&str] = &[
    "kind/bug",
    "release-note-none",
    "size/XS",
    "dco-signoff: yes",
    "approved",
    "lgtm",
];
/// The second commit's SHA in the fake's listing.
const COMMIT_2: &str = "000000000000000000000000000000000000c001";
const COMMANDS: &str =
    "I understand the commands that are listed [here](https://go.k8s.io/bot-commands).";

/// approve's notification on a PR only its `author` approved, needing alice in `owners`.
fn not_approved(n: u64, author: &str, owners: &str) -> String {
    format!(
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: *<a href=\"https://github.com/Codertocat/Hello-World/pull/{n}#\" title=\"Author self-approved\">{author}</a>*\n**Once this PR has been reviewed and has the lgtm label**, please assign [alice](https://github.com/alice) for approval. For more information see [the Code Review Process]().\n\nThe full list of commands accepted by this bot can be found [here](https://go.k8s.io/bot-commands?repo=Codertocat%2FHello-World).\n\n<details open>\nNeeds approval from an approver in each of these files:\n\n- **[{owners}](https://github.com/Codertocat/Hello-World/blob/master/{owners})**\n\nApprovers can indicate their approval by writing `/approve` in a comment\nApprovers can cancel approval by writing `/approve cancel` in a comment\n</details>\n<!-- META={{\"approvers\":[\"alice\"]}} -->"
    )
}

const SIGNED: &str = "Update docs\n\nSigned-off-by: newbie <newbie@example.com>";

fn start_up(dir: &Path, github_url: &str) -> (common::Up, Value) {
    let config = dir.join("config");
    common::write(
        &config.join("config.yaml"),
        "prowjob_namespace: prow\npod_namespace: prow\n",
    );
    common::write(&config.join("jobs/hello.yaml"), JOBS_YAML);
    common::write(&config.join("plugins.yaml"), PLUGINS_YAML);
    common::start_up(
        dir,
        &common::UpOptions {
            github: Some(github_url),
            hmac_secret: Some(SECRET),
            ..common::UpOptions::default()
        },
    )
}

async fn deliver(hook: &str, event: &str, delivery: &str, payload: &Value) {
    let body = serde_json::to_vec(payload).expect("payload");
    let response = reqwest::Client::new()
        .post(hook)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header("X-Hub-Signature-256", common::sign(SECRET, &body))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Every write GitHub received so far, as `METHOD path body`, by case.
async fn writes(gh: &MockServer) -> BTreeMap<u64, Vec<String>> {
    let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for r in gh.received_requests().await.unwrap_or_default() {
        if r.method.as_str() == "GET" {
            continue;
        }
        let line = format!(
            "{} {} {}",
            r.method,
            r.url.path(),
            String::from_utf8_lossy(&r.body)
        );
        out.entry(case_of(r.url.path()).unwrap_or(0))
            .or_default()
            .push(line.trim_end().to_owned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plugin_makes_exactly_its_github_calls_through_prow_up() {
    prow_kube::install_crypto_provider();
    let cases = cases();
    let gh = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(FakeGitHub {
            items: cases.iter().map(|c| (c.number, c.item.clone())).collect(),
        })
        .mount(&gh)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, endpoints) = start_up(dir.path(), &gh.uri());
    let hook = endpoints["hook"].as_str().expect("hook url").to_owned();
    let started = std::time::Instant::now();
    for case in &cases {
        deliver(
            &hook,
            case.event,
            &format!("case-{}", case.number),
            &case.payload,
        )
        .await;
        // Until the case's writes are all in (more, or different ones, fail below).
        let gh = &gh;
        common::wait_for(
            &format!("#{} ({}): {:#?}", case.number, case.name, case.expected),
            Duration::from_secs(30),
            async || {
                let got = writes(gh).await.remove(&case.number).unwrap_or_default();
                (got.len() >= case.expected.len()).then_some(())
            },
        )
        .await;
    }
    eprintln!(
        "{} deliveries replayed in {:?}",
        cases.len(),
        started.elapsed()
    );
    // Now that the last case's writes are in, no earlier case may have gained one.
    let all = writes(&gh).await;
    let mut mismatches = Vec::new();
    for case in &cases {
        let got = all.get(&case.number).cloned().unwrap_or_default();
        if got != case.expected {
            mismatches.push(format!(
                "{} (#{}):\n  want {:#?}\n  got  {got:#?}",
                case.name, case.number, case.expected
            ));
        }
    }
    if let Some(stray) = all.get(&0) {
        mismatches.push(format!("writes of no case: {stray:#?}"));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A plugin added to the function's registry fails this until the replay enables it and a
/// case names it.
#[test]
fn the_replay_enables_and_names_every_plugin_the_function_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write(&dir.path().join("config.yaml"), "prowjob_namespace: prow\n");
    common::write(&dir.path().join("plugins.yaml"), PLUGINS_YAML);
    let config = prow_core::config::load(&prow_core::config::LoadOptions {
        config_path: dir.path().join("config.yaml"),
        job_config_path: None,
        plugin_config_path: Some(dir.path().join("plugins.yaml")),
    })
    .expect("config")
    .config;
    let enabled: Vec<&str> =
        prow_plugins::registry::enabled(&config.plugins, "Codertocat", "Hello-World")
            .iter()
            .map(|p| p.name())
            .collect();
    let runs: Vec<&str> = prow_plugins::registry::all()
        .iter()
        .map(|p| p.name())
        .filter(|name| *name != "trigger")
        .collect();
    assert_eq!(enabled, runs);
    let named: Vec<&str> = cases()
        .iter()
        .flat_map(|c| c.name.split([',', ':', ' ']))
        .collect();
    let unnamed: Vec<&&str> = runs.iter().filter(|p| !named.contains(p)).collect();
    assert!(unnamed.is_empty(), "no case names {unnamed:?}");
}
