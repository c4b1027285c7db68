//! `meta.k8s.io/v1` Table rendering for `kubectl get` (columns per resource, humanised ages).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::resources::ResourceInfo;

/// Kubernetes' `duration.HumanDuration`: "45s", "3m20s", "5h10m", "2d3h", "400d", "2y10d".
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs < 0 {
        return "<invalid>".into();
    }
    let (mins, hours) = (secs / 60, secs / 3600);
    let days = hours / 24;
    let years = days / 365;
    match () {
        _ if secs < 120 => format!("{secs}s"),
        _ if mins < 10 => match secs % 60 {
            0 => format!("{mins}m"),
            s => format!("{mins}m{s}s"),
        },
        _ if mins < 180 => format!("{mins}m"),
        _ if hours < 8 => match mins % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        },
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        },
        _ if days < 365 * 2 => format!("{days}d"),
        _ if years < 8 => match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        },
        _ => format!("{years}y"),
    }
}

fn age_of(timestamp: Option<&str>, now: DateTime<Utc>) -> String {
    timestamp
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| human_duration(now - t.with_timezone(&Utc)))
        .unwrap_or_else(|| "<unknown>".into())
}

struct Column {
    name: &'static str,
    ty: &'static str,
    priority: u8,
    cell: fn(&Value, DateTime<Utc>) -> Value,
}

