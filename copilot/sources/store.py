"""The objects and logs of a recorded incident, indexed and queried the way the API server does."""

from __future__ import annotations

import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from copilot.errors import NotFound, SourceError
from copilot.incident import Incident
from copilot.sources import KINDS

RESOURCE_VERSION = "1"
HISTORY = 10_000  # watch events kept; a watch from an older resourceVersion gets 410 Gone, as from etcd's compaction


class InvalidSelector(SourceError, ValueError):
    """A label or field selector the API server would reject with 400 BadRequest."""


def store_kind(obj: dict[str, Any]) -> str:
    """The KINDS key of a raw object: events.k8s.io events are "EventsV1"."""
    if obj.get("kind") == "Event" and str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        return "EventsV1"
    return obj["kind"]


def api_kind(kind: str) -> str:
    """The kind the API itself uses for a KINDS key."""
    return "Event" if kind == "EventsV1" else kind


def resource_name(kind: str) -> str:
    """plural[.group], as API error messages name a resource: `deployments.apps`."""
    group_version, plural, _ = KINDS[kind]
    group = group_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def not_found(kind: str, name: str) -> NotFound:
    return NotFound(f'{resource_name(kind)} "{name}" not found')


def log_bytes(text: str, limit_bytes: int | None = None, tail_lines: int | None = None) -> bytes:
    """The log as the API returns it: the last `tail_lines` lines, then at most `limit_bytes` bytes."""
    data = text.encode("utf-8")
    if tail_lines is not None:
        data = _tail(data, tail_lines)
    if limit_bytes is not None:
        data = data[: max(limit_bytes, 0)]
    return data


def _tail(data: bytes, n: int) -> bytes:
    if n <= 0 or not data:
        return b""
    lines = data.split(b"\n")
    ends_with_newline = lines[-1] == b""
    if ends_with_newline:
        lines.pop()
    return b"\n".join(lines[-n:]) + (b"\n" if ends_with_newline else b"")


# --- label selectors ---------------------------------------------------------

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?{_NAME}"
_VALUE = rf"(?:{_NAME})?"
_SET_RE = re.compile(rf"({_KEY})\s+(in|notin)\s*\((.*)\)", re.S)
_OP_RE = re.compile(rf"({_KEY})\s*(==|=|!=|>|<)\s*(\S*)")
_NOT_RE = re.compile(rf"!\s*({_KEY})")
_KEY_RE = re.compile(_KEY)
_VALUE_RE = re.compile(_VALUE)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        try:
            have, want = int(str(value)), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.op == ">" else have < want


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _check_value(value: str, selector: str) -> str:
    if len(value) > 63 or not _VALUE_RE.fullmatch(value):
        raise InvalidSelector(f"invalid label selector {selector!r}: invalid value {value!r}")
    return value


def _check_key(key: str, selector: str) -> str:
    if len(key.rpartition("/")[2]) > 63:
        raise InvalidSelector(f"invalid label selector {selector!r}: key {key!r} longer than 63 characters")
    return key


def parse_label_selector(selector: str | None) -> list[Requirement]:
    """Kubernetes label selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined."""
    if selector is None or not selector.strip():
        return []
    reqs = []
    for raw in _split_top_level(selector):
        part = raw.strip()
        if m := _NOT_RE.fullmatch(part):
            reqs.append(Requirement(_check_key(m[1], selector), "!"))
        elif m := _SET_RE.fullmatch(part):
            values = tuple(_check_value(v.strip(), selector) for v in m[3].split(","))
            if not m[3].strip():
                raise InvalidSelector(f"invalid label selector {selector!r}: for 'in', 'notin' operators, values set can't be empty")
            reqs.append(Requirement(_check_key(m[1], selector), m[2], values))
        elif m := _OP_RE.fullmatch(part):
            op = "=" if m[2] == "==" else m[2]
            value = _check_value(m[3], selector)
            if op in (">", "<") and not re.fullmatch(r"-?\d+", value):
                raise InvalidSelector(f"invalid label selector {selector!r}: {op} needs an integer value")
            reqs.append(Requirement(_check_key(m[1], selector), op, (value,)))
        elif _KEY_RE.fullmatch(part):
            reqs.append(Requirement(_check_key(part, selector), "exists"))
        else:
            raise InvalidSelector(f"invalid label selector {selector!r}: cannot parse {part!r}")
    return reqs


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    return all(r.matches(labels or {}) for r in requirements)


