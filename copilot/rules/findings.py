"""What a rule returns: a candidate cause with its strength, culprit, evidence and fixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from copilot.bundle import Ref
from copilot.rca import Evidence, Fix


@dataclass
class Finding:
    rule: str
    category: str
    strength: float  # 0..1
    summary: str
    cause: str  # the causal chain, one short paragraph
    culprit: Ref
    evidence: list[Evidence] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    container: str | None = None
    recommendations: list[str] = field(default_factory=list)
    moments: list[tuple[datetime, str, str]] = field(default_factory=list)  # (time, resource, what) for the timeline


def ev(source: str, resource: Ref | str, excerpt: str) -> Evidence:
    return Evidence(source=source, resource=str(resource), excerpt=excerpt.strip()[:2000])
