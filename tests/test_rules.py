"""The rule table per category: synthetic incidents through the real collector and rules."""

import re

import pytest

from builders import NS, container, event, incident, status, terminated, workload_chain
from copilot.collector import collect
from copilot.diagnose import rules_rca
from copilot.sources.snapshot import IncidentSource

POD = "web-5c9d7-abcde"


def diagnose(objects, logs=None, node=...):
    inc = incident(objects, logs) if node is ... else incident(objects, logs, node=node)
    return rules_rca(collect(IncidentSource(inc), NS, POD))


def crashed(code, reason="Error", logs=None, containers=None, events=(), restarts=4, extra=(), pod_spec=None, revision="1", **status_kw):
    objs = workload_chain(containers=containers, statuses=[status(last=terminated(code, reason), restarts=restarts, **status_kw)],
                          pod_spec=pod_spec, revision=revision)
    return objs + list(events) + list(extra), ({"app": {"previous": logs}} if logs is not None else None)


def svc(name, selector, port, cluster_ip="10.96.0.20", endpoints=()):
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
             "spec": {"selector": selector, "clusterIP": cluster_ip, "ports": [{"port": port, "targetPort": port}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": NS},
             "subsets": [{"addresses": [{"ip": ip} for ip in endpoints], "ports": [{"port": port}]}] if endpoints else []}]


LIVENESS = [event("Unhealthy", "Liveness probe failed: Get \"http://10.1.2.3:8080/healthz\": dial tcp 10.1.2.3:8080: connect: connection refused", count=12),
            event("Killing", "Container app failed liveness probe, will be restarted", type_="Normal", count=4)]
PROBED = [container(livenessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3},
                    ports=[{"containerPort": 8080}])]

