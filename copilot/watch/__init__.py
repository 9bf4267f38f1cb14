"""`copilot watch`: find pods as they start crash-looping, diagnose them, notify once per incident."""

from __future__ import annotations

import re
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from copilot.errors import UsageError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, what: str = "--cooldown") -> timedelta:
    """4h, 30m, 90s, 1h30m, 2d; a bare number is seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return timedelta(seconds=float(value))
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise UsageError(f"{what} {text!r}: give a duration like 4h, 30m, 90s or 1h30m")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


@dataclass
class WatchConfig:
    namespace: str | None
    all_namespaces: bool
    context: str | None
    kubeconfig: str | None
    incident: str | None
    slack_webhook: str | None
    webhook: str | None
    once: bool
    state_path: str | None
    min_restarts: int
    cooldown: str
    resolve_after: str
    no_llm: bool
    model: str | None
    prometheus_url: str | None
    health_port: int | None
    jobs: int


def start(config: WatchConfig, out: TextIO, note: TextIO) -> int:
    """Build the watcher from the options and run it: once, or until SIGTERM/Ctrl-C. The exit code."""
    from copilot import app
    from copilot.notify import notifiers
    from copilot.watch.loop import Options, Watcher
    from copilot.watch.state import State

    if config.incident and not config.once:
        raise UsageError("--incident is a recording that never changes: add --once, or serve it with `copilot replay --play`")
    source, scope = app.scoped_source(config.namespace, config.all_namespaces, config.context, config.kubeconfig, config.incident)
    options = Options(namespace=scope, min_restarts=config.min_restarts, cooldown=parse_duration(config.cooldown),
                      resolve_after=parse_duration(config.resolve_after, "--resolve-after"), jobs=config.jobs)
    channels = notifiers(config.slack_webhook, config.webhook)
    state = State(config.state_path)
    if config.incident:
        metrics, gap = app.incident_metrics(source, config.prometheus_url)
    else:
        metrics, gap = app.cluster_metrics(source, config.prometheus_url)
    llm = None if config.no_llm else app.llm_config(config.model, None)
    message = app.llm_note(llm, config.no_llm)
    if message:
        print(message, file=note)
    if gap:
        print(f"note: {gap}", file=note)

    def diagnose(trigger):
        target = app.Target(trigger.namespace, trigger.pod)
        return app.diagnose(source, target, llm=llm, no_llm=config.no_llm, metrics=metrics, metrics_gap=gap).rca

    watcher = Watcher(source, state, diagnose, channels, options, out)
    if config.once:
        watcher.once()
        return 0
    if config.health_port is not None:
        from copilot.watch.health import serve_health

        serve_health(watcher.health, config.health_port)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        watcher.run(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    watcher.emit("stopped", notifications=watcher.sent)
    return 0
