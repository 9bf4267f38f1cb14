"""A fake Slack incoming webhook (or any JSON webhook) on loopback: real HTTP, scripted answers.

    with FakeSlack([Reply(429, "rate_limited", {"Retry-After": "1"}), Reply(500), Reply(200, "ok")]) as slack:
        SlackNotifier(slack.url, sleep=lambda s: None).send(notice)
        assert [p.status for p in slack.posts] == [429, 500, 200]
        assert slack.posts[-1].json["blocks"][0]["type"] == "header"

Every POST (any path) is recorded as a Post, answered by the next scripted Reply, then by `default`
(200 "ok", as Slack answers) once the script is used up. `script()` adds replies while running;
`wait_for(n)` blocks until n posts arrived, for code that posts from another thread (the watcher).
A Reply can also wait (`delay`, to provoke client timeouts) or drop the connection unanswered (`drop`).
`closed_url()` is a loopback URL nothing listens on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without an answer


@dataclass
class Post:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int | None  # what the fake answered; None when dropped

    @property
    def json(self) -> Any:
        """The parsed body, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class FakeSlack:
    def __init__(self, replies: list[Reply] | tuple[Reply, ...] = (), default: Reply | None = None,
                 path: str = "/services/T0000000/B0000000/fakefakefakefakefake"):
        self.default = default or Reply()
        self.path = path
        self.posts: list[Post] = []
        self._replies: deque[Reply] = deque(replies)
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server, "FakeSlack is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def script(self, *replies: Reply) -> None:
        """Answer the next POSTs with these, after those already scripted."""
        with self._lock:
            self._replies.extend(replies)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Post]:
        """The posts once there are at least n of them; AssertionError after `timeout` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.posts) >= n, timeout):
                raise AssertionError(f"expected {n} POSTs within {timeout}s, got {len(self.posts)}")
            return list(self.posts)

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    reply = fake._replies.popleft() if fake._replies else fake.default
                time.sleep(reply.delay)
                with fake._lock:
                    fake.posts.append(Post(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                           None if reply.drop else reply.status))
                    fake._lock.notify_all()
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.body.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fakeslack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (timed out) before a delayed reply is expected here, not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def closed_url(path: str = "/services/T0000000/B0000000/nobodyhome") -> str:
    """A loopback URL whose port was just free and nothing listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