CASES = {
    "oom": (crashed(137, "OOMKilled", containers=[container(resources={"limits": {"memory": "256Mi"}})]),
            "oom_killed", "Deployment/web", r"set resources deployment/web -c app --limits=memory=384Mi"),
    "secret-missing": ((workload_chain(containers=[container(env=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "web-db", "key": "password"}}}])],
                                       statuses=[status(restarts=0, waiting="CreateContainerConfigError", message='secret "web-db" not found')])
                        + [event("Failed", 'Error: secret "web-db" not found', count=9)], None),
                       "missing_config_object", "Secret/web-db", r"create secret generic web-db .*password="),
    "configmap-key-missing": ((workload_chain(containers=[container(env=[{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "web-cfg", "key": "mode"}}}])],
                                              statuses=[status(restarts=0, waiting="CreateContainerConfigError", message="couldn't find key mode in ConfigMap shop/web-cfg")])
                               + [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-cfg", "namespace": NS}, "data": {"level": "info"}}], None),
                              "missing_config_object", "ConfigMap/web-cfg", r"patch configmap web-cfg --type=merge .*mode"),
    "image-pull": ((workload_chain(statuses=[status(restarts=0, waiting="ImagePullBackOff", message='Back-off pulling image "registry.local/shop/app:1.0"')])
                    + [event("Failed", 'Failed to pull image "registry.local/shop/app:1.0": rpc error: code = NotFound desc = failed to pull and unpack image: not found', count=5)], None),
                   "image_error", "Deployment/web", r"set image deployment/web '?app=registry.local/shop/app:"),
    "exit-127": (crashed(127, "StartError", message=""), "bad_command", "Deployment/web", None),
    "exec-not-found": ((workload_chain(statuses=[status(last=terminated(128, "StartError", message='failed to create containerd task: exec: "gunicorn": executable file not found in $PATH: unknown'))]), None),
                       "bad_command", "Deployment/web", None),
    "exit-zero": (crashed(0, "Completed", logs="migrations applied\ndone\n"), "completed_exit_zero", "Deployment/web", None),
    "liveness-137": (crashed(137, "Error", containers=PROBED, events=LIVENESS, logs="INFO warming cache (this takes ~90s)\n"),
                     "probe_failure", "Deployment/web", r"patch deployment/web --type=json .*livenessProbe/initialDelaySeconds"),
    "liveness-143": (crashed(143, "Error", containers=PROBED, events=LIVENESS, logs="INFO loading model\nINFO received SIGTERM, shutting down\n"),
                     "probe_failure", "Deployment/web", r"livenessProbe"),
    "liveness-exit-0": (crashed(0, "Completed", containers=PROBED, events=LIVENESS, logs="INFO graceful shutdown complete\n"),
                        "probe_failure", "Deployment/web", r"livenessProbe"),
    "probe-port-vs-listen": (crashed(143, "Error", containers=PROBED, events=LIVENESS,
                                     logs="INFO  Startup completed in 2100ms. Server Running: http://0.0.0.0:9090\nINFO  received SIGTERM\n"),
                             "probe_failure", "Deployment/web", r'livenessProbe/httpGet/port","value":9090'),
    "cpu-starved": (crashed(137, "Error", containers=[container(resources={"limits": {"cpu": "100m"}}, livenessProbe={"httpGet": {"path": "/", "port": 8080}, "timeoutSeconds": 1},
                                                                 ports=[{"containerPort": 8080}])],
                            events=[event("Unhealthy", "Liveness probe failed: Get \"http://10.1.2.3:8080/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"),
                                    event("Killing", "Container app failed liveness probe, will be restarted", type_="Normal")]),
                    "cpu_starvation", "Deployment/web", r"set resources deployment/web -c app --limits=cpu=500m"),
    "python-import": (crashed(1, logs="Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n    import requests\nModuleNotFoundError: No module named 'requests'\n"),
                      "missing_dependency", "Deployment/web", None),
    "node-module": (crashed(1, logs="node:internal/modules/cjs/loader:1080\n  throw err;\n  ^\n\nError: Cannot find module 'express'\nRequire stack:\n- /app/server.js\n"),
                    "missing_dependency", "Deployment/web", None),
    "go-panic": (crashed(2, logs="panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n\ngoroutine 1 [running]:\nmain.main()\n"),
                 "app_crash", "Deployment/web", None),
    "env-keyerror": (crashed(1, logs="Traceback (most recent call last):\n  File \"/app/settings.py\", line 12, in <module>\n    SECRET = os.environ['SESSION_SECRET']\n  File \"/usr/lib/python3.12/os.py\", line 714, in __getitem__\n    raise KeyError(key) from None\nKeyError: 'SESSION_SECRET'\n"),
                     "missing_env_var", "Deployment/web", r"set env deployment/web -c app '?SESSION_SECRET="),
    "port-in-use": (crashed(1, logs="Error: listen EADDRINUSE: address already in use :::3000\n    at Server.setupListenHandle [as _listen2] (node:net:1817:16)\n"),
                    "port_in_use", "Deployment/web", None),
    "read-only-fs": (crashed(1, logs="nginx: [emerg] mkdir() \"/var/cache/nginx/client_temp\" failed (30: Read-only file system)\n"),
                     "permission_denied", "Deployment/web", r"patch deployment/web --type=json .*emptyDir"),
    "exec-format": (crashed(1, logs="exec /usr/local/bin/server: exec format error\n"), "bad_command", "Deployment/web", None),
    "jvm-oom": (crashed(1, containers=[container(resources={"limits": {"memory": "1Gi"}})],
                        logs="Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n"),
                "oom_killed", "Deployment/web", r"set resources deployment/web -c app --limits=memory=1536Mi"),
    "password-auth": (crashed(1, logs='django.db.utils.OperationalError: connection to server at "db" (10.96.0.30), port 5432 failed: FATAL:  password authentication failed for user "shop"\n'),
                      "invalid_config", None, None),
    "warning-then-fatal": (crashed(1, logs="WARN redis connection refused, retrying in 1s\nINFO connected to redis at cache:6379\n"
                                           "Traceback (most recent call last):\n  File \"/app/app.py\", line 40, in <module>\n    TOKEN = os.environ[\"API_TOKEN\"]\nKeyError: 'API_TOKEN'\n"),
                           "missing_env_var", "Deployment/web", r"API_TOKEN"),
    "dns-typo": (crashed(1, containers=[container(env=[{"name": "CACHE_URL", "value": "redis://redis-mastr:6379/0"}])],
                         logs="Error: getaddrinfo ENOTFOUND redis-mastr\n    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26)\n",
                         extra=svc("redis-master", {"app": "redis"}, 6379)),
                 "network_error", "Deployment/web", r"set env deployment/web -c app CACHE_URL=redis://redis-master:6379/0"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_table(name):
    (objects, logs), category, culprit, fix_pattern = CASES[name]
    rca = rules_rca(collect(IncidentSource(incident(objects, logs)), NS, POD))
    assert rca.category == category, (rca.summary, rca.root_cause)
    if culprit:
        assert f"{rca.culprit.kind}/{rca.culprit.name}" == culprit
    if fix_pattern:
        assert any(re.search(fix_pattern, f.command) for f in rca.fix), [f.command for f in rca.fix]
    assert rca.evidence and all(e.excerpt for e in rca.evidence)
    assert all("<placeholder>" not in f.command for f in rca.fix)


def test_dependency_scaled_to_zero_is_the_culprit():
    redis = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "redis", "namespace": NS},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "redis"}}, "template": {"metadata": {"labels": {"app": "redis"}}}}}
    objects, logs = crashed(1, containers=[container(env=[{"name": "REDIS_HOST", "value": "redis"}, {"name": "REDIS_PORT", "value": "6379"}])],
                            logs="Error: connect ECONNREFUSED 10.96.0.20:6379\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n",
                            extra=svc("redis", {"app": "redis"}, 6379) + [redis])
    rca = diagnose(objects, logs)
    assert (rca.category, rca.culprit.kind, rca.culprit.name) == ("dependency_unavailable", "Deployment", "redis")
    assert any(f.command == "kubectl -n shop scale deployment/redis --replicas=1" for f in rca.fix)


def test_evicted_under_disk_pressure_blames_the_node():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"}]}}
    objects = workload_chain(phase="Failed", statuses=[status(waiting=None, restarts=0, state=terminated(137, "ContainerStatusUnknown"))],
                             pod_status={"reason": "Evicted", "message": "The node was low on resource: ephemeral-storage."})
    rca = diagnose(objects, node=node)
    assert (rca.category, rca.culprit.kind, rca.culprit.name) == ("node_issue", "Node", "node-1")


def test_secrets_are_checked_by_name_only():
    objects = workload_chain(containers=[container(envFrom=[{"secretRef": {"name": "web-env"}}])],
                             statuses=[status(restarts=0, waiting="CreateContainerConfigError", message='secret "web-env" not found')])
    rca = diagnose(objects)
    assert rca.culprit.kind == "Secret" and rca.category == "missing_config_object"
    assert "create secret generic web-env" in rca.fix[0].command
