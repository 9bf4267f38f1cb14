"""Log findings made precise by the pod spec: what the log says, checked against how the pod is built."""

from __future__ import annotations

import json
import posixpath
import re
import shlex

from copilot import fixes
from copilot.bundle import Bundle, Container, Ref
from copilot.rca import Fix
from copilot.rules.findings import Finding, ev
from copilot.rules.signatures import Hit

_WRITE_FAILURE = re.compile(r"read-only file system|EROFS|no usable temporary directory|cannot create|mkdir|permission denied|"
                            r"no such file or directory|could not (open|create|write)", re.I)
_AUTH_FAILURE = re.compile(r"password authentication failed|access denied for user|authentication failed|invalid password|"
                           r"WRONGPASS|NOAUTH|invalid username.password|login failed", re.I)
_SECRET_VAR = re.compile(r"PASS|PWD|SECRET|TOKEN|CREDENTIAL|AUTH", re.I)
_PATH = re.compile(r"(?<![\w.])(/[\w.@-]+(?:/[\w.@-]+)+)")
_ENV_NAME = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")
_BACKENDS = {"POSTGRES": ("POSTGRES", "PG", "PSQL"), "MYSQL": ("MYSQL", "MARIADB"), "REDIS": ("REDIS",),
             "MONGO": ("MONGO",), "RABBITMQ": ("RABBIT", "AMQP"), "KAFKA": ("KAFKA",)}
NFD_AVX = "feature.node.kubernetes.io/cpu-cpuid.AVX"


def container_path(c: Container, index: int, field: str) -> str:
    return f"/{'initContainers' if c.init else 'containers'}/{index}/{field}"


def writable_dir_fix(bundle: Bundle, c: Container, index: int, directory: str) -> Fix:
    has_volumes, has_mounts = bool(bundle.target.spec.get("volumes")), bool(c.spec.get("volumeMounts"))
    volume, mount = {"name": "writable-tmp", "emptyDir": {}}, {"name": "writable-tmp", "mountPath": directory}
    ops = [{"op": "add", "path": "/volumes/-" if has_volumes else "/volumes", "value": volume if has_volumes else [volume]},
           {"op": "add", "path": container_path(c, index, "volumeMounts") + ("/-" if has_mounts else ""),
            "value": mount if has_mounts else [mount]}]
    return fixes.patch_json(bundle.target.workload, ops, f"mount a writable emptyDir at {directory}, keeping the root file system read-only")


def read_only_root(bundle: Bundle, c: Container, log, index: int) -> Finding | None:
    """A write failure anywhere in the crashed run, in a container whose root file system is read-only."""
    if not (c.spec.get("securityContext") or {}).get("readOnlyRootFilesystem") or log is None:
        return None
    writes = [h for h in log.hits if _WRITE_FAILURE.search(h.line) and (h.signature.fatal or h.severity >= 2)]
    if not writes:
        return None
    hit = writes[-1]
    path = hit.groups.get("path") or ""
    directory = posixpath.dirname(path.rstrip("/")) if path.count("/") > 1 else "/tmp"
    spec_line = f"containers[{c.name}].securityContext.readOnlyRootFilesystem: true"
    return Finding("spec.read-only-root", "permission_denied", 0.9,
                   f"{c.name} cannot write to its file system: readOnlyRootFilesystem is true",
                   f"Container {c.name} runs with securityContext.readOnlyRootFilesystem: true, and its process needs to write "
                   f"(\"{hit.line.strip()[:200]}\"); it fails at start-up and restarts.",
                   bundle.target.workload, [ev("logs", bundle.target.ref, hit.line), ev("spec", bundle.target.ref, spec_line)],
                   [writable_dir_fix(bundle, c, index, directory or "/tmp")], c.name,
                   ["Mount an emptyDir wherever the app writes (tmp, cache, pid files) instead of dropping readOnlyRootFilesystem."])


