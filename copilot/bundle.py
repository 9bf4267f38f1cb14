"""The context bundle: what the collector read, in the shape the rules consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copilot.logs import BoundedLog
    from copilot.series import MemoryStats, ThrottleStats


CLUSTER_DNS = "kube-dns.kube-system.svc"


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


@dataclass(frozen=True)
class Ref:
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def short(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass
class Termination:
    exit_code: int | None
    signal: int | None
    reason: str
    message: str
    started: datetime | None
    finished: datetime | None


@dataclass
class Container:
    name: str
    init: bool
    image: str
    spec: dict[str, Any]
    restart_count: int = 0
    ready: bool = False
    state: str = "unknown"  # waiting | running | terminated | unknown
    waiting_reason: str = ""
    waiting_message: str = ""
    running_since: datetime | None = None
    terminated: Termination | None = None  # current state, when terminated
    last: Termination | None = None  # lastState.terminated
    previous_log: BoundedLog | None = None
    current_log: BoundedLog | None = None
    memory: MemoryStats | None = None  # working set around the crash, when a metrics source answered
    throttling: ThrottleStats | None = None  # share of CFS periods throttled around the crash

    @property
    def ending(self) -> Termination | None:
        """The termination that explains the crash: the current one if any, else the last."""
        return self.terminated or self.last

    @property
    def limits(self) -> dict[str, str]:
        return (self.spec.get("resources") or {}).get("limits") or {}

    @property
    def requests(self) -> dict[str, str]:
        return (self.spec.get("resources") or {}).get("requests") or {}

    def termination_line(self, which: str = "") -> str:
        """The ending termination as one quotable line, e.g. for evidence."""
        end = self.ending
        if end is None:
            return ""
        field = which or ("state.terminated" if self.terminated else "lastState.terminated")
        parts = [f"exitCode={end.exit_code}"]
        if end.signal:
            parts.append(f"signal={end.signal}")
        if end.reason:
            parts.append(f"reason={end.reason}")
        if end.finished:
            parts.append(f"finishedAt={iso(end.finished)}")
        line = f"{field}: " + " ".join(parts)
        return line + (f" message={end.message.strip()}" if end.message.strip() else "")

    def waiting_line(self) -> str:
        if not self.waiting_reason:
            return ""
        msg = f" message={self.waiting_message.strip()}" if self.waiting_message.strip() else ""
        return f"state.waiting: reason={self.waiting_reason}{msg}"

    @property
    def failing(self) -> bool:
        end = self.ending
        return (
            self.waiting_reason not in ("", "ContainerCreating", "PodInitializing")
            or (end is not None and (end.exit_code not in (0, None) or end.reason not in ("Completed", "")))
            or (self.restart_count > 0 and not self.ready)
        )


@dataclass
class Event:
    type: str
    reason: str
    message: str
    object: Ref
    field_path: str
    first: datetime | None
    last: datetime | None
    count: int
    component: str

    @property
    def container(self) -> str | None:
        if "{" in self.field_path:
            return self.field_path.split("{", 1)[1].rstrip("}")
        return None


@dataclass
class ConfigRef:
    """A ConfigMap or Secret the pod references, and whether it (and the key) exists."""

    kind: str  # ConfigMap | Secret
    name: str
    key: str | None
    optional: bool
    container: str | None
    via: str  # env VAR | envFrom | volume NAME | imagePullSecret
    exists: bool | None = None  # None: could not be read
    key_exists: bool | None = None


@dataclass
class PodView:
    """A pod as the rules see it: the target or a related one."""

    ref: Ref
    raw: dict[str, Any]
    workload: Ref
    owners: list[dict[str, Any]]
    containers: list[Container]
    events: list[Event]

    @property
    def phase(self) -> str:
        return (self.raw.get("status") or {}).get("phase", "")

    @property
    def spec(self) -> dict[str, Any]:
        return self.raw.get("spec") or {}

    @property
    def ready(self) -> bool:
        for cond in (self.raw.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return cond.get("status") == "True"
        return False

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass
class Dependency:
    """Something the target talks to, resolved as far as the cluster allows."""

    host: str
    port: int | None
    mentioned_in: str  # env DB_HOST | args | configmap NAME | log
    service: dict[str, Any] | None = None
    endpoints_ready: int | None = None
    pods: list[PodView] = field(default_factory=list)
    workload: Ref | None = None


@dataclass
class Revision:
    """One revision of a workload's pod template (a ReplicaSet or a ControllerRevision)."""

    ref: Ref
    number: int
    template: dict[str, Any]
    created: datetime | None
    ready: int | None = None


@dataclass
class Bundle:
    source: str
    now: datetime
    target: PodView
    config_refs: list[ConfigRef]
    node: dict[str, Any] | None
    dependencies: list[Dependency]
    objects: dict[str, list[dict[str, Any]]]  # kind -> objects read, for grounding and lookups
    events: list[Event] = field(default_factory=list)
    node_pods: list[dict[str, Any]] = field(default_factory=list)  # other pods on the target's node
    revisions: list[Revision] = field(default_factory=list)  # the workload's current revision first, then the previous one
    siblings: list[PodView] = field(default_factory=list)  # other pods of the same workload
    gaps: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.target.ref.namespace or "default"

    def failing_containers(self) -> list[Container]:
        return [c for c in self.target.containers if c.failing]
