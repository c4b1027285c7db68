//! Black-box: ProwJob CloudEvents over HTTP to a served crier, ProwJobs in the embedded API
//! server, GitHub as wiremock speaking GitHub's JSON, artifacts in a directory and fake-gcs-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prow_artifacts::counterparts::FakeGcs;
use prow_artifacts::{ArtifactStore, Finished, LocalStore, Started};
use prow_core::config::Config;
use prow_core::prowjob::{
    DecorationConfig, GcsConfiguration, ProwJob, ProwJobState, ProwJobType, Pull, Refs,
};
use prow_crier::CrierState;
use prow_github::{Credentials, GitHub, OctocrabGitHub, RetryPolicy};
use prow_kube::ProwJobs;
use prow_kube::test_support::LocalApi;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const NAMESPACE: &str = "prow-jobs";
const BOT: &str = "prow-bot";

/// The pull request of a real webhook payload.
struct Pr {
    org: String,
    repo: String,
    number: u64,
    author: String,
    sha: String,
    base_ref: String,
    base_sha: String,
}

fn corpus_pr() -> Pr {
    let payload: Value =
        serde_json::from_slice(&prow_testdata::webhook("pull_request.opened.json")).unwrap();
    let pr = &payload["pull_request"];
    Pr {
        org: payload["repository"]["owner"]["login"]
            .as_str()
            .unwrap()
            .into(),
        repo: payload["repository"]["name"].as_str().unwrap().into(),
        number: pr["number"].as_u64().unwrap(),
        author: pr["user"]["login"].as_str().unwrap().into(),
        sha: pr["head"]["sha"].as_str().unwrap().into(),
        base_ref: pr["base"]["ref"].as_str().unwrap().into(),
        base_sha: pr["base"]["sha"].as_str().unwrap().into(),
    }
}

fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn presubmit(pr: &Pr, job: &str, build_id: &str) -> ProwJob {
    let mut refs = Refs::new(&pr.org, &pr.repo);
    refs.base_ref = pr.base_ref.clone();
    refs.base_sha = pr.base_sha.clone();
    refs.pulls.push(Pull::new(pr.number, &pr.author, &pr.sha));
    let mut pj = ProwJob::builder(job, ProwJobType::Presubmit)
        .name(format!("{job}-{build_id}"))
        .namespace(NAMESPACE)
        .refs(refs)
        .context(job)
        .report(true)
        .rerun_command(format!("/test {job}"))
        // The labels trigger puts on every presubmit it creates.
        .label("prow.k8s.io/is-optional", "false")
        .label("prow.k8s.io/refs.org", &pr.org)
        .label("prow.k8s.io/refs.repo", &pr.repo)
        .label("prow.k8s.io/refs.pull", pr.number.to_string())
        .decoration(DecorationConfig {
            gcs_configuration: Some(GcsConfiguration {
                bucket: "prow-artifacts".into(),
                path_strategy: "explicit".into(),
                ..GcsConfiguration::default()
            }),
            ..DecorationConfig::default()
        })
        .started_at(at(1_700_000_000))
        .build();
    pj.status.build_id = build_id.into();
    pj.status.url = format!("https://prow.example.com/view/gs/prow-artifacts/{job}/{build_id}");
    pj
}

/// A served crier with its API server, GitHub fake and artifact store.
struct Crier {
    url: String,
    http: reqwest::Client,
    prowjobs: ProwJobs,
    _api: LocalApi,
}

impl Crier {
    async fn start(github: &MockServer, artifacts: Option<Arc<dyn ArtifactStore>>) -> Self {
        Self::start_with(github, artifacts, Config::default()).await
    }

