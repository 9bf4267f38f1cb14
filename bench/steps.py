"""The measurements. Each returns its figures as a flat dict and raises BenchError when the result it
timed is wrong: a benchmark of a broken path is worthless."""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import fixtures
import proc
import tokens

from copilot import app
from copilot.evaluate import incident_text, score
from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.snapshot import IncidentSource

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
INCIDENTS = sorted((ROOT / "evals" / "incidents").glob("*.yaml"))
DEMO_TARGET = app.Target(fixtures.DEMO_NS, fixtures.DEMO_POD)


class BenchError(RuntimeError):
    """The measured path gave a wrong answer."""


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _expect_demo_culprit(rca: Any, where: str) -> None:
    if str(rca.culprit) != fixtures.DEMO_CULPRIT:
        raise BenchError(f"{where}: culprit {rca.culprit} ({rca.category}), expected {fixtures.DEMO_CULPRIT}")


# ---------------------------------------------------------------- in process

def rules_rca(repeats: int) -> dict[str, Any]:
    """collect + rules on every public incident; each verdict scored against the incident's `expected`."""
    cases = [(path, load_incident(path)) for path in INCIDENTS]
    corpora = {path: incident_text(incident) for path, incident in cases}
    times: dict[str, list[float]] = {path.stem: [] for path, _ in cases}
    for round_ in range(repeats + 1):  # round 0 warms imports and caches, and is not counted
        for path, incident in cases:
            src, target = app.incident_source(path)
            started = time.perf_counter()
            rca = app.run_rca(src, target, no_llm=True)
            elapsed = time.perf_counter() - started
            verdict = score(incident.expected, rca, corpora[path])
            if not verdict.passed:
                raise BenchError(f"rules RCA of {path.name} is wrong: {rca.category} {rca.culprit}, missing mentions "
                                 f"{verdict.missing_mentions}, fix matched {verdict.fix_matched}")
            if round_:
                times[path.stem].append(elapsed)
    every = [t for ts in times.values() for t in ts]
    slowest = max(times, key=lambda name: statistics.median(times[name]))
    return {"rules_rca_p50_ms": _ms(statistics.median(every)), "rules_rca_p95_ms": _ms(p95(every)),
            "rules_rca_slowest_incident": slowest, "rules_rca_slowest_p50_ms": _ms(statistics.median(times[slowest])),
            "rules_rca_incidents": len(cases), "rules_rca_repeats": repeats}


def bundle_tokens(count_name: str, count: Any) -> dict[str, Any]:
    """Tokens of the user prompt (the bundle as the LLM sees it) for every public incident."""
    sizes: dict[str, int] = {}
    chars: dict[str, int] = {}
    for path in INCIDENTS:
        src, target = app.incident_source(path)
        diagnosis = app.diagnose(src, target, no_llm=True)
        text = tokens.user_prompt(diagnosis.bundle, diagnosis.findings)
        sizes[path.stem], chars[path.stem] = count(text), len(text)
    biggest = max(sizes, key=sizes.get)
    return {"token_counter": count_name, "bundle_tokens_p50": int(statistics.median(sizes.values())),
            "bundle_tokens_p95": p95(list(sizes.values())), "bundle_tokens_max": sizes[biggest],
            "bundle_tokens_max_incident": biggest, "bundle_chars_p95": p95(list(chars.values())),
            "system_prompt_tokens": count(tokens.system_prompt())}


def big_log_tokens(megabytes: int, count: Any) -> dict[str, Any]:
    """The demo with a `megabytes` MiB previous log whose last lines are the fatal ones, collected in process."""
    incident = fixtures.demo_with_big_log(DEMO, megabytes)
    started = time.perf_counter()
    diagnosis = app.diagnose(IncidentSource(incident), DEMO_TARGET, no_llm=True)
    elapsed = time.perf_counter() - started
    _expect_demo_culprit(diagnosis.rca, f"RCA with a {megabytes} MiB log")
    text = tokens.user_prompt(diagnosis.bundle, diagnosis.findings)
    kept = fixtures.DEMO_FATAL in text and fixtures.DEMO_REFUSED in text
    return {"bundle_tokens_big_log": count(text), "big_log_evidence_kept": kept, "big_log_tokens_mb": megabytes,
            "big_log_rca_in_process_s": round(elapsed, 2)}


