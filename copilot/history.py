"""The workload's rollout history and sibling pods, read through the same Reader as the rest."""

from __future__ import annotations

from typing import Any

from copilot.bundle import Bundle, Event, Ref, Revision, parse_time
from copilot.collector import Reader, containers_of

MAX_SIBLINGS = 20


def _selector(obj: dict[str, Any]) -> str | None:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _owned_by(obj: dict[str, Any], owner: Ref) -> bool:
    return any(o.get("kind") == owner.kind and o.get("name") == owner.name for o in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _workload(bundle: Bundle) -> dict[str, Any] | None:
    w = bundle.target.workload
    return next((o for o in bundle.objects.get(w.kind, []) if (o.get("metadata") or {}).get("name") == w.name), None)


def revisions(reader: Reader, bundle: Bundle) -> list[Revision]:
    """Current and previous revision of the target's workload: ReplicaSets for a Deployment,
    ControllerRevisions for a StatefulSet or DaemonSet."""
    workload, ref = _workload(bundle), bundle.target.workload
    if workload is None or ref.kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return []
    selector = _selector(workload)
    pod_meta = bundle.target.raw.get("metadata") or {}
    found: list[Revision] = []
    if ref.kind == "Deployment":
        for rs in reader.list("ReplicaSet", ref.namespace, label_selector=selector) or []:
            meta = rs.get("metadata") or {}
            if not _owned_by(rs, ref):
                continue
            number = _revision((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision"))
            template = (rs.get("spec") or {}).get("template") or {}
            found.append(Revision(Ref("ReplicaSet", ref.namespace, meta.get("name", "")), number, template,
                                  parse_time(meta.get("creationTimestamp")), (rs.get("status") or {}).get("readyReplicas")))
        current_name = next((o.get("name") for o in pod_meta.get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"), None)
    else:
        for cr in reader.list("ControllerRevision", ref.namespace, label_selector=selector) or []:
            meta = cr.get("metadata") or {}
            if not _owned_by(cr, ref):
                continue
            template = ((cr.get("data") or {}).get("spec") or {}).get("template") or {}
            found.append(Revision(Ref("ControllerRevision", ref.namespace, meta.get("name", "")), _revision(cr.get("revision")),
                                  template, parse_time(meta.get("creationTimestamp"))))
        hash_ = (pod_meta.get("labels") or {}).get("controller-revision-hash")
        current_name = next((r.ref.name for r in found if hash_ and r.ref.name.endswith(hash_)), None)
    current = next((r for r in found if r.ref.name == current_name), None)
    if current is None:
        return []
    older = sorted((r for r in found if r.number < current.number), key=lambda r: -r.number)
    return [current] + older[:1]


def siblings(reader: Reader, bundle: Bundle, events: list[Event]) -> list:
    """Other pods of the same workload, without their logs: are they failing too?"""
    from copilot.collector import events_for
    from copilot.bundle import PodView

    workload = _workload(bundle)
    if workload is None:
        return []
    out = []
    for pod in reader.list("Pod", bundle.namespace, label_selector=_selector(workload)) or []:
        meta = pod.get("metadata") or {}
        if meta.get("name") == bundle.target.ref.name or len(out) >= MAX_SIBLINGS:
            continue
        ref = Ref("Pod", meta.get("namespace"), meta.get("name", ""))
        out.append(PodView(ref, pod, bundle.target.workload, [], containers_of(pod), events_for(events, "Pod", ref.name)))
    return out


def _revision(value: object) -> int:
    """A revision number as recorded; 0 (unknown) for anything that is not one, whoever wrote the annotation."""
    try:
        return int(str(value).strip()) if value is not None else 0
    except ValueError:
        return 0
