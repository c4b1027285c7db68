#!/usr/bin/env python3
"""Writes the checked-in seed corpus (fuzz/seeds/<target>/) from the repo's real inputs:
GitHub's webhook payloads (testdata/webhooks), the deployed and upstream Prow configs, real
comment commands, CloudEvents as hook and the broker send them, and Kubernetes API requests
as plank, crier, sinker and kubectl make them. Run from anywhere; rewrites the seeds."""
import base64
import json
import pathlib
import shutil
import urllib.parse

FUZZ = pathlib.Path(__file__).resolve().parent
REPO = FUZZ.parent
SEEDS = FUZZ / "seeds"


def framed(first, headers, body):
    head = "\n".join([first] + [f"{k}: {v}" for k, v in headers])
    return head.encode() + b"\n\n" + (body if isinstance(body, bytes) else body.encode())


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def webhooks():
    hooks = sorted((REPO / "testdata/webhooks").glob("*.json"))
    for i, path in enumerate(hooks):
        event = path.name.split(".")[0]
        # Deliveries are minified by GitHub; the vendored files are pretty-printed.
        body = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
        headers = [("X-GitHub-Event", event), ("X-GitHub-Delivery", f"d{i}"),
                   ("X-Hub-Signature-256", "sign"), ("Content-Type", "application/json")]
        write("webhook", path.stem, framed("POST /hook", headers, body))
    ok = [("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d"),
          ("X-Hub-Signature-256", "sign"), ("Content-Type", "application/json")]
    write("webhook", "get", framed("GET /hook", ok, "{}"))
    write("webhook", "form", framed("POST /", ok[:3] + [("Content-Type", "application/x-www-form-urlencoded")], "payload=%7B%7D"))
    write("webhook", "bad-signature", framed("POST /hook", ok[:2] + [("X-Hub-Signature-256", "sha256=00ff"), ok[3]], "{}"))
    write("webhook", "not-json", framed("POST /hook", ok, "{\"repository\":"))
    write("webhook", "action-number", framed("POST /hook", ok, '{"action":7,"organization":{"login":"o"}}'))

    for name, text in [("single", "s3cr3t\n"),
                       ("per-repo", "'*':\n- value: a\n  created_at: 2020-01-01T00:00:00Z\no/r:\n- value: b\n  created_at: 2021-01-01T00:00:00Z\n")]:
        write("webhook", f"secret-file-{name}", framed("POST /hook", ok, text))


def configs():
    cases = {
        "deployed": (REPO / "config/config.yaml", REPO / "config/jobs/prow-rs-presubmits.yaml", REPO / "config/plugins.yaml"),
        "deployed-periodics": (REPO / "config/config.yaml", REPO / "config/jobs/prow-rs-periodics.yaml", None),
        "deployed-postsubmits": (REPO / "config/config.yaml", REPO / "config/jobs/prow-rs-postsubmits.yaml", None),
        "integration-minimal": (REPO / "testdata/prow/examples/integration-minimal/config.yaml", None,
                                REPO / "testdata/prow/examples/integration-minimal/plugins.yaml"),
    }
    infra = REPO / "testdata/prow/test-infra/config"
    for jobs in sorted((infra / "jobs/etcd").glob("*.yaml"))[:6]:
        cases[f"etcd-{jobs.stem}"] = (REPO / "config/config.yaml", jobs, None)
    for name, (prow, jobs, plugins) in cases.items():
        parts = [prow.read_bytes(), jobs.read_bytes() if jobs else b""]
        if plugins:
            parts.append(plugins.read_bytes())
        write("config_yaml", name, b"\0".join(parts))
    # Kubernetes' own plugins.yaml is large; with an empty config.yaml it is a seed of its own.
    write("config_yaml", "test-infra-plugins", b"\0\0" + (infra / "prow/plugins.yaml").read_bytes())
    write("config_yaml", "test-infra-config", (infra / "prow/config.yaml").read_bytes())
    write("config_yaml", "snapshot", (REPO / "config/config.snapshot").read_bytes())


COMMENTS = [
    "/test all", "/test pull-prow-rs-unit", "/retest", "/retest-required", "/ok-to-test",
    "/lgtm", "/lgtm cancel", "/approve no-issue", "/approve cancel", "/hold", "/hold cancel",
    "/unhold", "/assign @alice @bob", "/unassign", "/cc @team/reviewers", "/uncc",
    "/label tide/merge-method-squash", "/remove-label needs-rebase", "/kind bug", "/remove-kind bug",
    "/area hook", "/priority critical-urgent", "/lifecycle frozen", "/remove-lifecycle stale",
    "/cherrypick release-1.30", "/cherry-pick release-1.29", "/retitle A new title",
    "/override pull-prow-rs-unit", "/close", "/reopen", "/release-note-none",
    "/check-dco", "/check-required-labels", "/meow", "/woof", "/shrug", "/joke",
    "/test-manual-required", "/skip", "/help", "/remove-help", "/good-first-issue",
    "Thanks!\n\n/lgtm\n/approve\n\n> /hold\n\n```\n/test all\n```\n",
    "    /test all\n\t/retest\n~~~\n/lgtm\n~~~\n/retest\r\n",
    "/TEST ALL\n/LGTM\n/test  all \n/test\tall\n/\n//\n/ test\n",
    "Some review text\n/lgtm\nand more\n/hold\nmore text /not-a-command\n",
]


