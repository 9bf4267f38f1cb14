"""The decisive log line of a crash, and what it says about the cause."""

from __future__ import annotations

import posixpath

from copilot import fixes
from copilot.bundle import Bundle, Container, Ref
from copilot.logs import BoundedLog
from copilot.rules.findings import Finding, ev
from copilot.rules.signatures import Hit


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
    elif hit.severity == 1 or hit.severity == 0:
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


def _container_index(bundle: Bundle, c: Container) -> int:
    return [x.name for x in bundle.target.containers if x.init == c.init].index(c.name)


def _mounted_configmap(bundle: Bundle, c: Container, path: str) -> Ref | None:
    volumes = {v.get("name"): v for v in bundle.target.spec.get("volumes") or []}
    for mount in c.spec.get("volumeMounts") or []:
        mount_path = mount.get("mountPath", "")
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            vol = volumes.get(mount.get("name")) or {}
            if "configMap" in vol:
                return Ref("ConfigMap", bundle.namespace, vol["configMap"].get("name", ""))
    return None


def log_finding(bundle: Bundle, c: Container) -> Finding | None:
    hit = decisive_hit(c)
    if hit is None:
        return None
    log_ref = f"{bundle.target.ref}/{c.name}"
    workload = bundle.target.workload
    category, groups = hit.signature.category, hit.groups
    what = describe(hit)
    evidence = [ev("logs", bundle.target.ref, hit.line)]
    end = c.ending
    exit_text = f" and exits with code {end.exit_code}" if end and end.exit_code not in (None, 0) else ""
    cause = f"{c.name}'s last run logged \"{hit.line.strip()[:300]}\" ({what}){exit_text}; it restarts and fails the same way."
    fix: list = []
    recs: list[str] = []
    culprit = workload
    index = _container_index(bundle, c)
    group = "initContainers" if c.init else "containers"
    if category == "missing_env_var" and groups.get("var"):
        var = groups["var"]
        defined = any(e.get("name") == var for e in c.spec.get("env") or [])
        fix.append(fixes.set_env(workload, c.name, var))
        cause += f" {var} is {'set but empty or invalid' if defined else 'not set'} in the pod spec."
    elif category == "oom_killed":
        limit = fixes.memory_bytes(c.limits.get("memory"))
        fix.append(fixes.set_memory(workload, c))
        if limit and hit.signature.id.startswith("node"):
            fix.append(fixes.set_env(workload, c.name, "NODE_OPTIONS", f"--max-old-space-size={int(limit / 2**20 * 0.75)}"))
        elif limit and ("java" in hit.signature.id or "jvm" in hit.signature.id):
            fix.append(fixes.set_env(workload, c.name, "JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75.0"))
    elif category == "invalid_config" and groups.get("path"):
        culprit = _mounted_configmap(bundle, c, groups["path"]) or workload
    elif category == "permission_denied" and "read-only" in hit.line.lower() and groups.get("path"):
        directory = posixpath.dirname(groups["path"].rstrip("/")) or "/tmp"
        has_volumes = bool(bundle.target.spec.get("volumes"))
        has_mounts = bool(c.spec.get("volumeMounts"))
        ops = [{"op": "add", "path": "/volumes/-" if has_volumes else "/volumes",
                "value": {"name": "writable", "emptyDir": {}} if has_volumes else [{"name": "writable", "emptyDir": {}}]},
               {"op": "add", "path": f"/{group}/{index}/volumeMounts" + ("/-" if has_mounts else ""),
                "value": {"name": "writable", "mountPath": directory} if has_mounts else [{"name": "writable", "mountPath": directory}]}]
        fix.append(fixes.patch_json(workload, ops, f"mount a writable emptyDir at {directory}, keeping the root file system read-only"))
    elif category in ("missing_dependency", "app_crash", "bad_command") and workload.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        revision = int(((bundle.objects.get(workload.kind) or [{}])[0].get("metadata") or {}).get("annotations", {}).get("deployment.kubernetes.io/revision", "1") or 1)
        if revision > 1:
            fix.append(fixes.rollout_undo(workload))
        recs.append("Fix the image or code and roll out a new version; roll back meanwhile if an earlier revision worked.")
    if not fix:
        fix.append(fixes.inspect(bundle.target.ref, "logs", bundle.target.ref.name, "-c", c.name, "--previous", "--tail=100",
                                 explanation="read the end of the crashed run's log"))
    strength = min(0.95, hit.signature.strength)
    return Finding(f"log.{hit.signature.id}", category, strength, f"{c.name}: {what}", cause, culprit, evidence, fix, c.name, recs,
                   [], ) if log_ref else None
