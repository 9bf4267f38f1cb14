"""Memory and CPU series in the RCA: windows anchored on terminations, gaps instead of failures, computed fixes."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from builders import NS, container, event, incident, status, terminated, workload_chain
from copilot.collector import collect
from copilot.diagnose import rules_rca
from copilot.incident import load_incident, parse_incident
from copilot.record import incident_dict
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.kube import KubeSource
from copilot.sources.metrics import MetricsError, PrometheusMetrics, RecordedMetrics
from copilot.sources.snapshot import IncidentSource
from promserver import DEMO, free_port

POD = "web-5c9d7-abcde"
MI = 2**20


class Scripted:
    """A Metrics double: answers from a function and records every question."""

    description = "scripted metrics"

    def __init__(self, memory=lambda *a: [], throttling=lambda *a: [], fail_after: int | None = None):
        self.memory, self.throttling, self.fail_after = memory, throttling, fail_after
        self.asked: list[tuple] = []

    def _ask(self, what, *args):
        self.asked.append((what, *args))
        if self.fail_after is not None and len(self.asked) > self.fail_after:
            raise MetricsError("Prometheus at http://prom:9090 did not answer within 5s")

    def memory_working_set(self, ns, pod, c, start, end, step_s=15):
        self._ask("memory", ns, pod, c, start, end)
        return self.memory(ns, pod, c, start, end)

    def cpu_throttling(self, ns, pod, c, start, end, step_s=15):
        self._ask("cpu", ns, pod, c, start, end)
        return self.throttling(ns, pod, c, start, end)


def oom_pod(limit="256Mi", finished="2026-03-02T10:28:05Z"):
    objs = workload_chain(containers=[container(resources={"limits": {"memory": limit}})],
                          statuses=[status(last=terminated(137, "OOMKilled", started="2026-03-02T09:00:00Z", finished=finished))])
    return incident(objs)


def ramp(start: datetime, end: datetime, top: float, step=15):
    """A working set climbing linearly to `top` bytes over the window."""
    t0, t1 = start.timestamp(), end.timestamp()
    n = int((t1 - t0) // step)
    return [(t0 + i * step, top * (0.5 + 0.5 * i / n)) for i in range(n + 1)]


def test_window_is_anchored_on_the_termination_not_the_clock():
    """30 minutes before the kill to 2 minutes after it, but never past the incident's `now` (10:30:00)."""
    for finished, end_at in (("2026-03-02T10:08:05Z", datetime(2026, 3, 2, 10, 10, 5, tzinfo=timezone.utc)),
                             ("2026-03-02T10:29:05Z", datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc))):
        metrics = Scripted()
        collect(IncidentSource(oom_pod(finished=finished)), NS, POD, metrics=metrics)
        what, ns, pod, c, start, end = metrics.asked[0]
        assert (what, ns, pod, c) == ("memory", NS, POD, "app")
        assert start == datetime.fromisoformat(finished.replace("Z", "+00:00")) - timedelta(minutes=30)
        assert end == end_at


def test_observed_peak_sets_the_new_limit_and_is_quoted():
    metrics = Scripted(memory=lambda ns, pod, c, start, end: ramp(start, end - timedelta(minutes=2), 250 * MI))
    rca = rules_rca(collect(IncidentSource(oom_pod()), NS, POD, metrics=metrics))
    assert rca.category == "oom_killed"
    quoted = [e.excerpt for e in rca.evidence if e.source == "metrics"]
    assert quoted and "peak 250Mi of the 256Mi limit (98%)" in quoted[0] and "(a steady leak)" in quoted[0]
    assert "--limits=memory=384Mi" in rca.fix[0].command and "observed peak" in rca.fix[0].explanation
    assert "peaked at 250Mi, 98% of the 256Mi limit" in rca.root_cause
    assert any("memory peak 250Mi" in t.event for t in rca.timeline)
    assert any("leak" in r for r in rca.recommendations)


