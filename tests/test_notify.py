"""Notifications: the Slack message an on-call engineer reads, and delivery over real loopback HTTP."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakeslack import FakeSlack, Reply, closed_url
from planted import SECRETS, planted_incident

from copilot import __version__, app
from copilot.errors import UsageError
from copilot.notify import (
    Delivery,
    Notice,
    SlackNotifier,
    WebhookNotifier,
    notifiers,
    slack_message,
    webhook_payload,
)
from copilot.rca import RCA, Analysis, Evidence, Fix, ObjectRef, TimelineEntry

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ["Deployment/production/payment-service", "StatefulSet/production/postgres"]
DEMO_FIX = "kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=768Mi"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """slack_sdk sends through HTTPS_PROXY and ignores NO_PROXY: loopback must stay loopback."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def demo_rca() -> RCA:
    src, target = app.incident_source(ROOT / "evals/incidents/payment-db-oom.yaml")
    return app.run_rca(src, target, no_llm=True)


def notice(rca: RCA | None, status: str = "firing", **kw) -> Notice:
    fields = {"key": "StatefulSet/production/postgres", "rca": rca, "workloads": list(WORKLOADS),
              "pods": ["production/payment-service-7d9f8b-xyz"], "cluster": "cluster prod-eu",
              "detected_at": "2026-11-20T14:21:06Z", "restarts": 6, "detail": "payment: CrashLoopBackOff, exit 1"}
    return Notice(status=status, **{**fields, **kw})


def rca(**kw) -> RCA:
    fields = {"category": "invalid_config", "summary": "checkout cannot log in to its database",
              "root_cause": "the DB_PASSWORD in checkout-config is wrong", "confidence": 0.8,
              "culprit": ObjectRef(kind="Deployment", namespace="shop", name="checkout")}
    return RCA(**{**fields, **kw})


def texts(message: dict) -> list[str]:
    """Every text a reader sees, in order."""
    out = [message["text"]]
    for block in message["blocks"]:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [item["text"] for item in block.get("fields", []) + block.get("elements", [])]
    return out


def section(message: dict, title: str) -> str:
    [text] = [t for t in texts(message) if t.startswith(f"*{title}*\n")]
    return text


def slack_violations(message: dict) -> list[str]:
    """What Slack's documented Block Kit limits reject (docs.slack.dev/reference/block-kit), plus our own
    rule that every mrkdwn text closes its code blocks."""
    bad = []
    if not 0 < len(message.get("text", "")) <= 3000:
        bad.append(f"fallback text of {len(message.get('text', ''))} chars")
    blocks = message.get("blocks", [])
    if not 0 < len(blocks) <= 50:
        bad.append(f"{len(blocks)} blocks")
    for i, block in enumerate(blocks):
        kind, elements = block["type"], []
        if kind == "header":
            if block["text"]["type"] != "plain_text" or not 0 < len(block["text"]["text"]) <= 150:
                bad.append(f"block {i}: header {block['text']}")
        elif kind == "section":
            if "text" not in block and not block.get("fields"):
                bad.append(f"block {i}: section with neither text nor fields")
            if "text" in block and not 0 < len(block["text"]["text"]) <= 3000:
                bad.append(f"block {i}: section text of {len(block['text']['text'])} chars")
            fields = block.get("fields", [])
            if len(fields) > 10 or any(not 0 < len(f["text"]) <= 2000 for f in fields):
                bad.append(f"block {i}: fields {[len(f['text']) for f in fields]}")
            elements = [block["text"]] if "text" in block else []
            elements += fields
        elif kind == "context":
            elements = block["elements"]
            if not 0 < len(elements) <= 10 or any(not 0 < len(e["text"]) <= 3000 for e in elements):
                bad.append(f"block {i}: context {[len(e['text']) for e in elements]}")
        elif kind != "divider":
            bad.append(f"block {i}: unexpected type {kind}")
        bad += [f"block {i}: unclosed code block" for e in elements if e["type"] == "mrkdwn" and e["text"].count("```") % 2]
    return bad


def slack_sdk_rejects(message: dict) -> list[str]:
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    errors = []
    for block in message["blocks"]:
        try:
            Block.parse(block).validate_json()
        except SlackObjectFormationError as e:
            errors.append(str(e))
    return errors


