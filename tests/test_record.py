"""`copilot record` round trip: record through the replay, then the RCA of the file equals the live RCA."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from copilot.collector import collect
from copilot.diagnose import rules_rca
from copilot.incident import load_incident, parse_incident
from copilot.record import incident_dict
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource
from copilot.sources.snapshot import IncidentSource

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "evals" / "incidents").glob("*.yaml"))


def verdict(rca):
    return rca.category, str(rca.culprit), [f.command for f in rca.fix], rca.summary, rca.root_cause


@pytest.mark.parametrize("path", INCIDENTS, ids=lambda p: p.stem)
def test_recorded_incident_gives_the_live_rca(path, tmp_path):
    incident = load_incident(path)
    target = incident.spec.target
    with ReplayServer(incident) as server:
        source = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "kc", server.url, target.namespace)))
        live = rules_rca(collect(source, target.namespace, target.pod))
        data = incident_dict(source, target.namespace, target.pod)
        source.close()
    recorded = parse_incident(yaml.safe_load(yaml.safe_dump(data)), "recorded")
    again = rules_rca(collect(IncidentSource(recorded), target.namespace, target.pod))
    assert verdict(again) == verdict(live)
    for obj in data["spec"]["objects"]:
        assert obj["kind"] != "Secret" or not any((obj.get("data") or {}).values())


def test_record_cli_writes_a_valid_file_and_refuses_to_overwrite(tmp_path):
    demo = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
    with ReplayServer(load_incident(demo)) as server:
        kc = write_kubeconfig(tmp_path / "kc", server.url, "production")
        out = tmp_path / "rec.yaml"
        args = [sys.executable, "-m", "copilot", "record", "payment-service-7d9f8b-xyz", "--kubeconfig", str(kc), "-o", str(out)]
        first = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        assert "recorded production/payment-service-7d9f8b-xyz" in first.stderr
        before = out.read_text()
        second = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "already exists; pass --force" in second.stderr
        assert out.read_text() == before
        requests = server.requests
    rec = load_incident(out)
    assert rec.spec.target.pod == "payment-service-7d9f8b-xyz"
    assert "Connection refused" in rec.spec.logs["production/payment-service-7d9f8b-xyz/payment"].previous
    assert {m for m, _ in requests} == {"GET"}
    assert not list(tmp_path.glob(".rec.yaml.*")), "no temporary file left behind"
