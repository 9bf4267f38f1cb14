"""`copilot eval`: diagnose recorded incidents through the `rca --incident` path and score them.

Scoring follows the incident format: category (one of the accepted), culprit (kind with aliases, name, and
namespace when given), mentions (case-insensitive, in summary, root_cause or evidence), fix (some command
matches some regex). A case passes when all four hold. The diagnosis never sees `metadata` or `expected`.
The run itself is a pydantic-evals Dataset: one Case per incident, one Evaluator per criterion.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml

from copilot.errors import CopilotError, IncidentError, UsageError
from copilot.incident import Expected, Incident, Metadata, load_incident
from copilot.rca import RCA, canonical_kind

if TYPE_CHECKING:
    from copilot.llm.config import LLMConfig

SUITE_KIND = "Suite"


# ---------------------------------------------------------------- scoring (pure)

@dataclass
class Score:
    category_ok: bool
    culprit_ok: bool
    missing_mentions: list[str]
    fix_matched: bool
    grounding: float | None  # share of evidence items found in the incident; None without evidence

    @property
    def passed(self) -> bool:
        return self.category_ok and self.culprit_ok and not self.missing_mentions and self.fix_matched


def accepted_categories(expected: Expected) -> list[str]:
    return [expected.category] if isinstance(expected.category, str) else list(expected.category)


def culprit_matches(expected: Expected, rca: RCA) -> bool:
    want = expected.culprit
    if want is None:
        return True
    got = rca.culprit
    return (canonical_kind(got.kind) == canonical_kind(want.kind) and got.name == want.name
            and (want.namespace is None or (got.namespace or "") == want.namespace))


def missing_mentions(expected: Expected, rca: RCA) -> list[str]:
    text = " ".join([rca.summary, rca.root_cause] + [e.excerpt for e in rca.evidence]).lower()
    return [m for m in expected.mentions if m.lower() not in text]


def fix_matches(expected: Expected, rca: RCA) -> bool:
    if not expected.fix:
        return True
    return any(re.search(rx, f.command) for rx in expected.fix for f in rca.fix)


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def incident_text(incident: Incident) -> str:
    """Every string of the spec (object values, event messages, logs), normalised, for grounding checks."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                parts.append(str(k))
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif value is not None:
            parts.append(str(value))

    walk(incident.spec.objects)
    for key, logs in incident.spec.logs.items():
        parts += [key, logs.previous or "", logs.current or ""]
    for s in incident.spec.series:
        parts += list(s.metric.values())
    return _norm("\n".join(parts))


_SPLIT = re.compile(r"[\s=:,;{}\[\]()\"'`]+")


def _specific(token: str) -> bool:
    """Identifier-like tokens (names, numbers, paths, CamelCase): the facts an excerpt asserts.
    Plain lowercase words are the excerpt's own phrasing and are not checked."""
    if not any(ch.isalnum() for ch in token):
        return False
    return not token.isalpha() or (not token.islower() and len(token) > 1)


def grounded(excerpt: str, source: str, corpus: str) -> bool:
    """An excerpt is grounded when it is quoted verbatim (logs and events must be), or, for the facts the
    rules render (status, spec, rollout, related), when every identifier-like token in it occurs in the incident.
    A metrics excerpt is grounded when the series it names was recorded."""
    text = _norm(excerpt)
    if not text:
        return False
    if text in corpus or all(_norm(line) in corpus for line in excerpt.splitlines() if line.strip()):
        return True
    if source in ("logs", "events"):
        return False
    if source == "metrics":
        labels = re.findall(r'(?:pod|container)="([^"]+)"', excerpt)
        return bool(labels) and all(_norm(v) in corpus for v in labels)
    tokens = [t.strip(".").lower() for t in _SPLIT.split(excerpt)]
    facts = [part for t in tokens if _specific(t)
             for part in (re.split(r"[./]", t) if re.fullmatch(r"[a-z][\w./-]*", t) else [t]) if part]
    return all(f in corpus for f in facts)


