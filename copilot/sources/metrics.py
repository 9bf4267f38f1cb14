"""Container metrics: a live Prometheus or a recorded incident's series, behind one task-shaped interface.

`prometheus_api_client` is imported here only, and lazily, so importing this module stays cheap.
"""

from __future__ import annotations

import ast
import bisect
import json
import math
import re
import socket
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Protocol

from copilot.errors import SourceError
from copilot.series import MEMORY, PERIODS, THROTTLED, THROTTLED_RATIO

if TYPE_CHECKING:
    from copilot.incident import Series

RATE_WINDOW_S = 120
LOOKBACK_S = 300  # Prometheus' default lookback delta for instant vectors
MAX_POINTS = 11_000  # Prometheus refuses query_range answers longer than this per series

Points = list[tuple[float, float]]


class MetricsError(SourceError):
    """Prometheus is down, slow, or answered with an error or something that is not Prometheus JSON."""


class Metrics(Protocol):
    """What the collector asks about a container's resource use; times are Unix seconds, sorted."""

    description: str

    def memory_working_set(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                           step_s: int = 15) -> Points:
        """(time, bytes) of the container's working set."""

    def cpu_throttling(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                       step_s: int = 15) -> Points:
        """(time, share of CFS periods throttled, 0..1) over a 2-minute rate window."""


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _ts(moment: datetime) -> float:
    return _aware(moment).timestamp()


def _step(start: float, end: float, step_s: int) -> int:
    return max(int(step_s), 1, math.ceil((end - start) / MAX_POINTS))


def _aligned(start: float, step: int) -> float:
    """Evaluation times on multiples of the step (as Grafana does): a sample at 14:28:00 is seen at 14:28:00."""
    return math.floor(start / step) * step


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(name: str, namespace: str, pod: str, container: str) -> str:
    labels = {"namespace": namespace, "pod": pod, "container": container}
    return name + "{" + ",".join(f"{k}={promql_string(v)}" for k, v in labels.items()) + "}"


def memory_query(namespace: str, pod: str, container: str) -> str:
    return f"max({selector(MEMORY, namespace, pod, container)})"


def throttling_query(namespace: str, pod: str, container: str) -> str:
    def rate(name: str) -> str:
        return f"sum(rate({selector(name, namespace, pod, container)}[{RATE_WINDOW_S // 60}m]))"
    return f"{rate(THROTTLED)} / {rate(PERIODS)}"


def _finite(points: Iterable[tuple[float, float]], clamp: bool = False) -> Points:
    out = [(t, min(max(v, 0.0), 1.0) if clamp else v) for t, v in points if math.isfinite(v)]
    return sorted(out)


