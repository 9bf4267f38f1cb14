"""KubeSource over the official client, against the replay server and small stubs on loopback."""

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from copilot.errors import Forbidden, NotFound, SourceError, Unreachable
from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource
from copilot.sources.snapshot import IncidentSource

DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"
PAYMENT = "payment-service-7d9f8b-xyz"
FIX = "; check --context/--kubeconfig"


@pytest.fixture(scope="module")
def recorded():
    return IncidentSource(load_incident(DEMO))


@pytest.fixture
def server():
    with ReplayServer(load_incident(DEMO)) as s:
        yield s


@pytest.fixture
def source(server, tmp_path):
    kube = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "kubeconfig", server.url, "production")))
    yield kube
    kube.close()
    assert {method for method, _ in server.requests} <= {"GET"}


def names(objs):
    return [o["metadata"]["name"] for o in objs]


def test_describes_the_context_and_its_namespace(source):
    assert source.description == "cluster copilot-replay" and source.default_namespace == "production"


def test_get_returns_the_raw_object_as_recorded(source, server, recorded):
    assert source.get("Pod", "production", PAYMENT) == recorded.get("Pod", "production", PAYMENT)
    assert source.get("StatefulSet", "production", "postgres")["spec"]["serviceName"] == "postgres"
    assert source.get("Node", None, "node-b")["status"]["allocatable"]["memory"] == "16Gi"
    assert server.requests == [("GET", f"/api/v1/namespaces/production/pods/{PAYMENT}"),
                               ("GET", "/apis/apps/v1/namespaces/production/statefulsets/postgres"),
                               ("GET", "/api/v1/nodes/node-b")]


@pytest.mark.parametrize("kind, namespace, labels, fields, expected", [
    ("Pod", "production", "app=postgres", None, ["postgres-0"]),
    ("Pod", None, "app in (postgres, payment-service)", None, [PAYMENT, "postgres-0"]),
    ("Pod", "production", "app!=postgres,pod-template-hash", None, [PAYMENT]),
    ("Pod", None, None, "spec.nodeName=node-a", [PAYMENT]),
    ("Event", None, None, "involvedObject.kind=Node,involvedObject.name=node-b", ["node-b.oom"]),
    ("Event", "production", None, "involvedObject.name=postgres-0,type=Warning", ["postgres-0.unhealthy"]),
    ("ReplicaSet", "production", "app=payment-service", None, ["payment-service-7d9f8b"]),
    ("EventsV1", "production", None, None, []),
    ("Namespace", None, None, None, ["default", "production"]),
])
def test_list_with_selectors(source, recorded, kind, namespace, labels, fields, expected):
    got = source.list(kind, namespace, label_selector=labels, field_selector=fields)
    assert names(got) == expected
    assert got == recorded.list(kind, namespace, labels, fields)


def test_list_sends_selectors_and_pages(source, server):
    source.list("Event", None, field_selector="involvedObject.kind=Node,involvedObject.name=node-b")
    assert server.requests == [("GET", "/api/v1/events?limit=500&fieldSelector="
                                       "involvedObject.kind%3DNode%2CinvolvedObject.name%3Dnode-b")]


def test_invalid_selector_is_a_source_error(source):
    with pytest.raises(SourceError, match=r"HTTP 400 .*values set can't be empty"):
        source.list("Pod", None, label_selector="app in ()")


def test_logs_previous_tail_and_limit(source, server):
    previous = b"".join(source.log("production", PAYMENT, "payment", previous=True))
    assert b"port 5432 failed: Connection refused" in previous
    assert b"".join(source.log("production", PAYMENT, "payment", True, tail_lines=1)) == \
        b"2026-11-20T14:30:19.127Z FATAL startup failed, exiting with status 1\n"
    assert b"".join(source.log("production", PAYMENT, "payment", True, limit_bytes=10)) == b"2026-11-20"
    assert source.log("production", PAYMENT, "payment", previous=False) is None
    base = f"/api/v1/namespaces/production/pods/{PAYMENT}/log?container=payment"
    assert [p for _, p in server.requests] == [f"{base}&previous=true", f"{base}&previous=true&tailLines=1",
                                               f"{base}&previous=true&limitBytes=10", base]


def test_log_of_unknown_pod_is_not_found(source):
    with pytest.raises(NotFound, match='^pods "nope" not found$'):
        source.log("production", "nope", "payment", previous=True)


