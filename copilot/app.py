"""The RCA use case, shared by the CLI, evals, chat and watch: source -> bundle -> RCA."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from copilot.collector import Progress, collect
from copilot.rca import RCA
from copilot.sources import Source


@dataclass
class Target:
    namespace: str
    pod: str


def incident_source(path: str | Path) -> tuple[Source, Target]:
    from copilot.incident import load_incident
    from copilot.sources.snapshot import IncidentSource

    incident = load_incident(path)
    return IncidentSource(incident), Target(incident.spec.target.namespace, incident.spec.target.pod)


def cluster_source(context: str | None, kubeconfig: str | None) -> Source:
    from copilot.sources.kube import KubeSource

    return KubeSource(context=context, kubeconfig=kubeconfig)


def run_rca(source: Source, target: Target, progress: Progress | None = None, llm_status: str = "disabled") -> RCA:
    from copilot.diagnose import rules_rca

    bundle = collect(source, target.namespace, target.pod, progress)
    rca = rules_rca(bundle)
    rca.analysis.llm_status = llm_status
    return rca
