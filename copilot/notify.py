"""Notices -> Slack (incoming webhook) and generic JSON webhooks; the only module that imports slack_sdk.

A notice renders once into a redacted payload within Slack's limits, then goes out under one named retry
policy (429 honouring Retry-After, 5xx, connection errors). Sending never raises: it returns a Delivery.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from copilot import __version__
from copilot.bundle import parse_time
from copilot.errors import UsageError
from copilot.rca import RCA, Evidence, Fix, TimelineEntry
from copilot.redact import redact_any, redact_text

# Slack's documented limits (docs.slack.dev/reference/block-kit): blocks per message, header text,
# section text, fields per section and their text, context elements, any other text object.
MAX_BLOCKS, MAX_HEADER, MAX_SECTION, MAX_FIELDS, MAX_FIELD, MAX_ELEMENTS, MAX_TEXT = 50, 150, 3000, 10, 2000, 10, 3000
# What one message shows before it says "+N more".
SHOWN_EVIDENCE, SHOWN_EXCERPT_LINES, SHOWN_TIMELINE, SHOWN_NAMES, LINE = 5, 4, 8, 8, 300
RETRY_AFTER_CAP = 30.0

_TITLES = {"firing": (":rotating_light:", "CrashLoopBackOff"), "changed": (":arrows_counterclockwise:", "Cause changed"),
           "resolved": (":white_check_mark:", "Resolved"), "reminder": (":hourglass:", "Still crash-looping")}
# Timeline entries that say what broke are shown before the merely recent ones.
_SIGNAL = re.compile(r"(?i)terminated|oomkilled|killed|exit|fail|error|back-?off|unhealthy|evicted|refused")

# slack_sdk logs the webhook URL (a secret) at debug, and errors the Delivery reports anyway: kept here.
_SDK_LOG = logging.getLogger("copilot.notify.slack_sdk")
_SDK_LOG.addHandler(logging.NullHandler())
_SDK_LOG.propagate = False


@dataclass
class Notice:
    status: str  # "firing" | "changed" | "resolved" | "reminder"
    key: str  # incident key, e.g. "StatefulSet/production/postgres"
    rca: RCA | None  # None is allowed for "resolved"
    workloads: list[str]
    pods: list[str]  # "ns/name"
    cluster: str  # KubeSource.description, e.g. "cluster prod-eu"
    detected_at: str  # ISO 8601 UTC of first detection
    restarts: int = 0  # highest restartCount among the affected pods
    previous: str | None = None  # for "changed": the previous cause one-liner
    detail: str | None = None  # free text, e.g. the trigger "payment: CrashLoopBackOff, exit 1"


@dataclass
class Delivery:
    channel: str  # "slack" | "webhook"
    ok: bool
    status: int | None  # the last HTTP status, None when no answer came
    attempts: int
    error: str | None  # one line


def slack_message(notice: Notice) -> dict:
    """{"text": fallback, "blocks": [...]}: Block Kit, cluster text escaped, redacted, within Slack's limits."""
    n = _redacted(notice)
    rca, full = n.rca, n.status != "resolved"
    emoji, title = _title(n)
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": f"{emoji} {title}", "emoji": True}},
                          {"type": "section", "fields": [_mrkdwn(f"*{k}*\n{v}") for k, v in _fields(n)]}]
    if rca:
        blocks.append(_section(f"*{_esc(_oneline(rca.summary))}*" if full else f"_Was:_ {_esc(_oneline(rca.summary))}"))
    blocks.append(_section(_impact(n)))
    if rca and full:
        blocks.append(_section(f"*Root cause*\n{_esc(rca.root_cause)}"))
        blocks += [_section(text) for text in _evidence(rca.evidence)]
        if rca.timeline:
            blocks.append(_section(_timeline(rca.timeline)))
        if rca.fix:
            blocks.append(_section(_fix(rca.fix)))
    blocks.append({"type": "context", "elements": [_mrkdwn(text) for text in _context(n)]})
    summary = f" — {_oneline(rca.summary)}" if rca else ""
    return _fit(redact_any({"text": _esc(f"{title}{summary}"), "blocks": blocks}))


def webhook_payload(notice: Notice) -> dict:
    """The generic webhook's JSON body (version 1): the notice and the whole RCA, redacted."""
    n = notice
    return redact_any({
        "version": 1, "status": n.status, "title": _title(n)[1], "key": n.key, "cluster": n.cluster,
        "workloads": list(n.workloads), "pods": list(n.pods), "detected_at": n.detected_at, "restarts": n.restarts,
        "previous": n.previous, "detail": n.detail, "rca": n.rca.model_dump(mode="json") if n.rca else None,
        "copilot": __version__,
    })


