"""The CLI as a user runs it: whole processes, stdout/stderr separated, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO = str(ROOT / "evals" / "incidents" / "payment-db-oom.yaml")


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=60, cwd=kw.get("cwd", ROOT))


@pytest.fixture(scope="module")
def demo_json():
    out = run("rca", "--incident", DEMO, "--no-llm", "-o", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_demo_names_postgres_with_oom_and_refused(demo_json):
    rca = demo_json
    assert rca["culprit"] == {"kind": "StatefulSet", "namespace": "production", "name": "postgres"}
    assert rca["category"] in ("dependency_unavailable", "oom_killed")
    text = " ".join([rca["summary"], rca["root_cause"], *[e["excerpt"] for e in rca["evidence"]]]).lower()
    assert "oomkilled" in text and "connection refused" in text
    assert any(f["command"] == "kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=768Mi"
               for f in rca["fix"])
    assert rca["analysis"]["engine"] == "rules" and rca["analysis"]["llm_status"] == "disabled"


def test_demo_json_has_the_whole_contract(demo_json):
    assert set(demo_json) == {"category", "summary", "root_cause", "culprit", "confidence", "evidence", "timeline",
                              "fix", "recommendations", "analysis"}
    assert {"engine", "model", "prompt_version", "llm_status", "guardrail", "gaps", "timings", "tokens"} <= set(demo_json["analysis"])
    assert 0 < demo_json["confidence"] <= 1
    times = [t["time"] for t in demo_json["timeline"]]
    assert times == sorted(times) and "2026-11-20T14:28:14Z" in times
    assert {e["source"] for e in demo_json["evidence"]} >= {"logs", "status"}


def test_evidence_is_quoted_from_the_incident(demo_json):
    from copilot.incident import load_incident

    spec = load_incident(DEMO).spec
    texts = [t for logs in spec.logs.values() for t in (logs.previous, logs.current) if t]
    quoted = [e["excerpt"] for e in demo_json["evidence"] if e["source"] in ("logs", "related")]
    assert len(quoted) >= 2
    assert all(any(q in t for t in texts) for q in quoted), quoted
    events = [o.get("message", "") for o in spec.objects if o["kind"] == "Event"]
    assert all(any(e["excerpt"] in m for m in events) for e in demo_json["evidence"] if e["source"] == "events")


@pytest.mark.parametrize("fmt, check", [
    ("yaml", lambda out: yaml.safe_load(out)["culprit"]["name"] == "postgres"),
    ("markdown", lambda out: out.startswith("## ") and "### Fix" in out and "```sh" in out and "statefulset/postgres" in out),
    ("text", lambda out: "Root cause" in out and "StatefulSet/production/postgres" in out and "Timeline" in out),
])
def test_output_formats(fmt, check):
    out = run("rca", "--incident", DEMO, "--no-llm", "-o", fmt)
    assert out.returncode == 0, out.stderr
    assert check(out.stdout), out.stdout[:2000]


def test_without_llm_flag_it_says_rules_only_on_stderr():
    out = run("rca", "--incident", DEMO, "-o", "json")
    assert out.returncode == 0
    assert "rules only" in out.stderr
    assert json.loads(out.stdout)["analysis"]["llm_status"] == "not_configured"


@pytest.mark.parametrize("args, code, message", [
    (["rca", "--incident", "nope.yaml"], 2, "error: nope.yaml: no such file"),
    (["rca", "--incident", "evals/incident.schema.json"], 2, "error: evals/incident.schema.json: not a recorded incident"),
    (["rca", "--incident", "README.md"], 2, "error: README.md: invalid YAML at line"),
    (["rca", "--incident", "pyproject.toml"], 2, "error: pyproject.toml: invalid YAML"),
    (["rca", "payment-svc", "-n", "production", "--incident", DEMO], 3,
     'error: pod "payment-svc" not found in namespace production; did you mean payment-service-7d9f8b-xyz'),
    (["rca"], 2, "error: give a POD name, or --incident FILE"),
    (["rca", "x", "-o", "xml", "--incident", DEMO], 2, "Invalid value for '-o'"),
])
def test_bad_input_is_one_clear_line(args, code, message):
    out = run(*args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_unreachable_cluster_is_one_line(tmp_path):
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}], "users": [{"name": "u", "user": {}}]}))
    out = run("rca", "web-1", "-n", "shop", "--kubeconfig", str(kubeconfig), "--no-llm")
    assert out.returncode == 5, out.stderr
    assert out.stderr.count("\n") == 1 and "127.0.0.1:9" in out.stderr and "Traceback" not in out.stderr


def test_binary_garbage_and_a_huge_line_in_the_log_still_yield_an_rca(tmp_path):
    data = yaml.safe_load(Path(DEMO).read_text())
    key = "production/payment-service-7d9f8b-xyz/payment"
    prev = data["spec"]["logs"][key]["previous"]
    data["spec"]["logs"][key]["previous"] = "\x00\x01\x02\ufffd" * 1000 + "\n" + "A" * (20 * 2**20) + "\n" + prev
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data))
    out = run("rca", "--incident", str(path), "--no-llm", "-o", "json")
    assert out.returncode == 0, out.stderr[-500:]
    assert json.loads(out.stdout)["culprit"]["name"] == "postgres"


def test_help_lists_commands_and_is_cheap():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "copilot", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "rca" in out.stdout and "replay" in out.stdout
    for heavy in ("kubernetes", "langchain", "openai", "prometheus_api_client"):
        assert f" {heavy}\n" not in out.stderr, heavy


def test_forbidden_pod_is_one_line_with_exit_4(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Deny(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                               "message": 'pods "web-1" is forbidden: User "dev" cannot get resource "pods" in API group "" in the namespace "shop"'}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}]}))
    try:
        out = run("rca", "web-1", "-n", "shop", "--kubeconfig", str(kubeconfig), "--no-llm")
    finally:
        server.shutdown()
    assert out.returncode == 4, out.stderr
    assert out.stderr.count("\n") == 1 and "forbidden" in out.stderr and "Traceback" not in out.stderr
