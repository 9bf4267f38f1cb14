"""ObjectStore and IncidentSource: the recorded incident queried as the API server would answer."""

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from builders import NS, incident, workload_chain
from copilot.errors import NotFound, SourceError
from copilot.incident import load_incident
from copilot.sources.snapshot import IncidentSource
from copilot.sources.store import (
    InvalidSelector, ObjectStore, Requirement, labels_match, log_bytes, parse_field_selector, parse_label_selector,
)

DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"
PAYMENT = "payment-service-7d9f8b-xyz"


@pytest.fixture(scope="module")
def store():
    return ObjectStore(load_incident(DEMO))


def names(objs):
    return [o["metadata"]["name"] for o in objs]


@pytest.mark.parametrize("selector, parsed", [
    ("", []),
    ("app=web", [Requirement("app", "=", ("web",))]),
    ("app==web", [Requirement("app", "=", ("web",))]),
    ("app != web", [Requirement("app", "!=", ("web",))]),
    ("tier in (a, b),env notin (prod)", [Requirement("tier", "in", ("a", "b")), Requirement("env", "notin", ("prod",))]),
    ("app.kubernetes.io/name", [Requirement("app.kubernetes.io/name", "exists")]),
    ("!canary", [Requirement("canary", "!")]),
    ("app=", [Requirement("app", "=", ("",))]),
    ("replicas>2", [Requirement("replicas", ">", ("2",))]),
    (" app = web , ! canary ", [Requirement("app", "=", ("web",)), Requirement("canary", "!")]),
])
def test_label_selector_parses(selector, parsed):
    assert parse_label_selector(selector) == parsed


@pytest.mark.parametrize("selector, labels, matches", [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "api"}, False),
    ("app=web", {}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("tier in (a,b)", {"tier": "b"}, True),
    ("tier in (a,b)", {}, False),
    ("tier notin (a,b)", {}, True),
    ("tier notin (a,b)", {"tier": "a"}, False),
    ("app", {"app": ""}, True),
    ("!app", {"app": ""}, False),
    ("!app", {"other": "x"}, True),
    ("app=web,tier in (front)", {"app": "web", "tier": "front"}, True),
    ("app=web,tier in (front)", {"app": "web", "tier": "back"}, False),
    ("replicas>2", {"replicas": "3"}, True),
    ("replicas<2", {"replicas": "3"}, False),
    ("replicas>2", {"replicas": "many"}, False),
])
def test_label_selector_matches(selector, labels, matches):
    assert labels_match(parse_label_selector(selector), labels) is matches


@pytest.mark.parametrize("selector, message", [
    ("app in ()", "values set can't be empty"),
    ("app=web,", "cannot parse ''"),
    ("app=we b", "cannot parse 'app=we b'"),
    ("app=-web", "invalid value '-web'"),
    ("a>b", "needs an integer value"),
    ("tier in (a", "cannot parse 'tier in (a'"),
])
def test_label_selector_rejects(selector, message):
    with pytest.raises(InvalidSelector, match=re.escape(message)):
        parse_label_selector(selector)


@pytest.mark.parametrize("selector, terms", [
    ("metadata.name=web", [("metadata.name", "=", "web")]),
    ("status.phase!=Running,spec.nodeName==node-a", [("status.phase", "!=", "Running"), ("spec.nodeName", "=", "node-a")]),
    ("involvedObject.fieldPath=spec.containers{app}", [("involvedObject.fieldPath", "=", "spec.containers{app}")]),
    (r"reason=a\,b", [("reason", "=", "a,b")]),
    ("involvedObject.namespace=", [("involvedObject.namespace", "=", "")]),
])
def test_field_selector_parses(selector, terms):
    assert parse_field_selector(selector) == terms