def _redacted(n: Notice) -> Notice:
    """Secrets go before anything is cut, so that no truncated secret escapes its pattern."""
    rca = RCA.model_validate(redact_any(n.rca.model_dump())) if n.rca else None
    return replace(n, rca=rca, key=redact_text(n.key), cluster=redact_text(n.cluster), workloads=redact_any(n.workloads),
                   pods=redact_any(n.pods), previous=redact_any(n.previous), detail=redact_any(n.detail))


def _title(n: Notice) -> tuple[str, str]:
    """(emoji, one line naming what crash-loops and the culprit), e.g. "CrashLoopBackOff: payment ← StatefulSet/ns/db"."""
    emoji, words = _TITLES.get(n.status, (":warning:", n.status))
    subject = n.key
    if n.rca:
        culprit = str(n.rca.culprit)
        victims = [w.rsplit("/", 1)[-1] for w in n.workloads if w.lower() != culprit.lower()]
        subject = f"{_listed(victims, 3)} ← {culprit}" if victims else culprit
    return emoji, _oneline(f"{words}: {subject}")


def _fields(n: Notice) -> list[tuple[str, str]]:
    fields = [("Status", n.status), ("Cluster", _esc(n.cluster))]
    if n.rca:
        a = n.rca.analysis
        engine = f"{a.engine} ({a.model})" if a.model else a.engine
        fields += [("Culprit", f"`{_esc(str(n.rca.culprit))}`"), ("Category", f"`{_esc(n.rca.category)}`"),
                   ("Confidence", f"{n.rca.confidence:.0%} · {_esc(engine)}")]
    return fields + [("Restarts", str(n.restarts)), ("Detected", _esc(_when(n.detected_at, "%Y-%m-%d %H:%M:%S UTC")))]


def _impact(n: Notice) -> str:
    lines = ["*Impact*", *(f"• `{_esc(w)}`" for w in n.workloads[:SHOWN_NAMES])]
    if len(n.workloads) > SHOWN_NAMES:
        lines.append(f"• _+{len(n.workloads) - SHOWN_NAMES} more workloads_")
    if n.pods:
        lines.append(f"Pods: {_esc(_listed([f'`{p}`' for p in n.pods], SHOWN_NAMES))}")
    if n.detail:
        lines.append(f"Trigger: {_esc(_oneline(n.detail))}")
    return "\n".join(lines)


def _evidence(evidence: list[Evidence]) -> list[str]:
    """One section per excerpt, its lines quoted."""
    texts = []
    for e in evidence[:SHOWN_EVIDENCE]:
        lines = [line for line in e.excerpt.splitlines() if line.strip()]
        quoted = [f"> {_clip(_esc(line), LINE)}" for line in lines[:SHOWN_EXCERPT_LINES]]
        if len(lines) > SHOWN_EXCERPT_LINES:
            quoted.append(f"> _… +{len(lines) - SHOWN_EXCERPT_LINES} lines_")
        texts.append("\n".join([f"`{_esc(e.resource)}` · {e.source}", *quoted]))
    if texts:
        texts[0] = f"*Evidence*\n{texts[0]}"
        if len(evidence) > SHOWN_EVIDENCE:
            texts[-1] += f"\n_+{len(evidence) - SHOWN_EVIDENCE} more in the full RCA_"
    return texts


def _timeline(timeline: list[TimelineEntry]) -> str:
    """What broke first, then the most recent; in time order."""
    ranked = sorted(range(len(timeline)), key=lambda i: (not _SIGNAL.search(timeline[i].event), -i))
    shown = [timeline[i] for i in sorted(ranked[:SHOWN_TIMELINE])]
    lines = [f"`{_esc(_when(t.time, '%H:%M:%SZ'))}` {_esc(t.resource)} — {_clip(_esc(_oneline(t.event)), LINE)}"
             for t in shown]
    more = [f"_+{len(timeline) - len(shown)} more entries in the full RCA_"] if len(timeline) > len(shown) else []
    return "\n".join(["*Timeline*", *lines, *more])


