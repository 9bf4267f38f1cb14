"""PrometheusMetrics against a real Prometheus backfilled with the demo incident (see promserver.py), and
against stub servers."""

import json
import subprocess
import sys
import time
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from promserver import APP, END, START, PromStub, free_port, utc

from copilot.series import memory_stats, throttle_stats
from copilot.sources.metrics import (
    MetricsError,
    PrometheusMetrics,
    RecordedMetrics,
    find_prometheus,
)

MI = 2**20


def test_memory_series_matches_the_recording(prometheus, demo_series):
    live = PrometheusMetrics(prometheus).memory_working_set("production", "postgres-0", "postgres", utc(START), utc(END))
    replay = RecordedMetrics(demo_series).memory_working_set("production", "postgres-0", "postgres", utc(START), utc(END))
    assert len(live) == 125 and replay == live    # query_range semantics: aligned 15 s steps, 5-minute lookback
    a, b = memory_stats(live, 512 * MI), memory_stats(replay, 512 * MI)
    assert (a.peak_bytes, a.peak_time) == (b.peak_bytes, b.peak_time) == (531661418, 1795184880)
    assert (a.shape, a.resets) == (b.shape, b.resets) == ("leak", [1795184910])


def test_unknown_container_is_an_empty_series(prometheus):
    assert PrometheusMetrics(prometheus).memory_working_set("production", "postgres-0", "sidecar", utc(START), utc(END)) == []


def test_throttling_matches_the_recorded_counters(prometheus, demo_series):
    args = (APP["namespace"], APP["pod"], APP["container"], utc(START + 60), utc(END))
    live = PrometheusMetrics(prometheus).cpu_throttling(*args)
    replay = RecordedMetrics(demo_series).cpu_throttling(*args)
    assert [t for t, _ in live] == [t for t, _ in replay] and len(live) > 100
    assert max(abs(a - b) for (_, a), (_, b) in zip(live, replay)) < 0.02
    throttled = [float(v) for _, v in demo_series[-1].values]
    assert any(b < a for a, b in zip(throttled, throttled[1:]))     # the counters reset inside the window
    stats = throttle_stats(live)
    assert 0.85 < stats.max_ratio <= 1 and stats.mean_ratio < stats.max_ratio


@pytest.fixture
def stub():
    server = PromStub()
    yield server
    server.close()


def test_the_exact_query_that_goes_out(stub):
    stub.body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()
    metrics = PrometheusMetrics(stub.url + "/")
    assert metrics.memory_working_set("prod", 'we"ird\\pod', "app", utc(START), utc(END), step_s=30) == []
    assert metrics.cpu_throttling("prod", "p", "app", datetime(2026, 11, 20, 14, 0), utc(END)) == []
    memory, cpu = (parse_qs(urlparse(path).query) for path in stub.requests)
    assert memory == {"query": ['max(container_memory_working_set_bytes{namespace="prod",pod="we\\"ird\\\\pod",container="app"})'],
                      "start": [str(START)], "end": [str(END)], "step": ["30s"], "timeout": ["5s"]}
    assert cpu["query"] == [
        'sum(rate(container_cpu_cfs_throttled_periods_total{namespace="prod",pod="p",container="app"}[2m])) / '
        'sum(rate(container_cpu_cfs_periods_total{namespace="prod",pod="p",container="app"}[2m]))']
    assert (cpu["start"], cpu["step"]) == ([str(START)], ["15s"])     # a naive datetime is UTC


def test_unreachable_prometheus():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MetricsError) as e:
        PrometheusMetrics(url).memory_working_set("prod", "p", "c", utc(START), utc(END))
    assert str(e.value) == f"Prometheus at {url} is unreachable: connection refused"


def test_slow_prometheus_times_out(stub):
    stub.delay = 20
    began = time.monotonic()
    with pytest.raises(MetricsError) as e:
        PrometheusMetrics(stub.url, timeout=0.5).memory_working_set("prod", "p", "c", utc(START), utc(END))
    assert str(e.value) == f"Prometheus at {stub.url} did not answer within 0.5s"
    assert time.monotonic() - began < 5
    assert len(stub.requests) == 1


