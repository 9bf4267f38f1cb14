"""Bounded logs: the evidence of a log of any size, read as a stream in bounded memory.

A log is read chunk by chunk and never held whole: overlong lines are cut while
they stream in, undecodable bytes are replaced, ANSI escapes and control
characters removed, and mostly non-printable lines replaced by a short
placeholder. Consecutive lines that differ only in numbers fold into one.
Kept: the head, the tail, and every line a log signature matches with a few
lines of context; when those exceed the budget the later ones win, since the
line that killed the process is usually near the end.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from copilot.rules.signatures import Hit, match_line, per_category

_PIECE = 1 << 16
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
_NON_PRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_HEX_RUN = re.compile(r"[0-9a-fA-F]*[0-9][0-9a-fA-F]*")
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
BINARY_SHARE = 0.3


@dataclass
class LogLine:
    no: int
    text: str
    repeats: int = 1


@dataclass
class BoundedLog:
    lines: list[LogLine]
    total_lines: int
    total_bytes: int
    omitted_lines: int
    hits: list[Hit]
    binary_lines: int

    def text(self) -> str:
        """The kept lines, with markers where lines were omitted and counts where they repeated."""
        out: list[str] = []
        expected = 1
        for line in self.lines:
            if line.no > expected:
                out.append(f"... [{line.no - expected} lines omitted] ...")
            out.append(line.text + (f" (repeated x{line.repeats})" if line.repeats > 1 else ""))
            expected = line.no + line.repeats
        if self.total_lines >= expected:
            out.append(f"... [{self.total_lines - expected + 1} lines omitted] ...")
        return "\n".join(out)

    def contains(self, excerpt: str) -> bool:
        """Whether the excerpt, whitespace-normalised, is in the kept text or in a hit's line."""
        needle = " ".join(excerpt.split())
        if not needle:
            return False
        return needle in " ".join(self.text().split()) or any(needle in " ".join(h.line.split()) for h in self.hits)


def bound_text(text: str, **kw) -> BoundedLog:
    return bound_log((text[i:i + _PIECE].encode("utf-8", "replace") for i in range(0, len(text), _PIECE)), **kw)


def bound_log(chunks: Iterable[bytes], *, head_lines: int = 30, tail_lines: int = 120, context: int = 2,
              max_line_chars: int = 2000, max_hits: int = 60, max_kept_lines: int = 400) -> BoundedLog:
    """Stream a log into a BoundedLog; memory stays bounded whatever the input size."""
    keeper = _Keeper(head_lines, tail_lines, context, max_hits, max_kept_lines)
    total_bytes = 0

    def counted() -> Iterator[bytes]:
        nonlocal total_bytes
        for chunk in chunks:
            total_bytes += len(chunk)
            yield chunk

    for raw, cut in _split(counted(), 2 * max_line_chars):
        keeper.add(*_clean(raw, cut, max_line_chars))
    return keeper.result(total_bytes)


