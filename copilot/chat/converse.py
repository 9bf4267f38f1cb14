"""Answers with an LLM: one turn of the tool-calling conversation, then the guardrail's check of every kubectl
command in the answer, so a command planted in a log cannot reach the terminal as advice."""

from __future__ import annotations

import re
from typing import Callable

from copilot.chat.answers import route
from copilot.chat.session import Session
from copilot.chat.tools import TOOLS, run_tool
from copilot.redact import redact_text


class _Vetted:
    """Streams an answer line by line, each line printed only after its kubectl commands passed the check."""

    def __init__(self, s: Session, emit: Callable[[str], None] | None):
        self.s, self.emit, self.pending, self.lines = s, emit, "", []

    def feed(self, text: str) -> None:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self._out(line)

    def close(self) -> str:
        if self.pending:
            self._out(self.pending)
            self.pending = ""
        return "\n".join(self.lines)

    def _out(self, line: str) -> None:
        line = checked(self.s, line)
        self.lines.append(line)
        if self.emit is not None:
            self.emit(line)


def converse(s: Session, question: str, emit: Callable[[str], None] | None = None) -> str:
    """One turn of the tool-calling conversation, streamed to `emit` line by line, vetted; the whole answer is
    returned. On any LLM failure, the bundle's own answer."""
    from copilot.llm.chain import failure_status
    from copilot.llm.converse import ask

    if not s.messages:
        s.messages = [{"role": "system", "content": system_prompt(s)}]
    mark = len(s.messages)
    s.messages.append({"role": "user", "content": redact_text(question)})
    vetted = _Vetted(s, emit)
    try:
        ask(s.llm, s.messages, TOOLS, lambda name, args: run_tool(s, name, args), vetted.feed)
    except KeyboardInterrupt:
        del s.messages[mark:]
        raise
    except Exception as e:  # noqa: BLE001 - the REPL answers from the bundle instead
        del s.messages[mark:]
        return f"note: {failure_status(e)[1]}; answering from the bundle\n\n{route(s, question)}"
    return vetted.close() or "(the model gave no answer)"


def system_prompt(s: Session) -> str:
    from copilot import render
    from copilot.llm.context import build_context
    from copilot.prompts import load_prompt

    context = build_context(s.bundle, s.findings)
    s.fence = context.fence
    return redact_text(load_prompt("chat").render(rca=render.to_markdown(s.rca), context=context.text))


def checked(s: Session, text: str) -> str:
    """The answer with every kubectl command the guardrail rejects replaced by a note."""
    from copilot.llm.guardrail import KUBECTL, check_command, command_in

    namespaces = {s.bundle.namespace, s.rca.culprit.namespace} | {d.workload.namespace for d in s.bundle.dependencies if d.workload}
    untrusted = " ".join(s.untrusted)

    def vet(match: re.Match) -> str:
        why = check_command(command_in(match), {n for n in namespaces if n}, untrusted)
        return match.group(0) if why is None else f"[suggested command removed: it {why}]"

    return KUBECTL.sub(vet, text)
