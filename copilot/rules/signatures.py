"""Log signatures: which line says what about a crash, and how decisively.

The table lives in the `signatures_*` family modules as plain rows
`(id, category, strength, fatal, regex, what)`, most specific first and the
generic shell/runtime rows last. Regexes may use the tokens <HOST>, <PORT>,
<HOSTPORT>, <PATH> and <VAR>, expanded here into the named groups the rules
read (`host`, `port`, `path`, `var`). Decisions where the table could go
either way:

- A runtime too old for the code (UnsupportedClassVersionError, a missing
  .NET framework, GLIBC_x not found) is `missing_dependency`: the fix is in the
  image, not in the command.
- An unknown flag or argument is `bad_command` (the pod's command/args are
  wrong); a known flag with a bad value is `invalid_config`.
- A full disk and exhausted file descriptors or inotify watches are
  `node_issue`, with low strength: a full volume looks the same.
- A line that says it will retry matches with a non-fatal, weaker twin of its
  signature (`<id>.retrying`), keeping the captured host and port.
- `dependency_unavailable` and `network_error` lines top out at 0.8: they say
  what failed, not who is at fault; the cross-resource rules (0.85 and up)
  name the culprit when they can.
- Extra group names beyond the usual ones: `flag` (a command-line flag) and
  `database` (a database name).
"""

from __future__ import annotations

import re
import re._constants as sre_c
import re._parser as sre_parse
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace

from copilot.categories import CATEGORIES
from copilot.rules import signatures_generic, signatures_langs, signatures_services

GROUPS = frozenset({"host", "port", "module", "class", "var", "path", "user", "exception", "flag", "database"})
MAX_LINE = 2000

# Tokens match the longest run they can, possessively (a run that does not end in . or - for a host, in _
# for a variable, in . for a path): a line of 2,000 dots or slashes costs one pass per start, not a cubic search.
_NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_]|[.-]++(?=[A-Za-z0-9_]))*+"
_HOST = rf"(?P<host>{_NAME})"
TOKENS = {
    "<HOSTPORT>": rf"(?P<host>\[[0-9A-Fa-f:.]++\]|[0-9A-Fa-f]*+:[0-9A-Fa-f:.]*|{_NAME}):(?P<port>\d{{1,5}})(?!\d)",
    "<HOST>": _HOST,
    "<PORT>": r"(?P<port>\d{1,5})(?!\d)",
    "<PATH>": r"(?P<path>\.{0,2}/(?:[^\s'\"`:;,()<>\[\]{}.]|\.++(?=[^\s'\"`:;,()<>\[\]{}.]))*+)",
    "<VAR>": r"(?P<var>(?-i:[A-Z](?:[A-Z0-9]|_++(?=[A-Z0-9]))++))",
}

# Request-level lines of a healthy server (access logs, nginx per-request errors) never decide a crash.
_HARMLESS = re.compile(r"\*\d+ .*, client: |\"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/[\d.]+\" \d{3} ")
_RETRYING = re.compile(r"(?i)\b(?:retrying|will retry|retry(?:ing)? in|retry attempt|reconnecting|will reconnect|trying again|backing off)\b")
_GIVING_UP = re.compile(r"(?i)\b(?:giving up|gave up|exhausted|exiting|aborting|shutting down|max(?:imum)? retries)\b")


@dataclass(frozen=True)
class Signature:
    id: str
    pattern: re.Pattern[str]
    category: str
    strength: float
    fatal: bool
    what: str


@dataclass(frozen=True)
class Hit:
    line_no: int
    line: str
    signature: Signature
    groups: dict[str, str]
    severity: int


def _compile(row: tuple) -> Signature:
    sig_id, category, strength, fatal, regex, what = row
    for token, expansion in TOKENS.items():
        regex = regex.replace(token, expansion)
    return Signature(sig_id, re.compile(regex), category, strength, fatal, what)


SIGNATURES: tuple[Signature, ...] = tuple(
    _compile(row) for row in signatures_langs.ROWS + signatures_services.ROWS + signatures_generic.ROWS)

RETRY_TWINS: dict[str, Signature] = {
    s.id: replace(s, id=s.id + ".retrying", fatal=False, strength=round(s.strength * 0.6, 2), what=s.what + " (the process retries)")
    for s in SIGNATURES if s.fatal}


def placeholders(what: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(what) if name}


