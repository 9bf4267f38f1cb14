"""Recorded incident files (format version 1): load, validate, export the JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from copilot.categories import CATEGORIES
from copilot.errors import IncidentError

MAX_FILE_BYTES = 512 * 1024 * 1024


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
        objects = [_jsonable(obj) for obj in objects]
        for i, obj in enumerate(objects):
            for key in ("apiVersion", "kind"):
                if not isinstance(obj.get(key), str):
                    raise ValueError(f"object {i} has no {key}")
            meta = obj.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                raise ValueError(f"object {i} ({obj['kind']}) has no metadata.name")
            if obj["kind"] == "Secret" and any(v for v in (obj.get("data") or {}).values()):
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
    """YAML turns unquoted timestamps into datetimes; the API shape has strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_incident(data: Any, origin: str = "<incident>") -> Incident:
    """Validate parsed YAML/JSON; errors name the origin and the field."""
    if not isinstance(data, dict) or data.get("kind") != "Incident":
        raise IncidentError(f"{origin}: not a recorded incident (expected 'kind: Incident' at the top)")
    try:
        return Incident.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise IncidentError(f"{origin}: {_field_path(err['loc'])}: {err['msg']}{more}") from e


def load_incident(path: str | Path) -> Incident:
    """Read and validate one incident file (YAML or JSON)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise IncidentError(f"{p}: is a directory, not an incident file")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise IncidentError(f"{p}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise IncidentError(f"{p}: no such file") from e
    except UnicodeDecodeError as e:
        raise IncidentError(f"{p}: not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise IncidentError(f"{p}: cannot read: {e.strerror}") from e
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise IncidentError(f"{p}: invalid YAML{where}: {problem}") from e
    return parse_incident(data, str(p))


def json_schema() -> dict[str, Any]:
    schema = Incident.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "copilot recorded incident, version 1"
    return schema


def write_json_schema(path: str | Path) -> None:
    Path(path).write_text(json.dumps(json_schema(), indent=2) + "\n")