def _load_by_path(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def llm_overhead(runs: int) -> dict[str, Any]:
    """An RCA through the whole LLM chain against an instant scripted server, minus rules only, warm."""
    from copilot.llm.config import from_env

    fake = _load_by_path("fakeopenai", ROOT / "tests" / "fakeopenai.py")
    cold = not any(m in sys.modules for m in ("langchain_openai", "openai"))
    with fake.FakeOpenAI([fake.answer(fixtures.RIGHT_ANSWER)]) as server:
        config = from_env(env={"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": server.url})

        def llm_once() -> float:
            src, target = app.incident_source(DEMO)
            before = len(server.requests)
            started = time.perf_counter()
            diagnosis = app.diagnose(src, target, llm=config)
            elapsed = time.perf_counter() - started
            rca = diagnosis.rca
            if rca.analysis.engine != "llm+rules" or rca.analysis.llm_status != "ok":
                raise BenchError(f"LLM RCA: engine {rca.analysis.engine}, llm_status {rca.analysis.llm_status}, "
                                 f"guardrail {rca.analysis.guardrail}")
            _expect_demo_culprit(rca, "LLM RCA")
            if len(server.requests) != before + 1:
                raise BenchError(f"LLM RCA sent {len(server.requests) - before} requests, expected 1")
            sent = server.bodies[-1]["messages"][1]["content"]
            if sent != tokens.user_prompt(diagnosis.bundle, diagnosis.findings):
                raise BenchError("the user prompt sent differs from bench/tokens.py's rendering: update user_prompt")
            return elapsed

        def rules_once() -> float:
            src, target = app.incident_source(DEMO)
            started = time.perf_counter()
            rca = app.run_rca(src, target, no_llm=True)
            elapsed = time.perf_counter() - started
            _expect_demo_culprit(rca, "rules RCA")
            return elapsed

        first = llm_once()
        rules_once()
        llm, rules = [], []
        for _ in range(runs):
            llm.append(llm_once())
            rules.append(rules_once())
    warm = statistics.median(llm)
    return {"llm_overhead_ms": _ms(warm - statistics.median(rules)), "llm_rca_p50_ms": _ms(warm),
            "llm_rca_rules_only_p50_ms": _ms(statistics.median(rules)), "llm_first_call_s": round(first, 3),
            "llm_first_call_import_s": round(first - warm, 3) if cold else None, "llm_runs": runs}


def watch(rounds: int, updates: int) -> dict[str, Any]:
    figures = _load_by_path("bench_watch", Path(__file__).with_name("watch.py")).measure(rounds=rounds, updates=updates)
    if figures["watch_messages_from_updates"]:
        raise BenchError(f"watch: {figures['watch_messages_from_updates']} messages from {updates} updates of pods "
                         "already reported, expected none")
    return figures


# ---------------------------------------------------------------- child processes

def cli_rca(runs: int) -> dict[str, Any]:
    results = [proc.check(proc.copilot("rca", "--incident", str(DEMO), "--no-llm"), contains=[fixtures.DEMO_CULPRIT])
               for _ in range(runs)]
    return {"cli_rca_p50_s": round(statistics.median(r.seconds for r in results), 3),
            "cli_rca_min_s": round(min(r.seconds for r in results), 3),
            "cli_rca_peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in results), 1), "cli_rca_runs": runs}


def _live_rca(kubeconfig: Path, *extra: str) -> proc.Result:
    return proc.copilot("rca", fixtures.DEMO_POD, "-n", fixtures.DEMO_NS, "--kubeconfig", str(kubeconfig), "--no-llm", *extra)


def live_rca(runs: int) -> dict[str, Any]:
    with ReplayServer(load_incident(DEMO)) as server, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", server.url)
        results = [proc.check(_live_rca(kubeconfig), contains=[fixtures.DEMO_CULPRIT])]
        requests = len(server.requests)
        results += [proc.check(_live_rca(kubeconfig), contains=[fixtures.DEMO_CULPRIT]) for _ in range(runs - 1)]
        if len(server.requests) != requests * runs:
            raise BenchError(f"live RCA: {len(server.requests)} requests for {runs} runs, not {requests} each")
    return {"live_rca_requests": requests, "live_rca_p50_s": round(statistics.median(r.seconds for r in results), 3),
            "live_rca_peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in results), 1), "live_rca_runs": runs}


def scan(runs: int, pods: int = 5000, failing: int = 200) -> dict[str, Any]:
    started = time.perf_counter()
    cluster = fixtures.big_cluster(pods=pods, failing=failing)
    built = time.perf_counter() - started
    results = []
    with ReplayServer(cluster.incident) as server, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", server.url)
        for i in range(runs):
            before = len(server.requests)
            result = proc.check(proc.copilot("scan", "-A", "-o", "json", "--kubeconfig", str(kubeconfig)))
            _check_scan(json.loads(result.stdout), cluster, failing)
            results.append(result)
            if i == 0:
                requests = len(server.requests) - before
    return {"scan_5000_pods_s": round(statistics.median(r.seconds for r in results), 3), "scan_pods": pods,
            "scan_failing": failing, "scan_requests": requests,
            "scan_peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in results), 1), "scan_runs": runs,
            "scan_fixture_build_s": round(built, 2)}


def _check_scan(doc: dict[str, Any], cluster: fixtures.Cluster, failing: int) -> None:
    if doc["failing"] != failing:
        raise BenchError(f"scan reported {doc['failing']} failing pods, expected {failing}")
    wrong = [(f"{p['namespace']}/{p['pod']}", p["category"], p["culprit"]) for p in doc["pods"]
             if (p["category"], p["culprit"]) != (cluster.failing.get(f"{p['namespace']}/{p['pod']}"),
                                                  cluster.culprits.get(f"{p['namespace']}/{p['pod']}"))]
    if wrong or doc["gaps"]:
        raise BenchError(f"scan: {len(wrong)} wrong diagnoses, e.g. {wrong[:3]}; gaps {doc['gaps'][:3]}")


def big_log_rss(megabytes: int) -> dict[str, Any]:
    """Peak memory of a live RCA whose target's previous log is `megabytes` MiB (served by the replay)."""
    started = time.perf_counter()
    incident = fixtures.demo_with_big_log(DEMO, megabytes)
    built = time.perf_counter() - started
    with ReplayServer(incident) as server, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", server.url)
        result = proc.check(_live_rca(kubeconfig, "-o", "json"), contains=[])
    rca = json.loads(result.stdout)
    culprit = "/".join(rca["culprit"][k] for k in ("kind", "namespace", "name"))
    if culprit != fixtures.DEMO_CULPRIT or fixtures.DEMO_REFUSED not in [e["excerpt"] for e in rca["evidence"]]:
        raise BenchError(f"live RCA with a {megabytes} MiB log: culprit {culprit}, evidence "
                         f"{[e['excerpt'][:80] for e in rca['evidence']]}")
    return {"peak_rss_mb_big_log": round(result.peak_rss_mb, 1), "big_log_mb": megabytes,
            "big_log_live_rca_s": round(result.seconds, 2), "big_log_fixture_build_s": round(built, 2)}
