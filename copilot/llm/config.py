"""Which LLM endpoint to use, from the environment and the command line. No SDK is imported here."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_AZURE_API_VERSION = "2024-10-21"

# USD per million tokens (input, output), for the cost estimate; unknown models have no estimate
PRICES = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-nano": (0.10, 0.40), "o4-mini": (1.10, 4.40), "gpt-5-mini": (0.25, 2.00), "gpt-5": (1.25, 10.00),
}


@dataclass(frozen=True)
class LLMConfig:
    model: str
    api_key: str
    base_url: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    azure_endpoint: str | None = None
    azure_api_version: str | None = None

    @property
    def endpoint(self) -> str:
        """What the endpoint is, for messages and for remembering what it supports (never the key)."""
        return self.azure_endpoint or self.base_url or "https://api.openai.com/v1"

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float | None:
        price = PRICES.get(self.model)
        if price is None:
            return None
        return round((input_tokens * price[0] + output_tokens * price[1]) / 1_000_000, 6)


def from_env(model: str | None = None, timeout_s: float | None = None, env: dict[str, str] | None = None) -> LLMConfig | None:
    """The configured endpoint, or None when there is neither a key nor a base URL (rules only).

    OpenAI: OPENAI_API_KEY, OPENAI_BASE_URL (any OpenAI-compatible server: vLLM, Ollama, llama.cpp; a key is
    optional there). Azure OpenAI: AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, OPENAI_API_VERSION, and the
    deployment name as the model. COPILOT_MODEL or --model picks the model.
    """
    env = os.environ if env is None else env
    chosen = model or env.get("COPILOT_MODEL") or DEFAULT_MODEL
    timeout = timeout_s if timeout_s is not None else float(env.get("COPILOT_LLM_TIMEOUT") or DEFAULT_TIMEOUT_S)
    if env.get("AZURE_OPENAI_ENDPOINT") and env.get("AZURE_OPENAI_API_KEY"):
        return LLMConfig(chosen, env["AZURE_OPENAI_API_KEY"], None, timeout, env["AZURE_OPENAI_ENDPOINT"],
                         env.get("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION)
    key, base = env.get("OPENAI_API_KEY"), env.get("OPENAI_BASE_URL")
    if not key and not base:
        return None
    return LLMConfig(chosen, key or "not-needed", base or None, timeout)
