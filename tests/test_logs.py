"""Bounded logs: head, tail and every signature line survive, in bounded memory, whatever the input."""

import os
import random
import tracemalloc
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot.logs import BoundedLog, bound_log, bound_text

FATAL = "KeyError: 'API_TOKEN'"


def numbered(n, fmt="2026-03-02T10:00:00Z INFO step {i} of the warm-up, cache shard {i} loaded"):
    return "".join(fmt.format(i=i) + "\n" for i in range(1, n + 1))


def consistent(log: BoundedLog) -> None:
    assert log.total_lines == sum(line.repeats for line in log.lines) + log.omitted_lines
    assert [line.no for line in log.lines] == sorted({line.no for line in log.lines})
    assert all(a.no + a.repeats <= b.no for a, b in pairwise(log.lines))


def test_keeps_head_tail_and_the_hit_with_its_context():
    lines = [f"2026-03-02T10:00:00Z INFO event {i} id=u{i}x" + "abcdefghij"[i % 10] * (i % 7 + 1) for i in range(1, 5001)]
    lines[2999] = "2026-03-02T10:00:00Z ERROR dial tcp 10.96.0.30:5432: connect: connection refused"
    log = bound_text("\n".join(lines) + "\n", head_lines=5, tail_lines=10, context=2)
    kept = [line.no for line in log.lines]
    assert kept[:5] == [1, 2, 3, 4, 5]
    assert kept[-10:] == list(range(4991, 5001))
    assert [2998, 2999, 3000, 3001, 3002] == [n for n in kept if 2990 < n < 3010]
    assert log.total_lines == 5000 and log.omitted_lines == 5000 - len(kept)
    assert [(h.line_no, h.signature.id, h.groups) for h in log.hits] == [(3000, "go.dial_refused", {"host": "10.96.0.30", "port": "5432"})]
    text = log.text()
    assert "... [2992 lines omitted] ..." in text and "... [1988 lines omitted] ..." in text
    assert text.splitlines()[-1] == lines[-1]
    consistent(log)


def test_repeats_that_differ_only_in_numbers_fold():
    text = numbered(500, "2026-03-02T10:{i:02d}:00.{i}Z WARN redis not ready (attempt {i}), trace=ab{i:08x}") + "ready\n" + "ready\n"
    log = bound_text(text)
    assert [(line.no, line.repeats) for line in log.lines] == [(1, 500), (501, 2)]
    assert log.text() == ("2026-03-02T10:01:00.1Z WARN redis not ready (attempt 1), trace=ab00000001 (repeated x500)\n"
                          "ready (repeated x2)")
    assert log.omitted_lines == 0
    consistent(log)


def test_different_words_do_not_fold():
    log = bound_text("connect\nconnected\nconnect\n")
    assert [line.text for line in log.lines] == ["connect", "connected", "connect"]


def test_a_folded_hit_keeps_each_occurrence_with_its_own_line_number_and_values():
    text = numbered(40) + "".join(f"Error: connect ECONNREFUSED 10.96.0.{i}:6379\n" for i in (1, 2, 1)) + numbered(200)
    log = bound_text(text)
    refused = [h for h in log.hits if h.signature.category == "dependency_unavailable"]
    assert [(h.line_no, h.groups["host"]) for h in refused] == [(41, "10.96.0.1"), (42, "10.96.0.2"), (43, "10.96.0.1")]
    assert [line.repeats for line in log.lines if line.no == 41] == [3]
    assert all(log.contains(h.line) for h in log.hits)