def _fix(fixes: list[Fix]) -> str:
    """Whole commands in one closed code block, each under its `# explanation`; what does not fit is counted."""
    head, tail, room = "*Fix*\n```\n", "\n```", MAX_SECTION - 80
    items: list[str] = []
    for f in fixes:
        item = f"# {_clip(_esc(_oneline(f.explanation)), LINE)}\n{_clip(_esc(f.command), 1000)}"
        if len(head) + len("\n\n".join([*items, item])) + len(tail) > room:
            break
        items.append(item)
    more = f"\n_+{len(fixes) - len(items)} more fix commands in the full RCA_" if len(items) < len(fixes) else ""
    return head + "\n\n".join(items) + tail + more


def _context(n: Notice) -> list[str]:
    texts = []
    if n.status == "changed" and n.previous:
        texts.append(f"Previously: {_clip(_esc(_oneline(n.previous)), 500)}")
    if n.rca and n.rca.analysis.gaps:
        texts.append(f"Gaps: {_clip(_esc('; '.join(_oneline(g) for g in n.rca.analysis.gaps)), 1000)}")
    return [*texts, f"copilot {__version__} · `{_esc(n.key)}`"]


def _fit(message: dict) -> dict:
    """Every limit enforced once more on the final payload (redaction may have changed lengths)."""
    blocks = message["blocks"]
    if len(blocks) > MAX_BLOCKS:
        blocks[:] = blocks[: MAX_BLOCKS - 1] + blocks[-1:]
    for block in blocks:
        if block["type"] == "header":
            block["text"]["text"] = _clip(block["text"]["text"], MAX_HEADER)
        elif block["type"] == "context":
            block["elements"] = [{**e, "text": _clip(e["text"], MAX_TEXT)} for e in block["elements"][:MAX_ELEMENTS]]
        if block["type"] == "section" and "text" in block:
            block["text"]["text"] = _clip(block["text"]["text"], MAX_SECTION)
        if "fields" in block:
            block["fields"] = [{**f, "text": _clip(f["text"], MAX_FIELD)} for f in block["fields"][:MAX_FIELDS]]
    message["text"] = _clip(message["text"], MAX_TEXT)
    return message


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _esc(text: str) -> str:
    """Slack's three control characters, so that `<!channel>` or `<http://x|click>` from a log stays text;
    and a ``` from the cluster is broken up, so that only ours open and close code blocks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("```", "`\u200b``")


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in … when cut; never inside an &entity; or leaving a ``` block open."""
    if len(text) <= limit:
        return text
    for room in (limit - 1, limit - 5):  # the second time, with room to close the code block the cut is in
        cut = text[:room]
        amp = cut.rfind("&", max(0, room - 5))
        cut = cut[:amp] if amp >= 0 and ";" not in cut[amp:] else cut
        if cut.count("```") % 2 == 0:
            return cut + "…"
    return cut + "…\n```"


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _listed(names: list[str], n: int) -> str:
    return ", ".join(names[:n]) + (f" +{len(names) - n}" if len(names) > n else "")


def _when(iso: str, fmt: str) -> str:
    t = parse_time(iso)
    return t.astimezone(UTC).strftime(fmt) if t else iso


