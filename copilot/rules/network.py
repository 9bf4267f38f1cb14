"""Network causes across resources: NetworkPolicies that drop the traffic, and mesh sidecars not ready yet."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from typing import Any

from copilot import fixes
from copilot.bundle import Bundle, Container, Dependency, PodView, Ref
from copilot.rca import Fix
from copilot.rules.findings import Finding, ev
from copilot.rules.logrules import crash_log
from copilot.rules.signatures import Hit

_TIMEOUT = re.compile(r"i/o timeout|timed out|ETIMEDOUT|deadline exceeded|no route to host|EHOSTUNREACH", re.I)
_REFUSED = re.compile(r"connection refused|ECONNREFUSED|upstream connect error|503 Service Unavailable|connection reset", re.I)
MESH = {"istio": ("istio-proxy", "proxyv2"), "linkerd": ("linkerd-proxy", "linkerd2-proxy")}


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool | None:
    """Label selector semantics; None when the selector cannot be decided (unknown labels)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


_NAMESPACE_LABELS: dict[str, dict[str, str]] = {}


def _ns_labels(namespace: str, bundle: Bundle | None = None) -> dict[str, str]:
    for ns in (bundle.objects.get("Namespace", []) if bundle else []):
        if (ns.get("metadata") or {}).get("name") == namespace:
            return {**((ns.get("metadata") or {}).get("labels") or {}), "kubernetes.io/metadata.name": namespace}
    return {"kubernetes.io/metadata.name": namespace}


def _peer_allows(peer: dict[str, Any], pod: PodView, policy_ns: str, bundle: Bundle | None = None) -> bool | None:
    if "ipBlock" in peer:
        ip = (pod.raw.get("status") or {}).get("podIP")
        if not ip:
            return None
        block = peer["ipBlock"]
        addr = ipaddress.ip_address(ip)
        return addr in ipaddress.ip_network(block.get("cidr", "0.0.0.0/0"), strict=False) and \
            not any(addr in ipaddress.ip_network(x, strict=False) for x in block.get("except") or [])
    labels = (pod.raw.get("metadata") or {}).get("labels") or {}
    ns_sel = peer.get("namespaceSelector")
    if ns_sel is None:
        ns_ok: bool | None = pod.ref.namespace == policy_ns
    else:
        recorded = bundle is not None and any((n.get("metadata") or {}).get("name") == pod.ref.namespace for n in bundle.objects.get("Namespace", []))
        known = selector_matches(ns_sel, _ns_labels(pod.ref.namespace or "", bundle))
        keys = set((ns_sel.get("matchLabels") or {})) | {e.get("key") for e in ns_sel.get("matchExpressions") or []}
        ns_ok = known if recorded or keys <= {"kubernetes.io/metadata.name"} or known else None
    pod_ok = selector_matches(peer.get("podSelector"), labels) if "podSelector" in peer else True
    if ns_ok is False or pod_ok is False:
        return False
    return None if ns_ok is None else True


def _port_allows(ports: list[dict[str, Any]] | None, port: int | None, names: dict[int, str]) -> bool:
    if not ports or port is None:
        return True
    for p in ports:
        value, end = p.get("port"), p.get("endPort")
        if value is None or value == port or (isinstance(value, str) and names.get(port) == value) \
                or (isinstance(value, int) and end and value <= port <= end):
            return True
    return False


def _allowed(policy: dict[str, Any], direction: str, peer_pod: PodView, port: int | None, names: dict[int, str],
             bundle: Bundle | None = None) -> bool | None:
    rules = (policy.get("spec") or {}).get("egress" if direction == "Egress" else "ingress") or []
    key = "to" if direction == "Egress" else "from"
    policy_ns = (policy.get("metadata") or {}).get("namespace") or ""
    undecided = False
    for rule in rules:
        if not _port_allows(rule.get("ports"), port, names):
            continue
        peers = rule.get(key)
        if not peers:
            return True
        for peer in peers:
            verdict = _peer_allows(peer, peer_pod, policy_ns, bundle)
            if verdict:
                return True
            undecided |= verdict is None
    return None if undecided else False