def _split(chunks: Iterable[bytes], max_chars: int) -> Iterator[tuple[str, int]]:
    """Decoded lines, each cut to max_chars while streaming, with the count of characters cut."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    parts: list[str] = []
    size = cut = 0

    def pieces() -> Iterator[str]:
        for chunk in chunks:
            view = memoryview(chunk.encode("utf-8", "replace") if isinstance(chunk, str) else chunk)
            for i in range(0, len(view), _PIECE):
                yield decoder.decode(view[i:i + _PIECE])
        yield decoder.decode(b"", final=True)

    for text in pieces():
        start = 0
        while True:
            newline = text.find("\n", start)
            end = len(text) if newline < 0 else newline
            if size < max_chars:
                taken = text[start:min(end, start + max_chars - size)]
                parts.append(taken)
                size += len(taken)
                cut += end - start - len(taken)
            else:
                cut += end - start
            if newline < 0:
                break
            yield "".join(parts), cut
            parts, size, cut = [], 0, 0
            start = newline + 1
    if size or cut:
        yield "".join(parts), cut


def _clean(raw: str, cut: int, max_chars: int) -> tuple[str, int, bool, bool]:
    """(text, characters cut, binary, sanitised): escapes and control characters removed, cut to max_chars."""
    text = raw[:-1] if raw.endswith("\r") else raw
    sanitised = False
    if not text.isprintable() or "\ufffd" in text:
        text = _ANSI.sub("", text).replace("\r", " ") if "\x1b" in text or "\r" in text else text
        bad = len(_NON_PRINTABLE.findall(text))
        if bad and bad > BINARY_SHARE * len(text):
            return f"[binary data: {len(raw) + cut} chars]", 0, True, True
        if bad:
            text = _CONTROL.sub("", text)
            sanitised = True
    if len(text) > max_chars:
        cut += len(text) - max_chars
        text = text[:max_chars]
    return text, cut, False, sanitised


class _Keeper:
    """Chooses what to keep of a stream of cleaned lines: head, tail, hits with context, folded repeats."""

    def __init__(self, head_lines: int, tail_lines: int, context: int, max_hits: int, max_kept_lines: int) -> None:
        self.head_lines, self.context = head_lines, context
        self.head: list[LogLine] = []
        self.tail: deque[LogLine] = deque(maxlen=tail_lines)
        self.recent: deque[LogLine] = deque(maxlen=context + 1)
        budget = max(0, max_kept_lines - head_lines - tail_lines)
        self.early: list[LogLine] = []
        self.early_budget = budget // 4
        self.late: deque[LogLine] = deque()
        self.late_budget = budget - self.early_budget
        self.in_middle: set[int] = set()
        self.first_hits: list[Hit] = []
        self.first_budget = max_hits // 3
        self.last_hits: deque[Hit] = deque(maxlen=max(0, max_hits - self.first_budget))
        self.after = 0
        self.total = self.binary = 0
        self.current: LogLine | None = None
        self.current_text = ""
        self.current_key = b""
        self.current_mask: str | None = None
        self.current_hits: list[Hit] = []

    def add(self, text: str, cut: int, binary: bool, sanitised: bool) -> None:
        self.total += 1
        no = self.total
        self.binary += sanitised
        cur = self.current
        if cur is not None and text == self.current_text:
            hits = [Hit(no, h.line, h.signature, h.groups, h.severity) for h in self.current_hits]
        else:
            hits = [] if binary else per_category(match_line(text, no))
        self._record(hits)
        key = text.encode("utf-8", "replace").translate(None, _DIGITS)
        if cur is not None and self._same_but_numbers(text, key):
            cur.repeats += 1
            if hits and cur.no not in self.in_middle:
                self._keep_recent()
                self.after = self.context
            return
        entry = LogLine(no, text + f"… [cut {cut} chars]" if cut else text)
        self.current, self.current_text, self.current_key, self.current_mask, self.current_hits = entry, text, key, None, hits
        if len(self.head) < self.head_lines:
            self.head.append(entry)
        self.tail.append(entry)
        self.recent.append(entry)
        if hits:
            self._keep_recent()
            self.after = self.context
        elif self.after > 0:
            self._keep(entry)
            self.after -= 1

    def _same_but_numbers(self, text: str, key: bytes) -> bool:
        """Equal to the current run once digits and hex numbers (so timestamps and ids) are masked."""
        if key == self.current_key:
            return True
        if key.translate(None, _HEX) != self.current_key.translate(None, _HEX):
            return False
        if self.current_mask is None:
            self.current_mask = _HEX_RUN.sub("#", self.current_text)
        return _HEX_RUN.sub("#", text) == self.current_mask

    def _record(self, hits: list[Hit]) -> None:
        for hit in hits:
            if len(self.first_hits) < self.first_budget:
                self.first_hits.append(hit)
            else:
                self.last_hits.append(hit)

    def _keep_recent(self) -> None:
        for entry in self.recent:
            self._keep(entry)
        self.recent.clear()

    def _keep(self, entry: LogLine) -> None:
        if entry.no in self.in_middle or (self.head and entry.no <= self.head[-1].no):
            return
        if len(self.early) < self.early_budget:
            self.early.append(entry)
        elif self.late_budget:
            self.late.append(entry)
            if len(self.late) > self.late_budget:
                self.in_middle.discard(self.late.popleft().no)
        else:
            return
        self.in_middle.add(entry.no)

    def result(self, total_bytes: int) -> BoundedLog:
        kept = {e.no: e for e in [*self.head, *self.early, *self.late, *self.tail]}
        lines = [kept[no] for no in sorted(kept)]
        hits = self.first_hits + list(self.last_hits)
        return BoundedLog(lines, self.total, total_bytes, self.total - sum(e.repeats for e in lines), hits, self.binary)
