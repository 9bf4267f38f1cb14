"""`copilot scan`: every failing pod in scope (crash-looping, evicted, unschedulable) with a one-line diagnosis from the rules.

One list request per kind (through CachedSource), then each failing container's logs. Pods of one
workload failing the same way are diagnosed once.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from copilot.errors import CopilotError


@dataclass
class Row:
    namespace: str
    pod: str
    workload: str
    status: str          # the trigger: CrashLoopBackOff, OOMKilled, CreateContainerConfigError ...
    restarts: int
    category: str | None
    culprit: str | None
    summary: str
    fix: str | None
    same_as: str | None = None   # diagnosed once for the workload: the pod whose diagnosis this is


def scan(source: Any, namespace: str | None, min_restarts: int = 1, jobs: int = 4) -> tuple[list[Row], list[str]]:
    """(rows, gaps): the failing pods sorted by namespace and name, and what could not be read."""
    from copilot import app
    from copilot.sources.cached import CachedSource
    from copilot.watch.detect import stuck, stuck_message, triggers

    cached = CachedSource(source, namespace)
    now = cached.now()
    failing, messages = [], {}
    for pod in cached.list("Pod", namespace):
        found = triggers(pod, now, min_restarts)
        if found:
            failing.append(max(found, key=lambda t: t.restarts))
        elif (other := stuck(pod)) is not None:
            failing.append(other)
            messages[(other.namespace, other.pod)] = stuck_message(pod)
    groups: dict[tuple[str, str], list[Any]] = {}
    for trigger in failing:
        groups.setdefault((trigger.workload, trigger.signature), []).append(trigger)

    def diagnose(trigger: Any) -> Any:
        try:
            return app.diagnose(cached, app.Target(trigger.namespace, trigger.pod), no_llm=True).rca
        except CopilotError as e:
            return e
        except Exception as e:  # noqa: BLE001 - one pod's failure is its row, not the end of the table
            return CopilotError(f"internal error: {type(e).__name__}: {e}")

    leaders = [max(g, key=lambda t: t.restarts) for g in groups.values()]
    with ThreadPoolExecutor(jobs) as pool:
        verdicts = dict(zip([id(t) for t in leaders], pool.map(diagnose, leaders)))
    rows = []
    for group, leader in zip(groups.values(), leaders):
        verdict = verdicts[id(leader)]
        for trigger in group:
            status = trigger.reason + (f" (exit {trigger.exit_code})" if trigger.exit_code is not None else "")
            same_as = None if trigger is leader else f"{leader.namespace}/{leader.pod}"
            if isinstance(verdict, CopilotError):
                rows.append(Row(trigger.namespace, trigger.pod, trigger.workload, status, trigger.restarts, None, None,
                                f"not diagnosed: {verdict}", None, same_as))
                continue
            culprit = str(verdict.culprit)
            summary = verdict.summary
            said = messages.get((trigger.namespace, trigger.pod))
            if verdict.category == "unknown" and said:  # no rule for it: what the API says is the best one line
                summary = f"{trigger.reason}: {said}"
            rows.append(Row(trigger.namespace, trigger.pod, trigger.workload, status, trigger.restarts, verdict.category,
                            culprit, summary, verdict.fix[0].command if verdict.fix else None, same_as))
    rows.sort(key=lambda r: (r.namespace, r.pod))
    return rows, cached.gaps


def render(rows: list[Row], gaps: list[str], output: str, out: TextIO, scope: str) -> None:
    if output == "json":
        out.write(json.dumps({"scope": scope, "failing": len(rows), "pods": [asdict(r) for r in rows], "gaps": gaps},
                             indent=2, ensure_ascii=False) + "\n")
        return
    if not rows:
        out.write(f"no failing pods in {scope}\n")
    else:
        header = ("NAMESPACE", "POD", "STATUS", "RESTARTS", "CATEGORY", "CULPRIT", "DIAGNOSIS")
        table = [header] + [(r.namespace, r.pod, r.status, str(r.restarts), r.category or "-", r.culprit or "-",
                             r.summary if not r.same_as else f"as {r.same_as.split('/', 1)[1]}") for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        for row in table:
            out.write("   ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "   " + row[-1] + "\n")
    for gap in gaps:
        out.write(f"note: {gap}\n")
