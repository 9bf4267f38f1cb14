"""A recorded incident as a Source: the collector reads it exactly as it reads a cluster."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

from copilot.incident import Incident
from copilot.sources.store import ObjectStore, log_bytes

CHUNK = 64 * 1024


def _as_read_live(obj: dict[str, Any]) -> dict[str, Any]:
    """What the live source reads of the object: a Secret is metadata only (its keys are not known live either),
    so a diagnosis of a recording and of the cluster it came from see the same."""
    if obj.get("kind") != "Secret":
        return obj
    return {"apiVersion": "v1", "kind": "Secret", "metadata": obj.get("metadata") or {}}


class IncidentSource:
    """Source over an incident's spec; time stands still at spec.now."""

    def __init__(self, incident: Incident):
        self.store = ObjectStore(incident)
        self.series = list(incident.spec.series)
        self.description = f"incident {incident.metadata.name}"
        self.default_namespace = incident.spec.target.namespace
        now = incident.spec.now
        self._now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return _as_read_live(self.store.get(kind, namespace, name))

    def list(self, kind: str, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict[str, Any]]:
        return [_as_read_live(o) for o in self.store.list(kind, namespace, label_selector, field_selector)]

    def log(self, namespace: str, pod: str, container: str, previous: bool,
            limit_bytes: int | None = None, tail_lines: int | None = None) -> Iterator[bytes] | None:
        text = self.store.log_text(namespace, pod, container, previous)
        if text is None:
            return None
        data = log_bytes(text, limit_bytes, tail_lines)
        return (data[i:i + CHUNK] for i in range(0, len(data), CHUNK))