    async fn start_with(
        github: &MockServer,
        artifacts: Option<Arc<dyn ArtifactStore>>,
        mut config: Config,
    ) -> Self {
        let api = LocalApi::start().await.unwrap();
        config.prow.prowjob_namespace = NAMESPACE.into();
        let gh: Arc<dyn GitHub> = Arc::new(
            OctocrabGitHub::builder(github.uri())
                .credentials(Credentials::Token("t0ken".into()))
                .retry_policy(RetryPolicy::for_tests())
                .build()
                .unwrap(),
        );
        let state = CrierState::new(Arc::new(config), api.client().unwrap(), gh, artifacts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, prow_crier::router(state))
                .await
                .unwrap();
        });
        Self {
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            prowjobs: ProwJobs::new(api.client().unwrap(), NAMESPACE),
            _api: api,
        }
    }

    /// Stores the job (spec, then status through the status subresource).
    async fn put(&self, pj: &ProwJob) {
        self.prowjobs.create(pj).await.unwrap();
        let status = pj.status.clone();
        self.prowjobs
            .update_status(pj.name(), |stored| {
                stored.status = status.clone();
                true
            })
            .await
            .unwrap();
    }

    async fn set_state(&self, name: &str, state: ProwJobState, description: &str) {
        self.prowjobs
            .update_status(name, |pj| {
                pj.status.state = state;
                pj.status.description = description.into();
                if state.is_final() {
                    pj.status.completion_time = Some(at(1_700_000_300));
                }
                true
            })
            .await
            .unwrap();
    }

    async fn get(&self, name: &str) -> ProwJob {
        self.prowjobs.get(name).await.unwrap().unwrap()
    }

    async fn send(&self, ty: &str, data: &Value) -> (u16, String) {
        let response = self
            .http
            .post(&self.url)
            .header("ce-specversion", "1.0")
            .header("ce-id", uuid_like())
            .header("ce-type", ty)
            .header(
                "ce-source",
                "https://127.0.0.1/apis/v1/namespaces/prow-jobs",
            )
            .header("ce-kind", "ProwJob")
            .header("content-type", "application/json")
            .body(data.to_string())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// An ApiServerSource update event carrying the job as it is stored now.
    async fn updated(&self, name: &str) -> (u16, String) {
        let pj = serde_json::to_value(self.get(name).await).unwrap();
        self.send(prow_core::events::APISERVER_UPDATE, &pj).await
    }

    async fn resync(&self) -> (u16, String) {
        self.send(prow_core::events::PING, &json!({"message": "resync"}))
            .await
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("event-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn statuses_path(pr: &Pr) -> String {
    format!("/repos/{}/{}/statuses/{}", pr.org, pr.repo, pr.sha)
}

fn comments_path(pr: &Pr) -> String {
    format!(
        "/repos/{}/{}/issues/{}/comments",
        pr.org, pr.repo, pr.number
    )
}

fn status_created() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"id": 1, "state": "pending", "context": "x"}))
}

fn combined_status_path(pr: &Pr) -> String {
    format!("/repos/{}/{}/commits/{}/status", pr.org, pr.repo, pr.sha)
}

/// GitHub's combined status of the PR head holding `statuses`.
async fn mount_combined_status(github: &MockServer, pr: &Pr, statuses: Value) {
    Mock::given(method("GET"))
        .and(path(combined_status_path(pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "state": "pending", "sha": pr.sha, "total_count": 0, "statuses": statuses
        })))
        .named("combined status")
        .mount(github)
        .await;
}

async fn mount_bot(github: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": BOT, "id": 9})))
        .mount(github)
        .await;
}

fn comment_json(id: u64, login: &str, body: &str) -> Value {
    json!({"id": id, "user": {"login": login, "id": 9, "type": "Bot"}, "body": body,
           "html_url": "https://github.com/x", "created_at": "2026-11-25T00:00:00Z",
           "updated_at": "2026-11-25T00:00:00Z"})
}

