//! Container logs behind `pods/{name}/log`: the `LogSource` port the kubelet implements, an in-memory source, and option handling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

/// One line a container wrote (without its trailing newline) and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub text: String,
}

/// Which container's log is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// What a source has: the lines written so far and, when following a running container, the lines to come.
pub struct LogOutput {
    pub history: Vec<LogLine>,
    /// Ends when the container stops writing (exits). `None` when not following or already finished.
    pub live: Option<BoxStream<'static, LogLine>>,
}

impl std::fmt::Debug for LogOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOutput")
            .field("history", &self.history)
            .field("live", &self.live.is_some())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The container has not started, so there is nothing to read yet (Kubernetes answers 400).
    #[error("container \"{container}\" in pod \"{pod}\" is waiting to start")]
    NotStarted { pod: String, container: String },
    #[error("reading logs failed: {0}")]
    Io(String),
}

/// Where container output comes from. The local kubelet implements this for the processes it runs.
pub trait LogSource: Send + Sync + 'static {
    /// The log of one container; with `follow`, `live` continues until the container finishes.
    fn logs(&self, target: &LogTarget, follow: bool) -> Result<LogOutput, LogError>;
}

/// A source with no containers running: every log is empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLogs;

impl LogSource for NoLogs {
    fn logs(&self, _target: &LogTarget, _follow: bool) -> Result<LogOutput, LogError> {
        Ok(LogOutput {
            history: Vec::new(),
            live: None,
        })
    }
}

#[derive(Debug, Clone)]
enum Chunk {
    Line(LogLine),
    End,
}

#[derive(Debug)]
struct Buffer {
    lines: Vec<LogLine>,
    finished: bool,
    tx: broadcast::Sender<Chunk>,
}

impl Buffer {
    fn new() -> Buffer {
        Buffer {
            lines: Vec::new(),
            finished: false,
            tx: broadcast::channel(1024).0,
        }
    }
}

/// Buffers by (namespace, pod, container).
type Buffers = HashMap<(String, String, String), Buffer>;

/// Logs kept in memory, written by whoever runs the containers; followers see appended lines live.
#[derive(Debug, Default, Clone)]
pub struct MemoryLogs {
    buffers: Arc<Mutex<Buffers>>,
}

impl MemoryLogs {
    pub fn new() -> MemoryLogs {
        MemoryLogs::default()
    }

    fn with_buffer<R>(&self, target: &LogTarget, f: impl FnOnce(&mut Buffer) -> R) -> R {
        let mut buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        let key = (
            target.namespace.clone(),
            target.pod.clone(),
            target.container.clone(),
        );
        f(buffers.entry(key).or_insert_with(Buffer::new))
    }

    /// Appends one line written now.
    pub fn append(&self, target: &LogTarget, text: impl Into<String>) {
        self.append_at(target, Utc::now(), text);
    }

    pub fn append_at(&self, target: &LogTarget, time: DateTime<Utc>, text: impl Into<String>) {
        let line = LogLine {
            time,
            text: text.into(),
        };
        self.with_buffer(target, |buf| {
            buf.lines.push(line.clone());
            let _ = buf.tx.send(Chunk::Line(line));
        });
    }

    /// Forgets every container log of a pod (the pod was deleted); followers' streams end.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        let mut buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        buffers.retain(|(ns, name, _), buf| {
            let keep = ns != namespace || name != pod;
            if !keep {
                let _ = buf.tx.send(Chunk::End);
            }
            keep
        });
    }

    /// Every line the pod's containers wrote, in time order, one per line (a build log).
    pub fn combined(&self, namespace: &str, pod: &str) -> String {
        let buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines: Vec<&LogLine> = buffers
            .iter()
            .filter(|((ns, name, _), _)| ns == namespace && name == pod)
            .flat_map(|(_, buf)| buf.lines.iter())
            .collect();
        lines.sort_by_key(|l| l.time);
        let mut out = String::new();
        for line in lines {
            out.push_str(line.text.trim_end_matches('\n'));
            out.push('\n');
        }
        out
    }

    /// Marks the container as finished: followers' streams end.
    pub fn finish(&self, target: &LogTarget) {
        self.with_buffer(target, |buf| {
            buf.finished = true;
            let _ = buf.tx.send(Chunk::End);
        });
    }
}

