//! The utilities' own log lines, in the JSON shape Prow's components log (logrus JSON with a
//! `component` field): written to stderr, and kept so sidecar can upload them and entrypoint can
//! put them into the process log.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A small structured logger. Cloning shares the kept lines and the extra sink.
#[derive(Clone)]
pub struct Logger {
    component: &'static str,
    kept: Arc<Mutex<Vec<u8>>>,
    sink: Option<Arc<Mutex<dyn Write + Send>>>,
    stderr: bool,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("component", &self.component)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl Logger {
    /// Logs to stderr and keeps the lines.
    pub fn new(component: &'static str) -> Self {
        Self {
            component,
            kept: Arc::new(Mutex::new(Vec::new())),
            sink: None,
            stderr: true,
        }
    }

    /// A logger that writes nowhere but its kept lines (tests).
    pub fn quiet(component: &'static str) -> Self {
        Self {
            stderr: false,
            ..Self::new(component)
        }
    }

    /// Also writes each line to `sink` (entrypoint: the process log).
    pub fn with_sink(mut self, sink: Arc<Mutex<dyn Write + Send>>) -> Self {
        self.sink = Some(sink);
        self
    }

    fn line(&self, level: &str, msg: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let value = serde_json::json!({
            "component": self.component,
            "level": level,
            "msg": msg,
            "severity": level,
            "time": time,
        });
        let mut text = value.to_string();
        text.push('\n');
        if self.stderr {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
        if let Ok(mut kept) = self.kept.lock() {
            kept.extend_from_slice(text.as_bytes());
        }
        if let Some(sink) = &self.sink
            && let Ok(mut sink) = sink.lock()
        {
            let _ = sink.write_all(text.as_bytes());
        }
    }

    pub fn info(&self, msg: &str) {
        self.line("info", msg);
    }

    pub fn warn(&self, msg: &str) {
        self.line("warning", msg);
    }

    pub fn error(&self, msg: &str) {
        self.line("error", msg);
    }

    /// Every line logged so far (JSON lines).
    pub fn kept(&self) -> Vec<u8> {
        self.kept.lock().map(|k| k.clone()).unwrap_or_default()
    }
}
