"""`copilot record`: write what the collector read from a live cluster as a recorded incident."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.bundle import iso
from copilot.collector import Progress, Reader, collect
from copilot.errors import CopilotError
from copilot.sources import KINDS, Source
from copilot.usage import RecordingMetrics

if TYPE_CHECKING:
    from copilot.sources.metrics import Metrics

_NOISE = ("managedFields", "selfLink")


def _clean(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    api_version = KINDS.get(kind, ("v1",))[0]
    out = {"apiVersion": obj.get("apiVersion") or api_version, "kind": "Event" if kind == "EventsV1" else kind, **obj}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in _NOISE}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if annotations or "annotations" in meta:
        meta["annotations"] = annotations
    out["metadata"] = meta
    if kind == "Secret":
        out.pop("stringData", None)
        if "data" in out:
            out["data"] = {key: "" for key in out.get("data") or {}}
    return out


def incident_dict(source: Source, namespace: str, pod: str, progress: Progress | None = None,
                  metrics: Metrics | None = None) -> dict[str, Any]:
    """Collect as `copilot rca` does, keeping the raw objects, (bounded) raw logs and memory series read."""
    reader = Reader(source, record_logs=True)
    recording = RecordingMetrics(metrics) if metrics is not None else None
    bundle = collect(source, namespace, pod, progress, reader=reader, metrics=recording)
    series = recording.series if recording is not None else []
    objects, seen_events = [], set()
    for kind in sorted(reader.objects, key=lambda k: (k in ("Event", "EventsV1"), k == "EventsV1", k)):
        for obj in reader.objects[kind]:
            if kind in ("Event", "EventsV1"):
                key = ((obj.get("metadata") or {}).get("namespace"), (obj.get("metadata") or {}).get("name"))
                if key in seen_events:
                    continue
                seen_events.add(key)
            objects.append(_clean(obj, kind))
    slug = re.sub(r"[^a-z0-9-]+", "-", f"{pod}-{bundle.now:%Y%m%d-%H%M}".lower()).strip("-")
    spec: dict[str, Any] = {"now": iso(bundle.now), "target": {"namespace": namespace, "pod": pod}, "objects": objects,
                            "logs": {k: v for k, v in (reader.raw_logs or {}).items() if v}}
    if series:
        spec["series"] = series
    return {"apiVersion": "copilot/v1", "kind": "Incident",
            "metadata": {"name": slug, "description": f"recorded by copilot record from {source.description}",
                         "source": "copilot record", "tags": ["recorded"] + [f"gap:{len(bundle.gaps)}"] * bool(bundle.gaps)},
            "spec": spec}


def to_yaml(data: dict[str, Any]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def literal(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, literal)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=160)


def write_atomically(path: str | Path, text: str, force: bool = False) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, renamed into place."""
    target = Path(path)
    if target.exists() and not force:
        raise CopilotError(f"{target}: already exists; pass --force to overwrite it")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CopilotError(f"{target}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
