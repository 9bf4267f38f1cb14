"""Run every rule over a bundle and rank the findings."""

from __future__ import annotations

from copilot.bundle import Bundle, Container
from copilot.rules.container import container_findings, node_rule
from copilot.rules.changes import rollout_regression
from copilot.rules.correlate import dependency_rule
from copilot.rules.network import network_findings
from copilot.rules.findings import Finding


def primary_container(bundle: Bundle) -> Container | None:
    """The container whose failure explains the pod: a failing init container blocks all others."""
    failing = bundle.failing_containers()
    if not failing:
        return max(bundle.target.containers, key=lambda c: c.restart_count, default=None)
    init = [c for c in failing if c.init]
    if init:
        return init[0]
    return max(failing, key=lambda c: (c.waiting_reason == "CrashLoopBackOff" or bool(c.waiting_reason), c.restart_count))


def analyze(bundle: Bundle) -> list[Finding]:
    """All findings, strongest first."""
    findings: list[Finding] = []
    c = primary_container(bundle)
    if c is not None:
        findings += container_findings(bundle, c)
        dep = dependency_rule(bundle, c)
        if dep:
            findings.append(dep)
        findings += network_findings(bundle, c)
        for other in bundle.failing_containers():
            if other is not c:
                findings += [_weaken(f, 0.8) for f in container_findings(bundle, other)]
    node = node_rule(bundle)
    if node:
        findings.append(node)
    findings.sort(key=lambda f: -f.strength)
    rollout = rollout_regression(bundle, findings[0] if findings else None)
    if rollout is not None and (not findings or findings[0].culprit == bundle.target.workload or findings[0].strength < 0.5):
        findings.insert(0, rollout)
    return findings


def _weaken(finding: Finding, factor: float) -> Finding:
    finding.strength *= factor
    return finding