#[tokio::test]
async fn duplicate_events_report_each_state_once() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .and(body_partial_json(
            json!({"state": "pending", "context": "pull-unit",
            "target_url": "https://prow.example.com/view/gs/prow-artifacts/pull-unit/101"}),
        ))
        .respond_with(status_created())
        .expect(1)
        .named("pending status")
        .mount(&github)
        .await;
    let crier = Crier::start(&github, None).await;
    let mut pj = presubmit(&pr, "pull-unit", "101");
    pj.status.state = ProwJobState::Pending;
    pj.status.description = "Job triggered.".into();
    crier.put(&pj).await;

    let event = serde_json::to_value(crier.get(pj.name()).await).unwrap();
    for _ in 0..3 {
        // The same (stale) event again and again: the stored job says it is reported.
        assert_eq!(
            crier
                .send(prow_core::events::APISERVER_UPDATE, &event)
                .await,
            (200, String::new())
        );
    }
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    assert_eq!(crier.resync().await, (200, String::new()));
    let stored = crier.get(pj.name()).await;
    assert_eq!(
        stored.status.prev_report_states.get("github-reporter"),
        Some(&ProwJobState::Pending)
    );
    let request = &github.received_requests().await.unwrap()[0];
    let body: Value = request.body_json().unwrap();
    let description = body["description"].as_str().unwrap();
    assert!(
        description.starts_with("Job triggered.\u{2001}")
            && description.ends_with(&format!(" BaseSHA:{}", pr.base_sha)),
        "{description}"
    );
    github.verify().await;
}

/// GitHub's answers for a commit that is gone or a context that is full end the report (Prow's
/// crier ignores them); any other refusal is retried, so the job is not marked reported.
#[tokio::test]
async fn ignorable_github_answers_end_the_report_and_others_are_retried() {
    let pr = corpus_pr();
    let cases = [
        (404, "Not Found", true),
        (422, "No commit found for SHA: deadbeef", true),
        (
            422,
            "This SHA and context has reached the maximum number of statuses.",
            true,
        ),
        (422, "Validation Failed", false),
        (401, "Bad credentials", false),
    ];
    for (index, (status, message, ignorable)) in cases.into_iter().enumerate() {
        let github = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(statuses_path(&pr)))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"message": message, "documentation_url": "https://docs.github.com"}),
            ))
            .mount(&github)
            .await;
        let crier = Crier::start(&github, None).await;
        let mut pj = presubmit(&pr, "pull-unit", &format!("30{index}"));
        pj.status.state = ProwJobState::Pending;
        crier.put(&pj).await;
        let (code, _) = crier.updated(pj.name()).await;
        let reported = crier
            .get(pj.name())
            .await
            .status
            .prev_report_states
            .contains_key("github-reporter");
        if ignorable {
            assert_eq!((code, reported), (200, true), "{status} {message}");
        } else {
            assert!(code >= 500, "{status} {message}: answered {code}");
            assert!(!reported, "{status} {message} must not count as reported");
        }
    }
}

#[tokio::test]
async fn jobs_that_must_not_report_cause_no_calls() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(status_created())
        .expect(0)
        .mount(&github)
        .await;
    let crier = Crier::start(&github, None).await;
    let mut quiet = presubmit(&pr, "pull-quiet", "1");
    quiet.spec.report = false;
    let mut periodic = presubmit(&pr, "ci-periodic", "2");
    periodic.spec.type_ = ProwJobType::Periodic;
    // Aborted by dedupe: plank recorded the state as reported already.
    let mut deduped = presubmit(&pr, "pull-old", "3");
    deduped.status.state = ProwJobState::Aborted;
    deduped
        .status
        .prev_report_states
        .insert("github-reporter".into(), ProwJobState::Aborted);
    for pj in [&quiet, &periodic, &deduped] {
        crier.put(pj).await;
        assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    }
    assert_eq!(crier.resync().await, (200, String::new()));
    github.verify().await;
}

/// Answers with `responses` in turn, repeating the last.
struct Sequence {
    responses: Vec<ResponseTemplate>,
    seen: Arc<Mutex<usize>>,
}

impl Respond for Sequence {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        *seen += 1;
        self.responses[(*seen - 1).min(self.responses.len() - 1)].clone()
    }
}

#[tokio::test]
async fn a_502_is_retried_and_the_status_lands_once() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .respond_with(Sequence {
            responses: vec![ResponseTemplate::new(502), status_created()],
            seen: Arc::default(),
        })
        .expect(2)
        .mount(&github)
        .await;
    // The failed attempt left its intent: the retry reads the SHA's statuses before posting.
    mount_combined_status(&github, &pr, json!([])).await;
    let crier = Crier::start(&github, None).await;
    let mut pj = presubmit(&pr, "pull-unit", "7");
    pj.status.state = ProwJobState::Pending;
    crier.put(&pj).await;
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    github.verify().await;
}

