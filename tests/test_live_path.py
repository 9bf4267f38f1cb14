"""The live path (KubeSource over HTTP against `copilot replay`) reaches the same verdict as the recorded file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.collector import collect
from copilot.diagnose import rules_rca
from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource
from copilot.sources.snapshot import IncidentSource

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "evals" / "incidents").glob("*.yaml"))


def verdict(rca):
    return rca.category, str(rca.culprit), [f.command for f in rca.fix], sorted(e.excerpt for e in rca.evidence)


@pytest.mark.parametrize("path", INCIDENTS, ids=lambda p: p.stem)
def test_same_rca_from_file_and_from_the_replayed_cluster(path, tmp_path):
    incident = load_incident(path)
    target = incident.spec.target
    recorded = rules_rca(collect(IncidentSource(incident), target.namespace, target.pod))
    with ReplayServer(incident) as server:
        live_source = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "kc", server.url, target.namespace)))
        try:
            live = rules_rca(collect(live_source, target.namespace, target.pod))
        finally:
            live_source.close()
        requests = server.requests
    assert verdict(live) == verdict(recorded)
    assert {method for method, _ in requests} == {"GET"}
    assert len(requests) < 40, requests


def test_secrets_cross_the_wire_as_metadata_only(tmp_path):
    incident = load_incident(ROOT / "evals" / "incidents" / "missing-secret-create-container-config-error.yaml")
    with ReplayServer(incident) as server:
        source = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "kc", server.url)))
        for secret in [o for o in incident.spec.objects if o["kind"] == "Secret"]:
            got = source.get("Secret", secret["metadata"].get("namespace"), secret["metadata"]["name"])
            assert "data" not in got and "stringData" not in got
        source.close()


def test_cli_against_the_replay_and_prometheus_matches_the_file(tmp_path, prometheus):
    """Live: the replayed API plus a real Prometheus. File: the same incident and its recorded series."""
    demo = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
    kubeconfig = tmp_path / "replay.kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "replay", str(demo), "--kubeconfig", str(kubeconfig)],
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        assert "127.0.0.1" in first, first
        live = subprocess.run([sys.executable, "-m", "copilot", "rca", "payment-service-7d9f8b-xyz", "-n", "production",
                               "--kubeconfig", str(kubeconfig), "--no-llm", "-o", "json", "--prometheus-url", prometheus],
                              capture_output=True, text=True, timeout=60)
    finally:
        proc.terminate()
        proc.wait(10)
    recorded = subprocess.run([sys.executable, "-m", "copilot", "rca", "--incident", str(demo), "--no-llm", "-o", "json"],
                              capture_output=True, text=True, timeout=60)
    assert live.returncode == 0, live.stderr
    a, b = json.loads(live.stdout), json.loads(recorded.stdout)
    for key in ("category", "culprit", "summary", "root_cause", "evidence", "fix", "timeline"):
        assert a[key] == b[key], key
    assert a["culprit"]["name"] == "postgres"
    assert any(e["source"] == "metrics" for e in a["evidence"])
