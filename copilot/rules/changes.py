"""Rollout regressions: the crash began with a new revision of the pod template."""

from __future__ import annotations

from typing import Any

from copilot import fixes
from copilot.bundle import Bundle, Revision, iso
from copilot.rules.findings import Finding, ev

_CONTAINER_FIELDS = ("image", "command", "args", "resources", "livenessProbe", "readinessProbe", "startupProbe",
                     "ports", "volumeMounts", "securityContext", "envFrom", "workingDir")
_POD_FIELDS = ("serviceAccountName", "securityContext", "nodeSelector", "volumes", "hostNetwork", "initContainers", "affinity", "tolerations")


def _by_name(items: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {i.get("name", ""): i for i in items or []}


def diff_templates(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two pod templates, one line per change; env values are not shown."""
    before, after = old.get("spec") or {}, new.get("spec") or {}
    changes: list[str] = []
    old_c, new_c = _by_name(before.get("containers")), _by_name(after.get("containers"))
    for name in sorted(set(old_c) | set(new_c)):
        if name not in new_c or name not in old_c:
            changes.append(f"container {name} {'removed' if name not in new_c else 'added'}")
            continue
        a, b = old_c[name], new_c[name]
        if a.get("image") != b.get("image"):
            changes.append(f"container {name} image {a.get('image')} -> {b.get('image')}")
        for field in _CONTAINER_FIELDS[1:]:
            if a.get(field) != b.get(field):
                changes.append(f"container {name} {field} changed")
        env_a, env_b = _by_name(a.get("env")), _by_name(b.get("env"))
        for var in sorted(set(env_a) | set(env_b)):
            if var not in env_b:
                changes.append(f"container {name} env {var} removed")
            elif var not in env_a:
                changes.append(f"container {name} env {var} added")
            elif env_a[var] != env_b[var]:
                changes.append(f"container {name} env {var} changed")
    for field in _POD_FIELDS:
        if before.get(field) != after.get(field):
            changes.append(f"pod {field} changed")
    return changes


def _previous_healthy(bundle: Bundle, previous: Revision) -> bool:
    if previous.ready:
        return True
    return any(p.ready and any(o.get("name") == previous.ref.name for o in (p.raw.get("metadata") or {}).get("ownerReferences") or [])
               for p in bundle.siblings)


def rollout_regression(bundle: Bundle, top: Finding | None) -> Finding | None:
    """When the failing pod runs a new revision whose template changed, the change is the cause to undo."""
    if len(bundle.revisions) < 2:
        return None
    current, previous = bundle.revisions[0], bundle.revisions[1]
    changes = diff_templates(previous.template, current.template)
    if not changes:
        return None
    workload = bundle.target.workload
    healthy_before = _previous_healthy(bundle, previous)
    evidence = [ev("rollout", current.ref, f"revision {current.number} (created {iso(current.created)}) vs revision {previous.number}: "
                   + "; ".join(changes[:6]))]
    if healthy_before:
        evidence.append(ev("rollout", previous.ref, f"revision {previous.number} readyReplicas: {previous.ready or 'pods still ready'}"))
    undo = fixes.rollout_undo(workload)
    undo.explanation = f"roll {workload.short} back to revision {previous.number}, the template before: {changes[0]}"
    category = top.category if top is not None and top.strength >= 0.5 else "unknown"
    what = top.summary if top is not None else "its containers crash"
    cause = (f"The crash started with revision {current.number} of {workload.short} ({current.ref.name}, created {iso(current.created)}), "
             f"which changed: {'; '.join(changes[:4])}. " + (f"Revision {previous.number} ran fine. " if healthy_before else "")
             + (top.cause if top is not None else ""))
    return Finding("rollout.regression", category, min(0.95, (top.strength if top else 0.4) + (0.05 if healthy_before else 0.0)),
                   f"{workload.short} revision {current.number} broke it: {what}", cause, workload,
                   (top.evidence[:3] if top else []) + evidence, [undo] + (top.fixes if top else []), top.container if top else None,
                   (top.recommendations if top else []), [(current.created, str(current.ref), f"rollout: revision {current.number} created")] if current.created else [])