#[tokio::test]
async fn a_report_that_keeps_failing_is_redelivered_then_caught_by_resync() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .respond_with(ResponseTemplate::new(500))
        .named("GitHub down")
        .mount(&github)
        .await;
    let crier = Crier::start(&github, None).await;
    let mut pj = presubmit(&pr, "pull-unit", "8");
    pj.status.state = ProwJobState::Pending;
    crier.put(&pj).await;
    let (status, _) = crier.updated(pj.name()).await;
    assert_eq!(status, 503, "the broker must redeliver");
    assert_eq!(
        crier.get(pj.name()).await.status.prev_report_states,
        [("github-reporter-intent".to_owned(), ProwJobState::Pending)].into(),
        "only the intent recorded before the POST"
    );

    // GitHub recovers; the next resync tick reports what is still unreported.
    github.reset().await;
    mount_combined_status(&github, &pr, json!([])).await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .and(body_partial_json(json!({"state": "pending"})))
        .respond_with(status_created())
        .expect(1)
        .mount(&github)
        .await;
    assert_eq!(crier.resync().await, (200, String::new()));
    assert_eq!(crier.resync().await, (200, String::new()));
    assert_eq!(
        crier
            .get(pj.name())
            .await
            .status
            .prev_report_states
            .get("github-reporter"),
        Some(&ProwJobState::Pending)
    );
    github.verify().await;
}

/// crier was killed after GitHub took the failure status and the failure comment, and before it
/// recorded the report: the stored job has the intent for `failure`, GitHub has both. The next
/// attempt posts neither again, and records the report.
#[tokio::test]
async fn a_report_made_before_a_kill_is_not_made_again() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    mount_bot(&github).await;
    let mut pj = presubmit(&pr, "pull-unit", "21");
    pj.status.state = ProwJobState::Failure;
    pj.status.description = "Job failed.".into();
    pj.status.completion_time = Some(at(1_700_000_300));
    pj.status
        .prev_report_states
        .insert("github-reporter".into(), ProwJobState::Pending);
    pj.status
        .prev_report_states
        .insert("github-reporter-intent".into(), ProwJobState::Failure);
    // What the killed attempt posted, as GitHub answers it back.
    let posted = prow_crier::decide::status_report(&pj).unwrap().status;
    let actions = prow_crier::decide::plan_report_comment(&[&pj], BOT, &[], None, false);
    let [prow_crier::decide::CommentAction::Create(comment)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    mount_combined_status(
        &github,
        &pr,
        json!([
            {"context": "pull-lint", "state": "success", "description": "Job succeeded.",
             "target_url": null},
            {"context": posted.context, "state": "failure", "description": posted.description,
             "target_url": posted.target_url},
        ]),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            comment_json(400, pr.author.as_str(), "lgtm"),
            comment_json(501, BOT, comment),
        ])))
        .mount(&github)
        .await;
    for verb in ["POST", "PATCH", "DELETE"] {
        Mock::given(method(verb))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .named(format!("{verb}: nothing is written again"))
            .mount(&github)
            .await;
    }
    let crier = Crier::start(&github, None).await;
    crier.put(&pj).await;

    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    assert_eq!(crier.resync().await, (200, String::new()));
    assert_eq!(
        crier
            .get(pj.name())
            .await
            .status
            .prev_report_states
            .get("github-reporter"),
        Some(&ProwJobState::Failure)
    );
    let reads = github.received_requests().await.unwrap();
    assert_eq!(
        reads
            .iter()
            .filter(|r| r.url.path() == combined_status_path(&pr))
            .count(),
        1,
        "GitHub's statuses are read once, by the attempt after the kill"
    );
    github.verify().await;
}

