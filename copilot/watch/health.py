"""/healthz and /readyz for the kubelet's probes when the watcher runs in a pod."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from copilot.errors import UsageError


def serve_health(health: Any, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve in a daemon thread: /healthz is 200 while the watch loop beats, /readyz once the first list is done."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":
                ok, body = health.alive(), "ok" if health.alive() else (health.fatal or "the watch loop has stalled")
            elif path == "/readyz":
                ok, body = health.ready and health.alive(), "ok" if health.ready else "listing pods"
            else:
                self.send_error(404)
                return
            data = (body + "\n").encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        raise UsageError(f"--health-port {port}: cannot listen ({e.strerror}); choose another port") from e
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="copilot-health", daemon=True).start()
    return server
