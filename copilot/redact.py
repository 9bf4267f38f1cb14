"""Redaction: secret values out of everything that leaves the process (LLM requests, Slack messages).

Pure and stdlib-only. Names and meaning stay (`DB_PASSWORD=[REDACTED]`, the user and host of a DSN,
"password authentication failed for user"); values go. Logs are untrusted, so every pattern is
anchored where a run of characters starts and quantifiers are possessive where a retry could rescan:
a hostile 1 MB line costs a few linear passes.
"""

from __future__ import annotations

import copy
import re
from typing import Any

REDACTED = "[REDACTED]"

# A key whose name ends with one of these holds a secret: DB_PASSWORD, client_secret, X-Api-Key, sig.
_NAMES = ("password", "passwd", "passphrase", "pwd", "_pass", "secret", "token", "sig", "signature", "_auth",
          "key_base", "key-data", "key_data",
          *(f"{kind}{sep}key" for kind in ("api", "access", "secret", "private", "account", "client", "master",
                                           "signing", "encryption", "subscription", "app", "application", "auth")
            for sep in ("", "_", "-")))
# A key that is one of these words, or ends with one after a dot or a dash (pass, db.pass, --pass; not bypass).
_WORDS = ("pass",)
# A run of name characters, then a look back for the name it ends with (its last two letters first,
# a cheap filter): no backtracking into the run.
_KEY = (r"[\w.-]{1,100}+(?<=" + "|".join(sorted({name[-2:] for name in _NAMES + _WORDS})) + ")(?:"
        + "|".join([f"(?<={name})" for name in _NAMES] + [rf"(?<=(?<!\w){word})" for word in _WORDS]) + ")")
_SEP = r"(?::=|=>|[=:])"
# A quoted value ends at its closing quote or the end of the line, and never gives back what it read.
_QUOTED = r"""\\"(?:[^"\\\n]|\\[^"\n])*+(?:\\")?|"(?:[^"\\\n]|\\.)*+"?|'[^'\n]*+'?"""
# A bare value ends at white space, a quote or a field delimiter; a structure ({...}, <nil>),
# a ${VAR} reference or a PEM header is not a value.
_BARE = r"""(?!\[(?!REDACTED\])|[{<]|\$[{(]|-----)(?:\[REDACTED\]|[^\s"'`,;&)}\]\\])++"""
# A value that is REDACTED already (skipped, so that a second pass finds nothing to do).
_DONE = r"""(?!\\?["']?\[REDACTED\](?:\\?["']|(?![^\s"'`,;&)}\]\\])))"""
# After "key: ", a word and more words is a sentence (failed to fetch oauth token: unexpected status).
_PROSE = r"(?!(?<=:[ \t])(?-i:[A-Za-z][a-z]+[ \t]\S))"
# Where a key may start: not inside a word or a path (/etc/passwd); and keys that are Go types
# (failed to list *v1.Secret: secrets is forbidden) are none.
_KEY_START = r"(?<![\w./-])"
_NOT_GO_TYPE = r"(?!(?-i:[a-z]*v\d+(?:(?:alpha|beta)\d+)?\.[A-Z]))"


def _word(word: str) -> str:
    r"""`word` where a word starts, or right after an escaped line break (b'...\r\nCookie: ...').
    The look back comes after the literal so that the regex engine can skip to the literal."""
    return rf"{word}(?:(?<!\w{word})|(?<=\\[nrt]{word}))"


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----(?:[^-]|-(?!----))*+(?:-----END [A-Z0-9 ]{1,40}-----)?")

