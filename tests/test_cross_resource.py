"""Cross-resource rules on synthetic clusters: rollout regressions, NetworkPolicies, Service ports, mesh sidecars, DNS."""

import pytest

from builders import NS, container, incident, status, terminated, workload_chain
from copilot.collector import collect
from copilot.diagnose import rules_rca
from copilot.rules.changes import diff_templates
from copilot.rules.network import selector_matches
from copilot.sources.snapshot import IncidentSource

POD = "web-5c9d7-abcde"


def diagnose(objects, logs=None):
    return rules_rca(collect(IncidentSource(incident(objects, logs)), NS, POD))


def backend(name, labels, port, ip="10.1.9.9", ready=True, last=None, restarts=0):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-0", "namespace": NS, "labels": labels,
           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": f"{name}-uid", "controller": True}]},
           "spec": {"nodeName": "node-1", "containers": [{"name": name, "image": f"{name}:1", "ports": [{"containerPort": port}]}]},
           "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                      "containerStatuses": [{"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": "2026-03-02T10:27:00Z"}},
                                             **({"lastState": last} if last else {})}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NS, "uid": f"{name}-uid"},
           "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}}}
    return [pod, sts]


def service(name, selector, port, target_port=None, ip="10.96.0.40"):
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
             "spec": {"selector": selector, "clusterIP": ip, "ports": [{"port": port, "targetPort": target_port or port}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": NS},
             "subsets": [{"addresses": [{"ip": "10.1.9.9", "targetRef": {"kind": "Pod", "name": f"{name}-0", "namespace": NS}}],
                          "ports": [{"port": target_port or port}]}]}]


def app(env_value, log, code=1, started="2026-03-02T10:28:00Z", finished="2026-03-02T10:28:05Z", extra_containers=()):
    objs = workload_chain(containers=[container(env=[{"name": "DB_URL", "value": env_value}]), *extra_containers],
                          statuses=[status(last=terminated(code, started=started, finished=finished))])
    return objs, {"app": {"previous": log}}


def test_template_diff_names_fields_not_values():
    old = {"spec": {"containers": [{"name": "app", "image": "a:1", "env": [{"name": "X", "value": "secret1"}]}]}}
    new = {"spec": {"containers": [{"name": "app", "image": "a:2", "env": [{"name": "X", "value": "secret2"}, {"name": "Y", "value": "1"}]}],
                    "serviceAccountName": "robot"}}
    changes = diff_templates(old, new)
    assert changes == ["container app image a:1 -> a:2", "container app env X changed", "container app env Y added", "pod serviceAccountName changed"]
    assert "secret" not in " ".join(changes)


def test_rollout_regression_blames_the_new_revision():
    objs, logs = app("postgres://db:5432/shop", "Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n    import redis\nModuleNotFoundError: No module named 'redis'\n")
    deploy, rs = objs[0], objs[1]
    deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4"
    rs["metadata"].update({"labels": {"app": "web"}, "annotations": {"deployment.kubernetes.io/revision": "4"}, "creationTimestamp": "2026-03-02T10:15:00Z"})
    rs["spec"] = {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/shop/app:1.1"}]}}}
    old = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-77f6c", "namespace": NS, "labels": {"app": "web"},
           "annotations": {"deployment.kubernetes.io/revision": "3"},
           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "web-d", "controller": True}]},
           "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/shop/app:1.0"}]}}}, "status": {"readyReplicas": 2}}
    rca = diagnose(objs + [old], logs)
    assert (rca.category, rca.culprit.kind, rca.culprit.name) == ("missing_dependency", "Deployment", "web")
    assert rca.fix[0].command == "kubectl -n shop rollout undo deployment/web"
    rollout = [e.excerpt for e in rca.evidence if e.source == "rollout"]
    assert rollout and "image registry.local/shop/app:1.0 -> registry.local/shop/app:1.1" in rollout[0]


def test_service_target_port_that_nothing_listens_on():
    objs, logs = app("postgres://orders-db:5432/shop",
                     'psycopg2.OperationalError: connection to server at "orders-db" (10.96.0.40), port 5432 failed: Connection refused\n')
    rca = diagnose(objs + backend("orders-db", {"app": "orders-db"}, 5432) + service("orders-db", {"app": "orders-db"}, 5432, target_port=5433), logs)
    assert (rca.category, rca.culprit.kind, rca.culprit.name) == ("dependency_unavailable", "Service", "orders-db")
    assert rca.fix[0].command == 'kubectl -n shop patch service/orders-db --type=json -p \'[{"op":"replace","path":"/spec/ports/0/targetPort","value":5432}]\''


