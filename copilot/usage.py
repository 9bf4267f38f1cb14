"""Resource use around the crash: memory working set and CPU throttling of the containers that matter.

Windows are anchored on each container's last termination (the OOM kill, the crash), not on the wall clock:
an incident diagnosed an hour later still sees the minutes before the kill. A metrics source that is down,
slow or empty leaves a gap; it never fails the RCA.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from copilot import fixes, series
from copilot.bundle import Bundle, Container, PodView
from copilot.errors import SourceError

if TYPE_CHECKING:
    from copilot.sources.metrics import Metrics

BEFORE = timedelta(minutes=30)  # how far back from the termination the window reaches
AFTER = timedelta(minutes=2)
MAX_DEPENDENCY_PODS = 4
MAX_CONTAINERS = 12  # queries are two per container: a bound on what one RCA asks Prometheus


def window(c: Container, now: datetime) -> tuple[datetime, datetime]:
    end = c.ending
    anchor = end.finished if end is not None and end.finished is not None and end.finished <= now else now
    return anchor - BEFORE, min(anchor + AFTER, now)


def _wanted(bundle: Bundle) -> list[tuple[PodView, Container]]:
    out = [(bundle.target, c) for c in bundle.target.containers]
    pods = [p for d in bundle.dependencies for p in d.pods]
    troubled = [p for p in pods if any(c.failing or c.last is not None for c in p.containers)]
    for pod in troubled[:MAX_DEPENDENCY_PODS]:
        out += [(pod, c) for c in pod.containers if c.failing or c.last is not None]
    return out[:MAX_CONTAINERS]


class RecordingMetrics:
    """Passes questions through and keeps the points answered (memory, throttled share), for `copilot record`."""

    def __init__(self, inner: Metrics):
        self.inner = inner
        self.description = inner.description
        self.series: list[dict[str, Any]] = []

    def memory_working_set(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                           step_s: int = 15) -> list[tuple[float, float]]:
        points = self.inner.memory_working_set(namespace, pod, container, start, end, step_s)
        if points:
            self.series.append({"metric": {"__name__": series.MEMORY, "namespace": namespace, "pod": pod, "container": container},
                                "values": [[_number(t), _sample(v)] for t, v in points]})
        return points

    def cpu_throttling(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                       step_s: int = 15) -> list[tuple[float, float]]:
        points = self.inner.cpu_throttling(namespace, pod, container, start, end, step_s)
        if points:  # the evaluated share, not the counters: enough to answer the same question from the file
            self.series.append({"metric": {"__name__": series.THROTTLED_RATIO, "namespace": namespace, "pod": pod, "container": container},
                                "values": [[_number(t), _sample(v)] for t, v in points]})
        return points


def _number(t: float) -> int | float:
    return int(t) if float(t).is_integer() else t


def _sample(v: float) -> str:
    """Prometheus' own formatting of a sample value: integers without a fraction."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def read_usage(metrics: Metrics, bundle: Bundle) -> None:
    """Fill `memory` and `throttling` on the target's containers and on failing dependencies' containers."""
    started = time.perf_counter()
    empty = []
    try:
        for pod, c in _wanted(bundle):
            start, end = window(c, bundle.now)
            ns = pod.ref.namespace or bundle.namespace
            points = metrics.memory_working_set(ns, pod.ref.name, c.name, start, end)
            c.memory = series.memory_stats(points, fixes.memory_bytes(c.limits.get("memory")))
            if c.memory is None:
                empty.append(f"{pod.ref.name}/{c.name}")
            c.throttling = series.throttle_stats(metrics.cpu_throttling(ns, pod.ref.name, c.name, start, end))
    except SourceError as e:
        bundle.gaps.append(f"memory and CPU series: {e}")
    if empty:
        bundle.gaps.append(f"{metrics.description} has no {series.MEMORY} around the crash for " + ", ".join(empty))
    bundle.timings["metrics_ms"] = round((time.perf_counter() - started) * 1000, 1)
