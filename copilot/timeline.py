"""One ordered timeline from container states, events, findings and timestamped log lines."""

from __future__ import annotations

import re
from datetime import datetime

from copilot.bundle import Bundle, Container, PodView, Ref, iso, parse_time
from copilot.rca import TimelineEntry
from copilot.rules.findings import Finding

_LOG_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?")
MAX_ENTRIES = 30


def log_time(line: str) -> datetime | None:
    m = _LOG_TIME.search(line[:80])
    if not m:
        return None
    zone = m.group(4) or "Z"
    zone = "+00:00" if zone in ("Z", "UTC") else zone
    return parse_time(f"{m.group(1)}T{m.group(2)}{m.group(3) or ''}{zone}")


def _container_moments(pod: PodView, c: Container) -> list[tuple[datetime, str, str]]:
    out = []
    for end in (c.last, c.terminated):
        if end is None:
            continue
        if end.started:
            out.append((end.started, str(pod.ref), f"container {c.name} started"))
        if end.finished:
            out.append((end.finished, str(pod.ref), f"container {c.name} terminated: exit {end.exit_code}{' ' + end.reason if end.reason else ''}"))
    if c.running_since:
        out.append((c.running_since, str(pod.ref), f"container {c.name} running again (restart {c.restart_count})"))
    return out


def build(bundle: Bundle, findings: list[Finding]) -> list[TimelineEntry]:
    moments: list[tuple[datetime, str, str]] = []
    pods = [bundle.target] + [p for d in bundle.dependencies for p in d.pods]
    for pod in pods:
        for c in pod.containers:
            moments += _container_moments(pod, c)
    related = {str(p.ref) for p in pods}
    for e in bundle.events:
        ref = str(e.object) if e.object.kind != "Pod" else str(Ref("Pod", e.object.namespace, e.object.name))
        if e.object.kind in ("Pod",) and ref not in related:
            continue
        if e.first:
            times = f" (x{e.count}, until {iso(e.last)})" if e.count > 1 and e.last and e.last != e.first else ""
            moments.append((e.first, ref, f"{e.reason}: {e.message[:200]}{times}"))
    for f in findings[:1]:
        taken = {(iso(t), r) for t, r, _ in moments}
        moments += [m for m in f.moments if (iso(m[0]), m[1]) not in taken]
        for item in f.evidence:
            if item.source in ("logs", "related"):
                t = log_time(item.excerpt)
                if t:
                    moments.append((t, item.resource, item.excerpt[:200]))
    seen, entries = set(), []
    for when, resource, what in sorted(moments, key=lambda m: m[0]):
        key = (iso(when), resource, what[:60])
        if key in seen:
            continue
        seen.add(key)
        entries.append(TimelineEntry(time=iso(when), resource=resource, event=what))
    return entries[-MAX_ENTRIES:]
