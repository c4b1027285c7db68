//! Interop with an independent implementation: the PyPI `cloudevents` 2.2 SDK as sender and sink.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use prow_events::{
    AttributesReader, CloudEvent, Event, EventBuilder, EventBuilderV10, Publisher, RetryPolicy,
    data_json,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Whether `python3` with cloudevents 2.x is installed (.ci/install-deps installs it).
/// Fails the test naming the install when python3 lacks PyPI cloudevents 2.2.
fn require_python_sdk() {
    let found = std::process::Command::new("python3")
        .args(["-c", "import cloudevents.core.bindings.http"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "python3 with PyPI cloudevents 2.2 is required: pip install 'cloudevents==2.2.*' (.ci/install-deps does)"
    );
}

const SENDER: &str = r#"
import sys, urllib.request
from cloudevents.core.v1.event import CloudEvent
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
url = sys.argv[1]
for mode, encode in (("binary", to_binary_event), ("structured", to_structured_event)):
    event = CloudEvent({
        "type": "dev.prow.interop", "source": "/py sender", "id": "py-" + mode,
        "subject": "Hello, 🌎 100%", "mode": mode, "datacontenttype": "application/json",
    }, {"msg": "héllo", "n": [1, 2]})
    message = encode(event)
    request = urllib.request.Request(url, data=message.body, headers=message.headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202, response.status
"#;

async fn capture(
    State(seen): State<Arc<Mutex<Vec<Event>>>>,
    CloudEvent(event): CloudEvent,
) -> StatusCode {
    seen.lock().unwrap().push(event);
    StatusCode::ACCEPTED
}

#[tokio::test]
#[ignore = "needs python3 with PyPI cloudevents (.ci/install-deps installs it; .ci/test runs this)"]
async fn events_sent_by_the_python_sdk_decode_in_both_modes() {
    require_python_sdk();
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let app = Router::new()
        .route("/", post(capture))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .args(["-c", SENDER, &url])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (event, mode) in seen.iter().zip(["binary", "structured"]) {
        assert_eq!(event.id(), format!("py-{mode}"));
        assert_eq!(event.ty(), "dev.prow.interop");
        assert_eq!(event.source(), "/py sender", "{mode}");
        assert_eq!(event.subject(), Some("Hello, 🌎 100%"), "{mode}");
        assert_eq!(event.extension("mode").unwrap().to_string(), mode);
        assert!(event.time().is_some(), "{mode}");
        assert_eq!(
            data_json::<Value>(event).unwrap(),
            json!({"msg": "héllo", "n": [1, 2]}),
            "{mode}"
        );
    }
}

const SINK: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from cloudevents.core.bindings.http import from_http_event, HTTPMessage

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        event = from_http_event(HTTPMessage(headers=headers, body=body))
        attributes = {k: str(v) for k, v in event.get_attributes().items()}
        print(json.dumps({"attributes": attributes, "data": event.get_data()}), flush=True)
        self.send_response(202)
        self.end_headers()
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.handle_request()
"#;

#[tokio::test]
#[ignore = "needs python3 with PyPI cloudevents (.ci/install-deps installs it; .ci/test runs this)"]
async fn events_published_by_us_are_read_by_the_python_sdk() {
    require_python_sdk();
    let mut sink = tokio::process::Command::new("python3")
        .args(["-c", SINK])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sink.stdout.take().unwrap()).lines();
    let next = async |lines: &mut tokio::io::Lines<_>| {
        tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    let port: u16 = next(&mut lines).await.trim().parse().unwrap();

    let event = EventBuilderV10::new()
        .id("rs-1")
        .ty("dev.prow.github.issue_comment")
        .source("https://github.com/acme/foo")
        .subject("a \"quoted\" 100% 🌎")
        .extension("action", "created")
        .data(
            "application/json",
            br#"{"comment": {"body": "/test all"}}"#.to_vec(),
        )
        .build()
        .unwrap();
    let publisher =
        Publisher::new(&format!("http://127.0.0.1:{port}/"), RetryPolicy::default()).unwrap();
    publisher.publish(&event).await.unwrap();

    let mut received: Value = serde_json::from_str(&next(&mut lines).await).unwrap();
    // Python's CloudEvent fills in `time` when the event has none; ours sets no time.
    let time = received["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("time");
    assert!(time.is_some());
    assert_eq!(
        received["attributes"],
        json!({
            "specversion": "1.0",
            "id": "rs-1",
            "type": "dev.prow.github.issue_comment",
            "source": "https://github.com/acme/foo",
            "subject": "a \"quoted\" 100% 🌎",
            "action": "created",
            "datacontenttype": "application/json",
        })
    );
    assert_eq!(received["data"], json!({"comment": {"body": "/test all"}}));
    let _ = sink.wait().await;
}