def auth_secret(bundle: Bundle, c: Container, hit: Hit) -> Finding | None:
    if not _AUTH_FAILURE.search(hit.line):
        return None
    refs = [(e.get("name", ""), e["valueFrom"]["secretKeyRef"]) for e in c.spec.get("env") or []
            if "secretKeyRef" in (e.get("valueFrom") or {}) and _SECRET_VAR.search(e.get("name", ""))]
    if not refs:
        return None
    family = hit.signature.id.split(".")[0].upper()
    backend = _BACKENDS.get(family, ())

    def relevance(item: tuple[str, dict]) -> int:
        name = item[0].upper() + " " + item[1].get("name", "").upper()
        return 2 * any(b in name for b in backend) + any(b in name for b in ("DB", "DATABASE")) - ("ADMIN" in name)

    var, ref = max(refs, key=relevance)
    secret = Ref("Secret", bundle.namespace, ref.get("name", ""))
    return Finding("spec.auth-secret", "invalid_config", 0.9,
                   f"{c.name} is refused by its backend: the credentials in Secret {secret.name} are wrong",
                   f"{c.name} authenticates with {var} from Secret {secret.name} (key {ref.get('key')}) and the server rejects it "
                   f"(\"{hit.line.strip()[:200]}\"). The Secret and the password the server has diverged (a regenerated Secret "
                   "or a database initialised with an older one).",
                   secret, [ev("logs", bundle.target.ref, hit.line), ev("spec", bundle.target.ref, f"env {var} from secretKeyRef {secret.name}/{ref.get('key')}")],
                   [fixes.add_key("Secret", bundle.namespace, secret.name, ref.get("key", "password"))], c.name,
                   ["Or change the password on the server to the one in the Secret; restart the pod after either."])