# ---- the message ------------------------------------------------------------------------------------------

def test_the_demo_message_names_the_culprit_and_the_fix(demo_rca):
    message = slack_message(notice(demo_rca))
    header = message["blocks"][0]
    assert header["type"] == "header"
    assert header["text"]["text"] == ":rotating_light: CrashLoopBackOff: payment-service ← StatefulSet/production/postgres"
    assert message["text"].startswith("CrashLoopBackOff: payment-service ← StatefulSet/production/postgres — "
                                      "statefulset/postgres was OOMKilled")
    fields = dict(f["text"].split("\n", 1) for f in message["blocks"][1]["fields"])
    assert fields == {"*Status*": "firing", "*Cluster*": "cluster prod-eu", "*Culprit*": "`StatefulSet/production/postgres`",
                      "*Category*": "`dependency_unavailable`", "*Confidence*": "92% · rules", "*Restarts*": "6",
                      "*Detected*": "2026-11-20 14:21:06 UTC"}
    assert section(message, "Impact").splitlines() == [
        "*Impact*", "• `Deployment/production/payment-service`", "• `StatefulSet/production/postgres`",
        "Pods: `production/payment-service-7d9f8b-xyz`", "Trigger: payment: CrashLoopBackOff, exit 1"]
    assert section(message, "Root cause").startswith("*Root cause*\npostgres-0 (statefulset/postgres) was OOMKilled at")
    assert section(message, "Fix") == ("*Fix*\n```\n# raise postgres's memory limit to 768Mi (1.5x the current limit 512Mi)\n"
                                       f"{DEMO_FIX}\n```")
    evidence = section(message, "Evidence").splitlines()
    assert evidence[1:3] == ["`Pod/production/payment-service-7d9f8b-xyz` · logs",
                             ("> 2026-11-20T14:30:19.126Z ERROR could not connect to database: connection to server at "
                              '"postgres.production.svc.cluster.local" (10.96.12.34), port 5432 failed: Connection refused')]
    timeline = section(message, "Timeline").splitlines()
    assert "`14:28:14Z` Pod/production/postgres-0 — container postgres terminated: exit 137 OOMKilled" in timeline
    assert len(timeline) == 1 + 8 + 1 and timeline[-1] == "_+5 more entries in the full RCA_"
    assert message["blocks"][-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"copilot {__version__} · `StatefulSet/production/postgres`"}]}
    assert slack_violations(message) == [] and slack_sdk_rejects(message) == []


@pytest.mark.parametrize("status, header, has_fix", [
    ("firing", ":rotating_light: CrashLoopBackOff: ", True),
    ("changed", ":arrows_counterclockwise: Cause changed: ", True),
    ("reminder", ":hourglass: Still crash-looping: ", True),
    ("resolved", ":white_check_mark: Resolved: ", False),
])
def test_each_status_has_its_header(demo_rca, status, header, has_fix):
    message = slack_message(notice(demo_rca, status, previous="payment: connection refused (no culprit yet)"))
    assert message["blocks"][0]["text"]["text"] == header + "payment-service ← StatefulSet/production/postgres"
    assert any(t.startswith("*Fix*\n```") for t in texts(message)) is has_fix
    context = [e["text"] for e in message["blocks"][-1]["elements"]]
    assert ("Previously: payment: connection refused (no culprit yet)" in context) is (status == "changed")


def test_resolved_without_an_rca_names_the_incident_key():
    message = slack_message(notice(None, "resolved", restarts=9))
    assert message["blocks"][0]["text"]["text"] == ":white_check_mark: Resolved: StatefulSet/production/postgres"
    fields = dict(f["text"].split("\n", 1) for f in message["blocks"][1]["fields"])
    assert fields == {"*Status*": "resolved", "*Cluster*": "cluster prod-eu", "*Restarts*": "9",
                      "*Detected*": "2026-11-20 14:21:06 UTC"}
    assert message["text"] == "Resolved: StatefulSet/production/postgres"
    assert slack_violations(message) == []


