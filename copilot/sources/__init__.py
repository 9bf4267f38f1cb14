"""Read-only sources of cluster state: a live cluster or a recorded incident.

The collector sees only this interface, so it cannot tell the two apart. Objects
are plain dicts in the shape the Kubernetes API returns as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Protocol

# Kinds the collector asks for, with where they live in the API.
KINDS: dict[str, tuple[str, str, bool]] = {
    # kind: (group/version, plural, namespaced)
    "Pod": ("v1", "pods", True),
    "Event": ("v1", "events", True),
    "ConfigMap": ("v1", "configmaps", True),
    "Secret": ("v1", "secrets", True),
    "Service": ("v1", "services", True),
    "Endpoints": ("v1", "endpoints", True),
    "Node": ("v1", "nodes", False),
    "Namespace": ("v1", "namespaces", False),
    "ReplicaSet": ("apps/v1", "replicasets", True),
    "Deployment": ("apps/v1", "deployments", True),
    "StatefulSet": ("apps/v1", "statefulsets", True),
    "DaemonSet": ("apps/v1", "daemonsets", True),
    "ControllerRevision": ("apps/v1", "controllerrevisions", True),
    "Job": ("batch/v1", "jobs", True),
    "CronJob": ("batch/v1", "cronjobs", True),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies", True),
    "EndpointSlice": ("discovery.k8s.io/v1", "endpointslices", True),
    "EventsV1": ("events.k8s.io/v1", "events", True),
}


class Source(Protocol):
    """Read-only view of a cluster. Every method may raise copilot.errors.SourceError
    (NotFound, Forbidden, Unreachable)."""

    description: str

    def now(self) -> datetime:
        """The moment the state is read at (the recording's spec.now for an incident)."""

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object. Secrets come back with key names only, never values."""

    def list(
        self,
        kind: str,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Objects of a kind in a namespace (None: all namespaces)."""

    def log(
        self,
        namespace: str,
        pod: str,
        container: str,
        previous: bool,
        limit_bytes: int | None = None,
        tail_lines: int | None = None,
    ) -> Iterator[bytes] | None:
        """The container's log as a stream of chunks, None when there is none."""