def test_dependency_not_ready_is_the_culprit():
    objs, logs = app("amqp://queue:5672", "Error: connect ECONNREFUSED 10.96.0.40:5672\n    at TCPConnectWrap.afterConnect\n")
    rca = diagnose(objs + backend("queue", {"app": "queue"}, 5672, ready=False) + service("queue", {"app": "queue"}, 5672), logs)
    assert (rca.category, rca.culprit.kind, rca.culprit.name) == ("dependency_unavailable", "StatefulSet", "queue")


def test_egress_policy_that_drops_the_database_traffic():
    objs, logs = app("postgres://orders-db:5432/shop", "panic: dial tcp 10.96.0.40:5432: i/o timeout\n\ngoroutine 1 [running]:\nmain.main()\n")
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny-egress", "namespace": NS},
              "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}
    rca = diagnose(objs + backend("orders-db", {"app": "orders-db"}, 5432) + service("orders-db", {"app": "orders-db"}, 5432) + [policy], logs)
    assert (rca.category, rca.culprit.kind, rca.culprit.name) == ("network_error", "NetworkPolicy", "default-deny-egress")
    assert '"path":"/spec/egress/-"' in rca.fix[0].command and '"port":5432' in rca.fix[0].command


def test_policy_that_allows_the_traffic_is_not_blamed():
    objs, logs = app("postgres://orders-db:5432/shop", "panic: dial tcp 10.96.0.40:5432: i/o timeout\n")
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-db", "namespace": NS},
              "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "orders-db"}}}], "ports": [{"port": 5432}]}]}}
    rca = diagnose(objs + backend("orders-db", {"app": "orders-db"}, 5432) + service("orders-db", {"app": "orders-db"}, 5432) + [policy], logs)
    assert rca.culprit.kind != "NetworkPolicy"


def test_istio_sidecar_not_ready_at_start():
    sidecar = container("istio-proxy", image="docker.io/istio/proxyv2:1.20.3")
    objs, logs = app("postgres://orders-db:5432/shop", "Error: connect ECONNREFUSED 10.96.0.40:5432\n", extra_containers=[sidecar],
                     started="2026-03-02T10:28:00Z", finished="2026-03-02T10:28:02Z")
    rca = diagnose(objs + backend("orders-db", {"app": "orders-db"}, 5432) + service("orders-db", {"app": "orders-db"}, 5432), logs)
    assert (rca.category, rca.culprit.name) == ("network_error", "web")
    assert "holdApplicationUntilProxyStarts" in rca.fix[0].command


def test_cluster_dns_down():
    objs, logs = app("postgres://orders-db:5432/shop", "panic: dial tcp: lookup orders-db on 10.96.0.10:53: read udp 10.1.2.3:40000->10.96.0.10:53: i/o timeout\n")
    dns_labels = {"k8s-app": "kube-dns"}
    coredns = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "coredns-5d78c-x1", "namespace": "kube-system", "labels": dns_labels,
               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "coredns-5d78c", "uid": "c-rs", "controller": True}]},
               "spec": {"containers": [{"name": "coredns", "image": "coredns:1.11"}]},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                          "containerStatuses": [{"name": "coredns", "ready": False, "restartCount": 9, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                                 "lastState": terminated(1, finished="2026-03-02T10:27:00Z")}]}}
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "coredns-5d78c", "namespace": "kube-system", "uid": "c-rs",
          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "coredns", "uid": "c-d", "controller": True}]}}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system", "uid": "c-d"},
           "spec": {"selector": {"matchLabels": dns_labels}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
           "spec": {"selector": dns_labels, "clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"}]}}
    rca = diagnose(objs + backend("orders-db", {"app": "orders-db"}, 5432) + service("orders-db", {"app": "orders-db"}, 5432) + [coredns, rs, dep, svc], logs)
    assert (rca.category, rca.culprit.kind, rca.culprit.namespace, rca.culprit.name) == ("network_error", "Deployment", "kube-system", "coredns")


@pytest.mark.parametrize("selector, labels, expected", [
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "2"}}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, {"a": "1"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
])
def test_selector_semantics(selector, labels, expected):
    assert selector_matches(selector, labels) is expected