def check_table(signatures: Iterable[Signature] = SIGNATURES) -> list[str]:
    """Problems in the table: unknown categories, bad strengths, groups or placeholders, duplicate ids."""
    problems, seen = [], set()
    for s in signatures:
        if s.id in seen:
            problems.append(f"{s.id}: duplicate id")
        seen.add(s.id)
        if s.category not in CATEGORIES:
            problems.append(f"{s.id}: unknown category {s.category}")
        if not 0 < s.strength <= 1:
            problems.append(f"{s.id}: strength {s.strength}")
        if set(s.pattern.groupindex) - GROUPS:
            problems.append(f"{s.id}: groups {sorted(set(s.pattern.groupindex) - GROUPS)}")
        if placeholders(s.what) - set(s.pattern.groupindex):
            problems.append(f"{s.id}: placeholders {sorted(placeholders(s.what) - set(s.pattern.groupindex))}")
        if not needles(s.pattern):
            problems.append(f"{s.id}: no literal of 3+ characters to prefilter on")
    return problems


def needles(pattern: re.Pattern[str]) -> frozenset[str]:
    """Lower-cased literals of which every match of the pattern contains at least one (empty: unknown)."""
    try:
        found = _required(sre_parse.parse(pattern.pattern, pattern.flags))
    except Exception:  # noqa: BLE001 - a parser change must only disable the prefilter for this pattern
        return frozenset()
    return found if found and min(map(len, found)) >= 3 else frozenset()


_MAX_SET = 32
_TRIM = re.compile(r"^[^a-z]+|[^a-z0-9]+$")  # needles start with a letter, so the gate skips digits and punctuation fast


def _rank(options: frozenset[str]) -> tuple[int, int]:
    return min(map(len, options)), -len(options)


def _literals(op, av) -> frozenset[str] | None:
    """Every string one parsed item can match, when that is a small set of literals."""
    if op is sre_c.LITERAL:
        return frozenset({chr(av).lower()})
    if op is sre_c.IN and all(o is sre_c.LITERAL for o, _ in av):
        return frozenset(chr(a).lower() for _, a in av)
    if op is sre_c.SUBPATTERN:
        return _sequence_literals(av[-1])
    if op is sre_c.BRANCH:
        alternatives = [_sequence_literals(b) for b in av[1]]
        if all(a is not None for a in alternatives) and sum(map(len, alternatives)) <= _MAX_SET:
            return frozenset().union(*alternatives)
    return None


def _sequence_literals(items) -> frozenset[str] | None:
    out = frozenset({""})
    for op, av in items:
        options = _literals(op, av)
        if options is None or len(out) * len(options) > _MAX_SET:
            return None
        out = frozenset(a + b for a in out for b in options)
    return out


def _required(items) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run = frozenset({""})

    def consider(options: frozenset[str] | None) -> None:
        nonlocal best
        if not options:
            return
        options = frozenset(_TRIM.sub("", o) for o in options)
        if min(map(len, options)) >= 3 and (best is None or _rank(options) > _rank(best)):
            best = options

    for op, av in items:
        options = _literals(op, av)
        if options is not None and len(run) * len(options) <= _MAX_SET:
            run = frozenset(a + b for a in run for b in options)
            continue
        consider(run)
        run = frozenset({""}) if options is None else options
        if op is sre_c.SUBPATTERN:
            consider(_required(av[-1]))
        elif op is sre_c.ATOMIC_GROUP:
            consider(_required(av))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT) and av[0] >= 1:
            consider(_required(av[2]))
        elif op is sre_c.BRANCH:
            alternatives = [_required(branch) for branch in av[1]]
            if all(alternatives):
                consider(frozenset().union(*alternatives))
    consider(run)
    return best


