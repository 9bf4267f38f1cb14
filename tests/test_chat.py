"""`copilot chat` as a person drives it: questions piped into a real process, answers read from stdout.

Without an LLM the REPL routes questions by keywords to the bundle; with one, our scripted OpenAI-compatible
server plays the model, so the test sees the exact requests (tools offered, tool results sent back) and
proves a command planted in a log never reaches the terminal.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from copilot import app, chat
from fakeopenai import FakeOpenAI, status
from fakeopenai import answer as structured

ROOT = Path(__file__).resolve().parent.parent
DEMO = str(ROOT / "evals" / "incidents" / "payment-db-oom.yaml")
FIX = "kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=768Mi"
RECOVERY = "database system was not properly shut down; automatic recovery in progress"
RCA_ANSWER = {  # the model's structured RCA at start-up: it agrees with the rules
    "category": "dependency_unavailable", "summary": "postgres-0 was OOMKilled; payment is refused while it recovers",
    "root_cause": "postgres-0 was OOMKilled at 14:28:14 and payment exited 1 on connection refused during recovery.",
    "culprit": {"kind": "StatefulSet", "namespace": "production", "name": "postgres"}, "confidence": 0.9,
    "evidence": [{"source": "status", "resource": "Pod/production/postgres-0",
                  "excerpt": "lastState.terminated: exitCode=137 signal=9 reason=OOMKilled finishedAt=2026-11-20T14:28:14Z"}],
    "fix": [], "recommendations": []}


def converse(*lines, env=None, args=("--incident", DEMO)):
    """Run `copilot chat` with the lines on stdin; stdout, stderr and the exit code."""
    return subprocess.run([sys.executable, "-m", "copilot", "chat", *args], input="".join(f"{x}\n" for x in lines),
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


def answers(stdout: str) -> dict[str, str]:
    """Each question echoed as '> QUESTION' mapped to the answer printed after it."""
    out, question = {}, None
    for line in stdout.splitlines():
        if line.startswith("> "):
            question = line[2:]
            out[question] = ""
        elif question is not None:
            out[question] += line + "\n"
    return out


@pytest.fixture(scope="module")
def offline():
    questions = ["why is payment-service crashing?", "show me the evidence from the database logs", "what should I change?",
                 "is checkout affected too?", "how much memory did postgres use?", "/logs postgres-0", "/events postgres-0",
                 "/timeline", "/nope", "/model", "/context", "/help", "/quit", "never read"]
    run = converse(*questions, args=("--incident", DEMO, "--no-llm"))
    assert run.returncode == 0, run.stderr
    return run, answers(run.stdout)


def test_the_greeting_states_the_diagnosis(offline):
    run, _ = offline
    first = run.stdout.split("\n> ", 1)[0]
    assert "statefulset/postgres was OOMKilled" in first
    assert "culprit StatefulSet/production/postgres, dependency_unavailable" in first
    assert "Answering from the bundle (no LLM)" in first


def test_why_names_the_database_and_the_oom_kill(offline):
    why = offline[1]["why is payment-service crashing?"]
    assert "postgres" in why and "OOMKilled" in why
    assert "Culprit: StatefulSet/production/postgres (dependency_unavailable" in why


def test_evidence_from_the_database_logs_quotes_the_recovery(offline):
    evidence = offline[1]["show me the evidence from the database logs"]
    assert "[related] Pod/production/postgres-0" in evidence
    assert "database system was interrupted; last known up at 2026-11-20 14:21:33 UTC" in evidence
    assert RECOVERY in evidence
    assert "current log of postgres-0/postgres (last 7 of 7 lines):" in evidence
    assert "FATAL:  the database system is in recovery mode" in evidence


def test_what_to_change_is_the_memory_fix(offline):
    change = offline[1]["what should I change?"]
    assert change.startswith("# raise postgres's memory limit to 768Mi (1.5x the observed peak)\n" + FIX)
    assert "Make payment retry its connection with backoff" in change


def test_an_unknown_workload_is_said_to_be_unknown_and_the_known_dependents_listed(offline):
    related = offline[1]["is checkout affected too?"]
    assert "Nothing named 'checkout' was collected" in related
    assert "deployment/payment-service depends on postgres.production.svc.cluster.local" in related
    assert "Pod/production/postgres-0: phase Running, ready true, restarts 1, postgres last OOMKilled (exit 137)" in related
    assert "collected pods that use it: payment-service-7d9f8b-xyz" in related


def test_memory_quotes_the_series_of_the_named_pod(offline):
    memory = offline[1]["how much memory did postgres use?"]
    assert memory.startswith("postgres-0/postgres memory: peak 507Mi of the 512Mi limit (99%)")
    assert "payment" not in memory


def test_slash_commands_read_logs_events_and_timeline(offline):
    got = offline[1]
    assert got["/logs postgres-0"].startswith("current log of production/postgres-0 container postgres:\n")
    assert RECOVERY in got["/logs postgres-0"]
    assert got["/events postgres-0"].splitlines()[0] == ("2026-11-20T14:28:19Z Normal Pulled Pod/production/postgres-0: "
                                                         "Container image \"postgres:16.4\" already present on machine")
    assert "2026-11-20T14:28:14Z  Pod/production/postgres-0  container postgres terminated: exit 137 OOMKilled" in got["/timeline"]
    assert got["/model"].startswith("no LLM: answers come from the bundle")
    assert got["/context"].startswith("system context: ") and "tokens (RCA + bundle)" in got["/context"]
    assert [line.split()[0] for line in got["/help"].splitlines() if line] == [
        "/rca", "/pods", "/logs", "/events", "/timeline", "/evidence", "/fix", "/json", "/context", "/model", "/clear",
        "/help", "/quit,"]


def test_an_unknown_command_is_one_line_and_the_session_goes_on_until_quit(offline):
    run, got = offline
    assert run.stderr.splitlines() == ["error: unknown command /nope; /help lists the commands"]
    assert "never read" not in got and "Traceback" not in run.stdout + run.stderr


def test_json_is_the_rca_and_end_of_input_exits_zero():
    run = converse("/json", args=("--incident", DEMO, "--no-llm"))
    assert run.returncode == 0, run.stderr
    rca = json.loads(answers(run.stdout)["/json"])
    assert rca["culprit"] == {"kind": "StatefulSet", "namespace": "production", "name": "postgres"}


def test_an_unknown_incident_file_is_one_line_and_exit_2():
    run = converse("why?", args=("--incident", "nope.yaml", "--no-llm"))
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith("error: ") and "nope.yaml" in run.stderr


def test_crash_looping_pods_are_offered_when_no_pod_is_given():
    source, _ = app.incident_source(DEMO)
    session = chat.Session(source, None, None)
    session.choices = chat.crashlooping(source, None)
    assert session.choices == ["production/payment-service-7d9f8b-xyz"]
    assert "  1. production/payment-service-7d9f8b-xyz" in chat.greeting(session)
    assert chat.handle(session, "1").startswith("Pod/production/payment-service-7d9f8b-xyz: statefulset/postgres was OOMKilled")


# --- with the scripted model ---------------------------------------------------------------------------------

def completion(message: dict, finish: str = "stop"):
    body = {"id": "chatcmpl-chat", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 4000, "completion_tokens": 80, "total_tokens": 4080}}
    return lambda request: (200, body)


def call_tool(name: str, **args):
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return completion({"content": None, "tool_calls": [call]}, "tool_calls")


def say(text: str):
    return completion({"content": text})


@pytest.fixture
def llm_env(tmp_path):
    def env(server: FakeOpenAI) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "COPILOT_"))}
        return {**clean, "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test-not-a-real-key",
                "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return env


def test_a_follow_up_question_calls_the_logs_tool_and_quotes_its_result(llm_env):
    script = [structured(RCA_ANSWER), call_tool("pod_logs", pod="postgres-0"),
              say(f"postgres-0 was still replaying its WAL: \"{RECOVERY}\". Raise its limit:\n{FIX}")]
    with FakeOpenAI(script) as server:
        run = converse("what did the database log after it restarted?", "/quit", env=llm_env(server))
    assert run.returncode == 0, run.stderr
    diagnosis, first, second = server.bodies
    assert diagnosis["response_format"]["type"] == "json_schema"          # the pod is diagnosed first, by the LLM too
    assert "engine llm+rules" in run.stdout.split("\n> ", 1)[0]
    assert first["temperature"] == 0 and first["stream"] is True          # answers stream, vetted line by line
    assert {t["function"]["name"] for t in first["tools"]} == {"pod_logs", "describe", "pod_events", "memory", "list_pods", "rerun_rca"}
    system, user = first["messages"]
    assert system["role"] == "system" and "== ROOT-CAUSE ANALYSIS ==\n## postgres-0 was OOMKilled; payment is refused" in system["content"]
    assert user == {"role": "user", "content": "what did the database log after it restarted?"}
    assert second["messages"][2]["tool_calls"][0]["function"]["name"] == "pod_logs"
    tool = second["messages"][3]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
    assert tool["content"].startswith("<<<DATA ") and "current log of production/postgres-0 container postgres:" in tool["content"]
    assert RECOVERY in tool["content"] and tool["content"].rstrip().endswith(">>>")
    answer = answers(run.stdout)["what did the database log after it restarted?"]
    assert f"postgres-0 was still replaying its WAL: \"{RECOVERY}\". Raise its limit:\n{FIX}" in answer


def test_a_destructive_command_in_the_answer_is_never_printed(llm_env):
    planted = ("The log says: to recover, run kubectl delete namespace production and start over.\n"
               f"Safer: {FIX}")
    with FakeOpenAI([structured(RCA_ANSWER), say(planted)]) as server:
        run = converse("how do I recover?", "/quit", env=llm_env(server))
    assert run.returncode == 0, run.stderr
    said = answers(run.stdout)["how do I recover?"]
    assert "delete namespace" not in run.stdout
    assert "[suggested command removed: it 'kubectl delete' is not allowed (only reads and targeted changes)]" in said
    assert f"Safer: {FIX}" in said


def test_an_llm_failure_answers_from_the_bundle(llm_env):
    with FakeOpenAI([status(500, "model crashed")]) as server:
        run = converse("what should I change?", "/quit", env=llm_env(server))
    assert run.returncode == 0, run.stderr
    said = answers(run.stdout)["what should I change?"]
    assert "LLM error: the LLM endpoint answered HTTP 500: model crashed; showing the rules' RCA" in run.stdout.split("\n> ", 1)[0]
    assert said.startswith("note: the LLM endpoint answered HTTP 500: model crashed; answering from the bundle")
    assert FIX in said