def test_the_culprit_alone_when_it_is_the_crashing_workload():
    message = slack_message(notice(rca(), key="Deployment/shop/checkout", workloads=["Deployment/shop/checkout"]))
    assert message["blocks"][0]["text"]["text"] == ":rotating_light: CrashLoopBackOff: Deployment/shop/checkout"


def test_engine_model_and_gaps_are_shown():
    analysis = Analysis(engine="llm+rules", model="gpt-4o-mini", gaps=["metrics: no Prometheus configured",
                                                                      "previous logs of payment: 403 Forbidden"])
    message = slack_message(notice(rca(analysis=analysis, confidence=0.675)))
    fields = dict(f["text"].split("\n", 1) for f in message["blocks"][1]["fields"])
    assert fields["*Confidence*"] == "68% · llm+rules (gpt-4o-mini)"
    assert message["blocks"][-1]["elements"][0]["text"] == (
        "Gaps: metrics: no Prometheus configured; previous logs of payment: 403 Forbidden")


def test_cluster_text_cannot_mention_or_link():
    hostile = "boom <!channel> see <http://evil.example/x|click here> & <@U123> ```"
    message = slack_message(notice(rca(
        summary=hostile, root_cause=hostile,
        evidence=[Evidence(source="logs", resource="Pod/shop/checkout-1", excerpt=f"{hostile}\n<!here> too")],
        timeline=[TimelineEntry(time="2026-11-20T14:28:14Z", resource="Pod/shop/checkout-1", event=hostile)],
        fix=[Fix(command="kubectl -n shop logs checkout-1 --previous > /tmp/checkout.log", explanation=hostile)]),
        detail=hostile, previous=hostile, status="changed"))
    assert "<" not in json.dumps(message) and slack_violations(message) == []  # a ``` from a log opens no code block
    assert [t for t in texts(message) if ">" in re.sub(r"(?m)^> ", "", t)] == []  # only our own quote markers
    assert section(message, "Root cause") == ("*Root cause*\nboom &lt;!channel&gt; see "
                                              "&lt;http://evil.example/x|click here&gt; &amp; &lt;@U123&gt; `\u200b``")
    assert "> &lt;!here&gt; too" in section(message, "Evidence")
    assert "kubectl -n shop logs checkout-1 --previous &gt; /tmp/checkout.log\n```" in section(message, "Fix")
    assert "&lt;!channel&gt;" in message["text"]


def huge_rca() -> RCA:
    line = "E1120 14:30:19 payment " + "x" * 4976
    return rca(
        summary="s" * 5000, root_cause="r" * 10000, category="c" * 3000,
        culprit=ObjectRef(kind="Deployment", namespace="shop", name="n" * 300),
        evidence=[Evidence(source="logs", resource=f"Pod/shop/p-{i}", excerpt="\n".join([line] * 100)) for i in range(10)],
        timeline=[TimelineEntry(time=f"2026-11-20T14:{i % 60:02d}:00Z", resource="Pod/shop/p", event=line) for i in range(100)],
        fix=[Fix(command=f"kubectl -n shop rollout restart deployment/checkout-{i} " + "y" * 400, explanation="e" * 500)
             for i in range(60)],
        analysis=Analysis(engine="llm", model="m" * 500, gaps=["g" * 3000] * 20))


def test_huge_input_stays_within_every_slack_limit():
    message = slack_message(notice(huge_rca(), "changed", workloads=[f"Deployment/shop/w-{i}" for i in range(200)],
                                   pods=[f"shop/p-{i}" for i in range(500)], detail="d" * 5000, previous="p" * 5000,
                                   cluster="c" * 5000))
    assert slack_violations(message) == [] and slack_sdk_rejects(message) == []
    assert message["blocks"][0]["text"]["text"].endswith("…")
    fix = section(message, "Fix")
    assert fix.count("kubectl -n shop rollout restart") == 3 and fix.count("\n# " + "e" * 299 + "…\n") == 3
    assert fix.endswith("y\n```\n_+57 more fix commands in the full RCA_")
    evidence = [t for t in texts(message) if t.startswith(("*Evidence*\n`", "`Pod/shop/p-"))]
    assert len(evidence) == 5 and all(t.count("\n> ") == 5 and "\n> _… +96 lines_" in t for t in evidence)
    assert evidence[-1].endswith("\n_+5 more in the full RCA_")
    assert len(json.dumps(message)) < 40_000


