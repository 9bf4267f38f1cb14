"""Cross-resource rules: the crash is caused by a dependency the target talks to."""

from __future__ import annotations

import difflib
from datetime import timedelta

from copilot import fixes
from copilot.bundle import CLUSTER_DNS, Bundle, Container, Dependency, PodView, Ref, iso
from copilot.rules import resource_use
from copilot.rules.findings import Finding, ev
from copilot.rules.logrules import crash_log, decisive_hit
from copilot.rules.signatures import Hit

DEPENDENCY_CATEGORIES = ("dependency_unavailable", "network_error")
WINDOW = timedelta(minutes=30)


def _dependency_hits(c: Container) -> list[Hit]:
    log = crash_log(c)
    return [h for h in (log.hits if log else []) if h.signature.category in DEPENDENCY_CATEGORIES]


def _matches(dep: Dependency, hit: Hit) -> bool:
    host, port = (hit.groups.get("host") or "").lower(), hit.groups.get("port")
    svc = dep.service or {}
    names = {dep.host, dep.host.split(".")[0], (svc.get("spec") or {}).get("clusterIP", "")}
    if host and (host in names or host.split(".")[0] in names):
        return True
    ports = {str(p.get("port")) for p in (svc.get("spec") or {}).get("ports") or []} | {str(dep.port)}
    return bool(port) and port in ports and not host


def _trouble(pod: PodView, crash_time) -> list[str]:
    """What is wrong with a dependency pod around the crash, as quotable facts."""
    facts = []
    for c in pod.containers:
        end = c.last or c.terminated
        if end is not None and (crash_time is None or end.finished is None or end.finished >= crash_time - WINDOW):
            if end.reason == "OOMKilled" or end.exit_code not in (0, None):
                facts.append(c.termination_line())
        if c.waiting_reason:
            facts.append(c.waiting_line())
    if not pod.ready:
        facts.append("Ready=False")
    return facts


def dependency_rule(bundle: Bundle, c: Container) -> Finding | None:
    hits = _dependency_hits(c)
    if not hits:
        return None
    end = c.ending
    crash_time = end.finished if end else None
    hit = decisive_hit(c)
    if hit is None or hit.signature.category not in DEPENDENCY_CATEGORIES:
        hit = hits[-1]
    candidates = [d for d in bundle.dependencies if any(_matches(d, h) for h in hits)] or bundle.dependencies
    dns = [d for d in bundle.dependencies if d.host == CLUSTER_DNS]
    if hit.signature.category == "network_error":
        candidates = dns + [d for d in candidates if d not in dns]
    for dep in candidates:
        finding = (_wrong_target_port(bundle, c, dep, hit) or _failed_backend(bundle, c, dep, hit, crash_time)
                   or _no_backend(bundle, c, dep, hit))
        if finding:
            return finding
    return _unresolvable(bundle, c, hit)


