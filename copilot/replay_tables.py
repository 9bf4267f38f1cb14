"""Server-side printing for the replay: meta.k8s.io Tables as `kubectl get` asks for them.

Cells are computed as the API server computes them, with ages measured from the
incident's spec.now so a replay shows the cluster as it was when recorded.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

Column = tuple[str, str, int]  # name, type, priority (0: always shown, 1: -o wide)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, hours // 24 % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def since(when: str | datetime | None, now: datetime) -> str:
    when = when if isinstance(when, datetime) else parse_time(when)
    return "<unknown>" if when is None else human_duration((now - when).total_seconds())


def _latest(current: datetime | None, status: dict[str, Any]) -> datetime | None:
    finished = parse_time(((status.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
    return max(filter(None, [current, finished]), default=None)


def partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def pod_status(pod: dict[str, Any]) -> tuple[str, int, int, int, datetime | None]:
    """(STATUS, ready, total, restarts, last restart time) as kubectl's printPod computes them."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total, ready, restarts, sidecar_restarts = len(spec.get("containers") or []) + len(sidecars), 0, 0, 0
    last, sidecar_last = None, None
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, st in enumerate(init_statuses):
        restarts += int(st.get("restartCount") or 0)
        last = _latest(last, st)
        if st.get("name") in sidecars:
            sidecar_restarts += int(st.get("restartCount") or 0)
            sidecar_last = _latest(sidecar_last, st)
        state = st.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if st.get("name") in sidecars and st.get("started"):
            ready += 1 if st.get("ready") else 0
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or (f"Signal:{terminated['signal']}" if terminated.get("signal")
                                                            else f"ExitCode:{terminated.get('exitCode', 0)}"))
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in status.get("conditions") or [])
    if not initializing or initialized:
        restarts, last, has_running = sidecar_restarts, sidecar_last, False
        for st in reversed(status.get("containerStatuses") or []):
            restarts += int(st.get("restartCount") or 0)
            last = _latest(last, st)
            state = st.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = terminated.get("reason") or (f"Signal:{terminated['signal']}" if terminated.get("signal")
                                                      else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif st.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            reason = "Running" if pod_ready else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts, last


def _pod_row(pod: dict[str, Any], now: datetime) -> list[Any]:
    reason, ready, total, restarts, last = pod_status(pod)
    restarts_cell = f"{restarts} ({since(last, now)} ago)" if restarts and last else str(restarts)
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    return [meta.get("name", ""), f"{ready}/{total}", reason, restarts_cell, since(meta.get("creationTimestamp"), now),
            status.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _event_row(ev: dict[str, Any], now: datetime) -> list[Any]:
    involved, series = ev.get("involvedObject") or {}, ev.get("series") or {}
    first = since(ev.get("firstTimestamp") or ev.get("eventTime"), now)
    last = since(ev["lastTimestamp"], now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 1
    if series:
        last, count = since(series.get("lastObservedTime"), now), series.get("count") or count
    kind, name = str(involved.get("kind", "")).lower(), involved.get("name")
    source = ev.get("source") or {}
    origin = ", ".join(filter(None, [source.get("component") or ev.get("reportingComponent"), source.get("host")]))
    return [last, ev.get("type", ""), ev.get("reason", ""), f"{kind}/{name}" if name else kind,
            involved.get("fieldPath", ""), origin, (ev.get("message") or "").strip(), first, int(count),
            (ev.get("metadata") or {}).get("name", "")]


def _generic_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), since(meta.get("creationTimestamp"), now)]


PRINTERS: dict[str, tuple[list[Column], Callable[[dict[str, Any], datetime], list[Any]]]] = {
    "Pod": ([("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
             ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1)], _pod_row),
    "Event": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0), ("Object", "string", 0),
               ("Subobject", "string", 1), ("Source", "string", 1), ("Message", "string", 0),
               ("First Seen", "string", 1), ("Count", "integer", 1), ("Name", "string", 1)], _event_row),
}
_GENERIC = ([("Name", "string", 0), ("Age", "string", 0)], _generic_row)


def table(kind: str, objects: list[dict[str, Any]], now: datetime, include: str = "Metadata",
          version: str = "v1", resource_version: str = "1") -> dict[str, Any]:
    """A meta.k8s.io Table; each row carries the object per `includeObject` (None, Metadata, Object)."""
    columns, row_of = PRINTERS.get(kind, _GENERIC)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": row_of(obj, now)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = partial(obj)
        rows.append(row)
    definitions = [{"name": name, "type": type_, "format": "name" if name == "Name" else "", "description": "",
                    "priority": priority} for name, type_, priority in columns]
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