/// Killed after recording the intent but before the POST reached GitHub: GitHub still shows
/// the previous state, so the status is posted.
#[tokio::test]
async fn an_intent_whose_status_never_reached_github_is_posted() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    mount_bot(&github).await;
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&github)
        .await;
    let mut pj = presubmit(&pr, "pull-unit", "22");
    pj.status.state = ProwJobState::Success;
    pj.status.description = "Job succeeded.".into();
    pj.status.completion_time = Some(at(1_700_000_300));
    pj.status
        .prev_report_states
        .insert("github-reporter".into(), ProwJobState::Pending);
    pj.status
        .prev_report_states
        .insert("github-reporter-intent".into(), ProwJobState::Success);
    let pending = {
        let mut p = pj.clone();
        p.status.state = ProwJobState::Pending;
        p.status.description = "Job triggered.".into();
        prow_crier::decide::status_report(&p).unwrap().status
    };
    mount_combined_status(
        &github,
        &pr,
        json!([{"context": pending.context, "state": "pending",
                "description": pending.description, "target_url": pending.target_url}]),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .and(body_partial_json(
            json!({"state": "success", "context": "pull-unit"}),
        ))
        .respond_with(status_created())
        .expect(1)
        .named("success status")
        .mount(&github)
        .await;
    let crier = Crier::start(&github, None).await;
    crier.put(&pj).await;
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    assert_eq!(
        crier
            .get(pj.name())
            .await
            .status
            .prev_report_states
            .get("github-reporter"),
        Some(&ProwJobState::Success)
    );
    github.verify().await;
}

#[tokio::test]
async fn failure_comment_is_created_edited_and_deleted() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    mount_bot(&github).await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .respond_with(status_created())
        .mount(&github)
        .await;
    let crier = Crier::start(&github, None).await;

    // 1. pull-unit fails: no comment yet, one is created.
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment_json(500, BOT, "created")))
        .expect(1)
        .named("create comment")
        .mount(&github)
        .await;
    let unit = presubmit(&pr, "pull-unit", "11");
    let lint = presubmit(&pr, "pull-lint", "12");
    crier.put(&unit).await;
    crier.put(&lint).await;
    crier
        .set_state(unit.name(), ProwJobState::Failure, "Job failed.")
        .await;
    assert_eq!(crier.updated(unit.name()).await, (200, String::new()));
    let created = github
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == comments_path(&pr))
        .unwrap();
    let body: Value = created.body_json().unwrap();
    let first = body["body"].as_str().unwrap().to_owned();
    assert!(
        first.starts_with(&format!("@{}: The following test **failed**", pr.author)),
        "{first}"
    );
    assert!(first.contains(&format!(
        "pull-unit | {} | [link](https://prow.example.com/view/gs/prow-artifacts/pull-unit/11) | true | `/test pull-unit`",
        pr.sha
    )));
    assert!(first.ends_with("<!-- test report -->"));
    github.verify().await;

    // 2. pull-lint fails too, but GitHub shows the comment with a second row already (say a
    //    previous crier wrote it): lint passing edits the comment in place, dropping its row.
    let two_rows = first.replace(
        "`/test pull-unit`",
        &format!(
            "`/test pull-unit`\npull-lint | {} | [link](https://x) | true | `/test pull-lint`",
            pr.sha
        ),
    );
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            comment_json(400, pr.author.as_str(), "lgtm"),
            comment_json(500, BOT, &two_rows),
        ])))
        .up_to_n_times(1)
        .mount(&github)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!(
            "/repos/{}/{}/issues/comments/500",
            pr.org, pr.repo
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(comment_json(500, BOT, "edited")))
        .expect(1)
        .named("edit comment")
        .mount(&github)
        .await;
    crier
        .set_state(lint.name(), ProwJobState::Success, "Job succeeded.")
        .await;
    assert_eq!(crier.updated(lint.name()).await, (200, String::new()));
    let edited = github
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let edited: Value = edited.body_json().unwrap();
    let edited = edited["body"].as_str().unwrap();
    assert!(edited.contains("pull-unit | ") && !edited.contains("pull-lint | "));
    github.verify().await;

    // 3. pull-unit is retested and passes: the last row goes, so does the comment.
    let rerun = presubmit(&pr, "pull-unit", "13");
    crier.put(&rerun).await;
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([comment_json(500, BOT, edited)])),
        )
        .mount(&github)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/repos/{}/{}/issues/comments/500",
            pr.org, pr.repo
        )))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .named("delete comment")
        .mount(&github)
        .await;
    crier
        .set_state(rerun.name(), ProwJobState::Success, "Job succeeded.")
        .await;
    assert_eq!(crier.updated(rerun.name()).await, (200, String::new()));
    assert_eq!(crier.updated(rerun.name()).await, (200, String::new()));
    github.verify().await;
}