impl LogSource for MemoryLogs {
    fn logs(&self, target: &LogTarget, follow: bool) -> Result<LogOutput, LogError> {
        Ok(self.with_buffer(target, |buf| {
            let live = (follow && !buf.finished).then(|| {
                let rx = buf.tx.subscribe();
                futures::stream::unfold(rx, |mut rx| async move {
                    loop {
                        match rx.recv().await {
                            Ok(Chunk::Line(line)) => return Some((line, rx)),
                            Ok(Chunk::End) | Err(broadcast::error::RecvError::Closed) => {
                                return None;
                            }
                            // A slow follower misses lines rather than stalling the writer.
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                        }
                    }
                })
                .boxed()
            });
            LogOutput {
                history: buf.lines.clone(),
                live,
            }
        }))
    }
}

/// The `pods/log` query options the server applies itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub tail_lines: Option<usize>,
    pub timestamps: bool,
    pub since: Option<DateTime<Utc>>,
    pub limit_bytes: Option<usize>,
}

impl LogOptions {
    /// Whether a line belongs in the output at all (`sinceSeconds`/`sinceTime`).
    pub fn admits(&self, line: &LogLine) -> bool {
        self.since.is_none_or(|since| line.time >= since)
    }

    /// The history lines to send: filtered by time, then the last `tailLines`.
    pub fn select_history<'a>(&self, history: &'a [LogLine]) -> Vec<&'a LogLine> {
        let admitted: Vec<&LogLine> = history.iter().filter(|l| self.admits(l)).collect();
        let skip = self
            .tail_lines
            .map_or(0, |tail| admitted.len().saturating_sub(tail));
        admitted.into_iter().skip(skip).collect()
    }

    /// One output line including its newline, with an RFC3339Nano timestamp prefix when asked.
    pub fn render(&self, line: &LogLine) -> String {
        if self.timestamps {
            format!(
                "{} {}\n",
                line.time.to_rfc3339_opts(SecondsFormat::Nanos, true),
                line.text
            )
        } else {
            format!("{}\n", line.text)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn line(sec: u32, text: &str) -> LogLine {
        LogLine {
            time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, sec).unwrap(),
            text: text.into(),
        }
    }

    #[test]
    fn history_selection_applies_since_then_tail() {
        let history = vec![line(1, "a"), line(2, "b"), line(3, "c"), line(4, "d")];
        let cases = [
            (LogOptions::default(), vec!["a", "b", "c", "d"]),
            (
                LogOptions {
                    tail_lines: Some(2),
                    ..Default::default()
                },
                vec!["c", "d"],
            ),
            (
                LogOptions {
                    tail_lines: Some(0),
                    ..Default::default()
                },
                vec![],
            ),
            (
                LogOptions {
                    tail_lines: Some(9),
                    ..Default::default()
                },
                vec!["a", "b", "c", "d"],
            ),
            (
                LogOptions {
                    since: Some(line(3, "").time),
                    ..Default::default()
                },
                vec!["c", "d"],
            ),
            (
                LogOptions {
                    since: Some(line(2, "").time),
                    tail_lines: Some(1),
                    ..Default::default()
                },
                vec!["d"],
            ),
        ];
        for (opts, want) in cases {
            let got: Vec<&str> = opts
                .select_history(&history)
                .iter()
                .map(|l| l.text.as_str())
                .collect();
            assert_eq!(got, want, "{opts:?}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_nano_prefixes() {
        let opts = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            opts.render(&line(5, "hi")),
            "2024-01-02T03:04:05.000000000Z hi\n"
        );
        assert_eq!(LogOptions::default().render(&line(5, "hi")), "hi\n");
    }

    #[tokio::test]
    async fn followers_get_appended_lines_until_the_container_finishes() {
        let logs = MemoryLogs::new();
        let target = LogTarget {
            namespace: "ns".into(),
            pod: "p".into(),
            container: "c".into(),
        };
        logs.append(&target, "one");
        let out = logs.logs(&target, true).unwrap();
        assert_eq!(out.history.len(), 1);
        let live = out.live.unwrap();
        logs.append(&target, "two");
        logs.finish(&target);
        let rest: Vec<String> = live.map(|l| l.text).collect().await;
        assert_eq!(rest, vec!["two"]);
        assert!(logs.logs(&target, true).unwrap().live.is_none());
        logs.remove_pod("ns", "p");
        assert!(logs.logs(&target, false).unwrap().history.is_empty());
    }
}
