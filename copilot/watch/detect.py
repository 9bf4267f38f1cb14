"""Which pods are failing, from their status alone: pure functions, no I/O.

A container is failing when it waits in a back-off or configuration state, or when it
terminated abnormally (non-zero exit, OOMKilled, a signal) recently and has restarted at
least `min_restarts` times. Pods are grouped by the workload that owns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from copilot.bundle import parse_time

# Waiting reasons that mean the container cannot run, whatever its restart count.
STUCK = {"CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "ImagePullBackOff",
         "ErrImageNeverPull", "RunContainerError", "PreCreateHookError", "PostStartHookError"}
BACKOFF = "CrashLoopBackOff"
RECENT = timedelta(minutes=15)  # an abnormal termination older than this, with the container now running, is history


@dataclass(frozen=True)
class Trigger:
    namespace: str
    pod: str
    workload: str          # Kind/namespace/name of the owning workload (the pod itself when it has none)
    container: str
    reason: str            # CrashLoopBackOff, OOMKilled, Error, CreateContainerConfigError, ...
    exit_code: int | None
    restarts: int
    at: str | None         # when the failure was observed by the kubelet, when the status says

    @property
    def signature(self) -> str:
        """What identifies the failure across restarts: the same signature is the same failure, seen again."""
        code = "" if self.exit_code is None else f" exit {self.exit_code}"
        return f"{self.container}: {self.reason}{code}"

    def describe(self) -> str:
        return f"{self.pod}/{self.signature} ({self.restarts} restarts)"


def workload_of(pod: dict[str, Any]) -> str:
    """The workload a pod belongs to, from its owner reference alone (no extra API call).

    A ReplicaSet named `<deployment>-<pod-template-hash>` is a Deployment's; a Job named
    `<cronjob>-<digits>` is a CronJob's.
    """
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    owners = meta.get("ownerReferences") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if not owner or not owner.get("kind") or not owner.get("name"):
        return f"Pod/{namespace}/{meta.get('name')}"
    kind, name = owner["kind"], owner["name"]
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        kind, name = "Deployment", name[: -len(template_hash) - 1]
    elif kind == "Job" and name.rpartition("-")[2].isdigit() and len(name.rpartition("-")[2]) >= 8:
        kind, name = "CronJob", name.rpartition("-")[0]  # the CronJob controller names Jobs <cronjob>-<minutes since epoch>
    return f"{kind}/{namespace}/{name}"


def triggers(pod: dict[str, Any], now: datetime, min_restarts: int = 1, recent: timedelta = RECENT) -> list[Trigger]:
    """The failing containers of a pod, init containers included; empty for a healthy or finished pod."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") == "Succeeded":
        return []
    namespace, name = meta.get("namespace") or "default", meta.get("name") or ""
    workload = workload_of(pod)
    found = []
    for st in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        restarts = int(st.get("restartCount") or 0)
        state, last = st.get("state") or {}, (st.get("lastState") or {}).get("terminated") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        reason, code, at = None, None, None
        if waiting.get("reason") in STUCK:
            reason = waiting["reason"]
        elif waiting.get("reason") == BACKOFF and restarts >= min_restarts:
            reason, code, at = BACKOFF, last.get("exitCode"), last.get("finishedAt")
            if last.get("reason") == "OOMKilled":
                reason = "OOMKilled"
        else:
            ended = terminated if _abnormal(terminated) else last if _abnormal(last) else None
            finished = parse_time((ended or {}).get("finishedAt"))
            if ended and restarts >= min_restarts and finished and now - finished <= recent:
                reason, code, at = ended.get("reason") or "Error", ended.get("exitCode"), ended.get("finishedAt")
        if reason:
            found.append(Trigger(namespace, name, workload, st.get("name") or "", reason, code, restarts, at))
    return found


def _abnormal(terminated: dict[str, Any]) -> bool:
    if not terminated:
        return False
    return terminated.get("reason") == "OOMKilled" or int(terminated.get("exitCode") or 0) != 0 or bool(terminated.get("signal"))


def stuck(pod: dict[str, Any]) -> Trigger | None:
    """A pod that is unhealthy without a failing container: evicted (phase Failed) or never scheduled.
    `copilot scan` lists these too; the watcher reports crash loops only."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return None
    namespace, name = meta.get("namespace") or "default", meta.get("name") or ""
    reason = None
    if status.get("phase") == "Failed" and status.get("reason"):
        reason = status["reason"]  # Evicted, NodeLost, OutOfmemory, ...
    elif status.get("phase") == "Pending":
        unscheduled = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled" and c.get("status") == "False"), None)
        reason = (unscheduled.get("reason") or "Unschedulable") if unscheduled else None
    if reason is None:
        return None
    return Trigger(namespace, name, workload_of(pod), "", reason, None, 0, None)


def stuck_message(pod: dict[str, Any]) -> str:
    """What the API says about a stuck pod: the eviction message, or the scheduler's."""
    status = pod.get("status") or {}
    if status.get("message"):
        return str(status["message"])
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
    return str(condition.get("message") or "")
