"""Pure summaries of metric series: memory peak, trend shape and resets; CPU throttling. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

Points = Sequence[tuple[float, float]]

MEMORY = "container_memory_working_set_bytes"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
PERIODS = "container_cpu_cfs_periods_total"
THROTTLED_RATIO = "copilot:container_cpu_cfs_throttled:ratio"  # recording-rule style name for the evaluated share

MIN_SAMPLES = 4          # fewer and the shape is "unknown"
RESET_DROP = 0.5         # a fall to below half the previous sample is a restart or an OOM kill
SPIKE_WINDOW_S = 120     # a spike does most of its rise within this long before the peak
SPIKE_SHARE = 0.6
LEAK_MIN_S = 600         # a leak rises for at least this long
LEAK_MIN_R2 = 0.8
MIN_RISE = 0.1           # a rise smaller than this share of the peak is "steady"


@dataclass
class MemoryStats:
    samples: int
    first_time: float
    last_time: float
    peak_bytes: float
    peak_time: float
    limit_bytes: int | None
    peak_ratio: float | None
    slope_bytes_per_min: float
    shape: str
    resets: list[float]


@dataclass
class ThrottleStats:
    samples: int
    max_ratio: float
    mean_ratio: float
    max_time: float


def _fit(points: Points) -> tuple[float, float]:
    """Least-squares slope (per second) and R² of the points."""
    n = len(points)
    if n < 2:
        return 0.0, 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    sxx = sum((t - mt) ** 2 for t, _ in points)
    if sxx == 0:
        return 0.0, 0.0
    slope = sum((t - mt) * (v - mv) for t, v in points) / sxx
    ss_tot = sum((v - mv) ** 2 for _, v in points)
    ss_res = sum((v - mv - slope * (t - mt)) ** 2 for t, v in points)
    return slope, (1 - ss_res / ss_tot) if ss_tot else 0.0


def _shape(run: Points, peak: float, peak_time: float, slope: float, r2: float, samples: int) -> str:
    if samples < MIN_SAMPLES:
        return "unknown"
    if len(run) < 2:
        return "steady"  # nothing rose to the peak: it is the first sample of its run
    rise = peak - min(v for _, v in run)
    if peak <= 0 or rise < MIN_RISE * peak:
        return "steady"
    before = [v for t, v in run if t <= peak_time - SPIKE_WINDOW_S]
    base = before[-1] if before else run[0][1]
    if peak - base >= SPIKE_SHARE * rise:
        return "spike"
    if peak_time - run[0][0] >= LEAK_MIN_S and slope > 0 and r2 >= LEAK_MIN_R2:
        return "leak"
    return "steady"


def memory_stats(points: Points, limit_bytes: int | None = None) -> MemoryStats | None:
    """Summarise a working-set series; None when there are no points."""
    pts = sorted((float(t), float(v)) for t, v in points)
    if not pts:
        return None
    peak_i = max(range(len(pts)), key=lambda i: (pts[i][1], -i))
    peak_time, peak = pts[peak_i]
    reset_is = [i for i in range(1, len(pts)) if pts[i - 1][1] > 0 and pts[i][1] < RESET_DROP * pts[i - 1][1]]
    run_start = max([i for i in reset_is if i <= peak_i], default=0)
    run = pts[run_start:peak_i + 1]
    slope, r2 = _fit(run)
    return MemoryStats(
        samples=len(pts), first_time=pts[0][0], last_time=pts[-1][0],
        peak_bytes=peak, peak_time=peak_time,
        limit_bytes=limit_bytes, peak_ratio=peak / limit_bytes if limit_bytes else None,
        slope_bytes_per_min=slope * 60,
        shape=_shape(run, peak, peak_time, slope, r2, len(pts)),
        resets=[pts[i][0] for i in reset_is],
    )


def throttle_stats(points: Points) -> ThrottleStats | None:
    """Summarise a throttled-share series; None when there are no points."""
    pts = sorted((float(t), float(v)) for t, v in points)
    if not pts:
        return None
    max_time, max_ratio = max(pts, key=lambda p: (p[1], -p[0]))
    return ThrottleStats(samples=len(pts), max_ratio=max_ratio,
                         mean_ratio=sum(v for _, v in pts) / len(pts), max_time=max_time)


def format_bytes(value: float) -> str:
    """Kubernetes-style binary units: 512Mi, 1.5Gi, 3.2Mi."""
    size = abs(value)
    if size >= 10 * 2**30:
        return f"{value / 2**30:.1f}Gi"
    if size >= 100 * 2**20:
        return f"{value / 2**20:.0f}Mi"
    if size >= 2**20:
        return f"{value / 2**20:.1f}Mi"
    if size >= 2**10:
        return f"{value / 2**10:.0f}Ki"
    return f"{value:.0f}B"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_memory(stats: MemoryStats) -> str:
    """One sentence for evidence, e.g. 'peak 507Mi of the 512Mi limit (99%) at ..., rising 7.8Mi/min (a steady leak)'."""
    if stats.limit_bytes:
        head = f"peak {format_bytes(stats.peak_bytes)} of the {format_bytes(stats.limit_bytes)} limit " \
               f"({stats.peak_ratio:.0%}) at {_iso(stats.peak_time)}"
    else:
        head = f"peak {format_bytes(stats.peak_bytes)} (no memory limit) at {_iso(stats.peak_time)}"
    trend = {
        "leak": f"rising {format_bytes(stats.slope_bytes_per_min)}/min (a steady leak)",
        "spike": "most of the rise within the last 2 minutes before the peak (a spike)",
        "steady": "without a steady rise",
        "unknown": f"too few samples ({stats.samples}) to tell the trend",
    }[stats.shape]
    text = f"{head}, {trend}"
    if stats.resets:
        text += "; usage fell by more than half at " + ", ".join(_iso(t) for t in stats.resets) \
                + " (restart or OOM kill)"
    return text
