"""The read-only proof: every command that reads a cluster (rca, record, scan, watch, chat) sends GET requests
only, reads Secrets as metadata, and never shows a Secret's value, in its output, a recording or a Slack message.

One replay of the demo incident serves all five commands and records every request. Its Secret payment-db
(referenced by the target pod's DB_PASSWORD) is planted with a value in `data`, in `stringData` and in the
annotation `kubectl apply` leaves, which carries the whole manifest even in a metadata-only read.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakeslack import FakeSlack

from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
NS, POD = "production", "payment-service-7d9f8b-xyz"
SECRET = "Pg-Pr0d-hunter2-7fK2qLx9"                      # fake
ENCODED = base64.b64encode(SECRET.encode()).decode()
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
METADATA_ONLY = ("as=PartialObjectMetadata;", "as=PartialObjectMetadataList;")
CHAT = "why is payment-service crashing?\n/logs postgres-0\n/events\n/quit\n"


@dataclass
class Run:
    name: str
    result: subprocess.CompletedProcess
    requests: int       # how many requests it sent


@dataclass
class Session:
    server: ReplayServer
    requests: list[tuple[str, str]]
    accepts: list[tuple[str, str | None]]          # (path, Accept) of every GET and HEAD
    runs: dict[str, Run] = field(default_factory=dict)
    recording: str = ""
    slack: list[bytes] = field(default_factory=list)


def plant(server: ReplayServer) -> None:
    """Give the Secret values, behind the store's back: the replay itself never keeps any."""
    secret = server.api.store._objects["Secret"][(NS, "payment-db")]
    secret["data"] = {"password": ENCODED}
    secret["stringData"] = {"password": SECRET}
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "payment-db", "namespace": NS},
                "stringData": {"password": SECRET}}
    secret["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(manifest)}


def copilot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "copilot", *args], check=False, capture_output=True, text=True, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL, timeout=60,
                          env={**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "PROMETHEUS_URL": ""})


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Session:
    work = tmp_path_factory.mktemp("readonly")
    with FakeSlack() as slack:
        with ReplayServer(load_incident(DEMO)) as server:
            plant(server)
            kc = str(write_kubeconfig(work / "kc", server.url, NS))
            s = Session(server, [], [])
            commands = {
                "rca": (["rca", POD, "-n", NS, "--kubeconfig", kc, "--no-llm"], None),
                "record": (["record", POD, "-n", NS, "--kubeconfig", kc, "-o", str(work / "recorded.yaml")], None),
                "scan": (["scan", "-A", "--kubeconfig", kc], None),
                "watch": (["watch", "-A", "--once", "--no-llm", "--kubeconfig", kc, "--slack-webhook", slack.url,
                           "--state", str(work / "state.json")], None),
                "chat": (["chat", POD, "-n", NS, "--kubeconfig", kc, "--no-llm"], CHAT),
            }
            for name, (args, stdin) in commands.items():
                before = len(server.requests)
                began = time.monotonic()
                result = copilot(*args, stdin=stdin)
                assert time.monotonic() - began < 60
                s.runs[name] = Run(name, result, len(server.requests) - before)
            s.requests = server.requests
            s.accepts = server.accepts
            s.recording = (work / "recorded.yaml").read_text()
            s.slack = [p.body for p in slack.posts]
            yield s


def test_each_command_ran_against_the_replay_and_did_its_job(session):
    runs = session.runs
    for run in runs.values():
        assert run.result.returncode == 0, (run.name, run.result.stderr)
        assert run.requests > 0 and "Traceback" not in run.result.stderr
    assert "kubectl -n production set resources statefulset/postgres" in runs["rca"].result.stdout
    assert "recorded production/payment-service-7d9f8b-xyz:" in runs["record"].result.stderr
    assert "StatefulSet/production/postgres" in runs["scan"].result.stdout
    notified = [json.loads(line) for line in runs["watch"].result.stdout.splitlines() if '"notified"' in line]
    assert [n["key"] for n in notified] == ["StatefulSet/production/postgres"] and len(session.slack) == 1
    assert "database system is ready to accept connections" in runs["chat"].result.stdout      # /logs postgres-0
    assert "Readiness probe failed" in runs["chat"].result.stdout                              # /events
    assert sum(run.requests for run in runs.values()) == len(session.requests)


def test_every_request_is_a_get(session):
    assert session.requests and {method for method, _ in session.requests} == {"GET"}
    assert len(session.accepts) == len(session.requests)


def test_secrets_are_only_the_referenced_one_and_the_scan_list_read_as_metadata(session):
    paths = {path for _, path in session.requests if "/secrets" in path}
    assert paths == {f"/api/v1/namespaces/{NS}/secrets/payment-db", "/api/v1/secrets?limit=500"}
    secret_reads = [(path, accept) for path, accept in session.accepts if "/secrets" in path]
    assert secret_reads and all(any(m in (accept or "") for m in METADATA_ONLY) for _, accept in secret_reads), secret_reads
    assert not any("/secrets" in path and "watch" in path for _, path in session.requests)


def test_the_planted_value_would_cross_the_wire_if_asked_for(session):
    """Guards the proof itself: the replay holds the value, so only the client's Accept header keeps it out."""
    full = session.server.api.handle(["api", "v1", "namespaces", NS, "secrets", "payment-db"], {}, "application/json")
    assert ENCODED.encode() in full.body


def test_no_secret_value_in_any_output_recording_or_message(session):
    outputs = {f"{r.name} {stream}": getattr(r.result, stream) for r in session.runs.values() for stream in ("stdout", "stderr")}
    outputs["recorded.yaml"] = session.recording
    outputs |= {f"slack post {i}": body.decode() for i, body in enumerate(session.slack)}
    leaks = [where for where, text in outputs.items() if SECRET in text or ENCODED in text]
    assert leaks == []
    assert "payment-db" in session.recording and LAST_APPLIED not in session.recording


def test_kube_source_keeps_no_secret_value_even_from_the_last_applied_annotation(tmp_path):
    with ReplayServer(load_incident(DEMO)) as server:
        plant(server)
        source = KubeSource(kubeconfig=write_kubeconfig(tmp_path / "kc", server.url, NS))
        try:
            got = [source.get("Secret", NS, "payment-db"), *source.list("Secret", NS)]
        finally:
            source.close()
    assert [s["metadata"]["name"] for s in got] == ["payment-db", "payment-db"]
    text = json.dumps(got)
    assert SECRET not in text and ENCODED not in text and "data" not in got[0]
