"""Reliability: what the user gets when the API server, its watch or Prometheus fail.

The contract: a partial RCA whose gaps name what could not be read, or one clear line on stderr and a
non-zero exit; never a traceback, never a hang. Faults are played by the replay server (`Fault`: an HTTP
status, a delay past the client's timeout, a body cut short, a watch stream dropped) on the demo incident,
whose right answer is StatefulSet/production/postgres. LLM faults are covered in test_llm.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fakeslack import FakeSlack, closed_url
from promserver import PromStub

from copilot import app
from copilot.errors import CopilotError, Unreachable
from copilot.incident import load_incident
from copilot.replay import Fault, ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
NS, POD = "production", "payment-service-7d9f8b-xyz"
POSTGRES = "StatefulSet/production/postgres"
USER = "(user system:serviceaccount:copilot:copilot)"
HANG_GUARD_S = 60  # a hang guard, not a performance assertion


@pytest.fixture
def replay():
    with ReplayServer(load_incident(DEMO)) as server:
        yield server


def kubeconfig(server: ReplayServer, tmp_path: Path) -> str:
    return str(write_kubeconfig(tmp_path / "kc", server.url, NS))


def diagnose(server: ReplayServer, tmp_path: Path, timeout: float = 10.0):
    source = KubeSource(kubeconfig=kubeconfig(server, tmp_path), request_timeout=timeout)
    try:
        return app.run_rca(source, app.Target(NS, POD), no_llm=True)
    finally:
        source.close()


def copilot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The command as a user runs it, without an LLM or a Prometheus from the environment; a hang fails the test."""
    result = subprocess.run([sys.executable, "-m", "copilot", *args], check=False, capture_output=True, text=True, input=stdin,
                            stdin=None if stdin is not None else subprocess.DEVNULL, timeout=HANG_GUARD_S,
                            env={**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "PROMETHEUS_URL": "", "COPILOT_DEBUG": ""})
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def culprit(rca) -> str:
    return f"{rca.culprit.kind}/{rca.culprit.namespace}/{rca.culprit.name}"


def errors(stderr: str) -> list[str]:
    """The error lines; every other stderr line must be a note."""
    lines = stderr.splitlines()
    assert all(line.startswith(("error: ", "note: ")) for line in lines), stderr
    return [line for line in lines if line.startswith("error: ")]


# --- one kind fails, the RCA is still produced and names what it could not read ---------------

def forbidden(what: str, where: str = f"in namespace {NS}") -> str:
    return f"forbidden: cannot {what} {where} {USER}"


def http(code: int, verb: str, path: str) -> str:
    return f"{verb}: HTTP {code} from {{url}}: injected fault: HTTP {code} on {path}"


CLOSED = "cannot reach the cluster at {url}: the connection was closed by the server; check --context/--kubeconfig"
SLOW = "cannot reach the cluster at {url}: no answer within 1s; check --context/--kubeconfig"
PAYMENT_LOG = f"/api/v1/namespaces/{NS}/pods/{POD}/log"
POSTGRES_LOG = f"/api/v1/namespaces/{NS}/pods/postgres-0/log"

