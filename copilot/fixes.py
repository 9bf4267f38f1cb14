"""Concrete, non-destructive kubectl fix commands with computed values."""

from __future__ import annotations

import json
import math
import re
import shlex

from copilot.bundle import Container, Ref
from copilot.rca import Fix

_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_QTY = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)(?:e(?P<exp>\d+))?(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T|m)?\s*$")
PATCHABLE = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


def memory_bytes(quantity: str | None) -> int | None:
    m = _QTY.match(str(quantity or ""))
    if not m:
        return None
    value = float(m.group("num")) * (10 ** int(m.group("exp")) if m.group("exp") else 1)
    unit = m.group("unit") or ""
    return int(value / 1000) if unit == "m" else int(value * _UNITS[unit])


def cpu_millis(quantity: str | None) -> int | None:
    text = str(quantity or "").strip()
    try:
        return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)
    except ValueError:
        return None


def format_memory(n_bytes: int) -> str:
    mib = math.ceil(n_bytes / 2**20)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def raised_memory(current: str | None, observed_peak: int | None = None, factor: float = 1.5) -> str:
    """A new memory limit: the observed peak (or the current limit) with headroom, on a 64Mi step."""
    base = max(filter(None, [memory_bytes(current), observed_peak]), default=256 * 2**20)
    step = 64 * 2**20
    return format_memory(math.ceil(base * factor / step) * step)


def raised_cpu(current: str | None) -> str:
    millis = max(cpu_millis(current) or 0, 100)
    return f"{max(500, millis * 2)}m" if millis * 2 < 1000 else f"{millis * 2 / 1000:g}"


def _kubectl(ref: Ref, *args: str) -> str:
    ns = ["-n", ref.namespace] if ref.namespace else []
    return shlex.join(["kubectl", *ns, *args])


def target_of(ref: Ref) -> str:
    return f"{ref.kind.lower()}/{ref.name}"


def set_memory(workload: Ref, container: Container, peak: int | None = None) -> Fix:
    limit = raised_memory(container.limits.get("memory"), peak)
    request = container.requests.get("memory")
    args = ["set", "resources", target_of(workload), "-c", container.name, f"--limits=memory={limit}"]
    if request and (memory_bytes(request) or 0) > (memory_bytes(limit) or 0):
        args.append(f"--requests=memory={limit}")
    basis = "the observed peak" if peak else f"the current limit {container.limits.get('memory', '(none)')}"
    return Fix(command=_kubectl(workload, *args), explanation=f"raise {container.name}'s memory limit to {limit} (1.5x {basis})")


def set_cpu(workload: Ref, container: Container) -> Fix:
    limit = raised_cpu(container.limits.get("cpu"))
    args = ["set", "resources", target_of(workload), "-c", container.name, f"--limits=cpu={limit}"]
    return Fix(command=_kubectl(workload, *args), explanation=f"give {container.name} more CPU (limit {limit}) so start-up and probes finish in time")


def set_env(workload: Ref, container: str, var: str, value: str = "<value>") -> Fix:
    return Fix(command=_kubectl(workload, "set", "env", target_of(workload), "-c", container, f"{var}={value}"),
               explanation=f"set {var} on container {container}" + (" (fill in the value)" if value == "<value>" else ""))


def set_image(workload: Ref, container: str, image: str) -> Fix:
    return Fix(command=_kubectl(workload, "set", "image", target_of(workload), f"{container}={image}"),
               explanation=f"point {container} at an image that exists and runs on this node (fill in the tag)")


def create_cronjob(workload: Ref, container: Container, command: list[str]) -> Fix:
    args = ["create", "cronjob", workload.name, f"--image={container.image}", "--schedule=<cron schedule>"]
    args += ["--", *command] if command else []
    return Fix(command=_kubectl(workload, *args),
               explanation="run the task as a CronJob (fill in the schedule), since it finishes by design")


def rollout_undo(workload: Ref) -> Fix:
    return Fix(command=_kubectl(workload, "rollout", "undo", target_of(workload)),
               explanation=f"roll {workload.short} back to its previous revision")


def scale(workload: Ref, replicas: int = 1) -> Fix:
    why = f"bring {workload.short} back up to {replicas} replica(s)" if replicas else f"stop {workload.short}'s restart loop once the CronJob exists"
    return Fix(command=_kubectl(workload, "scale", target_of(workload), f"--replicas={replicas}"), explanation=why)


def patch_json(workload: Ref, ops: list[dict], explanation: str) -> Fix:
    kind = workload.kind
    prefix = {"CronJob": "/spec/jobTemplate/spec/template/spec"}.get(kind, "/spec/template/spec")
    if kind == "Pod":
        prefix = "/spec"
    ops = [{**op, "path": prefix + op["path"]} for op in ops]
    return Fix(command=_kubectl(workload, "patch", target_of(workload), "--type=json", "-p", json.dumps(ops, separators=(",", ":"), sort_keys=True)),
               explanation=explanation)


def patch_json_object(ref: Ref, ops: list[dict], explanation: str) -> Fix:
    """A JSON patch on an object itself (a Service, a ConfigMap), paths as given."""
    return Fix(command=_kubectl(ref, "patch", target_of(ref), "--type=json", "-p", json.dumps(ops, separators=(",", ":"), sort_keys=True)),
               explanation=explanation)


def container_path(workload_pod_spec_index: int, init: bool, field: str) -> str:
    group = "initContainers" if init else "containers"
    return f"/{group}/{workload_pod_spec_index}/{field}"


def create_secret(namespace: str, name: str, keys: list[str]) -> Fix:
    literals = [f"--from-literal={k}=<value>" for k in keys] or ["--from-literal=<key>=<value>"]
    return Fix(command=shlex.join(["kubectl", "-n", namespace, "create", "secret", "generic", name, *literals]),
               explanation=f"create the missing Secret {name} (fill in the values; they are never read by copilot)")


def create_configmap(namespace: str, name: str, keys: list[str]) -> Fix:
    literals = [f"--from-literal={k}=<value>" for k in keys] or ["--from-literal=<key>=<value>"]
    return Fix(command=shlex.join(["kubectl", "-n", namespace, "create", "configmap", name, *literals]),
               explanation=f"create the missing ConfigMap {name}")


def create_pull_secret(namespace: str, name: str, registry: str) -> Fix:
    return Fix(command=shlex.join(["kubectl", "-n", namespace, "create", "secret", "docker-registry", name,
                                   f"--docker-server={registry}", "--docker-username=<user>", "--docker-password=<password>"]),
               explanation=f"create pull credentials for {registry} (fill in user and password)")


def add_key(kind: str, namespace: str, name: str, key: str) -> Fix:
    field = "stringData" if kind == "Secret" else "data"
    patch = json.dumps({field: {key: "<value>"}}, separators=(",", ":"))
    return Fix(command=shlex.join(["kubectl", "-n", namespace, "patch", kind.lower(), name, "--type=merge", "-p", patch]),
               explanation=f"add the missing key {key} to {kind} {name} (fill in the value)")


def inspect(ref: Ref, *args: str, explanation: str) -> Fix:
    return Fix(command=_kubectl(ref, *args), explanation=explanation)
