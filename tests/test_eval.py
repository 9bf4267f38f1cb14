"""`copilot eval`: scoring per the incident format, case discovery, blind diagnosis, report, gate, baseline."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from copilot import evaluate
from copilot.incident import Culprit, Expected, load_incident
from copilot.rca import RCA, Evidence, Fix, ObjectRef

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = ROOT / "evals" / "incidents"
DEMO = INCIDENTS / "payment-db-oom.yaml"


def rca(category="dependency_unavailable", culprit=("StatefulSet", "production", "postgres"), summary="s",
        root_cause="r", evidence=(), fix=()):
    return RCA(category=category, summary=summary, root_cause=root_cause, confidence=0.9,
               culprit=ObjectRef(kind=culprit[0], namespace=culprit[1], name=culprit[2]),
               evidence=[Evidence(source=s, resource="Pod/x/y", excerpt=e) for s, e in evidence],
               fix=[Fix(command=c, explanation="e") for c in fix])


EXPECTED = Expected(category=["dependency_unavailable", "network_error"],
                    culprit=Culprit(kind="sts", name="postgres", namespace="production"),
                    mentions=["OOMKilled", "connection refused"],
                    fix=[r"kubectl .*set resources .*statefulset[/ ]postgres .*memory"])
GOOD = dict(root_cause="postgres-0 was oomkilled", evidence=[("logs", "port 5432 failed: Connection refused")],
            fix=["kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=768Mi"])


def test_a_case_passes_when_all_four_criteria_hold():
    s = evaluate.score(EXPECTED, rca(**GOOD), "")
    assert s.passed and s.category_ok and s.culprit_ok and s.fix_matched and s.missing_mentions == []


@pytest.mark.parametrize("change, failing", [
    ({"category": "oom_killed"}, "category_ok"),
    ({"culprit": ("Deployment", "production", "postgres")}, "culprit_ok"),
    ({"culprit": ("StatefulSet", "staging", "postgres")}, "culprit_ok"),
    ({"culprit": ("StatefulSet", "production", "payment-service")}, "culprit_ok"),
    ({"root_cause": "postgres restarted"}, "missing_mentions"),
    ({"fix": ["kubectl -n production rollout restart statefulset/postgres"]}, "fix_matched"),
])
def test_each_criterion_can_fail_the_case(change, failing):
    s = evaluate.score(EXPECTED, rca(**{**GOOD, **change}), "")
    assert not s.passed
    assert (s.missing_mentions == ["OOMKilled"]) if failing == "missing_mentions" else getattr(s, failing) is False


def test_any_accepted_category_and_kind_aliases_count():
    assert evaluate.score(EXPECTED, rca(**{**GOOD, "category": "network_error"}), "").passed
    no_ns = Expected(category="oom_killed", culprit=Culprit(kind="deploy", name="web"))
    assert evaluate.culprit_matches(no_ns, rca(culprit=("Deployment", "anything", "web")))
    assert not evaluate.culprit_matches(no_ns, rca(culprit=("DaemonSet", "anything", "web")))


def test_grounding_separates_quotes_from_inventions():
    corpus = evaluate.incident_text(load_incident(DEMO))
    real = load_incident(DEMO).spec.logs["production/payment-service-7d9f8b-xyz/payment"].previous.splitlines()[-1]
    assert evaluate.grounded(real, "logs", corpus)
    assert not evaluate.grounded("FATAL: password authentication failed for user \"payments\"", "logs", corpus)
    assert evaluate.grounded("lastState.terminated: exitCode=137 signal=9 reason=OOMKilled finishedAt=2026-11-20T14:28:14Z", "status", corpus)
    assert not evaluate.grounded("lastState.terminated: exitCode=139 reason=Error finishedAt=2026-11-20T14:28:14Z", "status", corpus)
    assert not evaluate.grounded('container_memory_working_set_bytes{pod="redis-0",container="redis"}: peak 1Gi', "metrics", corpus)


def test_the_diagnosis_never_sees_expected_or_metadata():
    seen = []

    def spy(incident):
        seen.append(incident)
        return evaluate.rules_diagnose(incident)

    cases, _ = evaluate.find_cases([str(DEMO)])
    [result] = evaluate.run_cases(cases, diagnose=spy)
    assert result.passed
    assert seen[0].expected is None
    assert seen[0].metadata.model_dump() == {"name": "incident", "description": "", "source": "", "tags": []}


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def wrong_copy(folder: Path, name="demo-wrong") -> Path:
    data = yaml.safe_load(DEMO.read_text())
    data["metadata"]["name"] = name
    data["expected"]["culprit"]["name"] = "payment-service"   # a wrong verdict: the scorer must fail it
    return write(folder / f"{name}.yaml", data)


def test_folders_are_searched_recursively_and_suites_include_files(tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    wrong_copy(tmp_path / "deeper" / "still")
    no_verdict = yaml.safe_load(DEMO.read_text())
    no_verdict.pop("expected")
    no_verdict["metadata"]["name"] = "no-verdict"
    write(tmp_path / "no-verdict.yaml", no_verdict)
    cases, skipped = evaluate.find_cases([str(tmp_path)])
    assert sorted(c.name for c in cases) == ["demo-wrong", "payment-db-oom"] and skipped == 1
    suite = write(tmp_path / "suites" / "one.yaml", {"kind": "Suite", "name": "one", "include": ["../demo.yaml"]})
    assert [c.name for c in evaluate.find_cases([str(suite)])[0]] == ["payment-db-oom"]
    assert [c.name for c in evaluate.find_cases([str(tmp_path)], tag="nothing-has-this")[0]] == []


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "copilot", "eval", *args], capture_output=True, text=True, timeout=timeout)


def test_json_report_on_an_unseen_folder_is_honest(tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    wrong_copy(tmp_path)
    out = cli(str(tmp_path), "--no-llm", "-o", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    s = report["summary"]
    for key in ("cases", "passed", "pass_rate", "category_accuracy", "culprit_accuracy", "mentions_accuracy", "fix_accuracy"):
        assert key in s
    assert (s["cases"], s["passed"], s["pass_rate"], s["culprit_accuracy"], s["category_accuracy"]) == (2, 1, 0.5, 0.5, 1.0)
    bad = next(c for c in report["cases"] if c["name"] == "demo-wrong")
    assert not bad["passed"] and bad["culprit_expected"] == "StatefulSet/production/payment-service"
    assert bad["culprit"] == "StatefulSet/production/postgres"
    for key in ("name", "passed", "category_expected", "category", "culprit_expected", "culprit", "missing_mentions",
                "fix_matched", "latency_ms", "grounding", "tokens", "cost_usd", "engine", "llm_status"):
        assert key in bad
    assert bad["engine"] == "rules" and bad["llm_status"] == "disabled"


def test_gate_baseline_and_repeat(tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    wrong_copy(tmp_path)
    gate = cli(str(tmp_path), "--no-llm", "--min-pass-rate", "0.9")
    assert gate.returncode == 1 and "pass rate 50.00% is below --min-pass-rate 90.00%" in gate.stderr
    row = next(line for line in gate.stdout.splitlines() if "demo-wrong" in line)
    assert "FAIL" in row and "payment-servi" in row      # the failing row shows the expected culprit
    baseline = tmp_path.parent / "baseline.json"
    baseline.write_text(json.dumps({"summary": {"pass_rate": 0.5}, "cases": [
        {"name": "payment-db-oom", "passed": False}, {"name": "demo-wrong", "passed": True}, {"name": "gone", "passed": True}]}))
    out = cli(str(tmp_path), "--no-llm", "-o", "json", "--baseline", str(baseline), "--repeat", "2", "--jobs", "2")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["baseline"] == {"baseline_pass_rate": 0.5, "regressed": ["demo-wrong"], "improved": ["payment-db-oom"],
                                  "new": [], "removed": ["gone"]}
    assert report["summary"]["pass_at_1"] == 0.5 and report["summary"]["pass_pow_2"] == 0.5
    assert {c["runs"] for c in report["cases"]} == {2}


@pytest.mark.parametrize("args, code, message", [
    (["/no/such/folder", "--no-llm"], 2, "error: /no/such/folder: no such file or folder"),
    ([str(DEMO), "--no-llm", "--baseline", str(DEMO)], 2, "not a JSON report"),
])
def test_bad_input_is_one_line(args, code, message):
    out = cli(*args)
    assert out.returncode == code and message in out.stderr and "Traceback" not in out.stderr


def test_an_invalid_incident_is_a_row_and_a_nonzero_exit(tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    (tmp_path / "broken.yaml").write_text("apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: broken}\nspec: {}\n")
    out = cli(str(tmp_path), "--no-llm", "-o", "json")
    assert out.returncode == 2 and "broken.yaml: spec.now: Field required" in out.stderr
    report = json.loads(out.stdout)
    assert [c["passed"] for c in report["cases"]] == [False, True] and report["summary"]["errors"] == 1


def test_the_whole_corpus_passes_the_stored_rules_baseline():
    baseline = json.loads((ROOT / "evals" / "baselines" / "rules-full.json").read_text())
    cases, _ = evaluate.find_cases([str(ROOT / "evals" / "suites" / "full.yaml")])
    report = evaluate.report_json(evaluate.run_cases(cases))
    assert report["summary"]["cases"] >= baseline["summary"]["cases"]
    assert evaluate.compare(report, baseline)["regressed"] == []
    assert report["summary"]["pass_rate"] >= baseline["summary"]["pass_rate"]