def test_peak_above_the_current_limit_drives_the_fix():
    """A container with no limit that was killed by the node: the new limit comes from what it used."""
    metrics = Scripted(memory=lambda ns, pod, c, start, end: ramp(start, end, 900 * MI))
    rca = rules_rca(collect(IncidentSource(oom_pod(limit="")), NS, POD, metrics=metrics))
    assert "--limits=memory=1408Mi" in rca.fix[0].command     # 900Mi * 1.5 on a 64Mi step


def test_metrics_down_is_one_gap_and_no_more_questions():
    metrics = Scripted(fail_after=0)
    rca = rules_rca(collect(IncidentSource(oom_pod()), NS, POD, metrics=metrics))
    assert len(metrics.asked) == 1
    assert rca.category == "oom_killed" and "--limits=memory=384Mi" in rca.fix[0].command
    assert [g for g in rca.analysis.gaps if "did not answer within 5s" in g]
    assert not [e for e in rca.evidence if e.source == "metrics"]


def test_no_series_is_a_gap_naming_the_container():
    rca = rules_rca(collect(IncidentSource(oom_pod()), NS, POD, metrics=Scripted()))
    assert any("no container_memory_working_set_bytes" in g and f"{POD}/app" in g for g in rca.analysis.gaps)


def test_measured_throttling_makes_a_probe_kill_cpu_starvation_even_with_a_roomy_limit():
    objs = workload_chain(containers=[container(resources={"limits": {"cpu": "1"}}, ports=[{"containerPort": 8080}],
                                                livenessProbe={"httpGet": {"path": "/", "port": 8080}, "timeoutSeconds": 1})],
                          statuses=[status(last=terminated(137, "Error"))])
    objs += [event("Unhealthy", 'Liveness probe failed: Get "http://10.1.2.3:8080/": context deadline exceeded', count=9),
             event("Killing", "Container app failed liveness probe, will be restarted", type_="Normal", count=3)]
    source = IncidentSource(incident(objs))
    calm = rules_rca(collect(source, NS, POD, metrics=Scripted(throttling=lambda *a: [(1.0e9, 0.02), (1.0e9 + 15, 0.03)])))
    assert calm.category == "probe_failure"
    hot = rules_rca(collect(source, NS, POD, metrics=Scripted(throttling=lambda *a: [(1.0e9, 0.2), (1.0e9 + 15, 0.71)])))
    assert hot.category == "cpu_starvation"
    assert any(e.source == "metrics" and "up to 71% of CPU periods throttled" in e.excerpt for e in hot.evidence)
    assert "Up to 71% of its CPU periods were throttled." in hot.root_cause


def test_failing_dependencies_are_asked_too_and_the_questions_are_bounded():
    demo = load_incident(DEMO)
    metrics = Scripted()
    collect(IncidentSource(demo), "production", "payment-service-7d9f8b-xyz", metrics=metrics)
    pods = {(a[2], a[3]) for a in metrics.asked}
    assert pods == {("payment-service-7d9f8b-xyz", "payment"), ("postgres-0", "postgres")}
    assert len(metrics.asked) == 4