/// `github_reporter.summary_comment_repos`: no comment while any of the PR's jobs runs; once
/// the last one is done, one comment for all of them, "all tests passed" when none failed.
#[tokio::test]
async fn a_summary_repo_gets_one_comment_once_every_job_is_done() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    mount_bot(&github).await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .respond_with(status_created())
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment_json(600, BOT, "created")))
        .mount(&github)
        .await;
    let mut config = Config::default();
    config.prow.github_reporter.summary_comment_repos = vec![pr.org.clone()];
    let crier = Crier::start_with(&github, None, config).await;
    let unit = presubmit(&pr, "pull-unit", "21");
    let lint = presubmit(&pr, "pull-lint", "22");
    crier.put(&unit).await;
    crier.put(&lint).await;

    crier
        .set_state(unit.name(), ProwJobState::Success, "Job succeeded.")
        .await;
    assert_eq!(crier.updated(unit.name()).await, (200, String::new()));
    let comments = || async {
        github
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == comments_path(&pr))
            .map(|r| {
                r.body_json::<Value>().unwrap()["body"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    assert!(comments().await.is_empty(), "pull-lint still runs");

    crier
        .set_state(lint.name(), ProwJobState::Success, "Job succeeded.")
        .await;
    assert_eq!(crier.updated(lint.name()).await, (200, String::new()));
    let posted = comments().await;
    let [body] = posted.as_slice() else {
        panic!("{posted:?}")
    };
    assert!(
        body.starts_with(&format!(
            "@{}: all tests **passed!**\n\n\n<details>",
            pr.author
        )),
        "{body}"
    );
    assert!(body.ends_with("</details>\n<!-- test report -->"), "{body}");
}

/// Drives one job through pending and failure and checks the files in Prow's layout.
async fn job_metadata_in_prow_layout(store: Arc<dyn ArtifactStore>) {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    mount_bot(&github).await;
    Mock::given(method("POST"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment_json(1, BOT, "x")))
        .expect(1)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .respond_with(status_created())
        .expect(2)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(comments_path(&pr)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&github)
        .await;
    let crier = Crier::start(&github, Some(store.clone())).await;
    let pj = presubmit(&pr, "pull-unit", "1790000000000000001");
    crier.put(&pj).await;
    crier
        .set_state(pj.name(), ProwJobState::Pending, "Job triggered.")
        .await;
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));

    let dir = format!(
        "pr-logs/pull/{}_{}/{}/pull-unit/1790000000000000001",
        pr.org, pr.repo, pr.number
    );
    let bucket = "prow-artifacts";
    let read = |name: String| {
        let store = store.clone();
        async move {
            store
                .get(bucket, &name)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name} missing"))
        }
    };
    let started: Started =
        serde_json::from_slice(&read(format!("{dir}/started.json")).await).unwrap();
    assert_eq!(started.timestamp, 1_700_000_000);
    assert_eq!(started.pull, pr.number.to_string());
    assert_eq!(started.repo_commit, pr.sha);
    assert!(started.is_crier_written());
    assert!(
        store
            .get(bucket, &format!("{dir}/finished.json"))
            .await
            .unwrap()
            .is_none()
    );
    let pj_json = read(format!("{dir}/prowjob.json")).await;
    assert!(pj_json.starts_with(b"{\n\t\"apiVersion\""));
    let stored: ProwJob = serde_json::from_slice(&pj_json).unwrap();
    assert_eq!(stored.status.state, ProwJobState::Pending);

    crier
        .set_state(pj.name(), ProwJobState::Failure, "Job failed.")
        .await;
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    let finished: Finished =
        serde_json::from_slice(&read(format!("{dir}/finished.json")).await).unwrap();
    assert_eq!(finished.timestamp, Some(1_700_000_300));
    assert_eq!(finished.passed, Some(false));
    assert_eq!(finished.result, "failure");
    let stored: ProwJob =
        serde_json::from_slice(&read(format!("{dir}/prowjob.json")).await).unwrap();
    assert_eq!(stored.status.state, ProwJobState::Failure);
    for latest in [
        format!(
            "pr-logs/pull/{}_{}/{}/pull-unit/latest-build.txt",
            pr.org, pr.repo, pr.number
        ),
        "pr-logs/directory/pull-unit/latest-build.txt".to_owned(),
    ] {
        assert_eq!(read(latest).await, "1790000000000000001".as_bytes());
    }
    let job = crier.get(pj.name()).await;
    assert_eq!(
        job.status.prev_report_states.get("gcsreporter"),
        Some(&ProwJobState::Failure)
    );
    let listing = store
        .list(bucket, &format!("{dir}/"), Some("/"))
        .await
        .unwrap();
    let names: Vec<&str> = listing
        .objects
        .iter()
        .map(|o| o.name.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["finished.json", "prowjob.json", "started.json"]);
    github.verify().await;
}

