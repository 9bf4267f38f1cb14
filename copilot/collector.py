"""Collector: reads everything about one crash-looping pod from a Source into a Bundle."""

from __future__ import annotations

import difflib
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from copilot.bundle import Bundle, ConfigRef, Container, Event, PodView, Ref, Termination, parse_time
from copilot.errors import NotFound, SourceError
from copilot.logs import BoundedLog, bound_log
from copilot.sources import Source

if TYPE_CHECKING:
    from copilot.sources.metrics import Metrics

COLLECT_BUDGET_S = 60.0  # reading the cluster for one RCA; later reads are skipped (the target's logs excepted)
LOG_HEAD_BYTES = 8 * 1024 * 1024
LOG_TAIL_LINES = 2000
SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
           9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM"}

Progress = Callable[[str], None]


class Reader:
    """Wraps a Source: turns non-fatal read failures into named gaps."""

    def __init__(self, source: Source, gaps: list[str] | None = None, record_logs: bool = False, budget_s: float | None = None):
        self.source = source
        self.gaps = gaps if gaps is not None else []
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.raw_logs: dict[str, dict[str, str]] | None = {} if record_logs else None
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s if budget_s else None
        self.skipped: list[str] = []  # reads not made once the budget was spent

    def _spent(self, what: str) -> bool:
        """True (and the read is noted as skipped) once the budget for reading the cluster is spent: a slow API
        server makes a partial RCA in bounded time instead of one that waits on every read in turn."""
        if self.deadline is None or time.monotonic() < self.deadline:
            return False
        self.skipped.append(what)
        return True

    def budget_gap(self) -> str | None:
        if not self.skipped:
            return None
        shown = ", ".join(self.skipped[:4]) + (f" and {len(self.skipped) - 4} more" if len(self.skipped) > 4 else "")
        return f"reading the cluster took longer than its {self.budget_s:g} s budget; not read: {shown}"

    def gap(self, text: str) -> None:
        """Record what could not be read, once: the same refused list asked twice is one gap."""
        if text not in self.gaps:
            self.gaps.append(text)

    def _keep(self, kind: str, objs: list[dict[str, Any]]) -> None:
        seen = self.objects.setdefault(kind, [])
        known = {(o.get("metadata") or {}).get("uid") or id(o) for o in seen}
        seen.extend(o for o in objs if ((o.get("metadata") or {}).get("uid") or id(o)) not in known)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        if self._spent(f"{kind} {namespace + '/' if namespace else ''}{name}"):
            return None
        try:
            obj = self.source.get(kind, namespace, name)
        except NotFound:
            return None
        except SourceError as e:
            self.gap(f"{kind} {namespace + '/' if namespace else ''}{name}: {e}")
            return None
        self._keep(kind, [obj])
        return obj

    def list(self, kind: str, namespace: str | None, **selectors: str | None) -> list[dict[str, Any]] | None:
        if self._spent(f"list {kind} in {namespace or 'all namespaces'}"):
            return None
        try:
            objs = self.source.list(kind, namespace, **selectors)
        except SourceError as e:
            self.gap(f"list {kind} in {namespace or 'all namespaces'}: {e}")
            return None
        self._keep(kind, objs)
        return objs

    def log(self, namespace: str, pod: str, container: str, previous: bool, essential: bool = False) -> BoundedLog | None:
        """The log bounded in memory: the first LOG_HEAD_BYTES, then the last lines if it was longer.
        `essential` (the target's own logs) is read even past the budget."""
        which = "previous" if previous else "current"
        if not essential and self._spent(f"{which} log of {pod}/{container}"):
            return None
        try:
            head = self.source.log(namespace, pod, container, previous, limit_bytes=LOG_HEAD_BYTES)
            if head is None:
                return None

            def head_then_tail():
                read = 0
                for chunk in head:
                    read += len(chunk)
                    yield chunk
                if read >= LOG_HEAD_BYTES:
                    tail = self.source.log(namespace, pod, container, previous, tail_lines=LOG_TAIL_LINES)
                    if tail is not None:
                        yield f"\n[copilot: log longer than {LOG_HEAD_BYTES // 2**20} MiB; its last {LOG_TAIL_LINES} lines follow]\n".encode()
                        yield from tail

            stream = head_then_tail()
            if self.raw_logs is not None:
                stream = _tee(stream, self.raw_logs.setdefault(f"{namespace}/{pod}/{container}", {}), which)
            return bound_log(stream)
        except SourceError as e:
            self.gap(f"{which} log of {pod}/{container}: {e}")
            return None


