"""Recorded incident files (format version 1): load, validate, export the JSON Schema."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from copilot.categories import CATEGORIES
from copilot.errors import IncidentError

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 100                   # nesting; Kubernetes objects need about 20
MAX_ALIAS_VALUES = 1_000_000      # values YAML aliases may add: a "billion laughs" file is refused, not expanded


# What copilot reads of a recorded object, by field name as the Kubernetes API types it, so that a file with
# a mapping where the API has a list (or words where it has a number) is refused here, naming the field,
# instead of failing inside a rule. Maps whose keys are data (labels, ConfigMap data) are checked, not entered.
# Kinds copilot does not read (EndpointSlice, custom resources) are stored as they are.
_READ_KINDS = {"Pod", "Event", "ConfigMap", "Secret", "Service", "Endpoints", "Node", "Namespace", "ReplicaSet", "Deployment",
               "StatefulSet", "DaemonSet", "ControllerRevision", "Job", "CronJob", "NetworkPolicy", "Rollout"}
_MAP, _LIST, _TEXT, _INT, _SCALAR = "a mapping", "a list", "text", "a whole number", "a single value"
_FIELDS = {
    **dict.fromkeys(("metadata", "spec", "template", "jobTemplate", "state", "lastState", "running", "waiting", "terminated",
                     "resources", "valueFrom", "configMapKeyRef", "secretKeyRef", "configMapRef", "secretRef", "fieldRef",
                     "involvedObject", "regarding", "source", "targetRef", "httpGet", "tcpSocket", "exec", "grpc",
                     "livenessProbe", "readinessProbe", "startupProbe", "securityContext", "configMap", "persistentVolumeClaim",
                     "podSelector", "namespaceSelector", "ipBlock", "series", "strategy", "nodeInfo"), _MAP),
    **dict.fromkeys(("containers", "initContainers", "ephemeralContainers", "containerStatuses", "initContainerStatuses",
                     "ephemeralContainerStatuses", "conditions", "env", "envFrom", "ports", "volumes", "volumeMounts",
                     "ownerReferences", "subsets", "addresses", "notReadyAddresses", "endpoints", "ingress", "egress",
                     "from", "to", "policyTypes", "command", "args", "items", "matchExpressions", "tolerations"), _LIST),
    **dict.fromkeys(("apiVersion", "kind", "name", "namespace", "uid", "image", "reason", "message", "note", "type",
                     "nodeName", "phase", "clusterIP", "key", "serviceName", "hostIP", "podIP", "ip", "fieldPath",
                     "component", "mountPath", "restartPolicy", "serviceAccountName", "secretName", "value", "hostname",
                     "startedAt", "finishedAt", "creationTimestamp", "firstTimestamp", "lastTimestamp", "eventTime",
                     "lastTransitionTime", "startTime", "deletionTimestamp", "architecture", "operatingSystem"), _TEXT),
    **dict.fromkeys(("restartCount", "exitCode", "signal", "count", "replicas", "readyReplicas", "availableReplicas",
                     "updatedReplicas", "currentReplicas", "unavailableReplicas", "observedGeneration", "generation",
                     "containerPort", "revision"), _INT),
    **dict.fromkeys(("port", "targetPort", "path", "ready", "started", "optional", "controller"), _SCALAR),
}
_DATA_MAPS = {"labels", "annotations", "matchLabels", "nodeSelector", "limits", "requests"}  # keys are data, values single
_WORD_LISTS = {"command", "args", "policyTypes"}  # the lists of single values; every other list holds mappings


def _is(value: Any, shape: str, name: str = "") -> bool:
    if value is None:
        return name != "name"  # the API omits or nulls any optional field; names are never null
    if shape == _MAP:
        return isinstance(value, dict)
    if shape == _LIST:
        return isinstance(value, list)
    if shape == _TEXT:
        return isinstance(value, str)
    if shape == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return not isinstance(value, (dict, list))


def _coerced(value: Any, shape: str) -> tuple[bool, Any]:
    """(True, value in the API's type) for a scalar a hand-written file typed loosely: `value: 8080` is the
    text "8080" to the API, `restartCount: "3"` the number 3; (False, None) when it cannot be."""
    if shape == _TEXT and isinstance(value, (bool, int, float)):
        return True, ("true" if value else "false") if isinstance(value, bool) else str(value)
    if shape == _INT and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return True, int(value)
    return False, None


def _object_problem(obj: dict[str, Any]) -> str | None:
    """The first field of a Kubernetes object whose shape is not the API's, as 'path: should be ...'.

    Loosely typed scalars are converted in place (see _coerced); a mapping where the API has a list, or a
    list where it has text, is the problem reported.
    """
    if obj.get("kind") not in _READ_KINDS:
        return None
    data_fields = ("data", "binaryData", "stringData") if obj.get("kind") in ("ConfigMap", "Secret") else ()
    stack: list[tuple[str, Any, str, Any]] = [(key, value, key, obj) for key, value in reversed(obj.items())]
    while stack:
        name, value, path, parent = stack.pop()
        shape = _FIELDS.get(name)
        if name == "status" and "." not in path:
            shape = _MAP  # an object's status; a condition's status is text
        if name == "selector" and not _is(value, _MAP):
            return f"{path}: should be {_MAP}, not {type(value).__name__}"
        if name in _DATA_MAPS or name in data_fields or (name == "selector" and isinstance(value, dict)
                                                          and not {"matchLabels", "matchExpressions"} & set(value)):
            if not _is(value, _MAP):
                return f"{path}: should be {_MAP}"
            for key, item in list((value or {}).items()):
                if not _is(item, _SCALAR):
                    return f"{path}.{key}: should be {_SCALAR}"
                if isinstance(item, bool | int | float):
                    value[key] = _coerced(item, _TEXT)[1]  # label, annotation and data values are strings
            continue
        if shape is not None and not _is(value, shape, name):
            ok, fixed = _coerced(value, shape)
            if not ok:
                return f"{path}: should be {shape}, not {type(value).__name__}"
            parent[name] = value = fixed
        if isinstance(value, dict):
            stack.extend((str(key), item, f"{path}.{key}", value) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            for i, item in reversed(list(enumerate(value))):
                if shape == _LIST and name not in _WORD_LISTS and not isinstance(item, dict):
                    return f"{path}[{i}]: should be {_MAP}, not {type(item).__name__}"
                if isinstance(item, dict):
                    stack.extend((str(key), child, f"{path}[{i}].{key}", item) for key, child in reversed(item.items()))
                elif name in _WORD_LISTS and isinstance(item, bool | int | float):
                    value[i] = _coerced(item, _TEXT)[1]  # args: [--port, 8080]
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Strict):
    namespace: str = Field(min_length=1)
    pod: str = Field(min_length=1)


class ContainerLogs(_Strict):
    previous: str | None = None
    current: str | None = None


class Series(_Strict):
    metric: dict[str, str]
    values: list[tuple[float, str]]


class Culprit(_Strict):
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str | None = None


class Expected(_Strict):
    category: str | list[str]
    culprit: Culprit | None = None
    mentions: list[str] = []
    fix: list[str] = []

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | list[str]) -> str | list[str]:
        for name in [value] if isinstance(value, str) else value:
            if name not in CATEGORIES:
                raise ValueError(f"unknown category {name!r}; one of {', '.join(CATEGORIES)}")
        return value


class Metadata(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    tags: list[str] = []


class Spec(_Strict):
    now: datetime
    target: Target
    objects: list[dict[str, Any]] = []
    logs: dict[str, ContainerLogs] = {}
    series: list[Series] = []

    @field_validator("objects")
    @classmethod
    def _objects_are_kubernetes(cls, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        jsonable = []
        for i, obj in enumerate(objects):
            try:
                jsonable.append(_jsonable(obj))
            except ValueError as e:
                raise ValueError(f"object {i}: {e}") from None
        objects = jsonable
        for i, obj in enumerate(objects):
            for key in ("apiVersion", "kind"):
                if not isinstance(obj.get(key), str):
                    raise ValueError(f"object {i} has no {key}")
            meta = obj.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                raise ValueError(f"object {i} ({obj['kind']}) has no metadata.name")
            problem = _object_problem(obj)
            if problem:
                raise ValueError(f"object {i} ({obj['kind']} {meta['name']}): {problem}")
            if obj["kind"] == "Secret" and any(v for field in ("data", "stringData") for v in (obj.get(field) or {}).values()):
                raise ValueError(f"object {i} (Secret {meta['name']}) records secret values; keep key names only")
        return objects

    @field_validator("logs")
    @classmethod
    def _log_keys(cls, logs: dict[str, ContainerLogs]) -> dict[str, ContainerLogs]:
        for key in logs:
            if key.count("/") != 2 or not all(key.split("/")):
                raise ValueError(f"log key {key!r} is not namespace/pod/container")
        return logs


class Incident(_Strict):
    apiVersion: Literal["copilot/v1"]
    kind: Literal["Incident"]
    metadata: Metadata
    spec: Spec
    expected: Expected | None = None


def _jsonable(value: Any) -> Any:
    """YAML turns unquoted timestamps into datetimes; the API shape has strings. Sets, binary and pairs it has not."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise ValueError(f"a YAML {type(value).__name__} is not a Kubernetes API value (!!set, !!binary, !!omap?)")


def _shape_problem(data: Any) -> str | None:
    """Why parsed YAML cannot be an incident whatever its fields: an alias inside itself (&a [*a]), nesting
    deeper than MAX_DEPTH, or aliases that would multiply it. One pass over the distinct nodes."""
    expanded: dict[int, int] = {}  # id -> values in the node once aliases are expanded
    distinct = 0
    open_: set[int] = set()        # the nodes on the path from the root
    stack: list[tuple[Any, int, bool]] = [(data, 0, False)]
    while stack:
        node, depth, finished = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key, children = id(node), list(node.values() if isinstance(node, dict) else node)
        if finished:
            open_.discard(key)
            expanded[key] = 1 + sum(expanded.get(id(child), 1) for child in children)
            continue
        if key in open_:
            return "a YAML alias refers to a node that contains it"
        if key in expanded:
            continue
        if depth >= MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        open_.add(key)
        distinct += 1 + len(children)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children)
    if expanded.get(id(data), 1) > distinct + MAX_ALIAS_VALUES:
        return f"YAML aliases would expand it by more than {MAX_ALIAS_VALUES:,} values"
    return None


