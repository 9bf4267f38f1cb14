"""Answers without an LLM: a question is routed by its keywords to a section of the RCA or the bundle."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from copilot.chat.session import Session, bundle_pods, meta
from copilot.redact import redact_text

if TYPE_CHECKING:
    from copilot.bundle import Bundle, Event, PodView


LOG_TAIL = 20        # lines of a bundle log shown with evidence
DB_NAMES = ("postgres", "mysql", "mariadb", "mongo", "redis")


STOP = set("""a an the is are was were be been do does did i me my we our you it its this that these those of from for in
on to at by with and or not what why how when where which who show tell give see about any some there too also else
please can could would should evidence log logs pod pods crash crashing crashed fail failing failed affected affect
related depends depend dependency dependencies impact impacted""".split())


def route(s: Session, question: str) -> str:
    q = question.lower()
    for words, answer in ROUTES:
        if re.search(r"\b(?:" + "|".join(words) + ")", q):
            return answer(s, question)
    return why(s, question) + "\n\n(Ask about: why, evidence or logs of X, events, timeline, fix, related, memory.)"


def why(s: Session, question: str) -> str:
    rca = s.rca
    return (f"{rca.summary}\n\nRoot cause: {rca.root_cause}\n"
            f"Culprit: {rca.culprit} ({rca.category}, confidence {rca.confidence:.0%})")


def fix_answer(s: Session, question: str) -> str:
    lines = [f"# {f.explanation}\n{f.command}" for f in s.rca.fix] or ["No fix command: the rules found no change to make."]
    return "\n".join(lines + [f"- {r}" for r in s.rca.recommendations])


def evidence(s: Session, question: str) -> str:
    terms = _terms(question)
    items = [e for e in s.rca.evidence if _mentions(f"{e.resource} {e.excerpt}", terms)] or s.rca.evidence
    lines = [f"[{e.source}] {e.resource}\n" + indent(e.excerpt) for e in items]
    pod = _pod_matching(s.bundle, terms)
    return "\n".join(lines + (_log_tails(pod) if pod else []))


def events_answer(s: Session, question: str) -> str:
    pod = _pod_matching(s.bundle, _terms(question))
    return event_lines([e for e in s.bundle.events if pod is None or e.object.name == pod.ref.name])


def timeline(s: Session, question: str) -> str:
    return "\n".join(f"{t.time}  {t.resource}  {t.event}" for t in s.rca.timeline) or "no timeline"


def related(s: Session, question: str) -> str:
    b = s.bundle
    collected = _collected(b)
    lines = []
    for term in _terms(question):
        hits = sorted(ref for ref in collected if term in ref.rsplit("/", 1)[-1])
        lines.append(f"Collected objects named like {term!r}: {', '.join(hits)}" if hits else
                     f"Nothing named {term!r} was collected: the bundle holds {b.target.ref.name}, what it depends on "
                     f"and its replicas, so it cannot tell whether {term} is affected (/pods, /rca POD to check).")
    for d in b.dependencies:
        users = [p["metadata"]["name"] for p in b.objects.get("Pod", []) if d.host in str(p.get("spec"))]
        lines.append(f"{b.target.workload.short} depends on {d.host} ({d.mentioned_in})"
                     + (f" -> {d.workload}" if d.workload else " -> no workload found"))
        lines += [f"  {_pod_state(p)}" for p in d.pods]
        lines.append(f"  collected pods that use it: {', '.join(users) or 'none'} (other clients were not looked for)")
    lines.append("Other replicas: " + ("; ".join(_pod_state(p) for p in b.siblings) or "none collected"))
    return "\n".join(lines)


def memory(s: Session, question: str) -> str:
    from copilot.series import describe_memory

    pod = _pod_matching(s.bundle, _terms(question))
    lines = []
    for p in [pod] if pod else bundle_pods(s.bundle):
        for c in p.containers:
            if c.memory is not None:
                lines.append(f"{p.ref.name}/{c.name} memory: {describe_memory(c.memory)}")
            if c.throttling is not None:
                lines.append(f"{p.ref.name}/{c.name} cpu: up to {c.throttling.max_ratio:.0%} of CFS periods throttled")
    gaps = [g for g in s.bundle.gaps if "series" in g or "Prometheus" in g]
    return "\n".join(lines + gaps) or "No memory series in the bundle."


ROUTES: list[tuple[tuple[str, ...], Callable[[Session, str], str]]] = [  # first match wins
    (("fix", "change", "should", "remediat", "solve", "resolve"), fix_answer),
    (("related", "affect", "depend", "impact", "sibling", "replica", "other"), related),
    (("event",), events_answer),
    (("timeline", "when", "sequence", "order"), timeline),
    (("metric", "memory", "cpu", "throttl", "usage"), memory),
    (("evidence", "log", "proof", "show"), evidence),
    (("why", "cause", "crash", "root", "happen", "wrong", "summary"), why),
]


def _terms(question: str) -> list[str]:
    words = [w.strip(".-") for w in re.findall(r"[a-z0-9][a-z0-9.-]*", question.lower())]
    terms = [w for w in words if len(w) > 2 and w not in STOP]
    return terms + [n for n in DB_NAMES if {"database", "db", "databases"} & set(terms)]


def _mentions(text: str, terms: list[str]) -> bool:
    text = text.lower()
    return not terms or any(t in text for t in terms)


def _pod_matching(b: Bundle, terms: list[str]) -> PodView | None:
    return next((p for p in bundle_pods(b) for t in terms if t in p.ref.name or t in p.workload.name), None)


def _collected(b: Bundle) -> set[str]:
    refs = {f"{kind}/{meta(o).get('namespace') or ''}/{meta(o).get('name')}" for kind, objs in b.objects.items()
            if kind not in ("Event", "EventsV1") for o in objs}
    return refs | {f"Pod/{meta(p).get('namespace')}/{meta(p).get('name')}" for p in b.node_pods}


def _pod_state(p: PodView) -> str:
    ends = [f"{c.name} last {c.ending.reason or 'exit'} (exit {c.ending.exit_code})" for c in p.containers if c.ending]
    return (f"{p.ref}: phase {p.phase}, ready {str(p.ready).lower()}, restarts {sum(c.restart_count for c in p.containers)}"
            + (f", {'; '.join(ends)}" if ends else ""))


def _log_tails(pod: PodView) -> list[str]:
    out = []
    for c in pod.containers:
        for which, log in (("previous", c.previous_log), ("current", c.current_log)):
            if log is not None:
                lines = redact_text(log.text()).splitlines()[-LOG_TAIL:]
                out += [f"{which} log of {pod.ref.name}/{c.name} (last {len(lines)} of {log.total_lines} lines):", indent("\n".join(lines))]
    return out


def event_lines(events: list[Event]) -> str:
    from copilot.bundle import iso

    ordered = sorted(events, key=lambda e: iso(e.first or e.last))
    return "\n".join(f"{iso(e.first or e.last)} {e.type} {e.reason} {e.object}: {redact_text(e.message)}"
                     + (f" (x{e.count})" if e.count > 1 else "") for e in ordered) or "no events recorded"


def indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
