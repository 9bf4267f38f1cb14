import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from copilot.errors import IncidentError
from copilot.incident import json_schema, load_incident

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"


def test_demo_loads_with_target_and_objects():
    inc = load_incident(DEMO)
    assert (inc.spec.target.namespace, inc.spec.target.pod) == ("production", "payment-service-7d9f8b-xyz")
    assert {o["kind"] for o in inc.spec.objects} >= {"Pod", "StatefulSet", "Service", "Endpoints", "Event", "Secret"}
    assert inc.expected.culprit.name == "postgres"


def test_committed_schema_is_current_and_validates_every_incident():
    committed = json.loads((ROOT / "evals" / "incident.schema.json").read_text())
    assert committed == json_schema(), "regenerate: python -c 'from copilot.incident import write_json_schema as w; w(\"evals/incident.schema.json\")'"
    for path in sorted((ROOT / "evals").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and data.get("kind") == "Incident":
            jsonschema.validate(json.loads(json.dumps(data, default=str)), committed)


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "inc.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, message", [
    ("a: [1, 2", "invalid YAML at line 2: did not find expected"),
    ("- just\n- a list\n", "not a recorded incident"),
    ("kind: Deployment\n", "not a recorded incident"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z'}\n", "spec.target: Field required"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: 'yesterday', target: {namespace: a, pod: b}}\n", "spec.now: Input should be a valid datetime"),
    ("apiVersion: copilot/v2\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', target: {namespace: a, pod: b}}\n", "apiVersion: Input should be 'copilot/v1'"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', target: {namespace: a, pod: b}, objects: [{kind: Pod}]}\n", "spec.objects: Value error, object 0 has no apiVersion"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', target: {namespace: a, pod: b}, objects: [{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {password: aHVudGVyMg==}}]}\n", "records secret values"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', target: {namespace: a, pod: b}, logs: {a/b: {previous: x}}}\n", "is not namespace/pod/container"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', target: {namespace: a, pod: b}}\nexpected: {category: crash}\n", "unknown category 'crash'"),
    ("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', target: {namespace: a, pod: b}, extra: 1}\n", "spec.extra: Extra inputs are not permitted"),
])
def test_errors_name_the_file_and_the_field(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(IncidentError) as err:
        load_incident(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_binary_and_directory_inputs(tmp_path):
    with pytest.raises(IncidentError, match="no such file"):
        load_incident(tmp_path / "nope.yaml")
    with pytest.raises(IncidentError, match="is a directory"):
        load_incident(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(IncidentError, match="not UTF-8"):
        load_incident(binary)


def test_unquoted_timestamps_become_api_strings(tmp_path):
    path = _write(tmp_path, "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\n"
                  "spec:\n  now: 2026-01-01T00:00:00Z\n  target: {namespace: a, pod: b}\n"
                  "  objects: [{apiVersion: v1, kind: Pod, metadata: {name: b, creationTimestamp: 2026-01-01T00:00:00Z}}]\n")
    obj = load_incident(path).spec.objects[0]
    assert obj["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def _pod_file(tmp_path, pod_yaml):
    return _write(tmp_path, "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\n"
                  "spec:\n  now: 2026-01-01T00:00:00Z\n  target: {namespace: a, pod: b}\n"
                  f"  objects: [{{apiVersion: v1, kind: Pod, metadata: {{name: b, namespace: a}}, {pod_yaml}}}]\n")


def test_loosely_typed_scalars_of_hand_written_files_take_the_api_types(tmp_path):
    path = _pod_file(tmp_path, "spec: {containers: [{name: c, args: [--port, 8080], env: [{name: PORT, value: 8080}, "
                               "{name: DEBUG, value: true}]}]}, status: {containerStatuses: [{name: c, restartCount: '3'}]}")
    pod = load_incident(path).spec.objects[0]
    container = pod["spec"]["containers"][0]
    assert container["env"] == [{"name": "PORT", "value": "8080"}, {"name": "DEBUG", "value": "true"}]
    assert container["args"] == ["--port", "8080"] and pod["status"]["containerStatuses"][0]["restartCount"] == 3


@pytest.mark.parametrize("pod_yaml, field", [
    ("spec: {containers: {name: c}}", "spec.containers: should be a list, not dict"),
    ("spec: {containers: [{name: c, env: {PORT: 1}}]}", "spec.containers[0].env: should be a list, not dict"),
    ("status: {containerStatuses: [{name: c, restartCount: many}]}", "restartCount: should be a whole number, not str"),
])
def test_a_field_of_the_wrong_shape_is_refused_by_its_path(tmp_path, pod_yaml, field):
    with pytest.raises(IncidentError, match=r"object 0 \(Pod b\): .*" + field.replace("[", r"\[").replace("]", r"\]")):
        load_incident(_pod_file(tmp_path, pod_yaml))
