"""The replay's watch: changes streamed as the API server streams them, read by KubeSource and kubectl."""

from __future__ import annotations

import copy
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from copilot.errors import Gone
from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource
from copilot.sources.store import ObjectStore

DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"
PAYMENT = "payment-service-7d9f8b-xyz"


@pytest.fixture
def served(tmp_path):
    with ReplayServer(load_incident(DEMO)) as server:
        yield server, KubeSource(kubeconfig=write_kubeconfig(tmp_path / "kc", server.url))


def later(seconds, action):
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def test_list_then_watch_sees_each_change_once_in_order(served):
    server, source = served
    store = server.api.store
    pods, version = source.list_at("Pod", "production")
    assert [p["metadata"]["name"] for p in pods] == [PAYMENT, "postgres-0"]

    def change():
        pod = store.get("Pod", "production", "postgres-0")
        pod["metadata"]["labels"]["touched"] = "1"
        store.put(pod)
        store.put(store.get("Service", "production", store.list("Service", "production")[0]["metadata"]["name"]))
        store.delete("Pod", "production", PAYMENT)
    later(0.3, change)
    seen = [(t, o["metadata"].get("name"), o["metadata"]["resourceVersion"]) for t, o in source.watch("Pod", "production", version, 2)
            if t != "BOOKMARK"]
    assert [(t, n) for t, n, _ in seen] == [("MODIFIED", "postgres-0"), ("DELETED", PAYMENT)]  # the ConfigMap is not a pod
    assert int(seen[0][2]) < int(seen[1][2])


def test_a_watch_from_a_compacted_version_is_410_gone(served):
    server, source = served
    store = server.api.store
    _, version = source.list_at("Pod", None)
    pod = store.get("Pod", "production", "postgres-0")
    for n in range(5):
        pod["metadata"]["labels"]["n"] = str(n)
        store.put(copy.deepcopy(pod))
    store._history = type(store._history)(list(store._history)[-2:], maxlen=2)  # etcd compaction
    with pytest.raises(Gone, match="too old resource version"):
        list(source.watch("Pod", None, version, 2))


def test_idle_watches_get_bookmarks_and_end_at_their_timeout(served):
    _, source = served
    _, version = source.list_at("Pod", None)
    started = time.monotonic()
    events = list(source.watch("Pod", None, version, 1))
    assert time.monotonic() - started < 5
    assert all(t == "BOOKMARK" for t, _ in events)


def test_watch_honours_label_selectors(served):
    server, _ = served
    store = server.api.store
    wanted = store.matcher("Pod", "production", "app=postgres")
    assert [p["metadata"]["name"] for p in store.list("Pod", "production") if wanted(p)] == ["postgres-0"]


def test_rewind_and_play_are_what_a_watcher_sees():
    store = ObjectStore(load_incident(DEMO))
    recorded = store.rewind()
    assert {o["kind"] for o in recorded} == {"Pod", "Event"}
    before = int(store.resource_version)
    assert store.play(recorded) == len(recorded)
    changes, reached = store.changes_since(before, "Pod")
    assert [t for t, _ in changes] == ["MODIFIED", "MODIFIED"] and reached == before + len(recorded)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_get_watch_shows_the_incident_start(tmp_path):
    server = ReplayServer(load_incident(DEMO))
    recorded = server.api.store.rewind()
    with server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", server.url)
        proc = subprocess.Popen(["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-n", "production", "-w",
                                 "--request-timeout=20s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            server.api.store.play(recorded)
            time.sleep(1.5)
        finally:
            proc.terminate()
            out, err = proc.communicate(10)
    lines = out.splitlines()
    assert "Running" in lines[1] and "0 " in lines[1]
    assert any(PAYMENT in line and "CrashLoopBackOff" in line for line in lines[3:]), out + err
