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
                            r"could not (create|write)", re.I)
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


def object_named(bundle: Bundle, kind: str, name: str) -> dict | None:
    return next((o for o in bundle.objects.get(kind, []) if (o.get("metadata") or {}).get("name") == name
                 and (o.get("metadata") or {}).get("namespace", bundle.namespace) == bundle.namespace), None)


def _keys(obj: dict | None) -> set[str] | None:
    """The object's keys; None when unknown (not read, or a Secret read as metadata only)."""
    if obj is None or not any(f in obj for f in ("data", "binaryData", "stringData")):
        return None
    return set(obj.get("data") or {}) | set(obj.get("binaryData") or {}) | set(obj.get("stringData") or {})


def config_mounts(bundle: Bundle, c: Container) -> list[tuple[str, Ref, set[str] | None]]:
    """(mountPath, ConfigMap or Secret, the file names it puts there or None if unknown) for c's mounts."""
    volumes = {v.get("name"): v for v in bundle.target.spec.get("volumes") or []}
    out = []
    for mount in c.spec.get("volumeMounts") or []:
        vol = volumes.get(mount.get("name")) or {}
        mp = mount.get("mountPath", "").rstrip("/")
        for source in [vol] + list((vol.get("projected") or {}).get("sources") or []):
            for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                if field not in source:
                    continue
                ref = Ref(kind, bundle.namespace, source[field].get("secretName") or source[field].get("name", ""))
                items = source[field].get("items")
                keys = _keys(object_named(bundle, kind, ref.name))
                files = {i.get("path") for i in items} if items else keys
                if mount.get("subPath"):
                    wanted = mount["subPath"]
                    files = {posixpath.basename(mp)} if files is None or wanted in files else set()
                    mp = posixpath.dirname(mp)
                out.append((mp, ref, files))
    return out


def mounted_path(bundle: Bundle, c: Container, hit: Hit, index: int) -> Finding | None:
    """A file the process opens is missing: from the ConfigMap/Secret mounted there, or it is looked for
    somewhere else than where the volume is mounted, or a ConfigMap configures the wrong path."""
    path = hit.groups.get("path") or next(iter(_PATH.findall(hit.line)), "")
    if hit.signature.category not in ("file_not_found", "invalid_config") or not path:
        return None
    mounts = config_mounts(bundle, c)
    base = posixpath.basename(path)
    log = ev("logs", bundle.target.ref, hit.line)
    for mp, ref, files in mounts:
        where = f"volumeMount {mp} from {ref.kind[0].lower() + ref.kind[1:]} {ref.name}"
        inside = path.startswith(mp + "/")
        if inside and hit.signature.category == "invalid_config" and ref.kind == "ConfigMap":
            return Finding("spec.configmap-content", "invalid_config", 0.9, f"{c.name} rejects {path} from ConfigMap {ref.name}",
                           f"{c.name} reads {path}, mounted from ConfigMap {ref.name}, and fails to parse it (\"{hit.line.strip()[:300]}\").",
                           ref, [log, ev("spec", bundle.target.ref, where)],
                           [fixes.inspect(ref, "edit", f"configmap/{ref.name}", explanation=f"fix the syntax of {base} in ConfigMap {ref.name}")], c.name,
                           ["Validate the file before applying it (e.g. promtool check config, nginx -t, yamllint)."])
        if inside and hit.signature.category == "file_not_found" and (files is None or path[len(mp) + 1:] not in files):
            # a file under a ConfigMap/Secret mount can only come from a key (or an items path) of that object
            rel = path[len(mp) + 1:]
            listing = f" (its keys: {', '.join(sorted(files)) or 'none'})" if files is not None else ""
            return Finding("spec.mount-missing-key", "file_not_found", 0.9,
                           f"{c.name} opens {path}, but {ref.kind} {ref.name} mounted at {mp} has no {rel}",
                           f"{c.name} needs {path}; {mp} is where {ref.kind} {ref.name} is mounted, and the file is not there, so "
                           f"{ref.kind} {ref.name} has no key {rel}{listing} (\"{hit.line.strip()[:200]}\").",
                           ref, [log, ev("spec", bundle.target.ref, where + listing)],
                           [fixes.add_key(ref.kind, bundle.namespace, ref.name, rel)], c.name,
                           [f"Or rename the existing key in {ref.kind} {ref.name} to {rel}, or point {c.name} at the file it has."])
        if hit.signature.category == "file_not_found" and files and base in files and not inside:
            right = f"{mp}/{base}"
            ops = [{"op": "replace", "path": container_path(c, index, f"{field}/{i}"), "value": str(arg).replace(path, right)}
                   for field in ("args", "command") for i, arg in enumerate(c.spec.get(field) or []) if path in str(arg)]
            if ops:
                return Finding("spec.mount-path", "file_not_found", 0.92, f"{c.name} opens {path}, but {ref.kind} {ref.name} is mounted at {mp}",
                               f"{c.name} is told to read {path}, which does not exist; {ref.kind} {ref.name} with key {base} is mounted at {mp}, "
                               f"so the file is at {right}.", bundle.target.workload, [log, ev("spec", bundle.target.ref, where)],
                               [fixes.patch_json(bundle.target.workload, ops, f"point {c.name} at {right}, where {ref.kind} {ref.name} is mounted")], c.name)
    configured = _configured_in(bundle, c, path) if hit.signature.category == "file_not_found" else None
    if configured is not None:
        cm, key, line = configured
        located = next((f"{mp}/{base}" for mp, _, files in mounts if files and base in files), None)
        where = f"; {base} is mounted at {located}, so the path in the configuration is wrong" if located else \
            "; no volume puts the file there"
        return Finding("spec.configured-path", "file_not_found", 0.9 if located else 0.86,
                       f"{c.name} opens {path}, the path ConfigMap {cm.name} configures, and the file is not there",
                       f"ConfigMap {cm.name} (key {key}) points {c.name} at {path}, which does not exist{where} "
                       f"(\"{hit.line.strip()[:200]}\").", cm, [log, ev("related", cm, f"{key}: {line}")],
                       [fixes.inspect(cm, "edit", f"configmap/{cm.name}", explanation=f"point {key} at {located or 'the file the container has'}")],
                       c.name, ["Or mount the file where the configuration expects it."])
    return None


def _configured_in(bundle: Bundle, c: Container, path: str) -> tuple[Ref, str, str] | None:
    """The ConfigMap the pod reads whose data names the missing path: (ConfigMap, key, the line)."""
    needle = path.lstrip("./")
    names = [r.name for r in bundle.config_refs if r.kind == "ConfigMap" and r.container in (None, c.name)]
    for name in dict.fromkeys(names):
        for key, value in ((object_named(bundle, "ConfigMap", name) or {}).get("data") or {}).items():
            for line in str(value).splitlines():
                if needle and needle in line:
                    return Ref("ConfigMap", bundle.namespace, name), key, line.strip()
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
