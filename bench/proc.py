"""Run `python -m copilot ...` as a child process: wall time, exit code, output, and that child's own peak RSS.

The child is started through bench/spawn.py, which forks it from a small interpreter and times it there:
forked from the benchmark itself, its ru_maxrss would start at the benchmark's own peak (see spawn.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SPAWN = Path(__file__).with_name("spawn.py")
PYTHON_ARGS: Callable[[], tuple[str, ...]] = tuple  # interpreter options per child; run.py --profile adds cProfile


@dataclass
class Result:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float


def env() -> dict[str, str]:
    """The environment of every child: no LLM."""
    return {**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}


def copilot(*args: str, timeout: float = 300.0) -> Result:
    argv = [sys.executable, *PYTHON_ARGS(), "-m", "copilot", *args]
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp:
        figures = Path(tmp) / "figures"
        launcher = [sys.executable, "-I", "-S", str(SPAWN), str(figures), "--", *argv]
        proc = subprocess.Popen(launcher, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env(), start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"`copilot {' '.join(args)}` did not finish within {timeout:g}s") from None
        if not figures.exists():
            raise RuntimeError(f"bench/spawn.py failed: {stderr.decode('utf-8', 'replace')[-500:]}")
        seconds, maxrss_kib = figures.read_text().split()
    return Result(argv, proc.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"),
                  float(seconds), int(maxrss_kib) / 1024)


def check(result: Result, *, contains: list[str] = ()) -> Result:
    """Fail loudly unless the command exited 0 and its output says what a right answer says."""
    command = "copilot " + " ".join(result.args[result.args.index("copilot") + 1:])
    if result.code != 0:
        raise RuntimeError(f"`{command}` exited {result.code}: {result.stderr.strip()[-800:]}")
    missing = [c for c in contains if c not in result.stdout]
    if missing:
        raise RuntimeError(f"`{command}`: output lacks {missing}; got:\n{result.stdout[:600]}")
    return result
