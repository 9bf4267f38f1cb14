"""What the watcher has said, so it says each thing once: incidents by culprit, persisted atomically.

An incident is keyed by its culprit (Kind/namespace/name): the crashing service and the database
that OOMKilled under it are one incident. Each workload remembers its cause (category + culprit);
a message goes out when an incident starts, when a workload's cause changes, when the cooldown
has passed and it still fails (a reminder), and when every workload of it has recovered.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from copilot.bundle import iso, parse_time
from copilot.errors import UsageError

VERSION = 1


@dataclass
class WorkloadState:
    key: str                     # the incident it belongs to
    cause: str                   # "category culprit", what a change is measured against
    signature: str               # the trigger last diagnosed (container: reason exit N)
    diagnosed_at: str
    healthy_since: str | None = None


@dataclass
class IncidentState:
    key: str
    category: str
    summary: str
    status: str                  # firing | resolved
    first_seen: str
    last_notified: str | None = None
    notifications: int = 0
    workloads: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)


@dataclass
class Decision:
    """What to say about an incident after a round of diagnoses: status None means nothing (and why)."""
    key: str
    status: str | None           # firing | changed | reminder | resolved | None
    why: str
    previous: str | None = None


class State:
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else None
        self.incidents: dict[str, IncidentState] = {}
        self.workloads: dict[str, WorkloadState] = {}
        if self.path and self.path.exists():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        try:
            doc = json.loads(self.path.read_text())
            if not isinstance(doc, dict) or doc.get("version") != VERSION:
                raise ValueError(f"not a version {VERSION} copilot watch state")
            self.incidents = {k: IncidentState(**v) for k, v in (doc.get("incidents") or {}).items()}
            self.workloads = {k: WorkloadState(**v) for k, v in (doc.get("workloads") or {}).items()}
        except (OSError, ValueError, TypeError) as e:
            raise UsageError(f"--state {self.path}: cannot read it ({e}); move it aside to start afresh") from e

    def save(self) -> None:
        """Write atomically: a crash mid-write leaves the previous state, never half a file."""
        if not self.path:
            return
        doc = {"version": VERSION, "incidents": {k: asdict(v) for k, v in sorted(self.incidents.items())},
               "workloads": {k: asdict(v) for k, v in sorted(self.workloads.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- decisions ---------------------------------------------------------

    def fresh(self, workload: str, signature: str, now: datetime, rediagnose: timedelta) -> bool:
        """True when this workload's failure was diagnosed recently with the same signature: no new diagnosis."""
        known = self.workloads.get(workload)
        if known is None or known.signature != signature:
            return False
        known.healthy_since = None
        incident = self.incidents.get(known.key)
        diagnosed = parse_time(known.diagnosed_at)
        return bool(incident and incident.status == "firing" and incident.last_notified  # undelivered: try again
                    and diagnosed and now - diagnosed < rediagnose)

    def diagnosed(self, key: str, category: str, summary: str, found: dict[str, tuple[str, str]],
                  pods: list[str], now: datetime, cooldown: timedelta) -> Decision:
        """Record a round's diagnoses that name the culprit `key` and decide what to say.

        `found`: workload -> (trigger signature, its own category); `category` and `summary` are the incident's.
        """
        incident, again = self.incidents.get(key), False
        causes = {w: f"{own} {key}" for w, (_, own) in found.items()}
        changed = [(w, self.workloads[w].cause) for w in found if w in self.workloads and self.workloads[w].cause != causes[w]]
        for workload, _ in changed:
            old = self.incidents.get(self.workloads[workload].key)
            if old and old.key != key and workload in old.workloads:
                old.workloads.remove(workload)
                if not old.workloads:  # every workload moved on: the "changed" message closes it
                    old.status = "resolved"
        for workload, (signature, _) in found.items():
            self.workloads[workload] = WorkloadState(key, causes[workload], signature, iso(now))
        if incident is None or incident.status != "firing":
            again = incident is not None
            incident = self.incidents[key] = IncidentState(key, category, summary, "firing", iso(now))
        if changed:
            decision = Decision(key, "changed", f"the cause of {changed[0][0]} changed", previous=changed[0][1])
        elif incident.last_notified is None:  # new, or not delivered yet
            decision = Decision(key, "firing", "failing again after it recovered" if again else "new incident")
        else:
            last = parse_time(incident.last_notified) or now
            if now - last >= cooldown:
                decision = Decision(key, "reminder", "still failing after the cooldown")
            else:
                decision = Decision(key, None, f"notified {iso(last)}, within the cooldown")
        incident.workloads = sorted(set(incident.workloads) | set(found))
        incident.pods = sorted(set(incident.pods) | set(pods))
        if decision.status in ("firing", "changed"):
            incident.category, incident.summary = category, summary
        return decision

    def notified(self, key: str, now: datetime) -> None:
        incident = self.incidents[key]
        incident.last_notified = iso(now)
        incident.notifications += 1

    def healthy(self, workloads: set[str], now: datetime, resolve_after: timedelta) -> list[Decision]:
        """Mark workloads that no longer fail; an incident whose workloads all stayed healthy for
        `resolve_after` is resolved (a crash-looping pod is briefly Running between restarts)."""
        decisions = []
        for workload in sorted(workloads):
            known = self.workloads.get(workload)
            if known is None:
                continue
            if known.healthy_since is None:
                known.healthy_since = iso(now)
        for key, incident in self.incidents.items():
            if incident.status != "firing" or not incident.workloads:
                continue
            since = [parse_time(self.workloads[w].healthy_since) if w in self.workloads else now - resolve_after
                     for w in incident.workloads]
            if all(s is not None and now - s >= resolve_after for s in since):
                incident.status = "resolved"
                for w in incident.workloads:
                    self.workloads.pop(w, None)
                decisions.append(Decision(key, "resolved", f"healthy for {resolve_after} or gone"))
        return decisions

    def firing_workloads(self) -> set[str]:
        return {w for w, s in self.workloads.items() if s.key in self.incidents and self.incidents[s.key].status == "firing"}
