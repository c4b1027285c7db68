//! What the fuzz targets share: a readable framing for HTTP requests, so the checked-in seeds
//! are real payloads a person can read and libFuzzer still mutates method, headers and body.
//!
//! A framed request is a first line (`METHOD` or `METHOD /path`), `Name: value` header lines,
//! one empty line, then the body bytes verbatim. Anything that is not a valid header is dropped
//! rather than rejected, so mutations keep reaching the code under test.

use http::{HeaderMap, HeaderName, HeaderValue};

/// A request as the fuzz input describes it.
#[derive(Debug)]
pub struct Framed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: HeaderMap,
    pub body: &'a [u8],
}

/// Splits `data` into request line, headers and body; never fails.
pub fn framed(data: &[u8]) -> Framed<'_> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &data[data.len()..]),
    };
    let head = std::str::from_utf8(head).unwrap_or_default();
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, path) = first.split_once(' ').unwrap_or((first, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    Framed {
        method,
        path: path.trim(),
        headers,
        body,
    }
}

/// One current-thread runtime per fuzz process: the targets drive axum routers in-process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    })
}

/// Sends `request` to `router` and reads the whole response body (bounded by the handlers).
pub async fn call(
    router: axum::Router,
    request: http::Request<axum::body::Body>,
) -> (http::StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    (status, body)
}

/// Panics unless `a` and `b` carry the same attributes, extensions and data. Values compare
/// as the strings a binary-mode header carries (an extension that was a JSON integer is the
/// same `ce-` header as its decimal text), data as JSON when it parses as JSON, else as bytes.
pub fn assert_same_event(a: &prow_events::Event, b: &prow_events::Event) {
    let strings = |e: &prow_events::Event| {
        let mut all: Vec<(String, String)> = e
            .iter_attributes()
            .map(|(k, v)| (k.to_owned(), v.to_string()))
            .chain(
                e.iter_extensions()
                    .map(|(k, v)| (k.to_owned(), v.to_string())),
            )
            .collect();
        // JSON data without a datacontenttype is application/json (CloudEvents' JSON format);
        // binary mode has to say so in Content-Type.
        let typed = all.iter().any(|(k, _)| k == "datacontenttype");
        if !typed && matches!(e.data(), Some(prow_events::Data::Json(_))) {
            all.push(("datacontenttype".to_owned(), "application/json".to_owned()));
        }
        // URL attributes are kept parsed: their text comes back with the URL's own escaping,
        // and one that held a control character travels in its escaped form (the SDK parses
        // it from the header), so `%` can gain a level of escaping. Compared fully unescaped.
        for (k, v) in &mut all {
            if k == "schemaurl" || k == "dataschema" {
                loop {
                    let once = unescape(v);
                    if once == *v {
                        break;
                    }
                    *v = once;
                }
            }
        }
        all.sort();
        all
    };
    assert_eq!(strings(a), strings(b), "attributes differ");
    let data = |e: &prow_events::Event| {
        prow_events::data_bytes(e).map(|bytes| {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map(|v| v.to_string().into_bytes())
                .unwrap_or_else(|_| bytes.into_owned())
        })
    };
    assert_eq!(data(a), data(b), "data differs");
}

/// `%XX` escapes decoded (lossy), so two spellings of one URL compare equal.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