RECORD_HEAD_BYTES = RECORD_TAIL_BYTES = 1024 * 1024


def _tee(chunks, into: dict[str, str], which: str):
    """Pass chunks through while keeping a bounded raw copy: the first and the last MiB."""
    head, tail, tail_size, total = bytearray(), deque(), 0, 0
    for chunk in chunks:
        total += len(chunk)
        room = RECORD_HEAD_BYTES - len(head)
        if room > 0:
            head += chunk[:room]
            chunk_rest = chunk[room:]
        else:
            chunk_rest = chunk
        if chunk_rest:
            tail.append(chunk_rest)
            tail_size += len(chunk_rest)
            while tail_size - len(tail[0]) >= RECORD_TAIL_BYTES:
                tail_size -= len(tail.popleft())
        yield chunk
    rest = b"".join(tail)
    if total > len(head) + len(rest):
        rest = f"\n[copilot record: {total - len(head) - len(rest)} bytes omitted]\n".encode() + rest
    into[which] = (bytes(head) + rest).decode("utf-8", "replace")


def _termination(raw: dict[str, Any] | None) -> Termination | None:
    if not raw:
        return None
    code = raw.get("exitCode")
    signal = raw.get("signal") or (code - 128 if isinstance(code, int) and 128 < code < 160 else None)
    return Termination(code, signal, raw.get("reason") or "", raw.get("message") or "",
                       parse_time(raw.get("startedAt")), parse_time(raw.get("finishedAt")))


def containers_of(pod: dict[str, Any]) -> list[Container]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = {s.get("name"): s for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])}
    out = []
    for init, specs in ((True, spec.get("initContainers") or []), (False, spec.get("containers") or [])):
        for c in specs:
            st = statuses.get(c.get("name"), {})
            state = st.get("state") or {}
            waiting, running = state.get("waiting") or {}, state.get("running")
            out.append(Container(
                name=c.get("name", ""), init=init, image=c.get("image", ""), spec=c,
                restart_count=int(st.get("restartCount") or 0), ready=bool(st.get("ready")),
                state=next((k for k in ("waiting", "running", "terminated") if k in state), "unknown"),
                waiting_reason=waiting.get("reason") or "", waiting_message=waiting.get("message") or "",
                running_since=parse_time((running or {}).get("startedAt")),
                terminated=_termination(state.get("terminated")),
                last=_termination((st.get("lastState") or {}).get("terminated")),
            ))
    return out


def normalize_event(raw: dict[str, Any]) -> Event:
    """core/v1 and events.k8s.io/v1 events into one shape."""
    if raw.get("apiVersion", "").startswith("events.k8s.io"):
        obj, series = raw.get("regarding") or {}, raw.get("series") or {}
        first = parse_time(raw.get("deprecatedFirstTimestamp")) or parse_time(raw.get("eventTime"))
        last = parse_time(series.get("lastObservedTime")) or parse_time(raw.get("deprecatedLastTimestamp")) or first
        count = int(series.get("count") or raw.get("deprecatedCount") or 1)
        message, component = raw.get("note") or "", raw.get("reportingController") or ""
    else:
        obj, series = raw.get("involvedObject") or {}, raw.get("series") or {}
        first = parse_time(raw.get("firstTimestamp")) or parse_time(raw.get("eventTime"))
        last = parse_time(raw.get("lastTimestamp")) or parse_time(series.get("lastObservedTime")) or first
        count = int(raw.get("count") or series.get("count") or 1)
        message = raw.get("message") or ""
        component = (raw.get("source") or {}).get("component") or raw.get("reportingComponent") or ""
    ref = Ref(obj.get("kind", ""), obj.get("namespace"), obj.get("name", ""))
    return Event(raw.get("type") or "", raw.get("reason") or "", message.strip(), ref,
                 obj.get("fieldPath") or "", first, last, count, component)