# Each rule: words of which the lowercased text must hold one (a cheap skip, None: always run), and a
# pattern whose last group is the value; what precedes the value in the match is kept.
_STEMS = ("pass", "pwd", "secret", "token", "sig", "key", "auth")
_RULES = [(words, re.compile(pattern)) for words, pattern in [
    # scheme://user:PASSWORD@host (up to the last @ before the host), https://TOKEN@host
    (("://",), r"(?i)://(?<=[a-z0-9+.-]://)[^\s:@/?#]*:(?P<v>[^\s/?#\"'`<>]+)(?=@)"),
    (("://",), r"(?i)://(?:(?<=http://)|(?<=https://))(?P<v>[^\s:@/?#\"'`<>]+)(?=@)"),
    (("hooks.slack.com", "/api/webhooks/"),
     r"(?i)(?:hooks\.slack\.com/(?:services|workflows|triggers)|discord(?:app)?\.com/api/webhooks)/(?P<v>[\w/-]+)"),
    # Tokens recognisable by their shape alone, where a word starts (or after an escaped line break).
    (None, r"""(?x)(?:(?<![\w-])|(?<=\\[nrt]))(?P<v>eyJ[\w-]++\.eyJ[\w-]++\.[\w-]*+
        |(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}|AIza[\w-]{35}|GOCSPX-[\w-]{20,}|ya29\.[\w-]{20,}
        |gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{22,}|gl(?:pat|dt|rt|ptt)-[\w-]{20,}|glsa_\w{32,}|glc_[\w+/=]{32,}
        |xox[abposre]-[\w-]{10,}|xapp-[\w-]{10,}|sk-(?=[\w-]*[A-Z])[\w-]{20,}|sk\.eyJ[\w-]++\.[\w-]{20,}
        |(?:sk|rk)_(?:live|test)_\w{16,}|whsec_\w{20,}|npm_[A-Za-z0-9]{36}|hv[sbr]\.[\w-]{20,}|pypi-Ag[\w-]{50,}
        |SG\.[\w-]{20,}\.[\w-]{40,}|key-[0-9a-f]{32}|shp(?:at|ca|pa|ss)_[0-9a-fA-F]{32}|sq0(?:atp|csp)-[\w-]{22,}
        |do[opr]_v1_[0-9a-f]{64}|dapi[0-9a-f]{32}(?:-\d+)?|pul-[0-9a-f]{40}|lin_api_\w{32,}|NRAK-[A-Z0-9]{27}
        |hf_[A-Za-z]{30,}|sntry[su]_[\w+/=]{20,}|ATATT[\w=-]{50,}|AGE-SECRET-KEY-1[0-9A-Z]{58}
        |AAAA[\w-]{7}:APA91b[\w-]{100,}|LS0tLS1CRUdJTi[\w+/]*+=*+
        )(?![\w-])"""),
    # A Telegram bot token, also where the Bot API puts it: https://api.telegram.org/bot<token>/sendMessage
    ((":aa",), r"(?:(?<![\w-])|(?<=/bot))(?P<v>\d{6,12}:AA[\w-]{30,})(?![\w-])"),
    # HTTP credentials: Authorization: Bearer X, a lone "Bearer X", Cookie: a=b; c=d
    (("authorization",), rf"""(?ix){_word("authorization")}\\?["']?[ \t]*[:=][ \t]*\\?["']?
        (?:(?:bearer|basic|token|bot|apikey|sharedkey)[ \t]+|[a-z][\w-]{{1,30}}[ \t]+(?=[^\s"'\\,;]{{8}}))?
        (?P<v>[^\s"'\\,;]+)"""),
    (("bearer",), rf"(?i){_word('bearer')}[ \t]+(?P<v>(?![a-z]+(?![\w.~+/-]))[\w.~+/-]{{8,}}=*)"),
    (("cookie",), rf"""(?ix){_word("cookie")}\\?["']?[ \t]*[:=][ \t]*\\?["']?
        (?P<v>[^\s"'\\;]+(?:;[ \t]*[^\s"'\\;]+)*+)"""),
    # Docker config "auth", SQL IDENTIFIED BY 'x' / PASSWORD 'x', <password>x</password>
    (('"auth',), r"(?i)\"auth\\?\"[ \t]*:[ \t]*\\?\"(?P<v>[^\"\\\n]+)"),
    (("identified",), rf"""(?ix){_word("identified")}[ \t]+(?:with[ \t]+\w+[ \t]+)?by[ \t]+
        (?P<v>'[^'\n]*+'|"[^"\n]*+"|[^\s;]+)"""),
    (("password",), rf"(?i){_word('password')}[ \t]+(?P<v>'[^'\n]*+')"),
    # .netrc (machine H login U password P) and `aws configure set aws_secret_access_key VALUE`
    (("machine",), r"(?i)(?<!\w)machine[ \t]+\S+[ \t]+(?:login[ \t]+\S+[ \t]+)?password[ \t]+(?P<v>\S+)"),
    (("configure",), r"(?i)(?<!\w)configure[ \t]+set[ \t]+[\w.-]*(?:secret_access_key|session_token)[ \t]+(?P<v>\S+)"),
    (("</",), rf"(?i)<({_KEY})>(?P<v>[^<]*+)(?=</\1>)"),
    # key=value, key: value, "key": "value", --flag=value (the lookahead skips words that are no key)
    (_STEMS, rf"""(?ix){_KEY_START}(?=[\w.-]{{1,100}}+\\?["']?[ \t]*{_SEP}){_NOT_GO_TYPE}{_KEY}
        (?:\\?["'][ \t]*{_SEP}[ \t]*{_DONE}(?P<quoted>{_QUOTED}|\d[\w.+/=-]*+)
          |[ \t]*{_SEP}[ \t]*{_DONE}{_PROSE}(?P<bare>{_QUOTED}|{_BARE}))"""),
    # --flag value
    (_STEMS, rf"""(?ix)-(?:(?<![\w./-]-)|(?<=\\[nrt]-))-?(?=[\w.-]{{1,100}}+[ \t]++[^\s-]){_KEY}
        [ \t]+{_DONE}(?P<v>{_QUOTED}|{_BARE})"""),
]]
_FLAG = re.compile(rf"(?i)--?{_KEY}")
_NOT_SECRETS = {"yes", "no", "true", "false", "null", "none", "nil"}
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_VALUE_FIELDS = {"Secret": ("data", "stringData"), "ConfigMap": ("data", "binaryData")}


