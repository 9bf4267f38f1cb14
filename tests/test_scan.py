"""copilot scan: every failing pod with its diagnosis, from one list request per kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from builders import NS, incident, status, terminated, workload_chain

from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.scan import render, scan
from copilot.sources import KINDS
from copilot.sources.cached import CachedSource
from copilot.sources.snapshot import IncidentSource

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"


def copilot(*args):
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})


def test_scan_of_the_demo_recording_diagnoses_both_failing_pods():
    result = copilot("scan", "--incident", str(DEMO), "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    rows = {p["pod"]: p for p in doc["pods"]}
    assert doc["failing"] == 2 and set(rows) == {"payment-service-7d9f8b-xyz", "postgres-0"}
    assert {r["culprit"] for r in rows.values()} == {"StatefulSet/production/postgres"}
    assert rows["postgres-0"]["status"] == "OOMKilled (exit 137)" and "--limits=memory=" in rows["postgres-0"]["fix"]
    text = copilot("scan", "--incident", str(DEMO))
    header, *lines = text.stdout.splitlines()
    assert header.split()[:3] == ["NAMESPACE", "POD", "STATUS"] and len(lines) == 2


def test_scan_through_the_api_lists_each_kind_once_and_reads_only_failing_logs(tmp_path):
    with ReplayServer(load_incident(DEMO)) as server:
        result = copilot("scan", "-A", "-o", "json", "--kubeconfig", str(write_kubeconfig(tmp_path / "kc", server.url)))
        requests = server.requests
    assert result.returncode == 0, result.stderr
    assert [p["pod"] for p in json.loads(result.stdout)["pods"]] == ["payment-service-7d9f8b-xyz"]  # postgres's OOM is days old now
    paths = [urlsplit(path).path for method, path in requests if method == "GET"]
    lists = [p for p in paths if not p.endswith("/log")]
    assert len(lists) == len(set(lists)) == len(KINDS)            # one list per kind, Secrets as metadata among them
    assert all("/namespaces/" not in p for p in lists)             # cluster-wide lists, no per-object gets
    assert {p.split("/")[-2] for p in paths if p.endswith("/log")} <= {"payment-service-7d9f8b-xyz", "postgres-0"}


def crashing(name, exit_code, log, restarts=4):
    objects = workload_chain(name=name, pod=f"{name}-5c9d7-abcde",
                             statuses=[status(restarts=restarts, last=terminated(exit_code))], labels={"app": name})
    return objects, {f"{NS}/{name}-5c9d7-abcde/app": {"previous": log}}


def test_pods_of_one_workload_failing_alike_are_diagnosed_once():
    a, logs_a = crashing("api", 1, "Traceback (most recent call last):\nKeyError: 'DATABASE_URL'\n")
    replica = {**a[2], "metadata": {**a[2]["metadata"], "name": "api-5c9d7-fghij", "uid": "api-2"}}
    healthy = workload_chain(name="web", pod="web-5c9d7-zzzzz", statuses=[status(restarts=0, waiting=None, ready=True)])
    inc = incident(a + [replica] + healthy, logs=logs_a, pod="api-5c9d7-abcde")
    rows, gaps = scan(IncidentSource(inc), None)
    assert [(r.pod, r.same_as) for r in rows] == [("api-5c9d7-abcde", None), ("api-5c9d7-fghij", f"{NS}/api-5c9d7-abcde")]
    assert rows[0].category == rows[1].category == "missing_env_var" and gaps == []


def test_an_empty_scope_says_so():
    inc = incident(workload_chain(statuses=[status(restarts=0, waiting=None, ready=True)]))
    rows, gaps = scan(IncidentSource(inc), NS)
    out = __import__("io").StringIO()
    render(rows, gaps, "text", out, f"namespace {NS}")
    assert rows == [] and out.getvalue() == f"no failing pods in namespace {NS}\n"


def test_cached_source_answers_from_its_lists_and_defers_outside_them():
    source = IncidentSource(load_incident(DEMO))
    calls = []

    class Counting:
        description, default_namespace = source.description, "production"

        def now(self):
            return source.now()

        def list(self, kind, namespace, *selectors):
            calls.append(("list", kind, namespace))
            return source.list(kind, namespace, *selectors)

        def get(self, kind, namespace, name):
            calls.append(("get", kind, namespace))
            return source.get(kind, namespace, name)

    cached = CachedSource(Counting(), "production")
    listed = len(calls)
    assert cached.get("StatefulSet", "production", "postgres")["metadata"]["name"] == "postgres"
    assert [p["metadata"]["name"] for p in cached.list("Pod", "production", "app=postgres")] == ["postgres-0"]
    with pytest.raises(Exception, match="not found"):
        cached.get("ConfigMap", "production", "nope")
    assert len(calls) == listed                                     # all from memory
    cached.list("Pod", "kube-system")
    assert calls[-1] == ("list", "Pod", "kube-system")              # outside the listed namespace: asked


def test_bad_scan_options_are_one_line():
    result = copilot("scan", "-n", "a", "-A")
    assert result.returncode == 2 and result.stderr.strip() == "error: give -n NAMESPACE or -A, not both"


def test_evicted_and_unschedulable_pods_are_listed_with_what_explains_them():
    pending = workload_chain(name="big", pod="big-5c9d7-abcde", statuses=[], phase="Pending", pod_status={
        "containerStatuses": [], "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                 "message": "0/3 nodes are available: 3 Insufficient memory."}]})
    pending[2]["spec"].pop("nodeName")
    evicted = workload_chain(name="ev", pod="ev-5c9d7-abcde", statuses=[status(restarts=0, waiting=None)], phase="Failed",
                             pod_status={"reason": "Evicted", "message": "The node was low on resource: memory."})
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "True"}]}}
    rows, _ = scan(IncidentSource(incident(pending + evicted, pod="big-5c9d7-abcde", node=node)), None)
    by_pod = {r.pod: r for r in rows}
    assert by_pod["big-5c9d7-abcde"].status == "Unschedulable"
    assert by_pod["big-5c9d7-abcde"].summary == "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."
    assert by_pod["ev-5c9d7-abcde"].status == "Evicted" and by_pod["ev-5c9d7-abcde"].category == "node_issue"
