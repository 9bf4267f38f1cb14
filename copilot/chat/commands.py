"""Slash commands."""

from __future__ import annotations

from dataclasses import replace
from io import StringIO
from typing import Callable

from copilot import app
from copilot.chat.answers import event_lines, evidence, fix_answer, timeline
from copilot.chat.converse import system_prompt
from copilot.chat.session import Quit, Session, crashlooping, diagnose, greeting, pod_ref
from copilot.chat.tools import pod_events, pod_logs
from copilot.errors import UsageError


def command(s: Session, line: str) -> str:
    name, *args = line.split()
    entry = COMMANDS.get(name)
    if entry is None:
        raise UsageError(f"unknown command {name}; /help lists the commands")
    handler, needs_pod, _ = entry
    if needs_pod and s.bundle is None:
        raise UsageError(f"{name} needs a diagnosed pod: pick one, or /rca POD")
    return handler(s, args)


def _rca(s: Session, args: list[str]) -> str:
    from copilot import render

    if args:
        namespace, name = pod_ref(s, args[0])
        diagnose(s, app.Target(namespace, name))
        s.messages = []
    if s.bundle is None:
        raise UsageError("/rca needs a pod: /rca POD")
    out = StringIO()
    render.to_text(s.rca, out, color=False)
    return out.getvalue()


def _pods(s: Session, args: list[str]) -> str:
    s.choices = crashlooping(s.source, args[0] if args else s.namespace)
    return greeting(s) if s.bundle is None else "\n".join(s.choices) or "no pod in CrashLoopBackOff"


def _logs(s: Session, args: list[str]) -> str:
    pods = [a for a in args if not a.startswith("-")]
    if not pods:
        raise UsageError("/logs POD [--previous]")
    return pod_logs(s, pods[0], None, "--previous" in args or "-p" in args)


def _events(s: Session, args: list[str]) -> str:
    return pod_events(s, args[0]) if args else event_lines(s.bundle.events)


def _json(s: Session, args: list[str]) -> str:
    from copilot import render

    return render.to_json(s.rca)


def _context(s: Session, args: list[str]) -> str:
    system = system_prompt(s)
    said = sum(len(str((m["content"] if isinstance(m, dict) else m.content) or "")) for m in s.messages[1:])
    return (f"system context: {len(system):,} chars, about {len(system) // 4:,} tokens (RCA + bundle)\n"
            f"conversation: {max(0, len(s.messages) - 1)} messages, {said:,} chars")


def _model(s: Session, args: list[str]) -> str:
    if s.llm is None:
        return "no LLM: answers come from the bundle (set OPENAI_API_KEY or OPENAI_BASE_URL, without --no-llm)"
    if args:
        s.llm = replace(s.llm, model=args[0])
    return f"model {s.llm.model} at {s.llm.endpoint}"


def _clear(s: Session, args: list[str]) -> str:
    s.messages = []
    return "conversation cleared; the RCA and bundle stay"


def _help(s: Session, args: list[str]) -> str:
    return "\n".join(f"  {usage}" for _, _, usage in COMMANDS.values() if usage)


def _quit(s: Session, args: list[str]) -> str:
    raise Quit()


COMMANDS: dict[str, tuple[Callable[[Session, list[str]], str], bool, str]] = {
    "/rca": (_rca, False, "/rca [POD]            the RCA again, or diagnose another pod"),
    "/pods": (_pods, False, "/pods [NS]            pods in CrashLoopBackOff"),
    "/logs": (_logs, False, "/logs POD [--previous] a pod's log (the crashed run with --previous)"),
    "/events": (_events, True, "/events [POD]         events of the incident or of one pod"),
    "/timeline": (lambda s, a: timeline(s, ""), True, "/timeline             what happened, in order"),
    "/evidence": (lambda s, a: evidence(s, ""), True, "/evidence             the evidence the RCA quotes"),
    "/fix": (lambda s, a: fix_answer(s, ""), True, "/fix                  commands that fix it"),
    "/json": (_json, True, "/json                 the RCA as JSON"),
    "/context": (_context, True, "/context              size of the context given to the model"),
    "/model": (_model, False, "/model [NAME]         the LLM in use, or switch to another"),
    "/clear": (_clear, False, "/clear                forget the conversation"),
    "/help": (_help, False, "/help                 this list"),
    "/quit": (_quit, False, "/quit, /exit, Ctrl-D  leave"),
    "/exit": (_quit, False, ""),
}