def fold_events(events: list[Event]) -> list[Event]:
    """One entry per object, reason and message, counts summed, first/last widened."""
    folded: dict[tuple, Event] = {}
    for ev in events:
        key = (str(ev.object), ev.field_path, ev.reason, ev.message)
        have = folded.get(key)
        if have is None:
            folded[key] = Event(**vars(ev))
            continue
        have.count += ev.count
        have.first = min(filter(None, [have.first, ev.first]), default=None)
        have.last = max(filter(None, [have.last, ev.last]), default=None)
    return sorted(folded.values(), key=lambda e: (e.last or e.first or parse_time("1970-01-01T00:00:00Z")))


def events_for(events: list[Event], kind: str, name: str) -> list[Event]:
    return [e for e in events if e.object.kind == kind and e.object.name == name]


def owner_chain(reader: Reader, pod: dict[str, Any]) -> tuple[Ref, list[dict[str, Any]]]:
    """Follow controller ownerReferences to the top-level workload (a bare Pod owns itself)."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace")
    top, chain, current = Ref("Pod", namespace, meta.get("name", "")), [], meta
    for _ in range(4):
        owner = next((o for o in current.get("ownerReferences") or [] if o.get("controller")), None)
        owner = owner or next(iter(current.get("ownerReferences") or []), None)
        if not owner:
            break
        top = Ref(owner.get("kind", ""), namespace, owner.get("name", ""))
        obj = reader.get(top.kind, namespace, top.name) if top.kind in _READABLE_OWNERS else None
        if obj is None:
            break
        chain.append(obj)
        current = obj.get("metadata") or {}
    return top, chain


_READABLE_OWNERS = {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def pod_view(reader: Reader, pod: dict[str, Any], events: list[Event]) -> PodView:
    meta = pod.get("metadata") or {}
    ref = Ref("Pod", meta.get("namespace"), meta.get("name", ""))
    workload, chain = owner_chain(reader, pod)
    return PodView(ref, pod, workload, chain, containers_of(pod), events_for(events, "Pod", ref.name))


def config_refs(pod: dict[str, Any]) -> list[ConfigRef]:
    spec, refs = pod.get("spec") or {}, []
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in source:
                    r = source[key]
                    refs.append(ConfigRef(kind, r.get("name", ""), r.get("key"), bool(r.get("optional")),
                                          c.get("name"), f"env {env.get('name')}"))
        for src in c.get("envFrom") or []:
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in src:
                    r = src[key]
                    refs.append(ConfigRef(kind, r.get("name", ""), None, bool(r.get("optional")), c.get("name"), "envFrom"))
    for vol in spec.get("volumes") or []:
        sources = [vol] + [s for s in (vol.get("projected") or {}).get("sources") or []]
        for s in sources:
            if "configMap" in s:
                r = s["configMap"]
                refs.append(ConfigRef("ConfigMap", r.get("name", ""), None, bool(r.get("optional")), None, f"volume {vol.get('name')}"))
            if "secret" in s:
                r = s["secret"]
                name = r.get("secretName") or r.get("name", "")
                refs.append(ConfigRef("Secret", name, None, bool(r.get("optional")), None, f"volume {vol.get('name')}"))
    for item in spec.get("imagePullSecrets") or []:
        refs.append(ConfigRef("Secret", item.get("name", ""), None, False, None, "imagePullSecret"))
    return refs


def check_config_refs(reader: Reader, namespace: str, refs: list[ConfigRef]) -> None:
    cache: dict[tuple[str, str], dict[str, Any] | None] = {}
    for ref in refs:
        key = (ref.kind, ref.name)
        if key not in cache:
            gaps_before = len(reader.gaps)
            cache[key] = reader.get(ref.kind, namespace, ref.name)
            if cache[key] is None and len(reader.gaps) > gaps_before:
                cache[key] = {"unreadable": True}
        obj = cache[key]
        if obj is not None and obj.get("unreadable"):
            continue
        ref.exists = obj is not None
        if obj is not None and ref.key is not None:
            data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {}), **(obj.get("stringData") or {})}
            if "data" in obj or ref.kind == "ConfigMap":
                ref.key_exists = ref.key in data


def collect(source: Source, namespace: str, pod_name: str, progress: Progress | None = None,
            related: bool = True, reader: Reader | None = None, metrics: Metrics | None = None,
            budget_s: float | None = COLLECT_BUDGET_S) -> Bundle:
    """Read the pod and everything around it; only the pod itself is required. Past `budget_s` seconds the
    remaining reads are skipped and named in one gap (the target's own logs are still read)."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    reader = reader or Reader(source, budget_s=budget_s)
    gaps = reader.gaps
    say(f"reading pod {namespace}/{pod_name}")
    try:
        pod = source.get("Pod", namespace, pod_name)
    except NotFound as e:
        raise NotFound(_not_found_message(source, namespace, pod_name, e)) from e
    reader._keep("Pod", [pod])

    say("reading events")
    raw_events: dict[str, dict[str, Any]] = {}
    for kind in ("Event", "EventsV1"):
        for ev in reader.list(kind, namespace) or []:
            raw_events.setdefault((ev.get("metadata") or {}).get("name") or str(id(ev)), ev)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        for ev in reader.list("Event", None, field_selector=f"involvedObject.kind=Node,involvedObject.name={node_name}") or []:
            raw_events.setdefault(f"node/{(ev.get('metadata') or {}).get('name')}", ev)
    events = fold_events([normalize_event(e) for e in raw_events.values()])
    if not raw_events and not any("Event" in g for g in gaps):
        gaps.append(f"no events recorded for namespace {namespace} (events expire after about an hour)")

    say("reading owners, config and node")
    target = pod_view(reader, pod, events)
    refs = config_refs(pod)
    check_config_refs(reader, namespace, refs)
    node = reader.get("Node", None, node_name) if node_name else None
    node_pods = reader.list("Pod", None, field_selector=f"spec.nodeName={node_name}") or [] if node_name else []

    say("reading container logs")
    for c in target.containers:
        if c.restart_count > 0 or c.last is not None:
            gaps_before = len(gaps)
            c.previous_log = reader.log(namespace, pod_name, c.name, previous=True, essential=True)
            if c.previous_log is None and c.failing and len(gaps) == gaps_before:  # not a failed read: the kubelet has none
                gaps.append(f"no previous log for container {c.name} (the kubelet no longer has it)")
        if c.state in ("running", "terminated") or (c.state == "waiting" and c.last is not None and c.previous_log is None):
            c.current_log = reader.log(namespace, pod_name, c.name, previous=False, essential=True)

    bundle = Bundle(source.description, source.now(), target, refs, node, [], reader.objects, events, gaps=gaps,
                    node_pods=[p for p in node_pods if (p.get("metadata") or {}).get("name") != pod_name])
    if related:
        from copilot import history
        from copilot.related import find_dependencies, network_policies

        say("reading rollout history and sibling pods")
        bundle.revisions = history.revisions(reader, bundle)
        bundle.siblings = history.siblings(reader, bundle, events)
        say("resolving dependencies")
        bundle.dependencies = find_dependencies(reader, bundle, events)
        network_policies(reader, bundle)
    budget = reader.budget_gap()
    if budget:
        gaps.append(budget)
    if metrics is not None:
        from copilot.usage import read_usage

        say(f"reading memory and CPU series from {metrics.description}")
        read_usage(metrics, bundle)
    bundle.timings["collect_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return bundle


def _not_found_message(source: Source, namespace: str, pod_name: str, error: Exception) -> str:
    try:
        listed = [(p.get("metadata") or {}).get("name", "") for p in source.list("Pod", namespace)]
    except SourceError:
        listed = None  # unknown: say nothing about the namespace
    names = [n for n in listed or [] if n != pod_name]  # listed yet not found: deleted meanwhile, no suggestion
    close = difflib.get_close_matches(pod_name, names, n=3, cutoff=0.5)
    close += [n for n in names if n.startswith(pod_name) and n not in close][:3]
    hint = f"; did you mean {', '.join(close[:3])}?" if close else ""
    if listed == [] and not hint:
        hint = f"; namespace {namespace} has no pods"
    return f'pod "{pod_name}" not found in namespace {namespace}{hint}'
