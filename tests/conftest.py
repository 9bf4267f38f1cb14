"""Shared fixtures: one real Prometheus per session, serving the demo incident's series."""

import pytest

from copilot.incident import load_incident
from promserver import DEMO, prometheus_serving, throttling_counters


@pytest.fixture(scope="session")
def demo_series():
    """The demo's recorded memory series plus CFS counters for the payment container."""
    return load_incident(DEMO).spec.series + throttling_counters()


@pytest.fixture(scope="session")
def prometheus(demo_series, tmp_path_factory):
    with prometheus_serving(demo_series, tmp_path_factory.mktemp("prometheus")) as url:
        yield url