class PrometheusMetrics:
    """A live Prometheus over its HTTP API: one attempt per query, bounded by `timeout` seconds."""

    def __init__(self, url: str, timeout: float = 5.0, headers: dict[str, str] | None = None,
                 verify_ssl: bool = True):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers = headers
        self.verify_ssl = verify_ssl
        self.description = f"Prometheus at {self.url}"
        self._client: Any = None

    def memory_working_set(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                           step_s: int = 15) -> Points:
        return _finite(self._query_range(memory_query(namespace, pod, container), start, end, step_s))

    def cpu_throttling(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                       step_s: int = 15) -> Points:
        return _finite(self._query_range(throttling_query(namespace, pod, container), start, end, step_s), clamp=True)

    def close(self) -> None:
        if self._client is not None:
            getattr(self._client, "close", lambda: None)()  # older clients have no close()
            self._client = None

    def _connect(self) -> Any:
        if self._client is None:
            from prometheus_api_client import PrometheusConnect
            from urllib3.util.retry import Retry

            self._client = PrometheusConnect(self.url, headers=self.headers, disable_ssl=not self.verify_ssl,
                                             retry=Retry(total=0, read=False), timeout=self.timeout)
        return self._client

    def _query_range(self, query: str, start: datetime, end: datetime, step_s: int) -> Iterable[tuple[float, float]]:
        import requests
        from prometheus_api_client import PrometheusApiClientException

        step = _step(_ts(start), _ts(end), step_s)
        aligned = datetime.fromtimestamp(_aligned(_ts(start), step), timezone.utc)
        try:
            result = self._connect().custom_query_range(
                query, start_time=aligned, end_time=_aware(end), step=f"{step}s",
                params={"timeout": f"{self.timeout:g}s"})
        except PrometheusApiClientException as e:
            raise MetricsError(self._http_error(str(e))) from e
        except requests.exceptions.Timeout as e:
            raise MetricsError(f"{self.description} did not answer within {self.timeout:g}s") from e
        except requests.exceptions.JSONDecodeError as e:
            raise MetricsError(f"{self.description} answered with something that is not Prometheus JSON "
                               "(is the URL the Prometheus server?)") from e
        except requests.exceptions.ConnectionError as e:
            raise MetricsError(f"{self.description} is unreachable: {_connection_problem(e)}") from e
        except requests.exceptions.ChunkedEncodingError as e:
            raise MetricsError(f"{self.description} closed the connection before its answer was complete") from e
        except requests.exceptions.RequestException as e:
            raise MetricsError(f"{self.description} could not be queried: {_one_line(str(e))}") from e
        except (KeyError, TypeError) as e:
            raise MetricsError(f"{self.description} answered without data.result (is the URL the Prometheus server?)") from e
        return self._matrix_points(result)

    def _matrix_points(self, result: Any) -> list[tuple[float, float]]:
        """The points of a one-series matrix (our queries aggregate to one series)."""
        try:
            return [(float(t), float(v)) for series in result for t, v in series["values"]]
        except (KeyError, TypeError, ValueError) as e:
            raise MetricsError(f"{self.description} answered with a result that is not a matrix") from e

    def _http_error(self, message: str) -> str:
        match = re.match(r"HTTP Status Code (\d+) \((b['\"].*)\)$", message, re.S)
        if not match:
            return f"{self.description} answered with an error: {_one_line(message)[:200]}"
        status, body = match.group(1), _body_text(match.group(2))
        hint = " (check the credentials in the request headers)" if status in ("401", "403") else ""
        return f"{self.description} answered HTTP {status}" + (f": {body}" if body else "") + hint


def _body_text(body_repr: str) -> str:
    """Prometheus' `error` field, or the body's text, from the client's repr of the response body."""
    try:
        text = ast.literal_eval(body_repr).decode("utf-8", "replace")
    except (ValueError, SyntaxError, AttributeError):
        text = body_repr
    try:
        answer = json.loads(text)
        text = str(answer.get("error") or text) if isinstance(answer, dict) else text
    except ValueError:
        pass
    return _one_line(text)[:200]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _connection_problem(error: BaseException) -> str:
    """Why a connection failed, from the innermost socket error urllib3 wrapped."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "cannot resolve the host name"
        stack += [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
    text = str(error)
    if "refused" in text:
        return "connection refused"
    if "resolve" in text or "Name or service not known" in text:
        return "cannot resolve the host name"
    return _one_line(text)[:200]


class RecordedMetrics:
    """The same questions answered from a recorded incident's raw series (no Prometheus needed)."""

    def __init__(self, series: list[Series], description: str = "recorded series"):
        self.series = series
        self.description = description

    def _select(self, name: str, namespace: str, pod: str, container: str) -> list[Points]:
        want = {"__name__": name, "namespace": namespace, "pod": pod, "container": container}
        return [sorted((float(t), float(v)) for t, v in s.values)
                for s in self.series if all(s.metric.get(k) == v for k, v in want.items())]

    def memory_working_set(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                           step_s: int = 15) -> Points:
        """max(working set) evaluated as Prometheus' query_range does: at aligned steps, with a 5-minute lookback."""
        return self._max_over_time(MEMORY, namespace, pod, container, start, end, step_s)

    def _max_over_time(self, name: str, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                       step_s: int) -> Points:
        """max(name{...}) at query_range's step times: each series' newest sample within the lookback."""
        all_points = [[p for p in points if math.isfinite(p[1])] for points in self._select(name, namespace, pod, container)]
        lo, hi = round(_ts(start)), round(_ts(end))
        step = _step(lo, hi, step_s)
        out = []
        for t in range(int(_aligned(lo, step)), hi + 1, step):
            seen = [v for points in all_points if (v := _latest(points, t)) is not None]
            if seen:
                out.append((float(t), max(seen)))
        return out

    def cpu_throttling(self, namespace: str, pod: str, container: str, start: datetime, end: datetime,
                       step_s: int = 15) -> Points:
        """sum(rate(throttled[2m])) / sum(rate(periods[2m])) evaluated at Prometheus' step times, from the raw
        counters; from the recorded ratio (what `copilot record` writes) when there are no counters."""
        throttled = self._select(THROTTLED, namespace, pod, container)
        periods = self._select(PERIODS, namespace, pod, container)
        if not (throttled and periods):
            return _finite(self._max_over_time(THROTTLED_RATIO, namespace, pod, container, start, end, step_s), clamp=True)
        lo, hi = round(_ts(start)), round(_ts(end))
        step = _step(lo, hi, step_s)
        lo = int(_aligned(lo, step))
        out = []
        for t in range(lo, hi + 1, step):
            num, den = _sum_rate(throttled, t), _sum_rate(periods, t)
            if num is not None and den is not None and den != 0:
                out.append((float(t), num / den))
        return _finite(out, clamp=True)