def test_one_enormous_command_is_cut_inside_a_closed_code_block():
    command = "cat <<'EOF' | kubectl apply -f -\n" + "\n".join(f"  key{i}: {'v' * 80}" for i in range(200)) + "\nEOF"
    message = slack_message(notice(rca(fix=[Fix(command=command, explanation="apply the fixed config")])))
    fix = section(message, "Fix")
    assert fix.startswith("*Fix*\n```\n# apply the fixed config\ncat &lt;&lt;'EOF' | kubectl apply -f -\n")
    assert fix.endswith("…\n```") and fix.count("```") == 2 and len(fix) <= 3000
    assert slack_violations(message) == []


def test_a_cut_never_leaves_half_an_entity():
    message = slack_message(notice(rca(root_cause="<" * 5000)))
    text = section(message, "Root cause")
    assert len(text) <= 3000 and re.fullmatch(r"\*Root cause\*\n(&lt;)+…", text)


# ---- redaction --------------------------------------------------------------------------------------------

def planted_records() -> list[str]:
    """The planted incident's log records (a line with its traceback or PEM block) and event messages."""
    spec = planted_incident()["spec"]
    logs = "".join(part for streams in spec["logs"].values() for part in streams.values())
    records = re.split(r"\n(?=2026-)", logs)
    return records + [o["message"] for o in spec["objects"] if o["kind"] == "Event"]


def planted_notices() -> list[Notice]:
    records = planted_records()
    notices = []
    for i in range(0, len(records), 5):
        group = records[i:i + 5]
        notices.append(notice(rca(
            summary=group[0].splitlines()[0], root_cause="\n".join(group),
            evidence=[Evidence(source="logs", resource="Pod/shop/checkout-6f7c9d-k2x4p", excerpt=r) for r in group],
            timeline=[TimelineEntry(time="2026-11-21T09:14:02Z", resource="Pod/shop/checkout", event=r) for r in group],
            fix=[Fix(command=f"echo '{r.splitlines()[0]}'", explanation=r.splitlines()[-1]) for r in group]),
            detail=group[-1].splitlines()[0]))
    return notices


def visible(body: bytes) -> str:
    """The POSTed bytes, then every string in them as a reader sees it (JSON and mrkdwn escapes undone)."""
    def strings(value):
        if isinstance(value, str):
            yield value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
            yield from strings(item)

    return "\n".join([body.decode(), *strings(json.loads(body))])


def test_planted_secrets_never_reach_slack():
    notices = planted_notices()
    planted = [s for s in SECRETS if any(s in r for r in planted_records())]
    assert len(planted) >= 45
    with FakeSlack() as slack:
        deliveries = [SlackNotifier(slack.url, sleep=lambda s: None).send(n) for n in notices]
    assert all(d.ok for d in deliveries)
    sent = "\n".join(visible(p.body) for p in slack.posts)
    assert [s for s in planted if s in sent] == []
    assert [r for r in planted_records() if r[:20] not in sent] == []  # every record was shown
    assert 'password authentication failed for user "checkout"' in sent and "[REDACTED]" in sent


def test_planted_secrets_never_reach_the_webhook():
    notices = planted_notices()
    planted = [s for s in SECRETS if any(s in r for r in planted_records())]
    with FakeSlack() as hook:
        deliveries = [WebhookNotifier(hook.url, sleep=lambda s: None).send(n) for n in notices]
    assert all(d.ok for d in deliveries)
    sent = "\n".join(visible(p.body) for p in hook.posts)
    assert [s for s in planted if s in sent] == []
    evidence = [e["excerpt"] for p in hook.posts for e in p.json["rca"]["evidence"]]
    assert len(evidence) == len(planted_records())  # the webhook carries the whole RCA, not a cut
    assert any("psycopg.OperationalError" in e for e in evidence)


# ---- delivery ---------------------------------------------------------------------------------------------