def commands():
    for i, text in enumerate(COMMENTS):
        write("commands", f"c{i:02}", text.encode())
    for path in sorted((REPO / "testdata/webhooks").glob("issue_comment.*.json")):
        body = json.loads(path.read_text()).get("comment", {}).get("body") or ""
        write("commands", path.stem, body.encode())


def cloudevents():
    pr = json.dumps(json.loads((REPO / "testdata/webhooks/pull_request.opened.json").read_text()),
                    separators=(",", ":"))
    binary = [("ce-specversion", "1.0"), ("ce-id", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
              ("ce-type", "dev.prow.github.pull_request"),
              ("ce-source", "https://github.com/Codertocat/Hello-World"), ("ce-action", "opened"),
              ("Content-Type", "application/json")]
    write("cloudevent_http", "hook-binary", framed("POST /", binary, pr))
    write("cloudevent_http", "percent-encoded", framed("POST /", [
        ("ce-specversion", "1.0"), ("ce-id", "caf%C3%A9%20%22x%22"), ("ce-type", "t"),
        ("ce-source", "%2Fa%2Fb"), ("ce-subject", "%E2%9C%93"), ("ce-time", "2018-04-05T03:56:24Z"),
        ("Content-Type", "text/plain")], "hello"))
    structured = {"specversion": "1.0", "type": "dev.knative.apiserver.resource.update",
                  "id": "1", "source": "https://kubernetes.default", "subject": "/apis/prow.k8s.io/v1/prowjobs/x",
                  "datacontenttype": "application/json", "time": "2018-04-05T03:56:24Z",
                  "kind": "ProwJob", "count": 3, "flag": True,
                  "data": {"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob", "metadata": {"name": "x"}}}
    write("cloudevent_http", "structured-json", framed("POST /", [("Content-Type", "application/cloudevents+json; charset=utf-8")], json.dumps(structured)))
    b64 = dict(structured, datacontenttype="application/octet-stream", data_base64=base64.b64encode(b"\x00\x01binary").decode())
    del b64["data"]
    write("cloudevent_http", "structured-base64", framed("POST /", [("Content-Type", "application/cloudevents+json")], json.dumps(b64)))
    ping = {"specversion": "1.0", "type": "dev.knative.sources.ping", "id": "p", "source": "/apis/v1/namespaces/prow/pingsources/tide",
            "data": "{\"tick\":1}", "datacontenttype": "text/plain"}
    write("cloudevent_http", "structured-string", framed("POST /", [("Content-Type", "application/cloudevents+json")], json.dumps(ping)))
    write("cloudevent_http", "v03-binary", framed("POST /", [("ce-specversion", "0.3"), ("ce-id", "1"), ("ce-type", "t"),
          ("ce-source", "s"), ("ce-schemaurl", "https://example.com/s"), ("Content-Type", "application/json")], "{}"))
    write("cloudevent_http", "batch", framed("POST /", [("Content-Type", "application/cloudevents-batch+json")], "[]"))


def kube():
    pj = "/apis/prow.k8s.io/v1/namespaces/default/prowjobs"
    pods = "/api/v1/namespaces/default/pods"
    cms = "/api/v1/namespaces/default/configmaps"
    j = ("Content-Type", "application/json")
    job = {"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
           "metadata": {"generateName": "pull-", "labels": {"prow.k8s.io/job": "pull-unit", "prow.k8s.io/type": "presubmit"},
                        "annotations": {"prow.k8s.io/job": "pull-unit"}},
           "spec": {"type": "presubmit", "agent": "kubernetes", "cluster": "default", "job": "pull-unit",
                    "namespace": "test-pods", "report": True, "context": "pull-unit", "rerun_command": "/test pull-unit",
                    "refs": {"org": "o", "repo": "r", "base_ref": "main", "base_sha": "a" * 40,
                             "pulls": [{"number": 7, "author": "x", "sha": "b" * 40, "title": "t"}]},
                    "decoration_config": {"timeout": "2h", "grace_period": "15s", "gcs_configuration": {"bucket": "b", "path_strategy": "explicit"}},
                    "pod_spec": {"containers": [{"image": "alpine", "command": ["sh", "-c", "true"], "resources": {"requests": {"cpu": "1"}}}]}},
           "status": {"state": "triggered", "startTime": "2024-01-01T00:00:00Z"}}
    write("kube_api", "create-prowjob", framed(f"POST {pj}", [j], json.dumps(job)))
    write("kube_api", "create-prowjob-dry-run", framed(f"POST {pj}?dryRun=All&fieldManager=plank", [j], json.dumps(job)))
    status = {"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob", "metadata": {"name": "seed", "resourceVersion": "4"},
              "spec": {"type": "presubmit", "job": "ci"}, "status": {"state": "success", "startTime": "2024-01-01T00:00:00Z",
                                                                      "completionTime": "2024-01-01T00:05:00Z", "pod_name": "seed",
                                                                      "prev_report_states": {"github-reporter": "success"}}}
    write("kube_api", "update-prowjob", framed(f"PUT {pj}/seed", [j], json.dumps(status)))
    write("kube_api", "update-prowjob-status", framed(f"PUT {pj}/seed/status", [j], json.dumps(status)))
    write("kube_api", "merge-patch-status", framed(f"PATCH {pj}/seed/status", [("Content-Type", "application/merge-patch+json")],
          json.dumps({"status": {"state": "success", "completionTime": "2024-01-01T00:05:00Z", "description": "Job succeeded."}})))
    write("kube_api", "merge-patch-crier", framed(f"PATCH {pj}/seed", [("Content-Type", "application/merge-patch+json")],
          json.dumps({"metadata": {"labels": {"a": None, "b": "c"}, "finalizers": ["prow.x-k8s.io/gcsk8sreporter"]},
                      "status": {"prev_report_states": {"github-reporter": "pending"}}})))
    write("kube_api", "json-patch", framed(f"PATCH {pj}/seed", [("Content-Type", "application/json-patch+json")],
          json.dumps([{"op": "test", "path": "/status/state", "value": "pending"},
                      {"op": "replace", "path": "/status/state", "value": "aborted"},
                      {"op": "add", "path": "/metadata/labels/x~1y", "value": "z"},
                      {"op": "remove", "path": "/spec/refs/pulls/0"},
                      {"op": "move", "from": "/spec/job", "path": "/spec/context"},
                      {"op": "copy", "from": "/metadata/name", "path": "/metadata/annotations"}])))
    write("kube_api", "strategic-pod", framed(f"PATCH {pods}/seed", [("Content-Type", "application/strategic-merge-patch+json")],
          json.dumps({"metadata": {"labels": {"x": "y"}}, "spec": {"containers": [{"name": "test", "env": [{"name": "B", "value": "2"}, {"name": "A", "$patch": "delete"}]},
                                                                                 {"name": "sidecar", "image": "busybox"}],
                                                                  "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "test"}]}})))
    write("kube_api", "strategic-pod-replace", framed(f"PATCH {pods}/seed", [("Content-Type", "application/strategic-merge-patch+json")],
          json.dumps({"spec": {"$retainKeys": ["containers"], "containers": [{"name": "test", "$patch": "replace", "image": "x"}]}, "$patch": "merge"})))
    write("kube_api", "pod-status", framed(f"PATCH {pods}/seed/status", [("Content-Type", "application/merge-patch+json")],
          json.dumps({"status": {"phase": "Succeeded", "containerStatuses": [{"name": "test", "state": {"terminated": {"exitCode": 0}}}]}})))
    write("kube_api", "apply-configmap", framed(f"PATCH {cms}/updated?fieldManager=config-updater&force=true", [("Content-Type", "application/apply-patch+yaml")],
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: updated\ndata:\n  config.yaml: |\n    a: 1\nbinaryData:\n  b: AAEC\n"))
    write("kube_api", "update-configmap", framed(f"PUT {cms}/seed", [j],
          json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seed", "resourceVersion": "3"}, "data": {"k": "v"}})))
    write("kube_api", "create-pod", framed(f"POST {pods}", [j], json.dumps({"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": "p1", "labels": {"created-by-prow": "true", "prow.k8s.io/id": "seed"}},
          "spec": {"restartPolicy": "Never", "containers": [{"name": "test", "image": "alpine", "command": ["true"]}]}})))
    write("kube_api", "delete-pod", framed(f"DELETE {pods}/seed", [j], json.dumps({"kind": "DeleteOptions", "apiVersion": "v1",
          "gracePeriodSeconds": 0, "propagationPolicy": "Background", "preconditions": {"uid": "x"}})))
    write("kube_api", "delete-collection", framed(f"DELETE {pj}?labelSelector=prow.k8s.io%2Fjob%3Dci", [j], "{}"))
    write("kube_api", "create-namespace", framed("POST /api/v1/namespaces", [j], json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test-pods"}})))


if __name__ == "__main__":
    shutil.rmtree(SEEDS, ignore_errors=True)
    webhooks()
    configs()
    commands()
    cloudevents()
    kube()
    for d in sorted(SEEDS.iterdir()):
        print(d.name, len(list(d.iterdir())))
