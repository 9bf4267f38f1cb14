"""Dependencies of the target pod: hosts it names, resolved through Services to pods and workloads."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from copilot.bundle import CLUSTER_DNS, Bundle, Dependency, Event, Ref
from copilot.collector import Reader, config_refs, pod_view

MAX_DEPENDENCIES = 8
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^\s/@]*@)?(?P<host>[A-Za-z0-9_.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?")
_HOSTPORT = re.compile(r"(?<![\w./-])(?P<host>[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):(?P<port>\d{2,5})\b")
_SVC_DNS = re.compile(r"\b(?P<host>[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*\.svc(?:\.[a-z0-9.-]+)?)\b")
_HOST_VAR = re.compile(r"(HOST|ADDR|ADDRESS|URL|URI|DSN|ENDPOINT|SERVER|SERVICE)S?$", re.I)
_PORT_VAR = re.compile(r"PORT$", re.I)
_BARE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9-]+)*$")


def _hosts_in(text: str) -> list[tuple[str, int | None]]:
    found = []
    for rx in (_URL, _HOSTPORT, _SVC_DNS):
        for m in rx.finditer(text):
            port = m.groupdict().get("port")
            found.append((m.group("host").strip("[]").lower(), int(port) if port else None))
    return found


def candidate_hosts(bundle: Bundle) -> list[tuple[str, int | None, str]]:
    """(host, port, where it was named) from env, ConfigMap values, args and failing logs, in that order."""
    out: list[tuple[str, int | None, str]] = []
    configmaps = {(o.get("metadata") or {}).get("name"): o for o in bundle.objects.get("ConfigMap", [])}
    for c in bundle.target.containers:
        env_pairs: list[tuple[str, str]] = []
        for env in c.spec.get("env") or []:
            value = env.get("value")
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if value is None and ref:
                value = ((configmaps.get(ref.get("name")) or {}).get("data") or {}).get(ref.get("key"))
            if isinstance(value, str):
                env_pairs.append((env.get("name", ""), value))
        for src in c.spec.get("envFrom") or []:
            name = (src.get("configMapRef") or {}).get("name")
            env_pairs += list(((configmaps.get(name) or {}).get("data") or {}).items())
        ports = {k.rsplit("_", 1)[0].upper(): v for k, v in env_pairs if _PORT_VAR.search(k) and str(v).isdigit()}
        for key, value in env_pairs:
            hosts = _hosts_in(value)
            port = ports.get(re.sub(_HOST_VAR, "", key).rstrip("_").upper()) if _HOST_VAR.search(key) else None
            if not hosts and port is not None or not hosts and _HOST_VAR.search(key) and _BARE.match(value.strip().lower() or "-"):
                hosts = [(value.strip().lower(), None)]
            hosts = [(h, p if p is not None else (int(port) if port else None)) for h, p in hosts]
            out += [(h, p, f"env {key} of container {c.name}") for h, p in hosts]
        for arg in (c.spec.get("command") or []) + (c.spec.get("args") or []):
            out += [(h, p, f"args of container {c.name}") for h, p in _hosts_in(str(arg))]
        for log in (c.previous_log, c.current_log):
            for hit in (log.hits if log else []):
                host = hit.groups.get("host")
                if host:
                    port = hit.groups.get("port")
                    out.append((host.lower(), int(port) if port and port.isdigit() else None, f"log of container {c.name}"))
    dns_trouble = any(h.signature.category == "network_error" or h.groups.get("port") == "53"
                      for c in bundle.target.containers for log in (c.previous_log, c.current_log) for h in (log.hits if log else []))
    if dns_trouble:
        out.append((CLUSTER_DNS, 53, "cluster DNS (the log shows name-resolution errors)"))
    seen, unique = set(), []
    for host, port, where in out:
        if host in ("localhost", "127.0.0.1", "0.0.0.0", "::1") or (host, port) in seen or port == 53 and host != CLUSTER_DNS:
            continue
        seen.add((host, port))
        unique.append((host, port, where))
    return unique


def _service_key(host: str, namespace: str, namespaces: set[str]) -> tuple[str, str] | None:
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[1], parts[0]
    if len(parts) == 2 and parts[1] in namespaces:
        return parts[1], parts[0]
    if len(parts) == 1:
        return namespace, parts[0]
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _matches(template_labels: dict[str, str], selector: dict[str, str]) -> bool:
    return bool(selector) and all(template_labels.get(k) == v for k, v in selector.items())


def find_dependencies(reader: Reader, bundle: Bundle, events: list[Event]) -> list[Dependency]:
    namespace = bundle.namespace
    services_by_ns: dict[str, list[dict[str, Any]]] = {}

    def services(ns: str) -> list[dict[str, Any]]:
        if ns not in services_by_ns:
            services_by_ns[ns] = reader.list("Service", ns) or []
        return services_by_ns[ns]

    deps: list[Dependency] = []
    seen_services: set[tuple[str, str]] = set()
    known_namespaces = {namespace} | {(o.get("metadata") or {}).get("name") for o in reader.objects.get("Namespace", [])}
    for host, port, where in candidate_hosts(bundle):
        if len(deps) >= MAX_DEPENDENCIES:
            break
        dep = Dependency(host, port, where)
        if _is_ip(host):
            svc = next((s for s in services(namespace) if (s.get("spec") or {}).get("clusterIP") == host), None)
        else:
            key = _service_key(host, namespace, known_namespaces)
            svc = None
            if key:
                svc = next((s for s in services(key[0]) if (s.get("metadata") or {}).get("name") == key[1]), None)
        if svc is not None:
            meta = svc.get("metadata") or {}
            skey = (meta.get("namespace") or namespace, meta.get("name", ""))
            if skey in seen_services:
                continue
            seen_services.add(skey)
            dep.service = svc
            _resolve_backends(reader, dep, skey[0], events)
        elif _is_ip(host) or "." in host and not host.endswith((".svc", ".local")) and key is None:
            continue  # an external name or address: nothing in the cluster to correlate with
        deps.append(dep)
    return deps


def _resolve_backends(reader: Reader, dep: Dependency, namespace: str, events: list[Event]) -> None:
    svc = dep.service or {}
    name = (svc.get("metadata") or {}).get("name", "")
    selector = (svc.get("spec") or {}).get("selector") or {}
    endpoints = reader.get("Endpoints", namespace, name)
    if endpoints is not None:
        dep.endpoints_ready = sum(len(s.get("addresses") or []) for s in endpoints.get("subsets") or [])
    pods = reader.list("Pod", namespace, label_selector=_selector(selector)) if selector else []
    config_read: set[str] = set()
    for pod in (pods or [])[:5]:
        view = pod_view(reader, pod, events)
        for c in view.containers:
            if c.restart_count > 0 or not c.ready:
                c.previous_log = reader.log(namespace, view.ref.name, c.name, previous=True) if c.last else None
                c.current_log = reader.log(namespace, view.ref.name, c.name, previous=False) if c.state != "waiting" else None
        if any(c.failing for c in view.containers):
            # a failing dependency is diagnosed in turn: its ConfigMaps (never its Secrets) are part of that diagnosis
            for ref in config_refs(pod):
                if ref.kind == "ConfigMap" and ref.name not in config_read:
                    config_read.add(ref.name)
                    reader.get("ConfigMap", namespace, ref.name)
        dep.pods.append(view)
    if dep.pods:
        dep.workload = dep.pods[0].workload
    elif selector:
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            for obj in reader.list(kind, namespace) or []:
                labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
                if _matches(labels, selector):
                    dep.workload = Ref(kind, namespace, (obj.get("metadata") or {}).get("name", ""))
                    return


def network_policies(reader: Reader, bundle: Bundle) -> None:
    """NetworkPolicies of the target's namespace and its dependencies' namespaces (one list each)."""
    namespaces = {bundle.namespace} | {p.ref.namespace for d in bundle.dependencies for p in d.pods if p.ref.namespace}
    found = False
    for ns in sorted(namespaces):
        found |= bool(reader.list("NetworkPolicy", ns))
    if found:
        for ns in sorted(namespaces):
            reader.get("Namespace", None, ns)