# --- field selectors ---------------------------------------------------------

_EVENT_FIELDS = {f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
_EVENT_FIELDS |= {"reason", "reportingComponent", "source", "type"}
FIELDS: dict[str, set[str]] = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
            "status.phase", "status.podIP", "status.nominatedNodeName"},
    "Event": _EVENT_FIELDS,
    "EventsV1": _EVENT_FIELDS | {f.replace("involvedObject.", "regarding.") for f in _EVENT_FIELDS} | {"reportingController"},
    "Secret": {"type"},
    "Node": {"spec.unschedulable"},
    "Namespace": {"status.phase"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
}
_ALIASES = {"Event": {"source": "source.component"},
            "EventsV1": {"source": "reportingController", "reportingComponent": "reportingController"}}


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(selector: str | None) -> list[tuple[str, str, str]]:
    """`field=value`, `field==value`, `field!=value`, comma-joined; `\\` escapes `,`, `=` and `!` in values."""
    if selector is None or not selector.strip():
        return []
    terms = []
    for raw in re.split(r"(?<!\\),", selector):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(!=|==|=)(.*)", raw, re.S)
        if not m:
            raise InvalidSelector(f"invalid field selector {selector!r}: cannot parse {raw.strip()!r}")
        terms.append((m[1], "=" if m[2] == "==" else m[2], _unescape(m[3].strip())))
    return terms


def field_value(kind: str, obj: dict[str, Any], field: str) -> str:
    """The string the API server compares a field selector against ("" when absent)."""
    if field not in FIELDS.get(kind, set()) | {"metadata.name", "metadata.namespace"}:
        raise InvalidSelector(f"field label not supported: {field}")
    path = _ALIASES.get(kind, {}).get(field, field)
    if kind == "EventsV1" and path.startswith("involvedObject."):
        path = "regarding." + path.partition(".")[2]
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def fields_match(kind: str, terms: list[tuple[str, str, str]], obj: dict[str, Any]) -> bool:
    return all((field_value(kind, obj, f) == v) == (op == "=") for f, op, v in terms)


# --- the store ---------------------------------------------------------------