def _trie_regex(words: Iterable[str]) -> str:
    """One regex matching any of the words, as a trie: the longest word at a position wins."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "(?:" + body + ")?" if "" in node else body

    return build(trie)


def _build_index(signatures: tuple[Signature, ...]):
    by_needle: dict[str, set[int]] = {}
    always: set[int] = set()
    for i, s in enumerate(signatures):
        found = needles(s.pattern)
        if not found:
            always.add(i)
        for n in found:
            by_needle.setdefault(n, set()).add(i)
    # The longest needle found at a position also stands for every needle it contains.
    implied = {k: frozenset().union(*(by_needle[o] for o in by_needle if o in k)) for k in by_needle}
    return re.compile(_trie_regex(by_needle)), implied, frozenset(always)


_GATE, _IMPLIED, _ALWAYS = _build_index(SIGNATURES)


def _candidates(low: str) -> list[int]:
    pos, chosen = 0, set(_ALWAYS)
    while (m := _GATE.search(low, pos)) is not None:
        chosen |= _IMPLIED[m.group()]
        pos = m.start() + 1
    return sorted(chosen)


_LEVELS = {"trace": 0, "debug": 0, "dbg": 0, "info": 0, "information": 0, "notice": 0, "log": 0,
           "warn": 1, "warning": 1, "wrn": 1, "error": 2, "err": 2, "eror": 2, "severe": 2,
           "fatal": 3, "ftl": 3, "panic": 3, "critical": 3, "crit": 3, "emerg": 3, "emergency": 3, "alert": 3}
_PINO = {10: 0, 20: 0, 30: 0, 40: 1, 50: 2, 60: 3}
_GLOG = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d")
_KV = re.compile(r"(?:level|lvl|severity)[\"']?\s*[=:]\s*[\"']?([a-z]+|\d{2})\b")
_BRACKETED = re.compile(r"[\[<(]\s*([A-Za-z]+)\s*[\])>]")
_UPPER = re.compile(r"(?:TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERR(?:OR)?|SEVERE|FATAL|PANIC|CRIT(?:ICAL)?|EMERG|ALERT|LOG(?=:))(?![A-Za-z0-9_])")
_LEADING = re.compile(r"(?:[^\s\d]*+\d\S*+\s++){0,3}+([A-Za-z]+)[:!]")
_LEADING_LEVELS = ("warn", "warning", "error", "fatal", "panic", "critical")


def line_severity(line: str) -> int:
    """The log level a line states: 0 debug/info, 1 warn, 2 error, 3 fatal/panic/critical; -1 unknown."""
    head = line[:160]
    m = _GLOG.match(head)
    if m:
        return {"I": 0, "W": 1, "E": 2, "F": 3}[m.group(1)]
    low = head.lower()
    if "level" in low or "lvl" in low or "severity" in low:
        m = _KV.search(low)
        if m:
            value = m.group(1)
            if value.isdigit():
                return _PINO.get(int(value), -1)
            if value in _LEVELS:
                return _LEVELS[value]
    m = _LEADING.match(head)
    if m and m.group(1).lower() in _LEADING_LEVELS:
        return _LEVELS[m.group(1).lower()]
    found = [(m.start(), _LEVELS.get(m.group(1).lower())) for m in _BRACKETED.finditer(head)]
    found += [(m.start(), _LEVELS[m.group().lower()]) for m in _UPPER.finditer(head)
              if m.start() == 0 or not (head[m.start() - 1].isalnum() or head[m.start() - 1] == "_")]
    found = [f for f in found if f[1] is not None]
    return min(found)[1] if found else -1


def match_line(line: str, line_no: int = 0) -> list[Hit]:
    """Every signature matching one line, strongest first."""
    line = line.rstrip("\r\n")[:MAX_LINE]
    low = line.lower()
    candidates = _candidates(low)
    if not candidates or _HARMLESS.search(line):
        return []
    found: list[tuple[Signature, re.Match[str]]] = []
    retrying: bool | None = None
    for i in candidates:
        sig = SIGNATURES[i]
        m = sig.pattern.search(line)
        if m is None:
            continue
        if sig.fatal:
            if retrying is None:
                retrying = _retrying(low)
            if retrying:
                sig = RETRY_TWINS[sig.id]
        found.append((sig, m))
    if not found:
        return []
    severity = line_severity(line)
    found.sort(key=lambda f: -f[0].strength)
    return [Hit(line_no, line, sig, {k: (v or "").strip() for k, v in m.groupdict().items()}, severity) for sig, m in found]


def _retrying(low: str) -> bool:
    if "retr" not in low and "reconnect" not in low and "again" not in low and "backing off" not in low:
        return False
    return bool(_RETRYING.search(low)) and not _GIVING_UP.search(low)


def per_category(hits: list[Hit]) -> list[Hit]:
    """The strongest hit of each category on one line: a generic echo of a specific match adds nothing."""
    seen: set[str] = set()
    return [h for h in hits if not (h.signature.category in seen or seen.add(h.signature.category))]


def scan(lines: Iterable[str]) -> list[Hit]:
    """Hits over many lines (1-based line numbers), the strongest per category and line, in line order."""
    out: list[Hit] = []
    for no, line in enumerate(lines, 1):
        out += per_category(match_line(line, no))
    return out