def _failed_backend(bundle, c, dep: Dependency, hit: Hit, crash_time) -> Finding | None:
    for pod in dep.pods:
        facts = _trouble(pod, crash_time)
        if not facts:
            continue
        workload = dep.workload or pod.workload
        dc = next((x for x in pod.containers if (x.last or x.terminated) is not None), pod.containers[0])
        dead = dc.last or dc.terminated
        oom = dead is not None and dead.reason == "OOMKilled"
        evidence = [ev("logs", bundle.target.ref, hit.line), ev("status", pod.ref, facts[0])]
        recovery = [h for h in ((dc.current_log.hits if dc.current_log else []) + (dc.previous_log.hits if dc.previous_log else []))
                    if h.signature.category == "dependency_unavailable"]
        evidence += [ev("related", pod.ref, h.line) for h in recovery[:2]]
        unready = [e for e in pod.events if e.reason in ("Unhealthy", "BackOff", "Killing", "OOMKilling")][-1:]
        evidence += [ev("events", pod.ref, e.message) for e in unready]
        evidence += [ev("events", e.object, e.message) for e in bundle.events if e.reason in ("OOMKilling", "SystemOOM") and pod.ref.name in e.message or (e.reason == "OOMKilling" and e.object.name == pod.spec.get("nodeName") and dc.name in e.message)][:1]
        moments = []
        if dead is not None and dead.finished:
            moments.append((dead.finished, str(pod.ref), f"{dc.name} {'OOMKilled' if oom else 'terminated'} (exit {dead.exit_code})"))
        if dc.running_since:
            moments.append((dc.running_since, str(pod.ref), f"{dc.name} restarted"))
        ready_at = next((cond.get("lastTransitionTime") for cond in (pod.raw.get("status") or {}).get("conditions") or []
                         if cond.get("type") == "Ready"), None)
        what_hit = hit.line.strip()[:200]
        culprit_note, culprit = "", workload
        if oom:
            limit = dc.limits.get("memory") or "its limit"
            chain = (f"{pod.ref.name} ({workload.short}) was OOMKilled at {iso(dead.finished)} (exit 137, memory limit {limit})."
                     f"{resource_use.memory_clause(dc)} It restarted{' at ' + iso(dc.running_since) if dc.running_since else ''} "
                     f"and was recovering and not accepting connections{' until ' + ready_at if ready_at and pod.ready else ''}. "
                     f"{c.name} connected to it during that window and failed (\"{what_hit}\"), exiting with code {crash_exit(c)}.")
            evidence[2:2] = resource_use.memory_evidence(pod.ref, dc)
            moments += resource_use.memory_moments(pod.ref, dc)
            fix = [fixes.set_memory(workload, dc, resource_use.observed_peak(dc))] if workload.kind in fixes.PATCHABLE else []
            summary = f"{workload.short} was OOMKilled and {c.name} crashes on connection refused while it recovers"
            recs = [f"Make {c.name} retry its connection with backoff instead of exiting while the database restarts."]
            recs += resource_use.memory_advice(dc) or [f"Watch {dc.name}'s memory: container_memory_working_set_bytes against its {limit} limit."]
        else:
            own = _own_cause(bundle, pod, dc)
            if own is not None:
                evidence += ([e for e in own.evidence if e.source == "logs"][:1] + [e for e in own.evidence if e.source in ("related", "spec")][:2])
                culprit_note = f" Its own cause: {own.summary}."
            last = [line.text for line in (dc.current_log.lines[-2:] if dc.current_log else []) if line.text.strip()]
            if last and not dc.waiting_reason:
                evidence.append(ev("related", pod.ref, "\n".join(last)))
            chain = (f"{pod.ref.name} ({workload.short}) is unhealthy ({'; '.join(facts[:2])}).{culprit_note} {c.name} depends on it "
                     f"({dep.mentioned_in}: {dep.host}) and fails (\"{what_hit}\"), exiting with code {crash_exit(c)}.")
            probe_failing = any(e.reason == "Unhealthy" for e in pod.events)
            fix = list(own.fixes) if own is not None else []
            if not fix and probe_failing and workload.kind in fixes.PATCHABLE:
                fix.append(fixes.inspect(workload, "edit", fixes.target_of(workload),
                                         explanation=f"review {dc.name}'s readiness probe and health: it has not become Ready"))
            fix.append(fixes.inspect(pod.ref, "describe", f"pod/{pod.ref.name}", explanation=f"see why {pod.ref.name} is not ready"))
            summary = f"{c.name} crashes because its dependency {workload.short} is not available"
            recs = [f"Make {c.name} retry its connection with backoff instead of exiting."]
            if own is not None and own.culprit != workload:
                culprit = own.culprit
                summary += f"; the fault is in {culprit.short}"
        if dep.host == CLUSTER_DNS:
            summary = f"{c.name} cannot resolve names: the cluster DNS ({workload.short}) is not serving"
            summary += f"; the fault is in {culprit.short}" if culprit != workload else ""
            chain = (f"Cluster DNS is down: {pod.ref.name} ({workload.short}) is unhealthy ({'; '.join(facts[:2])}).{culprit_note} "
                     f"{c.name} fails to resolve its dependencies (\"{what_hit}\") and exits with code {crash_exit(c)}.")
            recs = ["Every pod that resolves names is affected; fix DNS first, then the crash-looping pods recover on their own."]
        category = "network_error" if dep.host == CLUSTER_DNS else "dependency_unavailable"
        return Finding("correlate.dependency", category, 0.92 if oom else 0.85, summary, chain, culprit,
                       evidence, fix, c.name, recs, moments)
    return None


def _target_ports(svc: dict) -> list[tuple[int, int | str]]:
    return [(i, p.get("targetPort", p.get("port"))) for i, p in enumerate((svc.get("spec") or {}).get("ports") or [])]