def _one_line(text: str) -> str:
    """Field names and YAML problems quote the file: control characters are shown escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) or len(str(part)) <= 60 else f"{str(part)[:57]}..."
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_incident(data: Any, origin: str = "<incident>") -> Incident:
    """Validate parsed YAML/JSON; errors name the origin and the field."""
    if not isinstance(data, dict) or data.get("kind") != "Incident":
        raise IncidentError(f"{origin}: not a recorded incident (expected 'kind: Incident' at the top)")
    problem = _shape_problem(data)
    if problem:
        raise IncidentError(f"{origin}: {problem}")
    try:
        return Incident.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        msg = err["msg"] if len(err["msg"]) <= 300 else err["msg"][:297] + "..."  # it may quote the value
        raise IncidentError(_one_line(f"{origin}: {_field_path(err['loc'])}: {msg}{more}")) from e


def load_incident(path: str | Path) -> Incident:
    """Read and validate one incident file (YAML or JSON)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise IncidentError(f"{p}: is a directory, not an incident file")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise IncidentError(f"{p}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        with p.open("rb") as f:  # bounded also where stat cannot tell the size (a pipe, a device)
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise IncidentError(f"{p}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        text = raw.decode("utf-8")
    except FileNotFoundError as e:
        raise IncidentError(f"{p}: no such file") from e
    except UnicodeDecodeError as e:
        raise IncidentError(f"{p}: not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise IncidentError(f"{p}: cannot read: {e.strerror}") from e
    except ValueError as e:  # a path with a NUL byte
        raise IncidentError(f"{_one_line(str(p))}: not a usable path ({e})") from e
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise IncidentError(_one_line(f"{p}: invalid YAML{where}: {problem}")) from e
    return parse_incident(data, str(p))


def json_schema() -> dict[str, Any]:
    schema = Incident.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "copilot recorded incident, version 1"
    return schema


def write_json_schema(path: str | Path) -> None:
    Path(path).write_text(json.dumps(json_schema(), indent=2) + "\n")
