"""What the benchmark runs on, built in memory: a 5,000-pod cluster, a huge previous log, a scripted LLM answer.

Everything is deterministic (no clock, no randomness without a seed), so two runs measure the same work.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from copilot.incident import ContainerLogs, Incident, load_incident, parse_incident

NOW = "2026-03-02T10:30:00Z"
NAMESPACES = ["shop", "payments", "search", "platform"]

# The demo: its target container and the lines that decide its diagnosis.
DEMO_NS, DEMO_POD, DEMO_CONTAINER = "production", "payment-service-7d9f8b-xyz", "payment"
DEMO_CULPRIT = "StatefulSet/production/postgres"
DEMO_FATAL = "FATAL startup failed, exiting with status 1"
DEMO_REFUSED = ('2026-11-20T14:30:19.126Z ERROR could not connect to database: connection to server at '
                '"postgres.production.svc.cluster.local" (10.96.12.34), port 5432 failed: Connection refused')

# ---------------------------------------------------------------- a huge previous log

_NOISE = [
    "{ts} INFO  http request method=GET path=/api/v1/payments/{n} status=200 duration_ms={ms} bytes={b}",
    "{ts} DEBUG cache lookup key=customer:{n} hit=true age_s={ms}",
    "{ts} INFO  ledger batch committed entries={ms} batch_id={n} lag_ms={b}",
    "{ts} DEBUG pool stats active={ms} idle={b} waiting=0 request={n}",
    "{ts} INFO  payment authorised id=pay_{n} amount_cents={b} currency=EUR",
    "{ts} WARN  slow upstream call service=fraud-check elapsed_ms={ms} request={n}",
    "{ts} INFO  health check ok uptime_s={b} goroutines={ms}",
]


def noise_block(size: int = 1 << 20, seed: int = 7) -> str:
    """About `size` characters of ordinary service chatter: distinct consecutive lines (nothing folds), no
    signature a rule would match, whole lines only."""
    rng = random.Random(seed)
    lines, total, i = [], 0, 0
    while total < size:
        line = _NOISE[i % len(_NOISE)].format(ts=f"2026-11-20T14:{i // 6000 % 30:02d}:{i // 100 % 60:02d}.{i % 1000:03d}Z",
                                              n=rng.randrange(10**6), ms=rng.randrange(1, 900), b=rng.randrange(100, 10**5))
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines) + "\n"


def big_log(megabytes: int, ending: str) -> str:
    """`megabytes` MiB of chatter, then `ending` (the recorded log whose last lines say why it died)."""
    block = noise_block()
    return block * max(1, round(megabytes * (1 << 20) / len(block))) + ending


def demo_with_big_log(path: Any, megabytes: int) -> Incident:
    """The demo incident with the payment container's previous log grown to `megabytes` MiB; the fatal
    lines stay at its end, as recorded."""
    incident = load_incident(path)
    key = f"{DEMO_NS}/{DEMO_POD}/{DEMO_CONTAINER}"
    recorded = incident.spec.logs[key]
    # model_construct: no validation pass, so a 500 MB string is not copied once more
    incident.spec.logs[key] = ContainerLogs.model_construct(previous=big_log(megabytes, recorded.previous or ""),
                                                            current=recorded.current)
    return incident


# ---------------------------------------------------------------- a 5,000-pod cluster

@dataclass(frozen=True)
class Failure:
    """One way an application dies: its exit code, the end of its previous log, the category the rules must give."""
    name: str
    exit_code: int
    log: str
    category: str


FAILURES = [
    Failure("python-keyerror", 1, "Traceback (most recent call last):\n  File \"/app/main.py\", line 12, in <module>\n"
            "    DB_URL = os.environ[\"DATABASE_URL\"]\n  File \"<frozen os>\", line 714, in __getitem__\n"
            "KeyError: 'DATABASE_URL'\n", "missing_env_var"),
    Failure("node-module", 1, "node:internal/modules/cjs/loader:1228\n  throw err;\n  ^\n\nError: Cannot find module 'express'\n"
            "Require stack:\n- /app/server.js\n    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)\n"
            "  code: 'MODULE_NOT_FOUND',\n", "missing_dependency"),
    Failure("go-nil", 2, "panic: runtime error: invalid memory address or nil pointer dereference\n"
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6b1f3a]\n\ngoroutine 1 [running]:\n"
            "main.(*Server).Start(0x0)\n\t/src/server.go:42 +0x1a\nmain.main()\n\t/src/main.go:17 +0x85\n", "app_crash"),
    Failure("java-noclass", 1, "Exception in thread \"main\" java.lang.NoClassDefFoundError: org/slf4j/LoggerFactory\n"
            "\tat com.example.App.<clinit>(App.java:9)\nCaused by: java.lang.ClassNotFoundException: org.slf4j.LoggerFactory\n"
            "\tat java.base/jdk.internal.loader.BuiltinClassLoader.loadClass(BuiltinClassLoader.java:641)\n", "missing_dependency"),
    Failure("nginx-bind", 1, "nginx: [warn] the \"user\" directive makes sense only if the master process runs with "
            "super-user privileges, ignored in /etc/nginx/nginx.conf:2\n"
            "nginx: [emerg] bind() to 0.0.0.0:80 failed (13: Permission denied)\n", "permission_denied"),
]


def _node_ip(index: int) -> str:
    return f"10.0.{index // 250}.{index % 250 + 1}"


def _pod(namespace: str, app: str, rs_hash: str, index: int, node: int, failure: Failure | None, rng: random.Random) -> dict:
    name = f"{app}-{rs_hash}-{index:05x}"
    ip = f"10.{rng.randrange(1, 250)}.{rng.randrange(250)}.{rng.randrange(1, 250)}"
    labels = {"app": app, "pod-template-hash": rs_hash, "team": namespace}
    image = f"registry.example.com/{namespace}/{app}:1.{index % 3}.0"
    container = {
        "name": "app", "image": image, "imagePullPolicy": "IfNotPresent", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 10, "periodSeconds": 10},
        "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}],
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    }
    running = {"running": {"startedAt": "2026-03-02T08:00:05Z"}}
    if failure is None:
        status = {"name": "app", "ready": True, "restartCount": 0, "started": True, "image": image,
                  "imageID": f"{image}@sha256:{'ab' * 32}", "containerID": f"containerd://{'cd' * 32}", "state": running}
    else:
        status = {"name": "app", "ready": False, "restartCount": 7, "started": False, "image": image,
                  "imageID": f"{image}@sha256:{'ab' * 32}", "containerID": f"containerd://{'cd' * 32}",
                  "state": {"waiting": {"reason": "CrashLoopBackOff",
                                        "message": f"back-off 5m0s restarting failed container=app pod={name}_{namespace}"}},
                  "lastState": {"terminated": {"exitCode": failure.exit_code, "reason": "Error",
                                               "startedAt": "2026-03-02T10:28:01Z", "finishedAt": "2026-03-02T10:28:03Z"}}}
    ready = "False" if failure else "True"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "labels": labels,
                         "creationTimestamp": "2026-03-02T08:00:00Z",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-{rs_hash}",
                                              "uid": f"uid-{namespace}-{app}-rs", "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"nodeName": f"node-{node}", "restartPolicy": "Always", "serviceAccountName": "default", "dnsPolicy": "ClusterFirst",
                     "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30, "containers": [container],
                     "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]},
            "status": {"phase": "Running", "podIP": ip, "hostIP": _node_ip(node),
                       "qosClass": "Burstable", "startTime": "2026-03-02T08:00:00Z",
                       "conditions": [{"type": t, "status": ready if t in ("Ready", "ContainersReady") else "True",
                                       "lastTransitionTime": "2026-03-02T08:00:05Z"}
                                      for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                       "containerStatuses": [status]}}


@dataclass
class Cluster:
    incident: Incident
    failing: dict[str, str]      # "namespace/pod" of every failing pod -> the category the rules must give
    culprits: dict[str, str]     # "namespace/pod" -> Deployment/namespace/name


def big_cluster(pods: int = 5000, failing: int = 200, failing_deployments: int = 20, healthy_deployments: int = 60,
                nodes: int = 50) -> Cluster:
    """`pods` pods in NAMESPACES: `failing` of them crash-loop, spread evenly over `failing_deployments`
    Deployments (each failing one of FAILURES' ways), the rest healthy in `healthy_deployments` Deployments;
    each Deployment with its ReplicaSet, Service and Endpoints; BackOff events for the failing pods; Nodes."""
    rng = random.Random(42)
    node_names = [f"node-{i}" for i in range(nodes)]
    objects: list[dict[str, Any]] = []
    logs: dict[str, dict[str, str]] = {}
    expected: dict[str, str] = {}
    culprits: dict[str, str] = {}
    per_failing = failing // failing_deployments
    per_healthy, extra = divmod(pods - per_failing * failing_deployments, healthy_deployments)
    plan = [(f"svc{d:02d}", per_failing, FAILURES[d % len(FAILURES)]) for d in range(failing_deployments)]
    plan += [(f"app{d:02d}", per_healthy + (1 if d < extra else 0), None) for d in range(healthy_deployments)]
    for d, (app, replicas, failure) in enumerate(plan):
        namespace = NAMESPACES[d % len(NAMESPACES)]
        rs_hash = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(9))  # as the ReplicaSet controller names them
        labels = {"app": app}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": app, "namespace": namespace, "uid": f"uid-{namespace}-{app}", "generation": 1,
                                     "annotations": {"deployment.kubernetes.io/revision": "1"}, "labels": labels},
                        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                                 "template": {"metadata": {"labels": labels}, "spec": {}}},
                        "status": {"replicas": replicas, "readyReplicas": 0 if failure else replicas}})
        objects.append({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {"name": f"{app}-{rs_hash}", "namespace": namespace, "uid": f"uid-{namespace}-{app}-rs",
                                     "labels": {**labels, "pod-template-hash": rs_hash},
                                     "annotations": {"deployment.kubernetes.io/revision": "1"},
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                                                          "uid": f"uid-{namespace}-{app}", "controller": True}]},
                        "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
        addresses = []
        for i in range(replicas):
            pod = _pod(namespace, app, rs_hash, i, (d * 131 + i) % nodes, failure, rng)
            objects.append(pod)
            name = pod["metadata"]["name"]
            addresses.append({"ip": pod["status"]["podIP"], "nodeName": pod["spec"]["nodeName"],
                              "targetRef": {"kind": "Pod", "name": name, "namespace": namespace}})
            if failure is not None:
                key = f"{namespace}/{name}"
                expected[key], culprits[key] = failure.category, f"Deployment/{namespace}/{app}"
                logs[f"{key}/app"] = {"previous": f"2026-03-02T10:28:01Z starting {app} 1.0.0\n" + failure.log}
                objects.append({"apiVersion": "v1", "kind": "Event",
                                "metadata": {"name": f"{name}.backoff", "namespace": namespace},
                                "involvedObject": {"kind": "Pod", "name": name, "namespace": namespace,
                                                   "fieldPath": "spec.containers{app}"},
                                "type": "Warning", "reason": "BackOff", "count": 30, "source": {"component": "kubelet"},
                                "message": f"Back-off restarting failed container app in pod {name}_{namespace}",
                                "firstTimestamp": "2026-03-02T10:05:00Z", "lastTimestamp": "2026-03-02T10:29:30Z"})
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": namespace},
                        "spec": {"selector": labels, "clusterIP": f"10.96.{d}.{d + 10}", "ports": [{"port": 80, "targetPort": 8080}]}})
        subset = {"addresses": addresses} if failure is None else {"notReadyAddresses": addresses}
        objects.append({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": app, "namespace": namespace},
                        "subsets": [{**subset, "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    for i, node in enumerate(node_names):
        objects.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}},
                        "status": {"addresses": [{"type": "InternalIP", "address": _node_ip(i)}],
                                   "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                                   "conditions": [{"type": t, "status": "True" if t == "Ready" else "False"}
                                                  for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")]}})
    namespace, pod = next(iter(expected)).split("/")
    incident = parse_incident({"apiVersion": "copilot/v1", "kind": "Incident",
                               "metadata": {"name": "bench-5000-pods", "source": "synthetic"},
                               "spec": {"now": NOW, "target": {"namespace": namespace, "pod": pod},
                                        "objects": objects, "logs": logs}})
    return Cluster(incident, expected, culprits)


# ---------------------------------------------------------------- the scripted LLM's answer

RIGHT_ANSWER = {
    "category": "dependency_unavailable",
    "summary": "postgres-0 was OOMKilled and payment-service exits on connection refused while it recovers",
    "root_cause": "postgres-0 hit its 512Mi limit and was OOMKilled at 14:28:14; during WAL recovery payment connected, "
                  "was refused and exited 1.",
    "culprit": {"kind": "StatefulSet", "namespace": "production", "name": "postgres"},
    "confidence": 0.9,
    "evidence": [{"source": "status", "resource": "Pod/production/postgres-0",
                  "excerpt": "lastState.terminated: exitCode=137 signal=9 reason=OOMKilled finishedAt=2026-11-20T14:28:14Z"},
                 {"source": "logs", "resource": f"Pod/{DEMO_NS}/{DEMO_POD}", "excerpt": DEMO_REFUSED}],
    "fix": [{"command": "kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=1Gi",
             "explanation": "more memory for postgres"}],
    "recommendations": ["Add connection retries with backoff to payment-service."],
}