def _types(policy: dict[str, Any]) -> list[str]:
    spec = policy.get("spec") or {}
    return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))


def blocking_policy(bundle: Bundle, source: PodView, dest: PodView, port: int | None) -> tuple[dict, str] | None:
    """The policy that denies source -> dest:port, if the policies decide it (egress of source, ingress of dest)."""
    names = {p.get("containerPort"): p.get("name") for c in dest.containers for p in c.spec.get("ports") or []}
    for direction, selected, peer in (("Egress", source, dest), ("Ingress", dest, source)):
        labels = (selected.raw.get("metadata") or {}).get("labels") or {}
        applying = [p for p in bundle.objects.get("NetworkPolicy", [])
                    if (p.get("metadata") or {}).get("namespace", selected.ref.namespace) == selected.ref.namespace
                    and direction in _types(p) and selector_matches((p.get("spec") or {}).get("podSelector") or {}, labels)]
        if not applying:
            continue
        verdicts = [_allowed(p, direction, peer, port, names, bundle) for p in applying]
        if not any(v is True or v is None for v in verdicts):
            meant = [p for p in applying if any(_port_allows(r.get("ports"), port, names) and r.get("ports")
                                                for r in (p.get("spec") or {}).get("egress" if direction == "Egress" else "ingress") or [])]
            return (meant or applying)[0], direction
    return None


def policy_rule(bundle: Bundle, c: Container, hits: list[Hit]) -> Finding | None:
    """A healthy dependency the target cannot reach because a NetworkPolicy drops the traffic."""
    if not bundle.objects.get("NetworkPolicy"):
        return None
    for hit in reversed(hits):
        if not (_TIMEOUT.search(hit.line) or hit.signature.category == "network_error"):
            continue
        for dep in bundle.dependencies:
            healthy = [p for p in dep.pods if p.ready]
            if not healthy:
                continue
            port = _dest_port(dep, healthy[0])
            blocked = blocking_policy(bundle, bundle.target, healthy[0], port)
            if blocked is None:
                continue
            policy, direction = blocked
            meta = policy.get("metadata") or {}
            ref = Ref("NetworkPolicy", meta.get("namespace") or bundle.namespace, meta.get("name", ""))
            peer = healthy[0] if direction == "Egress" else bundle.target
            peer_labels = (peer.raw.get("metadata") or {}).get("labels") or {}
            rule = {"to" if direction == "Egress" else "from": [{"podSelector": {"matchLabels": _stable(peer_labels)},
                                                                 "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": peer.ref.namespace or ""}}}]}
            if port:
                rule["ports"] = [{"protocol": "UDP" if port == 53 else "TCP", "port": port}]
            field = "egress" if direction == "Egress" else "ingress"
            has = bool((policy.get("spec") or {}).get(field))
            op = {"op": "add", "path": f"/spec/{field}/-" if has else f"/spec/{field}", "value": rule if has else [rule]}
            fix = fixes.patch_json_object(ref, [op], f"allow {bundle.target.workload.short} to reach {dep.workload.short if dep.workload else dep.host}"
                                          + (f" on port {port}" if port else ""))
            fixes_out = [fix]
            label_fix = _namespace_label_fix(bundle, policy, direction, port, names_of(healthy[0]))
            if label_fix is not None:
                fixes_out.insert(0, label_fix)
            spec_line = f"policyTypes: {_types(policy)}; podSelector: {json.dumps((policy.get('spec') or {}).get('podSelector') or {}, separators=(',', ':'))}"
            return Finding("network.policy", "network_error", 0.9,
                           f"NetworkPolicy {ref.name} drops {c.name}'s traffic to {dep.host}",
                           f"{c.name} cannot reach {dep.host}{f':{port}' if port else ''} (\"{hit.line.strip()[:200]}\") although "
                           f"{healthy[0].ref.name} is Ready: NetworkPolicy {ref.namespace}/{ref.name} selects "
                           f"{'the crashing pod and allows no egress' if direction == 'Egress' else healthy[0].ref.name + ' and allows no ingress'} "
                           "to that destination, so the packets are dropped and the connection times out.",
                           ref, [ev("logs", bundle.target.ref, hit.line), ev("related", ref, spec_line),
                                 ev("status", healthy[0].ref, "Ready=True")], fixes_out, c.name)
    return None