/// `podinfo.json` as Prow's gcsk8sreporter writes it once a job is done: its pod (read from the
/// pod namespace) and that pod's events only, tab-indented; written once; a job whose pod is
/// already gone gets none and is not retried.
async fn podinfo_in_prow_layout(store: Arc<dyn ArtifactStore>) {
    use k8s_openapi::api::core::v1::{Event, ObjectReference, Pod};
    let pr = corpus_pr();
    let github = MockServer::start().await;
    // The job does not report to GitHub: only the pod info matters here.
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&github)
        .await;
    let mut config = Config::default();
    config.prow.pod_namespace = "test-pods".into();
    let crier = Crier::start_with(&github, Some(store.clone()), config).await;
    let client = crier._api.client().unwrap();
    let pods = prow_kube::Pods::new(client.clone(), "test-pods");
    let events: kube::Api<Event> = kube::Api::namespaced(client, "test-pods");

    let job = |name: &str, build_id: &str| {
        let mut pj = presubmit(&pr, name, build_id);
        pj.spec.report = false;
        pj
    };
    let pj = job("pull-unit", "1790000000000000002");
    let gone = job("pull-gone", "1790000000000000003");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": pj.name(), "namespace": "test-pods",
                     "labels": {"prow.k8s.io/build-id": "1790000000000000002"}},
        "spec": {"containers": [{"name": "test", "image": "alpine", "command": ["false"]}]},
    }))
    .unwrap();
    pods.create(&pod).await.unwrap();
    pods.update_status(pj.name(), |pod: &mut Pod| {
        pod.status = Some(
            serde_json::from_value(json!({"phase": "Failed", "containerStatuses": [{
                "name": "test", "image": "alpine", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}))
            .unwrap(),
        );
        true
    })
    .await
    .unwrap();
    let uid = pods.get(pj.name()).await.unwrap().unwrap().metadata.uid;
    for (name, pod_name, reason) in [
        ("ours-1", pj.name(), "Scheduled"),
        ("ours-2", pj.name(), "Started"),
        ("another-pod", gone.name(), "Scheduled"),
    ] {
        let event = Event {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some("test-pods".into()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("test-pods".into()),
                name: Some(pod_name.into()),
                uid: (pod_name == pj.name()).then(|| uid.clone()).flatten(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            type_: Some("Normal".into()),
            ..Default::default()
        };
        events
            .create(&kube::api::PostParams::default(), &event)
            .await
            .unwrap();
    }

    for job in [&pj, &gone] {
        crier.put(job).await;
        crier
            .set_state(job.name(), ProwJobState::Pending, "Job triggered.")
            .await;
        crier
            .prowjobs
            .update_status(job.name(), |j: &mut ProwJob| {
                j.status.pending_time = Some(at(1_700_000_010));
                true
            })
            .await
            .unwrap();
        assert_eq!(crier.updated(job.name()).await, (200, String::new()));
    }
    let dir = |job: &str, id: &str| {
        format!(
            "pr-logs/pull/{}_{}/{}/{job}/{id}/podinfo.json",
            pr.org, pr.repo, pr.number
        )
    };
    let podinfo = dir("pull-unit", "1790000000000000002");
    let bucket = "prow-artifacts";
    assert!(
        store.get(bucket, &podinfo).await.unwrap().is_none(),
        "not before the job is done"
    );

    for job in [&pj, &gone] {
        crier
            .set_state(job.name(), ProwJobState::Failure, "Job failed.")
            .await;
        assert_eq!(crier.updated(job.name()).await, (200, String::new()));
    }
    let written = store
        .get(bucket, &podinfo)
        .await
        .unwrap()
        .expect("podinfo.json");
    assert!(written.starts_with(b"{\n\t\"pod\": {"), "{written:?}");
    let info: Value = serde_json::from_slice(&written).unwrap();
    let pod: Pod = serde_json::from_value(info["pod"].clone()).unwrap();
    assert_eq!(pod.metadata.name.as_deref(), Some(pj.name()));
    let exit = pod.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap()
        .exit_code;
    assert_eq!(exit, 1);
    let events: Vec<Event> = serde_json::from_value(info["events"].clone()).unwrap();
    let mut reasons: Vec<String> = events.into_iter().filter_map(|e| e.reason).collect();
    reasons.sort();
    assert_eq!(reasons, ["Scheduled", "Started"], "only this pod's events");
    assert!(info.get("node").is_none());
    for job in [&pj, &gone] {
        assert_eq!(
            crier
                .get(job.name())
                .await
                .status
                .prev_report_states
                .get("gcsk8sreporter"),
            Some(&ProwJobState::Failure),
            "{}",
            job.name()
        );
    }
    assert!(
        store
            .get(bucket, &dir("pull-gone", "1790000000000000003"))
            .await
            .unwrap()
            .is_none(),
        "no pod, no podinfo.json"
    );

    // Recorded: sinker deleting the pod later does not empty the file on a resync.
    pods.delete(pj.name()).await.unwrap();
    assert_eq!(crier.resync().await, (200, String::new()));
    assert_eq!(store.get(bucket, &podinfo).await.unwrap(), Some(written));
    github.verify().await;
}

#[tokio::test]
async fn podinfo_in_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    podinfo_in_prow_layout(Arc::new(LocalStore::new(dir.path()).unwrap())).await;
}

#[tokio::test]
#[ignore = "needs fake-gcs-server (.ci/install-deps installs it; .ci/test runs this)"]
async fn podinfo_in_fake_gcs_server() {
    let server = FakeGcs::start().await.unwrap();
    server.create_bucket("prow-artifacts").await.unwrap();
    podinfo_in_prow_layout(Arc::new(server.store().unwrap())).await;
    server.stop().await;
}

#[tokio::test]
async fn job_metadata_in_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::new(dir.path()).unwrap());
    job_metadata_in_prow_layout(store).await;
}