def score(expected: Expected, rca: RCA, corpus: str) -> Score:
    ground = [grounded(e.excerpt, e.source, corpus) for e in rca.evidence]
    return Score(
        category_ok=rca.category in accepted_categories(expected),
        culprit_ok=culprit_matches(expected, rca),
        missing_mentions=missing_mentions(expected, rca),
        fix_matched=fix_matches(expected, rca),
        grounding=sum(ground) / len(ground) if ground else None,
    )


# ---------------------------------------------------------------- finding cases

@dataclass
class CaseSpec:
    name: str
    path: Path
    incident: Incident | None = None
    error: str | None = None

    @property
    def tags(self) -> list[str]:
        return list(self.incident.metadata.tags) if self.incident else []


def _suite_members(path: Path, data: dict[str, Any]) -> list[Path]:
    include = data.get("include")
    if not isinstance(include, list) or not all(isinstance(x, str) for x in include):
        raise UsageError(f"{path}: a suite needs 'include: [paths or globs]'")
    out: list[Path] = []
    for pattern in include:
        matched = sorted(path.parent.glob(pattern))
        if not matched:
            raise UsageError(f"{path}: include {pattern!r} matches no file")
        out += matched
    return out


def _is_suite(path: Path) -> dict[str, Any] | None:
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(4096)
        if f"kind: {SUITE_KIND}" not in head:
            return None
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == SUITE_KIND else None