@pytest.mark.parametrize("kind, namespace, labels, fields, expected", [
    ("Pod", "production", "app=postgres", None, ["postgres-0"]),
    ("Pod", None, "app in (postgres, payment-service)", None, [PAYMENT, "postgres-0"]),
    ("Pod", "production", "app!=postgres", None, [PAYMENT]),
    ("Pod", "production", "!statefulset.kubernetes.io/pod-name", None, [PAYMENT]),
    ("Pod", "production", None, "spec.nodeName=node-b", ["postgres-0"]),
    ("Pod", None, None, "status.phase!=Running", []),
    ("Pod", "production", None, f"metadata.name={PAYMENT}", [PAYMENT]),
    ("Event", None, None, "involvedObject.kind=Node,involvedObject.name=node-b", ["node-b.oom"]),
    ("Event", "production", None, "type=Warning", ["payment.backoff", "postgres-0.unhealthy"]),
    ("Event", "production", None, "involvedObject.name=postgres-0,reason!=Unhealthy", ["postgres-0.pulled", "postgres-0.started"]),
    ("Event", "production", None, "involvedObject.fieldPath=spec.containers{payment}", ["payment.backoff", "payment.started"]),
    ("Event", "default", None, "metadata.namespace=default", ["node-b.oom"]),
    ("Node", "production", "kubernetes.io/hostname=node-a", None, ["node-a"]),
    ("Namespace", None, None, None, ["default", "production"]),
    ("Secret", "production", None, "type=Opaque", ["payment-db"]),
    ("Deployment", "other", None, None, []),
])
def test_list_filters_like_the_api(store, kind, namespace, labels, fields, expected):
    assert names(store.list(kind, namespace, labels, fields)) == expected


def test_unsupported_field_is_rejected_like_the_api(store):
    with pytest.raises(InvalidSelector, match="^field label not supported: spec.nodeName$"):
        store.list("Deployment", "production", field_selector="spec.nodeName=node-a")


@pytest.mark.parametrize("kind, namespace, name, message", [
    ("Pod", "production", "nope", 'pods "nope" not found'),
    ("Pod", "default", PAYMENT, f'pods "{PAYMENT}" not found'),
    ("Deployment", "production", "nope", 'deployments.apps "nope" not found'),
    ("Node", None, "node-c", 'nodes "node-c" not found'),
])
def test_get_missing_raises_not_found_with_the_api_message(store, kind, namespace, name, message):
    with pytest.raises(NotFound) as e:
        store.get(kind, namespace, name)
    assert str(e.value) == message


def test_get_returns_copies_with_server_set_fields(store):
    pod = store.get("Pod", "production", PAYMENT)
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert pod["metadata"]["resourceVersion"] == "1" and pod["metadata"]["uid"] == "d1a1c0de-0003"
    pod["metadata"]["name"] = "changed"
    assert store.get("Pod", "production", PAYMENT)["metadata"]["name"] == PAYMENT
    assert store.get("Node", "ignored-for-cluster-scope", "node-a")["metadata"]["name"] == "node-a"


def test_events_get_the_uid_of_the_object_they_name(store):
    backoff = store.get("Event", "production", "payment.backoff")
    assert backoff["involvedObject"]["uid"] == "d1a1c0de-0003"
    oom = store.get("Event", "default", "node-b.oom")
    assert oom["involvedObject"]["uid"] == store.get("Node", None, "node-b")["metadata"]["uid"]


def test_unknown_kind_and_missing_namespace_are_errors(store):
    with pytest.raises(SourceError, match="unsupported kind 'Widget'"):
        store.list("Widget", None)
    with pytest.raises(SourceError, match="a namespace is needed"):
        store.get("Pod", None, PAYMENT)


