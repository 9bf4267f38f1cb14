"""Memory and throttling summaries over synthetic points and the demo incident's postgres series."""

from datetime import datetime, timezone
from pathlib import Path

import pytest

from copilot.incident import load_incident
from copilot.series import describe_memory, format_bytes, memory_stats, throttle_stats
from copilot.sources.metrics import RecordedMetrics

MI = 2**20
T0 = 1_795_180_000.0
DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"


def line(start_mi: float, per_min_mi: float, minutes: float, every_s: int = 30, t0: float = T0, wobble_mi: float = 0.0):
    """Points every `every_s` seconds rising linearly, with a deterministic wobble."""
    n = int(minutes * 60 / every_s) + 1
    return [(t0 + i * every_s, (start_mi + per_min_mi * i * every_s / 60 + wobble_mi * ((-1) ** i)) * MI)
            for i in range(n)]


LEAK = line(200, 2, 30, wobble_mi=0.5)                                      # 200Mi -> 260Mi over 30 min
SPIKE = line(100, 0, 20, wobble_mi=0.5) + [(T0 + 1230, 250 * MI), (T0 + 1260, 400 * MI)]
STEADY = line(100, 0, 30, wobble_mi=1)
RESET = line(300, 13, 15) + line(40, 1, 10, t0=T0 + 930)                    # 300Mi -> 495Mi, OOM, 40Mi -> 50Mi
SHORT = line(100, 50, 1)                                                    # 3 samples


@pytest.mark.parametrize("points, limit, peak_mi, peak_time, ratio, shape, resets", [
    (LEAK, 512 * MI, 260.5, T0 + 1800, 260.5 / 512, "leak", []),
    (SPIKE, 512 * MI, 400, T0 + 1260, 400 / 512, "spike", []),
    (STEADY, 256 * MI, 101, T0 + 0, 101 / 256, "steady", []),
    (RESET, 512 * MI, 495, T0 + 900, 495 / 512, "leak", [T0 + 930]),
    (SHORT, 512 * MI, 150, T0 + 60, 150 / 512, "unknown", []),
    (LEAK, None, 260.5, T0 + 1800, None, "leak", []),
    ([(T0, 10 * MI)], None, 10, T0, None, "unknown", []),
])
def test_memory_stats(points, limit, peak_mi, peak_time, ratio, shape, resets):
    stats = memory_stats(points, limit)
    assert stats.peak_bytes == pytest.approx(peak_mi * MI)
    assert stats.peak_time == peak_time
    assert stats.peak_ratio == (pytest.approx(ratio) if ratio is not None else None)
    assert stats.shape == shape
    assert stats.resets == resets
    assert stats.samples == len(points)
    assert (stats.first_time, stats.last_time) == (points[0][0], points[-1][0])


@pytest.mark.parametrize("points, slope_mi", [(LEAK, 2), (RESET, 13), (STEADY, 0)])
def test_slope_is_over_the_run_that_ends_at_the_peak(points, slope_mi):
    assert memory_stats(points).slope_bytes_per_min / MI == pytest.approx(slope_mi, abs=0.1)


def test_unsorted_points_are_sorted_and_empty_is_none():
    assert memory_stats(list(reversed(LEAK))).peak_time == T0 + 1800
    assert memory_stats([]) is None
    assert throttle_stats([]) is None


@pytest.fixture(scope="module")
def demo_postgres():
    metrics = RecordedMetrics(load_incident(DEMO).spec.series)
    return metrics.memory_working_set("production", "postgres-0", "postgres",
                                      datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc),
                                      datetime(2026, 11, 20, 14, 31, tzinfo=timezone.utc))


def test_demo_postgres_leaks_into_its_limit_then_is_killed(demo_postgres):
    stats = memory_stats(demo_postgres, 512 * MI)
    assert stats.samples == 125                   # 15 s steps over 14:00..14:31
    assert (stats.peak_bytes, stats.peak_time) == (531661418, 1795184880)
    assert stats.peak_ratio > 0.98
    assert stats.shape == "leak"
    assert stats.resets == [1795184910]           # the first sample after the OOM kill at 14:28:14Z
    assert 7 * MI < stats.slope_bytes_per_min < 8 * MI
    assert describe_memory(stats) == (
        "peak 507Mi of the 512Mi limit (99%) at 2026-11-20T14:28:00Z, rising 7.3Mi/min (a steady leak); "
        "usage fell by more than half at 2026-11-20T14:28:30Z (restart or OOM kill)")


@pytest.mark.parametrize("points, limit, text", [
    (SPIKE, None, "peak 400Mi (no memory limit) at 2026-11-20T13:27:40Z, "
                  "most of the rise within the last 2 minutes before the peak (a spike)"),
    (STEADY, 256 * MI, "peak 101Mi of the 256Mi limit (39%) at 2026-11-20T13:06:40Z, without a steady rise"),
    (SHORT, 512 * MI, "peak 150Mi of the 512Mi limit (29%) at 2026-11-20T13:07:40Z, "
                      "too few samples (3) to tell the trend"),
])
def test_describe_memory(points, limit, text):
    assert describe_memory(memory_stats(points, limit)) == text


@pytest.mark.parametrize("value, text", [
    (512 * MI, "512Mi"), (531661418, "507Mi"), (3.24 * MI, "3.2Mi"), (1.5 * 2**30, "1536Mi"),
    (12.5 * 2**30, "12.5Gi"), (2048, "2Ki"), (10, "10B"),
])
def test_format_bytes(value, text):
    assert format_bytes(value) == text


@pytest.mark.parametrize("points, samples, max_ratio, mean_ratio, max_time", [
    ([(T0, 0.1), (T0 + 15, 0.5), (T0 + 30, 0.3)], 3, 0.5, 0.3, T0 + 15),
    ([(T0 + 15, 0.9), (T0, 0.9)], 2, 0.9, 0.9, T0),        # ties: the earliest
    ([(T0, 0.0)], 1, 0.0, 0.0, T0),
])
def test_throttle_stats(points, samples, max_ratio, mean_ratio, max_time):
    stats = throttle_stats(points)
    assert (stats.samples, stats.max_time) == (samples, max_time)
    assert stats.max_ratio == pytest.approx(max_ratio)
    assert stats.mean_ratio == pytest.approx(mean_ratio)