#[tokio::test]
#[ignore = "needs fake-gcs-server (.ci/install-deps installs it; .ci/test runs this)"]
async fn job_metadata_in_fake_gcs_server() {
    let server = FakeGcs::start().await.unwrap();
    server.create_bucket("prow-artifacts").await.unwrap();
    job_metadata_in_prow_layout(Arc::new(server.store().unwrap())).await;
    server.stop().await;
}

/// Answers with `responses` in turn and notes when each request arrived.
struct Timed {
    responses: Vec<ResponseTemplate>,
    seen: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl Respond for Timed {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        seen.push(std::time::Instant::now());
        self.responses[(seen.len() - 1).min(self.responses.len() - 1)].clone()
    }
}

#[tokio::test]
async fn a_secondary_rate_limit_waits_for_retry_after() {
    let pr = corpus_pr();
    let github = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path(statuses_path(&pr)))
        .respond_with(Timed {
            responses: vec![
                ResponseTemplate::new(403)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
                status_created(),
            ],
            seen: seen.clone(),
        })
        .expect(2)
        .mount(&github)
        .await;
    let crier = Crier::start(&github, None).await;
    let mut pj = presubmit(&pr, "pull-unit", "21");
    pj.status.state = ProwJobState::Pending;
    crier.put(&pj).await;
    assert_eq!(crier.updated(pj.name()).await, (200, String::new()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1] - seen[0] >= Duration::from_millis(950),
        "retried after {:?}, before Retry-After",
        seen[1] - seen[0]
    );
    github.verify().await;
}