def names_of(pod: PodView) -> dict[int, str]:
    return {p.get("containerPort"): p.get("name") for c in pod.containers for p in c.spec.get("ports") or []}


def _namespace_label_fix(bundle: Bundle, policy: dict, direction: str, port: int | None, names: dict[int, str]) -> Fix | None:
    """An ingress rule meant for this port whose namespaceSelector the source namespace's labels miss."""
    if direction != "Ingress":
        return None
    source_labels = _ns_labels(bundle.namespace, bundle)
    for rule in (policy.get("spec") or {}).get("ingress") or []:
        if not rule.get("ports") or not _port_allows(rule.get("ports"), port, names):
            continue
        for peer in rule.get("from") or []:
            wanted = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
            missing = {k: v for k, v in wanted.items() if source_labels.get(k) != v}
            if missing and not (peer.get("podSelector") and selector_matches(peer["podSelector"], (bundle.target.raw.get("metadata") or {}).get("labels") or {}) is False):
                labels = [f"{k}={v}" for k, v in sorted(missing.items())]
                return Fix(command=shlex.join(["kubectl", "label", "namespace", bundle.namespace, *labels]),
                           explanation=f"give namespace {bundle.namespace} the label(s) the policy's namespaceSelector expects ({', '.join(labels)})")
    return None


def _stable(labels: dict[str, str]) -> dict[str, str]:
    return {k: labels[k] for k in sorted(labels) if k not in ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name")}


def _dest_port(dep: Dependency, pod: PodView) -> int | None:
    svc = dep.service or {}
    for p in (svc.get("spec") or {}).get("ports") or []:
        if dep.port in (None, p.get("port")):
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, int):
                return target
            return next((cp.get("containerPort") for c in pod.containers for cp in c.spec.get("ports") or [] if cp.get("name") == target), None)
    return dep.port


def mesh_of(bundle: Bundle) -> tuple[str, Container] | None:
    for c in sorted(bundle.target.containers, key=lambda x: x.init and x.spec.get("restartPolicy") != "Always"):
        for mesh, marks in MESH.items():
            if c.name in marks or any(m in c.image for m in marks):
                return mesh, c
    return None


