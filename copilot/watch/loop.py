"""The watcher: list and watch pods, diagnose what starts failing, say it once.

Threads: one reads the watch stream (and only records which pods fail); one dispatcher takes
the failures in rounds, diagnoses a round with bounded concurrency, decides with the State and
notifies. State is touched by the dispatcher alone. Every step prints one JSON line on stdout.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TextIO

from copilot.bundle import iso
from copilot.errors import CopilotError, Forbidden, Gone, NotFound, SourceError
from copilot.watch.detect import Trigger, triggers
from copilot.watch.state import Decision, State

WATCH_TIMEOUT_S = 300   # each watch request; the stream is then resumed from the last resourceVersion
TICK_S = 5.0            # how often recoveries are checked


@dataclass
class Options:
    namespace: str | None = None            # None: all namespaces
    min_restarts: int = 1
    cooldown: timedelta = timedelta(hours=4)
    resolve_after: timedelta = timedelta(minutes=10)
    rediagnose: timedelta = timedelta(minutes=30)
    jobs: int = 2
    batch_window_s: float = 0.5              # failures arriving this close together are diagnosed as one round


@dataclass
class Health:
    started: float = field(default_factory=time.monotonic)
    ready: bool = False                       # the first list is done
    beat: float = field(default_factory=time.monotonic)
    fatal: str | None = None

    def alive(self, stale_s: float = 120.0) -> bool:
        return self.fatal is None and time.monotonic() - self.beat < stale_s


Diagnose = Callable[[Trigger], Any]  # -> RCA


class Watcher:
    def __init__(self, source: Any, state: State, diagnose: Diagnose, notifiers: list[Any] | None = None,
                 options: Options | None = None, out: TextIO | None = None, clock: Callable[[], datetime] | None = None):
        self.source, self.state, self._diagnose = source, state, diagnose
        self.notifiers = notifiers or []
        self.options = options or Options()
        self.out = out or sys.stdout
        self.clock = clock or source.now
        self.health = Health()
        self._failing: dict[str, dict[str, list[Trigger]]] = {}   # workload -> pod -> its triggers
        self._lock = threading.Lock()
        self._queue: queue.Queue[Trigger] = queue.Queue()
        self._print_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.options.jobs, thread_name_prefix="copilot-diagnose")
        self.sent = 0
        self._version: str | None = None

    # --- output ------------------------------------------------------------

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ts": iso(datetime.now(timezone.utc)), "event": event, **fields}, ensure_ascii=False, default=str)
        with self._print_lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):
                pass

    # --- one pass: --once ----------------------------------------------------

    def once(self) -> int:
        """Handle what fails now, resolve what recovered, save; the number of notifications sent."""
        pods = self.source.list("Pod", self.options.namespace)
        self._sync(pods)
        self.health.ready = True
        found = self._drain()
        self._round(found)
        self._resolve()
        self._pool.shutdown()
        return self.sent

    # --- forever: list, then watch -------------------------------------------

    def run(self, stop: threading.Event) -> None:
        reader = threading.Thread(target=self._read, args=(stop,), name="copilot-watch", daemon=True)
        reader.start()
        try:
            while not stop.is_set() and self.health.fatal is None:
                batch = self._next_batch(stop)
                self.health.beat = time.monotonic()
                if batch:
                    self._round(batch)
                self._resolve()
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self.health.fatal:
            raise CopilotError(self.health.fatal)

    def _read(self, stop: threading.Event) -> None:
        from tenacity import (
            Retrying,
            retry_if_exception,
            stop_never,
            wait_exponential_jitter,
        )

        reconnect = Retrying(  # the one retry policy of the watch: transient API failures, never RBAC or a missing namespace
            retry=retry_if_exception(lambda e: isinstance(e, SourceError) and not isinstance(e, (Forbidden, NotFound))),
            wait=wait_exponential_jitter(multiplier=0.5, max=30), stop=stop_never, reraise=True,
            before_sleep=lambda rs: self.emit("reconnect", error=str(rs.outcome.exception()), attempt=rs.attempt_number))
        try:
            for attempt in reconnect:
                with attempt:
                    self._stream(stop)
        except CopilotError as e:
            self.health.fatal = str(e)
            self.emit("error", error=str(e), fatal=True)
        except Exception as e:  # noqa: BLE001 - a bug in the reader must stop the watcher loudly, not silently
            self.health.fatal = f"internal error in the watch: {type(e).__name__}: {e}"
            self.emit("error", error=self.health.fatal, fatal=True)

    def _stream(self, stop: threading.Event) -> None:
        """List, then watch from the list's resourceVersion; a reconnect resumes from the last version seen."""
        while not stop.is_set():
            version = self._version
            if version is None:
                pods, version = self.source.list_at("Pod", self.options.namespace)
                self._sync(pods)
                if not self.health.ready:
                    self.health.ready = True
                    self.emit("watching", scope=self.options.namespace or "all namespaces", pods=len(pods),
                              source=self.source.description, resource_version=version)
            try:
                self._version = version
                for change, pod in self.source.watch("Pod", self.options.namespace, version, WATCH_TIMEOUT_S):
                    self._version = (pod.get("metadata") or {}).get("resourceVersion") or self._version
                    self.health.beat = time.monotonic()
                    if change in ("ADDED", "MODIFIED"):
                        self._observe(pod)
                    elif change == "DELETED":
                        self._forget(pod)
                    if stop.is_set():
                        return
            except Gone as e:
                self.emit("resync", reason=str(e))
                self._version = None

    # --- what fails -----------------------------------------------------------

    def _sync(self, pods: list[dict[str, Any]]) -> None:
        with self._lock:
            self._failing.clear()
        for pod in pods:
            self._observe(pod)

    def _observe(self, pod: dict[str, Any]) -> None:
        found = triggers(pod, self.clock(), self.options.min_restarts)
        meta = pod.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        with self._lock:
            if not found:
                for pods in self._failing.values():
                    pods.pop(key, None)
                return
            self._failing.setdefault(found[0].workload, {})[key] = found
        for trigger in found:
            self._queue.put(trigger)

    def _forget(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        with self._lock:
            for pods in self._failing.values():
                pods.pop(f"{meta.get('namespace')}/{meta.get('name')}", None)

    def _drain(self, batch: dict[str, Trigger] | None = None) -> dict[str, Trigger]:
        """What is queued, one trigger per workload (the one with the most restarts)."""
        batch = {} if batch is None else batch
        while True:
            try:
                trigger = self._queue.get_nowait()
            except queue.Empty:
                return batch
            known = batch.get(trigger.workload)
            if known is None or trigger.restarts > known.restarts:
                batch[trigger.workload] = trigger

    def _next_batch(self, stop: threading.Event) -> dict[str, Trigger]:
        """The next round: wait up to TICK_S for a failure, then gather what follows it within the batch window
        (up to five windows while failures keep arriving)."""
        deadline = time.monotonic() + TICK_S
        while True:
            try:
                first = self._queue.get(timeout=0.2)
                break
            except queue.Empty:
                if stop.is_set() or time.monotonic() > deadline or self.health.fatal:
                    return {}
        batch = self._drain({first.workload: first})
        for _ in range(5):
            time.sleep(self.options.batch_window_s)
            if stop.is_set() or self._queue.empty():
                break
            self._drain(batch)
        return batch

    # --- a round: diagnose, decide, notify ------------------------------------

    def _round(self, batch: dict[str, Trigger]) -> None:
        now = self.clock()
        todo = []
        for workload, trigger in sorted(batch.items()):
            if self.state.fresh(workload, trigger.signature, now, self.options.rediagnose):
                continue
            self.emit("detected", workload=workload, pod=f"{trigger.namespace}/{trigger.pod}", container=trigger.container,
                      reason=trigger.reason, exit_code=trigger.exit_code, restarts=trigger.restarts, at=trigger.at)
            todo.append(trigger)
        futures = [(t, self._pool.submit(self._diagnose, t)) for t in todo]
        by_key: dict[str, list[tuple[Trigger, Any]]] = {}
        for trigger, future in futures:
            try:
                rca = future.result()
                key = str(rca.culprit)  # Kind/namespace/name: the incident
            except CopilotError as e:
                self.emit("error", workload=trigger.workload, pod=f"{trigger.namespace}/{trigger.pod}", error=str(e))
                continue
            except Exception as e:  # noqa: BLE001 - one diagnosis's bug must not stop the watcher; it is reported
                self.emit("error", workload=trigger.workload, pod=f"{trigger.namespace}/{trigger.pod}",
                          error=f"internal error: {type(e).__name__}: {e}")
                continue
            self.emit("diagnosed", workload=trigger.workload, pod=f"{trigger.namespace}/{trigger.pod}", category=rca.category,
                      culprit=key, confidence=rca.confidence, engine=rca.analysis.engine, summary=rca.summary,
                      gaps=rca.analysis.gaps)
            by_key.setdefault(key, []).append((trigger, rca))
        for key, found in sorted(by_key.items()):
            self._decide(key, found, now)
        if todo:
            self.state.save()

    def _decide(self, key: str, found: list[tuple[Trigger, Any]], now: datetime) -> None:
        # the message tells the most complete story: the diagnosis with the longest causal chain, then the surest
        _, rca = max(found, key=lambda f: (len(f[1].timeline), f[1].confidence))
        decision = self.state.diagnosed(key, rca.category, rca.summary, {t.workload: (t.signature, r.category) for t, r in found},
                                        [f"{t.namespace}/{t.pod}" for t, _ in found], now, self.options.cooldown)
        if decision.status is None:
            self.emit("suppressed", key=key, why=decision.why)
            return
        self._notify(decision, rca, max(t.restarts for t, _ in found), "; ".join(t.describe() for t, _ in found))

    def _resolve(self) -> None:
        now = self.clock()
        scope = self.options.namespace
        with self._lock:
            failing = {w for w, pods in self._failing.items() if pods}
        recovered = {w for w in self.state.firing_workloads() - failing if scope is None or w.split("/")[1] == scope}
        if not recovered:
            return
        decisions = self.state.healthy(recovered, now, self.options.resolve_after)
        for decision in decisions:
            self._notify(decision, None, 0, None)
        self.state.save()

    def _notify(self, decision: Decision, rca: Any, restarts: int, detail: str | None) -> None:
        from copilot.notify import Notice

        incident = self.state.incidents[decision.key]
        notice = Notice(status=decision.status or "", key=decision.key, rca=rca, workloads=list(incident.workloads),
                        pods=list(incident.pods), cluster=self.source.description, detected_at=incident.first_seen,
                        restarts=restarts, previous=decision.previous, detail=detail)
        deliveries = [n.send(notice) for n in self.notifiers]
        ok = not deliveries or any(d.ok for d in deliveries)
        self.emit("notified" if ok else "notify_failed", key=decision.key, status=decision.status, why=decision.why,
                  category=rca.category if rca else None, summary=rca.summary if rca else None,
                  workloads=notice.workloads,
                  deliveries=[{"channel": d.channel, "ok": d.ok, "status": d.status, "attempts": d.attempts, "error": d.error}
                              for d in deliveries])
        if ok:
            self.state.notified(decision.key, now=self.clock())
            self.sent += 1
