"""Our own OpenAI-compatible server on loopback: scripted answers, every request recorded as it arrived.

A script is a list of steps, one per request (the last one repeats). A step is a function of the request
body returning (status, JSON body) and may sleep first. The real `openai` SDK and `langchain-openai` talk
to it over real HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Step = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
USAGE = {"prompt_tokens": 1200, "completion_tokens": 150, "total_tokens": 1350}


def _completion(message: dict[str, Any], model: str, finish: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1767225600, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": USAGE}


def answer(obj: Any) -> Step:
    """Answer the way the request asks: a tool call when tools were offered, else JSON content."""
    def step(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}
            return 200, _completion({"content": None, "tool_calls": [call]}, body.get("model", ""), "tool_calls")
        return 200, _completion({"content": text}, body.get("model", ""))
    return step


def refuse_json_schema(then: Step) -> Step:
    """Like llama.cpp's server: a json_schema response_format is a 400; anything else goes to `then`."""
    def step(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            return 400, {"error": {"message": "response_format type json_schema is not supported", "type": "invalid_request_error"}}
        return then(body)
    return step


def status(code: int, message: str = "boom") -> Step:
    def step(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return code, {"error": {"message": message, "type": "server_error" if code >= 500 else "rate_limit_error"}}
    return step


def slow(seconds: float, then: Step) -> Step:
    def step(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        time.sleep(seconds)
        return then(body)
    return step


def _sse(completion: dict[str, Any]) -> bytes:
    """A completion as the server-sent events of a streamed one: the text in small pieces, tool calls whole."""
    choice = completion["choices"][0]
    message = choice["message"]
    base = {"id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"], "model": completion["model"]}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    text = message.get("content") or ""
    deltas += [{"content": text[i:i + 7]} for i in range(0, len(text), 7)]
    for i, call in enumerate(message.get("tool_calls") or []):
        deltas.append({"tool_calls": [{"index": i, **call}]})
    events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}], "usage": completion["usage"]})
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


class FakeOpenAI:
    def __init__(self, script: list[Step]):
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "body", "raw"}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in two writes: no delayed-ACK wait on reused connections

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "raw": raw.decode("utf-8", "replace")})
                step = outer.script[min(len(outer.requests), len(outer.script)) - 1]
                try:
                    code, payload = step(body)
                except (BrokenPipeError, ConnectionError):
                    return
                streamed = body.get("stream") and code == 200
                data = _sse(payload) if streamed else json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "text/event-stream" if streamed else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]
