"""copilot's benchmark: the RCA paths, scan, watch, LLM overhead, prompt size and memory, each checked for a right answer.

    python bench/run.py [--quick] [--json PATH] [--only STEP,...] [--profile STEP]

Prints a table and writes JSON (medians over repeated runs; see bench/README.md for every key). A step whose
result is wrong (an RCA not naming the culprit, a scan missing pods) fails loudly: its message goes to
stderr, the JSON lists it under `errors`, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import itertools
import json
import os
import platform
import pstats
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import proc
import steps
import tokens

# repeats per step: --quick must finish in under 2 minutes on 2 cores (about 40 s), the full run in under 10 (about 2.5)
PLANS: dict[str, dict[str, int]] = {
    "quick": {"rules_repeats": 3, "cli_runs": 3, "live_runs": 3, "scan_runs": 1, "llm_runs": 10, "watch_rounds": 5,
              "watch_updates": 1000, "big_log_mb": 500, "tokens_big_log_mb": 50},
    "full": {"rules_repeats": 30, "cli_runs": 30, "live_runs": 20, "scan_runs": 5, "llm_runs": 60, "watch_rounds": 20,
             "watch_updates": 1000, "big_log_mb": 500, "tokens_big_log_mb": 50},
}

Step = Callable[[dict[str, int], Callable[[str], int], str], dict[str, Any]]
STEPS: dict[str, Step] = {  # in this order: the LLM step first, so its first call pays langchain's imports
    "llm": lambda plan, count, name: steps.llm_overhead(plan["llm_runs"]),
    "rules": lambda plan, count, name: steps.rules_rca(plan["rules_repeats"]),
    "tokens": lambda plan, count, name: {**steps.bundle_tokens(name, count), **steps.big_log_tokens(plan["tokens_big_log_mb"], count)},
    "cli": lambda plan, count, name: steps.cli_rca(plan["cli_runs"]),
    "live": lambda plan, count, name: steps.live_rca(plan["live_runs"]),
    "scan": lambda plan, count, name: steps.scan(plan["scan_runs"]),
    "big_log": lambda plan, count, name: steps.big_log_rss(plan["big_log_mb"]),
    "watch": lambda plan, count, name: steps.watch(plan["watch_rounds"], plan["watch_updates"]),
}

# the table: (key, unit) in print order
TABLE = [
    ("rules_rca_p50_ms", "ms"), ("rules_rca_p95_ms", "ms"), ("rules_rca_slowest_incident", ""), ("rules_rca_slowest_p50_ms", "ms"),
    ("cli_rca_p50_s", "s"), ("cli_rca_peak_rss_mb", "MB"),
    ("live_rca_requests", "requests"), ("live_rca_p50_s", "s"), ("live_rca_peak_rss_mb", "MB"),
    ("bundle_tokens_p50", "tokens"), ("bundle_tokens_p95", "tokens"), ("bundle_tokens_max", "tokens"),
    ("bundle_tokens_max_incident", ""), ("system_prompt_tokens", "tokens"), ("bundle_tokens_big_log", "tokens"),
    ("big_log_evidence_kept", ""), ("big_log_rca_in_process_s", "s"), ("token_counter", ""),
    ("scan_5000_pods_s", "s"), ("scan_requests", "requests"), ("scan_peak_rss_mb", "MB"),
    ("peak_rss_mb_big_log", "MB"), ("big_log_mb", "MiB log"), ("big_log_live_rca_s", "s"),
    ("watch_detect_p50_s", "s"), ("watch_detect_p95_s", "s"), ("watch_rss_mb_before_updates", "MB"),
    ("watch_rss_mb_after_updates", "MB"), ("watch_messages_from_updates", "messages"),
    ("llm_overhead_ms", "ms"), ("llm_rca_p50_ms", "ms"), ("llm_first_call_s", "s"), ("llm_first_call_import_s", "s"),
]


def machine() -> dict[str, Any]:
    memory = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), None) if Path("/proc/meminfo").exists() else None
    return {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "memory_mb": memory, "load_average_1m": round(os.getloadavg()[0], 2)}


def render(figures: dict[str, Any], out=sys.stdout) -> None:
    width = max(len(k) for k, _ in TABLE)
    for key, unit in TABLE:
        if key in figures:
            value = figures[key]
            out.write(f"{key:<{width}}  {'-' if value is None else value!s:>12}  {unit}\n")


def profile_children_to(directory: str) -> None:
    numbers = itertools.count(1)
    script = str(BENCH / "profile_child.py")
    proc.PYTHON_ARGS = lambda: (script, os.path.join(directory, f"child-{next(numbers):03d}.prof"))


def top(stats_source: Any, n: int = 10) -> None:
    """The top n by cumulative time, past the start-up frames (runpy, click) that wrap everything, then by own time."""
    stats = pstats.Stats(stats_source, stream=sys.stdout).strip_dirs()
    stats.sort_stats("cumulative").print_stats(n + 15)
    stats.sort_stats("tottime").print_stats(n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and watch rounds (under 2 minutes)")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    parser.add_argument("--only", metavar="STEP,...", help=f"run only these steps: {', '.join(STEPS)}")
    parser.add_argument("--profile", metavar="STEP", choices=list(STEPS),
                        help="run STEP once under cProfile (its child processes too) and print where the time went")
    args = parser.parse_args()
    plan = PLANS["quick" if args.quick or args.profile else "full"]
    chosen = [args.profile] if args.profile else (args.only.split(",") if args.only else list(STEPS))
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")

    started = time.perf_counter()
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure: say how busy it was
    cache = tempfile.TemporaryDirectory(prefix="copilot-bench-")
    os.environ["XDG_CACHE_HOME"] = cache.name  # the LLM method cache of this process and its children
    name, count = tokens.counter()
    figures: dict[str, Any] = {}
    durations: dict[str, float] = {}
    errors: dict[str, str] = {}
    for step in chosen:
        print(f"bench: {step} ...", file=sys.stderr, flush=True)
        step_started = time.perf_counter()
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profile_children_to(cache.name)
            profiler.enable()
        try:
            figures.update(STEPS[step](plan, count, name))
        except Exception as e:  # noqa: BLE001 - every step runs; a failed one is reported and fails the run
            errors[step] = f"{type(e).__name__}: {e}"
            print(f"bench: {step} FAILED: {errors[step]}", file=sys.stderr, flush=True)
            if os.environ.get("COPILOT_DEBUG"):
                traceback.print_exc()
        finally:
            if profiler:
                profiler.disable()
        durations[step] = round(time.perf_counter() - step_started, 2)
        if profiler:
            print(f"\n== {step}: this process, top 10 cumulative ==")
            top(profiler)
            for child in sorted(glob.glob(os.path.join(cache.name, "*.prof")), key=os.path.basename):
                print(f"\n== {step}: child process {Path(child).name}, top 10 cumulative ==")
                top(child)

    report = {**figures, "quick": plan is PLANS["quick"], "bench_seconds": round(time.perf_counter() - started, 1),
              "step_seconds": durations, "machine": {**machine(), "load_average_1m_at_start": load_before},
              "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]), "errors": errors}
    render(report)
    print(f"{'bench_seconds':<28}  {report['bench_seconds']:>12}  s (quick={str(report['quick']).lower()})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    cache.cleanup()
    if errors:
        print(f"bench FAILED: {', '.join(errors)} (messages above and under `errors` in the JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
