"""Property-based fuzzing of the four places hostile bytes enter: the incident loader, log bounding, log
signatures and redaction. Derandomized and without an example database, so CI sees the same inputs every run.

Each property states what the user gets: a diagnosis or one line that names the file and the field, a log
within its bounds that still holds the line that killed the process, a match in bounded time, a mask that stays.
"""

import copy
import time
import unicodedata
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hostile import SECRET_FORMATS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from planted import SECRETS as PLANTED_SECRETS

from copilot import app
from copilot.cli import main
from copilot.errors import CopilotError, IncidentError
from copilot.incident import MAX_DEPTH, Incident, load_incident, parse_incident
from copilot.logs import bound_log
from copilot.rca import RCA
from copilot.redact import REDACTED, redact_any, redact_text
from copilot.rules.signatures import MAX_LINE, RETRY_TWINS, SIGNATURES, match_line, needles
from copilot.sources.snapshot import IncidentSource


def fuzz(examples: int) -> settings:
    """Reproducible in CI: the same examples every run, nothing remembered between runs, no per-example deadline."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
DEMO = Path(__file__).resolve().parent.parent / "evals" / "incidents" / "payment-db-oom.yaml"
DEMO_DATA = yaml.safe_load(DEMO.read_text())


# --- the incident loader ----------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                         max_leaves=10)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


junk = st.one_of(
    json_like,
    st.just("x" * 200_000),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),  # unicode, controls, RTL, NUL
    st.integers(MAX_DEPTH - 2, MAX_DEPTH + 40).map(nested),
    st.sampled_from([set(), {1, 2}, b"\x00\xff", date(2026, 1, 1), datetime(2026, 1, 1, 12), (1, "a"), float("nan"), float("inf"),
                     10**40, -1, True, "", "2026-13-45T99:99:99Z", "production/payment/x/y", {"a\nb": 1}, {"k" * 500: 1}]),
)


def paths(node, prefix=()):
    """Every place in the document a mutation can hit (the long series values stand for themselves)."""
    yield prefix
    if prefix[-2:-1] == ("values",):
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


DEMO_PATHS = list(paths(DEMO_DATA))[1:]
OBJECT_PATHS = [p for p in DEMO_PATHS if p[:2] == ("spec", "objects") and len(p) > 3]  # inside an object's body


@st.composite
def mutated_demo(draw):
    """The demo incident after one to four mutations: a key dropped, a value replaced by junk, wrapped, or a
    node replaced by something that is not a mapping at all."""
    data = copy.deepcopy(DEMO_DATA)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(OBJECT_PATHS) | st.sampled_from(DEMO_PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["drop", "drop", "junk", "junk", "list", "map", "key"]))
            if action == "drop":
                del parent[path[-1]]
            elif action == "junk":
                parent[path[-1]] = draw(junk)
            elif action == "list":
                parent[path[-1]] = [parent[path[-1]]]
            elif action == "map":
                parent[path[-1]] = {"x": parent[path[-1]]}
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=300))] = draw(junk)
        except (KeyError, IndexError, TypeError):
            pass
    return data


def loaded_or_refused(data, origin: str = "fuzz.yaml") -> Incident | None:
    """The property itself: a valid Incident, or IncidentError with one line that starts with the origin."""
    try:
        incident = parse_incident(data, origin)
    except IncidentError as e:
        message = str(e)
        assert message.startswith(f"{origin}: ") and message.isprintable() and len(message) < 1000, message
        return None
    assert isinstance(incident, Incident)
    return incident


@fuzz(150)
@given(json_like | junk | st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "expected", "x"]),
                                          junk | st.just("Incident") | st.just("copilot/v1"), max_size=6))
def test_any_parsed_document_is_an_incident_or_one_line_saying_why(data):
    loaded_or_refused(data)


@fuzz(200)
@given(mutated_demo())
def test_a_mutated_incident_is_diagnosed_or_refused_with_one_line(data):
    """And when it loads, the RCA runs: the loader checks the fields the rules read, so none fails on a type."""
    incident = loaded_or_refused(data)
    if incident is None:
        return
    target = app.Target(incident.spec.target.namespace, incident.spec.target.pod)
    try:
        rca = app.run_rca(IncidentSource(incident), target, no_llm=True)
    except CopilotError as e:  # the target pod mutated away: not found, a one-line error too
        assert e.exit_code in (3, 4, 5) and "\n" not in str(e)
    else:
        assert isinstance(rca, RCA) and rca.category and rca.analysis.engine == "rules"


yaml_text = st.one_of(
    mutated_demo().map(lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True)),
    st.text(max_size=300),
    st.builds(lambda text, at, cut, insert: text[:at] + insert + text[at + cut:],
              st.just(DEMO.read_text()), st.integers(0, 6000), st.integers(0, 50),
              st.sampled_from(["", "\t", ":", "- ", "&a ", "*a", "!!binary ", "!!set ", "{", "]", "'", '"', "\x00", "\ufeff", "\n  - "])),
)


@fuzz(60)
@given(yaml_text)
def test_any_incident_file_loads_or_is_refused_with_one_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("inc") / "incident.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        assert isinstance(load_incident(path), Incident)
    except IncidentError as e:
        assert str(e).startswith(f"{path}: ") and str(e).isprintable(), str(e)


@pytest.mark.parametrize("name, text, why", [
    ("alias inside itself", "apiVersion: copilot/v1\nkind: Incident\nmetadata: &m {name: x, tags: [*m]}\n", "refers to a node that contains it"),
    ("billion laughs", "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec:\n  now: '2026-01-01T00:00:00Z'\n"
     "  target: {namespace: a, pod: b}\n  objects:\n  - {apiVersion: v1, kind: Pod, metadata: {name: p}, a: &a [l, l, l, l, l, l, l, l, l]}\n"
     + "".join(f"  - &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)), "aliases would expand it"),
    ("newline in a key", 'apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: "2026-01-01T00:00:00Z", '
     'target: {namespace: a, pod: b}, "ex\\ntra": 1}\n', "spec.ex\\ntra: Extra inputs are not permitted"),
    ("a YAML set in an object", "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', "
     "target: {namespace: a, pod: b}, objects: [{apiVersion: v1, kind: Pod, metadata: {name: p}, s: !!set {a}}]}\n", "a YAML set"),
    ("Secret data not a mapping", "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', "
     "target: {namespace: a, pod: b}, objects: [{apiVersion: v1, kind: Secret, metadata: {name: s}, data: abc}]}\n",
     "object 0 (Secret s): data: should be a mapping"),
    ("a list where the API has a mapping", "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', "
     "target: {namespace: a, pod: b}, objects: [{apiVersion: v1, kind: Pod, metadata: {name: b}, status: {containerStatuses: "
     "[{name: app, lastState: {terminated: [1]}}]}}]}\n", "object 0 (Pod b): status.containerStatuses[0].lastState.terminated: should be a mapping"),
    ("words where the API has a number", "apiVersion: copilot/v1\nkind: Incident\nmetadata: {name: x}\nspec: {now: '2026-01-01T00:00:00Z', "
     "target: {namespace: a, pod: b}, objects: [{apiVersion: v1, kind: Pod, metadata: {name: b}, status: {containerStatuses: "
     "[{name: app, restartCount: many}]}}]}\n", "status.containerStatuses[0].restartCount: should be a whole number"),
])
def test_files_that_used_to_escape_as_other_exceptions(tmp_path, name, text, why):
    """Each of these once raised RecursionError, AttributeError or ran for minutes (the laughs: 9**9 values)."""
    path = tmp_path / "inc.yaml"
    path.write_text(text)
    started = time.perf_counter()
    with pytest.raises(IncidentError) as err:
        load_incident(path)
    assert time.perf_counter() - started < 2
    assert str(err.value).startswith(f"{path}: ") and why in str(err.value) and "\n" not in str(err.value)


@fuzz(8)
@given(yaml_text)
def test_the_cli_says_what_is_wrong_with_a_bad_file_in_one_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cli") / "bad.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_incident(path)
    except IncidentError as e:
        expected = f"error: {e}\n"
    else:
        assume(False)
    result = CliRunner().invoke(main, ["rca", "--incident", str(path), "--no-llm"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected)
    assert "Traceback" not in result.output


# --- log bounding -----------------------------------------------------------------------------------

FATAL = b"psycopg.OperationalError: connection to server at \"10.96.12.34\", port 5432 failed: Connection refused"
noise_line = st.one_of(
    st.binary(max_size=200),                                                          # invalid UTF-8, NUL, CR
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=120).map(str.encode),
    st.sampled_from([b"x" * 50_000, b"\x00" * 3000, b"\r", b"\x1b[31mERROR\x1b[0m boom", b"\xe2\x82", b"caf\xc3", b"\xff\xfe\xfd" * 100,
                     "\u202eRTL ✓ 日本語".encode(), b"\t\t", b""]),
)


@fuzz(150)
@given(st.lists(noise_line, max_size=80), st.integers(0, 100), st.booleans(), st.integers(1, 70_000))
def test_any_bytes_stay_within_the_bounds_and_the_fatal_line_near_the_end_is_kept(noise, after, crlf, piece):
    end = b"\r\n" if crlf else b"\n"
    tail = b"".join(b"2026-03-02T10:00:00Z INFO shutting down worker %d%s" % (i, end) for i in range(after))
    data = b"\n".join(noise) + b"\n" + FATAL + end + tail
    log = bound_log(data[i:i + piece] for i in range(0, len(data), piece))

    # The documented bounds: 30 head + 120 tail + 250 signature lines, 60 hits, lines cut at 2,000 characters.
    assert len(log.lines) <= 400 and len(log.hits) <= 60
    assert all(len(line.text) <= 2000 + len(f"… [cut {len(data)} chars]") for line in log.lines)
    assert all(ch == "\t" or unicodedata.category(ch) != "Cc" for line in log.lines for ch in line.text)  # no controls, no ANSI
    assert log.total_bytes == len(data) and log.total_lines == data.count(b"\n")
    assert sum(line.repeats for line in log.lines) + log.omitted_lines == log.total_lines

    # The line that killed the process, `after` lines before the end, is kept and read.
    fatal_no = log.total_lines - after
    assert [line.text for line in log.lines if line.no == fatal_no] == [FATAL.decode()]
    assert "dependency_unavailable" in {h.signature.category for h in log.hits if h.line_no == fatal_no}

    # Chunk boundaries do not matter, even inside a UTF-8 sequence or a CRLF.
    whole = bound_log([data])
    assert [(line.no, line.text, line.repeats) for line in log.lines] == [(line.no, line.text, line.repeats) for line in whole.lines]


# --- log signatures ---------------------------------------------------------------------------------

@fuzz(200)
@given(st.text(max_size=3000) | st.lists(st.sampled_from(
    ["Error: ", "connect ECONNREFUSED ", "10.0.0.1:5432", "/etc/app/", "config.yaml", ": no such file or directory", "A_B_C",
     " environment variable is not set", ": unbound variable", "OOMKilled", "Killed", "panic: ", "retrying in 5s", "x" * 300,
     "dial tcp ", "lookup ", ": no such host", "'", '"', "::", "0:", "-", ".", "/", "_", " ", "\t"]), max_size=60).map("".join))
def test_any_line_matches_quickly_and_consistently(line):
    started = time.perf_counter()
    hits = match_line(line, 7)
    assert time.perf_counter() - started < 1
    known = {s.id for s in SIGNATURES} | {twin.id for twin in RETRY_TWINS.values()}
    assert all(h.signature.id in known and h.line_no == 7 and all(isinstance(v, str) for v in h.groups.values()) for h in hits)
    assert [h.signature.strength for h in hits] == sorted((h.signature.strength for h in hits), reverse=True)
    assert all(h.line == line.rstrip("\r\n")[:MAX_LINE] for h in hits)


UNITS = ["/", "./", "a", "A", "A_", "_A", "0", "0:", ":0", "a.", "a-", "-", "_", " ", "'", "\t", "a/", "@="]


def adversarial(sig, size: int) -> list[str]:
    """Runs of the characters regexes tend to backtrack over, ending in the literals the signature needs."""
    literals = " " + " ".join(sorted(needles(sig.pattern)))
    return [(unit * (size // len(unit) + 1))[:size - len(literals)] + literals for unit in UNITS]


@pytest.mark.parametrize("sig", SIGNATURES, ids=[s.id for s in SIGNATURES])
def test_no_signature_backtracks_catastrophically(sig):
    """ReDoS: 20 kB of adversarial text through the bare regex (ten times the line cap: the cubic patterns this
    caught took minutes), and 200 kB through match_line, each in well under the bound."""
    for text in adversarial(sig, 20_000):
        started = time.perf_counter()
        sig.pattern.search(text)
        assert time.perf_counter() - started < 2, (sig.id, text[:20])
    for text in adversarial(sig, MAX_LINE):
        started = time.perf_counter()
        match_line(text + text[-1] * 198_000)
        assert time.perf_counter() - started < 2, (sig.id, text[:20])


def test_a_log_of_hostile_lines_costs_milliseconds_per_line():
    """The log bound is 8 MiB and 2,000-character lines; before the tokens were possessive one such line took 0.3 s."""
    tails = [": read-only file system: permission denied: no such file or directory: operation not permitted",
             "/bootstrap: Connect to ipv4#x failed: Connection refused", '() "x" failed (30: Read-only file system)',
             " environment variable is not set: unbound variable: command not found"]
    lines = [(unit * MAX_LINE)[:MAX_LINE - len(tail)] + tail for unit in ["/", "./", "0:", "A_", "_A", "a", "a/", "_"] for tail in tails]
    started = time.perf_counter()
    log = bound_log([("\n".join(lines * 5) + "\n").encode()])
    elapsed = time.perf_counter() - started
    assert log.total_lines == 160 and elapsed < 4, elapsed


# --- redaction --------------------------------------------------------------------------------------

FRAGMENTS = ["password", "DB_PASS", "pass", "token", "secret", "api-key", "_auth", "sig", "Authorization", "Bearer", "SSWS",
             "Cookie", "machine", "login", "configure set aws_secret_access_key", "=", ":", ": ", " ", "\n", "\\n", '"', "'",
             "\\\"", ",", ";", "&", "@", "/", "://", "{", "}", "<", ">", "$", "-", "--", "*", "-----BEGIN A-----",
             "-----END A-----", "-----", "eyJa.eyJb.c", "SG.", "hf_", "key-", "/bot", ":AA", "pypi-Ag", "LS0tLS1CRUdJTi", "AKIA",
             "sk-", "ghp_", REDACTED, "[REDACTED", "hunter2", "x" * 40, "0123456789abcdef" * 4]
text_with_secrets = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8) | st.sampled_from([s.text for s in SECRET_FORMATS]),
                             max_size=24).map("".join)


@fuzz(300)
@given(text_with_secrets)
def test_redaction_is_idempotent_and_grows_text_by_a_bounded_factor(text):
    once = redact_text(text)
    assert redact_text(once) == once
    # Each mask puts 10 characters in place of at least one, in a match at least 5 long (sig=x); a PEM header
    # (17 characters at least) gains its END line: never more than three times the text.
    assert len(once) <= 3 * len(text) + 64


SEPARATORS = [" ", "\n", "\t", ", ", "; ", " | ", "\r\n", "\\n", " = "]


@fuzz(300)
@given(st.sampled_from(SECRET_FORMATS), st.text(max_size=80), st.sampled_from(SEPARATORS), st.sampled_from(SEPARATORS),
       st.text(max_size=80))
def test_a_secret_anywhere_in_random_text_is_masked(secret, before, left, right, after):
    assert secret.value not in redact_text(before + left + secret.text + right + after)


@fuzz(100)
@given(st.sampled_from(PLANTED_SECRETS + [s.value for s in SECRET_FORMATS]), st.sampled_from(["env", "configmap", "annotation"]),
       json_like)
def test_redact_any_masks_values_wherever_they_sit_and_never_mutates(secret, where, extra):
    obj = {"apiVersion": "v1", "kind": "ConfigMap" if where == "configmap" else "Pod",
           "metadata": {"name": "x", "annotations": {"example.com/note": f'token="{secret}"'} if where == "annotation" else {}},
           "data": {"app.conf": secret} if where == "configmap" else None,
           "spec": {"containers": [{"name": "app", "env": [{"name": "X", "value": secret}]}]} if where == "env" else extra}
    before = copy.deepcopy(obj)
    out = redact_any([obj, extra])
    assert obj == before and secret not in repr(out)
    assert redact_any(out) == out