def test_the_demo_without_prometheus_still_names_postgres_with_a_gap(tmp_path):
    """Prometheus down: the live RCA still blames postgres, fixes the limit from the spec, and says what is missing."""
    with ReplayServer(load_incident(DEMO)) as server:
        kc = write_kubeconfig(tmp_path / "kc", server.url, "production")
        out = subprocess.run([sys.executable, "-m", "copilot", "rca", "payment-service-7d9f8b-xyz", "--kubeconfig", str(kc),
                              "--no-llm", "-o", "json", "--prometheus-url", f"http://127.0.0.1:{free_port()}"],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rca = json.loads(out.stdout)
    assert rca["culprit"] == {"kind": "StatefulSet", "namespace": "production", "name": "postgres"}
    assert any("is unreachable: connection refused" in g for g in rca["analysis"]["gaps"])
    assert "--limits=memory=768Mi" in rca["fix"][0]["command"]


def test_the_demo_with_prometheus_cites_the_peak_against_the_limit(tmp_path, prometheus):
    with ReplayServer(load_incident(DEMO)) as server:
        kc = write_kubeconfig(tmp_path / "kc", server.url, "production")
        out = subprocess.run([sys.executable, "-m", "copilot", "rca", "payment-service-7d9f8b-xyz", "--kubeconfig", str(kc),
                              "--no-llm", "-o", "json", "--prometheus-url", prometheus],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rca = json.loads(out.stdout)
    assert rca["culprit"]["name"] == "postgres"
    metrics = [e["excerpt"] for e in rca["evidence"] if e["source"] == "metrics"]
    assert metrics and "peak 507Mi of the 512Mi limit (99%) at 2026-11-20T14:28:00Z" in metrics[0]
    assert "OOMKilled at 2026-11-20T14:28:14Z" in rca["root_cause"] and "exiting with code 1" in rca["root_cause"]
    assert rca["fix"][0]["explanation"].endswith("(1.5x the observed peak)")
    assert not [g for g in rca["analysis"]["gaps"] if "memory" in g]


def test_incident_without_series_says_so():
    out = subprocess.run([sys.executable, "-m", "copilot", "rca", "--incident",
                          str(Path(__file__).parent.parent / "evals/incidents/missing-secret-create-container-config-error.yaml"),
                          "--no-llm", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "no memory series: the incident has no recorded series" in json.loads(out.stdout)["analysis"]["gaps"]


def test_bad_prometheus_url_is_one_line():
    out = subprocess.run([sys.executable, "-m", "copilot", "rca", "--incident", str(DEMO), "--prometheus-url", "prom:9090"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: --prometheus-url 'prom:9090'")
    assert "Traceback" not in out.stderr


def test_record_with_prometheus_round_trips(tmp_path, prometheus):
    """Record through the replay and a real Prometheus; the file's RCA (recorded series) equals the live one."""
    demo = load_incident(DEMO)
    with ReplayServer(demo) as server:
        source = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "kc", server.url, "production")))
        live = rules_rca(collect(source, "production", "payment-service-7d9f8b-xyz", metrics=PrometheusMetrics(prometheus)))
        data = incident_dict(source, "production", "payment-service-7d9f8b-xyz", metrics=PrometheusMetrics(prometheus))
        source.close()
    recorded = parse_incident(yaml.safe_load(yaml.safe_dump(data)), "recorded")
    assert {s.metric["pod"] for s in recorded.spec.series} == {"payment-service-7d9f8b-xyz", "postgres-0"}
    assert "copilot:container_cpu_cfs_throttled:ratio" in {s.metric["__name__"] for s in recorded.spec.series}
    again = rules_rca(collect(IncidentSource(recorded), "production", "payment-service-7d9f8b-xyz",
                              metrics=RecordedMetrics(recorded.spec.series)))
    for field in ("category", "culprit", "summary", "root_cause", "evidence", "fix", "timeline"):
        assert getattr(again, field) == getattr(live, field), field
    assert any(e.source == "metrics" and "peak 507Mi" in e.excerpt for e in again.evidence)
    throttling = {}
    for name, source, metrics in (("live", None, PrometheusMetrics(prometheus)), ("file", IncidentSource(recorded), RecordedMetrics(recorded.spec.series))):
        if source is None:
            with ReplayServer(demo) as server:
                kube = KubeSource(kubeconfig=str(write_kubeconfig(tmp_path / "kc2", server.url, "production")))
                bundle = collect(kube, "production", "payment-service-7d9f8b-xyz", metrics=metrics)
                kube.close()
        else:
            bundle = collect(source, "production", "payment-service-7d9f8b-xyz", metrics=metrics)
        throttling[name] = bundle.target.containers[0].throttling
    assert throttling["live"] is not None and throttling["file"] == throttling["live"]   # recorded as the evaluated share
