"""What the memory and CPU series say, as evidence, timeline moments and fix inputs."""

from __future__ import annotations

from datetime import datetime, timezone

from copilot import series
from copilot.bundle import Container, Ref
from copilot.rca import Evidence
from copilot.rules.findings import ev

THROTTLED_A_LOT = 0.25  # a quarter of the CFS periods throttled slows start-up and probe answers visibly


def _labels(ref: Ref, c: Container) -> str:
    return f'{{namespace="{ref.namespace}",pod="{ref.name}",container="{c.name}"}}'


def memory_evidence(ref: Ref, c: Container) -> list[Evidence]:
    if c.memory is None:
        return []
    return [ev("metrics", ref, f"{series.MEMORY}{_labels(ref, c)}: {series.describe_memory(c.memory)}")]


def observed_peak(c: Container) -> int | None:
    return int(c.memory.peak_bytes) if c.memory is not None else None


def memory_clause(c: Container) -> str:
    """A sentence for the causal chain, empty when nothing was measured."""
    m = c.memory
    if m is None:
        return ""
    if m.limit_bytes:
        return (f" Its working set peaked at {series.format_bytes(m.peak_bytes)}, {m.peak_ratio:.0%} of the "
                f"{series.format_bytes(m.limit_bytes)} limit, at {_hhmm(m.peak_time)}.")
    return f" Its working set peaked at {series.format_bytes(m.peak_bytes)} at {_hhmm(m.peak_time)} (no memory limit)."


def memory_advice(c: Container) -> list[str]:
    m = c.memory
    if m is None:
        return []
    if m.shape == "leak":
        return [f"Memory rose steadily ({series.format_bytes(m.slope_bytes_per_min)}/min) up to the kill: look for a leak; "
                "a higher limit only postpones the next kill."]
    if m.shape == "spike":
        return ["Memory jumped within the last minutes before the kill: find the request, query or job that loads that much at once."]
    return []


def memory_moments(ref: Ref, c: Container) -> list[tuple[datetime, str, str]]:
    m = c.memory
    if m is None:
        return []
    share = f" ({m.peak_ratio:.0%} of {series.format_bytes(m.limit_bytes)})" if m.limit_bytes else ""
    return [(datetime.fromtimestamp(m.peak_time, timezone.utc), str(ref),
             f"{c.name} memory peak {series.format_bytes(m.peak_bytes)}{share}")]


def throttled(c: Container) -> bool:
    return c.throttling is not None and c.throttling.max_ratio >= THROTTLED_A_LOT


def throttling_evidence(ref: Ref, c: Container) -> list[Evidence]:
    t = c.throttling
    if t is None:
        return []
    at = datetime.fromtimestamp(t.max_time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [ev("metrics", ref, f"rate({series.THROTTLED}{_labels(ref, c)}[2m]) / rate({series.PERIODS}[2m]): "
                               f"up to {t.max_ratio:.0%} of CPU periods throttled (at {at}), {t.mean_ratio:.0%} on average")]


def _hhmm(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S")