@pytest.mark.parametrize("status, body, message", [
    (500, {"status": "error", "errorType": "internal", "error": "query processing would load too many samples"},
     "answered HTTP 500: query processing would load too many samples"),
    (503, "Service Unavailable\n", "answered HTTP 503: Service Unavailable"),
    (401, "", "answered HTTP 401 (check the credentials in the request headers)"),
    (200, "<html>Grafana</html>", "answered with something that is not Prometheus JSON (is the URL the Prometheus server?)"),
    (200, {"status": "success"}, "answered without data.result (is the URL the Prometheus server?)"),
    (200, {"status": "success", "data": {"result": [{"values": [[1, "x"]]}]}}, "answered with a result that is not a matrix"),
])
def test_bad_answers_are_one_line_errors_after_one_attempt(stub, status, body, message):
    stub.status = status
    stub.body = (json.dumps(body) if isinstance(body, dict) else body).encode()
    with pytest.raises(MetricsError) as e:
        PrometheusMetrics(stub.url).memory_working_set("prod", "p", "c", utc(START), utc(END))
    assert str(e.value) == f"Prometheus at {stub.url} {message}"
    assert "\n" not in str(e.value)
    assert len(stub.requests) == 1


def service(name, namespace="monitoring", ports=((80, "http"),), labels=None, headless=False, target=None):
    spec = {"ports": [{"port": p, "name": n, **({"targetPort": target} if target else {})} for p, n in ports]}
    if headless:
        spec["clusterIP"] = "None"
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "spec": spec}


COMMUNITY_CHART = [
    service("prometheus-alertmanager", ports=((9093, "http"),), labels={"app.kubernetes.io/name": "alertmanager"}),
    service("prometheus-kube-state-metrics", ports=((8080, "http"),)),
    service("prometheus-prometheus-node-exporter", ports=((9100, "metrics"),)),
    service("prometheus-prometheus-pushgateway", ports=((9091, "http"),)),
    service("prometheus-server", target=9090, labels={"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server"}),
]
KUBE_PROMETHEUS_STACK = [
    service("kube-prometheus-stack-kubelet", "kube-system", ((10250, "https-metrics"), (10255, "http-metrics"))),
    service("kube-prometheus-stack-coredns", "kube-system", ((9153, "http-metrics"),)),
    service("kube-prometheus-stack-operator", ports=((443, "https"),), labels={"app": "kube-prometheus-stack-operator"}),
    service("kube-prometheus-stack-grafana", ports=((80, "http-web"),)),
    service("prometheus-operated", ports=((9090, "web"),), headless=True, labels={"operated-prometheus": "true"}),
    service("kube-prometheus-stack-prometheus", ports=((9090, "http-web"), (8080, "reloader-web")),
            labels={"app": "kube-prometheus-stack-prometheus"}),
]


@pytest.mark.parametrize("services, url", [
    (COMMUNITY_CHART, "http://prometheus-server.monitoring.svc:80"),
    (KUBE_PROMETHEUS_STACK, "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"),
    (KUBE_PROMETHEUS_STACK[:5], "http://prometheus-operated.monitoring.svc:9090"),
    ([service("metrics", "observability", ((9090, "api"),), labels={"app.kubernetes.io/name": "prometheus"})],
     "http://metrics.observability.svc:9090"),
    ([service("prometheus", "ops", ((443, "https"),))], "https://prometheus.ops.svc:443"),
    (COMMUNITY_CHART[:4] + KUBE_PROMETHEUS_STACK[:4], None),
    ([service("postgres", "production", ((5432, "postgres"),)), service("web", "shop")], None),
    ([], None),
])
def test_find_prometheus(services, url):
    assert find_prometheus(services) == url


def test_importing_the_adapter_does_not_import_the_client():
    code = "import sys, copilot.sources.metrics; print(sorted(m for m in ('prometheus_api_client', 'requests') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