# (faults, the culprit when the answer can still be right (else the category), every gap the RCA names)
PARTIAL = {
    "403-events": ([("/events", Fault(403))], POSTGRES, [
        f"list Event in {NS}: " + forbidden("list events"),
        f"list EventsV1 in {NS}: " + forbidden("list events.events.k8s.io"),
        "list Event in all namespaces: " + forbidden("list events", "at cluster scope")]),
    "403-statefulsets": ([("/statefulsets", Fault(403))], POSTGRES, [
        f"StatefulSet {NS}/postgres: " + forbidden("get statefulsets.apps")]),
    "403-nodes": ([("/nodes", Fault(403))], POSTGRES, ["Node node-a: " + forbidden("get nodes", "at cluster scope")]),
    "403-endpoints": ([("/endpoints", Fault(403))], POSTGRES, [f"Endpoints {NS}/postgres: " + forbidden("get endpoints")]),
    "403-secrets": ([("/secrets", Fault(403))], POSTGRES, [f"Secret {NS}/payment-db: " + forbidden("get secrets")]),
    "403-owners": ([("/replicasets", Fault(403)), ("/deployments", Fault(403))], POSTGRES, [
        f"ReplicaSet {NS}/payment-service-7d9f8b: " + forbidden("get replicasets.apps")]),
    "403-networkpolicies": ([("/networkpolicies", Fault(403))], POSTGRES, [
        f"list NetworkPolicy in {NS}: " + forbidden("list networkpolicies.networking.k8s.io")]),
    "403-all-but-pods-logs-services": (
        [(r"/(events|statefulsets|nodes|endpoints|secrets|replicasets|deployments|networkpolicies)\b", Fault(403))], POSTGRES, [
            f"list Event in {NS}: " + forbidden("list events"),
            f"list EventsV1 in {NS}: " + forbidden("list events.events.k8s.io"),
            "list Event in all namespaces: " + forbidden("list events", "at cluster scope"),
            f"ReplicaSet {NS}/payment-service-7d9f8b: " + forbidden("get replicasets.apps"),
            f"Secret {NS}/payment-db: " + forbidden("get secrets"),
            "Node node-a: " + forbidden("get nodes", "at cluster scope"),
            f"Endpoints {NS}/postgres: " + forbidden("get endpoints"),
            f"StatefulSet {NS}/postgres: " + forbidden("get statefulsets.apps"),
            f"list NetworkPolicy in {NS}: " + forbidden("list networkpolicies.networking.k8s.io")]),
    # without Services or pod lists the dependency cannot be resolved: the crash is still explained, the gap says why
    "403-services": ([("/services", Fault(403))], "dependency_unavailable", [
        f"list Service in {NS}: " + forbidden("list services")]),
    "403-pod-lists": ([(r"/pods\?", Fault(403))], "dependency_unavailable", [
        f"list Pod in {NS}: " + forbidden("list pods"), "list Pod in all namespaces: " + forbidden("list pods", "at cluster scope")]),
    "500-statefulsets": ([("/statefulsets", Fault(500))], POSTGRES, [
        f"StatefulSet {NS}/postgres: " + http(500, "get statefulsets.apps", f"/apis/apps/v1/namespaces/{NS}/statefulsets/postgres")]),
    "500-dependency-logs": ([("/pods/postgres-0/log", Fault(500))], POSTGRES, [
        "previous log of postgres-0/postgres: " + http(500, "get pods/log", POSTGRES_LOG),
        "current log of postgres-0/postgres: " + http(500, "get pods/log", POSTGRES_LOG)]),
    "500-target-logs": ([(f"/pods/{POD}/log", Fault(500))], "app_crash", [
        f"previous log of {POD}/payment: " + http(500, "get pods/log", PAYMENT_LOG),
        f"current log of {POD}/payment: " + http(500, "get pods/log", PAYMENT_LOG)]),
    "429-events": ([("/events", Fault(429))], POSTGRES, [
        f"list Event in {NS}: " + http(429, "list events", f"/api/v1/namespaces/{NS}/events"),
        f"list EventsV1 in {NS}: " + http(429, "list events.events.k8s.io", f"/apis/events.k8s.io/v1/namespaces/{NS}/events"),
        "list Event in all namespaces: " + http(429, "list events", "/api/v1/events")]),
    # KubeSource's THROTTLED policy asks a 429/5xx again (3 attempts in all): a passing failure leaves no trace,
    "500-on-the-first-log-read-only": ([("/pods/postgres-0/log", Fault(500, times=1))], POSTGRES, []),
    # one that outlasts the attempts is a gap
    "500-on-three-log-reads": ([("/pods/postgres-0/log", Fault(500, times=3))], POSTGRES, [
        "previous log of postgres-0/postgres: " + http(500, "get pods/log", POSTGRES_LOG)]),
    # the pods are deleted after the GET: their logs are 404
    "404-target-logs-pod-vanished": ([(f"/pods/{POD}/log", Fault(404))], "app_crash", [
        f'previous log of {POD}/payment: pods/log "{POD}" not found', f'current log of {POD}/payment: pods/log "{POD}" not found']),
    "404-dependency-logs-pod-vanished": ([("/pods/postgres-0/log", Fault(404))], POSTGRES, [
        'previous log of postgres-0/postgres: pods/log "postgres-0" not found',
        'current log of postgres-0/postgres: pods/log "postgres-0" not found']),
    "truncated-list": ([(f"/namespaces/{NS}/services", Fault(truncate=True))], "dependency_unavailable", [
        f"list Service in {NS}: " + CLOSED]),
    "truncated-events": ([(f"/namespaces/{NS}/events", Fault(truncate=True))], POSTGRES, [
        f"list Event in {NS}: " + CLOSED, f"list EventsV1 in {NS}: " + CLOSED]),
    "truncated-dependency-log": ([("/pods/postgres-0/log", Fault(truncate=True))], POSTGRES, [
        "previous log of postgres-0/postgres: " + CLOSED, "current log of postgres-0/postgres: " + CLOSED]),
    "truncated-target-log": ([(f"/pods/{POD}/log", Fault(truncate=True))], "app_crash", [
        f"previous log of {POD}/payment: " + CLOSED, f"current log of {POD}/payment: " + CLOSED]),
    "slow-endpoints": ([("/endpoints", Fault(delay=1.5))], POSTGRES, [f"Endpoints {NS}/postgres: " + SLOW]),
    "slow-dependency-log": ([(r"/pods/postgres-0/log\?.*previous=true", Fault(delay=1.5))], POSTGRES, [
        "previous log of postgres-0/postgres: " + SLOW]),
}