def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): several times faster than copy.deepcopy, which
    keeps a memo for shared and cyclic references that API objects never have."""
    if type(value) is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [json_copy(v) for v in value]
    return value


def _unsupported(kind: str) -> SourceError:
    return SourceError(f"unsupported kind {kind!r}; one of {', '.join(KINDS)}")


def _uid(kind: str, namespace: str | None, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"copilot-incident:{kind}/{namespace or ''}/{name}"))


def _prepare(obj: dict[str, Any], kind: str, namespaced: bool) -> dict[str, Any]:
    """What the API server always sets: a namespace, a resourceVersion and a uid; Secrets lose their values."""
    obj = json_copy(obj)
    meta = obj.setdefault("metadata", {})
    if namespaced and not meta.get("namespace"):
        meta["namespace"] = "default"
    meta.setdefault("resourceVersion", RESOURCE_VERSION)
    meta.setdefault("uid", _uid(kind, meta.get("namespace"), meta["name"]))
    if obj["kind"] == "Secret":
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), dict):
                obj[field] = {key: "" for key in obj[field]}
    return obj


def _namespace(name: str) -> dict[str, Any]:
    meta = {"name": name, "uid": _uid("Namespace", None, name), "resourceVersion": RESOURCE_VERSION,
            "labels": {"kubernetes.io/metadata.name": name}}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


class ObjectStore:
    """The incident's objects by kind, namespace and name. Secrets hold key names only."""

    def __init__(self, incident: Incident, history: int = HISTORY):
        self._lock = threading.Condition(threading.RLock())
        self._rv = int(RESOURCE_VERSION)
        self._history: deque[tuple[int, str, str, dict[str, Any]]] = deque(maxlen=history)
        self._hidden_logs: set[str] = set()
        self.closed = False
        self.name = incident.metadata.name
        self.now = incident.spec.now
        self._logs = dict(incident.spec.logs)
        self._objects: dict[str, dict[tuple[str | None, str], dict[str, Any]]] = {kind: {} for kind in KINDS}
        for raw in incident.spec.objects:
            kind = store_kind(raw)
            namespaced = KINDS[kind][2] if kind in KINDS else bool((raw.get("metadata") or {}).get("namespace"))
            obj = _prepare(raw, kind, namespaced)
            meta = obj["metadata"]
            self._objects.setdefault(kind, {})[(meta["namespace"] if namespaced else None, meta["name"])] = obj
        seen = {ns for kind, objs in self._objects.items() for ns, _ in objs if ns} | {incident.spec.target.namespace}
        for ns in seen:
            self._objects["Namespace"].setdefault((None, ns), _namespace(ns))
        self._fill_event_uids()

    def _fill_event_uids(self) -> None:
        """Hand-written events often omit the uid of their object; `kubectl describe` selects events by it."""
        for kind, field in (("Event", "involvedObject"), ("EventsV1", "regarding")):
            for (ns, _), event in self._objects[kind].items():
                ref = event.get(field)
                if not isinstance(ref, dict) or ref.get("uid") or ref.get("kind") not in KINDS or not ref.get("name"):
                    continue
                ref_ns = (ref.get("namespace") or ns) if KINDS[ref["kind"]][2] else None
                target = self._objects[ref["kind"]].get((ref_ns, ref["name"]))
                if target is not None:
                    ref["uid"] = target["metadata"]["uid"]

    def namespaces(self) -> list[str]:
        return sorted(name for _, name in self._objects["Namespace"])

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        namespaced = self._namespaced(kind)
        if namespaced and not namespace:
            raise SourceError(f"a namespace is needed to get {resource_name(kind)} {name!r}")
        with self._lock:
            obj = self._objects[kind].get((namespace if namespaced else None, name))
            if obj is None:
                raise not_found(kind, name)
            return json_copy(obj)

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict[str, Any]]:
        return self.list_at(kind, namespace, label_selector, field_selector)[0]

    def list_at(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """The list and the resourceVersion it was read at, from which a watch continues."""
        with self._lock:
            return self.list_page(kind, namespace, label_selector, field_selector)[0], str(self._rv)

    def list_page(self, kind: str, namespace: str | None, label_selector: str | None, field_selector: str | None,
                  start: int = 0, size: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page (`size` 0: the rest) from `start`, and how many match in all; only the page is copied."""
        wanted = self.matcher(kind, namespace, label_selector, field_selector)
        with self._lock:
            objects = sorted(self._objects[kind].items(), key=lambda item: (item[0][0] or "", item[0][1]))
            matching = [obj for _, obj in objects if wanted(obj)]
            page = matching[start:start + size] if size else matching[start:]
            return [json_copy(obj) for obj in page], len(matching)

    def matcher(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> Callable[[dict[str, Any]], bool]:
        """A predicate for the objects a list or watch with these parameters returns; raises on a bad selector."""
        namespaced = self._namespaced(kind)
        requirements = parse_label_selector(label_selector)
        terms = parse_field_selector(field_selector)
        for field, _, _ in terms:
            field_value(kind, {}, field)

        def wanted(obj: dict[str, Any]) -> bool:
            meta = obj.get("metadata") or {}
            if namespaced and namespace and meta.get("namespace") != namespace:
                return False
            return labels_match(requirements, meta.get("labels")) and fields_match(kind, terms, obj)
        return wanted

    def log_text(self, namespace: str, pod: str, container: str, previous: bool) -> str | None:
        key = f"{namespace}/{pod}/{container}"
        with self._lock:
            logs = self._logs.get(key)
            if logs is None or (previous and key in self._hidden_logs):
                return None
            return logs.previous if previous else logs.current

    # --- changes over time: a replay whose cluster moves, for watches ---------

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def put(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object, as a controller's write would: a new resourceVersion and a watch event."""
        kind = store_kind(raw)
        namespaced = self._namespaced(kind)
        obj = _prepare(raw, kind, namespaced)
        meta = obj["metadata"]
        key = (meta["namespace"] if namespaced else None, meta["name"])
        with self._lock:
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            kind_objects = self._objects[kind]
            change = "MODIFIED" if key in kind_objects else "ADDED"
            kind_objects[key] = obj
            self._record(change, kind, obj)
            return json_copy(obj)

    def put_log(self, namespace: str, pod: str, container: str, logs: Any) -> None:
        """Set a container's logs (an incident's ContainerLogs: `.current`, `.previous`)."""
        with self._lock:
            self._logs[f"{namespace}/{pod}/{container}"] = logs

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        namespaced = self._namespaced(kind)
        with self._lock:
            obj = self._objects[kind].pop((namespace if namespaced else None, name), None)
            if obj is None:
                raise not_found(kind, name)
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._record("DELETED", kind, obj)

    def _record(self, change: str, kind: str, obj: dict[str, Any]) -> None:
        self._history.append((self._rv, change, kind, json_copy(obj)))
        self._lock.notify_all()

    def changes_since(self, resource_version: int, kind: str) -> tuple[list[tuple[str, dict[str, Any]]], int] | None:
        """The kind's changes (type, object) after `resource_version` and the resourceVersion they reach;
        None when the history no longer reaches back that far (compacted)."""
        with self._lock:
            oldest = self._history[0][0] if self._history else self._rv + 1
            if resource_version < min(oldest - 1, self._rv):
                return None
            changes = [(change, json_copy(obj)) for rv, change, k, obj in self._history if rv > resource_version and k == kind]
            return changes, max(resource_version, self._rv)

    def wait(self, resource_version: int, timeout: float) -> bool:
        """Block until something changes after `resource_version`, the store closes, or the timeout; True on a change."""
        with self._lock:
            return self._lock.wait_for(lambda: self.closed or self._rv > resource_version, timeout) and not self.closed

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._lock.notify_all()

    def rewind(self) -> list[dict[str, Any]]:
        """Show the cluster as it was before the incident: crashing containers running, no events, no previous logs.

        Returns the recorded objects that `play` puts back, so a watch sees the incident start.
        """
        recorded: list[dict[str, Any]] = []
        with self._lock:
            for kind in ("Event", "EventsV1"):
                recorded += self._objects[kind].values()
                self._objects[kind] = {}
            for key, pod in list(self._objects["Pod"].items()):
                healthy = before_failure(pod)
                if healthy is not pod:
                    recorded.append(pod)
                    self._objects["Pod"][key] = healthy
            self._hidden_logs = set(self._logs)
        return json_copy(recorded)

    def play(self, recorded: list[dict[str, Any]]) -> int:
        """Put the recorded objects back, one watch event each; the previous logs return. The count changed."""
        with self._lock:
            self._hidden_logs = set()
            for obj in recorded:
                self.put(obj)
        return len(recorded)

    def _namespaced(self, kind: str) -> bool:
        if kind not in KINDS:
            raise _unsupported(kind)
        return KINDS[kind][2]


def before_failure(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod before its containers failed: running and ready, no restarts; the same object when nothing failed."""
    status = pod.get("status") or {}
    statuses = [s for field in ("initContainerStatuses", "containerStatuses") for s in status.get(field) or []]
    if not any(s.get("restartCount") or s.get("lastState") or "running" not in (s.get("state") or {}) for s in statuses):
        return pod
    pod = json_copy(pod)
    status = pod["status"]
    started = status.get("startTime")
    for field in ("initContainerStatuses", "containerStatuses"):
        for st in status.get(field) or []:
            if field == "initContainerStatuses":
                st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}}
            else:
                st["state"] = {"running": {"startedAt": started}}
            st.update(restartCount=0, lastState={}, ready=field == "containerStatuses", started=field == "containerStatuses")
    status["phase"] = "Running"
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Ready", "ContainersReady", "Initialized", "PodScheduled"):
            condition["status"] = "True"
            condition.pop("reason", None)
            condition.pop("message", None)
    status.pop("reason", None)
    status.pop("message", None)
    return pod
