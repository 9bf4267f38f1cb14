"""The shape is the data flow: adapters own their libraries, nothing reaches backwards."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "copilot"


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules():
    return {str(p.relative_to(PKG.parent)): imports(p) for p in PKG.rglob("*.py")}


@pytest.mark.parametrize("library, owner", [
    ("kubernetes", "copilot/sources/kube.py"),
    ("prometheus_api_client", "copilot/sources/metrics.py"),
    ("openai", "copilot/llm"),
    ("langchain", "copilot/llm"),
    ("langchain_openai", "copilot/llm"),
    ("slack_sdk", "copilot/notify.py"),
])
def test_one_adapter_per_external_system(library, owner):
    users = [m for m, names in modules().items() if any(n == library or n.startswith(library + ".") for n in names)]
    assert all(u.startswith(owner) for u in users), users


@pytest.mark.parametrize("layer, forbidden", [
    ("copilot/rules/", ("copilot.sources", "copilot.collector", "copilot.related", "copilot.cli", "copilot.render", "copilot.llm")),
    ("copilot/render.py", ("copilot.sources", "copilot.collector", "copilot.rules", "copilot.llm")),
    ("copilot/collector.py", ("copilot.rules.engine", "copilot.diagnose", "copilot.render", "copilot.cli")),
    ("copilot/sources/", ("copilot.collector", "copilot.rules", "copilot.render", "copilot.cli", "copilot.diagnose")),
    ("copilot/watch/detect.py", ("copilot.sources", "copilot.collector", "copilot.rules", "copilot.llm", "copilot.notify")),
    ("copilot/watch/state.py", ("copilot.sources", "copilot.collector", "copilot.rules", "copilot.llm", "copilot.notify")),
    ("copilot/notify.py", ("copilot.sources", "copilot.collector", "copilot.rules", "copilot.llm", "copilot.watch", "copilot.cli")),
])
def test_nothing_reaches_backwards(layer, forbidden):
    for module, names in modules().items():
        if module.startswith(layer):
            bad = [n for n in names if n.startswith(forbidden)]
            assert not bad, f"{module} imports {bad}"
