"""The loop: a prompt with history and completion on a terminal, plain lines from a pipe."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterator

from copilot.chat.answers import route
from copilot.chat.commands import COMMANDS, command
from copilot.chat.converse import converse
from copilot.chat.session import Quit, Session, greeting, pick, pod_names
from copilot.errors import CopilotError


def run(s: Session, tty: bool | None = None) -> int:
    tty = sys.stdin.isatty() if tty is None else tty
    _say(greeting(s))
    for line in (_prompted(s) if tty else _piped()):
        line = line.strip()
        if not line:
            continue
        try:
            streamed = s.llm is not None and not line.startswith("/") and s.bundle is not None
            answer = handle(s, line, _line if streamed else None)
            _say("" if streamed and not answer.startswith("note:") else answer)
        except Quit:
            break
        except KeyboardInterrupt:
            print("cancelled", file=sys.stderr)
        except CopilotError as e:
            print(f"error: {e}", file=sys.stderr)
    return 0


def handle(s: Session, line: str, emit: Callable[[str], None] | None = None) -> str:
    """The answer to one line; an LLM's answer is also streamed to `emit` as it comes."""
    if line.startswith("/"):
        return command(s, line)
    if s.bundle is None:
        return pick(s, line)
    if s.llm is not None:
        return converse(s, line, emit)
    return route(s, line)


def history_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "copilot" / "chat_history"


def _prompted(s: Session) -> Iterator[str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    completer = WordCompleter(lambda: [*COMMANDS, *pod_names(s)], WORD=True)
    prompt = PromptSession(history=FileHistory(str(path)), completer=completer)
    while True:
        try:
            yield prompt.prompt("copilot> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return


def _piped() -> Iterator[str]:
    for line in sys.stdin:
        print(f"> {line.strip()}", flush=True)
        yield line


def _line(text: str) -> None:
    print(text, flush=True)


def _say(text: str) -> None:
    print(text.rstrip("\n") + "\n", flush=True)
