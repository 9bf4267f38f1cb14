"""The decisive log line of a crash, and what it says about the cause."""

from __future__ import annotations

import posixpath

from copilot import fixes
from copilot.bundle import Bundle, Container, Ref
from copilot.logs import BoundedLog
from copilot.rca import Evidence
from copilot.rules import resource_use, specrules
from copilot.rules.findings import Finding, ev
from copilot.rules.signatures import Hit

STACK_CATEGORIES = ("app_crash", "missing_dependency", "oom_killed")
HEAP_FLAGS = ("-Xmx", "MaxRAMPercentage", "max-old-space-size", "MaxHeapSize")


def crash_log(c: Container) -> BoundedLog | None:
    """The log of the run that crashed: the previous one, else the current one of a terminated container."""
    if c.previous_log is not None and c.previous_log.total_lines:
        return c.previous_log
    if c.current_log is not None and (c.state == "terminated" or c.previous_log is None):
        return c.current_log
    return None


def score(hit: Hit, total_lines: int) -> float:
    """Specific beats generic, fatal beats warning, and later beats earlier: the last words killed it."""
    position = hit.line_no / max(total_lines, 1)
    value = hit.signature.strength * (0.7 + 0.3 * position)
    if hit.signature.fatal:
        value += 0.15
    if hit.severity >= 2:
        value += 0.1 * (hit.severity - 1)
    elif hit.severity in (0, 1):
        value *= 0.6
    return value


def decisive_hit(c: Container) -> Hit | None:
    log = crash_log(c)
    if log is None or not log.hits:
        return None
    return max(log.hits, key=lambda h: (score(h, log.total_lines), h.line_no))


def describe(hit: Hit) -> str:
    try:
        return hit.signature.what.format(**{k: v or "?" for k, v in hit.groups.items()})
    except (KeyError, IndexError, ValueError):
        return hit.signature.what


def block(log: BoundedLog, hit: Hit, after: int) -> str:
    """The hit's line and the contiguous lines that follow it (a stack trace, a list of options)."""
    lines = log.lines
    start = next((i for i, line in enumerate(lines) if line.no == hit.line_no), None)
    if start is None or lines[start].repeats > 1:
        return hit.line
    out, expected = [lines[start].text], lines[start].no + 1
    for line in lines[start + 1:start + 1 + after]:
        introduces = out[-1].rstrip().endswith(":")
        if line.no != expected or line.repeats > 1 or "[cut " in line.text or (not line.text.strip() and not introduces):
            break
        out.append(line.text)
        expected += 1
    return "\n".join(out).rstrip()


def log_evidence(bundle: Bundle, c: Container, hit: Hit) -> list[Evidence]:
    log = crash_log(c)
    if log is None:
        return [ev("logs", bundle.target.ref, hit.line)]
    after = 16 if hit.signature.category in STACK_CATEGORIES else 4
    out = [ev("logs", bundle.target.ref, block(log, hit, after))]
    quoted = out[0].excerpt
    for other in sorted(log.hits, key=lambda h: -score(h, log.total_lines)):
        if len(out) >= 3:
            break
        if other.line not in quoted and other.signature.strength >= 0.6 and (other.signature.fatal or other.severity >= 2) \
                and other.signature.category in (hit.signature.category, "app_crash", "missing_dependency"):
            out.append(ev("logs", bundle.target.ref, other.line))
            quoted += "\n" + other.line
    last = [line for line in log.lines[-3:] if line.text.strip() and line.text not in quoted]
    ends = bool(log.lines) and log.lines[-1].no + log.lines[-1].repeats - 1 >= log.total_lines
    if last and ends and hit.signature.category in STACK_CATEGORIES:
        out.append(ev("logs", bundle.target.ref, "\n".join(line.text for line in last)))
    return out


def heap_evidence(bundle: Bundle, c: Container) -> list[Evidence]:
    """Spec lines about memory: the limit and any heap flags in env or args."""
    out = []
    if c.limits.get("memory"):
        out.append(ev("spec", bundle.target.ref, f"containers[{c.name}].resources.limits.memory: {c.limits['memory']}"))
    for env in c.spec.get("env") or []:
        value = str(env.get("value") or "")
        if any(flag in value for flag in HEAP_FLAGS):
            out.append(ev("spec", bundle.target.ref, f"env {env.get('name')}={value}"))
    for arg in (c.spec.get("command") or []) + (c.spec.get("args") or []):
        if any(flag in str(arg) for flag in HEAP_FLAGS):
            out.append(ev("spec", bundle.target.ref, f"args: {arg}"))
    return out


def _only_configmap(bundle: Bundle, c: Container) -> Ref | None:
    mounted = {ref for _, ref, _ in specrules.config_mounts(bundle, c) if ref.kind == "ConfigMap"}
    return mounted.pop() if len(mounted) == 1 else None


def _index(bundle: Bundle, c: Container) -> int:
    return [x.name for x in bundle.target.containers if x.init == c.init].index(c.name)


