"""Rules over the failing container itself: reasons, exit codes, probes, config refs, logs."""

from __future__ import annotations

import re

from copilot import fixes
from copilot.bundle import Bundle, Container, Event, Ref, iso
from copilot.rules import resource_use
from copilot.rules.findings import Finding, ev
from copilot.rules.logrules import crash_log, decisive_hit, heap_evidence, log_finding, revision
from copilot.rules.tables import EXIT_CODES, REASONS, START_FAILURES

_CONFIG_MSG = re.compile(
    r"(?:(?P<kind>secret|configmap|config map) \"(?P<name>[^\"]+)\" not found)"
    r"|(?:couldn't find key (?P<key>\S+) in (?P<kind2>Secret|ConfigMap) (?:(?P<ns>[^/\s]+)/)?(?P<name2>\S+))", re.I)


def _resource(bundle: Bundle) -> Ref:
    return bundle.target.ref


def _events(bundle: Bundle, c: Container, *reasons: str) -> list[Event]:
    return [e for e in bundle.target.events if e.reason in reasons and e.container in (c.name, None)]


def reason_rule(bundle: Bundle, c: Container) -> Finding | None:
    """Waiting and terminated reasons that decide the category by themselves."""
    pod, workload = _resource(bundle), bundle.target.workload
    reason = c.waiting_reason if c.waiting_reason in REASONS or c.waiting_reason.endswith("Error") else ""
    end = c.ending
    if not reason and end is not None and end.reason in REASONS:
        reason = end.reason
    if not reason or reason in ("Completed",):
        return None
    verdict = REASONS.get(reason)
    message = c.waiting_message if reason == c.waiting_reason else (end.message if end else "")
    line = c.waiting_line() if reason == c.waiting_reason else c.termination_line()
    evidence = [ev("status", pod, line)] if line else []
    if reason == "OOMKilled":
        return _oom(bundle, c, evidence)
    if reason == "CreateContainerConfigError":
        return _config_error(bundle, c, message, evidence)
    if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"):
        failed = [e for e in _events(bundle, c, "Failed") if "image" in e.message.lower()]
        failed.sort(key=lambda e: (e.message.startswith("Failed to pull"), e.last or e.first or bundle.now))
        evidence += [ev("events", pod, e.message) for e in failed[-1:]]
        detail = failed[-1].message if failed else message
        return _image_pull(bundle, c, reason, detail.strip() or verdict.meaning, evidence, verdict.strength)
    for pattern, start in START_FAILURES:
        if message and re.search(pattern, message, re.I):
            verdict = start
            break
    if verdict is None:
        return None
    culprit = workload
    if revision(bundle, workload) > 1:
        fix = [fixes.rollout_undo(workload)]
    else:
        fix = [fixes.inspect(workload, "edit", fixes.target_of(workload), explanation=f"correct {c.name}'s command, image or security context")]
    return Finding(f"reason.{reason}", verdict.category, verdict.strength,
                   f"{c.name} cannot start: {verdict.meaning} ({reason})",
                   f"The container runtime reported {reason}: {message.strip() or verdict.meaning}.",
                   culprit, evidence, fix, c.name)


_PULL_AUTH = re.compile(r"pull access denied|unauthorized|authentication required|no basic auth credentials|"
                        r"requested access to the resource is denied|\b40[13]\b|denied:", re.I)
_PULL_MISSING = re.compile(r"manifest unknown|manifest for \S+ not found|not found: manifest|: not found|NotFound", re.I)


