"""The collector: what it reads, how it folds events, and how unreadable pieces become named gaps."""

import pytest

from builders import NS, container, event, incident, status, terminated, workload_chain
from copilot.collector import collect, fold_events, normalize_event
from copilot.diagnose import rules_rca
from copilot.errors import Forbidden, NotFound
from copilot.incident import load_incident
from copilot.sources.snapshot import IncidentSource

POD = "web-5c9d7-abcde"


class Refusing:
    """A source whose RBAC refuses some kinds, like a narrow Role in a real cluster."""

    def __init__(self, inner, forbidden):
        self.inner, self.forbidden, self.description = inner, set(forbidden), inner.description

    def now(self):
        return self.inner.now()

    def get(self, kind, namespace, name):
        if kind in self.forbidden:
            raise Forbidden(f'{kind.lower()}s "{name}" is forbidden')
        return self.inner.get(kind, namespace, name)

    def list(self, kind, namespace, **kw):
        if kind in self.forbidden:
            raise Forbidden(f"cannot list {kind.lower()}s")
        return self.inner.list(kind, namespace, **kw)

    def log(self, *args, **kw):
        if "log" in self.forbidden:
            raise Forbidden("cannot get pods/log")
        return self.inner.log(*args, **kw)


def oom_incident():
    objs = workload_chain(containers=[container(resources={"limits": {"memory": "300Mi"}},
                                                env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "web-token", "key": "token"}}}])],
                          statuses=[status(last=terminated(137, "OOMKilled"))])
    return incident(objs + [event("BackOff", "Back-off restarting failed container app in pod web", count=7)],
                    {"app": {"previous": "starting\nloading 2GB index\n"}})


def test_forbidden_kinds_become_gaps_and_the_rca_still_stands():
    source = Refusing(IncidentSource(oom_incident()), {"Event", "EventsV1", "Secret", "Node", "log", "ReplicaSet"})
    bundle = collect(source, NS, POD)
    rca = rules_rca(bundle)
    assert rca.category == "oom_killed"
    assert (rca.culprit.kind, rca.culprit.name) == ("ReplicaSet", "web-5c9d7")
    gaps = " | ".join(rca.analysis.gaps)
    for piece in ("list Event in shop", "Secret shop/web-token", "Node node-1", "previous log of web-5c9d7-abcde/app", "ReplicaSet shop/web-5c9d7"):
        assert piece in gaps, gaps
    assert "forbidden" in gaps


def test_forbidden_pod_is_fatal_and_says_so():
    with pytest.raises(Forbidden):
        collect(Refusing(IncidentSource(oom_incident()), {"Pod"}), NS, POD)


def test_unknown_pod_suggests_close_names():
    with pytest.raises(NotFound, match=r'pod "web-5c9d7" not found in namespace shop; did you mean web-5c9d7-abcde\?'):
        collect(IncidentSource(oom_incident()), NS, "web-5c9d7")


def test_config_refs_record_existence_and_keys():
    objs = workload_chain(containers=[container(env=[
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "present"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "absent"}}},
        {"name": "C", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "x", "optional": True}}}])])
    objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": NS}, "data": {"present": "1"}})
    refs = {(r.name, r.key): r for r in collect(IncidentSource(incident(objs)), NS, POD).config_refs}
    assert (refs[("cfg", "present")].exists, refs[("cfg", "present")].key_exists) == (True, True)
    assert refs[("cfg", "absent")].key_exists is False
    assert refs[("gone", "x")].exists is False and refs[("gone", "x")].optional


def test_events_of_both_apis_are_normalised_and_folded():
    core = event("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", count=3,
                 first="2026-03-02T10:00:00Z", last="2026-03-02T10:05:00Z")
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "x", "namespace": NS},
          "regarding": {"kind": "Pod", "name": POD, "namespace": NS, "fieldPath": "spec.containers{app}"},
          "reason": "Unhealthy", "note": "Liveness probe failed: HTTP probe failed with statuscode: 500", "type": "Warning",
          "eventTime": "2026-03-02T10:06:00.000000Z", "series": {"count": 4, "lastObservedTime": "2026-03-02T10:09:00.000000Z"},
          "reportingController": "kubelet"}
    folded = fold_events([normalize_event(core), normalize_event(v1)])
    assert len(folded) == 1
    e = folded[0]
    assert (e.count, e.container, e.first.minute, e.last.minute) == (7, "app", 0, 9)


def test_demo_bundle_resolves_the_database_behind_the_service():
    inc = load_incident("evals/incidents/payment-db-oom.yaml")
    bundle = collect(IncidentSource(inc), "production", inc.spec.target.pod)
    deps = {d.host: d for d in bundle.dependencies}
    db = deps["postgres.production.svc.cluster.local"]
    assert db.port == 5432 and db.mentioned_in == "env DB_HOST of container payment"
    assert db.endpoints_ready == 1 and [p.ref.name for p in db.pods] == ["postgres-0"]
    assert str(db.workload) == "StatefulSet/production/postgres"
    assert db.pods[0].containers[0].last.reason == "OOMKilled"
    assert "recovery mode" in db.pods[0].containers[0].current_log.text()
    assert bundle.gaps == []
