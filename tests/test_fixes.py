import pytest

from copilot import fixes
from copilot.bundle import Container, Ref


@pytest.mark.parametrize("quantity, expected", [
    ("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("500M", 500 * 10**6), ("128974848", 128974848),
    ("129e6", 129 * 10**6), ("1.5Gi", int(1.5 * 2**30)), ("100Ki", 102400), ("bogus", None), (None, None),
])
def test_memory_bytes(quantity, expected):
    assert fixes.memory_bytes(quantity) == expected


@pytest.mark.parametrize("current, peak, expected", [
    ("512Mi", None, "768Mi"), ("256Mi", None, "384Mi"), ("1Gi", None, "1536Mi"), ("2Gi", None, "3Gi"),
    ("512Mi", 700 * 2**20, "1088Mi"), (None, None, "384Mi"), ("100M", None, "192Mi"),
])
def test_raised_memory_has_headroom_on_a_64mi_step(current, peak, expected):
    assert fixes.raised_memory(current, peak) == expected


@pytest.mark.parametrize("current, expected", [("100m", "500m"), ("250m", "500m"), ("400m", "800m"), ("1", "2"), (None, "500m")])
def test_raised_cpu(current, expected):
    assert fixes.raised_cpu(current) == expected


def test_set_memory_names_the_object_container_and_value():
    c = Container("postgres", False, "postgres:16", {"resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "512Mi"}}})
    fix = fixes.set_memory(Ref("StatefulSet", "production", "postgres"), c)
    assert fix.command == "kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=768Mi"


def test_patch_paths_follow_the_workload_kind():
    fix = fixes.patch_json(Ref("CronJob", "ops", "nightly"), [{"op": "add", "path": "/containers/0/livenessProbe/initialDelaySeconds", "value": 60}], "x")
    assert '"/spec/jobTemplate/spec/template/spec/containers/0/livenessProbe/initialDelaySeconds"' in fix.command
    assert fix.command.startswith("kubectl -n ops patch cronjob/nightly --type=json -p ")


def test_secret_values_are_placeholders():
    fix = fixes.create_secret("shop", "db", ["password"])
    assert fix.command == "kubectl -n shop create secret generic db '--from-literal=password=<value>'"