def find_cases(paths: list[str], tag: str | None = None) -> tuple[list[CaseSpec], int]:
    """Cases from incident files, folders (recursively) and suite files; returns (cases, skipped without expected)."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise UsageError(f"{raw}: no such file or folder")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix in (".yaml", ".yml", ".json") and f.is_file() and _is_suite(f) is None \
                        and not f.name.endswith(".schema.json") and "baselines" not in f.parts:
                    files.append(f)
        elif (suite := _is_suite(p)) is not None:
            files += _suite_members(p, suite)
        else:
            files.append(p)
    seen: set[Path] = set()
    cases, skipped = [], 0
    for f in files:
        key = f.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            incident = load_incident(f)
        except IncidentError as e:
            cases.append(CaseSpec(f.stem, f, error=str(e)))
            continue
        if incident.expected is None:
            skipped += 1
            continue
        if tag and tag not in incident.metadata.tags:
            continue
        cases.append(CaseSpec(incident.metadata.name, f, incident))
    names = Counter(c.name for c in cases)
    for c in cases:
        if names[c.name] > 1:
            c.name = f"{c.name} ({c.path})"
    return cases, skipped


# ---------------------------------------------------------------- running

def blind(incident: Incident) -> Incident:
    """The incident as the diagnosis may see it: no expected verdict, no name, description, source or tags."""
    return incident.model_copy(update={"expected": None, "metadata": Metadata(name="incident")})


Diagnose = Callable[[Incident], RCA]


def diagnoser(llm: LLMConfig | None = None, no_llm: bool = True) -> Diagnose:
    """`copilot rca --incident`: the same source, metrics, rules and (when configured) LLM chain."""

    def diagnose(incident: Incident) -> RCA:
        from copilot import app
        from copilot.sources.snapshot import IncidentSource

        source = IncidentSource(incident)
        target = app.Target(incident.spec.target.namespace, incident.spec.target.pod)
        metrics, gap = app.incident_metrics(source)
        return app.run_rca(source, target, llm=llm, no_llm=no_llm or llm is None, metrics=metrics, metrics_gap=gap)

    return diagnose


rules_diagnose = diagnoser()


@dataclass
class Run:
    """One diagnosis of one case."""

    rca: RCA | None
    score: Score | None
    latency_ms: float
    error: str | None = None


@dataclass
class CaseResult:
    name: str
    path: str
    tags: list[str]
    category_expected: list[str]
    culprit_expected: str | None
    runs: list[Run] = field(default_factory=list)
    error: str | None = None  # the file itself is invalid

    @property
    def first(self) -> Run | None:
        return self.runs[0] if self.runs else None

    @property
    def passes(self) -> int:
        return sum(1 for r in self.runs if r.score is not None and r.score.passed)

    @property
    def passed(self) -> bool:
        """Passed in every run (pass^N; with one run, simply passed)."""
        return bool(self.runs) and self.passes == len(self.runs)

    def to_json(self) -> dict[str, Any]:
        run = self.first
        rca, s = (run.rca, run.score) if run else (None, None)
        analysis = rca.analysis if rca else None
        return {
            "name": self.name, "path": self.path, "tags": self.tags, "passed": self.passed,
            "category_expected": self.category_expected, "category": rca.category if rca else None,
            "culprit_expected": self.culprit_expected, "culprit": str(rca.culprit) if rca else None,
            "category_ok": s.category_ok if s else False, "culprit_ok": s.culprit_ok if s else False,
            "missing_mentions": s.missing_mentions if s else [], "fix_matched": s.fix_matched if s else False,
            "fix": [f.command for f in rca.fix] if rca else [], "grounding": s.grounding if s else None,
            "confidence": rca.confidence if rca else None,
            "latency_ms": run.latency_ms if run else None,
            "tokens": (analysis.tokens or {}).get("total", 0) if analysis else 0,
            "cost_usd": (analysis.cost_usd or 0.0) if analysis else 0.0,
            "engine": analysis.engine if analysis else None, "llm_status": analysis.llm_status if analysis else None,
            "runs": len(self.runs), "runs_passed": self.passes,
            "error": self.error or (run.error if run else None),
        }


def _culprit_text(expected: Expected) -> str | None:
    c = expected.culprit
    if c is None:
        return None
    return "/".join(x for x in (canonical_kind(c.kind), c.namespace, c.name) if x)


def run_cases(cases: list[CaseSpec], diagnose: Diagnose = rules_diagnose, repeat: int = 1, jobs: int = 1,
              progress: bool = False) -> list[CaseResult]:
    """Diagnose every valid case `repeat` times through a pydantic-evals Dataset and score each run."""
    from pydantic_evals import Case, Dataset
    from pydantic_evals.evaluators import Evaluator, EvaluatorContext

    results = {c.name: CaseResult(c.name, os.path.normpath(c.path), c.tags,
                                  accepted_categories(c.incident.expected) if c.incident else [],
                                  _culprit_text(c.incident.expected) if c.incident else None, error=c.error)
               for c in cases}
    valid = [c for c in cases if c.incident is not None]
    corpora = {c.name: incident_text(c.incident) for c in valid}

    def task(name: str) -> Run:
        spec = next(c for c in valid if c.name == name)
        started = time.perf_counter()
        try:
            rca = diagnose(blind(spec.incident))
        except CopilotError as e:
            return Run(None, None, _ms(started), f"{type(e).__name__}: {e}")
        latency = _ms(started)
        return Run(rca, score(spec.incident.expected, rca, corpora[name]), latency)

    @dataclass
    class Criteria(Evaluator):
        """The four criteria of the format doc as assertions, grounding as a score."""

        def evaluate(self, ctx: EvaluatorContext) -> dict[str, bool | float]:
            s = ctx.output.score
            if s is None:
                return {"passed": False}
            out: dict[str, bool | float] = {"category": s.category_ok, "culprit": s.culprit_ok,
                                            "mentions": not s.missing_mentions, "fix": s.fix_matched, "passed": s.passed}
            if s.grounding is not None:
                out["grounding"] = s.grounding
            return out

    if valid:
        dataset = Dataset(name="copilot-eval", cases=[Case(name=c.name, inputs=c.name) for c in valid], evaluators=[Criteria()])
        report = dataset.evaluate_sync(task, progress=progress, repeat=max(1, repeat), max_concurrency=max(1, jobs))
        for case in report.cases:
            results[case.source_case_name or case.name].runs.append(case.output)
        for failure in report.failures:  # an exception the task did not turn into a Run: a bug, reported as a case error
            results[failure.source_case_name or failure.name].runs.append(
                Run(None, None, 0.0, f"internal error: {failure.error_message}"))
    return [results[c.name] for c in cases]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


# ---------------------------------------------------------------- report

def summarize(results: list[CaseResult], skipped: int = 0, repeat: int = 1) -> dict[str, Any]:
    scored = [r for r in results if r.first is not None and r.first.score is not None]
    n = len(results)

    def share(pred: Callable[[Score], bool]) -> float:
        return round(sum(1 for r in scored if pred(r.first.score)) / n, 4) if n else 0.0

    latencies = sorted(r.first.latency_ms for r in results if r.first is not None)
    grounding = [r.first.score.grounding for r in scored if r.first.score.grounding is not None]
    per_category: dict[str, dict[str, Any]] = {}
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        want = r.category_expected[0] if r.category_expected else "?"
        got = r.first.rca.category if r.first is not None and r.first.rca is not None else "error"
        row = per_category.setdefault(want, {"cases": 0, "passed": 0, "category_ok": 0})
        row["cases"] += 1
        row["passed"] += r.passed
        row["category_ok"] += got in r.category_expected
        confusion[want][want if got in r.category_expected else got] += 1
    for row in per_category.values():
        row["pass_rate"] = round(row["passed"] / row["cases"], 4)
        row["category_accuracy"] = round(row["category_ok"] / row["cases"], 4)
    analyses = [r.first.rca.analysis for r in scored]
    summary = {
        "cases": n, "passed": sum(r.passed for r in results),
        "pass_rate": round(sum(r.passed for r in results) / n, 4) if n else 0.0,
        "category_accuracy": share(lambda s: s.category_ok), "culprit_accuracy": share(lambda s: s.culprit_ok),
        "mentions_accuracy": share(lambda s: not s.missing_mentions), "fix_accuracy": share(lambda s: s.fix_matched),
        "grounding": round(statistics.fmean(grounding), 4) if grounding else None,
        "latency_ms_mean": round(statistics.fmean(latencies), 1) if latencies else None,
        "latency_ms_p95": latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)] if latencies else None,
        "tokens": sum((a.tokens or {}).get("total", 0) for a in analyses),
        "cost_usd": round(sum(a.cost_usd or 0.0 for a in analyses), 6),
        "errors": sum(1 for r in results if r.error or (r.first is not None and r.first.error)),
        "skipped_without_expected": skipped,
        "engines": dict(Counter(r.first.rca.analysis.engine for r in scored)),
        "per_category": dict(sorted(per_category.items())),
        "confusion": {k: dict(v) for k, v in sorted(confusion.items())},
    }
    if repeat > 1:
        runs = [run for r in results for run in r.runs]
        summary["repeat"] = repeat
        summary["pass_at_1"] = round(sum(1 for run in runs if run.score and run.score.passed) / len(runs), 4) if runs else 0.0
        summary[f"pass_pow_{repeat}"] = summary["pass_rate"]
    return summary


def report_json(results: list[CaseResult], skipped: int = 0, repeat: int = 1) -> dict[str, Any]:
    return {"summary": summarize(results, skipped, repeat), "cases": [r.to_json() for r in results]}


def load_baseline(path: str) -> dict[str, Any]:
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"--baseline {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise UsageError(f"--baseline {path}: not a JSON report from `copilot eval -o json` ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not isinstance(data.get("summary"), dict):
        raise UsageError(f"--baseline {path}: not a JSON report from `copilot eval -o json` (no summary and cases)")
    return data


def compare(report: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    before = {c.get("name"): bool(c.get("passed")) for c in baseline["cases"] if isinstance(c, dict)}
    now = {c["name"]: c["passed"] for c in report["cases"]}
    return {
        "baseline_pass_rate": baseline["summary"].get("pass_rate"),
        "regressed": sorted(n for n, ok in now.items() if before.get(n) is True and not ok),
        "improved": sorted(n for n, ok in now.items() if before.get(n) is False and ok),
        "new": sorted(n for n in now if n not in before),
        "removed": sorted(n for n in before if n not in now),
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def render_text(report: dict[str, Any], comparison: dict[str, Any] | None, out) -> None:
    """A row per case (failures show what was expected and what came), averages, per category, confusion."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=max(140, Console(file=out).width), highlight=False, soft_wrap=False)
    s = report["summary"]
    cases = Table(title=f"copilot eval: {s['passed']}/{s['cases']} passed ({_pct(s['pass_rate'])})", show_lines=False)
    for col in ("case", "ok", "category (expected -> got)", "culprit (expected -> got)", "missing mentions", "fix", "grounded", "ms"):
        cases.add_column(col, overflow="fold", no_wrap=col == "case")
    for c in report["cases"]:
        if c["error"] and c["category"] is None:
            cases.add_row(c["name"], "ERR", c["error"], "", "", "", "", "")
            continue
        cat = c["category"] if c["category_ok"] else f"{'|'.join(c['category_expected'])} -> {c['category']}"
        cul = (c["culprit"] if c["culprit_ok"] else f"{c['culprit_expected']} -> {c['culprit']}")
        cases.add_row(c["name"], "pass" if c["passed"] else "FAIL", cat, cul, ", ".join(c["missing_mentions"]),
                      "yes" if c["fix_matched"] else "NO", _pct(c["grounding"]), f"{c['latency_ms']:.0f}" if c["latency_ms"] is not None else "-")
    cases.add_section()
    cases.add_row("averages", _pct(s["pass_rate"]), _pct(s["category_accuracy"]), _pct(s["culprit_accuracy"]),
                  _pct(s["mentions_accuracy"]), _pct(s["fix_accuracy"]), _pct(s["grounding"]),
                  f"{s['latency_ms_mean']:.0f}" if s["latency_ms_mean"] is not None else "-")
    console.print(cases)

    per = Table(title="per category")
    for col in ("category", "cases", "passed", "pass rate", "category accuracy"):
        per.add_column(col)
    for name, row in s["per_category"].items():
        per.add_row(name, str(row["cases"]), str(row["passed"]), _pct(row["pass_rate"]), _pct(row["category_accuracy"]))
    console.print(per)

    wrong = {want: {got: n for got, n in row.items() if got != want} for want, row in s["confusion"].items()}
    wrong = {k: v for k, v in wrong.items() if v}
    if wrong:
        confusion = Table(title="confusion (expected -> diagnosed, misses only)")
        for col in ("expected", "diagnosed as", "cases"):
            confusion.add_column(col)
        for want, row in wrong.items():
            for got, n in sorted(row.items()):
                confusion.add_row(want, got, str(n))
        console.print(confusion)
    line = (f"cases {s['cases']}  passed {s['passed']}  pass rate {_pct(s['pass_rate'])}  "
            f"latency mean {s['latency_ms_mean']} ms p95 {s['latency_ms_p95']} ms  tokens {s['tokens']}  cost ${s['cost_usd']:.4f}")
    if "pass_at_1" in s:
        line += f"  pass@1 {_pct(s['pass_at_1'])}  pass^{s['repeat']} {_pct(s['pass_pow_' + str(s['repeat'])])}"
    if s["skipped_without_expected"]:
        line += f"  skipped (no expected) {s['skipped_without_expected']}"
    console.print(line)
    if comparison:
        console.print(f"against the baseline ({_pct(comparison['baseline_pass_rate'])}): "
                      f"regressed {len(comparison['regressed'])}, improved {len(comparison['improved'])}, "
                      f"new {len(comparison['new'])}, removed {len(comparison['removed'])}")
        for key in ("regressed", "improved", "new", "removed"):
            for name in comparison[key]:
                console.print(f"  {key}: {name}")
