"""The RCA: the JSON contract every engine produces and every renderer reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EvidenceSource = Literal["status", "spec", "events", "logs", "metrics", "rollout", "related"]
Engine = Literal["rules", "llm", "llm+rules"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectRef(_Model):
    kind: str
    namespace: str | None = None
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


KIND_ALIASES = {
    "deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
    "sts": "StatefulSet", "statefulset": "StatefulSet", "statefulsets": "StatefulSet",
    "ds": "DaemonSet", "daemonset": "DaemonSet", "daemonsets": "DaemonSet",
    "job": "Job", "jobs": "Job", "cj": "CronJob", "cronjob": "CronJob", "cronjobs": "CronJob",
    "po": "Pod", "pod": "Pod", "pods": "Pod", "cm": "ConfigMap", "configmap": "ConfigMap", "configmaps": "ConfigMap",
    "secret": "Secret", "secrets": "Secret", "svc": "Service", "service": "Service", "services": "Service",
    "netpol": "NetworkPolicy", "networkpolicy": "NetworkPolicy", "networkpolicies": "NetworkPolicy",
    "no": "Node", "node": "Node", "nodes": "Node", "rs": "ReplicaSet", "replicaset": "ReplicaSet",
    "pvc": "PersistentVolumeClaim", "persistentvolumeclaim": "PersistentVolumeClaim",
    "sa": "ServiceAccount", "serviceaccount": "ServiceAccount", "ns": "Namespace", "namespace": "Namespace",
}


def canonical_kind(kind: str) -> str:
    return KIND_ALIASES.get(kind.strip().lower(), kind.strip())


class Evidence(_Model):
    source: EvidenceSource
    resource: str = Field(description="Kind/namespace/name of the object it was read from")
    excerpt: str = Field(description="text quoted verbatim from the bundle")


class TimelineEntry(_Model):
    time: str = Field(description="ISO 8601, UTC")
    resource: str
    event: str


class Fix(_Model):
    command: str
    explanation: str


class Analysis(_Model):
    engine: Engine = "rules"
    model: str | None = None
    prompt_version: str | None = None
    llm_status: str = "not_configured"  # disabled | not_configured | ok | rejected | timeout | error | invalid
    llm_method: str | None = None  # the structured-output method the endpoint accepted
    guardrail: list[str] = []
    gaps: list[str] = []
    timings: dict[str, float] = {}
    tokens: dict[str, int] = {}
    cost_usd: float | None = None


class RCA(_Model):
    category: str
    summary: str
    root_cause: str
    culprit: ObjectRef
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = []
    timeline: list[TimelineEntry] = []
    fix: list[Fix] = []
    recommendations: list[str] = []
    analysis: Analysis = Analysis()