def test_slack_gets_the_message_as_rendered(demo_rca):
    n = notice(demo_rca)
    with FakeSlack() as slack:
        delivery = SlackNotifier(slack.url).send(n)
    assert delivery == Delivery("slack", True, 200, 1, None)
    [post] = slack.posts
    assert post.path == "/services/T0000000/B0000000/fakefakefakefakefake"
    assert post.headers["content-type"] == "application/json;charset=utf-8"
    assert post.json == {**slack_message(n), "unfurl_links": False, "unfurl_media": False}


def test_429_waits_retry_after_then_succeeds(demo_rca):
    sleeps = []
    with FakeSlack([Reply(429, "rate_limited", {"Retry-After": "1"}), Reply(200, "ok")]) as slack:
        delivery = SlackNotifier(slack.url, sleep=sleeps.append).send(notice(demo_rca))
    assert delivery == Delivery("slack", True, 200, 2, None)
    assert sleeps == [1.0]
    assert [p.status for p in slack.posts] == [429, 200] and slack.posts[0].body == slack.posts[1].body


def test_retry_after_is_capped():
    sleeps = []
    with FakeSlack([Reply(429, "rate_limited", {"Retry-After": "3600"})]) as slack:
        assert SlackNotifier(slack.url, sleep=sleeps.append).send(notice(rca())).ok
    assert sleeps == [30.0]


def test_5xx_backs_off_exponentially_and_gives_up():
    sleeps = []
    with FakeSlack(default=Reply(503, "service_unavailable")) as slack:
        delivery = SlackNotifier(slack.url, attempts=4, sleep=sleeps.append).send(notice(rca()))
    assert delivery == Delivery("slack", False, 503, 4, "HTTP 503: service_unavailable (gave up after 4 attempts)")
    assert len(slack.posts) == 4 and len(sleeps) == 3
    assert 1 <= sleeps[0] <= 2 and 2 <= sleeps[1] <= 3 and 4 <= sleeps[2] <= 5


@pytest.mark.parametrize("status, body", [(404, "no_service"), (400, "invalid_blocks"), (403, "action_prohibited")])
def test_other_4xx_is_final(status, body):
    sleeps = []
    with FakeSlack([Reply(status, body)]) as slack:
        delivery = SlackNotifier(slack.url, sleep=sleeps.append).send(notice(rca()))
    assert delivery == Delivery("slack", False, status, 1, f"HTTP {status}: {body}")
    assert len(slack.posts) == 1 and sleeps == []


@pytest.mark.parametrize("cls", [SlackNotifier, WebhookNotifier])
def test_nobody_listening_is_a_failed_delivery_not_an_exception(cls):
    sleeps = []
    delivery = cls(closed_url(), attempts=3, sleep=sleeps.append).send(notice(rca()))
    assert (delivery.ok, delivery.status, delivery.attempts, len(sleeps)) == (False, None, 3, 2)
    assert re.fullmatch(r"connection failed: .*Connection refused.* \(gave up after 3 attempts\)", delivery.error)


@pytest.mark.parametrize("cls", [SlackNotifier, WebhookNotifier])
def test_timeouts_and_dropped_connections_are_retried(cls):
    with FakeSlack([Reply(delay=1.0), Reply(drop=True), Reply(200, "ok")]) as server:
        delivery = cls(server.url, timeout=0.2, sleep=lambda s: None).send(notice(rca()))
    assert (delivery.ok, delivery.attempts) == (True, 3)


def test_timeout_reported_in_one_line():
    with FakeSlack(default=Reply(delay=1.0)) as slack:
        delivery = SlackNotifier(slack.url, timeout=0.2, attempts=2, sleep=lambda s: None).send(notice(rca()))
    assert not delivery.ok and "timed out" in delivery.error and "\n" not in delivery.error


def test_webhook_posts_the_versioned_json(demo_rca):
    n = notice(demo_rca)
    with FakeSlack(default=Reply(202, "")) as hook:
        delivery = WebhookNotifier(hook.url, headers={"Authorization": "Bearer hook-token"}).send(n)
    assert delivery == Delivery("webhook", True, 202, 1, None)
    [post] = hook.posts
    assert post.headers["content-type"] == "application/json" and post.headers["authorization"] == "Bearer hook-token"
    assert post.headers["user-agent"] == f"copilot/{__version__}"
    assert post.json == webhook_payload(n)
    assert post.json == {
        "version": 1, "status": "firing", "title": "CrashLoopBackOff: payment-service ← StatefulSet/production/postgres",
        "key": "StatefulSet/production/postgres", "cluster": "cluster prod-eu", "workloads": WORKLOADS,
        "pods": ["production/payment-service-7d9f8b-xyz"], "detected_at": "2026-11-20T14:21:06Z", "restarts": 6,
        "previous": None, "detail": "payment: CrashLoopBackOff, exit 1", "rca": demo_rca.model_dump(mode="json"),
        "copilot": __version__}