class _Transient(Exception):
    """A failure another attempt may cure: 429, 5xx, a refused or dropped connection, a timeout."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


Post = Callable[[], tuple[int, str, Any]]  # one HTTP attempt -> (status, body, headers)


def _delivery_policy(attempts: int, sleep: Callable[[float], None]):
    """The one retry policy for sending a notice: up to `attempts` tries on _Transient failures (429, 5xx,
    connection errors), waiting Retry-After when given (capped), else exponential backoff with jitter."""
    import tenacity

    backoff = tenacity.wait_exponential_jitter(initial=1, max=RETRY_AFTER_CAP, jitter=1)

    def wait(state) -> float:
        e = state.outcome.exception()
        return e.retry_after if isinstance(e, _Transient) and e.retry_after is not None else backoff(state)

    return tenacity.Retrying(retry=tenacity.retry_if_exception_type(_Transient),
                             stop=tenacity.stop_after_attempt(max(1, attempts)), wait=wait, sleep=sleep, reraise=True)


def _deliver(channel: str, post: Post, attempts: int, sleep: Callable[[float], None]) -> Delivery:
    """`post` under the delivery policy, every outcome a Delivery."""
    tries = 0

    def attempt() -> tuple[int, str]:
        nonlocal tries
        tries += 1
        try:
            status, body, headers = post()
        except (OSError, HTTPException) as e:
            raise _Transient(f"connection failed: {e or type(e).__name__}") from e
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}: {body}", status, _retry_after(headers))
        return status, body

    try:
        status, body = _delivery_policy(attempts, sleep)(attempt)
    except _Transient as e:
        return Delivery(channel, False, e.status, tries, _line(f"{e} (gave up after {tries} attempts)"))
    except Exception as e:  # noqa: BLE001 - a notifier never raises into the watch loop
        return Delivery(channel, False, None, tries, _line(f"{type(e).__name__}: {e}"))
    ok = 200 <= status < 300
    return Delivery(channel, ok, status, tries, None if ok else _line(f"HTTP {status}: {body}"))


def _retry_after(headers: Any) -> float | None:
    values = [v for k, v in (headers.items() if headers else []) if k.lower() == "retry-after"]
    try:
        return min(max(float(values[0]), 0.0), RETRY_AFTER_CAP)
    except (IndexError, TypeError, ValueError):  # absent, or an HTTP date: back off instead
        return None


def _line(text: str) -> str:
    return _clip(_oneline(redact_text(str(text))), 300) or "unknown error"


class _Notifier:
    channel = ""

    def __init__(self, url: str, timeout: float = 10.0, attempts: int = 4, sleep: Callable[[float], None] = time.sleep):
        self.url, self.timeout, self.attempts, self.sleep = url, timeout, attempts, sleep

    def send(self, notice: Notice) -> Delivery:
        """Never raises: every failure is a Delivery with ok False and a one-line error."""
        try:
            post = self._prepare(notice)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001
            return Delivery(self.channel, False, None, 0, _line(f"could not build the message: {type(e).__name__}: {e}"))
        return _deliver(self.channel, post, self.attempts, self.sleep)


class SlackNotifier(_Notifier):
    """Posts slack_message(notice) to a Slack incoming webhook, with slack_sdk's own retries off."""

    channel = "slack"

    def _prepare(self, notice: Notice) -> Post:
        from slack_sdk.webhook import WebhookClient

        message = slack_message(notice)
        client = WebhookClient(self.url, timeout=self.timeout, logger=_SDK_LOG, retry_handlers=[])  # type: ignore[arg-type]

        def post() -> tuple[int, str, Any]:
            r = client.send(text=message["text"], blocks=message["blocks"], unfurl_links=False, unfurl_media=False)
            return r.status_code, r.body, r.headers

        return post


class WebhookNotifier(_Notifier):
    """POSTs webhook_payload(notice) as JSON; any 2xx is delivered. A redirect is not followed (urllib
    would turn the POST into a body-less GET): the error names the URL to configure instead."""

    channel = "webhook"

    def __init__(self, url: str, timeout: float = 10.0, attempts: int = 4, sleep: Callable[[float], None] = time.sleep,
                 headers: dict | None = None):
        super().__init__(url, timeout, attempts, sleep)
        self.headers = dict(headers or {})

    def _prepare(self, notice: Notice) -> Post:
        body = json.dumps(webhook_payload(notice), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"copilot/{__version__}", **self.headers}
        opener = urllib.request.build_opener(_NoRedirect)

        def post() -> tuple[int, str, Any]:
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with opener.open(request, timeout=self.timeout) as resp:
                    return resp.status, resp.read(2000).decode("utf-8", "replace"), resp.headers
            except urllib.error.HTTPError as e:
                text = e.read(2000).decode("utf-8", "replace")
                if 300 <= e.code < 400:
                    text = f"redirected to {e.headers.get('Location')}, not followed: configure that URL"
                return e.code, text, e.headers

        return post


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def notifiers(slack_url: str | None, webhook_url: str | None) -> list[SlackNotifier | WebhookNotifier]:
    """The notifiers for the URLs given; a URL that is not http(s) is a UsageError saying what to pass."""
    out: list[SlackNotifier | WebhookNotifier] = []
    if slack_url:
        out.append(SlackNotifier(_checked(slack_url, "Slack webhook", "https://hooks.slack.com/services/T…/B…/… "
                                          "(Slack app > Incoming Webhooks > Webhook URL)")))
    if webhook_url:
        out.append(WebhookNotifier(_checked(webhook_url, "webhook", "https://alerts.example.com/hooks/copilot")))
    return out


def _checked(url: str, what: str, example: str) -> str:
    """The URL, stripped; it is a secret, so the error says what is wrong with it, never what it was."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        problem = ("its scheme is not http(s)" if parts.scheme not in ("http", "https") else "it has no host"
                   if not parts.hostname else "its port is not valid" if parts.port == 0 else None)  # .port raises on "h:x"
    except ValueError:
        problem = "its port is not valid"
    if problem:
        raise UsageError(f"the {what} URL must be http(s)://host/path, but {problem}: give one like {example}")
    return url
