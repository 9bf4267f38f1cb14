"""Small builders for synthetic incidents: a Deployment -> ReplicaSet -> Pod chain and its surroundings."""

from __future__ import annotations

import copy
from typing import Any

from copilot.incident import Incident, parse_incident

NOW = "2026-03-02T10:30:00Z"
NS = "shop"


def container(name: str = "app", image: str = "registry.local/shop/app:1.0", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def terminated(exit_code: int, reason: str = "Error", started="2026-03-02T10:28:00Z", finished="2026-03-02T10:28:05Z", **extra) -> dict:
    return {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": finished, **extra}}


def status(name: str = "app", restarts: int = 4, waiting: str | None = "CrashLoopBackOff", message: str = "",
           last: dict | None = None, state: dict | None = None, ready: bool = False) -> dict:
    st: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "image": "registry.local/shop/app:1.0"}
    st["state"] = state or ({"waiting": {"reason": waiting, **({"message": message} if message else {})}} if waiting else {"running": {"startedAt": "2026-03-02T10:29:00Z"}})
    if last:
        st["lastState"] = last
    return st


def event(reason: str, message: str, obj: str = "web-5c9d7-abcde", kind: str = "Pod", type_: str = "Warning",
          count: int = 1, first: str = "2026-03-02T10:20:00Z", last: str = "2026-03-02T10:29:00Z", field_path: str | None = "spec.containers{app}") -> dict:
    involved = {"kind": kind, "name": obj, "namespace": NS}
    if field_path:
        involved["fieldPath"] = field_path
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{obj}.{reason.lower()}.{abs(hash(message)) % 10**6}", "namespace": NS},
            "involvedObject": involved, "reason": reason, "message": message, "type": type_, "count": count,
            "firstTimestamp": first, "lastTimestamp": last, "source": {"component": "kubelet"}}


def workload_chain(name: str = "web", pod: str = "web-5c9d7-abcde", containers: list | None = None, statuses: list | None = None,
                   pod_spec: dict | None = None, labels: dict | None = None, revision: str = "1", phase: str = "Running",
                   pod_status: dict | None = None) -> list[dict]:
    labels = labels or {"app": name}
    rs = f"{name}-5c9d7"
    spec = {"nodeName": "node-1", "restartPolicy": "Always", "containers": containers or [container()], **(pod_spec or {})}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS, "uid": f"{name}-d",
         "annotations": {"deployment.kubernetes.io/revision": revision}},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {}}}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": rs, "namespace": NS, "uid": f"{name}-rs",
         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": f"{name}-d", "controller": True}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": NS, "uid": f"{pod}-uid", "labels": labels,
         "creationTimestamp": "2026-03-02T10:00:00Z",
         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": f"{name}-rs", "controller": True}]},
         "spec": spec, "status": {"phase": phase, "containerStatuses": statuses or [status()], **(pod_status or {})}},
    ]


NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}]}}


def incident(objects: list[dict], logs: dict | None = None, pod: str = "web-5c9d7-abcde", node: dict | None = NODE) -> Incident:
    data = {"apiVersion": "copilot/v1", "kind": "Incident", "metadata": {"name": "synthetic"},
            "spec": {"now": NOW, "target": {"namespace": NS, "pod": pod},
                     "objects": copy.deepcopy(objects) + ([node] if node else []),
                     "logs": {k if k.count("/") == 2 else f"{NS}/{pod}/{k}": v for k, v in (logs or {}).items()}}}
    return parse_incident(data)
