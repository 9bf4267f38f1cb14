"""Read-only tools over the session's source: the slash commands and the LLM share them. Outputs are redacted,
bounded and, for the LLM, fenced as untrusted data."""

from __future__ import annotations

from typing import Any, Callable

from copilot.chat.answers import event_lines, memory, why
from copilot.chat.session import Session, diagnose, norm, pod_ref, raw_pod_state
from copilot.errors import CopilotError, UsageError
from copilot.redact import redact_object, redact_text
from copilot.sources import KINDS


TOOL_LOG_LINES = 80  # lines of a log a tool or /logs returns
DESCRIBE_CHARS = 6_000


def pod_logs(s: Session, pod: str, container: str | None, previous: bool) -> str:
    from copilot.logs import bound_log

    namespace, name = pod_ref(s, pod)
    if container is None:
        spec = s.source.get("Pod", namespace, name).get("spec") or {}
        container = ((spec.get("containers") or [{}])[0]).get("name") or ""
    which = "previous" if previous else "current"
    chunks = s.source.log(namespace, name, container, previous, tail_lines=TOOL_LOG_LINES)
    if chunks is None:
        return f"no {which} log for {namespace}/{name} container {container}"
    lines = redact_text(bound_log(chunks).text()).splitlines()[-TOOL_LOG_LINES:]
    return "\n".join([f"{which} log of {namespace}/{name} container {container}:"] + lines)


def pod_events(s: Session, pod: str) -> str:
    from copilot.collector import events_for, fold_events, normalize_event

    namespace, name = pod_ref(s, pod)
    events = fold_events([normalize_event(e) for e in s.source.list("Event", namespace)])
    return event_lines(events_for(events, "Pod", name))


def describe(s: Session, kind: str, name: str, namespace: str | None) -> str:
    import yaml

    if kind not in KINDS or kind == "EventsV1":
        raise UsageError(f"cannot describe kind {kind}; one of {', '.join(k for k in KINDS if k != 'EventsV1')}")
    namespaced = KINDS[kind][2]
    obj = redact_object(s.source.get(kind, (namespace or s.namespace) if namespaced else None, name))
    (obj.get("metadata") or {}).pop("managedFields", None)
    return yaml.safe_dump(obj, sort_keys=False, width=120)[:DESCRIBE_CHARS]


def list_pods(s: Session, namespace: str | None) -> str:
    pods = s.source.list("Pod", namespace or s.namespace)
    return "\n".join(raw_pod_state(p) for p in pods) or "no pods"


def rerun_rca(s: Session) -> str:
    diagnose(s, s.target)
    return why(s, "")


def _tool(name: str, description: str, properties: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties or {}, "required": list(required)}}}


_POD = {"type": "string", "description": "pod name, or namespace/name"}
_NAMESPACE = {"type": "string", "description": "namespace (default: the incident's)"}


TOOLS = [
    _tool("pod_logs", "The log of a pod's container: the crashed run (previous=true) or the current one.",
          {"pod": _POD, "container": {"type": "string"}, "previous": {"type": "boolean"}}, ("pod",)),
    _tool("describe", "One Kubernetes object as YAML; Secret and env values are redacted.",
          {"kind": {"type": "string", "enum": [k for k in KINDS if k != "EventsV1"]}, "name": {"type": "string"},
           "namespace": _NAMESPACE}, ("kind", "name")),
    _tool("pod_events", "Events about a pod, oldest first.", {"pod": _POD}, ("pod",)),
    _tool("memory", "Memory working set and CPU throttling of the collected pods' containers around the crash.",
          {"pod": _POD}),
    _tool("list_pods", "Pods of a namespace with phase, readiness, restarts and waiting reason.", {"namespace": _NAMESPACE}),
    _tool("rerun_rca", "Collect the pod again and re-run the root-cause rules; returns the new summary."),
]


RUNNERS: dict[str, Callable[[Session, dict[str, Any]], str]] = {
    "pod_logs": lambda s, a: pod_logs(s, a["pod"], a.get("container"), bool(a.get("previous"))),
    "describe": lambda s, a: describe(s, a["kind"], a["name"], a.get("namespace")),
    "pod_events": lambda s, a: pod_events(s, a["pod"]),
    "memory": lambda s, a: memory(s, a.get("pod") or ""),
    "list_pods": lambda s, a: list_pods(s, a.get("namespace")),
    "rerun_rca": lambda s, a: rerun_rca(s),
}


def run_tool(s: Session, name: str, args: dict[str, Any]) -> str:
    """The tool's output fenced as untrusted data, like the context's logs; errors are output too."""
    runner = RUNNERS.get(name)
    try:
        body = runner(s, args) if runner else f"error: there is no tool {name}"
    except CopilotError as e:
        body = f"error: {e}"
    except KeyError as e:
        body = f"error: missing argument {e}"
    s.untrusted.append(norm(body))
    return f"<<<DATA {s.fence}\n{body.replace(f'DATA {s.fence}', 'DATA')}\nDATA {s.fence}>>>"
