"""A real Prometheus for tests: Debian's `prometheus`, backfilled with `promtool tsdb create-blocks-from openmetrics`.

The server runs on a free loopback port with a 100-year retention and no scrape targets, so it answers
exactly the recorded samples. Without the binaries the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from copilot.incident import Series

DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"
START, END = 1795183200, 1795185060          # the demo's recorded window, 14:00:00Z .. 14:31:00Z
APP = {"namespace": "production", "pod": "payment-service-7d9f8b-xyz", "container": "payment"}


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throttling_counters() -> list[Series]:
    """CFS counters scraped every ~15 s (with jitter): throttling ramps from 5% to 90%, and the container restarts."""
    rng = random.Random(7)
    periods, throttled, values_p, values_t = 123_456.0, 4_321.0, [], []
    t, restarted = START + 7.0, False
    while t <= END:
        share = 0.05 if t < START + 900 else min(0.9, 0.05 + (t - START - 900) / 600)
        if t >= START + 1500 and not restarted:                 # restart: both counters begin again
            periods, throttled, restarted = 0.0, 0.0, True
        values_p.append((round(t, 3), f"{periods:.0f}"))
        values_t.append((round(t, 3), f"{throttled:.0f}"))
        step = 15 + rng.uniform(-1, 1)
        periods += 10 * step
        throttled += 10 * step * share
        t += step
    return [Series(metric={"__name__": "container_cpu_cfs_periods_total", **APP}, values=values_p),
            Series(metric={"__name__": "container_cpu_cfs_throttled_periods_total", **APP}, values=values_t)]


def openmetrics(series: list[Series]) -> str:
    """OpenMetrics text for promtool: one family per metric name, samples with timestamps in seconds."""
    def label(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines, families = [], {}
    for s in series:
        families.setdefault(s.metric["__name__"], []).append(s)
    for name, members in families.items():
        counter = name.endswith("_total")
        lines.append(f"# TYPE {name.removesuffix('_total') if counter else name} {'counter' if counter else 'gauge'}")
        for s in members:
            labels = ",".join(f"{k}={label(v)}" for k, v in s.metric.items() if k != "__name__")
            lines += [f"{name}{{{labels}}} {v} {t}" for t, v in s.values]
    return "\n".join(lines + ["# EOF", ""])


@contextlib.contextmanager
def prometheus_serving(series: list[Series], work: Path) -> Iterator[str]:
    """The URL of a real Prometheus on loopback serving `series` from backfilled blocks."""
    missing = [b for b in ("prometheus", "promtool") if not shutil.which(b)]
    if missing:
        message = f"{' and '.join(missing)} not installed (Debian: apt-get install prometheus)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    (work / "series.om").write_text(openmetrics(series))
    (work / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(work / "series.om"), str(work / "data")],
                   check=True, capture_output=True, timeout=60)
    url = f"http://127.0.0.1:{free_port()}"
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(["prometheus", f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}", "--storage.tsdb.retention.time=100y",
                             f"--web.listen-address={url.removeprefix('http://')}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not become ready: {(work / 'prometheus.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class PromStub:
    """A loopback HTTP server answering every request with one configured fault: (status, body, delay, truncate).

    Attributes can be changed between requests; `requests` lists the paths asked for.
    """

    def __init__(self, status: int = 200, body: bytes = b"", delay: float = 0.0, truncate: bool = False):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.status, self.body, self.delay, self.truncate = status, body, delay, truncate
        self.requests: list[str] = []
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stub.requests.append(self.path)
                if stub.delay:
                    stub.release.wait(stub.delay)
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(stub.body) * (2 if stub.truncate else 1)))
                self.end_headers()
                try:
                    self.wfile.write(stub.body)
                    if stub.truncate:  # promised twice the body, sent it once, hung up
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the client gave up first, as the timeout tests want

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