def sidecar_rule(bundle: Bundle, c: Container, hits: list[Hit]) -> Finding | None:
    """The app starts before the mesh proxy is ready, and its first connections are refused."""
    mesh = mesh_of(bundle)
    if mesh is None or mesh[1] is c:
        return None
    kind, proxy = mesh
    end = c.ending
    early = end is not None and end.started and end.finished and (end.finished - end.started).total_seconds() <= 60
    refused = [h for h in hits if _REFUSED.search(h.line)]
    healthy = all(p.ready for d in bundle.dependencies for p in d.pods) if bundle.dependencies else True
    if not (refused and early and healthy):
        return None
    hit = refused[-1]
    workload = bundle.target.workload
    if kind == "istio":
        body = {"spec": {"template": {"metadata": {"annotations": {"proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}'}}}}}
        what = "holdApplicationUntilProxyStarts"
    else:
        body = {"spec": {"template": {"metadata": {"annotations": {"config.linkerd.io/proxy-await": "enabled"}}}}}
        what = "proxy-await"
    fix = Fix(command=shlex.join(["kubectl", "-n", bundle.namespace, "patch", fixes.target_of(workload), "-p", json.dumps(body, separators=(",", ":"))]),
              explanation=f"start {c.name} only once {proxy.name} is ready ({kind} {what})")
    seconds = int((end.finished - end.started).total_seconds())
    return Finding("network.sidecar", "network_error", 0.86,
                   f"{c.name} connects before the {kind} sidecar {proxy.name} is ready, and its connections are refused",
                   f"{c.name} fails {seconds}s after start with \"{hit.line.strip()[:200]}\" while its dependencies are healthy: "
                   f"all its traffic goes through the {kind} proxy {proxy.name}, which was not ready yet, so the first connections are refused.",
                   workload, [ev("logs", bundle.target.ref, hit.line), ev("spec", bundle.target.ref, f"containers[{proxy.name}].image: {proxy.image}")],
                   [fix], c.name, ["Or retry connections at start-up instead of exiting."])


_LOCAL = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]|::1)(?::|\s+port\s+)(\d{2,5})\b", re.I)
_ARG_PORT = re.compile(r"(?:--?(?:port|listen(?:-port)?|p)[=\s]|:|tcp:|port=)(\d{2,5})\b", re.I)


def _serves(other: Container, port: int) -> str | None:
    """How the other container says it serves the port: a declared containerPort or a port in its arguments."""
    for p in other.spec.get("ports") or []:
        if p.get("containerPort") == port:
            return f"containers[{other.name}].ports: containerPort {port}"
    for arg in [str(a) for a in (other.spec.get("command") or []) + (other.spec.get("args") or [])]:
        if any(int(m) == port for m in _ARG_PORT.findall(arg)):
            return f"containers[{other.name}].args: {arg}"
    return None


def local_sidecar_rule(bundle: Bundle, c: Container, hits: list[Hit]) -> Finding | None:
    """The app connects to localhost:PORT, served by another container of the same pod that was not ready yet:
    ordinary containers start together, nothing makes the app wait for its sidecar."""
    for hit in reversed([h for h in hits if _REFUSED.search(h.line)]):
        m = _LOCAL.search(hit.line)
        if not m:
            continue
        port = int(m.group(1))
        others = [x for x in bundle.target.containers if x is not c and not (x.init and x.spec.get("restartPolicy") != "Always")]
        for sidecar in others:
            how = _serves(sidecar, port)
            if how is None:
                continue
            workload, pod = bundle.target.workload, bundle.target.ref
            evidence = [ev("logs", pod, hit.line), ev("spec", pod, how)]
            ready = [line for line in (sidecar.current_log.lines if sidecar.current_log else []) if str(port) in line.text]
            evidence += [ev("logs", pod, ready[0].text)] if ready else []
            fix = []
            if not sidecar.init and workload.kind in fixes.PATCHABLE:
                index = [x.name for x in bundle.target.containers if not x.init].index(sidecar.name)
                native = {**sidecar.spec, "restartPolicy": "Always"}
                has_init = bool(bundle.target.spec.get("initContainers"))
                ops = [{"op": "add", "path": "/initContainers/0" if has_init else "/initContainers", "value": native if has_init else [native]},
                       {"op": "remove", "path": f"/containers/{index}"}]
                fix.append(fixes.patch_json(workload, ops, f"run {sidecar.name} as a native sidecar (an init container with restartPolicy: "
                                                           f"Always, Kubernetes 1.29+), so {c.name} starts only after it has started"))
            if workload.kind in fixes.PATCHABLE:
                fix.append(fixes.inspect(workload, "edit", fixes.target_of(workload),
                                         explanation=f"or make {c.name} wait for (or retry) 127.0.0.1:{port} before giving up"))
            return Finding("network.local-sidecar", "dependency_unavailable", 0.88,
                           f"{c.name} connects to its sidecar {sidecar.name} on localhost:{port} before the sidecar is ready",
                           f"{c.name} connects to 127.0.0.1:{port} and is refused (\"{hit.line.strip()[:200]}\"). That port is served by "
                           f"{sidecar.name}, another container of the same pod; containers start together and nothing makes {c.name} wait "
                           f"for {sidecar.name}, so it gives up before the sidecar listens and exits.", workload, evidence, fix, c.name,
                           [f"Make {c.name} retry its connection with backoff at start-up."])
    return None


def network_findings(bundle: Bundle, c: Container) -> list[Finding]:
    log = crash_log(c)
    hits = log.hits if log else []
    return [f for f in (policy_rule(bundle, c, hits), sidecar_rule(bundle, c, hits), local_sidecar_rule(bundle, c, hits)) if f]
