"""The RCA use case, shared by the CLI, evals, chat and watch: source -> bundle -> RCA."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from copilot.collector import Progress, collect
from copilot.errors import SourceError, UsageError
from copilot.rca import RCA
from copilot.sources import Source

if TYPE_CHECKING:
    from copilot.bundle import Bundle
    from copilot.llm.config import LLMConfig
    from copilot.rules.findings import Finding
    from copilot.sources.metrics import Metrics


@dataclass
class Target:
    namespace: str
    pod: str


def incident_source(path: str | Path) -> tuple[Source, Target]:
    from copilot.incident import load_incident
    from copilot.sources.snapshot import IncidentSource

    incident = load_incident(path)
    return IncidentSource(incident), Target(incident.spec.target.namespace, incident.spec.target.pod)


def incident_metrics(source: Source, url: str | None = None) -> tuple[Metrics | None, str | None]:
    """The Prometheus at `url` when given, else the incident's recorded series; with neither, the gap to report."""
    from copilot.sources.metrics import RecordedMetrics

    if url:
        return prometheus(url), None
    recorded = getattr(source, "series", None)
    if not recorded:
        return None, "no memory series: the incident has no recorded series"
    return RecordedMetrics(recorded, "the incident's recorded series"), None


def prometheus(url: str, timeout: float = 5.0) -> Metrics:
    from copilot.sources.metrics import PrometheusMetrics

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--prometheus-url {url!r}: give an http:// or https:// URL")
    return PrometheusMetrics(url, timeout=timeout)


def cluster_metrics(source: Source, url: str | None) -> tuple[Metrics | None, str | None]:
    """Prometheus from --prometheus-url/PROMETHEUS_URL, else a prometheus Service found in the cluster.

    Found Services are only reachable from inside the cluster; outside it the gap says how to reach them.
    """
    from copilot.sources.metrics import find_prometheus

    if url:
        return prometheus(url), None
    try:
        found = find_prometheus(source.list("Service", None))
    except SourceError as e:
        return None, f"no Prometheus: --prometheus-url not given and Services could not be listed ({e})"
    if found is None:
        return None, "no Prometheus: --prometheus-url not given and no prometheus Service found in the cluster"
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return prometheus(found), None
    host, port = found.split("://", 1)[1].split(".svc:")
    name, namespace = host.split(".", 1)
    return None, (f"no Prometheus: found Service {namespace}/{name}, reachable only in the cluster; run "
                  f"`kubectl -n {namespace} port-forward svc/{name} 9090:{port}` and pass --prometheus-url http://127.0.0.1:9090")


def cluster_source(context: str | None, kubeconfig: str | None) -> Source:
    from copilot.sources.kube import KubeSource

    return KubeSource(context=context, kubeconfig=kubeconfig)


def scoped_source(namespace: str | None, all_namespaces: bool, context: str | None, kubeconfig: str | None,
                  incident: str | None) -> tuple[Source, str | None]:
    """(source, namespace or None for all) for commands over many pods: -n, -A, else the kubeconfig's namespace
    (every namespace of a recorded incident)."""
    if namespace and all_namespaces:
        raise UsageError("give -n NAMESPACE or -A, not both")
    if incident:
        return incident_source(incident)[0], None if all_namespaces else namespace
    source = cluster_source(context, kubeconfig)
    return source, None if all_namespaces else namespace or getattr(source, "default_namespace", None) or "default"


@dataclass
class Diagnosis:
    bundle: Bundle
    findings: list[Finding]
    rca: RCA


def diagnose(source: Source, target: Target, progress: Progress | None = None, llm: LLMConfig | None = None,
             no_llm: bool = False, metrics: Metrics | None = None, metrics_gap: str | None = None) -> Diagnosis:
    """Collect, diagnose with the rules, then (when an LLM is configured) with the guarded LLM chain."""
    from copilot.diagnose import rules_rca
    from copilot.rules.engine import analyze

    bundle = collect(source, target.namespace, target.pod, progress, metrics=metrics)
    if metrics_gap:
        bundle.gaps.append(metrics_gap)
    findings = analyze(bundle)
    rca = rules_rca(bundle, findings)
    if no_llm or llm is None:
        rca.analysis.llm_status = "disabled" if no_llm else "not_configured"
        return Diagnosis(bundle, findings, rca)
    from copilot.llm.chain import llm_rca

    if progress:
        progress(f"asking {llm.model} at {llm.endpoint}")
    return Diagnosis(bundle, findings, llm_rca(bundle, findings, rca, llm).rca)


def run_rca(source: Source, target: Target, progress: Progress | None = None, llm: LLMConfig | None = None,
            no_llm: bool = False, metrics: Metrics | None = None, metrics_gap: str | None = None) -> RCA:
    return diagnose(source, target, progress, llm, no_llm, metrics, metrics_gap).rca


def llm_config(model: str | None, timeout_s: float | None) -> LLMConfig | None:
    from copilot.llm.config import from_env

    try:
        return from_env(model, timeout_s)
    except ValueError as e:
        raise UsageError(f"COPILOT_LLM_TIMEOUT: not a number of seconds ({e})") from e


def llm_note(config: LLMConfig | None, no_llm: bool) -> str | None:
    """The one line said when no LLM will be asked."""
    if no_llm:
        return None
    if config is None:
        return "note: no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL, or pass --no-llm); rules only"
    return None