def redact_text(text: str) -> str:
    """Free text with secret values replaced by REDACTED; names, hosts, paths and messages stay."""
    for _ in range(4):  # a mask can complete another rule's match (x://u:token=a/b,c@h): run to a fixpoint
        before = text
        text = _PEM.sub(lambda m: f"-----BEGIN {m[1]}-----{REDACTED}-----END {m[1]}-----", text)
        lowered = text.lower()
        for words, rule in _RULES:
            if words is None or any(word in lowered for word in words):
                text = rule.sub(_mask_match, text)
        if text == before:
            break
    return text


def redact_object(obj: dict) -> dict:
    """A redacted deep copy of a Kubernetes object: env, ConfigMap and Secret values and the
    last-applied annotation blanked, argv values after secret flags blanked, all other strings redact_text'ed."""
    masked = dict(obj)
    for field in _VALUE_FIELDS.get(obj.get("kind"), ()):
        if isinstance(obj.get(field), dict):
            masked[field] = {key: _blank(value) for key, value in obj[field].items()}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict) and _LAST_APPLIED in meta["annotations"]:
        masked["metadata"] = {**meta, "annotations": {**meta["annotations"], _LAST_APPLIED: REDACTED}}
    return _redact_fields(masked)


def redact_any(value: Any) -> Any:
    """Redact whatever is about to leave: Kubernetes objects, strings, and lists/dicts of them."""
    if isinstance(value, dict) and "kind" in value and "metadata" in value:
        return redact_object(value)
    return _redact_fields(value)


def _redact_fields(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_any(item) for item in value]
    if isinstance(value, dict):
        return {key: _FIELDS.get(key, redact_any)(item) for key, item in value.items()}
    return copy.deepcopy(value)


def _env(env: Any) -> Any:
    """Container env: every literal value goes, names and valueFrom references stay."""
    if isinstance(env, list):
        env = [{**var, "value": _blank(var["value"])} if isinstance(var, dict) and "value" in var else var for var in env]
    return redact_any(env)


def _argv(argv: Any) -> Any:
    """Container args/command: the item after a secret flag (`--password`, `x`) is a value."""
    if isinstance(argv, list):
        after_flag = [False] + [isinstance(arg, str) and bool(_FLAG.fullmatch(arg)) for arg in argv[:-1]]
        argv = [_mask(arg) if flag and isinstance(arg, str) and not arg.startswith("-") else arg
                for flag, arg in zip(after_flag, argv)]
    return redact_any(argv)


_FIELDS = {"env": _env, "args": _argv, "command": _argv}


def _blank(value: Any) -> Any:
    """An empty value reveals nothing and says something (an unset variable), so it stays."""
    return REDACTED if value not in ("", None) else value


def _mask_match(m: re.Match) -> str:
    """The match up to its value (the last group) as it was, then the value masked."""
    return m[0][: m.start(m.lastgroup) - m.start()] + _mask(m[m.lastgroup])


def _mask(value: str) -> str:
    """REDACTED in place of a value, inside the same quotes; empty, yes/no and starred values stay."""
    for quote in ('\\"', '"', "'"):
        if value.startswith(quote):
            inner = value[len(quote):]
            close = quote if len(inner) >= len(quote) and inner.endswith(quote) else ""
            inner = inner[: len(inner) - len(close)]
            return quote + REDACTED + close if inner else value
    return value if value.lower() in _NOT_SECRETS or set(value) == {"*"} else REDACTED