def privileged_port(bundle: Bundle, c: Container, hit: Hit) -> Finding | None:
    port = hit.groups.get("port") or ""
    if not port.isdigit() or int(port) >= 1024 or hit.signature.category != "permission_denied":
        return None
    sysctl = {"spec": {"template": {"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}}}}}
    workload = bundle.target.workload
    fix = Fix(command=shlex.join(["kubectl", "-n", bundle.namespace, "patch", fixes.target_of(workload), "-p", json.dumps(sysctl, separators=(",", ":"))]),
              explanation=f"let the non-root process bind port {port} (or make it listen on a port above 1024)")
    return Finding("spec.privileged-port", "permission_denied", 0.9,
                   f"{c.name} runs as non-root and cannot bind privileged port {port}",
                   f"{c.name} tries to bind port {port} (\"{hit.line.strip()[:200]}\"); ports below 1024 need root or "
                   "CAP_NET_BIND_SERVICE, which the container does not have, so it exits.",
                   workload, [ev("logs", bundle.target.ref, hit.line)], [fix], c.name,
                   [f"Prefer listening on an unprivileged port (e.g. 8080) and mapping port {port} in the Service."])


def _ports(spec: dict) -> set[int]:
    return {p.get(k) for c in spec.get("containers") or [] for p in c.get("ports") or [] for k in ("containerPort", "hostPort") if p.get(k)}


def port_clash(bundle: Bundle, c: Container, hit: Hit, index: int) -> Finding | None:
    port = hit.groups.get("port") or ""
    if hit.signature.category != "port_in_use" or not port.isdigit():
        return None
    port_n, pod_spec = int(port), bundle.target.spec
    evidence = [ev("logs", bundle.target.ref, hit.line)]
    culprits = [x for x in bundle.target.containers if x is not c and port_n in {p.get("containerPort") for p in x.spec.get("ports") or []}]
    host_net = pod_spec.get("hostNetwork")
    clashing = [p for p in bundle.node_pods if host_net and ((p.get("spec") or {}).get("hostNetwork") and port_n in _ports(p.get("spec") or {}))
                or port_n in {pp.get("hostPort") for cc in (p.get("spec") or {}).get("containers") or [] for pp in cc.get("ports") or []}]
    if culprits:
        where = f"container {culprits[0].name} in the same pod also uses port {port}"
        evidence.append(ev("spec", bundle.target.ref, f"containers[{culprits[0].name}].ports: containerPort={port}"))
    elif clashing:
        other = clashing[0]["metadata"]
        where = f"pod {other.get('namespace')}/{other.get('name')} on the same node already holds port {port} on the host network"
        evidence.append(ev("related", f"Pod/{other.get('namespace')}/{other.get('name')}", f"hostNetwork: true, port {port}"))
    else:
        others = [x.name for x in bundle.target.containers if x is not c and (not x.init or x.spec.get("restartPolicy") == "Always")]
        where = (f"the pod's other containers ({', '.join(others)}) share its network namespace and one of them holds it"
                 if others else f"another process already listens on port {port}")
        if others:
            evidence.append(ev("spec", bundle.target.ref, f"containers in the pod: {', '.join([c.name] + others)}"))
    used = set().union(*[_ports(p.get("spec") or {}) for p in bundle.node_pods] or [set()]) | _ports(pod_spec)
    free = next(p for p in range(port_n + 1, port_n + 100) if p not in used)
    ops = [{"op": "replace", "path": container_path(c, index, f"args/{i}"), "value": arg.replace(f":{port}", f":{free}")}
           for i, arg in enumerate(c.spec.get("args") or []) if f":{port}" in str(arg)]
    ops += [{"op": "replace", "path": container_path(c, index, f"ports/{i}/{k}"), "value": free}
            for i, p in enumerate(c.spec.get("ports") or []) for k in ("containerPort", "hostPort") if p.get(k) == port_n]
    fix = [fixes.patch_json(bundle.target.workload, ops, f"move {c.name} to free port {free}")] if ops else []
    return Finding("spec.port-clash", "port_in_use", 0.93, f"{c.name} cannot bind port {port}: {where}",
                   f"{c.name} exits because port {port} is taken: {where} (\"{hit.line.strip()[:200]}\").",
                   bundle.target.workload, evidence, fix, c.name)


def mounted_path(bundle: Bundle, c: Container, hit: Hit, index: int) -> Finding | None:
    """A file the process opens is not where the volume is mounted: point the argument at the mounted copy."""
    path = hit.groups.get("path") or next(iter(_PATH.findall(hit.line)), "")
    if hit.signature.category not in ("file_not_found", "invalid_config") or not path:
        return None
    volumes = {v.get("name"): v for v in bundle.target.spec.get("volumes") or []}
    configmaps = {(o.get("metadata") or {}).get("name"): o for o in bundle.objects.get("ConfigMap", [])}
    base = posixpath.basename(path)
    for mount in c.spec.get("volumeMounts") or []:
        vol = volumes.get(mount.get("name")) or {}
        mp = mount.get("mountPath", "").rstrip("/")
        if "configMap" not in vol:
            continue
        cm = Ref("ConfigMap", bundle.namespace, vol["configMap"].get("name", ""))
        keys = set(((configmaps.get(cm.name) or {}).get("data") or {}).keys())
        if path.startswith(mp + "/") and hit.signature.category == "invalid_config":
            return Finding("spec.configmap-content", "invalid_config", 0.9, f"{c.name} rejects {path} from ConfigMap {cm.name}",
                           f"{c.name} reads {path}, mounted from ConfigMap {cm.name}, and fails to parse it (\"{hit.line.strip()[:300]}\").",
                           cm, [ev("logs", bundle.target.ref, hit.line), ev("spec", bundle.target.ref, f"volumeMount {mp} from configMap {cm.name}")],
                           [fixes.inspect(cm, "edit", f"configmap/{cm.name}", explanation=f"fix the syntax of {base} in ConfigMap {cm.name}")], c.name,
                           ["Validate the file before applying it (e.g. promtool check config, nginx -t, yamllint)."])
        if hit.signature.category == "file_not_found" and base in keys and not path.startswith(mp + "/"):
            right = f"{mp}/{base}"
            ops = [{"op": "replace", "path": container_path(c, index, f"{field}/{i}"), "value": str(arg).replace(path, right)}
                   for field in ("args", "command") for i, arg in enumerate(c.spec.get(field) or []) if path in str(arg)]
            fix = [fixes.patch_json(bundle.target.workload, ops, f"point {c.name} at {right}, where ConfigMap {cm.name} is mounted")] if ops else []
            return Finding("spec.mount-path", "file_not_found", 0.92, f"{c.name} opens {path}, but ConfigMap {cm.name} is mounted at {mp}",
                           f"{c.name} is told to read {path}, which does not exist; ConfigMap {cm.name} with key {base} is mounted at {mp}, "
                           f"so the file is at {right}.", bundle.target.workload,
                           [ev("logs", bundle.target.ref, hit.line), ev("spec", bundle.target.ref, f"volumeMount {mp} from configMap {cm.name}")],
                           fix, c.name)
    return None


def wrong_architecture(bundle: Bundle, c: Container, hit: Hit) -> list:
    """Evidence that the node's CPU architecture differs from what the image was built for."""
    labels = ((bundle.node or {}).get("metadata") or {}).get("labels") or {}
    arch = labels.get("kubernetes.io/arch")
    if "exec format error" not in hit.line.lower() or not arch:
        return []
    return [ev("spec", Ref("Node", None, (bundle.node or {}).get("metadata", {}).get("name", "")), f"kubernetes.io/arch={arch}")]


def avx_node_selector(bundle: Bundle, hit: Hit) -> Fix | None:
    if not re.search(r"\bAVX|illegal instruction|SIGILL", hit.line, re.I):
        return None
    body = {"spec": {"template": {"spec": {"nodeSelector": {NFD_AVX: "true"}}}}}
    workload = bundle.target.workload
    return Fix(command=shlex.join(["kubectl", "-n", bundle.namespace, "patch", fixes.target_of(workload), "-p", json.dumps(body, separators=(",", ":"))]),
               explanation="schedule only on nodes whose CPU has AVX (label set by node-feature-discovery), or use an image built without it")


def env_names(text: str, defined: set[str]) -> list[str]:
    return [n for n in dict.fromkeys(_ENV_NAME.findall(text)) if n not in defined]