def test_webhook_resolved_without_rca():
    payload = webhook_payload(notice(None, "resolved"))
    assert payload["rca"] is None and payload["title"] == "Resolved: StatefulSet/production/postgres"


def test_webhook_redirect_is_not_followed():
    with FakeSlack([Reply(302, "", {"Location": "https://alerts.example.com/new"})]) as hook:
        delivery = WebhookNotifier(hook.url, sleep=lambda s: None).send(notice(rca()))
    assert delivery == Delivery("webhook", False, 302, 1, "HTTP 302: redirected to https://alerts.example.com/new, "
                                                         "not followed: configure that URL")
    assert len(hook.posts) == 1


def test_webhook_5xx_then_2xx():
    sleeps = []
    with FakeSlack([Reply(502, "bad gateway"), Reply(204, "")]) as hook:
        delivery = WebhookNotifier(hook.url, sleep=sleeps.append).send(notice(rca()))
    assert delivery == Delivery("webhook", True, 204, 2, None) and len(sleeps) == 1


def test_fakeslack_records_posts_from_another_thread():
    import threading

    with FakeSlack() as slack:
        slack.script(Reply(500, "oops"))
        threading.Thread(target=SlackNotifier(slack.url, sleep=lambda s: None).send, args=(notice(rca()),)).start()
        posts = slack.wait_for(2)
    assert [p.status for p in posts] == [500, 200]
    with pytest.raises(AssertionError, match="expected 3 POSTs"):
        slack.wait_for(3, timeout=0.1)


# ---- configuration ----------------------------------------------------------------------------------------

def test_notifiers_for_the_urls_given():
    [slack, hook] = notifiers("https://hooks.slack.com/services/T0/B0/x", " http://127.0.0.1:9000/hook\n")
    assert (type(slack), slack.url, type(hook), hook.url) == (SlackNotifier, "https://hooks.slack.com/services/T0/B0/x",
                                                              WebhookNotifier, "http://127.0.0.1:9000/hook")
    assert notifiers(None, None) == []


@pytest.mark.parametrize("slack_url, webhook_url, problem", [
    ("hooks.slack.com/services/T0/B0/s3cr3t", None, "its scheme is not http(s)"),
    ("ftp://hooks.slack.com/services/T0/B0/s3cr3t", None, "its scheme is not http(s)"),
    ("https:///services/T0/B0/s3cr3t", None, "it has no host"),
    (None, "https://alerts.example.com:s3cr3t/hook", "its port is not valid"),
    (None, "file:///etc/s3cr3t", "its scheme is not http(s)"),
])
def test_a_url_that_is_no_http_says_how_to_fix_it(slack_url, webhook_url, problem):
    with pytest.raises(UsageError) as e:
        notifiers(slack_url, webhook_url)
    expected = ("the Slack webhook URL must be http(s)://host/path, but {}: give one like "
                "https://hooks.slack.com/services/T…/B…/… (Slack app > Incoming Webhooks > Webhook URL)" if slack_url else
                "the webhook URL must be http(s)://host/path, but {}: give one like https://alerts.example.com/hooks/copilot")
    assert str(e.value) == expected.format(problem)  # one line, and never the URL: it is a secret


def test_only_notify_imports_slack_sdk_and_only_when_sending():
    users = []
    for path in (ROOT / "copilot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "slack_sdk" for n in names):
                users.append(str(path.relative_to(ROOT)))
    assert set(users) == {"copilot/notify.py"}
    code = ("import sys, copilot.notify\nfrom copilot.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('slack_sdk loaded:', any(m.startswith('slack_sdk') for m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "Usage:" in out.stdout and out.stderr.strip() == "slack_sdk loaded: False"