def _wrong_target_port(bundle: Bundle, c: Container, dep: Dependency, hit: Hit) -> Finding | None:
    """The Service forwards to a port the backing pods do not listen on."""
    if dep.service is None or not dep.pods or dep.host == CLUSTER_DNS:
        return None
    declared = {p.get("containerPort"): p.get("name") for x in dep.pods[0].containers for p in x.spec.get("ports") or []}
    if not declared:
        return None
    names = {name for name in declared.values() if name}
    wrong = [(i, tp) for i, tp in _target_ports(dep.service) if (isinstance(tp, int) and tp not in declared)
             or (isinstance(tp, str) and not tp.isdigit() and tp not in names)]
    if not wrong:
        return None
    index, port = wrong[0]
    listening = sorted(p for p in declared if isinstance(p, int) and p)
    if not listening:  # the pods declare no numbered port: nothing to point the Service at
        return None
    svc_name = (dep.service.get("metadata") or {}).get("name", "")
    svc = Ref("Service", (dep.service.get("metadata") or {}).get("namespace") or bundle.namespace, svc_name)
    right = listening[0]
    pod = dep.pods[0]
    fix = fixes.patch_json_object(svc, [{"op": "replace", "path": f"/spec/ports/{index}/targetPort", "value": right}],
                                  f"send Service {svc_name}'s traffic to port {right}, where {pod.workload.short} listens")
    evidence = [ev("logs", bundle.target.ref, hit.line), ev("spec", svc, f"spec.ports[{index}].targetPort: {port}"),
                ev("related", pod.ref, f"containerPort: {right}")]
    return Finding("correlate.target-port", "dependency_unavailable", 0.9,
                   f"Service {svc_name} forwards to port {port}, but {pod.workload.short} listens on {right}",
                   f"{c.name} connects to {dep.host} and is refused (\"{hit.line.strip()[:200]}\"): Service {svc_name} sends traffic "
                   f"to targetPort {port}, where nothing listens; the pods behind it ({pod.workload.short}) declare port {right}.",
                   svc, evidence, [fix], c.name)


def _own_cause(bundle: Bundle, pod: PodView, dc: Container) -> Finding | None:
    """Diagnose the failing dependency with the same container rules: why is it down?"""
    from copilot.rules.container import container_findings

    if not dc.failing or (dc.previous_log is None and dc.current_log is None and not dc.waiting_reason):
        return None
    sub = Bundle(bundle.source, bundle.now, pod, [], None, [], bundle.objects, bundle.events)
    found = sorted((f for f in container_findings(sub, dc) if f.strength >= 0.8), key=lambda f: -f.strength)
    return found[0] if found else None


def crash_exit(c: Container) -> str:
    end = c.ending
    return str(end.exit_code) if end and end.exit_code is not None else "?"


def _no_backend(bundle, c, dep: Dependency, hit: Hit) -> Finding | None:
    if dep.service is None or dep.pods or dep.endpoints_ready not in (0, None):
        return None
    svc_name = (dep.service.get("metadata") or {}).get("name", "")
    workload = dep.workload
    evidence = [ev("logs", bundle.target.ref, hit.line)]
    if workload is not None:
        obj = next((o for o in bundle.objects.get(workload.kind, []) if (o.get("metadata") or {}).get("name") == workload.name), {})
        replicas = (obj.get("spec") or {}).get("replicas")
        evidence.append(ev("related", workload, f"spec.replicas: {replicas}"))
        fix = [fixes.scale(workload, 1)] if replicas == 0 else [fixes.inspect(workload, "describe", workload.short, explanation="see why it has no ready pods")]
        cause = (f"Service {svc_name} has no ready endpoints: {workload.short} has {replicas} replicas"
                 f"{' (scaled to zero)' if replicas == 0 else ' and none is ready'}. {c.name} connects to {dep.host} and fails (\"{hit.line.strip()[:200]}\").")
        return Finding("correlate.no-endpoints", "dependency_unavailable", 0.88, f"{c.name} crashes because {workload.short} has no running pods behind Service {svc_name}",
                       cause, workload, evidence, fix, c.name)
    ref = bundle.target.ref.__class__("Service", bundle.namespace, svc_name)
    return Finding("correlate.no-endpoints", "dependency_unavailable", 0.75, f"Service {svc_name} selects no pods",
                   f"Service {svc_name}'s selector matches no pods, so connections to {dep.host} are refused.", ref, evidence,
                   [fixes.inspect(ref, "get", "endpoints", svc_name, explanation="confirm the Service has no endpoints")], c.name)


def _unresolvable(bundle: Bundle, c: Container, hit: Hit) -> Finding | None:
    """DNS failure for a name that is not a Service in the namespace: the config names the wrong host."""
    host = (hit.groups.get("host") or "").lower()
    if hit.signature.category != "network_error" or not host:
        return None
    services = [(s.get("metadata") or {}).get("name", "") for s in bundle.objects.get("Service", [])]
    short = host.split(".")[0]
    if short in services:
        return None
    close = difflib.get_close_matches(short, services, n=1, cutoff=0.6)
    workload = bundle.target.workload
    var = next((e.get("name") for e in c.spec.get("env") or [] if isinstance(e.get("value"), str) and host in e["value"].lower()), None)
    fix = []
    if var and close:
        value = next(e["value"] for e in c.spec["env"] if e.get("name") == var)
        fix.append(fixes.set_env(workload, c.name, var, value.lower().replace(short, close[0], 1)))
    hint = f" The namespace has a Service named {close[0]}." if close else ""
    return Finding("correlate.dns", "network_error", 0.85, f"{c.name} cannot resolve {host}: no such Service",
                   f"{c.name} looks up {host} and DNS answers no such host; no Service of that name exists in {bundle.namespace}.{hint}",
                   workload, [ev("logs", bundle.target.ref, hit.line)], fix, c.name)