fn text(v: &Value) -> Value {
    match v {
        Value::Null => json!(""),
        Value::String(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

fn name_col() -> Column {
    Column {
        name: "Name",
        ty: "string",
        priority: 0,
        cell: |o, _| text(&o["metadata"]["name"]),
    }
}

fn age_col() -> Column {
    Column {
        name: "Age",
        ty: "date",
        priority: 0,
        cell: |o, now| json!(age_of(o["metadata"]["creationTimestamp"].as_str(), now)),
    }
}

fn prowjob_columns() -> Vec<Column> {
    vec![
        name_col(),
        Column {
            name: "Job",
            ty: "string",
            priority: 0,
            cell: |o, _| text(&o["spec"]["job"]),
        },
        Column {
            name: "Type",
            ty: "string",
            priority: 0,
            cell: |o, _| text(&o["spec"]["type"]),
        },
        Column {
            name: "State",
            ty: "string",
            priority: 0,
            cell: |o, _| text(&o["status"]["state"]),
        },
        age_col(),
        Column {
            name: "BuildId",
            ty: "string",
            priority: 1,
            cell: |o, _| text(&o["status"]["build_id"]),
        },
        Column {
            name: "Org",
            ty: "string",
            priority: 1,
            cell: |o, _| text(&o["spec"]["refs"]["org"]),
        },
        Column {
            name: "Repo",
            ty: "string",
            priority: 1,
            cell: |o, _| text(&o["spec"]["refs"]["repo"]),
        },
        Column {
            name: "Pulls",
            ty: "string",
            priority: 1,
            cell: |o, _| {
                let pulls: Vec<String> = o["spec"]["refs"]["pulls"]
                    .as_array()
                    .map(|ps| ps.iter().map(|p| p["number"].to_string()).collect())
                    .unwrap_or_default();
                json!(pulls.join(","))
            },
        },
        Column {
            name: "StartTime",
            ty: "date",
            priority: 1,
            cell: |o, now| {
                json!(
                    o["status"]["startTime"]
                        .as_str()
                        .map(|t| age_of(Some(t), now))
                        .unwrap_or_default()
                )
            },
        },
        Column {
            name: "CompletionTime",
            ty: "date",
            priority: 1,
            cell: |o, now| {
                json!(
                    o["status"]["completionTime"]
                        .as_str()
                        .map(|t| age_of(Some(t), now))
                        .unwrap_or_default()
                )
            },
        },
    ]
}

fn pod_ready(o: &Value) -> String {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = o["status"]["containerStatuses"].as_array().map_or(0, |cs| {
        cs.iter().filter(|c| c["ready"] == json!(true)).count()
    });
    format!("{ready}/{total}")
}

/// What `kubectl get pods` shows as STATUS: a waiting/terminated reason if any, else the phase.
fn pod_status(o: &Value) -> String {
    if o["metadata"].get("deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let reason = o["status"]["containerStatuses"].as_array().and_then(|cs| {
        cs.iter().find_map(|c| {
            c["state"]["waiting"]["reason"]
                .as_str()
                .or_else(|| c["state"]["terminated"]["reason"].as_str())
        })
    });
    reason
        .or_else(|| o["status"]["reason"].as_str())
        .or_else(|| o["status"]["phase"].as_str())
        .unwrap_or("Unknown")
        .to_string()
}

fn pod_columns() -> Vec<Column> {
    vec![
        name_col(),
        Column {
            name: "Ready",
            ty: "string",
            priority: 0,
            cell: |o, _| json!(pod_ready(o)),
        },
        Column {
            name: "Status",
            ty: "string",
            priority: 0,
            cell: |o, _| json!(pod_status(o)),
        },
        Column {
            name: "Restarts",
            ty: "string",
            priority: 0,
            cell: |o, _| {
                let n: i64 = o["status"]["containerStatuses"].as_array().map_or(0, |cs| {
                    cs.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
                });
                json!(n.to_string())
            },
        },
        age_col(),
        Column {
            name: "IP",
            ty: "string",
            priority: 1,
            cell: |o, _| text(&o["status"]["podIP"]),
        },
        Column {
            name: "Node",
            ty: "string",
            priority: 1,
            cell: |o, _| text(&o["spec"]["nodeName"]),
        },
    ]
}

fn columns(resource: &ResourceInfo) -> Vec<Column> {
    match resource.plural {
        "prowjobs" => prowjob_columns(),
        "pods" => pod_columns(),
        "namespaces" => vec![
            name_col(),
            Column {
                name: "Status",
                ty: "string",
                priority: 0,
                cell: |o, _| text(&o["status"]["phase"]),
            },
            age_col(),
        ],
        _ => vec![name_col(), age_col()],
    }
}

/// A Table of `objects`; each row carries the object's metadata so `-A` and `--show-labels` work.
pub fn render(
    resource: &ResourceInfo,
    objects: &[&Value],
    resource_version: u64,
    now: DateTime<Utc>,
) -> Value {
    let cols = columns(resource);
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| {
            let mut def = json!({"name": c.name, "type": c.ty, "format": "", "description": c.name, "priority": c.priority});
            if c.name == "Name" {
                def["format"] = json!("name");
            }
            def
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cols.iter().map(|c| (c.cell)(o, now)).collect::<Vec<_>>(),
                "object": {
                    "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                },
            })
        })
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::{PODS, PROWJOBS};
    use chrono::{Duration, TimeZone};

    #[test]
    fn durations_are_humanised_like_kubectl() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (60 * 45, "45m"),
            (3600 * 5 + 60 * 10, "5h10m"),
            (3600 * 20, "20h"),
            (3600 * 51, "2d3h"),
            (86400 * 30, "30d"),
            (86400 * 800, "2y70d"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::seconds(secs)), want, "{secs}");
        }
    }

    #[test]
    fn prowjob_rows_show_job_type_state_and_age() {
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 3, 10, 0).unwrap();
        let pj = json!({"metadata": {"name": "pj1", "namespace": "default", "creationTimestamp": "2024-01-02T03:05:00Z"},
                        "spec": {"job": "ci", "type": "periodic"}, "status": {"state": "pending"}});
        let t = render(&PROWJOBS, &[&pj], 7, now);
        assert_eq!(
            t["rows"][0]["cells"].as_array().unwrap()[..5],
            [
                json!("pj1"),
                json!("ci"),
                json!("periodic"),
                json!("pending"),
                json!("5m")
            ]
        );
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn pod_status_prefers_container_reasons_over_phase() {
        let now = Utc::now();
        let crashing = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}, {"name": "d"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "c", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "d", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let t = render(&PODS, &[&crashing], 1, now);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert_eq!(cells[3], "3");
    }
}