@pytest.mark.parametrize("faults, want, gaps", PARTIAL.values(), ids=PARTIAL.keys())
def test_a_failing_read_is_a_named_gap_in_a_partial_rca(replay, tmp_path, faults, want, gaps):
    for pattern, fault in faults:
        replay.inject(pattern, fault)
    began = time.monotonic()
    rca = diagnose(replay, tmp_path, timeout=1.0 if any(f.delay for _, f in faults) else 10.0)
    assert time.monotonic() - began < HANG_GUARD_S
    if "/" in want:
        assert (rca.category, culprit(rca)) == ("dependency_unavailable", want)
    else:
        assert rca.category == want
    # each failed read once; no "no events recorded" or "the kubelet no longer has it": unreadable is not empty
    assert sorted(rca.analysis.gaps) == sorted(gap.format(url=replay.url) for gap in gaps)


# --- the target pod itself fails: one line, the exit code says why ------------------------------

TARGET = rf"/pods/{POD}$"


@pytest.mark.parametrize("fault, code, message", [
    (Fault(403), 4, f"forbidden: cannot get pods in namespace {NS} {USER}"),
    (Fault(404), 3, f'pod "{POD}" not found in namespace {NS}'),    # listed, yet gone: no "did you mean" itself
    (Fault(500), 1, http(500, "get pods", f"/api/v1/namespaces/{NS}/pods/{POD}")),
    (Fault(429), 1, http(429, "get pods", f"/api/v1/namespaces/{NS}/pods/{POD}")),
    (Fault(truncate=True), 5, CLOSED),
], ids=["403", "404", "500", "429", "truncated"])
def test_the_target_pod_failing_is_one_line_and_an_exit_code(replay, tmp_path, fault, code, message):
    replay.inject(TARGET, fault)
    result = copilot("rca", POD, "-n", NS, "--kubeconfig", kubeconfig(replay, tmp_path), "--no-llm")
    assert result.returncode == code and result.stdout == ""
    assert errors(result.stderr) == [f"error: {message.format(url=replay.url)}"]


def test_the_target_pod_slower_than_the_client_timeout_is_unreachable(replay, tmp_path):
    replay.inject(TARGET, Fault(delay=1.5))
    with pytest.raises(Unreachable) as e:
        diagnose(replay, tmp_path, timeout=1.0)
    assert str(e.value) == SLOW.format(url=replay.url) and e.value.exit_code == 5


def test_the_cli_shows_the_gaps_of_a_partial_rca(replay, tmp_path):
    replay.inject("/statefulsets", Fault(403))
    replay.inject("/pods/postgres-0/log", Fault(500))
    result = copilot("rca", POD, "-n", NS, "--kubeconfig", kubeconfig(replay, tmp_path), "--no-llm", "-o", "json")
    assert result.returncode == 0, result.stderr
    rca = json.loads(result.stdout)
    assert rca["culprit"] == {"kind": "StatefulSet", "namespace": NS, "name": "postgres"}
    assert f"StatefulSet {NS}/postgres: " + forbidden("get statefulsets.apps") in rca["analysis"]["gaps"]
    assert "current log of postgres-0/postgres: " + http(500, "get pods/log", POSTGRES_LOG).format(url=replay.url) \
        in rca["analysis"]["gaps"]


def test_a_pod_deleted_during_a_chat_is_one_error_line_and_the_chat_goes_on(replay, tmp_path):
    replay.inject(r"/pods/postgres-0$", Fault(404))
    result = copilot("chat", POD, "-n", NS, "--kubeconfig", kubeconfig(replay, tmp_path), "--no-llm",
                     stdin="/logs postgres-0\n/events postgres-0\n/quit\n")
    assert result.returncode == 0
    assert errors(result.stderr) == ['error: pods "postgres-0" not found']
    assert "Readiness probe failed: /var/run/postgresql:5432 - rejecting connections" in result.stdout