def test_a_20_mb_line_without_newline_is_cut_while_streaming():
    def chunks():
        for _ in range(20):
            yield b"x" * (1 << 20)

    tracemalloc.start()
    try:
        log = bound_log(chunks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20
    assert log.total_lines == 1 and log.total_bytes == 20 * 2**20
    (line,) = log.lines
    assert line.text == "x" * 2000 + f"… [cut {20 * 2**20 - 2000} chars]"


def test_binary_garbage_becomes_a_placeholder():
    rng = random.Random(3)
    garbage = bytes(rng.randrange(256) for _ in range(50_000))
    log = bound_log([b"INFO start\n", garbage, b"\nnginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n"])
    assert log.binary_lines > 0
    assert log.lines[0].text == "INFO start"
    assert log.lines[-1].text.startswith("nginx: [emerg] bind()")
    assert any(line.text.startswith("[binary data: ") for line in log.lines)
    assert all(line.text.isprintable() or "\t" in line.text for line in log.lines)
    assert "port_in_use" in {h.signature.category for h in log.hits if h.line_no == log.total_lines}
    consistent(log)


def test_nul_padding_and_invalid_utf8():
    log = bound_log([b"\x00" * 4096 + b"\n", b"caf\xc3", b"\xa9 ok\x00\n", b"bad \xff\xfe byte\n"])
    assert [line.text for line in log.lines] == ["[binary data: 4096 chars]", "café ok", "bad \ufffd\ufffd byte"]
    assert log.binary_lines == 3


def test_ansi_escapes_and_crlf_are_stripped_before_matching():
    log = bound_log([b"\x1b[32mINFO\x1b[0m up\r\n\x1b[1;31mERROR\x1b[0m Error: getaddrinfo ENOTFOUND redis-mastr\x1b[K\r\n"])
    assert [line.text for line in log.lines] == ["INFO up", "ERROR Error: getaddrinfo ENOTFOUND redis-mastr"]
    assert log.hits[0].groups == {"host": "redis-mastr"} and log.hits[0].severity == 2
    assert log.binary_lines == 0


def test_a_50_mb_streamed_log_keeps_the_fatal_last_line():
    filler = os.urandom(48).hex()

    def chunks():
        sent = 0
        i = 0
        while sent < 50 * 2**20:
            block = []
            for _ in range(200):
                i += 1
                block.append(f"2026-03-02T10:00:00.{i}Z INFO handled request {i} {filler} " + "payload " * 20 + f"#{i % 7}" * (i % 3))
            data = ("\n".join(block) + "\n").encode()
            sent += len(data)
            yield data
        yield f"Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n{FATAL}\n".encode()

    log = bound_log(chunks())
    text = log.text()
    assert text.splitlines()[-1] == FATAL
    assert {h.signature.category for h in log.hits if h.line_no == log.total_lines} == {"missing_env_var", "app_crash"}
    assert log.hits[-1].line == FATAL
    assert log.total_bytes > 50 * 2**20
    assert len(text.encode()) < 2 * 2**20
    assert len(log.lines) <= 400
    consistent(log)


def test_many_hits_keep_the_budget_the_first_and_the_last():
    block = "".join(f"INFO tick {i} of {j}\n" for j, i in enumerate("abcdefghij"))
    text = "".join(f"Error: connect ECONNREFUSED 10.1.{i // 250}.{i % 250}:5432 attempt {i}\n" + block for i in range(2000))
    log = bound_text(text + FATAL + "\n")
    assert len(log.lines) <= 400 and len(log.hits) == 60
    assert log.hits[0].line_no == 1 and log.hits[-1].line == FATAL
    assert [h.line_no for h in log.hits] == sorted(h.line_no for h in log.hits)
    kept = {line.no for line in log.lines}
    assert log.total_lines in kept and 1 in kept
    assert log.hits[-2].line_no in kept
    consistent(log)


def test_utf8_split_across_chunks_and_str_chunks():
    data = "naïve – 日本語 ✓\n".encode()
    log = bound_log([data[i:i + 1] for i in range(len(data))])
    assert log.lines[0].text == "naïve – 日本語 ✓" and log.binary_lines == 0


def test_empty_and_newline_only_inputs():
    assert bound_text("").total_lines == 0 and bound_text("").text() == ""
    log = bound_text("\n\n")
    assert log.total_lines == 2 and [(line.text, line.repeats) for line in log.lines] == [("", 2)]
    last = bound_text("a\nb")
    assert last.total_lines == 2 and last.text() == "a\nb"


def test_contains_is_whitespace_normalised_and_sees_hit_lines():
    log = bound_text("INFO  start\n  at  main.go:12\n" + numbered(500) + "Error: connect ECONNREFUSED 10.0.0.1:80\n" + numbered(500))
    assert log.contains("INFO start at main.go:12")
    assert log.contains("  Error: connect   ECONNREFUSED 10.0.0.1:80 ")
    assert not log.contains("Error: connect ECONNREFUSED 10.0.0.2:80")
    assert not log.contains("   ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=3000)
       | st.lists(st.sampled_from(["Error: connect ECONNREFUSED 10.0.0.1:80", "INFO ok", "\x1b[31m", "\x00", "\r", "\n", "panic: x",
                                   "é", "KeyError: 'A_B'", "x" * 700, "\t"]), max_size=400).map("".join),
       st.integers(0, 5), st.integers(0, 8), st.integers(0, 3), st.integers(20, 300))
def test_bound_text_never_raises_and_stays_bounded(text, head, tail, context, max_line_chars):
    log = bound_text(text, head_lines=head, tail_lines=tail, context=context, max_line_chars=max_line_chars, max_hits=9, max_kept_lines=20)
    assert len(log.lines) <= max(20, head + tail)
    assert len(log.hits) <= 9
    assert all(len(line.text) <= max_line_chars + 30 for line in log.lines)
    assert all("\n" not in line.text and "\x00" not in line.text and "\x1b" not in line.text for line in log.lines)
    assert log.total_lines == text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    consistent(log)
    assert len(log.text()) <= (max_line_chars + 50) * (2 * len(log.lines) + 1)
