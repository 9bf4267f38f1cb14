"""A source read once per kind: one list request per kind, then gets and lists answered from memory.

For scans of many pods: diagnosing 200 failing pods one by one would cost thousands of requests;
here it costs one list per kind plus each failing container's logs. Reads outside the listed scope
(another namespace, a kind that failed to list) go to the underlying source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from copilot.errors import SourceError
from copilot.sources import KINDS
from copilot.sources.store import fields_match, json_copy, labels_match, not_found, parse_field_selector, parse_label_selector


class CachedSource:
    def __init__(self, source: Any, namespace: str | None, kinds: list[str] | None = None):
        self.source = source
        self.namespace = namespace
        self.description = source.description
        self.default_namespace = getattr(source, "default_namespace", None)
        self.gaps: list[str] = []
        self._now = source.now()
        self._objects: dict[str, dict[tuple[str | None, str], dict[str, Any]]] = {}
        for kind in kinds or list(KINDS):
            where = None if not KINDS[kind][2] else namespace
            try:
                items = source.list(kind, where)
            except SourceError as e:  # that kind is read per object later, or recorded as a gap by the collector
                self.gaps.append(f"list {kind}: {e}")
                continue
            self._objects[kind] = {((o.get("metadata") or {}).get("namespace") if KINDS[kind][2] else None,
                                    (o.get("metadata") or {}).get("name", "")): o for o in items}
        # indexes for the collector's frequent lists: a namespace's objects, and the pods on a node
        self._by_namespace: dict[str, dict[str | None, list[dict[str, Any]]]] = {}
        self._by_node: dict[str, list[dict[str, Any]]] = {}
        for kind, objects in self._objects.items():
            index = self._by_namespace[kind] = {}
            for (ns, _), obj in sorted(objects.items(), key=lambda item: (item[0][0] or "", item[0][1])):
                index.setdefault(ns, []).append(obj)
                if kind == "Pod":
                    self._by_node.setdefault(((obj.get("spec") or {}).get("nodeName") or ""), []).append(obj)

    def __getattr__(self, name: str) -> Any:  # series, server, ... of the underlying source
        return getattr(self.source, name)

    def now(self) -> datetime:
        return self._now

    def _covers(self, kind: str, namespace: str | None) -> bool:
        if kind not in self._objects:
            return False
        return not KINDS[kind][2] or self.namespace is None or namespace == self.namespace

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        if not self._covers(kind, namespace):
            return self.source.get(kind, namespace, name)
        obj = self._objects[kind].get((namespace if KINDS[kind][2] else None, name))
        if obj is None:
            raise not_found(kind, name)
        return json_copy(obj)

    def list(self, kind: str, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict[str, Any]]:
        if not self._covers(kind, namespace) or (namespace is None and self.namespace is not None and KINDS[kind][2]):
            return self.source.list(kind, namespace, label_selector, field_selector)
        requirements, terms = parse_label_selector(label_selector), parse_field_selector(field_selector)
        node = next((value for field, op, value in terms if kind == "Pod" and field == "spec.nodeName" and op in ("=", "==")), None)
        if node is not None:
            candidates = [o for o in self._by_node.get(node, []) if not namespace or o["metadata"].get("namespace") == namespace]
        elif namespace and KINDS[kind][2]:
            candidates = self._by_namespace[kind].get(namespace, [])
        else:
            candidates = [o for objects in self._by_namespace[kind].values() for o in objects]
        return [json_copy(obj) for obj in candidates
                if labels_match(requirements, (obj.get("metadata") or {}).get("labels")) and fields_match(kind, terms, obj)]

    def log(self, namespace: str, pod: str, container: str, previous: bool,
            limit_bytes: int | None = None, tail_lines: int | None = None) -> Iterator[bytes] | None:
        return self.source.log(namespace, pod, container, previous, limit_bytes, tail_lines)
