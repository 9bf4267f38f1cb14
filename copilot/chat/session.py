"""A chat session: the diagnosed pod (bundle, findings, RCA), the conversation, and helpers over raw objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from copilot import app
from copilot.errors import UsageError

if TYPE_CHECKING:
    from copilot.bundle import Bundle, PodView
    from copilot.llm.config import LLMConfig
    from copilot.rca import RCA
    from copilot.rules.findings import Finding
    from copilot.sources import Source
    from copilot.sources.metrics import Metrics


class Quit(Exception):
    """/quit or /exit."""


@dataclass
class Session:
    source: Source
    namespace: str | None
    llm: LLMConfig | None
    metrics: Metrics | None = None
    metrics_gap: str | None = None
    progress: Callable[[str], None] | None = None
    target: app.Target | None = None
    bundle: Bundle | None = None
    findings: list[Finding] = field(default_factory=list)
    rca: RCA | None = None
    choices: list[str] = field(default_factory=list)    # crash-looping pods to pick from, as namespace/name
    messages: list[Any] = field(default_factory=list)   # the LLM conversation, system message first
    untrusted: list[str] = field(default_factory=list)  # normalised logs, events and tool outputs
    fence: str = ""


def open_session(pod: str | None, namespace: str | None, context: str | None, kubeconfig: str | None,
                 incident: str | None, no_llm: bool, model: str | None, prometheus_url: str | None,
                 progress: Callable[[str], None] | None) -> Session:
    """Read the incident or cluster and diagnose the pod; without a pod, find the crash-looping ones."""
    llm = None if no_llm else app.llm_config(model, None)
    if incident:
        source, target = app.incident_source(incident)
        target = app.Target(namespace or target.namespace, pod or target.pod)
        metrics, gap = app.incident_metrics(source, prometheus_url)
    else:
        source = app.cluster_source(context, kubeconfig)
        default = namespace or getattr(source, "default_namespace", None) or "default"
        target = app.Target(default, pod) if pod else None
        metrics, gap = app.cluster_metrics(source, prometheus_url)
    session = Session(source, target.namespace if target else namespace, llm, metrics, gap, progress)
    if target:
        diagnose(session, target)
    else:
        session.choices = crashlooping(source, namespace)
    return session


def diagnose(s: Session, target: app.Target) -> None:
    """Collect and diagnose (the rules, then the guarded LLM when there is one), keeping the bundle for the questions."""
    from copilot.llm.context import untrusted_texts

    done = app.diagnose(s.source, target, s.progress, llm=s.llm, metrics=s.metrics, metrics_gap=s.metrics_gap)
    s.target, s.namespace, s.bundle, s.findings, s.rca = target, target.namespace, done.bundle, done.findings, done.rca
    s.untrusted = [norm(t) for t in untrusted_texts(done.bundle)]


def crashlooping(source: Source, namespace: str | None) -> list[str]:
    return [f"{meta(p)['namespace']}/{meta(p)['name']}" for p in source.list("Pod", namespace)
            if "CrashLoopBackOff" in waiting_reasons(p)]


def greeting(s: Session) -> str:
    if s.bundle is None:
        where = f"namespace {s.namespace}" if s.namespace else "any namespace"
        if not s.choices:
            return f"No pod in CrashLoopBackOff in {where}. /rca POD diagnoses one by name, /quit leaves."
        return "\n".join([f"Pods in CrashLoopBackOff in {where}; pick one by number or name:"]
                         + [f"  {i}. {c}" for i, c in enumerate(s.choices, 1)])
    rca = s.rca
    mode = f"Answering with {s.llm.model} at {s.llm.endpoint}." if s.llm else "Answering from the bundle (no LLM)."
    a = rca.analysis
    llm = f"\nLLM {a.llm_status}: {a.guardrail[0]}" if a.llm_status in ("timeout", "error", "invalid", "rejected") and a.guardrail else ""
    return (f"{s.bundle.target.ref}: {rca.summary}\nculprit {rca.culprit}, {rca.category}, confidence {rca.confidence:.0%}, "
            f"engine {a.engine}{llm}\n{mode} Ask why, evidence, events, timeline, fix, related, memory; /help lists the commands.")


def pick(s: Session, line: str) -> str:
    by_number = s.choices[int(line) - 1] if line.isdigit() and 0 < int(line) <= len(s.choices) else None
    choice = by_number or next((c for c in s.choices if c.split("/", 1)[1] == line), None)
    if choice is None:
        raise UsageError("pick a pod by its number or name (/pods lists them), or /rca POD")
    namespace, name = choice.split("/", 1)
    diagnose(s, app.Target(namespace, name))
    return greeting(s)


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def waiting_reasons(pod: dict[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return [((c.get("state") or {}).get("waiting") or {}).get("reason", "") for c in statuses]


def raw_pod_state(pod: dict[str, Any]) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    waiting = " ".join(r for r in waiting_reasons(pod) if r)
    return (f"{meta(pod).get('namespace')}/{meta(pod).get('name')}: {(pod.get('status') or {}).get('phase', '?')}, "
            f"ready {ready}/{len(statuses)}, restarts {restarts}" + (f", {waiting}" if waiting else ""))


def bundle_pods(b: Bundle) -> list[PodView]:
    return [b.target] + [p for d in b.dependencies for p in d.pods] + b.siblings


def pod_names(s: Session) -> list[str]:
    return [p.ref.name for p in bundle_pods(s.bundle)] if s.bundle else [c.split("/", 1)[1] for c in s.choices]


def pod_ref(s: Session, pod: str) -> tuple[str, str]:
    """namespace/name, or a name: the namespace of the collected pod of that name, else the session's."""
    if "/" in pod:
        namespace, name = pod.split("/", 1)
        return namespace, name
    known = next((p.ref for p in bundle_pods(s.bundle) if p.ref.name == pod), None) if s.bundle else None
    return (known.namespace if known else s.namespace) or "default", pod