def test_secrets_never_carry_values():
    inc = incident(workload_chain())
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "db", "namespace": NS},
              "data": {"password": ""}}
    inc.spec.objects.append(secret)
    secret_with_values = {**secret, "metadata": {"name": "leaky", "namespace": NS},
                          "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "hunter2"}}
    inc.spec.objects.append(secret_with_values)
    store = ObjectStore(inc)
    assert store.get("Secret", NS, "leaky")["data"] == {"password": ""}
    assert store.get("Secret", NS, "leaky")["stringData"] == {"token": ""}
    assert [s.get("data") for s in store.list("Secret", None)] == [{"password": ""}, {"password": ""}]
    assert "hunter2" not in repr(store.list("Secret", NS)) + repr(store.__dict__)


def test_objects_without_namespace_and_resource_version():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}}
    kept = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": NS, "resourceVersion": "42"}}
    store = ObjectStore(incident(workload_chain() + [cm, kept]))
    got = store.get("ConfigMap", "default", "cfg")
    assert got["metadata"]["namespace"] == "default" and got["metadata"]["resourceVersion"] == "1"
    assert store.get("ConfigMap", NS, "kept")["metadata"]["resourceVersion"] == "42"
    assert names(store.list("Namespace", None)) == ["default", NS]
    assert "namespace" not in store.get("Node", None, "node-1")["metadata"]


def test_events_k8s_io_events_are_their_own_kind():
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1", "namespace": NS},
          "regarding": {"kind": "Pod", "name": "web-5c9d7-abcde", "namespace": NS}, "reason": "BackOff", "type": "Warning",
          "note": "Back-off restarting failed container", "eventTime": "2026-03-02T10:29:00.000000Z"}
    store = ObjectStore(incident(workload_chain() + [v1]))
    assert names(store.list("EventsV1", NS, field_selector="regarding.name=web-5c9d7-abcde,reason=BackOff")) == ["e1"]
    assert names(store.list("EventsV1", NS, field_selector="involvedObject.kind=Pod")) == ["e1"]
    assert store.list("Event", NS) == []
    assert store.get("EventsV1", NS, "e1")["regarding"]["uid"] == "web-5c9d7-abcde-uid"


@pytest.mark.parametrize("text, limit, tail, expected", [
    ("a\nb\nc\n", None, None, b"a\nb\nc\n"),
    ("a\nb\nc\n", None, 2, b"b\nc\n"),
    ("a\nb\nc", None, 2, b"b\nc"),
    ("a\nb\nc\n", None, 0, b""),
    ("a\nb\nc\n", None, 10, b"a\nb\nc\n"),
    ("a\nb\nc\n", 3, None, b"a\nb"),
    ("a\nb\nc\n", 3, 2, b"b\nc"),
    ("héllo", 2, None, "héllo".encode()[:2]),
    ("", None, 5, b""),
])
def test_log_bytes_tail_then_limit(text, limit, tail, expected):
    assert log_bytes(text, limit, tail) == expected


def test_incident_source_reads_the_recording():
    source = IncidentSource(load_incident(DEMO))
    assert source.description == "incident payment-db-oom"
    assert source.now() == datetime(2026, 11, 20, 14, 31, tzinfo=timezone.utc) and source.now().utcoffset().total_seconds() == 0
    previous = b"".join(source.log("production", PAYMENT, "payment", previous=True))
    assert b"port 5432 failed: Connection refused" in previous
    assert b"".join(source.log("production", PAYMENT, "payment", True, tail_lines=1)) == \
        b"2026-11-20T14:30:19.127Z FATAL startup failed, exiting with status 1\n"
    assert b"".join(source.log("production", PAYMENT, "payment", True, limit_bytes=24)) == b"2026-11-20T14:30:15.402Z"
    assert source.log("production", PAYMENT, "payment", previous=False) is None
    assert source.log("production", "nope", "payment", previous=True) is None
    assert source.get("Pod", "production", PAYMENT)["metadata"]["uid"] == "d1a1c0de-0003"


def test_incident_source_streams_64k_chunks():
    text = "x" * 99 + "\n"
    source = IncidentSource(incident(workload_chain(), logs={"app": {"previous": text * 2000}}))
    chunks = list(source.log(NS, "web-5c9d7-abcde", "app", previous=True))
    assert [len(c) for c in chunks] == [65536, 65536, 65536, 200000 - 3 * 65536]
    limited = list(source.log(NS, "web-5c9d7-abcde", "app", previous=True, limit_bytes=70000))
    assert [len(c) for c in limited] == [65536, 70000 - 65536]
    assert list(source.log(NS, "web-5c9d7-abcde", "app", previous=True, tail_lines=0)) == []
