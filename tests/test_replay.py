"""The replay server: real kubectl and plain HTTP against a recorded incident on loopback."""

import _thread
import io
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from builders import incident, workload_chain
from copilot.incident import load_incident
from copilot.replay import ReplayServer, run_replay, write_kubeconfig
from copilot.sources import KINDS

DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"
PAYMENT = "payment-service-7d9f8b-xyz"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


@pytest.fixture
def server():
    with ReplayServer(load_incident(DEMO)) as s:
        yield s


class Kubectl:
    def __init__(self, server: ReplayServer, home: Path):
        self.server, self.home = server, home
        self.config = write_kubeconfig(home / "kubeconfig", server.url, namespace="production")

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home)}
        done = subprocess.run([KUBECTL, "--kubeconfig", str(self.config), "--cache-dir", str(self.home / "cache"), *args],
                              env=env, capture_output=True, text=True, timeout=30)
        assert (done.returncode == 0) is ok, done.stderr
        return done

    def methods(self) -> set[str]:
        return {method for method, _ in self.server.requests}


@pytest.fixture
def kubectl(server, tmp_path):
    return Kubectl(server, tmp_path)


def table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def http(server: ReplayServer, path: str, method: str = "GET", accept: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(server.url + path, method=method, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


# --- kubectl ----------------------------------------------------------------

@needs_kubectl
def test_get_pods_all_namespaces_shows_the_crash_loop(kubectl):
    rows = table(kubectl("get", "pods", "-A").stdout)
    assert rows == [
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["production", PAYMENT, "0/1", "CrashLoopBackOff", "5 (41s ago)", "9m56s"],
        ["production", "postgres-0", "1/1", "Running", "1 (2m46s ago)", "5h29m"],
    ]
    assert kubectl.methods() == {"GET"}
    assert ("GET", "/api/v1/pods?limit=500") in kubectl.server.requests


@needs_kubectl
def test_kubeconfig_namespace_is_the_targets(kubectl):
    assert kubectl("get", "pods", "-o", "name").stdout.split() == [f"pod/{PAYMENT}", "pod/postgres-0"]


@needs_kubectl
def test_describe_pod_shows_state_and_its_events(kubectl):
    out = kubectl("describe", "pod", PAYMENT).stdout
    for pattern in [r"Status:\s+Running", r"State:\s+Waiting\n\s+Reason:\s+CrashLoopBackOff",
                    r"Last State:\s+Terminated\n\s+Reason:\s+Error\n\s+Exit Code:\s+1", r"Restart Count:\s+5",
                    r"DB_PASSWORD:\s+<set to the key 'password' in secret 'payment-db'>",
                    r"Warning\s+BackOff\s+.*\(x22 over .*\)\s+kubelet\s+Back-off restarting failed container payment"]:
        assert re.search(pattern, out), pattern
    assert kubectl.methods() == {"GET"}


@needs_kubectl
def test_logs_previous_and_current(kubectl):
    previous = kubectl("logs", "--previous", "-c", "payment", PAYMENT).stdout
    assert "port 5432 failed: Connection refused" in previous
    assert previous.endswith("FATAL startup failed, exiting with status 1\n")
    assert kubectl("logs", "postgres-0", "--tail=1").stdout == \
        "2026-11-20 14:30:28.002 UTC [1] LOG:  database system is ready to accept connections\n"
    current = kubectl("logs", PAYMENT, ok=False)
    assert current.stderr.strip() == ('Error from server (BadRequest): container "payment" in pod '
                                      f'"{PAYMENT}" is waiting to start: CrashLoopBackOff')
    assert kubectl.methods() == {"GET"}


@needs_kubectl
def test_get_events(kubectl):
    rows = table(kubectl("get", "events", "-n", "production").stdout)
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert ["20s", "Warning", "BackOff", f"pod/{PAYMENT}",
            f"Back-off restarting failed container payment in pod {PAYMENT}_production(d1a1c0de-0003)"] in rows
    assert ["40s", "Warning", "Unhealthy", "pod/postgres-0",
            "Readiness probe failed: /var/run/postgresql:5432 - rejecting connections"] in rows
    assert len(rows) == 6
    assert kubectl.methods() == {"GET"}


@needs_kubectl
def test_get_secret_has_no_values(kubectl):
    secret = json.loads(kubectl("get", "secret", "payment-db", "-o", "json").stdout)
    assert (secret["kind"], secret["metadata"]["name"], secret["data"]) == ("Secret", "payment-db", {"password": ""})


@needs_kubectl
def test_not_found_reads_like_the_api(kubectl):
    assert kubectl("get", "pod", "nope", ok=False).stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    assert kubectl("get", "deploy", "nope", ok=False).stderr.strip() == \
        'Error from server (NotFound): deployments.apps "nope" not found'


@needs_kubectl
def test_writes_through_kubectl_are_refused(kubectl):
    failed = kubectl("create", "configmap", "x", "--from-literal=a=b", ok=False)
    assert "failed to create configmap: the server does not allow this method on the requested resource" in failed.stderr
    assert "read-only" in failed.stderr
    writes = [(m, p) for m, p in kubectl.server.requests if m != "GET"]
    assert [(m, p.split("?")[0]) for m, p in writes] == [("POST", "/api/v1/namespaces/production/configmaps")]
    with pytest.raises(Exception):
        kubectl.server.api.store.get("ConfigMap", "production", "x")


# --- HTTP -------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"])
def test_every_write_method_is_405(server, method):
    code, _, body = http(server, f"/api/v1/namespaces/production/pods/{PAYMENT}", method)
    status = json.loads(body)
    assert (code, status["kind"], status["reason"], status["code"]) == (405, "Status", "MethodNotAllowed", 405)
    assert server.requests == [(method, f"/api/v1/namespaces/production/pods/{PAYMENT}")]


def test_not_found_is_a_status(server):
    code, ctype, body = http(server, "/apis/apps/v1/namespaces/production/deployments/nope")
    assert (code, ctype) == (404, "application/json")
    assert json.loads(body) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": 'deployments.apps "nope" not found', "reason": "NotFound",
                                "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404}
    assert http(server, "/apis/widgets.example.com/v1")[0] == 404
    assert http(server, "/api/v1/pods/" + PAYMENT)[0] == 404


def test_lists_are_typed_lists_with_a_resource_version(server):
    code, _, body = http(server, "/api/v1/namespaces/production/pods?labelSelector=app%3Dpostgres&limit=1")
    doc = json.loads(body)
    assert (code, doc["kind"], doc["apiVersion"], doc["metadata"]) == (200, "PodList", "v1", {"resourceVersion": "1"})
    assert [i["metadata"]["name"] for i in doc["items"]] == ["postgres-0"] and "kind" not in doc["items"][0]
    events = json.loads(http(server, "/api/v1/events?fieldSelector=involvedObject.kind%3DNode")[2])
    assert [e["metadata"]["name"] for e in events["items"]] == ["node-b.oom"]
    bad = json.loads(http(server, "/api/v1/pods?fieldSelector=spec.bogus%3D1")[2])
    assert (bad["code"], bad["reason"], bad["message"]) == (400, "BadRequest", "field label not supported: spec.bogus")


def test_namespaces_are_synthesized(server):
    doc = json.loads(http(server, "/api/v1/namespaces")[2])
    assert [n["metadata"]["name"] for n in doc["items"]] == ["default", "production"]
    assert json.loads(http(server, "/api/v1/namespaces/production")[2])["status"]["phase"] == "Active"


def test_discovery_covers_every_kind(server):
    groups = json.loads(http(server, "/apis")[2])
    assert {g["preferredVersion"]["groupVersion"] for g in groups["groups"]} == {gv for gv, _, _ in KINDS.values() if gv != "v1"}
    served = {}
    for gv in {gv for gv, _, _ in KINDS.values()}:
        doc = json.loads(http(server, "/api/v1" if gv == "v1" else f"/apis/{gv}")[2])
        served.update({(gv, r["name"]): r for r in doc["resources"]})
    assert {(gv, plural) for gv, plural, _ in KINDS.values()} <= set(served)
    assert served[("v1", "pods")]["shortNames"] == ["po"] and ("v1", "pods/log") in served
    assert json.loads(http(server, "/version")[2])["major"] == "1"
    assert http(server, "/healthz")[2] == b"ok"


def test_partial_object_metadata(server):
    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    doc = json.loads(http(server, "/api/v1/namespaces/production/secrets/payment-db", accept=accept)[2])
    assert set(doc) == {"kind", "apiVersion", "metadata"} and doc["kind"] == "PartialObjectMetadata"
    listed = json.loads(http(server, "/api/v1/secrets", accept=accept.replace("Metadata;", "MetadataList;"))[2])
    assert listed["kind"] == "PartialObjectMetadataList"
    assert [set(i) for i in listed["items"]] == [{"kind", "apiVersion", "metadata"}]


@pytest.mark.parametrize("include, row_object", [
    ("", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"}),
    ("&includeObject=Metadata", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"}),
    ("&includeObject=Object", {"kind": "Pod", "apiVersion": "v1"}),
    ("&includeObject=None", None),
])
def test_table_rows_carry_the_requested_object(server, include, row_object):
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    doc = json.loads(http(server, f"/api/v1/namespaces/production/pods?limit=500{include}", accept=accept)[2])
    assert doc["kind"] == "Table" and [c["name"] for c in doc["columnDefinitions"] if c["priority"] == 0] == \
        ["Name", "Ready", "Status", "Restarts", "Age"]
    assert doc["rows"][0]["cells"][:5] == [PAYMENT, "0/1", "CrashLoopBackOff", "5 (41s ago)", "9m56s"]
    got = doc["rows"][0].get("object")
    assert (got and {"kind": got["kind"], "apiVersion": got["apiVersion"]}) == row_object


def test_watch_sends_added_events_then_closes_at_its_timeout(server):
    code, _, body = http(server, "/api/v1/namespaces/production/pods?watch=true&timeoutSeconds=1")
    events = [json.loads(line) for line in body.decode().splitlines()]
    assert code == 200 and [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", PAYMENT), ("ADDED", "postgres-0")]
    assert http(server, "/api/v1/namespaces/production/pods?watch=1&resourceVersion=1&timeoutSeconds=1")[2] == b""


def test_head_answers_without_a_body(server):
    request = urllib.request.Request(server.url + "/api/v1/nodes", method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200 and int(resp.headers["Content-Length"]) > 0 and resp.read() == b""


@pytest.mark.parametrize("pod, query, code, answer", [
    (PAYMENT, "container=payment&previous=true&tailLines=1", 200,
     "2026-11-20T14:30:19.127Z FATAL startup failed, exiting with status 1\n"),
    (PAYMENT, "previous=1&limitBytes=10", 200, "2026-11-20"),
    (PAYMENT, "container=payment", 400, f'container "payment" in pod "{PAYMENT}" is waiting to start: CrashLoopBackOff'),
    (PAYMENT, "container=nope", 400, f"container nope is not valid for pod {PAYMENT}"),
    ("nope", "container=payment", 404, 'pods "nope" not found'),
])
def test_pod_log(server, pod, query, code, answer):
    got_code, ctype, body = http(server, f"/api/v1/namespaces/production/pods/{pod}/log?{query}")
    assert got_code == code
    if code == 200:
        assert (ctype, body.decode()) == ("text/plain", answer)
    else:
        assert json.loads(body)["message"] == answer


def test_missing_previous_log_answers_like_the_kubelet():
    with ReplayServer(incident(workload_chain())) as s:
        code, _, body = http(s, "/api/v1/namespaces/shop/pods/web-5c9d7-abcde/log?container=app&previous=true")
    assert (code, json.loads(body)["message"]) == (400, 'previous terminated container "app" in pod "web-5c9d7-abcde" not found')


def test_kubeconfig_shape(tmp_path):
    path = write_kubeconfig(tmp_path / "k", "http://127.0.0.1:1234", namespace="shop", context="ctx")
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "ctx"
    assert config["clusters"] == [{"name": "ctx", "cluster": {"server": "http://127.0.0.1:1234"}}]
    assert config["contexts"] == [{"name": "ctx", "context": {"cluster": "ctx", "user": "ctx", "namespace": "shop"}}]
    assert path.stat().st_mode & 0o777 == 0o600


def test_run_replay_serves_until_interrupted(tmp_path):
    out, seen = io.StringIO(), {}

    def client():
        deadline = time.monotonic() + 10
        while out.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["lines"] = out.getvalue().splitlines()
        url = re.search(r"http://\S+", seen["lines"][0])[0]
        seen["url"] = url
        with urllib.request.urlopen(url + "/api/v1/namespaces/production/pods/postgres-0", timeout=5) as resp:
            seen["pod"] = json.loads(resp.read())["metadata"]["name"]
        _thread.interrupt_main()

    thread = threading.Thread(target=client)
    thread.start()
    run_replay(DEMO, 0, tmp_path / "replay.kubeconfig", out=out)
    thread.join()
    assert seen["pod"] == "postgres-0"
    assert seen["lines"][0] == f"serving incident payment-db-oom read-only at {seen['url']} (Ctrl-C to stop)"
    assert seen["lines"][1] == f"export KUBECONFIG={tmp_path / 'replay.kubeconfig'}; kubectl get pods -n production"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(seen["url"] + "/version", timeout=2)


def test_lists_are_paged_with_limit_and_continue(server, tmp_path, monkeypatch):
    code, _, body = http(server, "/api/v1/namespaces/production/pods?limit=1")
    first = json.loads(body)
    assert code == 200 and [p["metadata"]["name"] for p in first["items"]] == [PAYMENT]
    assert first["metadata"]["remainingItemCount"] == 1
    rest = json.loads(http(server, f"/api/v1/namespaces/production/pods?limit=1&continue={first['metadata']['continue']}")[2])
    assert [p["metadata"]["name"] for p in rest["items"]] == ["postgres-0"] and "continue" not in rest["metadata"]
    assert http(server, "/api/v1/namespaces/production/pods?limit=1&continue=garbage")[0] == 400
    import copilot.sources.kube as kube
    monkeypatch.setattr(kube, "PAGE", 1)  # the client's own paging, followed to the end
    source = kube.KubeSource(kubeconfig=write_kubeconfig(tmp_path / "kc", server.url))
    assert [p["metadata"]["name"] for p in source.list("Pod", "production")] == [PAYMENT, "postgres-0"]
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "--kubeconfig", str(write_kubeconfig(tmp_path / "kc2", server.url)), "get", "pods", "-A",
                              "--chunk-size=1", "-o", "name"], capture_output=True, text=True, timeout=60)
        assert out.stdout.split() == [f"pod/{PAYMENT}", "pod/postgres-0"], out.stderr