# --- copilot watch --once and copilot scan ----------------------------------------------------

def watch_once(server: ReplayServer, tmp_path: Path, *more: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    result = copilot("watch", "-A", "--once", "--no-llm", "--kubeconfig", kubeconfig(server, tmp_path), *more)
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def test_watch_once_with_forbidden_and_failing_kinds_still_notifies_naming_postgres(replay, tmp_path):
    replay.inject("/events", Fault(403))
    replay.inject("/statefulsets", Fault(500))
    with FakeSlack() as slack:
        result, lines = watch_once(replay, tmp_path, "--slack-webhook", slack.url)
    assert result.returncode == 0 and errors(result.stderr) == []
    assert [(e["event"], e.get("key")) for e in lines if e["event"] == "notified"] == [("notified", POSTGRES)]
    assert len(slack.posts) == 1 and POSTGRES in json.dumps(slack.posts[0].json)


def test_watch_once_when_the_pod_vanishes_between_list_and_diagnosis_says_so_and_exits_0(replay, tmp_path):
    replay.inject(TARGET, Fault(404))
    result, lines = watch_once(replay, tmp_path)
    assert result.returncode == 0
    assert [(e["event"], e.get("error")) for e in lines if e["event"] in ("error", "notified")] == [
        ("error", f'pod "{POD}" not found in namespace {NS}')]


def test_watch_once_when_pods_cannot_be_listed_is_one_error_line(replay, tmp_path):
    replay.inject(r"/api/v1/pods\?limit=500$", Fault(500))
    result, lines = watch_once(replay, tmp_path)
    assert result.returncode == 1 and lines == []
    assert errors(result.stderr) == ["error: " + http(500, "list pods", "/api/v1/pods").format(url=replay.url)]


def test_scan_with_failing_kinds_prints_the_table_and_notes(replay, tmp_path):
    replay.inject("/events", Fault(403))
    replay.inject("/statefulsets", Fault(403))
    replay.inject(r"/api/v1/nodes\?", Fault(500))
    result = copilot("scan", "-A", "--kubeconfig", kubeconfig(replay, tmp_path))
    assert result.returncode == 0 and result.stderr == ""
    header, row, *notes = result.stdout.splitlines()
    assert header.split()[:3] == ["NAMESPACE", "POD", "STATUS"]
    assert row.split()[:2] == [NS, POD] and POSTGRES in row
    assert notes == ["note: list Event: " + forbidden("list events", "at cluster scope"),
                     "note: list Node: " + http(500, "list nodes", "/api/v1/nodes").format(url=replay.url),
                     "note: list StatefulSet: " + forbidden("list statefulsets.apps", "at cluster scope"),
                     "note: list EventsV1: " + forbidden("list events.events.k8s.io", "at cluster scope")]


def test_scan_when_pods_are_forbidden_is_one_error_line_exit_4(replay, tmp_path):
    replay.inject(r"/api/v1/pods\?", Fault(403))
    result = copilot("scan", "-A", "--kubeconfig", kubeconfig(replay, tmp_path))
    assert result.returncode == 4 and result.stdout == ""
    assert errors(result.stderr) == ["error: " + forbidden("list pods", "at cluster scope")]


# --- the streaming watcher: a dropped stream reconnects and nothing is lost ------------------------

def watches(server: ReplayServer) -> list[str]:
    return [path for _, path in server.requests if "watch=1" in path]


@pytest.mark.parametrize("fault, requests", [(Fault(truncate=True, times=1), 2), (Fault(500, times=3), 4)],
                         ids=["truncated", "500-past-the-retries"])  # 3 answered 500 (the THROTTLED policy's attempts), then one
def test_a_dropped_watch_stream_reconnects_and_the_incident_is_notified_once(replay, tmp_path, fault, requests):
    from copilot.notify import SlackNotifier
    from copilot.watch.loop import Options, Watcher
    from copilot.watch.state import State

    recorded = replay.api.store.rewind()
    replay.inject(r"[?&]watch=1", fault)
    source = KubeSource(kubeconfig=kubeconfig(replay, tmp_path))
    out = io.StringIO()
    with FakeSlack() as slack:
        watcher = Watcher(source, State(), lambda t: app.diagnose(source, app.Target(t.namespace, t.pod), no_llm=True).rca,
                          [SlackNotifier(slack.url)], Options(namespace=None, batch_window_s=0.1), out)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not watcher.health.ready and time.monotonic() < deadline:
                time.sleep(0.02)
            assert watcher.health.ready and slack.posts == []
            replay.api.store.play(recorded)            # the first watch answers with the incident, then breaks
            posts = slack.wait_for(1, timeout=30)
            deadline = time.monotonic() + 20
            while len(watches(replay)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)                              # what the new stream brings: no second message
        finally:
            stop.set()
            thread.join(10)
            source.close()
    assert not thread.is_alive() and len(slack.posts) == 1
    assert POSTGRES in json.dumps(posts[0].json)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "watching" and kinds.count("reconnect") == 1 and kinds.count("notified") == 1 and "error" not in kinds
    versions = [parse_qs(urlsplit(path).query)["resourceVersion"][0] for path in watches(replay)]
    assert versions[0] == "1" and len(versions) == requests
    if fault.truncate:   # the events before the cut were seen: the second watch resumes after them, not from the list
        assert int(versions[1]) > 1


def test_a_forbidden_watch_stops_the_watcher_with_one_clear_error(replay, tmp_path):
    from copilot.watch.loop import Options, Watcher
    from copilot.watch.state import State

    replay.api.store.rewind()                              # nothing fails yet: the watch itself is refused
    replay.inject(r"[?&]watch=1", Fault(403))
    source = KubeSource(kubeconfig=kubeconfig(replay, tmp_path))
    out = io.StringIO()
    try:
        with pytest.raises(CopilotError) as e:
            Watcher(source, State(), lambda t: None, [], Options(namespace=None), out).run(threading.Event())
    finally:
        source.close()
    assert str(e.value) == forbidden("watch pods", "at cluster scope")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["watching", "error"]


# --- Prometheus down, slow, or answering errors: the RCA is the same, the gap says why ----------------

MATRIX = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795183200,"1"]]}]}}'
PROMETHEUS = {
    "down": (None, "is unreachable: connection refused"),
    "slow": ({"delay": 30}, "did not answer within 5s"),
    "http-500": ({"status": 500, "body": b'{"status":"error","errorType":"timeout","error":"query timed out in query execution"}'},
                 "answered HTTP 500: query timed out in query execution"),
    "status-error": ({"body": b'{"status":"error","errorType":"bad_data","error":"bad"}'},
                     "answered without data.result (is the URL the Prometheus server?)"),
    "garbage": ({"body": b"<html><body>Grafana</body></html>"},
                "answered with something that is not Prometheus JSON (is the URL the Prometheus server?)"),
    "truncated": ({"body": MATRIX[:60], "truncate": True}, "closed the connection before its answer was complete"),
}


