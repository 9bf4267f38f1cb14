"""`copilot chat`: questions about one diagnosed pod, answered by a tool-calling LLM or, without one, by keywords.

The pod is collected and diagnosed once (session.py); answers come from that bundle and RCA (answers.py) and
from read-only tools (tools.py); with an LLM, converse.py runs the conversation through copilot.llm and vets
its commands; commands.py holds the slash commands and repl.py the loop.
"""

from copilot.chat.repl import handle, run
from copilot.chat.session import Session, crashlooping, greeting, open_session


__all__ = ["Session", "crashlooping", "greeting", "handle", "open_session", "run"]