@pytest.mark.parametrize("kind, namespace, name, message", [
    ("Pod", "production", "nope", 'pods "nope" not found'),
    ("Deployment", "production", "nope", 'deployments.apps "nope" not found'),
    ("Node", None, "node-z", 'nodes "node-z" not found'),
])
def test_not_found(source, kind, namespace, name, message):
    with pytest.raises(NotFound) as e:
        source.get(kind, namespace, name)
    assert str(e.value) == message


def test_secrets_come_as_metadata_only(source, recorded):
    """Live and recorded alike: a Secret is its metadata, even when the incident file lists its key names."""
    assert "data" in recorded.store.get("Secret", "production", "payment-db")
    secret = source.get("Secret", "production", "payment-db")
    assert secret == recorded.get("Secret", "production", "payment-db")
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": recorded.store.get("Secret", "production", "payment-db")["metadata"]}
    assert [set(s) for s in source.list("Secret", None)] == [{"apiVersion", "kind", "metadata"}]


def test_import_does_not_load_the_client():
    code = "import sys, copilot.sources.kube; print('kubernetes' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


# --- failures ---------------------------------------------------------------

def test_closed_port_is_unreachable_in_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_kubeconfig(tmp_path / "k", f"http://127.0.0.1:{port}")
    with pytest.raises(Unreachable) as e:
        KubeSource(kubeconfig=str(config), request_timeout=2).get("Pod", "production", PAYMENT)
    assert str(e.value) == f"cannot reach the cluster at http://127.0.0.1:{port}: connection refused{FIX}"


def test_silent_server_times_out(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        config = write_kubeconfig(tmp_path / "k", f"http://127.0.0.1:{s.getsockname()[1]}")
        with pytest.raises(Unreachable, match=r": no answer within 0\.2s; check --context/--kubeconfig$"):
            KubeSource(kubeconfig=str(config), request_timeout=0.2).list("Pod", None)


@pytest.mark.parametrize("kubeconfig, context, message", [
    ("missing.kubeconfig", None, "kubeconfig {dir}/missing.kubeconfig does not exist; check --kubeconfig"),
    ("k", "nope", "context 'nope' not found in {dir}/k (it has: copilot-replay){fix}"),
    ("garbage", None, "cannot load kubeconfig {dir}/garbage: invalid YAML at line 2: expected the node content"),
])
def test_bad_kubeconfig_is_unreachable_with_a_fix(tmp_path, kubeconfig, context, message):
    write_kubeconfig(tmp_path / "k", "http://127.0.0.1:1")
    (tmp_path / "garbage").write_text("clusters: [\n")
    with pytest.raises(Unreachable) as e:
        KubeSource(kubeconfig=str(tmp_path / kubeconfig), context=context)
    assert str(e.value).startswith(message.format(dir=tmp_path, fix=FIX)) and "\n" not in str(e.value)


def test_no_kubeconfig_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(Unreachable, match="^no kubeconfig found at ~/.kube/config; pass --kubeconfig, set KUBECONFIG"):
        KubeSource()


class _Stub(BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, dict]] = {}

    def do_GET(self):
        code, body = self.answers[self.path.split("?")[0]]
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code}


@pytest.mark.parametrize("path, code, body, call, error, message", [
    ("/api/v1/namespaces/production/pods/x", 403,
     _status(403, "Forbidden", 'pods "x" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "production"'),
     ("get", "Pod", "production", "x"), Forbidden, "forbidden: cannot get pods in namespace production (user alice)"),
    ("/api/v1/nodes", 403, _status(403, "Forbidden", "nodes is forbidden"),
     ("list", "Node", None), Forbidden, "forbidden: cannot list nodes at cluster scope"),
    ("/api/v1/namespaces/production/secrets", 401, _status(401, "Unauthorized", "Unauthorized"),
     ("list", "Secret", "production"), Forbidden,
     "unauthorized; check your credentials for cluster stub (expired token or certificate?)"),
    ("/apis/apps/v1/namespaces/production/deployments/web", 500, _status(500, "InternalError", "etcd is sad"),
     ("get", "Deployment", "production", "web"), SourceError, "get deployments.apps: HTTP 500 from {url}: etcd is sad"),
    ("/api/v1/namespaces/production/pods/x/log", 403, _status(403, "Forbidden", "no"),
     ("log", "production", "x", "app", True), Forbidden, "forbidden: cannot get pods/log in namespace production"),
])
def test_api_errors_map_to_our_errors(tmp_path, path, code, body, call, error, message):
    _Stub.answers = {path: (code, body)}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        source = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "k", url, context="stub")))
        with pytest.raises(error) as e:
            getattr(source, call[0])(*call[1:])
        assert str(e.value) == message.format(url=url) and type(e.value) is error
    finally:
        httpd.shutdown()
        httpd.server_close()
