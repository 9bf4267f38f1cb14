"""The rules engine's RCA: the strongest finding, supported by the others."""

from __future__ import annotations

import time

from copilot import timeline
from copilot.bundle import Bundle
from copilot.rca import RCA, Analysis, Evidence, Fix, ObjectRef
from copilot.rules.engine import analyze, primary_container
from copilot.rules.findings import Finding, ev

MAX_EVIDENCE = 8


def _supporting_evidence(bundle: Bundle, primary: Finding) -> list[Evidence]:
    out = []
    c = primary_container(bundle)
    if c is not None:
        for line in (c.waiting_line(), c.termination_line()):
            if line:
                out.append(ev("status", bundle.target.ref, line))
    backoff = [e for e in bundle.target.events if e.reason == "BackOff"]
    if backoff:
        out.append(ev("events", bundle.target.ref, backoff[-1].message))
    return out


def _dedupe(items: list[Evidence]) -> list[Evidence]:
    seen, out = set(), []
    for item in items:
        key = (item.resource, " ".join(item.excerpt.split()))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _confidence(findings: list[Finding]) -> float:
    top = findings[0]
    rivals = [f for f in findings[1:] if f.category != top.category and f.culprit != top.culprit]
    margin = top.strength - (rivals[0].strength if rivals else 0.0)
    return round(max(0.1, min(0.97, top.strength - max(0.0, 0.15 - margin))), 2)


def rules_rca(bundle: Bundle, findings: list[Finding] | None = None) -> RCA:
    started = time.perf_counter()
    findings = analyze(bundle) if findings is None else findings
    pod = bundle.target
    if not findings:
        c = primary_container(bundle)
        state = c.waiting_line() or c.termination_line() if c else "no container status"
        return RCA(category="unknown", summary=f"{pod.ref.name}: no rule explains the failure",
                   root_cause=f"The evidence does not decide. Container state: {state or 'running'}.",
                   culprit=ObjectRef(kind=pod.workload.kind, namespace=pod.workload.namespace, name=pod.workload.name),
                   confidence=0.1, evidence=[ev("status", pod.ref, state)] if state else [],
                   timeline=timeline.build(bundle, []),
                   fix=[Fix(command=f"kubectl -n {bundle.namespace} describe pod {pod.ref.name}", explanation="read the pod's state and events")],
                   analysis=Analysis(gaps=list(bundle.gaps), timings={**bundle.timings, "analyze_ms": _ms(started)}))
    top = findings[0]
    evidence = _dedupe(top.evidence + _supporting_evidence(bundle, top))[:MAX_EVIDENCE]
    fixes = list(top.fixes)
    seen_cmds = {f.command for f in fixes}
    recommendations = list(top.recommendations)
    for other in findings[1:4]:
        if other.category != top.category and other.strength >= 0.5:
            recommendations.append(f"Also seen ({other.category}, {other.strength:.2f}): {other.summary}")
    return RCA(
        category=top.category,
        summary=top.summary,
        root_cause=top.cause,
        culprit=ObjectRef(kind=top.culprit.kind, namespace=top.culprit.namespace, name=top.culprit.name),
        confidence=_confidence(findings),
        evidence=evidence,
        timeline=timeline.build(bundle, findings),
        fix=[f for i, f in enumerate(fixes) if f.command not in seen_cmds or i < len(top.fixes)],
        recommendations=recommendations,
        analysis=Analysis(engine="rules", gaps=list(bundle.gaps),
                          timings={**bundle.timings, "analyze_ms": _ms(started)}),
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