@pytest.mark.parametrize("fault, why", PROMETHEUS.values(), ids=PROMETHEUS.keys())
def test_prometheus_faults_are_one_gap_and_the_rca_still_names_postgres(fault, why):
    prometheus = PromStub(**fault) if fault is not None else None
    url = prometheus.url if prometheus else closed_url("")
    try:
        result = copilot("rca", "--incident", str(DEMO), "--prometheus-url", url, "--no-llm", "-o", "json")
    finally:
        if prometheus:
            prometheus.close()
    assert result.returncode == 0 and errors(result.stderr) == []
    rca = json.loads(result.stdout)
    assert rca["culprit"] == {"kind": "StatefulSet", "namespace": NS, "name": "postgres"}
    assert rca["analysis"]["gaps"] == [f"memory and CPU series: Prometheus at {url} {why}"]
    assert not any(e["source"] == "metrics" for e in rca["evidence"])


def test_a_slow_api_server_gives_a_partial_rca_within_the_collection_budget(replay, tmp_path):
    from copilot.collector import collect
    from copilot.diagnose import rules_rca

    replay.inject(r"/(events|replicasets|deployments|statefulsets|services|endpoints|nodes|networkpolicies|configmaps|secrets)",
                  Fault(delay=0.4))
    source = KubeSource(kubeconfig=kubeconfig(replay, tmp_path))
    try:
        started = time.monotonic()
        bundle = collect(source, NS, POD, budget_s=1.0)
        took = time.monotonic() - started
    finally:
        source.close()
    budget = [g for g in bundle.gaps if "budget" in g]
    assert len(budget) == 1 and budget[0].startswith("reading the cluster took longer than its 1 s budget; not read: ")
    assert took < 1.0 + 3 * 0.4 + 2                                     # the budget, the reads in flight, slack
    payment = bundle.target.containers[0]
    assert payment.previous_log is not None and "FATAL" in payment.previous_log.text()  # the target's logs are always read
    assert rules_rca(bundle).category                                    # and the rules still answer
