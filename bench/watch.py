"""Watch-path figures: detection latency (status change -> Slack POST received) and the watcher's memory.

A real `copilot watch -A` process watches `copilot replay`'s API (in this process) and posts to a
loopback webhook receiver. Each round copies an incident into a fresh namespace, healthy, then
plays its failure: one new incident per round, so dedup never hides one.

    python bench/watch.py [--incident FILE] [--rounds 20] [--updates 1000]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copilot.incident import load_incident  # noqa: E402
from copilot.replay import ReplayServer, write_kubeconfig  # noqa: E402
from copilot.sources.store import before_failure  # noqa: E402

DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"


class Receiver:
    """Records the arrival time of every POST."""

    def __init__(self):
        self.arrivals: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.cond:
                    owner.arrivals.append((time.monotonic(), json.loads(body or b"{}")))
                    owner.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.arrivals) >= count, timeout)


def _in_namespace(obj: dict, namespace: str) -> dict:
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    if meta.get("namespace"):
        meta["namespace"] = namespace
        meta.pop("uid", None)
        meta.pop("resourceVersion", None)
    for ref in ("involvedObject", "regarding"):
        if isinstance(obj.get(ref), dict) and obj[ref].get("namespace"):
            obj[ref]["namespace"] = namespace
            obj[ref].pop("uid", None)
    return obj


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(incident_path: Path = DEMO, rounds: int = 20, updates: int = 1000, timeout: float = 60.0) -> dict:
    incident = load_incident(incident_path)
    namespaced = [o for o in incident.spec.objects if (o.get("metadata") or {}).get("namespace")]
    with ReplayServer(incident) as server, tempfile.TemporaryDirectory() as tmp:
        store = server.api.store
        store.rewind()
        receiver = Receiver()
        kubeconfig = write_kubeconfig(Path(tmp) / "kc", server.url)
        env = {**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "copilot", "watch", "-A", "--no-llm", "--kubeconfig", str(kubeconfig),
                                 "--webhook", receiver.url, "--state", str(Path(tmp) / "state.json")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, env=env)
        try:
            first = proc.stdout.readline()
            if '"watching"' not in first:
                raise RuntimeError(f"watcher did not start: {first!r}")
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep its stdout drained
            latencies = []
            for i in range(rounds):
                namespace = f"bench-{i}"
                objects = [_in_namespace(o, namespace) for o in namespaced]
                for obj in objects:  # the namespace before the incident: healthy pods, no events
                    if obj["kind"] not in ("Event",):
                        store.put(before_failure(obj) if obj["kind"] == "Pod" else obj)
                for key, logs in incident.spec.logs.items():
                    _, pod, container = key.split("/")
                    store.put_log(namespace, pod, container, logs)
                time.sleep(0.3)
                expected = len(receiver.arrivals) + 1
                start = time.monotonic()
                for obj in objects:  # the failure: the recorded pods and events
                    if obj["kind"] in ("Pod", "Event"):
                        store.put(obj)
                if not receiver.wait(expected, timeout):
                    raise RuntimeError(f"round {i}: no notification within {timeout}s")
                latencies.append(receiver.arrivals[expected - 1][0] - start)
            rss_before = rss_mb(proc.pid)
            pods = [o for o in (_in_namespace(p, "bench-0") for p in namespaced) if o["kind"] == "Pod"]
            for n in range(updates):  # status churn: restarts of the crash-looping pods, annotations on healthy ones
                pod = copy.deepcopy(pods[n % len(pods)])
                pod["metadata"].setdefault("annotations", {})["bench/update"] = str(n)
                store.put(pod)
            time.sleep(2.0)
            rss_after = rss_mb(proc.pid)
            extra = len(receiver.arrivals) - rounds
        finally:
            proc.terminate()
            proc.wait(10)
            receiver.server.shutdown()
    latencies.sort()
    return {"watch_detect_p50_s": round(statistics.median(latencies), 3),
            "watch_detect_p95_s": round(latencies[max(0, int(round(0.95 * len(latencies))) - 1)], 3),
            "watch_rounds": rounds, "watch_rss_mb_before_updates": round(rss_before, 1),
            "watch_rss_mb_after_updates": round(rss_after, 1), "watch_pod_updates": updates,
            "watch_messages_from_updates": extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incident", type=Path, default=DEMO)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--updates", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(measure(args.incident, args.rounds, args.updates), indent=1))


if __name__ == "__main__":
    main()