def _latest(points: Points, at: float) -> float | None:
    """The instant value at `at`: the newest sample within the lookback window (at - 5m, at]."""
    i = bisect.bisect_right(points, (at, math.inf))
    return points[i - 1][1] if i and points[i - 1][0] > at - LOOKBACK_S else None


def _sum_rate(all_points: list[Points], at: float) -> float | None:
    rates = [r for points in all_points if (r := prometheus_rate(points, at, RATE_WINDOW_S)) is not None]
    return sum(rates) if rates else None


def prometheus_rate(points: Points, at: float, window_s: float) -> float | None:
    """Prometheus 2.x `rate(counter[window])` at time `at`: counter resets and edge extrapolation included."""
    inside = [(t, v) for t, v in points if at - window_s <= t <= at]
    if len(inside) < 2:
        return None
    (first_t, first_v), (last_t, last_v) = inside[0], inside[-1]
    increase = last_v - first_v + sum(prev for (_, prev), (_, cur) in zip(inside, inside[1:]) if cur < prev)
    to_start, to_end = first_t - (at - window_s), at - last_t
    sampled = last_t - first_t
    average = sampled / (len(inside) - 1)
    if increase > 0 and first_v >= 0:
        to_start = min(to_start, sampled * (first_v / increase))
    threshold = average * 1.1
    interval = sampled + (to_start if to_start < threshold else average / 2)
    interval += to_end if to_end < threshold else average / 2
    return increase * (interval / sampled) / window_s


_SKIP = ("alertmanager", "node-exporter", "pushgateway", "operator", "kube-state-metrics", "adapter",
         "blackbox", "grafana")
_IDENTITY = ("app", "app.kubernetes.io/name", "app.kubernetes.io/component", "component", "k8s-app", "name")


def find_prometheus(services: list[dict[str, Any]]) -> str | None:
    """The in-cluster URL of the Service most likely to be Prometheus' HTTP API, None when none looks like it."""
    best: tuple[int, str, str, str] | None = None
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        name, namespace = meta.get("name") or "", meta.get("namespace") or "default"
        labels = meta.get("labels") or {}
        identity = [name.lower()] + [str(labels[k]).lower() for k in _IDENTITY if k in labels]
        ports = spec.get("ports") or []
        if any(word in text for word in _SKIP for text in identity) or not ports or spec.get("type") == "ExternalName":
            continue
        score = 4 * ("prometheus" in name.lower()) + 2 * any("prometheus" in text for text in identity[1:])
        if not score:
            continue
        web = [p for p in ports if p.get("name") in ("http", "web", "http-web") or 9090 in (p.get("port"), p.get("targetPort"))]
        if web:
            score += 3
        elif not re.search(r"prometheus(-server)?$", name.lower()):
            continue
        score += name.lower().endswith(("prometheus", "prometheus-server", "-server"))
        score -= spec.get("clusterIP") == "None"
        port = (web or ports)[0]
        scheme = "https" if str(port.get("name", "")).startswith("https") or port.get("port") == 443 else "http"
        url = f"{scheme}://{name}.{namespace}.svc:{port.get('port')}"
        key = (-score, namespace, name, url)
        if best is None or key < best:
            best = key
    return best[3] if best else None
