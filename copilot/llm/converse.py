"""A tool-calling conversation through langchain + openai: the model may call read-only tools, then answers.

The caller owns the messages (plain dicts and langchain messages) and the tools (OpenAI function schemas with
a runner); this module only talks to the model.
"""

from __future__ import annotations

from typing import Any, Callable

from copilot.llm.chain import chat_model
from copilot.llm.config import LLMConfig

MAX_TOOL_ROUNDS = 6


def ask(config: LLMConfig, messages: list[Any], tools: list[dict[str, Any]],
        run_tool: Callable[[str, dict[str, Any]], str], on_text: Callable[[str], None] | None = None,
        max_rounds: int = MAX_TOOL_ROUNDS) -> str:
    """The model's answer to the conversation so far, streamed to `on_text` as it comes; its replies and the tool
    results are appended to `messages`."""
    from langchain_core.messages import AIMessage

    model = chat_model(config, config.timeout_s).bind_tools(tools)
    for _ in range(max_rounds):
        reply = None
        for chunk in model.stream(messages):
            reply = chunk if reply is None else reply + chunk
            if on_text is not None and chunk.text:
                on_text(chunk.text)
        if reply is None:
            return "(the model gave no answer)"
        messages.append(AIMessage(content=reply.content, tool_calls=reply.tool_calls))
        if not reply.tool_calls:
            return str(reply.text) or "(the model gave no answer)"
        for call in reply.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": run_tool(call["name"], call["args"])})
    return f"(no answer after {max_rounds} rounds of tool calls; ask a narrower question)"