def _registry(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _image_pull(bundle: Bundle, c: Container, reason: str, detail: str, evidence: list, strength: float) -> Finding:
    """Why the image cannot be pulled decides the fix: credentials, a tag that does not exist, or the name."""
    workload, ns = bundle.target.workload, bundle.namespace
    summary = f"{c.name} cannot start: image {c.image} cannot be pulled ({reason})"
    cause = f"The kubelet could not pull {c.image}: {detail}. The container never started, so there are no logs."
    pull_secrets = [r for r in bundle.config_refs if r.via == "imagePullSecret"]
    fix = [fixes.set_image(workload, c.name, c.image.rsplit(":", 1)[0] + ":<tag>")]
    recs = ["Check the tag exists in the registry and that imagePullSecrets grant access."]
    if _PULL_AUTH.search(detail) and not _PULL_MISSING.search(detail.replace("repository does not exist", "")):
        missing = [r for r in pull_secrets if r.exists is False]
        registry = _registry(c.image)
        create = fixes.create_pull_secret(ns, missing[0].name if missing else f"{workload.name}-registry", registry)
        if missing:
            secret = Ref("Secret", ns, missing[0].name)
            return Finding("reason.image-pull-secret-missing", "image_error", 0.95, f"{c.name} cannot pull {c.image}: imagePullSecret {secret.name} does not exist",
                           f"{cause} The pod pulls with imagePullSecret {secret.name}, which does not exist in namespace {ns}, so the registry "
                           f"refuses the anonymous pull.", secret, evidence, [create], c.name)
        if pull_secrets:
            names = ", ".join(r.name for r in pull_secrets)
            cause += f" The registry refuses the credentials in imagePullSecret {names}, or the repository name is wrong."
            fix = [fixes.inspect(Ref("Secret", ns, pull_secrets[0].name), "get", "secret", pull_secrets[0].name, "-o", "yaml",
                                 explanation="check which registry the pull secret is for"), create]
        else:
            cause += (f" The registry refuses the pull and the pod has no imagePullSecrets: {registry} needs credentials for this "
                      "repository (or the repository name is wrong).")
            patch = fixes.patch_json(workload, [{"op": "add", "path": "/imagePullSecrets", "value": [{"name": f"{workload.name}-registry"}]}],
                                     "let the pod pull with those credentials")
            fix = [create, patch] if workload.kind in fixes.PATCHABLE else [create]
        summary = f"{c.name} cannot pull {c.image}: the registry requires credentials ({reason})"
        recs = ["Or attach the pull secret to the ServiceAccount, so every pod using it can pull."]
    elif _PULL_MISSING.search(detail):
        cause += f" The tag {c.image.rsplit(':', 1)[-1] if ':' in c.image.split('/')[-1] else 'latest'} does not exist in the repository."
    return Finding("reason.image", "image_error", strength, summary, cause, workload, evidence, fix, c.name, recs)


def _oom(bundle: Bundle, c: Container, evidence: list) -> Finding:
    end, workload = c.ending, bundle.target.workload
    limit = c.limits.get("memory")
    at = f" at {iso(end.finished)}" if end and end.finished else ""
    cause = (f"Container {c.name} used more memory than its limit ({limit or 'no limit: the node ran out'}) and was "
             f"OOMKilled{at} (exit code 137); Kubernetes restarted it and it keeps running out of memory.")
    cause += resource_use.memory_clause(c)
    moments = [(end.finished, str(bundle.target.ref), f"{c.name} OOMKilled (exit 137)")] if end and end.finished else []
    moments += resource_use.memory_moments(bundle.target.ref, c)
    fix = [fixes.set_memory(workload, c, resource_use.observed_peak(c))] if workload.kind in fixes.PATCHABLE else []
    evidence = evidence + resource_use.memory_evidence(bundle.target.ref, c) + heap_evidence(bundle, c)
    advice = resource_use.memory_advice(c) or ["If usage grows steadily, look for a leak before raising the limit again."]
    return Finding("reason.OOMKilled", "oom_killed", 0.95, f"{c.name} is OOMKilled: memory limit {limit or 'unset'} is too low",
                   cause, workload, evidence, fix, c.name, advice, moments)


def _config_error(bundle: Bundle, c: Container, message: str, evidence: list) -> Finding:
    ns, workload = bundle.namespace, bundle.target.workload
    found = _CONFIG_MSG.search(message or "")
    failed = [e for e in _events(bundle, c, "Failed") if _CONFIG_MSG.search(e.message)]
    if not found and failed:
        found = _CONFIG_MSG.search(failed[-1].message)
    evidence += [ev("events", bundle.target.ref, failed[-1].message)] if failed else []
    missing = [r for r in bundle.config_refs if r.exists is False or r.key_exists is False]
    if found:
        kind = (found.group("kind") or found.group("kind2") or "").lower().replace(" ", "")
        kind = "Secret" if kind == "secret" else "ConfigMap"
        name, key = found.group("name") or found.group("name2"), found.group("key")
    elif missing:
        kind, name, key = missing[0].kind, missing[0].name, missing[0].key if missing[0].exists else None
    else:
        return Finding("reason.CreateContainerConfigError", "missing_config_object", 0.6,
                       f"{c.name} cannot start: its configuration refers to something missing",
                       f"The kubelet reported CreateContainerConfigError: {message}", workload, evidence, [], c.name)
    culprit = Ref(kind, ns, name)
    exists = next((r.exists for r in bundle.config_refs if r.kind == kind and r.name == name), None)
    keys = sorted({r.key for r in bundle.config_refs if r.kind == kind and r.name == name and r.key})
    if key and exists is not False:
        fix = [fixes.add_key(kind, ns, name, key)]
        what = f"key {key} is missing from {kind} {name}"
    else:
        fix = [(fixes.create_secret if kind == "Secret" else fixes.create_configmap)(ns, name, keys)]
        what = f"{kind} {name} does not exist in namespace {ns}"
    refs = ", ".join(sorted({r.via for r in bundle.config_refs if r.name == name})) or "the pod spec"
    return Finding("reason.CreateContainerConfigError", "missing_config_object", 0.95,
                   f"{c.name} cannot start: {what} (CreateContainerConfigError)",
                   f"The pod references {kind} {name} ({refs}) but {what}, so the kubelet cannot create the container "
                   "(CreateContainerConfigError). It never started, so there are no logs.",
                   culprit, evidence, fix, c.name,
                   [f"If the reference is optional, mark it optional: true in {workload.short}."])


def probe_rule(bundle: Bundle, c: Container) -> Finding | None:
    """A liveness or startup probe killed the container."""
    killing = [e for e in _events(bundle, c, "Killing") if re.search(r"failed (liveness|startup) probe", e.message, re.I)]
    unhealthy = [e for e in _events(bundle, c, "Unhealthy") if re.search(r"^(Liveness|Startup) probe", e.message)]
    if not killing and not unhealthy:
        return None
    end = c.ending
    if end is not None and end.reason == "OOMKilled":
        return None
    pod, workload = _resource(bundle), bundle.target.workload
    kind = "startup" if any("startup" in e.message.lower() for e in killing + unhealthy) else "liveness"
    probe = c.spec.get(f"{kind}Probe") or {}
    message = (unhealthy or killing)[-1].message
    evidence = [ev("events", pod, e.message) for e in (unhealthy[-1:] + killing[-1:])]
    if end is not None:
        evidence.insert(0, ev("status", pod, c.termination_line()))
    killed_by_signal = end is not None and end.exit_code in (137, 143, 0, 2, None)
    hit = decisive_hit(c)
    strength = 0.85 if killing and killed_by_signal else 0.6
    if hit is not None and hit.signature.fatal and hit.signature.strength >= 0.7:
        strength -= 0.3  # the app died of its own error; the probe only saw it
    index = [x.name for x in bundle.target.containers if x.init == c.init].index(c.name)
    port = _probe_port(probe)
    ports = {p.get("containerPort") for p in c.spec.get("ports") or []}
    cpu = fixes.cpu_millis(c.limits.get("cpu"))
    timeout = re.search(r"timeout|deadline exceeded|timed out", message, re.I)
    if cpu is not None and (cpu <= 250 or resource_use.throttled(c)):
        evidence.append(ev("spec", pod, f"containers[{c.name}].resources.limits.cpu: {c.limits.get('cpu')}"))
        evidence += resource_use.throttling_evidence(pod, c)
        slow = "does not answer in time" if timeout else "is still starting"
        return Finding("probe.cpu", "cpu_starvation", strength,
                       f"{c.name} is killed by its {kind} probe: with a CPU limit of {c.limits.get('cpu')} it is throttled and {slow}",
                       f"Container {c.name} has a CPU limit of {c.limits.get('cpu')}; throttled by the CFS quota, its start-up is so slow "
                       f"that it {slow} when the {kind} probe ({_probe_desc(probe)}) gives up; the kubelet kills it and it restarts."
                       + (f" Up to {c.throttling.max_ratio:.0%} of its CPU periods were throttled." if c.throttling else ""),
                       workload, evidence, [fixes.set_cpu(workload, c)], c.name,
                       ["Check CPU throttling (container_cpu_cfs_throttled_periods_total) during start-up."])
    numeric = {p.get("name"): p.get("containerPort") for p in c.spec.get("ports") or []}.get(port, port) if isinstance(port, str) else port
    listening = listening_ports(crash_log(c))
    wrong_declared = isinstance(numeric, int) and ports and numeric not in ports
    wrong_listening = isinstance(numeric, int) and listening and numeric not in listening
    if port is not None and (wrong_declared or wrong_listening or isinstance(numeric, str)):
        target_port = (sorted(listening) or sorted(p for p in ports if p) or [None])[0]
        what = f"the app logs that it listens on {sorted(listening)}" if wrong_listening else f"the container declares {sorted(p for p in ports if p)}"
        fix = [fixes.patch_json(workload, [{"op": "replace", "path": f"/{'initContainers' if c.init else 'containers'}/{index}/{kind}Probe/{_probe_kind(probe)}/port", "value": target_port}],
                                f"point the {kind} probe at port {target_port}, the port the app listens on")] if target_port else []
        if wrong_listening:
            evidence.append(ev("logs", pod, listening[numeric_listen_key(listening)]))
        return Finding("probe.port", "probe_failure", min(0.95, strength + 0.08),
                       f"{c.name} is killed by its {kind} probe, which checks port {port}{f' ({numeric})' if numeric != port else ''} where nothing listens",
                       f"The {kind} probe checks port {port}{f' ({numeric})' if numeric != port else ''} but {what}; every probe "
                       "fails, the kubelet kills the container and it restarts.", workload, evidence, fix, c.name)
    log = crash_log(c)
    last = [line.text for line in (log.lines[-2:] if log else []) if line.text.strip()]
    evidence += [ev("logs", pod, "\n".join(last))] if last else []
    answered = re.search(r"statuscode: (40[134])", message)
    if answered and "httpGet" in probe:
        path = probe["httpGet"].get("path", "/")
        meaning = "does not exist" if answered.group(1) == "404" else "requires authentication"
        return Finding("probe.path", "probe_failure", min(0.95, strength + 0.08),
                       f"{c.name} is killed by its {kind} probe: GET {path} answers {answered.group(1)}",
                       f"The app is up and answering, but the {kind} probe's path {path} {meaning} (HTTP {answered.group(1)}); "
                       f"every probe fails, the kubelet kills the container (exit {end.exit_code if end else '?'}) and it restarts. "
                       "Waiting longer will not help.", workload, evidence,
                       [fixes.inspect(workload, "edit", fixes.target_of(workload),
                                      explanation=f"point the {kind} probe at a path that answers 200 (or use a tcpSocket probe)")], c.name,
                       ["Check which health endpoint this image serves (e.g. curl the pod's port from a debug pod)."])
    delay = probe.get("initialDelaySeconds", 0)
    budget = delay + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
    fix = [fixes.patch_json(workload, [{"op": "add", "path": f"/{'initContainers' if c.init else 'containers'}/{index}/{kind}Probe/initialDelaySeconds", "value": max(60, delay * 3)},
                                       {"op": "add", "path": f"/{'initContainers' if c.init else 'containers'}/{index}/{kind}Probe/failureThreshold", "value": max(6, probe.get("failureThreshold", 3) * 2)}],
                            f"give {c.name} time to start before the {kind} probe can kill it")]
    return Finding("probe.kill", "probe_failure", strength,
                   f"{c.name} is killed by its {kind} probe before it becomes healthy",
                   f"The {kind} probe ({_probe_desc(probe)}) fails: {message}. After about {budget}s of failures the kubelet kills "
                   f"the container (exit {end.exit_code if end else '?'}, not OOMKilled) and restarts it.",
                   workload, evidence, fix, c.name,
                   ["Use a startupProbe for slow starts instead of a long initialDelaySeconds on the liveness probe."])


_LISTEN = re.compile(r"(?:listen(?:ing)?|serving|started|bound|running)\b.{0,60}?(?:port[ =:]*|:)(\d{2,5})\b", re.I)


def listening_ports(log) -> dict[int, str]:
    """Ports the app says it listens on, with the line that says so."""
    found: dict[int, str] = {}
    for line in (log.lines if log else []):
        for m in _LISTEN.finditer(line.text):
            port = int(m.group(1))
            loopback = re.search(rf"(?:127\.0\.0\.1|localhost|\[::1\]):{port}\b", line.text)
            if 0 < port < 65536 and "refused" not in line.text.lower() and not loopback:  # loopback is not reachable by a probe
                found.setdefault(port, line.text)
    return found


def numeric_listen_key(listening: dict[int, str]) -> int:
    return sorted(listening)[0]


def _probe_kind(probe: dict) -> str:
    return next((k for k in ("httpGet", "tcpSocket", "grpc", "exec") if k in probe), "httpGet")


def _probe_port(probe: dict) -> int | str | None:
    return (probe.get(_probe_kind(probe)) or {}).get("port")


def _probe_desc(probe: dict) -> str:
    kind = _probe_kind(probe)
    body = probe.get(kind) or {}
    what = {"httpGet": f"GET {body.get('path', '/')} on port {body.get('port')}", "tcpSocket": f"TCP port {body.get('port')}",
            "grpc": f"gRPC port {body.get('port')}", "exec": " ".join(map(str, body.get("command") or []))}[kind]
    return f"{what}, initialDelaySeconds={probe.get('initialDelaySeconds', 0)}, periodSeconds={probe.get('periodSeconds', 10)}, failureThreshold={probe.get('failureThreshold', 3)}"


_DAEMON = re.compile(r"--daemonize(?:=|\s+)(?:yes|true)\b|\bdaemonize\s+yes\b|\bdaemon\s+on;?|--daemon\b|\bnohup\b", re.I)
_FOREGROUND = {"daemonize": "--daemonize no", "daemon": "daemon off;"}


def _daemonizing(c: Container) -> tuple[str, int, str, str] | None:
    """(field, index, argument, the daemonizing words) when the command forks the server into the background."""
    for field in ("command", "args"):
        for i, arg in enumerate(c.spec.get(field) or []):
            m = _DAEMON.search(str(arg))
            if m:
                return field, i, str(arg), m.group(0)
    return None


def exit_code_rule(bundle: Bundle, c: Container) -> Finding | None:
    """What the exit code alone says; weak unless nothing else speaks."""
    end = c.ending
    if end is None or end.exit_code is None:
        return None
    pod, workload = _resource(bundle), bundle.target.workload
    code = end.exit_code
    verdict = EXIT_CODES.get(code) or (EXIT_CODES[1] if code < 128 else EXIT_CODES[137]._replace(meaning=f"killed by signal {code - 128}"))
    evidence = [ev("status", pod, c.termination_line())]
    restart_policy = bundle.target.spec.get("restartPolicy", "Always")
    if code == 0:
        if restart_policy != "Always" or c.init:
            return None
        kind = workload.kind
        log = crash_log(c)
        if log is not None:
            last = [line.text for line in log.lines[-3:] if line.text.strip()]
            evidence += [ev("logs", pod, "\n".join(last))] if last else []
        command = [str(x) for x in (c.spec.get("command") or []) + (c.spec.get("args") or [])]
        cause = (f"The process in {c.name} finishes successfully (exit code 0) and exits; the {kind}'s restartPolicy Always restarts it, "
                 "and the repeated exits put it in CrashLoopBackOff.")
        fix = []
        daemon = _daemonizing(c)
        if daemon is not None:
            field, i, arg, match = daemon
            evidence.append(ev("spec", pod, f"containers[{c.name}].{field}[{i}]: {arg}"))
            cause += (f" Its command starts the server in the background (\"{match}\"): the foreground process returns at once, "
                      "so the container exits while the daemon it forked dies with it.")
            foreground = _FOREGROUND.get(match.split()[0].lower().lstrip("-"), None)
            if foreground and kind in fixes.PATCHABLE:
                index = [x.name for x in bundle.target.containers if x.init == c.init].index(c.name)
                fix.append(fixes.patch_json(workload, [{"op": "replace", "path": fixes.container_path(index, c.init, f"{field}/{i}"),
                                                        "value": arg.replace(match, foreground)}],
                                            f"run the server in the foreground ({foreground})"))
        elif not command:
            cause += f" It sets no command, so the image's default one ({c.image}) runs and returns; a long-lived container needs a foreground command."
        else:
            cause += " A run-to-completion task belongs in a Job or CronJob; a service's command must keep a foreground process running."
        if kind in fixes.PATCHABLE:
            fix.append(fixes.inspect(workload, "edit", fixes.target_of(workload),
                                     explanation=f"give {c.name} a command that stays in the foreground"))
        if kind in ("Deployment", "StatefulSet") and daemon is None:
            fix += [fixes.create_cronjob(workload, c, command), fixes.scale(workload, 0)]
        return Finding("exit.0", "completed_exit_zero", 0.75, f"{c.name} exits 0 (Completed) but restartPolicy is Always",
                       cause, workload, evidence, fix, c.name)
    if code == 137 and end.reason != "OOMKilled":
        oom_events = [e for e in bundle.events if e.reason in ("OOMKilling", "SystemOOM") and c.name in e.message]
        if oom_events:
            evidence.append(ev("events", oom_events[-1].object, oom_events[-1].message))
            return _oom(bundle, c, evidence)
    category = verdict.category
    cause = f"{c.name} terminated with exit code {code}: {verdict.meaning}."
    return Finding(f"exit.{code}", category, verdict.strength, f"{c.name} exits with code {code} ({verdict.meaning})",
                   cause, workload, evidence, [], c.name)


def node_rule(bundle: Bundle) -> Finding | None:
    """Eviction and node conditions."""
    status = bundle.target.raw.get("status") or {}
    node = bundle.node or {}
    node_name = bundle.target.spec.get("nodeName")
    bad = [cond for cond in (node.get("status") or {}).get("conditions") or []
           if (cond.get("type") == "Ready" and cond.get("status") != "True")
           or (cond.get("type") in ("MemoryPressure", "DiskPressure", "PIDPressure") and cond.get("status") == "True")]
    system_oom = [e for e in bundle.events if e.reason == "SystemOOM" and e.object.kind == "Node" and e.object.name == node_name]
    oom_killed = [c for c in bundle.target.containers if c.ending is not None and c.ending.reason == "OOMKilled"]
    pressure = [cond for cond in bad if cond.get("type") == "MemoryPressure"]
    if status.get("reason") != "Evicted" and not bad and not (system_oom and oom_killed):
        return None
    ref = Ref("Node", None, node_name or "?")
    evidence = []
    if status.get("reason") == "Evicted":
        evidence.append(ev("status", bundle.target.ref, f"status.reason: Evicted message={status.get('message', '')}"))
    evidence += [ev("status", ref, f"{c.get('type')}={c.get('status')} {c.get('reason', '')} {c.get('message', '')}".strip()) for c in bad]
    evidence += [ev("events", e.object, e.message) for e in system_oom[-1:]]
    what = ", ".join(f"{c.get('type')}={c.get('status')}" for c in bad) or ("SystemOOM" if system_oom else "pressure")
    fix = [fixes.inspect(ref, "describe", f"node/{ref.name}", explanation="see the node's conditions, allocations and recent events"),
           fixes.inspect(ref, "cordon", ref.name, explanation="stop scheduling new pods on the node while it is fixed")]
    if oom_killed and (pressure or system_oom):
        c = oom_killed[0]
        healthy = [p.ref.name for p in bundle.siblings if p.spec.get("nodeName") != node_name and p.ready]
        if healthy:
            evidence.append(ev("related", bundle.target.workload, f"replicas on other nodes are healthy: {', '.join(healthy[:3])}"))
        return Finding("node.system-oom", "node_issue", 0.96, f"node {ref.name} ran out of memory ({what}) and the kernel killed {c.name}",
                       f"Node {ref.name} is under memory pressure ({what}); the kernel's system OOM killer and the kubelet kill or evict "
                       f"pods there, {c.name} among them (OOMKilled although its own limit is {c.limits.get('memory', 'unset')})."
                       + (" Replicas on other nodes run fine." if healthy else ""), ref, evidence, fix, c.name,
                       ["Find what fills the node's memory (kubectl top pods -A --sort-by=memory) and set requests that match real usage."])
    return Finding("node.condition", "node_issue", 0.85 if status.get("reason") == "Evicted" else 0.55,
                   f"node {ref.name} is unhealthy ({what})",
                   f"The pod runs on node {ref.name}, which reports {what}; the kubelet evicts or kills pods there.",
                   ref, evidence, fix)


def container_findings(bundle: Bundle, c: Container) -> list[Finding]:
    out = [f for f in (reason_rule(bundle, c), probe_rule(bundle, c), exit_code_rule(bundle, c), log_finding(bundle, c)) if f]
    return out