def revision(bundle: Bundle, workload: Ref) -> int:
    obj = next((o for o in bundle.objects.get(workload.kind, []) if (o.get("metadata") or {}).get("name") == workload.name), {})
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        return int(annotations.get("deployment.kubernetes.io/revision") or (obj.get("status") or {}).get("observedGeneration") or 1)
    except ValueError:
        return 1


def log_finding(bundle: Bundle, c: Container) -> Finding | None:
    hit = decisive_hit(c)
    if hit is None:
        return None
    index = _index(bundle, c)
    for special in (specrules.read_only_root(bundle, c, crash_log(c), index), specrules.auth_secret(bundle, c, hit),
                    specrules.privileged_port(bundle, c, hit), specrules.port_clash(bundle, c, hit, index),
                    specrules.mounted_path(bundle, c, hit, index)):
        if special is not None:
            if special.rule != "spec.read-only-root":
                special.evidence = log_evidence(bundle, c, hit) + special.evidence[1:]
            return special
    workload = bundle.target.workload
    category, groups = hit.signature.category, hit.groups
    what = describe(hit)
    evidence = log_evidence(bundle, c, hit)
    end = c.ending
    exit_text = f" and exits with code {end.exit_code}" if end and end.exit_code not in (None, 0) else ""
    cause = f"{c.name}'s last run logged \"{hit.line.strip()[:300]}\" ({what}){exit_text}; it restarts and fails the same way."
    fix, recs = [], []
    culprit = workload
    rollback = revision(bundle, workload) > 1 and workload.kind in ("Deployment", "StatefulSet", "DaemonSet")
    if category == "missing_env_var":
        defined = {e.get("name") for e in c.spec.get("env") or []}
        names = [groups["var"]] if groups.get("var") else specrules.env_names(evidence[0].excerpt, defined)
        for var in names[:1]:
            fix.append(fixes.set_env(workload, c.name, var))
            cause += f" {var} is {'set but empty or invalid' if var in defined else 'not set'} in the pod spec."
    elif category == "oom_killed":
        limit = fixes.memory_bytes(c.limits.get("memory"))
        evidence += resource_use.memory_evidence(bundle.target.ref, c) + heap_evidence(bundle, c)
        cause += resource_use.memory_clause(c)
        fix.append(fixes.set_memory(workload, c, resource_use.observed_peak(c)))
        if limit and "node" in hit.signature.id:
            fix.append(fixes.set_env(workload, c.name, "NODE_OPTIONS", f"--max-old-space-size={int(limit / 2**20 * 0.75)}"))
        elif limit and ("java" in hit.signature.id or "jvm" in hit.signature.id):
            fix.append(fixes.set_env(workload, c.name, "JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75.0"))
    elif category == "invalid_config" and (config := _only_configmap(bundle, c)) is not None:
        culprit = config
        data = (specrules.object_named(bundle, "ConfigMap", config.name) or {}).get("data") or {}
        for key, text in list(data.items())[:1]:
            head = "\n".join(str(text).splitlines()[:30])[:1500]
            evidence.append(ev("related", config, f"{key}:\n{head}"))
        fix.append(fixes.inspect(config, "edit", f"configmap/{config.name}", explanation=f"fix the configuration {c.name} loads from ConfigMap {config.name}"))
        cause += f" The configuration comes from ConfigMap {config.name}, the only one it mounts."
    elif category == "permission_denied" and "read-only" in hit.line.lower() and groups.get("path"):
        directory = posixpath.dirname(groups["path"].rstrip("/")) or "/tmp"
        fix.append(specrules.writable_dir_fix(bundle, c, index, directory))
    elif category == "bad_command":
        evidence += specrules.wrong_architecture(bundle, c, hit)
        if evidence[-1].source == "spec":
            cause += f" The node is {evidence[-1].excerpt.split('=')[-1]}: the image {c.image} was built for another architecture."
    elif category == "node_issue":
        avx = specrules.avx_node_selector(bundle, hit)
        fix += [avx] if avx else []
    if rollback and category in ("missing_dependency", "app_crash", "bad_command", "node_issue", "invalid_config", "file_not_found"):
        fix.append(fixes.rollout_undo(workload))
        recs.append("Fix the image or configuration and roll out a new version; roll back meanwhile if the previous revision worked.")
    if not fix and workload.kind in fixes.PATCHABLE:
        fix.append(fixes.inspect(workload, "edit", fixes.target_of(workload), explanation=f"correct {c.name}'s command, arguments or environment"))
    fix.append(fixes.inspect(bundle.target.ref, "logs", bundle.target.ref.name, "-c", c.name, "--previous", "--tail=100",
                             explanation="read the end of the crashed run's log"))
    return Finding(f"log.{hit.signature.id}", category, min(0.95, hit.signature.strength), f"{c.name}: {what}", cause,
                   culprit, evidence, fix, c.name, recs)
