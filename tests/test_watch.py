"""copilot watch: detection, dedup and state, the real watch path over the replay, Slack through real HTTP."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from builders import status, terminated
from fakeslack import FakeSlack, Reply

from copilot.errors import Gone, Unreachable, UsageError
from copilot.incident import load_incident
from copilot.replay import ReplayServer, write_kubeconfig
from copilot.sources.snapshot import IncidentSource
from copilot.watch import parse_duration
from copilot.watch.detect import triggers, workload_of
from copilot.watch.health import serve_health
from copilot.watch.loop import Health, Options, Watcher
from copilot.watch.state import State

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "evals" / "incidents" / "payment-db-oom.yaml"
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc)


def pod(statuses, name="web-7f9c-abcde", owner=("ReplicaSet", "web-7f9c"), labels=None, init=None, **meta):
    labels = {"pod-template-hash": "7f9c", **(labels or {})}
    m = {"name": name, "namespace": "shop", "labels": labels, **meta}
    if owner:
        m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    st = {"phase": "Running", "containerStatuses": statuses}
    if init:
        st["initContainerStatuses"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "status": st}


# --- detection -------------------------------------------------------------

RECENT = terminated(1, finished="2026-03-02T10:28:05Z")
OLD = terminated(1, finished="2026-03-02T08:00:00Z")


@pytest.mark.parametrize("statuses, min_restarts, want", [
    ([status(restarts=4, last=RECENT)], 1, [("CrashLoopBackOff", 1)]),
    ([status(restarts=4, last=terminated(137, "OOMKilled"))], 1, [("OOMKilled", 137)]),
    ([status(restarts=1, waiting=None, last=terminated(137, "OOMKilled"))], 1, [("OOMKilled", 137)]),   # running again, OOMKilled 2 min ago
    ([status(restarts=1, waiting=None, last=terminated(137, "OOMKilled"))], 3, []),                     # below --min-restarts
    ([status(restarts=6, waiting=None, last=OLD)], 1, []),                                              # recovered long ago
    ([status(restarts=2, waiting=None, last=terminated(0, "Completed"))], 1, []),                       # a clean exit is not a crash
    ([status(restarts=0, waiting="CreateContainerConfigError")], 1, [("CreateContainerConfigError", None)]),
    ([status(restarts=0, waiting="ImagePullBackOff")], 5, [("ImagePullBackOff", None)]),                # no restarts needed
    ([status(restarts=0, waiting="ContainerCreating")], 1, []),
    ([status(restarts=0, waiting=None, ready=True)], 1, []),
    ([status(restarts=3, waiting=None, state=terminated(2, finished="2026-03-02T10:29:00Z"))], 1, [("Error", 2)]),
])
def test_triggers_key_on_waiting_reasons_exit_codes_restarts_and_recency(statuses, min_restarts, want):
    found = triggers(pod(statuses), NOW, min_restarts)
    assert [(t.reason, t.exit_code) for t in found] == want


def test_triggers_cover_init_containers_and_skip_pods_being_deleted():
    init = [status(name="migrate", restarts=3, last=RECENT)]
    found = triggers(pod([status(restarts=0, waiting="PodInitializing")], init=init), NOW)
    assert [(t.container, t.reason) for t in found] == [("migrate", "CrashLoopBackOff")]
    assert triggers(pod([status(restarts=4, last=RECENT)], deletionTimestamp="2026-03-02T10:29:50Z"), NOW) == []


def test_signature_ignores_the_restart_count_so_a_crash_loop_is_one_failure():
    a = triggers(pod([status(restarts=4, last=RECENT)]), NOW)[0]
    b = triggers(pod([status(restarts=9, last=RECENT)]), NOW)[0]
    assert a.signature == b.signature == "app: CrashLoopBackOff exit 1" and a.restarts != b.restarts


@pytest.mark.parametrize("owner, labels, want", [
    (("ReplicaSet", "web-7f9c"), {}, "Deployment/shop/web"),
    (("ReplicaSet", "legacy-rs"), {"pod-template-hash": "zzz"}, "ReplicaSet/shop/legacy-rs"),
    (("StatefulSet", "postgres"), {}, "StatefulSet/shop/postgres"),
    (("Job", "backup-29123456"), {}, "CronJob/shop/backup"),
    (("Job", "migrate-v2"), {}, "Job/shop/migrate-v2"),
    (None, {}, "Pod/shop/web-7f9c-abcde"),
])
def test_workload_of_groups_pods_by_their_controller(owner, labels, want):
    assert workload_of(pod([], owner=owner, labels=labels)) == want


@pytest.mark.parametrize("text, seconds", [("4h", 14400), ("30m", 1800), ("90s", 90), ("1h30m", 5400), ("2d", 172800), ("45", 45)])
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "4 hours", "h", "-1h", "1h30"])
def test_parse_duration_rejects_what_it_cannot_read(text):
    with pytest.raises(UsageError, match="give a duration like"):
        parse_duration(text)


# --- the loop over a scripted source: dedup, changes, recovery ----------------

def rca(category, culprit=("StatefulSet", "shop", "db"), timeline=1, confidence=0.9):
    from copilot.rca import RCA, ObjectRef, TimelineEntry

    return RCA(category=category, summary=f"{category} on {culprit[2]}", root_cause="because", confidence=confidence,
               culprit=ObjectRef(kind=culprit[0], namespace=culprit[1], name=culprit[2]),
               timeline=[TimelineEntry(time="2026-03-02T10:28:05Z", resource="Pod/shop/x", event="e")] * timeline)


class Pods:
    """A source whose pods the test changes between passes, and whose clock the test moves."""

    description = "cluster test"

    def __init__(self, pods):
        self.pods, self.now_ = list(pods), NOW

    def now(self):
        return self.now_

    def list(self, kind, namespace, *_):
        assert kind == "Pod"
        return copy.deepcopy(self.pods)


class Recorder:
    channel = "test"

    def __init__(self, ok=True):
        self.notices, self.ok = [], ok

    def send(self, notice):
        self.notices.append(notice)
        return SimpleNamespace(channel="test", ok=self.ok, status=200 if self.ok else 500, attempts=1, error=None if self.ok else "HTTP 500")


def once(source, state, diagnose, channel, **options):
    out = io.StringIO()
    Watcher(source, state, diagnose, [channel], Options(**options), out).once()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def crashing(name, owner):
    return pod([status(restarts=4, last=RECENT)], name=name, owner=owner)


def test_a_cascade_is_one_message_and_a_second_pass_is_silent(tmp_path):
    source = Pods([crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c")), crashing("db-0", ("StatefulSet", "db"))])
    verdicts = {"api-7f9c-1": rca("dependency_unavailable", timeline=3), "db-0": rca("oom_killed")}
    channel = Recorder()
    lines = once(source, State(tmp_path / "s.json"), lambda t: verdicts[t.pod], channel)
    assert [n.status for n in channel.notices] == ["firing"]
    notice = channel.notices[0]
    assert notice.key == "StatefulSet/shop/db" and notice.rca.category == "dependency_unavailable"  # the longer causal chain
    assert notice.workloads == ["Deployment/shop/api", "StatefulSet/shop/db"]
    assert [e["event"] for e in lines] == ["detected", "detected", "diagnosed", "diagnosed", "notified"]
    again = once(source, State(tmp_path / "s.json"), lambda t: pytest.fail("diagnosed again"), channel)
    assert len(channel.notices) == 1 and again == []


def test_cooldown_then_reminder_and_a_changed_cause_says_so(tmp_path):
    source = Pods([crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c"))])
    channel, state = Recorder(), State(tmp_path / "s.json")
    once(source, state, lambda t: rca("oom_killed"), channel, rediagnose=timedelta(0))
    source.now_ += timedelta(hours=1)
    lines = once(source, state, lambda t: rca("oom_killed"), channel, rediagnose=timedelta(0))
    assert len(channel.notices) == 1 and lines[-1]["event"] == "suppressed" and "cooldown" in lines[-1]["why"]
    source.now_ += timedelta(hours=4)
    once(source, state, lambda t: rca("oom_killed"), channel, rediagnose=timedelta(0))
    assert [n.status for n in channel.notices] == ["firing", "reminder"]
    source.now_ += timedelta(minutes=5)
    once(source, state, lambda t: rca("invalid_config", culprit=("ConfigMap", "shop", "api-config")), channel, rediagnose=timedelta(0))
    assert [n.status for n in channel.notices] == ["firing", "reminder", "changed"]
    assert channel.notices[-1].key == "ConfigMap/shop/api-config" and channel.notices[-1].previous == "oom_killed StatefulSet/shop/db"


def test_recovery_is_reported_once_after_staying_healthy(tmp_path):
    source = Pods([crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c"))])
    channel, state = Recorder(), State(tmp_path / "s.json")
    once(source, state, lambda t: rca("oom_killed"), channel)
    source.pods = [pod([status(restarts=4, waiting=None, ready=True, last=OLD)], name="api-7f9c-1", owner=("ReplicaSet", "api-7f9c"))]
    source.now_ += timedelta(minutes=1)
    once(source, state, lambda t: rca("oom_killed"), channel)
    assert [n.status for n in channel.notices] == ["firing"]               # healthy for a minute only: a crash loop has such pauses
    source.now_ += timedelta(minutes=15)
    once(source, state, lambda t: rca("oom_killed"), channel)
    source.now_ += timedelta(minutes=15)
    once(source, state, lambda t: rca("oom_killed"), channel)
    assert [n.status for n in channel.notices] == ["firing", "resolved"]
    source.pods = [crashing("api-7f9c-2", ("ReplicaSet", "api-7f9c"))]
    once(source, state, lambda t: rca("oom_killed"), channel)
    assert [n.status for n in channel.notices] == ["firing", "resolved", "firing"]


def test_an_undelivered_message_is_tried_again_next_pass(tmp_path):
    source = Pods([crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c"))])
    state = State(tmp_path / "s.json")
    lines = once(source, state, lambda t: rca("oom_killed"), Recorder(ok=False))
    assert lines[-1]["event"] == "notify_failed"
    channel = Recorder()
    once(source, State(tmp_path / "s.json"), lambda t: rca("oom_killed"), channel)
    assert [n.status for n in channel.notices] == ["firing"]


def test_state_is_written_atomically_and_a_corrupt_file_is_one_clear_error(tmp_path):
    path = tmp_path / "s.json"
    once(Pods([crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c"))]), State(path), lambda t: rca("oom_killed"), Recorder())
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and list(doc["incidents"]) == ["StatefulSet/shop/db"]
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left behind
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"--state .*s\.json: cannot read it .*move it aside"):
        State(path)


def test_a_diagnosis_that_fails_is_reported_and_the_others_go_on(tmp_path):
    from copilot.errors import NotFound

    def diagnose(t):
        if t.pod == "gone-7f9c-1":
            raise NotFound('pods "gone-7f9c-1" not found')
        return rca("oom_killed")
    source = Pods([crashing("gone-7f9c-1", ("ReplicaSet", "gone-7f9c")), crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c"))])
    channel = Recorder()
    lines = once(source, State(tmp_path / "s.json"), diagnose, channel)
    assert any(e["event"] == "error" and "not found" in e["error"] for e in lines)
    assert [n.workloads for n in channel.notices] == [["Deployment/shop/api"]]


# --- the real watch path: list + watch through KubeSource against the replay ---

def kube(server, tmp_path):
    from copilot.sources.kube import KubeSource

    return KubeSource(kubeconfig=write_kubeconfig(tmp_path / "kc", server.url))


def diagnose_with(source):
    from copilot import app

    return lambda t: app.diagnose(source, app.Target(t.namespace, t.pod), no_llm=True).rca


def test_watch_reports_a_pod_that_starts_crash_looping_naming_the_culprit(tmp_path):
    from copilot.notify import SlackNotifier

    with ReplayServer(load_incident(DEMO)) as server, FakeSlack() as slack:
        recorded = server.api.store.rewind()
        source = kube(server, tmp_path)
        out = io.StringIO()
        watcher = Watcher(source, State(tmp_path / "s.json"), diagnose_with(source), [SlackNotifier(slack.url)],
                          Options(namespace=None), out)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not watcher.health.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.health.ready and slack.posts == []          # healthy before the incident: nothing said
        server.api.store.play(recorded)
        posts = slack.wait_for(1, timeout=20)
        time.sleep(1.5)                                               # no second message for the same incident
        stop.set()
        thread.join(10)
    assert len(slack.posts) == 1
    blocks = json.dumps(posts[0].json["blocks"])
    assert "postgres" in posts[0].json["blocks"][0]["text"]["text"] and "--limits=memory=" in blocks
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events[0] == "watching" and "notified" in events and not thread.is_alive()
    watching = json.loads(out.getvalue().splitlines()[0])
    assert watching["scope"] == "all namespaces" and watching["pods"] == 2


class Flaky:
    """A source whose watch fails the way API servers do: 410 Gone once, a dropped stream once, then events."""

    description = "cluster flaky"

    def __init__(self, crash):
        self.crash, self.lists, self.watches = crash, 0, 0

    def now(self):
        return NOW

    def list_at(self, kind, namespace, *_):
        self.lists += 1
        return [], str(self.lists)

    def watch(self, kind, namespace, version, timeout):
        self.watches += 1
        if self.watches == 1:
            raise Gone("watch pods: too old resource version")
        if self.watches == 2:
            yield "ADDED", pod([status(restarts=0, ready=True, waiting=None)], name="other-7f9c-1", owner=("ReplicaSet", "other-7f9c"))
            raise Unreachable("cannot reach the cluster at https://api: the connection was closed by the server")
        yield "MODIFIED", self.crash
        while True:
            time.sleep(0.05)
            yield "BOOKMARK", {"metadata": {"resourceVersion": "99"}}


def test_the_watch_resyncs_on_410_and_reconnects_after_a_dropped_stream(tmp_path):
    source, channel, out = Flaky(crashing("api-7f9c-1", ("ReplicaSet", "api-7f9c"))), Recorder(), io.StringIO()
    watcher = Watcher(source, State(), lambda t: rca("oom_killed"), [channel], Options(batch_window_s=0.05), out)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not channel.notices and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.index("resync") < kinds.index("reconnect") < kinds.index("notified")
    assert source.lists == 2 and [n.status for n in channel.notices] == ["firing"]


def test_a_forbidden_watch_stops_the_watcher_with_one_clear_error():
    from copilot.errors import CopilotError, Forbidden

    class Denied(Flaky):
        def list_at(self, *_):
            raise Forbidden("forbidden: cannot list pods at cluster scope (user system:serviceaccount:copilot:copilot)")

    watcher = Watcher(Denied(None), State(), lambda t: None, [], Options(), io.StringIO())
    with pytest.raises(CopilotError, match="forbidden: cannot list pods"):
        watcher.run(threading.Event())


def test_health_endpoints_follow_the_loop():
    health = Health()
    server = serve_health(health, 0, "127.0.0.1")
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def get(path):
        try:
            with urllib.request.urlopen(url + path, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
    try:
        assert (get("/healthz"), get("/readyz")) == (200, 503)
        health.ready = True
        assert get("/readyz") == 200
        health.beat -= 600
        assert get("/healthz") == 503
        health.beat += 600
        health.fatal = "forbidden"
        assert (get("/healthz"), get("/readyz"), get("/nope")) == (503, 503, 404)
    finally:
        server.shutdown()


# --- the command, as a user runs it ---------------------------------------------

def copilot(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", **(env or {})})


def test_once_against_the_replayed_demo_posts_one_block_kit_message_then_nothing(tmp_path):
    with ReplayServer(load_incident(DEMO)) as server, FakeSlack() as slack:
        kubeconfig = write_kubeconfig(tmp_path / "kc", server.url)
        state = tmp_path / "state.json"
        args = ["watch", "-A", "--once", "--slack-webhook", slack.url, "--state", str(state), "--kubeconfig", str(kubeconfig)]
        first = copilot(*args)
        assert first.returncode == 0, first.stderr
        assert len(slack.posts) == 1
        message = slack.posts[0].json
        assert message["blocks"][0]["type"] == "header" and "postgres" in message["blocks"][0]["text"]["text"]
        assert "StatefulSet/production/postgres" in json.dumps(message)
        lines = [json.loads(line) for line in first.stdout.splitlines()]
        assert [e["event"] for e in lines if e["event"] == "notified"] == ["notified"]
        assert "note: no LLM configured" in first.stderr
        second = copilot(*args)
        assert second.returncode == 0 and len(slack.posts) == 1 and second.stdout == ""
        methods = {method for method, _ in server.requests}
    assert methods == {"GET"}


@pytest.mark.parametrize("args, message", [
    (["-n", "shop", "-A"], "give -n NAMESPACE or -A, not both"),
    (["--incident", str(DEMO)], "add --once"),
    (["--once", "--incident", str(DEMO), "--cooldown", "soon"], "--cooldown 'soon': give a duration"),
    (["--once", "--incident", str(DEMO), "--slack-webhook", "hooks.slack.com/x"], "Slack webhook URL must be http(s)://"),
])
def test_bad_options_are_one_line_and_exit_2(args, message):
    result = copilot("watch", "--no-llm", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_once_on_an_incident_file_with_a_failing_slack_still_exits_0_and_says_so(tmp_path):
    with FakeSlack(default=Reply(500, "internal_error")) as slack:
        result = copilot("watch", "--once", "--incident", str(DEMO), "--no-llm", "--slack-webhook", slack.url,
                         )
    assert result.returncode == 0, result.stderr
    failed = [json.loads(line) for line in result.stdout.splitlines() if '"notify_failed"' in line]
    assert len(failed) == 1 and failed[0]["deliveries"][0]["ok"] is False


def test_watch_rewound_replay_kubectl_sees_the_incident_start(tmp_path):
    server = ReplayServer(load_incident(DEMO))
    store = server.api.store
    recorded = store.rewind()
    with server:
        before = store.get("Pod", "production", "payment-service-7d9f8b-xyz")
        assert before["status"]["containerStatuses"][0]["state"].keys() == {"running"}
        assert store.log_text("production", "payment-service-7d9f8b-xyz", "payment", previous=True) is None
        assert store.list("Event", "production") == []
        assert store.play(recorded) == len(recorded)
        after = store.get("Pod", "production", "payment-service-7d9f8b-xyz")
        assert after["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert int(after["metadata"]["resourceVersion"]) > 1 and store.list("Event", "production")


def test_incident_source_once_works_without_a_cluster(tmp_path):
    source = IncidentSource(load_incident(DEMO))
    channel = Recorder()
    once(source, State(), diagnose_with(source), channel)
    assert [n.key for n in channel.notices] == ["StatefulSet/production/postgres"]


def test_with_an_llm_configured_the_message_carries_the_guarded_llm_rca(tmp_path):
    from demo_answers import RIGHT
    from fakeopenai import FakeOpenAI, answer

    with FakeOpenAI([answer(RIGHT)]) as llm, FakeSlack() as slack:
        result = copilot("watch", "--once", "--incident", str(DEMO), "--slack-webhook", slack.url,
                         env={"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-test-watch-key-0123456789",
                              "XDG_CACHE_HOME": str(tmp_path / "cache")})
        posts = slack.posts
    assert result.returncode == 0, result.stderr
    diagnosed = [json.loads(line) for line in result.stdout.splitlines() if '"diagnosed"' in line]
    assert {d["engine"] for d in diagnosed} & {"llm+rules", "llm"} and len(llm.requests) >= 2
    assert len(posts) == 1 and "postgres" in posts[0].json["blocks"][0]["text"]["text"]
    assert b"sk-test-watch-key" not in posts[0].body
